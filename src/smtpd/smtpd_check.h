/*
 * smtpd_check.h - the restriction engine's private parts
 *
 *	smtpd_check_parse.c	pure parts, unit-tested without a server:
 *				the restriction names, restriction list
 *				parsing, access(5) results, reply texts and
 *				their enhanced status codes, access(5) lookup
 *				keys, DNS list arguments, reply templates
 *	smtpd_check.c		the engine: configuration, sessions, the
 *				stages, generic restrictions
 *	smtpd_check_access.c	access(5) tables
 *	smtpd_check_addr.c	address classes and recipient tables
 *	smtpd_check_dns.c	restrictions that ask the DNS
 *	smtpd_check_policy.c	check_policy_service (policy servers)
 *	smtpd_dns.c		the process's resolver
 *
 * A restriction list ("permit_mynetworks, check_client_access
 * hash:/etc/access, reject") is parsed once into a struct check_list of
 * items; each item is a built-in restriction (struct check_def) with its
 * argument (a table, a DNS list), or a restriction class (a named list
 * from smtpd_restriction_classes). Access table results that name
 * restrictions are parsed the same way when they are found.
 *
 * Evaluation gives each restriction one of three results: DUNNO (no
 * decision, go on), OK (the list permits; the next list still runs) or
 * REJECT (the command is refused; the reply is in the evaluation).
 */
#ifndef PETREL_SMTPD_CHECK_H
#define PETREL_SMTPD_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct argv;
struct check_policy;
struct dict;
struct dns_reply;
struct htable;
struct smtpd_state;

/* ---- restrictions (smtpd_check_parse.c) -------------------------------- */

enum check_id {
	CHK_PERMIT,
	CHK_REJECT,
	CHK_DEFER,
	CHK_DEFER_IF_PERMIT,
	CHK_DEFER_IF_REJECT,
	CHK_WARN_IF_REJECT,
	CHK_PERMIT_MYNETWORKS,
	CHK_PERMIT_SASL_AUTH,
	CHK_UNAUTH_PIPELINING,
	CHK_CLIENT_ACCESS,
	CHK_REVERSE_CLIENT_ACCESS,
	CHK_HELO_ACCESS,
	CHK_SENDER_ACCESS,
	CHK_RECIPIENT_ACCESS,
	CHK_ETRN_ACCESS,
	CHK_UNKNOWN_CLIENT,
	CHK_UNKNOWN_REVERSE_CLIENT,
	CHK_INVALID_HELO,
	CHK_NON_FQDN_HELO,
	CHK_UNKNOWN_HELO,
	CHK_NON_FQDN_SENDER,
	CHK_NON_FQDN_RECIPIENT,
	CHK_UNKNOWN_SENDER_DOMAIN,
	CHK_UNKNOWN_RECIPIENT_DOMAIN,
	CHK_UNLISTED_SENDER,
	CHK_UNLISTED_RECIPIENT,
	CHK_UNAUTH_DESTINATION,
	CHK_DEFER_UNAUTH_DESTINATION,
	CHK_PERMIT_AUTH_DESTINATION,
	CHK_MULTI_RECIPIENT_BOUNCE,
	CHK_RBL_CLIENT,
	CHK_RHSBL_CLIENT,
	CHK_RHSBL_REVERSE_CLIENT,
	CHK_RHSBL_HELO,
	CHK_RHSBL_SENDER,
	CHK_RHSBL_RECIPIENT,
	CHK_DNSWL_CLIENT,
	CHK_POLICY_SERVICE,
};

/* check_def flags */
#define CHECK_F_TABLE	(1 << 0)	/* argument: a type:name table */
#define CHECK_F_DNSXL	(1 << 1)	/* argument: domain[=d.d.d.d] */
#define CHECK_F_RELAY	(1 << 2)	/* refuses relaying by default */
#define CHECK_F_POLICY	(1 << 3)	/* argument: a policy server */

struct check_def {
	const char *name;
	enum check_id id;
	int flags;
};

/* The built-in restriction called name (any case), or NULL. */
const struct check_def *check_def_find(const char *name);

/* A DNS list argument "domain" or "domain=d.d.d.d". */
struct check_dnsxl {
	char *arg;		/* as written, "list.example=127.0.0.2" */
	char *domain;		/* "list.example" */
	bool filtered;		/* "=..." given */
	uint8_t allow[4][32];	/* per octet: a bitmap of allowed values */
};

/*
 * Parse "domain[=filter]": each of the four filter octets is a number or
 * "[...]" holding ";"-separated numbers and "n..m" ranges (0..255).
 * NULL with why set when malformed.
 */
struct check_dnsxl *check_dnsxl_parse(const char *arg, struct buf *why);
void check_dnsxl_free(struct check_dnsxl *x);		/* accepts NULL */
/* Does the IPv4 address text of an A record pass the filter? */
bool check_dnsxl_match(const struct check_dnsxl *x, const char *a);
/*
 * The DNS list query for a client address: "4.3.2.1.domain" for
 * 1.2.3.4, 32 reversed nibbles for IPv6. false when addr is neither.
 */
bool check_dnsxl_addr_query(struct buf *out, const char *addr,
    const char *domain);

struct check_list;

/* One restriction of a list. */
struct check_item {
	const struct check_def *def;	/* NULL: a restriction class */
	struct check_list *cls;		/* the class (def == NULL) */
	struct dict *table;		/* CHECK_F_TABLE */
	char *table_name;		/* CHECK_F_TABLE: "type:name" */
	struct check_dnsxl *dnsxl;	/* CHECK_F_DNSXL */
	struct check_policy *policy;	/* CHECK_F_POLICY */
};

struct check_list {
	char *name;		/* parameter or class name, for messages */
	struct check_item *items;
	size_t count;
};

/*
 * How the parser finds restriction classes and tables. class_find
 * returns the class called name (any case) or NULL; table_find returns
 * the table, or NULL with why set (at run time only tables that were
 * opened at startup are available); policy_find does the same for the
 * argument of check_policy_service (NULL: not available).
 */
struct check_parser {
	struct check_list *(*class_find)(void *ctx, const char *name);
	struct dict *(*table_find)(void *ctx, const char *name,
	    struct buf *why);
	struct check_policy *(*policy_find)(void *ctx, const char *arg,
	    struct buf *why);
	void *ctx;
};

/*
 * Parse a restriction list (commas and/or white space; a restriction
 * that takes an argument takes the next word) into a new list named
 * name. NULL with why set ("unknown restriction \"x\"", "restriction
 * check_client_access needs a table (type:name)", ...).
 */
struct check_list *check_list_parse(const char *name, const char *value,
    const struct check_parser *p, struct buf *why);
/* Free a list; classes it names are not freed (accepts NULL). */
void check_list_free(struct check_list *l);
/*
 * Does the list refuse relaying by default: does it name reject, defer,
 * defer_if_permit, reject_unauth_destination or defer_unauth_destination
 * (directly or through a class) before an unconditional permit?
 */
bool check_list_protects(const struct check_list *l);

/* ---- access(5) results ------------------------------------------------- */

enum check_access_action {
	ACCESS_OK,		/* OK, or all digits */
	ACCESS_REJECT,
	ACCESS_DEFER,
	ACCESS_DEFER_IF_REJECT,
	ACCESS_DEFER_IF_PERMIT,
	ACCESS_CODE,		/* 4NN/5NN text */
	ACCESS_DISCARD,
	ACCESS_HOLD,
	ACCESS_REDIRECT,
	ACCESS_PREPEND,
	ACCESS_WARN,
	ACCESS_INFO,
	ACCESS_DUNNO,
	ACCESS_FILTER,
	ACCESS_BCC,
	ACCESS_RESTRICTIONS,	/* anything else: restriction names */
	ACCESS_BAD,		/* a code outside 400..599 */
};

struct check_access {
	enum check_access_action action;
	int code;		/* ACCESS_CODE */
	const char *text;	/* after the action word; "" when none;
				 * ACCESS_RESTRICTIONS: the whole value */
};

/* Classify a table result (no allocation; text points into value). */
void check_access_parse(const char *value, struct check_access *out);

/* ---- replies ----------------------------------------------------------- */

/* What a reply refuses: decides the detail of its enhanced code. */
enum check_kind {
	CHECK_KIND_OTHER,	/* client, HELO, DATA, ...: X.1.Y -> X.0.0 */
	CHECK_KIND_SENDER,	/* X.1.1 -> X.1.0, X.1.2 -> X.1.8, ... */
	CHECK_KIND_RECIPIENT,	/* X.1.7 -> X.1.3, X.1.8 -> X.1.2 */
};

/*
 * Length of the RFC 3463 status code ("5.7.1", "4.1.10") at the start of
 * text, when it is followed by a space or the end; 0 when there is none.
 */
size_t check_dsn_len(const char *text);
/*
 * Append "code x.y.z text" to out. dsn is the default enhanced code;
 * when text starts with one (and a space), that one is used and removed
 * from text. The class digit of the code becomes the reply's (4 or 5),
 * the detail is adjusted to kind as access(5) describes.
 */
void check_reply_format(struct buf *out, int code, const char *dsn,
    enum check_kind kind, const char *text);
/*
 * A finished reply "ddd text" from a template (RBL replies): a valid
 * 4xx/5xx code must start it; an enhanced code is inserted after it
 * when missing (dsn), and adjusted as above. false when the code is
 * missing or out of range.
 */
bool check_reply_fix(struct buf *out, const char *reply, const char *dsn,
    enum check_kind kind);

/*
 * Expand $name, ${name}, $(name), ${name?text}, ${name:text},
 * ${name?{text}}, ${name:{text}}, ${name?{text1}:{text2}} and $$ in
 * tmpl with values from lookup (NULL: unknown name, an error). Values
 * are inserted as they are, never expanded again. Appends to out;
 * false with why set on a syntax error or an unknown name.
 */
typedef const char *(*check_lookup_fn)(void *ctx, const char *name);
bool check_expand(struct buf *out, const char *tmpl, check_lookup_fn lookup,
    void *ctx, struct buf *why);

/* ---- access(5) lookup keys --------------------------------------------- */

/*
 * The keys of a host or domain name, in lookup order: the name, then
 * each parent domain ("b.example", "example" when parent_matches, else
 * ".b.example", ".example"). An address literal ("[192.0.2.1]") is
 * only itself. Added to keys.
 */
void check_domain_keys(struct argv *keys, const char *name,
    bool parent_matches);
/*
 * The keys of a client address: "192.0.2.1", "192.0.2", "192.0", "192";
 * "2001:db8:1::5", "2001:db8:1:", ... without the ones that end in ':'.
 */
void check_addr_keys(struct argv *keys, const char *addr);
/*
 * The keys of a mail address (external form) as access(5) orders them:
 * user+ext@domain, user@domain, domain and its parents (as above),
 * user+ext@, user@ (the extension split at recipient_delimiter).
 */
void check_mail_keys(struct argv *keys, const char *addr,
    bool parent_matches);
/* Is table a pattern table (regexp, pcre, cidr): whole keys only? */
bool check_table_is_pattern(const char *table_name);

/* ---- names ------------------------------------------------------------- */

/*
 * Is name a valid HELO host name or address literal for
 * reject_invalid_helo_hostname: letters, digits, '-', '_' and '.'
 * labels (or "[address]")?
 */
bool check_helo_valid(const char *name);
/* Is name fully qualified (has a dot, not a bare label), or a literal? */
bool check_name_fqdn(const char *name);
/* A "[...]" address literal (IPv4, or "IPv6:..." with a valid address)? */
bool check_addr_literal(const char *name);

/* ---- the engine (smtpd_check.c) ---------------------------------------- */

enum check_result {
	CHECK_DUNNO,
	CHECK_OK,
	CHECK_REJECT,
};

/* A deferred decision (defer_if_permit, defer_if_reject). */
struct check_defer {
	bool active;
	struct buf reply;
};

/* Per session (st->check). */
struct check_session {
	char *helo;			/* the HELO/EHLO argument */
	char *sender;			/* the MAIL FROM address */
	/* defer_if_permit results of lists run early (delay_reject no) */
	struct check_defer dip_client, dip_helo, dip_sender;
	bool sender_maps_ok;		/* implicit unlisted sender passed */
	struct buf reply;		/* what smtpd_check_*() returns */
	struct htable *resolved;	/* address -> struct check_resolved */
	struct htable *dns;		/* "type:name" -> struct dns_reply */
	char *policy_instance;		/* of the transaction, or NULL */
};

/* One evaluation: the restrictions of one command. */
struct check_eval {
	struct smtpd_state *st;
	struct check_session *cs;
	const char *helo;	/* NULL: no HELO/EHLO */
	const char *sender;	/* NULL: no MAIL FROM; "" null sender */
	const char *recipient;	/* NULL: none */
	const char *etrn;	/* the ETRN domain, or NULL */
	bool eod;		/* end of data: no PREPEND */
	int depth;		/* nesting (classes, table results) */
	int warn_if_reject;	/* depth that set it; 0: off */
	struct check_defer dip;	/* defer_if_permit */
	struct check_defer dir;	/* defer_if_reject */
	struct buf *reply;	/* the reply of a REJECT */
	bool at_rcpt;		/* the RCPT (not DATA ...) command */
	bool rcpt_maps_done;	/* reject_unlisted_recipient ran */
	bool sender_maps_done;	/* reject_unlisted_sender ran */
};

/*
 * Refuse: log "reject" (or "reject_warning" after warn_if_reject, which
 * makes the result DUNNO), honour defer_if_reject. text is formatted as
 * check_reply_format() does.
 */
enum check_result check_reject(struct check_eval *ev, int code,
    const char *dsn, enum check_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/*
 * Refuse with a finished "ddd x.y.z text" reply as it is: log "reject";
 * no warn_if_reject or defer_if_reject (smtpd_check_reply.c).
 */
enum check_result check_refuse(struct check_eval *ev, const char *reply);
/* check_reject() for a finished "ddd x.y.z text" reply. */
enum check_result check_reject_reply(struct check_eval *ev,
    const char *reply);
/* Remember a defer_if_permit reply (first one wins); DUNNO. */
enum check_result check_defer_if_permit(struct check_eval *ev, int code,
    const char *dsn, enum check_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The same for defer_if_reject. */
enum check_result check_defer_if_reject(struct check_eval *ev, int code,
    const char *dsn, enum check_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* *_tempfail_action values */
enum check_tempfail {
	CHECK_TF_DEFER,			/* defer now */
	CHECK_TF_DEFER_IF_PERMIT,	/* defer unless rejected later */
};

/* Act on a temporary failure as action says (450 reply text). */
enum check_result check_tempfail(struct check_eval *ev,
    enum check_tempfail action, const char *dsn, enum check_kind kind,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "451 4.3.0 <name>: Temporary lookup failure": not subject to warn_if_reject. */
enum check_result check_lookup_failure(struct check_eval *ev,
    const char *name);
/* "451 4.3.5 Server configuration error", with the cause logged. */
enum check_result check_config_error(struct check_eval *ev,
    const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An address as trivial-rewrite resolves it (cached per session). */
struct check_resolved {
	int addr_class;		/* enum resolve_class */
	char *recipient;	/* "user@domain", canonical */
	bool routed;		/* non-local with routing in the local part */
};

/*
 * Resolve addr; NULL when trivial-rewrite failed (the evaluation then
 * holds a REJECT with "451 4.3.0 <addr>: Temporary lookup failure").
 */
const struct check_resolved *check_resolve(struct check_eval *ev,
    const char *addr);
/*
 * permit_auth_destination for addr: 1 authorized, 0 not, -1 resolve
 * failed (REJECT already recorded, as check_resolve()).
 */
int check_auth_destination(struct check_eval *ev, const char *addr);
/*
 * A permit that must not open a relay (permit_dnswl_client, DISCARD):
 * OK, or DUNNO at RCPT for a destination that is not authorized.
 */
enum check_result check_permit_safe(struct check_eval *ev);

/* The tempfail actions, parsed at startup. */
extern enum check_tempfail check_tf_reject;
extern enum check_tempfail check_tf_unknown_address;
extern enum check_tempfail check_tf_unknown_helo;
/* parent_domain_matches_subdomains names smtpd_access_maps. */
extern bool check_parent_matches;
/* The parser for table results: only tables opened at startup. */
extern const struct check_parser check_run_parser;

/*
 * Run list l; name and class make the replies of its generic
 * restrictions ("<name>: class rejected: ..."), kind their status codes.
 */
enum check_result check_list_run(struct check_eval *ev,
    const struct check_list *l, const char *name, const char *class,
    enum check_kind kind);

/* ---- access tables (smtpd_check_access.c) ------------------------------ */

/* check_{client,reverse_client_hostname,helo,etrn,sender,recipient}_access */
enum check_result check_access_restriction(struct check_eval *ev,
    const struct check_item *it);
/*
 * Act on an access(5) result value that source ("access table
 * hash:/etc/x" or "policy server inet:host:port", for messages) gave
 * about name: permit, refuse, defer,
 * HOLD, PREPEND, ..., or run the restrictions it names. allow_ok false:
 * OK is only logged (the unverified client name).
 */
enum check_result check_access_result(struct check_eval *ev,
    const char *source, const char *value, const char *name,
    const char *class, enum check_kind kind, bool allow_ok);

/* ---- policy servers (smtpd_check_policy.c) ----------------------------- */

/*
 * The server of a check_policy_service argument (as written: a server
 * name or "{ server, settings }"). Servers are set up once at startup:
 * with startup set (the parser that may open tables and servers, for
 * its default_action) an unknown argument is parsed and registered;
 * without, only registered ones are found. NULL with why set.
 */
struct check_policy *check_policy_find(const char *arg,
    const struct check_parser *startup, struct buf *why);
/* check_policy_service: ask the server, apply its action. */
enum check_result check_policy_restriction(struct check_eval *ev,
    const struct check_item *it, const char *name, const char *class,
    enum check_kind kind);

/* ---- addresses (smtpd_check_addr.c) ------------------------------------ */

/* Open the recipient tables (startup). */
void check_addr_init(void);
/* Free a struct check_resolved (htable_free() callback). */
void check_resolved_free(void *ptr);
/*
 * reject_unlisted_recipient/_sender for addr: "<addr>: class rejected:
 * User unknown in ... table" when its class's tables do not list it.
 */
enum check_result check_rcpt_maps(struct check_eval *ev, const char *addr,
    const char *class, enum check_kind kind);
/* The domain of an address (after the last unquoted '@'), or "". */
const char *check_addr_domain(const char *addr);

/* ---- DNS restrictions (smtpd_check_dns.c) ------------------------------ */

/* Open rbl_reply_maps (startup). */
void check_dns_init(void);
/*
 * Run a DNS restriction (CHK_RBL_CLIENT ... CHK_DNSWL_CLIENT,
 * CHK_UNKNOWN_*). reply_name and reply_class are the list's.
 */
enum check_result check_dns_restriction(struct check_eval *ev,
    const struct check_item *item);

/*
 * A DNS lookup through the session's cache (a session asks each name
 * once). The reply belongs to the cache.
 */
const struct dns_reply *check_dns_cached(struct check_eval *ev,
    const char *name, int type);

/* ---- the resolver (smtpd_dns.c) ---------------------------------------- */

/* Create the resolver now (before chroot), fatal on a bad dns_servers. */
void smtpd_dns_init(void);

#endif
