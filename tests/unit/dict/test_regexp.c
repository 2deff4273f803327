/*
 * test_regexp.c - unit tests for regexp: tables (dict_regexp.c and the
 * shared pattern syntax in dict_pattern.c)
 *
 * Table-driven: each lookup case is a pattern file text, a key and the
 * wanted result (NULL: not found); each error case is a file text and
 * the exact message, after "table regexp:<file>: <file>, ". Files are
 * written to a temporary directory and opened through
 * dict_open_strict(), as daemons do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <regex.h>
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
open_table(const char *type, const char *text, int dict_flags,
    struct buf *why)
{
	return open_text_table(type, text, O_RDONLY, dict_flags, why);
}

static int
setup(void **state)
{
	(void)state;
	return dicttest_setup("regexp");
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
	{"empty table", "# nothing\n", "abc", NULL},
	{"result keeps inner blanks", "/a/   REJECT  go  away\n", "a",
	    "REJECT  go  away"},
	{"first match wins", "/a/ first\n/ab/ second\n", "ab", "first"},
	{"later rule when first fails", "/x/ first\n/ab/ second\n", "ab",
	    "second"},
	{"case-insensitive by default", "/^abc$/ yes\n", "AbC", "yes"},
	{"i toggles case off", "/^abc$/i yes\n", "ABC", NULL},
	{"i toggles case off, same case", "/^abc$/i yes\n", "abc", "yes"},
	{"ii toggles back", "/^abc$/ii yes\n", "ABC", "yes"},
	{"extended by default", "/^a+$/ yes\n", "aaa", "yes"},
	{"x: basic syntax, + literal", "/^a+$/x yes\n", "a+", "yes"},
	{"x: basic syntax, no repeat", "/^a+$/x yes\n", "aa", NULL},
	{"x: basic groups", "/^\\(a\\)b$/x [$1]\n", "ab", "[a]"},
	{"without m, ^ only at start", "/^b$/ yes\n", "a\nb", NULL},
	{"m: ^ and $ at newlines", "/^b$/m yes\n", "a\nb", "yes"},
	{"flags combine", "/^B$/mi yes\n", "a\nB", "yes"},
	{"flags combine, case", "/^B$/mi yes\n", "a\nb", NULL},
	{"negated, no match", "!/^a/ not-a\n", "b", "not-a"},
	{"negated, match", "!/^a/ not-a\n", "abc", NULL},
	{"two patterns, first only", "/@example\\.com$/!/^root@/ ok\n",
	    "joe@example.com", "ok"},
	{"two patterns, both", "/@example\\.com$/!/^root@/ ok\n",
	    "root@example.com", NULL},
	{"two patterns, neither", "/@example\\.com$/!/^root@/ ok\n",
	    "joe@example.org", NULL},
	{"two patterns, second flags", "/c$/!/^ROOT/i ok\n", "root@c", "ok"},
	{"two patterns, groups of the first",
	    "/^(.*)@example\\.com$/!/^root@/ user $1\n",
	    "joe@example.com", "user joe"},
	{"negated first of two", "!/^a/!/^b/ neither\n", "c", "neither"},
	{"negated first of two, b", "!/^a/!/^b/ neither\n", "b", NULL},
	{"$1", "/^(.*)@(.*)$/ $2 $1\n", "joe@example.com",
	    "example.com joe"},
	{"${1}", "/^(.*)@(.*)$/ ${2}x${1}\n", "a@b", "bxa"},
	{"$$", "/^(a)$/ cost $$5 $1$$\n", "a", "cost $5 a$"},
	{"$0 whole match", "/b+/ [$0]\n", "abbbc", "[bbb]"},
	{"$1 then a digit", "/^(a)$/ $10\n", "a", "a0"},
	{"${10}", "/^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)$/ ${10}-${9}-$1\n",
	    "abcdefghij", "j-i-a"},
	{"unset group is empty", "/^(a)|(b)$/ [$1][$2]\n", "b", "[][b]"},
	{"substitution keeps key case", "/^(.*)$/ <$1>\n", "MiXeD",
	    "<MiXeD>"},
	{"delimiter %", "%^a/b$% slash\n", "a/b", "slash"},
	{"delimiter # after !", "!#^a/b$# other\n", "a/c", "other"},
	{"delimiter # after if", "if #^a/b$#\n/./ in\nendif\n", "a/b",
	    "in"},
	{"escaped delimiter", "/^a\\/b$/ slash\n", "a/b", "slash"},
	{"escaped other delimiter", "%^a\\%b$% pct\n", "a%b", "pct"},
	{"escaped delimiter |", "|^x\\|y$| bar\n", "x|y", "bar"},
	{"escaped delimiter | is literal", "|^x\\|y$| bar\n", "x", NULL},
	{"backslash kept", "/^a\\.b$/ dot\n", "axb", NULL},
	{"empty pattern matches all", "// all\n", "anything", "all"},
	{"if, inside", "if /^a/\n/b$/ ab\nendif\n", "ab", "ab"},
	{"if, outside", "if /^a/\n/b$/ ab\nendif\n/b$/ other\n", "xb",
	    "other"},
	{"if !", "if !/^a/\n/b$/ not-a\nendif\n", "xb", "not-a"},
	{"if !, skipped", "if !/^a/\n/b$/ not-a\nendif\n", "ab", NULL},
	{"IF ENDIF any case", "IF /^a/\n/./ in\nEndIf\n/./ out\n", "b",
	    "out"},
	{"nested if, innermost",
	    "if /@example\\.com$/\nif !/^root@/\n/^(.*)@/ user $1\nendif\n"
	    "/./ example\nendif\n/./ other\n", "joe@example.com", "user joe"},
	{"nested if, inner skipped",
	    "if /@example\\.com$/\nif !/^root@/\n/^(.*)@/ user $1\nendif\n"
	    "/./ example\nendif\n/./ other\n", "root@example.com", "example"},
	{"nested if, outer skipped",
	    "if /@example\\.com$/\nif !/^root@/\n/^(.*)@/ user $1\nendif\n"
	    "/./ example\nendif\n/./ other\n", "x@example.org", "other"},
	{"if with two patterns", "if /^a/!/^ab/\n/./ a-not-ab\nendif\n",
	    "ac", "a-not-ab"},
	{"if with two patterns, second", "if /^a/!/^ab/\n/./ a-not-ab\n"
	    "endif\n", "abc", NULL},
	{"if with no rules", "if /a/\nendif\n/a/ after\n", "a", "after"},
	{"comments and continuation", "# comment\n\n/^a$/\n   yes\n"
	    "  # note\n  too\n", "a", "yes  too"},
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

		d = open_table("regexp", c->text, 0, &why);
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
	/* The message after "table regexp:<file>: <file>, ". */
	const char *want;
};

static const struct error_case errors[] = {
	{"unknown flag", "/a/ ok\n/b/q x\n", "line 2: unknown flag \"q\""},
	{"pcre flag is unknown here", "/a/s x\n", "line 1: unknown flag \"s\""},
	{"unknown flag of second pattern", "/a/!/b/z x\n",
	    "line 1: unknown flag \"z\""},
	{"missing endif", "/a/ x\nif /a/\n/b/ y\n",
	    "line 2: missing endif"},
	{"missing inner endif", "if /a/\nif /b/\n/c/ x\nendif\n",
	    "line 1: missing endif"},
	{"missing endif, two open", "if /a/\n/c/ x\nif /b/\n",
	    "line 3: missing endif"},
	{"endif without if", "/a/ x\nendif\n", "line 2: endif without if"},
	{"one endif too many", "if /a/\nendif\nendif\n",
	    "line 3: endif without if"},
	{"extra text after endif", "if /a/\nendif x\n",
	    "line 2: extra text after \"endif\""},
	{"extra text after if", "if /a/ x\nendif\n",
	    "line 1: extra text after \"if\" pattern"},
	{"if without pattern", "if\nendif\n",
	    "line 1: expected \"/pattern/flags\""},
	{"no result", "/a/ x\n\n/b/\n", "line 3: no result"},
	{"no result after blanks", "/a/i   \n", "line 1: no result"},
	{"no result after two patterns", "/a/!/b/\n", "line 1: no result"},
	{"not a pattern", "example.com OK\n",
	    "line 1: expected \"/pattern/flags\""},
	{"word starting with if", "iffy\n",
	    "line 1: expected \"/pattern/flags\""},
	{"backslash delimiter", "\\a\\ x\n",
	    "line 1: expected \"/pattern/flags\""},
	{"missing closing delimiter", "/abc x\n",
	    "line 1: missing closing delimiter \"/\""},
	{"escaped closing delimiter", "/abc\\/ x\n",
	    "line 1: missing closing delimiter \"/\""},
	{"missing closing %", "%abc\\% x\n",
	    "line 1: missing closing delimiter \"%\""},
	{"a line starting with # is a comment", "#a# x\n/b/\n",
	    "line 2: no result"},
	{"bad second pattern", "/a/!b x\n",
	    "line 1: expected \"/pattern/flags\""},
	{"second pattern negated", "/a/!!/b/ x\n",
	    "line 1: expected \"/pattern/flags\" after \"!\""},
	{"group beyond", "/(a)(b)/ $3\n",
	    "line 1: $3 but the pattern has 2 groups"},
	{"group beyond, one", "/(a)/ ${2}\n",
	    "line 1: $2 but the pattern has 1 group"},
	{"group beyond, none", "/a/ ${10}\n",
	    "line 1: $10 but the pattern has 0 groups"},
	{"$1 in negated", "!/(a)/ $1\n",
	    "line 1: $1 in the result of a negated pattern"},
	{"$x", "/a/ $x\n", "line 1: bad \"$\" in result (expected $1..$9, "
	    "${1}..${99} or $$)"},
	{"$ at end", "/a/ cost$\n", "line 1: bad \"$\" in result (expected "
	    "$1..$9, ${1}..${99} or $$)"},
	{"${100}", "/a/ ${100}\n", "line 1: bad \"$\" in result (expected "
	    "$1..$9, ${1}..${99} or $$)"},
	{"${}", "/a/ ${}\n", "line 1: bad \"$\" in result (expected "
	    "$1..$9, ${1}..${99} or $$)"},
	{"${1", "/(a)/ ${1\n", "line 1: bad \"$\" in result (expected "
	    "$1..$9, ${1}..${99} or $$)"},
	{"continuation first", "  /a/ x\n",
	    "line 1: logical line must not start with whitespace"},
	{"line numbers count comments and continuations",
	    "# c\n/a/\n  x\n\n/b/ y\n/c/q z\n", "line 6: unknown flag \"q\""},
	/* glibc's regcomp would need memory exponential in these. */
	{"stacked repetition",
	    "/x++++++++++++++++++++++++++++++++++++++++/ y\n",
	    "line 1: bad regular expression: too complex (nested or stacked "
	    "repetition)"},
	{"nested repetition",
	    "/((((((((((((((((((((x+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+/ y\n",
	    "line 1: bad regular expression: too complex (nested or stacked "
	    "repetition)"},
	{"stacked star and plus", "/x*+*+*+*+*+*+*+*+*+*+*+*+*+/ y\n",
	    "line 1: bad regular expression: too complex (nested or stacked "
	    "repetition)"},
	{"interval then star", "/a{2}*/ y\n",
	    "line 1: bad regular expression: too complex (nested or stacked "
	    "repetition)"},
	{"nested intervals", "/((a{100}){100}){100}/ y\n",
	    "line 1: bad regular expression: too complex (nested or stacked "
	    "repetition)"},
	{"basic syntax intervals", "/\\(\\(a\\{400\\}\\)\\{400\\}\\)/x y\n",
	    "line 1: bad regular expression: too complex (nested or stacked "
	    "repetition)"},
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
		d = open_table("regexp", errors[i].text, 0, &why);
		CHECK(d == NULL, errors[i].label);
		buf_reset(&want);
		buf_printf(&want, "table regexp:%s: %s, %s", table_path(),
		    table_path(), errors[i].want);
		if (strcmp(why.data, want.data) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    errors[i].label, why.data, want.data);
	}
	buf_fini(&why);
	buf_fini(&want);
}

/* The engine's own text follows "bad regular expression: ". */
static void
test_bad_regexp(void **state)
{
	static const char *bad[] = {"a(", "a[", "*a{1", "a{2,1}"};
	struct buf why, want;
	struct dict *d;
	regex_t re;
	char text[256];
	size_t i;
	int err;

	(void)state;
	buf_init(&why, 64);
	buf_init(&want, 64);
	for (i = 0; i < NELEM(bad); i++) {
		struct buf file;

		err = regcomp(&re, bad[i], REG_EXTENDED | REG_ICASE);
		assert_int_not_equal(err, 0);
		regerror(err, &re, text, sizeof(text));
		buf_init(&file, 64);
		buf_printf(&file, "/ok/ x\n/%s/ x\n", bad[i]);
		d = open_table("regexp", file.data, 0, &why);
		buf_fini(&file);
		CHECK(d == NULL, bad[i]);
		buf_reset(&want);
		buf_printf(&want, "table regexp:%s: %s, line 2: bad regular "
		    "expression: %s", table_path(), table_path(), text);
		if (strcmp(why.data, want.data) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"", bad[i],
			    why.data, want.data);
	}
	buf_fini(&why);
	buf_fini(&want);
}

/* dict_open() turns a bad table into a surrogate: never a partial one. */
static void
test_surrogate(void **state)
{
	struct buf name, value, why;
	struct dict *d;
	char *out;

	(void)state;
	buf_init(&name, 64);
	buf_init(&value, 64);
	buf_init(&why, 64);
	write_table("/a/ good\n/b/q bad\n");
	buf_printf(&name, "regexp:%s", table_path());
	capture_start();
	d = dict_open(name.data, O_RDONLY, DICT_FLAG_NO_CACHE);
	assert_int_equal(dict_lookup(d, "a", &value), DICT_TEMPFAIL);
	out = capture_end();
	assert_true(dict_is_surrogate(d));
	buf_printf(&why, "table regexp:%s: %s, line 2: unknown flag \"q\"",
	    table_path(), table_path());
	assert_string_equal(dict_error(d), why.data);
	assert_non_null(strstr(out, why.data));
	free(out);
	dict_close(d);

	/* A missing file. */
	buf_reset(&why);
	buf_printf(&why, "table regexp:%s/missing: open %s/missing: No such "
	    "file or directory", dicttest_dir, dicttest_dir);
	buf_reset(&name);
	buf_printf(&name, "regexp:%s/missing", dicttest_dir);
	assert_null(dict_open_strict(name.data, O_RDONLY, DICT_FLAG_NO_CACHE,
	    &value));
	assert_string_equal(value.data, why.data);

	/* Read-only. */
	write_table("/a/ b\n");
	buf_reset(&name);
	buf_printf(&name, "regexp:%s", table_path());
	assert_null(dict_open_strict(name.data, O_RDWR | O_CREAT,
	    DICT_FLAG_NO_CACHE, &value));
	assert_non_null(strstr(value.data, "read-only"));
	buf_fini(&name);
	buf_fini(&value);
	buf_fini(&why);
}

/* The caller's DICT_FLAG_FOLD does not override the pattern flags. */
static void
test_no_fold(void **state)
{
	struct buf why, value;
	struct dict *d;

	(void)state;
	buf_init(&why, 64);
	buf_init(&value, 64);
	d = open_table("regexp", "/^Abc$/i exact\n/^(.*)$/ [$1]\n",
	    DICT_FLAG_FOLD, &why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, "Abc", &value), DICT_FOUND);
	assert_string_equal(value.data, "exact");
	assert_int_equal(dict_lookup(d, "ABC", &value), DICT_FOUND);
	assert_string_equal(value.data, "[ABC]");
	dict_close(d);
	buf_fini(&why);
	buf_fini(&value);
}

/* The file is watched: replacing it is noticed. */
static void
test_watch(void **state)
{
	struct buf why;
	struct dict *d;
	FILE *fp;
	char *out;

	(void)state;
	buf_init(&why, 64);
	d = open_table("regexp", "/a/ b\n", 0, &why);
	assert_non_null(d);
	assert_false(dict_changed());
	fp = fopen(table_path(), "a");
	assert_non_null(fp);
	assert_true(fputs("/c/ d\n", fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	capture_start();
	assert_true(dict_changed());
	out = capture_end();
	assert_non_null(strstr(out, "has changed"));
	free(out);
	dict_close(d);
	assert_false(dict_changed());
	buf_fini(&why);
}

/* The same text from memory, for callers without a file (fuzzing). */
static void
test_open_text(void **state)
{
	static const char text[] = "/^(.*)@x$/ <$1>\n/b/q y\n";
	size_t first = (size_t)(strchr(text, '\n') + 1 - text);
	struct buf why, value;
	struct dict *d;

	(void)state;
	buf_init(&why, 64);
	buf_init(&value, 64);
	d = dict_pattern_open_text(&dict_regexp_ops, &dict_regexp_engine,
	    "mem", text, first, 0, &why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, "joe@x", &value), DICT_FOUND);
	assert_string_equal(value.data, "<joe>");
	dict_close(d);
	assert_null(dict_pattern_open_text(&dict_regexp_ops,
	    &dict_regexp_engine, "mem", text, sizeof(text) - 1, 0, &why));
	assert_string_equal(why.data, "mem, line 2: unknown flag \"q\"");
	buf_fini(&why);
	buf_fini(&value);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bad_regexp),
		cmocka_unit_test(test_surrogate),
		cmocka_unit_test(test_no_fold),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_open_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
