/*
 * smtpd_check.c - smtpd: the restriction engine
 *
 * The Postfix SMTP access policy (postconf(5), access(5)):
 *
 *	stage		list				reply name / class
 *	connect		smtpd_client_restrictions	name[addr] Client host
 *	HELO/EHLO	smtpd_helo_restrictions		helo	   Helo command
 *	MAIL		smtpd_sender_restrictions	sender	   Sender address
 *	RCPT		smtpd_relay_restrictions,	rcpt	   Recipient address
 *			smtpd_recipient_restrictions
 *	DATA		smtpd_data_restrictions		DATA	   Data command
 *	end of data	smtpd_end_of_data_restrictions	END-OF-MESSAGE End-of-data
 *	ETRN		smtpd_etrn_restrictions		domain	   Etrn command
 *
 * Each list runs its restrictions in order until one permits (the list
 * is done; the next list still runs) or rejects (the command is refused).
 * With smtpd_delay_reject (the default) the client, HELO and sender lists
 * run at each RCPT instead of at their own command, so that a reject is
 * logged with the recipient; the early calls only remember their
 * arguments. A recipient is accepted only when neither the relay nor the
 * recipient list rejects it; then smtpd_reject_unlisted_recipient asks
 * the recipient tables of its address class.
 *
 * defer_if_permit (also the default reaction to a DNS failure) makes the
 * command fail with its 4xx reply at the end unless something rejected
 * it; defer_if_reject turns a later 5xx of the same list into its 4xx;
 * warn_if_reject makes the next restriction log "reject_warning"
 * instead of rejecting.
 *
 * What a verdict does to the reply is in smtpd_check_reply.c. The
 * restrictions themselves are here (generic ones), in
 * smtpd_check_access.c (access tables), smtpd_check_addr.c (address
 * classes, recipient tables), smtpd_check_dns.c (DNS lists, unknown
 * names) and smtpd_check_policy.c (policy servers); smtpd_check_parse.c
 * parses lists and formats replies.
 *
 * A table that fails is a temporary failure ("451 4.3.0 <x>: Temporary
 * lookup failure"), never "not found". A mistake in a restriction list
 * is fatal at startup (EX_CONFIG, naming the parameter and the word); a
 * mistake in a table result is "451 4.3.5 Server configuration error"
 * with a warning.
 *
 * SECURITY: names, addresses and HELO text come from the client; they
 * are looked up and quoted in replies, never parsed as restrictions.
 * Table results come from the administrator's tables. Replies are built
 * in growable buffers. Restriction classes may name each other: the
 * nesting is bounded.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "dict.h"
#include "dns.h"
#include "htable.h"
#include "match_list.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "str.h"

#include "smtpd.h"
#include "smtpd_check.h"

#define CHECK_MAX_DEPTH		50	/* classes and table results */
#define CHECK_SEPS		", \t\r\n"

enum check_stage {
	ST_CLIENT,
	ST_HELO,
	ST_SENDER,
	ST_RELAY,
	ST_RECIPIENT,
	ST_DATA,
	ST_EOD,
	ST_ETRN,
	ST_COUNT,
};

static const char *const check_stage_params[ST_COUNT] = {
	"smtpd_client_restrictions",
	"smtpd_helo_restrictions",
	"smtpd_sender_restrictions",
	"smtpd_relay_restrictions",
	"smtpd_recipient_restrictions",
	"smtpd_data_restrictions",
	"smtpd_end_of_data_restrictions",
	"smtpd_etrn_restrictions",
};

static struct check_list *check_stage_list[ST_COUNT];
static struct htable *check_classes;	/* lowercase name -> check_list */
static struct htable *check_tables;	/* "type:name" -> dict */
static struct match_list *check_mynetworks;
bool check_parent_matches;

enum check_tempfail check_tf_reject;
enum check_tempfail check_tf_unknown_address;
enum check_tempfail check_tf_unknown_helo;

/* ---- configuration ------------------------------------------------------- */

static struct check_list *
check_class_find(void *ctx, const char *name)
{
	struct check_list *l;
	char *key = str_lower(xstrdup(name));

	(void)ctx;
	l = htable_get(check_classes, key);
	free(key);
	return l;
}

/* ctx: true at startup (tables may be opened), false at run time. */
static struct dict *
check_table_find(void *ctx, const char *name, struct buf *why)
{
	const bool *startup = ctx;
	struct dict *d;

	if ((d = htable_get(check_tables, name)) != NULL)
		return d;
	if (!*startup) {
		buf_printf(why, "table %s is not opened at startup: name it "
		    "in a restriction list or class in main.cf", name);
		return NULL;
	}
	d = dict_open(name, O_RDONLY, DICT_FLAG_FOLD);
	htable_put(check_tables, name, d);
	return d;
}

static bool check_startup_true = true;
static bool check_startup_false = false;
static struct check_policy *check_policy_find_cb(void *ctx, const char *arg,
    struct buf *why);

static const struct check_parser check_init_parser = {
	.class_find = check_class_find,
	.table_find = check_table_find,
	.policy_find = check_policy_find_cb,
	.ctx = &check_startup_true,
};
const struct check_parser check_run_parser = {
	.class_find = check_class_find,
	.table_find = check_table_find,
	.policy_find = check_policy_find_cb,
	.ctx = &check_startup_false,
};

/* Policy servers, as tables: registered at startup only. */
static struct check_policy *
check_policy_find_cb(void *ctx, const char *arg, struct buf *why)
{
	const bool *startup = ctx;

	return check_policy_find(arg, *startup ? &check_init_parser : NULL,
	    why);
}

static enum check_tempfail
check_tempfail_param(const char *param, const char *value)
{
	if (strcasecmp(value, "defer") == 0)
		return CHECK_TF_DEFER;
	if (strcasecmp(value, "defer_if_permit") == 0)
		return CHECK_TF_DEFER_IF_PERMIT;
	msg_fatal_status(EX_CONFIG, "%s: bad value \"%s\" (expected defer "
	    "or defer_if_permit)", param, value);
}

static struct check_list *
check_parse_or_die(const char *param, const char *value)
{
	struct check_list *l;
	struct buf why;

	buf_init(&why, 128);
	if ((l = check_list_parse(param, value, &check_init_parser, &why))
	    == NULL)
		msg_fatal_status(EX_CONFIG, "%s: %s", param, why.data);
	buf_fini(&why);
	return l;
}

/*
 * smtpd_restriction_classes: first every name (classes may name each
 * other, in any order), then each body, from the main.cf parameter of
 * that name.
 */
static void
check_init_classes(void)
{
	struct argv *names = argv_split(var_smtpd_restriction_classes,
	    CHECK_SEPS);
	struct check_list *cls, *body;
	struct conf *conf = conf_current();
	struct buf value, why;
	size_t i;

	check_classes = htable_new(16);
	for (i = 0; i < names->argc; i++) {
		const char *name = names->argv[i];

		if (check_def_find(name) != NULL)
			msg_fatal_status(EX_CONFIG, "smtpd_restriction_classes:"
			    " class name \"%s\" is a built-in restriction",
			    name);
		if (conf == NULL || conf_lookup(conf, name) == NULL)
			msg_fatal_status(EX_CONFIG, "smtpd_restriction_classes:"
			    " restriction class \"%s\" has no definition "
			    "(\"%s = restrictions\") in main.cf", name, name);
		cls = xcalloc(1, sizeof(*cls));
		cls->name = xstrdup(name);
		str_lower(cls->name);
		if (htable_put(check_classes, cls->name, cls) != NULL)
			msg_fatal_status(EX_CONFIG, "smtpd_restriction_classes:"
			    " class \"%s\" is listed twice", name);
	}
	buf_init(&value, 128);
	buf_init(&why, 128);
	for (i = 0; i < names->argc; i++) {
		const char *name = names->argv[i];

		buf_reset(&value);
		if (conf_eval(conf, name, &value, &why) < 0)
			msg_fatal_status(EX_CONFIG, "%s: %s", name, why.data);
		body = check_parse_or_die(name, value.data);
		cls = check_class_find(NULL, name);
		cls->items = body->items;
		cls->count = body->count;
		body->items = NULL;
		body->count = 0;
		check_list_free(body);
	}
	buf_fini(&value);
	buf_fini(&why);
	argv_free(names);
}

void
smtpd_check_init(void)
{
	const char *values[ST_COUNT];
	struct argv *features;
	struct buf why;
	size_t i;

	check_tf_reject = check_tempfail_param("reject_tempfail_action",
	    var_reject_tempfail_action);
	check_tf_unknown_address = check_tempfail_param(
	    "unknown_address_tempfail_action", var_unknown_address_tempfail_action);
	check_tf_unknown_helo = check_tempfail_param(
	    "unknown_helo_hostname_tempfail_action",
	    var_unknown_helo_hostname_tempfail_action);

	features = argv_split(var_parent_domain_matches_subdomains, CHECK_SEPS);
	for (i = 0; i < features->argc; i++)
		if (strcasecmp(features->argv[i], "smtpd_access_maps") == 0)
			check_parent_matches = true;
	argv_free(features);

	check_tables = htable_new(16);
	check_init_classes();
	values[ST_CLIENT] = var_smtpd_client_restrictions;
	values[ST_HELO] = var_smtpd_helo_restrictions;
	values[ST_SENDER] = var_smtpd_sender_restrictions;
	values[ST_RELAY] = var_smtpd_relay_restrictions;
	values[ST_RECIPIENT] = var_smtpd_recipient_restrictions;
	values[ST_DATA] = var_smtpd_data_restrictions;
	values[ST_EOD] = var_smtpd_end_of_data_restrictions;
	values[ST_ETRN] = var_smtpd_etrn_restrictions;
	for (i = 0; i < ST_COUNT; i++)
		check_stage_list[i] = check_parse_or_die(check_stage_params[i],
		    values[i]);

	/* A default-deny relay policy is required (never an open relay). */
	if (!check_list_protects(check_stage_list[ST_RELAY])
	    && !check_list_protects(check_stage_list[ST_RECIPIENT]))
		msg_fatal_status(EX_CONFIG, "in parameters "
		    "smtpd_relay_restrictions and smtpd_recipient_restrictions,"
		    " specify at least one working instance of: "
		    "reject_unauth_destination, defer_unauth_destination, "
		    "reject, defer, defer_if_permit (else this server would "
		    "relay mail for anyone)");

	buf_init(&why, 128);
	if ((check_mynetworks = match_list_clients("mynetworks", var_mynetworks,
	    &why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", why.data);
	buf_fini(&why);
	check_addr_init();
	check_dns_init();
	smtpd_dns_init();
}

int
smtpd_check_mynetworks(struct smtpd_state *st)
{
	struct buf why;
	int rc;

	buf_init(&why, 64);
	rc = match_list_client(check_mynetworks, st->name, st->addr, &why);
	if (rc < 0)
		msg_warn("mynetworks: %s", why.data);
	buf_fini(&why);
	return rc;
}

/* ---- sessions ------------------------------------------------------------ */

static void
check_dns_free(void *ptr)
{
	dns_reply_free(ptr);
}

void
smtpd_check_session(struct smtpd_state *st)
{
	struct check_session *cs = xcalloc(1, sizeof(*cs));

	buf_init(&cs->reply, 128);
	buf_init(&cs->dip_client.reply, 64);
	buf_init(&cs->dip_helo.reply, 64);
	buf_init(&cs->dip_sender.reply, 64);
	cs->resolved = htable_new(16);
	cs->dns = htable_new(16);
	st->check = cs;
}

void
smtpd_check_session_end(struct smtpd_state *st)
{
	struct check_session *cs = st->check;

	if (cs == NULL)
		return;
	free(cs->helo);
	free(cs->sender);
	buf_fini(&cs->reply);
	buf_fini(&cs->dip_client.reply);
	buf_fini(&cs->dip_helo.reply);
	buf_fini(&cs->dip_sender.reply);
	htable_free(cs->resolved, check_resolved_free);
	htable_free(cs->dns, check_dns_free);
	free(cs->policy_instance);
	free(cs);
	st->check = NULL;
}

void
smtpd_check_reset(struct smtpd_state *st)
{
	struct check_session *cs = st->check;

	if (cs == NULL)
		return;
	free(cs->sender);
	cs->sender = NULL;
	cs->dip_sender.active = false;
	cs->sender_maps_ok = false;
	free(cs->policy_instance);		/* a new transaction */
	cs->policy_instance = NULL;
}

/* ---- evaluation helpers -------------------------------------------------- */

static void
check_eval_init(struct check_eval *ev, struct smtpd_state *st)
{
	struct check_session *cs = st->check;

	memset(ev, 0, sizeof(*ev));
	ev->st = st;
	ev->cs = cs;
	ev->helo = cs->helo ? cs->helo : st->helo_name;
	ev->sender = cs->sender ? cs->sender : st->sender;
	buf_init(&ev->dip.reply, 64);
	buf_init(&ev->dir.reply, 64);
	ev->reply = &cs->reply;
	buf_reset(ev->reply);
}

static void
check_eval_fini(struct check_eval *ev)
{
	buf_fini(&ev->dip.reply);
	buf_fini(&ev->dir.reply);
}

static void
check_defer_copy(struct check_defer *to, const struct check_defer *from)
{
	to->active = from->active;
	buf_set(&to->reply, from->active ? from->reply.data : "");
}

/* ---- restrictions -------------------------------------------------------- */

static enum check_result
check_non_fqdn_addr(struct check_eval *ev, const char *addr,
    const char *class, enum check_kind kind)
{
	if (addr == NULL || *addr == 0
	    || check_name_fqdn(check_addr_domain(addr)))
		return CHECK_DUNNO;
	return check_reject(ev, var_non_fqdn_reject_code, "5.5.2", kind,
	    "<%s>: %s rejected: need fully-qualified address", addr, class);
}

static enum check_result
check_unauth_destination(struct check_eval *ev, bool defer)
{
	int code = var_relay_domains_reject_code;

	if (ev->recipient == NULL)
		return CHECK_DUNNO;
	switch (check_auth_destination(ev, ev->recipient)) {
	case 1:
		return CHECK_DUNNO;
	case -1:
		return CHECK_REJECT;
	}
	if (defer && code >= 500)
		code -= 100;
	return check_reject(ev, code, defer ? "4.7.1" : "5.7.1",
	    CHECK_KIND_RECIPIENT, "<%s>: Relay access denied", ev->recipient);
}

static enum check_result
check_unauth_pipelining(struct check_eval *ev, const char *name,
    const char *class, enum check_kind kind)
{
	struct smtpd_state *st = ev->st;
	bool esmtp = st->protocol != NULL
	    && str_has_prefix(st->protocol, "ESMTP");

	if (!st->pipelining_seen && (esmtp || !smtpd_io_pending(st)))
		return CHECK_DUNNO;
	return check_reject(ev, 503, "5.5.0", kind, "<%s>: %s rejected: "
	    "Improper use of SMTP command pipelining", name, class);
}

static enum check_result
check_multi_recipient_bounce(struct check_eval *ev)
{
	size_t count = ev->st->nrcpts + (ev->at_rcpt ? 1 : 0);

	if (ev->sender == NULL || *ev->sender != 0 || count <= 1)
		return CHECK_DUNNO;
	return check_reject(ev, var_multi_recipient_bounce_reject_code,
	    "5.5.3", CHECK_KIND_SENDER, "<>: Sender address rejected: "
	    "Multi-recipient bounce");
}

static enum check_result
check_item(struct check_eval *ev, const struct check_item *it,
    const char *name, const char *class, enum check_kind kind)
{
	struct smtpd_state *st = ev->st;
	int rc;

	if (it->def == NULL)
		return check_list_run(ev, it->cls, name, class, kind);
	switch (it->def->id) {
	case CHK_PERMIT:
		return CHECK_OK;
	case CHK_REJECT:
		return check_reject(ev, var_reject_code, "5.7.1", kind,
		    "<%s>: %s rejected: Access denied", name, class);
	case CHK_DEFER:
		return check_reject(ev, var_defer_code, "4.7.1", kind,
		    "<%s>: %s rejected: Access denied", name, class);
	case CHK_DEFER_IF_PERMIT:
		return check_defer_if_permit(ev, var_defer_code, "4.7.1", kind,
		    "<%s>: %s rejected: defer_if_permit requested", name,
		    class);
	case CHK_DEFER_IF_REJECT:
		return check_defer_if_reject(ev, var_defer_code, "4.7.1", kind,
		    "<%s>: %s rejected: defer_if_reject requested", name,
		    class);
	case CHK_WARN_IF_REJECT:
		return CHECK_DUNNO;	/* check_list_run() */
	case CHK_PERMIT_MYNETWORKS:
		if ((rc = smtpd_check_mynetworks(st)) < 0)
			return check_lookup_failure(ev, st->namaddr);
		return rc > 0 ? CHECK_OK : CHECK_DUNNO;
	case CHK_PERMIT_SASL_AUTH:
		return st->sasl_username != NULL ? CHECK_OK : CHECK_DUNNO;
	case CHK_UNAUTH_PIPELINING:
		return check_unauth_pipelining(ev, name, class, kind);
	case CHK_CLIENT_ACCESS:
	case CHK_REVERSE_CLIENT_ACCESS:
	case CHK_HELO_ACCESS:
	case CHK_ETRN_ACCESS:
	case CHK_SENDER_ACCESS:
	case CHK_RECIPIENT_ACCESS:
		return check_access_restriction(ev, it);
	case CHK_INVALID_HELO:
		if (ev->helo == NULL || check_helo_valid(ev->helo))
			return CHECK_DUNNO;
		return check_reject(ev, var_invalid_hostname_reject_code,
		    "5.5.2", CHECK_KIND_OTHER,
		    "<%s>: Helo command rejected: Invalid name", ev->helo);
	case CHK_NON_FQDN_HELO:
		if (ev->helo == NULL || check_name_fqdn(ev->helo))
			return CHECK_DUNNO;
		return check_reject(ev, var_non_fqdn_reject_code, "5.5.2",
		    CHECK_KIND_OTHER, "<%s>: Helo command rejected: need "
		    "fully-qualified hostname", ev->helo);
	case CHK_NON_FQDN_SENDER:
		return check_non_fqdn_addr(ev, ev->sender, "Sender address",
		    CHECK_KIND_SENDER);
	case CHK_NON_FQDN_RECIPIENT:
		return check_non_fqdn_addr(ev, ev->recipient,
		    "Recipient address", CHECK_KIND_RECIPIENT);
	case CHK_UNLISTED_SENDER:
		if (ev->sender == NULL)
			return CHECK_DUNNO;
		ev->sender_maps_done = true;
		return check_rcpt_maps(ev, ev->sender, "Sender address",
		    CHECK_KIND_SENDER);
	case CHK_UNLISTED_RECIPIENT:
		if (ev->recipient == NULL)
			return CHECK_DUNNO;
		ev->rcpt_maps_done = true;
		return check_rcpt_maps(ev, ev->recipient, "Recipient address",
		    CHECK_KIND_RECIPIENT);
	case CHK_UNAUTH_DESTINATION:
		return check_unauth_destination(ev, false);
	case CHK_DEFER_UNAUTH_DESTINATION:
		return check_unauth_destination(ev, true);
	case CHK_PERMIT_AUTH_DESTINATION:
		if (ev->recipient == NULL)
			return CHECK_DUNNO;
		rc = check_auth_destination(ev, ev->recipient);
		return rc > 0 ? CHECK_OK : rc == 0 ? CHECK_DUNNO : CHECK_REJECT;
	case CHK_MULTI_RECIPIENT_BOUNCE:
		return check_multi_recipient_bounce(ev);
	case CHK_UNKNOWN_CLIENT:
	case CHK_UNKNOWN_REVERSE_CLIENT:
	case CHK_UNKNOWN_HELO:
	case CHK_UNKNOWN_SENDER_DOMAIN:
	case CHK_UNKNOWN_RECIPIENT_DOMAIN:
	case CHK_RBL_CLIENT:
	case CHK_RHSBL_CLIENT:
	case CHK_RHSBL_REVERSE_CLIENT:
	case CHK_RHSBL_HELO:
	case CHK_RHSBL_SENDER:
	case CHK_RHSBL_RECIPIENT:
	case CHK_DNSWL_CLIENT:
		return check_dns_restriction(ev, it);
	case CHK_POLICY_SERVICE:
		return check_policy_restriction(ev, it, name, class, kind);
	}
	msg_panic("check_item: restriction %s (%d)", it->def->name,
	    (int)it->def->id);
}

enum check_result
check_list_run(struct check_eval *ev, const struct check_list *l,
    const char *name, const char *class, enum check_kind kind)
{
	enum check_result rc = CHECK_DUNNO;

	if (ev->depth >= CHECK_MAX_DEPTH)
		return check_config_error(ev, "%s: restrictions nested more "
		    "than %d deep (a restriction class that names itself?)",
		    l->name, CHECK_MAX_DEPTH);
	ev->depth++;
	for (size_t i = 0; i < l->count; i++) {
		const struct check_item *it = &l->items[i];

		if (it->def != NULL && it->def->id == CHK_WARN_IF_REJECT) {
			if (ev->warn_if_reject == 0)
				ev->warn_if_reject = ev->depth;
			continue;
		}
		rc = check_item(ev, it, name, class, kind);
		if (ev->warn_if_reject >= ev->depth)
			ev->warn_if_reject = 0;
		if (rc != CHECK_DUNNO)
			break;
	}
	ev->depth--;
	return rc;
}

/* One stage's list, with the reply name and class of that stage. */
static enum check_result
check_stage(struct check_eval *ev, enum check_stage s)
{
	const struct check_list *l = check_stage_list[s];
	struct smtpd_state *st = ev->st;

	if (l == NULL || l->count == 0)
		return CHECK_DUNNO;
	/* defer_if_reject and warn_if_reject do not cross lists. */
	ev->dir.active = false;
	ev->warn_if_reject = 0;
	switch (s) {
	case ST_CLIENT:
		return check_list_run(ev, l, st->namaddr, "Client host",
		    CHECK_KIND_OTHER);
	case ST_HELO:
		if (ev->helo == NULL)
			return CHECK_DUNNO;
		return check_list_run(ev, l, ev->helo, "Helo command",
		    CHECK_KIND_OTHER);
	case ST_SENDER:
		if (ev->sender == NULL)
			return CHECK_DUNNO;
		return check_list_run(ev, l, ev->sender, "Sender address",
		    CHECK_KIND_SENDER);
	case ST_RELAY:
	case ST_RECIPIENT:
		if (ev->recipient == NULL)
			return CHECK_DUNNO;
		return check_list_run(ev, l, ev->recipient,
		    "Recipient address", CHECK_KIND_RECIPIENT);
	case ST_DATA:
		return check_list_run(ev, l, "DATA", "Data command",
		    CHECK_KIND_OTHER);
	case ST_EOD:
		return check_list_run(ev, l, "END-OF-MESSAGE", "End-of-data",
		    CHECK_KIND_OTHER);
	case ST_ETRN:
		return check_list_run(ev, l, ev->etrn, "Etrn command",
		    CHECK_KIND_OTHER);
	case ST_COUNT:
		break;
	}
	msg_panic("check_stage: stage %d", (int)s);
}

/* smtpd_reject_unlisted_sender, outside the lists. */
static enum check_result
check_implicit_sender(struct check_eval *ev)
{
	enum check_result rc;

	if (!var_smtpd_reject_unlisted_sender || ev->sender_maps_done
	    || ev->cs->sender_maps_ok || ev->sender == NULL
	    || *ev->sender == 0)
		return CHECK_DUNNO;
	ev->dir.active = false;
	ev->warn_if_reject = 0;
	rc = check_rcpt_maps(ev, ev->sender, "Sender address",
	    CHECK_KIND_SENDER);
	if (rc == CHECK_DUNNO)
		ev->cs->sender_maps_ok = true;
	return rc;
}

/*
 * The end of a command's checks: a pending defer_if_permit becomes the
 * reply when nothing rejected. Returns the reply or NULL.
 */
static const char *
check_finish(struct check_eval *ev, enum check_result rc, bool final)
{
	const char *reply = NULL;

	if (final && rc != CHECK_REJECT && ev->dip.active)
		rc = check_refuse(ev, ev->dip.reply.data);
	if (rc == CHECK_REJECT) {
		reply = ev->reply->data;
		/* 421 and 521 end the session (access(5)). */
		if (str_has_prefix(reply, "421") || str_has_prefix(reply, "521"))
			ev->st->quit = true;
	}
	check_eval_fini(ev);
	return reply;
}

/* The first defer_if_permit of the stages run early. */
static void
check_early_dip(struct check_eval *ev, bool with_sender)
{
	struct check_session *cs = ev->cs;

	if (cs->dip_client.active)
		check_defer_copy(&ev->dip, &cs->dip_client);
	else if (cs->dip_helo.active)
		check_defer_copy(&ev->dip, &cs->dip_helo);
	else if (with_sender && cs->dip_sender.active)
		check_defer_copy(&ev->dip, &cs->dip_sender);
}

/* ---- the stages ---------------------------------------------------------- */

const char *
smtpd_check_client(struct smtpd_state *st)
{
	struct check_session *cs = st->check;
	struct check_eval ev;
	enum check_result rc;

	cs->dip_client.active = false;
	if (var_smtpd_delay_reject)
		return NULL;
	check_eval_init(&ev, st);
	rc = check_stage(&ev, ST_CLIENT);
	check_defer_copy(&cs->dip_client, &ev.dip);
	return check_finish(&ev, rc, false);
}

const char *
smtpd_check_helo(struct smtpd_state *st, const char *helo)
{
	struct check_session *cs = st->check;
	struct check_eval ev;
	enum check_result rc;
	char *saved_helo = cs->helo, *saved_name = st->helo_name;
	const char *reply;

	cs->helo = xstrdup(helo);
	if (var_smtpd_delay_reject) {
		free(saved_helo);
		return NULL;
	}
	check_eval_init(&ev, st);
	st->helo_name = cs->helo;		/* for the log line */
	rc = check_stage(&ev, ST_HELO);
	st->helo_name = saved_name;
	if (rc == CHECK_REJECT) {		/* keep the HELO before it */
		free(cs->helo);
		cs->helo = saved_helo;
	} else {
		free(saved_helo);
		check_defer_copy(&cs->dip_helo, &ev.dip);
	}
	reply = check_finish(&ev, rc, false);
	return reply;
}

const char *
smtpd_check_mail(struct smtpd_state *st, const char *sender)
{
	struct check_session *cs = st->check;
	struct check_eval ev;
	enum check_result rc;
	char *saved = st->sender;

	free(cs->sender);
	cs->sender = xstrdup(sender);
	cs->dip_sender.active = false;
	cs->sender_maps_ok = false;
	/* Every MAIL starts a new policy "instance" (a refused one too). */
	free(cs->policy_instance);
	cs->policy_instance = NULL;
	if (var_smtpd_delay_reject)
		return NULL;
	check_eval_init(&ev, st);
	if (st->sender == NULL)
		st->sender = cs->sender;	/* for the log line */
	rc = check_stage(&ev, ST_SENDER);
	if (rc != CHECK_REJECT && check_implicit_sender(&ev) == CHECK_REJECT)
		rc = CHECK_REJECT;
	st->sender = saved;
	check_defer_copy(&cs->dip_sender, &ev.dip);
	return check_finish(&ev, rc, false);
}

/* smtpd_reject_unlisted_recipient, after the lists. */
static const char *
check_implicit_rcpt(struct smtpd_state *st, const char *rcpt)
{
	struct check_eval ev;

	if (!var_smtpd_reject_unlisted_recipient)
		return NULL;
	check_eval_init(&ev, st);
	ev.recipient = rcpt;
	ev.at_rcpt = true;
	return check_finish(&ev, check_rcpt_maps(&ev, rcpt,
	    "Recipient address", CHECK_KIND_RECIPIENT), true);
}

const char *
smtpd_check_rcpt(struct smtpd_state *st, const char *rcpt)
{
	struct check_eval ev;
	enum check_result rc = CHECK_DUNNO;
	const char *saved = st->recipient, *reply;
	bool maps_done;

	check_eval_init(&ev, st);
	ev.recipient = rcpt;
	ev.at_rcpt = true;
	if (st->recipient == NULL)
		st->recipient = rcpt;		/* for the log lines */
	if (var_smtpd_delay_reject) {
		if ((rc = check_stage(&ev, ST_CLIENT)) == CHECK_REJECT
		    || (rc = check_stage(&ev, ST_HELO)) == CHECK_REJECT
		    || (rc = check_stage(&ev, ST_SENDER)) == CHECK_REJECT
		    || (rc = check_implicit_sender(&ev)) == CHECK_REJECT)
			goto done;
	} else {
		check_early_dip(&ev, true);
	}
	if ((rc = check_stage(&ev, ST_RELAY)) == CHECK_REJECT)
		goto done;
	rc = check_stage(&ev, ST_RECIPIENT);
done:
	maps_done = ev.rcpt_maps_done;
	reply = check_finish(&ev, rc, true);
	if (reply == NULL && !maps_done)
		reply = check_implicit_rcpt(st, rcpt);
	st->recipient = saved;
	return reply;
}

const char *
smtpd_check_data(struct smtpd_state *st)
{
	struct check_eval ev;

	if (check_stage_list[ST_DATA]->count == 0)
		return NULL;
	check_eval_init(&ev, st);
	if (st->nrcpts == 1)
		ev.recipient = st->rcpts[0].addr;
	return check_finish(&ev, check_stage(&ev, ST_DATA), true);
}

const char *
smtpd_check_eod(struct smtpd_state *st)
{
	struct check_eval ev;

	if (check_stage_list[ST_EOD]->count == 0)
		return NULL;
	check_eval_init(&ev, st);
	ev.eod = true;
	if (st->nrcpts == 1)
		ev.recipient = st->rcpts[0].addr;
	return check_finish(&ev, check_stage(&ev, ST_EOD), true);
}

const char *
smtpd_check_etrn(struct smtpd_state *st, const char *domain)
{
	struct check_eval ev;
	enum check_result rc;

	check_eval_init(&ev, st);
	ev.etrn = domain;
	if (var_smtpd_delay_reject) {
		if ((rc = check_stage(&ev, ST_CLIENT)) == CHECK_REJECT
		    || (rc = check_stage(&ev, ST_HELO)) == CHECK_REJECT)
			return check_finish(&ev, rc, true);
	} else {
		check_early_dip(&ev, false);
	}
	return check_finish(&ev, check_stage(&ev, ST_ETRN), true);
}

const char *
smtpd_check_vrfy(struct smtpd_state *st, const char *addr)
{
	const char *saved = st->recipient, *reply;

	st->recipient = addr;
	reply = check_implicit_rcpt(st, addr);
	st->recipient = saved;
	return reply;
}
