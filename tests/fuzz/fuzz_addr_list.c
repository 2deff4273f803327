/*
 * fuzz_addr_list.c - libFuzzer target: addr_list_parse()
 *
 * The input is a header value (To:, Cc: ...). Beyond "no crash", each
 * address returned must be non-empty text without control characters,
 * and parsing the addresses again, joined with commas, must give back
 * the same addresses (what sendmail -t extracts is stable).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "log.h"
#include "msg.h"

#define FUZZ_MAX_ADDRS	1000

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
	struct argv *first = argv_new(), *again = argv_new();
	struct buf joined;
	size_t i, n;

	if (!init) {
		log_init("fuzz_addr_list");
		log_stderr(false);
		init = true;
	}
	n = addr_list_parse(first, (const char *)data, size, FUZZ_MAX_ADDRS);
	if (n != first->argc)
		abort();
	buf_init(&joined, size + 16);
	for (i = 0; i < first->argc; i++) {
		const unsigned char *p = (const unsigned char *)first->argv[i];

		if (*p == 0)
			abort();
		for (; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				abort();
		if (i)
			buf_puts(&joined, ", ");
		buf_puts(&joined, first->argv[i]);
	}
	addr_list_parse(again, joined.data, joined.len, FUZZ_MAX_ADDRS);
	if (again->argc != first->argc)
		abort();
	for (i = 0; i < first->argc; i++)
		if (strcmp(first->argv[i], again->argv[i]) != 0)
			abort();
	buf_fini(&joined);
	argv_free(first);
	argv_free(again);
	return 0;
}
