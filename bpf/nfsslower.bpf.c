// SPDX-License-Identifier: GPL-2.0 OR MIT
/* nfsslower: the latency of every NFS RPC, per procedure.
 *
 * sunrpc:rpc_stats_latency fires once per completed RPC (when its statistics
 * are counted, in the task that ran it last: the caller for synchronous
 * calls, an rpciod/kworker for asynchronous ones) with the RPC client id, the
 * xid, the program version, the procedure name and the times it spent queued
 * (backlog), on the wire (rtt) and in all (execute), in microseconds. It
 * exists on every kernel aod supports and needs no BTF; field offsets come
 * from its format file (6.12 adds xprt_id at the end; the rest is the same).
 *
 * Only program "nfs" is counted (not nfsacl, lockd, mount or rpcbind). Each
 * RPC goes into the per-procedure histogram; an event is submitted when its
 * latency reaches the procedure's threshold. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "nfs_shared.bpf.h"

/* Field offsets in rpc_stats_latency's record (from its format file). */
const volatile __u16 off_client_id = 12;
const volatile __u16 off_xid = 16;
const volatile __u16 off_version = 20;
const volatile __u16 off_progname = 24;
const volatile __u16 off_procname = 28;
const volatile __u16 off_backlog = 32;
const volatile __u16 off_rtt = 40;
const volatile __u16 off_execute = 48;
/* Report only this process (tgid); 0 = all. */
const volatile __u32 filter_tgid = 0;

/* Keeps struct aod_event in the object's BTF (see smbslower.bpf.c). */
const volatile struct aod_event *const aod_event_btf_anchor = 0;

/* thresholds[command]: report at or above this many ns; ~0 = never. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NFS_COMMANDS);
	__type(key, __u32);
	__type(value, __u64);
} thresholds SEC(".maps");

/* hist[command * AOD_HIST_SLOTS + log2(latency in us)]: every completed RPC. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (NFS_COMMANDS * AOD_HIST_SLOTS));
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

/* share_hist[client, command]: every RPC per RPC client (one per mounted
 * superblock), when share_hist_on (metrics configured). */
const volatile bool share_hist_on = false;
struct nfs_share_key {
	__u32 client_id;
	__u16 command;
	__u16 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct nfs_share_key);
	__type(value, struct aod_share_hist);
} share_hist SEC(".maps");

SEC("tracepoint/sunrpc/rpc_stats_latency")
int nfsslower_rpc_done(void *ctx)
{
	if (!nfs_program_is_nfs(ctx, off_progname))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (filter_tgid && (id >> 32) != filter_tgid)
		return 0;
	__u32 version = tp_u32(ctx, off_version);
	int cmd = nfs_proc_id(ctx, version, off_procname);
	if (cmd < 0 || cmd >= NFS_COMMANDS)
		return 0;
	__u64 exec_us = tp_u64(ctx, off_execute);

	__u32 bucket = aod_log2(exec_us);
	if (bucket >= AOD_HIST_SLOTS)
		bucket = AOD_HIST_SLOTS - 1;
	__u32 slot = (__u32)cmd * AOD_HIST_SLOTS + bucket;
	__u64 *n = bpf_map_lookup_elem(&hist, &slot);
	if (n)
		*n += 1;
	if (share_hist_on) {
		struct nfs_share_key sk = { .client_id = tp_u32(ctx, off_client_id), .command = cmd };
		aod_share_hist_add(&share_hist, &sk, bucket);
	}

	__u32 key = cmd;
	__u64 *th = bpf_map_lookup_elem(&thresholds, &key);
	__u64 lat_ns = exec_us * 1000;
	if (!th || lat_ns < *th)
		return 0;

	struct aod_event *e = aod_reserve(NFSSLOWER_TOOL);
	if (!e)
		return 0;
	__u64 rtt = tp_u64(ctx, off_rtt);
	__u64 backlog = tp_u64(ctx, off_backlog);
	e->time_ns = bpf_ktime_get_ns();
	e->latency_ns = lat_ns;
	e->session_id =
		(rtt > 0xffffffff ? 0xffffffffULL : rtt) << 32 | (backlog > 0xffffffff ? 0xffffffffULL : backlog);
	e->mid = tp_u32(ctx, off_xid);
	e->tree_id = tp_u32(ctx, off_client_id);
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->rc = 0;
	e->status = 0;
	e->command = cmd;
	e->tool = NFSSLOWER_TOOL;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
