/*
 * htable.c - hash table with string keys
 *
 * Separate chaining over a power-of-two bucket array that doubles when
 * the table holds more entries than buckets, so chains stay short. Each
 * entry and its key copy are one allocation.
 *
 * SECURITY: keys often come from outside (addresses, host names). With a
 * fixed hash function an attacker could choose keys that all land in one
 * chain and turn every lookup into a linear scan. Each table therefore
 * hashes with SipHash-2-4 under its own random 128-bit key from
 * getrandom(2). If the kernel cannot supply randomness (very old kernel,
 * seccomp) we fall back to a mix of clock, pid and addresses: weaker,
 * but still not known in advance to a remote peer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "htable.h"
#include "mem.h"

struct htable {
	struct htable_entry **buckets;
	size_t size;		/* number of buckets, a power of two */
	size_t count;		/* number of entries */
	uint64_t k0, k1;	/* SipHash key */
};

#define HTABLE_MIN_SIZE	16

/*
 * SipHash-2-4 (Aumasson and Bernstein), written from the paper's
 * description: 2 compression rounds per 8-byte word, 4 finalization
 * rounds, message length in the top byte of the last word.
 */
#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void
sip_round(uint64_t *v)
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t
siphash(uint64_t k0, uint64_t k1, const unsigned char *data, size_t len)
{
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	uint64_t m;
	size_t i, tail = len & 7;
	const unsigned char *end = data + (len - tail);

	for (; data < end; data += 8) {
		m = 0;
		for (i = 0; i < 8; i++)
			m |= (uint64_t)data[i] << (8 * i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	m = (uint64_t)(len & 0xff) << 56;
	for (i = 0; i < tail; i++)
		m |= (uint64_t)data[i] << (8 * i);
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void
htable_seed(struct htable *ht)
{
	uint64_t key[2];
	unsigned char *p = (unsigned char *)key;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(key)) {
		n = getrandom(p + got, sizeof(key) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(key)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL
		    ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
		clock_gettime(CLOCK_REALTIME, &ts);
		key[1] = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20
		    ^ (uint64_t)(uintptr_t)ht;
	}
	ht->k0 = key[0];
	ht->k1 = key[1];
}

static inline size_t
htable_index(const struct htable *ht, const char *key)
{
	return (size_t)siphash(ht->k0, ht->k1, (const unsigned char *)key,
	    strlen(key)) & (ht->size - 1);
}

struct htable *
htable_new(size_t hint)
{
	struct htable *ht = xmalloc(sizeof(*ht));

	ht->size = HTABLE_MIN_SIZE;
	while (ht->size < hint && ht->size <= SIZE_MAX / 4)
		ht->size *= 2;
	ht->buckets = xcalloc(ht->size, sizeof(ht->buckets[0]));
	ht->count = 0;
	htable_seed(ht);
	return ht;
}

void
htable_free(struct htable *ht, htable_free_fn free_value)
{
	struct htable_entry *e, *next;
	size_t i;

	if (ht == NULL)
		return;
	for (i = 0; i < ht->size; i++) {
		for (e = ht->buckets[i]; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	}
	free(ht->buckets);
	free(ht);
}

/* Double the bucket array and rehash every entry. */
static void
htable_grow(struct htable *ht)
{
	struct htable_entry **old = ht->buckets, *e, *next;
	size_t old_size = ht->size, i, idx;

	if (ht->size > SIZE_MAX / 2 / sizeof(ht->buckets[0]))
		return;			/* chains just get longer */
	ht->size *= 2;
	ht->buckets = xcalloc(ht->size, sizeof(ht->buckets[0]));
	for (i = 0; i < old_size; i++) {
		for (e = old[i]; e; e = next) {
			next = e->next;
			idx = htable_index(ht, e->key);
			e->next = ht->buckets[idx];
			ht->buckets[idx] = e;
		}
	}
	free(old);
}

struct htable_entry *
htable_locate(const struct htable *ht, const char *key)
{
	struct htable_entry *e;

	for (e = ht->buckets[htable_index(ht, key)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

void *
htable_get(const struct htable *ht, const char *key)
{
	struct htable_entry *e = htable_locate(ht, key);

	return e ? e->value : NULL;
}

void *
htable_put(struct htable *ht, const char *key, void *value)
{
	struct htable_entry *e = htable_locate(ht, key);
	size_t len = strlen(key), total, idx;
	void *old;

	if (e) {
		old = e->value;
		e->value = value;
		return old;
	}
	if (ht->count >= ht->size)
		htable_grow(ht);
	if (__builtin_add_overflow(sizeof(*e), len, &total)
	    || __builtin_add_overflow(total, 1, &total))
		total = SIZE_MAX;	/* xmalloc fails and reports */
	e = xmalloc(total);
	e->key = (char *)(e + 1);
	memcpy(e->key, key, len + 1);
	e->value = value;
	idx = htable_index(ht, key);
	e->next = ht->buckets[idx];
	ht->buckets[idx] = e;
	ht->count++;
	return NULL;
}

void *
htable_delete(struct htable *ht, const char *key)
{
	struct htable_entry **ep, *e;
	void *value;

	for (ep = &ht->buckets[htable_index(ht, key)]; (e = *ep) != NULL;
	    ep = &e->next) {
		if (strcmp(e->key, key) == 0) {
			*ep = e->next;
			value = e->value;
			free(e);
			ht->count--;
			return value;
		}
	}
	return NULL;
}

size_t
htable_count(const struct htable *ht)
{
	return ht->count;
}

struct htable_entry **
htable_list(const struct htable *ht)
{
	struct htable_entry **list, *e;
	size_t i, n = 0;

	list = xreallocarray(NULL, ht->count + 1, sizeof(list[0]));
	for (i = 0; i < ht->size; i++)
		for (e = ht->buckets[i]; e; e = e->next)
			list[n++] = e;
	list[n] = NULL;
	return list;
}
