// The flight recorder as `aod run` configures it: on unless the config turns it
// off, on the tracefs this host has; enabled per protocol as its tools attach.
import type { Config } from "../config/validate";
import { tracefsRoot } from "../host/tracefs";
import { log } from "../log";
import { FlightRecorder } from "./flight-recorder";

/** The recorder for this config, or undefined (off, or no tracefs: logged). */
export function flightRecorder(config: Config): RecorderWithProtocols | undefined {
  if (!config.flight_recorder.enabled) return undefined;
  const root = tracefsRoot();
  if (!root) {
    log.warn("flight recorder unavailable: tracefs is not mounted; bundles will have no kernel_trace.log");
    return undefined;
  }
  return new RecorderWithProtocols({ root, bufferKb: config.flight_recorder.buffer_kb });
}

/** A recorder that enables a protocol's event set when its tools attach. */
export class RecorderWithProtocols extends FlightRecorder {
  enableFor(protocol: { name: string; recorderEvents: readonly string[] }): void {
    const added = this.enable(protocol.recorderEvents);
    if (added.length)
      log.info("flight recorder: recording", {
        protocol: protocol.name,
        events: this.events.length,
        added: added.length,
      });
  }
}
