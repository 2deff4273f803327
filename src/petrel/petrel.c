/*
 * petrel.c - the Petrel control command (Postfix's postfix and postconf)
 *
 * usage: petrel [-c config_dir] [-v] command [args]
 *
 *	start		check the configuration and queue, then run master
 *	stop		stop master and its children (SIGTERM)
 *	abort		stop master and kill its children at once (SIGQUIT)
 *	reload		check the configuration, then ask master to re-read it
 *	status		tell whether master runs (exit 0) or not (exit 1)
 *	check		check main.cf, master.cf, queue directories, programs
 *	set-permissions	the same, also repairing directory owners and modes
 *	conf		print or edit parameters (petrel_conf.c)
 *	map		build and query lookup tables (petrel_map.c)
 *	alias		build and query alias tables (petrel_alias.c)
 *	cat		show queue files (petrel_cat.c)
 *	queue		list or flush the queue (petrel_queue.c)
 *	super		queue maintenance: delete, hold, release, requeue,
 *			structure check (petrel_super.c)
 *
 * The configuration directory is -c dir, else $MAIL_CONFIG, else the
 * compiled-in default; it is made absolute here because master and its
 * children run elsewhere. Commands other than conf accept -c and -v after
 * the command name as well ("petrel start -c dir").
 *
 * Messages go to stderr as "petrel: ...". Exit status: 0 success,
 * 1 "not running", "already running" and similar, EX_USAGE (64) for bad
 * usage, EX_CONFIG (78) for configuration errors; `petrel start` passes
 * on master's own status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "dict_proxy.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "petrel.h"

static const char petrel_usage_text[] =
    "usage: petrel [-c config_dir] [-v] command [args]\n"
    "commands:\n"
    "  start            check the configuration, then start the mail system\n"
    "  stop             stop the mail system (deliveries in progress finish)\n"
    "  abort            stop the mail system at once\n"
    "  reload           make the running mail system re-read its "
    "configuration\n"
    "  status           tell whether the mail system is running\n"
    "  check            check main.cf, master.cf, queue directories and "
    "programs\n"
    "  set-permissions  like check, and repair directory owners and modes\n"
    "  conf [-c dir] [-dhnx] [name ...]     print parameters (-d defaults,\n"
    "                   -n only those set in main.cf, -h values only,\n"
    "                   -x expand $name)\n"
    "  conf [-c dir] -e name=value ...      edit main.cf\n"
    "  conf [-c dir] -M [service[/type] ...]  print master.cf entries\n"
    "  map [-c dir] [-fNv] [type:]name ...  build tables from their "
    "source files\n"
    "  map [-c dir] [-fNv] -q key|- [type:]name ...  look up keys "
    "(exit 0 found,\n"
    "                   1 not found, 75 table unavailable)\n"
    "  map [-c dir] [-fNv] -s [type:]name ...  print every entry\n"
    "  map [-c dir] [-fNv] -d key|- [type:]name ...  delete keys\n"
    "  map [-c dir] [-fNv] -i [type:]name ...  add entries from stdin\n"
    "  alias [-c dir] [options] [[type:]name ...]  the same for alias "
    "tables\n"
    "                   (aliases(5) format; default: $alias_database)\n"
    "  cat [-c dir] [-bdeho] [-q] file|ID ...  show queue files (-e "
    "envelope,\n"
    "                   -h header, -b body, -o offsets, -d record types,\n"
    "                   -q queue IDs instead of file names)\n"
    "  queue [-c dir] -p|-j|-f|-i ID|-s site  list the queue (-p as "
    "mailq,\n"
    "                   -j as JSON lines) or flush it (-f all, -i one "
    "message,\n"
    "                   -s one site)\n"
    "  super [-c dir] [-sv] [-d|-h|-H|-r ID|ALL|-] ... [queue ...]\n"
    "                   delete (-d), hold (-h), release (-H) or requeue "
    "(-r)\n"
    "                   messages; -s (the default) checks and repairs the "
    "queue\n";

/* A command that takes no arguments besides -c and -v. */
typedef int (*petrel_simple_fn)(const char *dir);
/* A command that parses its own options (dir may be NULL or relative). */
typedef int (*petrel_args_fn)(const char *dir, int argc, char **argv);

static const struct petrel_command {
	const char *name;
	petrel_simple_fn fn;		/* NULL: args_fn parses its own */
	petrel_args_fn args_fn;
} petrel_commands[] = {
	{"start", petrel_start, NULL},
	{"stop", petrel_stop, NULL},
	{"abort", petrel_abort, NULL},
	{"reload", petrel_reload, NULL},
	{"status", petrel_status, NULL},
	{"check", petrel_check, NULL},
	{"set-permissions", petrel_set_permissions, NULL},
	{"conf", NULL, petrel_conf},
	{"map", NULL, petrel_map},
	{"alias", NULL, petrel_alias},
	{"cat", NULL, petrel_cat},
	{"queue", NULL, petrel_queue},
	{"super", NULL, petrel_super},
};

void
petrel_usage(void)
{
	fputs(petrel_usage_text, stderr);
	exit(EX_USAGE);
}

char *
petrel_abs_dir(const char *dir)
{
	struct buf path;
	char *cwd, *abs;

	buf_init(&path, 128);
	if (*dir != '/') {
		if ((cwd = getcwd(NULL, 0)) == NULL)
			msg_fatal_status(EX_OSERR, "cannot find the working "
			    "directory: %m");
		buf_puts(&path, cwd);
		free(cwd);
		/* "." and "./x" name the working directory and x in it. */
		while (dir[0] == '.' && (dir[1] == '/' || dir[1] == 0))
			for (dir++; *dir == '/'; dir++)
				continue;
		if (*dir && strcmp(path.data, "/") != 0)
			buf_putc(&path, '/');
	}
	buf_puts(&path, dir);
	while (path.len > 1 && path.data[path.len - 1] == '/')
		buf_truncate(&path, path.len - 1);
	abs = buf_steal(&path);
	return abs;
}

/* getopt() for petrel and its commands, with our own complaints. */
int
petrel_getopt(int argc, char **argv, const char *opts)
{
	int ch;

	opterr = 0;
	if ((ch = getopt(argc, argv, opts)) == '?') {
		if (optopt != '+' && optopt != ':'
		    && strchr(opts, optopt) != NULL)
			msg_error("option -%c needs an argument", optopt);
		else
			msg_error("unknown option -%c", optopt);
		petrel_usage();
	}
	return ch;
}

/* -c dir and -v, before or after the command name. */
static void
petrel_common_options(int argc, char **argv, const char **dir)
{
	int ch;

	while ((ch = petrel_getopt(argc, argv, "+c:v")) != -1) {
		switch (ch) {
		case 'c':
			*dir = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			petrel_usage();
		}
	}
}

int
main(int argc, char **argv)
{
	const struct petrel_command *cmd = NULL;
	const char *dir = NULL;
	char *abs_dir;
	size_t i;
	int status;

	log_init("petrel");
	/* proxy: tables for petrel map (registration needs no main.cf). */
	mail_dict_init();
	/* Stop at the command name; what follows is the command's. */
	petrel_common_options(argc, argv, &dir);
	if (optind >= argc)
		petrel_usage();
	for (i = 0; i < sizeof(petrel_commands) / sizeof(petrel_commands[0]);
	    i++) {
		if (strcmp(argv[optind], petrel_commands[i].name) == 0) {
			cmd = &petrel_commands[i];
			break;
		}
	}
	if (cmd == NULL) {
		msg_error("unknown command \"%s\"", argv[optind]);
		petrel_usage();
	}
	argc -= optind;
	argv += optind;
	if (cmd->fn == NULL)
		return cmd->args_fn(dir, argc, argv);

	optind = 0;			/* restart getopt (glibc) */
	petrel_common_options(argc, argv, &dir);
	if (optind < argc) {
		msg_error("%s: unexpected argument \"%s\"", cmd->name,
		    argv[optind]);
		petrel_usage();
	}
	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	abs_dir = petrel_abs_dir(dir);
	status = cmd->fn(abs_dir);
	free(abs_dir);
	return status;
}
