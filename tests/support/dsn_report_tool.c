/*
 * dsn_report_tool.c - dsn-report-tool: print the DSN for a queue file
 *
 *	dsn-report-tool [options] QUEUE_FILE BOUNCE_LOG
 *
 * Reads the envelope of QUEUE_FILE (qfile_read_envelope()) and every
 * entry of BOUNCE_LOG (a bounce_log.h log, by path), composes the report
 * with dsn_report() and prints it: each line followed by "\n", pieces
 * of a longer line (REC_TYPE_CONT) joined to the rest of their line.
 *
 * Options:
 *	-t failure|delay|success	the kind of report (failure)
 *	-H myhostname			(mail.example.com)
 *	-N mail_name			(Petrel)
 *	-i queue_id	(the file's base name)
 *	-T now		Date: and boundary time (1700000100)
 *	-u time		Will-Retry-Until (delay)
 *	-l bytes	size limit of the returned part (the default)
 *	-r full|hdrs	override RET
 *	-o address	To: and envelope recipient (the sender)
 *	-s subject	override the Subject:
 *	-a		all recipients, whatever their NOTIFY
 *	-d		leave out recipients marked done
 *	-L		log entries: print them, one per line, instead
 *
 * Exit status: 0 (report printed), 1 (no
 * recipient to report), 2 (null sender and no -o), 65 (EX_DATAERR: a
 * corrupt queue file), 66 (EX_NOINPUT: cannot open a file), 74 (EX_IOERR),
 * 64 (usage). Test code for tests/integration/test_dsn_report.py.
 *
 * SECURITY: test code; the inputs are checked by the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bounce_log.h"
#include "buf.h"
#include "dsn_report.h"
#include "log.h"
#include "msg.h"
#include "qfile.h"
#include "queue_id.h"
#include "rec.h"

static void
usage(void)
{
	fprintf(stderr, "usage: dsn-report-tool [-t failure|delay|success] "
	    "[-H host] [-N name] [-i id] [-T now] [-u time] [-l bytes] "
	    "[-r full|hdrs] [-o to] [-s subject] [-a] [-d] [-L] "
	    "QUEUE_FILE BOUNCE_LOG\n");
	exit(EX_USAGE);
}

static int
put_line(void *ctx, int type, const char *data, size_t len)
{
	(void)ctx;
	if (fwrite(data, 1, len, stdout) != len)
		return -1;
	if (type == REC_TYPE_NORM && putchar('\n') == EOF)
		return -1;
	return 0;
}

static long
number(const char *arg)
{
	char *end;
	long val;

	errno = 0;
	val = strtol(arg, &end, 10);
	if (errno != 0 || *arg == 0 || *end != 0 || val < 0)
		usage();
	return val;
}

static void
print_entries(const struct bounce_log_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s %lld %s %s %d %s\n", e[i].recipient,
		    (long long)e[i].offset, bounce_log_action_name(e[i].action),
		    e[i].status, e[i].notify, e[i].reason);
}

int
main(int argc, char **argv)
{
	struct dsn_report_params p = {
		.type = DSN_REPORT_FAILURE,
		.myhostname = "mail.example.com",
		.now = 1700000100,
	};
	struct bounce_log_entry *entries;
	struct qfile qf;
	struct buf why;
	const char *slash;
	bool list = false;
	size_t n;
	int ch, fd, rc;

	log_init("dsn-report-tool");
	while ((ch = getopt(argc, argv, "t:H:N:i:T:u:l:r:o:s:adL")) != -1) {
		switch (ch) {
		case 't':
			if (strcmp(optarg, "failure") == 0)
				p.type = DSN_REPORT_FAILURE;
			else if (strcmp(optarg, "delay") == 0)
				p.type = DSN_REPORT_DELAY;
			else if (strcmp(optarg, "success") == 0)
				p.type = DSN_REPORT_SUCCESS;
			else
				usage();
			break;
		case 'H':
			p.myhostname = optarg;
			break;
		case 'N':
			p.mail_name = optarg;
			break;
		case 'i':
			p.queue_id = optarg;
			break;
		case 'T':
			p.now = (time_t)number(optarg);
			break;
		case 'u':
			p.retry_until = (time_t)number(optarg);
			break;
		case 'l':
			p.size_limit = (size_t)number(optarg);
			break;
		case 'r':
			if (strcmp(optarg, "full") == 0)
				p.ret = DSN_RETURN_FULL;
			else if (strcmp(optarg, "hdrs") == 0)
				p.ret = DSN_RETURN_HEADERS;
			else
				usage();
			break;
		case 'o':
			p.to = optarg;
			break;
		case 's':
			p.subject = optarg;
			break;
		case 'a':
			p.all_recipients = true;
			break;
		case 'd':
			p.skip_done = true;
			break;
		case 'L':
			list = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	if (p.queue_id == NULL) {
		slash = strrchr(argv[optind], '/');
		p.queue_id = slash ? slash + 1 : argv[optind];
	}
	if (!queue_id_valid(p.queue_id))
		msg_fatal_status(EX_USAGE, "bad queue ID \"%s\" (use -i)",
		    p.queue_id);
	if (bounce_log_read_all_path(argv[optind + 1], &entries, &n) < 0)
		msg_fatal_status(EX_NOINPUT, "read %s: %m", argv[optind + 1]);
	if (list) {
		print_entries(entries, n);
		bounce_log_free_all(entries, n);
		return fflush(stdout) == EOF ? EX_IOERR : 0;
	}
	if ((fd = open(argv[optind], O_RDONLY)) < 0)
		msg_fatal_status(EX_NOINPUT, "open %s: %m", argv[optind]);
	buf_init(&why, 64);
	if ((rc = qfile_read_envelope(fd, &qf, &why)) != QFILE_OK)
		msg_fatal_status(rc == QFILE_CORRUPT ? EX_DATAERR : EX_IOERR,
		    "%s: %s", argv[optind], why.data);
	rc = dsn_report(fd, &qf, entries, n, &p, put_line, NULL, &why);
	if (rc == DSN_REPORT_CORRUPT || rc < 0)
		msg_fatal_status(rc == DSN_REPORT_CORRUPT ? EX_DATAERR
		    : EX_IOERR, "%s: %s", argv[optind], why.data);
	qfile_fini(&qf);
	bounce_log_free_all(entries, n);
	buf_fini(&why);
	(void)close(fd);
	if (rc == DSN_REPORT_EMPTY) {
		fprintf(stderr, "dsn-report-tool: no recipient to report\n");
		return 1;
	}
	if (rc == DSN_REPORT_NOSENDER) {
		fprintf(stderr, "dsn-report-tool: null sender\n");
		return 2;
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		return EX_IOERR;
	return 0;
}
