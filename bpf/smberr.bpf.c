// SPDX-License-Identifier: GPL-2.0 OR MIT
/* smberr (config name smbiosnoop): SMB2 requests the server failed.
 *
 * cifs decodes every failed response in map_smb2_to_linux_error(), which
 * fires cifs:smb3_cmd_err with the NT status and the errno it maps to. That
 * tracepoint exists on every kernel aod supports and needs no BTF, so it is
 * the one hook. It often runs in cifsd (async reads and writes), so the task
 * that issued the request comes from smbslower's `recent` map (shared with
 * this object by user space), keyed by (session id, mid); without a match the
 * current task is reported. Requests that fail locally, without a response
 * (reconnect: EAGAIN, shutdown: EHOSTDOWN), are reported by smbslower's
 * release hook as smbiosnoop events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "smb_shared.bpf.h"
#include "cifs_types.h"

const volatile __u16 tp_off[TPF_COUNT] = { 8, 16, 24, 32, 40, 44 };
/* Report only this process (tgid); 0 = all. */
const volatile __u32 filter_tgid = 0;
/* Bit per SMB2 command to report. */
const volatile __u32 command_mask = 0xffffffff;
/* Keeps struct aod_event in the BTF (see smbslower.bpf.c). */
const volatile struct aod_event *const aod_event_btf_anchor = 0;

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

	struct smb_done_key dk = { .session_id = sesid, .mid = mid };
	struct smb_done *d = bpf_map_lookup_elem(&recent, &dk);
	if (d) {
		if (d->err_seen)
			return 0; /* reported already */
		d->err_seen = 1; /* racy by design: at worst a rare duplicate */
	}
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = d ? d->pid : id >> 32;
	if (filter_tgid && pid != filter_tgid)
		return 0;

	struct aod_event *e = aod_reserve(AOD_TOOL_SMBERR);
	if (!e)
		return 0;
	e->time_ns = bpf_ktime_get_ns();
	e->session_id = sesid;
	e->mid = mid;
	e->rc = rc;
	e->status = status;
	e->command = cmd;
	e->tool = AOD_TOOL_SMBERR;
	e->flags = 0;
	if (d) {
		e->latency_ns = d->latency_ns;
		e->tree_id = d->tree_id;
		e->pid = d->pid;
		e->tid = d->tid;
		bpf_probe_read_kernel(e->comm, sizeof(e->comm), d->comm);
	} else {
		e->latency_ns = 0;
		e->flags = AOD_EV_NO_START;
		e->tree_id = tp_u32(ctx, tp_off[TPF_TID]);
		e->pid = id >> 32;
		e->tid = (__u32)id;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
