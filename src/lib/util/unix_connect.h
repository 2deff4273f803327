/*
 * unix_connect.h - connect to a UNIX-domain stream socket
 *
 * fd = unix_connect("private/rewrite", 3000, 0);
 *
 * The descriptor is close-on-exec; flags may add SOCK_NONBLOCK. With
 * timeout_ms > 0, a connect() that would wait because the listener's
 * backlog is full gives up after that long (on Linux the send timeout
 * bounds that wait), failing with ETIMEDOUT. Returns the descriptor, or
 * -1 with errno set (ENAMETOOLONG for a path that does not fit).
 */
#ifndef PETREL_UNIX_CONNECT_H
#define PETREL_UNIX_CONNECT_H

int unix_connect(const char *path, int timeout_ms, int flags);

#endif
