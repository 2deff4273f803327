/*
 * anvil_clnt.h - client of the anvil connection and rate counter
 *
 *	int count, rate;
 *	if (anvil_clnt_connect("smtp:192.0.2.1", &count, &rate) == 0
 *	    && count > var_smtpd_client_connection_count_limit)
 *		... reject ...
 *	...
 *	anvil_clnt_disconnect("smtp:192.0.2.1");
 *
 * anvil(8) counts, per client ident ("service:client_address"), the
 * concurrent connections and the connections, messages and recipients
 * of the current anvil_rate_time_unit, for smtpd's client limits. The
 * connection to private/anvil is opened at the first call and kept (one
 * per process); when it turned out broken it is opened again once. When
 * the anvil process sees the connection close, it forgets every
 * connection that was registered over it: a process that exits or
 * crashes leaves no counts behind.
 *
 * Every function returns 0, or -1 when the service is unavailable or
 * refused the request (bad ident, table full); the reason is logged
 * (msg_warn) and kept for anvil_clnt_error(). On -1 the caller does not
 * enforce its limits, as Postfix. Each call is bounded by ipc_timeout.
 *
 * Protocol (attr.h), one reply per request:
 *	request=connect ident=I		status count rate
 *	request=disconnect ident=I	status
 *	request=message ident=I		status rate
 *	request=recipient ident=I	status rate
 *	request=lookup ident=I		status count rate message_rate
 *					recipient_rate
 * A request that is refused gets a reply with only "status" (non-zero).
 * A message that is not a valid attribute message makes anvil hang up.
 */
#ifndef PETREL_ANVIL_CLNT_H
#define PETREL_ANVIL_CLNT_H

/* The service, on private/ of the queue directory. */
#define ANVIL_SERVICE		"anvil"

/* Requests. */
#define ANVIL_REQ_CONNECT	"connect"
#define ANVIL_REQ_DISCONNECT	"disconnect"
#define ANVIL_REQ_MESSAGE	"message"
#define ANVIL_REQ_RECIPIENT	"recipient"
#define ANVIL_REQ_LOOKUP	"lookup"

/* Attribute names (besides ATTR_REQUEST and ATTR_STATUS). */
#define ANVIL_ATTR_IDENT	"ident"
#define ANVIL_ATTR_COUNT	"count"
#define ANVIL_ATTR_RATE		"rate"
#define ANVIL_ATTR_MAIL		"message_rate"
#define ANVIL_ATTR_RCPT		"recipient_rate"

/* Reply status. */
#define ANVIL_STAT_OK		0
#define ANVIL_STAT_FAIL		1	/* bad request */
#define ANVIL_STAT_FULL		2	/* too many clients tracked */

/* An ident is 1..ANVIL_IDENT_MAX printable non-space ASCII bytes. */
#define ANVIL_IDENT_MAX		255

/* Register a connection; count and rate after it. */
int anvil_clnt_connect(const char *ident, int *count, int *rate);
/* Unregister one connection that this process registered. */
int anvil_clnt_disconnect(const char *ident);
/* Count a message (MAIL FROM); rate after it. */
int anvil_clnt_message(const char *ident, int *rate);
/* Count a recipient (RCPT TO); rate after it. */
int anvil_clnt_recipient(const char *ident, int *rate);
/* Current values without changing them (0 for an unknown ident). */
int anvil_clnt_lookup(const char *ident, int *count, int *rate,
    int *message_rate, int *recipient_rate);
/* Why the last call failed ("" if none). */
const char *anvil_clnt_error(void);
/* Close the connection (anvil forgets this process's connections). */
void anvil_clnt_close(void);

#endif
