/*
 * cleanup.c - cleanup, the daemon that turns a submission into a queue file
 *
 * master.cf:
 *	cleanup   unix  n  -  n  -  0  cleanup
 *
 * One message per connection (protocol in cleanup_proto.h). cleanup
 * creates incoming/ID (mode 0600) and sends the queue ID; the client
 * sends its flags, then the envelope and content as records. The file
 * is written as the records arrive:
 *
 *	SIZE (placeholder) TIME ATTR* FROM (ORCP? NOTIFY? RCPT)* MESG
 *	content XTRA END
 *
 * cleanup_envelope.c puts addresses in canonical form (trivial-rewrite)
 * and drops duplicate recipients; cleanup_message.c checks and completes
 * the headers. At END the real SIZE record is written over the
 * placeholder (same width), the file gets mode 0700 (complete, see
 * mail_queue.h) and one fsync(2) makes data and mode durable; only then
 * does the client get status 0. Then qmgr is woken with one byte on
 * public/$qmgr_service_name (ignored when nobody listens).
 *
 * Problems: the first one removes the file at once and sets the status
 * bits and a reason that starts with an enhanced status code (see
 * cleanup_fail() callers). A size, hop count, recipient or rewriting
 * problem does not stop reading: the rest of the message is read and
 * checked up to END, so that a client that streams the whole message
 * before it reads the reply (smtpd, pickup) stays in step; then the
 * reply goes out. A malformed request (bad attributes, an unknown or
 * misplaced record, a record over its limit) is answered at once with
 * CLEANUP_STAT_BAD and the connection is closed. A client that goes
 * away before END gets no reply, and nothing is left in incoming/.
 *
 * Flags: CLEANUP_FLAG_HOLD moves the finished file to hold/ (qmgr is not
 * woken); CLEANUP_FLAG_DISCARD reads and checks everything, answers 0
 * and removes the file; with CLEANUP_FLAG_BOUNCE a mail loop
 * (hopcount_limit) is not rejected but returned to the sender
 * (cleanup_bounce.c): the client hears 0. The SIZE record's flags field
 * holds the client's CLEANUP_FLAG_* bits.
 *
 * Log lines (Postfix's formats):
 *	ID: message-id=<...>
 *	ID: reject: REASON; from=<sender>	(size, hops, no recipients)
 *	ID: hold: client request; from=<sender>
 *	ID: discard: client request; from=<sender>
 * A message that was queued is logged next by qmgr, when it enters the
 * active queue: "ID: from=<sender>, size=N, nrcpt=M (queue active)".
 *
 * SECURITY: clients are local processes (pickup, smtpd) relaying data
 * from users and the network. Every record is read with an explicit
 * limit (rec_get), every field is checked before use, memory per message
 * is bounded (one record, one header of header_size_limit, the duplicate
 * filter), and nothing a client sends is fatal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "cleanup.h"
#include "cleanup_proto.h"
#include "file.h"
#include "mail_queue.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "qfile.h"
#include "queue_id.h"
#include "rec.h"
#include "trigger.h"
#include "server.h"
#include "stream.h"

/* Envelope records are stored as they come: the queue file limit. */
#define CLEANUP_ENV_LIMIT	QFILE_RECORD_MAX
/* Content records are re-split, so clients may send longer ones. */
#define CLEANUP_CONTENT_LIMIT	(1024 * 1024)
/* Write the queue file in chunks of about this size. */
#define CLEANUP_OUT_CHUNK	(64 * 1024)
/*
 * The qmgr wakeup: Postfix's "scan the incoming queue" request. Any
 * other byte wakes a trigger server too.
 */
#define CLEANUP_QMGR_REQ	'I'

#define CLEANUP_ALL_FLAGS	(CLEANUP_FLAG_BOUNCE | CLEANUP_FLAG_HOLD \
				| CLEANUP_FLAG_DISCARD)

/* For the fatal-error handler: the file to remove. */
static struct cleanup_state *cleanup_current;

/* Remove the unfinished queue file, if any. */
static void
cleanup_remove(struct cleanup_state *st)
{
	if (st->fd >= 0) {
		(void)close(st->fd);
		st->fd = -1;
	}
	if (st->file_exists) {
		if (mail_queue_remove(MAIL_QUEUE_INCOMING,
		    st->queue_id.data) < 0 && errno != ENOENT)
			msg_warn("%s: remove %s: %m", st->queue_id.data,
			    MAIL_QUEUE_INCOMING);
		st->file_exists = false;
	}
	buf_reset(&st->out);
}

static void
cleanup_fatal_hook(void)
{
	if (cleanup_current != NULL)
		cleanup_remove(cleanup_current);
}

void
cleanup_fail(struct cleanup_state *st, int status, const char *fmt, ...)
{
	va_list ap;

	if (st->reason.len == 0) {
		va_start(ap, fmt);
		buf_vprintf(&st->reason, fmt, ap);
		va_end(ap);
	}
	st->status |= status;
	cleanup_remove(st);
}

int
cleanup_bad(struct cleanup_state *st, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&st->tmp);
	va_start(ap, fmt);
	buf_vprintf(&st->tmp, fmt, ap);
	va_end(ap);
	msg_warn("%s: malformed request: %s", st->queue_id.data,
	    st->tmp.data);
	cleanup_fail(st, CLEANUP_STAT_BAD, "4.3.0 malformed request: %s",
	    st->tmp.data);
	return CLEANUP_REC_BAD;
}

static int
cleanup_out_flush(struct cleanup_state *st)
{
	if (st->fd < 0)
		return -1;
	if (st->out.len == 0)
		return 0;
	if (file_write_all(st->fd, st->out.data, st->out.len) < 0) {
		msg_warn("%s: write queue file: %m", st->queue_id.data);
		cleanup_fail(st, CLEANUP_STAT_WRITE,
		    "4.3.0 queue file write error");
		return -1;
	}
	st->written += (off_t)st->out.len;
	buf_reset(&st->out);
	return 0;
}

void
cleanup_out(struct cleanup_state *st, int type, const void *data, size_t len)
{
	if (st->fd < 0)
		return;
	rec_encode(&st->out, type, data, len);
	if (st->out.len >= CLEANUP_OUT_CHUNK)
		(void)cleanup_out_flush(st);
}

void
cleanup_out_str(struct cleanup_state *st, int type, const char *text)
{
	cleanup_out(st, type, text, strlen(text));
}

void
cleanup_out_text(struct cleanup_state *st, int type, const char *data,
    size_t len)
{
	size_t max = (size_t)var_line_length_limit;

	if (max > QFILE_RECORD_MAX)
		max = QFILE_RECORD_MAX;
	while (len > max) {
		cleanup_out(st, REC_TYPE_CONT, data, max);
		data += max;
		len -= max;
	}
	cleanup_out(st, type, data, len);
}

off_t
cleanup_out_offset(const struct cleanup_state *st)
{
	return st->written + (off_t)st->out.len;
}

static void
cleanup_state_init(struct cleanup_state *st)
{
	memset(st, 0, sizeof(*st));
	buf_init(&st->queue_id, QUEUE_ID_MAX + 1);
	st->fd = -1;
	buf_init(&st->out, CLEANUP_OUT_CHUNK + 1024);
	buf_init(&st->reason, 100);
	buf_init(&st->bounce_reason, 64);
	buf_init(&st->tmp, 256);
	st->phase = CLEANUP_PHASE_ENVELOPE;
	cleanup_envelope_init(st);
	cleanup_message_init(st);
}

static void
cleanup_state_fini(struct cleanup_state *st)
{
	cleanup_remove(st);
	cleanup_envelope_fini(st);
	cleanup_message_fini(st);
	buf_fini(&st->queue_id);
	buf_fini(&st->out);
	buf_fini(&st->reason);
	buf_fini(&st->bounce_reason);
	buf_fini(&st->tmp);
}

/* The SIZE record's data: four fixed-width fields. */
static void
cleanup_size_data(struct buf *out, long mesg, long content, long rcpts,
    long flags)
{
	buf_printf(out, "%*ld %*ld %*ld %*ld", REC_SIZE_WIDTH, mesg,
	    REC_SIZE_WIDTH, content, REC_SIZE_WIDTH, rcpts, REC_SIZE_WIDTH,
	    flags);
}

/* Create incoming/ID and start it with the SIZE placeholder. */
static int
cleanup_create(struct cleanup_state *st)
{
	st->fd = mail_queue_enter(MAIL_QUEUE_INCOMING,
	    MAIL_QUEUE_MODE_WRITING, &st->queue_id, &st->arrival);
	if (st->fd < 0) {
		msg_warn("cannot create a file in %s: %m",
		    MAIL_QUEUE_INCOMING);
		return -1;
	}
	st->file_exists = true;
	buf_reset(&st->tmp);
	cleanup_size_data(&st->tmp, 0, 0, 0, 0);
	cleanup_out(st, REC_TYPE_SIZE, st->tmp.data, st->tmp.len);
	return 0;
}

/*
 * Finish a message that had no problem: XTRA, END, the real SIZE record,
 * mode 0700, one fsync. 0, or -1 after cleanup_fail(). A message that
 * fits in the output buffer is written with one write(2), the SIZE
 * record patched in memory; a larger one gets its SIZE record with
 * pwrite(2) at the end.
 */
static int
cleanup_commit(struct cleanup_state *st)
{
	static const long max = 999999999999999L;	/* REC_SIZE_WIDTH */
	off_t content;
	struct buf rec;
	ssize_t n = 0;

	st->xtra_offset = cleanup_out_offset(st);
	cleanup_out(st, REC_TYPE_XTRA, "", 0);
	cleanup_out(st, REC_TYPE_END, "", 0);
	if (st->fd < 0)
		return -1;
	/* MESG is an empty record: two bytes. */
	content = st->xtra_offset - (st->mesg_offset + 2);
	if (st->mesg_offset > max || content > max) {
		cleanup_fail(st, CLEANUP_STAT_SIZE,
		    "5.3.4 message file too big");
		return -1;
	}
	buf_reset(&st->tmp);
	cleanup_size_data(&st->tmp, (long)st->mesg_offset, (long)content,
	    st->rcpt_count, (long)st->flags);
	buf_init(&rec, 80);
	rec_encode(&rec, REC_TYPE_SIZE, st->tmp.data, st->tmp.len);
	if (st->written == 0 && st->out.len >= rec.len) {
		memcpy(st->out.data, rec.data, rec.len);
		buf_fini(&rec);
		if (cleanup_out_flush(st) < 0)
			return -1;
	} else {
		if (cleanup_out_flush(st) < 0
		    || (n = pwrite(st->fd, rec.data, rec.len, 0))
		    != (ssize_t)rec.len) {
			if (n >= 0)
				errno = EIO;
			if (st->fd >= 0) {
				msg_warn("%s: write size record: %m",
				    st->queue_id.data);
				cleanup_fail(st, CLEANUP_STAT_WRITE,
				    "4.3.0 queue file write error");
			}
			buf_fini(&rec);
			return -1;
		}
		buf_fini(&rec);
	}
	if (st->flags & CLEANUP_FLAG_DISCARD)
		return 0;
	if (st->bounce_reason.len > 0 && cleanup_bounce_all(st) < 0)
		return -1;
	if (fchmod(st->fd, MAIL_QUEUE_MODE_READY) < 0
	    || file_fsync(st->fd) < 0) {
		msg_warn("%s: sync queue file: %m", st->queue_id.data);
		cleanup_fail(st, CLEANUP_STAT_WRITE,
		    "4.3.0 queue file write error");
		return -1;
	}
	if (close(st->fd) < 0) {
		st->fd = -1;
		msg_warn("%s: close queue file: %m", st->queue_id.data);
		cleanup_fail(st, CLEANUP_STAT_WRITE,
		    "4.3.0 queue file write error");
		return -1;
	}
	st->fd = -1;
	return 0;
}

/* Wake qmgr: one byte, never blocking; silent when nobody listens. */
static void
cleanup_trigger_qmgr(void)
{
	struct buf path;
	char req = CLEANUP_QMGR_REQ;

	buf_init(&path, 64);
	buf_printf(&path, "public/%s", var_qmgr_service_name);
	if (trigger_send(path.data, &req, 1) < 0 && msg_verbose)
		msg_info("trigger %s: %m", path.data);
	buf_fini(&path);
}

static int
cleanup_reply(struct stream *s, struct cleanup_state *st)
{
	if (attr_send(s, A_NUM(ATTR_STATUS, st->status),
	    A_STR(ATTR_REASON, st->reason.data), A_END) < 0) {
		msg_warn("%s: cannot send the reply to the client",
		    st->queue_id.data);
		return -1;
	}
	return 0;
}

/* Log the outcome of a message that reached END. */
static void
cleanup_log(struct cleanup_state *st)
{
	const char *id = st->queue_id.data;

	if (st->status & (CLEANUP_STAT_SIZE | CLEANUP_STAT_HOPS
	    | CLEANUP_STAT_RCPT | CLEANUP_STAT_CONT))
		msg_info("%s: reject: %s; from=<%s>", id, st->reason.data,
		    st->sender.data);
	else if (st->status != 0)
		msg_warn("%s: not queued: %s; from=<%s>", id,
		    st->reason.data, st->sender.data);
	else if (st->flags & CLEANUP_FLAG_DISCARD)
		msg_info("%s: discard: client request; from=<%s>", id,
		    st->sender.data);
	else if (st->flags & CLEANUP_FLAG_HOLD)
		msg_info("%s: hold: client request; from=<%s>", id,
		    st->sender.data);
	/* Queued: qmgr logs "from=<...>, size=N, nrcpt=M (queue active)". */
}

/*
 * Read records up to END. Returns CLEANUP_REC_END, CLEANUP_REC_BAD
 * (reply now, then hang up), or 0 when the client went away.
 */
static int
cleanup_read(struct stream *s, struct cleanup_state *st)
{
	struct buf data, why;
	size_t limit;
	int type, ret;

	buf_init(&data, 1024);
	buf_init(&why, 100);
	for (;;) {
		limit = st->phase == CLEANUP_PHASE_ENVELOPE
		    ? CLEANUP_ENV_LIMIT : CLEANUP_CONTENT_LIMIT;
		if ((type = rec_get(s, &data, limit, &why)) < 0) {
			if (stream_error(s) == STREAM_OK) {
				ret = cleanup_bad(st, "%s", why.data);
			} else {
				if (stream_error(s) != STREAM_ERR_EOF)
					msg_warn("%s: client: %s",
					    st->queue_id.data, why.data);
				else if (msg_verbose)
					msg_info("%s: client went away: %s",
					    st->queue_id.data, why.data);
				ret = 0;
			}
			break;
		}
		if (st->phase == CLEANUP_PHASE_ENVELOPE)
			ret = cleanup_envelope(st, type, data.data, data.len);
		else
			ret = cleanup_message(st, type, data.data, data.len);
		if (ret != CLEANUP_REC_MORE)
			break;
	}
	buf_fini(&data);
	buf_fini(&why);
	return ret;
}

static void
cleanup_service(int fd, const char *service, char **argv)
{
	struct cleanup_state st;
	struct stream *s;
	long timeout_ms;
	int flags = 0;
	int ret;

	(void)service;
	(void)argv;
	cleanup_state_init(&st);
	cleanup_current = &st;
	s = stream_new(fd);
	timeout_ms = (long)var_ipc_timeout * 1000L;
	stream_set_timeout(s, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);

	if (cleanup_create(&st) < 0)
		goto out;
	if (attr_send(s, A_STR(ATTR_QUEUE_ID, st.queue_id.data), A_END) < 0)
		goto out;
	if (attr_recv(s, ATTR_STRICT, A_INT(ATTR_FLAGS, &flags), A_END) < 0) {
		if (stream_error(s) == STREAM_OK) {
			(void)cleanup_bad(&st, "bad flags message");
			(void)cleanup_reply(s, &st);
		}
		goto out;
	}
	if ((flags & ~CLEANUP_ALL_FLAGS) != 0) {
		(void)cleanup_bad(&st, "unknown flags 0x%x", (unsigned)flags);
		(void)cleanup_reply(s, &st);
		goto out;
	}
	st.flags = flags;

	ret = cleanup_read(s, &st);
	if (ret == 0)
		goto out;
	if (ret == CLEANUP_REC_END && st.status == 0
	    && cleanup_commit(&st) == 0) {
		if (st.flags & CLEANUP_FLAG_DISCARD) {
			cleanup_remove(&st);
		} else {
			/* Complete and synced: no longer ours to remove. */
			st.file_exists = false;
			if ((st.flags & CLEANUP_FLAG_HOLD)
			    && mail_queue_rename(st.queue_id.data,
				MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD) < 0) {
				msg_warn("%s: move to %s: %m",
				    st.queue_id.data, MAIL_QUEUE_HOLD);
				st.file_exists = true;
				cleanup_fail(&st, CLEANUP_STAT_WRITE,
				    "4.3.0 queue file write error");
			}
		}
	}
	if (ret == CLEANUP_REC_END)
		cleanup_log(&st);
	if (cleanup_reply(s, &st) == 0 && st.status == 0
	    && (st.flags & (CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD)) == 0)
		cleanup_trigger_qmgr();
out:
	/* The skeleton closes fd. */
	(void)stream_release(s);
	cleanup_current = NULL;
	cleanup_state_fini(&st);
}

static void
cleanup_post_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	(void)msg_cleanup(cleanup_fatal_hook);
}

static const struct single_server_spec cleanup_spec = {
	.name = "cleanup",
	.service = cleanup_service,
	.post_init = cleanup_post_init,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &cleanup_spec);
}
