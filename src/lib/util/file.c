/*
 * file.c - safe file and descriptor operations
 *
 * file_open_safe() is the one way Petrel opens a file for writing in a
 * directory that someone else might write to (queue, mailboxes, logs).
 * file_write_atomic() replaces a small file (pid file, state) so that a
 * reader or a crash sees the old or the new content, never a mixture.
 * The rest are thin wrappers that retry on EINTR and short transfers.
 * Nothing here logs: errors go back as -1 with errno set.
 *
 * SECURITY: file_open_safe() defends against links planted by a local
 * user in a writable directory:
 *  - O_NOFOLLOW: a symbolic link as the last component fails (ELOOP);
 *  - an existing file must be a regular file with exactly one hard link,
 *    else -1 with errno EPERM (a hard link to /etc/passwd is a regular
 *    file, but its second link gives it away);
 *  - without O_CREAT|O_EXCL, the file is lstat()ed before and fstat()ed
 *    after open(2), then the name is lstat()ed once more after a barrier
 *    (see file_open_finish); a different device/inode means it was
 *    swapped in between, and the call fails with EPERM;
 *  - O_TRUNC is applied with ftruncate(2) only after those checks, so a
 *    swapped-in file is never truncated;
 *  - the open itself uses O_NONBLOCK, so a FIFO swapped in after lstat()
 *    cannot block us (the flag is cleared again unless asked for);
 *  - O_CREAT on a missing file becomes O_CREAT|O_EXCL, so the file we
 *    get is the one we created (a racing creator makes us start over;
 *    after FILE_OPEN_TRIES lost races the call fails with EAGAIN).
 * Other errno values come from the system calls (ENOENT, EACCES, ...).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"

/* How often file_open_safe() starts over when it loses a creation race. */
#define FILE_OPEN_TRIES		8
/* How many temporary names file_write_atomic() tries. */
#define FILE_TEMP_TRIES		64
/* Read chunk for files of unknown size (pipes, /proc). */
#define FILE_READ_CHUNK		8192

static bool
file_stat_ok(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1;
}

/* Close fd without disturbing errno (error paths). */
static void
file_close_keep_errno(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
}

/*
 * Check a descriptor we just opened, then apply the deferred O_TRUNC and
 * O_NONBLOCK changes. Returns fd, or -1 (fd closed) with errno set.
 * before is the lstat() result for a file that existed, NULL for a file
 * we created with O_EXCL.
 */
static int
file_open_finish(const char *path, int fd, int flags,
    const struct stat *before, struct stat *st)
{
	struct stat fst, again;

	if (fstat(fd, &fst) < 0)
		goto fail;
	if (!file_stat_ok(&fst) || (before != NULL
	    && (fst.st_dev != before->st_dev
	    || fst.st_ino != before->st_ino))) {
		errno = EPERM;
		goto fail;
	}
	/*
	 * While rename(2) replaces a hard link, Linux drops the old inode's
	 * link count before the name stops resolving to it, so the checks
	 * above can pass for a file that was linked elsewhere a moment ago
	 * (the unit test catches this on ext4). Renaming the name onto
	 * itself with RENAME_NOREPLACE changes nothing (it fails with
	 * EEXIST, or ENOENT) but takes the directory lock that a rename in
	 * progress holds, so once it returns any such rename is complete
	 * and a fresh lstat() shows where the name really leads.
	 */
	if (before != NULL) {
		(void)renameat2(AT_FDCWD, path, AT_FDCWD, path,
		    RENAME_NOREPLACE);
		if (lstat(path, &again) < 0)
			goto fail;
		if (!file_stat_ok(&again) || again.st_dev != fst.st_dev
		    || again.st_ino != fst.st_ino) {
			errno = EPERM;
			goto fail;
		}
	}
	if ((flags & O_NONBLOCK) == 0 && fd_set_nonblock(fd, false) < 0)
		goto fail;
	if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY
	    && fst.st_size != 0) {
		if (ftruncate(fd, 0) < 0 || fstat(fd, &fst) < 0)
			goto fail;
	}
	if (st)
		*st = fst;
	return fd;
fail:
	file_close_keep_errno(fd);
	return -1;
}

int
file_open_safe(const char *path, int flags, mode_t mode, struct stat *st)
{
	struct stat lst;
	int fd, tries, oflags;

	oflags = (flags & ~O_TRUNC) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
	    | O_NOCTTY;

	/* The caller insists on a new file: nothing can be planted. */
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
		if ((fd = open(path, oflags, mode)) < 0)
			return -1;
		return file_open_finish(path, fd, flags, NULL, st);
	}
	for (tries = 0; tries < FILE_OPEN_TRIES; tries++) {
		if (lstat(path, &lst) == 0) {
			if (S_ISLNK(lst.st_mode)) {
				errno = ELOOP;	/* what O_NOFOLLOW says */
				return -1;
			}
			if (!file_stat_ok(&lst)) {
				errno = EPERM;
				return -1;
			}
			/* Never create here: the file we checked must exist. */
			if ((fd = open(path, oflags & ~O_CREAT)) < 0)
				return -1;
			return file_open_finish(path, fd, flags, &lst, st);
		}
		if (errno != ENOENT || (flags & O_CREAT) == 0)
			return -1;
		fd = open(path, oflags | O_EXCL, mode);
		if (fd >= 0)
			return file_open_finish(path, fd, flags, NULL, st);
		if (errno != EEXIST)
			return -1;
		/* Someone created it after our lstat(); look again. */
	}
	errno = EAGAIN;
	return -1;
}

int
file_write_all(int fd, const void *data, size_t len)
{
	const char *cp = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, cp, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;	/* no progress; do not spin */
			return -1;
		}
		cp += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t
file_read_full(int fd, void *data, size_t len)
{
	char *cp = data;
	size_t done = 0;
	ssize_t n;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		n = read(fd, cp + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/*
 * file_read() follows symbolic links and accepts hard links: it is for
 * reading configuration and tables, which administrators often keep
 * behind links. It refuses directories (EISDIR). On any failure out is
 * restored to its original length.
 */
int
file_read(const char *path, struct buf *out, size_t limit)
{
	size_t start = out->len, got = 0, want;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (;;) {
		/*
		 * Ask for one byte more than the limit allows, so that a
		 * file of exactly limit bytes is accepted and a longer one
		 * is detected without reading it all.
		 */
		want = FILE_READ_CHUNK;
		if (S_ISREG(st.st_mode) && st.st_size > 0
		    && (uintmax_t)st.st_size >= got
		    && (uintmax_t)st.st_size - got < SIZE_MAX - 1)
			want = (size_t)st.st_size - got + 1;
		if (want - 1 > limit - got)	/* got <= limit here */
			want = limit - got + 1;
		buf_reserve(out, want);
		n = read(fd, out->data + out->len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = 0;
		got += (size_t)n;
		if (got > limit) {
			errno = EFBIG;
			goto fail;
		}
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		file_close_keep_errno(fd);
	buf_truncate(out, start);
	return -1;
}

int
file_fsync(int fd)
{
	return fsync(fd);
}

int
file_sync_dir(const char *path)
{
	struct buf dir;
	struct stat st;
	int fd, ret = -1;

	buf_init(&dir, 64);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		buf_set(&dir, path);
	else
		file_dirname(&dir, path);
	fd = open(buf_str(&dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	/*
	 * Some file systems cannot fsync a directory and say EINVAL; there
	 * is nothing more we could do there, so that counts as done.
	 */
	if (fsync(fd) < 0 && errno != EINVAL) {
		file_close_keep_errno(fd);
		goto out;
	}
	if (close(fd) < 0)
		goto out;
	ret = 0;
out:
	buf_fini(&dir);
	return ret;
}

int
file_rename_sync(const char *from, const char *to)
{
	if (rename(from, to) < 0)
		return -1;
	return file_sync_dir(to);
}

/*
 * Create a temporary file beside path, named "<path>.tmp.<pid>.<random>",
 * with O_EXCL so that nothing pre-existing (or planted) is reused.
 */
static int
file_temp_open(const char *path, mode_t mode, struct buf *name)
{
	uint32_t rnd;
	int fd, tries;

	for (tries = 0; tries < FILE_TEMP_TRIES; tries++) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK)
		    != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)random() ^ (uint32_t)tries;
		buf_reset(name);
		buf_printf(name, "%s.tmp.%ld.%08x", path, (long)getpid(),
		    (unsigned)rnd);
		fd = open(buf_str(name), O_WRONLY | O_CREAT | O_EXCL
		    | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/*
 * The temporary file is created with mode (less the umask, as with
 * open(2)); on any failure it is removed and the target is untouched.
 */
int
file_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode)
{
	struct buf tmp;
	int fd, ret = -1, saved;

	buf_init(&tmp, 64);
	if ((fd = file_temp_open(path, mode, &tmp)) < 0)
		goto out;
	if (file_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		file_close_keep_errno(fd);
		goto unlink;
	}
	if (close(fd) < 0 || file_rename_sync(buf_str(&tmp), path) < 0)
		goto unlink;
	ret = 0;
	goto out;
unlink:
	/* After a failed rename the temp file is still there; remove it. */
	saved = errno;
	(void)unlink(buf_str(&tmp));
	errno = saved;
out:
	buf_fini(&tmp);
	return ret;
}

int
file_mkdir_p(const char *path, mode_t mode)
{
	struct buf dir;
	struct stat st;
	char *cp;
	int ret = -1;

	if (*path == 0) {
		errno = ENOENT;
		return -1;
	}
	buf_init(&dir, 64);
	buf_set(&dir, path);
	/* Walk the components; each prefix is made a directory in turn. */
	for (cp = dir.data + 1;; cp++) {
		if (*cp != '/' && *cp != 0)
			continue;
		if (cp[-1] != '/') {
			char saved = *cp;

			*cp = 0;
			if (mkdir(dir.data, mode) < 0) {
				if (errno != EEXIST)
					goto out;
				if (stat(dir.data, &st) < 0)
					goto out;
				if (!S_ISDIR(st.st_mode)) {
					errno = ENOTDIR;
					goto out;
				}
			}
			*cp = saved;
		}
		if (*cp == 0)
			break;
	}
	ret = 0;
out:
	buf_fini(&dir);
	return ret;
}

int
fd_set_cloexec(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags) < 0 ? -1 : 0;
}

int
fd_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) < 0 ? -1 : 0;
}

/*
 * POSIX dirname(3) semantics, without modifying path: "/a/b" -> "/a",
 * "a/b/" -> "a", "a" -> ".", "/" -> "/", "//a" -> "/". Replaces the
 * content of out.
 */
void
file_dirname(struct buf *out, const char *path)
{
	size_t len = strlen(path);

	/* Drop trailing slashes (but keep a lone "/"). */
	while (len > 1 && path[len - 1] == '/')
		len--;
	/* Drop the last component. */
	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len == 0) {
		buf_set(out, ".");
		return;
	}
	/* Drop the slashes that separated it. */
	while (len > 1 && path[len - 1] == '/')
		len--;
	buf_setn(out, path, len);
}
