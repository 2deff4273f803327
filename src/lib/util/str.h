/*
 * str.h - small, safe string helpers
 *
 * Nothing here writes into a fixed-size buffer. Conversions are strict:
 * the whole string must be consumed, overflow is an error.
 */
#ifndef PETREL_STR_H
#define PETREL_STR_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Trim leading and trailing ASCII whitespace in place; returns str. */
char *str_trim(char *str);
/* Lowercase ASCII letters in place; returns str. */
char *str_lower(char *str);
bool str_case_eq(const char *a, const char *b);
bool str_has_prefix(const char *str, const char *prefix);
/*
 * Split off the next token: skip leading separators, return the token
 * (NUL-terminated in place) and advance *cursor; NULL when no tokens are
 * left. Like Postfix's mystrtok(): str_token(&cp, ", \t\r\n").
 */
char *str_token(char **cursor, const char *separators);
/*
 * The same for lists of tables, where a separator inside {...} does not
 * split (inline:{a=b, c=d} is one element): copy the next element of
 * cp into tok and return where the scan stopped, or NULL when none is
 * left. cp is not modified.
 */
const char *str_token_braced(const char *cp, const char *separators,
    struct buf *tok);
/*
 * Strict decimal conversions: optional leading '-' (signed only), digits,
 * nothing else; no whitespace. Return 0, or -1 on syntax or range error.
 */
int str_to_long(const char *str, long *out);
int str_to_int(const char *str, int *out);
int str_to_ulong(const char *str, unsigned long *out);
/*
 * Append a printable copy of len bytes to out: bytes outside 0x20..0x7e
 * become '?'. For logging outside data.
 */
void str_printable(struct buf *out, const char *data, size_t len);
/* Return true when every byte is printable ASCII (0x20..0x7e). */
bool str_is_printable(const char *str);

#endif
