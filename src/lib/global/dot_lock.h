/*
 * dot_lock.h - "<file>.lock" lock files, as mail readers expect
 *
 * Mail readers (mutt, mailx, Dovecot, procmail) agree on the lock of a
 * mailbox file by the existence of "<mailbox>.lock" beside it. The lock
 * is taken without O_EXCL semantics, which old NFS servers do not
 * honour: a uniquely named temporary file is created beside the mailbox,
 * link(2)ed to the lock name, and the lock is ours when the temporary
 * file's link count became 2 (the result of link() itself is not
 * trusted, as an NFS reply can be lost). The temporary file is then
 * removed.
 *
 * A lock held by someone else is tried again cfg->tries times,
 * cfg->delay_ms apart. A lock file whose status change time (ctime: it
 * cannot be set back with utime) is more than cfg->stale_sec seconds old
 * is considered left behind by a crashed program and removed, with a
 * warning, without counting as a try.
 *
 * Nothing here is fatal; the reason for a failure goes to why.
 */
#ifndef PETREL_DOT_LOCK_H
#define PETREL_DOT_LOCK_H

#include <sys/types.h>

#include "buf.h"

struct dot_lock_cfg {
	int tries;		/* attempts, at least 1 */
	unsigned delay_ms;	/* pause between attempts */
	long stale_sec;		/* older locks are removed; <= 0: never */
};

/* Postfix's defaults: 5 attempts a second apart, stale after 500s. */
#define DOT_LOCK_TRIES		5
#define DOT_LOCK_DELAY_MS	1000
#define DOT_LOCK_STALE_SEC	500
extern const struct dot_lock_cfg dot_lock_defaults;

/* A lock we hold; zero-initialise it (or use dot_lock_acquire()). */
struct dot_lock {
	char *path;		/* "<file>.lock"; NULL when not held */
	dev_t dev;		/* the lock file we created */
	ino_t ino;
};

#define DOT_LOCK_OK	0
#define DOT_LOCK_BUSY	(-1)	/* held by someone else after all tries */
#define DOT_LOCK_ERROR	(-2)	/* could not try (errno set): see below */

/*
 * Lock file (a mailbox path) by creating file.lock; cfg NULL means
 * dot_lock_defaults. Returns DOT_LOCK_OK with lk filled in, or
 *	DOT_LOCK_BUSY	the lock stayed held; why: "file /x.lock is held
 *			by another process" (a temporary condition)
 *	DOT_LOCK_ERROR	the lock could not be created at all, errno kept:
 *			EACCES/EPERM/EROFS when the directory is not
 *			writable for us (callers may go on without a dot
 *			lock, as Postfix does with a warning), ENAMETOOLONG,
 *			ENOENT (no such directory), ...; why names the file
 * lk is left unheld (path NULL) on failure.
 */
int dot_lock_acquire(struct dot_lock *lk, const char *file,
    const struct dot_lock_cfg *cfg, struct buf *why);

/*
 * Remove our lock file and free lk->path (a no-op when not held). The
 * file is removed only if it is still the one we created: if it was
 * removed as stale and someone else locked since, theirs is left alone.
 * Returns 0, or -1 with why (the lock was gone or replaced, or unlink
 * failed); lk is unheld either way.
 */
int dot_lock_release(struct dot_lock *lk, struct buf *why);

#endif
