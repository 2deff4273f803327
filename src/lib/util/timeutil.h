/*
 * timeutil.h - clocks, durations and timestamps
 *
 * Durations use Postfix's time units: s (seconds), m (minutes),
 * h (hours), d (days), w (weeks). A bare number uses the caller's default
 * unit. time_parse_duration("5d", 's', &secs) == 0, secs == 432000.
 */
#ifndef PETREL_TIMEUTIL_H
#define PETREL_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

struct buf;

/* Monotonic milliseconds, for timeouts and intervals. */
uint64_t time_mono_ms(void);
/* Wall clock in microseconds since the epoch. */
uint64_t time_now_us(void);
/*
 * Parse "<digits>[unit]" into seconds. Returns 0, or -1 on a syntax error,
 * unknown unit, or overflow of long.
 */
int time_parse_duration(const char *str, char default_unit, long *seconds);
/* Append "Nov 21 05:51:28" (local time, syslog layout). */
void time_fmt_syslog(struct buf *out, time_t when);
/* Append RFC 5322 date: "Sat, 21 Nov 2026 05:51:28 +0000". */
void time_fmt_rfc5322(struct buf *out, time_t when);
/* Sleep for ms milliseconds, resuming after signals. */
void time_sleep_ms(unsigned ms);

#endif
