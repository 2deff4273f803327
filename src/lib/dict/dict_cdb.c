/*
 * dict_cdb.c - cdb: tables (constant databases, with tinycdb)
 *
 * cdb:/etc/petrel/access is the file /etc/petrel/access.cdb in cdb
 * format; each record's key is the lookup key's bytes and its data the
 * value's bytes, neither with a trailing NUL. A cdb file cannot change:
 * it is read (lookups, iteration) or written whole by a build, never
 * updated in place, so opening one O_RDWR without O_TRUNC fails.
 *
 * Building (O_CREAT|O_TRUNC): records go into a new file
 * NAME.cdb.<pid>.<random> beside the table, created with the old
 * table's mode (and owner, as root). dict_commit() writes the index
 * (cdb_make_finish), syncs the file, renames it onto NAME.cdb and syncs
 * the directory, so readers see the old table or the new one, never a
 * part of one; after that the table can be read. Closing without commit
 * removes the file and leaves the old table alone.
 *
 * Duplicates while building: with DICT_FLAG_DUP_REPLACE the new value
 * replaces the old one, otherwise the first is kept; update() answers
 * DICT_FOUND in both cases (DICT_NOTFOUND for a new key).
 *
 * SECURITY: tables are administrator files, but a damaged one must not
 * crash a daemon: cdb_get() checks each record's position and length
 * against the file, and a record outside it is a temporary failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cdb.h>

#include "buf.h"
#include "dict.h"
#include "dict_types.h"
#include "file.h"
#include "mem.h"
#include "msg.h"

#define CDB_SUFFIX		".cdb"
#define CDB_TEMP_TRIES		16

struct dict_cdb {
	struct dict d;
	int fd;
	char *path;		/* NAME.cdb */
	char *temp_path;	/* while building, until commit */
	bool making;		/* building: make is in use */
	struct cdb_make make;
	bool reading;		/* cdb is initialized */
	struct cdb cdb;
	unsigned seq;		/* iteration position */
	bool iterating;
	bool broken;		/* a build write failed: refuse to commit */
};

static enum dict_result
cdb_fail(struct dict_cdb *c, const char *what, int err)
{
	return dict_tempfail(&c->d, "table %s: %s %s: %s", c->d.full_name,
	    what, c->temp_path ? c->temp_path : c->path, strerror(err));
}

static enum dict_result
cdb_corrupt(struct dict_cdb *c)
{
	return dict_tempfail(&c->d, "table %s: %s: damaged file (a record "
	    "lies outside it)", c->d.full_name, c->path);
}

static enum dict_result
cdb_not_readable(struct dict_cdb *c)
{
	return dict_tempfail(&c->d, "table %s: cannot be read before it is "
	    "committed", c->d.full_name);
}

static enum dict_result
dict_cdb_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_cdb *c = (struct dict_cdb *)d;
	const void *data;
	int rc;

	if (!c->reading)
		return cdb_not_readable(c);
	/* dict.c bounds keys to DICT_MAX_KEY bytes. */
	rc = cdb_find(&c->cdb, key, (unsigned)strlen(key));
	if (rc < 0)
		return cdb_fail(c, "read", errno);
	if (rc == 0)
		return DICT_NOTFOUND;
	data = cdb_get(&c->cdb, cdb_datalen(&c->cdb), cdb_datapos(&c->cdb));
	if (data == NULL)
		return cdb_corrupt(c);
	buf_setn(value, data, cdb_datalen(&c->cdb));
	return DICT_FOUND;
}

static enum dict_result
dict_cdb_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	struct dict_cdb *c = (struct dict_cdb *)d;
	const void *k, *v;
	int rc;

	if (!c->reading)
		return cdb_not_readable(c);
	if (seq == DICT_SEQ_FIRST) {
		cdb_seqinit(&c->seq, &c->cdb);
		c->iterating = true;
	} else if (!c->iterating) {
		return DICT_NOTFOUND;
	}
	if ((rc = cdb_seqnext(&c->seq, &c->cdb)) <= 0) {
		c->iterating = false;
		return rc == 0 ? DICT_NOTFOUND : cdb_fail(c, "read", errno);
	}
	k = cdb_get(&c->cdb, cdb_keylen(&c->cdb), cdb_keypos(&c->cdb));
	v = cdb_get(&c->cdb, cdb_datalen(&c->cdb), cdb_datapos(&c->cdb));
	if (k == NULL || v == NULL) {
		c->iterating = false;
		return cdb_corrupt(c);
	}
	buf_setn(key, k, cdb_keylen(&c->cdb));
	buf_setn(value, v, cdb_datalen(&c->cdb));
	return DICT_FOUND;
}

static enum dict_result
cdb_check_making(struct dict_cdb *c)
{
	if (!c->making)
		return dict_tempfail(&c->d, "table %s: a cdb table cannot be "
		    "changed, only rebuilt", c->d.full_name);
	if (c->broken)
		return dict_tempfail(&c->d, "table %s: an earlier write "
		    "failed", c->d.full_name);
	return DICT_FOUND;
}

static enum dict_result
dict_cdb_update(struct dict *d, const char *key, const char *value)
{
	struct dict_cdb *c = (struct dict_cdb *)d;
	size_t vlen = strlen(value);
	int rc;

	if (cdb_check_making(c) == DICT_TEMPFAIL)
		return DICT_TEMPFAIL;
	if (vlen > UINT_MAX)
		return dict_tempfail(d, "table %s: a value of %zu bytes is too "
		    "large for cdb", d->full_name, vlen);
	rc = cdb_make_put(&c->make, key, (unsigned)strlen(key), value,
	    (unsigned)vlen, (d->dict_flags & DICT_FLAG_DUP_REPLACE)
	    ? CDB_PUT_REPLACE : CDB_PUT_INSERT);
	if (rc < 0) {
		/* tinycdb cannot go on after an error. */
		c->broken = true;
		return cdb_fail(c, "write", errno);
	}
	return rc == 0 ? DICT_NOTFOUND : DICT_FOUND;
}

static enum dict_result
dict_cdb_delete(struct dict *d, const char *key)
{
	struct dict_cdb *c = (struct dict_cdb *)d;
	int rc;

	if (cdb_check_making(c) == DICT_TEMPFAIL)
		return DICT_TEMPFAIL;
	rc = cdb_make_find(&c->make, key, (unsigned)strlen(key),
	    CDB_FIND_REMOVE);
	if (rc < 0) {
		c->broken = true;
		return cdb_fail(c, "write", errno);
	}
	return rc > 0 ? DICT_FOUND : DICT_NOTFOUND;
}

/* Finish the build's file (also to free tinycdb's memory on abort). */
static int
cdb_finish(struct dict_cdb *c)
{
	c->making = false;
	return cdb_make_finish(&c->make);
}

static int
dict_cdb_commit(struct dict *d, struct buf *why)
{
	struct dict_cdb *c = (struct dict_cdb *)d;

	if (c->temp_path == NULL)
		return 0;		/* nothing was built */
	if (c->broken) {
		buf_printf(why, "table %s: not committed after a write error",
		    d->full_name);
		return -1;
	}
	if (cdb_finish(c) < 0 || file_fsync(c->fd) < 0) {
		c->broken = true;
		buf_printf(why, "table %s: write %s: %s", d->full_name,
		    c->temp_path, strerror(errno));
		return -1;
	}
	if (rename(c->temp_path, c->path) < 0) {
		c->broken = true;
		buf_printf(why, "table %s: rename %s to %s: %s", d->full_name,
		    c->temp_path, c->path, strerror(errno));
		return -1;
	}
	free(c->temp_path);
	c->temp_path = NULL;
	if (file_sync_dir(c->path) < 0) {
		buf_printf(why, "table %s: sync the directory of %s: %s",
		    d->full_name, c->path, strerror(errno));
		return -1;
	}
	/* The new table is in place; let the caller read it. */
	if (cdb_init(&c->cdb, c->fd) < 0) {
		buf_printf(why, "table %s: read %s: %s", d->full_name,
		    c->path, strerror(errno));
		return -1;
	}
	c->reading = true;
	return 0;
}

static void
dict_cdb_close(struct dict *d)
{
	struct dict_cdb *c = (struct dict_cdb *)d;

	if (c->making)
		(void)cdb_finish(c);
	if (c->reading)
		cdb_free(&c->cdb);
	if (c->fd >= 0)
		(void)close(c->fd);
	if (c->temp_path) {
		(void)unlink(c->temp_path);	/* a build not committed */
		free(c->temp_path);
	}
	free(c->path);
	dict_free(d);
}

static int
cdb_open_read(struct dict_cdb *c, struct buf *why)
{
	struct stat st;

	/* Watch first: a table replaced meanwhile is noticed. */
	dict_watch(&c->d, c->path);
	if ((c->fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0
	    || fstat(c->fd, &st) < 0) {
		buf_printf(why, "open %s: %s", c->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(why, "open %s: not a regular file", c->path);
		return -1;
	}
	if (cdb_init(&c->cdb, c->fd) < 0) {
		/* tinycdb says EPROTO for a file too short to be cdb. */
		buf_printf(why, "open %s: %s", c->path, errno == EPROTO
		    ? "not a cdb file" : strerror(errno));
		return -1;
	}
	c->reading = true;
	return 0;
}

/*
 * A new file beside the table for a build, with the old table's mode
 * (and, as root, its owner), so a protected table stays protected.
 */
static int
cdb_open_new(struct dict_cdb *c, struct buf *why)
{
	struct buf temp;
	struct stat old;
	uint32_t rnd;
	int tries;

	buf_init(&temp, strlen(c->path) + 32);
	for (tries = 0; tries < CDB_TEMP_TRIES; tries++) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK)
		    != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)random() ^ (uint32_t)tries;
		buf_reset(&temp);
		buf_printf(&temp, "%s.%ld.%08x", c->path, (long)getpid(),
		    (unsigned)rnd);
		/* Read access too: tinycdb reads back to find duplicates. */
		c->fd = open(temp.data, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_CLOEXEC | O_NOCTTY, 0644);
		if (c->fd >= 0 || errno != EEXIST)
			break;
	}
	if (c->fd < 0) {
		buf_printf(why, "create %s: %s", temp.data, strerror(errno));
		buf_fini(&temp);
		return -1;
	}
	c->temp_path = buf_steal(&temp);
	if (stat(c->path, &old) == 0 && S_ISREG(old.st_mode)
	    && ((geteuid() == 0
	    && fchown(c->fd, old.st_uid, old.st_gid) < 0)
	    || fchmod(c->fd, old.st_mode & 0777) < 0)) {
		buf_printf(why, "set owner and mode of %s: %s", c->temp_path,
		    strerror(errno));
		return -1;
	}
	if (cdb_make_start(&c->make, c->fd) < 0) {
		buf_printf(why, "write %s: %s", c->temp_path, strerror(errno));
		return -1;
	}
	c->making = true;
	return 0;
}

static void
dict_cdb_file(const char *name, struct buf *path)
{
	buf_reset(path);
	buf_printf(path, "%s%s", name, CDB_SUFFIX);
}

static struct dict *
dict_cdb_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_cdb *c;
	struct buf path;
	int rc;

	c = (struct dict_cdb *)dict_alloc(&dict_cdb_ops, name, open_flags,
	    dict_flags, sizeof(*c));
	c->fd = -1;
	buf_init(&path, strlen(name) + sizeof(CDB_SUFFIX));
	buf_printf(&path, "%s%s", name, CDB_SUFFIX);
	c->path = buf_steal(&path);
	if ((open_flags & O_ACCMODE) == O_RDONLY) {
		rc = cdb_open_read(c, why);
	} else if ((open_flags & (O_CREAT | O_TRUNC)) == (O_CREAT | O_TRUNC)) {
		rc = cdb_open_new(c, why);
	} else {
		buf_printf(why, "table cdb:%s: a cdb table cannot be changed, "
		    "only rebuilt", name);
		rc = -1;
	}
	if (rc < 0) {
		dict_cdb_close(&c->d);
		return NULL;
	}
	return &c->d;
}

const struct dict_ops dict_cdb_ops = {
	.type = "cdb",
	.open = dict_cdb_open,
	.lookup = dict_cdb_lookup,
	.update = dict_cdb_update,
	.delete = dict_cdb_delete,
	.iterate = dict_cdb_iterate,
	.commit = dict_cdb_commit,
	.close = dict_cdb_close,
	.file = dict_cdb_file,
};
