/*
 * log.h - where diagnostics go: stderr, a log file, syslog
 *
 * log_init() names the program ("petrel/master") and enables plain
 * stderr output ("petrel/master: warning: text"). A process may also log
 * to a file (maillog_file) and/or syslog. File lines use Postfix's
 * layout so that log tools work unchanged:
 *
 *	Nov 21 05:51:28 host petrel/master[1234]: warning: text
 *
 * Each line is one write(2) on an O_APPEND descriptor, so lines from
 * many processes never interleave. The special file names "/dev/stderr"
 * and "-" mean "the full format, on file descriptor 2" (make run).
 * Open sinks before chroot(2): descriptors stay usable afterwards.
 */
#ifndef PETREL_LOG_H
#define PETREL_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL,
	LOG_LEVEL_PANIC,
};

/* Set the program name, e.g. "petrel/smtpd"; plain stderr on. */
void log_init(const char *progname);
const char *log_progname(void);
/* Change the name after log_init (e.g. -o syslog_name=...). */
void log_set_progname(const char *progname);
/*
 * A different name for file and syslog lines only (a command: stderr
 * says "sendmail: ...", the log "petrel/sendmail[pid]: ..."). Cleared
 * by log_set_progname().
 */
void log_set_ident(const char *ident);
/* Plain "name: level: text" lines on stderr; on by default. */
void log_stderr(bool on);
/*
 * Also write full-format lines to path (opened O_APPEND|O_CREAT, mode
 * 0644, not following symlinks). Returns 0, or -1 with errno set.
 * Replaces any earlier file sink. NULL or "" closes the file sink.
 */
int log_file(const char *path);
/* Also send to syslog with the given facility name ("mail"). */
int log_syslog(const char *facility);
/* Emit one line at the given level to every sink (used by msg.c). */
void log_emit(enum log_level level, const char *text);
/* Descriptor of the file sink, or -1 (so daemons can keep it open). */
int log_file_fd(void);

#endif
