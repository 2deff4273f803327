/*
 * lline.h - read logical lines
 *
 * The line syntax that lookup table sources, alias files, pattern files
 * and SQL configuration files share with main.cf (Postfix's): a line
 * whose first non-blank byte is '#' is a comment; blank lines and comment
 * lines are skipped and do not end a logical line; a line that starts
 * with whitespace continues the previous logical line (joined with the
 * newline removed and its leading whitespace kept). Trailing whitespace
 * (and a CR before the newline) is removed.
 *
 *	r = lline_open(fp, "/etc/aliases");
 *	while ((rc = lline_next(r, &line, &lineno, &why)) > 0)
 *		... line.data is one logical line that began on lineno ...
 *	if (rc < 0)
 *		... why: "/etc/aliases, line 7: ..." ...
 *	lline_close(r);
 *
 * SECURITY: every physical line and every logical line is bounded
 * (LLINE_MAX bytes, else an error naming file and line); a NUL byte is
 * an error. A continuation line before the first logical line is an
 * error ("logical line must not start with whitespace").
 */
#ifndef PETREL_LLINE_H
#define PETREL_LLINE_H

#include <stdio.h>

#include "buf.h"

#define LLINE_MAX	(1024 * 1024)

struct lline_reader;

/* Read from fp (not closed by lline_close); file names it in errors. */
struct lline_reader *lline_open(FILE *fp, const char *file);
/* Read from memory (text need not be NUL-terminated). */
struct lline_reader *lline_open_text(const char *text, size_t len,
    const char *file);
/*
 * Next logical line into out (replaced). Returns 1, 0 at the end, or -1
 * with why set to "<file>, line <n>: <problem>". *lineno (may be NULL)
 * receives the number of the line where the logical line began.
 */
int lline_next(struct lline_reader *r, struct buf *out, int *lineno,
    struct buf *why);
void lline_close(struct lline_reader *r);	/* accepts NULL */

#endif
