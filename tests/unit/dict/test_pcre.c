/*
 * test_pcre.c - unit tests for pcre: tables (dict_pcre.c on the shared
 * pattern syntax of dict_pattern.c)
 *
 * Table-driven: each lookup case is a pattern file text, a key and the
 * wanted result (NULL: not found); each error case is a file text and
 * the exact message, after "table pcre:<file>: <file>, ". Files are
 * written to a temporary directory. The match limit is tested with a
 * pattern that backtracks exponentially and a small limit, so the test
 * stays fast.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define PCRE2_CODE_UNIT_WIDTH	8

#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dicttest.h"
#include "dict_pattern.h"
#include "dict_types.h"
#include "mem.h"

static struct dict *
open_table(const char *text, int dict_flags, struct buf *why)
{
	return open_text_table("pcre", text, O_RDONLY, dict_flags, why);
}

static int
setup(void **state)
{
	(void)state;
	return dicttest_setup("pcre");
}

static int
teardown(void **state)
{
	(void)state;
	return dicttest_teardown();
}

struct lookup_case {
	const char *label;
	const char *text;
	const char *key;
	const char *want;		/* NULL: not found */
};

static const struct lookup_case lookups[] = {
	{"simple match", "/^abc$/ yes\n", "abc", "yes"},
	{"no match", "/^abc$/ yes\n", "abd", NULL},
	{"first match wins", "/a/ first\n/ab/ second\n", "ab", "first"},
	{"later rule", "/x/ first\n/ab/ second\n", "ab", "second"},
	{"case-insensitive by default", "/^abc$/ yes\n", "ABC", "yes"},
	{"i toggles case off", "/^abc$/i yes\n", "ABC", NULL},
	{"i toggles case off, same case", "/^abc$/i yes\n", "abc", "yes"},
	{"(?-i) inside the pattern", "/^(?-i)abc$/ yes\n", "ABC", NULL},
	{"without m", "/^b$/ yes\n", "a\nb", NULL},
	{"m", "/^b$/m yes\n", "a\nb", "yes"},
	{"without s", "/a.b/ yes\n", "a\nb", NULL},
	{"s", "/a.b/s yes\n", "a\nb", "yes"},
	{"without x", "/^a b$/ yes\n", "ab", NULL},
	{"x", "/^a b # comment$/x yes\n", "ab", "yes"},
	{"without A", "/b/ yes\n", "ab", "yes"},
	{"A", "/b/A yes\n", "ab", NULL},
	{"A at start", "/b/A yes\n", "ba", "yes"},
	{"without E, $ before final newline", "/a$/ yes\n", "a\n", "yes"},
	{"E", "/a$/E yes\n", "a\n", NULL},
	{"without U", "/(a+)/ <$1>\n", "aaa", "<aaa>"},
	{"U", "/(a+)/U <$1>\n", "aaa", "<a>"},
	{"X is accepted", "/^a$/X yes\n", "A", "yes"},
	{"all flags", "/^B.$/imsxAEUX yes\n", "B\n", "yes"},
	{"negated, no match", "!/^a/ not-a\n", "b", "not-a"},
	{"negated, match", "!/^a/ not-a\n", "abc", NULL},
	{"$1 $2", "/^(.*)@(.*)$/ $2 $1\n", "joe@example.com",
	    "example.com joe"},
	{"${n}", "/^(.*)@(.*)$/ ${2}x${1}\n", "a@b", "bxa"},
	{"$$", "/^(a)$/ cost $$5 $1$$\n", "a", "cost $5 a$"},
	{"$0", "/b+/ [$0]\n", "abbbc", "[bbb]"},
	{"${10}", "/^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)$/ ${11}${10}-$1\n",
	    "abcdefghijk", "kj-a"},
	{"unset group", "/^(a)|(b)$/ [$1][$2]\n", "b", "[][b]"},
	{"group after unset", "/^(x)?(b)$/ [$1][$2]\n", "b", "[][b]"},
	{"non-capturing groups", "/^(?:a)(b)$/ $1\n", "ab", "b"},
	{"result keeps key case", "/^(.*)$/ <$1>\n", "MiXeD", "<MiXeD>"},
	{"delimiter %", "%^a/b$% slash\n", "a/b", "slash"},
	{"escaped delimiter", "/^a\\/b$/ slash\n", "a/b", "slash"},
	{"escaped % with x", "%^a\\%b$%x pct\n", "a%b", "pct"},
	{"if", "if /^a/\n/b$/ ab\nendif\n/./ other\n", "ab", "ab"},
	{"if, skipped", "if /^a/\n/b$/ ab\nendif\n/./ other\n", "xb",
	    "other"},
	{"if !", "if !/^a/\n/b$/ not-a\nendif\n", "xb", "not-a"},
	{"nested if",
	    "if /@example\\.com$/\nif !/^root@/\n/^(.*)@/ user $1\nendif\n"
	    "/./ example\nendif\n/./ other\n", "root@example.com", "example"},
	{"nested if, innermost",
	    "if /@example\\.com$/\nif !/^root@/\n/^(.*)@/ user $1\nendif\n"
	    "/./ example\nendif\n/./ other\n", "joe@example.com", "user joe"},
	{"bytes, not UTF-8", "/^\\xe4$/ latin1\n", "\xe4", "latin1"},
	{"dot is one byte", "/^..$/ two\n", "\xc3\xa4", "two"},
	{"(*UTF) pattern, valid key", "/(*UTF)^...$/ three\n",
	    "\xc3\xa4" "bc", "three"},
	{"(*UTF) pattern, invalid key", "/(*UTF)b/ b\n", "\xff" "b", "b"},
	{"(*UTF) pattern, invalid key, no match", "/(*UTF)^.b$/ b\n",
	    "\xff\xfe" "b", NULL},
};

static void
test_lookup(void **state)
{
	struct buf why, value;
	struct dict *d;
	enum dict_result rc;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	buf_init(&value, 64);
	for (i = 0; i < NELEM(lookups); i++) {
		const struct lookup_case *c = &lookups[i];

		d = open_table(c->text, 0, &why);
		if (d == NULL)
			fail_msg("case \"%s\": open: %s", c->label, why.data);
		rc = dict_lookup(d, c->key, &value);
		if (c->want == NULL) {
			if (rc != DICT_NOTFOUND)
				fail_msg("case \"%s\": got %d \"%s\"", c->label,
				    rc, value.data);
		} else {
			if (rc != DICT_FOUND || strcmp(value.data, c->want))
				fail_msg("case \"%s\": got %d \"%s\", want "
				    "\"%s\"", c->label, rc, value.data,
				    c->want);
		}
		dict_close(d);
	}
	buf_fini(&why);
	buf_fini(&value);
}

struct error_case {
	const char *label;
	const char *text;
	/* The message after "table pcre:<file>: <file>, ". */
	const char *want;
};

static const struct error_case errors[] = {
	{"unknown flag", "/a/ ok\n/b/q x\n", "line 2: unknown flag \"q\""},
	{"regexp-only two patterns", "/a/!/b/ x\n",
	    "line 1: unknown flag \"!\""},
	{"missing endif", "if /a/\n/b/ y\n", "line 1: missing endif"},
	{"endif without if", "/a/ x\nendif\n", "line 2: endif without if"},
	{"no result", "/a/ x\n/b/\n", "line 2: no result"},
	{"group beyond", "/(a)(b)/ $3\n",
	    "line 1: $3 but the pattern has 2 groups"},
	{"non-capturing groups do not count", "/(?:a)(b)/ $2\n",
	    "line 1: $2 but the pattern has 1 group"},
	{"$1 in negated", "!/(a)/ $1\n",
	    "line 1: $1 in the result of a negated pattern"},
	{"bad $", "/a/ $a\n", "line 1: bad \"$\" in result (expected "
	    "$1..$9, ${1}..${99} or $$)"},
	{"missing delimiter", "/a x\n",
	    "line 1: missing closing delimiter \"/\""},
	{"not a pattern", "a x\n", "line 1: expected \"/pattern/flags\""},
};

static void
test_errors(void **state)
{
	struct buf why, want;
	struct dict *d;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	buf_init(&want, 64);
	for (i = 0; i < NELEM(errors); i++) {
		d = open_table(errors[i].text, 0, &why);
		CHECK(d == NULL, errors[i].label);
		buf_reset(&want);
		buf_printf(&want, "table pcre:%s: %s, %s", table_path(),
		    table_path(), errors[i].want);
		if (strcmp(why.data, want.data) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    errors[i].label, why.data, want.data);
	}
	buf_fini(&why);
	buf_fini(&want);
}

/* PCRE2's own text follows "bad regular expression: ". */
static void
test_bad_regexp(void **state)
{
	static const char *bad[] = {"a(", "a[", "*a", "a{2,1}",
	    "(?<n>a)(?<n>b)", "\\k"};
	struct buf why, want, file;
	PCRE2_UCHAR text[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	struct dict *d;
	size_t i;
	int err;

	(void)state;
	buf_init(&why, 64);
	buf_init(&want, 64);
	buf_init(&file, 64);
	for (i = 0; i < NELEM(bad); i++) {
		code = pcre2_compile((PCRE2_SPTR)bad[i], PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS, &err, &off, NULL);
		assert_null(code);
		assert_true(pcre2_get_error_message(err, text,
		    sizeof(text)) > 0);
		buf_reset(&file);
		buf_printf(&file, "/ok/ x\n%%%s%% x\n", bad[i]);
		d = open_table(file.data, 0, &why);
		CHECK(d == NULL, bad[i]);
		buf_reset(&want);
		buf_printf(&want, "table pcre:%s: %s, line 2: bad regular "
		    "expression: %s", table_path(), table_path(), (char *)text);
		if (strcmp(why.data, want.data) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"", bad[i],
			    why.data, want.data);
	}
	buf_fini(&why);
	buf_fini(&want);
	buf_fini(&file);
}

/*
 * A pattern that backtracks exponentially fails the lookup with a
 * warning once the limit is reached: DICT_TEMPFAIL, never "not found",
 * also when the pattern is negated or guards an if.
 */
static void
test_match_limit(void **state)
{
	static const struct {
		const char *label, *text;
	} cases[] = {
		{"plain", "/^x/ x\n/(a+)+$/ bad\n/./ any\n"},
		{"negated", "/^x/ x\n!/(a+)+$/ bad\n/./ any\n"},
		{"if", "/^x/ x\nif /(a+)+$/\n/./ in\nendif\n/./ any\n"},
	};
	struct buf why, value, want;
	char key[64];
	struct dict *d;
	size_t i;
	char *out;

	(void)state;
	buf_init(&why, 64);
	buf_init(&value, 64);
	buf_init(&want, 64);
	memset(key, 'a', 30);
	key[30] = 'b';
	key[31] = '\0';
	dict_pattern_set_match_limit(1000);
	for (i = 0; i < NELEM(cases); i++) {
		d = open_table(cases[i].text, 0, &why);
		assert_non_null(d);
		capture_start();
		if (dict_lookup(d, key, &value) != DICT_TEMPFAIL)
			fail_msg("case \"%s\": no temporary failure",
			    cases[i].label);
		out = capture_end();
		buf_reset(&want);
		buf_printf(&want, "table pcre:%s, line 2: pattern match limit "
		    "of 1000 exceeded", table_path());
		if (strcmp(dict_error(d), want.data) != 0)
			fail_msg("case \"%s\": got \"%s\"", cases[i].label,
			    dict_error(d));
		if (strstr(out, "warning: ") == NULL
		    || strstr(out, want.data) == NULL)
			fail_msg("case \"%s\": logged \"%s\"", cases[i].label,
			    out);
		free(out);
		/* Keys that stop early are unaffected. */
		CHECK(dict_lookup(d, "xyz", &value) == DICT_FOUND,
		    cases[i].label);
		CHECK(strcmp(value.data, "x") == 0, cases[i].label);
		dict_close(d);
	}

	/* The default limit stops it too, in milliseconds. */
	dict_pattern_set_match_limit(0);
	memset(key, 'a', 40);
	key[40] = 'b';
	key[41] = '\0';
	d = open_table("/(a+)+$/ bad\n", 0, &why);
	assert_non_null(d);
	capture_start();
	assert_int_equal(dict_lookup(d, key, &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_non_null(strstr(dict_error(d), "match limit of 1000000 "
	    "exceeded"));
	/* A short key completes within the limit. */
	assert_int_equal(dict_lookup(d, "aaab", &value), DICT_NOTFOUND);
	assert_int_equal(dict_lookup(d, "aaa", &value), DICT_FOUND);
	dict_close(d);
	buf_fini(&why);
	buf_fini(&value);
	buf_fini(&want);
}

/*
 * A match that needs more JIT stack than PCRE2's default gives is run
 * again by the interpreter: the answer must not depend on JIT.
 */
static void
test_jit_stack(void **state)
{
	struct buf why, value;
	struct dict *d;
	char *key;

	(void)state;
	buf_init(&why, 64);
	buf_init(&value, 64);
	key = xmalloc(DICT_MAX_KEY + 1);
	memset(key, 'a', DICT_MAX_KEY);
	key[DICT_MAX_KEY - 1] = 'b';
	key[DICT_MAX_KEY] = '\0';
	d = open_table("/^(a|b)*$/ last=$1\n", 0, &why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, key, &value), DICT_FOUND);
	assert_string_equal(value.data, "last=b");
	dict_close(d);
	free(key);
	buf_fini(&why);
	buf_fini(&value);
}

/* Bad tables become surrogates; DICT_FLAG_FOLD is ignored. */
static void
test_open(void **state)
{
	struct buf name, value, why;
	struct dict *d;
	char *out;

	(void)state;
	buf_init(&name, 64);
	buf_init(&value, 64);
	buf_init(&why, 64);
	write_table("/a/ good\n/(/ bad\n");
	buf_printf(&name, "pcre:%s", table_path());
	capture_start();
	d = dict_open(name.data, O_RDONLY, DICT_FLAG_NO_CACHE);
	out = capture_end();
	assert_true(dict_is_surrogate(d));
	assert_int_equal(dict_lookup(d, "a", &value), DICT_TEMPFAIL);
	assert_non_null(strstr(dict_error(d), "line 2: bad regular "
	    "expression: "));
	assert_non_null(strstr(out, "line 2: bad regular expression: "));
	free(out);
	dict_close(d);

	buf_reset(&name);
	buf_printf(&name, "pcre:%s/missing", dicttest_dir);
	assert_null(dict_open_strict(name.data, O_RDONLY, DICT_FLAG_NO_CACHE,
	    &why));
	buf_reset(&value);
	buf_printf(&value, "table pcre:%s/missing: open %s/missing: No such "
	    "file or directory", dicttest_dir, dicttest_dir);
	assert_string_equal(why.data, value.data);

	d = open_table("/^Abc$/i exact\n/^(.*)$/ [$1]\n", DICT_FLAG_FOLD,
	    &why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, "Abc", &value), DICT_FOUND);
	assert_string_equal(value.data, "exact");
	assert_int_equal(dict_lookup(d, "ABC", &value), DICT_FOUND);
	assert_string_equal(value.data, "[ABC]");
	assert_false(dict_changed());
	dict_close(d);
	buf_fini(&name);
	buf_fini(&value);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bad_regexp),
		cmocka_unit_test(test_match_limit),
		cmocka_unit_test(test_jit_stack),
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
