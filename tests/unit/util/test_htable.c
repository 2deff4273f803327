/*
 * test_htable.c - unit tests for htable.c
 *
 * Checks insert/replace/lookup/delete (table-driven), growth with many
 * keys, that keys are copied, htable_list(), the value free callback,
 * and that tables are seeded independently (same keys, different
 * iteration orders), which a fixed hash function would fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htable.h"

/* CHECK() of testutil.h, naming a step rather than a case. */
#define CHECK_STEP(cond, label) do { \
	if (!(cond)) \
		fail_msg("step \"%s\": %s", (label), #cond); \
} while (0)

static int val_a, val_b, val_c;

static void
test_operations(void **state)
{
	enum op { PUT, GET, DEL };
	static const struct {
		const char *label;
		enum op op;
		const char *key;
		void *value;		/* for PUT */
		void *want;		/* result of the operation */
		size_t count;		/* count afterwards */
	} steps[] = {
		{"get from empty", GET, "a", NULL, NULL, 0},
		{"delete from empty", DEL, "a", NULL, NULL, 0},
		{"put a", PUT, "a", &val_a, NULL, 1},
		{"get a", GET, "a", NULL, &val_a, 1},
		{"get missing", GET, "b", NULL, NULL, 1},
		{"case matters", GET, "A", NULL, NULL, 1},
		{"replace a", PUT, "a", &val_b, &val_a, 1},
		{"get replaced", GET, "a", NULL, &val_b, 1},
		{"put empty key", PUT, "", &val_c, NULL, 2},
		{"get empty key", GET, "", NULL, &val_c, 2},
		{"put NULL value", PUT, "n", NULL, NULL, 3},
		{"delete a", DEL, "a", NULL, &val_b, 2},
		{"get deleted", GET, "a", NULL, NULL, 2},
		{"delete again", DEL, "a", NULL, NULL, 2},
		{"delete empty key", DEL, "", NULL, &val_c, 1},
		{"delete NULL value", DEL, "n", NULL, NULL, 0},
		{"put after delete", PUT, "a", &val_a, NULL, 1},
	};
	struct htable *ht = htable_new(0);
	size_t i;
	void *got = NULL;

	(void)state;
	for (i = 0; i < NELEM(steps); i++) {
		switch (steps[i].op) {
		case PUT:
			got = htable_put(ht, steps[i].key, steps[i].value);
			break;
		case GET:
			got = htable_get(ht, steps[i].key);
			CHECK_STEP((htable_locate(ht, steps[i].key) != NULL)
			    == (got != NULL), steps[i].label);
			break;
		case DEL:
			got = htable_delete(ht, steps[i].key);
			break;
		}
		CHECK_STEP(got == steps[i].want, steps[i].label);
		CHECK_STEP(htable_count(ht) == steps[i].count, steps[i].label);
	}
	htable_free(ht, NULL);
}

static void
test_locate_and_copy(void **state)
{
	struct htable *ht = htable_new(4);
	struct htable_entry *e;
	char key[] = "mutable";

	(void)state;
	htable_put(ht, key, &val_a);
	key[0] = 'X';			/* the table must hold its own copy */
	e = htable_locate(ht, "mutable");
	assert_non_null(e);
	assert_string_equal(e->key, "mutable");
	assert_ptr_not_equal(e->key, key);
	assert_ptr_equal(e->value, &val_a);
	assert_null(htable_get(ht, "Xutable"));
	/* Changing the value through the entry is visible to get. */
	e->value = &val_b;
	assert_ptr_equal(htable_get(ht, "mutable"), &val_b);
	htable_free(ht, NULL);
}

static void
test_many_keys(void **state)
{
	enum { N = 20000 };
	struct htable *ht = htable_new(0);
	char key[32];
	size_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key%zu", i);
		assert_null(htable_put(ht, key, (void *)(i + 1)));
	}
	assert_int_equal(htable_count(ht), N);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key%zu", i);
		assert_ptr_equal(htable_get(ht, key), (void *)(i + 1));
	}
	for (i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "key%zu", i);
		assert_ptr_equal(htable_delete(ht, key), (void *)(i + 1));
	}
	assert_int_equal(htable_count(ht), N / 2);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key%zu", i);
		assert_ptr_equal(htable_get(ht, key),
		    i % 2 ? (void *)(i + 1) : NULL);
	}
	htable_free(ht, NULL);
}

static void
test_list(void **state)
{
	struct htable *ht = htable_new(0);
	struct htable_entry **list;
	char key[16];
	int seen[100] = {0};
	size_t i, n;

	(void)state;
	list = htable_list(ht);
	assert_null(list[0]);
	free(list);

	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		htable_put(ht, key, (void *)i);
	}
	list = htable_list(ht);
	for (n = 0; list[n]; n++) {
		i = (size_t)list[n]->value;
		assert_true(i < 100);
		snprintf(key, sizeof(key), "%zu", i);
		assert_string_equal(list[n]->key, key);
		seen[i]++;
	}
	assert_int_equal(n, 100);
	for (i = 0; i < 100; i++)
		assert_int_equal(seen[i], 1);
	free(list);
	htable_free(ht, NULL);
}

static int freed;

static void
count_free(void *value)
{
	freed++;
	free(value);
}

static void
test_free_values(void **state)
{
	struct htable *ht = htable_new(0);
	char key[16];
	int i;

	(void)state;
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		htable_put(ht, key, malloc(10));
	}
	free(htable_delete(ht, "k0"));
	freed = 0;
	htable_free(ht, count_free);
	assert_int_equal(freed, 49);
	htable_free(NULL, count_free);
}

/*
 * Build tables with the same keys and compare the orders htable_list()
 * yields. The order follows the hash, so with per-table seeds at least
 * two of several tables differ; with a fixed hash all would be equal.
 */
static void
test_seeded(void **state)
{
	enum { TABLES = 6, KEYS = 64 };
	char *orders[TABLES];
	char key[16];
	bool differ = false;
	size_t t, i, off;

	(void)state;
	for (t = 0; t < TABLES; t++) {
		struct htable *ht = htable_new(KEYS);
		struct htable_entry **list;

		for (i = 0; i < KEYS; i++) {
			snprintf(key, sizeof(key), "%zu", i);
			htable_put(ht, key, NULL);
		}
		orders[t] = calloc(1, KEYS * 4);
		list = htable_list(ht);
		for (i = off = 0; list[i]; i++)
			off += (size_t)snprintf(orders[t] + off,
			    KEYS * 4 - off, "%s,", list[i]->key);
		free(list);
		htable_free(ht, NULL);
	}
	for (t = 1; t < TABLES; t++)
		if (strcmp(orders[0], orders[t]) != 0)
			differ = true;
	for (t = 0; t < TABLES; t++)
		free(orders[t]);
	assert_true(differ);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations),
		cmocka_unit_test(test_locate_and_copy),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_free_values),
		cmocka_unit_test(test_seeded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
