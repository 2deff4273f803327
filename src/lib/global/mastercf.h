/*
 * mastercf.h - master.cf: the services that master runs
 *
 * Eight columns, as Postfix: service type private unpriv chroot wakeup
 * maxproc command [args...]. "#" starts a comment line; a line starting
 * with whitespace continues the entry (comment lines in between are
 * skipped); "-" in columns 3-7 means the default (private y, unpriv y,
 * chroot n, wakeup 0, maxproc $default_process_limit).
 *
 * Types: inet ([host:]port, [ipv6addr]:port, host:port; port may be a
 * service name), unix and pass (socket in private/ or public/), fifo.
 * wakeup: seconds, optionally followed by "?" (wake only when in use).
 * Command arguments: "-o name=value", "-o name = value" and
 * "-o { name = value with spaces }" become overrides; other arguments
 * are kept in order.
 *
 * Errors name the file, the line and what was expected:
 *	master.cf, line 12: field "private": bad value "x" (expected y, n or -)
 */
#ifndef PETREL_MASTERCF_H
#define PETREL_MASTERCF_H

#include <stdbool.h>
#include <stddef.h>

struct argv;
struct buf;
struct conf;

enum master_type {
	MASTER_INET,
	MASTER_UNIX,
	MASTER_FIFO,
	MASTER_PASS,
};

struct master_ent {
	char *service;		/* column 1 as written */
	enum master_type type;
	char *host;		/* inet: address or name without brackets,
				 * NULL when absent (use inet_interfaces) */
	char *port;		/* inet: port number or service name */
	bool private_;		/* unix/fifo/pass: private/ vs public/ */
	bool unpriv;
	bool chroot;
	int wakeup;		/* seconds, 0 = never */
	bool wakeup_if_used;	/* "?" suffix */
	int maxproc;		/* -1 = "-" (default_process_limit), 0 = no limit */
	char *command;		/* program name (or absolute path) */
	struct argv *args;	/* arguments other than -o, in order */
	struct argv *overrides;	/* "name=value" from -o, in order */
	char *file;
	int line;
};

struct mastercf {
	struct master_ent **ents;
	size_t count;
};

/*
 * Read a master.cf file. Returns NULL after reporting every error with
 * msg_error (file, line, what was expected), or when the file cannot be
 * read (reported too). Duplicate services (same name and type) are an
 * error.
 */
struct mastercf *mastercf_read(const char *path);
/* Parse master.cf text; file names it in errors. */
struct mastercf *mastercf_parse(const char *text, const char *file);
void mastercf_free(struct mastercf *cf);	/* accepts NULL */
/*
 * Parse one logical entry (continuation lines already joined). Returns
 * the entry, or NULL with why set (no file/line prefix).
 */
struct master_ent *mastercf_parse_entry(const char *text, const char *file,
    int line, struct buf *why);
void master_ent_free(struct master_ent *ent);
const char *master_type_name(enum master_type type);
/* Append the entry in normalized form (petrel conf -M), no newline. */
void master_ent_format(const struct master_ent *ent, struct buf *out);
/* True when the two entries describe the same listening endpoint. */
bool master_ent_same_endpoint(const struct master_ent *a,
    const struct master_ent *b);
/* True when two entries are identical in every column. */
bool master_ent_equal(const struct master_ent *a, const struct master_ent *b);
/*
 * The configuration check that `petrel check|start|reload` and master
 * (at start-up and at every reload) share, for main.cf as c (which must
 * validate, see conf_validate()) with this master.cf: main.cf parameters
 * that nothing knows or uses (conf_check_unknown(), a $name in a -o value
 * counts as a use), and what each service sees with its -o overrides
 * applied (conf_check_overrides(); bad values and unknown names, each
 * reported as "master.cf, line N: service smtp/inet: -o name=value:
 * ..."). Errors are reported with msg_error; returns their number.
 */
int mastercf_check_conf(const struct mastercf *cf, const struct conf *c);
/*
 * Every program that cf names, and each of extra (names ended by NULL,
 * such as "master"; may be NULL), must be an executable regular file. A
 * relative name is looked up in daemon_directory (as c expands it), as
 * master runs it. When daemon_directory is not a directory, one error
 * names the parameter ("main.cf, line 4: daemon_directory =
 * /nonexistent/libexec: No such file or directory") instead of one per
 * program. Errors are reported with msg_error; returns their number.
 */
int mastercf_check_programs(const struct mastercf *cf, const struct conf *c,
    const char *const *extra);

#endif
