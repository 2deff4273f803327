/*
 * local_resubmit.c - local: forward mail to addresses that are not ours
 *
 * Addresses that aliases, .forward or include files expand to and that
 * do not resolve to this transport are collected per envelope sender
 * while a recipient is expanded (local_resubmit_add()): the original
 * sender, or owner-NAME@$myorigin for what alias NAME expanded to when
 * an owner-NAME alias exists (local_alias.c). Once the recipient is
 * done, local_resubmit_flush() hands one new message per sender to
 * cleanup (public/$cleanup_service_name), as Postfix's local(8) does:
 *
 *	TIME		the original arrival time
 *	ATTR		rewrite_context=local, log_ident=<original queue ID>,
 *			and the original's envelope_id, dsn_ret, body_type
 *	FROM		the sender
 *	(ORCP? NOTIFY? RCPT)+	the addresses, each with the DSN ORCPT and
 *			NOTIFY of the recipient being delivered
 *	MESG		"Delivered-To: <recipient>" first when
 *			prepend_delivered_header has "forward", then the
 *			message content as it is
 *	XTRA END
 *
 * When cleanup has the message queued, each address is reported sent,
 * "forwarded as NEWID". A temporary failure defers them all; a refusal
 * (too many hops, too big, ...) bounces them all with cleanup's reason.
 * The Delivered-To: header is what makes a loop through other hosts
 * show up when the message comes back (local.c); Received: headers
 * count hops at cleanup (hopcount_limit).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "qfile.h"
#include "rec.h"
#include "str.h"

void
local_resubmit_add(struct local_state *st, const char *addr)
{
	struct local_delivery *dl = st->dl;
	const char *sender = st->owner != NULL ? st->owner
	    : local_msg_sender(dl->req);
	struct buf key;
	size_t i;

	buf_init(&key, 64);
	buf_set(&key, addr);
	if (!local_once(dl, "forward", str_lower(key.data))) {
		buf_fini(&key);
		return;
	}
	buf_fini(&key);
	for (i = 0; i < dl->fwd_count; i++)
		if (strcmp(dl->fwd[i].sender, sender) == 0)
			break;
	if (i == dl->fwd_count) {
		dl->fwd = xreallocarray(dl->fwd, dl->fwd_count + 1,
		    sizeof(*dl->fwd));
		dl->fwd[i].sender = xstrdup(sender);
		dl->fwd[i].rcpts = argv_new();
		dl->fwd_count++;
	}
	argv_add(dl->fwd[i].rcpts, addr);
}

/* Report one outcome for every address of fwd. */
static void
local_resubmit_report(struct local_delivery *dl, struct local_fwd *fwd,
    enum deliver_action action, const char *dsn, const char *text)
{
	struct local_state st = {.dl = dl, .addr = dl->req->rcpts[dl->index]
	    .addr};
	size_t i;

	for (i = 0; i < fwd->rcpts->argc; i++)
		local_status(&st, action, fwd->rcpts->argv[i], dsn, text);
}

/* Copy the message content to cleanup. Returns 0, or -1 with why. */
static int
local_resubmit_content(struct local_delivery *dl, struct cleanup_clnt *c,
    struct buf *why)
{
	struct local_src *src = local_msg_open(dl->req);
	struct buf line;
	int rc, ret = 0;

	buf_init(&line, 256);
	if ((local_deliver_hdr & LOCAL_CLASS_FORWARD) != 0)
		(void)cleanup_clnt_printf(c, REC_TYPE_NORM, "Delivered-To: %s",
		    dl->delivered);
	while ((rc = local_msg_next(src, &line, why)) != MBOX_SRC_END) {
		if (rc < 0) {
			ret = -1;
			break;
		}
		if (cleanup_clnt_put(c, rc == MBOX_SRC_LINE ? REC_TYPE_NORM
		    : REC_TYPE_CONT, line.data, line.len) < 0)
			break;
	}
	local_msg_close(src);
	buf_fini(&line);
	return ret;
}

static void
local_resubmit_send(struct local_delivery *dl, struct local_fwd *fwd)
{
	static const char *const copied[] = {
		MAIL_ATTR_ENVID, MAIL_ATTR_RET, MAIL_ATTR_BODY_TYPE,
	};
	const struct deliver_request *req = dl->req;
	const struct qfile_rcpt *orig = req->rcpts[dl->index].rcpt;
	struct cleanup_clnt *c;
	struct buf why, text;
	const char *value;
	size_t i;
	int status;

	buf_init(&why, 128);
	buf_init(&text, 128);
	if ((c = cleanup_clnt_open(NULL, CLEANUP_FLAG_NONE, &why)) == NULL) {
		buf_printf(&text, "cannot forward: %s", why.data);
		local_resubmit_report(dl, fwd, DELIVER_DEFER, "4.3.0",
		    text.data);
		goto out;
	}
	(void)cleanup_clnt_printf(c, REC_TYPE_TIME, "%lld %ld",
	    (long long)req->qf.arrival.tv_sec, (long)req->qf.arrival.tv_usec);
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
	    MAIL_ATTR_RWR_CONTEXT, "local");
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
	    MAIL_ATTR_LOG_IDENT, req->queue_id);
	for (i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		if ((value = qfile_attr(&req->qf, copied[i])) != NULL)
			(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
			    copied[i], value);
	(void)cleanup_clnt_puts(c, REC_TYPE_FROM, fwd->sender);
	for (i = 0; i < fwd->rcpts->argc; i++) {
		if (orig->orcpt != NULL)
			(void)cleanup_clnt_puts(c, REC_TYPE_ORCP, orig->orcpt);
		if (orig->notify != NULL)
			(void)cleanup_clnt_puts(c, REC_TYPE_NOTIFY,
			    orig->notify);
		(void)cleanup_clnt_puts(c, REC_TYPE_RCPT,
		    fwd->rcpts->argv[i]);
	}
	(void)cleanup_clnt_put(c, REC_TYPE_MESG, "", 0);
	if (local_resubmit_content(dl, c, &why) < 0) {
		/* Hang up before END: cleanup drops its file. */
		msg_warn("%s: %s", req->queue_id, why.data);
		buf_printf(&text, "cannot read the message: %s", why.data);
		local_resubmit_report(dl, fwd, DELIVER_DEFER, "4.3.0",
		    text.data);
		goto out;
	}
	(void)cleanup_clnt_put(c, REC_TYPE_XTRA, "", 0);
	status = cleanup_clnt_finish(c, &why);
	if (status == CLEANUP_STAT_OK) {
		buf_printf(&text, "forwarded as %s", cleanup_clnt_queue_id(c));
		local_resubmit_report(dl, fwd, DELIVER_SENT, "2.0.0",
		    text.data);
	} else if ((status & (CLEANUP_STAT_DEFER | CLEANUP_STAT_WRITE
	    | CLEANUP_STAT_BAD)) != 0) {
		buf_printf(&text, "cannot forward: %s", why.len ? why.data
		    : "cleanup failed");
		local_resubmit_report(dl, fwd, DELIVER_DEFER, "4.3.0",
		    why.len && why.data[0] == '4' ? why.data : text.data);
	} else {
		local_resubmit_report(dl, fwd, DELIVER_BOUNCE, "5.3.0",
		    why.len ? why.data : "message refused by cleanup");
	}
out:
	cleanup_clnt_free(c);
	buf_fini(&why);
	buf_fini(&text);
}

void
local_resubmit_flush(struct local_delivery *dl)
{
	size_t i;

	for (i = 0; i < dl->fwd_count; i++)
		local_resubmit_send(dl, &dl->fwd[i]);
}

void
local_resubmit_free(struct local_delivery *dl)
{
	size_t i;

	for (i = 0; i < dl->fwd_count; i++) {
		free(dl->fwd[i].sender);
		argv_free(dl->fwd[i].rcpts);
	}
	free(dl->fwd);
	dl->fwd = NULL;
	dl->fwd_count = 0;
}
