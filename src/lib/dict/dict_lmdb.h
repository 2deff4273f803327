/*
 * dict_lmdb.h - settings of the lmdb: table type (dict_lmdb.c)
 *
 * The dict library cannot read parameters (it sits below the global
 * library), so whoever writes LMDB tables passes lmdb_map_size down:
 *
 *	dict_lmdb_set_map_size((size_t)var_lmdb_map_size);
 *
 * The map size is the initial limit on a table's size while it is
 * written; a write that fills the map doubles it and tries again, so
 * the setting only trades a few retries against address space. Readers
 * take the size recorded in the file and ignore this setting.
 */
#ifndef PETREL_DICT_LMDB_H
#define PETREL_DICT_LMDB_H

#include <stddef.h>

#define DICT_LMDB_MAP_SIZE	((size_t)16 * 1024 * 1024)

/* Initial map size for tables opened for writing from now on. */
void dict_lmdb_set_map_size(size_t size);

#endif
