/*
 * test_deliver_request.c - unit tests for deliver_request.c
 *
 * Each case runs in a fresh temporary queue directory (the current
 * directory, as in a daemon) holding one queue file in active/ with
 * three recipients, the second of them with NOTIFY=SUCCESS and the
 * third already done. A request is written into one end of a
 * socketpair with deliver_request_encode(); the agent side reads it
 * from the other end, records outcomes and finishes, and the reply is
 * checked with deliver_reply_parse(), as qmgr does.
 *
 * Covered: the request round trip; outcomes to the bounce/defer/trace
 * logs and the done marking in the file; a recipient done before is
 * answered DONE without delivery; a recipient without an outcome is
 * deferred; passed addresses (DELIVER_FLAG_PASS marks nothing); the
 * next hop deliver_pass() sends (given, or the request's own) to a fake
 * agent in a child process; and a table of malformed requests (bad
 * names, offsets that are not RCPT records, duplicates, unknown
 * attributes, a missing or corrupt queue file) with the status each
 * must get.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attr.h"
#include "bounce_log.h"
#include "buf.h"
#include "deliver_request.h"
#include "msg.h"
#include "params.h"
#include "qfile.h"
#include "queue_id.h"
#include "rec.h"
#include "stream.h"

static char test_id[QUEUE_ID_MAX + 1];
static off_t test_offsets[3];
static const char *const test_rcpts[] = {
	"alice@example.com", "bob@example.com", "carol@example.com",
};

/* Write active/<id>: three recipients, the last one done. */
static void
write_queue_file(void)
{
	struct buf file, size, id;
	long mesg, xtra;
	int fd, i;

	buf_init(&file, 512);
	buf_init(&size, 64);
	buf_init(&id, 32);
	queue_id_make(&id, 1700000000, 123456, 4242);
	memcpy(test_id, id.data, id.len + 1);
	buf_printf(&size, "%*d %*d %*d %*d", REC_SIZE_WIDTH, 0,
	    REC_SIZE_WIDTH, 0, REC_SIZE_WIDTH, 0, REC_SIZE_WIDTH, 0);
	rec_encode(&file, REC_TYPE_SIZE, size.data, size.len);
	rec_encode(&file, REC_TYPE_TIME, BYTES("1700000000 123456"));
	rec_encode(&file, REC_TYPE_FROM, BYTES("sender@example.com"));
	for (i = 0; i < 3; i++) {
		if (i == 1)
			rec_encode(&file, REC_TYPE_NOTIFY, BYTES("2"));
		test_offsets[i] = (off_t)file.len;
		rec_encode(&file, i == 2 ? REC_TYPE_DONE : REC_TYPE_RCPT,
		    test_rcpts[i], strlen(test_rcpts[i]));
	}
	mesg = (long)file.len;
	rec_encode(&file, REC_TYPE_MESG, "", 0);
	rec_encode(&file, REC_TYPE_NORM, BYTES("Subject: test"));
	rec_encode(&file, REC_TYPE_NORM, "", 0);
	rec_encode(&file, REC_TYPE_NORM, BYTES("hello"));
	xtra = (long)file.len;
	rec_encode(&file, REC_TYPE_XTRA, "", 0);
	rec_encode(&file, REC_TYPE_END, "", 0);
	buf_reset(&size);
	buf_printf(&size, "%*ld %*ld %*d %*d", REC_SIZE_WIDTH, mesg,
	    REC_SIZE_WIDTH, xtra - (mesg + 2), REC_SIZE_WIDTH, 3,
	    REC_SIZE_WIDTH, 0);
	memcpy(file.data + 2, size.data, size.len);
	fd = open("active/file", O_CREAT | O_WRONLY | O_TRUNC, 0700);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, file.data, file.len), (ssize_t)file.len);
	assert_int_equal(close(fd), 0);
	buf_reset(&id);
	buf_printf(&id, "active/%s", test_id);
	assert_int_equal(rename("active/file", id.data), 0);
	buf_fini(&file);
	buf_fini(&size);
	buf_fini(&id);
}

static int
setup(void **state)
{
	static const char *const queues[] = {"active", "bounce", "defer",
	    "trace", NULL};

	if (scratch_enter((struct scratch **)state, "test_deliver_request",
	    queues) < 0)
		return -1;
	write_queue_file();
	return 0;
}

static int
teardown(void **state)
{
	return scratch_leave(*state);
}

/* Send raw request bytes; returns the agent's end as a stream. */
static struct stream *
send_raw(const struct buf *req, int *client)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], req->data, req->len),
	    (ssize_t)req->len);
	*client = sv[0];
	return stream_new(sv[1]);
}

static struct stream *
send_request(int flags, const off_t *offs, size_t n,
    const char *const *addrs, int *client)
{
	struct timeval qt = {1, 500000};
	struct buf req;
	struct stream *s;

	buf_init(&req, 256);
	deliver_request_encode(&req, flags, "active", test_id, "example.com",
	    offs, n, &qt, addrs);
	s = send_raw(&req, client);
	buf_fini(&req);
	return s;
}

/* Read the agent's reply on the client end. */
static void
get_reply(int client, size_t n, int *status, struct buf *results,
    struct buf *reason)
{
	struct stream *s = stream_new(client);
	struct attr_list list;
	struct buf why;

	attr_list_init(&list);
	buf_init(&why, 64);
	assert_int_equal(attr_recv_message(s, &list), 0);
	if (deliver_reply_parse(&list, n, status, results, reason, &why) < 0)
		fail_msg("reply: %s", why.data);
	attr_list_fini(&list);
	buf_fini(&why);
	stream_free(s);
}

/* The type byte of recipient i in the queue file. */
static int
rcpt_type(int i)
{
	struct buf path;
	char ch = 0;
	int fd;

	buf_init(&path, 64);
	buf_printf(&path, "active/%s", test_id);
	fd = open(path.data, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &ch, 1, test_offsets[i]), 1);
	close(fd);
	buf_fini(&path);
	return ch;
}

static size_t
log_entries(const char *queue)
{
	struct bounce_log_entry *e;
	size_t n;

	assert_int_equal(bounce_log_read_all(queue, test_id, &e, &n), 0);
	bounce_log_free_all(e, n);
	return n;
}

static void
test_outcomes(void **state)
{
	const off_t offs[] = {test_offsets[0], test_offsets[1],
	    test_offsets[2]};
	struct deliver_request *req;
	struct buf results, reason;
	struct stream *s;
	int client, status;

	(void)state;
	buf_init(&results, 8);
	buf_init(&reason, 8);
	s = send_request(0, offs, 3, NULL, &client);
	req = deliver_request_read(s, "test");
	assert_non_null(req);
	/* carol was done before: not handed out again. */
	assert_int_equal(req->count, 2);
	assert_string_equal(req->rcpts[0].addr, "alice@example.com");
	assert_string_equal(req->rcpts[1].addr, "bob@example.com");
	assert_int_equal(deliver_status(req, 0, DELIVER_DEFER, NULL, "4.2.0",
	    "mailbox busy"), 0);
	assert_int_equal(deliver_status(req, 1, DELIVER_SENT, NULL, "2.0.0",
	    "delivered to maildir"), 0);
	assert_int_equal(deliver_request_finish(s, req), 0);
	stream_free(s);
	get_reply(client, 3, &status, &results, &reason);
	assert_int_equal(status, DELIVER_STAT_OK);
	assert_string_equal(results.data, "RDD");
	assert_int_equal(rcpt_type(0), REC_TYPE_RCPT);
	assert_int_equal(rcpt_type(1), REC_TYPE_DONE);
	assert_int_equal(log_entries("defer"), 1);	/* alice */
	assert_int_equal(log_entries("trace"), 1);	/* bob: NOTIFY=SUCCESS */
	assert_int_equal(log_entries("bounce"), 0);

	/* A bounce is logged and marked; no outcome at all defers. */
	s = send_request(0, offs, 1, NULL, &client);
	req = deliver_request_read(s, "test");
	assert_non_null(req);
	assert_int_equal(deliver_status(req, 0, DELIVER_BOUNCE,
	    "alias@example.com", "5.1.1", "unknown user"), 0);
	assert_int_equal(deliver_request_finish(s, req), 0);
	stream_free(s);
	get_reply(client, 1, &status, &results, &reason);
	assert_string_equal(results.data, "D");
	assert_int_equal(rcpt_type(0), REC_TYPE_DONE);
	assert_int_equal(log_entries("bounce"), 1);
	buf_fini(&results);
	buf_fini(&reason);
}

static void
test_no_outcome_and_pass(void **state)
{
	const off_t offs[] = {test_offsets[0], test_offsets[1]};
	const char *const addrs[] = {"x@example.org", "y@example.org"};
	struct deliver_request *req;
	struct buf results, reason;
	struct stream *s;
	int client, status;

	(void)state;
	buf_init(&results, 8);
	buf_init(&reason, 8);
	s = send_request(0, offs, 1, NULL, &client);
	req = deliver_request_read(s, "test");
	assert_non_null(req);
	assert_int_equal(deliver_request_finish(s, req), 0);
	stream_free(s);
	get_reply(client, 1, &status, &results, &reason);
	assert_string_equal(results.data, "R");
	assert_int_equal(log_entries("defer"), 1);

	/* Passed: the addresses are given, nothing is marked. */
	s = send_request(DELIVER_FLAG_PASS, offs, 2, addrs, &client);
	req = deliver_request_read(s, "test");
	assert_non_null(req);
	assert_string_equal(req->rcpts[0].addr, "x@example.org");
	assert_string_equal(req->rcpts[1].addr, "y@example.org");
	assert_int_equal(deliver_status(req, 0, DELIVER_SENT, NULL, "2.0.0",
	    "delivered"), 0);
	assert_int_equal(deliver_status(req, 1, DELIVER_SENT, NULL, "2.0.0",
	    "delivered"), 0);
	/* A passed request is not passed on again. */
	assert_int_equal(deliver_pass(req, 1, "virtual", NULL,
	    "z@example.org"), DELIVER_DEFER);
	assert_int_equal(deliver_request_finish(s, req), 0);
	stream_free(s);
	get_reply(client, 2, &status, &results, &reason);
	assert_string_equal(results.data, "DR");
	assert_int_equal(rcpt_type(0), REC_TYPE_RCPT);
	assert_int_equal(rcpt_type(1), REC_TYPE_RCPT);

	/* A transport that does not exist: deferred here. */
	s = send_request(0, offs, 1, NULL, &client);
	req = deliver_request_read(s, "test");
	assert_non_null(req);
	assert_int_equal(deliver_pass(req, 0, "nonexistent", NULL,
	    "a@example.org"), DELIVER_DEFER);
	assert_int_equal(deliver_request_finish(s, req), 0);
	stream_free(s);
	get_reply(client, 1, &status, &results, &reason);
	assert_string_equal(results.data, "R");
	buf_fini(&results);
	buf_fini(&reason);
}

/*
 * A fake agent at private/fake that takes one pass request and answers
 * DONE; it exits 0 when the request carried nexthop want and the
 * address addr, 1 otherwise. Returns its process ID.
 */
static pid_t
fake_agent(const char *want, const char *addr)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const struct buf *nexthop, *addrs;
	struct attr_list list;
	struct stream *s;
	int lfd, fd, ok;
	pid_t pid;

	(void)mkdir("private", 0700);
	(void)unlink("private/fake");
	memcpy(sun.sun_path, "private/fake", sizeof("private/fake"));
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	alarm(30);			/* never outlive a failed test */
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(2);
	s = stream_new(fd);
	attr_list_init(&list);
	if (attr_recv_message(s, &list) < 0)
		_exit(2);
	nexthop = attr_list_get(&list, DELIVER_ATTR_NEXTHOP);
	addrs = attr_list_get(&list, DELIVER_ATTR_ADDRS);
	ok = nexthop != NULL && strcmp(nexthop->data, want) == 0
	    && addrs != NULL && strcmp(addrs->data, addr) == 0;
	if (attr_send(s, A_NUM(DELIVER_ATTR_STATUS, DELIVER_STAT_OK),
	    A_STR(DELIVER_ATTR_RESULTS, "D"),
	    A_STR(DELIVER_ATTR_REASON, ""), A_END) < 0)
		_exit(2);
	_exit(ok ? 0 : 1);
}

/* The next hop of a pass: the one given, or the request's own. */
static void
test_pass_nexthop(void **state)
{
	const off_t offs[] = {test_offsets[0]};
	static const struct {
		const char *label;
		const char *nexthop;	/* given to deliver_pass() */
		const char *want;	/* seen by the agent */
	} cases[] = {
		{"given", "unix:/run/dovecot/lmtp", "unix:/run/dovecot/lmtp"},
		{"domain", "example.org", "example.org"},
		{"request's own", NULL, "example.com"},
	};
	struct deliver_request *req;
	struct buf results, reason;
	struct stream *s;
	int client, status, wstatus;
	size_t i;
	pid_t pid;

	(void)state;
	buf_init(&results, 8);
	buf_init(&reason, 8);
	for (i = 0; i < NELEM(cases); i++) {
		write_queue_file();		/* alice not done yet */
		pid = fake_agent(cases[i].want, "a@example.org");
		s = send_request(0, offs, 1, NULL, &client);
		req = deliver_request_read(s, "test");
		assert_non_null(req);
		if (deliver_pass(req, 0, "fake", cases[i].nexthop,
		    "a@example.org") != DELIVER_SENT)
			fail_msg("case \"%s\": not passed", cases[i].label);
		assert_int_equal(waitpid(pid, &wstatus, 0), pid);
		if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
			fail_msg("case \"%s\": the agent did not see nexthop "
			    "\"%s\" (status %d)", cases[i].label,
			    cases[i].want, wstatus);
		assert_int_equal(deliver_request_finish(s, req), 0);
		stream_free(s);
		get_reply(client, 1, &status, &results, &reason);
		assert_string_equal(results.data, "D");
	}
	buf_fini(&results);
	buf_fini(&reason);
}

/* A command or file destination is logged under the queue recipient. */
static void
test_destination_in_reason(void **state)
{
	const off_t offs[] = {test_offsets[0]};
	struct bounce_log_entry *e;
	struct deliver_request *req;
	struct buf results, reason;
	struct stream *s;
	size_t n;
	int client, status;

	(void)state;
	buf_init(&results, 8);
	buf_init(&reason, 8);
	s = send_request(0, offs, 1, NULL, &client);
	req = deliver_request_read(s, "test");
	assert_non_null(req);
	assert_int_equal(deliver_status(req, 0, DELIVER_DEFER,
	    "|/bin/false\tx", "4.3.0", "command failed"), 0);
	assert_int_equal(deliver_request_finish(s, req), 0);
	stream_free(s);
	get_reply(client, 1, &status, &results, &reason);
	assert_string_equal(results.data, "R");
	assert_int_equal(bounce_log_read_all("defer", test_id, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].recipient, "alice@example.com");
	assert_string_equal(e[0].reason, "|/bin/false?x: command failed");
	bounce_log_free_all(e, n);
	buf_fini(&results);
	buf_fini(&reason);
}

struct bad_case {
	const char *label;
	const char *attrs;	/* name=value;... ("@ID" is the queue ID) */
	int status;
};

static const struct bad_case bad_cases[] = {
	{"bad queue name", "flags=0;queue_name=../x;queue_id=@ID;nexthop=x;"
	    "recipients=@0;queue_time=0", DELIVER_STAT_BAD},
	{"bad queue id", "flags=0;queue_name=active;queue_id=../../etc;"
	    "nexthop=x;recipients=@0;queue_time=0", DELIVER_STAT_BAD},
	{"missing file", "flags=0;queue_name=deferred;queue_id=@ID;nexthop=x;"
	    "recipients=@0;queue_time=0", DELIVER_STAT_DEFER},
	{"not a recipient", "flags=0;queue_name=active;queue_id=@ID;"
	    "nexthop=x;recipients=3;queue_time=0", DELIVER_STAT_BAD},
	{"twice", "flags=0;queue_name=active;queue_id=@ID;nexthop=x;"
	    "recipients=@0 @0;queue_time=0", DELIVER_STAT_BAD},
	{"empty list", "flags=0;queue_name=active;queue_id=@ID;nexthop=x;"
	    "recipients=;queue_time=0", DELIVER_STAT_BAD},
	{"double space", "flags=0;queue_name=active;queue_id=@ID;nexthop=x;"
	    "recipients=@0  @1;queue_time=0", DELIVER_STAT_BAD},
	{"unknown attr", "flags=0;queue_name=active;queue_id=@ID;nexthop=x;"
	    "recipients=@0;queue_time=0;bogus=1", DELIVER_STAT_BAD},
	{"missing attr", "flags=0;queue_name=active;queue_id=@ID;nexthop=x;"
	    "recipients=@0", DELIVER_STAT_BAD},
	{"unknown flag", "flags=8;queue_name=active;queue_id=@ID;nexthop=x;"
	    "recipients=@0;queue_time=0", DELIVER_STAT_BAD},
	{"pass without addresses", "flags=1;queue_name=active;queue_id=@ID;"
	    "nexthop=x;recipients=@0;queue_time=0", DELIVER_STAT_BAD},
	{"addresses without pass", "flags=0;queue_name=active;queue_id=@ID;"
	    "nexthop=x;recipients=@0;queue_time=0;addresses=a@b",
	    DELIVER_STAT_BAD},
	{"too many addresses", "flags=1;queue_name=active;queue_id=@ID;"
	    "nexthop=x;recipients=@0;queue_time=0;addresses=a@b\nc@d",
	    DELIVER_STAT_BAD},
	{"bad queue time", "flags=0;queue_name=active;queue_id=@ID;"
	    "nexthop=x;recipients=@0;queue_time=1.x", DELIVER_STAT_BAD},
};

/*
 * Encode "name=value;..." with @ID (the queue ID) and @0 @1 @2 (the
 * offsets of the recipients); any other '@' is itself.
 */
static void
encode_case(struct buf *out, const char *spec)
{
	struct attr_spec attrs[12];
	struct buf names[12], values[12];
	const char *cp = spec, *eq, *end;
	size_t n = 0, i;

	while (*cp) {
		end = strchr(cp, ';');
		if (end == NULL)
			end = cp + strlen(cp);
		eq = memchr(cp, '=', (size_t)(end - cp));
		assert_non_null(eq);
		buf_init(&names[n], 16);
		buf_init(&values[n], 16);
		buf_setn(&names[n], cp, (size_t)(eq - cp));
		for (eq++; eq < end; eq++) {
			if (*eq == '@' && strncmp(eq, "@ID", 3) == 0) {
				buf_puts(&values[n], test_id);
				eq += 2;
			} else if (*eq == '@' && eq[1] >= '0' && eq[1] <= '2') {
				eq++;
				buf_printf(&values[n], "%lld",
				    (long long)test_offsets[*eq - '0']);
			} else {
				buf_putc(&values[n], *eq);
			}
		}
		attrs[n] = (struct attr_spec)A_STR(names[n].data,
		    values[n].data);
		n++;
		cp = *end ? end + 1 : end;
	}
	attrs[n] = (struct attr_spec)A_END;
	attr_encode(out, attrs);
	for (i = 0; i < n; i++) {
		buf_fini(&names[i]);
		buf_fini(&values[i]);
	}
}

static void
test_bad_requests(void **state)
{
	struct buf req, results, reason;
	struct stream *s;
	size_t i;
	int client, status;

	(void)state;
	buf_init(&req, 256);
	buf_init(&results, 8);
	buf_init(&reason, 64);
	for (i = 0; i < NELEM(bad_cases); i++) {
		buf_reset(&req);
		encode_case(&req, bad_cases[i].attrs);
		s = send_raw(&req, &client);
		capture_start();
		if (deliver_request_read(s, "test") != NULL)
			fail_msg("case \"%s\": accepted", bad_cases[i].label);
		free(capture_end());
		stream_free(s);
		get_reply(client, 0, &status, &results, &reason);
		if (status != bad_cases[i].status)
			fail_msg("case \"%s\": status %d, want %d (%s)",
			    bad_cases[i].label, status, bad_cases[i].status,
			    reason.data);
		if (reason.len == 0)
			fail_msg("case \"%s\": no reason", bad_cases[i].label);
	}
	buf_fini(&req);
	buf_fini(&results);
	buf_fini(&reason);
}

static void
test_corrupt_file(void **state)
{
	const off_t offs[] = {test_offsets[0]};
	struct buf path, results, reason;
	struct stream *s;
	int client, status, fd;

	(void)state;
	buf_init(&path, 64);
	buf_init(&results, 8);
	buf_init(&reason, 64);
	buf_printf(&path, "active/%s", test_id);
	fd = open(path.data, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "Z", 1, 0), 1);	/* not a SIZE record */
	close(fd);
	s = send_request(0, offs, 1, NULL, &client);
	capture_start();
	assert_null(deliver_request_read(s, "test"));
	free(capture_end());
	stream_free(s);
	get_reply(client, 0, &status, &results, &reason);
	assert_int_equal(status, DELIVER_STAT_CORRUPT);
	buf_fini(&path);
	buf_fini(&results);
	buf_fini(&reason);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outcomes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_outcome_and_pass,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_nexthop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_destination_in_reason,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file, setup,
		    teardown),
	};

	param_init_defaults();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
