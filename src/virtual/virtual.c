/*
 * virtual.c - virtual, the delivery agent for virtual mailboxes
 *
 * master.cf:
 *	virtual   unix  -  n  n  -  -  virtual
 *
 * As Postfix's virtual(8): qmgr (or the local agent, passing on a
 * mailbox delivery) sends a request over private/virtual
 * (deliver_request.h), and each recipient address is delivered into a
 * mailbox found by table lookups rather than in the password file:
 *
 *	virtual_mailbox_maps	the address (mail_addr_find() order:
 *				user+ext@domain, user@domain, @domain)
 *				gives a path relative to
 *				virtual_mailbox_base; a path ending in '/'
 *				is a Maildir, else an mbox file, locked per
 *				virtual_mailbox_lock (fcntl is always
 *				taken; dotlock adds "<file>.lock" where the
 *				directory allows; flock is not supported and
 *				falls back to fcntl with a warning)
 *	virtual_uid_maps	the owner of the mailbox (static:N, or a
 *	virtual_gid_maps	table by the same address order); a uid
 *				below virtual_minimum_uid or a gid of 0 is
 *				refused
 *
 * Each is a list of tables searched as one (dict_maps.h): every key of
 * that order is tried in all the tables before the next key, as in
 * Postfix, and warnings name the table that answered
 * ("virtual_uid_maps (hash:/etc/petrel/vuid)").
 *
 * Run as root (master.cf unpriv "n", master started as root), the agent
 * works as mail_owner (the queue file, its logs) and creates and writes
 * each mailbox with the recipient's uid/gid (virtual_mailbox.c). Run as
 * an ordinary user (make run, tests), the agent writes as itself: the
 * uid/gid maps need not be set then, and when set their answers are
 * checked but not used.
 *
 * Each delivery adds, before the message, Postfix's header lines:
 *	Return-Path: <sender>
 *	X-Original-To: recipient as in the queue file
 *	Delivered-To: the address delivered to, lowercased
 * and is limited to virtual_mailbox_limit bytes (the Maildir file, or
 * the whole mbox file; 0: no limit), which must not be smaller than
 * message_size_limit (checked at start-up, as Postfix does).
 *
 * Outcomes (logged and recorded by deliver_status()):
 *	sent	"delivered to maildir" / "delivered to mailbox"
 *	bounce	5.1.1 unknown user: "addr" (no table entry);
 *		5.2.2 the size limit (or a quota the system reports as a
 *		size error)
 *	defer	4.3.0 a table lookup failed; 4.3.5 mail system
 *		configuration error (virtual_mailbox_base not set or not
 *		absolute, no or bad uid/gid, a mailbox path that is
 *		absolute or has a ".." component: the warning in the log
 *		names the table); any other mailbox failure (cannot
 *		create the Maildir, the mbox is locked or is not ours ...)
 *		with the writer's reason, as Postfix's virtual does: a
 *		mailbox problem is the administrator's to fix, and the mail
 *		waits for it rather than going back to the sender.
 *
 * The agent reads nothing but the queue file named in the request and
 * its tables; it never expands aliases or runs commands.
 *
 * SECURITY: the request and the queue file are checked by
 * deliver_request.c. Table results are configuration, but a mailbox
 * path still may not leave virtual_mailbox_base (no absolute result, no
 * ".." component, no control characters), and the mailbox writers
 * refuse symbolic and hard links. Addresses reach the tables and the
 * log only (msg.h makes them printable).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "deliver_request.h"
#include "dict.h"
#include "dict_maps.h"
#include "mail_addr_find.h"
#include "mbox.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "server.h"
#include "str.h"
#include "stream.h"
#include "virtual.h"

/* The tables, opened before privileges could change. */
static struct dict *virtual_mailbox_maps;
static struct dict *virtual_uid_maps;
static struct dict *virtual_gid_maps;

static struct virtual_mailbox_cfg virtual_cfg;

#define VIRTUAL_CONFIG_ERROR	"mail system configuration error"

/* Parse virtual_mailbox_lock into mbox flags; bad values are fatal. */
static int
virtual_lock_flags(const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *tok;
	int flags = 0;

	while ((tok = str_token(&cp, ", \t\r\n")) != NULL) {
		if (str_case_eq(tok, "fcntl"))
			continue;
		if (str_case_eq(tok, "dotlock"))
			flags |= MBOX_FLAG_DOT_LOCK
			    | MBOX_FLAG_DOT_LOCK_MAY_FAIL;
		else if (str_case_eq(tok, "flock"))
			msg_warn("virtual_mailbox_lock: flock locking is not "
			    "supported; mailboxes are locked with fcntl");
		else
			msg_fatal_status(EX_CONFIG, "virtual_mailbox_lock: "
			    "unknown locking method \"%s\" (expected fcntl, "
			    "dotlock or flock)", tok);
	}
	free(copy);
	return flags;
}

static void
virtual_pre_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	deliver_rights_start();
	if (var_virtual_mailbox_limit > 0 && var_message_size_limit > 0
	    && var_virtual_mailbox_limit < var_message_size_limit)
		msg_fatal_status(EX_CONFIG, "main.cf configuration error: "
		    "virtual_mailbox_limit (%ld) is smaller than "
		    "message_size_limit (%ld)", var_virtual_mailbox_limit,
		    var_message_size_limit);
	virtual_cfg.mbox_flags = virtual_lock_flags(var_virtual_mailbox_lock);
	if (var_strict_mailbox_ownership)
		virtual_cfg.mbox_flags |= MBOX_FLAG_OWNER;
	virtual_cfg.size_limit = var_virtual_mailbox_limit;
	virtual_cfg.lock.tries = var_deliver_lock_attempts;
	virtual_cfg.lock.delay_ms = (unsigned)var_deliver_lock_delay * 1000U;
	virtual_cfg.lock.stale_sec = var_stale_lock_time;
	virtual_mailbox_maps = dict_maps_open("virtual_mailbox_maps",
	    var_virtual_mailbox_maps, O_RDONLY, DICT_FLAG_FOLD);
	virtual_uid_maps = dict_maps_open("virtual_uid_maps",
	    var_virtual_uid_maps, O_RDONLY, DICT_FLAG_FOLD);
	virtual_gid_maps = dict_maps_open("virtual_gid_maps",
	    var_virtual_gid_maps, O_RDONLY, DICT_FLAG_FOLD);
}

/* After chroot (if any): from now on we work as mail_owner. */
static void
virtual_post_init(const char *service, char **argv)
{
	(void)argv;
	deliver_rights_check(service);
	virtual_mailbox_init();
}

static void
virtual_pre_exit(void)
{
	dict_close(virtual_mailbox_maps);
	dict_close(virtual_uid_maps);
	dict_close(virtual_gid_maps);
}

/*
 * Why a mailbox path from the table is unacceptable, or NULL when it
 * is fine: it must stay under virtual_mailbox_base.
 */
static const char *
virtual_path_problem(const char *path)
{
	const char *cp, *end;

	if (*path == 0)
		return "is empty";
	if (*path == '/')
		return "is an absolute path";
	for (cp = path; *cp != 0; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			return "contains a control character";
	for (cp = path; *cp != 0; cp = *end ? end + 1 : end) {
		end = strchrnul(cp, '/');
		if (end - cp == 2 && cp[0] == '.' && cp[1] == '.')
			return "has a \"..\" path component";
	}
	return NULL;
}

/* The table of a list that gave its last answer, for warnings. */
static const char *
virtual_last_table(const struct dict *maps)
{
	const struct dict *last = dict_maps_last(maps);

	return last != NULL ? last->full_name : "(none)";
}

/*
 * Look up a numeric user or group ID for addr in maps (mail_addr_find
 * order). Returns DICT_FOUND with *id set; DICT_NOTFOUND; or
 * DICT_TEMPFAIL. A value that is not a decimal number in 0..INT_MAX is
 * DICT_FOUND with bad set (the caller warns); text always receives the
 * value found.
 */
static enum dict_result
virtual_id_find(struct dict *maps, const char *addr, long *id, bool *bad,
    struct buf *text)
{
	enum dict_result rc;
	char *cp;

	*bad = false;
	*id = -1;
	rc = mail_addr_find(maps, addr, 0, text, NULL, NULL);
	if (rc != DICT_FOUND)
		return rc;
	cp = xstrdup(buf_str(text));
	if (str_to_long(str_trim(cp), id) < 0 || *id < 0 || *id > INT_MAX) {
		*bad = true;
		*id = -1;
	}
	free(cp);
	return rc;
}

/*
 * The uid or gid (what) of a recipient from maps (param names it), at
 * least min. Returns 0 with *id set, or -1 after recording a deferral
 * for the recipient. When the list is empty and not required, *id is
 * -1 and 0 is returned.
 */
static int
virtual_lookup_id(struct deliver_request *req, size_t i, struct dict *maps,
    const char *param, const char *what, long min, bool required, long *id)
{
	const char *addr = req->rcpts[i].addr;
	struct buf text;
	bool bad;
	int ret = -1;

	*id = -1;
	if (dict_maps_count(maps) == 0) {
		if (!required)
			return 0;
		msg_warn("%s: recipient %s: %s is not set", req->queue_id, addr,
		    param);
		(void)deliver_status(req, i, DELIVER_DEFER, NULL, "4.3.5",
		    VIRTUAL_CONFIG_ERROR ": %s is not set", param);
		return -1;
	}
	buf_init(&text, 16);
	switch (virtual_id_find(maps, addr, id, &bad, &text)) {
	case DICT_FOUND:
		if (bad || *id < min) {
			msg_warn("%s: recipient %s: bad %s \"%s\" in %s "
			    "(%s)%s%s", req->queue_id, addr, what,
			    buf_str(&text), param, virtual_last_table(maps),
			    bad ? "" : " (less than ",
			    bad ? "" : strcmp(what, "uid") == 0 ?
			    "virtual_minimum_uid)" : "1)");
			(void)deliver_status(req, i, DELIVER_DEFER, NULL,
			    "4.3.5", VIRTUAL_CONFIG_ERROR ": bad %s for "
			    "recipient in %s", what, param);
			break;
		}
		ret = 0;
		break;
	case DICT_NOTFOUND:
		msg_warn("%s: recipient %s: %s not found in %s", req->queue_id,
		    addr, what, param);
		(void)deliver_status(req, i, DELIVER_DEFER, NULL, "4.3.5",
		    VIRTUAL_CONFIG_ERROR ": no %s for recipient in %s", what,
		    param);
		break;
	default:
		(void)deliver_status(req, i, DELIVER_DEFER, NULL, "4.3.0",
		    "%s: table lookup failure", param);
		break;
	}
	buf_fini(&text);
	return ret;
}

/* Record a mailbox writer's result (why: "x.y.z text"). */
static void
virtual_result(struct deliver_request *req, size_t i, bool maildir, int rc,
    struct buf *why)
{
	const char *text = buf_str(why), *sp;
	struct buf status;

	if (rc == MBOX_OK) {
		(void)deliver_status(req, i, DELIVER_SENT, NULL, "2.0.0",
		    "delivered to %s", maildir ? "maildir" : "mailbox");
		return;
	}
	buf_init(&status, 8);
	if ((sp = strchr(text, ' ')) != NULL && sp - text >= 5
	    && (*text == '4' || *text == '5') && text[1] == '.') {
		buf_setn(&status, text, (size_t)(sp - text));
		text = sp + 1;
	} else {
		buf_set(&status, rc == MBOX_PERM ? "5.2.0" : "4.2.0");
	}
	if (rc == MBOX_SRC_ERROR)
		msg_warn("%s: queue file %s/%s: %s", req->queue_id,
		    req->queue_name, req->queue_id, text);
	if (rc == MBOX_PERM && strcmp(buf_str(&status), "5.2.2") == 0) {
		(void)deliver_status(req, i, DELIVER_BOUNCE, NULL, "5.2.2",
		    "%s", text);
	} else {
		/* Postfix's virtual: only a size problem returns mail. */
		if (rc == MBOX_PERM || *buf_str(&status) != '4')
			buf_set(&status, "4.2.0");
		(void)deliver_status(req, i, DELIVER_DEFER, NULL,
		    buf_str(&status), "%s", text);
	}
	buf_fini(&status);
}

/* Deliver recipient i of req; every path records an outcome. */
static void
virtual_recipient(struct deliver_request *req, size_t i)
{
	const char *addr = req->rcpts[i].addr, *problem, *hdrs[4];
	struct buf value, path, why, rp, xot, dt;
	struct virtual_user user;
	long uid, gid;
	size_t len;
	bool root = virtual_mailbox_privileged();

	buf_init(&value, 64);
	buf_init(&path, 128);
	buf_init(&why, 128);
	buf_init(&rp, 64);
	buf_init(&xot, 64);
	buf_init(&dt, 64);
	if (*var_virtual_mailbox_base != '/') {
		msg_warn("%s: recipient %s: virtual_mailbox_base %s",
		    req->queue_id, addr, *var_virtual_mailbox_base ?
		    "must be an absolute path" : "is not set");
		(void)deliver_status(req, i, DELIVER_DEFER, NULL, "4.3.5",
		    VIRTUAL_CONFIG_ERROR ": virtual_mailbox_base %s",
		    *var_virtual_mailbox_base ? "is not an absolute path" :
		    "is not set");
		goto out;
	}
	switch (mail_addr_find(virtual_mailbox_maps, addr, 0, &value, NULL,
	    NULL)) {
	case DICT_FOUND:
		break;
	case DICT_NOTFOUND:
		(void)deliver_status(req, i, DELIVER_BOUNCE, NULL, "5.1.1",
		    "unknown user: \"%s\"", addr);
		goto out;
	default:
		(void)deliver_status(req, i, DELIVER_DEFER, NULL, "4.3.0",
		    "virtual_mailbox_maps: table lookup failure");
		goto out;
	}
	if ((problem = virtual_path_problem(buf_str(&value))) != NULL) {
		msg_warn("%s: recipient %s: mailbox \"%s\" from "
		    "virtual_mailbox_maps (%s) %s; refused", req->queue_id,
		    addr, buf_str(&value),
		    virtual_last_table(virtual_mailbox_maps), problem);
		(void)deliver_status(req, i, DELIVER_DEFER, NULL, "4.3.5",
		    VIRTUAL_CONFIG_ERROR ": bad mailbox path in "
		    "virtual_mailbox_maps");
		goto out;
	}
	if (virtual_lookup_id(req, i, virtual_uid_maps, "virtual_uid_maps",
	    "uid", var_virtual_minimum_uid, root, &uid) < 0
	    || virtual_lookup_id(req, i, virtual_gid_maps, "virtual_gid_maps",
	    "gid", 1, root, &gid) < 0)
		goto out;

	/* virtual_mailbox_base without its trailing slashes, then "/". */
	len = strlen(var_virtual_mailbox_base);
	while (len > 1 && var_virtual_mailbox_base[len - 1] == '/')
		len--;
	buf_setn(&path, var_virtual_mailbox_base, len);
	if (len > 1)
		buf_putc(&path, '/');
	buf_puts(&path, buf_str(&value));
	memset(&user, 0, sizeof(user));
	user.mailbox = buf_str(&path);
	user.maildir = value.data[value.len - 1] == '/';
	user.set_ids = root;
	user.uid = (uid_t)uid;
	user.gid = (gid_t)gid;

	buf_printf(&rp, "Return-Path: <%s>", req->qf.sender);
	buf_printf(&xot, "X-Original-To: %s", req->rcpts[i].rcpt->addr);
	buf_printf(&dt, "Delivered-To: %s", addr);
	str_lower(dt.data + strlen("Delivered-To: "));
	hdrs[0] = buf_str(&rp);
	hdrs[1] = buf_str(&xot);
	hdrs[2] = buf_str(&dt);
	hdrs[3] = NULL;
	virtual_result(req, i, user.maildir,
	    virtual_mailbox(req, &virtual_cfg, &user, hdrs, &why), &why);
out:
	buf_fini(&value);
	buf_fini(&path);
	buf_fini(&why);
	buf_fini(&rp);
	buf_fini(&xot);
	buf_fini(&dt);
}

static void
virtual_service(int fd, const char *service, char **argv)
{
	struct deliver_request *req;
	struct stream *s;
	size_t i;

	(void)argv;
	s = stream_new(fd);
	stream_set_timeout(s, (var_ipc_timeout > INT_MAX / 1000 ? INT_MAX :
	    var_ipc_timeout * 1000));
	if ((req = deliver_request_read(s, service)) != NULL) {
		for (i = 0; i < req->count; i++)
			virtual_recipient(req, i);
		(void)deliver_request_finish(s, req);
	}
	(void)stream_release(s);	/* the skeleton closes fd */
}

static const struct single_server_spec virtual_spec = {
	.name = "virtual",
	.service = virtual_service,
	.pre_init = virtual_pre_init,
	.post_init = virtual_post_init,
	.pre_exit = virtual_pre_exit,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &virtual_spec);
}
