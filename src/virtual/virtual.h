/*
 * virtual.h - the virtual delivery agent's modules
 *
 *	virtual.c		the daemon: parameters, the service, and the
 *				per-recipient decisions (table lookups in
 *				lists of tables: dict_maps.h, searched in
 *				Postfix's order: mail_addr_find.h)
 *	virtual_mailbox.c	writing a Maildir or mbox file with the
 *				recipient's uid/gid
 */
#ifndef PETREL_VIRTUAL_H
#define PETREL_VIRTUAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "dict.h"
#include "mbox.h"

struct deliver_request;

/* Where and how one recipient's mail goes. */
struct virtual_user {
	const char *mailbox;	/* absolute path; ends in '/': Maildir */
	bool maildir;
	bool set_ids;		/* write as uid/gid (started as root) */
	uid_t uid;
	gid_t gid;
};

/* The mailbox settings from main.cf, fixed at start-up. */
struct virtual_mailbox_cfg {
	int mbox_flags;			/* MBOX_FLAG_DOT_LOCK ... */
	off_t size_limit;		/* virtual_mailbox_limit; 0: none */
	struct dot_lock_cfg lock;	/* deliver_lock_*, stale_lock_time */
};

/*
 * Call once at start-up, after the tables are open. Started as root,
 * the process then works as mail_owner (effective IDs; fatal when that
 * account does not exist) and virtual_mailbox() switches to each
 * recipient's IDs; otherwise nothing changes.
 */
void virtual_mailbox_init(void);
/* True when started as root: virtual_mailbox() switches IDs. */
bool virtual_mailbox_privileged(void);

/*
 * Write the message of req (streamed from the queue file) with the
 * header lines hdrs (NULL-terminated) into user->mailbox, as a Maildir
 * or an mbox file per user->maildir, with the recipient's uid/gid when
 * user->set_ids. Returns MBOX_OK, or MBOX_TEMP / MBOX_PERM /
 * MBOX_SRC_ERROR with why as mbox.h describes (a failure to take on the
 * recipient's IDs is MBOX_TEMP "4.3.0"). Failing to become mail_owner
 * again afterwards is fatal: the process must not serve another
 * request.
 */
int virtual_mailbox(struct deliver_request *req,
    const struct virtual_mailbox_cfg *cfg, const struct virtual_user *user,
    const char *const *hdrs, struct buf *why);

#endif
