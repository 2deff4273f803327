/*
 * server.h - daemon skeletons: a daemon is its callbacks
 *
 * Three skeletons own everything that is not the daemon's job: argument
 * parsing, main.cf and -o overrides, logging, chroot and privilege drop,
 * the accept loop, max_use/max_idle, signals and the status protocol
 * with master (master_proto.h).
 *
 *	single_server_main	one client at a time (smtpd, smtp, local)
 *	multi_server_main	many clients in one libevent loop
 *				(trivial-rewrite, proxymap, anvil)
 *	trigger_server_main	woken by a one-byte poke on a fifo or unix
 *				socket (pickup, qmgr)
 *
 * Command line (from master.cf, master adds the first ones):
 *	-c dir		configuration directory
 *	-n name		service name (master.cf column 1)
 *	-t type		inet, unix, fifo or pass
 *	-s count	number of listening descriptors from MASTER_LISTEN_FD
 *	-u		drop privileges to mail_owner (when started as root)
 *	-r		chroot to queue_directory (when started as root)
 *	-o name=value	override a main.cf parameter for this service
 *	-v		more verbose logging
 * Arguments after the options reach the callbacks as argv.
 *
 * Order of events: parse arguments; read main.cf with overrides (an error
 * is fatal with EX_CONFIG); open logging; pre_init (still privileged:
 * open tables, sockets, files); chroot; drop privileges; post_init;
 * serve. The process exits after max_use clients, after max_idle seconds
 * without a client, on SIGTERM at once, and on SIGHUP once idle.
 */
#ifndef PETREL_SERVER_H
#define PETREL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

typedef void (*server_init_fn)(const char *service, char **argv);
typedef void (*server_exit_fn)(void);

struct single_server_spec {
	const char *name;		/* program name for logging */
	/* One client on fd; the skeleton closes fd on return. */
	void (*service)(int fd, const char *service, char **argv);
	server_init_fn pre_init;	/* optional, before privilege drop */
	server_init_fn post_init;	/* optional, after privilege drop */
	server_exit_fn pre_exit;	/* optional */
};

struct multi_server_spec {
	const char *name;
	/*
	 * A new client: the daemon owns fd from now on and must call
	 * multi_server_disconnect(fd) when done with it (which closes it).
	 */
	void (*accept)(int fd, const char *service, char **argv);
	server_init_fn pre_init;
	server_init_fn post_init;
	server_exit_fn pre_exit;
};

struct trigger_server_spec {
	const char *name;
	/* One request of len bytes (1..TRIGGER_BUF_SIZE); may be a wakeup. */
	void (*service)(const char *buf, size_t len, const char *service,
	    char **argv);
	server_init_fn pre_init;
	server_init_fn post_init;
	server_exit_fn pre_exit;
};

#define TRIGGER_BUF_SIZE	1024

int single_server_main(int argc, char **argv,
    const struct single_server_spec *spec);
int multi_server_main(int argc, char **argv,
    const struct multi_server_spec *spec);
int trigger_server_main(int argc, char **argv,
    const struct trigger_server_spec *spec);

/*
 * trigger-server only (see trigger_server.c): the event loop (valid
 * from pre_init on), resident mode (no max_use, no max_idle), and the
 * busy flag that defers exit while the daemon has work outstanding.
 */
struct event_base *trigger_server_base(void);
void trigger_server_resident(void);
void trigger_server_busy(bool busy);
/* True once the process no longer accepts requests (SIGHUP, a table
 * change, max_use): a resident daemon then starts no new work. */
bool trigger_server_stopping(void);

/* multi-server only: the daemon's event loop, and client hang-up. */
struct event_base *multi_server_base(void);
void multi_server_disconnect(int fd);

#endif
