/*
 * match_list.c - domain lists and client (host/address) lists
 *
 * A list is parsed once (at start, before privileges drop, as it may
 * open tables and read files) into an array of entries, each a name, a
 * ".parent", a network or a table, possibly negated; /file patterns are
 * expanded in place. Matching walks the array; the first entry that
 * matches decides. match_list_mynetworks() computes the default of
 * mynetworks from the interfaces. The semantics are in match_list.h.
 *
 * SECURITY: names and addresses from the network are compared as text
 * (lowercased copies), looked up in tables, or converted by inet_pton(3)
 * into fixed-size binary addresses (inet_prefix.h); nothing from the
 * network is ever parsed as a pattern.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "dict.h"
#include "inet_prefix.h"
#include "lline.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

#include "match_list.h"

#define ML_SEPS		", \t\r\n"
#define ML_MAX_DEPTH	8		/* /file naming /file ... */

enum ml_kind {
	ML_NAME,			/* text: a lowercase name */
	ML_PARENT,			/* text: ".parent", lowercase */
	ML_NET,				/* net */
	ML_TABLE,			/* dict */
};

struct ml_entry {
	enum ml_kind kind;
	bool negate;
	char *text;
	struct dict *dict;
	struct inet_prefix net;
};

struct match_list {
	char *param;
	bool clients;			/* addresses are patterns */
	struct ml_entry *v;
	size_t n;
	size_t cap;
};

/* A client address, binary (IPv4-mapped ones in both forms). */
struct ml_addr {
	struct inet_prefix_addr bin;
	char v4text[INET_ADDRSTRLEN];	/* the IPv4 form of a mapped one */
};

/* Where a pattern came from, for messages. */
struct ml_origin {
	const char *file;		/* NULL: the parameter value */
	int line;
};

static int ml_parse_value(struct match_list *l, const char *value,
    bool negate, const struct ml_origin *o, int depth, struct buf *why);

static void
ml_error(const struct match_list *l, const struct ml_origin *o,
    const char *pattern, struct buf *why, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* why = "param[, file, line n]: \"pattern\": problem" */
static void
ml_error(const struct match_list *l, const struct ml_origin *o,
    const char *pattern, struct buf *why, const char *fmt, ...)
{
	va_list ap;

	buf_reset(why);
	buf_puts(why, l->param);
	if (o->file != NULL)
		buf_printf(why, ", %s, line %d", o->file, o->line);
	buf_puts(why, ": \"");
	str_printable(why, pattern, strlen(pattern));
	buf_puts(why, "\": ");
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
}

/* A printable copy of text in tmp (replaced), for messages. */
static const char *
ml_printable(struct buf *tmp, const char *text)
{
	buf_reset(tmp);
	str_printable(tmp, text, strlen(text));
	return tmp->data;
}

static struct ml_entry *
ml_add(struct match_list *l, enum ml_kind kind, bool negate)
{
	struct ml_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->negate = negate;
	return e;
}

/*
 * Is a client list pattern meant as an address or network? "[...]";
 * digits and dots, or an IPv6 address, before any '/'; or a '/' without
 * a ':' (which would make it a table such as cidr:/etc/x).
 */
static bool
ml_is_net(const char *text)
{
	struct buf addr;
	unsigned char bin[16];
	size_t len = strcspn(text, "/");
	bool net;

	if (*text == '[')
		return true;
	if (len > 0 && strspn(text, "0123456789.") == len)
		return true;
	if (text[len] == '/' && memchr(text, ':', len) == NULL)
		return true;
	buf_init(&addr, len + 1);
	buf_setn(&addr, text, len);
	net = inet_pton(AF_INET6, addr.data, bin) == 1;
	buf_fini(&addr);
	return net;
}

/*
 * A network pattern: "addr", "addr/len", "[addr]" or "[addr]/len"
 * (IPv4 or IPv6). 0, or -1 with why set.
 */
static int
ml_parse_net(struct match_list *l, const char *pattern, bool negate,
    const struct ml_origin *o, struct buf *why)
{
	struct inet_prefix net;
	struct buf part, tmp;
	int rc = -1;

	buf_init(&part, 64);
	buf_init(&tmp, 64);
	switch (inet_prefix_parse(pattern, &net, &part)) {
	case INET_PREFIX_OK:
		ml_add(l, ML_NET, negate)->net = net;
		rc = 0;
		break;
	case INET_PREFIX_NO_CLOSE:
		ml_error(l, o, pattern, why, "missing \"]\"");
		break;
	case INET_PREFIX_AFTER_CLOSE:
		ml_error(l, o, pattern, why, "text after \"]\"");
		break;
	case INET_PREFIX_BAD_ADDR:
		ml_error(l, o, pattern, why, "bad IP address \"%s\"",
		    ml_printable(&tmp, part.data));
		break;
	case INET_PREFIX_BAD_LEN:
		ml_error(l, o, pattern, why, "bad prefix length \"%s\" "
		    "(expected 0..%d)", ml_printable(&tmp, part.data),
		    inet_prefix_bits(net.family));
		break;
	case INET_PREFIX_HOST_BITS:
		inet_prefix_text(&tmp, &net, INET_PREFIX_BRACKETS);
		ml_error(l, o, pattern, why, "host bits set after the prefix "
		    "length (the network is \"%s\")", tmp.data);
		break;
	}
	buf_fini(&part);
	buf_fini(&tmp);
	return rc;
}

/* "/file": its patterns, in place. 0, or -1 with why set. */
static int
ml_parse_file(struct match_list *l, const char *path, bool negate,
    const struct ml_origin *o, int depth, struct buf *why)
{
	struct lline_reader *r;
	struct ml_origin inner = {.file = path};
	struct buf line, err;
	FILE *fp;
	int got, rc = -1;

	if (depth >= ML_MAX_DEPTH) {
		ml_error(l, o, path, why, "files nested more than %d deep",
		    ML_MAX_DEPTH);
		return -1;
	}
	if ((fp = fopen(path, "re")) == NULL) {
		ml_error(l, o, path, why, "cannot open: %m");
		return -1;
	}
	buf_init(&line, 256);
	buf_init(&err, 64);
	r = lline_open(fp, path);
	while ((got = lline_next(r, &line, &inner.line, &err)) > 0)
		if (ml_parse_value(l, line.data, negate, &inner, depth + 1,
		    why) < 0)
			goto out;
	if (got < 0) {
		buf_reset(why);
		buf_printf(why, "%s: %s", l->param, err.data);
		goto out;
	}
	if (ferror(fp)) {
		ml_error(l, o, path, why, "read error: %m");
		goto out;
	}
	rc = 0;
out:
	lline_close(r);
	(void)fclose(fp);		/* read only: nothing to lose */
	buf_fini(&line);
	buf_fini(&err);
	return rc;
}

/* One pattern (a token of a value). 0, or -1 with why set. */
static int
ml_parse_pattern(struct match_list *l, const char *token, bool negate,
    const struct ml_origin *o, int depth, struct buf *why)
{
	const char *text = token;
	struct ml_entry *e;

	for (; *text == '!'; text++)
		negate = !negate;
	if (*text == 0) {
		ml_error(l, o, token, why, "empty pattern");
		return -1;
	}
	if (*text == '/')
		return ml_parse_file(l, text, negate, o, depth, why);
	if (l->clients && ml_is_net(text))
		return ml_parse_net(l, text, negate, o, why);
	if (*text != '[' && strchr(text, ':') != NULL) {
		e = ml_add(l, ML_TABLE, negate);
		e->dict = dict_open(text, O_RDONLY, DICT_FLAG_FOLD);
		return 0;
	}
	if (strcmp(text, ".") == 0) {
		ml_error(l, o, token, why, "empty parent domain");
		return -1;
	}
	e = ml_add(l, *text == '.' ? ML_PARENT : ML_NAME, negate);
	e->text = str_lower(xstrdup(text));
	return 0;
}

static int
ml_parse_value(struct match_list *l, const char *value, bool negate,
    const struct ml_origin *o, int depth, struct buf *why)
{
	struct buf tok;
	const char *cp = value;
	int rc = 0;

	buf_init(&tok, 64);
	while (rc == 0 && (cp = str_token_braced(cp, ML_SEPS, &tok)) != NULL)
		rc = ml_parse_pattern(l, tok.data, negate, o, depth, why);
	buf_fini(&tok);
	return rc;
}

static struct match_list *
ml_new(const char *param, const char *value, bool clients, struct buf *why)
{
	struct match_list *l = xcalloc(1, sizeof(*l));
	struct ml_origin o = {.file = NULL};

	l->param = xstrdup(param);
	l->clients = clients;
	if (ml_parse_value(l, value, false, &o, 0, why) < 0) {
		match_list_free(l);
		return NULL;
	}
	return l;
}

struct match_list *
match_list_domains(const char *param, const char *value, struct buf *why)
{
	return ml_new(param, value, false, why);
}

struct match_list *
match_list_clients(const char *param, const char *value, struct buf *why)
{
	return ml_new(param, value, true, why);
}

void
match_list_free(struct match_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].text);
		dict_close(l->v[i].dict);
	}
	free(l->v);
	free(l->param);
	free(l);
}

/* One table lookup: 1 found, 0 not, -1 failed (why set). */
static int
ml_lookup(const struct match_list *l, struct dict *d, const char *key,
    struct buf *value, struct buf *why)
{
	switch (dict_lookup(d, key, value)) {
	case DICT_FOUND:
		return 1;
	case DICT_NOTFOUND:
		return 0;
	default:
		buf_reset(why);
		buf_printf(why, "%s: %s", l->param, dict_error(d));
		return -1;
	}
}

/* A table: name, then ".parent" for each parent (not for "[...]"). */
static int
ml_table_name(const struct match_list *l, struct dict *d, const char *name,
    struct buf *value, struct buf *why)
{
	const char *dot;
	int rc;

	rc = ml_lookup(l, d, name, value, why);
	for (dot = strchr(name, '.'); rc == 0 && *name != '['
	    && dot != NULL; dot = strchr(dot + 1, '.'))
		rc = ml_lookup(l, d, dot, value, why);
	return rc;
}

/* Does a name or .parent pattern match the lowercase name? */
static bool
ml_name_match(const struct ml_entry *e, const char *name)
{
	size_t plen, nlen;

	if (e->kind == ML_NAME)
		return strcmp(e->text, name) == 0;
	plen = strlen(e->text);
	nlen = strlen(name);
	return nlen > plen && strcmp(name + nlen - plen, e->text) == 0;
}

/*
 * The common walk: name (lowercase, NULL for none), addr (text, NULL for
 * none) and its binary forms.
 */
static int
ml_match(const struct match_list *l, const char *name, const char *addr,
    const struct ml_addr *a, struct buf *why)
{
	const struct ml_entry *e = NULL;
	struct buf value;
	size_t i;
	int rc = 0;

	buf_init(&value, 64);
	for (i = 0; i < l->n; i++) {
		e = &l->v[i];
		switch (e->kind) {
		case ML_NAME:
		case ML_PARENT:
			rc = name != NULL && ml_name_match(e, name);
			break;
		case ML_NET:
			rc = a != NULL
			    && inet_prefix_match(&e->net, &a->bin) > 0;
			break;
		case ML_TABLE:
			rc = 0;
			if (name != NULL)
				rc = ml_table_name(l, e->dict, name, &value,
				    why);
			if (rc == 0 && addr != NULL)
				rc = ml_lookup(l, e->dict, addr, &value, why);
			if (rc == 0 && a != NULL && a->v4text[0] != 0)
				rc = ml_lookup(l, e->dict, a->v4text, &value,
				    why);
			break;
		}
		if (rc != 0)
			break;
	}
	buf_fini(&value);
	if (rc < 0)
		return -1;
	return rc > 0 && e != NULL && !e->negate;
}

int
match_list_domain(const struct match_list *l, const char *domain,
    struct buf *why)
{
	char *lower = str_lower(xstrdup(domain));
	int rc;

	rc = ml_match(l, lower, NULL, NULL, why);
	free(lower);
	return rc;
}

/* Parse addr ("%zone" ignored); false when it is no IP address. */
static bool
ml_addr_parse(const char *text, struct ml_addr *a, struct buf *scratch)
{
	memset(a, 0, sizeof(*a));
	buf_setn(scratch, text, strcspn(text, "%"));
	if (!inet_prefix_addr_parse(scratch->data, &a->bin))
		return false;
	if (a->bin.has4 && a->bin.has6 && inet_ntop(AF_INET, a->bin.a4,
	    a->v4text, sizeof(a->v4text)) == NULL)
		msg_panic("ml_addr_parse: inet_ntop: %m");
	return true;
}

int
match_list_client(const struct match_list *l, const char *name,
    const char *addr, struct buf *why)
{
	struct ml_addr a;
	struct buf scratch;
	char *lower = NULL;
	bool have_addr;
	int rc;

	if (name != NULL && *name != 0 && strcasecmp(name, "unknown") != 0)
		lower = str_lower(xstrdup(name));
	buf_init(&scratch, 64);
	have_addr = addr != NULL && ml_addr_parse(addr, &a, &scratch);
	rc = ml_match(l, lower, addr != NULL && *addr != 0 ? addr : NULL,
	    have_addr ? &a : NULL, why);
	buf_fini(&scratch);
	free(lower);
	return rc;
}

/* ---- the default of mynetworks ------------------------------------------ */

enum ml_style {
	ML_STYLE_HOST,
	ML_STYLE_SUBNET,
	ML_STYLE_CLASS,
};

/* The class A, B or C prefix of an IPv4 address (32: D and E). */
static int
ml_class_prefix(const unsigned char *a4)
{
	if (a4[0] < 128)
		return 8;
	if (a4[0] < 192)
		return 16;
	if (a4[0] < 224)
		return 24;
	return 32;
}

/* Append "net/len" to out unless it is there already. */
static void
ml_add_net(struct buf *out, int family, const unsigned char *addr,
    int prefix)
{
	struct inet_prefix net = {.family = family, .prefix = prefix};
	struct buf text;
	const char *cp;
	size_t len;

	memcpy(net.net, addr, inet_prefix_addr_len(family));
	inet_prefix_mask(&net);
	buf_init(&text, 64);
	inet_prefix_text(&text, &net, INET_PREFIX_BRACKETS);
	len = text.len;
	for (cp = out->data; (cp = strstr(cp, text.data)) != NULL; cp += len) {
		if ((cp == out->data || cp[-1] == ' ')
		    && (cp[len] == ' ' || cp[len] == 0))
			goto out;
	}
	if (out->len > 0)
		buf_putc(out, ' ');
	buf_append(out, text.data, text.len);
out:
	buf_fini(&text);
}

static void
ml_add_ifaddr(struct buf *out, const struct ifaddrs *ifa,
    enum ml_style style)
{
	const struct sockaddr_in *sin, *mask4;
	const struct sockaddr_in6 *sin6, *mask6;
	const unsigned char *addr, *mask = NULL;
	int family, prefix, mask_prefix;

	if (ifa->ifa_addr == NULL)
		return;
	family = ifa->ifa_addr->sa_family;
	if (family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)ifa->ifa_addr;
		addr = (const unsigned char *)&sin->sin_addr;
		if (ifa->ifa_netmask != NULL) {
			mask4 = (const struct sockaddr_in *)(const void *)
			    ifa->ifa_netmask;
			mask = (const unsigned char *)&mask4->sin_addr;
		}
	} else if (family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)
		    ifa->ifa_addr;
		addr = (const unsigned char *)&sin6->sin6_addr;
		if (ifa->ifa_netmask != NULL) {
			mask6 = (const struct sockaddr_in6 *)(const void *)
			    ifa->ifa_netmask;
			mask = (const unsigned char *)&mask6->sin6_addr;
		}
	} else
		return;
	prefix = inet_prefix_bits(family);
	if (style == ML_STYLE_CLASS && family == AF_INET)
		prefix = ml_class_prefix(addr);
	else if (style != ML_STYLE_HOST && mask != NULL
	    && (mask_prefix = inet_prefix_from_mask(mask, family)) >= 0)
		prefix = mask_prefix;
	ml_add_net(out, family, addr, prefix);
}

char *
match_list_mynetworks(const char *style_name)
{
	static const unsigned char lo4[4] = {127, 0, 0, 1};
	static const unsigned char lo6[16] = {[15] = 1};
	struct ifaddrs *list, *ifa;
	enum ml_style style;
	struct buf out;

	if (strcasecmp(style_name, "host") == 0)
		style = ML_STYLE_HOST;
	else if (strcasecmp(style_name, "subnet") == 0)
		style = ML_STYLE_SUBNET;
	else if (strcasecmp(style_name, "class") == 0)
		style = ML_STYLE_CLASS;
	else
		return NULL;
	buf_init(&out, 128);
	if (getifaddrs(&list) < 0) {
		msg_warn("mynetworks_style: cannot list the network "
		    "interfaces: %m; using the loopback networks only");
		ml_add_net(&out, AF_INET, lo4, style == ML_STYLE_HOST ? 32 : 8);
		ml_add_net(&out, AF_INET6, lo6, 128);
		return buf_steal(&out);
	}
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next)
		ml_add_ifaddr(&out, ifa, style);
	freeifaddrs(list);
	return buf_steal(&out);
}
