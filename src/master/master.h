/*
 * master.h - master's internal interfaces
 *
 * A struct master_serv is one master.cf service: its listening
 * descriptors, its status pipe, its children and its timers. A struct
 * master_proc is one child. Services live in a list; a service removed
 * by a reload becomes "dying": its listeners are closed and it is freed
 * when its last child has exited (so the children can still write to
 * its status pipe).
 *
 * The rule that drives process creation (master_serv_update()): master
 * watches a service's listeners only while the service has no available
 * child, may start another (maxproc) and is not throttled. When a
 * client arrives in that state, master starts a child, which counts as
 * available until it says it took a client.
 */
#ifndef PETREL_MASTER_H
#define PETREL_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mastercf.h"

struct buf;
struct event;
struct event_base;

struct master_serv {
	struct master_ent *ent;		/* master.cf entry (owned) */
	char *path;			/* program to run */
	char *label;			/* "service/type" for logs */
	int *listen_fds;
	size_t listen_count;
	struct event **listen_events;
	bool listening;			/* listen events are active */
	int status_fds[2];		/* [0] master reads, [1] children write */
	struct event *status_event;
	uint32_t gen;			/* bumped at every reload */
	int max_proc;			/* 0 = no limit */
	int total_proc;			/* current-generation children */
	int avail_proc;			/* ... of which available */
	int proc_count;			/* all children, stale ones too */
	bool throttled;
	struct event *throttle_timer;
	struct event *wakeup_timer;
	bool used;			/* a child was started at least once */
	bool dying;			/* removed by reload */
	struct master_serv *next;
};

struct master_proc {
	pid_t pid;
	struct master_serv *serv;
	uint32_t gen;
	bool avail;
	bool stale;			/* told to exit by a reload */
	unsigned use_count;		/* clients taken */
	struct master_proc *next;
};

/* master.c */
extern struct event_base *master_base;
extern const char *master_config_dir;
extern bool master_stopping;
/* Exit when stopping and the last child is gone. */
void master_exit_if_done(void);
/* (Re)open the log sinks from the current parameters. */
void master_open_log(void);

/* master_ent.c: the service list, start-up and reload */
extern struct master_serv *master_services;
/* Validate and apply a configuration; start-up errors are fatal. */
int master_config_load(bool startup);
void master_serv_update(struct master_serv *serv);
void master_serv_free(struct master_serv *serv);
void master_serv_throttle(struct master_serv *serv);
/* A child of serv is gone: free serv if it is dying and now empty. */
void master_serv_release(struct master_serv *serv);
/* Stop listening and waking up everywhere (shutdown). */
void master_services_close(void);

/* master_listen.c: endpoints */
/*
 * Open the service's listening descriptors. On failure returns -1 with
 * why set (the caller logs it) and a sysexits code in *status.
 */
int master_listen_open(struct master_serv *serv, struct buf *why,
    int *status);
void master_listen_close(struct master_serv *serv);
/* Path of a unix/fifo/pass endpoint (relative to queue_directory). */
void master_listen_path(const struct master_ent *ent, struct buf *out);

/* master_spawn.c: children */
extern struct master_proc *master_procs;
void master_spawn(struct master_serv *serv);
void master_reap(void);
/* Mark every child of serv stale and tell it to finish (SIGHUP). */
void master_procs_retire(struct master_serv *serv);
/* Signal every child (stale ones too). */
void master_procs_signal(int sig);
size_t master_procs_count(void);

/* master_status.c: the status pipe */
int master_status_open(struct master_serv *serv);
void master_status_close(struct master_serv *serv);
/* Process pending messages now (before judging a child that exited). */
void master_status_drain(struct master_serv *serv);

/* master_wakeup.c: wakeup timers */
void master_wakeup_init(struct master_serv *serv);
void master_wakeup_cleanup(struct master_serv *serv);

#endif
