/*
 * mkmap.c - build indexed lookup tables from source files
 *
 * mkmap_build() opens the table for creation (a new file that readers
 * do not see), feeds it every entry of the source, and commits only if
 * every line was good and every write worked; dict_close() without a
 * commit throws the new file away. So a mistake in /etc/aliases never
 * costs the mail system its working alias table. mkmap_read() is the
 * one source reader (postmap format via dict_source.c, aliases(5) format
 * here); mkmap_newaliases() is newaliases, `petrel alias` and (later)
 * `sendmail -bi`. See mkmap.h for the formats and the messages.
 *
 * SECURITY: source files come from the administrator; lines are bounded
 * by lline.c, names and values are copied into growable buffers, and
 * text from them is made printable before it is logged.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "argv.h"
#include "buf.h"
#include "dict.h"
#include "dict_lmdb.h"
#include "dict_source.h"
#include "lline.h"
#include "mem.h"
#include "mkmap.h"
#include "msg.h"
#include "params.h"
#include "str.h"

/* Sendmail's "the database is complete" entry in alias tables. */
#define MKMAP_ALIAS_MARK	"@"

int
mkmap_type_name(const char *arg, struct buf *out, struct buf *why)
{
	const char *cp;

	/* A type is a word of letters, digits, '_' and '-' before ':'. */
	for (cp = arg; isalnum((unsigned char)*cp) || *cp == '_' || *cp == '-';
	    cp++)
		continue;
	buf_reset(out);
	if (cp > arg && *cp == ':' && cp[1] != 0) {
		buf_puts(out, arg);
		return 0;
	}
	/* Name the parameter: the command line did not say the type. */
	if (dict_find_type(var_default_database_type) == NULL) {
		buf_reset(why);
		buf_puts(why, "default_database_type = ");
		str_printable(why, var_default_database_type,
		    strlen(var_default_database_type));
		buf_puts(why, ": unknown table type");
		return -1;
	}
	buf_printf(out, "%s:%s", var_default_database_type, arg);
	return 0;
}

/* Put "table <name>: " before a message that does not name the table. */
static void
mkmap_name_table(struct buf *why, const char *type_name)
{
	struct buf text;

	buf_init(&text, why->len + strlen(type_name) + 16);
	buf_printf(&text, "table %s: %s", type_name, why->data);
	buf_setn(why, text.data, text.len);
	buf_fini(&text);
}

/*
 * The aliases(5) format.
 */

/* Split one logical line into name and value; -1 with problem set. */
static int
mkmap_alias_parse(char *line, struct buf *name, char **value,
    struct buf *problem)
{
	char *cp = line, *colon;

	buf_reset(name);
	if (*cp == '"') {
		for (cp++; *cp != '"'; cp++) {
			if (*cp == '\\' && cp[1] != 0)
				cp++;
			else if (*cp == 0) {
				buf_puts(problem, "unterminated quoted alias "
				    "name");
				return -1;
			}
			buf_putc(name, *cp);
		}
		for (cp++; isspace((unsigned char)*cp); cp++)
			continue;
		if (*cp != ':') {
			buf_puts(problem, *cp == 0 ? "missing ':' after the "
			    "alias name" : "unexpected text after the quoted "
			    "alias name");
			return -1;
		}
		colon = cp;
	} else {
		if ((colon = strchr(cp, ':')) == NULL) {
			buf_puts(problem, "missing ':' after the alias name");
			return -1;
		}
		*colon = 0;
		buf_puts(name, str_trim(cp));
		*colon = ':';
		if (strpbrk(name->data, " \t") != NULL) {
			buf_puts(problem, "alias name \"");
			str_printable(problem, name->data, name->len);
			buf_puts(problem, "\" contains whitespace (quote it)");
			return -1;
		}
	}
	if (name->len == 0) {
		buf_puts(problem, "empty alias name");
		return -1;
	}
	*value = str_trim(colon + 1);
	if (**value == 0) {
		buf_puts(problem, "no value for alias \"");
		str_printable(problem, name->data, name->len);
		buf_puts(problem, "\"");
		return -1;
	}
	return 0;
}

static int
mkmap_alias_read(const char *path, FILE *fp, dict_source_fn fn, void *ctx,
    struct buf *why)
{
	struct lline_reader *r;
	struct buf line, name, problem;
	char *value;
	int lineno, rc;

	buf_init(&line, 256);
	buf_init(&name, 64);
	buf_init(&problem, 64);
	r = lline_open(fp, path);
	while ((rc = lline_next(r, &line, &lineno, why)) > 0) {
		if (mkmap_alias_parse(line.data, &name, &value, &problem) < 0) {
			buf_reset(why);
			buf_printf(why, "%s, line %d: %s", path, lineno,
			    problem.data);
			rc = -1;
			break;
		}
		if (fn(name.data, value, path, lineno, ctx, why) < 0) {
			rc = -1;
			break;
		}
	}
	lline_close(r);
	buf_fini(&line);
	buf_fini(&name);
	buf_fini(&problem);
	return rc < 0 ? -1 : 0;
}

int
mkmap_read(const char *path, FILE *fp, int format, dict_source_fn fn,
    void *ctx, struct buf *why)
{
	FILE *own = NULL;
	int rc;

	buf_reset(why);
	if (format == MKMAP_POSTMAP)
		return dict_source_read(path, fp, fn, ctx, why);
	if (fp == NULL && (fp = own = fopen(path, "re")) == NULL) {
		buf_printf(why, "open %s: %s", path, strerror(errno));
		return -1;
	}
	rc = mkmap_alias_read(path, fp, fn, ctx, why);
	if (own != NULL && fclose(own) == EOF && rc == 0) {
		buf_printf(why, "close %s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/*
 * Building
 */
struct mkmap_ctx {
	struct dict *dict;
	int status;		/* why the callback stopped the reader */
	size_t entries;
	/* mkmap_add(): the entries, checked before the table is opened. */
	struct argv *keys;
	struct argv *values;
	int *lines;
};

/* Store one entry; a duplicate is a warning, a write error the end. */
static int
mkmap_store(struct mkmap_ctx *ctx, const char *key, const char *value,
    const char *file, int line, struct buf *why)
{
	struct buf printable;
	const char *err;
	size_t len;

	switch (dict_update(ctx->dict, key, value)) {
	case DICT_NOTFOUND:
		ctx->entries++;
		break;
	case DICT_FOUND:
		if (ctx->dict->dict_flags
		    & (DICT_FLAG_DUP_REPLACE | DICT_FLAG_DUP_IGNORE))
			break;
		buf_init(&printable, 64);
		str_printable(&printable, key, strlen(key));
		msg_warn("%s, line %d: duplicate entry: \"%s\"", file, line,
		    printable.data);
		buf_fini(&printable);
		break;
	case DICT_TEMPFAIL:
		/* The table is named once, in front (mkmap_name_table). */
		err = dict_error(ctx->dict);
		len = strlen(ctx->dict->full_name);
		if (str_has_prefix(err, "table ")
		    && strncmp(err + 6, ctx->dict->full_name, len) == 0
		    && str_has_prefix(err + 6 + len, ": "))
			err += 6 + len + 2;
		buf_reset(why);
		buf_printf(why, "%s, line %d: %s", file, line, err);
		ctx->status = EX_CANTCREAT;
		return -1;
	}
	return 0;
}

static int
mkmap_build_fn(const char *key, const char *value, const char *file,
    int line, void *context, struct buf *why)
{
	return mkmap_store(context, key, value, file, line, why);
}

/* mkmap_add(): remember the entry; the table is written after. */
static int
mkmap_collect_fn(const char *key, const char *value, const char *file,
    int line, void *context, struct buf *why)
{
	struct mkmap_ctx *ctx = context;

	(void)file;
	(void)why;
	ctx->lines = xreallocarray(ctx->lines, ctx->keys->argc + 1,
	    sizeof(*ctx->lines));
	ctx->lines[ctx->keys->argc] = line;
	argv_add(ctx->keys, key);
	argv_add(ctx->values, value);
	return 0;
}

/*
 * The checks and preparations that building and adding share: the full
 * table name, the name of its source, a type that can be written, and
 * the LMDB map size. Returns 0 or a status.
 */
static int
mkmap_prepare(const char *type_name, const char *source_path,
    struct buf *full, struct buf *source, struct buf *why)
{
	const struct dict_ops *ops;
	struct buf type;
	int status = 0;

	buf_reset(why);
	if (mkmap_type_name(type_name, full, why) < 0)
		return EX_CONFIG;
	buf_init(&type, 16);
	if (dict_split_name(full->data, &type, source) < 0
	    || (ops = dict_find_type(type.data)) == NULL) {
		buf_printf(why, "table \"%s\": unknown table type \"%s\"",
		    full->data, type.data);
		status = EX_CONFIG;
	} else if (ops->update == NULL || ops->commit == NULL) {
		buf_printf(why, "table %s: a %s table cannot be built from a "
		    "source file (use lmdb, hash, btree or cdb)", full->data,
		    type.data);
		status = EX_CONFIG;
	}
	buf_fini(&type);
	if (source_path != NULL)
		buf_set(source, source_path);
	dict_lmdb_set_map_size((size_t)var_lmdb_map_size);
	return status;
}

/*
 * Sendmail's "@" entry. Without DICT_FLAG_DUP_REPLACE an "@" entry from
 * the source stays as it was (update keeps the first, quietly here).
 */
static int
mkmap_alias_mark(struct dict *d, struct buf *why)
{
	if (dict_update(d, MKMAP_ALIAS_MARK, MKMAP_ALIAS_MARK)
	    == DICT_TEMPFAIL) {
		buf_printf(why, "%s", dict_error(d));
		return EX_CANTCREAT;
	}
	return 0;
}

/* Open the source unless the caller gave it; EX_NOINPUT if we cannot. */
static int
mkmap_open_source(const char *full, const char *path, FILE **fp, FILE **own,
    struct buf *why)
{
	*own = NULL;
	if (*fp != NULL)
		return 0;
	if ((*fp = *own = fopen(path, "re")) == NULL) {
		buf_printf(why, "table %s: open %s: %s", full, path,
		    strerror(errno));
		return EX_NOINPUT;
	}
	return 0;
}

static int
mkmap_close_source(const char *full, const char *path, FILE *own,
    int status, struct buf *why)
{
	if (own != NULL && fclose(own) == EOF && status == 0) {
		buf_reset(why);
		buf_printf(why, "table %s: close %s: %s", full, path,
		    strerror(errno));
		status = EX_DATAERR;
	}
	return status;
}

int
mkmap_build(const char *type_name, const char *source_path,
    FILE *source_fp, int format, int dict_flags, struct buf *why)
{
	struct mkmap_ctx ctx = {0};
	struct buf full, source;
	FILE *own = NULL;
	int status;

	buf_init(&full, 64);
	buf_init(&source, 64);
	if ((status = mkmap_prepare(type_name, source_path, &full, &source,
	    why)) != 0
	    || (status = mkmap_open_source(full.data, source.data, &source_fp,
	    &own, why)) != 0)
		goto out;
	ctx.dict = dict_open_strict(full.data, O_RDWR | O_CREAT | O_TRUNC,
	    dict_flags | DICT_FLAG_NO_CACHE, why);
	if (ctx.dict == NULL) {
		status = EX_CANTCREAT;
		goto out;
	}
	if (mkmap_read(source.data, source_fp, format, mkmap_build_fn, &ctx,
	    why) < 0) {
		status = ctx.status ? ctx.status : EX_DATAERR;
		mkmap_name_table(why, full.data);
		goto out;
	}
	if (format == MKMAP_ALIAS && (status = mkmap_alias_mark(ctx.dict,
	    why)) != 0)
		goto out;
	if (dict_commit(ctx.dict, why) < 0) {
		status = EX_IOERR;
		goto out;
	}
	if (msg_verbose)
		msg_info("table %s: %zu entries from %s", full.data,
		    ctx.entries, source.data);
out:
	dict_close(ctx.dict);	/* without commit: nothing changes */
	status = mkmap_close_source(full.data, source.data, own, status, why);
	buf_fini(&full);
	buf_fini(&source);
	return status;
}

int
mkmap_add(const char *type_name, const char *source_path, FILE *source_fp,
    int format, int dict_flags, struct buf *why)
{
	struct mkmap_ctx ctx = {0};
	struct buf full, source;
	FILE *own = NULL;
	size_t i;
	int status;

	buf_init(&full, 64);
	buf_init(&source, 64);
	ctx.keys = argv_new();
	ctx.values = argv_new();
	if ((status = mkmap_prepare(type_name, source_path, &full, &source,
	    why)) != 0
	    || (status = mkmap_open_source(full.data, source.data, &source_fp,
	    &own, why)) != 0)
		goto out;
	if (mkmap_read(source.data, source_fp, format, mkmap_collect_fn, &ctx,
	    why) < 0) {
		status = EX_DATAERR;
		mkmap_name_table(why, full.data);
		goto out;
	}
	ctx.dict = dict_open_strict(full.data, O_RDWR | O_CREAT,
	    dict_flags | DICT_FLAG_DUP_REPLACE | DICT_FLAG_NO_CACHE, why);
	if (ctx.dict == NULL) {
		status = EX_CANTCREAT;
		goto out;
	}
	for (i = 0; i < ctx.keys->argc; i++) {
		if (mkmap_store(&ctx, ctx.keys->argv[i], ctx.values->argv[i],
		    source.data, ctx.lines[i], why) < 0) {
			status = ctx.status;
			mkmap_name_table(why, full.data);
			goto out;
		}
	}
	if (format == MKMAP_ALIAS && (status = mkmap_alias_mark(ctx.dict,
	    why)) != 0)
		goto out;
	if (dict_commit(ctx.dict, why) < 0)
		status = EX_IOERR;
out:
	dict_close(ctx.dict);
	status = mkmap_close_source(full.data, source.data, own, status, why);
	argv_free(ctx.keys);
	argv_free(ctx.values);
	free(ctx.lines);
	buf_fini(&full);
	buf_fini(&source);
	return status;
}

int
mkmap_newaliases(int dict_flags)
{
	struct argv *tables;
	struct buf why;
	size_t i;
	int status, first = 0;

	tables = argv_split(var_alias_database, ", \t\r\n");
	buf_init(&why, 128);
	for (i = 0; i < tables->argc; i++) {
		status = mkmap_build(tables->argv[i], NULL, NULL, MKMAP_ALIAS,
		    dict_flags, &why);
		if (status != 0) {
			msg_error("%s", why.data);
			if (first == 0)
				first = status;
		}
	}
	buf_fini(&why);
	argv_free(tables);
	return first;
}
