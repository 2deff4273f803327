/*
 * smtpd_check_addr.c - smtpd restrictions: address classes and tables
 *
 * What the restrictions need to know about an address: its class and
 * canonical form from trivial-rewrite (check_resolve(), cached for the
 * session), whether it is a destination this server may accept mail for
 * from anyone (permit_auth_destination: local, virtual alias, virtual
 * mailbox and relay domains, without sender-specified routing), and
 * whether the recipient tables of its class list it
 * (reject_unlisted_recipient/_sender, smtpd_reject_unlisted_*):
 *
 *	class	tables					reply code
 *	local	local_recipient_maps (unless empty)	unknown_local_recipient_
 *	alias	virtual_alias_maps			unknown_virtual_alias_
 *	virtual	virtual_mailbox_maps (unless empty)	unknown_virtual_mailbox_
 *	relay	relay_recipient_maps (unless empty)	unknown_relay_recipient_
 *
 * An address that virtual_alias_maps lists is known whatever its class.
 * A *_maps parameter names several tables, searched as one
 * (dict_maps_open()) in Postfix's key order (mail_addr_find()); an
 * empty one (dict_maps_count() == 0) is not looked up.
 *
 * SECURITY: addresses come from the client; they are only resolved and
 * looked up. A resolver or table failure is a temporary failure.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_maps.h"
#include "htable.h"
#include "mail_addr_find.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "resolve_clnt.h"

#include "smtpd.h"
#include "smtpd_check.h"

#define CHECK_RESOLVE_CACHE	100	/* addresses per session */

static struct dict *check_local_maps;
static struct dict *check_valias_maps;
static struct dict *check_vmailbox_maps;
static struct dict *check_relay_maps;

/* ---- addresses ----------------------------------------------------------- */

void
check_addr_init(void)
{
	check_local_maps = dict_maps_open("local_recipient_maps",
	    var_local_recipient_maps, O_RDONLY, DICT_FLAG_FOLD);
	check_valias_maps = dict_maps_open("virtual_alias_maps",
	    var_virtual_alias_maps, O_RDONLY, DICT_FLAG_FOLD);
	check_vmailbox_maps = dict_maps_open("virtual_mailbox_maps",
	    var_virtual_mailbox_maps, O_RDONLY, DICT_FLAG_FOLD);
	check_relay_maps = dict_maps_open("relay_recipient_maps",
	    var_relay_recipient_maps, O_RDONLY, DICT_FLAG_FOLD);
}

void
check_resolved_free(void *ptr)
{
	struct check_resolved *r = ptr;

	free(r->recipient);
	free(r);
}


/* Sender-specified routing left in the local part of a resolved address. */
static bool
check_has_routing(const char *addr)
{
	size_t at = mail_addr_find_at(addr, strlen(addr));

	for (size_t i = 0; i < at; i++)
		if (addr[i] == '@' || addr[i] == '%' || addr[i] == '!')
			return true;
	return false;
}

const struct check_resolved *
check_resolve(struct check_eval *ev, const char *addr)
{
	struct check_session *cs = ev->cs;
	struct check_resolved *r;
	struct resolve_reply reply;

	if ((r = htable_get(cs->resolved, addr)) != NULL)
		return r;
	resolve_reply_init(&reply);
	if (resolve_clnt(addr, &reply) < 0) {
		resolve_reply_fini(&reply);
		(void)check_lookup_failure(ev, addr);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->addr_class = reply.addr_class;
	r->recipient = xstrdup(reply.recipient.data);
	r->routed = reply.addr_class != RESOLVE_CLASS_LOCAL
	    && check_has_routing(r->recipient);
	resolve_reply_fini(&reply);
	if (htable_count(cs->resolved) >= CHECK_RESOLVE_CACHE) {
		htable_free(cs->resolved, check_resolved_free);
		cs->resolved = htable_new(16);
	}
	htable_put(cs->resolved, addr, r);
	return r;
}

int
check_auth_destination(struct check_eval *ev, const char *addr)
{
	const struct check_resolved *r;

	if ((r = check_resolve(ev, addr)) == NULL)
		return -1;
	if (r->routed && !var_allow_untrusted_routing)
		return 0;
	switch (r->addr_class) {
	case RESOLVE_CLASS_LOCAL:
	case RESOLVE_CLASS_ALIAS:
	case RESOLVE_CLASS_VIRTUAL:
	case RESOLVE_CLASS_RELAY:
		return 1;
	default:
		return 0;
	}
}

enum check_result
check_permit_safe(struct check_eval *ev)
{
	if (!ev->at_rcpt || ev->recipient == NULL)
		return CHECK_OK;
	switch (check_auth_destination(ev, ev->recipient)) {
	case 1:
		return CHECK_OK;
	case 0:
		return CHECK_DUNNO;
	default:
		return CHECK_REJECT;
	}
}

/*
 * reject_unlisted_recipient/sender: is addr listed for its address
 * class (postconf(5) smtpd_reject_unlisted_recipient)?
 */
enum check_result
check_rcpt_maps(struct check_eval *ev, const char *addr, const char *class,
    enum check_kind kind)
{
	const struct check_resolved *r;
	struct dict *maps = NULL;
	const char *table = NULL;
	int code = 550, flags = 0;
	struct buf value;
	enum dict_result rc;

	if (*addr == 0)
		return CHECK_DUNNO;
	if ((r = check_resolve(ev, addr)) == NULL)
		return CHECK_REJECT;
	buf_init(&value, 64);
	/* An alias of any class makes an address known. */
	if (dict_maps_count(check_valias_maps) > 0) {
		rc = mail_addr_find(check_valias_maps, r->recipient, 0, &value,
		    NULL, NULL);
		if (rc == DICT_FOUND)
			goto known;
		if (rc == DICT_TEMPFAIL)
			goto fail_valias;
	}
	switch (r->addr_class) {
	case RESOLVE_CLASS_LOCAL:
		maps = check_local_maps;
		if (dict_maps_count(maps) == 0)
			goto known;
		table = "local recipient table";
		code = var_unknown_local_recipient_reject_code;
		flags = MAIL_ADDR_FIND_LOCALPART;
		break;
	case RESOLVE_CLASS_ALIAS:
		table = "virtual alias table";
		code = var_unknown_virtual_alias_reject_code;
		break;
	case RESOLVE_CLASS_VIRTUAL:
		maps = check_vmailbox_maps;
		if (dict_maps_count(maps) == 0)
			goto known;
		table = "virtual mailbox table";
		code = var_unknown_virtual_mailbox_reject_code;
		break;
	case RESOLVE_CLASS_RELAY:
		maps = check_relay_maps;
		if (dict_maps_count(maps) == 0)
			goto known;
		table = "relay recipient table";
		code = var_unknown_relay_recipient_reject_code;
		break;
	default:
		goto known;
	}
	if (maps != NULL) {
		rc = mail_addr_find(maps, r->recipient, flags, &value, NULL,
		    NULL);
		if (rc == DICT_FOUND)
			goto known;
		if (rc == DICT_TEMPFAIL) {
			msg_warn("lookup error for \"%s\": %s", r->recipient,
			    dict_error(maps));
			buf_fini(&value);
			return check_lookup_failure(ev, addr);
		}
	}
	buf_fini(&value);
	return check_reject(ev, code, "5.1.1", kind,
	    "<%s>: %s rejected: User unknown%s%s", addr, class,
	    var_show_user_unknown_table_name ? " in " : "",
	    var_show_user_unknown_table_name ? table : "");
fail_valias:
	msg_warn("lookup error for \"%s\": %s", r->recipient,
	    dict_error(check_valias_maps));
	buf_fini(&value);
	return check_lookup_failure(ev, addr);
known:
	buf_fini(&value);
	return CHECK_DUNNO;
}

/* The domain of an address (after the last unquoted '@'), or "". */
const char *
check_addr_domain(const char *addr)
{
	size_t len = strlen(addr), at = mail_addr_find_at(addr, len);

	return at < len ? addr + at + 1 : "";
}
