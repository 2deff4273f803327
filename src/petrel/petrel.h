/*
 * petrel.h - the parts of the petrel control command
 *
 * petrel.c parses the global options and dispatches to one function per
 * command. Each returns the process exit status (sysexits.h, or 1 for
 * "not running" and friends) or exits through msg_fatal_status(). dir is
 * the configuration directory, already made absolute.
 */
#ifndef PETREL_PETREL_H
#define PETREL_PETREL_H

#include <stdbool.h>

struct mastercf;

/* Usage on stderr, exit EX_USAGE. */
_Noreturn void petrel_usage(void);
/* dir if absolute, else the working directory + "/" + dir (caller frees). */
char *petrel_abs_dir(const char *dir);
/* getopt(3) that reports a bad option with msg_error, then usage. */
int petrel_getopt(int argc, char **argv, const char *opts);

/* petrel_conf.c: `petrel conf [options] [args]`; argv[0] is "conf". */
int petrel_conf(const char *dir, int argc, char **argv);

/*
 * petrel_map.c: `petrel map [options] [type:]name ...`; argv[0] is "map".
 * petrel_map_main() is both it and, with format MKMAP_ALIAS (mkmap.h),
 * `petrel alias` (petrel_alias.c).
 */
int petrel_map(const char *dir, int argc, char **argv);
int petrel_map_main(const char *dir, int argc, char **argv, int format);
int petrel_alias(const char *dir, int argc, char **argv);

/* petrel_cat.c: `petrel cat [options] file|ID ...`; argv[0] is "cat". */
int petrel_cat(const char *dir, int argc, char **argv);

/* petrel_queue.c: `petrel queue -p|-j|-f|-i ID|-s site`; argv[0] "queue". */
int petrel_queue(const char *dir, int argc, char **argv);

/* petrel_super.c: `petrel super [options] [queue ...]`; argv[0] "super". */
int petrel_super(const char *dir, int argc, char **argv);

/* petrel_ctl.c */
int petrel_start(const char *dir);
int petrel_stop(const char *dir);
int petrel_abort(const char *dir);
int petrel_reload(const char *dir);
int petrel_status(const char *dir);

/* petrel_check.c */
/*
 * conf_load(dir), read $config_directory/master.cf and check the two
 * together (mastercf_check_conf(): unknown main.cf parameters, and the
 * -o overrides of every service). Returns master.cf, or NULL after every
 * problem was reported.
 */
struct mastercf *petrel_config_check(const char *dir);
/*
 * Everything `petrel check` does: the above, then the queue directories
 * (created when missing; owners and modes repaired when fix is true) and
 * the programs that master.cf names. Returns the number of errors.
 */
int petrel_check_all(const char *dir, bool fix);
int petrel_check(const char *dir);
int petrel_set_permissions(const char *dir);

#endif
