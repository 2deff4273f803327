/*
 * test_qfile.c - unit tests for qfile.c
 *
 * Queue files are built in memory with rec_encode() by a small builder
 * that writes a correct size record (or a given wrong one), from specs
 * such as "T1700000000 5|Sjoe@example.com|Rbob@example.com|M|Nhi|X|E"
 * (records separated by '|', each its type byte then its data; '~'
 * stands for a NUL byte; a leading '!' means no size record is
 * prepended). Files are handed to qfile through a memfd.
 *
 * Covered: a valid file's envelope (fields, recipient offsets, done
 * marking), the content iterator (long lines joined from CONT records,
 * pieces under a small limit, content checked late after
 * qfile_read_envelope()), maildrop files, the walk callback, reading a
 * pipe, a table of corruptions each with its reason, truncation at every
 * byte offset, and every byte replaced by a few values (never a crash).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "rec.h"

/* No override of a size field. */
#define AUTO	(-1L)
#define NO_OV	{AUTO, AUTO, AUTO, AUTO}

/* ---- building queue files ----------------------------------------------- */

struct qb {
	struct buf file;
	long mesg_off;
	long xtra_off;
	long rcpts;
	bool with_size;
};

static void
qb_start(struct qb *b, bool with_size)
{
	buf_init(&b->file, 512);
	b->mesg_off = b->xtra_off = 0;
	b->rcpts = 0;
	b->with_size = with_size;
	/* A placeholder, rewritten by qb_finish(). */
	if (with_size)
		rec_encode(&b->file, REC_TYPE_SIZE,
		    "................................"
		    "...............................", QFILE_SIZE_LEN);
}

static void
qb_add(struct qb *b, int type, const void *data, size_t len)
{
	if (type == REC_TYPE_MESG)
		b->mesg_off = (long)b->file.len;
	if (type == REC_TYPE_XTRA)
		b->xtra_off = (long)b->file.len;
	if ((type == REC_TYPE_RCPT || type == REC_TYPE_DONE) && !b->mesg_off)
		b->rcpts++;
	rec_encode(&b->file, type, data, len);
}

/* Write the size record; fields in ov that are not AUTO replace ours. */
static void
qb_finish(struct qb *b, const long *ov)
{
	long val[4];
	struct buf size;
	int i;

	if (!b->with_size)
		return;
	val[0] = b->mesg_off;
	val[1] = b->xtra_off - (b->mesg_off + 2);
	val[2] = b->rcpts;
	val[3] = 0;
	for (i = 0; ov != NULL && i < 4; i++)
		if (ov[i] != AUTO)
			val[i] = ov[i];
	buf_init(&size, 64);
	buf_printf(&size, "%15ld %15ld %15ld %15ld", val[0], val[1], val[2],
	    val[3]);
	assert_int_equal(size.len, QFILE_SIZE_LEN);
	/* 'C', one length byte (63), then the data. */
	memcpy(b->file.data + 2, size.data, size.len);
	buf_fini(&size);
}

/* Build from a spec (see the top of this file). */
static void
build(struct buf *out, const char *spec, const long *ov)
{
	struct qb b;
	const char *cp, *end;
	struct buf data;
	size_t i;

	qb_start(&b, *spec != '!');
	if (*spec == '!')
		spec++;
	buf_init(&data, 64);
	for (cp = spec; *cp; cp = *end ? end + 1 : end) {
		if ((end = strchr(cp, '|')) == NULL)
			end = cp + strlen(cp);
		buf_setn(&data, cp + 1, (size_t)(end - cp - 1));
		for (i = 0; i < data.len; i++)
			if (data.data[i] == '~')
				data.data[i] = 0;
		qb_add(&b, (unsigned char)*cp, data.data, data.len);
	}
	buf_fini(&data);
	qb_finish(&b, ov);
	*out = b.file;
}

/* A memfd holding exactly these bytes. */
static int
mem_file(const void *data, size_t len)
{
	int fd = memfd_create("qfile", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

#define ENVELOPE \
	"T1700000000 123456|Alog_ident=test|Arewrite_context=local|" \
	"Sjoe@example.com|"
#define VALID \
	ENVELOPE "Oorig@example.com|nSUCCESS,FAILURE|Rbob@example.com|" \
	"Dann@example.com|Rcarl@example.com|M|NSubject: hi|" \
	"NFrom: joe@example.com|N|Nbody line 1|N|Nlast|X|" \
	"rreceipt@example.com|eerrors@example.com|W1700003600|E"

/* ---- a valid file -------------------------------------------------------- */

static void
check_envelope(const struct qfile *qf, const struct buf *file,
    const char *label)
{
	size_t i;

	CHECK(qf->arrival.tv_sec == 1700000000, label);
	CHECK(qf->arrival.tv_usec == 123456, label);
	CHECK(qf->attr_count == 2, label);
	CHECK_STR_OR_NULL(qf->attrs[0].name, "log_ident", label);
	CHECK_STR_OR_NULL(qf->attrs[0].value, "test", label);
	CHECK_STR_OR_NULL(qfile_attr(qf, "rewrite_context"), "local", label);
	CHECK(qfile_attr(qf, "nope") == NULL, label);
	CHECK_STR_OR_NULL(qf->sender, "joe@example.com", label);
	CHECK(qf->rcpt_count == 3, label);
	CHECK(qf->done_count == 1, label);
	CHECK_STR_OR_NULL(qf->rcpts[0].addr, "bob@example.com", label);
	CHECK_STR_OR_NULL(qf->rcpts[0].orcpt, "orig@example.com", label);
	CHECK_STR_OR_NULL(qf->rcpts[0].notify, "SUCCESS,FAILURE", label);
	CHECK(!qf->rcpts[0].done, label);
	CHECK_STR_OR_NULL(qf->rcpts[1].addr, "ann@example.com", label);
	CHECK(qf->rcpts[1].orcpt == NULL && qf->rcpts[1].notify == NULL,
	    label);
	CHECK(qf->rcpts[1].done, label);
	CHECK_STR_OR_NULL(qf->rcpts[2].addr, "carl@example.com", label);
	for (i = 0; i < qf->rcpt_count; i++)
		CHECK(file->data[qf->rcpts[i].offset]
		    == (qf->rcpts[i].done ? REC_TYPE_DONE : REC_TYPE_RCPT),
		    label);
	CHECK(qf->size.rcpt_count == 3, label);
	CHECK(file->data[qf->size.mesg_offset] == REC_TYPE_MESG, label);
	CHECK(qf->content_offset == qf->size.mesg_offset + 2, label);
	CHECK(file->data[qf->xtra_offset] == REC_TYPE_XTRA, label);
	CHECK(qf->xtra_offset - qf->content_offset == qf->size.content_size,
	    label);
	CHECK_STR_OR_NULL(qf->rrto, "receipt@example.com", label);
	CHECK_STR_OR_NULL(qf->erto, "errors@example.com", label);
	CHECK(qf->warn_time == 1700003600, label);
	CHECK(qf->end_offset == (off_t)file->len - 2, label);
}

/* All content lines joined with "\n", each piece marked by its result. */
static int
read_content(int fd, const struct qfile *qf, size_t limit, struct buf *all,
    struct buf *why)
{
	struct qfile_content *qc;
	struct buf line;
	int rc;

	buf_init(&line, 64);
	buf_reset(all);
	qc = qfile_content_open(fd, qf);
	while ((rc = qfile_content_next(qc, &line, limit, why)) > 0) {
		buf_append(all, line.data, line.len);
		buf_puts(all, rc == QFILE_LINE ? "\n" : "+");
	}
	qfile_content_close(qc);
	buf_fini(&line);
	return rc;
}

static void
test_valid(void **state)
{
	struct buf file, why, all;
	struct qfile qf;
	int fd, rc;

	(void)state;
	build(&file, VALID, NULL);
	buf_init(&why, 64);
	buf_init(&all, 64);
	fd = mem_file(file.data, file.len);

	rc = qfile_read(fd, &qf, &why);
	if (rc != QFILE_OK)
		fail_msg("qfile_read: %d %s", rc, why.data);
	check_envelope(&qf, &file, "qfile_read");
	rc = read_content(fd, &qf, 1000, &all, &why);
	CHECK(rc == QFILE_END, why.data);
	CHECK_STR_OR_NULL(all.data, "Subject: hi\nFrom: joe@example.com\n\n"
	    "body line 1\n\nlast\n", "content");
	/* A small limit: pieces, then the end of each line. */
	rc = read_content(fd, &qf, 4, &all, &why);
	CHECK(rc == QFILE_END, why.data);
	CHECK_STR_OR_NULL(all.data,
	    "Subj+ect:+ hi\nFrom+: jo+e@ex+ampl+e.co+m\n\n"
	    "body+ lin+e 1\n\nlast\n", "content, limit 4");
	qfile_fini(&qf);

	rc = qfile_read_envelope(fd, &qf, &why);
	if (rc != QFILE_OK)
		fail_msg("qfile_read_envelope: %d %s", rc, why.data);
	check_envelope(&qf, &file, "qfile_read_envelope");

	/* Done marking: one byte in place, seen by the next reader. */
	assert_int_equal(qfile_mark_done(fd, &qf, 0), 0);
	assert_int_equal(qfile_mark_done(fd, &qf, 1), 0);	/* already */
	assert_true(qf.rcpts[0].done);
	assert_int_equal(qf.done_count, 2);
	assert_int_equal(qfile_mark_done(fd, &qf, 3), -1);
	assert_int_equal(errno, EINVAL);
	qfile_fini(&qf);
	assert_int_equal(qfile_read(fd, &qf, &why), QFILE_OK);
	assert_true(qf.rcpts[0].done);
	assert_false(qf.rcpts[2].done);
	assert_int_equal(qf.done_count, 2);
	qfile_fini(&qf);

	close(fd);
	buf_fini(&file);
	buf_fini(&why);
	buf_fini(&all);
}

/* Minimal files: no attributes, no extracted records, no content. */
static void
test_minimal(void **state)
{
	static const struct {
		const char *label;
		const char *spec;
		const char *content;
	} cases[] = {
		{"no content", "T1 0|S|Rx|M|X|E", ""},
		{"one empty line", "T1 0|S|Rx|M|N|X|E", "\n"},
		{"leading zeros in time", "T0001 000009|S|Rx|M|Na|X|E", "a\n"},
		{"NUL in content", "T1 0|S|Rx|M|Na~b|X|E", "a"},
		{"only done recipients", "T1 0|S|Dx|Dy|M|Na|X|E", "a\n"},
		{"notify without orcpt", "T1 0|S|nNEVER|Rx|M|Na|X|E", "a\n"},
		{"warn right-aligned", "T1 0|S|Rx|M|Na|X|W            12|E",
		 "a\n"},
	};
	struct buf file, why, all;
	struct qfile qf;
	size_t i;
	int fd, rc;

	(void)state;
	buf_init(&why, 64);
	buf_init(&all, 64);
	for (i = 0; i < NELEM(cases); i++) {
		build(&file, cases[i].spec, NULL);
		fd = mem_file(file.data, file.len);
		rc = qfile_read(fd, &qf, &why);
		if (rc != QFILE_OK)
			fail_msg("case \"%s\": %d %s", cases[i].label, rc,
			    why.data);
		CHECK_STR_OR_NULL(qf.sender, "", cases[i].label);
		CHECK(qf.warn_time == (strchr(cases[i].spec, 'W') ? 12 : -1),
		    cases[i].label);
		rc = read_content(fd, &qf, 100, &all, &why);
		CHECK(rc == QFILE_END, cases[i].label);
		/* The NUL case: compare what precedes the NUL. */
		CHECK_STR_OR_NULL(all.data, cases[i].content, cases[i].label);
		qfile_fini(&qf);
		close(fd);
		buf_fini(&file);
	}
	buf_fini(&why);
	buf_fini(&all);
}

/* Long lines arrive as CONT records and leave as one line. */
static void
test_long_line(void **state)
{
	struct buf file, why, line, want;
	struct qfile_content *qc;
	struct qfile qf;
	struct qb b;
	char *piece;
	size_t got;
	int fd, rc, i;

	(void)state;
	qb_start(&b, true);
	qb_add(&b, REC_TYPE_TIME, BYTES("1 2"));
	qb_add(&b, REC_TYPE_FROM, BYTES("a@b"));
	qb_add(&b, REC_TYPE_RCPT, BYTES("c@d"));
	qb_add(&b, REC_TYPE_MESG, "", 0);
	piece = xmalloc(QFILE_RECORD_MAX);
	buf_init(&want, 4 * QFILE_RECORD_MAX);
	for (i = 0; i < 3; i++) {
		memset(piece, 'a' + i, QFILE_RECORD_MAX);
		qb_add(&b, REC_TYPE_CONT, piece, QFILE_RECORD_MAX);
		buf_append(&want, piece, QFILE_RECORD_MAX);
	}
	qb_add(&b, REC_TYPE_NORM, BYTES("end"));
	buf_puts(&want, "end");
	qb_add(&b, REC_TYPE_NORM, BYTES("next"));
	qb_add(&b, REC_TYPE_XTRA, "", 0);
	qb_add(&b, REC_TYPE_END, "", 0);
	qb_finish(&b, NULL);
	file = b.file;
	fd = mem_file(file.data, file.len);
	buf_init(&why, 64);
	buf_init(&line, 64);

	assert_int_equal(qfile_read(fd, &qf, &why), QFILE_OK);
	qc = qfile_content_open(fd, &qf);
	assert_int_equal(qfile_content_next(qc, &line, 4 * QFILE_RECORD_MAX,
	    &why), QFILE_LINE);
	assert_int_equal(line.len, want.len);
	assert_memory_equal(line.data, want.data, want.len);
	assert_int_equal(qfile_content_next(qc, &line, 100, &why),
	    QFILE_LINE);
	assert_string_equal(line.data, "next");
	assert_int_equal(qfile_content_next(qc, &line, 100, &why), QFILE_END);
	assert_int_equal(qfile_content_next(qc, &line, 100, &why), QFILE_END);
	qfile_content_close(qc);

	/* Limit 1000: pieces of 1000 bytes, the rest, then the line end. */
	qc = qfile_content_open(fd, &qf);
	got = 0;
	while ((rc = qfile_content_next(qc, &line, 1000, &why)) == QFILE_PART) {
		assert_int_equal(line.len, 1000);
		assert_memory_equal(line.data, want.data + got, 1000);
		got += line.len;
	}
	assert_int_equal(rc, QFILE_LINE);
	assert_memory_equal(line.data, want.data + got, line.len);
	assert_int_equal(got + line.len, want.len);
	/* Exactly at a record boundary: the piece ends with the CONT. */
	qfile_content_close(qc);
	qc = qfile_content_open(fd, &qf);
	assert_int_equal(qfile_content_next(qc, &line, QFILE_RECORD_MAX,
	    &why), QFILE_PART);
	assert_int_equal(line.len, QFILE_RECORD_MAX);
	qfile_content_close(qc);
	qfile_fini(&qf);

	close(fd);
	free(piece);
	buf_fini(&file);
	buf_fini(&why);
	buf_fini(&line);
	buf_fini(&want);
}

/* qfile_read_envelope() skips the content; the iterator checks it. */
static void
test_late_content_check(void **state)
{
	static const struct {
		const char *label;
		const char *spec;
		const char *want;
	} cases[] = {
		{"recipient in content", "T1 0|S|Rx|M|Na|Ry|X|E",
		 "expected content record, found recipient record"},
		{"line ends at content end", "T1 0|S|Rx|M|Na|Lb|X|E",
		 "the content ends inside a line"},
	};
	struct buf file, why, all;
	struct qfile qf;
	size_t i;
	int fd, rc;

	(void)state;
	buf_init(&why, 64);
	buf_init(&all, 64);
	for (i = 0; i < NELEM(cases); i++) {
		build(&file, cases[i].spec, NULL);
		fd = mem_file(file.data, file.len);
		rc = qfile_read_envelope(fd, &qf, &why);
		if (rc != QFILE_OK)
			fail_msg("case \"%s\": %d %s", cases[i].label, rc,
			    why.data);
		rc = read_content(fd, &qf, 100, &all, &why);
		CHECK(rc == QFILE_CORRUPT, cases[i].label);
		CHECK(strstr(why.data, cases[i].want) != NULL, cases[i].label);
		qfile_fini(&qf);
		assert_int_equal(qfile_read(fd, &qf, &why), QFILE_CORRUPT);
		qfile_fini(&qf);
		close(fd);
		buf_fini(&file);
	}
	buf_fini(&why);
	buf_fini(&all);
}

static void
test_maildrop(void **state)
{
	struct buf file, why, all;
	struct qfile qf;
	int fd;

	(void)state;
	buf_init(&why, 64);
	buf_init(&all, 64);
	build(&file, "!T5 6|Sa@b|Rc@d|Re@f|M|Nhello|X|E", NULL);
	fd = mem_file(file.data, file.len);
	assert_int_equal(qfile_read(fd, &qf, &why), QFILE_CORRUPT);
	assert_string_equal(why.data,
	    "offset 0: expected size record, found time record");
	qfile_fini(&qf);
	assert_int_equal(qfile_read_flags(fd, QFILE_FLAG_MAILDROP, &qf, &why),
	    QFILE_OK);
	assert_int_equal(qf.rcpt_count, 2);
	assert_int_equal(qf.size.rcpt_count, 2);
	assert_int_equal(file.data[qf.size.mesg_offset], REC_TYPE_MESG);
	assert_int_equal(qf.size.content_size, 7);
	assert_int_equal(read_content(fd, &qf, 100, &all, &why), QFILE_END);
	assert_string_equal(all.data, "hello\n");
	qfile_fini(&qf);
	close(fd);
	buf_fini(&file);

	/* postdrop writes no TIME: the file's own time is the arrival. */
	build(&file, "!Alog_ident=x|Sa@b|Rc@d|M|Nhello|X|E", NULL);
	fd = mem_file(file.data, file.len);
	assert_int_equal(qfile_read_flags(fd, QFILE_FLAG_MAILDROP, &qf, &why),
	    QFILE_OK);
	assert_int_equal(qf.arrival.tv_sec, 0);
	assert_string_equal(qfile_attr(&qf, "log_ident"), "x");
	assert_string_equal(qf.rcpts[0].addr, "c@d");
	qfile_fini(&qf);
	close(fd);
	buf_fini(&file);
	build(&file, "!Rc@d|Sa@b|M|X|E", NULL);
	fd = mem_file(file.data, file.len);
	assert_int_equal(qfile_read_flags(fd, QFILE_FLAG_MAILDROP, &qf, &why),
	    QFILE_CORRUPT);
	assert_string_equal(why.data, "offset 0: expected time, "
	    "named_attribute or sender record, found recipient record");
	qfile_fini(&qf);
	close(fd);
	buf_fini(&file);

	/* A size record is out of place in a maildrop file. */
	build(&file, VALID, NULL);
	fd = mem_file(file.data, file.len);
	assert_int_equal(qfile_read_flags(fd, QFILE_FLAG_MAILDROP, &qf, &why),
	    QFILE_CORRUPT);
	assert_string_equal(why.data, "offset 0: expected time, "
	    "named_attribute or sender record, found size record");
	qfile_fini(&qf);
	close(fd);
	buf_fini(&file);
	buf_fini(&why);
	buf_fini(&all);
}

/* ---- walking ------------------------------------------------------------ */

struct walk_log {
	struct buf types;
	int stop_at;		/* type that stops the walk, or 0 */
};

static int
walk_cb(void *ctx, const struct qfile_rec *rec)
{
	struct walk_log *log = ctx;

	assert_true(rec->next > rec->offset);
	assert_int_equal(rec->data[rec->len], 0);
	buf_putc(&log->types, rec->type);
	return rec->type == log->stop_at ? -7 : 0;
}

static void
test_walk(void **state)
{
	struct walk_log log;
	struct buf file, why;
	int fd, pfd[2];

	(void)state;
	buf_init(&log.types, 64);
	buf_init(&why, 64);
	build(&file, VALID, NULL);
	fd = mem_file(file.data, file.len);

	log.stop_at = 0;
	assert_int_equal(qfile_walk(fd, QFILE_FLAG_NONE, walk_cb, &log, &why),
	    QFILE_OK);
	assert_string_equal(log.types.data, "CTAASOnRDRMNNNNNNXreWE");
	buf_reset(&log.types);
	assert_int_equal(qfile_walk(fd, QFILE_FLAG_SKIP_CONTENT, walk_cb, &log,
	    &why), QFILE_OK);
	assert_string_equal(log.types.data, "CTAASOnRDRMXreWE");
	buf_reset(&log.types);
	log.stop_at = REC_TYPE_RCPT;
	assert_int_equal(qfile_walk(fd, QFILE_FLAG_NONE, walk_cb, &log, &why),
	    -7);
	assert_string_equal(log.types.data, "CTAASOnR");
	assert_int_equal(qfile_walk(fd, QFILE_FLAG_NONE, NULL, NULL, &why),
	    QFILE_OK);

	/* A pipe is read in sequence, with or without skipping. */
	buf_reset(&log.types);
	log.stop_at = 0;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(write(pfd[1], file.data, file.len), (ssize_t)file.len);
	close(pfd[1]);
	assert_int_equal(qfile_walk(pfd[0], QFILE_FLAG_SKIP_CONTENT, walk_cb,
	    &log, &why), QFILE_OK);
	assert_string_equal(log.types.data, "CTAASOnRDRMXreWE");
	close(pfd[0]);

	/* A read error is not corruption. */
	assert_int_equal(qfile_walk(-1, QFILE_FLAG_NONE, NULL, NULL, &why),
	    QFILE_IOERR);
	assert_string_equal(why.data,
	    "offset 0: read error: Bad file descriptor");

	close(fd);
	buf_fini(&file);
	buf_fini(&why);
	buf_fini(&log.types);
}

/* ---- corruption ------------------------------------------------------- */

static void
test_corrupt(void **state)
{
	static const struct {
		const char *label;
		const char *spec;
		long ov[4];		/* size record fields, or AUTO */
		const char *want;	/* a part of the reason */
		bool late;		/* in the content: skipping misses it
					 * (the content iterator finds it) */
	} cases[] = {
		{"missing SIZE", "!T1 0|S|Rx|M|X|E",
		 NO_OV, "offset 0: expected size record, found time "
		 "record", false},
		{"empty file", "!",
		 NO_OV, "offset 0: expected size record, found end of "
		 "file", false},
		{"SIZE too short", "!C             40              2"
		 "               1|T1 0|S|Rx|M|X|E",
		 NO_OV, "offset 0: malformed size record", false},
		{"SIZE left-aligned", "!C40                            2 "
		 "              1               0|T1 0|S|Rx|M|X|E",
		 NO_OV, "offset 0: malformed size record", false},
		{"SIZE leading zero", "!C            040               2 "
		 "              1               0|T1 0|S|Rx|M|X|E",
		 NO_OV, "offset 0: malformed size record", false},
		{"SIZE negative", "T1 0|S|Rx|M|X|E",
		 {AUTO, AUTO, AUTO, -2}, "offset 0: malformed size "
		 "record", false},
		{"SIZE two spaces", "!C             40               2 "
		 "              1 0             0|T1 0|S|Rx|M|X|E",
		 NO_OV, "offset 0: malformed size record", false},
		{"wrong mesg offset", VALID,
		 {5, AUTO, AUTO, AUTO}, "message_content record, but "
		 "the size record says it is at offset 5", false},
		{"content size too big", VALID,
		 {AUTO, 1000, AUTO, AUTO}, "message_end record, but "
		 "the size record says the content ends at offset", false},
		{"content size too small", VALID,
		 {AUTO, 3, AUTO, AUTO}, "content runs past offset", false},
		{"recipient count high", VALID,
		 {AUTO, AUTO, 4, AUTO}, "the size record says 4 "
		 "recipients, the file holds 3", false},
		{"recipient count low", VALID,
		 {AUTO, AUTO, 1, AUTO}, "the size record says 1 "
		 "recipients, the file holds 3", false},
		{"two FROM", "T1 0|Sa|Sb|Rx|M|X|E",
		 NO_OV, "expected recipient or message_content "
		 "record, found sender record", false},
		{"no FROM", "T1 0|Aa=b|Rx|M|X|E",
		 NO_OV, "expected named_attribute or sender record, "
		 "found recipient record", false},
		{"FROM after recipient", "T1 0|Rx|Sa|M|X|E",
		 NO_OV, "expected named_attribute or sender record, "
		 "found recipient record", false},
		{"ATTR after FROM", "T1 0|Sa|Aa=b|Rx|M|X|E",
		 NO_OV, "found named_attribute record", false},
		{"RCPT after MESG", "T1 0|S|Rx|M|Na|Ry|X|E",
		 NO_OV, "expected content or message_end record, found "
		 "recipient record", true},
		{"RCPT after XTRA", "T1 0|S|Rx|M|X|Ry|E",
		 NO_OV, "expected extracted or end record, found "
		 "recipient record", false},
		{"no recipients", "T1 0|S|M|X|E",
		 NO_OV, "no recipients", false},
		{"ORCP without RCPT", "T1 0|S|Oy|M|X|E",
		 NO_OV, "expected dsn_notify_flags or recipient "
		 "record, found message_content record", false},
		{"NOTIFY then ORCP", "T1 0|S|nNEVER|Oy|Rx|M|X|E",
		 NO_OV, "expected recipient record, found "
		 "original_recipient record", false},
		{"two TIME", "T1 0|T1 0|S|Rx|M|X|E",
		 NO_OV, "found time record", false},
		{"unknown record type", "T1 0|S|Rx|Zzz|M|X|E",
		 NO_OV, "unknown record type 0x5a", false},
		{"garbage after END", "T1 0|S|Rx|M|X|E|Nx",
		 NO_OV, "garbage after the end record", false},
		{"END twice", "T1 0|S|Rx|M|X|E|E",
		 NO_OV, "garbage after the end record", false},
		{"missing END", "T1 0|S|Rx|M|X",
		 NO_OV, "expected extracted or end record, found end "
		 "of file", false},
		{"missing XTRA", "T1 0|S|Rx|M|Na|E",
		 {AUTO, 3, AUTO, AUTO}, "expected content or "
		 "message_end record, found end record", false},
		{"NUL in sender", "T1 0|Sjo~e|Rx|M|X|E",
		 NO_OV, "NUL byte in sender record", false},
		{"NUL in recipient", "T1 0|S|Rx~|M|X|E",
		 NO_OV, "NUL byte in recipient record", false},
		{"NUL in attribute", "T1 0|Aa=~|S|Rx|M|X|E",
		 NO_OV, "NUL byte in named_attribute record", false},
		{"NUL in errors_to", "T1 0|S|Rx|M|X|e~|E",
		 NO_OV, "NUL byte in errors_to record", false},
		{"bad time", "T1|S|Rx|M|X|E",
		 NO_OV, "malformed time record", false},
		{"bad time usec", "T1 1000000|S|Rx|M|X|E",
		 NO_OV, "malformed time record", false},
		{"bad time sign", "T-1 0|S|Rx|M|X|E",
		 NO_OV, "malformed time record", false},
		{"bad time overflow", "T99999999999999999999 0|S|Rx|M|X|E",
		 NO_OV, "malformed time record", false},
		{"attribute without =", "T1 0|Aabc|S|Rx|M|X|E",
		 NO_OV, "malformed named_attribute record", false},
		{"attribute name case", "T1 0|ALog=x|S|Rx|M|X|E",
		 NO_OV, "malformed named_attribute record", false},
		{"attribute empty name", "T1 0|A=x|S|Rx|M|X|E",
		 NO_OV, "malformed named_attribute record", false},
		{"duplicate attribute", "T1 0|Aa=1|Ab=2|Aa=1|S|Rx|M|X|E",
		 NO_OV, "duplicate named_attribute \"a\"", false},
		{"empty recipient", "T1 0|S|R|M|X|E",
		 NO_OV, "empty recipient", false},
		{"MESG with data", "T1 0|S|Rx|Mx|X|E",
		 NO_OV, "message_content record holds 1 bytes "
		 "(expected none)", false},
		{"XTRA with data", "T1 0|S|Rx|M|Xx|E",
		 NO_OV, "message_end record holds 1 bytes", false},
		{"END with data", "T1 0|S|Rx|M|X|Ex",
		 NO_OV, "end record holds 1 bytes", false},
		{"CONT then XTRA", "T1 0|S|Rx|M|La|X|E",
		 NO_OV, "expected content record (a long line "
		 "continues), found message_end record", true},
		{"two errors_to", "T1 0|S|Rx|M|X|ea|eb|E",
		 NO_OV, "duplicate errors_to record", false},
		{"bad warning time", "T1 0|S|Rx|M|X|Wsoon|E",
		 NO_OV, "malformed warning_time record", false},
		{"content record in envelope", "T1 0|S|Rx|Na|M|X|E",
		 NO_OV, "found regular_text record", false},
	};
	struct buf file, why;
	struct qfile qf;
	size_t i;
	int fd, rc, pass;

	(void)state;
	buf_init(&why, 64);
	for (i = 0; i < NELEM(cases); i++) {
		build(&file, cases[i].spec, cases[i].ov);
		fd = mem_file(file.data, file.len);
		for (pass = 0; pass < 2; pass++) {
			buf_reset(&why);
			rc = pass == 0 ? qfile_read(fd, &qf, &why)
			    : qfile_read_envelope(fd, &qf, &why);
			qfile_fini(&qf);
			/* Skipping may find another problem first. */
			if (pass == 1 && cases[i].late) {
				if (rc != QFILE_OK)
					fail_msg("case \"%s\" (pass %d): got "
					    "%d, want ok", cases[i].label, pass,
					    rc);
				continue;
			}
			if (rc != QFILE_CORRUPT)
				fail_msg("case \"%s\" (pass %d): got %d, want "
				    "corrupt", cases[i].label, pass, rc);
			if (strncmp(why.data, "offset ", 7) != 0
			    || (pass == 0 && strstr(why.data, cases[i].want)
				== NULL))
				fail_msg("case \"%s\" (pass %d): got \"%s\", "
				    "want \"%s\"", cases[i].label, pass,
				    why.data, cases[i].want);
		}
		close(fd);
		buf_fini(&file);
	}
	buf_fini(&why);
}

/* A record over QFILE_RECORD_MAX, in the envelope and in the content. */
static void
test_record_limit(void **state)
{
	struct buf file, why;
	struct qfile qf;
	struct qb b;
	char *big;
	int fd, where;

	(void)state;
	buf_init(&why, 64);
	big = xmalloc(QFILE_RECORD_MAX + 1);
	memset(big, 'x', QFILE_RECORD_MAX + 1);
	for (where = 0; where < 2; where++) {
		qb_start(&b, true);
		qb_add(&b, REC_TYPE_TIME, BYTES("1 2"));
		qb_add(&b, REC_TYPE_FROM, where ? "a" : big,
		    where ? 1 : QFILE_RECORD_MAX + 1);
		qb_add(&b, REC_TYPE_RCPT, BYTES("c@d"));
		qb_add(&b, REC_TYPE_MESG, "", 0);
		qb_add(&b, REC_TYPE_NORM, big,
		    where ? QFILE_RECORD_MAX + 1 : 1);
		qb_add(&b, REC_TYPE_XTRA, "", 0);
		qb_add(&b, REC_TYPE_END, "", 0);
		qb_finish(&b, NULL);
		file = b.file;
		fd = mem_file(file.data, file.len);
		assert_int_equal(qfile_read(fd, &qf, &why), QFILE_CORRUPT);
		assert_non_null(strstr(why.data,
		    "record of 65537 bytes exceeds limit 65536"));
		qfile_fini(&qf);
		close(fd);
		buf_fini(&file);
	}
	free(big);
	buf_fini(&why);
}

/* Every truncation is corrupt, whichever way the file is read. */
static void
test_truncation(void **state)
{
	struct buf file, why;
	struct qfile qf;
	size_t n;
	int fd, rc;

	(void)state;
	build(&file, VALID, NULL);
	buf_init(&why, 64);
	for (n = 0; n < file.len; n++) {
		fd = mem_file(file.data, n);
		rc = qfile_read(fd, &qf, &why);
		qfile_fini(&qf);
		if (rc != QFILE_CORRUPT || strncmp(why.data, "offset ", 7) != 0)
			fail_msg("truncated at %zu: %d \"%s\"", n, rc,
			    why.data);
		rc = qfile_read_envelope(fd, &qf, &why);
		qfile_fini(&qf);
		if (rc != QFILE_CORRUPT || strncmp(why.data, "offset ", 7) != 0)
			fail_msg("truncated at %zu (envelope): %d \"%s\"", n,
			    rc, why.data);
		close(fd);
	}
	buf_fini(&file);
	buf_fini(&why);
}

/*
 * Every byte replaced by a few values: never a crash (ASan watches),
 * always a clear result; an accepted file still streams to its end.
 */
static void
test_mutation(void **state)
{
	static const unsigned char values[] = {0, 0x7f, 0x80, 0xff, 'R', 'N',
	    'L', 'X', 'E', ' ', '9'};
	struct buf file, why, all;
	struct qfile qf;
	size_t n, v;
	char saved;
	int fd, rc;

	(void)state;
	build(&file, VALID, NULL);
	buf_init(&why, 64);
	buf_init(&all, 64);
	for (n = 0; n < file.len; n++) {
		saved = file.data[n];
		for (v = 0; v < sizeof(values); v++) {
			file.data[n] = (char)values[v];
			fd = mem_file(file.data, file.len);
			rc = qfile_read(fd, &qf, &why);
			if (rc == QFILE_OK)
				assert_int_equal(read_content(fd, &qf, 7, &all,
				    &why), QFILE_END);
			else
				assert_int_equal(rc, QFILE_CORRUPT);
			qfile_fini(&qf);
			rc = qfile_read_envelope(fd, &qf, &why);
			if (rc == QFILE_OK) {
				rc = read_content(fd, &qf, 7, &all, &why);
				assert_true(rc == QFILE_END
				    || rc == QFILE_CORRUPT);
			} else {
				assert_int_equal(rc, QFILE_CORRUPT);
			}
			qfile_fini(&qf);
			close(fd);
		}
		file.data[n] = saved;
	}
	buf_fini(&file);
	buf_fini(&why);
	buf_fini(&all);
}

static void
test_parse(void **state)
{
	struct qfile_size size;
	struct timeval tv;

	(void)state;
	assert_int_equal(qfile_parse_size(BYTES("              0 "
	    "999999999999999               1              12"), &size), 0);
	assert_int_equal(size.mesg_offset, 0);
	assert_int_equal(size.content_size, 999999999999999L);
	assert_int_equal(size.rcpt_count, 1);
	assert_int_equal(size.flags, 12);
	assert_int_equal(qfile_parse_size(BYTES("               "
	    "               1               1              12"), &size), -1);
	assert_int_equal(qfile_parse_time(BYTES("0 0"), &tv), 0);
	assert_int_equal(qfile_parse_time(BYTES("12 999999"), &tv), 0);
	assert_int_equal(tv.tv_sec, 12);
	assert_int_equal(tv.tv_usec, 999999);
	assert_int_equal(qfile_parse_time(BYTES("12 0999999"), &tv), -1);
	assert_int_equal(qfile_parse_time(BYTES("12  9"), &tv), -1);
	assert_int_equal(qfile_parse_time(BYTES("12 "), &tv), -1);
	assert_int_equal(qfile_parse_time(BYTES(" 12 1"), &tv), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_late_content_check),
		cmocka_unit_test(test_maildrop),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_record_limit),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_mutation),
		cmocka_unit_test(test_parse),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
