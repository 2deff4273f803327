/*
 * test_host_addrs.c - unit tests for host_addrs.c
 *
 * Sets built from inet_interfaces-style values: literal addresses with
 * and without brackets, "loopback-only", "all" (checked against
 * getifaddrs(3)), a name that resolves (localhost) and one that does
 * not (a warning naming the parameter, nothing added); lookups by text,
 * including IPv4-mapped IPv6 and strings that are not addresses.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "host_addrs.h"
#include "testutil.h"

static void
test_literals(void **state)
{
	struct host_addrs *h = host_addrs_new();

	(void)state;
	host_addrs_add(h, "inet_interfaces",
	    "192.0.2.1, [192.0.2.2]\t2001:db8::1 [2001:DB8::2],192.0.2.1");
	assert_int_equal(host_addrs_count(h), 4);	/* no duplicate */
	assert_true(host_addrs_has_text(h, "192.0.2.1"));
	assert_true(host_addrs_has_text(h, "192.0.2.2"));
	assert_true(host_addrs_has_text(h, "2001:db8::1"));
	assert_true(host_addrs_has_text(h, "2001:db8:0::2"));
	/* An IPv4 client on a dual-stack socket. */
	assert_true(host_addrs_has_text(h, "::ffff:192.0.2.2"));
	assert_false(host_addrs_has_text(h, "192.0.2.3"));
	assert_false(host_addrs_has_text(h, "::ffff:192.0.2.3"));
	assert_false(host_addrs_has_text(h, "2001:db8::3"));
	/* Not addresses. */
	assert_false(host_addrs_has_text(h, ""));
	assert_false(host_addrs_has_text(h, "[192.0.2.1]"));
	assert_false(host_addrs_has_text(h, "192.0.2.1/32"));
	assert_false(host_addrs_has_text(h, "mail.example.com"));
	host_addrs_free(h);
	host_addrs_free(NULL);
}

static void
test_loopback_and_names(void **state)
{
	struct host_addrs *h = host_addrs_new();
	char *err;

	(void)state;
	host_addrs_add(h, "inet_interfaces", "LOOPBACK-ONLY");
	assert_int_equal(host_addrs_count(h), 2);
	assert_true(host_addrs_has_text(h, "127.0.0.1"));
	assert_true(host_addrs_has_text(h, "::1"));
	assert_false(host_addrs_has_text(h, "127.0.0.2"));
	host_addrs_free(h);

	/* localhost resolves through /etc/hosts: at least 127.0.0.1. */
	h = host_addrs_new();
	host_addrs_add(h, "proxy_interfaces", "localhost");
	assert_true(host_addrs_has_text(h, "127.0.0.1"));
	host_addrs_free(h);

	/* A name that does not resolve adds nothing and says where. */
	h = host_addrs_new();
	capture_start();
	host_addrs_add(h, "proxy_interfaces", "no-such-host.invalid");
	err = capture_end();
	assert_non_null(strstr(err, "proxy_interfaces: cannot find the "
	    "address of \"no-such-host.invalid\""));
	free(err);
	assert_int_equal(host_addrs_count(h), 0);
	host_addrs_free(h);
}

static void
test_all_interfaces(void **state)
{
	struct host_addrs *h = host_addrs_new();
	struct ifaddrs *list, *ifa;
	char text[INET6_ADDRSTRLEN];
	size_t seen = 0;

	(void)state;
	host_addrs_add(h, "inet_interfaces", "all");
	assert_int_equal(getifaddrs(&list), 0);
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)
			    ifa->ifa_addr)->sin_addr, text, sizeof(text));
		else if (ifa->ifa_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)
			    ifa->ifa_addr)->sin6_addr, text, sizeof(text));
		else
			continue;
		assert_true(host_addrs_has_text(h, text));
		seen++;
	}
	freeifaddrs(list);
	assert_true(seen > 0);
	assert_true(host_addrs_count(h) <= seen);
	assert_true(host_addrs_has_text(h, "127.0.0.1"));
	host_addrs_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_loopback_and_names),
		cmocka_unit_test(test_all_interfaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
