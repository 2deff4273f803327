/*
 * local_mailbox.c - local: deliver to a user's mailbox
 *
 * local_mailbox() is the last step for a user in the password file
 * (mailbox_transport has been looked at already, local.c):
 *
 *	mailbox_command		run (unexpanded, /bin/sh -c) with the
 *				user's rights, local_command.c
 *	home_mailbox		relative to the home directory: a Maildir
 *				when it ends in '/' ("Maildir/"), else an
 *				mbox file
 *	otherwise		mail_spool_directory/<user> (an mbox file;
 *				a Maildir when mail_spool_directory ends
 *				in '/')
 *
 * Files are written with the user's effective rights (local_privs.c),
 * so quotas and permissions are the user's. For the spool mbox a root
 * local first creates a missing mailbox itself (O_EXCL, no symbolic
 * link followed) and gives it to the user, as spool directories are
 * usually not writable by users. mbox files are locked with fcntl(2)
 * and, when mailbox_delivery_lock says dotlock, a "<file>.lock" (a lock
 * directory we may not write into is not an error: fcntl alone then),
 * retried deliver_lock_attempts times deliver_lock_delay apart, stale
 * after stale_lock_time. mailbox_size_limit bounds an mbox file and
 * each Maildir message.
 *
 * A mailbox owned by someone else than the recipient is a temporary
 * failure with strict_mailbox_ownership (the administrator has to look
 * at it), and used as it is otherwise.
 *
 * root: the password entry of uid 0 gets default_privs rights (see
 * local_user()), so its mail is never written as root; with a spool
 * mailbox owned by root that defers, and root's mail needs an alias.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "local.h"
#include "maildir.h"
#include "mbox.h"
#include "mem.h"
#include "msg.h"
#include "params.h"

void
local_rights_fini(struct local_rights *r)
{
	free(r->name);
	free(r->home);
	free(r->shell);
	r->name = r->home = r->shell = NULL;
}

void
local_rights_copy(struct local_rights *dst, const struct local_rights *src)
{
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->root = src->root;
	dst->name = xstrdup(src->name);
	dst->home = xstrdup(src->home);
	dst->shell = xstrdup(src->shell);
}

int
local_user(const char *name, struct local_rights *r, struct buf *why)
{
	struct passwd *pw;

	if (*name == 0 || strchr(name, '/') != NULL)
		return 0;
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		/* getpwnam(3): these mean "no such user" too. */
		if (errno == 0 || errno == ENOENT || errno == ESRCH
		    || errno == EBADF || errno == EPERM)
			return 0;
		buf_printf(why, "%s", strerror(errno));
		return -1;
	}
	r->uid = pw->pw_uid;
	r->gid = pw->pw_gid;
	r->name = xstrdup(pw->pw_name);
	r->home = xstrdup(pw->pw_dir != NULL ? pw->pw_dir : "/");
	r->shell = xstrdup(pw->pw_shell != NULL ? pw->pw_shell : "");
	r->root = false;
	if (r->uid == 0 && local_default_privs.name != NULL) {
		r->uid = local_default_privs.uid;
		r->gid = local_default_privs.gid;
		r->root = true;
	}
	return 1;
}

/* The dot lock and retry settings from main.cf. */
static struct dot_lock_cfg
local_lock_cfg(void)
{
	struct dot_lock_cfg cfg = {
		.tries = var_deliver_lock_attempts,
		.delay_ms = (unsigned)var_deliver_lock_delay * 1000U,
		.stale_sec = var_stale_lock_time,
	};

	return cfg;
}

/* Report what a mailbox writer returned. */
static void
local_mailbox_result(struct local_state *st, int rc, const char *to,
    const char *what, const struct buf *why)
{
	switch (rc) {
	case MBOX_OK:
		local_statusf(st, DELIVER_SENT, to, "2.0.0",
		    "delivered to %s", what);
		break;
	case MBOX_PERM:
		local_status(st, DELIVER_BOUNCE, to, "5.2.0", why->data);
		break;
	case MBOX_SRC_ERROR:
		msg_warn("%s: %s", st->dl->req->queue_id, why->data);
		/* FALLTHROUGH */
	default:
		local_status(st, DELIVER_DEFER, to, "4.2.0", why->data);
		break;
	}
}

void
local_maildir(struct local_state *st, const char *dir,
    const struct local_rights *rights, const char *to)
{
	struct maildir_opts opts = {
		.mode = 0600,
		.size_limit = var_mailbox_size_limit,
		.hostname = var_myhostname,
	};
	struct mbox_msg msg = {
		.sender = local_msg_sender(st->dl->req),
		.next = local_msg_next,
	};
	struct local_src *src;
	struct buf why;
	char **headers;
	int rc;

	buf_init(&why, 128);
	headers = local_msg_headers(st, 0);
	msg.headers = (const char *const *)headers;
	msg.ctx = src = local_msg_open(st->dl->req);
	if (local_privs_enter(rights) < 0) {
		(void)mbox_fail_errno(&why, errno, "cannot switch to uid %lu",
		    (unsigned long)rights->uid);
		rc = MBOX_TEMP;
	} else {
		rc = maildir_deliver(dir, &opts, &msg, NULL, &why);
		local_privs_leave();
	}
	local_mailbox_result(st, rc, to, "maildir", &why);
	local_msg_close(src);
	local_msg_headers_free(headers);
	buf_fini(&why);
}

/*
 * As root, create a missing spool mailbox for rights (a directory that
 * users cannot write to is common). MBOX_OK also when it exists or
 * cannot be made: the delivery as the user then says why.
 */
static int
local_mbox_create(const char *path, const struct local_rights *rights,
    struct buf *why)
{
	int fd, err = 0;

	local_privs_root();
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
	    | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd >= 0) {
		if (fchown(fd, rights->uid, rights->gid) < 0)
			err = errno;
		if (close(fd) < 0 && err == 0)
			err = errno;
		if (err != 0)
			(void)unlink(path);
	}
	local_privs_leave();
	if (err != 0)
		return mbox_fail_errno(why, err, "cannot create mailbox %s",
		    path);
	return MBOX_OK;
}

/*
 * Append to an mbox file as rights. spool: the file is in
 * mail_spool_directory (a root local creates it first).
 */
static void
local_mbox(struct local_state *st, const char *path,
    const struct local_rights *rights, bool spool)
{
	struct dot_lock_cfg cfg = local_lock_cfg();
	struct mbox_opts opts = {
		.mode = 0600,
		.uid = rights->uid,
		.gid = rights->gid,
		.size_limit = var_mailbox_size_limit,
		.lock = &cfg,
	};
	struct mbox_msg msg = {
		.sender = local_msg_sender(st->dl->req),
		.next = local_msg_next,
	};
	struct local_src *src = NULL;
	char **headers = NULL;
	struct stat sb;
	struct buf why;
	int rc;

	buf_init(&why, 128);
	if (local_dot_lock)
		opts.flags |= MBOX_FLAG_DOT_LOCK | MBOX_FLAG_DOT_LOCK_MAY_FAIL;

	/* A root local makes the spool file, as users cannot. */
	if (spool && local_root
	    && (rc = local_mbox_create(path, rights, &why)) != MBOX_OK) {
		local_mailbox_result(st, rc, NULL, "mailbox", &why);
		goto out;
	}

	if (local_privs_enter(rights) < 0) {
		(void)mbox_fail_errno(&why, errno, "cannot switch to uid %lu",
		    (unsigned long)rights->uid);
		local_mailbox_result(st, MBOX_TEMP, NULL, "mailbox",
		    &why);
		goto out;
	}
	/* Ownership: the recipient's, or the administrator decides. */
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)
	    && sb.st_uid != rights->uid) {
		if (var_strict_mailbox_ownership) {
			local_privs_leave();
			msg_warn("specify \"strict_mailbox_ownership = no\" to "
			    "ignore mailbox ownership mismatch");
			local_statusf(st, DELIVER_DEFER, NULL, "4.2.0",
			    "destination %s is not owned by recipient", path);
			goto out;
		}
	} else {
		opts.flags |= MBOX_FLAG_OWNER;
	}
	headers = local_msg_headers(st, 0);
	msg.headers = (const char *const *)headers;
	msg.ctx = src = local_msg_open(st->dl->req);
	rc = mbox_deliver(path, &opts, &msg, &why);
	local_privs_leave();
	local_mailbox_result(st, rc, NULL, "mailbox", &why);

out:
	local_msg_close(src);
	local_msg_headers_free(headers);
	buf_fini(&why);
}

void
local_mailbox(struct local_state *st, const struct local_rights *user)
{
	const char *command = local_vars_raw("mailbox_command");
	const struct local_rights *rights = local_privs_safe(user);
	struct buf path;
	size_t len;

	if (*command != 0) {
		local_command(st, command, rights, LOCAL_CLASS_COMMAND, NULL);
		return;
	}
	buf_init(&path, 128);
	if (*var_home_mailbox != 0) {
		if (var_home_mailbox[0] == '/') {
			msg_warn("parameter home_mailbox: \"%s\" must be "
			    "relative to the home directory",
			    var_home_mailbox);
			local_statusf(st, DELIVER_DEFER, NULL, "4.3.5",
			    "mail system configuration error");
			goto out;
		}
		buf_printf(&path, "%s/%s", user->home, var_home_mailbox);
		len = strlen(var_home_mailbox);
		if (var_home_mailbox[len - 1] == '/')
			local_maildir(st, path.data, rights, NULL);
		else
			local_mbox(st, path.data, rights, false);
	} else {
		len = strlen(var_mail_spool_directory);
		if (len == 0) {
			local_statusf(st, DELIVER_DEFER, NULL, "4.3.5",
			    "mail system configuration error: no "
			    "mail_spool_directory");
			goto out;
		}
		if (var_mail_spool_directory[len - 1] == '/') {
			buf_printf(&path, "%s%s/", var_mail_spool_directory,
			    user->name);
			local_maildir(st, path.data, rights, NULL);
		} else {
			buf_printf(&path, "%s/%s", var_mail_spool_directory,
			    user->name);
			local_mbox(st, path.data, rights, true);
		}
	}
out:
	buf_fini(&path);
}
