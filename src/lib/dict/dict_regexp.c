/*
 * dict_regexp.c - (to be written)
 */
#include "dict_types.h"

/* Placeholder until the type is written: every open fails. */
static struct dict *
dict_regexp_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	(void)open_flags;
	(void)dict_flags;
	buf_printf(why, "table regexp:%s: type not yet available", name);
	return NULL;
}

const struct dict_ops dict_regexp_ops = {
	.type = "regexp",
	.open = dict_regexp_open,
};
