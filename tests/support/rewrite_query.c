/*
 * rewrite_query.c - rewrite-query: ask trivial-rewrite as Petrel would
 *
 *	rewrite-query [-v] [-c dir] [-o name=value] rewrite local|remote ADDR
 *		prints the address in canonical form
 *	rewrite-query [-v] [-c dir] resolve ADDR
 *		prints "transport nexthop recipient class", separated
 *		by tabs (the error transport's nexthop holds spaces)
 *	rewrite-query [-v] [-c dir] -i
 *		one request per stdin line ("rewrite RULE ADDR" or
 *		"resolve ADDR"; ADDR is the rest of the line), one answer
 *		line each, "TEMPFAIL <reason>" on failure; the connection
 *		stays open, so a test can follow one client through a
 *		restart of the service
 *
 * Exit status: 0, 75 (EX_TEMPFAIL: the client library failed, reason
 * on stderr), 64 (usage). With -c it reads that instance's main.cf
 * (queue_directory tells where the service listens); -o overrides a
 * parameter (repeatable), e.g. -o rewrite_service_name=rewrite2 to ask
 * a second service that runs with other settings. Test code for
 * tests/integration/test_rewrite.py, through the real client modules
 * (rewrite_clnt.c, resolve_clnt.c).
 *
 * SECURITY: test code; lines are read with getline() (no fixed buffer).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "resolve_clnt.h"
#include "rewrite_clnt.h"

static void
usage(void)
{
	fprintf(stderr, "usage: rewrite-query [options] rewrite "
	    "local|remote ADDR\n"
	    "       rewrite-query [options] resolve ADDR\n"
	    "       rewrite-query [options] -i\n"
	    "options: -c dir, -o name=value, -v\n");
	exit(EX_USAGE);
}

static void
answer(const char *text)
{
	printf("%s\n", text);
	if (fflush(stdout) == EOF || ferror(stdout))
		msg_fatal("write stdout: %m");
}

/* One request; the answer line goes to out. 0, or -1 (out: the reason). */
static int
query(const char *what, const char *rule, const char *addr, struct buf *out)
{
	struct resolve_reply r;
	int rc;

	buf_reset(out);
	if (strcmp(what, "rewrite") == 0) {
		if ((rc = rewrite_clnt(rule, addr, out)) < 0)
			buf_set(out, rewrite_clnt_error());
		return rc;
	}
	resolve_reply_init(&r);
	if ((rc = resolve_clnt(addr, &r)) < 0)
		buf_set(out, rewrite_clnt_error());
	else
		buf_printf(out, "%s\t%s\t%s\t%s", r.transport.data,
		    r.nexthop.data, r.recipient.data,
		    resolve_class_name(r.addr_class));
	resolve_reply_fini(&r);
	return rc;
}

/* "rewrite RULE ADDR" or "resolve ADDR"; ADDR may hold spaces. */
static int
interactive(void)
{
	struct buf out, text;
	char *line = NULL, *rule, *addr;
	size_t cap = 0;
	ssize_t len;

	buf_init(&out, 256);
	buf_init(&text, 256);
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n'
		    || line[len - 1] == '\r'))
			line[--len] = 0;
		rule = NULL;
		if (strncmp(line, "rewrite ", 8) == 0) {
			rule = line + 8;
			if ((addr = strchr(rule, ' ')) == NULL) {
				answer("USAGE rewrite RULE ADDR");
				continue;
			}
			*addr++ = 0;
		} else if (strncmp(line, "resolve ", 8) == 0) {
			addr = line + 8;
		} else {
			answer("USAGE rewrite RULE ADDR | resolve ADDR");
			continue;
		}
		if (query(rule ? "rewrite" : "resolve", rule, addr, &out) < 0) {
			buf_set(&text, "TEMPFAIL ");
			buf_puts(&text, out.data);
			answer(text.data);
		} else {
			answer(out.data);
		}
	}
	free(line);
	buf_fini(&out);
	buf_fini(&text);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct argv *overrides = argv_new();
	struct buf out;
	bool loop = false;
	int ch, rc;

	log_init("rewrite-query");
	while ((ch = getopt(argc, argv, "c:io:v")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'i':
			loop = true;
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
	if (conf_load(dir, overrides) < 0)
		return EX_CONFIG;
	argv_free(overrides);
	if (loop) {
		if (argc != 0)
			usage();
		return interactive();
	}
	if (!((argc == 3 && strcmp(argv[0], "rewrite") == 0)
	    || (argc == 2 && strcmp(argv[0], "resolve") == 0)))
		usage();
	buf_init(&out, 256);
	if (query(argv[0], argc == 3 ? argv[1] : NULL, argv[argc - 1],
	    &out) < 0) {
		fprintf(stderr, "rewrite-query: %s\n", out.data);
		rc = EX_TEMPFAIL;
	} else {
		answer(out.data);
		rc = 0;
	}
	buf_fini(&out);
	return rc;
}
