/*
 * test_sql.c - unit tests for dict_sql.c and dict_sqlite.c
 *
 * Table-driven: query expansion (every % form, the missing local part,
 * domain and label rules, the quote callback called once per inserted
 * value, with quotes and backslashes in keys), template checks, which
 * keys are looked up at all, result_format, the domain restriction
 * (names, type:table lookups, files; a failing table is a temporary
 * failure), joining and expansion_limit, and the configuration file
 * (old-style fields, warnings, errors naming file and line).
 *
 * Host handling runs against a fake back end: failover, a dead host
 * skipped until its retry time, a broken connection reopened once, all
 * hosts down as a temporary failure. Then real sqlite: a database made
 * with the sqlite3 library in a temporary directory, and what
 * dict_changed() watches: a missing database or domain file appearing,
 * a domain file or the configuration changing (not the rows).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "dict.h"
#include "dict_sql.h"
#include "mem.h"
#include "timeutil.h"

/* ---- a temporary directory -------------------------------------------- */

static char tmpdir[] = "/tmp/test_sql.XXXXXX";
static char *sqlite_db;		/* made by test_sqlite */

static char *
tmp_path(const char *name)
{
	struct buf b;

	buf_init(&b, 64);
	buf_printf(&b, "%s/%s", tmpdir, name);
	return buf_steal(&b);
}

/* Write text into tmpdir/name; returns the path (caller frees). */
static char *
write_file(const char *name, const char *text)
{
	char *path = tmp_path(name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static int
setup_tmpdir(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_tmpdir(void **state)
{
	struct buf cmd;
	int rc;

	(void)state;
	free(sqlite_db);
	sqlite_db = NULL;
	buf_init(&cmd, 64);
	buf_printf(&cmd, "rm -rf '%s'", tmpdir);
	rc = system(cmd.data);
	buf_fini(&cmd);
	return rc == 0 ? 0 : -1;
}

/* ---- query expansion ---------------------------------------------------- */

/*
 * A quote function in MySQL's manner (backslash before ' and \), that
 * counts its calls and wraps each value in <> so the test sees every
 * insertion.
 */
static int quote_calls;

static int
test_quote(void *ctx, struct buf *out, const char *str, size_t len,
    struct buf *why)
{
	size_t i;

	quote_calls++;
	if (ctx && strcmp(ctx, "fail") == 0) {
		buf_set(why, "cannot quote");
		return -1;
	}
	/* Like a byte that is not valid in the database's encoding. */
	if (memchr(str, '\377', len))
		return 1;
	buf_putc(out, '<');
	for (i = 0; i < len; i++) {
		if (str[i] == '\'' || str[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, str[i]);
	}
	buf_putc(out, '>');
	return 0;
}

static void
test_expand_query(void **state)
{
	static const struct {
		const char *label, *tmpl, *key;
		const char *want;	/* NULL: suppressed */
		int calls;
	} cases[] = {
		{"no sequence", "SELECT 1", "k", "SELECT 1", 0},
		{"%% is a percent", "a %% b %%s", "k", "a % b %s", 0},
		{"%s whole key", "x='%s'", "joe@example.com",
		    "x='<joe@example.com>'", 1},
		{"%s key without @", "x='%s'", "joe", "x='<joe>'", 1},
		{"%u local part", "%u", "joe@example.com", "<joe>", 1},
		{"%u key without @", "%u", "joe", "<joe>", 1},
		{"%u empty local part", "%u", "@example.com", NULL, 0},
		{"%u last @", "%u", "a@b@example.com", "<a@b>", 1},
		{"%d domain", "%d", "joe@example.com", "<example.com>", 1},
		{"%d last @", "%d", "a@b@example.com", "<example.com>", 1},
		{"%d key without @", "%d", "joe", NULL, 0},
		{"%d empty domain", "%d", "joe@", NULL, 0},
		{"%d bare domain", "%d", "example.com", NULL, 0},
		{"%S like %s", "%S", "joe@example.com",
		    "<joe@example.com>", 1},
		{"%U like %u", "%U", "joe", "<joe>", 1},
		{"%U empty local part", "%U", "@example.com", NULL, 0},
		{"%D like %d", "%D", "joe@example.com", "<example.com>", 1},
		{"%D key without @", "%D", "joe", NULL, 0},
		{"%1 top label", "%1", "joe@mail.example.com", "<com>", 1},
		{"%2 %3 labels", "%3.%2", "joe@mail.example.com",
		    "<mail>.<example>", 2},
		{"%4 missing label", "%1 %4", "joe@mail.example.com", NULL,
		    1},
		{"%1 key without @", "%1", "example.com", NULL, 0},
		{"%9 deep", "%9", "u@a.b.c.d.e.f.g.h.i", "<a>", 1},
		{"%2 empty label", "%2", "u@a..com", NULL, 0},
		{"every form", "%s|%u|%d|%1|%%",
		    "joe@example.com",
		    "<joe@example.com>|<joe>|<example.com>|<com>|%", 4},
		{"quote in key", "x='%s'", "x' OR '1'='1",
		    "x='<x\\' OR \\'1\\'=\\'1>'", 1},
		{"backslash in key", "x='%u'", "a\\'b@example.com",
		    "x='<a\\\\\\'b>'", 1},
		{"quote in domain", "%d", "u@ex'ample.com",
		    "<ex\\'ample.com>", 1},
		{"empty key", "%s", "", NULL, 0},
	};
	struct buf out, why;
	size_t i;
	int rc;

	(void)state;
	buf_init(&out, 0);
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		quote_calls = 0;
		rc = dict_sql_expand_query(&out, cases[i].tmpl, cases[i].key,
		    test_quote, NULL, &why);
		if (cases[i].want) {
			CHECK(rc == 1, cases[i].label);
			CHECK_STR(out.data, cases[i].want, cases[i].label);
		} else {
			CHECK(rc == 0, cases[i].label);
		}
		CHECK(quote_calls == cases[i].calls, cases[i].label);
		/* What the expansion needs, dict_sql_key_ok() checks. */
		CHECK(dict_sql_key_ok(cases[i].tmpl, "%s", cases[i].key)
		    == (cases[i].want != NULL), cases[i].label);
	}
	/* A quote failure stops the expansion. */
	rc = dict_sql_expand_query(&out, "%u %d", "a@b", test_quote,
	    "fail", &why);
	assert_int_equal(rc, -1);
	assert_string_equal(why.data, "cannot quote");
	/* A value that cannot be in the database: do not run the query. */
	rc = dict_sql_expand_query(&out, "%u %d", "a@b\377", test_quote,
	    NULL, &why);
	assert_int_equal(rc, 0);
	buf_fini(&out);
	buf_fini(&why);
}

static void
test_template_check(void **state)
{
	static const struct {
		const char *label, *tmpl;
		const char *want;	/* NULL: valid */
	} cases[] = {
		{"plain", "SELECT x FROM t", NULL},
		{"all forms", "%% %s %u %d %S %U %D %1 %5 %9", NULL},
		{"bad letter", "SELECT '%x'", "bad % sequence \"%x\" "
		    "(expected one of %% %s %u %d %S %U %D %1..%9)"},
		{"zero", "%0", "bad % sequence \"%0\" "
		    "(expected one of %% %s %u %d %S %U %D %1..%9)"},
		{"trailing percent", "LIKE 'a%", "'%' at the end"},
		{"non-printable", "%\001", "bad % sequence \"%?\" "
		    "(expected one of %% %s %u %d %S %U %D %1..%9)"},
	};
	struct buf why;
	size_t i;
	int rc;

	(void)state;
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&why);
		rc = dict_sql_template_check(cases[i].tmpl, &why);
		if (cases[i].want) {
			CHECK(rc == -1, cases[i].label);
			CHECK_STR(why.data, cases[i].want, cases[i].label);
		} else {
			CHECK(rc == 0, cases[i].label);
		}
	}
	buf_fini(&why);
}

static void
test_key_ok(void **state)
{
	static const struct {
		const char *label, *query, *format, *key;
		bool want;
	} cases[] = {
		{"plain", "%s", "%s", "joe", true},
		{"query %d, no @", "%d", "%s", "joe", false},
		{"result %d takes the value", "%s", "%d", "joe", true},
		{"result %D takes the key", "%s", "%D", "joe", false},
		{"result %D with @", "%s", "%D", "joe@example.com", true},
		{"result %U empty local", "%s", "%U", "@example.com", false},
		{"result %u takes the value", "%s", "%u", "@example.com",
		    true},
		{"result %2 too few labels", "%s", "%2", "u@com", false},
		{"result %2", "%s", "%2", "u@example.com", true},
		{"result %%d is literal", "%s", "%%d", "joe", true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK(dict_sql_key_ok(cases[i].query, cases[i].format,
		    cases[i].key) == cases[i].want, cases[i].label);
}

static void
test_expand_result(void **state)
{
	static const struct {
		const char *label, *fmt, *value, *key;
		const char *want;	/* NULL: skipped */
	} cases[] = {
		{"%s", "%s", "v", "k", "v"},
		{"%s empty value", "%s", "", "k", NULL},
		{"constant, empty value", "OK", "", "k", "OK"},
		{"transport", "smtp:[%s]", "mx.example.com", "k",
		    "smtp:[mx.example.com]"},
		{"%u new domain", "%u@example.net", "joe@example.com", "k",
		    "joe@example.net"},
		{"%u no @", "%u", "joe", "k", "joe"},
		{"%u empty local part", "%u", "@example.com", "k", NULL},
		{"%d", "%d", "joe@example.org", "k", "example.org"},
		{"%d unqualified", "relay:%d", "joe", "k", NULL},
		{"%S is the key", "%s for %S", "v", "joe@example.com",
		    "v for joe@example.com"},
		{"%U and %D", "%U at %D", "v", "joe@example.com",
		    "joe at example.com"},
		{"%1 from the key", "%1-%s", "v", "joe@example.org",
		    "org-v"},
		{"%% literal", "100%%", "v", "k", "100%"},
		{"no quoting", "%s", "it's", "k", "it's"},
	};
	struct buf out;
	size_t i;
	int rc;

	(void)state;
	buf_init(&out, 0);
	for (i = 0; i < NELEM(cases); i++) {
		rc = dict_sql_expand_result(&out, cases[i].fmt,
		    cases[i].value, strlen(cases[i].value), cases[i].key);
		if (cases[i].want) {
			CHECK(rc == 1, cases[i].label);
			CHECK_STR(out.data, cases[i].want, cases[i].label);
		} else {
			CHECK(rc == 0, cases[i].label);
		}
	}
	buf_fini(&out);
}

/* Load "query = x" plus text into cf; the path for messages. */
static char *
load_cf(struct dict_sql_cf *cf, const char *text)
{
	struct buf why, all;
	char *path;

	buf_init(&why, 0);
	buf_init(&all, 64);
	buf_printf(&all, "query = x\n%s", text);
	path = write_file("d.cf", all.data);
	if (dict_sql_cf_load(cf, path, 0, &why) < 0)
		fail_msg("load \"%s\": %s", text, why.data);
	buf_fini(&why);
	buf_fini(&all);
	return path;
}

/*
 * The domain restriction: names, type:table lookups (found = listed),
 * files of both, in order; a table that fails is a temporary failure,
 * never "not listed".
 */
static void
test_domain_ok(void **state)
{
	static const struct {
		const char *label, *key;
		enum dict_result want;	/* names and tables that work */
		enum dict_result want_failing;	/* a failing table last */
	} cases[] = {
		{"listed", "joe@example.com", DICT_FOUND, DICT_FOUND},
		{"second listed", "joe@example.net", DICT_FOUND, DICT_FOUND},
		{"case", "joe@EXAMPLE.Com", DICT_FOUND, DICT_FOUND},
		{"in a table", "joe@table.example", DICT_FOUND, DICT_FOUND},
		{"in a table, folded", "joe@Table.EXAMPLE", DICT_FOUND,
		    DICT_FOUND},
		{"second element of the table", "joe@two.example", DICT_FOUND,
		    DICT_FOUND},
		{"in a file", "joe@file.example", DICT_FOUND, DICT_FOUND},
		{"table in a file", "joe@file-table.example", DICT_FOUND,
		    DICT_FOUND},
		{"other domain", "joe@example.org", DICT_NOTFOUND,
		    DICT_TEMPFAIL},
		{"subdomain", "joe@mail.example.com", DICT_NOTFOUND,
		    DICT_TEMPFAIL},
		{"last @ counts", "a@example.org@example.com", DICT_FOUND,
		    DICT_FOUND},
		/* Keys that cannot be listed never reach a table. */
		{"bare user", "joe", DICT_NOTFOUND, DICT_NOTFOUND},
		{"bare domain", "example.com", DICT_NOTFOUND, DICT_NOTFOUND},
		{"empty local part", "@example.com", DICT_NOTFOUND,
		    DICT_NOTFOUND},
		{"empty domain", "joe@", DICT_NOTFOUND, DICT_NOTFOUND},
	};
	struct dict_sql_cf cf, failing;
	struct buf why, text;
	char *file, *path, *log, want[512];
	size_t i;

	(void)state;
	buf_init(&why, 0);
	buf_init(&text, 256);
	file = write_file("domains", "# domains\nfile.example\n"
	    "  inline:{file-table.example=1}\n");
	buf_printf(&text, "domain = example.com, example.net,\n"
	    "  inline:{table.example=yes, two.example=yes}\n  %s\n", file);
	path = load_cf(&cf, text.data);
	free(path);
	assert_int_equal(cf.domains->argc, 5);
	assert_string_equal(cf.domains->argv[2],
	    "inline:{table.example=yes, two.example=yes}");
	assert_string_equal(cf.domains->argv[3], "file.example");
	buf_puts(&text, "  lmdb:/nonexistent/petrel-test/d\n");
	capture_start();
	path = load_cf(&failing, text.data);
	log = capture_end();
	/* The table's trouble is logged once, when it is opened. */
	CHECK(strstr(log, "open /nonexistent/petrel-test/d.lmdb: No such "
	    "file") != NULL, "failing table");
	free(log);
	for (i = 0; i < NELEM(cases); i++) {
		buf_set(&why, "");
		CHECK(dict_sql_domain_ok(&cf, cases[i].key, &why)
		    == cases[i].want, cases[i].label);
		CHECK(dict_sql_domain_ok(&failing, cases[i].key, &why)
		    == cases[i].want_failing, cases[i].label);
		if (cases[i].want_failing == DICT_TEMPFAIL) {
			snprintf(want, sizeof(want), "table lmdb:/nonexistent/"
			    "petrel-test/d: open /nonexistent/petrel-test/"
			    "d.lmdb: No such file or directory");
			CHECK_STR(why.data, want, cases[i].label);
		}
	}
	dict_sql_cf_free(&cf);
	dict_sql_cf_free(&failing);
	free(path);

	/* No domain, or an empty one: every key. */
	path = load_cf(&cf, "domain =\n");
	assert_null(cf.domains);
	assert_int_equal(dict_sql_domain_ok(&cf, "anything", &why),
	    DICT_FOUND);
	dict_sql_cf_free(&cf);
	free(path);

	/* Errors in a domain file name it and its line. */
	free(write_file("domains", "a.example\n/etc/other\n"));
	buf_reset(&text);
	buf_printf(&text, "query = x\ndomain = %s\n", file);
	path = write_file("d.cf", text.data);
	assert_int_equal(dict_sql_cf_load(&cf, path, 0, &why), -1);
	snprintf(want, sizeof(want), "%s, line 2: domain: %s, line 2: "
	    "\"/etc/other\": a domain file cannot name another file", path,
	    file);
	CHECK_STR(why.data, want, "nested file");
	dict_sql_cf_free(&cf);
	free(path);
	free(file);
	buf_fini(&why);
	buf_fini(&text);
}

static void
test_result_join_limit(void **state)
{
	static const struct {
		const char *label, *format;
		long limit;
		const char *values[6];	/* NULL-terminated */
		const char *want;	/* NULL: the lookup fails */
		long count;
	} cases[] = {
		{"one", "%s", 0, {"a", NULL}, "a", 1},
		{"joined with commas", "%s", 0, {"a", "b", "c", NULL},
		    "a,b,c", 3},
		{"empty values skipped", "%s", 0, {"", "a", "", "b", NULL},
		    "a,b", 2},
		{"formatted", "<%s>", 0, {"a", "b", NULL}, "<a>,<b>", 2},
		{"at the limit", "%s", 2, {"a", "b", NULL}, "a,b", 2},
		{"over the limit", "%s", 2, {"a", "b", "c", NULL}, NULL, 2},
		{"skipped do not count", "%d", 1,
		    {"x", "u@a.com", "y", NULL}, "a.com", 1},
		{"limit 1", "%s", 1, {"a", "b", NULL}, NULL, 1},
	};
	struct dict_sql_result res;
	struct buf value;
	size_t i, j;
	int failed;

	(void)state;
	buf_init(&value, 0);
	for (i = 0; i < NELEM(cases); i++) {
		dict_sql_result_init(&res, &value, cases[i].format, "k@x.y",
		    cases[i].limit);
		failed = 0;
		for (j = 0; cases[i].values[j]; j++)
			if (dict_sql_result_add(&res, cases[i].values[j],
			    strlen(cases[i].values[j])) < 0)
				failed = 1;
		CHECK(res.count == cases[i].count, cases[i].label);
		if (cases[i].want) {
			CHECK(!failed && !res.failed, cases[i].label);
			CHECK_STR(value.data, cases[i].want, cases[i].label);
		} else {
			CHECK(failed && res.failed, cases[i].label);
			CHECK(strstr(res.why.data, "expansion limit") != NULL,
			    cases[i].label);
		}
		dict_sql_result_fini(&res);
	}
	/* A NUL byte fails the lookup. */
	dict_sql_result_init(&res, &value, "%s", "k", 0);
	assert_int_equal(dict_sql_result_add(&res, BYTES("a\0b")), -1);
	assert_true(res.failed);
	assert_string_equal(res.why.data, "a result value for key \"k\" "
	    "contains a NUL byte");
	assert_int_equal(dict_sql_result_add(&res, "c", 1), -1);
	dict_sql_result_fini(&res);
	buf_fini(&value);
}

/* ---- the configuration file ---------------------------------------------- */

static void
test_cf(void **state)
{
	static const struct {
		const char *label;
		unsigned flags;
		const char *text;
		const char *error;	/* after "<path>", NULL: loads */
		const char *warning;	/* after "<path>", or NULL */
		const char *query;	/* want, when it loads */
	} cases[] = {
		{"query", 0, "dbname = d\nquery = SELECT a FROM t WHERE "
		    "k = '%s'\n", NULL, NULL,
		    "SELECT a FROM t WHERE k = '%s'"},
		{"continuation and comments", 0, "# comment\n"
		    "query = SELECT a\n    FROM t\n\n# x\n  WHERE k='%u'\n",
		    NULL, NULL, "SELECT a    FROM t  WHERE k='%u'"},
		{"old style", 0, "select_field = goto\ntable = alias\n"
		    "where_field = address\nadditional_conditions = AND "
		    "x LIKE 'a%'\n", NULL, NULL,
		    "SELECT goto FROM alias WHERE address = '%s' AND x LIKE "
		    "'a%%'"},
		{"query wins over old style", 0, "select_field = a\n"
		    "table = t\nwhere_field = k\nquery = SELECT 1\n", NULL,
		    NULL, "SELECT 1"},
		{"select_function (pgsql)", DICT_SQL_CF_HOSTS
		    | DICT_SQL_CF_PGSQL, "select_function = lookup\n", NULL,
		    NULL, "SELECT lookup('%s')"},
		{"missing query", 0, "dbname = d\n", ": missing query", NULL,
		    NULL},
		{"old style incomplete", 0, "select_field = a\ntable = t\n",
		    ": missing query", NULL, NULL},
		{"select_function not for sqlite", 0,
		    "select_function = f\n", ": missing query",
		    ", line 1: unknown parameter \"select_function\" is "
		    "ignored", NULL},
		{"unknown name", 0, "query = x\n\nfoo = bar\n", NULL,
		    ", line 3: unknown parameter \"foo\" is ignored", "x"},
		{"hosts not for sqlite", 0, "hosts = h\nquery = x\n", NULL,
		    ", line 1: unknown parameter \"hosts\" is ignored", "x"},
		{"mysql option_file", DICT_SQL_CF_HOSTS | DICT_SQL_CF_MYSQL,
		    "option_file = /etc/my.cnf\nquery = x\n", NULL,
		    ", line 1: \"option_file\" is not supported and is "
		    "ignored", "x"},
		{"mysql tls", DICT_SQL_CF_HOSTS | DICT_SQL_CF_MYSQL,
		    "query = x\ntls_verify_cert = yes\n", NULL,
		    ", line 2: \"tls_verify_cert\" is not supported and is "
		    "ignored", "x"},
		{"no equals", 0, "query = x\nfoo\n",
		    ", line 2: expected \"name = value\"", NULL, NULL},
		{"bad name", 0, "a b = c\n",
		    ", line 1: bad parameter name \"a b\"", NULL, NULL},
		{"bad query template", 0, "query = SELECT '%x'\n",
		    ", line 1: query: bad % sequence \"%x\" (expected one of "
		    "%% %s %u %d %S %U %D %1..%9)", NULL, NULL},
		{"bad result_format", 0, "query = x\nresult_format = %\n",
		    ", line 2: result_format: '%' at the end", NULL, NULL},
		{"bad expansion_limit", 0, "query = x\nexpansion_limit = -1\n",
		    ", line 2: expansion_limit: bad value \"-1\" (expected 0 "
		    "or more)", NULL, NULL},
		{"domain table type unknown", 0,
		    "query = x\ndomain = a.example nosuch:/etc/d\n",
		    ", line 2: domain: \"nosuch:/etc/d\": unknown table type "
		    "\"nosuch\"", NULL, NULL},
		{"domain not a name", 0, "query = x\ndomain = a/b\n",
		    ", line 2: domain: \"a/b\": expected a domain name, "
		    "type:table or /file", NULL, NULL},
		{"domain no type", 0, "query = x\ndomain = :x\n",
		    ", line 2: domain: \":x\": expected a domain name or "
		    "type:table", NULL, NULL},
		{"domain file missing", 0,
		    "query = x\ndomain = /nonexistent/petrel-test/d\n",
		    ", line 2: domain: open /nonexistent/petrel-test/d: No "
		    "such file or directory", NULL, NULL},
		{"domain table", 0, "query = x\ndomain = inline:{a=b}\n", NULL,
		    NULL, "x"},
		{"bad retry_interval", DICT_SQL_CF_HOSTS,
		    "query = x\nretry_interval = soon\n",
		    ", line 2: retry_interval: bad value \"soon\" (expected a "
		    "time from 0s to 1d)", NULL, NULL},
		{"retry_interval too long", DICT_SQL_CF_HOSTS,
		    "query = x\nretry_interval = 2d\n",
		    ", line 2: retry_interval: bad value \"2d\" (expected a "
		    "time from 0s to 1d)", NULL, NULL},
	};
	struct dict_sql_cf cf;
	struct buf why, want;
	char *path, *err;
	size_t i;
	int rc;

	(void)state;
	buf_init(&why, 0);
	buf_init(&want, 0);
	for (i = 0; i < NELEM(cases); i++) {
		path = write_file("t.cf", cases[i].text);
		buf_reset(&why);
		capture_start();
		rc = dict_sql_cf_load(&cf, path, cases[i].flags, &why);
		err = capture_end();
		if (cases[i].error) {
			CHECK(rc == -1, cases[i].label);
			buf_set(&want, path);
			buf_puts(&want, cases[i].error);
			CHECK_STR(why.data, want.data, cases[i].label);
		} else {
			CHECK(rc == 0, cases[i].label);
			CHECK_STR(cf.query, cases[i].query, cases[i].label);
		}
		if (cases[i].warning) {
			buf_set(&want, path);
			buf_puts(&want, cases[i].warning);
			CHECK(strstr(err, want.data) != NULL, cases[i].label);
		} else {
			CHECK(*err == 0, cases[i].label);
		}
		dict_sql_cf_free(&cf);
		free(err);
		unlink(path);
		free(path);
	}
	buf_fini(&why);
	buf_fini(&want);
}

static void
test_cf_values(void **state)
{
	struct dict_sql_cf cf;
	struct buf why;
	char *path;

	(void)state;
	buf_init(&why, 0);
	path = write_file("v.cf", "hosts = a b\nuser = u\npassword = p w\n"
	    "dbname = mail\nquery = q\nresult_format = smtp:[%s]\n"
	    "domain = example.com,example.net  example.org\n"
	    "expansion_limit = 5\nretry_interval = 2m\nuser = u2\n");
	assert_int_equal(dict_sql_cf_load(&cf, path, DICT_SQL_CF_HOSTS,
	    &why), 0);
	assert_string_equal(cf.hosts, "a b");
	assert_string_equal(cf.user, "u2");	/* the later one wins */
	assert_string_equal(cf.password, "p w");
	assert_string_equal(cf.dbname, "mail");
	assert_string_equal(cf.result_format, "smtp:[%s]");
	assert_int_equal(cf.domains->argc, 3);
	assert_string_equal(cf.domains->argv[2], "example.org");
	assert_int_equal(cf.expansion_limit, 5);
	assert_int_equal(cf.retry_interval, 120);
	dict_sql_cf_free(&cf);
	free(path);

	/* Defaults. */
	path = write_file("v.cf", "query = q\n");
	assert_int_equal(dict_sql_cf_load(&cf, path, 0, &why), 0);
	assert_string_equal(cf.result_format, "%s");
	assert_null(cf.domains);
	assert_null(cf.dbname);
	assert_int_equal(cf.expansion_limit, 0);
	assert_int_equal(cf.retry_interval, DICT_SQL_RETRY_INTERVAL);
	dict_sql_cf_free(&cf);
	free(path);

	/* A missing file. */
	path = tmp_path("none.cf");
	assert_int_equal(dict_sql_cf_load(&cf, path, 0, &why), -1);
	assert_non_null(strstr(why.data, "No such file"));
	dict_sql_cf_free(&cf);
	free(path);
	buf_fini(&why);
}

/* ---- hosts, against a fake back end ------------------------------------ */

/*
 * Hosts are named by their address; a host is down when its address is
 * in fake_down. A connection is a struct fake_conn that can be "broken"
 * (its next query fails as if the server had gone).
 */
struct fake_conn {
	char *host;
	bool broken;
};

static char fake_down[256];
static int fake_connects;
static int fake_queries;
static struct fake_conn *fake_last;
static bool fake_query_error;

static bool
fake_is_down(const char *addr)
{
	struct argv *av = argv_split(fake_down, " ");
	bool down = false;
	size_t i;

	for (i = 0; i < av->argc; i++)
		if (strcmp(av->argv[i], addr) == 0)
			down = true;
	argv_free(av);
	return down;
}

static void *
fake_connect(struct dict_sql *t, struct dict_sql_host *h, struct buf *why)
{
	struct fake_conn *c;

	(void)t;
	fake_connects++;
	if (fake_is_down(h->addr)) {
		buf_printf(why, "connect: %s is down", h->addr);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->host = xstrdup(h->addr);
	fake_last = c;
	return c;
}

static void
fake_disconnect(void *conn)
{
	struct fake_conn *c = conn;

	if (fake_last == c)
		fake_last = NULL;
	free(c->host);
	free(c);
}

static enum dict_sql_status
fake_query(struct dict_sql *t, void *conn, const char *sql, size_t len,
    struct dict_sql_result *res, struct buf *why)
{
	struct fake_conn *c = conn;

	(void)t;
	(void)len;
	fake_queries++;
	if (c->broken || fake_is_down(c->host)) {
		buf_set(why, "query failed: server has gone away");
		return DICT_SQL_ECONN;
	}
	if (fake_query_error) {
		buf_set(why, "query failed: syntax error");
		return DICT_SQL_EQUERY;
	}
	/* The answer says which host ran which query. */
	dict_sql_result_add(res, c->host, strlen(c->host));
	dict_sql_result_add(res, sql, strlen(sql));
	return DICT_SQL_OK;
}

static int
fake_quote(void *ctx, struct buf *out, const char *str, size_t len,
    struct buf *why)
{
	(void)ctx;
	return test_quote(NULL, out, str, len, why);
}

static const struct dict_sql_backend fake_backend = {
	.connect = fake_connect,
	.quote = fake_quote,
	.query = fake_query,
	.disconnect = fake_disconnect,
	.cf_flags = DICT_SQL_CF_HOSTS,
};

static const struct dict_ops fake_ops = {
	.type = "fake",
	.lookup = dict_sql_lookup,
	.close = dict_sql_close,
};

static struct dict *
fake_open(const char *text)
{
	struct dict_sql *t;
	struct buf why;
	char *path = write_file("fake.cf", text);

	buf_init(&why, 0);
	t = dict_sql_open(&fake_ops, &fake_backend, path, O_RDONLY, 0, &why);
	if (t == NULL)
		fail_msg("fake_open: %s", why.data);
	buf_fini(&why);
	free(path);
	fake_down[0] = 0;
	fake_connects = fake_queries = 0;
	fake_query_error = false;
	return &t->d;
}

static void
test_hosts_parse(void **state)
{
	static const struct {
		const char *label, *hosts;
		const char *want;	/* "kind addr port" each, or error */
	} cases[] = {
		{"host", "db", "inet db -"},
		{"host:port", "db:3307", "inet db 3307"},
		{"inet:", "inet:db:3307", "inet db 3307"},
		{"v6", "[::1]:5432", "inet ::1 5432"},
		{"bare v6", "::1", "inet ::1 -"},
		{"unix", "unix:/run/x.sock", "unix /run/x.sock -"},
		{"default", NULL, "inet localhost -"},
		{"bad port", "db:99999", "bad host \"db:99999\""},
		{"empty unix", "unix:", "bad host \"unix:\""},
		{"uri only for pgsql", "postgresql://u:pw@h/db",
		    "bad host \"postgresql://u:***@h/db\""},
	};
	struct dict_sql *t;
	struct buf text, why, got;
	char *path;
	size_t i, j;

	(void)state;
	buf_init(&text, 0);
	buf_init(&why, 0);
	buf_init(&got, 0);
	for (i = 0; i < NELEM(cases); i++) {
		buf_set(&text, "query = q\n");
		if (cases[i].hosts)
			buf_printf(&text, "hosts = %s\n", cases[i].hosts);
		path = write_file("h.cf", text.data);
		buf_reset(&why);
		buf_reset(&got);
		t = dict_sql_open(&fake_ops, &fake_backend, path, O_RDONLY, 0,
		    &why);
		if (t == NULL) {
			buf_puts(&got, strstr(why.data, "hosts: ")
			    ? strstr(why.data, "hosts: ") + 7 : why.data);
		} else {
			for (j = 0; j < t->host_count; j++)
				buf_printf(&got, "%s%s %s %s", j ? " " : "",
				    t->hosts[j].kind == DICT_SQL_HOST_UNIX
				    ? "unix" : "inet", t->hosts[j].addr,
				    t->hosts[j].port ? t->hosts[j].port
				    : "-");
			dict_close(&t->d);
		}
		CHECK_STR(got.data, cases[i].want, cases[i].label);
		free(path);
	}
	buf_fini(&text);
	buf_fini(&why);
	buf_fini(&got);
}

static void
test_hosts_unix_first(void **state)
{
	struct dict_sql *t;
	struct dict *d;
	int round;

	(void)state;
	/* The order is random, but UNIX sockets always come first. */
	for (round = 0; round < 20; round++) {
		d = fake_open("query = q\nhosts = a unix:/s1 b c unix:/s2\n");
		t = (struct dict_sql *)d;
		assert_int_equal(t->host_count, 5);
		assert_int_equal(t->hosts[0].kind, DICT_SQL_HOST_UNIX);
		assert_int_equal(t->hosts[1].kind, DICT_SQL_HOST_UNIX);
		assert_int_equal(t->hosts[2].kind, DICT_SQL_HOST_INET);
		dict_close(d);
	}
}

static void
test_failover(void **state)
{
	struct dict_sql *t;
	struct dict *d;
	struct buf value, want;
	char first[8], second[8];
	char *err;

	(void)state;
	buf_init(&value, 0);
	buf_init(&want, 0);
	d = fake_open("query = k='%s'\nhosts = a b\nretry_interval = 60\n");
	t = (struct dict_sql *)d;
	strcpy(first, t->hosts[0].addr);
	strcpy(second, t->hosts[1].addr);

	/* Both up: the first host answers; its connection is kept. */
	assert_int_equal(dict_lookup(d, "x", &value), DICT_FOUND);
	buf_printf(&want, "%s,k='<x>'", first);
	assert_string_equal(value.data, want.data);
	assert_int_equal(dict_lookup(d, "y", &value), DICT_FOUND);
	assert_int_equal(fake_connects, 1);

	/*
	 * The first goes down: its kept connection fails, one reconnect
	 * fails, it is marked dead and the second answers.
	 */
	strcpy(fake_down, first);
	capture_start();
	assert_int_equal(dict_lookup(d, "x", &value), DICT_FOUND);
	err = capture_end();
	buf_reset(&want);
	buf_printf(&want, "%s,k='<x>'", second);
	assert_string_equal(value.data, want.data);
	buf_reset(&want);
	buf_printf(&want, "warning: table fake:%s: host %s: connect: %s is "
	    "down; not using it for 60 seconds", d->name, first, first);
	assert_non_null(strstr(err, want.data));
	free(err);
	/* The dead host is skipped: the second's connection is used. */
	fake_connects = fake_queries = 0;
	assert_int_equal(dict_lookup(d, "x", &value), DICT_FOUND);
	assert_int_equal(fake_connects, 0);
	assert_int_equal(fake_queries, 1);

	/* Both down: a temporary failure, never "not found". */
	strcpy(fake_down, "a b");
	capture_start();
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_string_equal(value.data, "");
	buf_reset(&want);
	buf_printf(&want, "table fake:%s: no database server is available "
	    "(last error: host %s: connect: %s is down)", d->name, second,
	    second);
	assert_string_equal(dict_error(d), want.data);
	/* Within the retry time nothing is tried. */
	fake_connects = fake_queries = 0;
	fake_down[0] = 0;
	capture_start();
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_int_equal(fake_connects + fake_queries, 0);
	assert_string_equal(dict_error(d), want.data);
	dict_close(d);
	buf_fini(&value);
	buf_fini(&want);
}

static void
test_recovery(void **state)
{
	struct dict *d;
	struct buf value;

	(void)state;
	buf_init(&value, 0);
	/* retry_interval 0: a dead host is tried again at the next lookup. */
	d = fake_open("query = q\nhosts = a\nretry_interval = 0\n");
	strcpy(fake_down, "a");
	capture_start();
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_non_null(strstr(dict_error(d), "last error: host a: "
	    "connect: a is down"));
	time_sleep_ms(3);
	capture_start();
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_int_equal(fake_connects, 2);
	fake_down[0] = 0;
	time_sleep_ms(3);
	assert_int_equal(dict_lookup(d, "x", &value), DICT_FOUND);
	assert_string_equal(value.data, "a,q");

	/* A broken kept connection is reopened once, silently. */
	fake_connects = fake_queries = 0;
	fake_last->broken = true;
	assert_int_equal(dict_lookup(d, "x", &value), DICT_FOUND);
	assert_int_equal(fake_connects, 1);
	assert_int_equal(fake_queries, 2);

	/* A query error is a temporary failure; the host stays usable. */
	fake_connects = fake_queries = 0;
	fake_query_error = true;
	capture_start();
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_non_null(strstr(dict_error(d), ": host a: query failed: "
	    "syntax error"));
	fake_query_error = false;
	assert_int_equal(dict_lookup(d, "x", &value), DICT_FOUND);
	assert_int_equal(fake_connects, 0);

	dict_close(d);

	/* A key the database cannot hold: not found, no query. */
	d = fake_open("query = k='%s'\nhosts = a\n");
	assert_int_equal(dict_lookup(d, "\377@x", &value), DICT_NOTFOUND);
	assert_string_equal(value.data, "");
	assert_int_equal(fake_queries, 0);
	assert_int_equal(dict_lookup(d, "y@x", &value), DICT_FOUND);
	assert_string_equal(value.data, "a,k='<y@x>'");
	dict_close(d);
	buf_fini(&value);
}

/* ---- sqlite ------------------------------------------------------------ */

static void
make_db(void)
{
	static const char sql[] =
	    "CREATE TABLE alias (addr TEXT, dest TEXT);"
	    "INSERT INTO alias VALUES ('joe@example.com', 'joe@mail.org');"
	    "INSERT INTO alias VALUES ('list@example.com', 'a@x.org');"
	    "INSERT INTO alias VALUES ('list@example.com', NULL);"
	    "INSERT INTO alias VALUES ('list@example.com', 'b@x.org');"
	    "INSERT INTO alias VALUES ('list@example.com', '');"
	    "INSERT INTO alias VALUES ('o''brien@example.com', 'ob');"
	    "INSERT INTO alias VALUES ('back\\slash@example.com', 'bs');"
	    "INSERT INTO alias VALUES ('nul@example.com', "
	    "    CAST(X'610062' AS TEXT));"
	    "INSERT INTO alias VALUES ('plain', 'p');"
	    "CREATE TABLE domains (name TEXT, transport TEXT);"
	    "INSERT INTO domains VALUES ('example.com', 'relay');";
	sqlite3 *db;
	char *err = NULL;

	sqlite_db = tmp_path("db.sqlite");
	assert_int_equal(sqlite3_open_v2(sqlite_db, &db, SQLITE_OPEN_READWRITE
	    | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("make_db: %s", err);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Open sqlite:<cf> with dbname = the test database plus text. */
static struct dict *
sqlite_open(const char *text, int open_flags)
{
	struct buf cf;
	struct dict *d;
	char *path;

	buf_init(&cf, 256);
	buf_printf(&cf, "dbname = %s\n%s", sqlite_db, text);
	path = write_file("sqlite.cf", cf.data);
	buf_set(&cf, "sqlite:");
	buf_puts(&cf, path);
	d = dict_open(cf.data, open_flags, DICT_FLAG_NO_CACHE);
	free(path);
	buf_fini(&cf);
	return d;
}

static void
test_sqlite(void **state)
{
	static const char q_alias[] =
	    "query = SELECT dest FROM alias WHERE addr = '%s'\n";
	static const struct {
		const char *label, *cf, *key;
		enum dict_result want;
		const char *value;	/* or the error's tail */
	} cases[] = {
		{"found", q_alias, "joe@example.com", DICT_FOUND,
		    "joe@mail.org"},
		{"not found", q_alias, "nobody@example.com", DICT_NOTFOUND,
		    ""},
		{"rows joined, NULL and empty skipped", q_alias,
		    "list@example.com", DICT_FOUND, "a@x.org,b@x.org"},
		{"quote in key", q_alias, "o'brien@example.com", DICT_FOUND,
		    "ob"},
		{"backslash in key", q_alias, "back\\slash@example.com",
		    DICT_FOUND, "bs"},
		{"injection", q_alias, "x' OR '1'='1", DICT_NOTFOUND, ""},
		{"injection with comment", q_alias, "x' OR 1=1 --",
		    DICT_NOTFOUND, ""},
		{"result_format", "query = SELECT dest FROM alias WHERE "
		    "addr = '%s'\nresult_format = smtp:[%d]\n",
		    "list@example.com", DICT_FOUND,
		    "smtp:[x.org],smtp:[x.org]"},
		{"%d query", "query = SELECT transport FROM domains WHERE "
		    "name = '%d'\n", "any@example.com", DICT_FOUND, "relay"},
		{"%d query, key without @", "query = SELECT transport FROM "
		    "domains WHERE name = '%d'\n", "example.com",
		    DICT_NOTFOUND, ""},
		{"%u query", "query = SELECT dest FROM alias WHERE addr = "
		    "'%u@example.com'\n", "joe@other.org", DICT_FOUND,
		    "joe@mail.org"},
		{"%2 query", "query = SELECT transport FROM domains WHERE "
		    "name = '%2.%1'\n", "u@mx.example.com", DICT_FOUND,
		    "relay"},
		{"domain listed", "query = SELECT dest FROM alias WHERE addr "
		    "= '%s'\ndomain = example.com\n", "joe@example.com",
		    DICT_FOUND, "joe@mail.org"},
		{"domain not listed", "query = SELECT dest FROM alias WHERE "
		    "addr = '%s'\ndomain = example.net\n", "joe@example.com",
		    DICT_NOTFOUND, ""},
		{"domain: bare key", "query = SELECT dest FROM alias WHERE "
		    "addr = '%s'\ndomain = example.com\n", "plain",
		    DICT_NOTFOUND, ""},
		{"domain in a table", "query = SELECT dest FROM alias WHERE "
		    "addr = '%s'\ndomain = inline:{example.com=1}\n",
		    "joe@example.com", DICT_FOUND, "joe@mail.org"},
		{"domain not in a table", "query = SELECT dest FROM alias "
		    "WHERE addr = '%s'\ndomain = inline:{example.net=1}\n",
		    "joe@example.com", DICT_NOTFOUND, ""},
		{"domain table fails", "query = SELECT dest FROM alias WHERE "
		    "addr = '%s'\ndomain = lmdb:/nonexistent/petrel-test/d\n",
		    "joe@example.com", DICT_TEMPFAIL, ": domain: table "
		    "lmdb:/nonexistent/petrel-test/d: open /nonexistent/"
		    "petrel-test/d.lmdb: No such file or directory"},
		{"domain listed before a failing table", "query = SELECT dest "
		    "FROM alias WHERE addr = '%s'\ndomain = example.com "
		    "lmdb:/nonexistent/petrel-test/d\n", "joe@example.com",
		    DICT_FOUND, "joe@mail.org"},
		{"expansion_limit", "query = SELECT dest FROM alias WHERE "
		    "addr = '%s'\nexpansion_limit = 1\n", "list@example.com",
		    DICT_TEMPFAIL, ": expansion limit 1 exceeded for key "
		    "\"list@example.com\""},
		{"NUL in value", q_alias, "nul@example.com", DICT_TEMPFAIL,
		    ": a result value for key \"nul@example.com\" contains a "
		    "NUL byte"},
		{"bad query", "query = SELEC dest FROM alias\n", "k",
		    DICT_TEMPFAIL, ": query failed: near \"SELEC\": syntax "
		    "error"},
		{"no such table", "query = SELECT x FROM nope WHERE y='%s'\n",
		    "k", DICT_TEMPFAIL, ": query failed: no such table: nope"},
		{"two statements", "query = SELECT 1; DELETE FROM alias\n",
		    "k", DICT_TEMPFAIL, ": query failed: more than one "
		    "statement"},
		{"not read-only", "query = DELETE FROM alias WHERE addr = "
		    "'%s'\n", "joe@example.com", DICT_TEMPFAIL,
		    ": query failed: not a read-only statement"},
		{"old style", "select_field = dest\ntable = alias\n"
		    "where_field = addr\nadditional_conditions = AND dest "
		    "LIKE '%.org'\n", "joe@example.com", DICT_FOUND,
		    "joe@mail.org"},
		{"numbers", "query = SELECT 42, 1.5, NULL WHERE '%s' <> ''\n",
		    "k", DICT_FOUND, "42,1.5"},
	};
	struct dict *d;
	struct buf value;
	enum dict_result rc;
	const char *err;
	char *log;
	size_t i, tail;

	(void)state;
	make_db();
	buf_init(&value, 0);
	for (i = 0; i < NELEM(cases); i++) {
		/* A domain table that fails to open says so here. */
		capture_start();
		d = sqlite_open(cases[i].cf, O_RDONLY);
		free(capture_end());
		CHECK(!dict_is_surrogate(d), cases[i].label);
		capture_start();
		rc = dict_lookup(d, cases[i].key, &value);
		log = capture_end();
		CHECK(rc == cases[i].want, cases[i].label);
		if (rc == DICT_TEMPFAIL) {
			err = dict_error(d);
			tail = strlen(cases[i].value);
			CHECK(strlen(err) >= tail, cases[i].label);
			CHECK_STR(err + strlen(err) - tail, cases[i].value,
			    cases[i].label);
			/* dict.c logs the reason. */
			CHECK(strstr(log, err) != NULL, cases[i].label);
		} else {
			CHECK_STR(value.data, cases[i].value, cases[i].label);
			CHECK(*log == 0, cases[i].label);
		}
		free(log);
		dict_close(d);
	}
	buf_fini(&value);
}

static void
test_sqlite_open_errors(void **state)
{
	struct dict *d;
	struct buf value, want;
	char *path, *log;

	(void)state;
	buf_init(&value, 0);
	buf_init(&want, 0);

	/* A missing database file: a surrogate that says why. */
	path = write_file("missing.cf", "dbname = /nonexistent/x.sqlite\n"
	    "query = SELECT 1\n");
	buf_printf(&want, "sqlite:%s", path);
	capture_start();
	d = dict_open(want.data, O_RDONLY, 0);
	log = capture_end();
	assert_true(dict_is_surrogate(d));
	buf_reset(&want);
	buf_printf(&want, "table sqlite:%s: %s: open database "
	    "/nonexistent/x.sqlite: unable to open database file", path, path);
	assert_string_equal(dict_error(d), want.data);
	assert_non_null(strstr(log, want.data));
	assert_int_equal(dict_lookup(d, "k", &value), DICT_TEMPFAIL);
	dict_close(d);
	free(log);
	free(path);

	/* No dbname. */
	path = write_file("nodb.cf", "query = SELECT 1\n");
	buf_reset(&want);
	buf_printf(&want, "sqlite:%s", path);
	capture_start();
	d = dict_open(want.data, O_RDONLY, 0);
	free(capture_end());
	buf_reset(&want);
	buf_printf(&want, "table sqlite:%s: %s: missing dbname", path, path);
	assert_string_equal(dict_error(d), want.data);
	dict_close(d);
	free(path);

	/* Read-only: no creating, no updates. */
	capture_start();
	d = sqlite_open("query = SELECT 1\n", O_RDWR | O_CREAT | O_TRUNC);
	free(capture_end());
	assert_true(dict_is_surrogate(d));
	assert_non_null(strstr(dict_error(d), "SQL tables are read-only"));
	dict_close(d);
	d = sqlite_open("query = SELECT 1\n", O_RDONLY);
	assert_false(dict_is_surrogate(d));
	assert_int_equal(dict_update(d, "k", "v"), DICT_TEMPFAIL);
	assert_int_equal(dict_lookup(d, "k", &value), DICT_FOUND);
	assert_string_equal(value.data, "1");
	dict_close(d);

	/* Keys are folded before expansion with DICT_FLAG_FOLD. */
	buf_reset(&want);
	buf_printf(&want, "dbname = %s\nquery = SELECT '%%s'\n", sqlite_db);
	path = write_file("fold.cf", want.data);
	buf_reset(&want);
	buf_printf(&want, "sqlite:%s", path);
	d = dict_open(want.data, O_RDONLY, DICT_FLAG_FOLD);
	assert_int_equal(dict_lookup(d, "Joe@Example.COM", &value),
	    DICT_FOUND);
	assert_string_equal(value.data, "joe@example.com");
	dict_close(d);
	free(path);
	buf_fini(&value);
	buf_fini(&want);
}

/* dict_changed() with its message captured (asserts outside). */
static bool
changed_quiet(void)
{
	bool ok;

	capture_start();
	ok = dict_changed();
	free(capture_end());
	return ok;
}

/* Run sql in the sqlite database at path (created if need be). */
static void
db_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE
	    | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("db_exec: %s", err);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static struct dict *
open_logged(const char *name, char **log)
{
	struct dict *d;

	capture_start();
	d = dict_open(name, O_RDONLY, 0);
	*log = capture_end();
	return d;
}

/*
 * What an SQL table reads is watched: a missing sqlite database or
 * domain file is noticed when it appears (the surrogate watches it), and
 * once the table works, a changed domain file or configuration file is
 * noticed as well. The database's own changes are not: lookups see
 * them as they are.
 */
static void
test_sql_watch(void **state)
{
	char *db, *dom, *cf, *cf2, *log;
	struct buf text, name, name2, value;
	struct dict *d, *d2;

	(void)state;
	buf_init(&text, 256);
	buf_init(&name, 256);
	buf_init(&name2, 256);
	buf_init(&value, 0);
	db = tmp_path("later.sqlite");
	dom = tmp_path("later.domains");
	assert_false(dict_changed());

	/* The database file appears. */
	buf_printf(&text, "dbname = %s\nquery = SELECT dest FROM alias "
	    "WHERE addr = '%%s'\n", db);
	cf = write_file("later.cf", text.data);
	buf_printf(&name, "sqlite:%s", cf);
	d = open_logged(name.data, &log);
	assert_true(dict_is_surrogate(d));
	assert_non_null(strstr(log, "unable to open database file"));
	free(log);
	assert_false(dict_changed());
	db_exec(db, "CREATE TABLE alias (addr TEXT, dest TEXT);"
	    "INSERT INTO alias VALUES ('joe@example.com', 'joe@mail.org');");
	assert_true(changed_quiet());
	d2 = open_logged(name.data, &log);
	assert_false(dict_is_surrogate(d2));
	assert_string_equal(log, "");
	free(log);
	assert_int_equal(dict_lookup(d2, "joe@example.com", &value),
	    DICT_FOUND);
	assert_string_equal(value.data, "joe@mail.org");
	dict_close(d);
	/* Rows change under a working table: no restart needed. */
	assert_false(dict_changed());
	db_exec(db, "INSERT INTO alias VALUES ('ann@example.com', 'ann');");
	assert_false(dict_changed());
	assert_int_equal(dict_lookup(d2, "ann@example.com", &value),
	    DICT_FOUND);
	/* Its configuration changes: a restart reads it again. */
	buf_puts(&text, "# edited\n");
	free(write_file("later.cf", text.data));
	assert_true(changed_quiet());
	dict_close(d2);
	assert_false(dict_changed());

	/* A domain file appears, then changes. */
	buf_reset(&text);
	buf_printf(&text, "dbname = %s\nquery = SELECT dest FROM alias "
	    "WHERE addr = '%%s'\ndomain = %s\n", db, dom);
	cf2 = write_file("later2.cf", text.data);
	buf_printf(&name2, "sqlite:%s", cf2);
	d = open_logged(name2.data, &log);
	assert_true(dict_is_surrogate(d));
	assert_non_null(strstr(log, "No such file or directory"));
	free(log);
	assert_false(dict_changed());
	free(write_file("later.domains", "example.com\n"));
	assert_true(changed_quiet());
	dict_close(d);
	d = open_logged(name2.data, &log);
	assert_false(dict_is_surrogate(d));
	free(log);
	assert_int_equal(dict_lookup(d, "joe@example.com", &value),
	    DICT_FOUND);
	assert_false(dict_changed());
	free(write_file("later.domains", "example.net\n"));
	assert_true(changed_quiet());
	dict_close(d);
	assert_false(dict_changed());

	free(db);
	free(dom);
	free(cf);
	free(cf2);
	buf_fini(&text);
	buf_fini(&name);
	buf_fini(&name2);
	buf_fini(&value);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_query),
		cmocka_unit_test(test_template_check),
		cmocka_unit_test(test_key_ok),
		cmocka_unit_test(test_expand_result),
		cmocka_unit_test(test_domain_ok),
		cmocka_unit_test(test_result_join_limit),
		cmocka_unit_test(test_cf),
		cmocka_unit_test(test_cf_values),
		cmocka_unit_test(test_hosts_parse),
		cmocka_unit_test(test_hosts_unix_first),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_sqlite),
		cmocka_unit_test(test_sqlite_open_errors),
		cmocka_unit_test(test_sql_watch),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
