/*
 * anvil_clnt.c - ask anvil for connection counts and rates
 *
 *	if (anvil_clnt_connect(ident, &count, &rate) < 0)
 *		... do not enforce the limits ...
 *
 * The requests of anvil_clnt.h, over one connection to private/anvil
 * that is opened at the first call and kept: anvil counts a process's
 * connections for as long as its connection stays open. The connect is
 * bounded by ipc_timeout, and so is each exchange. When the connection
 * turns out broken (EOF or an I/O error: anvil restarted between
 * requests) it is opened again and the request sent once more; the
 * connections registered over the old one are then gone from anvil's
 * counts, as they would be in Postfix.
 *
 * SECURITY: replies come from another process. They are read with the
 * attr.h limits and extracted with ATTR_STRICT; counts are checked to
 * be non-negative.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "anvil_clnt.h"
#include "attr.h"
#include "buf.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "stream.h"
#include "unix_connect.h"

static struct stream *anvil_stream;	/* NULL: not connected */
static struct buf anvil_err;		/* why the last call failed */

static int
anvil_timeout_ms(void)
{
	if (var_ipc_timeout <= 0 || var_ipc_timeout > INT_MAX / 1000)
		return INT_MAX;
	return var_ipc_timeout * 1000;
}

static void
anvil_fail(const char *fmt, ...)
{
	va_list ap;

	if (anvil_err.data == NULL)
		buf_init(&anvil_err, 64);
	buf_reset(&anvil_err);
	va_start(ap, fmt);
	buf_vprintf(&anvil_err, fmt, ap);
	va_end(ap);
	msg_warn("%s", anvil_err.data);
}

const char *
anvil_clnt_error(void)
{
	return anvil_err.data != NULL ? anvil_err.data : "";
}

void
anvil_clnt_close(void)
{
	stream_free(anvil_stream);
	anvil_stream = NULL;
}

static int
anvil_open(void)
{
	struct buf path;
	int fd;

	buf_init(&path, 128);
	buf_printf(&path, "%s/private/%s", var_queue_directory,
	    ANVIL_SERVICE);
	fd = unix_connect(path.data, anvil_timeout_ms(), 0);
	if (fd < 0 && errno == ENOENT) {
		/* Inside a chroot, queue_directory is the root. */
		buf_set(&path, "/private/" ANVIL_SERVICE);
		fd = unix_connect(path.data, anvil_timeout_ms(), 0);
	}
	if (fd < 0) {
		anvil_fail("cannot connect to the %s service (%s/private/%s): "
		    "%s", ANVIL_SERVICE, var_queue_directory, ANVIL_SERVICE,
		    strerror(errno));
		buf_fini(&path);
		return -1;
	}
	buf_fini(&path);
	anvil_stream = stream_new(fd);
	return 0;
}

/* Send one request and read the reply, reconnecting once. */
static int
anvil_exchange(const char *request, const char *ident,
    struct attr_list *reply)
{
	enum stream_err err;
	int attempt, err_no;

	for (attempt = 0;; attempt++) {
		if (anvil_stream == NULL && anvil_open() < 0)
			return -1;
		stream_set_timeout(anvil_stream, anvil_timeout_ms());
		if (attr_send(anvil_stream, A_STR(ATTR_REQUEST, request),
		    A_STR(ANVIL_ATTR_IDENT, ident), A_END) == 0
		    && attr_recv_message(anvil_stream, reply) == 0)
			return 0;
		err_no = errno;
		err = stream_error(anvil_stream);
		anvil_clnt_close();
		if (attempt == 0 && (err == STREAM_ERR_EOF
		    || err == STREAM_ERR_IO)) {
			if (msg_verbose)
				msg_info("%s service: connection broken; "
				    "reconnecting", ANVIL_SERVICE);
			continue;
		}
		if (err == STREAM_ERR_TIMEOUT)
			anvil_fail("timeout after %d seconds talking to the %s "
			    "service", var_ipc_timeout, ANVIL_SERVICE);
		else if (err == STREAM_ERR_EOF)
			anvil_fail("lost connection to the %s service",
			    ANVIL_SERVICE);
		else if (err == STREAM_ERR_IO)
			anvil_fail("error talking to the %s service: %s",
			    ANVIL_SERVICE, strerror(err_no));
		else
			anvil_fail("malformed reply from the %s service",
			    ANVIL_SERVICE);
		return -1;
	}
}

/*
 * One request; the reply's values after "status" go to the nvals ints
 * named in names[]. 0 or -1.
 */
static int
anvil_call(const char *request, const char *ident, int nvals,
    const char *const *names, int **vals)
{
	struct attr_list reply;
	struct attr_spec spec[6];
	struct buf why;
	int status = -1, ret = -1, i;

	if (nvals > 4)
		msg_panic("anvil_call: %d values", nvals);
	attr_list_init(&reply);
	buf_init(&why, 64);
	if (anvil_exchange(request, ident, &reply) < 0)
		goto out;
	spec[0] = (struct attr_spec)A_INT(ATTR_STATUS, &status);
	spec[1] = (struct attr_spec)A_END;
	if (attr_extract(&reply, ATTR_STRICT | ATTR_ALLOW_EXTRA, spec,
	    &why) < 0) {
		anvil_fail("malformed reply from the %s service: %s",
		    ANVIL_SERVICE, why.data);
		anvil_clnt_close();
		goto out;
	}
	if (status != ANVIL_STAT_OK) {
		anvil_fail("%s service: %s request for (%s) refused "
		    "(status %d)", ANVIL_SERVICE, request, ident, status);
		goto out;
	}
	for (i = 0; i < nvals; i++)
		spec[i + 1] = (struct attr_spec)A_INT(names[i], vals[i]);
	spec[nvals + 1] = (struct attr_spec)A_END;
	if (attr_extract(&reply, ATTR_STRICT, spec, &why) < 0) {
		anvil_fail("malformed reply from the %s service: %s",
		    ANVIL_SERVICE, why.data);
		anvil_clnt_close();
		goto out;
	}
	for (i = 0; i < nvals; i++) {
		if (*vals[i] < 0) {
			anvil_fail("malformed reply from the %s service: "
			    "%s %d", ANVIL_SERVICE, names[i], *vals[i]);
			anvil_clnt_close();
			goto out;
		}
	}
	ret = 0;
out:
	attr_list_fini(&reply);
	buf_fini(&why);
	return ret;
}

int
anvil_clnt_connect(const char *ident, int *count, int *rate)
{
	static const char *const names[] = {ANVIL_ATTR_COUNT, ANVIL_ATTR_RATE};
	int *vals[] = {count, rate};

	return anvil_call(ANVIL_REQ_CONNECT, ident, 2, names, vals);
}

int
anvil_clnt_disconnect(const char *ident)
{
	return anvil_call(ANVIL_REQ_DISCONNECT, ident, 0, NULL, NULL);
}

int
anvil_clnt_message(const char *ident, int *rate)
{
	static const char *const names[] = {ANVIL_ATTR_RATE};
	int *vals[] = {rate};

	return anvil_call(ANVIL_REQ_MESSAGE, ident, 1, names, vals);
}

int
anvil_clnt_recipient(const char *ident, int *rate)
{
	static const char *const names[] = {ANVIL_ATTR_RATE};
	int *vals[] = {rate};

	return anvil_call(ANVIL_REQ_RECIPIENT, ident, 1, names, vals);
}

int
anvil_clnt_lookup(const char *ident, int *count, int *rate,
    int *message_rate, int *recipient_rate)
{
	static const char *const names[] = {ANVIL_ATTR_COUNT, ANVIL_ATTR_RATE,
	    ANVIL_ATTR_MAIL, ANVIL_ATTR_RCPT};
	int *vals[] = {count, rate, message_rate, recipient_rate};

	return anvil_call(ANVIL_REQ_LOOKUP, ident, 4, names, vals);
}
