/*
 * newaliases.c - rebuild the alias tables (Sendmail's newaliases)
 *
 * usage:	newaliases [-c config_dir] [-v]
 *
 * Rebuilds every table in $alias_database from its source file in
 * aliases(5) format ("hash:/etc/aliases" from /etc/aliases), each all
 * or nothing: a bad line leaves that table as it was (mkmap.h). The
 * work is mkmap_newaliases(), shared with `petrel alias` and
 * `sendmail -bi`. The configuration directory is -c dir, else
 * $MAIL_CONFIG, else the compiled-in default.
 *
 * Exit status: 0; EX_USAGE for bad options; EX_CONFIG when main.cf is
 * unusable; else the sysexits.h status of the first table that failed
 * (each failure is reported on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "dict_proxy.h"
#include "dict.h"
#include "log.h"
#include "mkmap.h"
#include "msg.h"

static _Noreturn void
newaliases_usage(void)
{
	fputs("usage: newaliases [-c config_dir] [-v]\n", stderr);
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	int ch;

	log_init("newaliases");
	opterr = 0;
	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			msg_error("unknown option -%c or missing argument",
			    optopt);
			newaliases_usage();
		}
	}
	if (optind < argc) {
		msg_error("unexpected argument \"%s\"", argv[optind]);
		newaliases_usage();
	}
	if (dir != NULL && *dir == 0)
		dir = NULL;
	if (conf_load(dir, NULL) < 0)
		return EX_CONFIG;
	mail_dict_init();
	return mkmap_newaliases(DICT_FLAG_FOLD);
}
