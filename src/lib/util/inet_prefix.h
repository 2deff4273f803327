/*
 * inet_prefix.h - IPv4 and IPv6 networks written as address/prefix
 *
 * The network arithmetic that client lists (mynetworks, *_clients) and
 * cidr: tables share: parse a network pattern, check that no bit is set
 * after its prefix length, test whether an address lies inside it, and
 * write it back as text.
 *
 *	struct inet_prefix net;
 *	struct inet_prefix_addr a;
 *
 *	if (inet_prefix_parse("192.0.2.0/24", &net, &part) != INET_PREFIX_OK)
 *		... the caller words the problem, see enum inet_prefix_status
 *	if (inet_prefix_addr_parse(client_addr, &a)
 *	    && inet_prefix_match(&net, &a) > 0)
 *		... the client is inside the network
 *
 * A pattern is "address", "address/len", "[address]" or "[address]/len",
 * the address IPv4 (dotted quad) or IPv6 (inet_pton(3) syntax, no zone),
 * len decimal digits from 0 to 32 (IPv4) or 128 (IPv6); without len the
 * network is the one address. Which of the callers' words are patterns
 * at all is the callers' business.
 *
 * SECURITY: patterns come from configuration, addresses from clients.
 * Both are only ever converted by inet_pton(3) into fixed-size binary
 * addresses (copies of the text are bounded by the text itself, in a
 * struct buf); prefix lengths are range-checked before any use, so no
 * byte outside the 4 or 16 of an address is ever touched.
 */
#ifndef PETREL_INET_PREFIX_H
#define PETREL_INET_PREFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* A network: family, address with the host bits clear, prefix length. */
struct inet_prefix {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char net[16];		/* 4 or 16 bytes used, rest zero */
	int prefix;			/* 0..inet_prefix_bits(family) */
};

/* An address in the forms a network may want (see _addr_parse()). */
struct inet_prefix_addr {
	bool has4;
	bool has6;
	unsigned char a4[4];
	unsigned char a6[16];
};

/* The results of inet_prefix_parse(); only _OK gives a usable network. */
enum inet_prefix_status {
	INET_PREFIX_OK,
	INET_PREFIX_NO_CLOSE,		/* "[" without "]" */
	INET_PREFIX_AFTER_CLOSE,	/* "]" followed by other than "/" */
	INET_PREFIX_BAD_ADDR,		/* no IPv4 or IPv6 address */
	INET_PREFIX_BAD_LEN,		/* length not digits, or too long */
	INET_PREFIX_HOST_BITS,		/* bits set after the prefix */
};

/* Flags of inet_prefix_text(). */
#define INET_PREFIX_BRACKETS	(1 << 0)	/* "[v6]/len", as mynetworks */

/* Bytes of an address: 4 for AF_INET, 16 otherwise (AF_INET6). */
size_t inet_prefix_addr_len(int family);
/* Bits of an address, the longest prefix: 32 or 128. */
int inet_prefix_bits(int family);

/* Clear the bits of net->net after net->prefix. */
void inet_prefix_mask(struct inet_prefix *net);

/*
 * Parse a pattern (see above) into net. On INET_PREFIX_OK net is the
 * network. Otherwise what is left for the caller's message:
 * _BAD_ADDR: part (if not NULL) is the address text, without brackets;
 * _BAD_LEN: net->family is set, part is the text after the "/";
 * _HOST_BITS: net is the network the pattern would mean with its host
 * bits cleared (to suggest); part is unchanged in the other cases.
 */
enum inet_prefix_status inet_prefix_parse(const char *text,
    struct inet_prefix *net, struct buf *part);

/*
 * Append "address/len" to out. With INET_PREFIX_BRACKETS an IPv6
 * network is written "[address]/len", which client lists also read.
 */
void inet_prefix_text(struct buf *out, const struct inet_prefix *net,
    int flags);

/*
 * The prefix length of a netmask of family (its 4 or 16 bytes), or -1
 * when its ones are not contiguous from the first bit.
 */
int inet_prefix_from_mask(const unsigned char *mask, int family);

/*
 * Parse a client address, IPv4 or IPv6 (the whole text; no zone). An
 * IPv4-mapped IPv6 address (::ffff:192.0.2.1) gives both forms, so that
 * IPv4 and IPv6 networks can match it. false when text is no address.
 */
bool inet_prefix_addr_parse(const char *text, struct inet_prefix_addr *a);

/*
 * Is a inside net? 1 yes, 0 no, -1 when a has no address of net's
 * family: a network says nothing about the other family, so a negated
 * pattern must not turn -1 into a match.
 */
int inet_prefix_match(const struct inet_prefix *net,
    const struct inet_prefix_addr *a);

#endif
