/*
 * dict_types.h - the built-in table types (one dict_ops each)
 *
 * dict_open.c's registry lists them; each lives in its own dict_<type>.c.
 * The proxy type lives in the global library and registers itself with
 * dict_register().
 */
#ifndef PETREL_DICT_TYPES_H
#define PETREL_DICT_TYPES_H

#include "dict.h"

extern const struct dict_ops dict_texthash_ops;
extern const struct dict_ops dict_lmdb_ops;
extern const struct dict_ops dict_cdb_ops;
extern const struct dict_ops dict_regexp_ops;
extern const struct dict_ops dict_pcre_ops;
extern const struct dict_ops dict_cidr_ops;
extern const struct dict_ops dict_inline_ops;
extern const struct dict_ops dict_static_ops;
extern const struct dict_ops dict_unix_ops;
extern const struct dict_ops dict_mysql_ops;
extern const struct dict_ops dict_pgsql_ops;
extern const struct dict_ops dict_sqlite_ops;

/*
 * The process cache of open tables (dict.c), for dict_open.c: the table
 * cached under key, or NULL; add one (key is the table's cache_key);
 * take one out (its holders keep it; the next open makes a new one).
 */
struct dict *dict_cache_find(const char *key);
void dict_cache_add(const char *key, struct dict *d);
void dict_cache_forget(struct dict *d);
/*
 * For dict_open.c (dict.c): watch a file by name, present or not (for
 * dict_changed(); kept: see dict_open_watch()); move the kept name
 * watches of from to to; has a file d watches changed?; set the reason
 * of a surrogate made before the open that failed.
 */
void dict_watch_name(struct dict *d, const char *path, bool kept);
void dict_watch_move(struct dict *to, struct dict *from);
bool dict_watch_changed(const struct dict *d);
void dict_surrogate_reason(struct dict *d, const char *reason);
/* A type added with dict_register(), or NULL (dict.c). */
const struct dict_ops *dict_find_registered(const char *type);
/* The map size for new LMDB environments (dict.c). */
extern size_t dict_lmdb_map_size;

#endif
