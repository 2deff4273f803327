/*
 * trigger.h - wake a trigger service with a short request
 *
 * trigger_send("public/pickup", "W", 1) writes the request into the
 * service's endpoint, which is a fifo or a UNIX-domain socket (master.cf
 * types fifo and unix), without ever blocking. A fifo whose buffer is
 * full counts as success: a request is pending anyway. Returns 0, or -1
 * with errno set: ENOENT (no such endpoint), ENXIO (a fifo nobody
 * reads: master is not running), ECONNREFUSED, EACCES, EINVAL (neither
 * a fifo nor a socket) ...
 */
#ifndef PETREL_TRIGGER_H
#define PETREL_TRIGGER_H

#include <stddef.h>

int trigger_send(const char *path, const void *req, size_t len);

#endif
