/*
 * dict_proxy.c - the proxy: table type, a client of proxymap(8)
 *
 *	mail_dict_init();		(once, after main.cf is loaded)
 *	d = dict_open("proxy:mysql:/etc/petrel/users.cf", O_RDONLY, 0);
 *
 * Every request on a proxy table is sent to the proxymap service
 * ($queue_directory/private/proxymap; private/proxywrite when the table
 * is opened for writing), which opens the real table once and answers
 * for every process. The wire protocol is described in dict_proxy.h.
 *
 * Connections: one per service and process, shared by all proxy tables,
 * made at the first request and kept between requests. A connection
 * left idle for ipc_idle seconds is closed before the next request
 * (checked then; there is no timer), so that proxymap can go idle and
 * exit. A request that finds the connection broken (proxymap exited or
 * was restarted) reconnects and is sent once more; a timeout is not
 * retried. Every wait, connect included, is bounded by ipc_timeout.
 * A chrooted client finds the socket as /private/<service> when the
 * absolute path is not there.
 *
 * Every failure is temporary (DICT_TEMPFAIL with the reason): proxymap
 * unreachable, a table it cannot open, and a table that it refuses
 * ("proxymap: table X is not approved for proxy read access"; refused
 * at open, the caller gets dict.c's surrogate with that reason).
 *
 * dict_proxy_split_maps() and dict_proxy_listed() are proxymap's side:
 * which tables proxy_read_maps and proxy_write_maps approve.
 *
 * SECURITY: replies come from another process. They are read with the
 * attr.h limits and ATTR_STRICT, and reasons are made printable before
 * they reach logs or callers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "argv.h"
#include "attr.h"
#include "buf.h"
#include "dict.h"
#include "dict_lmdb.h"
#include "dict_proxy.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "str.h"
#include "stream.h"
#include "unix_connect.h"
#include "timeutil.h"

#define PROXY_PREFIX	"proxy:"
#define PROXY_MAP_SEPS	", \t\r\n"

/* One connection to one service, shared by the tables that use it. */
struct proxy_clnt {
	const char *service;
	struct stream *stream;		/* NULL: not connected */
	uint64_t last_ms;		/* end of the last request */
};

static struct proxy_clnt proxy_clnt_read = {.service = PROXY_SERVICE_READ};
static struct proxy_clnt proxy_clnt_write = {.service = PROXY_SERVICE_WRITE};

struct dict_proxy {
	struct dict d;
	struct proxy_clnt *clnt;
	int flags;			/* dict flags passed to the server */
};

/* ipc_timeout in ms for the stream and connect(); it may be 1000 days. */
static int
proxy_timeout_ms(void)
{
	if (var_ipc_timeout <= 0 || var_ipc_timeout > INT_MAX / 1000)
		return INT_MAX;
	return var_ipc_timeout * 1000;
}

static void
proxy_clnt_close(struct proxy_clnt *c)
{
	stream_free(c->stream);
	c->stream = NULL;
}

static int
proxy_clnt_open(struct proxy_clnt *c, struct buf *why)
{
	struct buf path;
	int fd, saved;

	buf_init(&path, 128);
	buf_printf(&path, "%s/private/%s", var_queue_directory, c->service);
	if ((fd = unix_connect(path.data, proxy_timeout_ms(), 0)) < 0 && errno == ENOENT) {
		/* Inside a chroot, queue_directory is the root. */
		struct buf jail;

		saved = errno;
		buf_init(&jail, 64);
		buf_printf(&jail, "/private/%s", c->service);
		if ((fd = unix_connect(jail.data, proxy_timeout_ms(), 0)) < 0)
			errno = saved;
		buf_fini(&jail);
	}
	if (fd < 0) {
		buf_printf(why, "cannot connect to the %s service (%s): %s",
		    c->service, path.data, strerror(errno));
		buf_fini(&path);
		return -1;
	}
	buf_fini(&path);
	c->stream = stream_new(fd);
	return 0;
}

static void
proxy_stream_why(struct proxy_clnt *c, int err_no, struct buf *why)
{
	switch (stream_error(c->stream)) {
	case STREAM_ERR_EOF:
		buf_printf(why, "lost connection to the %s service",
		    c->service);
		break;
	case STREAM_ERR_TIMEOUT:
		buf_printf(why, "timeout after %d seconds talking to the %s "
		    "service", var_ipc_timeout, c->service);
		break;
	case STREAM_ERR_IO:
		buf_printf(why, "error talking to the %s service: %s",
		    c->service, strerror(err_no));
		break;
	default:
		buf_printf(why, "malformed reply from the %s service",
		    c->service);
		break;
	}
}

/*
 * Send request and extract the reply strictly into reply. Returns 0, or
 * -1 with why set and the connection closed.
 */
static int
proxy_call(struct proxy_clnt *c, const struct attr_spec *request,
    const struct attr_spec *reply, struct buf *why)
{
	struct attr_list list;
	struct buf bad;
	enum stream_err err;
	int attempt, err_no, ret = -1;

	buf_reset(why);
	attr_list_init(&list);
	for (attempt = 0;; attempt++) {
		if (c->stream != NULL && time_mono_ms() - c->last_ms
		    >= (uint64_t)var_ipc_idle * 1000)
			proxy_clnt_close(c);
		if (c->stream == NULL && proxy_clnt_open(c, why) < 0)
			goto out;
		stream_set_timeout(c->stream, proxy_timeout_ms());
		if (attr_send_list(c->stream, request) == 0
		    && attr_recv_message(c->stream, &list) == 0)
			break;
		/* Before close() in proxy_clnt_close() can change it. */
		err_no = errno;
		err = stream_error(c->stream);
		/* Broken, not slow: proxymap went away between requests. */
		if (attempt == 0 && (err == STREAM_ERR_EOF
		    || err == STREAM_ERR_IO)) {
			if (msg_verbose)
				msg_info("%s service: connection broken; "
				    "reconnecting", c->service);
			proxy_clnt_close(c);
			continue;
		}
		proxy_stream_why(c, err_no, why);
		proxy_clnt_close(c);
		goto out;
	}
	buf_init(&bad, 64);
	if (attr_extract(&list, ATTR_STRICT, reply, &bad) < 0) {
		buf_printf(why, "malformed reply from the %s service: %s",
		    c->service, bad.data);
		proxy_clnt_close(c);
	} else {
		c->last_ms = time_mono_ms();
		ret = 0;
	}
	buf_fini(&bad);
out:
	attr_list_fini(&list);
	return ret;
}

/*
 * Turn a reply status into a result for d. The reason is the server's
 * text; it is made printable, and an empty one gets a generic wording.
 */
static enum dict_result
proxy_result(struct dict *d, int status, const struct buf *reason)
{
	struct dict_proxy *dp = (struct dict_proxy *)d;
	struct buf text;
	enum dict_result rc;

	switch (status) {
	case PROXY_STAT_OK:
		return DICT_FOUND;
	case PROXY_STAT_NOTFOUND:
		return DICT_NOTFOUND;
	}
	buf_init(&text, 128);
	if (reason->len > 0)
		str_printable(&text, reason->data, reason->len);
	else if (status == PROXY_STAT_TEMPFAIL || status == PROXY_STAT_DENY
	    || status == PROXY_STAT_BAD)
		buf_printf(&text, "%s: table %s: request failed",
		    dp->clnt->service, d->name);
	else
		buf_printf(&text, "%s: table %s: unexpected status %d",
		    dp->clnt->service, d->name, status);
	rc = dict_tempfail(d, "%s", text.data);
	buf_fini(&text);
	return rc;
}

static enum dict_result
dict_proxy_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_proxy *dp = (struct dict_proxy *)d;
	struct buf reason, why;
	enum dict_result rc;
	int status = PROXY_STAT_TEMPFAIL;

	buf_init(&reason, 64);
	buf_init(&why, 128);
	if (proxy_call(dp->clnt, (const struct attr_spec[]){
	    A_STR(ATTR_REQUEST, PROXY_REQ_LOOKUP),
	    A_STR(ATTR_TABLE, d->name),
	    A_NUM(ATTR_FLAGS, dp->flags),
	    A_STR(ATTR_KEY, key), A_END},
	    (const struct attr_spec[]){
	    A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, &reason),
	    A_BUF(ATTR_VALUE, value), A_END}, &why) < 0) {
		rc = dict_tempfail(d, "table %s: %s", d->full_name, why.data);
	} else {
		rc = proxy_result(d, status, &reason);
	}
	if (rc != DICT_FOUND)
		buf_reset(value);
	buf_fini(&reason);
	buf_fini(&why);
	return rc;
}

/* update and delete: same reply, value NULL for delete. */
static enum dict_result
proxy_change(struct dict *d, const char *request, const char *key,
    const char *value)
{
	struct dict_proxy *dp = (struct dict_proxy *)d;
	struct buf reason, why;
	enum dict_result rc;
	int status = PROXY_STAT_TEMPFAIL;
	const struct attr_spec upd[] = {
		A_STR(ATTR_REQUEST, request),
		A_STR(ATTR_TABLE, d->name),
		A_NUM(ATTR_FLAGS, dp->flags),
		A_STR(ATTR_KEY, key),
		A_STR(ATTR_VALUE, value),
		A_END,
	};
	/* Without the value: the same list, cut one entry short. */
	const struct attr_spec del[] = {upd[0], upd[1], upd[2], upd[3], A_END};

	buf_init(&reason, 64);
	buf_init(&why, 128);
	if (proxy_call(dp->clnt, value ? upd : del, (const struct attr_spec[]){
	    A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, &reason), A_END}, &why) < 0)
		rc = dict_tempfail(d, "table %s: %s", d->full_name, why.data);
	else
		rc = proxy_result(d, status, &reason);
	buf_fini(&reason);
	buf_fini(&why);
	return rc;
}

static enum dict_result
dict_proxy_update(struct dict *d, const char *key, const char *value)
{
	return proxy_change(d, PROXY_REQ_UPDATE, key, value);
}

static enum dict_result
dict_proxy_delete(struct dict *d, const char *key)
{
	return proxy_change(d, PROXY_REQ_DELETE, key, NULL);
}

static void
dict_proxy_close(struct dict *d)
{
	/* The connection is shared and outlives the table. */
	dict_free(d);
}

static const struct dict_ops dict_proxy_ops;

/*
 * Ask the server at once whether it will serve the table, so that a
 * refused table is reported (and logged by dict_open) when it is opened.
 * An unreachable server is not an error yet: it may be there for the
 * first lookup.
 */
static struct dict *
dict_proxy_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_proxy *dp;
	struct dict *d;
	struct buf reason, err;
	int status = PROXY_STAT_TEMPFAIL;

	if (dict_flags & DICT_FLAG_NO_PROXY) {
		buf_printf(why, "table %s%s: a proxy table cannot be served "
		    "by proxymap", PROXY_PREFIX, name);
		return NULL;
	}
	if (name[0] == ':' || strchr(name, ':') == NULL) {
		buf_printf(why, "table %s%s: expected %stype:name",
		    PROXY_PREFIX, name, PROXY_PREFIX);
		return NULL;
	}
	if (open_flags & O_TRUNC) {
		buf_printf(why, "table %s%s: cannot create a table through "
		    "proxymap", PROXY_PREFIX, name);
		return NULL;
	}
	d = dict_alloc(&dict_proxy_ops, name, open_flags, dict_flags,
	    sizeof(*dp));
	dp = (struct dict_proxy *)d;
	dp->clnt = (open_flags & O_ACCMODE) == O_RDONLY ? &proxy_clnt_read
	    : &proxy_clnt_write;
	dp->flags = dict_flags & PROXY_FLAGS_PASSED;

	buf_init(&reason, 64);
	buf_init(&err, 128);
	if (proxy_call(dp->clnt, (const struct attr_spec[]){
	    A_STR(ATTR_REQUEST, PROXY_REQ_OPEN),
	    A_STR(ATTR_TABLE, name),
	    A_NUM(ATTR_FLAGS, dp->flags), A_END},
	    (const struct attr_spec[]){
	    A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, &reason), A_END}, &err) < 0) {
		if (msg_verbose)
			msg_info("table %s: %s", d->full_name, err.data);
	} else if (status == PROXY_STAT_DENY || status == PROXY_STAT_BAD) {
		(void)proxy_result(d, status, &reason);
		buf_set(why, d->error.data);
		dict_free(d);
		d = NULL;
	} else if (status != PROXY_STAT_OK) {
		/* Kept: the server may manage to open it later. */
		(void)proxy_result(d, status, &reason);
	}
	buf_fini(&reason);
	buf_fini(&err);
	return d;
}

static const struct dict_ops dict_proxy_ops = {
	.type = "proxy",
	.open = dict_proxy_open,
	.lookup = dict_proxy_lookup,
	.update = dict_proxy_update,
	.delete = dict_proxy_delete,
	.close = dict_proxy_close,
};

void
dict_proxy_register(void)
{
	if (dict_register(&dict_proxy_ops) < 0)
		msg_panic("dict_proxy_register: cannot register the proxy "
		    "table type");
}

void
mail_dict_init(void)
{
	static bool done;

	/* Again after every configuration load: the size may have changed. */
	dict_lmdb_set_map_size((size_t)var_lmdb_map_size);
	if (done)
		return;
	dict_proxy_register();
	done = true;
}

static bool
proxy_is_sep(int ch)
{
	return ch != 0 && strchr(PROXY_MAP_SEPS, ch) != NULL;
}

struct argv *
dict_proxy_split_maps(const char *list)
{
	struct argv *maps = argv_new();
	const char *cp = list, *word;
	size_t len, prefix = strlen(PROXY_PREFIX);
	int depth;

	for (;;) {
		while (proxy_is_sep(*cp))
			cp++;
		if (*cp == 0)
			break;
		/* A word ends at a separator outside braces (or the end). */
		for (word = cp, depth = 0; *cp != 0; cp++) {
			if (*cp == '{')
				depth++;
			else if (*cp == '}' && depth > 0)
				depth--;
			else if (depth == 0 && proxy_is_sep(*cp))
				break;
		}
		len = (size_t)(cp - word);
		if (len >= prefix && strncmp(word, PROXY_PREFIX, prefix) == 0) {
			word += prefix;
			len -= prefix;
		}
		/* Only type:name counts; "$foo" left empty, stray words. */
		if (len == 0 || word[0] == ':'
		    || memchr(word, ':', len) == NULL)
			continue;
		argv_addn(maps, word, len);
	}
	return maps;
}

bool
dict_proxy_listed(const struct argv *maps, const char *table)
{
	size_t i;

	for (i = 0; i < maps->argc; i++)
		if (strcmp(maps->argv[i], table) == 0)
			return true;
	return false;
}
