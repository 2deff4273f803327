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
 * This file holds the dict_ops and the opening of a table. The locks,
 * frozen tables and changes in place are in dict_lmdb_write.c, the new
 * files of builds and thaws in dict_lmdb_file.c; what the three share
 * (struct dict_lmdb, limits, functions) is in dict_lmdb_impl.h.
 *
 * Symbolic links: NAME.lmdb may be a link to the table elsewhere.
 * Writers (builds and changes) resolve it with realpath(3) when they
 * open the table and create, rename and lock at the file itself, so
 * the link keeps pointing to the table.
 *
 * Duplicates: update() stores a new key and answers DICT_NOTFOUND; for a
 * key that exists it replaces the value with DICT_FLAG_DUP_REPLACE, else
 * keeps the first, and answers DICT_FOUND either way. An update or
 * delete ends an iteration in progress.
 *
 * SECURITY: tables are administrator files; lookup keys come from the
 * network but are bounded by dict.c and by the key size check here.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dict_lmdb.h"
#include "dict_lmdb_impl.h"
#include "dict_types.h"
#include "file.h"
#include "mem.h"
#include "msg.h"

static enum dict_result
lmdb_fail(struct dict_lmdb *l, const char *what, int rc)
{
	if (rc == LMDB_REPORTED)
		return DICT_TEMPFAIL;
	return dict_tempfail(&l->d, "table %s: %s %s: %s", l->d.full_name,
	    what, l->temp_path ? l->temp_path : l->path, mdb_strerror(rc));
}

static bool
lmdb_frozen_key(const MDB_val *k)
{
	return k->mv_size == LMDB_FROZEN_LEN
	    && memcmp(k->mv_data, LMDB_FROZEN_KEY, LMDB_FROZEN_LEN) == 0;
}

bool
lmdb_key(const struct dict_lmdb *l, const char *key, MDB_val *k)
{
	k->mv_size = strlen(key);
	k->mv_data = (void *)key;
	return k->mv_size > 0 && k->mv_size <= l->max_key;
}

/*
 * Iteration
 */
void
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
int
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

void
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
void
lmdb_rtxn_free(struct dict_lmdb *l)
{
	if (l->rtxn != NULL) {
		mdb_txn_abort(l->rtxn);
		l->rtxn = NULL;
	}
	l->rtxn_live = false;
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
int
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
int
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
