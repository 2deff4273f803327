/*
 * test_addr_list.c - unit tests for addr_list.c
 *
 * Table-driven: each case is a header value and the addresses wanted,
 * joined with " | "; a failure prints the case label. Malformed input
 * must give what can be salvaged, never a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "testutil.h"

struct list_case {
	const char *label;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	size_t max;		/* 0: no limit */
	const char *want;	/* " | " between addresses */
};

static const struct list_case list_cases[] = {
	{"empty", "", 0, 0, ""},
	{"blank", " \t\r\n ", 0, 0, ""},
	{"bare", "joe@example.com", 0, 0, "joe@example.com"},
	/* Found by fuzzing: results must parse back to themselves. */
	{"quoted string in domain dropped", "joe@ex\"a, b\"ample.com", 0, 0,
	    "joe@example.com"},
	{"tab in quoted local part", "\"a\tb\"@x", 0, 0, "\"a b\"@x"},
	{"dangling backslash in domain literal", "joe@[1.2.3.4\\", 0, 0,
	    "joe@[1.2.3.4]"},
	{"local only", "joe", 0, 0, "joe"},
	{"two", "a@x, b@y", 0, 0, "a@x | b@y"},
	{"angle", "<joe@example.com>", 0, 0, "joe@example.com"},
	{"display name", "Joe Smith <joe@example.com>", 0, 0,
	    "joe@example.com"},
	{"quoted display name with comma",
	    "\"Smith, Joe\" <joe@example.com>, ann@x", 0, 0,
	    "joe@example.com | ann@x"},
	{"quoted display name with specials",
	    "\"a<b>@c:d;\" <e@f>", 0, 0, "e@f"},
	{"comment after", "joe@example.com (Joe Smith)", 0, 0,
	    "joe@example.com"},
	{"comment before", "(hi) joe@example.com", 0, 0, "joe@example.com"},
	{"nested comment", "joe (a (b (c) d) e) @ example.com", 0, 0,
	    "joe@example.com"},
	{"comment with escaped paren", "joe (a \\) b) @x", 0, 0, "joe@x"},
	{"comment with comma", "a@x (one, two), b@y", 0, 0, "a@x | b@y"},
	{"group", "team: a@x, b@y;", 0, 0, "a@x | b@y"},
	{"group then more", "team: a@x, b@y;, c@z", 0, 0,
	    "a@x | b@y | c@z"},
	{"group then more without comma", "team: a@x; c@z", 0, 0,
	    "a@x | c@z"},
	{"empty group", "undisclosed-recipients:;", 0, 0, ""},
	{"group with angle", "g: Ann <a@x>, \"B\" <b@y> ;", 0, 0,
	    "a@x | b@y"},
	{"obsolete route", "<@relay.example,@r2.example:joe@example.org>",
	    0, 0, "joe@example.org"},
	{"route with display name",
	    "Joe <@relay.example:joe@example.org>, ann@x", 0, 0,
	    "joe@example.org | ann@x"},
	{"quoted local part kept", "\"odd user\"@example.net", 0, 0,
	    "\"odd user\"@example.net"},
	{"quoted local part unneeded", "\"joe\"@example.net", 0, 0,
	    "joe@example.net"},
	{"quoted local with quote", "\"a\\\"b\"@x", 0, 0, "\"a\\\"b\"@x"},
	{"quoted local with backslash", "\"a\\\\b\"@x", 0, 0,
	    "\"a\\\\b\"@x"},
	{"quoted and dotted", "\"a b\".c@x", 0, 0, "\"a b.c\"@x"},
	{"leading dot quoted", ".joe@x", 0, 0, "\".joe\"@x"},
	{"double dot quoted", "jo..e@x", 0, 0, "\"jo..e\"@x"},
	{"obsolete spaces", "joe . smith @ example . com", 0, 0,
	    "joe.smith@example.com"},
	{"folded", "Joe\r\n <joe@x>,\r\n\tann@y", 0, 0, "joe@x | ann@y"},
	{"domain literal", "joe@[192.0.2.1]", 0, 0, "joe@[192.0.2.1]"},
	{"domain literal in angle", "Joe <joe@[IPv6:2001:db8::1]>", 0, 0,
	    "joe@[IPv6:2001:db8::1]"},
	{"percent and bang kept", "a%b@c, x!y", 0, 0, "a%b@c | x!y"},
	{"plus and specials atext", "a+b=c/d{e}@x", 0, 0, "a+b=c/d{e}@x"},
	{"utf8", "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc.example>", 0, 0,
	    "j\xc3\xb6rg@b\xc3\xbc.example"},
	{"null sender angle", "<>", 0, 0, ""},
	{"trailing commas", "a@x,,, ,b@y,", 0, 0, "a@x | b@y"},
	{"domain only", "@example.com", 0, 0, ""},
	{"at end", "joe@", 0, 0, "joe"},
	{"two ats", "a@b@c", 0, 0, "\"a@b\"@c"},
	/* Salvage. */
	{"unterminated angle", "Joe <joe@x", 0, 0, "joe@x"},
	{"unterminated angle then more", "Joe <joe@x, ann@y", 0, 0,
	    "joe@x | ann@y"},
	{"unterminated quote", "\"Joe <joe@x>", 0, 0, "\"Joe <joe@x>\""},
	{"unterminated comment", "joe@x (oops", 0, 0, "joe@x"},
	{"unterminated literal", "joe@[1.2.3", 0, 0, "joe@[1.2.3]"},
	{"stray close", "joe@x) >, ann@y", 0, 0, "joe@x | ann@y"},
	{"missing angle", "Joe Smith joe@x", 0, 0, "JoeSmithjoe@x"},
	{"two angles", "<a@x> <b@y>", 0, 0, "b@y"},
	{"nul bytes dropped", "jo\0e@x", 6, 0, "joe@x"},
	{"control dropped", "jo\x01" "e@x\x7f", 0, 0, "joe@x"},
	{"stray backslash", "a\\b@x", 0, 0, "\"a\\\\b\"@x"},
	{"only specials", "<>,;:@.", 0, 0, ""},
	{"colon outside group", "mailto:joe@x", 0, 0, "joe@x"},
	/* Limits. */
	{"max", "a@x, b@y, c@z", 0, 2, "a@x | b@y"},
	{"max one", "a@x, b@y", 0, 1, "a@x"},
};

static void
test_list(void **state)
{
	struct argv *av;
	struct buf got;
	size_t i, j, n;

	(void)state;
	buf_init(&got, 128);
	for (i = 0; i < NELEM(list_cases); i++) {
		const struct list_case *c = &list_cases[i];

		av = argv_new();
		n = addr_list_parse(av, c->in, c->len ? c->len
		    : strlen(c->in), c->max ? c->max : SIZE_MAX);
		buf_reset(&got);
		for (j = 0; j < av->argc; j++) {
			if (j > 0)
				buf_puts(&got, " | ");
			buf_puts(&got, av->argv[j]);
		}
		if (n != av->argc)
			fail_msg("case \"%s\": returned %zu, added %zu",
			    c->label, n, av->argc);
		if (strcmp(got.data, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    c->label, got.data, c->want);
		argv_free(av);
	}
	buf_fini(&got);
}

/* Appending: earlier entries of the vector stay. */
static void
test_append(void **state)
{
	struct argv *av = argv_new();

	(void)state;
	argv_add(av, "first");
	assert_int_equal(addr_list_parse(av, "a@x", 3, 10), 1);
	assert_int_equal(av->argc, 2);
	assert_string_equal(av->argv[0], "first");
	assert_string_equal(av->argv[1], "a@x");
	/* The length is honored: no read past it. */
	assert_int_equal(addr_list_parse(av, "b@yZZZ", 3, 10), 1);
	assert_string_equal(av->argv[2], "b@y");
	argv_free(av);
}

struct quote_case {
	const char *label;
	const char *in;
	const char *want;
};

static const struct quote_case quote_cases[] = {
	{"plain", "joe", "joe"},
	{"dots", "joe.smith", "joe.smith"},
	{"empty", "", "\"\""},
	{"space", "joe smith", "\"joe smith\""},
	{"trailing dot", "joe.", "\"joe.\""},
	{"at", "a@b", "\"a@b\""},
	{"quote", "a\"b", "\"a\\\"b\""},
	{"backslash", "a\\b", "\"a\\\\b\""},
	{"atext", "!#$%&'*+-/=?^_`{|}~", "!#$%&'*+-/=?^_`{|}~"},
	{"utf8", "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
};

static void
test_quote(void **state)
{
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 64);
	for (i = 0; i < NELEM(quote_cases); i++) {
		buf_reset(&out);
		addr_list_quote_local(&out, quote_cases[i].in,
		    strlen(quote_cases[i].in));
		if (strcmp(out.data, quote_cases[i].want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    quote_cases[i].label, out.data,
			    quote_cases[i].want);
	}
	buf_fini(&out);
}

/* Work stays linear on hostile input: deep nesting, many separators. */
static void
test_hostile(void **state)
{
	struct argv *av = argv_new();
	struct buf in;
	size_t i;

	(void)state;
	buf_init(&in, 1 << 20);
	for (i = 0; i < 200000; i++)
		buf_putc(&in, '(');
	buf_puts(&in, "joe@x");
	assert_int_equal(addr_list_parse(av, in.data, in.len, 100), 0);
	buf_reset(&in);
	for (i = 0; i < 100000; i++)
		buf_puts(&in, "a@b,");
	assert_int_equal(addr_list_parse(av, in.data, in.len, 1000), 1000);
	assert_int_equal(av->argc, 1000);
	buf_reset(&in);
	for (i = 0; i < 100000; i++)
		buf_puts(&in, "<@a,");
	(void)addr_list_parse(av, in.data, in.len, 1000);
	buf_fini(&in);
	argv_free(av);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
