/*
 * smtpd_parse.c - smtpd: the arguments of MAIL and RCPT, parsed alone
 *
 * See smtpd_parse.h for the grammar and the replies. The order of the
 * checks is the order of the text: keyword, path, parameters one by
 * one (the first bad one answers), then the SMTPUTF8 rule, which needs
 * both the address and the parameters.
 *
 * SECURITY: the input is a client's command line; it is copied into a
 * buffer before smtp_param_next() splits it, and every value is checked
 * before it is kept (xtext decoded and printable, lengths within the
 * queue file's limits).
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "smtp_syntax.h"
#include "str.h"

#include "smtpd_parse.h"

#define SMTPD_SIZE_DIGITS	20	/* RFC 1870: size-value = 1*20DIGIT */

void
smtpd_mail_args_init(struct smtpd_mail_args *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->sender, 64);
	buf_init(&m->envid, 16);
	buf_init(&m->reply, 64);
	buf_init(&m->copy, 128);
	buf_init(&m->tmp, 64);
}

void
smtpd_mail_args_fini(struct smtpd_mail_args *m)
{
	buf_fini(&m->sender);
	buf_fini(&m->envid);
	buf_fini(&m->reply);
	buf_fini(&m->copy);
	buf_fini(&m->tmp);
}

void
smtpd_rcpt_args_init(struct smtpd_rcpt_args *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->addr, 64);
	buf_init(&r->orcpt, 16);
	buf_init(&r->reply, 64);
	buf_init(&r->copy, 128);
	buf_init(&r->tmp, 64);
}

void
smtpd_rcpt_args_fini(struct smtpd_rcpt_args *r)
{
	buf_fini(&r->addr);
	buf_fini(&r->orcpt);
	buf_fini(&r->reply);
	buf_fini(&r->copy);
	buf_fini(&r->tmp);
}

/*
 * Skip keyword ("FROM:", "TO:", any case) and the spaces after it;
 * NULL when it is not there.
 */
static const char *
smtpd_parse_keyword(const char *args, const char *keyword)
{
	size_t len = strlen(keyword);

	if (strncasecmp(args, keyword, len) != 0)
		return NULL;
	args += len;
	while (*args == ' ')
		args++;
	return args;
}

/*
 * UTF-8 is always parsed (well-formed or refused): a non-ASCII address
 * without SMTPUTF8 then gets the 553 5.6.7 that RFC 6531 asks for, not
 * a syntax error.
 */
static int
smtpd_parse_path_flags(const struct smtpd_parse_opts *opts)
{
	return (opts->strict ? 0 : SMTP_PATH_LAX) | SMTP_PATH_UTF8;
}

static bool
smtpd_parse_8bit(const char *str)
{
	for (; *str; str++)
		if ((unsigned char)*str >= 0x80)
			return true;
	return false;
}

/*
 * RFC 1870 size-value: 1 to 20 digits. A value beyond LONG_MAX is
 * LONG_MAX: valid syntax, and certainly over any limit.
 */
static bool
smtpd_parse_size(const char *value, long *size)
{
	size_t i, len = strlen(value);
	long n = 0;

	if (len == 0 || len > SMTPD_SIZE_DIGITS)
		return false;
	for (i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9')
			return false;
		if (n != LONG_MAX && (__builtin_mul_overflow(n, 10, &n)
		    || __builtin_add_overflow(n, value[i] - '0', &n)))
			n = LONG_MAX;
	}
	*size = n;
	return true;
}

/*
 * RFC 3461 NOTIFY: "NEVER" or a comma-separated list of SUCCESS, DELAY
 * and FAILURE, each at most once. Returns the DSN_NOTIFY_* bits or -1.
 */
static int
smtpd_parse_notify(const char *value)
{
	size_t len = strlen(value);

	/* cleanup_clnt_notify_parse() skips empty elements; RFC 3461 not. */
	if (len == 0 || value[0] == ',' || value[len - 1] == ','
	    || strstr(value, ",,") != NULL)
		return -1;
	return cleanup_clnt_notify_parse(value);
}

/* ---- MAIL ---------------------------------------------------------------- */

/* One MAIL parameter; NULL when accepted. */
static const char *
smtpd_parse_mail_param(const struct smtpd_parse_opts *opts,
    struct smtpd_mail_args *m, const char *key, const char *value)
{
	if (strcasecmp(key, "SIZE") == 0 && value != NULL) {
		if (!smtpd_parse_size(value, &m->size))
			return "501 5.5.4 Bad message size syntax";
	} else if (strcasecmp(key, "BODY") == 0 && value != NULL) {
		if (strcasecmp(value, "8BITMIME") == 0)
			m->body = "8BITMIME";
		else if (strcasecmp(value, "7BIT") == 0)
			m->body = "7BIT";
		else
			return "501 5.5.4 Unsupported BODY parameter";
	} else if (strcasecmp(key, "SMTPUTF8") == 0 && value == NULL
	    && opts->utf8) {
		m->smtputf8 = true;
	} else if (strcasecmp(key, "RET") == 0 && value != NULL && opts->dsn) {
		if (m->ret != NULL)
			return "501 5.5.4 Duplicate RET parameter";
		if (strcasecmp(value, "FULL") == 0)
			m->ret = "full";
		else if (strcasecmp(value, "HDRS") == 0)
			m->ret = "hdrs";
		else
			return "501 5.5.4 Bad RET parameter syntax";
	} else if (strcasecmp(key, "ENVID") == 0 && value != NULL
	    && opts->dsn) {
		if (m->envid.len > 0)
			return "501 5.5.4 Duplicate ENVID parameter";
		if (smtp_xtext_decode(value, &m->envid) < 0
		    || m->envid.len == 0
		    || m->envid.len > CLEANUP_CLNT_ENVID_LIMIT
		    || !str_is_printable(m->envid.data)) {
			buf_reset(&m->envid);
			return "501 5.5.4 Bad ENVID parameter syntax";
		}
	} else if (strcasecmp(key, "AUTH") == 0 && value != NULL) {
		/* RFC 4954: ignored until AUTH exists (the hook). */
	} else {
		buf_reset(&m->reply);
		buf_printf(&m->reply, "555 5.5.4 Unsupported option: %.100s",
		    key);
		return m->reply.data;
	}
	return NULL;
}

static void
smtpd_mail_args_clear(struct smtpd_mail_args *m)
{
	buf_reset(&m->sender);
	buf_reset(&m->envid);
	m->size = 0;
	m->body = m->ret = NULL;
	m->smtputf8 = false;
}

const char *
smtpd_parse_mail(const char *args, const struct smtpd_parse_opts *opts,
    struct smtpd_mail_args *m)
{
	const char *cp, *rest, *reply;
	char *cursor, *key, *value;
	int rc;

	smtpd_mail_args_clear(m);
	if ((cp = smtpd_parse_keyword(args, "FROM:")) == NULL)
		return "501 5.5.4 Syntax: MAIL FROM:<address>";
	rest = smtp_path_parse(cp, &m->sender, &m->tmp,
	    smtpd_parse_path_flags(opts) | SMTP_PATH_NULL_OK);
	if (rest == NULL || (*rest != 0 && *rest != ' ')) {
		smtpd_mail_args_clear(m);
		return "501 5.1.7 Bad sender address syntax";
	}
	buf_set(&m->copy, rest);
	cursor = m->copy.data;
	while ((rc = smtp_param_next(&cursor, &key, &value)) > 0)
		if ((reply = smtpd_parse_mail_param(opts, m, key, value))
		    != NULL) {
			smtpd_mail_args_clear(m);
			return reply;
		}
	if (rc < 0) {
		smtpd_mail_args_clear(m);
		return "501 5.5.4 Bad MAIL parameter syntax";
	}
	if (!m->smtputf8 && smtpd_parse_8bit(m->sender.data)) {
		smtpd_mail_args_clear(m);
		return "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address";
	}
	return NULL;
}

/* ---- RCPT ---------------------------------------------------------------- */

/* One RCPT parameter; NULL when accepted. */
static const char *
smtpd_parse_rcpt_param(const struct smtpd_parse_opts *opts,
    struct smtpd_rcpt_args *r, const char *key, const char *value)
{
	if (strcasecmp(key, "NOTIFY") == 0 && value != NULL && opts->dsn) {
		if (r->notify != 0)
			return "501 5.5.4 Duplicate NOTIFY parameter";
		if ((r->notify = smtpd_parse_notify(value)) <= 0) {
			r->notify = 0;
			return "501 5.5.4 Bad NOTIFY parameter syntax";
		}
	} else if (strcasecmp(key, "ORCPT") == 0 && value != NULL
	    && opts->dsn) {
		if (r->orcpt.len > 0)
			return "501 5.5.4 Duplicate ORCPT parameter";
		if (!smtp_orcpt_parse(value, &r->orcpt, &r->tmp)) {
			buf_reset(&r->orcpt);
			return "501 5.5.4 Bad ORCPT parameter syntax";
		}
	} else {
		buf_reset(&r->reply);
		buf_printf(&r->reply, "555 5.5.4 Unsupported option: %.100s",
		    key);
		return r->reply.data;
	}
	return NULL;
}

static void
smtpd_rcpt_args_clear(struct smtpd_rcpt_args *r)
{
	buf_reset(&r->addr);
	buf_reset(&r->orcpt);
	r->notify = 0;
}

const char *
smtpd_parse_rcpt(const char *args, const struct smtpd_parse_opts *opts,
    struct smtpd_rcpt_args *r)
{
	const char *cp, *rest, *reply;
	char *cursor, *key, *value;
	int rc;

	smtpd_rcpt_args_clear(r);
	if ((cp = smtpd_parse_keyword(args, "TO:")) == NULL)
		return "501 5.5.4 Syntax: RCPT TO:<address>";
	rest = smtp_path_parse(cp, &r->addr, &r->tmp,
	    smtpd_parse_path_flags(opts));
	if (rest == NULL || (*rest != 0 && *rest != ' ') || r->addr.len == 0) {
		smtpd_rcpt_args_clear(r);
		return "501 5.1.3 Bad recipient address syntax";
	}
	buf_set(&r->copy, rest);
	cursor = r->copy.data;
	while ((rc = smtp_param_next(&cursor, &key, &value)) > 0)
		if ((reply = smtpd_parse_rcpt_param(opts, r, key, value))
		    != NULL) {
			smtpd_rcpt_args_clear(r);
			return reply;
		}
	if (rc < 0) {
		smtpd_rcpt_args_clear(r);
		return "501 5.5.4 Bad RCPT parameter syntax";
	}
	if (!opts->tx_utf8 && smtpd_parse_8bit(r->addr.data)) {
		smtpd_rcpt_args_clear(r);
		return "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address";
	}
	return NULL;
}
