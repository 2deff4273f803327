/*
 * test_smtpd_policy.c - unit tests for smtpd_check_policy_parse.c
 *
 * The pure parts of check_policy_service, table-driven: the argument
 * ("inet:host:port", "unix:path", "{ server, name=value, ... }" with
 * every setting and every error), server names, default actions, the
 * request encoder (no value can end its line), the reply parser
 * (complete, malformed, oversized, hostile), and check_policy_service
 * inside a restriction list. The client itself runs against real
 * policy servers in tests/integration/test_smtpd_policy.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "smtpd_check.h"
#include "smtpd_check_policy.h"
#include "testutil.h"

#define CHECK_HAS(got, want, label) do { \
	if (strstr((got), (want)) == NULL) \
		fail_msg("case \"%s\": \"%s\" lacks \"%s\"", (label), \
		    (got), (want)); \
} while (0)

static const struct check_policy_spec dflt = {
	.timeout = 100,
	.max_idle = 300,
	.max_ttl = 1000,
	.request_limit = 0,
	.try_limit = 2,
	.retry_delay = 1,
	.default_action = "451 4.3.5 Server configuration problem",
	.policy_context = "",
};

/* ---- the argument -------------------------------------------------------- */

struct spec_case {
	const char *label;
	const char *arg;
	const char *want_error;		/* NULL */
	const char *server;
	int timeout, max_idle, max_ttl, request_limit, try_limit,
	    retry_delay;
	const char *default_action, *policy_context;
};

#define D_ACT	"451 4.3.5 Server configuration problem"

static const struct spec_case spec_cases[] = {
	{ "plain inet", "inet:127.0.0.1:9998", NULL, "inet:127.0.0.1:9998",
	    100, 300, 1000, 0, 2, 1, D_ACT, "" },
	{ "plain unix", "unix:private/policy", NULL, "unix:private/policy",
	    100, 300, 1000, 0, 2, 1, D_ACT, "" },
	{ "braced, server only", "{inet:localhost:10023}", NULL,
	    "inet:localhost:10023", 100, 300, 1000, 0, 2, 1, D_ACT, "" },
	{ "every setting", "{ inet:[::1]:9998, timeout=10s, max_idle=5m, "
	    "max_ttl=1h, request_limit=7, try_limit=3, retry_delay=0s, "
	    "default_action=DUNNO, policy_context=submission }", NULL,
	    "inet:[::1]:9998", 10, 300, 3600, 7, 3, 0, "DUNNO",
	    "submission" },
	{ "blanks as separators", "{ unix:/run/p timeout=2\tmax_idle=1d\n}",
	    NULL, "unix:/run/p", 2, 86400, 1000, 0, 2, 1, D_ACT, "" },
	{ "value with blanks in braces", "{ inet:h:1, { default_action = "
	    "DEFER_IF_PERMIT Policy server down } }", NULL, "inet:h:1",
	    100, 300, 1000, 0, 2, 1, "DEFER_IF_PERMIT Policy server down",
	    "" },
	{ "empty policy_context", "{ inet:h:1, {policy_context=} }", NULL,
	    "inet:h:1", 100, 300, 1000, 0, 2, 1, D_ACT, "" },
};

static const struct spec_error {
	const char *label, *arg, *want_error;
} spec_errors[] = {
	{ "unknown attribute", "{ inet:h:1, bogus=1 }",
	    "unknown attribute \"bogus\" (expected timeout, max_idle" },
	{ "attribute case", "{ inet:h:1, Timeout=1s }",
	    "unknown attribute \"Timeout\"" },
	{ "missing server", "{ timeout=1s }", "missing policy server name" },
	{ "empty braces", "{ }", "missing policy server name" },
	{ "braced first", "{ {timeout=1}, inet:h:1 }",
	    "missing policy server name" },
	{ "bad timeout", "{ inet:h:1, timeout=soon }",
	    "bad timeout value \"soon\" (expected a time 1s..1000d)" },
	{ "zero timeout", "{ inet:h:1, timeout=0 }", "bad timeout value \"0\"" },
	{ "timeout unit", "{ inet:h:1, timeout=3x }",
	    "bad timeout value \"3x\"" },
	{ "huge timeout", "{ inet:h:1, timeout=99999999999999999999 }",
	    "bad timeout value" },
	{ "retry_delay over an hour", "{ inet:h:1, retry_delay=2h }",
	    "bad retry_delay value \"2h\" (expected a time 0s..1h)" },
	{ "try_limit zero", "{ inet:h:1, try_limit=0 }",
	    "bad try_limit value \"0\" (expected 1..100)" },
	{ "request_limit negative", "{ inet:h:1, request_limit=-1 }",
	    "bad request_limit value \"-1\"" },
	{ "no value", "{ inet:h:1, timeout }", "\"timeout\": expected "
	    "name=value" },
	{ "empty value", "{ inet:h:1, timeout= }", "bad timeout value \"\"" },
	{ "twice", "{ inet:h:1, timeout=1, timeout=2 }",
	    "attribute \"timeout\" is given twice" },
	{ "bad default_action code", "{ inet:h:1, {default_action=250 ok} }",
	    "default_action: bad reply code" },
	{ "default_action FILTER", "{ inet:h:1, {default_action=FILTER "
	    "smtp:x} }", "default_action: action \"FILTER smtp:x\" is not "
	    "supported" },
	{ "empty default_action", "{ inet:h:1, default_action= }",
	    "default_action: empty action" },
	{ "unbalanced", "{ inet:h:1, timeout=1", "unbalanced \"{\"" },
	{ "unbalanced inner", "{ inet:h:1, {timeout=1 }",
	    "unbalanced \"{\" in \"{timeout=1 \"" },
	{ "brace in name", "inet:h:1}", "bad policy server \"inet:h:1}\"" },
	{ "no type", "127.0.0.1:9998", "bad policy server \"127.0.0.1:9998\" "
	    "(expected inet:host:port or unix:pathname)" },
	{ "bad server in braces", "{ tcp:h:1 }", "bad policy server" },
};

static void
test_spec(void **state)
{
	struct check_policy_spec s;
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	for (size_t i = 0; i < NELEM(spec_errors); i++) {
		const struct spec_error *c = &spec_errors[i];

		buf_reset(&why);
		CHECK(!check_policy_spec_parse(c->arg, &dflt, &s, &why),
		    c->label);
		CHECK_HAS(why.data, c->want_error, c->label);
		CHECK(s.server == NULL && s.default_action == NULL, c->label);
	}
	for (size_t i = 0; i < NELEM(spec_cases); i++) {
		const struct spec_case *c = &spec_cases[i];
		bool ok;

		buf_reset(&why);
		ok = check_policy_spec_parse(c->arg, &dflt, &s, &why);
		if (!ok)
			fail_msg("case \"%s\": %s", c->label, why.data);
		CHECK_STR(s.server, c->server, c->label);
		CHECK(s.timeout == c->timeout, c->label);
		CHECK(s.max_idle == c->max_idle, c->label);
		CHECK(s.max_ttl == c->max_ttl, c->label);
		CHECK(s.request_limit == c->request_limit, c->label);
		CHECK(s.try_limit == c->try_limit, c->label);
		CHECK(s.retry_delay == c->retry_delay, c->label);
		CHECK_STR(s.default_action, c->default_action, c->label);
		CHECK_STR(s.policy_context, c->policy_context, c->label);
		check_policy_spec_fini(&s);
	}
	buf_fini(&why);
}

/* The main.cf defaults' strings are copied, never shared. */
static void
test_spec_copies(void **state)
{
	struct check_policy_spec s;
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	assert_true(check_policy_spec_parse("inet:h:1", &dflt, &s, &why));
	assert_ptr_not_equal(s.default_action, dflt.default_action);
	assert_ptr_not_equal(s.policy_context, dflt.policy_context);
	check_policy_spec_fini(&s);
	check_policy_spec_fini(&s);		/* idempotent */
	buf_fini(&why);
}

/* ---- server names -------------------------------------------------------- */

struct endpoint_case {
	const char *label;
	const char *server;
	bool ok;
	bool inet;
	const char *host, *port, *path;
};

static const struct endpoint_case endpoint_cases[] = {
	{ "inet", "inet:127.0.0.1:9998", true, true, "127.0.0.1", "9998",
	    NULL },
	{ "inet name", "inet:policy.example:10023", true, true,
	    "policy.example", "10023", NULL },
	{ "inet service", "inet:localhost:postgrey", true, true, "localhost",
	    "postgrey", NULL },
	{ "inet ipv6", "inet:[2001:db8::1]:9998", true, true, "2001:db8::1",
	    "9998", NULL },
	{ "type case", "INET:h:1", true, true, "h", "1", NULL },
	{ "unix absolute", "unix:/var/run/policy.sock", true, false, NULL,
	    NULL, "/var/run/policy.sock" },
	{ "unix relative", "unix:private/policy", true, false, NULL, NULL,
	    "private/policy" },
	{ "local", "local:private/policy", true, false, NULL, NULL,
	    "private/policy" },
	{ "no port", "inet:127.0.0.1", false, false, NULL, NULL, NULL },
	{ "empty port", "inet:127.0.0.1:", false, false, NULL, NULL, NULL },
	{ "port zero", "inet:127.0.0.1:0", false, false, NULL, NULL, NULL },
	{ "port too big", "inet:127.0.0.1:65536", false, false, NULL, NULL, NULL },
	{ "port junk", "inet:127.0.0.1:99x", false, false, NULL, NULL, NULL },
	{ "empty host", "inet::9998", false, false, NULL, NULL, NULL },
	{ "bare ipv6", "inet:::1:9998", false, false, NULL, NULL, NULL },
	{ "empty brackets", "inet:[]:9998", false, false, NULL, NULL, NULL },
	{ "empty path", "unix:", false, false, NULL, NULL, NULL },
	{ "no type", "private/policy", false, false, NULL, NULL, NULL },
	{ "other type", "pass:private/policy", false, false, NULL, NULL, NULL },
	{ "blank", "inet:a b:1", false, false, NULL, NULL, NULL },
	{ "control", "unix:/tmp/a\nb", false, false, NULL, NULL, NULL },
	{ "path too long", "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaa", false, false, NULL, NULL, NULL },
};

static void
test_endpoint(void **state)
{
	struct check_policy_endpoint ep;
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	for (size_t i = 0; i < NELEM(endpoint_cases); i++) {
		const struct endpoint_case *c = &endpoint_cases[i];
		bool ok;

		buf_reset(&why);
		ok = check_policy_endpoint_parse(c->server, &ep, &why);
		CHECK(ok == c->ok, c->label);
		if (!ok) {
			CHECK(why.len > 0, c->label);
			CHECK(ep.host == NULL && ep.path == NULL, c->label);
			continue;
		}
		CHECK(ep.inet == c->inet, c->label);
		if (c->inet) {
			CHECK_STR(ep.host, c->host, c->label);
			CHECK_STR(ep.port, c->port, c->label);
		} else {
			CHECK_STR(ep.path, c->path, c->label);
		}
		check_policy_endpoint_fini(&ep);
	}
	buf_fini(&why);
}

/* ---- default actions ----------------------------------------------------- */

static void
test_action_valid(void **state)
{
	static const struct {
		const char *action;
		bool ok;
	} cases[] = {
		{ "DUNNO", true },
		{ "451 4.3.5 Server configuration problem", true },
		{ "DEFER_IF_PERMIT Service unavailable", true },
		{ "reject_unauth_destination, permit", true },
		{ "", false },
		{ "  ", false },
		{ "250 fine", false },
		{ "600 what", false },
		{ "BCC x@y", false },
		{ "REJECT caf\xc3\xa9", false },
	};
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	for (size_t i = 0; i < NELEM(cases); i++) {
		buf_reset(&why);
		CHECK(check_policy_action_valid(cases[i].action, &why)
		    == cases[i].ok, cases[i].action);
		CHECK(cases[i].ok || why.len > 0, cases[i].action);
	}
	buf_fini(&why);
}

/* ---- requests ------------------------------------------------------------ */

static int
count_nl(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void
test_attr(void **state)
{
	static const struct {
		const char *label, *name, *value, *want;
	} cases[] = {
		{ "plain", "sender", "joe@example.org",
		    "sender=joe@example.org\n" },
		{ "empty", "helo_name", "", "helo_name=\n" },
		{ "null", "queue_id", NULL, "queue_id=\n" },
		{ "equals kept", "sender", "a=b@c", "sender=a=b@c\n" },
		{ "LF", "helo_name", "x\nrecipient=evil@example",
		    "helo_name=x?recipient=evil@example\n" },
		{ "CR LF", "helo_name", "x\r\n\r\naction=OK",
		    "helo_name=x????action=OK\n" },
		{ "controls", "sender", "\x01\x1f\x7f" "a\tb",
		    "sender=???a?b\n" },
		{ "UTF-8 kept", "sender", "j\xc3\xb6@example.org",
		    "sender=j\xc3\xb6@example.org\n" },
		{ "trailing LF", "recipient", "bob@localhost\n",
		    "recipient=bob@localhost?\n" },
	};
	struct buf out;

	(void)state;
	buf_init(&out, 64);
	for (size_t i = 0; i < NELEM(cases); i++) {
		buf_set(&out, "request=smtpd_access_policy\n");
		check_policy_attr(&out, cases[i].name, cases[i].value);
		CHECK_STR(out.data + strlen("request=smtpd_access_policy\n"),
		    cases[i].want, cases[i].label);
		/* Exactly two lines, whatever the value; no CR at all. */
		CHECK(count_nl(out.data) == 2, cases[i].label);
		CHECK(out.data[out.len - 1] == '\n', cases[i].label);
		CHECK(strchr(out.data, '\r') == NULL, cases[i].label);
	}
	buf_fini(&out);
}

/* ---- replies ------------------------------------------------------------- */

struct reply_case {
	const char *label;
	const char *reply;
	size_t len;		/* 0: strlen */
	const char *want;	/* the action, or NULL: malformed */
	const char *want_error;
};

static const struct reply_case reply_cases[] = {
	{ "dunno", "action=dunno\n\n", 0, "dunno", NULL },
	{ "text", "action=DEFER_IF_PERMIT Greylisted, see "
	    "http://postgrey.schweikert.ch/help/example.com.html\n\n", 0,
	    "DEFER_IF_PERMIT Greylisted, see "
	    "http://postgrey.schweikert.ch/help/example.com.html", NULL },
	{ "prepend", "action=PREPEND X-Greylist: delayed 2 seconds\n\n", 0,
	    "PREPEND X-Greylist: delayed 2 seconds", NULL },
	{ "CR LF", "action=OK\r\n\r\n", 0, "OK", NULL },
	{ "others ignored", "foo=bar\naction=REJECT no\nreason=x=y\n\n", 0,
	    "REJECT no", NULL },
	{ "equals in action", "action=REJECT a=b\n\n", 0, "REJECT a=b", NULL },
	{ "tab kept", "action=REJECT a\tb\n\n", 0, "REJECT a\tb", NULL },
	{ "UTF-8 elsewhere", "note=caf\xc3\xa9\naction=OK\n\n", 0, "OK", NULL },
	{ "no action", "result=OK\n\n", 0, NULL, "no action attribute" },
	{ "only the empty line", "\n", 0, NULL, "no action attribute" },
	{ "twice", "action=OK\naction=REJECT\n\n", 0, NULL,
	    "action attribute given twice" },
	{ "empty action", "action=\n\n", 0, NULL, "empty action" },
	{ "blank action", "action= \t\n\n", 0, NULL, "empty action" },
	{ "not name=value", "hello\n\n", 0, NULL,
	    "reply line is not name=value" },
	{ "no name", "=OK\n\n", 0, NULL, "reply line is not name=value" },
	{ "Action case", "Action=OK\n\n", 0, NULL, "no action attribute" },
	{ "unterminated", "action=OK\n", 0, NULL,
	    "reply does not end with an empty line" },
	{ "no newline", "action=OK", 0, NULL,
	    "reply does not end with a newline" },
	{ "empty", "", 0, NULL, "reply does not end with an empty line" },
	{ "after the end", "action=OK\n\naction=REJECT\n\n", 0, NULL,
	    "data after the end of the reply" },
	{ "NUL", "action=OK\0REJECT\n\n", 15, NULL, "NUL byte in reply" },
	/* The server's decision stands; its text is made printable. */
	{ "control in action", "action=REJECT a\x1b[2Jb\n\n", 0,
	    "REJECT a?[2Jb", NULL },
	{ "bare CR in action", "action=REJECT a\rb\n\n", 0, "REJECT a?b",
	    NULL },
	{ "8-bit action", "action=REJECT caf\xc3\xa9\n\n", 0,
	    "REJECT caf??", NULL },

};

static void
test_reply(void **state)
{
	struct buf action, why;

	(void)state;
	buf_init(&action, 64);
	buf_init(&why, 64);
	for (size_t i = 0; i < NELEM(reply_cases); i++) {
		const struct reply_case *c = &reply_cases[i];
		size_t len = c->len ? c->len : strlen(c->reply);
		char *copy = xmemdup(c->reply, len ? len : 1);
		bool ok;

		buf_reset(&why);
		/* A copy of exactly len bytes: reads past it are caught. */
		ok = check_policy_reply_parse(copy, len, &action, &why);
		free(copy);
		if (c->want == NULL) {
			CHECK(!ok, c->label);
			CHECK_HAS(why.data, c->want_error, c->label);
			continue;
		}
		if (!ok)
			fail_msg("case \"%s\": %s", c->label, why.data);
		CHECK_STR(action.data, c->want, c->label);
	}
	buf_fini(&action);
	buf_fini(&why);
}

/* A long action is taken whole: the size limit is the reader's. */
static void
test_reply_long(void **state)
{
	struct buf reply, action, why;

	(void)state;
	buf_init(&reply, 64);
	buf_init(&action, 64);
	buf_init(&why, 64);
	buf_puts(&reply, "action=REJECT ");
	for (int i = 0; i < 1000; i++)
		buf_puts(&reply, "abcdefgh");
	buf_puts(&reply, "\n\n");
	assert_true(check_policy_reply_parse(reply.data, reply.len, &action,
	    &why));
	assert_int_equal(action.len, strlen("REJECT ") + 8000);
	buf_fini(&reply);
	buf_fini(&action);
	buf_fini(&why);
}

/* ---- in a restriction list ----------------------------------------------- */

static struct check_policy *found;
static char *found_arg;

static struct check_policy *
test_policy_find(void *ctx, const char *arg, struct buf *why)
{
	(void)ctx;
	if (strstr(arg, "fail") != NULL) {
		buf_set(why, "no such server");
		return NULL;
	}
	free(found_arg);
	found_arg = xstrdup(arg);
	return found;
}

static void
test_list(void **state)
{
	static const struct check_parser with = {
		.policy_find = test_policy_find,
	};
	static const struct check_parser without = { 0 };
	struct check_list *l;
	struct buf why;

	(void)state;
	found = (struct check_policy *)&found;	/* any non-NULL token */
	buf_init(&why, 64);
	l = check_list_parse("smtpd_recipient_restrictions",
	    "reject_unauth_destination, check_policy_service "
	    "{ inet:127.0.0.1:9998, timeout=10s }, permit", &with, &why);
	assert_non_null(l);
	assert_int_equal(l->count, 3);
	assert_string_equal(l->items[1].def->name, "check_policy_service");
	assert_ptr_equal(l->items[1].policy, found);
	assert_string_equal(found_arg,
	    "{ inet:127.0.0.1:9998, timeout=10s }");
	/* Not a relay protection. */
	check_list_free(l);
	l = check_list_parse("x", "CHECK_POLICY_SERVICE unix:private/p", &with,
	    &why);
	assert_non_null(l);
	assert_false(check_list_protects(l));
	assert_string_equal(found_arg, "unix:private/p");
	check_list_free(l);

	buf_reset(&why);
	assert_null(check_list_parse("x", "permit_mynetworks, "
	    "check_policy_service", &with, &why));
	assert_string_equal(why.data, "restriction check_policy_service needs "
	    "a policy server (inet:host:port or unix:pathname)");
	buf_reset(&why);
	assert_null(check_list_parse("x", "check_policy_service inet:fail:1",
	    &with, &why));
	assert_string_equal(why.data, "restriction check_policy_service: "
	    "no such server");
	buf_reset(&why);
	assert_null(check_list_parse("x", "check_policy_service inet:h:1",
	    &without, &why));
	assert_string_equal(why.data, "restriction check_policy_service: "
	    "policy servers are not available here");
	free(found_arg);
	found_arg = NULL;
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_spec_copies),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_action_valid),
		cmocka_unit_test(test_attr),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_reply_long),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
