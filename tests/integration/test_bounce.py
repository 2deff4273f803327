"""
test_bounce.py - the bounce daemon and its client, on a real instance

One instance for the module (mailsystem.MAIN, no qmgr, so that the
reports bounce queues stay in incoming/ where they are read with
mailproto.QueueFile) with the services cleanup, rewrite and Postfix's
"bounce unix - - n - 0 bounce", plus bounce services under other names
that run with other settings through -o: bounce-pm (notify_classes =
bounce: postmaster copies), bounce-nocleanup (a cleanup service that
does not exist), bounce-small (a small bounce_size_limit).

Each test writes a queue file into active/ or deferred/ (qfile_writer),
the per-recipient log in the format of bounce_log.h (bounce/, defer/,
trace/), owned by mail_owner as the delivery agents leave them, and
sends the request over private/bounce by hand (mailproto.RawClient).
Reports are parsed with Python's email package: multipart/report,
delivery-status blocks, the returned original; their envelope (null
sender or double-bounce sender, recipient, attributes) from the queue
file. Covered: flush, expire (from deferred/, a recipient delivered
since it was deferred left out), trace, empty and missing logs, NOTIFY
=NEVER, null sender (to 2bounce_notice_recipient), the double-bounce
sender (nothing sent), postmaster copies, 8-bit originals,
bounce_size_limit, cleanup unavailable, a corrupt or missing queue
file, malformed requests; then bounce_clnt_request() through the
bounce-request test program.
"""

import email
import email.policy
import itertools
import os
import re

import pytest

import harness
import mailsystem
import qfile_writer as qw
from mailproto import QueueFile, RawClient, encode

HOST = mailsystem.MAIN["myhostname"]
ORIGIN = mailsystem.MAIN["myorigin"]
ID = mailsystem.ID
MAIN = dict(mailsystem.MAIN)
MAIN.update({
    "2bounce_notice_recipient": "bounce-admin",
    "bounce_notice_recipient": "pm-copy",
})
HASHED = ("deferred", "defer")          # hash_queue_names' default

MESSAGE = (b"From: joe@example.com\n"
           b"To: bob@example.org, ann@example.org\n"
           b"Subject: hello there\n"
           b"Message-ID: <m1@example.com>\n"
           b"\n"
           b"body line 1\n"
           b"\n"
           b"last line\n")

_inodes = itertools.count(1000)


@pytest.fixture(scope="module")
def inst():
    inst = harness.Instance(**MAIN)
    inst.add_service("cleanup", "unix", "cleanup", private="n", maxproc=0)
    inst.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    prog = "bounce"
    inst.add_service("bounce", "unix", prog, private="-", maxproc=0)
    inst.add_service("bounce-pm", "unix", prog, private="-", maxproc=0,
                     opts={"notify_classes": "resource,bounce"})
    inst.add_service("bounce-nocleanup", "unix", prog, private="-",
                     maxproc=0, opts={"cleanup_service_name": "nocleanup"})
    inst.add_service("bounce-small", "unix", prog, private="-", maxproc=0,
                     opts={"bounce_size_limit": "300"})
    inst.start()
    try:
        yield inst
    finally:
        log = inst.log()
        problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)


# ---- planting messages and logs ----------------------------------------

def mail_owner(inst):
    st = os.stat(os.path.join(inst.queue, "incoming"))
    return st.st_uid, st.st_gid


def queue_path(inst, queue, qid):
    """Where a file of queue lives (hash directories made as needed,
    owned by mail_owner)."""
    directory = os.path.join(inst.queue, queue)
    if queue in HASHED:
        directory = os.path.join(directory, qw.queue_hash(qid, 1))
        if not os.path.isdir(directory):
            os.mkdir(directory, 0o700)
            os.chown(directory, *mail_owner(inst))
    return os.path.join(directory, qid)


def place(inst, queue, qid, data, mode=0o700):
    path = queue_path(inst, queue, qid)
    qw.write_queue_file(path, data, mode)
    os.chown(path, *mail_owner(inst))
    return path


def new_id():
    return qw.make_queue_id(1700000000, 250000, next(_inodes))


def message(inst, recipients, sender="joe@example.com", queue="active",
            body=MESSAGE, attrs=None):
    """A queue file in queue; returns (qid, recipient offsets)."""
    qid = new_id()
    data = qw.build_queue_file(sender, recipients, body, attrs=attrs or [],
                               arrival=(1700000000, 250000))
    place(inst, queue, qid, data)
    offsets = [r.offset for r in qw.parse_records(data)
               if r.type in (qw.RCPT, qw.DONE)]
    return qid, offsets


def entry(recipient, offset, status="5.1.1", action="failed",
          reason="unknown user", notify=0, extra=()):
    """One log entry, fields in the writer's order (bounce_log.h)."""
    return [("recipient", recipient), ("offset", offset),
            ("dsn_orig_rcpt", ""), ("dsn_notify", notify),
            ("status", status), ("action", action), *extra,
            ("reason", reason)]


def write_log(inst, queue, qid, entries):
    text = "".join("".join(f"{k}={v}\n" for k, v in fields) + "\n"
                   for fields in entries)
    return place(inst, queue, qid, text.encode(), mode=0o600)


# ---- requests and reports ------------------------------------------------

def request(inst, req, qid, queue="active", service="bounce"):
    """One request; returns (status, reason)."""
    c = RawClient(os.path.join(inst.queue, "private", service), timeout=30)
    try:
        reply = c.request(("request", req), ("queue_name", queue),
                          ("queue_id", qid))
    finally:
        c.close()
    assert set(reply) == {"status", "reason"}, reply
    return int(reply["status"]), reply["reason"]


def incoming(inst):
    return set(mailsystem.queue_ids(inst, "incoming"))


def notices(inst, qid, label, since=0):
    """New queue IDs logged as 'QID: LABEL notification: NEWID'."""
    return [m.group(1) for m in inst.grep(
        r"petrel/bounce\[\d+\]: " + re.escape(qid) + r": " + label
        + r" notification: (" + ID + r")$", since)]


def report(inst, newid):
    """The queue file of a report and its content as an email."""
    qf = QueueFile.load(os.path.join(inst.queue, "incoming", newid))
    msg = email.message_from_bytes(b"\n".join(qf.lines) + b"\n",
                                   policy=email.policy.default)
    assert not msg.defects, msg.defects
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    return qf, msg


def blocks(msg):
    part = msg.get_payload()[1]
    assert part.get_content_type() == "message/delivery-status"
    return [dict(b.items()) for b in part.get_payload()]


def exists(inst, queue, qid):
    return os.path.exists(queue_path(inst, queue, qid))


def one_notice(inst, qid, label, since):
    ids = notices(inst, qid, label, since)
    assert len(ids) == 1, inst.log()[since:]
    return ids[0]


# ---- flush -------------------------------------------------------------

def test_flush(inst):
    qid, offs = message(inst, ["bob@example.org",
                               qw.Rcpt("ann@example.org", done=True)])
    write_log(inst, "bounce", qid, [
        entry("bob@example.org", offs[0], reason="host mx.example.org "
              "said: 550 5.1.1 unknown user",
              extra=[("diag_type", "smtp"),
                     ("diag_text", "550 5.1.1 <bob@example.org>: unknown"),
                     ("mta_type", "dns"), ("mta_name", "mx.example.org")])])
    since = inst.log_size()
    before = incoming(inst)

    assert request(inst, "flush", qid) == (0, "")
    newid = one_notice(inst, qid, "sender non-delivery", since)
    assert incoming(inst) - before == {newid}
    assert not exists(inst, "bounce", qid)
    assert exists(inst, "active", qid)      # qmgr's to remove

    qf, msg = report(inst, newid)
    assert qf.sender == ""
    assert [r[0] for r in qf.rcpts] == ["joe@example.com"]
    assert qf.attrs["log_ident"] == qid
    assert qf.attrs["rewrite_context"] == "local"
    assert "body_type" not in qf.attrs
    assert msg["To"] == "joe@example.com"
    assert msg["From"].addresses[0].addr_spec == f"MAILER-DAEMON@{HOST}"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    b = blocks(msg)
    assert b[0]["Reporting-MTA"] == f"dns; {HOST}"
    assert b[0]["X-Petrel-Queue-ID"] == qid
    assert b[1:] == [{
        "Final-Recipient": "rfc822; bob@example.org",
        "Action": "failed",
        "Status": "5.1.1",
        "Remote-MTA": "dns; mx.example.org",
        "Diagnostic-Code": "smtp; 550 5.1.1 <bob@example.org>: unknown",
    }]
    parts = msg.get_payload()
    assert "<bob@example.org>: host mx.example.org said" in \
        parts[0].get_content()
    assert parts[2].get_content_type() == "message/rfc822"
    original = parts[2].get_payload()[0]
    assert original["Subject"] == "hello there"
    assert original.get_content() == "body line 1\n\nlast line\n"

    # Done: asking again finds no log and sends nothing.
    since = inst.log_size()
    assert request(inst, "flush", qid) == (0, "")
    assert incoming(inst) - before == {newid}
    assert notices(inst, qid, "sender non-delivery", since) == []


def test_flush_8bit_and_size_limit(inst):
    body = (b"Subject: caf\xc3\xa9\n\n"
            + b"".join(b"line %03d %s\n" % (i, b"x" * 60)
                       for i in range(50)))
    qid, offs = message(inst, ["bob@example.org"], body=body)
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    since = inst.log_size()
    assert request(inst, "flush", qid, service="bounce-small") == (0, "")
    qf, msg = report(inst, one_notice(inst, qid, "sender non-delivery",
                                      since))
    assert qf.attrs["body_type"] == "8BITMIME"
    assert msg["Content-Transfer-Encoding"] == "8bit"
    part = msg.get_payload()[2]
    assert part["Content-Description"] == \
        "Undelivered Message (cut to 300 bytes)"
    returned = part.get_payload()[0].get_content()
    assert "line 000" in returned and "line 049" not in returned


def test_nothing_to_report(inst):
    before = incoming(inst)
    since = inst.log_size()
    # No log at all (and no queue file either: it is not even opened).
    assert request(inst, "flush", new_id()) == (0, "")
    # An empty log.
    qid, offs = message(inst, ["bob@example.org"])
    write_log(inst, "bounce", qid, [])
    assert request(inst, "flush", qid) == (0, "")
    assert not exists(inst, "bounce", qid)
    # NOTIFY=NEVER.
    qid, offs = message(inst, [qw.Rcpt("bob@example.org", notify="1")])
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0],
                                          notify=1)])
    assert request(inst, "flush", qid) == (0, "")
    assert not exists(inst, "bounce", qid)
    assert incoming(inst) == before
    assert not inst.grep(r"notification: ", since)


# ---- bounces of bounces --------------------------------------------------

def test_null_sender(inst):
    qid, offs = message(inst, ["bob@example.org"], sender="")
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    since = inst.log_size()
    assert request(inst, "flush", qid) == (0, "")
    assert notices(inst, qid, "sender non-delivery", since) == []
    qf, msg = report(inst, one_notice(inst, qid, "postmaster non-delivery",
                                      since))
    assert qf.sender == f"double-bounce@{ORIGIN}"
    assert [r[0] for r in qf.rcpts] == [f"bounce-admin@{ORIGIN}"]
    assert msg["To"] == f"bounce-admin@{ORIGIN}"
    assert msg["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert blocks(msg)[0]["X-Petrel-Sender"] == "rfc822; <>"
    assert msg.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert "body line" not in msg.get_payload()[2].get_content()
    assert not exists(inst, "bounce", qid)


def test_double_bounce_sender(inst):
    before = incoming(inst)
    for sender in (f"double-bounce@{ORIGIN}", "Double-Bounce"):
        qid, offs = message(inst, ["bob@example.org"], sender=sender)
        write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
        since = inst.log_size()
        assert request(inst, "flush", qid) == (0, "")
        assert inst.grep(r"warning: " + re.escape(qid) + r": undeliverable "
                         r"postmaster notification discarded$", since)
        assert not exists(inst, "bounce", qid)
    assert incoming(inst) == before


# ---- expire and trace ------------------------------------------------------

def test_expire(inst):
    qid, offs = message(inst, [
        "bob@example.org", qw.Rcpt("ann@example.org", done=True),
        "cy@example.org"], queue="deferred")
    write_log(inst, "defer", qid, [
        entry("bob@example.org", offs[0], status="4.4.1", action="delayed",
              reason="connect to mx.example.org: Connection refused"),
        # Deferred once, delivered since: not reported.
        entry("ann@example.org", offs[1], status="4.2.2", action="delayed",
              reason="over quota"),
        entry("cy@example.org", offs[2], status="4.7.1", action="delayed",
              reason="greylisted")])
    since = inst.log_size()
    assert request(inst, "expire", qid, queue="deferred") == (0, "")
    qf, msg = report(inst, one_notice(inst, qid, "sender non-delivery",
                                      since))
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert [(b["Final-Recipient"], b["Action"], b["Status"])
            for b in blocks(msg)[1:]] == [
        ("rfc822; bob@example.org", "failed", "4.4.1"),
        ("rfc822; cy@example.org", "failed", "4.7.1")]
    assert not exists(inst, "defer", qid)
    # The bounce log is not read by expire.
    assert exists(inst, "deferred", qid)


def test_trace(inst):
    qid, offs = message(inst, [
        qw.Rcpt("bob@example.org", notify="2", done=True),
        qw.Rcpt("ann@example.org", done=True)])
    write_log(inst, "trace", qid, [
        entry("bob@example.org", offs[0], status="2.0.0",
              action="delivered", reason="delivered to mailbox", notify=2),
        entry("ann@example.org", offs[1], status="2.0.0",
              action="delivered", reason="delivered to mailbox")])
    since = inst.log_size()
    assert request(inst, "trace", qid) == (0, "")
    qf, msg = report(inst, one_notice(inst, qid,
                                      "sender delivery status", since))
    assert qf.sender == ""
    assert [r[0] for r in qf.rcpts] == ["joe@example.com"]
    assert msg["Subject"] == "Successful Mail Delivery Report"
    assert [(b["Final-Recipient"], b["Action"], b["Status"])
            for b in blocks(msg)[1:]] == [
        ("rfc822; bob@example.org", "delivered", "2.0.0")]
    assert msg.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert not exists(inst, "trace", qid)

    # A success report for the null sender is dropped quietly.
    qid, offs = message(inst, [qw.Rcpt("bob@example.org", notify="2",
                                       done=True)], sender="")
    write_log(inst, "trace", qid, [
        entry("bob@example.org", offs[0], status="2.0.0",
              action="delivered", reason="delivered", notify=2)])
    before = incoming(inst)
    since = inst.log_size()
    assert request(inst, "trace", qid) == (0, "")
    assert incoming(inst) == before
    assert not inst.grep(re.escape(qid), since)
    assert not exists(inst, "trace", qid)


# ---- notify_classes = bounce ---------------------------------------------

def test_postmaster_copy(inst):
    qid, offs = message(inst, ["bob@example.org"])
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    since = inst.log_size()
    assert request(inst, "flush", qid, service="bounce-pm") == (0, "")
    qf, msg = report(inst, one_notice(inst, qid, "sender non-delivery",
                                      since))
    assert [r[0] for r in qf.rcpts] == ["joe@example.com"]
    assert msg.get_payload()[2].get_content_type() == "message/rfc822"

    qf, msg = report(inst, one_notice(inst, qid, "postmaster non-delivery",
                                      since))
    assert qf.sender == f"double-bounce@{ORIGIN}"
    assert [r[0] for r in qf.rcpts] == [f"pm-copy@{ORIGIN}"]
    assert msg["To"] == f"pm-copy@{ORIGIN}"
    assert msg["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert blocks(msg)[0]["X-Petrel-Sender"] == "rfc822; joe@example.com"
    part = msg.get_payload()[2]
    assert part.get_content_type() == "text/rfc822-headers"
    assert "Subject: hello there" in part.get_content()
    assert "body line" not in part.get_content()

    # A bounce of a bounce: the 2bounce notice only, no second copy.
    qid, offs = message(inst, ["bob@example.org"], sender="")
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    since = inst.log_size()
    assert request(inst, "flush", qid, service="bounce-pm") == (0, "")
    qf, _ = report(inst, one_notice(inst, qid, "postmaster non-delivery",
                                    since))
    assert [r[0] for r in qf.rcpts] == [f"bounce-admin@{ORIGIN}"]

    # Success reports get no copy.
    qid, offs = message(inst, [qw.Rcpt("bob@example.org", notify="2",
                                       done=True)])
    write_log(inst, "trace", qid, [
        entry("bob@example.org", offs[0], status="2.0.0",
              action="delivered", reason="delivered", notify=2)])
    since = inst.log_size()
    assert request(inst, "trace", qid, service="bounce-pm") == (0, "")
    one_notice(inst, qid, "sender delivery status", since)
    assert notices(inst, qid, "postmaster non-delivery", since) == []


# ---- failures ------------------------------------------------------------

def test_cleanup_unavailable(inst):
    qid, offs = message(inst, ["bob@example.org"])
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    before = incoming(inst)
    since = inst.log_size()
    status, reason = request(inst, "flush", qid, service="bounce-nocleanup")
    assert status != 0
    assert "sender non-delivery notification not sent: connect to the " \
        "cleanup service public/nocleanup" in reason, reason
    assert inst.grep(r"warning: " + re.escape(qid) + r": flush failed: "
                     r"sender non-delivery notification not sent", since)
    assert exists(inst, "bounce", qid)
    assert incoming(inst) == before
    # The log was kept: the working service sends the report.
    assert request(inst, "flush", qid) == (0, "")
    one_notice(inst, qid, "sender non-delivery", since)
    assert not exists(inst, "bounce", qid)


def test_corrupt_or_missing_queue_file(inst):
    before = incoming(inst)
    qid = new_id()
    data = qw.build_queue_file("joe@example.com", ["bob@example.org"],
                               MESSAGE, size_override=(None, 5, None, None))
    place(inst, "active", qid, data)
    write_log(inst, "bounce", qid, [entry("bob@example.org", 100)])
    status, reason = request(inst, "flush", qid)
    assert status != 0
    assert reason.startswith(f"corrupt queue file active/{qid}: "), reason
    assert exists(inst, "bounce", qid)

    # The content is checked as the returned part is read.
    qid, offs = message(inst, ["bob@example.org"])
    path = queue_path(inst, "active", qid)
    data = bytearray(open(path, "rb").read())
    mesg = [r for r in qw.parse_records(bytes(data)) if r.type == qw.MESG]
    data[mesg[0].offset + 2] = ord("Q")     # not a record type
    qw.write_queue_file(path, bytes(data))
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    status, reason = request(inst, "flush", qid)
    assert status != 0
    assert reason.startswith(f"corrupt queue file active/{qid}: "), reason
    assert exists(inst, "bounce", qid)

    qid = new_id()
    write_log(inst, "bounce", qid, [entry("bob@example.org", 100)])
    status, reason = request(inst, "flush", qid)
    assert status != 0
    assert reason == f"open active/{qid}: No such file or directory"
    assert exists(inst, "bounce", qid)
    assert incoming(inst) == before


GOOD = ("flush", "active")


@pytest.mark.parametrize("label, pairs, why", [
    ("unknown request", [("request", "bounce"), ("queue_name", "active"),
                         ("queue_id", "QID")], 'unknown request "bounce"'),
    ("traversal in the ID", [("request", "flush"), ("queue_name", "active"),
                             ("queue_id", "../bounce/QID")],
     'flush: bad queue ID "../bounce/QID"'),
    ("traversal in the queue", [("request", "flush"),
                                ("queue_name", "../active"),
                                ("queue_id", "QID")],
     'flush: bad queue name "../active"'),
    ("another queue", [("request", "expire"), ("queue_name", "incoming"),
                       ("queue_id", "QID")],
     'expire: bad queue name "incoming"'),
    ("empty ID", [("request", "flush"), ("queue_name", "active"),
                  ("queue_id", "")], 'flush: bad queue ID ""'),
    ("missing attribute", [("request", "flush"), ("queue_id", "QID")],
     "malformed request: "),
    ("extra attribute", [("request", "flush"), ("queue_name", "active"),
                         ("queue_id", "QID"), ("sender", "x")],
     "malformed request: "),
    ("repeated attribute", [("request", "flush"), ("queue_name", "active"),
                            ("queue_id", "QID"), ("queue_id", "QID")],
     "malformed request: "),
])
def test_malformed_requests(inst, label, pairs, why):
    qid, offs = message(inst, ["bob@example.org"])
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    before = incoming(inst)
    since = inst.log_size()
    c = RawClient(os.path.join(inst.queue, "private", "bounce"))
    try:
        c.send(encode(*[(n, v.replace("QID", qid)) for n, v in pairs]))
        reply = c.reply()
    finally:
        c.close()
    assert reply["status"] != "0", label
    assert reply["reason"].startswith(why.replace("QID", qid)), \
        (label, reply)
    assert inst.grep(r"petrel/bounce\[\d+\]: warning: request refused: ",
                     since), label
    # Nothing was read or sent.
    assert exists(inst, "bounce", qid)
    assert incoming(inst) == before


def test_garbage_request(inst):
    c = RawClient(os.path.join(inst.queue, "private", "bounce"))
    try:
        c.send(b"99999999999999999999999:x,")
        assert c.closed()
    finally:
        c.close()
    # The service still works.
    qid, offs = message(inst, ["bob@example.org"])
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    assert request(inst, "flush", qid) == (0, "")


# ---- the client module ---------------------------------------------------

def client(inst, *args):
    prog = os.path.join(inst.support, "bounce-request")
    return inst.run([prog, "-c", inst.etc, *args], timeout=60)


def test_client(inst):
    qid, offs = message(inst, ["bob@example.org"])
    write_log(inst, "bounce", qid, [entry("bob@example.org", offs[0])])
    since = inst.log_size()
    r = client(inst, "flush", "active", qid)
    assert r.returncode == 0, r.stderr
    one_notice(inst, qid, "sender non-delivery", since)

    # The daemon's reason reaches the caller.
    r = client(inst, "flush", "active", "../x")
    assert r.returncode == 75
    assert r.stderr == 'bounce-request: bounce service: flush: bad queue ' \
        'ID "../x"\n', r.stderr
    qid = new_id()
    write_log(inst, "bounce", qid, [entry("bob@example.org", 100)])
    r = client(inst, "-o", "bounce_service_name=bounce-nocleanup",
               "flush", "active", qid)
    assert r.returncode == 75
    assert f"bounce-nocleanup service: open active/{qid}: No such file" \
        in r.stderr, r.stderr

    # No such service.
    r = client(inst, "-o", "bounce_service_name=nobounce", "flush",
               "active", qid)
    assert r.returncode == 75
    assert "cannot connect to the nobounce service (private/nobounce): " \
        "No such file or directory" in r.stderr, r.stderr
