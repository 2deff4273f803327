/*
 * dict_lmdb.c - lmdb: tables (also reached as hash: and btree:)
 *
 * lmdb:/etc/petrel/access is the file /etc/petrel/access.lmdb: one LMDB
 * environment in a single file (MDB_NOSUBDIR) holding the unnamed
 * database. File format: one LMDB key/data pair per entry; the key is
 * the lookup key's bytes and the data the value's bytes, neither with a
 * trailing NUL (Postfix's hash: files store one; ours are not shared
 * with Postfix, and a key without it is what the dict layer hands us).
 * A key is 1 to mdb_env_get_maxkeysize() (511) bytes; longer keys cannot
 * be stored, so looking one up answers "not found".
 *
 * Readers open with MDB_RDONLY|MDB_NOLOCK|MDB_NOTLS, so no lock file is
 * created or needed: LMDB's own reader table lives in a lock file that
 * every reader must be able to write, which daemons reading root's
 * tables from a chroot jail cannot (Postfix uses MDB_NOLOCK for the same
 * reason). With MDB_NOLOCK, LMDB leaves the coordination of readers and
 * writers to us. A writer that changes the file in place (open with
 * O_RDWR: petrel map -i, -d, proxymap's proxy_write_maps) reuses pages
 * that it believes no reader holds; a reader in the middle of a lookup
 * could then follow a page that now holds something else. So each
 * in-place change runs under an exclusive flock(2) on the file and,
 * in a table that is changed in place, each lookup under a shared one.
 * A writer that fills the map doubles it; readers adopt the new size
 * (MDB_MAP_RESIZED).
 *
 * Frozen tables: the flock(2) pair costs two system calls per lookup,
 * more than the lookup itself. Most tables are only ever rebuilt whole,
 * and a rebuild writes a new file (below), so their readers need no lock
 * at all. A build therefore marks the new file as frozen: it holds the
 * extra key LMDB_FROZEN_KEY, which begins with a NUL byte and so can
 * never be a lookup key (iteration skips it). A frozen file is never
 * changed in place: a writer that opens one first thaws it, copying it
 * (mdb_env_copyfd2) to a new file without the mark that it renames into
 * place, under the exclusive lock, and then changes that file in place
 * as before. Readers look for the mark once, when they open the file:
 * without it (a table changed in place, or built by an older version)
 * they lock as described above; with it they keep one read transaction
 * open from lookup to lookup. A reader of the frozen file keeps its
 * unchanged copy until dict_changed() sees the rename, as after a
 * rebuild.
 *
 * Replacing the file: a rebuild's commit and a thaw both rename a new
 * file onto the table, each holding the exclusive lock of the file it
 * replaces, and after checking under that lock that this file is still
 * the table (stat(2) of the name and of the descriptor agree). If
 * another rename came in between (an older version, or a file moved
 * into place by hand), a thaw drops its copy and starts over with the
 * new file, and a commit locks the new file instead. So a rebuild and a
 * change in place are never lost to a race: each happens whole, in the
 * order of the locks. A change that comes first is replaced by the
 * rebuilt table, built from its source as always; one that comes after
 * goes into the rebuilt table. A commit thus waits while a writer, or a
 * reader of a table changed in place, holds the lock; a builder that
 * cannot open the old table to lock it replaces it unlocked, as a
 * rename by hand would. Before each change in place the writer checks
 * likewise that its file is still the table's, and opens the new one if
 * not, so that no change goes to a dead file. A writer's lookups check
 * it too (one stat(2)), so that a long-lived writer (proxymap) sees the
 * changes of other writers; only read-only opens keep their file and
 * one read transaction.
 *
 * A thaw must not change who may use the table: the copy gets the
 * table's mode, owner and group. Only root can give a file to another
 * owner; another writer can keep the group when it is a member. When
 * the copy cannot have the table's owner, group and mode, or the
 * directory is not writable, the change fails ("table lmdb:/x: cannot
 * change a table built by petrel map in place: ...; rebuild it with
 * petrel map, or change it as root") and the table stays as it was.
 *
 * Symbolic links: NAME.lmdb may be a link to the table elsewhere.
 * Writers (builds and changes) resolve it with realpath(3) when they
 * open the table and create, rename and lock at the file itself, so
 * the link keeps pointing to the table.
 *
 * Building (O_CREAT|O_TRUNC): entries go into a new file
 * NAME.lmdb.<pid>.<random> beside the table, created with the old
 * table's mode (and owner and group as root; else the group, when the
 * builder is a member), written without syncing in transactions of up
 * to LMDB_BATCH_OPS changes. dict_commit() marks it frozen, syncs it,
 * renames it onto NAME.lmdb (as above) and syncs the directory, so a
 * reader sees the old table or the new one, never a part of one; after
 * that the table behaves as if opened O_RDWR (a change thaws it).
 * Closing without commit removes the file and leaves the old table
 * alone. A process that has the old table open keeps its old file
 * (rename gives the new one a new inode) until dict_changed() tells it
 * to restart.
 *
 * Temporary files of writers that died (killed during a build or a
 * thaw): before it creates its own, a build or a thaw removes the files
 * NAME.lmdb.<pid>.<8 hex digits> beside the table whose process no
 * longer runs (kill(pid, 0) fails with ESRCH) and that nothing changed
 * for ten minutes (LMDB_STALE_SECS). The pid test is exact for writers on this host
 * (chroot jails included); the age spares a file that a writer in
 * another PID namespace is still writing.
 *
 * A change that fills the map cannot be undone piecemeal: LMDB aborts
 * the transaction. So the changes of the open transaction are also kept
 * in memory (the log); after doubling the map they are replayed in a new
 * transaction. Replaying is exact because each logged change is "key
 * now has this value" or "key is gone".
 *
 * Duplicates: update() stores a new key and answers DICT_NOTFOUND; for a
 * key that exists it replaces the value with DICT_FLAG_DUP_REPLACE, else
 * keeps the first, and answers DICT_FOUND either way. An update or
 * delete ends an iteration in progress.
 *
 * SECURITY: tables are administrator files; lookup keys come from the
 * network but are bounded by dict.c and by the key size check here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dict_lmdb.h"
#include "dict_types.h"
#include "file.h"
#include "mem.h"
#include "msg.h"

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

/* Opening, for the writers that must open their table again. */
static int lmdb_env_open(struct dict_lmdb *, const char *, unsigned,
    struct buf *);
static int lmdb_open_existing(struct dict_lmdb *, int, struct buf *);
static int lmdb_temp_file(struct dict_lmdb *, bool, char **, int *,
    struct buf *);

static enum dict_result
lmdb_fail(struct dict_lmdb *l, const char *what, int rc)
{
	if (rc == LMDB_REPORTED)
		return DICT_TEMPFAIL;
	return dict_tempfail(&l->d, "table %s: %s %s: %s", l->d.full_name,
	    what, l->temp_path ? l->temp_path : l->path, mdb_strerror(rc));
}

/* flock(2) our descriptor; a file being built is private: no locks. */
static int
lmdb_flock(struct dict_lmdb *l, int op)
{
	if (l->mode == LMDB_CREATE)
		return 0;
	while (flock(l->lock_fd, op) < 0)
		if (errno != EINTR)
			return errno;
	return 0;
}

/* Around reads: only a table that is changed in place needs it. */
static int
lmdb_read_lock(struct dict_lmdb *l)
{
	return l->frozen ? 0 : lmdb_flock(l, LOCK_SH);
}

static void
lmdb_read_unlock(struct dict_lmdb *l)
{
	if (!l->frozen)
		(void)lmdb_flock(l, LOCK_UN);
}

static bool
lmdb_frozen_key(const MDB_val *k)
{
	return k->mv_size == LMDB_FROZEN_LEN
	    && memcmp(k->mv_data, LMDB_FROZEN_KEY, LMDB_FROZEN_LEN) == 0;
}

static bool
lmdb_key(const struct dict_lmdb *l, const char *key, MDB_val *k)
{
	k->mv_size = strlen(key);
	k->mv_data = (void *)key;
	return k->mv_size > 0 && k->mv_size <= l->max_key;
}

/*
 * Iteration
 */
static void
lmdb_iter_end(struct dict_lmdb *l)
{
	if (l->cursor) {
		mdb_cursor_close(l->cursor);
		l->cursor = NULL;
	}
	if (l->itxn) {
		mdb_txn_abort(l->itxn);
		l->itxn = NULL;
		lmdb_read_unlock(l);
	}
}

/* A transaction to read in: one already open, else a new one (*own). */
static int
lmdb_read_begin(struct dict_lmdb *l, MDB_txn **txn, bool *own)
{
	int rc;

	*own = false;
	if ((*txn = l->wtxn ? l->wtxn : l->itxn) != NULL)
		return 0;
	if (l->env == NULL) {		/* lost by lmdb_reopen() */
		dict_tempfail(&l->d, "%s", l->lost);
		return LMDB_REPORTED;
	}
	if (l->rtxn_live) {
		*txn = l->rtxn;
		*own = true;
		return 0;
	}
	if ((rc = lmdb_read_lock(l)) != 0)
		return rc;
	/* Renewing the reset transaction saves an allocation per lookup. */
	if (l->rtxn == NULL || (rc = mdb_txn_renew(l->rtxn)) != 0) {
		if (l->rtxn != NULL) {
			mdb_txn_abort(l->rtxn);
			l->rtxn = NULL;
		}
		rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn);
		if (rc == MDB_MAP_RESIZED) {
			/* A writer grew the file beyond our map: adopt it. */
			if ((rc = mdb_env_set_mapsize(l->env, 0)) == 0)
				rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY,
				    &l->rtxn);
		}
		if (rc != 0) {
			l->rtxn = NULL;
			lmdb_read_unlock(l);
			return rc;
		}
	}
	*txn = l->rtxn;
	*own = true;
	return 0;
}

static void
lmdb_read_end(struct dict_lmdb *l, MDB_txn *txn, bool own)
{
	if (own && l->frozen && l->mode == LMDB_READ) {
		l->rtxn_live = true;
	} else if (own) {
		mdb_txn_reset(txn);
		lmdb_read_unlock(l);
	}
}

/* Before the map changes or the environment closes. */
static void
lmdb_rtxn_free(struct dict_lmdb *l)
{
	if (l->rtxn != NULL) {
		mdb_txn_abort(l->rtxn);
		l->rtxn = NULL;
	}
	l->rtxn_live = false;
}

/*
 * Writing
 */
static void
lmdb_log_clear(struct dict_lmdb *l)
{
	size_t i;

	for (i = 0; i < l->log_len; i++) {
		free(l->log[i].key);
		free(l->log[i].value);
	}
	l->log_len = 0;
	l->log_bytes = 0;
}

static void
lmdb_log_add(struct dict_lmdb *l, const char *key, const char *value)
{
	struct lmdb_change *c;

	if (l->log_len == l->log_cap) {
		l->log_cap = l->log_cap ? 2 * l->log_cap : 64;
		l->log = xreallocarray(l->log, l->log_cap, sizeof(*l->log));
	}
	c = &l->log[l->log_len++];
	c->key = xstrdup(key);
	c->value = value ? xstrdup(value) : NULL;
	/* Cannot overflow: both strings are in memory already. */
	l->log_bytes += strlen(key) + (value ? strlen(value) : 0);
}

/*
 * Apply one change: 0 (done; *existed says whether the key was there),
 * MDB_KEYEXIST (kept the first), MDB_NOTFOUND (nothing to delete), or
 * an LMDB error (MDB_MAP_FULL among them).
 */
static int
lmdb_apply(struct dict_lmdb *l, MDB_txn *txn, const char *key,
    const char *value, bool replace, bool *existed)
{
	MDB_val k, v;
	int rc;

	*existed = false;
	(void)lmdb_key(l, key, &k);
	if (value == NULL)
		return mdb_del(txn, l->dbi, &k, NULL);
	v.mv_size = strlen(value);
	v.mv_data = (void *)value;
	rc = mdb_put(txn, l->dbi, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST && replace) {
		*existed = true;
		/* MDB_KEYEXIST pointed v at the old value. */
		v.mv_size = strlen(value);
		v.mv_data = (void *)value;
		rc = mdb_put(txn, l->dbi, &k, &v, 0);
	}
	return rc;
}

/*
 * The map is full: the transaction is lost. Double the map and replay
 * the log in a new transaction, as often as needed.
 */
static int
lmdb_grow(struct dict_lmdb *l)
{
	size_t i, size;
	bool existed;
	int rc;

	for (;;) {
		if (l->wtxn) {
			mdb_txn_abort(l->wtxn);
			l->wtxn = NULL;
		}
		if (__builtin_mul_overflow(l->map_size, 2, &size))
			return ENOMEM;
		lmdb_rtxn_free(l);
		if ((rc = mdb_env_set_mapsize(l->env, size)) != 0)
			return rc;
		l->map_size = size;
		if (msg_verbose)
			msg_info("table %s: map size now %zu bytes",
			    l->d.full_name, size);
		if ((rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn)) != 0)
			return rc;
		for (i = 0; i < l->log_len && rc == 0; i++) {
			rc = lmdb_apply(l, l->wtxn, l->log[i].key,
			    l->log[i].value, true, &existed);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
		if (rc != MDB_MAP_FULL)
			return rc;
	}
}

/* Commit the open write transaction (growing the map if need be). */
static int
lmdb_flush(struct dict_lmdb *l)
{
	int rc;

	while (l->wtxn != NULL) {
		rc = mdb_txn_commit(l->wtxn);
		l->wtxn = NULL;		/* freed, committed or not */
		if (rc == MDB_MAP_FULL)
			rc = lmdb_grow(l);
		if (rc != 0)
			return rc;
	}
	lmdb_log_clear(l);
	return 0;
}

/* After a failed write: drop the transaction; a build is spoiled. */
static void
lmdb_write_failed(struct dict_lmdb *l)
{
	if (l->wtxn) {
		mdb_txn_abort(l->wtxn);
		l->wtxn = NULL;
	}
	lmdb_log_clear(l);
	if (l->mode == LMDB_CREATE)
		l->broken = true;
}

/*
 * Put (at commit) or remove (when thawing) the frozen mark in a
 * transaction of its own, growing the map when it is full.
 */
static int
lmdb_mark(struct dict_lmdb *l, bool put)
{
	MDB_val k = {LMDB_FROZEN_LEN, (void *)LMDB_FROZEN_KEY};
	MDB_val v = {1, (void *)"1"};
	MDB_txn *txn;
	size_t size;
	int rc;

	for (;;) {
		if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
			return rc;
		rc = put ? mdb_put(txn, l->dbi, &k, &v, 0)
		    : mdb_del(txn, l->dbi, &k, NULL);
		if (rc == MDB_NOTFOUND && !put)
			rc = 0;
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc != MDB_MAP_FULL)
			return rc;
		if (__builtin_mul_overflow(l->map_size, 2, &size))
			return ENOMEM;
		lmdb_rtxn_free(l);
		if ((rc = mdb_env_set_mapsize(l->env, size)) != 0)
			return rc;
		l->map_size = size;
	}
}

/* Close the environment and the descriptor (not the rest). */
static void
lmdb_env_close(struct dict_lmdb *l)
{
	lmdb_iter_end(l);
	lmdb_rtxn_free(l);
	if (l->wtxn) {
		mdb_txn_abort(l->wtxn);
		l->wtxn = NULL;
	}
	if (l->env) {
		mdb_env_close(l->env);
		l->env = NULL;
	}
	if (l->lock_fd >= 0) {
		(void)close(l->lock_fd);
		l->lock_fd = -1;
	}
}

/*
 * Open the table again (a writer whose file was replaced). After a
 * failure the table has no environment: every request fails with the
 * reason.
 */
static int
lmdb_reopen(struct dict_lmdb *l)
{
	struct buf why, reason;
	int rc = 0;

	lmdb_env_close(l);
	buf_init(&why, 128);
	if (lmdb_open_existing(l, l->d.open_flags, &why) < 0) {
		lmdb_env_close(l);
		buf_init(&reason, 128);
		buf_printf(&reason, "table %s: %s", l->d.full_name, why.data);
		free(l->lost);
		l->lost = buf_steal(&reason);
		dict_tempfail(&l->d, "%s", l->lost);
		rc = LMDB_REPORTED;
	}
	buf_fini(&why);
	return rc;
}

static bool
lmdb_is_ours(const struct dict_lmdb *l, const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_dev == l->dev
	    && st.st_ino == l->ino;
}

/*
 * Is the file we have open still the table, by its name and (through a
 * symbolic link) where it really is? Asked under the exclusive lock.
 */
static bool
lmdb_current(const struct dict_lmdb *l)
{
	return lmdb_is_ours(l, l->path) && (l->real == NULL
	    || strcmp(l->real, l->path) == 0 || lmdb_is_ours(l, l->real));
}

/*
 * Before a writer's lookup: when the table is another file now (rebuilt,
 * or thawed and changed by another writer), open that one. A table that
 * is gone leaves us with what we have. One stat(2).
 */
static int
lmdb_follow(struct dict_lmdb *l)
{
	struct stat st;

	if (l->mode != LMDB_WRITE || l->env == NULL || l->wtxn || l->itxn)
		return 0;
	if (stat(l->path, &st) < 0
	    || (st.st_dev == l->dev && st.st_ino == l->ino))
		return 0;
	if (msg_verbose)
		msg_info("table %s: %s was replaced: opening it again",
		    l->d.full_name, l->path);
	return lmdb_reopen(l);
}

/*
 * The exclusive lock for a change in place, on the file that is the
 * table now: a rebuild, or another writer's thaw, may have renamed a new
 * file into place since we opened ours, and a change to ours would be
 * lost. 0 with the lock held, or an error.
 */
static int
lmdb_write_lock(struct dict_lmdb *l)
{
	int tries, rc;

	if (l->mode == LMDB_CREATE)
		return 0;
	for (tries = 0;; tries++) {
		if (l->env == NULL) {
			dict_tempfail(&l->d, "%s", l->lost);
			return LMDB_REPORTED;
		}
		if ((rc = lmdb_flock(l, LOCK_EX)) != 0)
			return rc;
		if (lmdb_current(l))
			return 0;
		(void)lmdb_flock(l, LOCK_UN);
		if (tries + 1 >= LMDB_OPEN_TRIES) {
			dict_tempfail(&l->d, "table %s: %s keeps being "
			    "replaced", l->d.full_name, l->path);
			return LMDB_REPORTED;
		}
		if ((rc = lmdb_reopen(l)) != 0)
			return rc;
	}
}

/*
 * Would the change leave a frozen table as it is (deleting a key that
 * is not there, keeping the value of one that is)? Then it need not be
 * thawed; *rc gets lmdb_change()'s answer.
 */
static bool
lmdb_unchanged(struct dict_lmdb *l, const char *key, const char *value,
    bool replace, int *rc)
{
	MDB_txn *txn;
	MDB_val k, v;
	bool own;
	int get;

	if (value != NULL && replace)
		return false;
	if (lmdb_read_begin(l, &txn, &own) != 0)
		return false;		/* the change will say why */
	(void)lmdb_key(l, key, &k);
	get = mdb_get(txn, l->dbi, &k, &v);
	lmdb_read_end(l, txn, own);
	if (value == NULL && get == MDB_NOTFOUND)
		*rc = MDB_NOTFOUND;
	else if (value != NULL && get == 0)
		*rc = MDB_KEYEXIST;
	else
		return false;
	return true;
}

/* Permission problems, which an administrator can solve (see top). */
static bool
lmdb_denied(int err)
{
	return err == EACCES || err == EPERM || err == EROFS;
}

/*
 * Thaw a frozen table before its first change in place (see the top):
 * copy it to a new file, remove the mark there, rename the copy into
 * place and go on with it. The caller holds the exclusive lock of the
 * frozen file, so no other writer thaws it and no commit replaces it
 * meanwhile; we take the copy's before the rename, so writers (and
 * commits) that find the copy in place wait for our change. Returns 0,
 * LMDB_AGAIN when the table was replaced all the same (by a rename that
 * took no lock): the copy is dropped and the caller starts over with the
 * new file; or LMDB_REPORTED.
 */
static int
lmdb_thaw(struct dict_lmdb *l)
{
	struct dict_lmdb copy;
	struct stat st;
	struct buf why;
	int rc = 0, err = 0;

	memset(&copy, 0, sizeof(copy));
	copy.mode = LMDB_WRITE;
	copy.lock_fd = -1;
	buf_init(&why, 128);
	if ((err = lmdb_temp_file(l, true, &copy.temp_path, &copy.lock_fd,
	    &why)) != 0)
		goto fail;
	if ((rc = mdb_env_copyfd2(l->env, copy.lock_fd,
	    MDB_CP_COMPACT)) != 0) {
		buf_printf(&why, "copy to %s: %s", copy.temp_path,
		    mdb_strerror(rc));
		goto fail;
	}
	if (lmdb_env_open(&copy, copy.temp_path, MDB_NOLOCK, &why) < 0)
		goto fail;
	if ((rc = lmdb_mark(&copy, false)) != 0
	    || (rc = mdb_env_sync(copy.env, 1)) != 0
	    || (rc = lmdb_flock(&copy, LOCK_EX)) != 0) {
		buf_printf(&why, "write %s: %s", copy.temp_path,
		    mdb_strerror(rc));
		goto fail;
	}
	if (fstat(copy.lock_fd, &st) < 0) {
		buf_printf(&why, "stat %s: %s", copy.temp_path,
		    strerror(errno));
		goto fail;
	}
	if (!lmdb_current(l)) {
		if (msg_verbose)
			msg_info("table %s: replaced while it was copied: "
			    "starting over", l->d.full_name);
		rc = LMDB_AGAIN;
		goto drop;
	}
	if (rename(copy.temp_path, l->real) < 0) {
		err = errno;
		buf_printf(&why, "rename %s to %s: %s", copy.temp_path,
		    l->real, strerror(err));
		goto fail;
	}
	if (file_sync_dir(l->real) < 0)
		msg_warn("table %s: sync the directory of %s: %s",
		    l->d.full_name, l->real, strerror(errno));
	free(copy.temp_path);
	/* Closing the frozen file releases its lock: others find ours. */
	lmdb_env_close(l);
	l->env = copy.env;
	l->dbi = copy.dbi;
	l->lock_fd = copy.lock_fd;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->map_size = copy.map_size;
	l->max_key = copy.max_key;
	l->frozen = false;
	if (msg_verbose)
		msg_info("table %s: thawed for changes in place",
		    l->d.full_name);
	buf_fini(&why);
	return 0;

fail:
	dict_tempfail(&l->d, "table %s: cannot change a table built by petrel "
	    "map in place: %s%s", l->d.full_name, why.data, lmdb_denied(err)
	    ? "; rebuild it with petrel map, or change it as root" : "");
	rc = LMDB_REPORTED;
drop:
	lmdb_env_close(&copy);
	if (copy.temp_path) {
		(void)unlink(copy.temp_path);
		free(copy.temp_path);
	}
	buf_fini(&why);
	return rc;
}

/*
 * One change (value NULL: delete). Returns 0 (a new key stored, or a
 * key deleted), MDB_KEYEXIST (the key existed: replaced or kept),
 * MDB_NOTFOUND (nothing to delete) or an error.
 */
static int
lmdb_change(struct dict_lmdb *l, const char *key, const char *value)
{
	bool replace = (l->d.dict_flags & DICT_FLAG_DUP_REPLACE) != 0;
	bool existed = false;
	int tries, rc;

	lmdb_iter_end(l);
	for (tries = 0;; tries++) {
		if ((rc = lmdb_write_lock(l)) != 0)
			return rc;
		if (!l->frozen || l->mode != LMDB_WRITE)
			break;
		if (lmdb_unchanged(l, key, value, replace, &rc))
			goto out;
		if ((rc = lmdb_thaw(l)) != LMDB_AGAIN) {
			if (rc != 0)
				goto out;
			break;
		}
		(void)lmdb_flock(l, LOCK_UN);
		if (tries + 1 >= LMDB_OPEN_TRIES) {
			dict_tempfail(&l->d, "table %s: %s keeps being "
			    "replaced", l->d.full_name, l->path);
			return LMDB_REPORTED;
		}
	}
	if (l->wtxn == NULL
	    && (rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn)) != 0)
		goto out;
	while ((rc = lmdb_apply(l, l->wtxn, key, value, replace,
	    &existed)) == MDB_MAP_FULL)
		if ((rc = lmdb_grow(l)) != 0)
			goto out;
	if (rc == 0) {
		lmdb_log_add(l, key, value);
		if (l->mode != LMDB_CREATE || l->log_len >= LMDB_BATCH_OPS
		    || l->log_bytes >= LMDB_BATCH_BYTES)
			rc = lmdb_flush(l);
	}
out:
	if (rc != 0 && rc != MDB_KEYEXIST && rc != MDB_NOTFOUND
	    && rc != LMDB_REPORTED)
		lmdb_write_failed(l);
	if (l->mode != LMDB_CREATE) {
		/* Nothing changed (kept, not found): end it all the same. */
		if (l->wtxn) {
			mdb_txn_abort(l->wtxn);
			l->wtxn = NULL;
		}
		lmdb_log_clear(l);
		(void)lmdb_flock(l, LOCK_UN);
	}
	if (rc == 0 && existed)
		rc = MDB_KEYEXIST;
	return rc;
}

/*
 * The dict_ops
 */
static enum dict_result
dict_lmdb_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_lmdb *l = (struct dict_lmdb *)d;
	MDB_txn *txn;
	MDB_val k, v;
	bool own;
	int rc;

	if (!lmdb_key(l, key, &k))
		return DICT_NOTFOUND;	/* cannot have been stored */
	if ((rc = lmdb_follow(l)) != 0
	    || (rc = lmdb_read_begin(l, &txn, &own)) != 0)
		return lmdb_fail(l, "read", rc);
	if ((rc = mdb_get(txn, l->dbi, &k, &v)) == 0)
		buf_setn(value, v.mv_data, v.mv_size);
	lmdb_read_end(l, txn, own);
	if (rc == MDB_NOTFOUND)
		return DICT_NOTFOUND;
	if (rc != 0)
		return lmdb_fail(l, "read", rc);
	return DICT_FOUND;
}

static enum dict_result
lmdb_check_writable(struct dict_lmdb *l)
{
	if (l->mode == LMDB_READ)
		return dict_tempfail(&l->d, "table %s: opened read-only",
		    l->d.full_name);
	if (l->broken)
		return dict_tempfail(&l->d, "table %s: an earlier write "
		    "failed", l->d.full_name);
	return DICT_FOUND;
}

static enum dict_result
dict_lmdb_update(struct dict *d, const char *key, const char *value)
{
	struct dict_lmdb *l = (struct dict_lmdb *)d;
	MDB_val k;
	int rc;

	if (lmdb_check_writable(l) == DICT_TEMPFAIL)
		return DICT_TEMPFAIL;
	if (!lmdb_key(l, key, &k))
		return dict_tempfail(d, "table %s: cannot store a key of %zu "
		    "bytes (LMDB keys are 1 to %zu bytes)", d->full_name,
		    k.mv_size, l->max_key);
	switch (rc = lmdb_change(l, key, value)) {
	case 0:
		return DICT_NOTFOUND;
	case MDB_KEYEXIST:
		return DICT_FOUND;
	default:
		return lmdb_fail(l, "write", rc);
	}
}

static enum dict_result
dict_lmdb_delete(struct dict *d, const char *key)
{
	struct dict_lmdb *l = (struct dict_lmdb *)d;
	MDB_val k;
	int rc;

	if (lmdb_check_writable(l) == DICT_TEMPFAIL)
		return DICT_TEMPFAIL;
	if (!lmdb_key(l, key, &k))
		return DICT_NOTFOUND;
	switch (rc = lmdb_change(l, key, NULL)) {
	case 0:
		return DICT_FOUND;
	case MDB_NOTFOUND:
		return DICT_NOTFOUND;
	default:
		return lmdb_fail(l, "write", rc);
	}
}

static enum dict_result
dict_lmdb_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	struct dict_lmdb *l = (struct dict_lmdb *)d;
	MDB_cursor_op op = MDB_NEXT;
	MDB_val k, v;
	bool own;
	int rc;

	if (seq == DICT_SEQ_FIRST) {
		lmdb_iter_end(l);
		/* A build's pending batch first, so a cursor sees it all. */
		if (l->mode == LMDB_CREATE && (rc = lmdb_flush(l)) != 0) {
			lmdb_write_failed(l);
			return lmdb_fail(l, "write", rc);
		}
		if ((rc = lmdb_follow(l)) != 0)
			return lmdb_fail(l, "read", rc);
		if ((rc = lmdb_read_begin(l, &l->itxn, &own)) != 0) {
			l->itxn = NULL;
			return lmdb_fail(l, "read", rc);
		}
		l->rtxn = NULL;		/* the iteration owns it now */
		l->rtxn_live = false;
		if ((rc = mdb_cursor_open(l->itxn, l->dbi, &l->cursor)) != 0) {
			l->cursor = NULL;
			lmdb_iter_end(l);
			return lmdb_fail(l, "read", rc);
		}
		op = MDB_FIRST;
	} else if (l->cursor == NULL) {
		return DICT_NOTFOUND;	/* ended, or never started */
	}
	/* The frozen mark is not an entry. */
	while ((rc = mdb_cursor_get(l->cursor, &k, &v, op)) == 0
	    && lmdb_frozen_key(&k))
		op = MDB_NEXT;
	if (rc != 0) {
		lmdb_iter_end(l);
		return rc == MDB_NOTFOUND ? DICT_NOTFOUND
		    : lmdb_fail(l, "read", rc);
	}
	buf_setn(key, k.mv_data, k.mv_size);
	buf_setn(value, v.mv_data, v.mv_size);
	return DICT_FOUND;
}

/*
 * Rename a build onto the table, if there is none yet: 0, or an errno
 * value (EEXIST: there is one now). A file system without
 * RENAME_NOREPLACE gets a plain rename.
 */
static int
lmdb_rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	return rename(from, to) == 0 ? 0 : errno;
}

/*
 * Commit's rename (see the top): under the exclusive lock of the file
 * that is the table, so that it waits for a thaw and the change after
 * it, and checking under that lock that the file is still the table.
 * A table we cannot open to lock (no read permission) is replaced
 * without the lock, as a rename by hand would. 0, or -1 with why.
 */
static int
lmdb_commit_rename(struct dict_lmdb *l, struct buf *why)
{
	struct stat st, now;
	int tries, fd, err;

	for (tries = 0; tries < LMDB_OPEN_TRIES; tries++) {
		fd = open(l->real, O_RDONLY | O_CLOEXEC | O_NOCTTY
		    | O_NONBLOCK);
		if (fd < 0 && errno == ENOENT) {
			if ((err = lmdb_rename_new(l->temp_path,
			    l->real)) == EEXIST)
				continue;	/* one appeared: lock it */
			goto done;
		}
		if (fd < 0) {
			if (msg_verbose)
				msg_info("table %s: cannot lock %s (%s): "
				    "replacing it without the lock",
				    l->d.full_name, l->real, strerror(errno));
			err = rename(l->temp_path, l->real) == 0 ? 0 : errno;
			goto done;
		}
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				err = errno;
				(void)close(fd);
				buf_printf(why, "table %s: lock %s: %s",
				    l->d.full_name, l->real, strerror(err));
				return -1;
			}
		}
		if (fstat(fd, &st) == 0 && stat(l->real, &now) == 0
		    && st.st_dev == now.st_dev && st.st_ino == now.st_ino) {
			err = rename(l->temp_path, l->real) == 0 ? 0 : errno;
			(void)close(fd);	/* unlocks: waiters find ours */
			goto done;
		}
		(void)close(fd);
	}
	buf_printf(why, "table %s: %s keeps being replaced", l->d.full_name,
	    l->real);
	return -1;

done:
	if (err == 0)
		return 0;
	buf_printf(why, "table %s: rename %s to %s: %s", l->d.full_name,
	    l->temp_path, l->real, strerror(err));
	return -1;
}

static int
dict_lmdb_commit(struct dict *d, struct buf *why)
{
	struct dict_lmdb *l = (struct dict_lmdb *)d;
	int rc;

	if (l->mode != LMDB_CREATE)
		return 0;		/* changes in place are committed */
	lmdb_iter_end(l);
	if (l->broken) {
		buf_printf(why, "table %s: not committed after a write error",
		    d->full_name);
		return -1;
	}
	if ((rc = lmdb_flush(l)) != 0 || (rc = lmdb_mark(l, true)) != 0
	    || (rc = mdb_env_sync(l->env, 1)) != 0) {
		lmdb_write_failed(l);
		buf_printf(why, "table %s: write %s: %s", d->full_name,
		    l->temp_path, mdb_strerror(rc));
		return -1;
	}
	if (lmdb_commit_rename(l, why) < 0) {
		l->broken = true;
		return -1;
	}
	free(l->temp_path);
	l->temp_path = NULL;
	/* From here on, our descriptor names the live (frozen) table. */
	l->mode = LMDB_WRITE;
	l->frozen = true;
	(void)mdb_env_set_flags(l->env, MDB_NOSYNC, 0);
	if (file_sync_dir(l->real) < 0) {
		buf_printf(why, "table %s: sync the directory of %s: %s",
		    d->full_name, l->real, strerror(errno));
		return -1;
	}
	return 0;
}

static void
dict_lmdb_close(struct dict *d)
{
	struct dict_lmdb *l = (struct dict_lmdb *)d;

	lmdb_iter_end(l);
	lmdb_rtxn_free(l);
	if (l->wtxn)
		mdb_txn_abort(l->wtxn);
	lmdb_log_clear(l);
	free(l->log);
	if (l->env)
		mdb_env_close(l->env);
	if (l->temp_path) {
		(void)unlink(l->temp_path);	/* a build not committed */
		free(l->temp_path);
	}
	if (l->lock_fd >= 0)
		(void)close(l->lock_fd);
	free(l->path);
	free(l->real);
	free(l->lost);
	dict_free(d);
}

/*
 * Opening
 */

/* Create the LMDB environment on path and open the unnamed database. */
static int
lmdb_env_open(struct dict_lmdb *l, const char *path, unsigned flags,
    struct buf *why)
{
	MDB_envinfo info;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_env_create(&l->env)) != 0) {
		l->env = NULL;
		goto fail;
	}
	if (l->mode != LMDB_READ
	    && (rc = mdb_env_set_mapsize(l->env, dict_lmdb_map_size)) != 0)
		goto fail;
	if ((rc = mdb_env_open(l->env, path, flags | MDB_NOSUBDIR, 0644)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(l->env, NULL, flags & MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &l->dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	k.mv_size = LMDB_FROZEN_LEN;
	k.mv_data = (void *)LMDB_FROZEN_KEY;
	l->frozen = mdb_get(txn, l->dbi, &k, &v) == 0;
	if ((rc = mdb_txn_commit(txn)) != 0
	    || (rc = mdb_env_info(l->env, &info)) != 0)
		goto fail;
	l->map_size = info.me_mapsize;
	l->max_key = (size_t)mdb_env_get_maxkeysize(l->env);
	return 0;

fail:
	buf_printf(why, "open %s: %s", path, mdb_strerror(rc));
	if (l->env) {
		mdb_env_close(l->env);
		l->env = NULL;
	}
	return -1;
}

/*
 * A writer's file: where NAME.lmdb really is (a symbolic link is
 * followed), or NAME.lmdb when there is no such file yet.
 */
static void
lmdb_resolve(struct dict_lmdb *l)
{
	char *real;

	free(l->real);
	if ((real = realpath(l->path, NULL)) != NULL) {
		l->real = xstrdup(real);
		free(real);
	} else {
		l->real = xstrdup(l->path);
	}
}

/*
 * Open the table file for reading or changing in place: our own
 * descriptor (for flock and a clear "No such file" message), then the
 * environment under a lock, checking that both name the same file (a
 * rebuild may rename a new one into place in between).
 */
static int
lmdb_open_existing(struct dict_lmdb *l, int open_flags, struct buf *why)
{
	bool rdonly = l->mode == LMDB_READ;
	struct stat st, est;
	const char *path;
	int tries, rc, efd;

	for (tries = 0;; tries++) {
		if (!rdonly)
			lmdb_resolve(l);
		path = rdonly ? l->path : l->real;
		l->lock_fd = open(path, (rdonly ? O_RDONLY : O_RDWR)
		    | (open_flags & O_CREAT) | O_CLOEXEC | O_NOCTTY, 0644);
		if (l->lock_fd < 0) {
			buf_printf(why, "open %s: %s", l->path,
			    strerror(errno));
			return -1;
		}
		if (fstat(l->lock_fd, &st) < 0) {
			buf_printf(why, "open %s: %s", l->path,
			    strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			buf_printf(why, "open %s: not a regular file",
			    l->path);
			return -1;
		}
		if (rdonly && st.st_size == 0) {
			buf_printf(why, "open %s: empty file, not an LMDB "
			    "table", l->path);
			return -1;
		}
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		if ((rc = lmdb_flock(l, rdonly ? LOCK_SH : LOCK_EX)) != 0) {
			buf_printf(why, "lock %s: %s", l->path,
			    mdb_strerror(rc));
			return -1;
		}
		rc = lmdb_env_open(l, path, rdonly ? MDB_RDONLY | MDB_NOLOCK
		    | MDB_NOTLS : MDB_NOLOCK, why);
		(void)lmdb_flock(l, LOCK_UN);
		if (rc < 0)
			return -1;
		if (mdb_env_get_fd(l->env, &efd) == 0 && fstat(efd, &est) == 0
		    && est.st_dev == st.st_dev && est.st_ino == st.st_ino)
			return 0;
		mdb_env_close(l->env);
		l->env = NULL;
		(void)close(l->lock_fd);
		l->lock_fd = -1;
		if (tries + 1 >= LMDB_OPEN_TRIES) {
			buf_printf(why, "open %s: the file keeps being "
			    "replaced", l->path);
			return -1;
		}
	}
}

/* Does name end in "<pid>.<8 hex digits>", as our temporary files do? */
static bool
lmdb_temp_suffix(const char *name, long *pid)
{
	const char *cp = name;
	long n = 0;
	int i;

	/* Seven digits hold any pid (pid_max is at most 2^22). */
	for (; *cp >= '0' && *cp <= '9' && cp - name < 7; cp++)
		n = n * 10 + (*cp - '0');
	if (cp == name || *cp++ != '.' || n <= 0)
		return false;
	for (i = 0; i < 8; i++, cp++)
		if (!((*cp >= '0' && *cp <= '9') || (*cp >= 'a' && *cp <= 'f')))
			return false;
	*pid = n;
	return *cp == 0;
}

/*
 * Remove the temporary files of writers of this table that died (see
 * the top). Best effort: what cannot be read or removed stays.
 */
static void
lmdb_clean_stale(const struct dict_lmdb *l, const char *path)
{
	const char *slash = strrchr(path, '/'), *base;
	struct dirent *e;
	struct stat st;
	char *dir;
	size_t len;
	DIR *dp;
	long pid;

	if (slash == NULL) {
		dir = xstrdup(".");
		base = path;
	} else {
		dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
		base = slash + 1;
	}
	len = strlen(base);
	if ((dp = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, base, len) != 0 || e->d_name[len] != '.'
		    || !lmdb_temp_suffix(e->d_name + len + 1, &pid)
		    || pid == (long)getpid()
		    || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(st.st_mode)
		    || time(NULL) - st.st_mtime < LMDB_STALE_SECS)
			continue;
		if (unlinkat(dirfd(dp), e->d_name, 0) == 0)
			msg_info("table %s: removed %s/%s, left by process %ld, "
			    "which no longer runs", l->d.full_name, dir,
			    e->d_name, pid);
	}
	(void)closedir(dp);
	free(dir);
}

/*
 * A new file <real>.<pid>.<random> beside the table, for a build or a
 * thaw, with the mode, owner and group of the table in place, so a
 * protected table stays protected and its readers can still read it.
 * A build keeps what it can (the owner only as root); a thaw (strict)
 * must keep all three. 0 with *temp_path (the caller frees it and
 * removes the file when not used) and *fd; else an errno value, with
 * why.
 */
static int
lmdb_temp_file(struct dict_lmdb *l, bool strict, char **temp_path, int *fd,
    struct buf *why)
{
	struct stat old, st;
	struct buf temp;
	uint32_t rnd;
	int tries, err;

	lmdb_clean_stale(l, l->real);
	buf_init(&temp, strlen(l->real) + 32);
	for (tries = 0; tries < LMDB_TEMP_TRIES; tries++) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK)
		    != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)random() ^ (uint32_t)tries;
		buf_reset(&temp);
		buf_printf(&temp, "%s.%ld.%08x", l->real, (long)getpid(),
		    (unsigned)rnd);
		*fd = open(temp.data, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_CLOEXEC | O_NOCTTY, 0644);
		if (*fd >= 0 || errno != EEXIST)
			break;
	}
	if (*fd < 0) {
		err = errno;
		buf_printf(why, "create %s: %s", temp.data, strerror(err));
		buf_fini(&temp);
		return err;
	}
	*temp_path = buf_steal(&temp);
	if (stat(l->real, &old) < 0 || !S_ISREG(old.st_mode))
		return 0;		/* a new table */
	if (fstat(*fd, &st) < 0) {
		err = errno;
		buf_printf(why, "stat %s: %s", *temp_path, strerror(err));
		return err;
	}
	if ((st.st_uid != old.st_uid || st.st_gid != old.st_gid)
	    && fchown(*fd, st.st_uid != old.st_uid ? old.st_uid : (uid_t)-1,
	    st.st_gid != old.st_gid ? old.st_gid : (gid_t)-1) < 0) {
		err = errno;
		if (strict) {
			buf_printf(why, "cannot give the copy %s the owner "
			    "and group of %s (uid %lu, gid %lu): %s",
			    *temp_path, l->real, (unsigned long)old.st_uid,
			    (unsigned long)old.st_gid, strerror(err));
			return err;
		}
		/* A build by another user: the group at least, if ours. */
		if (st.st_gid != old.st_gid
		    && fchown(*fd, (uid_t)-1, old.st_gid) < 0 && msg_verbose)
			msg_info("table %s: %s keeps group %lu: %s",
			    l->d.full_name, *temp_path,
			    (unsigned long)st.st_gid, strerror(errno));
	}
	if (fchmod(*fd, old.st_mode & 0777) < 0) {
		err = errno;
		buf_printf(why, "set the mode of %s: %s", *temp_path,
		    strerror(err));
		return err;
	}
	return 0;
}

static int
lmdb_open_new(struct dict_lmdb *l, struct buf *why)
{
	struct stat st;

	lmdb_resolve(l);
	if (lmdb_temp_file(l, false, &l->temp_path, &l->lock_fd, why) != 0)
		return -1;
	if (fstat(l->lock_fd, &st) < 0) {
		buf_printf(why, "stat %s: %s", l->temp_path, strerror(errno));
		return -1;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	/* Each batch is not synced; commit syncs the whole file once. */
	return lmdb_env_open(l, l->temp_path, MDB_NOLOCK | MDB_NOSYNC, why);
}

static void
dict_lmdb_file(const char *name, struct buf *path)
{
	buf_reset(path);
	buf_printf(path, "%s%s", name, LMDB_SUFFIX);
}

static struct dict *
dict_lmdb_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_lmdb *l;
	struct buf path;
	int rc;

	l = (struct dict_lmdb *)dict_alloc(&dict_lmdb_ops, name, open_flags,
	    dict_flags, sizeof(*l));
	l->lock_fd = -1;
	buf_init(&path, strlen(name) + sizeof(LMDB_SUFFIX));
	buf_printf(&path, "%s%s", name, LMDB_SUFFIX);
	l->path = buf_steal(&path);
	if ((open_flags & O_ACCMODE) == O_RDONLY)
		l->mode = LMDB_READ;
	else if ((open_flags & (O_CREAT | O_TRUNC)) == (O_CREAT | O_TRUNC))
		l->mode = LMDB_CREATE;
	else
		l->mode = LMDB_WRITE;
	if (l->mode == LMDB_CREATE) {
		rc = lmdb_open_new(l, why);
	} else {
		/*
		 * Watch first: if the file is replaced between here and the
		 * open, the change is noticed (once too often, never too
		 * seldom).
		 */
		if (l->mode == LMDB_READ)
			dict_watch(&l->d, l->path);
		rc = lmdb_open_existing(l, open_flags, why);
	}
	if (rc < 0) {
		dict_lmdb_close(&l->d);
		return NULL;
	}
	return &l->d;
}

const struct dict_ops dict_lmdb_ops = {
	.type = "lmdb",
	.open = dict_lmdb_open,
	.lookup = dict_lmdb_lookup,
	.update = dict_lmdb_update,
	.delete = dict_lmdb_delete,
	.iterate = dict_lmdb_iterate,
	.commit = dict_lmdb_commit,
	.close = dict_lmdb_close,
	.file = dict_lmdb_file,
};
