/*
 * htable.h - hash table with string keys
 *
 * Keys are copied; values are opaque pointers owned by the caller (pass a
 * free function to htable_free to release them). The table grows to keep
 * chains short. Iteration order is unspecified; htable_list() returns a
 * NULL-terminated array (caller frees the array, not the entries).
 * The hash is seeded per table, so outside keys cannot force collisions.
 */
#ifndef PETREL_HTABLE_H
#define PETREL_HTABLE_H

#include <stddef.h>

struct htable_entry {
	char *key;
	void *value;
	struct htable_entry *next;
};

struct htable;

struct htable *htable_new(size_t hint);
typedef void (*htable_free_fn)(void *value);
void htable_free(struct htable *ht, htable_free_fn free_value);
/* Insert or replace; returns the previous value or NULL. */
void *htable_put(struct htable *ht, const char *key, void *value);
void *htable_get(const struct htable *ht, const char *key);
struct htable_entry *htable_locate(const struct htable *ht, const char *key);
/* Remove; returns the value or NULL. */
void *htable_delete(struct htable *ht, const char *key);
size_t htable_count(const struct htable *ht);
struct htable_entry **htable_list(const struct htable *ht);

#endif
