/*
 * test_timeutil.c - unit tests for timeutil.c
 *
 * Duration parsing (table-driven, including overflow at the limits of
 * long), timestamp layouts under fixed POSIX TZ strings (no tzdata
 * needed), clocks, and time_sleep_ms() surviving signals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "buf.h"
#include "timeutil.h"

static void
test_parse_duration(void **state)
{
	char max_s[32], over_s[32], max_w[32], over_w[32];
	struct {
		const char *label, *in;
		char unit;
		int ret;
		long want;
	} cases[] = {
		{"seconds", "300s", 'd', 0, 300},
		{"minutes", "5m", 's', 0, 300},
		{"hours", "2h", 's', 0, 7200},
		{"days", "5d", 's', 0, 432000},
		{"weeks", "1w", 's', 0, 604800},
		{"zero", "0s", 's', 0, 0},
		{"bare, default s", "60", 's', 0, 60},
		{"bare, default d", "5", 'd', 0, 432000},
		{"bare, default h", "3", 'h', 0, 10800},
		{"leading zeros", "007m", 's', 0, 420},
		{"max seconds", max_s, 's', 0, LONG_MAX},
		{"max weeks", max_w, 's', 0, LONG_MAX / 604800 * 604800},
		{"overflow digits", over_s, 's', -1, 0},
		{"overflow by unit", over_w, 's', -1, 0},
		{"empty", "", 's', -1, 0},
		{"unit only", "s", 's', -1, 0},
		{"negative", "-5s", 's', -1, 0},
		{"plus", "+5s", 's', -1, 0},
		{"leading space", " 5s", 's', -1, 0},
		{"trailing space", "5s ", 's', -1, 0},
		{"space before unit", "5 s", 's', -1, 0},
		{"unknown unit", "5y", 's', -1, 0},
		{"upper case unit", "5S", 's', -1, 0},
		{"two units", "1h30m", 's', -1, 0},
		{"junk after unit", "5sx", 's', -1, 0},
		{"fraction", "1.5h", 's', -1, 0},
		{"bad default unit", "5", 'x', -1, 0},
	};
	size_t i;

	(void)state;
	snprintf(max_s, sizeof(max_s), "%ld", LONG_MAX);
	snprintf(over_s, sizeof(over_s), "%lu", (unsigned long)LONG_MAX + 1);
	snprintf(max_w, sizeof(max_w), "%ldw", LONG_MAX / 604800);
	snprintf(over_w, sizeof(over_w), "%ldw", LONG_MAX / 604800 + 1);
	for (i = 0; i < NELEM(cases); i++) {
		long secs = -777;

		CHECK(time_parse_duration(cases[i].in, cases[i].unit, &secs)
		    == cases[i].ret, cases[i].label);
		CHECK(secs == (cases[i].ret == 0 ? cases[i].want : -777),
		    cases[i].label);
	}
}

static void
set_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

static void
test_fmt(void **state)
{
	static const struct {
		const char *label, *tz;
		time_t when;
		const char *syslog, *rfc5322;
	} cases[] = {
		{"utc", "UTC0", 1795240288,
		    "Nov 21 05:51:28", "Sat, 21 Nov 2026 05:51:28 +0000"},
		{"single-digit day", "UTC0", 1793491205,
		    "Nov  1 00:00:05", "Sun, 1 Nov 2026 00:00:05 +0000"},
		{"leap day", "UTC0", 1709251199,
		    "Feb 29 23:59:59", "Thu, 29 Feb 2024 23:59:59 +0000"},
		{"epoch", "UTC0", 0,
		    "Jan  1 00:00:00", "Thu, 1 Jan 1970 00:00:00 +0000"},
		{"west of UTC", "PST8", 1795240288,
		    "Nov 20 21:51:28", "Fri, 20 Nov 2026 21:51:28 -0800"},
		{"half-hour east", "IST-5:30", 1795240288,
		    "Nov 21 11:21:28", "Sat, 21 Nov 2026 11:21:28 +0530"},
		{"quarter-hour east", "NPT-5:45", 1795240288,
		    "Nov 21 11:36:28", "Sat, 21 Nov 2026 11:36:28 +0545"},
		{"half-hour west", "NST3:30", 1795240288,
		    "Nov 21 02:21:28", "Sat, 21 Nov 2026 02:21:28 -0330"},
	};
	char *old_tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct buf *out = buf_new(0);

		set_tz(cases[i].tz);
		buf_puts(out, "<");	/* both functions append */
		time_fmt_syslog(out, cases[i].when);
		buf_puts(out, "|");
		time_fmt_rfc5322(out, cases[i].when);
		if (strncmp(buf_str(out) + 1, cases[i].syslog,
		    strlen(cases[i].syslog)) != 0
		    || strcmp(buf_str(out) + 2 + strlen(cases[i].syslog),
		    cases[i].rfc5322) != 0)
			fail_msg("case \"%s\": got \"%s\"", cases[i].label,
			    buf_str(out));
		buf_free(out);
	}
	if (old_tz) {
		set_tz(old_tz);
		free(old_tz);
	} else {
		unsetenv("TZ");
		tzset();
	}
}

static void
test_clocks(void **state)
{
	uint64_t a, b, now_us;
	time_t now;

	(void)state;
	a = time_mono_ms();
	b = time_mono_ms();
	assert_true(b >= a);
	now = time(NULL);
	now_us = time_now_us();
	assert_true(now_us / 1000000 >= (uint64_t)now);
	assert_true(now_us / 1000000 <= (uint64_t)now + 2);
}

static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void
test_sleep(void **state)
{
	struct sigaction sa, old_sa;
	struct itimerval it = {{0, 10000}, {0, 10000}}, off = {{0, 0}, {0, 0}};
	uint64_t start, elapsed;

	(void)state;
	start = time_mono_ms();
	time_sleep_ms(50);
	elapsed = time_mono_ms() - start;
	assert_in_range(elapsed, 50, 1000);

	start = time_mono_ms();
	time_sleep_ms(0);
	assert_in_range(time_mono_ms() - start, 0, 100);

	/* Signals every 10 ms (no SA_RESTART) must not cut the sleep. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
	alarms = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	start = time_mono_ms();
	time_sleep_ms(150);
	elapsed = time_mono_ms() - start;
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old_sa, NULL), 0);
	assert_true(alarms >= 3);
	assert_in_range(elapsed, 150, 2000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
