/*
 * test_trigger.c - unit tests for trigger.c and unix_connect.c
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "trigger.h"
#include "unix_connect.h"

static char dir[] = "/tmp/petrel-test-trigger-XXXXXX";
static char path[256];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
listen_at(const char *p)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_true(strlen(p) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, p, strlen(p) + 1);
	unlink(p);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 5), 0);
	return fd;
}

static void
test_fifo(void **state)
{
	char buf[8];
	int rd, i;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Nobody reads: master is not running. */
	assert_int_equal(trigger_send(path, "W", 1), -1);
	assert_int_equal(errno, ENXIO);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_int_equal(trigger_send(path, "W", 1), 0);
	assert_int_equal(read(rd, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'W');
	/* A full fifo still counts: a request is pending anyway. */
	for (i = 0; i < 70000; i++)
		if (trigger_send(path, "W", 1) < 0)
			fail_msg("send %d into a full fifo: %s", i,
			    strerror(errno));
	close(rd);
}

static void
test_socket(void **state)
{
	char buf[8];
	int lfd, cfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/sock", dir);
	lfd = listen_at(path);
	assert_int_equal(trigger_send(path, "F", 1), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(read(cfd, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'F');
	close(cfd);
	close(lfd);
	/* The socket file without a listener. */
	assert_int_equal(trigger_send(path, "F", 1), -1);
	assert_int_equal(errno, ECONNREFUSED);
}

static void
test_errors(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(trigger_send(path, "W", 1), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(path, sizeof(path), "%s/plain", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(trigger_send(path, "W", 1), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_unix_connect(void **state)
{
	char longpath[200];
	int lfd, fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/conn", dir);
	lfd = listen_at(path);
	fd = unix_connect(path, 1000, 0);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fd = unix_connect(path, 0, SOCK_NONBLOCK);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	close(lfd);
	assert_int_equal(unix_connect(path, 1000, 0), -1);
	assert_int_equal(errno, ECONNREFUSED);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(unix_connect(longpath, 0, 0), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unix_connect),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
