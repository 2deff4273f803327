/*
 * test_dict_maps.c - unit tests for lists of tables (dict_maps.c)
 *
 * Table-driven, with real member tables: inline and static tables, an
 * lmdb file built here, and files that fail: a missing lmdb file and a
 * cidr file with a syntax error (members that become surrogates at
 * open), a pcre table whose pattern exceeds the match limit (a
 * member that opens, then fails a lookup), and a type registered here
 * whose lookups fail with a reason that does not name the table. In
 * the parameter values of the cases "%d" stands for the scratch
 * directory.
 *
 * Covered: the first hit wins across members; not found; a temporary
 * failure stops the search (a later member that would answer is not
 * asked) and its reason names the parameter and the member; splitting
 * on commas and white space but not inside braces; the count; the
 * member that answered last; the empty list; case folding through the
 * members; closing drops the shared members; "maps" cannot be opened
 * by name; a list is only looked up.
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

#include "buf.h"
#include "dict.h"
#include "dict_maps.h"
#include "dict_pattern.h"
#include "dicttest.h"

static const struct dict_ops flaky_ops;

#define PARAM		"test_maps"
#define MATCH_LIMIT	1000

/* A key that makes /(a+)+$/ backtrack past MATCH_LIMIT. */
#define SLOW_KEY	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"

static int
setup(void **state)
{
	static const char *const aliases[] = {
		"root=alice", "postmaster=root", NULL,
	};
	struct buf path;
	FILE *fp;

	(void)state;
	if (dicttest_setup("maps") < 0)
		return -1;
	build(tmp_name("lmdb", "aliases", NULL), aliases, DICT_FLAG_FOLD);
	buf_init(&path, 64);
	buf_printf(&path, "%s/bad.cidr", dicttest_dir);
	if ((fp = fopen(path.data, "w")) == NULL)
		return -1;
	fputs("192.0.2.0/24 ok\n1.2.3.4/24 x\n", fp);
	if (fclose(fp) != 0)
		return -1;
	buf_reset(&path);
	buf_printf(&path, "%s/slow.pcre", dicttest_dir);
	if ((fp = fopen(path.data, "w")) == NULL)
		return -1;
	fputs("/^x/ x\n/(a+)+$/ slow\n", fp);
	if (fclose(fp) != 0)
		return -1;
	buf_fini(&path);
	dict_pattern_set_match_limit(MATCH_LIMIT);
	return dict_register(&flaky_ops);
}

static int
teardown(void **state)
{
	(void)state;
	dict_pattern_set_match_limit(0);
	return dicttest_teardown();
}

/* tmpl with each "%d" replaced by the scratch directory, into out. */
static const char *
expand(struct buf *out, const char *tmpl)
{
	const char *cp;

	buf_reset(out);
	for (cp = tmpl; *cp != 0; cp++) {
		if (cp[0] == '%' && cp[1] == 'd') {
			buf_puts(out, dicttest_dir);
			cp++;
		} else {
			buf_putc(out, *cp);
		}
	}
	return out->data;
}

static struct dict *
maps_open(const char *tmpl)
{
	struct buf value;
	struct dict *m;

	buf_init(&value, 64);
	m = dict_maps_open(PARAM, expand(&value, tmpl), O_RDONLY,
	    DICT_FLAG_FOLD);
	buf_fini(&value);
	return m;
}

#define ORDER	"inline:{a=one, b=one} inline:{a=two, c=two}"
#define FAILS	"inline:{a=one}, lmdb:%d/missing, static:later"

struct lookup_case {
	const char *label;
	const char *value;	/* the parameter's value */
	const char *key;
	enum dict_result want;
	const char *want_value;	/* DICT_FOUND */
	const char *want_last;	/* dict_maps_last()'s name, or NULL */
};

static const struct lookup_case lookups[] = {
	{"first hit wins", ORDER, "a", DICT_FOUND, "one",
	    "inline:{a=one, b=one}"},
	{"first table only", ORDER, "b", DICT_FOUND, "one",
	    "inline:{a=one, b=one}"},
	{"second table", ORDER, "c", DICT_FOUND, "two",
	    "inline:{a=two, c=two}"},
	{"not found", ORDER, "z", DICT_NOTFOUND, NULL, NULL},
	{"lmdb member", "inline:{x=1}, lmdb:%d/aliases", "root", DICT_FOUND,
	    "alice", "lmdb:%d/aliases"},
	{"folded key", "lmdb:%d/aliases", "PostMaster", DICT_FOUND, "root",
	    "lmdb:%d/aliases"},
	{"hash: as configured", "hash:%d/aliases", "root", DICT_FOUND,
	    "alice", "hash:%d/aliases"},
	{"braces keep a comma", "inline:{root=alice, bob=carol}", "bob",
	    DICT_FOUND, "carol", "inline:{root=alice, bob=carol}"},
	{"braces, first entry", "inline:{root=alice, bob=carol}", "root",
	    DICT_FOUND, "alice", "inline:{root=alice, bob=carol}"},
	{"nested braces", " inline:{ {list = a, b}, x=y },static:no", "list",
	    DICT_FOUND, "a, b", "inline:{ {list = a, b}, x=y }"},
	{"newline and tab separate", "inline:{a=b}\n\tstatic:{ c d }", "z",
	    DICT_FOUND, "c d", "static:{ c d }"},
	{"hit before a failing table", FAILS, "a", DICT_FOUND, "one",
	    "inline:{a=one}"},
	{"missing table stops the search", FAILS, "b", DICT_TEMPFAIL, NULL,
	    "lmdb:%d/missing"},
	{"syntax error stops the search", "cidr:%d/bad.cidr static:later",
	    "192.0.2.1", DICT_TEMPFAIL, NULL, "cidr:%d/bad.cidr"},
	{"failed lookup stops the search", "pcre:%d/slow.pcre, static:later",
	    SLOW_KEY, DICT_TEMPFAIL, NULL, "pcre:%d/slow.pcre"},
	{"working pattern table", "pcre:%d/slow.pcre, static:later", "xyz",
	    DICT_FOUND, "x", "pcre:%d/slow.pcre"},
	{"after a working pattern table", "pcre:%d/slow.pcre, static:later",
	    "b", DICT_FOUND, "later", "static:later"},
	{"empty list", "", "a", DICT_NOTFOUND, NULL, NULL},
	{"only separators", " , \t\r\n,", "a", DICT_NOTFOUND, NULL, NULL},
};

static void
test_lookup(void **state)
{
	struct buf value, want;
	struct dict *m, *last;
	enum dict_result rc;
	size_t i;

	(void)state;
	buf_init(&value, 64);
	buf_init(&want, 64);
	capture_start();		/* surrogates warn when opened */
	for (i = 0; i < NELEM(lookups); i++) {
		const struct lookup_case *c = &lookups[i];

		m = maps_open(c->value);
		CHECK(dict_maps_last(m) == NULL, c->label);
		rc = dict_lookup(m, c->key, &value);
		if (rc != c->want)
			fail_msg("case \"%s\": result %d, want %d (%s)",
			    c->label, rc, c->want, dict_error(m));
		if (c->want_value != NULL)
			CHECK_STR(value.data, c->want_value, c->label);
		else
			CHECK_STR(value.data, "", c->label);
		last = dict_maps_last(m);
		CHECK_STR_OR_NULL(last ? last->full_name : NULL,
		    c->want_last ? expand(&want, c->want_last) : NULL,
		    c->label);
		dict_close(m);
	}
	free(capture_end());
	buf_fini(&value);
	buf_fini(&want);
}

/*
 * flaky:TEXT, a type for these tests only: every lookup fails with
 * TEXT (braces removed) as the reason, which does not name the table.
 */
static enum dict_result
flaky_lookup(struct dict *d, const char *key, struct buf *value)
{
	size_t len = strlen(d->name);

	(void)key;
	(void)value;
	if (len >= 2 && d->name[0] == '{' && d->name[len - 1] == '}')
		return dict_tempfail(d, "%.*s", (int)(len - 2), d->name + 1);
	return dict_tempfail(d, "%s", d->name);
}

static void
flaky_close(struct dict *d)
{
	dict_free(d);
}

static struct dict *
flaky_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	(void)why;
	return dict_alloc(&flaky_ops, name, open_flags, dict_flags,
	    sizeof(struct dict));
}

static const struct dict_ops flaky_ops = {
	.type = "flaky",
	.open = flaky_open,
	.lookup = flaky_lookup,
	.close = flaky_close,
};

/* The reason of a temporary failure: "param: member: why", once named. */
struct error_case {
	const char *label;
	const char *value;
	const char *key;
	const char *want;
};

static const struct error_case errors[] = {
	{"missing lmdb file", FAILS, "b", PARAM ": lmdb:%d/missing: open "
	    "%d/missing.lmdb: No such file or directory"},
	{"cidr syntax error", "cidr:%d/bad.cidr, static:later", "x",
	    PARAM ": cidr:%d/bad.cidr: %d/bad.cidr, line 2: non-null host "
	    "address bits in \"1.2.3.4/24\", perhaps you should use "
	    "\"1.2.3.0/24\""},
	{"pattern match limit", "inline:{x=1} pcre:%d/slow.pcre", SLOW_KEY,
	    PARAM ": pcre:%d/slow.pcre, line 2: pattern match limit of 1000 "
	    "exceeded"},
	{"unknown type", "inline:{x=1}, nosuch:table", "y",
	    PARAM ": \"nosuch:table\": unknown table type \"nosuch\""},
	{"not type:name", "inline:{x=1}, aliases", "y",
	    PARAM ": \"aliases\": expected type:name"},
	{"unbalanced braces", "inline:{root=alice,", "root",
	    PARAM ": inline:{root=alice,: expected inline:{key=value, ...}"},
	{"reason without the table's name", "inline:{x=1} flaky:{went away}",
	    "y", PARAM ": flaky:{went away}: went away"},
	{"no reason", "flaky:", "y", PARAM ": flaky:: lookup failed"},
};

static void
test_errors(void **state)
{
	struct buf value, want;
	struct dict *m;
	enum dict_result rc;
	size_t i;
	char *out;

	(void)state;
	buf_init(&value, 64);
	buf_init(&want, 64);
	for (i = 0; i < NELEM(errors); i++) {
		const struct error_case *c = &errors[i];

		capture_start();
		m = maps_open(c->value);
		rc = dict_lookup(m, c->key, &value);
		out = capture_end();
		expand(&want, c->want);
		if (rc != DICT_TEMPFAIL)
			fail_msg("case \"%s\": result %d, want DICT_TEMPFAIL",
			    c->label, rc);
		CHECK_STR(dict_error(m), want.data, c->label);
		/*
		 * The member logged its failure (a surrogate when opened);
		 * the list does not log it again.
		 */
		if (strstr(out, "warning: ") == NULL
		    || strstr(out, PARAM ": ") != NULL)
			fail_msg("case \"%s\": logged \"%s\"", c->label, out);
		free(out);
		dict_close(m);
	}
	buf_fini(&value);
	buf_fini(&want);
}

struct count_case {
	const char *label;
	const char *value;
	size_t want;
};

static const struct count_case counts[] = {
	{"empty", "", 0},
	{"blanks", "  \t\n ", 0},
	{"commas", ",,, ,", 0},
	{"one", "static:a", 1},
	{"commas and white space", "static:a, static:b static:c\n\t"
	    "static:d,static:e", 5},
	{"a comma in braces", "inline:{root=alice, bob=carol}", 1},
	{"braces, then more", "inline:{a=b, c=d},inline:{e=f} static:x", 3},
	{"nested braces", "inline:{ {k = a, b}, {l = c} }, static:x", 2},
	{"static with blanks", "static:{ text with blanks }", 1},
	{"same table twice", "static:a, static:a", 2},
	{"bad members count", "nosuch:x, lmdb:%d/missing", 2},
};

static void
test_count(void **state)
{
	struct dict *m;
	size_t i;

	(void)state;
	capture_start();
	for (i = 0; i < NELEM(counts); i++) {
		m = maps_open(counts[i].value);
		if (dict_maps_count(m) != counts[i].want)
			fail_msg("case \"%s\": count %zu, want %zu",
			    counts[i].label, dict_maps_count(m),
			    counts[i].want);
		dict_close(m);
	}
	free(capture_end());
}

/*
 * dict_maps_last() is the member itself (shared with other opens of
 * the same table), and a list holds a reference to each member.
 */
static void
test_last_and_members(void **state)
{
	struct dict *first, *second, *m;
	struct buf value;

	(void)state;
	buf_init(&value, 16);
	first = dict_open("inline:{a=one, b=one}", O_RDONLY, DICT_FLAG_FOLD);
	second = dict_open("inline:{a=two, c=two}", O_RDONLY, DICT_FLAG_FOLD);
	m = dict_maps_open(PARAM, ORDER, O_RDONLY, DICT_FLAG_FOLD);
	assert_int_equal(first->refcount, 2);
	assert_int_equal(second->refcount, 2);
	assert_int_equal(dict_maps_count(m), 2);
	assert_null(dict_maps_last(m));

	assert_int_equal(dict_lookup(m, "C", &value), DICT_FOUND);
	assert_string_equal(value.data, "two");
	assert_ptr_equal(dict_maps_last(m), second);
	assert_int_equal(dict_lookup(m, "a", &value), DICT_FOUND);
	assert_ptr_equal(dict_maps_last(m), first);
	assert_int_equal(dict_lookup(m, "z", &value), DICT_NOTFOUND);
	assert_null(dict_maps_last(m));

	/* The list is named by its parameter. */
	assert_string_equal(m->name, PARAM);
	assert_string_equal(m->full_name, PARAM);
	assert_string_equal(m->type, "maps");

	dict_close(m);
	assert_int_equal(first->refcount, 1);
	assert_int_equal(second->refcount, 1);
	dict_close(first);
	dict_close(second);
	buf_fini(&value);
}

/* A list is made from a parameter only, and only looked up. */
static void
test_not_a_type(void **state)
{
	struct buf why, key, value;
	struct dict *m;

	(void)state;
	buf_init(&why, 64);
	buf_init(&key, 16);
	buf_init(&value, 16);
	assert_null(dict_find_type("maps"));
	assert_null(dict_open_strict("maps:" ORDER, O_RDONLY, 0, &why));
	assert_string_equal(why.data, "table \"maps:" ORDER "\": unknown "
	    "table type \"maps\"");

	m = dict_maps_open(PARAM, "inline:{a=one}", O_RDONLY, DICT_FLAG_FOLD);
	assert_int_equal(dict_update(m, "a", "x"), DICT_TEMPFAIL);
	assert_string_equal(dict_error(m), "table " PARAM ": update is not "
	    "supported by this table type");
	assert_int_equal(dict_iterate(m, DICT_SEQ_FIRST, &key, &value),
	    DICT_TEMPFAIL);
	/* Still a working list. */
	assert_int_equal(dict_lookup(m, "a", &value), DICT_FOUND);
	assert_string_equal(value.data, "one");
	dict_close(m);
	buf_fini(&why);
	buf_fini(&key);
	buf_fini(&value);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_last_and_members),
		cmocka_unit_test(test_not_a_type),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
