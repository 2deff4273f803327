/*
 * addr_list.c - bare addresses from an RFC 5322 address list
 *
 *	n = addr_list_parse(rcpts, value, len, max);
 *
 * Two passes over the header value. The tokenizer turns it into atoms,
 * quoted strings (their content, unescaped), domain literals and the
 * specials < > @ , ; : . and drops whitespace, control characters and
 * comments. The parser then walks the tokens with a little state (inside
 * an angle address? inside a group?) and turns each list element into
 * one address: the tokens between '<' and '>' (after any source route)
 * when there is an angle address, else all tokens of the element. The
 * local part is re-quoted only when needed (addr_list_quote_local()).
 * See addr_list.h for how malformed input is salvaged.
 *
 * SECURITY: header values are outside data. Nothing here recurses, every
 * loop advances through the input, and memory is a small constant
 * factor of the input length; the caller bounds the input and the
 * number of addresses.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "mem.h"

enum tok_type {
	TOK_ATOM = 256,		/* specials use their own character */
	TOK_QSTR,
	TOK_DLIT,
};

struct tok {
	int type;		/* TOK_* or one of <>@,;:. */
	size_t off;		/* text in the token buffer */
	size_t len;
};

struct toks {
	struct tok *v;
	size_t n;
	size_t cap;
	struct buf text;	/* token text, back to back */
};

static bool
addr_special(unsigned char ch)
{
	return ch != 0 && strchr("()<>[]:;@\\,.\"", ch) != NULL;
}

/* A byte that is dropped wherever it appears outside quotes. */
static bool
addr_space(unsigned char ch)
{
	return ch <= ' ' || ch == 0x7f;
}

static void
toks_push(struct toks *t, int type, size_t off)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].type = type;
	t->v[t->n].off = off;
	t->v[t->n].len = t->text.len - off;
	t->n++;
}

/*
 * Skip a comment that starts at s[i] == '('; returns the index after
 * it (or len when unterminated). Nesting is a counter, not recursion.
 */
static size_t
addr_skip_comment(const char *s, size_t len, size_t i)
{
	size_t depth = 0;

	for (; i < len; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return len;
}

/*
 * Append the unescaped content of a quoted string that starts at
 * s[i] == '"'; returns the index after the closing quote (or len).
 * Line breaks (folding) and other control characters are dropped; a
 * tab becomes a space, so that no address carries a control character
 * (cleanup refuses those).
 */
static size_t
addr_get_qstring(struct buf *out, const char *s, size_t len, size_t i)
{
	unsigned char ch;

	for (i++; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		ch = (unsigned char)s[i];
		if (ch == '\t')
			ch = ' ';
		if (ch >= ' ' && ch != 0x7f)
			buf_putc(out, ch);
	}
	return i < len ? i + 1 : len;
}

/*
 * Append a domain literal that starts at s[i] == '[', brackets
 * included (a missing ']' is supplied); returns the index after it.
 */
static size_t
addr_get_dliteral(struct buf *out, const char *s, size_t len, size_t i)
{
	unsigned char ch;

	buf_putc(out, '[');
	for (i++; i < len && s[i] != ']'; i++) {
		ch = (unsigned char)s[i];
		if (ch == '\\') {
			/*
			 * Keep a quoted pair whole, or not at all: a lone
			 * backslash would escape the ']' we supply (found
			 * by fuzzing).
			 */
			if (i + 1 >= len)
				break;
			ch = (unsigned char)s[++i];
			if (!addr_space(ch)) {
				buf_putc(out, '\\');
				buf_putc(out, ch);
			}
			continue;
		}
		if (!addr_space(ch))
			buf_putc(out, ch);
	}
	buf_putc(out, ']');
	return i < len ? i + 1 : len;
}

static void
addr_tokenize(struct toks *t, const char *s, size_t len)
{
	unsigned char ch;
	size_t i = 0, off;

	while (i < len) {
		ch = (unsigned char)s[i];
		off = t->text.len;
		if (addr_space(ch)) {
			i++;
		} else if (ch == '(') {
			i = addr_skip_comment(s, len, i);
		} else if (ch == ')' || ch == ']') {
			i++;			/* stray: ignored */
		} else if (ch == '"') {
			i = addr_get_qstring(&t->text, s, len, i);
			toks_push(t, TOK_QSTR, off);
		} else if (ch == '[') {
			i = addr_get_dliteral(&t->text, s, len, i);
			toks_push(t, TOK_DLIT, off);
		} else if (ch != '\\' && addr_special(ch)) {
			toks_push(t, ch, off);
			i++;
		} else {
			/* An atom; a stray backslash is taken as part of it. */
			while (i < len && !addr_space((unsigned char)s[i])
			    && (s[i] == '\\'
				|| !addr_special((unsigned char)s[i])))
				buf_putc(&t->text, s[i++]);
			toks_push(t, TOK_ATOM, off);
		}
	}
}

/* RFC 5322 atext, plus 8-bit bytes (RFC 6532). */
static bool
addr_atext(unsigned char ch)
{
	if (ch >= 0x80)
		return true;
	if (ch <= ' ' || ch == 0x7f)
		return false;
	return strchr("()<>[]:;@\\,.\"", ch) == NULL;
}

static bool
addr_dot_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		/* s[i + 1] exists: the last byte is not a dot. */
		if (s[i] == '.' ? s[i + 1] == '.'
		    : !addr_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

void
addr_list_quote_local(struct buf *out, const char *local, size_t len)
{
	size_t i;

	if (addr_dot_atom(local, len)) {
		buf_append(out, local, len);
		return;
	}
	buf_putc(out, '"');
	for (i = 0; i < len; i++) {
		if (local[i] == '"' || local[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, local[i]);
	}
	buf_putc(out, '"');
}

/* The text a token contributes to an address. */
static void
addr_tok_text(struct buf *out, const struct toks *t, const struct tok *k)
{
	if (k->type >= TOK_ATOM)
		buf_append(out, t->text.data + k->off, k->len);
	else
		buf_putc(out, k->type);
}

/*
 * Turn tokens [from, to) into one address and append it to out, unless
 * its local part is empty. The last '@' separates the local part from
 * the domain; list punctuation left in the range (stray '<', '>') is
 * ignored.
 */
static bool
addr_emit(struct argv *out, const struct toks *t, size_t from, size_t to)
{
	struct buf local, addr;
	size_t k, at = to;
	bool added = false;

	for (k = from; k < to; k++)
		if (t->v[k].type == '@')
			at = k;
	buf_init(&local, 64);
	buf_init(&addr, 64);
	for (k = from; k < at; k++)
		if (t->v[k].type >= TOK_ATOM || t->v[k].type == '.'
		    || t->v[k].type == '@')
			addr_tok_text(&local, t, &t->v[k]);
	if (local.len > 0) {
		addr_list_quote_local(&addr, local.data, local.len);
		if (at < to) {
			buf_putc(&addr, '@');
			/*
			 * A quoted string has no place in a domain: its
			 * text (which may hold commas and spaces) would
			 * make a different address list when the result
			 * is parsed again. It is dropped (found by fuzzing).
			 */
			for (k = at + 1; k < to; k++)
				if ((t->v[k].type >= TOK_ATOM
				    && t->v[k].type != TOK_QSTR)
				    || t->v[k].type == '.')
					addr_tok_text(&addr, t, &t->v[k]);
			/* "user@" alone: keep the local part. */
			if (addr.data[addr.len - 1] == '@')
				buf_truncate(&addr, addr.len - 1);
		}
		argv_addn(out, addr.data, addr.len);
		added = true;
	}
	buf_fini(&local);
	buf_fini(&addr);
	return added;
}

size_t
addr_list_parse(struct argv *out, const char *value, size_t len,
    size_t max)
{
	struct toks t = {0};
	size_t k, elem = 0, angle_from = 0, angle_to = 0, count = 0;
	bool in_angle = false, have_angle = false, end_elem;
	int type;

	buf_init(&t.text, len + 1);
	addr_tokenize(&t, value, len);
	for (k = 0; k <= t.n && count < max; k++) {
		type = k < t.n ? t.v[k].type : 0;
		end_elem = k == t.n;
		if (in_angle) {
			if (type == '>' || type == 0) {
				angle_to = k;
				in_angle = false;
				have_angle = true;
			} else if (type == ':' || type == '<') {
				/* End of a source route, or a restart. */
				angle_from = k + 1;
			} else if ((type == ',' || type == ';')
			    && !(angle_from < k
				&& t.v[angle_from].type == '@')) {
				/* Not a route: a missing '>'. */
				angle_to = k;
				in_angle = false;
				have_angle = true;
				end_elem = true;
			}
		} else if (type == '<') {
			in_angle = true;
			angle_from = k + 1;
		} else if (type == ',' || type == ';') {
			end_elem = true;
		} else if (type == ':') {
			/*
			 * The end of a group name, dropped with the
			 * element so far; the group's ';' is then just a
			 * separator (a stray ':' salvages the same way).
			 */
			elem = k + 1;
		}
		if (!end_elem)
			continue;
		if (have_angle)
			count += addr_emit(out, &t, angle_from, angle_to);
		else
			count += addr_emit(out, &t, elem, k);
		elem = k + 1;
		have_angle = false;
	}
	free(t.v);
	buf_fini(&t.text);
	return count;
}
