/*
 * dict_dl.c - load a database client library when a table first needs it
 *
 * See dict_dl.h.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict_dl.h"
#include "mem.h"

int
dict_dl_load(struct dict_dl *dl, struct buf *why)
{
	const char *err;
	void *handle, *sym;
	size_t i;

	if (dl->state == 0) {
		if ((handle = dlopen(dl->lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			/* dlerror() names the library already, as a rule. */
			err = dlerror();
			if (err != NULL && strstr(err, dl->lib) != NULL)
				dl->error = xasprintf("cannot load %s", err);
			else
				dl->error = xasprintf("cannot load %s: %s",
				    dl->lib, err ? err : "unknown error");
			dl->state = -1;
		} else {
			for (i = 0; i < dl->count; i++) {
				(void)dlerror();
				sym = dlsym(handle, dl->syms[i].name);
				if (sym == NULL) {
					dl->error = xasprintf("%s: no symbol "
					    "%s", dl->lib, dl->syms[i].name);
					dl->state = -1;
					(void)dlclose(handle);
					break;
				}
				*dl->syms[i].addr = sym;
			}
			if (dl->state == 0)
				dl->state = 1;
		}
	}
	if (dl->state < 0) {
		buf_set(why, dl->error);
		return -1;
	}
	return 0;
}
