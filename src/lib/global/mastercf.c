/*
 * mastercf.c - parse master.cf, the table of services that master runs
 *
 * mastercf_read() and mastercf_parse() cut the text into logical entries
 * (a line that starts with whitespace continues the entry; blank and
 * comment lines are skipped and do not end it), hand each entry to
 * mastercf_parse_entry() and reject two entries for one endpoint. Every
 * error is reported, so that one "petrel check" shows them all.
 *
 * An entry is eight whitespace-separated columns, then arguments. In the
 * arguments, "{ text }" is one argument (Postfix 3.0), and "-o" settings
 * become overrides. "-o" is recognized only before the first argument
 * that does not start with "-": the daemons parse their options with
 * getopt, which stops there, so a later "-o" belongs to the program
 * (pipe's "argv=/usr/bin/foo -o bar").
 *
 * master_ent_format() prints an entry so that parsing the output gives
 * an equal entry (the fuzz target checks this).
 *
 * mastercf_check_conf() holds master.cf against main.cf: what each
 * service sees once its -o overrides apply must be as valid as main.cf
 * itself, because the service's program loads exactly that at every
 * start and exits with EX_CONFIG when it does not load, long after
 * `petrel start` said all was well.
 *
 * SECURITY: master.cf is root's configuration, but master parses it as
 * root and hands parts of it to execve(2); the parser never trusts a
 * length and quotes what it reports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "file.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

/* master.cf is a few kilobytes; refuse to slurp anything absurd. */
#define MASTERCF_MAX_SIZE	(4 * 1024 * 1024)
#define MASTERCF_COLUMNS	8
/* Longest piece of outside text quoted in a message. */
#define MASTERCF_QUOTE_MAX	100

static const char mastercf_blanks[] = " \t\r\n\f\v";

static const char *const mastercf_type_names[] = {
	[MASTER_INET] = "inet",
	[MASTER_UNIX] = "unix",
	[MASTER_FIFO] = "fifo",
	[MASTER_PASS] = "pass",
};

static const char *const mastercf_column_names[MASTERCF_COLUMNS] = {
	"service", "type", "private", "unpriv", "chroot", "wakeup",
	"maxproc", "command",
};

/* One word of an entry: points into the entry text. */
struct mastercf_word {
	const char *start;
	size_t len;
	bool braced;		/* came from "{ ... }" */
};

static inline bool
mastercf_is_blank(int ch)
{
	return ch != 0 && strchr(mastercf_blanks, ch) != NULL;
}

static inline bool
mastercf_is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static inline bool
mastercf_is_alnum(int ch)
{
	return mastercf_is_digit(ch) || (ch >= 'a' && ch <= 'z')
	    || (ch >= 'A' && ch <= 'Z');
}

/* Append outside text for a message: printable, and not too long. */
static void
mastercf_quote(struct buf *why, const char *text, size_t len)
{
	if (len > MASTERCF_QUOTE_MAX) {
		str_printable(why, text, MASTERCF_QUOTE_MAX);
		buf_puts(why, "...");
	} else {
		str_printable(why, text, len);
	}
}

/*
 * Next word at *cursor. With braces, "{ text }" is one word: braces
 * nest, whitespace just inside them is dropped, and the closing brace
 * must end the word. Returns 1 (word), 0 (no more words) or -1 (why).
 */
static int
mastercf_next_word(const char **cursor, bool braces,
    struct mastercf_word *w, struct buf *why)
{
	const char *cp = *cursor + strspn(*cursor, mastercf_blanks);
	const char *open, *end;
	size_t depth = 0;

	if (*cp == 0) {
		*cursor = cp;
		return 0;
	}
	if (!braces || *cp != '{') {
		w->start = cp;
		w->len = strcspn(cp, mastercf_blanks);
		w->braced = false;
		*cursor = cp + w->len;
		return 1;
	}
	open = cp;
	for (; *cp; cp++) {
		if (*cp == '{')
			depth++;
		else if (*cp == '}' && --depth == 0)
			break;
	}
	if (*cp == 0) {
		buf_puts(why, "missing \"}\" in \"");
		mastercf_quote(why, open, strlen(open));
		buf_putc(why, '"');
		return -1;
	}
	end = cp++;
	if (*cp != 0 && !mastercf_is_blank((unsigned char)*cp)) {
		buf_puts(why, "unexpected text after \"}\" in \"");
		mastercf_quote(why, open, (size_t)(cp - open)
		    + strcspn(cp, mastercf_blanks));
		buf_putc(why, '"');
		return -1;
	}
	*cursor = cp;
	open++;
	while (open < end && mastercf_is_blank((unsigned char)*open))
		open++;
	while (end > open && mastercf_is_blank((unsigned char)end[-1]))
		end--;
	w->start = open;
	w->len = (size_t)(end - open);
	w->braced = true;
	return 1;
}

static bool
mastercf_word_is(const struct mastercf_word *w, const char *text)
{
	return !w->braced && w->len == strlen(text)
	    && memcmp(w->start, text, w->len) == 0;
}

static int
mastercf_bad_value(const char *field, const char *value, const char *expect,
    struct buf *why)
{
	buf_printf(why, "field \"%s\": bad value \"", field);
	mastercf_quote(why, value, strlen(value));
	buf_printf(why, "\" (expected %s)", expect);
	return -1;
}

/* Digits only (no sign), as int. */
static int
mastercf_uint(const char *text, size_t len, int *out)
{
	char *copy;
	int ret;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!mastercf_is_digit((unsigned char)text[i]))
			return -1;
	copy = xstrndup(text, len);
	ret = str_to_int(copy, out);
	free(copy);
	return ret;
}

static int
mastercf_bool(const char *field, const char *value, bool def, bool *out,
    struct buf *why)
{
	if (strcmp(value, "y") == 0)
		*out = true;
	else if (strcmp(value, "n") == 0)
		*out = false;
	else if (strcmp(value, "-") == 0)
		*out = def;
	else
		return mastercf_bad_value(field, value, "y, n or -", why);
	return 0;
}

static int
mastercf_type(const char *value, enum master_type *out, struct buf *why)
{
	for (size_t i = 0; i < sizeof(mastercf_type_names)
	    / sizeof(mastercf_type_names[0]); i++) {
		if (strcmp(value, mastercf_type_names[i]) == 0) {
			*out = (enum master_type)i;
			return 0;
		}
	}
	return mastercf_bad_value("type", value, "inet, unix, fifo or pass",
	    why);
}

static int
mastercf_wakeup(const char *value, struct master_ent *ent, struct buf *why)
{
	size_t len = strlen(value);

	ent->wakeup = 0;
	ent->wakeup_if_used = false;
	if (strcmp(value, "-") == 0)
		return 0;
	if (len > 0 && value[len - 1] == '?') {
		ent->wakeup_if_used = true;
		len--;
	}
	if (mastercf_uint(value, len, &ent->wakeup) < 0)
		return mastercf_bad_value("wakeup", value,
		    "seconds, optionally followed by \"?\", or -", why);
	return 0;
}

static int
mastercf_maxproc(const char *value, int *out, struct buf *why)
{
	if (strcmp(value, "-") == 0) {
		*out = -1;
		return 0;
	}
	if (mastercf_uint(value, strlen(value), out) < 0)
		return mastercf_bad_value("maxproc", value,
		    "a non-negative integer or -", why);
	return 0;
}

/* Port number 1..65535 or a service name; nothing is resolved here. */
static bool
mastercf_valid_port(const char *port)
{
	bool digits = true;
	int num;

	if (*port == 0)
		return false;
	for (const char *cp = port; *cp; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (!mastercf_is_digit(ch))
			digits = false;
		if (!mastercf_is_alnum(ch) && ch != '_' && ch != '-')
			return false;
	}
	if (!digits)
		return true;
	return mastercf_uint(port, strlen(port), &num) == 0 && num >= 1
	    && num <= 65535;
}

/* A host name or IPv4 address written without brackets. */
static bool
mastercf_valid_host(const char *host)
{
	if (*host == 0)
		return false;
	for (const char *cp = host; *cp; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (!mastercf_is_alnum(ch) && ch != '.' && ch != '-'
		    && ch != '_')
			return false;
	}
	return true;
}

static int
mastercf_service_error(const char *what, const char *part,
    const char *service, struct buf *why)
{
	buf_printf(why, "field \"service\": %s \"", what);
	mastercf_quote(why, part, strlen(part));
	buf_puts(why, "\" in \"");
	mastercf_quote(why, service, strlen(service));
	buf_putc(why, '"');
	return -1;
}

/*
 * inet: "port", "host:port", "[ipv6]:port" or "[ipv4]:port". A bare
 * IPv6 address is refused: its last ":" would be taken for the port.
 */
static int
mastercf_inet(struct master_ent *ent, struct buf *why)
{
	const char *svc = ent->service;
	const char *colon, *close;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;

	if (svc[0] == '[') {
		close = strchr(svc, ']');
		if (close == NULL) {
			buf_puts(why, "field \"service\": missing \"]\" in \"");
			mastercf_quote(why, svc, strlen(svc));
			buf_putc(why, '"');
			return -1;
		}
		ent->host = xstrndup(svc + 1, (size_t)(close - svc - 1));
		if (close[1] != ':')
			return mastercf_service_error(
			    "expected \":port\" after", "]", svc, why);
		if (inet_pton(AF_INET6, ent->host, &addr) != 1
		    && inet_pton(AF_INET, ent->host, &addr) != 1)
			return mastercf_service_error("bad address",
			    ent->host, svc, why);
		ent->port = xstrdup(close + 2);
	} else if ((colon = strchr(svc, ':')) != NULL) {
		if (strchr(colon + 1, ':') != NULL) {
			buf_puts(why, "field \"service\": IPv6 address in \"");
			mastercf_quote(why, svc, strlen(svc));
			buf_puts(why, "\" must be in brackets "
			    "(\"[address]:port\")");
			return -1;
		}
		ent->host = xstrndup(svc, (size_t)(colon - svc));
		if (!mastercf_valid_host(ent->host))
			return mastercf_service_error("bad host", ent->host,
			    svc, why);
		ent->port = xstrdup(colon + 1);
	} else {
		ent->port = xstrdup(svc);
	}
	if (!mastercf_valid_port(ent->port)) {
		mastercf_service_error("bad port", ent->port, svc, why);
		buf_puts(why, " (expected 1..65535 or a service name)");
		return -1;
	}
	return 0;
}

/* unix, fifo, pass: a name in private/ or public/. */
static int
mastercf_local_name(const struct master_ent *ent, struct buf *why)
{
	const char *svc = ent->service;

	if (*svc != 0 && strchr(svc, '/') == NULL && strcmp(svc, ".") != 0
	    && strcmp(svc, "..") != 0 && str_is_printable(svc))
		return 0;
	buf_printf(why, "field \"service\": bad %s service name \"",
	    master_type_name(ent->type));
	mastercf_quote(why, svc, strlen(svc));
	buf_puts(why, "\" (expected printable text without \"/\", "
	    "not \".\" or \"..\")");
	return -1;
}

static bool
mastercf_valid_param(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!mastercf_is_alnum((unsigned char)name[i])
		    && name[i] != '_')
			return false;
	return true;
}

/*
 * After "-o": "name=value", "name = value" (three words), or
 * "{ name = value }". Appends "name=value" to ent->overrides.
 */
static int
mastercf_override(const char **cursor, struct master_ent *ent,
    struct buf *why)
{
	struct mastercf_word w, eq, val;
	const char *name, *value, *sep;
	size_t name_len, value_len;
	struct buf setting;
	int ret;

	if ((ret = mastercf_next_word(cursor, true, &w, why)) < 0)
		return -1;
	if (ret == 0) {
		buf_puts(why, "missing name=value after \"-o\"");
		return -1;
	}
	name = w.start;
	if ((sep = memchr(w.start, '=', w.len)) != NULL) {
		name_len = (size_t)(sep - w.start);
		value = sep + 1;
		value_len = w.len - name_len - 1;
		/* Only braces allow blanks around "=". */
		while (name_len > 0
		    && mastercf_is_blank((unsigned char)name[name_len - 1]))
			name_len--;
		while (value_len > 0
		    && mastercf_is_blank((unsigned char)*value)) {
			value++;
			value_len--;
		}
	} else if (w.braced) {
		buf_puts(why, "\"-o {");
		mastercf_quote(why, w.start, w.len);
		buf_puts(why, "}\": missing \"=\" after the parameter name");
		return -1;
	} else {
		name_len = w.len;
		if (mastercf_next_word(cursor, false, &eq, why) != 1
		    || !mastercf_word_is(&eq, "=")) {
			buf_puts(why, "\"-o ");
			mastercf_quote(why, w.start, w.len);
			buf_puts(why, "\": expected \"=\" after the parameter "
			    "name");
			return -1;
		}
		if ((ret = mastercf_next_word(cursor, true, &val, why)) < 0)
			return -1;
		if (ret == 0) {
			buf_puts(why, "\"-o ");
			mastercf_quote(why, w.start, w.len);
			buf_puts(why, " =\": missing value");
			return -1;
		}
		value = val.start;
		value_len = val.len;
	}
	if (!mastercf_valid_param(name, name_len)) {
		buf_puts(why, "\"-o\": bad parameter name \"");
		mastercf_quote(why, name, name_len);
		buf_puts(why, "\" (expected letters, digits and \"_\")");
		return -1;
	}
	buf_init(&setting, name_len + value_len + 1);
	buf_append(&setting, name, name_len);
	buf_putc(&setting, '=');
	buf_append(&setting, value, value_len);
	argv_addn(ent->overrides, setting.data, setting.len);
	buf_fini(&setting);
	return 0;
}

/* Arguments after the command: "-o" settings and ordinary words. */
static int
mastercf_args(const char *cursor, struct master_ent *ent, struct buf *why)
{
	struct mastercf_word w;
	bool options = true;
	int ret;

	while ((ret = mastercf_next_word(&cursor, true, &w, why)) > 0) {
		if (options && mastercf_word_is(&w, "-o")) {
			if (mastercf_override(&cursor, ent, why) < 0)
				return -1;
			continue;
		}
		if (w.len == 0 || w.start[0] != '-')
			options = false;
		argv_addn(ent->args, w.start, w.len);
	}
	return ret;
}

struct master_ent *
mastercf_parse_entry(const char *text, const char *file, int line,
    struct buf *why)
{
	struct master_ent *ent = xcalloc(1, sizeof(*ent));
	struct mastercf_word w;
	char *col[MASTERCF_COLUMNS] = {0};
	const char *cursor = text;
	bool priv;
	size_t n;

	buf_reset(why);
	ent->file = xstrdup(file ? file : "master.cf");
	ent->line = line;
	ent->args = argv_new();
	ent->overrides = argv_new();
	ent->maxproc = -1;

	for (n = 0; n < MASTERCF_COLUMNS; n++) {
		if (mastercf_next_word(&cursor, false, &w, why) == 0)
			break;
		col[n] = xstrndup(w.start, w.len);
	}
	if (n < MASTERCF_COLUMNS) {
		buf_printf(why, "missing command: entry has %zu field%s, "
		    "expected at least %d", n, n == 1 ? "" : "s",
		    MASTERCF_COLUMNS);
		goto bad;
	}
	ent->service = col[0];
	col[0] = NULL;
	ent->command = col[7];
	col[7] = NULL;
	if (mastercf_type(col[1], &ent->type, why) < 0)
		goto bad;
	if (ent->type == MASTER_INET) {
		if (mastercf_inet(ent, why) < 0)
			goto bad;
	} else if (mastercf_local_name(ent, why) < 0) {
		goto bad;
	}
	if (mastercf_bool(mastercf_column_names[2], col[2],
	    ent->type != MASTER_INET, &priv, why) < 0
	    || mastercf_bool(mastercf_column_names[3], col[3], true,
		&ent->unpriv, why) < 0
	    || mastercf_bool(mastercf_column_names[4], col[4], false,
		&ent->chroot, why) < 0
	    || mastercf_wakeup(col[5], ent, why) < 0
	    || mastercf_maxproc(col[6], &ent->maxproc, why) < 0
	    || mastercf_args(cursor, ent, why) < 0)
		goto bad;
	if (ent->type == MASTER_INET && priv) {
		msg_warn("%s, line %d: service \"%s\": inet service cannot "
		    "be private; using n", ent->file, line, ent->service);
		priv = false;
	}
	ent->private_ = priv;
	for (n = 0; n < MASTERCF_COLUMNS; n++)
		free(col[n]);
	return ent;

bad:
	for (n = 0; n < MASTERCF_COLUMNS; n++)
		free(col[n]);
	master_ent_free(ent);
	return NULL;
}

void
master_ent_free(struct master_ent *ent)
{
	if (ent == NULL)
		return;
	free(ent->service);
	free(ent->host);
	free(ent->port);
	free(ent->command);
	argv_free(ent->args);
	argv_free(ent->overrides);
	free(ent->file);
	free(ent);
}

const char *
master_type_name(enum master_type type)
{
	if ((size_t)type < sizeof(mastercf_type_names)
	    / sizeof(mastercf_type_names[0]))
		return mastercf_type_names[type];
	return "unknown";
}

void
mastercf_free(struct mastercf *cf)
{
	if (cf == NULL)
		return;
	for (size_t i = 0; i < cf->count; i++)
		master_ent_free(cf->ents[i]);
	free(cf->ents);
	free(cf);
}

/* Parse one logical entry and add it, unless it is bad or a duplicate. */
static int
mastercf_add(struct mastercf *cf, size_t *cap, const char *text,
    const char *file, int line, struct buf *why)
{
	struct master_ent *ent;

	if ((ent = mastercf_parse_entry(text, file, line, why)) == NULL) {
		msg_error("%s, line %d: %s", file, line, why->data);
		return -1;
	}
	for (size_t i = 0; i < cf->count; i++) {
		if (master_ent_same_endpoint(cf->ents[i], ent)) {
			msg_error("%s, line %d: duplicate %s service \"%s\" "
			    "(first defined on line %d)", file, line,
			    master_type_name(ent->type), ent->service,
			    cf->ents[i]->line);
			master_ent_free(ent);
			return -1;
		}
	}
	if (cf->count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		cf->ents = xreallocarray(cf->ents, *cap, sizeof(cf->ents[0]));
	}
	cf->ents[cf->count++] = ent;
	return 0;
}

struct mastercf *
mastercf_parse(const char *text, const char *file)
{
	struct mastercf *cf = xcalloc(1, sizeof(*cf));
	struct buf entry, why;
	const char *cp = text;
	size_t cap = 0, len, skip;
	int lineno = 0, entry_line = 0, errors = 0;
	bool have = false;

	if (file == NULL)
		file = "master.cf";
	buf_init(&entry, 256);
	buf_init(&why, 128);
	for (; *cp; cp += len + (cp[len] == '\n')) {
		len = strcspn(cp, "\n");
		if (lineno < INT_MAX)
			lineno++;
		skip = strspn(cp, " \t\r\f\v");
		if (skip >= len || cp[skip] == '#')
			continue;		/* blank or comment line */
		if (skip > 0) {
			if (!have) {
				msg_error("%s, line %d: line starts with "
				    "whitespace but there is no entry to "
				    "continue", file, lineno);
				errors++;
				continue;
			}
			buf_putc(&entry, ' ');
			buf_append(&entry, cp, len);
			continue;
		}
		if (have && mastercf_add(cf, &cap, entry.data, file,
		    entry_line, &why) < 0)
			errors++;
		buf_setn(&entry, cp, len);
		entry_line = lineno;
		have = true;
	}
	if (have && mastercf_add(cf, &cap, entry.data, file, entry_line,
	    &why) < 0)
		errors++;
	buf_fini(&entry);
	buf_fini(&why);
	if (errors > 0) {
		mastercf_free(cf);
		return NULL;
	}
	return cf;
}

struct mastercf *
mastercf_read(const char *path)
{
	struct mastercf *cf = NULL;
	struct buf data;
	const char *nul;
	int line = 1;

	buf_init(&data, 8192);
	if (file_read(path, &data, MASTERCF_MAX_SIZE) < 0) {
		if (errno == EFBIG)
			msg_error("%s: file is larger than %d bytes", path,
			    MASTERCF_MAX_SIZE);
		else
			msg_error("cannot read %s: %m", path);
		goto out;
	}
	if ((nul = memchr(data.data, 0, data.len)) != NULL) {
		for (const char *cp = data.data; cp < nul; cp++)
			line += *cp == '\n';
		msg_error("%s, line %d: NUL byte in file", path, line);
		goto out;
	}
	cf = mastercf_parse(data.data, path);
out:
	buf_fini(&data);
	return cf;
}

/* An argument that would not come back as itself goes in braces. */
static bool
mastercf_needs_braces(const char *arg, bool options)
{
	return *arg == 0 || *arg == '{' || strpbrk(arg, mastercf_blanks)
	    || (options && strcmp(arg, "-o") == 0);
}

void
master_ent_format(const struct master_ent *ent, struct buf *out)
{
	struct buf wakeup, maxproc;
	bool options = true;
	size_t i;

	buf_init(&wakeup, 16);
	buf_init(&maxproc, 16);
	if (ent->wakeup == 0 && !ent->wakeup_if_used)
		buf_putc(&wakeup, '-');
	else
		buf_printf(&wakeup, "%d%s", ent->wakeup,
		    ent->wakeup_if_used ? "?" : "");
	if (ent->maxproc < 0)
		buf_putc(&maxproc, '-');
	else
		buf_printf(&maxproc, "%d", ent->maxproc);
	buf_printf(out, "%-9s %-5s %-7s %-7s %-7s %-7s %-7s %s",
	    ent->service, master_type_name(ent->type),
	    ent->private_ ? "y" : "n", ent->unpriv ? "y" : "n",
	    ent->chroot ? "y" : "n", wakeup.data, maxproc.data, ent->command);
	buf_fini(&wakeup);
	buf_fini(&maxproc);

	for (i = 0; ent->overrides && i < ent->overrides->argc; i++) {
		const char *setting = ent->overrides->argv[i];
		const char *eq = strchr(setting, '=');

		if (eq != NULL && strpbrk(eq + 1, mastercf_blanks))
			buf_printf(out, " -o { %.*s = %s }",
			    (int)(eq - setting), setting, eq + 1);
		else
			buf_printf(out, " -o %s", setting);
	}
	for (i = 0; ent->args && i < ent->args->argc; i++) {
		const char *arg = ent->args->argv[i];

		if (*arg == 0)
			buf_puts(out, " { }");
		else if (mastercf_needs_braces(arg, options))
			buf_printf(out, " { %s }", arg);
		else
			buf_printf(out, " %s", arg);
		if (*arg != '-')
			options = false;
	}
}

static bool
mastercf_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
mastercf_argv_eq(const struct argv *a, const struct argv *b)
{
	size_t na = a ? a->argc : 0, nb = b ? b->argc : 0;

	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return false;
	return true;
}

bool
master_ent_same_endpoint(const struct master_ent *a,
    const struct master_ent *b)
{
	if (a->type != b->type)
		return false;
	if (a->type != MASTER_INET)
		return mastercf_str_eq(a->service, b->service);
	if (a->host == NULL || b->host == NULL) {
		if (a->host != b->host)
			return false;
	} else if (!str_case_eq(a->host, b->host)) {
		return false;
	}
	return mastercf_str_eq(a->port, b->port);
}

bool
master_ent_equal(const struct master_ent *a, const struct master_ent *b)
{
	return a->type == b->type
	    && mastercf_str_eq(a->service, b->service)
	    && mastercf_str_eq(a->host, b->host)
	    && mastercf_str_eq(a->port, b->port)
	    && a->private_ == b->private_ && a->unpriv == b->unpriv
	    && a->chroot == b->chroot && a->wakeup == b->wakeup
	    && a->wakeup_if_used == b->wakeup_if_used
	    && a->maxproc == b->maxproc
	    && mastercf_str_eq(a->command, b->command)
	    && mastercf_argv_eq(a->overrides, b->overrides)
	    && mastercf_argv_eq(a->args, b->args);
}

int
mastercf_check_conf(const struct mastercf *cf, const struct conf *c)
{
	struct argv *values = argv_new(), *services = argv_new();
	const struct master_ent *ent;
	struct buf where;
	size_t i, j;
	int errors;

	for (i = 0; i < cf->count; i++) {
		ent = cf->ents[i];
		argv_add(services, ent->service);
		for (j = 0; j < ent->overrides->argc; j++)
			argv_add(values, ent->overrides->argv[j]);
	}
	errors = conf_check_unknown(c, true, values, services);
	buf_init(&where, 128);
	for (i = 0; i < cf->count; i++) {
		ent = cf->ents[i];
		buf_reset(&where);
		buf_printf(&where, "%s, line %d: service %s/%s", ent->file,
		    ent->line, ent->service, master_type_name(ent->type));
		errors += conf_check_overrides(c, ent->overrides, where.data,
		    services);
	}
	buf_fini(&where);
	argv_free(values);
	argv_free(services);
	return errors;
}

/* An executable regular file? 0, or -1 with errno set. */
static int
mastercf_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		return -1;
	}
	return access(path, X_OK);
}

/*
 * daemon_directory as c expands it, in dir; -1 after one error naming
 * the parameter (and where it is set) when it is not a directory.
 */
static int
mastercf_daemon_dir(const struct conf *c, struct buf *dir)
{
	struct buf where, why;
	struct stat st;
	int ret = 0;

	buf_init(&where, 64);
	buf_init(&why, 64);
	if (conf_where_name(c, "daemon_directory", &where))
		buf_puts(&where, ": ");
	if (conf_eval(c, "daemon_directory", dir, &why) < 0) {
		msg_error("%sparameter daemon_directory: %s", where.data,
		    why.data);
		ret = -1;
	} else if (stat(dir->data, &st) < 0) {
		msg_error("%sdaemon_directory = %s: %m", where.data,
		    dir->data);
		ret = -1;
	} else if (!S_ISDIR(st.st_mode)) {
		msg_error("%sdaemon_directory = %s: not a directory",
		    where.data, dir->data);
		ret = -1;
	}
	buf_fini(&where);
	buf_fini(&why);
	return ret;
}

int
mastercf_check_programs(const struct mastercf *cf, const struct conf *c,
    const char *const *extra)
{
	const struct master_ent *ent;
	struct buf dir, path;
	bool dir_ok;
	size_t i;
	int errors = 0;

	buf_init(&dir, 64);
	buf_init(&path, 128);
	dir_ok = mastercf_daemon_dir(c, &dir) == 0;
	errors += !dir_ok;
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (*extra[i] != '/' && !dir_ok)
			continue;
		buf_reset(&path);
		if (*extra[i] != '/')
			buf_printf(&path, "%s/", dir.data);
		buf_puts(&path, extra[i]);
		if (mastercf_executable(path.data) < 0) {
			msg_error("program %s: %m", path.data);
			errors++;
		}
	}
	for (i = 0; i < cf->count; i++) {
		ent = cf->ents[i];
		if (*ent->command != '/' && !dir_ok)
			continue;
		buf_reset(&path);
		if (*ent->command != '/')
			buf_printf(&path, "%s/", dir.data);
		buf_puts(&path, ent->command);
		if (mastercf_executable(path.data) < 0) {
			msg_error("%s, line %d: service %s: program %s: %m",
			    ent->file, ent->line, ent->service, path.data);
			errors++;
		}
	}
	buf_fini(&dir);
	buf_fini(&path);
	return errors;
}
