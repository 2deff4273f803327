/*
 * dict.c - lookup tables: the common part, sharing, surrogates, change
 * detection
 *
 * dict_open() (dict_open.c, with the registry of types) returns a
 * shared table from the process cache kept here, or opens a new one.
 * When opening fails, the caller gets a surrogate table (made here)
 * whose every answer is DICT_TEMPFAIL with the reason. The split keeps
 * programs that never open a table (their skeleton still asks
 * dict_changed()) from linking every table type and its libraries.
 *
 * The wrappers (dict_lookup() ...) do what every type would otherwise
 * repeat: key length and NUL checks, case folding, refusing operations
 * the type lacks, and checking that results hold no NUL byte.
 * SECURITY: keys come from the network; they are bounded here before any
 * type sees them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "dict_lmdb.h"
#include "dict_types.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

/* Types added at run time (proxy:, from the global library). */
#define DICT_MAX_REGISTERED	16
static const struct dict_ops *dict_registered[DICT_MAX_REGISTERED];

static struct htable *dict_cache;	/* cache key -> struct dict */

/* Every table opened from a file, for dict_changed(). */
static struct dict **dict_watched;
static size_t dict_watch_count;

struct dict *
dict_alloc(const struct dict_ops *ops, const char *name, int open_flags,
    int dict_flags, size_t size)
{
	struct dict *d;
	struct buf full;

	if (size < sizeof(*d))
		msg_panic("dict_alloc: size %zu too small", size);
	d = xcalloc(1, size);
	d->ops = ops;
	d->type = xstrdup(ops->type);
	d->name = xstrdup(name);
	buf_init(&full, 64);
	buf_printf(&full, "%s:%s", ops->type, name);
	d->full_name = buf_steal(&full);
	d->open_flags = open_flags;
	d->dict_flags = dict_flags;
	buf_init(&d->error, 0);
	d->refcount = 1;
	d->watch_fd = -1;
	return d;
}

static void
dict_watch_add(struct dict *d)
{
	if (!d->watching) {
		d->watching = true;
		dict_watched = xreallocarray(dict_watched, dict_watch_count + 1,
		    sizeof(*dict_watched));
		dict_watched[dict_watch_count++] = d;
	}
}

void
dict_watch(struct dict *d, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &d->watch_st) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (d->watch_fd >= 0)
		close(d->watch_fd);
	d->watch_fd = fd;
	free(d->watch_path);
	d->watch_path = xstrdup(path);
	dict_watch_add(d);
}

void
dict_file_is_name(const char *name, struct buf *path)
{
	buf_set(path, name);
}

/*
 * A file watched by name: for a table that failed to open (the file may
 * be missing, unreadable or broken, so there is no descriptor to keep),
 * or one that a table read besides its own (dict_open_watch()). Keep a
 * descriptor of the nearest directory on the path that exists instead
 * (O_PATH: no read permission needed), and the name in it that leads to
 * the file: fstatat() on it works after chroot(2) as well. When a
 * missing directory appears, that is a change too: the restart then
 * watches one level further down.
 */
struct dict_watch_name {
	int dirfd;
	char *entry;
	bool found;		/* whether it existed, with st */
	struct stat st;
	bool kept;		/* dict_open_watch(): also for a working table */
};

static void
dict_watch_name_free(struct dict_watch_name *w)
{
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->entry);
}

void
dict_watch_name(struct dict *d, const char *path, bool kept)
{
	char *copy = xstrdup(path), *slash;
	struct dict_watch_name *w;
	const char *dir, *entry;
	int dfd;

	for (;;) {
		if ((slash = strrchr(copy, '/')) == NULL) {
			dir = ".";
			entry = copy;
		} else if (slash == copy) {
			dir = "/";
			entry = slash + 1;
		} else {
			*slash = 0;
			dir = copy;
			entry = slash + 1;
		}
		if (*entry == 0) {		/* "x/": not a file */
			dfd = -1;
			break;
		}
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0 || errno != ENOENT || dir != copy)
			break;
		/* dir is missing: watch for it in its parent. */
	}
	if (dfd >= 0) {
		d->watch_names = xreallocarray(d->watch_names,
		    d->watch_name_count + 1, sizeof(*d->watch_names));
		w = &d->watch_names[d->watch_name_count++];
		w->dirfd = dfd;
		w->entry = xstrdup(entry);
		w->found = fstatat(dfd, entry, &w->st, 0) == 0;
		w->kept = kept;
		dict_watch_add(d);
	}
	free(copy);
}

void
dict_watch_move(struct dict *to, struct dict *from)
{
	size_t i;

	for (i = 0; i < from->watch_name_count; i++) {
		struct dict_watch_name *w = &from->watch_names[i];

		if (!w->kept) {
			dict_watch_name_free(w);
			continue;
		}
		to->watch_names = xreallocarray(to->watch_names,
		    to->watch_name_count + 1, sizeof(*to->watch_names));
		to->watch_names[to->watch_name_count++] = *w;
		dict_watch_add(to);
	}
	free(from->watch_names);
	from->watch_names = NULL;
	from->watch_name_count = 0;
}

static void
dict_unwatch(struct dict *d)
{
	size_t i;

	if (!d->watching)
		return;
	for (i = 0; i < dict_watch_count; i++) {
		if (dict_watched[i] == d) {
			dict_watched[i] = dict_watched[--dict_watch_count];
			break;
		}
	}
	d->watching = false;
}

/*
 * A file watched by name changed when it appeared, went away, or has
 * another inode, size, mtime or ctime (ctime: fixing its permissions is
 * a change too). A spare restart costs little; a missed one keeps a
 * daemon failing.
 */
static bool
dict_name_changed(const struct dict_watch_name *w)
{
	struct stat st;

	if (fstatat(w->dirfd, w->entry, &st, 0) < 0)
		return w->found && errno == ENOENT;
	return !w->found
	    || st.st_dev != w->st.st_dev
	    || st.st_ino != w->st.st_ino
	    || st.st_size != w->st.st_size
	    || st.st_mtim.tv_sec != w->st.st_mtim.tv_sec
	    || st.st_mtim.tv_nsec != w->st.st_mtim.tv_nsec
	    || st.st_ctim.tv_sec != w->st.st_ctim.tv_sec
	    || st.st_ctim.tv_nsec != w->st.st_ctim.tv_nsec;
}

/*
 * A table's file changed when it was modified in place (size or mtime of
 * the open file), replaced or removed (the open file has no link left),
 * or when the path now names another file. The path may not resolve at
 * all inside a chroot jail; that alone is not a change.
 */
static bool
dict_fd_changed(const struct dict *d)
{
	struct stat st;

	if (fstat(d->watch_fd, &st) < 0 || st.st_nlink == 0
	    || st.st_size != d->watch_st.st_size
	    || st.st_mtim.tv_sec != d->watch_st.st_mtim.tv_sec
	    || st.st_mtim.tv_nsec != d->watch_st.st_mtim.tv_nsec)
		return true;
	return stat(d->watch_path, &st) == 0
	    && (st.st_dev != d->watch_st.st_dev
		|| st.st_ino != d->watch_st.st_ino);
}

bool
dict_watch_changed(const struct dict *d)
{
	size_t i;

	if (d->watch_fd >= 0 && dict_fd_changed(d))
		return true;
	for (i = 0; i < d->watch_name_count; i++)
		if (dict_name_changed(&d->watch_names[i]))
			return true;
	return false;
}

bool
dict_changed(void)
{
	size_t i;

	for (i = 0; i < dict_watch_count; i++) {
		const struct dict *d = dict_watched[i];

		if (dict_watch_changed(d)) {
			msg_info("table %s has changed -- restarting",
			    d->full_name);
			return true;
		}
	}
	return false;
}

enum dict_result
dict_tempfail(struct dict *d, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&d->error);
	va_start(ap, fmt);
	buf_vprintf(&d->error, fmt, ap);
	va_end(ap);
	return DICT_TEMPFAIL;
}

void
dict_free(struct dict *d)
{
	size_t i;

	dict_unwatch(d);
	if (d->watch_fd >= 0)
		close(d->watch_fd);
	for (i = 0; i < d->watch_name_count; i++)
		dict_watch_name_free(&d->watch_names[i]);
	free(d->watch_names);
	free(d->type);
	free(d->name);
	free(d->full_name);
	free(d->watch_path);
	free(d->cache_key);
	buf_fini(&d->error);
	free(d);
}

/* The surrogate: every request fails with the reason. */
struct dict_surrogate {
	struct dict d;
	char *reason;
};

static enum dict_result
dict_surrogate_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_surrogate *s = (struct dict_surrogate *)d;

	(void)key;
	(void)value;
	return dict_tempfail(d, "%s", s->reason);
}

static enum dict_result
dict_surrogate_update(struct dict *d, const char *key, const char *value)
{
	(void)value;
	return dict_surrogate_lookup(d, key, NULL);
}

static enum dict_result
dict_surrogate_delete(struct dict *d, const char *key)
{
	return dict_surrogate_lookup(d, key, NULL);
}

static enum dict_result
dict_surrogate_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	(void)seq;
	(void)key;
	return dict_surrogate_lookup(d, NULL, value);
}

static int
dict_surrogate_commit(struct dict *d, struct buf *why)
{
	buf_set(why, ((struct dict_surrogate *)d)->reason);
	return -1;
}

static void
dict_surrogate_close(struct dict *d)
{
	free(((struct dict_surrogate *)d)->reason);
	dict_free(d);
}

static const struct dict_ops dict_surrogate_ops = {
	.type = "surrogate",
	.lookup = dict_surrogate_lookup,
	.update = dict_surrogate_update,
	.delete = dict_surrogate_delete,
	.iterate = dict_surrogate_iterate,
	.commit = dict_surrogate_commit,
	.close = dict_surrogate_close,
};

struct dict *
dict_surrogate(const char *type_name, int open_flags, int dict_flags,
    const char *reason)
{
	struct dict_surrogate *s;
	struct dict *d;

	d = dict_alloc(&dict_surrogate_ops, type_name, open_flags, dict_flags,
	    sizeof(*s));
	/* Name it as the caller knows it, not "surrogate:..." */
	free(d->full_name);
	d->full_name = xstrdup(type_name);
	s = (struct dict_surrogate *)d;
	s->reason = xstrdup(reason);
	buf_set(&d->error, reason);
	return d;
}

void
dict_surrogate_reason(struct dict *d, const char *reason)
{
	struct dict_surrogate *s = (struct dict_surrogate *)d;

	if (!dict_is_surrogate(d))
		msg_panic("dict_surrogate_reason: %s is not a surrogate",
		    d->full_name);
	free(s->reason);
	s->reason = xstrdup(reason);
	buf_set(&d->error, reason);
}

bool
dict_is_surrogate(const struct dict *d)
{
	return d->ops == &dict_surrogate_ops;
}

/* ---- types added at run time -------------------------------------------- */

int
dict_register(const struct dict_ops *ops)
{
	size_t i;

	for (i = 0; i < DICT_MAX_REGISTERED; i++) {
		if (dict_registered[i] == NULL) {
			dict_registered[i] = ops;
			return 0;
		}
		if (strcmp(dict_registered[i]->type, ops->type) == 0)
			return dict_registered[i] == ops ? 0 : -1;
	}
	return -1;
}

const struct dict_ops *
dict_find_registered(const char *type)
{
	size_t i;

	for (i = 0; i < DICT_MAX_REGISTERED && dict_registered[i]; i++)
		if (strcmp(dict_registered[i]->type, type) == 0)
			return dict_registered[i];
	return NULL;
}

/* ---- LMDB's map size (set by whoever read main.cf) ---------------------- */

size_t dict_lmdb_map_size = DICT_LMDB_MAP_SIZE;

void
dict_lmdb_set_map_size(size_t size)
{
	if (size > 0)
		dict_lmdb_map_size = size;
}

/* ---- the process cache (dict_open.c fills it) ----------------------- */

struct dict *
dict_cache_find(const char *key)
{
	return dict_cache ? htable_get(dict_cache, key) : NULL;
}

void
dict_cache_add(const char *key, struct dict *d)
{
	if (dict_cache == NULL)
		dict_cache = htable_new(16);
	htable_put(dict_cache, key, d);
}

void
dict_cache_forget(struct dict *d)
{
	if (d->cache_key == NULL)
		return;
	if (dict_cache)
		htable_delete(dict_cache, d->cache_key);
	free(d->cache_key);
	d->cache_key = NULL;
}

/*
 * A stored value (or key, when iterating) with a NUL byte would be cut
 * short by every caller: a temporary failure naming the table and key.
 */
static enum dict_result
dict_check_value(struct dict *d, const char *key, size_t key_len,
    struct buf *value)
{
	struct buf printable;

	if (memchr(value->data, 0, value->len) == NULL)
		return DICT_FOUND;
	buf_reset(value);
	buf_init(&printable, key_len + 1);
	str_printable(&printable, key, key_len);
	dict_tempfail(d, "table %s: the value for key \"%s\" contains a "
	    "NUL byte", d->full_name, printable.data);
	buf_fini(&printable);
	return DICT_TEMPFAIL;
}

/* Bound and fold a key; NULL after recording a temporary failure. */
static const char *
dict_key(struct dict *d, const char *key, struct buf *folded)
{
	size_t len = strlen(key);

	if (len > DICT_MAX_KEY) {
		dict_tempfail(d, "table %s: key of %zu bytes is longer than "
		    "the limit of %d", d->full_name, len, DICT_MAX_KEY);
		return NULL;
	}
	if (!(d->dict_flags & DICT_FLAG_FOLD))
		return key;
	buf_setn(folded, key, len);
	str_lower(folded->data);
	return folded->data;
}

static enum dict_result
dict_unsupported(struct dict *d, const char *what)
{
	return dict_tempfail(d, "table %s: %s is not supported by this "
	    "table type", d->full_name, what);
}

enum dict_result
dict_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct buf folded;
	enum dict_result rc;
	const char *k;

	buf_init(&folded, 0);
	if ((k = dict_key(d, key, &folded)) == NULL) {
		rc = DICT_TEMPFAIL;
	} else {
		buf_reset(value);
		rc = d->ops->lookup(d, k, value);
		if (rc == DICT_FOUND)
			rc = dict_check_value(d, k, strlen(k), value);
	}
	if (rc == DICT_TEMPFAIL && !dict_is_surrogate(d)
	    && !(k != NULL && d->ops->quiet_tempfail))
		msg_warn("%s", d->error.data);
	buf_fini(&folded);
	return rc;
}

enum dict_result
dict_update(struct dict *d, const char *key, const char *value)
{
	struct buf folded;
	enum dict_result rc;
	const char *k;

	if (d->ops->update == NULL)
		return dict_unsupported(d, "update");
	buf_init(&folded, 0);
	k = dict_key(d, key, &folded);
	rc = k ? d->ops->update(d, k, value) : DICT_TEMPFAIL;
	buf_fini(&folded);
	return rc;
}

enum dict_result
dict_delete(struct dict *d, const char *key)
{
	struct buf folded;
	enum dict_result rc;
	const char *k;

	if (d->ops->delete == NULL)
		return dict_unsupported(d, "delete");
	buf_init(&folded, 0);
	k = dict_key(d, key, &folded);
	rc = k ? d->ops->delete(d, k) : DICT_TEMPFAIL;
	buf_fini(&folded);
	return rc;
}

enum dict_result
dict_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	struct buf printable;
	enum dict_result rc;

	if (d->ops->iterate == NULL)
		return dict_unsupported(d, "iteration");
	buf_reset(key);
	buf_reset(value);
	if ((rc = d->ops->iterate(d, seq, key, value)) != DICT_FOUND)
		return rc;
	/* As dict_lookup() checks values: a table built by other tools. */
	if (memchr(key->data, 0, key->len) != NULL) {
		buf_init(&printable, key->len + 1);
		str_printable(&printable, key->data, key->len);
		rc = dict_tempfail(d, "table %s: the key \"%s\" contains a "
		    "NUL byte", d->full_name, printable.data);
		buf_fini(&printable);
		buf_reset(key);
		buf_reset(value);
		return rc;
	}
	return dict_check_value(d, key->data, key->len, value);
}

int
dict_commit(struct dict *d, struct buf *why)
{
	buf_reset(why);
	if (d->ops->commit == NULL)
		return 0;		/* nothing to make visible */
	return d->ops->commit(d, why);
}

void
dict_close(struct dict *d)
{
	if (d == NULL || --d->refcount > 0)
		return;
	if (d->cache_key && dict_cache)
		htable_delete(dict_cache, d->cache_key);
	d->ops->close(d);
}

const char *
dict_error(const struct dict *d)
{
	return d->error.data;
}
