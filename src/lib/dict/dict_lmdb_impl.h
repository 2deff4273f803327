/*
 * dict_lmdb_impl.h - what the files of the lmdb: table type share
 *
 * Private to dict_lmdb.c (the dict_ops and opening), dict_lmdb_write.c
 * (locks, frozen tables, changes in place) and dict_lmdb_file.c (the
 * new files of builds and thaws); the public settings are in
 * dict_lmdb.h. "See the top" and "see above" below refer to the
 * comments at the top of those three files, which describe the design.
 */
#ifndef PETREL_DICT_LMDB_IMPL_H
#define PETREL_DICT_LMDB_IMPL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "dict.h"

#define LMDB_SUFFIX		".lmdb"
/* A build commits after this many changes or bytes (bounds the log). */
#define LMDB_BATCH_OPS		4096
#define LMDB_BATCH_BYTES	((size_t)4 * 1024 * 1024)
/* How many temporary names to try; how often to retry a racing open. */
#define LMDB_TEMP_TRIES		16
#define LMDB_OPEN_TRIES		8
/* A dead writer's temporary file is removed when this old (see top). */
#define LMDB_STALE_SECS		600
/* The mark of a frozen table (see above): NUL first, never a key. */
#define LMDB_FROZEN_KEY		"\0petrel:frozen"
#define LMDB_FROZEN_LEN		(sizeof(LMDB_FROZEN_KEY) - 1)

/* dict_lmdb_map_size and its setter live in dict.c, which every
 * program links: setting it must not pull in LMDB. */

enum lmdb_mode {
	LMDB_READ,		/* O_RDONLY */
	LMDB_WRITE,		/* O_RDWR: changes in place */
	LMDB_CREATE,		/* O_CREAT|O_TRUNC: new file until commit */
};

/* One change of the open write transaction; value NULL deletes. */
struct lmdb_change {
	char *key;
	char *value;
};

struct dict_lmdb {
	struct dict d;
	enum lmdb_mode mode;
	MDB_env *env;
	MDB_dbi dbi;
	int lock_fd;		/* our own descriptor, for flock */
	char *path;		/* NAME.lmdb, as named */
	char *real;		/* writers: the file itself (links resolved) */
	dev_t dev;		/* the file we have open (lock_fd's) */
	ino_t ino;
	char *temp_path;	/* LMDB_CREATE until commit: the new file */
	size_t map_size;
	size_t max_key;
	bool frozen;		/* never changed in place: no read locks */
	char *lost;		/* why the table could not be opened again */
	/* Writing: the open transaction and what it holds (see above). */
	MDB_txn *wtxn;
	struct lmdb_change *log;
	size_t log_len;
	size_t log_cap;
	size_t log_bytes;
	bool broken;		/* a build write failed: refuse to commit */
	/*
	 * Lookups: a read transaction kept reset between them, or open
	 * (rtxn_live) by a reader of a frozen table, whose file never
	 * changes (a writer's may be replaced: it looks before each).
	 */
	MDB_txn *rtxn;
	bool rtxn_live;
	/* Iteration. */
	MDB_txn *itxn;
	MDB_cursor *cursor;
};

/* Results of ours: the reason is in the table's error already. */
#define LMDB_REPORTED	(-1)
/* The thaw found the table replaced: start over with the new file. */
#define LMDB_AGAIN	(-2)

/*
 * dict_lmdb.c: the table's key, read transactions, iteration, opening.
 */
bool lmdb_key(const struct dict_lmdb *l, const char *key, MDB_val *k);
void lmdb_iter_end(struct dict_lmdb *l);
int lmdb_read_begin(struct dict_lmdb *l, MDB_txn **txn, bool *own);
void lmdb_read_end(struct dict_lmdb *l, MDB_txn *txn, bool own);
void lmdb_rtxn_free(struct dict_lmdb *l);
/* Opening, for the writers that must open their table again. */
int lmdb_env_open(struct dict_lmdb *l, const char *path, unsigned flags,
    struct buf *why);
int lmdb_open_existing(struct dict_lmdb *l, int open_flags, struct buf *why);

/*
 * dict_lmdb_write.c: locks, writing, following a replaced table, changes.
 */
int lmdb_flock(struct dict_lmdb *l, int op);
int lmdb_read_lock(struct dict_lmdb *l);
void lmdb_read_unlock(struct dict_lmdb *l);
void lmdb_log_clear(struct dict_lmdb *l);
int lmdb_flush(struct dict_lmdb *l);
void lmdb_write_failed(struct dict_lmdb *l);
int lmdb_mark(struct dict_lmdb *l, bool put);
int lmdb_follow(struct dict_lmdb *l);
int lmdb_change(struct dict_lmdb *l, const char *key, const char *value);

/*
 * dict_lmdb_file.c: the new file of a build or a thaw; a build's commit.
 */
int lmdb_temp_file(struct dict_lmdb *l, bool strict, char **temp_path,
    int *fd, struct buf *why);
int lmdb_commit_rename(struct dict_lmdb *l, struct buf *why);

#endif
