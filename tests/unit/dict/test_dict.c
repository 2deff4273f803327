/*
 * test_dict.c - unit tests for the dict core and the simple table types
 *
 * The core (dict.c): name splitting, the registry and its aliases,
 * sharing and reference counts, surrogates (unknown type, missing file,
 * bad syntax: every request DICT_TEMPFAIL, never DICT_NOTFOUND, reason
 * logged once), key limits, folding, NUL bytes in values and iterated
 * keys (through a test-only type registered with dict_register()),
 * unsupported operations, and dict_changed() after a source is replaced
 * or rewritten, and after a table that failed to open is created or
 * fixed; a surrogate shared by later opens (logged once) until its file
 * changes.
 *
 * The types, table-driven: texthash, inline (every syntax form and the
 * malformed ones), static and unix.
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
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dict_types.h"

static char tmpdir[] = "/tmp/petrel-test-dict-XXXXXX";

/* A path in the test directory (static storage, one at a time). */
static const char *
tmp_path(const char *name)
{
	static struct buf path;

	if (path.data == NULL)
		buf_init(&path, 64);
	buf_reset(&path);
	buf_printf(&path, "%s/%s", tmpdir, name);
	return path.data;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* Open quietly; the caller checks what was logged when it matters. */
static struct dict *
open_quiet(const char *type_name, int open_flags, int dict_flags,
    char **log)
{
	struct dict *d;
	char *out;

	capture_start();
	d = dict_open(type_name, open_flags, dict_flags);
	out = capture_end();
	if (log)
		*log = out;
	else
		free(out);
	return d;
}

/*
 * A test-only type: "nul" finds a value with a NUL byte, "fail" fails,
 * "k:*" finds its own key (to see what reached the type), the rest is
 * not found. Opening "bad" fails with a reason, "silent" without one.
 */
static int test_lookups;

static enum dict_result
test_lookup(struct dict *d, const char *key, struct buf *value)
{
	test_lookups++;
	if (strcmp(key, "nul") == 0) {
		buf_setn(value, "a\0b", 3);
		return DICT_FOUND;
	}
	if (strcmp(key, "fail") == 0)
		return dict_tempfail(d, "table %s: backend down",
		    d->full_name);
	if (strncmp(key, "k:", 2) == 0) {
		buf_set(value, key);
		return DICT_FOUND;
	}
	return DICT_NOTFOUND;
}

/*
 * Iteration: "nulvalue" holds a=1 and b="x<NUL>y", "nulkey" holds
 * "k<NUL>x"=v (as a table built by another tool might); others none.
 */
static size_t test_iter_pos;

static enum dict_result
test_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	static const struct {
		const char *table;
		const char *key;
		size_t key_len;
		const char *value;
		size_t value_len;
	} entries[] = {
		{"nulvalue", "a", 1, "1", 1},
		{"nulvalue", "b", 1, "x\0y", 3},
		{"nulkey", "k\0x", 3, "v", 1},
	};
	size_t seen = 0, i;

	if (seq == DICT_SEQ_FIRST)
		test_iter_pos = 0;
	for (i = 0; i < NELEM(entries); i++) {
		if (strcmp(entries[i].table, d->name) != 0)
			continue;
		if (seen++ == test_iter_pos) {
			test_iter_pos++;
			buf_setn(key, entries[i].key, entries[i].key_len);
			buf_setn(value, entries[i].value,
			    entries[i].value_len);
			return DICT_FOUND;
		}
	}
	return DICT_NOTFOUND;
}

static void test_close(struct dict *d) { dict_free(d); }

static const struct dict_ops test_ops;

static struct dict *
test_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	if (strcmp(name, "bad") == 0) {
		buf_set(why, "table test:bad: it is bad");
		return NULL;
	}
	if (strcmp(name, "silent") == 0)
		return NULL;
	return dict_alloc(&test_ops, name, open_flags, dict_flags,
	    sizeof(struct dict));
}

static const struct dict_ops test_ops = {
	.type = "test",
	.open = test_open,
	.lookup = test_lookup,
	.iterate = test_iterate,
	.close = test_close,
};

static const struct dict_ops test_ops_impostor = {
	.type = "test",
	.open = test_open,
	.lookup = test_lookup,
	.close = test_close,
};

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return dict_register(&test_ops);
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_split_name(void **state)
{
	static const struct {
		const char *label, *in;
		int rc;
		const char *type, *name;
	} cases[] = {
		{"plain", "lmdb:/etc/aliases", 0, "lmdb", "/etc/aliases"},
		{"nested", "proxy:mysql:/etc/x.cf", 0, "proxy",
		    "mysql:/etc/x.cf"},
		{"inline", "inline:{a=b}", 0, "inline", "{a=b}"},
		{"empty name", "static:", 0, "static", ""},
		{"no colon", "aliases", -1, NULL, NULL},
		{"empty type", ":x", -1, NULL, NULL},
	};
	struct buf type, name;
	size_t i;

	(void)state;
	buf_init(&type, 0);
	buf_init(&name, 0);
	for (i = 0; i < NELEM(cases); i++) {
		int rc = dict_split_name(cases[i].in, &type, &name);

		CHECK(rc == cases[i].rc, cases[i].label);
		if (rc == 0) {
			CHECK(strcmp(type.data, cases[i].type) == 0,
			    cases[i].label);
			CHECK(strcmp(name.data, cases[i].name) == 0,
			    cases[i].label);
		}
	}
	buf_fini(&type);
	buf_fini(&name);
}

static void
test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(dict_find_type("lmdb"), &dict_lmdb_ops);
	assert_ptr_equal(dict_find_type("hash"), &dict_lmdb_ops);
	assert_ptr_equal(dict_find_type("btree"), &dict_lmdb_ops);
	assert_ptr_equal(dict_find_type("texthash"), &dict_texthash_ops);
	assert_ptr_equal(dict_find_type("inline"), &dict_inline_ops);
	assert_ptr_equal(dict_find_type("static"), &dict_static_ops);
	assert_ptr_equal(dict_find_type("unix"), &dict_unix_ops);
	assert_ptr_equal(dict_find_type("test"), &test_ops);
	assert_null(dict_find_type("nosuch"));
	assert_null(dict_find_type(""));
	/* Registering again is harmless; another type of that name is not. */
	assert_int_equal(dict_register(&test_ops), 0);
	assert_int_equal(dict_register(&test_ops_impostor), -1);
	assert_ptr_equal(dict_find_type("test"), &test_ops);
}

/* A table opened as hash: is an lmdb table named as configured. */
static void
test_alias_names(void **state)
{
	struct buf why, name;
	struct dict *d;

	(void)state;
	buf_init(&why, 0);
	buf_init(&name, 0);
	buf_printf(&name, "hash:%s", tmp_path("aliased"));
	d = dict_open_strict(name.data, O_RDWR | O_CREAT | O_TRUNC, 0, &why);
	if (d != NULL) {	/* only once the lmdb type can create */
		assert_string_equal(d->type, "lmdb");
		assert_ptr_equal(d->ops, &dict_lmdb_ops);
		assert_string_equal(d->full_name, name.data);
		dict_close(d);
	}
	d = open_quiet(name.data, O_RDONLY, DICT_FLAG_NO_CACHE, NULL);
	assert_string_equal(d->full_name, name.data);
	dict_close(d);
	buf_fini(&why);
	buf_fini(&name);
}

static void
test_sharing(void **state)
{
	struct dict *a, *b, *c, *e;
	struct buf v;

	(void)state;
	buf_init(&v, 0);
	a = dict_open("inline:{k=v}", O_RDONLY, 0);
	b = dict_open("inline:{k=v}", O_RDONLY, 0);
	assert_ptr_equal(a, b);
	assert_int_equal(a->refcount, 2);
	/* Other dict flags, or a private copy: another object. */
	c = dict_open("inline:{k=v}", O_RDONLY, DICT_FLAG_FOLD);
	assert_ptr_not_equal(a, c);
	e = dict_open("inline:{k=v}", O_RDONLY, DICT_FLAG_NO_CACHE);
	assert_ptr_not_equal(a, e);
	assert_int_equal(e->refcount, 1);
	dict_close(b);
	assert_int_equal(a->refcount, 1);
	assert_int_equal(dict_lookup(a, "k", &v), DICT_FOUND);
	assert_string_equal(v.data, "v");
	dict_close(a);
	/* The last close removed it from the cache: a fresh object. */
	a = dict_open("inline:{k=v}", O_RDONLY, 0);
	assert_int_equal(a->refcount, 1);
	assert_string_equal(a->type, "inline");
	assert_string_equal(a->name, "{k=v}");
	assert_string_equal(a->full_name, "inline:{k=v}");
	assert_false(dict_is_surrogate(a));
	dict_close(a);
	dict_close(c);
	dict_close(e);
	dict_close(NULL);
	buf_fini(&v);
}

/* Every request to d fails; reason is what dict_error() says. */
static void
check_surrogate(const char *label, struct dict *d, const char *reason)
{
	enum dict_result rc[5];
	struct buf k, v, why;
	int commit;
	size_t i;
	char *log;

	buf_init(&k, 0);
	buf_init(&v, 0);
	buf_init(&why, 0);
	CHECK(dict_is_surrogate(d), label);
	if (strcmp(dict_error(d), reason) != 0)
		fail_msg("case \"%s\": reason \"%s\" want \"%s\"", label,
		    dict_error(d), reason);
	/* Results are checked after the capture, where failures show. */
	capture_start();
	rc[0] = dict_lookup(d, "anything", &v);
	rc[1] = dict_lookup(d, "", &v);
	rc[2] = dict_update(d, "k", "v");
	rc[3] = dict_delete(d, "k");
	rc[4] = dict_iterate(d, DICT_SEQ_FIRST, &k, &v);
	commit = dict_commit(d, &why);
	log = capture_end();
	for (i = 0; i < NELEM(rc); i++)
		CHECK(rc[i] == DICT_TEMPFAIL, label);
	CHECK(commit == -1, label);
	/* The reason was logged at open, not again on every request. */
	CHECK(log[0] == '\0', label);
	CHECK(strcmp(why.data, reason) == 0, label);
	CHECK(strcmp(dict_error(d), reason) == 0, label);
	free(log);
	buf_fini(&k);
	buf_fini(&v);
	buf_fini(&why);
}

static void
test_surrogates(void **state)
{
	struct {
		const char *label, *name;
		int open_flags;
		char reason[512];
	} cases[] = {
		{"unknown type", "nosuch:x", O_RDONLY,
		    "table \"nosuch:x\": unknown table type \"nosuch\""},
		{"no type", "aliases", O_RDONLY,
		    "table \"aliases\": expected type:name"},
		{"type fails with a reason", "test:bad", O_RDONLY,
		    "table test:bad: it is bad"},
		{"type fails without a reason", "test:silent", O_RDONLY,
		    "table test:silent: cannot open"},
		{"missing file", NULL, O_RDONLY, ""},
		{"bad syntax", NULL, O_RDONLY, ""},
		{"read-only type opened for writing", "inline:{a=b}", O_RDWR,
		    "table inline:{a=b}: inline tables are read-only"},
	};
	char missing[256], bad[256];
	struct buf why;
	size_t i;

	(void)state;
	buf_init(&why, 0);
	snprintf(missing, sizeof(missing), "texthash:%s",
	    tmp_path("missing"));
	cases[4].name = missing;
	snprintf(cases[4].reason, sizeof(cases[4].reason),
	    "table %s: open %s: No such file or directory", missing,
	    tmp_path("missing"));
	write_file(tmp_path("bad"), "a 1\n# c\nb\nc 3\n");
	snprintf(bad, sizeof(bad), "texthash:%s", tmp_path("bad"));
	cases[5].name = bad;
	snprintf(cases[5].reason, sizeof(cases[5].reason),
	    "table %s: %s, line 3: expected format: key whitespace value",
	    bad, tmp_path("bad"));

	for (i = 0; i < NELEM(cases); i++) {
		struct dict *d;
		struct buf want;
		char *log;

		d = open_quiet(cases[i].name, cases[i].open_flags, 0, &log);
		buf_init(&want, 0);
		buf_printf(&want, "warning: %s\n", cases[i].reason);
		/* Logged, and only once. */
		if (strstr(log, want.data) == NULL
		    || strstr(strstr(log, want.data) + 1, want.data) != NULL)
			fail_msg("case \"%s\": logged \"%s\"", cases[i].label,
			    log);
		check_surrogate(cases[i].label, d, cases[i].reason);
		CHECK(strcmp(d->full_name, cases[i].name) == 0,
		    cases[i].label);
		dict_close(d);
		/* The strict open gives the same reason and no table. */
		CHECK(dict_open_strict(cases[i].name, cases[i].open_flags, 0,
		    &why) == NULL, cases[i].label);
		CHECK(strcmp(why.data, cases[i].reason) == 0, cases[i].label);
		buf_fini(&want);
		free(log);
	}

	/* Callers can make one too. */
	{
		struct dict *d = dict_surrogate("lmdb:/x", O_RDONLY, 0,
		    "no way");

		check_surrogate("dict_surrogate", d, "no way");
		assert_string_equal(d->full_name, "lmdb:/x");
		dict_close(d);
	}
	buf_fini(&why);
}

static void
test_key_limit(void **state)
{
	enum dict_result rc, rc2;
	struct dict *d;
	struct buf v;
	char *key;
	char *log;

	(void)state;
	buf_init(&v, 0);
	key = malloc(DICT_MAX_KEY + 2);
	memset(key, 'k', DICT_MAX_KEY + 1);
	key[0] = 'k';
	key[1] = ':';
	key[DICT_MAX_KEY + 1] = '\0';
	d = dict_open("test:limit", O_RDONLY, 0);
	test_lookups = 0;
	capture_start();
	rc = dict_lookup(d, key, &v);
	log = capture_end();
	assert_int_equal(rc, DICT_TEMPFAIL);
	assert_int_equal(test_lookups, 0);	/* never reached the type */
	assert_non_null(strstr(dict_error(d), "key of 4097 bytes is longer "
	    "than the limit of 4096"));
	assert_non_null(strstr(log, "warning: table test:limit: key of"));
	free(log);
	key[DICT_MAX_KEY] = '\0';
	assert_int_equal(dict_lookup(d, key, &v), DICT_FOUND);
	assert_int_equal(v.len, DICT_MAX_KEY);
	assert_int_equal(test_lookups, 1);
	/* The same limit guards updates and deletes. */
	key[DICT_MAX_KEY] = 'k';
	capture_start();
	rc = dict_update(d, key, "v");
	rc2 = dict_delete(d, key);
	free(capture_end());
	assert_int_equal(rc, DICT_TEMPFAIL);
	assert_int_equal(rc2, DICT_TEMPFAIL);
	dict_close(d);
	free(key);
	buf_fini(&v);
}

static void
test_fold(void **state)
{
	struct dict *d;
	struct buf v;

	(void)state;
	buf_init(&v, 0);
	d = dict_open("test:fold", O_RDONLY, DICT_FLAG_FOLD);
	assert_int_equal(dict_lookup(d, "K:MiXeD.Example", &v), DICT_FOUND);
	assert_string_equal(v.data, "k:mixed.example");
	dict_close(d);
	d = dict_open("test:fold", O_RDONLY, 0);
	assert_int_equal(dict_lookup(d, "k:MiXeD", &v), DICT_FOUND);
	assert_string_equal(v.data, "k:MiXeD");
	dict_close(d);
	buf_fini(&v);
}

static void
test_nul_and_tempfail(void **state)
{
	enum dict_result rc, rc2;
	struct dict *d;
	struct buf v;
	char *log;

	(void)state;
	buf_init(&v, 0);
	d = dict_open("test:nul", O_RDONLY, 0);
	capture_start();
	rc = dict_lookup(d, "nul", &v);
	log = capture_end();
	free(log);
	assert_int_equal(rc, DICT_TEMPFAIL);
	assert_int_equal(v.len, 0);
	assert_string_equal(dict_error(d), "table test:nul: the value for "
	    "key \"nul\" contains a NUL byte");
	capture_start();
	rc = dict_lookup(d, "fail", &v);
	rc2 = dict_lookup(d, "nul", &v);
	log = capture_end();
	assert_int_equal(rc, DICT_TEMPFAIL);
	assert_int_equal(rc2, DICT_TEMPFAIL);
	/* A real table's temporary failure is logged each time. */
	assert_non_null(strstr(log, "contains a NUL byte"));
	assert_non_null(strstr(log, "backend down"));
	free(log);
	assert_int_equal(dict_lookup(d, "other", &v), DICT_NOTFOUND);
	dict_close(d);
	buf_fini(&v);
}

/* Iteration checks keys and values for NUL bytes as lookups do. */
static void
test_iterate_nul(void **state)
{
	struct buf k, v;
	struct dict *d;

	(void)state;
	buf_init(&k, 0);
	buf_init(&v, 0);
	d = dict_open("test:nulvalue", O_RDONLY, 0);
	assert_int_equal(dict_iterate(d, DICT_SEQ_FIRST, &k, &v), DICT_FOUND);
	assert_string_equal(k.data, "a");
	assert_string_equal(v.data, "1");
	assert_int_equal(dict_iterate(d, DICT_SEQ_NEXT, &k, &v),
	    DICT_TEMPFAIL);
	assert_int_equal(v.len, 0);
	assert_string_equal(dict_error(d), "table test:nulvalue: the value "
	    "for key \"b\" contains a NUL byte");
	dict_close(d);

	d = dict_open("test:nulkey", O_RDONLY, 0);
	assert_int_equal(dict_iterate(d, DICT_SEQ_FIRST, &k, &v),
	    DICT_TEMPFAIL);
	assert_int_equal(k.len, 0);
	assert_int_equal(v.len, 0);
	assert_string_equal(dict_error(d), "table test:nulkey: the key "
	    "\"k?x\" contains a NUL byte");
	dict_close(d);
	buf_fini(&k);
	buf_fini(&v);
}

static void
test_unsupported(void **state)
{
	static const struct {
		const char *label, *table, *op, *error;
	} cases[] = {
		{"inline update", "inline:{a=b}", "update",
		    "table inline:{a=b}: update is not supported by this "
		    "table type"},
		{"inline delete", "inline:{a=b}", "delete",
		    "table inline:{a=b}: delete is not supported by this "
		    "table type"},
		{"static iterate", "static:x", "iterate",
		    "table static:x: iteration is not supported by this "
		    "table type"},
		{"unix iterate", "unix:passwd.byname", "iterate",
		    "table unix:passwd.byname: iteration is not supported "
		    "by this table type"},
		{"test update", "test:x", "update",
		    "table test:x: update is not supported by this table "
		    "type"},
	};
	struct buf k, v, why;
	size_t i;

	(void)state;
	buf_init(&k, 0);
	buf_init(&v, 0);
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		struct dict *d = dict_open(cases[i].table, O_RDONLY, 0);
		enum dict_result rc;

		CHECK(!dict_is_surrogate(d), cases[i].label);
		if (strcmp(cases[i].op, "update") == 0)
			rc = dict_update(d, "a", "c");
		else if (strcmp(cases[i].op, "delete") == 0)
			rc = dict_delete(d, "a");
		else
			rc = dict_iterate(d, DICT_SEQ_FIRST, &k, &v);
		CHECK(rc == DICT_TEMPFAIL, cases[i].label);
		if (strcmp(dict_error(d), cases[i].error) != 0)
			fail_msg("case \"%s\": error \"%s\"", cases[i].label,
			    dict_error(d));
		/* Nothing to commit is success. */
		CHECK(dict_commit(d, &why) == 0, cases[i].label);
		dict_close(d);
	}
	buf_fini(&k);
	buf_fini(&v);
	buf_fini(&why);
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

static void
test_changed(void **state)
{
	struct timespec times[2];
	struct dict *d;
	char name[256], newpath[256];
	char *log;
	bool ok;

	(void)state;
	write_file(tmp_path("watched"), "a 1\n");
	snprintf(name, sizeof(name), "texthash:%s", tmp_path("watched"));
	assert_false(dict_changed());

	/* Replaced by rename, as editors and `petrel map` do. */
	d = dict_open(name, O_RDONLY, 0);
	assert_false(dict_is_surrogate(d));
	assert_false(dict_changed());
	write_file(tmp_path("watched.new"), "a 1\n");
	snprintf(newpath, sizeof(newpath), "%s", tmp_path("watched.new"));
	assert_int_equal(rename(newpath, tmp_path("watched")), 0);
	capture_start();
	ok = dict_changed();
	log = capture_end();
	assert_true(ok);
	assert_non_null(strstr(log, "table "));
	assert_non_null(strstr(log, "watched has changed -- restarting"));
	free(log);
	dict_close(d);
	/* A closed table is no longer watched. */
	assert_false(dict_changed());

	/* Rewritten in place, longer. */
	d = dict_open(name, O_RDONLY, 0);
	assert_false(dict_changed());
	write_file(tmp_path("watched"), "a 1\nb 2\n");
	assert_true(changed_quiet());
	dict_close(d);

	/* Rewritten in place, same size: the mtime tells. */
	d = dict_open(name, O_RDONLY, 0);
	assert_false(dict_changed());
	write_file(tmp_path("watched"), "a 1\nb 3\n");
	times[0].tv_sec = times[1].tv_sec = 1000000000;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, tmp_path("watched"), times, 0),
	    0);
	assert_true(changed_quiet());
	dict_close(d);

	/* Removed. */
	d = dict_open(name, O_RDONLY, 0);
	assert_false(dict_changed());
	assert_int_equal(unlink(tmp_path("watched")), 0);
	assert_true(changed_quiet());
	dict_close(d);
	assert_false(dict_changed());
}

/*
 * A table that failed to open is watched too: the file appearing, a
 * missing directory appearing, a broken file fixed in place or replaced,
 * an unreadable one made readable. Without that a daemon would answer
 * "temporary failure" until it restarted for some other reason.
 */
static void
test_changed_after_failed_open(void **state)
{
	char name[512], path[256], newpath[256];
	struct dict *d, *w;
	struct buf why, v;

	(void)state;
	buf_init(&why, 0);
	buf_init(&v, 0);
	assert_false(dict_changed());

	/* A missing file that the administrator then creates. */
	snprintf(path, sizeof(path), "%s", tmp_path("appears"));
	snprintf(name, sizeof(name), "texthash:%s", path);
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_true(dict_is_surrogate(d));
	assert_false(dict_changed());
	assert_false(dict_changed());
	write_file(path, "a 1\n");
	assert_true(changed_quiet());
	dict_close(d);
	assert_false(dict_changed());
	/* Now it opens; the surrogate made before the open is gone. */
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_false(dict_is_surrogate(d));
	assert_false(dict_changed());
	dict_close(d);

	/* A missing directory: its appearance is the first change. */
	snprintf(path, sizeof(path), "%s", tmp_path("newdir/t"));
	snprintf(name, sizeof(name), "lmdb:%s", path);
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_true(dict_is_surrogate(d));
	assert_false(dict_changed());
	assert_int_equal(mkdir(tmp_path("newdir"), 0755), 0);
	assert_true(changed_quiet());
	dict_close(d);
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_true(dict_is_surrogate(d));
	assert_false(dict_changed());
	/* lmdb: the indexed file, not the source, is what counts. */
	write_file(path, "a 1\n");
	assert_false(dict_changed());
	w = dict_open_strict(name, O_RDWR | O_CREAT | O_TRUNC,
	    DICT_FLAG_NO_CACHE, &why);
	assert_non_null(w);
	assert_int_equal(dict_update(w, "a", "1"), DICT_NOTFOUND);
	assert_int_equal(dict_commit(w, &why), 0);
	dict_close(w);
	assert_true(changed_quiet());
	dict_close(d);

	/* A broken file fixed in place. */
	snprintf(path, sizeof(path), "%s", tmp_path("broken"));
	snprintf(name, sizeof(name), "texthash:%s", path);
	write_file(path, "a 1\nb\n");
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_true(dict_is_surrogate(d));
	assert_int_equal(dict_lookup(d, "a", &v), DICT_TEMPFAIL);
	assert_false(dict_changed());
	write_file(path, "a 1\nb 2\n");
	assert_true(changed_quiet());
	dict_close(d);
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_int_equal(dict_lookup(d, "b", &v), DICT_FOUND);
	dict_close(d);

	/* A broken file replaced by rename, as editors do. */
	write_file(path, "a 1\nb\n");
	d = open_quiet(name, O_RDONLY, 0, NULL);
	assert_true(dict_is_surrogate(d));
	assert_false(dict_changed());
	snprintf(newpath, sizeof(newpath), "%s", tmp_path("broken.new"));
	write_file(newpath, "a 1\nb 3\n");
	assert_int_equal(rename(newpath, path), 0);
	assert_true(changed_quiet());
	dict_close(d);
	assert_false(dict_changed());

	/* An unreadable file made readable (root reads it anyway). */
	if (geteuid() != 0) {
		write_file(path, "a 1\n");
		assert_int_equal(chmod(path, 0), 0);
		d = open_quiet(name, O_RDONLY, 0, NULL);
		assert_true(dict_is_surrogate(d));
		assert_false(dict_changed());
		assert_int_equal(chmod(path, 0644), 0);
		assert_true(changed_quiet());
		dict_close(d);
	}
	assert_false(dict_changed());
	buf_fini(&why);
	buf_fini(&v);
}

/*
 * A table that cannot be opened is logged once per process: opening it
 * again shares the surrogate quietly, until a file it watches changes;
 * then the next open tries again, and works or logs the new reason.
 */
static void
test_surrogate_shared(void **state)
{
	struct dict *a, *b, *c, *d, *e, *f, *g;
	char name[512], path[256];
	struct buf why;
	char *log;

	(void)state;
	buf_init(&why, 0);
	snprintf(path, sizeof(path), "%s", tmp_path("later"));
	snprintf(name, sizeof(name), "texthash:%s", path);
	a = open_quiet(name, O_RDONLY, 0, &log);
	assert_true(dict_is_surrogate(a));
	assert_non_null(strstr(log, "No such file or directory"));
	free(log);
	b = open_quiet(name, O_RDONLY, 0, &log);
	assert_string_equal(log, "");
	free(log);
	c = open_quiet(name, O_RDONLY, 0, &log);
	assert_string_equal(log, "");
	free(log);
	assert_ptr_equal(a, b);
	assert_ptr_equal(a, c);
	assert_int_equal(a->refcount, 3);
	assert_int_equal(dict_lookup(b, "a", &why), DICT_TEMPFAIL);

	/* A strict open tries for real and leaves the shared one be. */
	assert_null(dict_open_strict(name, O_RDONLY, 0, &why));
	assert_non_null(strstr(why.data, "No such file or directory"));
	d = open_quiet(name, O_RDONLY, 0, &log);
	assert_ptr_equal(d, a);
	assert_string_equal(log, "");
	free(log);
	dict_close(d);
	/* A private open shares nothing. */
	d = open_quiet(name, O_RDONLY, DICT_FLAG_NO_CACHE, &log);
	assert_ptr_not_equal(d, a);
	assert_non_null(strstr(log, "No such file or directory"));
	free(log);
	dict_close(d);

	/* Still broken, another way: logged again, once. */
	write_file(path, "a 1\nb\n");
	d = open_quiet(name, O_RDONLY, 0, &log);
	assert_true(dict_is_surrogate(d));
	assert_ptr_not_equal(d, a);
	assert_non_null(strstr(log, "line 2"));
	free(log);
	e = open_quiet(name, O_RDONLY, 0, &log);
	assert_ptr_equal(e, d);
	assert_string_equal(log, "");
	free(log);

	/* Fixed: the next open works; holders of a surrogate restart. */
	write_file(path, "a 1\nb 2\n");
	f = open_quiet(name, O_RDONLY, 0, &log);
	assert_false(dict_is_surrogate(f));
	assert_string_equal(log, "");
	free(log);
	g = open_quiet(name, O_RDONLY, 0, NULL);
	assert_ptr_equal(f, g);
	assert_int_equal(dict_lookup(g, "b", &why), DICT_FOUND);
	assert_true(changed_quiet());
	dict_close(a);
	dict_close(b);
	dict_close(c);
	dict_close(d);
	dict_close(e);
	assert_false(dict_changed());
	dict_close(f);
	dict_close(g);
	assert_int_equal(unlink(path), 0);
	buf_fini(&why);
}

/* Lookups for the type tests: key, result, value when found. */
struct probe {
	const char *key;
	enum dict_result rc;
	const char *value;
};

#define MAX_PROBES	8

static void
run_probes(const char *label, struct dict *d, const struct probe *p)
{
	struct buf v;

	buf_init(&v, 0);
	for (; p->key; p++) {
		enum dict_result rc = dict_lookup(d, p->key, &v);

		if (rc != p->rc)
			fail_msg("case \"%s\": key \"%s\": rc %d want %d (%s)",
			    label, p->key, rc, p->rc, dict_error(d));
		if (rc == DICT_FOUND && strcmp(v.data, p->value) != 0)
			fail_msg("case \"%s\": key \"%s\": \"%s\" want \"%s\"",
			    label, p->key, v.data, p->value);
	}
	buf_fini(&v);
}

/* Iterate d; "k=v|" per entry. */
static void
dump(struct dict *d, struct buf *out)
{
	struct buf k, v;
	enum dict_seq seq = DICT_SEQ_FIRST;

	buf_init(&k, 0);
	buf_init(&v, 0);
	buf_reset(out);
	while (dict_iterate(d, seq, &k, &v) == DICT_FOUND) {
		buf_printf(out, "%s=%s|", k.data, v.data);
		seq = DICT_SEQ_NEXT;
	}
	buf_fini(&k);
	buf_fini(&v);
}

static void
test_texthash(void **state)
{
	static const struct {
		const char *label, *source;
		int flags;
		struct probe probes[MAX_PROBES];
		const char *dump, *warning, *error;
	} cases[] = {
		{"basic", "# access\nexample.com REJECT no thanks\n\n"
		    "10.0.0.1\tOK\n", 0,
		    {{"example.com", DICT_FOUND, "REJECT no thanks"},
		    {"10.0.0.1", DICT_FOUND, "OK"},
		    {"example.org", DICT_NOTFOUND, NULL},
		    {"EXAMPLE.COM", DICT_NOTFOUND, NULL}, {NULL, 0, NULL}},
		    "example.com=REJECT no thanks|10.0.0.1=OK|", NULL, NULL},
		{"fold", "Example.COM OK\nuser@Example.com Mixed Value\n",
		    DICT_FLAG_FOLD,
		    {{"example.com", DICT_FOUND, "OK"},
		    {"EXAMPLE.com", DICT_FOUND, "OK"},
		    {"USER@example.COM", DICT_FOUND, "Mixed Value"},
		    {NULL, 0, NULL}},
		    "example.com=OK|user@example.com=Mixed Value|", NULL,
		    NULL},
		{"continuation", "list a,\n  b,\n# c\n  c\n", 0,
		    {{"list", DICT_FOUND, "a,  b,  c"}, {NULL, 0, NULL}},
		    "list=a,  b,  c|", NULL, NULL},
		{"duplicate: first wins", "a 1\nb 2\na 3\n", 0,
		    {{"a", DICT_FOUND, "1"}, {"b", DICT_FOUND, "2"},
		    {NULL, 0, NULL}}, "a=1|b=2|",
		    "line 3: duplicate entry: \"a\"", NULL},
		{"duplicate after folding", "A 1\na 2\n", DICT_FLAG_FOLD,
		    {{"a", DICT_FOUND, "1"}, {NULL, 0, NULL}}, "a=1|",
		    "line 2: duplicate entry: \"a\"", NULL},
		{"empty file", "# nothing\n", 0,
		    {{"a", DICT_NOTFOUND, NULL}, {NULL, 0, NULL}}, "", NULL,
		    NULL},
		{"CRLF", "a 1\r\nb 2 \r\n", 0,
		    {{"a", DICT_FOUND, "1"}, {"b", DICT_FOUND, "2"},
		    {NULL, 0, NULL}}, "a=1|b=2|", NULL, NULL},
		{"missing value", "a 1\nb\n", 0, {{NULL, 0, NULL}}, NULL,
		    NULL, "line 2: expected format: key whitespace value"},
		{"leading whitespace", " a 1\n", 0, {{NULL, 0, NULL}}, NULL,
		    NULL, "line 1: logical line must not start with "
		    "whitespace"},
		{"NUL byte", "a 1\nb \0\n", 0, {{NULL, 0, NULL}}, NULL, NULL,
		    "line 2: NUL byte in line"},
	};
	struct buf out, want, why;
	size_t i;

	(void)state;
	buf_init(&out, 0);
	buf_init(&want, 0);
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		const char *path = tmp_path("th");
		char name[256];
		struct dict *d;
		char *log;
		FILE *fp;

		/* Write with fwrite: the NUL case holds a NUL. */
		fp = fopen(path, "w");
		assert_non_null(fp);
		fwrite(cases[i].source, 1, strlen(cases[i].source), fp);
		if (strcmp(cases[i].label, "NUL byte") == 0)
			fwrite("\0\n", 1, 2, fp);
		assert_int_equal(fclose(fp), 0);
		snprintf(name, sizeof(name), "texthash:%s", path);
		capture_start();
		d = dict_open_strict(name, O_RDONLY,
		    cases[i].flags | DICT_FLAG_NO_CACHE, &why);
		log = capture_end();
		if (cases[i].error) {
			buf_reset(&want);
			buf_printf(&want, "table %s: %s, %s", name, path,
			    cases[i].error);
			CHECK(d == NULL, cases[i].label);
			if (strcmp(why.data, want.data) != 0)
				fail_msg("case \"%s\": error \"%s\"",
				    cases[i].label, why.data);
			free(log);
			continue;
		}
		if (d == NULL)
			fail_msg("case \"%s\": %s", cases[i].label, why.data);
		if (cases[i].warning) {
			buf_reset(&want);
			buf_printf(&want, "warning: %s, %s", path,
			    cases[i].warning);
			if (strstr(log, want.data) == NULL)
				fail_msg("case \"%s\": logged \"%s\"",
				    cases[i].label, log);
		} else {
			CHECK(log[0] == '\0', cases[i].label);
		}
		run_probes(cases[i].label, d, cases[i].probes);
		dump(d, &out);
		if (strcmp(out.data, cases[i].dump) != 0)
			fail_msg("case \"%s\": dump \"%s\"", cases[i].label,
			    out.data);
		/* NEXT after the end stays at the end; FIRST restarts. */
		CHECK(dict_iterate(d, DICT_SEQ_NEXT, &want, &why)
		    == DICT_NOTFOUND, cases[i].label);
		free(log);
		dict_close(d);
	}
	buf_fini(&out);
	buf_fini(&want);
	buf_fini(&why);
}

static void
test_inline(void **state)
{
	static const struct {
		const char *label, *name;
		int flags;
		struct probe probes[MAX_PROBES];
		const char *dump, *error;
	} cases[] = {
		{"one entry", "{a=b}", 0,
		    {{"a", DICT_FOUND, "b"}, {"b", DICT_NOTFOUND, NULL},
		    {NULL, 0, NULL}}, "a=b|", NULL},
		{"commas and spaces", "{ a=1, b=2 ,c=3\td=4,,e=5 }", 0,
		    {{"a", DICT_FOUND, "1"}, {"b", DICT_FOUND, "2"},
		    {"c", DICT_FOUND, "3"}, {"d", DICT_FOUND, "4"},
		    {"e", DICT_FOUND, "5"}, {NULL, 0, NULL}},
		    "a=1|b=2|c=3|d=4|e=5|", NULL},
		{"braced entry with spaces and commas",
		    "{ key=value, { key2 = text with spaces, and commas }, "
		    "k3=v3 }", 0,
		    {{"key", DICT_FOUND, "value"},
		    {"key2", DICT_FOUND, "text with spaces, and commas"},
		    {"k3", DICT_FOUND, "v3"}, {NULL, 0, NULL}},
		    "key=value|key2=text with spaces, and commas|k3=v3|",
		    NULL},
		{"braced key with a space", "{{ my key = v }}", 0,
		    {{"my key", DICT_FOUND, "v"}, {NULL, 0, NULL}},
		    "my key=v|", NULL},
		{"nested braces in a value", "{ { list = {a, b} } }", 0,
		    {{"list", DICT_FOUND, "{a, b}"}, {NULL, 0, NULL}},
		    "list={a, b}|", NULL},
		{"braces inside a plain entry", "{k={a, b},x=y}", 0,
		    {{"k", DICT_FOUND, "{a, b}"}, {"x", DICT_FOUND, "y"},
		    {NULL, 0, NULL}}, "k={a, b}|x=y|", NULL},
		{"equals sign in a value", "{a=b=c}", 0,
		    {{"a", DICT_FOUND, "b=c"}, {NULL, 0, NULL}}, "a=b=c|",
		    NULL},
		{"empty value", "{a=, { b = }}", 0,
		    {{"a", DICT_FOUND, ""}, {"b", DICT_FOUND, ""},
		    {NULL, 0, NULL}}, "a=|b=|", NULL},
		{"fold", "{User@Example.COM=Value}", DICT_FLAG_FOLD,
		    {{"user@example.com", DICT_FOUND, "Value"},
		    {"USER@EXAMPLE.COM", DICT_FOUND, "Value"},
		    {NULL, 0, NULL}}, "user@example.com=Value|", NULL},
		{"no fold", "{User=Value}", 0,
		    {{"user", DICT_NOTFOUND, NULL},
		    {"User", DICT_FOUND, "Value"}, {NULL, 0, NULL}},
		    "User=Value|", NULL},
		{"duplicate: first wins", "{a=1, a=2}", 0,
		    {{"a", DICT_FOUND, "1"}, {NULL, 0, NULL}}, "a=1|", NULL},
		{"no braces", "a=b", 0, {{NULL, 0, NULL}}, NULL,
		    "expected inline:{key=value, ...}"},
		{"only an opening brace", "{", 0, {{NULL, 0, NULL}}, NULL,
		    "expected inline:{key=value, ...}"},
		{"no closing brace", "{a=b", 0, {{NULL, 0, NULL}}, NULL,
		    "expected inline:{key=value, ...}"},
		{"empty", "{}", 0, {{NULL, 0, NULL}}, NULL, "empty table"},
		{"only separators", "{ , ,\t}", 0, {{NULL, 0, NULL}}, NULL,
		    "empty table"},
		{"no equals sign", "{a=b, c}", 0, {{NULL, 0, NULL}}, NULL,
		    "entry \"c\": expected key=value or { key = value }"},
		{"spaces around '=' without braces", "{ key2 = value2 }", 0,
		    {{NULL, 0, NULL}}, NULL,
		    "entry \"key2\": expected key=value or { key = value }"},
		{"braced without equals sign", "{{ a b }}", 0,
		    {{NULL, 0, NULL}}, NULL,
		    "entry \"a b\": expected key=value or { key = value }"},
		{"empty braced entry", "{a=b,{}}", 0, {{NULL, 0, NULL}},
		    NULL,
		    "entry \"\": expected key=value or { key = value }"},
		{"missing key", "{=b}", 0, {{NULL, 0, NULL}}, NULL,
		    "entry \"=b\": missing key"},
		{"missing key, braced", "{ { = b c } }", 0, {{NULL, 0, NULL}},
		    NULL, "entry \"=b c\": missing key"},
		{"unclosed inner brace", "{ {a=b }", 0, {{NULL, 0, NULL}},
		    NULL, "unbalanced '{' and '}'"},
		{"stray closing brace", "{ a=b} }", 0, {{NULL, 0, NULL}}, NULL,
		    "unbalanced '{' and '}'"},
		{"text after a braced entry", "{ {a=b}c }", 0,
		    {{NULL, 0, NULL}}, NULL,
		    "entry \"{a=b}c\": text after '}'"},
	};
	struct buf out, want, why;
	size_t i;

	(void)state;
	buf_init(&out, 0);
	buf_init(&want, 0);
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		char name[256];
		struct dict *d;
		char *log;

		snprintf(name, sizeof(name), "inline:%s", cases[i].name);
		capture_start();
		d = dict_open_strict(name, O_RDONLY, cases[i].flags, &why);
		log = capture_end();
		if (cases[i].error) {
			buf_reset(&want);
			buf_printf(&want, "table %s: %s", name,
			    cases[i].error);
			CHECK(d == NULL, cases[i].label);
			if (strcmp(why.data, want.data) != 0)
				fail_msg("case \"%s\": error \"%s\"",
				    cases[i].label, why.data);
			/* Through dict_open: a surrogate with that reason. */
			d = open_quiet(name, O_RDONLY, cases[i].flags, NULL);
			check_surrogate(cases[i].label, d, want.data);
			dict_close(d);
			free(log);
			continue;
		}
		if (d == NULL)
			fail_msg("case \"%s\": %s", cases[i].label, why.data);
		if (strstr(cases[i].label, "duplicate"))
			CHECK(strstr(log, "duplicate entry: \"a\"") != NULL,
			    cases[i].label);
		else
			CHECK(log[0] == '\0', cases[i].label);
		run_probes(cases[i].label, d, cases[i].probes);
		dump(d, &out);
		if (strcmp(out.data, cases[i].dump) != 0)
			fail_msg("case \"%s\": dump \"%s\"", cases[i].label,
			    out.data);
		free(log);
		dict_close(d);
	}
	buf_fini(&out);
	buf_fini(&want);
	buf_fini(&why);
}

static void
test_static(void **state)
{
	static const struct {
		const char *label, *name, *value, *error;
	} cases[] = {
		{"word", "static:OK", "OK", NULL},
		{"braces", "static:{ text with spaces }", "text with spaces",
		    NULL},
		{"braces, no spaces", "static:{x}", "x", NULL},
		{"colons kept", "static:smtp:[relay]:25", "smtp:[relay]:25",
		    NULL},
		{"empty", "static:", "", NULL},
		{"empty braces", "static:{ }", "", NULL},
		{"unclosed brace", "static:{abc", NULL,
		    "table static:{abc: expected static:{value} (missing "
		    "'}')"},
		{"lone brace", "static:{", NULL,
		    "table static:{: expected static:{value} (missing '}')"},
	};
	struct buf why;
	size_t i;

	(void)state;
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		struct probe probes[] = {
			{"anything", DICT_FOUND, cases[i].value},
			{"", DICT_FOUND, cases[i].value},
			{"Other.Key@example.com", DICT_FOUND, cases[i].value},
			{NULL, 0, NULL},
		};
		struct dict *d;

		d = dict_open_strict(cases[i].name, O_RDONLY, 0, &why);
		if (cases[i].error) {
			CHECK(d == NULL, cases[i].label);
			CHECK(strcmp(why.data, cases[i].error) == 0,
			    cases[i].label);
			continue;
		}
		CHECK(d != NULL, cases[i].label);
		run_probes(cases[i].label, d, probes);
		dict_close(d);
	}
	buf_fini(&why);
}

static void
test_unix(void **state)
{
	static const struct {
		const char *label, *table;
		struct probe probes[MAX_PROBES];
		const char *prefix;	/* of the first probe's value */
	} cases[] = {
		{"passwd", "unix:passwd.byname",
		    {{"root", DICT_FOUND, NULL},
		    {"no-such-user-petrel", DICT_NOTFOUND, NULL},
		    {"", DICT_NOTFOUND, NULL}, {NULL, 0, NULL}},
		    "root:x:0:0:"},
		{"group", "unix:group.byname",
		    {{"root", DICT_FOUND, NULL},
		    {"no-such-group-petrel", DICT_NOTFOUND, NULL},
		    {NULL, 0, NULL}}, "root:x:0:"},
	};
	struct buf v, why;
	size_t i, j;

	(void)state;
	buf_init(&v, 0);
	buf_init(&why, 0);
	for (i = 0; i < NELEM(cases); i++) {
		struct dict *d = dict_open(cases[i].table, O_RDONLY, 0);

		CHECK(!dict_is_surrogate(d), cases[i].label);
		for (j = 0; cases[i].probes[j].key; j++) {
			const struct probe *p = &cases[i].probes[j];

			if (dict_lookup(d, p->key, &v) != p->rc)
				fail_msg("case \"%s\": key \"%s\": %s",
				    cases[i].label, p->key, dict_error(d));
		}
		assert_int_equal(dict_lookup(d, "root", &v), DICT_FOUND);
		if (strncmp(v.data, cases[i].prefix,
		    strlen(cases[i].prefix)) != 0)
			fail_msg("case \"%s\": \"%s\"", cases[i].label,
			    v.data);
		dict_close(d);
	}
	/* passwd: seven fields, the password never shown. */
	{
		struct dict *d = dict_open("unix:passwd.byname", O_RDONLY, 0);
		size_t colons = 0;

		assert_int_equal(dict_lookup(d, "root", &v), DICT_FOUND);
		for (j = 0; j < v.len; j++)
			colons += v.data[j] == ':';
		assert_true(colons >= 6);
		dict_close(d);
	}
	assert_null(dict_open_strict("unix:shadow.byname", O_RDONLY, 0,
	    &why));
	assert_string_equal(why.data, "table unix:shadow.byname: unknown "
	    "table (expected unix:passwd.byname or unix:group.byname)");
	assert_null(dict_open_strict("unix:passwd.byname", O_RDWR, 0,
	    &why));
	buf_fini(&v);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_name),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_alias_names),
		cmocka_unit_test(test_sharing),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_key_limit),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_nul_and_tempfail),
		cmocka_unit_test(test_iterate_nul),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_changed_after_failed_open),
		cmocka_unit_test(test_surrogate_shared),
		cmocka_unit_test(test_texthash),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_unix),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
