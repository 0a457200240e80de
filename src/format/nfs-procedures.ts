// NFS names: the client's RPC procedures (what nfsslower times: one name
// list for v3 and v4, each name qualified by its version, "v3:WRITE"), the
// NFSv4 operations (what nfs4:nfs4_xdr_status reports an error for: a number
// in the COMPOUND, not a procedure) and the NFS status codes. Configs may name
// a procedure unqualified ("WRITE": every version that has it).
import { type NameTable, nameTable } from "./name-table";

/** NFSv3 procedures (RFC 1813), at their procedure numbers. */
export const NFS3_PROCEDURES = [
  "NULL",
  "GETATTR",
  "SETATTR",
  "LOOKUP",
  "ACCESS",
  "READLINK",
  "READ",
  "WRITE",
  "CREATE",
  "MKDIR",
  "SYMLINK",
  "MKNOD",
  "REMOVE",
  "RMDIR",
  "RENAME",
  "LINK",
  "READDIR",
  "READDIRPLUS",
  "FSSTAT",
  "FSINFO",
  "PATHCONF",
  "COMMIT",
] as const;

/**
 * The Linux NFSv4 client's procedures (the names its rpc_procinfo tables give),
 * in the order of enum NFSPROC4_CLNT_* (include/linux/nfs4.h), which indexes
 * the kernel's counters (/proc/net/rpc/nfs): 69 through READ_PLUS on Debian's
 * 6.1 and 6.12, OFFLOAD_STATUS after it on newer kernels. One COMPOUND each on
 * the wire. Tracepoints name them, so nfsslower does not depend on the order.
 */
export const NFS4_PROCEDURES = [
  "NULL",
  "READ",
  "WRITE",
  "COMMIT",
  "OPEN",
  "OPEN_CONFIRM",
  "OPEN_NOATTR",
  "OPEN_DOWNGRADE",
  "CLOSE",
  "SETATTR",
  "FSINFO",
  "RENEW",
  "SETCLIENTID",
  "SETCLIENTID_CONFIRM",
  "LOCK",
  "LOCKT",
  "LOCKU",
  "ACCESS",
  "GETATTR",
  "LOOKUP",
  "LOOKUP_ROOT",
  "REMOVE",
  "RENAME",
  "LINK",
  "SYMLINK",
  "CREATE",
  "PATHCONF",
  "STATFS",
  "READLINK",
  "READDIR",
  "SERVER_CAPS",
  "DELEGRETURN",
  "GETACL",
  "SETACL",
  "FS_LOCATIONS",
  "RELEASE_LOCKOWNER",
  "SECINFO",
  "FSID_PRESENT",
  "EXCHANGE_ID",
  "CREATE_SESSION",
  "DESTROY_SESSION",
  "SEQUENCE",
  "GET_LEASE_TIME",
  "RECLAIM_COMPLETE",
  "LAYOUTGET",
  "GETDEVICEINFO",
  "LAYOUTCOMMIT",
  "LAYOUTRETURN",
  "SECINFO_NO_NAME",
  "TEST_STATEID",
  "FREE_STATEID",
  "GETDEVICELIST",
  "BIND_CONN_TO_SESSION",
  "DESTROY_CLIENTID",
  "SEEK",
  "ALLOCATE",
  "DEALLOCATE",
  "LAYOUTSTATS",
  "CLONE",
  "COPY",
  "OFFLOAD_CANCEL",
  "LOOKUPP",
  "LAYOUTERROR",
  "COPY_NOTIFY",
  "GETXATTR",
  "SETXATTR",
  "LISTXATTRS",
  "REMOVEXATTR",
  "READ_PLUS",
  "OFFLOAD_STATUS",
] as const;

/** NFSv4 operations (RFC 8881 §16.2.2, RFC 7862, RFC 8276), by operation number. */
export const NFS4_OPERATIONS: Readonly<Record<number, string>> = Object.fromEntries(
  [
    "ACCESS",
    "CLOSE",
    "COMMIT",
    "CREATE",
    "DELEGPURGE",
    "DELEGRETURN",
    "GETATTR",
    "GETFH",
    "LINK",
    "LOCK",
    "LOCKT",
    "LOCKU",
    "LOOKUP",
    "LOOKUPP",
    "NVERIFY",
    "OPEN",
    "OPENATTR",
    "OPEN_CONFIRM",
    "OPEN_DOWNGRADE",
    "PUTFH",
    "PUTPUBFH",
    "PUTROOTFH",
    "READ",
    "READDIR",
    "READLINK",
    "REMOVE",
    "RENAME",
    "RENEW",
    "RESTOREFH",
    "SAVEFH",
    "SECINFO",
    "SETATTR",
    "SETCLIENTID",
    "SETCLIENTID_CONFIRM",
    "VERIFY",
    "WRITE",
    "RELEASE_LOCKOWNER",
    "BACKCHANNEL_CTL",
    "BIND_CONN_TO_SESSION",
    "EXCHANGE_ID",
    "CREATE_SESSION",
    "DESTROY_SESSION",
    "FREE_STATEID",
    "GET_DIR_DELEGATION",
    "GETDEVICEINFO",
    "GETDEVICELIST",
    "LAYOUTCOMMIT",
    "LAYOUTGET",
    "LAYOUTRETURN",
    "SECINFO_NO_NAME",
    "SEQUENCE",
    "SET_SSV",
    "TEST_STATEID",
    "WANT_DELEGATION",
    "DESTROY_CLIENTID",
    "RECLAIM_COMPLETE",
    "ALLOCATE",
    "COPY",
    "COPY_NOTIFY",
    "DEALLOCATE",
    "IO_ADVISE",
    "LAYOUTERROR",
    "LAYOUTSTATS",
    "OFFLOAD_CANCEL",
    "OFFLOAD_STATUS",
    "READ_PLUS",
    "SEEK",
    "WRITE_SAME",
    "CLONE",
    "GETXATTR",
    "SETXATTR",
    "LISTXATTRS",
    "REMOVEXATTR",
  ].map((n, i) => [i + 3, n]),
);

/** A version-qualified name ("v3:WRITE") split; undefined when it is not one. */
export function splitQualified(name: string): { version: number; name: string } | undefined {
  const m = /^v([34]):(.+)$/.exec(name);
  return m ? { version: Number(m[1]), name: m[2]! } : undefined;
}

/**
 * A table of version-qualified names whose ids also answer unqualified names
 * (every version that has it): "WRITE" selects v3:WRITE and v4:WRITE.
 */
function qualifiedTable(what: string, perVersion: Record<number, readonly string[]>, example: string): NameTable {
  const names = Object.entries(perVersion).flatMap(([v, list]) => [...list.map((n) => `v${v}:${n}`), `v${v}:OTHER`]);
  const base = nameTable(what, names, example, (id) => `PROC_${id}`);
  const byBare = new Map<string, number[]>();
  names.forEach((n, id) => {
    const bare = splitQualified(n)!.name;
    if (bare !== "OTHER") byBare.set(bare, [...(byBare.get(bare) ?? []), id]);
  });
  const bareNames = [...byBare.keys()];
  return {
    ...base,
    ids: (n) => {
      const id = base.id(n);
      return id !== undefined ? [id] : byBare.get(n);
    },
    suggestions: bareNames, // each also as v3:NAME / v4:NAME
  };
}

/**
 * nfsslower's commands: v3 procedures then v4 procedures, each list followed
 * by its OTHER (a procedure this table does not know, e.g. a newer kernel's).
 */
export const NFS_PROCEDURE_TABLE: NameTable = qualifiedTable(
  "NFS procedure",
  { 3: NFS3_PROCEDURES, 4: NFS4_PROCEDURES },
  "WRITE (or v3:WRITE, v4:WRITE)",
);

/**
 * nfserr's commands: a v3 error names its procedure, a v4 error the
 * operation that failed inside the COMPOUND.
 */
export const NFS_ERROR_OP_TABLE: NameTable = qualifiedTable(
  "NFS procedure or operation",
  {
    3: NFS3_PROCEDURES,
    4: Object.values(NFS4_OPERATIONS),
  },
  "LOOKUP (or v3:LOOKUP, v4:OPEN)",
);

/** The id of an NFSv4 operation number in NFS_ERROR_OP_TABLE (v4:OTHER when unknown). */
export function nfs4OperationId(op: number): number {
  const name = NFS4_OPERATIONS[op];
  return NFS_ERROR_OP_TABLE.id(`v4:${name ?? "OTHER"}`)!;
}

/**
 * NFS status codes (RFC 1813 nfsstat3, RFC 8881 nfsstat4) by number, without
 * the version's prefix: v3 and v4 share the numbers they both have.
 */
export const NFS_STATUS: Readonly<Record<number, string>> = {
  1: "PERM",
  2: "NOENT",
  5: "IO",
  6: "NXIO",
  13: "ACCES",
  17: "EXIST",
  18: "XDEV",
  19: "NODEV",
  20: "NOTDIR",
  21: "ISDIR",
  22: "INVAL",
  27: "FBIG",
  28: "NOSPC",
  30: "ROFS",
  31: "MLINK",
  63: "NAMETOOLONG",
  66: "NOTEMPTY",
  69: "DQUOT",
  70: "STALE",
  71: "REMOTE",
  10001: "BADHANDLE",
  10002: "NOT_SYNC",
  10003: "BAD_COOKIE",
  10004: "NOTSUPP",
  10005: "TOOSMALL",
  10006: "SERVERFAULT",
  10007: "BADTYPE",
  10008: "DELAY", // v3: JUKEBOX
  10009: "SAME",
  10010: "DENIED",
  10011: "EXPIRED",
  10012: "LOCKED",
  10013: "GRACE",
  10014: "FHEXPIRED",
  10015: "SHARE_DENIED",
  10016: "WRONGSEC",
  10017: "CLID_INUSE",
  10018: "RESOURCE",
  10019: "MOVED",
  10020: "NOFILEHANDLE",
  10021: "MINOR_VERS_MISMATCH",
  10022: "STALE_CLIENTID",
  10023: "STALE_STATEID",
  10024: "OLD_STATEID",
  10025: "BAD_STATEID",
  10026: "BAD_SEQID",
  10027: "NOT_SAME",
  10028: "LOCK_RANGE",
  10029: "SYMLINK",
  10030: "RESTOREFH",
  10031: "LEASE_MOVED",
  10032: "ATTRNOTSUPP",
  10033: "NO_GRACE",
  10034: "RECLAIM_BAD",
  10035: "RECLAIM_CONFLICT",
  10036: "BADXDR",
  10037: "LOCKS_HELD",
  10038: "OPENMODE",
  10039: "BADOWNER",
  10040: "BADCHAR",
  10041: "BADNAME",
  10042: "BAD_RANGE",
  10043: "LOCK_NOTSUPP",
  10044: "OP_ILLEGAL",
  10045: "DEADLOCK",
  10046: "FILE_OPEN",
  10047: "ADMIN_REVOKED",
  10048: "CB_PATH_DOWN",
  10049: "BADIOMODE",
  10050: "BADLAYOUT",
  10051: "BAD_SESSION_DIGEST",
  10052: "BADSESSION",
  10053: "BADSLOT",
  10054: "COMPLETE_ALREADY",
  10055: "CONN_NOT_BOUND_TO_SESSION",
  10056: "DELEG_ALREADY_WANTED",
  10057: "BACK_CHAN_BUSY",
  10058: "LAYOUTTRYLATER",
  10059: "LAYOUTUNAVAILABLE",
  10060: "NOMATCHING_LAYOUT",
  10061: "RECALLCONFLICT",
  10062: "UNKNOWN_LAYOUTTYPE",
  10063: "SEQ_MISORDERED",
  10064: "SEQUENCE_POS",
  10065: "REQ_TOO_BIG",
  10066: "REP_TOO_BIG",
  10067: "REP_TOO_BIG_TO_CACHE",
  10068: "RETRY_UNCACHED_REP",
  10069: "UNSAFE_COMPOUND",
  10070: "TOO_MANY_OPS",
  10071: "OP_NOT_IN_SESSION",
  10072: "HASH_ALG_UNSUPP",
  10074: "CLIENTID_BUSY",
  10075: "PNFS_IO_HOLE",
  10076: "SEQ_FALSE_RETRY",
  10077: "BAD_HIGH_SLOT",
  10078: "DEADSESSION",
  10079: "ENCR_ALG_UNSUPP",
  10080: "PNFS_NO_LAYOUT",
  10081: "NOT_ONLY_OP",
  10082: "WRONG_CRED",
  10083: "WRONG_TYPE",
  10084: "DIRDELEG_UNAVAIL",
  10085: "REJECT_DELEG",
  10086: "RETURNCONFLICT",
  10087: "DELEG_REVOKED",
  10088: "PARTNER_NOTSUPP",
  10089: "PARTNER_NO_AUTH",
  10090: "UNION_NOTSUPP",
  10091: "OFFLOAD_DENIED",
  10092: "WRONG_LFS",
  10093: "BADLABEL",
  10094: "OFFLOAD_NO_REQS",
  10095: "NOXATTR",
  10096: "XATTR2BIG",
};

/** The name of a status as the version calls it (NFS3ERR_ROFS, NFS4ERR_DELAY), or NFS<v>ERR_<code>. */
export function nfsStatusName(code: number, version: number): string {
  const base = version === 3 && code === 10008 ? "JUKEBOX" : NFS_STATUS[code];
  return `NFS${version}ERR_${base ?? code}`;
}

/** A status name of either version (or NFS<v>ERR_<code>) as its code, or undefined. */
export function nfsStatusCode(name: string): number | undefined {
  const m = /^NFS[34]ERR_([A-Z0-9_]+)$/.exec(name);
  if (!m) return undefined;
  if (/^\d+$/.test(m[1]!)) return Number(m[1]);
  if (m[1] === "JUKEBOX") return 10008;
  const hit = Object.entries(NFS_STATUS).find(([, n]) => n === m[1]);
  return hit ? Number(hit[0]) : undefined;
}
