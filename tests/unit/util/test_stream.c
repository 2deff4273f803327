/*
 * test_stream.c - unit tests for stream.c
 *
 * Runs over socketpair(2) and pipe(2), in blocking and non-blocking
 * mode: line reading (table-driven: limits, EOF mid-line, NULs), exact
 * reads across buffer boundaries, read and write timeouts (100 ms),
 * write buffering, SIGPIPE not killing us, sticky errors, and the
 * release/free contract. alarm(2) turns a hang into a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "stream.h"
#include "timeutil.h"

enum kind { SOCK, SOCK_NB, PIPE, PIPE_NB };

static const char *const kind_name[] = {
	[SOCK] = "socket", [SOCK_NB] = "non-blocking socket",
	[PIPE] = "pipe", [PIPE_NB] = "non-blocking pipe",
};

/* CHECK() (testutil.h), naming the descriptor kind as well. */
#define CHECK_K(cond, kind, label) do { \
	if (!(cond)) \
		fail_msg("%s, case \"%s\": %s", kind_name[kind], (label), \
		    #cond); \
} while (0)

/* fds[0] is the end we wrap in a stream (reading), fds[1] the peer. */
static void
make_pair(enum kind kind, int fds[2], bool stream_writes)
{
	int tmp;

	if (kind == SOCK || kind == SOCK_NB) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	} else {
		assert_int_equal(pipe(fds), 0);
		if (stream_writes) {
			tmp = fds[0];
			fds[0] = fds[1];
			fds[1] = tmp;
		}
	}
	if (kind == SOCK_NB || kind == PIPE_NB)
		assert_int_equal(fd_set_nonblock(fds[0], true), 0);
}

static void
test_get_line(void **state)
{
	static const struct {
		const char *label;
		const char *input;
		size_t input_len;
		size_t limit;
		/* Expected results, in order; NULL ends the list. */
		const char *lines[4];
		enum stream_err final;	/* error after the lines */
	} cases[] = {
		{"two lines", "HELO a\r\nQUIT\r\n", 14, 100,
		    {"HELO a\r\n", "QUIT\r\n", NULL}, STREAM_ERR_EOF},
		{"EOF mid-line", "abc\nde", 6, 100,
		    {"abc\n", "de", NULL}, STREAM_ERR_EOF},
		{"empty input", "", 0, 100, {NULL}, STREAM_ERR_EOF},
		{"empty lines", "\n\n", 2, 100, {"\n", "\n", NULL},
		    STREAM_ERR_EOF},
		{"exactly at limit", "abcd\n", 5, 5, {"abcd\n", NULL},
		    STREAM_ERR_EOF},
		{"one over limit", "abcde\n", 6, 5, {NULL}, STREAM_ERR_LIMIT},
		{"line ok, next too long", "ab\nxxxxxxxx\n", 12, 4,
		    {"ab\n", NULL}, STREAM_ERR_LIMIT},
		{"limit reached at EOF", "abcd", 4, 4, {"abcd", NULL},
		    STREAM_ERR_EOF},
		{"zero limit", "a\n", 2, 0, {NULL}, STREAM_ERR_LIMIT},
	};
	struct buf *out = buf_new(0);
	size_t i, j;
	int k;

	(void)state;
	alarm(10);
	for (k = SOCK; k <= PIPE_NB; k++) {
		for (i = 0; i < NELEM(cases); i++) {
			struct stream *s;
			int fds[2];
			ssize_t n;

			make_pair(k, fds, false);
			assert_int_equal(file_write_all(fds[1], cases[i].input,
			    cases[i].input_len), 0);
			close(fds[1]);
			s = stream_new(fds[0]);
			stream_set_timeout(s, 1000);
			for (j = 0; cases[i].lines[j]; j++) {
				buf_set(out, ">");	/* appended to */
				n = stream_get_line(s, out, cases[i].limit);
				CHECK_K(n == (ssize_t)strlen(cases[i].lines[j]),
				    k, cases[i].label);
				CHECK_K(strcmp(buf_str(out) + 1,
				    cases[i].lines[j]) == 0, k, cases[i].label);
			}
			buf_set(out, ">");
			CHECK_K(stream_get_line(s, out, cases[i].limit) == -1,
			    k, cases[i].label);
			CHECK_K(stream_error(s) == cases[i].final,
			    k, cases[i].label);
			/* Nothing of a failed line is left in out. */
			CHECK_K(strcmp(buf_str(out), ">") == 0, k,
			    cases[i].label);
			/* Errors are sticky. */
			CHECK_K(stream_get_line(s, out, 1000) == -1,
			    k, cases[i].label);
			CHECK_K(stream_getc(s) == -1, k, cases[i].label);
			CHECK_K(stream_error(s) == cases[i].final,
			    k, cases[i].label);
			stream_free(s);
		}
	}
	alarm(0);
	buf_free(out);
}

/* A NUL inside a line is data, and the length tells. */
static void
test_get_line_binary(void **state)
{
	struct buf *out = buf_new(0);
	struct stream *s;
	int fds[2];

	(void)state;
	make_pair(SOCK, fds, false);
	assert_int_equal(file_write_all(fds[1], "a\0b\n", 4), 0);
	s = stream_new(fds[0]);
	assert_int_equal(stream_get_line(s, out, 10), 4);
	assert_int_equal(buf_len(out), 4);
	assert_memory_equal(buf_str(out), "a\0b\n", 4);
	assert_int_equal(stream_pending(s), 0);
	stream_free(s);
	close(fds[1]);
	buf_free(out);
}

/* A long line arriving in pieces is reassembled. */
static void
test_get_line_pieces(void **state)
{
	enum { LEN = 30000 };
	struct buf *out = buf_new(0);
	struct stream *s;
	char *line = malloc(LEN);
	int fds[2], status;
	pid_t pid;
	size_t off;

	(void)state;
	memset(line, 'x', LEN - 1);
	line[LEN - 1] = '\n';
	make_pair(SOCK, fds, false);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		for (off = 0; off < LEN; off += 1000) {
			if (file_write_all(fds[1], line + off, 1000) < 0)
				_exit(1);
			time_sleep_ms(1);
		}
		_exit(0);
	}
	close(fds[1]);
	alarm(10);
	s = stream_new(fds[0]);
	stream_set_timeout(s, 2000);
	assert_int_equal(stream_get_line(s, out, LEN), LEN);
	assert_memory_equal(buf_str(out), line, LEN);
	assert_int_equal(stream_get_line(s, out, LEN), -1);
	assert_int_equal(stream_error(s), STREAM_ERR_EOF);
	alarm(0);
	stream_free(s);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(line);
	buf_free(out);
}

static void
test_read_exact(void **state)
{
	enum { LEN = 200000 };
	static const size_t chunks[] = {1, 7, 100, 8191, 8192, 8193, 50000};
	unsigned char *data = malloc(LEN), *back = malloc(LEN);
	struct stream *s;
	int fds[2], status, k, ch;
	size_t off, n, c;
	pid_t pid;

	(void)state;
	for (off = 0; off < LEN; off++)
		data[off] = (unsigned char)(off * 31 + off / 977);
	alarm(20);
	for (k = SOCK; k <= PIPE_NB; k++) {
		make_pair(k, fds, false);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			_exit(file_write_all(fds[1], data, LEN) == 0 ? 0 : 1);
		}
		close(fds[1]);
		s = stream_new(fds[0]);
		stream_set_timeout(s, 5000);
		memset(back, 0, LEN);
		/* Mix getc, small reads and reads larger than the buffer. */
		ch = stream_getc(s);
		assert_int_equal(ch, data[0]);
		back[0] = (unsigned char)ch;
		for (off = 1, c = 0; off < LEN; off += n, c++) {
			n = chunks[c % NELEM(chunks)];
			if (n > LEN - off)
				n = LEN - off;
			if (stream_read(s, back + off, n) != 0)
				fail_msg("%s: read failed at %zu", kind_name[k],
				    off);
		}
		assert_memory_equal(data, back, LEN);
		assert_int_equal(stream_read(s, back, 1), -1);
		assert_int_equal(stream_error(s), STREAM_ERR_EOF);
		stream_free(s);
		waitpid(pid, &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	alarm(0);
	free(data);
	free(back);
}

/* EOF in the middle of an exact read is an error. */
static void
test_read_short(void **state)
{
	unsigned char back[10];
	struct stream *s;
	int fds[2];

	(void)state;
	make_pair(PIPE, fds, false);
	assert_int_equal(file_write_all(fds[1], "12345", 5), 0);
	close(fds[1]);
	s = stream_new(fds[0]);
	assert_int_equal(stream_read(s, back, 10), -1);
	assert_int_equal(stream_error(s), STREAM_ERR_EOF);
	stream_free(s);
}

static void
test_read_timeout(void **state)
{
	struct buf *out = buf_new(0);
	uint64_t start, elapsed;
	int k;

	(void)state;
	alarm(10);
	for (k = SOCK; k <= PIPE_NB; k++) {
		struct stream *s;
		int fds[2];

		make_pair(k, fds, false);
		s = stream_new(fds[0]);
		stream_set_timeout(s, 100);
		/* A partial line, then silence. */
		assert_int_equal(file_write_all(fds[1], "partial", 7), 0);
		start = time_mono_ms();
		if (stream_get_line(s, out, 100) != -1)
			fail_msg("%s: no timeout", kind_name[k]);
		elapsed = time_mono_ms() - start;
		CHECK(stream_error(s) == STREAM_ERR_TIMEOUT, kind_name[k]);
		CHECK(elapsed >= 95 && elapsed < 1000, kind_name[k]);
		CHECK(buf_len(out) == 0, kind_name[k]);
		stream_free(s);
		close(fds[1]);
	}
	alarm(0);
	buf_free(out);
}

/* Fill the peer's receive buffer; the flush must time out, not hang. */
static void
test_write_timeout(void **state)
{
	enum { LEN = 1 << 20 };
	char *data = calloc(1, LEN);
	uint64_t start, elapsed;
	int k;

	(void)state;
	alarm(10);
	for (k = SOCK; k <= PIPE_NB; k++) {
		struct stream *s;
		int fds[2];

		make_pair(k, fds, true);
		s = stream_new(fds[0]);
		stream_set_timeout(s, 100);
		start = time_mono_ms();
		/* 1 MiB is more than any socket or pipe buffer holds. */
		if (stream_write(s, data, LEN) == 0 && stream_flush(s) == 0)
			fail_msg("%s: no timeout", kind_name[k]);
		elapsed = time_mono_ms() - start;
		CHECK(stream_error(s) == STREAM_ERR_TIMEOUT, kind_name[k]);
		CHECK(elapsed >= 95 && elapsed < 1000, kind_name[k]);
		CHECK(stream_puts(s, "x") == -1, kind_name[k]);
		/* stream_free() must not block on the unflushable buffer. */
		start = time_mono_ms();
		stream_free(s);
		CHECK(time_mono_ms() - start < 500, kind_name[k]);
		close(fds[1]);
	}
	alarm(0);
	free(data);
}

/* Output is buffered until flush; then the peer sees all of it. */
static void
test_write_buffered(void **state)
{
	struct buf *out = buf_new(0);
	struct stream *s, *peer;
	char byte;
	int fds[2];

	(void)state;
	make_pair(SOCK, fds, true);
	s = stream_new(fds[0]);
	stream_set_timeout(s, 1000);
	assert_int_equal(stream_puts(s, "220 host ESMTP\r\n"), 0);
	assert_int_equal(stream_printf(s, "250-%s %d\r\n", "SIZE", 10240000),
	    0);
	assert_int_equal(stream_write(s, "250 OK\r\n", 8), 0);
	/* Nothing has reached the peer yet. */
	assert_int_equal(recv(fds[1], &byte, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_int_equal(stream_flush(s), 0);
	assert_int_equal(stream_flush(s), 0);	/* empty flush is fine */
	peer = stream_new(fds[1]);
	stream_set_timeout(peer, 1000);
	assert_int_equal(stream_get_line(peer, out, 100), 16);
	assert_string_equal(buf_str(out), "220 host ESMTP\r\n");
	buf_reset(out);
	assert_int_equal(stream_get_line(peer, out, 100), 19);
	assert_string_equal(buf_str(out), "250-SIZE 10240000\r\n");
	buf_reset(out);
	assert_int_equal(stream_get_line(peer, out, 100), 8);
	assert_string_equal(buf_str(out), "250 OK\r\n");

	/* Pending output goes out when the stream is freed. */
	assert_int_equal(stream_puts(s, "221 bye\r\n"), 0);
	stream_free(s);
	buf_reset(out);
	assert_int_equal(stream_get_line(peer, out, 100), 9);
	assert_string_equal(buf_str(out), "221 bye\r\n");
	assert_int_equal(stream_get_line(peer, out, 100), -1);
	assert_int_equal(stream_error(peer), STREAM_ERR_EOF);
	stream_free(peer);
	buf_free(out);
}

/* Large writes (bigger than the buffer) arrive intact and in order. */
static void
test_write_large(void **state)
{
	enum { LEN = 100000 };
	unsigned char *data = malloc(LEN), *back = malloc(LEN);
	struct stream *s;
	int fds[2], status, k;
	size_t off;
	pid_t pid;

	(void)state;
	for (off = 0; off < LEN; off++)
		data[off] = (unsigned char)(off ^ (off >> 8));
	alarm(20);
	for (k = SOCK; k <= PIPE_NB; k++) {
		make_pair(k, fds, true);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			_exit(file_read_full(fds[1], back, LEN) == LEN
			    && memcmp(back, data, LEN) == 0 ? 0 : 1);
		}
		close(fds[1]);
		s = stream_new(fds[0]);
		stream_set_timeout(s, 5000);
		assert_int_equal(stream_write(s, data, 10), 0);
		assert_int_equal(stream_write(s, data + 10, 20000), 0);
		assert_int_equal(stream_write(s, data + 20010, LEN - 20010), 0);
		assert_int_equal(stream_flush(s), 0);
		stream_free(s);
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("%s: peer saw wrong data", kind_name[k]);
	}
	alarm(0);
	free(data);
	free(back);
}

/* Writing to a peer that is gone fails with EPIPE; we stay alive. */
static void
test_sigpipe(void **state)
{
	struct sigaction sa, old_sa;
	sigset_t pending;
	int k;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, &old_sa), 0);
	for (k = SOCK; k <= PIPE_NB; k++) {
		struct stream *s;
		int fds[2];

		make_pair(k, fds, true);
		close(fds[1]);
		s = stream_new(fds[0]);
		stream_set_timeout(s, 1000);
		assert_int_equal(stream_puts(s, "hello\n"), 0);
		errno = 0;
		CHECK(stream_flush(s) == -1, kind_name[k]);
		CHECK(errno == EPIPE, kind_name[k]);
		CHECK(stream_error(s) == STREAM_ERR_IO, kind_name[k]);
		stream_free(s);
		/* No SIGPIPE left pending to hit us later. */
		assert_int_equal(sigpending(&pending), 0);
		CHECK(!sigismember(&pending, SIGPIPE), kind_name[k]);
	}
	assert_int_equal(sigaction(SIGPIPE, &old_sa, NULL), 0);
}

static void
test_release(void **state)
{
	struct stream *s;
	char back[16];
	int fds[2], fd;

	(void)state;
	make_pair(SOCK, fds, true);
	s = stream_new(fds[0]);
	assert_int_equal(stream_fd(s), fds[0]);
	assert_int_equal(stream_puts(s, "pending"), 0);
	fd = stream_release(s);
	assert_int_equal(fd, fds[0]);
	/* Still open, and the pending output was flushed first. */
	assert_true(fcntl(fd, F_GETFD) >= 0);
	assert_int_equal(file_read_full(fds[1], back, 7), 7);
	assert_memory_equal(back, "pending", 7);
	close(fd);
	close(fds[1]);

	/* stream_free() closes the descriptor. */
	make_pair(PIPE, fds, false);
	s = stream_new(fds[0]);
	stream_free(s);
	assert_int_equal(fcntl(fds[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	close(fds[1]);
	stream_free(NULL);
}

static void
test_pending(void **state)
{
	struct buf *out = buf_new(0);
	struct stream *s;
	int fds[2];

	(void)state;
	make_pair(SOCK, fds, false);
	assert_int_equal(file_write_all(fds[1], "one\ntwo\nthree", 13), 0);
	s = stream_new(fds[0]);
	assert_int_equal(stream_pending(s), 0);
	assert_int_equal(stream_getc(s), 'o');
	/* One read(2) took everything that was there. */
	assert_int_equal(stream_pending(s), 12);
	assert_int_equal(stream_get_line(s, out, 10), 3);
	assert_string_equal(buf_str(out), "ne\n");
	assert_int_equal(stream_pending(s), 9);
	stream_free(s);
	close(fds[1]);
	buf_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_line),
		cmocka_unit_test(test_get_line_binary),
		cmocka_unit_test(test_get_line_pieces),
		cmocka_unit_test(test_read_exact),
		cmocka_unit_test(test_read_short),
		cmocka_unit_test(test_read_timeout),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_write_buffered),
		cmocka_unit_test(test_write_large),
		cmocka_unit_test(test_sigpipe),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
