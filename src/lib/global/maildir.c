/*
 * maildir.c - deliver one message into a Maildir
 *
 * maildir_deliver(dir, opts, msg, name, why) is described in maildir.h:
 * write dir/tmp/<unique>, fsync, link to dir/new/<unique>, fsync
 * dir/new, remove the tmp/ name. The writing itself is mbox_write_msg()
 * without the mbox framing, so both mailbox formats see the same header
 * and line handling.
 *
 * The directories are not checked or created on every delivery: the
 * tmp/ file is created first, and only when that fails with ENOENT are
 * dir/tmp, dir/new and dir/cur made (with their parents, mode 0700) and
 * the creation tried again; likewise for a missing new/ at link time.
 * This saves three system calls per message on the common path.
 *
 * Guarantees (a reader only ever looks in new/ and cur/):
 *	- a file appears in new/ by link(2) or rename(2) of a complete,
 *	  fsync(2)ed file, so a reader sees the whole message or nothing;
 *	- MBOX_OK is returned only after the new/ directory was fsync(2)ed,
 *	  so the caller may then mark the recipient done in the queue file;
 *	- on any failure that we see, the files we made are removed from
 *	  tmp/ and new/ (a failed fsync of new/ removes the new/ name too:
 *	  the delivery is retried, so keeping it would risk a duplicate);
 *	- a crash before the link leaves at most a file in tmp/ (readers
 *	  remove those after 36 hours, as the Maildir specification says)
 *	  and the message is delivered again; a crash after the link but
 *	  before the caller marked the recipient done delivers it twice.
 *	  Nothing is lost.
 *
 * SECURITY: message lines are outside data, written as they are (any
 * byte). The tmp/ file is created with O_EXCL|O_NOFOLLOW, so nothing
 * planted in tmp/ is followed or reused, and link(2) never replaces an
 * existing name in new/ (the rename(2) fallback uses RENAME_NOREPLACE
 * where the file system supports it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "maildir.h"
#include "mbox.h"
#include "mem.h"
#include "msg.h"

/* How many names we try when one is taken already (clock trouble). */
#define MAILDIR_NAME_TRIES	8

/* Deliveries by this process, for unique names within a microsecond. */
static unsigned long maildir_counter;

/* The host name, escaped for a file name; computed once. */
static char *maildir_host;

/* Append host to out with '/' as "\057" and ':' as "\072". */
static void
maildir_escape_host(struct buf *out, const char *host)
{
	const char *cp;

	for (cp = host; *cp != 0; cp++) {
		if (*cp == '/')
			buf_puts(out, "\\057");
		else if (*cp == ':')
			buf_puts(out, "\\072");
		else
			buf_putc(out, *cp);
	}
}

/* gethostname(), growing the buffer until the name fits. */
static const char *
maildir_hostname(void)
{
	struct buf esc;
	char *host = NULL;
	size_t size;

	if (maildir_host != NULL)
		return maildir_host;
	for (size = 256;; size *= 2) {
		host = xrealloc(host, size);
		errno = 0;
		if (gethostname(host, size) == 0
		    && memchr(host, 0, size) != NULL)
			break;
		if ((errno != 0 && errno != ENAMETOOLONG) || size >= 65536) {
			host[0] = 0;
			break;
		}
	}
	buf_init(&esc, 64);
	maildir_escape_host(&esc, host[0] ? host : "localhost");
	free(host);
	maildir_host = buf_steal(&esc);
	return maildir_host;
}

/* Make dir/tmp, dir/new and dir/cur (and parents). */
static int
maildir_make_dirs(const char *dir)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	struct buf path;
	size_t i;
	int ret = 0;

	buf_init(&path, 64);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]) && ret == 0; i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir, subs[i]);
		ret = file_mkdir_p(buf_str(&path), 0700);
	}
	buf_fini(&path);
	return ret;
}

/*
 * Create dir/tmp/<unique>; the unique part goes to uniq, the tmp/ path
 * to tmp. Returns the descriptor, or -1 with errno.
 */
static int
maildir_create(const char *dir, const struct maildir_opts *opts,
    struct buf *uniq, struct buf *tmp)
{
	struct timespec now;
	bool made_dirs = false;
	mode_t mode = opts->mode ? opts->mode : 0600;
	int fd, tries = 0;

	for (;;) {
		if (clock_gettime(CLOCK_REALTIME, &now) < 0)
			return -1;
		buf_reset(uniq);
		buf_printf(uniq, "%lld.M%ldP%ldQ%lu.", (long long)now.tv_sec,
		    now.tv_nsec / 1000, (long)getpid(), ++maildir_counter);
		if (opts->hostname != NULL)
			maildir_escape_host(uniq, opts->hostname);
		else
			buf_puts(uniq, maildir_hostname());
		buf_reset(tmp);
		buf_printf(tmp, "%s/tmp/%s", dir, buf_str(uniq));
		/*
		 * O_EXCL: the name is new, so nothing planted can be
		 * followed or reused; file_open_safe()'s checks add nothing.
		 */
		fd = open(buf_str(tmp), O_WRONLY | O_CREAT | O_EXCL
		    | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
		if (fd >= 0)
			return fd;
		if (errno == ENOENT && !made_dirs) {
			made_dirs = true;
			if (maildir_make_dirs(dir) < 0)
				return -1;
			continue;
		}
		if (errno != EEXIST || ++tries >= MAILDIR_NAME_TRIES)
			return -1;
	}
}

/*
 * Give the tmp/ file its new/ name without replacing anything there.
 * Returns 0, or -1 with errno.
 */
static int
maildir_link(const char *dir, const char *tmp, const char *new)
{
	bool made_dirs = false;

	for (;;) {
		if (link(tmp, new) == 0) {
			if (unlink(tmp) < 0)
				msg_warn("cannot remove %s after delivery to "
				    "%s: %m", tmp, new);
			return 0;
		}
		if (errno == ENOENT && !made_dirs) {
			made_dirs = true;
			if (maildir_make_dirs(dir) < 0)
				return -1;
			continue;
		}
		if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP)
			return -1;
		/* No hard links here (some FUSE and network file systems). */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, new, RENAME_NOREPLACE)
		    == 0)
			return 0;
		if (errno != EINVAL)
			return -1;
		if (access(new, F_OK) == 0) {
			errno = EEXIST;
			return -1;
		}
		return rename(tmp, new);
	}
}

int
maildir_deliver(const char *dir, const struct maildir_opts *opts,
    const struct mbox_msg *msg, struct buf *name, struct buf *why)
{
	static const struct maildir_opts defaults;
	struct buf base, uniq, tmp, new;
	off_t room = -1;
	size_t len;
	int fd = -1, ret = MBOX_TEMP, err;
	bool in_new = false;

	if (opts == NULL)
		opts = &defaults;
	if (opts->size_limit > 0)
		room = opts->size_limit;
	buf_reset(why);
	buf_init(&base, 64);
	buf_init(&uniq, 64);
	buf_init(&tmp, 128);
	buf_init(&new, 128);
	/* "Maildir/" and "Maildir" are the same; "/" stays "/". */
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	buf_setn(&base, dir, len);
	if (len == 0) {
		ret = mbox_fail_errno(why, ENOENT, "bad maildir name \"\"");
		goto out;
	}
	if ((fd = maildir_create(buf_str(&base), opts, &uniq, &tmp)) < 0) {
		buf_reset(&tmp);	/* not ours to remove */
		ret = mbox_fail_errno(why, errno, "cannot create file in "
		    "maildir %s/tmp", buf_str(&base));
		goto out;
	}
	buf_printf(&new, "%s/new/%s", buf_str(&base), buf_str(&uniq));
	ret = mbox_write_msg(fd, buf_str(&tmp), NULL, room, false, msg, why);
	err = close(fd);
	fd = -1;
	if (ret != MBOX_OK)
		goto out;
	if (err < 0) {
		ret = mbox_fail_errno(why, errno, "cannot close %s",
		    buf_str(&tmp));
		goto out;
	}
	if (maildir_link(buf_str(&base), buf_str(&tmp), buf_str(&new)) < 0) {
		ret = mbox_fail_errno(why, errno, "cannot move %s to %s",
		    buf_str(&tmp), buf_str(&new));
		goto out;
	}
	buf_reset(&tmp);		/* gone (unlinked or renamed) */
	in_new = true;
	if (file_sync_dir(buf_str(&new)) < 0) {
		ret = mbox_fail_errno(why, errno, "cannot sync maildir %s/new",
		    buf_str(&base));
		goto out;
	}
	if (name != NULL)
		buf_set(name, buf_str(&new));
	ret = MBOX_OK;
out:
	if (ret != MBOX_OK) {
		/* Leave nothing behind; errors here change nothing more. */
		if (tmp.len > 0 && unlink(buf_str(&tmp)) < 0
		    && errno != ENOENT)
			msg_warn("cannot remove %s: %m", buf_str(&tmp));
		if (in_new && unlink(buf_str(&new)) < 0 && errno != ENOENT)
			msg_warn("cannot remove %s: %m", buf_str(&new));
	}
	buf_fini(&base);
	buf_fini(&uniq);
	buf_fini(&tmp);
	buf_fini(&new);
	return ret;
}
