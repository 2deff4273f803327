/*
 * master_ent.c - master's service table: start-up and reload
 *
 * master_config_load() reads main.cf and master.cf into new objects and
 * checks everything (parameters, unknown names, each service's -o
 * overrides, programs) before it changes anything; a reload with errors
 * keeps the running configuration. Then it matches the new master.cf
 * entries with the running services by endpoint:
 *	same endpoint	the service keeps its listeners and status pipe;
 *			its children are retired (they finish their
 *			current client and exit) and new ones use the new
 *			entry;
 *	new endpoint	listeners are opened (at start-up, failure is
 *			fatal; at reload it is logged and the entry
 *			skipped);
 *	gone		listeners closed; the service lingers, "dying",
 *			until its last child has exited.
 * Every child is retired at a reload, because main.cf may have changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <event2/event.h>

#include "buf.h"
#include "conf.h"
#include "master.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"

struct master_serv *master_services;
static struct master_serv *master_dying;

static char *
master_program_path(const struct master_ent *ent)
{
	struct buf path;

	if (ent->command[0] == '/')
		return xstrdup(ent->command);
	buf_init(&path, 64);
	buf_printf(&path, "%s/%s", var_daemon_directory, ent->command);
	return buf_steal(&path);
}

static void
master_serv_set_ent(struct master_serv *serv, struct master_ent *ent)
{
	struct buf label;

	master_ent_free(serv->ent);
	serv->ent = ent;
	free(serv->path);
	serv->path = master_program_path(ent);
	free(serv->label);
	buf_init(&label, 32);
	buf_printf(&label, "%s/%s", ent->service, master_type_name(ent->type));
	serv->label = buf_steal(&label);
	serv->max_proc = ent->maxproc < 0 ? var_default_process_limit
	    : ent->maxproc;
}

static void
master_throttle_end(evutil_socket_t fd, short what, void *ctx)
{
	struct master_serv *serv = ctx;

	(void)fd;
	(void)what;
	serv->throttled = false;
	master_serv_update(serv);
}

void
master_serv_throttle(struct master_serv *serv)
{
	struct timeval tv = {.tv_sec = var_service_throttle_time};

	if (serv->throttled || serv->dying)
		return;
	msg_warn("%s: bad command startup -- throttling", serv->path);
	serv->throttled = true;
	evtimer_add(serv->throttle_timer, &tv);
	master_serv_update(serv);
}

void
master_serv_update(struct master_serv *serv)
{
	bool want;
	size_t i;

	want = !master_stopping && !serv->dying && !serv->throttled
	    && serv->avail_proc == 0
	    && (serv->max_proc == 0 || serv->total_proc < serv->max_proc);
	if (want == serv->listening)
		return;
	for (i = 0; i < serv->listen_count; i++) {
		if (want)
			event_add(serv->listen_events[i], NULL);
		else
			event_del(serv->listen_events[i]);
	}
	serv->listening = want;
}

/* A client is waiting and nobody is free to take it: start a child. */
static void
master_listen_event(evutil_socket_t fd, short what, void *ctx)
{
	struct master_serv *serv = ctx;

	(void)fd;
	(void)what;
	if (serv->listening)
		master_spawn(serv);
	master_serv_update(serv);
}

static struct master_serv *
master_serv_new(struct master_ent *ent)
{
	struct master_serv *serv = xcalloc(1, sizeof(*serv));

	serv->status_fds[0] = serv->status_fds[1] = -1;
	serv->gen = 1;
	master_serv_set_ent(serv, ent);
	serv->throttle_timer = evtimer_new(master_base, master_throttle_end,
	    serv);
	return serv;
}

/* Open what a new service needs; -1 with why and *status on failure. */
static int
master_serv_start(struct master_serv *serv, struct buf *why, int *status)
{
	size_t i;

	if (master_listen_open(serv, why, status) < 0)
		return -1;
	if (master_status_open(serv) < 0) {
		buf_printf(why, "status pipe: %s", strerror(errno));
		*status = EX_OSERR;
		return -1;
	}
	serv->listen_events = xcalloc(serv->listen_count,
	    sizeof(*serv->listen_events));
	for (i = 0; i < serv->listen_count; i++)
		serv->listen_events[i] = event_new(master_base,
		    serv->listen_fds[i], EV_READ | EV_PERSIST,
		    master_listen_event, serv);
	master_wakeup_init(serv);
	return 0;
}

void
master_serv_free(struct master_serv *serv)
{
	size_t i;

	master_wakeup_cleanup(serv);
	if (serv->listen_events) {
		for (i = 0; i < serv->listen_count; i++)
			event_free(serv->listen_events[i]);
		free(serv->listen_events);
	}
	master_listen_close(serv);
	master_status_close(serv);
	if (serv->throttle_timer)
		event_free(serv->throttle_timer);
	master_ent_free(serv->ent);
	free(serv->path);
	free(serv->label);
	free(serv);
}

/* Stop accepting clients; the children finish and exit. */
static void
master_serv_retire(struct master_serv *serv)
{
	size_t i;

	serv->dying = true;
	master_serv_update(serv);
	master_wakeup_cleanup(serv);
	if (serv->listen_events) {
		for (i = 0; i < serv->listen_count; i++)
			event_free(serv->listen_events[i]);
		free(serv->listen_events);
		serv->listen_events = NULL;
	}
	master_listen_close(serv);
	master_procs_retire(serv);
	if (serv->proc_count == 0) {
		master_serv_free(serv);
		return;
	}
	serv->next = master_dying;
	master_dying = serv;
}

void
master_serv_release(struct master_serv *serv)
{
	struct master_serv **pp;

	if (!serv->dying) {
		master_serv_update(serv);
		return;
	}
	if (serv->proc_count > 0)
		return;
	for (pp = &master_dying; *pp; pp = &(*pp)->next) {
		if (*pp == serv) {
			*pp = serv->next;
			break;
		}
	}
	master_serv_free(serv);
}

void
master_services_close(void)
{
	struct master_serv *serv;

	for (serv = master_services; serv; serv = serv->next) {
		master_serv_update(serv);	/* master_stopping: off */
		master_wakeup_cleanup(serv);
	}
}

/*
 * Everything that can be wrong with a configuration, before using it:
 * the checks of `petrel check` (mastercf_check_conf() for main.cf with
 * master.cf and every service's -o overrides, mastercf_check_programs()),
 * so that a reload never takes what a child would refuse at start-up.
 */
static int
master_config_check(struct conf *c, struct mastercf *cf)
{
	int errors;

	/* Overrides are checked against a main.cf that is valid itself. */
	if ((errors = conf_validate(c, false)) == 0)
		errors = mastercf_check_conf(cf, c);
	return errors + mastercf_check_programs(cf, c, NULL);
}

static char *
master_inet_signature(void)
{
	struct buf sig;

	buf_init(&sig, 32);
	buf_printf(&sig, "%s|%s", var_inet_interfaces, var_inet_protocols);
	return buf_steal(&sig);
}

int
master_config_load(bool startup)
{
	struct master_serv *old, *serv, **pp, *list = NULL, **tail = &list;
	struct conf *c = conf_new();
	struct mastercf *cf = NULL;
	struct buf path, why;
	char *old_inet = NULL, *new_inet;
	bool inet_changed;
	int status;
	size_t i;

	buf_init(&path, 64);
	buf_init(&why, 64);
	conf_set(c, "config_directory", master_config_dir, "command line", 0);
	buf_printf(&path, "%s/main.cf", master_config_dir);
	if (conf_read_file(c, path.data) < 0) {
		if (errno)
			msg_error("open %s: %m", path.data);
		goto fail;
	}
	buf_reset(&path);
	buf_printf(&path, "%s/master.cf", master_config_dir);
	if ((cf = mastercf_read(path.data)) == NULL
	    || master_config_check(c, cf) > 0)
		goto fail;

	/* The new configuration is good: make it current. */
	old_inet = master_inet_signature();
	conf_install(c);
	c = NULL;
	if (conf_validate(conf_current(), true) > 0)
		msg_panic("configuration changed while loading it");
	master_open_log();
	new_inet = master_inet_signature();
	inet_changed = strcmp(old_inet, new_inet) != 0;
	free(new_inet);

	old = master_services;
	master_services = NULL;
	for (i = 0; i < cf->count; i++) {
		struct master_ent *ent = cf->ents[i];

		for (pp = &old; (serv = *pp) != NULL; pp = &serv->next) {
			if (master_ent_same_endpoint(serv->ent, ent)
			    && (ent->type == MASTER_INET
				|| serv->ent->private_ == ent->private_)
			    && !(inet_changed && ent->type == MASTER_INET
				&& ent->host == NULL))
				break;
		}
		if (serv != NULL) {
			*pp = serv->next;
			master_procs_retire(serv);
			master_serv_set_ent(serv, ent);
			master_wakeup_init(serv);
		} else {
			serv = master_serv_new(ent);
			buf_reset(&why);
			if (master_serv_start(serv, &why, &status) < 0) {
				cf->ents[i] = NULL;	/* serv owns ent */
				if (startup)
					msg_fatal_status(status,
					    "%s, line %d: service %s: %s",
					    ent->file, ent->line, serv->label,
					    why.data);
				msg_error("%s, line %d: service %s: %s; "
				    "service skipped", ent->file, ent->line,
				    serv->label, why.data);
				master_serv_free(serv);
				continue;
			}
		}
		cf->ents[i] = NULL;
		serv->next = NULL;
		*tail = serv;
		tail = &serv->next;
	}
	master_services = list;
	while ((serv = old) != NULL) {
		old = serv->next;
		master_serv_retire(serv);
	}
	for (serv = master_services; serv; serv = serv->next)
		master_serv_update(serv);
	free(old_inet);
	mastercf_free(cf);
	buf_fini(&path);
	buf_fini(&why);
	return 0;

fail:
	conf_free(c);
	mastercf_free(cf);
	buf_fini(&path);
	buf_fini(&why);
	if (startup)
		exit(EX_CONFIG);
	return -1;
}
