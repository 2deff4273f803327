/*
 * fuzz_maincf.c - libFuzzer target: conf_read_text() and conf_validate()
 *
 * The input is a main.cf: it is parsed, then every known parameter is
 * expanded and converted (without storing into the var_ globals).
 */
#include <stdint.h>
#include <stdlib.h>

#include "conf.h"
#include "log.h"
#include "mem.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct conf *c;
	char *text;

	if (!init) {
		log_init("fuzz_maincf");
		log_stderr(false);
		init = true;
	}
	text = xmemdup(data, size);	/* NUL-terminated copy */
	c = conf_new();
	/* Validate even after syntax errors: the good lines are kept. */
	(void)conf_read_text(c, text, "main.cf");
	(void)conf_validate(c, false);
	conf_free(c);
	free(text);
	return 0;
}
