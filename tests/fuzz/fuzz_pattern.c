/*
 * fuzz_pattern.c - libFuzzer target: regexp: and pcre: pattern files
 *
 * The first input byte picks the engine (even: regexp, odd: pcre); the
 * rest is a pattern file for dict_pattern_open_text(). When it opens,
 * a few keys are looked up, among them a slice of the input, so that
 * $n substitution and if/endif nesting run on fuzzed data too. Inputs
 * are kept short and the PCRE match limit low, so that a slow pattern
 * cannot stall a fuzzing run (POSIX regexec has no limit at all).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_pattern.h"
#include "dict_types.h"
#include "log.h"
#include "mem.h"
#include "msg.h"

#define FUZZ_MAX_INPUT	1024
#define FUZZ_MAX_KEY	64

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
	static const char *const keys[] = {"", "a", "user@example.com",
	    "Subject: hello", "192.0.2.1"};
	static bool init;
	const struct dict_pattern_engine *engine;
	const struct dict_ops *ops;
	struct buf why, value, key;
	struct dict *d;
	size_t i, klen;

	if (!init) {
		log_init("fuzz_pattern");
		log_stderr(false);
		dict_pattern_set_match_limit(10000);
		init = true;
	}
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	engine = data[0] & 1 ? &dict_pcre_engine : &dict_regexp_engine;
	ops = data[0] & 1 ? &dict_pcre_ops : &dict_regexp_ops;
	buf_init(&why, 64);
	d = dict_pattern_open_text(ops, engine, "fuzz", (const char *)data + 1,
	    size - 1, 0, &why);
	if (d != NULL) {
		buf_init(&value, 64);
		buf_init(&key, FUZZ_MAX_KEY);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			(void)dict_lookup(d, keys[i], &value);
		klen = size - 1 < FUZZ_MAX_KEY ? size - 1 : FUZZ_MAX_KEY;
		buf_append(&key, data + 1, klen);
		/* A key is text: stop at the first NUL. */
		buf_truncate(&key, strlen(key.data));
		(void)dict_lookup(d, key.data, &value);
		buf_fini(&key);
		buf_fini(&value);
		dict_close(d);
	}
	buf_fini(&why);
	return 0;
}
