/*
 * fuzz_smtp_syntax.c - libFuzzer target: the SMTP command syntax of
 * sendmail -bs (sendmail_syntax.c)
 *
 * The input is the argument text of a MAIL FROM or RCPT TO command: a
 * path, then ESMTP parameters. Beyond "no crash": a path that parses
 * gives printable text within the address limit, and parsing it again
 * in angle brackets gives the same address; every parameter keyword is
 * non-empty; a decoded xtext or ORCPT value holds no NUL byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "log.h"
#include "msg.h"
#include "sendmail.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_path(const char *text)
{
	struct buf out, tmp, again, wrapped;
	const char *rest;
	size_t i;

	buf_init(&out, 64);
	buf_init(&tmp, 64);
	buf_init(&again, 64);
	buf_init(&wrapped, 64);
	if ((rest = sm_path_parse(text, &out, &tmp, true)) != NULL) {
		if (out.len > CLEANUP_CLNT_ADDR_LIMIT)
			abort();
		for (i = 0; i < out.len; i++)
			if ((unsigned char)out.data[i] < 0x20
			    || out.data[i] == 0x7f)
				abort();
		buf_printf(&wrapped, "<%s>", out.data);
		if (sm_path_parse(wrapped.data, &again, &tmp, true) == NULL
		    || strcmp(again.data, out.data) != 0)
			abort();
	}
	buf_fini(&out);
	buf_fini(&tmp);
	buf_fini(&again);
	buf_fini(&wrapped);
}

static void
check_params(char *text)
{
	struct buf out, tmp;
	char *cursor = text, *key, *value;
	int rc;

	buf_init(&out, 64);
	buf_init(&tmp, 64);
	while ((rc = sm_param_next(&cursor, &key, &value)) == 1) {
		if (*key == 0)
			abort();
		if (value == NULL)
			continue;
		if (sm_xtext_decode(value, &out) == 0
		    && memchr(out.data, 0, out.len) != NULL)
			abort();
		if (sm_orcpt_parse(value, &out, &tmp)
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
