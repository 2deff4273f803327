/*
 * test_msg.c - unit tests for msg.c and log.c
 *
 * Every case runs in a child process whose stderr is a pipe, so that
 * exits, aborts and the process-wide logging state stay out of the test
 * runner. Checked: level prefixes, printable replacement, truncation of
 * huge messages, errno and %m, the file sink's syslog layout (and that
 * lines from concurrent writers never interleave), "-" as the file,
 * exit statuses of fatal/panic, the error limit, the cleanup hook.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "msg.h"

static char tmpdir[64];
static char logpath[128];

struct child {
	int status;
	char err[16384];	/* what the child wrote to stderr */
};

/* Run fn in a child with stderr captured. */
static void
run_child(void (*fn)(void), struct child *res)
{
	int fds[2];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < sizeof(res->err) - 1 && (n = read(fds[0],
	    res->err + got, sizeof(res->err) - 1 - got)) > 0)
		got += (size_t)n;
	res->err[got] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &res->status, 0), pid);
}

static bool
exited_with(const struct child *res, int code)
{
	return WIFEXITED(res->status) && WEXITSTATUS(res->status) == code;
}

/* Children: one per case. */

static void
child_levels(void)
{
	log_init("petrel/test");
	msg_info("plain info");
	msg_warn("a warning %d", 1);
	msg_error("an error");
}

static void
child_fatal(void)
{
	log_init("petrel/test");
	msg_fatal("cannot go on: %s", "reason");
}

static void
child_fatal_status(void)
{
	log_init("petrel/test");
	msg_fatal_status(EX_CONFIG, "bad config");
}

static void
child_panic(void)
{
	log_init("petrel/test");
	msg_panic("invariant broken");
}

static void
child_printable(void)
{
	log_init("x");
	msg_warn("%s", "evil\nx: fake line\r\x01\x7f\xff\ttab");
}

static void
child_long(void)
{
	static char big[5001];

	memset(big, 'a', 5000);
	log_init("x");
	msg_info("%s", big);
}

static void
child_errno(void)
{
	log_init("x");
	errno = ENOENT;
	msg_warn("open foo: %m");
	/* errno survives logging, so callers can log then test it. */
	msg_info("errno is %s", errno == ENOENT ? "kept" : "lost");
}

static void
child_progname(void)
{
	log_init("first");
	msg_info("one");
	log_set_progname("second");
	msg_info("two %s", log_progname());
	log_stderr(false);
	msg_info("hidden");
	log_stderr(true);
	msg_info("three");
}

static void
child_error_limit(void)
{
	int i;

	log_init("x");
	for (i = 0; i < 12; i++)
		msg_error("error %d", i);
	/* 12 errors are survivable; say so on stderr. */
	msg_info("count %d", msg_error_count());
	msg_error_reset();
	msg_info("count %d", msg_error_count());
	/* No limit: any number of errors. */
	(void)msg_error_limit(0);
	for (i = 0; i < 20; i++)
		msg_error("unlimited %d", i);
	msg_error_reset();
	assert_int_equal(msg_error_limit(13), 0);
	for (i = 0; i < 13; i++)
		msg_error("again %d", i);
	msg_info("not reached");
}

static int cleanup_calls;

static void
cleanup_hook(void)
{
	cleanup_calls++;
	msg_info("cleanup %d", cleanup_calls);
	/* A fatal error inside the hook must not run it again. */
	msg_fatal("fatal in cleanup");
}

static void
other_hook(void)
{
}

static void
child_cleanup(void)
{
	log_init("x");
	if (msg_cleanup(other_hook) != NULL)
		msg_info("unexpected old hook");
	if (msg_cleanup(cleanup_hook) != other_hook)
		msg_info("wrong old hook");
	msg_fatal("first fatal");
}

static void
child_file(void)
{
	log_init("petrel/smtpd");
	if (log_file(logpath) < 0)
		_exit(3);
	if (log_file_fd() < 0)
		_exit(4);
	msg_warn("to the file");
	msg_info("also info");
}

static void
child_dash(void)
{
	log_init("petrel/master");
	if (log_file("-") < 0 || log_file_fd() != STDERR_FILENO)
		_exit(3);
	msg_info("once");
}

static void
child_file_close(void)
{
	log_init("x");
	if (log_file(logpath) < 0)
		_exit(3);
	if (log_file(NULL) < 0 || log_file_fd() != -1)
		_exit(4);
	msg_info("stderr only");
}

static void
child_syslog(void)
{
	log_init("x");
	if (log_syslog("no-such-facility") != -1 || errno != EINVAL)
		_exit(3);
	if (log_syslog("mail") != 0)
		_exit(4);
}

static void
child_concurrent(void)
{
	int i;

	log_init("petrel/writer");
	log_stderr(false);
	if (log_file(logpath) < 0)
		_exit(3);
	for (i = 0; i < 300; i++)
		msg_info("line %d from a writer with some padding text", i);
}

static void
test_stderr_cases(void **state)
{
	static const struct {
		const char *label;
		void (*fn)(void);
		int exit_code;		/* -1: killed by SIGABRT */
		const char *want;	/* exact stderr */
	} cases[] = {
		{"levels", child_levels, 0,
		    "petrel/test: plain info\n"
		    "petrel/test: warning: a warning 1\n"
		    "petrel/test: error: an error\n"},
		{"fatal", child_fatal, EX_SOFTWARE,
		    "petrel/test: fatal: cannot go on: reason\n"},
		{"fatal_status", child_fatal_status, EX_CONFIG,
		    "petrel/test: fatal: bad config\n"},
		{"panic", child_panic, -1,
		    "petrel/test: panic: invariant broken\n"},
		{"printable", child_printable, 0,
		    "x: warning: evil?x: fake line????\ttab\n"},
		{"errno and %m", child_errno, 0,
		    "x: warning: open foo: No such file or directory\n"
		    "x: errno is kept\n"},
		{"progname", child_progname, 0,
		    "first: one\nsecond: two second\nsecond: three\n"},
		{"error limit", child_error_limit, EX_SOFTWARE,
		    "x: error: error 0\nx: error: error 1\nx: error: error 2\n"
		    "x: error: error 3\nx: error: error 4\nx: error: error 5\n"
		    "x: error: error 6\nx: error: error 7\nx: error: error 8\n"
		    "x: error: error 9\nx: error: error 10\n"
		    "x: error: error 11\nx: count 12\nx: count 0\n"
		    "x: error: unlimited 0\n"
		    "x: error: unlimited 1\n"
		    "x: error: unlimited 2\n"
		    "x: error: unlimited 3\n"
		    "x: error: unlimited 4\n"
		    "x: error: unlimited 5\n"
		    "x: error: unlimited 6\n"
		    "x: error: unlimited 7\n"
		    "x: error: unlimited 8\n"
		    "x: error: unlimited 9\n"
		    "x: error: unlimited 10\n"
		    "x: error: unlimited 11\n"
		    "x: error: unlimited 12\n"
		    "x: error: unlimited 13\n"
		    "x: error: unlimited 14\n"
		    "x: error: unlimited 15\n"
		    "x: error: unlimited 16\n"
		    "x: error: unlimited 17\n"
		    "x: error: unlimited 18\n"
		    "x: error: unlimited 19\n"
		    "x: error: again 0\nx: error: again 1\nx: error: again 2\n"
		    "x: error: again 3\nx: error: again 4\nx: error: again 5\n"
		    "x: error: again 6\nx: error: again 7\nx: error: again 8\n"
		    "x: error: again 9\nx: error: again 10\n"
		    "x: error: again 11\nx: error: again 12\n"
		    "x: fatal: too many errors - program terminated\n"},
		{"cleanup hook", child_cleanup, EX_SOFTWARE,
		    "x: fatal: first fatal\nx: cleanup 1\n"
		    "x: fatal: fatal in cleanup\n"},
		{"dash is full format on stderr", child_dash, 0, NULL},
		{"file sink closed", child_file_close, 0,
		    "x: stderr only\n"},
		{"syslog facility names", child_syslog, 0, ""},
	};
	struct child res;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		run_child(cases[i].fn, &res);
		if (cases[i].exit_code < 0) {
			if (!WIFSIGNALED(res.status)
			    || WTERMSIG(res.status) != SIGABRT)
				fail_msg("case \"%s\": status %#x",
				    cases[i].label, res.status);
		} else if (!exited_with(&res, cases[i].exit_code)) {
			fail_msg("case \"%s\": status %#x, stderr \"%s\"",
			    cases[i].label, res.status, res.err);
		}
		if (cases[i].want && strcmp(res.err, cases[i].want) != 0)
			fail_msg("case \"%s\": stderr \"%s\"", cases[i].label,
			    res.err);
	}
}

static void
test_long_message(void **state)
{
	struct child res;
	size_t len;

	(void)state;
	run_child(child_long, &res);
	assert_true(exited_with(&res, 0));
	/* "x: " + 4096 'a' + "..." + "\n" */
	len = strlen(res.err);
	assert_int_equal(len, 3 + 4096 + 3 + 1);
	assert_int_equal(strspn(res.err + 3, "a"), 4096);
	assert_string_equal(res.err + len - 4, "...\n");
}

/* Short host name, as log.c puts it in file lines. */
static void
short_host(char *host, size_t len)
{
	assert_int_equal(gethostname(host, len - 1), 0);
	host[len - 1] = 0;
	host[strcspn(host, ".")] = 0;
}

/* Build an anchored regex for one file line with a literal tail. */
static void
line_regex(regex_t *re, const char *prog, const char *pid,
    const char *text)
{
	struct buf *pat = buf_new(0);
	char host[256];

	short_host(host, sizeof(host));
	buf_printf(pat, "^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
	    "[ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] %s %s\\[%s\\]: %s$",
	    host, prog, pid, text);
	assert_int_equal(regcomp(re, buf_str(pat), REG_EXTENDED | REG_NOSUB),
	    0);
	buf_free(pat);
}

static char *
read_log(void)
{
	static char text[65536];
	ssize_t n;
	int fd = open(logpath, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = 0;
	return text;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/petrel-test-msg.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/maillog", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char link_path[160];

	(void)state;
	snprintf(link_path, sizeof(link_path), "%s/link", tmpdir);
	unlink(link_path);
	unlink(logpath);
	return rmdir(tmpdir);
}

static void
test_file_sink(void **state)
{
	struct child res;
	regex_t re_warn, re_info;
	char *text, *nl, pid[32];

	(void)state;
	run_child(child_file, &res);
	assert_true(exited_with(&res, 0));
	/* Plain lines still go to stderr. */
	assert_string_equal(res.err, "petrel/smtpd: warning: to the file\n"
	    "petrel/smtpd: also info\n");
	text = read_log();
	/* The child's pid is in the line; take it from the text. */
	nl = strchr(text, '[');
	assert_non_null(nl);
	snprintf(pid, sizeof(pid), "%.*s", (int)strspn(nl + 1, "0123456789"),
	    nl + 1);
	assert_true(strlen(pid) > 0);
	line_regex(&re_warn, "petrel/smtpd", pid, "warning: to the file");
	line_regex(&re_info, "petrel/smtpd", pid, "also info");
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = 0;
	if (regexec(&re_warn, text, 0, NULL, 0) != 0)
		fail_msg("bad line \"%s\"", text);
	text = nl + 1;
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = 0;
	if (regexec(&re_info, text, 0, NULL, 0) != 0)
		fail_msg("bad line \"%s\"", text);
	assert_string_equal(nl + 1, "");
	regfree(&re_warn);
	regfree(&re_info);

	/* Appends: a second process adds its lines after the first. */
	run_child(child_file, &res);
	text = read_log();
	nl = strstr(text, "also info\n");
	assert_non_null(nl);
	assert_non_null(strstr(nl, "to the file\n"));
	assert_non_null(strstr(strstr(nl, "to the file\n"), "also info\n"));
}

static void
test_file_sink_symlink(void **state)
{
	char link_path[160];
	int fd;

	(void)state;
	snprintf(link_path, sizeof(link_path), "%s/link", tmpdir);
	fd = open(logpath, O_WRONLY | O_CREAT, 0644);
	close(fd);
	assert_int_equal(symlink(logpath, link_path), 0);
	/* log_file() must not follow a link planted as the log file. */
	assert_int_equal(log_file(link_path), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(log_file_fd(), -1);
}

static void
test_dash(void **state)
{
	struct child res;
	regex_t re;
	char pid[32], *nl;

	(void)state;
	run_child(child_dash, &res);
	assert_true(exited_with(&res, 0));
	/* Exactly one line, in the full format. */
	nl = strchr(res.err, '[');
	assert_non_null(nl);
	snprintf(pid, sizeof(pid), "%.*s", (int)strspn(nl + 1, "0123456789"),
	    nl + 1);
	line_regex(&re, "petrel/master", pid, "once");
	nl = strchr(res.err, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "");
	*nl = 0;
	if (regexec(&re, res.err, 0, NULL, 0) != 0)
		fail_msg("bad line \"%s\"", res.err);
	regfree(&re);
}

/* Two processes log 300 lines each to one file: no line is torn. */
static void
test_file_concurrent(void **state)
{
	struct child res1;
	char *text, *line, *nl;
	regex_t re;
	int lines = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_concurrent();
		_exit(0);
	}
	run_child(child_concurrent, &res1);
	waitpid(pid, NULL, 0);
	text = read_log();
	line_regex(&re, "petrel/writer", "[0-9]+",
	    "line [0-9]+ from a writer with some padding text");
	for (line = text; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = 0;
		if (regexec(&re, line, 0, NULL, 0) != 0)
			fail_msg("torn line \"%s\"", line);
		lines++;
	}
	assert_int_equal(lines, 600);
	regfree(&re);
}

static void
test_defaults(void **state)
{
	(void)state;
	/* This process never called log_init(). */
	assert_string_equal(log_progname(), "petrel");
	assert_int_equal(msg_error_count(), 0);
	msg_verbose = 2;
	assert_int_equal(msg_verbose, 2);
	msg_verbose = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_stderr_cases),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test_setup_teardown(test_file_sink, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_sink_symlink, setup,
		    teardown),
		cmocka_unit_test(test_dash),
		cmocka_unit_test_setup_teardown(test_file_concurrent, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
