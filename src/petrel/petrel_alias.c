/*
 * petrel_alias.c - `petrel alias` (Postfix's postalias)
 *
 * usage:	petrel alias [-c dir] [-fiNsv] [-q key] [-d key]
 *		    [[type:]name ...]
 *
 * `petrel map` for alias tables: the same options and exit statuses
 * (petrel_map.c), with sources in aliases(5) format ("name: value,
 * value", continuation lines, quoted names; see mkmap.h) and output as
 * "key: value". Without tables it works on every table in
 * $alias_database, and building them is what newaliases does.
 */
#include "mkmap.h"
#include "petrel.h"

int
petrel_alias(const char *dir, int argc, char **argv)
{
	return petrel_map_main(dir, argc, argv, MKMAP_ALIAS);
}
