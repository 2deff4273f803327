/*
 * test_dict_proxy.c - unit tests for dict_proxy.c
 *
 * Table-driven tests of the approved-table list (dict_proxy_split_maps,
 * dict_proxy_listed), then the client against a scripted fake proxymap
 * that a child process runs on private/proxymap and private/proxywrite
 * in a temporary queue_directory. The fake server answers by key:
 *	found		status 0, value "<service>:<table>"
 *	missing		status 1
 *	conns		status 0, value = connections accepted so far
 *	bye		status 0, value "bye", then closes the connection
 *	hangup		closes the connection without a reply
 *	silent		never replies (the client must time out)
 *	garbage		a reply that is not an attribute message
 * and refuses to open tables whose name starts with "deny:". Updates
 * and deletes are answered with status 0 and reason "<request> <key>".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "argv.h"
#include "attr.h"
#include "buf.h"
#include "dict.h"
#include "dict_proxy.h"
#include "log.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "stream.h"
#include "testutil.h"
#include "timeutil.h"

/* ---- the approved-table list ------------------------------------- */

static const struct split_case {
	const char *label;
	const char *input;
	const char *want;		/* entries joined with '|' */
} split_cases[] = {
	{"empty", "", ""},
	{"blanks", " ,\t\n, ", ""},
	{"one", "lmdb:/etc/x", "lmdb:/etc/x"},
	{"commas and spaces", "lmdb:/a, texthash:/b ,cdb:/c\tregexp:/d",
	    "lmdb:/a|texthash:/b|cdb:/c|regexp:/d"},
	{"proxy prefix removed", "proxy:lmdb:/a proxy:mysql:/b.cf",
	    "lmdb:/a|mysql:/b.cf"},
	{"only one prefix removed", "proxy:proxy:lmdb:/a", "proxy:lmdb:/a"},
	{"inline braces keep separators", "inline:{a=b, c = d} lmdb:/x",
	    "inline:{a=b, c = d}|lmdb:/x"},
	{"nested braces", "inline:{a={x, y}, b=c},static:{ok go}",
	    "inline:{a={x, y}, b=c}|static:{ok go}"},
	{"unbalanced brace runs to the end", "inline:{a=b, c=d lmdb:/x",
	    "inline:{a=b, c=d lmdb:/x"},
	{"words without a colon skipped", "foo lmdb:/a $bar proxy: proxy:x",
	    "lmdb:/a"},
	{"leading colon skipped", ":x lmdb:/a", "lmdb:/a"},
	{"name with colons", "unix:passwd.byname pgsql:/a:b",
	    "unix:passwd.byname|pgsql:/a:b"},
};

static void
test_split(void **state)
{
	struct buf got;
	struct argv *maps;
	size_t i, j;

	(void)state;
	buf_init(&got, 128);
	for (i = 0; i < NELEM(split_cases); i++) {
		const struct split_case *c = &split_cases[i];

		maps = dict_proxy_split_maps(c->input);
		buf_reset(&got);
		for (j = 0; j < maps->argc; j++)
			buf_printf(&got, "%s%s", j ? "|" : "", maps->argv[j]);
		CHECK_STR(got.data, c->want, c->label);
		argv_free(maps);
	}
	buf_fini(&got);
}

static const struct listed_case {
	const char *label;
	const char *table;
	bool want;
} listed_cases[] = {
	{"plain entry", "lmdb:/etc/a", true},
	{"entry written with proxy:", "mysql:/etc/b.cf", true},
	{"inline as written", "inline:{a=b, c=d}", true},
	{"inline spaced differently", "inline:{a=b,c=d}", false},
	{"alias not equal (compared as written)", "hash:/etc/a", false},
	{"prefix of an entry", "lmdb:/etc", false},
	{"longer than an entry", "lmdb:/etc/a2", false},
	{"proxy: itself not listed", "proxy:lmdb:/etc/a", false},
	{"empty", "", false},
};

static void
test_listed(void **state)
{
	struct argv *maps;
	size_t i;

	(void)state;
	maps = dict_proxy_split_maps("lmdb:/etc/a, proxy:mysql:/etc/b.cf "
	    "inline:{a=b, c=d}");
	for (i = 0; i < NELEM(listed_cases); i++)
		CHECK(dict_proxy_listed(maps, listed_cases[i].table)
		    == listed_cases[i].want, listed_cases[i].label);
	argv_free(maps);
}

/* ---- the fake proxymap ------------------------------------------- */

struct fixture {
	char dir[64];
	struct buf queue;
	pid_t server;
};

#define FAKE_MAX_CONN	64

static int
fake_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		_exit(2);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
	    || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
	    || listen(fd, 16) < 0)
		_exit(2);
	return fd;
}

static int
fake_send(struct stream *s, int status, const char *reason,
    const char *value)
{
	if (value)
		return attr_send(s, A_NUM(ATTR_STATUS, status),
		    A_STR(ATTR_REASON, reason), A_STR(ATTR_VALUE, value),
		    A_END);
	return attr_send(s, A_NUM(ATTR_STATUS, status),
	    A_STR(ATTR_REASON, reason), A_END);
}

/* One request on s; -1 closes the connection. */
static int
fake_serve(struct stream *s, const char *service, int conns)
{
	struct attr_list list;
	const struct buf *req, *table, *key;
	struct buf text;
	int ret = 0;

	attr_list_init(&list);
	buf_init(&text, 64);
	if (attr_recv_message(s, &list) < 0
	    || (req = attr_list_get(&list, ATTR_REQUEST)) == NULL
	    || (table = attr_list_get(&list, ATTR_TABLE)) == NULL) {
		ret = -1;
		goto out;
	}
	key = attr_list_get(&list, ATTR_KEY);
	if (strcmp(req->data, PROXY_REQ_OPEN) == 0) {
		if (strncmp(table->data, "deny:", 5) == 0) {
			buf_printf(&text, "%s: table %s is not approved for "
			    "proxy read access", service, table->data);
			ret = fake_send(s, PROXY_STAT_DENY, text.data, NULL);
		} else if (strncmp(table->data, "fail:", 5) == 0) {
			ret = fake_send(s, PROXY_STAT_TEMPFAIL, "cannot open",
			    NULL);
		} else {
			ret = fake_send(s, PROXY_STAT_OK, "", NULL);
		}
	} else if (strcmp(req->data, PROXY_REQ_LOOKUP) == 0 && key) {
		if (strcmp(key->data, "found") == 0) {
			buf_printf(&text, "%s:%s", service, table->data);
			ret = fake_send(s, PROXY_STAT_OK, "", text.data);
		} else if (strcmp(key->data, "missing") == 0) {
			ret = fake_send(s, PROXY_STAT_NOTFOUND, "", "");
		} else if (strcmp(key->data, "conns") == 0) {
			buf_printf(&text, "%d", conns);
			ret = fake_send(s, PROXY_STAT_OK, "", text.data);
		} else if (strcmp(key->data, "bye") == 0) {
			(void)fake_send(s, PROXY_STAT_OK, "", "bye");
			ret = -1;
		} else if (strcmp(key->data, "hangup") == 0) {
			ret = -1;
		} else if (strcmp(key->data, "silent") == 0) {
			ret = 0;
		} else if (strcmp(key->data, "garbage") == 0) {
			(void)stream_puts(s, "hello, world\n");
			(void)stream_flush(s);
			ret = 0;
		} else if (strcmp(key->data, "tempfail") == 0) {
			ret = fake_send(s, PROXY_STAT_TEMPFAIL,
			    "db down\x01", "");
		} else {
			ret = fake_send(s, 42, "", "");
		}
	} else if (key) {
		buf_printf(&text, "%s %s", req->data, key->data);
		ret = fake_send(s, PROXY_STAT_OK, text.data, NULL);
	} else {
		ret = -1;
	}
out:
	attr_list_fini(&list);
	buf_fini(&text);
	return ret;
}

static _Noreturn void
fake_server(const char *queue)
{
	struct pollfd pfd[2 + FAKE_MAX_CONN];
	struct stream *conn[FAKE_MAX_CONN] = {0};
	const char *svc[FAKE_MAX_CONN] = {0};
	struct buf path;
	int nconn = 0, accepted = 0, i, n, fd;

	buf_init(&path, 128);
	buf_printf(&path, "%s/private/%s", queue, PROXY_SERVICE_READ);
	pfd[0].fd = fake_listen(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/private/%s", queue, PROXY_SERVICE_WRITE);
	pfd[1].fd = fake_listen(path.data);
	/* Ready: the parent waits for this byte. */
	if (write(STDOUT_FILENO, "r", 1) != 1)
		_exit(2);
	for (;;) {
		for (i = 0; i < 2 + nconn; i++)
			pfd[i].events = POLLIN;
		if (poll(pfd, (nfds_t)(2 + nconn), -1) < 0)
			_exit(2);
		for (i = 0; i < 2; i++) {
			if ((pfd[i].revents & POLLIN) && nconn < FAKE_MAX_CONN
			    && (fd = accept(pfd[i].fd, NULL, NULL)) >= 0) {
				conn[nconn] = stream_new(fd);
				svc[nconn] = i ? PROXY_SERVICE_WRITE
				    : PROXY_SERVICE_READ;
				pfd[2 + nconn].fd = fd;
				pfd[2 + nconn].revents = 0;
				nconn++;
				accepted++;
			}
		}
		for (n = 0; n < nconn; n++) {
			if (!(pfd[2 + n].revents & (POLLIN | POLLHUP)))
				continue;
			pfd[2 + n].revents = 0;
			if (fake_serve(conn[n], svc[n], accepted) < 0) {
				stream_free(conn[n]);
				nconn--;
				conn[n] = conn[nconn];
				svc[n] = svc[nconn];
				pfd[2 + n] = pfd[2 + nconn];
				n--;
			}
		}
	}
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf priv;
	int pipefd[2];
	char ch;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_dict_proxy.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	buf_init(&f->queue, 64);
	buf_printf(&f->queue, "%s/queue", f->dir);
	assert_int_equal(mkdir(f->queue.data, 0700), 0);
	buf_init(&priv, 64);
	buf_printf(&priv, "%s/private", f->queue.data);
	assert_int_equal(mkdir(priv.data, 0700), 0);
	buf_fini(&priv);
	var_queue_directory = f->queue.data;
	var_ipc_timeout = 5;
	var_ipc_idle = 100;
	mail_dict_init();
	mail_dict_init();		/* harmless twice */

	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	f->server = fork();
	assert_true(f->server >= 0);
	if (f->server == 0) {
		close(pipefd[0]);
		if (dup2(pipefd[1], STDOUT_FILENO) < 0)
			_exit(2);
		fake_server(f->queue.data);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &ch, 1), 1);
	close(pipefd[0]);
	*state = f;
	return 0;
}

static void
rm_queue(struct fixture *f)
{
	struct buf path;

	buf_init(&path, 128);
	buf_printf(&path, "%s/private/%s", f->queue.data, PROXY_SERVICE_READ);
	(void)unlink(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/private/%s", f->queue.data, PROXY_SERVICE_WRITE);
	(void)unlink(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/private", f->queue.data);
	(void)rmdir(path.data);
	buf_fini(&path);
	(void)rmdir(f->queue.data);
	(void)rmdir(f->dir);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int status;

	if (f->server > 0) {
		kill(f->server, SIGKILL);
		waitpid(f->server, &status, 0);
	}
	rm_queue(f);
	buf_fini(&f->queue);
	free(f);
	return 0;
}

/* Look up key; returns the result, value in *value. */
static enum dict_result
look(struct dict *d, const char *key, struct buf *value)
{
	enum dict_result rc;
	char *log;

	capture_start();
	rc = dict_lookup(d, key, value);
	log = capture_end();
	free(log);
	return rc;
}

static const struct lookup_case {
	const char *label;
	const char *key;
	enum dict_result want;
	const char *value;		/* or the error, for TEMPFAIL */
} lookup_cases[] = {
	{"found", "found", DICT_FOUND, "proxymap:lmdb:/etc/x"},
	{"not found", "missing", DICT_NOTFOUND, ""},
	{"server tempfail, reason made printable", "tempfail",
	    DICT_TEMPFAIL, "db down?"},
	{"unknown status", "whatever", DICT_TEMPFAIL,
	    "proxymap: table lmdb:/etc/x: unexpected status 42"},
	{"same connection still works", "found", DICT_FOUND,
	    "proxymap:lmdb:/etc/x"},
	{"one connection for all of these", "conns", DICT_FOUND, "1"},
	{"server closes after reply", "bye", DICT_FOUND, "bye"},
	{"broken connection: reconnect once", "conns", DICT_FOUND, "2"},
	{"hang-up without reply: retried once, then failure", "hangup",
	    DICT_TEMPFAIL, "table proxy:lmdb:/etc/x: lost connection to the "
	    "proxymap service"},
	{"after a failure, a new connection", "conns", DICT_FOUND, "4"},
	{"garbage reply", "garbage", DICT_TEMPFAIL, "table proxy:lmdb:/etc/x: "
	    "malformed reply from the proxymap service"},
	{"garbage does not poison the next request", "found", DICT_FOUND,
	    "proxymap:lmdb:/etc/x"},
};

static void
test_lookup(void **state)
{
	struct buf value;
	struct dict *d;
	size_t i;

	(void)state;
	buf_init(&value, 64);
	d = dict_open("proxy:lmdb:/etc/x", O_RDONLY, 0);
	assert_false(dict_is_surrogate(d));
	for (i = 0; i < NELEM(lookup_cases); i++) {
		const struct lookup_case *c = &lookup_cases[i];
		enum dict_result rc = look(d, c->key, &value);

		if (rc != c->want)
			fail_msg("case \"%s\": result %d, want %d (%s)",
			    c->label, rc, c->want, dict_error(d));
		if (rc == DICT_TEMPFAIL) {
			if (strncmp(dict_error(d), c->value,
			    strlen(c->value)) != 0)
				fail_msg("case \"%s\": error \"%s\", want "
				    "\"%s...\"", c->label, dict_error(d),
				    c->value);
		} else {
			CHECK_STR(value.data, c->value, c->label);
		}
	}
	dict_close(d);
	buf_fini(&value);
}

static void
test_timeout(void **state)
{
	struct buf value;
	struct dict *d;
	uint64_t t0;

	(void)state;
	buf_init(&value, 64);
	var_ipc_timeout = 1;
	d = dict_open("proxy:lmdb:/etc/slow", O_RDONLY, 0);
	t0 = time_mono_ms();
	assert_int_equal(look(d, "silent", &value), DICT_TEMPFAIL);
	/* Not retried: one timeout, not two. */
	assert_true(time_mono_ms() - t0 < 1900);
	assert_non_null(strstr(dict_error(d), "timeout after 1 seconds"));
	assert_int_equal(look(d, "found", &value), DICT_FOUND);
	dict_close(d);
	buf_fini(&value);
}

static void
test_idle(void **state)
{
	struct buf value, before;
	struct dict *d;

	(void)state;
	buf_init(&value, 64);
	buf_init(&before, 64);
	var_ipc_idle = 1;
	d = dict_open("proxy:lmdb:/etc/idle", O_RDONLY, 0);
	assert_int_equal(look(d, "conns", &before), DICT_FOUND);
	assert_int_equal(look(d, "conns", &value), DICT_FOUND);
	CHECK_STR(value.data, before.data, "no reconnect while busy");
	time_sleep_ms(1100);
	assert_int_equal(look(d, "conns", &value), DICT_FOUND);
	assert_int_equal(atoi(value.data), atoi(before.data) + 1);
	dict_close(d);
	buf_fini(&value);
	buf_fini(&before);
}

static void
test_open_refused(void **state)
{
	struct buf value;
	struct dict *d;
	char *log;
	const char *want = "table proxy:deny:/etc/x: proxymap: table "
	    "deny:/etc/x is not approved for proxy read access";

	(void)state;
	buf_init(&value, 64);
	capture_start();
	d = dict_open("proxy:deny:/etc/x", O_RDONLY, 0);
	log = capture_end();
	/* Logged once by dict_open, then answered by a surrogate. */
	assert_non_null(strstr(log, want));
	free(log);
	assert_true(dict_is_surrogate(d));
	assert_int_equal(look(d, "found", &value), DICT_TEMPFAIL);
	CHECK_STR(dict_error(d), want, "surrogate reason");
	dict_close(d);

	/* A table the server cannot open yet stays a proxy table. */
	d = dict_open("proxy:fail:/etc/x", O_RDONLY, 0);
	assert_false(dict_is_surrogate(d));
	assert_int_equal(look(d, "found", &value), DICT_FOUND);
	dict_close(d);
	buf_fini(&value);
}

static const struct bad_name_case {
	const char *label;
	const char *name;
	int open_flags;
	int dict_flags;
	const char *why;
} bad_name_cases[] = {
	{"no type", "proxy:nocolon", O_RDONLY, 0,
	    "table proxy:nocolon: expected proxy:type:name"},
	{"empty type", "proxy::x", O_RDONLY, 0,
	    "table proxy::x: expected proxy:type:name"},
	{"nested in proxymap", "proxy:lmdb:/x", O_RDONLY, DICT_FLAG_NO_PROXY,
	    "table proxy:lmdb:/x: a proxy table cannot be served by "
	    "proxymap"},
	{"create", "proxy:lmdb:/x", O_RDWR | O_CREAT | O_TRUNC, 0,
	    "table proxy:lmdb:/x: cannot create a table through proxymap"},
};

static void
test_bad_names(void **state)
{
	struct buf why;
	struct dict *d;
	size_t i;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(bad_name_cases); i++) {
		const struct bad_name_case *c = &bad_name_cases[i];

		d = dict_open_strict(c->name, c->open_flags, c->dict_flags,
		    &why);
		if (d != NULL)
			fail_msg("case \"%s\": opened", c->label);
		CHECK_STR(why.data, c->why, c->label);
	}
	buf_fini(&why);
}

static void
test_write(void **state)
{
	struct buf value;
	struct dict *d;

	(void)state;
	buf_init(&value, 64);
	d = dict_open("proxy:lmdb:/etc/w", O_RDWR | O_CREAT, 0);
	assert_false(dict_is_surrogate(d));
	assert_int_equal(look(d, "found", &value), DICT_FOUND);
	CHECK_STR(value.data, "proxywrite:lmdb:/etc/w", "write service");
	assert_int_equal(dict_update(d, "k", "v"), DICT_FOUND);
	assert_int_equal(dict_delete(d, "k"), DICT_FOUND);
	dict_close(d);
	buf_fini(&value);
}

static void
test_unreachable(void **state)
{
	struct fixture *f = *state;
	struct buf value;
	struct dict *d;
	int status;

	buf_init(&value, 64);
	kill(f->server, SIGKILL);
	waitpid(f->server, &status, 0);
	f->server = 0;
	rm_queue(f);
	/* Opening works; every request fails until proxymap is there. */
	d = dict_open("proxy:lmdb:/etc/gone", O_RDONLY, 0);
	assert_false(dict_is_surrogate(d));
	assert_int_equal(look(d, "found", &value), DICT_TEMPFAIL);
	assert_non_null(strstr(dict_error(d), "table proxy:lmdb:/etc/gone: "
	    "cannot connect to the proxymap service ("));
	assert_non_null(strstr(dict_error(d), "No such file or directory"));
	dict_close(d);
	buf_fini(&value);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_listed),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_dict_proxy");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
