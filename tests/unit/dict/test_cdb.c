/*
 * test_cdb.c - unit tests for cdb: tables (dict_cdb.c)
 *
 * Building (O_CREAT|O_TRUNC) then committing: nothing visible before the
 * commit, the table and only the table afterwards; lookups, iteration,
 * duplicates under each flag (table-driven), deleting while building, no
 * changes to an existing table, a missing or short file, a build closed
 * without commit (no file left, the old table intact), the old table's
 * mode kept, and dict_changed() after a rebuild.
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
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"

#define CREATE		(O_RDWR | O_CREAT | O_TRUNC)

static char tmpdir[] = "/tmp/petrel-test-cdb-XXXXXX";

/* "lmdb:<tmpdir>/name" or "<tmpdir>/name<suffix>" (static storage). */
static const char *
tmp_name(const char *type, const char *name, const char *suffix)
{
	static struct buf path[4];
	static int next;
	struct buf *b = &path[next++ % 4];

	if (b->data == NULL)
		buf_init(b, 64);
	buf_reset(b);
	buf_printf(b, "%s%s%s/%s%s", type ? type : "", type ? ":" : "",
	    tmpdir, name, suffix ? suffix : "");
	return b->data;
}

/*
 * The reason dict_open_strict() gives for a table it cannot open:
 * "table cdb:<tmpdir>/name: open <tmpdir>/name<rest>" (static storage).
 */
static const char *
open_reason(const char *name, const char *rest)
{
	static struct buf want;

	if (want.data == NULL)
		buf_init(&want, 128);
	buf_reset(&want);
	buf_printf(&want, "table cdb:%s/%s: open %s/%s%s", tmpdir, name,
	    tmpdir, name, rest);
	return want.data;
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
		if (strcmp(names[i]->d_name, ".") != 0
		    && strcmp(names[i]->d_name, "..") != 0)
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
			assert_int_equal(unlink(tmp_name(NULL, e->d_name,
			    NULL)), 0);
	closedir(dir);
}

static void
check_dir(const char *want)
{
	char *got = dir_list();

	if (strcmp(got, want) != 0)
		fail_msg("directory holds \"%s\", want \"%s\"", got, want);
	free(got);
}

static struct dict *
open_ok(const char *name, int open_flags, int dict_flags)
{
	struct buf why;
	struct dict *d;

	buf_init(&why, 64);
	d = dict_open_strict(name, open_flags, dict_flags | DICT_FLAG_NO_CACHE,
	    &why);
	if (d == NULL)
		fail_msg("open %s: %s", name, why.data);
	buf_fini(&why);
	return d;
}

static void
commit_ok(struct dict *d)
{
	struct buf why;

	buf_init(&why, 64);
	if (dict_commit(d, &why) != 0)
		fail_msg("commit %s: %s", d->full_name, why.data);
	buf_fini(&why);
}

/* Build name from "k=v" pairs and commit. */
static void
build(const char *name, const char *const *pairs, int dict_flags)
{
	struct dict *d = open_ok(name, CREATE, dict_flags);
	char *k, *eq;

	for (; *pairs; pairs++) {
		k = strdup(*pairs);
		eq = strchr(k, '=');
		*eq = 0;
		assert_int_not_equal(dict_update(d, k, eq + 1), DICT_TEMPFAIL);
		free(k);
	}
	commit_ok(d);
	dict_close(d);
}

static void
expect(struct dict *d, const char *key, enum dict_result want_rc,
    const char *want_value, const char *label)
{
	struct buf value;
	enum dict_result rc;

	buf_init(&value, 16);
	rc = dict_lookup(d, key, &value);
	if (rc != want_rc)
		fail_msg("%s: lookup \"%s\": result %d, want %d (%s)", label,
		    key, rc, want_rc, dict_error(d));
	if (want_value && strcmp(value.data, want_value) != 0)
		fail_msg("%s: lookup \"%s\": \"%s\", want \"%s\"", label, key,
		    value.data, want_value);
	buf_fini(&value);
}

/* "k=v k=v" from an iteration. */
static char *
dump(struct dict *d)
{
	struct buf out, key, value;
	enum dict_seq seq;
	enum dict_result rc;

	buf_init(&out, 64);
	buf_init(&key, 16);
	buf_init(&value, 16);
	for (seq = DICT_SEQ_FIRST; (rc = dict_iterate(d, seq, &key, &value))
	    == DICT_FOUND; seq = DICT_SEQ_NEXT)
		buf_printf(&out, "%s%s=%s", out.len ? " " : "", key.data,
		    value.data);
	assert_int_equal(rc, DICT_NOTFOUND);
	buf_fini(&key);
	buf_fini(&value);
	return buf_steal(&out);
}

static void
check_dump(struct dict *d, const char *want, const char *label)
{
	char *got = dump(d);

	if (strcmp(got, want) != 0)
		fail_msg("%s: entries \"%s\", want \"%s\"", label, got, want);
	free(got);
}

/* Entries come back in the order they were added. */
static void
test_create_commit(void **state)
{
	static const char *const pairs[] = {"b=2", "a=1", "Mixed=Case",
	    "c=three words", "empty=", NULL};
	struct dict *d, *r;
	struct buf why, value;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	buf_init(&value, 64);
	d = open_ok(tmp_name("cdb", "t", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "a", "1"), DICT_NOTFOUND);
	/* Readers do not see a table being built; nor does the builder. */
	assert_null(dict_open_strict(tmp_name("cdb", "t", NULL), O_RDONLY,
	    DICT_FLAG_NO_CACHE, &why));
	assert_string_equal(why.data,
	    open_reason("t", ".cdb: No such file or directory"));
	capture_start();
	assert_int_equal(dict_lookup(d, "a", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_non_null(strstr(dict_error(d), "before it is committed"));
	commit_ok(d);
	check_dir("t.cdb");
	/* After the commit the builder can read it. */
	expect(d, "a", DICT_FOUND, "1", "read after commit");
	assert_int_equal(dict_update(d, "x", "y"), DICT_TEMPFAIL);
	dict_close(d);

	build(tmp_name("cdb", "t", NULL), pairs, 0);
	check_dir("t.cdb");
	r = open_ok(tmp_name("cdb", "t", NULL), O_RDONLY, 0);
	expect(r, "a", DICT_FOUND, "1", "built");
	expect(r, "c", DICT_FOUND, "three words", "built");
	expect(r, "Mixed", DICT_FOUND, "Case", "built");
	expect(r, "empty", DICT_FOUND, "", "empty value");
	expect(r, "mixed", DICT_NOTFOUND, NULL, "no folding");
	expect(r, "zz", DICT_NOTFOUND, NULL, "missing key");
	check_dump(r, "b=2 a=1 Mixed=Case c=three words empty=", "iterate");
	check_dump(r, "b=2 a=1 Mixed=Case c=three words empty=",
	    "iterate again");
	assert_int_equal(dict_update(r, "x", "y"), DICT_TEMPFAIL);
	assert_non_null(strstr(dict_error(r), "cannot be changed"));
	assert_int_equal(dict_delete(r, "a"), DICT_TEMPFAIL);
	dict_close(r);

	/* No changes in place. */
	assert_null(dict_open_strict(tmp_name("cdb", "t", NULL), O_RDWR,
	    DICT_FLAG_NO_CACHE, &why));
	assert_non_null(strstr(why.data, "cannot be changed, only rebuilt"));
	buf_fini(&why);
	buf_fini(&value);
}

static void
test_folding(void **state)
{
	static const char *const pairs[] = {"MiXeD=v", NULL};
	struct dict *r;

	(void)state;
	clean_dir();
	build(tmp_name("cdb", "f", NULL), pairs, DICT_FLAG_FOLD);
	r = open_ok(tmp_name("cdb", "f", NULL), O_RDONLY, DICT_FLAG_FOLD);
	expect(r, "MIXED", DICT_FOUND, "v", "folded lookup");
	check_dump(r, "mixed=v", "stored folded");
	dict_close(r);
}

struct dup_case {
	const char *label;
	int dict_flags;
	enum dict_result second;	/* result of the second update */
	const char *want;
	const char *dump;
};

static const struct dup_case dup_cases[] = {
	{"default keeps the first", 0, DICT_FOUND, "first",
	    "k=first z=last"},
	{"DUP_IGNORE keeps the first", DICT_FLAG_DUP_IGNORE, DICT_FOUND,
	    "first", "k=first z=last"},
	{"DUP_REPLACE keeps the last", DICT_FLAG_DUP_REPLACE, DICT_FOUND,
	    "second", "z=last k=second"},
};

static void
test_duplicates(void **state)
{
	const struct dup_case *c;
	struct dict *d, *r;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(dup_cases); i++) {
		c = &dup_cases[i];
		clean_dir();
		d = open_ok(tmp_name("cdb", "d", NULL), CREATE, c->dict_flags);
		if (dict_update(d, "k", "first") != DICT_NOTFOUND
		    || dict_update(d, "z", "last") != DICT_NOTFOUND)
			fail_msg("%s: first updates", c->label);
		if (dict_update(d, "k", "second") != c->second)
			fail_msg("%s: second update", c->label);
		commit_ok(d);
		dict_close(d);
		r = open_ok(tmp_name("cdb", "d", NULL), O_RDONLY, 0);
		expect(r, "k", DICT_FOUND, c->want, c->label);
		check_dump(r, c->dump, c->label);
		dict_close(r);
	}
}

static void
test_delete_while_building(void **state)
{
	struct dict *d;

	(void)state;
	clean_dir();
	d = open_ok(tmp_name("cdb", "x", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "a", "1"), DICT_NOTFOUND);
	assert_int_equal(dict_update(d, "b", "2"), DICT_NOTFOUND);
	assert_int_equal(dict_delete(d, "a"), DICT_FOUND);
	assert_int_equal(dict_delete(d, "a"), DICT_NOTFOUND);
	commit_ok(d);
	expect(d, "a", DICT_NOTFOUND, NULL, "deleted");
	expect(d, "b", DICT_FOUND, "2", "kept");
	check_dump(d, "b=2", "after delete");
	dict_close(d);
}

static void
test_missing_and_bad(void **state)
{
	struct buf why, value;
	struct dict *d;
	FILE *fp;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	buf_init(&value, 16);
	capture_start();
	d = dict_open(tmp_name("cdb", "none", NULL), O_RDONLY,
	    DICT_FLAG_NO_CACHE);
	free(capture_end());
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	assert_string_equal(dict_error(d),
	    open_reason("none", ".cdb: No such file or directory"));
	dict_close(d);

	fp = fopen(tmp_name(NULL, "short", ".cdb"), "w");
	assert_non_null(fp);
	fputs("not cdb\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_null(dict_open_strict(tmp_name("cdb", "short", NULL),
	    O_RDONLY, DICT_FLAG_NO_CACHE, &why));
	assert_non_null(strstr(why.data, "short.cdb: not a cdb file"));

	assert_null(dict_open_strict(tmp_name("cdb", "nodir/t", NULL), CREATE,
	    DICT_FLAG_NO_CACHE, &why));
	assert_non_null(strstr(why.data, "No such file or directory"));
	buf_fini(&why);
	buf_fini(&value);
}

/* A file whose index points outside it: a failure, not a crash. */
static void
test_damaged(void **state)
{
	static const char *const pairs[] = {"key=value", NULL};
	struct buf value;
	struct dict *r;
	FILE *fp;
	long size;

	(void)state;
	clean_dir();
	buf_init(&value, 16);
	build(tmp_name("cdb", "bad", NULL), pairs, 0);
	/* The record starts at 2048: make its value length huge. */
	fp = fopen(tmp_name(NULL, "bad", ".cdb"), "r+");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size > 2048 + 8);
	assert_int_equal(fseek(fp, 2048 + 4, SEEK_SET), 0);
	assert_int_equal(fwrite("\xff\xff\xff\x0f", 1, 4, fp), 4);
	assert_int_equal(fclose(fp), 0);
	r = open_ok(tmp_name("cdb", "bad", NULL), O_RDONLY, 0);
	capture_start();
	assert_int_equal(dict_lookup(r, "key", &value), DICT_TEMPFAIL);
	free(capture_end());
	dict_close(r);
	buf_fini(&value);
}

static void
test_abort(void **state)
{
	static const char *const pairs[] = {"old=1", NULL};
	struct dict *d, *r;

	(void)state;
	clean_dir();
	d = open_ok(tmp_name("cdb", "a", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "k", "v"), DICT_NOTFOUND);
	dict_close(d);
	check_dir("");

	build(tmp_name("cdb", "a", NULL), pairs, 0);
	d = open_ok(tmp_name("cdb", "a", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "new", "2"), DICT_NOTFOUND);
	dict_close(d);
	check_dir("a.cdb");
	r = open_ok(tmp_name("cdb", "a", NULL), O_RDONLY, 0);
	expect(r, "old", DICT_FOUND, "1", "old table intact");
	expect(r, "new", DICT_NOTFOUND, NULL, "old table intact");
	dict_close(r);
}

static void
test_mode_kept(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	struct stat st;

	(void)state;
	clean_dir();
	build(tmp_name("cdb", "m", NULL), pairs, 0);
	assert_int_equal(chmod(tmp_name(NULL, "m", ".cdb"), 0600), 0);
	build(tmp_name("cdb", "m", NULL), pairs, 0);
	assert_int_equal(stat(tmp_name(NULL, "m", ".cdb"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_many(void **state)
{
	struct buf key, value, got;
	struct dict *d;
	int i, n = 50000;

	(void)state;
	clean_dir();
	buf_init(&key, 32);
	buf_init(&value, 32);
	buf_init(&got, 32);
	d = open_ok(tmp_name("cdb", "n", NULL), CREATE, 0);
	for (i = 0; i < n; i++) {
		buf_reset(&key);
		buf_printf(&key, "key%d", i);
		buf_reset(&value);
		buf_printf(&value, "value%d", i);
		assert_int_equal(dict_update(d, key.data, value.data),
		    DICT_NOTFOUND);
	}
	assert_int_equal(dict_update(d, "key17", "again"), DICT_FOUND);
	commit_ok(d);
	for (i = 0; i < n; i += 101) {
		buf_reset(&key);
		buf_printf(&key, "key%d", i);
		buf_reset(&value);
		buf_printf(&value, "value%d", i);
		assert_int_equal(dict_lookup(d, key.data, &got), DICT_FOUND);
		assert_string_equal(got.data, value.data);
	}
	expect(d, "key17", DICT_FOUND, "value17", "first kept");
	dict_close(d);
	buf_fini(&key);
	buf_fini(&value);
	buf_fini(&got);
}

static void
test_changed(void **state)
{
	static const char *const v1[] = {"k=old", NULL};
	static const char *const v2[] = {"k=new", NULL};
	struct dict *r;
	char *log;

	(void)state;
	clean_dir();
	build(tmp_name("cdb", "c", NULL), v1, 0);
	r = open_ok(tmp_name("cdb", "c", NULL), O_RDONLY, 0);
	assert_false(dict_changed());
	build(tmp_name("cdb", "c", NULL), v2, 0);
	capture_start();
	assert_true(dict_changed());
	log = capture_end();
	assert_non_null(strstr(log, "has changed -- restarting"));
	free(log);
	expect(r, "k", DICT_FOUND, "old", "old file");
	dict_close(r);
	assert_false(dict_changed());
}

static int
setup(void **state)
{
	(void)state;
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
		cmocka_unit_test(test_create_commit),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_delete_while_building),
		cmocka_unit_test(test_missing_and_bad),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_mode_kept),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_changed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
