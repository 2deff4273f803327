/*
 * testutil.h - helpers shared by the cmocka unit tests
 *
 * capture_start()/capture_end() redirect stderr (where diagnostics go in
 * the tests) to a temporary file and return what was written, so a test
 * can compare the exact messages a parser reports.
 */
#ifndef PETREL_TESTUTIL_H
#define PETREL_TESTUTIL_H

#include <stddef.h>

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* A string literal with its length (it may contain NULs). */
#define BYTES(s)	(s), sizeof(s) - 1

void capture_start(void);
/* Stop capturing; returns what was written (caller frees). */
char *capture_end(void);

#endif
