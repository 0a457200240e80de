/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Minimal CO-RE views of the cifs.ko types aod reads (fs/smb/client/cifsglob.h),
 * the libbpf-tools way: only the fields used, marked preserve_access_index, so
 * libbpf relocates every access against the running kernel's cifs BTF
 * (/sys/kernel/btf/cifs) at load time. The ___aod suffix keeps them apart from
 * vmlinux.h (which has no cifs types on most hosts); libbpf ignores it when
 * matching names. The SMB2 header is wire format (MS-SMB2 2.2.1.2): fixed
 * offsets, no CO-RE needed. */
#ifndef AOD_CIFS_TYPES_H
#define AOD_CIFS_TYPES_H

/* struct mid_q_entry: one request in flight (a "multiplex id"), allocated by
 * smb2_mid_entry_alloc() in the issuing task, dequeued by dequeue_mid() in
 * cifsd when the response arrives. */
struct mid_q_entry___aod {
	struct {
		int refs; /* struct kref / refcount_t: only its offset is used */
	} refcount;
	void *server;	/* struct TCP_Server_Info *: the connection */
	__u64 mid;	/* MessageId of the request */
	void *resp_buf; /* the response's SMB2 header (set before dequeue_mid) */
	__u16 command;	/* __le16 SMB2 command */
	int mid_state;	/* MID_* below */
} __attribute__((preserve_access_index));

/* mid_state values (cifsglob.h, unchanged since 3.x). What the waiting task
 * returns for a mid that ends in these states (cifs_sync_mid_result). */
#define MID_RETRY_NEEDED       0x08 /* connection reset while in flight: -EAGAIN */
#define MID_RESPONSE_MALFORMED 0x10 /* -EIO */
#define MID_SHUTDOWN	       0x20 /* connection shut down: -EHOSTDOWN */

/* SMB2 sync header (64 bytes), byte offsets. */
#define SMB2_HDR_STATUS	     8	/* __le32 NT status (responses) */
#define SMB2_HDR_COMMAND     12 /* __le16 */
#define SMB2_HDR_FLAGS	     16 /* __le32 */
#define SMB2_HDR_NEXTCOMMAND 20 /* __le32, non-zero inside a compound chain */
#define SMB2_HDR_MESSAGEID   24 /* __le64 */
#define SMB2_HDR_TREEID	     36 /* __le32 (sync header) */
#define SMB2_HDR_SESSIONID   40 /* __le64 */

#define SMB2_FLAGS_ASYNC_COMMAND      0x00000002
#define SMB2_FLAGS_RELATED_OPERATIONS 0x00000004

#define SMB2_SESSION_SETUP		1
#define STATUS_MORE_PROCESSING_REQUIRED 0xc0000016

#endif /* AOD_CIFS_TYPES_H */
