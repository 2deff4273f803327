/*
 * local_forward.c - local: a user's .forward file
 *
 * forward_path (default "$home/.forward${recipient_delimiter}${extension},
 * $home/.forward") is split at commas and white space, and each element
 * is expanded for the recipient (local_vars.c). The first file that
 * exists is read with the user's rights (root's as root) and used when
 *	- it is a regular file (symbolic links are followed: the checks
 *	  are on the file itself),
 *	- it is owned by the user or by root,
 *	- it is not writable by group or others,
 *	- it is at most LOCAL_LIST_FILE_LIMIT bytes;
 * otherwise it is ignored with a warning and the next one is looked at.
 * A file that holds no destination is ignored too (the mailbox gets the
 * mail). A file that cannot be read for another reason than not being
 * there (an I/O error, a home directory that is not reachable) defers
 * the recipient rather than deliver to the mailbox behind the user's
 * back.
 *
 * Its lines are destinations like an alias value (local_expand.c;
 * "#" starts a comment line), with the user's rights; "\user" is the
 * user's mailbox, as is the user's own name.
 *
 * SECURITY: the file is the user's; it is opened with the user's
 * effective rights (so it cannot be used to read what the user may not)
 * without blocking on a fifo, read with a size limit, and trusted only
 * as far as the checks above go.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "file.h"
#include "local.h"
#include "msg.h"

/* Read path as rights: 1 read, 0 absent or unusable (warned), -1 error. */
static int
local_forward_read(const char *path, const struct local_rights *user,
    const struct local_rights *rights, struct buf *text, struct buf *why)
{
	struct stat sb;
	ssize_t got;
	int fd, err, ret = -1;
	char chunk[8192];

	/* root's own .forward is read as root (it runs nothing as root). */
	if (user->root) {
		local_privs_root();
	} else if (local_privs_enter(rights) < 0) {
		buf_printf(why, "cannot switch to uid %lu: %s",
		    (unsigned long)rights->uid, strerror(errno));
		return -1;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		local_privs_leave();
		if (err == ENOENT || err == ENOTDIR)
			return 0;
		if (err == EACCES || err == ELOOP || err == ENAMETOOLONG) {
			msg_warn("cannot open %s as uid %lu: %s; ignored", path,
			    (unsigned long)rights->uid, strerror(err));
			return 0;
		}
		buf_printf(why, "cannot open %s: %s", path, strerror(err));
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		buf_printf(why, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
	if (!S_ISREG(sb.st_mode)) {
		msg_warn("file %s is not a regular file; ignored", path);
		goto out;
	}
	if (sb.st_uid != user->uid && sb.st_uid != 0) {
		msg_warn("file %s has bad owner uid %lu (expected %lu or 0); "
		    "ignored", path, (unsigned long)sb.st_uid,
		    (unsigned long)user->uid);
		goto out;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		msg_warn("file %s is group or world writable; ignored", path);
		goto out;
	}
	if (sb.st_size > LOCAL_LIST_FILE_LIMIT) {
		msg_warn("file %s is larger than %d bytes; ignored", path,
		    LOCAL_LIST_FILE_LIMIT);
		goto out;
	}
	while ((got = file_read_full(fd, chunk, sizeof(chunk))) > 0) {
		if (text->len + (size_t)got > LOCAL_LIST_FILE_LIMIT) {
			msg_warn("file %s is larger than %d bytes; ignored",
			    path, LOCAL_LIST_FILE_LIMIT);
			goto out;
		}
		buf_append(text, chunk, (size_t)got);
	}
	if (got < 0) {
		buf_printf(why, "cannot read %s: %s", path, strerror(errno));
		ret = -1;
		goto out;
	}
	ret = 1;
out:
	(void)close(fd);
	local_privs_leave();
	return ret;
}

/* Split forward_path at commas and blanks outside ${...}. */
static struct argv *
local_forward_split(const char *raw)
{
	struct argv *out = argv_new();
	const char *p = raw, *start = NULL;
	int nest = 0;

	for (;; p++) {
		bool sep = *p == 0 || (nest == 0 && strchr(", \t\r\n", *p));

		if (sep) {
			if (start != NULL)
				argv_addn(out, start, (size_t)(p - start));
			start = NULL;
			if (*p == 0)
				break;
			continue;
		}
		if (start == NULL)
			start = p;
		if (*p == '{' || *p == '(')
			nest++;
		else if ((*p == '}' || *p == ')') && nest > 0)
			nest--;
	}
	return out;
}

bool
local_forward(struct local_state *st, const struct local_rights *user)
{
	const struct local_rights *rights;
	struct argv *paths, *tried;
	struct buf path, text, why, from;
	bool handled = false;
	size_t i, j;
	int rc;

	paths = local_forward_split(local_vars_raw("forward_path"));
	tried = argv_new();
	buf_init(&path, 128);
	buf_init(&text, 512);
	buf_init(&why, 64);
	buf_init(&from, 64);
	for (i = 0; i < paths->argc && !handled; i++) {
		if (local_vars_expand(st, user, paths->argv[i], &path, &why)
		    < 0) {
			msg_warn("parameter forward_path: \"%s\": %s",
			    paths->argv[i], why.data);
			continue;
		}
		if (path.len == 0)
			continue;
		if (path.data[0] != '/') {
			msg_warn("parameter forward_path: \"%s\" is not an "
			    "absolute path; ignored", path.data);
			continue;
		}
		/* Without an extension both defaults name one file. */
		for (j = 0; j < tried->argc; j++)
			if (strcmp(tried->argv[j], path.data) == 0)
				break;
		if (j < tried->argc)
			continue;
		argv_add(tried, path.data);
		buf_reset(&text);
		buf_reset(&why);
		rights = local_privs_safe(user);
		rc = local_forward_read(path.data, user, rights, &text, &why);
		if (rc < 0) {
			msg_warn("%s: %s", st->dl->req->queue_id, why.data);
			local_statusf(st, DELIVER_DEFER, NULL, "4.3.0",
			    "%s", why.data);
			handled = true;
			break;
		}
		if (rc == 0)
			continue;
		buf_reset(&from);
		buf_printf(&from, "file %s", path.data);
		st->exp = LOCAL_EXP_FORWARD;
		st->rights = user;
		if (local_expand(st, text.data, text.len, from.data) > 0)
			handled = true;
		else
			msg_warn("file %s has no destinations; ignored",
			    path.data);
		st->rights = NULL;
	}
	argv_free(paths);
	argv_free(tried);
	buf_fini(&path);
	buf_fini(&text);
	buf_fini(&why);
	buf_fini(&from);
	return handled;
}
