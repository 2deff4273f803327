/*
 * master_lock.c - one master per queue: the pid lock file
 *
 * A POSIX record lock (F_SETLK): children forked by master do not
 * inherit it, and F_GETLK tells others the owner's pid. master never
 * opens the file a second time (closing any descriptor of the file would
 * drop the lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "master_lock.h"

static void
master_lock_path(struct buf *path, const char *queue_dir)
{
	buf_reset(path);
	buf_printf(path, "%s/%s", queue_dir, MASTER_LOCK_FILE);
}

int
master_lock_acquire(const char *queue_dir, pid_t *owner)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct buf path, pid;
	int fd, saved;

	buf_init(&path, 64);
	master_lock_path(&path, queue_dir);
	fd = open(path.data, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	buf_fini(&path);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETLK, &lk) < 0) {
		saved = errno;
		if (saved == EAGAIN || saved == EACCES) {
			saved = EAGAIN;
			lk.l_type = F_WRLCK;
			lk.l_pid = 0;
			if (owner && fcntl(fd, F_GETLK, &lk) == 0)
				*owner = lk.l_type == F_UNLCK ? 0 : lk.l_pid;
		}
		close(fd);
		errno = saved;
		return -1;
	}
	buf_init(&pid, 16);
	buf_printf(&pid, "%10ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid.data, pid.len, 0)
	    != (ssize_t)pid.len) {
		saved = errno;
		buf_fini(&pid);
		close(fd);
		errno = saved;
		return -1;
	}
	buf_fini(&pid);
	return fd;
}

pid_t
master_lock_owner(const char *queue_dir)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct buf path;
	int fd, saved;

	buf_init(&path, 64);
	master_lock_path(&path, queue_dir);
	fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	buf_fini(&path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/*
	 * Ask about a read lock, which a read-only descriptor may place; the
	 * master's exclusive lock conflicts with it all the same.
	 */
	lk.l_type = F_RDLCK;
	if (fcntl(fd, F_GETLK, &lk) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return lk.l_type == F_UNLCK ? 0 : lk.l_pid;
}
