/*
 * mail_queue.h - the queue directories as message states
 *
 * Every daemon and queue command runs with queue_directory as its
 * current directory, so queue paths here are relative: "incoming/ID",
 * or "deferred/X/ID" for a queue listed in hash_queue_names with
 * hash_queue_depth levels (queue_id_hash()). A message changes state
 * by rename(2) between queues, never by copying.
 *
 * A queue file is complete when its owner-execute bit is set: cleanup
 * writes the file with mode 0600, then fchmod(0700) and one fsync(2)
 * make data and mode durable together, and only then does it answer
 * its client. qmgr and the queue tools ignore incomplete files (a crash
 * mid-write leaves one; the client was never told "accepted").
 */
#ifndef PETREL_MAIL_QUEUE_H
#define PETREL_MAIL_QUEUE_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include "buf.h"

#define MAIL_QUEUE_MAILDROP	"maildrop"
#define MAIL_QUEUE_INCOMING	"incoming"
#define MAIL_QUEUE_ACTIVE	"active"
#define MAIL_QUEUE_DEFERRED	"deferred"
#define MAIL_QUEUE_HOLD		"hold"
#define MAIL_QUEUE_CORRUPT	"corrupt"
#define MAIL_QUEUE_BOUNCE	"bounce"
#define MAIL_QUEUE_DEFER	"defer"
#define MAIL_QUEUE_TRACE	"trace"
#define MAIL_QUEUE_SAVED	"saved"

#define MAIL_QUEUE_MODE_WRITING	0600
#define MAIL_QUEUE_MODE_READY	0700

/* True for the queue names above. */
bool mail_queue_name_ok(const char *queue);
/* True when the queue's files live in hash subdirectories. */
bool mail_queue_hashed(const char *queue);
/* Append "queue/[hash/]id" to out. */
void mail_queue_path(struct buf *out, const char *queue, const char *id);
static inline bool
mail_queue_complete(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & S_IXUSR) != 0;
}

/*
 * Create a new file in queue (incoming, or maildrop for postdrop) with a
 * fresh queue ID: an exclusive temporary name first, then, knowing the
 * inode, rename to the ID. Returns the open descriptor (O_RDWR, mode as
 * given), the ID appended to id and the arrival time in *when; or -1
 * with errno set.
 */
int mail_queue_enter(const char *queue, mode_t mode, struct buf *id,
    struct timeval *when);
/* Open an existing queue file (O_NOFOLLOW); -1 with errno. */
int mail_queue_open(const char *queue, const char *id, int flags);
/* Move a file between queues (creating hash directories); 0 or -1. */
int mail_queue_rename(const char *id, const char *from, const char *to);
int mail_queue_remove(const char *queue, const char *id);

/*
 * Walk a queue (and its hash subdirectories): every name that is a
 * valid queue ID, in no particular order. Other names are skipped.
 */
struct mail_scan;
struct mail_scan *mail_scan_open(const char *queue);	/* NULL + errno */
/* The next ID, or NULL at the end (the pointer is valid until next). */
const char *mail_scan_next(struct mail_scan *scan);
/*
 * Where the last ID was found: "queue/[hash/]id", which differs from
 * mail_queue_path() when hash_queue_depth or hash_queue_names changed
 * since the file was queued (valid until the next mail_scan_next()).
 */
const char *mail_scan_path(const struct mail_scan *scan);
void mail_scan_close(struct mail_scan *scan);		/* accepts NULL */

#endif
