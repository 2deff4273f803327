/*
 * dict_unix.c - unix:passwd.byname and unix:group.byname
 *
 * The system's user and group databases (through NSS, so LDAP or sssd
 * users are found too), formatted as the files would be:
 *
 *	unix:passwd.byname	root -> "root:x:0:0:root:/root:/bin/bash"
 *	unix:group.byname	mail -> "mail:x:8:alice,bob"
 *
 * The password field is always "x": no table hands out a hash. Any other
 * name fails the open. Read-only, lookup only.
 *
 * getpwnam_r()/getgrnam_r() want a caller's buffer; it grows while they
 * say ERANGE, up to DICT_UNIX_MAX_BUF (a group with thousands of members
 * needs more than the usual 1 KB, a loop without a cap would follow a
 * broken NSS module forever). "Not found" is DICT_NOTFOUND; any other
 * error (NSS server down, out of descriptors) is DICT_TEMPFAIL, so mail
 * is deferred instead of bounced for a user who does exist.
 *
 * SECURITY: keys come from the network; they are only passed to the
 * NSS lookups, which take any string.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict_types.h"
#include "mem.h"

#define DICT_UNIX_MIN_BUF	1024
#define DICT_UNIX_MAX_BUF	(16 * 1024 * 1024)

struct dict_unix {
	struct dict d;
	enum dict_result (*fetch)(struct dict *d, const char *key,
	    struct buf *value, struct buf *scratch);
	struct buf scratch;	/* the buffer for the *_r functions */
};

/*
 * POSIX says "not found" is a return of 0 with a NULL result, but some
 * NSS modules return one of these instead (see getpwnam(3)).
 */
static bool
dict_unix_not_found(int err)
{
	return err == 0 || err == ENOENT || err == ESRCH;
}

/* Grow scratch for another try after ERANGE; false at the cap. */
static bool
dict_unix_grow(struct buf *scratch)
{
	size_t want = scratch->cap < DICT_UNIX_MIN_BUF ? DICT_UNIX_MIN_BUF
	    : scratch->cap * 2;

	if (want > DICT_UNIX_MAX_BUF)
		return false;
	buf_reset(scratch);
	buf_reserve(scratch, want);
	return true;
}

static enum dict_result
dict_unix_passwd(struct dict *d, const char *key, struct buf *value,
    struct buf *scratch)
{
	struct passwd pw, *res = NULL;
	int err;

	for (;;) {
		err = getpwnam_r(key, &pw, scratch->data, scratch->cap, &res);
		if (err != ERANGE)
			break;
		if (!dict_unix_grow(scratch))
			return dict_tempfail(d, "table %s: user \"%s\": entry "
			    "larger than %d bytes", d->full_name, key,
			    DICT_UNIX_MAX_BUF);
	}
	if (res == NULL) {
		if (dict_unix_not_found(err))
			return DICT_NOTFOUND;
		return dict_tempfail(d, "table %s: user \"%s\": %s",
		    d->full_name, key, strerror(err));
	}
	buf_printf(value, "%s:x:%lu:%lu:%s:%s:%s", pw.pw_name,
	    (unsigned long)pw.pw_uid, (unsigned long)pw.pw_gid,
	    pw.pw_gecos ? pw.pw_gecos : "", pw.pw_dir ? pw.pw_dir : "",
	    pw.pw_shell ? pw.pw_shell : "");
	return DICT_FOUND;
}

static enum dict_result
dict_unix_group(struct dict *d, const char *key, struct buf *value,
    struct buf *scratch)
{
	struct group gr, *res = NULL;
	char **member;
	int err;

	for (;;) {
		err = getgrnam_r(key, &gr, scratch->data, scratch->cap, &res);
		if (err != ERANGE)
			break;
		if (!dict_unix_grow(scratch))
			return dict_tempfail(d, "table %s: group \"%s\": "
			    "entry larger than %d bytes", d->full_name, key,
			    DICT_UNIX_MAX_BUF);
	}
	if (res == NULL) {
		if (dict_unix_not_found(err))
			return DICT_NOTFOUND;
		return dict_tempfail(d, "table %s: group \"%s\": %s",
		    d->full_name, key, strerror(err));
	}
	buf_printf(value, "%s:x:%lu:", gr.gr_name, (unsigned long)gr.gr_gid);
	for (member = gr.gr_mem; member && *member; member++) {
		if (member != gr.gr_mem)
			buf_putc(value, ',');
		buf_puts(value, *member);
	}
	return DICT_FOUND;
}

static enum dict_result
dict_unix_lookup(struct dict *d, const char *key, struct buf *value)
{
	struct dict_unix *du = (struct dict_unix *)d;

	return du->fetch(d, key, value, &du->scratch);
}

static void
dict_unix_close(struct dict *d)
{
	buf_fini(&((struct dict_unix *)d)->scratch);
	dict_free(d);
}

static struct dict *
dict_unix_open(const char *name, int open_flags, int dict_flags,
    struct buf *why)
{
	static const struct {
		const char *name;
		enum dict_result (*fetch)(struct dict *, const char *,
		    struct buf *, struct buf *);
	} maps[] = {
		{"passwd.byname", dict_unix_passwd},
		{"group.byname", dict_unix_group},
	};
	struct dict_unix *du;
	size_t i;

	if ((open_flags & (O_ACCMODE | O_CREAT | O_TRUNC)) != O_RDONLY) {
		buf_printf(why, "table unix:%s: unix tables are read-only",
		    name);
		return NULL;
	}
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (strcmp(name, maps[i].name) == 0)
			break;
	if (i == sizeof(maps) / sizeof(maps[0])) {
		buf_printf(why, "table unix:%s: unknown table (expected "
		    "unix:passwd.byname or unix:group.byname)", name);
		return NULL;
	}
	du = (struct dict_unix *)dict_alloc(&dict_unix_ops, name, open_flags,
	    dict_flags, sizeof(*du));
	du->fetch = maps[i].fetch;
	buf_init(&du->scratch, DICT_UNIX_MIN_BUF);
	return &du->d;
}

const struct dict_ops dict_unix_ops = {
	.type = "unix",
	.open = dict_unix_open,
	.lookup = dict_unix_lookup,
	.close = dict_unix_close,
};
