/*
 * attr.c - IPC attributes: netstring-encoded name/value messages
 *
 * A message is a sequence of netstring pairs (name, value) ended by the
 * empty name "0:,". attr_encode() builds one; attr_parse() decodes one
 * from memory and tells "malformed" (-1) from "not complete yet" (0), so
 * a non-blocking reader can simply try again with more bytes;
 * attr_recv_message() reads one from a stream, byte by byte for lengths
 * and in one piece for names and values. attr_extract() turns the
 * decoded pairs into typed values, strictly when asked.
 *
 * Both decoders share one length scanner (attr_len_feed), so they
 * accept and reject exactly the same inputs with the same reasons.
 *
 * SECURITY: every byte here may come from a confused or compromised
 * peer. A length is checked against its limit before anything is
 * allocated or read, lengths are canonical (at most 10 digits, no
 * leading zeros), names are [a-z0-9_]+, and the first violation ends
 * the message. Reasons show peer bytes only in hex or made printable
 * and bounded.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "str.h"
#include "stream.h"

/* 10 digits cover every length up to the largest sane limit. */
#define ATTR_LEN_DIGITS		10
/* Longest value quoted in an extraction error. */
#define ATTR_QUOTE_MAX		64

static const struct attr_limits attr_default_limits = {
	.max_attrs = ATTR_DEF_MAX_ATTRS,
	.max_name = ATTR_DEF_MAX_NAME,
	.max_value = ATTR_DEF_MAX_VALUE,
	.max_total = ATTR_DEF_MAX_TOTAL,
};

/*
 * The sum of the value lengths must stay within the limit, so a peer
 * cannot make us hold max_attrs * max_value bytes.
 */
static int
attr_total_check(unsigned long long n, size_t *total,
    const struct attr_limits *lim, struct buf *why)
{
	size_t max = lim->max_total ? lim->max_total : ATTR_DEF_MAX_TOTAL;

	if (n > max - *total) {
		buf_printf(why, "message larger than %zu bytes", max);
		return -1;
	}
	*total += (size_t)n;
	return 0;
}

/* State of one netstring length being scanned. */
struct attr_len {
	unsigned long long val;
	int digits;
};

enum attr_len_result {
	ATTR_LEN_MORE,		/* need the next byte */
	ATTR_LEN_DONE,		/* ':' seen, val is the length */
	ATTR_LEN_BAD,		/* why set */
};

static inline bool
attr_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
	    || ch == '_';
}

static inline bool
attr_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * Feed one byte of a length to the scanner. index is the attribute
 * number (1-based) and what is "name" or "value", for the reason.
 */
static enum attr_len_result
attr_len_feed(struct attr_len *st, int ch, size_t index, const char *what,
    struct buf *why)
{
	if (ch == ':' && st->digits > 0)
		return ATTR_LEN_DONE;
	if (!attr_digit(ch)) {
		buf_printf(why, "attribute %zu: %s length: unexpected byte "
		    "0x%02x", index, what, (unsigned)ch);
		return ATTR_LEN_BAD;
	}
	if (st->digits == 1 && st->val == 0) {
		buf_printf(why, "attribute %zu: %s length: leading zero",
		    index, what);
		return ATTR_LEN_BAD;
	}
	if (st->digits == ATTR_LEN_DIGITS) {
		buf_printf(why, "attribute %zu: %s length: more than %d "
		    "digits", index, what, ATTR_LEN_DIGITS);
		return ATTR_LEN_BAD;
	}
	st->val = st->val * 10 + (unsigned long long)(ch - '0');
	st->digits++;
	return ATTR_LEN_MORE;
}

static int
attr_len_check(unsigned long long len, size_t limit, size_t index,
    const char *what, struct buf *why)
{
	if (len > limit) {
		buf_printf(why, "attribute %zu: %s length %llu exceeds limit "
		    "%zu", index, what, len, limit);
		return -1;
	}
	return 0;
}

/* Names: [a-z0-9_]; checked on whatever part has arrived. */
static int
attr_name_check(const char *name, size_t len, size_t index, struct buf *why)
{
	for (size_t i = 0; i < len; i++) {
		if (!attr_name_char((unsigned char)name[i])) {
			buf_printf(why, "attribute %zu: bad byte 0x%02x in "
			    "name", index, (unsigned char)name[i]);
			return -1;
		}
	}
	return 0;
}

static int
attr_comma(int ch, size_t index, const char *what, struct buf *why)
{
	if (ch == ',')
		return 0;
	buf_printf(why, "attribute %zu: missing ',' after %s", index, what);
	return -1;
}

void
attr_list_init(struct attr_list *list)
{
	list->pairs = NULL;
	list->count = 0;
	list->cap = 0;
}

void
attr_list_reset(struct attr_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->pairs[i].name);
		buf_fini(&list->pairs[i].value);
	}
	list->count = 0;
}

void
attr_list_fini(struct attr_list *list)
{
	attr_list_reset(list);
	free(list->pairs);
	attr_list_init(list);
}

/* Append a pair; the value is left empty for the caller to fill. */
static struct attr_pair *
attr_list_add(struct attr_list *list, const char *name, size_t name_len,
    size_t value_len)
{
	struct attr_pair *pair;

	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->pairs = xreallocarray(list->pairs, list->cap,
		    sizeof(list->pairs[0]));
	}
	pair = &list->pairs[list->count++];
	pair->name = xstrndup(name, name_len);
	buf_init(&pair->value, value_len);
	return pair;
}

const struct buf *
attr_list_get(const struct attr_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->pairs[i].name, name) == 0)
			return &list->pairs[i].value;
	return NULL;
}

static void
attr_netstring(struct buf *out, const void *data, size_t len)
{
	buf_printf(out, "%zu:", len);
	buf_append(out, data, len);
	buf_putc(out, ',');
}

void
attr_encode(struct buf *out, const struct attr_spec *spec)
{
	struct buf num;

	buf_init(&num, 24);
	for (; spec->type != ATTR_T_END; spec++) {
		size_t name_len = spec->name ? strlen(spec->name) : 0;

		/* A bad name is our bug: the peer would reject the message. */
		if (name_len == 0 || name_len > ATTR_DEF_MAX_NAME
		    || attr_name_check(spec->name, name_len, 0, &num) < 0)
			msg_panic("attr_encode: bad attribute name \"%s\"",
			    spec->name ? spec->name : "(null)");
		attr_netstring(out, spec->name, name_len);
		switch (spec->type) {
		case ATTR_T_STR:
			attr_netstring(out, spec->in.str ? spec->in.str : "",
			    spec->in.str ? strlen(spec->in.str) : 0);
			break;
		case ATTR_T_INT:
			buf_reset(&num);
			buf_printf(&num, "%d", spec->in.num);
			attr_netstring(out, num.data, num.len);
			break;
		case ATTR_T_LONG:
			buf_reset(&num);
			buf_printf(&num, "%ld", spec->in.lnum);
			attr_netstring(out, num.data, num.len);
			break;
		case ATTR_T_DATA:
			attr_netstring(out, spec->in.data.ptr,
			    spec->in.data.ptr ? spec->in.data.len : 0);
			break;
		default:
			msg_panic("attr_encode: attribute \"%s\": bad type %d",
			    spec->name, (int)spec->type);
		}
	}
	buf_fini(&num);
	buf_puts(out, "0:,");
}

/*
 * Scan one netstring length starting at data[*pos]. Returns 1 with *pos
 * after the ':', 0 when the data ends first, -1 on a bad length.
 */
static int
attr_parse_len(const char *data, size_t len, size_t *pos,
    unsigned long long *val, size_t index, const char *what,
    struct buf *why)
{
	struct attr_len st = {0};

	for (; *pos < len; (*pos)++) {
		switch (attr_len_feed(&st, (unsigned char)data[*pos], index,
		    what, why)) {
		case ATTR_LEN_MORE:
			continue;
		case ATTR_LEN_DONE:
			(*pos)++;
			*val = st.val;
			return 1;
		case ATTR_LEN_BAD:
			return -1;
		}
	}
	return 0;
}

ssize_t
attr_parse(struct attr_list *list, const char *data, size_t len,
    const struct attr_limits *lim, struct buf *why)
{
	struct attr_pair *pair;
	unsigned long long n;
	size_t pos = 0, index, name_pos, name_len, avail, total = 0;
	int ret;

	if (lim == NULL)
		lim = &attr_default_limits;
	attr_list_reset(list);
	buf_reset(why);
	for (index = 1;; index++) {
		/* Name, or the empty name that ends the message. */
		if ((ret = attr_parse_len(data, len, &pos, &n, index, "name",
		    why)) <= 0)
			goto out;
		if (n == 0) {
			if (pos == len) {
				ret = 0;
				goto out;
			}
			if ((ret = attr_comma((unsigned char)data[pos], index,
			    "name", why)) < 0)
				goto out;
			/* pos < len <= SSIZE_MAX: the cast is safe. */
			return (ssize_t)(pos + 1);
		}
		if (index > lim->max_attrs) {
			buf_printf(why, "more than %zu attributes",
			    lim->max_attrs);
			ret = -1;
			goto out;
		}
		if ((ret = attr_len_check(n, lim->max_name, index, "name",
		    why)) < 0)
			goto out;
		name_pos = pos;
		avail = len - pos < n ? len - pos : (size_t)n;
		if ((ret = attr_name_check(data + pos, avail, index,
		    why)) < 0)
			goto out;
		if (avail < n || len - pos == n) {
			ret = 0;
			goto out;
		}
		name_len = (size_t)n;
		pos += name_len;
		if ((ret = attr_comma((unsigned char)data[pos++], index,
		    "name", why)) < 0)
			goto out;

		/* Value. */
		if ((ret = attr_parse_len(data, len, &pos, &n, index, "value",
		    why)) <= 0)
			goto out;
		if ((ret = attr_len_check(n, lim->max_value, index, "value",
		    why)) < 0)
			goto out;
		if ((ret = attr_total_check(n, &total, lim, why)) < 0)
			goto out;
		if (len - pos <= n) {
			ret = 0;
			goto out;
		}
		if ((ret = attr_comma((unsigned char)data[pos + n], index,
		    "value", why)) < 0)
			goto out;
		pair = attr_list_add(list, data + name_pos, name_len,
		    (size_t)n);
		buf_append(&pair->value, data + pos, (size_t)n);
		pos += n + 1;
	}
out:
	attr_list_reset(list);
	return ret;
}

/* Append a printable, bounded copy of a value to why. */
static void
attr_quote(struct buf *why, const struct buf *value)
{
	size_t len = value->len;

	buf_putc(why, '"');
	str_printable(why, value->data, len > ATTR_QUOTE_MAX ?
	    ATTR_QUOTE_MAX : len);
	if (len > ATTR_QUOTE_MAX)
		buf_puts(why, "...");
	buf_putc(why, '"');
}

static int
attr_convert(const struct attr_spec *spec, const struct buf *value,
    struct buf *why)
{
	bool text = memchr(value->data, 0, value->len) == NULL;
	long lnum;
	int num;

	switch (spec->type) {
	case ATTR_T_STR:
		if (!text) {
			buf_printf(why, "attribute \"%s\": value contains a "
			    "NUL byte", spec->name);
			return -1;
		}
		/* FALLTHROUGH */
	case ATTR_T_DATA:
		if (spec->out.buf)
			buf_setn(spec->out.buf, value->data, value->len);
		return 0;
	case ATTR_T_INT:
		if (!text || str_to_int(value->data, &num) < 0) {
			buf_printf(why, "attribute \"%s\": bad int value ",
			    spec->name);
			attr_quote(why, value);
			return -1;
		}
		if (spec->out.num)
			*spec->out.num = num;
		return 0;
	case ATTR_T_LONG:
		if (!text || str_to_long(value->data, &lnum) < 0) {
			buf_printf(why, "attribute \"%s\": bad long value ",
			    spec->name);
			attr_quote(why, value);
			return -1;
		}
		if (spec->out.lnum)
			*spec->out.lnum = lnum;
		return 0;
	default:
		msg_panic("attr_extract: attribute \"%s\": bad type %d",
		    spec->name, (int)spec->type);
	}
}

static bool
attr_spec_has(const struct attr_spec *spec, const char *name)
{
	for (; spec->type != ATTR_T_END; spec++)
		if (strcmp(spec->name, name) == 0)
			return true;
	return false;
}

int
attr_extract(const struct attr_list *list, int flags,
    const struct attr_spec *spec, struct buf *why)
{
	const struct attr_spec *sp;
	const struct attr_pair *found;
	size_t i, seen;
	int filled = 0;

	buf_reset(why);
	if (flags & ATTR_STRICT) {
		for (sp = spec; sp->type != ATTR_T_END; sp++) {
			for (seen = 0, i = 0; i < list->count; i++)
				seen += strcmp(list->pairs[i].name,
				    sp->name) == 0;
			if (seen != 1) {
				buf_printf(why, "%s attribute \"%s\"",
				    seen ? "duplicate" : "missing", sp->name);
				return -1;
			}
		}
		for (i = 0; !(flags & ATTR_ALLOW_EXTRA) && i < list->count;
		    i++) {
			if (!attr_spec_has(spec, list->pairs[i].name)) {
				buf_printf(why, "unexpected attribute \"%s\"",
				    list->pairs[i].name);
				return -1;
			}
		}
	}
	for (sp = spec; sp->type != ATTR_T_END; sp++) {
		found = NULL;
		for (i = 0; i < list->count && found == NULL; i++)
			if (strcmp(list->pairs[i].name, sp->name) == 0)
				found = &list->pairs[i];
		if (found == NULL)
			continue;
		if (attr_convert(sp, &found->value, why) < 0)
			return -1;
		filled++;
	}
	return filled;
}

int
attr_send_list(struct stream *s, const struct attr_spec *spec)
{
	struct buf msg;
	int ret;

	buf_init(&msg, 256);
	attr_encode(&msg, spec);
	ret = stream_write(s, msg.data, msg.len) < 0 || stream_flush(s) < 0
	    ? -1 : 0;
	buf_fini(&msg);
	return ret;
}

static void
attr_stream_why(struct stream *s, struct buf *why)
{
	switch (stream_error(s)) {
	case STREAM_ERR_EOF:
		buf_puts(why, "unexpected end of input");
		break;
	case STREAM_ERR_TIMEOUT:
		buf_puts(why, "timeout");
		break;
	case STREAM_ERR_IO:
		buf_printf(why, "read error: %s", strerror(errno));
		break;
	default:
		buf_puts(why, "read error");
		break;
	}
}

/*
 * Read one netstring length from the stream. Returns 1, or -1 with why
 * set; *started tells whether any byte of the message was read.
 */
static int
attr_recv_len(struct stream *s, unsigned long long *val, size_t index,
    const char *what, bool *started, struct buf *why)
{
	struct attr_len st = {0};
	int ch;

	for (;;) {
		if ((ch = stream_getc(s)) < 0) {
			attr_stream_why(s, why);
			return -1;
		}
		*started = true;
		switch (attr_len_feed(&st, ch, index, what, why)) {
		case ATTR_LEN_MORE:
			continue;
		case ATTR_LEN_DONE:
			*val = st.val;
			return 1;
		case ATTR_LEN_BAD:
			return -1;
		}
	}
}

/* Read len bytes and the ',' that must follow them. */
static int
attr_recv_bytes(struct stream *s, struct buf *out, size_t len, size_t index,
    const char *what, struct buf *why)
{
	int ch;

	buf_reset(out);
	buf_reserve(out, len);
	if (len > 0 && stream_read(s, out->data, len) < 0) {
		attr_stream_why(s, why);
		return -1;
	}
	out->len = len;
	out->data[len] = 0;
	if ((ch = stream_getc(s)) < 0) {
		attr_stream_why(s, why);
		return -1;
	}
	return attr_comma(ch, index, what, why);
}

static int
attr_recv_pairs(struct stream *s, struct attr_list *list, bool *started,
    struct buf *why)
{
	const struct attr_limits *lim = &attr_default_limits;
	struct attr_pair *pair;
	struct buf name;
	unsigned long long n;
	size_t index, total = 0;
	int ret = -1;

	buf_init(&name, ATTR_DEF_MAX_NAME);
	for (index = 1;; index++) {
		if (attr_recv_len(s, &n, index, "name", started, why) < 0)
			goto out;
		if (n == 0) {
			if ((ret = stream_getc(s)) < 0)
				attr_stream_why(s, why);
			else
				ret = attr_comma(ret, index, "name", why);
			goto out;
		}
		if (index > lim->max_attrs) {
			buf_printf(why, "more than %zu attributes",
			    lim->max_attrs);
			goto out;
		}
		if (attr_len_check(n, lim->max_name, index, "name", why) < 0
		    || attr_recv_bytes(s, &name, (size_t)n, index, "name",
			why) < 0
		    || attr_name_check(name.data, name.len, index, why) < 0
		    || attr_recv_len(s, &n, index, "value", started, why) < 0
		    || attr_len_check(n, lim->max_value, index, "value",
			why) < 0
		    || attr_total_check(n, &total, lim, why) < 0)
			goto out;
		pair = attr_list_add(list, name.data, name.len, (size_t)n);
		if (attr_recv_bytes(s, &pair->value, (size_t)n, index, "value",
		    why) < 0)
			goto out;
	}
out:
	buf_fini(&name);
	return ret;
}

/*
 * A peer that closes the connection between messages is not an error
 * worth a warning (a client that is done): that case returns -1 without
 * logging, and stream_error() says STREAM_ERR_EOF.
 */
int
attr_recv_message(struct stream *s, struct attr_list *list)
{
	struct buf why;
	bool started = false;
	int ret;

	attr_list_reset(list);
	buf_init(&why, 128);
	if ((ret = attr_recv_pairs(s, list, &started, &why)) < 0) {
		if (started || stream_error(s) != STREAM_ERR_EOF)
			msg_warn("malformed IPC message: %s", why.data);
		attr_list_reset(list);
	}
	buf_fini(&why);
	return ret;
}

int
attr_recv_list(struct stream *s, int flags, const struct attr_spec *spec)
{
	struct attr_list list;
	struct buf why;
	int ret;

	attr_list_init(&list);
	buf_init(&why, 128);
	if ((ret = attr_recv_message(s, &list)) == 0
	    && (ret = attr_extract(&list, flags, spec, &why)) < 0)
		msg_warn("bad IPC message: %s", why.data);
	attr_list_fini(&list);
	buf_fini(&why);
	return ret;
}
