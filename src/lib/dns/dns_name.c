/*
 * dns_name.c - domain name checks, type and status names, reply copies
 *
 * dns_name_valid() is what dns_lookup() runs before it asks anything,
 * and what the replies' host names (MX, PTR) must pass before they are
 * handed on. dns_reply_dup()/dns_reply_free() let a caller keep a reply
 * beyond its callback.
 *
 * SECURITY: names come from clients (HELO, MAIL FROM domains) and from
 * DNS replies; they are checked byte by byte, never copied into fixed
 * buffers.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dns.h"
#include "mem.h"

static void
why_set(struct buf *why, const char *text)
{
	if (why != NULL)
		buf_set(why, text);
}

bool
dns_name_valid(const char *name, struct buf *why)
{
	size_t len, label = 0, i;

	if (name == NULL || (len = strlen(name)) == 0) {
		why_set(why, "empty domain name");
		return false;
	}
	if (name[len - 1] == '.')
		len--;			/* the root label */
	if (len == 0) {
		why_set(why, "empty domain name");
		return false;
	}
	if (len > DNS_NAME_MAX) {
		why_set(why, "domain name too long");
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '.') {
			if (label == 0) {
				why_set(why, "empty label in domain name");
				return false;
			}
			label = 0;
			continue;
		}
		if (ch <= ' ' || ch >= 0x7f || ch == '\\') {
			why_set(why, "bad character in domain name");
			return false;
		}
		if (++label > DNS_LABEL_MAX) {
			why_set(why, "label too long in domain name");
			return false;
		}
	}
	if (label == 0) {		/* "a.b.." */
		why_set(why, "empty label in domain name");
		return false;
	}
	return true;
}

static const struct {
	int code;
	const char *name;
} dns_types[] = {
	{ DNS_A, "A" },
	{ DNS_AAAA, "AAAA" },
	{ DNS_MX, "MX" },
	{ DNS_TXT, "TXT" },
	{ DNS_PTR, "PTR" },
	{ DNS_FCRDNS, "FCRDNS" },
};

const char *
dns_type_name(int type)
{
	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (dns_types[i].code == type)
			return dns_types[i].name;
	return NULL;
}

int
dns_type_code(const char *name)
{
	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (strcasecmp(dns_types[i].name, name) == 0)
			return dns_types[i].code;
	return 0;
}

const char *
dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK:
		return "OK";
	case DNS_NOTFOUND:
		return "NOTFOUND";
	case DNS_TEMPFAIL:
		return "TEMPFAIL";
	case DNS_INVALID:
		return "INVALID";
	}
	return "UNKNOWN";
}

struct dns_reply *
dns_reply_dup(const struct dns_reply *reply)
{
	struct dns_reply *copy = xcalloc(1, sizeof(*copy));

	copy->name = xstrdup(reply->name);
	copy->type = reply->type;
	copy->status = reply->status;
	copy->why = xstrdup(reply->why);
	copy->nrrs = reply->nrrs;
	if (reply->nrrs > 0) {
		copy->rrs = xcalloc(reply->nrrs, sizeof(*copy->rrs));
		for (size_t i = 0; i < reply->nrrs; i++) {
			copy->rrs[i].pref = reply->rrs[i].pref;
			copy->rrs[i].len = reply->rrs[i].len;
			copy->rrs[i].data = xmemdup(reply->rrs[i].data,
			    reply->rrs[i].len);
		}
	}
	return copy;
}

void
dns_reply_free(struct dns_reply *reply)
{
	if (reply == NULL)
		return;
	for (size_t i = 0; i < reply->nrrs; i++)
		free(reply->rrs[i].data);
	free(reply->rrs);
	free((char *)reply->name);
	free((char *)reply->why);
	free(reply);
}
