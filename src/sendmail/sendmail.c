/*
 * sendmail.c - Sendmail-compatible submission, mailq and newaliases
 *
 * usage:	sendmail [options] [recipient ...] < message
 *		mailq		(as sendmail -bp)
 *		newaliases	(as sendmail -bi)
 *
 * Mail clients, cron and scripts hand a message to the mail system by
 * piping it into sendmail. sendmail reads the message from standard
 * input as it arrives, never all of it into memory, turns it into
 * records (rec.h: one NORM per line, CRLF and bare CR line endings
 * becoming plain line ends, lines longer than line_length_limit split
 * into CONT pieces) and writes them, behind the envelope, into the
 * standard input of "$command_directory/postdrop -c <config_dir>"
 * (MAIL_CONFIG set too), which puts the message into maildrop/ for
 * pickup. The record sequence is a local submission (cleanup_clnt.h);
 * sendmail runs cleanup_clnt_check() on its own output, which also
 * counts the size against message_size_limit.
 *
 * Options (Sendmail's; those marked "ignored" are accepted for
 * compatibility and have no effect):
 *	-bm	deliver mail (default)
 *	-bi, -I	rebuild the alias databases (newaliases)
 *	-bp	list the queue (mailq): runs `petrel queue -p`
 *	-bs	SMTP on standard input: not available yet, EX_UNAVAILABLE
 *	-bv	verify recipients: not available yet, EX_UNAVAILABLE
 *	-bX	other modes: EX_USAGE
 *	-q...	process the queue: runs `petrel queue -f`
 *	-B type	body type 7BIT or 8BITMIME (any case)
 *	-C path	configuration file or directory (a file: its directory)
 *	-c dir	configuration directory (as every Petrel command; Sendmail
 *		and Postfix ignore -c)
 *	-F name	sender full name (else $NAME); no control characters,
 *		at most 1024 bytes
 *	-f addr	envelope sender (also -r); "" or "<>" is the null sender;
 *		default: the login name of the real user ID, unqualified
 *	-i, -oi	a line with a single "." does not end the message; without
 *		it such a line ends the input (the rest is ignored)
 *	-N dsn	DSN notification: never, or a list of success, delay,
 *		failure (a NOTIFY record before every recipient)
 *	-R ret	DSN return: full or hdrs
 *	-t	also take recipients from the To:, Cc: and Bcc: headers, or,
 *		when the message has any Resent-* header, from Resent-To:,
 *		Resent-Cc: and Resent-Bcc: instead; Bcc: and Resent-Bcc:
 *		headers are removed. The header block is held in memory for
 *		this and may not exceed header_size_limit bytes.
 *	-V id	DSN envelope ID, in xtext (RFC 3461), at most 100
 *		characters once decoded; stored decoded
 *	-v	verbose (postdrop reports the queue file)
 *	-o...	other -o options, -e x, -G, -h n, -L x, -m, -n, -O x, -p x,
 *		-U, -X x, -x: ignored
 * Each recipient argument is an address list (addr_list.h): "a, b" is
 * two recipients.
 *
 * Exit status (sysexits.h):
 *	EX_OK		queued (in maildrop/, pickup's job from now on)
 *	EX_USAGE	bad option or value; "no recipients specified"
 *	EX_CONFIG	main.cf unusable
 *	EX_DATAERR	"message size exceeds message_size_limit (N
 *			bytes)", or with -t "message header exceeds
 *			header_size_limit (N bytes)": nothing is queued
 *	EX_IOERR	reading standard input failed
 *	EX_OSERR	no login name for the real user ID, or fork failed
 *	EX_UNAVAILABLE	postdrop cannot be run; modes not available yet
 *	EX_SOFTWARE	postdrop died of a signal, or an internal error
 *	other		postdrop's own status (EX_TEMPFAIL, EX_CANTCREAT,
 *			EX_NOPERM ...), after postdrop's message
 * When sendmail gives up on a message it kills postdrop with SIGTERM,
 * which removes its unfinished file: nothing half-written is queued.
 *
 * SECURITY: sendmail runs with the user's privileges only; postdrop and
 * pickup check everything it writes. Header values are parsed with
 * bounded memory (header_size_limit) and work.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "conf.h"
#include "dict.h"
#include "dict_proxy.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "mkmap.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rec.h"
#include "str.h"
#include "stream.h"

enum sm_mode {
	SM_MODE_DELIVER,
	SM_MODE_NEWALIASES,
	SM_MODE_MAILQ,
	SM_MODE_FLUSH,
	SM_MODE_SMTP,
	SM_MODE_VERIFY,
};

struct sm_opts {
	enum sm_mode mode;
	const char *config_dir;
	const char *sender;		/* NULL: login name */
	const char *full_name;
	const char *ret;		/* "full", "hdrs" or NULL */
	const char *body_type;		/* "7BIT", "8BITMIME" or NULL */
	char *envid;			/* decoded, or NULL */
	int notify;			/* DSN_NOTIFY_* bits, 0: none */
	bool extract;			/* -t */
	bool dot_ends;			/* no -i */
	struct argv *rcpts;		/* command line, then extracted */
};

/* ---- reading the message ------------------------------------------- */

#define SM_IN_SIZE	65536

enum sm_line {
	SM_LINE,			/* a whole line (terminator eaten) */
	SM_PART,			/* limit reached, the line goes on */
	SM_LAST,			/* a last line without terminator */
	SM_EOF,				/* nothing left */
};

struct sm_in {
	char *buf;
	size_t pos, len;
	bool eof;
	bool after_cr;			/* a CR ended the last line */
};

/* Forward: give up on the message (kills postdrop); never returns. */
static _Noreturn void sm_abort(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Read the next line, or its next limit bytes, into line (replaced).
 * LF, CRLF and a bare CR each end a line; NUL bytes are data.
 */
static enum sm_line
sm_getline(struct sm_in *in, struct buf *line, size_t limit)
{
	size_t i, take;
	ssize_t n;
	char ch;

	buf_reset(line);
	for (;;) {
		if (in->pos == in->len) {
			if (in->eof)
				return line->len > 0 ? SM_LAST : SM_EOF;
			n = read(STDIN_FILENO, in->buf, SM_IN_SIZE);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				sm_abort(EX_IOERR, "read standard input: %m");
			in->pos = 0;
			in->len = (size_t)n;
			in->eof = n == 0;
			continue;
		}
		if (in->after_cr) {
			in->after_cr = false;
			if (in->buf[in->pos] == '\n') {
				in->pos++;
				continue;
			}
		}
		if (line->len >= limit)
			return SM_PART;
		take = in->len - in->pos;
		if (take > limit - line->len)
			take = limit - line->len;
		for (i = 0; i < take; i++) {
			ch = in->buf[in->pos + i];
			if (ch == '\n' || ch == '\r')
				break;
		}
		buf_append(line, in->buf + in->pos, i);
		in->pos += i;
		if (i < take) {
			in->after_cr = in->buf[in->pos] == '\r';
			in->pos++;
			return SM_LINE;
		}
	}
}

/* ---- talking to postdrop --------------------------------------------- */

static pid_t sm_postdrop_pid = -1;
static struct stream *sm_out;
static struct cleanup_clnt_check sm_check;

/* Wait for postdrop; returns its exit status, as sendmail's. */
static int
sm_postdrop_wait(void)
{
	int status;

	if (sm_postdrop_pid < 0)
		return EX_SOFTWARE;
	while (waitpid(sm_postdrop_pid, &status, 0) < 0) {
		if (errno != EINTR)
			msg_fatal_status(EX_SOFTWARE, "wait for postdrop: %m");
	}
	sm_postdrop_pid = -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	msg_error("postdrop was killed by signal %d; message not queued",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_SOFTWARE;
}

static void
sm_abort_postdrop(void)
{
	int status;

	if (sm_postdrop_pid < 0)
		return;
	/* postdrop removes its unfinished file on SIGTERM. */
	(void)kill(sm_postdrop_pid, SIGTERM);
	if (sm_out != NULL) {
		(void)close(stream_release(sm_out));
		sm_out = NULL;
	}
	while (waitpid(sm_postdrop_pid, &status, 0) < 0 && errno == EINTR)
		;
	sm_postdrop_pid = -1;
}

static _Noreturn void
sm_abort(int status, const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	sm_abort_postdrop();
	buf_init(&text, 128);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	msg_fatal_status(status, "%s", text.data);
}

/* postdrop went away while we wrote: report its status. */
static _Noreturn void
sm_lost_postdrop(void)
{
	int status;

	if (sm_out != NULL) {
		(void)close(stream_release(sm_out));
		sm_out = NULL;
	}
	status = sm_postdrop_wait();
	if (status == EX_OK)
		status = EX_SOFTWARE;
	msg_fatal_status(status, "lost connection with postdrop; message "
	    "not queued");
}

static void
sm_postdrop_start(void)
{
	struct buf path;
	int fds[2];
	pid_t pid;

	buf_init(&path, 128);
	buf_printf(&path, "%s/postdrop", var_command_directory);
	if (pipe2(fds, O_CLOEXEC) < 0)
		msg_fatal_status(EX_OSERR, "pipe: %m");
	fflush(NULL);
	if ((pid = fork()) < 0)
		msg_fatal_status(EX_OSERR, "fork: %m");
	if (pid == 0) {
		if (dup2(fds[0], STDIN_FILENO) < 0)
			msg_fatal_status(EX_OSERR, "dup2: %m");
		if (setenv("MAIL_CONFIG", var_config_directory, 1) < 0)
			msg_fatal_status(EX_OSERR, "setenv: %m");
		execl(path.data, "postdrop", "-c", var_config_directory,
		    msg_verbose ? "-v" : (char *)NULL, (char *)NULL);
		msg_fatal_status(EX_UNAVAILABLE, "execute %s: %m", path.data);
	}
	(void)close(fds[0]);
	sm_postdrop_pid = pid;
	/* Non-blocking: the stream then writes its whole buffer at once. */
	if (fd_set_nonblock(fds[1], true) < 0)
		msg_fatal_status(EX_OSERR, "pipe: %m");
	sm_out = stream_new(fds[1]);
	cleanup_clnt_check_init(&sm_check, var_message_size_limit);
	buf_fini(&path);
}

/* Check and write one record. */
static void
sm_put(int type, const char *data, size_t len)
{
	static struct buf why;

	if (why.data == NULL)
		buf_init(&why, 64);
	switch (cleanup_clnt_check(&sm_check, type, data, len, &why)) {
	case CLEANUP_CHECK_SIZE:
		sm_abort(EX_DATAERR, "%s", why.data);
	case CLEANUP_CHECK_BAD:
		sm_abort(EX_SOFTWARE, "internal error: %s", why.data);
	case CLEANUP_CHECK_OK:
	case CLEANUP_CHECK_END:
		break;
	}
	if (rec_put(sm_out, type, data, len) < 0)
		sm_lost_postdrop();
}

static void
sm_put_attr(const char *name, const char *value)
{
	struct buf rec;

	if (value == NULL)
		return;
	buf_init(&rec, 64);
	buf_printf(&rec, "%s=%s", name, value);
	sm_put(REC_TYPE_ATTR, rec.data, rec.len);
	buf_fini(&rec);
}

/* The envelope, once the recipients are known. */
static void
sm_envelope(const struct sm_opts *opts, const char *sender)
{
	struct buf notify;
	size_t i;

	buf_init(&notify, 8);
	if (opts->notify)
		buf_printf(&notify, "%d", opts->notify);
	sm_put_attr(MAIL_ATTR_FULL_NAME, opts->full_name);
	sm_put_attr(MAIL_ATTR_ENVID, opts->envid);
	sm_put_attr(MAIL_ATTR_RET, opts->ret);
	sm_put_attr(MAIL_ATTR_BODY_TYPE, opts->body_type);
	sm_put(REC_TYPE_FROM, sender, strlen(sender));
	for (i = 0; i < opts->rcpts->argc; i++) {
		if (opts->notify)
			sm_put(REC_TYPE_NOTIFY, notify.data, notify.len);
		sm_put(REC_TYPE_RCPT, opts->rcpts->argv[i],
		    strlen(opts->rcpts->argv[i]));
		if (msg_verbose)
			msg_info("recipient: %s", opts->rcpts->argv[i]);
	}
	sm_put(REC_TYPE_MESG, "", 0);
	buf_fini(&notify);
}

/* ---- the header block (-t) ------------------------------------------- */

enum sm_hdr_kind {
	SM_HDR_OTHER,
	SM_HDR_RCPT,			/* To, Cc, Bcc */
	SM_HDR_RESENT_RCPT,		/* Resent-To, -Cc, -Bcc */
};

struct sm_headers {
	struct buf recs;		/* header lines as records */
	size_t bytes;			/* against header_size_limit */
	bool have_cur;			/* a logical header is open */
	enum sm_hdr_kind kind;
	bool drop;			/* Bcc: not copied */
	struct buf value;		/* of an address header */
	bool resent;			/* a Resent-* header was seen */
	struct argv *normal, *resent_rcpts;
};

/*
 * Length of the header name when line starts a header ("Name:", the
 * name printable ASCII without ':', blanks allowed before ':'), else 0.
 */
static size_t
sm_header_name(const char *line, size_t len)
{
	size_t i, name_len;

	for (i = 0; i < len && line[i] > ' ' && line[i] < 0x7f
	    && line[i] != ':'; i++)
		;
	name_len = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return name_len > 0 && i < len && line[i] == ':' ? name_len : 0;
}

static bool
sm_name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* The open logical header is complete: extract its addresses. */
static void
sm_header_end(struct sm_headers *h)
{
	struct argv *out;
	struct argv *got;
	size_t i;

	if (!h->have_cur)
		return;
	h->have_cur = false;
	if (h->kind == SM_HDR_OTHER)
		return;
	out = h->kind == SM_HDR_RCPT ? h->normal : h->resent_rcpts;
	got = argv_new();
	(void)addr_list_parse(got, h->value.data, h->value.len, SIZE_MAX);
	for (i = 0; i < got->argc; i++) {
		if (strlen(got->argv[i]) > CLEANUP_CLNT_ADDR_LIMIT)
			msg_warn("ignoring a recipient address longer than "
			    "%d bytes", CLEANUP_CLNT_ADDR_LIMIT);
		else
			argv_add(out, got->argv[i]);
	}
	argv_free(got);
}

/* A new logical header starts with line (name_len > 0). */
static void
sm_header_start(struct sm_headers *h, const char *line, size_t len,
    size_t name_len)
{
	const char *colon = memchr(line, ':', len);

	sm_header_end(h);
	h->have_cur = true;
	h->kind = SM_HDR_OTHER;
	buf_reset(&h->value);
	if (name_len > 7 && strncasecmp(line, "Resent-", 7) == 0)
		h->resent = true;
	if (sm_name_is(line, name_len, "To")
	    || sm_name_is(line, name_len, "Cc")
	    || sm_name_is(line, name_len, "Bcc"))
		h->kind = SM_HDR_RCPT;
	else if (sm_name_is(line, name_len, "Resent-To")
	    || sm_name_is(line, name_len, "Resent-Cc")
	    || sm_name_is(line, name_len, "Resent-Bcc"))
		h->kind = SM_HDR_RESENT_RCPT;
	h->drop = sm_name_is(line, name_len, "Bcc")
	    || sm_name_is(line, name_len, "Resent-Bcc");
	if (h->kind != SM_HDR_OTHER)
		buf_append(&h->value, colon + 1, len - (size_t)(colon + 1
		    - line));
}

/* ---- the message ------------------------------------------------------ */

static void
sm_put_content(enum sm_line got, const struct buf *line)
{
	sm_put(got == SM_PART ? REC_TYPE_CONT : REC_TYPE_NORM, line->data,
	    line->len);
}

/* Envelope, then the held header records; postdrop starts here. */
static void
sm_begin(struct sm_opts *opts, const char *sender, struct sm_headers *h)
{
	struct argv *extra;
	struct buf why;
	size_t off = 0, data_off, data_len, i;
	ssize_t used;
	int type;

	if (h != NULL) {
		sm_header_end(h);
		extra = h->resent ? h->resent_rcpts : h->normal;
		for (i = 0; i < extra->argc; i++)
			argv_add(opts->rcpts, extra->argv[i]);
	}
	if (opts->rcpts->argc == 0)
		msg_fatal_status(EX_USAGE, "no recipients specified");
	sm_postdrop_start();
	sm_envelope(opts, sender);
	if (h == NULL)
		return;
	buf_init(&why, 64);
	while (off < h->recs.len) {
		used = rec_decode(h->recs.data + off, h->recs.len - off,
		    CLEANUP_CLNT_REC_LIMIT, &type, &data_off, &data_len, &why);
		if (used <= 0)
			sm_abort(EX_SOFTWARE, "internal error: header "
			    "records: %s", why.data);
		sm_put(type, h->recs.data + off + data_off, data_len);
		off += (size_t)used;
	}
	buf_fini(&why);
}

static void
sm_deliver(struct sm_opts *opts, const char *sender)
{
	struct sm_in in = {0};
	struct sm_headers h = {0}, *hp = NULL;
	struct buf line;
	enum sm_line got;
	size_t name_len, add;
	bool mid_line = false, value_part, in_headers = opts->extract;

	in.buf = xmalloc(SM_IN_SIZE);
	buf_init(&line, 256);
	if (opts->extract) {
		hp = &h;
		buf_init(&h.recs, 4096);
		buf_init(&h.value, 256);
		h.normal = argv_new();
		h.resent_rcpts = argv_new();
	} else {
		sm_begin(opts, sender, NULL);
	}
	while ((got = sm_getline(&in, &line,
	    (size_t)var_line_length_limit)) != SM_EOF) {
		if (!mid_line && got != SM_PART && opts->dot_ends
		    && line.len == 1 && line.data[0] == '.')
			break;
		/* More of the open header's value: a piece, or folding. */
		value_part = mid_line;
		if (in_headers && !mid_line) {
			if (h.have_cur && (line.data[0] == ' '
			    || line.data[0] == '\t')) {
				value_part = true;
				if (h.kind != SM_HDR_OTHER)
					buf_putc(&h.value, '\n');
			} else if ((name_len = sm_header_name(line.data,
			    line.len)) > 0) {
				sm_header_start(&h, line.data, line.len,
				    name_len);
			} else {
				/* An empty or other line: the body. */
				in_headers = false;
				sm_begin(opts, sender, hp);
			}
		}
		if (in_headers) {
			add = line.len + (got != SM_PART);
			if (h.bytes + add > (size_t)var_header_size_limit)
				sm_abort(EX_DATAERR, "message header exceeds "
				    "header_size_limit (%ld bytes)",
				    var_header_size_limit);
			h.bytes += add;
			if (value_part && h.kind != SM_HDR_OTHER)
				buf_append(&h.value, line.data, line.len);
			if (!h.drop)
				rec_encode(&h.recs, got == SM_PART
				    ? REC_TYPE_CONT : REC_TYPE_NORM, line.data,
				    line.len);
		} else {
			sm_put_content(got, &line);
		}
		mid_line = got == SM_PART;
		if (got == SM_LAST)
			break;
	}
	if (in_headers)
		sm_begin(opts, sender, hp);
	/* A line cut at the limit just before end of input ends here. */
	if (mid_line)
		sm_put(REC_TYPE_NORM, "", 0);
	sm_put(REC_TYPE_XTRA, "", 0);
	sm_put(REC_TYPE_END, "", 0);
	if (stream_flush(sm_out) < 0)
		sm_lost_postdrop();
	if (close(stream_release(sm_out)) < 0)
		sm_lost_postdrop();
	sm_out = NULL;
	if (opts->extract) {
		buf_fini(&h.recs);
		buf_fini(&h.value);
		argv_free(h.normal);
		argv_free(h.resent_rcpts);
	}
	buf_fini(&line);
	free(in.buf);
}

/* ---- options ---------------------------------------------------------- */

static _Noreturn void
sm_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t] [-i] [-f sender] [-F full_name] "
	    "[-N dsn] [-R full|hdrs] [-V envid] [-B 7BIT|8BITMIME] "
	    "[-C config] [-c config_dir] [-v] [recipient ...]\n", prog);
	exit(EX_USAGE);
}

static int
sm_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Decode an xtext envelope ID (RFC 3461: printable ASCII but '+' and
 * '=', and "+XX" with two uppercase hex digits); NULL when malformed or
 * when the result is not an acceptable envelope ID.
 */
static char *
sm_xtext_decode(const char *text)
{
	struct buf out;
	const unsigned char *cp;
	int hi, lo;

	buf_init(&out, strlen(text) + 1);
	for (cp = (const unsigned char *)text; *cp; cp++) {
		if (*cp == '+') {
			/* cp[2] is read only when cp[1] was a digit. */
			if ((hi = sm_hex(cp[1])) < 0
			    || (lo = sm_hex(cp[2])) < 0)
				goto bad;
			buf_putc(&out, hi * 16 + lo);
			cp += 2;
		} else if (*cp < 33 || *cp > 126 || *cp == '=') {
			goto bad;
		} else {
			buf_putc(&out, *cp);
		}
	}
	if (memchr(out.data, 0, out.len) == NULL
	    && cleanup_clnt_attr_ok(MAIL_ATTR_ENVID, out.data))
		return buf_steal(&out);
bad:
	buf_fini(&out);
	return NULL;
}

/* -C: a main.cf file (its directory is used) or a directory. */
static const char *
sm_config_arg(const char *arg)
{
	struct stat st;
	struct buf dir;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		return arg;
	buf_init(&dir, 64);
	file_dirname(&dir, arg);
	return buf_steal(&dir);
}

/* -b mode */
static void
sm_opt_b(struct sm_opts *opts, const char *arg)
{
	if (strcmp(arg, "m") == 0)
		opts->mode = SM_MODE_DELIVER;
	else if (strcmp(arg, "i") == 0)
		opts->mode = SM_MODE_NEWALIASES;
	else if (strcmp(arg, "p") == 0)
		opts->mode = SM_MODE_MAILQ;
	else if (strcmp(arg, "s") == 0)
		opts->mode = SM_MODE_SMTP;
	else if (strcmp(arg, "v") == 0)
		opts->mode = SM_MODE_VERIFY;
	else
		msg_fatal_status(EX_USAGE, "unsupported option -b%s", arg);
}

/* -f, -r: "" and "<>" are the null sender, else one address. */
static const char *
sm_opt_sender(const char *arg)
{
	struct argv *av;
	char *sender;

	if (*arg == 0 || strcmp(arg, "<>") == 0)
		return "";
	av = argv_new();
	if (addr_list_parse(av, arg, strlen(arg), 2) != 1
	    || strlen(av->argv[0]) > CLEANUP_CLNT_ADDR_LIMIT)
		msg_fatal_status(EX_USAGE, "-f: bad sender address \"%s\"",
		    arg);
	sender = xstrdup(av->argv[0]);
	argv_free(av);
	return sender;
}

static void
sm_options(struct sm_opts *opts, int argc, char **argv, const char *prog)
{
	static const char optstring[] =
	    "+B:C:F:GIL:N:O:R:UV:X:b:c:e:f:h:imno:p:q::r:tvx";
	char *copy;
	int ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, optstring)) != -1) {
		switch (ch) {
		case 'B':
			if (str_case_eq(optarg, "7BIT"))
				opts->body_type = "7BIT";
			else if (str_case_eq(optarg, "8BITMIME"))
				opts->body_type = "8BITMIME";
			else
				msg_fatal_status(EX_USAGE, "-B: bad body type "
				    "\"%s\" (expected 7BIT or 8BITMIME)",
				    optarg);
			break;
		case 'C':
			opts->config_dir = sm_config_arg(optarg);
			break;
		case 'c':
			opts->config_dir = optarg;
			break;
		case 'F':
			if (!cleanup_clnt_attr_ok(MAIL_ATTR_FULL_NAME, optarg))
				msg_fatal_status(EX_USAGE, "-F: bad full name "
				    "(control characters, or longer than %d "
				    "bytes)", CLEANUP_CLNT_NAME_LIMIT);
			opts->full_name = optarg;
			break;
		case 'I':
			opts->mode = SM_MODE_NEWALIASES;
			break;
		case 'N':
			if ((opts->notify = cleanup_clnt_notify_parse(optarg))
			    < 0)
				msg_fatal_status(EX_USAGE, "-N: bad DSN "
				    "notification \"%s\" (expected never, or "
				    "success, delay, failure separated by "
				    "commas)", optarg);
			break;
		case 'R':
			if (str_case_eq(optarg, "full"))
				opts->ret = "full";
			else if (str_case_eq(optarg, "hdrs"))
				opts->ret = "hdrs";
			else
				msg_fatal_status(EX_USAGE, "-R: bad DSN return "
				    "\"%s\" (expected full or hdrs)", optarg);
			break;
		case 'V':
			free(opts->envid);
			if ((opts->envid = sm_xtext_decode(optarg)) == NULL)
				msg_fatal_status(EX_USAGE, "-V: bad envelope "
				    "ID \"%s\" (expected xtext of at most %d "
				    "characters)", optarg,
				    CLEANUP_CLNT_ENVID_LIMIT);
			break;
		case 'b':
			sm_opt_b(opts, optarg);
			break;
		case 'f':
		case 'r':
			opts->sender = sm_opt_sender(optarg);
			break;
		case 'i':
			opts->dot_ends = false;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				opts->dot_ends = false;
			break;
		case 'q':
			opts->mode = SM_MODE_FLUSH;
			break;
		case 't':
			opts->extract = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'G':
		case 'L':
		case 'O':
		case 'U':
		case 'X':
		case 'e':
		case 'h':
		case 'm':
		case 'n':
		case 'p':
		case 'x':
			break;
		default:
			if (optopt != ':' && optopt != 0
			    && strchr(optstring + 1, optopt) != NULL)
				msg_error("option -%c requires an argument",
				    optopt);
			else
				msg_error("unknown option -%c", optopt);
			sm_usage(prog);
		}
	}
	/* Each argument is an address list. */
	for (; optind < argc; optind++) {
		copy = argv[optind];
		if (addr_list_parse(opts->rcpts, copy, strlen(copy), SIZE_MAX)
		    == 0)
			msg_warn("no address in recipient argument \"%s\"",
			    copy);
	}
}

static const char *
sm_login_name(void)
{
	struct passwd *pw;
	uid_t uid = getuid();

	errno = 0;
	if ((pw = getpwuid(uid)) == NULL)
		msg_fatal_status(EX_OSERR, "no login name for user ID %lu",
		    (unsigned long)uid);
	return xstrdup(pw->pw_name);
}

/*
 * mailq (-bp) and -q are the jobs of `petrel queue -p` and `-f`, which
 * talk to showq and qmgr: run it with our configuration directory and
 * pass its exit status on.
 */
static _Noreturn int
sm_petrel_queue(const struct sm_opts *opts, const char *option)
{
	struct buf path;

	if (conf_load(opts->config_dir, NULL) < 0)
		exit(EX_CONFIG);
	buf_init(&path, 64);
	buf_printf(&path, "%s/petrel", var_command_directory);
	execl(path.data, "petrel", "-c", var_config_directory, "queue",
	    option, (char *)NULL);
	msg_fatal_status(EX_UNAVAILABLE, "execute %s: %m", path.data);
}

int
main(int argc, char **argv)
{
	struct sm_opts opts = {
		.mode = SM_MODE_DELIVER,
		.dot_ends = true,
	};
	const char *prog, *sender, *name;
	char *copy;
	size_t i;

	copy = xstrdup(argc > 0 && argv[0] != NULL ? argv[0] : "sendmail");
	prog = xstrdup(basename(copy));
	free(copy);
	log_init(prog);
	if (strcmp(prog, "mailq") == 0)
		opts.mode = SM_MODE_MAILQ;
	else if (strcmp(prog, "newaliases") == 0)
		opts.mode = SM_MODE_NEWALIASES;
	opts.rcpts = argv_new();
	/* A signal from a dying postdrop must not kill us mid-report. */
	(void)signal(SIGPIPE, SIG_IGN);
	sm_options(&opts, argc, argv, prog);

	switch (opts.mode) {
	case SM_MODE_MAILQ:
		return sm_petrel_queue(&opts, "-p");
	case SM_MODE_FLUSH:
		return sm_petrel_queue(&opts, "-f");
	case SM_MODE_SMTP:
		msg_fatal_status(EX_UNAVAILABLE, "SMTP on standard input (-bs) "
		    "is not available yet");
	case SM_MODE_VERIFY:
		msg_fatal_status(EX_UNAVAILABLE, "address verification (-bv) "
		    "is not available yet");
	case SM_MODE_NEWALIASES:
		if (conf_load(opts.config_dir, NULL) < 0)
			return EX_CONFIG;
		mail_dict_init();
		return mkmap_newaliases(DICT_FLAG_FOLD);
	case SM_MODE_DELIVER:
		break;
	}

	if (conf_load(opts.config_dir, NULL) < 0)
		return EX_CONFIG;
	if (*var_maillog_file != 0)
		(void)log_file(var_maillog_file);
	if (!opts.extract && opts.rcpts->argc == 0)
		msg_fatal_status(EX_USAGE, "no recipients specified");
	for (i = 0; i < opts.rcpts->argc; i++)
		if (strlen(opts.rcpts->argv[i]) > CLEANUP_CLNT_ADDR_LIMIT)
			msg_fatal_status(EX_USAGE, "recipient address longer "
			    "than %d bytes", CLEANUP_CLNT_ADDR_LIMIT);
	sender = opts.sender != NULL ? opts.sender : sm_login_name();
	if (opts.full_name == NULL && (name = getenv("NAME")) != NULL
	    && *name != 0 && cleanup_clnt_attr_ok(MAIL_ATTR_FULL_NAME, name))
		opts.full_name = name;
	sm_deliver(&opts, sender);
	return sm_postdrop_wait();
}
