/*
 * deliver_request.c - the delivery agent's side of a qmgr request
 *
 * See deliver_request.h for the protocol. A request names recipients by
 * the offsets of their RCPT records; the agent reads the envelope from
 * the queue file itself, so nothing in the request can make it deliver
 * to an address that is not in the file (except the addresses of a
 * DELIVER_FLAG_PASS request, which only another agent on a private
 * socket can send). Outcomes are written to the per-recipient logs
 * before the recipient is marked done, so a crash repeats at worst.
 *
 * SECURITY: the request is outside data: every attribute is checked
 * (names, counts, offsets against the file), and the queue file goes
 * through the validating reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "attr.h"
#include "bounce_log.h"
#include "buf.h"
#include "cleanup_proto.h"
#include "deliver_request.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "queue_id.h"
#include "stream.h"

/* Longest nexthop and passed address accepted. */
#define DELIVER_NEXTHOP_MAX	1024
#define DELIVER_ADDR_MAX	BOUNCE_LOG_ADDR_MAX

/* Position i of the request: index into req->rcpts, or DONE_BEFORE. */
#define DONE_BEFORE	((size_t)-1)

struct deliver_private {
	size_t *map;		/* request position -> req->rcpts index */
	size_t positions;	/* recipients in the request */
};

/* ---- replies ---------------------------------------------------------- */

static int
deliver_reply(struct stream *s, int status, const char *results,
    const char *reason)
{
	return attr_send(s, A_NUM(DELIVER_ATTR_STATUS, status),
	    A_STR(DELIVER_ATTR_RESULTS, results),
	    A_STR(DELIVER_ATTR_REASON, reason), A_END);
}

/* ---- checking the request --------------------------------------------- */

static bool
deliver_text_ok(const char *text, size_t max)
{
	const unsigned char *cp;

	if (*text == 0 || strlen(text) > max)
		return false;
	for (cp = (const unsigned char *)text; *cp; cp++)
		if (*cp < 0x20 || *cp == 0x7f)
			return false;
	return true;
}

/* "sec.usec" or "sec"; -1 if malformed. */
static int
deliver_parse_time(const char *text, struct timeval *tv)
{
	char *end;
	long sec, usec = 0;

	errno = 0;
	if (*text < '0' || *text > '9')
		return -1;
	sec = strtol(text, &end, 10);
	if (errno != 0 || sec < 0)
		return -1;
	if (*end == '.') {
		const char *frac = end + 1;
		int digits = 0;

		for (; *frac >= '0' && *frac <= '9' && digits < 6; frac++) {
			usec = usec * 10 + (*frac - '0');
			digits++;
		}
		if (digits == 0 || *frac != 0)
			return -1;
		for (; digits < 6; digits++)
			usec *= 10;
	} else if (*end != 0) {
		return -1;
	}
	tv->tv_sec = sec;
	tv->tv_usec = usec;
	return 0;
}

/* Parse "off off ..." into a new array; count set. NULL if malformed. */
static off_t *
deliver_parse_offsets(const char *text, size_t *count, struct buf *why)
{
	off_t *offs = NULL;
	size_t n = 0;
	const char *cp = text;
	char *end;
	long long val;

	while (*cp) {
		if (*cp < '1' || *cp > '9') {
			buf_puts(why, "bad recipient offset list");
			goto bad;
		}
		errno = 0;
		val = strtoll(cp, &end, 10);
		if (errno != 0 || val <= 0) {
			buf_puts(why, "bad recipient offset");
			goto bad;
		}
		if (n >= DELIVER_RCPT_MAX) {
			buf_printf(why, "more than %d recipients",
			    DELIVER_RCPT_MAX);
			goto bad;
		}
		offs = xreallocarray(offs, n + 1, sizeof(*offs));
		offs[n++] = (off_t)val;
		cp = end;
		if (*cp == ' ' && cp[1] != 0)
			cp++;
		else if (*cp != 0) {
			buf_puts(why, "bad recipient offset list");
			goto bad;
		}
	}
	if (n == 0) {
		buf_puts(why, "no recipients");
		goto bad;
	}
	*count = n;
	return offs;
bad:
	free(offs);
	return NULL;
}

/* The queue file recipient whose RCPT record is at offset, or -1. */
static ssize_t
deliver_find_rcpt(const struct qfile *qf, off_t offset)
{
	size_t lo = 0, hi = qf->rcpt_count, mid;

	while (lo < hi) {		/* recipients are in file order */
		mid = lo + (hi - lo) / 2;
		if (qf->rcpts[mid].offset == offset)
			return (ssize_t)mid;
		if (qf->rcpts[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void
deliver_request_free(struct deliver_request *req)
{
	struct deliver_private *priv;

	if (req == NULL)
		return;
	priv = (struct deliver_private *)(req + 1);
	if (req->fd >= 0 && close(req->fd) < 0)
		msg_warn("%s: close queue file: %m", req->queue_id);
	qfile_fini(&req->qf);
	free(priv->map);
	free(req->rcpts);
	free(req->addr_mem);
	free(req->queue_name);
	free(req->queue_id);
	free(req->nexthop);
	free(req);
}

static const char *const deliver_names[] = {
	DELIVER_ATTR_FLAGS, DELIVER_ATTR_QUEUE, DELIVER_ATTR_ID,
	DELIVER_ATTR_NEXTHOP, DELIVER_ATTR_RCPTS, DELIVER_ATTR_QTIME,
	DELIVER_ATTR_ADDRS,
};

/* Only known names, each at most once. */
static int
deliver_check_names(const struct attr_list *list, struct buf *why)
{
	size_t i, j, k;

	for (i = 0; i < list->count; i++) {
		for (k = 0; k < sizeof(deliver_names) / sizeof(*deliver_names);
		    k++)
			if (strcmp(list->pairs[i].name, deliver_names[k]) == 0)
				break;
		if (k == sizeof(deliver_names) / sizeof(*deliver_names)) {
			buf_printf(why, "unexpected attribute \"%s\"",
			    list->pairs[i].name);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(list->pairs[i].name,
			    list->pairs[j].name) == 0) {
				buf_printf(why, "duplicate attribute \"%s\"",
				    list->pairs[i].name);
				return -1;
			}
	}
	return 0;
}

/* Split the passed addresses into req; -1 with why. */
static int
deliver_passed_addrs(struct deliver_request *req, const struct buf *addrs,
    const size_t *map, size_t positions, struct buf *why)
{
	char *cp, *nl;
	size_t pos;

	if (memchr(addrs->data, 0, addrs->len) != NULL) {
		buf_puts(why, "NUL in addresses");
		return -1;
	}
	req->addr_mem = xstrdup(addrs->data);
	cp = req->addr_mem;
	for (pos = 0; pos < positions; pos++) {
		if ((nl = strchr(cp, '\n')) != NULL)
			*nl = 0;
		else if (pos + 1 < positions) {
			buf_puts(why, "fewer addresses than recipients");
			return -1;
		}
		if (!deliver_text_ok(cp, DELIVER_ADDR_MAX)) {
			buf_puts(why, "bad passed address");
			return -1;
		}
		if (map[pos] != DONE_BEFORE)
			req->rcpts[map[pos]].addr = cp;
		cp = nl ? nl + 1 : cp + strlen(cp);
	}
	if (*cp != 0) {
		buf_puts(why, "more addresses than recipients");
		return -1;
	}
	return 0;
}

struct deliver_request *
deliver_request_read(struct stream *s, const char *service)
{
	struct deliver_request *req;
	struct deliver_private *priv;
	struct attr_list list;
	struct buf queue, id, nexthop, rcpts, qtime, why;
	const struct buf *addrs;
	off_t *offs = NULL;
	size_t count = 0, pos, j;
	ssize_t idx;
	int flags = 0, status = DELIVER_STAT_BAD, rc;

	req = xcalloc(1, sizeof(*req) + sizeof(*priv));
	priv = (struct deliver_private *)(req + 1);
	req->fd = -1;
	req->service = service;
	gettimeofday(&req->start, NULL);
	attr_list_init(&list);
	buf_init(&queue, 16);
	buf_init(&id, 32);
	buf_init(&nexthop, 64);
	buf_init(&rcpts, 64);
	buf_init(&qtime, 32);
	buf_init(&why, 64);

	if (attr_recv_message(s, &list) < 0) {
		deliver_request_free(req);
		req = NULL;
		goto out;			/* logged; nobody to answer */
	}
	if (deliver_check_names(&list, &why) < 0
	    || attr_extract(&list, ATTR_STRICT | ATTR_ALLOW_EXTRA,
	    (const struct attr_spec[]){
		A_INT(DELIVER_ATTR_FLAGS, &flags),
		A_BUF(DELIVER_ATTR_QUEUE, &queue),
		A_BUF(DELIVER_ATTR_ID, &id),
		A_BUF(DELIVER_ATTR_NEXTHOP, &nexthop),
		A_BUF(DELIVER_ATTR_RCPTS, &rcpts),
		A_BUF(DELIVER_ATTR_QTIME, &qtime),
		A_END}, &why) < 0)
		goto bad;
	if ((flags & ~DELIVER_FLAG_PASS) != 0) {
		buf_printf(&why, "unknown flags %d", flags);
		goto bad;
	}
	if (!mail_queue_name_ok(queue.data)) {
		buf_puts(&why, "bad queue name");
		goto bad;
	}
	if (!queue_id_valid(id.data)) {
		buf_puts(&why, "bad queue ID");
		goto bad;
	}
	if (nexthop.len > 0 && !deliver_text_ok(nexthop.data,
	    DELIVER_NEXTHOP_MAX)) {
		buf_puts(&why, "bad nexthop");
		goto bad;
	}
	if (deliver_parse_time(qtime.data, &req->queue_time) < 0) {
		buf_puts(&why, "bad queue_time");
		goto bad;
	}
	if ((offs = deliver_parse_offsets(rcpts.data, &count, &why)) == NULL)
		goto bad;
	addrs = attr_list_get(&list, DELIVER_ATTR_ADDRS);
	if ((addrs != NULL) != ((flags & DELIVER_FLAG_PASS) != 0)) {
		buf_puts(&why, addrs ? "addresses without the pass flag"
		    : "pass request without addresses");
		goto bad;
	}
	req->flags = flags;
	req->queue_name = buf_steal(&queue);
	req->queue_id = buf_steal(&id);
	req->nexthop = buf_steal(&nexthop);

	/* The queue file: gone or unreadable is for later, corrupt is not. */
	if ((req->fd = mail_queue_open(req->queue_name, req->queue_id,
	    O_RDWR)) < 0) {
		buf_printf(&why, "open %s/%s: %m", req->queue_name,
		    req->queue_id);
		status = DELIVER_STAT_DEFER;
		goto fail;
	}
	rc = qfile_read_envelope(req->fd, &req->qf, &why);
	if (rc != QFILE_OK) {
		status = rc == QFILE_CORRUPT ? DELIVER_STAT_CORRUPT
		    : DELIVER_STAT_DEFER;
		goto fail;
	}

	/* Offsets must be RCPT records of this file, each once. */
	priv->map = xcalloc(count, sizeof(*priv->map));
	priv->positions = count;
	req->rcpts = xcalloc(count, sizeof(*req->rcpts));
	for (pos = 0; pos < count; pos++) {
		if ((idx = deliver_find_rcpt(&req->qf, offs[pos])) < 0) {
			buf_printf(&why, "offset %lld is not a recipient "
			    "record", (long long)offs[pos]);
			goto bad;
		}
		for (j = 0; j < pos; j++)
			if (offs[j] == offs[pos]) {
				buf_printf(&why, "offset %lld requested twice",
				    (long long)offs[pos]);
				goto bad;
			}
		if (req->qf.rcpts[idx].done) {
			priv->map[pos] = DONE_BEFORE;
			continue;
		}
		priv->map[pos] = req->count;
		req->rcpts[req->count].rcpt = &req->qf.rcpts[idx];
		req->rcpts[req->count].addr = req->qf.rcpts[idx].addr;
		req->rcpts[req->count].index = (size_t)idx;
		req->rcpts[req->count].worst = DELIVER_SENT;
		req->count++;
	}
	if (addrs != NULL && deliver_passed_addrs(req, addrs, priv->map,
	    count, &why) < 0)
		goto bad;
	goto out;

bad:
	status = DELIVER_STAT_BAD;
	msg_warn("%s: malformed delivery request%s%s: %s", service,
	    req->queue_id ? " for " : "", req->queue_id ? req->queue_id : "",
	    why.data);
	goto answer;
fail:
	if (status == DELIVER_STAT_CORRUPT)
		msg_warn("%s: queue file %s/%s is corrupt: %s", service,
		    req->queue_name, req->queue_id, why.data);
	else
		msg_warn("%s: %s: %s", service, req->queue_id, why.data);
answer:
	(void)deliver_reply(s, status, "", why.data);
	deliver_request_free(req);
	req = NULL;
out:
	free(offs);
	attr_list_fini(&list);
	buf_fini(&queue);
	buf_fini(&id);
	buf_fini(&nexthop);
	buf_fini(&rcpts);
	buf_fini(&qtime);
	buf_fini(&why);
	return req;
}

/* ---- outcomes --------------------------------------------------------- */

/* Postfix-like delay text: 2 decimals below 10 s, whole seconds above. */
static void
deliver_fmt_delay(struct buf *out, double sec)
{
	char tmp[64];
	size_t len;

	if (sec < 0)
		sec = 0;
	if (sec >= 10) {
		buf_printf(out, "%.0f", sec);
		return;
	}
	(void)snprintf(tmp, sizeof(tmp), "%.2f", sec);
	len = strlen(tmp);
	while (len > 0 && tmp[len - 1] == '0')
		tmp[--len] = 0;
	if (len > 0 && tmp[len - 1] == '.')
		tmp[--len] = 0;
	buf_puts(out, tmp);
}

static double
deliver_tv_diff(const struct timeval *a, const struct timeval *b)
{
	return (double)(a->tv_sec - b->tv_sec)
	    + (double)(a->tv_usec - b->tv_usec) / 1e6;
}

/* Printable copy for the log: control characters become '?'. */
static void
deliver_printable(struct buf *out, const char *text)
{
	for (; *text; text++)
		buf_putc(out, (unsigned char)*text < 0x20
		    || *text == 0x7f ? '?' : *text);
}

/* An ORCPT without its "rfc822;" address type. */
static const char *
deliver_orcpt_addr(const char *orcpt)
{
	if (orcpt != NULL && strncasecmp(orcpt, "rfc822;", 7) == 0)
		return orcpt + 7;
	return orcpt;
}

/* How much of a file or command destination a reason shows. */
#define DELIVER_DEST_SHOWN	200

/* True when a log entry can name addr as a recipient. */
static bool
deliver_log_addr_ok(const char *addr)
{
	return *addr != '|' && *addr != '/' && *addr != ':'
	    && deliver_text_ok(addr, DELIVER_ADDR_MAX);
}

static const char *const deliver_words[] = {
	[DELIVER_SENT] = "sent",
	[DELIVER_BOUNCE] = "bounced",
	[DELIVER_DEFER] = "deferred",
};

int
deliver_status(struct deliver_request *req, size_t i,
    enum deliver_action action, const char *to, const char *dsn,
    const char *fmt, ...)
{
	struct deliver_rcpt *dr;
	struct bounce_log_entry e;
	struct buf text, line, why, reason;
	struct timeval now;
	char status[16];
	const char *orig, *queue = NULL;
	va_list ap;
	int rc = 0;

	if (i >= req->count)
		msg_panic("deliver_status: recipient %zu of %zu", i,
		    req->count);
	dr = &req->rcpts[i];
	if (to == NULL)
		to = dr->addr;

	/* The status class follows the action; fix a caller's mismatch. */
	if (dsn == NULL || !bounce_log_status_ok(dsn) || strlen(dsn) >= 16) {
		msg_warn("%s: bad status \"%s\" for <%s>; using a default",
		    req->queue_id, dsn ? dsn : "(none)", to);
		dsn = action == DELIVER_SENT ? "2.0.0" : action ==
		    DELIVER_BOUNCE ? "5.0.0" : "4.0.0";
	}
	memcpy(status, dsn, strlen(dsn) + 1);
	status[0] = action == DELIVER_SENT ? '2' : action == DELIVER_BOUNCE
	    ? '5' : '4';

	buf_init(&text, 128);
	buf_init(&line, 256);
	buf_init(&why, 64);
	buf_init(&reason, 64);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);

	/*
	 * The per-recipient log entry, before anything is marked. An alias
	 * expanded to another address is reported under that address; a
	 * file or command (or anything a log cannot hold) under the queue
	 * file recipient, with the destination in the reason.
	 */
	bounce_log_entry_init(&e, dr->rcpt);
	e.status = status;
	e.reason = text.data;
	if (strcmp(to, dr->rcpt->addr) != 0) {
		if (deliver_log_addr_ok(to)) {
			e.recipient = to;
			if (dr->rcpt->orcpt == NULL || *dr->rcpt->orcpt == 0)
				e.orig_rcpt = dr->rcpt->addr;
		} else {
			deliver_printable(&reason, to);
			if (reason.len > DELIVER_DEST_SHOWN)
				buf_truncate(&reason, DELIVER_DEST_SHOWN);
			buf_printf(&reason, "%s: %s", reason.len ==
			    DELIVER_DEST_SHOWN ? "..." : "", text.data);
			e.reason = reason.data;
		}
	}
	switch (action) {
	case DELIVER_BOUNCE:
		queue = MAIL_QUEUE_BOUNCE;
		e.action = BOUNCE_LOG_FAILED;
		break;
	case DELIVER_DEFER:
		queue = MAIL_QUEUE_DEFER;
		e.action = BOUNCE_LOG_DELAYED;
		break;
	case DELIVER_SENT:
		if (e.notify & DSN_NOTIFY_SUCCESS) {
			queue = MAIL_QUEUE_TRACE;
			e.action = BOUNCE_LOG_DELIVERED;
		}
		break;
	}
	if (queue != NULL && bounce_log_append(queue, req->queue_id, &e,
	    &why) < 0) {
		msg_warn("%s: cannot record the outcome for <%s>: %s",
		    req->queue_id, to, why.data);
		dr->log_failed = true;
		rc = -1;
	}

	/* The log line, in Postfix's format. */
	gettimeofday(&now, NULL);
	buf_puts(&line, req->queue_id);
	buf_puts(&line, ": to=<");
	deliver_printable(&line, to);
	buf_putc(&line, '>');
	orig = deliver_orcpt_addr(dr->rcpt->orcpt);
	if (strcmp(to, dr->rcpt->addr) != 0)
		orig = dr->rcpt->addr;
	if (orig != NULL && *orig && strcmp(orig, to) != 0) {
		buf_puts(&line, ", orig_to=<");
		deliver_printable(&line, orig);
		buf_putc(&line, '>');
	}
	buf_printf(&line, ", relay=%s, delay=", req->service);
	deliver_fmt_delay(&line, deliver_tv_diff(&now, &req->qf.arrival));
	buf_puts(&line, ", delays=");
	deliver_fmt_delay(&line, (double)req->queue_time.tv_sec
	    + (double)req->queue_time.tv_usec / 1e6);
	buf_puts(&line, "/0/0/");
	deliver_fmt_delay(&line, deliver_tv_diff(&now, &req->start));
	buf_printf(&line, ", dsn=%s, status=%s (", status,
	    deliver_words[action]);
	deliver_printable(&line, text.data);
	buf_putc(&line, ')');
	msg_info("%s", line.data);

	dr->seen = true;
	if (action > dr->worst)
		dr->worst = action;
	buf_fini(&text);
	buf_fini(&line);
	buf_fini(&why);
	buf_fini(&reason);
	return rc;
}

/* ---- finishing -------------------------------------------------------- */

int
deliver_request_finish(struct stream *s, struct deliver_request *req)
{
	struct deliver_private *priv = (struct deliver_private *)(req + 1);
	struct deliver_rcpt *dr;
	struct buf results;
	size_t i, pos;
	int rc;

	buf_init(&results, priv->positions + 1);
	for (i = 0; i < req->count; i++) {
		dr = &req->rcpts[i];
		if (!dr->seen)
			(void)deliver_status(req, i, DELIVER_DEFER, NULL,
			    "4.3.0", "delivery agent did not report an "
			    "outcome");
	}
	for (pos = 0; pos < priv->positions; pos++) {
		if (priv->map[pos] == DONE_BEFORE) {
			buf_putc(&results, DELIVER_RESULT_DONE);
			continue;
		}
		dr = &req->rcpts[priv->map[pos]];
		if (dr->worst == DELIVER_DEFER || dr->log_failed) {
			buf_putc(&results, DELIVER_RESULT_RETRY);
		} else if (req->flags & DELIVER_FLAG_PASS) {
			buf_putc(&results, DELIVER_RESULT_DONE);
		} else if (qfile_mark_done(req->fd, &req->qf, dr->index) < 0) {
			msg_warn("%s: cannot mark <%s> done: %m (the delivery "
			    "may be repeated)", req->queue_id,
			    dr->rcpt->addr);
			buf_putc(&results, DELIVER_RESULT_RETRY);
		} else {
			buf_putc(&results, DELIVER_RESULT_DONE);
		}
	}
	rc = deliver_reply(s, DELIVER_STAT_OK, results.data, "");
	if (rc < 0)
		msg_warn("%s: cannot answer the queue manager", req->queue_id);
	buf_fini(&results);
	deliver_request_free(req);
	return rc;
}

/* ---- rights ----------------------------------------------------------- */

static bool deliver_started_root;

void
deliver_rights_start(void)
{
	deliver_started_root = geteuid() == 0;
}

void
deliver_rights_check(const char *service)
{
	if (deliver_started_root && geteuid() != 0)
		msg_fatal_status(EX_CONFIG, "the %s service must keep root "
		    "privileges to deliver as the recipient: set its "
		    "unprivileged column in master.cf to \"n\"", service);
}
