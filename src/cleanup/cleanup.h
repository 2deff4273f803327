/*
 * cleanup.h - internal interface of the cleanup daemon
 *
 * One struct cleanup_state per client connection (one message). The
 * service loop in cleanup.c reads records and hands them to
 * cleanup_envelope() until the MESG record, then to cleanup_message().
 * Both write the queue file through the cleanup_out_*() functions and
 * report problems with cleanup_fail(); after the first problem the
 * queue file is gone and output is discarded, but records are still
 * read (and checked) up to END, so the client gets its reply in step.
 */
#ifndef PETREL_CLEANUP_H
#define PETREL_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

#include "buf.h"

struct htable;

/* Where we are in the client's record stream. */
enum cleanup_phase {
	CLEANUP_PHASE_ENVELOPE,		/* TIME ATTR* FROM (ORCP? NOTIFY?
					 * RCPT)* until MESG */
	CLEANUP_PHASE_HEADERS,		/* primary message headers */
	CLEANUP_PHASE_BODY,		/* the rest of the content */
	CLEANUP_PHASE_XTRA,		/* after XTRA: only END */
	CLEANUP_PHASE_DONE,		/* END seen */
};

/* Classification of a physical line while in the header block. */
enum cleanup_line {
	CLEANUP_LINE_UNKNOWN,		/* not enough bytes seen yet */
	CLEANUP_LINE_HEADER,		/* "Name:" starts a new header */
	CLEANUP_LINE_FOLDED,		/* continues the last header */
	CLEANUP_LINE_BODY,		/* ends the header block */
};

/* Headers cleanup looks for (bits in headers_seen). */
#define CLEANUP_HDR_DATE	(1u << 0)
#define CLEANUP_HDR_MSGID	(1u << 1)
#define CLEANUP_HDR_FROM	(1u << 2)
#define CLEANUP_HDR_TO		(1u << 3)	/* To: or Cc: */

/* Result of the per-record functions. */
#define CLEANUP_REC_MORE	0	/* go on reading */
#define CLEANUP_REC_END		1	/* END seen: reply */
#define CLEANUP_REC_BAD		(-1)	/* malformed: reply now */

struct cleanup_state {
	/* The queue file. */
	struct buf queue_id;
	int fd;				/* -1 once gone (error) */
	bool file_exists;		/* incoming/ID must be removed */
	struct buf out;			/* records not yet written */
	off_t written;			/* bytes written to fd */
	off_t mesg_offset;		/* of the MESG record */
	off_t xtra_offset;		/* of the XTRA record */

	/* The request. */
	int flags;			/* CLEANUP_FLAG_* */
	enum cleanup_phase phase;
	int status;			/* CLEANUP_STAT_* bits */
	struct buf reason;		/* of the first error */

	/* Envelope. */
	struct timeval arrival;
	bool time_done;			/* TIME record written */
	struct htable *attrs_seen;	/* names of ATTR records */
	const char *rewrite_context;	/* REWRITE_LOCAL, _REMOTE */
	long submit_uid;		/* -1: not a local submission */
	struct buf full_name;
	bool have_sender;
	struct buf sender;		/* canonical */
	bool have_orcp, have_notify;
	struct buf orcp, notify;	/* for the next RCPT */
	struct htable *dups;		/* recipients seen */
	long rcpt_count;

	/* Content. */
	unsigned long long content_in;	/* client's bytes, per line + 1 */
	bool mid_line;			/* last content record was CONT */
	enum cleanup_line line_class;	/* of the current physical line */
	struct buf line;		/* unclassified start of a line */
	bool have_header;		/* header holds a logical header */
	struct buf header;		/* current logical header, "\n"
					 * between physical lines */
	bool header_truncated;
	bool nul_warned;
	unsigned headers_seen;		/* CLEANUP_HDR_* */
	int hops;			/* Received: headers */
	struct buf message_id;		/* for the log */
	struct buf bounce_reason;	/* return it to the sender: why */

	struct buf tmp;			/* scratch */
};

/* cleanup.c */
/*
 * Record a problem: status bits, and the reason (an enhanced status code
 * and text) unless an earlier problem already set one. The queue file is
 * removed at once and further output is discarded.
 */
void cleanup_fail(struct cleanup_state *st, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* A protocol error: log it, fail with CLEANUP_STAT_BAD; returns
 * CLEANUP_REC_BAD for the caller to return. */
int cleanup_bad(struct cleanup_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append one record to the queue file (no-op after a failure). */
void cleanup_out(struct cleanup_state *st, int type, const void *data,
    size_t len);
void cleanup_out_str(struct cleanup_state *st, int type, const char *text);
/*
 * Append text as content records: pieces of at most the record limit as
 * CONT, the last one as type (REC_TYPE_NORM, or REC_TYPE_CONT when the
 * line goes on in the next call).
 */
void cleanup_out_text(struct cleanup_state *st, int type, const char *data,
    size_t len);
/* Offset in the queue file where the next record goes. */
off_t cleanup_out_offset(const struct cleanup_state *st);

/* cleanup_bounce.c */
/*
 * Return the message to its sender instead of rejecting it (for clients
 * with CLEANUP_FLAG_BOUNCE): remember the reason ("5.4.6 text"); at
 * commit, cleanup_bounce_all() logs a bounce entry for every recipient
 * and marks them all done (-1 after cleanup_fail() when it cannot).
 */
void cleanup_bounce_later(struct cleanup_state *st, const char *dsn_reason);
int cleanup_bounce_all(struct cleanup_state *st);

/* cleanup_envelope.c */
void cleanup_envelope_init(struct cleanup_state *st);
void cleanup_envelope_fini(struct cleanup_state *st);
/* One envelope record; CLEANUP_REC_MORE or CLEANUP_REC_BAD. */
int cleanup_envelope(struct cleanup_state *st, int type, const char *data,
    size_t len);

/* cleanup_message.c */
void cleanup_message_init(struct cleanup_state *st);
void cleanup_message_fini(struct cleanup_state *st);
/* Called once the MESG record is written: the Received: header. */
void cleanup_message_begin(struct cleanup_state *st);
/* One record after MESG; CLEANUP_REC_MORE, _END or _BAD. */
int cleanup_message(struct cleanup_state *st, int type, const char *data,
    size_t len);

#endif
