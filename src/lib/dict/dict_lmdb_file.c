/*
 * dict_lmdb_file.c - lmdb: tables: the new files of builds and thaws
 *
 * lmdb_temp_file() creates the new file of a build (lmdb_open_new() in
 * dict_lmdb.c) or of a thaw (dict_lmdb_write.c), first removing those
 * that dead writers left; lmdb_commit_rename() puts a build in place at
 * dict_commit(). How a rename replaces the table, and under which
 * locks, is at the top of dict_lmdb_write.c. The declarations are in
 * dict_lmdb_impl.h.
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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "dict_lmdb_impl.h"
#include "mem.h"
#include "msg.h"

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
int
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
int
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
