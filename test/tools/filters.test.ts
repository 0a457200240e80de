// How the config fills the BPF filter maps: per-command thresholds (each mode),
// tracked errnos, command masks.
import { describe, expect, test } from "bun:test";
import { DEFAULT_CONFIG_TEXT } from "../../src/config/load";
import type { Config } from "../../src/config/validate";
import { toolFilters } from "../../src/detect/types";
import { errnoNumber } from "../../src/format/errno-names";
import { SMB2_COMMAND_COUNT, smb2CommandId } from "../../src/format/smb2-commands";
import { parseConfigText } from "../../src/registry";
import { commandMask, ERRNO_SLOTS, errnoMapValues, type SmberrFilter } from "../../src/tools/smberr";
import { type SmbslowerFilter, smbslower, thresholdMapValues, UNTRACKED } from "../../src/tools/smbslower";

// What the anomaly specs ask of each tool, merged by the tool (as the daemon does).
const configThresholdsMs = (c: Config) =>
  ((toolFilters(c).smbslower as SmbslowerFilter | undefined) ?? smbslower.mergeFilters([])).thresholdsMs;
const configErrnos = (c: Config) => (toolFilters(c).smbiosnoop as SmberrFilter | undefined)?.errnos ?? [];

const id = (n: string) => smb2CommandId(n)!;
const cfg = (anomalies: string) => parseConfigText(`guardian:\n  anomalies:\n${anomalies}`, "t.yaml");
const lat = (mode: string, extra = "") =>
  `    lat:\n      type: Latency\n      mode: ${mode}\n      default_threshold_ms: 20\n${extra}`;
const TRACK =
  "      track_commands:\n        - command: SMB2_WRITE\n          threshold: 50\n        - command: SMB2_READ\n";
const EXCLUDE = "      exclude_commands: [SMB2_CHANGE_NOTIFY, SMB2_OPLOCK_BREAK]\n";

describe("latency thresholds → thresholds map", () => {
  test("mode all: default for every command, per-command overrides, exclusions untracked", () => {
    const th = configThresholdsMs(cfg(lat("all", TRACK + EXCLUDE)));
    expect(th).toHaveLength(SMB2_COMMAND_COUNT);
    expect(th[id("SMB2_WRITE")]).toBe(50);
    expect(th[id("SMB2_READ")]).toBe(20); // tracked without threshold: the default
    expect(th[id("SMB2_CREATE")]).toBe(20);
    expect(th[id("SMB2_CHANGE_NOTIFY")]).toBeNull();
    expect(th[id("SMB2_OPLOCK_BREAK")]).toBeNull();
    const map = thresholdMapValues(th);
    expect(map[id("SMB2_WRITE")]).toBe(50_000_000n);
    expect(map[id("SMB2_CREATE")]).toBe(20_000_000n);
    expect(map[id("SMB2_CHANGE_NOTIFY")]).toBe(UNTRACKED);
  });

  test("mode trackonly: only the tracked commands", () => {
    const th = configThresholdsMs(cfg(lat("trackonly", TRACK)));
    expect(th.filter((t) => t !== null)).toHaveLength(2);
    expect(th[id("SMB2_WRITE")]).toBe(50);
    expect(th[id("SMB2_READ")]).toBe(20);
    expect(th[id("SMB2_CREATE")]).toBeNull();
  });

  test("mode excludeonly: every command but the excluded, at the default", () => {
    const th = configThresholdsMs(cfg(lat("excludeonly", EXCLUDE)));
    expect(th.filter((t) => t === null)).toHaveLength(2);
    expect(th[id("SMB2_WRITE")]).toBe(20);
    expect(th[id("SMB2_CHANGE_NOTIFY")]).toBeNull();
  });

  test("several latency rules: the lowest threshold per command wins", () => {
    const c = cfg(
      lat("all") +
        "    lat2:\n      type: Latency\n      mode: trackonly\n      track_commands:\n        - command: SMB2_WRITE\n          threshold: 5\n",
    );
    const th = configThresholdsMs(c);
    expect(th[id("SMB2_WRITE")]).toBe(5);
    expect(th[id("SMB2_READ")]).toBe(20);
  });

  test("the embedded default config", () => {
    const th = configThresholdsMs(parseConfigText(DEFAULT_CONFIG_TEXT, "default"));
    expect(th[id("SMB2_WRITE")]).toBe(50);
    expect(th[id("SMB2_CREATE")]).toBe(20);
    expect(th[id("SMB2_CHANGE_NOTIFY")]).toBeNull();
  });

  test("--command restricts, --min-ms 0 tracks everything, fractional ms are exact in ns", () => {
    const all0 = new Array(SMB2_COMMAND_COUNT).fill(0);
    const m = thresholdMapValues(all0, [id("SMB2_WRITE")]);
    expect(m[id("SMB2_WRITE")]).toBe(0n);
    expect([...m].filter((v) => v === UNTRACKED)).toHaveLength(SMB2_COMMAND_COUNT - 1);
    expect(thresholdMapValues([0.25])[0]).toBe(250_000n);
  });
});

describe("error rules → errnos map", () => {
  const errCfg = (mode: string, extra: string) => cfg(`    err:\n      type: Error\n      mode: ${mode}\n${extra}`);
  test("trackonly: exactly the listed errnos", () => {
    const e = configErrnos(errCfg("trackonly", "      track_codes: [EACCES, EIO]\n"));
    expect(e).toEqual([5, 13]);
    const map = errnoMapValues(e);
    expect(map).toHaveLength(ERRNO_SLOTS);
    expect(map[13]).toBe(1);
    expect(map[5]).toBe(1);
    expect(map.reduce((a, b) => a + b, 0)).toBe(2);
  });
  test("all / excludeonly: every named errno but the excluded", () => {
    const e = configErrnos(errCfg("all", "      exclude_codes: [ENOENT]\n"));
    expect(e).not.toContain(errnoNumber("ENOENT"));
    expect(e).toContain(errnoNumber("EACCES")!);
    expect(e).toContain(errnoNumber("ERESTARTSYS")!); // 512: fits the 1024-slot map
    expect(errnoMapValues(e)[512]).toBe(1);
  });
  test("default config", () => {
    const e = configErrnos(parseConfigText(DEFAULT_CONFIG_TEXT, "default"));
    expect(e).toContain(errnoNumber("EACCES")!);
    expect(e).not.toContain(errnoNumber("ENOENT"));
  });
  test("command mask", () => {
    expect(commandMask()).toBe(0xffffffff);
    expect(commandMask([id("SMB2_CREATE"), id("SMB2_WRITE")])).toBe((1 << 5) | (1 << 9));
  });
});
