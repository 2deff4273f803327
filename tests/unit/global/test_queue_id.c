/*
 * test_queue_id.c - unit tests for queue_id.c
 *
 * Exact IDs for known times and inodes, ordering (IDs made for
 * increasing times sort increasingly with strcmp), inode 0 and the
 * largest inodes, a table of valid and invalid names ("", "../x", too
 * long, vowels, 'z' misplaced, leading zero in the inode, microseconds
 * out of range), time round trips and hash directory names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "queue_id.h"

static const char alphabet[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";

static void
test_alphabet(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(strlen(alphabet), 51);
	for (i = 1; i < strlen(alphabet); i++)
		assert_true(alphabet[i - 1] < alphabet[i]);
	assert_null(strpbrk(alphabet, "AEIOUaeiouz"));
}

static void
test_make(void **state)
{
	static const struct {
		const char *label;
		uint64_t sec;
		uint32_t usec;
		uint64_t ino;
		const char *want;
	} cases[] = {
		{"all zero", 0, 0, 0, "00000000000z0"},
		{"one", 1, 1, 1, "00000010001z1"},
		{"base", 51, 51, 51, "00000100010z10"},
		{"last symbol", 50, 50, 50, "000000y000yzy"},
		{"max usec", 0, 999999, 7, "00000007WRpz7"},
		{"max seconds", 897410677850ULL, 0, 0, "yyyyyyy0000z0"},
		{"2023", 1700000000, 123456, 1234567,
		    "04vGYlK0vRhz9HdB"},
		{"max inode", 0, 0, UINT64_MAX, "00000000000z31wvQ2DWVjm0"},
	};
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 8);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&out);
		queue_id_make(&out, cases[i].sec, cases[i].usec,
		    (ino_t)cases[i].ino);
		CHECK_STR(out.data, cases[i].want, cases[i].label);
		CHECK(queue_id_valid(out.data), cases[i].label);
	}
	/* Appends. */
	buf_set(&out, "x:");
	queue_id_make(&out, 0, 0, 0);
	assert_string_equal(out.data, "x:00000000000z0");
	buf_fini(&out);
}

static void
test_order(void **state)
{
	static const struct {
		uint64_t sec;
		uint32_t usec;
	} times[] = {
		{0, 0}, {0, 1}, {0, 50}, {0, 51}, {0, 999999}, {1, 0},
		{50, 999998}, {51, 0}, {1699999999, 999999},
		{1700000000, 0}, {1700000000, 1}, {1700000000, 500000},
		{1700000001, 0}, {4102444800ULL, 0}, {897410677850ULL, 999999},
	};
	/* Inodes of very different lengths must not disturb the order. */
	static const uint64_t inodes[] = {UINT64_MAX, 0, 123456789, 1, 51};
	struct buf a, b;
	size_t i;

	(void)state;
	buf_init(&a, 8);
	buf_init(&b, 8);
	for (i = 1; i < NELEM(times); i++) {
		buf_reset(&a);
		buf_reset(&b);
		queue_id_make(&a, times[i - 1].sec, times[i - 1].usec,
		    (ino_t)inodes[i % NELEM(inodes)]);
		queue_id_make(&b, times[i].sec, times[i].usec,
		    (ino_t)inodes[(i + 1) % NELEM(inodes)]);
		if (strcmp(a.data, b.data) >= 0)
			fail_msg("%s >= %s", a.data, b.data);
	}
	/* A sweep of microseconds. */
	for (i = 1; i < 1000000; i += 997) {
		buf_reset(&a);
		buf_reset(&b);
		queue_id_make(&a, 1700000000, (uint32_t)(i - 1), 99999);
		queue_id_make(&b, 1700000000, (uint32_t)i, 5);
		if (strcmp(a.data, b.data) >= 0)
			fail_msg("%s >= %s", a.data, b.data);
	}
	buf_fini(&a);
	buf_fini(&b);
}

static void
test_valid(void **state)
{
	static const struct {
		const char *label;
		const char *id;
		bool want;
	} cases[] = {
		{"shortest", "00000000000z0", true},
		{"typical", "04vGYlK0vRhz9HdB", true},
		{"13 inode symbols", "00000000000zyyyyyyyyyyyyy", true},
		{"max inode", "00000000000z31wvQ2DWVjm0", true},
		{"max usec", "00000007WRpz7", true},
		{"empty", "", false},
		{"dot dot", "../x", false},
		{"path", "incoming/00000000000z0", false},
		{"slash inside", "0000000000/z0", false},
		{"dot", ".", false},
		{"temp file", ".tmp.123.00ff", false},
		{"no inode", "00000000000z", false},
		{"short time", "0000000000z0", false},
		{"long time", "000000000000z0", false},
		{"too long", "00000000000zyyyyyyyyyyyyyy", false},
		{"far too long", "00000000000z12345678912345678912345",
		    false},
		{"leading zero inode", "00000000000z01", false},
		{"zero zero inode", "00000000000z00", false},
		{"vowel A", "0000000000Az0", false},
		{"vowel e", "00000000000ze", false},
		{"vowel in time", "a0000000000z0", false},
		{"z in time", "z0000000000z0", false},
		{"z in inode", "00000000000z1z", false},
		{"two z", "00000000000zz", false},
		{"z misplaced early", "0000000000z00", false},
		{"z misplaced late", "000000000000z", false},
		{"no z", "0000000000000", false},
		{"usec 1000000", "00000007WRqz7", false},
		{"usec max symbols", "0000000yyyyz7", false},
		{"space", "00000000000z 1", false},
		{"high byte", "00000000000z\xc3\xa9", false},
		{"capital Z separator", "00000000000Z0", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK(queue_id_valid(cases[i].id) == cases[i].want,
		    cases[i].label);
	assert_false(queue_id_valid(NULL));
}

static void
test_time(void **state)
{
	static const struct {
		uint64_t sec;
		uint32_t usec;
		uint64_t ino;
	} cases[] = {
		{0, 0, 0}, {1, 999999, 1}, {1700000000, 123456, 1234567},
		{4102444800ULL, 500000, UINT64_MAX},
		{897410677850ULL, 999999, 51},
	};
	struct buf id;
	uint64_t sec;
	uint32_t usec;
	size_t i;

	(void)state;
	buf_init(&id, 8);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&id);
		queue_id_make(&id, cases[i].sec, cases[i].usec,
		    (ino_t)cases[i].ino);
		sec = 1;
		usec = 1;
		assert_int_equal(queue_id_time(id.data, &sec, &usec), 0);
		assert_int_equal(sec, cases[i].sec);
		assert_int_equal(usec, cases[i].usec);
	}
	assert_int_equal(queue_id_time("../x", &sec, &usec), -1);
	assert_int_equal(queue_id_time("0000000yyyyz7", &sec, &usec), -1);
	buf_fini(&id);
}

static void
test_hash(void **state)
{
	static const struct {
		const char *label;
		const char *id;
		int depth;
		const char *want;
	} cases[] = {
		{"depth 0", "04vGYlK0vRhz9HdB", 0, ""},
		{"negative depth", "04vGYlK0vRhz9HdB", -1, ""},
		{"depth 1", "04vGYlK0vRhz9HdB", 1, "h/"},
		{"depth 2", "04vGYlK0vRhz9HdB", 2, "h/R/"},
		{"depth 4", "04vGYlK0vRhz9HdB", 4, "h/R/v/0/"},
		{"depth 5 uses seconds", "04vGYlK0vRhz9HdB", 5, "h/R/v/0/K/"},
		{"depth 11", "04vGYlK0vRhz9HdB", 11,
		    "h/R/v/0/K/l/Y/G/v/4/0/"},
		{"depth 12 is 11", "04vGYlK0vRhz9HdB", 12,
		    "h/R/v/0/K/l/Y/G/v/4/0/"},
		{"invalid id", "../x", 2, ""},
		{"empty id", "", 1, ""},
	};
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 8);
	for (i = 0; i < NELEM(cases); i++) {
		buf_set(&out, "q/");
		queue_id_hash(&out, cases[i].id, cases[i].depth);
		CHECK(strncmp(out.data, "q/", 2) == 0, cases[i].label);
		CHECK_STR(out.data + 2, cases[i].want, cases[i].label);
	}
	buf_fini(&out);
}

/* Every microsecond value hashes to one of the 51 symbols, evenly. */
static void
test_hash_spread(void **state)
{
	size_t count[256] = {0};
	struct buf id, out;
	uint32_t usec;
	size_t i, used = 0, min = SIZE_MAX, max = 0;

	(void)state;
	buf_init(&id, 8);
	buf_init(&out, 8);
	for (usec = 0; usec < 1000000; usec += 7) {
		buf_reset(&id);
		buf_reset(&out);
		queue_id_make(&id, 1700000000, usec, 42);
		queue_id_hash(&out, id.data, 1);
		assert_int_equal(out.len, 2);
		count[(unsigned char)out.data[0]]++;
	}
	for (i = 0; i < 256; i++) {
		if (count[i] == 0)
			continue;
		assert_non_null(strchr(alphabet, (int)i));
		used++;
		if (count[i] < min)
			min = count[i];
		if (count[i] > max)
			max = count[i];
	}
	assert_int_equal(used, 51);
	assert_true(max - min <= max / 20);
	buf_fini(&id);
	buf_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alphabet),
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_hash_spread),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
