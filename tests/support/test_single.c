/*
 * test_single.c - test-single, a single-server for the integration tests
 *
 * Run by master like any daemon (master.cf command "test-single").
 * Arguments: "tag=XXX" is echoed in the greeting; "fail-start" makes
 * post_init exit(1) and "crash-start" makes it abort(), for tests of
 * master's throttling; "map=TYPE:NAME" opens that table in pre_init
 * (before privileges drop), as a daemon opens its tables. On each
 * connection it writes
 *
 *	ready service=S tag=T pid=P uid=U gid=G root_ino=I args=N
 *
 * (root_ino is the inode of "/", which shows a chroot; N counts the
 * arguments) and then answers one command per line: "ping" -> "pong
 * <pid>", "sleep N" -> "slept" after N seconds, "crash" -> abort(),
 * "exit N" -> exit(N), "lookup TYPE:NAME KEY" -> "found <value>",
 * "notfound" or "tempfail <reason>", "quit" or end-of-file -> done.
 * Anything else gets "unknown command". After each client it logs
 * "served client <n>". Tables are opened with DICT_FLAG_FOLD and stay
 * open: a lookup in a table that map= or an earlier lookup opened uses
 * the same shared object, loaded when it was first opened.
 *
 * SECURITY: test code, but it still reads with a line limit and timeout.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dict.h"
#include "msg.h"
#include "server.h"
#include "str.h"
#include "stream.h"
#include "timeutil.h"

#define TEST_LINE_LIMIT		1000
#define TEST_TIMEOUT_MS		60000
#define TEST_SLEEP_MAX		86400

static const char *test_tag = "none";
static int test_served;

/* Open a table for good (the process cache shares it). */
static struct dict *
test_open_map(const char *type_name)
{
	struct dict *d = dict_open(type_name, O_RDONLY, DICT_FLAG_FOLD);

	/* Already open: drop the extra reference, the first one stays. */
	if (d->refcount > 1)
		dict_close(d);
	return d;
}

static void
test_pre_init(const char *service, char **argv)
{
	(void)service;
	for (; *argv != NULL; argv++)
		if (str_has_prefix(*argv, "map="))
			(void)test_open_map(*argv + 4);
}

/* "lookup TYPE:NAME KEY" */
static bool
test_lookup(struct stream *s, char *args)
{
	struct buf value;
	struct dict *d;
	char *key;
	int rc;

	if ((key = strchr(args, ' ')) == NULL)
		return stream_puts(s, "unknown command\n") == 0;
	*key++ = 0;
	d = test_open_map(args);
	buf_init(&value, 64);
	switch (dict_lookup(d, key, &value)) {
	case DICT_FOUND:
		rc = stream_printf(s, "found %s\n", value.data);
		break;
	case DICT_NOTFOUND:
		rc = stream_puts(s, "notfound\n");
		break;
	default:
		rc = stream_printf(s, "tempfail %s\n", dict_error(d));
		break;
	}
	buf_fini(&value);
	return rc == 0;
}

static void
test_post_init(const char *service, char **argv)
{
	(void)service;
	for (; *argv != NULL; argv++) {
		if (str_has_prefix(*argv, "tag="))
			test_tag = *argv + 4;
		else if (strcmp(*argv, "fail-start") == 0)
			exit(1);
		else if (strcmp(*argv, "crash-start") == 0)
			abort();
	}
}

/* One command; false ends the session. */
static bool
test_command(struct stream *s, char *line)
{
	int n;

	if (strcmp(line, "ping") == 0)
		return stream_printf(s, "pong %ld\n", (long)getpid()) == 0;
	if (strcmp(line, "quit") == 0)
		return false;
	if (strcmp(line, "crash") == 0)
		abort();
	if (str_has_prefix(line, "lookup "))
		return test_lookup(s, line + 7);
	if (str_has_prefix(line, "exit ") && str_to_int(line + 5, &n) == 0) {
		(void)stream_flush(s);
		exit(n);
	}
	if (str_has_prefix(line, "sleep ") && str_to_int(line + 6, &n) == 0
	    && n >= 0 && n <= TEST_SLEEP_MAX) {
		/* Resumes after signals: a SIGHUP must not cut it short. */
		time_sleep_ms((unsigned)n * 1000);
		return stream_puts(s, "slept\n") == 0;
	}
	return stream_puts(s, "unknown command\n") == 0;
}

static void
test_service(int fd, const char *service, char **argv)
{
	struct stream *s = stream_new(fd);
	struct buf line;
	struct stat st;
	int argc;

	for (argc = 0; argv[argc] != NULL; argc++)
		continue;
	if (stat("/", &st) < 0)
		msg_fatal("stat /: %m");
	stream_set_timeout(s, TEST_TIMEOUT_MS);
	buf_init(&line, 128);
	if (stream_printf(s, "ready service=%s tag=%s pid=%ld uid=%ld gid=%ld "
	    "root_ino=%lu args=%d\n", service, test_tag, (long)getpid(),
	    (long)getuid(), (long)getgid(), (unsigned long)st.st_ino, argc) < 0
	    || stream_flush(s) < 0)
		goto out;
	for (;;) {
		buf_reset(&line);
		if (stream_get_line(s, &line, TEST_LINE_LIMIT) < 0)
			break;
		while (line.len > 0 && (line.data[line.len - 1] == '\n'
		    || line.data[line.len - 1] == '\r'))
			buf_truncate(&line, line.len - 1);
		if (!test_command(s, line.data) || stream_flush(s) < 0)
			break;
	}
out:
	msg_info("served client %d", ++test_served);
	buf_fini(&line);
	(void)stream_release(s);	/* the skeleton closes fd */
}

static const struct single_server_spec test_spec = {
	.name = "test-single",
	.service = test_service,
	.pre_init = test_pre_init,
	.post_init = test_post_init,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &test_spec);
}
