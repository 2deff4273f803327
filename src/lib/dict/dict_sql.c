/*
 * dict_sql.c - what the mysql:, pgsql: and sqlite: tables share
 *
 * The configuration file, the query and result_format templates of
 * Postfix's mysql_table(5), the domain restriction (names, type:table
 * lookups opened with dict_open(), files of both), host selection and
 * the joining of result values; see dict_sql.h. A back end supplies
 * connect/quote/query/disconnect and this module drives them.
 *
 * Change detection: the configuration file and the domain files are
 * read once, at open; each is watched (dict_open_watch()), so that
 * dict_changed() tells a daemon to restart when one changes, and, when
 * the open failed, when one appears or is fixed.
 *
 * Host failover: hosts are tried in a random order fixed at open time,
 * UNIX-domain sockets first. Connections stay open between lookups. A
 * host that cannot be reached, or whose connection breaks during a query
 * (after one fresh reconnect, which covers servers that closed an idle
 * connection), is skipped for retry_interval seconds; then the next one
 * is tried. When no host answers the lookup is DICT_TEMPFAIL with the
 * last error, never "not found", and later lookups try the hosts again
 * once their time is up, so service comes back without a restart.
 *
 * SECURITY: keys come from the network. Every key-derived value placed
 * in a query goes through the back end's own escaping function and is
 * meant for a quoted SQL string ('%s'), as in Postfix. Result values are
 * bounded by expansion_limit and checked for NUL bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "buf.h"
#include "dict.h"
#include "dict_sql.h"
#include "lline.h"
#include "mem.h"
#include "msg.h"
#include "str.h"
#include "timeutil.h"

/* The longest retry_interval: a day (and no overflow in milliseconds). */
#define DICT_SQL_RETRY_MAX	86400

/* Parameters of the configuration file. */
enum {
	P_HOSTS,
	P_USER,
	P_PASSWORD,
	P_DBNAME,
	P_QUERY,
	P_RESULT_FORMAT,
	P_DOMAIN,
	P_EXPANSION_LIMIT,
	P_RETRY_INTERVAL,
	P_SELECT_FIELD,
	P_TABLE,
	P_WHERE_FIELD,
	P_ADDITIONAL_CONDITIONS,
	P_SELECT_FUNCTION,
	P_COUNT
};

static const struct {
	const char *name;
	unsigned need;		/* back-end flag needed, 0: all */
} dict_sql_params[P_COUNT] = {
	[P_HOSTS] = {"hosts", DICT_SQL_CF_HOSTS},
	[P_USER] = {"user", DICT_SQL_CF_HOSTS},
	[P_PASSWORD] = {"password", DICT_SQL_CF_HOSTS},
	[P_DBNAME] = {"dbname", 0},
	[P_QUERY] = {"query", 0},
	[P_RESULT_FORMAT] = {"result_format", 0},
	[P_DOMAIN] = {"domain", 0},
	[P_EXPANSION_LIMIT] = {"expansion_limit", 0},
	[P_RETRY_INTERVAL] = {"retry_interval", DICT_SQL_CF_HOSTS},
	[P_SELECT_FIELD] = {"select_field", 0},
	[P_TABLE] = {"table", 0},
	[P_WHERE_FIELD] = {"where_field", 0},
	[P_ADDITIONAL_CONDITIONS] = {"additional_conditions", 0},
	[P_SELECT_FUNCTION] = {"select_function", DICT_SQL_CF_PGSQL},
};

/* MySQL client settings Postfix knows that we accept but do not use. */
static bool
dict_sql_mysql_ignored(const char *name)
{
	return strcmp(name, "option_file") == 0
	    || strcmp(name, "option_group") == 0
	    || str_has_prefix(name, "tls_");
}

struct dict_sql_raw {
	char *value[P_COUNT];
	int line[P_COUNT];
};

static bool
dict_sql_name_ok(const char *name)
{
	const char *cp;

	if (*name == 0)
		return false;
	for (cp = name; *cp; cp++)
		if (!(*cp >= 'a' && *cp <= 'z') && !(*cp >= 'A' && *cp <= 'Z')
		    && !(*cp >= '0' && *cp <= '9') && *cp != '_')
			return false;
	return true;
}

/* One "name = value" line into raw; 0, or -1 with why. */
static int
dict_sql_cf_line(struct dict_sql_raw *raw, const char *path, int lineno,
    char *line, unsigned flags, struct buf *why)
{
	char *eq = strchr(line, '=');
	char *name, *value;
	size_t i;

	if (eq == NULL) {
		buf_printf(why, "%s, line %d: expected \"name = value\"",
		    path, lineno);
		return -1;
	}
	*eq = 0;
	name = str_trim(line);
	value = str_trim(eq + 1);
	if (!dict_sql_name_ok(name)) {
		buf_printf(why, "%s, line %d: bad parameter name \"",
		    path, lineno);
		str_printable(why, name, strlen(name));
		buf_puts(why, "\"");
		return -1;
	}
	for (i = 0; i < P_COUNT; i++) {
		if (strcmp(name, dict_sql_params[i].name) != 0)
			continue;
		if (dict_sql_params[i].need
		    && !(flags & dict_sql_params[i].need))
			break;
		/* As in main.cf, a later setting replaces an earlier one. */
		free(raw->value[i]);
		raw->value[i] = xstrdup(value);
		raw->line[i] = lineno;
		return 0;
	}
	if ((flags & DICT_SQL_CF_MYSQL) && dict_sql_mysql_ignored(name))
		msg_warn("%s, line %d: \"%s\" is not supported and is "
		    "ignored", path, lineno, name);
	else
		msg_warn("%s, line %d: unknown parameter \"%s\" is ignored",
		    path, lineno, name);
	return 0;
}

/* Append s with every '%' doubled, so that it stays literal. */
static void
dict_sql_put_literal(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '%')
			buf_putc(out, '%');
		buf_putc(out, *s);
	}
}

/* The query from the old-style fields; NULL when they are missing. */
static char *
dict_sql_old_query(struct dict_sql_raw *raw)
{
	struct buf q;

	buf_init(&q, 128);
	if (raw->value[P_SELECT_FUNCTION]) {
		buf_puts(&q, "SELECT ");
		dict_sql_put_literal(&q, raw->value[P_SELECT_FUNCTION]);
		buf_puts(&q, "('%s')");
		return buf_steal(&q);
	}
	if (raw->value[P_SELECT_FIELD] == NULL || raw->value[P_TABLE] == NULL
	    || raw->value[P_WHERE_FIELD] == NULL) {
		buf_fini(&q);
		return NULL;
	}
	buf_puts(&q, "SELECT ");
	dict_sql_put_literal(&q, raw->value[P_SELECT_FIELD]);
	buf_puts(&q, " FROM ");
	dict_sql_put_literal(&q, raw->value[P_TABLE]);
	buf_puts(&q, " WHERE ");
	dict_sql_put_literal(&q, raw->value[P_WHERE_FIELD]);
	buf_puts(&q, " = '%s'");
	if (raw->value[P_ADDITIONAL_CONDITIONS]
	    && *raw->value[P_ADDITIONAL_CONDITIONS]) {
		buf_putc(&q, ' ');
		dict_sql_put_literal(&q, raw->value[P_ADDITIONAL_CONDITIONS]);
	}
	return buf_steal(&q);
}

/*
 * The domain list: names, "type:table" lookups and files of those (as
 * in Postfix), kept in order in cf->domains; each lookup's table is in
 * cf->domain_maps at the same index (NULL for a name).
 */

/* Domain tables may be SQL tables with domain tables of their own. */
#define DICT_SQL_DOMAIN_DEPTH	4
static int dict_sql_domain_depth;

#define DICT_SQL_DOMAIN_SEPS	", \t\r\n"

/* Split a list; inline:{a, b} stays one element. */
static struct argv *
dict_sql_split_list(const char *list)
{
	struct argv *words = argv_new();
	struct buf tok;
	const char *cp = list;

	buf_init(&tok, 64);
	while ((cp = str_token_braced(cp, DICT_SQL_DOMAIN_SEPS, &tok)) != NULL)
		argv_add(words, tok.data);
	buf_fini(&tok);
	return words;
}

/* One entry (a name or a type:table); 0, or -1 with problem set. */
static int
dict_sql_domain_add(struct dict_sql_cf *cf, const char *entry,
    struct buf *problem)
{
	struct buf type, name;
	struct dict *map = NULL;
	int rc = 0;

	if (strchr(entry, ':') != NULL) {
		buf_init(&type, 16);
		buf_init(&name, 64);
		if (dict_split_name(entry, &type, &name) < 0 || name.len == 0)
			buf_printf(problem, "\"%s\": expected a domain name or "
			    "type:table", entry);
		else if (dict_find_type(type.data) == NULL)
			buf_printf(problem, "\"%s\": unknown table type \"%s\"",
			    entry, type.data);
		else if (dict_sql_domain_depth >= DICT_SQL_DOMAIN_DEPTH)
			buf_printf(problem, "\"%s\": domain tables nested too "
			    "deeply", entry);
		else {
			/*
			 * A table that cannot be opened is a surrogate: its
			 * lookups fail temporarily, and dict_changed() sees
			 * it fixed.
			 */
			dict_sql_domain_depth++;
			map = dict_open(entry, O_RDONLY, DICT_FLAG_FOLD);
			dict_sql_domain_depth--;
		}
		buf_fini(&type);
		buf_fini(&name);
		if (map == NULL)
			rc = -1;
	} else if (strchr(entry, '/') != NULL) {
		buf_printf(problem, "\"%s\": expected a domain name, "
		    "type:table or /file", entry);
		rc = -1;
	}
	if (rc == 0) {
		argv_add(cf->domains, entry);
		cf->domain_maps = xreallocarray(cf->domain_maps,
		    cf->domains->argc, sizeof(*cf->domain_maps));
		cf->domain_maps[cf->domains->argc - 1] = map;
	}
	return rc;
}

/*
 * A file of names and lookups: words separated by commas or whitespace,
 * with comments and continuation lines. 0, or -1 with problem set
 * ("open /x: ...", "/x, line 2: ...").
 */
static int
dict_sql_domain_file(struct dict_sql_cf *cf, const char *file,
    struct buf *problem)
{
	struct lline_reader *r;
	struct buf line, entry;
	struct argv *words;
	FILE *fp;
	size_t i;
	int lineno, n;

	/* A daemon restarts when the file changes (or appears). */
	dict_open_watch(file, true);
	if ((fp = fopen(file, "re")) == NULL) {
		buf_printf(problem, "open %s: %s", file, strerror(errno));
		return -1;
	}
	buf_init(&line, 256);
	buf_init(&entry, 64);
	r = lline_open(fp, file);
	while ((n = lline_next(r, &line, &lineno, problem)) > 0) {
		words = dict_sql_split_list(line.data);
		for (i = 0; i < words->argc && n > 0; i++) {
			if (*words->argv[i] == '/')
				buf_printf(&entry, "\"%s\": a domain file "
				    "cannot name another file", words->argv[i]);
			if (entry.len > 0 || dict_sql_domain_add(cf,
			    words->argv[i], &entry) < 0) {
				buf_printf(problem, "%s, line %d: %s", file,
				    lineno, entry.data);
				n = -1;
			}
		}
		argv_free(words);
		if (n < 0)
			break;
	}
	lline_close(r);
	if (n == 0 && ferror(fp)) {
		buf_printf(problem, "read %s: %s", file, strerror(errno));
		n = -1;
	}
	(void)fclose(fp);		/* read only */
	buf_fini(&line);
	buf_fini(&entry);
	return n < 0 ? -1 : 0;
}

/* "domain = ..." on line lineno of the cf file; 0, or -1 with why. */
static int
dict_sql_domains(struct dict_sql_cf *cf, const char *value, int lineno,
    struct buf *why)
{
	struct buf problem;
	struct argv *words;
	size_t i;
	int rc = 0;

	words = dict_sql_split_list(value);
	if (words->argc == 0) {
		argv_free(words);
		return 0;		/* empty: no restriction */
	}
	cf->domains = argv_new();
	buf_init(&problem, 64);
	for (i = 0; i < words->argc && rc == 0; i++) {
		if (*words->argv[i] == '/')
			rc = dict_sql_domain_file(cf, words->argv[i], &problem);
		else
			rc = dict_sql_domain_add(cf, words->argv[i], &problem);
		if (rc < 0)
			buf_printf(why, "%s, line %d: domain: %s", cf->file,
			    lineno, problem.data);
	}
	buf_fini(&problem);
	argv_free(words);
	return rc;
}

static char *
dict_sql_take(struct dict_sql_raw *raw, int slot)
{
	char *v = raw->value[slot];

	raw->value[slot] = NULL;
	return v;
}

/* Check and convert the raw values into cf; 0, or -1 with why. */
static int
dict_sql_cf_finish(struct dict_sql_cf *cf, struct dict_sql_raw *raw,
    struct buf *why)
{
	const char *path = cf->file;
	struct buf err;
	int rc = -1;

	buf_init(&err, 64);
	if (raw->value[P_QUERY] && *raw->value[P_QUERY]) {
		cf->query = dict_sql_take(raw, P_QUERY);
		if (dict_sql_template_check(cf->query, &err) < 0) {
			buf_printf(why, "%s, line %d: query: %s", path,
			    raw->line[P_QUERY], err.data);
			goto out;
		}
	} else if ((cf->query = dict_sql_old_query(raw)) == NULL) {
		buf_printf(why, "%s: missing query", path);
		goto out;
	}
	if (raw->value[P_RESULT_FORMAT] && *raw->value[P_RESULT_FORMAT]) {
		cf->result_format = dict_sql_take(raw, P_RESULT_FORMAT);
		if (dict_sql_template_check(cf->result_format, &err) < 0) {
			buf_printf(why, "%s, line %d: result_format: %s", path,
			    raw->line[P_RESULT_FORMAT], err.data);
			goto out;
		}
	} else {
		cf->result_format = xstrdup("%s");
	}
	if (raw->value[P_DOMAIN]
	    && dict_sql_domains(cf, raw->value[P_DOMAIN], raw->line[P_DOMAIN],
	    why) < 0)
		goto out;
	if (raw->value[P_EXPANSION_LIMIT]
	    && (str_to_long(raw->value[P_EXPANSION_LIMIT],
	    &cf->expansion_limit) < 0 || cf->expansion_limit < 0)) {
		buf_printf(why, "%s, line %d: expansion_limit: bad value "
		    "\"%s\" (expected 0 or more)", path,
		    raw->line[P_EXPANSION_LIMIT],
		    raw->value[P_EXPANSION_LIMIT]);
		goto out;
	}
	if (raw->value[P_RETRY_INTERVAL]
	    && (time_parse_duration(raw->value[P_RETRY_INTERVAL], 's',
	    &cf->retry_interval) < 0 || cf->retry_interval < 0
	    || cf->retry_interval > DICT_SQL_RETRY_MAX)) {
		buf_printf(why, "%s, line %d: retry_interval: bad value "
		    "\"%s\" (expected a time from 0s to 1d)", path,
		    raw->line[P_RETRY_INTERVAL],
		    raw->value[P_RETRY_INTERVAL]);
		goto out;
	}
	cf->hosts = dict_sql_take(raw, P_HOSTS);
	cf->user = dict_sql_take(raw, P_USER);
	cf->password = dict_sql_take(raw, P_PASSWORD);
	cf->dbname = dict_sql_take(raw, P_DBNAME);
	if (cf->dbname && *cf->dbname == 0) {
		free(cf->dbname);
		cf->dbname = NULL;
	}
	rc = 0;
out:
	buf_fini(&err);
	return rc;
}

int
dict_sql_cf_load(struct dict_sql_cf *cf, const char *path, unsigned flags,
    struct buf *why)
{
	struct dict_sql_raw raw;
	struct lline_reader *r;
	struct buf line;
	FILE *fp;
	int lineno, rc = -1, n;
	size_t i;

	memset(cf, 0, sizeof(*cf));
	memset(&raw, 0, sizeof(raw));
	cf->file = xstrdup(path);
	cf->retry_interval = DICT_SQL_RETRY_INTERVAL;
	if ((fp = fopen(path, "re")) == NULL) {
		buf_printf(why, "open %s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&line, 256);
	r = lline_open(fp, path);
	while ((n = lline_next(r, &line, &lineno, why)) > 0) {
		if (dict_sql_cf_line(&raw, path, lineno, line.data, flags,
		    why) < 0) {
			n = -1;
			break;
		}
	}
	lline_close(r);
	if (n == 0 && ferror(fp)) {
		buf_printf(why, "read %s: %s", path, strerror(errno));
		n = -1;
	}
	fclose(fp);
	if (n == 0)
		rc = dict_sql_cf_finish(cf, &raw, why);
	for (i = 0; i < P_COUNT; i++) {
		/* Do not leave a password lying around in freed memory. */
		if (raw.value[i])
			explicit_bzero(raw.value[i], strlen(raw.value[i]));
		free(raw.value[i]);
	}
	buf_fini(&line);
	return rc;
}

void
dict_sql_cf_free(struct dict_sql_cf *cf)
{
	size_t i;

	free(cf->file);
	free(cf->hosts);
	free(cf->user);
	if (cf->password)
		explicit_bzero(cf->password, strlen(cf->password));
	free(cf->password);
	free(cf->dbname);
	free(cf->query);
	free(cf->result_format);
	for (i = 0; cf->domains != NULL && i < cf->domains->argc; i++)
		dict_close(cf->domain_maps[i]);
	free(cf->domain_maps);
	argv_free(cf->domains);
	memset(cf, 0, sizeof(*cf));
}

/* ---- templates ------------------------------------------------------ */

/* A key or value split at its last '@'. */
struct dict_sql_parts {
	const char *str;
	size_t len;
	const char *at;		/* the last '@', or NULL */
};

static void
dict_sql_split(struct dict_sql_parts *p, const char *str, size_t len)
{
	p->str = str;
	p->len = len;
	p->at = memrchr(str, '@', len);
}

/* Label n (1 = rightmost) of the domain; false when missing or empty. */
static bool
dict_sql_label(const struct dict_sql_parts *p, int n, const char **ptr,
    size_t *len)
{
	const char *dom, *end, *dot;

	if (p->at == NULL)
		return false;
	dom = p->at + 1;
	end = p->str + p->len;
	for (;;) {
		dot = memrchr(dom, '.', (size_t)(end - dom));
		if (--n == 0) {
			*ptr = dot ? dot + 1 : dom;
			*len = (size_t)(end - *ptr);
			return *len > 0;
		}
		if (dot == NULL)
			return false;
		end = dot;
	}
}

/*
 * The piece of p that conversion code ('s', 'u', 'd' or a digit; case
 * does not matter) stands for; false when p does not have it.
 */
static bool
dict_sql_piece(int code, const struct dict_sql_parts *p, const char **ptr,
    size_t *len)
{
	switch (code) {
	case 's':
	case 'S':
		*ptr = p->str;
		*len = p->len;
		break;
	case 'u':
	case 'U':
		*ptr = p->str;
		*len = p->at ? (size_t)(p->at - p->str) : p->len;
		break;
	case 'd':
	case 'D':
		if (p->at == NULL)
			return false;
		*ptr = p->at + 1;
		*len = (size_t)(p->str + p->len - *ptr);
		break;
	default:
		return dict_sql_label(p, code - '0', ptr, len);
	}
	return *len > 0;
}

static bool
dict_sql_code_ok(int code)
{
	return strchr("%sSuUdD", code) != NULL || (code >= '1' && code <= '9');
}

int
dict_sql_template_check(const char *tmpl, struct buf *why)
{
	const char *cp;

	for (cp = tmpl; (cp = strchr(cp, '%')) != NULL; cp += 2) {
		if (cp[1] == 0) {
			buf_set(why, "'%' at the end");
			return -1;
		}
		if (!dict_sql_code_ok((unsigned char)cp[1])) {
			buf_set(why, "bad % sequence \"%");
			str_printable(why, cp + 1, 1);
			buf_puts(why, "\" (expected one of %% %s %u %d %S %U "
			    "%D %1..%9)");
			return -1;
		}
	}
	return 0;
}

/* Does the key have every part that tmpl takes from it? */
static bool
dict_sql_key_covers(const char *tmpl, bool result,
    const struct dict_sql_parts *key)
{
	const char *cp, *ptr;
	size_t len;
	int code;

	for (cp = tmpl; (cp = strchr(cp, '%')) != NULL && cp[1]; cp += 2) {
		code = (unsigned char)cp[1];
		if (code == '%')
			continue;
		/* In result_format the lower-case forms take the value. */
		if (result && (code == 's' || code == 'u' || code == 'd'))
			continue;
		if (!dict_sql_piece(code, key, &ptr, &len))
			return false;
	}
	return true;
}

bool
dict_sql_key_ok(const char *query, const char *result_format,
    const char *key)
{
	struct dict_sql_parts k;

	dict_sql_split(&k, key, strlen(key));
	return dict_sql_key_covers(query, false, &k)
	    && dict_sql_key_covers(result_format, true, &k);
}

/*
 * Expand tmpl into out. value is NULL for a query (every form takes the
 * key, quoted), else the result value for the lower-case forms. Returns
 * 1, 0 when a part is missing, -1 when quoting failed.
 */
static int
dict_sql_expand(struct buf *out, const char *tmpl,
    const struct dict_sql_parts *key, const struct dict_sql_parts *value,
    dict_sql_quote_fn quote, void *ctx, struct buf *why)
{
	const struct dict_sql_parts *from;
	const char *cp, *pct, *ptr;
	size_t len;
	int code, rc;

	buf_reset(out);
	for (cp = tmpl; (pct = strchr(cp, '%')) != NULL; cp = pct + 2) {
		buf_append(out, cp, (size_t)(pct - cp));
		code = (unsigned char)pct[1];
		if (code == 0)			/* refused by the check */
			return 0;
		if (code == '%') {
			buf_putc(out, '%');
			continue;
		}
		from = value && (code == 's' || code == 'u' || code == 'd')
		    ? value : key;
		if (!dict_sql_piece(code, from, &ptr, &len))
			return 0;
		if (quote) {
			if ((rc = quote(ctx, out, ptr, len, why)) != 0)
				return rc < 0 ? -1 : 0;
		} else {
			buf_append(out, ptr, len);
		}
	}
	buf_puts(out, cp);
	return 1;
}

int
dict_sql_expand_query(struct buf *out, const char *tmpl, const char *key,
    dict_sql_quote_fn quote, void *ctx, struct buf *why)
{
	struct dict_sql_parts k;

	dict_sql_split(&k, key, strlen(key));
	return dict_sql_expand(out, tmpl, &k, NULL, quote, ctx, why);
}

int
dict_sql_expand_result(struct buf *out, const char *fmt, const char *value,
    size_t len, const char *key)
{
	struct dict_sql_parts k, v;

	dict_sql_split(&k, key, strlen(key));
	dict_sql_split(&v, value, len);
	return dict_sql_expand(out, fmt, &k, &v, NULL, NULL, NULL);
}

enum dict_result
dict_sql_domain_ok(const struct dict_sql_cf *cf, const char *key,
    struct buf *why)
{
	struct buf value;
	enum dict_result rc = DICT_NOTFOUND;
	const char *at;
	size_t i;

	if (cf->domains == NULL)
		return DICT_FOUND;
	if ((at = strrchr(key, '@')) == NULL || at == key || at[1] == 0)
		return DICT_NOTFOUND;
	buf_init(&value, 64);
	/* In order, as written: a table that fails ends the search. */
	for (i = 0; i < cf->domains->argc && rc == DICT_NOTFOUND; i++) {
		if (cf->domain_maps[i] == NULL) {
			if (str_case_eq(at + 1, cf->domains->argv[i]))
				rc = DICT_FOUND;
		} else if ((rc = dict_lookup(cf->domain_maps[i], at + 1,
		    &value)) == DICT_TEMPFAIL) {
			buf_set(why, dict_error(cf->domain_maps[i]));
		}
	}
	buf_fini(&value);
	return rc;
}

/* ---- results ---------------------------------------------------------- */

void
dict_sql_result_init(struct dict_sql_result *res, struct buf *value,
    const char *format, const char *key, long limit)
{
	res->value = value;
	res->format = format;
	res->key = key;
	res->limit = limit;
	buf_init(&res->element, 64);
	buf_init(&res->why, 0);
	dict_sql_result_reset(res);
}

void
dict_sql_result_reset(struct dict_sql_result *res)
{
	buf_reset(res->value);
	buf_reset(&res->why);
	res->count = 0;
	res->failed = false;
}

void
dict_sql_result_fini(struct dict_sql_result *res)
{
	buf_fini(&res->element);
	buf_fini(&res->why);
}

int
dict_sql_result_add(struct dict_sql_result *res, const char *data,
    size_t len)
{
	if (res->failed)
		return -1;
	if (memchr(data, 0, len)) {
		res->failed = true;
		buf_printf(&res->why, "a result value for key \"%s\" contains "
		    "a NUL byte", res->key);
		return -1;
	}
	if (dict_sql_expand_result(&res->element, res->format, data, len,
	    res->key) == 0)
		return 0;
	if (res->limit > 0 && res->count >= res->limit) {
		res->failed = true;
		buf_printf(&res->why, "expansion limit %ld exceeded for key "
		    "\"%s\"", res->limit, res->key);
		return -1;
	}
	if (res->count++ > 0)
		buf_putc(res->value, ',');
	buf_append(res->value, res->element.data, res->element.len);
	return 0;
}

/* ---- hosts ------------------------------------------------------------ */

static bool
dict_sql_port_ok(const char *port)
{
	int n;

	return str_to_int(port, &n) == 0 && n > 0 && n <= 65535;
}

/* "host", "host:port", "[addr]:port", "v6addr" into h; false if bad. */
static bool
dict_sql_host_inet(struct dict_sql_host *h, const char *spec)
{
	const char *colon, *close;

	h->kind = DICT_SQL_HOST_INET;
	if (*spec == '[') {
		if ((close = strchr(spec, ']')) == NULL || close == spec + 1)
			return false;
		h->addr = xstrndup(spec + 1, (size_t)(close - spec - 1));
		if (close[1] == 0)
			return true;
		if (close[1] != ':')
			return false;
		h->port = xstrdup(close + 2);
	} else if ((colon = strchr(spec, ':')) != NULL
	    && strchr(colon + 1, ':') == NULL) {
		h->addr = xstrndup(spec, (size_t)(colon - spec));
		h->port = xstrdup(colon + 1);
	} else {
		/* No port, or a bare IPv6 address. */
		h->addr = xstrdup(spec);
	}
	return *h->addr && (h->port == NULL || dict_sql_port_ok(h->port));
}

/*
 * A URI as it may be logged: "postgresql://user:secret@db/x" becomes
 * "postgresql://user:***@db/x".
 */
static char *
dict_sql_uri_name(const char *uri)
{
	const char *auth = strstr(uri, "://") + 3;
	size_t auth_len = strcspn(auth, "/?");
	const char *at = memrchr(auth, '@', auth_len);
	const char *colon;
	struct buf out;

	if (at == NULL || (colon = memchr(auth, ':', (size_t)(at - auth)))
	    == NULL)
		return xstrdup(uri);
	buf_init(&out, strlen(uri));
	buf_append(&out, uri, (size_t)(colon + 1 - uri));
	buf_puts(&out, "***");
	buf_puts(&out, at);
	return buf_steal(&out);
}

static int
dict_sql_hosts(struct dict_sql *t, unsigned flags, struct buf *why)
{
	const char *spec_list = t->cf.hosts ? t->cf.hosts : "localhost";
	struct dict_sql_host *h, tmp;
	struct argv *av;
	size_t i, j, unix_count;
	bool ok;

	av = argv_split(spec_list, ", \t\r\n");
	if (av->argc == 0) {
		buf_printf(why, "%s: hosts: no host given", t->cf.file);
		argv_free(av);
		return -1;
	}
	t->hosts = xcalloc(av->argc, sizeof(*t->hosts));
	for (i = 0; i < av->argc; i++) {
		const char *spec = av->argv[i];

		h = &t->hosts[t->host_count++];
		if (str_has_prefix(spec, "postgresql://")
		    || str_has_prefix(spec, "postgres://"))
			h->name = dict_sql_uri_name(spec);
		else
			h->name = xstrdup(spec);
		if (str_has_prefix(spec, "unix:")) {
			h->kind = DICT_SQL_HOST_UNIX;
			h->addr = xstrdup(spec + 5);
			ok = *h->addr != 0;
		} else if (str_has_prefix(spec, "postgresql://")
		    || str_has_prefix(spec, "postgres://")) {
			h->kind = DICT_SQL_HOST_URI;
			h->addr = xstrdup(spec);
			ok = (flags & DICT_SQL_CF_PGSQL) != 0;
		} else if (str_has_prefix(spec, "inet:")) {
			ok = dict_sql_host_inet(h, spec + 5);
		} else {
			ok = dict_sql_host_inet(h, spec);
		}
		if (!ok) {
			buf_printf(why, "%s: hosts: bad host \"%s\"",
			    t->cf.file, h->name);
			argv_free(av);
			return -1;
		}
	}
	argv_free(av);
	/* Random order spreads the load of many processes over the hosts. */
	for (i = t->host_count; i > 1; i--) {
		j = arc4random_uniform((uint32_t)i);
		tmp = t->hosts[i - 1];
		t->hosts[i - 1] = t->hosts[j];
		t->hosts[j] = tmp;
	}
	/* UNIX-domain sockets first: they are local and cheap. */
	for (i = unix_count = 0; i < t->host_count; i++) {
		if (t->hosts[i].kind == DICT_SQL_HOST_UNIX) {
			tmp = t->hosts[i];
			memmove(&t->hosts[unix_count + 1],
			    &t->hosts[unix_count],
			    (i - unix_count) * sizeof(*t->hosts));
			t->hosts[unix_count++] = tmp;
		}
	}
	return 0;
}

/* ---- the table ---------------------------------------------------------- */

struct dict_sql *
dict_sql_open(const struct dict_ops *ops, const struct dict_sql_backend *be,
    const char *name, int open_flags, int dict_flags, struct buf *why)
{
	struct dict_sql *t;

	if ((open_flags & O_ACCMODE) != O_RDONLY
	    || (open_flags & (O_CREAT | O_TRUNC))) {
		buf_printf(why, "table %s:%s: SQL tables are read-only",
		    ops->type, name);
		return NULL;
	}
	t = (struct dict_sql *)dict_alloc(ops, name, open_flags, dict_flags,
	    sizeof(*t));
	t->be = be;
	buf_init(&t->last_error, 0);
	/* As the domain files: a changed configuration needs a restart. */
	dict_open_watch(name, true);
	if (dict_sql_cf_load(&t->cf, name, be->cf_flags, why) < 0)
		goto fail;
	if (be->cf_flags & DICT_SQL_CF_HOSTS) {
		if (dict_sql_hosts(t, be->cf_flags, why) < 0)
			goto fail;
	} else {
		if (t->cf.dbname == NULL) {
			buf_printf(why, "%s: missing dbname", name);
			goto fail;
		}
		t->hosts = xcalloc(1, sizeof(*t->hosts));
		t->host_count = 1;
		t->hosts[0].kind = DICT_SQL_HOST_FILE;
		t->hosts[0].name = xstrdup(t->cf.dbname);
		t->hosts[0].addr = xstrdup(t->cf.dbname);
	}
	if (be->check && be->check(t, why) < 0)
		goto fail;
	return t;
fail:
	dict_sql_close(&t->d);
	return NULL;
}

void
dict_sql_close(struct dict *d)
{
	struct dict_sql *t = (struct dict_sql *)d;
	size_t i;

	for (i = 0; i < t->host_count; i++) {
		struct dict_sql_host *h = &t->hosts[i];

		if (h->conn)
			t->be->disconnect(h->conn);
		free(h->name);
		free(h->addr);
		free(h->port);
	}
	free(t->hosts);
	dict_sql_cf_free(&t->cf);
	buf_fini(&t->last_error);
	dict_free(d);
}

/*
 * Run the query on host h, connecting when needed. A broken connection
 * that was open before this lookup is reopened once: servers close idle
 * connections (MySQL's wait_timeout) and restart.
 */
static enum dict_sql_status
dict_sql_try_host(struct dict_sql *t, struct dict_sql_host *h,
    const char *key, struct dict_sql_result *res, struct buf *why)
{
	enum dict_sql_status st;
	struct buf sql;
	bool fresh = false;
	int attempt, rc;

	buf_init(&sql, 256);
	for (attempt = 0;; attempt++) {
		buf_reset(why);
		if (h->conn == NULL) {
			if ((h->conn = t->be->connect(t, h, why)) == NULL) {
				st = DICT_SQL_ECONN;
				break;
			}
			fresh = true;
		}
		/* Escaping may depend on the connection (its charset). */
		rc = dict_sql_expand_query(&sql, t->cf.query, key,
		    t->be->quote, h->conn, why);
		if (rc < 0) {
			st = DICT_SQL_EQUERY;
			break;
		}
		dict_sql_result_reset(res);
		if (rc == 0) {		/* the key cannot match: not found */
			st = DICT_SQL_OK;
			break;
		}
		if (msg_verbose)
			msg_info("table %s: host %s: query: %s",
			    t->d.full_name, h->name, sql.data);
		st = t->be->query(t, h->conn, sql.data, sql.len, res, why);
		if (st != DICT_SQL_ECONN || fresh || attempt > 0)
			break;
		t->be->disconnect(h->conn);
		h->conn = NULL;
	}
	buf_fini(&sql);
	return st;
}

enum dict_result
dict_sql_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_sql *t = (struct dict_sql *)d;
	struct dict_sql_result res;
	enum dict_sql_status st;
	enum dict_result rc;
	struct buf why;
	uint64_t now;
	size_t i;

	/*
	 * Keys that cannot match never reach the server: that spares it
	 * the load, and the answer is the same. A domain table that fails
	 * makes the answer unknown: a temporary failure.
	 */
	if (*key == 0 || !dict_sql_key_ok(t->cf.query, t->cf.result_format,
	    key))
		return DICT_NOTFOUND;
	buf_init(&why, 128);
	switch (dict_sql_domain_ok(&t->cf, key, &why)) {
	case DICT_FOUND:
		break;
	case DICT_NOTFOUND:
		buf_fini(&why);
		return DICT_NOTFOUND;
	case DICT_TEMPFAIL:
		rc = dict_tempfail(d, "table %s: domain: %s", d->full_name,
		    why.data);
		buf_fini(&why);
		return rc;
	}
	dict_sql_result_init(&res, value, t->cf.result_format, key,
	    t->cf.expansion_limit);
	now = time_mono_ms();
	for (i = 0; i < t->host_count; i++) {
		struct dict_sql_host *h = &t->hosts[i];

		if (h->dead_until > now)
			continue;
		st = dict_sql_try_host(t, h, key, &res, &why);
		if (st == DICT_SQL_OK) {
			h->dead_until = 0;
			if (res.failed) {
				buf_reset(value);
				rc = dict_tempfail(d, "table %s: %s",
				    d->full_name, res.why.data);
			} else {
				rc = res.count > 0 ? DICT_FOUND
				    : DICT_NOTFOUND;
			}
			goto out;
		}
		buf_reset(value);
		if (st == DICT_SQL_EQUERY) {
			if (h->kind == DICT_SQL_HOST_FILE)
				rc = dict_tempfail(d, "table %s: %s",
				    d->full_name, why.data);
			else
				rc = dict_tempfail(d, "table %s: host %s: %s",
				    d->full_name, h->name, why.data);
			goto out;
		}
		if (h->conn) {
			t->be->disconnect(h->conn);
			h->conn = NULL;
		}
		/* 1 ms past now even when retry_interval is 0. */
		h->dead_until = now + (uint64_t)t->cf.retry_interval * 1000
		    + 1;
		buf_reset(&t->last_error);
		buf_printf(&t->last_error, "host %s: %s", h->name, why.data);
		if (t->host_count > 1)
			msg_warn("table %s: %s; not using it for %ld seconds",
			    d->full_name, t->last_error.data,
			    t->cf.retry_interval);
	}
	rc = dict_tempfail(d, "table %s: no database server is available "
	    "(last error: %s)", d->full_name, t->last_error.len
	    ? t->last_error.data : "none");
out:
	dict_sql_result_fini(&res);
	buf_fini(&why);
	return rc;
}
