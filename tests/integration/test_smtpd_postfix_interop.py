"""
test_smtpd_postfix_interop.py - a real Postfix relays mail into our smtpd

Debian's Postfix runs as a private instance (tests/integration/
postfix_peer.py: its own main.cf and master.cf in a temporary directory,
relayhost = [127.0.0.1]:<our smtpd>, no TLS, no DNS) in front of a
Petrel instance with smtpd. Mail is handed to Postfix, over its smtpd
with smtplib or with its sendmail, and Postfix's smtp client, with its
own choice of ESMTP (PIPELINING, SIZE, 8BITMIME, DSN parameters as it
re-encodes them), relays it to us. Checked where it lands:

- several recipients in one transaction: Postfix logs status=sent with
  our "250 2.0.0 Ok: queued as ID" for each, the ID is the one our smtpd
  logged, and each Maildir gets the message with the right envelope
  (Return-Path, Delivered-To) and our Received: header naming Postfix;
- the DSN options Postfix sends (RET, ENVID in xtext, NOTIFY, ORCPT, and
  the ORCPT it adds itself) and BODY=8BITMIME are what our queue file
  holds (read with qfile_writer with qmgr stopped);
- a NOTIFY=SUCCESS request made with Postfix's sendmail (-N -V -R) comes
  back as our success notice with the original envelope ID and
  recipient, headers only (RET=HDRS);
- 8-bit text, a 5000-byte line (Postfix told not to fold lines:
  smtp_line_length_limit = 0) and lines made of and starting with dots
  arrive byte for byte.

Postfix's master must start as root: as in test_full_disk.py the tests
are skipped, with that reason, when we are not root; a missing Postfix
fails them (scripts/bootstrap installs it).
"""

import mailbox
import os
import re
import smtplib

import pytest

import harness
import mailsystem
import postfix_peer
import qfile_writer as qw
from test_mailflow import maildir_config, messages

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="Postfix's master must start as root (run the suite as root)")

SENT_RE = (r"postfix/smtp\[\d+\]: (?P<pfid>[0-9A-F]+): to=<{rcpt}>, "
           r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{port}, delay=[\d.]+, "
           r"delays=[\d./]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: "
           r"queued as (?P<qid>" + mailsystem.ID + r")\)$")


class Relay:
    """Postfix in front of a Petrel instance."""

    def __init__(self, inst, port, peer):
        self.inst, self.port, self.peer = inst, port, peer

    def smtp(self):
        """An SMTP session with Postfix's smtpd."""
        s = smtplib.SMTP("127.0.0.1", self.peer.smtpd_port, timeout=30)
        s.ehlo("client.example.org")
        return s

    def sent(self, rcpt):
        """Wait for Postfix's status=sent for rcpt; returns our queue ID
        from the reply it logged, after checking our smtpd logged it."""
        m = self.peer.wait_log(SENT_RE.format(rcpt=re.escape(rcpt),
                                              port=self.port),
                               timeout=30)
        assert m, f"Postfix did not relay {rcpt}:\n{self.peer.log()}\n" \
            f"---- ours:\n{self.inst.log()}"
        qid = m[-1].group("qid")
        assert self.inst.wait_log(r"petrel/smtpd\[\d+\]: " + qid
                                  + r": client=localhost\[127\.0\.0\.1\]$"), \
            self.inst.log()
        assert self.peer.wait_log(m[-1].group("pfid") + r": removed$")
        return qid


def make_relay(qmgr):
    why = postfix_peer.missing()
    if why:
        pytest.fail(why, pytrace=False)
    inst = harness.Instance(**mailsystem.MAIN)
    try:
        mailsystem.add_services(inst, qmgr=qmgr)
        inst.base = maildir_config(inst)
        port = mailsystem.add_smtpd(inst)
        inst.start()
        # Lines of any length go through unfolded: our smtpd gets them
        # whole.
        peer = postfix_peer.PostfixPeer(f"[127.0.0.1]:{port}",
                                        smtp_line_length_limit="0")
    except BaseException:
        inst.cleanup()
        raise
    return Relay(inst, port, peer)


def finish(relay):
    problems = relay.peer.cleanup()
    mailsystem.finish(relay.inst)
    assert not problems, problems


@pytest.fixture
def relay():
    r = make_relay(qmgr=True)
    try:
        r.peer.start()
        yield r
    finally:
        finish(r)


@pytest.fixture
def held():
    """As relay, but our qmgr is not running: mail stays in incoming/."""
    r = make_relay(qmgr=False)
    try:
        r.peer.start()
        yield r
    finally:
        finish(r)


def maildir_bytes(base, user):
    """The raw bytes of each message in user's Maildir/new."""
    new = os.path.join(base, user, "Maildir", "new")
    out = []
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else ():
        with open(os.path.join(new, name), "rb") as f:
            out.append(f.read())
    return out


# ---- envelopes ----------------------------------------------------------

def test_several_recipients_one_transaction(relay):
    rcpts = ["alice@localhost", "bob@localhost", "carol@localhost"]
    with relay.smtp() as s:
        refused = s.sendmail("ann@example.net", rcpts,
                             b"From: Ann <ann@example.net>\r\n"
                             b"Subject: to three\r\n\r\nhello all\r\n")
        assert refused == {}
        s.quit()
    qids = {relay.sent(r) for r in rcpts}
    assert len(qids) == 1, qids         # one transaction, one queue file
    qid = qids.pop()
    assert relay.inst.wait_log(
        re.escape(qid) + r": from=<ann@example\.net>, size=\d+, nrcpt=3 "
        r"\(queue active\)$"), relay.inst.log()
    for r in rcpts:
        mailsystem.wait_status(relay.inst, qid, r, "sent")
        user = r.split("@")[0]
        got = messages(relay.inst.base, user)
        assert len(got) == 1, (user, relay.inst.log())
        msg = got[0]
        assert msg["Return-Path"] == "<ann@example.net>"
        assert msg["Delivered-To"] == r
        assert msg["Subject"] == "to three"
        assert msg.get_payload() == "hello all\n"
        # Ours on top (Postfix's HELO, its address, ESMTP, our queue
        # ID), Postfix's below it.
        received = msg.get_all("Received")
        assert len(received) == 2, received
        assert re.match(r"from relay\.example\.net \(localhost "
                        r"\[127\.0\.0\.1\]\)\s+by mail\.example\.com "
                        r"\(Petrel\) with ESMTP id " + qid + r"\b",
                        received[0]), received[0]
        assert "by relay.example.net (Postfix)" in received[1], received[1]
    # The session as Postfix's client ran it.
    assert relay.inst.wait_log(
        r"petrel/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] "
        r"ehlo=1 mail=1 rcpt=3 data=1 quit=1 commands=7$"), relay.inst.log()


def envelope(path):
    """(attributes, sender, [(orcpt, notify, rcpt)], content) of a queue
    file, from its records."""
    with open(path, "rb") as f:
        recs = qw.parse_records(f.read())
    attrs, rcpts, lines = {}, [], []
    sender, orcpt, notify, part = None, None, None, b""
    for r in recs:
        if r.type == qw.ATTR:
            name, _, value = r.data.decode().partition("=")
            attrs[name] = value
        elif r.type == qw.FROM:
            sender = r.data.decode()
        elif r.type == qw.ORCP:
            orcpt = r.data.decode()
        elif r.type == qw.NOTIFY:
            notify = int(r.data)
        elif r.type == qw.RCPT:
            rcpts.append((orcpt, notify, r.data.decode()))
            orcpt = notify = None
        elif r.type == qw.CONT:
            part += r.data
        elif r.type == qw.NORM:
            lines.append(part + r.data)
            part = b""
    return attrs, sender, rcpts, lines


def held_file(relay, qid):
    for dirpath, _, files in os.walk(os.path.join(relay.inst.queue,
                                                  "incoming")):
        if qid in files:
            return os.path.join(dirpath, qid)
    raise AssertionError(f"{qid} is not in incoming/:\n{relay.inst.log()}")


# cleanup_proto.h DSN_NOTIFY_* bits
NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_DELAY, NOTIFY_FAILURE = 1, 2, 4, 8


def test_dsn_parameters_reach_our_queue_file(held):
    body = "Subject: dsn\r\n\r\nGrüße aus Köln\r\n".encode()
    with held.smtp() as s:
        code, text = s.mail("ann@localhost", ["BODY=8BITMIME", "RET=HDRS",
                                              "ENVID=q+2B1+3Dx"])
        assert code == 250, text
        for rcpt, opts in (
                ("alice@localhost", ["NOTIFY=SUCCESS,DELAY",
                                     "ORCPT=rfc822;alice@old.example"]),
                ("bob@localhost", ["NOTIFY=NEVER"]),
                ("carol@localhost", [])):
            code, text = s.rcpt(rcpt, opts)
            assert code == 250, (rcpt, text)
        code, text = s.data(body)
        assert code == 250, text
        s.quit()
    qid = held.sent("alice@localhost")
    assert held.sent("bob@localhost") == qid
    assert held.sent("carol@localhost") == qid
    attrs, sender, rcpts, lines = envelope(held_file(held, qid))
    assert sender == "ann@localhost"
    # ENVID travels in xtext ("q+2B1+3Dx" is "q+1=x"), kept decoded.
    assert attrs.get("envelope_id") == "q+1=x", attrs
    assert attrs.get("dsn_ret") == "hdrs", attrs
    assert attrs.get("body_type") == "8BITMIME", attrs
    assert attrs.get("protocol_name") == "ESMTP", attrs
    assert attrs.get("helo_name") == "relay.example.net", attrs
    # Postfix passes the ORCPT it was given, and gives one (the address
    # as it received it) to the recipients that had none.
    assert rcpts == [
        ("rfc822;alice@old.example", NOTIFY_SUCCESS | NOTIFY_DELAY,
         "alice@localhost"),
        ("rfc822;bob@localhost", NOTIFY_NEVER, "bob@localhost"),
        ("rfc822;carol@localhost", None, "carol@localhost"),
    ], rcpts
    assert "Grüße aus Köln".encode() in lines, lines


def test_success_notice_from_postfix_sendmail(relay):
    """sendmail -N success -V ENVID -R hdrs at Postfix; our local delivery
    answers with a success notice that carries them back."""
    relay.peer.sendmail(["-f", "ann@localhost", "-N", "success",
                         "-V", "envid-77", "-R", "hdrs",
                         "dave@localhost"],
                        b"Subject: tell me\n\nsecret body\n")
    qid = relay.sent("dave@localhost")
    mailsystem.wait_status(relay.inst, qid, "dave@localhost", "sent")
    assert relay.inst.wait_log(re.escape(qid) + r": sender delivery status "
                               r"notification: " + mailsystem.ID + "$"), \
        relay.inst.log()
    assert harness.wait_for(lambda: messages(relay.inst.base, "ann"), 30), \
        relay.inst.log()
    notice = messages(relay.inst.base, "ann")[0]
    assert notice["Return-Path"] == "<>"
    assert notice.get_content_type() == "multipart/report"
    assert notice.get_param("report-type") == "delivery-status"
    parts = notice.get_payload()
    status = [p for p in parts
              if p.get_content_type() == "message/delivery-status"]
    assert len(status) == 1, [p.get_content_type() for p in parts]
    text = status[0].as_string()
    assert re.search(r"^Original-Envelope-Id: envid-77$", text, re.M), text
    assert re.search(r"^Original-Recipient: rfc822; ?dave@localhost$",
                     text, re.M), text
    assert re.search(r"^Action: delivered$", text, re.M), text
    assert re.search(r"^Status: 2\.0\.0$", text, re.M), text
    # RET=HDRS: the headers come back, the body does not.
    returned = [p for p in parts
                if p.get_content_type() == "text/rfc822-headers"]
    assert len(returned) == 1, [p.get_content_type() for p in parts]
    assert "Subject: tell me" in returned[0].as_string()
    assert "secret body" not in notice.as_string()


# ---- content ------------------------------------------------------------

def test_8bit_long_lines_and_dots_arrive_intact(relay):
    long_line = b"".join(b"%04d" % n for n in range(1250))     # 5000 bytes
    lines = [
        b"From: <ann@example.net>",
        b"To: <alice@localhost>",
        b"Subject: content",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "Grüße, ça va? Ünïcödé ✓".encode(),
        b".",
        b"..",
        b"...three",
        b".leading dot",
        b" .space then dot",
        long_line,
        b"." + long_line[:997],
        b"",
        b"last line",
    ]
    with relay.smtp() as s:
        code, text = s.mail("ann@example.net", ["BODY=8BITMIME"])
        assert code == 250, text
        code, text = s.rcpt("alice@localhost")
        assert code == 250, text
        # smtplib dot-stuffs; Postfix un-stuffs, stuffs again for us.
        code, text = s.data(b"\r\n".join(lines) + b"\r\n")
        assert code == 250, text
        s.quit()
    qid = relay.sent("alice@localhost")
    mailsystem.wait_status(relay.inst, qid, "alice@localhost", "sent")
    got = maildir_bytes(relay.inst.base, "alice")
    assert len(got) == 1
    # Maildir lines end in LF; the header block starts with ours.
    head, _, body = got[0].partition(b"\n\n")
    want_body = b"\n".join(lines[lines.index(b"") + 1:]) + b"\n"
    assert body == want_body, (len(body), len(want_body))
    for h in lines[:lines.index(b"")]:
        assert h in head.split(b"\n"), (h, head)
    msg = mailbox.MaildirMessage(got[0])
    assert msg.get_content_charset() == "utf-8"
