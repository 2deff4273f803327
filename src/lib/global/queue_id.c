/*
 * queue_id.c - make, check and take apart queue IDs
 *
 * An ID is <seconds: 7 symbols><microseconds: 4 symbols>z<inode: 1..13
 * symbols>, each number written most significant symbol first in a
 * 51-symbol alphabet (digits and consonants) whose symbols are in ASCII
 * order. The time part has a fixed width, so strcmp() orders IDs by
 * arrival time; the inode part has no leading zero symbol (except the
 * single symbol for inode 0), so every (time, inode) pair has exactly
 * one spelling. 'z' is not in the alphabet and marks where the time
 * ends.
 *
 * queue_id_hash() picks hash directory names from the least significant
 * microsecond symbols first (they spread evenly; the most significant
 * one only takes 8 values because microseconds stop at 999999), then,
 * for depths beyond 4, from the least significant seconds symbols.
 *
 * SECURITY: queue_id_valid() is the gate between a name read from a
 * directory or a command line and a path. It accepts only the exact
 * form queue_id_make() produces (bounded length, alphabet symbols, the
 * 'z' in place, microseconds below one million, no leading zero in the
 * inode part), so a valid ID never contains '/', '.' or a NUL.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "msg.h"
#include "queue_id.h"

static const char queue_id_alphabet[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";

#define QUEUE_ID_BASE		51
#define QUEUE_ID_SEC_LEN	7
#define QUEUE_ID_USEC_LEN	4
#define QUEUE_ID_SEP		'z'
#define QUEUE_ID_SEP_POS	(QUEUE_ID_SEC_LEN + QUEUE_ID_USEC_LEN)
#define QUEUE_ID_INO_MAX	13

_Static_assert(sizeof(queue_id_alphabet) - 1 == QUEUE_ID_BASE,
    "queue ID alphabet must have 51 symbols");
_Static_assert(QUEUE_ID_MAX == QUEUE_ID_SEP_POS + 1 + QUEUE_ID_INO_MAX,
    "QUEUE_ID_MAX does not match the ID layout");

/* The value of symbol ch, or -1 when ch is not in the alphabet. */
static int
queue_id_digit(int ch)
{
	const char *p;

	p = memchr(queue_id_alphabet, ch, QUEUE_ID_BASE);
	return p ? (int)(p - queue_id_alphabet) : -1;
}

/* Append value in exactly width symbols (width > 0), or minimal if 0. */
static void
queue_id_put(struct buf *out, uint64_t value, int width)
{
	char tmp[32];
	int n = 0;

	do {
		tmp[n++] = queue_id_alphabet[value % QUEUE_ID_BASE];
		value /= QUEUE_ID_BASE;
	} while (width > 0 ? n < width : value != 0);
	if (value != 0)
		msg_panic("queue_id_make: value does not fit %d symbols",
		    width);
	while (n > 0)
		buf_putc(out, tmp[--n]);
}

void
queue_id_make(struct buf *out, uint64_t sec, uint32_t usec, ino_t ino)
{
	if (usec >= 1000000)
		msg_panic("queue_id_make: bad microseconds %lu",
		    (unsigned long)usec);
	queue_id_put(out, sec, QUEUE_ID_SEC_LEN);
	queue_id_put(out, usec, QUEUE_ID_USEC_LEN);
	buf_putc(out, QUEUE_ID_SEP);
	queue_id_put(out, (uint64_t)ino, 0);
}

/* Decode len symbols at s (all known to be alphabet symbols). */
static uint64_t
queue_id_get(const char *s, int len)
{
	uint64_t value = 0;
	int i;

	for (i = 0; i < len; i++)
		value = value * QUEUE_ID_BASE + (uint64_t)queue_id_digit(s[i]);
	return value;
}

bool
queue_id_valid(const char *id)
{
	size_t len, i;

	if (id == NULL)
		return false;
	len = strnlen(id, QUEUE_ID_MAX + 1);
	if (len < QUEUE_ID_SEP_POS + 2 || len > QUEUE_ID_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (i == QUEUE_ID_SEP_POS) {
			if (id[i] != QUEUE_ID_SEP)
				return false;
		} else if (queue_id_digit(id[i]) < 0) {
			return false;
		}
	}
	/* No leading zero symbol in the inode, except inode 0 itself. */
	if (id[QUEUE_ID_SEP_POS + 1] == queue_id_alphabet[0]
	    && len != QUEUE_ID_SEP_POS + 2)
		return false;
	if (queue_id_get(id + QUEUE_ID_SEC_LEN, QUEUE_ID_USEC_LEN) >= 1000000)
		return false;
	return true;
}

int
queue_id_time(const char *id, uint64_t *sec, uint32_t *usec)
{
	if (!queue_id_valid(id))
		return -1;
	*sec = queue_id_get(id, QUEUE_ID_SEC_LEN);
	*usec = (uint32_t)queue_id_get(id + QUEUE_ID_SEC_LEN,
	    QUEUE_ID_USEC_LEN);
	return 0;
}

void
queue_id_hash(struct buf *out, const char *id, int depth)
{
	int level, pos;

	if (depth <= 0 || !queue_id_valid(id))
		return;
	if (depth > QUEUE_ID_SEP_POS)
		depth = QUEUE_ID_SEP_POS;
	/* Symbols from position 10 (last microsecond symbol) downwards. */
	for (level = 0; level < depth; level++) {
		pos = QUEUE_ID_SEP_POS - 1 - level;
		buf_putc(out, id[pos]);
		buf_putc(out, '/');
	}
}
