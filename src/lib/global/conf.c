/*
 * conf.c - main.cf: read, expand, validate, load
 *
 * A struct conf is the name = value pairs of one main.cf plus overrides,
 * each remembering the file and line that set it, indexed by a hash
 * table for lookup and kept in an array for file order. Daemons call
 * conf_load() at every start, so everything here is linear in the size
 * of main.cf: the file is read in one piece and split in place, and
 * $name expansion is memoized per parameter (see conf_exp_name), so a
 * value that is referenced many times is expanded once, and a chain of
 * references such as a = $b $b, b = $c $c cannot turn exponential.
 *
 * The memo lives in struct conf_cache, reached through a pointer so that
 * functions taking a const struct conf can still fill it; any conf_set()
 * empties it.
 *
 * conf_check_overrides() validates what one master.cf service will see
 * (a copy of the configuration with its -o settings), by the rules that
 * main.cf obeys; conf_load_some() salvages a few parameters (where the
 * log goes) from a main.cf that does not load, so that a daemon can
 * still say why it cannot start.
 *
 * SECURITY: main.cf is written by the administrator, but -o overrides
 * arrive on command lines and values end up in logs. Input size is
 * bounded (CONF_FILE_LIMIT, CONF_EXPAND_LIMIT), recursion is bounded by
 * CONF_EXPAND_DEPTH and loop detection, and no text is ever copied into
 * a fixed-size buffer. msg.c makes quoted values printable.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "petrel_config.h"

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "file.h"
#include "htable.h"
#include "log.h"
#include "match_list.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "postfix_params.h"
#include "transport_params.h"

#define CONF_FILE_LIMIT		(16 * 1024 * 1024)
#define CONF_EXPAND_LIMIT	(4 * 1024 * 1024)

struct conf_cache {
	struct htable *done;	/* name -> expanded text, or conf_busy */
	char *mydomain;		/* conf_raw("mydomain") derived from main.cf */
	char *mynetworks;	/* conf_raw("mynetworks"), the same way */
};

struct conf {
	struct htable *index;		/* name -> struct conf_entry */
	struct conf_entry **ents;	/* in order of first definition */
	size_t count;
	size_t cap;
	struct conf_cache *cache;
};

/* Marks a name whose expansion is under way: meeting it again is a loop. */
static char conf_busy[1];

static struct conf *conf_installed;

static inline bool
conf_is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f'
	    || ch == '\v';
}

static inline bool
conf_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9') || ch == '_';
}

static bool
conf_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!conf_name_char((unsigned char)name[i]))
			return false;
	return true;
}

static void
conf_cache_value_free(void *value)
{
	if (value != conf_busy)
		free(value);
}

static void
conf_cache_clear(struct conf *c)
{
	free(c->cache->mydomain);
	c->cache->mydomain = NULL;
	free(c->cache->mynetworks);
	c->cache->mynetworks = NULL;
	if (htable_count(c->cache->done) == 0)
		return;
	htable_free(c->cache->done, conf_cache_value_free);
	c->cache->done = htable_new(64);
}

struct conf *
conf_new(void)
{
	struct conf *c = xcalloc(1, sizeof(*c));

	c->index = htable_new(64);
	c->cache = xcalloc(1, sizeof(*c->cache));
	c->cache->done = htable_new(64);
	return c;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->count; i++) {
		free(c->ents[i]->name);
		free(c->ents[i]->value);
		free(c->ents[i]->file);
		free(c->ents[i]);
	}
	free(c->ents);
	htable_free(c->index, NULL);
	htable_free(c->cache->done, conf_cache_value_free);
	free(c->cache->mydomain);
	free(c->cache->mynetworks);
	free(c->cache);
	if (c == conf_installed)
		conf_installed = NULL;
	free(c);
}

void
conf_set(struct conf *c, const char *name, const char *value,
    const char *file, int line)
{
	struct conf_entry *e = htable_get(c->index, name);
	/* Copy first: value or file may point into the entry we replace. */
	char *new_value = xstrdup(value);
	char *new_file = xstrdup(file ? file : "command line");

	if (e != NULL) {
		free(e->value);
		free(e->file);
	} else {
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(name);
		if (c->count == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 32;
			c->ents = xreallocarray(c->ents, c->cap,
			    sizeof(*c->ents));
		}
		c->ents[c->count++] = e;
		htable_put(c->index, name, e);
	}
	e->value = new_value;
	e->file = new_file;
	e->line = line;
	conf_cache_clear(c);
}

/* Set name = value from text[0..len), trimming both sides of '='. */
static int
conf_assign(struct conf *c, const char *text, size_t len, const char *file,
    int line, struct buf *why)
{
	const char *eq = memchr(text, '=', len);
	const char *name_end, *val, *end = text + len;
	char *name, *value;

	if (eq == NULL) {
		buf_printf(why, "missing '=' after parameter name \"%.*s\"",
		    (int)len, text);
		return -1;
	}
	for (name_end = eq; name_end > text
	    && conf_is_space((unsigned char)name_end[-1]); name_end--)
		;
	while (text < name_end && conf_is_space((unsigned char)*text))
		text++;
	if (name_end == text) {
		buf_puts(why, "missing parameter name before '='");
		return -1;
	}
	if (!conf_name_ok(text, (size_t)(name_end - text))) {
		buf_printf(why, "bad parameter name \"%.*s\" (expected "
		    "letters, digits and _)", (int)(name_end - text), text);
		return -1;
	}
	for (val = eq + 1; val < end && conf_is_space((unsigned char)*val);
	    val++)
		;
	while (end > val && conf_is_space((unsigned char)end[-1]))
		end--;
	name = xstrndup(text, (size_t)(name_end - text));
	value = xstrndup(val, (size_t)(end - val));
	conf_set(c, name, value, file, line);
	free(name);
	free(value);
	return 0;
}

static void
conf_report_line(const char *file, int line, const char *why)
{
	msg_error("%s, line %d: %s", file, line, why);
}

/*
 * Split data into logical lines and assign each. Blank and comment
 * lines neither start nor end a logical line; a line that starts with
 * whitespace continues the current one, joined with a single space.
 * Returns the number of errors (each reported).
 */
static int
conf_parse(struct conf *c, const char *data, size_t len, const char *file)
{
	const char *cp = data, *end = data + len, *eol, *s, *e;
	struct buf logical, why;
	int lineno = 0, start = 0, errors = 0;
	bool skipping = false;

	buf_init(&logical, 256);
	buf_init(&why, 64);
	for (; cp < end; cp = eol < end ? eol + 1 : end) {
		if (lineno < INT_MAX)
			lineno++;
		eol = memchr(cp, '\n', (size_t)(end - cp));
		if (eol == NULL)
			eol = end;
		for (s = cp; s < eol && conf_is_space((unsigned char)*s); s++)
			;
		for (e = eol; e > s && conf_is_space((unsigned char)e[-1]);
		    e--)
			;
		if (s == e || *s == '#')
			continue;
		if (memchr(s, 0, (size_t)(e - s)) != NULL) {
			conf_report_line(file, lineno, "NUL character in line");
			errors++;
			continue;
		}
		if (s != cp) {
			if (start > 0) {
				buf_putc(&logical, ' ');
				buf_append(&logical, s, (size_t)(e - s));
			} else if (!skipping) {
				conf_report_line(file, lineno, "logical line "
				    "must not start with whitespace");
				errors++;
				skipping = true;
			}
			continue;
		}
		if (start > 0) {
			buf_reset(&why);
			if (conf_assign(c, logical.data, logical.len, file,
				start, &why) < 0) {
				conf_report_line(file, start, why.data);
				errors++;
			}
		}
		buf_setn(&logical, s, (size_t)(e - s));
		start = lineno;
		skipping = false;
	}
	if (start > 0) {
		buf_reset(&why);
		if (conf_assign(c, logical.data, logical.len, file, start,
			&why) < 0) {
			conf_report_line(file, start, why.data);
			errors++;
		}
	}
	buf_fini(&logical);
	buf_fini(&why);
	return errors;
}

int
conf_read_text(struct conf *c, const char *text, const char *file)
{
	if (conf_parse(c, text, strlen(text), file) > 0) {
		errno = 0;
		return -1;
	}
	return 0;
}

int
conf_read_file(struct conf *c, const char *path)
{
	struct buf data;
	int errors, saved;

	buf_init(&data, 4096);
	if (file_read(path, &data, CONF_FILE_LIMIT) < 0) {
		saved = errno;
		buf_fini(&data);
		errno = saved;
		return -1;
	}
	errors = conf_parse(c, data.data, data.len, path);
	buf_fini(&data);
	if (errors > 0) {
		errno = 0;
		return -1;
	}
	return 0;
}

int
conf_set_override(struct conf *c, const char *assignment, const char *file,
    int line)
{
	struct buf why;
	int ret;

	buf_init(&why, 64);
	ret = conf_assign(c, assignment, strlen(assignment),
	    file ? file : "command line", line, &why);
	buf_fini(&why);
	return ret;
}

const struct conf_entry *
conf_lookup(const struct conf *c, const char *name)
{
	return htable_get(c->index, name);
}

size_t
conf_count(const struct conf *c)
{
	return c->count;
}

const struct conf_entry *
conf_entry_at(const struct conf *c, size_t i)
{
	return i < c->count ? c->ents[i] : NULL;
}

static const char *conf_raw_mydomain(const struct conf *c);
static const char *conf_raw_mynetworks(const struct conf *c);

const char *
conf_raw(const struct conf *c, const char *name)
{
	const struct conf_entry *e = conf_lookup(c, name);
	const struct param_def *p;
	const char *derived;

	if (e != NULL)
		return e->value;
	if (strcmp(name, "mydomain") == 0
	    && (derived = conf_raw_mydomain(c)) != NULL)
		return derived;
	if (strcmp(name, "mynetworks") == 0
	    && (derived = conf_raw_mynetworks(c)) != NULL)
		return derived;
	if ((p = param_find(name)) != NULL)
		return param_default(p);
	return NULL;
}

/*
 * Expansion state. depth counts every nested step (a referenced name or
 * the text of a ${name?text} form) so that the C stack stays bounded;
 * chain holds the names being expanded, to show a loop when one closes.
 */
struct conf_exp {
	const struct conf *c;
	struct buf *why;
	int depth;
	int nchain;
	const char *chain[CONF_EXPAND_DEPTH + 1];
};

static const char *conf_exp_name(struct conf_exp *x, const char *name);

static int
conf_exp_append(struct conf_exp *x, struct buf *out, size_t base,
    const char *data, size_t len)
{
	if (len > CONF_EXPAND_LIMIT || out->len - base > CONF_EXPAND_LIMIT
	    - len) {
		buf_printf(x->why, "expanded value is longer than %d bytes",
		    CONF_EXPAND_LIMIT);
		return -1;
	}
	buf_append(out, data, len);
	return 0;
}

static int conf_exp_text(struct conf_exp *x, const char *text, size_t len,
    struct buf *out, size_t base);

/* $name, or ${name?text} / ${name:text} when op is '?' or ':'. */
static int
conf_exp_ref(struct conf_exp *x, const char *name, size_t len, int op,
    const char *text, size_t textlen, struct buf *out, size_t base)
{
	char *key = xstrndup(name, len);
	const char *val = conf_exp_name(x, key);
	int ret = 0;

	free(key);
	if (val == NULL)
		return -1;
	if (op == 0)
		return conf_exp_append(x, out, base, val, strlen(val));
	if ((op == '?') == (*val != 0)) {
		if (x->depth >= CONF_EXPAND_DEPTH) {
			buf_printf(x->why, "expansion nested deeper than %d "
			    "levels", CONF_EXPAND_DEPTH);
			return -1;
		}
		x->depth++;
		ret = conf_exp_text(x, text, textlen, out, base);
		x->depth--;
	}
	return ret;
}

static int
conf_exp_text(struct conf_exp *x, const char *text, size_t len,
    struct buf *out, size_t base)
{
	const char *cp = text, *end = text + len, *dollar, *name, *name_end;
	const char *close;
	char open, shut;
	int level;

	while (cp < end) {
		dollar = memchr(cp, '$', (size_t)(end - cp));
		if (dollar == NULL)
			return conf_exp_append(x, out, base, cp,
			    (size_t)(end - cp));
		if (conf_exp_append(x, out, base, cp,
			(size_t)(dollar - cp)) < 0)
			return -1;
		cp = dollar + 1;
		if (cp < end && conf_name_char((unsigned char)*cp)) {
			for (name_end = cp; name_end < end
			    && conf_name_char((unsigned char)*name_end);
			    name_end++)
				;
			if (conf_exp_ref(x, cp, (size_t)(name_end - cp), 0,
				NULL, 0, out, base) < 0)
				return -1;
			cp = name_end;
			continue;
		}
		if (cp == end || (*cp != '{' && *cp != '(')) {
			/* "$$" is one '$'; a '$' before anything else stays. */
			if (cp < end && *cp == '$')
				cp++;
			if (conf_exp_append(x, out, base, "$", 1) < 0)
				return -1;
			continue;
		}
		open = *cp;
		shut = open == '{' ? '}' : ')';
		for (close = cp + 1, level = 1; close < end; close++) {
			if (*close == open)
				level++;
			else if (*close == shut && --level == 0)
				break;
		}
		if (close == end) {
			buf_printf(x->why, "unbalanced '%c' in \"%.*s\"", open,
			    (int)(end - dollar), dollar);
			return -1;
		}
		name = cp + 1;
		for (name_end = name; name_end < close
		    && conf_name_char((unsigned char)*name_end); name_end++)
			;
		if (name_end == name || (name_end < close && *name_end != '?'
		    && *name_end != ':')) {
			buf_printf(x->why, "bad parameter name in \"%.*s\"",
			    (int)(close + 1 - dollar), dollar);
			return -1;
		}
		if (name_end == close) {
			if (conf_exp_ref(x, name, (size_t)(name_end - name),
				0, NULL, 0, out, base) < 0)
				return -1;
		} else if (conf_exp_ref(x, name, (size_t)(name_end - name),
		    *name_end, name_end + 1, (size_t)(close - name_end - 1),
		    out, base) < 0) {
			return -1;
		}
		cp = close + 1;
	}
	return 0;
}

static void
conf_exp_loop(struct conf_exp *x, const char *name)
{
	int i, first = 0;

	for (i = x->nchain - 1; i >= 0; i--) {
		if (strcmp(x->chain[i], name) == 0) {
			first = i;
			break;
		}
	}
	buf_puts(x->why, "recursion loop: ");
	for (i = first; i < x->nchain; i++)
		buf_printf(x->why, "$%s -> ", x->chain[i]);
	buf_printf(x->why, "$%s", name);
}

static void conf_where(struct buf *out, const struct conf_entry *e);
static const char *conf_exp_name(struct conf_exp *x, const char *name);

/*
 * The networks of the configured mynetworks_style (expanded), as
 * match_list_mynetworks() finds them; the caller frees them. NULL with
 * x->why set when the style does not expand or is unknown.
 */
static char *
conf_derive_mynetworks(struct conf_exp *x)
{
	const char *style;
	char *nets;

	if ((style = conf_exp_name(x, "mynetworks_style")) == NULL)
		return NULL;
	if ((nets = match_list_mynetworks(style)) == NULL) {
		conf_where(x->why, conf_lookup(x->c, "mynetworks_style"));
		buf_printf(x->why, ": parameter mynetworks_style: unknown "
		    "value \"%s\" (expected host, subnet or class)", style);
	}
	return nets;
}

/*
 * The expanded value of a parameter (owned by the cache), or NULL with
 * x->why set. An undefined name is empty; a P_RAW value is used as is.
 * When mydomain is not set but myhostname is, mydomain follows the
 * configured myhostname (as in Postfix) rather than the system name;
 * when mynetworks is not set but mynetworks_style is, mynetworks is
 * computed for that style.
 */
static const char *
conf_exp_name(struct conf_exp *x, const char *name)
{
	struct htable *done = x->c->cache->done;
	const struct conf_entry *e;
	const struct param_def *p;
	const char *raw, *host, *dot;
	struct buf val;
	char *result, *nets;
	int ret;

	result = htable_get(done, name);
	if (result == conf_busy) {
		conf_exp_loop(x, name);
		return NULL;
	}
	if (result != NULL)
		return result;
	if (x->depth >= CONF_EXPAND_DEPTH) {
		buf_printf(x->why, "expansion nested deeper than %d levels "
		    "at $%s", CONF_EXPAND_DEPTH, name);
		return NULL;
	}
	e = conf_lookup(x->c, name);
	p = param_find(name);
	raw = e ? e->value : p ? param_default(p) : "";
	if (p != NULL && p->type == PARAM_RAW) {
		result = xstrdup(raw);
		htable_put(done, name, result);
		return result;
	}
	htable_put(done, name, conf_busy);
	x->chain[x->nchain++] = name;
	x->depth++;
	buf_init(&val, strlen(raw) + 16);
	if (e == NULL && strcmp(name, "mydomain") == 0
	    && conf_lookup(x->c, "myhostname") != NULL) {
		if ((host = conf_exp_name(x, "myhostname")) == NULL) {
			ret = -1;
		} else {
			dot = strchr(host, '.');
			buf_puts(&val, dot && dot[1] ? dot + 1 : "localdomain");
			ret = 0;
		}
	} else if (e == NULL && strcmp(name, "mynetworks") == 0
	    && conf_lookup(x->c, "mynetworks_style") != NULL) {
		if ((nets = conf_derive_mynetworks(x)) == NULL) {
			ret = -1;
		} else {
			buf_puts(&val, nets);
			free(nets);
			ret = 0;
		}
	} else {
		ret = conf_exp_text(x, raw, strlen(raw), &val, 0);
	}
	x->depth--;
	x->nchain--;
	if (ret < 0) {
		htable_delete(done, name);
		buf_fini(&val);
		return NULL;
	}
	result = buf_steal(&val);
	htable_put(done, name, result);
	return result;
}

/*
 * The default of mydomain when main.cf sets myhostname: the configured
 * name minus its first label, with '$' escaped so that expanding it
 * again gives the same text. NULL when myhostname is not set or does not
 * expand (the error shows up when myhostname itself is evaluated).
 */
static const char *
conf_raw_mydomain(const struct conf *c)
{
	struct conf_exp x = {.c = c};
	const char *host, *dot, *cp;
	struct buf why, raw;

	if (c->cache->mydomain != NULL)
		return c->cache->mydomain;
	if (conf_lookup(c, "myhostname") == NULL)
		return NULL;
	buf_init(&why, 64);
	x.why = &why;
	host = conf_exp_name(&x, "myhostname");
	buf_fini(&why);
	if (host == NULL)
		return NULL;
	dot = strchr(host, '.');
	buf_init(&raw, 64);
	for (cp = dot && dot[1] ? dot + 1 : "localdomain"; *cp; cp++) {
		if (*cp == '$')
			buf_putc(&raw, '$');
		buf_putc(&raw, *cp);
	}
	c->cache->mydomain = buf_steal(&raw);
	buf_fini(&raw);
	return c->cache->mydomain;
}

/*
 * The default of mynetworks when main.cf (or -o) sets mynetworks_style:
 * the networks of that style. NULL when it is not set. An unknown style
 * is reported here (msg_error naming where it is set), once, and gives
 * an empty list; conf_eval() and conf_validate() fail on it instead.
 */
static const char *
conf_raw_mynetworks(const struct conf *c)
{
	struct conf_exp x = {.c = c};
	struct buf why;
	char *nets;

	if (c->cache->mynetworks != NULL)
		return c->cache->mynetworks;
	if (conf_lookup(c, "mynetworks_style") == NULL)
		return NULL;
	buf_init(&why, 64);
	x.why = &why;
	if ((nets = conf_derive_mynetworks(&x)) == NULL) {
		msg_error("%s", why.data);
		nets = xstrdup("");
	}
	buf_fini(&why);
	c->cache->mynetworks = nets;
	return nets;
}

int
conf_expand(const struct conf *c, const char *value, struct buf *out,
    struct buf *why)
{
	struct conf_exp x = {.c = c, .why = why};
	size_t base = out->len;

	if (conf_exp_text(&x, value, strlen(value), out, base) < 0) {
		buf_truncate(out, base);
		return -1;
	}
	return 0;
}

int
conf_eval(const struct conf *c, const char *name, struct buf *out,
    struct buf *why)
{
	struct conf_exp x = {.c = c, .why = why};
	const char *val;

	if ((val = conf_exp_name(&x, name)) == NULL)
		return -1;
	buf_puts(out, val);
	return 0;
}

/* "file, line N", "command line", or "default": where a value came from. */
static void
conf_where(struct buf *out, const struct conf_entry *e)
{
	if (e == NULL)
		buf_puts(out, "default");
	else if (e->line > 0)
		buf_printf(out, "%s, line %d", e->file, e->line);
	else
		buf_puts(out, e->file);
}

bool
conf_where_name(const struct conf *c, const char *name, struct buf *out)
{
	const struct conf_entry *e = c ? conf_lookup(c, name) : NULL;

	if (e == NULL)
		return false;
	conf_where(out, e);
	return true;
}

/*
 * myorigin = /etc/mailname: Debian's Postfix reads the domain from the
 * file when the value is a path, and Debian's stock main.cf says so.
 * The first line, trimmed, replaces the value; an unreadable or empty
 * file is an error. The file is the administrator's (as main.cf is);
 * its size is bounded.
 */
#define CONF_MAILNAME_LIMIT	1024

static int
conf_myorigin_file(struct buf *val, struct buf *why)
{
	struct buf text;
	const char *start;
	size_t len;
	int rc = 0;

	if (val->data[0] != '/')
		return 0;
	buf_init(&text, 128);
	if (file_read(val->data, &text, CONF_MAILNAME_LIMIT) < 0) {
		buf_printf(why, "%s: %m", val->data);
		rc = -1;
	} else {
		start = text.data + strspn(text.data, " \t");
		len = strcspn(start, "\r\n");
		while (len > 0 && conf_is_space((unsigned char)start[len - 1]))
			len--;
		if (len == 0) {
			buf_printf(why, "%s: no domain name on the first line",
			    val->data);
			rc = -1;
		} else {
			buf_reset(val);
			buf_append(val, start, len);
		}
	}
	buf_fini(&text);
	return rc;
}

/*
 * Convert everything first and store only when all is well, so that a
 * bad reload leaves the running configuration whole. prefix starts
 * every message (a master.cf service, for conf_check_overrides()).
 */
static int
conf_validate_as(const struct conf *c, bool store, const char *prefix)
{
	const struct param_def *tab;
	struct buf val, why, where;
	char **values;
	size_t i, n;
	int errors = 0;

	tab = param_table(&n);
	values = xcalloc(n, sizeof(*values));
	buf_init(&val, 256);
	buf_init(&why, 128);
	buf_init(&where, 128);
	for (i = 0; i < n; i++) {
		buf_reset(&val);
		buf_reset(&why);
		if (conf_eval(c, tab[i].name, &val, &why) == 0
		    && (strcmp(tab[i].name, "myorigin") != 0
			|| conf_myorigin_file(&val, &why) == 0)
		    && param_convert(&tab[i], val.data, false, &why) == 0) {
			values[i] = buf_steal(&val);
			continue;
		}
		buf_reset(&where);
		conf_where(&where, conf_lookup(c, tab[i].name));
		msg_error("%s%s: parameter %s: %s", prefix, where.data,
		    tab[i].name, why.data);
		errors++;
	}
	if (errors == 0 && store) {
		for (i = 0; i < n; i++)
			if (param_convert(&tab[i], values[i], true, &why) < 0)
				msg_panic("conf_validate: %s: %s", tab[i].name,
				    why.data);
	}
	for (i = 0; i < n; i++)
		free(values[i]);
	free(values);
	buf_fini(&val);
	buf_fini(&why);
	buf_fini(&where);
	return errors;
}

int
conf_validate(const struct conf *c, bool store)
{
	return conf_validate_as(c, store, "");
}

/* Record every name that value refers to: $x ${x...} $(x...). */
static void
conf_scan_refs(struct htable *refs, const char *value)
{
	const char *cp = value, *name;
	char *key;

	while ((cp = strchr(cp, '$')) != NULL) {
		cp++;
		if (*cp == '$') {
			cp++;
			continue;
		}
		if (*cp == '{' || *cp == '(')
			cp++;
		for (name = cp; conf_name_char((unsigned char)*cp); cp++)
			;
		if (cp > name) {
			key = xstrndup(name, (size_t)(cp - name));
			htable_put(refs, key, conf_busy);
			free(key);
		}
	}
}

/* A per-transport parameter of one of services. */
static bool
conf_transport_param(const char *name, const struct argv *services)
{
	size_t i;

	for (i = 0; services != NULL && i < services->argc; i++)
		if (transport_param_name(name, services->argv[i]))
			return true;
	return false;
}

/* Each name of a smtpd_restriction_classes value counts as used. */
static void
conf_class_names(struct htable *refs, const char *value)
{
	struct argv *names = argv_split(value, ", \t\r\n");
	size_t i;

	for (i = 0; i < names->argc; i++)
		if (htable_get(refs, names->argv[i]) == NULL)
			htable_put(refs, names->argv[i], conf_busy);
	argv_free(names);
}

/*
 * The restriction classes that smtpd_restriction_classes names are
 * parameters of their own ("class = restrictions"), used by smtpd.
 */
static void
conf_class_refs(const struct conf *c, struct htable *refs)
{
	struct buf value, why;

	buf_init(&value, 64);
	buf_init(&why, 64);
	if (conf_eval(c, "smtpd_restriction_classes", &value, &why) == 0)
		conf_class_names(refs, value.data);
	buf_fini(&value);
	buf_fini(&why);
}

/*
 * The names that something refers to: $name in a value of c or in
 * extra_values (master.cf's "name=value" overrides), and the
 * restriction classes, of main.cf or of an override (a class defined
 * in main.cf may be named in -o smtpd_restriction_classes only). The
 * caller frees the table with htable_free(refs, NULL).
 */
static struct htable *
conf_refs_new(const struct conf *c, const struct argv *extra_values)
{
	static const char classes[] = "smtpd_restriction_classes";
	struct htable *refs = htable_new(64);
	const char *v;
	size_t i, n;

	for (i = 0; i < c->count; i++)
		conf_scan_refs(refs, c->ents[i]->value);
	for (i = 0; extra_values != NULL && i < extra_values->argc; i++) {
		v = extra_values->argv[i];
		conf_scan_refs(refs, v);
		n = strlen(classes);
		if (strncmp(v, classes, n) == 0) {
			for (v += n; conf_is_space((unsigned char)*v); v++)
				;
			if (*v == '=')
				conf_class_names(refs, v + 1);
		}
	}
	conf_class_refs(c, refs);
	return refs;
}

/* What makes a name that is set in main.cf or with -o legitimate. */
static bool
conf_name_used(const struct htable *refs, const char *name,
    const struct argv *services)
{
	return param_find(name) != NULL || htable_get(refs, name) != NULL
	    || conf_transport_param(name, services);
}

int
conf_check_unknown(const struct conf *c, bool as_error,
    const struct argv *extra_values, const struct argv *services)
{
	struct htable *refs = conf_refs_new(c, extra_values);
	const struct conf_entry *e;
	struct buf where;
	size_t i;
	int count = 0;

	buf_init(&where, 128);
	for (i = 0; i < c->count; i++) {
		e = c->ents[i];
		if (conf_name_used(refs, e->name, services)
		    || postfix_param_ignorable(e->name, e->value))
			continue;
		buf_reset(&where);
		conf_where(&where, e);
		if (postfix_param_known(e->name)) {
			if (as_error)
				msg_error("%s: %s=%s: Postfix parameter that "
				    "Petrel does not implement (yet)",
				    where.data, e->name, e->value);
			else
				msg_warn("%s: %s=%s: Postfix parameter that "
				    "Petrel does not implement (yet)",
				    where.data, e->name, e->value);
		} else if (as_error) {
			msg_error("%s: unused parameter: %s=%s", where.data,
			    e->name, e->value);
		} else {
			msg_warn("%s: unused parameter: %s=%s", where.data,
			    e->name, e->value);
		}
		count++;
	}
	buf_fini(&where);
	htable_free(refs, NULL);
	return count;
}

/* A copy of c: the same entries, files and lines, in the same order. */
static struct conf *
conf_dup(const struct conf *c)
{
	struct conf *copy = conf_new();
	size_t i;

	for (i = 0; i < c->count; i++)
		conf_set(copy, c->ents[i]->name, c->ents[i]->value,
		    c->ents[i]->file, c->ents[i]->line);
	return copy;
}

/* The name of "name = value", trimmed as conf_assign() does; or NULL. */
static char *
conf_assignment_name(const char *text)
{
	const char *eq = strchr(text, '='), *end;

	if (eq == NULL)
		return NULL;
	while (conf_is_space((unsigned char)*text))
		text++;
	for (end = eq; end > text && conf_is_space((unsigned char)end[-1]);
	    end--)
		;
	return xstrndup(text, (size_t)(end - text));
}

/*
 * The overrides go into a copy of c, each labelled "-o name=value" as
 * its file, so that conf_validate_as() names the one at fault; a
 * parameter that fails only through a reference to an override is
 * named with its main.cf line. The copy costs a conf_validate() per
 * service that has overrides; services without any see c itself, which
 * the caller has validated.
 */
int
conf_check_overrides(const struct conf *c, const struct argv *overrides,
    const char *where, const struct argv *services)
{
	struct conf *copy;
	struct htable *refs, *seen;
	struct buf label, prefix;
	char *name;
	size_t i;
	int errors = 0;

	if (overrides == NULL || overrides->argc == 0)
		return 0;
	copy = conf_dup(c);
	buf_init(&label, 64);
	buf_init(&prefix, 64);
	buf_printf(&prefix, "%s: ", where);
	for (i = 0; i < overrides->argc; i++) {
		buf_reset(&label);
		buf_printf(&label, "-o %s", overrides->argv[i]);
		if (conf_set_override(copy, overrides->argv[i], label.data,
			0) < 0) {
			msg_error("%s: bad override \"-o %s\" (expected "
			    "name=value)", where, overrides->argv[i]);
			errors++;
		}
	}
	errors += conf_validate_as(copy, false, prefix.data);

	refs = conf_refs_new(copy, NULL);
	seen = htable_new(16);
	for (i = 0; i < overrides->argc; i++) {
		if ((name = conf_assignment_name(overrides->argv[i])) == NULL)
			continue;		/* reported above */
		if (!conf_name_used(refs, name, services)
		    && !postfix_param_ignorable(name,
			strchr(overrides->argv[i], '=') + 1)
		    && htable_get(seen, name) == NULL) {
			htable_put(seen, name, conf_busy);
			if (postfix_param_known(name))
				msg_error("%s: -o %s: Postfix parameter that "
				    "Petrel does not implement (yet)", where,
				    overrides->argv[i]);
			else
				msg_error("%s: -o %s: unknown parameter %s (and "
				    "no value refers to $%s)", where,
				    overrides->argv[i], name, name);
			errors++;
		}
		free(name);
	}
	htable_free(seen, NULL);
	htable_free(refs, NULL);
	buf_fini(&label);
	buf_fini(&prefix);
	conf_free(copy);
	return errors;
}

struct conf *
conf_current(void)
{
	return conf_installed;
}

void
conf_install(struct conf *c)
{
	struct conf *old = conf_installed;

	conf_installed = c;
	if (old != NULL && old != c)
		conf_free(old);
}

const char *
conf_default_dir(void)
{
	const char *dir = getenv("MAIL_CONFIG");

	return dir != NULL && *dir != 0 ? dir : DEF_CONFIG_DIR;
}

int
conf_load(const char *dir, const struct argv *overrides)
{
	struct conf *c = conf_new();
	struct buf path;
	size_t i;
	int errors = 0;

	if (dir == NULL)
		dir = conf_default_dir();
	buf_init(&path, 128);
	buf_printf(&path, "%s/main.cf", dir);
	if (conf_read_file(c, path.data) < 0) {
		if (errno != 0)
			msg_error("open %s: %s", path.data, strerror(errno));
		goto fail;
	}
	/* An override, so that $config_directory names this directory. */
	conf_set(c, "config_directory", dir, "command line", 0);
	for (i = 0; overrides != NULL && i < overrides->argc; i++) {
		if (conf_set_override(c, overrides->argv[i], "command line",
			0) < 0) {
			msg_error("command line: bad override \"%s\" "
			    "(expected name=value)", overrides->argv[i]);
			errors++;
		}
	}
	if (errors > 0 || conf_validate(c, true) > 0)
		goto fail;
	conf_install(c);
	/* Log as Postfix does: "$syslog_name/sendmail", not "sendmail". */
	if (strchr(log_progname(), '/') == NULL) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", var_syslog_name, log_progname());
		log_set_ident(path.data);
	}
	buf_fini(&path);
	return 0;

fail:
	conf_free(c);
	buf_fini(&path);
	return -1;
}

int
conf_load_some(const char *dir, const struct argv *overrides,
    const char *const *names)
{
	struct conf *c = conf_new();
	const struct param_def *p;
	struct buf path, val, why;
	size_t i;
	int stored = 0, saved;

	if (dir == NULL)
		dir = conf_default_dir();
	buf_init(&path, 128);
	buf_init(&val, 128);
	buf_init(&why, 64);
	buf_printf(&path, "%s/main.cf", dir);
	if (conf_read_file(c, path.data) < 0 && errno != 0) {
		stored = -1;
		goto out;
	}
	conf_set(c, "config_directory", dir, "command line", 0);
	for (i = 0; overrides != NULL && i < overrides->argc; i++)
		(void)conf_set_override(c, overrides->argv[i], "command line",
		    0);
	for (i = 0; names[i] != NULL; i++) {
		buf_reset(&val);
		buf_reset(&why);
		if ((p = param_find(names[i])) == NULL)
			msg_panic("conf_load_some: unknown parameter %s",
			    names[i]);
		if (conf_eval(c, names[i], &val, &why) == 0
		    && param_convert(p, val.data, true, &why) == 0)
			stored++;
	}
out:
	saved = errno;
	conf_free(c);
	buf_fini(&path);
	buf_fini(&val);
	buf_fini(&why);
	errno = saved;
	return stored;
}
