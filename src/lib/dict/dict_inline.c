/*
 * dict_inline.c - inline:{ key=value, { key = text with spaces } }
 *
 * A small table written into main.cf itself (Postfix inline_table(5)).
 * The name is the whole table: it starts with '{' and ends with '}'.
 * Inside, entries are separated by commas and/or whitespace. An entry is
 * either "key=value" (no whitespace in it: whitespace separates entries)
 * or "{ key = value }", where the braces let key and value hold spaces
 * and commas; whitespace around key and value is removed. Braces nest,
 * so "{ key = {a, b} }" has the value "{a, b}".
 *
 *	inline:{ smtp=relay, { list = a, b, c }, local=local }
 *
 * An empty table or a malformed entry fails the open (the caller gets a
 * surrogate whose reason names the table and the entry). A duplicate key
 * is a warning; the first entry wins. Read-only: lookup and iterate, in
 * the order written.
 *
 * SECURITY: the text comes from the configuration (trusted), but it is
 * still parsed with explicit lengths and no fixed buffers.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "buf.h"
#include "dict_types.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

struct dict_inline {
	struct dict d;
	struct htable *table;	/* key -> value (char *, ours) */
	struct argv *keys;	/* keys in written order, for iteration */
	size_t next;		/* iteration cursor into keys */
};

static bool
dict_inline_sep(int ch)
{
	return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r'
	    || ch == '\n' || ch == '\f' || ch == '\v';
}

static bool
dict_inline_space(int ch)
{
	return ch != ',' && dict_inline_sep(ch);
}

/* Trim [*start, *end) of whitespace. */
static void
dict_inline_trim(const char **start, const char **end)
{
	while (*start < *end && dict_inline_space((unsigned char)**start))
		(*start)++;
	while (*end > *start && dict_inline_space((unsigned char)(*end)[-1]))
		(*end)--;
}

/* Add one entry [cp, end); 0, or -1 with why (without the table name). */
static int
dict_inline_entry(struct dict_inline *di, const char *cp, const char *end,
    struct buf *why)
{
	const char *key_end, *value;
	struct buf key;

	if (*cp == '{') {
		/* The token scanner stopped at the matching brace, or later. */
		const char *close = cp;
		int depth = 0;

		do {
			if (*close == '{')
				depth++;
			else if (*close == '}')
				depth--;
			close++;
		} while (depth > 0);
		if (close != end) {
			buf_puts(why, "entry \"");
			buf_append(why, cp, (size_t)(end - cp));
			buf_puts(why, "\": text after '}'");
			return -1;
		}
		cp++;
		end--;
		dict_inline_trim(&cp, &end);
	}
	if ((key_end = memchr(cp, '=', (size_t)(end - cp))) == NULL) {
		buf_puts(why, "entry \"");
		buf_append(why, cp, (size_t)(end - cp));
		buf_puts(why, "\": expected key=value or { key = value }");
		return -1;
	}
	value = key_end + 1;
	dict_inline_trim(&cp, &key_end);
	dict_inline_trim(&value, &end);
	if (cp == key_end) {
		buf_puts(why, "entry \"=");
		buf_append(why, value, (size_t)(end - value));
		buf_puts(why, "\": missing key");
		return -1;
	}
	buf_init(&key, (size_t)(key_end - cp));
	buf_setn(&key, cp, (size_t)(key_end - cp));
	if (di->d.dict_flags & DICT_FLAG_FOLD)
		str_lower(key.data);
	if (htable_get(di->table, key.data) != NULL) {
		msg_warn("table inline:%s: duplicate entry: \"%s\"",
		    di->d.name, key.data);
	} else {
		htable_put(di->table, key.data,
		    xstrndup(value, (size_t)(end - value)));
		argv_add(di->keys, key.data);
	}
	buf_fini(&key);
	return 0;
}

/* Parse the whole table; 0, or -1 with why (without the table name). */
static int
dict_inline_parse(struct dict_inline *di, const char *name, struct buf *why)
{
	size_t len = strlen(name);
	const char *cp, *end, *start;
	int depth;

	if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
		buf_puts(why, "expected inline:{key=value, ...}");
		return -1;
	}
	cp = name + 1;
	end = name + len - 1;
	for (;;) {
		while (cp < end && dict_inline_sep((unsigned char)*cp))
			cp++;
		if (cp == end)
			break;
		/* One entry: up to a separator outside any braces. */
		for (start = cp, depth = 0; cp < end; cp++) {
			if (*cp == '{') {
				depth++;
			} else if (*cp == '}') {
				if (depth == 0)
					break;
				depth--;
			} else if (depth == 0
			    && dict_inline_sep((unsigned char)*cp)) {
				break;
			}
		}
		if (depth > 0 || (cp < end && *cp == '}')) {
			buf_puts(why, "unbalanced '{' and '}'");
			return -1;
		}
		if (dict_inline_entry(di, start, cp, why) < 0)
			return -1;
	}
	if (di->keys->argc == 0) {
		buf_puts(why, "empty table");
		return -1;
	}
	return 0;
}

static enum dict_result
dict_inline_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_inline *di = (struct dict_inline *)d;
	const char *v;

	if ((v = htable_get(di->table, key)) == NULL)
		return DICT_NOTFOUND;
	buf_set(value, v);
	return DICT_FOUND;
}

static enum dict_result
dict_inline_iterate(struct dict *d, enum dict_seq seq, struct buf *key,
    struct buf *value)
{
	struct dict_inline *di = (struct dict_inline *)d;
	const char *k;

	if (seq == DICT_SEQ_FIRST)
		di->next = 0;
	if (di->next >= di->keys->argc)
		return DICT_NOTFOUND;
	k = di->keys->argv[di->next++];
	buf_set(key, k);
	buf_set(value, htable_get(di->table, k));
	return DICT_FOUND;
}

static void
dict_inline_close(struct dict *d)
{
	struct dict_inline *di = (struct dict_inline *)d;

	htable_free(di->table, free);
	argv_free(di->keys);
	dict_free(d);
}

static struct dict *
dict_inline_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_inline *di;
	struct buf problem;

	if ((open_flags & (O_ACCMODE | O_CREAT | O_TRUNC)) != O_RDONLY) {
		buf_printf(why, "table inline:%s: inline tables are read-only",
		    name);
		return NULL;
	}
	di = (struct dict_inline *)dict_alloc(&dict_inline_ops, name,
	    open_flags, dict_flags, sizeof(*di));
	di->table = htable_new(16);
	di->keys = argv_new();
	buf_init(&problem, 64);
	if (dict_inline_parse(di, name, &problem) < 0) {
		buf_printf(why, "table inline:%s: %s", name, problem.data);
		buf_fini(&problem);
		dict_inline_close(&di->d);
		return NULL;
	}
	buf_fini(&problem);
	return &di->d;
}

const struct dict_ops dict_inline_ops = {
	.type = "inline",
	.open = dict_inline_open,
	.lookup = dict_inline_lookup,
	.iterate = dict_inline_iterate,
	.close = dict_inline_close,
};
