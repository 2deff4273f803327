/*
 * bounce_clnt.c - ask the bounce daemon to send a delivery report
 *
 *	if (bounce_clnt_request(BOUNCE_REQ_FLUSH, MAIL_QUEUE_ACTIVE, id,
 *	    &why) < 0)
 *		... keep the message and the log, ask again later
 *
 * The protocol is in bounce_clnt.h. The daemon is a single-server (one
 * request per connection), so each request connects to
 * private/$bounce_service_name (relative to queue_directory, the
 * current directory, which also works inside a chroot), sends the
 * request, reads the answer and hangs up. Every wait, the connect()
 * included, is bounded by ipc_timeout, at most daemon_timeout.
 *
 * SECURITY: the reply comes from another process: it is read with the
 * attr.h limits, extracted with ATTR_STRICT, and its reason is made
 * printable before it is handed to the caller (who logs it).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "attr.h"
#include "bounce_clnt.h"
#include "buf.h"
#include "msg.h"
#include "params.h"
#include "str.h"
#include "stream.h"
#include "unix_connect.h"

/* ipc_timeout, at most daemon_timeout, in milliseconds. */
static int
bounce_clnt_timeout_ms(void)
{
	int secs = var_ipc_timeout;

	if (var_daemon_timeout > 0 && var_daemon_timeout < secs)
		secs = var_daemon_timeout;
	return secs > INT_MAX / 1000 ? INT_MAX : secs * 1000;
}

/* Why a stream operation failed (stream_error() and errno). */
static void
bounce_clnt_stream_why(struct buf *why, struct stream *s, int err_no)
{
	const char *svc = var_bounce_service_name;

	switch (stream_error(s)) {
	case STREAM_ERR_EOF:
		buf_printf(why, "lost connection to the %s service", svc);
		break;
	case STREAM_ERR_TIMEOUT:
		buf_printf(why, "timeout after %d seconds talking to the %s "
		    "service", bounce_clnt_timeout_ms() / 1000, svc);
		break;
	case STREAM_ERR_IO:
		buf_printf(why, "error talking to the %s service: %s", svc,
		    strerror(err_no));
		break;
	default:
		buf_printf(why, "malformed reply from the %s service", svc);
		break;
	}
}

int
bounce_clnt_request(const char *request, const char *queue_name,
    const char *queue_id, struct buf *why)
{
	struct stream *s = NULL;
	struct attr_list reply;
	struct buf path, reason, err;
	int fd, err_no, status = -1, ret = -1;

	buf_reset(why);
	attr_list_init(&reply);
	buf_init(&path, 64);
	buf_init(&reason, 64);
	buf_init(&err, 64);
	buf_printf(&path, "private/%s", var_bounce_service_name);
	if ((fd = unix_connect(path.data, bounce_clnt_timeout_ms(), 0)) < 0) {
		buf_printf(why, "cannot connect to the %s service (%s): %s",
		    var_bounce_service_name, path.data, strerror(errno));
		goto out;
	}
	s = stream_new(fd);
	stream_set_timeout(s, bounce_clnt_timeout_ms());
	if (attr_send(s, A_STR(BOUNCE_ATTR_REQUEST, request),
	    A_STR(BOUNCE_ATTR_QUEUE, queue_name),
	    A_STR(BOUNCE_ATTR_ID, queue_id), A_END) < 0
	    || attr_recv_message(s, &reply) < 0) {
		err_no = errno;
		bounce_clnt_stream_why(why, s, err_no);
		goto out;
	}
	if (attr_extract(&reply, ATTR_STRICT, (const struct attr_spec[]){
	    A_INT(BOUNCE_ATTR_STATUS, &status),
	    A_BUF(BOUNCE_ATTR_REASON, &reason), A_END}, &err) < 0) {
		buf_printf(why, "malformed reply from the %s service: %s",
		    var_bounce_service_name, err.data);
		goto out;
	}
	if (status != 0) {
		buf_printf(why, "%s service: ", var_bounce_service_name);
		if (reason.len > 0)
			str_printable(why, reason.data, reason.len);
		else
			buf_printf(why, "%s failed (status %d)", request,
			    status);
		goto out;
	}
	ret = 0;
out:
	stream_free(s);
	attr_list_fini(&reply);
	buf_fini(&path);
	buf_fini(&reason);
	buf_fini(&err);
	return ret;
}
