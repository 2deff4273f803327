/*
 * fuzz_smtp_syntax.c - libFuzzer target: the SMTP command syntax of
 * smtpd and sendmail -bs (smtp_syntax.c)
 *
 * The input is the argument text of a MAIL FROM or RCPT TO command: a
 * path, then ESMTP parameters. The path is parsed with each set of
 * flags (strict ASCII, SMTPUTF8, SMTPUTF8 and lax). Beyond "no crash":
 * a path that parses gives printable text within the address limit
 * (no byte below 0x20, no DEL, and without SMTP_PATH_UTF8 nothing above
 * 0x7e), and parsing it again in angle brackets gives the same address;
 * each more permissive set of flags accepts what a stricter one did,
 * with the same result; every parameter keyword is non-empty; a decoded
 * xtext or ORCPT value holds no NUL byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "log.h"
#include "msg.h"
#include "smtp_syntax.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int path_flags[] = {
	SMTP_PATH_NULL_OK,
	SMTP_PATH_NULL_OK | SMTP_PATH_UTF8,
	SMTP_PATH_NULL_OK | SMTP_PATH_UTF8 | SMTP_PATH_LAX,
};

#define NFLAGS	(sizeof(path_flags) / sizeof(path_flags[0]))

/* Parse with flags; check the result; returns it (NULL: refused). */
static char *
check_path_flags(const char *text, int flags)
{
	struct buf out, tmp, again, wrapped;
	const char *rest, *domain;
	char *result = NULL;
	size_t i;

	buf_init(&out, 64);
	buf_init(&tmp, 64);
	buf_init(&again, 64);
	buf_init(&wrapped, 64);
	if ((rest = smtp_path_parse(text, &out, &tmp, flags)) != NULL) {
		if (out.len > CLEANUP_CLNT_ADDR_LIMIT)
			abort();
		for (i = 0; i < out.len; i++)
			if ((unsigned char)out.data[i] < 0x20
			    || out.data[i] == 0x7f
			    || (!(flags & SMTP_PATH_UTF8)
			    && (unsigned char)out.data[i] > 0x7e))
				abort();
		buf_printf(&wrapped, "<%s>", out.data);
		if (smtp_path_parse(wrapped.data, &again, &tmp, flags) == NULL
		    || strcmp(again.data, out.data) != 0)
			abort();
		if (smtp_addr_domain(out.data, &domain)
		    && (domain <= out.data || domain[-1] != '@'))
			abort();
		result = buf_steal(&out);
	}
	buf_fini(&out);
	buf_fini(&tmp);
	buf_fini(&again);
	buf_fini(&wrapped);
	return result;
}

static void
check_path(const char *text)
{
	char *got[NFLAGS];
	size_t i;

	for (i = 0; i < NFLAGS; i++) {
		got[i] = check_path_flags(text, path_flags[i]);
		if (i > 0 && got[i - 1] != NULL && (got[i] == NULL
		    || strcmp(got[i - 1], got[i]) != 0))
			abort();
	}
	for (i = 0; i < NFLAGS; i++)
		free(got[i]);
}

static void
check_params(char *text)
{
	struct buf out, tmp;
	char *cursor = text, *key, *value;
	int rc;

	buf_init(&out, 64);
	buf_init(&tmp, 64);
	while ((rc = smtp_param_next(&cursor, &key, &value)) == 1) {
		if (*key == 0)
			abort();
		if (value == NULL)
			continue;
		if (smtp_xtext_decode(value, &out) == 0
		    && memchr(out.data, 0, out.len) != NULL)
			abort();
		if (smtp_orcpt_parse(value, &out, &tmp)
		    && memchr(out.data, 0, out.len) != NULL)
			abort();
	}
	if (rc != 0 && rc != -1)
		abort();
	buf_fini(&out);
	buf_fini(&tmp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	char *text;
	const char *sp;

	if (!init) {
		log_init("fuzz_smtp_syntax");
		log_stderr(false);
		init = true;
	}
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;		/* a command line holds no NUL (500 first) */
	check_path(text);
	sp = strchr(text, ' ');
	check_params(sp ? text + (sp - text) + 1 : text + size);
	free(text);
	return 0;
}
