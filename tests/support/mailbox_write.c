/*
 * mailbox_write.c - mailbox-write: deliver one message as local would
 *
 *	mailbox-write [-d] [-p N] [-t when] [-l limit] mbox|maildir PATH
 *	    SENDER RECIPIENT < message
 *
 * Reads a message from standard input (lines ending in "\n" or "\r\n";
 * a last line without one counts) and delivers it with mbox_deliver()
 * or maildir_deliver(), with "Return-Path: <SENDER>" and
 * "Delivered-To: RECIPIENT" in front. -d takes the dot lock too (mbox),
 * -p N hands lines longer than N bytes to the writer in pieces of N
 * (the MBOX_SRC_PART path), -t sets the From_ line time (seconds since
 * the epoch), -l the size limit. For maildir the new file's path is
 * printed on standard output.
 *
 * Exit status: 0 (delivered), 75 (EX_TEMPFAIL: temporary failure),
 * 69 (EX_UNAVAILABLE: permanent failure), 74 (EX_IOERR: reading the
 * message failed), 64 (usage); the reason, with its enhanced status
 * code, on standard error. Test code for
 * tests/integration/test_mailbox_readers.py.
 *
 * SECURITY: test code; lines are read with getline() (no fixed buffer).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "maildir.h"
#include "mbox.h"
#include "msg.h"
#include "str.h"

struct stdin_src {
	char *line;			/* getline() buffer */
	size_t size;
	size_t piece;			/* > 0: split longer lines */
	size_t len, off;		/* the line; bytes handed out */
	bool have;			/* line holds a line not yet finished */
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: mailbox-write [-d] [-p N] [-t when] "
	    "[-l limit] mbox|maildir PATH SENDER RECIPIENT < message\n");
	exit(EX_USAGE);
}

static int
stdin_next(void *ctx, struct buf *out, struct buf *why)
{
	struct stdin_src *s = ctx;
	ssize_t n;
	size_t rest;

	if (!s->have) {
		errno = 0;
		n = getline(&s->line, &s->size, stdin);
		if (n < 0) {
			if (ferror(stdin)) {
				buf_printf(why, "read stdin: %s",
				    strerror(errno));
				return -1;
			}
			return MBOX_SRC_END;
		}
		s->len = (size_t)n;
		if (s->len > 0 && s->line[s->len - 1] == '\n')
			s->len--;
		if (s->len > 0 && s->line[s->len - 1] == '\r')
			s->len--;
		s->off = 0;
		s->have = true;
	}
	rest = s->len - s->off;
	if (s->piece > 0 && rest > s->piece) {
		buf_setn(out, s->line + s->off, s->piece);
		s->off += s->piece;
		return MBOX_SRC_PART;
	}
	buf_setn(out, s->line + s->off, rest);
	s->have = false;
	return MBOX_SRC_LINE;
}

static long
number(const char *text)
{
	long val;

	if (str_to_long(text, &val) < 0 || val < 0)
		usage();
	return val;
}

int
main(int argc, char **argv)
{
	struct stdin_src src = {0};
	struct mbox_opts mopts = {0};
	struct maildir_opts dopts = {0};
	struct mbox_msg msg = {0};
	struct buf why, name, rp, dt;
	const char *headers[3];
	int ch, ret;

	log_init("mailbox-write");
	while ((ch = getopt(argc, argv, "dl:p:t:")) != -1) {
		switch (ch) {
		case 'd':
			mopts.flags |= MBOX_FLAG_DOT_LOCK;
			break;
		case 'l':
			mopts.size_limit = dopts.size_limit = number(optarg);
			break;
		case 'p':
			src.piece = (size_t)number(optarg);
			break;
		case 't':
			msg.when = (time_t)number(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4)
		usage();
	buf_init(&why, 64);
	buf_init(&name, 64);
	buf_init(&rp, 64);
	buf_init(&dt, 64);
	buf_printf(&rp, "Return-Path: <%s>", argv[optind + 2]);
	buf_printf(&dt, "Delivered-To: %s", argv[optind + 3]);
	headers[0] = buf_str(&rp);
	headers[1] = buf_str(&dt);
	headers[2] = NULL;
	msg.sender = argv[optind + 2];
	msg.headers = headers;
	msg.next = stdin_next;
	msg.ctx = &src;
	if (strcmp(argv[optind], "mbox") == 0) {
		ret = mbox_deliver(argv[optind + 1], &mopts, &msg, &why);
	} else if (strcmp(argv[optind], "maildir") == 0) {
		ret = maildir_deliver(argv[optind + 1], &dopts, &msg, &name,
		    &why);
		if (ret == MBOX_OK)
			printf("%s\n", buf_str(&name));
	} else {
		usage();
	}
	if (ret != MBOX_OK)
		fprintf(stderr, "mailbox-write: %s\n", buf_str(&why));
	free(src.line);
	buf_fini(&why);
	buf_fini(&name);
	buf_fini(&rp);
	buf_fini(&dt);
	if (fflush(stdout) == EOF)
		return EX_IOERR;
	switch (ret) {
	case MBOX_OK:
		return 0;
	case MBOX_TEMP:
		return EX_TEMPFAIL;
	case MBOX_PERM:
		return EX_UNAVAILABLE;
	default:
		return EX_IOERR;
	}
}
