/*
 * msg.h - diagnostics: info, warnings, errors, fatal errors, panics
 *
 * msg_info/msg_warn/msg_error report and return; msg_fatal and
 * msg_fatal_status report and exit (EX_SOFTWARE, or the given sysexits.h
 * code); msg_panic reports a broken invariant (our bug) and aborts. Text
 * goes to every sink configured in log.h, prefixed with the level
 * ("warning: ", "error: ", "fatal: ", "panic: "); non-printable bytes
 * are replaced so outside data cannot forge log lines.
 *
 * msg_error counts errors; after 13 in one process (see
 * msg_error_limit) it becomes fatal, as a runaway loop of errors is
 * itself a bug. msg_cleanup() registers a
 * function that runs once before a fatal exit (e.g. remove a temp file).
 */
#ifndef PETREL_MSG_H
#define PETREL_MSG_H

#include <stdarg.h>

extern int msg_verbose;		/* -v count */

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void msg_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
_Noreturn void msg_fatal_status(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void msg_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Number of msg_error() calls so far. */
int msg_error_count(void);
void msg_error_reset(void);
/*
 * Set how many msg_error() calls are fatal (13 by default; 0: none, for
 * a resident process checking a configuration); returns the old limit.
 */
int msg_error_limit(int limit);

typedef void (*msg_cleanup_fn)(void);
msg_cleanup_fn msg_cleanup(msg_cleanup_fn fn);	/* returns the old one */

#endif
