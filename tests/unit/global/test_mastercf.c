/*
 * test_mastercf.c - unit tests for mastercf.c
 *
 * Table-driven: valid entries with every column checked, invalid entries
 * with the exact reason, whole files with the exact diagnostics (stderr
 * is captured), duplicates, the format round trip, endpoint comparison,
 * and golden files in data/mastercf-*.in / .want. Then master.cf held
 * against main.cf (mastercf_check_conf: what each service sees with its
 * -o overrides) and the programs it names (mastercf_check_programs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"

/* "a|b|c" for an argv, "" when empty. */
static char *
join(const struct argv *av)
{
	struct buf out;

	buf_init(&out, 64);
	for (size_t i = 0; i < av->argc; i++) {
		if (i)
			buf_putc(&out, '|');
		buf_puts(&out, av->argv[i]);
	}
	return buf_steal(&out);
}

static int
setup(void **state)
{
	(void)state;
	msg_error_reset();
	return 0;
}

static void
test_valid_entries(void **state)
{
	static const struct {
		const char *label, *in;
		const char *service;
		enum master_type type;
		const char *host, *port;
		bool priv, unpriv, chroot;
		int wakeup;
		bool if_used;
		int maxproc;
		const char *command, *overrides, *args;
	} cases[] = {
		{"all defaults unix", "cleanup unix - - - - - cleanup",
		 "cleanup", MASTER_UNIX, NULL, NULL, true, true, false, 0,
		 false, -1, "cleanup", "", ""},
		{"all defaults inet", "smtp inet - - - - - smtpd",
		 "smtp", MASTER_INET, NULL, "smtp", false, true, false, 0,
		 false, -1, "smtpd", "", ""},
		{"explicit values", "qmgr unix n n y 300 1 qmgr",
		 "qmgr", MASTER_UNIX, NULL, NULL, false, false, true, 300,
		 false, 1, "qmgr", "", ""},
		{"all yes", "x fifo y y y 0 0 prog",
		 "x", MASTER_FIFO, NULL, NULL, true, true, true, 0, false, 0,
		 "prog", "", ""},
		{"wakeup if used", "pickup unix n - y 60? 1 pickup",
		 "pickup", MASTER_UNIX, NULL, NULL, false, true, true, 60,
		 true, 1, "pickup", "", ""},
		{"wakeup zero if used", "p fifo n - - 0? 1 pickup",
		 "p", MASTER_FIFO, NULL, NULL, false, true, false, 0, true, 1,
		 "pickup", "", ""},
		{"pass", "smtpd pass - - y - - smtpd",
		 "smtpd", MASTER_PASS, NULL, NULL, true, true, true, 0, false,
		 -1, "smtpd", "", ""},
		{"numeric port", "25 inet n - n - - smtpd",
		 "25", MASTER_INET, NULL, "25", false, true, false, 0, false,
		 -1, "smtpd", "", ""},
		{"highest port", "65535 inet n - n - - smtpd",
		 "65535", MASTER_INET, NULL, "65535", false, true, false, 0,
		 false, -1, "smtpd", "", ""},
		{"host:port", "127.0.0.1:10025 inet n - n - - smtpd",
		 "127.0.0.1:10025", MASTER_INET, "127.0.0.1", "10025", false,
		 true, false, 0, false, -1, "smtpd", "", ""},
		{"name:service", "mail.example.com:submission inet n - n - - "
		 "smtpd", "mail.example.com:submission", MASTER_INET,
		 "mail.example.com", "submission", false, true, false, 0,
		 false, -1, "smtpd", "", ""},
		{"ipv6 brackets", "[::1]:smtp inet n - n - - smtpd",
		 "[::1]:smtp", MASTER_INET, "::1", "smtp", false, true, false,
		 0, false, -1, "smtpd", "", ""},
		{"ipv6 full", "[2001:db8::25]:2525 inet n - n - - smtpd",
		 "[2001:db8::25]:2525", MASTER_INET, "2001:db8::25", "2525",
		 false, true, false, 0, false, -1, "smtpd", "", ""},
		{"ipv4 brackets", "[192.0.2.1]:25 inet n - n - - smtpd",
		 "[192.0.2.1]:25", MASTER_INET, "192.0.2.1", "25", false, true,
		 false, 0, false, -1, "smtpd", "", ""},
		{"service name with dash", "x-y_z inet n - n - - smtpd",
		 "x-y_z", MASTER_INET, NULL, "x-y_z", false, true, false, 0,
		 false, -1, "smtpd", "", ""},
		{"tabs", "smtp\tinet\tn\t-\tn\t-\t-\tsmtpd\t-v",
		 "smtp", MASTER_INET, NULL, "smtp", false, true, false, 0,
		 false, -1, "smtpd", "", "-v"},
		{"o name=value", "s unix - - - - - smtpd -o a=b -o c_1=",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=b|c_1=", ""},
		{"o three words", "s unix - - - - - smtpd -o a = b",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=b", ""},
		{"o braces", "s unix - - - - - smtpd -o {a = b c}",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=b c", ""},
		{"o braces spaced", "s unix - - - - - smtpd -o { a=b  c }",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=b  c", ""},
		{"o braces empty value", "s unix - - - - - smtpd -o { a = }",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=", ""},
		{"o value with =", "s unix - - - - - smtpd -o a=b=c",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=b=c", ""},
		{"o three words braced value",
		 "s unix - - - - - smtpd -o a = { x y }",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=x y", ""},
		{"o value with $", "s unix - - - - - smtpd -o "
		 "smtpd_client_restrictions=$mua_client_restrictions",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "smtpd_client_restrictions=$mua_client_restrictions",
		 ""},
		{"options then -o", "s unix - - - - - smtpd -v -o a=b -D",
		 "s", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "smtpd", "a=b", "-v|-D"},
		{"-o after argument belongs to program",
		 "p unix - n n - - pipe flags=R argv=/bin/x -o y",
		 "p", MASTER_UNIX, NULL, NULL, true, false, false, 0, false, -1,
		 "pipe", "", "flags=R|argv=/bin/x|-o|y"},
		{"braced argument", "p unix - n n - - pipe "
		 "flags=R user=u argv=/bin/x { -a b } {c}",
		 "p", MASTER_UNIX, NULL, NULL, true, false, false, 0, false, -1,
		 "pipe", "", "flags=R|user=u|argv=/bin/x|-a b|c"},
		{"nested braces", "p unix - - - - - x { a {b c} d }",
		 "p", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "x", "", "a {b c} d"},
		{"empty braces", "p unix - - - - - x {} { }",
		 "p", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "x", "", "|"},
		{"braced -o is an argument", "p unix - - - - - x {-o} a=b",
		 "p", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "x", "", "-o|a=b"},
		{"brace inside plain word", "p unix - - - - - x a{b ${c}",
		 "p", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "x", "", "a{b|${c}"},
		{"absolute command", "p unix - - - - - /usr/lib/x/prog",
		 "p", MASTER_UNIX, NULL, NULL, true, true, false, 0, false, -1,
		 "/usr/lib/x/prog", "", ""},
	};
	struct buf why;

	(void)state;
	buf_init(&why, 128);
	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *label = cases[i].label;
		struct master_ent *ent;
		char *s;

		ent = mastercf_parse_entry(cases[i].in, "master.cf", 7, &why);
		if (ent == NULL)
			fail_msg("case \"%s\": %s", label, why.data);
		CHECK_STR_OR_NULL(ent->service, cases[i].service, label);
		CHECK(ent->type == cases[i].type, label);
		CHECK_STR_OR_NULL(ent->host, cases[i].host, label);
		CHECK_STR_OR_NULL(ent->port, cases[i].port, label);
		CHECK(ent->private_ == cases[i].priv, label);
		CHECK(ent->unpriv == cases[i].unpriv, label);
		CHECK(ent->chroot == cases[i].chroot, label);
		CHECK(ent->wakeup == cases[i].wakeup, label);
		CHECK(ent->wakeup_if_used == cases[i].if_used, label);
		CHECK(ent->maxproc == cases[i].maxproc, label);
		CHECK_STR_OR_NULL(ent->command, cases[i].command, label);
		s = join(ent->overrides);
		CHECK_STR_OR_NULL(s, cases[i].overrides, label);
		free(s);
		s = join(ent->args);
		CHECK_STR_OR_NULL(s, cases[i].args, label);
		free(s);
		CHECK_STR_OR_NULL(ent->file, "master.cf", label);
		CHECK(ent->line == 7, label);
		master_ent_free(ent);
	}
	buf_fini(&why);
}

static void
test_invalid_entries(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} cases[] = {
		{"empty", "",
		 "missing command: entry has 0 fields, expected at least 8"},
		{"one field", "smtp",
		 "missing command: entry has 1 field, expected at least 8"},
		{"seven fields", "smtp inet n - n - -",
		 "missing command: entry has 7 fields, expected at least 8"},
		{"bad type", "smtp tcp n - n - - smtpd",
		 "field \"type\": bad value \"tcp\" "
		 "(expected inet, unix, fifo or pass)"},
		{"bad private", "x unix x - n - - smtpd",
		 "field \"private\": bad value \"x\" (expected y, n or -)"},
		{"bad unpriv", "x unix - yes n - - smtpd",
		 "field \"unpriv\": bad value \"yes\" (expected y, n or -)"},
		{"bad chroot", "x unix - - N - - smtpd",
		 "field \"chroot\": bad value \"N\" (expected y, n or -)"},
		{"bad wakeup", "x unix - - n abc - smtpd",
		 "field \"wakeup\": bad value \"abc\" (expected seconds, "
		 "optionally followed by \"?\", or -)"},
		{"negative wakeup", "x unix - - n -5 - smtpd",
		 "field \"wakeup\": bad value \"-5\" (expected seconds, "
		 "optionally followed by \"?\", or -)"},
		{"wakeup only ?", "x unix - - n ? - smtpd",
		 "field \"wakeup\": bad value \"?\" (expected seconds, "
		 "optionally followed by \"?\", or -)"},
		{"wakeup dash ?", "x unix - - n -? - smtpd",
		 "field \"wakeup\": bad value \"-?\" (expected seconds, "
		 "optionally followed by \"?\", or -)"},
		{"wakeup overflow", "x unix - - n 99999999999 - smtpd",
		 "field \"wakeup\": bad value \"99999999999\" (expected "
		 "seconds, optionally followed by \"?\", or -)"},
		{"bad maxproc", "x unix - - n - -1 smtpd",
		 "field \"maxproc\": bad value \"-1\" "
		 "(expected a non-negative integer or -)"},
		{"maxproc trailing", "x unix - - n - 10x smtpd",
		 "field \"maxproc\": bad value \"10x\" "
		 "(expected a non-negative integer or -)"},
		{"port zero", "0 inet n - n - - smtpd",
		 "field \"service\": bad port \"0\" in \"0\" "
		 "(expected 1..65535 or a service name)"},
		{"port too big", "x:65536 inet n - n - - smtpd",
		 "field \"service\": bad port \"65536\" in \"x:65536\" "
		 "(expected 1..65535 or a service name)"},
		{"port empty", "host: inet n - n - - smtpd",
		 "field \"service\": bad port \"\" in \"host:\" "
		 "(expected 1..65535 or a service name)"},
		{"port bad char", "smtp.x inet n - n - - smtpd",
		 "field \"service\": bad port \"smtp.x\" in \"smtp.x\" "
		 "(expected 1..65535 or a service name)"},
		{"bare ipv6", "::1:25 inet n - n - - smtpd",
		 "field \"service\": IPv6 address in \"::1:25\" must be in "
		 "brackets (\"[address]:port\")"},
		{"bare ipv6 long", "2001:db8::1:smtp inet n - n - - smtpd",
		 "field \"service\": IPv6 address in \"2001:db8::1:smtp\" "
		 "must be in brackets (\"[address]:port\")"},
		{"empty host", ":25 inet n - n - - smtpd",
		 "field \"service\": bad host \"\" in \":25\""},
		{"bad host", "a/b:25 inet n - n - - smtpd",
		 "field \"service\": bad host \"a/b\" in \"a/b:25\""},
		{"unclosed bracket", "[::1:25 inet n - n - - smtpd",
		 "field \"service\": missing \"]\" in \"[::1:25\""},
		{"bracket without port", "[::1] inet n - n - - smtpd",
		 "field \"service\": expected \":port\" after \"]\" "
		 "in \"[::1]\""},
		{"bracket bad address", "[mail.example]:25 inet n - n - - x",
		 "field \"service\": bad address \"mail.example\" "
		 "in \"[mail.example]:25\""},
		{"bracket empty", "[]:25 inet n - n - - x",
		 "field \"service\": bad address \"\" in \"[]:25\""},
		{"unix slash", "a/b unix - - n - - x",
		 "field \"service\": bad unix service name \"a/b\" (expected "
		 "printable text without \"/\", not \".\" or \"..\")"},
		{"unix dot", ". fifo - - n - - x",
		 "field \"service\": bad fifo service name \".\" (expected "
		 "printable text without \"/\", not \".\" or \"..\")"},
		{"pass dotdot", ".. pass - - n - - x",
		 "field \"service\": bad pass service name \"..\" (expected "
		 "printable text without \"/\", not \".\" or \"..\")"},
		{"unix control char", "a\001b unix - - n - - x",
		 "field \"service\": bad unix service name \"a?b\" (expected "
		 "printable text without \"/\", not \".\" or \"..\")"},
		{"-o at end", "s unix - - - - - smtpd -o",
		 "missing name=value after \"-o\""},
		{"-o name only", "s unix - - - - - smtpd -o abc",
		 "\"-o abc\": expected \"=\" after the parameter name"},
		{"-o name then word", "s unix - - - - - smtpd -o abc def",
		 "\"-o abc\": expected \"=\" after the parameter name"},
		{"-o name = at end", "s unix - - - - - smtpd -o abc =",
		 "\"-o abc =\": missing value"},
		{"-o bad name", "s unix - - - - - smtpd -o a-b=c",
		 "\"-o\": bad parameter name \"a-b\" "
		 "(expected letters, digits and \"_\")"},
		{"-o empty name", "s unix - - - - - smtpd -o =c",
		 "\"-o\": bad parameter name \"\" "
		 "(expected letters, digits and \"_\")"},
		{"-o braces no =", "s unix - - - - - smtpd -o { a b }",
		 "\"-o {a b}\": missing \"=\" after the parameter name"},
		{"-o braces bad name", "s unix - - - - - smtpd -o { a b = c }",
		 "\"-o\": bad parameter name \"a b\" "
		 "(expected letters, digits and \"_\")"},
		{"-o unbalanced", "s unix - - - - - smtpd -o { a = b",
		 "missing \"}\" in \"{ a = b\""},
		{"unbalanced brace", "s unix - - - - - x { a { b }",
		 "missing \"}\" in \"{ a { b }\""},
		{"text after brace", "s unix - - - - - x {a}b c",
		 "unexpected text after \"}\" in \"{a}b\""},
	};
	struct buf why;

	(void)state;
	buf_init(&why, 128);
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct master_ent *ent;

		ent = mastercf_parse_entry(cases[i].in, "master.cf", 1, &why);
		if (ent != NULL)
			fail_msg("case \"%s\": accepted", cases[i].label);
		CHECK_STR_OR_NULL(why.data, cases[i].want, cases[i].label);
	}
	buf_fini(&why);
}

/* A long bad value is quoted only in part. */
static void
test_long_value_quoted(void **state)
{
	struct buf in, why;
	struct master_ent *ent;

	(void)state;
	buf_init(&in, 1024);
	buf_init(&why, 128);
	buf_puts(&in, "x unix ");
	for (int i = 0; i < 500; i++)
		buf_putc(&in, 'q');
	buf_puts(&in, " - n - - x");
	ent = mastercf_parse_entry(in.data, "master.cf", 1, &why);
	assert_null(ent);
	assert_true(why.len < 200);
	assert_non_null(strstr(why.data, "qqq...\""));
	buf_fini(&in);
	buf_fini(&why);
}

static void
test_files(void **state)
{
	static const struct {
		const char *label, *in;
		size_t count;		/* entries; 0 = parse fails */
		const char *log;
	} cases[] = {
		{"empty file", "", 0, ""},
		{"comments only", "# a\n   # b\n\n \t\n", 0, ""},
		{"two entries",
		 "smtp inet n - y - - smtpd\n"
		 "pickup unix n - y 60 1 pickup\n", 2, ""},
		{"continuation with comment and blank lines",
		 "smtp inet n - y - - smtpd\n"
		 "  -o a=b\n"
		 "# comment inside\n"
		 "\n"
		 "\t-o c=d\n"
		 "  # indented comment\n"
		 "qmgr unix n - n 300 1 qmgr\n", 2, ""},
		{"crlf", "smtp inet n - y - - smtpd\r\n  -o a=b\r\n", 1, ""},
		{"no final newline", "smtp inet n - y - - smtpd", 1, ""},
		{"inet private warns",
		 "smtp inet y - y - - smtpd\n", 1,
		 "test: warning: master.cf, line 1: service \"smtp\": inet "
		 "service cannot be private; using n\n"},
		{"errors on several lines",
		 "# header\n"
		 "smtp inet n - y - - smtpd\n"
		 "bad tcp n - y - - smtpd\n"
		 "\n"
		 "short unix - -\n"
		 "   - - -\n"
		 "ok unix - - - - - ok\n"
		 "x unix - - - - - x -o\n", 0,
		 "test: error: master.cf, line 3: field \"type\": bad value "
		 "\"tcp\" (expected inet, unix, fifo or pass)\n"
		 "test: error: master.cf, line 5: missing command: entry has "
		 "7 fields, expected at least 8\n"
		 "test: error: master.cf, line 8: missing name=value after "
		 "\"-o\"\n"},
		{"leading whitespace first",
		 "  smtp inet n - y - - smtpd\n"
		 "x unix - - - - - x\n", 0,
		 "test: error: master.cf, line 1: line starts with whitespace "
		 "but there is no entry to continue\n"},
		{"duplicate",
		 "smtp inet n - y - - smtpd\n"
		 "smtp unix n - y - - smtp\n"
		 "# c\n"
		 "smtp inet n - y - - other\n", 0,
		 "test: error: master.cf, line 4: duplicate inet service "
		 "\"smtp\" (first defined on line 1)\n"},
		{"duplicate endpoint written differently",
		 "[127.0.0.1]:25 inet n - y - - smtpd\n"
		 "127.0.0.1:25 inet n - y - - smtpd\n", 0,
		 "test: error: master.cf, line 2: duplicate inet service "
		 "\"127.0.0.1:25\" (first defined on line 1)\n"},
		{"duplicate host case",
		 "Mail.Example:25 inet n - y - - smtpd\n"
		 "mail.example:25 inet n - y - - smtpd\n", 0,
		 "test: error: master.cf, line 2: duplicate inet service "
		 "\"mail.example:25\" (first defined on line 1)\n"},
		{"not duplicates",
		 "smtp inet n - y - - smtpd\n"
		 "127.0.0.1:smtp inet n - y - - smtpd\n"
		 "smtp unix - - y - - smtp\n"
		 "smtp fifo - - y - - smtp\n"
		 "25 inet n - y - - smtpd\n", 5, ""},
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct mastercf *cf;
		char *log;

		msg_error_reset();
		capture_start();
		cf = mastercf_parse(cases[i].in, "master.cf");
		log = capture_end();
		CHECK_STR_OR_NULL(log, cases[i].log, cases[i].label);
		if (cases[i].count == 0 && cases[i].log[0]) {
			CHECK(cf == NULL, cases[i].label);
		} else {
			CHECK(cf != NULL, cases[i].label);
			CHECK(cf->count == cases[i].count, cases[i].label);
		}
		free(log);
		mastercf_free(cf);
	}
}

static void
test_continuation_fields(void **state)
{
	struct mastercf *cf;
	struct master_ent *e;

	(void)state;
	cf = mastercf_parse("# x\n"
	    "smtp inet n - y\n"
	    "# between columns\n"
	    "   - - smtpd\n"
	    "  -o { a = b c }\n"
	    "other unix - - - - - x\n", "master.cf");
	assert_non_null(cf);
	assert_int_equal(cf->count, 2);
	e = cf->ents[0];
	assert_string_equal(e->command, "smtpd");
	assert_int_equal(e->line, 2);
	assert_int_equal(e->overrides->argc, 1);
	assert_string_equal(e->overrides->argv[0], "a=b c");
	assert_int_equal(cf->ents[1]->line, 6);
	mastercf_free(cf);
}

static void
test_format(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} cases[] = {
		{"defaults", "cleanup unix - - - - - cleanup",
		 "cleanup   unix  y       y       n       -       -       "
		 "cleanup"},
		{"inet", "smtp inet n - y - - smtpd",
		 "smtp      inet  n       y       y       -       -       "
		 "smtpd"},
		{"values", "pickup unix n - y 60? 1 pickup",
		 "pickup    unix  n       y       y       60?     1       "
		 "pickup"},
		{"zero wakeup if used", "p unix n - y 0? 0 p",
		 "p         unix  n       y       y       0?      0       p"},
		{"plain wakeup", "qmgr unix n - n 300 1 qmgr",
		 "qmgr      unix  n       y       n       300     1       "
		 "qmgr"},
		{"long service", "[2001:db8::1]:submission inet n - n - - x",
		 "[2001:db8::1]:submission inet  n       y       n       -"
		 "       -       x"},
		{"overrides and args",
		 "s unix - - - - - smtpd -v -o a = b -o {c = d e} -o f=",
		 "s         unix  y       y       n       -       -       "
		 "smtpd -o a=b -o { c = d e } -o f= -v"},
		{"braced args", "p unix - - - - - pipe {-o} { a b } {} x",
		 "p         unix  y       y       n       -       -       "
		 "pipe { -o } { a b } { } x"},
		{"-o after argument", "p unix - - - - - pipe x -o y {{a}}",
		 "p         unix  y       y       n       -       -       "
		 "pipe x -o y { {a} }"},
	};
	struct buf why, out;

	(void)state;
	buf_init(&why, 128);
	buf_init(&out, 128);
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct master_ent *a, *b;

		a = mastercf_parse_entry(cases[i].in, "master.cf", 1, &why);
		if (a == NULL)
			fail_msg("case \"%s\": %s", cases[i].label, why.data);
		buf_reset(&out);
		master_ent_format(a, &out);
		CHECK_STR_OR_NULL(out.data, cases[i].want, cases[i].label);
		b = mastercf_parse_entry(out.data, "master.cf", 1, &why);
		if (b == NULL)
			fail_msg("case \"%s\": reparse: %s", cases[i].label,
			    why.data);
		CHECK(master_ent_equal(a, b), cases[i].label);
		CHECK(master_ent_same_endpoint(a, b), cases[i].label);
		master_ent_free(a);
		master_ent_free(b);
	}
	buf_fini(&why);
	buf_fini(&out);
}

static void
test_compare(void **state)
{
	static const struct {
		const char *label, *a, *b;
		bool endpoint, equal;
	} cases[] = {
		{"identical", "smtp inet n - y - - smtpd -o a=b",
		 "smtp inet n - y - - smtpd -o a=b", true, true},
		{"defaults vs explicit", "x unix - - - - - x",
		 "x unix y y n 0 - x", true, true},
		{"other command", "smtp inet n - y - - smtpd",
		 "smtp inet n - y - - smtpd2", true, false},
		{"other override", "smtp inet n - y - - smtpd -o a=b",
		 "smtp inet n - y - - smtpd -o a=c", true, false},
		{"override order", "s unix - - - - - x -o a=b -o c=d",
		 "s unix - - - - - x -o c=d -o a=b", true, false},
		{"other arg", "s unix - - - - - x a",
		 "s unix - - - - - x b", true, false},
		{"arg vs override", "s unix - - - - - x {-o} a=b",
		 "s unix - - - - - x -o a=b", true, false},
		{"other maxproc", "s unix - - - - 1 x",
		 "s unix - - - - 2 x", true, false},
		{"other wakeup", "s unix - - - 60 - x",
		 "s unix - - - 60? - x", true, false},
		{"other chroot", "s unix - - y - - x",
		 "s unix - - n - - x", true, false},
		{"other type", "smtp inet n - y - - smtpd",
		 "smtp unix n - y - - smtpd", false, false},
		{"host case", "A.example:smtp inet n - y - - smtpd",
		 "a.example:smtp inet n - y - - smtpd", true, false},
		{"brackets", "[192.0.2.1]:smtp inet n - y - - smtpd",
		 "192.0.2.1:smtp inet n - y - - smtpd", true, false},
		{"host vs none", "smtp inet n - y - - smtpd",
		 "0.0.0.0:smtp inet n - y - - smtpd", false, false},
		{"port name vs number", "smtp inet n - y - - smtpd",
		 "25 inet n - y - - smtpd", false, false},
		{"unix names", "smtp unix - - y - - smtp",
		 "SMTP unix - - y - - smtp", false, false},
	};
	struct buf why;

	(void)state;
	buf_init(&why, 128);
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct master_ent *a, *b;

		a = mastercf_parse_entry(cases[i].a, "master.cf", 1, &why);
		b = mastercf_parse_entry(cases[i].b, "other.cf", 9, &why);
		if (a == NULL || b == NULL)
			fail_msg("case \"%s\": %s", cases[i].label, why.data);
		CHECK(master_ent_same_endpoint(a, b) == cases[i].endpoint,
		    cases[i].label);
		CHECK(master_ent_same_endpoint(b, a) == cases[i].endpoint,
		    cases[i].label);
		CHECK(master_ent_equal(a, b) == cases[i].equal,
		    cases[i].label);
		CHECK(master_ent_equal(b, a) == cases[i].equal,
		    cases[i].label);
		CHECK(master_ent_equal(a, a), cases[i].label);
		master_ent_free(a);
		master_ent_free(b);
	}
	buf_fini(&why);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(master_type_name(MASTER_INET), "inet");
	assert_string_equal(master_type_name(MASTER_UNIX), "unix");
	assert_string_equal(master_type_name(MASTER_FIFO), "fifo");
	assert_string_equal(master_type_name(MASTER_PASS), "pass");
}

static char *
data_path(const char *name)
{
	const char *root = getenv("PETREL_SOURCE_ROOT");
	struct buf path;

	buf_init(&path, 128);
	buf_printf(&path, "%s/tests/unit/global/data/%s", root ? root : ".",
	    name);
	return buf_steal(&path);
}

static char *
slurp(const char *path)
{
	struct buf out;
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		fail_msg("cannot open %s", path);
	buf_init(&out, 4096);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&out, chunk, n);
	fclose(fp);
	return buf_steal(&out);
}

/*
 * Golden files: NAME.in is a master.cf; NAME.want is each entry
 * formatted on one line, followed by the diagnostics (file name shown as
 * "master.cf").
 */
static void
test_golden(void **state)
{
	static const char *const names[] = {
		"mastercf-default", "mastercf-syntax", "mastercf-errors",
	};

	(void)state;
	for (size_t i = 0; i < NELEM(names); i++) {
		struct buf file, out;
		struct mastercf *cf;
		char *path, *text, *want, *log;

		buf_init(&file, 64);
		buf_printf(&file, "%s.in", names[i]);
		path = data_path(file.data);
		text = slurp(path);
		free(path);
		buf_reset(&file);
		buf_printf(&file, "%s.want", names[i]);
		path = data_path(file.data);
		want = slurp(path);
		free(path);

		msg_error_reset();
		capture_start();
		cf = mastercf_parse(text, "master.cf");
		log = capture_end();
		buf_init(&out, 4096);
		for (size_t j = 0; cf && j < cf->count; j++) {
			master_ent_format(cf->ents[j], &out);
			buf_putc(&out, '\n');
		}
		buf_puts(&out, log);
		if (strcmp(out.data, want) != 0)
			fail_msg("golden \"%s\": got:\n%s\nwant:\n%s",
			    names[i], out.data, want);
		if (cf != NULL) {
			/* The formatted table parses back to the same. */
			struct mastercf *again;

			buf_truncate(&out, out.len - strlen(log));
			again = mastercf_parse(out.data, "master.cf");
			assert_non_null(again);
			assert_int_equal(again->count, cf->count);
			for (size_t j = 0; j < cf->count; j++)
				CHECK(master_ent_equal(cf->ents[j],
				    again->ents[j]), names[i]);
			mastercf_free(again);
		}
		mastercf_free(cf);
		free(log);
		free(text);
		free(want);
		buf_fini(&out);
		buf_fini(&file);
	}
}

static void
test_read(void **state)
{
	char path[] = "/tmp/test_mastercf.XXXXXX";
	static const char text[] = "smtp inet n - y - - smtpd\n"
	    "pickup unix n - y 60 1 pickup\n";
	struct mastercf *cf;
	char *log, *want;
	struct buf wantb;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)(sizeof(text) - 1));
	assert_int_equal(close(fd), 0);
	cf = mastercf_read(path);
	assert_non_null(cf);
	assert_int_equal(cf->count, 2);
	assert_string_equal(cf->ents[1]->file, path);
	assert_int_equal(cf->ents[1]->line, 2);
	mastercf_free(cf);

	/* A NUL byte is reported with its line. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\0y\n", 4), 4);
	assert_int_equal(close(fd), 0);
	capture_start();
	cf = mastercf_read(path);
	log = capture_end();
	assert_null(cf);
	buf_init(&wantb, 128);
	buf_printf(&wantb, "test: error: %s, line 3: NUL byte in file\n",
	    path);
	want = buf_steal(&wantb);
	assert_string_equal(log, want);
	free(log);
	free(want);
	buf_fini(&wantb);

	/* A missing file is reported. */
	assert_int_equal(unlink(path), 0);
	capture_start();
	cf = mastercf_read(path);
	log = capture_end();
	assert_null(cf);
	assert_non_null(strstr(log, "test: error: cannot read "));
	assert_non_null(strstr(log, "No such file or directory"));
	free(log);
	msg_error_reset();
}

/*
 * main.cf with master.cf: each service must see a valid configuration
 * once its -o overrides apply, as its program will load exactly that.
 */
static void
test_check_conf(void **state)
{
	static const struct {
		const char *label, *main_cf, *master_cf;
		int errors;
		const char *log;
	} cases[] = {
		{"no overrides", "max_use = 5\n",
		 "smtp inet n - n - - smtpd\n", 0, ""},
		{"good overrides", "",
		 "smtp inet n - n - - smtpd -o max_use=7 -o max_idle=5m\n"
		 "  -o smtpd_helo_required=yes -o { mydestination = a, b }\n",
		 0, ""},
		{"integer out of bounds", "",
		 "# c\nsmtp inet n - n - - smtpd -o max_use=0\n", 1,
		 "test: error: master.cf, line 2: service smtp/inet: "
		 "-o max_use=0: parameter max_use: bad value \"0\" "
		 "(expected integer 1..1000000000)\n"},
		{"bad time", "",
		 "pickup unix n - n 60 1 pickup -o max_idle=forever\n", 1,
		 "test: error: master.cf, line 1: service pickup/unix: "
		 "-o max_idle=forever: parameter max_idle: bad value "
		 "\"forever\" (expected time 1s..1000d)\n"},
		{"bad boolean", "",
		 "smtp inet n - n - - smtpd -o smtpd_helo_required=maybe\n",
		 1,
		 "test: error: master.cf, line 1: service smtp/inet: "
		 "-o smtpd_helo_required=maybe: parameter smtpd_helo_required: "
		 "bad value \"maybe\" (expected yes or no)\n"},
		{"unknown name", "",
		 "smtp inet n - n - - smtpd -o no_such_param=1\n", 1,
		 "test: error: master.cf, line 1: service smtp/inet: "
		 "-o no_such_param=1: unknown parameter no_such_param (and no "
		 "value refers to $no_such_param)\n"},
		{"unknown name once", "",
		 "smtp inet n - n - - smtpd -o zz=1 -o zz=2\n", 1,
		 "test: error: master.cf, line 1: service smtp/inet: "
		 "-o zz=1: unknown parameter zz (and no value refers to "
		 "$zz)\n"},
		{"referenced from main.cf", "mydestination = $my_dests\n"
		 "my_dests = localhost\n",
		 "smtp inet n - n - - smtpd -o my_dests=example.com\n", 0, ""},
		{"referenced from its own overrides", "",
		 "smtp inet n - n - - smtpd -o mydestination=${mine}\n"
		 "  -o mine=x\n", 0, ""},
		{"another service's reference does not count", "",
		 "a unix - - n - - a -o mine=x\n"
		 "b unix - - n - - b -o mydestination=$mine\n", 1,
		 "test: error: master.cf, line 1: service a/unix: -o mine=x: "
		 "unknown parameter mine (and no value refers to $mine)\n"},
		{"restriction class", "",
		 "smtp inet n - n - - smtpd -o smtpd_restriction_classes=strict"
		 "\n  -o strict=reject\n", 0, ""},
		{"per-transport parameter", "",
		 "relay unix - - n - - smtp\n"
		 "smtp inet n - n - - smtpd\n"
		 "  -o relay_destination_concurrency_limit=2\n", 0, ""},
		{"through a main.cf reference", "max_use = $uses\nuses = 5\n",
		 "smtp inet n - n - - smtpd -o uses=zero\n", 1,
		 "test: error: master.cf, line 1: service smtp/inet: main.cf, "
		 "line 1: parameter max_use: bad value \"zero\" (expected "
		 "integer 1..1000000000)\n"},
		{"every service", "",
		 "a unix - - n - - a -o max_use=0\n"
		 "b unix - - n - - b -o max_use=-1 -o bogus=1\n", 3,
		 "test: error: master.cf, line 1: service a/unix: "
		 "-o max_use=0: parameter max_use: bad value \"0\" (expected "
		 "integer 1..1000000000)\n"
		 "test: error: master.cf, line 2: service b/unix: "
		 "-o max_use=-1: parameter max_use: bad value \"-1\" (expected "
		 "integer 1..1000000000)\n"
		 "test: error: master.cf, line 2: service b/unix: -o bogus=1: "
		 "unknown parameter bogus (and no value refers to $bogus)\n"},
		{"unused main.cf parameter", "foo = 1\nmine = 2\n",
		 "smtp inet n - n - - smtpd -o mydestination=$mine\n", 1,
		 "test: error: main.cf, line 1: unused parameter: foo=1\n"},
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct conf *c = conf_new();
		struct mastercf *cf;
		char *log;
		int errors;

		if (conf_read_text(c, cases[i].main_cf, "main.cf") < 0)
			fail_msg("%s: bad main.cf", cases[i].label);
		cf = mastercf_parse(cases[i].master_cf, "master.cf");
		if (cf == NULL)
			fail_msg("%s: bad master.cf", cases[i].label);
		msg_error_reset();
		capture_start();
		errors = mastercf_check_conf(cf, c);
		log = capture_end();
		CHECK_STR_OR_NULL(log, cases[i].log, cases[i].label);
		if (errors != cases[i].errors)
			fail_msg("case \"%s\": %d errors, want %d",
			    cases[i].label, errors, cases[i].errors);
		/* The overrides went into a copy. */
		CHECK(conf_lookup(c, "no_such_param") == NULL
		    && (conf_lookup(c, "max_use") == NULL
			|| conf_lookup(c, "max_use")->line > 0),
		    cases[i].label);
		free(log);
		mastercf_free(cf);
		conf_free(c);
	}
	msg_error_reset();
}

/* Programs in daemon_directory, and daemon_directory itself. */
static void
test_check_programs(void **state)
{
	char dir[] = "/tmp/test_mastercf.XXXXXX";
	struct buf path, text, want;
	struct mastercf *cf;
	struct conf *c;
	char *log;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	buf_init(&path, 64);
	buf_init(&text, 256);
	buf_init(&want, 256);
	buf_printf(&path, "%s/prog", dir);
	fd = open(path.data, O_WRONLY | O_CREAT, 0755);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path.data, 0755), 0);
	buf_reset(&path);
	buf_printf(&path, "%s/noexec", dir);
	fd = open(path.data, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	buf_reset(&path);
	buf_printf(&path, "%s/sub", dir);
	assert_int_equal(mkdir(path.data, 0755), 0);
	cf = mastercf_parse("a unix - - n - - prog\n"
	    "b unix - - n - - missing\n"
	    "c unix - - n - - noexec\n"
	    "d unix - - n - - sub\n"
	    "e unix - - n - - /nonexistent/abs\n", "master.cf");
	assert_non_null(cf);

	/* A good daemon_directory: one error per bad program. */
	c = conf_new();
	buf_printf(&text, "# main.cf\ndaemon_directory = %s\n", dir);
	assert_int_equal(conf_read_text(c, text.data, "main.cf"), 0);
	msg_error_reset();
	capture_start();
	assert_int_equal(mastercf_check_programs(cf, c,
	    (const char *const[]){"prog", "master", NULL}), 5);
	log = capture_end();
	buf_printf(&want, "test: error: program %s/master: No such file or "
	    "directory\n"
	    "test: error: master.cf, line 2: service b: program %s/missing: "
	    "No such file or directory\n"
	    "test: error: master.cf, line 3: service c: program %s/noexec: "
	    "Permission denied\n"
	    "test: error: master.cf, line 4: service d: program %s/sub: "
	    "Is a directory\n"
	    "test: error: master.cf, line 5: service e: program "
	    "/nonexistent/abs: No such file or directory\n",
	    dir, dir, dir, dir);
	assert_string_equal(log, want.data);
	free(log);
	conf_free(c);

	/* A missing daemon_directory: one error naming the parameter. */
	c = conf_new();
	assert_int_equal(conf_read_text(c, "# main.cf\n"
	    "daemon_directory = /nonexistent/libexec\n", "/etc/main.cf"), 0);
	msg_error_reset();
	capture_start();
	assert_int_equal(mastercf_check_programs(cf, c,
	    (const char *const[]){"master", NULL}), 2);
	log = capture_end();
	assert_string_equal(log, "test: error: /etc/main.cf, line 2: "
	    "daemon_directory = /nonexistent/libexec: No such file or "
	    "directory\n"
	    "test: error: master.cf, line 5: service e: program "
	    "/nonexistent/abs: No such file or directory\n");
	free(log);
	conf_free(c);

	/* A file, and a $name that leads to one: still the parameter. */
	c = conf_new();
	buf_reset(&text);
	buf_printf(&text, "top = %s\ndaemon_directory = $top/prog\n", dir);
	assert_int_equal(conf_read_text(c, text.data, "main.cf"), 0);
	msg_error_reset();
	capture_start();
	assert_int_equal(mastercf_check_programs(cf, c, NULL), 2);
	log = capture_end();
	buf_reset(&want);
	buf_printf(&want, "test: error: main.cf, line 2: daemon_directory = "
	    "%s/prog: not a directory\n"
	    "test: error: master.cf, line 5: service e: program "
	    "/nonexistent/abs: No such file or directory\n", dir);
	assert_string_equal(log, want.data);
	free(log);
	conf_free(c);
	msg_error_reset();

	mastercf_free(cf);
	buf_reset(&path);
	buf_printf(&path, "%s/prog", dir);
	(void)unlink(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/noexec", dir);
	(void)unlink(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/sub", dir);
	(void)rmdir(path.data);
	assert_int_equal(rmdir(dir), 0);
	buf_fini(&path);
	buf_fini(&text);
	buf_fini(&want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_valid_entries, setup),
		cmocka_unit_test_setup(test_invalid_entries, setup),
		cmocka_unit_test_setup(test_long_value_quoted, setup),
		cmocka_unit_test_setup(test_files, setup),
		cmocka_unit_test_setup(test_continuation_fields, setup),
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test_setup(test_compare, setup),
		cmocka_unit_test_setup(test_type_names, setup),
		cmocka_unit_test_setup(test_golden, setup),
		cmocka_unit_test_setup(test_read, setup),
		cmocka_unit_test_setup(test_check_conf, setup),
		cmocka_unit_test_setup(test_check_programs, setup),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
