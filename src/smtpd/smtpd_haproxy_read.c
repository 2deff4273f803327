/*
 * smtpd_haproxy_read.c - read one PROXY protocol header from a socket
 *
 *	if (haproxy_read(fd, timeout_ms, &addr, &why) < 0) ... end session
 *
 * The header is followed, without a pause, by the SMTP stream, which
 * belongs to smtpd_io.c: this reader must not take a byte of it. Each
 * round peeks at what the socket holds (recv MSG_PEEK), lets
 * haproxy_span() say how much of it is header (up to the first LF for
 * v1, up to the declared length for v2), takes exactly that, and asks
 * the parser whether the header is complete. Taking what was peeked
 * before waiting again means poll() never reports the same bytes
 * twice, so a slow proxy does not make us spin.
 *
 * SECURITY: the peer may send nothing, send slowly or send garbage: one
 * deadline covers the whole header, and at most HAPROXY_MAX_LEN bytes
 * are ever held.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "mem.h"
#include "smtpd_haproxy.h"

static long long
haproxy_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until fd is readable or the deadline passes. Returns 1 when
 * readable (or hung up: recv will tell), 0 on timeout, -1 on error.
 */
static int
haproxy_wait(int fd, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int n;

	for (;;) {
		left = deadline - haproxy_now_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int
haproxy_read(int fd, int timeout_ms, struct haproxy_addr *out,
    struct buf *why)
{
	long long deadline = haproxy_now_ms() + timeout_ms;
	char *data = xmalloc(HAPROXY_MAX_LEN);
	size_t have = 0, take;
	ssize_t n;
	int rc, ret = -1;

	for (;;) {
		if ((rc = haproxy_parse(data, have, out, why)) > 0) {
			ret = 0;
			break;
		}
		if (rc < 0)
			break;
		if (have >= HAPROXY_MAX_LEN) {	/* the parser prevents this */
			buf_set(why, "header too long");
			break;
		}
		if ((rc = haproxy_wait(fd, deadline)) <= 0) {
			buf_reset(why);
			if (rc == 0 && timeout_ms % 1000 == 0)
				buf_printf(why, "timeout after %ds (%zu bytes "
				    "received)", timeout_ms / 1000, have);
			else if (rc == 0)
				buf_printf(why, "timeout after %dms (%zu bytes "
				    "received)", timeout_ms, have);
			else
				buf_printf(why, "poll: %s", strerror(errno));
			break;
		}
		n = recv(fd, data + have, HAPROXY_MAX_LEN - have, MSG_PEEK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN
		    || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			buf_reset(why);
			buf_printf(why, "read error: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			buf_reset(why);
			buf_printf(why, "lost connection after %zu bytes", have);
			break;
		}
		take = haproxy_span(data, have, (size_t)n);
		if (take == 0) {		/* cannot happen: see span */
			buf_set(why, "no progress");
			break;
		}
		do
			n = recv(fd, data + have, take, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			buf_reset(why);
			buf_printf(why, "read error: %s",
			    n < 0 ? strerror(errno) : "end of file");
			break;
		}
		have += (size_t)n;
	}
	free(data);
	return ret;
}
