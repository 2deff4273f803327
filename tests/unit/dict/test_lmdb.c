/*
 * test_lmdb.c - unit tests for lmdb: tables (dict_lmdb.c)
 *
 * Building (O_CREAT|O_TRUNC) then committing: nothing visible before the
 * commit, the table and only the table afterwards; lookups, iteration in
 * key order, changes in place (update, delete), duplicates under each
 * flag (table-driven), keys LMDB cannot store, a missing or empty file,
 * a build closed without commit (no file left, the old table intact),
 * the old table's mode kept, the map growing from a tiny size while
 * building and in place, hash:/btree: names, dict_changed() after a
 * rebuild while the old table stays readable, and frozen tables: read
 * without locks, thawed into a new file by the first real change, whose
 * readers lock; two writers, and a writer whose table is rebuilt.
 * The races and rules around a thaw: a rebuild renamed into place, or
 * committed, while a thaw copies (an interleaving made deterministic by
 * -Wl,--wrap=mdb_env_copyfd2); thawing as an unprivileged user (owner,
 * group and mode kept, or the change refused with the table untouched);
 * a table reached through a symbolic link; a long-lived writer seeing
 * the changes of others; temporary files of dead writers removed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <lmdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dicttest.h"
#include "dict_lmdb.h"

#define CREATE		(O_RDWR | O_CREAT | O_TRUNC)

static void
test_create_commit(void **state)
{
	static const char *const pairs[] = {"b=2", "a=1", "Mixed=Case",
	    "c=three words", NULL};
	struct dict *d, *r;
	struct buf why;

	(void)state;
	clean_dir();
	d = open_ok(tmp_name("lmdb", "t", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "a", "1"), DICT_NOTFOUND);
	/* Readers do not see a table being built. */
	buf_init(&why, 64);
	assert_null(dict_open_strict(tmp_name("lmdb", "t", NULL), O_RDONLY,
	    DICT_FLAG_NO_CACHE, &why));
	assert_string_equal(why.data,
	    open_reason("t", ".lmdb: No such file or directory"));
	/* The build can read what it wrote. */
	expect(d, "a", DICT_FOUND, "1", "lookup while building");
	commit_ok(d);
	check_dir("t.lmdb");
	dict_close(d);
	check_dir("t.lmdb");

	build(tmp_name("lmdb", "t", NULL), pairs, 0);
	check_dir("t.lmdb");
	r = open_ok(tmp_name("lmdb", "t", NULL), O_RDONLY, 0);
	expect(r, "a", DICT_FOUND, "1", "built");
	expect(r, "c", DICT_FOUND, "three words", "built");
	expect(r, "Mixed", DICT_FOUND, "Case", "built");
	expect(r, "mixed", DICT_NOTFOUND, NULL, "no folding");
	expect(r, "zz", DICT_NOTFOUND, NULL, "missing key");
	expect(r, "", DICT_NOTFOUND, NULL, "empty key");
	check_dump(r, "Mixed=Case a=1 b=2 c=three words", "iterate");
	/* Iterating again starts over; NEXT after the end stays there. */
	check_dump(r, "Mixed=Case a=1 b=2 c=three words", "iterate again");
	assert_int_equal(dict_update(r, "x", "y"), DICT_TEMPFAIL);
	assert_non_null(strstr(dict_error(r), "read-only"));
	assert_int_equal(dict_delete(r, "a"), DICT_TEMPFAIL);
	dict_close(r);
	buf_fini(&why);
}

static void
test_folding(void **state)
{
	static const char *const pairs[] = {"MiXeD=v", NULL};
	struct dict *r;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "f", NULL), pairs, DICT_FLAG_FOLD);
	r = open_ok(tmp_name("lmdb", "f", NULL), O_RDONLY, DICT_FLAG_FOLD);
	expect(r, "MIXED", DICT_FOUND, "v", "folded lookup");
	check_dump(r, "mixed=v", "stored folded");
	dict_close(r);
}

struct dup_case {
	const char *label;
	int dict_flags;
	enum dict_result second;	/* result of the second update */
	const char *want;
};

static const struct dup_case dup_cases[] = {
	{"default keeps the first", 0, DICT_FOUND, "first"},
	{"DUP_IGNORE keeps the first", DICT_FLAG_DUP_IGNORE, DICT_FOUND,
	    "first"},
	{"DUP_REPLACE keeps the last", DICT_FLAG_DUP_REPLACE, DICT_FOUND,
	    "second"},
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
		d = open_ok(tmp_name("lmdb", "d", NULL), CREATE, c->dict_flags);
		if (dict_update(d, "k", "first") != DICT_NOTFOUND)
			fail_msg("%s: first update", c->label);
		if (dict_update(d, "k", "second") != c->second)
			fail_msg("%s: second update", c->label);
		commit_ok(d);
		dict_close(d);
		r = open_ok(tmp_name("lmdb", "d", NULL), O_RDONLY, 0);
		expect(r, "k", DICT_FOUND, c->want, c->label);
		check_dump(r, c->want[0] == 'f' ? "k=first" : "k=second",
		    c->label);
		dict_close(r);
	}
}

static void
test_in_place(void **state)
{
	static const char *const pairs[] = {"a=1", "b=2", NULL};
	struct dict *w, *r;
	struct buf why;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	/* O_RDWR without O_CREAT needs the file. */
	assert_null(dict_open_strict(tmp_name("lmdb", "p", NULL), O_RDWR,
	    DICT_FLAG_NO_CACHE, &why));
	assert_non_null(strstr(why.data, "No such file or directory"));
	/* With O_CREAT (petrel map -i on a new table) it is made. */
	w = open_ok(tmp_name("lmdb", "p", NULL), O_RDWR | O_CREAT, 0);
	assert_int_equal(dict_update(w, "new", "v"), DICT_NOTFOUND);
	dict_close(w);
	check_dir("p.lmdb");
	r = open_ok(tmp_name("lmdb", "p", NULL), O_RDONLY, 0);
	expect(r, "new", DICT_FOUND, "v", "created in place");
	dict_close(r);

	build(tmp_name("lmdb", "p", NULL), pairs, 0);
	w = open_ok(tmp_name("lmdb", "p", NULL), O_RDWR,
	    DICT_FLAG_DUP_REPLACE);
	r = open_ok(tmp_name("lmdb", "p", NULL), O_RDONLY, 0);
	assert_false(dict_changed());
	assert_int_equal(dict_update(w, "c", "3"), DICT_NOTFOUND);
	/*
	 * The built table was frozen: the first change thawed it into a
	 * new file. A reader of the old one keeps it until it restarts.
	 */
	expect(r, "c", DICT_NOTFOUND, NULL, "reader of the frozen file");
	capture_start();
	assert_true(dict_changed());
	free(capture_end());
	dict_close(r);
	r = open_ok(tmp_name("lmdb", "p", NULL), O_RDONLY, 0);
	expect(r, "c", DICT_FOUND, "3", "reader of the thawed file");
	assert_int_equal(dict_update(w, "a", "one"), DICT_FOUND);
	assert_int_equal(dict_delete(w, "b"), DICT_FOUND);
	assert_int_equal(dict_delete(w, "b"), DICT_NOTFOUND);
	assert_int_equal(dict_delete(w, "never"), DICT_NOTFOUND);
	expect(w, "a", DICT_FOUND, "one", "writer reads its changes");
	/* A reader opened earlier sees each committed change. */
	expect(r, "a", DICT_FOUND, "one", "reader sees update");
	expect(r, "b", DICT_NOTFOUND, NULL, "reader sees delete");
	check_dump(r, "a=one c=3", "reader iterates");
	/* A change during an iteration ends it. */
	assert_int_equal(dict_iterate(w, DICT_SEQ_FIRST, &why, &why),
	    DICT_FOUND);
	assert_int_equal(dict_update(w, "d", "4"), DICT_NOTFOUND);
	assert_int_equal(dict_iterate(w, DICT_SEQ_NEXT, &why, &why),
	    DICT_NOTFOUND);
	dict_close(w);
	dict_close(r);
	check_dir("p.lmdb");
	buf_fini(&why);
}

static void
test_missing_and_bad(void **state)
{
	struct buf why, value;
	struct dict *d;
	const char *want;
	FILE *fp;

	(void)state;
	clean_dir();
	buf_init(&why, 64);
	buf_init(&value, 16);
	assert_null(dict_open_strict(tmp_name("lmdb", "none", NULL), O_RDONLY,
	    DICT_FLAG_NO_CACHE, &why));
	assert_string_equal(why.data,
	    open_reason("none", ".lmdb: No such file or directory"));
	/* dict_open: a surrogate, every answer a temporary failure. */
	capture_start();
	d = dict_open(tmp_name("lmdb", "none", NULL), O_RDONLY,
	    DICT_FLAG_NO_CACHE);
	free(capture_end());
	assert_int_equal(dict_lookup(d, "x", &value), DICT_TEMPFAIL);
	assert_string_equal(dict_error(d),
	    open_reason("none", ".lmdb: No such file or directory"));
	dict_close(d);

	fp = fopen(tmp_name(NULL, "empty", ".lmdb"), "w");
	assert_non_null(fp);
	assert_int_equal(fclose(fp), 0);
	assert_null(dict_open_strict(tmp_name("lmdb", "empty", NULL),
	    O_RDONLY, DICT_FLAG_NO_CACHE, &why));
	assert_non_null(strstr(why.data, "empty file, not an LMDB table"));

	fp = fopen(tmp_name(NULL, "junk", ".lmdb"), "w");
	assert_non_null(fp);
	for (int i = 0; i < 1000; i++)
		fputs("this is not an lmdb file\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_null(dict_open_strict(tmp_name("lmdb", "junk", NULL),
	    O_RDONLY, DICT_FLAG_NO_CACHE, &why));
	want = open_reason("junk", ".lmdb: ");
	assert_true(strncmp(why.data, want, strlen(want)) == 0);

	/* No directory to build in. */
	assert_null(dict_open_strict(tmp_name("lmdb", "nodir/t", NULL), CREATE,
	    DICT_FLAG_NO_CACHE, &why));
	assert_non_null(strstr(why.data, "No such file or directory"));
	buf_fini(&why);
	buf_fini(&value);
}

static void
test_abort(void **state)
{
	static const char *const pairs[] = {"old=1", NULL};
	struct dict *d, *r;

	(void)state;
	clean_dir();
	/* No old table: nothing is left behind. */
	d = open_ok(tmp_name("lmdb", "a", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "k", "v"), DICT_NOTFOUND);
	dict_close(d);
	check_dir("");

	/* An old table stays exactly as it was. */
	build(tmp_name("lmdb", "a", NULL), pairs, 0);
	d = open_ok(tmp_name("lmdb", "a", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, "new", "2"), DICT_NOTFOUND);
	dict_close(d);
	check_dir("a.lmdb");
	r = open_ok(tmp_name("lmdb", "a", NULL), O_RDONLY, 0);
	expect(r, "old", DICT_FOUND, "1", "old table intact");
	expect(r, "new", DICT_NOTFOUND, NULL, "old table intact");
	dict_close(r);
}

static void
test_keys(void **state)
{
	struct buf big;
	struct dict *d;

	(void)state;
	clean_dir();
	buf_init(&big, 600);
	for (int i = 0; i < 600; i++)
		buf_putc(&big, 'k');
	d = open_ok(tmp_name("lmdb", "k", NULL), CREATE, 0);
	assert_int_equal(dict_update(d, big.data, "v"), DICT_TEMPFAIL);
	assert_non_null(strstr(dict_error(d), "cannot store a key of 600"));
	assert_int_equal(dict_update(d, "", "v"), DICT_TEMPFAIL);
	/* Refused keys do not spoil the build. */
	assert_int_equal(dict_update(d, "ok", ""), DICT_NOTFOUND);
	commit_ok(d);
	expect(d, big.data, DICT_NOTFOUND, NULL, "long key");
	expect(d, "ok", DICT_FOUND, "", "empty value");
	dict_close(d);
	buf_fini(&big);
}

static void
test_mode_kept(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	struct stat st;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "m", NULL), pairs, 0);
	assert_int_equal(chmod(tmp_name(NULL, "m", ".lmdb"), 0640), 0);
	build(tmp_name("lmdb", "m", NULL), pairs, 0);
	assert_int_equal(stat(tmp_name(NULL, "m", ".lmdb"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

/* Many entries into a tiny map: the map grows, nothing is lost. */
static void
test_map_growth(void **state)
{
	struct buf key, value, got;
	struct dict *d, *r;
	int i, n = 20000;

	(void)state;
	clean_dir();
	buf_init(&key, 32);
	buf_init(&value, 200);
	buf_init(&got, 200);
	dict_lmdb_set_map_size(64 * 1024);
	d = open_ok(tmp_name("lmdb", "g", NULL), CREATE, 0);
	for (i = 0; i < n; i++) {
		buf_reset(&key);
		buf_printf(&key, "key%06d", i);
		buf_reset(&value);
		buf_printf(&value, "%0100d", i);
		assert_int_equal(dict_update(d, key.data, value.data),
		    DICT_NOTFOUND);
	}
	/* A duplicate inside a replayed batch stays a duplicate. */
	assert_int_equal(dict_update(d, "key000000", "x"), DICT_FOUND);
	commit_ok(d);
	dict_close(d);

	/*
	 * In place too, from a map just big enough for the file (the first
	 * change thaws the built table; the reader opens the thawed one).
	 */
	d = open_ok(tmp_name("lmdb", "g", NULL), O_RDWR, DICT_FLAG_DUP_REPLACE);
	assert_int_equal(dict_update(d, "thaw", "x"), DICT_NOTFOUND);
	r = open_ok(tmp_name("lmdb", "g", NULL), O_RDONLY, 0);
	/*
	 * Values big enough to outgrow the map the reader took from the
	 * file, so that it must adopt the writer's (MDB_MAP_RESIZED).
	 */
	for (i = n; i < n + 300; i++) {
		buf_reset(&key);
		buf_printf(&key, "key%06d", i);
		buf_reset(&value);
		buf_printf(&value, "%020000d", i);
		assert_int_equal(dict_update(d, key.data, value.data),
		    DICT_NOTFOUND);
	}
	for (i = 0; i < n + 300; i += 97) {
		buf_reset(&key);
		buf_printf(&key, "key%06d", i);
		buf_reset(&value);
		buf_printf(&value, i < n ? "%0100d" : "%020000d", i);
		assert_int_equal(dict_lookup(r, key.data, &got), DICT_FOUND);
		assert_string_equal(got.data, value.data);
	}
	dict_close(d);
	dict_close(r);
	dict_lmdb_set_map_size(DICT_LMDB_MAP_SIZE);
	buf_fini(&key);
	buf_fini(&value);
	buf_fini(&got);
}

static void
test_aliases(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	struct dict *h, *b;

	(void)state;
	clean_dir();
	build(tmp_name("hash", "h", NULL), pairs, 0);
	check_dir("h.lmdb");
	h = open_ok(tmp_name("hash", "h", NULL), O_RDONLY, 0);
	b = open_ok(tmp_name("btree", "h", NULL), O_RDONLY, 0);
	assert_string_equal(h->type, "lmdb");
	expect(h, "a", DICT_FOUND, "1", "hash:");
	expect(b, "a", DICT_FOUND, "1", "btree:");
	dict_close(h);
	dict_close(b);
}

static void
test_changed(void **state)
{
	static const char *const v1[] = {"k=old", NULL};
	static const char *const v2[] = {"k=new", NULL};
	struct dict *r, *r2;
	char *log;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "c", NULL), v1, 0);
	r = open_ok(tmp_name("lmdb", "c", NULL), O_RDONLY, 0);
	assert_false(dict_changed());
	build(tmp_name("lmdb", "c", NULL), v2, 0);
	capture_start();
	assert_true(dict_changed());
	log = capture_end();
	assert_non_null(strstr(log, "has changed -- restarting"));
	free(log);
	/* The open table keeps reading its own (old) file. */
	expect(r, "k", DICT_FOUND, "old", "old file");
	r2 = open_ok(tmp_name("lmdb", "c", NULL), O_RDONLY, 0);
	expect(r2, "k", DICT_FOUND, "new", "new file");
	dict_close(r);
	dict_close(r2);
	assert_false(dict_changed());
}

/* Does the file hold the frozen mark? (LMDB itself, not the dict.) */
static bool
has_frozen_mark(const char *path)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {sizeof("\0petrel:frozen") - 1, (void *)"\0petrel:frozen"};
	MDB_val v;
	bool found;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK
	    | MDB_NOSUBDIR, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	found = mdb_get(txn, dbi, &k, &v) == 0;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return found;
}

static ino_t
inode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * A built table is frozen: readers take no lock (one held exclusively
 * by someone else does not stop them), iteration does not show the
 * mark, changes that change nothing leave the file alone, and the first
 * real change thaws it into a new file whose readers lock again.
 */
static void
test_frozen(void **state)
{
	static const char *const pairs[] = {"a=1", "b=2", NULL};
	struct dict *r, *w, *w2;
	char file[256];
	int fd, sync[2];
	char byte;
	pid_t pid;
	double t0;
	ino_t ino;
	int status;

	(void)state;
	clean_dir();
	/* tmp_name()'s storage is reused: keep a copy. */
	snprintf(file, sizeof(file), "%s", tmp_name(NULL, "z", ".lmdb"));
	build(tmp_name("lmdb", "z", NULL), pairs, 0);
	assert_true(has_frozen_mark(file));
	r = open_ok(tmp_name("lmdb", "z", NULL), O_RDONLY, 0);

	/* An exclusive lock elsewhere: a locking reader would hang. */
	fd = open(file, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	alarm(20);
	expect(r, "a", DICT_FOUND, "1", "frozen, no lock");
	expect(r, "x", DICT_NOTFOUND, NULL, "frozen, no lock");
	check_dump(r, "a=1 b=2", "frozen: the mark is not an entry");
	alarm(0);
	assert_int_equal(close(fd), 0);

	/* Changes that change nothing do not thaw it. */
	ino = inode(file);
	w = open_ok(tmp_name("lmdb", "z", NULL), O_RDWR, 0);
	assert_int_equal(dict_delete(w, "none"), DICT_NOTFOUND);
	assert_int_equal(dict_update(w, "a", "kept"), DICT_FOUND);
	assert_true(inode(file) == ino);
	assert_true(has_frozen_mark(file));
	expect(w, "a", DICT_FOUND, "1", "first kept");

	/* A second writer that opened the frozen file too. */
	w2 = open_ok(tmp_name("lmdb", "z", NULL), O_RDWR, 0);
	assert_int_equal(dict_update(w, "c", "3"), DICT_NOTFOUND);
	assert_true(inode(file) != ino);
	assert_false(has_frozen_mark(file));
	check_dir("z.lmdb");
	/* It finds the thawed file in place and changes that one. */
	assert_int_equal(dict_update(w2, "d", "4"), DICT_NOTFOUND);
	assert_int_equal(dict_delete(w, "b"), DICT_FOUND);
	check_dump(w, "a=1 c=3 d=4", "two writers");
	check_dump(w2, "a=1 c=3 d=4", "two writers");
	/* The reader of the frozen file keeps its copy. */
	check_dump(r, "a=1 b=2", "old reader");
	dict_close(r);

	/* The thawed file is changed in place: its readers lock. */
	r = open_ok(tmp_name("lmdb", "z", NULL), O_RDONLY, 0);
	assert_int_equal(pipe(sync), 0);
	if ((pid = fork()) == 0) {
		fd = open(file, O_RDONLY);
		if (fd < 0 || flock(fd, LOCK_EX) < 0
		    || write(sync[1], "x", 1) != 1)
			_exit(1);
		usleep(500 * 1000);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(sync[0], &byte, 1), 1);
	t0 = now_ms();
	expect(r, "c", DICT_FOUND, "3", "thawed, locked");
	if (now_ms() - t0 < 100)
		fail_msg("a lookup in a thawed table did not wait for the "
		    "exclusive lock (%.1f ms)", now_ms() - t0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sync[0]);
	close(sync[1]);
	dict_close(r);

	/* A rebuild while a writer is open: its change goes to the new. */
	build(tmp_name("lmdb", "z", NULL), pairs, 0);
	assert_true(has_frozen_mark(file));
	assert_int_equal(dict_update(w2, "e", "5"), DICT_NOTFOUND);
	r = open_ok(tmp_name("lmdb", "z", NULL), O_RDONLY, 0);
	check_dump(r, "a=1 b=2 e=5", "rebuilt, then changed");
	dict_close(r);
	dict_close(w);
	dict_close(w2);
	check_dir("z.lmdb");
	capture_start();
	(void)dict_changed();
	free(capture_end());
}

/*
 * What a test does while a thaw copies the frozen file: the test
 * binary is linked with -Wl,--wrap=mdb_env_copyfd2, which only a thaw
 * calls.
 */
static void (*during_copy)(void);
int __real_mdb_env_copyfd2(MDB_env *env, mdb_filehandle_t fd,
    unsigned int flags);
int __wrap_mdb_env_copyfd2(MDB_env *env, mdb_filehandle_t fd,
    unsigned int flags);

int
__wrap_mdb_env_copyfd2(MDB_env *env, mdb_filehandle_t fd, unsigned int flags)
{
	void (*hook)(void) = during_copy;
	int rc = __real_mdb_env_copyfd2(env, fd, flags);

	during_copy = NULL;
	if (hook != NULL)
		hook();
	return rc;
}

/* A rebuild put in place by rename(2) alone: by hand, or an old version. */
static void
rebuild_by_rename(void)
{
	static const char *const pairs[] = {"rebuilt=yes", NULL};
	char to[256];

	snprintf(to, sizeof(to), "%s", tmp_name(NULL, "race", ".lmdb"));
	build(tmp_name("lmdb", "other", NULL), pairs, 0);
	assert_int_equal(rename(tmp_name(NULL, "other", ".lmdb"), to), 0);
}

/*
 * A rebuild completes while a thaw copies the frozen file. The thaw
 * must not rename its copy over the rebuilt table: it starts over, and
 * the change goes into the rebuilt table.
 */
static void
test_thaw_race_rename(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	struct dict *w, *r;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "race", NULL), pairs, 0);
	w = open_ok(tmp_name("lmdb", "race", NULL), O_RDWR, 0);
	during_copy = rebuild_by_rename;
	assert_int_equal(dict_update(w, "c", "3"), DICT_NOTFOUND);
	assert_null(during_copy);	/* the thaw ran */
	r = open_ok(tmp_name("lmdb", "race", NULL), O_RDONLY, 0);
	check_dump(r, "c=3 rebuilt=yes", "a change racing a rebuild");
	expect(w, "rebuilt", DICT_FOUND, "yes", "the writer's table");
	dict_close(r);
	dict_close(w);
	check_dir("race.lmdb");
}

/* Is pid waiting for a lock (a "->" line of /proc/locks)? */
static bool
lock_waiting(pid_t pid)
{
	char line[512], want[32];
	bool found = false;
	FILE *fp;

	snprintf(want, sizeof(want), " %ld ", (long)pid);
	assert_non_null(fp = fopen("/proc/locks", "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, "->") != NULL && strstr(line, want) != NULL)
			found = true;
	(void)fclose(fp);
	return found;
}

static pid_t rebuilder;
static int rebuilder_status;
static bool rebuilder_done, rebuilder_waited;

/*
 * A rebuild by another process, committing while the thaw copies. Wait
 * until it has committed (what the commit did without locking) or waits
 * for the lock of the file it replaces.
 */
static void
rebuild_in_child(void)
{
	struct buf why;
	struct dict *d;
	int i;

	rebuilder_done = rebuilder_waited = false;
	if ((rebuilder = fork()) == 0) {
		/* Not our lock: the writer's descriptors are its own. */
		(void)close_range(3, ~0U, 0);
		buf_init(&why, 64);
		d = dict_open_strict(tmp_name("lmdb", "race", NULL), CREATE,
		    DICT_FLAG_NO_CACHE, &why);
		_exit(d != NULL && dict_update(d, "rebuilt", "yes")
		    == DICT_NOTFOUND && dict_commit(d, &why) == 0 ? 0 : 1);
	}
	assert_true(rebuilder > 0);
	for (i = 0; i < 2000; i++) {
		if (waitpid(rebuilder, &rebuilder_status, WNOHANG)
		    == rebuilder) {
			rebuilder_done = true;
			return;
		}
		if (lock_waiting(rebuilder)) {
			rebuilder_waited = true;
			return;
		}
		usleep(5 * 1000);
	}
	fail_msg("the rebuild neither finished nor waited for a lock");
}

/*
 * The same with a real commit in another process: it waits for the
 * lock of the frozen file, which the thaw holds, then for the change,
 * and replaces the table afterwards. Both happen whole: the change,
 * then the rebuild, whose table (built from its source) is the result.
 */
static void
test_thaw_race_commit(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	struct dict *w, *r;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "race", NULL), pairs, 0);
	w = open_ok(tmp_name("lmdb", "race", NULL), O_RDWR, 0);
	during_copy = rebuild_in_child;
	assert_int_equal(dict_update(w, "c", "3"), DICT_NOTFOUND);
	assert_null(during_copy);
	if (!rebuilder_done)
		assert_int_equal(waitpid(rebuilder, &rebuilder_status, 0),
		    rebuilder);
	assert_true(WIFEXITED(rebuilder_status)
	    && WEXITSTATUS(rebuilder_status) == 0);
	if (!rebuilder_waited)
		fail_msg("the rebuild committed while the thaw held the lock");
	r = open_ok(tmp_name("lmdb", "race", NULL), O_RDONLY, 0);
	check_dump(r, "rebuilt=yes", "the rebuild came second");
	assert_true(has_frozen_mark(tmp_name(NULL, "race", ".lmdb")));
	/* The writer follows, and its next change thaws the new table. */
	expect(w, "rebuilt", DICT_FOUND, "yes", "the writer's table");
	assert_int_equal(dict_update(w, "d", "4"), DICT_NOTFOUND);
	dict_close(r);
	r = open_ok(tmp_name("lmdb", "race", NULL), O_RDONLY, 0);
	check_dump(r, "d=4 rebuilt=yes", "changed after the rebuild");
	dict_close(r);
	dict_close(w);
	check_dir("race.lmdb");
}

/* Thawing as a user that is not root: who may use the table stays. */
struct priv_case {
	const char *label;
	bool dir_nobody;	/* the directory is nobody's (writable) */
	bool file_nobody;	/* the table is nobody's, else root's */
	bool file_mail;		/* the table's group is mail, else nogroup */
	bool writer_in_mail;	/* nobody has mail as another group */
	mode_t mode;
	const char *problem;	/* NULL: the change works */
};

static const struct priv_case priv_cases[] = {
	{"directory not writable", false, true, false, false, 0640,
	    ": create "},
	{"owner cannot be kept", true, false, false, false, 0660,
	    ": cannot give the copy "},
	{"group cannot be kept", true, true, true, false, 0640,
	    ": cannot give the copy "},
	{"owner, group and mode kept", true, true, true, true, 0640, NULL},
};

/* In a child as uid, gid (and group more): fn(arg); its output. */
static char *
as_user(uid_t uid, gid_t gid, gid_t more, void (*fn)(const char *, int),
    const char *arg)
{
	gid_t groups[2] = {gid, more};
	struct buf out;
	char chunk[256];
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		(void)close(pipefd[0]);
		if (setgroups(more != gid ? 2 : 1, groups) < 0
		    || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(2);
		fn(arg, pipefd[1]);
		_exit(0);
	}
	assert_true(pid > 0);
	(void)close(pipefd[1]);
	buf_init(&out, 256);
	while ((n = read(pipefd[0], chunk, sizeof(chunk))) > 0)
		buf_append(&out, chunk, (size_t)n);
	(void)close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return buf_steal(&out);
}

/* Child: change table name; print the result and the error. */
static void
priv_change(const char *name, int out)
{
	struct buf why;
	struct dict *d;

	buf_init(&why, 64);
	if ((d = dict_open_strict(name, O_RDWR, DICT_FLAG_NO_CACHE,
	    &why)) == NULL)
		dprintf(out, "open: %s", why.data);
	else if (dict_update(d, "c", "3") == DICT_TEMPFAIL)
		dprintf(out, "%s", dict_error(d));
	else
		dprintf(out, "changed");
}

/* Child: look c up in table name. */
static void
priv_lookup(const char *name, int out)
{
	struct buf why;
	struct dict *d;

	buf_init(&why, 64);
	if ((d = dict_open_strict(name, O_RDONLY, DICT_FLAG_NO_CACHE,
	    &why)) == NULL)
		dprintf(out, "open: %s", why.data);
	else if (dict_lookup(d, "c", &why) == DICT_FOUND)
		dprintf(out, "c=%s", why.data);
	else
		dprintf(out, "lookup: %s", dict_error(d));
}

static uid_t
user_id(const char *name)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL)
		fail_msg("no user %s", name);
	return pw->pw_uid;
}

static gid_t
group_id(const char *name)
{
	struct group *gr = getgrnam(name);

	if (gr == NULL)
		fail_msg("no group %s", name);
	return gr->gr_gid;
}

static void
test_thaw_unprivileged(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	char dir[] = "/tmp/petrel-test-lmdb-priv-XXXXXX";
	uid_t nobody, mailer;
	gid_t nogroup, mail;
	char name[128], file[128];
	const struct priv_case *c;
	struct stat before, after;
	struct buf want;
	gid_t gid;
	size_t i;
	char *got;

	(void)state;
	if (geteuid() != 0)
		skip();		/* needs setuid(2) */
	nobody = user_id("nobody");
	mailer = user_id("mail");
	nogroup = group_id("nogroup");
	mail = group_id("mail");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(name, sizeof(name), "lmdb:%s/t", dir);
	snprintf(file, sizeof(file), "%s/t.lmdb", dir);
	buf_init(&want, 256);
	for (i = 0; i < NELEM(priv_cases); i++) {
		c = &priv_cases[i];
		gid = c->file_mail ? mail : nogroup;
		assert_int_equal(chown(dir, c->dir_nobody ? nobody : 0,
		    0), 0);
		build(name, pairs, 0);
		assert_int_equal(chown(file, c->file_nobody ? nobody
		    : 0, gid), 0);
		assert_int_equal(chmod(file, c->mode), 0);
		assert_int_equal(stat(file, &before), 0);
		got = as_user(nobody, nogroup, c->writer_in_mail
		    ? mail : nogroup, priv_change, name);
		assert_int_equal(stat(file, &after), 0);
		if (c->problem != NULL) {
			buf_reset(&want);
			buf_printf(&want, "table %s: cannot change a table "
			    "built by petrel map in place", name);
			if (strncmp(got, want.data, want.len) != 0
			    || strstr(got, c->problem) == NULL
			    || strstr(got, "; rebuild it with petrel map, or "
			    "change it as root") == NULL)
				fail_msg("case \"%s\": %s", c->label, got);
			/* Untouched: the same file, owner, mode, mark. */
			if (after.st_ino != before.st_ino
			    || after.st_uid != before.st_uid
			    || after.st_gid != before.st_gid
			    || after.st_mode != before.st_mode
			    || !has_frozen_mark(file))
				fail_msg("case \"%s\": the table changed",
				    c->label);
		} else {
			if (strcmp(got, "changed") != 0)
				fail_msg("case \"%s\": %s", c->label, got);
			if (after.st_ino == before.st_ino
			    || after.st_uid != before.st_uid
			    || after.st_gid != before.st_gid
			    || after.st_mode != before.st_mode
			    || has_frozen_mark(file))
				fail_msg("case \"%s\": thawed as %lu:%lu %o",
				    c->label, (unsigned long)after.st_uid,
				    (unsigned long)after.st_gid,
				    (unsigned)after.st_mode & 07777);
			/* A reader by group still reads it. */
			free(got);
			got = as_user(mailer, mail,
			    mail, priv_lookup, name);
			if (strcmp(got, "c=3") != 0)
				fail_msg("case \"%s\": a reader in group mail: "
				    "%s", c->label, got);
		}
		free(got);
		/* Nothing left behind. */
		assert_int_equal(unlink(file), 0);
		if (rmdir(dir) != 0)
			fail_msg("case \"%s\": files left in %s", c->label,
			    dir);
		assert_int_equal(mkdir(dir, 0755), 0);
	}
	assert_int_equal(rmdir(dir), 0);
	buf_fini(&want);
}

/*
 * NAME.lmdb a symbolic link to the table elsewhere: a change and a
 * rebuild write there, and the link stays a link.
 */
static void
test_symlink(void **state)
{
	static const char *const v1[] = {"a=1", NULL};
	static const char *const v2[] = {"b=2", NULL};
	char elsewhere[] = "/tmp/petrel-test-lmdb-link-XXXXXX";
	char real[128], real_name[128], link[256], target[256];
	struct dict *r, *w, *rr;
	struct stat st;
	ssize_t n;

	(void)state;
	clean_dir();
	assert_non_null(mkdtemp(elsewhere));
	snprintf(real, sizeof(real), "%s/real.lmdb", elsewhere);
	snprintf(real_name, sizeof(real_name), "lmdb:%s/real", elsewhere);
	snprintf(link, sizeof(link), "%s", tmp_name(NULL, "ln", ".lmdb"));
	build(real_name, v1, 0);
	assert_int_equal(symlink(real, link), 0);
	r = open_ok(tmp_name("lmdb", "ln", NULL), O_RDONLY, 0);
	w = open_ok(tmp_name("lmdb", "ln", NULL), O_RDWR, 0);
	assert_int_equal(dict_update(w, "c", "3"), DICT_NOTFOUND);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_true((n = readlink(link, target, sizeof(target) - 1)) > 0);
	target[n] = 0;
	assert_string_equal(target, real);
	assert_false(has_frozen_mark(real));
	rr = open_ok(real_name, O_RDONLY, 0);
	check_dump(rr, "a=1 c=3", "changed through the link");
	dict_close(rr);
	/* The reader through the link is told. */
	capture_start();
	assert_true(dict_changed());
	free(capture_end());
	dict_close(r);

	/* A rebuild through the link. */
	build(tmp_name("lmdb", "ln", NULL), v2, 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_true(has_frozen_mark(real));
	rr = open_ok(real_name, O_RDONLY, 0);
	check_dump(rr, "b=2", "rebuilt through the link");
	dict_close(rr);
	expect(w, "b", DICT_FOUND, "2", "the writer follows");
	dict_close(w);
	/* Nothing else beside the table. */
	assert_int_equal(unlink(real), 0);
	assert_int_equal(rmdir(elsewhere), 0);
	check_dir("ln.lmdb");
}

/*
 * A long-lived writer (proxymap's proxy_write_maps) answers lookups
 * from the table as it is now: after another writer thawed and changed
 * it, and after a rebuild. A read-only open keeps its file until
 * dict_changed() has it restart.
 */
static void
test_writer_follows(void **state)
{
	static const char *const v1[] = {"k=old", NULL};
	static const char *const v2[] = {"k=rebuilt", NULL};
	struct dict *w, *w2, *r;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "f", NULL), v1, 0);
	w = open_ok(tmp_name("lmdb", "f", NULL), O_RDWR, DICT_FLAG_DUP_REPLACE);
	r = open_ok(tmp_name("lmdb", "f", NULL), O_RDONLY, 0);
	expect(w, "k", DICT_FOUND, "old", "writer, frozen");
	expect(r, "k", DICT_FOUND, "old", "reader, frozen");
	w2 = open_ok(tmp_name("lmdb", "f", NULL), O_RDWR,
	    DICT_FLAG_DUP_REPLACE);
	assert_int_equal(dict_update(w2, "k", "new"), DICT_FOUND);
	expect(w, "k", DICT_FOUND, "new", "writer after another's thaw");
	expect(r, "k", DICT_FOUND, "old", "reader keeps the frozen file");
	assert_int_equal(dict_update(w2, "k", "newer"), DICT_FOUND);
	expect(w, "k", DICT_FOUND, "newer", "writer, changed in place");
	build(tmp_name("lmdb", "f", NULL), v2, 0);
	expect(w, "k", DICT_FOUND, "rebuilt", "writer after a rebuild");
	check_dump(w, "k=rebuilt", "writer iterates the rebuilt table");
	dict_close(w);
	dict_close(w2);
	dict_close(r);
	capture_start();
	(void)dict_changed();
	free(capture_end());
}

/* Make an empty file in the test directory, modified age seconds ago. */
static void
make_old(const char *name, int age)
{
	struct timespec times[2];
	FILE *fp;

	assert_non_null(fp = fopen(tmp_name(NULL, name, NULL), "w"));
	assert_int_equal(fclose(fp), 0);
	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[0].tv_sec -= age;
	times[1] = times[0];
	assert_int_equal(utimensat(AT_FDCWD, tmp_name(NULL, name, NULL), times,
	    0), 0);
}

static bool
exists(const char *name)
{
	return access(tmp_name(NULL, name, NULL), F_OK) == 0;
}

/*
 * Temporary files of a writer that died are removed by the next build
 * or thaw of the same table; files of live processes, fresh ones, other
 * tables' and names not of our pattern stay.
 */
static void
test_stale_temp(void **state)
{
	static const char *const pairs[] = {"a=1", NULL};
	char dead_old[64], dead_fresh[64], live[64], odd[64], other[64];
	struct dict *w;
	pid_t dead;
	char *log;

	(void)state;
	clean_dir();
	build(tmp_name("lmdb", "s", NULL), pairs, 0);
	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	snprintf(dead_old, sizeof(dead_old), "s.lmdb.%ld.0badc0de",
	    (long)dead);
	snprintf(dead_fresh, sizeof(dead_fresh), "s.lmdb.%ld.0badc0df",
	    (long)dead);
	snprintf(live, sizeof(live), "s.lmdb.1.0badc0de");
	snprintf(odd, sizeof(odd), "s.lmdb.%ld.0badc0dg", (long)dead);
	snprintf(other, sizeof(other), "o.lmdb.%ld.0badc0de", (long)dead);
	make_old(dead_old, 3600);
	make_old(dead_fresh, 60);
	make_old(live, 3600);
	make_old(odd, 3600);
	make_old(other, 3600);

	capture_start();
	build(tmp_name("lmdb", "s", NULL), pairs, 0);
	log = capture_end();
	assert_false(exists(dead_old));
	assert_non_null(strstr(log, dead_old));
	assert_non_null(strstr(log, "which no longer runs"));
	free(log);
	assert_true(exists(dead_fresh));
	assert_true(exists(live));
	assert_true(exists(odd));
	assert_true(exists(other));
	assert_true(exists("s.lmdb"));

	/* A thaw cleans up as well. */
	make_old(dead_old, 3600);
	w = open_ok(tmp_name("lmdb", "s", NULL), O_RDWR, 0);
	capture_start();
	assert_int_equal(dict_update(w, "b", "2"), DICT_NOTFOUND);
	free(capture_end());
	assert_false(has_frozen_mark(tmp_name(NULL, "s", ".lmdb")));
	assert_false(exists(dead_old));
	assert_true(exists(dead_fresh));
	dict_close(w);
}

static int
setup(void **state)
{
	(void)state;
	return dicttest_setup("lmdb");
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
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_missing_and_bad),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_mode_kept),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_frozen),
		cmocka_unit_test(test_thaw_race_rename),
		cmocka_unit_test(test_thaw_race_commit),
		cmocka_unit_test(test_thaw_unprivileged),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_writer_follows),
		cmocka_unit_test(test_stale_temp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
