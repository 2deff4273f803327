/*
 * test_mem.c - unit tests for mem.c
 *
 * The allocators must never return NULL: success paths are checked in
 * process, failure paths (impossible sizes, count overflow) in a child
 * that must die with "fatal: ..." and EX_SOFTWARE rather than return.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mem.h"

/*
 * Under AddressSanitizer an impossible malloc() aborts by default; we
 * want it to return NULL like the real allocator so mem.c can react.
 */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* Run fn in a child with stderr captured; return its wait status. */
static int
run_child(void (*fn)(void), char *out, size_t outlen)
{
	int fds[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < outlen - 1
	    && (n = read(fds[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static volatile size_t huge = SIZE_MAX / 2;	/* hide it from gcc */

static void
child_malloc_huge(void)
{
	(void)xmalloc(huge);
}

static void
child_calloc_huge(void)
{
	(void)xcalloc(huge, 1);
}

static void
child_calloc_overflow(void)
{
	(void)xcalloc(huge, 4);
}

static void
child_realloc_huge(void)
{
	(void)xrealloc(NULL, huge);
}

static void
child_reallocarray_overflow(void)
{
	(void)xreallocarray(NULL, huge, 3);
}

static void
child_memdup_max(void)
{
	(void)xmemdup("x", SIZE_MAX);
}

static void
test_fatal(void **state)
{
	static const struct {
		const char *label;
		void (*fn)(void);
		const char *want;
	} cases[] = {
		{"xmalloc huge", child_malloc_huge, "fatal: out of memory"},
		{"xcalloc huge", child_calloc_huge, "fatal: out of memory"},
		{"xcalloc overflow", child_calloc_overflow,
		    "fatal: allocation overflow"},
		{"xrealloc huge", child_realloc_huge, "fatal: out of memory"},
		{"xreallocarray overflow", child_reallocarray_overflow,
		    "fatal: allocation overflow"},
		{"xmemdup SIZE_MAX", child_memdup_max, "fatal: out of memory"},
	};
	char out[4096];
	size_t i;
	int status;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		status = run_child(cases[i].fn, out, sizeof(out));
		CHECK(WIFEXITED(status), cases[i].label);
		CHECK(WEXITSTATUS(status) == EX_SOFTWARE, cases[i].label);
		if (strstr(out, cases[i].want) == NULL)
			fail_msg("case \"%s\": stderr \"%s\"", cases[i].label,
			    out);
	}
}

static void
test_alloc(void **state)
{
	unsigned char *p, *q;
	size_t i;

	(void)state;
	/* Zero-size requests still give a pointer that can be freed. */
	p = xmalloc(0);
	assert_non_null(p);
	free(p);
	p = xcalloc(0, 10);
	assert_non_null(p);
	free(p);
	p = xcalloc(10, 0);
	assert_non_null(p);
	free(p);

	p = xcalloc(1000, 4);
	for (i = 0; i < 4000; i++)
		assert_int_equal(p[i], 0);
	for (i = 0; i < 4000; i++)
		p[i] = (unsigned char)i;
	/* Growing keeps the content. */
	q = xrealloc(p, 100000);
	for (i = 0; i < 4000; i++)
		assert_int_equal(q[i], (unsigned char)i);
	q[99999] = 1;
	p = xreallocarray(q, 3, 50000);
	for (i = 0; i < 4000; i++)
		assert_int_equal(p[i], (unsigned char)i);
	p[149999] = 1;
	free(p);
	p = xreallocarray(NULL, 0, 8);
	assert_non_null(p);
	free(p);
}

static void
test_strdup(void **state)
{
	static const struct {
		const char *label, *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"shorter", "hello", 3, "hel"},
		{"exact", "hello", 5, "hello"},
		{"longer than string", "hi", 10, "hi"},
		{"zero", "abc", 0, ""},
		{"empty", "", 5, ""},
	};
	/* Not NUL-terminated: xstrndup must not read past len. */
	static const char raw[3] = {'a', 'b', 'c'};
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		s = xstrndup(cases[i].in, cases[i].len);
		CHECK(strcmp(s, cases[i].want) == 0, cases[i].label);
		free(s);
	}
	s = xstrndup(raw, sizeof(raw));
	assert_string_equal(s, "abc");
	free(s);

	s = xstrdup("copy me");
	assert_string_equal(s, "copy me");
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_memdup(void **state)
{
	static const char data[] = {'a', 0, 'b', (char)0xff};
	char *p;

	(void)state;
	p = xmemdup(data, sizeof(data));
	assert_memory_equal(p, data, sizeof(data));
	assert_int_equal(p[sizeof(data)], 0);	/* NUL appended */
	free(p);
	p = xmemdup(NULL, 0);
	assert_non_null(p);
	assert_int_equal(p[0], 0);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_strdup),
		cmocka_unit_test(test_memdup),
		cmocka_unit_test(test_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
