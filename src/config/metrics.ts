// The `metrics:` section's meaning, beyond its shape (./schema.ts): what it
// serves, whether `listen` is an address aod can listen on, and whether the
// textfile is one node_exporter reads. Problems stop the config; what is
// allowed but worth knowing (a port open to the network) is a warning.
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { listenText, parseListen } from "../metrics/listen";
import type { Path } from "./path";
import { describe } from "./problems";
import type { MetricsConfig } from "./schema";

export function checkMetrics(
  m: MetricsConfig,
  add: (at: Path, message: string) => void,
  warn: (message: string) => void,
): void {
  if (m.listen === undefined && m.textfile === undefined)
    add(
      ["metrics"],
      'nothing to serve: give "listen" (host:port or a unix socket path), "textfile" ({path, interval_sec}), or both; without a metrics section metrics are off',
    );
  if (m.listen !== undefined) {
    const r = parseListen(m.listen);
    if ("error" in r) add(["metrics", "listen"], `${r.error}, found ${describe(m.listen)}`);
    else if (r.listen.kind === "tcp" && !r.listen.loopback)
      warn(
        `metrics.listen: ${listenText(r.listen)} is not a loopback address: /metrics (share names, servers, error counts) is plain HTTP without authentication, open to whoever reaches ${r.listen.any ? "any interface of this host" : "that address"}`,
      );
    else if (r.listen.kind === "unix" && /^\/(var\/)?tmp\//.test(r.listen.path))
      warn(
        `metrics.listen: ${r.listen.path} is under a /tmp that the service (PrivateTmp=yes) has to itself: scrapers outside would not see the socket; /run/aod/metrics.sock is the usual place`,
      );
  }
  if (m.textfile) {
    const p = m.textfile.path;
    if (!p.endsWith(".prom"))
      add(
        ["metrics", "textfile", "path"],
        `node_exporter's textfile collector reads only files named *.prom, found ${describe(p)}`,
      );
    const dir = dirname(p);
    if (!existsSync(dir))
      warn(
        `metrics.textfile.path: ${dir} does not exist (here): aod writes into an existing directory only, node_exporter's --collector.textfile.directory`,
      );
    else if (!statSync(dir).isDirectory()) add(["metrics", "textfile", "path"], `${dir} is not a directory`);
  }
}
