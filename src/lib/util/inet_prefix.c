/*
 * inet_prefix.c - IPv4 and IPv6 networks written as address/prefix
 *
 * See inet_prefix.h. A network is kept as the binary address with its
 * host bits clear and a prefix length; an address is inside when its
 * first prefix bits equal the network's: whole bytes compared with
 * memcmp(), then the leading bits of one more byte under a mask.
 *
 * SECURITY: patterns (configuration) and addresses (clients) reach
 * binary form only through inet_pton(3); a prefix length is accepted
 * only as digits within 0..32 or 0..128, so the byte arithmetic below
 * stays within the 4 or 16 bytes of an address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "inet_prefix.h"
#include "msg.h"
#include "str.h"

static const unsigned char inet_prefix_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

size_t
inet_prefix_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

int
inet_prefix_bits(int family)
{
	return 8 * (int)inet_prefix_addr_len(family);
}

/* The leading bits ones of a byte (bits 1..7). */
static unsigned char
inet_prefix_byte_mask(int bits)
{
	return (unsigned char)(0xff << (8 - bits));
}

void
inet_prefix_mask(struct inet_prefix *net)
{
	int len = (int)inet_prefix_addr_len(net->family);
	int i;

	for (i = 0; i < len; i++) {
		if (net->prefix >= 8 * (i + 1))
			continue;
		if (net->prefix <= 8 * i)
			net->net[i] = 0;
		else
			net->net[i] &= inet_prefix_byte_mask(net->prefix % 8);
	}
}

/* Does addr (of net's family) have the first prefix bits of net? */
static bool
inet_prefix_in(const struct inet_prefix *net, const unsigned char *addr)
{
	size_t bytes = (size_t)net->prefix / 8;
	int bits = net->prefix % 8;

	if (memcmp(addr, net->net, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return (addr[bytes] & inet_prefix_byte_mask(bits)) == net->net[bytes];
}

/* The address of text into net (family, net); false when none. */
static bool
inet_prefix_pton(const char *text, struct inet_prefix *net)
{
	if (inet_pton(AF_INET, text, net->net) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, text, net->net) == 1)
		net->family = AF_INET6;
	else
		return false;
	return true;
}

enum inet_prefix_status
inet_prefix_parse(const char *text, struct inet_prefix *net,
    struct buf *part)
{
	struct inet_prefix masked;
	struct buf addr;
	const char *close, *len_text = NULL;
	enum inet_prefix_status status;

	memset(net, 0, sizeof(*net));
	buf_init(&addr, 64);
	if (*text == '[') {
		if ((close = strchr(text, ']')) == NULL) {
			status = INET_PREFIX_NO_CLOSE;
			goto out;
		}
		if (close[1] == '/')
			len_text = close + 2;
		else if (close[1] != 0) {
			status = INET_PREFIX_AFTER_CLOSE;
			goto out;
		}
		buf_setn(&addr, text + 1, (size_t)(close - text - 1));
	} else {
		if ((close = strchr(text, '/')) != NULL)
			len_text = close + 1;
		buf_setn(&addr, text, close ? (size_t)(close - text)
		    : strlen(text));
	}
	if (!inet_prefix_pton(addr.data, net)) {
		memset(net, 0, sizeof(*net));
		if (part != NULL)
			buf_setn(part, addr.data, addr.len);
		status = INET_PREFIX_BAD_ADDR;
		goto out;
	}
	net->prefix = inet_prefix_bits(net->family);
	/* Digits only: str_to_int() would also take a sign. */
	if (len_text != NULL && (*len_text < '0' || *len_text > '9'
	    || str_to_int(len_text, &net->prefix) < 0
	    || net->prefix > inet_prefix_bits(net->family))) {
		net->prefix = inet_prefix_bits(net->family);
		if (part != NULL)
			buf_set(part, len_text);
		status = INET_PREFIX_BAD_LEN;
		goto out;
	}
	masked = *net;
	inet_prefix_mask(&masked);
	if (memcmp(masked.net, net->net, sizeof(net->net)) != 0) {
		*net = masked;
		status = INET_PREFIX_HOST_BITS;
		goto out;
	}
	status = INET_PREFIX_OK;
out:
	buf_fini(&addr);
	return status;
}

void
inet_prefix_text(struct buf *out, const struct inet_prefix *net, int flags)
{
	char text[INET6_ADDRSTRLEN];

	/* Binary input of a known family: only a bug can fail here. */
	if (inet_ntop(net->family, net->net, text, sizeof(text)) == NULL)
		msg_panic("inet_prefix_text: inet_ntop: %m");
	if (net->family == AF_INET6 && (flags & INET_PREFIX_BRACKETS))
		buf_printf(out, "[%s]/%d", text, net->prefix);
	else
		buf_printf(out, "%s/%d", text, net->prefix);
}

int
inet_prefix_from_mask(const unsigned char *mask, int family)
{
	size_t len = inet_prefix_addr_len(family), i;
	int bit, prefix = 0;
	bool zero = false;

	for (i = 0; i < len; i++)
		for (bit = 7; bit >= 0; bit--) {
			if (mask[i] & (1 << bit)) {
				if (zero)
					return -1;
				prefix++;
			} else
				zero = true;
		}
	return prefix;
}

bool
inet_prefix_addr_parse(const char *text, struct inet_prefix_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->a4) == 1) {
		a->has4 = true;
		return true;
	}
	if (inet_pton(AF_INET6, text, a->a6) != 1)
		return false;
	a->has6 = true;
	/* ::ffff:a.b.c.d, compared as bytes: a6 need not be aligned. */
	if (memcmp(a->a6, inet_prefix_v4mapped,
	    sizeof(inet_prefix_v4mapped)) == 0) {
		memcpy(a->a4, a->a6 + 12, 4);
		a->has4 = true;
	}
	return true;
}

int
inet_prefix_match(const struct inet_prefix *net,
    const struct inet_prefix_addr *a)
{
	if (net->family == AF_INET)
		return a->has4 ? inet_prefix_in(net, a->a4) : -1;
	return a->has6 ? inet_prefix_in(net, a->a6) : -1;
}
