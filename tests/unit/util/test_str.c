/*
 * test_str.c - unit tests for str.c
 *
 * Table-driven: each case has a label that is printed on failure.
 * Conversions are checked at and just beyond the type limits.
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

#include "buf.h"
#include "mem.h"
#include "str.h"

static void
test_trim(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} cases[] = {
		{"empty", "", ""},
		{"spaces only", " \t\r\n ", ""},
		{"nothing to trim", "abc", "abc"},
		{"leading", "  abc", "abc"},
		{"trailing", "abc \r\n", "abc"},
		{"both", "\t a b \t", "a b"},
		{"inner kept", "a  \t b", "a  \t b"},
		{"vt ff", "\v\fx\f\v", "x"},
		{"high bytes kept", "\xa0x\xa0", "\xa0x\xa0"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		char *copy = xstrdup(cases[i].in);
		char *res = str_trim(copy);

		CHECK(res == copy, cases[i].label);
		CHECK(strcmp(res, cases[i].want) == 0, cases[i].label);
		free(copy);
	}
}

static void
test_lower_case_eq(void **state)
{
	static const struct {
		const char *label, *a, *b;
		bool eq;
	} cases[] = {
		{"same", "abc", "abc", true},
		{"case differs", "Postmaster", "POSTMASTER", true},
		{"prefix only", "abc", "abcd", false},
		{"prefix other way", "abcd", "abc", false},
		{"empty", "", "", true},
		{"empty vs one", "", "a", false},
		{"not letters", "[", "{", false},
		{"at vs backquote", "@", "`", false},
		{"high bytes exact", "\xc4", "\xe4", false},
	};
	char word[] = "MiXeD-Case_09\xc4";
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK(str_case_eq(cases[i].a, cases[i].b) == cases[i].eq,
		    cases[i].label);
	assert_ptr_equal(str_lower(word), word);
	assert_string_equal(word, "mixed-case_09\xc4");
}

static void
test_has_prefix(void **state)
{
	static const struct {
		const char *label, *str, *prefix;
		bool want;
	} cases[] = {
		{"yes", "smtpd_banner", "smtpd_", true},
		{"no", "smtp_banner", "smtpd_", false},
		{"empty prefix", "x", "", true},
		{"prefix longer", "ab", "abc", false},
		{"equal", "abc", "abc", true},
		{"case sensitive", "ABC", "abc", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK(str_has_prefix(cases[i].str, cases[i].prefix)
		    == cases[i].want, cases[i].label);
}

static void
test_token_braced(void **state)
{
	static const struct {
		const char *in;
		const char *want;	/* elements joined with '|' */
	} cases[] = {
		{"", ""},
		{" ,\t", ""},
		{"a", "a"},
		{"a, b\tc", "a|b|c"},
		{"inline:{a=b, c=d}, hash:/x", "inline:{a=b, c=d}|hash:/x"},
		{"x:{{a, b}, c} y", "x:{{a, b}, c}|y"},
		{"bad:}a, b", "bad:}a|b"},
		{"open:{a, b", "open:{a, b"},
	};
	struct buf tok, got;
	const char *cp;
	size_t i;

	(void)state;
	buf_init(&tok, 16);
	buf_init(&got, 64);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&got);
		cp = cases[i].in;
		while ((cp = str_token_braced(cp, ", \t", &tok)) != NULL)
			buf_printf(&got, "%s%s", got.len ? "|" : "", tok.data);
		if (strcmp(got.data, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    cases[i].in, got.data, cases[i].want);
	}
	buf_fini(&tok);
	buf_fini(&got);
}

static void
test_token(void **state)
{
	static const struct {
		const char *label, *in, *seps;
		const char *want[6];	/* NULL-terminated */
	} cases[] = {
		{"simple", "a b c", " ", {"a", "b", "c", NULL}},
		{"runs of separators", ",, a ,\tb,,", ", \t", {"a", "b", NULL}},
		{"empty", "", " ", {NULL}},
		{"separators only", " , ", ", ", {NULL}},
		{"no separator", "abc", ",", {"abc", NULL}},
		{"trailing sep", "x,", ",", {"x", NULL}},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		char *copy = xstrdup(cases[i].in);
		char *cursor = copy, *tok;

		for (j = 0; cases[i].want[j]; j++) {
			tok = str_token(&cursor, cases[i].seps);
			CHECK(tok != NULL, cases[i].label);
			CHECK(strcmp(tok, cases[i].want[j]) == 0,
			    cases[i].label);
		}
		CHECK(str_token(&cursor, cases[i].seps) == NULL,
		    cases[i].label);
		/* Stays exhausted. */
		CHECK(str_token(&cursor, cases[i].seps) == NULL,
		    cases[i].label);
		free(copy);
	}
}

static void
test_to_long(void **state)
{
	char max[32], min[32], over[32], under[32];
	struct {
		const char *label, *in;
		int ret;
		long want;
	} cases[] = {
		{"zero", "0", 0, 0},
		{"negative zero", "-0", 0, 0},
		{"plain", "12345", 0, 12345},
		{"negative", "-42", 0, -42},
		{"leading zeros", "007", 0, 7},
		{"max", max, 0, LONG_MAX},
		{"min", min, 0, LONG_MIN},
		{"max + 1", over, -1, 0},
		{"min - 1", under, -1, 0},
		{"huge", "99999999999999999999999999", -1, 0},
		{"empty", "", -1, 0},
		{"minus only", "-", -1, 0},
		{"plus sign", "+1", -1, 0},
		{"leading space", " 1", -1, 0},
		{"trailing space", "1 ", -1, 0},
		{"trailing junk", "12abc", -1, 0},
		{"hex", "0x10", -1, 0},
		{"double minus", "--1", -1, 0},
	};
	size_t i;

	(void)state;
	snprintf(max, sizeof(max), "%ld", LONG_MAX);
	snprintf(min, sizeof(min), "%ld", LONG_MIN);
	snprintf(over, sizeof(over), "%lu", (unsigned long)LONG_MAX + 1);
	snprintf(under, sizeof(under), "-%lu", (unsigned long)LONG_MAX + 2);
	for (i = 0; i < NELEM(cases); i++) {
		long out = 777;

		CHECK(str_to_long(cases[i].in, &out) == cases[i].ret,
		    cases[i].label);
		if (cases[i].ret == 0)
			CHECK(out == cases[i].want, cases[i].label);
		else
			CHECK(out == 777, cases[i].label);
	}
}

static void
test_to_int(void **state)
{
	char max[32], min[32], over[32], under[32];
	struct {
		const char *label, *in;
		int ret;
		int want;
	} cases[] = {
		{"plain", "2048", 0, 2048},
		{"negative", "-1", 0, -1},
		{"max", max, 0, INT_MAX},
		{"min", min, 0, INT_MIN},
		{"max + 1", over, -1, 0},
		{"min - 1", under, -1, 0},
		{"junk", "1k", -1, 0},
		{"empty", "", -1, 0},
	};
	size_t i;

	(void)state;
	snprintf(max, sizeof(max), "%d", INT_MAX);
	snprintf(min, sizeof(min), "%d", INT_MIN);
	snprintf(over, sizeof(over), "%ld", (long)INT_MAX + 1);
	snprintf(under, sizeof(under), "%ld", (long)INT_MIN - 1);
	for (i = 0; i < NELEM(cases); i++) {
		int out = 777;

		CHECK(str_to_int(cases[i].in, &out) == cases[i].ret,
		    cases[i].label);
		CHECK(out == (cases[i].ret == 0 ? cases[i].want : 777),
		    cases[i].label);
	}
}

static void
test_to_ulong(void **state)
{
	char max[32], over[32];
	struct {
		const char *label, *in;
		int ret;
		unsigned long want;
	} cases[] = {
		{"plain", "10240000", 0, 10240000UL},
		{"zero", "0", 0, 0},
		{"max", max, 0, ULONG_MAX},
		{"max + 1", over, -1, 0},
		{"negative", "-1", -1, 0},
		{"negative zero", "-0", -1, 0},
		{"empty", "", -1, 0},
		{"space", " 5", -1, 0},
		{"junk", "5x", -1, 0},
	};
	size_t i;

	(void)state;
	snprintf(max, sizeof(max), "%lu", ULONG_MAX);
	/* ULONG_MAX ends in 5 on LP64 and ILP32; bump the last digit. */
	snprintf(over, sizeof(over), "%lu", ULONG_MAX);
	over[strlen(over) - 1]++;
	for (i = 0; i < NELEM(cases); i++) {
		unsigned long out = 777;

		CHECK(str_to_ulong(cases[i].in, &out) == cases[i].ret,
		    cases[i].label);
		CHECK(out == (cases[i].ret == 0 ? cases[i].want : 777),
		    cases[i].label);
	}
}

static void
test_printable(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len;
		const char *want;
		bool printable;
	} cases[] = {
		{"plain", "hello world", 11, "hello world", true},
		{"crlf", "a\r\nb", 4, "a??b", false},
		{"tab", "a\tb", 3, "a?b", false},
		{"nul inside", "a\0b", 3, "a?b", false},
		{"del", "a\x7f", 2, "a?", false},
		{"high bytes", "\xc3\xa9", 2, "??", false},
		{"edges", " ~", 2, " ~", true},
		{"empty", "", 0, "", true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct buf *out = buf_new(0);

		buf_puts(out, "pre:");
		str_printable(out, cases[i].in, cases[i].len);
		CHECK(out->len == 4 + cases[i].len, cases[i].label);
		CHECK(strcmp(buf_str(out) + 4, cases[i].want) == 0,
		    cases[i].label);
		/* is_printable sees the C string, i.e. up to a NUL. */
		if (memchr(cases[i].in, 0, cases[i].len) == NULL)
			CHECK(str_is_printable(cases[i].in)
			    == cases[i].printable, cases[i].label);
		buf_free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_lower_case_eq),
		cmocka_unit_test(test_has_prefix),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_braced),
		cmocka_unit_test(test_to_long),
		cmocka_unit_test(test_to_int),
		cmocka_unit_test(test_to_ulong),
		cmocka_unit_test(test_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
