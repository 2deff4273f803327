/*
 * test_maildir.c - unit tests for maildir.c
 *
 * Deliveries into a fresh temporary directory: tmp/, new/ and cur/ (and
 * missing parents) created with mode 0700, the file in new/ with exactly
 * the header lines and message lines (no From_ line, no quoting), the
 * file name's layout and host name escaping, nothing left in tmp/, a
 * trailing '/' in the directory name, unique names for many deliveries
 * with the clock frozen (clock_gettime() is replaced below, so they all
 * happen "in the same microsecond"), a name already taken in tmp/, a
 * failing source and the size limit (nothing left in tmp/ or new/), a
 * regular file where the Maildir should be, and an unwritable Maildir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "log.h"
#include "maildir.h"
#include "mbox.h"
#include "mem.h"

/*
 * The system edge: with frozen set, CLOCK_REALTIME stands still at
 * frozen_ts. This definition takes the place of the C library's for
 * everything linked into this program (maildir.c included).
 */
static bool frozen;
static struct timespec frozen_ts = {1700000000, 123456789};

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (frozen && clk == CLOCK_REALTIME) {
		*ts = frozen_ts;
		return 0;
	}
	return (int)syscall(SYS_clock_gettime, clk, ts);
}

/* ---- a message source over an array of lines ------------------------ */

struct lines_src {
	const char *const *lines;	/* NULL-terminated */
	size_t repeat;			/* hand out the lines this often */
	bool fail;			/* fail after fail_after lines */
	size_t fail_after;
	size_t i, round, count;
};

static int
lines_next(void *ctx, struct buf *line, struct buf *why)
{
	struct lines_src *s = ctx;

	if (s->lines[s->i] == NULL) {
		if (++s->round >= (s->repeat ? s->repeat : 1))
			return MBOX_SRC_END;
		s->i = 0;
	}
	if (s->fail && s->count >= s->fail_after) {
		buf_set(why, "simulated read error");
		return -1;
	}
	buf_set(line, s->lines[s->i++]);
	s->count++;
	return MBOX_SRC_LINE;
}

static struct mbox_msg
make_msg(struct lines_src *src, const char *const *headers)
{
	struct mbox_msg msg = {
		.sender = "joe@example.com",
		.headers = headers,
		.next = lines_next,
		.ctx = src,
	};

	return msg;
}

/* ---- temporary directories ------------------------------------------ */

static char *
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	struct buf path;

	buf_init(&path, 64);
	buf_printf(&path, "%s/test_maildir.XXXXXX",
	    base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(path.data));
	return buf_steal(&path);
}

static void
rm_tree(const char *dir)
{
	struct buf cmd;

	buf_init(&cmd, 64);
	buf_printf(&cmd, "chmod -R u+rwx '%s' && rm -rf '%s'", dir, dir);
	assert_int_equal(system(buf_str(&cmd)), 0);
	buf_fini(&cmd);
}

static char *
join(const char *dir, const char *name)
{
	struct buf path;

	buf_init(&path, 64);
	buf_printf(&path, "%s/%s", dir, name);
	return buf_steal(&path);
}

/* Entries of dir/sub other than . and ..; -1 if it cannot be read. */
static int
count_entries(const char *dir, const char *sub)
{
	struct dirent *de;
	char *path = join(dir, sub);
	DIR *dp;
	int n = 0;

	dp = opendir(path);
	free(path);
	if (dp == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0
		    && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static int
dir_mode(const char *dir, const char *sub)
{
	struct stat st;
	char *path = join(dir, sub);
	int ret;

	ret = stat(path, &st) == 0 && S_ISDIR(st.st_mode)
	    ? (int)(st.st_mode & 07777) : -1;
	free(path);
	return ret;
}

/* ---- tests ---------------------------------------------------------- */

static void
test_deliver(void **state)
{
	static const char *const body[] = {"Subject: hi", "", "From me",
		">From you", "body", "", NULL};
	static const char *const hdrs[] = {"Return-Path: <joe@example.com>",
		"Delivered-To: bob\nX-Evil: 1", NULL};
	static const char want[] = "Return-Path: <joe@example.com>\n"
	    "Delivered-To: bob X-Evil: 1\n"
	    "Subject: hi\n\nFrom me\n>From you\nbody\n\n";
	static const struct {
		const char *label;
		const char *sub;	/* the Maildir below the temp dir */
		const char *arg_suffix;	/* added to the argument */
	} cases[] = {
		{"plain", "Maildir", ""},
		{"trailing slash", "Maildir", "/"},
		{"two trailing slashes", "Maildir", "//"},
		{"missing parents", "a/b/Maildir", "/"},
	};
	struct buf why, name, got, arg, prefix;
	struct stat st;
	char *dir, *md;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	buf_init(&name, 64);
	buf_init(&got, 256);
	buf_init(&arg, 64);
	buf_init(&prefix, 64);
	for (i = 0; i < NELEM(cases); i++) {
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, hdrs);
		const char *label = cases[i].label;

		dir = make_tmpdir();
		md = join(dir, cases[i].sub);
		buf_set(&arg, md);
		buf_puts(&arg, cases[i].arg_suffix);
		CHECK(maildir_deliver(buf_str(&arg), NULL, &msg, &name,
		    &why) == MBOX_OK, label);
		CHECK(dir_mode(md, "tmp") == 0700, label);
		CHECK(dir_mode(md, "new") == 0700, label);
		CHECK(dir_mode(md, "cur") == 0700, label);
		CHECK(count_entries(md, "tmp") == 0, label);
		CHECK(count_entries(md, "new") == 1, label);
		CHECK(count_entries(md, "cur") == 0, label);
		buf_set(&prefix, md);
		buf_puts(&prefix, "/new/");
		CHECK(strncmp(buf_str(&name), buf_str(&prefix), prefix.len)
		    == 0, label);
		buf_reset(&got);
		CHECK(file_read(buf_str(&name), &got, 1 << 20) == 0, label);
		CHECK(got.len == sizeof(want) - 1
		    && memcmp(got.data, want, got.len) == 0, label);
		CHECK(stat(buf_str(&name), &st) == 0, label);
		CHECK((st.st_mode & 07777) == 0600, label);
		CHECK(st.st_nlink == 1, label);
		free(md);
		rm_tree(dir);
		free(dir);
	}
	buf_fini(&why);
	buf_fini(&name);
	buf_fini(&got);
	buf_fini(&arg);
	buf_fini(&prefix);
}

/* "<sec>.M<usec>P<pid>Q<n>.<host>", the host name escaped. */
static void
test_name(void **state)
{
	static const char *const body[] = {"x", NULL};
	static const struct {
		const char *label;
		const char *host;
		const char *want_host;
	} cases[] = {
		{"plain", "mx.example.com", "mx.example.com"},
		{"slash", "a/b", "a\\057b"},
		{"colon", "a:b:", "a\\072b\\072"},
	};
	struct buf why, name, want;
	char *dir, *md;
	const char *base;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	buf_init(&name, 64);
	buf_init(&want, 64);
	dir = make_tmpdir();
	md = join(dir, "Maildir");
	frozen = true;
	for (i = 0; i < NELEM(cases); i++) {
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, NULL);
		struct maildir_opts opts = {.hostname = cases[i].host};
		unsigned long q;
		int used = 0;

		CHECK(maildir_deliver(md, &opts, &msg, &name, &why) == MBOX_OK,
		    cases[i].label);
		base = strrchr(buf_str(&name), '/') + 1;
		buf_reset(&want);
		buf_printf(&want, "1700000000.M123456P%ldQ", (long)getpid());
		CHECK(strncmp(base, buf_str(&want), want.len) == 0,
		    cases[i].label);
		CHECK(sscanf(base + want.len, "%lu.%n", &q, &used) == 1
		    && used > 0, cases[i].label);
		CHECK(strcmp(base + want.len + used, cases[i].want_host) == 0,
		    cases[i].label);
	}
	/* Without opts->hostname: the system's name. */
	{
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, NULL);
		char host[256] = "";

		assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
		assert_int_equal(maildir_deliver(md, NULL, &msg, &name, &why),
		    MBOX_OK);
		base = strrchr(buf_str(&name), '.');
		assert_non_null(base);
		if (strchr(host, '/') == NULL && strchr(host, ':') == NULL)
			assert_non_null(strstr(buf_str(&name), host));
	}
	frozen = false;
	buf_fini(&why);
	buf_fini(&name);
	buf_fini(&want);
	free(md);
	rm_tree(dir);
	free(dir);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Many deliveries within one (frozen) microsecond get distinct names. */
static void
test_unique(void **state)
{
	enum { N = 200 };
	static const char *const body[] = {"x", NULL};
	char *names[N];
	struct buf why, name;
	char *dir, *md;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	buf_init(&name, 64);
	dir = make_tmpdir();
	md = join(dir, "Maildir");
	frozen = true;
	for (i = 0; i < N; i++) {
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, NULL);

		assert_int_equal(maildir_deliver(md, NULL, &msg, &name, &why),
		    MBOX_OK);
		names[i] = xstrdup(buf_str(&name));
	}
	frozen = false;
	qsort(names, N, sizeof(names[0]), cmp_str);
	for (i = 1; i < N; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			fail_msg("duplicate name %s", names[i]);
	assert_int_equal(count_entries(md, "new"), N);
	assert_int_equal(count_entries(md, "tmp"), 0);
	for (i = 0; i < N; i++)
		free(names[i]);
	buf_fini(&why);
	buf_fini(&name);
	free(md);
	rm_tree(dir);
	free(dir);
}

/* A name already taken in tmp/ (planted, or clock trouble) is skipped. */
static void
test_name_taken(void **state)
{
	static const char *const body[] = {"x", NULL};
	struct maildir_opts opts = {.hostname = "h"};
	struct buf why, name, planted, got;
	unsigned long q;
	char *dir, *md;
	const char *cp;
	int fd;

	(void)state;
	buf_init(&why, 64);
	buf_init(&name, 64);
	buf_init(&planted, 64);
	buf_init(&got, 64);
	dir = make_tmpdir();
	md = join(dir, "Maildir");
	frozen = true;
	{
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, NULL);

		assert_int_equal(maildir_deliver(md, &opts, &msg, &name, &why),
		    MBOX_OK);
	}
	cp = strrchr(buf_str(&name), 'Q');
	assert_non_null(cp);
	q = strtoul(cp + 1, NULL, 10);
	buf_printf(&planted, "%s/tmp/1700000000.M123456P%ldQ%lu.h", md,
	    (long)getpid(), q + 1);
	fd = open(buf_str(&planted), O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "planted", 7), 7);
	assert_int_equal(close(fd), 0);
	{
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, NULL);

		assert_int_equal(maildir_deliver(md, &opts, &msg, &name, &why),
		    MBOX_OK);
	}
	frozen = false;
	cp = strrchr(buf_str(&name), 'Q');
	assert_int_equal(strtoul(cp + 1, NULL, 10), q + 2);
	assert_int_equal(file_read(buf_str(&planted), &got, 100), 0);
	assert_string_equal(buf_str(&got), "planted");
	assert_int_equal(count_entries(md, "new"), 2);
	buf_fini(&why);
	buf_fini(&name);
	buf_fini(&planted);
	buf_fini(&got);
	free(md);
	rm_tree(dir);
	free(dir);
}

/* Failures midway leave nothing in tmp/ or new/. */
static void
test_failures(void **state)
{
	static char big[5000];
	static const char *const body[] = {"Subject: big", "", big, NULL};
	static const struct {
		const char *label;
		bool fail;
		size_t fail_after;
		off_t size_limit;
		int want;
		const char *want_why;
	} cases[] = {
		{"source fails at once", true, 0, 0, MBOX_SRC_ERROR,
		    "4.3.0 error reading message: simulated read error"},
		{"source fails midway", true, 150, 0, MBOX_SRC_ERROR,
		    "4.3.0 error reading message: simulated read error"},
		{"size limit", false, 0, 100000, MBOX_PERM,
		    "5.2.2 mailbox full: cannot write "},
		{"size limit in the headers", false, 0, 5, MBOX_PERM,
		    "5.2.2 mailbox full: cannot write "},
	};
	struct buf why, name;
	char *dir, *md;
	size_t i;

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	buf_init(&why, 64);
	buf_init(&name, 64);
	dir = make_tmpdir();
	md = join(dir, "Maildir");
	for (i = 0; i < NELEM(cases); i++) {
		static const char *const hdrs[] = {"Delivered-To: x", NULL};
		struct lines_src src = {.lines = body, .repeat = 100,
			.fail = cases[i].fail,
			.fail_after = cases[i].fail_after};
		struct mbox_msg msg = make_msg(&src, hdrs);
		struct maildir_opts opts = {.size_limit = cases[i].size_limit};
		const char *label = cases[i].label;

		buf_set(&name, "untouched");
		CHECK(maildir_deliver(md, &opts, &msg, &name, &why)
		    == cases[i].want, label);
		CHECK(strncmp(buf_str(&why), cases[i].want_why,
		    strlen(cases[i].want_why)) == 0, label);
		CHECK(strcmp(buf_str(&name), "untouched") == 0, label);
		CHECK(count_entries(md, "tmp") == 0, label);
		CHECK(count_entries(md, "new") == 0, label);
	}
	/* Exactly at the limit fits. */
	{
		static const char *const small[] = {"12345", NULL};
		struct lines_src src = {.lines = small};
		struct mbox_msg msg = make_msg(&src, NULL);
		struct maildir_opts opts = {.size_limit = 6};

		assert_int_equal(maildir_deliver(md, &opts, &msg, NULL, &why),
		    MBOX_OK);
		assert_int_equal(count_entries(md, "new"), 1);
	}
	buf_fini(&why);
	buf_fini(&name);
	free(md);
	rm_tree(dir);
	free(dir);
}

/* Places that cannot hold a Maildir. */
static void
test_bad_dir(void **state)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, NULL);
	struct buf why;
	char *dir, *file, *md;
	int fd;

	(void)state;
	buf_init(&why, 64);
	dir = make_tmpdir();
	file = join(dir, "file");
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* A regular file where the Maildir should be. */
	assert_int_equal(maildir_deliver(file, NULL, &msg, NULL, &why),
	    MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.0 cannot create file in "
	    "maildir ", 35) == 0);
	/* The empty name. */
	assert_int_equal(maildir_deliver("", NULL, &msg, NULL, &why),
	    MBOX_TEMP);
	/* A file where new/ should be: the tmp/ file is removed again. */
	md = join(dir, "Maildir");
	assert_int_equal(mkdir(md, 0700), 0);
	free(file);
	file = join(md, "tmp");
	assert_int_equal(mkdir(file, 0700), 0);
	free(file);
	file = join(md, "new");
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	src.i = 0;
	assert_int_equal(maildir_deliver(md, NULL, &msg, NULL, &why),
	    MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.0 cannot move ", 18) == 0);
	assert_int_equal(count_entries(md, "tmp"), 0);
	buf_fini(&why);
	free(file);
	free(md);
	rm_tree(dir);
	free(dir);
}

/*
 * An unwritable Maildir: permanent. Run in a child, as nobody when we
 * are root; the child reports by exit status.
 */
static int
unwritable_child(const char *md)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, NULL);
	struct buf why;

	if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		return 10;
	buf_init(&why, 64);
	if (maildir_deliver(md, NULL, &msg, NULL, &why) != MBOX_PERM)
		return 11;
	if (strncmp(buf_str(&why), "5.2.0 cannot create file in maildir ",
	    36) != 0 || strstr(buf_str(&why), "Permission denied") == NULL)
		return 12;
	return 0;
}

static void
test_unwritable(void **state)
{
	char *dir, *md;
	int status;
	pid_t pid;

	(void)state;
	dir = make_tmpdir();
	md = join(dir, "Maildir");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(mkdir(md, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unwritable_child(md));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_entries(md, "tmp"), -1);
	free(md);
	rm_tree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_name_taken),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_bad_dir),
		cmocka_unit_test(test_unwritable),
	};

	umask(022);
	log_init("test_maildir");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
