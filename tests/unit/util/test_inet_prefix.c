/*
 * test_inet_prefix.c - unit tests for inet_prefix.c
 *
 * Table-driven, one table per function: address lengths, clearing host
 * bits, parsing patterns (every status, with what is left for the
 * caller's message), writing networks back, netmasks, client addresses
 * and matching. IPv4 and IPv6 throughout, with the prefix lengths where
 * byte arithmetic goes wrong: 0, 1, 9, 31, 127 and the maximum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "inet_prefix.h"

/* The family of an address text, and its bytes in bin. */
static int
pton(const char *text, unsigned char *bin, const char *label)
{
	memset(bin, 0, 16);
	if (inet_pton(AF_INET, text, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, bin) == 1)
		return AF_INET6;
	fail_msg("case \"%s\": bad test address \"%s\"", label, text);
	return -1;
}

static void
test_lengths(void **state)
{
	(void)state;
	assert_int_equal(inet_prefix_addr_len(AF_INET), 4);
	assert_int_equal(inet_prefix_addr_len(AF_INET6), 16);
	assert_int_equal(inet_prefix_bits(AF_INET), 32);
	assert_int_equal(inet_prefix_bits(AF_INET6), 128);
}

struct mask_case {
	const char *label;
	const char *addr;
	int prefix;
	const char *want;	/* inet_prefix_text(), no flags */
};

static const struct mask_case mask_cases[] = {
	{"v4 /0", "255.255.255.255", 0, "0.0.0.0/0"},
	{"v4 /1", "255.255.255.255", 1, "128.0.0.0/1"},
	{"v4 /1, low half", "127.255.255.255", 1, "0.0.0.0/1"},
	{"v4 /8", "10.1.2.3", 8, "10.0.0.0/8"},
	{"v4 /9", "10.255.2.3", 9, "10.128.0.0/9"},
	{"v4 /20", "172.16.17.1", 20, "172.16.16.0/20"},
	{"v4 /31", "192.0.2.255", 31, "192.0.2.254/31"},
	{"v4 /32 keeps all", "192.0.2.255", 32, "192.0.2.255/32"},
	{"v6 /0", "ffff:ffff::ffff", 0, "::/0"},
	{"v6 /1", "ffff::1", 1, "8000::/1"},
	{"v6 /9", "20ff:db8::1", 9, "2080::/9"},
	{"v6 /32", "2001:db8:1:2::1", 32, "2001:db8::/32"},
	{"v6 /64", "2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
	{"v6 /127", "2001:db8::ffff", 127, "2001:db8::fffe/127"},
	{"v6 /128 keeps all", "2001:db8::ffff", 128, "2001:db8::ffff/128"},
};

static void
test_mask(void **state)
{
	const struct mask_case *c;
	struct inet_prefix net;
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 0);
	for (i = 0; i < NELEM(mask_cases); i++) {
		c = &mask_cases[i];
		memset(&net, 0, sizeof(net));
		net.family = pton(c->addr, net.net, c->label);
		net.prefix = c->prefix;
		inet_prefix_mask(&net);
		CHECK(net.prefix == c->prefix, c->label);
		buf_reset(&out);
		inet_prefix_text(&out, &net, 0);
		CHECK_STR(out.data, c->want, c->label);
	}
	buf_fini(&out);
}

struct parse_case {
	const char *label;
	const char *text;
	enum inet_prefix_status want;
	const char *net;	/* _OK, _HOST_BITS: the network (brackets) */
	const char *part;	/* _BAD_ADDR, _BAD_LEN; else part unchanged */
	int family;		/* _BAD_LEN: the family found */
};

#define OK	INET_PREFIX_OK
#define HOST	INET_PREFIX_HOST_BITS
#define BADADDR	INET_PREFIX_BAD_ADDR
#define BADLEN	INET_PREFIX_BAD_LEN

static const struct parse_case parse_cases[] = {
	/* Networks. */
	{"v4 network", "192.0.2.0/24", OK, "192.0.2.0/24", NULL, 0},
	{"v4 address", "192.0.2.1", OK, "192.0.2.1/32", NULL, 0},
	{"v4 brackets", "[192.0.2.1]", OK, "192.0.2.1/32", NULL, 0},
	{"v4 brackets and len", "[192.0.2.0]/24", OK, "192.0.2.0/24", NULL,
	    0},
	{"v4 /0", "0.0.0.0/0", OK, "0.0.0.0/0", NULL, 0},
	{"v4 /1", "128.0.0.0/1", OK, "128.0.0.0/1", NULL, 0},
	{"v4 /9", "10.128.0.0/9", OK, "10.128.0.0/9", NULL, 0},
	{"v4 /32", "192.0.2.1/32", OK, "192.0.2.1/32", NULL, 0},
	{"v4 leading zeros in len", "192.0.2.0/024", OK, "192.0.2.0/24",
	    NULL, 0},
	{"v6 bare", "2001:db8::/32", OK, "[2001:db8::]/32", NULL, 0},
	{"v6 brackets", "[2001:db8::]/32", OK, "[2001:db8::]/32", NULL, 0},
	{"v6 address", "2001:db8::1", OK, "[2001:db8::1]/128", NULL, 0},
	{"v6 address in brackets", "[::1]", OK, "[::1]/128", NULL, 0},
	{"v6 /0", "::/0", OK, "[::]/0", NULL, 0},
	{"v6 /1", "8000::/1", OK, "[8000::]/1", NULL, 0},
	{"v6 /9", "2080::/9", OK, "[2080::]/9", NULL, 0},
	{"v6 /127", "2001:db8::2/127", OK, "[2001:db8::2]/127", NULL, 0},
	{"v6 /128", "2001:db8::1/128", OK, "[2001:db8::1]/128", NULL, 0},
	{"v4-mapped v6", "::ffff:192.0.2.0/120", OK,
	    "[::ffff:192.0.2.0]/120", NULL, 0},
	/* Host bits: net is the network suggested. */
	{"v4 host bits", "192.0.2.1/24", HOST, "192.0.2.0/24", NULL, 0},
	{"v4 host bits /0", "1.0.0.0/0", HOST, "0.0.0.0/0", NULL, 0},
	{"v4 host bits /1", "192.0.0.0/1", HOST, "128.0.0.0/1", NULL, 0},
	{"v4 host bits /9", "10.192.0.0/9", HOST, "10.128.0.0/9", NULL, 0},
	{"v4 host bits /20", "172.16.17.0/20", HOST, "172.16.16.0/20",
	    NULL, 0},
	{"v4 host bits /31", "192.0.2.1/31", HOST, "192.0.2.0/31", NULL, 0},
	{"v6 host bits", "2001:db8::1/32", HOST, "[2001:db8::]/32", NULL, 0},
	{"v6 host bits, brackets", "[2001:db8::1]/64", HOST,
	    "[2001:db8::]/64", NULL, 0},
	{"v6 host bits /0", "::1/0", HOST, "[::]/0", NULL, 0},
	{"v6 host bits /1", "c000::/1", HOST, "[8000::]/1", NULL, 0},
	{"v6 host bits /127", "2001:db8::3/127", HOST, "[2001:db8::2]/127",
	    NULL, 0},
	/* Bad prefix lengths: part is the text after "/". */
	{"v4 len too long", "192.0.2.0/33", BADLEN, NULL, "33", AF_INET},
	{"v6 len too long", "::/129", BADLEN, NULL, "129", AF_INET6},
	{"v6 brackets len too long", "[2001:db8::]/129", BADLEN, NULL,
	    "129", AF_INET6},
	{"empty len", "192.0.2.0/", BADLEN, NULL, "", AF_INET},
	{"empty len after brackets", "[::1]/", BADLEN, NULL, "", AF_INET6},
	{"negative len", "192.0.2.0/-1", BADLEN, NULL, "-1", AF_INET},
	{"signed len", "192.0.2.0/+8", BADLEN, NULL, "+8", AF_INET},
	{"blank before len", "192.0.2.0/ 8", BADLEN, NULL, " 8", AF_INET},
	{"len with junk", "192.0.2.0/24x", BADLEN, NULL, "24x", AF_INET},
	{"two lens", "192.0.2.0/24/8", BADLEN, NULL, "24/8", AF_INET},
	{"len overflows", "192.0.2.0/99999999999999999999", BADLEN, NULL,
	    "99999999999999999999", AF_INET},
	/* Bad addresses: part is the address text. */
	{"short v4", "192.0.2", BADADDR, NULL, "192.0.2", 0},
	{"v4 byte too big", "192.0.2.256", BADADDR, NULL, "192.0.2.256", 0},
	{"bad v6", "2001:db8:::1", BADADDR, NULL, "2001:db8:::1", 0},
	{"name", "host.example/24", BADADDR, NULL, "host.example", 0},
	{"name in brackets", "[host.example]", BADADDR, NULL, "host.example",
	    0},
	{"len inside brackets", "[192.0.2.0/24]", BADADDR, NULL,
	    "192.0.2.0/24", 0},
	{"zone", "fe80::1%eth0", BADADDR, NULL, "fe80::1%eth0", 0},
	{"empty", "", BADADDR, NULL, "", 0},
	{"len alone", "/24", BADADDR, NULL, "", 0},
	{"empty brackets", "[]/8", BADADDR, NULL, "", 0},
	{"blank", " 192.0.2.1", BADADDR, NULL, " 192.0.2.1", 0},
	/* Brackets. */
	{"no ]", "[192.0.2.1", INET_PREFIX_NO_CLOSE, NULL, NULL, 0},
	{"[ alone", "[", INET_PREFIX_NO_CLOSE, NULL, NULL, 0},
	{"text after ]", "[192.0.2.1]x", INET_PREFIX_AFTER_CLOSE, NULL, NULL,
	    0},
	{"len after ] without /", "[::1]64", INET_PREFIX_AFTER_CLOSE, NULL,
	    NULL, 0},
};

static void
test_parse(void **state)
{
	const struct parse_case *c;
	struct inet_prefix net;
	struct buf part, text;
	enum inet_prefix_status got;
	size_t i, len;

	(void)state;
	buf_init(&part, 0);
	buf_init(&text, 0);
	for (i = 0; i < NELEM(parse_cases); i++) {
		c = &parse_cases[i];
		buf_set(&part, "unchanged");
		memset(&net, 0xa5, sizeof(net));
		got = inet_prefix_parse(c->text, &net, &part);
		if (got != c->want)
			fail_msg("case \"%s\": got status %d, want %d",
			    c->label, got, c->want);
		if (c->want == OK || c->want == HOST) {
			buf_reset(&text);
			inet_prefix_text(&text, &net, INET_PREFIX_BRACKETS);
			CHECK_STR(text.data, c->net, c->label);
			/* Bytes after the address are zero. */
			len = inet_prefix_addr_len(net.family);
			CHECK(len == 16 || memcmp(net.net + len,
			    "\0\0\0\0\0\0\0\0\0\0\0\0", 12) == 0, c->label);
		}
		if (c->want == BADLEN)
			CHECK(net.family == c->family, c->label);
		CHECK_STR(part.data, c->part ? c->part : "unchanged", c->label);
		/* part is optional. */
		CHECK(inet_prefix_parse(c->text, &net, NULL) == c->want,
		    c->label);
	}
	buf_fini(&part);
	buf_fini(&text);
}

struct text_case {
	const char *label;
	const char *net;
	int flags;
	const char *want;
};

static const struct text_case text_cases[] = {
	{"v4", "192.0.2.0/24", 0, "192.0.2.0/24"},
	{"v4, brackets asked", "192.0.2.0/24", INET_PREFIX_BRACKETS,
	    "192.0.2.0/24"},
	{"v6", "2001:db8::/32", 0, "2001:db8::/32"},
	{"v6, brackets", "2001:db8::/32", INET_PREFIX_BRACKETS,
	    "[2001:db8::]/32"},
	{"v6 /0", "::/0", 0, "::/0"},
	{"v4 address", "192.0.2.1", 0, "192.0.2.1/32"},
};

static void
test_text(void **state)
{
	const struct text_case *c;
	struct inet_prefix net;
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 0);
	for (i = 0; i < NELEM(text_cases); i++) {
		c = &text_cases[i];
		CHECK(inet_prefix_parse(c->net, &net, NULL) == OK, c->label);
		/* Appends. */
		buf_set(&out, "x ");
		inet_prefix_text(&out, &net, c->flags);
		CHECK(strncmp(out.data, "x ", 2) == 0, c->label);
		CHECK_STR(out.data + 2, c->want, c->label);
	}
	buf_fini(&out);
}

struct from_mask_case {
	const char *label;
	const char *mask;
	int want;
};

static const struct from_mask_case from_mask_cases[] = {
	{"v4 none", "0.0.0.0", 0},
	{"v4 /1", "128.0.0.0", 1},
	{"v4 /8", "255.0.0.0", 8},
	{"v4 /9", "255.128.0.0", 9},
	{"v4 /24", "255.255.255.0", 24},
	{"v4 /31", "255.255.255.254", 31},
	{"v4 /32", "255.255.255.255", 32},
	{"v4 hole between bytes", "255.0.255.0", -1},
	{"v4 hole in a byte", "255.255.191.0", -1},
	{"v4 last bit alone", "0.0.0.1", -1},
	{"v4 inverted", "0.0.0.255", -1},
	{"v6 none", "::", 0},
	{"v6 /1", "8000::", 1},
	{"v6 /9", "ff80::", 9},
	{"v6 /64", "ffff:ffff:ffff:ffff::", 64},
	{"v6 /127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 127},
	{"v6 /128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128},
	{"v6 hole", "ffff:0:ffff::", -1},
	{"v6 last bit alone", "ffff::1", -1},
};

static void
test_from_mask(void **state)
{
	const struct from_mask_case *c;
	unsigned char mask[16];
	int family;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(from_mask_cases); i++) {
		c = &from_mask_cases[i];
		family = pton(c->mask, mask, c->label);
		if (inet_prefix_from_mask(mask, family) != c->want)
			fail_msg("case \"%s\": got %d, want %d", c->label,
			    inet_prefix_from_mask(mask, family), c->want);
	}
}

struct addr_case {
	const char *label;
	const char *text;
	bool ok;
	const char *a4;		/* NULL: no IPv4 form */
	const char *a6;		/* NULL: no IPv6 form */
};

static const struct addr_case addr_cases[] = {
	{"v4", "192.0.2.1", true, "192.0.2.1", NULL},
	{"v6", "2001:db8::1", true, NULL, "2001:db8::1"},
	{"v6 upper case", "2001:DB8::1", true, NULL, "2001:db8::1"},
	{"v4-mapped", "::ffff:192.0.2.1", true, "192.0.2.1",
	    "::ffff:192.0.2.1"},
	{"v4-mapped, hex", "::ffff:c000:201", true, "192.0.2.1",
	    "::ffff:192.0.2.1"},
	{"v4-compatible is not mapped", "::192.0.2.1", true, NULL,
	    "::192.0.2.1"},
	{"v4-translated is not mapped", "::ffff:0:192.0.2.1", true, NULL,
	    "::ffff:0:192.0.2.1"},
	{"short v4", "192.0.2", false, NULL, NULL},
	{"name", "host.example", false, NULL, NULL},
	{"empty", "", false, NULL, NULL},
	{"zone", "fe80::1%eth0", false, NULL, NULL},
	{"brackets", "[192.0.2.1]", false, NULL, NULL},
	{"network", "192.0.2.0/24", false, NULL, NULL},
	{"blank", "192.0.2.1 ", false, NULL, NULL},
};

static void
test_addr_parse(void **state)
{
	const struct addr_case *c;
	struct inet_prefix_addr a;
	unsigned char want[16];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(addr_cases); i++) {
		c = &addr_cases[i];
		memset(&a, 0xa5, sizeof(a));
		CHECK(inet_prefix_addr_parse(c->text, &a) == c->ok, c->label);
		CHECK(a.has4 == (c->a4 != NULL), c->label);
		CHECK(a.has6 == (c->a6 != NULL), c->label);
		if (c->a4 != NULL) {
			CHECK(pton(c->a4, want, c->label) == AF_INET, c->label);
			CHECK(memcmp(a.a4, want, 4) == 0, c->label);
		}
		if (c->a6 != NULL) {
			CHECK(pton(c->a6, want, c->label) == AF_INET6,
			    c->label);
			CHECK(memcmp(a.a6, want, 16) == 0, c->label);
		}
	}
}

struct match_case {
	const char *label;
	const char *net;
	const char *addr;
	int want;
};

static const struct match_case match_cases[] = {
	{"v4 /24 in", "192.0.2.0/24", "192.0.2.200", 1},
	{"v4 /24 out", "192.0.2.0/24", "192.0.3.1", 0},
	{"v4 /0 takes all v4", "0.0.0.0/0", "255.255.255.255", 1},
	{"v4 /0 says nothing of v6", "0.0.0.0/0", "2001:db8::1", -1},
	{"v4 /1 in", "128.0.0.0/1", "255.0.0.1", 1},
	{"v4 /1 out", "128.0.0.0/1", "127.255.255.255", 0},
	{"v4 /9 in", "10.128.0.0/9", "10.255.255.255", 1},
	{"v4 /9 out", "10.128.0.0/9", "10.127.255.255", 0},
	{"v4 /31 in", "192.0.2.254/31", "192.0.2.255", 1},
	{"v4 /31 out", "192.0.2.254/31", "192.0.2.253", 0},
	{"v4 /32 in", "192.0.2.1", "192.0.2.1", 1},
	{"v4 /32 out", "192.0.2.1", "192.0.2.2", 0},
	{"v4 net, mapped addr", "192.0.2.0/24", "::ffff:192.0.2.9", 1},
	{"v4 net, mapped addr out", "192.0.2.0/24", "::ffff:192.0.3.9", 0},
	{"v6 /32 in", "2001:db8::/32", "2001:db8:ffff::1", 1},
	{"v6 /32 out", "2001:db8::/32", "2001:db9::1", 0},
	{"v6 /0 takes all v6", "::/0", "ffff::1", 1},
	{"v6 /0 says nothing of v4", "::/0", "192.0.2.1", -1},
	{"v6 /1 in", "8000::/1", "ffff::", 1},
	{"v6 /1 out", "8000::/1", "7fff:ffff::", 0},
	{"v6 /9 in", "2080::/9", "20ff::1", 1},
	{"v6 /9 out", "2080::/9", "207f::1", 0},
	{"v6 /127 in", "2001:db8::2/127", "2001:db8::3", 1},
	{"v6 /127 out", "2001:db8::2/127", "2001:db8::4", 0},
	{"v6 /128 in", "::1", "::1", 1},
	{"v6 /128 out", "::1", "::2", 0},
	{"v6 net, mapped addr", "::ffff:0:0/96", "::ffff:192.0.2.1", 1},
	{"v6 net, v4 addr", "::ffff:0:0/96", "192.0.2.1", -1},
};

static void
test_match(void **state)
{
	const struct match_case *c;
	struct inet_prefix net;
	struct inet_prefix_addr a;
	int got;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(match_cases); i++) {
		c = &match_cases[i];
		CHECK(inet_prefix_parse(c->net, &net, NULL) == OK, c->label);
		CHECK(inet_prefix_addr_parse(c->addr, &a), c->label);
		if ((got = inet_prefix_match(&net, &a)) != c->want)
			fail_msg("case \"%s\": got %d, want %d", c->label,
			    got, c->want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_from_mask),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
