/*
 * test_haproxy.c - unit tests for smtpd_haproxy.c and smtpd_haproxy_read.c
 *
 * Table-driven: each case is a header (v1 text or v2 bytes, maybe with
 * SMTP input after it) and what the parser must say: the header length
 * and the addresses, or -1. Every valid header is also cut at every
 * length (each prefix in a buffer of exactly that size, so that ASan
 * sees any read past it) and must then answer 0, "more"; a simulated
 * reader that gets the bytes in chunks of every size must take exactly
 * the header through haproxy_span(). haproxy_read() runs on real
 * socket pairs: whole headers, headers in pieces from another process,
 * timeouts, end of file, garbage; the SMTP bytes after the header must
 * still be on the socket afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "smtpd_haproxy.h"
#include "testutil.h"

/* The v2 signature and common fixed parts. */
#define SIG		"\r\n\r\n\0\r\nQUIT\n"
#define PROXY_TCP4	"\x21\x11"
#define PROXY_TCP6	"\x21\x21"
/* 203.0.113.9:56324 -> 192.0.2.25:25 */
#define V4_BLOCK	"\xcb\x00\x71\x09" "\xc0\x00\x02\x19" "\xdc\x04" "\x00\x19"
/* 2001:db8::9:1025 -> 2001:db8::25:587 */
#define V6_SRC		"\x20\x01\x0d\xb8" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x09"
#define V6_DST		"\x20\x01\x0d\xb8" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x25"
#define V6_BLOCK	V6_SRC V6_DST "\x04\x01" "\x02\x4b"
#define MAPPED		"\0\0\0\0" "\0\0\0\0" "\0\0\xff\xff"
#define V6_MAPPED_BLOCK	MAPPED "\xcb\x00\x71\x09" MAPPED "\xc0\x00\x02\x19" \
			"\x00\x01" "\x00\x19"

#define LONG_V6		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

struct parse_case {
	const char *label;
	const char *in;
	size_t len;
	int want;		/* header length, or -1 */
	int version;
	bool local;
	int family;
	const char *addr, *port, *server_addr, *server_port;
	const char *why;	/* substring of the reason, for -1 */
};

#define V1(label, text, want, fam, a, p, sa, sp) \
	{label, text, sizeof(text) - 1, want, 1, false, fam, a, p, sa, sp, NULL}
#define V1_LOCAL(label, text, want) \
	{label, text, sizeof(text) - 1, want, 1, true, AF_UNSPEC, "", "", "", \
	    "", NULL}
#define V2(label, bytes, want, fam, a, p, sa, sp) \
	{label, bytes, sizeof(bytes) - 1, want, 2, false, fam, a, p, sa, sp, \
	    NULL}
#define V2_LOCAL(label, bytes, want) \
	{label, bytes, sizeof(bytes) - 1, want, 2, true, AF_UNSPEC, "", "", \
	    "", "", NULL}
#define BAD(label, bytes, why) \
	{label, bytes, sizeof(bytes) - 1, -1, 0, false, 0, NULL, NULL, NULL, \
	    NULL, why}

static const struct parse_case good_cases[] = {
	V1("v1 tcp4", "PROXY TCP4 203.0.113.9 192.0.2.25 56324 25\r\n", 44,
	    AF_INET, "203.0.113.9", "56324", "192.0.2.25", "25"),
	V1("v1 tcp4 then smtp",
	    "PROXY TCP4 203.0.113.9 192.0.2.25 56324 25\r\nEHLO x\r\n", 44,
	    AF_INET, "203.0.113.9", "56324", "192.0.2.25", "25"),
	V1("v1 tcp4 port limits", "PROXY TCP4 0.0.0.0 255.255.255.255 0 "
	    "65535\r\n", 44, AF_INET, "0.0.0.0", "0", "255.255.255.255",
	    "65535"),
	V1("v1 tcp6 normalized", "PROXY TCP6 2001:DB8:0::9 2001:db8::25 "
	    "1025 587\r\n", 48, AF_INET6, "2001:db8::9", "1025",
	    "2001:db8::25", "587"),
	V1("v1 tcp6 longest", "PROXY TCP6 " LONG_V6 " " LONG_V6
	    " 65535 65535\r\n", 104, AF_INET6, LONG_V6, "65535", LONG_V6,
	    "65535"),
	V1("v1 tcp6 v4-mapped", "PROXY TCP6 ::ffff:203.0.113.9 "
	    "::ffff:192.0.2.25 1 25\r\n", 54, AF_INET, "203.0.113.9", "1",
	    "192.0.2.25", "25"),
	V1_LOCAL("v1 unknown", "PROXY UNKNOWN\r\n", 15),
	V1_LOCAL("v1 unknown then smtp", "PROXY UNKNOWN\r\nQUIT\r\n", 15),
	V1_LOCAL("v1 unknown with addresses (107 bytes)",
	    "PROXY UNKNOWN " LONG_V6 " " LONG_V6 " 65535 65535\r\n", 107),
	V1_LOCAL("v1 unknown with junk", "PROXY UNKNOWN what  ever \r\n",
	    27),
	V2("v2 tcp4", SIG PROXY_TCP4 "\x00\x0c" V4_BLOCK, 28, AF_INET,
	    "203.0.113.9", "56324", "192.0.2.25", "25"),
	V2("v2 tcp4 then smtp", SIG PROXY_TCP4 "\x00\x0c" V4_BLOCK
	    "EHLO x\r\n", 28, AF_INET, "203.0.113.9", "56324",
	    "192.0.2.25", "25"),
	V2("v2 tcp4 with tlvs", SIG PROXY_TCP4 "\x00\x1b" V4_BLOCK
	    "\x01\x00\x02" "h2" "\x04\x00\x00" "\x05\x00\x04" "abcd"
	    "EHLO x\r\n", 43, AF_INET, "203.0.113.9", "56324", "192.0.2.25",
	    "25"),
	V2("v2 tcp6", SIG PROXY_TCP6 "\x00\x24" V6_BLOCK, 52, AF_INET6,
	    "2001:db8::9", "1025", "2001:db8::25", "587"),
	V2("v2 tcp6 v4-mapped", SIG PROXY_TCP6 "\x00\x24" V6_MAPPED_BLOCK
	    "QUIT\r\n", 52, AF_INET, "203.0.113.9", "1", "192.0.2.25", "25"),
	V2_LOCAL("v2 local", SIG "\x20\x00\x00\x00", 16),
	V2_LOCAL("v2 local then smtp", SIG "\x20\x00\x00\x00" "EHLO x\r\n",
	    16),
	V2_LOCAL("v2 local with ignored block", SIG "\x20\x31\x00\x05"
	    "\xff\xff\xff\xff\xff" "EHLO", 21),
	V2_LOCAL("v2 proxy unspec", SIG "\x21\x00\x00\x00", 16),
};

static const struct parse_case bad_cases[] = {
	BAD("v1 bare LF", "PROXY TCP4 203.0.113.9 192.0.2.25 56324 25\n",
	    "bare LF"),
	BAD("v1 CR inside", "PROXY TCP4\r 203.0.113.9 192.0.2.25 1 2\r\n",
	    "CR not followed"),
	BAD("v1 CR CR LF", "PROXY UNKNOWN\r\r\n", "CR not followed"),
	BAD("v1 double space", "PROXY TCP4  203.0.113.9 192.0.2.25 1 2\r\n",
	    "empty field"),
	BAD("v1 leading space", "PROXY  TCP4 203.0.113.9 192.0.2.25 1 2\r\n",
	    "empty field"),
	BAD("v1 trailing space", "PROXY TCP4 203.0.113.9 192.0.2.25 1 2 \r\n",
	    "empty field"),
	BAD("v1 tab", "PROXY TCP4 203.0.113.9\t192.0.2.25 1 2\r\n",
	    "bad character 0x09"),
	BAD("v1 NUL", "PROXY TCP4 203.0.113.9\0" "192.0.2.25 1 2\r\n",
	    "bad character 0x00"),
	BAD("v1 8-bit", "PROXY TCP4 203.0.113.9 192.0.2.\xb9" "25 1 2\r\n",
	    "bad character 0xb9"),
	BAD("v1 lower case", "proxy TCP4 203.0.113.9 192.0.2.25 1 2\r\n",
	    "not a PROXY protocol header"),
	BAD("v1 tcp lower case", "PROXY tcp4 203.0.113.9 192.0.2.25 1 2\r\n",
	    "bad protocol \"tcp4\""),
	BAD("v1 udp", "PROXY UDP4 203.0.113.9 192.0.2.25 1 2\r\n",
	    "bad protocol \"UDP4\""),
	BAD("v1 unknownx", "PROXY UNKNOWNX\r\n", "bad protocol"),
	BAD("v1 nothing", "PROXY \r\n", "empty field"),
	BAD("v1 no space", "PROXY\r\n", "not a PROXY protocol header"),
	BAD("v1 missing port", "PROXY TCP4 203.0.113.9 192.0.2.25 1\r\n",
	    "missing fields"),
	BAD("v1 protocol only", "PROXY TCP4\r\n", "missing fields"),
	BAD("v1 extra field", "PROXY TCP4 203.0.113.9 192.0.2.25 1 2 3\r\n",
	    "too many fields"),
	BAD("v1 tcp4 with ipv6", "PROXY TCP4 2001:db8::9 192.0.2.25 1 2\r\n",
	    "bad source address \"2001:db8::9\""),
	BAD("v1 tcp6 with ipv4", "PROXY TCP6 2001:db8::9 192.0.2.25 1 2\r\n",
	    "bad destination address \"192.0.2.25\""),
	BAD("v1 short ipv4", "PROXY TCP4 203.0.113 192.0.2.25 1 2\r\n",
	    "bad source address"),
	BAD("v1 octet 256", "PROXY TCP4 203.0.113.256 192.0.2.25 1 2\r\n",
	    "bad source address"),
	BAD("v1 hostname", "PROXY TCP4 example.com 192.0.2.25 1 2\r\n",
	    "bad source address"),
	BAD("v1 address too long", "PROXY TCP6 " LONG_V6 ":ffff:ffff "
	    "::1 1 2\r\n", "bad source address"),
	BAD("v1 port 65536", "PROXY TCP4 203.0.113.9 192.0.2.25 65536 2\r\n",
	    "bad source port \"65536\""),
	BAD("v1 port leading zero", "PROXY TCP4 203.0.113.9 192.0.2.25 025 "
	    "2\r\n", "bad source port"),
	BAD("v1 port sign", "PROXY TCP4 203.0.113.9 192.0.2.25 +25 2\r\n",
	    "bad source port"),
	BAD("v1 port negative", "PROXY TCP4 203.0.113.9 192.0.2.25 1 -2\r\n",
	    "bad destination port \"-2\""),
	BAD("v1 port junk", "PROXY TCP4 203.0.113.9 192.0.2.25 1 25x\r\n",
	    "bad destination port"),
	BAD("v1 port six digits", "PROXY TCP4 203.0.113.9 192.0.2.25 1 "
	    "000025\r\n", "bad destination port"),
	BAD("v1 no CRLF in 107 bytes", "PROXY UNKNOWN " LONG_V6 " " LONG_V6
	    " 65535 655356\r\n", "no CRLF within 107"),
	BAD("v1 108 bytes of junk", "PROXY UNKNOWN "
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "456789012345678901234567890123", "no CRLF within 107"),
	BAD("smtp instead", "EHLO client.example\r\n",
	    "not a PROXY protocol header: \"EHLO client.example??\""),
	BAD("v2 bad signature", "\r\n\r\n\0\r\nQUIT\r" "\x21\x11\x00\x0c"
	    V4_BLOCK, "not a PROXY protocol header"),
	BAD("v2 version 1", SIG "\x11\x11\x00\x0c" V4_BLOCK,
	    "unsupported version 1"),
	BAD("v2 version 3", SIG "\x31\x11\x00\x0c" V4_BLOCK,
	    "unsupported version 3"),
	BAD("v2 command 2", SIG "\x22\x11\x00\x0c" V4_BLOCK,
	    "unknown command 2"),
	BAD("v2 family unix", SIG "\x21\x31\x00\x0c" V4_BLOCK,
	    "address family UNIX"),
	BAD("v2 family 4", SIG "\x21\x41\x00\x0c" V4_BLOCK,
	    "bad address family 4"),
	BAD("v2 dgram", SIG "\x21\x12\x00\x0c" V4_BLOCK,
	    "unsupported transport 2"),
	BAD("v2 transport unspec", SIG "\x21\x10\x00\x0c" V4_BLOCK,
	    "unsupported transport 0"),
	BAD("v2 short inet block", SIG PROXY_TCP4 "\x00\x0b" V4_BLOCK,
	    "too short for IPv4"),
	BAD("v2 inet6 block of inet size", SIG PROXY_TCP6 "\x00\x0c" V4_BLOCK,
	    "too short for IPv6"),
	BAD("v2 truncated tlv", SIG PROXY_TCP4 "\x00\x0e" V4_BLOCK "\x01\x00",
	    "truncated TLV"),
	BAD("v2 tlv too long", SIG PROXY_TCP4 "\x00\x11" V4_BLOCK
	    "\x01\x00\x03" "h2", "goes past the header"),
	BAD("v2 second tlv too long", SIG PROXY_TCP4 "\x00\x15" V4_BLOCK
	    "\x04\x00\x00" "\x01\x00\x05" "h2x", "goes past the header"),
	BAD("v2 over the limit", SIG PROXY_TCP4 "\x10\x00", "4112 bytes"),
	BAD("v2 largest declared", SIG PROXY_TCP4 "\xff\xff", "65551 bytes"),
};

/* Parse a copy of exactly len bytes, so that ASan sees over-reads. */
static int
parse_exact(const char *in, size_t len, struct haproxy_addr *out,
    struct buf *why)
{
	char *copy = len ? xmemdup(in, len) : NULL;
	int rc;

	rc = haproxy_parse(copy, len, out, why);
	free(copy);
	return rc;
}

static void
test_good(void **state)
{
	struct haproxy_addr pa;
	struct buf why;
	size_t i;
	int rc;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(good_cases); i++) {
		const struct parse_case *c = &good_cases[i];

		buf_reset(&why);
		rc = parse_exact(c->in, c->len, &pa, &why);
		if (rc != c->want)
			fail_msg("case \"%s\": got %d want %d (%s)", c->label,
			    rc, c->want, why.data);
		CHECK(pa.version == c->version, c->label);
		CHECK(pa.local == c->local, c->label);
		CHECK(pa.family == c->family, c->label);
		CHECK(strcmp(pa.addr, c->addr) == 0, c->label);
		CHECK(strcmp(pa.port, c->port) == 0, c->label);
		CHECK(strcmp(pa.server_addr, c->server_addr) == 0, c->label);
		CHECK(strcmp(pa.server_port, c->server_port) == 0, c->label);
		/* Only the header: bytes after it are no concern. */
		rc = parse_exact(c->in, (size_t)c->want, &pa, &why);
		CHECK(rc == c->want, c->label);
	}
	buf_fini(&why);
}

static void
test_truncated(void **state)
{
	struct haproxy_addr pa;
	struct buf why;
	size_t i, len;
	int rc;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(good_cases); i++) {
		const struct parse_case *c = &good_cases[i];

		for (len = 0; len < (size_t)c->want; len++) {
			rc = parse_exact(c->in, len, &pa, &why);
			if (rc != 0)
				fail_msg("case \"%s\" cut at %zu: got %d (%s)",
				    c->label, len, rc, why.data);
		}
	}
	buf_fini(&why);
}

static void
test_bad(void **state)
{
	struct haproxy_addr pa;
	struct buf why;
	size_t i, len;
	int rc;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(bad_cases); i++) {
		const struct parse_case *c = &bad_cases[i];

		buf_reset(&why);
		rc = parse_exact(c->in, c->len, &pa, &why);
		if (rc != -1)
			fail_msg("case \"%s\": got %d, want -1", c->label, rc);
		if (strstr(why.data, c->why) == NULL)
			fail_msg("case \"%s\": reason \"%s\" lacks \"%s\"",
			    c->label, why.data, c->why);
		/* Prefixes: "more" or "bad", never a crash. */
		for (len = 0; len < c->len; len++) {
			rc = parse_exact(c->in, len, &pa, &why);
			CHECK(rc == 0 || rc == -1, c->label);
		}
	}
	/* NULL why is allowed. */
	CHECK(haproxy_parse(BYTES("EHLO x\r\n"), &pa, NULL) == -1, "null why");
	buf_fini(&why);
}

/* Bad input is turned away as soon as it cannot become a header. */
static void
test_early_reject(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
	} cases[] = {
		{"smtp verb", BYTES("E")},
		{"proxy typo", BYTES("PROXX")},
		{"v2 signature typo", BYTES("\r\n\r\n\0\r\nQ\n")},
		{"v2 version", BYTES(SIG "\x10")},
		{"v1 control", BYTES("PROXY TCP4 \x01")},
	};
	struct haproxy_addr pa;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK(parse_exact(cases[i].in, cases[i].len, &pa, NULL) == -1,
		    cases[i].label);
}

/*
 * A reader that gets len bytes of input chunk bytes at a time and takes
 * what haproxy_span() allows must end with exactly the header.
 */
static void
test_span(void **state)
{
	struct haproxy_addr pa;
	size_t i, chunk, have, avail, take;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(good_cases); i++) {
		const struct parse_case *c = &good_cases[i];

		for (chunk = 1; chunk <= c->len; chunk++) {
			have = 0;
			while ((rc = haproxy_parse(c->in, have, &pa, NULL))
			    == 0) {
				avail = c->len - have;
				if (avail > chunk)
					avail = chunk;
				CHECK(avail > 0, c->label);
				take = haproxy_span(c->in, have, avail);
				CHECK(take > 0 && take <= avail, c->label);
				have += take;
				if (have > (size_t)c->want)
					fail_msg("case \"%s\" chunk %zu: took "
					    "%zu bytes of a %d-byte header",
					    c->label, chunk, have, c->want);
			}
			CHECK(rc == c->want, c->label);
			CHECK(have == (size_t)c->want, c->label);
		}
	}
	/* Nothing offered, nothing taken. */
	CHECK(haproxy_span("PROXY", 5, 0) == 0, "span of nothing");
}

/* ---- haproxy_read() on sockets ------------------------------------------ */

static void
sock_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		fail_msg("socketpair: %s", strerror(errno));
}

static void
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, data, len)) <= 0)
			fail_msg("write: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
}

/* What is left on the socket (the writer has closed its end). */
static char *
read_rest(int fd)
{
	struct buf rest;
	char tmp[256];
	ssize_t n;

	buf_init(&rest, 64);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(&rest, tmp, (size_t)n);
	return buf_steal(&rest);
}

static void
test_read_whole(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		const char *addr;	/* "" when local */
		const char *rest;
	} cases[] = {
		{"v1", BYTES("PROXY TCP4 203.0.113.9 192.0.2.25 56324 25\r\n"
		    "EHLO x\r\nMAIL FROM:<a@b>\r\n"), "203.0.113.9",
		    "EHLO x\r\nMAIL FROM:<a@b>\r\n"},
		{"v1 unknown", BYTES("PROXY UNKNOWN\r\nQUIT\r\n"), "",
		    "QUIT\r\n"},
		{"v2", BYTES(SIG PROXY_TCP6 "\x00\x24" V6_BLOCK "EHLO x\r\n"),
		    "2001:db8::9", "EHLO x\r\n"},
		{"v2 tlvs", BYTES(SIG PROXY_TCP4 "\x00\x11" V4_BLOCK
		    "\x01\x00\x02" "h2" "\r\n\r\n"), "203.0.113.9", "\r\n\r\n"},
		{"v2 local", BYTES(SIG "\x20\x00\x00\x00" "PROXY TCP4"), "",
		    "PROXY TCP4"},
		{"v1 alone", BYTES("PROXY TCP4 203.0.113.9 192.0.2.25 1 2\r\n"),
		    "203.0.113.9", ""},
	};
	struct haproxy_addr pa;
	struct buf why;
	int fds[2];
	size_t i;
	char *rest;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		sock_pair(fds);
		write_all(fds[1], cases[i].in, cases[i].len);
		(void)close(fds[1]);
		if (haproxy_read(fds[0], 1000, &pa, &why) != 0)
			fail_msg("case \"%s\": %s", cases[i].label, why.data);
		CHECK(strcmp(pa.addr, cases[i].addr) == 0, cases[i].label);
		CHECK(pa.local == (cases[i].addr[0] == 0), cases[i].label);
		rest = read_rest(fds[0]);
		if (strcmp(rest, cases[i].rest) != 0)
			fail_msg("case \"%s\": left \"%s\"", cases[i].label,
			    rest);
		free(rest);
		(void)close(fds[0]);
	}
	buf_fini(&why);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * A child writes the input in pieces of piece bytes with pauses, then
 * closes; the reader must assemble the header and leave the rest.
 */
static void
test_read_pieces(void **state)
{
	static const char v1[] = "PROXY TCP6 2001:db8::9 2001:db8::25 1025 "
	    "587\r\nEHLO x\r\n";
	static const char v2[] = SIG PROXY_TCP4 "\x00\x0c" V4_BLOCK
	    "EHLO x\r\n";
	static const struct {
		const char *in;
		size_t len;
		size_t piece;
		const char *addr;
	} cases[] = {
		{v1, sizeof(v1) - 1, 1, "2001:db8::9"},
		{v1, sizeof(v1) - 1, 7, "2001:db8::9"},
		{v2, sizeof(v2) - 1, 1, "203.0.113.9"},
		{v2, sizeof(v2) - 1, 5, "203.0.113.9"},
		{v2, sizeof(v2) - 1, 15, "203.0.113.9"},
	};
	struct haproxy_addr pa;
	struct buf why;
	size_t i, off, n;
	int fds[2], status, flags;
	pid_t pid;
	char *rest;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		sock_pair(fds);
		if ((pid = fork()) < 0)
			fail_msg("fork: %s", strerror(errno));
		if (pid == 0) {
			(void)close(fds[0]);
			for (off = 0; off < cases[i].len; off += n) {
				n = cases[i].len - off;
				if (n > cases[i].piece)
					n = cases[i].piece;
				if (write(fds[1], cases[i].in + off, n)
				    != (ssize_t)n)
					_exit(1);
				sleep_ms(5);
			}
			_exit(0);
		}
		(void)close(fds[1]);
		/* Non-blocking in one case of two: both must work. */
		if (i % 2) {
			flags = fcntl(fds[0], F_GETFL);
			(void)fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
		}
		if (haproxy_read(fds[0], 5000, &pa, &why) != 0)
			fail_msg("case %zu: %s", i, why.data);
		CHECK(strcmp(pa.addr, cases[i].addr) == 0, "pieces");
		if (i % 2)
			(void)fcntl(fds[0], F_SETFL, flags);
		rest = read_rest(fds[0]);
		if (strcmp(rest, "EHLO x\r\n") != 0)
			fail_msg("case %zu: left \"%s\"", i, rest);
		free(rest);
		(void)close(fds[0]);
		CHECK(waitpid(pid, &status, 0) == pid && status == 0,
		    "writer");
	}
	buf_fini(&why);
}

static void
test_read_errors(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		bool close;		/* writer closes: else timeout */
		const char *why;
	} cases[] = {
		{"nothing, timeout", "", 0, false, "timeout after 200ms "
		    "(0 bytes received)"},
		{"partial v1, timeout", BYTES("PROXY TCP4 203.0.113.9"), false,
		    "timeout after 200ms (22 bytes received)"},
		{"partial v2, timeout", BYTES(SIG "\x21\x11\x00\x0c"), false,
		    "timeout after 200ms (16 bytes received)"},
		{"nothing, closed", "", 0, true, "lost connection after 0 "
		    "bytes"},
		{"partial, closed", BYTES("PROXY TCP4 "), true,
		    "lost connection after 11 bytes"},
		{"smtp instead", BYTES("EHLO x\r\nMAIL FROM:<a@b>\r\n"), false,
		    "not a PROXY protocol header: \"EHLO x"},
		{"malformed v1", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"),
		    false, "bad destination port \"99999\""},
		{"v2 too long", BYTES(SIG "\x21\x11\xff\xff" V4_BLOCK), false,
		    "65551 bytes"},
	};
	struct haproxy_addr pa;
	struct buf why;
	int fds[2];
	size_t i;
	long long t0, ms;
	struct timespec ts;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		sock_pair(fds);
		write_all(fds[1], cases[i].in, cases[i].len);
		if (cases[i].close)
			(void)close(fds[1]);
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
		CHECK(haproxy_read(fds[0], 200, &pa, &why) == -1,
		    cases[i].label);
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ms = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 - t0;
		if (strstr(why.data, cases[i].why) == NULL)
			fail_msg("case \"%s\": reason \"%s\" lacks \"%s\"",
			    cases[i].label, why.data, cases[i].why);
		/* Timeouts take the time, the others do not wait. */
		if (strstr(cases[i].why, "timeout") != NULL)
			CHECK(ms >= 190 && ms < 2000, cases[i].label);
		else
			CHECK(ms < 150, cases[i].label);
		if (!cases[i].close)
			(void)close(fds[1]);
		(void)close(fds[0]);
	}
	/* Not a socket: a read error, not a crash or a hang. */
	CHECK(pipe(fds) == 0, "pipe");
	write_all(fds[1], BYTES("PROXY UNKNOWN\r\n"));
	CHECK(haproxy_read(fds[0], 200, &pa, &why) == -1, "pipe");
	CHECK(strstr(why.data, "read error") != NULL, "pipe");
	(void)close(fds[0]);
	(void)close(fds[1]);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_early_reject),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_read_whole),
		cmocka_unit_test(test_read_pieces),
		cmocka_unit_test(test_read_errors),
	};

	(void)signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
