/*
 * local_vars.c - local: $name expansion of forward_path and luser_relay
 *
 * forward_path, luser_relay (and mailbox_command, which is not expanded
 * at all) are read unexpanded from main.cf (local_vars_raw()): the
 * configuration loader would otherwise expand $home and friends to
 * nothing. local_vars_expand() then expands them for one recipient:
 *
 *	$user		the recipient's login name (the user part of the
 *			address when there is no password entry)
 *	$home $shell	from the password file ("" without)
 *	$recipient	the whole address
 *	$local		the local part, extension included
 *	$extension	the address extension, without delimiter
 *	$recipient_delimiter	the delimiter found in the address
 *	$domain		the domain
 * also as ${name} or $(name), ${name?text} (text when name is not
 * empty), ${name:text} (text when name is empty) with text expanded in
 * turn, and $$ for a '$'. Other names are main.cf parameters.
 *
 * SECURITY: the address parts come from outside. Their characters
 * outside Postfix's forward_expansion_filter default (letters, digits
 * and !@%-_=+:,./) become '_', so an extension cannot bring shell or
 * path syntax of its own (a slash stays, as in Postfix: the .forward
 * found must still pass the owner and mode checks).
 */
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "local.h"

#define LOCAL_VARS_DEPTH	20

static const char local_vars_ok[] =
    "1234567890!@%-_=+:,./"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

struct local_vars {
	struct local_state *st;
	const struct local_rights *user;
	struct buf *why;
	int depth;
};

const char *
local_vars_raw(const char *name)
{
	const struct conf *c = conf_current();
	const char *raw = c != NULL ? conf_raw(c, name) : NULL;

	return raw != NULL ? raw : "";
}

static void
local_vars_filtered(struct buf *out, const char *value)
{
	for (; *value != 0; value++)
		buf_putc(out, strchr(local_vars_ok, *value) != NULL
		    ? *value : '_');
}

/*
 * The value of name[0..len) into val; *filter says whether it is outside
 * data. Returns 0, or -1 with why.
 */
static int
local_vars_value(struct local_vars *v, const char *name, size_t len,
    struct buf *val, bool *filter)
{
	static const char *const names[] = {
		"user", "home", "shell", "recipient", "local", "extension",
		"recipient_delimiter", "domain",
	};
	const struct local_state *st = v->st;
	const struct local_rights *u = v->user;
	const char *value = NULL;
	struct buf pname;
	size_t i;
	int ret = 0;

	buf_reset(val);
	*filter = true;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			break;
	switch (i) {
	case 0:
		value = u != NULL ? u->name : st->a.user.data;
		break;
	case 1:
		value = u != NULL ? u->home : "";
		break;
	case 2:
		value = u != NULL ? u->shell : "";
		break;
	case 3:
		value = st->addr;
		break;
	case 4:
		value = st->a.local.data;
		break;
	case 5:
		value = st->a.ext.data;
		break;
	case 6:
		value = st->a.delim.data;
		break;
	case 7:
		value = st->a.domain.data;
		break;
	default:
		*filter = false;
		buf_init(&pname, 32);
		buf_setn(&pname, name, len);
		if (conf_current() != NULL
		    && conf_raw(conf_current(), pname.data) != NULL)
			ret = conf_eval(conf_current(), pname.data, val,
			    v->why);
		buf_fini(&pname);
		return ret;
	}
	buf_puts(val, value);
	return 0;
}

static bool
local_vars_namech(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_';
}

static int
local_vars_run(struct local_vars *v, const char *p, const char *end,
    struct buf *out)
{
	const char *name, *name_end, *close, *text;
	struct buf val;
	bool filter;
	char open, shut, op;
	int nest, ret = 0;

	if (++v->depth > LOCAL_VARS_DEPTH) {
		buf_set(v->why, "expansion nested too deeply");
		return -1;
	}
	buf_init(&val, 64);
	while (p < end && ret == 0) {
		if (*p != '$' || p + 1 >= end) {
			buf_putc(out, *p++);
			continue;
		}
		p++;
		if (*p == '$') {
			buf_putc(out, *p++);
			continue;
		}
		op = 0;
		if (*p == '{' || *p == '(') {
			open = *p;
			shut = open == '{' ? '}' : ')';
			for (nest = 1, close = p + 1; close < end; close++) {
				if (*close == open)
					nest++;
				else if (*close == shut && --nest == 0)
					break;
			}
			if (close >= end) {
				buf_printf(v->why, "missing '%c' in \"%.*s\"",
				    shut, (int)(end - p), p);
				ret = -1;
				break;
			}
			name = p + 1;
			for (name_end = name; name_end < close
			    && local_vars_namech(*name_end); name_end++)
				;
			if (name_end == name || (name_end < close
			    && *name_end != '?' && *name_end != ':')) {
				buf_printf(v->why, "bad expression \"%.*s\"",
				    (int)(close + 1 - (p - 1)), p - 1);
				ret = -1;
				break;
			}
			if (name_end < close)
				op = *name_end;
			text = name_end + 1;
			p = close + 1;
		} else {
			name = p;
			for (name_end = name; name_end < end
			    && local_vars_namech(*name_end); name_end++)
				;
			if (name_end == name) {
				buf_putc(out, '$');
				continue;
			}
			close = text = name_end;
			p = name_end;
		}
		if ((ret = local_vars_value(v, name, (size_t)(name_end - name),
		    &val, &filter)) < 0)
			break;
		if (op == 0) {
			if (filter)
				local_vars_filtered(out, val.data);
			else
				buf_append(out, val.data, val.len);
		} else if ((op == '?') == (val.len > 0)) {
			ret = local_vars_run(v, text, close, out);
		}
	}
	buf_fini(&val);
	v->depth--;
	return ret;
}

int
local_vars_expand(struct local_state *st, const struct local_rights *user,
    const char *pattern, struct buf *out, struct buf *why)
{
	struct local_vars v = {.st = st, .user = user, .why = why};

	buf_reset(out);
	buf_reset(why);
	return local_vars_run(&v, pattern, pattern + strlen(pattern), out);
}
