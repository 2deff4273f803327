/*
 * dict_query.c - dict-query, look keys up in a table (test driver)
 *
 *	dict-query [-f] [-v] TYPE:NAME KEY
 *		prints the value; exits 0 (found), 1 (not found) or 75
 *		(temporary failure, reason on stderr), 64 on bad usage
 *	dict-query [-f] [-v] -i TYPE:NAME
 *		reads one key per line from stdin and answers each with
 *		one line: "FOUND <value>", "NOTFOUND" or "TEMPFAIL
 *		<reason>"; the table stays open, so a test can follow one
 *		process through a database outage
 *
 * -f folds keys to lower case (DICT_FLAG_FOLD); -v raises msg_verbose.
 * Diagnostics go to stderr. For the integration tests until `petrel map
 * -q` can do the same.
 *
 * SECURITY: test code; lines are read with getline() (no fixed buffer)
 * and the table layer bounds keys.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "log.h"
#include "msg.h"

static void
usage(void)
{
	fprintf(stderr, "usage: dict-query [-f] [-v] TYPE:NAME KEY\n"
	    "       dict-query [-f] [-v] -i TYPE:NAME\n");
	exit(EX_USAGE);
}

/* Write one answer line; fatal when stdout is gone. */
static void
answer(const char *what, const char *text)
{
	if (text)
		printf("%s %s\n", what, text);
	else
		printf("%s\n", what);
	if (fflush(stdout) == EOF || ferror(stdout))
		msg_fatal("write stdout: %m");
}

static int
interactive(struct dict *d)
{
	struct buf value;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	buf_init(&value, 256);
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n'
		    || line[len - 1] == '\r'))
			line[--len] = 0;
		switch (dict_lookup(d, line, &value)) {
		case DICT_FOUND:
			answer("FOUND", value.data);
			break;
		case DICT_NOTFOUND:
			answer("NOTFOUND", NULL);
			break;
		case DICT_TEMPFAIL:
			answer("TEMPFAIL", dict_error(d));
			break;
		}
	}
	free(line);
	buf_fini(&value);
	return 0;
}

int
main(int argc, char **argv)
{
	struct buf value;
	struct dict *d;
	int ch, flags = 0, rc = 0;
	int iflag = 0;

	log_init("dict-query");
	while ((ch = getopt(argc, argv, "fiv")) != -1) {
		switch (ch) {
		case 'f':
			flags |= DICT_FLAG_FOLD;
			break;
		case 'i':
			iflag = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != (iflag ? 1 : 2))
		usage();
	d = dict_open(argv[optind], O_RDONLY, flags);
	if (iflag) {
		rc = interactive(d);
	} else {
		buf_init(&value, 256);
		switch (dict_lookup(d, argv[optind + 1], &value)) {
		case DICT_FOUND:
			answer(value.data, NULL);
			rc = 0;
			break;
		case DICT_NOTFOUND:
			rc = 1;
			break;
		case DICT_TEMPFAIL:
			fprintf(stderr, "dict-query: %s\n", dict_error(d));
			rc = EX_TEMPFAIL;
			break;
		}
		buf_fini(&value);
	}
	dict_close(d);
	return rc;
}
