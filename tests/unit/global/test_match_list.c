/*
 * test_match_list.c - unit tests for match_list.c
 *
 * Table-driven: client lists (addresses, networks, names, tables) and
 * domain lists, each case a list, a client or domain and the answer
 * wanted; malformed lists with the exact error; /file patterns from
 * files in a scratch directory; real tables (inline:, texthash:, cidr:)
 * through the dict layer, and a missing one for the temporary failure;
 * the default of mynetworks checked against this machine's interfaces.
 * A failure prints the case label.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "match_list.h"
#include "mem.h"
#include "testutil.h"

static struct scratch *scratch;
static char *dir;			/* the scratch directory, absolute */

/* Write text into dir/name; returns the absolute path (caller frees). */
static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static int
setup(void **state)
{
	static const char *const none[] = {NULL};
	char *path, *name;
	int i;

	(void)state;
	log_stderr(false);	/* a missing table's warning is expected */
	if (scratch_enter(&scratch, "test_match_list", none) < 0)
		return -1;
	if ((dir = getcwd(NULL, 0)) == NULL)
		return -1;
	free(write_file("clients.texthash", "mail.example.com 1\n"
	    "192.0.2.77 1\n.tabled.example x\n"));
	free(write_file("clients.cidr", "198.51.100.0/24 OK\n"
	    "2001:db8:77::/48 OK\n"));
	free(write_file("domains.texthash", "tabled.example 1\n"
	    ".sub.example 1\n"));
	free(write_file("nets", "# trusted networks\n"
	    "192.0.2.0/24, [2001:db8::]/32\n"
	    "    host.example\n"
	    "!10.0.0.1 10.0.0.0/8\n"));
	path = xasprintf("%s/nets", dir);
	free(write_file("outer", path));
	free(path);
	free(write_file("bad", "192.0.2.0/24\n\n# two\n10.0.0.1/8\n"));
	free(write_file("loop", "/nonexistent-placeholder\n"));
	path = xasprintf("%s/loop\n", dir);
	free(write_file("loop", path));
	free(path);
	free(write_file("domains", ".example.org !bad.example.net "
	    "example.net\n"));
	/* c1 names c2, ..., c8 names c9, which has a pattern. */
	for (i = 1; i <= 9; i++) {
		name = xasprintf("c%d", i);
		path = i < 9 ? xasprintf("%s/c%d\n", dir, i + 1)
		    : xstrdup("192.0.2.99\n");
		free(write_file(name, path));
		free(name);
		free(path);
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(dir);
	log_stderr(true);
	return scratch_leave(scratch);
}

/* Replace "@D" in a pattern list by the scratch directory. */
static char *
expand(const char *list)
{
	struct buf b;
	const char *cp;

	buf_init(&b, 128);
	for (cp = list; *cp; cp++) {
		if (cp[0] == '@' && cp[1] == 'D') {
			buf_puts(&b, dir);
			cp++;
		} else
			buf_putc(&b, *cp);
	}
	return buf_steal(&b);
}

struct client_case {
	const char *label;
	const char *list;
	const char *name;
	const char *addr;
	int want;
};

static const struct client_case client_cases[] = {
	/* Addresses and networks. */
	{"empty list", "", "mail.example.com", "192.0.2.1", 0},
	{"ipv4 address", "192.0.2.1", NULL, "192.0.2.1", 1},
	{"ipv4 other address", "192.0.2.1", NULL, "192.0.2.2", 0},
	{"ipv4 bracketed", "[192.0.2.1]", NULL, "192.0.2.1", 1},
	{"ipv4 network", "192.0.2.0/24", NULL, "192.0.2.200", 1},
	{"ipv4 outside network", "192.0.2.0/24", NULL, "192.0.3.1", 0},
	{"ipv4 bracketed network", "[192.0.2.0]/24", NULL, "192.0.2.9", 1},
	{"ipv4 /0", "0.0.0.0/0", NULL, "203.0.113.5", 1},
	{"ipv4 /32", "192.0.2.1/32", NULL, "192.0.2.1", 1},
	{"ipv4 odd prefix", "192.0.2.128/25", NULL, "192.0.2.127", 0},
	{"ipv4 odd prefix inside", "192.0.2.128/25", NULL, "192.0.2.129", 1},
	{"ipv4 pattern, ipv6 client", "0.0.0.0/0", NULL, "2001:db8::1", 0},
	{"ipv4-mapped client", "192.0.2.0/24", NULL, "::ffff:192.0.2.1", 1},
	{"ipv4-mapped client outside", "192.0.2.0/24", NULL,
	    "::ffff:192.0.3.1", 0},
	{"ipv6 address", "[2001:db8::1]", NULL, "2001:db8::1", 1},
	{"ipv6 address unbracketed", "2001:db8::1", NULL, "2001:db8::1", 1},
	{"ipv6 other spelling", "[2001:db8::1]", NULL,
	    "2001:db8:0:0:0:0:0:1", 1},
	{"ipv6 network", "[2001:db8::]/32", NULL, "2001:db8:ffff::1", 1},
	{"ipv6 outside network", "[2001:db8::]/32", NULL, "2001:db9::1", 0},
	{"ipv6 network unbracketed", "2001:db8::/32", NULL, "2001:db8::5",
	    1},
	{"ipv6 /0", "[::]/0", NULL, "2001:db8::1", 1},
	{"ipv6 /0, ipv4 client", "[::]/0", NULL, "192.0.2.1", 0},
	{"ipv6 odd prefix", "[2001:db8::]/33", NULL, "2001:db8:8000::1", 0},
	{"ipv6 zone ignored", "[fe80::]/10", NULL, "fe80::1%eth0", 1},
	{"ipv6 loopback", "[::1]/128", NULL, "::1", 1},
	{"not an address", "192.0.2.0/24", NULL, "garbage", 0},
	{"no address", "192.0.2.0/24", "mail.example.com", NULL, 0},

	/* Names. */
	{"name", "mail.example.com", "mail.example.com", "192.0.2.1", 1},
	{"name any case", "Mail.Example.COM", "MAIL.example.com",
	    "192.0.2.1", 1},
	{"name not subdomain", "example.com", "mail.example.com",
	    "192.0.2.1", 0},
	{"parent", ".example.com", "mail.example.com", "192.0.2.1", 1},
	{"parent deep", ".example.com", "a.b.example.com", "192.0.2.1", 1},
	{"parent not itself", ".example.com", "example.com", "192.0.2.1",
	    0},
	{"parent not suffix of label", ".example.com", "badexample.com",
	    "192.0.2.1", 0},
	{"unknown name", "unknown", "unknown", "192.0.2.1", 0},
	{"no name", "mail.example.com", NULL, "192.0.2.1", 0},
	{"empty name", ".com", "", "192.0.2.1", 0},

	/* Exclusions and order. */
	{"exclusion first", "!192.0.2.1 192.0.2.0/24", NULL, "192.0.2.1",
	    0},
	{"exclusion passes others", "!192.0.2.1 192.0.2.0/24", NULL,
	    "192.0.2.2", 1},
	{"first match wins", "192.0.2.0/24 !192.0.2.1", NULL, "192.0.2.1",
	    1},
	{"double negation", "!!192.0.2.1", NULL, "192.0.2.1", 1},
	{"excluded name", "!mail.example.com .example.com",
	    "mail.example.com", "192.0.2.1", 0},
	{"excluded name passes others", "!mail.example.com .example.com",
	    "smtp.example.com", "192.0.2.1", 1},
	{"name or address", "mail.example.com, 192.0.2.0/24",
	    "other.example", "192.0.2.9", 1},
	{"separators", "  192.0.2.5,,\t198.51.100.0/24\n,", NULL,
	    "198.51.100.7", 1},

	/* Tables through the dict layer. */
	{"inline name", "inline:{mail.example.com=1}", "mail.example.com",
	    "192.0.2.1", 1},
	{"inline address", "inline:{192.0.2.1=x}", "unknown", "192.0.2.1",
	    1},
	{"inline address miss", "inline:{192.0.2.1=x}", "unknown",
	    "192.0.2.2", 0},
	{"inline parent", "inline:{.example.com=1}", "a.b.example.com",
	    "192.0.2.1", 1},
	{"inline name is not parent", "inline:{example.com=1}",
	    "mail.example.com", "192.0.2.1", 0},
	{"inline unknown name", "inline:{unknown=1}", "unknown",
	    "192.0.2.1", 0},
	{"inline mapped address", "inline:{192.0.2.1=1}", NULL,
	    "::ffff:192.0.2.1", 1},
	{"inline with commas", "inline:{a.example=1, 192.0.2.3=1}",
	    NULL, "192.0.2.3", 1},
	{"excluded by table", "!inline:{192.0.2.1=1} 192.0.2.0/24", NULL,
	    "192.0.2.1", 0},
	{"texthash name", "texthash:@D/clients.texthash",
	    "Mail.Example.com", "203.0.113.1", 1},
	{"texthash address", "texthash:@D/clients.texthash", NULL,
	    "192.0.2.77", 1},
	{"texthash parent", "texthash:@D/clients.texthash",
	    "x.tabled.example", "203.0.113.1", 1},
	{"texthash miss", "texthash:@D/clients.texthash", "other.example",
	    "203.0.113.1", 0},
	{"cidr table", "cidr:@D/clients.cidr", NULL, "198.51.100.9", 1},
	{"cidr table ipv6", "cidr:@D/clients.cidr", NULL,
	    "2001:db8:77::1", 1},
	{"cidr table miss", "cidr:@D/clients.cidr", "x.example",
	    "198.51.101.9", 0},
	{"missing table", "texthash:@D/missing", NULL, "192.0.2.1", -1},
	{"missing table after a match", "192.0.2.1 texthash:@D/missing",
	    NULL, "192.0.2.1", 1},
	{"missing table before a match", "texthash:@D/missing 192.0.2.1",
	    NULL, "192.0.2.1", -1},
	{"unknown table type", "nosuchtype:whatever", NULL, "192.0.2.1",
	    -1},

	/* Patterns from files. */
	{"file network", "@D/nets", NULL, "192.0.2.5", 1},
	{"file ipv6", "@D/nets", NULL, "2001:db8::5", 1},
	{"file continuation line", "@D/nets", "host.example", "203.0.113.1",
	    1},
	{"file exclusion", "@D/nets", NULL, "10.0.0.1", 0},
	{"file after exclusion", "@D/nets", NULL, "10.0.0.2", 1},
	{"file miss", "@D/nets", NULL, "203.0.113.1", 0},
	{"file comment is not a name", "@D/nets", "#", "203.0.113.1", 0},
	{"negated file", "!@D/nets 0.0.0.0/0", NULL, "192.0.2.5", 0},
	{"negated file with exclusion", "!@D/nets", NULL, "10.0.0.1", 1},
	{"negated file miss", "!@D/nets 0.0.0.0/0", NULL, "203.0.113.1",
	    1},
	{"nested file", "@D/outer", NULL, "192.0.2.5", 1},
	{"files 8 deep", "@D/c2", NULL, "192.0.2.99", 1},
	{"pattern after file", "@D/nets 203.0.113.0/24", NULL,
	    "203.0.113.1", 1},
};

static void
test_clients(void **state)
{
	const struct client_case *c;
	struct match_list *l;
	struct buf why;
	char *list;
	size_t i;
	int got;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(client_cases); i++) {
		c = &client_cases[i];
		list = expand(c->list);
		buf_reset(&why);
		if ((l = match_list_clients("mynetworks", list, &why)) == NULL)
			fail_msg("case \"%s\": parse error: %s", c->label,
			    why.data);
		got = match_list_client(l, c->name, c->addr, &why);
		if (got != c->want)
			fail_msg("case \"%s\": got %d, want %d (%s)", c->label,
			    got, c->want, why.data);
		if (got < 0 && strncmp(why.data, "mynetworks: ", 12) != 0)
			fail_msg("case \"%s\": why \"%s\" does not name the "
			    "parameter", c->label, why.data);
		match_list_free(l);
		free(list);
	}
	buf_fini(&why);
}

struct domain_case {
	const char *label;
	const char *list;
	const char *domain;
	int want;
};

static const struct domain_case domain_cases[] = {
	{"empty list", "", "example.com", 0},
	{"name", "example.com", "example.com", 1},
	{"name any case", "Example.COM", "EXAMPLE.com", 1},
	{"name not subdomain", "example.com", "mail.example.com", 0},
	{"name not parent", "mail.example.com", "example.com", 0},
	{"parent", ".example.com", "mail.example.com", 1},
	{"parent not itself", ".example.com", "example.com", 0},
	{"parent and name", "example.com .example.com", "example.com", 1},
	{"literal as text", "[192.0.2.1]", "[192.0.2.1]", 1},
	{"literal other", "[192.0.2.1]", "[192.0.2.2]", 0},
	{"address is a name here", "192.0.2.0/24", "192.0.2.1", 0},
	{"exclusion", "!no.example.com .example.com", "no.example.com", 0},
	{"exclusion passes others", "!no.example.com .example.com",
	    "yes.example.com", 1},
	{"first match wins", ".example.com !no.example.com",
	    "no.example.com", 1},
	{"inline", "inline:{example.com=1}", "Example.com", 1},
	{"inline parent key", "inline:{.example.com=1}", "a.b.example.com",
	    1},
	{"inline parent key not itself", "inline:{.example.com=1}",
	    "example.com", 0},
	{"inline literal", "inline:{[192.0.2.1]=1}", "[192.0.2.1]", 1},
	{"inline literal no parents", "inline:{.1]=1}", "[192.0.2.1]", 0},
	{"texthash", "texthash:@D/domains.texthash", "tabled.example", 1},
	{"texthash parent", "texthash:@D/domains.texthash",
	    "deep.down.sub.example", 1},
	{"texthash miss", "texthash:@D/domains.texthash", "other.example",
	    0},
	{"excluded by table", "!inline:{no.example=1} .example", "no.example",
	    0},
	{"missing table", "localhost texthash:@D/missing", "example.com",
	    -1},
	{"missing table after a match", "localhost texthash:@D/missing",
	    "localhost", 1},
	{"file", "@D/domains", "a.example.org", 1},
	{"file exclusion", "@D/domains", "bad.example.net", 0},
	{"file name", "@D/domains", "example.net", 1},
	{"file miss", "@D/domains", "example.com", 0},
};

static void
test_domains(void **state)
{
	const struct domain_case *c;
	struct match_list *l;
	struct buf why;
	char *list;
	size_t i;
	int got;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(domain_cases); i++) {
		c = &domain_cases[i];
		list = expand(c->list);
		if ((l = match_list_domains("mydestination", list, &why))
		    == NULL)
			fail_msg("case \"%s\": parse error: %s", c->label,
			    why.data);
		got = match_list_domain(l, c->domain, &why);
		if (got != c->want)
			fail_msg("case \"%s\": got %d, want %d (%s)", c->label,
			    got, c->want, why.data);
		if (got < 0 && strncmp(why.data, "mydestination: ", 15) != 0)
			fail_msg("case \"%s\": why \"%s\" does not name the "
			    "parameter", c->label, why.data);
		match_list_free(l);
		free(list);
	}
	buf_fini(&why);
}

struct error_case {
	const char *label;
	bool clients;
	const char *list;
	const char *want;	/* the error, "@D" is the directory */
};

static const struct error_case error_cases[] = {
	{"prefix too long", true, "192.0.2.0/33",
	    "mynetworks: \"192.0.2.0/33\": bad prefix length \"33\" "
	    "(expected 0..32)"},
	{"ipv6 prefix too long", true, "[2001:db8::]/129",
	    "mynetworks: \"[2001:db8::]/129\": bad prefix length \"129\" "
	    "(expected 0..128)"},
	{"negative prefix", true, "192.0.2.0/-1",
	    "mynetworks: \"192.0.2.0/-1\": bad prefix length \"-1\" "
	    "(expected 0..32)"},
	{"empty prefix", true, "192.0.2.0/",
	    "mynetworks: \"192.0.2.0/\": bad prefix length \"\" "
	    "(expected 0..32)"},
	{"prefix with junk", true, "192.0.2.0/24x",
	    "mynetworks: \"192.0.2.0/24x\": bad prefix length \"24x\" "
	    "(expected 0..32)"},
	{"host bits", true, "192.0.2.1/24",
	    "mynetworks: \"192.0.2.1/24\": host bits set after the prefix "
	    "length (the network is \"192.0.2.0/24\")"},
	{"ipv6 host bits", true, "[2001:db8::1]/32",
	    "mynetworks: \"[2001:db8::1]/32\": host bits set after the "
	    "prefix length (the network is \"[2001:db8::]/32\")"},
	{"bad ipv4", true, "192.0.2.256",
	    "mynetworks: \"192.0.2.256\": bad IP address \"192.0.2.256\""},
	{"short ipv4", true, "192.0.2",
	    "mynetworks: \"192.0.2\": bad IP address \"192.0.2\""},
	{"name with prefix", true, "host.example/24",
	    "mynetworks: \"host.example/24\": bad IP address "
	    "\"host.example\""},
	{"bracketed name", true, "[host.example]",
	    "mynetworks: \"[host.example]\": bad IP address "
	    "\"host.example\""},
	{"missing bracket", true, "[192.0.2.1",
	    "mynetworks: \"[192.0.2.1\": missing \"]\""},
	{"text after bracket", true, "[192.0.2.1]x",
	    "mynetworks: \"[192.0.2.1]x\": text after \"]\""},
	{"later pattern", true, "127.0.0.0/8 10.1.0.0/8",
	    "mynetworks: \"10.1.0.0/8\": host bits set after the prefix "
	    "length (the network is \"10.0.0.0/8\")"},
	{"exclusion alone", true, "192.0.2.1 !",
	    "mynetworks: \"!\": empty pattern"},
	{"exclusion alone, domains", false, "!!",
	    "mynetworks: \"!!\": empty pattern"},
	{"empty parent", false, "example.com .",
	    "mynetworks: \".\": empty parent domain"},
	{"missing file", true, "@D/missing",
	    "mynetworks: \"@D/missing\": cannot open: No such file or "
	    "directory"},
	{"bad pattern in file", true, "@D/bad",
	    "mynetworks, @D/bad, line 4: \"10.0.0.1/8\": host bits set "
	    "after the prefix length (the network is \"10.0.0.0/8\")"},
	{"file naming itself", true, "@D/loop",
	    "mynetworks, @D/loop, line 1: \"@D/loop\": files nested more "
	    "than 8 deep"},
	{"files 9 deep", true, "@D/c1",
	    "mynetworks, @D/c8, line 1: \"@D/c9\": files nested more than "
	    "8 deep"},
	{"unprintable", true, "192.0.2.0/3\0013",
	    "mynetworks: \"192.0.2.0/3?3\": bad prefix length \"3?3\" "
	    "(expected 0..32)"},
};

static void
test_errors(void **state)
{
	const struct error_case *c;
	struct match_list *l;
	struct buf why;
	char *list, *want;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(error_cases); i++) {
		c = &error_cases[i];
		list = expand(c->list);
		want = expand(c->want);
		buf_reset(&why);
		l = c->clients ? match_list_clients("mynetworks", list, &why)
		    : match_list_domains("mynetworks", list, &why);
		if (l != NULL)
			fail_msg("case \"%s\": accepted", c->label);
		if (strcmp(why.data, want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    c->label, why.data, want);
		free(list);
		free(want);
	}
	buf_fini(&why);
}

/* A temporary failure names the parameter and the table's problem. */
static void
test_tempfail_reason(void **state)
{
	struct match_list *l;
	struct buf why;
	char *list = expand("texthash:@D/missing");

	(void)state;
	buf_init(&why, 64);
	assert_non_null(l = match_list_domains("relay_domains", list, &why));
	assert_int_equal(match_list_domain(l, "example.com", &why), -1);
	assert_true(strncmp(why.data, "relay_domains: ", 15) == 0);
	assert_non_null(strstr(why.data, "missing"));
	match_list_free(l);
	match_list_free(NULL);
	buf_fini(&why);
	free(list);
}

/* ---- the default of mynetworks ------------------------------------- */

static int
mask_prefix(const struct sockaddr *mask)
{
	const unsigned char *m;
	int i, len, prefix = 0;

	if (mask == NULL)
		return -1;
	if (mask->sa_family == AF_INET) {
		m = (const unsigned char *)&((const struct sockaddr_in *)
		    (const void *)mask)->sin_addr;
		len = 4;
	} else {
		m = (const unsigned char *)&((const struct sockaddr_in6 *)
		    (const void *)mask)->sin6_addr;
		len = 16;
	}
	for (i = 0; i < len; i++)
		prefix += __builtin_popcount(m[i]);
	return prefix;
}

static int
client_in(const char *nets, const char *addr)
{
	struct match_list *l;
	struct buf why;
	int rc;

	buf_init(&why, 64);
	if ((l = match_list_clients("mynetworks", nets, &why)) == NULL)
		fail_msg("\"%s\" does not parse: %s", nets, why.data);
	rc = match_list_client(l, NULL, addr, &why);
	match_list_free(l);
	buf_fini(&why);
	return rc;
}

/*
 * Each interface address is in every style's list; the host style has
 * only /32 and /128 entries; a neighbour address in an interface's
 * IPv4 subnet (not itself an interface address) is in the subnet list
 * and not in the host list.
 */
static void
test_mynetworks(void **state)
{
	struct ifaddrs *list, *ifa;
	char *host, *subnet, *class, text[INET6_ADDRSTRLEN], *cp;
	unsigned char a4[4];
	size_t checked = 0, neighbours = 0;
	int family, prefix;

	(void)state;
	assert_null(match_list_mynetworks("bogus"));
	assert_null(match_list_mynetworks(""));
	assert_non_null(host = match_list_mynetworks("host"));
	assert_non_null(subnet = match_list_mynetworks("Subnet"));
	assert_non_null(class = match_list_mynetworks("class"));
	for (cp = host; (cp = strchr(cp, '/')) != NULL; cp++)
		assert_true(strncmp(cp, "/32", 3) == 0
		    || strncmp(cp, "/128", 4) == 0);
	/* The loopback interface is everywhere. */
	assert_non_null(strstr(host, "127.0.0.1/32"));
	assert_non_null(strstr(subnet, "127.0.0.0/8"));
	assert_non_null(strstr(class, "127.0.0.0/8"));
	assert_int_equal(getifaddrs(&list), 0);
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL)
			continue;
		family = ifa->ifa_addr->sa_family;
		if (family == AF_INET)
			memcpy(a4, &((const struct sockaddr_in *)(const void *)
			    ifa->ifa_addr)->sin_addr, 4);
		else if (family != AF_INET6)
			continue;
		assert_non_null(inet_ntop(family, family == AF_INET ? (void *)a4
		    : (void *)&((struct sockaddr_in6 *)(void *)
		    ifa->ifa_addr)->sin6_addr, text, sizeof(text)));
		if (client_in(host, text) != 1 || client_in(subnet, text) != 1
		    || client_in(class, text) != 1)
			fail_msg("interface address %s missing: host \"%s\", "
			    "subnet \"%s\", class \"%s\"", text, host, subnet,
			    class);
		checked++;
		prefix = mask_prefix(ifa->ifa_netmask);
		if (family != AF_INET || prefix < 8 || prefix > 30)
			continue;
		a4[3] ^= 1;
		assert_non_null(inet_ntop(AF_INET, a4, text, sizeof(text)));
		if (strstr(host, text) != NULL)
			continue;	/* another interface has it */
		if (client_in(host, text) != 0 || client_in(subnet, text) != 1
		    || client_in(class, text) != 1)
			fail_msg("neighbour %s: host \"%s\", subnet \"%s\", "
			    "class \"%s\"", text, host, subnet, class);
		neighbours++;
	}
	freeifaddrs(list);
	assert_true(checked > 0);
	assert_true(neighbours > 0);	/* at least 127.0.0.0/8 */
	free(host);
	free(subnet);
	free(class);
}

/* The class style: IPv4 classes by the first byte. */
static void
test_mynetworks_class(void **state)
{
	char *class;

	(void)state;
	assert_non_null(class = match_list_mynetworks("class"));
	/* 127/8 is class A: any 127.x address is in, whatever lo says. */
	assert_int_equal(client_in(class, "127.255.1.2"), 1);
	free(class);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tempfail_reason),
		cmocka_unit_test(test_mynetworks),
		cmocka_unit_test(test_mynetworks_class),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
