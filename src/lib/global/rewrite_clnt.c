/*
 * rewrite_clnt.c - ask trivial-rewrite to rewrite an address; the
 * connection shared with resolve_clnt.c
 *
 *	if (rewrite_clnt(REWRITE_LOCAL, addr, &canon) < 0)
 *		defer(rewrite_clnt_error());
 *
 * The protocol, the connection rules and the cache are described in
 * rewrite_clnt.h. rewrite_clnt_call() is the one place that talks to
 * the service: it connects (bounded by ipc_timeout, also for a full
 * listen queue), drops a connection idle for ipc_idle seconds before
 * using it, sends the request, reads the reply with the attr.h limits,
 * and when the connection turns out to be broken (EOF or an I/O error:
 * the server exited between requests) reconnects and tries once more.
 *
 * SECURITY: replies come from another process. They are read with the
 * attr.h limits and extracted with ATTR_STRICT; a reason is made
 * printable before it is logged or handed to a caller.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rewrite_clnt.h"
#include "str.h"
#include "stream.h"
#include "unix_connect.h"
#include "timeutil.h"

static struct stream *rw_stream;	/* NULL: not connected */
static uint64_t rw_last_ms;		/* end of the last request */
static struct buf rw_error;		/* why the last request failed */

/* The last answer (rewrite_clnt.h "Cache"). */
static struct {
	bool valid;
	uint64_t when_ms;
	struct buf rule, addr, result;
} rw_last;

static void
rw_buf_ready(struct buf *b)
{
	if (b->data == NULL)
		buf_init(b, 64);
}

/* ipc_timeout in ms for the stream and connect(); it may be 1000 days. */
static int
rw_timeout_ms(void)
{
	if (var_ipc_timeout <= 0 || var_ipc_timeout > INT_MAX / 1000)
		return INT_MAX;
	return var_ipc_timeout * 1000;
}

void
rewrite_clnt_fail(const char *fmt, ...)
{
	va_list ap;

	rw_buf_ready(&rw_error);
	buf_reset(&rw_error);
	va_start(ap, fmt);
	buf_vprintf(&rw_error, fmt, ap);
	va_end(ap);
	msg_warn("%s", rw_error.data);
}

const char *
rewrite_clnt_error(void)
{
	return rw_error.data != NULL ? rw_error.data : "";
}

void
rewrite_clnt_disconnect(void)
{
	stream_free(rw_stream);
	rw_stream = NULL;
}

static int
rw_open(void)
{
	struct buf path, jail;
	int fd, saved;

	buf_init(&path, 128);
	buf_printf(&path, "%s/private/%s", var_queue_directory,
	    var_rewrite_service_name);
	if ((fd = unix_connect(path.data, rw_timeout_ms(), 0)) < 0 && errno == ENOENT) {
		/* Inside a chroot, queue_directory is the root. */
		saved = errno;
		buf_init(&jail, 64);
		buf_printf(&jail, "/private/%s", var_rewrite_service_name);
		if ((fd = unix_connect(jail.data, rw_timeout_ms(), 0)) < 0)
			errno = saved;
		buf_fini(&jail);
	}
	if (fd < 0) {
		rewrite_clnt_fail("cannot connect to the %s service (%s): %s",
		    var_rewrite_service_name, path.data, strerror(errno));
		buf_fini(&path);
		return -1;
	}
	buf_fini(&path);
	rw_stream = stream_new(fd);
	return 0;
}

static void
rw_stream_fail(enum stream_err err, int err_no)
{
	const char *svc = var_rewrite_service_name;

	switch (err) {
	case STREAM_ERR_EOF:
		rewrite_clnt_fail("lost connection to the %s service", svc);
		break;
	case STREAM_ERR_TIMEOUT:
		rewrite_clnt_fail("timeout after %d seconds talking to the %s "
		    "service", var_ipc_timeout, svc);
		break;
	case STREAM_ERR_IO:
		rewrite_clnt_fail("error talking to the %s service: %s", svc,
		    strerror(err_no));
		break;
	default:
		rewrite_clnt_fail("malformed reply from the %s service", svc);
		break;
	}
}

/* Send and read one message, reconnecting once; 0 or -1 (recorded). */
static int
rw_exchange(const struct attr_spec *request, struct attr_list *reply)
{
	enum stream_err err;
	int attempt, err_no;

	for (attempt = 0;; attempt++) {
		if (rw_stream != NULL && time_mono_ms() - rw_last_ms
		    >= (uint64_t)var_ipc_idle * 1000) {
			stream_free(rw_stream);
			rw_stream = NULL;
		}
		if (rw_stream == NULL && rw_open() < 0)
			return -1;
		stream_set_timeout(rw_stream, rw_timeout_ms());
		if (attr_send_list(rw_stream, request) == 0
		    && attr_recv_message(rw_stream, reply) == 0)
			return 0;
		/* Before stream_free() can change them. */
		err_no = errno;
		err = stream_error(rw_stream);
		stream_free(rw_stream);
		rw_stream = NULL;
		/* Broken, not slow: the server went away between requests. */
		if (attempt == 0 && (err == STREAM_ERR_EOF
		    || err == STREAM_ERR_IO)) {
			if (msg_verbose)
				msg_info("%s service: connection broken; "
				    "reconnecting", var_rewrite_service_name);
			continue;
		}
		rw_stream_fail(err, err_no);
		return -1;
	}
}

int
rewrite_clnt_call(const struct attr_spec *request, struct attr_list *reply)
{
	struct buf reason, why, text;
	int status = -1, ret = -1;

	if (rw_exchange(request, reply) < 0)
		return -1;
	buf_init(&reason, 64);
	buf_init(&why, 64);
	if (attr_extract(reply, ATTR_STRICT | ATTR_ALLOW_EXTRA,
	    (const struct attr_spec[]){
	    A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, &reason), A_END}, &why) < 0) {
		rewrite_clnt_fail("malformed reply from the %s service: %s",
		    var_rewrite_service_name, why.data);
		rewrite_clnt_disconnect();
	} else if (status != REWRITE_STAT_OK) {
		buf_init(&text, reason.len + 1);
		str_printable(&text, reason.data, reason.len);
		rewrite_clnt_fail("%s service: %s%s", var_rewrite_service_name,
		    status == REWRITE_STAT_BAD ? "request refused: " : "",
		    text.len > 0 ? text.data : "temporary failure");
		buf_fini(&text);
		/* The server hangs up after a bad request. */
		if (status == REWRITE_STAT_BAD)
			rewrite_clnt_disconnect();
		else
			rw_last_ms = time_mono_ms();
	} else {
		rw_last_ms = time_mono_ms();
		ret = 0;
	}
	buf_fini(&reason);
	buf_fini(&why);
	return ret;
}

static bool
rw_cache_hit(const char *rule, const char *addr)
{
	return rw_last.valid && time_mono_ms() - rw_last.when_ms
	    < (uint64_t)REWRITE_CLNT_CACHE_SECS * 1000
	    && strcmp(rw_last.rule.data, rule) == 0
	    && strcmp(rw_last.addr.data, addr) == 0;
}

int
rewrite_clnt(const char *rule, const char *addr, struct buf *result)
{
	struct attr_list reply;
	struct buf reason, why;
	int status, ret = -1;

	if (rw_cache_hit(rule, addr)) {
		buf_set(result, rw_last.result.data);
		return 0;
	}
	attr_list_init(&reply);
	buf_init(&reason, 64);
	buf_init(&why, 64);
	if (rewrite_clnt_call((const struct attr_spec[]){
	    A_STR(ATTR_REQUEST, REWRITE_REQ_REWRITE),
	    A_STR(ATTR_RULE, rule),
	    A_STR(ATTR_ADDR, addr), A_END}, &reply) < 0)
		goto out;
	if (attr_extract(&reply, ATTR_STRICT, (const struct attr_spec[]){
	    A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, &reason),
	    A_BUF(ATTR_ADDR, result), A_END}, &why) < 0) {
		rewrite_clnt_fail("malformed reply from the %s service: %s",
		    var_rewrite_service_name, why.data);
		rewrite_clnt_disconnect();
		goto out;
	}
	ret = 0;
	rw_buf_ready(&rw_last.rule);
	rw_buf_ready(&rw_last.addr);
	rw_buf_ready(&rw_last.result);
	buf_set(&rw_last.rule, rule);
	buf_set(&rw_last.addr, addr);
	buf_set(&rw_last.result, result->data);
	rw_last.when_ms = time_mono_ms();
	rw_last.valid = true;
out:
	attr_list_fini(&reply);
	buf_fini(&reason);
	buf_fini(&why);
	return ret;
}
