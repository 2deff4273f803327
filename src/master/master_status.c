/*
 * master_status.c - read the children's status messages
 *
 * Each service has one pipe; every child writes struct master_status
 * records to its end (fd 3). A record is 12 bytes, written with one
 * write(2), so records never interleave and reads return whole ones.
 * SECURITY: a record whose pid is not a current child of this service,
 * or whose generation is old, is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/event.h>

#include "file.h"
#include "master.h"
#include "master_proto.h"
#include "msg.h"

static struct master_proc *
master_status_proc(const struct master_serv *serv, pid_t pid)
{
	struct master_proc *proc;

	for (proc = master_procs; proc; proc = proc->next)
		if (proc->pid == pid)
			return proc->serv == serv ? proc : NULL;
	return NULL;
}

/* Read what is in the pipe now; 1 when something was read, else 0. */
static int
master_status_read(struct master_serv *serv)
{
	struct master_status recs[64];
	struct master_proc *proc;
	ssize_t n;
	size_t i;

	while ((n = read(serv->status_fds[0], recs, sizeof(recs))) < 0
	    && errno == EINTR)
		;
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN)
			msg_warn("service %s: status pipe: %m", serv->label);
		return 0;
	}
	for (i = 0; i < (size_t)n / sizeof(recs[0]); i++) {
		proc = master_status_proc(serv, recs[i].pid);
		if (proc == NULL || proc->stale || recs[i].gen != serv->gen) {
			if (msg_verbose)
				msg_info("service %s: ignoring status from "
				    "pid %d", serv->label, (int)recs[i].pid);
			continue;
		}
		switch (recs[i].status) {
		case MASTER_STAT_AVAIL:
			if (!proc->avail) {
				proc->avail = true;
				serv->avail_proc++;
			}
			break;
		case MASTER_STAT_TAKEN:
			if (proc->avail) {
				proc->avail = false;
				serv->avail_proc--;
			}
			proc->use_count++;
			break;
		default:
			msg_warn("service %s: pid %d: bad status %d",
			    serv->label, (int)recs[i].pid, (int)recs[i].status);
		}
	}
	return 1;
}

static void
master_status_event(evutil_socket_t fd, short what, void *ctx)
{
	struct master_serv *serv = ctx;

	(void)fd;
	(void)what;
	while (master_status_read(serv))
		;
	master_serv_update(serv);
}

void
master_status_drain(struct master_serv *serv)
{
	if (serv->status_fds[0] >= 0)
		while (master_status_read(serv))
			;
}

int
master_status_open(struct master_serv *serv)
{
	if (pipe2(serv->status_fds, O_CLOEXEC) < 0)
		return -1;
	/* Only master's end is non-blocking; children may block briefly. */
	if (fd_set_nonblock(serv->status_fds[0], true) < 0)
		return -1;
	serv->status_event = event_new(master_base, serv->status_fds[0],
	    EV_READ | EV_PERSIST, master_status_event, serv);
	if (serv->status_event == NULL || event_add(serv->status_event,
	    NULL) < 0)
		return -1;
	return 0;
}

void
master_status_close(struct master_serv *serv)
{
	if (serv->status_event) {
		event_free(serv->status_event);
		serv->status_event = NULL;
	}
	if (serv->status_fds[0] >= 0)
		close(serv->status_fds[0]);
	if (serv->status_fds[1] >= 0)
		close(serv->status_fds[1]);
	serv->status_fds[0] = serv->status_fds[1] = -1;
}
