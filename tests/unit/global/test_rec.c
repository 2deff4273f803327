/*
 * test_rec.c - unit tests for rec.c
 *
 * Table-driven: exact encodings of the length boundaries (0, 127, 128,
 * 16383, 16384, multi-megabyte), round trips of every record type,
 * limits (checked before the data arrives), every malformed form with
 * the exact reason (unknown type, non-canonical and over-long lengths),
 * every truncation of valid input (each in a heap buffer of exactly that
 * size, so ASan catches a read past the end), rec_get() over a
 * socketpair, and rec_mark_done() on a temporary file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "rec.h"
#include "stream.h"

static const int all_types[] = {
	REC_TYPE_SIZE, REC_TYPE_TIME, REC_TYPE_ATTR, REC_TYPE_FROM,
	REC_TYPE_ORCP, REC_TYPE_NOTIFY, REC_TYPE_RCPT, REC_TYPE_DONE,
	REC_TYPE_MESG, REC_TYPE_NORM, REC_TYPE_CONT, REC_TYPE_XTRA,
	REC_TYPE_RRTO, REC_TYPE_ERTO, REC_TYPE_WARN, REC_TYPE_END,
};

/* Decode from a heap copy of exactly len bytes. */
static ssize_t
decode_exact(const char *data, size_t len, size_t limit, int *type,
    size_t *off, size_t *dlen, struct buf *why)
{
	char *copy = xmalloc(len ? len : 1);
	ssize_t ret;

	if (len)
		memcpy(copy, data, len);
	ret = rec_decode(copy, len, limit, type, off, dlen, why);
	free(copy);
	return ret;
}

static void
test_types(void **state)
{
	size_t i;
	int t;

	(void)state;
	for (i = 0; i < NELEM(all_types); i++) {
		assert_true(rec_type_known(all_types[i]));
		assert_string_not_equal(rec_type_name(all_types[i]),
		    "unknown");
	}
	/* Every other byte value is unknown. */
	for (t = 0; t < 256; t++) {
		bool listed = false;

		for (i = 0; i < NELEM(all_types); i++)
			listed |= all_types[i] == t;
		if (rec_type_known(t) != listed)
			fail_msg("type 0x%02x: known=%d", t, !listed);
	}
	assert_false(rec_type_known(-1));
	assert_false(rec_type_known(256 + 'R'));
	assert_string_equal(rec_type_name('?'), "unknown");
	assert_string_equal(rec_type_name(REC_TYPE_RCPT), "recipient");
}

static void
test_encode(void **state)
{
	static const struct {
		const char *label;
		size_t len;
		const char *want;	/* type and length bytes */
		size_t want_len;
	} cases[] = {
		{"len 0", 0, BYTES("R\x00")},
		{"len 1", 1, BYTES("R\x01")},
		{"len 127", 127, BYTES("R\x7f")},
		{"len 128", 128, BYTES("R\x80\x01")},
		{"len 300", 300, BYTES("R\xac\x02")},
		{"len 16383", 16383, BYTES("R\xff\x7f")},
		{"len 16384", 16384, BYTES("R\x80\x80\x01")},
		{"len 2097151", 2097151, BYTES("R\xff\xff\x7f")},
		{"len 2097152", 2097152, BYTES("R\x80\x80\x80\x01")},
	};
	struct buf out;
	char *data;
	size_t i;

	(void)state;
	buf_init(&out, 16);
	for (i = 0; i < NELEM(cases); i++) {
		data = xcalloc(1, cases[i].len + 1);
		memset(data, 'x', cases[i].len);
		buf_reset(&out);
		rec_encode(&out, REC_TYPE_RCPT, data, cases[i].len);
		CHECK(out.len == cases[i].want_len + cases[i].len,
		    cases[i].label);
		CHECK(memcmp(out.data, cases[i].want, cases[i].want_len) == 0,
		    cases[i].label);
		CHECK(memcmp(out.data + cases[i].want_len, data,
		    cases[i].len) == 0, cases[i].label);
		free(data);
	}
	/* Appends. */
	buf_set(&out, "pre");
	rec_encode(&out, REC_TYPE_END, NULL, 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "preE\0", 5);
	buf_fini(&out);
}

static void
test_round_trip(void **state)
{
	static const size_t lens[] = {0, 1, 127, 128, 16383, 16384,
	    2097152, 3000001};
	struct buf enc, why;
	size_t i, j, off, dlen;
	char *data;
	ssize_t ret;
	int type;

	(void)state;
	buf_init(&enc, 64);
	buf_init(&why, 64);
	for (i = 0; i < NELEM(all_types); i++) {
		for (j = 0; j < NELEM(lens); j++) {
			char label[64];

			snprintf(label, sizeof(label), "type %c len %zu",
			    all_types[i], lens[j]);
			data = xmalloc(lens[j] + 1);
			for (off = 0; off < lens[j]; off++)
				data[off] = (char)(off * 7 + j);
			buf_reset(&enc);
			rec_encode(&enc, all_types[i], data, lens[j]);
			ret = decode_exact(enc.data, enc.len, lens[j], &type,
			    &off, &dlen, &why);
			CHECK(ret == (ssize_t)enc.len, label);
			CHECK(type == all_types[i], label);
			CHECK(dlen == lens[j], label);
			CHECK(off + dlen == enc.len, label);
			CHECK(memcmp(enc.data + off, data, dlen) == 0, label);
			/* One byte over the limit fails before the data. */
			if (lens[j] > 0) {
				ret = decode_exact(enc.data, off, lens[j] - 1,
				    &type, &off, &dlen, &why);
				CHECK(ret == -1, label);
				CHECK(strstr(why.data, "exceeds limit")
				    != NULL, label);
			}
			free(data);
		}
	}
	buf_fini(&enc);
	buf_fini(&why);
}

static void
test_sequence(void **state)
{
	struct buf enc, why;
	size_t pos = 0, off, dlen;
	ssize_t ret;
	int type, n = 0;

	(void)state;
	buf_init(&enc, 64);
	buf_init(&why, 64);
	rec_encode(&enc, REC_TYPE_TIME, "1 2", 3);
	rec_encode(&enc, REC_TYPE_FROM, "", 0);
	rec_encode(&enc, REC_TYPE_RCPT, "a@b", 3);
	rec_encode(&enc, REC_TYPE_NORM, "x\0y", 3);
	rec_encode(&enc, REC_TYPE_END, NULL, 0);
	while (pos < enc.len) {
		ret = rec_decode(enc.data + pos, enc.len - pos, 100, &type,
		    &off, &dlen, &why);
		assert_true(ret > 0);
		if (n == 3) {
			assert_int_equal(type, REC_TYPE_NORM);
			assert_int_equal(dlen, 3);
			assert_memory_equal(enc.data + pos + off, "x\0y", 3);
		}
		pos += (size_t)ret;
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(type, REC_TYPE_END);
	buf_fini(&enc);
	buf_fini(&why);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		size_t limit;
		ssize_t want;
		const char *why;
	} cases[] = {
		{"empty input", BYTES(""), 10, 0, ""},
		{"type only", BYTES("R"), 10, 0, ""},
		{"unknown type NUL", BYTES("\0\0"), 10, -1,
		    "unknown record type 0x00"},
		{"unknown type Z", BYTES("Z\0"), 10, -1,
		    "unknown record type 0x5a"},
		{"unknown type 0xff", BYTES("\xff"), 10, -1,
		    "unknown record type 0xff"},
		{"unknown type alone", BYTES("?"), 10, -1,
		    "unknown record type 0x3f"},
		{"non-canonical 2 bytes", BYTES("R\x80\x00"), 10, -1,
		    "non-canonical record length"},
		{"non-canonical 1 with 0", BYTES("R\x81\x00"), 10, -1,
		    "non-canonical record length"},
		{"non-canonical 3 bytes", BYTES("R\x80\x80\x00"), 10, -1,
		    "non-canonical record length"},
		{"non-canonical 5 bytes", BYTES("R\xff\xff\xff\xff\x00"),
		    SIZE_MAX, -1, "non-canonical record length"},
		{"over-long length", BYTES("R\x80\x80\x80\x80\x80"),
		    SIZE_MAX, -1, "record length longer than 5 bytes"},
		{"over-long all ones", BYTES("R\xff\xff\xff\xff\xff\x01"),
		    SIZE_MAX, -1, "record length longer than 5 bytes"},
		{"max length needs data", BYTES("R\xff\xff\xff\xff\x7f"),
		    SIZE_MAX, 0, ""},
		{"max length over limit", BYTES("R\xff\xff\xff\xff\x7f"),
		    1048576, -1,
		    "record of 34359738367 bytes exceeds limit 1048576"},
		{"limit before data", BYTES("R\x80\x89\x7a"), 1048576, -1,
		    "record of 2000000 bytes exceeds limit 1048576"},
		{"over limit with data", BYTES("R\x05" "abcde"), 4, -1,
		    "record of 5 bytes exceeds limit 4"},
		{"at limit", BYTES("R\x05" "abcde"), 5, 7, ""},
		{"zero limit", BYTES("E\x00"), 0, 2, ""},
		{"zero limit over", BYTES("E\x01"), 0, -1,
		    "record of 1 bytes exceeds limit 0"},
		{"partial varint", BYTES("R\x80"), 10, 0, ""},
		{"partial data", BYTES("R\x03" "ab"), 10, 0, ""},
		{"trailing bytes ignored", BYTES("R\x01" "abc"), 10, 3, ""},
	};
	struct buf why;
	size_t i, off, dlen;
	ssize_t ret;
	int type;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&why);
		ret = decode_exact(cases[i].in, cases[i].len, cases[i].limit,
		    &type, &off, &dlen, &why);
		if (ret != cases[i].want)
			fail_msg("case \"%s\": got %zd, want %zd (%s)",
			    cases[i].label, ret, cases[i].want, why.data);
		CHECK_STR(why.data, cases[i].why, cases[i].label);
	}
	buf_fini(&why);
}

/* Every proper prefix of valid input asks for more. */
static void
test_truncation(void **state)
{
	static const size_t lens[] = {0, 5, 127, 128, 16384, 2097152};
	struct buf enc, why;
	size_t i, cut, off, dlen;
	char *data;
	ssize_t ret;
	int type;

	(void)state;
	buf_init(&enc, 64);
	buf_init(&why, 64);
	for (i = 0; i < NELEM(lens); i++) {
		data = xcalloc(1, lens[i] + 1);
		buf_reset(&enc);
		rec_encode(&enc, REC_TYPE_NORM, data, lens[i]);
		for (cut = 0; cut < enc.len; cut++) {
			/* Large records: every header cut, some data cuts. */
			if (cut > 8 && cut < enc.len - 8 && cut % 4099 != 0)
				continue;
			ret = decode_exact(enc.data, cut, SIZE_MAX, &type,
			    &off, &dlen, &why);
			if (ret != 0)
				fail_msg("len %zu cut %zu: got %zd (%s)",
				    lens[i], cut, ret, why.data);
		}
		free(data);
	}
	buf_fini(&enc);
	buf_fini(&why);
}

static void
make_pair(struct stream **a, struct stream **b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*a = stream_new(sv[0]);
	*b = stream_new(sv[1]);
	stream_set_timeout(*a, 5000);
	stream_set_timeout(*b, 5000);
}

#define BIG_LEN	300000

static void
test_get(void **state)
{
	struct stream *c, *s;
	struct buf data, why;
	char *big;
	pid_t pid;
	int status = -1, i;

	(void)state;
	buf_init(&data, 8);
	buf_init(&why, 8);
	big = xmalloc(BIG_LEN);
	for (i = 0; i < BIG_LEN; i++)
		big[i] = (char)(i % 251);
	make_pair(&c, &s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		stream_free(s);
		if (rec_puts(c, REC_TYPE_TIME, "1700000000 5") < 0
		    || rec_fprintf(c, REC_TYPE_SIZE, "%*d", REC_SIZE_WIDTH,
		    42) < 0
		    || rec_put(c, REC_TYPE_FROM, "", 0) < 0
		    || rec_put(c, REC_TYPE_NORM, "a\0b", 3) < 0
		    || rec_put(c, REC_TYPE_NORM, big, BIG_LEN) < 0
		    || rec_put(c, REC_TYPE_END, NULL, 0) < 0
		    || stream_flush(c) < 0)
			_exit(1);
		stream_free(c);
		_exit(0);
	}
	stream_free(c);
	assert_int_equal(rec_get(s, &data, 100, &why), REC_TYPE_TIME);
	assert_string_equal(data.data, "1700000000 5");
	assert_int_equal(rec_get(s, &data, 100, &why), REC_TYPE_SIZE);
	assert_string_equal(data.data, "             42");
	assert_int_equal(rec_get(s, &data, 100, &why), REC_TYPE_FROM);
	assert_int_equal(data.len, 0);
	assert_string_equal(data.data, "");
	assert_int_equal(rec_get(s, &data, 100, &why), REC_TYPE_NORM);
	assert_int_equal(data.len, 3);
	assert_memory_equal(data.data, "a\0b", 4);
	assert_int_equal(rec_get(s, &data, BIG_LEN, &why), REC_TYPE_NORM);
	assert_int_equal(data.len, BIG_LEN);
	assert_memory_equal(data.data, big, BIG_LEN);
	assert_int_equal(data.data[BIG_LEN], 0);
	assert_int_equal(rec_get(s, &data, 0, &why), REC_TYPE_END);
	assert_int_equal(data.len, 0);
	assert_int_equal(rec_get(s, &data, 100, &why), -1);
	assert_string_equal(why.data, "unexpected end of input");
	stream_free(s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(big);
	buf_fini(&data);
	buf_fini(&why);
}

/* Raw bytes, then end of input: rec_get's verdict. */
static void
test_get_malformed(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		size_t limit;
		const char *why;
	} cases[] = {
		{"nothing", BYTES(""), 10, "unexpected end of input"},
		{"type only", BYTES("R"), 10, "truncated record length"},
		{"partial length", BYTES("R\x80"), 1000,
		    "truncated record length"},
		{"partial data", BYTES("R\x03" "ab"), 10,
		    "truncated record data"},
		{"no data", BYTES("R\x03"), 10, "truncated record data"},
		{"big, no data", BYTES("R\x80\x89\x7a"), 4000000,
		    "truncated record data"},
		{"unknown type", BYTES("?\x00"), 10,
		    "unknown record type 0x3f"},
		{"non-canonical", BYTES("R\x80\x00"), 10,
		    "non-canonical record length"},
		{"over-long", BYTES("R\x80\x80\x80\x80\x80\x01"), SIZE_MAX,
		    "record length longer than 5 bytes"},
		{"over limit", BYTES("R\x80\x89\x7a"), 1048576,
		    "record of 2000000 bytes exceeds limit 1048576"},
	};
	struct stream *c, *s;
	struct buf data, why;
	size_t i;

	(void)state;
	buf_init(&data, 8);
	buf_init(&why, 8);
	for (i = 0; i < NELEM(cases); i++) {
		make_pair(&c, &s);
		if (cases[i].len)
			assert_int_equal(stream_write(c, cases[i].in,
			    cases[i].len), 0);
		assert_int_equal(stream_flush(c), 0);
		stream_free(c);
		buf_set(&data, "old");
		CHECK(rec_get(s, &data, cases[i].limit, &why) == -1,
		    cases[i].label);
		CHECK_STR(why.data, cases[i].why, cases[i].label);
		stream_free(s);
	}
	buf_fini(&data);
	buf_fini(&why);
}

/* The limit is enforced before the data is sent (no waiting for it). */
static void
test_get_limit_early(void **state)
{
	struct stream *c, *s;
	struct buf data, why;

	(void)state;
	buf_init(&data, 8);
	buf_init(&why, 8);
	make_pair(&c, &s);
	stream_set_timeout(s, 1000);
	assert_int_equal(stream_write(c, BYTES("R\x80\x89\x7a")), 0);
	assert_int_equal(stream_flush(c), 0);
	assert_int_equal(rec_get(s, &data, 1048576, &why), -1);
	assert_string_equal(why.data,
	    "record of 2000000 bytes exceeds limit 1048576");
	assert_true(data.cap < 1000);
	stream_free(c);
	stream_free(s);
	buf_fini(&data);
	buf_fini(&why);
}

static void
test_mark_done(void **state)
{
	char path[] = "/tmp/test_rec.XXXXXX";
	struct buf enc;
	off_t rcpt1, rcpt2, from;
	char ch;
	int fd, rfd;

	(void)state;
	buf_init(&enc, 64);
	rec_encode(&enc, REC_TYPE_TIME, "1 2", 3);
	from = (off_t)enc.len;
	rec_encode(&enc, REC_TYPE_FROM, "s@x", 3);
	rcpt1 = (off_t)enc.len;
	rec_encode(&enc, REC_TYPE_RCPT, "a@x", 3);
	rcpt2 = (off_t)enc.len;
	rec_encode(&enc, REC_TYPE_RCPT, "b@x", 3);
	rec_encode(&enc, REC_TYPE_END, NULL, 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, enc.data, enc.len), (ssize_t)enc.len);

	assert_int_equal(rec_mark_done(fd, rcpt2), 0);
	assert_int_equal(pread(fd, &ch, 1, rcpt2), 1);
	assert_int_equal(ch, REC_TYPE_DONE);
	assert_int_equal(pread(fd, &ch, 1, rcpt1), 1);
	assert_int_equal(ch, REC_TYPE_RCPT);
	/* Already done, not a recipient, past the end: EINVAL. */
	errno = 0;
	assert_int_equal(rec_mark_done(fd, rcpt2), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(rec_mark_done(fd, from), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(rec_mark_done(fd, (off_t)enc.len + 10), -1);
	assert_int_equal(errno, EINVAL);
	/* Nothing else changed. */
	enc.data[rcpt2] = REC_TYPE_DONE;
	{
		char back[64];

		assert_true(enc.len < sizeof(back));
		assert_int_equal(pread(fd, back, enc.len, 0),
		    (ssize_t)enc.len);
		assert_memory_equal(back, enc.data, enc.len);
	}
	/* Read-only descriptor: the write fails with EBADF. */
	rfd = open(path, O_RDONLY);
	assert_true(rfd >= 0);
	errno = 0;
	assert_int_equal(rec_mark_done(rfd, rcpt1), -1);
	assert_int_equal(errno, EBADF);
	close(rfd);
	errno = 0;
	assert_int_equal(rec_mark_done(-1, 0), -1);
	assert_int_equal(errno, EBADF);
	close(fd);
	unlink(path);
	buf_fini(&enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_get_malformed),
		cmocka_unit_test(test_get_limit_early),
		cmocka_unit_test(test_mark_done),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
