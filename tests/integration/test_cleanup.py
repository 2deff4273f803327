"""
test_cleanup.py - the cleanup daemon, driven directly over its socket

One instance for the module, whose master.cf has Postfix's entries
"cleanup unix n - n - 0 cleanup" and "rewrite unix - - n - -
trivial-rewrite", plus cleanup services under other names that run with
other limits through -o (small message, header, line and hop limits; a
rewrite service that does not exist). The client is mailproto.py's
CleanupClient (attribute and record formats by hand); queue files are
parsed with mailproto.QueueFile and checked record by record.
"""

import glob
import os
import re
import stat
import time

import pytest

import harness
from harness import wait_for
from mailproto import (CLEANUP_FLAG_DISCARD, CLEANUP_FLAG_HOLD,
                       CLEANUP_STAT_BAD, CLEANUP_STAT_DEFER,
                       CLEANUP_STAT_HOPS, CLEANUP_STAT_RCPT,
                       CLEANUP_STAT_SIZE, REC_CONT, REC_END, REC_FROM,
                       REC_MESG, REC_NORM, REC_RCPT, REC_XTRA,
                       REC_SIZE_WIDTH, CleanupClient, QueueFile,
                       attr_encode, rec, submit)

MAIN = {
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
}

LIMITS = {
    "message_size_limit": "4000",
    "header_size_limit": "1024",
    "line_length_limit": "100",
    "hopcount_limit": "5",
}

ID_RE = r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+"


@pytest.fixture(scope="module")
def inst():
    inst = harness.Instance(**MAIN)
    inst.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    inst.add_service("cleanup", "unix", "cleanup", private="n", maxproc=0)
    inst.add_service("cleanup-limits", "unix", "cleanup", private="n",
                     maxproc=0, opts=LIMITS)
    inst.add_service("cleanup-norw", "unix", "cleanup", private="n",
                     opts={"rewrite_service_name": "norewrite"})
    inst.add_service("cleanup-always", "unix", "cleanup", private="n",
                     opts={"always_add_missing_headers": "yes",
                           "undisclosed_recipients_header":
                           "To: undisclosed-recipients:;"})
    inst.add_service("cleanup-badto", "unix", "cleanup", private="n",
                     opts={"undisclosed_recipients_header": "nonsense"})
    inst.start()
    try:
        yield inst
    finally:
        log = inst.log()
        problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)


def sock(inst, service="cleanup"):
    return os.path.join(inst.queue, "public", service)


def queue_files(inst, queue, qid):
    return glob.glob(os.path.join(inst.queue, queue, "**", qid),
                     recursive=True)


def load(inst, qid, queue="incoming"):
    paths = queue_files(inst, queue, qid)
    assert len(paths) == 1, (queue, qid, paths)
    return paths[0], QueueFile.load(paths[0])


def assert_gone(inst, qid):
    """No file for qid in any queue (cleanup removes it at once)."""
    assert wait_for(lambda: not glob.glob(
        os.path.join(inst.queue, "*", "**", qid), recursive=True), 5), \
        f"queue file {qid} left behind"


def check_structure(qf):
    """What qfile.h demands of a queue file cleanup wrote."""
    types = qf.types()
    assert re.fullmatch(rb"CTA*S(O?n?R)+M[NL]*XE", types), types
    assert qf.records[0][1] == b"C"
    assert len(qf.size_raw) == 4 * REC_SIZE_WIDTH + 3
    mesg, content, nrcpt, _flags = qf.size
    assert mesg == qf.mesg_offset
    assert content == qf.xtra_offset - (qf.mesg_offset + 2)
    assert nrcpt == len(qf.rcpts)
    for type_, payload in qf.pieces:
        assert type_ != REC_CONT or payload, "empty CONT piece"


def basic_message(inst, service="cleanup", **kw):
    return submit(sock(inst, service), "joe",
                  ["alice", "bob@Example.COM", "alice"],
                  ["Subject: hello", "Return-Path: <forged@example.net>",
                   "", "body line 1", "body line 2"],
                  attrs=[("submit_uid", "1000"), ("full_name", "Joe User"),
                         ("log_ident", "test")], **kw)


# ---- a normal local submission -----------------------------------------

def test_local_submission(inst):
    since = inst.log_size()
    qid, status, reason = basic_message(inst)
    assert (status, reason) == (0, "")
    assert re.fullmatch(ID_RE, qid)
    path, qf = load(inst, qid)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    check_structure(qf)

    # Envelope: canonical, duplicates dropped, attributes kept.
    assert qf.sender == "joe@example.com"
    assert [r[0] for r in qf.rcpts] == ["alice@example.com",
                                        "bob@Example.COM"]
    assert qf.attrs == {"submit_uid": "1000", "full_name": "Joe User",
                        "log_ident": "test"}
    sec, usec = (int(x) for x in qf.time.split())
    assert abs(sec - time.time()) < 60 and 0 <= usec < 1000000

    # Received: first; Return-Path: gone; missing headers added at the
    # end of the header block, before the empty line.
    hdrs = qf.headers()
    assert hdrs[0][0] == "Received"
    assert re.fullmatch(r"by mail\.example\.com \(Petrel, from userid "
                        r"1000\)\n\tid " + qid + r"; \w{3}, .+", hdrs[0][1])
    assert qf.header("Return-Path") == []
    # No To: (undisclosed_recipients_header is empty by default).
    names = [n for n, _ in hdrs]
    assert names == ["Received", "Subject", "Date", "Message-ID", "From"]
    msgid = qf.header("Message-ID")[0]
    assert re.fullmatch(r"<\d{14}\." + qid + r"@mail\.example\.com>", msgid)
    assert qf.header("From") == ["Joe User <joe@example.com>"]
    assert qf.body() == [b"body line 1", b"body line 2"]

    # The queue file tool agrees (it checks the file as qmgr does).
    r = inst.petrel("cat", "-q", "-bh", qid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [line.decode() for line in qf.lines]

    # Postfix's log lines.
    assert inst.wait_log(rf"petrel/cleanup\[\d+\]: {qid}: "
                         rf"message-id={re.escape(msgid)}$", since=since)
    # "from=<...>, size=N, nrcpt=M (queue active)" is qmgr's line now
    # (when the message enters the active queue), not cleanup's.
    assert not inst.grep(rf"petrel/cleanup\[\d+\]: {qid}: from=<",
                         since=since)


def test_headers_present_are_kept(inst):
    since = inst.log_size()
    lines = ["From: Someone <someone@example.org>",
             "To: alice@example.com",
             "Date: Mon, 1 Jan 2024 00:00:00 +0000",
             "Message-ID:",
             "  <folded.id@example.org>",
             "Subject: folded",
             "\tcontinued",
             "",
             "text"]
    qid, status, _ = submit(sock(inst), "someone@example.org",
                            ["alice@example.com"], lines)
    assert status == 0
    _, qf = load(inst, qid)
    check_structure(qf)
    # Nothing added (no submit_uid: no Received:), nothing changed.
    assert [line.decode() for line in qf.lines] == lines
    assert inst.wait_log(rf"{qid}: message-id=<folded\.id@example\.org>$",
                         since=since)


REMOTE = [("rewrite_context", "remote"), ("log_ident", "test")]


@pytest.mark.parametrize("service,added", [
    ("cleanup", []),
    ("cleanup-always", ["Date", "Message-ID", "From", "To"]),
    ("cleanup-badto", []),
])
def test_missing_headers_of_remote_mail(inst, service, added):
    """Mail in the remote rewrite context (an SMTP client outside
    local_header_rewrite_clients) keeps its header block: no Date:,
    Message-ID:, From: or To: is added (a DKIM signature may cover their
    absence), and the log says message-id=<>. always_add_missing_headers
    adds them, To: being undisclosed_recipients_header."""
    since = inst.log_size()
    qid, status, _ = submit(sock(inst, service), "joe@example.org",
                            ["alice@example.com"],
                            ["Subject: remote", "", "text"], attrs=REMOTE)
    assert status == 0
    _, qf = load(inst, qid)
    check_structure(qf)
    assert [n for n, _ in qf.headers()] == ["Subject"] + added
    if added:
        assert qf.header("From") == ["joe@example.org"]
        assert qf.header("To") == ["undisclosed-recipients:;"]
        assert inst.wait_log(rf"{qid}: message-id=<\d{{14}}\.{qid}@",
                             since=since)
    else:
        assert inst.wait_log(rf"{qid}: message-id=<>$", since=since)
    assert qf.body() == [b"text"]


def test_message_id_of_remote_mail_is_logged(inst):
    """Remote mail gets nothing added, but its own Message-ID is logged
    like any other (log tools follow messages by it)."""
    since = inst.log_size()
    qid, status, _ = submit(sock(inst), "joe@example.org",
                            ["alice@example.com"],
                            ["Message-ID: <remote.1@example.org>",
                             "Subject: remote", "", "text"], attrs=REMOTE)
    assert status == 0
    _, qf = load(inst, qid)
    assert [n for n, _ in qf.headers()] == ["Message-ID", "Subject"]
    assert inst.wait_log(rf"{qid}: message-id=<remote\.1@example\.org>$",
                         since=since)


def test_bad_undisclosed_recipients_header_is_ignored(inst):
    """A value that is not a header would end the header block: it
    is left out, with a warning naming the parameter."""
    since = inst.log_size()
    qid, status, _ = submit(sock(inst, "cleanup-badto"), "joe",
                            ["alice"], ["Subject: x", "", "text"],
                            attrs=[("submit_uid", "1000")])
    assert status == 0
    _, qf = load(inst, qid)
    assert [n for n, _ in qf.headers()] == ["Received", "Subject", "Date",
                                            "Message-ID", "From"]
    assert inst.wait_log(r"petrel/cleanup\[\d+\]: warning: "
                         r"undisclosed_recipients_header: \"nonsense\" is "
                         r"not a header \(Name: text\); ignored", since=since)


def test_quoted_full_name_and_null_sender(inst):
    qid, status, _ = submit(sock(inst), "joe", ["alice"], ["hi"],
                            attrs=[("full_name", 'Joe "J." User\n')])
    assert status == 0
    _, qf = load(inst, qid)
    assert qf.header("From") == ['"Joe \\"J.\\" User" <joe@example.com>']

    qid, status, _ = submit(sock(inst), "", ["alice"], ["hi"],
                            attrs=[("full_name", "ignored")])
    assert status == 0
    _, qf = load(inst, qid)
    check_structure(qf)
    assert qf.sender == ""
    assert qf.header("From") == ["MAILER-DAEMON@example.com"]


def test_body_without_empty_line(inst):
    # The first line is not a header: the header block is empty, the
    # added headers come first and an empty line separates the body.
    qid, status, _ = submit(sock(inst), "joe", ["alice"],
                            ["just text: no header", "second"])
    assert status == 0
    _, qf = load(inst, qid)
    names = [n for n, _ in qf.headers()]
    assert names == ["Date", "Message-ID", "From"]
    assert qf.body() == [b"just text: no header", b"second"]

    # Headers only, no body at all.
    qid, status, _ = submit(sock(inst), "joe", ["alice"], ["Subject: x"])
    assert status == 0
    _, qf = load(inst, qid)
    assert [n for n, _ in qf.headers()] == ["Subject", "Date",
                                            "Message-ID", "From"]
    assert b"" not in qf.lines


def test_remote_context_and_dsn(inst):
    rcpts = [("carol", "rfc822;carol@example.org", "10"),
             ("carol", None, "10"),       # same NOTIFY, no ORCP: kept
             ("carol", "rfc822;carol@example.org", "10"),   # duplicate
             ("dave@example.net", None, None)]
    qid, status, _ = submit(sock(inst), "joe", rcpts, ["x"],
                            attrs=[("rewrite_context", "remote")])
    assert status == 0
    _, qf = load(inst, qid)
    check_structure(qf)
    # The remote context is about headers: an incomplete envelope
    # address is local, whoever sent it (Postfix's rule too).
    assert qf.sender == "joe@example.com"
    assert qf.rcpts == [("carol@example.com", "rfc822;carol@example.org",
                         "10"),
                        ("carol@example.com", None, "10"),
                        ("dave@example.net", None, None)]


def test_client_time_and_unknown_attribute(inst):
    since = inst.log_size()
    qid, status, _ = submit(sock(inst), "joe", ["alice"], ["x"],
                            attrs=[("no_such_attr", "1")],
                            time="1700000000 123456")
    assert status == 0
    _, qf = load(inst, qid)
    check_structure(qf)
    assert qf.time == "1700000000 123456"
    assert qf.attrs == {}
    # Date: is the arrival time the client gave (any time zone).
    assert re.search(r" 1[45] Nov 2023 ", qf.header("Date")[0])
    assert inst.wait_log(rf"warning: {qid}: unknown attribute "
                         rf"no_such_attr dropped", since=since)


def test_nul_bytes(inst):
    since = inst.log_size()
    qid, status, _ = submit(sock(inst), "joe", ["alice"],
                            [b"Subject: a\0b", b"", b"bin\0ary"])
    assert status == 0
    _, qf = load(inst, qid)
    assert qf.header("Subject") == ["a b"]
    assert qf.body() == [b"bin\0ary"]
    assert inst.wait_log(rf"warning: {qid}: NUL byte in header replaced",
                         since=since)


# ---- limits ------------------------------------------------------------

def test_long_lines_are_split(inst):
    body = "x" * 1000
    subject = "Subject: " + "y" * 300
    c = CleanupClient(sock(inst, "cleanup-limits"))
    with c:
        c.send_flags(0)
        c.send_envelope("joe", ["alice"])
        # One piece as the client splits it, another way for the body.
        c.send(rec(REC_MESG) + rec(REC_NORM, subject) + rec(REC_NORM, "")
               + rec(REC_CONT, body[:10]) + rec(REC_CONT, body[10:650])
               + rec(REC_NORM, body[650:]) + rec(REC_XTRA) + rec(REC_END))
        assert c.reply() == (0, "")
    _, qf = load(inst, c.queue_id)
    check_structure(qf)
    assert max(len(p) for _, p in qf.pieces) <= 100
    assert qf.lines[0] == subject.encode()
    assert qf.body() == [body.encode()]


def test_large_message(inst):
    # Larger than cleanup's output buffer: written in several chunks,
    # the SIZE record rewritten in place at the end.
    body = [b"%06d " % i + b"x" * 70 for i in range(5000)]
    qid, status, _ = submit(sock(inst), "joe", ["alice"],
                            [b"Subject: big", b""] + body)
    assert status == 0
    path, qf = load(inst, qid)
    check_structure(qf)
    assert qf.body() == body
    assert os.path.getsize(path) > 5000 * 77


def test_header_split_anywhere(inst):
    # However the client cuts a header line into pieces, it is still
    # recognised (here: removed) as a header.
    c = CleanupClient(sock(inst))
    with c:
        c.send_flags(0)
        c.send_envelope("joe", ["alice"])
        c.send(rec(REC_MESG) + rec(REC_CONT, "Ret") + rec(REC_CONT, "")
               + rec(REC_CONT, "urn-Path ") + rec(REC_NORM, ": <x@y>")
               + rec(REC_CONT, "To") + rec(REC_NORM, ": a@b")
               + rec(REC_CONT, " ") + rec(REC_NORM, "c@d")
               + rec(REC_NORM, "") + rec(REC_NORM, "body")
               + rec(REC_XTRA) + rec(REC_END))
        assert c.reply() == (0, "")
    _, qf = load(inst, c.queue_id)
    check_structure(qf)
    assert qf.header("Return-Path") == []
    assert qf.header("To") == ["a@b\n c@d"]
    assert qf.body() == [b"body"]


def test_size_limit(inst):
    since = inst.log_size()
    # 4000 bytes of content with the line ends: accepted.
    lines = ["a" * 99] * 40
    qid, status, _ = submit(sock(inst, "cleanup-limits"), "joe", ["alice"],
                            lines)
    assert status == 0
    # One more byte: refused, and nothing stays behind.
    qid, status, reason = submit(sock(inst, "cleanup-limits"), "joe",
                                 ["alice"], lines + [""])
    assert status == CLEANUP_STAT_SIZE
    assert reason == "5.3.4 message file too big"
    assert_gone(inst, qid)
    assert inst.wait_log(rf"{qid}: reject: 5\.3\.4 message file too big; "
                         rf"from=<joe@example\.com>", since=since)


def test_big_message_read_to_the_end(inst):
    # Far beyond the limit: cleanup keeps reading (and discarding) so
    # that the client can send everything before it reads the reply.
    c = CleanupClient(sock(inst, "cleanup-limits"))
    with c:
        c.send_flags(0)
        c.send_envelope("joe", ["alice"])
        c.send_content([b"z" * 90] * 20000)
        assert c.reply()[0] == CLEANUP_STAT_SIZE
    assert_gone(inst, c.queue_id)


def test_header_truncated(inst):
    since = inst.log_size()
    lines = ["X-Long: " + "a" * 90] + ["\t" + "b" * 90] * 30 + \
        ["Subject: after", "", "body"]
    qid, status, _ = submit(sock(inst, "cleanup-limits"), "joe", ["alice"],
                            lines)
    assert status == 0
    _, qf = load(inst, qid)
    check_structure(qf)
    long = qf.header("X-Long")[0]
    # At most header_size_limit bytes, continuation lines included.
    assert len("X-Long: ") + len(long) <= 1024
    assert len(long) > 900
    assert qf.header("Subject") == ["after"]
    assert qf.body() == [b"body"]
    assert inst.wait_log(rf"warning: {qid}: header too long, truncated: "
                         rf"X-Long$", since=since)


def test_hop_limit(inst):
    since = inst.log_size()
    received = [f"Received: from hop{i} by x; date" for i in range(5)]
    qid, status, _ = submit(sock(inst, "cleanup-limits"), "joe", ["alice"],
                            received + ["", "x"])
    assert status == 0
    # Six is one too many ...
    qid, status, reason = submit(sock(inst, "cleanup-limits"), "joe",
                                 ["alice"], received * 2 + ["", "x"])
    assert status == CLEANUP_STAT_HOPS
    assert reason == "5.4.6 too many hops, message looping"
    assert_gone(inst, qid)
    # ... and cleanup's own Received: of a local submission counts.
    qid, status, _ = submit(sock(inst, "cleanup-limits"), "joe", ["alice"],
                            received + ["", "x"],
                            attrs=[("submit_uid", "0")])
    assert status == CLEANUP_STAT_HOPS
    assert_gone(inst, qid)
    assert inst.wait_log(rf"{qid}: reject: 5\.4\.6 too many hops",
                         since=since)


def test_no_recipients(inst):
    qid, status, reason = submit(sock(inst), "joe", [], ["x"])
    assert (status, reason) == (CLEANUP_STAT_RCPT, "5.1.0 no recipients")
    assert_gone(inst, qid)


def test_rewrite_unavailable(inst):
    qid, status, reason = submit(sock(inst, "cleanup-norw"), "joe",
                                 ["alice"], ["x"])
    assert status == CLEANUP_STAT_DEFER
    assert reason == "4.3.0 address rewriting is temporarily unavailable"
    assert_gone(inst, qid)


# ---- flags ---------------------------------------------------------------

def test_hold_and_discard(inst):
    since = inst.log_size()
    qid, status, _ = basic_message(inst, flags=CLEANUP_FLAG_HOLD)
    assert status == 0
    path, qf = load(inst, qid, "hold")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert qf.size[3] == CLEANUP_FLAG_HOLD
    assert queue_files(inst, "incoming", qid) == []
    assert inst.wait_log(rf"{qid}: hold: client request", since=since)

    qid, status, _ = basic_message(inst, flags=CLEANUP_FLAG_DISCARD)
    assert status == 0
    assert_gone(inst, qid)
    assert inst.wait_log(rf"{qid}: discard: client request", since=since)


def test_qmgr_is_woken(inst):
    fifo = os.path.join(inst.queue, "public", "qmgr")
    os.mkfifo(fifo)
    # cleanup runs as mail_owner when the tests run as root.
    os.chmod(fifo, 0o622)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        qid, status, _ = basic_message(inst)
        assert status == 0

        def poke():
            try:
                return os.read(fd, 100)
            except BlockingIOError:
                return b""
        assert wait_for(poke, 5) == b"I"
        # Nobody listening: still fine.
        os.close(fd)
        fd = -1
        assert basic_message(inst)[1] == 0
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(fifo)


# ---- a client that goes away, or sends garbage ---------------------------

def test_client_disconnects(inst):
    for cut in ("after-id", "after-flags", "in-envelope", "in-content",
                "before-end"):
        c = CleanupClient(sock(inst))
        qid = c.queue_id
        assert queue_files(inst, "incoming", qid)
        if cut != "after-id":
            c.send_flags(0)
        if cut == "in-envelope":
            c.send_envelope("joe", ["alice"])
        if cut in ("in-content", "before-end"):
            c.send_envelope("joe", ["alice"])
            c.send_content(["Subject: x", "", "body"], end=False)
        if cut == "before-end":
            c.send(rec(REC_XTRA))
        c.close()
        assert_gone(inst, qid)


def bad_request(inst, data, flags=True):
    """Send data after the flags; expect CLEANUP_STAT_BAD and no file."""
    c = CleanupClient(sock(inst))
    with c:
        if flags:
            c.send_flags(0)
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            # cleanup answered and hung up before taking it all.
            pass
        status, reason = c.reply()
        assert status == CLEANUP_STAT_BAD, reason
        assert reason.startswith("4.3.0 malformed request: "), reason
        assert c.closed_by_server()
    assert_gone(inst, c.queue_id)
    return reason


ENV = rec(REC_FROM, "joe") + rec(REC_RCPT, "alice")


MALFORMED = [
    ("not an attribute message", b"garbage", False, "bad flags"),
    ("flags missing", attr_encode([("other", 1)]), False, "bad flags"),
    ("unknown flag bits", attr_encode([("flags", 1 << 12)]), False,
     "unknown flags"),
    ("unknown record type", rec(b"Z", "x"), True, "unknown record type"),
    ("envelope record too long", rec(REC_FROM, "j" * 70000), True,
     "exceeds limit"),
    ("content record too long",
     ENV + rec(REC_MESG) + rec(REC_NORM, b"x" * (1024 * 1024 + 1)), True,
     "exceeds limit"),
    ("non-canonical length", REC_FROM + b"\x80\x00", True, "non-canonical"),
    ("two senders", ENV + rec(REC_FROM, "x"), True, "more than one sender"),
    ("recipient first", rec(REC_RCPT, "alice"), True, "before the sender"),
    ("attribute after sender", ENV + rec(b"A", "log_ident=x"), True,
     "attribute record after"),
    ("malformed attribute", rec(b"A", "noequals"), True,
     "malformed attribute"),
    ("duplicate attribute", rec(b"A", "log_ident=a")
     + rec(b"A", "log_ident=b"), True, "duplicate attribute"),
    ("bad rewrite context", rec(b"A", "rewrite_context=other"), True,
     "bad value"),
    ("bad time", rec(b"T", "yesterday"), True, "malformed time"),
    ("newline in address", rec(REC_FROM, "joe\nX: y"), True,
     "malformed sender"),
    ("empty recipient", rec(REC_FROM, "joe") + rec(REC_RCPT, ""), True,
     "malformed recipient"),
    ("bad notify", rec(REC_FROM, "joe") + rec(b"n", "17"), True,
     "malformed dsn_notify"),
    ("size record from client", rec(b"C", "1"), True, "unexpected"),
    ("content after xtra", ENV + rec(REC_MESG) + rec(REC_XTRA)
     + rec(REC_NORM, "x"), True, "after the content"),
    ("other attribute after xtra", ENV + rec(REC_MESG) + rec(REC_XTRA)
     + rec(b"A", "log_ident=x"), True, "unexpected attribute after"),
    ("late flags not a number", ENV + rec(REC_MESG) + rec(REC_XTRA)
     + rec(b"A", "cleanup_flags=2x"), True, "malformed cleanup_flags"),
    ("late flags not allowed", ENV + rec(REC_MESG) + rec(REC_XTRA)
     + rec(b"A", "cleanup_flags=1"), True, "not allowed after the content"),
    ("cont at end", ENV + rec(REC_MESG) + rec(REC_CONT, "x")
     + rec(REC_XTRA), True, "middle of a line"),
    ("end in envelope", ENV + rec(REC_END), True, "unexpected end"),
]


@pytest.mark.parametrize("label,data,flags,why", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_requests(inst, label, data, flags, why):
    reason = bad_request(inst, data, flags)
    assert why in reason, (label, reason)


def test_service_survives_garbage(inst):
    # After all that, the same service still takes mail.
    bad_request(inst, rec(b"Z"))
    assert basic_message(inst)[1] == 0

