/*
 * dict_pattern.h - pattern tables: the file syntax regexp: and pcre: share
 *
 * A pattern table is a list of rules tried in file order against the
 * whole lookup key; the first rule that matches gives the result
 * (regexp_table(5), pcre_table(5)). One rule per logical line (lline.h):
 *
 *	/pattern/flags result		key matches pattern
 *	!/pattern/flags result		key does not match (no $n in result)
 *	/p1/flags!/p2/flags result	matches p1 but not p2 (regexp only)
 *	if /pattern/flags		the rules up to the matching endif
 *	if !/pattern/flags		apply only when the key (does not)
 *	endif				match; if..endif nests
 *
 * The delimiter is any character other than a letter, digit, blank or
 * backslash ("#pattern#"); a backslash before the delimiter keeps it in
 * the pattern (the backslash stays too, so the engine sees an escaped
 * character). The keywords if and endif are case-insensitive. In a
 * result, $1..$9 and ${1}..${99} are replaced by what that group
 * matched ($0, ${0}: the whole match; a group that took no part: empty)
 * and $$ by one '$'; any other '$' is an error. A reference beyond the
 * pattern's groups is an error when the table is opened.
 *
 * Any error fails the whole open, with why set to "<file>, line <n>:
 * <problem>": unknown flag "q", missing endif (at the unmatched if),
 * endif without if, bad regular expression: <engine text>, no result,
 * $3 but the pattern has 2 groups, ... The caller (dict.c) then makes
 * the table a surrogate: never a partial table.
 *
 * Pattern tables ignore DICT_FLAG_FOLD: the key is matched as given,
 * and each pattern's flags decide about case (both engines default to
 * case-insensitive, flag i toggles). Tables are read-only and watched
 * for changes (dict_changed()).
 */
#ifndef PETREL_DICT_PATTERN_H
#define PETREL_DICT_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "dict.h"

/*
 * Work limit for one match by an engine that backtracks (pcre:): past
 * it the lookup is DICT_TEMPFAIL, so a hostile key cannot make a
 * pattern run for seconds. The default stops a runaway match after a
 * few milliseconds (JIT) to about 15 ms (PCRE2's interpreter).
 */
#define DICT_PATTERN_MATCH_LIMIT	1000000UL

/* Change the limit for later lookups (tests); 0 restores the default. */
void dict_pattern_set_match_limit(unsigned long limit);

/*
 * One regular expression engine. Patterns are opaque to this module.
 */
struct dict_pattern_engine {
	/* Allows "/p1/flags!/p2/flags result" (flags then end at '!'). */
	bool two_patterns;
	/*
	 * Compile pattern (NUL-terminated, delimiters removed) with flags
	 * (the letters after the closing delimiter, maybe ""). groups is
	 * true when a result will refer to groups ($n); *ngroups receives
	 * the number of capturing groups. NULL with why set to the
	 * problem alone ("unknown flag \"q\"", "bad regular expression:
	 * ..."); the caller adds file and line.
	 */
	void *(*compile)(const char *pattern, const char *flags, bool groups,
	    int *ngroups, struct buf *why);
	/*
	 * Match key (len bytes, NUL-terminated) with at most limit units
	 * of work (engines without a limit ignore it). Returns 1 (match;
	 * groups stay available through group() until the next match of
	 * this pattern), 0 (no match), or -1 with why set (temporary).
	 */
	int (*match)(void *pattern, const char *key, size_t len,
	    unsigned long limit, struct buf *why);
	/*
	 * After a match of a pattern compiled with groups: where group n
	 * (0 = the whole match) is; false when it took no part.
	 */
	bool (*group)(void *pattern, int n, size_t *start, size_t *end);
	void (*free)(void *pattern);
};

/* The engines of regexp: and pcre: (for dict_pattern_open_text). */
extern const struct dict_pattern_engine dict_regexp_engine;
extern const struct dict_pattern_engine dict_pcre_engine;

/*
 * Open the pattern file name for the type ops (whose lookup and close
 * must be dict_pattern_lookup and dict_pattern_close) with engine.
 * Returns the table, or NULL with why set ("open <file>: <errno text>",
 * "<file>, line <n>: ...").
 */
struct dict *dict_pattern_open(const struct dict_ops *ops,
    const struct dict_pattern_engine *engine, const char *name,
    int open_flags, int dict_flags, struct buf *why);
/* The same from text in memory (named name in errors; not watched). */
struct dict *dict_pattern_open_text(const struct dict_ops *ops,
    const struct dict_pattern_engine *engine, const char *name,
    const char *text, size_t len, int dict_flags, struct buf *why);
enum dict_result dict_pattern_lookup(struct dict *d, const char *key,
    struct buf *value);
void dict_pattern_close(struct dict *d);

#endif
