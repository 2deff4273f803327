/*
 * smtpd_check_access.c - smtpd restrictions: access(5) tables
 *
 *	check_client_access		client name and parents, then the
 *	check_reverse_client_hostname_access  address and its networks
 *	check_helo_access		HELO name and its parents
 *	check_etrn_access		ETRN domain and its parents
 *	check_sender_access		address, user@domain, domain and
 *	check_recipient_access		parents, user@ (access(5) order)
 *
 * The first key a table has decides (DUNNO too: it stops the search).
 * Pattern tables (regexp, pcre, cidr) see only whole keys. Results:
 * OK or all digits (permit), REJECT/DEFER [text], 4NN/5NN text (421 and
 * 521 also end the session), DEFER_IF_REJECT/DEFER_IF_PERMIT [text],
 * DISCARD, HOLD, REDIRECT address, PREPEND header, WARN/INFO text (logged),
 * DUNNO, and anything else is a list of restrictions or class names run
 * in place. A reply text may start with an RFC 3463 code that replaces
 * the default one (5.7.1 / 4.7.1), adjusted to what is refused.
 *
 * SECURITY: keys come from the client and are only looked up. A table
 * that fails is a temporary failure. A result that names a table not
 * opened at startup, an unknown restriction, or a malformed action is
 * a configuration error (451 4.3.5, with a warning), never a permit.
 */
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "buf.h"
#include "cleanup_proto.h"
#include "dict.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "str.h"

#include "smtpd.h"
#include "smtpd_check.h"

/* ---- access tables ------------------------------------------------------- */

/* A "name: value" header for PREPEND (printable, no line breaks). */
static bool
check_header_valid(const char *text)
{
	size_t n = strcspn(text, ": \t");

	if (n == 0 || text[n] != ':')
		return false;
	return str_is_printable(text);
}

static void
check_log_action(struct check_eval *ev, const char *action, const char *name,
    const char *class, const char *text, const char *dflt, char **reason)
{
	struct buf line;

	buf_init(&line, 128);
	buf_printf(&line, "<%s>: %s %s", name, class, *text ? text : dflt);
	smtpd_log_event(ev->st, action, line.data);
	if (reason != NULL) {
		free(*reason);
		*reason = buf_steal(&line);
	} else {
		buf_fini(&line);
	}
}

/* A reject-type result with optional "x.y.z text". */
static enum check_result
check_access_refuse(struct check_eval *ev, int which, int code,
    const char *dsn, enum check_kind kind, const char *name,
    const char *class, const char *text)
{
	size_t n = check_dsn_len(text);
	char *own = n ? xstrndup(text, n) : NULL;
	enum check_result rc;

	if (n) {
		dsn = own;
		text += n;
		text += strspn(text, " \t");
	}
	if (*text == 0)
		text = "Access denied";
	switch (which) {
	case ACCESS_DEFER_IF_PERMIT:
		rc = check_defer_if_permit(ev, code, dsn, kind,
		    "<%s>: %s rejected: %s", name, class, text);
		break;
	case ACCESS_DEFER_IF_REJECT:
		rc = check_defer_if_reject(ev, code, dsn, kind,
		    "<%s>: %s rejected: %s", name, class, text);
		break;
	default:
		rc = check_reject(ev, code, dsn, kind, "<%s>: %s rejected: %s",
		    name, class, text);
		break;
	}
	free(own);
	return rc;
}

/* Act on what an access table (or policy server) said about name. */
enum check_result
check_access_result(struct check_eval *ev, const char *source,
    const char *value, const char *name, const char *class,
    enum check_kind kind, bool allow_ok)
{
	struct smtpd_state *st = ev->st;
	struct check_access a;
	struct check_list *l;
	enum check_result rc;
	struct buf why;

	check_access_parse(value, &a);
	switch (a.action) {
	case ACCESS_OK:
		if (allow_ok)
			return CHECK_OK;
		msg_warn("%s: OK is not allowed for the "
		    "unverified client name; use DUNNO", source);
		return CHECK_DUNNO;
	case ACCESS_REJECT:
		return check_access_refuse(ev, a.action,
		    var_access_map_reject_code, "5.7.1", kind, name, class,
		    a.text);
	case ACCESS_DEFER:
	case ACCESS_DEFER_IF_REJECT:
	case ACCESS_DEFER_IF_PERMIT:
		return check_access_refuse(ev, a.action,
		    var_access_map_defer_code, "4.7.1", kind, name, class,
		    a.text);
	case ACCESS_CODE:
		return check_access_refuse(ev, a.action, a.code,
		    a.code >= 500 ? "5.7.1" : "4.7.1", kind, name, class,
		    a.text);
	case ACCESS_DISCARD:
		st->cleanup_flags |= CLEANUP_FLAG_DISCARD;
		check_log_action(ev, "discard", name, class, a.text,
		    "triggers DISCARD action", &st->discard_reason);
		return check_permit_safe(ev);
	case ACCESS_HOLD:
		st->cleanup_flags |= CLEANUP_FLAG_HOLD;
		check_log_action(ev, "hold", name, class, a.text,
		    "triggers HOLD action", &st->hold_reason);
		return CHECK_DUNNO;
	case ACCESS_REDIRECT:
		if (strchr(a.text, '@') == NULL || strpbrk(a.text, " \t"))
			return check_config_error(ev, "%s: "
			    "REDIRECT needs one address user@domain, not "
			    "\"%s\"", source, a.text);
		free(st->redirect);
		st->redirect = xstrdup(a.text);
		buf_init(&why, 64);
		buf_printf(&why, "triggers REDIRECT %s", a.text);
		check_log_action(ev, "redirect", name, class, "", why.data,
		    NULL);
		buf_fini(&why);
		return CHECK_DUNNO;
	case ACCESS_PREPEND:
		if (ev->eod) {
			msg_warn("%s: PREPEND is not possible "
			    "after the message content (%s)", source,
			    "smtpd_end_of_data_restrictions");
			return CHECK_DUNNO;
		}
		if (!check_header_valid(a.text))
			return check_config_error(ev, "%s: "
			    "PREPEND needs a header \"name: value\", not "
			    "\"%s\"", source, a.text);
		if (st->prepend == NULL)
			st->prepend = argv_new();
		for (size_t i = 0; i < st->prepend->argc; i++)
			if (strcmp(st->prepend->argv[i], a.text) == 0)
				return CHECK_DUNNO;	/* once per message */
		argv_add(st->prepend, a.text);
		return CHECK_DUNNO;
	case ACCESS_WARN:
		check_log_action(ev, "warn", name, class, a.text,
		    "triggers WARN action", NULL);
		return CHECK_DUNNO;
	case ACCESS_INFO:
		check_log_action(ev, "info", name, class, a.text,
		    "triggers INFO action", NULL);
		return CHECK_DUNNO;
	case ACCESS_DUNNO:
		return CHECK_DUNNO;
	case ACCESS_FILTER:
	case ACCESS_BCC:
		return check_config_error(ev, "%s: action \"%s\" "
		    "is not supported", source, value);
	case ACCESS_BAD:
		return check_config_error(ev, "%s: bad reply "
		    "code in \"%s\" (expected 4xx or 5xx)", source, value);
	case ACCESS_RESTRICTIONS:
		break;
	}
	buf_init(&why, 128);
	if ((l = check_list_parse(source, a.text, &check_run_parser, &why))
	    == NULL) {
		rc = check_config_error(ev, "%s: result \"%s\": "
		    "%s", source, value, why.data);
	} else {
		rc = check_list_run(ev, l, name, class, kind);
		check_list_free(l);
	}
	buf_fini(&why);
	return rc;
}

/* Search keys in order; the first one found decides (even DUNNO). */
static enum check_result
check_access(struct check_eval *ev, const struct check_item *it,
    const struct argv *keys, const char *name, const char *class,
    enum check_kind kind, bool allow_ok)
{
	struct buf value, source;
	enum check_result rc = CHECK_DUNNO;

	buf_init(&value, 64);
	buf_init(&source, 64);
	for (size_t i = 0; i < keys->argc; i++) {
		switch (dict_lookup(it->table, keys->argv[i], &value)) {
		case DICT_NOTFOUND:
			continue;
		case DICT_TEMPFAIL:
			msg_warn("%s lookup error for \"%s\": %s",
			    it->table_name, keys->argv[i],
			    dict_error(it->table));
			rc = check_lookup_failure(ev, name);
			break;
		case DICT_FOUND:
			buf_set(&source, "access table ");
			buf_puts(&source, it->table_name);
			rc = check_access_result(ev, source.data, value.data,
			    name, class, kind, allow_ok);
			break;
		}
		break;
	}
	buf_fini(&value);
	buf_fini(&source);
	return rc;
}

/* check_client_access and check_reverse_client_hostname_access. */
static enum check_result
check_client_access(struct check_eval *ev, const struct check_item *it,
    const char *hostname, const char *name, const char *class,
    bool allow_ok)
{
	struct smtpd_state *st = ev->st;
	struct argv *keys = argv_new();
	bool pattern = check_table_is_pattern(it->table_name);
	enum check_result rc;

	if (hostname != NULL && strcmp(hostname, "unknown") != 0) {
		if (pattern)
			argv_add(keys, hostname);
		else
			check_domain_keys(keys, hostname, check_parent_matches);
	}
	if (st->addr != NULL && *st->addr) {
		if (pattern)
			argv_add(keys, st->addr);
		else
			check_addr_keys(keys, st->addr);
	}
	rc = check_access(ev, it, keys, name, class, CHECK_KIND_OTHER,
	    allow_ok);
	argv_free(keys);
	return rc;
}

/* check_helo_access and check_etrn_access: a name and its parents. */
static enum check_result
check_domain_access(struct check_eval *ev, const struct check_item *it,
    const char *domain, const char *class)
{
	struct argv *keys = argv_new();
	enum check_result rc;

	if (check_table_is_pattern(it->table_name))
		argv_add(keys, domain);
	else
		check_domain_keys(keys, domain, check_parent_matches);
	rc = check_access(ev, it, keys, domain, class, CHECK_KIND_OTHER, true);
	argv_free(keys);
	return rc;
}

/* check_sender_access and check_recipient_access. */
static enum check_result
check_mail_access(struct check_eval *ev, const struct check_item *it,
    const char *addr, const char *class, enum check_kind kind)
{
	const struct check_resolved *r;
	struct argv *keys = argv_new();
	enum check_result rc;

	if (*addr == 0) {
		argv_add(keys, var_smtpd_null_access_lookup_key);
	} else {
		if ((r = check_resolve(ev, addr)) == NULL) {
			argv_free(keys);
			return CHECK_REJECT;
		}
		if (r->routed && !var_allow_untrusted_routing) {
			argv_free(keys);
			return CHECK_DUNNO;
		}
		if (check_table_is_pattern(it->table_name))
			argv_add(keys, r->recipient);
		else
			check_mail_keys(keys, r->recipient, check_parent_matches);
	}
	rc = check_access(ev, it, keys, addr, class, kind, true);
	argv_free(keys);
	return rc;
}

enum check_result
check_access_restriction(struct check_eval *ev, const struct check_item *it)
{
	struct smtpd_state *st = ev->st;
	enum check_result rc;
	struct buf rname;

	switch (it->def->id) {
	case CHK_CLIENT_ACCESS:
		return check_client_access(ev, it, st->name, st->namaddr,
		    "Client host", true);
	case CHK_REVERSE_CLIENT_ACCESS:
		/* The unverified name must not permit (postconf(5)). */
		buf_init(&rname, 64);
		buf_printf(&rname, "%s[%s]", st->reverse_name, st->addr);
		rc = check_client_access(ev, it, st->reverse_name, rname.data,
		    "Unverified Client host", false);
		buf_fini(&rname);
		return rc;
	case CHK_HELO_ACCESS:
		if (ev->helo == NULL)
			return CHECK_DUNNO;
		return check_domain_access(ev, it, ev->helo, "Helo command");
	case CHK_ETRN_ACCESS:
		if (ev->etrn == NULL)
			return CHECK_DUNNO;
		return check_domain_access(ev, it, ev->etrn, "Etrn command");
	case CHK_SENDER_ACCESS:
		if (ev->sender == NULL)
			return CHECK_DUNNO;
		return check_mail_access(ev, it, ev->sender, "Sender address",
		    CHECK_KIND_SENDER);
	case CHK_RECIPIENT_ACCESS:
		if (ev->recipient == NULL)
			return CHECK_DUNNO;
		return check_mail_access(ev, it, ev->recipient,
		    "Recipient address", CHECK_KIND_RECIPIENT);
	default:
		msg_panic("check_access_restriction: %s", it->def->name);
	}
}
