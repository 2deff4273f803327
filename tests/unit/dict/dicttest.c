/*
 * dicttest.c - helpers shared by the table-type unit tests (dicttest.h)
 *
 * A scratch directory per test program, names in it, opening, building
 * and committing tables, and checks of lookups, iteration and the
 * directory's contents, each failing with a message that says what
 * differed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dicttest.h"

#define CREATE		(O_RDWR | O_CREAT | O_TRUNC)

char dicttest_dir[64];
static const char *dicttest_type;

int
dicttest_setup(const char *type)
{
	dicttest_type = type;
	snprintf(dicttest_dir, sizeof(dicttest_dir),
	    "/tmp/petrel-test-%s-XXXXXX", type);
	return mkdtemp(dicttest_dir) ? 0 : -1;
}

int
dicttest_teardown(void)
{
	clean_dir();
	return rmdir(dicttest_dir);
}

/* "type:<dir>/name" or "<dir>/name<suffix>" (static storage). */
const char *
tmp_name(const char *type, const char *name, const char *suffix)
{
	static struct buf path[4];
	static int next;
	struct buf *b = &path[next++ % 4];

	if (b->data == NULL)
		buf_init(b, 64);
	buf_reset(b);
	buf_printf(b, "%s%s%s/%s%s", type ? type : "", type ? ":" : "",
	    dicttest_dir, name, suffix ? suffix : "");
	return b->data;
}

/*
 * The reason dict_open_strict() gives for a table it cannot open:
 * "table TYPE:<dir>/name: open <dir>/name<rest>" (static storage).
 */
const char *
open_reason(const char *name, const char *rest)
{
	static struct buf want;

	if (want.data == NULL)
		buf_init(&want, 128);
	buf_reset(&want);
	buf_printf(&want, "table %s:%s/%s: open %s/%s%s", dicttest_type, dicttest_dir,
	    name,
	    dicttest_dir, name, rest);
	return want.data;
}

/* The names in the test directory, sorted, space-separated. */
char *
dir_list(void)
{
	struct dirent **names;
	struct buf out;
	int n, i;

	n = scandir(dicttest_dir, &names, NULL, alphasort);
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

void
clean_dir(void)
{
	struct dirent *e;
	DIR *dir = opendir(dicttest_dir);

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			assert_int_equal(unlink(tmp_name(NULL, e->d_name,
			    NULL)), 0);
	closedir(dir);
}

void
check_dir(const char *want)
{
	char *got = dir_list();

	if (strcmp(got, want) != 0)
		fail_msg("directory holds \"%s\", want \"%s\"", got, want);
	free(got);
}

struct dict *
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

void
commit_ok(struct dict *d)
{
	struct buf why;

	buf_init(&why, 64);
	if (dict_commit(d, &why) != 0)
		fail_msg("commit %s: %s", d->full_name, why.data);
	buf_fini(&why);
}

/* Build name from "k=v" pairs and commit. */
void
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

void
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
char *
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

void
check_dump(struct dict *d, const char *want, const char *label)
{
	char *got = dump(d);

	if (strcmp(got, want) != 0)
		fail_msg("%s: entries \"%s\", want \"%s\"", label, got, want);
	free(got);
}


static struct buf dicttest_table_path;

const char *
write_table(const char *text)
{
	static int serial;
	FILE *fp;

	if (dicttest_table_path.data == NULL)
		buf_init(&dicttest_table_path, 64);
	buf_reset(&dicttest_table_path);
	buf_printf(&dicttest_table_path, "%s/t%d", dicttest_dir, ++serial);
	fp = fopen(dicttest_table_path.data, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	return dicttest_table_path.data;
}

const char *
table_path(void)
{
	return dicttest_table_path.data ? dicttest_table_path.data : "";
}

struct dict *
open_text_table(const char *type, const char *text, int open_flags,
    int dict_flags, struct buf *why)
{
	struct buf name;
	struct dict *d;

	buf_init(&name, 64);
	buf_printf(&name, "%s:%s", type, write_table(text));
	d = dict_open_strict(name.data, open_flags,
	    dict_flags | DICT_FLAG_NO_CACHE, why);
	buf_fini(&name);
	return d;
}
