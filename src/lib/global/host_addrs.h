/*
 * host_addrs.h - this host's addresses, as inet_interfaces names them
 *
 *	struct host_addrs *h = host_addrs_new();
 *	host_addrs_add(h, "inet_interfaces", var_inet_interfaces);
 *	if (host_addrs_has_text(h, "192.0.2.1")) ... one of ours ...
 *	host_addrs_free(h);
 *
 * A set of IPv4 and IPv6 addresses built from values with the syntax of
 * inet_interfaces and proxy_interfaces: "all" (every address of every
 * interface, from getifaddrs(3) at the time of the call),
 * "loopback-only" (127.0.0.1 and ::1), addresses with or without
 * [brackets], and host names (resolved once, now). Elements are
 * separated by commas and/or white space. A name that does not resolve
 * or an interface list that cannot be read is a warning naming param,
 * not an error: the set simply lacks those addresses.
 *
 * Used by trivial-rewrite ([addr] domain literals that are ours) and by
 * smtpd (permit_inet_interfaces).
 */
#ifndef PETREL_HOST_ADDRS_H
#define PETREL_HOST_ADDRS_H

#include <stdbool.h>
#include <stddef.h>

struct host_addrs;

struct host_addrs *host_addrs_new(void);
void host_addrs_free(struct host_addrs *h);		/* accepts NULL */
/* Add the addresses that value names (param: for warnings). */
void host_addrs_add(struct host_addrs *h, const char *param,
    const char *value);
/* Is addr (4 bytes for AF_INET, 16 for AF_INET6) in the set? */
bool host_addrs_has(const struct host_addrs *h, int family,
    const void *addr);
/*
 * Is the printable address in the set? "192.0.2.1", "2001:db8::1"; an
 * IPv4-mapped IPv6 address is compared as its IPv4 form. false for
 * anything that is not an address.
 */
bool host_addrs_has_text(const struct host_addrs *h, const char *text);
size_t host_addrs_count(const struct host_addrs *h);

#endif
