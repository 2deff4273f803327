/*
 * dict_source.c - read table sources in postmap(1) format
 *
 * dict_source_read() walks a source file one logical line at a time
 * (lline.c does comments, continuation lines and limits), splits each
 * into key and value, and hands the pair to a callback. texthash: loads
 * a table with it; `petrel map` builds indexed tables with it. Whatever
 * the callback does with the pair, the syntax rules live here once.
 *
 * SECURITY: the file may be written by a user other than the one who
 * reads it; lline.c bounds every line, and errors name file and line
 * without ever quoting the offending bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "dict_source.h"
#include "lline.h"

static bool
dict_source_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
	    || ch == '\f' || ch == '\v';
}

int
dict_source_read(const char *path, FILE *fp, dict_source_fn fn, void *ctx,
    struct buf *why)
{
	struct lline_reader *r;
	struct buf line;
	FILE *own = NULL;
	char *key, *value, *cp;
	int lineno = 0;
	int rc;

	buf_reset(why);
	if (fp == NULL) {
		/* "e": the descriptor must not leak into children. */
		if ((own = fopen(path, "re")) == NULL) {
			buf_printf(why, "open %s: %s", path, strerror(errno));
			return -1;
		}
		fp = own;
	}
	r = lline_open(fp, path);
	buf_init(&line, 256);
	while ((rc = lline_next(r, &line, &lineno, why)) > 0) {
		/* lline removed trailing whitespace; the key starts at 0. */
		key = line.data;
		for (cp = key; *cp && !dict_source_space((unsigned char)*cp);
		    cp++)
			;
		if (*cp != '\0')
			*cp++ = '\0';
		while (dict_source_space((unsigned char)*cp))
			cp++;
		value = cp;
		if (*value == '\0') {
			buf_printf(why, "%s, line %d: expected format: key "
			    "whitespace value", path, lineno);
			rc = -1;
			break;
		}
		buf_reset(why);
		if (fn(key, value, path, lineno, ctx, why) < 0) {
			rc = -1;
			break;
		}
	}
	lline_close(r);
	buf_fini(&line);
	if (own)
		fclose(own);		/* read-only: nothing to lose */
	return rc < 0 ? -1 : 0;
}
