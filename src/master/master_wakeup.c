/*
 * master_wakeup.c - periodic wakeup of trigger services
 *
 * A unix or fifo service with a wakeup time in master.cf gets a one-byte
 * TRIGGER_REQ_WAKEUP request every so many seconds, as a client would
 * send it: written into the fifo, or sent over a new connection to the
 * socket. That is all it takes: if no child is available, the request
 * makes master start one. With "?" after the time, the service is only
 * woken once it has been used. Nothing here blocks: the endpoints are
 * opened non-blocking and a wakeup that would block is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "master.h"
#include "master_proto.h"
#include "msg.h"

static void
master_wakeup_send(struct master_serv *serv, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char req = TRIGGER_REQ_WAKEUP;
	int fd;

	if (serv->ent->type == MASTER_FIFO) {
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	} else {
		if (strlen(path) >= sizeof(sun.sun_path))
			return;
		memcpy(sun.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		if (errno != EAGAIN)
			msg_warn("service %s: wakeup %s: %m", serv->label,
			    path);
		return;
	}
	if (send(fd, &req, 1, MSG_NOSIGNAL) < 0 && errno == ENOTSOCK
	    && write(fd, &req, 1) < 0 && errno != EAGAIN)
		msg_warn("service %s: wakeup %s: %m", serv->label, path);
	close(fd);
}

static void
master_wakeup_event(evutil_socket_t fd, short what, void *ctx)
{
	struct master_serv *serv = ctx;
	struct buf path;

	(void)fd;
	(void)what;
	if (master_stopping || serv->dying
	    || (serv->ent->wakeup_if_used && !serv->used))
		return;
	buf_init(&path, 64);
	master_listen_path(serv->ent, &path);
	master_wakeup_send(serv, path.data);
	buf_fini(&path);
}

void
master_wakeup_init(struct master_serv *serv)
{
	struct timeval tv;

	master_wakeup_cleanup(serv);
	if (serv->ent->wakeup <= 0 || (serv->ent->type != MASTER_UNIX
	    && serv->ent->type != MASTER_FIFO))
		return;
	tv.tv_sec = serv->ent->wakeup;
	tv.tv_usec = 0;
	serv->wakeup_timer = event_new(master_base, -1, EV_PERSIST,
	    master_wakeup_event, serv);
	event_add(serv->wakeup_timer, &tv);
}

void
master_wakeup_cleanup(struct master_serv *serv)
{
	if (serv->wakeup_timer) {
		event_free(serv->wakeup_timer);
		serv->wakeup_timer = NULL;
	}
}
