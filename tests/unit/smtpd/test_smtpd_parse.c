/*
 * test_smtpd_parse.c - unit tests for smtpd_parse.c (MAIL and RCPT
 * arguments)
 *
 * Table-driven: each case is the text after "MAIL " or "RCPT ", the
 * options (strict envelopes, SMTPUTF8 and DSN offered, SMTPUTF8 in the
 * transaction) and either the exact reply or every result field. A
 * failed case leaves no result behind, and one args struct is reused
 * across all cases, as smtpd does, so stale results would show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "buf.h"
#include "cleanup_proto.h"
#include "smtpd_parse.h"
#include "testutil.h"

/* Option sets. */
#define O_LAX	0	/* strict_rfc821_envelopes = no, all offered */
#define O_STRICT 1
#define O_NOUTF8 2	/* SMTPUTF8 not offered */
#define O_NODSN	3	/* DSN not offered (discarded) */
#define O_TXUTF8 4	/* RCPT in a MAIL ... SMTPUTF8 transaction */

static const struct smtpd_parse_opts opt_sets[] = {
	[O_LAX] = {.strict = false, .utf8 = true, .dsn = true},
	[O_STRICT] = {.strict = true, .utf8 = true, .dsn = true},
	[O_NOUTF8] = {.strict = false, .utf8 = false, .dsn = true},
	[O_NODSN] = {.strict = false, .utf8 = true, .dsn = false},
	[O_TXUTF8] = {.strict = false, .utf8 = true, .dsn = true,
	    .tx_utf8 = true},
};

#define BAD_SENDER	"501 5.1.7 Bad sender address syntax"
#define BAD_RCPT	"501 5.1.3 Bad recipient address syntax"
#define NEED_UTF8	"553 5.6.7 Must declare SMTPUTF8 to send unicode " \
			"address"

/* ---- MAIL ---------------------------------------------------------------- */

struct mail_case {
	const char *label;
	int opts;
	const char *in;
	const char *reply;	/* NULL: accepted, and then: */
	const char *sender;
	long size;
	const char *body, *ret, *envid;
	bool smtputf8;
};

#define MAIL_OK(label, o, in, sender, size, body, ret, envid, utf8) \
	{label, o, in, NULL, sender, size, body, ret, envid, utf8}
#define MAIL_BAD(label, o, in, reply) \
	{label, o, in, reply, NULL, 0, NULL, NULL, NULL, false}

static const struct mail_case mail_cases[] = {
	MAIL_OK("plain", O_LAX, "FROM:<ann@example.com>", "ann@example.com",
	    0, NULL, NULL, NULL, false),
	MAIL_OK("keyword case", O_STRICT, "from:<ann@example.com>",
	    "ann@example.com", 0, NULL, NULL, NULL, false),
	MAIL_OK("mixed case", O_STRICT, "FrOm:<ann@example.com>",
	    "ann@example.com", 0, NULL, NULL, NULL, false),
	MAIL_OK("null sender", O_STRICT, "FROM:<>", "", 0, NULL, NULL, NULL,
	    false),
	MAIL_OK("space after colon", O_STRICT, "FROM: <ann@example.com>",
	    "ann@example.com", 0, NULL, NULL, NULL, false),
	MAIL_OK("trailing spaces", O_STRICT, "FROM:<a@b.example>  ",
	    "a@b.example", 0, NULL, NULL, NULL, false),
	MAIL_OK("source route dropped", O_STRICT,
	    "FROM:<@relay.example,@r2.example:ann@example.com>",
	    "ann@example.com", 0, NULL, NULL, NULL, false),
	MAIL_OK("bare local part", O_STRICT, "FROM:<postmaster>",
	    "postmaster", 0, NULL, NULL, NULL, false),
	MAIL_OK("address literal", O_STRICT, "FROM:<a@[192.0.2.1]>",
	    "a@[192.0.2.1]", 0, NULL, NULL, NULL, false),
	MAIL_OK("lax without brackets", O_LAX, "FROM:ann@example.com",
	    "ann@example.com", 0, NULL, NULL, NULL, false),
	MAIL_OK("lax without brackets, params", O_LAX,
	    "FROM:ann@example.com SIZE=10", "ann@example.com", 10, NULL,
	    NULL, NULL, false),
	MAIL_BAD("strict needs brackets", O_STRICT, "FROM:ann@example.com",
	    BAD_SENDER),
	MAIL_OK("size", O_STRICT, "FROM:<a@b.example> SIZE=12345",
	    "a@b.example", 12345, NULL, NULL, NULL, false),
	MAIL_OK("size zero", O_STRICT, "FROM:<a@b.example> SIZE=0",
	    "a@b.example", 0, NULL, NULL, NULL, false),
	MAIL_OK("size 20 digits saturates", O_STRICT,
	    "FROM:<a@b.example> SIZE=99999999999999999999", "a@b.example",
	    LONG_MAX, NULL, NULL, NULL, false),
	MAIL_OK("size LONG_MAX", O_STRICT,
	    "FROM:<a@b.example> SIZE=9223372036854775807", "a@b.example",
	    LONG_MAX, NULL, NULL, NULL, false),
	MAIL_BAD("size 21 digits", O_STRICT,
	    "FROM:<a@b.example> SIZE=123456789012345678901",
	    "501 5.5.4 Bad message size syntax"),
	MAIL_BAD("size negative", O_STRICT, "FROM:<a@b.example> SIZE=-1",
	    "501 5.5.4 Bad message size syntax"),
	MAIL_BAD("size plus", O_STRICT, "FROM:<a@b.example> SIZE=+1",
	    "501 5.5.4 Bad message size syntax"),
	MAIL_BAD("size letters", O_STRICT, "FROM:<a@b.example> SIZE=1k",
	    "501 5.5.4 Bad message size syntax"),
	MAIL_BAD("size without value", O_STRICT, "FROM:<a@b.example> SIZE",
	    "555 5.5.4 Unsupported option: SIZE"),
	MAIL_BAD("size empty value", O_STRICT, "FROM:<a@b.example> SIZE=",
	    "501 5.5.4 Bad MAIL parameter syntax"),
	MAIL_OK("body 8bitmime", O_STRICT,
	    "FROM:<a@b.example> BODY=8BITMIME", "a@b.example", 0, "8BITMIME",
	    NULL, NULL, false),
	MAIL_OK("body 7bit any case", O_STRICT, "FROM:<a@b.example> body=7bit",
	    "a@b.example", 0, "7BIT", NULL, NULL, false),
	MAIL_BAD("body binarymime", O_STRICT,
	    "FROM:<a@b.example> BODY=BINARYMIME",
	    "501 5.5.4 Unsupported BODY parameter"),
	MAIL_OK("smtputf8", O_STRICT, "FROM:<a@b.example> SMTPUTF8",
	    "a@b.example", 0, NULL, NULL, NULL, true),
	MAIL_OK("utf8 sender with smtputf8", O_STRICT,
	    "FROM:<j\xc3\xb6rg@b\xc3\xbc.example> SMTPUTF8",
	    "j\xc3\xb6rg@b\xc3\xbc.example", 0, NULL, NULL, NULL, true),
	MAIL_BAD("utf8 sender without smtputf8", O_STRICT,
	    "FROM:<j\xc3\xb6rg@example.com>", NEED_UTF8),
	MAIL_BAD("utf8 sender, smtputf8 not offered", O_NOUTF8,
	    "FROM:<j\xc3\xb6rg@example.com>", NEED_UTF8),
	MAIL_BAD("smtputf8 not offered", O_NOUTF8,
	    "FROM:<a@b.example> SMTPUTF8", "555 5.5.4 Unsupported option: "
	    "SMTPUTF8"),
	MAIL_BAD("smtputf8 with value", O_STRICT,
	    "FROM:<a@b.example> SMTPUTF8=yes", "555 5.5.4 Unsupported option: "
	    "SMTPUTF8"),
	MAIL_BAD("bad utf8 sender", O_STRICT,
	    "FROM:<j\xc3(rg@example.com> SMTPUTF8", BAD_SENDER),
	MAIL_OK("ret full", O_STRICT, "FROM:<a@b.example> RET=FULL",
	    "a@b.example", 0, NULL, "full", NULL, false),
	MAIL_OK("ret hdrs any case", O_STRICT, "FROM:<a@b.example> ret=Hdrs",
	    "a@b.example", 0, NULL, "hdrs", NULL, false),
	MAIL_BAD("ret bad", O_STRICT, "FROM:<a@b.example> RET=BODY",
	    "501 5.5.4 Bad RET parameter syntax"),
	MAIL_BAD("ret twice", O_STRICT,
	    "FROM:<a@b.example> RET=FULL RET=HDRS",
	    "501 5.5.4 Duplicate RET parameter"),
	MAIL_OK("envid xtext", O_STRICT,
	    "FROM:<a@b.example> ENVID=QQ+2B123+3Dx", "a@b.example", 0, NULL,
	    NULL, "QQ+123=x", false),
	MAIL_BAD("envid bad xtext", O_STRICT, "FROM:<a@b.example> ENVID=a+zz",
	    "501 5.5.4 Bad ENVID parameter syntax"),
	MAIL_BAD("envid decodes to control", O_STRICT,
	    "FROM:<a@b.example> ENVID=a+0Ab",
	    "501 5.5.4 Bad ENVID parameter syntax"),
	MAIL_BAD("envid decodes to NUL", O_STRICT,
	    "FROM:<a@b.example> ENVID=a+00b",
	    "501 5.5.4 Bad ENVID parameter syntax"),
	MAIL_OK("envid 100 bytes", O_STRICT, "FROM:<a@b.example> ENVID="
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789" "01234567890123456789",
	    "a@b.example", 0, NULL, NULL,
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789" "01234567890123456789",
	    false),
	MAIL_BAD("envid 101 bytes", O_STRICT, "FROM:<a@b.example> ENVID="
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789" "012345678901234567890",
	    "501 5.5.4 Bad ENVID parameter syntax"),
	MAIL_BAD("envid twice", O_STRICT, "FROM:<a@b.example> ENVID=x ENVID=y",
	    "501 5.5.4 Duplicate ENVID parameter"),
	MAIL_BAD("dsn discarded: ret", O_NODSN, "FROM:<a@b.example> RET=FULL",
	    "555 5.5.4 Unsupported option: RET"),
	MAIL_BAD("dsn discarded: envid", O_NODSN, "FROM:<a@b.example> ENVID=x",
	    "555 5.5.4 Unsupported option: ENVID"),
	MAIL_OK("auth ignored", O_STRICT, "FROM:<a@b.example> AUTH=<>",
	    "a@b.example", 0, NULL, NULL, NULL, false),
	MAIL_OK("everything", O_STRICT,
	    "FROM:<a@b.example> SIZE=7 BODY=8BITMIME RET=HDRS ENVID=e1 "
	    "SMTPUTF8", "a@b.example", 7, "8BITMIME", "hdrs", "e1", true),
	MAIL_BAD("unknown parameter", O_STRICT, "FROM:<a@b.example> FOO=bar",
	    "555 5.5.4 Unsupported option: FOO"),
	MAIL_BAD("unknown parameter after good ones", O_STRICT,
	    "FROM:<a@b.example> SIZE=1 XYZZY",
	    "555 5.5.4 Unsupported option: XYZZY"),
	MAIL_BAD("long unknown keyword quoted to 100 bytes", O_STRICT,
	    "FROM:<a@b.example> "
	    "K123456789012345678901234567890123456789012345678901234567890"
	    "1234567890123456789012345678901234567890123456789",
	    "555 5.5.4 Unsupported option: "
	    "K123456789012345678901234567890123456789012345678901234567890"
	    "123456789012345678901234567890123456789"),
	MAIL_BAD("keyword with underscore", O_STRICT,
	    "FROM:<a@b.example> A_B=1", "501 5.5.4 Bad MAIL parameter syntax"),
	MAIL_BAD("value with '='", O_STRICT, "FROM:<a@b.example> SIZE=1=2",
	    "501 5.5.4 Bad MAIL parameter syntax"),
	MAIL_BAD("no keyword", O_STRICT, "<a@b.example>",
	    "501 5.5.4 Syntax: MAIL FROM:<address>"),
	MAIL_BAD("empty", O_STRICT, "",
	    "501 5.5.4 Syntax: MAIL FROM:<address>"),
	MAIL_BAD("wrong keyword", O_STRICT, "TO:<a@b.example>",
	    "501 5.5.4 Syntax: MAIL FROM:<address>"),
	MAIL_BAD("space before colon", O_STRICT, "FROM :<a@b.example>",
	    "501 5.5.4 Syntax: MAIL FROM:<address>"),
	MAIL_BAD("no address", O_STRICT, "FROM:", BAD_SENDER),
	MAIL_BAD("no address, lax", O_LAX, "FROM:", BAD_SENDER),
	MAIL_BAD("unclosed", O_STRICT, "FROM:<a@b.example", BAD_SENDER),
	MAIL_BAD("junk after path", O_STRICT, "FROM:<a@b.example>x",
	    BAD_SENDER),
	MAIL_BAD("tab after path", O_STRICT, "FROM:<a@b.example>\tSIZE=1",
	    BAD_SENDER),
	MAIL_BAD("two addresses", O_STRICT, "FROM:<a@b.example><c@d.example>",
	    BAD_SENDER),
	MAIL_BAD("empty domain label", O_STRICT, "FROM:<a@b..example>",
	    BAD_SENDER),
	MAIL_BAD("bad ipv4 literal", O_STRICT, "FROM:<a@[192.0.2.256]>",
	    BAD_SENDER),
};

static void
test_mail(void **state)
{
	struct smtpd_mail_args m;
	const struct mail_case *c;
	const char *reply;
	size_t i;

	(void)state;
	smtpd_mail_args_init(&m);
	for (i = 0; i < NELEM(mail_cases); i++) {
		c = &mail_cases[i];
		reply = smtpd_parse_mail(c->in, &opt_sets[c->opts], &m);
		if (c->reply != NULL) {
			CHECK(reply != NULL, c->label);
			CHECK_STR(reply, c->reply, c->label);
			/* Nothing of a refused command is left. */
			CHECK(m.sender.len == 0 && m.envid.len == 0
			    && m.size == 0 && m.body == NULL && m.ret == NULL
			    && !m.smtputf8, c->label);
			continue;
		}
		if (reply != NULL)
			fail_msg("case \"%s\": refused: %s", c->label, reply);
		CHECK_STR(m.sender.data, c->sender, c->label);
		CHECK(m.size == c->size, c->label);
		CHECK(c->body ? m.body && strcmp(m.body, c->body) == 0
		    : m.body == NULL, c->label);
		CHECK(c->ret ? m.ret && strcmp(m.ret, c->ret) == 0
		    : m.ret == NULL, c->label);
		CHECK_STR(m.envid.data, c->envid ? c->envid : "", c->label);
		CHECK(m.smtputf8 == c->smtputf8, c->label);
	}
	smtpd_mail_args_fini(&m);
}

/* ---- RCPT ---------------------------------------------------------------- */

struct rcpt_case {
	const char *label;
	int opts;
	const char *in;
	const char *reply;	/* NULL: accepted, and then: */
	const char *addr;
	const char *orcpt;
	int notify;
};

#define RCPT_OK(label, o, in, addr, orcpt, notify) \
	{label, o, in, NULL, addr, orcpt, notify}
#define RCPT_BAD(label, o, in, reply) \
	{label, o, in, reply, NULL, NULL, 0}

static const struct rcpt_case rcpt_cases[] = {
	RCPT_OK("plain", O_STRICT, "TO:<bob@example.com>", "bob@example.com",
	    NULL, 0),
	RCPT_OK("keyword case", O_STRICT, "to:<bob@example.com>",
	    "bob@example.com", NULL, 0),
	RCPT_OK("space after colon", O_STRICT, "TO: <bob@example.com>",
	    "bob@example.com", NULL, 0),
	RCPT_OK("postmaster", O_STRICT, "TO:<Postmaster>", "Postmaster", NULL,
	    0),
	RCPT_OK("lax", O_LAX, "TO:bob@example.com", "bob@example.com", NULL,
	    0),
	RCPT_BAD("strict needs brackets", O_STRICT, "TO:bob@example.com",
	    BAD_RCPT),
	RCPT_BAD("null recipient", O_STRICT, "TO:<>", BAD_RCPT),
	RCPT_BAD("no keyword", O_STRICT, "<bob@example.com>",
	    "501 5.5.4 Syntax: RCPT TO:<address>"),
	RCPT_BAD("wrong keyword", O_STRICT, "FROM:<bob@example.com>",
	    "501 5.5.4 Syntax: RCPT TO:<address>"),
	RCPT_BAD("empty", O_STRICT, "", "501 5.5.4 Syntax: RCPT TO:<address>"),
	RCPT_BAD("no address", O_STRICT, "TO:", BAD_RCPT),
	RCPT_BAD("junk after path", O_STRICT, "TO:<b@example.com>junk",
	    BAD_RCPT),
	RCPT_OK("notify one", O_STRICT, "TO:<b@example.com> NOTIFY=SUCCESS",
	    "b@example.com", NULL, DSN_NOTIFY_SUCCESS),
	RCPT_OK("notify list any case", O_STRICT,
	    "TO:<b@example.com> NOTIFY=failure,Delay", "b@example.com", NULL,
	    DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY),
	RCPT_OK("notify never", O_STRICT, "TO:<b@example.com> NOTIFY=NEVER",
	    "b@example.com", NULL, DSN_NOTIFY_NEVER),
	RCPT_BAD("notify never with others", O_STRICT,
	    "TO:<b@example.com> NOTIFY=NEVER,SUCCESS",
	    "501 5.5.4 Bad NOTIFY parameter syntax"),
	RCPT_BAD("notify repeated word", O_STRICT,
	    "TO:<b@example.com> NOTIFY=DELAY,DELAY",
	    "501 5.5.4 Bad NOTIFY parameter syntax"),
	RCPT_BAD("notify unknown word", O_STRICT,
	    "TO:<b@example.com> NOTIFY=ALWAYS",
	    "501 5.5.4 Bad NOTIFY parameter syntax"),
	RCPT_BAD("notify empty element", O_STRICT,
	    "TO:<b@example.com> NOTIFY=SUCCESS,,DELAY",
	    "501 5.5.4 Bad NOTIFY parameter syntax"),
	RCPT_BAD("notify trailing comma", O_STRICT,
	    "TO:<b@example.com> NOTIFY=SUCCESS,",
	    "501 5.5.4 Bad NOTIFY parameter syntax"),
	RCPT_BAD("notify leading comma", O_STRICT,
	    "TO:<b@example.com> NOTIFY=,SUCCESS",
	    "501 5.5.4 Bad NOTIFY parameter syntax"),
	RCPT_BAD("notify twice", O_STRICT,
	    "TO:<b@example.com> NOTIFY=SUCCESS NOTIFY=DELAY",
	    "501 5.5.4 Duplicate NOTIFY parameter"),
	RCPT_OK("orcpt", O_STRICT,
	    "TO:<b@example.com> ORCPT=rfc822;orig+2Bx@example.com",
	    "b@example.com", "rfc822;orig+x@example.com", 0),
	RCPT_OK("orcpt and notify", O_STRICT,
	    "TO:<b@example.com> ORCPT=rfc822;o@example.com NOTIFY=FAILURE",
	    "b@example.com", "rfc822;o@example.com", DSN_NOTIFY_FAILURE),
	RCPT_BAD("orcpt without type", O_STRICT,
	    "TO:<b@example.com> ORCPT=o@example.com",
	    "501 5.5.4 Bad ORCPT parameter syntax"),
	RCPT_BAD("orcpt empty address", O_STRICT,
	    "TO:<b@example.com> ORCPT=rfc822;",
	    "501 5.5.4 Bad ORCPT parameter syntax"),
	RCPT_BAD("orcpt bad xtext", O_STRICT,
	    "TO:<b@example.com> ORCPT=rfc822;a+G1",
	    "501 5.5.4 Bad ORCPT parameter syntax"),
	RCPT_BAD("orcpt twice", O_STRICT,
	    "TO:<b@example.com> ORCPT=rfc822;a@x.example "
	    "ORCPT=rfc822;b@x.example", "501 5.5.4 Duplicate ORCPT parameter"),
	RCPT_BAD("dsn discarded: notify", O_NODSN,
	    "TO:<b@example.com> NOTIFY=NEVER",
	    "555 5.5.4 Unsupported option: NOTIFY"),
	RCPT_BAD("dsn discarded: orcpt", O_NODSN,
	    "TO:<b@example.com> ORCPT=rfc822;a@x.example",
	    "555 5.5.4 Unsupported option: ORCPT"),
	RCPT_BAD("mail parameter at rcpt", O_STRICT,
	    "TO:<b@example.com> SIZE=10",
	    "555 5.5.4 Unsupported option: SIZE"),
	RCPT_BAD("notify without value", O_STRICT, "TO:<b@example.com> NOTIFY",
	    "555 5.5.4 Unsupported option: NOTIFY"),
	RCPT_BAD("bad parameter syntax", O_STRICT, "TO:<b@example.com> =x",
	    "501 5.5.4 Bad RCPT parameter syntax"),
	RCPT_OK("utf8 in an smtputf8 transaction", O_TXUTF8,
	    "TO:<j\xc3\xb6rg@example.com>", "j\xc3\xb6rg@example.com", NULL,
	    0),
	RCPT_BAD("utf8 outside an smtputf8 transaction", O_STRICT,
	    "TO:<j\xc3\xb6rg@example.com>", NEED_UTF8),
	RCPT_BAD("overlong utf8", O_TXUTF8, "TO:<j\xc0\xafrg@example.com>",
	    BAD_RCPT),
};

static void
test_rcpt(void **state)
{
	struct smtpd_rcpt_args r;
	const struct rcpt_case *c;
	const char *reply;
	size_t i;

	(void)state;
	smtpd_rcpt_args_init(&r);
	for (i = 0; i < NELEM(rcpt_cases); i++) {
		c = &rcpt_cases[i];
		reply = smtpd_parse_rcpt(c->in, &opt_sets[c->opts], &r);
		if (c->reply != NULL) {
			CHECK(reply != NULL, c->label);
			CHECK_STR(reply, c->reply, c->label);
			CHECK(r.addr.len == 0 && r.orcpt.len == 0
			    && r.notify == 0, c->label);
			continue;
		}
		if (reply != NULL)
			fail_msg("case \"%s\": refused: %s", c->label, reply);
		CHECK_STR(r.addr.data, c->addr, c->label);
		CHECK_STR(r.orcpt.data, c->orcpt ? c->orcpt : "", c->label);
		CHECK(r.notify == c->notify, c->label);
	}
	smtpd_rcpt_args_fini(&r);
}

/*
 * The input is not modified (smtp_param_next() splits a copy), and a
 * long line of parameters is walked to the end.
 */
static void
test_input_untouched(void **state)
{
	static const char in[] = "FROM:<a@b.example> SIZE=1 BODY=7BIT";
	char copy[sizeof(in)];
	struct smtpd_mail_args m;
	struct smtpd_rcpt_args r;
	struct buf many;
	size_t i;

	(void)state;
	memcpy(copy, in, sizeof(in));
	smtpd_mail_args_init(&m);
	assert_null(smtpd_parse_mail(copy, &opt_sets[O_STRICT], &m));
	assert_memory_equal(copy, in, sizeof(in));

	/* 2000 AUTH parameters: all accepted, none kept. */
	buf_init(&many, 64);
	buf_puts(&many, "FROM:<a@b.example>");
	for (i = 0; i < 2000; i++)
		buf_puts(&many, " AUTH=<>");
	assert_null(smtpd_parse_mail(many.data, &opt_sets[O_STRICT], &m));
	assert_string_equal(m.sender.data, "a@b.example");
	buf_puts(&many, " X");
	assert_string_equal(smtpd_parse_mail(many.data, &opt_sets[O_STRICT],
	    &m), "555 5.5.4 Unsupported option: X");
	smtpd_mail_args_fini(&m);

	smtpd_rcpt_args_init(&r);
	assert_null(smtpd_parse_rcpt("TO:<b@example.com> NOTIFY=NEVER",
	    &opt_sets[O_STRICT], &r));
	assert_int_equal(r.notify, DSN_NOTIFY_NEVER);
	/* A later failure clears the earlier results. */
	assert_non_null(smtpd_parse_rcpt("TO:<b@example.com> NOTIFY=X",
	    &opt_sets[O_STRICT], &r));
	assert_int_equal(r.notify, 0);
	assert_int_equal(r.addr.len, 0);
	smtpd_rcpt_args_fini(&r);
	buf_fini(&many);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_input_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
