// The metrics component the daemon runs when `metrics:` is configured: the
// counters its hooks feed (batches, anomalies, bundles), the scrape-time
// collector, the HTTP server and the textfile writer. A failure to listen or
// to write is logged and aod runs on: evidence collection does not depend on
// metrics (a missing target shows as up == 0 in Prometheus).
import type { MetricsConfig } from "../config/schema";
import type { Anomaly } from "../detect/anomaly";
import type { EventBatch } from "../format/event";
import { log } from "../log";
import { errorMessage } from "../util/errors";
import { MetricsCollector, type MetricsView } from "./collect";
import { EventCounters } from "./counters";
import { type Format, render, renderBytes } from "./exposition";
import { listenText, parseListen } from "./listen";
import { MetricsServer } from "./server";
import { TextfileWriter } from "./textfile";

export class Metrics {
  readonly counters: EventCounters;
  readonly collector: MetricsCollector;
  server?: MetricsServer;
  textfile?: TextfileWriter;
  private view?: MetricsView;

  constructor(
    readonly config: MetricsConfig,
    rules: readonly { name: string; type: string }[] = [],
  ) {
    this.counters = new EventCounters(rules);
    this.collector = new MetricsCollector({ maxShares: config.max_shares, counters: this.counters });
    if (config.listen !== undefined) {
      const r = parseListen(config.listen);
      if ("error" in r) throw new Error(`metrics.listen: ${r.error}`); // validated with the config
      this.server = new MetricsServer(r.listen, (f) => this.renderBytes(f));
    }
    if (config.textfile)
      this.textfile = new TextfileWriter(config.textfile.path, config.textfile.interval_sec, () =>
        this.renderBytes("prometheus", false),
      );
  }

  /** Hooks: cheap, called on the daemon's paths. */
  observe(b: EventBatch): void {
    this.counters.observe(b);
  }
  anomaly(a: Anomaly): void {
    this.counters.anomaly(a);
  }
  bundle(bytes: number): void {
    this.counters.bundle(bytes);
  }

  /** The exposition now, as bytes to send or write. */
  renderBytes(format: Format, withProcess = true): Uint8Array<ArrayBuffer> {
    return renderBytes(this.collector.families(this.view, withProcess), format);
  }

  /** The same as text. */
  render(format: Format, withProcess = true): string {
    return render(this.collector.families(this.view, withProcess), format);
  }

  /** Serves and writes from now on; what fails is logged, not thrown. */
  start(view: MetricsView): void {
    this.view = view;
    if (this.server)
      try {
        this.server.start();
        log.info("metrics: serving /metrics", { listen: listenText(this.server.listen) });
      } catch (e) {
        log.error("metrics: /metrics not served; aod runs on without it", { error: errorMessage(e) });
      }
    if (this.textfile) {
      this.textfile.start();
      log.info("metrics: writing the textfile", {
        path: this.textfile.path,
        interval_sec: this.textfile.intervalSec,
      });
    }
  }

  async stop(): Promise<void> {
    this.textfile?.stop();
    await this.server?.stop();
    this.view = undefined;
  }
}
