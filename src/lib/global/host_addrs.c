/*
 * host_addrs.c - this host's addresses, as inet_interfaces names them
 *
 * See host_addrs.h. The set is a small array searched linearly: a host
 * has a handful of addresses, and both users build it once at start.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"
#include "host_addrs.h"
#include "inet_prefix.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

#define HOST_ADDRS_SEPS	", \t\r\n"

struct host_addr {
	int family;
	unsigned char addr[16];
};

struct host_addrs {
	struct host_addr *list;
	size_t count;
};

struct host_addrs *
host_addrs_new(void)
{
	return xcalloc(1, sizeof(struct host_addrs));
}

void
host_addrs_free(struct host_addrs *h)
{
	if (h == NULL)
		return;
	free(h->list);
	free(h);
}

size_t
host_addrs_count(const struct host_addrs *h)
{
	return h->count;
}

bool
host_addrs_has(const struct host_addrs *h, int family, const void *addr)
{
	size_t i;

	for (i = 0; i < h->count; i++)
		if (h->list[i].family == family
		    && memcmp(h->list[i].addr, addr,
		    inet_prefix_addr_len(family)) == 0)
			return true;
	return false;
}

bool
host_addrs_has_text(const struct host_addrs *h, const char *text)
{
	struct inet_prefix_addr a;

	/* An IPv4-mapped address is its IPv4 address (has4 is set). */
	if (!inet_prefix_addr_parse(text, &a))
		return false;
	if (a.has4)
		return host_addrs_has(h, AF_INET, a.a4);
	return host_addrs_has(h, AF_INET6, a.a6);
}

static void
host_addrs_put(struct host_addrs *h, int family, const void *addr)
{
	struct host_addr *a;

	if (host_addrs_has(h, family, addr))
		return;
	h->list = xreallocarray(h->list, h->count + 1, sizeof(*h->list));
	a = &h->list[h->count++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, addr, inet_prefix_addr_len(family));
}

static void
host_addrs_put_sockaddr(struct host_addrs *h, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		host_addrs_put(h, AF_INET, &sin->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		host_addrs_put(h, AF_INET6, &sin6->sin6_addr);
	}
}

static void
host_addrs_put_interfaces(struct host_addrs *h, const char *param)
{
	struct ifaddrs *list, *ifa;

	if (getifaddrs(&list) < 0) {
		msg_warn("%s: cannot list the network interfaces: %m", param);
		return;
	}
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next)
		host_addrs_put_sockaddr(h, ifa->ifa_addr);
	freeifaddrs(list);
}

/* One element; name is modified (brackets removed). */
static void
host_addrs_put_name(struct host_addrs *h, const char *param, char *name)
{
	struct addrinfo hints, *res, *ai;
	unsigned char bin[16];
	size_t len = strlen(name);
	int err;

	if (strcasecmp(name, "all") == 0) {
		host_addrs_put_interfaces(h, param);
		return;
	}
	if (strcasecmp(name, "loopback-only") == 0) {
		if (inet_pton(AF_INET, "127.0.0.1", bin) == 1)
			host_addrs_put(h, AF_INET, bin);
		if (inet_pton(AF_INET6, "::1", bin) == 1)
			host_addrs_put(h, AF_INET6, bin);
		return;
	}
	if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
		name[len - 1] = 0;
		name++;
	}
	if (inet_pton(AF_INET, name, bin) == 1) {
		host_addrs_put(h, AF_INET, bin);
		return;
	}
	if (inet_pton(AF_INET6, name, bin) == 1) {
		host_addrs_put(h, AF_INET6, bin);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((err = getaddrinfo(name, NULL, &hints, &res)) != 0) {
		msg_warn("%s: cannot find the address of \"%s\": %s", param,
		    name, gai_strerror(err));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		host_addrs_put_sockaddr(h, ai->ai_addr);
	freeaddrinfo(res);
}

void
host_addrs_add(struct host_addrs *h, const char *param, const char *value)
{
	struct buf tok;
	const char *cp = value;

	buf_init(&tok, 64);
	while ((cp = str_token_braced(cp, HOST_ADDRS_SEPS, &tok)) != NULL)
		host_addrs_put_name(h, param, tok.data);
	buf_fini(&tok);
}
