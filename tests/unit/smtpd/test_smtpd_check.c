/*
 * test_smtpd_check.c - unit tests for smtpd_check_parse.c
 *
 * The pure parts of smtpd's restriction engine, table-driven: the
 * restriction list parser (names, arguments, classes, every error),
 * the relay-protection test, DNS list filters and query names, the
 * meaning of access(5) results, reply texts with their enhanced status
 * codes, reply templates, the order of access(5) lookup keys, and host
 * name syntax. The engine itself runs against a live server in
 * tests/integration/test_smtpd_restrictions.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "buf.h"
#include "dict.h"
#include "mem.h"
#include "params.h"
#include "smtpd_check.h"
#include "testutil.h"

/* ---- the parser's world: one class, tables that are never searched ---- */

static struct check_list test_class = { .name = "myclass" };
static struct dict test_table;		/* a stand-in: never looked up */

static struct check_list *
test_class_find(void *ctx, const char *name)
{
	(void)ctx;
	return strcasecmp(name, "myclass") == 0 ? &test_class : NULL;
}

static struct dict *
test_table_find(void *ctx, const char *name, struct buf *why)
{
	(void)ctx;
	if (strstr(name, "missing") != NULL) {
		buf_set(why, "not opened");
		return NULL;
	}
	return &test_table;
}

static const struct check_parser test_parser = {
	.class_find = test_class_find,
	.table_find = test_table_find,
};

/* ---- restriction lists --------------------------------------------------- */

struct list_case {
	const char *label;
	const char *value;
	int count;		/* -1: an error containing want_error */
	const char *want_error;
	const char *want_items;	/* "name|arg name|arg ..." */
};

static const struct list_case list_cases[] = {
	{ "empty", "", 0, NULL, "" },
	{ "blanks and commas", " ,\t,\n ", 0, NULL, "" },
	{ "two", "permit_mynetworks, reject_unauth_destination", 2, NULL,
	    "permit_mynetworks reject_unauth_destination" },
	{ "case-insensitive", "PERMIT_MYNETWORKS,Reject", 2, NULL,
	    "permit_mynetworks reject" },
	{ "table", "check_client_access hash:/etc/access, reject", 2, NULL,
	    "check_client_access|hash:/etc/access reject" },
	{ "braced table", "check_sender_access inline:{a=OK, b=REJECT} permit",
	    2, NULL, "check_sender_access|inline:{a=OK, b=REJECT} permit" },
	{ "rbl", "reject_rbl_client bl.test, permit_dnswl_client "
	    "wl.test=127.0.[0..15].[2;4]", 2, NULL,
	    "reject_rbl_client|bl.test "
	    "permit_dnswl_client|wl.test=127.0.[0..15].[2;4]" },
	{ "old names", "reject_unknown_client reject_invalid_hostname "
	    "reject_non_fqdn_hostname reject_unknown_hostname "
	    "check_recipient_maps", 5, NULL,
	    "reject_unknown_client reject_invalid_hostname "
	    "reject_non_fqdn_hostname reject_unknown_hostname "
	    "check_recipient_maps" },
	{ "class", "permit_mynetworks MyClass", 2, NULL,
	    "permit_mynetworks class:myclass" },
	{ "unknown", "permit_mynetworks, bogus_restriction", -1,
	    "unknown restriction \"bogus_restriction\"", NULL },
	{ "table missing", "reject, check_client_access", -1,
	    "restriction check_client_access needs a table (type:name)",
	    NULL },
	{ "table not type:name", "check_helo_access /etc/helo", -1,
	    "restriction check_helo_access: bad table name \"/etc/helo\" "
	    "(expected type:name)", NULL },
	{ "table failed", "check_helo_access hash:/missing", -1,
	    "restriction check_helo_access hash:/missing: not opened",
	    NULL },
	{ "rbl missing", "reject_rbl_client", -1,
	    "restriction reject_rbl_client needs a DNS list domain", NULL },
	{ "rbl bad domain", "reject_rhsbl_sender bad..test", -1,
	    "restriction reject_rhsbl_sender: bad DNS list domain", NULL },
	{ "rbl short filter", "reject_rbl_client bl.test=127.0.0", -1,
	    "bad DNS list filter \"127.0.0\"", NULL },
	{ "rbl filter range", "reject_rbl_client bl.test=127.0.0.[5..2]", -1,
	    "bad DNS list filter", NULL },
	{ "rbl filter octet", "reject_rbl_client bl.test=127.0.0.256", -1,
	    "bad DNS list filter", NULL },
	{ "rbl filter bracket", "reject_rbl_client bl.test=127.0.0.[2", -1,
	    "bad DNS list filter", NULL },
};

static void
items_text(const struct check_list *l, struct buf *out)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct check_item *it = &l->items[i];

		if (i > 0)
			buf_putc(out, ' ');
		if (it->def == NULL) {
			buf_printf(out, "class:%s", it->cls->name);
			continue;
		}
		buf_puts(out, it->def->name);
		if (it->table_name)
			buf_printf(out, "|%s", it->table_name);
		if (it->dnsxl)
			buf_printf(out, "|%s", it->dnsxl->arg);
	}
}

static void
test_list_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(list_cases); i++) {
		const struct list_case *c = &list_cases[i];
		struct buf why, text;
		struct check_list *l;

		buf_init(&why, 64);
		buf_init(&text, 64);
		l = check_list_parse("param", c->value, &test_parser, &why);
		if (c->count < 0) {
			CHECK(l == NULL, c->label);
			if (strstr(why.data, c->want_error) == NULL)
				fail_msg("case \"%s\": error \"%s\", want "
				    "\"%s\"", c->label, why.data,
				    c->want_error);
		} else {
			CHECK(l != NULL, c->label);
			CHECK((int)l->count == c->count, c->label);
			CHECK_STR(l->name, "param", c->label);
			items_text(l, &text);
			CHECK_STR(text.data, c->want_items, c->label);
		}
		check_list_free(l);
		buf_fini(&why);
		buf_fini(&text);
	}
}

struct protect_case {
	const char *label;
	const char *value;
	bool want;
};

static const struct protect_case protect_cases[] = {
	{ "empty", "", false },
	{ "default", "permit_mynetworks, permit_sasl_authenticated, "
	    "defer_unauth_destination", true },
	{ "reject_unauth", "permit_mynetworks reject_unauth_destination",
	    true },
	{ "reject", "check_client_access hash:/x reject", true },
	{ "defer", "defer", true },
	{ "defer_if_permit", "defer_if_permit", true },
	{ "permit first", "permit, reject_unauth_destination", false },
	{ "only permits", "permit_mynetworks, permit_auth_destination", false },
	{ "through a class", "permit_mynetworks myclass", true },
};

static void
test_list_protects(void **state)
{
	struct check_list *body;
	struct buf why;

	(void)state;
	buf_init(&why, 64);
	body = check_list_parse("myclass", "reject_unauth_destination",
	    &test_parser, &why);
	assert_non_null(body);
	test_class.items = body->items;
	test_class.count = body->count;
	for (size_t i = 0; i < NELEM(protect_cases); i++) {
		const struct protect_case *c = &protect_cases[i];
		struct check_list *l = check_list_parse("p", c->value,
		    &test_parser, &why);

		CHECK(l != NULL, c->label);
		CHECK(check_list_protects(l) == c->want, c->label);
		check_list_free(l);
	}
	test_class.items = NULL;
	test_class.count = 0;
	check_list_free(body);
	CHECK(!check_list_protects(NULL), "NULL list");
	buf_fini(&why);
}

/* ---- DNS lists ----------------------------------------------------------- */

struct dnsxl_case {
	const char *label;
	const char *arg;
	const char *a;
	bool want;
};

static const struct dnsxl_case dnsxl_cases[] = {
	{ "no filter", "bl.test", "127.0.0.2", true },
	{ "no filter, any", "bl.test", "10.1.2.3", true },
	{ "not an address", "bl.test", "x", false },
	{ "exact", "bl.test=127.0.0.2", "127.0.0.2", true },
	{ "exact miss", "bl.test=127.0.0.2", "127.0.0.3", false },
	{ "range low", "bl.test=127.0.0.[2..4;10]", "127.0.0.2", true },
	{ "range high", "bl.test=127.0.0.[2..4;10]", "127.0.0.4", true },
	{ "range out", "bl.test=127.0.0.[2..4;10]", "127.0.0.5", false },
	{ "list item", "bl.test=127.0.0.[2..4;10]", "127.0.0.10", true },
	{ "first octet", "bl.test=127.0.0.[2..4;10]", "128.0.0.2", false },
	{ "every octet", "bl.test=[0..255].[0..255].[0..255].[0..255]",
	    "255.255.255.255", true },
};

static void
test_dnsxl(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(dnsxl_cases); i++) {
		const struct dnsxl_case *c = &dnsxl_cases[i];
		struct buf why;
		struct check_dnsxl *x;

		buf_init(&why, 64);
		x = check_dnsxl_parse(c->arg, &why);
		CHECK(x != NULL, c->label);
		CHECK(strncmp(x->domain, "bl.test", 8) == 0, c->label);
		CHECK(check_dnsxl_match(x, c->a) == c->want, c->label);
		check_dnsxl_free(x);
		buf_fini(&why);
	}
}

static void
test_dnsxl_query(void **state)
{
	struct buf q;

	(void)state;
	buf_init(&q, 64);
	assert_true(check_dnsxl_addr_query(&q, "192.0.2.1", "bl.test"));
	assert_string_equal(q.data, "1.2.0.192.bl.test");
	assert_true(check_dnsxl_addr_query(&q, "2001:db8::1", "bl.test"));
	assert_string_equal(q.data, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test");
	assert_false(check_dnsxl_addr_query(&q, "unknown", "bl.test"));
	assert_false(check_dnsxl_addr_query(&q, "", "bl.test"));
	buf_fini(&q);
}

/* ---- access(5) results --------------------------------------------------- */

struct access_case {
	const char *label;
	const char *value;
	enum check_access_action action;
	int code;
	const char *text;
};

static const struct access_case access_cases[] = {
	{ "OK", "OK", ACCESS_OK, 0, "" },
	{ "ok lower, text", "ok fine", ACCESS_OK, 0, "fine" },
	{ "all digits", "1700000000", ACCESS_OK, 0, "" },
	{ "three digits alone", "550", ACCESS_OK, 0, "" },
	{ "code", "550 go away", ACCESS_CODE, 550, "go away" },
	{ "code with dsn", "450 4.7.1 later", ACCESS_CODE, 450,
	    "4.7.1 later" },
	{ "code 421", "421 bye", ACCESS_CODE, 421, "bye" },
	{ "code too low", "399 x", ACCESS_BAD, 399, "x" },
	{ "code too high", "600 x", ACCESS_BAD, 600, "x" },
	{ "REJECT", "REJECT", ACCESS_REJECT, 0, "" },
	{ "reject text", "reject  spam\tsource", ACCESS_REJECT, 0,
	    "spam\tsource" },
	{ "DEFER", "DEFER later", ACCESS_DEFER, 0, "later" },
	{ "DEFER_IF_REJECT", "DEFER_IF_REJECT", ACCESS_DEFER_IF_REJECT, 0,
	    "" },
	{ "DEFER_IF_PERMIT", "defer_if_permit x", ACCESS_DEFER_IF_PERMIT, 0,
	    "x" },
	{ "DISCARD", "DISCARD", ACCESS_DISCARD, 0, "" },
	{ "HOLD", "HOLD check it", ACCESS_HOLD, 0, "check it" },
	{ "REDIRECT", "REDIRECT a@b.test", ACCESS_REDIRECT, 0, "a@b.test" },
	{ "PREPEND", "PREPEND X-Flag: yes", ACCESS_PREPEND, 0,
	    "X-Flag: yes" },
	{ "WARN", "WARN look", ACCESS_WARN, 0, "look" },
	{ "INFO", "INFO look", ACCESS_INFO, 0, "look" },
	{ "DUNNO", "DUNNO", ACCESS_DUNNO, 0, "" },
	{ "empty", "", ACCESS_DUNNO, 0, "" },
	{ "FILTER", "FILTER smtp:[127.0.0.1]:10025", ACCESS_FILTER, 0,
	    "smtp:[127.0.0.1]:10025" },
	{ "BCC", "BCC x@y", ACCESS_BCC, 0, "x@y" },
	{ "restrictions", "permit_mynetworks, reject", ACCESS_RESTRICTIONS, 0,
	    "permit_mynetworks, reject" },
	{ "class", "myclass", ACCESS_RESTRICTIONS, 0, "myclass" },
	{ "not a code", "5xx text", ACCESS_RESTRICTIONS, 0, "5xx text" },
	{ "prefix of a word", "OKAY", ACCESS_RESTRICTIONS, 0, "OKAY" },
	{ "four digits then text", "5500 x", ACCESS_RESTRICTIONS, 0,
	    "5500 x" },
};

static void
test_access_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(access_cases); i++) {
		const struct access_case *c = &access_cases[i];
		struct check_access a;

		check_access_parse(c->value, &a);
		if (a.action != c->action)
			fail_msg("case \"%s\": action %d, want %d", c->label,
			    (int)a.action, (int)c->action);
		CHECK(a.code == c->code, c->label);
		CHECK_STR(a.text, c->text, c->label);
	}
}

/* ---- replies ------------------------------------------------------------- */

struct reply_case {
	const char *label;
	int code;
	const char *dsn;
	enum check_kind kind;
	const char *text;
	const char *want;
};

static const struct reply_case reply_cases[] = {
	{ "plain", 554, "5.7.1", CHECK_KIND_OTHER,
	    "<h[1.2.3.4]>: Client host rejected: Access denied",
	    "554 5.7.1 <h[1.2.3.4]>: Client host rejected: Access denied" },
	{ "class follows code", 450, "5.7.1", CHECK_KIND_OTHER, "x",
	    "450 4.7.1 x" },
	{ "sender 1.1", 550, "5.1.1", CHECK_KIND_SENDER, "x", "550 5.1.0 x" },
	{ "sender 1.2", 450, "4.1.2", CHECK_KIND_SENDER, "x", "450 4.1.8 x" },
	{ "sender 1.3", 550, "5.1.3", CHECK_KIND_SENDER, "x", "550 5.1.7 x" },
	{ "sender keeps 1.8", 450, "4.1.8", CHECK_KIND_SENDER, "x",
	    "450 4.1.8 x" },
	{ "recipient 1.8", 450, "4.1.8", CHECK_KIND_RECIPIENT, "x",
	    "450 4.1.2 x" },
	{ "recipient 1.7", 550, "5.1.7", CHECK_KIND_RECIPIENT, "x",
	    "550 5.1.3 x" },
	{ "recipient keeps 1.1", 550, "5.1.1", CHECK_KIND_RECIPIENT, "x",
	    "550 5.1.1 x" },
	{ "other gets 0.0", 550, "5.1.1", CHECK_KIND_OTHER, "x",
	    "550 5.0.0 x" },
	{ "not address status", 554, "5.7.1", CHECK_KIND_SENDER, "x",
	    "554 5.7.1 x" },
	{ "two-digit detail", 556, "5.1.10", CHECK_KIND_RECIPIENT, "x",
	    "556 5.1.10 x" },
	{ "dsn in text", 550, "5.7.1", CHECK_KIND_RECIPIENT,
	    "5.1.1 No such user", "550 5.1.1 No such user" },
	{ "dsn in text fixed", 450, "4.7.1", CHECK_KIND_OTHER,
	    "5.7.0 Later", "450 4.7.0 Later" },
	{ "not a dsn", 554, "5.7.1", CHECK_KIND_OTHER, "5.7.1x y",
	    "554 5.7.1 5.7.1x y" },
};

static void
test_reply_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(reply_cases); i++) {
		const struct reply_case *c = &reply_cases[i];
		struct buf out;

		buf_init(&out, 64);
		check_reply_format(&out, c->code, c->dsn, c->kind, c->text);
		CHECK_STR(out.data, c->want, c->label);
		buf_fini(&out);
	}
}

struct fix_case {
	const char *label;
	const char *reply;
	const char *want;	/* NULL: refused */
};

static const struct fix_case fix_cases[] = {
	{ "inserted", "554 Service unavailable", "554 5.7.1 Service "
	    "unavailable" },
	{ "kept", "450 4.7.1 Try later", "450 4.7.1 Try later" },
	{ "class fixed", "554 4.7.0 x", "554 5.7.0 x" },
	{ "code only", "550", "550 5.7.1 " },
	{ "no code", "Service unavailable", NULL },
	{ "2xx", "250 fine", NULL },
	{ "four digits", "5541 x", NULL },
	{ "empty", "", NULL },
};

static void
test_reply_fix(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(fix_cases); i++) {
		const struct fix_case *c = &fix_cases[i];
		struct buf out;
		bool ok;

		buf_init(&out, 64);
		ok = check_reply_fix(&out, c->reply, "5.7.1",
		    CHECK_KIND_OTHER);
		CHECK(ok == (c->want != NULL), c->label);
		if (ok)
			CHECK_STR(out.data, c->want, c->label);
		buf_fini(&out);
	}
	assert_int_equal(check_dsn_len("5.7.1 x"), 5);
	assert_int_equal(check_dsn_len("4.1.10"), 6);
	assert_int_equal(check_dsn_len("3.1.1 x"), 0);
	assert_int_equal(check_dsn_len("5.1234.1 x"), 0);
	assert_int_equal(check_dsn_len("5.1"), 0);
}

/* ---- templates ----------------------------------------------------------- */

static const char *const test_attrs[][2] = {
	{ "rbl_code", "554" },
	{ "rbl_class", "Client host" },
	{ "rbl_what", "192.0.2.9" },
	{ "rbl_domain", "bl.test" },
	{ "rbl_reason", "" },
	{ "reason", "See http://bl.test/?ip=192.0.2.9" },
	{ "tricky", "$rbl_code ${rbl_domain}" },
};

static const char *
test_lookup(void *ctx, const char *name)
{
	(void)ctx;
	for (size_t i = 0; i < NELEM(test_attrs); i++)
		if (strcmp(test_attrs[i][0], name) == 0)
			return test_attrs[i][1];
	return NULL;
}

struct expand_case {
	const char *label;
	const char *tmpl;
	const char *want;	/* NULL: error containing error */
	const char *error;
};

#define DEFAULT_RBL_REPLY "$rbl_code Service unavailable; $rbl_class " \
	"[$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"

static const struct expand_case expand_cases[] = {
	{ "default, no reason", DEFAULT_RBL_REPLY,
	    "554 Service unavailable; Client host [192.0.2.9] blocked using "
	    "bl.test", NULL },
	{ "default with reason", "$rbl_code x${reason?; $reason}",
	    "554 x; See http://bl.test/?ip=192.0.2.9", NULL },
	{ "braces and parens", "${rbl_code} $(rbl_domain)", "554 bl.test",
	    NULL },
	{ "dollar", "cost $$5", "cost $5", NULL },
	{ "colon empty", "${rbl_reason:none}", "none", NULL },
	{ "colon non-empty", "${rbl_code:none}", "", NULL },
	{ "braced alternatives", "${rbl_reason?{yes}:{no}}", "no", NULL },
	{ "braced alternatives 2", "${rbl_code?{yes}:{no}}", "yes", NULL },
	{ "nested braces", "${rbl_code?{a{b}c}}", "a{b}c", NULL },
	{ "values not expanded", "[$tricky]",
	    "[$rbl_code ${rbl_domain}]", NULL },
	{ "unknown", "$rbl_nope", NULL, "unknown attribute $rbl_nope" },
	{ "unknown in braces", "${nope?x}", NULL, "unknown attribute $nope" },
	{ "unbalanced", "${rbl_code", NULL, "unbalanced" },
	{ "dollar at end", "abc$", NULL, "at the end" },
	{ "bad after dollar", "a $- b", NULL, "bad character" },
	{ "bad operator", "${rbl_code!x}", NULL, "bad character" },
	{ "empty name", "${}", NULL, "missing attribute name" },
};

static void
test_expand(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(expand_cases); i++) {
		const struct expand_case *c = &expand_cases[i];
		struct buf out, why;
		bool ok;

		buf_init(&out, 64);
		buf_init(&why, 64);
		ok = check_expand(&out, c->tmpl, test_lookup, NULL, &why);
		CHECK(ok == (c->want != NULL), c->label);
		if (ok)
			CHECK_STR(out.data, c->want, c->label);
		else if (strstr(why.data, c->error) == NULL)
			fail_msg("case \"%s\": error \"%s\", want \"%s\"",
			    c->label, why.data, c->error);
		buf_fini(&out);
		buf_fini(&why);
	}
}

/* ---- lookup keys --------------------------------------------------------- */

static void
keys_text(const struct argv *keys, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < keys->argc; i++)
		buf_printf(out, "%s%s", i ? " " : "", keys->argv[i]);
}

struct keys_case {
	const char *label;
	int kind;		/* 0 domain, 1 addr, 2 mail */
	const char *in;
	bool parent;
	const char *want;
};

static const struct keys_case keys_cases[] = {
	{ "domain, parents", 0, "a.b.example", true,
	    "a.b.example b.example example" },
	{ "domain, dots", 0, "a.b.example", false,
	    "a.b.example .b.example .example" },
	{ "domain, one label", 0, "localhost", true, "localhost" },
	{ "domain, final dot", 0, "a.example.", true,
	    "a.example. example." },
	{ "domain, literal", 0, "[192.0.2.1]", true, "[192.0.2.1]" },
	{ "domain, empty", 0, "", true, "" },
	{ "ipv4", 1, "192.0.2.1", true, "192.0.2.1 192.0.2 192.0 192" },
	{ "ipv6", 1, "2001:db8::1", true, "2001:db8::1 2001:db8 2001" },
	{ "ipv6 full", 1, "2001:db8:1:2:3:4:5:6", true,
	    "2001:db8:1:2:3:4:5:6 2001:db8:1:2:3:4:5 2001:db8:1:2:3:4 "
	    "2001:db8:1:2:3 2001:db8:1:2 2001:db8:1 2001:db8 2001" },
	{ "mail", 2, "user@sub.example.com", true,
	    "user@sub.example.com sub.example.com example.com com user@" },
	{ "mail, dots", 2, "user@sub.example.com", false,
	    "user@sub.example.com sub.example.com .example.com .com user@" },
	{ "mail, extension", 2, "user+ext@example.com", true,
	    "user+ext@example.com user@example.com example.com com "
	    "user+ext@ user@" },
	{ "mail, no domain", 2, "user", true, "user user@" },
	{ "mail, quoted", 2, "\"a@b\"@example.com", true,
	    "\"a@b\"@example.com example.com com \"a@b\"@" },
	{ "mail, literal", 2, "u@[192.0.2.1]", true,
	    "u@[192.0.2.1] [192.0.2.1] u@" },
};

static void
test_keys(void **state)
{
	(void)state;
	var_recipient_delimiter = "+";
	for (size_t i = 0; i < NELEM(keys_cases); i++) {
		const struct keys_case *c = &keys_cases[i];
		struct argv *keys = argv_new();
		struct buf text;

		buf_init(&text, 64);
		if (c->kind == 0)
			check_domain_keys(keys, c->in, c->parent);
		else if (c->kind == 1)
			check_addr_keys(keys, c->in);
		else
			check_mail_keys(keys, c->in, c->parent);
		keys_text(keys, &text);
		CHECK_STR(text.data, c->want, c->label);
		buf_fini(&text);
		argv_free(keys);
	}
	var_recipient_delimiter = "";
}

static void
test_table_is_pattern(void **state)
{
	(void)state;
	assert_true(check_table_is_pattern("regexp:/etc/x"));
	assert_true(check_table_is_pattern("pcre:/etc/x"));
	assert_true(check_table_is_pattern("proxy:pcre:/etc/x"));
	assert_true(check_table_is_pattern("cidr:/etc/x"));
	assert_false(check_table_is_pattern("hash:/etc/x"));
	assert_false(check_table_is_pattern("texthash:/etc/regexp:x"));
	assert_false(check_table_is_pattern("inline:{a=b}"));
}

/* ---- names --------------------------------------------------------------- */

struct name_case {
	const char *name;
	bool valid, fqdn;
};

static const struct name_case name_cases[] = {
	{ "mail.example.com", true, true },
	{ "mail.example.com.", true, true },
	{ "localhost", true, false },
	{ "localhost.", true, false },
	{ "under_score.example", true, true },
	{ "[192.0.2.1]", true, true },
	{ "[IPv6:2001:db8::1]", true, true },
	{ "[ipv6:2001:db8::1]", true, true },
	{ "[2001:db8::1]", false, false },
	{ "[300.1.1.1]", false, false },
	{ "[]", false, false },
	{ "192.0.2.1", true, true },
	{ "-bad.example", false, false },
	{ "bad-.example", false, false },
	{ "a..b", false, false },
	{ ".example", false, false },
	{ "exa mple.com", false, false },
	{ "exa/mple.com", false, false },
	{ "", false, false },
	{ "123", false, false },
	{ "1.2.3", false, false },
	{ "a.123", false, false },
	{ "123.example", true, true },
};

static void
test_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(name_cases); i++) {
		const struct name_case *c = &name_cases[i];

		CHECK(check_helo_valid(c->name) == c->valid, c->name);
		CHECK(check_name_fqdn(c->name) == c->fqdn, c->name);
	}
	assert_true(check_addr_literal("[192.0.2.1]"));
	assert_false(check_addr_literal("192.0.2.1"));
}

static void
test_def_find(void **state)
{
	(void)state;
	assert_non_null(check_def_find("reject_unauth_destination"));
	assert_int_equal(check_def_find("REJECT_UNKNOWN_CLIENT")->id,
	    CHK_UNKNOWN_CLIENT);
	assert_true(check_def_find("reject")->flags & CHECK_F_RELAY);
	assert_false(check_def_find("permit")->flags & CHECK_F_RELAY);
	assert_true(check_def_find("check_sender_access")->flags
	    & CHECK_F_TABLE);
	assert_true(check_def_find("reject_rhsbl_helo")->flags
	    & CHECK_F_DNSXL);
	assert_null(check_def_find("reject_everything"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_def_find),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_list_protects),
		cmocka_unit_test(test_dnsxl),
		cmocka_unit_test(test_dnsxl_query),
		cmocka_unit_test(test_access_parse),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_reply_fix),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_table_is_pattern),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
