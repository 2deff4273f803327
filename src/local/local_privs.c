/*
 * local_privs.c - local: whose rights a delivery runs with
 *
 * Run by a root master, local keeps root only as its real (and saved)
 * uid and works as mail_owner between deliveries (local_privs_init(),
 * after the skeleton's set-up), so that what it writes in the queue
 * (bounce, defer and trace logs) belongs to mail_owner like the rest of
 * the queue. For the part of a delivery done for someone it takes their
 * rights, a recipient's, an alias table owner's or an include file
 * owner's: local_privs_enter() sets the supplementary groups to the
 * primary group, then the effective group and user IDs;
 * local_privs_leave() goes back to mail_owner (Postfix's set_eugid()).
 * If going back fails the process exits: carrying on with someone
 * else's rights is not an option. Commands get all their IDs set in
 * their child process (local_command.c).
 *
 * Mailboxes are written with their owner's rights, root's included, as
 * Postfix does: local_privs_mailbox() says whose rights write a
 * recipient's mailbox, and local_privs_enter_mailbox() takes them
 * (root's password entry gets root). Spool directories that users
 * cannot write to need more for creating the lock file and a missing
 * mailbox: local_privs_enter_ids() takes a user with a directory's
 * group, or root (local_mailbox.c), for those steps alone.
 *
 * Nothing else runs as root: local_privs_safe() hands out default_privs'
 * uid and gid for rights with uid 0 (and default_privs' group for gid
 * 0): commands and files on root's behalf, and local_privs_enter()
 * refuses uid 0 outright.
 *
 * Run unprivileged (a test or development instance), there is nothing
 * to switch: these are no-ops, everything runs as the instance user,
 * and local_privs_safe() says so (the instance's uid and gid with the
 * name, home and shell asked for).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "local.h"
#include "msg.h"
#include "params.h"

/* mail_owner: who we are between deliveries when run as root. */
static uid_t local_owner_uid;
static gid_t local_owner_gid;

/* Effective uid/gid (gid the only group); the real uid stays 0. */
static int
local_privs_set(uid_t uid, gid_t gid)
{
	if (seteuid(0) < 0 || setgroups(1, &gid) < 0 || setegid(gid) < 0
	    || seteuid(uid) < 0)
		return -1;
	return 0;
}

void
local_privs_init(void)
{
	struct passwd *pw;

	if (!local_root)
		return;
	if ((pw = getpwnam(var_mail_owner)) == NULL)
		msg_fatal_status(EX_CONFIG, "parameter mail_owner: unknown "
		    "user \"%s\"", var_mail_owner);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		msg_fatal_status(EX_CONFIG, "parameter mail_owner: user "
		    "\"%s\" has root privileges", var_mail_owner);
	local_owner_uid = pw->pw_uid;
	local_owner_gid = pw->pw_gid;
	local_privs_leave();
}

int
local_privs_enter(const struct local_rights *r)
{
	int err;

	if (!local_root)
		return 0;
	if (r->uid == 0 || r->gid == 0)
		msg_panic("local_privs_enter: refusing root privileges");
	if (local_privs_set(r->uid, r->gid) < 0) {
		err = errno;
		local_privs_leave();
		errno = err;
		return -1;
	}
	return 0;
}

int
local_privs_enter_ids(uid_t uid, gid_t gid)
{
	int err;

	if (!local_root)
		return 0;
	if (local_privs_set(uid, gid) < 0) {
		err = errno;
		local_privs_leave();
		errno = err;
		return -1;
	}
	return 0;
}

int
local_privs_enter_mailbox(const struct local_rights *r)
{
	if (!local_root || r->uid != 0)
		return local_privs_enter(r);
	/* Only root's own password entry writes as root. */
	if (!r->root)
		msg_panic("local_privs_enter_mailbox: uid 0 without root's "
		    "password entry");
	return local_privs_enter_ids(0, r->gid);
}

const struct local_rights *
local_privs_mailbox(const struct local_rights *r)
{
	if (local_root && r->uid == 0 && r->root)
		return r;
	return local_privs_safe(r);
}

void
local_privs_root(void)
{
	if (local_root && local_privs_set(0, 0) < 0)
		msg_fatal("cannot switch back to root: %m");
}

void
local_privs_leave(void)
{
	if (!local_root)
		return;
	if (local_privs_set(local_owner_uid, local_owner_gid) < 0)
		msg_fatal("cannot switch back to mail_owner %s (uid %lu gid "
		    "%lu): %m", var_mail_owner, (unsigned long)local_owner_uid,
		    (unsigned long)local_owner_gid);
}

const struct local_rights *
local_privs_safe(const struct local_rights *r)
{
	static struct local_rights fixed;

	/* Unprivileged, whatever we do is done as ourselves. */
	if (!local_root) {
		if (r != &fixed)
			fixed = *r;
		fixed.uid = geteuid();
		fixed.gid = getegid();
		return &fixed;
	}
	/* root: default_privs' IDs, root's name and home (local(8)). */
	if (r->uid == 0) {
		if (r != &fixed)
			fixed = *r;
		fixed.uid = local_default_privs.uid;
		fixed.gid = local_default_privs.gid;
		return &fixed;
	}
	if (r->gid == 0) {
		if (r != &fixed)
			fixed = *r;
		fixed.gid = local_default_privs.gid;
		return &fixed;
	}
	return r;
}
