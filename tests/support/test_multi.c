/*
 * test_multi.c - test-multi, a multi-server for the integration tests
 *
 * Each client gets "ready multi pid=P clients=N" (N counts the clients
 * connected to this process, this one included), then "echo <line>" for
 * every line it sends. "quit" or end-of-file disconnects; so does a line
 * longer than 1000 bytes.
 *
 * Note for daemon writers: the skeleton owns the close, so the
 * bufferevent is made without BEV_OPT_CLOSE_ON_FREE and
 * multi_server_disconnect() closes the descriptor.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "mem.h"
#include "msg.h"
#include "server.h"

#define TEST_LINE_LIMIT		1000

struct test_client {
	int fd;
	struct bufferevent *bev;
};

static int test_clients;

static void
test_client_free(struct test_client *tc)
{
	bufferevent_free(tc->bev);
	test_clients--;
	multi_server_disconnect(tc->fd);
	free(tc);
}

static void
test_read(struct bufferevent *bev, void *arg)
{
	struct test_client *tc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t len;
	char *line;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (strcmp(line, "quit") == 0) {
			free(line);
			test_client_free(tc);
			return;
		}
		if (evbuffer_add(out, "echo ", 5) < 0
		    || evbuffer_add(out, line, len) < 0
		    || evbuffer_add(out, "\n", 1) < 0)
			msg_fatal("out of memory");
		free(line);
	}
	if (evbuffer_get_length(in) > TEST_LINE_LIMIT)
		test_client_free(tc);
}

static void
test_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		test_client_free(arg);
}

static void
test_accept(int fd, const char *service, char **argv)
{
	struct test_client *tc;

	(void)service;
	(void)argv;
	if (evutil_make_socket_nonblocking(fd) < 0)
		msg_fatal("non-blocking client socket: %m");
	tc = xmalloc(sizeof(*tc));
	tc->fd = fd;
	tc->bev = bufferevent_socket_new(multi_server_base(), fd, 0);
	if (tc->bev == NULL)
		msg_fatal("cannot create a bufferevent");
	test_clients++;
	bufferevent_setcb(tc->bev, test_read, NULL, test_event, tc);
	if (bufferevent_enable(tc->bev, EV_READ | EV_WRITE) < 0
	    || evbuffer_add_printf(bufferevent_get_output(tc->bev),
	    "ready multi pid=%ld clients=%d\n", (long)getpid(),
	    test_clients) < 0)
		msg_fatal("cannot set up client %d", fd);
}

static const struct multi_server_spec test_spec = {
	.name = "test-multi",
	.accept = test_accept,
};

int
main(int argc, char **argv)
{
	return multi_server_main(argc, argv, &test_spec);
}
