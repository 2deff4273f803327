/*
 * dot_lock.c - "<file>.lock" lock files created with link(2)
 *
 * dot_lock_acquire(&lk, "/var/mail/joe", &cfg, why) creates
 * /var/mail/joe.lock, retrying while someone else holds it;
 * dot_lock_release(&lk, why) removes it. See dot_lock.h.
 *
 * How: a temporary file "<file>.lock.<pid>.<random>" is created with
 * O_EXCL beside the lock, then link(2)ed to the lock name. The lock is
 * ours when the temporary file's link count is 2 afterwards, whatever
 * link() said: on NFS the reply to a link that succeeded can be lost and
 * the retransmission fail with EEXIST, and O_EXCL itself is not atomic
 * on old NFS servers. The random part keeps two hosts sharing a spool
 * directory over NFS apart even when their process IDs agree. On a file
 * system without hard links (link() fails with EPERM, ENOSYS or
 * EOPNOTSUPP), the lock is created with O_EXCL directly instead.
 *
 * Stale locks: a lock whose ctime is more than stale_sec seconds in the
 * past is removed. Between the age check and unlink(2) the lock is
 * looked up again and must still be the same file (device and inode),
 * which narrows, but cannot close, the window in which two programs both
 * judge one lock stale and the second removes the lock the first just
 * took; all dot-locking programs share this limit. A delivery that holds
 * a lock longer than stale_sec (a huge message on a slow disk) can lose
 * it the same way; the fcntl lock taken as well still protects the
 * mailbox from programs that use both.
 *
 * Release removes the lock only if it is still the file we created, so
 * a lock taken over as stale is not removed from under its new owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dot_lock.h"
#include "mem.h"
#include "msg.h"
#include "timeutil.h"

const struct dot_lock_cfg dot_lock_defaults = {
	.tries = DOT_LOCK_TRIES,
	.delay_ms = DOT_LOCK_DELAY_MS,
	.stale_sec = DOT_LOCK_STALE_SEC,
};

/* How many temporary names we try before giving up (collisions). */
#define DOT_LOCK_TEMP_TRIES	8
/*
 * Retries that do not count as attempts (the lock vanished between
 * link() and lstat(), or we removed a stale one), bounded so that a
 * pathological race cannot keep us here.
 */
#define DOT_LOCK_FREE_RETRIES	16

/* The outcome of one attempt. */
enum dot_lock_try {
	DOT_TRY_LOCKED,			/* the lock is ours */
	DOT_TRY_HELD,			/* someone else has it */
	DOT_TRY_ERROR,			/* errno set */
};

/* Close without disturbing errno (error paths). */
static void
dot_lock_close_keep_errno(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
}

/* Create the unique temporary file; its name goes to tmp. */
static int
dot_lock_make_temp(struct buf *tmp, const char *lock)
{
	uint64_t rnd;
	int fd, i;

	for (i = 0; i < DOT_LOCK_TEMP_TRIES; i++) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK)
		    != (ssize_t)sizeof(rnd))
			rnd = time_now_us() * 2654435761u + (uint64_t)i;
		buf_reset(tmp);
		buf_printf(tmp, "%s.%ld.%016llx", lock, (long)getpid(),
		    (unsigned long long)rnd);
		fd = open(buf_str(tmp), O_WRONLY | O_CREAT | O_EXCL
		    | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (close(fd) < 0) {
				int saved = errno;

				(void)unlink(buf_str(tmp));
				errno = saved;
				return -1;
			}
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;				/* errno is EEXIST */
}

/* One attempt with the link trick; st receives our file on success. */
static enum dot_lock_try
dot_lock_try_link(const char *tmp, const char *lock, struct stat *st)
{
	int link_errno = 0;

	if (link(tmp, lock) < 0)
		link_errno = errno;
	if (stat(tmp, st) < 0)
		return DOT_TRY_ERROR;
	if (st->st_nlink == 2)
		return DOT_TRY_LOCKED;
	if (link_errno == 0 || link_errno == EEXIST)
		return DOT_TRY_HELD;
	errno = link_errno;
	return DOT_TRY_ERROR;
}

/* One attempt on a file system without hard links. */
static enum dot_lock_try
dot_lock_try_excl(const char *lock, struct stat *st)
{
	int fd;

	fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return errno == EEXIST ? DOT_TRY_HELD : DOT_TRY_ERROR;
	if (fstat(fd, st) < 0 || close(fd) < 0) {
		dot_lock_close_keep_errno(fd);
		(void)unlink(lock);
		return DOT_TRY_ERROR;
	}
	return DOT_TRY_LOCKED;
}

/*
 * The lock is held: remove it if it is stale. Returns true when the
 * caller should try again at once (removed, or already gone).
 */
static bool
dot_lock_reap(const char *lock, const struct dot_lock_cfg *cfg)
{
	struct stat st, again;
	struct timespec now;
	double age;

	if (lstat(lock, &st) < 0)
		return errno == ENOENT;
	if (cfg->stale_sec <= 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
		return false;
	age = (double)(now.tv_sec - st.st_ctim.tv_sec)
	    + (now.tv_nsec - st.st_ctim.tv_nsec) / 1e9;
	if (age <= (double)cfg->stale_sec)
		return false;
	if (lstat(lock, &again) < 0)
		return errno == ENOENT;
	if (again.st_dev != st.st_dev || again.st_ino != st.st_ino)
		return true;			/* replaced: look again */
	if (unlink(lock) < 0) {
		if (errno == ENOENT)
			return true;
		msg_warn("cannot remove stale lock file %s: %m", lock);
		return false;
	}
	msg_warn("removed stale lock file %s (%.0f seconds old)", lock, age);
	return true;
}

int
dot_lock_acquire(struct dot_lock *lk, const char *file,
    const struct dot_lock_cfg *cfg, struct buf *why)
{
	struct buf lock, tmp;
	struct stat st;
	enum dot_lock_try rc;
	bool use_link = true;
	int attempts = 0, free_retries = 0, ret = DOT_LOCK_ERROR;
	int saved;

	lk->path = NULL;
	if (cfg == NULL)
		cfg = &dot_lock_defaults;
	buf_init(&lock, 64);
	buf_init(&tmp, 96);
	buf_printf(&lock, "%s.lock", file);
	if (dot_lock_make_temp(&tmp, buf_str(&lock)) < 0) {
		saved = errno;
		buf_reset(why);
		buf_printf(why, "cannot create lock file %s: %s",
		    buf_str(&lock), strerror(saved));
		errno = saved;
		goto out;
	}
	for (;;) {
		if (use_link) {
			rc = dot_lock_try_link(buf_str(&tmp), buf_str(&lock),
			    &st);
			if (rc == DOT_TRY_ERROR && (errno == EPERM
			    || errno == ENOSYS || errno == EOPNOTSUPP)) {
				use_link = false;
				continue;
			}
		} else {
			rc = dot_lock_try_excl(buf_str(&lock), &st);
		}
		if (rc == DOT_TRY_LOCKED) {
			ret = DOT_LOCK_OK;
			break;
		}
		if (rc == DOT_TRY_ERROR) {
			saved = errno;
			buf_reset(why);
			buf_printf(why, "cannot create lock file %s: %s",
			    buf_str(&lock), strerror(saved));
			errno = saved;
			break;
		}
		if (free_retries < DOT_LOCK_FREE_RETRIES
		    && dot_lock_reap(buf_str(&lock), cfg)) {
			free_retries++;
			continue;
		}
		if (++attempts >= cfg->tries) {
			buf_reset(why);
			buf_printf(why, "lock file %s is held by another "
			    "process", buf_str(&lock));
			ret = DOT_LOCK_BUSY;
			break;
		}
		time_sleep_ms(cfg->delay_ms);
	}
	saved = errno;
	if (unlink(buf_str(&tmp)) < 0 && errno != ENOENT)
		msg_warn("cannot remove temporary lock file %s: %m",
		    buf_str(&tmp));
	errno = saved;
	if (ret == DOT_LOCK_OK) {
		lk->path = buf_steal(&lock);
		lk->dev = st.st_dev;
		lk->ino = st.st_ino;
	}
out:
	buf_fini(&tmp);
	buf_fini(&lock);		/* a no-op after buf_steal() */
	return ret;
}

int
dot_lock_release(struct dot_lock *lk, struct buf *why)
{
	struct stat st;
	int ret = -1;

	if (lk->path == NULL)
		return 0;
	if (lstat(lk->path, &st) < 0) {
		buf_reset(why);
		if (errno == ENOENT)
			buf_printf(why, "lock file %s was removed by "
			    "someone else", lk->path);
		else
			buf_printf(why, "lock file %s: %s", lk->path,
			    strerror(errno));
	} else if (st.st_dev != lk->dev || st.st_ino != lk->ino) {
		buf_reset(why);
		buf_printf(why, "lock file %s was replaced by another "
		    "process's (removed as stale?); left alone", lk->path);
	} else if (unlink(lk->path) < 0) {
		buf_reset(why);
		buf_printf(why, "cannot remove lock file %s: %s", lk->path,
		    strerror(errno));
	} else {
		ret = 0;
	}
	free(lk->path);
	lk->path = NULL;
	return ret;
}
