/*
 * unix_connect.c - connect to a UNIX-domain stream socket (see the .h)
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_connect.h"

int
unix_connect(const char *path, int timeout_ms, int flags)
{
	struct sockaddr_un sun;
	size_t len = strlen(path);
	struct timeval tv;
	int fd, saved;

	if (len >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)) < 0)
		return -1;
	if (timeout_ms > 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) < 0)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	return fd;

fail:
	saved = errno == EAGAIN && !(flags & SOCK_NONBLOCK) ? ETIMEDOUT
	    : errno;
	(void)close(fd);
	errno = saved;
	return -1;
}
