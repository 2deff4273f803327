/*
 * test_dict_dl.c - unit tests for dict_dl.c
 *
 * A library that loads with every symbol (libm's cos and sqrt), one that
 * does not exist and one that lacks a symbol: the error names the
 * library (and the symbol), and a failure is remembered rather than
 * tried again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dict_dl.h"

static double (*p_cos)(double);
static double (*p_sqrt)(double);
static void *p_missing;

static void
test_load(void **state)
{
	static const struct dict_dl_sym syms[] = {
		{"cos", (void **)&p_cos},
		{"sqrt", (void **)&p_sqrt},
	};
	struct dict_dl dl = DICT_DL_INIT("libm.so.6", syms);
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	assert_int_equal(dict_dl_load(&dl, &why), 0);
	assert_non_null(p_cos);
	assert_true(p_sqrt(16.0) == 4.0);
	assert_true(p_cos(0.0) == 1.0);
	/* Loaded once; the second call finds it done. */
	assert_int_equal(dict_dl_load(&dl, &why), 0);
	assert_int_equal(dl.state, 1);
	buf_fini(&why);
}

static void
test_errors(void **state)
{
	static const struct dict_dl_sym syms[] = {
		{"cos", (void **)&p_cos},
	};
	static const struct dict_dl_sym bad_syms[] = {
		{"cos", (void **)&p_cos},
		{"no_such_symbol_here", &p_missing},
	};
	struct dict_dl missing = DICT_DL_INIT("libpetrel-missing.so.9", syms);
	struct dict_dl nosym = DICT_DL_INIT("libm.so.6", bad_syms);
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	assert_int_equal(dict_dl_load(&missing, &why), -1);
	assert_non_null(strstr(why.data,
	    "cannot load libpetrel-missing.so.9: "));
	/* Remembered: the same answer without another dlopen(). */
	buf_set(&why, "");
	assert_int_equal(dict_dl_load(&missing, &why), -1);
	assert_non_null(strstr(why.data, "cannot load libpetrel-missing"));

	assert_int_equal(dict_dl_load(&nosym, &why), -1);
	assert_string_equal(why.data,
	    "libm.so.6: no symbol no_such_symbol_here");
	assert_null(p_missing);
	buf_fini(&why);
	free(missing.error);
	free(nosym.error);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
