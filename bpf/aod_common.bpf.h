/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Maps and helpers every aod tool shares: the ring buffer the reader drains
 * and the per-CPU count of records the ring had no room for. */
#ifndef AOD_COMMON_BPF_H
#define AOD_COMMON_BPF_H

#include "aod_event.h"

/* Size set by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* lost[tool]: records dropped because the ring was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AOD_TOOL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void aod_count_lost(__u32 tool)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &tool);
	if (n)
		*n += 1;
}

/* Reserve a record, or count it lost. Adaptive wakeups (flags 0): the kernel
 * wakes the reader only when it had caught up, so a busy ring costs few wakeups. */
static __always_inline struct aod_event *aod_reserve(__u32 tool)
{
	struct aod_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		aod_count_lost(tool);
	return e;
}

/* A tracepoint record's field at `off` (offsets from the event's format file). */
static __always_inline __u64 tp_u64(void *ctx, __u16 off)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), ctx + off);
	return v;
}
static __always_inline __u32 tp_u32(void *ctx, __u16 off)
{
	__u32 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), ctx + off);
	return v;
}

/* floor(log2(v)), 0 for v <= 1: the histogram slot of a latency in us.
 * A binary search over the bit width (a few instructions, no loop). */
static __always_inline __u32 aod_log2(__u64 v)
{
	__u32 r = 0, s;
	s = (v > 0xffffffffULL) << 5;
	v >>= s;
	r |= s;
	s = (v > 0xffff) << 4;
	v >>= s;
	r |= s;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	return r | (__u32)(v >> 1);
}

/* Per-share latency histograms (for metrics; on only when user space sets
 * its tool's share_hist_on): one entry per share and command, log2 buckets of
 * latency in us as in `hist`, counted with atomic adds. One shared copy, not
 * per CPU: 4096 entries per CPU would cost megabytes on large hosts. An LRU
 * map: the entries of shares gone for long are the ones evicted. */
struct aod_share_hist {
	__u64 slots[AOD_HIST_SLOTS];
};
static const struct aod_share_hist aod_share_hist_zero = {};

static __always_inline void aod_share_hist_add(void *map, const void *key, __u32 slot)
{
	struct aod_share_hist *v = bpf_map_lookup_elem(map, key);
	if (!v) {
		bpf_map_update_elem(map, key, &aod_share_hist_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return;
	}
	/* Hide slot's known range from the compiler so it keeps the mask the
	 * verifier needs (it dropped it after the caller's clamp, which the
	 * verifier could not follow). */
	asm volatile("" : "+r"(slot));
	__sync_fetch_and_add(&v->slots[slot & (AOD_HIST_SLOTS - 1)], 1);
}

#endif /* AOD_COMMON_BPF_H */
