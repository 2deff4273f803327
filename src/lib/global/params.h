/*
 * params.h - the main.cf parameter table and its var_<name> globals
 *
 * params.def declares each parameter once. Each becomes a global
 * var_<name> of the matching C type (char *, int, long, bool; P_TIME is
 * an int number of seconds) holding the converted, $-expanded value after
 * conf_load() (conf.h). Before that, the globals hold the defaults
 * (param_init_defaults()).
 */
#ifndef PETREL_PARAMS_H
#define PETREL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#define P_STR(n, d)		extern char *var_##n;
#define P_STRN(v, n, d)		extern char *var_##v;
#define P_RAW(n, d)		extern char *var_##n;
#define P_DYN(n)		extern char *var_##n;
#define P_INT(n, d, lo, hi)	extern int var_##n;
#define P_LONG(n, d, lo, hi)	extern long var_##n;
#define P_BOOL(n, d)		extern bool var_##n;
#define P_TIME(n, d, lo, hi)	extern int var_##n;
#include "params.def"
#undef P_STR
#undef P_STRN
#undef P_RAW
#undef P_DYN
#undef P_INT
#undef P_LONG
#undef P_BOOL
#undef P_TIME

enum param_type {
	PARAM_STR,
	PARAM_RAW,
	PARAM_INT,
	PARAM_LONG,
	PARAM_BOOL,
	PARAM_TIME,
};

struct buf;

struct param_def {
	const char *name;
	enum param_type type;
	const char *defval;		/* text form; NULL for P_DYN */
	const char *min, *max;		/* text form of bounds, or NULL */
	void *var;			/* &var_<name> */
};

/* The table, sorted by name. */
const struct param_def *param_table(size_t *count);
const struct param_def *param_find(const char *name);
/* The default in text form (computes P_DYN ones; never NULL). */
const char *param_default(const struct param_def *p);
const char *param_type_name(enum param_type type);
/*
 * Convert an expanded value. Returns 0 and, when store is true, assigns
 * the global; or -1 with why set to "bad value \"x\" (expected ...)".
 */
int param_convert(const struct param_def *p, const char *value, bool store,
    struct buf *why);
/* Give every global its default value. */
void param_init_defaults(void);

#endif
