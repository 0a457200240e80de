// What the `aod upload` commands share: the config's upload section, or a
// clear error when there is none. A module of the commands, not a command.
import type { UploadConfig } from "../config/upload";
import type { Config } from "../config/validate";
import { loadConfig } from "../registry";
import { UsageError } from "../util/errors";

export function uploadConfig(flag?: string): { config: Config; upload: UploadConfig } {
  const config = loadConfig(flag);
  if (!config.upload)
    throw new UsageError(
      `${config.source} has no upload: section. Add one (target: azure_blob or s3; see README "Uploading bundles") and run \`aod upload validate\``,
    );
  return { config, upload: config.upload };
}
