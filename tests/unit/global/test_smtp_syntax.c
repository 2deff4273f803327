/*
 * test_smtp_syntax.c - unit tests for smtp_syntax.c
 *
 * Table-driven: paths (with each flag), the domain of a parsed address,
 * ESMTP parameter lists, xtext and ORCPT values; a failure prints the
 * case label. Lengths at and just past each limit are built in code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "mem.h"
#include "smtp_syntax.h"
#include "testutil.h"

#define NUL_OK	SMTP_PATH_NULL_OK
#define UTF8	SMTP_PATH_UTF8
#define LAX	SMTP_PATH_LAX

struct path_case {
	const char *label;
	const char *in;
	int flags;
	const char *want;	/* NULL: refused */
	const char *rest;	/* what follows the path */
};

static const struct path_case path_cases[] = {
	/* Plain paths and what follows them. */
	{"plain", "<joe@example.com>", 0, "joe@example.com", ""},
	{"params follow", "<joe@example.com> SIZE=10", 0, "joe@example.com",
	    " SIZE=10"},
	{"junk follows (caller's check)", "<joe@x>>", 0, "joe@x", ">"},
	{"domain case kept", "<Joe@Example.COM>", 0, "Joe@Example.COM", ""},
	{"bare local part", "<postmaster>", 0, "postmaster", ""},
	{"null sender", "<>", NUL_OK, "", ""},
	{"null sender refused", "<>", 0, NULL, NULL},
	{"null sender with params", "<> BODY=8BITMIME", NUL_OK, "",
	    " BODY=8BITMIME"},
	{"empty", "", 0, NULL, NULL},
	{"no angle brackets", "joe@example.com", 0, NULL, NULL},
	{"no closing bracket", "<joe@example.com", 0, NULL, NULL},
	{"space before path", " <joe@x>", 0, NULL, NULL},
	{"space inside", "<joe @x>", 0, NULL, NULL},
	{"space after local part", "<joe >", 0, NULL, NULL},
	{"atext specials", "<a!#$%&'*+-/=?^_`{|}~z@x>", 0,
	    "a!#$%&'*+-/=?^_`{|}~z@x", ""},
	{"comma in local part", "<a,b@x>", 0, NULL, NULL},
	{"dotted local part", "<joe.q.public@x>", 0, "joe.q.public@x", ""},
	{"leading dot", "<.joe@x>", 0, NULL, NULL},
	{"trailing dot", "<joe.@x>", 0, NULL, NULL},
	{"double dot", "<jo..e@x>", 0, NULL, NULL},
	{"empty local part", "<@x>", 0, NULL, NULL},

	/* Source routes: accepted and dropped. */
	{"route", "<@r1.example:joe@example.org>", 0, "joe@example.org", ""},
	{"two hops", "<@r1.example,@r2.example:joe@example.org>", 0,
	    "joe@example.org", ""},
	{"route literal", "<@[192.0.2.1]:joe@x>", 0, "joe@x", ""},
	{"route without mailbox", "<@r1.example:>", 0, NULL, NULL},
	{"route hop without @", "<@r1.example,r2.example:joe@x>", 0, NULL,
	    NULL},
	{"route empty hop", "<@:joe@x>", 0, NULL, NULL},
	{"route without colon", "<@r1.example joe@x>", 0, NULL, NULL},

	/* Quoted local parts: unquoted, quoted again when needed. */
	{"quoted kept", "<\"odd user\"@example.net>", 0,
	    "\"odd user\"@example.net", ""},
	{"quoted unneeded", "<\"joe\"@x>", 0, "joe@x", ""},
	{"quoted pair quote", "<\"a\\\"b\"@x>", 0, "\"a\\\"b\"@x", ""},
	{"quoted pair backslash", "<\"a\\\\b\"@x>", 0, "\"a\\\\b\"@x", ""},
	{"quoted pair plain", "<\"\\a\"@x>", 0, "a@x", ""},
	{"quoted at sign", "<\"a@b\"@x>", 0, "\"a@b\"@x", ""},
	{"quoted empty", "<\"\"@x>", 0, NULL, NULL},
	{"quoted unterminated", "<\"joe@x>", 0, NULL, NULL},
	{"quoted tab", "<\"a\tb\"@x>", 0, NULL, NULL},
	{"quoted DEL", "<\"a\x7f\"@x>", 0, NULL, NULL},
	{"quoted pair at end", "<\"a\\", 0, NULL, NULL},
	{"quoted then dot", "<\"a\".b@x>", 0, NULL, NULL},

	/* Domains. */
	{"underscore", "<joe@exa_mple.com>", 0, "joe@exa_mple.com", ""},
	{"hyphen", "<joe@ex-ample.com>", 0, "joe@ex-ample.com", ""},
	{"empty domain", "<joe@>", 0, NULL, NULL},
	{"empty label", "<joe@x..y>", 0, NULL, NULL},
	{"trailing dot in domain", "<joe@x.>", 0, NULL, NULL},
	{"leading dot in domain", "<joe@.x>", 0, NULL, NULL},
	{"bad character in domain", "<joe@ex!ample>", 0, NULL, NULL},
	{"two at signs", "<joe@x@y>", 0, NULL, NULL},

	/* Address literals. */
	{"ipv4", "<joe@[192.0.2.1]>", 0, "joe@[192.0.2.1]", ""},
	{"ipv4 zeros", "<joe@[0.0.0.0]>", 0, "joe@[0.0.0.0]", ""},
	{"ipv4 255", "<joe@[255.255.255.255]>", 0,
	    "joe@[255.255.255.255]", ""},
	{"ipv4 256", "<joe@[256.0.0.1]>", 0, NULL, NULL},
	{"ipv4 four digits", "<joe@[1234.0.0.1]>", 0, NULL, NULL},
	{"ipv4 three parts", "<joe@[192.0.2]>", 0, NULL, NULL},
	{"ipv4 five parts", "<joe@[192.0.2.1.5]>", 0, NULL, NULL},
	{"ipv4 empty part", "<joe@[192..2.1]>", 0, NULL, NULL},
	{"ipv4 trailing dot", "<joe@[192.0.2.1.]>", 0, NULL, NULL},
	{"ipv4 sign", "<joe@[+1.0.2.1]>", 0, NULL, NULL},
	{"ipv6", "<joe@[IPv6:2001:db8::1]>", 0, "joe@[IPv6:2001:db8::1]",
	    ""},
	{"ipv6 tag case", "<joe@[ipv6:::1]>", 0, "joe@[ipv6:::1]", ""},
	{"ipv6 full", "<joe@[IPv6:2001:db8:0:0:0:0:0:1]>", 0,
	    "joe@[IPv6:2001:db8:0:0:0:0:0:1]", ""},
	{"ipv6 with ipv4", "<joe@[IPv6:::ffff:192.0.2.1]>", 0,
	    "joe@[IPv6:::ffff:192.0.2.1]", ""},
	{"ipv6 bad hex", "<joe@[IPv6:2001:db8::g]>", 0, NULL, NULL},
	{"ipv6 two gaps", "<joe@[IPv6:2001::db8::1]>", 0, NULL, NULL},
	{"ipv6 tag only", "<joe@[IPv6:]>", 0, NULL, NULL},
	{"ipv6 holding ipv4", "<joe@[IPv6:192.0.2.1]>", 0, NULL, NULL},
	{"ipv6 without tag", "<joe@[2001:db8::1]>", 0, NULL, NULL},
	{"ipv6 too long", "<joe@[IPv6:0000:0000:0000:0000:0000:0000:0000:"
	    "0000:0000:0000:0000:1]>", 0, NULL, NULL},
	{"general literal", "<joe@[x-tag:something]>", 0, NULL, NULL},
	{"name literal", "<joe@[example.com]>", 0, NULL, NULL},
	{"empty literal", "<joe@[]>", 0, NULL, NULL},
	{"open literal", "<joe@[192.0.2.1>", 0, NULL, NULL},
	{"literal with space", "<joe@[192.0.2.1 ]>", 0, NULL, NULL},
	{"literal then label", "<joe@[192.0.2.1].x>", 0, NULL, NULL},

	/* RFC 6531 (SMTPUTF8). */
	{"utf8 address", "<\xce\xb4\xce\xbf\xce\xba@\xcf\x80\xce\xb1."
	    "\xce\xb4\xce\xbf>", UTF8, "\xce\xb4\xce\xbf\xce\xba@\xcf\x80"
	    "\xce\xb1.\xce\xb4\xce\xbf", ""},
	{"utf8 address without flag", "<\xce\xb4\xce\xbf\xce\xba@x>", 0,
	    NULL, NULL},
	{"utf8 domain without flag", "<joe@b\xc3\xbcr.example>", 0, NULL,
	    NULL},
	{"utf8 domain", "<joe@b\xc3\xbcr.example>", UTF8,
	    "joe@b\xc3\xbcr.example", ""},
	{"utf8 quoted", "<\"\xc3\xbc x\"@x>", UTF8, "\"\xc3\xbc x\"@x", ""},
	{"utf8 quoted without flag", "<\"\xc3\xbc x\"@x>", 0, NULL, NULL},
	{"utf8 quoted unneeded", "<\"\xc3\xbc\"@x>", UTF8, "\xc3\xbc@x", ""},
	{"utf8 escaped", "<\"\\\xc3\xbc\"@x>", UTF8, NULL, NULL},
	{"utf8 3 bytes", "<\xe2\x82\xac@x>", UTF8, "\xe2\x82\xac@x", ""},
	{"utf8 4 bytes", "<\xf0\x9f\x98\x80@x>", UTF8, "\xf0\x9f\x98\x80@x",
	    ""},
	{"utf8 U+10FFFF", "<\xf4\x8f\xbf\xbf@x>", UTF8,
	    "\xf4\x8f\xbf\xbf@x", ""},
	{"utf8 truncated", "<\xc3@x>", UTF8, NULL, NULL},
	{"utf8 truncated at end", "<a\xe2\x82", UTF8, NULL, NULL},
	{"utf8 lone continuation", "<\x80@x>", UTF8, NULL, NULL},
	{"utf8 overlong 2", "<\xc0\xaf@x>", UTF8, NULL, NULL},
	{"utf8 overlong C1", "<\xc1\xbf@x>", UTF8, NULL, NULL},
	{"utf8 overlong 3", "<\xe0\x80\xaf@x>", UTF8, NULL, NULL},
	{"utf8 overlong 4", "<\xf0\x80\x80\xaf@x>", UTF8, NULL, NULL},
	{"utf8 surrogate", "<\xed\xa0\x80@x>", UTF8, NULL, NULL},
	{"utf8 above U+10FFFF", "<\xf4\x90\x80\x80@x>", UTF8, NULL, NULL},
	{"utf8 five bytes", "<\xf8\x88\x80\x80\x80@x>", UTF8, NULL, NULL},
	{"utf8 FF", "<\xff@x>", UTF8, NULL, NULL},
	{"latin-1 domain", "<joe@b\xfcr.example>", UTF8, NULL, NULL},
	{"utf8 in literal", "<joe@[\xc3\xbc]>", UTF8, NULL, NULL},
	{"utf8 in route", "<@r\xc3\xbc.example:joe@x>", UTF8, "joe@x", ""},

	/* strict_rfc821_envelopes = no. */
	{"lax bare", "joe@example.com", LAX, "joe@example.com", ""},
	{"lax bare then params", "joe@example.com SIZE=1", LAX,
	    "joe@example.com", " SIZE=1"},
	{"lax bare local part", "postmaster", LAX, "postmaster", ""},
	{"lax spaces before", "   <joe@x>", LAX, "joe@x", ""},
	{"lax spaces before bare", "  joe@x", LAX, "joe@x", ""},
	{"lax angle", "<joe@x> BODY=7BIT", LAX, "joe@x", " BODY=7BIT"},
	{"lax null", "<>", LAX | NUL_OK, "", ""},
	{"lax null refused", "<>", LAX, NULL, NULL},
	{"lax nothing", "", LAX | NUL_OK, NULL, NULL},
	{"lax only spaces", "   ", LAX | NUL_OK, NULL, NULL},
	{"lax stray bracket", "joe@x>", LAX, NULL, NULL},
	{"lax open bracket", "<joe@x", LAX, NULL, NULL},
	{"lax quoted with space", "\"a b\"@x SIZE=1", LAX, "\"a b\"@x",
	    " SIZE=1"},
	{"lax route", "@r.example:joe@x", LAX, "joe@x", ""},
	{"lax junk after", "joe@x,y", LAX, NULL, NULL},
	{"lax tab after", "joe@x\tSIZE=1", LAX, NULL, NULL},
	{"lax utf8", "\xc3\xbc@x", LAX | UTF8, "\xc3\xbc@x", ""},
	{"lax utf8 without flag", "\xc3\xbc@x", LAX, NULL, NULL},
};

static void
test_path(void **state)
{
	struct buf out, tmp;
	const struct path_case *c;
	const char *rest;
	size_t i;

	(void)state;
	buf_init(&out, 16);
	buf_init(&tmp, 16);
	for (i = 0; i < NELEM(path_cases); i++) {
		c = &path_cases[i];
		rest = smtp_path_parse(c->in, &out, &tmp, c->flags);
		if (c->want == NULL && rest != NULL)
			fail_msg("case \"%s\": accepted as \"%s\"", c->label,
			    out.data);
		if (c->want != NULL && rest == NULL)
			fail_msg("case \"%s\": refused", c->label);
		if (c->want != NULL && strcmp(out.data, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    c->label, out.data, c->want);
		if (c->want != NULL && strcmp(rest, c->rest) != 0)
			fail_msg("case \"%s\": rest \"%s\", want \"%s\"",
			    c->label, rest, c->rest);
	}
	buf_fini(&out);
	buf_fini(&tmp);
}

/* "<" prefix + n copies of unit + suffix ">" */
static char *
path_of(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	struct buf b;
	size_t i;

	buf_init(&b, 64);
	buf_printf(&b, "<%s", prefix);
	for (i = 0; i < n; i++)
		buf_puts(&b, unit);
	buf_printf(&b, "%s>", suffix);
	return buf_steal(&b);
}

static void
expect_path(const char *label, char *path, int flags, bool ok)
{
	struct buf out, tmp;
	const char *rest;

	buf_init(&out, 16);
	buf_init(&tmp, 16);
	rest = smtp_path_parse(path, &out, &tmp, flags);
	if (ok && rest == NULL)
		fail_msg("case \"%s\": refused", label);
	if (!ok && rest != NULL)
		fail_msg("case \"%s\": accepted", label);
	buf_fini(&out);
	buf_fini(&tmp);
	free(path);
}

static void
test_path_lengths(void **state)
{
	size_t lim = CLEANUP_CLNT_ADDR_LIMIT;
	char label[64], dotted[65];

	(void)state;
	/* The mailbox: "local@x" of exactly the limit, then one more. */
	expect_path("address at limit", path_of("", "a", lim - 2, "@x"), 0,
	    true);
	expect_path("address over limit", path_of("", "a", lim - 1, "@x"),
	    0, false);
	expect_path("local part over limit", path_of("", "a", lim + 1, ""),
	    0, false);
	/* A quoted local part counts with its quotes. */
	expect_path("quoted over limit", path_of("\"a ", "a", lim - 3,
	    "\""), 0, false);
	/* Labels: 63 bytes, then 64. */
	expect_path("label 63", path_of("joe@", "a", 63, ".example"), 0,
	    true);
	expect_path("label 64", path_of("joe@", "a", 64, ".example"), 0,
	    false);
	/* A U-label is not measured in bytes (its A-label may fit). */
	expect_path("utf8 label 80 bytes", path_of("joe@", "\xc3\xbc", 40,
	    ".example"), UTF8, true);
	/* Domains: 255 bytes (four labels of 63 and 3 dots), then 257. */
	memset(label, 'a', 63);
	label[63] = 0;
	memcpy(dotted, label, 63);
	memcpy(dotted + 63, ".", 2);
	expect_path("domain 255", path_of("joe@", dotted, 3, label), 0,
	    true);
	expect_path("domain 257", path_of("joe@", dotted, 4, "a"), 0, false);
	expect_path("utf8 domain over 255", path_of("joe@", "\xc3\xbc.", 128,
	    "x"), UTF8, false);
	/* A route is not part of the result, but each hop is checked. */
	expect_path("long route", path_of("", "@r.example,", 1000,
	    "@r.example:joe@x"), 0, true);
	expect_path("route label 64", path_of("@", "r", 64, ":joe@x"), 0,
	    false);
}

struct domain_case {
	const char *label;
	const char *addr;
	const char *want;	/* NULL: no domain */
};

static const struct domain_case domain_cases[] = {
	{"plain", "joe@example.com", "example.com"},
	{"bare", "joe", NULL},
	{"null", "", NULL},
	{"quoted at", "\"a@b\"@x", "x"},
	{"quoted at, no domain", "\"a@b\"", NULL},
	{"escaped quote", "\"a\\\"@b\"@c", "c"},
	{"literal", "joe@[192.0.2.1]", "[192.0.2.1]"},
	{"unterminated quote", "\"a@b", NULL},
};

static void
test_addr_domain(void **state)
{
	const struct domain_case *c;
	const char *domain;
	bool got;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(domain_cases); i++) {
		c = &domain_cases[i];
		domain = "unset";
		got = smtp_addr_domain(c->addr, &domain);
		if (got != (c->want != NULL))
			fail_msg("case \"%s\": returned %d", c->label, got);
		if (c->want == NULL ? domain != NULL
		    : strcmp(domain, c->want) != 0)
			fail_msg("case \"%s\": domain \"%s\", want \"%s\"",
			    c->label, domain ? domain : "(null)",
			    c->want ? c->want : "(null)");
	}
}

struct param_case {
	const char *label;
	const char *in;
	const char *want;	/* "key=value|key|...;rc" */
};

static const struct param_case param_cases[] = {
	{"none", "", ";0"},
	{"spaces only", "   ", ";0"},
	{"one", "SIZE=100", "SIZE=100;0"},
	{"two", "SIZE=100 BODY=8BITMIME", "SIZE=100|BODY=8BITMIME;0"},
	{"extra spaces", "  A=1   B=2  ", "A=1|B=2;0"},
	{"no value", "SMTPUTF8", "SMTPUTF8;0"},
	{"hyphen in keyword", "X-ONE=1", "X-ONE=1;0"},
	{"empty value", "A=", ";-1"},
	{"second empty", "A=1 B=", "A=1;-1"},
	{"leading hyphen", "-X=1", ";-1"},
	{"underscore", "X_Y=1", ";-1"},
	{"equals in value", "X=a=b", ";-1"},
	{"DEL in value", "X=a\x7f", ";-1"},
	{"8-bit in value", "X=\xc3\xbc", ";-1"},
	{"8-bit in keyword", "\xc3\xbc=1", ";-1"},
	{"empty keyword", "=1", ";-1"},
	{"tab", "A=1\tB=2", ";-1"},
};

static void
test_params(void **state)
{
	const struct param_case *c;
	struct buf got;
	char *text, *cursor, *key, *value;
	int rc;
	size_t i;

	(void)state;
	buf_init(&got, 64);
	for (i = 0; i < NELEM(param_cases); i++) {
		c = &param_cases[i];
		buf_reset(&got);
		cursor = text = xstrdup(c->in);
		while ((rc = smtp_param_next(&cursor, &key, &value)) == 1)
			buf_printf(&got, "%s%s%s%s", got.len ? "|" : "", key,
			    value ? "=" : "", value ? value : "");
		buf_printf(&got, ";%d", rc);
		if (strcmp(got.data, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    c->label, got.data, c->want);
		free(text);
	}
	buf_fini(&got);
}

struct xtext_case {
	const char *label;
	const char *in;
	const char *want;	/* NULL: -1 */
};

static const struct xtext_case xtext_cases[] = {
	{"empty", "", ""},
	{"plain", "abc", "abc"},
	{"hex", "a+2Bb", "a+b"},
	{"hex equals", "+3D", "="},
	{"hex 8-bit", "+C3+BC", "\xc3\xbc"},
	{"lowercase hex", "+2b", NULL},
	{"one digit", "+2", NULL},
	{"plus alone", "+", NULL},
	{"bad hex", "+G0", NULL},
	{"equals", "a=b", NULL},
	{"space", "a b", NULL},
	{"DEL", "a\x7f", NULL},
	{"8-bit", "\xc3\xbc", NULL},
	{"NUL", "a+00b", NULL},
};

static void
test_xtext(void **state)
{
	const struct xtext_case *c;
	struct buf out;
	int rc;
	size_t i;

	(void)state;
	buf_init(&out, 16);
	for (i = 0; i < NELEM(xtext_cases); i++) {
		c = &xtext_cases[i];
		rc = smtp_xtext_decode(c->in, &out);
		if (rc != (c->want ? 0 : -1))
			fail_msg("case \"%s\": returned %d", c->label, rc);
		if (c->want && strcmp(out.data, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    c->label, out.data, c->want);
	}
	buf_fini(&out);
}

static const struct xtext_case orcpt_cases[] = {
	{"rfc822", "rfc822;joe+40example.com", "rfc822;joe@example.com"},
	{"type kept", "RFC822;joe@x", "RFC822;joe@x"},
	{"type with hyphen", "x-type;a", "x-type;a"},
	{"utf-8 type", "utf-8;joe@x", "utf-8;joe@x"},
	{"no semicolon", "rfc822 joe", NULL},
	{"empty type", ";joe", NULL},
	{"type with underscore", "rfc_822;joe", NULL},
	{"empty address", "rfc822;", NULL},
	{"bad xtext", "rfc822;a+zz", NULL},
	{"control character", "rfc822;a+0Ab", NULL},
	{"8-bit", "rfc822;+C3+BC", NULL},
};

static void
test_orcpt(void **state)
{
	const struct xtext_case *c;
	struct buf out, tmp, big;
	bool ok;
	size_t i;

	(void)state;
	buf_init(&out, 16);
	buf_init(&tmp, 16);
	for (i = 0; i < NELEM(orcpt_cases); i++) {
		c = &orcpt_cases[i];
		ok = smtp_orcpt_parse(c->in, &out, &tmp);
		if (ok != (c->want != NULL))
			fail_msg("case \"%s\": returned %d", c->label, ok);
		if (ok && strcmp(out.data, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    c->label, out.data, c->want);
	}
	assert_false(smtp_orcpt_parse(NULL, &out, &tmp));
	/* 500 decoded bytes are the limit, whatever the encoded size. */
	buf_init(&big, 2048);
	buf_puts(&big, "rfc822;");
	for (i = 0; i < 500; i++)
		buf_puts(&big, "+41");
	assert_true(smtp_orcpt_parse(big.data, &out, &tmp));
	assert_int_equal(out.len, 7 + 500);
	buf_puts(&big, "a");
	assert_false(smtp_orcpt_parse(big.data, &out, &tmp));
	buf_fini(&big);
	buf_fini(&out);
	buf_fini(&tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_path_lengths),
		cmocka_unit_test(test_addr_domain),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_orcpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
