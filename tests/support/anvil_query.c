/*
 * anvil_query.c - anvil-query: talk to anvil as smtpd will
 *
 *	anvil-query [-v] [-c dir] [-o name=value] REQUEST IDENT
 *		one request (connect, disconnect, message, recipient,
 *		lookup); prints the answer line
 *	anvil-query [-v] [-c dir] [-o name=value] -i
 *		one "REQUEST IDENT" per stdin line, one answer line each;
 *		"close" drops the connection (anvil forgets this
 *		process's connections). The connection stays open between
 *		lines, as in smtpd.
 *
 * Answers: "OK count=N rate=N" (connect), "OK" (disconnect),
 * "OK rate=N" (message, recipient), "OK count=N rate=N message_rate=N
 * recipient_rate=N" (lookup), "FAIL <reason>" when the client library
 * returned -1. Exit status: 0, 75 (EX_TEMPFAIL) after a failure in the
 * one-request form, 64 (usage). Test code for
 * tests/integration/test_anvil.py, through the real client module
 * (anvil_clnt.c).
 *
 * SECURITY: test code; lines are read with getline() (no fixed buffer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "anvil_clnt.h"
#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "msg.h"

static void
usage(void)
{
	fprintf(stderr, "usage: anvil-query [options] REQUEST IDENT\n"
	    "       anvil-query [options] -i\n"
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

/* One request; the answer line goes to out. 0, -1, or -2 (usage). */
static int
query(const char *what, const char *ident, struct buf *out)
{
	int count = 0, rate = 0, mail = 0, rcpt = 0, rc;

	buf_reset(out);
	if (strcmp(what, "connect") == 0) {
		if ((rc = anvil_clnt_connect(ident, &count, &rate)) == 0)
			buf_printf(out, "OK count=%d rate=%d", count, rate);
	} else if (strcmp(what, "disconnect") == 0) {
		if ((rc = anvil_clnt_disconnect(ident)) == 0)
			buf_puts(out, "OK");
	} else if (strcmp(what, "message") == 0) {
		if ((rc = anvil_clnt_message(ident, &rate)) == 0)
			buf_printf(out, "OK rate=%d", rate);
	} else if (strcmp(what, "recipient") == 0) {
		if ((rc = anvil_clnt_recipient(ident, &rate)) == 0)
			buf_printf(out, "OK rate=%d", rate);
	} else if (strcmp(what, "lookup") == 0) {
		if ((rc = anvil_clnt_lookup(ident, &count, &rate, &mail,
		    &rcpt)) == 0)
			buf_printf(out, "OK count=%d rate=%d message_rate=%d "
			    "recipient_rate=%d", count, rate, mail, rcpt);
	} else {
		buf_puts(out, "USAGE REQUEST IDENT");
		return -2;
	}
	if (rc < 0)
		buf_printf(out, "FAIL %s", anvil_clnt_error());
	return rc;
}

static int
interactive(void)
{
	struct buf out;
	char *line = NULL, *ident;
	size_t cap = 0;
	ssize_t len;

	buf_init(&out, 128);
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n'
		    || line[len - 1] == '\r'))
			line[--len] = 0;
		if (strcmp(line, "close") == 0) {
			anvil_clnt_close();
			answer("OK");
			continue;
		}
		if ((ident = strchr(line, ' ')) == NULL) {
			answer("USAGE REQUEST IDENT");
			continue;
		}
		*ident++ = 0;
		(void)query(line, ident, &out);
		answer(out.data);
	}
	free(line);
	buf_fini(&out);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct argv *overrides = argv_new();
	struct buf out;
	int loop = 0, ch, rc;

	log_init("anvil-query");
	while ((ch = getopt(argc, argv, "c:io:v")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'i':
			loop = 1;
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
	if (argc != 2)
		usage();
	buf_init(&out, 128);
	rc = query(argv[0], argv[1], &out);
	if (rc == -2)
		usage();
	answer(out.data);
	buf_fini(&out);
	return rc < 0 ? EX_TEMPFAIL : 0;
}
