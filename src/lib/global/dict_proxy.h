/*
 * dict_proxy.h - proxy:type:name tables, answered by the proxymap daemon
 *
 * A table named "proxy:lmdb:/etc/petrel/virtual" is opened and searched
 * by proxymap(8) on behalf of the caller, so that many processes share
 * one open table (one SQL connection, one parsed regexp file), and so
 * that a chrooted or unprivileged process can use a table it cannot
 * read. Read-only opens go to the "proxymap" service, opens for writing
 * to "proxywrite"; proxymap serves only the tables listed in
 * proxy_read_maps, proxywrite only those in proxy_write_maps.
 *
 * Programs that open tables call mail_dict_init() once, after loading
 * main.cf (the daemon skeletons and petrel do it), to add the proxy type
 * to the dict registry.
 *
 * Protocol (attr.h messages on private/proxymap or private/proxywrite;
 * one request, one reply; every request names its table, so the server
 * keeps no per-client state):
 *	request=open	table flags		-> status reason
 *	request=lookup	table flags key		-> status reason value
 *	request=update	table flags key value	-> status reason
 *	request=delete	table flags key		-> status reason
 * table is "type:name" without "proxy:"; flags are the dict flags in
 * PROXY_FLAGS_PASSED. status is an enum proxy_stat; reason is empty
 * unless status is PROXY_STAT_TEMPFAIL, PROXY_STAT_DENY or PROXY_STAT_BAD.
 */
#ifndef PETREL_DICT_PROXY_H
#define PETREL_DICT_PROXY_H

#include <stdbool.h>

#include "dict.h"

struct argv;

#define PROXY_SERVICE_READ	"proxymap"
#define PROXY_SERVICE_WRITE	"proxywrite"

/* ATTR_REQUEST values. */
#define PROXY_REQ_OPEN		"open"
#define PROXY_REQ_LOOKUP	"lookup"
#define PROXY_REQ_UPDATE	"update"
#define PROXY_REQ_DELETE	"delete"

enum proxy_stat {
	PROXY_STAT_OK = 0,		/* opened, found, existed */
	PROXY_STAT_NOTFOUND = 1,	/* no such key (update: added) */
	PROXY_STAT_TEMPFAIL = 2,	/* the table failed; see reason */
	PROXY_STAT_DENY = 3,		/* table or operation not allowed */
	PROXY_STAT_BAD = 4,		/* malformed request */
};

/* The dict flags a client passes on; the server ignores all others. */
#define PROXY_FLAGS_PASSED \
	(DICT_FLAG_FOLD | DICT_FLAG_DUP_REPLACE | DICT_FLAG_DUP_IGNORE)

/* Add the proxy type to the dict registry; calling it again is harmless. */
void dict_proxy_register(void);
/* Everything the global library adds to lib/dict (today: proxy). */
void mail_dict_init(void);

/*
 * Split a table list such as proxy_read_maps (already $-expanded) into
 * entries: separators are commas and whitespace outside {} (so
 * "inline:{a=b, c=d}" is one entry); one leading "proxy:" is removed
 * (an entry "proxy:lmdb:/x" approves "lmdb:/x"); words without ':' are
 * skipped. The caller frees the result with argv_free().
 */
struct argv *dict_proxy_split_maps(const char *list);
/* True when table ("type:name", as the client wrote it) is in maps. */
bool dict_proxy_listed(const struct argv *maps, const char *table);

#endif
