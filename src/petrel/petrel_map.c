/*
 * petrel_map.c - `petrel map` (postmap) and `petrel alias` (postalias)
 *
 * usage:	petrel map [-c dir] [-fiNsv] [-q key] [-d key] [type:]name ...
 *		petrel alias [-c dir] [-fiNsv] [-q key] [-d key]
 *		    [[type:]name ...]
 *
 * Without -q, -s, -d or -i, each table is built from its source file
 * (mkmap.h: "lmdb:/etc/x" from /etc/x; a name without a type has
 * $default_database_type), all or nothing. `petrel map` reads
 * postmap(1)'s format, `petrel alias` aliases(5); without tables
 * `petrel alias` works on every table in $alias_database (the build is
 * then exactly newaliases).
 *	-q key	Search the tables in order and print the first value
 *		found.
 *		Exit 0 when found, 1 when not, EX_TEMPFAIL (75) when a table
 *		could not be opened or failed before the key was found (the
 *		reason on stderr). With "-q -" the keys come from stdin, one
 *		per line (its first word); each key found is printed as
 *		"key<TAB>value" (petrel alias: "key: value"); exit 0 when at
 *		least one was found, 1 when none, 75 when any lookup failed.
 *	-s	Print every entry of every table, in the same two formats.
 *	-d key	Delete key from every table ("-d -": keys from stdin).
 *		Exit 0 when something was deleted, 1 when not, 75 on failure.
 *	-i	Add the entries on stdin (in the table's source format) to
 *		each table, which is created when missing; an existing key
 *		gets the new value. Every line is checked first.
 *	-f	Do not fold keys to lowercase (building and querying).
 *	-N	Accepted for Postfix compatibility; keys never hold a NUL.
 *	-v	More logging.
 * Build exit status: 0, or the sysexits.h status of the first table
 * that failed (see mkmap.h). Main.cf problems: EX_CONFIG.
 *
 * SECURITY: stdin lines are bounded (LLINE_MAX); tables are opened
 * through the dict layer, which bounds keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "dict.h"
#include "dict_lmdb.h"
#include "lline.h"
#include "mem.h"
#include "mkmap.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"
#include "str.h"

/* Exit status of a query or delete that found nothing. */
#define MAP_NOTFOUND	1

enum map_action {
	MAP_BUILD,
	MAP_QUERY,		/* -q */
	MAP_DUMP,		/* -s */
	MAP_DELETE,		/* -d */
	MAP_ADD,		/* -i */
};

struct map_opts {
	const char *cmd;	/* "map" or "alias" */
	int format;		/* MKMAP_POSTMAP or MKMAP_ALIAS */
	const char *sep;	/* between key and value in output */
	enum map_action action;
	const char *key;	/* -q, -d */
	int dict_flags;
	struct argv *tables;
};

/*
 * Read one line from fp into out (no newline); 1, 0 at the end, or -1
 * for a line longer than LLINE_MAX.
 */
static int
map_read_line(FILE *fp, struct buf *out)
{
	int ch;

	buf_reset(out);
	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (out->len >= LLINE_MAX)
			return -1;
		buf_putc(out, ch);
	}
	return ch == EOF && out->len == 0 ? 0 : 1;
}

/* The next key from stdin ("-q -", "-d -"): the first word of a line. */
static int
map_next_key(struct buf *line, char **key)
{
	char *cp;
	int rc;

	while ((rc = map_read_line(stdin, line)) > 0) {
		cp = line->data;
		if ((*key = str_token(&cp, " \t\r")) != NULL)
			return 1;
	}
	if (rc < 0)
		msg_error("standard input: line longer than %d bytes",
		    LLINE_MAX);
	else if (ferror(stdin))
		msg_error("read standard input: %s", strerror(errno));
	return rc < 0 || ferror(stdin) ? -1 : 0;
}

static int
map_flush_stdout(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		msg_error("write standard output: %s", strerror(errno));
		return EX_IOERR;
	}
	return status;
}

/* Open every table; NULL after reporting the first that fails. */
static struct dict **
map_open_all(const struct map_opts *o, int open_flags)
{
	struct dict **dicts;
	struct buf name, why;
	size_t i;

	dicts = xcalloc(o->tables->argc + 1, sizeof(*dicts));
	buf_init(&name, 64);
	buf_init(&why, 128);
	for (i = 0; i < o->tables->argc; i++) {
		mkmap_type_name(o->tables->argv[i], &name);
		dicts[i] = dict_open_strict(name.data, open_flags,
		    o->dict_flags | DICT_FLAG_NO_CACHE, &why);
		if (dicts[i] == NULL) {
			msg_error("%s", why.data);
			while (i-- > 0)
				dict_close(dicts[i]);
			free(dicts);
			dicts = NULL;
			break;
		}
	}
	buf_fini(&name);
	buf_fini(&why);
	return dicts;
}

static void
map_close_all(struct dict **dicts)
{
	size_t i;

	for (i = 0; dicts[i] != NULL; i++)
		dict_close(dicts[i]);
	free(dicts);
}

/* Search the tables in order; a failure ends the search (as maps do). */
static enum dict_result
map_find(struct dict **dicts, const char *key, struct buf *value)
{
	enum dict_result rc = DICT_NOTFOUND;
	size_t i;

	for (i = 0; dicts[i] != NULL && rc == DICT_NOTFOUND; i++)
		rc = dict_lookup(dicts[i], key, value);	/* warns if failed */
	return rc;
}

static int
map_query(const struct map_opts *o)
{
	struct buf value, line;
	struct dict **dicts;
	bool found = false, failed = false;
	char *key;
	int rc;

	if ((dicts = map_open_all(o, O_RDONLY)) == NULL)
		return EX_TEMPFAIL;
	buf_init(&value, 128);
	buf_init(&line, 128);
	if (strcmp(o->key, "-") != 0) {
		switch (map_find(dicts, o->key, &value)) {
		case DICT_FOUND:
			printf("%s\n", value.data);
			found = true;
			break;
		case DICT_NOTFOUND:
			break;
		case DICT_TEMPFAIL:
			failed = true;
			break;
		}
	} else {
		while ((rc = map_next_key(&line, &key)) > 0) {
			switch (map_find(dicts, key, &value)) {
			case DICT_FOUND:
				printf("%s%s%s\n", key, o->sep, value.data);
				found = true;
				break;
			case DICT_NOTFOUND:
				break;
			case DICT_TEMPFAIL:
				failed = true;
				break;
			}
		}
		failed |= rc < 0;
	}
	buf_fini(&value);
	buf_fini(&line);
	map_close_all(dicts);
	return map_flush_stdout(failed ? EX_TEMPFAIL : found ? 0
	    : MAP_NOTFOUND);
}

static int
map_dump(const struct map_opts *o)
{
	struct buf key, value;
	struct dict **dicts;
	enum dict_result rc;
	enum dict_seq seq;
	int status = 0;
	size_t i;

	if ((dicts = map_open_all(o, O_RDONLY)) == NULL)
		return EX_TEMPFAIL;
	buf_init(&key, 128);
	buf_init(&value, 128);
	for (i = 0; dicts[i] != NULL; i++) {
		for (seq = DICT_SEQ_FIRST; (rc = dict_iterate(dicts[i], seq,
		    &key, &value)) == DICT_FOUND; seq = DICT_SEQ_NEXT)
			printf("%s%s%s\n", key.data, o->sep, value.data);
		if (rc == DICT_TEMPFAIL) {
			msg_error("%s", dict_error(dicts[i]));
			status = EX_TEMPFAIL;
		}
	}
	buf_fini(&key);
	buf_fini(&value);
	map_close_all(dicts);
	return map_flush_stdout(status);
}

/* Delete one key from every table; true when it was somewhere. */
static bool
map_delete_key(struct dict **dicts, const char *key, bool *failed)
{
	bool found = false;
	size_t i;

	for (i = 0; dicts[i] != NULL; i++) {
		switch (dict_delete(dicts[i], key)) {
		case DICT_FOUND:
			found = true;
			break;
		case DICT_NOTFOUND:
			break;
		case DICT_TEMPFAIL:
			msg_error("%s", dict_error(dicts[i]));
			*failed = true;
			break;
		}
	}
	return found;
}

static int
map_delete(const struct map_opts *o)
{
	struct dict **dicts;
	struct buf line;
	bool found = false, failed = false;
	char *key;
	int rc;

	dict_lmdb_set_map_size((size_t)var_lmdb_map_size);
	if ((dicts = map_open_all(o, O_RDWR)) == NULL)
		return EX_TEMPFAIL;
	buf_init(&line, 128);
	if (strcmp(o->key, "-") != 0) {
		found = map_delete_key(dicts, o->key, &failed);
	} else {
		while ((rc = map_next_key(&line, &key)) > 0)
			found |= map_delete_key(dicts, key, &failed);
		failed |= rc < 0;
	}
	buf_fini(&line);
	map_close_all(dicts);
	return failed ? EX_TEMPFAIL : found ? 0 : MAP_NOTFOUND;
}

/*
 * -i: stdin can be read once, and each table needs all of it: with
 * more than one table, copy it to a temporary file first.
 */
static int
map_add(const struct map_opts *o)
{
	struct buf why;
	FILE *in = stdin, *tmp = NULL;
	char chunk[8192];
	size_t i, n;
	int status, first = 0;

	if (o->tables->argc > 1) {
		if ((tmp = tmpfile()) == NULL) {
			msg_error("create a temporary file: %s",
			    strerror(errno));
			return EX_CANTCREAT;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			if (fwrite(chunk, 1, n, tmp) != n)
				break;
		if (ferror(stdin) || ferror(tmp) || fflush(tmp) == EOF) {
			msg_error("copy standard input: %s", strerror(errno));
			(void)fclose(tmp);
			return EX_IOERR;
		}
		in = tmp;
	}
	buf_init(&why, 128);
	for (i = 0; i < o->tables->argc; i++) {
		if (tmp != NULL)
			rewind(tmp);
		status = mkmap_add(o->tables->argv[i], "standard input", in,
		    o->format, o->dict_flags, &why);
		if (status != 0) {
			msg_error("%s", why.data);
			if (first == 0)
				first = status;
		}
	}
	buf_fini(&why);
	if (tmp != NULL)
		(void)fclose(tmp);	/* read only: nothing to lose */
	return first;
}

static int
map_build(const struct map_opts *o, bool all_aliases)
{
	struct buf why;
	size_t i;
	int status, first = 0;

	if (all_aliases)
		return mkmap_newaliases(o->dict_flags);
	buf_init(&why, 128);
	for (i = 0; i < o->tables->argc; i++) {
		status = mkmap_build(o->tables->argv[i], NULL, NULL, o->format,
		    o->dict_flags, &why);
		if (status != 0) {
			msg_error("%s", why.data);
			if (first == 0)
				first = status;
		}
	}
	buf_fini(&why);
	return first;
}

static void
map_set_action(struct map_opts *o, enum map_action action, const char *key)
{
	if (o->action != MAP_BUILD && o->action != action)
		msg_fatal_status(EX_USAGE, "%s: specify only one of -d, -i, "
		    "-q and -s", o->cmd);
	o->action = action;
	o->key = key;
}

int
petrel_map_main(const char *dir, int argc, char **argv, int format)
{
	struct map_opts o = {0};
	bool all_aliases = false;
	char *abs_dir;
	int ch, status;

	o.format = format;
	o.cmd = format == MKMAP_ALIAS ? "alias" : "map";
	o.sep = format == MKMAP_ALIAS ? ": " : "\t";
	o.dict_flags = DICT_FLAG_FOLD;
	optind = 0;			/* restart getopt (glibc) */
	while ((ch = petrel_getopt(argc, argv, "c:d:fiNq:sv")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'd':
			map_set_action(&o, MAP_DELETE, optarg);
			break;
		case 'f':
			o.dict_flags &= ~DICT_FLAG_FOLD;
			break;
		case 'i':
			map_set_action(&o, MAP_ADD, NULL);
			break;
		case 'N':
			break;		/* we never store a NUL */
		case 'q':
			map_set_action(&o, MAP_QUERY, optarg);
			break;
		case 's':
			map_set_action(&o, MAP_DUMP, NULL);
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			petrel_usage();
		}
	}
	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	abs_dir = petrel_abs_dir(dir);
	if (conf_load(abs_dir, NULL) < 0) {
		free(abs_dir);
		return EX_CONFIG;
	}
	free(abs_dir);
	o.tables = argv_new();
	for (; optind < argc; optind++)
		argv_add(o.tables, argv[optind]);
	if (o.tables->argc == 0) {
		if (format != MKMAP_ALIAS) {
			msg_error("map: no table given");
			petrel_usage();
		}
		argv_free(o.tables);
		o.tables = argv_split(var_alias_database, ", \t\r\n");
		all_aliases = true;
	}
	switch (o.action) {
	case MAP_QUERY:
		status = map_query(&o);
		break;
	case MAP_DUMP:
		status = map_dump(&o);
		break;
	case MAP_DELETE:
		status = map_delete(&o);
		break;
	case MAP_ADD:
		status = map_add(&o);
		break;
	default:
		status = map_build(&o, all_aliases);
		break;
	}
	argv_free(o.tables);
	return status;
}

int
petrel_map(const char *dir, int argc, char **argv)
{
	return petrel_map_main(dir, argc, argv, MKMAP_POSTMAP);
}
