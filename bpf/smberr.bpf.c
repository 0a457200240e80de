// SPDX-License-Identifier: GPL-2.0 OR MIT
/* smberr (config name smbiosnoop): SMB2 requests the server failed, and
 * failures of the connection itself.
 *
 * cifs decodes every failed response in map_smb2_to_linux_error(), which
 * fires cifs:smb3_cmd_err with the NT status and the errno it maps to. That
 * tracepoint exists on every kernel aod supports and needs no BTF, so it is
 * the main hook. It often runs in cifsd (async reads and writes), so the task
 * that issued the request comes from smbslower's `recent` map (shared with
 * this object by user space), keyed by (session id, mid); without a match the
 * current task is reported. Requests that fail locally after they were sent
 * (reconnect: EAGAIN, shutdown: EHOSTDOWN) are reported by smbslower's
 * release hook as smbiosnoop events.
 *
 * While the server is unreachable nothing reaches the wire, so there is no
 * mid and no smb3_cmd_err. Two more hooks cover that (measured in the VM on
 * Debian 6.1 and 6.12 with smbd killed: smb3_connect_err rc=-111 every ~3 s,
 * and each access failing with -112 after the reconnect wait):
 *   cifs:smb3_connect_err  a failed (re)connect attempt, in cifsd. Reported
 *       as SMB2_NEGOTIATE (connecting is what precedes the negotiate) with
 *       AOD_EV_CONNECT, the current task, session, tree and mid 0.
 *   the cifs:smb3_*_err family (smb3_open_err, smb3_query_info_compound_err,
 *       ...): the per-operation errors, in the issuing task. One program,
 *       smberr_op_err, attached by user space to each such event this kernel
 *       has; it finds its event by common_type in `op_desc` (offsets from the
 *       format files, the SMB2 command from src/tools/attach-plan.ts).
 * The per-operation events fire for server-returned errors too (smb3_cmd_err
 * first, then e.g. smb3_open_err with the same rc: measured for ENOENT and
 * EACCES), so they are reported only for the local/connection errnos in
 * `local_errnos` (EHOSTDOWN, ECONNREFUSED, ETIMEDOUT, ...). -EAGAIN is left
 * out on purpose: at this level it is cifs asking its caller to rebuild and
 * resend after a reconnect (retried internally), and requests that were in
 * flight when the connection dropped already got their EAGAIN event from the
 * release hook. What remains could still double count in two ways, both
 * handled here: a server status that maps to one of those errnos (e.g.
 * STATUS_CONNECTION_RESET; smb3_cmd_err leaves a per-thread marker the next
 * op error consumes), and several per-operation events of one system call
 * (a retried open: deduplicated by xid). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "smb_shared.bpf.h"
#include "cifs_types.h"

const volatile __u16 tp_off[TPF_COUNT] = { 8, 16, 24, 32, 40, 44 };
/* Report only this process (tgid); 0 = all. */
const volatile __u32 filter_tgid = 0;
/* Bit per SMB2 command to report. */
const volatile __u32 command_mask = 0xffffffff;
/* smb3_connect_err's rc field offset (from its format file). */
const volatile __u16 connect_rc_off = 152;
/* Bit (errno - 64) set: a per-operation error with this errno is a local or
 * connection failure (EHOSTDOWN, ECONNREFUSED, ...), reported by
 * smberr_op_err. Filled from LOCAL_ERRNOS in src/tools/attach-plan.ts. */
const volatile __u64 local_errnos = 0;
/* Keeps struct aod_event in the BTF (see smbslower.bpf.c). */
const volatile struct aod_event *const aod_event_btf_anchor = 0;

static __always_inline bool local_errno(__s32 rc)
{
	return rc <= -64 && rc >= -127 && (local_errnos & (1ULL << (-rc - 64)));
}

/* Per-operation error tracepoints, by index (OP_ERR below; the order of
 * OP_ERR_EVENTS in src/tools/attach-plan.ts). Filled by user space from the
 * format files; field offset 0 (common_type) = field absent. */
struct op_desc {
	__u16 rc_off;
	__u16 xid_off;
	__u16 tid_off;
	__u16 sesid_off;
	__u16 command;
	__u8 flags; /* OPD_* */
	__u8 _pad;
};
#define OPD_IDS 1 /* tid/sesid hold what their names say (see attach-plan.ts) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct op_desc);
} op_desc SEC(".maps");

/* xids (one per system call) whose local failure was handled already. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __s32);
} op_xid_seen SEC(".maps");

/* Last server-returned error per thread (smb3_cmd_err), consumed by the
 * per-operation event of the same failure. */
struct thread_err {
	__u64 time_ns;
	__s32 rc;
	__u32 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct thread_err);
} thread_err SEC(".maps");

/* The per-operation event follows its smb3_cmd_err within the same call. */
#define THREAD_ERR_WINDOW_NS 1000000000ULL

SEC("tracepoint/cifs/smb3_cmd_err")
int smberr_cmd_err(void *ctx)
{
	__u64 sesid = tp_u64(ctx, tp_off[TPF_SESID]);
	__u64 mid = tp_u64(ctx, tp_off[TPF_MID]);
	__u32 status = tp_u32(ctx, tp_off[TPF_STATUS]);
	__s32 rc = (__s32)tp_u32(ctx, tp_off[TPF_RC]);
	__u16 cmd = tp_u16(ctx, tp_off[TPF_CMD]);

	/* Success, informational and warning statuses (e.g. STATUS_NO_MORE_FILES
	 * ending a directory listing) are not failures; nor is the
	 * MORE_PROCESSING_REQUIRED round of every session setup. */
	if (rc == 0 || (status >> 30) != 3)
		return 0;
	if (cmd == SMB2_SESSION_SETUP && status == STATUS_MORE_PROCESSING_REQUIRED)
		return 0;
	if (cmd < 32 && !(command_mask & (1u << cmd)))
		return 0;
	if (!errno_tracked(rc))
		return 0;

	struct smb_done done;
	struct smb_recent_slot *slot = recent_find(sesid, mid, &done);
	struct smb_done *d = slot ? &done : NULL;
	__u64 id = bpf_get_current_pid_tgid();
	if (local_errno(rc)) {
		/* A server status that maps to a connection errno: the operation's
		 * own *_err event of the same failure must not count it again. */
		__u32 tid = d ? d->tid : (__u32)id;
		struct thread_err te = { .time_ns = bpf_ktime_get_ns(), .rc = rc };
		bpf_map_update_elem(&thread_err, &tid, &te, BPF_ANY);
	}
	/* err_seen in place, unless the slot went to another request since */
	if (slot && slot->key.session_id == sesid && slot->key.mid == mid) {
		if (slot->done.err_seen)
			return 0;	 /* reported already */
		slot->done.err_seen = 1; /* racy by design: at worst a rare duplicate */
	}
	__u32 pid = d ? d->pid : id >> 32;
	if (filter_tgid && pid != filter_tgid)
		return 0;

	struct aod_event *e = aod_reserve(AOD_TOOL_SMBERR);
	if (!e)
		return 0;
	if (d) {
		event_outcome(e, bpf_ktime_get_ns(), d->latency_ns, sesid, mid, rc, status, cmd, AOD_TOOL_SMBERR, 0);
		event_issuer_done(e, d);
	} else {
		event_outcome(e, bpf_ktime_get_ns(), 0, sesid, mid, rc, status, cmd, AOD_TOOL_SMBERR, AOD_EV_NO_START);
		event_issuer_current(e, tp_u32(ctx, tp_off[TPF_TID]));
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline void emit_local(__s32 rc, __u16 cmd, __u64 sesid, __u32 tree)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (filter_tgid && (id >> 32) != filter_tgid)
		return;
	struct aod_event *e = aod_reserve(AOD_TOOL_SMBERR);
	if (!e)
		return;
	event_outcome(e, bpf_ktime_get_ns(), 0, sesid, 0, rc, 0, cmd, AOD_TOOL_SMBERR, AOD_EV_CONNECT);
	event_issuer_current(e, tree);
	bpf_ringbuf_submit(e, 0);
}

/* A failed connect or reconnect attempt (cifsd, every few seconds while the
 * server is unreachable). Successful reconnects (smb3_reconnect) are not
 * errors and are not hooked. */
SEC("tracepoint/cifs/smb3_connect_err")
int smberr_connect_err(void *ctx)
{
	__s32 rc = (__s32)tp_u32(ctx, connect_rc_off);

	if (rc == 0 || !(command_mask & (1u << 0 /* SMB2_NEGOTIATE */)))
		return 0;
	if (!errno_tracked(rc))
		return 0;
	emit_local(rc, 0 /* SMB2_NEGOTIATE */, 0, 0);
	return 0;
}

static __always_inline int op_err(void *ctx, __u32 idx)
{
	struct op_desc *o = bpf_map_lookup_elem(&op_desc, &idx);
	if (!o)
		return 0;
	__s32 rc = (__s32)tp_u32(ctx, o->rc_off);
	if (!local_errno(rc))
		return 0; /* not a local/connection failure: smb3_cmd_err reports it */
	if (o->command < 32 && !(command_mask & (1u << o->command)))
		return 0;
	if (!errno_tracked(rc))
		return 0;

	__u32 xid = o->xid_off ? tp_u32(ctx, o->xid_off) : 0;
	if (xid) {
		if (bpf_map_lookup_elem(&op_xid_seen, &xid))
			return 0; /* this system call's failure was reported */
		bpf_map_update_elem(&op_xid_seen, &xid, &rc, BPF_ANY);
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread_err *te = bpf_map_lookup_elem(&thread_err, &tid);
	if (te) {
		bool same = te->rc == rc && bpf_ktime_get_ns() - te->time_ns < THREAD_ERR_WINDOW_NS;
		bpf_map_delete_elem(&thread_err, &tid);
		if (same)
			return 0; /* smb3_cmd_err reported it (server status) */
	}
	__u64 sesid = 0;
	__u32 tree = 0;
	if (o->flags & OPD_IDS) {
		if (o->sesid_off)
			sesid = tp_u64(ctx, o->sesid_off);
		if (o->tid_off)
			tree = tp_u32(ctx, o->tid_off);
	}
	emit_local(rc, o->command, sesid, tree);
	return 0;
}

/* One program per event: a tracepoint program cannot tell which event fired
 * (the record's common_type is overwritten with a pt_regs pointer before BPF
 * runs) and attach cookies need 5.15. User space loads and attaches the ones
 * this kernel has (smberr_<event>). */
#define OP_ERR(ev, idx)                  \
	SEC("tracepoint/cifs/" #ev)      \
	int smberr_##ev(void *ctx)       \
	{                                \
		return op_err(ctx, idx); \
	}
OP_ERR(smb3_open_err, 0)
OP_ERR(smb3_posix_mkdir_err, 1)
OP_ERR(smb3_close_err, 2)
OP_ERR(smb3_flush_err, 3)
OP_ERR(smb3_read_err, 4)
OP_ERR(smb3_write_err, 5)
OP_ERR(smb3_lock_err, 6)
OP_ERR(smb3_fsctl_err, 7)
OP_ERR(smb3_zero_err, 8)
OP_ERR(smb3_falloc_err, 9)
OP_ERR(smb3_query_dir_err, 10)
OP_ERR(smb3_notify_err, 11)
OP_ERR(smb3_query_info_err, 12)
OP_ERR(smb3_set_info_err, 13)
OP_ERR(smb3_tdis_err, 14)
OP_ERR(smb3_query_info_compound_err, 15)
OP_ERR(smb3_posix_query_info_compound_err, 16)
OP_ERR(smb3_set_info_compound_err, 17)
OP_ERR(smb3_set_eof_err, 18)
OP_ERR(smb3_rename_err, 19)
OP_ERR(smb3_hardlink_err, 20)
OP_ERR(smb3_rmdir_err, 21)
OP_ERR(smb3_mkdir_err, 22)
OP_ERR(smb3_delete_err, 23)
OP_ERR(smb3_mknod_err, 24)
OP_ERR(smb3_get_reparse_compound_err, 25)
OP_ERR(smb3_set_reparse_compound_err, 26)
OP_ERR(smb3_query_wsl_ea_compound_err, 27)

char LICENSE[] SEC("license") = "Dual MIT/GPL";
