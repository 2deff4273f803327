/*
 * cleanup_clnt.c - hand a message to the cleanup service
 *
 * The client half of cleanup_proto.h: connect to cleanup's socket, take
 * the queue ID it announces, send the flags, stream the records, send
 * END and read the status. Every wait is bounded by ipc_timeout (through
 * the stream), and every failure on our side of the conversation
 * (cannot connect, cleanup went away, timeout, malformed reply) is
 * reported as CLEANUP_STAT_DEFER with a reason, because the message is
 * still safe with the client and can be handed over again later.
 *
 * cleanup_clnt_check() is the one definition of a local submission's
 * record sequence (see cleanup_clnt.h), used by sendmail on its own
 * output, by postdrop on its standard input, and by pickup on a
 * maildrop file, so that what one program writes the next accepts.
 *
 * SECURITY: cleanup_clnt_check() sees records from an unprivileged user
 * (postdrop's stdin) or from a file that user owns and may have changed
 * (pickup). It allows only the record types, order, attributes and
 * values of a submission, with bounded lengths and a bounded total, so
 * that a user cannot set the attributes that pickup and cleanup trust
 * (submit_uid, rewrite_context, client information ...).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "queue_id.h"
#include "rec.h"
#include "str.h"
#include "stream.h"
#include "unix_connect.h"

struct cleanup_clnt {
	struct stream *s;
	struct buf queue_id;
	struct buf why;		/* the first error, if any */
	bool failed;
	bool end_sent;
};

static void
cleanup_clnt_stream_why(struct buf *why, struct stream *s, const char *what)
{
	switch (stream_error(s)) {
	case STREAM_ERR_EOF:
		buf_printf(why, "%s: connection closed by the cleanup service",
		    what);
		break;
	case STREAM_ERR_TIMEOUT:
		buf_printf(why, "%s: timeout talking to the cleanup service",
		    what);
		break;
	case STREAM_ERR_LIMIT:
		buf_printf(why, "%s: reply from the cleanup service too long",
		    what);
		break;
	default:
		buf_printf(why, "%s: %s", what, strerror(errno));
		break;
	}
}

static int
cleanup_clnt_connect(const char *path, struct buf *why)
{
	int fd;

	if ((fd = unix_connect(path, 0, 0)) < 0) {
		buf_printf(why, "connect to the cleanup service %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return fd;
}

struct cleanup_clnt *
cleanup_clnt_open(const char *service, int flags, struct buf *why)
{
	struct cleanup_clnt *c;
	struct buf path;
	int fd, timeout_ms;

	buf_init(&path, 64);
	if (service != NULL && strchr(service, '/') != NULL)
		buf_puts(&path, service);
	else
		buf_printf(&path, "public/%s",
		    service != NULL ? service : var_cleanup_service_name);
	fd = cleanup_clnt_connect(path.data, why);
	buf_fini(&path);
	if (fd < 0)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->s = stream_new(fd);
	/* ipc_timeout may be up to 1000 days: clamp the milliseconds. */
	timeout_ms = var_ipc_timeout > INT_MAX / 1000 ? INT_MAX
	    : var_ipc_timeout * 1000;
	stream_set_timeout(c->s, timeout_ms);
	buf_init(&c->queue_id, QUEUE_ID_MAX + 1);
	buf_init(&c->why, 64);
	if (attr_recv(c->s, ATTR_STRICT, A_BUF(ATTR_QUEUE_ID, &c->queue_id),
	    A_END) != 1) {
		buf_puts(why, "no queue ID from the cleanup service");
		goto fail;
	}
	if (!queue_id_valid(c->queue_id.data)) {
		buf_puts(why, "malformed queue ID from the cleanup service");
		goto fail;
	}
	if (attr_send(c->s, A_NUM(ATTR_FLAGS, flags), A_END) < 0) {
		cleanup_clnt_stream_why(why, c->s, "send flags");
		goto fail;
	}
	return c;

fail:
	cleanup_clnt_free(c);
	return NULL;
}

const char *
cleanup_clnt_queue_id(const struct cleanup_clnt *c)
{
	return c->queue_id.data;
}

int
cleanup_clnt_put(struct cleanup_clnt *c, int type, const void *data,
    size_t len)
{
	if (c->failed)
		return -1;
	if (rec_put(c->s, type, data, len) < 0) {
		c->failed = true;
		cleanup_clnt_stream_why(&c->why, c->s, "send record");
		return -1;
	}
	if (type == REC_TYPE_END)
		c->end_sent = true;
	return 0;
}

int
cleanup_clnt_flush(struct cleanup_clnt *c)
{
	if (c->failed)
		return -1;
	if (stream_flush(c->s) < 0) {
		c->failed = true;
		cleanup_clnt_stream_why(&c->why, c->s, "send");
		return -1;
	}
	return 0;
}

int
cleanup_clnt_puts(struct cleanup_clnt *c, int type, const char *text)
{
	return cleanup_clnt_put(c, type, text, strlen(text));
}

int
cleanup_clnt_printf(struct cleanup_clnt *c, int type, const char *fmt, ...)
{
	struct buf text;
	va_list ap;
	int ret;

	buf_init(&text, 64);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	ret = cleanup_clnt_put(c, type, text.data, text.len);
	buf_fini(&text);
	return ret;
}

int
cleanup_clnt_finish(struct cleanup_clnt *c, struct buf *reason)
{
	int status = CLEANUP_STAT_DEFER;

	buf_reset(reason);
	if (!c->end_sent)
		(void)cleanup_clnt_put(c, REC_TYPE_END, "", 0);
	if (!c->failed && stream_flush(c->s) < 0) {
		c->failed = true;
		cleanup_clnt_stream_why(&c->why, c->s, "send");
	}
	if (c->failed) {
		buf_puts(reason, c->why.data);
		return CLEANUP_STAT_DEFER;
	}
	if (attr_recv(c->s, ATTR_STRICT, A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, reason), A_END) != 2) {
		c->failed = true;
		buf_set(reason, "no status from the cleanup service");
		return CLEANUP_STAT_DEFER;
	}
	if (status < 0) {
		buf_set(reason, "malformed status from the cleanup service");
		return CLEANUP_STAT_DEFER;
	}
	if (status != 0 && reason->len == 0)
		buf_printf(reason, "cleanup service status %d", status);
	return status;
}

void
cleanup_clnt_free(struct cleanup_clnt *c)
{
	if (c == NULL)
		return;
	stream_free(c->s);
	buf_fini(&c->queue_id);
	buf_fini(&c->why);
	free(c);
}

/* ---- the records of a local submission ------------------------------ */

enum check_state {
	CHECK_ATTR,		/* ATTR* FROM */
	CHECK_FIRST_RCPT,	/* after FROM: ORCP NOTIFY RCPT */
	CHECK_AFTER_ORCP,	/* NOTIFY RCPT */
	CHECK_AFTER_NOTIFY,	/* RCPT */
	CHECK_RCPT,		/* ORCP NOTIFY RCPT MESG */
	CHECK_CONTENT,		/* NORM CONT XTRA */
	CHECK_CONT,		/* NORM CONT */
	CHECK_XTRA,		/* END */
	CHECK_DONE,		/* nothing */
};

static const char *const check_attrs[] = {
	MAIL_ATTR_FULL_NAME,
	MAIL_ATTR_ENVID,
	MAIL_ATTR_RET,
	MAIL_ATTR_BODY_TYPE,
};

#define CHECK_NATTRS	(sizeof(check_attrs) / sizeof(check_attrs[0]))

void
cleanup_clnt_check_init(struct cleanup_clnt_check *chk, long size_limit)
{
	memset(chk, 0, sizeof(*chk));
	chk->state = CHECK_ATTR;
	chk->size_limit = size_limit;
}

/* No control characters (or NUL) in len bytes. */
static bool
check_text(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)data[i] < ' ' || data[i] == 0x7f)
			return false;
	return true;
}

/*
 * An envelope ID, stored decoded (not as xtext): 1..100 printable ASCII
 * characters (RFC 3461 section 4.4).
 */
static bool
check_envid(const char *value)
{
	size_t len = strlen(value);
	size_t i;

	if (len == 0 || len > CLEANUP_CLNT_ENVID_LIMIT)
		return false;
	for (i = 0; i < len; i++)
		if (value[i] < ' ' || value[i] >= 0x7f)
			return false;
	return true;
}

bool
cleanup_clnt_attr_ok(const char *name, const char *value)
{
	if (strcmp(name, MAIL_ATTR_FULL_NAME) == 0)
		return strlen(value) <= CLEANUP_CLNT_NAME_LIMIT
		    && check_text(value, strlen(value));
	if (strcmp(name, MAIL_ATTR_ENVID) == 0)
		return check_envid(value);
	if (strcmp(name, MAIL_ATTR_RET) == 0)
		return strcmp(value, "full") == 0 || strcmp(value, "hdrs") == 0;
	if (strcmp(name, MAIL_ATTR_BODY_TYPE) == 0)
		return strcmp(value, "7BIT") == 0
		    || strcmp(value, "8BITMIME") == 0;
	return false;
}

int
cleanup_clnt_notify_parse(const char *text)
{
	static const struct {
		const char *name;
		int bit;
	} words[] = {
		{"never", DSN_NOTIFY_NEVER},
		{"success", DSN_NOTIFY_SUCCESS},
		{"delay", DSN_NOTIFY_DELAY},
		{"failure", DSN_NOTIFY_FAILURE},
	};
	char *copy = xstrdup(text), *cursor = copy, *word;
	int bits = 0, bit;
	size_t i, n = 0;

	while (bits >= 0 && (word = str_token(&cursor, ", \t")) != NULL) {
		for (bit = 0, i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (str_case_eq(word, words[i].name))
				bit = words[i].bit;
		if (bit == 0 || (bits & bit) != 0)
			bits = -1;
		else
			bits |= bit;
		n++;
	}
	free(copy);
	if (bits <= 0 || ((bits & DSN_NOTIFY_NEVER) && n > 1))
		return -1;
	return bits;
}

/* NOTIFY data: the decimal of a valid combination of bits. */
static bool
check_notify(const char *data, size_t len)
{
	char text[4];
	int bits;

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, data, len);
	text[len] = 0;
	if (str_to_int(text, &bits) < 0 || text[0] == '0' || bits <= 0
	    || (bits & ~(DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY)) != 0)
		return false;
	return bits == DSN_NOTIFY_NEVER || (bits & DSN_NOTIFY_NEVER) == 0;
}

/* One "name=value" ATTR record of a submission. */
static enum cleanup_check_result
check_attr(struct cleanup_clnt_check *chk, const char *data, size_t len,
    struct buf *why)
{
	const char *eq = memchr(data, '=', len);
	char *name, *value;
	size_t i;
	bool ok = false;

	if (eq == NULL || eq == data || memchr(data, 0, len) != NULL) {
		buf_puts(why, "malformed attribute record");
		return CLEANUP_CHECK_BAD;
	}
	name = xstrndup(data, (size_t)(eq - data));
	value = xstrndup(eq + 1, len - (size_t)(eq - data) - 1);
	for (i = 0; i < CHECK_NATTRS; i++) {
		if (strcmp(name, check_attrs[i]) != 0)
			continue;
		if (chk->attrs & (1u << i))
			buf_printf(why, "duplicate attribute \"%s\"", name);
		else if (!cleanup_clnt_attr_ok(name, value))
			buf_printf(why, "bad value for attribute \"%s\"",
			    name);
		else
			ok = true;
		chk->attrs |= 1u << i;
		break;
	}
	if (i == CHECK_NATTRS) {
		buf_puts(why, "attribute \"");
		str_printable(why, name, strlen(name) > 64 ? 64
		    : strlen(name));
		buf_puts(why, "\" not allowed in a submission");
	}
	free(name);
	free(value);
	return ok ? CLEANUP_CHECK_OK : CLEANUP_CHECK_BAD;
}

static enum cleanup_check_result
check_address(const char *what, const char *data, size_t len, bool empty_ok,
    struct buf *why)
{
	if (len == 0 && !empty_ok) {
		buf_printf(why, "empty %s address", what);
		return CLEANUP_CHECK_BAD;
	}
	if (len > CLEANUP_CLNT_ADDR_LIMIT) {
		buf_printf(why, "%s address longer than %d bytes", what,
		    CLEANUP_CLNT_ADDR_LIMIT);
		return CLEANUP_CHECK_BAD;
	}
	if (!check_text(data, len)) {
		buf_printf(why, "control character in %s address", what);
		return CLEANUP_CHECK_BAD;
	}
	return CLEANUP_CHECK_OK;
}

static enum cleanup_check_result
check_record(struct cleanup_clnt_check *chk, int type, const char *data,
    size_t len, struct buf *why)
{
	bool env = chk->state < CHECK_CONTENT;

	if ((type == REC_TYPE_MESG || type == REC_TYPE_XTRA
	    || type == REC_TYPE_END) && len != 0) {
		buf_printf(why, "%s record with data", rec_type_name(type));
		return CLEANUP_CHECK_BAD;
	}
	switch (type) {
	case REC_TYPE_ATTR:
		if (chk->state != CHECK_ATTR)
			break;
		return check_attr(chk, data, len, why);
	case REC_TYPE_FROM:
		if (chk->state != CHECK_ATTR)
			break;
		chk->state = CHECK_FIRST_RCPT;
		return check_address("sender", data, len, true, why);
	case REC_TYPE_ORCP:
		if (chk->state != CHECK_FIRST_RCPT && chk->state != CHECK_RCPT)
			break;
		chk->state = CHECK_AFTER_ORCP;
		return check_address("original recipient", data, len, false,
		    why);
	case REC_TYPE_NOTIFY:
		if (chk->state != CHECK_FIRST_RCPT && chk->state != CHECK_RCPT
		    && chk->state != CHECK_AFTER_ORCP)
			break;
		chk->state = CHECK_AFTER_NOTIFY;
		if (check_notify(data, len))
			return CLEANUP_CHECK_OK;
		buf_puts(why, "malformed DSN notify record");
		return CLEANUP_CHECK_BAD;
	case REC_TYPE_RCPT:
		if (!env || chk->state == CHECK_ATTR)
			break;
		chk->state = CHECK_RCPT;
		chk->rcpts++;
		return check_address("recipient", data, len, false, why);
	case REC_TYPE_MESG:
		if (chk->state != CHECK_RCPT)
			break;
		chk->state = CHECK_CONTENT;
		return CLEANUP_CHECK_OK;
	case REC_TYPE_NORM:
	case REC_TYPE_CONT:
		if (chk->state != CHECK_CONTENT && chk->state != CHECK_CONT)
			break;
		chk->state = type == REC_TYPE_CONT ? CHECK_CONT
		    : CHECK_CONTENT;
		return CLEANUP_CHECK_OK;
	case REC_TYPE_XTRA:
		if (chk->state != CHECK_CONTENT)
			break;
		chk->state = CHECK_XTRA;
		return CLEANUP_CHECK_OK;
	case REC_TYPE_END:
		if (chk->state != CHECK_XTRA)
			break;
		chk->state = CHECK_DONE;
		return CLEANUP_CHECK_END;
	}
	if (chk->state == CHECK_DONE)
		buf_printf(why, "%s record after the end",
		    rec_type_name(type));
	else if (chk->state == CHECK_FIRST_RCPT && type == REC_TYPE_MESG)
		buf_puts(why, "no recipients");
	else if (chk->state == CHECK_CONT)
		buf_printf(why, "%s record in the middle of a line",
		    rec_type_name(type));
	else
		buf_printf(why, "unexpected %s record %s",
		    rec_type_name(type), env ? "in the envelope"
		    : "in the message content");
	return CLEANUP_CHECK_BAD;
}

enum cleanup_check_result
cleanup_clnt_check(struct cleanup_clnt_check *chk, int type,
    const char *data, size_t len, struct buf *why)
{
	enum cleanup_check_result res;
	long add;

	chk->records++;
	if (len > CLEANUP_CLNT_REC_LIMIT) {
		chk->state = CHECK_DONE;
		buf_printf(why, "record of %zu bytes exceeds limit %d", len,
		    CLEANUP_CLNT_REC_LIMIT);
		return CLEANUP_CHECK_BAD;
	}
	if ((res = check_record(chk, type, data, len, why))
	    == CLEANUP_CHECK_BAD) {
		chk->state = CHECK_DONE;
		return res;
	}
	/* Envelope data and content, one byte per line end. */
	add = (long)len + (type == REC_TYPE_NORM);
	if (__builtin_add_overflow(chk->size, add, &chk->size)
	    || (chk->size_limit > 0 && chk->size > chk->size_limit)) {
		chk->state = CHECK_DONE;
		buf_printf(why, "message size exceeds message_size_limit "
		    "(%ld bytes)", chk->size_limit);
		return CLEANUP_CHECK_SIZE;
	}
	return res;
}
