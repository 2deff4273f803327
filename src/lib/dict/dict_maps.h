/*
 * dict_maps.h - a list of tables searched as one table (*_maps)
 *
 * Every Postfix *_maps parameter names a list of tables
 * ("alias_maps = lmdb:/etc/aliases, inline:{a=b, c=d}"); a lookup asks
 * them in turn and the first hit wins. dict_maps_open() turns such a
 * value into one struct dict, so that callers (and mail_addr_find(),
 * which then tries each key in every table before the next key, as
 * Postfix's maps do) look it up like any other table:
 *
 *	m = dict_maps_open("alias_maps", var_alias_maps, O_RDONLY,
 *	    DICT_FLAG_FOLD);
 *	if (dict_maps_count(m) == 0)
 *		... the parameter is empty: the caller's "not configured" ...
 *	switch (dict_lookup(m, "root", value)) {
 *	case DICT_FOUND:	... dict_maps_last(m) is the table that said so
 *	case DICT_NOTFOUND:	... in no table
 *	case DICT_TEMPFAIL:	... dict_error(m): "alias_maps: lmdb:/x: ..."
 *	}
 *	dict_close(m);
 *
 * It is not a registered type: nothing can open "maps:..." by name.
 */
#ifndef PETREL_DICT_MAPS_H
#define PETREL_DICT_MAPS_H

#include <stddef.h>

#include "dict.h"

/*
 * A table that searches the tables named in value, the value of the
 * parameter param (which names the list in errors, and is the table's
 * name and full_name). Members are separated by commas and/or white
 * space, except inside braces (inline:{a=b, c=d} is one member), and
 * are opened in order with dict_open(type_name, open_flags,
 * dict_flags): shared with other users in the process, and a member
 * that cannot be opened becomes a surrogate that answers DICT_TEMPFAIL
 * (dict.h). open_flags must ask for reading only (O_RDONLY): a list is
 * only looked up; update, delete and iteration are not supported.
 *
 * Never NULL. An empty value gives an empty list, whose lookups are all
 * DICT_NOTFOUND; callers for which an empty parameter means "no check"
 * (local_recipient_maps) test dict_maps_count() == 0.
 *
 * Lookup: each member in turn; the first DICT_FOUND wins. A
 * DICT_TEMPFAIL stops the search (never "not found": a later member
 * must not answer for a key that a failed one may hold) and is the
 * list's, with dict_error() naming the parameter and the member:
 * "param: type:name: reason". Free the list (and drop the members)
 * with dict_close().
 */
struct dict *dict_maps_open(const char *param, const char *value,
    int open_flags, int dict_flags);
/* The number of tables in the list. */
size_t dict_maps_count(const struct dict *maps);
/*
 * The member that gave the last lookup's DICT_FOUND or DICT_TEMPFAIL
 * (to name it in messages, or to ask who owns it); NULL before the
 * first lookup and after a DICT_NOTFOUND. Valid until the next lookup
 * and while the list is open. A key that dict_lookup() refuses before
 * the list sees it (longer than DICT_MAX_KEY) leaves it unchanged.
 */
struct dict *dict_maps_last(const struct dict *maps);

#endif
