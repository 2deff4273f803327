/*
 * dict_open.c - open a table by "type:name": the registry of types
 *
 * dict_open() parses "type:name", finds the type (hash: and btree: are
 * lmdb:), and returns a shared table from the process cache (dict.c) or
 * opens a new one. When opening fails, the caller gets a surrogate
 * table whose every answer is DICT_TEMPFAIL with the reason, logged
 * once here. The surrogate watches the file the type would have read
 * (dict_ops.file) and the others it named (dict_open_watch(): an SQL
 * table's database file or domain files), so that dict_changed() tells
 * a daemon to restart once a file appears or is fixed. It is cached
 * like a table, so opening the same table again does not log the
 * reason again; once a watched file has changed, the next open tries
 * the table again. Only programs that open tables
 * link this file, and with it every type's code and libraries
 * (database clients among them).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_types.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

static const struct dict_ops *const dict_builtin[] = {
	&dict_texthash_ops,
	&dict_lmdb_ops,
	&dict_cdb_ops,
	&dict_regexp_ops,
	&dict_pcre_ops,
	&dict_cidr_ops,
	&dict_inline_ops,
	&dict_static_ops,
	&dict_unix_ops,
	&dict_mysql_ops,
	&dict_pgsql_ops,
	&dict_sqlite_ops,
};

/* Names that mean another type, for Postfix configurations. */
static const struct {
	const char *alias;
	const char *type;
} dict_aliases[] = {
	{"hash", "lmdb"},
	{"btree", "lmdb"},
};

const struct dict_ops *
dict_find_type(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(dict_aliases) / sizeof(dict_aliases[0]); i++)
		if (strcmp(type, dict_aliases[i].alias) == 0)
			type = dict_aliases[i].type;
	for (i = 0; i < sizeof(dict_builtin) / sizeof(dict_builtin[0]); i++)
		if (strcmp(dict_builtin[i]->type, type) == 0)
			return dict_builtin[i];
	return dict_find_registered(type);
}

int
dict_split_name(const char *type_name, struct buf *type, struct buf *name)
{
	const char *colon = strchr(type_name, ':');

	if (colon == NULL || colon == type_name)
		return -1;
	buf_setn(type, type_name, (size_t)(colon - type_name));
	buf_set(name, colon + 1);
	return 0;
}

static char *
dict_cache_key(const char *type_name, int open_flags, int dict_flags)
{
	struct buf key;

	buf_init(&key, 64);
	buf_printf(&key, "%d:%d:%s", open_flags, dict_flags, type_name);
	return buf_steal(&key);
}

/* Make every open failure name the table, whatever the type said. */
static void
dict_name_reason(struct buf *why, const char *type_name)
{
	struct buf text;

	if (why->len == 0) {
		buf_printf(why, "table %s: cannot open", type_name);
		return;
	}
	if (str_has_prefix(why->data, "table "))
		return;
	buf_init(&text, why->len + 64);
	buf_printf(&text, "table %s: %s", type_name, why->data);
	buf_setn(why, text.data, text.len);
	buf_fini(&text);
}

/*
 * The surrogate-to-be of the open in progress, which collects what
 * dict_open_watch() names (opens nest: domain tables of SQL tables).
 */
static struct dict *dict_opening;

void
dict_open_watch(const char *path, bool kept)
{
	if (dict_opening != NULL)
		dict_watch_name(dict_opening, path, kept);
}

/*
 * The table cached under key, if it may be used: a surrogate only by
 * dict_open(), and only while the files it watches are as they were;
 * else it leaves the cache (its holders keep it) and the caller opens
 * the table again.
 */
static struct dict *
dict_cache_use(const char *key, bool strict)
{
	struct dict *d;

	if ((d = dict_cache_find(key)) == NULL)
		return NULL;
	if (dict_is_surrogate(d)) {
		if (strict)
			return NULL;
		if (dict_watch_changed(d)) {
			dict_cache_forget(d);
			return NULL;
		}
	}
	d->refcount++;
	return d;
}

static void
dict_cache_put(struct dict *d, char *key)
{
	struct dict *old;

	/* A surrogate that dict_open_strict() did not use. */
	if ((old = dict_cache_find(key)) != NULL)
		dict_cache_forget(old);
	d->cache_key = key;
	dict_cache_add(key, d);
}

/*
 * dict_open_strict(), and for dict_open(): when the type is known,
 * *pending receives a surrogate that watches the file the type reads
 * (dict_ops.file) and those it named with dict_open_watch(), each from
 * before it was read (so a file fixed while the open failed is not
 * missed). When the open works, the table takes over the watches the
 * type asked it to keep.
 */
static struct dict *
dict_open_try(const char *type_name, int open_flags, int dict_flags,
    struct buf *why, struct dict **pending)
{
	const struct dict_ops *ops;
	struct buf type, name, path;
	struct dict *d = NULL, *watcher, *outer;
	char *key = NULL;

	buf_reset(why);
	if (!(dict_flags & DICT_FLAG_NO_CACHE)) {
		key = dict_cache_key(type_name, open_flags, dict_flags);
		if ((d = dict_cache_use(key, pending == NULL)) != NULL) {
			free(key);
			return d;
		}
	}
	buf_init(&type, 16);
	buf_init(&name, 64);
	if (dict_split_name(type_name, &type, &name) < 0) {
		buf_printf(why, "table \"%s\": expected type:name", type_name);
	} else if ((ops = dict_find_type(type.data)) == NULL) {
		buf_printf(why, "table \"%s\": unknown table type \"%s\"",
		    type_name, type.data);
	} else {
		watcher = dict_surrogate(type_name, open_flags, dict_flags, "");
		if (ops->file != NULL) {
			buf_init(&path, 64);
			ops->file(name.data, &path);
			dict_watch_name(watcher, path.data, false);
			buf_fini(&path);
		}
		outer = dict_opening;
		dict_opening = watcher;
		d = ops->open(name.data, open_flags, dict_flags, why);
		dict_opening = outer;
		if (d != NULL) {
			dict_watch_move(d, watcher);
			dict_close(watcher);
		} else {
			dict_name_reason(why, type_name);
			if (pending != NULL)
				*pending = watcher;
			else
				dict_close(watcher);
		}
	}
	buf_fini(&type);
	buf_fini(&name);
	if (d == NULL) {
		free(key);
		return NULL;
	}
	/* Messages name the table as configured: hash:x, not lmdb:x. */
	if (strcmp(d->full_name, type_name) != 0) {
		free(d->full_name);
		d->full_name = xstrdup(type_name);
	}
	if (key)
		dict_cache_put(d, key);
	return d;
}

struct dict *
dict_open_strict(const char *type_name, int open_flags, int dict_flags,
    struct buf *why)
{
	return dict_open_try(type_name, open_flags, dict_flags, why, NULL);
}

struct dict *
dict_open(const char *type_name, int open_flags, int dict_flags)
{
	struct dict *d, *pending = NULL;
	struct buf why;

	buf_init(&why, 128);
	d = dict_open_try(type_name, open_flags, dict_flags, &why, &pending);
	if (d == NULL) {
		/*
		 * Logged once: later answers carry the reason quietly, and
		 * later opens share the surrogate until a file it watches
		 * changes (dict_cache_use()).
		 */
		msg_warn("%s", why.data);
		if ((d = pending) != NULL)
			dict_surrogate_reason(d, why.data);
		else
			d = dict_surrogate(type_name, open_flags, dict_flags,
			    why.data);
		if (!(dict_flags & DICT_FLAG_NO_CACHE))
			dict_cache_put(d, dict_cache_key(type_name, open_flags,
			    dict_flags));
	}
	buf_fini(&why);
	return d;
}
