/*
 * smtpd_rewrite.c - which clients' mail is local for header rewriting
 *
 *	smtpd_rewrite_init();			pre_init, with the tables
 *	if (smtpd_rewrite_context(st, &ctx) < 0)	at MAIL
 *		... 451 4.3.0: a table failed ...
 *
 * local_header_rewrite_clients decides the rewrite_context attribute
 * smtpd gives cleanup, and with it whether cleanup adds missing Date:,
 * Message-ID:, From: and To: headers (Postfix's behaviour since 2.6:
 * only for local mail, so that a DKIM signature over an absent header
 * survives). The list is evaluated in order; the first element that
 * matches makes the mail local:
 *
 *	permit_inet_interfaces	the client address is one of
 *				$inet_interfaces (host_addrs.h)
 *	permit_mynetworks	the client matches $mynetworks
 *	permit_sasl_authenticated  the client authenticated
 *	permit_tls_clientcerts, permit_tls_all_clientcerts
 *				accepted, never match (no TLS yet)
 *	check_address_map type:table, or type:table
 *				the client address is a key (the value is
 *				ignored; no subnet lookup)
 *
 * A table or mynetworks lookup that fails before anything matched is a
 * temporary failure (a warning, and MAIL gets 451 4.3.0, as in
 * Postfix): guessing "remote" would queue local mail without the
 * headers it should get. Any other word is fatal at start (EX_CONFIG),
 * naming the parameter. A content filter's XFORWARD SOURCE decides
 * instead, when it sent one.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "buf.h"
#include "dict.h"
#include "host_addrs.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "rewrite_clnt.h"
#include "smtpd.h"
#include "str.h"

#define REWRITE_PARAM	"local_header_rewrite_clients"

enum rewrite_kind {
	RW_INET_INTERFACES,
	RW_MYNETWORKS,
	RW_SASL,
	RW_NEVER,		/* permit_tls_*: no TLS */
	RW_TABLE,
};

struct rewrite_item {
	enum rewrite_kind kind;
	struct dict *table;	/* RW_TABLE */
};

static struct rewrite_item *rewrite_items;
static size_t rewrite_count;
static struct host_addrs *rewrite_own;	/* inet_interfaces */

static void
rewrite_add(enum rewrite_kind kind, struct dict *table)
{
	rewrite_items = xreallocarray(rewrite_items, rewrite_count + 1,
	    sizeof(*rewrite_items));
	rewrite_items[rewrite_count].kind = kind;
	rewrite_items[rewrite_count].table = table;
	rewrite_count++;
}

void
smtpd_rewrite_init(void)
{
	static const struct {
		const char *name;
		enum rewrite_kind kind;
	} words[] = {
		{"permit_inet_interfaces", RW_INET_INTERFACES},
		{"permit_mynetworks", RW_MYNETWORKS},
		{"permit_sasl_authenticated", RW_SASL},
		{"permit_tls_clientcerts", RW_NEVER},
		{"permit_tls_all_clientcerts", RW_NEVER},
	};
	struct buf tok;
	const char *cp = var_local_header_rewrite_clients;
	size_t i;
	bool map_next = false;

	buf_init(&tok, 64);
	while ((cp = str_token_braced(cp, ", \t\r\n", &tok)) != NULL) {
		if (map_next || strchr(tok.data, ':') != NULL) {
			if (strchr(tok.data, ':') == NULL)
				msg_fatal_status(EX_CONFIG, REWRITE_PARAM
				    ": check_address_map needs a table "
				    "(type:name), not \"%s\"", tok.data);
			rewrite_add(RW_TABLE, dict_open(tok.data, O_RDONLY,
			    DICT_FLAG_FOLD));
			map_next = false;
			continue;
		}
		if (strcasecmp(tok.data, "check_address_map") == 0) {
			map_next = true;
			continue;
		}
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcasecmp(tok.data, words[i].name) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			msg_fatal_status(EX_CONFIG, REWRITE_PARAM ": unknown "
			    "element \"%s\" (expected permit_inet_interfaces, "
			    "permit_mynetworks, permit_sasl_authenticated, "
			    "permit_tls_clientcerts, "
			    "permit_tls_all_clientcerts, check_address_map "
			    "type:table or type:table)", tok.data);
		if (words[i].kind == RW_INET_INTERFACES && rewrite_own == NULL) {
			rewrite_own = host_addrs_new();
			host_addrs_add(rewrite_own, "inet_interfaces",
			    var_inet_interfaces);
		}
		rewrite_add(words[i].kind, NULL);
	}
	buf_fini(&tok);
	if (map_next)
		msg_fatal_status(EX_CONFIG, REWRITE_PARAM ": check_address_map "
		    "needs a table (type:name)");
}

/* 1 match, 0 no match, -1 a lookup failed (logged). */
static int
rewrite_match(const struct rewrite_item *it, struct smtpd_state *st)
{
	struct buf value;
	int rc;

	switch (it->kind) {
	case RW_INET_INTERFACES:
		return host_addrs_has_text(rewrite_own, st->addr);
	case RW_MYNETWORKS:
		return smtpd_check_mynetworks(st);
	case RW_SASL:
		return st->sasl_username != NULL;
	case RW_NEVER:
		return 0;
	case RW_TABLE:
		buf_init(&value, 64);
		rc = dict_lookup(it->table, st->addr, &value);
		if (rc == DICT_TEMPFAIL)
			msg_warn(REWRITE_PARAM ": %s: %s", st->addr,
			    dict_error(it->table));
		buf_fini(&value);
		return rc == DICT_TEMPFAIL ? -1 : rc == DICT_FOUND;
	}
	return 0;
}

int
smtpd_rewrite_context(struct smtpd_state *st, const char **ctx)
{
	size_t i;
	int rc;

	*ctx = REWRITE_REMOTE;
	if (st->fwd_source != NULL) {
		if (strcasecmp(st->fwd_source, "LOCAL") == 0)
			*ctx = REWRITE_LOCAL;
		return 0;
	}
	for (i = 0; i < rewrite_count; i++) {
		if ((rc = rewrite_match(&rewrite_items[i], st)) < 0)
			return -1;
		if (rc > 0) {
			*ctx = REWRITE_LOCAL;
			break;
		}
	}
	return 0;
}
