/*
 * smtpd_check_policy.h - check_policy_service: the protocol's pure parts
 *
 *	smtpd_check_policy_parse.c	the restriction's argument, the
 *				request attributes, the server's reply
 *				(no I/O: unit-tested and fuzzed)
 *	smtpd_check_policy.c	the client: connections kept per server,
 *				retries, the restriction (smtpd_check.h)
 *
 * The SMTP access policy delegation protocol (Postfix's
 * SMTPD_POLICY_README): smtpd sends "name=value\n" lines and an empty
 * line; the server answers "action=..." (any other attribute is
 * ignored) and an empty line, and keeps the connection for more
 * requests. The action is an access(5) result.
 *
 * The argument of check_policy_service is a server, "inet:host:port"
 * or "unix:pathname" (relative to the queue directory unless it starts
 * with '/'; "local:" is the same as "unix:"), or, as in Postfix 3.0, a
 * server with its own settings that override the smtpd_policy_service_*
 * parameters:
 *
 *	check_policy_service { inet:127.0.0.1:9998, timeout=10s,
 *	    { default_action = DEFER_IF_PERMIT Try again } }
 *
 * Elements are separated by commas or blanks; a setting whose value
 * has blanks is put in braces.
 *
 * SECURITY: request values come from the SMTP client; the encoder never
 * lets one end a line. The reply comes from another process: it is
 * parsed with explicit bounds, and its action must be printable ASCII
 * before it can become an SMTP reply.
 */
#ifndef PETREL_SMTPD_CHECK_POLICY_H
#define PETREL_SMTPD_CHECK_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* The longest reply taken, its empty line included. */
#define CHECK_POLICY_REPLY_MAX	8192

/* One server with its settings (times in seconds). */
struct check_policy_spec {
	char *server;		/* "inet:host:port", "unix:path" */
	int timeout;		/* connect + send + receive, per attempt */
	int max_idle;		/* an unused connection is closed after */
	int max_ttl;		/* a connection is replaced after */
	int request_limit;	/* requests per connection, 0: no limit */
	int try_limit;		/* attempts per request */
	int retry_delay;	/* between attempts */
	char *default_action;	/* when every attempt failed */
	char *policy_context;	/* the policy_context attribute */
};

/*
 * Parse the argument of check_policy_service (as written, braces
 * included) into out; settings not given come from dflt (whose strings
 * are copied). false with why set ("unknown attribute \"x\" ...");
 * out then holds nothing to free. Free with check_policy_spec_fini().
 */
bool check_policy_spec_parse(const char *arg,
    const struct check_policy_spec *dflt, struct check_policy_spec *out,
    struct buf *why);
void check_policy_spec_fini(struct check_policy_spec *spec);

/* Where a server is. */
struct check_policy_endpoint {
	bool inet;		/* inet:host:port; else unix:path */
	char *host;		/* inet: without [] around an IPv6 address */
	char *port;		/* inet: number or service name */
	char *path;		/* unix: */
};

/*
 * Split a server name. false with why set when it is neither
 * "inet:host:port" (host "[ipv6]" allowed) nor "unix:path" / "local:path"
 * with a path that fits a socket address.
 */
bool check_policy_endpoint_parse(const char *server,
    struct check_policy_endpoint *out, struct buf *why);
void check_policy_endpoint_fini(struct check_policy_endpoint *ep);

/*
 * Is action a usable access(5) result for default_action (not empty,
 * no bad reply code, not FILTER or BCC)? Restriction names are checked
 * by the caller, which knows the restrictions. false with the reason
 * appended to why.
 */
bool check_policy_action_valid(const char *action, struct buf *why);

/*
 * Append "name=value\n" to a request. A control character in value
 * (CR, LF, ...) is sent as '?', so that no value can end a line or
 * the request. value NULL is sent empty.
 */
void check_policy_attr(struct buf *out, const char *name, const char *value);

/*
 * Parse a whole reply of len bytes: "name=value" lines (LF or CR LF),
 * then one empty line, then nothing. The action attribute must be
 * there once, not empty, printable ASCII (tabs allowed). true with the
 * action in action; false with why set when the reply is malformed.
 */
bool check_policy_reply_parse(const char *reply, size_t len,
    struct buf *action, struct buf *why);

#endif
