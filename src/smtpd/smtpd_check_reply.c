/*
 * smtpd_check_reply.c - smtpd: what a restriction's verdict does
 *
 * A restriction that refuses calls check_reject() (or check_refuse()
 * with a reply that is final), one that only casts doubt calls
 * check_defer_if_permit() or check_defer_if_reject(), and a table or
 * DNS failure calls check_tempfail() with the parameter's
 * *_tempfail_action, check_lookup_failure() or check_config_error():
 *
 *	return check_reject(ev, 554, "5.7.1", CHECK_KIND_OTHER,
 *	    "<%s>: Client host rejected: Access denied", name);
 *
 * They build the reply (check_reply_format()), honour warn_if_reject
 * (log "reject_warning", go on) and defer_if_reject (a later 5xx of the
 * same list becomes the remembered 4xx), log "reject" with the
 * session's details, and return the result for the engine
 * (smtpd_check.c).
 *
 * SECURITY: the text may quote client data (names, addresses); it goes
 * into growable buffers and, as one reply line, to the client.
 */
#include <stdarg.h>

#include "buf.h"
#include "msg.h"

#include "smtpd.h"
#include "smtpd_check.h"

static void
check_vformat(struct buf *out, int code, const char *dsn,
    enum check_kind kind, const char *fmt, va_list ap)
{
	struct buf text;

	buf_init(&text, 128);
	buf_vprintf(&text, fmt, ap);
	buf_reset(out);
	check_reply_format(out, code, dsn, kind, text.data);
	buf_fini(&text);
}

enum check_result
check_refuse(struct check_eval *ev, const char *reply)
{
	buf_set(ev->reply, reply);
	smtpd_log_event(ev->st, "reject", reply);
	return CHECK_REJECT;
}

enum check_result
check_reject_reply(struct check_eval *ev, const char *reply)
{
	if (ev->warn_if_reject) {
		smtpd_log_event(ev->st, "reject_warning", reply);
		return CHECK_DUNNO;
	}
	if (ev->dir.active && reply[0] == '5')
		return check_refuse(ev, ev->dir.reply.data);
	return check_refuse(ev, reply);
}

static enum check_result
check_vreject(struct check_eval *ev, int code, const char *dsn,
    enum check_kind kind, const char *fmt, va_list ap)
{
	struct buf reply;
	enum check_result rc;

	buf_init(&reply, 128);
	check_vformat(&reply, code, dsn, kind, fmt, ap);
	rc = check_reject_reply(ev, reply.data);
	buf_fini(&reply);
	return rc;
}

enum check_result
check_reject(struct check_eval *ev, int code, const char *dsn,
    enum check_kind kind, const char *fmt, ...)
{
	enum check_result rc;
	va_list ap;

	va_start(ap, fmt);
	rc = check_vreject(ev, code, dsn, kind, fmt, ap);
	va_end(ap);
	return rc;
}

static enum check_result
check_vdefer_if(struct check_eval *ev, struct check_defer *d, int code,
    const char *dsn, enum check_kind kind, const char *fmt, va_list ap)
{
	struct buf reply;

	buf_init(&reply, 128);
	check_vformat(&reply, code, dsn, kind, fmt, ap);
	if (d == &ev->dip && ev->warn_if_reject)
		smtpd_log_event(ev->st, "reject_warning", reply.data);
	else if (!d->active) {
		d->active = true;
		buf_set(&d->reply, reply.data);
	}
	buf_fini(&reply);
	return CHECK_DUNNO;
}

enum check_result
check_defer_if_permit(struct check_eval *ev, int code, const char *dsn,
    enum check_kind kind, const char *fmt, ...)
{
	enum check_result rc;
	va_list ap;

	va_start(ap, fmt);
	rc = check_vdefer_if(ev, &ev->dip, code, dsn, kind, fmt, ap);
	va_end(ap);
	return rc;
}

enum check_result
check_defer_if_reject(struct check_eval *ev, int code, const char *dsn,
    enum check_kind kind, const char *fmt, ...)
{
	enum check_result rc;
	va_list ap;

	va_start(ap, fmt);
	rc = check_vdefer_if(ev, &ev->dir, code, dsn, kind, fmt, ap);
	va_end(ap);
	return rc;
}

enum check_result
check_tempfail(struct check_eval *ev, enum check_tempfail action,
    const char *dsn, enum check_kind kind, const char *fmt, ...)
{
	enum check_result rc;
	va_list ap;

	va_start(ap, fmt);
	if (action == CHECK_TF_DEFER_IF_PERMIT)
		rc = check_vdefer_if(ev, &ev->dip, 450, dsn, kind, fmt, ap);
	else
		rc = check_vreject(ev, 450, dsn, kind, fmt, ap);
	va_end(ap);
	return rc;
}

enum check_result
check_lookup_failure(struct check_eval *ev, const char *name)
{
	struct buf reply;
	enum check_result rc;

	buf_init(&reply, 128);
	buf_printf(&reply, "451 4.3.0 <%s>: Temporary lookup failure", name);
	rc = check_refuse(ev, reply.data);
	buf_fini(&reply);
	return rc;
}

enum check_result
check_config_error(struct check_eval *ev, const char *fmt, ...)
{
	struct buf why;
	va_list ap;

	buf_init(&why, 128);
	va_start(ap, fmt);
	buf_vprintf(&why, fmt, ap);
	va_end(ap);
	msg_warn("%s", why.data);
	buf_fini(&why);
	return check_refuse(ev, "451 4.3.5 Server configuration error");
}
