/*
 * smtpd_haproxy.c - parse a HAProxy PROXY protocol header (v1 and v2)
 *
 *	n = haproxy_parse(buf, len, &addr, why);  (> 0 done, 0 more, -1 bad)
 *	k = haproxy_span(data, have, avail);      (how much a reader takes)
 *
 * A pure parser: no I/O, no allocation except the reason text. It is
 * called again on a longer buffer until it says the header is complete
 * (or malformed); every proper prefix of a valid header answers 0, and
 * a prefix that can no longer become valid answers -1 at once, so that
 * a client that is not a proxy is turned away without waiting.
 *
 * v1 is strict: "PROXY", exactly one space between fields, TCP4 with
 * IPv4 addresses, TCP6 with IPv6 addresses, decimal ports 0..65535
 * without leading zeros or signs, CRLF at the end, printable ASCII
 * only, 107 bytes at most. After "PROXY UNKNOWN" anything printable
 * may follow up to CRLF (the specification says to ignore it).
 *
 * v2: the signature, version 2, command LOCAL (the proxy's own
 * connection: addresses ignored) or PROXY, family INET or INET6 with
 * transport STREAM (UNSPEC means "use the real peer"; UNIX and DGRAM
 * are refused), the address block, then TLVs, which are skipped but
 * must exactly fill the declared length.
 *
 * An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is reported as the
 * IPv4 address, as the kernel's own address would be by smtpd_peer.c,
 * so that access tables and mynetworks see one form.
 *
 * SECURITY: all of the input is hostile. Lengths are checked before
 * every access; the declared v2 length is bounded by HAPROXY_MAX_LEN;
 * nothing is copied into a fixed array before its length is checked.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "smtpd_haproxy.h"
#include "str.h"

/* The v2 signature: a CRLF CRLF NUL CRLF "QUIT" LF. */
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54,
	0x0a,
};

#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_FAM_UNSPEC	0x0
#define V2_FAM_INET	0x1
#define V2_FAM_INET6	0x2
#define V2_FAM_UNIX	0x3
#define V2_PROTO_STREAM	0x1
#define V2_INET_LEN	12		/* 2 x 4 address bytes, 2 x 2 port */
#define V2_INET6_LEN	36		/* 2 x 16, 2 x 2 */
#define V2_TLV_HEAD	3		/* type, 16-bit length */

static int
haproxy_fail(struct buf *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
haproxy_fail(struct buf *why, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		buf_reset(why);
		va_start(ap, fmt);
		buf_vprintf(why, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* "not a PROXY header" with a printable glimpse of what came instead. */
static int
haproxy_fail_start(struct buf *why, const char *buf, size_t len)
{
	if (why != NULL) {
		buf_set(why, "not a PROXY protocol header: \"");
		str_printable(why, buf, len < 24 ? len : 24);
		buf_puts(why, len > 24 ? "...\"" : "\"");
	}
	return -1;
}

/* ---- v1 --------------------------------------------------------------- */

/* Bytes allowed in a v1 header before its CRLF. */
static bool
v1_char(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

/*
 * A decimal port: "0", or 1 to 5 digits without a leading zero, at
 * most 65535. Copied into port[6].
 */
static bool
v1_port(const char *text, size_t len, char *port)
{
	unsigned long val = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && text[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		val = val * 10 + (unsigned long)(text[i] - '0');
	}
	if (val > 65535)
		return false;
	memcpy(port, text, len);
	port[len] = 0;
	return true;
}

/*
 * Turn a binary address into text in out[INET6_ADDRSTRLEN], as IPv4
 * when it is IPv4-mapped IPv6; *family is updated accordingly.
 */
static void
haproxy_ntop(int *family, const void *bin, char *out)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};
	const unsigned char *b = bin;

	if (*family == AF_INET6 && memcmp(b, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		b += sizeof(mapped);
	}
	if (inet_ntop(*family, b, out, INET6_ADDRSTRLEN) == NULL)
		out[0] = 0;		/* cannot happen with these sizes */
}

/* A v1 address field of the given family, normalized into out. */
static bool
v1_addr(const char *text, size_t len, int family, int *out_family,
    char *out)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, text, len);
	tmp[len] = 0;
	if (inet_pton(family, tmp, bin) != 1)
		return false;
	*out_family = family;
	haproxy_ntop(out_family, bin, out);
	return true;
}


/*
 * Split line[0..len) at single spaces into at most max fields. Returns
 * the number of fields, max + 1 when there are more, or -1 when a
 * field is empty (a leading, trailing or doubled space).
 */
static int
v1_split(const char *line, size_t len, const char **field, size_t *flen,
    int max)
{
	size_t start = 0, i;
	int n = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (i == start)
			return -1;
		if (n == max)
			return max + 1;
		field[n] = line + start;
		flen[n] = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

/* "v1 header: bad source address "..."" and the like. */
static int
v1_fail_field(struct buf *why, const char *what, const char *text,
    size_t len)
{
	if (why != NULL) {
		buf_reset(why);
		buf_printf(why, "v1 header: bad %s \"", what);
		str_printable(why, text, len);
		buf_puts(why, "\"");
	}
	return -1;
}

/* The fields after "PROXY ": protocol, source, destination, ports. */
#define V1_FIELDS	5

static int
haproxy_parse_v1(const char *buf, size_t len, struct haproxy_addr *out,
    struct buf *why)
{
	const char *lf, *line, *field[V1_FIELDS];
	size_t flen[V1_FIELDS], n, i, llen, hlen;
	int nfields, family, dst_family;

	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) != 0)
		return haproxy_fail_start(why, buf, len);
	n = len < HAPROXY_V1_MAX ? len : HAPROXY_V1_MAX;
	lf = memchr(buf, '\n', n);
	llen = lf != NULL ? (size_t)(lf - buf) : n;
	/* Printable ASCII, and a CR only right before the LF. */
	for (i = 0; i < llen; i++) {
		if (v1_char((unsigned char)buf[i]))
			continue;
		if (buf[i] == '\r' && i + 1 == llen)
			continue;	/* LF next, or not here yet */
		if (buf[i] == '\r')
			return haproxy_fail(why,
			    "v1 header: CR not followed by LF");
		return haproxy_fail(why,
		    "v1 header: bad character 0x%02x at byte %zu",
		    (unsigned char)buf[i], i + 1);
	}
	if (lf == NULL) {
		if (len >= HAPROXY_V1_MAX)
			return haproxy_fail(why,
			    "v1 header: no CRLF within %d bytes",
			    HAPROXY_V1_MAX);
		return 0;
	}
	if (llen == 0 || buf[llen - 1] != '\r')
		return haproxy_fail(why, "v1 header: bare LF instead of CRLF");
	hlen = llen + 1;
	line = buf + 6;
	llen -= 1 + 6;			/* the CR, "PROXY " */

	/* The specification: ignore whatever follows UNKNOWN. */
	if (llen >= 7 && memcmp(line, "UNKNOWN", 7) == 0
	    && (llen == 7 || line[7] == ' ')) {
		out->version = 1;
		out->local = true;
		out->family = AF_UNSPEC;
		return (int)hlen;
	}
	nfields = v1_split(line, llen, field, flen, V1_FIELDS);
	if (nfields < 0)
		return haproxy_fail(why, "v1 header: empty field (extra, "
		    "leading or trailing space)");
	if (flen[0] == 4 && memcmp(field[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (flen[0] == 4 && memcmp(field[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return v1_fail_field(why, "protocol", field[0], flen[0]);
	if (nfields != V1_FIELDS)
		return haproxy_fail(why, "v1 header: %s fields (expected "
		    "PROXY %.4s srcaddr dstaddr srcport dstport)",
		    nfields < V1_FIELDS ? "missing" : "too many", field[0]);
	if (!v1_addr(field[1], flen[1], family, &out->family, out->addr))
		return v1_fail_field(why, "source address", field[1], flen[1]);
	if (!v1_addr(field[2], flen[2], family, &dst_family,
	    out->server_addr))
		return v1_fail_field(why, "destination address", field[2],
		    flen[2]);
	if (!v1_port(field[3], flen[3], out->port))
		return v1_fail_field(why, "source port", field[3], flen[3]);
	if (!v1_port(field[4], flen[4], out->server_port))
		return v1_fail_field(why, "destination port", field[4],
		    flen[4]);
	out->version = 1;
	return (int)hlen;
}

/* ---- v2 --------------------------------------------------------------- */

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int
haproxy_parse_v2(const char *buf, size_t len, struct haproxy_addr *out,
    struct buf *why)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t n, total, need, off, tlen;
	int family, dst_family, cmd, proto;

	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(p, v2_sig, n) != 0)
		return haproxy_fail_start(why, buf, len);
	if (len <= 12)
		return 0;
	if (p[12] >> 4 != 2)
		return haproxy_fail(why, "v2 header: unsupported version %d",
		    p[12] >> 4);
	cmd = p[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return haproxy_fail(why, "v2 header: unknown command %d", cmd);
	if (len < HAPROXY_V2_FIXED)
		return 0;
	total = HAPROXY_V2_FIXED + (size_t)get16(p + 14);
	if (total > HAPROXY_MAX_LEN)
		return haproxy_fail(why, "v2 header: %zu bytes (limit %d)",
		    total, HAPROXY_MAX_LEN);
	if (len < total)
		return 0;
	out->version = 2;
	out->family = AF_UNSPEC;

	/* LOCAL: the proxy's own connection; ignore the whole block. */
	if (cmd == V2_CMD_LOCAL) {
		out->local = true;
		return (int)total;
	}
	switch (p[13] >> 4) {
	case V2_FAM_UNSPEC:
		out->local = true;
		return (int)total;
	case V2_FAM_INET:
		family = AF_INET;
		need = V2_INET_LEN;
		break;
	case V2_FAM_INET6:
		family = AF_INET6;
		need = V2_INET6_LEN;
		break;
	case V2_FAM_UNIX:
		return haproxy_fail(why,
		    "v2 header: unsupported address family UNIX");
	default:
		return haproxy_fail(why, "v2 header: bad address family %d",
		    p[13] >> 4);
	}
	proto = p[13] & 0x0f;
	if (proto != V2_PROTO_STREAM)
		return haproxy_fail(why, "v2 header: unsupported transport "
		    "%d (expected STREAM)", proto);
	if (total - HAPROXY_V2_FIXED < need)
		return haproxy_fail(why, "v2 header: address block of %zu "
		    "bytes is too short for %s", total - HAPROXY_V2_FIXED,
		    family == AF_INET ? "IPv4" : "IPv6");

	/* Source address, destination address, source port, dest. port. */
	off = HAPROXY_V2_FIXED;
	n = family == AF_INET ? 4 : 16;
	out->family = family;
	haproxy_ntop(&out->family, p + off, out->addr);
	dst_family = family;
	haproxy_ntop(&dst_family, p + off + n, out->server_addr);
	off += 2 * n;
	(void)snprintf(out->port, sizeof(out->port), "%u", get16(p + off));
	(void)snprintf(out->server_port, sizeof(out->server_port), "%u",
	    get16(p + off + 2));
	off += 4;

	/* TLVs: skipped, but they must fill the rest exactly. */
	while (off < total) {
		if (total - off < V2_TLV_HEAD)
			return haproxy_fail(why, "v2 header: truncated TLV at "
			    "byte %zu", off);
		tlen = get16(p + off + 1);
		if (tlen > total - off - V2_TLV_HEAD)
			return haproxy_fail(why, "v2 header: TLV type 0x%02x "
			    "length %zu goes past the header", p[off], tlen);
		off += V2_TLV_HEAD + tlen;
	}
	return (int)total;
}

/* ---- entry points ----------------------------------------------------- */

int
haproxy_parse(const char *buf, size_t len, struct haproxy_addr *out,
    struct buf *why)
{
	memset(out, 0, sizeof(*out));
	out->family = AF_UNSPEC;
	if (len == 0)
		return 0;
	if ((unsigned char)buf[0] == v2_sig[0])
		return haproxy_parse_v2(buf, len, out, why);
	return haproxy_parse_v1(buf, len, out, why);
}

size_t
haproxy_span(const char *data, size_t have, size_t avail)
{
	const char *lf;
	size_t want, total;

	if (avail == 0)
		return 0;
	if ((unsigned char)data[0] == v2_sig[0]) {
		/* The fixed part, then as much as its length says. */
		if (have + avail < HAPROXY_V2_FIXED)
			return avail;
		total = HAPROXY_V2_FIXED + get16((const unsigned char *)data
		    + 14);
		want = total > have ? total - have : 0;
		return want < avail ? want : avail;
	}
	/* v1 (or garbage, which the parser rejects): up to the first LF. */
	if ((lf = memchr(data + have, '\n', avail)) != NULL)
		return (size_t)(lf - (data + have)) + 1;
	return avail;
}
