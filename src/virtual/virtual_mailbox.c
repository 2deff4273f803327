/*
 * virtual_mailbox.c - write one message into a recipient's mailbox
 *
 * virtual_mailbox() streams the message from the queue file into a
 * Maildir (maildir.h) or an mbox file (mbox.h, locked as
 * virtual_mailbox_lock asks).
 *
 * Privileges, as Postfix's virtual(8) has them: started as root, the
 * agent keeps root only as its real uid and works as mail_owner
 * (virtual_mailbox_init()), so that the queue file, the bounce, defer
 * and trace logs it writes, and the hash directories it makes, belong
 * to mail_owner like everything else in the queue. For the writing of a
 * mailbox it takes on the recipient's uid and gid (virtual_uid_maps,
 * virtual_gid_maps), with that gid as the only supplementary group, so
 * that files and missing directories belong to the recipient and file
 * system permissions and quotas apply to them, not to root; then it is
 * mail_owner again. If that switch back fails the process exits
 * (msg_fatal): carrying on with someone else's privileges is not an
 * option.
 *
 * Only the effective IDs change (seteuid/setegid): the real uid stays 0
 * so that each change can be undone. The mailbox writers open files with
 * O_NOFOLLOW and refuse hard links (file.h), so a recipient who owns
 * the mailbox directory cannot redirect the write elsewhere.
 *
 * SECURITY: message content is outside data; the writers handle it.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "deliver_request.h"
#include "maildir.h"
#include "mbox.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qfile.h"
#include "virtual.h"

/* A long line reaches a mailbox writer in pieces of this size. */
#define VIRTUAL_LINE_PIECE	65536

/* Run as root: mail_owner's IDs, our identity between deliveries. */
static bool virtual_privileged;
static uid_t virtual_owner_uid;
static gid_t virtual_owner_gid;

/*
 * Take on uid/gid (and gid as the only group) as effective IDs. The
 * real uid stays 0, so going back to root first is always allowed.
 */
static int
virtual_set_ids(uid_t uid, gid_t gid)
{
	if (seteuid(0) < 0 || setgroups(1, &gid) < 0 || setegid(gid) < 0
	    || seteuid(uid) < 0)
		return -1;
	return 0;
}

void
virtual_mailbox_init(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(var_mail_owner)) == NULL)
		msg_fatal_status(EX_CONFIG, "mail_owner: unknown user \"%s\"",
		    var_mail_owner);
	virtual_owner_uid = pw->pw_uid;
	virtual_owner_gid = pw->pw_gid;
	virtual_privileged = true;
	if (virtual_set_ids(virtual_owner_uid, virtual_owner_gid) < 0)
		msg_fatal("cannot switch to mail_owner %s (uid %lu gid %lu): "
		    "%m", var_mail_owner, (unsigned long)virtual_owner_uid,
		    (unsigned long)virtual_owner_gid);
}

bool
virtual_mailbox_privileged(void)
{
	return virtual_privileged;
}

/* Back to mail_owner after a delivery; anything else is fatal. */
static void
virtual_restore_ids(void)
{
	if (virtual_set_ids(virtual_owner_uid, virtual_owner_gid) < 0)
		msg_fatal("cannot switch back to mail_owner (uid %lu gid %lu): "
		    "%m", (unsigned long)virtual_owner_uid,
		    (unsigned long)virtual_owner_gid);
}

/* Take on the recipient's IDs; -1 with why (as mail_owner) on failure. */
static int
virtual_become(uid_t uid, gid_t gid, struct buf *why)
{
	if (virtual_set_ids(uid, gid) < 0) {
		buf_reset(why);
		buf_printf(why, "4.3.0 cannot switch to uid %lu gid %lu: %s",
		    (unsigned long)uid, (unsigned long)gid, strerror(errno));
		virtual_restore_ids();
		return -1;
	}
	return 0;
}

/* The message source of the mailbox writers: the queue file content. */
static int
virtual_next_line(void *ctx, struct buf *line, struct buf *why)
{
	return qfile_content_next(ctx, line, VIRTUAL_LINE_PIECE, why);
}

int
virtual_mailbox(struct deliver_request *req,
    const struct virtual_mailbox_cfg *cfg, const struct virtual_user *user,
    const char *const *hdrs, struct buf *why)
{
	struct qfile_content *qc;
	struct mbox_msg msg;
	struct buf name;
	int rc;

	if (user->set_ids && virtual_become(user->uid, user->gid, why) < 0)
		return MBOX_TEMP;
	qc = qfile_content_open(req->fd, &req->qf);
	memset(&msg, 0, sizeof(msg));
	msg.sender = req->qf.sender;
	msg.headers = hdrs;
	msg.next = virtual_next_line;
	msg.ctx = qc;
	buf_init(&name, 64);
	if (user->maildir) {
		struct maildir_opts mo = {
			.mode = 0600,
			.size_limit = cfg->size_limit,
		};

		rc = maildir_deliver(user->mailbox, &mo, &msg, &name, why);
		if (rc == MBOX_OK && msg_verbose)
			msg_info("%s: wrote %s", req->queue_id, buf_str(&name));
	} else {
		struct mbox_opts bo = {
			.flags = cfg->mbox_flags,
			.mode = 0600,
			.uid = user->uid,
			.gid = user->gid,
			.size_limit = cfg->size_limit,
			.lock = &cfg->lock,
		};

		/* Ownership means something only when we switch IDs. */
		if (!user->set_ids)
			bo.flags &= ~MBOX_FLAG_OWNER;
		rc = mbox_deliver(user->mailbox, &bo, &msg, why);
	}
	buf_fini(&name);
	qfile_content_close(qc);
	if (user->set_ids)
		virtual_restore_ids();
	return rc;
}
