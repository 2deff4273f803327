/*
 * bounce_log.c - per-recipient delivery logs beside the queue
 *
 * Writes and reads the bounce/, defer/ and trace/ logs described in
 * bounce_log.h: "name=value" lines, an empty line after each entry.
 *
 * One table (bl_fields) names the fields and says how each value is
 * checked; the writer runs the same checks on what it is about to
 * write as the reader runs on what it reads, so a log this code wrote
 * always reads back. The writer holds an exclusive flock(2) while it
 * looks at the end of the file and appends, so it can repair the tail
 * left by a crashed writer without racing another writer; readers hold
 * a shared lock, so they never see half an entry.
 *
 * SECURITY: a log is read as outside data. Lines are read through a
 * bounded buffer (a longer line is discarded, not kept), every value
 * is validated before an entry is returned, and every problem is a
 * warning naming the file and line, never fatal. Free text that goes in
 * is stripped of NULs and control characters, so it cannot start a new
 * line or field.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce_log.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "file.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "queue_id.h"
#include "str.h"

/* Bytes read from the log at a time. */
#define BL_READ_CHUNK	8192
/* The line that ends an entry cut short by a crashed writer. */
#define BL_TRUNCATED	"truncated=yes\n"
/* The largest offset= accepted (off_t is 64 bits here). */
#define BL_OFFSET_MAX	((long)INT64_MAX)

/* ---- fields and their checks ---------------------------------------- */

enum bl_field {
	BL_RECIPIENT,
	BL_OFFSET,
	BL_ORIG_RCPT,
	BL_NOTIFY,
	BL_STATUS,
	BL_ACTION,
	BL_DIAG_TYPE,
	BL_DIAG_TEXT,
	BL_MTA_TYPE,
	BL_MTA_NAME,
	BL_REASON,
	BL_TRUNCATED_FIELD,
	BL_NFIELDS,
};

enum bl_kind {
	BL_KIND_ADDR,		/* no controls, 1..ADDR_MAX (0.. if optional) */
	BL_KIND_NUMBER,		/* decimal, checked by the field */
	BL_KIND_STATUS,
	BL_KIND_ACTION,
	BL_KIND_TEXT,		/* no control characters, <= TEXT_MAX */
	BL_KIND_TYPE,		/* atom: [A-Za-z0-9-], <= TYPE_MAX */
	BL_KIND_NAME,		/* no space or control, <= NAME_MAX */
	BL_KIND_MARK,		/* the truncation mark */
};

static const struct bl_field_spec {
	const char *name;
	enum bl_kind kind;
	bool required;
} bl_fields[BL_NFIELDS] = {
	[BL_RECIPIENT] = {"recipient", BL_KIND_ADDR, true},
	[BL_OFFSET] = {"offset", BL_KIND_NUMBER, true},
	[BL_ORIG_RCPT] = {"dsn_orig_rcpt", BL_KIND_ADDR, false},
	[BL_NOTIFY] = {"dsn_notify", BL_KIND_NUMBER, false},
	[BL_STATUS] = {"status", BL_KIND_STATUS, true},
	[BL_ACTION] = {"action", BL_KIND_ACTION, true},
	[BL_DIAG_TYPE] = {"diag_type", BL_KIND_TYPE, false},
	[BL_DIAG_TEXT] = {"diag_text", BL_KIND_TEXT, false},
	[BL_MTA_TYPE] = {"mta_type", BL_KIND_TYPE, false},
	[BL_MTA_NAME] = {"mta_name", BL_KIND_NAME, false},
	[BL_REASON] = {"reason", BL_KIND_TEXT, true},
	[BL_TRUNCATED_FIELD] = {"truncated", BL_KIND_MARK, false},
};

static const char *const bl_action_names[] = {
	[BOUNCE_LOG_FAILED] = "failed",
	[BOUNCE_LOG_DELAYED] = "delayed",
	[BOUNCE_LOG_DELIVERED] = "delivered",
	[BOUNCE_LOG_EXPANDED] = "expanded",
	[BOUNCE_LOG_RELAYED] = "relayed",
};

#define BL_NACTIONS	(sizeof(bl_action_names) / sizeof(*bl_action_names))

const char *
bounce_log_action_name(enum bounce_log_action action)
{
	if ((size_t)action >= BL_NACTIONS)
		msg_panic("bounce_log_action_name: bad action %d", (int)action);
	return bl_action_names[action];
}

int
bounce_log_action_parse(const char *word)
{
	size_t i;

	for (i = 0; i < BL_NACTIONS; i++)
		if (strcmp(word, bl_action_names[i]) == 0)
			return (int)i;
	return -1;
}

/* 1-3 digits without a leading zero (but "0" alone); the end in *end. */
static bool
bl_status_part(const char *cp, const char **end)
{
	size_t n = strspn(cp, "0123456789");

	if (n == 0 || n > 3 || (n > 1 && *cp == '0'))
		return false;
	*end = cp + n;
	return true;
}

bool
bounce_log_status_ok(const char *status)
{
	const char *cp = status;

	if ((cp[0] != '2' && cp[0] != '4' && cp[0] != '5') || cp[1] != '.')
		return false;
	if (!bl_status_part(cp + 2, &cp) || *cp != '.')
		return false;
	return bl_status_part(cp + 1, &cp) && *cp == 0;
}

/* Strict decimal: digits only, no leading zero, at most max. */
static int
bl_decimal(const char *str, long max, long *out)
{
	long val = 0;
	const char *cp;

	if (*str == 0 || (str[0] == '0' && str[1] != 0))
		return -1;
	for (cp = str; *cp; cp++) {
		if (*cp < '0' || *cp > '9')
			return -1;
		if (__builtin_mul_overflow(val, 10, &val)
		    || __builtin_add_overflow(val, *cp - '0', &val)
		    || val > max)
			return -1;
	}
	*out = val;
	return 0;
}

static bool
bl_notify_ok(long bits)
{
	if ((bits & ~(long)(DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY)) != 0)
		return false;
	return !(bits & DSN_NOTIFY_NEVER) || bits == DSN_NOTIFY_NEVER;
}

int
bounce_log_notify_bits(const char *notify)
{
	long bits;
	int parsed;

	if (notify == NULL)
		return 0;
	if (bl_decimal(notify, DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY, &bits) == 0)
		return bl_notify_ok(bits) ? (int)bits : 0;
	parsed = cleanup_clnt_notify_parse(notify);
	return parsed < 0 ? 0 : parsed;
}

static bool
bl_no_controls(const char *cp)
{
	for (; *cp; cp++)
		if ((unsigned char)*cp < ' ' || *cp == 0x7f)
			return false;
	return true;
}

/*
 * Check one value; false with why set (appended). Shared by the writer
 * (on what it is about to write) and the reader.
 */
static bool
bl_check(enum bl_field field, const char *value, struct buf *why)
{
	const struct bl_field_spec *spec = &bl_fields[field];
	size_t len = strlen(value);
	long num;

	if (!bl_no_controls(value)) {
		buf_printf(why, "control character in %s", spec->name);
		return false;
	}
	switch (spec->kind) {
	case BL_KIND_ADDR:
		if (len == 0 && spec->required) {
			buf_printf(why, "empty %s", spec->name);
			return false;
		}
		if (len > BOUNCE_LOG_ADDR_MAX)
			goto too_long;
		return true;
	case BL_KIND_NUMBER:
		if (field == BL_OFFSET) {
			if (bl_decimal(value, BL_OFFSET_MAX, &num) == 0
			    && num > 0)
				return true;
		} else if (bl_decimal(value, DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY,
		    &num) == 0 && bl_notify_ok(num)) {
			return true;
		}
		break;
	case BL_KIND_STATUS:
		if (bounce_log_status_ok(value))
			return true;
		break;
	case BL_KIND_ACTION:
		if (bounce_log_action_parse(value) >= 0)
			return true;
		break;
	case BL_KIND_TEXT:
		if (len > BOUNCE_LOG_TEXT_MAX)
			goto too_long;
		return true;
	case BL_KIND_TYPE:
		if (len == 0 || len > BOUNCE_LOG_TYPE_MAX
		    || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
			break;
		return true;
	case BL_KIND_NAME:
		if (len == 0 || len > BOUNCE_LOG_NAME_MAX
		    || strchr(value, ' ') != NULL)
			break;
		return true;
	case BL_KIND_MARK:
		return true;
	}
	buf_printf(why, "bad %s \"", spec->name);
	str_printable(why, value, len > 64 ? 64 : len);
	buf_puts(why, len > 64 ? "...\"" : "\"");
	return false;
too_long:
	buf_printf(why, "%s longer than %d bytes", spec->name,
	    spec->kind == BL_KIND_ADDR ? BOUNCE_LOG_ADDR_MAX
	    : BOUNCE_LOG_TEXT_MAX);
	return false;
}

/* Fields that come in pairs: both or neither. */
static bool
bl_check_pairs(const bool *have, struct buf *why)
{
	if (have[BL_DIAG_TYPE] != have[BL_DIAG_TEXT]) {
		buf_puts(why, "diag_type and diag_text must come together");
		return false;
	}
	if (have[BL_MTA_TYPE] != have[BL_MTA_NAME]) {
		buf_puts(why, "mta_type and mta_name must come together");
		return false;
	}
	return true;
}

/* ---- writing ---------------------------------------------------------- */

/*
 * Free text as it goes into the log: NULs removed, other control
 * characters (newlines too) replaced by spaces, then at most
 * BOUNCE_LOG_TEXT_MAX bytes, a cut marked with "..." and never made
 * inside a UTF-8 sequence.
 */
static void
bl_clean_text(struct buf *out, const char *text)
{
	const unsigned char *cp;
	size_t cut;

	buf_reset(out);
	for (cp = (const unsigned char *)text; *cp; cp++)
		buf_putc(out, *cp < ' ' || *cp == 0x7f ? ' ' : *cp);
	if (out->len <= BOUNCE_LOG_TEXT_MAX)
		return;
	cut = BOUNCE_LOG_TEXT_MAX - 3;
	/* Back up to the start of a character. */
	while (cut > 0 && ((unsigned char)out->data[cut] & 0xc0) == 0x80)
		cut--;
	buf_truncate(out, cut);
	buf_puts(out, "...");
}

/* Append "name=value\n" after checking value; false with why. */
static bool
bl_put(struct buf *entry, enum bl_field field, const char *value,
    bool *have, struct buf *why)
{
	if (value == NULL)
		return true;
	if (!bl_check(field, value, why))
		return false;
	buf_printf(entry, "%s=%s\n", bl_fields[field].name, value);
	have[field] = true;
	return true;
}

/* The text of one entry, checked as a reader will check it. */
static int
bl_format(struct buf *entry, const struct bounce_log_entry *e,
    struct buf *why)
{
	bool have[BL_NFIELDS] = {false};
	struct buf num, text;
	bool ok;

	if ((size_t)e->action >= BL_NACTIONS) {
		buf_puts(why, "bad action");
		errno = EINVAL;
		return -1;
	}
	if (e->recipient == NULL || e->status == NULL || e->reason == NULL) {
		buf_puts(why, "recipient, status or reason missing");
		errno = EINVAL;
		return -1;
	}
	buf_init(&num, 32);
	buf_init(&text, 128);
	buf_printf(&num, "%lld", (long long)e->offset);
	ok = bl_put(entry, BL_RECIPIENT, e->recipient, have, why)
	    && bl_put(entry, BL_OFFSET, num.data, have, why)
	    && bl_put(entry, BL_ORIG_RCPT, e->orig_rcpt ? e->orig_rcpt : "",
	    have, why);
	buf_reset(&num);
	buf_printf(&num, "%d", e->notify);
	ok = ok && bl_put(entry, BL_NOTIFY, num.data, have, why)
	    && bl_put(entry, BL_STATUS, e->status, have, why)
	    && bl_put(entry, BL_ACTION, bounce_log_action_name(e->action),
	    have, why)
	    && bl_put(entry, BL_DIAG_TYPE, e->diag_type, have, why);
	if (ok && e->diag_text != NULL) {
		bl_clean_text(&text, e->diag_text);
		ok = bl_put(entry, BL_DIAG_TEXT, text.data, have, why);
	}
	ok = ok && bl_put(entry, BL_MTA_TYPE, e->mta_type, have, why)
	    && bl_put(entry, BL_MTA_NAME, e->mta_name, have, why)
	    && bl_check_pairs(have, why);
	if (ok) {
		bl_clean_text(&text, e->reason);
		ok = bl_put(entry, BL_REASON, text.data, have, why);
	}
	buf_putc(entry, '\n');
	/* The limits above keep every entry well under this. */
	if (ok && entry->len > BOUNCE_LOG_ENTRY_MAX)
		msg_panic("bounce_log: entry of %zu bytes", entry->len);
	buf_fini(&num);
	buf_fini(&text);
	if (!ok)
		errno = EINVAL;
	return ok ? 0 : -1;
}

static int
bl_lock(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/*
 * What to write before a new entry so that it starts a fresh entry:
 * nothing when the file is empty or ends with an empty line, else the
 * end of the broken line and the truncation mark.
 */
static int
bl_repair(int fd, struct buf *prefix)
{
	struct stat st;
	char tail[2];
	size_t n;
	ssize_t got;

	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size == 0)
		return 0;
	n = st.st_size >= 2 ? 2 : 1;
	got = pread(fd, tail, n, st.st_size - (off_t)n);
	if (got < 0)
		return -1;
	if ((size_t)got != n) {
		errno = EIO;	/* shrank under an exclusive lock */
		return -1;
	}
	if (tail[n - 1] == '\n' && (n == 1 || tail[0] == '\n'))
		return 0;
	if (tail[n - 1] != '\n')
		buf_putc(prefix, '\n');
	buf_puts(prefix, BL_TRUNCATED "\n");
	return 0;
}

int
bounce_log_append_path(const char *path, const struct bounce_log_entry *e,
    struct buf *why)
{
	struct buf out;
	const char *what = NULL;
	ssize_t n;
	int fd = -1, saved, ret = -1;

	buf_init(&out, 512);
	/* The entry goes after a possible repair prefix. */
	if (bl_format(&out, e, why) < 0) {
		saved = errno;
		buf_fini(&out);
		errno = saved;
		return -1;
	}
	/* Read access too: bl_repair() looks at the end of the file. */
	if ((fd = file_open_safe(path, O_RDWR | O_APPEND | O_CREAT, 0600,
	    NULL)) < 0) {
		what = "open";
		goto out;
	}
	if (bl_lock(fd, LOCK_EX) < 0) {
		what = "lock";
		goto out;
	}
	{
		struct buf prefix;

		buf_init(&prefix, 32);
		if (bl_repair(fd, &prefix) < 0) {
			buf_fini(&prefix);
			what = "read";
			goto out;
		}
		if (prefix.len > 0) {
			buf_append(&prefix, out.data, out.len);
			buf_fini(&out);
			out = prefix;
		} else {
			buf_fini(&prefix);
		}
	}
	/* One write(2): a crash leaves all of it or a prefix of it. */
	while ((n = write(fd, out.data, out.len)) < 0 && errno == EINTR)
		;
	if (n < 0 || (size_t)n != out.len) {
		if (n >= 0)
			errno = ENOSPC;
		what = "write";
		goto out;
	}
	if (fsync(fd) < 0) {
		what = "fsync";
		goto out;
	}
	ret = 0;
out:
	saved = errno;
	if (fd >= 0 && close(fd) < 0 && ret == 0) {
		saved = errno;
		what = "close";
		ret = -1;
	}
	if (ret < 0)
		buf_printf(why, "%s %s: %s", what, path, strerror(saved));
	buf_fini(&out);
	errno = saved;
	return ret;
}

static bool
bl_queue_ok(const char *queue, const char *id)
{
	if (queue == NULL || id == NULL || !queue_id_valid(id)
	    || (strcmp(queue, MAIL_QUEUE_BOUNCE) != 0
	    && strcmp(queue, MAIL_QUEUE_DEFER) != 0
	    && strcmp(queue, MAIL_QUEUE_TRACE) != 0)) {
		errno = EINVAL;
		return false;
	}
	return true;
}

int
bounce_log_append(const char *queue, const char *id,
    const struct bounce_log_entry *e, struct buf *why)
{
	struct buf path, dir;
	size_t mark = why->len;
	int ret, saved;

	if (!bl_queue_ok(queue, id)) {
		buf_puts(why, "bad queue name or queue ID");
		return -1;
	}
	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	ret = bounce_log_append_path(path.data, e, why);
	saved = errno;
	/* A hash directory is made the first time it is needed. */
	if (ret < 0 && saved == ENOENT && mail_queue_hashed(queue)) {
		buf_init(&dir, 64);
		file_dirname(&dir, path.data);
		if (file_mkdir_p(dir.data, 0700) < 0) {
			saved = errno;
			buf_printf(why, "; mkdir %s: %s", dir.data,
			    strerror(saved));
		} else {
			buf_truncate(why, mark);
			ret = bounce_log_append_path(path.data, e, why);
			saved = errno;
		}
		buf_fini(&dir);
	}
	buf_fini(&path);
	errno = saved;
	return ret;
}

int
bounce_log_remove(const char *queue, const char *id)
{
	struct buf path;
	int ret;

	if (!bl_queue_ok(queue, id))
		return -1;
	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	ret = unlink(path.data);
	if (ret < 0 && errno == ENOENT)
		ret = 0;
	buf_fini(&path);
	return ret;
}

void
bounce_log_entry_init(struct bounce_log_entry *e,
    const struct qfile_rcpt *rcpt)
{
	memset(e, 0, sizeof(*e));
	e->recipient = rcpt->addr;
	e->offset = rcpt->offset;
	e->orig_rcpt = rcpt->orcpt;
	e->notify = bounce_log_notify_bits(rcpt->notify);
}

void
bounce_log_entry_fini(struct bounce_log_entry *e)
{
	if (e == NULL)
		return;
	free(e->mem);
	memset(e, 0, sizeof(*e));
}

/* ---- reading ---------------------------------------------------------- */

struct bounce_log {
	int fd;
	char *path;
	struct buf in;		/* read, not yet consumed from pos */
	size_t pos;
	bool eof;
	unsigned long lineno;	/* of the last line returned */
};

enum bl_line {
	BL_LINE,		/* a whole line */
	BL_LONG,		/* a line over the limit, discarded */
	BL_PARTIAL,		/* the end without '\n', discarded */
	BL_EOF,
	BL_ERR,			/* read error, errno set */
};

/* Read more input; false at the end or on error (bl->eof / errno). */
static int
bl_fill(struct bounce_log *bl)
{
	ssize_t got;

	buf_consume(&bl->in, bl->pos);
	bl->pos = 0;
	buf_reserve(&bl->in, BL_READ_CHUNK);
	while ((got = read(bl->fd, bl->in.data + bl->in.len,
	    BL_READ_CHUNK)) < 0)
		if (errno != EINTR)
			return -1;
	if (got == 0)
		bl->eof = true;
	bl->in.len += (size_t)got;
	bl->in.data[bl->in.len] = 0;
	return 0;
}

/*
 * The next line (without its '\n') in *line and *len, valid until the next
 * call. Memory stays bounded: a line longer than BOUNCE_LOG_ENTRY_MAX
 * is thrown away as it is read.
 */
static enum bl_line
bl_getline(struct bounce_log *bl, const char **line, size_t *len)
{
	bool skipping = false;
	size_t avail;
	char *nl;

	for (;;) {
		avail = bl->in.len - bl->pos;
		nl = memchr(bl->in.data + bl->pos, '\n', avail);
		if (nl != NULL) {
			*line = bl->in.data + bl->pos;
			*len = (size_t)(nl - *line);
			bl->pos += *len + 1;
			bl->lineno++;
			if (skipping || *len > BOUNCE_LOG_ENTRY_MAX)
				return BL_LONG;
			return BL_LINE;
		}
		if (avail > BOUNCE_LOG_ENTRY_MAX) {
			skipping = true;
			bl->pos = bl->in.len;
			avail = 0;
		}
		if (bl->eof) {
			bl->pos = bl->in.len;
			if (avail == 0 && !skipping)
				return BL_EOF;
			bl->lineno++;
			return BL_PARTIAL;
		}
		if (bl_fill(bl) < 0)
			return BL_ERR;
	}
}

struct bounce_log *
bounce_log_open_path(const char *path)
{
	struct bounce_log *bl;
	int fd, saved;

	if ((fd = file_open_safe(path, O_RDONLY, 0, NULL)) < 0)
		return NULL;
	if (bl_lock(fd, LOCK_SH) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return NULL;
	}
	bl = xcalloc(1, sizeof(*bl));
	bl->fd = fd;
	bl->path = xstrdup(path);
	buf_init(&bl->in, BL_READ_CHUNK + 1);
	return bl;
}

struct bounce_log *
bounce_log_open(const char *queue, const char *id)
{
	struct bounce_log *bl;
	struct buf path;
	int saved;

	if (!bl_queue_ok(queue, id))
		return NULL;
	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	bl = bounce_log_open_path(path.data);
	saved = errno;
	buf_fini(&path);
	errno = saved;
	return bl;
}

const char *
bounce_log_path(const struct bounce_log *bl)
{
	return bl->path;
}

void
bounce_log_close(struct bounce_log *bl)
{
	if (bl == NULL)
		return;
	/* Read-only: a close error loses nothing. */
	(void)close(bl->fd);
	free(bl->path);
	buf_fini(&bl->in);
	free(bl);
}

/* One entry being read: values stored NUL-separated in store. */
struct bl_entry_state {
	struct buf store;
	size_t off[BL_NFIELDS];
	bool have[BL_NFIELDS];
	struct buf why;		/* the first problem, or empty */
	unsigned long why_line;
	unsigned long first_line;
	size_t size;		/* bytes of the entry so far */
	bool started;
};

static void
bl_state_reset(struct bl_entry_state *st)
{
	buf_reset(&st->store);
	memset(st->have, 0, sizeof(st->have));
	buf_reset(&st->why);
	st->why_line = 0;
	st->size = 0;
	st->started = false;
}

static void
bl_state_fail(struct bl_entry_state *st, unsigned long line,
    const char *text)
{
	if (st->why.len > 0)
		return;
	buf_puts(&st->why, text);
	st->why_line = line;
}

/* Take in one line of an entry. */
static void
bl_state_line(struct bl_entry_state *st, unsigned long lineno,
    const char *line, size_t len)
{
	const char *eq;
	size_t nlen, i;

	if (!st->started) {
		st->started = true;
		st->first_line = lineno;
	}
	if (st->why.len > 0)
		return;
	if (__builtin_add_overflow(st->size, len + 1, &st->size)
	    || st->size > BOUNCE_LOG_ENTRY_MAX) {
		bl_state_fail(st, lineno, "entry too long");
		return;
	}
	if (memchr(line, 0, len) != NULL) {
		bl_state_fail(st, lineno, "NUL byte");
		return;
	}
	eq = memchr(line, '=', len);
	nlen = eq == NULL ? 0 : (size_t)(eq - line);
	if (eq == NULL || nlen == 0
	    || strspn(line, "abcdefghijklmnopqrstuvwxyz_") < nlen) {
		bl_state_fail(st, lineno, "malformed line");
		return;
	}
	for (i = 0; i < BL_NFIELDS; i++)
		if (strlen(bl_fields[i].name) == nlen
		    && memcmp(bl_fields[i].name, line, nlen) == 0)
			break;
	if (i == BL_NFIELDS)
		return;			/* a later field: ignored */
	if (st->have[i]) {
		buf_printf(&st->why, "repeated %s", bl_fields[i].name);
		st->why_line = lineno;
		return;
	}
	st->have[i] = true;
	st->off[i] = st->store.len;
	buf_append(&st->store, eq + 1, len - nlen - 1);
	buf_putc(&st->store, 0);
	if (!bl_check((enum bl_field)i, st->store.data + st->off[i],
	    &st->why))
		st->why_line = lineno;
}

/* The entry is complete: check it as a whole and fill e; false if bad. */
static bool
bl_state_finish(struct bl_entry_state *st, unsigned long lineno,
    struct bounce_log_entry *e)
{
	const char *v[BL_NFIELDS] = {NULL};
	long num;
	size_t i;

	if (st->why.len > 0)
		return false;
	if (st->have[BL_TRUNCATED_FIELD]) {
		bl_state_fail(st, st->first_line,
		    "incomplete (interrupted append)");
		return false;
	}
	for (i = 0; i < BL_NFIELDS; i++) {
		if (bl_fields[i].required && !st->have[i]) {
			buf_printf(&st->why, "no %s", bl_fields[i].name);
			st->why_line = lineno;
			return false;
		}
	}
	if (!bl_check_pairs(st->have, &st->why)) {
		st->why_line = lineno;
		return false;
	}
	e->mem = buf_steal(&st->store);
	buf_init(&st->store, 256);
	for (i = 0; i < BL_NFIELDS; i++)
		if (st->have[i])
			v[i] = e->mem + st->off[i];
	e->recipient = v[BL_RECIPIENT];
	(void)bl_decimal(v[BL_OFFSET], BL_OFFSET_MAX, &num);
	e->offset = (off_t)num;
	e->orig_rcpt = v[BL_ORIG_RCPT] && *v[BL_ORIG_RCPT] ? v[BL_ORIG_RCPT]
	    : NULL;
	e->notify = 0;
	if (v[BL_NOTIFY] != NULL && bl_decimal(v[BL_NOTIFY],
	    DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY, &num) == 0)
		e->notify = (int)num;
	e->status = v[BL_STATUS];
	e->action = (enum bounce_log_action)
	    bounce_log_action_parse(v[BL_ACTION]);
	e->reason = v[BL_REASON];
	e->diag_type = v[BL_DIAG_TYPE];
	e->diag_text = v[BL_DIAG_TEXT];
	e->mta_type = v[BL_MTA_TYPE];
	e->mta_name = v[BL_MTA_NAME];
	return true;
}

static void
bl_warn_skip(const struct bounce_log *bl, const struct bl_entry_state *st)
{
	struct buf text;

	buf_init(&text, 64);
	str_printable(&text, st->why.data, st->why.len);
	msg_warn("%s, line %lu: entry skipped: %s", bl->path, st->why_line,
	    text.data);
	buf_fini(&text);
}

int
bounce_log_next(struct bounce_log *bl, struct bounce_log_entry *e)
{
	struct bl_entry_state st;
	const char *line;
	size_t len;
	int ret = -1, saved;

	bounce_log_entry_fini(e);
	buf_init(&st.store, 256);
	buf_init(&st.why, 64);
	bl_state_reset(&st);
	for (;;) {
		switch (bl_getline(bl, &line, &len)) {
		case BL_LINE:
			if (len > 0) {
				bl_state_line(&st, bl->lineno, line, len);
				continue;
			}
			if (!st.started)
				continue;	/* extra empty lines */
			if (bl_state_finish(&st, bl->lineno, e)) {
				ret = 1;
				goto out;
			}
			bl_warn_skip(bl, &st);
			bl_state_reset(&st);
			continue;
		case BL_LONG:
			if (!st.started) {
				st.started = true;
				st.first_line = bl->lineno;
			}
			bl_state_fail(&st, bl->lineno, "line too long");
			continue;
		case BL_PARTIAL:
			if (!st.started)
				st.first_line = bl->lineno;
			st.started = true;
			/* FALLTHROUGH */
		case BL_EOF:
			if (st.started)
				msg_warn("%s, line %lu: incomplete last entry "
				    "skipped (interrupted append)", bl->path,
				    st.first_line);
			ret = 0;
			goto out;
		case BL_ERR:
			saved = errno;
			msg_warn("read %s: %s", bl->path, strerror(saved));
			errno = saved;
			goto out;
		}
	}
out:
	buf_fini(&st.store);
	buf_fini(&st.why);
	return ret;
}

int
bounce_log_read_all_path(const char *path, struct bounce_log_entry **out,
    size_t *count)
{
	struct bounce_log *bl;
	struct bounce_log_entry e, *list = NULL;
	size_t n = 0, cap = 0;
	int rc, saved;

	*out = NULL;
	*count = 0;
	if ((bl = bounce_log_open_path(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	memset(&e, 0, sizeof(e));
	while ((rc = bounce_log_next(bl, &e)) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			list = xreallocarray(list, cap, sizeof(*list));
		}
		list[n++] = e;
		memset(&e, 0, sizeof(e));	/* now owned by list */
	}
	saved = errno;
	bounce_log_close(bl);
	if (rc < 0) {
		bounce_log_free_all(list, n);
		errno = saved;
		return -1;
	}
	*out = list;
	*count = n;
	return 0;
}

int
bounce_log_read_all(const char *queue, const char *id,
    struct bounce_log_entry **out, size_t *count)
{
	struct buf path;
	int ret, saved;

	*out = NULL;
	*count = 0;
	if (!bl_queue_ok(queue, id))
		return -1;
	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	ret = bounce_log_read_all_path(path.data, out, count);
	saved = errno;
	buf_fini(&path);
	errno = saved;
	return ret;
}

void
bounce_log_free_all(struct bounce_log_entry *entries, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		bounce_log_entry_fini(&entries[i]);
	free(entries);
}
