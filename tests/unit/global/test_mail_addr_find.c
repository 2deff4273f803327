/*
 * test_mail_addr_find.c - unit tests for mail_addr_find.c
 *
 * Table-driven: each case names an inline:{...} table, the
 * recipient_delimiter, the flags and an address, and the wanted answer,
 * value, extension and matched key; a failure prints the case label.
 * The exact key sequence (and that a temporary failure stops it) is
 * checked with a small recording table type, "rec:", registered here:
 * it logs every key it is asked for and answers from a script.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dict.h"
#include "log.h"
#include "mail_addr_find.h"
#include "params.h"
#include "testutil.h"

#define LOCAL		MAIL_ADDR_FIND_LOCALPART
#define PROP		MAIL_ADDR_FIND_PROPAGATE

#define F	DICT_FOUND
#define NF	DICT_NOTFOUND
#define TF	DICT_TEMPFAIL

/* ---- the recording table ------------------------------------------ */

static struct buf rec_log;		/* keys asked, '|'-separated */
static const char *rec_fail;		/* this key: temporary failure */
static const char *rec_hit;		/* this key: found, "hit" */

static enum dict_result
rec_lookup(struct dict *d, const char *key, struct buf *value)
{
	if (rec_log.len > 0)
		buf_putc(&rec_log, '|');
	buf_puts(&rec_log, key);
	if (rec_fail != NULL && strcmp(key, rec_fail) == 0)
		return dict_tempfail(d, "rec: %s is down", key);
	if (rec_hit != NULL && strcmp(key, rec_hit) == 0) {
		buf_set(value, "hit");
		return DICT_FOUND;
	}
	return DICT_NOTFOUND;
}

static void
rec_close(struct dict *d)
{
	dict_free(d);
}

static const struct dict_ops rec_ops;

static struct dict *
rec_open(const char *name, int open_flags, int dict_flags, struct buf *why)
{
	(void)why;
	return dict_alloc(&rec_ops, name, open_flags, dict_flags,
	    sizeof(struct dict));
}

static const struct dict_ops rec_ops = {
	.type = "rec",
	.open = rec_open,
	.lookup = rec_lookup,
	.close = rec_close,
};

/* ---- fixtures ------------------------------------------------------- */

static int
setup(void **state)
{
	(void)state;
	/* The parameters are plain pointers here; nothing frees them. */
	log_stderr(false);		/* tempfail warnings are expected */
	buf_init(&rec_log, 128);
	assert_int_equal(dict_register(&rec_ops), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	buf_fini(&rec_log);
	var_recipient_delimiter = NULL;
	var_propagate_unmatched_extensions = NULL;
	log_stderr(true);
	return 0;
}

static void
set_delim(const char *delim)
{
	var_recipient_delimiter = (char *)delim;
}

/* ---- the search order, key by key ----------------------------------- */

static void
test_order(void **state)
{
	static const struct {
		const char *label, *delim;
		int flags;
		const char *addr, *fail, *hit;
		enum dict_result want;
		const char *keys, *key;
	} cases[] = {
		{"all steps", "+", LOCAL, "user+ext@example.com", NULL, NULL,
		    NF, "user+ext@example.com|user@example.com|user+ext|user|"
		    "@example.com", ""},
		{"no localpart flag", "+", 0, "user+ext@example.com", NULL,
		    NULL, NF, "user+ext@example.com|user@example.com|"
		    "@example.com", ""},
		{"no extension", "+", LOCAL, "user@example.com", NULL, NULL,
		    NF, "user@example.com|user|@example.com", ""},
		{"no delimiter configured", "", LOCAL, "user+ext@example.com",
		    NULL, NULL, NF, "user+ext@example.com|user+ext|"
		    "@example.com", ""},
		{"folded", "+", LOCAL, "User+Ext@Example.COM", NULL, NULL, NF,
		    "user+ext@example.com|user@example.com|user+ext|user|"
		    "@example.com", ""},
		{"no domain", "+", LOCAL, "user+ext", NULL, NULL, NF,
		    "user+ext|user", ""},
		{"no domain, trailing @", "+", 0, "user+ext@", NULL, NULL, NF,
		    "user+ext|user", ""},
		{"empty local part", "+", LOCAL, "@example.com", NULL, NULL,
		    NF, "@example.com", ""},
		{"empty address", "+", LOCAL, "", NULL, NULL, NF, "", ""},
		{"leading delimiter", "+", LOCAL, "+ext@example.com", NULL,
		    NULL, NF, "+ext@example.com|+ext|@example.com", ""},
		{"trailing delimiter", "+", 0, "user+@example.com", NULL, NULL,
		    NF, "user+@example.com|user@example.com|@example.com", ""},
		{"first of several delimiters", "-+", 0, "a+b-c@x", NULL,
		    NULL, NF, "a+b-c@x|a@x|@x", ""},
		{"other of several delimiters", "-+", 0, "a-b+c@x", NULL,
		    NULL, NF, "a-b+c@x|a@x|@x", ""},
		{"owner- kept whole", "-", 0, "owner-list@x", NULL, NULL, NF,
		    "owner-list@x|@x", ""},
		{"-request kept whole", "-", 0, "list-request@x", NULL, NULL,
		    NF, "list-request@x|@x", ""},
		{"owner- split on +", "+", 0, "owner-list+y@x", NULL, NULL, NF,
		    "owner-list+y@x|owner-list@x|@x", ""},
		{"mailer-daemon kept whole", "-", 0, "MAILER-DAEMON@x", NULL,
		    NULL, NF, "mailer-daemon@x|@x", ""},
		{"double-bounce kept whole", "-", 0, "double-bounce@x", NULL,
		    NULL, NF, "double-bounce@x|@x", ""},
		{"quoted", "+", LOCAL, "\"John Smith\"@x", NULL, NULL, NF,
		    "\"john smith\"@x|\"john smith\"|@x", ""},
		{"quoted, split inside quotes", "+", 0, "\"john+a b\"@x", NULL,
		    NULL, NF, "\"john+a b\"@x|john@x|@x", ""},
		{"needless quotes dropped", "+", 0, "\"john\"@x", NULL, NULL,
		    NF, "john@x|@x", ""},
		{"quoted @ is not the domain", "+", 0, "\"a@b\"@x", NULL, NULL,
		    NF, "\"a@b\"@x|@x", ""},
		{"quoted @, no domain", "+", LOCAL, "\"a@b\"", NULL, NULL, NF,
		    "\"a@b\"", ""},
		{"quoted backslash", "+", 0, "\"a\\\"b\"@x", NULL, NULL, NF,
		    "\"a\\\"b\"@x|@x", ""},
		{"dots need quotes", "+", 0, "\"a..b\"@x", NULL, NULL, NF,
		    "\"a..b\"@x|@x", ""},
		{"stops at first hit", "+", LOCAL, "user+ext@example.com",
		    NULL, "user@example.com", F,
		    "user+ext@example.com|user@example.com",
		    "user@example.com"},
		{"tempfail at first key", "+", LOCAL, "user+ext@example.com",
		    "user+ext@example.com", "@example.com", TF,
		    "user+ext@example.com", "user+ext@example.com"},
		{"tempfail at user", "+", LOCAL, "user+ext@example.com",
		    "user", "@example.com", TF,
		    "user+ext@example.com|user@example.com|user+ext|user",
		    "user"},
		{"tempfail at @domain", "+", LOCAL, "user@example.com",
		    "@example.com", NULL, TF,
		    "user@example.com|user|@example.com", "@example.com"},
	};
	struct buf result, ext, key;
	enum dict_result rc;
	struct dict *d;
	size_t i;

	(void)state;
	buf_init(&result, 64);
	buf_init(&ext, 64);
	buf_init(&key, 64);
	d = dict_open("rec:order", O_RDONLY, 0);
	assert_false(dict_is_surrogate(d));
	for (i = 0; i < NELEM(cases); i++) {
		set_delim(cases[i].delim);
		rec_fail = cases[i].fail;
		rec_hit = cases[i].hit;
		buf_reset(&rec_log);
		buf_set(&result, "junk");
		rc = mail_addr_find(d, cases[i].addr, cases[i].flags, &result,
		    &ext, &key);
		CHECK(rc == cases[i].want, cases[i].label);
		CHECK_STR(rec_log.data, cases[i].keys, cases[i].label);
		CHECK_STR(key.data, cases[i].key, cases[i].label);
		CHECK_STR(result.data, rc == F ? "hit" : "", cases[i].label);
	}
	dict_close(d);
	rec_fail = rec_hit = NULL;
	buf_fini(&result);
	buf_fini(&ext);
	buf_fini(&key);
}

/* ---- answers from inline tables ------------------------------------- */

#define T_ALL	"inline:{user+ext@example.com=full, user@example.com=bare, " \
		"user+ext=lfull, user=lbare, @example.com=domain}"
#define T_NOFULL "inline:{user@example.com=bare, user+ext=lfull, " \
		"user=lbare, @example.com=domain}"
#define T_LOCAL	"inline:{user+ext=lfull, user=lbare, @example.com=domain}"
#define T_LBARE	"inline:{user=lbare, @example.com=domain}"
#define T_DOM	"inline:{@example.com=domain}"
#define T_LIST	"inline:{{user@example.com=a@x, b, \"john smith\"@y, " \
		"|cmd, /file, :include:/f, @dom, \"|quoted cmd\"}, " \
		"user+full@example.com=c@x, @example.com=other@x}"
#define T_LIST2	"inline:{{user@example.com=|cmd -x y,a@x b@y\tc}}"

static void
test_lookup(void **state)
{
	static const struct {
		const char *label, *table, *delim;
		int flags;
		const char *addr;
		enum dict_result want;
		const char *result, *ext, *key;
	} cases[] = {
		{"full address", T_ALL, "+", LOCAL, "user+ext@example.com", F,
		    "full", "", "user+ext@example.com"},
		{"without extension", T_NOFULL, "+", LOCAL,
		    "user+ext@example.com", F, "bare", "+ext",
		    "user@example.com"},
		{"local part with extension", T_LOCAL, "+", LOCAL,
		    "user+ext@example.com", F, "lfull", "", "user+ext"},
		{"local part forms need the flag", T_LOCAL, "+", 0,
		    "user+ext@example.com", F, "domain", "+ext",
		    "@example.com"},
		{"bare local part", T_LBARE, "+", LOCAL,
		    "user+ext@example.com", F, "lbare", "+ext", "user"},
		{"domain", T_DOM, "+", LOCAL, "user+ext@example.com", F,
		    "domain", "+ext", "@example.com"},
		{"domain, no extension", T_DOM, "+", LOCAL,
		    "user@example.com", F, "domain", "", "@example.com"},
		{"not found", T_DOM, "+", LOCAL, "user@example.org", NF, "", "",
		    ""},
		{"extension keeps its case", T_NOFULL, "+", 0,
		    "User+MixedCase@Example.Com", F, "bare", "+MixedCase",
		    "user@example.com"},
		{"several delimiters", T_NOFULL, "-+", 0,
		    "user-a+b@example.com", F, "bare", "-a+b",
		    "user@example.com"},
		{"no delimiter, no split", T_NOFULL, "", 0,
		    "user+ext@example.com", F, "domain", "", "@example.com"},
		{"empty local part", T_DOM, "+", LOCAL, "@example.com", F,
		    "domain", "", "@example.com"},
		{"no domain", T_LBARE, "+", 0, "user+ext", F, "lbare", "+ext",
		    "user"},
		{"no domain, not found", T_DOM, "+", LOCAL, "nobody", NF, "",
		    "", ""},
		{"propagate", T_LIST, "+", PROP, "user+ext@example.com", F,
		    "a+ext@x, b+ext, \"john smith+ext\"@y, |cmd, /file, "
		    ":include:/f, @dom, \"|quoted cmd\"", "+ext",
		    "user@example.com"},
		{"propagate, blanks and commands", T_LIST2, "+", PROP,
		    "user+e@example.com", F, "|cmd -x y,a+e@x b+e@y\tc+e",
		    "+e", "user@example.com"},
		{"propagate off", T_LIST, "+", 0, "user+ext@example.com", F,
		    "a@x, b, \"john smith\"@y, |cmd, /file, :include:/f, "
		    "@dom, \"|quoted cmd\"", "+ext", "user@example.com"},
		{"propagate, extension matched", T_LIST, "+", PROP,
		    "user+full@example.com", F, "c@x", "",
		    "user+full@example.com"},
		{"propagate from @domain", T_LIST, "+", PROP,
		    "joe+x@example.com", F, "other+x@x", "+x", "@example.com"},
		{"propagate, no extension", T_LIST, "+", PROP,
		    "joe@example.com", F, "other@x", "", "@example.com"},
		{"propagate a quoted extension", T_LIST, "+", PROP,
		    "\"joe+a b\"@example.com", F, "\"other+a b\"@x", "+a b",
		    "@example.com"},
	};
	struct buf result, ext, key;
	enum dict_result rc;
	struct dict *d;
	size_t i;

	(void)state;
	buf_init(&result, 64);
	buf_init(&ext, 64);
	buf_init(&key, 64);
	for (i = 0; i < NELEM(cases); i++) {
		set_delim(cases[i].delim);
		d = dict_open(cases[i].table, O_RDONLY, DICT_FLAG_FOLD);
		CHECK(!dict_is_surrogate(d), cases[i].label);
		buf_set(&ext, "junk");
		rc = mail_addr_find(d, cases[i].addr, cases[i].flags, &result,
		    &ext, &key);
		CHECK(rc == cases[i].want, cases[i].label);
		CHECK_STR(result.data, cases[i].result, cases[i].label);
		CHECK_STR(ext.data, cases[i].ext, cases[i].label);
		CHECK_STR(key.data, cases[i].key, cases[i].label);
		/* The optional outputs may be left out. */
		rc = mail_addr_find(d, cases[i].addr, cases[i].flags, &result,
		    NULL, NULL);
		CHECK(rc == cases[i].want, cases[i].label);
		CHECK_STR(result.data, cases[i].result, cases[i].label);
		dict_close(d);
	}
	buf_fini(&result);
	buf_fini(&ext);
	buf_fini(&key);
}

/* A table that cannot answer: TEMPFAIL at once, never "not found". */
static void
test_tempfail(void **state)
{
	struct buf result, ext, key;
	struct dict *d;

	(void)state;
	set_delim("+");
	buf_init(&result, 64);
	buf_init(&ext, 64);
	buf_init(&key, 64);
	d = dict_surrogate("x:y", 0, 0, "down");
	buf_set(&result, "junk");
	assert_int_equal(mail_addr_find(d, "user+ext@example.com",
	    LOCAL | PROP, &result, &ext, &key), DICT_TEMPFAIL);
	assert_string_equal(result.data, "");
	assert_string_equal(ext.data, "");
	assert_string_equal(key.data, "user+ext@example.com");
	assert_string_equal(dict_error(d), "down");
	dict_close(d);
	buf_fini(&result);
	buf_fini(&ext);
	buf_fini(&key);
}

static void
test_propagate_class(void **state)
{
	static const struct {
		const char *label, *setting, *class;
		bool want;
	} cases[] = {
		{"default canonical", "canonical, virtual", "canonical", true},
		{"default virtual", "canonical, virtual", "virtual", true},
		{"default alias", "canonical, virtual", "alias", false},
		{"case", "Canonical,VIRTUAL", "virtual", true},
		{"blanks", "\talias\n forward ,include", "forward", true},
		{"last", "alias forward include", "include", true},
		{"prefix is not a match", "canonicals", "canonical", false},
		{"longer is not a match", "alias", "aliases", false},
		{"empty", "", "canonical", false},
		{"only separators", " , ", "alias", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		var_propagate_unmatched_extensions = (char *)cases[i].setting;
		CHECK(mail_addr_propagate(cases[i].class) == cases[i].want,
		    cases[i].label);
	}
	var_propagate_unmatched_extensions = NULL;
	CHECK(!mail_addr_propagate("canonical"), "unset");
}

static void
test_split_ext(void **state)
{
	static const struct {
		const char *label, *delim, *addr;
		bool want;
		const char *bare, *ext;
	} cases[] = {
		{"split", "+", "Joe+Ext@Example.com", true, "Joe@Example.com",
		    "+Ext"},
		{"no domain", "+", "joe+ext", true, "joe", "+ext"},
		{"no extension", "+", "joe@x", false, "", ""},
		{"no delimiter set", "", "joe+ext@x", false, "", ""},
		{"leading delimiter", "+", "+ext@x", false, "", ""},
		{"quoted", "+", "\"joe smith+a\"@x", true, "\"joe smith\"@x",
		    "+a"},
		{"owner-", "-", "owner-list@x", false, "", ""},
		{"empty", "+", "", false, "", ""},
	};
	struct buf bare, ext;
	size_t i;

	(void)state;
	buf_init(&bare, 64);
	buf_init(&ext, 64);
	for (i = 0; i < NELEM(cases); i++) {
		set_delim(cases[i].delim);
		buf_set(&bare, "junk");
		CHECK(mail_addr_split_ext(cases[i].addr, &bare, &ext)
		    == cases[i].want, cases[i].label);
		CHECK_STR(bare.data, cases[i].bare, cases[i].label);
		CHECK_STR(ext.data, cases[i].ext, cases[i].label);
		CHECK(mail_addr_split_ext(cases[i].addr, NULL, NULL)
		    == cases[i].want, cases[i].label);
	}
	buf_fini(&bare);
	buf_fini(&ext);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_tempfail),
		cmocka_unit_test(test_propagate_class),
		cmocka_unit_test(test_split_ext),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
