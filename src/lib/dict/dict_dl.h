/*
 * dict_dl.h - load a database client library when a table first needs it
 *
 *	static void *(*p_init)(void *);
 *	static const struct dict_dl_sym syms[] = {
 *		{"mysql_init", (void **)&p_init}, ...
 *	};
 *	static struct dict_dl lib = DICT_DL_INIT("libmariadb.so.3", syms);
 *	if (dict_dl_load(&lib, why) < 0) ... the table cannot open ...
 *
 * The mysql, pgsql and sqlite table types reach their client libraries
 * (and, through them, TLS and Kerberos libraries) with dlopen(3) the
 * first time a table of that type is opened, not by linking: a daemon
 * that never opens such a table does not map, relocate and keep private
 * copies of their data (about 1.2 MB of memory per smtpd process, most
 * of it for relocations). The library is opened RTLD_NOW | RTLD_LOCAL
 * by its soname, and every symbol is resolved at once, so a missing or
 * wrong library is one clear error at open time, never a crash later.
 * The outcome is kept: a library that failed to load is not tried
 * again in the same process (the table is a surrogate that answers
 * DICT_TEMPFAIL, see dict_open.c).
 *
 * Tables are opened before a daemon chroots (pre_init), so the library
 * is loaded from the real root.
 */
#ifndef PETREL_DICT_DL_H
#define PETREL_DICT_DL_H

#include <stddef.h>

#include "buf.h"

struct dict_dl_sym {
	const char *name;
	void **addr;
};

struct dict_dl {
	const char *lib;			/* soname */
	const struct dict_dl_sym *syms;
	size_t count;
	int state;				/* 0 untried, 1 loaded, -1 failed */
	char *error;				/* state -1: why */
};

#define DICT_DL_INIT(lib, syms) \
	{ (lib), (syms), sizeof(syms) / sizeof((syms)[0]), 0, NULL }

/* 0 when loaded (now or before); -1 with why set (replaced). */
int dict_dl_load(struct dict_dl *dl, struct buf *why);

#endif
