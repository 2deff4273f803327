/*
 * smtpd_xclient.c - smtpd: the XCLIENT and XFORWARD commands
 *
 *	XCLIENT NAME=x REVERSE_NAME=x ADDR=x PORT=x PROTO=x HELO=x LOGIN=x
 *		DESTADDR=x DESTPORT=x
 *	XFORWARD NAME=x ADDR=x PORT=x PROTO=x HELO=x IDENT=x SOURCE=x
 *
 * Postfix's extensions for a proxy or content filter in front of us
 * (XCLIENT_README, XFORWARD_README). Each takes one or more
 * "attribute=value" pairs (names in any case, values xtext, RFC 3461);
 * "[UNAVAILABLE]" says the proxy does not know, "[TEMPUNAVAIL]" (names
 * only) that its lookup failed for now.
 *
 * XCLIENT replaces who the client is, for everything: restrictions,
 * logging, the queue file. Only clients in smtpd_authorized_xclient_hosts
 * may use it (else "550 5.7.0 Error: insufficient authorization"), not
 * within a mail transaction ("503 5.5.1"). All attributes are checked
 * before any is applied, so a bad command changes nothing ("501 5.5.4").
 * On success the session starts over as if the client had just
 * connected: no HELO (unless HELO= was given), protocol SMTP (or
 * PROTO=), no login (or LOGIN=), a fresh restriction state, and the
 * greeting "220 $smtpd_banner" (or, when the client restrictions
 * refuse the new client at once, their reply, logged as a reject at
 * CONNECT, as at connect); the client must then send EHLO again. The authorization is the real
 * connection's and stays (a proxy may send several XCLIENT commands);
 * so do the anvil ident and the per-connection exemptions.
 *
 *	NAME, REVERSE_NAME  a host name, [UNAVAILABLE] or [TEMPUNAVAIL]
 *			(unknown, permanently or for now: restrictions
 *			such as reject_unknown_client_hostname answer 5xx
 *			or 4xx). NAME alone sets REVERSE_NAME too; ADDR
 *			without names looks the names up in DNS as at
 *			connect.
 *	ADDR		IPv4, "IPV6:" and IPv6 (the prefix may be left
 *			out), or [UNAVAILABLE] ("unknown")
 *	PORT		0..65535 or [UNAVAILABLE]
 *	PROTO		SMTP or ESMTP
 *	HELO, LOGIN	1..255 printable characters or [UNAVAILABLE]
 *	DESTADDR, DESTPORT  our address and port as the proxy's client saw
 *			them: checked, not used yet (nothing in smtpd
 *			depends on the local address)
 *
 * XFORWARD only changes what is logged and recorded about a message's
 * origin (st->fwd_*: the queue file's client attributes and the
 * Received: header, smtpd_data.c): for smtpd_authorized_xforward_hosts,
 * before MAIL, "250 2.0.0 Ok". Its values may be non-DNS names and
 * non-IP addresses (printable, no spaces, nothing special in a header);
 * IDENT is the upstream queue ID, SOURCE is LOCAL or REMOTE (the
 * rewrite context of the message, smtpd_data.c). The attributes last
 * until the end of the mail transaction (smtpd_xforward_reset()).
 *
 * SECURITY: the command line is client data, bounded by
 * line_length_limit and checked for control and non-ASCII bytes by
 * smtpd.c; the values are decoded into struct bufs and must then be
 * printable ASCII without spaces or header specials, at most 255 bytes.
 * Trust is the configuration's: only listed hosts get here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "argv.h"
#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "smtp_syntax.h"
#include "str.h"

#include "smtpd.h"
#include "smtpd_cmd.h"
#include "smtpd_xclient.h"

#define XA_VALUE_LIMIT	255		/* decoded bytes per attribute */
#define XA_PROTO_LIMIT	64		/* XFORWARD PROTO */

#define XA_UNAVAILABLE	"[UNAVAILABLE]"
#define XA_TEMPUNAVAIL	"[TEMPUNAVAIL]"

/* Which command an attribute belongs to. */
#define XA_XCLIENT	(1 << 0)
#define XA_XFORWARD	(1 << 1)

enum xa_id {
	XA_NAME, XA_REVERSE_NAME, XA_ADDR, XA_PORT, XA_PROTO, XA_HELO,
	XA_LOGIN, XA_DESTADDR, XA_DESTPORT, XA_IDENT, XA_SOURCE, XA_COUNT,
};

/* What a value was, once checked. */
enum xa_kind {
	XA_ABSENT,		/* not in the command */
	XA_VALUE,		/* a value, normalized in the buffer */
	XA_UNAVAIL,		/* [UNAVAILABLE] */
	XA_TEMPFAIL,		/* [TEMPUNAVAIL] */
};

struct xa_value {
	enum xa_kind kind;
	struct buf text;	/* the decoded, normalized value */
};

/* Check a decoded value (not a special one) and normalize it in place. */
typedef bool (*xa_check_fn)(struct buf *value, unsigned cmd);

struct xa_spec {
	const char *name;
	enum xa_id id;
	unsigned cmds;		/* XA_XCLIENT | XA_XFORWARD */
	bool tempunavail;	/* [TEMPUNAVAIL] allowed (XCLIENT names) */
	xa_check_fn check;
};

/* ---- value checks ------------------------------------------------------ */

static void
xa_upper(struct buf *v)
{
	size_t i;

	for (i = 0; i < v->len; i++)
		if (v->data[i] >= 'a' && v->data[i] <= 'z')
			v->data[i] -= 'a' - 'A';
}

/*
 * Printable ASCII, no space, nothing that could break out of a header
 * comment or field: what XFORWARD_README asks of every value.
 */
static bool
xa_token_ok(struct buf *v, unsigned cmd)
{
	size_t i;

	(void)cmd;
	for (i = 0; i < v->len; i++)
		if (v->data[i] <= ' ' || v->data[i] >= 0x7f
		    || strchr("()<>,;\"\\", v->data[i]) != NULL)
			return false;
	return v->len > 0;
}

/* A DNS host name: labels of letters, digits, '-' and '_'. */
static bool
xa_hostname_ok(const char *name)
{
	size_t label = 0, len = 0;
	const char *cp;

	for (cp = name; *cp; cp++, len++) {
		if (*cp == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((*cp >= 'a' && *cp <= 'z')
		    || (*cp >= 'A' && *cp <= 'Z')
		    || (*cp >= '0' && *cp <= '9') || *cp == '-'
		    || *cp == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return len > 0 && len <= 255 && label > 0;
}

/* XCLIENT: a DNS name; XFORWARD: "may be a non-DNS hostname". */
static bool
xa_name_ok(struct buf *v, unsigned cmd)
{
	if (cmd == XA_XCLIENT)
		return xa_hostname_ok(v->data);
	return xa_token_ok(v, cmd);
}

/*
 * An IP address: IPv4, or IPv6 with or without the "IPV6:" prefix (any
 * case), replaced by its canonical text without the prefix. XFORWARD
 * accepts a non-IP address too, unless it says IPV6:.
 */
static bool
xa_addr_ok(struct buf *v, unsigned cmd)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];
	const char *cp = v->data;
	int family = AF_INET;
	bool prefixed = false;

	if (strncasecmp(cp, "IPV6:", 5) == 0) {
		cp += 5;
		family = AF_INET6;
		prefixed = true;
	} else if (strchr(cp, ':') != NULL) {
		family = AF_INET6;
	}
	if (inet_pton(family, cp, bin) == 1
	    && inet_ntop(family, bin, text, sizeof(text)) != NULL) {
		buf_set(v, text);
		return true;
	}
	return cmd == XA_XFORWARD && !prefixed && xa_token_ok(v, cmd);
}

/* A TCP port: 0..65535 in decimal, no sign, no leading zeros. */
static bool
xa_port_ok(struct buf *v, unsigned cmd)
{
	unsigned long port;

	(void)cmd;
	return v->len > 0 && v->len <= 5 && (v->len == 1 || v->data[0] != '0')
	    && v->data[0] >= '0' && v->data[0] <= '9'
	    && str_to_ulong(v->data, &port) == 0 && port <= 65535;
}

/* XCLIENT: SMTP or ESMTP (upper-cased); XFORWARD: any short name. */
static bool
xa_proto_ok(struct buf *v, unsigned cmd)
{
	if (cmd == XA_XCLIENT) {
		if (strcasecmp(v->data, "SMTP") != 0
		    && strcasecmp(v->data, "ESMTP") != 0)
			return false;
		xa_upper(v);
		return true;
	}
	return v->len <= XA_PROTO_LIMIT && xa_token_ok(v, cmd);
}

/* HELO may be an address literal: brackets and colons are fine. */
static bool
xa_helo_ok(struct buf *v, unsigned cmd)
{
	return xa_token_ok(v, cmd);
}

static bool
xa_source_ok(struct buf *v, unsigned cmd)
{
	(void)cmd;
	if (strcasecmp(v->data, "LOCAL") != 0
	    && strcasecmp(v->data, "REMOTE") != 0)
		return false;
	xa_upper(v);
	return true;
}

/*
 * The attributes, in the order the EHLO reply lists them. LOGIN and
 * IDENT are free-form tokens.
 */
static const struct xa_spec xa_specs[] = {
	{"NAME", XA_NAME, XA_XCLIENT | XA_XFORWARD, true, xa_name_ok},
	{"ADDR", XA_ADDR, XA_XCLIENT | XA_XFORWARD, false, xa_addr_ok},
	{"PORT", XA_PORT, XA_XCLIENT | XA_XFORWARD, false, xa_port_ok},
	{"PROTO", XA_PROTO, XA_XCLIENT | XA_XFORWARD, false, xa_proto_ok},
	{"HELO", XA_HELO, XA_XCLIENT | XA_XFORWARD, false, xa_helo_ok},
	{"LOGIN", XA_LOGIN, XA_XCLIENT, false, xa_token_ok},
	{"DESTADDR", XA_DESTADDR, XA_XCLIENT, false, xa_addr_ok},
	{"DESTPORT", XA_DESTPORT, XA_XCLIENT, false, xa_port_ok},
	{"REVERSE_NAME", XA_REVERSE_NAME, XA_XCLIENT, true, xa_name_ok},
	{"IDENT", XA_IDENT, XA_XFORWARD, false, xa_token_ok},
	{"SOURCE", XA_SOURCE, XA_XFORWARD, false, xa_source_ok},
};

#define XA_NSPECS	(sizeof(xa_specs) / sizeof(xa_specs[0]))

/* ---- parsing ----------------------------------------------------------- */

struct xa_set {
	struct xa_value v[XA_COUNT];
};

static void
xa_init(struct xa_set *s)
{
	size_t i;

	for (i = 0; i < XA_COUNT; i++) {
		s->v[i].kind = XA_ABSENT;
		buf_init(&s->v[i].text, 32);
	}
}

static void
xa_fini(struct xa_set *s)
{
	size_t i;

	for (i = 0; i < XA_COUNT; i++)
		buf_fini(&s->v[i].text);
}

static const struct xa_spec *
xa_find(const char *name, unsigned cmd)
{
	size_t i;

	for (i = 0; i < XA_NSPECS; i++)
		if ((xa_specs[i].cmds & cmd)
		    && strcasecmp(xa_specs[i].name, name) == 0)
			return &xa_specs[i];
	return NULL;
}

/*
 * Parse "name=value ..." for verb (XCLIENT or XFORWARD) into s, every
 * value checked. Returns 0, or -1 after the error reply. A later
 * occurrence of an attribute replaces an earlier one.
 */
static int
xa_parse(struct smtpd_state *st, const char *verb, unsigned cmd,
    char *args, struct xa_set *s)
{
	const struct xa_spec *spec;
	struct xa_value *v;
	char *cursor = args, *elem, *value;
	int n;

	for (n = 0; (elem = str_token(&cursor, " ")) != NULL; n++) {
		if ((value = strchr(elem, '=')) == NULL || value == elem) {
			smtpd_error(st, "501 5.5.4 Bad %s syntax: %.40s", verb,
			    elem);
			return -1;
		}
		*value++ = 0;
		if ((spec = xa_find(elem, cmd)) == NULL) {
			smtpd_error(st, "501 5.5.4 Bad %s attribute name: "
			    "%.40s", verb, elem);
			return -1;
		}
		v = &s->v[spec->id];
		if (smtp_xtext_decode(value, &v->text) < 0
		    || v->text.len > XA_VALUE_LIMIT)
			v->kind = XA_ABSENT;
		else if (strcasecmp(v->text.data, XA_UNAVAILABLE) == 0)
			v->kind = XA_UNAVAIL;
		else if (spec->tempunavail
		    && strcasecmp(v->text.data, XA_TEMPUNAVAIL) == 0)
			v->kind = XA_TEMPFAIL;
		else if (spec->check(&v->text, cmd))
			v->kind = XA_VALUE;
		else
			v->kind = XA_ABSENT;
		if (v->kind == XA_ABSENT) {
			smtpd_error(st, "501 5.5.4 Bad %s syntax: %s=%.40s%s",
			    verb, spec->name, value,
			    strlen(value) > 40 ? "..." : "");
			return -1;
		}
	}
	if (n == 0) {
		smtpd_error(st, "501 5.5.4 Syntax: %s attribute=value...",
		    verb);
		return -1;
	}
	return 0;
}

/* The value to hand on: special values become what st uses. */
static const char *
xa_get(const struct xa_set *s, enum xa_id id, const char *unavailable)
{
	const struct xa_value *v = &s->v[id];

	switch (v->kind) {
	case XA_VALUE:
		return v->text.data;
	case XA_UNAVAIL:
	case XA_TEMPFAIL:
		return unavailable;
	default:
		return NULL;
	}
}

/* ---- XCLIENT ----------------------------------------------------------- */

/* Replace *field with a copy of value (NULL: none). */
static void
xa_replace(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? xstrdup(value) : NULL;
}

/* Who the client is now: names, address, port (smtpd_peer.c). */
static void
xclient_peer(struct smtpd_state *st, const struct xa_set *s)
{
	const char *name, *rname, *addr, *port;
	bool xclient_ok = st->xclient_ok, xforward_ok = st->xforward_ok;
	bool limit_exempt = st->limit_exempt;
	bool bare_exempt = st->bare_newline_exempt;

	name = xa_get(s, XA_NAME, "unknown");
	rname = xa_get(s, XA_REVERSE_NAME, "unknown");
	addr = xa_get(s, XA_ADDR, "unknown");
	port = xa_get(s, XA_PORT, "0");
	if (rname == NULL)
		rname = name;		/* NAME alone sets both names */
	if (addr != NULL && name == NULL) {
		if (s->v[XA_ADDR].kind == XA_UNAVAIL) {
			/* No address, nothing to look up. */
			name = "unknown";
			if (rname == NULL)
				rname = "unknown";
		} else {
			/* A new address: its names, as at connect. */
			smtpd_peer_set(st, NULL, NULL, addr, port);
			addr = port = NULL;
		}
	}
	if (name != NULL || rname != NULL || addr != NULL || port != NULL)
		smtpd_peer_set(st, name, rname, addr, port);
	if (s->v[XA_NAME].kind == XA_TEMPFAIL)
		st->name_status = SMTPD_PEER_TEMPFAIL;
	if (s->v[XA_REVERSE_NAME].kind == XA_TEMPFAIL
	    || (s->v[XA_REVERSE_NAME].kind == XA_ABSENT
	    && s->v[XA_NAME].kind == XA_TEMPFAIL))
		st->reverse_name_status = SMTPD_PEER_TEMPFAIL;
	if (s->v[XA_ADDR].kind == XA_UNAVAIL)
		st->addr_family = AF_UNSPEC;

	/*
	 * These describe the connection itself (the proxy), which has not
	 * changed; smtpd_peer_set() may have recomputed them for the new
	 * address.
	 */
	st->xclient_ok = xclient_ok;
	st->xforward_ok = xforward_ok;
	st->limit_exempt = limit_exempt;
	st->bare_newline_exempt = bare_exempt;
}

/*
 * May this client use cmd now? Replies and returns false when it is not
 * authorized or a mail transaction is in progress.
 */
static bool
xa_allowed(struct smtpd_state *st, bool authorized, const char *cmd)
{
	if (!authorized) {
		msg_warn("unauthorized %s command from %s", cmd, st->namaddr);
		smtpd_error(st, "550 5.7.0 Error: insufficient authorization");
		return false;
	}
	if (st->sender != NULL) {
		smtpd_error(st, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return false;
	}
	return true;
}

void
smtpd_xclient(struct smtpd_state *st, char *args)
{
	struct xa_set s;
	const char *proto;
	char *before;

	if (!xa_allowed(st, st->xclient_ok, "XCLIENT"))
		return;
	xa_init(&s);
	if (xa_parse(st, "XCLIENT", XA_XCLIENT, args, &s) < 0) {
		xa_fini(&s);
		return;
	}
	before = xstrdup(st->namaddr);
	xclient_peer(st, &s);

	/* The session starts over, with what XCLIENT said. */
	smtpd_reset(st);
	smtpd_xforward_reset(st);
	xa_replace(&st->helo_name, xa_get(&s, XA_HELO, NULL));
	proto = xa_get(&s, XA_PROTO, NULL);
	st->protocol = proto != NULL && strcmp(proto, "ESMTP") == 0
	    ? "ESMTP" : "SMTP";
	xa_replace(&st->sasl_username, xa_get(&s, XA_LOGIN, NULL));
	smtpd_check_session_end(st);
	smtpd_check_session(st);
	st->client_rejected = false;
	st->where = SMTPD_WHERE_CONNECT;
	msg_info("XCLIENT from %s: client is now %s%s%s", before,
	    st->namaddr, st->helo_name ? " helo=" : "",
	    st->helo_name ? st->helo_name : "");
	free(before);
	xa_fini(&s);

	smtpd_greet(st);			/* as at connect */
}

/* ---- XFORWARD ---------------------------------------------------------- */

void
smtpd_xforward_reset(struct smtpd_state *st)
{
	xa_replace(&st->fwd_name, NULL);
	xa_replace(&st->fwd_addr, NULL);
	xa_replace(&st->fwd_port, NULL);
	xa_replace(&st->fwd_helo, NULL);
	xa_replace(&st->fwd_proto, NULL);
	xa_replace(&st->fwd_ident, NULL);
	xa_replace(&st->fwd_source, NULL);
}

/* Update one forwarded attribute when the command gave it. */
static void
xforward_set(char **field, const struct xa_set *s, enum xa_id id,
    const char *unavailable)
{
	if (s->v[id].kind != XA_ABSENT)
		xa_replace(field, xa_get(s, id, unavailable));
}

void
smtpd_xforward(struct smtpd_state *st, char *args)
{
	struct xa_set s;

	if (!xa_allowed(st, st->xforward_ok, "XFORWARD"))
		return;
	xa_init(&s);
	if (xa_parse(st, "XFORWARD", XA_XFORWARD, args, &s) < 0) {
		xa_fini(&s);
		return;
	}
	/* [UNAVAILABLE]: "unknown" for the client, nothing for the rest. */
	xforward_set(&st->fwd_name, &s, XA_NAME, "unknown");
	xforward_set(&st->fwd_addr, &s, XA_ADDR, "unknown");
	xforward_set(&st->fwd_port, &s, XA_PORT, NULL);
	xforward_set(&st->fwd_proto, &s, XA_PROTO, NULL);
	xforward_set(&st->fwd_helo, &s, XA_HELO, NULL);
	xforward_set(&st->fwd_ident, &s, XA_IDENT, NULL);
	xforward_set(&st->fwd_source, &s, XA_SOURCE, NULL);
	xa_fini(&s);
	smtpd_reply(st, "250 2.0.0 Ok");
}

/* ---- EHLO -------------------------------------------------------------- */

/* "\nKEYWORD ATTR ATTR ...", the attributes from the table. */
static void
xa_ehlo_line(struct buf *b, const char *keyword, unsigned cmd)
{
	size_t i;

	if (smtpd_ehlo_discarded(keyword))
		return;
	buf_printf(b, "\n%s", keyword);
	for (i = 0; i < XA_NSPECS; i++)
		if (xa_specs[i].cmds & cmd)
			buf_printf(b, " %s", xa_specs[i].name);
}

void
smtpd_xclient_ehlo(struct smtpd_state *st, struct buf *ehlo_lines)
{
	if (st->xclient_ok)
		xa_ehlo_line(ehlo_lines, "XCLIENT", XA_XCLIENT);
	if (st->xforward_ok)
		xa_ehlo_line(ehlo_lines, "XFORWARD", XA_XFORWARD);
}
