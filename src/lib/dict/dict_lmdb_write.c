/*
 * dict_lmdb_write.c - lmdb: tables: locks, frozen tables, changes in place
 *
 * dict_lmdb.c calls in here: its lookups and iterations take the read
 * locks (lmdb_read_lock(), lmdb_read_unlock()) and, in a writer, first
 * follow a table that was replaced (lmdb_follow()); its update and
 * delete go through lmdb_change() (the write lock, the thaw of a frozen
 * table, the change and its log), and a build's commit through
 * lmdb_flush() and lmdb_mark(). How a build writes its new file is at
 * the top of dict_lmdb_file.c; the declarations are in dict_lmdb_impl.h.
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
 * A change that fills the map cannot be undone piecemeal: LMDB aborts
 * the transaction. So the changes of the open transaction are also kept
 * in memory (the log); after doubling the map they are replayed in a new
 * transaction. Replaying is exact because each logged change is "key
 * now has this value" or "key is gone".
 */
#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dict_lmdb_impl.h"
#include "file.h"
#include "mem.h"
#include "msg.h"

/*
 * Locks
 */
/* flock(2) our descriptor; a file being built is private: no locks. */
int
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
int
lmdb_read_lock(struct dict_lmdb *l)
{
	return l->frozen ? 0 : lmdb_flock(l, LOCK_SH);
}

void
lmdb_read_unlock(struct dict_lmdb *l)
{
	if (!l->frozen)
		(void)lmdb_flock(l, LOCK_UN);
}

/*
 * Writing
 */
void
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
int
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
void
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
int
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
int
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
int
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
