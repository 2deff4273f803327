/*
 * error.c - error, the delivery agent that always fails
 *
 * master.cf:
 *	error     unix  -  -  n  -  -  error
 *	retry     unix  -  -  n  -  -  error
 *
 * As Postfix's error(8): every recipient of a request (deliver_request.h)
 * fails with the next hop as the reason. trivial-rewrite routes mail
 * here for the domains of virtual_alias_domains that virtual_alias_maps
 * did not rewrite ("error:5.1.1 User unknown in virtual alias table"),
 * and an administrator can send a domain here with a transport such as
 * "error:5.7.1 this domain takes no mail". The next hop is an optional
 * RFC 3463 status code, then the text:
 *
 *	5.x.x text	bounced with that status
 *	4.x.x text	deferred with that status
 *	text		bounced, 5.0.0 (deferred, 4.0.0, for "retry")
 *
 * Run under the service name "retry" (Postfix's retry(8)), every
 * recipient is deferred instead, whatever the status says: a way to
 * hold a domain's mail in the queue.
 *
 * SECURITY: the request and the queue file are checked by
 * deliver_request.c; the next hop is configuration and is only logged
 * (made printable by deliver_status()).
 */
#include <limits.h>
#include <string.h>

#include "bounce_log.h"
#include "buf.h"
#include "deliver_request.h"
#include "msg.h"
#include "params.h"
#include "server.h"
#include "stream.h"

/* The status and the text of a next hop "[X.Y.Z ]text". */
static void
error_reason(const char *nexthop, bool retry, struct buf *status,
    const char **text)
{
	const char *sp = strchr(nexthop, ' ');

	buf_reset(status);
	if (sp != NULL) {
		buf_setn(status, nexthop, (size_t)(sp - nexthop));
		if (bounce_log_status_ok(status->data)
		    && (status->data[0] == '4' || status->data[0] == '5')) {
			*text = sp + 1;
			if (retry)
				status->data[0] = '4';
			return;
		}
	}
	buf_set(status, retry ? "4.0.0" : "5.0.0");
	*text = *nexthop ? nexthop : "delivery refused by the mail system";
}

static void
error_service(int fd, const char *service, char **argv)
{
	struct deliver_request *req;
	struct buf status;
	const char *text;
	bool retry = strcmp(service, "retry") == 0;
	struct stream *s;
	size_t i;

	(void)argv;
	s = stream_new(fd);
	stream_set_timeout(s, (var_ipc_timeout > INT_MAX / 1000 ? INT_MAX :
	    var_ipc_timeout * 1000));
	if ((req = deliver_request_read(s, service)) != NULL) {
		buf_init(&status, 16);
		error_reason(req->nexthop, retry, &status, &text);
		for (i = 0; i < req->count; i++)
			(void)deliver_status(req, i, status.data[0] == '4'
			    ? DELIVER_DEFER : DELIVER_BOUNCE, NULL, status.data,
			    "%s", text);
		buf_fini(&status);
		(void)deliver_request_finish(s, req);
	}
	(void)stream_release(s);	/* the skeleton closes fd */
}

static const struct single_server_spec error_spec = {
	.name = "error",
	.service = error_service,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &error_spec);
}
