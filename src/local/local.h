/*
 * local.h - the local delivery agent: what its files share
 *
 * One request from qmgr (deliver_request.h) holds one or more
 * recipients. Each recipient is delivered by local_recipient() (local.c)
 * at level 0, which may reach more addresses (aliases, .forward files,
 * :include: files) and calls itself for those that are local, one level
 * deeper. Everything one recipient's delivery has in common (the
 * request, the Delivered-To address, what was done already, the
 * addresses to forward) is in struct local_delivery; what one level
 * knows (its address and where its destinations come from) is in
 * struct local_state.
 *
 * Files: local.c (service, per-address switch), local_addr.c (address
 * parts), local_alias.c, local_forward.c (.forward), local_expand.c
 * (destination lists, :include:), local_mailbox.c, local_command.c,
 * local_file.c, local_resubmit.c (forwarding through cleanup),
 * local_privs.c (rights), local_msg.c (the message as written out),
 * local_vars.c ($name expansion of forward_path and luser_relay).
 */
#ifndef PETREL_LOCAL_H
#define PETREL_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "deliver_request.h"
#include "mbox.h"

struct argv;
struct htable;
struct dict;

/* Deepest nesting of aliases, .forward and :include: files. */
#define LOCAL_MAX_LEVEL		100
/* Most destinations one recipient may expand to. */
#define LOCAL_MAX_DEST		10000
/* Largest .forward or :include: file read. */
#define LOCAL_LIST_FILE_LIMIT	(1024 * 1024)

/* Where a list of destinations came from (allow_mail_to_*). */
enum local_exp {
	LOCAL_EXP_NONE,		/* the recipient itself */
	LOCAL_EXP_ALIAS,
	LOCAL_EXP_FORWARD,
	LOCAL_EXP_INCLUDE,
};

/* allow_mail_to_* and prepend_delivered_header bits. */
#define LOCAL_CLASS_ALIAS	(1 << 0)
#define LOCAL_CLASS_FORWARD	(1 << 1)
#define LOCAL_CLASS_INCLUDE	(1 << 2)
#define LOCAL_CLASS_COMMAND	(1 << 3)
#define LOCAL_CLASS_FILE	(1 << 4)

/* The rights of a delivery, and the identity commands see. */
struct local_rights {
	uid_t uid;
	gid_t gid;
	char *name;		/* USER, LOGNAME */
	char *home;		/* HOME */
	char *shell;		/* SHELL */
	bool root;		/* root's password entry (uid 0): its
				 * mailbox is written as root, its files
				 * and commands get default_privs' IDs */
};

/* An address taken apart (local_addr.c). */
struct local_addr {
	struct buf local;	/* unquoted local part, lowercased */
	struct buf domain;	/* lowercased, may be empty */
	struct buf user;	/* local part without extension */
	struct buf ext;		/* extension without delimiter */
	struct buf delim;	/* the delimiter found, or empty */
};

/* The addresses forwarded with one envelope sender. */
struct local_fwd {
	char *sender;
	struct argv *rcpts;
};

/* One recipient of the request, through all levels. */
struct local_delivery {
	struct deliver_request *req;
	size_t index;			/* into req->rcpts */
	char *delivered;		/* Delivered-To: value */
	struct htable *done;		/* duplicate elimination keys */
	struct argv *stack;		/* addresses being expanded */
	struct local_fwd *fwd;		/* forwarding, per sender */
	size_t fwd_count;
	size_t dest_count;		/* destinations so far */
	int luser_relayed;		/* inside a luser_relay delivery */
	int include_depth;		/* nested :include: files */
};

/* One level of the delivery. */
struct local_state {
	struct local_delivery *dl;
	int level;
	const char *addr;		/* this level's address */
	struct local_addr a;
	enum local_exp exp;		/* for the destinations it expands */
	const struct local_rights *rights; /* for files and commands */
	const char *owner;		/* owner-alias sender, or NULL */
	const char *prop_ext;		/* unmatched extension to append
					 * to the addresses of an alias
					 * ("+ext"), or NULL */
};

/* Configuration, set up once (local.c). */
extern struct dict *local_alias_maps;	/* dict_maps.h */
extern int local_allow_commands;	/* LOCAL_CLASS_* */
extern int local_allow_files;
extern int local_deliver_hdr;		/* prepend_delivered_header */
extern bool local_dot_lock;		/* mailbox_delivery_lock */
extern struct local_rights local_default_privs;
extern bool local_root;			/* running as root */
extern const char *local_service_name;	/* master.cf name, for resolve */

/* local.c */
/* Deliver to a local addr one level below parent. */
void local_recipient(struct local_state *parent, const char *addr);
/* Deliver addr's user to its mailbox, not looking at aliases/.forward. */
void local_recipient_mailbox(struct local_state *parent, const char *addr);
/*
 * Record an outcome of st's recipient. to: the destination ("|cmd",
 * "/file", an address; NULL: st->addr). why: "X.Y.Z text" (DSN split
 * off here; without one, dsn is used).
 */
void local_status(struct local_state *st, enum deliver_action action,
    const char *to, const char *dsn, const char *why);
void local_statusf(struct local_state *st, enum deliver_action action,
    const char *to, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Mark key done; false when it was done before (duplicate). */
bool local_once(struct local_delivery *dl, const char *kind,
    const char *key);

/* local_addr.c */
void local_addr_init(struct local_addr *a);
void local_addr_fini(struct local_addr *a);
/* Take an external-form address apart (recipient_delimiter rules). */
void local_addr_parse(struct local_addr *a, const char *addr);
/* The internal (unquoted) form of an external local part. */
void local_addr_unquote(struct buf *out, const char *p, size_t len);

/* local_alias.c */
/*
 * Look st's address up in alias_maps and deliver to what it expands
 * to. Returns true when handled (an alias, or a failure reported),
 * false when there is no alias.
 */
bool local_alias(struct local_state *st);
/* Is there an alias for name (lowercase)? -1: lookup failed. */
int local_alias_exists(const char *name, struct buf *why);

/* local_forward.c */
/* The user's .forward: true when handled, false: no usable file. */
bool local_forward(struct local_state *st, const struct local_rights *user);

/* local_expand.c */
/*
 * Deliver to each destination of a list (alias value, .forward or
 * :include: file): addresses, "/file", "|command", ":include:/path",
 * "\user". from names the list in reasons ("alias all", "file
 * /home/u/.forward"). Returns the number of destinations found.
 */
size_t local_expand(struct local_state *st, const char *text, size_t len,
    const char *from);
/*
 * Deliver to one address (external form): put in canonical form,
 * resolved; local ones go one level down, others are forwarded.
 * propagate: append st's unmatched extension (propagate_unmatched_
 * extensions) first.
 */
void local_expand_address(struct local_state *st, const char *addr,
    bool propagate);

/* local_mailbox.c */
/*
 * Deliver into the Maildir dir as rights ("delivered to maildir"),
 * from local_privs_mailbox() or local_privs_safe().
 */
void local_maildir(struct local_state *st, const char *dir,
    const struct local_rights *rights, const char *to);
/* Mailbox delivery for an existing user. */
void local_mailbox(struct local_state *st, const struct local_rights *user);
/*
 * Look a user up: 1 found (rights filled, root's with uid 0 and root
 * set: local_privs_safe() gives files and commands default_privs' IDs),
 * 0 unknown, -1 error (why).
 */
int local_user(const char *name, struct local_rights *r, struct buf *why);
void local_rights_fini(struct local_rights *r);
void local_rights_copy(struct local_rights *dst,
    const struct local_rights *src);

/* local_command.c */
/*
 * Run command with /bin/sh -c as rights, the message on its stdin
 * (From_ line and headers per hdr_class). Reports the outcome with to.
 */
void local_command(struct local_state *st, const char *command,
    const struct local_rights *rights, int hdr_class, const char *to);

/* local_file.c */
void local_file(struct local_state *st, const char *path,
    const struct local_rights *rights);

/* local_resubmit.c */
/* Queue addr for forwarding with st's envelope sender. */
void local_resubmit_add(struct local_state *st, const char *addr);
/* Forward what was queued; one status per address. */
void local_resubmit_flush(struct local_delivery *dl);
void local_resubmit_free(struct local_delivery *dl);

/* local_privs.c */
/* Run as root: become mail_owner (effective IDs) until told otherwise. */
void local_privs_init(void);
/* Switch the effective rights (root only; else a no-op); -1: errno. */
int local_privs_enter(const struct local_rights *r);
/* Back to mail_owner (fatal when impossible). */
void local_privs_leave(void);
/* Effective root (reading root's .forward); leave as above. */
void local_privs_root(void);
/*
 * The rights for running commands and writing files: never root
 * (default_privs' uid and gid instead, with r's name, home and shell;
 * default_privs' gid for gid 0). The result may point to static
 * storage, valid until the next call.
 */
const struct local_rights *local_privs_safe(const struct local_rights *r);
/*
 * The rights that write r's own mailbox: r for root's password entry
 * (root's mailbox is root's), else as local_privs_safe().
 */
const struct local_rights *local_privs_mailbox(const struct local_rights *r);
/* Enter rights from local_privs_mailbox() (root allowed); -1: errno. */
int local_privs_enter_mailbox(const struct local_rights *r);
/*
 * Effective uid with gid as the only group, root included: for the
 * steps of a spool mailbox delivery that need the spool directory's
 * rights (local_mailbox.c) and nothing else. -1: errno.
 */
int local_privs_enter_ids(uid_t uid, gid_t gid);

/* local_msg.c */
/* Look at the message once per request: its Delivered-To: headers. */
void local_msg_begin(struct deliver_request *req);
void local_msg_end(void);
/* Does the message have "Delivered-To: addr" (any case)? */
bool local_msg_delivered_to(const char *addr);
/*
 * The header lines to prepend for a delivery of class hdr_class
 * (LOCAL_CLASS_* or 0 for a mailbox): Return-Path:, X-Original-To:,
 * Delivered-To: as local(8) does. Returns a NULL-terminated array in
 * storage (freed by local_msg_headers_free).
 */
char **local_msg_headers(struct local_state *st, int hdr_class);
void local_msg_headers_free(char **headers);
/* The message source for mbox.h writers; ctx from local_msg_open(). */
struct local_src;
struct local_src *local_msg_open(struct deliver_request *req);
void local_msg_close(struct local_src *src);
int local_msg_next(void *ctx, struct buf *line, struct buf *why);
/* The envelope sender to show ("" for the null sender). */
const char *local_msg_sender(const struct deliver_request *req);

/* local_vars.c */
/*
 * Expand $user $home $shell $recipient $extension $domain $local
 * $recipient_delimiter (also ${name}, ${name?text}, ${name:text}) in
 * pattern for st and user (may be NULL); other names are main.cf
 * parameters. Values are filtered as forward_expansion_filter does.
 * Returns 0, or -1 with why.
 */
int local_vars_expand(struct local_state *st, const struct local_rights *user,
    const char *pattern, struct buf *out, struct buf *why);
/* The unexpanded main.cf value of a parameter ("" when unset). */
const char *local_vars_raw(const char *name);

#endif
