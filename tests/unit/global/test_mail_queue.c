/*
 * test_mail_queue.c - unit tests for mail_queue.c
 *
 * Each test runs in a fresh temporary directory used as queue_directory
 * (the current directory) with the queue subdirectories created: queue
 * names and hashing, paths, mail_queue_enter() (file under its ID, mode
 * as requested despite the umask, inode and time in the ID, no
 * temporary file left, hash directories made), open, rename (making
 * hash directories), remove, and scans that find hashed and unhashed
 * files and skip junk, symbolic links and non-hash directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_queue.h"
#include "mem.h"
#include "params.h"
#include "queue_id.h"

static const char *const queues[] = {
	"maildrop", "incoming", "active", "deferred", "hold", "corrupt",
	"bounce", "defer", "trace", "saved", NULL,
};

static int
setup(void **state)
{
	var_hash_queue_names = (char *)"deferred, defer";
	var_hash_queue_depth = 1;
	return scratch_enter((struct scratch **)state, "test_mail_queue",
	    queues);
}

static int
teardown(void **state)
{
	return scratch_leave(*state);
}

static void
test_names(void **state)
{
	static const struct {
		const char *label;
		const char *names;
		const char *queue;
		bool ok, hashed;
	} cases[] = {
		{"incoming default", "deferred, defer", "incoming", true,
		    false},
		{"deferred default", "deferred, defer", "deferred", true, true},
		{"defer default", "deferred, defer", "defer", true, true},
		{"prefix is not a match", "deferred", "defer", true, false},
		{"longer is not a match", "defer", "deferred", true, false},
		{"spaces and tabs", " \tactive ,\thold ", "hold", true, true},
		{"empty list", "", "deferred", true, false},
		{"separators only", " , ,", "deferred", true, false},
		{"unknown queue", "deferred", "flush", false, false},
		{"empty queue", "deferred", "", false, false},
		{"path", "deferred", "../deferred", false, false},
		{"saved", "saved", "saved", true, true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		var_hash_queue_names = (char *)cases[i].names;
		CHECK(mail_queue_name_ok(cases[i].queue) == cases[i].ok,
		    cases[i].label);
		CHECK(mail_queue_hashed(cases[i].queue) == cases[i].hashed,
		    cases[i].label);
	}
	for (i = 0; queues[i] != NULL; i++)
		assert_true(mail_queue_name_ok(queues[i]));
	assert_false(mail_queue_name_ok(NULL));
}

static void
test_path(void **state)
{
	static const struct {
		const char *label;
		int depth;
		const char *queue;
		const char *want;
	} cases[] = {
		{"unhashed", 1, "incoming", "incoming/04vGYlK0vRhz9HdB"},
		{"depth 1", 1, "deferred", "deferred/h/04vGYlK0vRhz9HdB"},
		{"depth 2", 2, "defer", "defer/h/R/04vGYlK0vRhz9HdB"},
		{"unhashed depth 2", 2, "active", "active/04vGYlK0vRhz9HdB"},
	};
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 8);
	for (i = 0; i < NELEM(cases); i++) {
		var_hash_queue_depth = cases[i].depth;
		buf_set(&out, "");
		mail_queue_path(&out, cases[i].queue, "04vGYlK0vRhz9HdB");
		CHECK_STR(out.data, cases[i].want, cases[i].label);
	}
	buf_fini(&out);
}

/* Names in dir other than "." and "..". */
static int
count_entries(const char *dir)
{
	struct buf cmd;
	FILE *fp;
	int n = -1;

	buf_init(&cmd, 64);
	buf_printf(&cmd, "ls -A '%s' | wc -l", dir);
	if ((fp = popen(cmd.data, "r")) != NULL) {
		if (fscanf(fp, "%d", &n) != 1)
			n = -1;
		pclose(fp);
	}
	buf_fini(&cmd);
	return n;
}

static void
test_enter(void **state)
{
	static const struct {
		const char *label;
		const char *queue;
		mode_t mode;
		mode_t umask;
	} cases[] = {
		{"incoming 0600", "incoming", 0600, 022},
		{"incoming 0600 umask 077", "incoming", 0600, 077},
		{"maildrop 0644 umask 0777", "maildrop", 0644, 0777},
		{"incoming ready mode", "incoming", 0700, 0177},
		{"hashed deferred", "deferred", 0600, 022},
	};
	struct buf id, path, want;
	struct timeval before, when, after;
	struct stat st;
	uint64_t sec;
	uint32_t usec;
	size_t i;
	mode_t old;
	char back[6];
	int fd;

	(void)state;
	buf_init(&id, 8);
	buf_init(&path, 8);
	buf_init(&want, 8);
	for (i = 0; i < NELEM(cases); i++) {
		buf_set(&id, "");
		old = umask(cases[i].umask);
		gettimeofday(&before, NULL);
		fd = mail_queue_enter(cases[i].queue, cases[i].mode, &id,
		    &when);
		gettimeofday(&after, NULL);
		umask(old);
		CHECK(fd >= 0, cases[i].label);
		CHECK(queue_id_valid(id.data), cases[i].label);
		buf_reset(&path);
		mail_queue_path(&path, cases[i].queue, id.data);
		CHECK(lstat(path.data, &st) == 0, cases[i].label);
		CHECK(S_ISREG(st.st_mode), cases[i].label);
		CHECK((st.st_mode & 07777) == cases[i].mode, cases[i].label);
		/* The descriptor is that file, open for reading and writing. */
		{
			struct stat fst;

			CHECK(fstat(fd, &fst) == 0, cases[i].label);
			CHECK(fst.st_ino == st.st_ino, cases[i].label);
		}
		CHECK(write(fd, "hello", 5) == 5, cases[i].label);
		CHECK(pread(fd, back, 5, 0) == 5, cases[i].label);
		CHECK(memcmp(back, "hello", 5) == 0, cases[i].label);
		CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, cases[i].label);
		/* The ID is the arrival time and the inode. */
		buf_reset(&want);
		queue_id_make(&want, (uint64_t)when.tv_sec,
		    (uint32_t)when.tv_usec, st.st_ino);
		CHECK_STR(id.data, want.data, cases[i].label);
		CHECK(queue_id_time(id.data, &sec, &usec) == 0,
		    cases[i].label);
		CHECK(timercmp(&before, &when, <=)
		    && timercmp(&when, &after, <=), cases[i].label);
		close(fd);
		/* Nothing left behind but the file (and its hash dir). */
		CHECK(count_entries(cases[i].queue) == 1, cases[i].label);
		CHECK(unlink(path.data) == 0, cases[i].label);
	}
	/* A hash directory was made with mode 0700. */
	assert_int_equal(lstat("deferred", &st), 0);
	buf_fini(&id);
	buf_fini(&path);
	buf_fini(&want);
}

static void
test_enter_many(void **state)
{
	enum { N = 300 };
	struct buf ids[N];
	struct stat st;
	struct mail_scan *scan;
	const char *id;
	int i, j, fd, found = 0;

	(void)state;
	var_hash_queue_depth = 2;
	for (i = 0; i < N; i++) {
		buf_init(&ids[i], 8);
		fd = mail_queue_enter(i % 2 ? "incoming" : "deferred", 0600,
		    &ids[i], NULL);
		assert_true(fd >= 0);
		close(fd);
		for (j = 0; j < i; j++)
			assert_string_not_equal(ids[i].data, ids[j].data);
	}
	/* deferred has hash directories two deep, mode 0700. */
	{
		struct buf dir;

		buf_init(&dir, 8);
		buf_set(&dir, "deferred/");
		queue_id_hash(&dir, ids[0].data, 1);
		assert_int_equal(lstat(dir.data, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0700);
		buf_set(&dir, "deferred/");
		queue_id_hash(&dir, ids[0].data, 2);
		assert_int_equal(lstat(dir.data, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		buf_fini(&dir);
	}
	assert_non_null(scan = mail_scan_open("deferred"));
	while ((id = mail_scan_next(scan)) != NULL) {
		for (j = 0; j < N; j += 2)
			if (strcmp(ids[j].data, id) == 0)
				break;
		assert_true(j < N);
		found++;
	}
	mail_scan_close(scan);
	assert_int_equal(found, N / 2);
	for (i = 0; i < N; i++) {
		assert_int_equal(mail_queue_remove(i % 2 ? "incoming"
		    : "deferred", ids[i].data), 0);
		buf_fini(&ids[i]);
	}
	assert_int_equal(count_entries("incoming"), 0);
}

static void
test_enter_errors(void **state)
{
	struct buf id;

	(void)state;
	buf_init(&id, 8);
	errno = 0;
	assert_int_equal(mail_queue_enter("flush", 0600, &id, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rmdir("hold"), 0);
	errno = 0;
	assert_int_equal(mail_queue_enter("hold", 0600, &id, NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(id.len, 0);
	buf_fini(&id);
}

static void
test_open_rename_remove(void **state)
{
	struct buf id, path;
	struct stat st;
	int fd;
	char ch;

	(void)state;
	buf_init(&id, 8);
	buf_init(&path, 8);
	fd = mail_queue_enter("incoming", 0600, &id, NULL);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);

	/* incoming -> deferred makes the hash directory. */
	buf_set(&path, "deferred/");
	queue_id_hash(&path, id.data, 1);
	assert_int_equal(lstat(path.data, &st), -1);
	assert_int_equal(mail_queue_rename(id.data, "incoming", "deferred"), 0);
	assert_int_equal(lstat(path.data, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	errno = 0;
	assert_int_equal(mail_queue_open("incoming", id.data, O_RDONLY), -1);
	assert_int_equal(errno, ENOENT);
	fd = mail_queue_open("deferred", id.data, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, &ch, 1), 1);
	assert_int_equal(ch, 'x');
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	close(fd);

	/* deferred -> active -> hold; a missing file stays ENOENT. */
	assert_int_equal(mail_queue_rename(id.data, "deferred", "active"), 0);
	assert_int_equal(mail_queue_rename(id.data, "active", "hold"), 0);
	errno = 0;
	assert_int_equal(mail_queue_rename(id.data, "active", "deferred"), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(mail_queue_rename(id.data, "active", "hold"), -1);
	assert_int_equal(errno, ENOENT);

	/* Bad names are EINVAL, before any system call. */
	errno = 0;
	assert_int_equal(mail_queue_rename("../x", "hold", "active"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(mail_queue_rename(id.data, "hold", "flush"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(mail_queue_open("hold", "x/../y", O_RDONLY), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(mail_queue_remove("..", id.data), -1);
	assert_int_equal(errno, EINVAL);

	/* A symbolic link named like an ID is not followed. */
	assert_int_equal(symlink("/etc/passwd", "active/00000000000z1"), 0);
	errno = 0;
	assert_int_equal(mail_queue_open("active", "00000000000z1",
	    O_RDONLY), -1);
	assert_int_equal(errno, ELOOP);

	assert_int_equal(mail_queue_remove("hold", id.data), 0);
	errno = 0;
	assert_int_equal(mail_queue_remove("hold", id.data), -1);
	assert_int_equal(errno, ENOENT);
	buf_fini(&id);
	buf_fini(&path);
}

static void
touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0700);

	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	close(fd);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_scan(void **state)
{
	static const char *const want[] = {
		"deferred/0/00000000001z5",
		"deferred/00000000000z0",
		"deferred/h/04vGYlK0vRhz9HdB",
		"deferred/h/R/04vGYlK0vRhz9HdC",
		"deferred/y/y/y/00000000000zy",
	};
	struct mail_scan *scan;
	const char *id;
	char *got[16];
	size_t n = 0, i;

	(void)state;
	/* Wanted: unhashed, hashed 1, 2 and 3 deep. */
	assert_int_equal(mkdir("deferred/0", 0700), 0);
	assert_int_equal(mkdir("deferred/h", 0700), 0);
	assert_int_equal(mkdir("deferred/h/R", 0700), 0);
	assert_int_equal(mkdir("deferred/y", 0700), 0);
	assert_int_equal(mkdir("deferred/y/y", 0700), 0);
	assert_int_equal(mkdir("deferred/y/y/y", 0700), 0);
	for (i = 0; i < NELEM(want); i++)
		touch(want[i]);
	/* Junk. */
	touch("deferred/.tmp.123.00000000deadbeef");
	touch("deferred/junk");
	touch("deferred/00000000000z01");
	touch("deferred/h/00000000000zA");
	assert_int_equal(mkdir("deferred/ab", 0700), 0);
	touch("deferred/ab/00000000000z2");
	assert_int_equal(mkdir("deferred/A", 0700), 0);
	touch("deferred/A/00000000000z3");
	assert_int_equal(mkdir("deferred/00000000000z4", 0700), 0);
	touch("deferred/00000000000z4/00000000000z5");
	assert_int_equal(symlink("../incoming", "deferred/Q"), 0);
	touch("incoming/00000000000z6");
	assert_int_equal(symlink("/etc/passwd", "deferred/00000000000z7"), 0);
	touch("deferred/h/R/B");	/* a file with a hash name */

	assert_non_null(scan = mail_scan_open("deferred"));
	assert_null(mail_scan_path(scan));
	while ((id = mail_scan_next(scan)) != NULL) {
		assert_true(n < NELEM(got));
		assert_true(queue_id_valid(id));
		/* The path ends with the ID. */
		assert_non_null(mail_scan_path(scan));
		assert_string_equal(mail_scan_path(scan)
		    + strlen(mail_scan_path(scan)) - strlen(id), id);
		got[n++] = xstrdup(mail_scan_path(scan));
	}
	assert_null(mail_scan_next(scan));
	mail_scan_close(scan);
	qsort(got, n, sizeof(*got), cmp_str);
	assert_int_equal(n, NELEM(want));
	for (i = 0; i < n; i++) {
		assert_string_equal(got[i], want[i]);
		free(got[i]);
	}

	/* Empty, missing and invalid queues. */
	assert_non_null(scan = mail_scan_open("hold"));
	assert_null(mail_scan_next(scan));
	mail_scan_close(scan);
	assert_int_equal(rmdir("hold"), 0);
	errno = 0;
	assert_null(mail_scan_open("hold"));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(mail_scan_open("flush"));
	assert_int_equal(errno, EINVAL);
	mail_scan_close(NULL);
}

/* A queue directory that is a symbolic link is refused. */
static void
test_scan_symlink(void **state)
{
	(void)state;
	assert_int_equal(rmdir("saved"), 0);
	assert_int_equal(symlink("incoming", "saved"), 0);
	errno = 0;
	assert_null(mail_scan_open("saved"));
	assert_true(errno == ELOOP || errno == ENOTDIR);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_names),
		T(test_path),
		T(test_enter),
		T(test_enter_many),
		T(test_enter_errors),
		T(test_open_rename_remove),
		T(test_scan),
		T(test_scan_symlink),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
