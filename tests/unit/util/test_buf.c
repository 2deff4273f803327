/*
 * test_buf.c - unit tests for buf.c
 *
 * A table of operation sequences checks content, length and the NUL
 * terminator after every step; further tests cover growth, binary data,
 * printf beyond the current capacity, reserve, steal, and the fatal
 * overflow check (in a child process).
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

#include "buf.h"

enum op {
	OP_END, OP_PUTS, OP_PUTC, OP_APPEND, OP_SET, OP_SETN, OP_RESET,
	OP_TRUNCATE, OP_CONSUME, OP_PRINTF_INT,
};

struct step {
	enum op op;
	const char *arg;	/* string argument */
	size_t num;		/* length / count / char / int */
	const char *want;	/* content afterwards */
	size_t want_len;
};

static void
test_sequences(void **state)
{
	static const struct {
		const char *label;
		struct step steps[8];
	} cases[] = {
		{"puts twice", {
		    {OP_PUTS, "abc", 0, "abc", 3},
		    {OP_PUTS, "def", 0, "abcdef", 6},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"putc", {
		    {OP_PUTC, NULL, 'x', "x", 1},
		    {OP_PUTC, NULL, 0xff, "x\xff", 2},
		    {OP_PUTC, NULL, 0, "x\xff\0", 3},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"append binary", {
		    {OP_APPEND, "a\0b", 3, "a\0b", 3},
		    {OP_APPEND, "", 0, "a\0b", 3},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"set replaces", {
		    {OP_PUTS, "old stuff", 0, "old stuff", 9},
		    {OP_SET, "new", 0, "new", 3},
		    {OP_SETN, "12345", 2, "12", 2},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"reset", {
		    {OP_PUTS, "abc", 0, "abc", 3},
		    {OP_RESET, NULL, 0, "", 0},
		    {OP_PUTS, "d", 0, "d", 1},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"truncate only shrinks", {
		    {OP_PUTS, "abcdef", 0, "abcdef", 6},
		    {OP_TRUNCATE, NULL, 10, "abcdef", 6},
		    {OP_TRUNCATE, NULL, 6, "abcdef", 6},
		    {OP_TRUNCATE, NULL, 2, "ab", 2},
		    {OP_TRUNCATE, NULL, 0, "", 0},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"consume", {
		    {OP_PUTS, "HELO x\r\nMAIL", 0, "HELO x\r\nMAIL", 12},
		    {OP_CONSUME, NULL, 8, "MAIL", 4},
		    {OP_CONSUME, NULL, 0, "MAIL", 4},
		    {OP_CONSUME, NULL, 4, "", 0},
		    {OP_PUTS, "ab", 0, "ab", 2},
		    {OP_CONSUME, NULL, 99, "", 0},
		    {OP_END, NULL, 0, NULL, 0}}},
		{"printf appends", {
		    {OP_PUTS, "n=", 0, "n=", 2},
		    {OP_PRINTF_INT, NULL, 42, "n=42", 4},
		    {OP_PRINTF_INT, NULL, 7, "n=427", 5},
		    {OP_END, NULL, 0, NULL, 0}}},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct buf *b = buf_new(0);

		for (j = 0; cases[i].steps[j].op != OP_END; j++) {
			const struct step *st = &cases[i].steps[j];

			switch (st->op) {
			case OP_PUTS:
				buf_puts(b, st->arg);
				break;
			case OP_PUTC:
				buf_putc(b, (int)st->num);
				break;
			case OP_APPEND:
				buf_append(b, st->arg, st->num);
				break;
			case OP_SET:
				buf_set(b, st->arg);
				break;
			case OP_SETN:
				buf_setn(b, st->arg, st->num);
				break;
			case OP_RESET:
				buf_reset(b);
				break;
			case OP_TRUNCATE:
				buf_truncate(b, st->num);
				break;
			case OP_CONSUME:
				buf_consume(b, st->num);
				break;
			case OP_PRINTF_INT:
				buf_printf(b, "%d", (int)st->num);
				break;
			case OP_END:
				break;
			}
			if (buf_len(b) != st->want_len
			    || memcmp(buf_str(b), st->want, st->want_len) != 0
			    || buf_str(b)[buf_len(b)] != 0
			    || b->cap <= b->len)
				fail_msg("case \"%s\", step %zu: got %zu bytes",
				    cases[i].label, j, buf_len(b));
		}
		buf_free(b);
	}
}

static void
test_growth(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_len(&b), 0);
	assert_string_equal(buf_str(&b), "");
	for (i = 0; i < 100000; i++)
		buf_putc(&b, 'a' + (int)(i % 26));
	assert_int_equal(buf_len(&b), 100000);
	for (i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], 'a' + (int)(i % 26));
	assert_int_equal(b.data[100000], 0);
	buf_fini(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_free(NULL);
}

static void
test_printf_large(void **state)
{
	struct buf *b = buf_new(4);
	char *big = malloc(10001);

	(void)state;
	memset(big, 'z', 10000);
	big[10000] = 0;
	buf_puts(b, "<");
	/* Longer than the capacity: vsnprintf must be run again. */
	buf_printf(b, "%s|%d|%s", big, -5, "end");
	assert_int_equal(buf_len(b), 1 + 10000 + 4 + 3);
	assert_int_equal(b->data[0], '<');
	assert_memory_equal(b->data + 1, big, 10000);
	assert_string_equal(b->data + 10001, "|-5|end");
	/* Exactly filling the remaining room. */
	buf_reset(b);
	buf_reserve(b, 9);
	while (b->cap - b->len - 1 > 0)
		buf_putc(b, 'x');
	buf_printf(b, "%s", "12345678");
	assert_string_equal(b->data + b->len - 8, "12345678");
	buf_free(b);
	free(big);
}

static void
test_reserve(void **state)
{
	struct buf *b = buf_new(0);
	char *before;
	size_t i;

	(void)state;
	buf_puts(b, "abc");
	buf_reserve(b, 5000);
	assert_true(b->cap >= 3 + 5000 + 1);
	assert_string_equal(buf_str(b), "abc");
	before = b->data;
	for (i = 0; i < 5000; i++)
		buf_putc(b, 'x');
	/* Reserved room is used without moving the data. */
	assert_ptr_equal(b->data, before);
	assert_int_equal(buf_len(b), 5003);
	buf_free(b);
}

static void
test_steal(void **state)
{
	struct buf *b = buf_new(0);
	char *data;

	(void)state;
	buf_puts(b, "owned");
	data = buf_steal(b);
	assert_string_equal(data, "owned");
	/* b has no storage now; it is reusable after buf_init(). */
	assert_null(b->data);
	assert_int_equal(buf_len(b), 0);
	buf_init(b, 0);
	buf_puts(b, "again");
	assert_string_equal(buf_str(b), "again");
	assert_string_equal(data, "owned");
	free(data);
	/* buf_free() right after a steal is fine too. */
	buf_puts(b, "x");
	free(buf_steal(b));
	buf_free(b);
}

static void
vprintf_helper(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

static void
test_vprintf(void **state)
{
	struct buf *b = buf_new(0);

	(void)state;
	vprintf_helper(b, "%s=%lu", "size", 10240000UL);
	assert_string_equal(buf_str(b), "size=10240000");
	vprintf_helper(b, "%s", "");
	assert_int_equal(buf_len(b), 13);
	buf_free(b);
}

static void
test_overflow_fatal(void **state)
{
	char out[1024];
	int fds[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* static: LeakSanitizer must not count it at exit. */
		static struct buf *b;

		b = buf_new(0);
		dup2(fds[1], STDERR_FILENO);
		buf_puts(b, "x");
		buf_reserve(b, SIZE_MAX);	/* must not wrap around */
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EX_SOFTWARE);
	assert_non_null(strstr(out, "fatal: buffer size overflow"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_printf_large),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_vprintf),
		cmocka_unit_test(test_overflow_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
