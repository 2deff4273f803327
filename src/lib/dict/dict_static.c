/*
 * dict_static.c - static:value, a table that finds every key
 *
 * Every lookup succeeds with the same value: "static:OK",
 * "static:{ text with spaces }" (braces removed, and the whitespace just
 * inside them). An empty value is allowed, as in Postfix. Iteration is
 * not supported: there is no list of keys.
 *
 * SECURITY: the value comes from the configuration; keys are ignored.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict_types.h"
#include "mem.h"

struct dict_static {
	struct dict d;
	char *value;
};

static bool
dict_static_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
	    || ch == '\f' || ch == '\v';
}

static enum dict_result
dict_static_lookup(struct dict *d, const char *key, struct buf *value)
{
	(void)key;
	buf_set(value, ((struct dict_static *)d)->value);
	return DICT_FOUND;
}

static void
dict_static_close(struct dict *d)
{
	free(((struct dict_static *)d)->value);
	dict_free(d);
}

static struct dict *
dict_static_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_static *ds;
	const char *start = name, *end = name + strlen(name);

	if ((open_flags & (O_ACCMODE | O_CREAT | O_TRUNC)) != O_RDONLY) {
		buf_printf(why, "table static:%s: static tables are read-only",
		    name);
		return NULL;
	}
	if (*start == '{') {
		if (end - start < 2 || end[-1] != '}') {
			buf_printf(why, "table static:%s: expected "
			    "static:{value} (missing '}')", name);
			return NULL;
		}
		start++;
		end--;
		while (start < end && dict_static_space((unsigned char)*start))
			start++;
		while (end > start && dict_static_space((unsigned char)end[-1]))
			end--;
	}
	ds = (struct dict_static *)dict_alloc(&dict_static_ops, name,
	    open_flags, dict_flags, sizeof(*ds));
	ds->value = xstrndup(start, (size_t)(end - start));
	return &ds->d;
}

const struct dict_ops dict_static_ops = {
	.type = "static",
	.open = dict_static_open,
	.lookup = dict_static_lookup,
	.close = dict_static_close,
};
