/*
 * fuzz_smtpd_cmd.c - libFuzzer target: the arguments of smtpd's MAIL
 * and RCPT commands (smtpd_parse.c)
 *
 * The first input byte picks the options (strict envelopes, SMTPUTF8
 * offered, DSN offered, SMTPUTF8 in the transaction); the rest, up to a
 * NUL byte (smtpd refuses a command line with one before it gets here),
 * is the text after "MAIL " or "RCPT ". Each text is parsed as it is
 * and after "FROM:" or "TO:", so that most inputs reach the path and
 * parameter parsers. Beyond "no crash", each result is checked:
 *
 *	a reply is "ddd x.y.z text" with a 4xx/5xx code whose class
 *	matches the enhanced code's, printable, under 200 bytes, and
 *	nothing of the refused command is left in the results;
 *	an accepted MAIL has a printable (or, with SMTPUTF8 given, UTF-8)
 *	sender within the address limit, a size >= 0, an ENVID of 1..100
 *	printable bytes (or none), no DSN values when DSN is not offered,
 *	no SMTPUTF8 when it is not offered;
 *	an accepted RCPT has a non-empty address (ASCII unless the
 *	transaction is SMTPUTF8), NOTIFY bits that RFC 3461 allows, an
 *	ORCPT of "type;address";
 *	a second parse of the same text gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "msg.h"
#include "smtpd_parse.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smtpd_mail_args mail_args;
static struct smtpd_rcpt_args rcpt_args;
static struct buf text;
static bool ready;

/* No byte below 0x20, no DEL; bytes above 0x7e only when utf8. */
static void
check_text(const char *s, bool utf8)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f
		    || (!utf8 && (unsigned char)*s > 0x7e))
			abort();
}

/* "ddd x.y.z text": 4xx/5xx, classes agree, printable, short. */
static void
check_reply(const char *reply)
{
	size_t len = strlen(reply);

	if (len < 10 || len >= 200)
		abort();
	if ((reply[0] != '4' && reply[0] != '5') || reply[1] < '0'
	    || reply[1] > '9' || reply[2] < '0' || reply[2] > '9'
	    || reply[3] != ' ' || reply[4] != reply[0] || reply[5] != '.')
		abort();
	check_text(reply, false);
}

static void
check_mail(const char *in, const struct smtpd_parse_opts *opts)
{
	struct smtpd_mail_args *m = &mail_args;
	const char *reply;
	char *first;

	reply = smtpd_parse_mail(in, opts, m);
	first = reply ? strdup(reply) : NULL;
	if (reply != NULL) {
		check_reply(reply);
		if (m->sender.len || m->envid.len || m->size || m->body
		    || m->ret || m->smtputf8)
			abort();
	} else {
		check_text(m->sender.data, m->smtputf8);
		if (m->sender.len > CLEANUP_CLNT_ADDR_LIMIT || m->size < 0)
			abort();
		check_text(m->envid.data, false);
		if (m->envid.len > CLEANUP_CLNT_ENVID_LIMIT)
			abort();
		if (!opts->dsn && (m->ret != NULL || m->envid.len > 0))
			abort();
		if (!opts->utf8 && m->smtputf8)
			abort();
	}
	/* The same text, the same answer. */
	reply = smtpd_parse_mail(in, opts, m);
	if ((reply == NULL) != (first == NULL)
	    || (reply != NULL && strcmp(reply, first) != 0))
		abort();
	free(first);
}

static void
check_rcpt(const char *in, const struct smtpd_parse_opts *opts)
{
	struct smtpd_rcpt_args *r = &rcpt_args;
	const char *reply;
	char *first;
	int any = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY | DSN_NOTIFY_FAILURE;

	reply = smtpd_parse_rcpt(in, opts, r);
	first = reply ? strdup(reply) : NULL;
	if (reply != NULL) {
		check_reply(reply);
		if (r->addr.len || r->orcpt.len || r->notify)
			abort();
	} else {
		if (r->addr.len == 0 || r->addr.len > CLEANUP_CLNT_ADDR_LIMIT)
			abort();
		check_text(r->addr.data, opts->tx_utf8);
		if (r->notify != 0 && r->notify != DSN_NOTIFY_NEVER
		    && (r->notify & ~any) != 0)
			abort();
		if (r->orcpt.len > 0 && (strchr(r->orcpt.data, ';') == NULL
		    || r->orcpt.data[0] == ';'))
			abort();
		check_text(r->orcpt.data, false);
		if (!opts->dsn && (r->notify != 0 || r->orcpt.len > 0))
			abort();
	}
	reply = smtpd_parse_rcpt(in, opts, r);
	if ((reply == NULL) != (first == NULL)
	    || (reply != NULL && strcmp(reply, first) != 0))
		abort();
	free(first);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_parse_opts opts;
	const char *in;
	size_t len;

	if (!ready) {
		smtpd_mail_args_init(&mail_args);
		smtpd_rcpt_args_init(&rcpt_args);
		buf_init(&text, 256);
		ready = true;
	}
	if (size < 1)
		return 0;
	opts.strict = data[0] & 1;
	opts.utf8 = (data[0] & 2) != 0;
	opts.dsn = (data[0] & 4) != 0;
	opts.tx_utf8 = (data[0] & 8) != 0;
	data++;
	size--;
	in = (const char *)data;
	len = strnlen(in, size);

	buf_setn(&text, in, len);
	check_mail(text.data, &opts);
	check_rcpt(text.data, &opts);
	buf_set(&text, "FROM:");
	buf_append(&text, in, len);
	check_mail(text.data, &opts);
	buf_set(&text, "TO:");
	buf_append(&text, in, len);
	check_rcpt(text.data, &opts);
	return 0;
}
