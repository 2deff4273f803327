"""
test_sendmail_bs.py - sendmail -bs (SMTP on standard input) and a real
mail client (s-nail) sending through sendmail

One instance for the module with pickup, cleanup, trivial-rewrite and
showq, and no qmgr: each message of a session goes through its own
postdrop into maildrop/, pickup hands it to cleanup and it stays in
incoming/, where mailproto.QueueFile reads it. Other configuration
directories beside the instance's share its queue but change what
sendmail sees (smaller limits, a short smtpd_timeout, a fake postdrop
that saves the records it gets). Dialogues are tables of commands and
the exact replies; exit codes are sysexits.h's.
"""

import os
import pwd
import re
import select
import shutil
import stat
import subprocess
import time

import pytest

import harness
from harness import wait_for
from mailproto import QueueFile, records

EX_OK = 0
EX_IOERR = 74
EX_TEMPFAIL = 75

MAIN = {
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
}

ID = r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+"
PICKUP_RE = (r"petrel/pickup\[\d+\]: (?P<qid>" + ID + r"): "
             r"uid=(?P<uid>\d+) from=<(?P<sender>[^>]*)>$")

GREETING = b"220 mail.example.com ESMTP Petrel"
EHLO_REPLY = [b"250-mail.example.com", b"250-PIPELINING",
              b"250-SIZE 10240000", b"250-VRFY",
              b"250-ENHANCEDSTATUSCODES", b"250-8BITMIME", b"250 DSN"]
OK_MAIL = b"250 2.1.0 Ok"
OK_RCPT = b"250 2.1.5 Ok"
GO_AHEAD = b"354 End data with <CR><LF>.<CR><LF>"
QUEUED = b"250 2.0.0 Ok: queued"
BYE = b"221 2.0.0 Bye"

FAKE_POSTDROP = """#!/bin/sh
n=$(ls "$FAKE_DIR" | wc -l)
cat > "$FAKE_DIR/stdin.$n"
exit ${FAKE_STATUS:-0}
"""


@pytest.fixture(scope="module")
def inst():
    inst = harness.Instance(**MAIN)
    inst.add_service("pickup", "fifo", "pickup", private="n", unpriv="-",
                     chroot="n", wakeup=60, maxproc=1)
    inst.add_service("cleanup", "unix", "cleanup", private="n", maxproc=0)
    inst.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    inst.add_service("showq", "unix", "showq", private="n")
    inst.start()
    try:
        yield inst
    finally:
        log = inst.log()
        problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)


def make_config(inst, name, **params):
    """A configuration directory beside the instance's: its main.cf plus
    params (later lines win)."""
    d = os.path.join(inst.dir, name)
    if not os.path.isdir(d):
        os.mkdir(d)
        os.chmod(d, 0o755)
    with open(inst.main_cf) as f:
        text = f.read()
    text += "".join(f"{k} = {v}\n" for k, v in params.items())
    with open(os.path.join(d, "main.cf"), "w") as f:
        f.write(text)
    return d


def bs(inst, data, config=None, env=None):
    """sendmail -bs with data on standard input; returns (exit status,
    reply lines, stderr text)."""
    e = inst.env()
    e.update(env or {})
    r = subprocess.run([os.path.join(inst.src, "sendmail"), "-bs", "-C",
                        config or inst.etc], input=data,
                       capture_output=True, env=e, timeout=60)
    assert r.stdout.endswith(b"\r\n") or r.stdout == b"", r.stdout
    return r.returncode, r.stdout.split(b"\r\n")[:-1], r.stderr.decode()


def session(*commands, eol=b"\r\n"):
    return b"".join(c + eol for c in commands)


def maildrop(inst):
    return sorted(os.listdir(os.path.join(inst.queue, "maildrop")))


def queued(inst, since, count):
    """The count messages pickup handed over since log offset since, as
    {Subject: (pickup log match, QueueFile)}."""
    m = inst.wait_log(PICKUP_RE, since=since, count=count)
    assert len(m) == count, inst.log()[since:]
    out = {}
    for match in m:
        path = os.path.join(inst.queue, "incoming", match.group("qid"))
        assert wait_for(lambda: os.path.exists(path)
                        and os.stat(path).st_mode & stat.S_IXUSR, 10)
        qf = QueueFile.load(path)
        out[qf.header("Subject")[0]] = (match, qf)
    assert wait_for(lambda: maildrop(inst) == [], 10), maildrop(inst)
    return out


def nothing_queued(inst, since):
    time.sleep(0.3)
    assert maildrop(inst) == []
    assert not inst.grep(PICKUP_RE, since)


# ---- a whole session -------------------------------------------------------

def test_two_messages_in_one_session(inst):
    since = inst.log_size()
    status, replies, err = bs(inst, session(
        b"EHLO client.example.com",
        b"MAIL FROM:<joe@example.net> SIZE=300 BODY=8BITMIME RET=HDRS "
        b"ENVID=env+2Bone+3D1",
        b"RCPT TO:<alice@example.org> NOTIFY=SUCCESS,FAILURE "
        b"ORCPT=rfc822;Alice+40example.org",
        b"RCPT TO:<@relay.example:bob@example.org> NOTIFY=NEVER",
        b"RCPT TO:<carol>",
        b"DATA",
        b"Subject: first",
        b"",
        b"line 1",
        b"..leading dot",
        b"...",
        b". not the end",
        b".",
        b"mail from:<> body=7bit",
        b"rcpt to:<\"odd user\"@example.org>",
        b"rcpt to:<\"dave\"@[192.0.2.1]>",
        b"data",
        b"Subject: second",
        b"",
        b"hello",
        b".",
        b"QUIT"))
    assert status == EX_OK, err
    assert err == ""
    assert replies == [GREETING] + EHLO_REPLY + [
        OK_MAIL, OK_RCPT, OK_RCPT, OK_RCPT, GO_AHEAD, QUEUED,
        OK_MAIL, OK_RCPT, OK_RCPT, GO_AHEAD, QUEUED, BYE]
    got = queued(inst, since, 2)

    m, qf = got["first"]
    assert m.group("uid") == str(os.getuid())
    assert m.group("sender") == "joe@example.net"
    assert qf.sender == "joe@example.net"
    assert qf.rcpts == [
        ("alice@example.org", "rfc822;Alice@example.org", "10"),
        ("bob@example.org", None, "1"),
        ("carol@example.com", None, None)]
    assert qf.attrs["envelope_id"] == "env+one=1"
    assert qf.attrs["dsn_ret"] == "hdrs"
    assert qf.attrs["body_type"] == "8BITMIME"
    assert qf.attrs["rewrite_context"] == "local"
    assert qf.attrs["submit_uid"] == str(os.getuid())
    assert qf.body() == [b"line 1", b".leading dot", b"..",
                         b" not the end"]

    m, qf = got["second"]
    assert m.group("sender") == ""
    assert qf.sender == ""
    assert qf.rcpts == [('"odd user"@example.org', None, None),
                        ("dave@[192.0.2.1]", None, None)]
    assert qf.attrs["body_type"] == "7BIT"
    assert "envelope_id" not in qf.attrs and "dsn_ret" not in qf.attrs
    assert qf.body() == [b"hello"]


def test_records_as_for_a_normal_submission(inst, tmp_path):
    """Exactly the records sendmail writes for a normal submission, one
    postdrop run per message, postdrop's standard output kept off the
    SMTP channel."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "postdrop").write_text(FAKE_POSTDROP + "echo noise\n")
    (bindir / "postdrop").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    conf = make_config(inst, "etc-fake", command_directory=str(bindir),
                       line_length_limit=100)
    line = bytes(range(65, 91)) * 10          # 260 bytes
    status, replies, _ = bs(inst, session(
        b"HELO x",
        b"MAIL FROM:<joe@example.com> RET=FULL ENVID=E1",
        b"RCPT TO:<a@example.org> ORCPT=rfc822;a+2Bx@example.org "
        b"NOTIFY=DELAY",
        b"RCPT TO:<b@example.org>",
        b"DATA", b"Subject: s", b"", b"." + line, b"tail\rcr", b".",
        b"MAIL FROM:<x@example.com>", b"RCPT TO:<y@example.org>",
        b"DATA", b".", b"QUIT"), config=conf,
        env={"FAKE_DIR": str(out)})
    assert status == EX_OK
    assert replies == [GREETING, b"250 mail.example.com", OK_MAIL, OK_RCPT,
                       OK_RCPT, GO_AHEAD, QUEUED, OK_MAIL, OK_RCPT,
                       GO_AHEAD, QUEUED, BYE]
    recs = [[(t, p) for _, t, p in records((out / f"stdin.{n}").read_bytes())]
            for n in range(2)]
    assert recs[0] == [
        (b"A", b"envelope_id=E1"), (b"A", b"dsn_ret=full"),
        (b"S", b"joe@example.com"),
        (b"O", b"rfc822;a+x@example.org"), (b"n", b"4"),
        (b"R", b"a@example.org"), (b"R", b"b@example.org"),
        (b"M", b""), (b"N", b"Subject: s"), (b"N", b""),
        # The dot removed, the line split at line_length_limit.
        (b"L", line[:100]), (b"L", line[100:200]), (b"N", line[200:]),
        (b"N", b"tail\rcr"), (b"X", b""), (b"E", b"")]
    assert recs[1] == [(b"S", b"x@example.com"), (b"R", b"y@example.org"),
                       (b"M", b""), (b"X", b""), (b"E", b"")]


def test_long_line_end_to_end(inst):
    since = inst.log_size()
    line = b"y" * 5000
    status, replies, _ = bs(inst, session(
        b"MAIL FROM:<a@example.com>", b"RCPT TO:<b@example.com>", b"DATA",
        b"Subject: long", b"", line, b"." + line, b"short", b".", b"QUIT"))
    assert status == EX_OK
    assert replies[-2:] == [QUEUED, BYE]
    _, qf = queued(inst, since, 1)["long"]
    assert qf.body() == [line, line, b"short"]


def test_bare_lf_session(inst):
    since = inst.log_size()
    status, replies, _ = bs(inst, session(
        b"EHLO lf.example", b"MAIL FROM:<lf@example.com>",
        b"RCPT TO:<lf-rcpt@example.org>", b"DATA", b"Subject: bare lf",
        b"", b"a", b"..b", b".", b"QUIT", eol=b"\n"))
    assert status == EX_OK
    assert replies == [GREETING] + EHLO_REPLY + [OK_MAIL, OK_RCPT, GO_AHEAD,
                                                 QUEUED, BYE]
    _, qf = queued(inst, since, 1)["bare lf"]
    assert qf.rcpts == [("lf-rcpt@example.org", None, None)]
    assert qf.body() == [b"a", b".b"]


def test_interactive_dialogue(inst):
    """A client that waits for each reply before it sends more: every
    reply is written before sendmail waits for input."""
    since = inst.log_size()
    p = subprocess.Popen([os.path.join(inst.src, "sendmail"), "-bs", "-C",
                          inst.etc], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=inst.env())
    pending = [b""]

    def reply():
        while b"\r\n" not in pending[0]:
            ready, _, _ = select.select([p.stdout], [], [], 10)
            assert ready, f"no reply; got {pending[0]!r}"
            chunk = os.read(p.stdout.fileno(), 4096)
            assert chunk, f"end of output; got {pending[0]!r}"
            pending[0] += chunk
        line, pending[0] = pending[0].split(b"\r\n", 1)
        return line

    def send(line):
        p.stdin.write(line + b"\r\n")
        p.stdin.flush()

    try:
        assert reply() == GREETING
        send(b"EHLO x")
        assert [reply() for _ in EHLO_REPLY] == EHLO_REPLY
        for cmd, want in ((b"MAIL FROM:<i@example.com>", OK_MAIL),
                          (b"RCPT TO:<j@example.com>", OK_RCPT),
                          (b"DATA", GO_AHEAD)):
            send(cmd)
            assert reply() == want
        send(b"Subject: interactive\r\n\r\nhi\r\n.")
        assert reply() == QUEUED
        send(b"QUIT")
        assert reply() == BYE
        p.stdin.close()
        assert p.wait(10) == EX_OK
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    assert queued(inst, since, 1)["interactive"][1].body() == [b"hi"]


# ---- replies -------------------------------------------------------------------

MAIL = b"MAIL FROM:<a@example.com>"
RCPT = b"RCPT TO:<b@example.com>"


@pytest.mark.parametrize("label,commands,want", [
    # Sequence.
    ("nested MAIL", [MAIL, MAIL], b"503 5.5.1 Error: nested MAIL command"),
    ("RCPT without MAIL", [RCPT], b"503 5.5.1 Error: need MAIL command"),
    ("DATA without MAIL", [b"DATA"], b"503 5.5.1 Error: need MAIL command"),
    ("DATA without RCPT", [MAIL, b"DATA"],
     b"503 5.5.1 Error: need RCPT command"),
    ("no valid recipients", [MAIL, b"RCPT TO:<>", b"DATA"],
     b"554 5.5.1 Error: no valid recipients"),
    ("RSET ends the transaction", [MAIL, b"RSET", RCPT],
     b"503 5.5.1 Error: need MAIL command"),
    ("EHLO ends the transaction", [MAIL, b"EHLO x", RCPT],
     b"503 5.5.1 Error: need MAIL command"),
    # Commands.
    ("HELO", [b"HELO client"], b"250 mail.example.com"),
    ("HELO without name", [b"HELO"], b"501 5.5.4 Syntax: HELO hostname"),
    ("EHLO without name", [b"EHLO "], b"501 5.5.4 Syntax: EHLO hostname"),
    ("NOOP", [b"NOOP"], b"250 2.0.0 Ok"),
    ("RSET", [b"RSET"], b"250 2.0.0 Ok"),
    ("RSET with argument", [b"RSET x"], b"501 5.5.4 Syntax: RSET"),
    ("VRFY", [b"VRFY bob"], b"252 2.0.0 bob"),
    ("VRFY without argument", [b"VRFY"], b"501 5.5.4 Syntax: VRFY address"),
    ("HELP", [b"HELP"], b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
     b"RSET NOOP VRFY HELP QUIT"),
    ("DATA with argument", [MAIL, RCPT, b"DATA x"],
     b"501 5.5.4 Syntax: DATA"),
    ("unknown command", [b"TURN"], b"500 5.5.2 Error: command not recognized"),
    ("empty line", [b""], b"500 5.5.2 Error: bad syntax"),
    ("lower case", [b"mail from:<a@example.com>"], OK_MAIL),
    # MAIL FROM.
    ("MAIL syntax", [b"MAIL a@example.com"],
     b"501 5.5.4 Syntax: MAIL FROM:<address>"),
    ("MAIL without brackets", [b"MAIL FROM:a@example.com"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL junk after path", [b"MAIL FROM:<a@example.com>x"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL space in local part", [b"MAIL FROM:<a b@example.com>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL double dot", [b"MAIL FROM:<a..b@example.com>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL empty domain", [b"MAIL FROM:<a@>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL bad domain", [b"MAIL FROM:<a@x..y>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL no local part", [b"MAIL FROM:<@example.com>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL open quote", [b"MAIL FROM:<\"a@example.com>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL open literal", [b"MAIL FROM:<a@[192.0.2.1>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL control character", [b"MAIL FROM:<a\x01b@example.com>"],
     b"501 5.1.7 Bad sender address syntax"),
    ("MAIL space after colon", [b"MAIL FROM: <a@example.com>"], OK_MAIL),
    ("MAIL SIZE syntax", [MAIL + b" SIZE=12k"],
     b"501 5.5.4 Bad message size syntax"),
    ("MAIL SIZE without value", [MAIL + b" SIZE"],
     b"501 5.5.4 Bad message size syntax"),
    ("MAIL SIZE over the limit", [MAIL + b" SIZE=10240001"],
     b"552 5.3.4 Message size exceeds fixed limit"),
    ("MAIL SIZE at the limit", [MAIL + b" SIZE=10240000"], OK_MAIL),
    ("MAIL SIZE overflow", [MAIL + b" SIZE=" + b"9" * 30],
     b"552 5.3.4 Message size exceeds fixed limit"),
    ("MAIL BODY", [MAIL + b" BODY=BINARYMIME"],
     b"501 5.5.4 Bad BODY parameter value"),
    ("MAIL RET", [MAIL + b" RET=NONE"], b"501 5.5.4 Bad RET parameter syntax"),
    ("MAIL ENVID bad xtext", [MAIL + b" ENVID=a+2"],
     b"501 5.5.4 Bad ENVID parameter syntax"),
    ("MAIL ENVID too long", [MAIL + b" ENVID=" + b"x" * 101],
     b"501 5.5.4 Bad ENVID parameter syntax"),
    ("MAIL duplicate", [MAIL + b" SIZE=1 SIZE=2"],
     b"501 5.5.4 Duplicate SIZE parameter"),
    ("MAIL unknown parameter", [MAIL + b" SMTPUTF8"],
     b"555 5.5.4 Unsupported option: SMTPUTF8"),
    ("MAIL empty value", [MAIL + b" BODY="], b"501 5.5.4 Bad parameter syntax"),
    ("MAIL bad keyword", [MAIL + b" -X=1"], b"501 5.5.4 Bad parameter syntax"),
    # RCPT TO.
    ("RCPT syntax", [MAIL, b"RCPT b@example.com"],
     b"501 5.5.4 Syntax: RCPT TO:<address>"),
    ("RCPT null", [MAIL, b"RCPT TO:<>"], b"501 5.1.3 Bad recipient address "
     b"syntax"),
    ("RCPT bad address", [MAIL, b"RCPT TO:<b@example.com"],
     b"501 5.1.3 Bad recipient address syntax"),
    ("RCPT bad route", [MAIL, b"RCPT TO:<@a,b:c@d>"],
     b"501 5.1.3 Bad recipient address syntax"),
    ("RCPT NOTIFY", [MAIL, RCPT + b" NOTIFY=SOMETIMES"],
     b"501 5.5.4 Bad NOTIFY parameter syntax"),
    ("RCPT NOTIFY never and more", [MAIL, RCPT + b" NOTIFY=NEVER,DELAY"],
     b"501 5.5.4 Bad NOTIFY parameter syntax"),
    ("RCPT ORCPT without type", [MAIL, RCPT + b" ORCPT=b@example.com"],
     b"501 5.5.4 Bad ORCPT parameter syntax"),
    ("RCPT ORCPT bad xtext", [MAIL, RCPT + b" ORCPT=rfc822;b+zz"],
     b"501 5.5.4 Bad ORCPT parameter syntax"),
    ("RCPT ORCPT control", [MAIL, RCPT + b" ORCPT=rfc822;b+0A"],
     b"501 5.5.4 Bad ORCPT parameter syntax"),
    ("RCPT duplicate", [MAIL, RCPT + b" NOTIFY=DELAY NOTIFY=DELAY"],
     b"501 5.5.4 Duplicate NOTIFY parameter"),
    ("RCPT unknown parameter", [MAIL, RCPT + b" FOO=bar"],
     b"555 5.5.4 Unsupported option: FOO"),
    ("RCPT postmaster", [MAIL, b"RCPT TO:<Postmaster>"], OK_RCPT),
    # Bad bytes.
    ("NUL in command", [b"MAIL FROM:<a\x00b@example.com>"],
     b"500 5.5.2 Error: NUL or non-ASCII character in command"),
    ("non-ASCII in command", [b"VRFY j\xc3\xbcrgen"],
     b"500 5.5.2 Error: NUL or non-ASCII character in command"),
])
def test_replies(inst, label, commands, want):
    status, replies, err = bs(inst, session(b"EHLO x", *commands, b"QUIT"))
    assert status == EX_OK, (label, err)
    assert replies[0] == GREETING
    assert replies[-1] == BYE, label
    assert replies[-2] == want, (label, replies)
    # One reply per command.
    assert len([r for r in replies if r[3:4] == b" "]) == \
        1 + 1 + len(commands) + 1, replies


def test_session_goes_on_after_bad_bytes(inst):
    status, replies, _ = bs(inst, session(
        b"NOOP\x00x", b"\xff", MAIL, b"NOOP", b"QUIT"))
    assert status == EX_OK
    bad = b"500 5.5.2 Error: NUL or non-ASCII character in command"
    assert replies == [GREETING, bad, bad, OK_MAIL, b"250 2.0.0 Ok", BYE]


def test_long_command_line(inst):
    # 2048 bytes are allowed, not one more; the rest of a long line is
    # skipped, however long, and the session goes on.
    ok = b"NOOP " + b"x" * (2048 - 5)
    status, replies, _ = bs(inst, session(
        ok, ok + b"x", b"MAIL FROM:<" + b"a" * 1000000 + b"@example.com>",
        MAIL, b"QUIT"))
    assert status == EX_OK
    too_long = b"500 5.5.2 Error: line too long"
    assert replies == [GREETING, b"250 2.0.0 Ok", too_long, too_long,
                       OK_MAIL, BYE]


def test_recipient_limit(inst):
    rcpts = [b"RCPT TO:<r%d@example.com>" % i for i in range(1001)]
    status, replies, _ = bs(inst, session(MAIL, *rcpts, b"RSET", b"QUIT"))
    assert status == EX_OK
    assert replies[1] == OK_MAIL
    assert replies[2:1002] == [OK_RCPT] * 1000
    assert replies[1002:] == [b"452 4.5.3 Error: too many recipients",
                              b"250 2.0.0 Ok", BYE]
    # smtpd_recipient_limit, as in Postfix.
    conf = make_config(inst, "etc-rcpt3", smtpd_recipient_limit=3)
    status, replies, _ = bs(inst, session(MAIL, *rcpts[:4], b"QUIT"),
                            config=conf)
    assert replies[2:] == [OK_RCPT] * 3 + [
        b"452 4.5.3 Error: too many recipients", BYE]


def test_message_size_limit(inst):
    conf = make_config(inst, "etc-small", message_size_limit=2000)
    since = inst.log_size()
    status, replies, _ = bs(inst, session(
        b"EHLO x",
        MAIL + b" SIZE=2001",
        MAIL + b" SIZE=1500", RCPT, b"DATA", b"Subject: too big", b"",
        *[b"z" * 79] * 30, b".",
        MAIL, RCPT, b"DATA", b"Subject: small", b"", b"fits", b".",
        b"QUIT"), config=conf)
    assert status == EX_OK
    ehlo = list(EHLO_REPLY)
    ehlo[2] = b"250-SIZE 2000"
    assert replies == [GREETING] + ehlo + [
        b"552 5.3.4 Message size exceeds fixed limit",
        OK_MAIL, OK_RCPT, GO_AHEAD,
        b"552 5.3.4 Error: message file too big",
        OK_MAIL, OK_RCPT, GO_AHEAD, QUEUED, BYE]
    got = queued(inst, since, 1)
    assert list(got) == ["small"]
    # No limit: SIZE without a number.
    conf = make_config(inst, "etc-nolimit", message_size_limit=0)
    status, replies, _ = bs(inst, session(b"EHLO x", b"QUIT"), config=conf)
    assert replies[3] == b"250-SIZE"


# ---- the end of the session ---------------------------------------------------------

def test_end_of_input(inst):
    since = inst.log_size()
    # Between transactions: a normal end.
    status, replies, err = bs(inst, session(b"EHLO x", MAIL, b"RSET"))
    assert status == EX_OK
    assert replies[-1] == b"250 2.0.0 Ok"
    # In the middle of a transaction, or of the data (also a last line
    # without its ending, even a "."): 421, nothing queued.
    for tail in (b"", b"DATA\r\nSubject: cut\r\n\r\nno end\r\n",
                 b"DATA\r\nSubject: cut\r\n\r\n."):
        status, replies, err = bs(inst, session(MAIL, RCPT) + tail)
        assert status == EX_TEMPFAIL, tail
        assert replies[-1] == (b"421 4.4.2 mail.example.com Error: "
                               b"unexpected end of input")
        assert "sendmail: warning: end of input after " in err
    nothing_queued(inst, since)


def test_last_command_without_ending(inst):
    status, replies, _ = bs(inst, b"NOOP\r\nQUIT")
    assert status == EX_OK
    assert replies == [GREETING, b"250 2.0.0 Ok", BYE]


@pytest.mark.parametrize("where", ["command", "data"])
def test_timeout(inst, where):
    conf = make_config(inst, "etc-timeout", smtpd_timeout="1s")
    since = inst.log_size()
    p = subprocess.Popen([os.path.join(inst.src, "sendmail"), "-bs", "-C",
                          conf], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=inst.env())
    text = session(b"EHLO x")
    if where == "data":
        text += session(MAIL, RCPT, b"DATA", b"Subject: slow", b"") + b"x" * 5
    p.stdin.write(text)
    p.stdin.flush()
    try:
        assert p.wait(20) == EX_TEMPFAIL
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = p.stdout.read()
    err = p.stderr.read().decode()
    p.stdin.close()
    p.stdout.close()
    p.stderr.close()
    assert out.endswith(b"\r\n421 4.4.2 mail.example.com Error: timeout "
                        b"exceeded\r\n"), out
    assert "sendmail: warning: timeout after " in err, err
    nothing_queued(inst, since)


def test_postdrop_failure(inst, tmp_path):
    """postdrop fails (or cannot be run): 451, and the session goes on."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "postdrop").write_text(FAKE_POSTDROP)
    (bindir / "postdrop").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    conf = make_config(inst, "etc-failing", command_directory=str(bindir))
    dialogue = session(MAIL, RCPT, b"DATA", b"x", b".", b"NOOP", b"QUIT")
    want = [GREETING, OK_MAIL, OK_RCPT, GO_AHEAD,
            b"451 4.3.0 Error: queue file write error", b"250 2.0.0 Ok", BYE]
    status, replies, err = bs(inst, dialogue, config=conf,
                              env={"FAKE_DIR": str(out), "FAKE_STATUS": "75"})
    assert status == EX_OK
    assert replies == want
    assert "postdrop failed (exit status 75)" in err
    conf = make_config(inst, "etc-nopostdrop",
                       command_directory=str(tmp_path / "nowhere"))
    status, replies, err = bs(inst, dialogue, config=conf)
    assert status == EX_OK
    assert replies == want
    assert "execute " + str(tmp_path / "nowhere" / "postdrop") in err


# ---- a real mail client ------------------------------------------------------------

def test_s_nail(inst):
    """s-nail, a real mail client, sending through our sendmail: a
    subject, a Cc and a plain body to two recipients."""
    snail = shutil.which("s-nail")
    if snail is None:
        pytest.skip("s-nail is not installed (scripts/bootstrap)")
    since = inst.log_size()
    env = inst.env()
    env["HOME"] = inst.dir
    r = subprocess.run(
        [snail, "-:/", "-S", "sendwait", "-S", "mta=" + os.path.join(
            inst.src, "sendmail"), "-S", "mta-arguments=-C " + inst.etc,
         "-S", "from=Tess Ter <tester@example.com>", "-s",
         "greetings from s-nail", "-c", "carol@example.org",
         "alice@example.org"],
        input=b"Dear Alice,\n\n.\nsee you.\n", capture_output=True,
        env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    match, qf = queued(inst, since, 1)["greetings from s-nail"]
    assert match.group("uid") == str(os.getuid())
    assert sorted(r[0] for r in qf.rcpts) == ["alice@example.org",
                                              "carol@example.org"]
    assert qf.header("To") == ["alice@example.org"]
    assert qf.header("Cc") == ["carol@example.org"]
    assert qf.header("From") == ["Tess Ter <tester@example.com>"]
    assert qf.body() == [b"Dear Alice,", b"", b".", b"see you."]
    # s-nail passes no -f: the sender is the login name, qualified.
    login = pwd.getpwuid(os.getuid()).pw_name
    assert qf.sender == f"{login}@example.com"
    assert qf.header("User-Agent")[0].startswith("s-nail")
