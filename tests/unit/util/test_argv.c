/*
 * test_argv.c - unit tests for argv.c
 *
 * Checks splitting (table-driven), growth past the initial capacity,
 * the argv[argc] == NULL invariant after every change, ownership of
 * copies, dup and truncate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"

static void
test_split(void **state)
{
	static const struct {
		const char *label, *in, *seps;
		const char *want[8];	/* NULL-terminated */
	} cases[] = {
		{"empty", "", " ", {NULL}},
		{"separators only", " \t ,", " \t,", {NULL}},
		{"one", "smtpd", " ", {"smtpd", NULL}},
		{"master.cf args", "-o smtpd_tls=yes  -v", " \t",
		    {"-o", "smtpd_tls=yes", "-v", NULL}},
		{"comma and space", "a, b,,c ,d", ", ",
		    {"a", "b", "c", "d", NULL}},
		{"leading/trailing", ",,x,,", ",", {"x", NULL}},
		{"no separators given", "a b", "", {"a b", NULL}},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct argv *av = argv_split(cases[i].in, cases[i].seps);

		for (j = 0; cases[i].want[j]; j++) {
			CHECK(j < av->argc, cases[i].label);
			CHECK(strcmp(av->argv[j], cases[i].want[j]) == 0,
			    cases[i].label);
		}
		CHECK(av->argc == j, cases[i].label);
		CHECK(av->argv[av->argc] == NULL, cases[i].label);
		argv_free(av);
	}
}

static void
test_add_grow(void **state)
{
	struct argv *av = argv_new();
	char word[32];
	size_t i;

	(void)state;
	assert_int_equal(av->argc, 0);
	assert_null(av->argv[0]);
	for (i = 0; i < 1000; i++) {
		snprintf(word, sizeof(word), "w%zu", i);
		argv_add(av, word);
		/* The vector copies: our buffer changes right away. */
		word[0] = 'X';
		assert_int_equal(av->argc, i + 1);
		assert_null(av->argv[av->argc]);
		assert_true(av->cap > av->argc);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(word, sizeof(word), "w%zu", i);
		assert_string_equal(av->argv[i], word);
	}
	argv_free(av);
}

static void
test_addn(void **state)
{
	static const struct {
		const char *label, *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"prefix", "hello world", 5, "hello"},
		{"zero", "abc", 0, ""},
		{"whole", "abc", 3, "abc"},
		{"len past NUL", "ab", 10, "ab"},
	};
	struct argv *av = argv_new();
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		argv_addn(av, cases[i].in, cases[i].len);
		CHECK(strcmp(av->argv[i], cases[i].want) == 0, cases[i].label);
		CHECK(av->argv[i + 1] == NULL, cases[i].label);
	}
	argv_free(av);
}

static void
test_dup_truncate(void **state)
{
	struct argv *av = argv_split("a b c d e", " ");
	struct argv *copy = argv_dup(av);

	(void)state;
	assert_int_equal(copy->argc, 5);
	/* Deep copy: different strings with the same content. */
	assert_ptr_not_equal(copy->argv[0], av->argv[0]);
	av->argv[0][0] = 'Z';
	assert_string_equal(copy->argv[0], "a");

	argv_truncate(copy, 2);
	assert_int_equal(copy->argc, 2);
	assert_null(copy->argv[2]);
	assert_string_equal(copy->argv[1], "b");
	/* Truncating to a larger size changes nothing. */
	argv_truncate(copy, 10);
	assert_int_equal(copy->argc, 2);
	/* And it can grow again. */
	argv_add(copy, "x");
	assert_string_equal(copy->argv[2], "x");
	assert_null(copy->argv[3]);
	argv_truncate(copy, 0);
	assert_int_equal(copy->argc, 0);
	assert_null(copy->argv[0]);

	argv_free(copy);
	argv_free(av);
	argv_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_add_grow),
		cmocka_unit_test(test_addn),
		cmocka_unit_test(test_dup_truncate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
