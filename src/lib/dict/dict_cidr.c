/*
 * dict_cidr.c - cidr: tables, rules that match IP addresses by network
 *
 * cidr:/etc/petrel/client_access holds one rule per logical line
 * (lline.h), as cidr_table(5) describes, tried in file order; the first
 * rule that matches gives the result:
 *
 *	192.0.2.0/24		REJECT	network/prefix
 *	192.0.2.1		OK	one address (/32, /128)
 *	2001:db8::/32		REJECT	IPv6, also as [2001:db8::]/32
 *	!192.0.2.0/24		DUNNO	any IPv4 address outside it
 *	if 10.0.0.0/8			the rules up to the matching endif
 *	if !10.0.0.0/8			apply only to addresses inside
 *	endif				(outside) it; if..endif nests
 *
 * A network with bits set after the prefix is an error that suggests the
 * right network; every error fails the whole open with "<file>, line
 * <n>: <problem>", so the caller gets a surrogate, never half a table.
 *
 * A rule applies only to keys of its own family: "!192.0.2.0/24" says
 * nothing about an IPv6 key. An IPv4-mapped IPv6 key (::ffff:192.0.2.1)
 * is tried as the IPv4 address against IPv4 rules and as itself against
 * IPv6 rules. A key that is not an IP address matches nothing.
 *
 * SECURITY: keys come from the network; they are only ever parsed by
 * inet_pton(3) into fixed-size binary addresses (inet_prefix.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dict.h"
#include "dict_types.h"
#include "inet_prefix.h"
#include "lline.h"
#include "mem.h"

enum cidr_op {
	CIDR_MATCH,
	CIDR_IF,
	CIDR_ENDIF,
};

struct cidr_rule {
	enum cidr_op op;
	struct inet_prefix net;
	bool negate;
	char *result;			/* CIDR_MATCH */
	size_t endif;			/* CIDR_IF: index of its endif */
};

struct dict_cidr {
	struct dict d;
	struct cidr_rule *rules;
	size_t nrules;
	size_t cap;
};

/* why = "<file>, line <n>: <problem>"; returns -1. */
static int
cidr_error(struct buf *why, const char *file, int line, const char *fmt,
    ...)
{
	va_list ap;

	buf_reset(why);
	buf_printf(why, "%s, line %d: ", file, line);
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Parse "[!]address[/prefix]", the address maybe inside "[]", into r.
 * Returns 0, or -1 with the problem in why.
 */
static int
cidr_parse(const char *text, struct cidr_rule *r, struct buf *why)
{
	const char *pattern = text;

	if (*pattern == '!') {
		r->negate = true;
		pattern++;
	}
	switch (inet_prefix_parse(pattern, &r->net, NULL)) {
	case INET_PREFIX_OK:
		return 0;
	case INET_PREFIX_NO_CLOSE:
		buf_printf(why, "missing \"]\" in \"%s\"", pattern);
		break;
	case INET_PREFIX_AFTER_CLOSE:
	case INET_PREFIX_BAD_ADDR:
		buf_printf(why, "bad address pattern \"%s\"", pattern);
		break;
	case INET_PREFIX_BAD_LEN:
		buf_printf(why, "bad prefix length in \"%s\" (expected 0..%d)",
		    pattern, inet_prefix_bits(r->net.family));
		break;
	case INET_PREFIX_HOST_BITS:
		buf_printf(why, "non-null host address bits in \"%s\", perhaps "
		    "you should use \"", pattern);
		inet_prefix_text(why, &r->net, 0);
		buf_putc(why, '"');
		break;
	}
	return -1;
}

/* Does *cp start with keyword (any case) and then a blank or the end? */
static bool
cidr_keyword(char **cp, const char *keyword)
{
	size_t len = strlen(keyword);

	if (strncasecmp(*cp, keyword, len) != 0
	    || ((*cp)[len] != '\0' && !isspace((unsigned char)(*cp)[len])))
		return false;
	*cp += len;
	while (isspace((unsigned char)**cp))
		(*cp)++;
	return true;
}

static struct cidr_rule *
cidr_add(struct dict_cidr *dc, enum cidr_op op)
{
	struct cidr_rule *r;

	if (dc->nrules == dc->cap) {
		dc->cap = dc->cap ? 2 * dc->cap : 16;
		dc->rules = xreallocarray(dc->rules, dc->cap,
		    sizeof(*dc->rules));
	}
	r = &dc->rules[dc->nrules++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	return r;
}

/*
 * One logical line; stack holds the indexes of the open ifs and lines
 * their line numbers. Returns 0, or -1 with why.
 */
static int
cidr_parse_line(struct dict_cidr *dc, const char *file, int line,
    char *text, size_t **stack, int **lines, size_t *depth,
    struct buf *why)
{
	struct cidr_rule *r;
	struct buf problem;
	char *cp = text;
	char *end;
	bool is_if;
	int rc;

	if (cidr_keyword(&cp, "endif")) {
		if (*cp != '\0')
			return cidr_error(why, file, line,
			    "extra text after \"endif\"");
		if (*depth == 0)
			return cidr_error(why, file, line, "endif without if");
		cidr_add(dc, CIDR_ENDIF);
		dc->rules[(*stack)[--*depth]].endif = dc->nrules - 1;
		return 0;
	}
	is_if = cidr_keyword(&cp, "if");
	if (*cp == '\0')
		return cidr_error(why, file, line, "missing address pattern");
	for (end = cp; *end && !isspace((unsigned char)*end); end++)
		;
	if (*end != '\0')
		*end++ = '\0';
	while (isspace((unsigned char)*end))
		end++;
	if (is_if && *end != '\0')
		return cidr_error(why, file, line,
		    "extra text after \"if\" pattern");
	if (!is_if && *end == '\0')
		return cidr_error(why, file, line, "no result");
	r = cidr_add(dc, is_if ? CIDR_IF : CIDR_MATCH);
	buf_init(&problem, 64);
	rc = cidr_parse(cp, r, &problem);
	if (rc < 0)
		cidr_error(why, file, line, "%s", problem.data);
	buf_fini(&problem);
	if (rc < 0)
		return -1;
	if (is_if) {
		*stack = xreallocarray(*stack, *depth + 1, sizeof(**stack));
		*lines = xreallocarray(*lines, *depth + 1, sizeof(**lines));
		(*stack)[*depth] = dc->nrules - 1;
		(*lines)[(*depth)++] = line;
	} else {
		r->result = xstrdup(end);
	}
	return 0;
}

static void
dict_cidr_close(struct dict *d)
{
	struct dict_cidr *dc = (struct dict_cidr *)d;
	size_t i;

	for (i = 0; i < dc->nrules; i++)
		free(dc->rules[i].result);
	free(dc->rules);
	dict_free(d);
}

/* Read every rule of file; 0, or -1 with why. */
static int
cidr_load(struct dict_cidr *dc, FILE *fp, const char *file, struct buf *why)
{
	struct lline_reader *reader = lline_open(fp, file);
	struct buf line;
	size_t *stack = NULL;
	int *lines = NULL;
	size_t depth = 0;
	int lineno = 0;
	int rc;

	buf_init(&line, 256);
	while ((rc = lline_next(reader, &line, &lineno, why)) > 0) {
		if (cidr_parse_line(dc, file, lineno, line.data, &stack,
		    &lines, &depth, why) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && depth > 0)
		rc = cidr_error(why, file, lines[depth - 1], "missing endif");
	free(stack);
	free(lines);
	buf_fini(&line);
	lline_close(reader);
	return rc;
}

static struct dict *
dict_cidr_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_cidr *dc;
	FILE *fp;
	int rc;

	if ((open_flags & O_ACCMODE) != O_RDONLY
	    || (open_flags & (O_CREAT | O_TRUNC))) {
		buf_printf(why, "table cidr:%s: this table type is read-only",
		    name);
		return NULL;
	}
	dc = (struct dict_cidr *)dict_alloc(&dict_cidr_ops, name, open_flags,
	    dict_flags, sizeof(*dc));
	/* Addresses need no folding (inet_pton takes either case). */
	dc->d.dict_flags &= ~DICT_FLAG_FOLD;
	/* Watch before reading, so that no change can go unnoticed. */
	dict_watch(&dc->d, name);
	if ((fp = fopen(name, "re")) == NULL) {
		buf_printf(why, "open %s: %s", name, strerror(errno));
		dict_cidr_close(&dc->d);
		return NULL;
	}
	rc = cidr_load(dc, fp, name, why);
	/* Read-only: a read error was seen by the reader already. */
	(void)fclose(fp);
	if (rc < 0) {
		dict_cidr_close(&dc->d);
		return NULL;
	}
	return &dc->d;
}

/* Does rule r apply to key k? */
static bool
cidr_rule_match(const struct cidr_rule *r, const struct inet_prefix_addr *k)
{
	int in = inet_prefix_match(&r->net, k);

	if (in < 0)
		return false;		/* says nothing about this family */
	return (in > 0) != r->negate;
}

static enum dict_result
dict_cidr_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_cidr *dc = (struct dict_cidr *)d;
	const struct cidr_rule *r;
	struct inet_prefix_addr k;
	size_t i;

	if (!inet_prefix_addr_parse(key, &k))
		return DICT_NOTFOUND;
	for (i = 0; i < dc->nrules; i++) {
		r = &dc->rules[i];
		switch (r->op) {
		case CIDR_ENDIF:
			break;
		case CIDR_IF:
			if (!cidr_rule_match(r, &k))
				i = r->endif;	/* the loop steps past it */
			break;
		case CIDR_MATCH:
			if (cidr_rule_match(r, &k)) {
				buf_puts(value, r->result);
				return DICT_FOUND;
			}
			break;
		}
	}
	return DICT_NOTFOUND;
}

const struct dict_ops dict_cidr_ops = {
	.type = "cidr",
	.open = dict_cidr_open,
	.lookup = dict_cidr_lookup,
	.close = dict_cidr_close,
	.file = dict_file_is_name,
};
