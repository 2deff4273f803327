/*
 * timeutil.c - clocks, durations and timestamps
 *
 * time_mono_ms() is for timeouts (never jumps when the wall clock is
 * set); time_now_us() is for timestamps. Duration parsing follows the
 * Postfix time-unit convention used in main.cf ("5d", "300s", "1w").
 * Timestamps are formatted with built-in English day and month names,
 * not strftime(3) %a/%b, because mail headers and log lines must not
 * change with the process locale.
 *
 * SECURITY: time_parse_duration() may see outside text (configuration,
 * client requests); it accepts digits plus one unit letter and checks
 * every multiplication for overflow.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "timeutil.h"

static const char *const time_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};

static const char *const time_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

uint64_t
time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
time_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Seconds per unit letter, or 0 for an unknown unit. */
static long
time_unit_seconds(char unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	default:
		return 0;
	}
}

int
time_parse_duration(const char *str, char default_unit, long *seconds)
{
	const char *cp = str;
	long val = 0, mult;

	if (*cp < '0' || *cp > '9')
		return -1;		/* empty, sign, space, junk */
	for (; *cp >= '0' && *cp <= '9'; cp++) {
		if (__builtin_mul_overflow(val, 10L, &val)
		    || __builtin_add_overflow(val, (long)(*cp - '0'), &val))
			return -1;
	}
	if (*cp == 0) {
		mult = time_unit_seconds(default_unit);
	} else {
		mult = time_unit_seconds(*cp);
		if (cp[1] != 0)
			return -1;	/* "5dx", "5 d", "1h30m" */
	}
	if (mult == 0 || __builtin_mul_overflow(val, mult, &val))
		return -1;
	*seconds = val;
	return 0;
}

void
time_fmt_syslog(struct buf *out, time_t when)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL) {
		buf_puts(out, "Jan  1 00:00:00");
		return;
	}
	/* Day space-padded to two columns, as syslog (RFC 3164) does. */
	buf_printf(out, "%s %2d %02d:%02d:%02d", time_months[tm.tm_mon],
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
time_fmt_rfc5322(struct buf *out, time_t when)
{
	struct tm tm;
	long off;
	char sign = '+';

	if (localtime_r(&when, &tm) == NULL) {
		buf_puts(out, "Thu, 1 Jan 1970 00:00:00 +0000");
		return;
	}
	off = tm.tm_gmtoff;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	off /= 60;			/* RFC 5322 zones have no seconds */
	buf_printf(out, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    time_days[tm.tm_wday], tm.tm_mday, time_months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	    off / 60, off % 60);
}

void
time_sleep_ms(unsigned ms)
{
	struct timespec deadline;
	int err;

	/*
	 * An absolute deadline: resuming after a signal does not restart
	 * the whole interval, so a stream of signals cannot stretch it.
	 */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	do {
		err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
		    &deadline, NULL);
	} while (err == EINTR);
}
