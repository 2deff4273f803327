/*
 * transport_params.c - per-transport parameters (<transport>_<suffix>)
 *
 * See transport_params.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "msg.h"
#include "transport_params.h"

static const char *const transport_suffixes[] = {
	TRANSPORT_CONCURRENCY_LIMIT,
	TRANSPORT_RECIPIENT_LIMIT,
	TRANSPORT_INITIAL_CONCURRENCY,
};

#define SUFFIX_COUNT \
	(sizeof(transport_suffixes) / sizeof(transport_suffixes[0]))

bool
transport_param_name(const char *name, const char *service)
{
	size_t len = strlen(service), i;

	if (len == 0 || strncmp(name, service, len) != 0 || name[len] != '_')
		return false;
	for (i = 0; i < SUFFIX_COUNT; i++)
		if (strcmp(name + len + 1, transport_suffixes[i]) == 0)
			return true;
	return false;
}

int
transport_param_int(const char *transport, const char *suffix, int def)
{
	const struct conf *c = conf_current();
	struct buf name, value, why;
	const char *cp;
	char *end;
	long num;
	int result = def;

	if (c == NULL)
		return def;
	buf_init(&name, 64);
	buf_init(&value, 32);
	buf_init(&why, 32);
	buf_printf(&name, "%s_%s", transport, suffix);
	if (conf_lookup(c, name.data) == NULL) {
		/* not set: the default */
	} else if (conf_eval(c, name.data, &value, &why) < 0) {
		msg_warn("parameter %s: %s; using %d", name.data, why.data, def);
	} else {
		cp = value.data;
		errno = 0;
		num = strtol(cp, &end, 10);
		if (*cp < '0' || *cp > '9' || *end != 0 || errno != 0
		    || num < 1 || num > INT_MAX)
			msg_warn("parameter %s: bad value \"%s\" (expected "
			    "integer 1..%d); using %d", name.data, cp,
			    INT_MAX, def);
		else
			result = (int)num;
	}
	buf_fini(&name);
	buf_fini(&value);
	buf_fini(&why);
	return result;
}
