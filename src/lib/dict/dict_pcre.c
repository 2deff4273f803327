/*
 * dict_pcre.c - pcre: tables, Perl-compatible regular expressions
 *
 * pcre:/etc/petrel/header_checks is a pattern file as pcre_table(5)
 * describes, read and tried by dict_pattern.c; this file is the engine,
 * on PCRE2 (8-bit code units). Flags after the closing delimiter each
 * toggle a compile option: i PCRE2_CASELESS (on by default), m
 * PCRE2_MULTILINE, s PCRE2_DOTALL, x PCRE2_EXTENDED, A PCRE2_ANCHORED,
 * E PCRE2_DOLLAR_ENDONLY, U PCRE2_UNGREEDY. X (PCRE_EXTRA in PCRE1:
 * an unknown escape is an error) is accepted and changes nothing, as
 * PCRE2 always behaves that way.
 *
 * Patterns are JIT-compiled when PCRE2 can (about ten times faster,
 * which matters for header_checks: every header line is a lookup); a
 * match that runs out of JIT stack is run again by the interpreter,
 * so JIT changes speed, never results.
 *
 * Keys are bytes: patterns are compiled without PCRE2_UTF. A pattern
 * that turns UTF mode on itself ("(*UTF)") is compiled again with
 * PCRE2_MATCH_INVALID_UTF, so that a key that is not valid UTF-8 just
 * fails to match instead of making the lookup fail.
 *
 * SECURITY: keys come from the network, and a backtracking matcher can
 * be made to work exponentially long ("/(a+)+$/" against "aaa...b").
 * Every match runs with a match limit (dict_pattern_set_match_limit());
 * past it the lookup is DICT_TEMPFAIL with a warning, never "not found".
 */
#define PCRE2_CODE_UNIT_WIDTH	8

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "dict.h"
#include "dict_pattern.h"
#include "dict_types.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

struct pcre_pat {
	pcre2_code *code;
	pcre2_match_data *md;		/* sized for this pattern's groups */
};

/*
 * One match context for all tables: it only carries the limit, and a
 * process runs one match at a time.
 */
static pcre2_match_context *pcre_mctx;
static unsigned long pcre_mctx_limit;

static const struct {
	char flag;
	uint32_t option;
} pcre_flags[] = {
	{'i', PCRE2_CASELESS},
	{'m', PCRE2_MULTILINE},
	{'s', PCRE2_DOTALL},
	{'x', PCRE2_EXTENDED},
	{'A', PCRE2_ANCHORED},
	{'E', PCRE2_DOLLAR_ENDONLY},
	{'U', PCRE2_UNGREEDY},
	{'X', 0},
};

/* Append PCRE2's text for error code err to out. */
static void
pcre_error_text(struct buf *out, int err)
{
	struct buf text;
	size_t size = 128;
	int rc;

	buf_init(&text, size);
	for (;;) {
		buf_reserve(&text, size);
		rc = pcre2_get_error_message(err, (PCRE2_UCHAR *)text.data,
		    text.cap);
		if (rc != PCRE2_ERROR_NOMEMORY || size > 65536)
			break;
		size *= 2;
	}
	if (rc < 0)
		buf_printf(out, "PCRE2 error %d", err);
	else
		buf_puts(out, text.data);
	buf_fini(&text);
}

static void *
pcre_compile(const char *pattern, const char *flags, bool groups,
    int *ngroups, struct buf *why)
{
	uint32_t options = PCRE2_CASELESS;
	uint32_t all, count;
	struct pcre_pat *p;
	PCRE2_SIZE erroff;
	const char *f;
	size_t i;
	int err;

	for (f = flags; *f; f++) {
		for (i = 0; i < sizeof(pcre_flags) / sizeof(pcre_flags[0]); i++)
			if (pcre_flags[i].flag == *f)
				break;
		if (i == sizeof(pcre_flags) / sizeof(pcre_flags[0])) {
			buf_reset(why);
			buf_puts(why, "unknown flag \"");
			str_printable(why, f, 1);
			buf_puts(why, "\"");
			return NULL;
		}
		options ^= pcre_flags[i].option;
	}
	p = xcalloc(1, sizeof(*p));
	p->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    options, &err, &erroff, NULL);
	if (p->code != NULL
	    && pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &all) == 0
	    && (all & PCRE2_UTF) && !(all & PCRE2_MATCH_INVALID_UTF)) {
		pcre2_code_free(p->code);
		p->code = pcre2_compile((PCRE2_SPTR)pattern,
		    PCRE2_ZERO_TERMINATED, options | PCRE2_MATCH_INVALID_UTF,
		    &err, &erroff, NULL);
	}
	if (p->code == NULL) {
		buf_set(why, "bad regular expression: ");
		pcre_error_text(why, err);
		free(p);
		return NULL;
	}
	/*
	 * Failure (no JIT on this platform, no executable memory) is fine:
	 * pcre2_match() then interprets.
	 */
	(void)pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE);
	if (pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &count) != 0)
		count = 0;
	*ngroups = count > INT32_MAX ? INT32_MAX : (int)count;
	/* Without groups one pair (the whole match) is all we need. */
	p->md = groups ? pcre2_match_data_create_from_pattern(p->code, NULL)
	    : pcre2_match_data_create(1, NULL);
	if (p->md == NULL)
		msg_fatal("pcre2_match_data_create: out of memory");
	return p;
}

static int
pcre_match(void *pattern, const char *key, size_t len, unsigned long limit,
    struct buf *why)
{
	struct pcre_pat *p = pattern;
	int rc;

	if (pcre_mctx == NULL) {
		if ((pcre_mctx = pcre2_match_context_create(NULL)) == NULL)
			msg_fatal("pcre2_match_context_create: out of memory");
		pcre_mctx_limit = 0;
	}
	if (limit != pcre_mctx_limit) {
		pcre2_set_match_limit(pcre_mctx,
		    limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit);
		pcre_mctx_limit = limit;
	}
	rc = pcre2_match(p->code, (PCRE2_SPTR)key, len, 0, 0, p->md,
	    pcre_mctx);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(p->code, (PCRE2_SPTR)key, len, 0, PCRE2_NO_JIT,
		    p->md, pcre_mctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	buf_reset(why);
	if (rc == PCRE2_ERROR_MATCHLIMIT)
		buf_printf(why, "pattern match limit of %lu exceeded", limit);
	else
		pcre_error_text(why, rc);
	return -1;
}

static bool
pcre_group(void *pattern, int n, size_t *start, size_t *end)
{
	struct pcre_pat *p = pattern;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);

	if (n < 0 || (uint32_t)n >= pcre2_get_ovector_count(p->md)
	    || ov[2 * n] == PCRE2_UNSET || ov[2 * n + 1] == PCRE2_UNSET)
		return false;
	*start = ov[2 * n];
	*end = ov[2 * n + 1];
	return true;
}

static void
pcre_free(void *pattern)
{
	struct pcre_pat *p = pattern;

	pcre2_match_data_free(p->md);
	pcre2_code_free(p->code);
	free(p);
}

const struct dict_pattern_engine dict_pcre_engine = {
	.two_patterns = false,
	.compile = pcre_compile,
	.match = pcre_match,
	.group = pcre_group,
	.free = pcre_free,
};

static struct dict *
dict_pcre_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	return dict_pattern_open(&dict_pcre_ops, &dict_pcre_engine, name,
	    open_flags, dict_flags, why);
}

const struct dict_ops dict_pcre_ops = {
	.type = "pcre",
	.open = dict_pcre_open,
	.lookup = dict_pattern_lookup,
	.close = dict_pattern_close,
	.file = dict_file_is_name,
};
