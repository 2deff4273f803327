/*
 * queue_dirs.h - the queue directories, their owners and modes
 *
 * The table of subdirectories under queue_directory (maildrop incoming
 * active deferred hold corrupt bounce defer trace saved flush public
 * private pid) with the mode and owner each must have, and the check
 * that `petrel check` and master's start-up run (Postfix's
 * set-permissions semantics).
 *
 * Owners: "mail" is mail_owner (or the invoking user for an instance run
 * by an ordinary user), "root" is the super-user (again the invoking user
 * when not root). maildrop is 1730 mail_owner:setgid_group so that
 * postdrop can write into it and users cannot list or remove each
 * other's mail; public is 0710 mail_owner:setgid_group.
 */
#ifndef PETREL_QUEUE_DIRS_H
#define PETREL_QUEUE_DIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum queue_owner {
	QUEUE_OWNER_MAIL,
	QUEUE_OWNER_ROOT,
};

enum queue_group {
	QUEUE_GROUP_MAIL,	/* mail_owner's group */
	QUEUE_GROUP_SETGID,	/* setgid_group */
	QUEUE_GROUP_ROOT,
};

struct queue_dir_spec {
	const char *name;
	mode_t mode;
	enum queue_owner owner;
	enum queue_group group;
};

const struct queue_dir_spec *queue_dir_specs(size_t *count);

struct queue_ids {
	uid_t mail_uid, root_uid;
	gid_t mail_gid, setgid_gid, root_gid;
};

/*
 * Resolve owners from var_mail_owner and var_setgid_group when running as
 * root, else use the invoking user for all. Returns 0, or -1 after
 * reporting an unknown user or group with msg_error.
 */
int queue_ids_resolve(struct queue_ids *ids);
/*
 * Check queue_directory, data_directory and every queue subdirectory.
 * When create is true, make what is missing with the right owner and
 * mode; queue_directory and data_directory only when their parent
 * exists (else an error naming the parameter, and where main.cf sets
 * it when conf_current() knows: "main.cf, line 3: queue_directory:
 * /x/y/queue: parent directory /x/y does not exist"). Wrong owners or
 * modes are reported with msg_warn (and fixed when fix is true).
 * Returns the number of problems left unresolved (missing directories
 * when !create count as problems), reported with msg_error; when
 * !create, the check stops at the first subdirectory in trouble.
 */
int queue_dirs_check(const struct queue_ids *ids, bool create, bool fix);

#endif
