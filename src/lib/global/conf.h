/*
 * conf.h - main.cf: read, expand, validate, load
 *
 * A struct conf holds the name = value pairs of one main.cf (with the file
 * and line of each) plus overrides (-o name=value, -c dir). Syntax, as
 * Postfix: "#" starts a comment line; a line that starts with whitespace
 * continues the previous line; blank and comment lines are skipped and do
 * not end a logical line; "name = value" with whitespace around "="
 * optional and trimmed; a later definition replaces an earlier one.
 *
 * Expansion (conf_expand): $name, ${name}, $(name), ${name?text} (text
 * when name is non-empty), ${name:text} (text when name is empty or
 * undefined), $$ (a literal $). The text in ?/: forms is expanded too.
 * An undefined name expands to nothing. Nesting deeper than
 * CONF_EXPAND_DEPTH is an error (a loop such as a = $b, b = $a).
 *
 * Errors name the file and line: "/etc/petrel/main.cf, line 7: missing
 * '=' after parameter name \"foo bar\"", "... line 9: parameter
 * max_use: bad value \"x\" (expected integer 1..1000000000)".
 */
#ifndef PETREL_CONF_H
#define PETREL_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct argv;

#define CONF_EXPAND_DEPTH	100

struct conf_entry {
	char *name;
	char *value;		/* raw, unexpanded */
	char *file;		/* "main.cf" path, or "command line" */
	int line;		/* 0 for overrides */
};

struct conf;

struct conf *conf_new(void);
void conf_free(struct conf *c);			/* accepts NULL */
/*
 * Parse a main.cf file into c. Returns 0, or -1 when the file cannot be
 * read (errno set, nothing reported) or has syntax errors (each reported
 * with msg_error naming file and line; errno is 0).
 */
int conf_read_file(struct conf *c, const char *path);
/* Parse main.cf text (for tests and -e); file names it in errors. */
int conf_read_text(struct conf *c, const char *text, const char *file);
/* Set or replace a value (overrides use file "command line", line 0). */
void conf_set(struct conf *c, const char *name, const char *value,
    const char *file, int line);
/* Apply "name=value" (whitespace around '=' allowed); -1 if malformed. */
int conf_set_override(struct conf *c, const char *assignment,
    const char *file, int line);
const struct conf_entry *conf_lookup(const struct conf *c, const char *name);
/* Entries in the order first defined (for petrel conf -n). */
size_t conf_count(const struct conf *c);
const struct conf_entry *conf_entry_at(const struct conf *c, size_t i);
/*
 * Raw value: the entry's value, else the parameter's default, else NULL
 * (unknown and unset).
 */
const char *conf_raw(const struct conf *c, const char *name);
/*
 * Expand value into out (appended). Returns 0, or -1 with why set
 * (recursion too deep, unbalanced braces).
 */
int conf_expand(const struct conf *c, const char *value, struct buf *out,
    struct buf *why);
/* conf_raw() + conf_expand() (P_RAW parameters are not expanded). */
int conf_eval(const struct conf *c, const char *name, struct buf *out,
    struct buf *why);
/*
 * Expand and convert every known parameter; report each bad value with
 * msg_error naming file, line and parameter. When store is true, assign
 * the var_ globals. Returns the number of errors.
 */
int conf_validate(const struct conf *c, bool store);
/*
 * Report main.cf entries that are not known parameters, not a
 * per-transport parameter of one of services (master.cf service names,
 * may be NULL; transport_params.h), and that no value refers to with
 * $name: msg_error when as_error, else msg_warn. Returns the number
 * reported.
 */
int conf_check_unknown(const struct conf *c, bool as_error,
    const struct argv *extra_values, const struct argv *services);
/*
 * Check what one master.cf service sees: c (which must validate, see
 * conf_validate()) with the service's -o overrides ("name=value")
 * applied. Every parameter must convert as conf_validate() requires,
 * and every override must name a known parameter, a per-transport
 * parameter of one of services, a restriction class, or a name that a
 * value of c or of the overrides refers to with $name (what
 * conf_check_unknown() accepts in main.cf). Each problem is reported
 * with msg_error, prefixed with where and the override at fault:
 *	master.cf, line 12: service smtp/inet: -o max_use=0: parameter
 *	max_use: bad value "0" (expected integer 1..1000000000)
 * c is not changed. Returns the number of errors.
 */
int conf_check_overrides(const struct conf *c, const struct argv *overrides,
    const char *where, const struct argv *services);
/*
 * Append where name is set ("file, line N", or the file of an override
 * such as "command line"); false, with nothing appended, when name has
 * its default.
 */
bool conf_where_name(const struct conf *c, const char *name,
    struct buf *out);

/* The process-wide configuration that var_ globals came from. */
struct conf *conf_current(void);
void conf_install(struct conf *c);		/* frees the previous one */

/* $MAIL_CONFIG, else the compiled-in default. */
const char *conf_default_dir(void);
/*
 * For daemons and commands: read dir/main.cf (dir NULL = default),
 * record config_directory = dir, apply overrides ("name=value" strings,
 * may be NULL), validate and store, install. Returns 0, or -1 after
 * reporting what is wrong (caller exits EX_CONFIG). A missing main.cf is
 * an error naming the path. A program that logs under a plain name
 * ("sendmail") writes "$syslog_name/sendmail" in the mail log from then on
 * (log_set_ident(); its standard error keeps the plain name).
 */
int conf_load(const char *dir, const struct argv *overrides);
/*
 * Best effort, for a configuration that conf_load() refused (to find the
 * log or the queue all the same): read dir/main.cf as far as it parses,
 * apply the overrides that parse, and store each parameter of names
 * (ended by NULL) whose value expands and converts; the others keep
 * their values. Syntax errors are reported as conf_read_file() does (the
 * caller may have switched its sinks off). Returns the number of names
 * stored, or -1 when main.cf cannot be read (errno set). Installs
 * nothing.
 */
int conf_load_some(const char *dir, const struct argv *overrides,
    const char *const *names);

#endif
