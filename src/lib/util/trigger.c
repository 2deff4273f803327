/*
 * trigger.c - wake a trigger service with a short request (see the .h)
 *
 * Used by master's wakeup timers, cleanup (new mail for qmgr), postdrop
 * (new file for pickup) and `petrel queue -f`.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trigger.h"
#include "unix_connect.h"

int
trigger_send(const char *path, const void *req, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd, saved;

	if (stat(path, &st) < 0)
		return -1;
	if (S_ISFIFO(st.st_mode)) {
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY
		    | O_NOFOLLOW);
	} else if (S_ISSOCK(st.st_mode)) {
		fd = unix_connect(path, 0, SOCK_NONBLOCK);
	} else {
		errno = EINVAL;
		return -1;
	}
	if (fd < 0)			/* EAGAIN: a full backlog is busy */
		return errno == EAGAIN ? 0 : -1;
	if (S_ISSOCK(st.st_mode))
		n = send(fd, req, len, MSG_NOSIGNAL);
	else
		n = write(fd, req, len);
	saved = errno;
	(void)close(fd);
	if (n == (ssize_t)len || (n < 0 && saved == EAGAIN))
		return 0;
	errno = n < 0 ? saved : EIO;
	return -1;
}
