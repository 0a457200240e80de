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

#endif /* AOD_COMMON_BPF_H */
