/*
 * dict.h - lookup tables: one interface, many types
 *
 * A table is named "type:name" as in Postfix (hash:/etc/aliases,
 * pcre:/etc/petrel/header_checks, mysql:/etc/petrel/users.cf,
 * inline:{a=b, c=d}, static:OK, proxy:mysql:/etc/petrel/users.cf).
 *
 *	d = dict_open("lmdb:/etc/petrel/access", O_RDONLY, DICT_FLAG_FOLD);
 *	switch (dict_lookup(d, "example.com", value)) {
 *	case DICT_FOUND:	... value holds the result ...
 *	case DICT_NOTFOUND:	... no such key ...
 *	case DICT_TEMPFAIL:	... defer; dict_error(d) says why ...
 *	}
 *	dict_close(d);
 *
 * dict_open() never fails: a table that cannot be opened (unknown type,
 * missing file, syntax error, database down at open) becomes a surrogate
 * that answers DICT_TEMPFAIL to everything, with the reason logged once
 * and kept in dict_error(). So a daemon starts, and mail is deferred
 * rather than lost or bounced. A temporary failure is never "not found".
 *
 * Opened tables are shared inside a process: opening the same type, name,
 * open flags and dict flags again returns the same object with one more
 * reference; dict_close() drops one. Surrogates are shared too, so a
 * table that cannot be opened is logged once per process however often
 * it is opened, until one of the files it watches changes (see
 * dict_changed()): the next dict_open() then tries again.
 * dict_open_strict() does not use a shared surrogate: it tries again.
 *
 * Keys are text without NUL; a key longer than DICT_MAX_KEY is a
 * temporary failure ("key too long"), as is a stored value that holds a
 * NUL byte (looked up or iterated) or a stored key that holds one
 * (iterated). With DICT_FLAG_FOLD a key is lowercased before lookup (and
 * before storing, when a table is built).
 */
#ifndef PETREL_DICT_H
#define PETREL_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "buf.h"

enum dict_result {
	DICT_FOUND,
	DICT_NOTFOUND,
	DICT_TEMPFAIL,
};

/* dict_flags */
#define DICT_FLAG_FOLD		(1 << 0)	/* lowercase keys */
#define DICT_FLAG_DUP_REPLACE	(1 << 1)	/* update: replace silently */
#define DICT_FLAG_DUP_IGNORE	(1 << 2)	/* update: keep the first */
#define DICT_FLAG_NO_PROXY	(1 << 3)	/* proxymap: no nested proxy */
#define DICT_FLAG_NO_CACHE	(1 << 4)	/* private, not shared */

#define DICT_MAX_KEY		4096

enum dict_seq {
	DICT_SEQ_FIRST,
	DICT_SEQ_NEXT,
};

struct dict;
struct dict_watch_name;

/*
 * One type. open() returns a new table, or NULL with why set ("open
 * /etc/x: No such file or directory", "/etc/x.cf, line 3: ..."). The
 * other functions may be NULL when the type cannot do that (lookup
 * never is). Keys reach them already folded and length-checked.
 *
 * Creating (petrel map): open_flags with O_CREAT|O_TRUNC asks for a new,
 * empty table that readers do not see until dict_commit(); indexed types
 * write a temporary file and commit renames it into place.
 */
struct dict_ops {
	const char *type;
	struct dict *(*open)(const char *name, int open_flags, int dict_flags,
	    struct buf *why);
	enum dict_result (*lookup)(struct dict *d, const char *key,
	    struct buf *value);
	/* update: DICT_FOUND when the key existed (replaced or kept). */
	enum dict_result (*update)(struct dict *d, const char *key,
	    const char *value);
	enum dict_result (*delete)(struct dict *d, const char *key);
	enum dict_result (*iterate)(struct dict *d, enum dict_seq seq,
	    struct buf *key, struct buf *value);
	int (*commit)(struct dict *d, struct buf *why);
	void (*close)(struct dict *d);
	/*
	 * Optional: the file a table of this name is read from (path is
	 * replaced). When opening fails, the surrogate watches that file,
	 * so that dict_changed() notices when it appears or is fixed.
	 */
	void (*file)(const char *name, struct buf *path);
	/*
	 * A lookup's DICT_TEMPFAIL is always a table's that it asked
	 * (dict_maps.c), so dict_lookup() does not log it a second time.
	 */
	bool quiet_tempfail;
};

/*
 * Every type's table starts with a struct dict (the type's struct embeds
 * it as its first member). dict_alloc() fills it in.
 */
struct dict {
	const struct dict_ops *ops;
	char *type;			/* "lmdb" (also when opened as hash:) */
	char *name;			/* what follows "type:" */
	char *full_name;		/* "type:name" as opened */
	int open_flags;
	int dict_flags;
	struct buf error;		/* why the last DICT_TEMPFAIL */
	/*
	 * Change detection: the file a table was loaded from, if any, kept
	 * open so that it can be checked after chroot(2) too (watch_fd,
	 * watch_st). Files watched by name instead (dict.c): the file of a
	 * surrogate, which may be missing, and the other files a table was
	 * read from (dict_open_watch()). watching: in dict_changed()'s list.
	 */
	char *watch_path;
	int watch_fd;
	struct stat watch_st;
	bool watching;
	struct dict_watch_name *watch_names;
	size_t watch_name_count;
	/* Sharing (dict.c). */
	int refcount;
	char *cache_key;
};

/* For implementations: allocate size bytes (>= sizeof(struct dict)). */
struct dict *dict_alloc(const struct dict_ops *ops, const char *name,
    int open_flags, int dict_flags, size_t size);
/* Remember the file a table came from (for dict_changed()). */
void dict_watch(struct dict *d, const char *path);
/* A dict_ops.file for types whose name is the file's path. */
void dict_file_is_name(const char *name, struct buf *path);
/*
 * For a type's open(), called through dict_open(): the table being
 * opened depends on path as well (a database file, a file named in its
 * configuration). Call it before reading path. When the open fails, the
 * surrogate watches path too, so that dict_changed() notices when it
 * appears or is fixed; with kept, the table watches it when the open
 * works as well (a file read once: a change needs a restart). Outside
 * an open through dict_open() it does nothing.
 */
void dict_open_watch(const char *path, bool kept);
/* Record a temporary failure: sets d->error, returns DICT_TEMPFAIL. */
enum dict_result dict_tempfail(struct dict *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Free the struct dict fields (implementations call it from close). */
void dict_free(struct dict *d);

/*
 * Add a type (e.g. proxy, from the global library); returns 0, or -1
 * when another type of that name was added or there is no room. A
 * built-in type of the same name wins.
 */
int dict_register(const struct dict_ops *ops);
/* hash: and btree: answer as lmdb: */
const struct dict_ops *dict_find_type(const char *type);

struct dict *dict_open(const char *type_name, int open_flags, int dict_flags);
/* Like dict_open, but NULL with why set instead of a surrogate. */
struct dict *dict_open_strict(const char *type_name, int open_flags,
    int dict_flags, struct buf *why);
/* A table that fails every request with reason (for callers too). */
struct dict *dict_surrogate(const char *type_name, int open_flags,
    int dict_flags, const char *reason);
enum dict_result dict_lookup(struct dict *d, const char *key,
    struct buf *value);
enum dict_result dict_update(struct dict *d, const char *key,
    const char *value);
enum dict_result dict_delete(struct dict *d, const char *key);
enum dict_result dict_iterate(struct dict *d, enum dict_seq seq,
    struct buf *key, struct buf *value);
/* Make a created table visible; 0, or -1 with why. */
int dict_commit(struct dict *d, struct buf *why);
void dict_close(struct dict *d);		/* accepts NULL */
const char *dict_error(const struct dict *d);
bool dict_is_surrogate(const struct dict *d);

/*
 * True when a file that an open table was loaded from has been replaced
 * or modified since (the first such table is logged: "table X has
 * changed -- restarting"). Long-running daemons check it between clients
 * and exit to be restarted with fresh tables. This covers tables that
 * failed to open as well: when the file a surrogate stands for appears,
 * or is replaced or modified (an administrator fixed it), a restart
 * gives the daemon the working table.
 */
bool dict_changed(void);

/* Split "type:name" (name may itself contain ':'); -1 if no ':' */
int dict_split_name(const char *type_name, struct buf *type,
    struct buf *name);

#endif
