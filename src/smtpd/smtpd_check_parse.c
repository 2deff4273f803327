/*
 * smtpd_check_parse.c - smtpd restrictions: the parts that need no server
 *
 * The restriction names and their arguments, the parser of restriction
 * lists (main.cf values, restriction classes, and access table results
 * that name restrictions), the meaning of an access(5) result, the reply
 * texts with their RFC 3463 enhanced status codes, the $name templates
 * of RBL replies, the order of access(5) lookup keys, the DNS list
 * filters ("list.example=127.0.0.[2..11]"), and host name syntax.
 * Everything here is pure (no I/O, no globals but recipient_delimiter)
 * so that tests/unit/smtpd/test_smtpd_check.c exercises it directly.
 *
 * SECURITY: table results, HELO names, addresses and DNS data reach
 * these functions. They are only scanned with explicit bounds; replies
 * are built in growable buffers; templates are expanded once (a value
 * is never expanded again, so DNS text cannot inject $names).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "buf.h"
#include "dict.h"
#include "dns.h"
#include "mail_addr_find.h"
#include "mem.h"
#include "str.h"

#include "smtpd_check.h"

#define CHECK_SEPS	", \t\r\n"

/* ---- restriction names --------------------------------------------------- */

static const struct check_def check_defs[] = {
	{ "permit", CHK_PERMIT, 0 },
	{ "reject", CHK_REJECT, CHECK_F_RELAY },
	{ "defer", CHK_DEFER, CHECK_F_RELAY },
	{ "defer_if_permit", CHK_DEFER_IF_PERMIT, CHECK_F_RELAY },
	{ "defer_if_reject", CHK_DEFER_IF_REJECT, 0 },
	{ "warn_if_reject", CHK_WARN_IF_REJECT, 0 },
	{ "permit_mynetworks", CHK_PERMIT_MYNETWORKS, 0 },
	{ "permit_sasl_authenticated", CHK_PERMIT_SASL_AUTH, 0 },
	{ "reject_unauth_pipelining", CHK_UNAUTH_PIPELINING, 0 },
	{ "check_client_access", CHK_CLIENT_ACCESS, CHECK_F_TABLE },
	{ "check_reverse_client_hostname_access", CHK_REVERSE_CLIENT_ACCESS,
	    CHECK_F_TABLE },
	{ "check_helo_access", CHK_HELO_ACCESS, CHECK_F_TABLE },
	{ "check_sender_access", CHK_SENDER_ACCESS, CHECK_F_TABLE },
	{ "check_recipient_access", CHK_RECIPIENT_ACCESS, CHECK_F_TABLE },
	{ "check_etrn_access", CHK_ETRN_ACCESS, CHECK_F_TABLE },
	{ "reject_unknown_client_hostname", CHK_UNKNOWN_CLIENT, 0 },
	{ "reject_unknown_client", CHK_UNKNOWN_CLIENT, 0 },
	{ "reject_unknown_reverse_client_hostname",
	    CHK_UNKNOWN_REVERSE_CLIENT, 0 },
	{ "reject_invalid_helo_hostname", CHK_INVALID_HELO, 0 },
	{ "reject_invalid_hostname", CHK_INVALID_HELO, 0 },
	{ "reject_non_fqdn_helo_hostname", CHK_NON_FQDN_HELO, 0 },
	{ "reject_non_fqdn_hostname", CHK_NON_FQDN_HELO, 0 },
	{ "reject_unknown_helo_hostname", CHK_UNKNOWN_HELO, 0 },
	{ "reject_unknown_hostname", CHK_UNKNOWN_HELO, 0 },
	{ "reject_non_fqdn_sender", CHK_NON_FQDN_SENDER, 0 },
	{ "reject_non_fqdn_recipient", CHK_NON_FQDN_RECIPIENT, 0 },
	{ "reject_unknown_sender_domain", CHK_UNKNOWN_SENDER_DOMAIN, 0 },
	{ "reject_unknown_recipient_domain", CHK_UNKNOWN_RECIPIENT_DOMAIN, 0 },
	{ "reject_unlisted_sender", CHK_UNLISTED_SENDER, 0 },
	{ "reject_unlisted_recipient", CHK_UNLISTED_RECIPIENT, 0 },
	{ "check_recipient_maps", CHK_UNLISTED_RECIPIENT, 0 },
	{ "reject_unauth_destination", CHK_UNAUTH_DESTINATION, CHECK_F_RELAY },
	{ "defer_unauth_destination", CHK_DEFER_UNAUTH_DESTINATION,
	    CHECK_F_RELAY },
	{ "permit_auth_destination", CHK_PERMIT_AUTH_DESTINATION, 0 },
	{ "reject_multi_recipient_bounce", CHK_MULTI_RECIPIENT_BOUNCE, 0 },
	{ "reject_rbl_client", CHK_RBL_CLIENT, CHECK_F_DNSXL },
	{ "reject_rhsbl_client", CHK_RHSBL_CLIENT, CHECK_F_DNSXL },
	{ "reject_rhsbl_reverse_client", CHK_RHSBL_REVERSE_CLIENT,
	    CHECK_F_DNSXL },
	{ "reject_rhsbl_helo", CHK_RHSBL_HELO, CHECK_F_DNSXL },
	{ "reject_rhsbl_sender", CHK_RHSBL_SENDER, CHECK_F_DNSXL },
	{ "reject_rhsbl_recipient", CHK_RHSBL_RECIPIENT, CHECK_F_DNSXL },
	{ "permit_dnswl_client", CHK_DNSWL_CLIENT, CHECK_F_DNSXL },
	{ "check_policy_service", CHK_POLICY_SERVICE, CHECK_F_POLICY },
};

const struct check_def *
check_def_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(check_defs) / sizeof(check_defs[0]); i++)
		if (strcasecmp(check_defs[i].name, name) == 0)
			return &check_defs[i];
	return NULL;
}

/* ---- DNS list arguments -------------------------------------------------- */

static void
dnsxl_allow(uint8_t *map, unsigned lo, unsigned hi)
{
	for (unsigned v = lo; v <= hi; v++)
		map[v / 8] |= (uint8_t)(1u << (v % 8));
}

/* A decimal 0..255 at *cp; advances it. -1 when there is none. */
static int
dnsxl_number(const char **cp)
{
	unsigned v = 0;
	int n = 0;

	while (isdigit((unsigned char)**cp) && n < 4) {
		v = v * 10 + (unsigned)(**cp - '0');
		(*cp)++;
		n++;
	}
	if (n == 0 || n > 3 || v > 255)
		return -1;
	return (int)v;
}

/* One filter octet: "n" or "[n;n..m;...]". false when malformed. */
static bool
dnsxl_octet(const char **cp, uint8_t *map)
{
	int lo, hi;

	if (**cp != '[') {
		if ((lo = dnsxl_number(cp)) < 0)
			return false;
		dnsxl_allow(map, (unsigned)lo, (unsigned)lo);
		return true;
	}
	(*cp)++;
	for (;;) {
		if ((lo = dnsxl_number(cp)) < 0)
			return false;
		hi = lo;
		if ((*cp)[0] == '.' && (*cp)[1] == '.') {
			*cp += 2;
			if ((hi = dnsxl_number(cp)) < 0 || hi < lo)
				return false;
		}
		dnsxl_allow(map, (unsigned)lo, (unsigned)hi);
		if (**cp == ';') {
			(*cp)++;
			continue;
		}
		if (**cp != ']')
			return false;
		(*cp)++;
		return true;
	}
}

struct check_dnsxl *
check_dnsxl_parse(const char *arg, struct buf *why)
{
	struct check_dnsxl *x = xcalloc(1, sizeof(*x));
	const char *eq = strchr(arg, '=');
	const char *cp;
	struct buf dwhy;
	int i;

	x->arg = xstrdup(arg);
	x->domain = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
	buf_init(&dwhy, 64);
	if (!dns_name_valid(x->domain, &dwhy)) {
		buf_printf(why, "bad DNS list domain \"%s\": %s", x->domain,
		    dwhy.data);
		buf_fini(&dwhy);
		check_dnsxl_free(x);
		return NULL;
	}
	buf_fini(&dwhy);
	if (eq == NULL)
		return x;
	x->filtered = true;
	cp = eq + 1;
	for (i = 0; i < 4; i++) {
		if (!dnsxl_octet(&cp, x->allow[i])
		    || *cp != (i < 3 ? '.' : 0)) {
			buf_printf(why, "bad DNS list filter \"%s\" (expected "
			    "d.d.d.d, each d a number or [n;n..m])", eq + 1);
			check_dnsxl_free(x);
			return NULL;
		}
		if (i < 3)
			cp++;
	}
	return x;
}

void
check_dnsxl_free(struct check_dnsxl *x)
{
	if (x == NULL)
		return;
	free(x->arg);
	free(x->domain);
	free(x);
}

bool
check_dnsxl_match(const struct check_dnsxl *x, const char *a)
{
	unsigned char b[4];

	if (inet_pton(AF_INET, a, b) != 1)
		return false;
	if (!x->filtered)
		return true;
	for (int i = 0; i < 4; i++)
		if (!(x->allow[i][b[i] / 8] & (1u << (b[i] % 8))))
			return false;
	return true;
}

bool
check_dnsxl_addr_query(struct buf *out, const char *addr, const char *domain)
{
	unsigned char a[16];
	static const char hex[] = "0123456789abcdef";

	buf_reset(out);
	if (inet_pton(AF_INET, addr, a) == 1) {
		buf_printf(out, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0],
		    domain);
		return true;
	}
	if (inet_pton(AF_INET6, addr, a) == 1) {
		for (int i = 15; i >= 0; i--) {
			buf_putc(out, hex[a[i] & 0xf]);
			buf_putc(out, '.');
			buf_putc(out, hex[a[i] >> 4]);
			buf_putc(out, '.');
		}
		buf_puts(out, domain);
		return true;
	}
	return false;
}

/* ---- restriction lists --------------------------------------------------- */

static void
check_list_add(struct check_list *l, const struct check_item *item)
{
	l->items = xreallocarray(l->items, l->count + 1, sizeof(*l->items));
	l->items[l->count++] = *item;
}

/* The argument of def (the next word); false with why set. */
static bool
check_parse_arg(const struct check_def *def, const char **cp,
    struct check_item *item, const struct check_parser *p, struct buf *why)
{
	struct buf arg, twhy;
	bool ok = false;

	buf_init(&arg, 64);
	if ((*cp = str_token_braced(*cp, CHECK_SEPS, &arg)) == NULL) {
		*cp = "";
		buf_printf(why, "restriction %s needs %s", def->name,
		    (def->flags & CHECK_F_TABLE) ? "a table (type:name)" :
		    (def->flags & CHECK_F_POLICY) ? "a policy server "
		    "(inet:host:port or unix:pathname)" : "a DNS list domain");
		goto out;
	}
	if (def->flags & CHECK_F_POLICY) {
		buf_init(&twhy, 64);
		if (p->policy_find == NULL)
			buf_set(&twhy, "policy servers are not available here");
		else
			item->policy = p->policy_find(p->ctx, arg.data, &twhy);
		if (item->policy == NULL)
			buf_printf(why, "restriction %s: %s", def->name,
			    twhy.data);
		buf_fini(&twhy);
		ok = item->policy != NULL;
		goto out;
	}
	if (def->flags & CHECK_F_DNSXL) {
		buf_init(&twhy, 64);
		item->dnsxl = check_dnsxl_parse(arg.data, &twhy);
		if (item->dnsxl == NULL)
			buf_printf(why, "restriction %s: %s", def->name,
			    twhy.data);
		buf_fini(&twhy);
		ok = item->dnsxl != NULL;
		goto out;
	}
	if (strchr(arg.data, ':') == NULL || arg.data[0] == ':') {
		buf_printf(why, "restriction %s: bad table name \"%s\" "
		    "(expected type:name)", def->name, arg.data);
		goto out;
	}
	buf_init(&twhy, 64);
	item->table = p->table_find(p->ctx, arg.data, &twhy);
	if (item->table == NULL)
		buf_printf(why, "restriction %s %s: %s", def->name, arg.data,
		    twhy.data);
	else
		item->table_name = xstrdup(arg.data);
	buf_fini(&twhy);
	ok = item->table != NULL;
out:
	buf_fini(&arg);
	return ok;
}

struct check_list *
check_list_parse(const char *name, const char *value,
    const struct check_parser *p, struct buf *why)
{
	struct check_list *l = xcalloc(1, sizeof(*l));
	struct check_item item;
	struct buf word;
	const char *cp = value;

	l->name = xstrdup(name);
	buf_init(&word, 64);
	while ((cp = str_token_braced(cp, CHECK_SEPS, &word)) != NULL) {
		memset(&item, 0, sizeof(item));
		if ((item.def = check_def_find(word.data)) == NULL) {
			item.cls = p->class_find ?
			    p->class_find(p->ctx, word.data) : NULL;
			if (item.cls == NULL) {
				buf_printf(why, "unknown restriction \"%s\"",
				    word.data);
				goto bad;
			}
		} else if (item.def->flags & (CHECK_F_TABLE | CHECK_F_DNSXL
		    | CHECK_F_POLICY)) {
			if (!check_parse_arg(item.def, &cp, &item, p, why))
				goto bad;
		}
		check_list_add(l, &item);
	}
	buf_fini(&word);
	return l;
bad:
	buf_fini(&word);
	check_list_free(l);
	return NULL;
}

void
check_list_free(struct check_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->count; i++) {
		check_dnsxl_free(l->items[i].dnsxl);
		free(l->items[i].table_name);
		/* Tables and policy servers belong to their registries. */
	}
	free(l->items);
	free(l->name);
	free(l);
}

/* Depth-limited: classes may name each other. */
static int
check_protects(const struct check_list *l, int depth)
{
	int rc;

	if (depth > 20)
		return 0;
	for (size_t i = 0; i < l->count; i++) {
		const struct check_item *it = &l->items[i];

		if (it->def == NULL) {
			if ((rc = check_protects(it->cls, depth + 1)) != 0)
				return rc;
			continue;
		}
		if (it->def->flags & CHECK_F_RELAY)
			return 1;
		if (it->def->id == CHK_PERMIT)
			return -1;	/* nothing after it runs */
	}
	return 0;
}

bool
check_list_protects(const struct check_list *l)
{
	return l != NULL && check_protects(l, 0) > 0;
}

/* ---- access(5) results --------------------------------------------------- */

static const struct {
	const char *word;
	enum check_access_action action;
} check_access_words[] = {
	{ "OK", ACCESS_OK },
	{ "REJECT", ACCESS_REJECT },
	{ "DEFER", ACCESS_DEFER },
	{ "DEFER_IF_REJECT", ACCESS_DEFER_IF_REJECT },
	{ "DEFER_IF_PERMIT", ACCESS_DEFER_IF_PERMIT },
	{ "DISCARD", ACCESS_DISCARD },
	{ "HOLD", ACCESS_HOLD },
	{ "REDIRECT", ACCESS_REDIRECT },
	{ "PREPEND", ACCESS_PREPEND },
	{ "WARN", ACCESS_WARN },
	{ "INFO", ACCESS_INFO },
	{ "DUNNO", ACCESS_DUNNO },
	{ "FILTER", ACCESS_FILTER },
	{ "BCC", ACCESS_BCC },
};

void
check_access_parse(const char *value, struct check_access *out)
{
	size_t n, i;
	const char *rest;

	value += strspn(value, " \t");
	n = strcspn(value, " \t");
	rest = value + n;
	rest += strspn(rest, " \t");
	out->code = 0;
	out->text = rest;
	if (n == 0) {			/* an empty result: no restriction */
		out->action = ACCESS_DUNNO;
		return;
	}
	if (strspn(value, "0123456789") == strlen(value)) {
		out->action = ACCESS_OK;	/* all digits: OK (access(5)) */
		return;
	}
	for (i = 0; i < sizeof(check_access_words) /
	    sizeof(check_access_words[0]); i++) {
		if (strlen(check_access_words[i].word) == n
		    && strncasecmp(value, check_access_words[i].word, n) == 0) {
			out->action = check_access_words[i].action;
			return;
		}
	}
	if (n == 3 && strspn(value, "0123456789") == 3) {
		out->code = (value[0] - '0') * 100 + (value[1] - '0') * 10
		    + (value[2] - '0');
		out->action = (out->code >= 400 && out->code <= 599) ?
		    ACCESS_CODE : ACCESS_BAD;
		return;
	}
	out->action = ACCESS_RESTRICTIONS;
	out->text = value;
}

/* ---- replies ------------------------------------------------------------- */

size_t
check_dsn_len(const char *text)
{
	const char *cp = text;
	size_t n;

	if (*cp != '2' && *cp != '4' && *cp != '5')
		return 0;
	cp++;
	for (int part = 0; part < 2; part++) {
		if (*cp++ != '.')
			return 0;
		n = strspn(cp, "0123456789");
		if (n < 1 || n > 3)
			return 0;
		cp += n;
	}
	if (*cp != 0 && *cp != ' ')
		return 0;
	return (size_t)(cp - text);
}

/*
 * The detail of an address status (X.1.D) for what is refused: a sender
 * gets sender codes, a recipient recipient codes (RFC 3463 section 3.2).
 */
static const char *
check_dsn_detail(enum check_kind kind, const char *detail)
{
	/* index: the detail 0..8 */
	static const char *const sender[] = {
		"0", "0", "8", "7", "0", "0", "0", "7", "8",
	};
	static const char *const recipient[] = {
		"0", "1", "2", "3", "4", "5", "6", "3", "2",
	};

	if (detail[0] < '0' || detail[0] > '8' || detail[1] != 0)
		return detail;
	if (kind == CHECK_KIND_SENDER)
		return sender[detail[0] - '0'];
	return recipient[detail[0] - '0'];
}

/* The enhanced code for a reply: class from code, detail from kind. */
static void
check_dsn_fix(struct buf *out, int code, const char *dsn, size_t len,
    enum check_kind kind)
{
	char *copy = xstrndup(dsn, len);
	char *dot1, *dot2;
	const char *subject, *detail;

	dot1 = strchr(copy, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL) {	/* not a DSN: default */
		buf_printf(out, "%d.0.0", code / 100);
		free(copy);
		return;
	}
	*dot1 = *dot2 = 0;
	subject = dot1 + 1;
	detail = dot2 + 1;
	if (strcmp(subject, "1") == 0) {
		if (kind == CHECK_KIND_OTHER)
			subject = detail = "0";
		else
			detail = check_dsn_detail(kind, detail);
	}
	buf_printf(out, "%d.%s.%s", code / 100, subject, detail);
	free(copy);
}

void
check_reply_format(struct buf *out, int code, const char *dsn,
    enum check_kind kind, const char *text)
{
	size_t n = check_dsn_len(text);

	buf_printf(out, "%d ", code);
	if (n > 0) {
		check_dsn_fix(out, code, text, n, kind);
		text += n;
		text += strspn(text, " ");
	} else {
		check_dsn_fix(out, code, dsn, strlen(dsn), kind);
	}
	buf_putc(out, ' ');
	buf_puts(out, text);
}

bool
check_reply_fix(struct buf *out, const char *reply, const char *dsn,
    enum check_kind kind)
{
	int code;

	if (strspn(reply, "0123456789") != 3
	    || (reply[3] != ' ' && reply[3] != 0))
		return false;
	code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + reply[2] - '0';
	if (code < 400 || code > 599)
		return false;
	reply += 3;
	reply += strspn(reply, " ");
	check_reply_format(out, code, dsn, kind, reply);
	return true;
}

/* ---- templates ----------------------------------------------------------- */

#define CHECK_EXPAND_DEPTH	10
#define CHECK_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

struct check_exp {
	check_lookup_fn lookup;
	void *ctx;
	struct buf *why;
};

static bool check_expand_seg(struct buf *out, const char *cp, const char *end,
    const struct check_exp *x, int depth);

/* Where the bracket that opens at open closes, or NULL. */
static const char *
check_match(const char *open, const char *end)
{
	char o = *open, c = (o == '{') ? '}' : ')';
	int depth = 0;

	for (const char *cp = open; cp < end; cp++) {
		if (*cp == o)
			depth++;
		else if (*cp == c && --depth == 0)
			return cp;
	}
	return NULL;
}

static const char *
check_exp_value(const char *name, size_t len, const struct check_exp *x)
{
	char *copy = xstrndup(name, len);
	const char *value = x->lookup(x->ctx, copy);

	if (value == NULL)
		buf_printf(x->why, "unknown attribute $%s", copy);
	free(copy);
	return value;
}

/* "name", "name?text", "name:{text}", "name?{t1}:{t2}" inside ${...}. */
static bool
check_expand_braced(struct buf *out, const char *cp, const char *end,
    const struct check_exp *x, int depth)
{
	size_t n = strspn(cp, CHECK_NAME_CHARS);
	const char *value, *t1, *e1, *t2 = NULL, *e2 = NULL;
	char op;

	if (n == 0 || cp + n > end) {
		buf_set(x->why, "missing attribute name after \"${\"");
		return false;
	}
	if ((value = check_exp_value(cp, n, x)) == NULL)
		return false;
	cp += n;
	if (cp == end) {
		buf_puts(out, value);
		return true;
	}
	op = *cp++;
	if (op != '?' && op != ':') {
		buf_printf(x->why, "bad character '%c' after attribute name",
		    op);
		return false;
	}
	t1 = cp, e1 = end;
	if (cp < end && *cp == '{') {
		if ((e1 = check_match(cp, end)) == NULL)
			goto unbalanced;
		t1 = cp + 1;
		cp = e1 + 1;
		if (cp < end && op == '?' && *cp == ':' && cp + 1 < end
		    && cp[1] == '{') {
			if ((e2 = check_match(cp + 1, end)) == NULL)
				goto unbalanced;
			t2 = cp + 2;
			cp = e2 + 1;
		}
		if (cp != end) {
			buf_set(x->why, "text after \"}\" in a conditional");
			return false;
		}
	}
	if (op == '?' && *value != 0)
		return check_expand_seg(out, t1, e1, x, depth + 1);
	if (op == '?' && t2 != NULL)
		return check_expand_seg(out, t2, e2, x, depth + 1);
	if (op == ':' && *value == 0)
		return check_expand_seg(out, t1, e1, x, depth + 1);
	return true;
unbalanced:
	buf_set(x->why, "unbalanced \"{\"");
	return false;
}

static bool
check_expand_seg(struct buf *out, const char *cp, const char *end,
    const struct check_exp *x, int depth)
{
	const char *close, *value;
	size_t n;

	if (depth > CHECK_EXPAND_DEPTH) {
		buf_set(x->why, "conditionals nested too deeply");
		return false;
	}
	while (cp < end) {
		if (*cp != '$') {
			n = strcspn(cp, "$");
			if (n > (size_t)(end - cp))
				n = (size_t)(end - cp);
			buf_append(out, cp, n);
			cp += n;
			continue;
		}
		if (++cp == end) {
			buf_set(x->why, "\"$\" at the end");
			return false;
		}
		if (*cp == '$') {
			buf_putc(out, '$');
			cp++;
		} else if (*cp == '{' || *cp == '(') {
			if ((close = check_match(cp, end)) == NULL) {
				buf_printf(x->why, "unbalanced \"%c\"", *cp);
				return false;
			}
			if (!check_expand_braced(out, cp + 1, close, x, depth))
				return false;
			cp = close + 1;
		} else {
			n = strspn(cp, CHECK_NAME_CHARS);
			if (n > (size_t)(end - cp))
				n = (size_t)(end - cp);
			if (n == 0) {
				buf_printf(x->why, "bad character '%c' after "
				    "\"$\"", *cp);
				return false;
			}
			if ((value = check_exp_value(cp, n, x)) == NULL)
				return false;
			buf_puts(out, value);
			cp += n;
		}
	}
	return true;
}

bool
check_expand(struct buf *out, const char *tmpl, check_lookup_fn lookup,
    void *ctx, struct buf *why)
{
	struct check_exp x = { lookup, ctx, why };

	return check_expand_seg(out, tmpl, tmpl + strlen(tmpl), &x, 0);
}

/* ---- lookup keys --------------------------------------------------------- */

void
check_domain_keys(struct argv *keys, const char *name, bool parent_matches)
{
	const char *cp = name, *dot;

	if (*name == 0)
		return;
	argv_add(keys, name);
	if (*name == '[')
		return;
	while ((dot = strchr(cp, '.')) != NULL && dot[1] != 0) {
		argv_add(keys, parent_matches ? dot + 1 : dot);
		cp = dot + 1;
	}
}

void
check_addr_keys(struct argv *keys, const char *addr)
{
	char delim = strchr(addr, ':') ? ':' : '.';
	char *copy, *cp;

	if (*addr == 0)
		return;
	argv_add(keys, addr);
	copy = xstrdup(addr);
	while ((cp = strrchr(copy, delim)) != NULL) {
		*cp = 0;
		if (*copy == 0)
			break;
		if (cp[-1] == ':')	/* "2001:db8:" of "2001:db8::1" */
			continue;
		argv_add(keys, copy);
	}
	free(copy);
}

void
check_mail_keys(struct argv *keys, const char *addr, bool parent_matches)
{
	size_t len = strlen(addr), at = mail_addr_find_at(addr, len);
	struct buf bare, ext, local;
	bool split;

	buf_init(&bare, 64);
	buf_init(&ext, 16);
	buf_init(&local, 64);
	split = mail_addr_split_ext(addr, &bare, &ext);
	argv_add(keys, addr);
	if (split)
		argv_add(keys, bare.data);
	if (at < len)
		check_domain_keys(keys, addr + at + 1, parent_matches);
	buf_setn(&local, addr, at);
	buf_putc(&local, '@');
	argv_add(keys, local.data);
	if (split) {
		buf_setn(&local, bare.data, mail_addr_find_at(bare.data,
		    bare.len));
		buf_putc(&local, '@');
		argv_add(keys, local.data);
	}
	buf_fini(&bare);
	buf_fini(&ext);
	buf_fini(&local);
}

bool
check_table_is_pattern(const char *table_name)
{
	static const char *const types[] = {
		"regexp:", "pcre:", "cidr:", "tcp:", "socketmap:",
	};

	while (strncasecmp(table_name, "proxy:", 6) == 0)
		table_name += 6;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncasecmp(table_name, types[i], strlen(types[i])) == 0)
			return true;
	return false;
}

/* ---- names --------------------------------------------------------------- */

bool
check_addr_literal(const char *name)
{
	size_t len = strlen(name);
	unsigned char a[16];
	char *inner;
	bool ok;

	if (len < 3 || name[0] != '[' || name[len - 1] != ']')
		return false;
	inner = xstrndup(name + 1, len - 2);
	if (strncasecmp(inner, "IPv6:", 5) == 0)
		ok = inet_pton(AF_INET6, inner + 5, a) == 1;
	else
		ok = inet_pton(AF_INET, inner, a) == 1;
	free(inner);
	return ok;
}

/*
 * A host name: labels of letters, digits, '-' (not first or last) and
 * '_'; the last label not all digits (that is an address, RFC 1123 2.1).
 */
static bool
check_hostname_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	bool alpha = false;		/* in the current label */

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : '.';

		if (c == '.') {
			if (label == 0 || label > DNS_LABEL_MAX
			    || name[i - 1] == '-')
				return false;
			if (i == len)
				return alpha;
			label = 0;
			alpha = false;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!isdigit(c))
			alpha = true;
		label++;
	}
	return false;			/* not reached: the loop ends at '.' */
}

bool
check_helo_valid(const char *name)
{
	unsigned char a[16];

	if (*name == '[')
		return check_addr_literal(name);
	/* A bare address is what some clients send; it is not malformed. */
	if (inet_pton(AF_INET, name, a) == 1)
		return true;
	return check_hostname_valid(name);
}

bool
check_name_fqdn(const char *name)
{
	size_t len = strlen(name);
	const char *dot;

	if (*name == '[')
		return check_addr_literal(name);
	if (!check_helo_valid(name))
		return false;
	if (len > 0 && name[len - 1] == '.')
		len--;
	dot = memchr(name, '.', len);
	return dot != NULL;
}
