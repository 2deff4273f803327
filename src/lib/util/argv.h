/*
 * argv.h - growable NULL-terminated string vectors
 *
 * struct argv owns its strings. argv_split() breaks a string on any of
 * the separator characters, skipping empty tokens.
 */
#ifndef PETREL_ARGV_H
#define PETREL_ARGV_H

#include <stddef.h>

struct argv {
	char **argv;		/* argv[argc] == NULL */
	size_t argc;
	size_t cap;
};

struct argv *argv_new(void);
void argv_free(struct argv *av);		/* accepts NULL */
void argv_add(struct argv *av, const char *str);	/* copies str */
void argv_addn(struct argv *av, const char *str, size_t len);
struct argv *argv_split(const char *str, const char *separators);
struct argv *argv_dup(const struct argv *av);
/* Truncate to the first len elements. */
void argv_truncate(struct argv *av, size_t len);

#endif
