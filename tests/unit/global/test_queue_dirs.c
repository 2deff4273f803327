/*
 * test_queue_dirs.c - unit tests for queue_dirs.c
 *
 * Each test builds a queue in a fresh temporary directory (queue_directory
 * and data_directory point into it) and checks modes, warnings, repairs
 * and refusals. Diagnostics go to a log file in the temporary directory,
 * which the tests search for the expected message. A restrictive umask
 * proves that modes are set explicitly, not left to mkdir(2). Ownership
 * changes are tested only when running as root. The parents of
 * queue_directory and data_directory (spool/ and lib/) exist, as an
 * installer makes them; without them nothing may be created.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "params.h"
#include "queue_dirs.h"

struct fixture {
	char base[64];
	struct buf queue, data, log;
	struct queue_ids ids;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
mkdir_in(const char *base, const char *name)
{
	struct buf path;
	int ret;

	buf_init(&path, 64);
	buf_printf(&path, "%s/%s", base, name);
	ret = mkdir(path.data, 0755);
	buf_fini(&path);
	return ret;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/test_queue_dirs.XXXXXX");
	assert_non_null(mkdtemp(f->base));
	buf_init(&f->queue, 64);
	buf_init(&f->data, 64);
	buf_init(&f->log, 64);
	buf_printf(&f->queue, "%s/spool/queue", f->base);
	buf_printf(&f->data, "%s/lib/data", f->base);
	buf_printf(&f->log, "%s/log", f->base);
	/* The parents that an installer makes. */
	assert_int_equal(mkdir_in(f->base, "spool"), 0);
	assert_int_equal(mkdir_in(f->base, "lib"), 0);
	var_queue_directory = f->queue.data;
	var_data_directory = f->data.data;
	f->ids.mail_uid = f->ids.root_uid = geteuid();
	f->ids.mail_gid = f->ids.setgid_gid = f->ids.root_gid = getegid();
	log_stderr(false);
	assert_int_equal(log_file(f->log.data), 0);
	msg_error_reset();
	umask(077);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	log_file(NULL);
	log_stderr(true);
	nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	buf_fini(&f->queue);
	buf_fini(&f->data);
	buf_fini(&f->log);
	free(f);
	return 0;
}

/* Path of a queue subdirectory. */
static const char *
sub(struct fixture *f, const char *name, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "%s/%s", f->queue.data, name);
	return out->data;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* True when the log holds text (a substring of one line). */
static bool
log_contains(struct fixture *f, const char *text, bool quiet)
{
	char chunk[4096];
	struct buf all;
	size_t n;
	bool found;
	FILE *fp = fopen(f->log.data, "r");

	if (fp == NULL)
		return false;
	buf_init(&all, 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&all, chunk, n);
	fclose(fp);
	found = strstr(all.data, text) != NULL;
	if (!found && !quiet)
		print_message("log does not contain \"%s\":\n%s", text,
		    all.data);
	buf_fini(&all);
	return found;
}

static bool
log_has(struct fixture *f, const char *text)
{
	return log_contains(f, text, false);
}

static bool
log_lacks(struct fixture *f, const char *text)
{
	return !log_contains(f, text, true);
}

static void
log_clear(struct fixture *f)
{
	assert_int_equal(truncate(f->log.data, 0), 0);
}

static void
test_specs(void **state)
{
	static const struct {
		const char *label;
		const char *name;
		mode_t mode;
		enum queue_owner owner;
		enum queue_group group;
	} cases[] = {
		{"maildrop", "maildrop", 01730, QUEUE_OWNER_MAIL,
		    QUEUE_GROUP_SETGID},
		{"incoming", "incoming", 0700, QUEUE_OWNER_MAIL,
		    QUEUE_GROUP_MAIL},
		{"active", "active", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"deferred", "deferred", 0700, QUEUE_OWNER_MAIL,
		    QUEUE_GROUP_MAIL},
		{"hold", "hold", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"corrupt", "corrupt", 0700, QUEUE_OWNER_MAIL,
		    QUEUE_GROUP_MAIL},
		{"bounce", "bounce", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"defer", "defer", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"trace", "trace", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"saved", "saved", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"flush", "flush", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
		{"public", "public", 0710, QUEUE_OWNER_MAIL,
		    QUEUE_GROUP_SETGID},
		{"private", "private", 0700, QUEUE_OWNER_MAIL,
		    QUEUE_GROUP_MAIL},
		{"pid", "pid", 0755, QUEUE_OWNER_ROOT, QUEUE_GROUP_ROOT},
	};
	const struct queue_dir_spec *specs;
	size_t count, i, j;

	(void)state;
	specs = queue_dir_specs(&count);
	assert_int_equal(count, sizeof(cases) / sizeof(cases[0]));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (j = 0; j < count; j++)
			if (strcmp(specs[j].name, cases[i].name) == 0)
				break;
		if (j == count)
			fail_msg("%s: not in the table", cases[i].label);
		if (specs[j].mode != cases[i].mode
		    || specs[j].owner != cases[i].owner
		    || specs[j].group != cases[i].group)
			fail_msg("%s: mode %04o owner %d group %d",
			    cases[i].label, (unsigned)specs[j].mode,
			    specs[j].owner, specs[j].group);
	}
}

static void
test_create(void **state)
{
	struct fixture *f = *state;
	const struct queue_dir_spec *specs;
	struct buf path;
	size_t count, i;
	struct stat st;

	assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
	assert_int_equal(mode_of(f->queue.data), 0755);
	assert_int_equal(mode_of(f->data.data), 0700);
	buf_init(&path, 64);
	specs = queue_dir_specs(&count);
	for (i = 0; i < count; i++) {
		sub(f, specs[i].name, &path);
		assert_int_equal(lstat(path.data, &st), 0);
		if (!S_ISDIR(st.st_mode)
		    || (st.st_mode & 07777) != specs[i].mode)
			fail_msg("%s: mode %04o, want %04o", specs[i].name,
			    (unsigned)(st.st_mode & 07777),
			    (unsigned)specs[i].mode);
		assert_int_equal(st.st_uid, geteuid());
	}
	buf_fini(&path);
	/* Created silently; a second run finds nothing to say. */
	assert_true(log_lacks(f, "warning"));
	assert_int_equal(queue_dirs_check(&f->ids, false, false), 0);
	assert_true(log_lacks(f, "warning"));
	assert_true(log_lacks(f, "error"));
	assert_int_equal(msg_error_count(), 0);
}

static void
test_wrong_mode(void **state)
{
	static const struct {
		const char *label;
		const char *dir;	/* NULL: queue_directory itself */
		mode_t bad, want;
		const char *text;
	} cases[] = {
		{"incoming 0755", "incoming", 0755, 0700,
		    "wrong mode 0755 (expected 0700)"},
		{"maildrop no sticky", "maildrop", 0730, 01730,
		    "wrong mode 0730 (expected 1730)"},
		{"public 0750", "public", 0750, 0710,
		    "wrong mode 0750 (expected 0710)"},
		{"pid 0700", "pid", 0700, 0755,
		    "wrong mode 0700 (expected 0755)"},
		{"private 0000", "private", 0, 0700,
		    "wrong mode 0000 (expected 0700)"},
		{"queue 0777", NULL, 0777, 0755,
		    "wrong mode 0777 (expected 0755)"},
	};
	struct fixture *f = *state;
	struct buf path, text;
	size_t i;

	buf_init(&path, 64);
	buf_init(&text, 64);
	assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = cases[i].dir ? sub(f, cases[i].dir, &path)
		    : f->queue.data;

		print_message("case %s\n", cases[i].label);
		log_clear(f);
		assert_int_equal(chmod(p, cases[i].bad), 0);
		buf_reset(&text);
		buf_printf(&text, "warning: %s: %s", p, cases[i].text);
		/* Detected, reported, left alone. */
		assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
		if (!log_has(f, text.data))
			fail_msg("%s: no warning", cases[i].label);
		if (mode_of(p) != cases[i].bad)
			fail_msg("%s: changed without fix", cases[i].label);
		/* Fixed. */
		assert_int_equal(queue_dirs_check(&f->ids, false, true), 0);
		if (mode_of(p) != cases[i].want)
			fail_msg("%s: not fixed: %04o", cases[i].label,
			    (unsigned)mode_of(p));
		log_clear(f);
		assert_int_equal(queue_dirs_check(&f->ids, false, false), 0);
		if (!log_lacks(f, "warning"))
			fail_msg("%s: still warns", cases[i].label);
	}
	assert_int_equal(msg_error_count(), 0);
	buf_fini(&path);
	buf_fini(&text);
}

static void
test_missing(void **state)
{
	struct fixture *f = *state;
	struct buf path, text;

	buf_init(&path, 64);
	buf_init(&text, 64);
	assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
	sub(f, "hold", &path);
	assert_int_equal(rmdir(path.data), 0);
	buf_printf(&text, "error: %s: missing directory", path.data);
	assert_int_equal(queue_dirs_check(&f->ids, false, true), 1);
	assert_true(log_has(f, text.data));
	assert_int_equal(access(path.data, F_OK), -1);
	/* create brings it back with the right mode. */
	assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
	assert_int_equal(mode_of(path.data), 0700);
	buf_fini(&path);
	buf_fini(&text);
}

static void
test_missing_queue(void **state)
{
	struct fixture *f = *state;
	struct buf text;

	buf_init(&text, 64);
	/* Neither exists: one error each, none per subdirectory. */
	assert_int_equal(queue_dirs_check(&f->ids, false, false), 2);
	assert_int_equal(msg_error_count(), 2);
	buf_printf(&text, "error: %s: missing directory", f->queue.data);
	assert_true(log_has(f, text.data));
	buf_reset(&text);
	buf_printf(&text, "error: %s: missing directory", f->data.data);
	assert_true(log_has(f, text.data));
	assert_int_equal(access(f->queue.data, F_OK), -1);

	/*
	 * An empty queue directory, not created (master's start-up): one
	 * error, not one per subdirectory (a dozen errors are fatal).
	 */
	assert_int_equal(mkdir(f->queue.data, 0755), 0);
	assert_int_equal(mkdir(f->data.data, 0700), 0);
	log_clear(f);
	msg_error_reset();
	assert_int_equal(queue_dirs_check(&f->ids, false, false), 1);
	assert_int_equal(msg_error_count(), 1);
	buf_reset(&text);
	buf_printf(&text, "error: %s/maildrop: missing directory",
	    f->queue.data);
	assert_true(log_has(f, text.data));
	assert_true(log_lacks(f, "incoming"));
	buf_fini(&text);
}

static void
test_not_directory(void **state)
{
	static const struct {
		const char *label;
		const char *dir;
		bool symlink;
		const char *text;
	} cases[] = {
		{"symlink defer", "defer", true,
		    "is a symbolic link, not a directory"},
		{"symlink pid", "pid", true,
		    "is a symbolic link, not a directory"},
		{"file trace", "trace", false, "not a directory"},
	};
	struct fixture *f = *state;
	struct buf path, target, text;
	size_t i;
	int fd;

	buf_init(&path, 64);
	buf_init(&target, 64);
	buf_init(&text, 64);
	assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
	buf_printf(&target, "%s/elsewhere", f->base);
	assert_int_equal(mkdir(target.data, 0777), 0);
	assert_int_equal(chmod(target.data, 0777), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %s\n", cases[i].label);
		sub(f, cases[i].dir, &path);
		assert_int_equal(rmdir(path.data), 0);
		if (cases[i].symlink) {
			assert_int_equal(symlink(target.data, path.data), 0);
		} else {
			fd = open(path.data, O_WRONLY | O_CREAT, 0600);
			assert_true(fd >= 0);
			close(fd);
		}
		log_clear(f);
		msg_error_reset();
		/* Not created over, not fixed, not followed. */
		if (queue_dirs_check(&f->ids, true, true) != 1)
			fail_msg("%s: not reported", cases[i].label);
		buf_reset(&text);
		buf_printf(&text, "error: %s: %s", path.data, cases[i].text);
		if (!log_has(f, text.data))
			fail_msg("%s: wrong message", cases[i].label);
		assert_int_equal(mode_of(target.data), 0777);
		assert_int_equal(unlink(path.data), 0);
		assert_int_equal(mkdir(path.data, 0700), 0);
	}
	buf_fini(&path);
	buf_fini(&target);
	buf_fini(&text);
}

/*
 * queue_directory and data_directory are made only where their parent
 * exists; a missing parent is an error naming the parameter, and
 * nothing is created on the way.
 */
static void
test_missing_parent(void **state)
{
	static const struct {
		const char *label;
		const char *queue;	/* under the base directory */
		const char *data;
		const char *make;	/* a file to create first, or NULL */
		int problems;
		const char *want;	/* %s: the base directory */
		const char *absent;	/* must not exist afterwards */
	} cases[] = {
		{"queue parent missing", "nospool/queue", "lib/data", NULL, 1,
		    "error: queue_directory: %s/nospool/queue: parent "
		    "directory %s/nospool does not exist", "nospool"},
		{"deeper typo", "a/b/c/queue", "lib/data", NULL, 1,
		    "error: queue_directory: %s/a/b/c/queue: parent "
		    "directory %s/a/b/c does not exist", "a"},
		{"trailing slash", "x/queue/", "lib/data", NULL, 1,
		    "error: queue_directory: %s/x/queue/: parent directory "
		    "%s/x does not exist", "x"},
		{"data parent missing", "spool/queue", "nolib/data", NULL, 1,
		    "error: data_directory: %s/nolib/data: parent directory "
		    "%s/nolib does not exist", "nolib"},
		{"parent is a file", "file/queue", "lib/data", "file", 1,
		    "error: queue_directory: %s/file/queue: %s/file "
		    "is not a directory", NULL},
		/* The file is higher up: it is the one named. */
		{"ancestor is a file", "afile/sub/queue", "lib/data", "afile",
		    1, "error: queue_directory: %s/afile/sub/queue: "
		    "%s/afile is not a directory", NULL},
	};
	struct fixture *f = *state;
	struct buf queue, data, want, path;
	size_t i;
	int fd;

	buf_init(&queue, 64);
	buf_init(&data, 64);
	buf_init(&want, 128);
	buf_init(&path, 64);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %s\n", cases[i].label);
		buf_reset(&queue);
		buf_printf(&queue, "%s/%s", f->base, cases[i].queue);
		buf_reset(&data);
		buf_printf(&data, "%s/%s", f->base, cases[i].data);
		var_queue_directory = queue.data;
		var_data_directory = data.data;
		if (cases[i].make != NULL) {
			buf_reset(&path);
			buf_printf(&path, "%s/%s", f->base, cases[i].make);
			fd = open(path.data, O_WRONLY | O_CREAT, 0600);
			assert_true(fd >= 0);
			close(fd);
		}
		log_clear(f);
		msg_error_reset();
		if (queue_dirs_check(&f->ids, true, true) != cases[i].problems)
			fail_msg("%s: wrong count", cases[i].label);
		buf_reset(&want);
		buf_printf(&want, cases[i].want, f->base, f->base);
		if (!log_has(f, want.data))
			fail_msg("%s: wrong message", cases[i].label);
		if (cases[i].absent != NULL) {
			buf_reset(&path);
			buf_printf(&path, "%s/%s", f->base, cases[i].absent);
			if (access(path.data, F_OK) == 0)
				fail_msg("%s: created %s", cases[i].label,
				    path.data);
		}
	}
	/* An existing parent: exactly the last component is made. */
	var_queue_directory = f->queue.data;
	var_data_directory = f->data.data;
	assert_int_equal(queue_dirs_check(&f->ids, true, false), 0);
	assert_int_equal(mode_of(f->queue.data), 0755);
	assert_int_equal(mode_of(f->data.data), 0700);
	buf_fini(&queue);
	buf_fini(&data);
	buf_fini(&want);
	buf_fini(&path);
}

/* With the configuration installed, the message names its file and line. */
static void
test_missing_parent_where(void **state)
{
	struct fixture *f = *state;
	struct conf *c = conf_new();
	struct buf text, want;

	buf_init(&text, 128);
	buf_init(&want, 128);
	buf_printf(&text, "# main.cf\nmax_use = 5\nqueue_directory = "
	    "%s/typo/queue\n", f->base);
	assert_int_equal(conf_read_text(c, text.data, "/etc/main.cf"), 0);
	conf_install(c);
	buf_reset(&text);
	buf_printf(&text, "%s/typo/queue", f->base);
	var_queue_directory = text.data;
	assert_int_equal(queue_dirs_check(&f->ids, true, false), 1);
	buf_printf(&want, "error: /etc/main.cf, line 3: queue_directory: "
	    "%s/typo/queue: parent directory %s/typo does not exist",
	    f->base, f->base);
	assert_true(log_has(f, want.data));
	/* data_directory has its default here: no file and line. */
	assert_true(log_lacks(f, "data_directory"));
	conf_install(NULL);
	buf_fini(&text);
	buf_fini(&want);
}

static void
test_relative(void **state)
{
	struct fixture *f = *state;

	var_queue_directory = "spool/queue";
	assert_int_equal(queue_dirs_check(&f->ids, true, true), 1);
	assert_true(log_has(f, "error: queue_directory: \"spool/queue\" is "
	    "not an absolute path"));
	assert_int_equal(access("spool", F_OK), -1);
}

/* As root: owners and groups come from ids and are checked and fixed. */
static void
test_owner(void **state)
{
	struct fixture *f = *state;
	struct queue_ids ids = {
		.mail_uid = 64001, .mail_gid = 64002, .setgid_gid = 64003,
		.root_uid = 0, .root_gid = 0,
	};
	struct buf path, text;
	struct stat st;

	if (geteuid() != 0)
		skip();
	buf_init(&path, 64);
	buf_init(&text, 64);
	assert_int_equal(queue_dirs_check(&ids, true, false), 0);
	assert_int_equal(lstat(sub(f, "maildrop", &path), &st), 0);
	assert_int_equal(st.st_uid, 64001);
	assert_int_equal(st.st_gid, 64003);
	assert_int_equal(st.st_mode & 07777, 01730);
	assert_int_equal(lstat(sub(f, "incoming", &path), &st), 0);
	assert_int_equal(st.st_uid, 64001);
	assert_int_equal(st.st_gid, 64002);
	assert_int_equal(lstat(sub(f, "pid", &path), &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(lstat(f->data.data, &st), 0);
	assert_int_equal(st.st_uid, 64001);

	assert_int_equal(chown(sub(f, "active", &path), 0, 64009), 0);
	assert_int_equal(queue_dirs_check(&ids, true, false), 0);
	buf_printf(&text, "warning: %s: wrong owner root (expected 64001)",
	    path.data);
	assert_true(log_has(f, text.data));
	buf_reset(&text);
	buf_printf(&text, "warning: %s: wrong group 64009 (expected 64002)",
	    path.data);
	assert_true(log_has(f, text.data));
	assert_int_equal(queue_dirs_check(&ids, false, true), 0);
	assert_int_equal(lstat(path.data, &st), 0);
	assert_int_equal(st.st_uid, 64001);
	assert_int_equal(st.st_gid, 64002);
	assert_int_equal(st.st_mode & 07777, 0700);
	buf_fini(&path);
	buf_fini(&text);
}

static void
test_resolve(void **state)
{
	struct fixture *f = *state;
	const struct passwd *pw;
	const struct group *gr;
	struct queue_ids ids;

	if (geteuid() != 0) {
		var_mail_owner = "no-such-user-petrel";
		assert_int_equal(queue_ids_resolve(&ids), 0);
		assert_int_equal(ids.mail_uid, geteuid());
		assert_int_equal(ids.root_uid, geteuid());
		assert_int_equal(ids.setgid_gid, getegid());
		assert_int_equal(ids.root_gid, getegid());
		return;
	}
	var_mail_owner = "no-such-user-petrel";
	var_setgid_group = "no-such-group-petrel";
	assert_int_equal(queue_ids_resolve(&ids), -1);
	assert_true(log_has(f, "error: mail_owner: unknown user "
	    "\"no-such-user-petrel\" (create it, or set mail_owner)"));
	assert_true(log_has(f, "error: setgid_group: unknown group "
	    "\"no-such-group-petrel\" (create it, or set setgid_group)"));
	var_mail_owner = "root";
	var_setgid_group = "root";
	assert_int_equal(queue_ids_resolve(&ids), -1);
	assert_true(log_has(f, "error: mail_owner: user \"root\" has the "
	    "super-user's uid 0"));
	/* A real unprivileged user: its uid and primary group. */
	if ((pw = getpwnam("daemon")) == NULL
	    || (gr = getgrnam("root")) == NULL)
		return;
	var_mail_owner = "daemon";
	var_setgid_group = "root";
	assert_int_equal(queue_ids_resolve(&ids), 0);
	assert_int_equal(ids.mail_uid, pw->pw_uid);
	assert_int_equal(ids.mail_gid, pw->pw_gid);
	assert_int_equal(ids.setgid_gid, gr->gr_gid);
	assert_int_equal(ids.root_uid, 0);
	assert_int_equal(ids.root_gid, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specs),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_queue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_directory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_parent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_parent_where,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
