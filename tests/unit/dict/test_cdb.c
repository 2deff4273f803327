/*
 * test_cdb.c - unit tests for cdb: tables (dict_cdb.c)
 *
 * Building (O_CREAT|O_TRUNC) then committing: nothing visible before the
 * commit, the table and only the table afterwards; lookups, iteration,
 * duplicates under each flag (table-driven), deleting while building, no
 * changes to an existing table, a missing or short file, a build closed
 * without commit (no file left, the old table intact), the old table's
 * mode kept, a file made by another tool with NUL bytes in a value and a
 * key (lookup and iteration fail), and dict_changed() after a rebuild.
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

#include <cdb.h>

#include "buf.h"
#include "dict.h"
#include "dicttest.h"

#define CREATE		(O_RDWR | O_CREAT | O_TRUNC)

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

/*
 * A table made by another tool may hold NUL bytes: lookups and
 * iteration (petrel map -s) fail with the table's name rather than
 * hand out a value cut short.
 */
static void
test_external_nul(void **state)
{
	struct cdb_make cdbm;
	struct buf key, value;
	struct dict *r;
	char want[512];
	int fd;

	(void)state;
	clean_dir();
	buf_init(&key, 16);
	buf_init(&value, 16);
	fd = open(tmp_name(NULL, "ext", ".cdb"), O_RDWR | O_CREAT | O_TRUNC,
	    0644);
	assert_true(fd >= 0);
	assert_int_equal(cdb_make_start(&cdbm, fd), 0);
	assert_int_equal(cdb_make_add(&cdbm, "a", 1, "1", 1), 0);
	assert_int_equal(cdb_make_add(&cdbm, "b", 1, "x\0y", 3), 0);
	assert_int_equal(cdb_make_add(&cdbm, "c\0d", 3, "v", 1), 0);
	assert_int_equal(cdb_make_finish(&cdbm), 0);
	assert_int_equal(close(fd), 0);

	r = open_ok(tmp_name("cdb", "ext", NULL), O_RDONLY, 0);
	expect(r, "a", DICT_FOUND, "1", "clean value");
	capture_start();
	assert_int_equal(dict_lookup(r, "b", &value), DICT_TEMPFAIL);
	free(capture_end());
	assert_int_equal(dict_iterate(r, DICT_SEQ_FIRST, &key, &value),
	    DICT_FOUND);
	assert_string_equal(key.data, "a");
	assert_int_equal(dict_iterate(r, DICT_SEQ_NEXT, &key, &value),
	    DICT_TEMPFAIL);
	snprintf(want, sizeof(want), "table %s: the value for key \"b\" "
	    "contains a NUL byte", tmp_name("cdb", "ext", NULL));
	assert_string_equal(dict_error(r), want);
	assert_int_equal(dict_iterate(r, DICT_SEQ_NEXT, &key, &value),
	    DICT_TEMPFAIL);
	snprintf(want, sizeof(want), "table %s: the key \"c?d\" contains "
	    "a NUL byte", tmp_name("cdb", "ext", NULL));
	assert_string_equal(dict_error(r), want);
	dict_close(r);
	buf_fini(&key);
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
	return dicttest_setup("cdb");
}

static int
teardown(void **state)
{
	(void)state;
	return dicttest_teardown();
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
		cmocka_unit_test(test_external_nul),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_mode_kept),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_changed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
