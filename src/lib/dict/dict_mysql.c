/*
 * dict_mysql.c - mysql: tables (Postfix's mysql_table(5)), via libmariadb
 *
 *	mysql:/etc/petrel/users.cf, with
 *		hosts = unix:/run/mysqld/mysqld.sock inet:db2:3306
 *		user = petrel
 *		password = secret
 *		dbname = mail
 *		query = SELECT dest FROM alias WHERE addr = '%s'
 *
 * Opening reads the file only; connections are made at the first lookup
 * and kept. dict_sql.c picks the host, retries a broken connection once
 * and fails over; this file connects (with short timeouts, so a dead
 * server delays mail by seconds, not minutes), escapes and queries.
 * option_file, option_group and tls_* are accepted and ignored with a
 * warning. Lookups only: no update, delete or iteration.
 *
 * SECURITY: key-derived values are escaped with mysql_real_escape_string
 * for the connection's character set. Multiple statements per query are
 * not enabled and LOAD DATA LOCAL is disabled, so a query can neither
 * chain statements nor read client files.
 */
#include <errno.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_sql.h"
#include "dict_types.h"
#include "dict_dl.h"
#include "petrel_config.h"

/* The libmariadb functions used here, loaded at the first open (dict_dl.h). */
#define DICT_MYSQL_FUNCS(X) \
	X(mysql_close) \
	X(mysql_errno) \
	X(mysql_error) \
	X(mysql_fetch_lengths) \
	X(mysql_fetch_row) \
	X(mysql_free_result) \
	X(mysql_init) \
	X(mysql_more_results) \
	X(mysql_next_result) \
	X(mysql_num_fields) \
	X(mysql_options) \
	X(mysql_real_connect) \
	X(mysql_real_escape_string) \
	X(mysql_real_query) \
	X(mysql_store_result)

#define DICT_MYSQL_PTR(f)	static __typeof__(f) *dl_##f;
DICT_MYSQL_FUNCS(DICT_MYSQL_PTR)
#define DICT_MYSQL_SYM(f)	{#f, (void **)&dl_##f},
static const struct dict_dl_sym dict_mysql_syms[] = {
	DICT_MYSQL_FUNCS(DICT_MYSQL_SYM)
};
static struct dict_dl dict_mysql_dl = DICT_DL_INIT(DICT_MYSQL_LIB, dict_mysql_syms);
#include "msg.h"

#define DICT_MYSQL_CONNECT_TIMEOUT	5	/* seconds */
#define DICT_MYSQL_IO_TIMEOUT		10	/* seconds */

static void *
dict_mysql_connect(struct dict_sql *t, struct dict_sql_host *h,
    struct buf *why)
{
	unsigned int connect_timeout = DICT_MYSQL_CONNECT_TIMEOUT;
	unsigned int io_timeout = DICT_MYSQL_IO_TIMEOUT;
	unsigned int protocol;
	my_bool no = 0;
	const char *host = NULL, *sock = NULL;
	unsigned int port = 0;
	MYSQL *m;

	if ((m = dl_mysql_init(NULL)) == NULL)
		msg_fatal("mysql_init: out of memory");
	dl_mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	dl_mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	dl_mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	dl_mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no);
	/* We reconnect ourselves, knowing the query can be repeated. */
	dl_mysql_options(m, MYSQL_OPT_RECONNECT, &no);
	if (h->kind == DICT_SQL_HOST_UNIX) {
		protocol = MYSQL_PROTOCOL_SOCKET;
		host = "localhost";
		sock = h->addr;
		dl_mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
	} else {
		host = h->addr;
		if (h->port)
			port = (unsigned int)strtoul(h->port, NULL, 10);
		/*
		 * "localhost" alone keeps the client's meaning (the
		 * default socket); anything else, or with a port, is TCP.
		 */
		if (h->port || strcmp(h->addr, "localhost") != 0) {
			protocol = MYSQL_PROTOCOL_TCP;
			dl_mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
		}
	}
	if (dl_mysql_real_connect(m, host, t->cf.user, t->cf.password,
	    t->cf.dbname, port, sock, 0) == NULL) {
		buf_printf(why, "connect: %s", dl_mysql_error(m));
		dl_mysql_close(m);
		return NULL;
	}
	return m;
}

static void
dict_mysql_disconnect(void *conn)
{
	dl_mysql_close(conn);
}

static int
dict_mysql_quote(void *ctx, struct buf *out, const char *str, size_t len,
    struct buf *why)
{
	unsigned long n;
	size_t room;

	/* Each byte may become two, plus the NUL. */
	if (__builtin_mul_overflow(len, 2, &room)
	    || __builtin_add_overflow(room, 1, &room)) {
		buf_set(why, "value too long to quote");
		return -1;
	}
	buf_reserve(out, room);
	n = dl_mysql_real_escape_string(ctx, out->data + out->len, str,
	    (unsigned long)len);
	if (n == (unsigned long)-1) {
		buf_set(why, "cannot escape the key");
		out->data[out->len] = 0;
		return -1;
	}
	out->len += n;
	out->data[out->len] = 0;
	return 0;
}

/*
 * A failure that says the connection (or the server) is gone, as
 * opposed to a failure of this query (syntax, permissions).
 */
static bool
dict_mysql_conn_error(unsigned int err)
{
	return (err >= CR_MIN_ERROR && err <= CR_MAX_ERROR)
	    || err == ER_SERVER_SHUTDOWN
#ifdef ER_CONNECTION_KILLED
	    || err == ER_CONNECTION_KILLED
#endif
	    || err == ER_NET_READ_ERROR || err == ER_NET_ERROR_ON_WRITE;
}

static enum dict_sql_status
dict_mysql_error(MYSQL *m, struct buf *why)
{
	unsigned int err = dl_mysql_errno(m);

	buf_printf(why, "query failed: %s", dl_mysql_error(m));
	return dict_mysql_conn_error(err) ? DICT_SQL_ECONN : DICT_SQL_EQUERY;
}

static enum dict_sql_status
dict_mysql_query(struct dict_sql *t, void *conn, const char *sql,
    size_t len, struct dict_sql_result *res, struct buf *why)
{
	enum dict_sql_status st = DICT_SQL_OK;
	MYSQL *m = conn;
	MYSQL_RES *r;
	MYSQL_ROW row;
	unsigned long *lengths;
	unsigned int i, ncol;

	(void)t;
	if (dl_mysql_real_query(m, sql, (unsigned long)len) != 0)
		return dict_mysql_error(m, why);
	if ((r = dl_mysql_store_result(m)) == NULL) {
		if (dl_mysql_errno(m) != 0)
			return dict_mysql_error(m, why);
		buf_set(why, "query failed: the query returned no result "
		    "set");
		return DICT_SQL_EQUERY;
	}
	ncol = dl_mysql_num_fields(r);
	while ((row = dl_mysql_fetch_row(r)) != NULL) {
		if ((lengths = dl_mysql_fetch_lengths(r)) == NULL)
			break;
		for (i = 0; i < ncol; i++) {
			if (row[i] == NULL)
				continue;
			/* On failure the caller reports res->why. */
			if (dict_sql_result_add(res, row[i], lengths[i]) < 0)
				goto done;
		}
	}
	/* A stored result is complete; an error here means a short read. */
	if (dl_mysql_errno(m) != 0)
		st = dict_mysql_error(m, why);
done:
	dl_mysql_free_result(r);
	/* A CALL returns more result sets; only the first one counts. */
	while (st == DICT_SQL_OK && dl_mysql_more_results(m)) {
		if (dl_mysql_next_result(m) > 0) {
			st = dict_mysql_error(m, why);
			break;
		}
		dl_mysql_free_result(dl_mysql_store_result(m));
	}
	return st;
}

static int
dict_mysql_check(struct dict_sql *t, struct buf *why)
{
	if (t->cf.dbname == NULL) {
		buf_printf(why, "%s: missing dbname", t->cf.file);
		return -1;
	}
	return 0;
}

static const struct dict_sql_backend dict_mysql_backend = {
	.connect = dict_mysql_connect,
	.quote = dict_mysql_quote,
	.query = dict_mysql_query,
	.disconnect = dict_mysql_disconnect,
	.check = dict_mysql_check,
	.cf_flags = DICT_SQL_CF_HOSTS | DICT_SQL_CF_MYSQL,
};

static struct dict *
dict_mysql_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	struct dict_sql *t;

	if (dict_dl_load(&dict_mysql_dl, why) < 0)
		return NULL;
	t = dict_sql_open(&dict_mysql_ops, &dict_mysql_backend, name,
	    open_flags, dict_flags, why);
	return t ? &t->d : NULL;
}

const struct dict_ops dict_mysql_ops = {
	.type = "mysql",
	.open = dict_mysql_open,
	.lookup = dict_sql_lookup,
	.close = dict_sql_close,
	.file = dict_file_is_name,
};
