/*
 * dict_open.c - open a table by "type:name": the registry of types
 *
 * dict_open() parses "type:name", finds the type (hash: and btree: are
 * lmdb:), and returns a shared table from the process cache (dict.c) or
 * opens a new one. When opening fails, the caller gets a surrogate
 * table whose every answer is DICT_TEMPFAIL with the reason, logged
 * once here. The surrogate watches the file the type would have read
 * (dict_ops.file), so that dict_changed() tells a daemon to restart
 * once the file appears or is fixed. Only programs that open tables
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
 * dict_open_strict(), and for dict_open(): when the type reads a file,
 * *pending receives a surrogate that watches it from before the open
 * (so a file fixed while the open failed is not missed). It is closed
 * when the open works.
 */
static struct dict *
dict_open_try(const char *type_name, int open_flags, int dict_flags,
    struct buf *why, struct dict **pending)
{
	const struct dict_ops *ops;
	struct buf type, name, path;
	struct dict *d = NULL;
	char *key = NULL;

	buf_reset(why);
	if (!(dict_flags & DICT_FLAG_NO_CACHE)) {
		key = dict_cache_key(type_name, open_flags, dict_flags);
		if ((d = dict_cache_find(key)) != NULL) {
			d->refcount++;
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
		if (pending != NULL && ops->file != NULL) {
			buf_init(&path, 64);
			ops->file(name.data, &path);
			*pending = dict_surrogate(type_name, open_flags,
			    dict_flags, "");
			dict_watch_name(*pending, path.data);
			buf_fini(&path);
		}
		if ((d = ops->open(name.data, open_flags, dict_flags,
		    why)) == NULL)
			dict_name_reason(why, type_name);
	}
	buf_fini(&type);
	buf_fini(&name);
	if (d == NULL) {
		free(key);
		return NULL;
	}
	if (pending != NULL) {
		dict_close(*pending);
		*pending = NULL;
	}
	/* Messages name the table as configured: hash:x, not lmdb:x. */
	if (strcmp(d->full_name, type_name) != 0) {
		free(d->full_name);
		d->full_name = xstrdup(type_name);
	}
	if (key) {
		d->cache_key = key;
		dict_cache_add(key, d);
	}
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
		/* Logged once: later answers carry the reason quietly. */
		msg_warn("%s", why.data);
		if ((d = pending) != NULL)
			dict_surrogate_reason(d, why.data);
		else
			d = dict_surrogate(type_name, open_flags, dict_flags,
			    why.data);
	}
	buf_fini(&why);
	return d;
}
