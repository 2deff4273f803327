/*
 * dicttest.h - helpers shared by the table-type unit tests
 *
 * dicttest_setup("cdb") makes a scratch directory (dicttest_dir) for one
 * test program; dicttest_teardown() empties and removes it. The other
 * functions fail the running cmocka test with a message naming what
 * differed. Strings returned "in static storage" stay valid for a few
 * later calls only.
 */
#ifndef PETREL_DICTTEST_H
#define PETREL_DICTTEST_H

#include "buf.h"
#include "dict.h"

extern char dicttest_dir[64];

int dicttest_setup(const char *type);
int dicttest_teardown(void);
/* "type:<dir>/name" or "<dir>/name<suffix>" (type may be NULL). */
const char *tmp_name(const char *type, const char *name, const char *suffix);
/* dict_open_strict()'s reason for a table that cannot be opened. */
const char *open_reason(const char *name, const char *rest);
/* The directory's names, sorted, space-separated (caller frees). */
char *dir_list(void);
void clean_dir(void);
void check_dir(const char *want);
/* dict_open_strict() that must succeed (private, not shared). */
struct dict *open_ok(const char *name, int open_flags, int dict_flags);
void commit_ok(struct dict *d);
/* Create name from "k=v" pairs (NULL-terminated) and commit. */
void build(const char *name, const char *const *pairs, int dict_flags);
void expect(struct dict *d, const char *key, enum dict_result want_rc,
    const char *want_value, const char *label);
/* "k=v k=v" from an iteration (caller frees). */
char *dump(struct dict *d);
void check_dump(struct dict *d, const char *want, const char *label);
/* Write text to a new file in the directory; returns its path. */
const char *write_table(const char *text);
/* The path write_table() returned last ("" before the first). */
const char *table_path(void);
/* write_table(text), then dict_open_strict("type:<path>", ...). */
struct dict *open_text_table(const char *type, const char *text,
    int open_flags, int dict_flags, struct buf *why);

#endif
