/*
 * local_expand.c - local: deliver to a list of destinations
 *
 * An alias value, a .forward file and an :include: file are lists in
 * the syntax of Sendmail's aliases(5): destinations separated by commas
 * or white space (a line that starts with '#' is a comment), where
 * double quotes group what holds blanks or specials ("|cmd arg",
 * "/path with space"), (comments) are dropped and "Name <addr>" is one
 * address. Each destination is one of
 *
 *	|command	run it (local_command.c), when allow_mail_to_commands
 *			names where the list came from (alias, forward,
 *			include)
 *	/file		append to it (local_file.c), when allow_mail_to_files
 *			permits likewise
 *	:include:/path	read more destinations from that file, with the
 *			rights of its owner (the current ones when root
 *			owns it); it must be a regular file, not writable
 *			by others
 *	\user		that user's mailbox, without aliases or .forward
 *	address		put in canonical form (trivial-rewrite: "bob" is
 *			bob@$myorigin) and resolved: an address for this
 *			very transport is delivered one level down
 *			(local.c), any other is forwarded
 *			(local_resubmit.c)
 *
 * Refused commands and files bounce with 5.7.1. Each destination is
 * handled once per recipient (duplicates are dropped), and at most
 * LOCAL_MAX_DEST of them.
 *
 * SECURITY: lists come from tables of the administrator, but also from
 * users' files (.forward, include files they own). Parsing is linear,
 * without recursion, and no destination can grant itself more than the
 * rights and permissions of the list it came from. Include files nest
 * at most LOCAL_MAX_LEVEL deep, and each is read once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "file.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "resolve_clnt.h"
#include "rewrite_clnt.h"
#include "str.h"

static int
local_exp_class(enum local_exp exp)
{
	switch (exp) {
	case LOCAL_EXP_ALIAS:
		return LOCAL_CLASS_ALIAS;
	case LOCAL_EXP_FORWARD:
		return LOCAL_CLASS_FORWARD;
	case LOCAL_EXP_INCLUDE:
		return LOCAL_CLASS_INCLUDE;
	default:
		return 0;
	}
}

/* Insert ext ("+x") at the end of the local part of addr. */
static void
local_expand_propagate(struct buf *out, const char *addr, const char *ext)
{
	const char *at = strrchr(addr, '@');

	buf_reset(out);
	if (addr[0] == '"' || (at != NULL && at == addr)) {
		buf_set(out, addr);
		return;
	}
	if (at == NULL) {
		buf_printf(out, "%s%s", addr, ext);
		return;
	}
	buf_append(out, addr, (size_t)(at - addr));
	buf_printf(out, "%s%s", ext, at);
}

void
local_expand_address(struct local_state *st, const char *addr,
    bool propagate)
{
	struct resolve_reply r;
	struct buf canon, tmp;

	buf_init(&canon, 64);
	buf_init(&tmp, 64);
	if (propagate && st->prop_ext != NULL) {
		local_expand_propagate(&tmp, addr, st->prop_ext);
		addr = tmp.data;
	}
	resolve_reply_init(&r);
	if (rewrite_clnt(REWRITE_LOCAL, addr, &canon) < 0) {
		local_statusf(st, DELIVER_DEFER, addr, "4.3.0",
		    "address rewriting is temporarily unavailable");
		goto out;
	}
	if (resolve_clnt(canon.data, &r) < 0) {
		local_statusf(st, DELIVER_DEFER, canon.data, "4.3.0",
		    "address resolver is temporarily unavailable");
		goto out;
	}
	if (strcmp(r.transport.data, local_service_name) == 0)
		local_recipient(st, r.recipient.data);
	else
		local_resubmit_add(st, canon.data);
out:
	resolve_reply_fini(&r);
	buf_fini(&canon);
	buf_fini(&tmp);
}

/* The rights an include file gives: its owner's; root: the current. */
static void
local_include_rights(struct local_state *st, const struct stat *sb,
    struct local_rights *r)
{
	struct passwd *pw;

	if (sb->st_uid == 0 && st->rights != NULL) {
		local_rights_copy(r, st->rights);
		return;
	}
	if (sb->st_uid != 0 && (pw = getpwuid(sb->st_uid)) != NULL) {
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
		r->name = xstrdup(pw->pw_name);
		r->home = xstrdup(pw->pw_dir ? pw->pw_dir : "/");
		r->shell = xstrdup(pw->pw_shell ? pw->pw_shell : "");
		return;
	}
	local_rights_copy(r, &local_default_privs);
}

static void
local_include(struct local_state *st, const char *path, const char *to)
{
	const struct local_rights *saved_rights = st->rights;
	enum local_exp saved_exp = st->exp;
	const struct local_rights *as;
	struct local_rights owner = {0};
	struct local_rights self = {0};
	struct buf text, from;
	struct stat sb;
	ssize_t got;
	char chunk[8192];
	int fd, err;

	if (path[0] != '/') {
		local_statusf(st, DELIVER_BOUNCE, to, "5.3.5",
		    "include file %s: not an absolute path", path);
		return;
	}
	if (!local_once(st->dl, "include", path))
		return;
	if (st->dl->include_depth >= LOCAL_MAX_LEVEL) {
		local_statusf(st, DELIVER_BOUNCE, to, "5.4.6",
		    "include file %s: nested too deeply", path);
		return;
	}
	buf_init(&text, 512);
	buf_init(&from, 64);
	if (st->rights == NULL) {
		local_rights_copy(&self, &local_default_privs);
		st->rights = &self;
	}
	as = local_privs_safe(st->rights);
	if (local_privs_enter(as) < 0) {
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "cannot switch to uid %lu: %s", (unsigned long)as->uid,
		    strerror(errno));
		goto out;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	err = errno;
	if (fd < 0) {
		local_privs_leave();
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "cannot open include file %s: %s", path, strerror(err));
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		(void)close(fd);
		local_privs_leave();
		local_statusf(st, DELIVER_BOUNCE, to, "5.3.5",
		    "include file %s is not a regular file", path);
		goto out;
	}
	if ((sb.st_mode & S_IWOTH) != 0) {
		(void)close(fd);
		local_privs_leave();
		msg_warn("include file %s is world writable; refused", path);
		local_statusf(st, DELIVER_BOUNCE, to, "5.7.1",
		    "include file %s is world writable", path);
		goto out;
	}
	while ((got = file_read_full(fd, chunk, sizeof(chunk))) > 0
	    && text.len + (size_t)got <= LOCAL_LIST_FILE_LIMIT)
		buf_append(&text, chunk, (size_t)got);
	err = errno;
	(void)close(fd);
	local_privs_leave();
	if (got != 0) {
		if (got > 0)
			local_statusf(st, DELIVER_BOUNCE, to, "5.3.4",
			    "include file %s is larger than %d bytes", path,
			    LOCAL_LIST_FILE_LIMIT);
		else
			local_statusf(st, DELIVER_DEFER, to, "4.3.0",
			    "cannot read include file %s: %s", path,
			    strerror(err));
		goto out;
	}

	local_include_rights(st, &sb, &owner);
	st->rights = &owner;
	st->exp = LOCAL_EXP_INCLUDE;
	buf_printf(&from, "include file %s", path);
	st->dl->include_depth++;
	if (local_expand(st, text.data, text.len, from.data) == 0)
		local_statusf(st, DELIVER_BOUNCE, to, "5.3.0",
		    "include file %s has no destinations", path);
	st->dl->include_depth--;
out:
	st->rights = saved_rights;
	st->exp = saved_exp;
	local_rights_fini(&owner);
	local_rights_fini(&self);
	buf_fini(&text);
	buf_fini(&from);
}

/* Deliver to one destination, as written (word: raw; text: unquoted). */
static void
local_expand_one(struct local_state *st, const char *word, size_t word_len,
    const char *text, const char *from)
{
	const struct local_rights *rights;
	int class = local_exp_class(st->exp);
	struct argv *addrs;
	struct buf to, user;

	buf_init(&to, 64);
	buf_init(&user, 32);
	if (text[0] == '|') {
		buf_set(&to, text);
		if ((local_allow_commands & class) == 0) {
			local_statusf(st, DELIVER_BOUNCE, to.data, "5.7.1",
			    "mail to command is restricted "
			    "(allow_mail_to_commands): \"%s\" in %s", text,
			    from);
		} else if (local_once(st->dl, "command", text)) {
			rights = st->rights ? st->rights : &local_default_privs;
			local_command(st, text + 1, rights,
			    LOCAL_CLASS_COMMAND, to.data);
		}
	} else if (text[0] == '/') {
		if ((local_allow_files & class) == 0) {
			local_statusf(st, DELIVER_BOUNCE, text, "5.7.1",
			    "mail to file is restricted "
			    "(allow_mail_to_files): \"%s\" in %s", text, from);
		} else if (local_once(st->dl, "file", text)) {
			rights = st->rights ? st->rights : &local_default_privs;
			local_file(st, text, rights);
		}
	} else if (strncasecmp(text, ":include:", 9) == 0) {
		local_include(st, text + 9, text);
	} else if (text[0] == '\\') {
		/* \user: the mailbox, no aliases, no .forward. */
		addr_list_quote_local(&user, text + 1, strlen(text + 1));
		if (st->a.domain.len > 0)
			buf_printf(&user, "@%s", st->a.domain.data);
		if (strlen(text + 1) > 0)
			local_recipient_mailbox(st, user.data);
	} else {
		addrs = argv_new();
		if (addr_list_parse(addrs, word, word_len, 1) == 1)
			local_expand_address(st, addrs->argv[0], true);
		else
			msg_warn("%s: %s: no address in \"%s\"; ignored",
			    st->dl->req->queue_id, from, text);
		argv_free(addrs);
	}
	buf_fini(&to);
	buf_fini(&user);
}

/*
 * The lexical scan. Items end at a comma or, when the item holds no
 * <address>, at white space, outside quotes, comments and <>.
 */
struct local_scan {
	const char *p, *end;
};

/* The next item into word (as written, comments dropped); false at end. */
static bool
local_scan_item(struct local_scan *sc, struct buf *word)
{
	const char *p = sc->p, *end = sc->end, *q;
	bool quoted = false, angle_seen = false;
	int angle = 0, paren = 0;

	buf_reset(word);
	/* Skip separators. */
	while (p < end && (*p == ',' || *p == ' ' || *p == '\t'
	    || *p == '\r' || *p == '\n'))
		p++;
	if (p >= end) {
		sc->p = p;
		return false;
	}
	/* Does this comma-separated element hold an <address>? */
	for (q = p; q < end; q++) {
		if (quoted) {
			if (*q == '\\' && q + 1 < end)
				q++;
			else if (*q == '"')
				quoted = false;
		} else if (*q == '"') {
			quoted = true;
		} else if (*q == ',' || *q == '\n') {
			break;
		} else if (*q == '<') {
			angle_seen = true;
			break;
		}
	}
	quoted = false;
	for (; p < end; p++) {
		char c = *p;

		if (quoted) {
			if (c == '\\' && p + 1 < end) {
				buf_putc(word, c);
				c = *++p;
			} else if (c == '"') {
				quoted = false;
			}
			buf_putc(word, c);
			continue;
		}
		if (paren > 0) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '(')
				paren++;
			else if (c == ')')
				paren--;
			continue;
		}
		if (c == '"') {
			quoted = true;
		} else if (c == '(') {
			paren = 1;
			continue;
		} else if (c == '<') {
			angle++;
		} else if (c == '>' && angle > 0) {
			angle--;
		} else if (angle == 0 && (c == ',' || c == '\n'
		    || (!angle_seen && (c == ' ' || c == '\t'
		    || c == '\r')))) {
			break;
		}
		buf_putc(word, c);
	}
	sc->p = p;
	str_trim(word->data);
	word->len = strlen(word->data);
	return true;
}

/* The destination text of a word: unquoted when it is one quoted string. */
static void
local_scan_text(struct buf *text, const struct buf *word)
{
	buf_reset(text);
	if (word->len >= 2 && word->data[0] == '"'
	    && word->data[word->len - 1] == '"') {
		local_addr_unquote(text, word->data, word->len);
		/* "\"joe\"@x" is an address, not a quoted string. */
		if (memchr(text->data, '"', text->len) == NULL
		    || text->data[0] == '|' || text->data[0] == '/')
			return;
	}
	buf_setn(text, word->data, word->len);
	/* \user written without quotes keeps its backslash. */
}

size_t
local_expand(struct local_state *st, const char *text, size_t len,
    const char *from)
{
	struct local_scan sc;
	struct buf word, dest;
	const char *p = text, *end = text + len, *nl;
	size_t count = 0;

	buf_init(&word, 64);
	buf_init(&dest, 64);
	/* Line by line, so that "#" comment lines can be dropped. */
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		sc.p = p;
		while (sc.p < nl && (*sc.p == ' ' || *sc.p == '\t'))
			sc.p++;
		sc.end = nl;
		if (sc.p < nl && *sc.p != '#') {
			while (local_scan_item(&sc, &word)) {
				if (word.len == 0 || memchr(word.data, 0,
				    word.len) != NULL)
					continue;
				local_scan_text(&dest, &word);
				if (dest.len == 0)
					continue;
				count++;
				if (++st->dl->dest_count > LOCAL_MAX_DEST) {
					if (st->dl->dest_count
					    == LOCAL_MAX_DEST + 1)
						local_statusf(st,
						    DELIVER_BOUNCE, NULL,
						    "5.3.0", "too many "
						    "destinations (more than "
						    "%d)", LOCAL_MAX_DEST);
					continue;
				}
				local_expand_one(st, word.data, word.len,
				    dest.data, from);
			}
		}
		p = nl < end ? nl + 1 : end;
	}
	buf_fini(&word);
	buf_fini(&dest);
	return count;
}
