/*
 * str.c - small, safe string helpers
 *
 * Trimming, case folding, tokenizing in place, strict number conversion
 * and printable copies for logging. Nothing writes into a fixed-size
 * buffer; the ctype-like tests are ASCII-only on purpose, so that the
 * result never depends on the process locale.
 *
 * SECURITY: str_to_*() and str_printable() are used on outside data.
 * Conversions accept only an optional '-' and decimal digits, and every
 * accumulation step is overflow-checked.
 */
#include <limits.h>
#include <string.h>

#include "buf.h"
#include "str.h"

static inline bool
str_is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'
	    || ch == '\f' || ch == '\v';
}

static inline bool
str_is_print(int ch)
{
	return ch >= 0x20 && ch <= 0x7e;
}

static inline int
str_to_lower_ch(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

char *
str_trim(char *str)
{
	char *start = str;
	size_t len;

	while (str_is_space((unsigned char)*start))
		start++;
	len = strlen(start);
	while (len > 0 && str_is_space((unsigned char)start[len - 1]))
		len--;
	if (start != str)
		memmove(str, start, len);
	str[len] = 0;
	return str;
}

char *
str_lower(char *str)
{
	char *cp;

	for (cp = str; *cp; cp++)
		*cp = (char)str_to_lower_ch((unsigned char)*cp);
	return str;
}

bool
str_case_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = str_to_lower_ch((unsigned char)*a);
		int cb = str_to_lower_ch((unsigned char)*b);

		if (ca != cb)
			return false;
		if (ca == 0)
			return true;
	}
}

bool
str_has_prefix(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

char *
str_token(char **cursor, const char *separators)
{
	char *start = *cursor;
	char *end;

	if (start == NULL)
		return NULL;
	start += strspn(start, separators);
	if (*start == 0) {
		*cursor = start;
		return NULL;
	}
	end = start + strcspn(start, separators);
	if (*end) {
		*end = 0;
		*cursor = end + 1;
	} else {
		*cursor = end;
	}
	return start;
}

const char *
str_token_braced(const char *cp, const char *separators, struct buf *tok)
{
	int depth = 0;

	cp += strspn(cp, separators);
	if (*cp == 0)
		return NULL;
	buf_reset(tok);
	for (; *cp != 0; cp++) {
		if (depth == 0 && strchr(separators, *cp) != NULL)
			break;
		if (*cp == '{')
			depth++;
		else if (*cp == '}' && depth > 0)
			depth--;
		buf_putc(tok, *cp);
	}
	return cp;
}

/*
 * Accumulate digits into an unsigned magnitude, refusing anything that
 * exceeds max. Shared by the signed and unsigned conversions so there is
 * exactly one place where overflow is checked.
 */
static int
str_digits(const char *cp, unsigned long max, unsigned long *out)
{
	unsigned long val = 0;

	if (*cp == 0)
		return -1;
	for (; *cp; cp++) {
		if (*cp < '0' || *cp > '9')
			return -1;
		if (__builtin_mul_overflow(val, 10UL, &val)
		    || __builtin_add_overflow(val, (unsigned long)(*cp - '0'),
			&val)
		    || val > max)
			return -1;
	}
	*out = val;
	return 0;
}

int
str_to_long(const char *str, long *out)
{
	unsigned long mag;

	if (*str == '-') {
		/* |LONG_MIN| == LONG_MAX + 1 in two's complement. */
		if (str_digits(str + 1, (unsigned long)LONG_MAX + 1, &mag) < 0)
			return -1;
		*out = mag == (unsigned long)LONG_MAX + 1 ? LONG_MIN
		    : -(long)mag;
		return 0;
	}
	if (str_digits(str, LONG_MAX, &mag) < 0)
		return -1;
	*out = (long)mag;
	return 0;
}

int
str_to_int(const char *str, int *out)
{
	long val;

	if (str_to_long(str, &val) < 0 || val < INT_MIN || val > INT_MAX)
		return -1;
	*out = (int)val;
	return 0;
}

int
str_to_ulong(const char *str, unsigned long *out)
{
	return str_digits(str, ULONG_MAX, out);
}

void
str_printable(struct buf *out, const char *data, size_t len)
{
	size_t i;

	buf_reserve(out, len);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];

		buf_putc(out, str_is_print(ch) ? ch : '?');
	}
}

bool
str_is_printable(const char *str)
{
	for (; *str; str++)
		if (!str_is_print((unsigned char)*str))
			return false;
	return true;
}
