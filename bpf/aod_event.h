/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The one record shared by aod's BPF programs and its TypeScript decoder
 * (src/format/event.ts). A test compares the decoder's offsets with this
 * struct's layout as recorded in the compiled object's BTF. */
#ifndef AOD_EVENT_H
#define AOD_EVENT_H

#define AOD_TASK_COMM_LEN 16
#define AOD_SMB2_COMMANDS 20 /* SMB2_NEGOTIATE (0) .. SMB2_SERVER_TO_CLIENT_NOTIFICATION (19) */
#define AOD_HIST_SLOTS	  32 /* log2(latency in us) buckets */

/* aod_event.tool: the id of the tool that wrote the record, its kind.id in
 * src/tools/<tool>.ts. A new tool defines its id in its own .bpf.c. */
enum aod_tool {
	AOD_TOOL_SMBSLOWER = 0, /* latency */
	AOD_TOOL_SMBERR = 1,	/* errors (config name: smbiosnoop) */
};
#define AOD_TOOL_MAX 16 /* slots of the lost[] counter: ids 0..15 */

enum aod_event_flags {
	AOD_EV_COMPOUND = 1 << 0, /* part of a compound request */
	AOD_EV_NO_START = 1 << 1, /* start not seen: latency unknown (0) */
	AOD_EV_CONNECT = 1 << 2,  /* connection-level failure outside the request
				   * lifecycle (smberr: cifs:smb3_connect_err, or an
				   * operation failed locally while the connection
				   * was down): no mid, no NT status, latency 0 */
};

struct aod_event {
	__u64 time_ns;	  /* completion, bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 latency_ns; /* completion - start */
	__u64 session_id;
	__u64 mid;
	__u32 tree_id;
	__u32 pid;     /* tgid of the task that issued the request */
	__u32 tid;     /* its thread id */
	__s32 rc;      /* negative errno (0 on success) */
	__u32 status;  /* NT status from the server (0 on success) */
	__u16 command; /* SMB2 command id */
	__u8 tool;     /* enum aod_tool */
	__u8 flags;    /* enum aod_event_flags */
	char comm[AOD_TASK_COMM_LEN];
};

#endif /* AOD_EVENT_H */
