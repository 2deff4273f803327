/*
 * cleanup_envelope.c - cleanup: the envelope records before MESG
 *
 * cleanup_envelope() takes one record at a time, in the order of
 * cleanup_proto.h: an optional TIME first (else the arrival time of the
 * queue file is used), ATTR records, exactly one FROM, then
 * (ORCP? NOTIFY? RCPT)*, then MESG. The queue file gets the same order
 * with TIME always present.
 *
 *	ATTR	"name=value"; the names of proto_names.h (MAIL_ATTR_*) are
 *		kept, each at most once; an unknown name is dropped with a
 *		warning. rewrite_context must be "local" or "remote"
 *		(default local; it decides what happens to headers, see
 *		cleanup_message.c), submit_uid a decimal number.
 *	FROM	put in canonical form by trivial-rewrite, always in the
 *		local context: an incomplete envelope address means a
 *		local one, whoever sent it ("joe" is joe@$myorigin, also
 *		for bounces), as in Postfix; the null sender stays empty.
 *	NOTIFY	DSN_NOTIFY_* bits in decimal (cleanup_proto.h).
 *	RCPT	likewise; a recipient already seen with the same ORCP and
 *		NOTIFY is dropped (the first duplicate_filter_limit distinct
 *		ones are remembered).
 *	MESG	without any recipient the message is refused with
 *		CLEANUP_STAT_RCPT ("5.1.0 no recipients").
 *
 * A temporary failure of trivial-rewrite refuses the message with
 * CLEANUP_STAT_DEFER ("4.3.0 address rewriting is temporarily
 * unavailable"); no further addresses are rewritten then.
 *
 * SECURITY: the records come from the client. Anything out of order, a
 * second FROM or TIME, a NUL byte, or a control character in an address
 * (which would end up in a header line) is a malformed request.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "buf.h"
#include "cleanup.h"
#include "cleanup_proto.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "qfile.h"
#include "rec.h"
#include "rewrite_clnt.h"
#include "str.h"

/* The attribute names a client may send. */
static const char *const cleanup_attr_names[] = {
	MAIL_ATTR_LOG_IDENT,
	MAIL_ATTR_RWR_CONTEXT,
	MAIL_ATTR_CLIENT_NAME,
	MAIL_ATTR_CLIENT_ADDR,
	MAIL_ATTR_HELO_NAME,
	MAIL_ATTR_PROTO_NAME,
	MAIL_ATTR_SUBMIT_UID,
	MAIL_ATTR_FULL_NAME,
	MAIL_ATTR_ENVID,
	MAIL_ATTR_RET,
	MAIL_ATTR_BODY_TYPE,
};

#define CLEANUP_NATTRS	(sizeof(cleanup_attr_names) / sizeof(char *))

void
cleanup_envelope_init(struct cleanup_state *st)
{
	st->attrs_seen = htable_new(16);
	st->rewrite_context = REWRITE_LOCAL;
	st->submit_uid = -1;
	buf_init(&st->full_name, 32);
	buf_init(&st->sender, 64);
	buf_init(&st->orcp, 64);
	buf_init(&st->notify, 16);
	st->dups = htable_new(64);
}

void
cleanup_envelope_fini(struct cleanup_state *st)
{
	htable_free(st->attrs_seen, NULL);
	htable_free(st->dups, NULL);
	buf_fini(&st->full_name);
	buf_fini(&st->sender);
	buf_fini(&st->orcp);
	buf_fini(&st->notify);
}

/* An address or DSN field: no NUL, no control characters. */
static bool
cleanup_text_ok(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

/* Write the TIME record once, before anything else of the envelope. */
static void
cleanup_time(struct cleanup_state *st)
{
	if (st->time_done)
		return;
	buf_reset(&st->tmp);
	buf_printf(&st->tmp, "%ld %ld", (long)st->arrival.tv_sec,
	    (long)st->arrival.tv_usec);
	cleanup_out(st, REC_TYPE_TIME, st->tmp.data, st->tmp.len);
	st->time_done = true;
}

static int
cleanup_env_time(struct cleanup_state *st, const char *data, size_t len)
{
	struct timeval tv;

	if (st->time_done)
		return cleanup_bad(st, "misplaced time record");
	if (qfile_parse_time(data, len, &tv) < 0)
		return cleanup_bad(st, "malformed time record");
	st->arrival = tv;
	cleanup_out(st, REC_TYPE_TIME, data, len);
	st->time_done = true;
	return CLEANUP_REC_MORE;
}

static bool
cleanup_attr_known(const char *name)
{
	size_t i;

	for (i = 0; i < CLEANUP_NATTRS; i++)
		if (strcmp(name, cleanup_attr_names[i]) == 0)
			return true;
	return false;
}

/* Act on an attribute cleanup itself uses; false if its value is bad. */
static bool
cleanup_attr_use(struct cleanup_state *st, const char *name,
    const char *value)
{
	long uid;

	if (strcmp(name, MAIL_ATTR_RWR_CONTEXT) == 0) {
		if (strcmp(value, REWRITE_LOCAL) == 0)
			st->rewrite_context = REWRITE_LOCAL;
		else if (strcmp(value, REWRITE_REMOTE) == 0)
			st->rewrite_context = REWRITE_REMOTE;
		else
			return false;
	} else if (strcmp(name, MAIL_ATTR_SUBMIT_UID) == 0) {
		if (str_to_long(value, &uid) < 0 || uid < 0)
			return false;
		st->submit_uid = uid;
	} else if (strcmp(name, MAIL_ATTR_FULL_NAME) == 0) {
		buf_set(&st->full_name, value);
	}
	return true;
}

static int
cleanup_env_attr(struct cleanup_state *st, const char *data, size_t len)
{
	const char *eq;
	char *name;
	size_t i;
	int ret = CLEANUP_REC_MORE;

	if (st->have_sender)
		return cleanup_bad(st, "attribute record after the sender");
	if (memchr(data, 0, len) != NULL
	    || (eq = memchr(data, '=', len)) == NULL || eq == data)
		return cleanup_bad(st, "malformed attribute record");
	name = xstrndup(data, (size_t)(eq - data));
	for (i = 0; name[i] != 0; i++) {
		if ((name[i] < 'a' || name[i] > 'z') && name[i] != '_') {
			ret = cleanup_bad(st, "malformed attribute name");
			goto out;
		}
	}
	if (!cleanup_attr_known(name)) {
		msg_warn("%s: unknown attribute %.100s dropped",
		    st->queue_id.data, name);
		goto out;
	}
	if (htable_get(st->attrs_seen, name) != NULL) {
		ret = cleanup_bad(st, "duplicate attribute %s", name);
		goto out;
	}
	(void)htable_put(st->attrs_seen, name, st);
	if (!cleanup_attr_use(st, name, eq + 1)) {
		ret = cleanup_bad(st, "bad value for attribute %s", name);
		goto out;
	}
	cleanup_time(st);
	cleanup_out(st, REC_TYPE_ATTR, data, len);
out:
	free(name);
	return ret;
}

/*
 * Canonical form of addr into result (the null address stays empty).
 * After a problem the address is kept as it is: the message is refused
 * anyway, and trivial-rewrite is not asked again.
 */
static void
cleanup_rewrite(struct cleanup_state *st, const char *addr,
    struct buf *result)
{
	buf_reset(result);
	if (*addr == 0)
		return;
	if (st->status != 0) {
		buf_puts(result, addr);
		return;
	}
	if (rewrite_clnt(REWRITE_LOCAL, addr, result) < 0) {
		msg_warn("%s: rewrite <%s>: %s", st->queue_id.data, addr,
		    rewrite_clnt_error());
		cleanup_fail(st, CLEANUP_STAT_DEFER,
		    "4.3.0 address rewriting is temporarily unavailable");
		buf_set(result, addr);
		return;
	}
	if (result->len == 0 || result->len > QFILE_RECORD_MAX
	    || !cleanup_text_ok(result->data, result->len)) {
		msg_warn("%s: rewrite <%s>: unusable result",
		    st->queue_id.data, addr);
		cleanup_fail(st, CLEANUP_STAT_DEFER,
		    "4.3.0 address rewriting is temporarily unavailable");
		buf_set(result, addr);
	}
}

static int
cleanup_env_from(struct cleanup_state *st, const char *data, size_t len)
{
	if (st->have_sender)
		return cleanup_bad(st, "more than one sender record");
	if (!cleanup_text_ok(data, len))
		return cleanup_bad(st, "malformed sender address");
	st->have_sender = true;
	cleanup_time(st);
	cleanup_rewrite(st, data, &st->sender);
	cleanup_out(st, REC_TYPE_FROM, st->sender.data, st->sender.len);
	return CLEANUP_REC_MORE;
}

/* NOTIFY: DSN_NOTIFY_* bits in decimal; NEVER stands alone. */
static bool
cleanup_notify_ok(const char *data)
{
	int bits;

	if (str_to_int(data, &bits) < 0 || bits <= 0
	    || (bits & ~(DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY)) != 0)
		return false;
	return !(bits & DSN_NOTIFY_NEVER) || bits == DSN_NOTIFY_NEVER;
}

/* ORCP and NOTIFY: kept for the next RCPT. */
static int
cleanup_env_dsn(struct cleanup_state *st, int type, const char *data,
    size_t len)
{
	bool *have = type == REC_TYPE_ORCP ? &st->have_orcp : &st->have_notify;

	if (!st->have_sender || *have)
		return cleanup_bad(st, "misplaced %s record",
		    rec_type_name(type));
	if (!cleanup_text_ok(data, len)
	    || (type == REC_TYPE_NOTIFY && !cleanup_notify_ok(data)))
		return cleanup_bad(st, "malformed %s record",
		    rec_type_name(type));
	*have = true;
	buf_setn(type == REC_TYPE_ORCP ? &st->orcp : &st->notify, data, len);
	return CLEANUP_REC_MORE;
}

static int
cleanup_env_rcpt(struct cleanup_state *st, const char *data, size_t len)
{
	struct buf canon, key;

	if (!st->have_sender)
		return cleanup_bad(st, "recipient record before the sender");
	if (len == 0 || !cleanup_text_ok(data, len))
		return cleanup_bad(st, "malformed recipient address");
	buf_init(&canon, len + 32);
	buf_init(&key, len + 64);
	cleanup_rewrite(st, data, &canon);

	/* Same address with other DSN details is not a duplicate. */
	buf_printf(&key, "%s\n%s\n%s", canon.data,
	    st->have_orcp ? st->orcp.data : "",
	    st->have_notify ? st->notify.data : "");
	if (htable_get(st->dups, key.data) != NULL) {
		if (msg_verbose)
			msg_info("%s: duplicate recipient <%s> dropped",
			    st->queue_id.data, canon.data);
		goto out;
	}
	if (htable_count(st->dups) < (size_t)var_duplicate_filter_limit)
		(void)htable_put(st->dups, key.data, st);
	if (st->have_orcp)
		cleanup_out(st, REC_TYPE_ORCP, st->orcp.data, st->orcp.len);
	if (st->have_notify)
		cleanup_out(st, REC_TYPE_NOTIFY, st->notify.data,
		    st->notify.len);
	cleanup_out(st, REC_TYPE_RCPT, canon.data, canon.len);
	st->rcpt_count++;
out:
	st->have_orcp = st->have_notify = false;
	buf_fini(&canon);
	buf_fini(&key);
	return CLEANUP_REC_MORE;
}

static int
cleanup_env_mesg(struct cleanup_state *st, size_t len)
{
	if (!st->have_sender)
		return cleanup_bad(st, "message content before the sender");
	if (st->have_orcp || st->have_notify)
		return cleanup_bad(st, "DSN record without a recipient");
	if (len != 0)
		return cleanup_bad(st, "malformed message_content record");
	if (st->rcpt_count == 0)
		cleanup_fail(st, CLEANUP_STAT_RCPT, "5.1.0 no recipients");
	st->mesg_offset = cleanup_out_offset(st);
	cleanup_out(st, REC_TYPE_MESG, "", 0);
	st->phase = CLEANUP_PHASE_HEADERS;
	cleanup_message_begin(st);
	return CLEANUP_REC_MORE;
}

int
cleanup_envelope(struct cleanup_state *st, int type, const char *data,
    size_t len)
{
	/* Envelope records are text (rec.h). */
	if (type != REC_TYPE_ATTR && memchr(data, 0, len) != NULL)
		return cleanup_bad(st, "NUL byte in %s record",
		    rec_type_name(type));
	switch (type) {
	case REC_TYPE_TIME:
		return cleanup_env_time(st, data, len);
	case REC_TYPE_ATTR:
		return cleanup_env_attr(st, data, len);
	case REC_TYPE_FROM:
		return cleanup_env_from(st, data, len);
	case REC_TYPE_ORCP:
	case REC_TYPE_NOTIFY:
		return cleanup_env_dsn(st, type, data, len);
	case REC_TYPE_RCPT:
		return cleanup_env_rcpt(st, data, len);
	case REC_TYPE_MESG:
		return cleanup_env_mesg(st, len);
	default:
		return cleanup_bad(st, "unexpected %s record in the envelope",
		    rec_type_name(type));
	}
}
