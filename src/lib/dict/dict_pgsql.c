/*
 * dict_pgsql.c - pgsql: tables (Postfix's pgsql_table(5)), via libpq
 *
 *	pgsql:/etc/petrel/users.cf, with
 *		hosts = unix:/run/postgresql inet:db2:5432
 *		    postgresql://petrel@db3/mail?sslmode=require
 *		user = petrel
 *		password = secret
 *		dbname = mail
 *		query = SELECT dest FROM alias WHERE addr = '%s'
 *
 * A host is "unix:/directory" (the socket directory) or
 * "unix:/directory/.s.PGSQL.port" (the socket), "inet:host:port",
 * "host:port", "host", or a postgresql:// URI whose settings win over
 * user, password and dbname of the file (dbname may then be omitted when
 * every host is a URI). Opening reads the file only; connections are
 * made at the first lookup and kept; dict_sql.c retries a broken
 * connection once and fails over. The old-style select_function builds
 * "SELECT function('%s')". Lookups only: no update, delete or iteration.
 *
 * SECURITY: key-derived values are escaped with PQescapeStringConn for
 * the connection's encoding (a key that is not valid in that encoding
 * cannot be in the database: not found, with a warning). Queries go
 * through the extended protocol
 * (PQexecParams), which runs exactly one statement.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_sql.h"
#include "dict_types.h"
#include "dict_dl.h"
#include "petrel_config.h"

/* The libpq functions used here, loaded at the first open (dict_dl.h). */
#define DICT_PGSQL_FUNCS(X) \
	X(PQclear) \
	X(PQconnectdbParams) \
	X(PQconninfoFree) \
	X(PQconninfoParse) \
	X(PQerrorMessage) \
	X(PQescapeStringConn) \
	X(PQexecParams) \
	X(PQfinish) \
	X(PQfreemem) \
	X(PQgetisnull) \
	X(PQgetlength) \
	X(PQgetvalue) \
	X(PQnfields) \
	X(PQntuples) \
	X(PQresultErrorMessage) \
	X(PQresultStatus) \
	X(PQsetNoticeProcessor) \
	X(PQstatus)

#define DICT_PGSQL_PTR(f)	static __typeof__(f) *dl_##f;
DICT_PGSQL_FUNCS(DICT_PGSQL_PTR)
#define DICT_PGSQL_SYM(f)	{#f, (void **)&dl_##f},
static const struct dict_dl_sym dict_pgsql_syms[] = {
	DICT_PGSQL_FUNCS(DICT_PGSQL_SYM)
};
static struct dict_dl dict_pgsql_dl = DICT_DL_INIT(DICT_PGSQL_LIB, dict_pgsql_syms);
#include "mem.h"
#include "msg.h"

#define DICT_PGSQL_CONNECT_TIMEOUT	"5"	/* seconds */
#define DICT_PGSQL_MAX_PARAMS		12

/*
 * libpq's messages may span lines ("connection refused\n\tIs the server
 * running...\n"); ours are one line: each line break with the blanks
 * around it becomes one space.
 */
static void
dict_pgsql_message(struct buf *why, const char *prefix, const char *text)
{
	const char *cp, *end = text + strlen(text);
	bool space = false;

	buf_puts(why, prefix);
	for (cp = text; cp < end; cp++) {
		if (*cp == '\n' || *cp == '\r' || *cp == '\t') {
			space = true;
			continue;
		}
		if (space) {
			/* Drop blanks before the break, add one after. */
			while (why->len > 0 && why->data[why->len - 1] == ' ')
				why->len--;
			why->data[why->len] = 0;
			while (cp < end && *cp == ' ')
				cp++;
			if (cp == end)
				break;
			buf_putc(why, ' ');
			space = false;
		}
		buf_putc(why, *cp);
	}
	while (why->len > 0 && why->data[why->len - 1] == ' ')
		why->len--;
	why->data[why->len] = 0;
}

/* The server's notices (e.g. from a function) would go to stderr. */
static void
dict_pgsql_notice(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
}

/* Does the URI name a database itself? */
static bool
dict_pgsql_uri_has_dbname(const char *uri)
{
	PQconninfoOption *opts, *o;
	bool found = false;

	if ((opts = dl_PQconninfoParse(uri, NULL)) == NULL)
		return false;
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val && *o->val)
			found = true;
	dl_PQconninfoFree(opts);
	return found;
}

static void *
dict_pgsql_connect(struct dict_sql *t, struct dict_sql_host *h,
    struct buf *why)
{
	const char *keys[DICT_PGSQL_MAX_PARAMS + 1];
	const char *vals[DICT_PGSQL_MAX_PARAMS + 1];
	int n = 0;
	PGconn *conn;

#define DICT_PGSQL_SET(k, v) do { \
	if ((v) != NULL) { \
		keys[n] = (k); \
		vals[n] = (v); \
		n++; \
	} \
} while (0)

	/*
	 * Later settings win; only the first dbname may be a URI, and
	 * what it sets overrides what comes before it.
	 */
	DICT_PGSQL_SET("user", t->cf.user);
	DICT_PGSQL_SET("password", t->cf.password);
	if (h->kind == DICT_SQL_HOST_URI) {
		DICT_PGSQL_SET("dbname", h->addr);
		if (!dict_pgsql_uri_has_dbname(h->addr))
			DICT_PGSQL_SET("dbname", t->cf.dbname);
	} else {
		DICT_PGSQL_SET("dbname", t->cf.dbname);
		DICT_PGSQL_SET("host", h->addr);
		DICT_PGSQL_SET("port", h->port);
	}
	DICT_PGSQL_SET("connect_timeout", DICT_PGSQL_CONNECT_TIMEOUT);
	DICT_PGSQL_SET("application_name", "petrel");
#undef DICT_PGSQL_SET
	keys[n] = vals[n] = NULL;

	conn = dl_PQconnectdbParams(keys, vals, h->kind == DICT_SQL_HOST_URI);
	if (conn == NULL)
		msg_fatal("PQconnectdbParams: out of memory");
	if (dl_PQstatus(conn) != CONNECTION_OK) {
		dict_pgsql_message(why, "connect: ", dl_PQerrorMessage(conn));
		dl_PQfinish(conn);
		return NULL;
	}
	dl_PQsetNoticeProcessor(conn, dict_pgsql_notice, NULL);
	return conn;
}

static void
dict_pgsql_disconnect(void *conn)
{
	dl_PQfinish(conn);
}

static int
dict_pgsql_quote(void *ctx, struct buf *out, const char *str, size_t len,
    struct buf *why)
{
	size_t room, n;
	int err = 0;

	/* Each byte may become two, plus the NUL. */
	if (__builtin_mul_overflow(len, 2, &room)
	    || __builtin_add_overflow(room, 1, &room)) {
		buf_set(why, "value too long to quote");
		return -1;
	}
	buf_reserve(out, room);
	n = dl_PQescapeStringConn(ctx, out->data + out->len, str, len, &err);
	if (err) {
		/*
		 * Only bytes that are not valid in the connection's
		 * encoding fail here; such a key cannot be in the database.
		 */
		out->data[out->len] = 0;
		buf_reset(why);
		dict_pgsql_message(why, "", dl_PQerrorMessage(ctx));
		msg_warn("pgsql: cannot look up a key that is not valid in "
		    "the connection's encoding: %s", why->data);
		return 1;
	}
	out->len += n;
	out->data[out->len] = 0;
	return 0;
}

static enum dict_sql_status
dict_pgsql_error(PGconn *conn, PGresult *r, struct buf *why)
{
	dict_pgsql_message(why, "query failed: ",
	    r ? dl_PQresultErrorMessage(r) : dl_PQerrorMessage(conn));
	return dl_PQstatus(conn) == CONNECTION_BAD ? DICT_SQL_ECONN
	    : DICT_SQL_EQUERY;
}

static enum dict_sql_status
dict_pgsql_query(struct dict_sql *t, void *ctx, const char *sql,
    size_t len, struct dict_sql_result *res, struct buf *why)
{
	enum dict_sql_status st = DICT_SQL_OK;
	PGconn *conn = ctx;
	PGresult *r;
	int row, col, nrows, ncols;

	(void)t;
	(void)len;			/* sql is NUL-terminated */
	r = dl_PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (r == NULL)
		return dict_pgsql_error(conn, NULL, why);
	switch (dl_PQresultStatus(r)) {
	case PGRES_TUPLES_OK:
		break;
	case PGRES_COMMAND_OK:
		buf_set(why, "query failed: the query returned no result "
		    "set");
		dl_PQclear(r);
		return DICT_SQL_EQUERY;
	default:
		st = dict_pgsql_error(conn, r, why);
		dl_PQclear(r);
		return st;
	}
	nrows = dl_PQntuples(r);
	ncols = dl_PQnfields(r);
	for (row = 0; row < nrows; row++) {
		for (col = 0; col < ncols; col++) {
			if (dl_PQgetisnull(r, row, col))
				continue;
			/* On failure the caller reports res->why. */
			if (dict_sql_result_add(res, dl_PQgetvalue(r, row, col),
			    (size_t)dl_PQgetlength(r, row, col)) < 0)
				goto done;
		}
	}
done:
	dl_PQclear(r);
	return st;
}

static int
dict_pgsql_check(struct dict_sql *t, struct buf *why)
{
	PQconninfoOption *opts;
	char *err = NULL;
	bool all_uri = true;
	size_t i;

	for (i = 0; i < t->host_count; i++) {
		struct dict_sql_host *h = &t->hosts[i];
		char *base;

		if (h->kind == DICT_SQL_HOST_UNIX
		    && (base = strrchr(h->addr, '/')) != NULL
		    && strncmp(base + 1, ".s.PGSQL.", 9) == 0 && base[10]) {
			/* The socket itself: libpq wants its directory. */
			free(h->port);
			h->port = xstrdup(base + 10);
			*base = 0;
		}
		if (h->kind != DICT_SQL_HOST_URI) {
			all_uri = false;
			continue;
		}
		if ((opts = dl_PQconninfoParse(h->addr, &err)) == NULL) {
			buf_printf(why, "%s: hosts: %s: ", t->cf.file,
			    h->name);
			dict_pgsql_message(why, "", err ? err
			    : "out of memory");
			dl_PQfreemem(err);
			return -1;
		}
		dl_PQconninfoFree(opts);
		if (!dict_pgsql_uri_has_dbname(h->addr))
			all_uri = false;
	}
	if (t->cf.dbname == NULL && !all_uri) {
		buf_printf(why, "%s: missing dbname", t->cf.file);
		return -1;
	}
	return 0;
}

static const struct dict_sql_backend dict_pgsql_backend = {
	.connect = dict_pgsql_connect,
	.quote = dict_pgsql_quote,
	.query = dict_pgsql_query,
	.disconnect = dict_pgsql_disconnect,
	.check = dict_pgsql_check,
	.cf_flags = DICT_SQL_CF_HOSTS | DICT_SQL_CF_PGSQL,
};

static struct dict *
dict_pgsql_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_sql *t;

	if (dict_dl_load(&dict_pgsql_dl, why) < 0)
		return NULL;
	t = dict_sql_open(&dict_pgsql_ops, &dict_pgsql_backend, name,
	    open_flags, dict_flags, why);
	return t ? &t->d : NULL;
}

const struct dict_ops dict_pgsql_ops = {
	.type = "pgsql",
	.open = dict_pgsql_open,
	.lookup = dict_sql_lookup,
	.close = dict_sql_close,
	.file = dict_file_is_name,
};
