/*
 * dns_query.c - dns-query: DNS lookups through src/lib/dns
 *
 *	dns-query [-v] [-s servers] [-t timeout_ms] [-n tries] TYPE NAME
 *		one lookup through dns_lookup_sync()
 *	dns-query [options] -a TYPE NAME [TYPE NAME ...]
 *		all lookups at once on one resolver and event base
 *		(dns_lookup()), answers printed in argument order
 *
 * TYPE: A, AAAA, MX, TXT, PTR, FCRDNS (NAME is then an address).
 * For each lookup: a line "TYPE NAME STATUS", then one line per record,
 * indented by a tab ("PREF HOST" for MX, printable text for TXT), then
 * "\twhy: reason". Last, one line "elapsed: N ms": the monotonic time
 * the lookups took, from creating the resolver to the last answer (so a
 * test can check a deadline without counting the start of this
 * program). Exit status: 0 when every lookup said OK, 1 when one said
 * NOTFOUND or INVALID, 75 (EX_TEMPFAIL) when one said TEMPFAIL,
 * 64 (usage), 78 (EX_CONFIG: bad server list). Test code for
 * tests/integration/test_dns.py.
 *
 * SECURITY: test code; reply data is made printable before it is shown.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "log.h"
#include "msg.h"
#include "str.h"
#include "timeutil.h"

static void
usage(void)
{
	fprintf(stderr, "usage: dns-query [-v] [-s servers] [-t timeout_ms] "
	    "[-n tries] [-a] TYPE NAME [TYPE NAME ...]\n");
	exit(EX_USAGE);
}

static int
show(const struct dns_reply *reply)
{
	struct buf text;

	buf_init(&text, 256);
	str_printable(&text, reply->name, strlen(reply->name));
	printf("%s %s %s\n", dns_type_name(reply->type), text.data,
	    dns_status_name(reply->status));
	for (size_t i = 0; i < reply->nrrs; i++) {
		buf_reset(&text);
		str_printable(&text, reply->rrs[i].data, reply->rrs[i].len);
		if (reply->type == DNS_MX)
			printf("\t%u %s\n", reply->rrs[i].pref, text.data);
		else
			printf("\t%s\n", text.data);
	}
	buf_reset(&text);
	str_printable(&text, reply->why, strlen(reply->why));
	printf("\twhy: %s\n", text.data);
	buf_fini(&text);
	switch (reply->status) {
	case DNS_OK:
		return 0;
	case DNS_TEMPFAIL:
		return EX_TEMPFAIL;
	default:
		return 1;
	}
}

static int
worst(int a, int b)
{
	return a == EX_TEMPFAIL || b == EX_TEMPFAIL ? EX_TEMPFAIL
	    : a > b ? a : b;
}

static void
async_done(void *ctx, const struct dns_reply *reply)
{
	struct dns_reply **slot = ctx;

	*slot = dns_reply_dup(reply);
}

/*
 * All lookups at once on one resolver; *elapsed is set to the
 * milliseconds from creating the resolver to the last answer.
 */
static int
async(const char *servers, int timeout, int tries, int argc, char **argv,
    uint64_t *elapsed)
{
	struct event_base *base;
	struct dns_resolver *r;
	struct dns_reply **replies;
	struct buf why;
	int n = argc / 2, rc = 0, left;
	uint64_t start = time_mono_ms();

	buf_init(&why, 128);
	if ((base = event_base_new()) == NULL)
		msg_fatal("cannot create an event base");
	if ((r = dns_resolver_new(base, servers, timeout, tries, &why))
	    == NULL)
		msg_fatal_status(EX_CONFIG, "%s", why.data);
	replies = calloc((size_t)n, sizeof(*replies));
	if (replies == NULL)
		msg_fatal("out of memory");
	for (int i = 0; i < n; i++)
		dns_lookup(r, argv[2 * i + 1], dns_type_code(argv[2 * i]),
		    async_done, &replies[i]);
	do {
		left = 0;
		for (int i = 0; i < n; i++)
			left += replies[i] == NULL;
		if (left > 0 && event_base_loop(base, EVLOOP_ONCE) != 0)
			msg_panic("event loop ended with %d lookups left",
			    left);
	} while (left > 0);
	*elapsed = time_mono_ms() - start;
	for (int i = 0; i < n; i++) {
		rc = worst(rc, show(replies[i]));
		dns_reply_free(replies[i]);
	}
	free(replies);
	dns_resolver_free(r);
	event_base_free(base);
	buf_fini(&why);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *servers = NULL;
	int timeout = 1000, tries = 2, all = 0, ch, rc;
	struct dns_reply *reply;
	struct buf why;
	uint64_t start, elapsed;

	log_init("dns-query");
	while ((ch = getopt(argc, argv, "an:s:t:v")) != -1) {
		switch (ch) {
		case 'a':
			all = 1;
			break;
		case 'n':
			if (str_to_int(optarg, &tries) < 0)
				usage();
			break;
		case 's':
			servers = optarg;
			break;
		case 't':
			if (str_to_int(optarg, &timeout) < 0)
				usage();
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc % 2 != 0 || (!all && argc != 2))
		usage();
	for (int i = 0; i < argc; i += 2)
		if (dns_type_code(argv[i]) == 0)
			usage();
	if (all)
		rc = async(servers, timeout, tries, argc, argv, &elapsed);
	else {
		buf_init(&why, 128);
		start = time_mono_ms();
		reply = dns_lookup_sync(servers, timeout, tries, argv[1],
		    dns_type_code(argv[0]), &why);
		elapsed = time_mono_ms() - start;
		if (reply == NULL)
			msg_fatal_status(EX_CONFIG, "%s", why.data);
		rc = show(reply);
		dns_reply_free(reply);
		buf_fini(&why);
	}
	printf("elapsed: %llu ms\n", (unsigned long long)elapsed);
	if (fflush(stdout) == EOF || ferror(stdout))
		msg_fatal("write stdout: %m");
	return rc;
}
