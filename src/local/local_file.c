/*
 * local_file.c - local: deliver to a "/file" destination
 *
 * A file named in an alias, a .forward or an :include: file (where
 * allow_mail_to_files permits, local_expand.c) is appended to as an mbox
 * file, with the rights of whoever named it (local_privs.c, never root):
 * the From_ line, the Return-Path:, X-Original-To: and (with "file" in
 * prepend_delivered_header) Delivered-To: headers, the message with
 * >From quoting, an empty line. It is locked as a mailbox is
 * (mailbox_delivery_lock; a lock directory we cannot write into is not
 * an error), bounded by mailbox_size_limit, and a missing file is
 * created with mode 0600. A path ending in '/' is a Maildir. /dev/null
 * takes everything.
 *
 * The outcome is reported with to= the path, "delivered to file: PATH"
 * or the writer's reason.
 *
 * SECURITY: mbox_deliver() does not follow a symbolic link in the last
 * component and refuses hard-linked and non-regular files; what the
 * rights cannot write fails (permanently: as Postfix, the mail is
 * returned).
 */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "local.h"
#include "mbox.h"
#include "msg.h"
#include "params.h"

void
local_file(struct local_state *st, const char *path,
    const struct local_rights *rights)
{
	struct dot_lock_cfg cfg = {
		.tries = var_deliver_lock_attempts,
		.delay_ms = (unsigned)var_deliver_lock_delay * 1000U,
		.stale_sec = var_stale_lock_time,
	};
	struct mbox_opts opts = {
		.mode = 0600,
		.size_limit = var_mailbox_size_limit,
		.lock = &cfg,
	};
	struct mbox_msg msg = {
		.sender = local_msg_sender(st->dl->req),
		.next = local_msg_next,
	};
	struct local_src *src;
	struct buf why;
	char **headers;
	int rc;

	rights = local_privs_safe(rights);
	if (strcmp(path, "/dev/null") == 0) {
		local_status(st, DELIVER_SENT, path, "2.0.0",
		    "delivered to file: /dev/null");
		return;
	}
	if (path[strlen(path) - 1] == '/') {
		local_maildir(st, path, rights, path);
		return;
	}
	buf_init(&why, 128);
	if (local_dot_lock)
		opts.flags |= MBOX_FLAG_DOT_LOCK | MBOX_FLAG_DOT_LOCK_MAY_FAIL;
	headers = local_msg_headers(st, LOCAL_CLASS_FILE);
	msg.headers = (const char *const *)headers;
	msg.ctx = src = local_msg_open(st->dl->req);
	if (local_privs_enter(rights) < 0) {
		(void)mbox_fail_errno(&why, errno, "cannot switch to uid %lu",
		    (unsigned long)rights->uid);
		rc = MBOX_TEMP;
	} else {
		rc = mbox_deliver(path, &opts, &msg, &why);
		local_privs_leave();
	}
	switch (rc) {
	case MBOX_OK:
		local_statusf(st, DELIVER_SENT, path, "2.0.0",
		    "delivered to file: %s", path);
		break;
	case MBOX_PERM:
		local_status(st, DELIVER_BOUNCE, path, "5.2.0", why.data);
		break;
	case MBOX_SRC_ERROR:
		msg_warn("%s: %s", st->dl->req->queue_id, why.data);
		/* FALLTHROUGH */
	default:
		local_status(st, DELIVER_DEFER, path, "4.2.0", why.data);
		break;
	}
	local_msg_close(src);
	local_msg_headers_free(headers);
	buf_fini(&why);
}
