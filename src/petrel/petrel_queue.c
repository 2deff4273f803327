/*
 * petrel_queue.c - `petrel queue` (Postfix's postqueue): list, flush
 *
 * usage: petrel queue [-c dir] [-v] -p | -j | -f | -i ID | -s site
 *
 *	-p	List the queue in mailq's format. This is mailq and
 *		`sendmail -bp`.
 *	-j	List the queue as JSON, one object per message and line.
 *		Both ask the showq service (public/showq under
 *		queue_directory, see src/showq/showq.c for the formats)
 *		and copy its answer to standard output as it arrives.
 *	-f	Flush: ask the queue manager to try all queued mail now,
 *		with one 'F' written to public/$qmgr_service_name (a fifo
 *		or a unix socket).
 *	-i ID	Deliver one deferred message now: 'i' and the queue ID
 *		written to public/$qmgr_service_name in one request; qmgr
 *		moves deferred/ID to incoming/ and delivers it at once,
 *		even to a transport it had given up on for a while (an ID
 *		that is not in deferred/ is logged by qmgr and ignored).
 *		The ID is checked here (EX_USAGE when it is not one).
 *	-s site	All mail for a site: needs the flush service, which
 *		does not exist yet: fails with EX_UNAVAILABLE.
 *	-c dir, -v	as everywhere.
 *
 * Exactly one of -p, -j, -f, -i, -s. main.cf is read from the
 * configuration directory and the command runs in queue_directory.
 *
 * Exit status: 0; EX_USAGE (64) bad usage; EX_CONFIG (78) main.cf or
 * queue_directory unusable; EX_NOPERM (77) public/ is out of reach
 * (petrel is not set-gid setgid_group, and the caller is neither root
 * nor mail_owner nor in that group); EX_UNAVAILABLE (69) the mail
 * system is not running ("petrel: fatal: the mail system is not
 * running", "petrel: fatal: the queue manager is not running"), the
 * showq service failed or timed out, or -s; EX_IOERR (74) writing
 * standard output failed.
 *
 * SECURITY: what showq sends is copied as it is: showq has made it
 * printable (text) or ASCII (JSON).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "file.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"
#include "trigger.h"
#include "unix_connect.h"
#include "proto_names.h"
#include "queue_id.h"
#include "stream.h"

/* The showq service's socket, and its request values (showq.c). */
#define QUEUE_SHOWQ_PATH	"public/showq"
#define QUEUE_REQ_TEXT		"text"
#define QUEUE_REQ_JSON		"json"
/* The requests that make qmgr flush the queue, or one message. */
#define QUEUE_QMGR_FLUSH	'F'
#define QUEUE_QMGR_FLUSH_ID	'i'
/* Bytes copied from showq to stdout at a time. */
#define QUEUE_COPY_SIZE		65536

enum queue_mode {
	QUEUE_NONE,
	QUEUE_LIST_TEXT,	/* -p */
	QUEUE_LIST_JSON,	/* -j */
	QUEUE_FLUSH,		/* -f */
	QUEUE_FLUSH_ID,		/* -i */
	QUEUE_FLUSH_SITE,	/* -s */
};

/* Load main.cf and go to queue_directory. */
static void
queue_enter(const char *dir)
{
	char *abs_dir;
	int rc;

	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	abs_dir = petrel_abs_dir(dir);
	rc = conf_load(abs_dir, NULL);
	free(abs_dir);
	if (rc < 0)
		exit(EX_CONFIG);
	if (chdir(var_queue_directory) < 0)
		msg_fatal_status(EX_CONFIG, "chdir %s: %m",
		    var_queue_directory);
}

/* A failed connect or open of a public endpoint: exit with a reason. */
static _Noreturn void
queue_unreachable(const char *path, const char *who)
{
	int err = errno;

	if (err == EACCES || err == EPERM)
		msg_fatal_status(EX_NOPERM, "cannot reach %s: %s", path,
		    strerror(err));
	if (err == ENOENT || err == ECONNREFUSED || err == ENXIO)
		msg_fatal_status(EX_UNAVAILABLE, "%s is not running (%s: %s)",
		    who, path, strerror(err));
	msg_fatal_status(EX_UNAVAILABLE, "cannot reach %s: %s: %s", who,
	    path, strerror(err));
}


static int
queue_timeout_ms(void)
{
	return var_ipc_timeout > INT_MAX / 1000 ? INT_MAX
	    : var_ipc_timeout * 1000;
}

/*
 * Ask showq for the listing and copy it to stdout. showq sends plain
 * bytes and closes; a listing that does not end with a newline was cut
 * short (showq died), which is reported after what did arrive. (A JSON
 * listing cut between two lines cannot be told from a shorter one: the
 * protocol has no end marker.)
 */
static int
queue_list(const char *request)
{
	struct pollfd pfd;
	struct stream *s;
	struct buf copy;
	size_t total = 0;
	ssize_t n;
	char last = 0;
	int fd, ready;

	if ((fd = unix_connect(QUEUE_SHOWQ_PATH, 0, 0)) < 0)
		queue_unreachable(QUEUE_SHOWQ_PATH, "the mail system");
	s = stream_new(fd);
	stream_set_timeout(s, queue_timeout_ms());
	if (attr_send(s, A_STR(ATTR_REQUEST, request), A_END) < 0)
		msg_fatal_status(EX_UNAVAILABLE, "cannot send the request to "
		    "the showq service: %s", stream_error(s) == STREAM_ERR_IO
		    ? strerror(errno) : "connection lost");
	fd = stream_release(s);

	buf_init(&copy, QUEUE_COPY_SIZE);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		ready = poll(&pfd, 1, queue_timeout_ms());
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			msg_fatal_status(EX_UNAVAILABLE, "poll: %m");
		if (ready == 0)
			msg_fatal_status(EX_UNAVAILABLE, "timeout reading from "
			    "the showq service");
		n = read(fd, copy.data, copy.cap - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			msg_fatal_status(EX_UNAVAILABLE, "read from the showq "
			    "service: %m");
		if (n == 0)
			break;
		if (file_write_all(STDOUT_FILENO, copy.data, (size_t)n) < 0) {
			msg_error("write standard output: %m");
			(void)close(fd);
			buf_fini(&copy);
			return EX_IOERR;
		}
		total += (size_t)n;
		last = copy.data[n - 1];
	}
	(void)close(fd);
	buf_fini(&copy);
	/* An empty queue is an empty JSON listing, but never empty text. */
	if (total == 0 && strcmp(request, QUEUE_REQ_TEXT) == 0)
		msg_fatal_status(EX_UNAVAILABLE, "no answer from the showq "
		    "service (see the mail log)");
	if (total > 0 && last != '\n')
		msg_fatal_status(EX_UNAVAILABLE, "the showq service ended the "
		    "listing early (see the mail log)");
	return 0;
}

/*
 * One request to qmgr through its public fifo (or socket): 'F', or 'i'
 * and a queue ID (id not NULL).
 */
static int
queue_flush(const char *id)
{
	struct buf path, req;

	buf_init(&path, 64);
	buf_init(&req, 32);
	buf_printf(&path, "public/%s", var_qmgr_service_name);
	if (id != NULL)
		buf_printf(&req, "%c%s", QUEUE_QMGR_FLUSH_ID, id);
	else
		buf_putc(&req, QUEUE_QMGR_FLUSH);
	if (trigger_send(path.data, req.data, req.len) < 0)
		queue_unreachable(path.data, "the queue manager");
	buf_fini(&path);
	buf_fini(&req);
	return 0;
}

static void
queue_set_mode(enum queue_mode *mode, enum queue_mode want)
{
	if (*mode != QUEUE_NONE && *mode != want) {
		msg_error("queue: specify only one of -f, -i, -j, -p, -s");
		petrel_usage();
	}
	*mode = want;
}

int
petrel_queue(const char *dir, int argc, char **argv)
{
	enum queue_mode mode = QUEUE_NONE;
	const char *arg = NULL;
	int ch;

	optind = 0;			/* restart getopt (glibc) */
	while ((ch = petrel_getopt(argc, argv, "c:fi:jps:v")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'f':
			queue_set_mode(&mode, QUEUE_FLUSH);
			break;
		case 'i':
			queue_set_mode(&mode, QUEUE_FLUSH_ID);
			arg = optarg;
			break;
		case 'j':
			queue_set_mode(&mode, QUEUE_LIST_JSON);
			break;
		case 'p':
			queue_set_mode(&mode, QUEUE_LIST_TEXT);
			break;
		case 's':
			queue_set_mode(&mode, QUEUE_FLUSH_SITE);
			arg = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			petrel_usage();
		}
	}
	if (optind < argc) {
		msg_error("queue: unexpected argument \"%s\"", argv[optind]);
		petrel_usage();
	}
	switch (mode) {
	case QUEUE_NONE:
		msg_error("queue: specify one of -f, -i, -j, -p, -s");
		petrel_usage();
	case QUEUE_FLUSH_ID:
		if (!queue_id_valid(arg)) {
			msg_error("queue: \"%s\" is not a queue ID", arg);
			return EX_USAGE;
		}
		break;
	case QUEUE_FLUSH_SITE:
		msg_fatal_status(EX_UNAVAILABLE, "queue -s: delivering the "
		    "mail for one site on demand is not available yet (there "
		    "is no flush service)");
	case QUEUE_LIST_TEXT:
	case QUEUE_LIST_JSON:
	case QUEUE_FLUSH:
		break;
	}
	queue_enter(dir);
	if (mode == QUEUE_FLUSH)
		return queue_flush(NULL);
	if (mode == QUEUE_FLUSH_ID)
		return queue_flush(arg);
	return queue_list(mode == QUEUE_LIST_JSON ? QUEUE_REQ_JSON
	    : QUEUE_REQ_TEXT);
}
