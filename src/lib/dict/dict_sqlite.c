/*
 * dict_sqlite.c - sqlite: tables (Postfix's sqlite_table(5))
 *
 *	sqlite:/etc/petrel/users.cf, with
 *		dbname = /var/lib/petrel/users.sqlite
 *		query = SELECT dest FROM alias WHERE addr = '%s'
 *
 * The database file is opened read-only when the table is opened (so a
 * missing file makes the table a surrogate that defers mail, with the
 * reason logged, and that dict_changed() reports once the file
 * appears), and kept open. Parameters, templates and results are
 * dict_sql.c's; there are no hosts. Lookups only: no update, delete or
 * iteration.
 *
 * SECURITY: key-derived values are quoted with sqlite3's %q (quotes
 * doubled) inside '...'. A query must be one read-only statement;
 * anything after the first statement is refused.
 */
#include <sqlite3.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_sql.h"
#include "dict_types.h"
#include "dict_dl.h"
#include "petrel_config.h"

/* The libsqlite3 functions used here, loaded at the first open (dict_dl.h). */
#define DICT_SQLITE_FUNCS(X) \
	X(sqlite3_busy_timeout) \
	X(sqlite3_close) \
	X(sqlite3_column_bytes) \
	X(sqlite3_column_count) \
	X(sqlite3_column_text) \
	X(sqlite3_column_type) \
	X(sqlite3_errmsg) \
	X(sqlite3_errstr) \
	X(sqlite3_finalize) \
	X(sqlite3_free) \
	X(sqlite3_mprintf) \
	X(sqlite3_open_v2) \
	X(sqlite3_prepare_v2) \
	X(sqlite3_step) \
	X(sqlite3_stmt_readonly)

#define DICT_SQLITE_PTR(f)	static __typeof__(f) *dl_##f;
DICT_SQLITE_FUNCS(DICT_SQLITE_PTR)
#define DICT_SQLITE_SYM(f)	{#f, (void **)&dl_##f},
static const struct dict_dl_sym dict_sqlite_syms[] = {
	DICT_SQLITE_FUNCS(DICT_SQLITE_SYM)
};
static struct dict_dl dict_sqlite_dl = DICT_DL_INIT(DICT_SQLITE_LIB, dict_sqlite_syms);
#include "msg.h"

/* How long to wait for a writer's lock before failing the lookup. */
#define DICT_SQLITE_BUSY_MS	5000

static void *
dict_sqlite_connect(struct dict_sql *t, struct dict_sql_host *h,
    struct buf *why)
{
	sqlite3 *db = NULL;
	int rc;

	(void)t;
	rc = dl_sqlite3_open_v2(h->addr, &db, SQLITE_OPEN_READONLY
	    | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		buf_printf(why, "open database %s: %s", h->addr,
		    db ? dl_sqlite3_errmsg(db) : dl_sqlite3_errstr(rc));
		dl_sqlite3_close(db);
		return NULL;
	}
	dl_sqlite3_busy_timeout(db, DICT_SQLITE_BUSY_MS);
	return db;
}

static void
dict_sqlite_disconnect(void *conn)
{
	dl_sqlite3_close(conn);
}

static int
dict_sqlite_quote(void *ctx, struct buf *out, const char *str, size_t len,
    struct buf *why)
{
	char *q;

	(void)ctx;
	if (len > DICT_MAX_KEY) {	/* keys are bounded; be sure of it */
		buf_set(why, "value too long to quote");
		return -1;
	}
	if ((q = dl_sqlite3_mprintf("%.*q", (int)len, str)) == NULL)
		msg_fatal("out of memory");
	buf_puts(out, q);
	dl_sqlite3_free(q);
	return 0;
}

static bool
dict_sqlite_blank(const char *s)
{
	return s == NULL || s[strspn(s, " \t\r\n;")] == 0;
}

static enum dict_sql_status
dict_sqlite_query(struct dict_sql *t, void *conn, const char *sql,
    size_t len, struct dict_sql_result *res, struct buf *why)
{
	sqlite3 *db = conn;
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	enum dict_sql_status st = DICT_SQL_EQUERY;
	int rc, i, ncol;

	(void)t;
	if (len > (size_t)0x7fffffff) {
		buf_set(why, "query too long");
		return DICT_SQL_EQUERY;
	}
	rc = dl_sqlite3_prepare_v2(db, sql, (int)len, &stmt, &tail);
	if (rc != SQLITE_OK) {
		buf_printf(why, "query failed: %s", dl_sqlite3_errmsg(db));
		goto out;
	}
	if (stmt == NULL) {
		buf_set(why, "query failed: empty query");
		goto out;
	}
	if (!dict_sqlite_blank(tail)) {
		buf_set(why, "query failed: more than one statement");
		goto out;
	}
	if (!dl_sqlite3_stmt_readonly(stmt)) {
		buf_set(why, "query failed: not a read-only statement");
		goto out;
	}
	ncol = dl_sqlite3_column_count(stmt);
	while ((rc = dl_sqlite3_step(stmt)) == SQLITE_ROW) {
		for (i = 0; i < ncol; i++) {
			const unsigned char *text;
			int n;

			if (dl_sqlite3_column_type(stmt, i) == SQLITE_NULL)
				continue;
			text = dl_sqlite3_column_text(stmt, i);
			n = dl_sqlite3_column_bytes(stmt, i);
			if (text == NULL)
				msg_fatal("out of memory");
			if (dict_sql_result_add(res, (const char *)text,
			    (size_t)n) < 0) {
				/* The caller reports res->why. */
				st = DICT_SQL_OK;
				goto out;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		buf_printf(why, "query failed: %s", dl_sqlite3_errmsg(db));
		goto out;
	}
	st = DICT_SQL_OK;
out:
	dl_sqlite3_finalize(stmt);
	return st;
}

/* Open the database file now: a missing one is an open error. */
static int
dict_sqlite_check(struct dict_sql *t, struct buf *why)
{
	struct dict_sql_host *h = &t->hosts[0];
	struct buf err;

	/*
	 * A surrogate watches the database file, to notice when it
	 * appears; a working table does not: its data changes while it
	 * is open, and lookups see that without a restart.
	 */
	dict_open_watch(h->addr, false);
	buf_init(&err, 64);
	if ((h->conn = dict_sqlite_connect(t, h, &err)) == NULL) {
		buf_printf(why, "%s: %s", t->cf.file, err.data);
		buf_fini(&err);
		return -1;
	}
	buf_fini(&err);
	return 0;
}

static const struct dict_sql_backend dict_sqlite_backend = {
	.connect = dict_sqlite_connect,
	.quote = dict_sqlite_quote,
	.query = dict_sqlite_query,
	.disconnect = dict_sqlite_disconnect,
	.check = dict_sqlite_check,
	.cf_flags = 0,
};

static struct dict *
dict_sqlite_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_sql *t;

	if (dict_dl_load(&dict_sqlite_dl, why) < 0)
		return NULL;
	t = dict_sql_open(&dict_sqlite_ops, &dict_sqlite_backend, name,
	    open_flags, dict_flags, why);
	return t ? &t->d : NULL;
}

const struct dict_ops dict_sqlite_ops = {
	.type = "sqlite",
	.open = dict_sqlite_open,
	.lookup = dict_sql_lookup,
	.close = dict_sql_close,
	.file = dict_file_is_name,
};
