/*
 * dict_query.c - dict-query: drive tables as a Petrel program would
 *
 *	dict-query [-c dir] [-f] [-v] TYPE:NAME KEY
 *		look KEY up; prints the value; exits 0 (found), 1 (not
 *		found), 75 (temporary failure, reason on stderr)
 *	dict-query [-c dir] [-f] [-v] -i TYPE:NAME
 *		one key per stdin line, one answer line each: "FOUND
 *		<value>", "NOTFOUND" or "TEMPFAIL <reason>"; the table
 *		stays open, so a test can follow one process through a
 *		database outage or a proxymap restart
 *	dict-query [-c dir] [-f] [-v] -u TYPE:NAME KEY VALUE
 *	dict-query [-c dir] [-f] [-v] -d TYPE:NAME KEY
 *		update or delete (the table is opened O_RDWR|O_CREAT,
 *		so proxy: tables go to proxywrite); exits 0 (the key
 *		existed), 1 (it did not), 75 (temporary failure)
 *
 * With -c it reads that instance's main.cf (queue_directory tells where
 * proxymap listens), so that proxy: tables work. -f folds keys
 * (DICT_FLAG_FOLD); -v raises msg_verbose. Test code for the
 * integration tests (test_sql.py, test_proxy.py).
 *
 * SECURITY: test code; lines are read with getline() (no fixed buffer)
 * and the table layer bounds keys.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "dict.h"
#include "dict_proxy.h"
#include "log.h"
#include "msg.h"

static void
usage(void)
{
	fprintf(stderr, "usage: dict-query [-c dir] [-f] [-v] TYPE:NAME KEY\n"
	    "       dict-query [-c dir] [-f] [-v] -i TYPE:NAME\n"
	    "       dict-query [-c dir] [-f] [-v] -u TYPE:NAME KEY VALUE\n"
	    "       dict-query [-c dir] [-f] [-v] -d TYPE:NAME KEY\n");
	exit(EX_USAGE);
}

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

static int
exit_status(struct dict *d, enum dict_result rc)
{
	switch (rc) {
	case DICT_FOUND:
		return 0;
	case DICT_NOTFOUND:
		return 1;
	default:
		fprintf(stderr, "dict-query: %s\n", dict_error(d));
		return EX_TEMPFAIL;
	}
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct buf value;
	struct dict *d;
	int ch, flags = 0, rc, mode = 'q', want;

	log_init("dict-query");
	while ((ch = getopt(argc, argv, "c:fiduv")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'f':
			flags |= DICT_FLAG_FOLD;
			break;
		case 'i':
		case 'd':
		case 'u':
			mode = ch;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	want = mode == 'i' ? 1 : mode == 'u' ? 3 : 2;
	if (argc - optind != want)
		usage();
	if (dir != NULL && conf_load(dir, NULL) < 0)
		return EX_CONFIG;
	mail_dict_init();
	d = dict_open(argv[optind], mode == 'u' || mode == 'd'
	    ? O_RDWR | O_CREAT : O_RDONLY, flags);
	buf_init(&value, 256);
	switch (mode) {
	case 'i':
		rc = interactive(d);
		break;
	case 'u':
		rc = exit_status(d, dict_update(d, argv[optind + 1],
		    argv[optind + 2]));
		break;
	case 'd':
		rc = exit_status(d, dict_delete(d, argv[optind + 1]));
		break;
	default:
		rc = exit_status(d, dict_lookup(d, argv[optind + 1], &value));
		if (rc == 0)
			answer(value.data, NULL);
		break;
	}
	buf_fini(&value);
	dict_close(d);
	return rc;
}
