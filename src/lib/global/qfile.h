/*
 * qfile.h - read and validate whole queue files
 *
 * A queue file (structure in rec.h) is checked strictly, record by
 * record, in one forward pass that never holds the message content in
 * memory. Three ways in, all built on the same validating pass:
 *
 *	qfile_read()		the envelope into a struct qfile, checking
 *				every record, content included
 *	qfile_read_envelope()	the same, but jumping over the content
 *				with the offsets of the size record (qmgr:
 *				cost independent of the message size); the
 *				content is checked later, as it is read
 *	qfile_walk()		a callback per record, in file order
 *				(petrel cat prints as it goes)
 *
 * and qfile_content_open()/qfile_content_next() stream the content lines
 * of an accepted file (delivery agents, petrel cat).
 *
 * What "valid" means, beyond rec_decode()'s checks of each record:
 *	- every record is at most QFILE_RECORD_MAX data bytes; records other
 *	  than NORM/CONT hold no NUL byte;
 *	- the order is exactly SIZE TIME ATTR* FROM (ORCP? NOTIFY? (RCPT|
 *	  DONE))+ MESG (NORM|CONT)* XTRA (RRTO|ERTO|WARN)* END, where a CONT
 *	  is always followed by more of its line (CONT or NORM), each
 *	  extracted type appears at most once, and END is the last byte of
 *	  the file;
 *	- SIZE is exactly "%15ld %15ld %15ld %15ld" (right-aligned decimal,
 *	  no sign, no leading zero): the offset of the MESG record, the
 *	  content bytes (from the end of the MESG record to the start of
 *	  the XTRA record, record headers included), the number of
 *	  RCPT+DONE records (at least one) and flags;
 *	- TIME is "sec usec" (decimal, usec 1-6 digits); ATTR is
 *	  "name=value" with name [a-z_]+, each name at most once; RCPT/DONE
 *	  are not empty; MESG, XTRA and END are empty; WARN is a decimal
 *	  time, optionally right-aligned with spaces.
 * Anything else makes the file corrupt; the reason names the offset and
 * what was expected ("offset 70: expected sender record, found
 * recipient record"). The caller moves such a file to corrupt/ and logs
 * the reason.
 *
 * Files in maildrop/ (postdrop) have the same structure without the
 * SIZE record, and TIME is optional there (pickup then uses the file's
 * time): pass QFILE_FLAG_MAILDROP.
 *
 * Results: QFILE_OK; QFILE_CORRUPT (the file is bad: quarantine it);
 * QFILE_IOERR (reading failed, errno-based reason: try again later).
 *
 * SECURITY: queue files may be corrupt or forged (maildrop files come
 * from users). Lengths are checked before allocation (rec_decode()),
 * memory is bounded by one record plus the envelope itself, and nothing
 * is fatal; every problem is a reason returned to the caller.
 */
#ifndef PETREL_QFILE_H
#define PETREL_QFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

#include "buf.h"
#include "rec.h"

/* The largest record data accepted (envelope and content records). */
#define QFILE_RECORD_MAX	65536
/* The length of the SIZE record's data. */
#define QFILE_SIZE_LEN		(4 * REC_SIZE_WIDTH + 3)

#define QFILE_OK	0
#define QFILE_CORRUPT	(-1)
#define QFILE_IOERR	(-2)

/* qfile_walk() flags. */
#define QFILE_FLAG_NONE		0
#define QFILE_FLAG_SKIP_CONTENT	(1 << 0)	/* MESG: go to XTRA */
#define QFILE_FLAG_MAILDROP	(1 << 1)	/* no SIZE record */

/* The fields of the SIZE record. */
struct qfile_size {
	off_t mesg_offset;	/* offset of the MESG record */
	off_t content_size;	/* bytes between MESG and XTRA */
	long rcpt_count;	/* RCPT + DONE records */
	long flags;
};

struct qfile_attr {
	char *name;
	char *value;
};

struct qfile_rcpt {
	char *addr;		/* RCPT or DONE data */
	char *orcpt;		/* the preceding ORCP, or NULL */
	char *notify;		/* the preceding NOTIFY, or NULL */
	off_t offset;		/* of the RCPT/DONE type byte */
	bool done;		/* a DONE record */
};

/* A queue file's envelope; the content stays on disk. */
struct qfile {
	struct qfile_size size;
	struct timeval arrival;		/* TIME (maildrop: may be 0) */
	struct qfile_attr *attrs;	/* ATTR records, in file order */
	size_t attr_count;
	char *sender;			/* FROM ("": null sender) */
	struct qfile_rcpt *rcpts;	/* in file order */
	size_t rcpt_count;
	size_t done_count;		/* of which DONE */
	off_t content_offset;		/* the first record after MESG */
	off_t xtra_offset;		/* the XTRA record */
	char *rrto;			/* RRTO, or NULL */
	char *erto;			/* ERTO, or NULL */
	long warn_time;			/* WARN, or -1 */
	off_t end_offset;		/* the END record (file size - 2) */
};

/*
 * Read and check the whole file open on fd, from offset 0 (pread: the
 * descriptor's offset is not used or changed). qf is initialised here
 * and filled as far as the file goes (a corrupt file leaves what was
 * read before the problem); call qfile_fini() afterwards whatever the
 * result. Returns QFILE_OK, or QFILE_CORRUPT / QFILE_IOERR with why.
 */
int qfile_read(int fd, struct qfile *qf, struct buf *why);
/* The same without reading the content records (see above). */
int qfile_read_envelope(int fd, struct qfile *qf, struct buf *why);
/*
 * Both, with qfile_walk() flags (QFILE_FLAG_MAILDROP: qf->size is then
 * computed from what the file holds).
 */
int qfile_read_flags(int fd, int flags, struct qfile *qf, struct buf *why);
void qfile_fini(struct qfile *qf);
/* The value of attribute name, or NULL. */
const char *qfile_attr(const struct qfile *qf, const char *name);
/*
 * Mark recipient i delivered in place (rec_mark_done(): one byte, then
 * fsync) and update qf. 0, or -1 with errno.
 */
int qfile_mark_done(int fd, struct qfile *qf, size_t i);

/* One record as qfile_walk() hands it to its callback. */
struct qfile_rec {
	int type;		/* REC_TYPE_* */
	off_t offset;		/* of the type byte */
	off_t next;		/* of the next record */
	const char *data;	/* a NUL-terminated copy, valid during the call
				 * (content records may hold NULs: use len) */
	size_t len;
};

/*
 * Called for each record once it passed the checks that can be made so
 * far (its own format, its place in the order; for MESG also the
 * recipient count and offset; for XTRA the content size). Return 0 to
 * go on, or a negative value to stop: qfile_walk() then returns it.
 */
typedef int (*qfile_walk_fn)(void *ctx, const struct qfile_rec *rec);

/*
 * Check the file open on fd (pread from offset 0; a pipe is read
 * sequentially instead, without QFILE_FLAG_SKIP_CONTENT), calling fn
 * (may be NULL) for each record. With QFILE_FLAG_SKIP_CONTENT, content
 * records are not read and fn does not see them. Returns QFILE_OK, a
 * callback's negative value, or QFILE_CORRUPT / QFILE_IOERR with why.
 */
int qfile_walk(int fd, int flags, qfile_walk_fn fn, void *ctx,
    struct buf *why);

/* Parse record data as the checks above do; 0, or -1 if malformed. */
int qfile_parse_size(const char *data, size_t len, struct qfile_size *out);
int qfile_parse_time(const char *data, size_t len, struct timeval *out);

/*
 * Stream the content of a file that qfile_read() or qfile_read_envelope()
 * accepted (fd is borrowed, not closed; pread only). Each call of
 * qfile_content_next() replaces out with
 *	QFILE_LINE	a whole line (NORM, or CONT... NORM joined), without
 *			its line ending
 *	QFILE_PART	the next limit bytes of a longer line: the rest
 *			follows in the next calls, the last piece as
 *			QFILE_LINE (so memory stays bounded by limit)
 *	QFILE_END	no more lines (XTRA reached)
 * or returns QFILE_CORRUPT / QFILE_IOERR with why (the content is
 * checked here when qfile_read_envelope() skipped it). limit > 0.
 */
#define QFILE_END	0
#define QFILE_LINE	1
#define QFILE_PART	2

struct qfile_content;
struct qfile_content *qfile_content_open(int fd, const struct qfile *qf);
int qfile_content_next(struct qfile_content *qc, struct buf *out,
    size_t limit, struct buf *why);
/* Offset of the next content record (for logs). */
off_t qfile_content_offset(const struct qfile_content *qc);
void qfile_content_close(struct qfile_content *qc);	/* accepts NULL */

#endif
