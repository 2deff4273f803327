/*
 * test_params.c - the parameter table: completeness, order, conversions,
 * defaults, and docs/parameters.md
 *
 * Conversion cases are a table of {label, parameter, input, result};
 * a failure prints the label. The documentation check reads
 * $PETREL_SOURCE_ROOT/docs/parameters.md (meson sets the variable).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "petrel_config.h"

#include "buf.h"
#include "file.h"
#include "htable.h"
#include "log.h"
#include "params.h"

/* params.def seen from outside: name, type, text default, variable. */
struct expect {
	const char *name;
	enum param_type type;
	const char *defval;	/* NULL: P_DYN or numeric */
	void *var;
};

#define P_STR(n, d)		{#n, PARAM_STR, d, &var_##n},
#define P_STRN(v, n, d)	{n, PARAM_STR, d, &var_##v},
#define P_RAW(n, d)		{#n, PARAM_RAW, d, &var_##n},
#define P_DYN(n)		{#n, PARAM_STR, NULL, &var_##n},
#define P_INT(n, d, lo, hi)	{#n, PARAM_INT, NULL, &var_##n},
#define P_LONG(n, d, lo, hi)	{#n, PARAM_LONG, NULL, &var_##n},
#define P_BOOL(n, d)		{#n, PARAM_BOOL, NULL, &var_##n},
#define P_TIME(n, d, lo, hi)	{#n, PARAM_TIME, d, &var_##n},
static const struct expect expected[] = {
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

#define NEXPECTED	(sizeof(expected) / sizeof(expected[0]))

static void
test_table_complete_sorted(void **state)
{
	const struct param_def *tab, *p;
	size_t n, i;

	(void)state;
	tab = param_table(&n);
	assert_int_equal(n, NEXPECTED);
	for (i = 1; i < n; i++) {
		if (strcmp(tab[i - 1].name, tab[i].name) >= 0)
			fail_msg("table not sorted at %s, %s", tab[i - 1].name,
			    tab[i].name);
	}
	for (i = 0; i < NEXPECTED; i++) {
		p = param_find(expected[i].name);
		if (p == NULL)
			fail_msg("%s: not found", expected[i].name);
		assert_string_equal(p->name, expected[i].name);
		assert_int_equal(p->type, expected[i].type);
		assert_ptr_equal(p->var, expected[i].var);
		if (expected[i].defval != NULL)
			assert_string_equal(p->defval, expected[i].defval);
	}
	assert_null(param_find("no_such_parameter"));
	assert_null(param_find(""));
	assert_null(param_find("MAX_USE"));
}

static void
test_table_defaults(void **state)
{
	const struct param_def *p;

	(void)state;
	p = param_find("max_use");
	assert_string_equal(p->defval, "100");
	assert_string_equal(p->min, "1");
	assert_string_equal(p->max, "1000000000");
	p = param_find("message_size_limit");
	assert_string_equal(p->defval, "10240000");
	assert_string_equal(p->min, "0");
	assert_string_equal(p->max, "9223372036854775807");
	p = param_find("daemon_timeout");
	assert_string_equal(p->min, "1s");
	assert_string_equal(p->max, "1000d");
	assert_string_equal(param_default(param_find("config_directory")),
	    DEF_CONFIG_DIR);
	assert_string_equal(param_default(param_find("queue_directory")),
	    DEF_QUEUE_DIR);
	assert_null(param_find("myhostname")->defval);
	assert_null(param_find("mydomain")->defval);
	assert_string_equal(param_type_name(PARAM_INT), "integer");
	assert_string_equal(param_type_name(PARAM_TIME), "time");
	assert_string_equal(param_type_name(PARAM_BOOL), "boolean");
	assert_string_equal(param_type_name(PARAM_STR), "string");
}

/* Test-only parameters for types that params.def does not use yet. */
static bool t_bool;
static int t_int;
static int t_hours;
static const struct param_def t_bool_def = {
	.name = "t_bool", .type = PARAM_BOOL, .defval = "no", .var = &t_bool,
};
static const struct param_def t_int_def = {
	.name = "t_int", .type = PARAM_INT, .defval = "0", .min = "-5",
	.max = "5", .var = &t_int,
};
static const struct param_def t_hours_def = {
	.name = "t_hours", .type = PARAM_TIME, .defval = "2h", .min = "0",
	.max = "2d", .var = &t_hours,
};

struct conv_case {
	const char *label;
	const char *param;	/* name in the table, or t_bool/t_int/... */
	const char *input;
	long want;		/* converted value when why is NULL */
	const char *why;	/* expected error text, NULL = success */
};

#define INT_WHY(v)	"bad value \"" v "\" (expected integer 1..1000000000)"
#define TIME_WHY(v)	"bad value \"" v "\" (expected time 1s..1000d)"
#define BOOL_WHY(v)	"bad value \"" v "\" (expected yes or no)"

static const struct conv_case conv_cases[] = {
	{"int min", "max_use", "1", 1, NULL},
	{"int max", "max_use", "1000000000", 1000000000, NULL},
	{"int below", "max_use", "0", 0, INT_WHY("0")},
	{"int above", "max_use", "1000000001", 0, INT_WHY("1000000001")},
	{"int negative", "max_use", "-1", 0, INT_WHY("-1")},
	{"int junk", "max_use", "abc", 0, INT_WHY("abc")},
	{"int empty", "max_use", "", 0, INT_WHY("")},
	{"int trailing junk", "max_use", "5x", 0, INT_WHY("5x")},
	{"int space", "max_use", " 5", 0, INT_WHY(" 5")},
	{"int plus", "max_use", "+5", 0, INT_WHY("+5")},
	{"int overflow", "max_use", "99999999999999999999", 0,
	    INT_WHY("99999999999999999999")},
	{"int other range", "line_length_limit", "79", 0,
	    "bad value \"79\" (expected integer 80..1048576)"},
	{"int negative range", "t_int", "-5", -5, NULL},
	{"int negative below", "t_int", "-6", 0,
	    "bad value \"-6\" (expected integer -5..5)"},
	{"long zero", "message_size_limit", "0", 0, NULL},
	{"long max", "message_size_limit", "9223372036854775807", LONG_MAX,
	    NULL},
	{"long overflow", "message_size_limit", "9223372036854775808", 0,
	    "bad value \"9223372036854775808\" (expected integer "
	    "0..9223372036854775807)"},
	{"long negative", "message_size_limit", "-1", 0,
	    "bad value \"-1\" (expected integer 0..9223372036854775807)"},
	{"time bare seconds", "daemon_timeout", "18000", 18000, NULL},
	{"time s", "daemon_timeout", "30s", 30, NULL},
	{"time m", "daemon_timeout", "2m", 120, NULL},
	{"time h", "daemon_timeout", "5h", 18000, NULL},
	{"time d", "daemon_timeout", "2d", 172800, NULL},
	{"time w", "daemon_timeout", "1w", 604800, NULL},
	{"time max", "daemon_timeout", "1000d", 86400000, NULL},
	{"time above", "daemon_timeout", "1001d", 0, TIME_WHY("1001d")},
	{"time zero", "daemon_timeout", "0s", 0, TIME_WHY("0s")},
	{"time bad unit", "daemon_timeout", "5x", 0, TIME_WHY("5x")},
	{"time two units", "daemon_timeout", "1h30m", 0, TIME_WHY("1h30m")},
	{"time unit only", "daemon_timeout", "s", 0, TIME_WHY("s")},
	{"time empty", "daemon_timeout", "", 0, TIME_WHY("")},
	{"time negative", "daemon_timeout", "-1s", 0, TIME_WHY("-1s")},
	{"time overflow", "daemon_timeout", "99999999999999999999w", 0,
	    TIME_WHY("99999999999999999999w")},
	{"time hour bound", "master_stop_timeout", "1h", 3600, NULL},
	{"time hour bound+", "master_stop_timeout", "61m", 0,
	    "bad value \"61m\" (expected time 1s..1h)"},
	{"time default unit h", "t_hours", "3", 10800, NULL},
	{"time default unit h max", "t_hours", "48", 172800, NULL},
	{"time default unit h above", "t_hours", "49", 0,
	    "bad value \"49\" (expected time 0..2d)"},
	{"time default unit h, explicit s", "t_hours", "3s", 3, NULL},
	{"bool yes", "t_bool", "yes", 1, NULL},
	{"bool YES", "t_bool", "YES", 1, NULL},
	{"bool true", "t_bool", "true", 1, NULL},
	{"bool True", "t_bool", "True", 1, NULL},
	{"bool no", "t_bool", "no", 0, NULL},
	{"bool No", "t_bool", "No", 0, NULL},
	{"bool false", "t_bool", "false", 0, NULL},
	{"bool FALSE", "t_bool", "FALSE", 0, NULL},
	{"bool on", "t_bool", "on", 0, BOOL_WHY("on")},
	{"bool 1", "t_bool", "1", 0, BOOL_WHY("1")},
	{"bool y", "t_bool", "y", 0, BOOL_WHY("y")},
	{"bool empty", "t_bool", "", 0, BOOL_WHY("")},
	{"bool yes space", "t_bool", "yes ", 0, BOOL_WHY("yes ")},
};

static const struct param_def *
conv_param(const char *name)
{
	if (strcmp(name, "t_bool") == 0)
		return &t_bool_def;
	if (strcmp(name, "t_int") == 0)
		return &t_int_def;
	if (strcmp(name, "t_hours") == 0)
		return &t_hours_def;
	return param_find(name);
}

static long
conv_value(const struct param_def *p)
{
	switch (p->type) {
	case PARAM_INT:
	case PARAM_TIME:
		return *(int *)p->var;
	case PARAM_LONG:
		return *(long *)p->var;
	case PARAM_BOOL:
		return *(bool *)p->var;
	default:
		return -1;
	}
}

static void
test_convert(void **state)
{
	const struct conv_case *tc;
	const struct param_def *p;
	struct buf why;
	size_t i;
	long before;
	int rc;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++) {
		tc = &conv_cases[i];
		p = conv_param(tc->param);
		if (p == NULL)
			fail_msg("%s: no parameter %s", tc->label, tc->param);
		buf_reset(&why);
		/* Dry run first: it must not touch the global. */
		param_init_defaults();
		before = conv_value(p);
		rc = param_convert(p, tc->input, false, &why);
		if (tc->why == NULL && rc != 0)
			fail_msg("%s: unexpected error: %s", tc->label,
			    why.data);
		if (tc->why != NULL && rc == 0)
			fail_msg("%s: accepted", tc->label);
		if (tc->why != NULL && strcmp(why.data, tc->why) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", tc->label,
			    why.data, tc->why);
		if (conv_value(p) != before)
			fail_msg("%s: dry run changed the value", tc->label);
		if (tc->why != NULL)
			continue;
		buf_reset(&why);
		assert_int_equal(param_convert(p, tc->input, true, &why), 0);
		if (conv_value(p) != tc->want)
			fail_msg("%s: got %ld, want %ld", tc->label,
			    conv_value(p), tc->want);
	}
	buf_fini(&why);
}

static void
test_store_string(void **state)
{
	const struct param_def *p = param_find("mail_name");
	struct buf why;
	char value[] = "Changed";

	(void)state;
	buf_init(&why, 64);
	assert_int_equal(param_convert(p, "Before", false, &why), 0);
	param_init_defaults();
	assert_string_equal(var_mail_name, "Petrel");
	assert_int_equal(param_convert(p, value, true, &why), 0);
	value[0] = 'X';			/* the global holds its own copy */
	assert_string_equal(var_mail_name, "Changed");
	assert_int_equal(param_convert(p, "$not_expanded here", true, &why),
	    0);
	assert_string_equal(var_mail_name, "$not_expanded here");
	param_init_defaults();
	assert_string_equal(var_mail_name, "Petrel");
	buf_fini(&why);
}

static void
test_init_defaults(void **state)
{
	(void)state;
	param_init_defaults();
	assert_int_equal(var_max_use, 100);
	assert_int_equal(var_max_idle, 100);
	assert_int_equal(var_daemon_timeout, 18000);
	assert_int_equal(var_master_stop_timeout, 10);
	assert_int_equal(var_service_throttle_time, 60);
	assert_int_equal(var_default_process_limit, 100);
	assert_true(var_message_size_limit == 10240000);
	assert_string_equal(var_config_directory, DEF_CONFIG_DIR);
	assert_string_equal(var_inet_interfaces, "all");
	assert_string_equal(var_alternate_config_directories, "");
	assert_string_equal(var_mydestination,
	    "$myhostname, localhost.$mydomain, localhost");
	assert_non_null(var_myhostname);
	assert_string_equal(var_myhostname,
	    param_default(param_find("myhostname")));
	assert_string_equal(var_mydomain,
	    param_default(param_find("mydomain")));
}

static void
test_dynamic_defaults(void **state)
{
	const char *host, *domain, *dot;
	char sys[1025];

	(void)state;
	host = param_default(param_find("myhostname"));
	domain = param_default(param_find("mydomain"));
	assert_non_null(host);
	assert_non_null(domain);
	/* Computed once: the same pointer every time. */
	assert_ptr_equal(host, param_default(param_find("myhostname")));
	assert_int_not_equal(host[0], 0);
	assert_non_null(strchr(host, '.'));
	if (gethostname(sys, sizeof(sys) - 1) == 0) {
		sys[sizeof(sys) - 1] = 0;
		if (strchr(sys, '.') != NULL)
			assert_string_equal(host, sys);
		else if (sys[0] != 0 && strncmp(host, sys, strlen(sys)) != 0)
			print_message("note: myhostname %s comes from the "
			    "resolver, system name %s\n", host, sys);
	}
	dot = strchr(host, '.');
	assert_string_equal(domain, dot[1] ? dot + 1 : "localdomain");
}

/* Every parameter has a "### name" section, and every section a parameter. */
static void
test_documented(void **state)
{
	const char *root = getenv("PETREL_SOURCE_ROOT");
	const struct param_def *tab;
	struct htable *seen;
	struct buf path, doc;
	char *line, *cursor, *prev = NULL;
	size_t n, i;

	(void)state;
	if (root == NULL || *root == 0)
		fail_msg("PETREL_SOURCE_ROOT is not set (run through meson)");
	buf_init(&path, 128);
	buf_init(&doc, 65536);
	buf_printf(&path, "%s/docs/parameters.md", root);
	if (file_read(path.data, &doc, 1 << 22) < 0)
		fail_msg("cannot read %s", path.data);
	seen = htable_new(64);
	for (cursor = doc.data; (line = strsep(&cursor, "\n")) != NULL;) {
		if (strncmp(line, "### ", 4) != 0)
			continue;
		line += 4;
		if (param_find(line) == NULL)
			fail_msg("%s: section for unknown parameter \"%s\"",
			    path.data, line);
		if (htable_get(seen, line) != NULL)
			fail_msg("%s: two sections for %s", path.data, line);
		if (prev != NULL && strcmp(prev, line) >= 0)
			fail_msg("%s: %s is out of alphabetical order",
			    path.data, line);
		htable_put(seen, line, line);
		prev = line;
	}
	tab = param_table(&n);
	for (i = 0; i < n; i++)
		if (htable_get(seen, tab[i].name) == NULL)
			fail_msg("%s: parameter %s is not documented "
			    "(add a \"### %s\" section)", path.data,
			    tab[i].name, tab[i].name);
	htable_free(seen, NULL);
	buf_fini(&doc);
	buf_fini(&path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_complete_sorted),
		cmocka_unit_test(test_table_defaults),
		cmocka_unit_test(test_convert),
		cmocka_unit_test(test_store_string),
		cmocka_unit_test(test_init_defaults),
		cmocka_unit_test(test_dynamic_defaults),
		cmocka_unit_test(test_documented),
	};

	log_init("test_params");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
