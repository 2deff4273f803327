/*
 * test_attr.c - unit tests for attr.c
 *
 * Table-driven: exact encodings, round trips of every type (binary
 * values with NULs, empty values, integer limits), malformed inputs with
 * the exact reason, limits, every truncation of a valid message (each in
 * a buffer of exactly that size, so ASan catches a read past the end),
 * strict and lenient extraction, and send/receive over a socketpair.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "stream.h"

/* Parse from a heap copy of exactly len bytes. */
static ssize_t
parse_exact(struct attr_list *list, const char *data, size_t len,
    const struct attr_limits *lim, struct buf *why)
{
	char *copy = xmalloc(len ? len : 1);
	ssize_t ret;

	if (len)
		memcpy(copy, data, len);
	ret = attr_parse(list, copy, len, lim, why);
	free(copy);
	return ret;
}

static void
test_encode(void **state)
{
	static const char bin[] = {'a', 0, 'b', 0};
	static const struct {
		const char *label;
		struct attr_spec spec[4];
		const char *want;
		size_t want_len;
	} cases[] = {
		{"empty message", {A_END}, BYTES("0:,")},
		{"strings", {A_STR("request", "resolve"),
		    A_STR("address", "joe@example.c"), A_END},
		 BYTES("7:request,7:resolve,7:address,13:joe@example.c,0:,")},
		{"empty and null string", {A_STR("a", ""), A_STR("b", NULL),
		    A_END}, BYTES("1:a,0:,1:b,0:,0:,")},
		{"ints", {A_NUM("n", 0), A_NUM("m", -42),
		    A_NUM("x", INT_MIN), A_END},
		 BYTES("1:n,1:0,1:m,3:-42,1:x,11:-2147483648,0:,")},
		{"longs", {A_LNUM("l", LONG_MAX), A_LNUM("m", LONG_MIN),
		    A_END},
		 BYTES("1:l,19:9223372036854775807,"
		     "1:m,20:-9223372036854775808,0:,")},
		{"binary", {A_DATA("d", bin, sizeof(bin)), A_DATA("e", NULL, 0),
		    A_END}, BYTES("1:d,4:a\0b\0,1:e,0:,0:,")},
		{"name chars", {A_STR("queue_id_2", "x"), A_END},
		 BYTES("10:queue_id_2,1:x,0:,")},
	};
	struct buf out;

	(void)state;
	buf_init(&out, 64);
	for (size_t i = 0; i < NELEM(cases); i++) {
		buf_reset(&out);
		buf_puts(&out, "prefix");	/* encode appends */
		attr_encode(&out, cases[i].spec);
		CHECK(out.len == 6 + cases[i].want_len, cases[i].label);
		CHECK(memcmp(out.data + 6, cases[i].want,
		    cases[i].want_len) == 0, cases[i].label);
	}
	buf_fini(&out);
}

static void
test_round_trip(void **state)
{
	static const char bin[] = {0, 1, ',', ':', 0, (char)0xff, '0'};
	struct buf msg, why, s1, s2, d1, d2, big;
	struct attr_list list;
	int n1 = 0, n2 = 0;
	long l1 = 0, l2 = 0;
	ssize_t used;

	(void)state;
	buf_init(&msg, 64);
	buf_init(&why, 64);
	buf_init(&s1, 8);
	buf_init(&s2, 8);
	buf_init(&d1, 8);
	buf_init(&d2, 8);
	buf_init(&big, ATTR_DEF_MAX_VALUE);
	for (size_t i = 0; i < ATTR_DEF_MAX_VALUE; i++)
		buf_putc(&big, (int)(i % 251));
	attr_list_init(&list);

	attr_encode(&msg, (const struct attr_spec[]){
	    A_STR("s1", "hello, world: 0:,"), A_STR("s2", ""),
	    A_NUM("n1", INT_MAX), A_NUM("n2", INT_MIN),
	    A_LNUM("l1", LONG_MAX), A_LNUM("l2", LONG_MIN),
	    A_DATA("d1", bin, sizeof(bin)),
	    A_DATA("d2", big.data, big.len), A_END});
	used = attr_parse(&list, msg.data, msg.len, NULL, &why);
	assert_int_equal(used, (ssize_t)msg.len);
	assert_int_equal(list.count, 8);
	assert_string_equal(list.pairs[0].name, "s1");
	assert_string_equal(list.pairs[7].name, "d2");
	assert_int_equal(attr_extract(&list, ATTR_STRICT,
	    (const struct attr_spec[]){
	    A_BUF("s1", &s1), A_BUF("s2", &s2),
	    A_INT("n1", &n1), A_INT("n2", &n2),
	    A_LONG("l1", &l1), A_LONG("l2", &l2),
	    A_DBUF("d1", &d1), A_DBUF("d2", &d2), A_END}, &why), 8);
	assert_string_equal(s1.data, "hello, world: 0:,");
	assert_int_equal(s2.len, 0);
	assert_int_equal(n1, INT_MAX);
	assert_int_equal(n2, INT_MIN);
	assert_true(l1 == LONG_MAX);
	assert_true(l2 == LONG_MIN);
	assert_int_equal(d1.len, sizeof(bin));
	assert_memory_equal(d1.data, bin, sizeof(bin));
	assert_int_equal(d2.len, big.len);
	assert_memory_equal(d2.data, big.data, big.len);

	/* Data after the message is left for the next parse. */
	buf_reset(&msg);
	attr_encode(&msg, (const struct attr_spec[]){A_STR("a", "b"), A_END});
	buf_puts(&msg, "junk");
	assert_int_equal(attr_parse(&list, msg.data, msg.len, NULL, &why),
	    (ssize_t)msg.len - 4);
	assert_int_equal(list.count, 1);
	assert_non_null(attr_list_get(&list, "a"));
	assert_string_equal(attr_list_get(&list, "a")->data, "b");
	assert_null(attr_list_get(&list, "b"));

	attr_list_fini(&list);
	buf_fini(&msg);
	buf_fini(&why);
	buf_fini(&s1);
	buf_fini(&s2);
	buf_fini(&d1);
	buf_fini(&d2);
	buf_fini(&big);
}

static void
test_malformed(void **state)
{
	static const struct attr_limits small = {
		.max_attrs = 2, .max_name = 4, .max_value = 5,
	};
	static const struct attr_limits total = {
		.max_attrs = 10, .max_name = 4, .max_value = 5, .max_total = 8,
	};
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		const struct attr_limits *lim;
		ssize_t want;
		const char *why;
	} cases[] = {
		{"empty input", BYTES(""), NULL, 0, ""},
		{"values within total", BYTES("1:a,4:xxxx,1:b,4:yyyy,0:,"),
		 &total, 25, ""},
		{"values over total", BYTES("1:a,4:xxxx,1:b,4:yyyy,1:c,1:z,"),
		 &total, -1, "message larger than 8 bytes"},
		{"terminator only", BYTES("0:,"), NULL, 3, ""},
		{"letter as length", BYTES("x:a,"), NULL, -1,
		 "attribute 1: name length: unexpected byte 0x78"},
		{"colon without digits", BYTES(":a,"), NULL, -1,
		 "attribute 1: name length: unexpected byte 0x3a"},
		{"space in length", BYTES(" 1:a,"), NULL, -1,
		 "attribute 1: name length: unexpected byte 0x20"},
		{"sign in length", BYTES("1:a,-1:x,"), NULL, -1,
		 "attribute 1: value length: unexpected byte 0x2d"},
		{"leading zero", BYTES("01:a,"), NULL, -1,
		 "attribute 1: name length: leading zero"},
		{"double zero", BYTES("00:,"), NULL, -1,
		 "attribute 1: name length: leading zero"},
		{"leading zero value", BYTES("1:a,01:x,0:,"), NULL, -1,
		 "attribute 1: value length: leading zero"},
		{"eleven digits", BYTES("1:a,10000000000:"), NULL, -1,
		 "attribute 1: value length: more than 10 digits"},
		{"ten digits over limit", BYTES("1:a,9999999999:"), NULL, -1,
		 "attribute 1: value length 9999999999 exceeds limit 1048576"},
		{"value over default limit", BYTES("1:a,1:b,1:c,2000000:"),
		 NULL, -1,
		 "attribute 2: value length 2000000 exceeds limit 1048576"},
		{"name over default limit", BYTES("65:"), NULL, -1,
		 "attribute 1: name length 65 exceeds limit 64"},
		{"missing colon", BYTES("1a,"), NULL, -1,
		 "attribute 1: name length: unexpected byte 0x61"},
		{"missing comma after name", BYTES("1:ab:x,0:,"), NULL, -1,
		 "attribute 1: missing ',' after name"},
		{"missing comma after value", BYTES("1:a,1:xy0:,"), NULL, -1,
		 "attribute 1: missing ',' after value"},
		{"missing comma after terminator", BYTES("0:x"), NULL, -1,
		 "attribute 1: missing ',' after name"},
		{"upper case name", BYTES("1:A,1:x,0:,"), NULL, -1,
		 "attribute 1: bad byte 0x41 in name"},
		{"dash in name", BYTES("1:a,1:x,3:a-b,0:,0:,"), NULL, -1,
		 "attribute 2: bad byte 0x2d in name"},
		{"nul in name", BYTES("2:a\0,0:,0:,"), NULL, -1,
		 "attribute 1: bad byte 0x00 in name"},
		{"bad name byte before the rest arrives", BYTES("5:ab."),
		 NULL, -1, "attribute 1: bad byte 0x2e in name"},
		{"too many attributes", BYTES("1:a,0:,1:b,0:,1:c,0:,0:,"),
		 &small, -1, "more than 2 attributes"},
		{"at the attribute limit", BYTES("1:a,0:,1:b,0:,0:,"),
		 &small, 17, ""},
		{"name at limit", BYTES("4:abcd,0:,0:,"), &small, 13, ""},
		{"name over limit", BYTES("5:abcde,0:,0:,"), &small, -1,
		 "attribute 1: name length 5 exceeds limit 4"},
		{"value at limit", BYTES("1:a,5:12345,0:,"), &small, 15, ""},
		{"value over limit", BYTES("1:a,6:123456,0:,"), &small, -1,
		 "attribute 1: value length 6 exceeds limit 5"},
		{"incomplete length", BYTES("1:a,12"), NULL, 0, ""},
		{"incomplete big length", BYTES("1:a,1048576"), NULL, 0, ""},
		{"incomplete value", BYTES("1:a,5:12"), NULL, 0, ""},
	};
	struct attr_list list;
	struct buf why;

	(void)state;
	attr_list_init(&list);
	buf_init(&why, 64);
	for (size_t i = 0; i < NELEM(cases); i++) {
		ssize_t ret;

		ret = parse_exact(&list, cases[i].in, cases[i].len,
		    cases[i].lim, &why);
		if (ret != cases[i].want)
			fail_msg("case \"%s\": got %zd, want %zd (%s)",
			    cases[i].label, ret, cases[i].want, why.data);
		if (ret < 0)
			CHECK_STR(why.data, cases[i].why, cases[i].label);
		if (ret <= 0)
			CHECK(list.count == 0, cases[i].label);
	}
	attr_list_fini(&list);
	buf_fini(&why);
}

/* Every proper prefix of a valid message is "incomplete", never "bad". */
static void
test_truncation(void **state)
{
	static const char bin[] = {'x', 0, ',', '0', ':'};
	struct attr_list list;
	struct buf msg, why;
	ssize_t ret;

	(void)state;
	attr_list_init(&list);
	buf_init(&msg, 128);
	buf_init(&why, 64);
	attr_encode(&msg, (const struct attr_spec[]){
	    A_STR("request", "resolve"), A_STR("empty", ""),
	    A_NUM("status", -1), A_LNUM("size", 1234567890123L),
	    A_DATA("blob", bin, sizeof(bin)),
	    A_STR("long_value", "0123456789abcdef"), A_END});
	for (size_t n = 0; n < msg.len; n++) {
		ret = parse_exact(&list, msg.data, n, NULL, &why);
		if (ret != 0)
			fail_msg("prefix of %zu bytes: got %zd (%s)", n, ret,
			    why.data);
		assert_int_equal(list.count, 0);
	}
	ret = parse_exact(&list, msg.data, msg.len, NULL, &why);
	assert_int_equal(ret, (ssize_t)msg.len);
	assert_int_equal(list.count, 6);

	/* The list is reused: a second parse replaces the first. */
	ret = parse_exact(&list, BYTES("1:z,1:y,0:,"), NULL, &why);
	assert_int_equal(ret, 11);
	assert_int_equal(list.count, 1);
	assert_string_equal(list.pairs[0].name, "z");
	attr_list_fini(&list);
	buf_fini(&msg);
	buf_fini(&why);
}

static void
test_extract(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		int flags;
		int want;
		const char *why;
	} cases[] = {
		{"strict ok", BYTES("1:s,2:ok,1:n,2:42,1:l,3:-10,0:,"),
		 ATTR_STRICT, 3, ""},
		{"strict order free", BYTES("1:l,1:7,1:n,1:0,1:s,0:,0:,"),
		 ATTR_STRICT, 3, ""},
		{"strict missing", BYTES("1:s,2:ok,1:n,2:42,0:,"),
		 ATTR_STRICT, -1, "missing attribute \"l\""},
		{"strict duplicate",
		 BYTES("1:s,1:a,1:s,1:b,1:n,1:1,1:l,1:2,0:,"), ATTR_STRICT,
		 -1, "duplicate attribute \"s\""},
		{"strict extra", BYTES("1:s,0:,1:n,1:1,1:l,1:2,1:x,0:,0:,"),
		 ATTR_STRICT, -1, "unexpected attribute \"x\""},
		{"strict allow extra",
		 BYTES("1:s,0:,1:n,1:1,1:l,1:2,1:x,0:,0:,"),
		 ATTR_STRICT | ATTR_ALLOW_EXTRA, 3, ""},
		{"bad int", BYTES("1:n,2:4x,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"4x\""},
		{"empty int", BYTES("1:n,0:,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"\""},
		{"int with plus", BYTES("1:n,2:+1,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"+1\""},
		{"int with space", BYTES("1:n,2: 1,0:,"), 0, -1,
		 "attribute \"n\": bad int value \" 1\""},
		{"int minus only", BYTES("1:n,1:-,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"-\""},
		{"int overflow", BYTES("1:n,10:2147483648,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"2147483648\""},
		{"int underflow", BYTES("1:n,11:-2147483649,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"-2147483649\""},
		{"int with nul", BYTES("1:n,3:12\0,0:,"), 0, -1,
		 "attribute \"n\": bad int value \"12?\""},
		{"long overflow", BYTES("1:l,19:9223372036854775808,0:,"), 0,
		 -1, "attribute \"l\": bad long value \"9223372036854775808\""},
		{"string with nul", BYTES("1:s,3:a\0b,0:,"), 0, -1,
		 "attribute \"s\": value contains a NUL byte"},
		{"lenient missing", BYTES("1:n,1:5,0:,"), 0, 1, ""},
		{"lenient extra", BYTES("1:z,1:5,1:n,1:5,0:,"), 0, 1, ""},
		{"lenient duplicate takes first", BYTES("1:n,1:5,1:n,1:x,0:,"),
		 0, 1, ""},
		{"lenient empty", BYTES("0:,"), 0, 0, ""},
	};
	struct attr_list list;
	struct buf why, s;
	int n, ret;
	long l;

	(void)state;
	attr_list_init(&list);
	buf_init(&why, 64);
	buf_init(&s, 8);
	for (size_t i = 0; i < NELEM(cases); i++) {
		if (attr_parse(&list, cases[i].in, cases[i].len, NULL,
		    &why) != (ssize_t)cases[i].len)
			fail_msg("case \"%s\": parse: %s", cases[i].label,
			    why.data);
		n = 12345;
		ret = attr_extract(&list, cases[i].flags,
		    (const struct attr_spec[]){A_BUF("s", &s),
		    A_INT("n", &n), A_LONG("l", &l), A_END}, &why);
		if (ret != cases[i].want)
			fail_msg("case \"%s\": got %d, want %d (%s)",
			    cases[i].label, ret, cases[i].want, why.data);
		if (ret < 0)
			CHECK_STR(why.data, cases[i].why, cases[i].label);
	}
	/* The last lenient case left n alone; the one before took 5. */
	assert_int_equal(n, 12345);
	attr_parse(&list, BYTES("1:n,1:5,1:n,1:x,0:,"), NULL, &why);
	assert_int_equal(attr_extract(&list, 0, (const struct attr_spec[]){
	    A_INT("n", &n), A_END}, &why), 1);
	assert_int_equal(n, 5);
	/* A long value is quoted in part. */
	attr_parse(&list, BYTES("1:n,100:"
	    "1111111111111111111111111111111111111111111111111"
	    "11111111111111111111111111111111111111111111111111x,0:,"),
	    NULL, &why);
	assert_int_equal(attr_extract(&list, 0, (const struct attr_spec[]){
	    A_INT("n", &n), A_END}, &why), -1);
	assert_non_null(strstr(why.data, "111...\""));
	attr_list_fini(&list);
	buf_fini(&why);
	buf_fini(&s);
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

static void
test_send_recv(void **state)
{
	static const char bin[] = {0, 'x', 0};
	struct stream *c, *s;
	struct attr_list list;
	struct buf addr, data;
	int status = -1;
	long size = 0;

	(void)state;
	buf_init(&addr, 8);
	buf_init(&data, 8);
	attr_list_init(&list);
	make_pair(&c, &s);

	assert_int_equal(attr_send(c, A_STR("request", "resolve"),
	    A_STR("address", "joe@example.com"), A_END), 0);
	assert_int_equal(attr_send(c, A_NUM("status", 3), A_LNUM("size", -7),
	    A_DATA("data", bin, sizeof(bin)), A_END), 0);
	assert_int_equal(attr_send(c, A_STR("a", "b"), A_END), 0);

	assert_int_equal(attr_recv_message(s, &list), 0);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.pairs[0].name, "request");
	assert_string_equal(list.pairs[0].value.data, "resolve");
	assert_string_equal(attr_list_get(&list, "address")->data,
	    "joe@example.com");
	assert_int_equal(attr_recv(s, ATTR_STRICT, A_INT("status", &status),
	    A_LONG("size", &size), A_DBUF("data", &data), A_END), 3);
	assert_int_equal(status, 3);
	assert_true(size == -7);
	assert_int_equal(data.len, sizeof(bin));
	assert_memory_equal(data.data, bin, sizeof(bin));
	/* Strict extraction fails: logged, -1. */
	capture_start();
	assert_int_equal(attr_recv(s, ATTR_STRICT, A_BUF("x", &addr), A_END),
	    -1);
	{
		char *log = capture_end();

		assert_string_equal(log, "test: warning: bad IPC message: "
		    "missing attribute \"x\"\n");
		free(log);
	}

	/* A clean close between messages is not worth a warning. */
	stream_free(c);
	capture_start();
	assert_int_equal(attr_recv_message(s, &list), -1);
	{
		char *log = capture_end();

		assert_string_equal(log, "");
		free(log);
	}
	assert_int_equal(stream_error(s), STREAM_ERR_EOF);
	assert_int_equal(list.count, 0);
	stream_free(s);
	attr_list_fini(&list);
	buf_fini(&addr);
	buf_fini(&data);
}

/* Raw bytes from a peer, and what the receiver must log. */
static void
test_recv_malformed(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		const char *log;
	} cases[] = {
		{"leading zero", BYTES("01:a,"),
		 "test: warning: malformed IPC message: attribute 1: name "
		 "length: leading zero\n"},
		{"bad name", BYTES("1:a,1:b,2:A1,"),
		 "test: warning: malformed IPC message: attribute 2: bad byte "
		 "0x41 in name\n"},
		{"huge value is refused before it is read",
		 BYTES("1:a,2000000:"),
		 "test: warning: malformed IPC message: attribute 1: value "
		 "length 2000000 exceeds limit 1048576\n"},
		{"eleven digits", BYTES("12345678901"),
		 "test: warning: malformed IPC message: attribute 1: name "
		 "length: more than 10 digits\n"},
		{"missing comma", BYTES("1:a,1:bc"),
		 "test: warning: malformed IPC message: attribute 1: missing "
		 "',' after value\n"},
		{"bad terminator", BYTES("1:a,1:b,0:;"),
		 "test: warning: malformed IPC message: attribute 2: missing "
		 "',' after name\n"},
		{"eof inside message", BYTES("1:a,5:ab"),
		 "test: warning: malformed IPC message: unexpected end of "
		 "input\n"},
		{"eof inside length", BYTES("1"),
		 "test: warning: malformed IPC message: unexpected end of "
		 "input\n"},
	};
	struct attr_list list;

	(void)state;
	attr_list_init(&list);
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct stream *c, *s;
		char *log;
		int ret;

		make_pair(&c, &s);
		assert_int_equal(stream_write(c, cases[i].in, cases[i].len),
		    0);
		assert_int_equal(stream_flush(c), 0);
		stream_free(c);
		capture_start();
		ret = attr_recv_message(s, &list);
		log = capture_end();
		CHECK(ret == -1, cases[i].label);
		CHECK(list.count == 0, cases[i].label);
		CHECK_STR(log, cases[i].log, cases[i].label);
		free(log);
		stream_free(s);
	}
	attr_list_fini(&list);
}

/* A value at the size limit crosses a socket (the writer is a child). */
static void
test_send_recv_big(void **state)
{
	struct stream *c, *s;
	struct buf big, got;
	pid_t pid;
	int status;

	(void)state;
	buf_init(&big, ATTR_DEF_MAX_VALUE);
	buf_init(&got, 8);
	for (size_t i = 0; i < ATTR_DEF_MAX_VALUE; i++)
		buf_putc(&big, (int)(i * 7 % 256));
	make_pair(&c, &s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		stream_free(s);
		_exit(attr_send(c, A_DATA("big", big.data, big.len),
		    A_STR("after", "x"), A_END) == 0 ? 0 : 1);
	}
	stream_free(c);
	assert_int_equal(attr_recv(s, ATTR_STRICT, A_DBUF("big", &got),
	    A_BUF("after", &big), A_END), 2);
	assert_int_equal(got.len, ATTR_DEF_MAX_VALUE);
	for (size_t i = 0; i < got.len; i++)
		if ((unsigned char)got.data[i] != (unsigned char)(i * 7 % 256))
			fail_msg("byte %zu differs", i);
	assert_string_equal(big.data, "x");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	stream_free(s);
	buf_fini(&big);
	buf_fini(&got);
}

/* A peer may not make us hold more than ATTR_DEF_MAX_TOTAL bytes. */
static void
test_recv_over_total(void **state)
{
	struct stream *c, *s;
	struct attr_list list;
	struct buf big;
	pid_t pid;
	int status;

	(void)state;
	buf_init(&big, ATTR_DEF_MAX_VALUE);
	for (size_t i = 0; i < ATTR_DEF_MAX_VALUE; i++)
		buf_putc(&big, 'x');
	attr_list_init(&list);
	make_pair(&c, &s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		stream_free(s);
		/* The reader stops early: our write may fail, as it should. */
		(void)attr_send(c, A_DATA("a", big.data, big.len),
		    A_DATA("b", big.data, big.len),
		    A_DATA("c", big.data, big.len),
		    A_DATA("d", big.data, big.len),
		    A_DATA("e", big.data, big.len), A_END);
		_exit(0);
	}
	stream_free(c);
	assert_int_equal(attr_recv_message(s, &list), -1);
	assert_true(list.count <= ATTR_DEF_MAX_TOTAL / ATTR_DEF_MAX_VALUE);
	stream_free(s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	attr_list_fini(&list);
	buf_fini(&big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_send_recv),
		cmocka_unit_test(test_recv_malformed),
		cmocka_unit_test(test_send_recv_big),
		cmocka_unit_test(test_recv_over_total),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
