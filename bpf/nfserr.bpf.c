// SPDX-License-Identifier: GPL-2.0 OR MIT
/* nfserr (config name nfsiosnoop): NFS requests the server failed.
 *
 * The NFS client decodes every reply's status; a failed one fires
 *   nfs:nfs_xdr_status    (v3): the procedure's name and `error`
 *   nfs4:nfs4_xdr_status  (v4): the failed operation's number inside the
 *                         COMPOUND (18 = OPEN, 15 = LOOKUP) and `error`
 * where `error` is the status as the server sent it (positive: NOENT = 2,
 * ROFS = 30, ... JUKEBOX/DELAY = 10008; measured with hist triggers on
 * Debian 6.1 and 6.12, whose layouts are the same; offsets come from the
 * format files anyway). Both fire in the task that decodes the reply (a
 * kworker for asynchronous calls). The status goes into `status`, the errno
 * the client makes of it into rc (negative), filtered by `errnos` as smberr's.
 * Records share nfsslower's ring buffer and procedure map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "nfs_shared.bpf.h"

/* nfs_xdr_status offsets. */
const volatile __u16 v3_off_client_id = 12;
const volatile __u16 v3_off_xid = 16;
const volatile __u16 v3_off_version = 20;
const volatile __u16 v3_off_error = 24;
const volatile __u16 v3_off_program = 32;
const volatile __u16 v3_off_procedure = 36;
/* nfs4_xdr_status offsets. */
const volatile __u16 v4_off_client_id = 12;
const volatile __u16 v4_off_xid = 16;
const volatile __u16 v4_off_op = 20;
const volatile __u16 v4_off_error = 24;
/* Report only this process (tgid); 0 = all. */
const volatile __u32 filter_tgid = 0;
/* Keeps struct aod_event in the BTF (see smbslower.bpf.c). */
const volatile struct aod_event *const aod_event_btf_anchor = 0;

/* errnos[errno] = 1: report it (errno 1..1023; smberr's ERRNO_SLOTS). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} errnos SEC(".maps");

/* commands[id] = 1: report errors of this procedure/operation id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NFS_COMMANDS);
	__type(key, __u32);
	__type(value, __u8);
} commands SEC(".maps");

/* v4_ops[operation number] = command id (NFS4 operations are numbered 3..75). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u16);
} v4_ops SEC(".maps");

static __always_inline bool wanted(__u32 err, int cmd)
{
	__u32 k = err;
	__u8 *on = bpf_map_lookup_elem(&errnos, &k);
	if (!on || !*on)
		return false;
	k = cmd;
	on = bpf_map_lookup_elem(&commands, &k);
	return on && *on;
}

static __always_inline int submit(void *ctx, __u16 off_client, __u16 off_xid, int cmd, __u32 err, __u32 status)
{
	struct aod_event *e = aod_reserve(NFSERR_TOOL);
	if (!e)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	e->time_ns = bpf_ktime_get_ns();
	e->latency_ns = 0;
	e->session_id = 0;
	e->mid = tp_u32(ctx, off_xid);
	e->tree_id = tp_u32(ctx, off_client);
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->rc = -(__s32)err;
	e->status = status;
	e->command = cmd;
	e->tool = NFSERR_TOOL;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/nfs/nfs_xdr_status")
int nfserr_v3(void *ctx)
{
	if (filter_tgid && (bpf_get_current_pid_tgid() >> 32) != filter_tgid)
		return 0;
	if (!nfs_program_is_nfs(ctx, v3_off_program))
		return 0;
	__u32 version = tp_u32(ctx, v3_off_version);
	__u64 status = tp_u64(ctx, v3_off_error);
	int cmd = nfs_proc_id(ctx, version, v3_off_procedure);
	__u32 err = nfs_status_errno(status);
	if (cmd < 0 || !wanted(err, cmd))
		return 0;
	return submit(ctx, v3_off_client_id, v3_off_xid, cmd, err, (__u32)status);
}

SEC("tracepoint/nfs4/nfs4_xdr_status")
int nfserr_v4(void *ctx)
{
	if (filter_tgid && (bpf_get_current_pid_tgid() >> 32) != filter_tgid)
		return 0;
	__u32 op = tp_u32(ctx, v4_off_op);
	__u64 error = tp_u64(ctx, v4_off_error); /* the NFSv4 status */
	__u32 k = op < 128 ? op : 0;
	__u16 *cmdp = bpf_map_lookup_elem(&v4_ops, &k);
	if (!cmdp)
		return 0;
	int cmd = *cmdp;
	__u32 err = nfs_status_errno(error);
	if (!wanted(err, cmd))
		return 0;
	return submit(ctx, v4_off_client_id, v4_off_xid, cmd, err, (__u32)error);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
