// SPDX-License-Identifier: GPL-2.0 OR MIT
/* smbconn: trouble with the connection itself rather than with one request.
 *
 * cifs traces its connection life in tracepoints that cost nothing between
 * events: smb3_reconnect (the socket was lost and is being rebuilt),
 * smb3_connect_err (a connect attempt failed), smb3_ses_expired (the server
 * said the session expired), smb3_credit_timeout (a request waited too long
 * for credits) and smb3_tcon (a tree connect; reported only when it failed).
 * Their layouts differ between kernels (the host name is a char * on old ones,
 * a __data_loc string on newer ones), so user space reads each event's format
 * file and fills `conn_desc` with its offsets before attaching; an event this
 * kernel lacks is not loaded (src/tools/smbconn.ts).
 *
 * Each record is a struct aod_event (the kind in `command`, the errno in
 * `rc`, the session and tree ids where the event has them, the connection id
 * in `mid`) followed by a tail with the server's name, the share (UNC) and the
 * server's address, as the kernel gives them. The events are rare, so the
 * strings travel with them instead of in a side map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "aod_common.bpf.h"

#define SMBCONN_TOOL 2 /* src/tools/smbconn.ts: smbconnKind.id */
#define CONN_SLOTS   8

/* kind_mask[0]: bit per conn kind to report (the order of CONN_KINDS in
 * src/tools/smbconn.ts). A map, not rodata: a config reload refills it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kind_mask SEC(".maps");

enum str_loc {
	STR_NONE = 0,
	STR_DATA_LOC = 1, /* __data_loc char[]: u32, offset in the low 16 bits */
	STR_PTR = 2,	  /* char *: a kernel pointer */
};

/* One hooked event's fields (offsets in its record; 0 = absent: offset 0 is
 * common_type, never one of these). */
struct conn_desc {
	__u16 conn_id_off;
	__u16 sesid_off;
	__u16 tid_off;
	__u16 rc_off;
	__u16 host_off;
	__u16 unc_off;
	__u16 addr_off;
	__u8 host_loc; /* enum str_loc */
	__u8 unc_loc;
	__u8 kind;
	__u8 only_failed; /* report only when rc != 0 (smb3_tcon) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONN_SLOTS);
	__type(key, __u32);
	__type(value, struct conn_desc);
} conn_desc SEC(".maps");

struct conn_tail {
	char server[64];
	char share[96];
	__u8 addr[28]; /* the start of a sockaddr_storage: family, port, IPv4 or IPv6 */
	__u8 _pad[4];
};

struct conn_event {
	struct aod_event ev;
	struct conn_tail tail;
};

/* Keep the record's structs in the BTF for the layout test (see smbslower.bpf.c). */
const volatile struct conn_event *const conn_event_btf_anchor = 0;

static __always_inline void read_str(char *dst, __u32 size, void *ctx, __u16 off, __u8 loc)
{
	if (!off || loc == STR_NONE)
		return;
	if (loc == STR_DATA_LOC) {
		__u32 l = 0;
		bpf_probe_read_kernel(&l, sizeof(l), ctx + off);
		bpf_probe_read_kernel_str(dst, size, ctx + (l & 0xffff));
	} else {
		const char *p = 0;
		bpf_probe_read_kernel(&p, sizeof(p), ctx + off);
		if (p)
			bpf_probe_read_kernel_str(dst, size, p);
	}
}

static __always_inline int conn_event(void *ctx, __u32 slot)
{
	struct conn_desc *d = bpf_map_lookup_elem(&conn_desc, &slot);
	__u32 zero = 0;
	__u32 *mask = bpf_map_lookup_elem(&kind_mask, &zero);
	if (!d || !mask || !(*mask & (1u << (d->kind & 31))))
		return 0;
	__s32 rc = 0;
	if (d->rc_off)
		bpf_probe_read_kernel(&rc, sizeof(rc), ctx + d->rc_off);
	if (d->only_failed && rc == 0)
		return 0;

	struct conn_event *c = bpf_ringbuf_reserve(&events, sizeof(*c), 0);
	if (!c) {
		aod_count_lost(SMBCONN_TOOL);
		return 0;
	}
	struct aod_event *e = &c->ev;
	__u64 id = bpf_get_current_pid_tgid();
	__builtin_memset(&c->tail, 0, sizeof(c->tail));
	e->time_ns = bpf_ktime_get_ns();
	e->latency_ns = 0;
	e->session_id = 0;
	e->mid = 0;
	e->tree_id = 0;
	if (d->sesid_off)
		bpf_probe_read_kernel(&e->session_id, sizeof(e->session_id), ctx + d->sesid_off);
	if (d->conn_id_off)
		bpf_probe_read_kernel(&e->mid, sizeof(e->mid), ctx + d->conn_id_off);
	if (d->tid_off)
		bpf_probe_read_kernel(&e->tree_id, sizeof(e->tree_id), ctx + d->tid_off);
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->rc = rc;
	e->status = 0;
	e->command = d->kind;
	e->tool = SMBCONN_TOOL;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	read_str(c->tail.server, sizeof(c->tail.server), ctx, d->host_off, d->host_loc);
	read_str(c->tail.share, sizeof(c->tail.share), ctx, d->unc_off, d->unc_loc);
	if (d->addr_off)
		bpf_probe_read_kernel(c->tail.addr, sizeof(c->tail.addr), ctx + d->addr_off);
	bpf_ringbuf_submit(c, 0);
	return 0;
}

/* One program per event (a tracepoint program cannot tell which event fired;
 * see smberr.bpf.c). The slot is the event's index in CONN_EVENTS. */
#define CONN(ev, slot)                        \
	SEC("tracepoint/cifs/" #ev)           \
	int smbconn_##ev(void *ctx)           \
	{                                     \
		return conn_event(ctx, slot); \
	}
CONN(smb3_reconnect, 0)
CONN(smb3_connect_err, 1)
CONN(smb3_ses_expired, 2)
CONN(smb3_credit_timeout, 3)
CONN(smb3_tcon, 4)

char LICENSE[] SEC("license") = "Dual MIT/GPL";
