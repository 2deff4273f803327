/*
 * smtpd_dns.c - smtpd: blocking DNS lookups on a private event base
 *
 * smtpd serves one client at a time with blocking I/O, so a DNS lookup
 * may simply wait for its answer: smtpd_dns_lookup() starts one c-ares
 * query (lib/dns) on a private libevent base and runs that base until
 * the query calls back. Every lookup ends within dns_timeout * dns_tries
 * (the library's deadline), so a dead DNS server costs a bounded wait
 * and a DNS_TEMPFAIL answer, never a hang.
 *
 * The resolver (dns_servers, dns_timeout, dns_tries) is made once per
 * process: smtpd_dns_init() at startup, before chroot and the privilege
 * drop (c-ares reads /etc/resolv.conf then), or at the first lookup.
 * smtpd_dns_fini() frees it at exit.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <sysexits.h>

#include "buf.h"
#include "dns.h"
#include "msg.h"
#include "params.h"

#include "smtpd.h"
#include "smtpd_check.h"

static struct event_base *smtpd_dns_base;
static struct dns_resolver *smtpd_dns_resolver;

/* Make the resolver; false with why set. */
static bool
smtpd_dns_open(struct buf *why)
{
	if (smtpd_dns_resolver != NULL)
		return true;
	if (smtpd_dns_base == NULL
	    && (smtpd_dns_base = event_base_new()) == NULL) {
		buf_set(why, "cannot create an event base");
		return false;
	}
	smtpd_dns_resolver = dns_resolver_new(smtpd_dns_base,
	    *var_dns_servers ? var_dns_servers : NULL, var_dns_timeout * 1000,
	    var_dns_tries, why);
	return smtpd_dns_resolver != NULL;
}

void
smtpd_dns_init(void)
{
	struct buf why;

	buf_init(&why, 64);
	if (!smtpd_dns_open(&why))
		msg_fatal_status(EX_CONFIG, "dns_servers = %s: %s",
		    var_dns_servers, why.data);
	buf_fini(&why);
}

static void
smtpd_dns_done(void *ctx, const struct dns_reply *reply)
{
	struct dns_reply **out = ctx;

	*out = dns_reply_dup(reply);
}

struct dns_reply *
smtpd_dns_lookup(const char *name, int type)
{
	struct dns_reply *reply = NULL;
	struct dns_reply failed;
	struct buf why;
	int rc;

	buf_init(&why, 64);
	if (!smtpd_dns_open(&why)) {
		msg_warn("DNS resolver: %s", why.data);
		failed.name = name;
		failed.type = type;
		failed.status = DNS_TEMPFAIL;
		failed.why = why.data;
		failed.rrs = NULL;
		failed.nrrs = 0;
		reply = dns_reply_dup(&failed);
		buf_fini(&why);
		return reply;
	}
	buf_fini(&why);
	dns_lookup(smtpd_dns_resolver, name, type, smtpd_dns_done, &reply);
	while (reply == NULL) {
		if ((rc = event_base_loop(smtpd_dns_base, EVLOOP_ONCE)) < 0)
			msg_fatal("DNS lookup of %s: event loop error", name);
		if (rc > 0)
			msg_panic("smtpd_dns_lookup: %s: no pending events",
			    name);
	}
	return reply;
}

void
smtpd_dns_fini(void)
{
	dns_resolver_free(smtpd_dns_resolver);
	smtpd_dns_resolver = NULL;
	if (smtpd_dns_base != NULL)
		event_base_free(smtpd_dns_base);
	smtpd_dns_base = NULL;
}
