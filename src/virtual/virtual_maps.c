/*
 * virtual_maps.c - a list of tables searched as one table
 *
 * virtual_mailbox_maps, virtual_uid_maps and virtual_gid_maps are lists
 * of tables, as every Postfix *_maps parameter. Postfix searches such a
 * list key by key: user@domain in every table, then @domain in every
 * table. mail_addr_find() searches one table, key by key; giving it a
 * table whose lookup asks each member in turn yields exactly that
 * order. The list is such a table: a struct dict of its own type
 * ("maps"), not registered, so nothing can open it by name.
 *
 * The list is split like other Petrel lists: commas and white space
 * separate members, except inside braces (inline:{a=b, c=d}).
 *
 * SECURITY: keys are recipient addresses (outside data); they are only
 * handed to the member tables, which bound their length (dict.h).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "mail_addr_find.h"
#include "mem.h"
#include "str.h"
#include "virtual.h"

#define VIRTUAL_MAPS_SEPS	", \t\r\n"

struct virtual_maps {
	struct dict d;
	char *param;
	struct dict **tables;
	size_t count;
	struct buf last;	/* "param (type:name)" of the last answer */
};

static enum dict_result
virtual_maps_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct virtual_maps *m = (struct virtual_maps *)d;
	enum dict_result rc;
	size_t i;

	buf_reset(&m->last);
	for (i = 0; i < m->count; i++) {
		rc = dict_lookup(m->tables[i], key, value);
		if (rc == DICT_NOTFOUND)
			continue;
		buf_printf(&m->last, "%s (%s)", m->param,
		    m->tables[i]->full_name);
		if (rc == DICT_TEMPFAIL)
			return dict_tempfail(d, "%s: %s", m->param,
			    dict_error(m->tables[i]));
		return rc;
	}
	buf_set(&m->last, m->param);
	return DICT_NOTFOUND;
}

static void
virtual_maps_close(struct dict *d)
{
	struct virtual_maps *m = (struct virtual_maps *)d;
	size_t i;

	for (i = 0; i < m->count; i++)
		dict_close(m->tables[i]);
	free(m->tables);
	free(m->param);
	buf_fini(&m->last);
	dict_free(d);
}

static const struct dict_ops virtual_maps_ops = {
	.type = "maps",
	.lookup = virtual_maps_lookup,
	.close = virtual_maps_close,
};

struct dict *
virtual_maps_open(const char *param, const char *value)
{
	struct virtual_maps *m;
	struct buf tok;
	const char *cp = value;

	m = (struct virtual_maps *)dict_alloc(&virtual_maps_ops, param,
	    O_RDONLY, 0, sizeof(*m));
	m->param = xstrdup(param);
	buf_init(&m->last, 64);
	buf_init(&tok, 64);
	while ((cp = str_token_braced(cp, VIRTUAL_MAPS_SEPS, &tok)) != NULL) {
		m->tables = xreallocarray(m->tables, m->count + 1,
		    sizeof(*m->tables));
		m->tables[m->count++] = dict_open(buf_str(&tok), O_RDONLY,
		    DICT_FLAG_FOLD);
	}
	buf_fini(&tok);
	return &m->d;
}

size_t
virtual_maps_count(const struct dict *maps)
{
	return ((const struct virtual_maps *)maps)->count;
}

const char *
virtual_maps_last(const struct dict *maps)
{
	const struct virtual_maps *m = (const struct virtual_maps *)maps;

	return m->last.len > 0 ? buf_str(&m->last) : m->param;
}

enum dict_result
virtual_id_find(struct dict *maps, const char *addr, long *id, bool *bad,
    struct buf *text)
{
	enum dict_result rc;
	char *cp;

	*bad = false;
	*id = -1;
	rc = mail_addr_find(maps, addr, 0, text, NULL, NULL);
	if (rc != DICT_FOUND)
		return rc;
	cp = xstrdup(buf_str(text));
	if (str_to_long(str_trim(cp), id) < 0 || *id < 0 || *id > INT_MAX) {
		*bad = true;
		*id = -1;
	}
	free(cp);
	return rc;
}
