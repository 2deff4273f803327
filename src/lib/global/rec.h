/*
 * rec.h - queue file records: a type byte, a length, the data
 *
 * Queue files (incoming/ active/ deferred/ ...), maildrop files written
 * by postdrop, and the stream a client sends to cleanup all use one
 * format: a sequence of records
 *
 *	type	one byte (REC_TYPE_*)
 *	length	the data length as a base-128 varint, least significant
 *		group first, high bit set on every byte but the last;
 *		at most REC_LEN_BYTES bytes, canonical (no trailing 0x80 0x00)
 *	data	length bytes (binary-safe; text records hold no NUL)
 *
 * Structure of a queue file (cleanup writes it, qfile.h checks it):
 *	REC_TYPE_SIZE	fixed-width text "%15ld %15ld %15ld %15ld":
 *			offset of REC_TYPE_MESG, content bytes,
 *			recipients, flags (rewritten in place at the end)
 *	REC_TYPE_TIME	arrival "sec usec"
 *	REC_TYPE_ATTR*	"name=value" (e.g. log_ident, rewrite_context,
 *			envelope ID, return/DSN options, client info)
 *	REC_TYPE_FROM	envelope sender ("" for the null sender)
 *	(REC_TYPE_ORCP? REC_TYPE_DSN_NOTIFY? REC_TYPE_RCPT | REC_TYPE_DONE)*
 *			ORCP/NOTIFY apply to the next RCPT; a delivered
 *			recipient's type byte is rewritten in place from
 *			REC_TYPE_RCPT to REC_TYPE_DONE (rec_mark_done)
 *	REC_TYPE_MESG	start of content (data: empty)
 *	(REC_TYPE_NORM | REC_TYPE_CONT)*
 *			message lines without their line ending; NORM ends
 *			a line, CONT is a piece of a longer line
 *	REC_TYPE_XTRA	end of content (data: empty)
 *	REC_TYPE_RRTO? REC_TYPE_ERTO? ... extracted information
 *	REC_TYPE_END	end of file (data: empty)
 *
 * SECURITY: files and streams may be corrupt or forged. rec_get() checks
 * every length against the caller's limit before allocating, rejects
 * unknown types, non-canonical lengths and truncation, and reports the
 * problem to the caller (a queue file then goes to corrupt/); nothing
 * here is fatal.
 */
#ifndef PETREL_REC_H
#define PETREL_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct stream;

#define REC_TYPE_SIZE	'C'	/* sizes and offsets (fixed width) */
#define REC_TYPE_TIME	'T'	/* arrival time */
#define REC_TYPE_ATTR	'A'	/* name=value */
#define REC_TYPE_FROM	'S'	/* envelope sender */
#define REC_TYPE_ORCP	'O'	/* original recipient (DSN ORCPT) */
#define REC_TYPE_NOTIFY	'n'	/* DSN NOTIFY flags of the next RCPT */
#define REC_TYPE_RCPT	'R'	/* recipient, not yet delivered */
#define REC_TYPE_DONE	'D'	/* recipient, delivered or bounced */
#define REC_TYPE_MESG	'M'	/* start of content */
#define REC_TYPE_NORM	'N'	/* a whole content line */
#define REC_TYPE_CONT	'L'	/* part of a long content line */
#define REC_TYPE_XTRA	'X'	/* end of content */
#define REC_TYPE_RRTO	'r'	/* Return-Receipt-To: (extracted) */
#define REC_TYPE_ERTO	'e'	/* Errors-To: (extracted) */
#define REC_TYPE_WARN	'W'	/* delay warning time */
#define REC_TYPE_END	'E'	/* end of file */

#define REC_LEN_BYTES	5	/* varint bytes: up to 2^35 - 1 */
/* Width of the REC_TYPE_SIZE fields, so it can be rewritten in place. */
#define REC_SIZE_WIDTH	15

/* True for the types above. */
bool rec_type_known(int type);
/* Human name for `petrel cat` and logs ("recipient", "sender" ...). */
const char *rec_type_name(int type);

/* Append one record to out (for building records in memory). */
void rec_encode(struct buf *out, int type, const void *data, size_t len);
/* Write one record to a stream; 0 or -1 (stream error). */
int rec_put(struct stream *s, int type, const void *data, size_t len);
int rec_puts(struct stream *s, int type, const char *text);
int rec_fprintf(struct stream *s, int type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Read one record from a stream into data (replaced). Returns the type
 * (> 0), or -1 with why set: end of input ("unexpected end of input"),
 * truncation, unknown type, a length over limit ("record of 2000000
 * bytes exceeds limit 1048576"), a non-canonical length, I/O error.
 */
int rec_get(struct stream *s, struct buf *data, size_t limit,
    struct buf *why);
/*
 * Decode one record from memory. Returns the bytes used (> 0) with
 * *type and the data's offset/length set; 0 when more input is needed;
 * -1 with why on malformed input (same checks as rec_get).
 */
ssize_t rec_decode(const char *in, size_t len, size_t limit, int *type,
    size_t *data_off, size_t *data_len, struct buf *why);

/*
 * Rewrite, in place, the type byte at offset (which must hold
 * REC_TYPE_RCPT) to REC_TYPE_DONE, and fsync. 0, or -1 with errno
 * (EINVAL when the byte there is not REC_TYPE_RCPT).
 */
int rec_mark_done(int fd, off_t offset);

#endif
