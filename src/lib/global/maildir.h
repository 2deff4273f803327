/*
 * maildir.h - deliver one message into a Maildir
 *
 * maildir_deliver() is the mailbox writer of the local and virtual
 * delivery agents for Maildir mailboxes (home_mailbox = Maildir/, a
 * virtual_mailbox_maps path ending in '/'). Following the Maildir
 * specification (cr.yp.to/proto/maildir.html):
 *	- dir/tmp, dir/new and dir/cur (and dir and its parents) are
 *	  created with mode 0700 when missing;
 *	- the message (the caller's header lines, then the message lines,
 *	  each ending in "\n"; no From_ line, no quoting) is written to
 *	  dir/tmp/<name> created with O_EXCL, and fsync(2)ed;
 *	- it is link(2)ed to dir/new/<name> (rename(2) on file systems
 *	  without hard links), dir/new is fsync(2)ed, and the tmp/ name
 *	  is removed.
 * <name> is "<sec>.M<usec>P<pid>Q<n>.<host>": the time of the delivery,
 * the process ID, a per-process counter (so deliveries within one
 * microsecond differ), and the host name with '/' written as "\057" and
 * ':' as "\072".
 *
 * Run it with the recipient's effective uid/gid: files and directories
 * are created as whoever calls.
 *
 * It uses the message interface and the results of mbox.h.
 */
#ifndef PETREL_MAILDIR_H
#define PETREL_MAILDIR_H

#include <sys/types.h>

#include "buf.h"
#include "mbox.h"

struct maildir_opts {
	mode_t mode;		/* of the message file; 0 means 0600 */
	off_t size_limit;	/* largest message file; 0: none */
	const char *hostname;	/* for the file name; NULL: gethostname() */
};

/*
 * Deliver msg into the Maildir dir (with or without a trailing '/');
 * opts may be NULL. Returns MBOX_OK, or MBOX_TEMP / MBOX_PERM /
 * MBOX_SRC_ERROR with why as described in mbox.h; on failure nothing is
 * left in tmp/ or new/. On success, if name is not NULL it receives the
 * file's path in new/ (for logs and tests).
 */
int maildir_deliver(const char *dir, const struct maildir_opts *opts,
    const struct mbox_msg *msg, struct buf *name, struct buf *why);

#endif
