/*
 * resolve_clnt.c - ask trivial-rewrite where an address is delivered
 *
 *	if (resolve_clnt(rcpt, &reply) < 0)
 *		defer(rewrite_clnt_error());
 *
 * The "resolve" request (resolve_clnt.h), over the connection that
 * rewrite_clnt.c keeps. The last answer is kept for
 * REWRITE_CLNT_CACHE_SECS, as for rewrite: a message's recipients are
 * often at the same address one after another (retries, lists).
 *
 * SECURITY: the reply comes from another process: it is extracted with
 * ATTR_STRICT and the class is range-checked.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "params.h"
#include "proto_names.h"
#include "resolve_clnt.h"
#include "rewrite_clnt.h"
#include "timeutil.h"

static const char *const resolve_class_names[RESOLVE_CLASS_COUNT] = {
	[RESOLVE_CLASS_LOCAL] = "local",
	[RESOLVE_CLASS_ALIAS] = "alias",
	[RESOLVE_CLASS_VIRTUAL] = "virtual",
	[RESOLVE_CLASS_RELAY] = "relay",
	[RESOLVE_CLASS_DEFAULT] = "default",
};

/* The last answer. */
static struct {
	bool valid;
	uint64_t when_ms;
	struct buf addr;
	struct resolve_reply reply;
} rs_last;

void
resolve_reply_init(struct resolve_reply *r)
{
	buf_init(&r->transport, 16);
	buf_init(&r->nexthop, 64);
	buf_init(&r->recipient, 64);
	r->addr_class = RESOLVE_CLASS_DEFAULT;
}

void
resolve_reply_fini(struct resolve_reply *r)
{
	buf_fini(&r->transport);
	buf_fini(&r->nexthop);
	buf_fini(&r->recipient);
}

const char *
resolve_class_name(int addr_class)
{
	if (addr_class < 0 || addr_class >= RESOLVE_CLASS_COUNT)
		return NULL;
	return resolve_class_names[addr_class];
}

static void
resolve_copy(struct resolve_reply *to, const struct resolve_reply *from)
{
	buf_setn(&to->transport, from->transport.data, from->transport.len);
	buf_setn(&to->nexthop, from->nexthop.data, from->nexthop.len);
	buf_setn(&to->recipient, from->recipient.data, from->recipient.len);
	to->addr_class = from->addr_class;
}

static bool
resolve_cache_hit(const char *addr)
{
	return rs_last.valid && time_mono_ms() - rs_last.when_ms
	    < (uint64_t)REWRITE_CLNT_CACHE_SECS * 1000
	    && strcmp(rs_last.addr.data, addr) == 0;
}

int
resolve_clnt(const char *addr, struct resolve_reply *r)
{
	struct attr_list reply;
	struct buf reason, why;
	int status, addr_class = -1, ret = -1;

	if (resolve_cache_hit(addr)) {
		resolve_copy(r, &rs_last.reply);
		return 0;
	}
	attr_list_init(&reply);
	buf_init(&reason, 64);
	buf_init(&why, 64);
	if (rewrite_clnt_call((const struct attr_spec[]){
	    A_STR(ATTR_REQUEST, REWRITE_REQ_RESOLVE),
	    A_STR(ATTR_ADDR, addr), A_END}, &reply) < 0)
		goto out;
	if (attr_extract(&reply, ATTR_STRICT, (const struct attr_spec[]){
	    A_INT(ATTR_STATUS, &status),
	    A_BUF(ATTR_REASON, &reason),
	    A_BUF(ATTR_TRANSPORT, &r->transport),
	    A_BUF(ATTR_NEXTHOP, &r->nexthop),
	    A_BUF(ATTR_RECIPIENT, &r->recipient),
	    A_INT(ATTR_ADDR_CLASS, &addr_class), A_END}, &why) < 0) {
		rewrite_clnt_fail("malformed reply from the %s service: %s",
		    var_rewrite_service_name, why.data);
		rewrite_clnt_disconnect();
		goto out;
	}
	if (resolve_class_name(addr_class) == NULL
	    || r->transport.len == 0) {
		rewrite_clnt_fail("malformed reply from the %s service: "
		    "class %d, %s transport", var_rewrite_service_name,
		    addr_class, r->transport.len ? "non-empty" : "empty");
		rewrite_clnt_disconnect();
		goto out;
	}
	r->addr_class = (enum resolve_class)addr_class;
	if (rs_last.addr.data == NULL) {
		buf_init(&rs_last.addr, 64);
		resolve_reply_init(&rs_last.reply);
	}
	buf_set(&rs_last.addr, addr);
	resolve_copy(&rs_last.reply, r);
	rs_last.when_ms = time_mono_ms();
	rs_last.valid = true;
	ret = 0;
out:
	attr_list_fini(&reply);
	buf_fini(&reason);
	buf_fini(&why);
	return ret;
}
