/*
 * mkmap.h - build indexed lookup tables from source files
 *
 * What `petrel map` (postmap), `petrel alias` (postalias), `newaliases`
 * and `sendmail -bi` share:
 *
 *	status = mkmap_build("lmdb:/etc/petrel/access", NULL, NULL,
 *	    MKMAP_POSTMAP, DICT_FLAG_FOLD, &why);
 *	if (status != 0)
 *		msg_fatal_status(status, "%s", why.data);
 *
 * A table named without a type ("/etc/aliases") has
 * $default_database_type; its source file is the table's name without
 * the type ("lmdb:/etc/x" is built from /etc/x into /etc/x.lmdb). Only
 * types that can be created and committed (lmdb, hash, btree, cdb) can
 * be built.
 *
 * A build is all or nothing: the first bad line (reported as "table
 * <type:name>: <file>, line <n>: <problem>") or write error ends it
 * without committing, and the table in place is left as it was;
 * otherwise the new table replaces it atomically. Every error of a build
 * or an add names the table so ("table lmdb:/etc/x: open /etc/x:
 * Permission denied"), as lookup errors do. Duplicate keys are warnings
 * ("<file>, line <n>: duplicate entry: \"key\"") and the first entry
 * wins, unless dict_flags hold DICT_FLAG_DUP_REPLACE (the last wins) or
 * DICT_FLAG_DUP_IGNORE (no warning). With DICT_FLAG_FOLD (the commands' default; -f turns it off)
 * keys are stored in lowercase.
 *
 * Source formats:
 *  MKMAP_POSTMAP	postmap(1)'s, see dict_source.h: "key whitespace
 *			value", one entry per logical line.
 *  MKMAP_ALIAS		aliases(5): "name: value, value ..." with
 *			lline.h's comments and continuation lines (joined
 *			as written).
 *			The name is a word, or a quoted string for names with
 *			spaces or colons ("\"john smith\": john"; a backslash
 *			quotes the next character; the quotes are not stored).
 *			The value is stored as written, trimmed. Errors:
 *			"missing ':' after the alias name", "empty alias
 *			name", "unterminated quoted alias name", "unexpected
 *			text after the quoted alias name", "alias name \"x\"
 *			contains whitespace (quote it)", "no value for alias
 *			\"x\"". As Sendmail and Postfix do, an alias table
 *			also gets the entry "@" -> "@" (unless the source has
 *			an "@" entry), which tells Sendmail that the database
 *			is complete; lookups of real names never see it.
 *
 * Results are 0, or a sysexits.h status with why set:
 *	EX_CONFIG	unknown table type (also $default_database_type), or
 *			a type that cannot be built
 *	EX_NOINPUT	the source file cannot be opened
 *	EX_DATAERR	a bad line in the source (or a read error)
 *	EX_CANTCREAT	the table cannot be created or written
 *	EX_IOERR	the new table cannot be committed
 */
#ifndef PETREL_MKMAP_H
#define PETREL_MKMAP_H

#include <stdio.h>

#include "buf.h"
#include "dict_source.h"

#define MKMAP_POSTMAP	0
#define MKMAP_ALIAS	1

/*
 * "type:name" for a table argument: as given when it starts with a type
 * ("lmdb:/etc/x"), else $default_database_type:arg ("/etc/x",
 * "./a:b"). out is replaced. Returns 0, or -1 with why set when the
 * default type is needed and unknown ("default_database_type = frob:
 * unknown table type").
 */
int mkmap_type_name(const char *arg, struct buf *out, struct buf *why);

/*
 * Read every entry of a source file in format, calling fn for each (see
 * dict_source.h; fp when not NULL, path names the file in errors).
 * Returns 0, or -1 at the first error with why set.
 */
int mkmap_read(const char *path, FILE *fp, int format, dict_source_fn fn,
    void *ctx, struct buf *why);

/*
 * Build type_name (see above) from source_path (NULL: the table's name)
 * or from source_fp when not NULL (source_path, or the name, names it in
 * messages). Returns 0 or a sysexits.h status with why set.
 */
int mkmap_build(const char *type_name, const char *source_path,
    FILE *source_fp, int format, int dict_flags, struct buf *why);

/*
 * Add the entries of a source (petrel map -i: usually stdin) to an
 * existing table, creating it when missing; a key that exists gets the
 * new value. Every line is checked before the table is touched, so a bad
 * line changes nothing. Results as mkmap_build().
 */
int mkmap_add(const char *type_name, const char *source_path,
    FILE *source_fp, int format, int dict_flags, struct buf *why);

/*
 * newaliases, petrel alias without arguments, sendmail -bi: rebuild
 * every table in $alias_database from its source. Each failure is
 * reported with msg_error; the others are still built. Returns 0, or the
 * status of the first failure.
 */
int mkmap_newaliases(int dict_flags);

#endif
