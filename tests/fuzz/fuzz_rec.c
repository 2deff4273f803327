/*
 * fuzz_rec.c - libFuzzer target: rec_decode() over a record stream
 *
 * The input is a queue file or cleanup stream as a peer or a damaged
 * disk might present it. rec_decode() walks it record by record; beyond
 * "no crash, no out-of-bounds read", the target checks what the format
 * promises: each decoded record re-encodes with rec_encode() to exactly
 * the bytes it came from (lengths are canonical), every shorter prefix
 * of a record is "incomplete" rather than "malformed" or a different
 * record, a failure always comes with a reason, and a tighter limit
 * rejects exactly the records that exceed it.
 *
 * SECURITY: this is the code that reads queue files; keep the target
 * fast so that it runs many inputs per second.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "rec.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REC_LIMIT	(1 << 20)
#define FUZZ_REC_SMALL	16

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	const char *in = (const char *)data;
	struct buf why, out;
	size_t pos = 0, off, len, off2, len2;
	ssize_t ret, ret2;
	int type, type2;

	if (!init) {
		log_init("fuzz_rec");
		log_stderr(false);
		init = true;
	}
	buf_init(&why, 64);
	buf_init(&out, 64);
	for (;;) {
		buf_reset(&why);
		ret = rec_decode(in + pos, size - pos, FUZZ_REC_LIMIT, &type,
		    &off, &len, &why);
		if (ret < 0 && why.len == 0)
			abort();
		/* Tighter limit: same answer, unless the record is too big. */
		ret2 = rec_decode(in + pos, size - pos, FUZZ_REC_SMALL,
		    &type2, &off2, &len2, &why);
		if (ret > 0) {
			if ((size_t)ret > size - pos
			    || off + len != (size_t)ret)
				abort();
			if (!rec_type_known(type))
				abort();
			if (len > FUZZ_REC_SMALL ? ret2 != -1 : ret2 != ret)
				abort();
			buf_reset(&out);
			rec_encode(&out, type, in + pos + off, len);
			if (out.len != (size_t)ret
			    || memcmp(out.data, in + pos, out.len) != 0)
				abort();
			/* A prefix is incomplete, never a record or an error. */
			if (rec_decode(in + pos, (size_t)ret - 1,
			    FUZZ_REC_LIMIT, &type2, &off2, &len2, &why) != 0)
				abort();
			if (off > 1 && rec_decode(in + pos, off - 1,
			    FUZZ_REC_LIMIT, &type2, &off2, &len2, &why) != 0)
				abort();
			pos += (size_t)ret;
			continue;
		}
		/* Incomplete with a big limit is incomplete or too big. */
		if (ret == 0 && ret2 > 0)
			abort();
		/* Malformed stays malformed under a tighter limit. */
		if (ret < 0 && ret2 != -1)
			abort();
		break;
	}
	buf_fini(&why);
	buf_fini(&out);
	return 0;
}
