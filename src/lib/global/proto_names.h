/*
 * proto_names.h - names of IPC attributes (attr.h), in one place
 */
#ifndef PETREL_PROTO_NAMES_H
#define PETREL_PROTO_NAMES_H

#define ATTR_REQUEST	"request"	/* what a client asks for */
#define ATTR_STATUS	"status"	/* 0 ok, else an error class */
#define ATTR_REASON	"reason"	/* text for logs and bounces */

/* Lookup tables (proxymap, dict_proxy.h). */
#define ATTR_TABLE	"table"		/* "type:name" */
#define ATTR_FLAGS	"flags"		/* dict flags (dict.h) */
#define ATTR_KEY	"key"		/* lookup key */
#define ATTR_VALUE	"value"		/* lookup result, update value */

/* cleanup (cleanup_proto.h). */
#define ATTR_QUEUE_ID	"queue_id"

/*
 * Message attributes: in the cleanup protocol and in queue files as
 * REC_TYPE_ATTR "name=value" records.
 */
#define MAIL_ATTR_LOG_IDENT	"log_ident"	/* who submitted it */
#define MAIL_ATTR_RWR_CONTEXT	"rewrite_context" /* local or remote */
#define MAIL_ATTR_CLIENT_NAME	"client_name"
#define MAIL_ATTR_CLIENT_ADDR	"client_address"
#define MAIL_ATTR_HELO_NAME	"helo_name"
#define MAIL_ATTR_PROTO_NAME	"protocol_name"	/* SMTP, ESMTP, sendmail */
#define MAIL_ATTR_SUBMIT_UID	"submit_uid"	/* local submission */
#define MAIL_ATTR_FULL_NAME	"full_name"	/* sendmail -F */
#define MAIL_ATTR_ENVID		"envelope_id"	/* DSN ENVID (-V) */
#define MAIL_ATTR_RET		"dsn_ret"	/* DSN RET: full, hdrs */
#define MAIL_ATTR_BODY_TYPE	"body_type"	/* 7BIT, 8BITMIME (-B) */
#define MAIL_ATTR_ENCODING	MAIL_ATTR_BODY_TYPE
/* After the content (cleanup_proto.h): more CLEANUP_FLAG_* bits. */
#define MAIL_ATTR_CLEANUP_FLAGS	"cleanup_flags"

/* trivial-rewrite (rewrite_clnt.h, resolve_clnt.h). */
#define ATTR_RULE	"rule"		/* rewrite context: local, remote */
#define ATTR_ADDR	"address"
#define ATTR_TRANSPORT	"transport"
#define ATTR_NEXTHOP	"nexthop"
#define ATTR_RECIPIENT	"recipient"
#define ATTR_ADDR_CLASS	"class"		/* resolve_clnt.h RESOLVE_CLASS_* */

#endif
