/*
 * smtpd.h - the parts of the SMTP server
 *
 * smtpd is a single-server (one client per process, as Postfix's): the
 * skeleton hands smtpd_service() a connected socket, and the session
 * runs with blocking I/O bounded by smtpd_timeout. The files:
 *
 *	smtpd.c		main, the session: greeting, the command loop,
 *			error counting and tarpit, the disconnect line
 *	smtpd_io.c	input (lines with a limit, timeouts, pipelining
 *			detection) and buffered replies
 *	smtpd_cmd.c	HELO EHLO MAIL RCPT RSET NOOP VRFY HELP ETRN QUIT
 *	smtpd_parse.c	MAIL and RCPT arguments (pure; fuzzed)
 *	smtpd_data.c	DATA and BDAT: dot-stuffing, bare CR/LF, the
 *			Received: header, streaming to cleanup
 *	smtpd_peer.c	who the client is: address, port, FCrDNS name,
 *			PROXY protocol, anvil limits
 *	smtpd_haproxy.c	PROXY protocol v1 and v2 parser (pure; fuzzed),
 *	smtpd_haproxy_read.c  and its reader
 *	smtpd_xclient.c	XCLIENT and XFORWARD
 *	smtpd_check.c	the restriction lists (engine); with
 *	smtpd_check_access.c  access(5) tables,
 *	smtpd_check_addr.c    address classes and recipient tables,
 *	smtpd_check_dns.c     DNS lists and unknown names,
 *	smtpd_check_policy.c  policy servers (check_policy_service),
 *	smtpd_check_parse.c   list parsing and reply formatting (pure)
 *	smtpd_dns.c	blocking DNS lookups on a private event base
 *	smtpd_rewrite.c	local_header_rewrite_clients: local or remote
 *	smtpd_log.c	Postfix-format log lines (reject, warn, ...)
 *
 * Replies are "ddd x.y.z text" strings with an enhanced status code
 * (RFC 2034/3463), except the greeting and the replies to HELO and
 * EHLO, which RFC 2034 leaves without one.
 */
#ifndef PETREL_SMTPD_H
#define PETREL_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct argv;
struct smtpd_msg;
struct stream;
struct dns_reply;

/* Where the session is, for logging ("... from CLIENT: reply"). */
#define SMTPD_WHERE_CONNECT	"CONNECT"
#define SMTPD_WHERE_EOD		"END-OF-MESSAGE"

/* Status of a peer name lookup. */
enum smtpd_peer_status {
	SMTPD_PEER_OK,		/* found (and, for name, confirmed) */
	SMTPD_PEER_NOTFOUND,	/* permanent: no name / no confirmation */
	SMTPD_PEER_TEMPFAIL,	/* DNS failed: try again later */
};

/* One accepted recipient of the transaction. */
struct smtpd_rcpt {
	char *addr;		/* as received, without <> */
	char *orcpt;		/* "type;address" decoded, or NULL */
	int notify;		/* DSN_NOTIFY_* bits, 0: none given */
};

/* Command counters for the disconnect line ("ehlo=1 mail=1 ..."). */
struct smtpd_count {
	const char *name;	/* "ehlo", ... */
	unsigned ok;		/* accepted */
	unsigned total;		/* issued */
};

#define SMTPD_NCOUNTS	16

struct smtpd_state {
	/* ---- the connection --------------------------------------------- */
	int fd;
	const char *service;		/* master.cf service name */
	char *ibuf;			/* raw input (smtpd_io.c) */
	size_t ipos, ilen, icap;
	bool ieof;
	struct stream *out;		/* buffered replies */
	struct buf line;		/* the current command line */
	struct buf reply;		/* scratch for replies */
	struct buf tmp;			/* scratch */
	bool lost;			/* connection gone: end the session */
	int reply_code;			/* of the last reply (its number) */
	bool quit;			/* QUIT, or a 421: end the session */
	enum smtpd_eol_seen { SMTPD_SEEN_CRLF, SMTPD_SEEN_LF } last_eol;
					/* how the last command line ended */

	/* ---- the client (smtpd_peer.c, smtpd_xclient.c) ----------------- */
	char *addr;			/* printable address "192.0.2.1",
					 * "2001:db8::1" (no brackets) */
	char *port;			/* decimal, "0" when unknown */
	int addr_family;		/* AF_INET, AF_INET6, AF_UNIX */
	char *name;			/* FCrDNS name, or "unknown" */
	enum smtpd_peer_status name_status;
	char *reverse_name;		/* first PTR name, or "unknown" */
	enum smtpd_peer_status reverse_name_status;
	char *namaddr;			/* "name[addr]" (":port" too with
					 * smtpd_client_port_logging) */
	char *anvil_ident;		/* "service:addr" while counted */
	bool limit_exempt;		/* smtpd_client_event_limit_exceptions */
	bool bare_newline_exempt;	/* smtpd_forbid_bare_newline_exclusions */
	bool xclient_ok;		/* smtpd_authorized_xclient_hosts */
	bool xforward_ok;		/* smtpd_authorized_xforward_hosts */
	/* XFORWARD attributes (NULL: not forwarded); go to the queue file */
	char *fwd_name, *fwd_addr, *fwd_port, *fwd_helo, *fwd_proto,
	    *fwd_ident, *fwd_source;

	/* ---- the session ------------------------------------------------ */
	char *helo_name;		/* NULL before HELO/EHLO */
	const char *protocol;		/* "SMTP", "ESMTP" */
	const char *where;		/* "CONNECT", "HELO", "MAIL", ... */
	int error_count;		/* replies 4xx/5xx to commands */
	int junk_count;			/* NOOP VRFY ETRN RSET unknown */
	bool pipelining_seen;		/* logged once per session */
	bool client_rejected;		/* client restrictions said no at
					 * connect: every command but QUIT
					 * gets 503 */
	struct smtpd_count counts[SMTPD_NCOUNTS];
	size_t ncounts;
	/* STARTTLS and AUTH hooks (not yet): */
	bool tls_active;
	char *sasl_username;		/* NULL: not authenticated */

	/* ---- the transaction (MAIL ... end of data) --------------------- */
	char *sender;			/* NULL: no MAIL yet; "" null sender */
	char *envid;			/* decoded ENVID, or NULL */
	const char *ret;		/* "full", "hdrs" or NULL */
	const char *body_type;		/* "7BIT", "8BITMIME" or NULL */
	long size_hint;			/* SIZE=, 0 when not given */
	const char *rewrite_context;	/* decided at MAIL */
	long eod_size;			/* content bytes, set at end of
					 * data (for policy servers) */
	bool smtputf8;			/* SMTPUTF8 given at MAIL */
	struct smtpd_rcpt *rcpts;
	size_t nrcpts, rcpts_cap;
	const char *recipient;		/* being checked at RCPT, or NULL */
	/* Results of restrictions for the queue file: */
	int cleanup_flags;		/* CLEANUP_FLAG_HOLD / _DISCARD */
	char *redirect;			/* REDIRECT address, or NULL */
	struct argv *prepend;		/* PREPEND header lines */
	char *hold_reason, *discard_reason;
	size_t rcpts_refused;		/* RCPT commands refused */
	/* The message being received (DATA/BDAT), smtpd_data.c: */
	struct smtpd_msg *msg;		/* NULL: none */
	char *bdat_error;		/* a failed BDAT transaction's reply:
					 * every chunk gets it until LAST */
	char *queue_id;			/* NULL: "NOQUEUE" in logs */

	/* ---- restrictions (smtpd_check.c) ------------------------------- */
	void *check;			/* smtpd_check.c's per-session data */
};

/* ---- smtpd.c ------------------------------------------------------------- */

/* smtpd_forbid_bare_newline (a bad value is fatal, EX_CONFIG). */
enum smtpd_bare_mode {
	SMTPD_BARE_NORMALIZE,	/* LF ends a line, never ends the data */
	SMTPD_BARE_REJECT,	/* 550 5.5.2 Error: bare <LF> received */
	SMTPD_BARE_ALLOW,	/* "no": LF is CR LF everywhere */
};
enum smtpd_bare_mode smtpd_bare_newline_mode(void);

/*
 * Reply to a command with an error (4xx/5xx): counted, tarpitted after
 * smtpd_soft_error_limit, and followed by "421 ... too many errors" and
 * the end of the session at smtpd_hard_error_limit.
 */
void smtpd_error(struct smtpd_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Input waiting where RFC 2920 does not allow it ("after" is the
 * command or CONNECT): logged once per session ("improper command
 * pipelining after CMD from name[addr]: text"). Returns true when the
 * session must end (smtpd_forbid_unauth_pipelining: a 554 was sent).
 */
bool smtpd_pipelining_check(struct smtpd_state *st, const char *after);

/*
 * Count a command for the disconnect line; ok says whether it got a 2xx
 * or 3xx reply.
 */
void smtpd_count(struct smtpd_state *st, const char *name, bool ok);
/*
 * The greeting: "220 $smtpd_banner", or the reject of the client
 * restrictions (then every command but QUIT gets 503). At connect and
 * after XCLIENT.
 */
void smtpd_greet(struct smtpd_state *st);
/* Reset the transaction (RSET, after a message, HELO/EHLO). */
void smtpd_reset(struct smtpd_state *st);

/* ---- smtpd_io.c ---------------------------------------------------------- */

enum smtpd_got {
	SMTPD_GOT_LINE,		/* a whole line, ending removed */
	SMTPD_GOT_PART,		/* limit reached, the line goes on */
	SMTPD_GOT_EOF,		/* the client closed the connection */
	SMTPD_GOT_TIMEOUT,	/* smtpd_timeout expired */
	SMTPD_GOT_ERROR,	/* read error */
};

/* How a line ended (smtpd_io_line). */
enum smtpd_eol {
	SMTPD_EOL_CRLF,		/* CR LF */
	SMTPD_EOL_LF,		/* bare LF */
	SMTPD_EOL_NONE,		/* SMTPD_GOT_PART: no end yet */
};

void smtpd_io_init(struct smtpd_state *st, int fd);
void smtpd_io_fini(struct smtpd_state *st);
/*
 * Read the next line (up to limit bytes, the ending removed) into line.
 * A line ends at LF (CRLF or bare LF, *eol says which); a CR that is not
 * followed by LF is data. Replies are flushed before the read blocks.
 */
enum smtpd_got smtpd_io_line(struct smtpd_state *st, struct buf *line,
    size_t limit, enum smtpd_eol *eol);
/*
 * Read between 1 and len bytes (BDAT) into out (appended); same results
 * (SMTPD_GOT_LINE: some bytes were read).
 */
enum smtpd_got smtpd_io_read(struct smtpd_state *st, struct buf *out,
    size_t len);
/* True when input is waiting (already buffered or readable now). */
bool smtpd_io_pending(struct smtpd_state *st);
/* The buffered input not yet consumed (for logging what came early). */
size_t smtpd_io_peek(struct smtpd_state *st, const char **data);
/* Drop everything buffered (after an error that ends pipelining). */
void smtpd_io_discard(struct smtpd_state *st);
/*
 * Queue a reply "ddd x.y.z text"; a multi-line reply separates its lines
 * with '\n' and writes the code only on the first ("250 a\nb" is sent
 * as "250-a", "250 b"). Errors are counted in smtpd.c, not here. Written
 * at the next flush (before smtpd waits for input).
 */
void smtpd_reply(struct smtpd_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int smtpd_io_flush(struct smtpd_state *st);

/* ---- smtpd_data.c -------------------------------------------------------- */

/* DATA, BDAT (args: the text after the verb). */
void smtpd_data(struct smtpd_state *st, char *args);
void smtpd_bdat(struct smtpd_state *st, char *args);
/* Abort a message in progress (RSET, QUIT, lost connection). */
void smtpd_data_abort(struct smtpd_state *st);

/* ---- smtpd_peer.c -------------------------------------------------------- */

/*
 * Find out who is on fd (getpeername, PROXY protocol when configured,
 * FCrDNS name) and fill st's client fields. Returns 0, or -1 when the
 * session must end (PROXY header missing or malformed: logged).
 */
int smtpd_peer_init(struct smtpd_state *st);
/* Parse the client lists (pre_init; a bad pattern is fatal). */
void smtpd_peer_pre_init(void);
/* Set the client from XCLIENT (any argument may be NULL: unchanged). */
void smtpd_peer_set(struct smtpd_state *st, const char *name,
    const char *reverse_name, const char *addr, const char *port);
void smtpd_peer_fini(struct smtpd_state *st);
/*
 * anvil limits: at connect (count, rate), MAIL (message rate), RCPT
 * (recipient rate). Returns NULL when within limits (or exempt, or
 * anvil unavailable), else the reply ("421 4.7.0 ...", "452 4.7.0 ...")
 * already logged as Postfix does ("warning: Connection rate limit
 * exceeded: 11 from name[addr] for service smtp").
 */
const char *smtpd_peer_connect_limits(struct smtpd_state *st);
const char *smtpd_peer_message_limit(struct smtpd_state *st);
const char *smtpd_peer_recipient_limit(struct smtpd_state *st);

/* ---- smtpd_xclient.c ----------------------------------------------------- */

void smtpd_xclient(struct smtpd_state *st, char *args);
void smtpd_xforward(struct smtpd_state *st, char *args);

/* ---- smtpd_check.c ------------------------------------------------------- */

/*
 * Parse the restriction lists and open the tables (pre_init: before
 * the privilege drop); a configuration error is fatal (EX_CONFIG) with
 * the parameter and the word at fault.
 */
void smtpd_check_init(void);
/* Per-session state (st->check). */
void smtpd_check_session(struct smtpd_state *st);
void smtpd_check_session_end(struct smtpd_state *st);
/* Forget per-transaction results (RSET, after a message). */
void smtpd_check_reset(struct smtpd_state *st);
/*
 * Each returns NULL when the command may go on, else the reply to send
 * ("554 5.7.1 <rcpt>: Relay access denied"), valid until the next call.
 * The check logs the reject itself (smtpd_log_event). DISCARD, HOLD,
 * REDIRECT and PREPEND results are stored in st (cleanup_flags,
 * redirect, prepend). With smtpd_delay_reject, client/HELO/sender
 * restrictions run at RCPT (smtpd_check_rcpt) and the earlier calls
 * only remember what to do.
 */
const char *smtpd_check_client(struct smtpd_state *st);
/* Is the client in $mynetworks? 1, 0, or -1 (a table failed; logged). */
int smtpd_check_mynetworks(struct smtpd_state *st);
const char *smtpd_check_helo(struct smtpd_state *st, const char *helo);
const char *smtpd_check_mail(struct smtpd_state *st, const char *sender);
const char *smtpd_check_rcpt(struct smtpd_state *st, const char *rcpt);
const char *smtpd_check_data(struct smtpd_state *st);
const char *smtpd_check_eod(struct smtpd_state *st);
const char *smtpd_check_etrn(struct smtpd_state *st, const char *domain);
/*
 * VRFY: is addr a known recipient (local_recipient_maps, virtual maps,
 * relay_recipient_maps)? NULL when it is (or cannot be checked), else
 * the "550 5.1.1 <addr>: Recipient address rejected: ..." reply.
 */
const char *smtpd_check_vrfy(struct smtpd_state *st, const char *addr);

/* ---- smtpd_dns.c --------------------------------------------------------- */

/*
 * One blocking lookup through the process's resolver (dns_servers,
 * dns_timeout, dns_tries): type is DNS_A ... DNS_FCRDNS. Never NULL:
 * a resolver that cannot be created gives a DNS_TEMPFAIL reply. Free
 * with dns_reply_free().
 */
struct dns_reply *smtpd_dns_lookup(const char *name, int type);
void smtpd_dns_fini(void);

/* ---- smtpd_log.c --------------------------------------------------------- */

/*
 * "ID: reject: RCPT from name[addr]: 554 5.7.1 <x>: Relay access
 * denied; from=<s> to=<r> proto=ESMTP helo=<h>" (ID is NOQUEUE before
 * a queue file exists; to= only with st->recipient, from= only after
 * MAIL). action is "reject", "reject_warning", "discard", "hold",
 * "redirect", "warn", "filter", "prepend"...; cmd is st->where.
 */
void smtpd_log_event(struct smtpd_state *st, const char *action,
    const char *text);
/* "connect from name[addr]" and "disconnect from name[addr] ehlo=1 ..." */
void smtpd_log_connect(struct smtpd_state *st);
void smtpd_log_disconnect(struct smtpd_state *st);

/* ---- smtpd_rewrite.c ----------------------------------------------------- */

/* Parse local_header_rewrite_clients (pre_init); errors are fatal. */
void smtpd_rewrite_init(void);
/*
 * The rewrite_context for cleanup, REWRITE_LOCAL or REWRITE_REMOTE, in
 * *ctx; -1 when a lookup failed (logged), 0 otherwise.
 */
int smtpd_rewrite_context(struct smtpd_state *st, const char **ctx);

#endif
