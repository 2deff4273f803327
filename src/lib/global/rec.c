/*
 * rec.c - read and write queue-file records (type byte, length, data)
 *
 * rec_encode() builds records in memory, rec_put() and friends write them
 * to a stream, rec_get() reads one from a stream and rec_decode() parses
 * one from memory (pure: usable on a partial buffer, it asks for more
 * input by returning 0). rec_mark_done() flips a recipient's type byte
 * in place in an open queue file.
 *
 * The length is a base-128 varint, least significant group first, at
 * most REC_LEN_BYTES bytes, canonical: a final group of zero after
 * other groups (0x80 0x00) is rejected, so every length has exactly one
 * spelling and a record cannot be made to look different to two readers.
 *
 * SECURITY: queue files and cleanup streams may be corrupt or forged.
 * Every length is checked against the caller's limit as soon as it is
 * decoded, before any allocation; rec_get() then grows its buffer in
 * bounded steps, so a forged length within the limit but with nothing
 * behind it costs no more memory than the bytes actually sent. Unknown
 * types, over-long or non-canonical lengths and truncation are returned
 * to the caller with a reason; nothing here is fatal.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "msg.h"
#include "rec.h"
#include "stream.h"

/* rec_get() grows its buffer at most this much ahead of the data read. */
#define REC_GET_CHUNK	65536

static const struct {
	int type;
	const char *name;
} rec_names[] = {
	{REC_TYPE_SIZE, "size"},
	{REC_TYPE_TIME, "time"},
	{REC_TYPE_ATTR, "named_attribute"},
	{REC_TYPE_FROM, "sender"},
	{REC_TYPE_ORCP, "original_recipient"},
	{REC_TYPE_NOTIFY, "dsn_notify_flags"},
	{REC_TYPE_RCPT, "recipient"},
	{REC_TYPE_DONE, "done_recipient"},
	{REC_TYPE_MESG, "message_content"},
	{REC_TYPE_NORM, "regular_text"},
	{REC_TYPE_CONT, "pointer_text"},
	{REC_TYPE_XTRA, "message_end"},
	{REC_TYPE_RRTO, "return_receipt"},
	{REC_TYPE_ERTO, "errors_to"},
	{REC_TYPE_WARN, "warning_time"},
	{REC_TYPE_END, "end"},
};

#define REC_NNAMES	(sizeof(rec_names) / sizeof(rec_names[0]))

bool
rec_type_known(int type)
{
	size_t i;

	for (i = 0; i < REC_NNAMES; i++)
		if (rec_names[i].type == type)
			return true;
	return false;
}

const char *
rec_type_name(int type)
{
	size_t i;

	for (i = 0; i < REC_NNAMES; i++)
		if (rec_names[i].type == type)
			return rec_names[i].name;
	return "unknown";
}

/* Encode len as a varint into out (REC_LEN_BYTES); returns bytes used. */
static size_t
rec_len_encode(unsigned char *out, size_t len)
{
	size_t n = 0;

	do {
		out[n] = len & 0x7f;
		len >>= 7;
		if (len != 0)
			out[n] |= 0x80;
		n++;
	} while (len != 0);
	return n;
}

/*
 * Our own writers never produce a record longer than the format can
 * express: that would be a bug, not bad input.
 */
static void
rec_len_check(size_t len)
{
	if ((uint64_t)len >> (7 * REC_LEN_BYTES) != 0)
		msg_panic("record length %zu exceeds the record format", len);
}

void
rec_encode(struct buf *out, int type, const void *data, size_t len)
{
	unsigned char hdr[1 + REC_LEN_BYTES + 1];
	size_t n;

	rec_len_check(len);
	hdr[0] = (unsigned char)type;
	n = rec_len_encode(hdr + 1, len);
	buf_append(out, hdr, 1 + n);
	if (len)
		buf_append(out, data, len);
}

int
rec_put(struct stream *s, int type, const void *data, size_t len)
{
	unsigned char hdr[1 + REC_LEN_BYTES + 1];
	size_t n;

	rec_len_check(len);
	hdr[0] = (unsigned char)type;
	n = rec_len_encode(hdr + 1, len);
	if (stream_write(s, hdr, 1 + n) < 0)
		return -1;
	if (len && stream_write(s, data, len) < 0)
		return -1;
	return 0;
}

int
rec_puts(struct stream *s, int type, const char *text)
{
	return rec_put(s, type, text, strlen(text));
}

int
rec_fprintf(struct stream *s, int type, const char *fmt, ...)
{
	struct buf tmp;
	va_list ap;
	int ret;

	buf_init(&tmp, 64);
	va_start(ap, fmt);
	buf_vprintf(&tmp, fmt, ap);
	va_end(ap);
	ret = rec_put(s, type, tmp.data, tmp.len);
	buf_fini(&tmp);
	return ret;
}

/*
 * Varint state machine shared by rec_decode() and rec_get(): feed one
 * byte at a time. Returns 1 when the length is complete (in *len), 0
 * when another byte is needed, -1 with why when it is malformed.
 */
struct rec_len_state {
	uint64_t value;
	int count;
};

static int
rec_len_feed(struct rec_len_state *st, unsigned char ch, size_t limit,
    struct buf *why)
{
	st->value |= (uint64_t)(ch & 0x7f) << (7 * st->count);
	st->count++;
	if (ch & 0x80) {
		if (st->count >= REC_LEN_BYTES) {
			buf_reset(why);
			buf_printf(why, "record length longer than %d bytes",
			    REC_LEN_BYTES);
			return -1;
		}
		return 0;
	}
	if (ch == 0 && st->count > 1) {
		buf_set(why, "non-canonical record length");
		return -1;
	}
	if (st->value > (uint64_t)limit) {
		buf_reset(why);
		buf_printf(why, "record of %llu bytes exceeds limit %zu",
		    (unsigned long long)st->value, limit);
		return -1;
	}
	return 1;
}

static int
rec_type_check(int type, struct buf *why)
{
	if (rec_type_known(type))
		return 0;
	buf_reset(why);
	buf_printf(why, "unknown record type 0x%02x", (unsigned)type);
	return -1;
}

ssize_t
rec_decode(const char *in, size_t len, size_t limit, int *type,
    size_t *data_off, size_t *data_len, struct buf *why)
{
	const unsigned char *p = (const unsigned char *)in;
	struct rec_len_state st = {0, 0};
	size_t off, end;
	int ret;

	if (len == 0)
		return 0;
	if (rec_type_check(p[0], why) < 0)
		return -1;
	for (off = 1;; off++) {
		if (off >= len)
			return 0;
		ret = rec_len_feed(&st, p[off], limit, why);
		if (ret < 0)
			return -1;
		if (ret > 0)
			break;
	}
	off++;
	/* st.value <= limit, a size_t; the sum can still overflow. */
	if (__builtin_add_overflow(off, (size_t)st.value, &end)
	    || end > (size_t)SSIZE_MAX) {
		buf_set(why, "record length out of range");
		return -1;
	}
	if (end > len)
		return 0;
	*type = p[0];
	*data_off = off;
	*data_len = (size_t)st.value;
	return (ssize_t)end;
}

/* Explain a stream failure; what names where in the record it happened. */
static void
rec_stream_why(struct stream *s, struct buf *why, const char *what)
{
	buf_reset(why);
	switch (stream_error(s)) {
	case STREAM_ERR_EOF:
		if (what == NULL)
			buf_set(why, "unexpected end of input");
		else
			buf_printf(why, "truncated record %s", what);
		break;
	case STREAM_ERR_TIMEOUT:
		buf_set(why, "timeout reading record");
		break;
	case STREAM_ERR_LIMIT:
		buf_set(why, "record read limit exceeded");
		break;
	default:
		buf_printf(why, "record read error: %s", strerror(errno));
		break;
	}
}

int
rec_get(struct stream *s, struct buf *data, size_t limit, struct buf *why)
{
	struct rec_len_state st = {0, 0};
	size_t want, chunk;
	int type, ch, ret;

	buf_reset(data);
	if ((type = stream_getc(s)) < 0) {
		rec_stream_why(s, why, NULL);
		return -1;
	}
	if (rec_type_check(type, why) < 0)
		return -1;
	do {
		if ((ch = stream_getc(s)) < 0) {
			rec_stream_why(s, why, "length");
			return -1;
		}
		if ((ret = rec_len_feed(&st, (unsigned char)ch, limit,
		    why)) < 0)
			return -1;
	} while (ret == 0);

	/*
	 * Grow in bounded steps: the length is within the caller's limit,
	 * but the bytes behind it may never arrive.
	 */
	want = (size_t)st.value;
	while (data->len < want) {
		chunk = want - data->len;
		if (chunk > REC_GET_CHUNK)
			chunk = REC_GET_CHUNK;
		buf_reserve(data, chunk);
		if (stream_read(s, data->data + data->len, chunk) < 0) {
			data->data[data->len] = 0;
			rec_stream_why(s, why, "data");
			return -1;
		}
		data->len += chunk;
		data->data[data->len] = 0;
	}
	return type;
}

int
rec_mark_done(int fd, off_t offset)
{
	char ch;
	ssize_t n;

	if ((n = pread(fd, &ch, 1, offset)) < 0)
		return -1;
	if (n != 1 || ch != REC_TYPE_RCPT) {
		errno = EINVAL;
		return -1;
	}
	ch = REC_TYPE_DONE;
	if ((n = pwrite(fd, &ch, 1, offset)) < 0)
		return -1;
	if (n != 1) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}
