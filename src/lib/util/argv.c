/*
 * argv.c - growable NULL-terminated string vectors
 *
 * A struct argv owns copies of its strings and keeps argv[argc] == NULL
 * at all times, so av->argv can be passed straight to execv(2). Capacity
 * doubles on growth (overflow-checked by xreallocarray).
 */
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "mem.h"

struct argv *
argv_new(void)
{
	struct argv *av = xmalloc(sizeof(*av));

	av->cap = 8;
	av->argc = 0;
	av->argv = xreallocarray(NULL, av->cap, sizeof(av->argv[0]));
	av->argv[0] = NULL;
	return av;
}

void
argv_free(struct argv *av)
{
	size_t i;

	if (av == NULL)
		return;
	for (i = 0; i < av->argc; i++)
		free(av->argv[i]);
	free(av->argv);
	free(av);
}

/* Append an already allocated string; the vector takes ownership. */
static void
argv_push(struct argv *av, char *str)
{
	/* Room for the new element and the terminating NULL. */
	if (av->argc + 1 >= av->cap) {
		size_t cap;

		if (__builtin_mul_overflow(av->cap, 2, &cap))
			cap = av->argc + 2;
		av->argv = xreallocarray(av->argv, cap, sizeof(av->argv[0]));
		av->cap = cap;
	}
	av->argv[av->argc++] = str;
	av->argv[av->argc] = NULL;
}

void
argv_add(struct argv *av, const char *str)
{
	argv_push(av, xstrdup(str));
}

void
argv_addn(struct argv *av, const char *str, size_t len)
{
	argv_push(av, xstrndup(str, len));
}

struct argv *
argv_split(const char *str, const char *separators)
{
	struct argv *av = argv_new();
	size_t len;

	for (;;) {
		str += strspn(str, separators);
		if (*str == 0)
			break;
		len = strcspn(str, separators);
		argv_addn(av, str, len);
		str += len;
	}
	return av;
}

struct argv *
argv_dup(const struct argv *av)
{
	struct argv *copy = argv_new();
	size_t i;

	for (i = 0; i < av->argc; i++)
		argv_add(copy, av->argv[i]);
	return copy;
}

void
argv_truncate(struct argv *av, size_t len)
{
	while (av->argc > len)
		free(av->argv[--av->argc]);
	av->argv[av->argc] = NULL;
}
