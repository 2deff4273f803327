/*
 * showq.c - showq, the daemon that lists the mail queue (mailq)
 *
 * master.cf:
 *	showq     unix  n  -  n  -  -  showq
 *
 * The socket is public/showq: mailq, `sendmail -bp` and `petrel queue
 * -p|-j` run as ordinary users, who cannot read the queue directories
 * (mail_owner's, mode 0700); showq reads them for them, as mail_owner.
 *
 * Protocol (attr.h): the client sends one message {request=text|json};
 * showq writes the listing as plain bytes and closes the connection.
 * The queues are listed in the order a message moves through them,
 * maildrop incoming active deferred hold, so that a message that moves
 * on during the listing is listed twice rather than missed; within a
 * queue the order is the directory's. Incomplete files (mail_queue.h)
 * are left out; a file that does not pass qfile_read_envelope() (for
 * maildrop/ qfile_read_flags(QFILE_FLAG_MAILDROP)) is left out with a
 * warning in the log ("PATH: skipped: corrupt queue file: REASON");
 * qmgr, not showq, moves it to corrupt/.
 *
 * text (Postfix's mailq format, with its long-queue-ID column widths):
 *	-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------
 *	ID<s>        SIZE Www Mmm dd hh:mm:ss SENDER
 *	                                              (REASON)
 *	                                               RECIPIENT
 *	<empty line>
 *	...
 *	-- N Kbytes in M Requests.
 * where <s> is '*' for the active queue, '!' for hold, else a space; the
 * ID and <s> are left-aligned in 17 columns (a longer ID pushes the rest
 * of its line to the right: the whitespace-separated fields stay the
 * same); SIZE is the message size (the content size of the SIZE record:
 * what cleanup logs as size=); the time is the arrival time in local
 * time; the null sender shows as MAILER-DAEMON. Then the recipients not
 * yet delivered (DONE ones are left out), indented 47 columns. Each
 * "(REASON)" line is followed by the recipients it applies to; it is
 * right-aligned in 78 columns when it fits. N is the sum of the sizes
 * divided by 1024, rounded down; "Request." for one message. An empty
 * queue is the single line "Mail queue is empty". Control characters,
 * malformed UTF-8 and C1 controls in addresses and reasons are shown as
 * '?', so that the listing cannot play tricks on a terminal.
 *
 * json (Postfix's postqueue -j): one object per message and line:
 *	{"queue_name": "deferred", "queue_id": "ID", "arrival_time": SEC,
 *	 "message_size": SIZE, "forced_expire": false, "sender": "ADDR",
 *	 "recipients": [{"address": "ADDR", "delay_reason": "REASON"}, ...]}
 * with delay_reason only where one is known, the null sender as "",
 * forced_expire always false (there is no forced expiration yet), and
 * strings escaped so that the output is ASCII: '"', '\' and characters
 * outside 0x20..0x7e as \uXXXX (UTF-16 surrogate pairs beyond U+FFFF),
 * every byte of malformed UTF-8 as \ufffd. Nothing at all for an empty
 * queue.
 *
 * Delay reasons come from the defer log of a message in deferred/ or
 * hold/: defer/[hash/]ID, read with bounce_log.h (the last entry for
 * an address wins). A missing log means no reasons; malformed entries
 * are skipped with a warning by the reader.
 *
 * SECURITY: any local user can connect. The request is read with the
 * attribute parser's limits and a short timeout; nothing a client sends
 * reaches a path. Queue files (maildrop files come from users) are
 * checked by qfile.h before use, opened with O_NOFOLLOW|O_NONBLOCK and
 * used only when regular and complete; what they hold is made printable
 * (text) or escaped (json) before it is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "bounce_log.h"
#include "buf.h"
#include "htable.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "qfile.h"
#include "server.h"
#include "stream.h"

/* Request values (petrel_queue.c sends them). */
#define SHOWQ_REQ_TEXT	"text"
#define SHOWQ_REQ_JSON	"json"

/*
 * A client gets this long to send its request: anyone may connect, and
 * an idle connection holds a whole showq process.
 */
#define SHOWQ_REQUEST_TIMEOUT_MS	10000
/* Output is handed to the stream in pieces of about this size. */
#define SHOWQ_FLUSH_SIZE	8192
/* The longest defer log line read. */
#define SHOWQ_LOG_LINE_MAX	65536

/* Text layout: column widths and the recipient indentation. */
#define SHOWQ_ID_WIDTH		17
#define SHOWQ_SIZE_WIDTH	8
#define SHOWQ_TIME_WIDTH	19	/* "%a %b %e %H:%M:%S" */
#define SHOWQ_HEADER_TIME	20	/* "----Arrival Time----" */
#define SHOWQ_RCPT_INDENT \
	(SHOWQ_ID_WIDTH + 1 + SHOWQ_SIZE_WIDTH + 1 + SHOWQ_TIME_WIDTH + 1)
#define SHOWQ_REASON_WIDTH	78

enum showq_format {
	SHOWQ_TEXT,
	SHOWQ_JSON,
};

/* The queues, in the order they are listed. */
static const struct showq_queue {
	const char *name;
	char status;		/* after the queue ID (text) */
	bool maildrop;		/* postdrop's format: no SIZE record */
	bool reasons;		/* look for a defer log */
} showq_queues[] = {
	{MAIL_QUEUE_MAILDROP, ' ', true, false},
	{MAIL_QUEUE_INCOMING, ' ', false, false},
	{MAIL_QUEUE_ACTIVE, '*', false, false},
	{MAIL_QUEUE_DEFERRED, ' ', false, true},
	{MAIL_QUEUE_HOLD, '!', false, true},
};

struct showq_state {
	struct stream *s;
	enum showq_format format;
	struct buf out;		/* output not yet handed to the stream */
	bool failed;		/* the client went away */
	unsigned long count;	/* messages listed */
	unsigned long long bytes;	/* their sizes */
};

/* One recipient to show, with its place in the reason groups. */
struct showq_rcpt {
	const struct qfile_rcpt *rcpt;
	const char *reason;	/* NULL: none known */
	size_t group;		/* 0: no reason, else 1 + first appearance */
	size_t index;		/* in the file */
};

/* Hand buffered output to the stream (all of it when force is set). */
static void
showq_flush(struct showq_state *st, bool force)
{
	if (st->failed || (!force && st->out.len < SHOWQ_FLUSH_SIZE))
		return;
	if (st->out.len > 0
	    && stream_write(st->s, st->out.data, st->out.len) < 0)
		st->failed = true;
	buf_reset(&st->out);
	if (force && !st->failed && stream_flush(st->s) < 0)
		st->failed = true;
}

/*
 * Decode the UTF-8 character at str (avail bytes). Returns the code
 * point and its length in *len, or -1 with *len = 1 for a byte that does
 * not start a well-formed character (overlong forms, surrogates and
 * values beyond U+10FFFF included).
 */
static long
showq_utf8(const unsigned char *str, size_t avail, size_t *len)
{
	size_t need, i;
	long cp;

	*len = 1;
	if (str[0] < 0x80)
		return str[0];
	if (str[0] >= 0xc2 && str[0] <= 0xdf) {
		need = 1;
		cp = str[0] & 0x1f;
	} else if (str[0] >= 0xe0 && str[0] <= 0xef) {
		need = 2;
		cp = str[0] & 0x0f;
	} else if (str[0] >= 0xf0 && str[0] <= 0xf4) {
		need = 3;
		cp = str[0] & 0x07;
	} else {
		return -1;
	}
	if (need >= avail)
		return -1;
	for (i = 1; i <= need; i++) {
		if ((str[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (str[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)
	    || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	*len = need + 1;
	return cp;
}

/* Append str for a terminal: controls and malformed bytes become '?'. */
static void
showq_text_str(struct buf *out, const char *str)
{
	const unsigned char *cp = (const unsigned char *)str;
	size_t avail = strlen(str), len;
	long ch;

	while (avail > 0) {
		ch = showq_utf8(cp, avail, &len);
		if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch <= 0x9f))
			buf_putc(out, '?');
		else
			buf_append(out, cp, len);
		cp += len;
		avail -= len;
	}
}

/* Append str as a JSON string of printable ASCII. */
static void
showq_json_str(struct buf *out, const char *str)
{
	const unsigned char *cp = (const unsigned char *)str;
	size_t avail = strlen(str), len;
	long ch;

	buf_putc(out, '"');
	while (avail > 0) {
		ch = showq_utf8(cp, avail, &len);
		if (ch == '"' || ch == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (int)ch);
		} else if (ch >= 0x20 && ch < 0x7f) {
			buf_putc(out, (int)ch);
		} else if (ch < 0) {
			buf_puts(out, "\\ufffd");
		} else if (ch < 0x10000) {
			buf_printf(out, "\\u%04lx", ch);
		} else {
			ch -= 0x10000;
			buf_printf(out, "\\u%04lx\\u%04lx", 0xd800 + (ch >> 10),
			    0xdc00 + (ch & 0x3ff));
		}
		cp += len;
		avail -= len;
	}
	buf_putc(out, '"');
}

/*
 * Read the defer log of id: recipient address -> reason (strings owned
 * by the table), or NULL when there is none.
 */
static struct htable *
showq_reasons_read(const char *id)
{
	struct bounce_log_entry e = {0};
	struct bounce_log *bl;
	struct htable *table;

	if ((bl = bounce_log_open(MAIL_QUEUE_DEFER, id)) == NULL) {
		if (errno != ENOENT)
			msg_warn("%s: cannot read the defer log: %m", id);
		return NULL;
	}
	table = htable_new(8);
	while (bounce_log_next(bl, &e) > 0)
		free(htable_put(table, e.recipient, xstrdup(e.reason)));
	bounce_log_entry_fini(&e);
	bounce_log_close(bl);
	return table;
}

static int
showq_rcpt_cmp(const void *a, const void *b)
{
	const struct showq_rcpt *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * The recipients still to deliver, with their reasons: those without
 * one first, then one group per reason in order of first appearance.
 * Returns the count; *out is to be freed.
 */
static size_t
showq_rcpts(const struct qfile *qf, struct htable *reasons,
    struct showq_rcpt **out)
{
	struct showq_rcpt *list;
	struct htable *groups = NULL;
	size_t i, n = 0;
	void *seen = NULL;

	list = xreallocarray(NULL, qf->rcpt_count ? qf->rcpt_count : 1,
	    sizeof(*list));
	if (reasons != NULL)
		groups = htable_new(8);
	for (i = 0; i < qf->rcpt_count; i++) {
		if (qf->rcpts[i].done)
			continue;
		list[n].rcpt = &qf->rcpts[i];
		list[n].index = i;
		list[n].reason = reasons == NULL ? NULL
		    : htable_get(reasons, qf->rcpts[i].addr);
		list[n].group = 0;
		/* Groups are stored as 1 + index: NULL means "new". */
		if (list[n].reason != NULL
		    && (seen = htable_get(groups, list[n].reason)) == NULL) {
			seen = (void *)(uintptr_t)(i + 1);
			(void)htable_put(groups, list[n].reason, seen);
		}
		if (list[n].reason != NULL)
			list[n].group = (size_t)(uintptr_t)seen;
		n++;
	}
	if (groups != NULL) {
		htable_free(groups, NULL);
		qsort(list, n, sizeof(*list), showq_rcpt_cmp);
	}
	*out = list;
	return n;
}

static void
showq_text_header(struct showq_state *st)
{
	buf_printf(&st->out, "%-*s %*s %-*s %s\n", SHOWQ_ID_WIDTH,
	    "-Queue ID-", SHOWQ_SIZE_WIDTH, "--Size--", SHOWQ_HEADER_TIME,
	    "----Arrival Time----", "-Sender/Recipient-------");
}

static void
showq_text(struct showq_state *st, const struct showq_queue *q,
    const char *id, const struct qfile *qf, time_t arrival, off_t size,
    struct htable *reasons)
{
	struct showq_rcpt *list;
	struct buf tmp;
	char when[64];
	struct tm tm;
	size_t i, n, last_group = 0;

	if (st->count == 0)
		showq_text_header(st);
	buf_init(&tmp, 64);
	buf_printf(&tmp, "%s%c", id, q->status);
	if (localtime_r(&arrival, &tm) == NULL
	    || strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm) == 0)
		when[0] = 0;
	buf_printf(&st->out, "%-*s %*lld %-*s ", SHOWQ_ID_WIDTH, tmp.data,
	    SHOWQ_SIZE_WIDTH, (long long)size, SHOWQ_TIME_WIDTH, when);
	if (*qf->sender == 0)
		buf_puts(&st->out, "MAILER-DAEMON");
	else
		showq_text_str(&st->out, qf->sender);
	buf_putc(&st->out, '\n');

	n = showq_rcpts(qf, reasons, &list);
	for (i = 0; i < n && !st->failed; i++) {
		if (list[i].group != 0 && list[i].group != last_group) {
			buf_reset(&tmp);
			buf_putc(&tmp, '(');
			showq_text_str(&tmp, list[i].reason);
			buf_putc(&tmp, ')');
			buf_printf(&st->out, "%*s\n", SHOWQ_REASON_WIDTH,
			    tmp.data);
			last_group = list[i].group;
		}
		buf_printf(&st->out, "%*s", SHOWQ_RCPT_INDENT, "");
		showq_text_str(&st->out, list[i].rcpt->addr);
		buf_putc(&st->out, '\n');
		showq_flush(st, false);
	}
	buf_putc(&st->out, '\n');
	free(list);
	buf_fini(&tmp);
}

static void
showq_json(struct showq_state *st, const struct showq_queue *q,
    const char *id, const struct qfile *qf, time_t arrival, off_t size,
    struct htable *reasons)
{
	const char *reason;
	size_t i;
	bool first = true;

	buf_puts(&st->out, "{\"queue_name\": ");
	showq_json_str(&st->out, q->name);
	buf_puts(&st->out, ", \"queue_id\": ");
	showq_json_str(&st->out, id);
	buf_printf(&st->out, ", \"arrival_time\": %lld, \"message_size\": "
	    "%lld, \"forced_expire\": false, \"sender\": ",
	    (long long)arrival, (long long)size);
	showq_json_str(&st->out, qf->sender);
	buf_puts(&st->out, ", \"recipients\": [");
	for (i = 0; i < qf->rcpt_count && !st->failed; i++) {
		if (qf->rcpts[i].done)
			continue;
		if (!first)
			buf_puts(&st->out, ", ");
		first = false;
		buf_puts(&st->out, "{\"address\": ");
		showq_json_str(&st->out, qf->rcpts[i].addr);
		reason = reasons == NULL ? NULL
		    : htable_get(reasons, qf->rcpts[i].addr);
		if (reason != NULL) {
			buf_puts(&st->out, ", \"delay_reason\": ");
			showq_json_str(&st->out, reason);
		}
		buf_putc(&st->out, '}');
		showq_flush(st, false);
	}
	buf_puts(&st->out, "]}\n");
}

/* List one queue file, if it is complete and valid. */
static void
showq_file(struct showq_state *st, const struct showq_queue *q,
    const char *id, const char *path)
{
	struct htable *reasons = NULL;
	struct qfile qf;
	struct stat sb;
	struct buf why;
	time_t arrival;
	off_t size;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
	    | O_NOCTTY);
	if (fd < 0) {
		/* Gone since the scan: delivered, or moved on. */
		if (errno != ENOENT)
			msg_warn("open %s: %m", path);
		return;
	}
	if (fstat(fd, &sb) < 0) {
		msg_warn("fstat %s: %m", path);
		(void)close(fd);
		return;
	}
	if (!mail_queue_complete(&sb)) {
		(void)close(fd);
		return;
	}
	buf_init(&why, 128);
	rc = qfile_read_flags(fd, q->maildrop ? QFILE_FLAG_MAILDROP
	    : QFILE_FLAG_SKIP_CONTENT, &qf, &why);
	(void)close(fd);		/* read only */
	if (rc == QFILE_CORRUPT) {
		msg_warn("%s: skipped: corrupt queue file: %s", path, why.data);
		goto out;
	}
	if (rc != QFILE_OK) {
		msg_warn("%s: skipped: %s", path, why.data);
		goto out;
	}
	/* A maildrop file may lack TIME: pickup then uses the file's. */
	arrival = qf.arrival.tv_sec != 0 ? qf.arrival.tv_sec : sb.st_mtime;
	size = qf.size.content_size;
	if (q->reasons)
		reasons = showq_reasons_read(id);
	if (st->format == SHOWQ_TEXT)
		showq_text(st, q, id, &qf, arrival, size, reasons);
	else
		showq_json(st, q, id, &qf, arrival, size, reasons);
	showq_flush(st, false);
	st->count++;
	if (__builtin_add_overflow(st->bytes, (unsigned long long)size,
	    &st->bytes))
		st->bytes = ULLONG_MAX;
out:
	if (reasons != NULL)
		htable_free(reasons, free);
	qfile_fini(&qf);
	buf_fini(&why);
}

static void
showq_queue(struct showq_state *st, const struct showq_queue *q)
{
	struct mail_scan *scan;
	const char *id;

	if ((scan = mail_scan_open(q->name)) == NULL) {
		msg_warn("open queue directory %s: %m", q->name);
		return;
	}
	while (!st->failed && (id = mail_scan_next(scan)) != NULL)
		showq_file(st, q, id, mail_scan_path(scan));
	mail_scan_close(scan);
}

static void
showq_service(int fd, const char *service, char **argv)
{
	struct showq_state st = {.format = SHOWQ_TEXT};
	struct buf request;
	size_t i;
	int timeout_ms;

	(void)service;
	(void)argv;
	st.s = stream_new(fd);
	buf_init(&request, 16);
	buf_init(&st.out, SHOWQ_FLUSH_SIZE * 2);
	stream_set_timeout(st.s, SHOWQ_REQUEST_TIMEOUT_MS);
	/* attr_recv() logs what went wrong. */
	if (attr_recv(st.s, ATTR_STRICT, A_BUF(ATTR_REQUEST, &request),
	    A_END) != 1)
		goto out;
	if (strcmp(request.data, SHOWQ_REQ_TEXT) == 0) {
		st.format = SHOWQ_TEXT;
	} else if (strcmp(request.data, SHOWQ_REQ_JSON) == 0) {
		st.format = SHOWQ_JSON;
	} else {
		buf_reset(&st.out);
		showq_text_str(&st.out, request.data);
		msg_warn("unknown request \"%s\"", st.out.data);
		goto out;
	}
	/* The reader may be a pager: wait for it as long as for any peer. */
	timeout_ms = var_ipc_timeout > INT_MAX / 1000 ? INT_MAX
	    : var_ipc_timeout * 1000;
	stream_set_timeout(st.s, timeout_ms);
	for (i = 0; i < sizeof(showq_queues) / sizeof(showq_queues[0])
	    && !st.failed; i++)
		showq_queue(&st, &showq_queues[i]);
	if (st.format == SHOWQ_TEXT && st.count == 0)
		buf_puts(&st.out, "Mail queue is empty\n");
	else if (st.format == SHOWQ_TEXT)
		buf_printf(&st.out, "-- %llu Kbytes in %lu Request%s.\n",
		    st.bytes / 1024, st.count, st.count == 1 ? "" : "s");
	showq_flush(&st, true);
	if (st.failed && msg_verbose)
		msg_info("the client went away before the end of the listing");
out:
	/* The skeleton closes fd. */
	(void)stream_release(st.s);
	buf_fini(&request);
	buf_fini(&st.out);
}

static void
showq_pre_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	/* Arrival times are local time: load the zone before any chroot. */
	tzset();
}

static const struct single_server_spec showq_spec = {
	.name = "showq",
	.service = showq_service,
	.pre_init = showq_pre_init,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &showq_spec);
}
