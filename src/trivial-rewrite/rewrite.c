/*
 * rewrite.c - trivial-rewrite: put an address in canonical form
 *
 *	rewrite_addr(true, "joe", &result);	-> "joe@$myorigin"
 *	rewrite_addr(false, "@a:joe@b.", &result);	-> "joe@b"
 *
 * The "rewrite" request of trivial-rewrite(8); the rules are listed in
 * rewrite.h. The address is never parsed into a tree: it is scanned
 * once per question ("where is the last '@' that is an operator?"), which
 * is all the rules need, and edited as a string.
 *
 * SECURITY: addresses come from clients that took them from outside
 * (envelopes, headers). Any byte string is accepted: unbalanced quotes
 * and brackets simply extend to the end of the address, and every
 * edit stays inside the struct buf.
 */
#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "params.h"
#include "rewrite.h"

/*
 * Scanner state: operators count only outside quoted strings, outside
 * domain literals, and not after a backslash.
 */
struct rewrite_scan {
	bool quoted;
	bool literal;
	bool escaped;
};

/* Advance over addr[i]; true when it is an operator character. */
static bool
rewrite_scan_step(struct rewrite_scan *s, const char *addr, size_t i)
{
	char ch = addr[i];

	if (s->escaped) {
		s->escaped = false;
		return false;
	}
	if (ch == '\\') {
		s->escaped = true;
		return false;
	}
	if (s->quoted) {
		if (ch == '"')
			s->quoted = false;
		return false;
	}
	if (s->literal) {
		if (ch == ']')
			s->literal = false;
		return false;
	}
	if (ch == '"') {
		s->quoted = true;
		return false;
	}
	/* A domain literal starts right after '@' (or at the start). */
	if (ch == '[' && (i == 0 || addr[i - 1] == '@')) {
		s->literal = true;
		return false;
	}
	return true;
}

ssize_t
rewrite_find(const char *addr, size_t len, int ch, bool last)
{
	struct rewrite_scan s = {0};
	ssize_t found = -1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (rewrite_scan_step(&s, addr, i) && addr[i] == ch) {
			found = (ssize_t)i;
			if (!last)
				break;
		}
	}
	return found;
}

void
rewrite_strip_route(struct buf *addr)
{
	ssize_t colon;

	/* A route starts with '@' and ends at a ':' that is not last. */
	if (addr->len == 0 || addr->data[0] != '@')
		return;
	colon = rewrite_find(addr->data, addr->len, ':', false);
	if (colon < 0 || (size_t)colon + 1 >= addr->len)
		return;
	buf_consume(addr, (size_t)colon + 1);
}

bool
rewrite_strip_dot(struct buf *addr)
{
	ssize_t at = rewrite_find(addr->data, addr->len, '@', true);
	size_t dom;

	if (at < 0)
		return false;
	dom = (size_t)at + 1;
	/* "@." and "x.." keep their dots: they are not a name's root. */
	if (addr->len < dom + 2 || addr->data[addr->len - 1] != '.'
	    || addr->data[addr->len - 2] == '.')
		return false;
	buf_truncate(addr, addr->len - 1);
	return true;
}

void
rewrite_unquote(const char *lp, size_t len, struct buf *out)
{
	bool escaped = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (escaped) {
			buf_putc(out, lp[i]);
			escaped = false;
		} else if (lp[i] == '\\') {
			escaped = true;
		} else if (lp[i] != '"') {
			buf_putc(out, lp[i]);
		}
	}
}

/* RFC 5322 atext, plus 8-bit bytes (RFC 6532). */
static bool
rewrite_atext(unsigned char ch)
{
	if (ch >= 0x80)
		return true;
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9'))
		return true;
	return ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

static bool
rewrite_dot_atom(const char *text, size_t len)
{
	size_t i;

	if (len == 0 || text[0] == '.' || text[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (text[i] == '.') {
			if (text[i + 1] == '.')
				return false;
		} else if (!rewrite_atext((unsigned char)text[i])) {
			return false;
		}
	}
	return true;
}

void
rewrite_quote(const char *text, size_t len, struct buf *out)
{
	size_t i;

	if (rewrite_dot_atom(text, len)) {
		buf_append(out, text, len);
		return;
	}
	buf_putc(out, '"');
	for (i = 0; i < len; i++) {
		if (text[i] == '"' || text[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, text[i]);
	}
	buf_putc(out, '"');
}

/*
 * Replace the operator at pos (one byte) by '@' after swapping: for a
 * bang path "site!user" the result is "user@site". Both sides must be
 * non-empty, else the address is left alone and false is returned.
 */
static bool
rewrite_swap_bang(struct buf *addr, size_t pos)
{
	struct buf out;

	if (pos == 0 || pos + 1 >= addr->len)
		return false;
	buf_init(&out, addr->len + 1);
	buf_append(&out, addr->data + pos + 1, addr->len - pos - 1);
	buf_putc(&out, '@');
	buf_append(&out, addr->data, pos);
	buf_setn(addr, out.data, out.len);
	buf_fini(&out);
	return true;
}

static bool
rewrite_percent(struct buf *addr, size_t pos)
{
	if (pos == 0 || pos + 1 >= addr->len)
		return false;
	addr->data[pos] = '@';
	return true;
}

/* The address has no '@' operator: routing operators, then @$myorigin. */
static void
rewrite_no_domain(bool local, struct buf *addr)
{
	ssize_t pos;

	if (var_swap_bangpath
	    && (pos = rewrite_find(addr->data, addr->len, '!', false)) >= 0
	    && rewrite_swap_bang(addr, (size_t)pos))
		return;
	if (var_allow_percent_hack
	    && (pos = rewrite_find(addr->data, addr->len, '%', true)) >= 0
	    && rewrite_percent(addr, (size_t)pos))
		return;
	if (local && var_append_at_myorigin && *var_myorigin != 0) {
		buf_putc(addr, '@');
		buf_puts(addr, var_myorigin);
	}
}

/* user@host -> user@host.$mydomain (local context only). */
static void
rewrite_dot_mydomain(struct buf *addr)
{
	ssize_t at = rewrite_find(addr->data, addr->len, '@', true);
	const char *dom;

	if (at < 0 || *var_mydomain == 0)
		return;
	dom = addr->data + at + 1;
	if (*dom == 0 || *dom == '[' || strchr(dom, '.') != NULL)
		return;
	buf_putc(addr, '.');
	buf_puts(addr, var_mydomain);
}

void
rewrite_addr(bool local, const char *addr, struct buf *result)
{
	buf_set(result, addr);
	/* The null address, in either spelling, is never qualified. */
	if (result->len == 0 || strcmp(result->data, "\"\"") == 0)
		return;
	if (strcmp(result->data, "@") == 0) {
		buf_reset(result);
		return;
	}
	rewrite_strip_route(result);
	if (rewrite_find(result->data, result->len, '@', true) < 0)
		rewrite_no_domain(local, result);
	if (local && var_append_dot_mydomain)
		rewrite_dot_mydomain(result);
	(void)rewrite_strip_dot(result);
}
