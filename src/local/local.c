/*
 * local.c - local, the delivery agent for local recipients
 *
 * master.cf:	local unix - n n - - local
 *
 * A single-server (server.h): qmgr sends one request per connection
 * (deliver_request.h), usually with one recipient
 * (local_destination_recipient_limit = 1). Run by a root master, local
 * keeps root as its real uid only, works as mail_owner, and takes the
 * rights of whoever a delivery is for (local_privs.c); in an
 * unprivileged instance everything runs with the instance's rights.
 *
 * Each address, at level 0 the queue file recipient and below it what
 * aliases and .forward files expand to, goes through local_deliver()
 * as Postfix's local(8) does:
 *
 *	1. the local part double_bounce_sender is discarded; a message
 *	   that has "Delivered-To: <address>" already is a mail loop
 *	   (5.4.6); an address already handled for this recipient is not
 *	   handled again, and one that is being expanded (an alias or a
 *	   .forward that names itself) goes straight to its mailbox;
 *	2. alias_maps, with the local part, then without its extension
 *	   (local_alias.c);
 *	3. for a user in the password file, the first file of
 *	   forward_path (local_forward.c);
 *	4. the mailbox (local_mailbox.c): mailbox_transport, else for a
 *	   known user mailbox_command, home_mailbox or the spool file;
 *	5. an unknown user: fallback_transport, else luser_relay, else
 *	   postmaster and mailer-daemon are discarded with a warning
 *	   ("required alias not found"), else 5.1.1 unknown user.
 * Every destination reached (mailbox, file, command, forwarded address)
 * gets its own deliver_status(); forwarded addresses are sent as one new
 * message per envelope sender once the recipient is expanded
 * (local_resubmit.c). deliver_request_finish() keeps the worst outcome.
 *
 * mailbox_transport and fallback_transport are "transport[:nexthop]"
 * as in Postfix: the delivery is passed (deliver_pass()) to the
 * master.cf service transport with that next hop, or with the
 * request's own when there is none.
 *
 * Lookups fold case: the local part is lowercased for alias_maps, the
 * password file and duplicate elimination.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "deliver_request.h"
#include "dict.h"
#include "dict_maps.h"
#include "htable.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "server.h"
#include "str.h"
#include "stream.h"

struct dict *local_alias_maps;
int local_allow_commands;
int local_allow_files;
int local_deliver_hdr;
bool local_dot_lock;
struct local_rights local_default_privs;
bool local_root;
const char *local_service_name = "local";

/* ---- configuration --------------------------------------------------- */

static const struct {
	const char *name;
	int bit;
} local_class_names[] = {
	{"alias", LOCAL_CLASS_ALIAS},
	{"forward", LOCAL_CLASS_FORWARD},
	{"include", LOCAL_CLASS_INCLUDE},
	{"command", LOCAL_CLASS_COMMAND},
	{"file", LOCAL_CLASS_FILE},
};

/* Parse a list of class names; allowed: the LOCAL_CLASS_* accepted. */
static int
local_classes(const char *param, const char *value, int allowed)
{
	struct argv *words = argv_split(value, ", \t\r\n");
	size_t i, j;
	int bits = 0;

	for (i = 0; i < words->argc; i++) {
		for (j = 0; j < sizeof(local_class_names)
		    / sizeof(local_class_names[0]); j++)
			if (str_case_eq(words->argv[i],
			    local_class_names[j].name)
			    && (local_class_names[j].bit & allowed) != 0)
				break;
		if (j == sizeof(local_class_names)
		    / sizeof(local_class_names[0]))
			msg_fatal_status(EX_CONFIG, "parameter %s: unknown "
			    "value \"%s\"", param, words->argv[i]);
		bits |= local_class_names[j].bit;
	}
	argv_free(words);
	return bits;
}

static void
local_pre_init(const char *service, char **argv)
{
	struct argv *locks;
	struct buf why;
	size_t i;

	(void)argv;
	deliver_rights_start();
	local_service_name = xstrdup(service);
	local_allow_commands = local_classes("allow_mail_to_commands",
	    var_allow_mail_to_commands, LOCAL_CLASS_ALIAS | LOCAL_CLASS_FORWARD
	    | LOCAL_CLASS_INCLUDE);
	local_allow_files = local_classes("allow_mail_to_files",
	    var_allow_mail_to_files, LOCAL_CLASS_ALIAS | LOCAL_CLASS_FORWARD
	    | LOCAL_CLASS_INCLUDE);
	local_deliver_hdr = local_classes("prepend_delivered_header",
	    var_prepend_delivered_header, LOCAL_CLASS_COMMAND
	    | LOCAL_CLASS_FILE | LOCAL_CLASS_FORWARD);

	locks = argv_split(var_mailbox_delivery_lock, ", \t\r\n");
	for (i = 0; i < locks->argc; i++) {
		if (str_case_eq(locks->argv[i], "dotlock"))
			local_dot_lock = true;
		else if (str_case_eq(locks->argv[i], "flock"))
			msg_warn("parameter mailbox_delivery_lock: flock is "
			    "not supported; using fcntl");
		else if (!str_case_eq(locks->argv[i], "fcntl"))
			msg_fatal_status(EX_CONFIG, "parameter "
			    "mailbox_delivery_lock: unknown lock method "
			    "\"%s\" (expected fcntl, dotlock, flock)",
			    locks->argv[i]);
	}
	argv_free(locks);

	/* default_privs: the rights of root's mail and of root's tables. */
	buf_init(&why, 64);
	switch (local_user(var_default_privs, &local_default_privs, &why)) {
	case 1:
		if (local_default_privs.uid == 0
		    || local_default_privs.gid == 0)
			msg_fatal_status(EX_CONFIG, "parameter default_privs: "
			    "user \"%s\" has root privileges",
			    var_default_privs);
		break;
	case 0:
		if (geteuid() == 0)
			msg_fatal_status(EX_CONFIG, "parameter default_privs: "
			    "unknown user \"%s\"", var_default_privs);
		/* Unprivileged: everything runs as us anyway. */
		local_default_privs.uid = geteuid();
		local_default_privs.gid = getegid();
		local_default_privs.name = xstrdup(var_default_privs);
		local_default_privs.home = xstrdup("/");
		local_default_privs.shell = xstrdup("/bin/sh");
		break;
	default:
		msg_fatal_status(EX_CONFIG, "parameter default_privs: %s",
		    why.data);
	}
	buf_fini(&why);

	local_alias_maps = dict_maps_open("alias_maps", var_alias_maps,
	    O_RDONLY, DICT_FLAG_FOLD);
}

/* ---- outcomes -------------------------------------------------------- */

/* Is p "D.D.D " (an RFC 3463 status and a space)? Returns its length. */
static size_t
local_dsn_len(const char *p)
{
	size_t i = 0, part, digits;

	if (p[0] < '2' || p[0] > '5' || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0 && p[i++] != '.')
			return 0;
	}
	return p[i] == ' ' ? i : 0;
}

void
local_status(struct local_state *st, enum deliver_action action,
    const char *to, const char *dsn, const char *why)
{
	struct buf code;
	size_t n = local_dsn_len(why);

	buf_init(&code, 16);
	if (n > 0) {
		buf_setn(&code, why, n);
		why += n + 1;
	} else {
		buf_set(&code, dsn);
	}
	/* The class follows the action, whatever the text said. */
	code.data[0] = action == DELIVER_SENT ? '2'
	    : action == DELIVER_BOUNCE ? '5' : '4';
	(void)deliver_status(st->dl->req, st->dl->index, action,
	    to != NULL ? to : st->addr, code.data, "%s", why);
	buf_fini(&code);
}

void
local_statusf(struct local_state *st, enum deliver_action action,
    const char *to, const char *dsn, const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	buf_init(&text, 128);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	local_status(st, action, to, dsn, text.data);
	buf_fini(&text);
}

bool
local_once(struct local_delivery *dl, const char *kind, const char *key)
{
	struct buf k;
	bool fresh;

	buf_init(&k, 64);
	buf_printf(&k, "%s:%s", kind, key);
	if ((fresh = htable_get(dl->done, k.data) == NULL))
		(void)htable_put(dl->done, k.data, dl);
	buf_fini(&k);
	return fresh;
}

/* ---- the per-address switch ------------------------------------------ */

static bool
local_on_stack(const struct local_delivery *dl, const char *local)
{
	size_t i;

	for (i = 0; i < dl->stack->argc; i++)
		if (strcmp(dl->stack->argv[i], local) == 0)
			return true;
	return false;
}

static void
local_push(struct local_delivery *dl, const char *local)
{
	argv_add(dl->stack, local);
}

static void
local_pop(struct local_delivery *dl)
{
	argv_truncate(dl->stack, dl->stack->argc - 1);
}

/* The longest transport name in mailbox_transport/fallback_transport. */
#define LOCAL_TRANSPORT_MAX	64

/* A master.cf service name: letters, digits, '-', '_', '.'. */
static bool
local_transport_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > LOCAL_TRANSPORT_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z')
		    || (name[i] >= 'A' && name[i] <= 'Z')
		    || (name[i] >= '0' && name[i] <= '9')
		    || name[i] == '-' || name[i] == '_' || name[i] == '.'))
			return false;
	return true;
}

/*
 * Hand st's mailbox delivery to value, "transport[:nexthop]" from
 * parameter param (Postfix's syntax: "lmtp:unix:/run/dovecot/lmtp",
 * "virtual:example.com"); without a nexthop (or an empty one) the
 * request's own goes with it. A bad transport name defers.
 */
static void
local_pass(struct local_state *st, const char *param, const char *value)
{
	const char *colon = strchr(value, ':');
	size_t len = colon != NULL ? (size_t)(colon - value) : strlen(value);
	struct buf transport, shown;

	buf_init(&transport, 32);
	if (!local_transport_ok(value, len)) {
		buf_init(&shown, 64);
		str_printable(&shown, value, strlen(value));
		msg_warn("parameter %s: bad transport name in \"%s\" "
		    "(expected letters, digits, '-', '_', '.', at most %d, "
		    "then an optional \":nexthop\")", param, shown.data,
		    LOCAL_TRANSPORT_MAX);
		local_statusf(st, DELIVER_DEFER, NULL, "4.3.5",
		    "mail system configuration error");
		buf_fini(&shown);
	} else {
		buf_setn(&transport, value, len);
		(void)deliver_pass(st->dl->req, st->dl->index, transport.data,
		    colon != NULL && colon[1] != 0 ? colon + 1 : NULL,
		    st->addr);
	}
	buf_fini(&transport);
}

/* Step 5: nobody of that name. */
static void
local_unknown(struct local_state *st)
{
	struct buf relay, why;

	if (*var_fallback_transport != 0) {
		local_pass(st, "fallback_transport", var_fallback_transport);
		return;
	}
	if (*local_vars_raw("luser_relay") != 0 && st->dl->luser_relayed == 0) {
		buf_init(&relay, 64);
		buf_init(&why, 64);
		if (local_vars_expand(st, NULL, local_vars_raw("luser_relay"),
		    &relay, &why) < 0 || relay.len == 0) {
			msg_warn("parameter luser_relay: %s",
			    why.len ? why.data : "empty expansion");
			local_statusf(st, DELIVER_DEFER, NULL, "4.3.5",
			    "cannot expand luser_relay");
		} else {
			/* Once: an unknown relay address is not relayed. */
			st->dl->luser_relayed++;
			local_expand_address(st, relay.data, false);
			st->dl->luser_relayed--;
		}
		buf_fini(&relay);
		buf_fini(&why);
		return;
	}
	if (strcmp(st->a.user.data, "postmaster") == 0
	    || strcmp(st->a.user.data, "mailer-daemon") == 0) {
		msg_warn("required alias not found: %s", st->a.user.data);
		local_status(st, DELIVER_SENT, NULL, "2.0.0", "discarded");
		return;
	}
	local_statusf(st, DELIVER_BOUNCE, NULL, "5.1.1",
	    "unknown user: \"%s\"", st->a.user.data);
}

/* Step 4 and 5. */
static void
local_mailbox_switch(struct local_state *st, struct local_rights *user,
    int found)
{
	if (!local_once(st->dl, "mailbox", st->a.local.data))
		return;
	if (*var_mailbox_transport != 0) {
		local_pass(st, "mailbox_transport", var_mailbox_transport);
		return;
	}
	if (found)
		local_mailbox(st, user);
	else
		local_unknown(st);
}

static void
local_deliver(struct local_delivery *dl, struct local_state *parent,
    const char *addr, bool mailbox_only)
{
	struct local_state st = {
		.dl = dl,
		.level = parent ? parent->level + 1 : 0,
		.addr = addr,
		.owner = parent ? parent->owner : NULL,
		.exp = LOCAL_EXP_NONE,
	};
	struct local_rights user = {0};
	struct buf why;
	int found;

	buf_init(&why, 64);
	local_addr_init(&st.a);
	local_addr_parse(&st.a, addr);

	if (st.level > LOCAL_MAX_LEVEL) {
		local_statusf(&st, DELIVER_BOUNCE, NULL, "5.4.6",
		    "alias database loop for %s", addr);
		goto out;
	}
	if (st.a.local.len == 0) {
		local_statusf(&st, DELIVER_BOUNCE, NULL, "5.1.3",
		    "bad address syntax: <%s>", addr);
		goto out;
	}
	if (strcasecmp(st.a.local.data, var_double_bounce_sender) == 0) {
		local_status(&st, DELIVER_SENT, NULL, "2.0.0", "discarded");
		goto out;
	}
	/* A name that is being expanded means its own mailbox. */
	if (local_on_stack(dl, st.a.local.data))
		mailbox_only = true;
	else if (!mailbox_only && !local_once(dl, "rcpt", st.a.local.data))
		goto out;
	if (local_msg_delivered_to(addr)) {
		local_statusf(&st, DELIVER_BOUNCE, NULL, "5.4.6",
		    "mail forwarding loop for %s", addr);
		goto out;
	}

	if (!mailbox_only) {
		local_push(dl, st.a.local.data);
		if (local_alias(&st)) {
			local_pop(dl);
			goto out;
		}
		local_pop(dl);
	}

	if ((found = local_user(st.a.user.data, &user, &why)) < 0) {
		local_statusf(&st, DELIVER_DEFER, NULL, "4.3.0",
		    "cannot look up user \"%s\": %s", st.a.user.data, why.data);
		goto out;
	}
	if (found && !mailbox_only) {
		local_push(dl, st.a.local.data);
		if (local_forward(&st, &user)) {
			local_pop(dl);
			goto out;
		}
		local_pop(dl);
	}
	local_mailbox_switch(&st, &user, found);

out:
	local_rights_fini(&user);
	local_addr_fini(&st.a);
	buf_fini(&why);
}

void
local_recipient(struct local_state *parent, const char *addr)
{
	local_deliver(parent->dl, parent, addr, false);
}

void
local_recipient_mailbox(struct local_state *parent, const char *addr)
{
	local_deliver(parent->dl, parent, addr, true);
}

/* ---- the service ----------------------------------------------------- */

static void
local_deliver_rcpt(struct deliver_request *req, size_t i)
{
	struct local_delivery dl = {
		.req = req,
		.index = i,
	};

	dl.delivered = str_lower(xstrdup(req->rcpts[i].addr));
	dl.done = htable_new(16);
	dl.stack = argv_new();
	local_deliver(&dl, NULL, req->rcpts[i].addr, false);
	local_resubmit_flush(&dl);
	local_resubmit_free(&dl);
	argv_free(dl.stack);
	htable_free(dl.done, NULL);
	free(dl.delivered);
}

static void
local_service(int fd, const char *service, char **argv)
{
	struct deliver_request *req;
	struct stream *s;
	size_t i;

	(void)argv;
	s = stream_new(fd);
	stream_set_timeout(s, var_ipc_timeout > INT_MAX / 1000 ? INT_MAX
	    : var_ipc_timeout * 1000);
	if ((req = deliver_request_read(s, service)) != NULL) {
		local_msg_begin(req);
		for (i = 0; i < req->count; i++)
			if (!req->rcpts[i].rcpt->done)
				local_deliver_rcpt(req, i);
		local_msg_end();
		(void)deliver_request_finish(s, req);
	}
	(void)stream_release(s);
}

/* After the skeleton's set-up: work as mail_owner from now on. */
static void
local_post_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	deliver_rights_check(service);
	/* Root as real uid: master.cf said unprivileged "n". */
	local_root = getuid() == 0 && geteuid() == 0;
	local_privs_init();
}

static const struct single_server_spec local_spec = {
	.name = "local",
	.service = local_service,
	.pre_init = local_pre_init,
	.post_init = local_post_init,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &local_spec);
}
