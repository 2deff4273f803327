/*
 * transport_params.h - per-transport parameters (<transport>_<suffix>)
 *
 * As in Postfix, some parameters exist once per master.cf transport:
 * "local_destination_concurrency_limit", "relay_destination_recipient_
 * limit" ... where "local" and "relay" are service names. Each has a
 * default_* (or other) parameter that applies when the transport's own
 * is not set. The suffixes are listed here once: conf_check_unknown()
 * accepts <service>_<suffix> for the services master.cf defines, and
 * qmgr reads the values with transport_param_int().
 *
 *	limit = transport_param_int("virtual",
 *	    TRANSPORT_CONCURRENCY_LIMIT, var_default_destination_
 *	    concurrency_limit);
 */
#ifndef PETREL_TRANSPORT_PARAMS_H
#define PETREL_TRANSPORT_PARAMS_H

#include <stdbool.h>

#define TRANSPORT_CONCURRENCY_LIMIT	"destination_concurrency_limit"
#define TRANSPORT_RECIPIENT_LIMIT	"destination_recipient_limit"
#define TRANSPORT_INITIAL_CONCURRENCY	"initial_destination_concurrency"

/* True when name is "<service>_<suffix>" for a suffix above. */
bool transport_param_name(const char *name, const char *service);

/*
 * The integer value of <transport>_<suffix> in the current main.cf
 * (conf_current(), -o overrides included), expanded; def when it is not
 * set. A value that is not an integer in 1..INT_MAX is logged (naming
 * the parameter) and def used instead.
 */
int transport_param_int(const char *transport, const char *suffix, int def);

#endif
