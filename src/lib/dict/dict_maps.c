/*
 * dict_maps.c - a list of tables searched as one table (*_maps)
 *
 * dict_maps_open() splits the value of a *_maps parameter into table
 * names (str_token_braced(): commas and white space separate, except
 * inside braces), opens each with dict_open(), and returns a table of
 * its own type, "maps", whose lookup asks the members in turn. The type
 * is not in the registry (dict_open.c): a list is made from a
 * parameter, never opened by name.
 *
 * A temporary failure of a member ends the search and is the list's
 * answer: a later member must not answer for a key that the failed one
 * may hold (a missing alias table must defer mail, not send it to the
 * next table or bounce it). Its reason names the parameter and the
 * member: "alias_maps: lmdb:/etc/aliases: open ...". Members name
 * themselves in their reasons ("table lmdb:/etc/aliases: ..."); that
 * prefix is not repeated.
 *
 * The list remembers which member answered last (dict_maps_last()):
 * the virtual agent names it in warnings, the local agent gives an
 * alias the rights of the owner of the table that holds it.
 *
 * SECURITY: keys are outside data (addresses); dict_lookup() bounds and
 * folds them before the list sees them, and again for each member. The
 * list's value comes from the configuration.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "dict_maps.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

#define DICT_MAPS_SEPS	", \t\r\n"

struct dict_maps {
	struct dict d;		/* name and full_name: the parameter */
	struct dict **members;
	size_t count;
	struct dict *last;	/* dict_maps_last() */
};

/*
 * Does why start with "table NAME" or "table \"NAME\"" (as dict_open()
 * and the types name a table), followed by ':' or ','? Returns what
 * follows "table ", or NULL.
 */
static const char *
dict_maps_named(const char *why, const char *name)
{
	size_t len = strlen(name);
	const char *cp;

	if (!str_has_prefix(why, "table "))
		return NULL;
	cp = why + 6;
	if (strncmp(cp, name, len) == 0)
		cp += len;
	else if (cp[0] == '"' && strncmp(cp + 1, name, len) == 0
	    && cp[len + 1] == '"')
		cp += len + 2;
	else
		return NULL;
	return *cp == ':' || *cp == ',' ? why + 6 : NULL;
}

/*
 * The list's temporary failure for member's: "param: type:name: why",
 * where why loses the "table type:name" that starts most reasons.
 */
static enum dict_result
dict_maps_fail(struct dict_maps *m, struct dict *member)
{
	const char *why = dict_error(member), *rest;

	if (*why == 0)
		why = "lookup failed";
	if ((rest = dict_maps_named(why, member->full_name)) != NULL)
		return dict_tempfail(&m->d, "%s: %s", m->d.name, rest);
	return dict_tempfail(&m->d, "%s: %s: %s", m->d.name,
	    member->full_name, why);
}

static enum dict_result
dict_maps_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_maps *m = (struct dict_maps *)d;
	size_t i;

	m->last = NULL;
	for (i = 0; i < m->count; i++) {
		switch (dict_lookup(m->members[i], key, value)) {
		case DICT_NOTFOUND:
			continue;
		case DICT_FOUND:
			m->last = m->members[i];
			return DICT_FOUND;
		case DICT_TEMPFAIL:
			m->last = m->members[i];
			buf_reset(value);
			return dict_maps_fail(m, m->members[i]);
		}
	}
	return DICT_NOTFOUND;
}

static void
dict_maps_close(struct dict *d)
{
	struct dict_maps *m = (struct dict_maps *)d;
	size_t i;

	for (i = 0; i < m->count; i++)
		dict_close(m->members[i]);
	free(m->members);
	dict_free(d);
}

static const struct dict_ops dict_maps_ops = {
	.type = "maps",
	.lookup = dict_maps_lookup,
	.close = dict_maps_close,
	.quiet_tempfail = true,	/* the member logged it (a surrogate when opened) */
};

static const struct dict_maps *
dict_maps_cast(const struct dict *d, const char *caller)
{
	if (d->ops != &dict_maps_ops)
		msg_panic("%s: table %s is not a list of tables", caller,
		    d->full_name);
	return (const struct dict_maps *)d;
}

struct dict *
dict_maps_open(const char *param, const char *value, int open_flags,
    int dict_flags)
{
	struct dict_maps *m;
	struct buf tok;
	const char *cp = value;

	if ((open_flags & (O_ACCMODE | O_CREAT | O_TRUNC)) != O_RDONLY)
		msg_panic("dict_maps_open: %s: a list of tables is read-only",
		    param);
	m = (struct dict_maps *)dict_alloc(&dict_maps_ops, param, open_flags,
	    dict_flags, sizeof(*m));
	/* Messages name the list by its parameter, not "maps:param". */
	free(m->d.full_name);
	m->d.full_name = xstrdup(param);
	buf_init(&tok, 64);
	while ((cp = str_token_braced(cp, DICT_MAPS_SEPS, &tok)) != NULL) {
		m->members = xreallocarray(m->members, m->count + 1,
		    sizeof(*m->members));
		m->members[m->count++] = dict_open(tok.data, open_flags,
		    dict_flags);
	}
	buf_fini(&tok);
	return &m->d;
}

size_t
dict_maps_count(const struct dict *maps)
{
	return dict_maps_cast(maps, "dict_maps_count")->count;
}

struct dict *
dict_maps_last(const struct dict *maps)
{
	return dict_maps_cast(maps, "dict_maps_last")->last;
}
