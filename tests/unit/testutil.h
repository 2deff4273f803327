/*
 * testutil.h - helpers shared by the cmocka unit tests
 *
 * capture_start()/capture_end() redirect stderr (where diagnostics go in
 * the tests) to a temporary file and return what was written, so a test
 * can compare the exact messages a parser reports. CHECK(), CHECK_STR()
 * and CHECK_STR_OR_NULL() are the assertions of table-driven tests.
 */
#ifndef PETREL_TESTUTIL_H
#define PETREL_TESTUTIL_H

#include <stddef.h>
#include <string.h>

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* A string literal with its length (it may contain NULs). */
#define BYTES(s)	(s), sizeof(s) - 1

/*
 * Checks for table-driven tests: on failure they name the case (label)
 * and what went wrong, then fail the test. They call cmocka's
 * fail_msg() where they are expanded, in a test file that has already
 * included cmocka.h (with its prerequisites), so this header does not
 * include cmocka.h itself.
 *
 * CHECK() fails unless cond holds, quoting cond. CHECK_STR() fails
 * unless the strings got and want are equal; both must be non-NULL.
 * CHECK_STR_OR_NULL() also accepts NULL: two NULLs are equal, and NULL
 * differs from every string. Each argument is evaluated once, except
 * label, which is evaluated only on failure.
 */
#define CHECK(cond, label) do { \
	if (!(cond)) \
		fail_msg("case \"%s\": %s", (label), #cond); \
} while (0)

#define CHECK_STR(got, want, label) do { \
	const char *got_ = (got), *want_ = (want); \
	if (strcmp(got_, want_) != 0) \
		fail_msg("case \"%s\": got \"%s\", want \"%s\"", (label), \
		    got_, want_); \
} while (0)

#define CHECK_STR_OR_NULL(got, want, label) do { \
	const char *got_ = (got), *want_ = (want); \
	if ((got_ == NULL) != (want_ == NULL) \
	    || (got_ != NULL && strcmp(got_, want_) != 0)) \
		fail_msg("case \"%s\": got \"%s\", want \"%s\"", (label), \
		    got_ ? got_ : "(null)", want_ ? want_ : "(null)"); \
} while (0)

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
