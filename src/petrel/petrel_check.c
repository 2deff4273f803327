/*
 * petrel_check.c - `petrel check` and `petrel set-permissions`
 *
 * check loads main.cf (every value converted and bounds-checked), reads
 * master.cf, reports main.cf parameters that nothing knows or uses,
 * checks what each service sees with its -o overrides (bad values and
 * unknown names: mastercf_check_conf(), which master runs too), creates
 * missing queue directories, warns about wrong owners and modes
 * (set-permissions repairs them) and makes sure that master and every
 * program in master.cf exist and are executable: a relative command is
 * looked up in $daemon_directory, as master will
 * (mastercf_check_programs()). Nothing is printed when all is well; the
 * exit status is 0, or EX_CONFIG after errors.
 *
 * Run as root, both also look at $command_directory/postdrop, the one
 * privileged program: it must belong to group setgid_group with mode
 * 2755 (set-gid, not writable by the group or others), so that users can
 * write into maildrop/ through it and nothing else; check warns,
 * set-permissions repairs (as Postfix's set-permissions does). An
 * instance run by an ordinary user needs no set-gid program.
 *
 * `petrel start` and `petrel reload` run the same checks first, so that
 * a broken configuration is caught before master is touched.
 */
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "mastercf.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"
#include "queue_dirs.h"

struct mastercf *
petrel_config_check(const char *dir)
{
	struct mastercf *cf;
	struct buf path;

	if (conf_load(dir, NULL) < 0)
		return NULL;
	buf_init(&path, 128);
	buf_printf(&path, "%s/master.cf", var_config_directory);
	cf = mastercf_read(path.data);
	buf_fini(&path);
	if (cf == NULL)
		return NULL;
	/* The same check as master's, so master never refuses what we took. */
	if (mastercf_check_conf(cf, conf_current()) > 0) {
		mastercf_free(cf);
		return NULL;
	}
	return cf;
}

#define POSTDROP_MODE	02755

/* Root only: postdrop set-gid setgid_group. Returns 0 or 1 (an error). */
static int
petrel_check_postdrop(const struct queue_ids *ids, bool fix)
{
	struct buf path;
	struct stat st;
	int bad = 0;

	if (geteuid() != 0)
		return 0;
	buf_init(&path, 128);
	buf_printf(&path, "%s/postdrop", var_command_directory);
	if (lstat(path.data, &st) < 0) {
		msg_warn("%s: %m: local submission will not work", path.data);
	} else if (!S_ISREG(st.st_mode)) {
		msg_error("%s: not a regular file", path.data);
		bad = 1;
	} else if (st.st_gid != ids->setgid_gid || st.st_uid != ids->root_uid
	    || (st.st_mode & 07777) != POSTDROP_MODE) {
		if (!fix) {
			msg_warn("%s: owner %lu:%lu mode %04o, expected "
			    "root:%s mode %04o (petrel set-permissions "
			    "repairs it)", path.data, (unsigned long)st.st_uid,
			    (unsigned long)st.st_gid,
			    (unsigned)(st.st_mode & 07777), var_setgid_group,
			    POSTDROP_MODE);
		} else if (chown(path.data, ids->root_uid,
		    ids->setgid_gid) < 0
		    || chmod(path.data, POSTDROP_MODE) < 0) {
			msg_error("%s: %m", path.data);
			bad = 1;
		} else {
			msg_info("%s: set-gid %s, mode %04o", path.data,
			    var_setgid_group, POSTDROP_MODE);
		}
	}
	buf_fini(&path);
	return bad;
}

int
petrel_check_all(const char *dir, bool fix)
{
	struct queue_ids ids;
	struct mastercf *cf;
	int errors = 0;

	if ((cf = petrel_config_check(dir)) == NULL)
		return 1;
	if (queue_ids_resolve(&ids) < 0)
		errors++;
	else
		errors += queue_dirs_check(&ids, true, fix)
		    + petrel_check_postdrop(&ids, fix);
	errors += mastercf_check_programs(cf, conf_current(),
	    (const char *const[]){"master", NULL});
	mastercf_free(cf);
	return errors;
}

int
petrel_check(const char *dir)
{
	return petrel_check_all(dir, false) ? EX_CONFIG : 0;
}

int
petrel_set_permissions(const char *dir)
{
	return petrel_check_all(dir, true) ? EX_CONFIG : 0;
}
