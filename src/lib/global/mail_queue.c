/*
 * mail_queue.c - queue file paths, creation, moves and directory scans
 *
 * All paths are relative to the current directory, which is
 * queue_directory for every daemon and queue command. A queue listed in
 * hash_queue_names keeps its files hash_queue_depth directory levels
 * down ("deferred/X/Y/ID", see queue_id_hash()); hash directories are
 * made on demand with mode 0700.
 *
 * mail_queue_enter() makes a new queue file: it creates an exclusive
 * temporary name in the queue (".tmp.<pid>.<random>", never a valid
 * queue ID, so scans skip it), learns the inode with fstat(2), builds
 * the ID from the current time and the inode, and renames the file to
 * its ID without replacing anything. An existing name is possible only
 * if an inode was freed and reused within one microsecond; the loop then
 * waits for the clock to move and tries again.
 *
 * mail_scan_*() walk a queue and its single-symbol hash subdirectories
 * (any depth up to the largest hash depth, so files queued under an
 * older hash_queue_depth are still found) and return the valid IDs.
 *
 * SECURITY: every public function that turns an ID into a path checks
 * it with queue_id_valid() and the queue with mail_queue_name_ok()
 * (EINVAL otherwise), and opens with O_NOFOLLOW. Scans open
 * subdirectories relative to their parent with O_NOFOLLOW|O_DIRECTORY,
 * so a planted symbolic link leads nowhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "queue_id.h"

/* Deepest hash level queue_id_hash() can produce (7 + 4 symbols). */
#define MAIL_SCAN_MAX_DEPTH	11
/* Attempts at a fresh temporary name, and at renaming it to an ID. */
#define MAIL_QUEUE_TRIES	100

static const char *const mail_queue_names[] = {
	MAIL_QUEUE_MAILDROP, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
	MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD, MAIL_QUEUE_CORRUPT,
	MAIL_QUEUE_BOUNCE, MAIL_QUEUE_DEFER, MAIL_QUEUE_TRACE,
	MAIL_QUEUE_SAVED,
};

bool
mail_queue_name_ok(const char *queue)
{
	size_t i;

	if (queue == NULL)
		return false;
	for (i = 0; i < sizeof(mail_queue_names) / sizeof(*mail_queue_names);
	    i++)
		if (strcmp(queue, mail_queue_names[i]) == 0)
			return true;
	return false;
}

bool
mail_queue_hashed(const char *queue)
{
	static const char sep[] = ", \t\r\n";
	const char *cp = var_hash_queue_names;
	size_t qlen, len;

	if (cp == NULL || queue == NULL)
		return false;
	qlen = strlen(queue);
	/* Scan the list in place: this runs for every queue file access. */
	for (;;) {
		cp += strspn(cp, sep);
		if (*cp == 0)
			return false;
		len = strcspn(cp, sep);
		if (len == qlen && memcmp(cp, queue, len) == 0)
			return true;
		cp += len;
	}
}

static int
mail_queue_depth(const char *queue)
{
	if (!mail_queue_hashed(queue))
		return 0;
	return var_hash_queue_depth;
}

void
mail_queue_path(struct buf *out, const char *queue, const char *id)
{
	buf_puts(out, queue);
	buf_putc(out, '/');
	queue_id_hash(out, id, mail_queue_depth(queue));
	buf_puts(out, id);
}

static bool
mail_queue_args_ok(const char *queue, const char *id)
{
	if (mail_queue_name_ok(queue) && queue_id_valid(id))
		return true;
	errno = EINVAL;
	return false;
}

/* Make the hash directories for id in queue (existing ones are fine). */
static int
mail_queue_mkhash(const char *queue, const char *id)
{
	struct buf dir;
	size_t i;
	int ret = 0;

	buf_init(&dir, 64);
	buf_puts(&dir, queue);
	buf_putc(&dir, '/');
	queue_id_hash(&dir, id, mail_queue_depth(queue));
	/* Each '/' after the queue name ends one hash level. */
	for (i = strlen(queue) + 1; i < dir.len; i++) {
		if (dir.data[i] != '/')
			continue;
		dir.data[i] = 0;
		if (mkdir(dir.data, 0700) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		dir.data[i] = '/';
	}
	buf_fini(&dir);
	return ret;
}

/*
 * Rename without replacing: RENAME_NOREPLACE where the file system
 * supports it, else link(2) and unlink(2), which fail the same way.
 */
static int
mail_queue_rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) < 0)
		return -1;
	if (unlink(from) < 0) {
		msg_warn("remove %s: %s", from, strerror(errno));
		return 0;
	}
	return 0;
}

/* Create the exclusive temporary file; its name goes in tmp. */
static int
mail_queue_tmp_open(const char *queue, mode_t mode, struct buf *tmp)
{
	uint64_t rnd;
	int fd, tries;

	for (tries = 0; tries < MAIL_QUEUE_TRIES; tries++) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK)
		    != (ssize_t)sizeof(rnd))
			rnd = ((uint64_t)random() << 31) ^ (uint64_t)tries;
		buf_reset(tmp);
		buf_printf(tmp, "%s/.tmp.%ld.%016llx", queue, (long)getpid(),
		    (unsigned long long)rnd);
		fd = open(tmp->data, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW
		    | O_CLOEXEC | O_NOCTTY, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int
mail_queue_enter(const char *queue, mode_t mode, struct buf *id,
    struct timeval *when)
{
	struct buf tmp, qid, path;
	struct timeval tv, last = {0, 0};
	struct stat st;
	int fd, tries, saved;

	if (!mail_queue_name_ok(queue)) {
		errno = EINVAL;
		return -1;
	}
	buf_init(&tmp, 64);
	buf_init(&qid, QUEUE_ID_MAX + 1);
	buf_init(&path, 64);
	if ((fd = mail_queue_tmp_open(queue, mode, &tmp)) < 0)
		goto fail_nofile;
	/* The umask must not take bits away (complete = owner-execute). */
	if (fchmod(fd, mode & 07777) < 0 || fstat(fd, &st) < 0)
		goto fail;
	for (tries = 0;; tries++) {
		if (tries >= MAIL_QUEUE_TRIES) {
			errno = EEXIST;
			goto fail;
		}
		/* After a collision, wait for the clock to move on. */
		do {
			gettimeofday(&tv, NULL);
		} while (tv.tv_sec == last.tv_sec
		    && tv.tv_usec == last.tv_usec);
		last = tv;
		buf_reset(&qid);
		queue_id_make(&qid, (uint64_t)tv.tv_sec,
		    (uint32_t)tv.tv_usec, st.st_ino);
		buf_reset(&path);
		mail_queue_path(&path, queue, qid.data);
		if (mail_queue_rename_new(tmp.data, path.data) == 0)
			break;
		/* A missing hash directory: make it, retry with this ID. */
		if (errno == ENOENT && mail_queue_depth(queue) > 0) {
			if (mail_queue_mkhash(queue, qid.data) < 0)
				goto fail;
			if (mail_queue_rename_new(tmp.data, path.data) == 0)
				break;
		}
		if (errno != EEXIST)
			goto fail;
	}
	buf_append(id, qid.data, qid.len);
	if (when)
		*when = tv;
	buf_fini(&tmp);
	buf_fini(&qid);
	buf_fini(&path);
	return fd;

fail:
	saved = errno;
	(void)unlink(tmp.data);
	(void)close(fd);
	errno = saved;
fail_nofile:
	buf_fini(&tmp);
	buf_fini(&qid);
	buf_fini(&path);
	return -1;
}

int
mail_queue_open(const char *queue, const char *id, int flags)
{
	struct buf path;
	int fd;

	if (!mail_queue_args_ok(queue, id))
		return -1;
	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	fd = open(path.data, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
	    MAIL_QUEUE_MODE_WRITING);
	buf_fini(&path);
	return fd;
}

int
mail_queue_rename(const char *id, const char *from, const char *to)
{
	struct buf old, new;
	int ret;

	if (!mail_queue_args_ok(from, id) || !mail_queue_args_ok(to, id))
		return -1;
	buf_init(&old, 64);
	buf_init(&new, 64);
	mail_queue_path(&old, from, id);
	mail_queue_path(&new, to, id);
	ret = rename(old.data, new.data);
	/* A missing hash directory: make it and try once more. */
	if (ret < 0 && errno == ENOENT && mail_queue_depth(to) > 0) {
		if (mail_queue_mkhash(to, id) == 0)
			ret = rename(old.data, new.data);
	}
	buf_fini(&old);
	buf_fini(&new);
	return ret;
}

int
mail_queue_remove(const char *queue, const char *id)
{
	struct buf path;
	int ret;

	if (!mail_queue_args_ok(queue, id))
		return -1;
	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	ret = unlink(path.data);
	buf_fini(&path);
	return ret;
}

struct mail_scan {
	DIR *dir[MAIL_SCAN_MAX_DEPTH + 1];	/* dir[0] is the queue */
	size_t plen[MAIL_SCAN_MAX_DEPTH + 1];	/* path length per level */
	int level;				/* current, -1 when done */
	struct buf path;			/* "queue/X/Y/" then id */
	const char *id;				/* inside path */
};

struct mail_scan *
mail_scan_open(const char *queue)
{
	struct mail_scan *scan;
	DIR *dir;
	int fd;

	if (!mail_queue_name_ok(queue)) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(queue, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if ((dir = fdopendir(fd)) == NULL) {
		int saved = errno;

		(void)close(fd);
		errno = saved;
		return NULL;
	}
	scan = xcalloc(1, sizeof(*scan));
	scan->dir[0] = dir;
	scan->level = 0;
	buf_init(&scan->path, 64);
	buf_puts(&scan->path, queue);
	buf_putc(&scan->path, '/');
	scan->plen[0] = scan->path.len;
	return scan;
}

static bool
mail_scan_hash_name(const char *name)
{
	static const char symbols[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";

	return name[0] != 0 && name[1] == 0
	    && strchr(symbols, name[0]) != NULL;
}

/* Enter subdirectory name of the current level; false to skip it. */
static bool
mail_scan_descend(struct mail_scan *scan, const char *name)
{
	DIR *dir;
	int fd, saved;

	fd = openat(dirfd(scan->dir[scan->level]), name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOTDIR && errno != ENOENT && errno != ELOOP)
			msg_warn("open directory %s%s: %s", scan->path.data,
			    name, strerror(errno));
		return false;
	}
	if ((dir = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		msg_warn("open directory %s%s: %s", scan->path.data, name,
		    strerror(saved));
		return false;
	}
	scan->level++;
	scan->dir[scan->level] = dir;
	buf_puts(&scan->path, name);
	buf_putc(&scan->path, '/');
	scan->plen[scan->level] = scan->path.len;
	return true;
}

const char *
mail_scan_next(struct mail_scan *scan)
{
	struct dirent *ent;
	const char *name;

	scan->id = NULL;
	while (scan->level >= 0) {
		buf_truncate(&scan->path, scan->plen[scan->level]);
		errno = 0;
		if ((ent = readdir(scan->dir[scan->level])) == NULL) {
			if (errno != 0)
				msg_warn("read directory %s: %s",
				    scan->path.data, strerror(errno));
			(void)closedir(scan->dir[scan->level]);
			scan->dir[scan->level] = NULL;
			scan->level--;
			continue;
		}
		name = ent->d_name;
		if (queue_id_valid(name)) {
			if (ent->d_type != DT_REG && ent->d_type != DT_UNKNOWN)
				continue;
			buf_puts(&scan->path, name);
			scan->id = scan->path.data + scan->plen[scan->level];
			return scan->id;
		}
		if (mail_scan_hash_name(name)
		    && scan->level < MAIL_SCAN_MAX_DEPTH
		    && (ent->d_type == DT_DIR || ent->d_type == DT_UNKNOWN))
			(void)mail_scan_descend(scan, name);
	}
	return NULL;
}

const char *
mail_scan_path(const struct mail_scan *scan)
{
	return scan->id ? scan->path.data : NULL;
}

void
mail_scan_close(struct mail_scan *scan)
{
	if (scan == NULL)
		return;
	while (scan->level >= 0) {
		(void)closedir(scan->dir[scan->level]);
		scan->level--;
	}
	buf_fini(&scan->path);
	free(scan);
}
