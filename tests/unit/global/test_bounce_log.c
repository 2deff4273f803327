/*
 * test_bounce_log.c - unit tests for bounce_log.c
 *
 * Each test runs in a fresh temporary directory used as queue_directory
 * with bounce/, defer/ and trace/ made, defer hashed one level deep.
 * Covered: append/read round trips of every field combination; free
 * text with newlines, tabs and control characters, overlong text cut
 * at a UTF-8 character; fields refused (control characters in
 * addresses, bad status, lone diag_type ...); a table of hand-written
 * logs (Postfix's layout) with malformed entries, each skipped with
 * the expected warning while the good ones around it are kept; a
 * truncated last entry, then an append after it (the repair mark);
 * hashed paths at depths 0, 1 and 2 and removal; symbolic and hard
 * links refused; two forked processes appending at once (every entry
 * intact, none interleaved).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounce_log.h"
#include "buf.h"
#include "cleanup_proto.h"
#include "file.h"
#include "log.h"
#include "mail_queue.h"
#include "mem.h"
#include "params.h"
#include "qfile.h"
#include "queue_id.h"

/* A valid queue ID (the microsecond symbols decide the hash: "1"). */
#define ID	"4Vg7fHq0001z1D"
#define ID2	"4Vg7fHq0002z1F"

static int
setup(void **state)
{
	static const char *const queues[] = {"bounce", "defer", "trace",
	    NULL};

	var_hash_queue_names = (char *)"deferred, defer";
	var_hash_queue_depth = 1;
	return scratch_enter((struct scratch **)state, "test_bounce_log",
	    queues);
}

static int
teardown(void **state)
{
	return scratch_leave(*state);
}

static void
check_entry(const struct bounce_log_entry *got,
    const struct bounce_log_entry *want, const char *label)
{
	CHECK_STR_OR_NULL(got->recipient, want->recipient, label);
	CHECK(got->offset == want->offset, label);
	CHECK_STR_OR_NULL(got->orig_rcpt, want->orig_rcpt && *want->orig_rcpt
	    ? want->orig_rcpt : NULL, label);
	CHECK(got->notify == want->notify, label);
	CHECK_STR_OR_NULL(got->status, want->status, label);
	CHECK(got->action == want->action, label);
	CHECK_STR_OR_NULL(got->reason, want->reason, label);
	CHECK_STR_OR_NULL(got->diag_type, want->diag_type, label);
	CHECK_STR_OR_NULL(got->diag_text, want->diag_text, label);
	CHECK_STR_OR_NULL(got->mta_type, want->mta_type, label);
	CHECK_STR_OR_NULL(got->mta_name, want->mta_name, label);
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* ---- round trips ---------------------------------------------------- */

static void
test_round_trip(void **state)
{
	static const struct {
		const char *label;
		const char *queue;
		struct bounce_log_entry e;
	} cases[] = {
		{"minimal failure", MAIL_QUEUE_BOUNCE, {
		    .recipient = "bob@x.org", .offset = 70, .status = "5.1.1",
		    .action = BOUNCE_LOG_FAILED, .reason = "unknown user"}},
		{"every field", MAIL_QUEUE_BOUNCE, {.recipient = "ann@x.org",
		    .offset = 123456789012LL, .orig_rcpt = "rfc822;a@y.org",
		    .notify = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY,
		    .status = "5.7.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "host mx.x.org said: 550 5.7.1 no",
		    .diag_type = "smtp",
		    .diag_text = "550 5.7.1 <ann@x.org>: no",
		    .mta_type = "dns", .mta_name = "mx.x.org"}},
		{"delay, hashed queue", MAIL_QUEUE_DEFER, {.recipient =
		    "carl@x.org", .offset = 99, .notify = DSN_NOTIFY_NEVER,
		    .status = "4.4.1", .action = BOUNCE_LOG_DELAYED,
		    .reason = "connect to mx.x.org[192.0.2.1]:25: refused"}},
		{"success", MAIL_QUEUE_TRACE, {.recipient = "d@x.org",
		    .offset = 200, .notify = DSN_NOTIFY_SUCCESS,
		    .status = "2.0.0",
		    .action = BOUNCE_LOG_DELIVERED, .reason = "delivered to "
		    "mailbox"}},
		{"expanded, empty reason", MAIL_QUEUE_TRACE, {.recipient =
		    "list@x.org", .offset = 201, .status = "2.0.0",
		    .action = BOUNCE_LOG_EXPANDED, .reason = ""}},
		{"relayed, '=' in values", MAIL_QUEUE_TRACE, {.recipient =
		    "a=b@x.org", .offset = 202, .orig_rcpt = "rfc822;a=b@x.org",
		    .status = "2.0.0", .action = BOUNCE_LOG_RELAYED,
		    .reason = "x=y, relayed"}},
		{"empty orig_rcpt", MAIL_QUEUE_BOUNCE, {.recipient = "e@x.org",
		    .offset = 300, .orig_rcpt = "", .status = "5.0.0",
		    .action = BOUNCE_LOG_FAILED, .reason = "r"}},
		{"8-bit reason", MAIL_QUEUE_BOUNCE, {.recipient = "f@x.org",
		    .offset = 301, .status = "5.2.2",
		    .action = BOUNCE_LOG_FAILED,
		    .reason = "Postfach voll \xc3\xbc\xc3\xa4"}},
	};
	struct bounce_log_entry *list;
	struct buf why;
	size_t i, n;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&why);
		if (bounce_log_append(cases[i].queue, ID, &cases[i].e, &why)
		    < 0)
			fail_msg("case \"%s\": append: %s", cases[i].label,
			    why.data);
		/* Each case is the last entry of its log so far. */
		assert_int_equal(bounce_log_read_all(cases[i].queue, ID, &list,
		    &n), 0);
		CHECK(n >= 1, cases[i].label);
		check_entry(&list[n - 1], &cases[i].e, cases[i].label);
		bounce_log_free_all(list, n);
	}
	/* The whole bounce log, in order. */
	assert_int_equal(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID, &list, &n),
	    0);
	assert_int_equal(n, 4);
	check_entry(&list[0], &cases[0].e, "file order 0");
	check_entry(&list[3], &cases[7].e, "file order 3");
	bounce_log_free_all(list, n);
	buf_fini(&why);
}

/* The exact bytes: Postfix's layout, which showq also reads. */
static void
test_format(void **state)
{
	struct bounce_log_entry e = {.recipient = "bob@x.org", .offset = 70,
	    .orig_rcpt = "rfc822;b@y.org", .notify = 8, .status = "5.1.1",
	    .action = BOUNCE_LOG_FAILED, .reason = "unknown user",
	    .diag_type = "smtp", .diag_text = "550 5.1.1 unknown",
	    .mta_type = "dns", .mta_name = "mx.x.org"};
	struct buf why, got;

	(void)state;
	buf_init(&why, 64);
	buf_init(&got, 256);
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why),
	    0);
	e.diag_type = e.diag_text = e.mta_type = e.mta_name = NULL;
	e.orig_rcpt = NULL;
	e.notify = 0;
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why),
	    0);
	assert_int_equal(file_read("bounce/" ID, &got, 100000), 0);
	CHECK_STR_OR_NULL(got.data,
	    "recipient=bob@x.org\noffset=70\ndsn_orig_rcpt=rfc822;b@y.org\n"
	    "dsn_notify=8\nstatus=5.1.1\naction=failed\ndiag_type=smtp\n"
	    "diag_text=550 5.1.1 unknown\nmta_type=dns\nmta_name=mx.x.org\n"
	    "reason=unknown user\n\n"
	    "recipient=bob@x.org\noffset=70\ndsn_orig_rcpt=\n"
	    "dsn_notify=0\nstatus=5.1.1\naction=failed\n"
	    "reason=unknown user\n\n", "layout");
	buf_fini(&why);
	buf_fini(&got);
}

/* ---- free text and refused fields --------------------------------------- */

static void
test_text_cleanup(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		const char *want;
	} cases[] = {
		{"newline", "line one\nline two", "line one line two"},
		{"CRLF and tab", "550-a\r\n550 b\tc", "550-a  550 b c"},
		{"controls", "a\001b\033[31mc\177d", "a b [31mc d"},
		{"kept as is", "  spaces  kept ", "  spaces  kept "},
	};
	struct bounce_log_entry e = {.recipient = "bob@x.org", .offset = 70,
	    .status = "5.1.1", .action = BOUNCE_LOG_FAILED};
	struct bounce_log_entry *list;
	struct buf why;
	size_t i, n;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		e.reason = cases[i].in;
		e.diag_type = "smtp";
		e.diag_text = cases[i].in;
		e.mta_type = "dns";
		e.mta_name = "mx";
		assert_int_equal(bounce_log_remove(MAIL_QUEUE_BOUNCE, ID), 0);
		assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e,
		    &why), 0);
		assert_int_equal(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID,
		    &list, &n), 0);
		CHECK(n == 1, cases[i].label);
		CHECK_STR_OR_NULL(list[0].reason, cases[i].want,
		    cases[i].label);
		CHECK_STR_OR_NULL(list[0].diag_text, cases[i].want,
		    cases[i].label);
		bounce_log_free_all(list, n);
	}
	buf_fini(&why);
}

static void
test_long_text(void **state)
{
	struct bounce_log_entry e = {.recipient = "bob@x.org", .offset = 70,
	    .status = "5.1.1", .action = BOUNCE_LOG_FAILED};
	struct bounce_log_entry *list;
	struct buf why, text;
	size_t n, i, cut;

	(void)state;
	buf_init(&why, 64);
	buf_init(&text, 8192);
	/* ASCII: cut to exactly the limit, with "..." at the end. */
	for (i = 0; i < 5000; i++)
		buf_putc(&text, 'a' + (char)(i % 26));
	e.reason = text.data;
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why),
	    0);
	assert_int_equal(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID, &list,
	    &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(list[0].reason), BOUNCE_LOG_TEXT_MAX);
	assert_memory_equal(list[0].reason, text.data,
	    BOUNCE_LOG_TEXT_MAX - 3);
	assert_string_equal(list[0].reason + BOUNCE_LOG_TEXT_MAX - 3, "...");
	bounce_log_free_all(list, n);

	/* Two-byte characters: never cut in the middle of one. */
	buf_reset(&text);
	buf_putc(&text, 'x');
	for (i = 0; i < 3000; i++)
		buf_puts(&text, "\xc3\xa9");
	e.reason = text.data;
	assert_int_equal(bounce_log_remove(MAIL_QUEUE_BOUNCE, ID), 0);
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why),
	    0);
	assert_int_equal(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID, &list,
	    &n), 0);
	assert_int_equal(n, 1);
	cut = strlen(list[0].reason) - 3;
	assert_true(cut <= BOUNCE_LOG_TEXT_MAX - 3);
	assert_int_equal(cut % 2, 1);		/* 'x' + whole characters */
	assert_memory_equal(list[0].reason, text.data, cut);
	assert_string_equal(list[0].reason + cut, "...");
	bounce_log_free_all(list, n);
	buf_fini(&text);
	buf_fini(&why);
}

static void
test_refused(void **state)
{
	static char long_addr[BOUNCE_LOG_ADDR_MAX + 10];
	static const struct {
		const char *label;
		struct bounce_log_entry e;
		const char *why;
	} cases[] = {
		{"newline in recipient", {.recipient = "bob@x\n.org",
		    .offset = 1, .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "control character in recipient"},
		{"empty recipient", {.recipient = "", .offset = 1,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "empty recipient"},
		{"long recipient", {.recipient = long_addr, .offset = 1,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "recipient longer than 4096 bytes"},
		{"tab in orig", {.recipient = "b@x", .orig_rcpt = "rfc822;\tb",
		    .offset = 1, .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "control character in dsn_orig_rcpt"},
		{"zero offset", {.recipient = "b@x", .offset = 0,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "bad offset \"0\""},
		{"bad notify", {.recipient = "b@x", .offset = 1, .notify = 3,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "bad dsn_notify \"3\""},
		{"bad status class", {.recipient = "b@x", .offset = 1,
		    .status = "3.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "bad status \"3.1.1\""},
		{"short status", {.recipient = "b@x", .offset = 1,
		    .status = "5.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "bad status \"5.1\""},
		{"long status part", {.recipient = "b@x", .offset = 1,
		    .status = "5.1.1234", .action = BOUNCE_LOG_FAILED,
		    .reason = "r"}, "bad status \"5.1.1234\""},
		{"no reason", {.recipient = "b@x", .offset = 1,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED},
		    "recipient, status or reason missing"},
		{"bad action", {.recipient = "b@x", .offset = 1,
		    .status = "5.1.1", .action = (enum bounce_log_action)9,
		    .reason = "r"}, "bad action"},
		{"diag_type alone", {.recipient = "b@x", .offset = 1,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r", .diag_type = "smtp"},
		    "diag_type and diag_text must come together"},
		{"bad diag_type", {.recipient = "b@x", .offset = 1,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r", .diag_type = "s;mtp", .diag_text = "x"},
		    "bad diag_type \"s;mtp\""},
		{"space in mta_name", {.recipient = "b@x", .offset = 1,
		    .status = "5.1.1", .action = BOUNCE_LOG_FAILED,
		    .reason = "r", .mta_type = "dns", .mta_name = "a b"},
		    "bad mta_name \"a b\""},
	};
	struct buf why;
	struct stat st;
	size_t i;

	(void)state;
	memset(long_addr, 'a', sizeof(long_addr) - 1);
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&why);
		errno = 0;
		CHECK(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &cases[i].e,
		    &why) == -1, cases[i].label);
		CHECK(errno == EINVAL, cases[i].label);
		CHECK_STR_OR_NULL(why.data, cases[i].why, cases[i].label);
	}
	/* Nothing was written. */
	CHECK(stat("bounce/" ID, &st) < 0 && errno == ENOENT, "no file");
	buf_fini(&why);
}

/* ---- reading hand-written logs ------------------------------------------ */

#define GOOD(rcpt) "recipient=" rcpt "\noffset=70\nstatus=5.1.1\n" \
	"action=failed\nreason=r\n\n"

static void
test_malformed(void **state)
{
	static const struct {
		const char *label;
		const char *data;
		size_t len;		/* 0: strlen */
		const char *rcpts;	/* recipients read, ',' separated */
		const char *warning;	/* expected in the output, or "" */
	} cases[] = {
		{"Postfix layout, any order, unknown names",
		    "orig_rcpt=x\nrecipient=a\nreason=r\nlog_ident=q\n"
		    "offset=70\naction=failed\nstatus=5.1.1\n"
		    "dsn_orig_rcpt=\ndsn_notify=8\n\n", 0, "a", ""},
		{"extra empty lines", "\n\n" GOOD("a") "\n\n" GOOD("b") "\n", 0,
		    "a,b", ""},
		{"empty file", "", 0, "", ""},
		{"line without '='", GOOD("a") "recipient=b\nbogus\n"
		    "offset=70\nstatus=5.1.1\naction=failed\nreason=r\n\n"
		    GOOD("c"), 0, "a,c",
		    "line 8: entry skipped: malformed line"},
		{"upper-case name", "Recipient=a\nreason=r\n\n" GOOD("b"), 0,
		    "b", "line 1: entry skipped: malformed line"},
		{"empty name", "=a\n\n" GOOD("b"), 0, "b",
		    "line 1: entry skipped: malformed line"},
		{"NUL byte", "recipient=a\0b\noffset=70\nstatus=5.1.1\n"
		    "action=failed\nreason=r\n\n" GOOD("c"),
		    sizeof("recipient=a\0b\noffset=70\nstatus=5.1.1\n"
		    "action=failed\nreason=r\n\n" GOOD("c")) - 1, "c",
		    "line 1: entry skipped: NUL byte"},
		{"control character", "recipient=a\033]0;x\noffset=70\n"
		    "status=5.1.1\naction=failed\nreason=r\n\n" GOOD("c"), 0,
		    "c", "line 1: entry skipped: control character in "
		    "recipient"},
		{"repeated field", "recipient=a\nrecipient=b\noffset=70\n"
		    "status=5.1.1\naction=failed\nreason=r\n\n" GOOD("c"), 0,
		    "c", "line 2: entry skipped: repeated recipient"},
		{"missing reason", "recipient=a\noffset=70\nstatus=5.1.1\n"
		    "action=failed\n\n" GOOD("c"), 0, "c",
		    "line 5: entry skipped: no reason"},
		{"missing offset", "recipient=a\nstatus=5.1.1\n"
		    "action=failed\nreason=r\n\n", 0, "",
		    "entry skipped: no offset"},
		{"offset with leading zero", "recipient=a\noffset=070\n"
		    "status=5.1.1\naction=failed\nreason=r\n\n", 0, "",
		    "line 2: entry skipped: bad offset \"070\""},
		{"negative offset", "recipient=a\noffset=-7\n"
		    "status=5.1.1\naction=failed\nreason=r\n\n", 0, "",
		    "entry skipped: bad offset \"-7\""},
		{"huge offset", "recipient=a\noffset=99999999999999999999\n"
		    "status=5.1.1\naction=failed\nreason=r\n\n", 0, "",
		    "entry skipped: bad offset"},
		{"bad status", "recipient=a\noffset=7\nstatus=5.01.1\n"
		    "action=failed\nreason=r\n\n", 0, "",
		    "line 3: entry skipped: bad status \"5.01.1\""},
		{"bad action", "recipient=a\noffset=7\nstatus=5.1.1\n"
		    "action=bounced\nreason=r\n\n", 0, "",
		    "entry skipped: bad action \"bounced\""},
		{"bad notify", "recipient=a\noffset=7\nstatus=5.1.1\n"
		    "dsn_notify=9\naction=failed\nreason=r\n\n", 0, "",
		    "entry skipped: bad dsn_notify \"9\""},
		{"lone mta_name", "recipient=a\noffset=7\nstatus=5.1.1\n"
		    "mta_name=mx\naction=failed\nreason=r\n\n", 0, "",
		    "entry skipped: mta_type and mta_name must come together"},
		{"repair mark", "recipient=a\noffset=7\nstatus=5.1.1\n"
		    "action=failed\nreason=cu\ntruncated=yes\n\n" GOOD("b"), 0,
		    "b", "line 1: entry skipped: incomplete (interrupted "
		    "append)"},
		{"truncated last entry", GOOD("a") "recipient=b\noffset=7\n"
		    "status=5.1.1\naction=fa", 0, "a",
		    "line 7: incomplete last entry skipped (interrupted "
		    "append)"},
		{"last entry without its empty line", GOOD("a")
		    "recipient=b\noffset=7\nstatus=5.1.1\naction=failed\n"
		    "reason=r\n", 0, "a", "line 7: incomplete last entry"},
		{"only a partial line", "recip", 0, "",
		    "line 1: incomplete last entry skipped"},
	};
	struct bounce_log_entry *list;
	struct buf got;
	char *out;
	size_t i, j, n;

	(void)state;
	buf_init(&got, 64);
	for (i = 0; i < NELEM(cases); i++) {
		write_file("bounce/" ID, cases[i].data, cases[i].len
		    ? cases[i].len : strlen(cases[i].data));
		capture_start();
		CHECK(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID, &list, &n)
		    == 0, cases[i].label);
		out = capture_end();
		buf_reset(&got);
		for (j = 0; j < n; j++)
			buf_printf(&got, "%s%s", j ? "," : "",
			    list[j].recipient);
		CHECK_STR_OR_NULL(got.data, cases[i].rcpts, cases[i].label);
		if (*cases[i].warning == 0)
			CHECK_STR_OR_NULL(out, "", cases[i].label);
		else if (strstr(out, cases[i].warning) == NULL
		    || strstr(out, "bounce/" ID ", line ") == NULL)
			fail_msg("case \"%s\": warning \"%s\" not in \"%s\"",
			    cases[i].label, cases[i].warning, out);
		free(out);
		bounce_log_free_all(list, n);
	}
	buf_fini(&got);
}

/* Lines and entries over the limits are skipped, memory stays bounded. */
static void
test_oversized(void **state)
{
	struct bounce_log_entry *list;
	struct buf data;
	char *out;
	size_t n, i;

	(void)state;
	buf_init(&data, 100000);
	/* One line of 40000 bytes, then a good entry. */
	buf_puts(&data, "recipient=a\nreason=");
	for (i = 0; i < 40000; i++)
		buf_putc(&data, 'x');
	buf_puts(&data, "\noffset=7\n\n" GOOD("b"));
	/* An entry of many small unknown lines, then a good one. */
	buf_puts(&data, "recipient=c\n");
	for (i = 0; i < 2000; i++)
		buf_puts(&data, "unknown_name=1234567890\n");
	buf_puts(&data, "\n" GOOD("d"));
	write_file("bounce/" ID, data.data, data.len);
	capture_start();
	assert_int_equal(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID, &list, &n),
	    0);
	out = capture_end();
	assert_int_equal(n, 2);
	assert_string_equal(list[0].recipient, "b");
	assert_string_equal(list[1].recipient, "d");
	assert_non_null(strstr(out, "line 2: entry skipped: line too long"));
	assert_non_null(strstr(out, "entry skipped: entry too long"));
	free(out);
	bounce_log_free_all(list, n);
	buf_fini(&data);
}

/* An append after a crash mid-append closes the broken entry first. */
static void
test_repair(void **state)
{
	static const struct {
		const char *label;
		const char *tail;
	} cases[] = {
		{"cut inside a line", "recipient=b\noffset=7\nreason=cu"},
		{"cut after a line", "recipient=b\noffset=7\n"},
		{"cut after a name", "recipient=b\nstat"},
		{"all fields, no empty line", "recipient=b\noffset=7\n"
		    "status=5.1.1\naction=failed\nreason=r\n"},
		{"junk NUL bytes", "recipient=b\0\0\0\0"},
	};
	struct bounce_log_entry e = {.recipient = "c", .offset = 9,
	    .status = "5.1.1", .action = BOUNCE_LOG_FAILED, .reason = "new"};
	struct bounce_log_entry *list;
	struct buf data, why;
	char *out;
	size_t i, n, len;

	(void)state;
	buf_init(&data, 256);
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		buf_set(&data, GOOD("a"));
		len = strlen(cases[i].tail);
		if (strcmp(cases[i].label, "junk NUL bytes") == 0)
			len += 4;
		buf_append(&data, cases[i].tail, len);
		write_file("bounce/" ID, data.data, data.len);
		CHECK(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why) == 0,
		    cases[i].label);
		capture_start();
		CHECK(bounce_log_read_all(MAIL_QUEUE_BOUNCE, ID, &list, &n)
		    == 0, cases[i].label);
		out = capture_end();
		CHECK(n == 2, cases[i].label);
		CHECK_STR_OR_NULL(list[0].recipient, "a", cases[i].label);
		CHECK_STR_OR_NULL(list[1].recipient, "c", cases[i].label);
		CHECK_STR_OR_NULL(list[1].reason, "new", cases[i].label);
		CHECK(strstr(out, "bounce/" ID ", line ") != NULL
		    && strstr(out, ": entry skipped: ") != NULL,
		    cases[i].label);
		free(out);
		bounce_log_free_all(list, n);
	}
	/* A file ending in exactly one empty line needs no repair. */
	write_file("bounce/" ID, "\n", 1);
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why), 0);
	buf_reset(&data);
	assert_int_equal(file_read("bounce/" ID, &data, 10000), 0);
	assert_int_equal(strncmp(data.data, "\nrecipient=c\n", 13), 0);
	buf_fini(&data);
	buf_fini(&why);
}

/* ---- paths -------------------------------------------------------------- */

static void
test_paths(void **state)
{
	static const struct {
		const char *label;
		const char *queue;
		int depth;
		const char *path;
	} cases[] = {
		{"bounce is not hashed", MAIL_QUEUE_BOUNCE, 1, "bounce/" ID},
		{"trace is not hashed", MAIL_QUEUE_TRACE, 2, "trace/" ID},
		{"defer, depth 1", MAIL_QUEUE_DEFER, 1, "defer/1/" ID},
		{"defer, depth 2", MAIL_QUEUE_DEFER, 2, "defer/1/0/" ID},
	};
	struct bounce_log_entry e = {.recipient = "b", .offset = 9,
	    .status = "4.1.1", .action = BOUNCE_LOG_DELAYED, .reason = "r"};
	struct bounce_log_entry got;
	struct bounce_log *bl;
	struct buf why;
	struct stat st;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		var_hash_queue_depth = cases[i].depth;
		CHECK(bounce_log_append(cases[i].queue, ID, &e, &why) == 0,
		    cases[i].label);
		CHECK(stat(cases[i].path, &st) == 0, cases[i].label);
		CHECK((st.st_mode & 0777) == 0600, cases[i].label);
		bl = bounce_log_open(cases[i].queue, ID);
		CHECK(bl != NULL, cases[i].label);
		CHECK_STR_OR_NULL(bounce_log_path(bl), cases[i].path,
		    cases[i].label);
		memset(&got, 0, sizeof(got));
		CHECK(bounce_log_next(bl, &got) == 1, cases[i].label);
		CHECK(bounce_log_next(bl, &got) == 0, cases[i].label);
		CHECK(got.recipient == NULL, cases[i].label);
		bounce_log_close(bl);
		CHECK(bounce_log_remove(cases[i].queue, ID) == 0,
		    cases[i].label);
		CHECK(stat(cases[i].path, &st) < 0 && errno == ENOENT,
		    cases[i].label);
		/* Removing what is not there is fine. */
		CHECK(bounce_log_remove(cases[i].queue, ID) == 0,
		    cases[i].label);
	}
	var_hash_queue_depth = 1;
	buf_fini(&why);
}

static void
test_bad_args(void **state)
{
	struct bounce_log_entry e = {.recipient = "b", .offset = 9,
	    .status = "5.1.1", .action = BOUNCE_LOG_FAILED, .reason = "r"};
	struct bounce_log_entry *list;
	struct buf why;
	size_t n;

	(void)state;
	buf_init(&why, 64);
	errno = 0;
	assert_int_equal(bounce_log_append("deferred", ID, &e, &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, "../x", &e,
	    &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(bounce_log_open(MAIL_QUEUE_BOUNCE, "a/b"));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(bounce_log_remove("incoming", ID), -1);
	assert_int_equal(errno, EINVAL);
	/* No log: ENOENT for open, no entries for read_all. */
	assert_null(bounce_log_open(MAIL_QUEUE_DEFER, ID2));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(bounce_log_read_all(MAIL_QUEUE_DEFER, ID2, &list, &n),
	    0);
	assert_int_equal(n, 0);
	assert_null(list);
	buf_fini(&why);
}

static void
test_links(void **state)
{
	struct bounce_log_entry e = {.recipient = "b", .offset = 9,
	    .status = "5.1.1", .action = BOUNCE_LOG_FAILED, .reason = "r"};
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	write_file("target", "", 0);
	assert_int_equal(symlink("../target", "bounce/" ID), 0);
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why),
	    -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(why.data, "open bounce/" ID ": "));
	assert_null(bounce_log_open(MAIL_QUEUE_BOUNCE, ID));
	assert_int_equal(unlink("bounce/" ID), 0);
	assert_int_equal(link("target", "bounce/" ID), 0);
	assert_int_equal(bounce_log_append(MAIL_QUEUE_BOUNCE, ID, &e, &why),
	    -1);
	assert_int_equal(errno, EPERM);
	buf_fini(&why);
}

/* ---- concurrency -------------------------------------------------------- */

#define CONC_ENTRIES	300

static void
conc_child(char tag)
{
	struct bounce_log_entry e = {.offset = 1, .status = "4.4.1",
	    .action = BOUNCE_LOG_DELAYED};
	struct buf rcpt, reason, why;
	int i;

	buf_init(&rcpt, 32);
	buf_init(&reason, 2048);
	buf_init(&why, 64);
	for (i = 0; i < CONC_ENTRIES; i++) {
		buf_reset(&rcpt);
		buf_printf(&rcpt, "%c%d@x.org", tag, i);
		buf_reset(&reason);
		/* Long enough that entries straddle page boundaries. */
		while (reason.len < 1500)
			buf_printf(&reason, "%c%d ", tag, i);
		e.recipient = rcpt.data;
		e.offset = i + 1;
		e.reason = reason.data;
		if (bounce_log_append(MAIL_QUEUE_DEFER, ID, &e, &why) < 0)
			_exit(1);
	}
	_exit(0);
}

static void
test_concurrent(void **state)
{
	struct bounce_log_entry *list;
	struct buf want;
	pid_t pid[2];
	int i, status, count[2] = {0, 0};
	size_t n, k;
	char *out;

	(void)state;
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			conc_child(i ? 'b' : 'a');
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	capture_start();
	assert_int_equal(bounce_log_read_all(MAIL_QUEUE_DEFER, ID, &list, &n),
	    0);
	out = capture_end();
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(n, 2 * CONC_ENTRIES);
	buf_init(&want, 2048);
	for (k = 0; k < n; k++) {
		char tag = list[k].recipient[0];
		int num = atoi(list[k].recipient + 1);

		assert_true(tag == 'a' || tag == 'b');
		/* Each child's entries arrive in its own order, intact. */
		assert_int_equal(num, count[tag - 'a']);
		count[tag - 'a']++;
		assert_int_equal(list[k].offset, num + 1);
		buf_reset(&want);
		while (want.len < 1500)
			buf_printf(&want, "%c%d ", tag, num);
		assert_string_equal(list[k].reason, want.data);
	}
	bounce_log_free_all(list, n);
	buf_fini(&want);
}

/* ---- helpers ------------------------------------------------------------- */

static void
test_helpers(void **state)
{
	static const struct {
		const char *label;
		const char *in;
		int want;
	} notify[] = {
		{"NULL", NULL, 0},
		{"decimal", "14", DSN_NOTIFY_ANY},
		{"never", "1", DSN_NOTIFY_NEVER},
		{"never with others", "3", 0},
		{"words", "success,FAILURE", DSN_NOTIFY_SUCCESS
		    | DSN_NOTIFY_FAILURE},
		{"bad word", "sometimes", 0},
		{"out of range", "99", 0},
	};
	static const struct {
		const char *in;
		bool ok;
	} status[] = {
		{"2.0.0", true}, {"4.4.1", true}, {"5.7.1", true},
		{"5.123.999", true}, {"5.0.10", true}, {"1.0.0", false},
		{"5.1", false}, {"5..1", false}, {"5.1.1.", false},
		{"5.1.01", false}, {"5.1.1 ", false}, {"", false},
		{"55.1.1", false}, {"5.1.1000", false},
	};
	struct qfile_rcpt rcpt = {.addr = "bob@x.org", .orcpt = "rfc822;b@y",
	    .notify = "10", .offset = 77};
	struct bounce_log_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(notify); i++)
		CHECK(bounce_log_notify_bits(notify[i].in) == notify[i].want,
		    notify[i].label);
	for (i = 0; i < NELEM(status); i++)
		CHECK(bounce_log_status_ok(status[i].in) == status[i].ok,
		    status[i].in);
	for (i = BOUNCE_LOG_FAILED; i <= BOUNCE_LOG_RELAYED; i++)
		assert_int_equal(bounce_log_action_parse(
		    bounce_log_action_name((enum bounce_log_action)i)), (int)i);
	assert_int_equal(bounce_log_action_parse("bounced"), -1);
	bounce_log_entry_init(&e, &rcpt);
	assert_string_equal(e.recipient, "bob@x.org");
	assert_string_equal(e.orig_rcpt, "rfc822;b@y");
	assert_int_equal(e.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE);
	assert_int_equal(e.offset, 77);
	assert_null(e.reason);
	assert_null(e.mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_cleanup, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_repair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
		cmocka_unit_test(test_helpers),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
