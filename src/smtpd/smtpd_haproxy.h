/*
 * smtpd_haproxy.h - the HAProxy PROXY protocol, versions 1 and 2
 *
 * With smtpd_upstream_proxy_protocol = haproxy, a load balancer sends
 * one PROXY header before the SMTP stream; it names the client (and
 * the address it connected to). smtpd_peer.c calls haproxy_read(),
 * which reads exactly the header and nothing after it, so the SMTP
 * input that follows is left on the socket for smtpd_io.c:
 *
 *	struct haproxy_addr pa;
 *	if (haproxy_read(fd, var_smtpd_upstream_proxy_timeout * 1000,
 *	    &pa, &why) < 0)
 *		msg_warn("haproxy read: %s from [%s]", why.data, addr);
 *	else if (!pa.local)
 *		... the client is pa.addr, port pa.port ...
 *
 * haproxy_parse() is the parser alone (no I/O), for the fuzzer and
 * the unit tests; haproxy_span() says how much of what a socket has to
 * offer belongs to the header, so that a reader never takes more.
 *
 * Headers (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt):
 *
 *	v1: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"
 *	    "PROXY TCP6 2001:db8::1 2001:db8::2 56324 25\r\n"
 *	    "PROXY UNKNOWN[ anything]\r\n"	(at most 107 bytes)
 *	v2: a 12-byte signature, version 2 and command (LOCAL or PROXY),
 *	    family and transport, a 16-bit length, the addresses, TLVs.
 *
 * SECURITY: the header comes from the network before anything else;
 * it is bounded (HAPROXY_MAX_LEN), every length is checked against
 * what is there, and addresses and ports are validated (inet_pton,
 * strict decimal ports).
 */
#ifndef PETREL_SMTPD_HAPROXY_H
#define PETREL_SMTPD_HAPROXY_H

#include <stdbool.h>
#include <stddef.h>

#include <netinet/in.h>

struct buf;

#define HAPROXY_V1_MAX		107	/* v1 header, CRLF included */
#define HAPROXY_V2_FIXED	16	/* signature, command, family, length */
/*
 * A v2 header may declare up to 65535 bytes of addresses and TLVs; we
 * accept up to this many bytes in all, which leaves room for every TLV
 * load balancers send (SSL information, unique ID, authority, cloud
 * endpoint IDs) and rejects the rest as malformed.
 */
#define HAPROXY_MAX_LEN		4096

struct haproxy_addr {
	int version;		/* 1 or 2 */
	/*
	 * true: v1 UNKNOWN, v2 LOCAL, or v2 PROXY with an unspecified
	 * family: the proxy is talking for itself (health checks); use
	 * the real peer. The fields below are then empty.
	 */
	bool local;
	int family;		/* AF_INET, AF_INET6; AF_UNSPEC when local */
	char addr[INET6_ADDRSTRLEN];		/* the client: "192.0.2.1" */
	char port[6];				/* "56324" */
	char server_addr[INET6_ADDRSTRLEN];	/* where it connected to */
	char server_port[6];
};

/*
 * Parse the header at the start of buf[0..len). Returns the header's
 * length (> 0) when it is complete and valid, with *out filled in; 0
 * when what is there is a valid start but more bytes are needed; -1
 * when it is malformed, with the reason in why (when why is not NULL;
 * its previous content is replaced). Bytes after the header are not
 * looked at.
 */
int haproxy_parse(const char *buf, size_t len, struct haproxy_addr *out,
    struct buf *why);

/*
 * A reader has taken have bytes of the header (data[0..have), for
 * which haproxy_parse() returned 0, or have == 0) and peeked at avail
 * more (data[have..have+avail)). Returns how many of those avail bytes
 * it may take without going past the end of the header: up to and
 * including the first LF for v1, up to the declared length for v2
 * (the fixed 16 bytes first). When the header is malformed the result
 * is still at most avail and the parser will say why.
 */
size_t haproxy_span(const char *data, size_t have, size_t avail);

/* ---- smtpd_haproxy_read.c ------------------------------------------------ */

/*
 * Read one PROXY header from fd within timeout_ms milliseconds,
 * taking exactly the header's bytes (recv with MSG_PEEK, then only
 * what haproxy_span() allows). Returns 0 with *out filled in, or -1
 * with the reason in why ("timeout after 5s", "lost connection after
 * 12 bytes", "read error: ...", or the parser's reason). fd may be
 * blocking or not; why must not be NULL.
 */
int haproxy_read(int fd, int timeout_ms, struct haproxy_addr *out,
    struct buf *why);

#endif
