/*
 * bounce_request.c - bounce-request: one bounce_clnt_request() call
 *
 *	bounce-request [-v] [-c dir] [-o name=value] REQUEST QUEUE ID
 *
 * Reads main.cf (of dir), changes to queue_directory as qmgr does, and
 * sends REQUEST (flush, expire, trace) for message ID in QUEUE to the
 * bounce service through the client module (bounce_clnt.c). Exit
 * status: 0 (done), 75 (EX_TEMPFAIL: not done, the reason on stderr),
 * 64 (usage), 78 (EX_CONFIG). Test code for
 * tests/integration/test_bounce.py: not installed.
 *
 * SECURITY: test code; the arguments go to the daemon, which checks
 * them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
#include "bounce_clnt.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "params.h"

static void
usage(void)
{
	fprintf(stderr, "usage: bounce-request [-v] [-c dir] "
	    "[-o name=value] REQUEST QUEUE ID\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct argv *overrides = argv_new();
	struct buf why;
	int ch, rc;

	log_init("bounce-request");
	while ((ch = getopt(argc, argv, "c:o:v")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'o':
			argv_add(overrides, optarg);
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();
	if (conf_load(dir, overrides) < 0)
		return EX_CONFIG;
	argv_free(overrides);
	if (chdir(var_queue_directory) < 0)
		msg_fatal_status(EX_CONFIG, "chdir %s: %m",
		    var_queue_directory);
	buf_init(&why, 128);
	if (bounce_clnt_request(argv[0], argv[1], argv[2], &why) < 0) {
		fprintf(stderr, "bounce-request: %s\n", why.data);
		rc = EX_TEMPFAIL;
	} else {
		rc = 0;
	}
	buf_fini(&why);
	return rc;
}
