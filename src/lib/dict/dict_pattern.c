/*
 * dict_pattern.c - pattern tables: parse the file, try the rules in order
 *
 * The syntax regexp: and pcre: share (see dict_pattern.h); each type
 * supplies an engine that compiles and runs one pattern. A file becomes
 * an array of rules; an "if" rule records where its "endif" is, so a
 * lookup that fails the if skips the whole block with one assignment.
 * Result templates are checked when the file is read ($ syntax, group
 * numbers against the compiled pattern), so a lookup only copies bytes.
 *
 * SECURITY: keys come from the network (addresses, header lines); they
 * are only handed to the engine, which bounds its own work (the match
 * limit), and copied into results by offsets the engine reported, which
 * are checked against the key length. The pattern file is trusted
 * configuration but is still parsed without fixed buffers, and every
 * problem in it fails the open rather than leaving a partial table.
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
#include "dict_pattern.h"
#include "lline.h"
#include "mem.h"
#include "str.h"

enum pattern_op {
	PATTERN_MATCH,			/* pattern(s) result */
	PATTERN_IF,			/* if pattern(s) */
	PATTERN_ENDIF,
};

struct pattern_rule {
	enum pattern_op op;
	int line;			/* for messages at lookup time */
	void *pat;			/* must match (or not, when negated) */
	bool negate;
	void *pat2;			/* must not match, or NULL */
	char *result;			/* PATTERN_MATCH: the template */
	bool subst;			/* the template holds a '$' */
	size_t endif;			/* PATTERN_IF: index of its endif */
};

struct dict_pattern {
	struct dict d;
	const struct dict_pattern_engine *engine;
	struct pattern_rule *rules;
	size_t nrules;
	size_t cap;			/* allocated rules */
};

/* pattern_ref() for "$$". */
#define PATTERN_REF_DOLLAR	(-2)

static unsigned long pattern_match_limit = DICT_PATTERN_MATCH_LIMIT;

void
dict_pattern_set_match_limit(unsigned long limit)
{
	pattern_match_limit = limit ? limit : DICT_PATTERN_MATCH_LIMIT;
}

/* why = "<file>, line <n>: <problem>"; returns -1. */
static int
pattern_error(struct buf *why, const char *file, int line,
    const char *fmt, ...)
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
 * Parse the reference that starts at the '$' at *cp and advance past it.
 * Returns the group number, PATTERN_REF_DOLLAR for "$$", or -1 when
 * the '$' is not followed by a digit, "{" one or two digits "}", or '$'.
 */
static int
pattern_ref(const char **cp)
{
	const char *p = *cp + 1;
	int n;

	if (*p == '$') {
		*cp = p + 1;
		return PATTERN_REF_DOLLAR;
	}
	if (isdigit((unsigned char)*p)) {
		*cp = p + 1;
		return *p - '0';
	}
	if (*p != '{' || !isdigit((unsigned char)p[1]))
		return -1;
	n = p[1] - '0';
	p += 2;
	if (isdigit((unsigned char)*p))
		n = n * 10 + *p++ - '0';
	if (*p != '}')
		return -1;
	*cp = p + 1;
	return n;
}

/*
 * Check the '$' references in a result. *max receives the highest group
 * used (-1: none). Returns 0, or -1 with the problem in why.
 */
static int
pattern_check_result(const char *result, int *max, struct buf *why)
{
	const char *p = result;
	int n;

	*max = -1;
	while ((p = strchr(p, '$')) != NULL) {
		if ((n = pattern_ref(&p)) == -1) {
			buf_set(why, "bad \"$\" in result (expected $1..$9, "
			    "${1}..${99} or $$)");
			return -1;
		}
		if (n > *max)
			*max = n;
	}
	return 0;
}

/*
 * Split "[!]<d>text<d>flags" at *cp: the text between the delimiters
 * (escaped delimiters kept with their backslash) into text, the flags
 * into flags; advance *cp past them. Flags end at a blank, and also at
 * '!' for engines with two patterns. Returns 0, or -1 with the problem
 * in why.
 */
static int
pattern_split(char **cp, bool two, bool *negate, struct buf *text,
    struct buf *flags, struct buf *why)
{
	char *p = *cp;
	char *start;
	char delim;

	*negate = false;
	if (*p == '!') {
		*negate = true;
		p++;
	}
	delim = *p;
	if (delim == '\0' || isspace((unsigned char)delim)
	    || isalnum((unsigned char)delim) || delim == '\\') {
		buf_set(why, "expected \"/pattern/flags\"");
		return -1;
	}
	for (start = ++p; *p != delim; p++) {
		if (*p == '\0') {
			buf_set(why, "missing closing delimiter \"");
			str_printable(why, &delim, 1);
			buf_puts(why, "\"");
			return -1;
		}
		if (*p == '\\' && p[1] != '\0')
			p++;
	}
	buf_setn(text, start, (size_t)(p - start));
	for (start = ++p; *p != '\0' && !isspace((unsigned char)*p)
	    && !(two && *p == '!'); p++)
		;
	buf_setn(flags, start, (size_t)(p - start));
	*cp = p;
	return 0;
}

/* The pattern part of one line, split but not yet compiled. */
struct pattern_parts {
	bool negate;
	struct buf text;
	struct buf flags;
	bool two;			/* a second pattern follows */
	struct buf text2;
	struct buf flags2;
};

static void
pattern_parts_init(struct pattern_parts *pp)
{
	memset(pp, 0, sizeof(*pp));
	buf_init(&pp->text, 64);
	buf_init(&pp->flags, 8);
	buf_init(&pp->text2, 0);
	buf_init(&pp->flags2, 0);
}

static void
pattern_parts_fini(struct pattern_parts *pp)
{
	buf_fini(&pp->text);
	buf_fini(&pp->flags);
	buf_fini(&pp->text2);
	buf_fini(&pp->flags2);
}

/* Split the pattern(s) at *cp and advance past them; 0, or -1. */
static int
pattern_split_all(const struct dict_pattern *dp, char **cp,
    struct pattern_parts *pp, struct buf *problem)
{
	bool two = dp->engine->two_patterns;
	bool negate2;

	if (pattern_split(cp, two, &pp->negate, &pp->text, &pp->flags,
	    problem) < 0)
		return -1;
	if (!two || **cp != '!')
		return 0;
	(*cp)++;
	if (**cp == '!') {
		buf_set(problem, "expected \"/pattern/flags\" after \"!\"");
		return -1;
	}
	pp->two = true;
	return pattern_split(cp, two, &negate2, &pp->text2, &pp->flags2,
	    problem);
}

/* Compile one pattern; 0, or -1 with why = "<file>, line <n>: ...". */
static int
pattern_compile(const struct dict_pattern *dp, const char *file, int line,
    const struct buf *text, const struct buf *flags, bool groups,
    void **pat, int *ngroups, struct buf *why)
{
	struct buf problem;

	buf_init(&problem, 64);
	*ngroups = 0;
	*pat = dp->engine->compile(text->data, flags->data, groups, ngroups,
	    &problem);
	if (*pat == NULL) {
		if (problem.len == 0)
			buf_set(&problem, "bad regular expression");
		pattern_error(why, file, line, "%s", problem.data);
	}
	buf_fini(&problem);
	return *pat ? 0 : -1;
}

/*
 * Does *cp start with keyword (any case) and then a byte that cannot
 * continue a word? If so, advance past it and the blanks after it.
 */
static bool
pattern_keyword(char **cp, const char *keyword)
{
	size_t len = strlen(keyword);

	if (strncasecmp(*cp, keyword, len) != 0
	    || isalnum((unsigned char)(*cp)[len]) || (*cp)[len] == '_')
		return false;
	*cp += len;
	while (isspace((unsigned char)**cp))
		(*cp)++;
	return true;
}

static struct pattern_rule *
pattern_add(struct dict_pattern *dp, enum pattern_op op, int line)
{
	struct pattern_rule *r;

	if (dp->nrules == dp->cap) {
		dp->cap = dp->cap ? 2 * dp->cap : 16;
		dp->rules = xreallocarray(dp->rules, dp->cap,
		    sizeof(*dp->rules));
	}
	r = &dp->rules[dp->nrules++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->line = line;
	return r;
}

/*
 * One logical line. stack holds the indexes of the ifs still open.
 * Returns 0, or -1 with why.
 */
static int
pattern_parse_line(struct dict_pattern *dp, const char *file, int line,
    char *text, size_t **stack, size_t *depth, struct buf *why)
{
	struct pattern_parts pp;
	struct pattern_rule *r;
	struct buf problem;
	char *cp = text;
	bool is_if;
	int max_ref = -1, ngroups, rc = -1;

	if (pattern_keyword(&cp, "endif")) {
		if (*cp != '\0')
			return pattern_error(why, file, line,
			    "extra text after \"endif\"");
		if (*depth == 0)
			return pattern_error(why, file, line,
			    "endif without if");
		pattern_add(dp, PATTERN_ENDIF, line);
		dp->rules[(*stack)[--*depth]].endif = dp->nrules - 1;
		return 0;
	}
	is_if = pattern_keyword(&cp, "if");

	/*
	 * Check the whole line before compiling: the engine compiles more
	 * cheaply when it knows that no result refers to groups.
	 */
	pattern_parts_init(&pp);
	buf_init(&problem, 64);
	if (pattern_split_all(dp, &cp, &pp, &problem) < 0) {
		pattern_error(why, file, line, "%s", problem.data);
		goto out;
	}
	while (isspace((unsigned char)*cp))
		cp++;
	if (is_if) {
		if (*cp != '\0') {
			pattern_error(why, file, line,
			    "extra text after \"if\" pattern");
			goto out;
		}
	} else {
		if (*cp == '\0') {
			pattern_error(why, file, line, "no result");
			goto out;
		}
		if (pattern_check_result(cp, &max_ref, &problem) < 0) {
			pattern_error(why, file, line, "%s", problem.data);
			goto out;
		}
		if (max_ref >= 0 && pp.negate) {
			pattern_error(why, file, line, "$%d in the result of "
			    "a negated pattern", max_ref);
			goto out;
		}
	}

	r = pattern_add(dp, is_if ? PATTERN_IF : PATTERN_MATCH, line);
	r->negate = pp.negate;
	if (pattern_compile(dp, file, line, &pp.text, &pp.flags,
	    max_ref >= 0, &r->pat, &ngroups, why) < 0)
		goto out;
	if (max_ref > ngroups) {
		pattern_error(why, file, line, "$%d but the pattern has %d "
		    "group%s", max_ref, ngroups, ngroups == 1 ? "" : "s");
		goto out;
	}
	if (pp.two && pattern_compile(dp, file, line, &pp.text2, &pp.flags2,
	    false, &r->pat2, &ngroups, why) < 0)
		goto out;
	if (is_if) {
		*stack = xreallocarray(*stack, *depth + 1, sizeof(**stack));
		(*stack)[(*depth)++] = dp->nrules - 1;
	} else {
		r->result = xstrdup(cp);
		r->subst = strchr(cp, '$') != NULL;
	}
	rc = 0;
out:
	pattern_parts_fini(&pp);
	buf_fini(&problem);
	return rc;
}

/* Read every rule; 0, or -1 with why. */
static int
pattern_load(struct dict_pattern *dp, struct lline_reader *reader,
    const char *file, struct buf *why)
{
	struct buf line;
	size_t *stack = NULL;
	size_t depth = 0;
	int lineno = 0;
	int rc;

	buf_init(&line, 256);
	while ((rc = lline_next(reader, &line, &lineno, why)) > 0) {
		if (pattern_parse_line(dp, file, lineno, line.data, &stack,
		    &depth, why) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && depth > 0)
		rc = pattern_error(why, file, dp->rules[stack[depth - 1]].line,
		    "missing endif");
	free(stack);
	buf_fini(&line);
	return rc;
}

static struct dict_pattern *
pattern_new(const struct dict_ops *ops,
    const struct dict_pattern_engine *engine, const char *name,
    int open_flags, int dict_flags)
{
	struct dict_pattern *dp;

	dp = (struct dict_pattern *)dict_alloc(ops, name, open_flags,
	    dict_flags, sizeof(*dp));
	/* The patterns' own flags decide about case, not the caller. */
	dp->d.dict_flags &= ~DICT_FLAG_FOLD;
	dp->engine = engine;
	return dp;
}

struct dict *
dict_pattern_open(const struct dict_ops *ops,
    const struct dict_pattern_engine *engine, const char *name,
    int open_flags, int dict_flags, struct buf *why)
{
	struct dict_pattern *dp;
	struct lline_reader *reader;
	FILE *fp;
	int rc;

	if ((open_flags & O_ACCMODE) != O_RDONLY
	    || (open_flags & (O_CREAT | O_TRUNC))) {
		buf_printf(why, "table %s:%s: this table type is read-only",
		    ops->type, name);
		return NULL;
	}
	dp = pattern_new(ops, engine, name, open_flags, dict_flags);

	/*
	 * Watch before reading: a file replaced in between is then seen
	 * as changed (one needless restart), never missed.
	 */
	dict_watch(&dp->d, name);
	if ((fp = fopen(name, "re")) == NULL) {
		buf_printf(why, "open %s: %s", name, strerror(errno));
		dict_pattern_close(&dp->d);
		return NULL;
	}
	reader = lline_open(fp, name);
	rc = pattern_load(dp, reader, name, why);
	lline_close(reader);
	/* Read-only: a read error was seen by the reader already. */
	(void)fclose(fp);
	if (rc < 0) {
		dict_pattern_close(&dp->d);
		return NULL;
	}
	return &dp->d;
}

struct dict *
dict_pattern_open_text(const struct dict_ops *ops,
    const struct dict_pattern_engine *engine, const char *name,
    const char *text, size_t len, int dict_flags, struct buf *why)
{
	struct dict_pattern *dp;
	struct lline_reader *reader;
	int rc;

	dp = pattern_new(ops, engine, name, O_RDONLY, dict_flags);
	reader = lline_open_text(text, len, name);
	rc = pattern_load(dp, reader, name, why);
	lline_close(reader);
	if (rc < 0) {
		dict_pattern_close(&dp->d);
		return NULL;
	}
	return &dp->d;
}

/* 1 when rule r applies to key, 0 when not, -1 with why. */
static int
pattern_eval(const struct dict_pattern *dp, const struct pattern_rule *r,
    const char *key, size_t len, struct buf *why)
{
	const struct dict_pattern_engine *e = dp->engine;
	int m;

	if ((m = e->match(r->pat, key, len, pattern_match_limit, why)) < 0)
		return -1;
	if (r->negate)
		m = !m;
	if (m && r->pat2) {
		if ((m = e->match(r->pat2, key, len, pattern_match_limit,
		    why)) < 0)
			return -1;
		m = !m;
	}
	return m;
}

/* Append the result of rule r (which just matched key) to value. */
static void
pattern_expand(const struct dict_pattern *dp, const struct pattern_rule *r,
    const char *key, size_t len, struct buf *value)
{
	const char *p = r->result;
	const char *dollar;
	size_t start, end;
	int n;

	if (!r->subst) {
		buf_puts(value, p);
		return;
	}
	while ((dollar = strchr(p, '$')) != NULL) {
		buf_append(value, p, (size_t)(dollar - p));
		n = pattern_ref(&dollar);
		if (n == PATTERN_REF_DOLLAR) {
			buf_putc(value, '$');
		} else if (n < 0) {
			/* Checked at open; never loop on it regardless. */
			buf_putc(value, '$');
			dollar++;
		} else if (dp->engine->group(r->pat, n, &start, &end)
		    && start <= end && end <= len) {
			buf_append(value, key + start, end - start);
		}
		p = dollar;
	}
	buf_puts(value, p);
}

enum dict_result
dict_pattern_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_pattern *dp = (struct dict_pattern *)d;
	const struct pattern_rule *r;
	enum dict_result rc = DICT_NOTFOUND;
	size_t len = strlen(key);
	struct buf why;
	size_t i;
	int m;

	buf_init(&why, 0);
	for (i = 0; i < dp->nrules; i++) {
		r = &dp->rules[i];
		if (r->op == PATTERN_ENDIF)
			continue;
		if ((m = pattern_eval(dp, r, key, len, &why)) < 0) {
			rc = dict_tempfail(d, "table %s, line %d: %s",
			    d->full_name, r->line, why.data);
			break;
		}
		if (r->op == PATTERN_IF) {
			if (!m)
				i = r->endif;	/* the loop steps past it */
			continue;
		}
		if (m) {
			pattern_expand(dp, r, key, len, value);
			rc = DICT_FOUND;
			break;
		}
	}
	buf_fini(&why);
	return rc;
}

void
dict_pattern_close(struct dict *d)
{
	struct dict_pattern *dp = (struct dict_pattern *)d;
	size_t i;

	for (i = 0; i < dp->nrules; i++) {
		struct pattern_rule *r = &dp->rules[i];

		if (r->pat)
			dp->engine->free(r->pat);
		if (r->pat2)
			dp->engine->free(r->pat2);
		free(r->result);
	}
	free(dp->rules);
	dict_free(d);
}
