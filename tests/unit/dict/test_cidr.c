/*
 * test_cidr.c - unit tests for cidr: tables (dict_cidr.c)
 *
 * Table-driven: each lookup case is a table text, a key and the wanted
 * result (NULL: not found); each error case is a table text and the
 * exact message, after "table cidr:<file>: <file>, ". Files are written
 * to a temporary directory and opened through dict_open_strict().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dicttest.h"
#include "mem.h"

static struct dict *
open_table(const char *text, int open_flags, int dict_flags,
    struct buf *why)
{
	return open_text_table("cidr", text, open_flags, dict_flags, why);
}

static int
setup(void **state)
{
	(void)state;
	return dicttest_setup("cidr");
}

static int
teardown(void **state)
{
	(void)state;
	return dicttest_teardown();
}

#define NESTED	"if 10.0.0.0/8\n" \
		"if !10.1.0.0/16\n" \
		"10.2.0.0/16 ten-two\n" \
		"0.0.0.0/0 ten-other\n" \
		"endif\n" \
		"10.1.2.0/24 ten-one-two\n" \
		"endif\n" \
		"0.0.0.0/0 any4\n" \
		"::/0 any6\n"

#define MIXED	"192.0.2.0/24 v4net\n" \
		"::ffff:198.51.100.0/120 mapped6\n" \
		"2001:db8::/32 v6net\n"

struct lookup_case {
	const char *label;
	const char *text;
	const char *key;
	const char *want;		/* NULL: not found */
};

static const struct lookup_case lookups[] = {
	{"v4 network", "192.0.2.0/24 net\n", "192.0.2.7", "net"},
	{"v4 network, first", "192.0.2.0/24 net\n", "192.0.2.0", "net"},
	{"v4 network, last", "192.0.2.0/24 net\n", "192.0.2.255", "net"},
	{"v4 outside", "192.0.2.0/24 net\n", "192.0.3.1", NULL},
	{"v4 /20", "172.16.16.0/20 net\n", "172.16.31.255", "net"},
	{"v4 /20 outside", "172.16.16.0/20 net\n", "172.16.32.0", NULL},
	{"v4 /20 below", "172.16.16.0/20 net\n", "172.16.15.255", NULL},
	{"v4 /31", "10.0.0.2/31 pair\n", "10.0.0.3", "pair"},
	{"v4 /31 outside", "10.0.0.2/31 pair\n", "10.0.0.4", NULL},
	{"v4 /0", "0.0.0.0/0 all\n", "203.0.113.9", "all"},
	{"v4 /0 not v6", "0.0.0.0/0 all\n", "2001:db8::1", NULL},
	{"v4 address", "192.0.2.1 one\n", "192.0.2.1", "one"},
	{"v4 address, other", "192.0.2.1 one\n", "192.0.2.2", NULL},
	{"v4 /32", "192.0.2.1/32 one\n", "192.0.2.1", "one"},
	{"v4 in brackets", "[192.0.2.1] one\n", "192.0.2.1", "one"},
	{"v4 network in brackets", "[192.0.2.0]/24 net\n", "192.0.2.9",
	    "net"},
	{"result with blanks", "192.0.2.1   REJECT  go  away\n", "192.0.2.1",
	    "REJECT  go  away"},
	{"continued result", "192.0.2.1 REJECT\n  go away\n", "192.0.2.1",
	    "REJECT  go away"},
	{"first match wins", "192.0.2.0/24 net\n192.0.2.1 one\n",
	    "192.0.2.1", "net"},
	{"more specific first", "192.0.2.1 one\n192.0.2.0/24 net\n",
	    "192.0.2.1", "one"},
	{"v6 network", "2001:db8::/32 v6\n", "2001:db8:1::1", "v6"},
	{"v6 outside", "2001:db8::/32 v6\n", "2001:db9::1", NULL},
	{"v6 network in brackets", "[2001:db8::]/32 v6\n", "2001:db8::5",
	    "v6"},
	{"v6 address", "2001:db8::1 host\n", "2001:db8:0:0::1", "host"},
	{"v6 address in brackets", "[2001:db8::1] host\n", "2001:db8::1",
	    "host"},
	{"v6 key case", "2001:db8::ab host\n", "2001:DB8::AB", "host"},
	{"v6 /0", "::/0 all6\n", "fe80::1", "all6"},
	{"v6 /0 not v4", "::/0 all6\n", "192.0.2.1", NULL},
	{"v6 /127", "2001:db8::/127 pair\n", "2001:db8::1", "pair"},
	{"v6 /127 outside", "2001:db8::/127 pair\n", "2001:db8::2", NULL},
	{"v6 /65", "2001:db8:0:0:8000::/65 half\n", "2001:db8::8000:0:0:1",
	    "half"},
	{"v6 /65 outside", "2001:db8:0:0:8000::/65 half\n", "2001:db8::1",
	    NULL},
	{"mapped key matches v4", MIXED, "::ffff:192.0.2.9", "v4net"},
	{"mapped key matches mapped v6", MIXED, "::ffff:198.51.100.7",
	    "mapped6"},
	{"mapped key, upper case", MIXED, "::FFFF:192.0.2.9", "v4net"},
	{"v4 key does not match mapped v6", MIXED, "198.51.100.7", NULL},
	{"v6 key", MIXED, "2001:db8::1", "v6net"},
	{"mapped key, ::/0", "::/0 any6\n", "::ffff:192.0.2.1", "any6"},
	{"not an address", MIXED, "example.com", NULL},
	{"empty key", MIXED, "", NULL},
	{"bracketed key", MIXED, "[192.0.2.1]", NULL},
	{"key with blank", MIXED, "192.0.2.1 ", NULL},
	{"key with prefix", MIXED, "192.0.2.1/32", NULL},
	{"partial address", "0.0.0.0/0 all\n", "192.0.2", NULL},
	{"not an address, negated rule", "!192.0.2.0/24 out\n", "x", NULL},
	{"negated, outside", "!192.0.2.0/24 out\n", "10.0.0.1", "out"},
	{"negated, inside", "!192.0.2.0/24 out\n", "192.0.2.5", NULL},
	{"negated, other family", "!192.0.2.0/24 out\n", "2001:db8::1",
	    NULL},
	{"negated v6", "![2001:db8::]/32 out\n", "2001:db9::1", "out"},
	{"negated address", "!192.0.2.1 out\n", "192.0.2.2", "out"},
	{"nested, inner", NESTED, "10.2.3.4", "ten-two"},
	{"nested, inner default", NESTED, "10.3.0.1", "ten-other"},
	{"nested, inner skipped", NESTED, "10.1.2.3", "ten-one-two"},
	{"nested, both skip", NESTED, "10.1.3.3", "any4"},
	{"nested, outer skipped", NESTED, "11.0.0.1", "any4"},
	{"nested, v6 skips v4 if", NESTED, "::1", "any6"},
	{"if !", "if !10.0.0.0/8\n0.0.0.0/0 outside\nendif\n", "11.0.0.1",
	    "outside"},
	{"if !, inside", "if !10.0.0.0/8\n0.0.0.0/0 outside\nendif\n",
	    "10.0.0.1", NULL},
	{"IF ENDIF any case", "IF 10.0.0.0/8\n0.0.0.0/0 ten\nEndIf\n",
	    "10.0.0.1", "ten"},
	{"if v6", "if 2001:db8::/32\n::/0 doc\nendif\n::/0 other\n",
	    "2001:db8::9", "doc"},
	{"if v6, outside", "if 2001:db8::/32\n::/0 doc\nendif\n::/0 other\n",
	    "2001:db9::9", "other"},
	{"comments", "# c\n\n  # c\n192.0.2.1 one\n", "192.0.2.1", "one"},
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

		d = open_table(c->text, O_RDONLY, 0, &why);
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
	/* The message after "table cidr:<file>: <file>, ". */
	const char *want;
};

static const struct error_case errors[] = {
	{"host bits", "1.2.3.4/24 x\n", "line 1: non-null host address bits "
	    "in \"1.2.3.4/24\", perhaps you should use \"1.2.3.0/24\""},
	{"host bits, partial byte", "# c\n172.16.17.0/20 x\n",
	    "line 2: non-null host address bits in \"172.16.17.0/20\", "
	    "perhaps you should use \"172.16.16.0/20\""},
	{"host bits, /0", "1.0.0.0/0 x\n", "line 1: non-null host address "
	    "bits in \"1.0.0.0/0\", perhaps you should use \"0.0.0.0/0\""},
	{"host bits, negated", "!1.2.3.4/24 x\n", "line 1: non-null host "
	    "address bits in \"1.2.3.4/24\", perhaps you should use "
	    "\"1.2.3.0/24\""},
	{"host bits, if", "if 10.0.0.1/8\nendif\n", "line 1: non-null host "
	    "address bits in \"10.0.0.1/8\", perhaps you should use "
	    "\"10.0.0.0/8\""},
	{"host bits, v6", "2001:db8::1/32 x\n", "line 1: non-null host "
	    "address bits in \"2001:db8::1/32\", perhaps you should use "
	    "\"2001:db8::/32\""},
	{"host bits, v6 brackets", "[2001:db8::1]/64 x\n", "line 1: "
	    "non-null host address bits in \"[2001:db8::1]/64\", perhaps "
	    "you should use \"2001:db8::/64\""},
	{"prefix too long", "1.2.3.0/33 x\n", "line 1: bad prefix length "
	    "in \"1.2.3.0/33\" (expected 0..32)"},
	{"v6 prefix too long", "::/129 x\n", "line 1: bad prefix length "
	    "in \"::/129\" (expected 0..128)"},
	{"empty prefix", "1.2.3.0/ x\n", "line 1: bad prefix length "
	    "in \"1.2.3.0/\" (expected 0..32)"},
	{"negative prefix", "1.2.3.0/-1 x\n", "line 1: bad prefix length "
	    "in \"1.2.3.0/-1\" (expected 0..32)"},
	{"signed prefix", "1.2.3.0/+8 x\n", "line 1: bad prefix length "
	    "in \"1.2.3.0/+8\" (expected 0..32)"},
	{"prefix junk", "1.2.3.0/24x x\n", "line 1: bad prefix length "
	    "in \"1.2.3.0/24x\" (expected 0..32)"},
	{"bad address", "1.2.3 x\n", "line 1: bad address pattern "
	    "\"1.2.3\""},
	{"name, not address", "example.com x\n", "line 1: bad address "
	    "pattern \"example.com\""},
	{"bad v6", "2001:db8:::1 x\n", "line 1: bad address pattern "
	    "\"2001:db8:::1\""},
	{"prefix inside brackets", "[1.2.3.0/24] x\n", "line 1: bad "
	    "address pattern \"[1.2.3.0/24]\""},
	{"text after brackets", "[1.2.3.4]x y\n", "line 1: bad address "
	    "pattern \"[1.2.3.4]x\""},
	{"missing ]", "[2001:db8::1 x\n", "line 1: missing \"]\" in "
	    "\"[2001:db8::1\""},
	{"negation alone", "! x\n", "line 1: bad address pattern \"\""},
	{"no result", "1.2.3.4 x\n1.2.3.5\n", "line 2: no result"},
	{"no result, network", "1.2.3.0/24\n", "line 1: no result"},
	{"missing endif", "1.2.3.4 x\nif 1.0.0.0/8\n1.2.3.4 y\n",
	    "line 2: missing endif"},
	{"missing outer endif", "if 1.0.0.0/8\nif 1.2.0.0/16\nendif\n",
	    "line 1: missing endif"},
	{"endif without if", "1.2.3.4 x\nendif\n", "line 2: endif without if"},
	{"extra endif", "if 1.0.0.0/8\nendif\nendif\n",
	    "line 3: endif without if"},
	{"extra text after endif", "if 1.0.0.0/8\nendif 1\n",
	    "line 2: extra text after \"endif\""},
	{"extra text after if", "if 1.0.0.0/8 x\nendif\n",
	    "line 1: extra text after \"if\" pattern"},
	{"if without pattern", "if\nendif\n",
	    "line 1: missing address pattern"},
	{"if with bad pattern", "if 1.2.3\nendif\n",
	    "line 1: bad address pattern \"1.2.3\""},
	{"continuation first", " 1.2.3.4 x\n",
	    "line 1: logical line must not start with whitespace"},
	{"line numbers", "# c\n1.2.3.4\n  x\n\n1.2.3.4/8 y\n",
	    "line 5: non-null host address bits in \"1.2.3.4/8\", perhaps "
	    "you should use \"1.0.0.0/8\""},
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
		d = open_table(errors[i].text, O_RDONLY, 0, &why);
		CHECK(d == NULL, errors[i].label);
		buf_reset(&want);
		buf_printf(&want, "table cidr:%s: %s, %s", table_path(),
		    table_path(), errors[i].want);
		if (strcmp(why.data, want.data) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    errors[i].label, why.data, want.data);
	}
	buf_fini(&why);
	buf_fini(&want);
}

/* Surrogates, missing files, read-only, folding, change detection. */
static void
test_open(void **state)
{
	struct buf name, value, why;
	struct dict *d;
	FILE *fp;
	char *out;

	(void)state;
	buf_init(&name, 64);
	buf_init(&value, 64);
	buf_init(&why, 64);

	write_table("192.0.2.0/24 good\n192.0.2.1/24 bad\n");
	buf_printf(&name, "cidr:%s", table_path());
	capture_start();
	d = dict_open(name.data, O_RDONLY, DICT_FLAG_NO_CACHE);
	out = capture_end();
	assert_true(dict_is_surrogate(d));
	assert_int_equal(dict_lookup(d, "192.0.2.1", &value), DICT_TEMPFAIL);
	buf_printf(&why, "table cidr:%s: %s, line 2: non-null host address "
	    "bits in \"192.0.2.1/24\", perhaps you should use "
	    "\"192.0.2.0/24\"", table_path(), table_path());
	assert_string_equal(dict_error(d), why.data);
	assert_non_null(strstr(out, why.data));
	free(out);
	dict_close(d);

	buf_reset(&name);
	buf_printf(&name, "cidr:%s/missing", dicttest_dir);
	assert_null(dict_open_strict(name.data, O_RDONLY, DICT_FLAG_NO_CACHE,
	    &why));
	buf_reset(&value);
	buf_printf(&value, "table cidr:%s/missing: open %s/missing: No such "
	    "file or directory", dicttest_dir, dicttest_dir);
	assert_string_equal(why.data, value.data);

	assert_null(open_table("192.0.2.1 x\n", O_RDWR, 0, &why));
	assert_non_null(strstr(why.data, "read-only"));

	d = open_table("2001:db8::ab FOUND\n", O_RDONLY, DICT_FLAG_FOLD,
	    &why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, "2001:DB8::AB", &value), DICT_FOUND);
	assert_string_equal(value.data, "FOUND");
	assert_false(dict_changed());
	fp = fopen(table_path(), "a");
	assert_non_null(fp);
	assert_true(fputs("192.0.2.1 more\n", fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	capture_start();
	assert_true(dict_changed());
	free(capture_end());
	dict_close(d);
	assert_false(dict_changed());

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
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
