// The NT status table: complete ([MS-ERREF] 2.3 as the kernel's smb2status.h lists it), names that
// event lines and bundles already print kept unchanged, and name/hex parsing for ntStatusCode.
import { describe, expect, test } from "bun:test";
import { NT_STATUS_NAMES, NT_STATUS_TABLE, ntStatusCode, ntStatusName } from "../../src/format/nt-status";

// The whole table before it was completed (63 entries): these print exactly so in event lines and bundles.
const BEFORE: ReadonlyArray<readonly [number, string]> = [
  [0x00000000, "STATUS_SUCCESS"],
  [0x00000103, "STATUS_PENDING"],
  [0x0000010c, "STATUS_NOTIFY_ENUM_DIR"],
  [0x80000005, "STATUS_BUFFER_OVERFLOW"],
  [0x80000006, "STATUS_NO_MORE_FILES"],
  [0x8000001a, "STATUS_NO_MORE_ENTRIES"],
  [0xc0000001, "STATUS_UNSUCCESSFUL"],
  [0xc0000002, "STATUS_NOT_IMPLEMENTED"],
  [0xc0000003, "STATUS_INVALID_INFO_CLASS"],
  [0xc0000008, "STATUS_INVALID_HANDLE"],
  [0xc000000d, "STATUS_INVALID_PARAMETER"],
  [0xc000000f, "STATUS_NO_SUCH_FILE"],
  [0xc0000010, "STATUS_INVALID_DEVICE_REQUEST"],
  [0xc0000011, "STATUS_END_OF_FILE"],
  [0xc0000016, "STATUS_MORE_PROCESSING_REQUIRED"],
  [0xc0000017, "STATUS_NO_MEMORY"],
  [0xc0000022, "STATUS_ACCESS_DENIED"],
  [0xc0000023, "STATUS_BUFFER_TOO_SMALL"],
  [0xc0000033, "STATUS_OBJECT_NAME_INVALID"],
  [0xc0000034, "STATUS_OBJECT_NAME_NOT_FOUND"],
  [0xc0000035, "STATUS_OBJECT_NAME_COLLISION"],
  [0xc0000039, "STATUS_OBJECT_PATH_INVALID"],
  [0xc000003a, "STATUS_OBJECT_PATH_NOT_FOUND"],
  [0xc0000043, "STATUS_SHARING_VIOLATION"],
  [0xc0000054, "STATUS_FILE_LOCK_CONFLICT"],
  [0xc0000055, "STATUS_LOCK_NOT_GRANTED"],
  [0xc0000056, "STATUS_DELETE_PENDING"],
  [0xc000006a, "STATUS_WRONG_PASSWORD"],
  [0xc000006d, "STATUS_LOGON_FAILURE"],
  [0xc000006f, "STATUS_INVALID_LOGON_HOURS"],
  [0xc0000071, "STATUS_PASSWORD_EXPIRED"],
  [0xc0000072, "STATUS_ACCOUNT_DISABLED"],
  [0xc000007f, "STATUS_DISK_FULL"],
  [0xc000009a, "STATUS_INSUFFICIENT_RESOURCES"],
  [0xc00000b5, "STATUS_IO_TIMEOUT"],
  [0xc00000ba, "STATUS_FILE_IS_A_DIRECTORY"],
  [0xc00000bb, "STATUS_NOT_SUPPORTED"],
  [0xc00000be, "STATUS_BAD_NETWORK_PATH"],
  [0xc00000c3, "STATUS_INVALID_NETWORK_RESPONSE"],
  [0xc00000c9, "STATUS_NETWORK_NAME_DELETED"],
  [0xc00000ca, "STATUS_NETWORK_ACCESS_DENIED"],
  [0xc00000cc, "STATUS_BAD_NETWORK_NAME"],
  [0xc00000d0, "STATUS_REQUEST_NOT_ACCEPTED"],
  [0xc0000101, "STATUS_DIRECTORY_NOT_EMPTY"],
  [0xc0000103, "STATUS_NOT_A_DIRECTORY"],
  [0xc0000120, "STATUS_CANCELLED"],
  [0xc0000128, "STATUS_FILE_CLOSED"],
  [0xc000015b, "STATUS_LOGON_TYPE_NOT_GRANTED"],
  [0xc0000184, "STATUS_INVALID_DEVICE_STATE"],
  [0xc0000203, "STATUS_USER_SESSION_DELETED"],
  [0xc000020c, "STATUS_CONNECTION_DISCONNECTED"],
  [0xc0000225, "STATUS_NOT_FOUND"],
  [0xc0000236, "STATUS_CONNECTION_REFUSED"],
  [0xc000023c, "STATUS_NETWORK_UNREACHABLE"],
  [0xc000023d, "STATUS_HOST_UNREACHABLE"],
  [0xc0000241, "STATUS_CONNECTION_ABORTED"],
  [0xc000026e, "STATUS_VOLUME_DISMOUNTED"],
  [0xc00002f9, "STATUS_PKINIT_NAME_MISMATCH"],
  [0xc0000380, "STATUS_SMARTCARD_WRONG_PIN"],
  [0xc000035c, "STATUS_NETWORK_SESSION_EXPIRED"],
  [0xc0000466, "STATUS_SERVER_UNAVAILABLE"],
  [0xc000a000, "STATUS_INVALID_SIGNATURE"],
  [0xc000a100, "STATUS_HASH_NOT_SUPPORTED"],
];

describe("NT_STATUS_TABLE", () => {
  test("is complete: more than 1500 entries", () => {
    expect(NT_STATUS_TABLE.length).toBeGreaterThan(1500);
  });

  test("has no duplicate names, all upper case", () => {
    const names = NT_STATUS_TABLE.map(([, n]) => n);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  test("codes are 32-bit unsigned and sorted", () => {
    let prev = -1;
    for (const [c] of NT_STATUS_TABLE) {
      expect(c >>> 0).toBe(c);
      expect(c).toBeGreaterThanOrEqual(prev);
      prev = c;
    }
  });

  test("every name of the table before keeps its code and prints unchanged", () => {
    expect(BEFORE.length).toBe(63);
    for (const [code, name] of BEFORE) {
      expect(ntStatusName(code)).toBe(name);
      expect(ntStatusCode(name)).toBe(code);
    }
  });

  test("well-known codes", () => {
    const known: ReadonlyArray<readonly [number, string]> = [
      [0xc00000c9, "STATUS_NETWORK_NAME_DELETED"],
      [0xc0000203, "STATUS_USER_SESSION_DELETED"],
      [0xc0000022, "STATUS_ACCESS_DENIED"],
      [0xc000009a, "STATUS_INSUFFICIENT_RESOURCES"],
      [0xc0000034, "STATUS_OBJECT_NAME_NOT_FOUND"],
      [0xc000035c, "STATUS_NETWORK_SESSION_EXPIRED"],
    ];
    for (const [code, name] of known) {
      expect(ntStatusName(code)).toBe(name);
      expect(ntStatusCode(name)).toBe(code);
    }
  });

  test("codes with several names print the first, accept all", () => {
    expect(ntStatusName(0)).toBe("STATUS_SUCCESS");
    expect(ntStatusCode("STATUS_WAIT_0")).toBe(0);
    expect(ntStatusName(0x80)).toBe("STATUS_ABANDONED");
    expect(ntStatusCode("STATUS_ABANDONED_WAIT_0")).toBe(0x80);
    expect(ntStatusName(0xc0220018)).toBe("STATUS_FWP_TOO_MANY_BOOTTIME_FILTERS");
    expect(ntStatusCode("STATUS_FWP_TOO_MANY_CALLOUTS")).toBe(0xc0220018);
  });
});

describe("NT_STATUS_NAMES", () => {
  test("lists every name of the table, upper case", () => {
    expect(NT_STATUS_NAMES.length).toBe(NT_STATUS_TABLE.length);
    expect(new Set(NT_STATUS_NAMES)).toEqual(new Set(NT_STATUS_TABLE.map(([, n]) => n)));
    for (const n of NT_STATUS_NAMES) expect(n).toBe(n.toUpperCase());
    expect(NT_STATUS_NAMES).toContain("STATUS_WAIT_0");
  });
});

describe("ntStatusCode", () => {
  test("names, any case", () => {
    expect(ntStatusCode("STATUS_ACCESS_DENIED")).toBe(0xc0000022);
    expect(ntStatusCode("status_access_denied")).toBe(0xc0000022);
    expect(ntStatusCode("Status_Network_Name_Deleted")).toBe(0xc00000c9);
    expect(ntStatusCode("RPC_NT_CALL_FAILED")).toBe(0xc002001b);
    expect(ntStatusCode("dbg_continue")).toBe(0x00010002);
  });

  test("hex codes, 1 to 8 digits, named or not", () => {
    expect(ntStatusCode("0xc0000022")).toBe(0xc0000022);
    expect(ntStatusCode("0xC0000022")).toBe(0xc0000022);
    expect(ntStatusCode("0x0")).toBe(0);
    expect(ntStatusCode("0x103")).toBe(0x103);
    expect(ntStatusCode("0xffffffff")).toBe(0xffffffff);
    expect(ntStatusCode("0xc0001234")).toBe(0xc0001234);
  });

  test("garbage is undefined", () => {
    for (const s of [
      "",
      "0x",
      "0x123456789",
      "0xg",
      "c0000022",
      "-0x1",
      "0x-1",
      "34",
      "STATUS_NO_SUCH_STATUS",
      "ACCESS_DENIED",
      "STATUS_ACCESS_DENIED_",
      "toString",
      "__proto__",
    ]) {
      expect(ntStatusCode(s)).toBeUndefined();
    }
  });
});

describe("ntStatusName", () => {
  test("unnamed codes print as 0x and 8 lowercase hex digits", () => {
    expect(ntStatusName(0xc0001234)).toBe("0xc0001234");
    expect(ntStatusName(0xdeadbeef)).toBe("0xdeadbeef");
    expect(ntStatusName(0x5)).toBe("0x00000005");
    expect(ntStatusName(0xffffffff)).toBe("0xffffffff");
  });

  test("signed 32-bit input reads as unsigned", () => {
    expect(ntStatusName(0xc0000022 | 0)).toBe("STATUS_ACCESS_DENIED");
    expect(ntStatusName(-1)).toBe("0xffffffff");
  });

  test("round-trips every table name", () => {
    for (const [code, name] of NT_STATUS_TABLE) expect(ntStatusName(ntStatusCode(name)!)).toBe(ntStatusName(code));
  });
});
