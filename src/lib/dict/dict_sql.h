/*
 * dict_sql.h - what the mysql:, pgsql: and sqlite: tables share
 *
 * A SQL table is named by a configuration file (mysql:/etc/petrel/x.cf)
 * of "name = value" lines in main.cf syntax, as in Postfix's
 * mysql_table(5), pgsql_table(5) and sqlite_table(5):
 *
 *	hosts = unix:/run/mysqld/mysqld.sock inet:db2.example.com:3306
 *	user = petrel
 *	password = secret
 *	dbname = mail
 *	query = SELECT goto FROM alias WHERE address = '%s'
 *	result_format = %s
 *	domain = example.com, example.net
 *	expansion_limit = 0
 *	retry_interval = 60s
 *
 * sqlite takes dbname (the database file), query, result_format, domain
 * and expansion_limit. The old-style select_field, table, where_field
 * and additional_conditions (pgsql also select_function) build the query
 * when there is none. domain restricts lookups to keys user@domain whose
 * domain is listed: as in Postfix, a list of names, "type:table"
 * lookups (a domain found there is listed; a table that fails makes the
 * lookup a temporary failure, never "not found") and /paths of files
 * that hold names and lookups. retry_interval (mysql, pgsql)
 * is how long a failed host is skipped, 0s to 1d. mysql accepts and
 * ignores option_file, option_group and tls_* with a warning; other
 * unknown names are warnings too, naming file and line.
 *
 * Each back end (dict_mysql.c, dict_pgsql.c, dict_sqlite.c) supplies a
 * struct dict_sql_backend (connect, quote, query, disconnect) and calls
 * dict_sql_open(); this module does the rest: the file, the query and
 * result templates, the domain restriction, host selection with dead-host
 * marking and retry, and joining result values.
 *
 * The template functions are exported for the unit tests.
 */
#ifndef PETREL_DICT_SQL_H
#define PETREL_DICT_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dict.h"

struct argv;

/* Seconds a failed host is skipped before it is tried again. */
#define DICT_SQL_RETRY_INTERVAL	60

/* Which parameters a back end takes (dict_sql_cf_load flags). */
#define DICT_SQL_CF_HOSTS	(1 << 0)	/* hosts, user, password */
#define DICT_SQL_CF_MYSQL	(1 << 1)	/* option_file ...: ignored */
#define DICT_SQL_CF_PGSQL	(1 << 2)	/* select_function */

/*
 * The configuration file. query is always set after a successful load
 * (given, or built from the old-style select_field/table/where_field/
 * additional_conditions, or pgsql's select_function); the other strings
 * are NULL when not given.
 */
struct dict_sql_cf {
	char *file;		/* path, for messages */
	char *hosts;
	char *user;
	char *password;
	char *dbname;
	char *query;
	char *result_format;	/* "%s" unless given */
	struct argv *domains;	/* NULL: every key is looked up */
	struct dict **domain_maps; /* per domains entry: table, or NULL */
	long expansion_limit;	/* 0: no limit */
	long retry_interval;	/* seconds */
};

/*
 * Read path. Unknown names are warnings naming file and line; a syntax
 * error, a bad value or a missing query is an error: returns -1 with why
 * ("/etc/x.cf, line 3: ..." or "/etc/x.cf: missing query"), else 0.
 * dict_sql_cf_free() is safe after either.
 */
int dict_sql_cf_load(struct dict_sql_cf *cf, const char *path,
    unsigned flags, struct buf *why);
void dict_sql_cf_free(struct dict_sql_cf *cf);

/*
 * Templates (query and result_format):
 *	%%	a '%'
 *	%s %S	the whole key (result_format: %s is the result value)
 *	%u %U	the local part: up to the last '@', the whole key without
 *		one; an empty local part ("@example.com") suppresses
 *	%d %D	the domain: after the last '@'; no '@' or an empty domain
 *		suppresses
 *	%1..%9	labels of the key's domain from the right (%1 = "com" in
 *		user@mail.example.com); a missing one suppresses
 * In the query every form takes the key, each value passed through the
 * back end's quote function. In result_format the lower-case %s %u %d
 * take the result value (a value lacking the part is skipped), the
 * upper-case forms and digits take the key. A key that lacks what either
 * template asks of the key is not looked up at all (not found).
 */

/* 0, or -1 with why ("bad % sequence \"%x\"") */
int dict_sql_template_check(const char *tmpl, struct buf *why);

/*
 * Append the escaped form of str[0..len) to out. Returns 0; 1 when str
 * cannot occur in the database (not valid in its encoding: the query is
 * not run and the lookup is "not found"); -1 with why on failure.
 */
typedef int (*dict_sql_quote_fn)(void *ctx, struct buf *out,
    const char *str, size_t len, struct buf *why);

/* True when key has every part the two templates ask of it. */
bool dict_sql_key_ok(const char *query, const char *result_format,
    const char *key);

/*
 * Expand the query for key into out (replaced). Returns 1, 0 when the
 * key lacks a part or quote said it cannot match (out undefined: do not
 * run it), -1 when quote failed (why set).
 */
int dict_sql_expand_query(struct buf *out, const char *tmpl,
    const char *key, dict_sql_quote_fn quote, void *ctx, struct buf *why);

/*
 * Format one result value (len bytes, no NUL) into out (replaced).
 * Returns 1, or 0 when the value is skipped.
 */
int dict_sql_expand_result(struct buf *out, const char *fmt,
    const char *value, size_t len, const char *key);

/*
 * May key be looked up under cf's domain restriction? DICT_FOUND when
 * there is none, or key is user@domain with a non-empty user and a
 * domain that is listed by name (compared without case) or found in a
 * listed table, checked in order; DICT_NOTFOUND when not; DICT_TEMPFAIL
 * with why set when a table failed before the domain was found.
 */
enum dict_result dict_sql_domain_ok(const struct dict_sql_cf *cf,
    const char *key, struct buf *why);

/*
 * Results: the back end hands every non-NULL column value of every row
 * to dict_sql_result_add(); values are formatted with result_format and
 * joined with ','.
 */
struct dict_sql_result {
	struct buf *value;	/* the joined result */
	const char *format;
	const char *key;
	long limit;		/* 0: none */
	long count;		/* elements in value */
	struct buf element;	/* scratch */
	bool failed;		/* limit exceeded or NUL byte: why says */
	struct buf why;
};

void dict_sql_result_init(struct dict_sql_result *res, struct buf *value,
    const char *format, const char *key, long limit);
void dict_sql_result_reset(struct dict_sql_result *res);
void dict_sql_result_fini(struct dict_sql_result *res);
/* Add one value; 0, or -1 once the lookup has failed (stop reading). */
int dict_sql_result_add(struct dict_sql_result *res, const char *data,
    size_t len);

/*
 * Hosts, from "hosts = unix:/path inet:host:port host:port host
 * [v6addr]:port postgresql://..." (postgresql:// and postgres:// URIs
 * only with DICT_SQL_CF_PGSQL). Tried in an order chosen at random
 * when the table is opened, UNIX-domain sockets first.
 */
enum dict_sql_host_kind {
	DICT_SQL_HOST_UNIX,	/* addr: the socket (mysql), dir (pgsql) */
	DICT_SQL_HOST_INET,	/* addr is the host, port may be NULL */
	DICT_SQL_HOST_URI,	/* addr is the whole URI */
	DICT_SQL_HOST_FILE,	/* sqlite: addr is the database file */
};

struct dict_sql_host {
	char *name;		/* as written, for messages */
	enum dict_sql_host_kind kind;
	char *addr;
	char *port;		/* NULL: the back end's default */
	void *conn;		/* open connection, or NULL */
	uint64_t dead_until;	/* time_mono_ms(); 0 when usable */
};

enum dict_sql_status {
	DICT_SQL_OK,		/* the query ran; res holds the answer */
	DICT_SQL_EQUERY,	/* this query failed; the host is fine */
	DICT_SQL_ECONN,		/* the connection failed: try another */
};

struct dict_sql;

struct dict_sql_backend {
	/* A new connection to h, or NULL with why. */
	void *(*connect)(struct dict_sql *t, struct dict_sql_host *h,
	    struct buf *why);
	/* Escape for a quoted SQL string; ctx is the connection. */
	dict_sql_quote_fn quote;
	/* Run sql; feed values to res; why set unless DICT_SQL_OK. */
	enum dict_sql_status (*query)(struct dict_sql *t, void *conn,
	    const char *sql, size_t len, struct dict_sql_result *res,
	    struct buf *why);
	void (*disconnect)(void *conn);
	/* Optional: check cf after loading (dbname ...); 0 or -1 + why. */
	int (*check)(struct dict_sql *t, struct buf *why);
	unsigned cf_flags;
};

struct dict_sql {
	struct dict d;
	const struct dict_sql_backend *be;
	struct dict_sql_cf cf;
	struct dict_sql_host *hosts;
	size_t host_count;
	struct buf last_error;	/* why the last host failed */
	void *be_data;		/* for the back end */
};

/*
 * Open a table of type ops->type from the configuration file name, read
 * only. With DICT_SQL_CF_HOSTS the hosts come from the file (default
 * "localhost"), else there is one DICT_SQL_HOST_FILE host named by
 * dbname. No connection is made here. NULL with why on error.
 */
struct dict_sql *dict_sql_open(const struct dict_ops *ops,
    const struct dict_sql_backend *be, const char *name, int open_flags,
    int dict_flags, struct buf *why);
/* The dict_ops lookup and close of every SQL type. */
enum dict_result dict_sql_lookup(struct dict *d, const char *key,
    struct buf *value);
void dict_sql_close(struct dict *d);

#endif
