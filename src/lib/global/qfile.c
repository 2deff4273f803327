/*
 * qfile.c - read and validate whole queue files
 *
 * One state machine (qfile_walk) checks a queue file record by record in
 * a single forward pass; qfile_read() fills a struct qfile from it and
 * petrel cat prints from it. The content iterator re-reads the content
 * records of an accepted file on demand, so no message body is ever held
 * in memory. The rules are listed in qfile.h.
 *
 * Reading goes through a small buffer (qfile_reader) filled with pread(2)
 * at our own offset, so the caller's descriptor offset does not matter
 * and qfile_read_envelope() can jump over the content without reading
 * it. A record is decoded only when all of its bytes are buffered, and
 * the buffer never holds more than one record beyond a read chunk.
 *
 * SECURITY: the file may be corrupt or forged. rec_decode() checks each
 * length against QFILE_RECORD_MAX before anything is allocated; every
 * other problem is returned as a reason naming the offset, never fatal.
 * The envelope is held in memory (it grows with the number of
 * recipients a file claims, bounded by the file's own size).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "rec.h"

/* Bytes asked from the kernel per read. */
#define QFILE_CHUNK	16384
/* rd_next(): a clean end of file (no partial record). */
#define QFILE_RD_EOF	1

/* ---- buffered reading at our own offset --------------------------- */

struct qfile_reader {
	int fd;
	bool pipe;		/* not seekable: read(2) in sequence */
	struct buf buf;		/* file bytes from base on */
	size_t pos;		/* next record in buf */
	off_t base;		/* file offset of buf.data[0] */
	bool eof;		/* buf reaches the end of the file */
	struct buf tmp;		/* rec_decode()'s complaint */
};

static int
qfile_corrupt(struct buf *why, off_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
qfile_corrupt(struct buf *why, off_t off, const char *fmt, ...)
{
	va_list ap;

	buf_reset(why);
	buf_printf(why, "offset %lld: ", (long long)off);
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
	return QFILE_CORRUPT;
}

static void
rd_init(struct qfile_reader *r, int fd, off_t start)
{
	r->fd = fd;
	r->pipe = false;
	buf_init(&r->buf, QFILE_CHUNK);
	r->pos = 0;
	r->base = start;
	r->eof = false;
	buf_init(&r->tmp, 64);
}

static void
rd_fini(struct qfile_reader *r)
{
	buf_fini(&r->buf);
	buf_fini(&r->tmp);
}

static off_t
rd_tell(const struct qfile_reader *r)
{
	return r->base + (off_t)r->pos;
}

/* Drop what was decoded, then append up to a chunk of the file. */
static int
rd_fill(struct qfile_reader *r, struct buf *why)
{
	ssize_t n;
	off_t at;

	if (r->pos > 0) {
		buf_consume(&r->buf, r->pos);
		r->base += (off_t)r->pos;
		r->pos = 0;
	}
	buf_reserve(&r->buf, QFILE_CHUNK);
	at = r->base + (off_t)r->buf.len;
	for (;;) {
		if (r->pipe)
			n = read(r->fd, r->buf.data + r->buf.len, QFILE_CHUNK);
		else
			n = pread(r->fd, r->buf.data + r->buf.len, QFILE_CHUNK,
			    at);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		/* A pipe (petrel cat < file) is fine when read in order. */
		if (errno == ESPIPE && !r->pipe && at == 0) {
			r->pipe = true;
			continue;
		}
		buf_reset(why);
		buf_printf(why, "offset %lld: read error: %s", (long long)at,
		    strerror(errno));
		return QFILE_IOERR;
	}
	if (n == 0)
		r->eof = true;
	r->buf.len += (size_t)n;
	r->buf.data[r->buf.len] = 0;
	return QFILE_OK;
}

/* Continue reading at off (forward only when reading a pipe). */
static int
rd_seek(struct qfile_reader *r, off_t off, struct buf *why)
{
	int rc;

	if (off >= r->base && off - r->base <= (off_t)r->buf.len) {
		r->pos = (size_t)(off - r->base);
		return QFILE_OK;
	}
	if (!r->pipe) {
		buf_reset(&r->buf);
		r->base = off;
		r->pos = 0;
		r->eof = false;
		return QFILE_OK;
	}
	while (off - r->base > (off_t)r->buf.len && !r->eof) {
		r->pos = r->buf.len;
		if ((rc = rd_fill(r, why)) != QFILE_OK)
			return rc;
	}
	if (off - r->base > (off_t)r->buf.len)
		r->pos = r->buf.len;		/* the end: next says EOF */
	else
		r->pos = (size_t)(off - r->base);
	return QFILE_OK;
}

/*
 * Decode the next record. QFILE_OK with the record (data points into the
 * buffer, valid until the next rd_* call), QFILE_RD_EOF at the end of the
 * file, or QFILE_CORRUPT / QFILE_IOERR with why.
 */
static int
rd_next(struct qfile_reader *r, struct qfile_rec *rec, struct buf *why)
{
	size_t doff, dlen;
	ssize_t n;
	int rc;

	for (;;) {
		n = rec_decode(r->buf.data + r->pos, r->buf.len - r->pos,
		    QFILE_RECORD_MAX, &rec->type, &doff, &dlen, &r->tmp);
		if (n > 0) {
			rec->offset = rd_tell(r);
			rec->next = rec->offset + (off_t)n;
			rec->data = r->buf.data + r->pos + doff;
			rec->len = dlen;
			r->pos += (size_t)n;
			return QFILE_OK;
		}
		if (n < 0)
			return qfile_corrupt(why, rd_tell(r), "%s",
			    r->tmp.data);
		if (r->eof) {
			if (r->pos == r->buf.len)
				return QFILE_RD_EOF;
			return qfile_corrupt(why, rd_tell(r),
			    "truncated record (the file ends at offset %lld)",
			    (long long)(r->base + (off_t)r->buf.len));
		}
		if ((rc = rd_fill(r, why)) != QFILE_OK)
			return rc;
	}
}

/* True when nothing follows the last decoded record. */
static int
rd_at_eof(struct qfile_reader *r, bool *at_eof, struct buf *why)
{
	int rc;

	while (r->pos == r->buf.len && !r->eof)
		if ((rc = rd_fill(r, why)) != QFILE_OK)
			return rc;
	*at_eof = r->pos == r->buf.len;
	return QFILE_OK;
}

/* ---- record formats ------------------------------------------------- */

/* Digits only, at least one, value <= max; -1 otherwise. */
static int
qfile_parse_digits(const char *cp, size_t len, long max, long *out)
{
	long val = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (cp[i] < '0' || cp[i] > '9')
			return -1;
		if (__builtin_mul_overflow(val, 10, &val)
		    || __builtin_add_overflow(val, cp[i] - '0', &val))
			return -1;
	}
	if (val > max)
		return -1;
	*out = val;
	return 0;
}

/* A "%15ld" field: spaces, then a number without leading zeros. */
static int
qfile_parse_field(const char *cp, long *out)
{
	size_t i;

	for (i = 0; i < REC_SIZE_WIDTH && cp[i] == ' '; i++)
		continue;
	if (i < REC_SIZE_WIDTH - 1 && cp[i] == '0')
		return -1;
	return qfile_parse_digits(cp + i, REC_SIZE_WIDTH - i, LONG_MAX, out);
}

int
qfile_parse_size(const char *data, size_t len, struct qfile_size *out)
{
	long val[4];
	size_t i, at;

	if (len != QFILE_SIZE_LEN)
		return -1;
	for (i = 0; i < 4; i++) {
		at = i * (REC_SIZE_WIDTH + 1);
		if (i < 3 && data[at + REC_SIZE_WIDTH] != ' ')
			return -1;
		if (qfile_parse_field(data + at, &val[i]) < 0)
			return -1;
	}
	out->mesg_offset = (off_t)val[0];
	out->content_size = (off_t)val[1];
	out->rcpt_count = val[2];
	out->flags = val[3];
	return 0;
}

int
qfile_parse_time(const char *data, size_t len, struct timeval *out)
{
	const char *sp;
	long sec, usec;

	if ((sp = memchr(data, ' ', len)) == NULL
	    || qfile_parse_digits(data, (size_t)(sp - data), LONG_MAX,
		&sec) < 0
	    || (size_t)(data + len - (sp + 1)) > 6
	    || qfile_parse_digits(sp + 1, (size_t)(data + len - (sp + 1)),
		999999, &usec) < 0)
		return -1;
	out->tv_sec = (time_t)sec;
	out->tv_usec = (suseconds_t)usec;
	return 0;
}

/* WARN: a time, optionally right-aligned with spaces. */
static int
qfile_parse_warn(const char *data, size_t len, long *out)
{
	size_t i;

	for (i = 0; i < len && data[i] == ' '; i++)
		continue;
	return qfile_parse_digits(data + i, len - i, LONG_MAX, out);
}

/* "name=value", name [a-z_]+; the length of name, or 0. */
static size_t
qfile_attr_name_len(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len && ((data[i] >= 'a' && data[i] <= 'z')
	    || data[i] == '_'); i++)
		continue;
	return i > 0 && i < len && data[i] == '=' ? i : 0;
}

static bool
qfile_is_content(int type)
{
	return type == REC_TYPE_NORM || type == REC_TYPE_CONT;
}

/* ---- the state machine ------------------------------------------------ */

enum qfile_state {
	QS_SIZE,		/* the first record */
	QS_DROP,		/* the first record of a maildrop file */
	QS_TIME,
	QS_ATTR,		/* ATTR* then FROM */
	QS_RCPT,		/* after FROM or a recipient */
	QS_ORCP,		/* after ORCP */
	QS_NOTIFY,		/* after NOTIFY */
	QS_CONTENT,		/* at a line start, or XTRA */
	QS_CONT,		/* inside a long line */
	QS_EXTRA,		/* extracted records, END */
	QS_END,
};

/* What each state accepts, for reasons. */
static const char *const qfile_expect[] = {
	[QS_SIZE] = "size record",
	[QS_DROP] = "time, named_attribute or sender record",
	[QS_TIME] = "time record",
	[QS_ATTR] = "named_attribute or sender record",
	[QS_RCPT] = "recipient or message_content record",
	[QS_ORCP] = "dsn_notify_flags or recipient record",
	[QS_NOTIFY] = "recipient record",
	[QS_CONTENT] = "content or message_end record",
	[QS_CONT] = "content record (a long line continues)",
	[QS_EXTRA] = "extracted or end record",
	[QS_END] = "nothing after the end record",
};

/* The state after a record of this type, or -1 if it is out of place. */
static int
qfile_transition(enum qfile_state state, int type)
{
	switch (state) {
	case QS_SIZE:
		return type == REC_TYPE_SIZE ? QS_TIME : -1;
	case QS_DROP:
		/* postdrop leaves the arrival time to the maildrop file. */
		if (type == REC_TYPE_TIME)
			return QS_ATTR;
		/* FALLTHROUGH */
	case QS_ATTR:
		if (type == REC_TYPE_ATTR)
			return QS_ATTR;
		return type == REC_TYPE_FROM ? QS_RCPT : -1;
	case QS_TIME:
		return type == REC_TYPE_TIME ? QS_ATTR : -1;
	case QS_RCPT:
		if (type == REC_TYPE_MESG)
			return QS_CONTENT;
		if (type == REC_TYPE_ORCP)
			return QS_ORCP;
		/* FALLTHROUGH */
	case QS_ORCP:
		if (type == REC_TYPE_NOTIFY)
			return QS_NOTIFY;
		/* FALLTHROUGH */
	case QS_NOTIFY:
		return type == REC_TYPE_RCPT || type == REC_TYPE_DONE ?
		    QS_RCPT : -1;
	case QS_CONTENT:
		if (type == REC_TYPE_XTRA)
			return QS_EXTRA;
		/* FALLTHROUGH */
	case QS_CONT:
		if (type == REC_TYPE_NORM)
			return QS_CONTENT;
		return type == REC_TYPE_CONT ? QS_CONT : -1;
	case QS_EXTRA:
		if (type == REC_TYPE_END)
			return QS_END;
		return type == REC_TYPE_RRTO || type == REC_TYPE_ERTO
		    || type == REC_TYPE_WARN ? QS_EXTRA : -1;
	case QS_END:
		break;
	}
	return -1;
}

struct qfile_walker {
	struct qfile_reader r;
	int flags;
	enum qfile_state state;
	struct qfile_size size;		/* from SIZE */
	long rcpts;			/* RCPT + DONE seen */
	off_t content_end;		/* XTRA offset, -1 if unknown */
	unsigned extracted;		/* extracted types seen (bits) */
	struct htable *attrs;		/* names seen */
};

static unsigned
qfile_extracted_bit(int type)
{
	return type == REC_TYPE_RRTO ? 1 : type == REC_TYPE_ERTO ? 2 : 4;
}

/* Check one record that is in its place; QFILE_OK or a reason. */
static int
qfile_check(struct qfile_walker *w, const struct qfile_rec *rec,
    struct buf *why)
{
	const char *name = rec_type_name(rec->type);
	struct timeval tv;
	size_t nlen;
	long val;
	bool at_eof;
	char *key;
	int rc;

	if (!qfile_is_content(rec->type) && memchr(rec->data, 0, rec->len))
		return qfile_corrupt(why, rec->offset, "NUL byte in %s record",
		    name);
	switch (rec->type) {
	case REC_TYPE_SIZE:
		if (qfile_parse_size(rec->data, rec->len, &w->size) < 0)
			return qfile_corrupt(why, rec->offset, "malformed size "
			    "record (expected 4 numbers, each right-aligned "
			    "in %d columns, separated by one space)",
			    REC_SIZE_WIDTH);
		break;
	case REC_TYPE_TIME:
		if (qfile_parse_time(rec->data, rec->len, &tv) < 0)
			return qfile_corrupt(why, rec->offset, "malformed time "
			    "record (expected \"seconds microseconds\")");
		break;
	case REC_TYPE_ATTR:
		if ((nlen = qfile_attr_name_len(rec->data, rec->len)) == 0)
			return qfile_corrupt(why, rec->offset, "malformed "
			    "named_attribute record (expected name=value, "
			    "name made of a-z and _)");
		key = xstrndup(rec->data, nlen);
		if (htable_get(w->attrs, key) != NULL) {
			rc = qfile_corrupt(why, rec->offset, "duplicate "
			    "named_attribute \"%s\"", key);
			free(key);
			return rc;
		}
		htable_put(w->attrs, key, w);
		free(key);
		break;
	case REC_TYPE_RCPT:
	case REC_TYPE_DONE:
		if (rec->len == 0)
			return qfile_corrupt(why, rec->offset, "empty %s",
			    name);
		w->rcpts++;
		break;
	case REC_TYPE_MESG:
	case REC_TYPE_XTRA:
	case REC_TYPE_END:
		if (rec->len != 0)
			return qfile_corrupt(why, rec->offset, "%s record "
			    "holds %zu bytes (expected none)", name, rec->len);
		break;
	case REC_TYPE_RRTO:
	case REC_TYPE_ERTO:
	case REC_TYPE_WARN:
		if (w->extracted & qfile_extracted_bit(rec->type))
			return qfile_corrupt(why, rec->offset, "duplicate %s "
			    "record", name);
		w->extracted |= qfile_extracted_bit(rec->type);
		if (rec->type == REC_TYPE_WARN
		    && qfile_parse_warn(rec->data, rec->len, &val) < 0)
			return qfile_corrupt(why, rec->offset, "malformed %s "
			    "record (expected a time in seconds)", name);
		break;
	}

	/* Where the records meet the size record's promises. */
	switch (rec->type) {
	case REC_TYPE_MESG:
		if (w->rcpts == 0)
			return qfile_corrupt(why, rec->offset, "no recipients");
		if (w->flags & QFILE_FLAG_MAILDROP)
			break;
		if (w->rcpts != w->size.rcpt_count)
			return qfile_corrupt(why, rec->offset, "the size "
			    "record says %ld recipients, the file holds %ld",
			    w->size.rcpt_count, w->rcpts);
		if (rec->offset != w->size.mesg_offset)
			return qfile_corrupt(why, rec->offset,
			    "message_content record, but the size record "
			    "says it is at offset %lld",
			    (long long)w->size.mesg_offset);
		if (__builtin_add_overflow(rec->next, w->size.content_size,
		    &w->content_end))
			return qfile_corrupt(why, 0, "content size out of "
			    "range");
		break;
	case REC_TYPE_NORM:
	case REC_TYPE_CONT:
		if (w->content_end >= 0 && rec->next > w->content_end)
			return qfile_corrupt(why, rec->offset, "content runs "
			    "past offset %lld, where the size record says it "
			    "ends", (long long)w->content_end);
		break;
	case REC_TYPE_XTRA:
		if (w->content_end >= 0 && rec->offset != w->content_end)
			return qfile_corrupt(why, rec->offset, "message_end "
			    "record, but the size record says the content "
			    "ends at offset %lld", (long long)w->content_end);
		break;
	case REC_TYPE_END:
		if ((rc = rd_at_eof(&w->r, &at_eof, why)) != QFILE_OK)
			return rc;
		if (!at_eof)
			return qfile_corrupt(why, rec->next, "garbage after "
			    "the end record");
		break;
	}
	return QFILE_OK;
}

int
qfile_walk(int fd, int flags, qfile_walk_fn fn, void *ctx, struct buf *why)
{
	struct qfile_walker w = {0};
	struct qfile_rec rec;
	struct buf copy;
	int rc, next;

	rd_init(&w.r, fd, 0);
	w.flags = flags;
	w.state = flags & QFILE_FLAG_MAILDROP ? QS_DROP : QS_SIZE;
	w.content_end = -1;
	w.attrs = htable_new(16);
	buf_init(&copy, 256);
	for (;;) {
		rc = rd_next(&w.r, &rec, why);
		if (rc == QFILE_RD_EOF) {
			rc = qfile_corrupt(why, rd_tell(&w.r), "expected %s, "
			    "found end of file", qfile_expect[w.state]);
			break;
		}
		if (rc != QFILE_OK)
			break;
		if ((next = qfile_transition(w.state, rec.type)) < 0) {
			rc = qfile_corrupt(why, rec.offset, "expected %s, "
			    "found %s record", qfile_expect[w.state],
			    rec_type_name(rec.type));
			break;
		}
		w.state = (enum qfile_state)next;
		/*
		 * A NUL-terminated copy (text records become strings), made
		 * now: checking END reads on, which moves the buffer.
		 */
		if (fn != NULL) {
			buf_setn(&copy, rec.data, rec.len);
			rec.data = copy.data;
		}
		if ((rc = qfile_check(&w, &rec, why)) != QFILE_OK)
			break;
		if (fn != NULL && (rc = fn(ctx, &rec)) != 0)
			break;
		if (w.state == QS_END)
			break;
		if (rec.type == REC_TYPE_MESG && w.content_end >= 0
		    && (flags & QFILE_FLAG_SKIP_CONTENT)
		    && (rc = rd_seek(&w.r, w.content_end, why)) != QFILE_OK)
			break;
	}
	htable_free(w.attrs, NULL);
	buf_fini(&copy);
	rd_fini(&w.r);
	return rc;
}

/* ---- the envelope in memory ------------------------------------------- */

struct qfile_loader {
	struct qfile *qf;
	size_t attr_alloc;
	size_t rcpt_alloc;
	char *orcpt;			/* pending for the next recipient */
	char *notify;
};

static int
qfile_load_record(void *ctx, const struct qfile_rec *rec)
{
	struct qfile_loader *ld = ctx;
	struct qfile *qf = ld->qf;
	struct qfile_rcpt *rcpt;
	struct qfile_attr *attr;
	const char *eq;

	switch (rec->type) {
	case REC_TYPE_SIZE:
		(void)qfile_parse_size(rec->data, rec->len, &qf->size);
		break;
	case REC_TYPE_TIME:
		(void)qfile_parse_time(rec->data, rec->len, &qf->arrival);
		break;
	case REC_TYPE_ATTR:
		if (qf->attr_count == ld->attr_alloc) {
			ld->attr_alloc = ld->attr_alloc ?
			    2 * ld->attr_alloc : 8;
			qf->attrs = xreallocarray(qf->attrs, ld->attr_alloc,
			    sizeof(*qf->attrs));
		}
		attr = &qf->attrs[qf->attr_count++];
		eq = strchr(rec->data, '=');
		attr->name = xstrndup(rec->data, (size_t)(eq - rec->data));
		attr->value = xstrdup(eq + 1);
		break;
	case REC_TYPE_FROM:
		qf->sender = xstrdup(rec->data);
		break;
	case REC_TYPE_ORCP:
		ld->orcpt = xstrdup(rec->data);
		break;
	case REC_TYPE_NOTIFY:
		ld->notify = xstrdup(rec->data);
		break;
	case REC_TYPE_RCPT:
	case REC_TYPE_DONE:
		if (qf->rcpt_count == ld->rcpt_alloc) {
			ld->rcpt_alloc = ld->rcpt_alloc ?
			    2 * ld->rcpt_alloc : 8;
			qf->rcpts = xreallocarray(qf->rcpts, ld->rcpt_alloc,
			    sizeof(*qf->rcpts));
		}
		rcpt = &qf->rcpts[qf->rcpt_count++];
		rcpt->addr = xstrdup(rec->data);
		rcpt->orcpt = ld->orcpt;
		rcpt->notify = ld->notify;
		ld->orcpt = ld->notify = NULL;
		rcpt->offset = rec->offset;
		rcpt->done = rec->type == REC_TYPE_DONE;
		if (rcpt->done)
			qf->done_count++;
		break;
	case REC_TYPE_MESG:
		qf->content_offset = rec->next;
		break;
	case REC_TYPE_XTRA:
		qf->xtra_offset = rec->offset;
		break;
	case REC_TYPE_RRTO:
		qf->rrto = xstrdup(rec->data);
		break;
	case REC_TYPE_ERTO:
		qf->erto = xstrdup(rec->data);
		break;
	case REC_TYPE_WARN:
		(void)qfile_parse_warn(rec->data, rec->len, &qf->warn_time);
		break;
	case REC_TYPE_END:
		qf->end_offset = rec->offset;
		break;
	}
	return 0;
}

static void
qfile_init(struct qfile *qf)
{
	memset(qf, 0, sizeof(*qf));
	qf->warn_time = -1;
}

int
qfile_read_flags(int fd, int flags, struct qfile *qf, struct buf *why)
{
	struct qfile_loader ld = {.qf = qf};
	int rc;

	qfile_init(qf);
	rc = qfile_walk(fd, flags, qfile_load_record, &ld, why);
	free(ld.orcpt);
	free(ld.notify);
	if (rc == QFILE_OK && (flags & QFILE_FLAG_MAILDROP)) {
		qf->size.mesg_offset = qf->content_offset - 2;
		qf->size.content_size = qf->xtra_offset - qf->content_offset;
		qf->size.rcpt_count = (long)qf->rcpt_count;
	}
	return rc;
}

int
qfile_read(int fd, struct qfile *qf, struct buf *why)
{
	return qfile_read_flags(fd, QFILE_FLAG_NONE, qf, why);
}

int
qfile_read_envelope(int fd, struct qfile *qf, struct buf *why)
{
	return qfile_read_flags(fd, QFILE_FLAG_SKIP_CONTENT, qf, why);
}

void
qfile_fini(struct qfile *qf)
{
	size_t i;

	for (i = 0; i < qf->attr_count; i++) {
		free(qf->attrs[i].name);
		free(qf->attrs[i].value);
	}
	free(qf->attrs);
	for (i = 0; i < qf->rcpt_count; i++) {
		free(qf->rcpts[i].addr);
		free(qf->rcpts[i].orcpt);
		free(qf->rcpts[i].notify);
	}
	free(qf->rcpts);
	free(qf->sender);
	free(qf->rrto);
	free(qf->erto);
	qfile_init(qf);
}

const char *
qfile_attr(const struct qfile *qf, const char *name)
{
	size_t i;

	for (i = 0; i < qf->attr_count; i++)
		if (strcmp(qf->attrs[i].name, name) == 0)
			return qf->attrs[i].value;
	return NULL;
}

int
qfile_mark_done(int fd, struct qfile *qf, size_t i)
{
	if (i >= qf->rcpt_count) {
		errno = EINVAL;
		return -1;
	}
	if (qf->rcpts[i].done)
		return 0;
	if (rec_mark_done(fd, qf->rcpts[i].offset) < 0)
		return -1;
	qf->rcpts[i].done = true;
	qf->done_count++;
	return 0;
}

/* ---- streaming the content -------------------------------------------- */

struct qfile_content {
	struct qfile_reader r;
	off_t end;			/* the XTRA record */
	struct qfile_rec rec;		/* the current record */
	size_t used;			/* of rec's data, handed out */
	bool pending;			/* rec has data left */
	bool in_line;			/* after a CONT: more follows */
	bool done;
};

struct qfile_content *
qfile_content_open(int fd, const struct qfile *qf)
{
	struct qfile_content *qc;

	if (qf->content_offset <= 0 || qf->xtra_offset < qf->content_offset)
		msg_panic("qfile_content_open: the file was not accepted");
	qc = xcalloc(1, sizeof(*qc));
	rd_init(&qc->r, fd, qf->content_offset);
	qc->end = qf->xtra_offset;
	return qc;
}

/* Read the next content record into qc->rec: 1, QFILE_END or an error. */
static int
qfile_content_record(struct qfile_content *qc, struct buf *why)
{
	off_t off = rd_tell(&qc->r);
	int rc;

	if (off == qc->end) {
		if (qc->in_line)
			return qfile_corrupt(why, off, "the content ends "
			    "inside a line");
		qc->done = true;
		return QFILE_END;
	}
	if ((rc = rd_next(&qc->r, &qc->rec, why)) == QFILE_RD_EOF)
		return qfile_corrupt(why, off, "expected content record, "
		    "found end of file");
	if (rc != QFILE_OK)
		return rc;
	if (!qfile_is_content(qc->rec.type))
		return qfile_corrupt(why, off, "expected content record, "
		    "found %s record", rec_type_name(qc->rec.type));
	if (qc->rec.next > qc->end)
		return qfile_corrupt(why, off, "content runs past offset "
		    "%lld, where the size record says it ends",
		    (long long)qc->end);
	qc->used = 0;
	qc->pending = true;
	return 1;
}

int
qfile_content_next(struct qfile_content *qc, struct buf *out, size_t limit,
    struct buf *why)
{
	size_t n;
	int rc;

	if (limit == 0)
		msg_panic("qfile_content_next: zero limit");
	buf_reset(out);
	if (qc->done)
		return QFILE_END;
	for (;;) {
		/* At the end, out is empty: the last piece was a LINE. */
		if (!qc->pending && (rc = qfile_content_record(qc, why)) <= 0)
			return rc;
		n = qc->rec.len - qc->used;
		if (n > limit - out->len)
			n = limit - out->len;
		buf_append(out, qc->rec.data + qc->used, n);
		qc->used += n;
		if (qc->used < qc->rec.len)
			return QFILE_PART;	/* out is full */
		qc->pending = false;
		qc->in_line = qc->rec.type == REC_TYPE_CONT;
		if (!qc->in_line)
			return QFILE_LINE;
	}
}

off_t
qfile_content_offset(const struct qfile_content *qc)
{
	return rd_tell(&qc->r);
}

void
qfile_content_close(struct qfile_content *qc)
{
	if (qc == NULL)
		return;
	rd_fini(&qc->r);
	free(qc);
}
