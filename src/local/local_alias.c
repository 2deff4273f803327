/*
 * local_alias.c - local: alias_maps
 *
 * The local part of the address (lowercased) is looked up in alias_maps
 * (a list of tables searched as one: dict_maps.h), then, when it has an
 * address extension, the local part without it (bob+list: "bob+list",
 * then "bob"); the first hit wins.
 * With "alias" in propagate_unmatched_extensions, a hit without the
 * extension passes it on to the addresses of the value.
 *
 * The value is a list of destinations (local_expand.c). What it names
 * runs with the rights of the table's owner, default_privs when root
 * owns the table or when it is not a file (a table that does not say
 * who owns it). With owner_request_special, when an "owner-NAME" alias
 * exists, mail forwarded on behalf of alias NAME gets the envelope
 * sender owner-NAME@$myorigin (so that problems go to the list owner).
 *
 * A table that fails defers the recipient ("4.3.0 alias database
 * unavailable"); a hit whose value names nothing bounces.
 *
 * SECURITY: the key is outside data but only looked up (dict.h bounds
 * its length); values come from the administrator's tables.
 */
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "dict.h"
#include "dict_maps.h"
#include "local.h"
#include "mail_addr_find.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "rewrite_clnt.h"

/*
 * The rights an alias table gives: its owner's, default_privs for root
 * or when unknown. r receives copies.
 */
static void
local_alias_rights(const struct dict *d, struct local_rights *r)
{
	struct passwd *pw;
	uid_t uid = d->watching ? d->watch_st.st_uid : 0;

	if (uid != 0 && (pw = getpwuid(uid)) != NULL) {
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
		r->name = xstrdup(pw->pw_name);
		r->home = xstrdup(pw->pw_dir ? pw->pw_dir : "/");
		r->shell = xstrdup(pw->pw_shell ? pw->pw_shell : "");
		return;
	}
	if (uid != 0)
		msg_warn("alias table %s: owner uid %lu has no password entry; "
		    "using default_privs", d->full_name, (unsigned long)uid);
	local_rights_copy(r, &local_default_privs);
}

/*
 * Look key up in alias_maps: 1 found (value, and in *dp the table that
 * holds it), 0 not, -1 failed (why: "alias_maps: type:name: reason").
 */
static int
local_alias_find(const char *key, struct buf *value, struct dict **dp,
    struct buf *why)
{
	switch (dict_lookup(local_alias_maps, key, value)) {
	case DICT_FOUND:
		if (dp != NULL)
			*dp = dict_maps_last(local_alias_maps);
		return 1;
	case DICT_TEMPFAIL:
		buf_set(why, dict_error(local_alias_maps));
		return -1;
	case DICT_NOTFOUND:
		break;
	}
	return 0;
}

int
local_alias_exists(const char *name, struct buf *why)
{
	struct buf value;
	int rc;

	buf_init(&value, 64);
	rc = local_alias_find(name, &value, NULL, why);
	buf_fini(&value);
	return rc;
}

/*
 * The canonical owner-NAME address into owner when that alias exists
 * (else owner is empty). Returns 0, or -1 after deferring st.
 */
static int
local_alias_owner(struct local_state *st, const char *name,
    struct buf *owner)
{
	struct buf key, why;
	int rc;

	buf_init(&key, 64);
	buf_init(&why, 64);
	buf_reset(owner);
	buf_printf(&key, "owner-%s", name);
	if ((rc = local_alias_exists(key.data, &why)) < 0) {
		msg_warn("alias lookup of %s: %s", key.data, why.data);
		local_statusf(st, DELIVER_DEFER, NULL, "4.3.0",
		    "alias database unavailable");
	} else if (rc > 0 && rewrite_clnt(REWRITE_LOCAL, key.data, owner) < 0) {
		local_statusf(st, DELIVER_DEFER, NULL, "4.3.0",
		    "address rewriting is temporarily unavailable");
		rc = -1;
	}
	buf_fini(&key);
	buf_fini(&why);
	return rc < 0 ? -1 : 0;
}

bool
local_alias(struct local_state *st)
{
	struct local_rights rights = {0};
	struct buf value, why, key, owner, from;
	const char *saved_owner = st->owner;
	struct dict *d = NULL;
	bool handled = true, propagate = false;
	int rc;

	if (dict_maps_count(local_alias_maps) == 0)
		return false;
	buf_init(&value, 128);
	buf_init(&why, 64);
	buf_init(&key, 64);
	buf_init(&owner, 64);
	buf_init(&from, 64);

	buf_set(&key, st->a.local.data);
	rc = local_alias_find(key.data, &value, &d, &why);
	if (rc == 0 && st->a.delim.len > 0) {
		buf_set(&key, st->a.user.data);
		rc = local_alias_find(key.data, &value, &d, &why);
		propagate = rc > 0 && mail_addr_propagate("alias");
	}
	if (rc < 0) {
		msg_warn("alias lookup of %s: %s", key.data, why.data);
		local_statusf(st, DELIVER_DEFER, NULL, "4.3.0",
		    "alias database unavailable");
		goto out;
	}
	if (rc == 0) {
		handled = false;
		goto out;
	}

	/* owner-NAME: the sender of what this alias forwards. */
	if (var_owner_request_special && strncmp(key.data, "owner-", 6) != 0) {
		if (local_alias_owner(st, key.data, &owner) < 0)
			goto out;
		if (owner.len > 0)
			st->owner = owner.data;
	}

	local_alias_rights(d, &rights);
	st->exp = LOCAL_EXP_ALIAS;
	st->rights = &rights;
	if (propagate) {
		buf_reset(&why);
		buf_printf(&why, "%s%s", st->a.delim.data, st->a.ext.data);
		st->prop_ext = why.data;
	}
	buf_printf(&from, "alias %s", key.data);
	if (local_expand(st, value.data, value.len, from.data) == 0)
		local_statusf(st, DELIVER_BOUNCE, NULL, "5.3.0",
		    "alias %s expands to nothing", key.data);
	st->rights = NULL;
	st->prop_ext = NULL;

out:
	st->owner = saved_owner;
	local_rights_fini(&rights);
	buf_fini(&value);
	buf_fini(&why);
	buf_fini(&key);
	buf_fini(&owner);
	buf_fini(&from);
	return handled;
}
