// SPDX-License-Identifier: GPL-2.0 OR MIT
/* smbslower: latency of every SMB2 request, per command.
 *
 * Start: the request's mid is allocated in the issuing task; remember the
 * time, task and header fields in `inflight`. Completion: the response is
 * matched to its mid in cifsd; compute the latency, count it in the per-CPU
 * histogram, and submit an aod_event when it reaches the command's threshold.
 *
 * Three hook variants in one object; user space loads one (set_autoload) by
 * preference and what the kernel allows (src/tools/attach-plan.ts):
 *   fentry   smb2_mid_entry_alloc + dequeue_mid   (BTF trampolines, cheapest)
 *            (+ the mid release function, for requests that never get a
 *            response: reconnects, cancels; optional, name varies by kernel)
 *   kprobe   the same functions                    (needs CONFIG_KPROBES)
 *   tp       cifs:smb3_cmd_enter + smb3_cmd_done/err (no BTF; done/err do not
 *            pair 1:1 with enter: ~93% of requests measured, on Debian 6.1
 *            and 6.12)
 * The mid lifecycle pairs 1:1, which is why it comes first. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "smb_shared.bpf.h"
#include "cifs_types.h"

/* Which argument holds what: signatures change between kernels (6.19 adds a
 * server argument to dequeue_mid). User space reads them from the cifs BTF. */
const volatile __u8 alloc_arg_shdr = 0;
const volatile __u8 alloc_arg_server = 1;
const volatile __u8 done_arg_mid = 0;
/* The release hook (optional): how its argument gives the mid.
 * 0 = not used, 1 = argument rel_arg is the mid, 2 = it is &mid->refcount
 * (a kref release callback: __release_mid / _cifs_mid_q_entry_release). */
const volatile __u8 rel_mode = 0;
const volatile __u8 rel_arg = 0;
/* Report only this process (tgid); 0 = all. */
const volatile __u32 filter_tgid = 0;
/* Bit per SMB2 command for error events of the release hook. */
const volatile __u32 err_command_mask = 0xffffffff;
const volatile __u16 tp_off[TP_COUNT][TPF_COUNT] = {
	{ 8, 16, 24, 32, 0, 0 },
	{ 8, 16, 24, 32, 0, 0 },
	{ 8, 16, 24, 32, 40, 44 },
};

/* Keeps struct aod_event in the object's BTF (locals' types are not emitted),
 * where test/tools/event-layout.test.ts compares it with the decoder. */
const volatile struct aod_event *const aod_event_btf_anchor = 0;

/* thresholds[command]: report at or above this many ns; ~0 = never. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AOD_SMB2_COMMANDS);
	__type(key, __u32);
	__type(value, __u64);
} thresholds SEC(".maps");

/* hist[command * AOD_HIST_SLOTS + log2(latency in us)]: every completed request. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (AOD_SMB2_COMMANDS * AOD_HIST_SLOTS));
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

/* share_hist[session, tree, command]: every completed request per share,
 * when share_hist_on (metrics configured). */
const volatile bool share_hist_on = false;
struct smb_share_key {
	__u64 session_id;
	__u32 tree_id;
	__u16 command;
	__u16 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct smb_share_key);
	__type(value, struct aod_share_hist);
} share_hist SEC(".maps");

/* counters[]: how the hooks fire, for coverage checks and `aod check`. */
enum {
	CNT_STARTS = 0,	  /* requests seen starting */
	CNT_DONE = 1,	  /* completions matched to a start */
	CNT_NO_START = 2, /* completions without a start (started before attach, evicted, duplicate) */
	CNT_EMITTED = 3,  /* latency events submitted */
	CNT_RELEASED = 4, /* requests released without a response (reconnect, cancel, offloaded decrypt) */
	CNT_EVICTED = 5,  /* starts that took a slot still holding another request (it never completed, or collided) */
	CNT_TORN = 6,	  /* completions that found their slot being rewritten by another CPU: dropped */
	CNT_MAX = 8,
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &what);
	if (n)
		*n += 1;
}

/* Loads that cost no helper call where the verifier allows them: in the
 * fentry programs the arguments are typed from BTF, so reading through them
 * (direct = true) is a plain load the verifier checks and the JIT guards.
 * The kprobe and tracepoint programs get untyped values: they read with
 * bpf_probe_read_kernel (direct = false). Each load is volatile so that
 * clang does not merge neighbours into one load that spans two fields (the
 * verifier checks each load against one field). */
#define LOAD_AT(T, p, off) (*(volatile const T *)((const __u8 *)(p) + (off)))

/* A kernel pointer from BTF (the fentry programs' server) as the plain number
 * the kprobe and tracepoint programs see: the verifier forbids arithmetic on
 * it (slot_of() multiplies), but allows a privileged program to subtract
 * one pointer from another (a number) and to store a pointer in a map value
 * (read back, it is a number). So: p - &ptr_base + the address of ptr_base,
 * which the first call stores in it. Inline, no helper call. */
__u64 ptr_base = 0;

static __always_inline __u64 ptr_value(const void *p)
{
	__u64 base = *(volatile __u64 *)&ptr_base;

	if (!base) {
		ptr_base = (__u64)&ptr_base;
		base = *(volatile __u64 *)&ptr_base;
	}
	__u64 d = (__u64)p - (__u64)&ptr_base;
	asm volatile("" : "+r"(d));
	return d + base;
}

static __always_inline void start(__u64 conn, __u64 mid, __u64 session_id, __u32 tree_id, __u16 command, __u8 flags,
				  bool direct)
{
	__u32 idx = slot_of(conn, mid, SMB_INFLIGHT_SLOTS);
	struct smb_slot s = { .key = { .conn = conn, .mid = mid } };
	struct smb_req *r = &s.req;

	r->start_ns = bpf_ktime_get_ns();
	r->session_id = session_id;
	r->tree_id = tree_id;
	r->command = command;
	r->flags = flags;
	if (direct) {
		/* One helper call for the task instead of two (pid_tgid, comm):
		 * pid, tgid and comm read straight from it. comm is always NUL
		 * terminated in the kernel; the decoder stops at the NUL. */
		struct task_struct *t = bpf_get_current_task_btf();
		const __u64 *c = (const __u64 *)t->comm;
		__u64 c0 = LOAD_AT(__u64, c, 0), c1 = LOAD_AT(__u64, c, 8);

		r->pid = t->tgid;
		r->tid = t->pid;
		__builtin_memcpy(r->comm, &c0, 8);
		__builtin_memcpy(r->comm + 8, &c1, 8);
	} else {
		__u64 id = bpf_get_current_pid_tgid();

		r->pid = id >> 32;
		r->tid = (__u32)id;
		bpf_get_current_comm(r->comm, sizeof(r->comm));
	}
	s.check = slot_check(&s);

	struct smb_slot *p = bpf_map_lookup_elem(&inflight, &idx);
	if (!p)
		return;
	if (p->check)
		count(CNT_EVICTED);
	*p = s;
	count(CNT_STARTS);
}

/* Takes the request (conn, mid) out of `inflight` into *r: false when it is
 * not there. The clock is read only then: most release-hook calls find
 * nothing (the response completed the request already, and emptied the
 * slot: one load). */
static __always_inline bool take(__u64 conn, __u64 mid, struct smb_req *r, __u64 *now)
{
	__u32 idx = slot_of(conn, mid, SMB_INFLIGHT_SLOTS);
	struct smb_slot *p = bpf_map_lookup_elem(&inflight, &idx);

	if (!p || !p->check || p->key.conn != conn || p->key.mid != mid)
		return false;
	struct smb_slot s = *p;
	/* Another CPU rewrote the slot while it was read (the key is checked
	 * again: the copy may be newer than the loads above). */
	if (s.key.conn != conn || s.key.mid != mid || slot_check(&s) != s.check) {
		count(CNT_TORN);
		return false;
	}
	/* Emptied only if nobody took it over since the copy (a slot lost to a
	 * racing start is counted when that request completes). */
	if (p->check == s.check)
		p->check = 0;
	*now = bpf_ktime_get_ns();
	*r = s.req;
	return true;
}

/* A request taken out of `inflight`: count it in the histograms, remember it
 * for smberr when it may get an error event later, report it when slow.
 * released: completed by the release hook (no response). */
static __always_inline void complete(const struct smb_req *rp, __u64 now, __u64 mid, __u32 status, __s32 rc,
				     bool released, bool status_known)
{
	const struct smb_req r = *rp;

	count(released ? CNT_RELEASED : CNT_DONE);

	__u64 lat = now > r.start_ns ? now - r.start_ns : 0;
	/* Only a request that may get an error event later needs to be found
	 * again (smberr's cmd_err, in the issuing task): one with a status, a
	 * local failure, or part of a compound (whose status the dequeue hook may
	 * not see). Most requests are neither: they skip the LRU update. */
	if (status || rc || (r.flags & AOD_EV_COMPOUND) || !status_known) {
		struct smb_done d = { .latency_ns = lat, .tree_id = r.tree_id, .pid = r.pid, .tid = r.tid };
		__builtin_memcpy(d.comm, r.comm, sizeof(d.comm));
		recent_put(r.session_id, mid, &d);
	}
	if (filter_tgid && r.pid != filter_tgid)
		return;

	__u32 cmd = r.command;
	if (cmd >= AOD_SMB2_COMMANDS)
		return;
	__u32 slot = aod_log2(lat / 1000);
	if (slot >= AOD_HIST_SLOTS)
		slot = AOD_HIST_SLOTS - 1;
	__u32 hk = cmd * AOD_HIST_SLOTS + slot;
	__u64 *h = bpf_map_lookup_elem(&hist, &hk);
	if (h)
		*h += 1;
	if (share_hist_on) {
		struct smb_share_key sk = { .session_id = r.session_id, .tree_id = r.tree_id, .command = cmd };
		aod_share_hist_add(&share_hist, &sk, slot);
	}

	/* A request that failed without a response (released, rc set): an error
	 * event for smbiosnoop, when its errno is tracked. */
	if (released && rc && (err_command_mask & (1u << cmd)) && errno_tracked(rc)) {
		struct aod_event *x = aod_reserve(AOD_TOOL_SMBERR);
		if (x) {
			fill_event(x, &r, now, lat, mid, rc, 0, AOD_TOOL_SMBERR);
			bpf_ringbuf_submit(x, 0);
		}
	}

	__u64 *th = bpf_map_lookup_elem(&thresholds, &cmd);
	if (!th || lat < *th)
		return;

	struct aod_event *e = aod_reserve(AOD_TOOL_SMBSLOWER);
	if (!e)
		return;
	fill_event(e, &r, now, lat, mid, rc, status, AOD_TOOL_SMBSLOWER);
	bpf_ringbuf_submit(e, 0);
	count(CNT_EMITTED);
}

/* A response (dequeue hook or tracepoint): a missing start is counted. */
static __always_inline void finish(__u64 conn, __u64 mid, __u32 status, __s32 rc, bool status_known)
{
	struct smb_req r;
	__u64 now = 0;

	if (!take(conn, mid, &r, &now)) {
		count(CNT_NO_START);
		return;
	}
	complete(&r, now, mid, status, rc, false, status_known);
}

/* ---- mid lifecycle: shared bodies ---- */

static __always_inline void on_alloc(const void *shdr, const void *server, bool direct)
{
	__u64 mid = 0, sesid = 0;
	__u32 tree = 0, hflags = 0, next = 0;
	__u16 cmd = 0;
	__u8 flags = 0;

	if (!shdr || !server)
		return;
	if (direct) {
		/* shdr is a struct smb2_hdr * to the verifier: each load is one
		 * header field. */
		mid = LOAD_AT(__u64, shdr, SMB2_HDR_MESSAGEID);
		sesid = LOAD_AT(__u64, shdr, SMB2_HDR_SESSIONID);
		cmd = LOAD_AT(__u16, shdr, SMB2_HDR_COMMAND);
		hflags = LOAD_AT(__u32, shdr, SMB2_HDR_FLAGS);
		next = LOAD_AT(__u32, shdr, SMB2_HDR_NEXTCOMMAND);
		if (!(hflags & SMB2_FLAGS_ASYNC_COMMAND))
			tree = LOAD_AT(__u32, shdr, SMB2_HDR_TREEID);
	} else {
		/* The header's first 48 bytes in one read (one helper call, not six). */
		__u8 h[SMB2_HDR_SESSIONID + 8];
		if (bpf_probe_read_kernel(h, sizeof(h), shdr))
			return;
		__builtin_memcpy(&mid, h + SMB2_HDR_MESSAGEID, sizeof(mid));
		__builtin_memcpy(&sesid, h + SMB2_HDR_SESSIONID, sizeof(sesid));
		__builtin_memcpy(&cmd, h + SMB2_HDR_COMMAND, sizeof(cmd));
		__builtin_memcpy(&hflags, h + SMB2_HDR_FLAGS, sizeof(hflags));
		__builtin_memcpy(&next, h + SMB2_HDR_NEXTCOMMAND, sizeof(next));
		if (!(hflags & SMB2_FLAGS_ASYNC_COMMAND))
			__builtin_memcpy(&tree, h + SMB2_HDR_TREEID, sizeof(tree));
	}
	if (next || (hflags & SMB2_FLAGS_RELATED_OPERATIONS))
		flags |= AOD_EV_COMPOUND;
	start(direct ? ptr_value(server) : (__u64)server, mid, sesid, tree, cmd, flags, direct);
}

static __always_inline void on_dequeue(struct mid_q_entry___aod *m, bool direct)
{
	__u64 conn, mid;
	__u32 status = 0;
	bool known = false;
	void *resp;

	if (!m)
		return;
	if (direct) {
		resp = m->resp_buf;
		conn = ptr_value(m->server);
		mid = m->mid;
	} else {
		resp = BPF_CORE_READ(m, resp_buf);
		conn = (__u64)BPF_CORE_READ(m, server);
		mid = BPF_CORE_READ(m, mid);
	}
	/* resp_buf is a char * (not a struct): read with the helper either way. */
	if (resp)
		known = !bpf_probe_read_kernel(&status, sizeof(status), resp + SMB2_HDR_STATUS);
	finish(conn, mid, status, 0, known);
}

/* A mid freed while still in `inflight` never got its response through
 * dequeue_mid: the connection was reconnected or torn down, the request was
 * cancelled or failed to go out, or an encrypted read was decrypted by a
 * worker. Its latency is start → release; the kernel counts it too. Most
 * calls find nothing in `inflight`: the state is read only on a hit. */
static __always_inline void on_release(__u64 arg, bool direct)
{
	struct mid_q_entry___aod *m;
	struct smb_req r;
	__u64 conn = 0, mid = 0, now = 0;
	int state;

	if (!arg)
		return;
	if (rel_mode == 2) {
		/* &mid->refcount: a pointer the verifier cannot follow back to
		 * the mid, so read with the helper; server and mid in one read
		 * when they are neighbours (they are on 5.x .. 6.19). */
		m = (void *)(arg - bpf_core_field_offset(struct mid_q_entry___aod, refcount));
		if (bpf_core_field_offset(struct mid_q_entry___aod, mid) ==
		    bpf_core_field_offset(struct mid_q_entry___aod, server) + 8) {
			__u64 sm[2];
			if (bpf_probe_read_kernel(sm, sizeof(sm),
						  (void *)m + bpf_core_field_offset(struct mid_q_entry___aod, server)))
				return;
			conn = sm[0];
			mid = sm[1];
		} else {
			conn = (__u64)BPF_CORE_READ(m, server);
			mid = BPF_CORE_READ(m, mid);
		}
	} else {
		m = (void *)arg;
		if (direct) {
			conn = ptr_value(m->server);
			mid = m->mid;
		} else {
			conn = (__u64)BPF_CORE_READ(m, server);
			mid = BPF_CORE_READ(m, mid);
		}
	}
	if (!take(conn, mid, &r, &now))
		return;
	if (direct && rel_mode != 2)
		state = m->mid_state;
	else
		state = BPF_CORE_READ(m, mid_state);
	__s32 rc = state == MID_RETRY_NEEDED	     ? -11  /* EAGAIN */
		   : state == MID_SHUTDOWN	     ? -112 /* EHOSTDOWN */
		   : state == MID_RESPONSE_MALFORMED ? -5   /* EIO */
						     : 0;
	complete(&r, now, mid, 0, rc, true, true);
}

/* Picks argument idx (0 or 1). Both are loaded at constant offsets first and
 * hidden from the optimizer: otherwise clang folds the choice into one load
 * from ctx + idx * 8, which the verifier rejects (modified ctx pointer). */
#define ARG_PICK(idx, a0, a1)                                 \
	({                                                    \
		__u64 __a0 = (__u64)(a0), __a1 = (__u64)(a1); \
		asm volatile("" : "+r"(__a0), "+r"(__a1));    \
		(void *)((idx) == 1 ? __a1 : __a0);           \
	})

/* ---- variant fentry ---- */

SEC("fentry/smb2_mid_entry_alloc")
int smbslower_alloc_fentry(__u64 *ctx)
{
	on_alloc(ARG_PICK(alloc_arg_shdr, ctx[0], ctx[1]), ARG_PICK(alloc_arg_server, ctx[0], ctx[1]), true);
	return 0;
}

SEC("fentry/dequeue_mid")
int smbslower_done_fentry(__u64 *ctx)
{
	on_dequeue(ARG_PICK(done_arg_mid, ctx[0], ctx[1]), true);
	return 0;
}

/* Attach target set by user space (the name differs between kernels). Two
 * programs, one per argument position: a tracing program may not even read
 * ctx[1] of a one-argument function such as __release_mid(struct kref *). */
SEC("fentry/__release_mid")
int smbslower_release_fentry(__u64 *ctx)
{
	on_release(ctx[0], true);
	return 0;
}

SEC("fentry/__release_mid")
int smbslower_release1_fentry(__u64 *ctx)
{
	on_release(ctx[1], true);
	return 0;
}

/* ---- variant kprobe ---- */

SEC("kprobe/smb2_mid_entry_alloc")
int smbslower_alloc_kprobe(struct pt_regs *ctx)
{
	on_alloc(ARG_PICK(alloc_arg_shdr, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx)),
		 ARG_PICK(alloc_arg_server, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx)), false);
	return 0;
}

SEC("kprobe/dequeue_mid")
int smbslower_done_kprobe(struct pt_regs *ctx)
{
	on_dequeue(ARG_PICK(done_arg_mid, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx)), false);
	return 0;
}

/* Attached by user space to the release function this kernel has. */
SEC("kprobe/__release_mid")
int smbslower_release_kprobe(struct pt_regs *ctx)
{
	on_release((__u64)ARG_PICK(rel_arg, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx)), false);
	return 0;
}

/* ---- variant tracepoint ---- */

SEC("tracepoint/cifs/smb3_cmd_enter")
int smbslower_enter_tp(void *ctx)
{
	__u64 sesid = tp_u64(ctx, tp_off[TP_ENTER][TPF_SESID]);
	start(sesid, tp_u64(ctx, tp_off[TP_ENTER][TPF_MID]), sesid, tp_u32(ctx, tp_off[TP_ENTER][TPF_TID]),
	      tp_u16(ctx, tp_off[TP_ENTER][TPF_CMD]), 0, false);
	return 0;
}

SEC("tracepoint/cifs/smb3_cmd_done")
int smbslower_done_tp(void *ctx)
{
	finish(tp_u64(ctx, tp_off[TP_DONE][TPF_SESID]), tp_u64(ctx, tp_off[TP_DONE][TPF_MID]), 0, 0, true);
	return 0;
}

SEC("tracepoint/cifs/smb3_cmd_err")
int smbslower_err_tp(void *ctx)
{
	finish(tp_u64(ctx, tp_off[TP_ERR][TPF_SESID]), tp_u64(ctx, tp_off[TP_ERR][TPF_MID]),
	       tp_u32(ctx, tp_off[TP_ERR][TPF_STATUS]), (__s32)tp_u32(ctx, tp_off[TP_ERR][TPF_RC]), true);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
