/*
 * rewrite_clnt.h - client of the trivial-rewrite "rewrite" request
 *
 *	struct buf canon;
 *	buf_init(&canon, 64);
 *	if (rewrite_clnt(REWRITE_LOCAL, "joe", &canon) < 0)
 *		... defer: rewrite_clnt_error() says why ...
 *	... canon.data is "joe@example.com" ...
 *
 * trivial-rewrite(8) listens on $queue_directory/private/
 * $rewrite_service_name ("rewrite"; master.cf: "rewrite unix - - n - -
 * trivial-rewrite") and answers two requests, "rewrite" (here) and
 * "resolve" (resolve_clnt.h). Addresses travel in external (RFC 5322)
 * form: a local part that needs quotes has them ("john smith"@example.com),
 * both ways.
 *
 * Protocol (attr.h messages; one request, one reply):
 *	request=rewrite rule address
 *		-> status reason address
 *	request=resolve address
 *		-> status reason transport nexthop recipient class
 * rule is "local" or "remote". status is REWRITE_STAT_*; reason is empty
 * unless status is not REWRITE_STAT_OK. A request the server cannot
 * parse or does not know is answered with only status and reason
 * (REWRITE_STAT_BAD), and the server then hangs up.
 *
 * Connection: one per process, shared by rewrite_clnt() and
 * resolve_clnt(), made at the first request and kept between requests;
 * closed before a request when it has been idle for ipc_idle seconds
 * (the server drops idle clients). A request that finds the connection
 * broken (trivial-rewrite exited or was restarted) reconnects and is sent
 * once more; a timeout is not retried. Every wait, connect included, is
 * bounded by ipc_timeout. A chrooted client finds the socket as
 * /private/<service> when the absolute path is not there.
 *
 * Cache: the last answer is kept for REWRITE_CLNT_CACHE_SECS; asking the
 * same again in that time costs no round trip (mail often has the same
 * sender and recipients one after another).
 */
#ifndef PETREL_REWRITE_CLNT_H
#define PETREL_REWRITE_CLNT_H

#include "attr.h"
#include "buf.h"

/* Requests and rules. */
#define REWRITE_REQ_REWRITE	"rewrite"
#define REWRITE_REQ_RESOLVE	"resolve"
#define REWRITE_LOCAL		"local"	/* append @$myorigin, .$mydomain */
#define REWRITE_REMOTE		"remote" /* canonical form, no appending */

/* Reply status. */
#define REWRITE_STAT_OK		0
#define REWRITE_STAT_BAD	1	/* malformed request (a bug) */
#define REWRITE_STAT_TEMPFAIL	2	/* e.g. a domain table failed */

/* How long the last answer is reused without asking again. */
#define REWRITE_CLNT_CACHE_SECS	30

/*
 * Rewrite addr (external form) to canonical form under rule
 * (REWRITE_LOCAL or REWRITE_REMOTE); result (the caller's) receives it.
 * Returns 0, or -1 on a temporary failure (service unreachable, timeout,
 * malformed reply, server-side failure): the caller defers. The reason
 * is logged with msg_warn and kept for rewrite_clnt_error().
 */
int rewrite_clnt(const char *rule, const char *addr, struct buf *result);

/* Why the last rewrite_clnt() or resolve_clnt() failed (never NULL). */
const char *rewrite_clnt_error(void);

/*
 * For resolve_clnt.c: send request to the service and read the reply
 * into reply (the caller's list), with reconnect-once as above. Returns
 * 0 when the reply's status is REWRITE_STAT_OK (the caller extracts the
 * other attributes strictly), else -1 with the reason logged and kept
 * for rewrite_clnt_error().
 */
int rewrite_clnt_call(const struct attr_spec *request,
    struct attr_list *reply);

/* Record a failure found by the caller (logged, rewrite_clnt_error()). */
void rewrite_clnt_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Close the connection (after fork, in tests); the next request opens one. */
void rewrite_clnt_disconnect(void);

#endif
