/*
 * petrel_check.c - `petrel check` and `petrel set-permissions`
 *
 * check loads main.cf (every value converted and bounds-checked), reads
 * master.cf, reports main.cf parameters that nothing knows or uses,
 * creates missing queue directories, warns about wrong owners and modes
 * (set-permissions repairs them) and makes sure that master and every
 * program in master.cf exist and are executable: a relative command is
 * looked up in $daemon_directory, as master will. Nothing is printed when
 * all is well; the exit status is 0, or EX_CONFIG after errors.
 *
 * `petrel start` and `petrel reload` run the same checks first, so that
 * a broken configuration is caught before master is touched.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
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
	struct argv *values, *services;
	struct buf path;
	size_t i, j;
	int unknown;

	if (conf_load(dir, NULL) < 0)
		return NULL;
	buf_init(&path, 128);
	buf_printf(&path, "%s/master.cf", var_config_directory);
	cf = mastercf_read(path.data);
	buf_fini(&path);
	if (cf == NULL)
		return NULL;
	/*
	 * A main.cf parameter that only a -o value refers to ($name) is in
	 * use, not unknown.
	 */
	values = argv_new();
	services = argv_new();
	for (i = 0; i < cf->count; i++) {
		const struct argv *ov = cf->ents[i]->overrides;

		argv_add(services, cf->ents[i]->service);
		for (j = 0; ov && j < ov->argc; j++) {
			const char *eq = strchr(ov->argv[j], '=');

			argv_add(values, eq ? eq + 1 : ov->argv[j]);
		}
	}
	unknown = conf_check_unknown(conf_current(), true, values, services);
	argv_free(values);
	argv_free(services);
	if (unknown > 0) {
		mastercf_free(cf);
		return NULL;
	}
	return cf;
}

/*
 * An executable regular file, else one error naming the service (or
 * master itself when ent is NULL). Returns the number of errors.
 */
static int
petrel_check_program(const struct master_ent *ent, const char *command)
{
	struct buf path;
	struct stat st;
	int bad = 0;

	buf_init(&path, 128);
	if (*command == '/')
		buf_puts(&path, command);
	else
		buf_printf(&path, "%s/%s", var_daemon_directory, command);
	if (stat(path.data, &st) < 0) {
		bad = 1;
	} else if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		bad = 1;
	} else if (access(path.data, X_OK) < 0) {
		bad = 1;
	}
	if (bad && ent)
		msg_error("%s, line %d: service %s: program %s: %m", ent->file,
		    ent->line, ent->service, path.data);
	else if (bad)
		msg_error("program %s: %m", path.data);
	buf_fini(&path);
	return bad;
}

int
petrel_check_all(const char *dir, bool fix)
{
	struct queue_ids ids;
	struct mastercf *cf;
	int errors = 0;
	size_t i;

	if ((cf = petrel_config_check(dir)) == NULL)
		return 1;
	if (queue_ids_resolve(&ids) < 0)
		errors++;
	else
		errors += queue_dirs_check(&ids, true, fix);
	errors += petrel_check_program(NULL, "master");
	for (i = 0; i < cf->count; i++)
		errors += petrel_check_program(cf->ents[i],
		    cf->ents[i]->command);
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
