/*
 * test_mbox.c - unit tests for mbox.c and dot_lock.c
 *
 * Each test delivers into a fresh temporary directory and reads the
 * mailbox back byte for byte: the From_ line (sender, null sender,
 * unsafe bytes in the sender, date in asctime layout with TZ=UTC),
 * prepended headers (line breaks inside become spaces), mboxrd quoting
 * (a table run with the lines whole and cut into pieces of 1, 2, 3 and 4
 * bytes, so the quoting state crosses piece boundaries), the final
 * empty line, two deliveries in order, the separator written after a
 * mailbox that does not end in an empty line, refusal of a symbolic
 * link, a hard-linked file and a file owned by someone else, a dot lock
 * or fcntl lock held by someone else (temporary failure after the
 * retries), a stale dot lock removed, a directory where no dot lock can
 * be made (with and without MBOX_FLAG_DOT_LOCK_MAY_FAIL), and the
 * mailbox truncated back to exactly its old content when the source
 * fails midway, when the size limit is reached and when write(2) fails
 * under RLIMIT_FSIZE in a child that ignores SIGXFSZ. dot_lock on its
 * own: no temporary file left behind, release of a replaced lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dot_lock.h"
#include "file.h"
#include "log.h"
#include "mbox.h"

/* 1700000000 in UTC (the tests run with TZ=UTC). */
#define WHEN		1700000000
#define WHEN_TEXT	"Tue Nov 14 22:13:20 2023"

/* Short lock retries so that the busy cases take milliseconds. */
static const struct dot_lock_cfg fast_lock = {
	.tries = 3, .delay_ms = 10, .stale_sec = 500,
};

/* ---- a message source over an array of lines ------------------------ */

struct lines_src {
	const char *const *lines;	/* NULL-terminated */
	const size_t *lens;		/* NULL: strlen */
	size_t piece;			/* > 0: hand out pieces this long */
	bool fail;			/* fail after fail_after lines */
	size_t fail_after;
	size_t repeat;			/* hand out the lines this often */
	size_t i, off, round, count;
};

static int
lines_next(void *ctx, struct buf *line, struct buf *why)
{
	struct lines_src *s = ctx;
	const char *text;
	size_t len, n;

	if (s->lines[s->i] == NULL) {
		if (++s->round >= (s->repeat ? s->repeat : 1))
			return MBOX_SRC_END;
		s->i = 0;
	}
	if (s->fail && s->count >= s->fail_after) {
		buf_set(why, "simulated read error");
		return -1;
	}
	text = s->lines[s->i];
	len = s->lens ? s->lens[s->i] : strlen(text);
	if (s->piece == 0 || len - s->off <= s->piece) {
		buf_setn(line, text + s->off, len - s->off);
		s->i++;
		s->count++;
		s->off = 0;
		return MBOX_SRC_LINE;
	}
	n = s->piece;
	buf_setn(line, text + s->off, n);
	s->off += n;
	return MBOX_SRC_PART;
}

static struct mbox_msg
make_msg(struct lines_src *src, const char *sender,
    const char *const *headers)
{
	struct mbox_msg msg = {
		.sender = sender,
		.when = WHEN,
		.headers = headers,
		.next = lines_next,
		.ctx = src,
	};

	return msg;
}

/* ---- temporary directories and files -------------------------------- */

static char *
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	struct buf path;

	buf_init(&path, 64);
	buf_printf(&path, "%s/test_mbox.XXXXXX", base && *base ? base : "/tmp");
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

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(file_write_all(fd, data, len), 0);
	assert_int_equal(close(fd), 0);
}

/* The file's content; "<missing>" when it does not exist. */
static void
read_file(const char *path, struct buf *out)
{
	buf_reset(out);
	if (file_read(path, out, 64 << 20) < 0) {
		assert_int_equal(errno, ENOENT);
		buf_set(out, "<missing>");
	}
}

/* Entries in dir other than . and .. */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *dp;
	int n = 0;

	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0
		    && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static void
check_bytes(const struct buf *got, const char *want, size_t want_len,
    const char *label)
{
	if (got->len != want_len || memcmp(got->data, want, want_len) != 0)
		fail_msg("case \"%s\":\n got (%zu) \"%s\"\nwant (%zu) \"%s\"",
		    label, got->len, got->data, want_len, want);
}

/* ---- format --------------------------------------------------------- */

static void
test_format(void **state)
{
	static const char *const body[] = {"Subject: hi", "", "body", NULL};
	static const char *const hdrs[] = {"Return-Path: <joe@example.com>",
		"Delivered-To: bob@example.com",
		"X-Original-To: bob\r\nFrom evil@x", NULL};
	static const char *const bad_hdrs[] = {"From forged@x Mon", NULL};
	static const struct {
		const char *label;
		const char *sender;
		const char *const *headers;
		const char *want;
	} cases[] = {
		{"plain", "joe@example.com", NULL,
		    "From joe@example.com " WHEN_TEXT "\n"
		    "Subject: hi\n\nbody\n\n"},
		{"null sender", "", NULL,
		    "From MAILER-DAEMON " WHEN_TEXT "\n"
		    "Subject: hi\n\nbody\n\n"},
		{"NULL sender", NULL, NULL,
		    "From MAILER-DAEMON " WHEN_TEXT "\n"
		    "Subject: hi\n\nbody\n\n"},
		{"unsafe sender", "\"a b\"@x\n\tFrom\x7f", NULL,
		    "From \"a_b\"@x__From_ " WHEN_TEXT "\n"
		    "Subject: hi\n\nbody\n\n"},
		{"headers", "joe@example.com", hdrs,
		    "From joe@example.com " WHEN_TEXT "\n"
		    "Return-Path: <joe@example.com>\n"
		    "Delivered-To: bob@example.com\n"
		    "X-Original-To: bob  From evil@x\n"
		    "Subject: hi\n\nbody\n\n"},
		{"header quoted", "joe@example.com", bad_hdrs,
		    "From joe@example.com " WHEN_TEXT "\n"
		    ">From forged@x Mon\n"
		    "Subject: hi\n\nbody\n\n"},
	};
	char *dir, *path;
	struct buf why, got;
	size_t i;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	for (i = 0; i < NELEM(cases); i++) {
		struct lines_src src = {.lines = body};
		struct mbox_msg msg = make_msg(&src, cases[i].sender,
		    cases[i].headers);

		(void)unlink(path);
		CHECK(mbox_deliver(path, NULL, &msg, &why) == MBOX_OK,
		    cases[i].label);
		read_file(path, &got);
		check_bytes(&got, cases[i].want, strlen(cases[i].want),
		    cases[i].label);
	}
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* The From_ line of a delivery without msg.when is "now". */
static void
test_date_now(void **state)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	char *dir, *path, want[64];
	struct buf why, got;
	time_t before, after, t;
	struct tm tm;
	int ok = 0;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	msg.when = 0;
	before = time(NULL);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_OK);
	after = time(NULL);
	read_file(path, &got);
	for (t = before; t <= after; t++) {
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "From a@b %a %b %e %H:%M:%S %Y\n",
		    &tm);
		if (strncmp(got.data, want, strlen(want)) == 0)
			ok = 1;
	}
	assert_true(ok);
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* ---- quoting -------------------------------------------------------- */

static void
test_quoting(void **state)
{
	static const struct {
		const char *label;
		const char *line;
		size_t len;
		const char *want;
		size_t want_len;
	} cases[] = {
		{"From at start", BYTES("From me"), BYTES(">From me")},
		{"From alone", BYTES("From "), BYTES(">From ")},
		{">From", BYTES(">From me"), BYTES(">>From me")},
		{">>From", BYTES(">>From x"), BYTES(">>>From x")},
		{"space From", BYTES(" From x"), BYTES(" From x")},
		{"From without space", BYTES("From"), BYTES("From")},
		{">From without space", BYTES(">From"), BYTES(">From")},
		{"Fromage", BYTES("Fromage"), BYTES("Fromage")},
		{"From: header", BYTES("From: a@b"), BYTES("From: a@b")},
		{"from lowercase", BYTES("from x"), BYTES("from x")},
		{"Fro", BYTES("Fro"), BYTES("Fro")},
		{">Fr>From", BYTES(">Fr>From x"), BYTES(">Fr>From x")},
		{"only >", BYTES(">>>"), BYTES(">>>")},
		{"> From", BYTES("> From x"), BYTES("> From x")},
		{"empty", BYTES(""), BYTES("")},
		{"From in middle", BYTES("x From y"), BYTES("x From y")},
		{"From NUL", BYTES("From \0x"), BYTES(">From \0x")},
		{"NUL From", BYTES("\0From x"), BYTES("\0From x")},
		{"From tab", BYTES("From\tx"), BYTES("From\tx")},
	};
	static const size_t pieces[] = {0, 1, 2, 3, 4};
	char *dir, *path;
	struct buf why, got, want, label;
	size_t i, p;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	buf_init(&want, 256);
	buf_init(&label, 64);
	for (i = 0; i < NELEM(cases); i++) {
		for (p = 0; p < NELEM(pieces); p++) {
			/* The line twice, so the state resets between. */
			const char *lines[] = {cases[i].line, cases[i].line,
				NULL};
			size_t lens[] = {cases[i].len, cases[i].len, 0};
			struct lines_src src = {.lines = lines, .lens = lens,
				.piece = pieces[p]};
			struct mbox_msg msg = make_msg(&src, "a@b", NULL);

			buf_reset(&label);
			buf_printf(&label, "%s, pieces of %zu", cases[i].label,
			    pieces[p]);
			(void)unlink(path);
			CHECK(mbox_deliver(path, NULL, &msg, &why) == MBOX_OK,
			    buf_str(&label));
			buf_set(&want, "From a@b " WHEN_TEXT "\n");
			buf_append(&want, cases[i].want, cases[i].want_len);
			buf_putc(&want, '\n');
			buf_append(&want, cases[i].want, cases[i].want_len);
			buf_puts(&want, "\n\n");
			read_file(path, &got);
			check_bytes(&got, want.data, want.len,
			    buf_str(&label));
		}
	}
	buf_fini(&why);
	buf_fini(&got);
	buf_fini(&want);
	buf_fini(&label);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* A source that ends in the middle of a line: the line is ended. */
static int
part_then_end(void *ctx, struct buf *line, struct buf *why)
{
	int *calls = ctx;

	(void)why;
	if ((*calls)++ > 0)
		return MBOX_SRC_END;
	buf_set(line, "From");
	return MBOX_SRC_PART;
}

static void
test_source_ends_midline(void **state)
{
	static const char want[] = "From a@b " WHEN_TEXT "\nFrom\n\n";
	int calls = 0;
	struct mbox_msg msg = {.sender = "a@b", .when = WHEN,
		.next = part_then_end, .ctx = &calls};
	char *dir, *path;
	struct buf why, got;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_OK);
	read_file(path, &got);
	check_bytes(&got, want, sizeof(want) - 1, "midline");
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* ---- appending ------------------------------------------------------ */

static void
test_append(void **state)
{
	static const char *const one[] = {"Subject: one", "", "first", NULL};
	static const char *const two[] = {"Subject: two", "", "From me",
		"second", "", NULL};
	static const struct {
		const char *label;
		const char *before;
		const char *sep;
	} cases[] = {
		{"new mailbox", NULL, ""},
		{"empty mailbox", "", ""},
		{"ends in empty line", "old\n\n", ""},
		{"ends in newline", "old\n", "\n"},
		{"no final newline", "old", "\n\n"},
		{"single newline", "\n", ""},
		{"single byte", "x", "\n\n"},
	};
	char *dir, *path;
	struct buf why, got, want;
	struct stat st;
	size_t i;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	buf_init(&want, 256);
	for (i = 0; i < NELEM(cases); i++) {
		struct lines_src s1 = {.lines = one}, s2 = {.lines = two};
		struct mbox_msg m1 = make_msg(&s1, "a@b", NULL);
		struct mbox_msg m2 = make_msg(&s2, "c@d", NULL);

		(void)unlink(path);
		if (cases[i].before)
			write_file(path, cases[i].before,
			    strlen(cases[i].before));
		CHECK(mbox_deliver(path, NULL, &m1, &why) == MBOX_OK,
		    cases[i].label);
		CHECK(mbox_deliver(path, NULL, &m2, &why) == MBOX_OK,
		    cases[i].label);
		buf_set(&want, cases[i].before ? cases[i].before : "");
		buf_puts(&want, cases[i].sep);
		buf_puts(&want, "From a@b " WHEN_TEXT "\n"
		    "Subject: one\n\nfirst\n\n"
		    "From c@d " WHEN_TEXT "\n"
		    "Subject: two\n\n>From me\nsecond\n\n\n");
		read_file(path, &got);
		check_bytes(&got, want.data, want.len, cases[i].label);
		CHECK(stat(path, &st) == 0, cases[i].label);
		if (cases[i].before == NULL)
			CHECK((st.st_mode & 0777) == 0600, cases[i].label);
		/* No lock or temporary file is left beside the mailbox. */
		CHECK(count_entries(dir) == 1, cases[i].label);
	}
	buf_fini(&why);
	buf_fini(&got);
	buf_fini(&want);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* A large message goes out in several writes and reads back whole. */
static void
test_large(void **state)
{
	static char big[10000];
	const char *lines[] = {big, "From x", NULL};
	struct lines_src src = {.lines = lines, .repeat = 50, .piece = 4096};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	char *dir, *path;
	struct buf why, got, want;
	int i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	buf_init(&want, 600000);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_OK);
	buf_set(&want, "From a@b " WHEN_TEXT "\n");
	for (i = 0; i < 50; i++) {
		buf_puts(&want, big);
		buf_puts(&want, "\n>From x\n");
	}
	buf_puts(&want, "\n");
	read_file(path, &got);
	check_bytes(&got, want.data, want.len, "large");
	buf_fini(&why);
	buf_fini(&got);
	buf_fini(&want);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* ---- unsafe mailboxes ----------------------------------------------- */

static void
test_unsafe(void **state)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	struct mbox_opts opts = {.flags = MBOX_FLAG_DOT_LOCK | MBOX_FLAG_OWNER,
		.lock = &fast_lock};
	char *dir, *target, *path, *sub;
	struct buf why, got;

	(void)state;
	dir = make_tmpdir();
	target = join(dir, "target");
	path = join(dir, "mbox");
	sub = join(dir, "sub");
	buf_init(&why, 64);
	buf_init(&got, 256);
	write_file(target, "old\n", 4);

	/* A symbolic link to another file. */
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.0 ", 6) == 0);
	assert_non_null(strstr(buf_str(&why), "symbolic link"));
	read_file(target, &got);
	assert_string_equal(buf_str(&got), "old\n");
	assert_int_equal(unlink(path), 0);

	/* A dangling symbolic link: nothing is created at its target. */
	assert_int_equal(symlink(sub, path), 0);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_PERM);
	read_file(sub, &got);
	assert_string_equal(buf_str(&got), "<missing>");
	assert_int_equal(unlink(path), 0);

	/* A hard link to another file. */
	assert_int_equal(link(target, path), 0);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.0 ", 6) == 0);
	assert_non_null(strstr(buf_str(&why), "2 hard links"));
	read_file(target, &got);
	assert_string_equal(buf_str(&got), "old\n");
	assert_int_equal(unlink(path), 0);

	/* A directory. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.0 ", 6) == 0);
	assert_int_equal(rmdir(path), 0);

	/* Owned by someone else (MBOX_FLAG_OWNER with another uid). */
	opts.uid = getuid() + 1;
	opts.gid = getgid();
	assert_int_equal(mbox_deliver(target, &opts, &msg, &why), MBOX_PERM);
	assert_non_null(strstr(buf_str(&why), "not by the recipient"));
	read_file(target, &got);
	assert_string_equal(buf_str(&got), "old\n");

	/* Our own uid: a new mailbox is created (and given to us). */
	opts.uid = getuid();
	src.i = 0;
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_OK);
	read_file(path, &got);
	assert_string_equal(buf_str(&got), "From a@b " WHEN_TEXT "\nx\n\n");

	/* A missing directory: temporary. */
	free(path);
	path = join(sub, "mbox");
	src.i = 0;
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_TEMP);
	assert_true(strncmp(buf_str(&why), "4.3.0 ", 6) == 0);

	buf_fini(&why);
	buf_fini(&got);
	free(target);
	free(path);
	free(sub);
	rm_tree(dir);
	free(dir);
}

/* ---- locks ---------------------------------------------------------- */

static void
test_dot_lock_busy(void **state)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	struct mbox_opts opts = {.flags = MBOX_FLAG_DOT_LOCK,
		.lock = &fast_lock};
	char *dir, *path, *lock;
	struct buf why, got;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	lock = join(dir, "mbox.lock");
	buf_init(&why, 64);
	buf_init(&got, 256);
	write_file(path, "old\n\n", 5);
	write_file(lock, "", 0);
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_TEMP);
	assert_true(strncmp(buf_str(&why), "4.2.0 ", 6) == 0);
	assert_non_null(strstr(buf_str(&why), "held by another process"));
	read_file(path, &got);
	assert_string_equal(buf_str(&got), "old\n\n");
	/* Their lock is still there, and nothing else of ours. */
	read_file(lock, &got);
	assert_string_equal(buf_str(&got), "");
	assert_int_equal(count_entries(dir), 2);

	/* Without the dot lock flag, the dot lock is not looked at. */
	opts.flags = 0;
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_OK);
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	free(lock);
	rm_tree(dir);
	free(dir);
}

static void
test_dot_lock_stale(void **state)
{
	static const char *const body[] = {"x", NULL};
	static const struct dot_lock_cfg stale_lock = {
		.tries = 2, .delay_ms = 10, .stale_sec = 1,
	};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	struct mbox_opts opts = {.flags = MBOX_FLAG_DOT_LOCK,
		.lock = &stale_lock};
	char *dir, *path, *lock, *log;
	struct buf why, got;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	lock = join(dir, "mbox.lock");
	buf_init(&why, 64);
	buf_init(&got, 256);
	write_file(lock, "", 0);
	/* Fresh: still held. */
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_TEMP);
	/* More than stale_sec later: removed, with a warning. */
	usleep(1200 * 1000);
	src.i = 0;
	capture_start();
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_OK);
	log = capture_end();
	assert_non_null(strstr(log, "removed stale lock file"));
	assert_non_null(strstr(log, lock));
	free(log);
	read_file(path, &got);
	assert_string_equal(buf_str(&got), "From a@b " WHEN_TEXT "\nx\n\n");
	assert_int_equal(access(lock, F_OK), -1);
	assert_int_equal(count_entries(dir), 1);
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	free(lock);
	rm_tree(dir);
	free(dir);
}

/* Someone else holds an fcntl lock (a child process: locks are per process). */
static void
test_fcntl_busy(void **state)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	struct mbox_opts opts = {.flags = MBOX_FLAG_DOT_LOCK,
		.lock = &fast_lock};
	int ready[2], done[2], status;
	char *dir, *path, ch;
	struct buf why, got;
	pid_t pid;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	write_file(path, "old\n\n", 5);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd = open(path, O_RDWR);

		close(ready[0]);
		close(done[1]);
		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0
		    || write(ready[1], "x", 1) != 1
		    || read(done[0], &ch, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	assert_int_equal(read(ready[0], &ch, 1), 1);
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_TEMP);
	assert_true(strncmp(buf_str(&why), "4.2.0 ", 6) == 0);
	assert_non_null(strstr(buf_str(&why), "fcntl"));
	read_file(path, &got);
	assert_string_equal(buf_str(&got), "old\n\n");
	/* Our dot lock was released on the way out. */
	assert_int_equal(count_entries(dir), 1);
	close(done[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	/* Released: now it works. */
	src.i = 0;
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_OK);
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

/*
 * The directory is not writable: no dot lock can be made. Run in a
 * child, as nobody when we are root (root writes anywhere); the child
 * reports by exit status (cmocka's asserts belong to the parent).
 */
static int
unwritable_child(const char *dir, const char *path)
{
	static const char *const body[] = {"x", NULL};
	struct lines_src src = {.lines = body};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	struct mbox_opts opts = {.flags = MBOX_FLAG_DOT_LOCK,
		.lock = &fast_lock};
	struct buf why, got;
	char *log;
	int fd, ret = 0;

	if (geteuid() == 0 && (chown(dir, 65534, 65534) < 0
	    || chown(path, 65534, 65534) < 0 || setgid(65534) < 0
	    || setuid(65534) < 0))
		return 10;
	buf_init(&why, 64);
	buf_init(&got, 256);
	if (mbox_deliver(path, &opts, &msg, &why) != MBOX_PERM)
		return 11;
	if (strncmp(buf_str(&why), "5.2.0 cannot lock mailbox ", 26) != 0)
		return 12;
	read_file(path, &got);
	if (got.len != 0)
		return 13;
	opts.flags |= MBOX_FLAG_DOT_LOCK_MAY_FAIL;
	src.i = 0;
	fflush(stderr);
	capture_start();
	if (mbox_deliver(path, &opts, &msg, &why) != MBOX_OK)
		ret = 14;
	log = capture_end();
	if (ret == 0 && strstr(log, "with the fcntl lock only") == NULL)
		ret = 15;
	read_file(path, &got);
	if (ret == 0 && strcmp(buf_str(&got), "From a@b " WHEN_TEXT "\nx\n\n"))
		ret = 16;
	/* The mailbox itself must stay writable for the fcntl-only case. */
	fd = open(path, O_RDONLY);
	if (fd < 0)
		ret = 17;
	else
		close(fd);
	return ret;
}

static void
test_dot_lock_unwritable(void **state)
{
	char *dir, *path;
	int status;
	pid_t pid;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	write_file(path, "", 0);
	assert_int_equal(chmod(dir, 0500), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unwritable_child(dir, path));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(path);
	rm_tree(dir);
	free(dir);
}

static void
test_dot_lock_api(void **state)
{
	struct dot_lock lk = {0}, lk2 = {0};
	char *dir, *path, *lock, *moved;
	struct buf why;
	struct stat st;

	(void)state;
	dir = make_tmpdir();
	path = join(dir, "mbox");
	lock = join(dir, "mbox.lock");
	moved = join(dir, "moved");
	buf_init(&why, 64);

	assert_int_equal(dot_lock_acquire(&lk, path, &fast_lock, &why),
	    DOT_LOCK_OK);
	assert_string_equal(lk.path, lock);
	assert_int_equal(stat(lock, &st), 0);
	assert_int_equal(st.st_nlink, 1);	/* temporary name is gone */
	assert_int_equal(count_entries(dir), 1);
	/* Held: a second locker gives up. */
	assert_int_equal(dot_lock_acquire(&lk2, path, &fast_lock, &why),
	    DOT_LOCK_BUSY);
	assert_null(lk2.path);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(dot_lock_release(&lk, &why), 0);
	assert_null(lk.path);
	assert_int_equal(count_entries(dir), 0);
	assert_int_equal(dot_lock_release(&lk, &why), 0);	/* no-op */

	/* Replaced while we held it: the new one is left alone. */
	assert_int_equal(dot_lock_acquire(&lk, path, NULL, &why), DOT_LOCK_OK);
	assert_int_equal(rename(lock, moved), 0);
	write_file(lock, "theirs", 6);
	assert_int_equal(dot_lock_release(&lk, &why), -1);
	assert_non_null(strstr(buf_str(&why), "replaced"));
	assert_int_equal(access(lock, F_OK), 0);
	assert_int_equal(unlink(lock), 0);

	/* Removed while we held it. */
	assert_int_equal(dot_lock_acquire(&lk, path, NULL, &why), DOT_LOCK_OK);
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(dot_lock_release(&lk, &why), -1);
	assert_non_null(strstr(buf_str(&why), "removed"));

	/* No such directory. */
	free(path);
	path = join(dir, "none/mbox");
	assert_int_equal(dot_lock_acquire(&lk, path, NULL, &why),
	    DOT_LOCK_ERROR);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_str(&why), "cannot create lock file"));

	buf_fini(&why);
	free(path);
	free(lock);
	free(moved);
	rm_tree(dir);
	free(dir);
}

/* ---- failures midway ------------------------------------------------ */

/* A message big enough to be written in several pieces before failing. */
static char big_line[5000];
static const char *const big_body[] = {"Subject: big", "", big_line, NULL};

static void
test_source_error(void **state)
{
	static const char before[] = "From x Thu Jan  1 00:00:00 1970\nold\n\n";
	struct lines_src src = {.lines = big_body, .repeat = 100,
		.fail = true, .fail_after = 180};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	char *dir, *path;
	struct buf why, got;

	(void)state;
	memset(big_line, 'y', sizeof(big_line) - 1);
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	write_file(path, before, sizeof(before) - 1);
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_SRC_ERROR);
	assert_string_equal(buf_str(&why),
	    "4.3.0 error reading message: simulated read error");
	read_file(path, &got);
	check_bytes(&got, before, sizeof(before) - 1, "source error");
	assert_int_equal(count_entries(dir), 1);
	/* Failing on the very first line. */
	memset(&src, 0, sizeof(src));
	src.lines = big_body;
	src.fail = true;
	assert_int_equal(mbox_deliver(path, NULL, &msg, &why), MBOX_SRC_ERROR);
	read_file(path, &got);
	check_bytes(&got, before, sizeof(before) - 1, "first line");
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

static void
test_size_limit(void **state)
{
	static const char before[] = "From x Thu Jan  1 00:00:00 1970\nold\n\n";
	struct lines_src src = {.lines = big_body, .repeat = 100};
	struct mbox_msg msg = make_msg(&src, "a@b", NULL);
	struct mbox_opts opts = {.flags = MBOX_FLAG_DOT_LOCK,
		.size_limit = 100000};
	char *dir, *path;
	struct buf why, got;

	(void)state;
	memset(big_line, 'y', sizeof(big_line) - 1);
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&why, 64);
	buf_init(&got, 256);
	write_file(path, before, sizeof(before) - 1);
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.2 mailbox full: ", 20) == 0);
	read_file(path, &got);
	check_bytes(&got, before, sizeof(before) - 1, "size limit");
	/* Already over the limit. */
	opts.size_limit = 10;
	memset(&src, 0, sizeof(src));
	src.lines = big_body;
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_PERM);
	assert_true(strncmp(buf_str(&why), "5.2.2 mailbox full: ", 20) == 0);
	read_file(path, &got);
	check_bytes(&got, before, sizeof(before) - 1, "over limit");
	/* A message that fits. */
	opts.size_limit = 100000;
	memset(&src, 0, sizeof(src));
	src.lines = big_body;
	assert_int_equal(mbox_deliver(path, &opts, &msg, &why), MBOX_OK);
	buf_fini(&why);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* write(2) fails with EFBIG under RLIMIT_FSIZE (SIGXFSZ ignored). */
static void
test_write_error(void **state)
{
	static const char before[] = "From x Thu Jan  1 00:00:00 1970\nold\n\n";
	char *dir, *path;
	struct buf got;
	int status;
	pid_t pid;

	(void)state;
	memset(big_line, 'y', sizeof(big_line) - 1);
	dir = make_tmpdir();
	path = join(dir, "mbox");
	buf_init(&got, 256);
	write_file(path, before, sizeof(before) - 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lines_src src = {.lines = big_body, .repeat = 100};
		struct mbox_msg msg = make_msg(&src, "a@b", NULL);
		struct rlimit rl = {.rlim_cur = 70000, .rlim_max = 70000};
		struct buf why;

		buf_init(&why, 64);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(2);
		if (mbox_deliver(path, NULL, &msg, &why) != MBOX_PERM)
			_exit(3);
		if (strncmp(buf_str(&why), "5.2.2 mailbox full: cannot write ",
		    33) != 0)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	read_file(path, &got);
	check_bytes(&got, before, sizeof(before) - 1, "write error");
	assert_int_equal(count_entries(dir), 1);
	buf_fini(&got);
	free(path);
	rm_tree(dir);
	free(dir);
}

/* ---- the error classes ---------------------------------------------- */

static void
test_errno_class(void **state)
{
	static const struct {
		const char *label;
		int err;
		int want;
		const char *status;
	} cases[] = {
		{"EFBIG", EFBIG, MBOX_PERM, "5.2.2"},
		{"EDQUOT", EDQUOT, MBOX_TEMP, "4.2.2"},
		{"ENOSPC", ENOSPC, MBOX_TEMP, "4.3.1"},
		{"EAGAIN", EAGAIN, MBOX_TEMP, "4.2.0"},
		{"ESTALE", ESTALE, MBOX_TEMP, "4.2.0"},
		{"ELOOP", ELOOP, MBOX_PERM, "5.2.0"},
		{"EPERM", EPERM, MBOX_PERM, "5.2.0"},
		{"EACCES", EACCES, MBOX_PERM, "5.2.0"},
		{"EISDIR", EISDIR, MBOX_PERM, "5.2.0"},
		{"ENOTDIR", ENOTDIR, MBOX_PERM, "5.2.0"},
		{"EIO", EIO, MBOX_TEMP, "4.3.0"},
		{"EROFS", EROFS, MBOX_TEMP, "4.3.0"},
		{"ENOENT", ENOENT, MBOX_TEMP, "4.3.0"},
	};
	const char *status;
	struct buf why;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		CHECK(mbox_errno_class(cases[i].err, &status) == cases[i].want,
		    cases[i].label);
		CHECK(strcmp(status, cases[i].status) == 0, cases[i].label);
	}
	assert_int_equal(mbox_fail_errno(&why, EDQUOT, "write %s", "/m"),
	    MBOX_TEMP);
	assert_string_equal(buf_str(&why), "4.2.2 mailbox full: write /m: "
	    "Disk quota exceeded");
	assert_int_equal(mbox_fail_errno(&why, EIO, "x"), MBOX_TEMP);
	assert_string_equal(buf_str(&why), "4.3.0 x: Input/output error");
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_date_now),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_source_ends_midline),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_unsafe),
		cmocka_unit_test(test_dot_lock_busy),
		cmocka_unit_test(test_dot_lock_stale),
		cmocka_unit_test(test_fcntl_busy),
		cmocka_unit_test(test_dot_lock_unwritable),
		cmocka_unit_test(test_dot_lock_api),
		cmocka_unit_test(test_source_error),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_errno_class),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	umask(022);
	log_init("test_mbox");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
