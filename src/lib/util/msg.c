/*
 * msg.c - diagnostics: info, warnings, errors, fatal errors, panics
 *
 * Formats the text once, makes it printable, and hands it to log.c.
 * SECURITY: callers may pass outside data through %s; non-printable
 * bytes are replaced here so nobody can inject a fake log line.
 */
#include <errno.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "msg.h"

int msg_verbose;

static int msg_errors;
static msg_cleanup_fn msg_cleanup_hook;
static int msg_exiting;

/* Hard cap on one diagnostic; longer text is cut with "...". */
#define MSG_MAX_TEXT	4096
/* The default for msg_error_limit(). */
#define MSG_ERROR_LIMIT	13

static int msg_limit = MSG_ERROR_LIMIT;

static void
msg_vemit(enum log_level level, const char *fmt, va_list ap)
{
	struct buf raw, text;
	int saved_errno = errno;
	size_t i;

	buf_init(&raw, 128);
	errno = saved_errno;		/* keep %m meaningful */
	buf_vprintf(&raw, fmt, ap);
	buf_init(&text, raw.len);
	for (i = 0; i < raw.len && i < MSG_MAX_TEXT; i++) {
		unsigned char ch = (unsigned char)raw.data[i];

		buf_putc(&text, (ch >= 0x20 && ch < 0x7f) || ch == '\t'
		    ? ch : '?');
	}
	if (raw.len > MSG_MAX_TEXT)
		buf_puts(&text, "...");
	log_emit(level, text.data);
	buf_fini(&text);
	buf_fini(&raw);
	errno = saved_errno;
}

void
msg_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vemit(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vemit(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vemit(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	if (++msg_errors >= msg_limit && msg_limit > 0)
		msg_fatal("too many errors - program terminated");
}

static _Noreturn void
msg_exit(int status)
{
	if (!msg_exiting++ && msg_cleanup_hook)
		msg_cleanup_hook();
	exit(status);
}

void
msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vemit(LOG_LEVEL_FATAL, fmt, ap);
	va_end(ap);
	msg_exit(EX_SOFTWARE);
}

void
msg_fatal_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vemit(LOG_LEVEL_FATAL, fmt, ap);
	va_end(ap);
	msg_exit(status);
}

void
msg_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vemit(LOG_LEVEL_PANIC, fmt, ap);
	va_end(ap);
	abort();
}

int
msg_error_count(void)
{
	return msg_errors;
}

void
msg_error_reset(void)
{
	msg_errors = 0;
}

int
msg_error_limit(int limit)
{
	int old = msg_limit;

	msg_limit = limit;
	return old;
}

msg_cleanup_fn
msg_cleanup(msg_cleanup_fn fn)
{
	msg_cleanup_fn old = msg_cleanup_hook;

	msg_cleanup_hook = fn;
	return old;
}
