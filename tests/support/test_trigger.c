/*
 * test_trigger.c - test-trigger, a trigger server for the integration
 * tests
 *
 * Logs every request as "trigger: service=S request=R", R being a
 * printable copy of the bytes received (others become '?'), so that a
 * test can poke a fifo or unix socket and look for the line in the log.
 *
 * SECURITY: request bytes are made printable before they are logged.
 */
#include <stddef.h>

#include "buf.h"
#include "msg.h"
#include "server.h"
#include "str.h"

static void
test_service(const char *data, size_t len, const char *service, char **argv)
{
	struct buf text;

	(void)argv;
	buf_init(&text, len + 1);
	str_printable(&text, data, len);
	msg_info("trigger: service=%s request=%s", service, buf_str(&text));
	buf_fini(&text);
}

static const struct trigger_server_spec test_spec = {
	.name = "test-trigger",
	.service = test_service,
};

int
main(int argc, char **argv)
{
	return trigger_server_main(argc, argv, &test_spec);
}
