/*
 * smtpd_parse.h - smtpd: the arguments of MAIL and RCPT, parsed alone
 *
 *	struct smtpd_parse_opts opts = {.strict = ..., .utf8 = ..., ...};
 *	struct smtpd_mail_args m;
 *	const char *reply;
 *
 *	smtpd_mail_args_init(&m);
 *	if ((reply = smtpd_parse_mail("FROM:<a@example.com> SIZE=100",
 *	    &opts, &m)) != NULL)
 *		... send reply ("501 5.1.7 Bad sender address syntax") ...
 *	else
 *		... m.sender, m.size, m.body, m.ret, m.envid, m.smtputf8 ...
 *	smtpd_mail_args_fini(&m);
 *
 * What a client writes after "MAIL " and "RCPT " is taken apart here,
 * with no I/O and no session state: a string and the options in, the
 * envelope values or the error reply out. smtpd_cmd.c decides what to
 * do with them (sequence, limits, restrictions); the fuzzer and the
 * unit tests call these functions directly.
 *
 * MAIL: "FROM:" (any case), optional spaces, the path (smtp_syntax.c;
 * "<>" is the null sender), then parameters separated by spaces:
 *
 *	SIZE=n		RFC 1870, 1 to 20 digits; beyond LONG_MAX it is
 *			LONG_MAX (the caller's limit check answers 552)
 *	BODY=7BIT|8BITMIME	RFC 6152
 *	SMTPUTF8	RFC 6531, only when opts->utf8
 *	RET=FULL|HDRS, ENVID=xtext	RFC 3461, only when opts->dsn
 *	AUTH=...	RFC 4954, accepted and ignored (the hook for AUTH)
 *
 * RCPT: "TO:" (any case), optional spaces, the path (not "<>"), then
 *
 *	NOTIFY=NEVER|SUCCESS,DELAY,FAILURE, ORCPT=type;xtext
 *			RFC 3461, only when opts->dsn
 *
 * Replies (every one with its enhanced code): a missing keyword
 * "501 5.5.4 Syntax: MAIL FROM:<address>"; a bad path "501 5.1.7 Bad
 * sender address syntax" or "501 5.1.3 Bad recipient address syntax";
 * a bad or repeated value "501 5.5.4 ..."; an unknown parameter "555
 * 5.5.4 Unsupported option: KEY"; a non-ASCII address without SMTPUTF8
 * (at MAIL) or in a transaction whose MAIL did not have it (at RCPT)
 * "553 5.6.7 Must declare SMTPUTF8 to send unicode address".
 *
 * SECURITY: args is a client's command line (the caller bounds it by
 * line_length_limit). It is copied before it is split; every result is
 * in a struct buf bounded by the input; a reply quotes at most 100
 * bytes of a parameter keyword, which smtp_param_next() allows only in
 * letters, digits and '-'.
 */
#ifndef PETREL_SMTPD_PARSE_H
#define PETREL_SMTPD_PARSE_H

#include <stdbool.h>

#include "buf.h"

/* What the parser must know of the configuration and the session. */
struct smtpd_parse_opts {
	bool strict;		/* strict_rfc821_envelopes: <> required */
	bool utf8;		/* SMTPUTF8 offered (smtputf8_enable and not
				 * in smtpd_discard_ehlo_keywords) */
	bool dsn;		/* DSN offered (not discarded) */
	bool tx_utf8;		/* RCPT: this transaction's MAIL had
				 * SMTPUTF8 */
};

/* The results of MAIL; valid after a NULL reply. */
struct smtpd_mail_args {
	struct buf sender;	/* the mailbox; empty for "<>" */
	long size;		/* SIZE=, 0 when not given */
	const char *body;	/* "7BIT", "8BITMIME", or NULL */
	const char *ret;	/* "full", "hdrs", or NULL */
	struct buf envid;	/* decoded ENVID, empty when not given */
	bool smtputf8;		/* SMTPUTF8 given */
	/* private */
	struct buf reply, copy, tmp;
};

/* The results of RCPT; valid after a NULL reply. */
struct smtpd_rcpt_args {
	struct buf addr;	/* the mailbox (never empty) */
	struct buf orcpt;	/* "type;decoded" ORCPT, empty when not
				 * given */
	int notify;		/* DSN_NOTIFY_* bits, 0 when not given */
	/* private */
	struct buf reply, copy, tmp;
};

void smtpd_mail_args_init(struct smtpd_mail_args *m);
void smtpd_mail_args_fini(struct smtpd_mail_args *m);
void smtpd_rcpt_args_init(struct smtpd_rcpt_args *r);
void smtpd_rcpt_args_fini(struct smtpd_rcpt_args *r);

/*
 * Parse the text after "MAIL " or "RCPT " into out (whose previous
 * results are cleared). Returns NULL when it is valid, else the reply
 * to send (in out or static; valid until the next call with out).
 */
const char *smtpd_parse_mail(const char *args,
    const struct smtpd_parse_opts *opts, struct smtpd_mail_args *out);
const char *smtpd_parse_rcpt(const char *args,
    const struct smtpd_parse_opts *opts, struct smtpd_rcpt_args *out);

#endif
