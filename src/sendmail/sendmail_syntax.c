/*
 * sendmail_syntax.c - RFC 5321 paths, ESMTP parameters and xtext
 *
 * The syntax that sendmail -bs (sendmail_smtp.c) checks before anything
 * reaches postdrop: the path of MAIL FROM and RCPT TO, the "keyword=
 * value" parameters after it, and the xtext (RFC 3461) of ENVID and
 * ORCPT, also used by -V. Functions here are pure: they parse a string
 * and fill buffers, and say nothing to the client or the log.
 *
 * SECURITY: the input is an untrusted command line (NUL-terminated,
 * bounded by the caller). Parsing is one pass, without recursion; the
 * results are in struct bufs, bounded by the input.
 */
#include <stdbool.h>
#include <string.h>

#include "addr_list.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "str.h"

#include "sendmail.h"

#define SM_ORCPT_LIMIT	500		/* RFC 3461 section 4.2 */

static bool
sm_is_atext(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9')
	    || (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static bool
sm_is_ldh(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

/* Domain (labels of letters, digits, '-', '_') or [literal]; NULL if bad. */
static const char *
sm_domain(const char *cp)
{
	if (*cp == '[') {
		/* dcontent: printable ASCII but "[", "\" and "]". */
		for (cp++; *cp > ' ' && *cp < 0x7f && *cp != '['
		    && *cp != '\\' && *cp != ']'; cp++)
			;
		return *cp == ']' && cp[-1] != '[' ? cp + 1 : NULL;
	}
	for (;;) {
		if (!sm_is_ldh(*cp))
			return NULL;
		while (sm_is_ldh(*cp))
			cp++;
		if (*cp != '.')
			return cp;
		cp++;
	}
}

const char *
sm_path_parse(const char *cp, struct buf *out, struct buf *local, bool null_ok)
{
	const char *dom;

	buf_reset(out);
	buf_reset(local);
	if (*cp++ != '<')
		return NULL;
	if (*cp == '>')
		return null_ok ? cp + 1 : NULL;
	if (*cp == '@') {
		for (;;) {
			if ((cp = sm_domain(cp + 1)) == NULL)
				return NULL;
			if (*cp == ':')
				break;
			if (*cp != ',' || cp[1] != '@')
				return NULL;
			cp++;
		}
		cp++;
	}
	if (*cp == '"') {
		/* qtextSMTP and quoted-pairSMTP: printable ASCII. */
		for (cp++; *cp != '"'; cp++) {
			if (*cp == '\\')
				cp++;
			if (*cp < ' ' || *cp >= 0x7f)
				return NULL;
			buf_putc(local, *cp);
		}
		cp++;
	} else {
		/* Dot-string: atoms separated by single dots. */
		for (;;) {
			if (!sm_is_atext(*cp))
				return NULL;
			while (sm_is_atext(*cp))
				buf_putc(local, *cp++);
			if (*cp != '.')
				break;
			buf_putc(local, *cp++);
		}
	}
	if (local->len == 0)
		return NULL;
	addr_list_quote_local(out, local->data, local->len);
	if (*cp == '@') {
		dom = ++cp;
		if ((cp = sm_domain(cp)) == NULL)
			return NULL;
		buf_putc(out, '@');
		buf_append(out, dom, (size_t)(cp - dom));
	}
	if (*cp != '>' || out->len > CLEANUP_CLNT_ADDR_LIMIT)
		return NULL;
	return cp + 1;
}

int
sm_param_next(char **cursor, char **key, char **value)
{
	char *word, *cp;

	if ((word = str_token(cursor, " ")) == NULL)
		return 0;
	*key = word;
	*value = NULL;
	if ((cp = strchr(word, '=')) != NULL) {
		*cp++ = 0;
		*value = cp;
		if (*cp == 0)
			return -1;
		for (; *cp; cp++)
			if (*cp <= ' ' || *cp >= 0x7f || *cp == '=')
				return -1;
	}
	if (!(sm_is_ldh(**key) && **key != '-' && **key != '_'))
		return -1;
	for (cp = *key; *cp; cp++)
		if (!sm_is_ldh(*cp) || *cp == '_')
			return -1;
	return 1;
}

bool
sm_orcpt_parse(const char *value, struct buf *out, struct buf *tmp)
{
	const char *semi;
	size_t i, type_len;

	if (value == NULL || (semi = strchr(value, ';')) == NULL)
		return false;
	type_len = (size_t)(semi - value);
	for (i = 0; i < type_len; i++)
		if (!sm_is_ldh(value[i]) || value[i] == '_')
			return false;
	if (type_len == 0 || sm_xtext_decode(semi + 1, tmp) < 0
	    || tmp->len == 0 || tmp->len > SM_ORCPT_LIMIT
	    || !str_is_printable(tmp->data))
		return false;
	buf_reset(out);
	buf_append(out, value, type_len + 1);
	buf_append(out, tmp->data, tmp->len);
	return true;
}

static int
sm_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
sm_xtext_decode(const char *text, struct buf *out)
{
	const unsigned char *cp;
	int hi, lo;

	buf_reset(out);
	for (cp = (const unsigned char *)text; *cp; cp++) {
		if (*cp == '+') {
			/* cp[2] is read only when cp[1] was a digit. */
			if ((hi = sm_hex(cp[1])) < 0
			    || (lo = sm_hex(cp[2])) < 0)
				return -1;
			buf_putc(out, hi * 16 + lo);
			cp += 2;
		} else if (*cp < 33 || *cp > 126 || *cp == '=') {
			return -1;
		} else {
			buf_putc(out, *cp);
		}
	}
	return memchr(out->data, 0, out->len) == NULL ? 0 : -1;
}
