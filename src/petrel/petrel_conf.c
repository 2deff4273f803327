/*
 * petrel_conf.c - `petrel conf`: print and edit parameters (postconf)
 *
 * usage:	petrel conf [-c dir] [-d | -n] [-h] [-x] [name ...]
 *		petrel conf [-c dir] -e name=value ...
 *		petrel conf [-c dir] -M [service[/type] ...]
 *
 * Without names, every known parameter is printed as "name = value",
 * sorted by name: the main.cf value, else the default, raw (as written).
 * With names, only those; an unknown name is a warning ("foo: unknown
 * parameter"), the exit status stays 0.
 *	-d	defaults, ignoring main.cf
 *	-n	only parameters set in main.cf (unknown ones included)
 *	-h	values only, without "name = "
 *	-x	expand $name references (with -d: within the defaults)
 *	-e	edit main.cf (created if missing): an existing definition is
 *		replaced in place, continuation lines included, later
 *		duplicates dropped; a new one is appended. Every other byte
 *		of the file stays as it was, and the file is replaced
 *		atomically. A known parameter's new value is expanded and
 *		converted first: a bad value is fatal (EX_CONFIG) and the
 *		file is left alone. An unknown name is only a warning.
 *	-M	master.cf entries in normalized form, optionally only the
 *		named services ("smtp", "smtp/inet").
 * main.cf that cannot be read or parsed: conf.c's messages, EX_CONFIG.
 *
 * SECURITY: main.cf and master.cf are trusted (they come from the
 * administrator), -e arguments are checked so that one cannot add more
 * than one line to main.cf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "file.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"

/* main.cf is administrator text; anything bigger is a mistake. */
#define CONF_FILE_LIMIT		(64UL * 1024 * 1024)

struct conf_opts {
	const char *dir;	/* absolute configuration directory */
	bool defaults;		/* -d */
	bool set_only;		/* -n */
	bool values_only;	/* -h */
	bool expand;		/* -x */
	bool edit;		/* -e */
	bool master;		/* -M */
};

static void
conf_path(struct buf *out, const struct conf_opts *o, const char *file)
{
	buf_reset(out);
	buf_printf(out, "%s/%s", o->dir, file);
}

static void
conf_flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write error on standard output: "
		    "%m");
}

/*
 * main.cf as the printing commands see it: the file's entries, plus
 * config_directory = the directory in use unless main.cf says otherwise
 * (an override, so -n does not show it).
 */
static struct conf *
conf_read_main(const struct conf_opts *o)
{
	struct conf *c = conf_new();
	struct buf path;

	buf_init(&path, 128);
	conf_path(&path, o, "main.cf");
	if (conf_read_file(c, path.data) < 0) {
		if (errno != 0)
			msg_fatal_status(EX_CONFIG, "cannot read %s: %m",
			    path.data);
		exit(EX_CONFIG);	/* conf.c reported each error */
	}
	buf_fini(&path);
	if (conf_lookup(c, "config_directory") == NULL)
		conf_set(c, "config_directory", o->dir, "command line", 0);
	return c;
}

static bool
conf_from_file(const struct conf_entry *e)
{
	return e != NULL && e->line > 0;
}

/*
 * Print one parameter. c is main.cf, or an empty configuration for -d.
 * Returns 0, or -1 after reporting an expansion error.
 */
static int
conf_show(const struct conf_opts *o, const struct conf *c, const char *name,
    const char *raw)
{
	const struct param_def *p = param_find(name);
	struct buf val, why;
	int ret = 0;

	buf_init(&val, 64);
	buf_init(&why, 64);
	if (!o->expand || (p && p->type == PARAM_RAW)) {
		buf_set(&val, raw);
	} else if (conf_expand(c, raw, &val, &why) < 0) {
		msg_error("parameter %s: %s", name, why.data);
		ret = -1;
		goto out;
	}
	if (o->values_only)
		printf("%s\n", val.data);
	else if (val.len == 0)
		printf("%s =\n", name);
	else
		printf("%s = %s\n", name, val.data);
out:
	buf_fini(&val);
	buf_fini(&why);
	return ret;
}

static int
conf_entry_cmp(const void *a, const void *b)
{
	const struct conf_entry *const *ea = a, *const *eb = b;

	return strcmp((*ea)->name, (*eb)->name);
}

/* -n without names: main.cf's entries sorted by name. */
static int
conf_show_set(const struct conf_opts *o, const struct conf *c)
{
	const struct conf_entry **ents;
	size_t n = conf_count(c), i, k = 0;
	int errors = 0;

	ents = xreallocarray(NULL, n ? n : 1, sizeof(*ents));
	for (i = 0; i < n; i++) {
		const struct conf_entry *e = conf_entry_at(c, i);

		if (conf_from_file(e))
			ents[k++] = e;
	}
	qsort(ents, k, sizeof(*ents), conf_entry_cmp);
	for (i = 0; i < k; i++)
		if (conf_show(o, c, ents[i]->name, ents[i]->value) < 0)
			errors++;
	free(ents);
	return errors;
}

static int
conf_print(const struct conf_opts *o, int argc, char **argv)
{
	const struct param_def *table;
	struct conf *c;
	const char *raw;
	size_t n, i;
	int errors = 0, k, reported = msg_error_count();

	/* -d: an empty configuration, where every name is its default. */
	c = o->defaults ? conf_new() : conf_read_main(o);
	if (argc == 0 && o->set_only) {
		errors = conf_show_set(o, c);
	} else if (argc == 0) {
		table = param_table(&n);
		for (i = 0; i < n; i++) {
			raw = o->defaults ? param_default(&table[i])
			    : conf_raw(c, table[i].name);
			if (conf_show(o, c, table[i].name, raw ? raw : "") < 0)
				errors++;
		}
	} else {
		for (k = 0; k < argc; k++) {
			const struct param_def *p = param_find(argv[k]);

			if (o->set_only) {
				const struct conf_entry *e =
				    conf_lookup(c, argv[k]);

				if (!conf_from_file(e))
					continue;
				raw = e->value;
			} else if (o->defaults) {
				raw = p ? param_default(p) : NULL;
			} else {
				raw = conf_raw(c, argv[k]);
			}
			if (raw == NULL) {
				msg_warn("%s: unknown parameter", argv[k]);
				continue;
			}
			if (conf_show(o, c, argv[k], raw) < 0)
				errors++;
		}
	}
	conf_free(c);
	conf_flush_stdout();
	/* Also what a derived value reported (a bad mynetworks_style). */
	return errors || msg_error_count() > reported ? EX_CONFIG : 0;
}

/* -M: master.cf entries, all or those named service or service/type. */
static bool
conf_master_match(const struct master_ent *ent, int argc, char **argv)
{
	const char *slash;
	size_t len;
	int k;

	if (argc == 0)
		return true;
	for (k = 0; k < argc; k++) {
		slash = strchr(argv[k], '/');
		len = slash ? (size_t)(slash - argv[k]) : strlen(argv[k]);
		if (strlen(ent->service) != len
		    || strncmp(ent->service, argv[k], len) != 0)
			continue;
		if (slash == NULL
		    || strcmp(slash + 1, master_type_name(ent->type)) == 0)
			return true;
	}
	return false;
}

static int
conf_master(const struct conf_opts *o, int argc, char **argv)
{
	static const enum master_type types[] = {
		MASTER_INET, MASTER_UNIX, MASTER_FIFO, MASTER_PASS,
	};
	struct mastercf *cf;
	struct buf path, line;
	const char *slash;
	size_t i, t;
	int k;

	for (k = 0; k < argc; k++) {
		if ((slash = strchr(argv[k], '/')) == NULL)
			continue;
		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			if (strcmp(slash + 1, master_type_name(types[t])) == 0)
				break;
		if (t == sizeof(types) / sizeof(types[0]))
			msg_fatal_status(EX_USAGE, "-M %s: unknown service "
			    "type \"%s\" (expected inet, unix, fifo or pass)",
			    argv[k], slash + 1);
	}
	buf_init(&path, 128);
	conf_path(&path, o, "master.cf");
	if ((cf = mastercf_read(path.data)) == NULL)
		exit(EX_CONFIG);	/* mastercf.c reported why */
	buf_fini(&path);
	buf_init(&line, 128);
	for (i = 0; i < cf->count; i++) {
		if (!conf_master_match(cf->ents[i], argc, argv))
			continue;
		buf_reset(&line);
		master_ent_format(cf->ents[i], &line);
		printf("%s\n", line.data);
	}
	buf_fini(&line);
	mastercf_free(cf);
	conf_flush_stdout();
	return 0;
}

/*
 * -e editing, on main.cf's bytes. A logical line starts with a line
 * whose first byte is not whitespace or '#'; it goes on with the lines
 * that start with whitespace; blank and comment lines in between belong
 * to no logical line and are always kept.
 */
enum conf_line_kind {
	CONF_LINE_OTHER,	/* blank or comment */
	CONF_LINE_START,
	CONF_LINE_CONT,
};

static bool
conf_is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v'
	    || ch == '\f';
}

static enum conf_line_kind
conf_line_kind(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && conf_is_space((unsigned char)line[i]))
		i++;
	if (i == len || line[i] == '\n' || line[i] == '#')
		return CONF_LINE_OTHER;
	return i > 0 ? CONF_LINE_CONT : CONF_LINE_START;
}

/* Does this start line define name ("name = ...", "name=...")? */
static bool
conf_line_defines(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len < n || memcmp(line, name, n) != 0)
		return false;
	for (i = n; i < len && conf_is_space((unsigned char)line[i]); i++)
		continue;
	return i < len && line[i] == '=';
}

static void
conf_edit_line(struct buf *out, const char *name, const char *value)
{
	if (*value)
		buf_printf(out, "%s = %s\n", name, value);
	else
		buf_printf(out, "%s =\n", name);
}

/* Copy in to out with name's definition replaced by name = value. */
static void
conf_edit_text(const struct buf *in, struct buf *out, const char *name,
    const char *value)
{
	const char *cp = in->data, *end = in->data + in->len, *eol, *next;
	bool done = false, in_target = false;
	size_t len;

	while (cp < end) {
		eol = memchr(cp, '\n', (size_t)(end - cp));
		next = eol ? eol + 1 : end;
		len = (size_t)(next - cp);
		switch (conf_line_kind(cp, len)) {
		case CONF_LINE_START:
			in_target = conf_line_defines(cp, len, name);
			if (!in_target)
				buf_append(out, cp, len);
			else if (!done)
				conf_edit_line(out, name, value);
			/* A later duplicate would undo the edit: drop it. */
			done |= in_target;
			break;
		case CONF_LINE_CONT:
			if (!in_target)
				buf_append(out, cp, len);
			break;
		case CONF_LINE_OTHER:
			buf_append(out, cp, len);
			break;
		}
		cp = next;
	}
	if (!done) {
		if (out->len > 0 && out->data[out->len - 1] != '\n')
			buf_putc(out, '\n');
		conf_edit_line(out, name, value);
	}
}

struct conf_assign {
	char *name;
	char *value;
};

static bool
conf_valid_name(const char *name)
{
	const char *cp;

	if (*name == 0)
		return false;
	for (cp = name; *cp; cp++) {
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= 'A' && *cp <= 'Z')
		    || (*cp >= '0' && *cp <= '9') || *cp == '_' || *cp == '-'
		    || *cp == '.'))
			return false;
	}
	return true;
}

/* "name=value", whitespace around '=' and at the ends trimmed. */
static void
conf_parse_assign(const char *arg, struct conf_assign *a)
{
	const char *eq = strchr(arg, '='), *start, *stop;

	if (eq == NULL)
		msg_fatal_status(EX_USAGE, "-e: bad argument \"%s\" "
		    "(expected name=value)", arg);
	for (start = arg; conf_is_space((unsigned char)*start); start++)
		continue;
	for (stop = eq; stop > start && conf_is_space((unsigned char)stop[-1]);
	    stop--)
		continue;
	a->name = xstrndup(start, (size_t)(stop - start));
	for (start = eq + 1; conf_is_space((unsigned char)*start); start++)
		continue;
	stop = start + strlen(start);
	while (stop > start && conf_is_space((unsigned char)stop[-1]))
		stop--;
	a->value = xstrndup(start, (size_t)(stop - start));
	if (!conf_valid_name(a->name))
		msg_fatal_status(EX_USAGE, "-e: bad parameter name \"%s\" "
		    "(expected letters, digits, '_', '-' or '.')", a->name);
	if (strpbrk(a->value, "\n\r") != NULL)
		msg_fatal_status(EX_USAGE, "-e: value of %s: line breaks are "
		    "not allowed", a->name);
}

static int
conf_edit(const struct conf_opts *o, int argc, char **argv)
{
	struct conf_assign *as;
	struct buf path, text, next, val, why;
	const struct param_def *p;
	struct conf *c = conf_new();
	struct stat st;
	mode_t mode = 0644;
	int k;

	if (argc == 0)
		petrel_usage();
	as = xreallocarray(NULL, (size_t)argc, sizeof(*as));
	for (k = 0; k < argc; k++)
		conf_parse_assign(argv[k], &as[k]);

	buf_init(&path, 128);
	buf_init(&text, 4096);
	conf_path(&path, o, "main.cf");
	if (file_read(path.data, &text, CONF_FILE_LIMIT) < 0) {
		if (errno != ENOENT)
			msg_fatal_status(EX_CONFIG, "cannot read %s: %m",
			    path.data);
	} else if (stat(path.data, &st) == 0) {
		mode = st.st_mode & 07777;
	}
	/* The edited configuration as a whole, to expand new values in. */
	if (text.len > 0 && conf_read_text(c, text.data, path.data) < 0)
		exit(EX_CONFIG);	/* conf.c reported each error */
	if (conf_lookup(c, "config_directory") == NULL)
		conf_set(c, "config_directory", o->dir, "command line", 0);
	for (k = 0; k < argc; k++)
		conf_set(c, as[k].name, as[k].value, "command line", 0);

	buf_init(&val, 64);
	buf_init(&why, 64);
	for (k = 0; k < argc; k++) {
		if ((p = param_find(as[k].name)) == NULL) {
			msg_warn("%s: unknown parameter", as[k].name);
			continue;
		}
		buf_reset(&val);
		buf_reset(&why);
		if (conf_eval(c, as[k].name, &val, &why) < 0
		    || param_convert(p, val.data, false, &why) < 0)
			msg_fatal_status(EX_CONFIG, "parameter %s: %s",
			    as[k].name, why.data);
	}
	buf_fini(&val);
	buf_fini(&why);

	buf_init(&next, text.len + 128);
	for (k = 0; k < argc; k++) {
		buf_reset(&next);
		conf_edit_text(&text, &next, as[k].name, as[k].value);
		buf_setn(&text, next.data, next.len);
	}
	if (file_write_atomic(path.data, text.data, text.len, mode) < 0)
		msg_fatal_status(EX_CANTCREAT, "cannot update %s: %m",
		    path.data);

	for (k = 0; k < argc; k++) {
		free(as[k].name);
		free(as[k].value);
	}
	free(as);
	buf_fini(&next);
	buf_fini(&text);
	buf_fini(&path);
	conf_free(c);
	return 0;
}

int
petrel_conf(const char *dir, int argc, char **argv)
{
	struct conf_opts o = {0};
	char *abs_dir;
	int ch, status;

	optind = 0;			/* restart getopt (glibc) */
	while ((ch = petrel_getopt(argc, argv, "c:dehMnxv")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'd':
			o.defaults = true;
			break;
		case 'e':
			o.edit = true;
			break;
		case 'h':
			o.values_only = true;
			break;
		case 'M':
			o.master = true;
			break;
		case 'n':
			o.set_only = true;
			break;
		case 'x':
			o.expand = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			petrel_usage();
		}
	}
	if (o.edit && o.master)
		msg_fatal_status(EX_USAGE, "conf: specify one of -e and -M");
	if (o.defaults && o.set_only)
		msg_fatal_status(EX_USAGE, "conf: specify one of -d and -n");
	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	abs_dir = petrel_abs_dir(dir);
	o.dir = abs_dir;
	argc -= optind;
	argv += optind;
	if (o.edit)
		status = conf_edit(&o, argc, argv);
	else if (o.master)
		status = conf_master(&o, argc, argv);
	else
		status = conf_print(&o, argc, argv);
	free(abs_dir);
	return status;
}
