/*
 * attr.h - IPC attributes: length-delimited name/value messages
 *
 * Every request and reply between Petrel processes is one message: a
 * sequence of attributes, each a name and a value, ended by an empty
 * name. Names and values are netstrings ("<len>:<bytes>,"), so values
 * are binary-safe and a reader knows every length before it allocates:
 *
 *	7:request,7:resolve,7:address,13:joe@example.c,0:,
 *
 * SECURITY: the parser enforces limits (attribute count, name length,
 * value length, digits in a length), accepts only [a-z0-9_] names and
 * canonical lengths (no leading zeros), and reports the first problem.
 * A peer's message is never trusted: use ATTR_STRICT to reject missing,
 * duplicate and unexpected attributes.
 *
 * Sending and receiving use typed descriptors, terminated by A_END:
 *	attr_send(s, A_STR(ATTR_REQUEST, "resolve"),
 *	    A_STR(ATTR_ADDRESS, addr), A_END);
 *	n = attr_recv(s, ATTR_STRICT, A_INT(ATTR_STATUS, &status),
 *	    A_BUF(ATTR_NEXTHOP, nexthop), A_END);
 */
#ifndef PETREL_ATTR_H
#define PETREL_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct stream;

enum attr_type {
	ATTR_T_END,
	ATTR_T_STR,		/* text: no NUL bytes */
	ATTR_T_INT,		/* decimal int */
	ATTR_T_LONG,		/* decimal long */
	ATTR_T_DATA,		/* binary */
};

struct attr_spec {
	enum attr_type type;
	const char *name;
	union {			/* sending */
		const char *str;
		int num;
		long lnum;
		struct {
			const void *ptr;
			size_t len;
		} data;
	} in;
	union {			/* receiving */
		struct buf *buf;	/* STR and DATA */
		int *num;
		long *lnum;
	} out;
};

/* Sending descriptors. */
#define A_STR(n, v)	{ .type = ATTR_T_STR, .name = (n), .in.str = (v) }
#define A_NUM(n, v)	{ .type = ATTR_T_INT, .name = (n), .in.num = (v) }
#define A_LNUM(n, v)	{ .type = ATTR_T_LONG, .name = (n), .in.lnum = (v) }
#define A_DATA(n, p, l)	{ .type = ATTR_T_DATA, .name = (n), \
			  .in.data = { .ptr = (p), .len = (l) } }
/* Receiving descriptors. */
#define A_BUF(n, b)	{ .type = ATTR_T_STR, .name = (n), .out.buf = (b) }
#define A_INT(n, p)	{ .type = ATTR_T_INT, .name = (n), .out.num = (p) }
#define A_LONG(n, p)	{ .type = ATTR_T_LONG, .name = (n), .out.lnum = (p) }
#define A_DBUF(n, b)	{ .type = ATTR_T_DATA, .name = (n), .out.buf = (b) }
#define A_END		{ .type = ATTR_T_END }

/* Flags for extraction. */
#define ATTR_STRICT	(1 << 0)	/* all present, no extra, no dups */
#define ATTR_ALLOW_EXTRA (1 << 1)	/* ignore unknown names */

/* Limits (defaults when NULL is passed). */
struct attr_limits {
	size_t max_attrs;		/* default 1024 */
	size_t max_name;		/* default 64 */
	size_t max_value;		/* default 1 MiB */
	size_t max_total;		/* all values; 0 = default 4 MiB */
};
#define ATTR_DEF_MAX_ATTRS	1024
#define ATTR_DEF_MAX_NAME	64
#define ATTR_DEF_MAX_VALUE	(1024 * 1024)
#define ATTR_DEF_MAX_TOTAL	(4 * 1024 * 1024)

struct attr_pair {
	char *name;
	struct buf value;
};

/* One decoded message, in wire order. */
struct attr_list {
	struct attr_pair *pairs;
	size_t count;
	size_t cap;
};

void attr_list_init(struct attr_list *list);
void attr_list_fini(struct attr_list *list);
void attr_list_reset(struct attr_list *list);
/* First value with this name, or NULL. */
const struct buf *attr_list_get(const struct attr_list *list,
    const char *name);

/* Append one encoded message (ending with the terminator) to out. */
void attr_encode(struct buf *out, const struct attr_spec *spec);
/*
 * Decode one message from data[0..len) into list (reset first).
 * Returns the number of bytes the message used (> 0); 0 when data holds
 * only a valid prefix (read more); -1 on malformed input or a limit
 * exceeded, with why set. Pure: no I/O.
 */
ssize_t attr_parse(struct attr_list *list, const char *data, size_t len,
    const struct attr_limits *lim, struct buf *why);
/*
 * Convert the attributes named in spec (A_BUF, A_INT, ...). Returns the
 * number of spec entries filled, or -1 with why set: with ATTR_STRICT a
 * missing, duplicate or (unless ATTR_ALLOW_EXTRA) unexpected attribute
 * is an error; a value that does not convert is always an error.
 */
int attr_extract(const struct attr_list *list, int flags,
    const struct attr_spec *spec, struct buf *why);

/* Encode and write one message, then flush. 0 or -1. */
int attr_send_list(struct stream *s, const struct attr_spec *spec);
/*
 * Read one message (attr_parse with default limits) and extract it.
 * Returns the count from attr_extract, or -1 (I/O, timeout, malformed;
 * the reason is logged with msg_warn).
 */
int attr_recv_list(struct stream *s, int flags, const struct attr_spec *spec);
/* Read one message into list without extracting. 0 or -1 (logged). */
int attr_recv_message(struct stream *s, struct attr_list *list);

#define attr_send(s, ...) \
	attr_send_list((s), (const struct attr_spec[]){ __VA_ARGS__ })
#define attr_recv(s, flags, ...) \
	attr_recv_list((s), (flags), (const struct attr_spec[]){ __VA_ARGS__ })

#endif
