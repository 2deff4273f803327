/*
 * smtpd_log.c - smtpd: log lines in Postfix's format
 *
 *	connect from mail.example.com[192.0.2.1]
 *	NOQUEUE: reject: RCPT from mail.example.com[192.0.2.1]: 554 5.7.1
 *	    <u@example.org>: Relay access denied; from=<s@example.com>
 *	    to=<u@example.org> proto=ESMTP helo=<mail.example.com>
 *	4Xc2D1...: client=mail.example.com[192.0.2.1]	(smtpd_data.c)
 *	disconnect from mail.example.com[192.0.2.1] ehlo=1 mail=1 rcpt=0/1
 *	    data=0/1 quit=1 commands=3/5
 *
 * These are the lines that log tools parse (fail2ban's postfix filter,
 * pflogsumm), so their shape is kept exactly: the queue ID or NOQUEUE,
 * the action, the command stage (CONNECT, HELO, MAIL, RCPT, DATA,
 * END-OF-MESSAGE, ...), the client, the reply, and the envelope. In the
 * disconnect line a command that always succeeded shows its count, one
 * that failed at least once "ok/total".
 *
 * SECURITY: the reply and envelope texts may hold client data; the log
 * layer makes every line printable.
 */
#include <string.h>

#include "buf.h"
#include "msg.h"

#include "smtpd.h"

void
smtpd_log_event(struct smtpd_state *st, const char *action, const char *text)
{
	struct buf line;

	buf_init(&line, 256);
	buf_printf(&line, "%s: %s: %s from %s: %s",
	    st->queue_id ? st->queue_id : "NOQUEUE", action, st->where,
	    st->namaddr, text);
	buf_putc(&line, ';');
	if (st->sender != NULL)
		buf_printf(&line, " from=<%s>", st->sender);
	if (st->recipient != NULL)
		buf_printf(&line, " to=<%s>", st->recipient);
	buf_printf(&line, " proto=%s", st->protocol);
	if (st->helo_name != NULL)
		buf_printf(&line, " helo=<%s>", st->helo_name);
	msg_info("%s", line.data);
	buf_fini(&line);
}

void
smtpd_log_connect(struct smtpd_state *st)
{
	msg_info("connect from %s", st->namaddr);
}

/* The order of the disconnect line: the order of a session. */
static const char *const smtpd_log_order[] = {
	"helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail",
	"rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "help",
	"quit", "unknown", NULL,
};

static void
smtpd_log_count(struct buf *line, const struct smtpd_count *c)
{
	if (c->ok == c->total)
		buf_printf(line, " %s=%u", c->name, c->total);
	else
		buf_printf(line, " %s=%u/%u", c->name, c->ok, c->total);
}

void
smtpd_log_disconnect(struct smtpd_state *st)
{
	struct buf line;
	unsigned ok = 0, total = 0;
	size_t i, k;

	buf_init(&line, 256);
	buf_printf(&line, "disconnect from %s", st->namaddr);
	for (k = 0; smtpd_log_order[k] != NULL; k++)
		for (i = 0; i < st->ncounts; i++)
			if (strcmp(st->counts[i].name, smtpd_log_order[k]) == 0)
				smtpd_log_count(&line, &st->counts[i]);
	for (i = 0; i < st->ncounts; i++) {
		ok += st->counts[i].ok;
		total += st->counts[i].total;
	}
	if (ok == total && total > 0)
		buf_printf(&line, " commands=%u", total);
	else
		buf_printf(&line, " commands=%u/%u", ok, total);
	msg_info("%s", line.data);
	buf_fini(&line);
}
