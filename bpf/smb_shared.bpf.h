/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* State smbslower and smberr share. smbslower owns it; user space hands the
 * same maps to smberr (bpf_map__reuse_fd), so both tools use one ring buffer
 * and smberr can name the task that issued a failed request even when the
 * error is decoded in cifsd. The definitions must stay identical in both
 * objects (reuse_fd checks type, key/value size and max_entries). */
#ifndef AOD_SMB_SHARED_BPF_H
#define AOD_SMB_SHARED_BPF_H

#include "aod_common.bpf.h"

/* A request in flight. conn is the connection (struct TCP_Server_Info *) with
 * the mid-lifecycle hooks, the session id with the tracepoint hooks. */
struct smb_req_key {
	__u64 conn;
	__u64 mid;
};

struct smb_req {
	__u64 start_ns;
	__u64 session_id;
	__u32 tree_id;
	__u32 pid;
	__u32 tid;
	__u16 command;
	__u8 flags;
	__u8 _pad;
	char comm[AOD_TASK_COMM_LEN];
};

/* A request that completed recently, by (session id, mid): what smberr needs
 * to report the issuer and latency of an error decoded later. */
struct smb_done_key {
	__u64 session_id;
	__u64 mid;
};

struct smb_done {
	__u64 latency_ns;
	__u32 tree_id;
	__u32 pid;
	__u32 tid;
	__u32 err_seen; /* smberr reported it already (the kernel may map an error twice) */
	char comm[AOD_TASK_COMM_LEN];
};

/* Requests in flight: an array slot per (conn, mid), not a hash map. An array
 * lookup is a few instructions the verifier inlines; a hash map update,
 * lookup and delete per request were most of smbslower's cost. mids are
 * sequential per connection, so slot_of() puts one connection's requests
 * in consecutive slots: they share a slot only 16384 mids apart. A slot still
 * holding a request when another takes it (a request that never completed, or
 * two connections' mids meeting) loses the older one (counted as evicted; its
 * completion counts as one without a start), as the LRU map evicted before.
 *
 * The slot stores its key, and `check`, a hash over the key and the request
 * (0 = empty), so a completion never takes another request's start: a slot
 * read while another CPU rewrites it does not match its hash and is dropped
 * (counted as torn). That needs no atomic instruction (cmpxchg would need
 * kernel 5.12; aod supports 5.8) and no lock (tracing programs cannot take a
 * bpf_spin_lock). */
#define SMB_INFLIGHT_SLOTS 16384

struct smb_slot {
	__u64 check;
	struct smb_req_key key;
	struct smb_req req;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SMB_INFLIGHT_SLOTS);
	__type(key, __u32);
	__type(value, struct smb_slot);
} inflight SEC(".maps");

/* The slot of (owner, mid) among `slots` (a power of two): one owner's
 * sequential mids in consecutive slots, owners spread apart. */
static __always_inline __u32 slot_of(__u64 owner, __u64 mid, __u32 slots)
{
	return (__u32)(mid + ((owner * 0x9E3779B97F4A7C15ULL) >> 40)) & (slots - 1);
}

/* A slot's check: a hash over the `words` 64-bit words after the check word,
 * never 0; word `partial` (if any) counts only its low 32 bits. */
static __always_inline __u64 words_check(const __u64 *w, int words, int partial)
{
	__u64 h = 0x9E3779B97F4A7C15ULL;

#pragma unroll
	for (int i = 1; i <= words; i++) {
		__u64 x = i == partial ? w[i] & 0xffffffffULL : w[i];

		h = (h ^ x) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 29;
	}
	return h | 1;
}

static __always_inline __u64 slot_check(const struct smb_slot *s)
{
	return words_check((const __u64 *)s, sizeof(*s) / 8 - 1, 0);
}

/* Requests that completed recently and may still get an error event: an
 * array slot per (session, mid) like `inflight` (an LRU hash update per
 * completion cost as much as the rest of the completion), the newest in its
 * slot. The check covers the key and the request but not err_seen, which
 * smberr sets in place. */
#define SMB_RECENT_SLOTS 4096

struct smb_recent_slot {
	__u64 check;
	struct smb_done_key key;
	struct smb_done done;
};
_Static_assert(__builtin_offsetof(struct smb_recent_slot, done.err_seen) == 5 * 8 + 4, "recent_check() skips err_seen");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SMB_RECENT_SLOTS);
	__type(key, __u32);
	__type(value, struct smb_recent_slot);
} recent SEC(".maps");

/* word 5 is tid and err_seen: err_seen left out */
static __always_inline __u64 recent_check(const struct smb_recent_slot *s)
{
	return words_check((const __u64 *)s, sizeof(*s) / 8 - 1, 5);
}

/* smbslower: remember a completed request for smberr. */
static __always_inline void recent_put(__u64 session_id, __u64 mid, const struct smb_done *d)
{
	__u32 idx = slot_of(session_id, mid, SMB_RECENT_SLOTS);
	struct smb_recent_slot s = { .key = { .session_id = session_id, .mid = mid }, .done = *d };

	s.done.err_seen = 0;
	s.check = recent_check(&s);
	struct smb_recent_slot *p = bpf_map_lookup_elem(&recent, &idx);
	if (p)
		*p = s;
}

/* smberr: the completed request (session, mid) into *out, and its slot (for
 * err_seen); NULL when it is not there or its slot is being rewritten. */
static __always_inline struct smb_recent_slot *recent_find(__u64 session_id, __u64 mid, struct smb_done *out)
{
	__u32 idx = slot_of(session_id, mid, SMB_RECENT_SLOTS);
	struct smb_recent_slot *p = bpf_map_lookup_elem(&recent, &idx);

	if (!p || !p->check || p->key.session_id != session_id || p->key.mid != mid)
		return NULL;
	struct smb_recent_slot s = *p;
	if (s.key.session_id != session_id || s.key.mid != mid || recent_check(&s) != s.check)
		return NULL;
	*out = s.done;
	return p;
}

/* The fields of an event that describe the request and its outcome; the
 * issuer (tree, pid, tid, comm) comes from one of the event_issuer_* helpers
 * below, or fill_event() does both. */
static __always_inline void event_outcome(struct aod_event *e, __u64 now, __u64 lat, __u64 session_id, __u64 mid,
					  __s32 rc, __u32 status, __u16 command, __u8 tool, __u8 flags)
{
	e->time_ns = now;
	e->latency_ns = lat;
	e->session_id = session_id;
	e->mid = mid;
	e->rc = rc;
	e->status = status;
	e->command = command;
	e->tool = tool;
	e->flags = flags;
}

/* Issuer: the current task (no record of the request's start). */
static __always_inline void event_issuer_current(struct aod_event *e, __u32 tree_id)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->tree_id = tree_id;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* Issuer: as recorded in `recent` when the request completed. */
static __always_inline void event_issuer_done(struct aod_event *e, const struct smb_done *d)
{
	e->tree_id = d->tree_id;
	e->pid = d->pid;
	e->tid = d->tid;
	bpf_probe_read_kernel(e->comm, sizeof(e->comm), d->comm);
}

/* An event for a finished request, from what smbslower's start remembered
 * about it in `inflight`. */
static __always_inline void fill_event(struct aod_event *e, const struct smb_req *r, __u64 now, __u64 lat, __u64 mid,
				       __s32 rc, __u32 status, __u8 tool)
{
	event_outcome(e, now, lat, r->session_id, mid, rc, status, r->command, tool, r->flags);
	e->tree_id = r->tree_id;
	e->pid = r->pid;
	e->tid = r->tid;
	__builtin_memcpy(e->comm, r->comm, sizeof(e->comm));
}

#define AOD_ERRNO_MAX 1024

/* errnos[n] != 0: errno n is tracked (from the config's error rules). Filled
 * by user space only when errors are reported; all zero otherwise. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AOD_ERRNO_MAX);
	__type(key, __u32);
	__type(value, __u8);
} errnos SEC(".maps");

static __always_inline bool errno_tracked(__s32 rc)
{
	__u32 err = rc < 0 ? -rc : rc;
	if (err >= AOD_ERRNO_MAX)
		err = AOD_ERRNO_MAX - 1;
	__u8 *on = bpf_map_lookup_elem(&errnos, &err);
	return on && *on;
}

/* Tracepoint field offsets, read by user space from
 * /sys/kernel/tracing/events/cifs/<event>/format (defaults: 6.1 .. 6.12). */
enum { TPF_TID, TPF_SESID, TPF_CMD, TPF_MID, TPF_STATUS, TPF_RC, TPF_COUNT };
enum { TP_ENTER, TP_DONE, TP_ERR, TP_COUNT };

/* tp_u64, tp_u32: aod_common.bpf.h */
static __always_inline __u16 tp_u16(void *ctx, __u16 off)
{
	__u16 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), ctx + off);
	return v;
}

#endif /* AOD_SMB_SHARED_BPF_H */
