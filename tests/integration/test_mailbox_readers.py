"""
test_mailbox_readers.py - mailboxes we write, read back by other programs

tests/support/mailbox-write delivers messages with mbox_deliver() and
maildir_deliver() (what local and virtual will call); Python's mailbox
module, an independent reader, reads them back: every message is there,
in order, with its From_ line, the prepended Return-Path: and
Delivered-To: headers, and a body that equals the original once the
mboxrd quoting is undone (mbox) or exactly (Maildir). Also: appending to
an mbox that Python wrote, concurrent writers on one mbox (the locks
keep messages whole) and on one Maildir (unique names), a delivery over
the size limit (exit 69, the mailbox unchanged), long lines handed over
in pieces, and s-nail listing the mbox when it is installed. Dovecot's
doveadm is used by no test here (not installed on the test machines).
No master runs.
"""

import mailbox
import os
import re
import shutil
import subprocess
import time

import pytest

import harness

EX_UNAVAILABLE = 69
WHEN = 1700000000

# (label, sender, body lines): the message as the queue holds it.
MESSAGES = [
    ("simple", "joe@example.com",
     [b"Subject: simple", b"From: joe@example.com", b"", b"hello"]),
    ("from lines", "ann@example.com",
     [b"Subject: from lines", b"", b"From me", b">From you", b">>From x",
      b" From indented", b"From", b"Fromage", b"From:", b"> From x",
      b"last"]),
    ("null sender", "",
     [b"Subject: bounce", b"", b"From the mailer daemon"]),
    ("blank lines at the end", "bob@example.com",
     [b"Subject: blanks", b"", b"text", b"", b""]),
    ("8-bit and dots", "bob@example.com",
     [b"Subject: 8bit", b"Content-Type: text/plain; charset=utf-8", b"",
      "gr\u00fc\u00dfe".encode(), b".", b"..", b"\tFrom tab"]),
    ("long line", "bob@example.com",
     [b"Subject: long", b"", b"x" * 100000, b"From " + b"y" * 9000]),
]


def writer():
    return os.path.join(harness.build_dir(), "tests", "support",
                        "mailbox-write")


def deliver(kind, path, sender, rcpt, lines, *opts, check=True):
    data = b"".join(line + b"\n" for line in lines)
    r = subprocess.run([writer(), *opts, kind, path, sender, rcpt],
                       input=data, capture_output=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def want_bytes(sender, rcpt, lines):
    """The message as a reader should see it (without From_ line)."""
    return (f"Return-Path: <{sender}>\nDelivered-To: {rcpt}\n".encode()
            + b"".join(line + b"\n" for line in lines))


def mboxrd_unquote(data):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


def from_line(sender, when):
    return "%s %s" % (sender or "MAILER-DAEMON",
                      time.asctime(time.localtime(when)))


@pytest.fixture
def tmp(tmp_path):
    os.environ["TZ"] = "UTC"
    time.tzset()
    return tmp_path


def test_mbox_read_back(tmp):
    path = str(tmp / "mbox")
    for i, (label, sender, lines) in enumerate(MESSAGES):
        deliver("mbox", path, sender, f"rcpt{i}@example.com", lines,
                "-d", "-t", str(WHEN + i), "-p", "4096")
    raw = open(path, "rb").read()
    # The only lines that start with "From " are the From_ lines, each
    # after an empty line (or at the start of the file).
    froms = [m.start() for m in re.finditer(rb"(?m)^From ", raw)]
    assert len(froms) == len(MESSAGES)
    assert all(p == 0 or raw[p - 2:p] == b"\n\n" for p in froms)
    assert raw.endswith(b"\n\n")

    box = mailbox.mbox(path, create=False)
    keys = box.keys()
    assert len(keys) == len(MESSAGES)
    for i, key in enumerate(keys):
        label, sender, lines = MESSAGES[i]
        msg = box[key]
        assert msg.get_from() == from_line(sender, WHEN + i), label
        assert msg["Return-Path"] == f"<{sender}>", label
        assert msg["Delivered-To"] == f"rcpt{i}@example.com", label
        got = box.get_bytes(key)
        assert mboxrd_unquote(got) == want_bytes(
            sender, f"rcpt{i}@example.com", lines), label
    box.close()


def test_mbox_quoting_on_disk(tmp):
    path = str(tmp / "mbox")
    label, sender, lines = MESSAGES[1]
    deliver("mbox", path, sender, "r@x", lines, "-t", str(WHEN))
    body = open(path, "rb").read().split(b"\n\n", 1)[1]
    assert body == (b">From me\n>>From you\n>>>From x\n From indented\n"
                    b"From\nFromage\nFrom:\n> From x\nlast\n\n")


def test_mbox_after_python_writer(tmp):
    path = str(tmp / "mbox")
    box = mailbox.mbox(path)
    box.add(b"From: py@example.com\nSubject: from python\n\nFrom here\n")
    box.flush()
    box.close()
    deliver("mbox", path, "joe@example.com", "bob@example.com",
            MESSAGES[0][2], "-d")
    box = mailbox.mbox(path, create=False)
    subjects = [box[k]["Subject"] for k in box.keys()]
    assert subjects == ["from python", "simple"]
    assert mboxrd_unquote(box.get_bytes(box.keys()[1])) == want_bytes(
        "joe@example.com", "bob@example.com", MESSAGES[0][2])
    box.close()


def test_mbox_concurrent_writers(tmp):
    path = str(tmp / "mbox")
    n = 12
    body = [b"x" * 200] * 500           # 100 KB: several writes each
    procs = []
    # Input from files: a writer waiting for the lock must not hold up
    # the input of the one that has it.
    for i in range(n):
        lines = [f"Subject: concurrent {i}".encode(), b""] + body
        src = tmp / f"in{i}"
        src.write_bytes(b"".join(line + b"\n" for line in lines))
        with open(src, "rb") as f:
            procs.append(subprocess.Popen(
                [writer(), "-d", "mbox", path, f"s{i}@example.com",
                 "r@example.com"], stdin=f, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    box = mailbox.mbox(path, create=False)
    seen = set()
    for key in box.keys():
        msg = box[key]
        i = int(msg["Subject"].split()[-1])
        seen.add(i)
        assert msg["Return-Path"] == f"<s{i}@example.com>"
        assert msg.get_payload() == "\n".join(["x" * 200] * 500) + "\n"
    assert seen == set(range(n))
    box.close()
    # No lock or temporary file is left.
    assert sorted(os.listdir(tmp)) == sorted(
        ["mbox"] + [f"in{i}" for i in range(n)])


def test_mbox_size_limit(tmp):
    path = str(tmp / "mbox")
    deliver("mbox", path, "a@example.com", "b@example.com",
            MESSAGES[0][2])
    before = open(path, "rb").read()
    r = deliver("mbox", path, "a@example.com", "b@example.com",
                MESSAGES[5][2], "-l", "50000", check=False)
    assert r.returncode == EX_UNAVAILABLE
    assert b"5.2.2 mailbox full" in r.stderr
    assert open(path, "rb").read() == before
    assert len(mailbox.mbox(path, create=False).keys()) == 1


@pytest.mark.skipif(shutil.which("s-nail") is None,
                    reason="s-nail is not installed")
def test_mbox_snail_lists(tmp):
    path = str(tmp / "mbox")
    for i, (label, sender, lines) in enumerate(MESSAGES):
        deliver("mbox", path, sender, "r@example.com", lines, "-d")
    env = dict(os.environ, HOME=str(tmp), MAILRC="/dev/null", LANG="C")
    r = subprocess.run(["s-nail", "-n", "-N", "-R", "-H", "-f", path],
                       capture_output=True, env=env, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode(errors="replace").splitlines()
    assert len(out) == len(MESSAGES)
    for line, (label, sender, lines) in zip(out, MESSAGES):
        subject = lines[0].decode().split(": ", 1)[1]
        assert subject in line, (label, line)


def test_maildir_read_back(tmp):
    path = str(tmp / "Maildir")
    names = []
    for i, (label, sender, lines) in enumerate(MESSAGES):
        r = deliver("maildir", path + "/", sender, f"rcpt{i}@example.com",
                    lines, "-p", "1000")
        names.append(r.stdout.decode().strip())
    assert sorted(os.listdir(path)) == ["cur", "new", "tmp"]
    assert os.listdir(os.path.join(path, "tmp")) == []
    assert len(os.listdir(os.path.join(path, "new"))) == len(MESSAGES)
    for sub in ("cur", "new", "tmp"):
        assert os.stat(os.path.join(path, sub)).st_mode & 0o777 == 0o700

    box = mailbox.Maildir(path, factory=None, create=False)
    by_name = {os.path.basename(n): n for n in names}
    assert sorted(box.keys()) == sorted(by_name)
    for i, name in enumerate(names):
        label, sender, lines = MESSAGES[i]
        key = os.path.basename(name)
        assert re.fullmatch(r"\d+\.M\d{1,6}P\d+Q\d+\.\S+", key), key
        msg = box[key]
        assert msg.get_subdir() == "new", label
        assert msg["Delivered-To"] == f"rcpt{i}@example.com", label
        # No From_ line, no quoting: the bytes are the message.
        assert box.get_bytes(key) == want_bytes(
            sender, f"rcpt{i}@example.com", lines), label
    # A reader moves a message to cur/ as usual.
    key = os.path.basename(names[0])
    msg = box[key]
    msg.set_subdir("cur")
    msg.add_flag("S")
    box[key] = msg
    box.close()
    assert len(os.listdir(os.path.join(path, "cur"))) == 1


def test_maildir_concurrent_writers(tmp):
    path = str(tmp / "Maildir")
    n = 20
    procs = [subprocess.Popen([writer(), "maildir", path, f"s{i}@x", "r@x"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
             for i in range(n)]
    outs = [p.communicate(f"Subject: {i}\n\nbody {i}\n".encode(),
                          timeout=60) for i, p in enumerate(procs)]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    box = mailbox.Maildir(path, factory=None, create=False)
    subjects = sorted(int(box[k]["Subject"]) for k in box.keys())
    assert subjects == list(range(n))
    assert os.listdir(os.path.join(path, "tmp")) == []


def test_maildir_size_limit(tmp):
    path = str(tmp / "Maildir")
    r = deliver("maildir", path, "a@x", "b@x", MESSAGES[5][2],
                "-l", "50000", check=False)
    assert r.returncode == EX_UNAVAILABLE
    assert b"5.2.2 mailbox full" in r.stderr
    assert os.listdir(os.path.join(path, "tmp")) == []
    assert os.listdir(os.path.join(path, "new")) == []
