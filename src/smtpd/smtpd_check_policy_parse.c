/*
 * smtpd_check_policy_parse.c - check_policy_service: arguments, requests
 * and replies (see smtpd_check_policy.h)
 *
 * Pure: no I/O and no globals, so that tests/unit/smtpd/
 * test_smtpd_policy.c and tests/fuzz/fuzz_smtpd_policy.c call it
 * directly. smtpd_check_policy.c does the talking.
 *
 * SECURITY: request values come from the SMTP client and reply bytes
 * from another process. Values are copied into growable buffers with
 * control characters replaced; replies are scanned within their length
 * (a NUL byte is an error, not an end) and their action must be
 * printable ASCII.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "buf.h"
#include "mem.h"
#include "str.h"
#include "timeutil.h"

#include "smtpd_check.h"
#include "smtpd_check_policy.h"

#define POLICY_SEPS	", \t\r\n"
#define POLICY_MAX_TIME	(1000L * 86400)		/* 1000d, as params.def */

/* ---- the server name ----------------------------------------------------- */

void
check_policy_endpoint_fini(struct check_policy_endpoint *ep)
{
	free(ep->host);
	free(ep->port);
	free(ep->path);
	ep->host = ep->port = ep->path = NULL;
}

/* Printable, no blanks: a server name is one word. */
static bool
policy_word(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* A port: 1..65535, or a service name (letters, digits, '-', '_'). */
static bool
policy_port_valid(const char *port)
{
	int n;

	if (*port >= '0' && *port <= '9')
		return str_to_int(port, &n) == 0 && n >= 1 && n <= 65535;
	if (*port == 0 || strlen(port) > 64)
		return false;
	for (; *port; port++)
		if (!(*port >= 'a' && *port <= 'z') && !(*port >= 'A'
		    && *port <= 'Z') && !(*port >= '0' && *port <= '9')
		    && *port != '-' && *port != '_')
			return false;
	return true;
}

static bool
policy_inet_parse(const char *rest, struct check_policy_endpoint *out)
{
	const char *colon = strrchr(rest, ':');
	size_t hlen;

	if (colon == NULL || !policy_port_valid(colon + 1))
		return false;
	hlen = (size_t)(colon - rest);
	if (hlen >= 2 && rest[0] == '[' && rest[hlen - 1] == ']') {
		rest++;
		hlen -= 2;
	} else if (memchr(rest, ':', hlen) != NULL
	    || memchr(rest, '[', hlen) != NULL
	    || memchr(rest, ']', hlen) != NULL) {
		return false;		/* IPv6 needs [] */
	}
	if (hlen == 0 || hlen > 255)
		return false;
	out->host = xstrndup(rest, hlen);
	out->port = xstrdup(colon + 1);
	return true;
}

bool
check_policy_endpoint_parse(const char *server,
    struct check_policy_endpoint *out, struct buf *why)
{
	struct sockaddr_un sun;
	const char *rest;

	memset(out, 0, sizeof(*out));
	if (!policy_word(server))
		goto bad;
	if (strncasecmp(server, "inet:", 5) == 0) {
		out->inet = true;
		if (policy_inet_parse(server + 5, out))
			return true;
		goto bad;
	}
	if (strncasecmp(server, "unix:", 5) == 0
	    || strncasecmp(server, "local:", 6) == 0) {
		rest = strchr(server, ':') + 1;
		if (*rest == 0)
			goto bad;
		if (strlen(rest) >= sizeof(sun.sun_path)) {
			buf_printf(why, "policy server \"%s\": pathname too "
			    "long (at most %zu bytes)", server,
			    sizeof(sun.sun_path) - 1);
			return false;
		}
		out->path = xstrdup(rest);
		return true;
	}
bad:
	check_policy_endpoint_fini(out);
	buf_printf(why, "bad policy server \"%s\" (expected inet:host:port "
	    "or unix:pathname)", server);
	return false;
}

/* ---- the argument -------------------------------------------------------- */

enum policy_kind {
	POLICY_TIME,		/* int seconds */
	POLICY_INT,
	POLICY_ACTION,		/* char *, an access(5) result */
	POLICY_STR,		/* char *, anything */
};

/* The settings of "{ ... }", with the bounds of their parameters. */
static const struct policy_setting {
	const char *name;
	enum policy_kind kind;
	size_t offset;		/* in struct check_policy_spec */
	long min, max;		/* POLICY_TIME, POLICY_INT */
	const char *range;	/* min..max, for messages */
} policy_settings[] = {
	{ "timeout", POLICY_TIME, offsetof(struct check_policy_spec, timeout),
	    1, POLICY_MAX_TIME, "a time 1s..1000d" },
	{ "max_idle", POLICY_TIME, offsetof(struct check_policy_spec,
	    max_idle), 1, POLICY_MAX_TIME, "a time 1s..1000d" },
	{ "max_ttl", POLICY_TIME, offsetof(struct check_policy_spec, max_ttl),
	    1, POLICY_MAX_TIME, "a time 1s..1000d" },
	{ "request_limit", POLICY_INT, offsetof(struct check_policy_spec,
	    request_limit), 0, 1000000000, "0..1000000000" },
	{ "try_limit", POLICY_INT, offsetof(struct check_policy_spec,
	    try_limit), 1, 100, "1..100" },
	{ "retry_delay", POLICY_TIME, offsetof(struct check_policy_spec,
	    retry_delay), 0, 3600, "a time 0s..1h" },
	{ "default_action", POLICY_ACTION, offsetof(struct check_policy_spec,
	    default_action), 0, 0, NULL },
	{ "policy_context", POLICY_STR, offsetof(struct check_policy_spec,
	    policy_context), 0, 0, NULL },
};

#define POLICY_NSETTINGS \
	(sizeof(policy_settings) / sizeof(policy_settings[0]))

void
check_policy_spec_fini(struct check_policy_spec *spec)
{
	free(spec->server);
	free(spec->default_action);
	free(spec->policy_context);
	spec->server = spec->default_action = spec->policy_context = NULL;
}

/* Printable ASCII and tabs: what may go into an SMTP reply. */
static bool
policy_text_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return false;
	}
	return true;
}

bool
check_policy_action_valid(const char *action, struct buf *why)
{
	struct check_access a;

	check_access_parse(action, &a);
	if (action[strspn(action, " \t")] == 0) {
		buf_puts(why, "empty action");
		return false;
	}
	if (!policy_text_valid(action, strlen(action))) {
		buf_puts(why, "action has a non-printable or non-ASCII "
		    "character");
		return false;
	}
	switch (a.action) {
	case ACCESS_BAD:
		buf_printf(why, "bad reply code in action \"%s\" (expected "
		    "4xx or 5xx)", action);
		return false;
	case ACCESS_FILTER:
	case ACCESS_BCC:
		buf_printf(why, "action \"%s\" is not supported", action);
		return false;
	default:
		return true;
	}
}

/* One "name=value" (braces already removed) into out. */
static bool
policy_setting_parse(char *elem, struct check_policy_spec *out,
    bool seen[POLICY_NSETTINGS], struct buf *why)
{
	const struct policy_setting *s = NULL;
	char *eq = strchr(elem, '='), *name = elem, *value, *field;
	long n;
	size_t i, start;

	if (eq == NULL) {
		buf_printf(why, "\"%s\": expected name=value", elem);
		return false;
	}
	*eq = 0;
	str_trim(name);
	value = str_trim(eq + 1);
	for (i = 0; i < POLICY_NSETTINGS; i++) {
		if (strcmp(name, policy_settings[i].name) == 0) {
			s = &policy_settings[i];
			break;
		}
	}
	if (s == NULL) {
		buf_printf(why, "unknown attribute \"%s\" (expected timeout, "
		    "max_idle, max_ttl, request_limit, try_limit, "
		    "retry_delay, default_action or policy_context)", name);
		return false;
	}
	if (seen[i]) {
		buf_printf(why, "attribute \"%s\" is given twice", name);
		return false;
	}
	seen[i] = true;
	field = (char *)out + s->offset;
	switch (s->kind) {
	case POLICY_TIME:
	case POLICY_INT:
		if ((s->kind == POLICY_TIME ? time_parse_duration(value, 's', &n)
		    : str_to_long(value, &n)) < 0 || n < s->min || n > s->max) {
			buf_printf(why, "bad %s value \"%s\" (expected %s)",
			    name, value, s->range);
			return false;
		}
		*(int *)field = (int)n;
		return true;
	case POLICY_ACTION:
		start = why->len;
		buf_printf(why, "%s: ", name);
		if (!check_policy_action_valid(value, why))
			return false;
		buf_truncate(why, start);
		/* FALLTHROUGH */
	case POLICY_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return true;
	}
	return false;
}

/* The inside of "{ server, settings... }". */
static bool
policy_braced_parse(const char *inner, struct check_policy_spec *out,
    struct buf *why)
{
	bool seen[POLICY_NSETTINGS] = { false };
	struct buf elem;
	const char *cp = inner;
	size_t len;
	bool ok = false;

	buf_init(&elem, 64);
	if ((cp = str_token_braced(cp, POLICY_SEPS, &elem)) == NULL
	    || elem.data[0] == '{' || strchr(elem.data, '=') != NULL) {
		buf_set(why, "missing policy server name (expected inet:"
		    "host:port or unix:pathname first)");
		goto out;
	}
	out->server = xstrdup(elem.data);
	while ((cp = str_token_braced(cp, POLICY_SEPS, &elem)) != NULL) {
		if (elem.data[0] == '{') {
			len = elem.len;
			if (len < 2 || elem.data[len - 1] != '}') {
				buf_printf(why, "unbalanced \"{\" in \"%s\"",
				    elem.data);
				goto out;
			}
			elem.data[len - 1] = 0;
			memmove(elem.data, elem.data + 1, len - 1);
		}
		if (!policy_setting_parse(elem.data, out, seen, why))
			goto out;
	}
	ok = true;
out:
	buf_fini(&elem);
	return ok;
}

bool
check_policy_spec_parse(const char *arg,
    const struct check_policy_spec *dflt, struct check_policy_spec *out,
    struct buf *why)
{
	struct check_policy_endpoint ep;
	char *copy = NULL;
	size_t len;
	bool ok;

	*out = *dflt;
	out->server = NULL;
	out->default_action = xstrdup(dflt->default_action ?
	    dflt->default_action : "");
	out->policy_context = xstrdup(dflt->policy_context ?
	    dflt->policy_context : "");
	if (arg[0] == '{') {
		len = strlen(arg);
		if (len < 2 || arg[len - 1] != '}') {
			buf_printf(why, "unbalanced \"{\" in \"%s\"", arg);
			ok = false;
		} else {
			copy = xstrndup(arg + 1, len - 2);
			ok = policy_braced_parse(copy, out, why);
		}
	} else if (strpbrk(arg, "{}") != NULL) {
		buf_printf(why, "bad policy server \"%s\" (expected inet:"
		    "host:port or unix:pathname)", arg);
		ok = false;
	} else {
		out->server = xstrdup(arg);
		ok = true;
	}
	if (ok) {
		ok = check_policy_endpoint_parse(out->server, &ep, why);
		check_policy_endpoint_fini(&ep);
	}
	free(copy);
	if (!ok)
		check_policy_spec_fini(out);
	return ok;
}

/* ---- requests ------------------------------------------------------------ */

void
check_policy_attr(struct buf *out, const char *name, const char *value)
{
	const unsigned char *cp;
	size_t n;

	buf_puts(out, name);
	buf_putc(out, '=');
	for (cp = (const unsigned char *)(value ? value : ""); *cp; cp += n) {
		/* Runs of harmless bytes at once, then one replaced byte. */
		for (n = 0; cp[n] >= 0x20 && cp[n] != 0x7f; n++)
			;
		buf_append(out, cp, n);
		if (cp[n] == 0)
			break;
		buf_putc(out, '?');
		n++;
	}
	buf_putc(out, '\n');
}

/* ---- replies ------------------------------------------------------------- */

bool
check_policy_reply_parse(const char *reply, size_t len, struct buf *action,
    struct buf *why)
{
	const char *cp = reply, *end = reply + len, *nl, *eq;
	size_t llen;
	bool found = false;

	buf_reset(action);
	if (memchr(reply, 0, len) != NULL) {
		buf_set(why, "NUL byte in reply");
		return false;
	}
	for (;;) {
		if (cp == end) {
			buf_set(why, "reply does not end with an empty line");
			return false;
		}
		if ((nl = memchr(cp, '\n', (size_t)(end - cp))) == NULL) {
			buf_set(why, "reply does not end with a newline");
			return false;
		}
		llen = (size_t)(nl - cp);
		if (llen > 0 && cp[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break;			/* the empty line */
		if ((eq = memchr(cp, '=', llen)) == NULL || eq == cp) {
			buf_set(why, "reply line is not name=value");
			return false;
		}
		if ((size_t)(eq - cp) == 6 && memcmp(cp, "action", 6) == 0) {
			if (found) {
				buf_set(why, "action attribute given twice");
				return false;
			}
			found = true;
			buf_setn(action, eq + 1, llen - 7);
		}
		cp = nl + 1;
	}
	if (nl + 1 != end) {
		buf_set(why, "data after the end of the reply");
		return false;
	}
	if (!found) {
		buf_set(why, "no action attribute in reply");
		return false;
	}
	if (action->data[strspn(action->data, " \t")] == 0) {
		buf_set(why, "empty action");
		return false;
	}
	/*
	 * The server decided: keep the decision, and make its text fit an
	 * SMTP reply (a non-ASCII or control byte becomes '?'). Refusing
	 * the reply instead would turn a REJECT with an accented word into
	 * default_action, which may well be DUNNO.
	 */
	for (size_t i = 0; i < action->len; i++) {
		unsigned char c = (unsigned char)action->data[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			action->data[i] = '?';
	}
	return true;
}
