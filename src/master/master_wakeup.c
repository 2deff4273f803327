/*
 * master_wakeup.c - periodic wakeup of trigger services
 *
 * A unix or fifo service with a wakeup time in master.cf gets a one-byte
 * TRIGGER_REQ_WAKEUP request every so many seconds, as a client would
 * send it: written into the fifo, or sent over a new connection to the
 * socket. That is all it takes: if no child is available, the request
 * makes master start one. The first wakeup comes right after the service
 * is set up (so that qmgr and pickup look at the queue as soon as the
 * system starts), the next ones every so many seconds. With "?" after
 * the time, the service is only woken once it has been used. Nothing here blocks: the endpoints are
 * opened non-blocking and a wakeup that would block is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "master.h"
#include "master_proto.h"
#include "msg.h"
#include "trigger.h"

static void
master_wakeup_send(struct master_serv *serv, const char *path)
{
	char req = TRIGGER_REQ_WAKEUP;

	if (trigger_send(path, &req, 1) < 0)
		msg_warn("service %s: wakeup %s: %m", serv->label, path);
}

static void
master_wakeup_event(evutil_socket_t fd, short what, void *ctx)
{
	struct master_serv *serv = ctx;
	struct timeval tv = {.tv_sec = serv->ent->wakeup};
	struct buf path;

	(void)fd;
	(void)what;
	event_add(serv->wakeup_timer, &tv);
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
	struct timeval now = {0, 0};

	master_wakeup_cleanup(serv);
	if (serv->ent->wakeup <= 0 || (serv->ent->type != MASTER_UNIX
	    && serv->ent->type != MASTER_FIFO))
		return;
	serv->wakeup_timer = event_new(master_base, -1, 0,
	    master_wakeup_event, serv);
	event_add(serv->wakeup_timer, &now);
}

void
master_wakeup_cleanup(struct master_serv *serv)
{
	if (serv->wakeup_timer) {
		event_free(serv->wakeup_timer);
		serv->wakeup_timer = NULL;
	}
}
