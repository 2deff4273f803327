/*
 * test_dict_source.c - unit tests for dict_source.c
 *
 * Table-driven: each case is a source text and the key/value pairs it
 * yields ("key=value" per entry, joined by '|') or the error it must
 * produce. Also: a missing file, reading by path, and a callback that
 * stops the walk with its own error.
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
#include <unistd.h>

#include "buf.h"
#include "dict_source.h"

/* Collects "key=value@line|" for each entry. */
static int
collect(const char *key, const char *value, const char *file, int line,
    void *ctx, struct buf *why)
{
	struct buf *out = ctx;

	(void)why;
	assert_string_equal(file, "src");
	buf_printf(out, "%s=%s@%d|", key, value, line);
	return 0;
}

static void
test_cases(void **state)
{
	static const struct {
		const char *label, *in, *want, *error;
	} cases[] = {
		{"empty", "", "", NULL},
		{"one entry", "example.com REJECT\n",
		    "example.com=REJECT@1|", NULL},
		{"value with spaces", "a   REJECT no  thanks  \n",
		    "a=REJECT no  thanks@1|", NULL},
		{"tab separator", "a\t\tb\n", "a=b@1|", NULL},
		{"comments, blanks, continuation",
		    "# header\n\nuser  a,\n  b\n# x\nother c\n",
		    "user=a,  b@3|other=c@6|", NULL},
		{"value only on the continuation line", "key\n  value\n",
		    "key=value@1|", NULL},
		{"CRLF", "a b\r\nc d\r\n", "a=b@1|c=d@2|", NULL},
		{"duplicates are passed on", "a 1\na 2\n", "a=1@1|a=2@2|",
		    NULL},
		{"no value", "a b\nlonely\nc d\n", "a=b@1|",
		    "src, line 2: expected format: key whitespace value"},
		{"no value, trailing blanks", "lonely   \t\n", "",
		    "src, line 1: expected format: key whitespace value"},
		{"lline error passes through", "  a b\n", "",
		    "src, line 1: logical line must not start with "
		    "whitespace"},
	};
	struct buf out, why;
	size_t i;

	(void)state;
	buf_init(&out, 0);
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		FILE *fp = tmpfile();
		int rc;

		assert_non_null(fp);
		fputs(cases[i].in, fp);
		rewind(fp);
		buf_reset(&out);
		rc = dict_source_read("src", fp, collect, &out, &why);
		if (strcmp(out.data, cases[i].want) != 0)
			fail_msg("case \"%s\": got \"%s\" want \"%s\"",
			    cases[i].label, out.data, cases[i].want);
		if (cases[i].error == NULL) {
			if (rc != 0)
				fail_msg("case \"%s\": rc %d (%s)",
				    cases[i].label, rc, why.data);
		} else if (rc != -1 || strcmp(why.data, cases[i].error) != 0) {
			fail_msg("case \"%s\": rc %d error \"%s\" want \"%s\"",
			    cases[i].label, rc, why.data, cases[i].error);
		}
		/* The caller's stream stays open. */
		assert_int_equal(fclose(fp), 0);
	}
	buf_fini(&out);
	buf_fini(&why);
}

static int
count(const char *key, const char *value, const char *file, int line,
    void *ctx, struct buf *why)
{
	(void)key;
	(void)value;
	(void)why;
	(void)line;
	assert_non_null(strstr(file, "petrel-src"));
	(*(int *)ctx)++;
	return 0;
}

static void
test_path(void **state)
{
	char path[] = "/tmp/petrel-src-XXXXXX";
	struct buf why, want;
	int fd, n = 0;

	(void)state;
	buf_init(&why, 0);
	buf_init(&want, 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a b\nc d\n", 8), 8);
	assert_int_equal(close(fd), 0);
	assert_int_equal(dict_source_read(path, NULL, count, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(dict_source_read(path, NULL, count, &n, &why), -1);
	buf_printf(&want, "open %s: No such file or directory", path);
	assert_string_equal(why.data, want.data);
	assert_int_equal(n, 2);
	buf_fini(&why);
	buf_fini(&want);
}

/* The callback's error is returned as it set it. */
static int
stop_at_b(const char *key, const char *value, const char *file, int line,
    void *ctx, struct buf *why)
{
	(void)value;
	(*(int *)ctx)++;
	if (strcmp(key, "b") == 0) {
		buf_printf(why, "%s, line %d: no b please", file, line);
		return -1;
	}
	return 0;
}

static void
test_callback_stops(void **state)
{
	struct buf why;
	FILE *fp = tmpfile();
	int n = 0;

	(void)state;
	buf_init(&why, 0);
	assert_non_null(fp);
	fputs("a 1\nb 2\nc 3\n", fp);
	rewind(fp);
	buf_set(&why, "stale");
	assert_int_equal(dict_source_read("t", fp, stop_at_b, &n, &why), -1);
	assert_string_equal(why.data, "t, line 2: no b please");
	assert_int_equal(n, 2);
	fclose(fp);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
