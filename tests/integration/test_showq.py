"""
test_showq.py - the showq daemon and `petrel queue` (postqueue, mailq)

One instance for the module, whose master.cf has Postfix's entry "showq
unix n - n - - showq" and a test-trigger service standing in for qmgr's
fifo (to see what `petrel queue -f` writes). Queue files are written by
tests/integration/qfile_writer.py into the running instance's queue
(maildrop, incoming, active, hashed deferred, hold; the queue is emptied
before each test), owned by mail_owner as cleanup would leave them, and
listed with `petrel queue -p` (checked line by line against the layout
built here: header, status characters, sizes, arrival times, DONE
recipients left out, defer log reasons, the totals line) and `petrel
queue -j` (each line parsed with json.loads). Corrupt and incomplete
files are left out, the former with a warning in the log. Run as root,
`petrel queue -p` is also run as nobody: without setgid_group it cannot
reach public/ (exit 77), with it (what a set-gid command would have) it
lists the queue. Then -f with and without a queue manager, -i, -s and
bad usage.
"""

import json
import os
import shutil
import socket
import time

import pytest

import harness
import qfile_writer as qw
from mailproto import attr_encode

EX_USAGE = 64
EX_UNAVAILABLE = 69
EX_NOPERM = 77

HEADER = ("-Queue ID-        --Size-- ----Arrival Time---- "
          "-Sender/Recipient-------")
RCPT_INDENT = 47
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "defer")
HASHED = ("deferred", "defer")  # hash_queue_names' default, depth 1

MESSAGE = b"Subject: test\n\nbody\n"


@pytest.fixture(scope="module")
def inst():
    inst = harness.Instance()
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


@pytest.fixture
def q(inst):
    """The instance, with an empty queue."""
    for name in QUEUES:
        top = os.path.join(inst.queue, name)
        for entry in os.listdir(top):
            path = os.path.join(top, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    return inst


def mail_owner(inst):
    st = os.stat(os.path.join(inst.queue, "incoming"))
    return st.st_uid, st.st_gid


def place(inst, queue, qid, data, mode=0o700):
    """Write a queue file as its writer would leave it; returns the
    path."""
    uid, gid = mail_owner(inst)
    directory = os.path.join(inst.queue, queue)
    if queue in HASHED:
        directory = os.path.join(directory, qw.queue_hash(qid, 1))
        if not os.path.isdir(directory):
            os.mkdir(directory, 0o700)
            os.chown(directory, uid, gid)
    path = os.path.join(directory, qid)
    qw.write_queue_file(path, data, mode)
    if queue != "maildrop":
        os.chown(path, uid, gid)
    return path


def defer_log(inst, qid, entries):
    """A defer log in Postfix's format: name=value lines, an empty line
    after each entry."""
    text = "".join(f"recipient={rcpt}\noffset={n + 1}\nstatus=4.0.0\n"
                   f"action=delayed\nreason={reason}\n\n"
                   for n, (rcpt, reason) in enumerate(entries))
    place(inst, "defer", qid, text.encode(), mode=0o600)


def content_size(data):
    return int(qw.parse_records(data)[0].data.split()[1])


def when(sec):
    return time.strftime("%a %b %e %H:%M:%S", time.localtime(sec))


def first_line(qid, status, size, sec, sender):
    return f"{qid + status:<17} {size:>8} {when(sec)} {sender}"


def rcpt_line(addr):
    return " " * RCPT_INDENT + addr


def reason_line(reason):
    return f"({reason})".rjust(78)


def totals(total, count):
    return (f"-- {total // 1024} Kbytes in {count} "
            f"Request{'' if count == 1 else 's'}.")


def petrel_queue(inst, *args):
    return inst.petrel("queue", *args)


def ok(r):
    assert r.returncode == 0, \
        f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.stderr == ""
    return r


def blocks(text):
    """The listing split into the header, the message blocks (lists of
    lines) and the totals line."""
    lines = text.split("\n")
    assert lines[0] == HEADER
    assert lines[-1] == ""
    out, cur = [], []
    for line in lines[1:-2]:
        if line == "":
            out.append(cur)
            cur = []
        else:
            cur.append(line)
    assert cur == [], "message block without its empty line"
    return out, lines[-2]


def test_empty_queue(q):
    assert ok(petrel_queue(q, "-p")).stdout == "Mail queue is empty\n"
    assert ok(petrel_queue(q, "-j")).stdout == ""


def test_one_message_exact(q):
    qid = qw.make_queue_id(1700000000, 5, 7)
    data = qw.build_queue_file("joe@example.com", ["bob@example.com"],
                               MESSAGE, arrival=(1700000000, 5))
    place(q, "incoming", qid, data)
    size = content_size(data)
    assert size == len(qw.content_records(MESSAGE)) == 23
    r = ok(petrel_queue(q, "-p"))
    pad = " " * (17 - len(qid) - 1)
    assert r.stdout == (
        "-Queue ID-        --Size-- ----Arrival Time---- "
        "-Sender/Recipient-------\n"
        f"{qid} {pad}       {size} {when(1700000000)} joe@example.com\n"
        "                                               bob@example.com\n"
        "\n"
        "-- 0 Kbytes in 1 Request.\n")


def test_every_queue(q):
    big = b"Subject: big\n\n" + b"".join(b"line %d\n" % i
                                         for i in range(300))
    msgs = {}
    # (queue, status, arrival, sender, recipients)
    specs = [
        ("maildrop", " ", 1700000100, "user@example.com",
         ["maildrop-rcpt@example.com"]),
        ("incoming", " ", 1700000200, "",
         ["in1@example.com", "in2@example.com"]),
        ("active", "*", 1700000300, "act@example.com",
         ["act-rcpt@example.com"]),
        ("deferred", " ", 1700000400, "def@example.com",
         [qw.Rcpt("gone@example.com", done=True), "left@example.com",
          qw.Rcpt("gone2@example.com", done=True)]),
        ("hold", "!", 1700000500, "held@example.com",
         ["held-rcpt@example.com"]),
    ]
    for n, (queue, status, sec, sender, rcpts) in enumerate(specs, 1):
        qid = qw.make_queue_id(sec, 0, n)
        if queue == "maildrop":
            # postdrop's file: no SIZE, no TIME; the file time counts.
            data = qw.build_queue_file(sender, rcpts, big, arrival=None,
                                       maildrop=True)
            path = place(q, queue, qid, data, mode=0o744)
            os.utime(path, (sec, sec))
            size = len(qw.content_records(big))
        else:
            data = qw.build_queue_file(sender, rcpts, big if n == 3
                                       else MESSAGE, arrival=(sec, 0))
            place(q, queue, qid, data)
            size = content_size(data)
        msgs[queue] = (qid, status, size, sec, sender, rcpts)

    # Left out: a corrupt file (warned about), an incomplete one, a name
    # that is not a queue ID.
    bad_id = qw.make_queue_id(1700000600, 0, 99)
    bad = qw.build_queue_file("x@example.com", ["y@example.com"], MESSAGE,
                              size_override=(None, 3, None, None))
    place(q, "active", bad_id, bad)
    place(q, "incoming", qw.make_queue_id(1700000700, 0, 98),
          qw.build_queue_file("x@example.com", ["y@example.com"]),
          mode=0o600)
    place(q, "hold", "not-an-id", bad)
    since = q.log_size()

    r = ok(petrel_queue(q, "-p"))
    got, last = blocks(r.stdout)
    want = []
    total = 0
    for queue in ("maildrop", "incoming", "active", "deferred", "hold"):
        qid, status, size, sec, sender, rcpts = msgs[queue]
        total += size
        block = [first_line(qid, status, size, sec,
                            sender or "MAILER-DAEMON")]
        for rc in rcpts:
            if isinstance(rc, qw.Rcpt):
                if rc.done:
                    continue
                rc = rc.addr
            block.append(rcpt_line(rc))
        want.append(block)
    assert got == want
    assert last == totals(total, 5)
    assert total >= 1024, "the Kbytes figure should not be 0"
    assert q.wait_log(rf"petrel/showq\[\d+\]: warning: active/{bad_id}: "
                      r"skipped: corrupt queue file: ", since=since)

    r = ok(petrel_queue(q, "-j"))
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.stdout.endswith("\n")
    want = []
    for queue in ("maildrop", "incoming", "active", "deferred", "hold"):
        qid, status, size, sec, sender, rcpts = msgs[queue]
        addrs = [rc.addr if isinstance(rc, qw.Rcpt) else rc
                 for rc in rcpts
                 if not (isinstance(rc, qw.Rcpt) and rc.done)]
        want.append({"queue_name": queue, "queue_id": qid,
                     "arrival_time": sec, "message_size": size,
                     "forced_expire": False, "sender": sender,
                     "recipients": [{"address": a} for a in addrs]})
    assert objs == want


def test_delay_reasons(q):
    qid = qw.make_queue_id(1700001000, 1, 11)
    rcpts = ["a@example.com", "b@example.net", "c@example.com",
             "d@example.org", "e@example.com"]
    data = qw.build_queue_file("s@example.com", rcpts, MESSAGE,
                               arrival=(1700001000, 1))
    place(q, "deferred", qid, data)
    refused = "connect to example.com[192.0.2.1]:25: Connection refused"
    long_reason = ("host mx.example.net[192.0.2.2] said: 452 4.2.2 "
                   "mailbox full, try again much later please "
                   "(in reply to RCPT TO command)")
    # The defer writer never stores control characters, so an entry
    # that holds one is forged or damaged: the reader skips it.
    defer_log(q, qid, [("a@example.com", "an older reason"),
                       ("b@example.net", long_reason),
                       ("a@example.com", refused),
                       ("c@example.com", refused),
                       ("e@example.com", "\x1bcontrol")])
    size = content_size(data)
    r = ok(petrel_queue(q, "-p"))
    got, last = blocks(r.stdout)
    # Recipients without a reason first, then one group per reason in
    # the order of first appearance; a reason too long for 78 columns
    # is not padded.
    assert got == [[
        first_line(qid, " ", size, 1700001000, "s@example.com"),
        rcpt_line("d@example.org"),
        rcpt_line("e@example.com"),
        reason_line(refused),
        rcpt_line("a@example.com"),
        rcpt_line("c@example.com"),
        f"({long_reason})",
        rcpt_line("b@example.net"),
    ]]
    assert len(f"({long_reason})") > 78
    assert len(reason_line(refused)) == 78
    assert reason_line(refused).startswith(" " * 20 + "(connect")
    assert last == totals(size, 1)

    obj = json.loads(ok(petrel_queue(q, "-j")).stdout)
    assert obj["recipients"] == [
        {"address": "a@example.com", "delay_reason": refused},
        {"address": "b@example.net", "delay_reason": long_reason},
        {"address": "c@example.com", "delay_reason": refused},
        {"address": "d@example.org"},
        {"address": "e@example.com"},
    ]
    assert q.grep(r"showq\[\d+\]: warning: defer/\S+, line \d+: entry "
                  r"skipped")


def test_reasons_only_where_a_log_exists(q):
    # A defer log beside an incoming message is not read; a deferred
    # message without one has no reasons.
    qid1 = qw.make_queue_id(1700002000, 0, 21)
    qid2 = qw.make_queue_id(1700002001, 0, 22)
    place(q, "incoming", qid1, qw.build_queue_file(
        "s@example.com", ["r@example.com"], MESSAGE))
    place(q, "deferred", qid2, qw.build_queue_file(
        "s@example.com", ["r@example.com"], MESSAGE))
    defer_log(q, qid1, [("r@example.com", "not shown")])
    r = ok(petrel_queue(q, "-p"))
    assert "not shown" not in r.stdout
    assert not any(line.startswith("(") or line.strip().startswith("(")
                   for line in r.stdout.splitlines())
    for line in ok(petrel_queue(q, "-j")).stdout.splitlines():
        assert json.loads(line)["recipients"] == [
            {"address": "r@example.com"}]


def test_escaping(q):
    qid = qw.make_queue_id(1700003000, 0, 31)
    rcpts = ["j\u00f6rg@example.com", "tab\there@example.com",
             "emoji\U0001F600@example.com", 'quote"back\\slash@example.com']
    data = qw.build_queue_file("b\x7fad@example.com", rcpts, MESSAGE)
    # Malformed UTF-8 (a lone continuation byte, a truncated sequence).
    data = data.replace(b"emoji", b"\x80\xe2\x82xy")
    place(q, "incoming", qid, data)
    got, _ = blocks(ok(petrel_queue(q, "-p")).stdout)
    assert got[0][0].endswith(" b?ad@example.com")
    assert got[0][1:] == [rcpt_line("j\u00f6rg@example.com"),
                          rcpt_line("tab?here@example.com"),
                          rcpt_line("???xy\U0001F600@example.com"),
                          rcpt_line('quote"back\\slash@example.com')]

    raw = ok(petrel_queue(q, "-j")).stdout
    assert raw.isascii()
    assert "\\u00f6" in raw and "\\ud83d\\ude00" in raw
    assert "\\u0009" in raw and "\\u007f" in raw
    obj = json.loads(raw)
    assert obj["sender"] == "b\x7fad@example.com"
    assert [x["address"] for x in obj["recipients"]] == [
        "j\u00f6rg@example.com", "tab\there@example.com",
        "\ufffd\ufffd\ufffdxy\U0001F600@example.com",
        'quote"back\\slash@example.com']


def test_long_queue_id(q):
    # The longest ID (13 inode symbols) pushes its line to the right;
    # the fields stay the same.
    qid = qw.make_queue_id(1700004000, 0, 51 ** 12)
    assert len(qid) == 25
    data = qw.build_queue_file("s@example.com", ["r@example.com"], MESSAGE,
                               arrival=(1700004000, 0))
    place(q, "deferred", qid, data)
    got, _ = blocks(ok(petrel_queue(q, "-p")).stdout)
    assert got == [[f"{qid}  {content_size(data):>8} {when(1700004000)} "
                    "s@example.com", rcpt_line("r@example.com")]]
    assert got[0][0].split()[0] == qid


def test_many_messages(q):
    total = 0
    for n in range(1, 201):
        rcpts = [f"r{i}@example.com" for i in range(n % 7 + 1)]
        data = qw.build_queue_file("s@example.com", rcpts,
                                   MESSAGE * (n % 5 + 1))
        place(q, "deferred" if n % 2 else "incoming",
              qw.make_queue_id(1700005000 + n, n, n), data)
        total += content_size(data)
    got, last = blocks(ok(petrel_queue(q, "-p")).stdout)
    assert len(got) == 200
    assert last == totals(total, 200)
    lines = ok(petrel_queue(q, "-j")).stdout.splitlines()
    assert len(lines) == 200
    assert sum(json.loads(x)["message_size"] for x in lines) == total


def ask_showq(inst, message):
    """Send raw bytes to public/showq; everything it answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(os.path.join(inst.queue, "public", "showq"))
        s.sendall(message)
        out = b""
        while True:
            data = s.recv(65536)
            if not data:
                return out
            out += data


def test_protocol(q):
    qid = qw.make_queue_id(1700007000, 0, 71)
    place(q, "incoming", qid, qw.build_queue_file(
        "s@example.com", ["r@example.com"], MESSAGE))
    json_want = ok(petrel_queue(q, "-j")).stdout.encode()
    assert ask_showq(q, attr_encode([("request", "json")])) == json_want
    want = ok(petrel_queue(q, "-p")).stdout.encode()
    assert ask_showq(q, attr_encode([("request", "text")])) == want
    # Bad requests are dropped with a warning and no answer.
    since = q.log_size()
    assert ask_showq(q, attr_encode([("request", "x\x1bml")])) == b""
    assert q.wait_log(r"petrel/showq\[\d+\]: warning: unknown request "
                      r'"x\?ml"', since=since)
    assert ask_showq(q, attr_encode([("request", "text"),
                                     ("extra", "1")])) == b""
    assert ask_showq(q, b"garbage") == b""
    # showq is still there.
    assert ask_showq(q, attr_encode([("request", "json")])) == json_want


def unprivileged(inst, *groups):
    """petrel queue -p as nobody, in these supplementary groups."""
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup"]
    argv += [f"--groups={','.join(groups)}"] if groups \
        else ["--clear-groups"]
    return inst.run(argv + [os.path.join(inst.src, "petrel"), "-c",
                            inst.etc, "queue", "-p"])


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="running as another user needs root")
def test_unprivileged_user(q):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    probe = q.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                   "--clear-groups", "true"])
    if probe.returncode != 0:
        pytest.skip(f"setpriv does not work here: {probe.stderr.strip()}")
    qid = qw.make_queue_id(1700006000, 0, 61)
    place(q, "hold", qid, qw.build_queue_file(
        "s@example.com", ["r@example.com"], MESSAGE))
    # public/ is 0710 mail_owner:setgid_group: a user needs the group,
    # as a set-gid command has it.
    r = unprivileged(q)
    assert r.returncode == EX_NOPERM, r
    assert r.stdout == ""
    assert r.stderr == ("petrel: fatal: cannot reach public/showq: "
                        "Permission denied\n")
    r = unprivileged(q, "petreldrop")
    assert r.returncode == 0, r
    assert r.stdout.startswith(HEADER + "\n" + qid + "!")
    assert r.stdout.endswith("-- 0 Kbytes in 1 Request.\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_chroot(instance):
    # Debian's master.cf chroots showq: paths are relative to the queue
    # directory and the time zone is loaded before the chroot.
    instance.add_service("showq", "unix", "showq", private="n", chroot="y")
    instance.start()
    qid = qw.make_queue_id(1700008000, 0, 81)
    data = qw.build_queue_file("s@example.com", ["r@example.com"], MESSAGE,
                               arrival=(1700008000, 0))
    place(instance, "deferred", qid, data)
    defer_log(instance, qid, [("r@example.com", "try later")])
    got, _ = blocks(ok(instance.petrel("queue", "-p")).stdout)
    assert got == [[first_line(qid, " ", content_size(data), 1700008000,
                               "s@example.com"),
                    reason_line("try later"), rcpt_line("r@example.com")]]


def test_flush_without_qmgr(q):
    r = petrel_queue(q, "-f")
    assert r.returncode == EX_UNAVAILABLE
    assert r.stdout == ""
    assert r.stderr.startswith(
        "petrel: fatal: the queue manager is not running")


def test_flush_pokes_qmgr(instance):
    # A trigger service under qmgr's name logs what it receives.
    instance.add_service("qmgr", "fifo", "test-trigger", maxproc=1)
    instance.start()
    r = instance.petrel("queue", "-f")
    assert r.returncode == 0, r
    assert instance.wait_log(r"trigger: service=qmgr request=F$")


def test_not_running(instance):
    instance.add_service("showq", "unix", "showq", private="n")
    r = instance.petrel("queue", "-p")
    assert r.returncode == EX_UNAVAILABLE
    assert r.stderr.startswith(
        "petrel: fatal: the mail system is not running")


@pytest.mark.parametrize("args,status,text", [
    (["-i", qw.make_queue_id(1700000000, 0, 1)], EX_UNAVAILABLE,
     "the queue manager is not running"),
    (["-i", "../x"], EX_USAGE, "is not a queue ID"),
    (["-s", "example.com"], EX_UNAVAILABLE, "not available yet"),
    ([], EX_USAGE, "specify one of"),
    (["-p", "-j"], EX_USAGE, "specify only one of"),
    (["-p", "extra"], EX_USAGE, "unexpected argument"),
    (["-x"], EX_USAGE, "unknown option -x"),
])
def test_usage(instance, args, status, text):
    r = instance.petrel("queue", *args)
    assert r.returncode == status, r
    assert text in r.stderr
