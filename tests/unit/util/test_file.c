/*
 * test_file.c - unit tests for file.c
 *
 * Each test runs in a fresh temporary directory. file_open_safe() is
 * attacked the way a local user would: symlinks, hard links, FIFOs,
 * directories, and a thread-free race (a child process swapping a hard
 * link to a victim file in and out while we open with O_TRUNC); the
 * victim must never be truncated. file_write_atomic() is checked for
 * content, mode, leftovers, not following symlinks, and cleanup after
 * a failed write (RLIMIT_FSIZE).
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
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "timeutil.h"

/* CHECK() of testutil.h, reporting errno as well. */
#define CHECK_ERRNO(cond, label) do { \
	if (!(cond)) \
		fail_msg("case \"%s\": %s (errno %d)", (label), #cond, errno); \
} while (0)

static char tmpdir[64];

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/petrel-test-file.XXXXXX");
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) < 0)
		return -1;
	umask(022);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (chdir("/") < 0)
		return -1;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Read a small file as a C string into a static buffer. */
static const char *
get_file(const char *path)
{
	static char text[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n < 0 ? 0 : n] = 0;
	return text;
}

static void
test_open_safe_refuses(void **state)
{
	static const struct {
		const char *label, *path;
		int flags, want_errno;
	} cases[] = {
		{"symlink, read", "link", O_RDONLY, ELOOP},
		{"symlink, create+trunc", "link", O_WRONLY | O_CREAT | O_TRUNC,
		    ELOOP},
		{"dangling symlink, create", "dangling", O_WRONLY | O_CREAT,
		    ELOOP},
		{"hard link, write+trunc", "hard", O_WRONLY | O_TRUNC, EPERM},
		{"hard link, append+create", "hard",
		    O_WRONLY | O_APPEND | O_CREAT, EPERM},
		{"victim itself has 2 links", "victim", O_RDONLY, EPERM},
		{"directory", "dir", O_RDONLY, EPERM},
		{"fifo, read (must not block)", "fifo", O_RDONLY, EPERM},
		{"fifo, write", "fifo", O_WRONLY, EPERM},
		{"exclusive on existing", "plain", O_WRONLY | O_CREAT | O_EXCL,
		    EEXIST},
		{"missing without O_CREAT", "missing", O_RDONLY, ENOENT},
		{"missing directory", "nodir/x", O_WRONLY | O_CREAT, ENOENT},
	};
	struct stat st;
	size_t i;

	(void)state;
	put_file("victim", "precious\n");
	put_file("plain", "plain\n");
	assert_int_equal(symlink("victim", "link"), 0);
	assert_int_equal(symlink("nowhere", "dangling"), 0);
	assert_int_equal(link("victim", "hard"), 0);
	assert_int_equal(mkdir("dir", 0755), 0);
	assert_int_equal(mkfifo("fifo", 0600), 0);
	alarm(10);			/* a blocked FIFO open fails the test */
	for (i = 0; i < NELEM(cases); i++) {
		errno = 0;
		CHECK_ERRNO(file_open_safe(cases[i].path, cases[i].flags, 0644,
		    &st) == -1, cases[i].label);
		CHECK_ERRNO(errno == cases[i].want_errno, cases[i].label);
	}
	alarm(0);
	assert_string_equal(get_file("victim"), "precious\n");
	assert_int_equal(lstat("nowhere", &st), -1);
}

static void
test_open_safe_opens(void **state)
{
	struct stat st, st2;
	int fd, fl;

	(void)state;
	/* Create a new file: mode honours the umask, st is filled. */
	fd = file_open_safe("new", O_WRONLY | O_CREAT, 0666, &st);
	assert_true(fd >= 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	/* Close-on-exec on, O_NONBLOCK not left behind. */
	fl = fcntl(fd, F_GETFD);
	assert_true(fl & FD_CLOEXEC);
	fl = fcntl(fd, F_GETFL);
	assert_false(fl & O_NONBLOCK);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	assert_int_equal(close(fd), 0);

	/* Existing file, O_APPEND. */
	fd = file_open_safe("new", O_WRONLY | O_APPEND | O_CREAT, 0644, NULL);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "more\n", 5), 5);
	assert_int_equal(close(fd), 0);
	assert_string_equal(get_file("new"), "hello\nmore\n");

	/* O_TRUNC empties an existing (single-link) file. */
	fd = file_open_safe("new", O_RDWR | O_TRUNC, 0644, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fstat(fd, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(close(fd), 0);
	assert_string_equal(get_file("new"), "");

	/* O_NONBLOCK, when asked for, stays. */
	fd = file_open_safe("new", O_RDONLY | O_NONBLOCK, 0, NULL);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(close(fd), 0);

	/* O_CREAT|O_EXCL on a missing file. */
	fd = file_open_safe("excl", O_WRONLY | O_CREAT | O_EXCL, 0600, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(close(fd), 0);
}

/*
 * A child keeps swapping "target" between a plain file and a hard link
 * to "victim" (rename(2) is atomic, so target always exists) while we
 * open it with O_TRUNC for half a second. No open that succeeds may be
 * of a file with a second link, and the victim must keep its content. This
 * catches an O_TRUNC applied before the checks at once, and the rename
 * window described in file.c in most runs.
 */
static void
test_open_safe_race(void **state)
{
	struct stat st, victim;
	uint64_t stop;
	pid_t pid;
	int fd, opened = 0, refused = 0, status;
	int bad_errno = 0, bad_links = 0, got_victim = 0;

	(void)state;
	put_file("victim", "precious\n");
	put_file("target", "x");
	assert_int_equal(stat("victim", &victim), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Never outlive the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		for (;;) {
			int gfd;

			if (link("victim", "evil") == 0)
				(void)rename("evil", "target");
			gfd = open("good", O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (gfd >= 0)
				close(gfd);
			(void)rename("good", "target");
		}
	}
	stop = time_mono_ms() + 500;
	while (time_mono_ms() < stop) {
		fd = file_open_safe("target", O_WRONLY | O_TRUNC, 0644, &st);
		if (fd < 0) {
			if (errno != EPERM && errno != ENOENT)
				bad_errno = errno;
			refused++;
			continue;
		}
		opened++;
		/*
		 * A link count of 0 is fine: the child renamed another file
		 * over the name after our checks, so nobody else can reach
		 * the file we hold (the stat after O_TRUNC's ftruncate can
		 * see that). A second link is what must never happen.
		 */
		if (st.st_nlink > 1)
			bad_links++;
		if (st.st_ino == victim.st_ino)
			got_victim++;
		close(fd);
	}
	/* Stop the child before any assertion can end this test. */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_int_equal(bad_errno, 0);
	assert_int_equal(bad_links, 0);
	assert_int_equal(got_victim, 0);
	assert_string_equal(get_file("victim"), "precious\n");
	/* Both outcomes happened, so the race was really run. */
	assert_true(opened > 0 && refused > 0);
}

static void
test_write_read_fd(void **state)
{
	enum { LEN = 1 << 20 };
	char *data = malloc(LEN), *back = malloc(LEN);
	int fds[2], status;
	pid_t pid;
	size_t i;

	(void)state;
	for (i = 0; i < LEN; i++)
		data[i] = (char)(i * 7 + i / 251);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The pipe holds 64 KiB: writes are short and must resume. */
		close(fds[0]);
		_exit(file_write_all(fds[1], data, LEN) == 0 ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(file_read_full(fds[0], back, LEN), LEN);
	assert_memory_equal(data, back, LEN);
	/* At EOF: a short count, then 0. */
	assert_int_equal(file_read_full(fds[0], back, 10), 0);
	close(fds[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Short read at EOF returns what there was. */
	put_file("short", "abc");
	i = (size_t)open("short", O_RDONLY);
	assert_int_equal(file_read_full((int)i, back, 100), 3);
	close((int)i);

	/* Write errors are reported: EBADF on a read-only descriptor. */
	i = (size_t)open("short", O_RDONLY);
	assert_int_equal(file_write_all((int)i, "x", 1), -1);
	assert_int_equal(errno, EBADF);
	close((int)i);
	assert_int_equal(file_write_all(1, "", 0), 0);
	free(data);
	free(back);
}

static void
test_file_read(void **state)
{
	static const struct {
		const char *label, *content;
		size_t limit;
		int ret, want_errno;
	} cases[] = {
		{"small", "hello\n", 100, 0, 0},
		{"empty", "", 100, 0, 0},
		{"exactly limit", "12345", 5, 0, 0},
		{"limit + 1", "123456", 5, -1, EFBIG},
		{"zero limit, empty", "", 0, 0, 0},
		{"zero limit, one byte", "x", 0, -1, EFBIG},
	};
	struct buf *out = buf_new(0);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		put_file("in", cases[i].content);
		buf_set(out, "prefix:");
		errno = 0;
		CHECK_ERRNO(file_read("in", out, cases[i].limit)
		    == cases[i].ret, cases[i].label);
		if (cases[i].ret == 0) {
			CHECK_ERRNO(strncmp(buf_str(out), "prefix:", 7) == 0,
			    cases[i].label);
			CHECK_ERRNO(strcmp(buf_str(out) + 7, cases[i].content)
			    == 0, cases[i].label);
			CHECK_ERRNO(buf_len(out)
			    == 7 + strlen(cases[i].content), cases[i].label);
		} else {
			CHECK_ERRNO(errno == cases[i].want_errno,
			    cases[i].label);
			/* The buffer is left as it was. */
			CHECK_ERRNO(strcmp(buf_str(out), "prefix:") == 0,
			    cases[i].label);
		}
	}

	/* Larger than one read chunk, binary. */
	{
		enum { LEN = 100000 };
		char *data = malloc(LEN);
		int fd;

		for (i = 0; i < LEN; i++)
			data[i] = (char)(i % 253);
		fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_int_equal(write(fd, data, LEN), LEN);
		close(fd);
		buf_reset(out);
		assert_int_equal(file_read("big", out, LEN), 0);
		assert_int_equal(buf_len(out), LEN);
		assert_memory_equal(buf_str(out), data, LEN);
		buf_reset(out);
		assert_int_equal(file_read("big", out, LEN - 1), -1);
		assert_int_equal(errno, EFBIG);
		assert_int_equal(buf_len(out), 0);
		free(data);
	}

	/* A file whose size stat(2) does not know (st_size == 0). */
	buf_reset(out);
	assert_int_equal(file_read("/proc/self/status", out, 1 << 20), 0);
	assert_non_null(strstr(buf_str(out), "Pid:"));
	buf_reset(out);
	assert_int_equal(file_read("/proc/self/status", out, 10), -1);
	assert_int_equal(errno, EFBIG);

	/* Configuration may sit behind a symlink: file_read follows it. */
	put_file("real", "conf\n");
	assert_int_equal(symlink("real", "alias"), 0);
	buf_reset(out);
	assert_int_equal(file_read("alias", out, 100), 0);
	assert_string_equal(buf_str(out), "conf\n");

	buf_set(out, "keep");
	assert_int_equal(file_read("missing", out, 100), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mkdir("d", 0755), 0);
	assert_int_equal(file_read("d", out, 100), -1);
	assert_int_equal(errno, EISDIR);
	assert_string_equal(buf_str(out), "keep");
	buf_free(out);
}

/* Names in the current directory, sorted and joined with spaces. */
static const char *
dir_listing(void)
{
	static char text[1024];
	struct dirent **names;
	int n, i;
	size_t off = 0;

	n = scandir(".", &names, NULL, alphasort);
	text[0] = 0;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || (strcmp(names[i]->d_name,
		    ".") != 0 && strcmp(names[i]->d_name, "..") != 0))
			off += (size_t)snprintf(text + off, sizeof(text) - off,
			    "%s%s", off ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return text;
}

static void
test_write_atomic(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(file_write_atomic("state", "one\n", 4, 0640), 0);
	assert_string_equal(get_file("state"), "one\n");
	assert_int_equal(stat("state", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(file_write_atomic("state", "two\n", 4, 0600), 0);
	assert_string_equal(get_file("state"), "two\n");
	assert_int_equal(file_write_atomic("state", "", 0, 0600), 0);
	assert_string_equal(get_file("state"), "");
	/* No temporary file is left behind. */
	assert_string_equal(dir_listing(), "state");

	/* A symlink at the target is replaced, not followed. */
	put_file("victim", "precious\n");
	assert_int_equal(symlink("victim", "pid"), 0);
	assert_int_equal(file_write_atomic("pid", "123\n", 4, 0644), 0);
	assert_int_equal(lstat("pid", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(get_file("pid"), "123\n");
	assert_string_equal(get_file("victim"), "precious\n");

	/* Missing directory, and a directory component that is a file. */
	assert_int_equal(file_write_atomic("nodir/x", "x", 1, 0644), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(file_write_atomic("state/x", "x", 1, 0644), -1);
	assert_int_equal(errno, ENOTDIR);
	/* Renaming over a directory fails and removes the temp file. */
	assert_int_equal(mkdir("adir", 0755), 0);
	assert_int_equal(file_write_atomic("adir", "x", 1, 0644), -1);
	assert_int_equal(errno, EISDIR);
	assert_string_equal(dir_listing(), "adir pid state victim");
}

/* A write that fails halfway removes the temp file, keeps the old one. */
static void
test_write_atomic_fail(void **state)
{
	enum { LEN = 100000 };
	char *data = calloc(1, LEN);
	pid_t pid;
	int status;

	(void)state;
	put_file("target", "old\n");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {4096, 4096};

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(2);
		if (file_write_atomic("target", data, LEN, 0644) != -1)
			_exit(3);
		_exit(errno == EFBIG ? 0 : 4);
	}
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(get_file("target"), "old\n");
	assert_string_equal(dir_listing(), "target");
	free(data);
}

static void
test_sync_rename(void **state)
{
	(void)state;
	put_file("a", "A");
	assert_int_equal(mkdir("sub", 0755), 0);
	assert_int_equal(file_sync_dir("a"), 0);
	assert_int_equal(file_sync_dir("sub"), 0);
	assert_int_equal(file_sync_dir("sub/not-yet"), 0);
	assert_int_equal(file_sync_dir("nodir/x"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(file_fsync(-1), -1);
	assert_int_equal(errno, EBADF);

	assert_int_equal(file_rename_sync("a", "sub/b"), 0);
	assert_string_equal(get_file("sub/b"), "A");
	assert_null(get_file("a"));
	assert_int_equal(file_rename_sync("a", "sub/c"), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_mkdir_p(void **state)
{
	static const struct {
		const char *label, *path;
		int ret, want_errno;
	} cases[] = {
		{"nested", "a/b/c", 0, 0},
		{"again", "a/b/c", 0, 0},
		{"trailing slash", "a/b/d/", 0, 0},
		{"double slash", "a//e", 0, 0},
		{"dot", ".", 0, 0},
		{"empty", "", -1, ENOENT},
		{"through a file", "file/x", -1, ENOTDIR},
		{"is a file", "file", -1, ENOTDIR},
	};
	char abs[128];
	struct stat st;
	size_t i;

	(void)state;
	put_file("file", "x");
	for (i = 0; i < NELEM(cases); i++) {
		errno = 0;
		CHECK_ERRNO(file_mkdir_p(cases[i].path, 0750) == cases[i].ret,
		    cases[i].label);
		if (cases[i].ret == 0) {
			CHECK_ERRNO(stat(cases[i].path, &st) == 0
			    && S_ISDIR(st.st_mode), cases[i].label);
		} else {
			CHECK_ERRNO(errno == cases[i].want_errno,
			    cases[i].label);
		}
	}
	assert_int_equal(stat("a/b", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(abs, sizeof(abs), "%s/x/y", tmpdir);
	assert_int_equal(file_mkdir_p(abs, 0700), 0);
	assert_int_equal(stat(abs, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(file_mkdir_p("/", 0755), 0);
}

static void
test_fd_flags(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_false(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fd_set_cloexec(fds[0], true), 0);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fd_set_cloexec(fds[0], false), 0);
	assert_false(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);

	assert_false(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(fds[0], true), 0);
	assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(fds[0], false), 0);
	assert_false(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(fd_set_cloexec(fds[0], true), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fd_set_nonblock(fds[0], true), -1);
}

static void
test_dirname(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"/var/spool/petrel/pid/master.pid", "/var/spool/petrel/pid"},
		{"dir/file", "dir"},
		{"file", "."},
		{"", "."},
		{"/file", "/"},
		{"/", "/"},
		{"//", "/"},
		{"dir/", "."},
		{"a/b/", "a"},
		{"a//b", "a"},
		{"a//b//", "a"},
		{"./x", "."},
		{"../x", ".."},
	};
	struct buf *out = buf_new(0);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		buf_set(out, "old content");	/* replaced, not appended */
		file_dirname(out, cases[i].in);
		CHECK_ERRNO(strcmp(buf_str(out), cases[i].want) == 0,
		    cases[i].in);
	}
	buf_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_safe_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_safe_opens,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_safe_race,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_fd,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_read,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_fail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_rename,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_flags,
		    setup, teardown),
		cmocka_unit_test(test_dirname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
