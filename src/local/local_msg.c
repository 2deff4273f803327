/*
 * local_msg.c - local: the message as deliveries write it out
 *
 * Once per request, local_msg_begin() reads the primary header block of
 * the message for its Delivered-To: headers (at most header_size_limit
 * bytes of it): a recipient already named there means the message is
 * looping (local.c). Each delivery then streams the content afresh from
 * the queue file (local_msg_open()/local_msg_next(), the mbox.h source
 * interface), after the header lines that local(8) prepends
 * (local_msg_headers()):
 *
 *	Return-Path: <sender>		mailbox, file, command
 *	X-Original-To: recipient	mailbox, file, command (the queue
 *					file recipient)
 *	Delivered-To: recipient		mailbox always; file, command and
 *					forwarded mail per
 *					prepend_delivered_header (the
 *					recipient at level 0, lowercased)
 *
 * SECURITY: the headers are the sender's. They are only compared here,
 * with a bounded amount read; the addresses written into header lines
 * come from the queue file, which holds no line breaks (cleanup refuses
 * control characters in addresses; the mailbox writers replace any CR
 * or LF in a header line anyway).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "buf.h"
#include "htable.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qfile.h"
#include "str.h"

/* The most Delivered-To: headers remembered. */
#define LOCAL_MSG_DT_MAX	1000

struct local_src {
	struct qfile_content *qc;
};

static struct htable *local_msg_dt;

/* Remember one Delivered-To: value (after the colon). */
static void
local_msg_dt_add(const char *value, size_t len)
{
	struct buf v;
	size_t start = 0;

	while (start < len && (value[start] == ' ' || value[start] == '\t'))
		start++;
	while (len > start && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len - start >= 2 && value[start] == '<' && value[len - 1] == '>') {
		start++;
		len--;
	}
	if (len == start || htable_count(local_msg_dt) >= LOCAL_MSG_DT_MAX)
		return;
	buf_init(&v, len - start + 1);
	buf_setn(&v, value + start, len - start);
	if (strlen(v.data) == v.len)
		(void)htable_put(local_msg_dt, str_lower(v.data), local_msg_dt);
	buf_fini(&v);
}

/* Is line a header line (Name: with a printable name)? */
static bool
local_msg_is_header(const char *line, size_t len)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < len && line[i] != ':'; i++) {
		c = (unsigned char)line[i];
		if (c <= 32 || c >= 127)
			return false;
	}
	return i > 0 && i < len;
}

void
local_msg_begin(struct deliver_request *req)
{
	struct qfile_content *qc;
	struct buf line, why;
	size_t seen = 0;
	bool part = false;
	int rc;

	local_msg_dt = htable_new(8);
	if ((qc = qfile_content_open(req->fd, &req->qf)) == NULL)
		return;
	buf_init(&line, 256);
	buf_init(&why, 64);
	while ((rc = qfile_content_next(qc, &line, 4096, &why)) == QFILE_LINE
	    || rc == QFILE_PART) {
		seen += line.len + 1;
		if (seen > (size_t)var_header_size_limit)
			break;
		if (part) {
			/* The rest of a long line: nothing to look at. */
		} else if (line.len == 0) {
			break;
		} else if (line.data[0] == ' ' || line.data[0] == '\t') {
			/* A continuation line. */
		} else if (!local_msg_is_header(line.data, line.len)) {
			break;
		} else if (line.len > 13
		    && strncasecmp(line.data, "Delivered-To:", 13) == 0
		    && rc == QFILE_LINE) {
			local_msg_dt_add(line.data + 13, line.len - 13);
		}
		part = rc == QFILE_PART;
	}
	/* A read error shows again, with a reason, when delivering. */
	qfile_content_close(qc);
	buf_fini(&line);
	buf_fini(&why);
}

void
local_msg_end(void)
{
	htable_free(local_msg_dt, NULL);
	local_msg_dt = NULL;
}

bool
local_msg_delivered_to(const char *addr)
{
	struct buf key;
	bool found;

	if (local_msg_dt == NULL || htable_count(local_msg_dt) == 0)
		return false;
	buf_init(&key, 64);
	buf_set(&key, addr);
	found = htable_get(local_msg_dt, str_lower(key.data)) != NULL;
	buf_fini(&key);
	return found;
}

const char *
local_msg_sender(const struct deliver_request *req)
{
	return req->qf.sender != NULL ? req->qf.sender : "";
}

char **
local_msg_headers(struct local_state *st, int hdr_class)
{
	const struct deliver_request *req = st->dl->req;
	struct argv *h = argv_new();
	struct buf line;
	char **out;

	buf_init(&line, 128);
	if (hdr_class != LOCAL_CLASS_FORWARD) {
		buf_printf(&line, "Return-Path: <%s>", local_msg_sender(req));
		argv_add(h, line.data);
		buf_reset(&line);
		buf_printf(&line, "X-Original-To: %s",
		    req->rcpts[st->dl->index].addr);
		argv_add(h, line.data);
		buf_reset(&line);
	}
	if (hdr_class == 0 || (local_deliver_hdr & hdr_class) != 0) {
		buf_printf(&line, "Delivered-To: %s", st->dl->delivered);
		argv_add(h, line.data);
	}
	buf_fini(&line);
	/* Hand over the vector itself; argv_free() is not needed. */
	out = h->argv;
	free(h);
	return out;
}

void
local_msg_headers_free(char **headers)
{
	char **p;

	if (headers == NULL)
		return;
	for (p = headers; *p != NULL; p++)
		free(*p);
	free(headers);
}

struct local_src *
local_msg_open(struct deliver_request *req)
{
	struct local_src *src = xmalloc(sizeof(*src));

	src->qc = qfile_content_open(req->fd, &req->qf);
	return src;
}

void
local_msg_close(struct local_src *src)
{
	if (src == NULL)
		return;
	qfile_content_close(src->qc);
	free(src);
}

int
local_msg_next(void *ctx, struct buf *line, struct buf *why)
{
	struct local_src *src = ctx;
	int rc;

	if (src->qc == NULL) {
		buf_set(why, "cannot read the queue file");
		return -1;
	}
	rc = qfile_content_next(src->qc, line, QFILE_RECORD_MAX, why);
	switch (rc) {
	case QFILE_END:
		return MBOX_SRC_END;
	case QFILE_LINE:
		return MBOX_SRC_LINE;
	case QFILE_PART:
		return MBOX_SRC_PART;
	default:
		if (why->len == 0)
			buf_set(why, "cannot read the queue file");
		return -1;
	}
}
