import { defineCommand } from "citty";
import { examples } from "./_shared";

const subCommands = {
  status: () => import("./upload-status").then((m) => m.default),
  validate: () => import("./upload-validate").then((m) => m.default),
  now: () => import("./upload-now").then((m) => m.default),
};

export default defineCommand({
  meta: {
    name: "upload",
    description:
      "Bundles to object storage (Azure Blob or S3-compatible), configured in the config's `upload:` section: the running daemon uploads each bundle with a sidecar <bundle>.manifest.json (its sha256 and members), retries with backoff, and keeps what it sent in <state_dir>/upload.db. Start with `aod upload validate`." +
      examples("sudo aod upload validate", "sudo aod upload status --json", "sudo aod upload now"),
  },
  subCommands,
});
