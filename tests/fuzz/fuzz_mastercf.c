/*
 * fuzz_mastercf.c - libFuzzer target: mastercf_parse()
 *
 * The input is a master.cf. Beyond "no crash", the target checks that
 * master_ent_format() is faithful: each entry, formatted and parsed
 * again, gives an equal entry with the same endpoint, and the formatted
 * table as a whole parses back to as many entries.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "log.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"

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
	struct mastercf *cf, *again;
	struct buf one, all, why;
	char *text;

	if (!init) {
		log_init("fuzz_mastercf");
		log_stderr(false);
		init = true;
	}
	text = xmemdup(data, size);	/* NUL-terminated copy */
	cf = mastercf_parse(text, "master.cf");
	free(text);
	if (cf == NULL)
		return 0;

	buf_init(&one, 256);
	buf_init(&all, 256);
	buf_init(&why, 64);
	for (size_t i = 0; i < cf->count; i++) {
		struct master_ent *ent;

		buf_reset(&one);
		master_ent_format(cf->ents[i], &one);
		ent = mastercf_parse_entry(one.data, "master.cf", 1, &why);
		if (ent == NULL || !master_ent_equal(cf->ents[i], ent)
		    || !master_ent_same_endpoint(cf->ents[i], ent))
			abort();
		master_ent_free(ent);
		buf_append(&all, one.data, one.len);
		buf_putc(&all, '\n');
	}
	again = mastercf_parse(all.data, "master.cf");
	if (again == NULL || again->count != cf->count)
		abort();
	mastercf_free(again);
	mastercf_free(cf);
	buf_fini(&one);
	buf_fini(&all);
	buf_fini(&why);
	return 0;
}
