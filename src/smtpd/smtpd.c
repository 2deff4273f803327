/*
 * smtpd.c - smtpd, the SMTP server
 *
 * master.cf:
 *	smtp      inet  n       -       n       -       -       smtpd
 *
 * One SMTP session (RFC 5321 with the ESMTP extensions of smtpd_cmd.c)
 * per process at a time, on the single-server skeleton. The session:
 *
 *	connect		who is it (smtpd_peer.c: address, PROXY protocol,
 *			forward-confirmed name), "connect from name[addr]",
 *			anvil's connection count and rate limits, the
 *			client restrictions when smtpd_delay_reject = no;
 *			a client that talks before the greeting is logged
 *			("improper command pipelining after CONNECT") and,
 *			with smtpd_forbid_unauth_pipelining, disconnected
 *	greeting	"220 $smtpd_banner"
 *	commands	read one line at a time (line_length_limit), find
 *			the verb (case does not matter) and run it; any
 *			command but the last of a pipelined group may be
 *			followed by more input only after EHLO (RFC 2920)
 *	disconnect	"disconnect from name[addr] ehlo=1 mail=1 ...
 *			commands=N" (per command "ok/total" when some
 *			failed)
 *
 * Errors: every 4xx or 5xx reply to a command counts; once there are
 * smtpd_soft_error_limit errors every reply (not only error replies)
 * waits smtpd_error_sleep_time (tarpit), at smtpd_hard_error_limit the session
 * ends with "421 4.7.0 Error: too many errors". NOOP, VRFY, ETRN and
 * RSET count as junk; beyond smtpd_junk_command_limit of them each one
 * also counts as an error (postconf(5)), so the limits above apply.
 * A queued message resets both counts. A timeout ends the session with
 * "421 4.4.2 ... Error: timeout exceeded", a lost connection with "lost
 * connection after CMD from name[addr]"; either discards the message in
 * progress.
 *
 * Command lines: a line over line_length_limit gets "500 5.5.2 Error:
 * line too long" (the rest of it is skipped); a NUL byte, or a byte
 * that is not ASCII outside a MAIL, RCPT or VRFY argument (where UTF-8
 * is allowed with smtputf8_enable), gets "500 5.5.2 Error: bad syntax"
 * or "500 5.5.2 Error: bad UTF-8 syntax"; a command line that ends in a
 * bare LF is a command under smtpd_forbid_bare_newline = normalize or
 * no, and gets "550 5.5.2 Error: bare <LF> received" (the code is
 * smtpd_forbid_bare_newline_reject_code) under reject. "GET", "POST"
 * and "CONNECT" (a web client or proxy abuse) end the session at once.
 *
 * SECURITY: the client is hostile. Everything it sends is bounded by
 * line_length_limit (commands) or by message_size_limit (content,
 * which streams to cleanup); state lives in one struct per session.
 * smtpd runs as mail_owner, possibly chrooted, and opens its tables
 * before it drops privileges.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "server.h"
#include "str.h"

#include "smtpd.h"
#include "smtpd_cmd.h"
#include "smtpd_xclient.h"

/* The commands' table: smtpd_cmd.h. */

void
smtpd_count(struct smtpd_state *st, const char *name, bool ok)
{
	struct smtpd_count *c;
	size_t i;

	for (i = 0; i < st->ncounts; i++)
		if (strcmp(st->counts[i].name, name) == 0)
			break;
	if (i == st->ncounts) {
		if (st->ncounts == SMTPD_NCOUNTS)
			return;
		st->counts[st->ncounts++].name = name;
	}
	c = &st->counts[i];
	c->total++;
	if (ok)
		c->ok++;
}

void
smtpd_reset(struct smtpd_state *st)
{
	size_t i;

	smtpd_data_abort(st);
	free(st->sender);
	st->sender = NULL;
	free(st->envid);
	st->envid = NULL;
	st->ret = NULL;
	st->body_type = NULL;
	st->size_hint = 0;
	st->eod_size = 0;
	st->rewrite_context = NULL;
	st->smtputf8 = false;
	for (i = 0; i < st->nrcpts; i++) {
		free(st->rcpts[i].addr);
		free(st->rcpts[i].orcpt);
	}
	st->nrcpts = 0;
	st->rcpts_refused = 0;
	st->recipient = NULL;
	st->cleanup_flags = 0;
	free(st->redirect);
	st->redirect = NULL;
	argv_free(st->prepend);
	st->prepend = NULL;
	free(st->hold_reason);
	st->hold_reason = NULL;
	free(st->discard_reason);
	st->discard_reason = NULL;
	free(st->queue_id);
	st->queue_id = NULL;
	free(st->bdat_error);
	st->bdat_error = NULL;
	smtpd_xforward_reset(st);
	smtpd_check_reset(st);
}

/* 421 and the end of the session, with a log line saying why. */
static void
smtpd_hangup(struct smtpd_state *st, const char *code, const char *text)
{
	smtpd_reply(st, "421 %s %s Error: %s", code, var_myhostname, text);
	st->quit = true;
}

/*
 * Did the client send more than RFC 2920 allows at this point? Logged
 * once per session; with smtpd_forbid_unauth_pipelining the session
 * ends. Returns true when it must end.
 */
bool
smtpd_pipelining_check(struct smtpd_state *st, const char *after)
{
	const char *data;
	size_t len, n;

	if (!smtpd_io_pending(st))
		return false;
	if (!st->pipelining_seen) {
		st->pipelining_seen = true;
		len = smtpd_io_peek(st, &data);
		for (n = 0; n < len && n < 100 && data[n] != '\r'
		    && data[n] != '\n'; n++)
			;
		buf_reset(&st->tmp);
		str_printable(&st->tmp, data, n);
		msg_info("improper command pipelining after %s from %s: %s",
		    after, st->namaddr, st->tmp.data);
	}
	if (var_smtpd_forbid_unauth_pipelining) {
		smtpd_reply(st, "554 5.5.0 Error: SMTP protocol synchronization");
		st->quit = true;
		return true;
	}
	return false;
}

/* What is wrong with the bytes of a command line; NULL when fine. */
static const char *
smtpd_line_check(struct smtpd_state *st, const struct smtpd_cmd *cmd,
    const char **what)
{
	const unsigned char *cp = (const unsigned char *)st->line.data;
	size_t i, len = st->line.len;
	bool high = false;

	for (i = 0; i < len; i++) {
		if (cp[i] >= 0x80)
			high = true;
		else if ((cp[i] < 0x20 && cp[i] != '\t') || cp[i] == 0x7f) {
			*what = cp[i] ? "control character" : "NUL byte";
			return "500 5.5.2 Error: bad syntax";
		}
	}
	if (!high)
		return NULL;
	*what = "non-ASCII byte";
	if (cmd == NULL || !(cmd->flags & SMTPD_CMD_UTF8)
	    || !var_smtputf8_enable || !smtpd_utf8_valid(st->line.data, len))
		return "500 5.5.2 Error: bad UTF-8 syntax";
	return NULL;
}

/* Skip the rest of a line that was too long. */
static enum smtpd_got
smtpd_skip_line(struct smtpd_state *st)
{
	enum smtpd_got got;
	enum smtpd_eol eol;

	do
		got = smtpd_io_line(st, &st->tmp, (size_t)var_line_length_limit,
		    &eol);
	while (got == SMTPD_GOT_PART);
	return got;
}

static int smtpd_error_reply(struct smtpd_state *st);

/* Read and run one command. */
static void
smtpd_command(struct smtpd_state *st)
{
	const struct smtpd_cmd *cmd;
	enum smtpd_got got;
	enum smtpd_eol eol;
	const char *bad, *what;
	char *verb, *args, save;

	got = smtpd_io_line(st, &st->line, (size_t)var_line_length_limit, &eol);
	if (got == SMTPD_GOT_PART)
		got = smtpd_skip_line(st) == SMTPD_GOT_LINE ? SMTPD_GOT_PART
		    : got;
	/*
	 * Tarpit: once the client has made smtpd_soft_error_limit errors
	 * without delivering mail, every reply waits (postconf(5)).
	 */
	if ((got == SMTPD_GOT_LINE || got == SMTPD_GOT_PART)
	    && st->error_count >= var_smtpd_soft_error_limit
	    && var_smtpd_error_sleep_time > 0) {
		(void)smtpd_io_flush(st);
		sleep((unsigned)var_smtpd_error_sleep_time);
	}
	switch (got) {
	case SMTPD_GOT_LINE:
		break;
	case SMTPD_GOT_PART:
		smtpd_error(st, "500 5.5.2 Error: line too long");
		return;
	case SMTPD_GOT_TIMEOUT:
		msg_info("timeout after %s from %s", st->where, st->namaddr);
		smtpd_hangup(st, "4.4.2", "timeout exceeded");
		return;
	default:
		msg_info("lost connection after %s from %s", st->where,
		    st->namaddr);
		st->lost = st->quit = true;
		return;
	}
	if (msg_verbose)
		msg_info("< %s: %s", st->namaddr, st->line.data);
	st->last_eol = eol == SMTPD_EOL_LF ? SMTPD_SEEN_LF : SMTPD_SEEN_CRLF;

	/* The verb: up to the first space. */
	verb = st->line.data;
	args = verb + strcspn(verb, " ");
	save = *args;
	*args = 0;
	cmd = smtpd_cmd_find(verb);
	*args = save;

	bad = smtpd_line_check(st, cmd, &what);
	if (*args != 0)
		*args++ = 0;
	if (bad != NULL) {
		msg_warn("%s in command from %s", what, st->namaddr);
		smtpd_error(st, "%s", bad);
		return;
	}
	if (eol == SMTPD_EOL_LF && !st->bare_newline_exempt
	    && smtpd_bare_newline_mode() == SMTPD_BARE_REJECT) {
		msg_info("bare <LF> received after %s from %s", st->where,
		    st->namaddr);
		smtpd_error(st, "%d 5.5.2 Error: bare <LF> received",
		    var_smtpd_forbid_bare_newline_reject_code);
		return;
	}
	if (cmd == NULL) {
		if (*verb == 0) {
			smtpd_error(st, "500 5.5.2 Error: bad syntax");
		} else {
			st->where = "UNKNOWN";
			smtpd_count(st, "unknown", false);
			smtpd_error(st, "500 5.5.2 Error: command not "
			    "recognized");
		}
		return;
	}
	if (cmd->flags & SMTPD_CMD_FORBIDDEN) {
		buf_reset(&st->tmp);
		str_printable(&st->tmp, verb, strlen(verb));
		msg_warn("non-SMTP command from %s: %s %.100s", st->namaddr,
		    st->tmp.data, args);
		smtpd_reply(st, "221 2.7.0 Error: I can break rules, too. "
		    "Goodbye.");
		st->quit = true;
		return;
	}
	if (st->client_rejected && strcmp(cmd->name, "QUIT") != 0) {
		smtpd_count(st, cmd->log_name, false);
		smtpd_error(st, "503 5.7.0 Error: access denied for %s",
		    st->namaddr);
		return;
	}
	st->where = cmd->name;
	if ((cmd->flags & SMTPD_CMD_JUNK)
	    && ++st->junk_count > var_smtpd_junk_command_limit
	    && smtpd_error_reply(st) < 0) {
		smtpd_hangup(st, "4.7.0", "too many errors");
		return;
	}
	cmd->action(st, args);
	smtpd_count(st, cmd->log_name, st->reply_code < 400);
	/*
	 * RFC 2920: a command that waits for its reply ends a group; more
	 * input at that point, or any early input without PIPELINING, is a
	 * client that does not wait (a spammer's shortcut, or smuggling).
	 */
	if (!st->quit && !(cmd->flags & SMTPD_CMD_DATA)
	    && ((cmd->flags & SMTPD_CMD_LAST)
	    || strcmp(st->protocol, "ESMTP") != 0))
		(void)smtpd_pipelining_check(st, cmd->name);
}

/*
 * Count an error: at smtpd_hard_error_limit returns -1 (the caller
 * hangs up). The tarpit is in smtpd_command().
 */
static int
smtpd_error_reply(struct smtpd_state *st)
{
	if (++st->error_count >= var_smtpd_hard_error_limit) {
		msg_info("too many errors after %s from %s", st->where,
		    st->namaddr);
		return -1;
	}
	return 0;
}

void
smtpd_error(struct smtpd_state *st, const char *fmt, ...)
{
	va_list ap;
	struct buf text;

	buf_init(&text, 128);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	if (smtpd_error_reply(st) < 0) {
		smtpd_reply(st, "%s", text.data);
		smtpd_hangup(st, "4.7.0", "too many errors");
	} else {
		smtpd_reply(st, "%s", text.data);
	}
	buf_fini(&text);
}

static void
smtpd_state_init(struct smtpd_state *st, int fd, const char *service)
{
	memset(st, 0, sizeof(*st));
	st->service = service;
	st->where = SMTPD_WHERE_CONNECT;
	st->protocol = "SMTP";
	buf_init(&st->line, 512);
	buf_init(&st->reply, 512);
	buf_init(&st->tmp, 512);
	smtpd_io_init(st, fd);
}

static void
smtpd_state_fini(struct smtpd_state *st)
{
	smtpd_reset(st);
	free(st->rcpts);
	free(st->helo_name);
	free(st->sasl_username);
	smtpd_check_session_end(st);
	smtpd_peer_fini(st);
	smtpd_io_fini(st);
	buf_fini(&st->line);
	buf_fini(&st->reply);
	buf_fini(&st->tmp);
}

void
smtpd_greet(struct smtpd_state *st)
{
	const char *reply;

	if ((reply = smtpd_check_client(st)) != NULL) {
		/* Postfix: the reject is the greeting. */
		smtpd_reply(st, "%s", reply);
		st->client_rejected = true;
	} else {
		smtpd_reply(st, "220 %s", var_smtpd_banner);
	}
}

static void
smtpd_service(int fd, const char *service, char **argv)
{
	struct smtpd_state st;
	const char *reply;

	(void)argv;
	smtpd_state_init(&st, fd, service);
	if (smtpd_peer_init(&st) < 0) {
		smtpd_state_fini(&st);
		return;
	}
	smtpd_log_connect(&st);
	smtpd_check_session(&st);
	if ((reply = smtpd_peer_connect_limits(&st)) != NULL) {
		smtpd_reply(&st, "%s", reply);
		st.quit = true;
	} else if (!smtpd_pipelining_check(&st, SMTPD_WHERE_CONNECT)) {
		smtpd_greet(&st);
	}
	while (!st.quit && !st.lost)
		smtpd_command(&st);
	smtpd_io_flush(&st);
	smtpd_log_disconnect(&st);
	smtpd_state_fini(&st);
}

static void
smtpd_pre_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	smtpd_bare_newline_mode();		/* a bad value is fatal now */
	smtpd_peer_pre_init();
	smtpd_check_init();
	smtpd_rewrite_init();
}

static void
smtpd_pre_exit(void)
{
	smtpd_dns_fini();
}

static const struct single_server_spec smtpd_spec = {
	.name = "smtpd",
	.service = smtpd_service,
	.pre_init = smtpd_pre_init,
	.pre_exit = smtpd_pre_exit,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &smtpd_spec);
}
