/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What the NFS tools share: the procedure-name map and how they read the
 * sunrpc/nfs tracepoints (no BTF needed: user space reads each event's format
 * file and passes the field offsets as rodata, src/tools/nfs-plan.ts).
 *
 * Records (struct aod_event) of both tools use its fields so:
 *   command     the procedure (nfsslower) or the procedure/v4 operation
 *               (nfserr) as an id of src/format/nfs-procedures.ts's tables,
 *               whose first part (v3) is the same in both
 *   tree_id     the RPC client id (one per mounted superblock; user space
 *               maps it to the server and the candidate mounts)
 *   mid         the RPC xid
 *   session_id  nfsslower: rtt in us << 32 | backlog (queue) in us
 *   status      nfserr: the NFS status (v3; v4 gives only the errno)
 *   rc          nfserr: the negative errno */
#ifndef NFS_SHARED_BPF_H
#define NFS_SHARED_BPF_H

#include "aod_common.bpf.h"

#define NFSSLOWER_TOOL	  3 /* src/tools/nfsslower.ts: nfsslowerKind.id */
#define NFSERR_TOOL	  4 /* src/tools/nfserr.ts: nfserrKind.id */
#define NFS_PROC_NAME_LEN 28
#define NFS_COMMANDS	  128 /* ids of either table, with room to grow */

/* The key of `procs`: an RPC version and procedure name as the kernel's
 * rpc_procinfo names it ("WRITE"); name "" is the version's OTHER. */
struct nfs_proc_key {
	__u32 version;
	char name[NFS_PROC_NAME_LEN];
};

/* procs[version, name] = command id; filled by user space before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct nfs_proc_key);
	__type(value, __u16);
} procs SEC(".maps");

/* A __data_loc char[] field: u32 at `off` (offset in the low 16 bits). */
static __always_inline void nfs_read_loc_str(char *dst, __u32 size, void *ctx, __u16 off)
{
	__u32 l = 0;
	bpf_probe_read_kernel(&l, sizeof(l), ctx + off);
	bpf_probe_read_kernel_str(dst, size, ctx + (l & 0xffff));
}

/* Whether the __data_loc string at `off` is "nfs" (not nfsacl, lockd, mount). */
static __always_inline bool nfs_program_is_nfs(void *ctx, __u16 off)
{
	char prog[8] = {};
	nfs_read_loc_str(prog, sizeof(prog), ctx, off);
	return prog[0] == 'n' && prog[1] == 'f' && prog[2] == 's' && prog[3] == 0;
}

/* The command id of (version, procedure name at __data_loc `off`), or -1. */
static __always_inline int nfs_proc_id(void *ctx, __u32 version, __u16 off)
{
	struct nfs_proc_key k = {};
	k.version = version;
	nfs_read_loc_str(k.name, sizeof(k.name), ctx, off);
	__u16 *id = bpf_map_lookup_elem(&procs, &k);
	if (id)
		return *id;
	__builtin_memset(k.name, 0, sizeof(k.name)); /* a procedure the table lacks: OTHER */
	id = bpf_map_lookup_elem(&procs, &k);
	return id ? *id : -1;
}

/* The errno the NFS client turns a status into (nfs3_stat_to_errno,
 * nfs4_stat_to_errno): most classic statuses are errnos already; a few and
 * the 100xx ones map to Linux's own numbers. A status with no errno becomes
 * EREMOTEIO here (the kernel passes it on as a negative status). */
static __always_inline __u32 nfs_status_errno(__u64 status)
{
	switch (status) {
	case 63:
		return 36; /* NAMETOOLONG */
	case 66:
		return 39; /* NOTEMPTY */
	case 69:
		return 122; /* DQUOT */
	case 70:
		return 116; /* STALE */
	case 71:
		return 66; /* REMOTE: EREMOTE */
	case 99:
		return 5; /* WFLUSH: EIO */
	case 10001:
		return 521; /* BADHANDLE: EBADHANDLE */
	case 10002:
		return 522; /* NOT_SYNC: ENOTSYNC */
	case 10003:
		return 523; /* BAD_COOKIE: EBADCOOKIE */
	case 10004:
		return 524; /* NOTSUPP: ENOTSUPP */
	case 10005:
		return 525; /* TOOSMALL: ETOOSMALL */
	case 10006:
		return 121; /* SERVERFAULT: EREMOTEIO */
	case 10007:
		return 527; /* BADTYPE: EBADTYPE */
	case 10008:
		return 528; /* JUKEBOX / v4 DELAY: EJUKEBOX */
	case 10029:
		return 40; /* v4 SYMLINK: ELOOP */
	case 10044:
		return 95; /* v4 OP_ILLEGAL: EOPNOTSUPP */
	case 10045:
		return 35; /* v4 DEADLOCK: EDEADLK */
	case 10095:
		return 61; /* v4 NOXATTR: ENODATA */
	case 10096:
		return 7; /* v4 XATTR2BIG: E2BIG */
	}
	return status > 0 && status < 100 ? (__u32)status : 121;
}

#endif /* NFS_SHARED_BPF_H */
