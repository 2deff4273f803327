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
 * so quotas and permissions are the user's; root's mailbox is written
 * as root (local_privs_mailbox()), while a mailbox_command for root
 * runs with default_privs' IDs. mbox files are locked with fcntl(2)
 * and, when mailbox_delivery_lock says dotlock, a "<file>.lock",
 * retried deliver_lock_attempts times deliver_lock_delay apart, stale
 * after stale_lock_time. mailbox_size_limit bounds an mbox file and
 * each Maildir message.
 *
 * Spool directories are seldom writable by users, so, as Postfix does,
 * a root local creates the lock file and a missing spool mailbox with
 * the rights that can write there (local_spool_rights()): the user's
 * when the directory is world-writable (1777), the user's uid with the
 * directory's group when it is group-writable (2775 root:mail), root
 * otherwise (755 root; the new mailbox is then given to the user). The
 * message itself is always written with the user's rights, and the
 * lock is removed with the rights that made it. Elsewhere (home_mailbox,
 * an unprivileged instance) everything is done as the user, and a lock
 * directory we may not write into is not an error: fcntl alone then.
 *
 * A mailbox owned by someone else than the recipient is a temporary
 * failure with strict_mailbox_ownership (the administrator has to look
 * at it), and used as it is otherwise.
 *
 * SECURITY: with more rights than the user's, only the lock file is
 * made and removed (dot_lock.c: O_EXCL, link(2), unlink(2) of the lock
 * or of a stale one) and a missing mailbox created with O_EXCL; no
 * symbolic link is followed, and the rights are dropped right after.
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
	r->root = r->uid == 0;
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
	if (local_privs_enter_mailbox(rights) < 0) {
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
 * Whose rights make the lock file and a missing mailbox in
 * mail_spool_directory, when they are not the recipient's own.
 */
struct local_spool {
	bool special;		/* false: all is done as the recipient */
	uid_t uid;		/* the recipient's, or root */
	gid_t gid;		/* the directory's group, or root's */
	bool give;		/* a new mailbox goes to the recipient */
};

/*
 * As Postfix: a spool directory that everyone may write to (1777) is
 * written as the recipient; a group-writable one (Debian's 2775
 * root:mail) with the recipient's uid and the directory's group; any
 * other (755 root) as root, who gives a new mailbox to the recipient.
 * Only a root local can switch, and root's own mailbox is root's anyway.
 */
static void
local_spool_rights(const struct local_rights *rights, struct local_spool *sp)
{
	struct stat sb;

	sp->special = false;
	if (!local_root || rights->uid == 0
	    || stat(var_mail_spool_directory, &sb) < 0 || !S_ISDIR(sb.st_mode)
	    || (sb.st_mode & S_IWOTH) != 0)
		return;
	sp->special = true;
	if ((sb.st_mode & S_IWGRP) != 0 && sb.st_gid != 0) {
		sp->uid = rights->uid;
		sp->gid = sb.st_gid;
		sp->give = false;	/* it is the recipient's already */
	} else {
		sp->uid = 0;
		sp->gid = 0;
		sp->give = true;
	}
}

/*
 * With the spool directory's rights (sp): take the dot lock when
 * mailbox_delivery_lock asks for it, and create a missing mailbox (no
 * symbolic link followed) for rights. Back to mail_owner afterwards.
 * Returns MBOX_OK (lk holds the lock, if any), or a failure with why
 * and no lock held. A mailbox that cannot be created is not a failure
 * here: the delivery as the recipient then says why.
 */
static int
local_spool_prepare(const char *path, const struct local_rights *rights,
    const struct local_spool *sp, const struct dot_lock_cfg *cfg,
    struct dot_lock *lk, struct buf *why)
{
	struct buf reason;
	int fd, rc, err, ret = MBOX_OK;

	if (local_privs_enter_ids(sp->uid, sp->gid) < 0)
		return mbox_fail_errno(why, errno, "cannot switch to uid %lu "
		    "gid %lu", (unsigned long)sp->uid, (unsigned long)sp->gid);
	if (local_dot_lock) {
		buf_init(&reason, 64);
		rc = dot_lock_acquire(lk, path, cfg, &reason);
		err = errno;
		if (rc == DOT_LOCK_BUSY) {
			buf_reset(why);
			buf_printf(why, "4.2.0 cannot lock mailbox %s: %s",
			    path, buf_str(&reason));
			ret = MBOX_TEMP;
		} else if (rc == DOT_LOCK_ERROR) {
			/* As mbox.c: a read-only spool keeps fcntl alone. */
			if (err == EACCES || err == EPERM || err == EROFS)
				msg_warn("%s; delivering to %s with the fcntl "
				    "lock only", buf_str(&reason), path);
			else
				ret = mbox_fail_errno(why, err, "cannot lock "
				    "mailbox %s", path);
		}
		buf_fini(&reason);
	}
	if (ret == MBOX_OK) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
		if (fd >= 0) {
			err = 0;
			if (sp->give && fchown(fd, rights->uid, rights->gid)
			    < 0)
				err = errno;
			if (close(fd) < 0 && err == 0)
				err = errno;
			if (err != 0) {
				(void)unlink(path);
				ret = mbox_fail_errno(why, err, "cannot create "
				    "mailbox %s", path);
			}
		}
	}
	if (ret != MBOX_OK) {
		buf_init(&reason, 64);
		if (dot_lock_release(lk, &reason) < 0)
			msg_warn("mailbox %s: %s", path, buf_str(&reason));
		buf_fini(&reason);
	}
	local_privs_leave();
	return ret;
}

/* Remove the dot lock taken by local_spool_prepare(), with its rights. */
static void
local_spool_unlock(const char *path, const struct local_spool *sp,
    struct dot_lock *lk)
{
	struct buf reason;
	bool entered;

	if (lk->path == NULL)
		return;
	buf_init(&reason, 64);
	if (!(entered = local_privs_enter_ids(sp->uid, sp->gid) == 0))
		msg_warn("mailbox %s: cannot switch to uid %lu gid %lu to "
		    "remove its lock file: %m", path, (unsigned long)sp->uid,
		    (unsigned long)sp->gid);
	if (dot_lock_release(lk, &reason) < 0)
		msg_warn("mailbox %s: %s", path, buf_str(&reason));
	if (entered)
		local_privs_leave();
	buf_fini(&reason);
}

/*
 * Append to an mbox file as rights (local_privs_mailbox()). spool: the
 * file is in mail_spool_directory, where the lock file and a missing
 * mailbox may need the directory's rights (local_spool_rights()).
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
	struct local_spool sp = {0};
	struct dot_lock lk = {0};
	struct local_src *src = NULL;
	char **headers = NULL;
	struct stat sb;
	struct buf why;
	int rc;

	buf_init(&why, 128);
	if (spool)
		local_spool_rights(rights, &sp);
	/* With the spool's rights the dot lock is ours to take, below. */
	if (local_dot_lock && !sp.special)
		opts.flags |= MBOX_FLAG_DOT_LOCK | MBOX_FLAG_DOT_LOCK_MAY_FAIL;
	if (sp.special && (rc = local_spool_prepare(path, rights, &sp, &cfg,
	    &lk, &why)) != MBOX_OK) {
		local_mailbox_result(st, rc, NULL, "mailbox", &why);
		goto out;
	}

	if (local_privs_enter_mailbox(rights) < 0) {
		(void)mbox_fail_errno(&why, errno, "cannot switch to uid %lu",
		    (unsigned long)rights->uid);
		local_spool_unlock(path, &sp, &lk);
		local_mailbox_result(st, MBOX_TEMP, NULL, "mailbox",
		    &why);
		goto out;
	}
	/* Ownership: the recipient's, or the administrator decides. */
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)
	    && sb.st_uid != rights->uid) {
		if (var_strict_mailbox_ownership) {
			local_privs_leave();
			local_spool_unlock(path, &sp, &lk);
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
	local_spool_unlock(path, &sp, &lk);
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
	const struct local_rights *rights;
	struct buf path;
	size_t len;

	/* A command never runs as root (local_command.c). */
	if (*command != 0) {
		local_command(st, command, user, LOCAL_CLASS_COMMAND, NULL);
		return;
	}
	rights = local_privs_mailbox(user);
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
