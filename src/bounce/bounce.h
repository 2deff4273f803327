/*
 * bounce.h - internal interface of the bounce daemon
 *
 * bounce.c reads and checks one request (bounce_clnt.h) and dispatches
 * it to one of the functions below (bounce_notify.c), which turn a
 * message's log into reports queued through cleanup. Each returns 0
 * when the work is done (reports queued, or nothing to report) and the
 * log that was read is removed, or -1 with why set (the log is kept,
 * the client asks again later).
 *
 * queue_name is "active" or "deferred" and id a valid queue ID: the
 * caller checked them, so that nothing a client sends reaches a path
 * unchecked.
 */
#ifndef PETREL_BOUNCE_H
#define PETREL_BOUNCE_H

#include "buf.h"

/* flush: failures from bounce/ID. */
int bounce_flush(const char *queue_name, const char *id, struct buf *why);
/* expire: defer/ID reported as failures. */
int bounce_expire(const char *queue_name, const char *id, struct buf *why);
/* trace: successes from trace/ID. */
int bounce_trace(const char *queue_name, const char *id, struct buf *why);

/* Read notify_classes once configuration is loaded (post_init). */
void bounce_notify_init(void);

#endif
