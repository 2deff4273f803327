/*
 * dict_source.h - read table sources in postmap(1) format
 *
 * One entry per logical line (lline.h): the key is the text up to the
 * first whitespace, the value the rest with surrounding whitespace
 * removed: "example.com   REJECT no thanks". A line without a value is
 * an error: "<file>, line <n>: expected format: key whitespace value".
 * Used by texthash: and by `petrel map` to build indexed tables.
 */
#ifndef PETREL_DICT_SOURCE_H
#define PETREL_DICT_SOURCE_H

#include <stdio.h>

#include "buf.h"

/*
 * Called for each entry; return 0 to go on, -1 to stop (set why, which
 * is then returned to the caller of dict_source_read as is).
 */
typedef int (*dict_source_fn)(const char *key, const char *value,
    const char *file, int line, void *ctx, struct buf *why);

/*
 * Read every entry of path (fp when not NULL, named path in errors).
 * Returns 0, or -1 at the first error with why set; a missing file is
 * "open <path>: No such file or directory".
 */
int dict_source_read(const char *path, FILE *fp, dict_source_fn fn,
    void *ctx, struct buf *why);

#endif
