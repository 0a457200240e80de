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
    suggestions: [...bareNames, ...names],
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
 * NFS status codes (RFC 1813 nfsstat3, RFC 8881 nfsstat4) by number. v3 and
 * v4 share the numbers they both have.
 */
export const NFS_STATUS: Readonly<Record<number, string>> = {
  1: "NFSERR_PERM",
  2: "NFSERR_NOENT",
  5: "NFSERR_IO",
  6: "NFSERR_NXIO",
  13: "NFSERR_ACCES",
  17: "NFSERR_EXIST",
  18: "NFSERR_XDEV",
  19: "NFSERR_NODEV",
  20: "NFSERR_NOTDIR",
  21: "NFSERR_ISDIR",
  22: "NFSERR_INVAL",
  27: "NFSERR_FBIG",
  28: "NFSERR_NOSPC",
  30: "NFSERR_ROFS",
  31: "NFSERR_MLINK",
  63: "NFSERR_NAMETOOLONG",
  66: "NFSERR_NOTEMPTY",
  69: "NFSERR_DQUOT",
  70: "NFSERR_STALE",
  71: "NFSERR_REMOTE",
  10001: "NFSERR_BADHANDLE",
  10002: "NFSERR_NOT_SYNC",
  10003: "NFSERR_BAD_COOKIE",
  10004: "NFSERR_NOTSUPP",
  10005: "NFSERR_TOOSMALL",
  10006: "NFSERR_SERVERFAULT",
  10007: "NFSERR_BADTYPE",
  10008: "NFSERR_DELAY",
  10009: "NFS4ERR_SAME",
  10010: "NFS4ERR_DENIED",
  10011: "NFS4ERR_EXPIRED",
  10012: "NFS4ERR_LOCKED",
  10013: "NFS4ERR_GRACE",
  10014: "NFS4ERR_FHEXPIRED",
  10015: "NFS4ERR_SHARE_DENIED",
  10016: "NFS4ERR_WRONGSEC",
  10017: "NFS4ERR_CLID_INUSE",
  10018: "NFS4ERR_RESOURCE",
  10019: "NFS4ERR_MOVED",
  10020: "NFS4ERR_NOFILEHANDLE",
  10021: "NFS4ERR_MINOR_VERS_MISMATCH",
  10022: "NFS4ERR_STALE_CLIENTID",
  10023: "NFS4ERR_STALE_STATEID",
  10024: "NFS4ERR_OLD_STATEID",
  10025: "NFS4ERR_BAD_STATEID",
  10026: "NFS4ERR_BAD_SEQID",
  10027: "NFS4ERR_NOT_SAME",
  10028: "NFS4ERR_LOCK_RANGE",
  10029: "NFS4ERR_SYMLINK",
  10030: "NFS4ERR_RESTOREFH",
  10031: "NFS4ERR_LEASE_MOVED",
  10032: "NFS4ERR_ATTRNOTSUPP",
  10033: "NFS4ERR_NO_GRACE",
  10034: "NFS4ERR_RECLAIM_BAD",
  10035: "NFS4ERR_RECLAIM_CONFLICT",
  10036: "NFS4ERR_BADXDR",
  10037: "NFS4ERR_LOCKS_HELD",
  10038: "NFS4ERR_OPENMODE",
  10039: "NFS4ERR_BADOWNER",
  10040: "NFS4ERR_BADCHAR",
  10041: "NFS4ERR_BADNAME",
  10042: "NFS4ERR_BAD_RANGE",
  10043: "NFS4ERR_LOCK_NOTSUPP",
  10044: "NFS4ERR_OP_ILLEGAL",
  10045: "NFS4ERR_DEADLOCK",
  10046: "NFS4ERR_FILE_OPEN",
  10047: "NFS4ERR_ADMIN_REVOKED",
  10048: "NFS4ERR_CB_PATH_DOWN",
  10049: "NFS4ERR_BADIOMODE",
  10050: "NFS4ERR_BADLAYOUT",
  10051: "NFS4ERR_BAD_SESSION_DIGEST",
  10052: "NFS4ERR_BADSESSION",
  10053: "NFS4ERR_BADSLOT",
  10054: "NFS4ERR_COMPLETE_ALREADY",
  10055: "NFS4ERR_CONN_NOT_BOUND_TO_SESSION",
  10056: "NFS4ERR_DELEG_ALREADY_WANTED",
  10057: "NFS4ERR_BACK_CHAN_BUSY",
  10058: "NFS4ERR_LAYOUTTRYLATER",
  10059: "NFS4ERR_LAYOUTUNAVAILABLE",
  10060: "NFS4ERR_NOMATCHING_LAYOUT",
  10061: "NFS4ERR_RECALLCONFLICT",
  10062: "NFS4ERR_UNKNOWN_LAYOUTTYPE",
  10063: "NFS4ERR_SEQ_MISORDERED",
  10064: "NFS4ERR_SEQUENCE_POS",
  10065: "NFS4ERR_REQ_TOO_BIG",
  10066: "NFS4ERR_REP_TOO_BIG",
  10067: "NFS4ERR_REP_TOO_BIG_TO_CACHE",
  10068: "NFS4ERR_RETRY_UNCACHED_REP",
  10069: "NFS4ERR_UNSAFE_COMPOUND",
  10070: "NFS4ERR_TOO_MANY_OPS",
  10071: "NFS4ERR_OP_NOT_IN_SESSION",
  10072: "NFS4ERR_HASH_ALG_UNSUPP",
  10074: "NFS4ERR_CLIENTID_BUSY",
  10075: "NFS4ERR_PNFS_IO_HOLE",
  10076: "NFS4ERR_SEQ_FALSE_RETRY",
  10077: "NFS4ERR_BAD_HIGH_SLOT",
  10078: "NFS4ERR_DEADSESSION",
  10079: "NFS4ERR_ENCR_ALG_UNSUPP",
  10080: "NFS4ERR_PNFS_NO_LAYOUT",
  10081: "NFS4ERR_NOT_ONLY_OP",
  10082: "NFS4ERR_WRONG_CRED",
  10083: "NFS4ERR_WRONG_TYPE",
  10084: "NFS4ERR_DIRDELEG_UNAVAIL",
  10085: "NFS4ERR_REJECT_DELEG",
  10086: "NFS4ERR_RETURNCONFLICT",
  10087: "NFS4ERR_DELEG_REVOKED",
  10088: "NFS4ERR_PARTNER_NOTSUPP",
  10089: "NFS4ERR_PARTNER_NO_AUTH",
  10090: "NFS4ERR_UNION_NOTSUPP",
  10091: "NFS4ERR_OFFLOAD_DENIED",
  10092: "NFS4ERR_WRONG_LFS",
  10093: "NFS4ERR_BADLABEL",
  10094: "NFS4ERR_OFFLOAD_NO_REQS",
  10095: "NFS4ERR_NOXATTR",
  10096: "NFS4ERR_XATTR2BIG",
};

/** The name of an NFS status code, or undefined. */
export const nfsStatusName = (code: number): string | undefined => NFS_STATUS[code];
