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

/*
 * A scratch directory for tests that work relative to the current
 * directory, as daemons do in queue_directory: scratch_enter() makes
 * /tmp/<name>.XXXXXX with the given subdirectories (mode 0700, list
 * ended by NULL) and changes into it; scratch_leave() goes back and
 * removes it. Both return 0, or -1 (for cmocka setup/teardown).
 */
struct scratch;
int scratch_enter(struct scratch **out, const char *name,
    const char *const *subdirs);
int scratch_leave(struct scratch *s);
/* Stop capturing; returns what was written (caller frees). */
char *capture_end(void);

#endif
