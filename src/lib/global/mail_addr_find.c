/*
 * mail_addr_find.c - look an address up in a table in Postfix's order
 *
 * mail_addr_find() turns one address into the sequence of keys that
 * canonical(5) and virtual(5) tables are searched with (full address,
 * without extension, local part forms, @domain) and returns the first
 * hit. See mail_addr_find.h for the order and the flags.
 *
 * The address is taken apart once: the local part is unquoted into its
 * internal form (so that a delimiter inside quotes still splits it, as
 * in Postfix), the domain is kept as is, and every key is quoted again
 * as RFC 5322 needs and lowercased. A temporary failure of any lookup
 * ends the search at once: a later, shorter key must never answer for
 * an address whose longer key could not be checked.
 *
 * SECURITY: addresses come from the network and table values from the
 * administrator; both are scanned with explicit lengths and copied into
 * growable buffers only. Key length limits are dict_lookup()'s.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dict.h"
#include "mail_addr_find.h"
#include "params.h"
#include "str.h"

/* Separators of propagate_unmatched_extensions and of table values. */
#define MAF_LIST_SEP	", \t\r\n"

/* RFC 5322 atext besides letters and digits. */
#define MAF_ATEXT	"!#$%&'*+-/=?^_`{|}~"

/* An address taken apart. */
struct maf_addr {
	struct buf local;	/* local part, unquoted, original case */
	const char *domain;	/* in the caller's string; NULL if none */
	size_t user_len;	/* local part length without extension */
	bool split;		/* user_len < local.len */
};

/* One key of the search order. */
struct maf_step {
	size_t local_len;	/* how much of the local part; 0 = none */
	bool with_domain;	/* append "@domain" */
	bool unmatched;		/* the key lacks the extension */
};

size_t
mail_addr_find_at(const char *p, size_t len)
{
	bool quoted = false;
	size_t i, at = len;

	for (i = 0; i < len; i++) {
		if (quoted && p[i] == '\\' && i + 1 < len)
			i++;
		else if (p[i] == '"')
			quoted = !quoted;
		else if (p[i] == '@' && !quoted)
			at = i;
	}
	return at;
}

/* Append the internal (unquoted) form of an external local part. */
static void
maf_unquote(struct buf *out, const char *p, size_t len)
{
	bool quoted = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (quoted && p[i] == '\\' && i + 1 < len)
			buf_putc(out, p[++i]);
		else if (p[i] == '"')
			quoted = !quoted;
		else
			buf_putc(out, p[i]);
	}
}

/* Does an internal local part need quotes to be a dot-atom? */
static bool
maf_needs_quote(const char *p, size_t len)
{
	unsigned char c;
	size_t i;

	if (len > 0 && (p[0] == '.' || p[len - 1] == '.'))
		return true;
	for (i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '.') {
			if (i + 1 < len && p[i + 1] == '.')
				return true;
			continue;
		}
		/* UTF-8 (SMTPUTF8) local parts go unquoted. */
		if (c >= 0x80 || (c >= 'a' && c <= 'z')
		    || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (c == 0 || strchr(MAF_ATEXT, c) == NULL)
			return true;
	}
	return false;
}

/* Append the external form of an internal local part. */
static void
maf_quote(struct buf *out, const char *p, size_t len)
{
	size_t i;

	if (!maf_needs_quote(p, len)) {
		buf_append(out, p, len);
		return;
	}
	buf_putc(out, '"');
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, p[i]);
	}
	buf_putc(out, '"');
}

/* Case-insensitive equality of a counted string and a C string. */
static bool
maf_eq(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(p, word, len) == 0;
}

/*
 * Where the extension starts in an internal local part, or len when the
 * local part is not split (see mail_addr_find.h for the rules).
 */
static size_t
maf_user_len(const char *p, size_t len)
{
	const char *delims = var_recipient_delimiter;
	size_t i;

	if (delims == NULL || *delims == 0)
		return len;
	/* Addresses that are never split, whatever the delimiter. */
	if (maf_eq(p, len, "postmaster") || maf_eq(p, len, "mailer-daemon")
	    || maf_eq(p, len, "double-bounce"))
		return len;
	/* Mailing-list conventions, when "-" would split them. */
	if (strchr(delims, '-') != NULL) {
		if (len >= 6 && strncasecmp(p, "owner-", 6) == 0)
			return len;
		if (len > 8 && strncasecmp(p + len - 8, "-request", 8) == 0)
			return len;
	}
	for (i = 0; i < len; i++)
		if (p[i] != 0 && strchr(delims, p[i]) != NULL)
			break;
	/* No delimiter, or nothing before it: keep the address whole. */
	return i == 0 ? len : i;
}

/* Take addr apart; a->local must be initialized. */
static void
maf_parse(const char *addr, struct maf_addr *a)
{
	size_t len = strlen(addr);
	size_t at = mail_addr_find_at(addr, len);

	buf_reset(&a->local);
	maf_unquote(&a->local, addr, at);
	/* "user@" has no domain to speak of. */
	a->domain = at < len && addr[at + 1] != 0 ? addr + at + 1 : NULL;
	a->user_len = maf_user_len(a->local.data, a->local.len);
	a->split = a->user_len < a->local.len;
}

/* Build the key of one step: external form, lowercased. */
static void
maf_key(struct buf *key, const struct maf_addr *a, const struct maf_step *s)
{
	buf_reset(key);
	maf_quote(key, a->local.data, s->local_len);
	if (s->with_domain) {
		buf_putc(key, '@');
		buf_puts(key, a->domain);
	}
	str_lower(key->data);
}

/* The search order for a (at most five steps). */
static size_t
maf_steps(const struct maf_addr *a, int flags, struct maf_step *steps)
{
	bool dom = a->domain != NULL;
	size_t n = 0;

	if (a->local.len > 0) {
		steps[n++] = (struct maf_step){a->local.len, dom, false};
		if (a->split)
			steps[n++] = (struct maf_step){a->user_len, dom, true};
		if (dom && (flags & MAIL_ADDR_FIND_LOCALPART)) {
			steps[n++] = (struct maf_step){a->local.len, false,
			    false};
			if (a->split)
				steps[n++] = (struct maf_step){a->user_len,
				    false, true};
		}
	}
	if (dom)
		steps[n++] = (struct maf_step){0, true, true};
	return n;
}

/* Is this internal local part a destination rather than an address? */
static bool
maf_not_address(const struct buf *local)
{
	return local->len == 0 || local->data[0] == '|'
	    || local->data[0] == '/'
	    || strncasecmp(local->data, ":include:", 9) == 0;
}

/* Append one list entry, with the extension when it is an address. */
static void
maf_propagate_one(struct buf *out, const char *item, size_t len,
    const char *ext, size_t ext_len, struct buf *local)
{
	size_t at = mail_addr_find_at(item, len);

	buf_reset(local);
	maf_unquote(local, item, at);
	if (maf_not_address(local)) {
		buf_append(out, item, len);
		return;
	}
	buf_append(local, ext, ext_len);
	maf_quote(out, local->data, local->len);
	buf_append(out, item + at, len - at);
}

/*
 * Rewrite value (a list of addresses) with the extension added to each
 * address. Separators are commas and white space outside quotes; an
 * unquoted "|command" runs to the next comma, as commands may hold
 * blanks.
 */
static void
maf_propagate(struct buf *value, const char *ext, size_t ext_len)
{
	struct buf out, local;
	const char *p = value->data;
	size_t len = value->len, i = 0, start;
	bool quoted, command;

	buf_init(&out, len + 4 * ext_len + 16);
	buf_init(&local, 64);
	while (i < len) {
		if (strchr(MAF_LIST_SEP, p[i]) != NULL) {
			buf_putc(&out, p[i++]);
			continue;
		}
		start = i;
		quoted = false;
		command = p[i] == '|';
		for (; i < len; i++) {
			if (quoted && p[i] == '\\' && i + 1 < len)
				i++;
			else if (p[i] == '"')
				quoted = !quoted;
			else if (!quoted && (p[i] == ',' || (!command
			    && strchr(MAF_LIST_SEP, p[i]) != NULL)))
				break;
		}
		maf_propagate_one(&out, p + start, i - start, ext, ext_len,
		    &local);
	}
	buf_setn(value, out.data, out.len);
	buf_fini(&out);
	buf_fini(&local);
}

enum dict_result
mail_addr_find(struct dict *d, const char *addr, int flags,
    struct buf *result, struct buf *extension, struct buf *matched_key)
{
	struct maf_step steps[5];
	struct maf_addr a;
	struct buf key;
	enum dict_result rc = DICT_NOTFOUND;
	size_t i, n;

	buf_init(&a.local, 64);
	buf_init(&key, 64);
	buf_reset(result);
	if (extension != NULL)
		buf_reset(extension);
	if (matched_key != NULL)
		buf_reset(matched_key);
	maf_parse(addr, &a);
	n = maf_steps(&a, flags, steps);
	for (i = 0; i < n && rc == DICT_NOTFOUND; i++) {
		maf_key(&key, &a, &steps[i]);
		rc = dict_lookup(d, key.data, result);
	}
	if (rc == DICT_NOTFOUND) {
		buf_reset(result);
		goto out;
	}
	/* steps[i - 1] answered (or failed). */
	if (matched_key != NULL)
		buf_setn(matched_key, key.data, key.len);
	if (rc != DICT_FOUND) {
		buf_reset(result);
		goto out;
	}
	if (steps[i - 1].unmatched && a.split) {
		const char *ext = a.local.data + a.user_len;
		size_t ext_len = a.local.len - a.user_len;

		if (extension != NULL)
			buf_setn(extension, ext, ext_len);
		if (flags & MAIL_ADDR_FIND_PROPAGATE)
			maf_propagate(result, ext, ext_len);
	}
out:
	buf_fini(&a.local);
	buf_fini(&key);
	return rc;
}

bool
mail_addr_propagate(const char *class)
{
	const char *p = var_propagate_unmatched_extensions;
	size_t len, want = strlen(class);

	if (p == NULL)
		return false;
	for (;;) {
		p += strspn(p, MAF_LIST_SEP);
		if (*p == 0)
			return false;
		len = strcspn(p, MAF_LIST_SEP);
		if (len == want && strncasecmp(p, class, len) == 0)
			return true;
		p += len;
	}
}

bool
mail_addr_split_ext(const char *addr, struct buf *bare,
    struct buf *extension)
{
	struct maf_addr a;
	bool split;

	buf_init(&a.local, 64);
	maf_parse(addr, &a);
	split = a.split;
	if (bare != NULL) {
		buf_reset(bare);
		if (split) {
			maf_quote(bare, a.local.data, a.user_len);
			if (a.domain != NULL) {
				buf_putc(bare, '@');
				buf_puts(bare, a.domain);
			}
		}
	}
	if (extension != NULL) {
		buf_reset(extension);
		if (split)
			buf_append(extension, a.local.data + a.user_len,
			    a.local.len - a.user_len);
	}
	buf_fini(&a.local);
	return split;
}
