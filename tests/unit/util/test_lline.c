/*
 * test_lline.c - unit tests for lline.c
 *
 * Table-driven: each case is a source text and the logical lines (with
 * the line they began on) or the error it must produce. Every case runs
 * twice, through lline_open_text() and through lline_open() on a stdio
 * stream, so both readers agree. Separate tests cover the length limit
 * (physical and logical), sticky errors and texts that are not
 * NUL-terminated.
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

#include "buf.h"
#include "lline.h"

struct want_line {
	int lineno;
	const char *text;
};

struct lline_case {
	const char *label;
	const char *in;
	size_t in_len;
	struct want_line want[8];	/* ends with lineno 0 */
	const char *error;		/* NULL: no error after the lines */
};

#define IN(s)	(s), sizeof(s) - 1

static const struct lline_case cases[] = {
	{"empty", IN(""), {{0, NULL}}, NULL},
	{"one line", IN("a b\n"), {{1, "a b"}, {0, NULL}}, NULL},
	{"no final newline", IN("a b\nc d"),
	    {{1, "a b"}, {2, "c d"}, {0, NULL}}, NULL},
	{"comments and blank lines", IN("# comment\n\n  \t\n   # indented\n"
	    "key value\n#\n\nkey2 value2\n"),
	    {{5, "key value"}, {8, "key2 value2"}, {0, NULL}}, NULL},
	{"only comments", IN("#a\n  #b\n\n"), {{0, NULL}}, NULL},
	{"continuation", IN("key value\n  more\n\tand more\nnext x\n"),
	    {{1, "key value  more\tand more"}, {4, "next x"}, {0, NULL}},
	    NULL},
	{"continuation with interleaved comments and blanks",
	    IN("key a,\n# comment\n\n   # indented comment\n  b,\n\n  c\n"
	    "other d\n"),
	    {{1, "key a,  b,  c"}, {8, "other d"}, {0, NULL}}, NULL},
	{"CRLF", IN("a b\r\n  c\r\n\r\nd e\r\n"),
	    {{1, "a b  c"}, {4, "d e"}, {0, NULL}}, NULL},
	{"trailing whitespace", IN("a b \t \n  c  \nd\t\n"),
	    {{1, "a b  c"}, {3, "d"}, {0, NULL}}, NULL},
	{"hash inside a line is text", IN("a b#c\n"),
	    {{1, "a b#c"}, {0, NULL}}, NULL},
	{"continuation at the end without newline", IN("a\n b"),
	    {{1, "a b"}, {0, NULL}}, NULL},
	{"leading whitespace first", IN("  a b\n"), {{0, NULL}},
	    "f, line 1: logical line must not start with whitespace"},
	{"leading whitespace after comments", IN("# c\n\n\tx\n"),
	    {{0, NULL}},
	    "f, line 3: logical line must not start with whitespace"},
	/* The look-ahead that would end "a b" meets the error first. */
	{"NUL byte", IN("a b\nc \0d\ne f\n"), {{0, NULL}},
	    "f, line 2: NUL byte in line"},
	{"NUL byte in continuation", IN("a b\n c\0\n"), {{0, NULL}},
	    "f, line 2: NUL byte in line"},
	{"NUL byte in comment", IN("# \0\na b\n"), {{0, NULL}},
	    "f, line 1: NUL byte in line"},
	{"CR alone is whitespace", IN("a\r\n\r\n"),
	    {{1, "a"}, {0, NULL}}, NULL},
};

/* Run one case on reader r; label names it and the reader kind. */
static void
run_case(const struct lline_case *c, struct lline_reader *r,
    const char *label)
{
	struct buf line, why;
	int lineno, rc;
	size_t i;

	buf_init(&line, 0);
	buf_init(&why, 0);
	for (i = 0; c->want[i].lineno; i++) {
		lineno = -1;
		rc = lline_next(r, &line, &lineno, &why);
		if (rc != 1)
			fail_msg("case \"%s\": line %zu: rc %d (%s)", label, i,
			    rc, why.data);
		if (strcmp(line.data, c->want[i].text) != 0)
			fail_msg("case \"%s\": got \"%s\" want \"%s\"", label,
			    line.data, c->want[i].text);
		CHECK(line.len == strlen(c->want[i].text), label);
		if (lineno != c->want[i].lineno)
			fail_msg("case \"%s\": lineno %d want %d", label,
			    lineno, c->want[i].lineno);
	}
	rc = lline_next(r, &line, &lineno, &why);
	if (c->error) {
		CHECK(rc == -1, label);
		if (strcmp(why.data, c->error) != 0)
			fail_msg("case \"%s\": error \"%s\" want \"%s\"", label,
			    why.data, c->error);
		/* Sticky: a second call fails the same way. */
		buf_reset(&why);
		CHECK(lline_next(r, &line, NULL, &why) == -1, label);
		CHECK(strcmp(why.data, c->error) == 0, label);
	} else {
		CHECK(rc == 0, label);
		CHECK(line.len == 0, label);
		/* The end stays the end. */
		CHECK(lline_next(r, &line, NULL, &why) == 0, label);
	}
	buf_fini(&line);
	buf_fini(&why);
}

static void
test_cases_text(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct lline_reader *r;

		r = lline_open_text(cases[i].in, cases[i].in_len, "f");
		run_case(&cases[i], r, cases[i].label);
		lline_close(r);
	}
}

static void
test_cases_stream(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct lline_reader *r;
		FILE *fp = tmpfile();

		assert_non_null(fp);
		if (cases[i].in_len)
			assert_int_equal(fwrite(cases[i].in, 1,
			    cases[i].in_len, fp), cases[i].in_len);
		rewind(fp);
		r = lline_open(fp, "f");
		run_case(&cases[i], r, cases[i].label);
		lline_close(r);
		/* lline_close() leaves the stream to its owner. */
		assert_int_equal(fclose(fp), 0);
	}
}

/* The text need not be NUL-terminated, nor outlive the reader's open. */
static void
test_text_not_terminated(void **state)
{
	struct lline_reader *r;
	struct buf line, why;
	char *text = malloc(7);

	(void)state;
	memcpy(text, "a b\nc dXXXX", 7);	/* "a b\nc d" */
	buf_init(&line, 0);
	buf_init(&why, 0);
	r = lline_open_text(text, 7, "t");
	memset(text, 'Z', 7);
	free(text);
	assert_int_equal(lline_next(r, &line, NULL, &why), 1);
	assert_string_equal(line.data, "a b");
	assert_int_equal(lline_next(r, &line, NULL, &why), 1);
	assert_string_equal(line.data, "c d");
	assert_int_equal(lline_next(r, &line, NULL, &why), 0);
	lline_close(r);
	lline_close(NULL);
	buf_fini(&line);
	buf_fini(&why);
}

/* Build a source: prefix, n bytes of 'x', suffix. */
static char *
make_long(const char *prefix, size_t n, const char *suffix, size_t *len)
{
	size_t plen = strlen(prefix), slen = strlen(suffix);
	char *s = malloc(plen + n + slen + 1);

	assert_non_null(s);
	memcpy(s, prefix, plen);
	memset(s + plen, 'x', n);
	memcpy(s + plen + n, suffix, slen + 1);
	*len = plen + n + slen;
	return s;
}

static void
expect(const char *label, const char *text, size_t len, int want_rc,
    size_t want_len, const char *want_why)
{
	struct lline_reader *r;
	struct buf line, why;
	FILE *fp;
	int pass, rc;

	buf_init(&line, 0);
	buf_init(&why, 0);
	for (pass = 0; pass < 2; pass++) {
		fp = NULL;
		if (pass == 0) {
			r = lline_open_text(text, len, "big");
		} else {
			fp = tmpfile();
			assert_non_null(fp);
			assert_int_equal(fwrite(text, 1, len, fp), len);
			rewind(fp);
			r = lline_open(fp, "big");
		}
		rc = lline_next(r, &line, NULL, &why);
		if (rc != want_rc)
			fail_msg("case \"%s\" pass %d: rc %d (%s)", label, pass,
			    rc, why.data);
		if (rc == 1)
			CHECK(line.len == want_len, label);
		else
			CHECK(strcmp(why.data, want_why) == 0, label);
		lline_close(r);
		if (fp)
			fclose(fp);
	}
	buf_fini(&line);
	buf_fini(&why);
}

static void
test_limits(void **state)
{
	size_t len;
	char *s;

	(void)state;
	/* Exactly LLINE_MAX bytes is fine, one more is not. */
	s = make_long("", LLINE_MAX, "\n", &len);
	expect("physical at limit", s, len, 1, LLINE_MAX, NULL);
	free(s);
	s = make_long("a\n", LLINE_MAX + 1, "\n", &len);
	expect("physical over limit", s, len, -1, 0,
	    "big, line 2: line longer than 1048576 bytes");
	free(s);
	s = make_long("# c\n", LLINE_MAX + 1, "", &len);
	expect("physical over limit, no newline", s, len, -1, 0,
	    "big, line 2: line longer than 1048576 bytes");
	free(s);
	/* Logical: "k" + " " + (LLINE_MAX - 2) x's = LLINE_MAX, fine. */
	s = make_long("k\n ", LLINE_MAX - 2, "\n", &len);
	expect("logical at limit", s, len, 1, LLINE_MAX, NULL);
	free(s);
	/* One more byte over two physical lines; named by its first. */
	s = make_long("# c\nk\n ", LLINE_MAX - 1, "\n", &len);
	expect("logical over limit", s, len, -1, 0,
	    "big, line 2: line longer than 1048576 bytes");
	free(s);
}

/* The second physical line of "a\n<too long>" fails on the next call. */
static void
test_error_after_lines(void **state)
{
	struct lline_reader *r;
	struct buf line, why;
	size_t len;
	char *s;
	int lineno = 0;

	(void)state;
	s = make_long("a b\n\n", LLINE_MAX + 1, "\n", &len);
	buf_init(&line, 0);
	buf_init(&why, 0);
	r = lline_open_text(s, len, "f");
	/* The reader must look ahead to end "a b": that finds the error. */
	assert_int_equal(lline_next(r, &line, &lineno, &why), -1);
	assert_string_equal(why.data,
	    "f, line 3: line longer than 1048576 bytes");
	assert_int_equal(line.len, 0);
	lline_close(r);
	free(s);
	buf_fini(&line);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases_text),
		cmocka_unit_test(test_cases_stream),
		cmocka_unit_test(test_text_not_terminated),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_after_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
