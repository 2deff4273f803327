/*
 * params.c - the main.cf parameter table and its var_<name> globals
 *
 * params.def is expanded here three times: once to define the var_<name>
 * globals, once into compile-time checks of the numeric defaults and
 * bounds, and once into a specification array. At first use that array
 * is sorted by name (qsort, so the order of params.def does not matter)
 * into the struct param_def table that param_table() hands out;
 * param_find() is a binary search over it.
 *
 * param_convert() is the only place that turns text into a typed value,
 * so main.cf, -o overrides and `petrel conf` all accept exactly the same
 * spellings and report errors in the same words.
 *
 * String globals point to copies owned by this module; storing a new
 * value frees the previous copy, so callers must not keep a var_ string
 * across conf_load().
 *
 * SECURITY: values come from main.cf and from -o command-line overrides;
 * conversions are strict (whole string, overflow checked) and errors
 * quote the value, which msg.c makes printable before logging.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "petrel_config.h"

#include "buf.h"
#include "match_list.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "str.h"
#include "timeutil.h"

/* The globals. Strings start as the literal default (not owned). */
#define P_STR(n, d)		char *var_##n = d;
#define P_STRN(v, n, d)		char *var_##v = d;
#define P_RAW(n, d)		char *var_##n = d;
#define P_DYN(n)		char *var_##n;
#define P_INT(n, d, lo, hi)	int var_##n = (d);
#define P_LONG(n, d, lo, hi)	long var_##n = (d);
#define P_BOOL(n, d)		bool var_##n = (d);
#define P_TIME(n, d, lo, hi)	int var_##n;
#include "params.def"
#undef P_STR
#undef P_STRN
#undef P_RAW
#undef P_DYN
#undef P_INT
#undef P_LONG
#undef P_BOOL
#undef P_TIME

/* A default outside its own bounds is a typo; refuse to compile it. */
#define P_STR(n, d)
#define P_STRN(v, n, d)
#define P_RAW(n, d)
#define P_DYN(n)
#define P_INT(n, d, lo, hi) \
	_Static_assert((lo) <= (d) && (d) <= (hi) && (lo) >= INT_MIN \
	    && (hi) <= INT_MAX, #n ": default or bounds out of range");
#define P_LONG(n, d, lo, hi) \
	_Static_assert((lo) <= (d) && (d) <= (hi), \
	    #n ": default out of range");
#define P_BOOL(n, d)
#define P_TIME(n, d, lo, hi)
#include "params.def"
#undef P_STR
#undef P_STRN
#undef P_RAW
#undef P_DYN
#undef P_INT
#undef P_LONG
#undef P_BOOL
#undef P_TIME

/*
 * What params.def says about one parameter, plus the state that the
 * public struct param_def does not carry: numeric bounds and the string
 * we own for string globals.
 */
struct param_spec {
	const char *name;
	enum param_type type;
	bool dyn;		/* P_DYN: default computed at run time */
	const char *defval;	/* STR, RAW, TIME */
	const char *min, *max;	/* TIME */
	long num_def;		/* INT, LONG, BOOL */
	long num_min, num_max;	/* INT, LONG */
	void *var;
	char *owned;		/* current string value, when we own it */
};

#define P_STR(n, d) \
	{.name = #n, .type = PARAM_STR, .defval = d, .var = &var_##n},
#define P_STRN(v, n, d) \
	{.name = n, .type = PARAM_STR, .defval = d, .var = &var_##v},
#define P_RAW(n, d) \
	{.name = #n, .type = PARAM_RAW, .defval = d, .var = &var_##n},
#define P_DYN(n) \
	{.name = #n, .type = PARAM_STR, .dyn = true, .var = &var_##n},
#define P_INT(n, d, lo, hi) \
	{.name = #n, .type = PARAM_INT, .num_def = (d), .num_min = (lo), \
	    .num_max = (hi), .var = &var_##n},
#define P_LONG(n, d, lo, hi) \
	{.name = #n, .type = PARAM_LONG, .num_def = (d), .num_min = (lo), \
	    .num_max = (hi), .var = &var_##n},
#define P_BOOL(n, d) \
	{.name = #n, .type = PARAM_BOOL, .num_def = (d) ? 1 : 0, \
	    .var = &var_##n},
#define P_TIME(n, d, lo, hi) \
	{.name = #n, .type = PARAM_TIME, .defval = d, .min = lo, .max = hi, \
	    .var = &var_##n},
static struct param_spec param_specs[] = {
#include "params.def"
};
#undef P_STR
#undef P_STRN
#undef P_RAW
#undef P_DYN
#undef P_INT
#undef P_LONG
#undef P_BOOL
#undef P_TIME

#define PARAM_COUNT	(sizeof(param_specs) / sizeof(param_specs[0]))

/* Built at first use: the sorted table and the spec of each row. */
static struct param_def *param_defs;
static struct param_spec **param_sorted;

static char *param_hostname;		/* cached P_DYN defaults */
static char *param_domain;
static char *param_networks;

static int
param_spec_cmp(const void *a, const void *b)
{
	const struct param_spec *pa = *(const struct param_spec *const *)a;
	const struct param_spec *pb = *(const struct param_spec *const *)b;

	return strcmp(pa->name, pb->name);
}

static char *
param_ltext(long val)
{
	struct buf b;
	char *text;

	buf_init(&b, 24);
	buf_printf(&b, "%ld", val);
	text = buf_steal(&b);
	return text;
}

/* The unit of a bare number: the letter that ends the default. */
static char
param_time_unit(const char *defval)
{
	size_t len = strlen(defval);
	char last = len ? defval[len - 1] : 's';

	return last >= '0' && last <= '9' ? 's' : last;
}

/*
 * The numeric bounds of p, from the text form in the definition, so
 * that param_convert() works for any struct param_def, not only rows of
 * the table (tests build their own). A missing bound is the limit of
 * the C type. Bad bounds are a bug in params.def.
 */
static void
param_bounds(const struct param_def *p, long *lo, long *hi)
{
	char unit = param_time_unit(p->defval ? p->defval : "s");
	long type_lo = p->type == PARAM_INT ? INT_MIN
	    : p->type == PARAM_LONG ? LONG_MIN : 0;
	long type_hi = p->type == PARAM_LONG ? LONG_MAX : INT_MAX;
	int bad = 0;

	*lo = type_lo;
	*hi = type_hi;
	if (p->type == PARAM_TIME) {
		if (p->min != NULL)
			bad |= time_parse_duration(p->min, unit, lo);
		if (p->max != NULL)
			bad |= time_parse_duration(p->max, unit, hi);
	} else {
		if (p->min != NULL)
			bad |= str_to_long(p->min, lo);
		if (p->max != NULL)
			bad |= str_to_long(p->max, hi);
	}
	if (bad != 0 || *lo < type_lo || *hi > type_hi || *lo > *hi)
		msg_panic("parameter %s: bad bounds %s..%s", p->name,
		    p->min ? p->min : "", p->max ? p->max : "");
}

static void
param_init_table(void)
{
	struct param_spec *s;
	struct param_def *d;
	long lo, hi;
	size_t i;

	if (param_defs != NULL)
		return;
	param_sorted = xreallocarray(NULL, PARAM_COUNT,
	    sizeof(*param_sorted));
	for (i = 0; i < PARAM_COUNT; i++)
		param_sorted[i] = &param_specs[i];
	qsort(param_sorted, PARAM_COUNT, sizeof(*param_sorted),
	    param_spec_cmp);
	param_defs = xcalloc(PARAM_COUNT, sizeof(*param_defs));
	for (i = 0; i < PARAM_COUNT; i++) {
		s = param_sorted[i];
		d = &param_defs[i];
		if (i > 0 && strcmp(param_sorted[i - 1]->name, s->name) == 0)
			msg_panic("params.def: duplicate parameter %s",
			    s->name);
		d->name = s->name;
		d->type = s->type;
		d->var = s->var;
		switch (s->type) {
		case PARAM_STR:
		case PARAM_RAW:
			d->defval = s->defval;
			break;
		case PARAM_INT:
		case PARAM_LONG:
			d->defval = param_ltext(s->num_def);
			d->min = param_ltext(s->num_min);
			d->max = param_ltext(s->num_max);
			break;
		case PARAM_BOOL:
			d->defval = s->num_def ? "yes" : "no";
			break;
		case PARAM_TIME:
			d->defval = s->defval;
			d->min = s->min;
			d->max = s->max;
			param_bounds(d, &lo, &hi);
			break;
		}
	}
}

const struct param_def *
param_table(size_t *count)
{
	param_init_table();
	if (count)
		*count = PARAM_COUNT;
	return param_defs;
}

static int
param_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct param_def *)elem)->name);
}

const struct param_def *
param_find(const char *name)
{
	param_init_table();
	return bsearch(name, param_defs, PARAM_COUNT, sizeof(*param_defs),
	    param_name_cmp);
}

/*
 * The host's name, as Postfix picks it: gethostname() when that is
 * already fully qualified, else the canonical name from the resolver,
 * else the short name in the "localdomain" domain. No DNS is needed when
 * the system is configured with a fully qualified name.
 */
static char *
param_find_hostname(void)
{
	struct addrinfo hints, *res = NULL;
	struct buf name;
	char *host = NULL;
	size_t size;
	char *ret;

	/* Grow until the name fits: truncation need not be reported. */
	for (size = 256;; size *= 2) {
		host = xrealloc(host, size);
		errno = 0;
		if (gethostname(host, size) == 0
		    && memchr(host, 0, size) != NULL)
			break;
		if ((errno != 0 && errno != ENAMETOOLONG) || size >= 65536) {
			host[0] = 0;
			break;
		}
	}
	if (strchr(host, '.') != NULL || host[0] == 0) {
		ret = xstrdup(host[0] ? host : "localhost.localdomain");
		free(host);
		return ret;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL
	    && res->ai_canonname != NULL
	    && strchr(res->ai_canonname, '.') != NULL) {
		ret = xstrdup(res->ai_canonname);
	} else {
		buf_init(&name, 64);
		buf_printf(&name, "%s.localdomain", host);
		ret = buf_steal(&name);
		buf_fini(&name);
	}
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	return ret;
}

/*
 * The default of mynetworks: the networks of the default
 * mynetworks_style. (conf.c derives it from a configured style.)
 */
static char *
param_find_networks(void)
{
	const struct param_def *style = param_find("mynetworks_style");
	char *nets;

	if (style == NULL || style->defval == NULL
	    || (nets = match_list_mynetworks(style->defval)) == NULL)
		msg_panic("params.def: bad default of mynetworks_style");
	return nets;
}

const char *
param_default(const struct param_def *p)
{
	const char *dot;

	if (p->defval != NULL)
		return p->defval;
	if (strcmp(p->name, "mynetworks") == 0) {
		if (param_networks == NULL)
			param_networks = param_find_networks();
		return param_networks;
	}
	if (param_hostname == NULL)
		param_hostname = param_find_hostname();
	if (strcmp(p->name, "myhostname") == 0)
		return param_hostname;
	if (strcmp(p->name, "mydomain") == 0) {
		if (param_domain == NULL) {
			dot = strchr(param_hostname, '.');
			param_domain = xstrdup(dot && dot[1] ? dot + 1
			    : "localdomain");
		}
		return param_domain;
	}
	msg_panic("param_default: no default for %s", p->name);
}

const char *
param_type_name(enum param_type type)
{
	switch (type) {
	case PARAM_STR:
		return "string";
	case PARAM_RAW:
		return "raw string";
	case PARAM_INT:
		return "integer";
	case PARAM_LONG:
		return "long integer";
	case PARAM_BOOL:
		return "boolean";
	case PARAM_TIME:
		return "time";
	}
	return "unknown";
}

/* String globals own a copy, freed when the next value is stored. */
static void
param_store_str(const struct param_def *p, const char *value)
{
	struct param_spec *s;
	char *old;

	param_init_table();
	if (p < param_defs || p >= param_defs + PARAM_COUNT)
		msg_panic("param_convert: %s: cannot store a string parameter "
		    "that is not in the table", p->name);
	s = param_sorted[p - param_defs];
	old = s->owned;

	s->owned = xstrdup(value);
	*(char **)s->var = s->owned;
	free(old);
}

int
param_convert(const struct param_def *p, const char *value, bool store,
    struct buf *why)
{
	long num, lo, hi;

	switch (p->type) {
	case PARAM_STR:
	case PARAM_RAW:
		if (store)
			param_store_str(p, value);
		return 0;
	case PARAM_INT:
	case PARAM_LONG:
		param_bounds(p, &lo, &hi);
		if (str_to_long(value, &num) < 0 || num < lo || num > hi) {
			buf_printf(why, "bad value \"%s\" (expected integer "
			    "%ld..%ld)", value, lo, hi);
			return -1;
		}
		if (store && p->type == PARAM_INT)
			*(int *)p->var = (int)num;
		else if (store)
			*(long *)p->var = num;
		return 0;
	case PARAM_BOOL:
		if (str_case_eq(value, "yes") || str_case_eq(value, "true"))
			num = 1;
		else if (str_case_eq(value, "no")
		    || str_case_eq(value, "false"))
			num = 0;
		else {
			buf_printf(why, "bad value \"%s\" (expected yes or no)",
			    value);
			return -1;
		}
		if (store)
			*(bool *)p->var = num != 0;
		return 0;
	case PARAM_TIME:
		param_bounds(p, &lo, &hi);
		if (time_parse_duration(value,
			param_time_unit(p->defval ? p->defval : "s"), &num) < 0
		    || num < lo || num > hi) {
			buf_printf(why, "bad value \"%s\" (expected time "
			    "%s..%s)", value, p->min ? p->min : "0s",
			    p->max ? p->max : "any");
			return -1;
		}
		if (store)
			*(int *)p->var = (int)num;
		return 0;
	}
	msg_panic("param_convert: %s: bad type %d", p->name, (int)p->type);
}

void
param_init_defaults(void)
{
	const struct param_def *tab;
	struct buf why;
	size_t i, n;

	tab = param_table(&n);
	buf_init(&why, 64);
	for (i = 0; i < n; i++)
		if (param_convert(&tab[i], param_default(&tab[i]), true,
			&why) < 0)
			msg_panic("params.def: %s: default: %s", tab[i].name,
			    why.data);
	buf_fini(&why);
}
