"""
test_dsn_report.py - delivery status notifications read by Python's email

Queue files are written by qfile_writer (an independent writer of the
record format) and bounce logs by this file, in Postfix's layout
("name=value" lines, an empty line after each entry), so the C reader
is checked against a second writer. tests/support/dsn-report-tool
composes the report (dsn_report.c) and prints it; the output is parsed
with the email package: a multipart/report with report-type
delivery-status, its human part, its message/delivery-status part split
into the per-message block and one block per recipient, and the
returned original (message/rfc822 or text/rfc822-headers).

Covered: a failure report field by field; RET=HDRS; a delay warning
with Will-Retry-Until; a success report filtered by NOTIFY; the size
cap; a boundary forged in the original; long lines of the original;
no report (NOTIFY=NEVER, null sender) and a postmaster copy; malformed
log entries skipped with a warning. No master runs.
"""

import email
import email.policy
import os
import subprocess

import pytest

import harness
import qfile_writer as qw

ARRIVAL = (1700000000, 250000)
NOW = 1700000100
HOST = "mail.example.com"
MESSAGE = (b"From: joe@example.com\n"
           b"To: bob@example.org, ann@example.org\n"
           b"Subject: hello there\n"
           b"Message-ID: <m1@example.com>\n"
           b"\n"
           b"body line 1\n"
           b"\n"
           b"last line\n")


def tool():
    return os.path.join(harness.build_dir(), "tests", "support",
                        "dsn-report-tool")


def queue_id():
    return qw.make_queue_id(ARRIVAL[0], ARRIVAL[1], 4242)


def rcpt_offsets(data):
    return [r.offset for r in qw.parse_records(data)
            if r.type in (qw.RCPT, qw.DONE)]


def log_text(entries):
    """A bounce log: each entry's fields in the given order."""
    out = []
    for fields in entries:
        out += [f"{name}={value}\n" for name, value in fields]
        out.append("\n")
    return "".join(out)


def entry(recipient, offset, status="5.1.1", action="failed",
          reason="unknown user", notify=0, orcpt="", extra=()):
    return [("recipient", recipient), ("offset", offset),
            ("dsn_orig_rcpt", orcpt), ("dsn_notify", notify),
            ("status", status), ("action", action), *extra,
            ("reason", reason)]


def make(tmp_path, recipients, message=MESSAGE, sender="joe@example.com",
         attrs=None, line_limit=2048):
    """Write the queue file; returns (path, recipient offsets)."""
    data = qw.build_queue_file(sender, recipients, message,
                               attrs=attrs or [], arrival=ARRIVAL,
                               line_limit=line_limit)
    path = tmp_path / queue_id()
    path.write_bytes(data)
    return str(path), rcpt_offsets(data)


def report(tmp_path, qpath, entries, *opts, status=0):
    log = tmp_path / "log"
    log.write_text(log_text(entries))
    r = subprocess.run([tool(), "-H", HOST, "-T", str(NOW), *opts, qpath,
                        str(log)], capture_output=True, timeout=30)
    assert r.returncode == status, r.stderr.decode()
    return r


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects, msg.defects
    return msg


def status_blocks(msg):
    """The message/delivery-status part as dicts: per message, then
    one per recipient."""
    parts = msg.get_payload()
    assert parts[1].get_content_type() == "message/delivery-status"
    return [dict(block.items()) for block in parts[1].get_payload()]


def check_frame(msg, subject, returned):
    assert msg["From"].addresses[0].addr_spec == f"MAILER-DAEMON@{HOST}"
    assert msg["To"] == "joe@example.com"
    assert msg["Subject"] == subject
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg.get_boundary().startswith(queue_id() + ".")
    assert email.utils.parsedate_to_datetime(msg["Date"]).timestamp() == NOW
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", returned]
    for part in parts:
        assert not part.defects, part.defects
    return parts


def test_failure(tmp_path):
    qpath, offs = make(tmp_path, [
        qw.Rcpt("bob@example.org", orcpt="rfc822;bob@x.org", notify="14"),
        qw.Rcpt("ann@example.org", done=True)],
        attrs=[("envelope_id", "ENV-42")])
    r = report(tmp_path, qpath, [
        entry("bob@example.org", offs[0], orcpt="rfc822;bob@x.org",
              notify=14, reason="host mx.example.org said: 550 5.1.1 "
              "<bob@example.org>: Recipient address rejected: User "
              "unknown in virtual mailbox table",
              extra=[("diag_type", "smtp"),
                     ("diag_text", "550 5.1.1 <bob@example.org>: Recipient "
                      "address rejected: User unknown in virtual mailbox "
                      "table"),
                     ("mta_type", "dns"),
                     ("mta_name", "mx.example.org")]),
        entry("ann@example.org", offs[1], status="5.2.2",
              reason="mailbox full")])
    assert r.stdout.startswith(
        f"From: MAILER-DAEMON@{HOST} (Mail Delivery System)\n".encode())
    msg = parse(r.stdout)
    parts = check_frame(msg, "Undelivered Mail Returned to Sender",
                        "message/rfc822")

    text = parts[0].get_content()
    assert "<bob@example.org> (expanded from <bob@x.org>): host " \
        "mx.example.org said:" in text
    assert "<ann@example.org>: mailbox full" in text

    blocks = status_blocks(msg)
    assert len(blocks) == 3
    assert blocks[0] == {
        "Original-Envelope-Id": "ENV-42",
        "Reporting-MTA": f"dns; {HOST}",
        "Arrival-Date": blocks[0]["Arrival-Date"],
        "X-Petrel-Queue-ID": queue_id(),
        "X-Petrel-Sender": "rfc822; joe@example.com",
    }
    assert email.utils.parsedate_to_datetime(
        blocks[0]["Arrival-Date"]).timestamp() == ARRIVAL[0]
    assert blocks[1] == {
        "Original-Recipient": "rfc822; bob@x.org",
        "Final-Recipient": "rfc822; bob@example.org",
        "Action": "failed",
        "Status": "5.1.1",
        "Remote-MTA": "dns; mx.example.org",
        "Diagnostic-Code": "smtp; 550 5.1.1 <bob@example.org>: Recipient "
        "address rejected: User unknown in virtual mailbox table",
    }
    assert blocks[2] == {
        "Final-Recipient": "rfc822; ann@example.org",
        "Action": "failed",
        "Status": "5.2.2",
        "Diagnostic-Code": "X-Petrel; mailbox full",
    }

    original = parts[2].get_payload()[0]
    assert original["Subject"] == "hello there"
    assert original["Message-ID"] == "<m1@example.com>"
    assert original.get_content() == "body line 1\n\nlast line\n"

    # Every line of the report fits SMTP's limit.
    assert max(len(line) for line in r.stdout.split(b"\n")) <= 998


def test_ret_hdrs(tmp_path):
    qpath, offs = make(tmp_path, ["bob@example.org"],
                       attrs=[("dsn_ret", "hdrs")])
    msg = parse(report(tmp_path, qpath, [
        entry("bob@example.org", offs[0])]).stdout)
    parts = check_frame(msg, "Undelivered Mail Returned to Sender",
                        "text/rfc822-headers")
    headers = parts[2].get_content()
    assert "Subject: hello there" in headers
    assert "body line" not in headers
    assert parts[2]["Content-Description"] == \
        "Undelivered Message Headers"


def test_delay(tmp_path):
    qpath, offs = make(tmp_path, ["bob@example.org", "ann@example.org"])
    until = NOW + 4 * 86400
    msg = parse(report(tmp_path, qpath, [
        entry("bob@example.org", offs[0], status="4.4.1", action="delayed",
              reason="connect to mx.example.org[192.0.2.1]:25: "
              "Connection refused"),
        entry("ann@example.org", offs[1], status="4.2.2", action="delayed",
              reason="over quota", notify=8),   # FAILURE only
    ], "-t", "delay", "-u", str(until)).stdout)
    parts = check_frame(msg, "Delayed Mail (still being retried)",
                        "text/rfc822-headers")
    blocks = status_blocks(msg)
    assert len(blocks) == 2
    assert blocks[1]["Final-Recipient"] == "rfc822; bob@example.org"
    assert blocks[1]["Action"] == "delayed"
    assert blocks[1]["Status"] == "4.4.1"
    assert blocks[1]["Diagnostic-Code"] == "X-Petrel; connect to " \
        "mx.example.org[192.0.2.1]:25: Connection refused"
    assert email.utils.parsedate_to_datetime(
        blocks[1]["Will-Retry-Until"]).timestamp() == until
    assert "ann@example.org" not in parts[0].get_content()


def test_success_notify_filter(tmp_path):
    qpath, offs = make(tmp_path, [
        qw.Rcpt("bob@example.org", notify="2", done=True),
        qw.Rcpt("ann@example.org", done=True),
        qw.Rcpt("list@example.org", notify="success,failure", done=True)])
    msg = parse(report(tmp_path, qpath, [
        entry("bob@example.org", offs[0], status="2.0.0",
              action="delivered", reason="delivered to mailbox", notify=2),
        entry("ann@example.org", offs[1], status="2.0.0",
              action="delivered", reason="delivered to mailbox"),
        entry("list@example.org", offs[2], status="2.0.0",
              action="expanded", reason="alias expanded", notify=10),
    ], "-t", "success").stdout)
    check_frame(msg, "Successful Mail Delivery Report",
                "text/rfc822-headers")
    blocks = status_blocks(msg)
    assert [(b["Final-Recipient"], b["Action"]) for b in blocks[1:]] == [
        ("rfc822; bob@example.org", "delivered"),
        ("rfc822; list@example.org", "expanded")]


def test_size_cap(tmp_path):
    body = b"".join(b"%04d %s\n" % (i, b"y" * 94) for i in range(500))
    qpath, offs = make(tmp_path, ["bob@example.org"],
                       message=b"Subject: big\n\n" + body)
    msg = parse(report(tmp_path, qpath, [
        entry("bob@example.org", offs[0])], "-l", "2000").stdout)
    parts = check_frame(msg, "Undelivered Mail Returned to Sender",
                        "message/rfc822")
    assert parts[2]["Content-Description"] == \
        "Undelivered Message (cut to 2000 bytes)"
    assert "cut to its first 2000 bytes" in " ".join(
        parts[0].get_content().split())
    original = parts[2].get_payload()[0]
    assert original["Subject"] == "big"
    returned = original.get_content().encode()
    assert len(returned) <= 2000 - len(b"Subject: big\n\n")
    assert body.startswith(returned.rstrip(b"\n"))


def test_forged_boundary(tmp_path):
    forged = f"--{queue_id()}.{NOW}/{HOST}".encode()
    message = (b"Subject: tricky\n\n" + forged + b"\n"
               b"Content-Type: text/plain\n\nfake part\n" + forged + b"--\n")
    qpath, offs = make(tmp_path, ["bob@example.org"], message=message)
    msg = parse(report(tmp_path, qpath, [
        entry("bob@example.org", offs[0])]).stdout)
    parts = check_frame(msg, "Undelivered Mail Returned to Sender",
                        "message/rfc822")
    assert msg.get_boundary() != forged[2:].decode()
    original = parts[2].get_payload()[0]
    assert original.get_content().encode() == message.split(b"\n\n", 1)[1]


def test_long_lines(tmp_path):
    long_line = b"z" * 5000
    message = b"Subject: long\n\n" + long_line + b"\nend\n"
    qpath, offs = make(tmp_path, ["bob@example.org"], message=message,
                       line_limit=1500)
    reason = " ".join(f"word{i}" for i in range(250))
    r = report(tmp_path, qpath, [
        entry("bob@example.org", offs[0], reason=reason)])
    msg = parse(r.stdout)
    parts = check_frame(msg, "Undelivered Mail Returned to Sender",
                        "message/rfc822")
    # The original's line keeps its length; generated lines are short.
    assert parts[2].get_payload()[0].get_content().encode() == \
        long_line + b"\nend\n"
    lines = r.stdout.split(b"\n")
    assert [len(x) for x in lines if len(x) > 998] == [5000]
    assert status_blocks(msg)[1]["Diagnostic-Code"] == "X-Petrel; " + reason


def test_no_report(tmp_path):
    qpath, offs = make(tmp_path, [qw.Rcpt("bob@example.org", notify="1")])
    r = report(tmp_path, qpath, [
        entry("bob@example.org", offs[0], notify=1)], status=1)
    assert r.stdout == b""

    qpath, offs = make(tmp_path, ["bob@example.org"], sender="")
    r = report(tmp_path, qpath, [entry("bob@example.org", offs[0])],
               status=2)
    assert r.stdout == b""
    # A postmaster copy of a bounce of a bounce.
    msg = parse(report(tmp_path, qpath, [entry("bob@example.org", offs[0])],
                       "-o", "postmaster@example.com", "-r", "hdrs",
                       "-s", "Postmaster Copy: Undelivered Mail").stdout)
    assert msg["To"] == "postmaster@example.com"
    assert msg["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert status_blocks(msg)[0]["X-Petrel-Sender"] == "rfc822; <>"
    assert msg.get_payload()[2].get_content_type() == "text/rfc822-headers"


def test_malformed_log_entries(tmp_path):
    qpath, offs = make(tmp_path, ["bob@example.org", "ann@example.org"])
    bad = [("recipient", "evil@example.org"), ("offset", offs[0]),
           ("status", "5.1"), ("action", "failed"), ("reason", "x")]
    r = report(tmp_path, qpath, [
        bad,
        entry("bob@example.org", offs[0]),
        entry("ann@example.org", offs[1], reason="mailbox full")])
    assert b"line 3: entry skipped: bad status \"5.1\"" in r.stderr
    blocks = status_blocks(parse(r.stdout))
    assert [b["Final-Recipient"] for b in blocks[1:]] == [
        "rfc822; bob@example.org", "rfc822; ann@example.org"]


@pytest.mark.parametrize("tail", [
    b"recipient=cut@example.org\noffset=7\nreason=half",
    b"recipient=cut@example.org\n",
])
def test_truncated_log(tmp_path, tail):
    qpath, offs = make(tmp_path, ["bob@example.org"])
    log = tmp_path / "log"
    log.write_text(log_text([entry("bob@example.org", offs[0])]))
    with open(log, "ab") as f:
        f.write(tail)
    r = subprocess.run([tool(), "-L", qpath, str(log)], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().split("\n")[0].startswith(
        f"bob@example.org {offs[0]} failed 5.1.1 0 unknown user")
    assert b"incomplete last entry skipped" in r.stderr
