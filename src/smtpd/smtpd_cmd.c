/*
 * smtpd_cmd.c - smtpd: the SMTP commands but DATA and BDAT
 *
 * The command table and the actions of HELO, EHLO, MAIL, RCPT, RSET,
 * NOOP, VRFY, HELP, ETRN and QUIT (RFC 5321), with the ESMTP parameters
 * EHLO announces:
 *
 *	PIPELINING		RFC 2920 (smtpd.c checks the groups)
 *	SIZE limit		RFC 1870: MAIL SIZE=n over message_size_limit
 *				gets 552 5.3.4; the data is counted too
 *	VRFY, ETRN		unless disable_vrfy_command; ETRN asks qmgr
 *				to retry the deferred queue
 *	ENHANCEDSTATUSCODES	RFC 2034: every reply but 220/221/250 to
 *				HELO/EHLO carries one
 *	8BITMIME		RFC 6152: BODY=7BIT or BODY=8BITMIME
 *	DSN			RFC 3461: RET= ENVID= at MAIL, NOTIFY= ORCPT=
 *				at RCPT, stored in the queue file
 *	SMTPUTF8		RFC 6531, with smtputf8_enable: UTF-8 in
 *				addresses of a MAIL ... SMTPUTF8 transaction
 *	CHUNKING		RFC 3030: BDAT (smtpd_data.c)
 * STARTTLS and AUTH are the hooks where TLS and SASL will attach; until
 * then they are not announced and answer 502 and 503. Keywords listed in
 * smtpd_discard_ehlo_keywords are not announced, and the MAIL and RCPT
 * parameters of DSN and SMTPUTF8 are refused (555) when theirs is.
 *
 * Reply texts follow Postfix's, so that clients and log tools see what
 * they expect: "250 2.1.0 Ok", "503 5.5.1 Error: need MAIL command",
 * "501 5.1.7 Bad sender address syntax", "452 4.5.3 Error: too many
 * recipients", ...
 *
 * The arguments of MAIL and RCPT are parsed by smtpd_parse.c (pure, and
 * fuzzed); this file applies the sequence rules, the limits and the
 * restrictions to the result.
 *
 * SECURITY: arguments are untrusted; addresses and parameters go through
 * smtpd_parse.c and smtp_syntax.c's parsers (bounded, one pass) before
 * anything uses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "buf.h"
#include "dns.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "smtp_syntax.h"
#include "str.h"
#include "trigger.h"

#include "smtpd.h"
#include "smtpd_cmd.h"
#include "smtpd_parse.h"
#include "smtpd_xclient.h"

/* ---- helpers ------------------------------------------------------------- */

bool
smtpd_utf8_valid(const char *data, size_t len)
{
	const unsigned char *cp = (const unsigned char *)data;
	const unsigned char *end = cp + len;
	unsigned ch, need, min;

	while (cp < end) {
		ch = *cp++;
		if (ch < 0x80)
			continue;
		if (ch >= 0xc2 && ch <= 0xdf) {
			need = 1;
			min = 0x80;
			ch &= 0x1f;
		} else if (ch >= 0xe0 && ch <= 0xef) {
			need = 2;
			min = 0x800;
			ch &= 0x0f;
		} else if (ch >= 0xf0 && ch <= 0xf4) {
			need = 3;
			min = 0x10000;
			ch &= 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - cp) < need)
			return false;
		while (need-- > 0) {
			if ((*cp & 0xc0) != 0x80)
				return false;
			ch = (ch << 6) | (*cp++ & 0x3f);
		}
		if (ch < min || ch > 0x10ffff || (ch >= 0xd800 && ch <= 0xdfff))
			return false;
	}
	return true;
}

bool
smtpd_ehlo_discarded(const char *keyword)
{
	static struct argv *discard;
	static bool loaded;
	size_t i;

	if (!loaded) {
		discard = argv_split(var_smtpd_discard_ehlo_keywords,
		    ", \t\r\n");
		loaded = true;
	}
	for (i = 0; i < discard->argc; i++)
		if (strcasecmp(discard->argv[i], keyword) == 0)
			return true;
	return false;
}

/* ---- HELO and EHLO ------------------------------------------------------- */

static bool
smtpd_helo_common(struct smtpd_state *st, char *args, const char *verb)
{
	const char *reply;

	str_trim(args);
	if (*args == 0) {
		smtpd_error(st, "501 Syntax: %s hostname", verb);
		return false;
	}
	if ((reply = smtpd_check_helo(st, args)) != NULL) {
		smtpd_error(st, "%s", reply);
		return false;
	}
	if (st->sender != NULL)		/* XFORWARD data stays */
		smtpd_reset(st);
	free(st->helo_name);
	st->helo_name = xstrdup(args);
	return true;
}

static void
smtpd_cmd_helo(struct smtpd_state *st, char *args)
{
	if (!smtpd_helo_common(st, args, "HELO"))
		return;
	st->protocol = "SMTP";
	smtpd_reply(st, "250 %s", var_myhostname);
}

static void
smtpd_ehlo_line(struct buf *b, const char *keyword, const char *text)
{
	if (smtpd_ehlo_discarded(keyword))
		return;
	buf_printf(b, "\n%s", text ? text : keyword);
}

static void
smtpd_cmd_ehlo(struct smtpd_state *st, char *args)
{
	struct buf *b = &st->tmp;

	if (!smtpd_helo_common(st, args, "EHLO"))
		return;
	st->protocol = "ESMTP";
	buf_reset(b);
	buf_printf(b, "250 %s", var_myhostname);
	smtpd_ehlo_line(b, "PIPELINING", NULL);
	if (var_message_size_limit > 0) {
		char size[40];

		snprintf(size, sizeof(size), "SIZE %ld",
		    var_message_size_limit);
		smtpd_ehlo_line(b, "SIZE", size);
	} else {
		smtpd_ehlo_line(b, "SIZE", NULL);
	}
	if (!var_disable_vrfy_command)
		smtpd_ehlo_line(b, "VRFY", NULL);
	smtpd_ehlo_line(b, "ETRN", NULL);
	/* Hooks: STARTTLS and AUTH keywords go here once they exist. */
	smtpd_ehlo_line(b, "ENHANCEDSTATUSCODES", NULL);
	smtpd_ehlo_line(b, "8BITMIME", NULL);
	smtpd_ehlo_line(b, "DSN", NULL);
	if (var_smtputf8_enable)
		smtpd_ehlo_line(b, "SMTPUTF8", NULL);
	smtpd_ehlo_line(b, "CHUNKING", NULL);
	smtpd_xclient_ehlo(st, b);
	smtpd_reply(st, "%s", b->data);
}

/* ---- MAIL ---------------------------------------------------------------- */

/* What smtpd_parse.c needs to know, from main.cf and the session. */
static void
smtpd_parse_opts(const struct smtpd_state *st, struct smtpd_parse_opts *opts)
{
	opts->strict = var_strict_rfc821_envelopes;
	opts->utf8 = var_smtputf8_enable && !smtpd_ehlo_discarded("SMTPUTF8");
	opts->dsn = !smtpd_ehlo_discarded("DSN");
	opts->tx_utf8 = st->smtputf8;
}

static void
smtpd_mail_fail(struct smtpd_state *st)
{
	free(st->sender);
	st->sender = NULL;
	free(st->envid);
	st->envid = NULL;
	st->ret = st->body_type = NULL;
	st->size_hint = 0;
	st->smtputf8 = false;
}

static void
smtpd_cmd_mail(struct smtpd_state *st, char *args)
{
	struct smtpd_parse_opts opts;
	struct smtpd_mail_args m;
	const char *reply;

	if (st->helo_name == NULL && var_smtpd_helo_required) {
		smtpd_error(st, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (st->sender != NULL) {
		smtpd_error(st, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	smtpd_parse_opts(st, &opts);
	smtpd_mail_args_init(&m);
	if ((reply = smtpd_parse_mail(args, &opts, &m)) != NULL) {
		smtpd_error(st, "%s", reply);
		goto out;
	}
	if (var_message_size_limit > 0 && m.size > var_message_size_limit) {
		smtpd_error(st, "552 5.3.4 Message size exceeds fixed limit");
		goto out;
	}
	st->sender = xstrdup(m.sender.data);
	st->envid = m.envid.len > 0 ? xstrdup(m.envid.data) : NULL;
	st->ret = m.ret;
	st->body_type = m.body;
	st->size_hint = m.size;
	st->smtputf8 = m.smtputf8;
	if ((reply = smtpd_peer_message_limit(st)) != NULL
	    || (reply = smtpd_check_mail(st, st->sender)) != NULL) {
		smtpd_error(st, "%s", reply);
		smtpd_mail_fail(st);
		goto out;
	}
	if (smtpd_rewrite_context(st, &st->rewrite_context) < 0) {
		smtpd_error(st, "451 4.3.0 <%s>: Temporary lookup failure",
		    st->sender);
		smtpd_mail_fail(st);
		goto out;
	}
	smtpd_reply(st, "250 2.1.0 Ok");
out:
	smtpd_mail_args_fini(&m);
}

/* ---- RCPT ---------------------------------------------------------------- */

static void
smtpd_cmd_rcpt(struct smtpd_state *st, char *args)
{
	struct smtpd_parse_opts opts;
	struct smtpd_rcpt_args a;
	struct smtpd_rcpt *r;
	const char *reply;

	if (st->sender == NULL) {
		smtpd_error(st, "503 5.5.1 Error: need MAIL command");
		return;
	}
	smtpd_parse_opts(st, &opts);
	smtpd_rcpt_args_init(&a);
	if ((reply = smtpd_parse_rcpt(args, &opts, &a)) != NULL) {
		smtpd_error(st, "%s", reply);
		goto out;
	}
	if (st->msg != NULL) {
		smtpd_error(st, "503 5.5.1 Error: BDAT in progress");
		goto out;
	}
	if (st->nrcpts >= (size_t)var_smtpd_recipient_limit) {
		smtpd_error(st, "452 4.5.3 Error: too many recipients");
		goto out;
	}
	st->recipient = a.addr.data;
	reply = smtpd_peer_recipient_limit(st);
	if (reply == NULL)
		reply = smtpd_check_rcpt(st, a.addr.data);
	st->recipient = NULL;
	if (reply != NULL) {
		st->rcpts_refused++;
		smtpd_error(st, "%s", reply);
		goto out;
	}
	if (st->nrcpts == st->rcpts_cap) {
		st->rcpts_cap = st->rcpts_cap ? st->rcpts_cap * 2 : 4;
		st->rcpts = xreallocarray(st->rcpts, st->rcpts_cap,
		    sizeof(*st->rcpts));
	}
	r = &st->rcpts[st->nrcpts++];
	r->addr = xstrdup(a.addr.data);
	r->orcpt = a.orcpt.len > 0 ? xstrdup(a.orcpt.data) : NULL;
	r->notify = a.notify;
	smtpd_reply(st, "250 2.1.5 Ok");
out:
	smtpd_rcpt_args_fini(&a);
}

/* ---- the others ---------------------------------------------------------- */

static void
smtpd_cmd_rset(struct smtpd_state *st, char *args)
{
	if (*args != 0) {
		smtpd_error(st, "501 5.5.4 Syntax: RSET");
		return;
	}
	smtpd_reset(st);
	smtpd_reply(st, "250 2.0.0 Ok");
}

static void
smtpd_cmd_noop(struct smtpd_state *st, char *args)
{
	(void)args;
	smtpd_reply(st, "250 2.0.0 Ok");
}

static void
smtpd_cmd_quit(struct smtpd_state *st, char *args)
{
	(void)args;
	smtpd_reply(st, "221 2.0.0 Bye");
	st->quit = true;
}

static void
smtpd_cmd_help(struct smtpd_state *st, char *args)
{
	(void)args;
	smtpd_reply(st, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT "
	    "RSET NOOP VRFY ETRN QUIT HELP\n2.0.0 See RFC 5321");
}

static void
smtpd_cmd_vrfy(struct smtpd_state *st, char *args)
{
	struct buf addr, scratch;
	const char *reply, *rest;

	if (var_disable_vrfy_command) {
		smtpd_error(st, "502 5.5.1 VRFY command is disabled");
		return;
	}
	if (st->helo_name == NULL && var_smtpd_helo_required) {
		smtpd_error(st, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	str_trim(args);
	if (*args == 0) {
		smtpd_error(st, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	buf_init(&addr, 64);
	buf_init(&scratch, 64);
	rest = smtp_path_parse(args, &addr, &scratch,
	    SMTP_PATH_LAX | (var_smtputf8_enable ? SMTP_PATH_UTF8 : 0));
	if (rest == NULL || *rest != 0 || addr.len == 0) {
		smtpd_error(st, "501 5.1.3 Bad recipient address syntax");
	} else if ((reply = smtpd_check_vrfy(st, addr.data)) != NULL) {
		smtpd_error(st, "%s", reply);
	} else {
		smtpd_reply(st, "252 2.0.0 %s", addr.data);
	}
	buf_fini(&addr);
	buf_fini(&scratch);
}

static void
smtpd_cmd_etrn(struct smtpd_state *st, char *args)
{
	struct buf path;
	const char *reply;
	char req = 'F';

	if (st->helo_name == NULL) {
		smtpd_error(st, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (st->sender != NULL) {
		smtpd_error(st, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return;
	}
	str_trim(args);
	if (*args == 0) {
		smtpd_error(st, "500 5.5.2 Syntax: ETRN domain");
		return;
	}
	if (*args == '@' || *args == '#')	/* RFC 1985 options */
		args++;
	if (!dns_name_valid(args, NULL)) {
		smtpd_error(st, "501 5.5.4 Error: invalid parameter syntax");
		return;
	}
	if ((reply = smtpd_check_etrn(st, args)) != NULL) {
		smtpd_error(st, "%s", reply);
		return;
	}
	/* No fast-flush service yet: retry the whole deferred queue. */
	buf_init(&path, 64);
	buf_printf(&path, "public/%s", var_qmgr_service_name);
	if (trigger_send(path.data, &req, 1) < 0) {
		msg_warn("ETRN %s from %s: cannot reach %s", args, st->namaddr,
		    path.data);
		smtpd_error(st, "458 4.3.0 Unable to queue messages");
	} else {
		msg_info("ETRN %s from %s", args, st->namaddr);
		smtpd_reply(st, "250 2.0.0 Queuing started");
	}
	buf_fini(&path);
}

/* The hooks of STARTTLS and AUTH: not there yet, not announced. */
static void
smtpd_cmd_starttls(struct smtpd_state *st, char *args)
{
	(void)args;
	smtpd_error(st, "502 5.5.1 Error: command not implemented");
}

static void
smtpd_cmd_auth(struct smtpd_state *st, char *args)
{
	(void)args;
	smtpd_error(st, "503 5.5.1 Error: authentication not enabled");
}

static void
smtpd_cmd_forbidden(struct smtpd_state *st, char *args)
{
	(void)st;
	(void)args;
}

static const struct smtpd_cmd smtpd_cmds[] = {
	{"HELO", "helo", smtpd_cmd_helo, SMTPD_CMD_LAST},
	{"EHLO", "ehlo", smtpd_cmd_ehlo, SMTPD_CMD_LAST},
	{"XCLIENT", "xclient", smtpd_xclient, SMTPD_CMD_LAST},
	{"XFORWARD", "xforward", smtpd_xforward, 0},
	{"MAIL", "mail", smtpd_cmd_mail, SMTPD_CMD_UTF8},
	{"RCPT", "rcpt", smtpd_cmd_rcpt, SMTPD_CMD_UTF8},
	{"DATA", "data", smtpd_data, SMTPD_CMD_DATA},
	{"BDAT", "bdat", smtpd_bdat, SMTPD_CMD_DATA},
	{"RSET", "rset", smtpd_cmd_rset, SMTPD_CMD_JUNK},
	{"NOOP", "noop", smtpd_cmd_noop, SMTPD_CMD_LAST | SMTPD_CMD_JUNK},
	{"VRFY", "vrfy", smtpd_cmd_vrfy,
	    SMTPD_CMD_LAST | SMTPD_CMD_JUNK | SMTPD_CMD_UTF8},
	{"ETRN", "etrn", smtpd_cmd_etrn, SMTPD_CMD_LAST | SMTPD_CMD_JUNK},
	{"HELP", "help", smtpd_cmd_help, SMTPD_CMD_LAST},
	{"QUIT", "quit", smtpd_cmd_quit, SMTPD_CMD_LAST},
	{"STARTTLS", "starttls", smtpd_cmd_starttls, SMTPD_CMD_LAST},
	{"AUTH", "auth", smtpd_cmd_auth, SMTPD_CMD_LAST},
	{"GET", "get", smtpd_cmd_forbidden, SMTPD_CMD_FORBIDDEN},
	{"POST", "post", smtpd_cmd_forbidden, SMTPD_CMD_FORBIDDEN},
	{"CONNECT", "connect", smtpd_cmd_forbidden, SMTPD_CMD_FORBIDDEN},
};

const struct smtpd_cmd *
smtpd_cmd_find(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof(smtpd_cmds) / sizeof(smtpd_cmds[0]); i++)
		if (strcasecmp(verb, smtpd_cmds[i].name) == 0)
			return &smtpd_cmds[i];
	return NULL;
}
