/*
 * dict_texthash.c - texthash:/path, a postmap(1) source read into memory
 *
 * The whole file is read at open (dict_source.c does the syntax) into a
 * hash table, so a texthash table needs no `petrel map` step; a change
 * to the file is noticed by dict_changed() and picked up when the daemon
 * restarts. Read-only: lookup and iterate.
 *
 * A syntax error anywhere fails the open: the caller then holds a
 * surrogate that names file and line, never a table with half the
 * entries (which would turn "defer" into "not found" for the rest).
 * A duplicate key is a warning and the first entry wins, as postmap(1)
 * does when building an indexed table.
 *
 * Iteration runs in file order, so `petrel map -s` output is stable.
 *
 * SECURITY: the file is outside data; dict_source.c bounds every line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "argv.h"
#include "buf.h"
#include "dict_source.h"
#include "dict_types.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

struct dict_texthash {
	struct dict d;
	struct htable *table;	/* key -> value (char *, ours) */
	struct argv *keys;	/* keys in file order, for iteration */
	size_t next;		/* iteration cursor into keys */
};

struct dict_texthash_load {
	struct dict_texthash *th;
	struct buf folded;
};

static int
dict_texthash_add(const char *key, const char *value, const char *file,
    int line, void *ctx, struct buf *why)
{
	struct dict_texthash_load *load = ctx;
	struct dict_texthash *th = load->th;

	(void)why;
	if (th->d.dict_flags & DICT_FLAG_FOLD) {
		buf_set(&load->folded, key);
		key = str_lower(load->folded.data);
	}
	if (htable_get(th->table, key) != NULL) {
		msg_warn("%s, line %d: duplicate entry: \"%s\"", file, line,
		    key);
		return 0;
	}
	htable_put(th->table, key, xstrdup(value));
	argv_add(th->keys, key);
	return 0;
}

static enum dict_result
dict_texthash_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_texthash *th = (struct dict_texthash *)d;
	const char *v;

	if ((v = htable_get(th->table, key)) == NULL)
		return DICT_NOTFOUND;
	buf_set(value, v);
	return DICT_FOUND;
}

static enum dict_result
dict_texthash_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	struct dict_texthash *th = (struct dict_texthash *)d;
	const char *k;

	if (seq == DICT_SEQ_FIRST)
		th->next = 0;
	if (th->next >= th->keys->argc)
		return DICT_NOTFOUND;
	k = th->keys->argv[th->next++];
	buf_set(key, k);
	buf_set(value, htable_get(th->table, k));
	return DICT_FOUND;
}

static void
dict_texthash_close(struct dict *d)
{
	struct dict_texthash *th = (struct dict_texthash *)d;

	htable_free(th->table, free);
	argv_free(th->keys);
	dict_free(d);
}

static struct dict *
dict_texthash_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_texthash_load load;
	struct dict_texthash *th;
	struct stat st;
	FILE *fp;
	int rc;

	if ((open_flags & (O_ACCMODE | O_CREAT | O_TRUNC)) != O_RDONLY) {
		buf_printf(why, "table texthash:%s: texthash tables are "
		    "read-only", name);
		return NULL;
	}
	if ((fp = fopen(name, "re")) == NULL) {
		buf_printf(why, "table texthash:%s: open %s: %s", name, name,
		    strerror(errno));
		return NULL;
	}
	th = (struct dict_texthash *)dict_alloc(&dict_texthash_ops, name,
	    open_flags, dict_flags, sizeof(*th));
	th->table = htable_new(64);
	th->keys = argv_new();
	load.th = th;
	buf_init(&load.folded, 64);
	rc = dict_source_read(name, fp, dict_texthash_add, &load, why);
	buf_fini(&load.folded);
	if (rc == 0 && fstat(fileno(fp), &st) < 0) {
		buf_printf(why, "fstat %s: %s", name, strerror(errno));
		rc = -1;
	}
	fclose(fp);			/* read-only: nothing to lose */
	if (rc < 0) {
		struct buf reason;

		/* Name the table; dict_source named the file and line. */
		buf_init(&reason, 64);
		buf_printf(&reason, "table texthash:%s: %s", name, why->data);
		buf_set(why, reason.data);
		buf_fini(&reason);
		dict_texthash_close(&th->d);
		return NULL;
	}

	/*
	 * Watch what we read, not what is there now: were the file replaced
	 * between our read and dict_watch()'s stat, the next dict_changed()
	 * must still see the difference.
	 */
	dict_watch(&th->d, name);
	if (th->d.watching)
		th->d.watch_st = st;
	return &th->d;
}

const struct dict_ops dict_texthash_ops = {
	.type = "texthash",
	.open = dict_texthash_open,
	.lookup = dict_texthash_lookup,
	.iterate = dict_texthash_iterate,
	.close = dict_texthash_close,
	.file = dict_file_is_name,
};
