/*
 * fuzz_haproxy.c - libFuzzer target: the PROXY protocol parser of smtpd
 * (smtpd_haproxy.c)
 *
 * The input is what a load balancer (or anyone) sends first. Beyond "no
 * crash" (the parser sees a copy of exactly the input, so ASan catches
 * any read past it):
 *   - a result is -1, 0 or a length within the input and the limits;
 *   - a complete header parses again alone to the same length, and
 *     one byte less asks for more;
 *   - a proxied header has addresses that inet_pton accepts in their
 *     family and decimal ports 0..65535; a local one has none;
 *   - a reader taking what haproxy_span() allows, in chunks of a size
 *     chosen by the input, never takes a byte past a complete header
 *     and ends at the same verdict.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "msg.h"
#include "smtpd_haproxy.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
parse_copy(const uint8_t *data, size_t len, struct haproxy_addr *out,
    struct buf *why)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	if (copy == NULL)
		abort();
	memcpy(copy, data, len);
	rc = haproxy_parse(copy, len, out, why);
	free(copy);
	return rc;
}

static void
check_port(const char *port)
{
	size_t len = strlen(port);
	unsigned long val;
	char *end;

	if (len == 0 || len > 5 || (len > 1 && port[0] == '0'))
		abort();
	val = strtoul(port, &end, 10);
	if (*end != 0 || val > 65535 || port[0] < '0' || port[0] > '9')
		abort();
}

static void
check_addr(int family, const char *addr)
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (inet_pton(family, addr, bin) != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct haproxy_addr pa, again;
	struct buf why;
	size_t have, avail, take, chunk;
	int rc, rc2;

	buf_init(&why, 64);
	rc = parse_copy(data, size, &pa, &why);
	if (rc < -1 || (rc > 0 && (size_t)rc > size) || rc > HAPROXY_MAX_LEN)
		abort();
	if (rc == -1 && why.len == 0)
		abort();
	if (rc > 0) {
		if (pa.version != 1 && pa.version != 2)
			abort();
		if (pa.version == 1 && rc > HAPROXY_V1_MAX)
			abort();
		if (parse_copy(data, (size_t)rc, &again, NULL) != rc
		    || memcmp(&again, &pa, sizeof(pa)) != 0)
			abort();
		if (parse_copy(data, (size_t)rc - 1, &again, NULL) != 0)
			abort();
		if (pa.local) {
			if (pa.family != AF_UNSPEC || pa.addr[0] || pa.port[0]
			    || pa.server_addr[0] || pa.server_port[0])
				abort();
		} else {
			if (pa.family != AF_INET && pa.family != AF_INET6)
				abort();
			check_addr(pa.family, pa.addr);
			/* One side may have been IPv4-mapped, not both. */
			check_addr(strchr(pa.server_addr, ':') != NULL
			    ? AF_INET6 : AF_INET, pa.server_addr);
			check_port(pa.port);
			check_port(pa.server_port);
		}
	}

	/* A reader in chunks of 1..16 bytes, the size from the input. */
	chunk = size ? (size_t)(data[size - 1] & 0x0f) + 1 : 1;
	have = 0;
	while ((rc2 = parse_copy(data, have, &again, NULL)) == 0
	    && have < size) {
		avail = size - have < chunk ? size - have : chunk;
		take = haproxy_span((const char *)data, have, avail);
		if (take == 0 || take > avail)
			abort();
		have += take;
		if (rc > 0 && have > (size_t)rc)
			abort();
	}
	if (rc > 0 && (rc2 != rc || have != (size_t)rc))
		abort();
	if ((rc == -1 && rc2 != -1) || (rc == 0 && rc2 != 0))
		abort();
	buf_fini(&why);
	return 0;
}
