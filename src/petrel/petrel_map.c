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
 *		A line with a NUL byte, or longer than 1 MB, ends the
 *		queries ("standard input, line N: NUL byte in line") with
 *		exit 75: the keys from there on had no answer, so neither 0
 *		nor 1 would be true, and -q has no other answer to give.
 *	-s	Print every entry of every table, in the same two formats.
 *		A stored key or value with a NUL byte (a table made by
 *		another tool) ends the listing of that table with exit 75.
 *	-d key	Delete key from every table ("-d -": keys from stdin).
 *		Exit 0 when something was deleted, 1 when not, 75 on failure.
 *		"-d -" reads every key before deleting any: a line with a
 *		NUL byte or longer than 1 MB changes nothing and exits
 *		EX_DATAERR (65).
 *	-i	Add the entries on stdin (in the table's source format) to
 *		each table, which is created when missing; an existing key
 *		gets the new value. Every line is checked first: a bad one
 *		(a NUL byte among others) changes nothing and exits
 *		EX_DATAERR (65).
 *	-f	Do not fold keys to lowercase (building and querying).
 *	-N	Accepted for Postfix compatibility; keys never hold a NUL.
 *	-v	More logging.
 * Build exit status: 0, or the sysexits.h status of the first table
 * that failed (see mkmap.h); errors name the table ("table lmdb:/x:
 * /x, line 3: ..."). Main.cf problems, an unknown
 * $default_database_type among them: EX_CONFIG.
 *
 * SECURITY: stdin lines are bounded (LLINE_MAX) and may not hold NUL
 * bytes; tables are opened through the dict layer, which bounds keys.
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

/* Keys from stdin ("-q -", "-d -"), with the line count for errors. */
struct map_input {
	FILE *fp;
	int lineno;
	struct buf line;
};

enum map_line {
	MAP_LINE_EOF,
	MAP_LINE_OK,
	MAP_LINE_LONG,		/* longer than LLINE_MAX */
	MAP_LINE_NUL,		/* holds a NUL byte */
};

/*
 * Read one line into in->line (no newline). A NUL byte would end the
 * key early (str_token() stops at it): "a<NUL>zzz" would answer for, or
 * delete, "a". The rest of a bad line is read too, so that the line
 * count stays right.
 */
static enum map_line
map_read_line(struct map_input *in)
{
	enum map_line rc = MAP_LINE_OK;
	int ch;

	buf_reset(&in->line);
	while ((ch = getc(in->fp)) != EOF && ch != '\n') {
		if (rc != MAP_LINE_OK)
			continue;
		if (ch == 0)
			rc = MAP_LINE_NUL;
		else if (in->line.len >= LLINE_MAX)
			rc = MAP_LINE_LONG;
		else
			buf_putc(&in->line, ch);
	}
	if (ch == EOF && in->line.len == 0 && rc == MAP_LINE_OK)
		return MAP_LINE_EOF;
	in->lineno++;
	return rc;
}

/*
 * The next key from stdin: the first word of a line; blank lines are
 * skipped. 1, 0 at the end, -1 after reporting a bad line (EX_DATAERR)
 * or a read error (EX_IOERR) in *status.
 */
static int
map_next_key(struct map_input *in, char **key, int *status)
{
	enum map_line rc;
	char *cp;

	while ((rc = map_read_line(in)) == MAP_LINE_OK) {
		cp = in->line.data;
		if ((*key = str_token(&cp, " \t\r")) != NULL)
			return 1;
	}
	if (rc == MAP_LINE_NUL || rc == MAP_LINE_LONG) {
		if (rc == MAP_LINE_NUL)
			msg_error("standard input, line %d: NUL byte in line",
			    in->lineno);
		else
			msg_error("standard input, line %d: line longer than "
			    "%d bytes", in->lineno, LLINE_MAX);
		*status = EX_DATAERR;
		return -1;
	}
	if (ferror(in->fp)) {
		msg_error("read standard input: %s", strerror(errno));
		*status = EX_IOERR;
		return -1;
	}
	return 0;
}

static void
map_input_init(struct map_input *in)
{
	in->fp = stdin;
	in->lineno = 0;
	buf_init(&in->line, 128);
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

/*
 * Open every table; NULL after reporting the first that fails, with
 * *status EX_CONFIG (a bad $default_database_type) or EX_TEMPFAIL.
 */
static struct dict **
map_open_all(const struct map_opts *o, int open_flags, int *status)
{
	struct dict **dicts;
	struct buf name, why;
	size_t i;

	dicts = xcalloc(o->tables->argc + 1, sizeof(*dicts));
	buf_init(&name, 64);
	buf_init(&why, 128);
	for (i = 0; i < o->tables->argc; i++) {
		bool named = mkmap_type_name(o->tables->argv[i], &name,
		    &why) == 0;

		if (named)
			dicts[i] = dict_open_strict(name.data, open_flags,
			    o->dict_flags | DICT_FLAG_NO_CACHE, &why);
		if (dicts[i] == NULL) {
			*status = named ? EX_TEMPFAIL : EX_CONFIG;
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
	struct map_input in;
	struct buf value;
	struct dict **dicts;
	bool found = false, failed = false;
	char *key;
	int rc, status = 0;

	if ((dicts = map_open_all(o, O_RDONLY, &status)) == NULL)
		return status;
	buf_init(&value, 128);
	map_input_init(&in);
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
		while ((rc = map_next_key(&in, &key, &status)) > 0) {
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
		/*
		 * A bad line ends the queries: the keys after it were not
		 * answered, so neither "found" nor "not found" is true.
		 */
		failed |= rc < 0;
	}
	buf_fini(&value);
	buf_fini(&in.line);
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

	if ((dicts = map_open_all(o, O_RDONLY, &status)) == NULL)
		return status;
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

/*
 * -d: with "-d -" every key is read before the first delete, so that a
 * bad line (EX_DATAERR) changes nothing, as with -i.
 */
static int
map_delete(const struct map_opts *o)
{
	struct map_input in;
	struct dict **dicts;
	struct argv *keys;
	bool found = false, failed = false;
	char *key;
	size_t i;
	int rc, status = 0;

	keys = argv_new();
	if (strcmp(o->key, "-") != 0) {
		argv_add(keys, o->key);
	} else {
		map_input_init(&in);
		while ((rc = map_next_key(&in, &key, &status)) > 0)
			argv_add(keys, key);
		buf_fini(&in.line);
		if (rc < 0) {
			argv_free(keys);
			return status;
		}
	}
	dict_lmdb_set_map_size((size_t)var_lmdb_map_size);
	if ((dicts = map_open_all(o, O_RDWR, &status)) == NULL) {
		argv_free(keys);
		return status;
	}
	for (i = 0; i < keys->argc; i++)
		found |= map_delete_key(dicts, keys->argv[i], &failed);
	argv_free(keys);
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
