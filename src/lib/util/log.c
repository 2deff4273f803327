/*
 * log.c - where diagnostics go: stderr, a log file, syslog
 *
 * Each sink gets the whole line in one write(2) so that lines written by
 * many processes to one O_APPEND file never interleave. The file layout
 * is the traditional syslog one, which pflogsumm and fail2ban expect:
 *	"Nov 21 05:51:28 host petrel/smtpd[1234]: warning: text\n"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"

static char *log_name;
static char *log_ident;		/* file and syslog name, when different */
static char *log_host;
static bool log_to_stderr = true;
static int log_fd = -1;
static bool log_to_syslog;

static const char *const log_prefix[] = {
	[LOG_LEVEL_INFO] = "",
	[LOG_LEVEL_WARN] = "warning: ",
	[LOG_LEVEL_ERROR] = "error: ",
	[LOG_LEVEL_FATAL] = "fatal: ",
	[LOG_LEVEL_PANIC] = "panic: ",
};

static const int log_priority[] = {
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_FATAL] = LOG_CRIT,
	[LOG_LEVEL_PANIC] = LOG_CRIT,
};

void
log_set_progname(const char *progname)
{
	free(log_name);
	log_name = xstrdup(progname);
	free(log_ident);
	log_ident = NULL;
}

void
log_set_ident(const char *ident)
{
	free(log_ident);
	log_ident = xstrdup(ident);
}

/* The name in file and syslog lines. */
static const char *
log_ident_name(void)
{
	return log_ident ? log_ident : log_progname();
}

void
log_init(const char *progname)
{
	char host[256];

	log_set_progname(progname);
	if (log_host == NULL) {
		if (gethostname(host, sizeof(host) - 1) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = 0;
		host[strcspn(host, ".")] = 0;	/* syslog shows the short name */
		log_host = xstrdup(host);
	}
	log_to_stderr = true;
}

const char *
log_progname(void)
{
	return log_name ? log_name : "petrel";
}

void
log_stderr(bool on)
{
	log_to_stderr = on;
}

int
log_file(const char *path)
{
	int fd;

	if (log_fd > STDERR_FILENO)
		close(log_fd);
	log_fd = -1;
	if (path == NULL || *path == 0)
		return 0;
	if (strcmp(path, "/dev/stderr") == 0 || strcmp(path, "-") == 0) {
		log_fd = STDERR_FILENO;
		log_to_stderr = false;	/* one copy per line is enough */
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0)
		return -1;
	log_fd = fd;
	return 0;
}

int
log_file_fd(void)
{
	return log_fd;
}

int
log_syslog(const char *facility)
{
	static const struct {
		const char *name;
		int code;
	} facilities[] = {
		{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
		{"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
		{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcmp(facilities[i].name, facility) == 0) {
			openlog(log_ident_name(), LOG_PID | LOG_NDELAY,
			    facilities[i].code);
			log_to_syslog = true;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

static void
log_write(int fd, const struct buf *line)
{
	ssize_t n;
	size_t done = 0;

	while (done < line->len) {
		n = write(fd, line->data + done, line->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* nowhere left to complain */
		done += (size_t)n;
	}
}

void
log_emit(enum log_level level, const char *text)
{
	int saved_errno = errno;
	struct buf line;

	buf_init(&line, 256);
	if (log_to_stderr) {
		buf_printf(&line, "%s: %s%s\n", log_progname(),
		    log_prefix[level], text);
		log_write(STDERR_FILENO, &line);
	}
	if (log_fd >= 0) {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		buf_reset(&line);
		buf_printf(&line, "%s %s %s[%ld]: %s%s\n", stamp,
		    log_host ? log_host : "localhost", log_ident_name(),
		    (long)getpid(), log_prefix[level], text);
		log_write(log_fd, &line);
	}
	if (log_to_syslog)
		syslog(log_priority[level], "%s%s", log_prefix[level], text);
	buf_fini(&line);
	errno = saved_errno;
}
