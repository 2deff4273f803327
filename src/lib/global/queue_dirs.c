/*
 * queue_dirs.c - the queue directories, their owners and modes
 *
 * queue_ids_resolve() turns mail_owner and setgid_group into ids (or the
 * invoking user's ids for an instance run by an ordinary user), and
 * queue_dirs_check() compares queue_directory, data_directory and every
 * queue subdirectory with the table below: `petrel check` creates what is
 * missing, `petrel set-permissions` also repairs owners and modes.
 *
 * Every check uses lstat(2): a symbolic link where a directory should be
 * is an error, never followed. Repairs go through a descriptor opened
 * with O_NOFOLLOW (or the *at(2) calls that do not follow links), so a
 * link swapped in between the check and the repair cannot redirect a
 * chown(2) or chmod(2) to some other file.
 *
 * queue_directory and data_directory are created only when their parent
 * exists: a typo in main.cf must fail with a message naming the
 * parameter, not build a new tree somewhere (mkdir -p would). Making
 * their parent directories is the installer's job.
 *
 * When not running as root, every owner and group is the invoking user
 * and groups are not checked at all: an ordinary user cannot give a
 * directory away, and the group a directory inherits from its parent is
 * of no consequence for a single-user instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "msg.h"
#include "params.h"
#include "queue_dirs.h"

#define QUEUE_DIR_MODE		0755	/* queue_directory: root, world x */
#define DATA_DIR_MODE		0700	/* data_directory: mail_owner only */

/*
 * maildrop is 1730: postdrop (set-gid setgid_group) may create files but
 * not list them, and the sticky bit stops users from removing each
 * other's files. public is 0710 so that set-gid commands reach the
 * public sockets; everything else belongs to mail_owner alone. pid holds
 * master's lock file and stays root's.
 */
static const struct queue_dir_spec queue_dir_table[] = {
	{"maildrop", 01730, QUEUE_OWNER_MAIL, QUEUE_GROUP_SETGID},
	{"incoming", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"active", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"deferred", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"hold", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"corrupt", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"bounce", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"defer", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"trace", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"saved", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"flush", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"public", 0710, QUEUE_OWNER_MAIL, QUEUE_GROUP_SETGID},
	{"private", 0700, QUEUE_OWNER_MAIL, QUEUE_GROUP_MAIL},
	{"pid", 0755, QUEUE_OWNER_ROOT, QUEUE_GROUP_ROOT},
};

/* What one directory must look like. */
struct queue_dir_want {
	const char *path;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	bool check_group;	/* false when not running as root */
	const char *param;	/* top directory: the parameter naming it */
};

const struct queue_dir_spec *
queue_dir_specs(size_t *count)
{
	*count = sizeof(queue_dir_table) / sizeof(queue_dir_table[0]);
	return queue_dir_table;
}

int
queue_ids_resolve(struct queue_ids *ids)
{
	const struct passwd *pw;
	const struct group *gr;
	int errors = 0;

	if (geteuid() != 0) {
		ids->mail_uid = ids->root_uid = geteuid();
		ids->mail_gid = ids->setgid_gid = ids->root_gid = getegid();
		return 0;
	}
	ids->root_uid = 0;
	ids->root_gid = 0;
	ids->mail_uid = (uid_t)-1;
	ids->mail_gid = ids->setgid_gid = (gid_t)-1;
	if ((pw = getpwnam(var_mail_owner)) == NULL) {
		msg_error("mail_owner: unknown user \"%s\" "
		    "(create it, or set mail_owner)", var_mail_owner);
		errors++;
	} else if (pw->pw_uid == 0) {
		/* The daemons would keep every privilege; refuse. */
		msg_error("mail_owner: user \"%s\" has the super-user's uid 0 "
		    "(use an unprivileged user)", var_mail_owner);
		errors++;
	} else {
		ids->mail_uid = pw->pw_uid;
		ids->mail_gid = pw->pw_gid;
	}
	if ((gr = getgrnam(var_setgid_group)) == NULL) {
		msg_error("setgid_group: unknown group \"%s\" "
		    "(create it, or set setgid_group)", var_setgid_group);
		errors++;
	} else {
		ids->setgid_gid = gr->gr_gid;
	}
	return errors ? -1 : 0;
}

/* User name for messages, else the number. */
static void
queue_uid_name(struct buf *out, uid_t uid)
{
	const struct passwd *pw = getpwuid(uid);

	buf_reset(out);
	if (pw)
		buf_puts(out, pw->pw_name);
	else
		buf_printf(out, "%lu", (unsigned long)uid);
}

static void
queue_gid_name(struct buf *out, gid_t gid)
{
	const struct group *gr = getgrgid(gid);

	buf_reset(out);
	if (gr)
		buf_puts(out, gr->gr_name);
	else
		buf_printf(out, "%lu", (unsigned long)gid);
}

/*
 * Give an existing directory its owner (when do_chown is true) and mode.
 * st, when not NULL, is what lstat() saw; a different inode now means
 * somebody replaced the directory meanwhile. Returns 0 or 1 (reported).
 */
static int
queue_dir_set(const struct queue_dir_want *w, const struct stat *st,
    bool do_chown)
{
	gid_t gid = w->check_group ? w->gid : (gid_t)-1;
	struct stat now;
	int fd;

	fd = open(w->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != EACCES) {
		msg_error("%s: cannot open directory: %m", w->path);
		return 1;
	}
	if (fd < 0) {
		/*
		 * A directory of ours without read permission (not root).
		 * lchown() and fchmodat(AT_SYMLINK_NOFOLLOW) act on a link
		 * itself if one appeared, never on what it points to.
		 */
		if (do_chown && lchown(w->path, w->uid, gid) < 0) {
			msg_error("%s: cannot change owner: %m", w->path);
			return 1;
		}
		if (fchmodat(AT_FDCWD, w->path, w->mode,
		    AT_SYMLINK_NOFOLLOW) < 0) {
			msg_error("%s: cannot change mode to %04o: %m",
			    w->path, (unsigned)w->mode);
			return 1;
		}
		return 0;
	}
	if (fstat(fd, &now) < 0) {
		msg_error("%s: cannot stat directory: %m", w->path);
		goto fail;
	}
	if (st && (now.st_dev != st->st_dev || now.st_ino != st->st_ino)) {
		msg_error("%s: directory was replaced while being checked",
		    w->path);
		goto fail;
	}
	/* chown first: it may clear set-id bits that chmod then sets. */
	if (do_chown && fchown(fd, w->uid, gid) < 0) {
		msg_error("%s: cannot change owner: %m", w->path);
		goto fail;
	}
	if (fchmod(fd, w->mode) < 0) {
		msg_error("%s: cannot change mode to %04o: %m", w->path,
		    (unsigned)w->mode);
		goto fail;
	}
	if (close(fd) < 0) {
		msg_error("%s: close: %m", w->path);
		return 1;
	}
	return 0;
fail:
	close(fd);
	return 1;
}

/*
 * "main.cf, line 3: queue_directory: " for a top directory (without the
 * file and line when the parameter has its default), else nothing.
 */
static void
queue_dir_where(const struct queue_dir_want *w, struct buf *out)
{
	if (w->param == NULL)
		return;
	if (conf_where_name(conf_current(), w->param, out))
		buf_puts(out, ": ");
	buf_printf(out, "%s: ", w->param);
}

/* Cut path (a buf) after its last component: "/a/b" -> "/a", "a" -> ".". */
static void
queue_dir_up(struct buf *path)
{
	const char *slash = strrchr(path->data, '/');

	if (slash == NULL)
		buf_set(path, ".");
	else
		buf_truncate(path, slash == path->data ? 1
		    : (size_t)(slash - path->data));
}

/*
 * lstat() or mkdir() of w->path failed with errno: say why, naming a
 * missing parent, or the ancestor that is not a directory.
 */
static void
queue_dir_error(const struct queue_dir_want *w, const char *what)
{
	int saved = errno;
	struct buf where, parent;
	size_t len = strlen(w->path);
	struct stat st;

	buf_init(&where, 64);
	buf_init(&parent, 64);
	queue_dir_where(w, &where);
	/* The parent: drop trailing slashes, then the last component. */
	while (len > 1 && w->path[len - 1] == '/')
		len--;
	buf_append(&parent, w->path, len);
	queue_dir_up(&parent);
	if (saved == ENOENT && lstat(parent.data, &st) < 0
	    && errno == ENOENT) {
		msg_error("%s%s: parent directory %s does not exist",
		    where.data, w->path, parent.data);
	} else if (saved == ENOTDIR) {
		/* The nearest ancestor that exists is the culprit. */
		while (lstat(parent.data, &st) < 0 && strcmp(parent.data, "/")
		    && strcmp(parent.data, "."))
			queue_dir_up(&parent);
		msg_error("%s%s: %s is not a directory", where.data,
		    w->path, parent.data);
	} else {
		errno = saved;
		msg_error("%s%s: %s%m", where.data, w->path, what);
	}
	buf_fini(&where);
	buf_fini(&parent);
}

/*
 * Check one directory; create it when missing and create is true; fix
 * owner and mode when fix is true. Returns the number of unresolved
 * problems (0 or 1), each reported with msg_error.
 */
static int
queue_dir_one(const struct queue_dir_want *w, bool create, bool fix)
{
	struct stat st;
	struct buf have, want;
	bool bad_owner, bad_group, bad_mode;
	int tries;

	for (tries = 0;; tries++) {
		if (lstat(w->path, &st) == 0)
			break;
		if (errno != ENOENT) {
			queue_dir_error(w, "");
			return 1;
		}
		if (!create) {
			msg_error("%s: missing directory", w->path);
			return 1;
		}
		if (mkdir(w->path, 0700) < 0) {
			/* Somebody else made it: check what is there. */
			if (errno == EEXIST && tries == 0)
				continue;
			queue_dir_error(w, "cannot create directory: ");
			return 1;
		}
		/*
		 * The umask and a set-gid parent decide the new mode and
		 * group; set both explicitly. Only root can give it away.
		 */
		if (lstat(w->path, &st) < 0) {
			msg_error("%s: %m", w->path);
			return 1;
		}
		if (!S_ISDIR(st.st_mode))
			break;		/* a race; reported below */
		return queue_dir_set(w, &st, geteuid() == 0);
	}
	if (S_ISLNK(st.st_mode)) {
		msg_error("%s: is a symbolic link, not a directory", w->path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg_error("%s: not a directory", w->path);
		return 1;
	}
	bad_owner = st.st_uid != w->uid;
	bad_group = w->check_group && st.st_gid != w->gid;
	bad_mode = (st.st_mode & 07777) != w->mode;
	buf_init(&have, 16);
	buf_init(&want, 16);
	if (bad_owner) {
		queue_uid_name(&have, st.st_uid);
		queue_uid_name(&want, w->uid);
		msg_warn("%s: wrong owner %s (expected %s)", w->path,
		    have.data, want.data);
	}
	if (bad_group) {
		queue_gid_name(&have, st.st_gid);
		queue_gid_name(&want, w->gid);
		msg_warn("%s: wrong group %s (expected %s)", w->path,
		    have.data, want.data);
	}
	buf_fini(&have);
	buf_fini(&want);
	if (bad_mode)
		msg_warn("%s: wrong mode %04o (expected %04o)", w->path,
		    (unsigned)(st.st_mode & 07777), (unsigned)w->mode);
	if (fix && (bad_owner || bad_group || bad_mode))
		return queue_dir_set(w, &st, bad_owner || bad_group);
	return 0;
}

/* Absolute, so that nothing depends on the working directory. */
static int
queue_dir_path_ok(const char *param, const char *path)
{
	if (*path == '/')
		return 1;
	msg_error("%s: \"%s\" is not an absolute path", param, path);
	return 0;
}

int
queue_dirs_check(const struct queue_ids *ids, bool create, bool fix)
{
	bool as_root = geteuid() == 0;
	struct queue_dir_want w;
	struct buf path;
	int problems = 0, top;
	size_t i;

	if (queue_dir_path_ok("data_directory", var_data_directory)) {
		w = (struct queue_dir_want){
			.path = var_data_directory,
			.mode = DATA_DIR_MODE,
			.uid = ids->mail_uid,
			.gid = ids->mail_gid,
			.check_group = as_root,
			.param = "data_directory",
		};
		problems += queue_dir_one(&w, create, fix);
	} else {
		problems++;
	}
	if (!queue_dir_path_ok("queue_directory", var_queue_directory))
		return problems + 1;
	w = (struct queue_dir_want){
		.path = var_queue_directory,
		.mode = QUEUE_DIR_MODE,
		.uid = ids->root_uid,
		.gid = ids->root_gid,
		.check_group = as_root,
		.param = "queue_directory",
	};
	/* Without a queue directory, one error says it all. */
	if ((top = queue_dir_one(&w, create, fix)) != 0)
		return problems + top;
	buf_init(&path, 128);
	for (i = 0; i < sizeof(queue_dir_table) / sizeof(queue_dir_table[0]);
	    i++) {
		const struct queue_dir_spec *s = &queue_dir_table[i];

		buf_reset(&path);
		buf_printf(&path, "%s/%s", var_queue_directory, s->name);
		w = (struct queue_dir_want){
			.path = path.data,
			.mode = s->mode,
			.uid = s->owner == QUEUE_OWNER_ROOT ? ids->root_uid
			    : ids->mail_uid,
			.gid = s->group == QUEUE_GROUP_ROOT ? ids->root_gid
			    : s->group == QUEUE_GROUP_SETGID ? ids->setgid_gid
			    : ids->mail_gid,
			.check_group = as_root,
		};
		/*
		 * Without create (master's start-up), one problem is enough
		 * to refuse; an empty queue would otherwise be an error per
		 * subdirectory, more than msg_error() takes before it turns
		 * fatal.
		 */
		if (queue_dir_one(&w, create, fix) != 0) {
			problems++;
			if (!create)
				break;
		}
	}
	buf_fini(&path);
	return problems;
}
