/*
 * dict_regexp.c - regexp: tables, POSIX regular expressions
 *
 * regexp:/etc/petrel/header_checks is a pattern file as regexp_table(5)
 * describes, read and tried by dict_pattern.c; this file is the engine:
 * regcomp(3) and regexec(3). Flags after the closing delimiter each
 * toggle a regcomp option: i case-insensitive (REG_ICASE, on by
 * default), x extended syntax (REG_EXTENDED, on by default), m
 * multi-line (REG_NEWLINE, off by default). This engine alone allows
 * "/pattern1/flags!/pattern2/flags result": pattern1 must match and
 * pattern2 must not.
 *
 * SECURITY: keys come from the network. The POSIX interface offers no
 * work limit. glibc matches without backtracking except for
 * back-references (\1), which can be slow on hostile keys; the key
 * length is bounded by dict.c (DICT_MAX_KEY). Tables whose patterns
 * need back-references are safer as pcre:, which has a match limit.
 *
 * glibc's regcomp() copies the operand of every "+" and "{m,n}", so
 * stacked or nested repetitions ("x++++...", "((x+)+)+...") grow the
 * compiled pattern exponentially and can exhaust memory. Before calling
 * regcomp(), regexp_weight() estimates the size of the compiled tree and
 * patterns above REGEXP_MAX_WEIGHT are refused as too complex. Stacked
 * repetition operators ("x*+*+") are refused outright: POSIX leaves them
 * undefined, and glibc needs time and memory exponential in their number
 * even when the tree stays small (found by fuzzing).
 */
#include <limits.h>
#include <regex.h>
#include <stdlib.h>

#include "buf.h"
#include "dict.h"
#include "dict_pattern.h"
#include "dict_types.h"
#include "mem.h"
#include "str.h"

struct regexp_pat {
	regex_t re;
	regmatch_t *m;			/* re_nsub + 1, when groups are used */
	size_t nm;
};

/* Append regerror()'s text for err to out. */
static void
regexp_error_text(struct buf *out, int err, const regex_t *re)
{
	size_t need = regerror(err, re, NULL, 0);
	char *text = xmalloc(need ? need : 1);

	text[0] = '\0';
	regerror(err, re, text, need);
	buf_puts(out, text);
	free(text);
}

#define REGEXP_MAX_WEIGHT	10000
#define REGEXP_MAX_DEPTH	64

/* Multiply with saturation above the limit. */
static unsigned long
regexp_mul(unsigned long a, unsigned long b)
{
	unsigned long r;

	if (__builtin_mul_overflow(a, b, &r) || r > REGEXP_MAX_WEIGHT)
		return REGEXP_MAX_WEIGHT + 1;
	return r;
}

static unsigned long
regexp_add(unsigned long a, unsigned long b)
{
	return a + b > REGEXP_MAX_WEIGHT ? REGEXP_MAX_WEIGHT + 1 : a + b;
}

/* Skip a bracket expression starting at p ('['); returns its end. */
static const char *
regexp_skip_bracket(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
			char end = p[1];

			for (p += 2; *p && !(p[0] == end && p[1] == ']'); p++)
				;
			if (*p)
				p += 2;
			continue;
		}
		p++;
	}
	return *p ? p + 1 : p;
}

/*
 * Estimate the number of nodes regcomp() builds: each atom counts one;
 * "+" doubles its operand and "{m,n}" multiplies it by max(m, n) + 1;
 * a group weighs what it contains. Saturates above REGEXP_MAX_WEIGHT;
 * nesting deeper than REGEXP_MAX_DEPTH counts as too heavy.
 */
static unsigned long
regexp_weight(const char *pattern, bool ere)
{
	unsigned long sum[REGEXP_MAX_DEPTH], last[REGEXP_MAX_DEPTH], w, m, n;
	const char *p = pattern;
	bool quantified = false;	/* the last item was a repetition */
	int depth = 0;
	char ch;

	sum[0] = last[0] = 0;
	while ((ch = *p) != 0) {
		bool esc = ch == '\\' && p[1] != 0;
		bool special = ere ? !esc : esc;
		bool quantifier = (special && (ch == '+' || ch == '{'))
		    || (!esc && ch == '*') || (ere && !esc && ch == '?');

		if (esc)
			ch = *++p;
		if (quantifier && quantified && p > pattern + 1)
			return REGEXP_MAX_WEIGHT + 1;
		quantified = quantifier;
		if ((ere && !esc && ch == '(') || (!ere && esc && ch == '(')) {
			if (++depth >= REGEXP_MAX_DEPTH)
				return REGEXP_MAX_WEIGHT + 1;
			sum[depth] = last[depth] = 0;
			p++;
		} else if (((ere && !esc) || (!ere && esc)) && ch == ')'
		    && depth > 0) {
			w = regexp_add(sum[depth], last[depth]);
			depth--;
			sum[depth] = regexp_add(sum[depth], last[depth]);
			last[depth] = w;
			p++;
		} else if (((ere && !esc) || (!ere && esc)) && ch == '|') {
			sum[depth] = regexp_add(sum[depth], last[depth]);
			last[depth] = 0;
			p++;
		} else if (((ere && !esc) || (!ere && esc)) && ch == '+') {
			last[depth] = regexp_mul(last[depth], 2);
			p++;
		} else if (((ere && !esc) || (!ere && esc)) && ch == '{') {
			m = n = 0;
			for (p++; *p >= '0' && *p <= '9'; p++)
				m = regexp_add(regexp_mul(m, 10), (unsigned)(*p
				    - '0'));
			if (*p == ',')
				for (p++; *p >= '0' && *p <= '9'; p++)
					n = regexp_add(regexp_mul(n, 10),
					    (unsigned)(*p - '0'));
			/* The closing brace: "}" or, in basic syntax, "\}". */
			if (!ere && p[0] == '\\' && p[1] == '}')
				p += 2;
			else if (ere && *p == '}')
				p++;
			last[depth] = regexp_mul(last[depth],
			    (m > n ? m : n) + 1);
		} else if (!esc && ch == '[') {
			sum[depth] = regexp_add(sum[depth], last[depth]);
			last[depth] = 1;
			p = regexp_skip_bracket(p);
		} else if (!esc && (ch == '*' || (ere && ch == '?'))) {
			p++;			/* wraps, does not copy */
		} else {
			sum[depth] = regexp_add(sum[depth], last[depth]);
			last[depth] = 1;
			p++;
		}
	}
	for (w = 0; depth >= 0; depth--)
		w = regexp_add(w, regexp_add(sum[depth], last[depth]));
	return w;
}

static void *
regexp_compile(const char *pattern, const char *flags, bool groups,
    int *ngroups, struct buf *why)
{
	struct regexp_pat *p;
	int cflags = REG_ICASE | REG_EXTENDED;
	const char *f;
	int err;

	for (f = flags; *f; f++) {
		switch (*f) {
		case 'i':
			cflags ^= REG_ICASE;
			break;
		case 'x':
			cflags ^= REG_EXTENDED;
			break;
		case 'm':
			cflags ^= REG_NEWLINE;
			break;
		default:
			buf_reset(why);
			buf_puts(why, "unknown flag \"");
			str_printable(why, f, 1);
			buf_puts(why, "\"");
			return NULL;
		}
	}
	if (!groups)
		cflags |= REG_NOSUB;
	if (regexp_weight(pattern, cflags & REG_EXTENDED) > REGEXP_MAX_WEIGHT) {
		buf_set(why, "bad regular expression: too complex (nested or "
		    "stacked repetition)");
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	if ((err = regcomp(&p->re, pattern, cflags)) != 0) {
		buf_set(why, "bad regular expression: ");
		regexp_error_text(why, err, &p->re);
		free(p);
		return NULL;
	}
	*ngroups = p->re.re_nsub > INT_MAX ? INT_MAX : (int)p->re.re_nsub;
	if (groups) {
		p->nm = p->re.re_nsub + 1;
		p->m = xreallocarray(NULL, p->nm, sizeof(*p->m));
	}
	return p;
}

static int
regexp_match(void *pattern, const char *key, size_t len,
    unsigned long limit, struct buf *why)
{
	struct regexp_pat *p = pattern;
	int err;

	(void)len;
	(void)limit;
	err = regexec(&p->re, key, p->nm, p->m, 0);
	if (err == 0)
		return 1;
	if (err == REG_NOMATCH)
		return 0;
	buf_set(why, "regexec: ");
	regexp_error_text(why, err, &p->re);
	return -1;
}

static bool
regexp_group(void *pattern, int n, size_t *start, size_t *end)
{
	struct regexp_pat *p = pattern;

	if (n < 0 || (size_t)n >= p->nm || p->m[n].rm_so < 0
	    || p->m[n].rm_eo < p->m[n].rm_so)
		return false;
	*start = (size_t)p->m[n].rm_so;
	*end = (size_t)p->m[n].rm_eo;
	return true;
}

static void
regexp_free(void *pattern)
{
	struct regexp_pat *p = pattern;

	regfree(&p->re);
	free(p->m);
	free(p);
}

const struct dict_pattern_engine dict_regexp_engine = {
	.two_patterns = true,
	.compile = regexp_compile,
	.match = regexp_match,
	.group = regexp_group,
	.free = regexp_free,
};

static struct dict *
dict_regexp_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	return dict_pattern_open(&dict_regexp_ops, &dict_regexp_engine, name,
	    open_flags, dict_flags, why);
}

const struct dict_ops dict_regexp_ops = {
	.type = "regexp",
	.open = dict_regexp_open,
	.lookup = dict_pattern_lookup,
	.close = dict_pattern_close,
	.file = dict_file_is_name,
};
