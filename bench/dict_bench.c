/*
 * dict_bench.c - measure lookup table speed and memory
 *
 * usage: dict_bench [-c config_dir] [-f] [-m] [-M miss_pct] [-k keyfile]
 *	[-K count] [-l label] [-n lookups] [-s seed] [-t seconds] TYPE:NAME
 *
 * Opens one table with dict_open() as a daemon would, then looks keys
 * up in a tight loop and reports what it cost:
 *
 *	open	wall time of dict_open() (texthash: reads its whole source
 *		here; SQL types connect lazily or here, as they choose) and
 *		of the first lookup (proxy: connects to proxymap, which
 *		opens the table on its side then);
 *	hit	lookups of keys the table holds;
 *	miss	(-m) lookups of keys it does not hold: each key with
 *		".miss" appended, so a sorted index lands next to real keys;
 *	mixed	(-m) miss_pct percent misses (default 50), picked at random;
 *	end	resident memory after the run.
 *
 * Keys come from keyfile (the first word of each line of a postmap(1)
 * source: "key value"; blank, comment and continuation lines skipped),
 * shuffled once and then cycled; without -k they are "key<N>" with N
 * random in [0, count). Every lookup copies its key into one buffer
 * first, hits and misses alike, so the phases carry the same overhead.
 *
 * Resident memory is VmRSS from /proc/self/status, split into anonymous
 * (private heap: what texthash builds) and file-backed pages (what lmdb
 * and cdb map and touch), reported after the keys were loaded (base),
 * after open and after the run; "delta" values subtract the base, so
 * the key list itself does not count against the table.
 *
 * One machine-readable line per measurement on stdout, for bench/run:
 *
 *	bench dict label=lmdb table=lmdb:/x type=lmdb keys=1000000
 *	    phase=hit lookups=2000000 ... rate=1234567 ...
 *
 * then a short human summary. Exit status 0; 1 when the table could not
 * be opened or a lookup failed temporarily; EX_USAGE, EX_CONFIG.
 *
 * This is a benchmark, not a test: it checks only that hits are found
 * and misses are not, and says so when that is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "dict.h"
#include "dict_proxy.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "str.h"


#define MISS_SUFFIX	".miss"
/* Generated keys: this many are formatted up front and then cycled. */
#define GEN_POOL_MAX	(1U << 18)
/* Check the clock (for -t) every this many lookups. */
#define CLOCK_EVERY	256
/*
 * A phase is also timed in this many slices; the best slice's rate is
 * less disturbed by other work on a shared machine than the average.
 */
#define PHASE_SLICES	10

static const char usage_text[] =
    "usage: dict_bench [-c config_dir] [-f] [-m] [-M miss_pct] "
    "[-k keyfile] [-K count]\n"
    "\t[-l label] [-n lookups] [-s seed] [-t seconds] TYPE:NAME\n"
    "  -c dir     load dir/main.cf first (needed for proxy: tables)\n"
    "  -f         fold keys to lower case (DICT_FLAG_FOLD)\n"
    "  -m         also time misses and a mix of hits and misses\n"
    "  -M pct     percentage of misses in the mixed phase (50)\n"
    "  -k file    keys: first word of each line, shuffled, cycled\n"
    "  -K count   without -k: keys are key<N>, N random in [0, count)\n"
    "             (default 1000000); with -k: only the first count\n"
    "  -l label   name this run in the output (default: the type)\n"
    "  -n num     lookups per phase (default 1000000)\n"
    "  -s seed    random seed (default 1)\n"
    "  -t secs    stop a phase after this many seconds (default 60)\n";

/* The keys to look up: NUL-terminated strings in one arena. */
struct keyset {
	struct buf arena;
	size_t *off;
	size_t count;
	size_t cap;
	size_t distinct;	/* keys the table is expected to hold */
};

struct mem_usage {
	long rss_kb;
	long anon_kb;
	long file_kb;
	long hwm_kb;
};

struct phase_result {
	const char *name;
	unsigned long lookups;
	unsigned long found;
	unsigned long notfound;
	unsigned long tempfail;
	unsigned long wrong;	/* hit not found, or miss found */
	double secs;
	double cpu_secs;
	double best_rate;	/* of the PHASE_SLICES slices */
	int miss_pct;
};

struct bench_opts {
	const char *label;
	const char *table;
	int dict_flags;
	unsigned long lookups;
	double max_secs;
	int miss_pct;
	bool misses;
};

static uint64_t rng_state;

/* xorshift64*: fast, and the same sequence on every machine. */
static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static uint64_t
rng_below(uint64_t n)
{
	return n ? rng_next() % n : 0;
}

static double
now_secs(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		msg_fatal("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_secs(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		msg_fatal("getrusage: %s", strerror(errno));
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
	    + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Fill mu from /proc/self/status; fields it lacks stay -1. */
static void
mem_read(struct mem_usage *mu)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"VmRSS:", offsetof(struct mem_usage, rss_kb)},
		{"RssAnon:", offsetof(struct mem_usage, anon_kb)},
		{"RssFile:", offsetof(struct mem_usage, file_kb)},
		{"VmHWM:", offsetof(struct mem_usage, hwm_kb)},
	};
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	size_t i;

	mu->rss_kb = mu->anon_kb = mu->file_kb = mu->hwm_kb = -1;
	if ((fp = fopen("/proc/self/status", "r")) == NULL) {
		msg_warn("open /proc/self/status: %s", strerror(errno));
		return;
	}
	while (getline(&line, &cap, fp) > 0) {
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			size_t len = strlen(fields[i].name);

			if (strncmp(line, fields[i].name, len) == 0)
				*(long *)((char *)mu + fields[i].off) =
				    strtol(line + len, NULL, 10);
		}
	}
	free(line);
	(void)fclose(fp);
}

static void
keyset_add(struct keyset *ks, const char *key, size_t len)
{
	if (ks->count == ks->cap) {
		ks->cap = ks->cap ? 2 * ks->cap : 1024;
		ks->off = xreallocarray(ks->off, ks->cap, sizeof(*ks->off));
	}
	ks->off[ks->count++] = buf_len(&ks->arena);
	buf_append(&ks->arena, key, len);
	buf_putc(&ks->arena, '\0');
}

static const char *
keyset_get(const struct keyset *ks, size_t i)
{
	return buf_str(&ks->arena) + ks->off[i];
}

/*
 * Keys of a postmap(1) source: the first word of each line that does
 * not start with whitespace or '#'. At most limit keys (0: all).
 */
static void
keyset_load(struct keyset *ks, const char *path, unsigned long limit)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	size_t i;

	if ((fp = fopen(path, "r")) == NULL)
		msg_fatal_status(EX_NOINPUT, "open %s: %s", path,
		    strerror(errno));
	while ((len = getline(&line, &cap, fp)) > 0) {
		size_t klen = strcspn(line, " \t\r\n");

		if (klen == 0 || line[0] == '#')
			continue;
		keyset_add(ks, line, klen);
		if (limit && ks->count >= limit)
			break;
	}
	if (ferror(fp))
		msg_fatal("read %s: %s", path, strerror(errno));
	free(line);
	(void)fclose(fp);
	if (ks->count == 0)
		msg_fatal_status(EX_DATAERR, "%s: no keys", path);
	ks->distinct = ks->count;
	/* Fisher-Yates: file order would favour caches (sorted sources). */
	for (i = ks->count - 1; i > 0; i--) {
		size_t j = (size_t)rng_below(i + 1);
		size_t t = ks->off[i];

		ks->off[i] = ks->off[j];
		ks->off[j] = t;
	}
}

/* pool keys "key<N>", N random in [0, count). */
static void
keyset_generate(struct keyset *ks, unsigned long count, size_t pool)
{
	struct buf key;
	size_t i;

	buf_init(&key, 32);
	for (i = 0; i < pool; i++) {
		buf_reset(&key);
		buf_printf(&key, "key%llu",
		    (unsigned long long)rng_below(count));
		keyset_add(ks, buf_str(&key), buf_len(&key));
	}
	buf_fini(&key);
	ks->distinct = count;
}

/*
 * One timed phase: lookups of keys from ks, starting at *next, a miss
 * with probability miss_pct percent.
 */
static void
run_phase(struct dict *d, const struct keyset *ks, size_t *next,
    const struct bench_opts *o, struct phase_result *r)
{
	struct buf key;
	struct buf value;
	double start;
	double cpu;
	double deadline;
	double slice_start;
	unsigned long slice_len;
	unsigned long slice_next;
	unsigned long n;

	buf_init(&key, 256);
	buf_init(&value, 256);
	start = now_secs();
	cpu = cpu_secs();
	deadline = start + o->max_secs;
	slice_start = start;
	slice_len = o->lookups / PHASE_SLICES ? o->lookups / PHASE_SLICES : 1;
	slice_next = slice_len;
	for (n = 0; n < o->lookups; n++) {
		bool miss = r->miss_pct >= 100 || (r->miss_pct > 0
		    && rng_below(100) < (uint64_t)r->miss_pct);

		buf_set(&key, keyset_get(ks, *next));
		if (++*next == ks->count)
			*next = 0;
		if (miss)
			buf_puts(&key, MISS_SUFFIX);
		switch (dict_lookup(d, buf_str(&key), &value)) {
		case DICT_FOUND:
			r->found++;
			if (miss)
				r->wrong++;
			break;
		case DICT_NOTFOUND:
			r->notfound++;
			if (!miss)
				r->wrong++;
			break;
		case DICT_TEMPFAIL:
			if (r->tempfail++ == 0)
				msg_warn("%s: lookup \"%s\": %s", o->table,
				    buf_str(&key), dict_error(d));
			break;
		}
		if (n + 1 == slice_next) {
			double now = now_secs();

			if (now > slice_start
			    && slice_len / (now - slice_start) > r->best_rate)
				r->best_rate = slice_len / (now - slice_start);
			slice_start = now;
			slice_next += slice_len;
		}
		if (n % CLOCK_EVERY == CLOCK_EVERY - 1
		    && now_secs() > deadline) {
			n++;
			break;
		}
	}
	r->lookups = n;
	r->secs = now_secs() - start;
	r->cpu_secs = cpu_secs() - cpu;
	buf_fini(&key);
	buf_fini(&value);
}

/*
 * One word of a "bench dict" line: '%', whitespace and other bytes that
 * are not printable become %XX, so "inline:{a=b, c=d}" stays one word.
 */
static void
print_word(const char *str)
{
	const unsigned char *cp;

	for (cp = (const unsigned char *)str; *cp; cp++) {
		if (*cp <= ' ' || *cp >= 0x7f || *cp == '%')
			printf("%%%02X", *cp);
		else
			putchar(*cp);
	}
}

static void
print_prefix(const struct bench_opts *o, const struct dict *d,
    const struct keyset *ks, const char *phase)
{
	fputs("bench dict label=", stdout);
	print_word(o->label);
	fputs(" table=", stdout);
	print_word(o->table);
	printf(" type=%s keys=%zu phase=%s", d->type, ks->distinct, phase);
}

static void
print_mem(const char *prefix, const struct mem_usage *mu,
    const struct mem_usage *base)
{
	printf(" %srss_kb=%ld %sanon_kb=%ld %sfile_kb=%ld", prefix, mu->rss_kb,
	    prefix, mu->anon_kb, prefix, mu->file_kb);
	if (base != NULL)
		printf(" %srss_delta_kb=%ld", prefix,
		    mu->rss_kb - base->rss_kb);
}

static double
rate_of(const struct phase_result *r)
{
	return r->secs > 0 ? r->lookups / r->secs : 0;
}

static void
print_phase(const struct bench_opts *o, const struct dict *d,
    const struct keyset *ks, const struct phase_result *r)
{
	print_prefix(o, d, ks, r->name);
	printf(" lookups=%lu found=%lu notfound=%lu tempfail=%lu wrong=%lu"
	    " miss_pct=%d secs=%.3f rate=%.0f best=%.0f us=%.3f cpu_us=%.3f\n",
	    r->lookups, r->found, r->notfound, r->tempfail, r->wrong,
	    r->miss_pct, r->secs, rate_of(r), r->best_rate,
	    r->lookups ? r->secs * 1e6 / r->lookups : 0,
	    r->lookups ? r->cpu_secs * 1e6 / r->lookups : 0);
}

static void
print_summary(const struct bench_opts *o, double open_secs,
    double first_secs, const struct mem_usage *base,
    const struct mem_usage *opened, const struct mem_usage *end,
    const struct phase_result *res, size_t nres)
{
	size_t i;

	printf("%s (%s):\n", o->label, o->table);
	printf("  open %.1f ms, first lookup %.3f ms, resident memory "
	    "+%ld KB after open (%ld KB heap, %ld KB mapped file),\n"
	    "  +%ld KB after the run (%ld KB in all, peak %ld KB)\n",
	    open_secs * 1e3, first_secs * 1e3,
	    opened->rss_kb - base->rss_kb, opened->anon_kb - base->anon_kb,
	    opened->file_kb - base->file_kb, end->rss_kb - base->rss_kb,
	    end->rss_kb, end->hwm_kb);
	for (i = 0; i < nres; i++) {
		const struct phase_result *r = &res[i];

		printf("  %-6s %10.0f lookups/s  %8.2f us each  (%lu in "
		    "%.2f s, %.2f us CPU each)", r->name, rate_of(r),
		    r->lookups ? r->secs * 1e6 / r->lookups : 0, r->lookups,
		    r->secs, r->lookups ? r->cpu_secs * 1e6 / r->lookups : 0);
		if (r->tempfail)
			printf(" %lu TEMPFAIL", r->tempfail);
		if (r->wrong)
			printf(" %lu wrong answers", r->wrong);
		printf("\n");
	}
}

static _Noreturn void
usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

static unsigned long
opt_ulong(int opt, const char *arg, unsigned long min, unsigned long max)
{
	unsigned long v;

	if (str_to_ulong(arg, &v) != 0 || v < min || v > max) {
		msg_error("-%c: bad value \"%s\" (expected %lu..%lu)", opt, arg,
		    min, max);
		usage();
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct bench_opts o = {
		.lookups = 1000000,
		.max_secs = 60,
		.miss_pct = 50,
	};
	const char *config_dir = NULL;
	const char *keyfile = NULL;
	unsigned long key_count = 0;
	struct keyset ks = {0};
	struct mem_usage base, opened, end;
	struct phase_result res[3];
	size_t nres = 0;
	size_t next = 0;
	struct dict *d;
	struct buf type;
	struct buf name;
	struct buf value;
	double t0, open_secs, first_secs;
	enum dict_result first;
	unsigned long tempfail = 0;
	size_t i;
	int ch;

	log_init("dict_bench");
	rng_state = 1;
	while ((ch = getopt(argc, argv, "c:fk:K:l:mM:n:s:t:")) != -1) {
		switch (ch) {
		case 'c':
			config_dir = optarg;
			break;
		case 'f':
			o.dict_flags |= DICT_FLAG_FOLD;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'K':
			key_count = opt_ulong(ch, optarg, 1, 1UL << 40);
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'm':
			o.misses = true;
			break;
		case 'M':
			o.miss_pct = (int)opt_ulong(ch, optarg, 0, 100);
			break;
		case 'n':
			o.lookups = opt_ulong(ch, optarg, 1, 1UL << 40);
			break;
		case 's':
			rng_state = opt_ulong(ch, optarg, 1, ~0UL);
			break;
		case 't':
			o.max_secs = (double)opt_ulong(ch, optarg, 1, 86400);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	o.table = argv[optind];

	buf_init(&type, 16);
	buf_init(&name, 64);
	if (dict_split_name(o.table, &type, &name) != 0) {
		msg_error("bad table name \"%s\" (expected type:name)",
		    o.table);
		usage();
	}
	if (o.label == NULL)
		o.label = buf_str(&type);

	/*
	 * A proxy: table needs the instance's queue directory (where the
	 * proxymap socket lives), so its main.cf must be loaded.
	 */
	if (config_dir != NULL
	    || strcmp(buf_str(&type), "proxy") == 0) {
		if (conf_load(config_dir, NULL) != 0)
			exit(EX_CONFIG);
	}
	mail_dict_init();

	if (keyfile != NULL)
		keyset_load(&ks, keyfile, key_count);
	else
		keyset_generate(&ks, key_count ? key_count : 1000000,
		    o.lookups < GEN_POOL_MAX ? o.lookups : GEN_POOL_MAX);

	mem_read(&base);
	t0 = now_secs();
	d = dict_open(o.table, O_RDONLY, o.dict_flags);
	open_secs = now_secs() - t0;
	if (dict_is_surrogate(d)) {
		/* dict_open() has logged why. */
		msg_error("%s: cannot open the table, giving up", o.table);
		exit(1);
	}
	mem_read(&opened);

	/* The first lookup may connect somewhere: time it on its own. */
	buf_init(&value, 256);
	t0 = now_secs();
	first = dict_lookup(d, keyset_get(&ks, next), &value);
	first_secs = now_secs() - t0;
	if (first == DICT_TEMPFAIL) {
		msg_error("%s: first lookup: %s", o.table, dict_error(d));
		exit(1);
	}
	if (++next == ks.count)
		next = 0;
	buf_fini(&value);

	print_prefix(&o, d, &ks, "open");
	printf(" open_ms=%.3f first_ms=%.3f", open_secs * 1e3,
	    first_secs * 1e3);
	print_mem("", &opened, &base);
	print_mem("base_", &base, NULL);
	printf("\n");
	fflush(stdout);

	memset(res, 0, sizeof(res));
	res[nres].name = "hit";
	res[nres++].miss_pct = 0;
	if (o.misses) {
		res[nres].name = "miss";
		res[nres++].miss_pct = 100;
		res[nres].name = "mixed";
		res[nres++].miss_pct = o.miss_pct;
	}
	for (i = 0; i < nres; i++) {
		run_phase(d, &ks, &next, &o, &res[i]);
		print_phase(&o, d, &ks, &res[i]);
		fflush(stdout);
		tempfail += res[i].tempfail;
	}

	mem_read(&end);
	print_prefix(&o, d, &ks, "end");
	print_mem("", &end, &base);
	printf(" hwm_kb=%ld\n", end.hwm_kb);
	print_summary(&o, open_secs, first_secs, &base, &opened, &end, res,
	    nres);
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal("write standard output: %s", strerror(errno));

	dict_close(d);
	buf_fini(&type);
	buf_fini(&name);
	buf_fini(&ks.arena);
	free(ks.off);
	return tempfail ? 1 : 0;
}
