/*
 * local_addr.c - local: take a recipient address apart
 *
 * local_addr_parse() splits an address in external form
 * ("\"john smith\"+x@Example.COM") into what the local agent looks up:
 * the unquoted local part, lowercased ("john smith+x"), the domain
 * ("example.com"), the user part without the address extension and the
 * extension, split as mail_addr_split_ext() does it (recipient_delimiter,
 * not for postmaster, owner-* ...).
 *
 * SECURITY: addresses come from the queue file, alias tables and users'
 * .forward files. Nothing here is used as a path: the password file's
 * own name is (local_mailbox.c).
 */
#include <string.h>

#include "buf.h"
#include "local.h"
#include "mail_addr_find.h"
#include "str.h"

void
local_addr_init(struct local_addr *a)
{
	buf_init(&a->local, 32);
	buf_init(&a->domain, 32);
	buf_init(&a->user, 32);
	buf_init(&a->ext, 16);
	buf_init(&a->delim, 4);
}

void
local_addr_fini(struct local_addr *a)
{
	buf_fini(&a->local);
	buf_fini(&a->domain);
	buf_fini(&a->user);
	buf_fini(&a->ext);
	buf_fini(&a->delim);
}

void
local_addr_unquote(struct buf *out, const char *p, size_t len)
{
	bool quoted = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (quoted && p[i] == '\\' && i + 1 < len)
			buf_putc(out, p[++i]);
		else if (p[i] == '"')
			quoted = !quoted;
		else
			buf_putc(out, p[i]);
	}
}

void
local_addr_parse(struct local_addr *a, const char *addr)
{
	size_t len = strlen(addr), at = mail_addr_find_at(addr, len);
	struct buf bare, ext;

	buf_reset(&a->local);
	buf_reset(&a->domain);
	buf_reset(&a->user);
	buf_reset(&a->ext);
	buf_reset(&a->delim);
	local_addr_unquote(&a->local, addr, at);
	str_lower(a->local.data);
	if (at < len)
		buf_set(&a->domain, addr + at + 1);
	str_lower(a->domain.data);

	buf_init(&bare, 32);
	buf_init(&ext, 16);
	if (mail_addr_split_ext(addr, &bare, &ext) && ext.len > 0) {
		local_addr_unquote(&a->user, bare.data,
		    mail_addr_find_at(bare.data, bare.len));
		str_lower(a->user.data);
		buf_setn(&a->delim, ext.data, 1);
		buf_setn(&a->ext, ext.data + 1, ext.len - 1);
	} else {
		buf_setn(&a->user, a->local.data, a->local.len);
	}
	buf_fini(&bare);
	buf_fini(&ext);
}
