/*
 * test_trigger.c - test-trigger, a trigger server for the integration
 * tests
 *
 * Logs every request as "trigger: service=S request=R", R being a
 * printable copy of the bytes received (others become '?'), so that a
 * test can poke a fifo or unix socket and look for the line in the log.
 *
 * With the argument "map=TYPE:NAME" (master.cf) it opens that table in
 * pre_init, as a daemon opens its tables (so the skeleton watches it for
 * changes), and these requests use it:
 *
 *	lookup KEY		logs "trigger: lookup KEY: found VALUE",
 *				"trigger: lookup KEY: notfound" or
 *				"trigger: lookup KEY: tempfail REASON"
 *	lookup KEY after PATH	the same once the file PATH exists (it
 *				waits at most TEST_WAIT_SECS): the process
 *				is busy with this request meanwhile, so a
 *				test can change a table under a request
 *				in progress
 *
 * SECURITY: request bytes (and looked-up values) are made printable
 * before they are parsed or logged.
 */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "msg.h"
#include "server.h"
#include "str.h"
#include "timeutil.h"

#define TEST_WAIT_SECS		60
#define TEST_WAIT_STEP_MS	20

static struct dict *test_map;		/* map=, or NULL */

static void
test_pre_init(const char *service, char **argv)
{
	(void)service;
	for (; *argv != NULL; argv++)
		if (str_has_prefix(*argv, "map=") && test_map == NULL)
			test_map = dict_open(*argv + 4, O_RDONLY,
			    DICT_FLAG_FOLD);
}

/* Wait until path exists, or TEST_WAIT_SECS have passed. */
static void
test_wait_for(const char *path)
{
	unsigned waited;

	for (waited = 0; access(path, F_OK) < 0
	    && waited < TEST_WAIT_SECS * 1000; waited += TEST_WAIT_STEP_MS)
		time_sleep_ms(TEST_WAIT_STEP_MS);
}

/* "lookup KEY [after PATH]"; args is a printable, NUL-terminated copy. */
static void
test_lookup(char *args)
{
	struct buf value, text;
	char *after;

	if (test_map == NULL) {
		msg_warn("trigger: lookup without a map= table");
		return;
	}
	if ((after = strstr(args, " after ")) != NULL) {
		*after = 0;
		test_wait_for(after + 7);
	}
	buf_init(&value, 64);
	buf_init(&text, 64);
	switch (dict_lookup(test_map, args, &value)) {
	case DICT_FOUND:
		str_printable(&text, value.data, value.len);
		msg_info("trigger: lookup %s: found %s", args, buf_str(&text));
		break;
	case DICT_NOTFOUND:
		msg_info("trigger: lookup %s: notfound", args);
		break;
	default:
		msg_info("trigger: lookup %s: tempfail %s", args,
		    dict_error(test_map));
		break;
	}
	buf_fini(&text);
	buf_fini(&value);
}

static void
test_service(const char *data, size_t len, const char *service, char **argv)
{
	struct buf text;

	(void)argv;
	buf_init(&text, len + 1);
	str_printable(&text, data, len);
	msg_info("trigger: service=%s request=%s", service, buf_str(&text));
	if (str_has_prefix(buf_str(&text), "lookup "))
		test_lookup(text.data + 7);
	buf_fini(&text);
}

static const struct trigger_server_spec test_spec = {
	.name = "test-trigger",
	.service = test_service,
	.pre_init = test_pre_init,
};

int
main(int argc, char **argv)
{
	return trigger_server_main(argc, argv, &test_spec);
}
