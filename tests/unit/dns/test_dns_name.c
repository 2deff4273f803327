/*
 * test_dns_name.c - unit tests for src/lib/dns without a DNS server
 *
 * dns_name_valid() case by case, the type and status names, reply
 * copies, and the resolver's promises that need no answer: an invalid
 * name is answered from the event loop (never from inside dns_lookup())
 * without any query, and dns_resolver_free() drops pending lookups,
 * dns_fcrdns()'s included, without calling back (ASan checks the
 * memory). The resolver's server is 127.0.0.1 port 9 (discard), which
 * is never asked anything that needs an answer here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dns.h"
#include "mem.h"
#include "testutil.h"

static char *
repeat(char ch, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, ch, n);
	s[n] = 0;
	return s;
}

static void
test_name_valid(void **state)
{
	static const struct {
		const char *label;
		const char *name;
		bool want;
		const char *why;
	} cases[] = {
		{ "simple", "example.com", true, NULL },
		{ "one label", "localhost", true, NULL },
		{ "final dot", "example.com.", true, NULL },
		{ "underscore", "_dmarc.example.com", true, NULL },
		{ "hyphen digits", "a-1.2.example", true, NULL },
		{ "arpa", "1.2.0.192.in-addr.arpa", true, NULL },
		{ "empty", "", false, "empty domain name" },
		{ "root", ".", false, "empty domain name" },
		{ "leading dot", ".example.com", false,
		    "empty label in domain name" },
		{ "double dot", "a..b", false, "empty label in domain name" },
		{ "two final dots", "a.b..", false,
		    "empty label in domain name" },
		{ "space", "a b", false, "bad character in domain name" },
		{ "tab", "a\tb", false, "bad character in domain name" },
		{ "newline", "a\nb", false, "bad character in domain name" },
		{ "del", "a\177b", false, "bad character in domain name" },
		{ "backslash", "a\\.b", false,
		    "bad character in domain name" },
		{ "eight bit", "caf\303\251.example", false,
		    "bad character in domain name" },
	};
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	for (size_t i = 0; i < NELEM(cases); i++) {
		buf_reset(&why);
		if (dns_name_valid(cases[i].name, &why) != cases[i].want)
			fail_msg("%s: want %d", cases[i].label, cases[i].want);
		if (cases[i].why != NULL && strcmp(why.data, cases[i].why))
			fail_msg("%s: why \"%s\"", cases[i].label, why.data);
	}
	assert_false(dns_name_valid(NULL, NULL));
	assert_false(dns_name_valid("a..b", NULL));	/* why may be NULL */
	buf_fini(&why);
}

static void
test_name_lengths(void **state)
{
	char *l63 = repeat('x', 63), *l64 = repeat('x', 64);
	struct buf name, why;

	(void)state;
	buf_init(&name, 300);
	buf_init(&why, 64);
	buf_printf(&name, "%s.example", l63);
	assert_true(dns_name_valid(name.data, &why));
	buf_reset(&name);
	buf_printf(&name, "%s.example", l64);
	assert_false(dns_name_valid(name.data, &why));
	assert_string_equal(why.data, "label too long in domain name");
	buf_reset(&name);
	buf_printf(&name, "a.%s", l64);		/* the last label too */
	assert_false(dns_name_valid(name.data, NULL));

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	buf_reset(&name);
	buf_printf(&name, "%s.%s.%s.", l63, l63, l63);
	buf_append(&name, l63, 61);
	assert_int_equal(name.len, 253);
	assert_true(dns_name_valid(name.data, &why));
	buf_putc(&name, '.');			/* a final dot: 254, fine */
	assert_true(dns_name_valid(name.data, &why));
	buf_truncate(&name, 253);
	buf_putc(&name, 'x');			/* 254 */
	assert_false(dns_name_valid(name.data, &why));
	assert_string_equal(why.data, "domain name too long");
	free(l63);
	free(l64);
	buf_fini(&name);
	buf_fini(&why);
}

static void
test_type_names(void **state)
{
	static const int types[] = { DNS_A, DNS_AAAA, DNS_MX, DNS_TXT,
	    DNS_PTR, DNS_FCRDNS };

	(void)state;
	for (size_t i = 0; i < NELEM(types); i++)
		assert_int_equal(dns_type_code(dns_type_name(types[i])),
		    types[i]);
	assert_int_equal(dns_type_code("mx"), DNS_MX);
	assert_int_equal(dns_type_code("SOA"), 0);
	assert_null(dns_type_name(6));
	assert_string_equal(dns_status_name(DNS_TEMPFAIL), "TEMPFAIL");
	assert_string_equal(dns_status_name(DNS_NOTFOUND), "NOTFOUND");
}

static void
test_reply_dup(void **state)
{
	struct dns_rr rrs[2] = {
		{ .pref = 10, .len = 3, .data = (char *)"a\0b" },
		{ .pref = 20, .len = 1, .data = (char *)"c" },
	};
	struct dns_reply reply = {
		.name = "b.test", .type = DNS_MX, .status = DNS_OK,
		.why = "found", .rrs = rrs, .nrrs = 2,
	}, *copy;

	(void)state;
	copy = dns_reply_dup(&reply);
	assert_string_equal(copy->name, "b.test");
	assert_int_equal(copy->nrrs, 2);
	assert_int_equal(copy->rrs[0].pref, 10);
	assert_int_equal(copy->rrs[0].len, 3);
	assert_memory_equal(copy->rrs[0].data, "a\0b", 4);
	assert_string_equal(copy->rrs[1].data, "c");
	dns_reply_free(copy);
	dns_reply_free(NULL);
}

struct answer {
	int calls;
	enum dns_status status;
	char *first;
};

static void
on_answer(void *ctx, const struct dns_reply *reply)
{
	struct answer *a = ctx;

	a->calls++;
	a->status = reply->status;
	free(a->first);
	a->first = reply->nrrs ? xstrdup(reply->rrs[0].data) : NULL;
}

static void
test_invalid_answered_from_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_resolver *r;
	struct answer a = { 0 }, f = { 0 }, t = { 0 };
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	assert_non_null(base);
	r = dns_resolver_new(base, "127.0.0.1:9", 1000, 1, &why);
	assert_non_null(r);
	dns_lookup(r, "a..b", DNS_A, on_answer, &a);
	dns_fcrdns(r, "not-an-address", on_answer, &f);
	dns_lookup(r, "example.test", 6 /* SOA: not supported */,
	    on_answer, &t);
	assert_int_equal(a.calls + f.calls + t.calls, 0);
	while (a.calls == 0 || f.calls == 0 || t.calls == 0)
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_int_equal(a.status, DNS_INVALID);
	assert_null(a.first);
	assert_int_equal(f.status, DNS_INVALID);
	assert_string_equal(f.first, "unknown");
	assert_int_equal(t.status, DNS_INVALID);
	dns_resolver_free(r);
	event_base_free(base);
	free(f.first);
	buf_fini(&why);
}

static void
test_free_drops_pending(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_resolver *r;
	struct answer a = { 0 }, f = { 0 }, bad = { 0 };
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	r = dns_resolver_new(base, "127.0.0.1:9", 5000, 1, &why);
	assert_non_null(r);
	dns_lookup(r, "example.test", DNS_MX, on_answer, &a);
	dns_fcrdns(r, "192.0.2.1", on_answer, &f);
	dns_lookup(r, "bad..name", DNS_A, on_answer, &bad);
	dns_resolver_free(r);
	assert_int_equal(a.calls + f.calls + bad.calls, 0);
	event_base_free(base);
	buf_fini(&why);
}

static void
test_resolver_bad_args(void **state)
{
	struct event_base *base = event_base_new();
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	assert_null(dns_resolver_new(base, "127.0.0.1", 0, 1, &why));
	assert_null(dns_resolver_new(base, "127.0.0.1", 100, 0, &why));
	assert_null(dns_resolver_new(base, "", 100, 1, &why));
	assert_string_equal(why.data, "empty DNS server list");
	assert_null(dns_resolver_new(base, "not a list", 100, 1, &why));
	assert_non_null(strstr(why.data, "bad DNS server list"));
	event_base_free(base);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_lengths),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_reply_dup),
		cmocka_unit_test(test_invalid_answered_from_loop),
		cmocka_unit_test(test_free_drops_pending),
		cmocka_unit_test(test_resolver_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
