/*
 * test_mkmap.c - unit tests for building tables from sources (mkmap.c)
 *
 * Table-driven builds in both formats: each case writes a source file,
 * builds it into an lmdb table and then a cdb table, and compares the
 * result status, the error (with file and line), the warnings, and the
 * entries of the table (sorted "key=value"). A failed build must leave
 * the table built before it untouched, with no stray files. Also: the
 * table name rules, a source given as a stream, the duplicate flags,
 * mkmap_add() (petrel map -i) and mkmap_newaliases() with two tables.
 * "SRC" in expected text stands for the source file's path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "dict.h"
#include "mkmap.h"
#include "msg.h"
#include "params.h"

static char tmpdir[] = "/tmp/petrel-test-mkmap-XXXXXX";

/* "<tmpdir>/name" (static storage, a few at a time). */
static const char *
tmp_path(const char *name)
{
	static struct buf path[4];
	static int next;
	struct buf *b = &path[next++ % 4];

	if (b->data == NULL)
		buf_init(b, 64);
	buf_reset(b);
	buf_printf(b, "%s/%s", tmpdir, name);
	return b->data;
}

/* "type:<tmpdir>/name" */
static const char *
tmp_table(const char *type, const char *name)
{
	static struct buf path[2];
	static int next;
	struct buf *b = &path[next++ % 2];

	if (b->data == NULL)
		buf_init(b, 64);
	buf_reset(b);
	buf_printf(b, "%s:%s/%s", type, tmpdir, name);
	return b->data;
}

static void
write_file(const char *name, const char *text, size_t len)
{
	FILE *fp = fopen(tmp_path(name), "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* text with every word replaced by with (caller frees). */
static char *
subst_word(const char *text, const char *word, const char *with)
{
	struct buf out;
	const char *cp;

	buf_init(&out, 64);
	while ((cp = strstr(text, word)) != NULL) {
		buf_append(&out, text, (size_t)(cp - text));
		buf_puts(&out, with);
		text = cp + strlen(word);
	}
	buf_puts(&out, text);
	return buf_steal(&out);
}

static char *
subst(const char *text, const char *src)
{
	return subst_word(text, "SRC", src);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The table's entries as sorted "k=v" joined by "|"; "(none)" if absent. */
static char *
dump(const char *table)
{
	struct buf why, key, value, out;
	struct argv *entries;
	enum dict_seq seq;
	struct dict *d;
	size_t i;

	buf_init(&why, 64);
	buf_init(&out, 64);
	d = dict_open_strict(table, O_RDONLY, DICT_FLAG_NO_CACHE, &why);
	buf_fini(&why);
	if (d == NULL) {
		buf_puts(&out, "(none)");
		return buf_steal(&out);
	}
	buf_init(&key, 16);
	buf_init(&value, 16);
	entries = argv_new();
	for (seq = DICT_SEQ_FIRST; dict_iterate(d, seq, &key, &value)
	    == DICT_FOUND; seq = DICT_SEQ_NEXT) {
		buf_puts(&key, "=");
		buf_puts(&key, value.data);
		argv_add(entries, key.data);
	}
	qsort(entries->argv, entries->argc, sizeof(char *), cmp_str);
	for (i = 0; i < entries->argc; i++)
		buf_printf(&out, "%s%s", i ? "|" : "", entries->argv[i]);
	argv_free(entries);
	buf_fini(&key);
	buf_fini(&value);
	dict_close(d);
	return buf_steal(&out);
}

/* The names in the test directory, sorted, space-separated. */
static char *
dir_list(void)
{
	struct dirent **names;
	struct buf out;
	int n, i;

	n = scandir(tmpdir, &names, NULL, alphasort);
	assert_true(n >= 0);
	buf_init(&out, 64);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			buf_printf(&out, "%s%s", out.len ? " " : "",
			    names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return buf_steal(&out);
}

static void
clean_dir(void)
{
	struct dirent *e;
	DIR *dir = opendir(tmpdir);

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			assert_int_equal(unlink(tmp_path(e->d_name)), 0);
	closedir(dir);
}

static void
check_text(const char *label, const char *what, const char *got,
    const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s: %s:\n--- got ---\n%s\n--- want ---\n%s", label,
		    what, got, want);
}

/* Compare an error, with TABLE in want standing for table. */
static void
check_error(const char *label, const char *got, const char *want,
    const char *table)
{
	char *text = subst_word(want, "TABLE", table);

	check_text(label, "error", got, text);
	free(text);
}

/*
 * Builds.
 */
struct build_case {
	const char *label;
	int format;
	const char *source;
	size_t len;		/* 0: strlen(source) */
	int status;
	const char *why;	/* the error, "" when none */
	const char *entries;	/* after success */
	const char *warnings;	/* the captured diagnostics, "" for none */
};

#define P	MKMAP_POSTMAP
#define A	MKMAP_ALIAS
/* Every error names the table first ("TABLE" stands for its name). */
#define T	"table TABLE: "

static const struct build_case build_cases[] = {
	/* postmap format */
	{"postmap simple", P, "a 1\nB  two words  \n", 0, 0, "",
	    "a=1|b=two words", ""},
	{"postmap empty", P, "", 0, 0, "", "", ""},
	{"postmap comments, continuation", P,
	    "# comment\na 1\n  2\n\n   # indented comment\nb\tx\n", 0, 0, "",
	    "a=1  2|b=x", ""},
	{"postmap crlf", P, "a 1\r\nb 2\r\n", 0, 0, "", "a=1|b=2", ""},
	{"postmap duplicate", P, "a 1\nA 2\n", 0, 0, "", "a=1",
	    "warning: SRC, line 2: duplicate entry: \"A\"\n"},
	{"postmap missing value", P, "a 1\nb\n", 0, EX_DATAERR,
	    T "SRC, line 2: expected format: key whitespace value", NULL, ""},
	{"postmap missing value after continuation", P, "a 1\n\nb\n\n", 0,
	    EX_DATAERR, T "SRC, line 3: expected format: key whitespace value",
	    NULL, ""},
	{"postmap leading whitespace", P, "  a 1\n", 0, EX_DATAERR,
	    T "SRC, line 1: logical line must not start with whitespace",
	    NULL, ""},
	{"postmap NUL byte", P, BYTES("a 1\nb x\0y\n"), EX_DATAERR,
	    T "SRC, line 2: NUL byte in line", NULL, ""},
	{"postmap key too long", P, NULL, 0, EX_CANTCREAT,
	    T "SRC, line 1: key of 5000 bytes is longer than the limit of "
	    "4096", NULL, ""},

	/* aliases(5) format */
	{"alias simple", A, "root: admin\nPostMaster: root\n", 0, 0, "",
	    "@=@|postmaster=root|root=admin", ""},
	{"alias empty", A, "", 0, 0, "", "@=@", ""},
	{"alias continuation", A, "list: a,\n  b,\n\tc\n# c\nx: y\n", 0, 0,
	    "", "@=@|list=a,  b,\tc|x=y", ""},
	{"alias no space", A, "a:b\n", 0, 0, "", "@=@|a=b", ""},
	{"alias value as written", A,
	    "a :   :include:/etc/list ,  \"|/bin/x y\"  \n", 0, 0, "",
	    "@=@|a=:include:/etc/list ,  \"|/bin/x y\"", ""},
	{"alias quoted names", A,
	    "\"John Smith\": john\n\"a\\\"b\": x\n\"x:y\" : z\n", 0, 0, "",
	    "@=@|a\"b=x|john smith=john|x:y=z", ""},
	{"alias duplicate", A, "a: 1\nb: 2\nA: 3\n", 0, 0, "", "@=@|a=1|b=2",
	    "warning: SRC, line 3: duplicate entry: \"A\"\n"},
	{"alias own @ entry", A, "@: x\n", 0, 0, "", "@=x", ""},
	{"alias missing colon", A, "a: b\nc d\n", 0, EX_DATAERR,
	    T "SRC, line 2: missing ':' after the alias name", NULL, ""},
	{"alias missing colon, quoted", A, "\"c d\"\n", 0, EX_DATAERR,
	    T "SRC, line 1: missing ':' after the alias name", NULL, ""},
	{"alias empty name", A, ": x\n", 0, EX_DATAERR,
	    T "SRC, line 1: empty alias name", NULL, ""},
	{"alias empty quoted name", A, "\"\": x\n", 0, EX_DATAERR,
	    T "SRC, line 1: empty alias name", NULL, ""},
	{"alias unterminated quote", A, "a: b\n\n\"ab: x\n", 0, EX_DATAERR,
	    T "SRC, line 3: unterminated quoted alias name", NULL, ""},
	{"alias text after quote", A, "\"ab\" c: x\n", 0, EX_DATAERR,
	    T "SRC, line 1: unexpected text after the quoted alias name",
	    NULL, ""},
	{"alias whitespace in name", A, "a b: x\n", 0, EX_DATAERR,
	    T "SRC, line 1: alias name \"a b\" contains whitespace (quote it)",
	    NULL, ""},
	{"alias no value", A, "a: b\nc:\n", 0, EX_DATAERR,
	    T "SRC, line 2: no value for alias \"c\"", NULL, ""},
	{"alias no value, continued", A, "a: b\nc:\n   \n", 0, EX_DATAERR,
	    T "SRC, line 2: no value for alias \"c\"", NULL, ""},
	{"alias leading whitespace", A, " a: b\n", 0, EX_DATAERR,
	    T "SRC, line 1: logical line must not start with whitespace",
	    NULL, ""},
	{"alias NUL byte", A, BYTES("a: b\nc: \0\n"), EX_DATAERR,
	    T "SRC, line 2: NUL byte in line", NULL, ""},
};

static void
run_build_case(const struct build_case *c, const char *type)
{
	struct buf why, label, source;
	char *got, *want, *diag, *dir;
	const char *table = tmp_table(type, "src"), *old;
	int status;

	buf_init(&why, 64);
	buf_init(&label, 64);
	buf_init(&source, 64);
	buf_printf(&label, "%s (%s)", c->label, type);
	clean_dir();
	if (c->source != NULL) {
		buf_append(&source, c->source, c->len ? c->len
		    : strlen(c->source));
	} else {
		/* The one case built here: a key too long for any table. */
		for (int i = 0; i < 5000; i++)
			buf_putc(&source, 'k');
		buf_puts(&source, " v\n");
	}
	/* An old table that a failed build must leave alone. */
	old = c->format == A ? "old: o\n" : "old o\n";
	write_file("src", old, strlen(old));
	status = mkmap_build(table, NULL, NULL, c->format, DICT_FLAG_FOLD,
	    &why);
	if (status != 0)
		fail_msg("%s: old table: %s", label.data, why.data);
	write_file("src", source.data, source.len);

	msg_error_reset();
	capture_start();
	status = mkmap_build(table, NULL, NULL, c->format, DICT_FLAG_FOLD,
	    &why);
	diag = capture_end();
	if (status != c->status)
		fail_msg("%s: status %d, want %d (%s)", label.data, status,
		    c->status, why.data);
	if (c->status != 0) {
		/* Errors name the table: TABLE. */
		char *w = subst(c->why, tmp_path("src"));

		want = subst_word(w, "TABLE", table);
		free(w);
		check_text(label.data, "error", why.data, want);
		free(want);
	}
	/* Only the warnings, without the program name. */
	want = subst(c->warnings, tmp_path("src"));
	got = strstr(diag, "warning: ");
	check_text(label.data, "diagnostics", got ? got : diag, want);
	free(want);
	free(diag);

	got = dump(table);
	check_text(label.data, "entries", got, c->status == 0 ? c->entries
	    : c->format == A ? "@=@|old=o" : "old=o");
	free(got);
	dir = dir_list();
	check_text(label.data, "files", dir, strcmp(type, "cdb") == 0
	    ? "src src.cdb" : "src src.lmdb");
	free(dir);
	buf_fini(&why);
	buf_fini(&label);
	buf_fini(&source);
}

static void
test_build_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(build_cases); i++) {
		run_build_case(&build_cases[i], "hash");
		run_build_case(&build_cases[i], "cdb");
	}
}

/*
 * Table names.
 */
static const struct {
	const char *label;
	const char *arg;
	const char *want;
} name_cases[] = {
	{"bare path", "/etc/x", "hash:/etc/x"},
	{"typed", "lmdb:/etc/x", "lmdb:/etc/x"},
	{"other type", "cdb:x", "cdb:x"},
	{"colon in a path", "./a:b", "hash:./a:b"},
	{"colon in a path 2", "/etc/a:b", "hash:/etc/a:b"},
	{"trailing colon", "x:", "hash:x:"},
	{"leading colon", ":x", "hash::x"},
	{"dash and underscore", "my_type-2:x", "my_type-2:x"},
};

static void
test_type_name(void **state)
{
	struct buf out, why, text;
	size_t i;

	(void)state;
	buf_init(&out, 32);
	buf_init(&why, 32);
	buf_init(&text, 64);
	for (i = 0; i < NELEM(name_cases); i++) {
		assert_int_equal(mkmap_type_name(name_cases[i].arg, &out,
		    &why), 0);
		check_text(name_cases[i].label, "name", out.data,
		    name_cases[i].want);
	}

	/* An unknown default type names the parameter, when it is used. */
	clean_dir();
	buf_printf(&text, "default_database_type = frob\n");
	write_file("main.cf", text.data, text.len);
	assert_int_equal(conf_load(tmpdir, NULL), 0);
	assert_int_equal(mkmap_type_name("/etc/x", &out, &why), -1);
	check_text("unknown default type", "error", why.data,
	    "default_database_type = frob: unknown table type");
	assert_int_equal(mkmap_type_name("cdb:/etc/x", &out, &why), 0);
	check_text("typed name, unknown default", "name", out.data,
	    "cdb:/etc/x");
	write_file("src", "a b\n", 4);
	assert_int_equal(mkmap_build(tmp_path("src"), NULL, NULL, P, 0,
	    &why), EX_CONFIG);
	check_text("build, unknown default type", "error", why.data,
	    "default_database_type = frob: unknown table type");
	/* Back to the defaults for the other tests. */
	param_init_defaults();
	unlink(tmp_path("main.cf"));
	buf_fini(&out);
	buf_fini(&why);
	buf_fini(&text);
}

static void
test_bad_tables(void **state)
{
	struct buf why;
	char *want;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	write_file("src", "a b\n", 4);
	assert_int_equal(mkmap_build(tmp_table("nosuch", "src"), NULL, NULL,
	    P, 0, &why), EX_CONFIG);
	assert_non_null(strstr(why.data, "unknown table type \"nosuch\""));
	assert_int_equal(mkmap_build(tmp_table("texthash", "src"), NULL, NULL,
	    P, 0, &why), EX_CONFIG);
	assert_non_null(strstr(why.data, "cannot be built"));
	/* A missing source: EX_NOINPUT, and no table appears. */
	assert_int_equal(mkmap_build(tmp_table("hash", "none"), NULL, NULL,
	    P, 0, &why), EX_NOINPUT);
	want = subst("table TABLE: open SRC: No such file or directory",
	    tmp_path("none"));
	check_error("missing source", why.data, want,
	    tmp_table("hash", "none"));
	free(want);
	assert_int_equal(mkmap_build(tmp_table("cdb", "none"), NULL, NULL,
	    A, 0, &why), EX_NOINPUT);
	/* An unreadable source (root could read it anyway). */
	if (geteuid() != 0) {
		write_file("secret", "a b\n", 4);
		assert_int_equal(chmod(tmp_path("secret"), 0), 0);
		assert_int_equal(mkmap_build(tmp_table("lmdb", "secret"), NULL,
		    NULL, P, 0, &why), EX_NOINPUT);
		want = subst("table TABLE: open SRC: Permission denied",
		    tmp_path("secret"));
		check_error("unreadable source", why.data, want,
		    tmp_table("lmdb", "secret"));
		free(want);
		assert_int_equal(unlink(tmp_path("secret")), 0);
	}
	/* No directory for the table. */
	assert_int_equal(mkmap_build(tmp_table("hash", "nodir/t"),
	    tmp_path("src"), NULL, P, 0, &why), EX_CANTCREAT);
	want = dir_list();
	check_text("bad tables", "files", want, "src");
	free(want);
	buf_fini(&why);
}

/* A source from a stream (stdin), named in messages by source_path. */
static void
test_stream_and_flags(void **state)
{
	struct buf why;
	char *got;
	FILE *fp;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	fp = fmemopen((void *)"K v1\nk v2\nX y\n", 14, "r");
	assert_non_null(fp);
	capture_start();
	assert_int_equal(mkmap_build(tmp_table("lmdb", "t"), "-", fp, P,
	    DICT_FLAG_DUP_REPLACE, &why), 0);
	got = capture_end();
	check_text("DUP_REPLACE", "diagnostics", got, "");
	free(got);
	fclose(fp);
	got = dump(tmp_table("lmdb", "t"));
	check_text("DUP_REPLACE, no folding", "entries", got, "K=v1|X=y|k=v2");
	free(got);

	fp = fmemopen((void *)"a: 1\nbad\n", 9, "r");
	assert_non_null(fp);
	assert_int_equal(mkmap_build(tmp_table("lmdb", "t"), "stdin", fp, A,
	    DICT_FLAG_DUP_IGNORE, &why), EX_DATAERR);
	check_error("stream error", why.data, "table TABLE: stdin, line 2: "
	    "missing ':' after the alias name", tmp_table("lmdb", "t"));
	fclose(fp);

	fp = fmemopen((void *)"a: 1\nA: 2\n", 10, "r");
	assert_non_null(fp);
	capture_start();
	assert_int_equal(mkmap_build(tmp_table("lmdb", "t"), "stdin", fp, A,
	    DICT_FLAG_FOLD | DICT_FLAG_DUP_IGNORE, &why), 0);
	got = capture_end();
	check_text("DUP_IGNORE", "diagnostics", got, "");
	free(got);
	fclose(fp);
	got = dump(tmp_table("lmdb", "t"));
	check_text("DUP_IGNORE", "entries", got, "@=@|a=1");
	free(got);
	buf_fini(&why);
}

/* petrel map -i: checked first, then added; a key's value replaced. */
static void
test_add(void **state)
{
	struct buf why;
	char *got;
	FILE *fp;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	write_file("t", "a 1\nb 2\n", 8);
	assert_int_equal(mkmap_build(tmp_table("lmdb", "t"), NULL, NULL, P,
	    DICT_FLAG_FOLD, &why), 0);
	fp = fmemopen((void *)"B two\nc 3\n", 10, "r");
	assert_int_equal(mkmap_add(tmp_table("lmdb", "t"), "stdin", fp, P,
	    DICT_FLAG_FOLD, &why), 0);
	fclose(fp);
	got = dump(tmp_table("lmdb", "t"));
	check_text("add", "entries", got, "a=1|b=two|c=3");
	free(got);

	fp = fmemopen((void *)"d 4\nbad\n", 8, "r");
	assert_int_equal(mkmap_add(tmp_table("lmdb", "t"), "stdin", fp, P,
	    DICT_FLAG_FOLD, &why), EX_DATAERR);
	fclose(fp);
	check_error("add bad line", why.data, "table TABLE: stdin, line 2: "
	    "expected format: key whitespace value", tmp_table("lmdb", "t"));
	got = dump(tmp_table("lmdb", "t"));
	check_text("add bad line", "entries", got, "a=1|b=two|c=3");
	free(got);

	/* A new table; aliases get the "@" entry. */
	fp = fmemopen((void *)"x: y\n", 5, "r");
	assert_int_equal(mkmap_add(tmp_table("lmdb", "new"), "stdin", fp, A,
	    DICT_FLAG_FOLD, &why), 0);
	fclose(fp);
	got = dump(tmp_table("lmdb", "new"));
	check_text("add new", "entries", got, "@=@|x=y");
	free(got);

	/* cdb cannot be changed. */
	write_file("c", "a 1\n", 4);
	assert_int_equal(mkmap_build(tmp_table("cdb", "c"), NULL, NULL, P, 0,
	    &why), 0);
	fp = fmemopen((void *)"x y\n", 4, "r");
	assert_int_equal(mkmap_add(tmp_table("cdb", "c"), "stdin", fp, P, 0,
	    &why), EX_CANTCREAT);
	fclose(fp);
	assert_non_null(strstr(why.data, "only rebuilt"));
	got = dir_list();
	check_text("add", "files", got, "c c.cdb new.lmdb t t.lmdb");
	free(got);
	buf_fini(&why);
}

/* newaliases: every table in alias_database; a bad one does not stop it. */
static void
test_newaliases(void **state)
{
	struct buf text;
	char *got, *diag;

	(void)state;
	clean_dir();
	buf_init(&text, 128);
	buf_printf(&text, "alias_database = hash:%s/one,\n\tcdb:%s/two\n",
	    tmpdir, tmpdir);
	write_file("main.cf", text.data, text.len);
	assert_int_equal(conf_load(tmpdir, NULL), 0);
	write_file("one", "Root: admin\n", 12);
	write_file("two", "pm: root,\n  other\n", 18);
	assert_int_equal(mkmap_newaliases(DICT_FLAG_FOLD), 0);
	got = dump(tmp_table("lmdb", "one"));
	check_text("newaliases one", "entries", got, "@=@|root=admin");
	free(got);
	got = dump(tmp_table("cdb", "two"));
	check_text("newaliases two", "entries", got, "@=@|pm=root,  other");
	free(got);

	/* The first fails; the second is still rebuilt. */
	write_file("one", "bad line\n", 9);
	write_file("two", "pm: new\n", 8);
	msg_error_reset();
	capture_start();
	assert_int_equal(mkmap_newaliases(DICT_FLAG_FOLD), EX_DATAERR);
	diag = capture_end();
	got = subst("error: table hash:SRC: SRC, line 1: missing ':' after "
	    "the alias name\n", tmp_path("one"));
	assert_non_null(strstr(diag, got));
	free(got);
	free(diag);
	got = dump(tmp_table("lmdb", "one"));
	check_text("newaliases one kept", "entries", got, "@=@|root=admin");
	free(got);
	got = dump(tmp_table("cdb", "two"));
	check_text("newaliases two rebuilt", "entries", got, "@=@|pm=new");
	free(got);
	buf_fini(&text);
}

static int
setup(void **state)
{
	(void)state;
	param_init_defaults();
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	clean_dir();
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_cases),
		cmocka_unit_test(test_type_name),
		cmocka_unit_test(test_bad_tables),
		cmocka_unit_test(test_stream_and_flags),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_newaliases),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
