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

#endif
