/*
 * smtpd_check_dns.c - smtpd restrictions that ask the DNS
 *
 *	reject_rbl_client list[=filter]		client address in a DNSBL
 *	permit_dnswl_client list[=filter]	client address in a DNSWL
 *	reject_rhsbl_client, _reverse_client,	a name or domain in a
 *	    _helo, _sender, _recipient		right-hand-side list
 *	reject_unknown_helo_hostname		no A, AAAA or MX record
 *	reject_unknown_sender_domain,		no MX, A or AAAA record, or
 *	    _recipient_domain			a null MX (RFC 7505: 550
 *						5.7.27 for a sender, 556
 *						5.1.10 for a recipient)
 *	reject_unknown_client_hostname,		the client name lookups of
 *	    _reverse_client_hostname		smtpd_peer.c failed
 *
 * A name that does not exist (NXDOMAIN, no record) is a permanent
 * answer; a DNS failure (timeout, SERVFAIL) is never taken for one: it
 * gives a 4xx through the *_tempfail_action parameters (the default,
 * defer_if_permit, defers the command unless something else rejects
 * it), and a failed allowlist lookup gives defer_if_reject. Each name is
 * asked once per session (check_dns_cached()).
 *
 * DNS list replies use default_rbl_reply or the rbl_reply_maps entry of
 * the list, a template with $rbl_code, $rbl_class, $rbl_what,
 * $rbl_domain, $rbl_reason, $client_address, ... (postconf(5)).
 *
 * SECURITY: TXT records are hostile text: they are made printable and
 * cut at CHECK_RBL_REASON_MAX bytes (an SMTP reply line must stay under
 * 512 bytes, RFC 5321 4.5.3.1.5) before they reach a reply, and are
 * never expanded as a template.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dict.h"
#include "dict_maps.h"
#include "dns.h"
#include "htable.h"
#include "mail_addr_find.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "resolve_clnt.h"
#include "str.h"

#include "smtpd.h"
#include "smtpd_check.h"

#define CHECK_DNS_CACHE		200	/* replies per session */
#define CHECK_RBL_REASON_MAX	300	/* bytes of TXT text in a reply */

static struct dict *check_rbl_reply_maps;

void
check_dns_init(void)
{
	check_rbl_reply_maps = dict_maps_open("rbl_reply_maps",
	    var_rbl_reply_maps, O_RDONLY, DICT_FLAG_FOLD);
}

static void
check_dns_reply_free(void *ptr)
{
	dns_reply_free(ptr);
}

const struct dns_reply *
check_dns_cached(struct check_eval *ev, const char *name, int type)
{
	struct check_session *cs = ev->cs;
	struct dns_reply *r;
	struct buf key;

	buf_init(&key, 64);
	buf_printf(&key, "%d:%s", type, name);
	str_lower(key.data);
	if ((r = htable_get(cs->dns, key.data)) == NULL) {
		r = smtpd_dns_lookup(name, type);
		if (r->status == DNS_TEMPFAIL)
			msg_warn("DNS lookup of %s (%s) failed: %s", name,
			    dns_type_name(type), r->why);
		if (htable_count(cs->dns) >= CHECK_DNS_CACHE) {
			htable_free(cs->dns, check_dns_reply_free);
			cs->dns = htable_new(16);
		}
		htable_put(cs->dns, key.data, r);
	}
	buf_fini(&key);
	return r;
}

/*
 * Does name have a record of one of types (in order, stopping at the
 * first found)? DNS_OK, DNS_NOTFOUND (every answer permanent), or
 * DNS_TEMPFAIL (no record found, some lookup failed).
 */
static enum dns_status
check_dns_any(struct check_eval *ev, const char *name, const int *types,
    size_t ntypes)
{
	enum dns_status status = DNS_NOTFOUND;
	const struct dns_reply *r;

	for (size_t i = 0; i < ntypes; i++) {
		r = check_dns_cached(ev, name, types[i]);
		if (r->status == DNS_OK)
			return DNS_OK;
		if (r->status == DNS_TEMPFAIL)
			status = DNS_TEMPFAIL;
	}
	return status;
}

/* ---- unknown names ------------------------------------------------------- */

static enum check_result
check_unknown_client(struct check_eval *ev, bool reverse)
{
	struct smtpd_state *st = ev->st;
	enum smtpd_peer_status status = reverse ? st->reverse_name_status :
	    st->name_status;

	if (status == SMTPD_PEER_OK)
		return CHECK_DUNNO;
	/* A failed lookup is always 450: the name may well exist. */
	return check_reject(ev, status == SMTPD_PEER_TEMPFAIL ? 450 :
	    var_unknown_client_reject_code, "4.7.1", CHECK_KIND_OTHER,
	    "Client host rejected: cannot find your %shostname, [%s]",
	    reverse ? "reverse " : "", st->addr);
}

/* A HELO name or domain that is an address, not a DNS name. */
static bool
check_dns_is_addr(const char *name)
{
	unsigned char a[16];

	return *name == '[' || inet_pton(AF_INET, name, a) == 1
	    || inet_pton(AF_INET6, name, a) == 1;
}

static enum check_result
check_unknown_helo(struct check_eval *ev)
{
	static const int types[] = { DNS_A, DNS_AAAA, DNS_MX };
	const char *helo = ev->helo;

	if (helo == NULL || check_dns_is_addr(helo))
		return CHECK_DUNNO;
	switch (check_dns_any(ev, helo, types, 3)) {
	case DNS_OK:
		return CHECK_DUNNO;
	case DNS_TEMPFAIL:
		return check_tempfail(ev, check_tf_unknown_helo, "4.7.1",
		    CHECK_KIND_OTHER, "<%s>: Helo command rejected: Host not "
		    "found", helo);
	default:
		return check_reject(ev, var_unknown_hostname_reject_code,
		    "4.7.1", CHECK_KIND_OTHER, "<%s>: Helo command rejected: "
		    "Host not found", helo);
	}
}

static enum check_result
check_unknown_domain(struct check_eval *ev, const char *addr,
    const char *class, enum check_kind kind)
{
	static const int types[] = { DNS_MX, DNS_A, DNS_AAAA };
	const struct check_resolved *r;
	const char *dsn = kind == CHECK_KIND_SENDER ? "4.1.8" : "4.1.2";
	const char *domain;
	size_t len, at;

	if (addr == NULL || *addr == 0)
		return CHECK_DUNNO;
	if ((r = check_resolve(ev, addr)) == NULL)
		return CHECK_REJECT;
	/* Only for destinations that this server does not handle itself. */
	if (r->addr_class == RESOLVE_CLASS_LOCAL
	    || r->addr_class == RESOLVE_CLASS_ALIAS
	    || r->addr_class == RESOLVE_CLASS_VIRTUAL)
		return CHECK_DUNNO;
	len = strlen(r->recipient);
	at = mail_addr_find_at(r->recipient, len);
	domain = at < len ? r->recipient + at + 1 : "";
	if (*domain == 0 || check_dns_is_addr(domain))
		return CHECK_DUNNO;
	/* A null MX is the domain's own "no mail here": permanent. */
	if (dns_null_mx(check_dns_cached(ev, domain, DNS_MX)))
		return check_reject(ev, kind == CHECK_KIND_SENDER ? 550 : 556,
		    kind == CHECK_KIND_SENDER ? "5.7.27" : "5.1.10", kind,
		    "<%s>: %s rejected: Domain %s does not accept mail "
		    "(nullMX)", addr, class, domain);
	switch (check_dns_any(ev, domain, types, 3)) {
	case DNS_OK:
		return CHECK_DUNNO;
	case DNS_TEMPFAIL:
		return check_tempfail(ev, check_tf_unknown_address, dsn, kind,
		    "<%s>: %s rejected: Domain not found", addr, class);
	default:
		return check_reject(ev, var_unknown_address_reject_code, dsn,
		    kind, "<%s>: %s rejected: Domain not found", addr, class);
	}
}

/* ---- DNS lists ----------------------------------------------------------- */

/* What a template may name (default_rbl_reply, rbl_reply_maps). */
struct check_rbl_attrs {
	struct check_eval *ev;
	const char *class;	/* $rbl_class */
	const char *what;	/* $rbl_what */
	const char *domain;	/* $rbl_domain */
	const char *reason;	/* $rbl_reason */
	char code[8];		/* $rbl_code */
	struct buf part;	/* a local part or domain being returned */
};

/* The local part ("<>" for the null address) or domain of addr. */
static const char *
check_rbl_addr_part(struct check_rbl_attrs *a, const char *addr,
    bool domain)
{
	size_t len, at;

	if (addr == NULL)
		return "";
	if (*addr == 0)
		return domain ? "" : "<>";
	len = strlen(addr);
	at = mail_addr_find_at(addr, len);
	if (domain)
		buf_set(&a->part, at < len ? addr + at + 1 : "");
	else
		buf_setn(&a->part, addr, at);
	return a->part.data;
}

static const char *
check_rbl_attr(void *ctx, const char *name)
{
	struct check_rbl_attrs *a = ctx;
	struct check_eval *ev = a->ev;
	struct smtpd_state *st = ev->st;

	if (strcmp(name, "rbl_code") == 0)
		return a->code;
	if (strcmp(name, "rbl_class") == 0)
		return a->class;
	if (strcmp(name, "rbl_what") == 0)
		return a->what;
	if (strcmp(name, "rbl_domain") == 0)
		return a->domain;
	if (strcmp(name, "rbl_reason") == 0)
		return a->reason;
	if (strcmp(name, "client") == 0)
		return st->namaddr;
	if (strcmp(name, "client_address") == 0)
		return st->addr;
	if (strcmp(name, "client_name") == 0)
		return st->name;
	if (strcmp(name, "reverse_client_name") == 0)
		return st->reverse_name;
	if (strcmp(name, "helo_name") == 0)
		return ev->helo ? ev->helo : "";
	if (strcmp(name, "sender") == 0)
		return ev->sender == NULL ? "" : *ev->sender ? ev->sender : "<>";
	if (strcmp(name, "sender_name") == 0)
		return check_rbl_addr_part(a, ev->sender, false);
	if (strcmp(name, "sender_domain") == 0)
		return check_rbl_addr_part(a, ev->sender, true);
	if (strcmp(name, "recipient") == 0)
		return ev->recipient == NULL ? "" :
		    *ev->recipient ? ev->recipient : "<>";
	if (strcmp(name, "recipient_name") == 0)
		return check_rbl_addr_part(a, ev->recipient, false);
	if (strcmp(name, "recipient_domain") == 0)
		return check_rbl_addr_part(a, ev->recipient, true);
	return NULL;
}

/* The TXT text of a listing: records joined by "; ", printable, cut. */
static void
check_rbl_reason(struct check_eval *ev, const char *query, struct buf *out)
{
	const struct dns_reply *r = check_dns_cached(ev, query, DNS_TXT);
	size_t len;

	buf_reset(out);
	if (r->status != DNS_OK)
		return;
	for (size_t i = 0; i < r->nrrs; i++) {
		if (i > 0)
			buf_puts(out, "; ");
		str_printable(out, r->rrs[i].data, r->rrs[i].len);
	}
	if (out->len > CHECK_RBL_REASON_MAX) {
		len = CHECK_RBL_REASON_MAX;
		buf_truncate(out, len);
		buf_puts(out, "...");
	}
}

/* The reply template for a list: rbl_reply_maps, else the default. */
static int
check_rbl_template(const struct check_dnsxl *x, struct buf *out)
{
	const char *keys[2] = { x->arg, x->domain };

	if (dict_maps_count(check_rbl_reply_maps) > 0) {
		for (int i = 0; i < 2; i++) {
			if (i == 1 && strcmp(keys[0], keys[1]) == 0)
				break;
			switch (dict_lookup(check_rbl_reply_maps, keys[i],
			    out)) {
			case DICT_FOUND:
				return 0;
			case DICT_TEMPFAIL:
				msg_warn("lookup error for \"%s\": %s",
				    keys[i], dict_error(check_rbl_reply_maps));
				return -1;
			case DICT_NOTFOUND:
				break;
			}
		}
	}
	buf_set(out, var_default_rbl_reply);
	return 0;
}

static enum check_result
check_rbl_reject(struct check_eval *ev, const struct check_dnsxl *x,
    const char *query, const char *what, const char *class,
    enum check_kind kind, const char *reply_name)
{
	struct check_rbl_attrs a;
	struct buf tmpl, reason, text, reply, why;
	enum check_result rc;

	buf_init(&tmpl, 128);
	buf_init(&reason, 128);
	buf_init(&text, 256);
	buf_init(&reply, 256);
	buf_init(&why, 64);
	memset(&a, 0, sizeof(a));
	buf_init(&a.part, 64);
	a.ev = ev;
	a.class = class;
	a.what = what;
	a.domain = x->arg;
	snprintf(a.code, sizeof(a.code), "%d", var_maps_rbl_reject_code);
	check_rbl_reason(ev, query, &reason);
	a.reason = reason.data;
	if (check_rbl_template(x, &tmpl) < 0)
		rc = check_lookup_failure(ev, reply_name);
	else if (!check_expand(&text, tmpl.data, check_rbl_attr, &a, &why))
		rc = check_config_error(ev, "DNS list %s: reply template "
		    "\"%s\": %s", x->arg, tmpl.data, why.data);
	else if (!check_reply_fix(&reply, text.data, "5.7.1", kind))
		rc = check_config_error(ev, "DNS list %s: reply \"%s\" does "
		    "not start with a 4xx or 5xx code", x->arg, text.data);
	else
		rc = check_reject_reply(ev, reply.data);
	buf_fini(&a.part);
	buf_fini(&tmpl);
	buf_fini(&reason);
	buf_fini(&text);
	buf_fini(&reply);
	buf_fini(&why);
	return rc;
}

/*
 * Look query up in list x; reject (or, for an allowlist, permit) when an
 * A record passes the filter.
 */
static enum check_result
check_dnsxl(struct check_eval *ev, const struct check_dnsxl *x,
    const char *query, const char *what, const char *class,
    enum check_kind kind, const char *reply_name, bool allowlist)
{
	const struct dns_reply *r;
	bool listed = false;

	if (!dns_name_valid(query, NULL))
		return CHECK_DUNNO;	/* e.g. a name too long to list */
	r = check_dns_cached(ev, query, DNS_A);
	switch (r->status) {
	case DNS_OK:
		for (size_t i = 0; i < r->nrrs && !listed; i++)
			listed = check_dnsxl_match(x, r->rrs[i].data);
		break;
	case DNS_TEMPFAIL:
		if (allowlist)
			return check_defer_if_reject(ev, 450, "4.7.1", kind,
			    "<%s>: %s rejected: Temporary DNS lookup failure "
			    "at %s", reply_name, class, x->domain);
		return check_tempfail(ev, check_tf_reject, "4.7.1", kind,
		    "<%s>: %s rejected: Temporary DNS lookup failure at %s",
		    reply_name, class, x->domain);
	default:
		break;
	}
	if (!listed)
		return CHECK_DUNNO;
	if (allowlist)
		return check_permit_safe(ev);
	return check_rbl_reject(ev, x, query, what, class, kind, reply_name);
}

/*
 * A right-hand-side list: name (a host or a domain) under x; what is
 * $rbl_what (the name, or the address whose domain it is).
 */
static enum check_result
check_rhsbl(struct check_eval *ev, const struct check_dnsxl *x,
    const char *name, const char *what, const char *class,
    enum check_kind kind, const char *reply_name)
{
	struct buf query;
	enum check_result rc;
	size_t len;

	if (name == NULL || *name == 0 || strcmp(name, "unknown") == 0
	    || check_dns_is_addr(name))
		return CHECK_DUNNO;
	len = strlen(name);
	if (name[len - 1] == '.')
		len--;
	buf_init(&query, 128);
	buf_setn(&query, name, len);
	buf_printf(&query, ".%s", x->domain);
	rc = check_dnsxl(ev, x, query.data, what, class, kind, reply_name,
	    false);
	buf_fini(&query);
	return rc;
}

static enum check_result
check_rhsbl_addr(struct check_eval *ev, const struct check_dnsxl *x,
    const char *addr, const char *class, enum check_kind kind)
{
	size_t len, at;

	if (addr == NULL || *addr == 0)
		return CHECK_DUNNO;
	len = strlen(addr);
	at = mail_addr_find_at(addr, len);
	if (at >= len)
		return CHECK_DUNNO;
	return check_rhsbl(ev, x, addr + at + 1, addr, class, kind, addr);
}

enum check_result
check_dns_restriction(struct check_eval *ev, const struct check_item *it)
{
	struct smtpd_state *st = ev->st;
	const struct check_dnsxl *x = it->dnsxl;
	struct buf query;
	enum check_result rc;

	switch (it->def->id) {
	case CHK_UNKNOWN_CLIENT:
		return check_unknown_client(ev, false);
	case CHK_UNKNOWN_REVERSE_CLIENT:
		return check_unknown_client(ev, true);
	case CHK_UNKNOWN_HELO:
		return check_unknown_helo(ev);
	case CHK_UNKNOWN_SENDER_DOMAIN:
		return check_unknown_domain(ev, ev->sender, "Sender address",
		    CHECK_KIND_SENDER);
	case CHK_UNKNOWN_RECIPIENT_DOMAIN:
		return check_unknown_domain(ev, ev->recipient,
		    "Recipient address", CHECK_KIND_RECIPIENT);
	case CHK_RBL_CLIENT:
	case CHK_DNSWL_CLIENT:
		buf_init(&query, 128);
		if (st->addr == NULL
		    || !check_dnsxl_addr_query(&query, st->addr, x->domain))
			rc = CHECK_DUNNO;
		else
			rc = check_dnsxl(ev, x, query.data, st->addr,
			    "Client host", CHECK_KIND_OTHER, st->namaddr,
			    it->def->id == CHK_DNSWL_CLIENT);
		buf_fini(&query);
		return rc;
	case CHK_RHSBL_CLIENT:
		return check_rhsbl(ev, x, st->name, st->name, "Client host",
		    CHECK_KIND_OTHER, st->namaddr);
	case CHK_RHSBL_REVERSE_CLIENT:
		return check_rhsbl(ev, x, st->reverse_name, st->reverse_name,
		    "Unverified Client host", CHECK_KIND_OTHER, st->namaddr);
	case CHK_RHSBL_HELO:
		return check_rhsbl(ev, x, ev->helo, ev->helo, "Helo command",
		    CHECK_KIND_OTHER, ev->helo);
	case CHK_RHSBL_SENDER:
		return check_rhsbl_addr(ev, x, ev->sender, "Sender address",
		    CHECK_KIND_SENDER);
	case CHK_RHSBL_RECIPIENT:
		return check_rhsbl_addr(ev, x, ev->recipient,
		    "Recipient address", CHECK_KIND_RECIPIENT);
	default:
		msg_panic("check_dns_restriction: %s", it->def->name);
	}
}
