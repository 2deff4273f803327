"""
test_cat.py - petrel cat (postcat) on queue files written by qfile_writer

Files are built by tests/integration/qfile_writer.py (an independent
Python writer of the record format), so these tests check the C reader
against a second implementation: the default output section by section,
-e, -h, -b, -bh, -o, -d, -q lookups in plain, hashed and maildrop queues,
standard input, several files, and corrupt files (printed as far as they
are valid, then the reason on stderr and exit status 65). No master
runs: an Instance gives a temporary directory and a main.cf.
"""

import os
import subprocess
import time

import pytest

import qfile_writer as qw

EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66

ARRIVAL = (1700000000, 250000)
MESSAGE = (b"Subject: hello\n"
           b"From: joe@example.com\n"
           b"\n"
           b"body line\n"
           b"a line longer than the limit, split into pieces\n"
           b"\n"
           b"last\n")


def ctime(sec):
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(sec))


def sample(**kw):
    args = dict(
        sender="joe@example.com",
        recipients=[qw.Rcpt("bob@example.com", orcpt="rfc822;bob@x.org",
                            notify="SUCCESS,FAILURE"),
                    qw.Rcpt("ann@example.com", done=True)],
        message=MESSAGE,
        attrs=[("log_ident", "test"), ("rewrite_context", "local")],
        arrival=ARRIVAL,
        extracted=[(qw.RRTO, "r@example.com"), (qw.ERTO, "e@example.com")],
        line_limit=10)
    args.update(kw)
    return qw.build_queue_file(**args)


def envelope_lines(data):
    recs = qw.parse_records(data)
    return [f"message_size: {recs[0].data.decode()}",
            f"message_arrival_time: {ctime(ARRIVAL[0])}",
            "named_attribute: log_ident=test",
            "named_attribute: rewrite_context=local",
            "sender: joe@example.com",
            "original_recipient: rfc822;bob@x.org",
            "dsn_notify_flags: SUCCESS,FAILURE",
            "recipient: bob@example.com",
            "done_recipient: ann@example.com"]


HEADER = "Subject: hello\nFrom: joe@example.com\n"
BODY = ("\nbody line\na line longer than the limit, split into pieces\n"
        "\nlast\n")
EXTRACTED = ["return_receipt: r@example.com", "errors_to: e@example.com"]


def full_output(name, data):
    return "\n".join(
        [f"*** ENVELOPE RECORDS {name} ***"] + envelope_lines(data)
        + [f"*** MESSAGE CONTENTS {name} ***"]) + "\n" + HEADER + BODY \
        + "\n".join([f"*** HEADER EXTRACTED {name} ***"] + EXTRACTED
                    + [f"*** MESSAGE FILE END {name} ***"]) + "\n"


def ok(r):
    assert r.returncode == 0, \
        f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


@pytest.fixture
def qfile(instance):
    """A valid queue file in the instance's directory: (path, bytes)."""
    data = sample()
    path = os.path.join(instance.dir, "qfile")
    qw.write_queue_file(path, data)
    return path, data


def test_writer_splits_long_lines():
    recs = qw.parse_records(sample())
    types = b"".join(r.type for r in recs)
    # "Subject: hello" 1, "From: joe@example.com" 2, the 48-byte line 4.
    assert types.count(qw.CONT) == 7
    assert recs[0].type == qw.SIZE and recs[-1].type == qw.END


def test_default_output(instance, qfile):
    path, data = qfile
    r = ok(instance.petrel("cat", path))
    assert r.stdout == full_output(path, data)
    assert r.stderr == ""


def test_envelope_only(instance, qfile):
    path, data = qfile
    r = ok(instance.petrel("cat", "-e", path))
    assert r.stdout.splitlines() == (
        [f"*** ENVELOPE RECORDS {path} ***"] + envelope_lines(data)
        + [f"*** MESSAGE CONTENTS {path} ***",
           f"*** HEADER EXTRACTED {path} ***"] + EXTRACTED
        + [f"*** MESSAGE FILE END {path} ***"])


@pytest.mark.parametrize("opts,want", [
    ("-h", HEADER),
    ("-b", BODY),
    ("-bh", HEADER + BODY),
    ("-hb", HEADER + BODY),
])
def test_content_options(instance, qfile, opts, want):
    path, _ = qfile
    r = ok(instance.petrel("cat", opts, path))
    assert r.stdout == want


def test_message_only_is_the_message(instance):
    message = b"Subject: x\r\nX-Long: " + b"y" * 5000 + b"\r\n\r\nbody\r\n"
    path = os.path.join(instance.dir, "q")
    qw.write_queue_file(path, sample(message=message, line_limit=2048))
    r = ok(instance.petrel("cat", "-bh", path))
    assert r.stdout == message.decode().replace("\r\n", "\n")


def test_no_empty_line_means_no_body(instance):
    path = os.path.join(instance.dir, "q")
    qw.write_queue_file(path, sample(message=b"Subject: only\n"))
    assert ok(instance.petrel("cat", "-h", path)).stdout == "Subject: only\n"
    assert ok(instance.petrel("cat", "-b", path)).stdout == ""


def test_offsets_and_types(instance, qfile):
    path, data = qfile
    recs = qw.parse_records(data)
    r = ok(instance.petrel("cat", "-o", "-d", path))
    lines = r.stdout.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS {path} ***"
    by_type = {}
    for rec in recs:
        by_type.setdefault(rec.type, rec)
    for rtype, text in ((qw.SIZE, "message_size: "),
                        (qw.FROM, "sender: joe@example.com"),
                        (qw.DONE, "done_recipient: ann@example.com"),
                        (qw.MESG, f"*** MESSAGE CONTENTS {path} ***"),
                        (qw.ERTO, "errors_to: e@example.com"),
                        (qw.END, f"*** MESSAGE FILE END {path} ***")):
        rec = by_type[rtype]
        prefix = "%9d %3d " % (rec.offset, rtype[0])
        assert any(line.startswith(prefix + text) for line in lines), \
            (prefix + text, lines)
    # A line made of CONT pieces is printed once, with the offset and
    # type of its first record.
    want, first = [], None
    for rec in recs:
        if rec.type not in (qw.NORM, qw.CONT):
            continue
        if first is None:
            first, text = rec, b""
        text += rec.data
        if rec.type == qw.NORM:
            want.append("%9d %3d %s" % (first.offset, first.type[0],
                                        text.decode()))
            first = None
    assert len(want) == 7
    start = lines.index(
        "%9d %3d *** MESSAGE CONTENTS %s ***" % (by_type[qw.MESG].offset,
                                                 qw.MESG[0], path))
    assert lines[start + 1:start + 8] == want


def test_offsets_only(instance, qfile):
    path, data = qfile
    sender = next(r for r in qw.parse_records(data) if r.type == qw.FROM)
    r = ok(instance.petrel("cat", "-e", "-o", path))
    assert "%9d sender: joe@example.com" % sender.offset \
        in r.stdout.splitlines()


def test_standard_input(instance):
    data = sample()
    r = subprocess.run([os.path.join(instance.src, "petrel"), "cat"],
                       input=data, capture_output=True, timeout=60,
                       env=instance.env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == full_output("standard input", data)


def test_several_files(instance, qfile):
    path, data = qfile
    bad = os.path.join(instance.dir, "bad")
    qw.write_queue_file(bad, sample(size_override=(None, None, 5, None)))
    r = instance.petrel("cat", path, bad, path)
    assert r.returncode == EX_DATAERR
    out = r.stdout
    assert out.count(f"*** MESSAGE FILE END {path} ***") == 2
    assert f"*** ENVELOPE RECORDS {bad} ***" in out
    assert r.stderr.count("corrupt queue file") == 1


# ---- corrupt files ------------------------------------------------------

def corrupt_cases():
    good = sample()
    recs = qw.parse_records(good)
    mesg = next(r for r in recs if r.type == qw.MESG)
    xtra = next(r for r in recs if r.type == qw.XTRA)
    from_hdr = next(r for r in recs if r.data.startswith(b"From: "))
    return [
        ("recipient count", sample(size_override=(None, None, 3, None)),
         f"offset {mesg.offset}: the size record says 3 recipients, "
         "the file holds 2", "done_recipient: ann@example.com"),
        ("content size", sample(size_override=(None, 7, None, None)),
         "content runs past offset", "*** MESSAGE CONTENTS"),
        ("missing size record", sample(maildrop=True),
         "offset 0: expected size record, found time record", None),
        ("truncated before end", good[:-2],
         f"offset {len(good) - 2}: expected extracted or end record, "
         "found end of file", "errors_to: e@example.com"),
        ("truncated in the end record", good[:-1],
         f"offset {len(good) - 2}: truncated record (the file ends at "
         f"offset {len(good) - 1})", "errors_to: e@example.com"),
        ("truncated in a header", good[:from_hdr.offset + 5],
         f"offset {from_hdr.offset}: truncated record", "Subject: hello"),
        ("no end of content", good[:xtra.offset],
         f"offset {xtra.offset}: expected content or message_end record, "
         "found end of file", "last"),
        ("garbage after end", good + b"x",
         f"offset {len(good)}: garbage after the end record",
         "errors_to: e@example.com"),
        ("two senders", sample(recipients=[]).replace(
            b"S\x0fjoe@example.com", b"S\x0fjoe@example.comS\x01x"),
         "expected recipient or message_content record, found sender "
         "record", "sender: joe@example.com"),
        ("NUL in sender", good.replace(b"joe@example.com",
                                       b"joe@exa\0ple.com", 1),
         "NUL byte in sender record", "named_attribute: rewrite_context"),
        ("unknown type", good.replace(b"R\x0fbob", b"Q\x0fbob", 1),
         "unknown record type 0x51", "dsn_notify_flags: SUCCESS"),
        ("empty", b"", "offset 0: expected size record, found end of file",
         None),
    ]


@pytest.mark.parametrize("label,data,reason,last_line",
                         corrupt_cases(), ids=[c[0] for c in corrupt_cases()])
def test_corrupt(instance, label, data, reason, last_line):
    path = os.path.join(instance.dir, "corrupt-file")
    qw.write_queue_file(path, data)
    r = instance.petrel("cat", path)
    assert r.returncode == EX_DATAERR, (label, r.stdout, r.stderr)
    assert f"error: {path}: corrupt queue file: " in r.stderr, r.stderr
    assert reason in r.stderr, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS {path} ***"
    # Printed as far as the file is valid, and no further.
    if last_line is not None:
        assert lines[-1].startswith(last_line), lines
    assert f"*** MESSAGE FILE END {path} ***" not in r.stdout


def test_maildrop_file_by_path(instance):
    """A file in a directory named maildrop is read as postdrop writes
    it; the same bytes elsewhere are a corrupt queue file."""
    data = sample(maildrop=True, arrival=None)
    drop = os.path.join(instance.dir, "maildrop")
    os.mkdir(drop)
    path = os.path.join(drop, "file")
    qw.write_queue_file(path, data)
    r = ok(instance.petrel("cat", "-e", path))
    assert r.stdout.splitlines()[1] == "named_attribute: log_ident=test"
    other = os.path.join(instance.dir, "file")
    qw.write_queue_file(other, data)
    r = instance.petrel("cat", other)
    assert r.returncode == EX_DATAERR
    assert "offset 0: expected size record, found named_attribute " \
        "record" in r.stderr


def test_missing_file(instance):
    path = os.path.join(instance.dir, "nope")
    r = instance.petrel("cat", path)
    assert r.returncode == EX_NOINPUT
    assert f"open {path}: No such file or directory" in r.stderr


def test_bad_option(instance):
    r = instance.petrel("cat", "-x", "file")
    assert r.returncode == EX_USAGE
    assert "unknown option -x" in r.stderr


# ---- -q: queue IDs -------------------------------------------------------

@pytest.fixture
def queue(instance):
    for name in ("incoming", "active", "deferred", "hold", "corrupt",
                 "maildrop", "saved"):
        os.makedirs(os.path.join(instance.queue, name), exist_ok=True)
    return instance.queue


def test_queue_ids(instance, queue):
    ids = {}
    for n, where in enumerate(("incoming", "hold", "deferred", "maildrop")):
        qid = qw.make_queue_id(ARRIVAL[0], 123456 + 7 * n, 4242 + n)
        sub = where
        if where == "deferred":          # hashed: hash_queue_depth = 1
            sub = os.path.join(where, qw.queue_hash(qid, 1).rstrip("/"))
            os.makedirs(os.path.join(queue, sub), exist_ok=True)
        # postdrop's format: no size record, no time record.
        if where == "maildrop":
            data = sample(maildrop=True, arrival=None)
        else:
            data = sample()
        qw.write_queue_file(os.path.join(queue, sub, qid), data)
        ids[where] = (qid, os.path.join(sub, qid), data)

    for where, (qid, name, data) in ids.items():
        r = ok(instance.petrel("cat", "-q", qid))
        want = full_output(name, data)
        if where == "maildrop":
            skip = ("message_size: ", "message_arrival_time: ")
            want = "".join(line for line in want.splitlines(True)
                           if not line.startswith(skip))
        assert r.stdout == want, where

    # Several at once, with options.
    r = ok(instance.petrel("cat", "-q", "-h", ids["incoming"][0],
                           ids["deferred"][0]))
    assert r.stdout == HEADER + HEADER


def test_queue_id_problems(instance, queue):
    qid = qw.make_queue_id(ARRIVAL[0], 5, 99)
    r = instance.petrel("cat", "-q", qid)
    assert r.returncode == EX_NOINPUT
    assert f"{qid}: no such message in the queue" in r.stderr
    r = instance.petrel("cat", "-q", "../../etc/passwd")
    assert r.returncode == EX_NOINPUT
    assert '"../../etc/passwd" is not a queue ID' in r.stderr

    # A corrupt file found by ID: status 65, the queue path in the reason.
    bad = qw.make_queue_id(ARRIVAL[0], 6, 100)
    qw.write_queue_file(os.path.join(queue, "active", bad),
                        sample()[:-2])
    r = instance.petrel("cat", "-q", bad)
    assert r.returncode == EX_DATAERR
    assert f"active/{bad}: corrupt queue file: " in r.stderr


def test_queue_directory_from_config(instance, queue):
    other = os.path.join(instance.dir, "otherqueue")
    os.makedirs(os.path.join(other, "hold"))
    instance.set_main(queue_directory=other)
    qid = qw.make_queue_id(ARRIVAL[0], 77, 5)
    qw.write_queue_file(os.path.join(other, "hold", qid), sample())
    r = ok(instance.petrel("cat", "-q", "-e", qid))
    assert f"*** ENVELOPE RECORDS hold/{qid} ***" in r.stdout
    # -c after the command name works too.
    r = ok(instance.run([os.path.join(instance.src, "petrel"), "cat",
                         "-c", instance.etc, "-q", "-h", qid]))
    assert r.stdout == HEADER


def test_missing_queue_directory(instance):
    instance.set_main(queue_directory=os.path.join(instance.dir, "none"))
    r = instance.petrel("cat", "-q", qw.make_queue_id(1, 1, 1))
    assert r.returncode == 78
    assert "chdir" in r.stderr
