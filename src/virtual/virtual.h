/*
 * virtual.h - the virtual delivery agent's modules
 *
 *	virtual.c		the daemon: parameters, the service, and the
 *				per-recipient decisions (table lookups)
 *	virtual_maps.c		lists of tables searched as one, in
 *				Postfix's order, and uid/gid lookups
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

/*
 * virtual_maps_open() turns the value of a table-list parameter
 * ("hash:/etc/petrel/vmailbox, regexp:/etc/petrel/vmailbox.re") into
 * one table that mail_addr_find() can search: a lookup of a key asks
 * each table in turn and the first answer wins, so that every key of
 * the address lookup order is tried in all tables before the next key
 * (as Postfix's maps do). A temporary failure of any table stops the
 * search. Tables are opened with DICT_FLAG_FOLD; one that cannot be
 * opened answers DICT_TEMPFAIL (dict.h). param names the parameter in
 * errors. An empty list finds nothing.
 */
struct dict *virtual_maps_open(const char *param, const char *value);
/* The number of tables in the list. */
size_t virtual_maps_count(const struct dict *maps);
/*
 * "param (type:name)": the table that gave the last DICT_FOUND or
 * DICT_TEMPFAIL, for warnings. Valid until the next lookup.
 */
const char *virtual_maps_last(const struct dict *maps);

/*
 * Look up a numeric user or group ID for addr in maps (mail_addr_find
 * order). Returns DICT_FOUND with *id set; DICT_NOTFOUND; or
 * DICT_TEMPFAIL. A value that is not a decimal number in 0..INT_MAX is
 * DICT_FOUND with bad set and the value copied to text (the caller
 * warns); text always receives the value found.
 */
enum dict_result virtual_id_find(struct dict *maps, const char *addr,
    long *id, bool *bad, struct buf *text);

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
