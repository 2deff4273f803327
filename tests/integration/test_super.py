"""
test_super.py - petrel super (postsuper): delete, hold, release, requeue
and the structure check, on queue files planted with qfile_writer

Queue files are written by tests/integration/qfile_writer.py and named
as cleanup names them (the ID embeds the file's inode, so -s leaves them
alone), in the hashed layout mail_queue_path() uses (deferred and defer
one level deep by default). When the suite runs as root the queue
belongs to mail_owner (petrel), as `petrel check` makes it, and so do
the planted files; petrel super then works as mail_owner. Covered: -d
-h -H -r by ID, ALL (all default queues, or the named ones) and "-"
(IDs on standard input), the log lines and printed counts, per-message
logs removed with their message, -r producing a maildrop file that
`petrel cat` reads with only the undelivered recipients, -s moving
misplaced hashed files, renaming files whose ID does not match their
inode, removing stale temporary and incomplete files, quarantining a
corrupt file; invalid IDs, unknown queues, refusal for an unrelated
user, and the same operations with master running.
"""

import os
import pwd
import re
import subprocess
import time

import pytest

import harness
import qfile_writer as qw

EX_USAGE = 64
EX_NOPERM = 77
ARRIVAL = (1700000000, 250000)
DAY = 24 * 60 * 60

MESSAGE = (b"Subject: hello\n"
           b"From: joe@example.com\n"
           b"\n"
           b"body line\n"
           + b"x" * 10000 + b"\n"
           b"last\n")

# Every queue directory, with the modes `petrel check` gives them.
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt",
          "bounce", "defer", "trace", "saved")


def owner_ids():
    """(uid, gid) the queue belongs to: mail_owner as root, else us."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        pw = pwd.getpwnam("petrel")
    except KeyError:
        pytest.fail("no user 'petrel': run scripts/bootstrap as root")
    return pw.pw_uid, pw.pw_gid


class Queue:
    """The instance's queue directory with helpers to plant files."""

    def __init__(self, instance):
        self.inst = instance
        self.root = instance.queue
        self.uid, self.gid = owner_ids()
        self.usec = 100000
        for name in QUEUES:
            self.mkdir(name, harness.QUEUE_DIR_MODES[name])

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def mkdir(self, rel, mode=0o700):
        path = self.path(rel)
        if not os.path.isdir(path):
            os.mkdir(path)
        os.chmod(path, mode)
        os.chown(path, self.uid, self.gid)

    def hashed(self, queue):
        return queue in ("deferred", "defer")

    def plant(self, queue, data, depth=None, mode=0o700, good_inode=True,
              sec=ARRIVAL[0], qid=None):
        """Write data as a queue file of queue; returns (qid, relative
        path). depth: hash levels (default: the queue's current layout);
        good_inode=False gives it an ID naming another inode."""
        tmp = self.path(queue, "planting")
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self.uid, self.gid)
        os.chmod(tmp, mode)
        if qid is None:
            self.usec += 7
            ino = os.stat(tmp).st_ino
            qid = qw.make_queue_id(sec, self.usec,
                                   ino if good_inode else ino + 1000)
        if depth is None:
            depth = 1 if self.hashed(queue) else 0
        sub = queue
        for part in qw.queue_hash(qid, depth).split("/")[:-1]:
            sub = os.path.join(sub, part)
            self.mkdir(sub)
        rel = os.path.join(sub, qid)
        os.rename(tmp, self.path(rel))
        return qid, rel

    def where(self, qid):
        """Relative paths of every file named qid under the queue."""
        out = []
        for dirpath, _, files in os.walk(self.root):
            if qid in files:
                out.append(os.path.relpath(os.path.join(dirpath, qid),
                                           self.root))
        return sorted(out)

    def files(self, queue):
        """Names of the queue files in queue (any depth)."""
        out = []
        for _, _, files in os.walk(self.path(queue)):
            out += [f for f in files if not f.startswith(".")]
        return sorted(out)


def sample(**kw):
    args = dict(sender="joe@example.com",
                recipients=["bob@example.com"],
                message=MESSAGE,
                attrs=[("log_ident", "test"), ("rewrite_context", "local")],
                arrival=ARRIVAL)
    args.update(kw)
    return qw.build_queue_file(**args)


@pytest.fixture
def queue(instance):
    return Queue(instance)


def ok(r):
    assert r.returncode == 0, \
        f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def super_(inst, *args, stdin=None):
    """petrel super args...; stdin: text for standard input."""
    if stdin is None:
        return inst.petrel("super", *args)
    return subprocess.run([os.path.join(inst.src, "petrel"), "-c",
                           inst.etc, "super"] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60,
                          env=inst.env())


def logged(inst, text):
    """Lines of the maillog that end with text (after 'petrel/super[pid]: ',
    as Postfix's postfix/postsuper)."""
    return [ln for ln in inst.log().splitlines()
            if re.search(r" petrel/super\[\d+\]: " + re.escape(text) + "$",
                         ln)]


# ---- -d ------------------------------------------------------------------

def test_delete_by_id_with_logs(instance, queue):
    a, _ = queue.plant("incoming", sample())
    b, b_rel = queue.plant("deferred", sample())
    c, _ = queue.plant("hold", sample())
    # Per-message logs of b: defer/ is hashed, bounce/ and trace/ not.
    queue.plant("defer", b"log", qid=b)
    queue.plant("bounce", b"log", qid=b)
    queue.plant("trace", b"log", qid=b)
    queue.plant("defer", b"log", qid=c)
    assert b_rel.startswith("deferred/") and b_rel.count("/") == 2

    r = ok(super_(instance, "-d", a, "-d", b))
    assert "petrel: Deleted: 2 messages" in r.stderr.splitlines()
    assert queue.where(a) == [] and queue.where(b) == []
    assert queue.where(c) == sorted(["hold/" + c,
                                     "defer/" + qw.queue_hash(c, 1) + c])
    assert len(logged(instance, f"{a}: removed")) == 1
    assert len(logged(instance, f"{b}: removed")) == 1
    assert logged(instance, "Deleted: 2 messages")

    # A message that is not there: nothing happens.
    r = ok(super_(instance, "-d", a))
    assert "petrel: Deleted: 0 messages" in r.stderr


def test_delete_one_message(instance, queue):
    a, _ = queue.plant("active", sample())
    r = ok(super_(instance, "-d", a))
    assert "petrel: Deleted: 1 message" in r.stderr.splitlines()


def test_delete_all(instance, queue):
    ids = {q: [queue.plant(q, sample())[0] for _ in range(2)]
           for q in ("incoming", "active", "deferred", "hold")}
    drop, _ = queue.plant("maildrop", sample(maildrop=True, arrival=None),
                          mode=0o744)
    bad, _ = queue.plant("corrupt", b"junk")

    # Named queue only.
    r = ok(super_(instance, "-d", "ALL", "deferred"))
    assert "petrel: Deleted: 2 messages" in r.stderr
    assert queue.files("deferred") == []
    assert queue.files("hold") == sorted(ids["hold"])

    # The default queues: hold incoming active deferred, not maildrop.
    r = ok(super_(instance, "-d", "ALL"))
    assert "petrel: Deleted: 6 messages" in r.stderr
    for q in ("incoming", "active", "hold"):
        assert queue.files(q) == []
    assert queue.files("maildrop") == [drop]
    assert queue.files("corrupt") == [bad]

    # maildrop and corrupt when named; "all" in lower case is no ID.
    r = ok(super_(instance, "-d", "all", "maildrop", "corrupt"))
    assert 'warning: invalid queue ID: "all"' in r.stderr
    r = ok(super_(instance, "-d", "ALL", "maildrop", "corrupt"))
    assert "petrel: Deleted: 2 messages" in r.stderr
    assert queue.files("maildrop") == [] and queue.files("corrupt") == []


def test_delete_skips_incomplete_files(instance, queue):
    done, _ = queue.plant("incoming", sample())
    writing, _ = queue.plant("incoming", sample(), mode=0o600)
    r = ok(super_(instance, "-d", "ALL"))
    assert "petrel: Deleted: 1 message" in r.stderr
    assert queue.files("incoming") == [writing]
    r = ok(super_(instance, "-d", writing))
    assert "petrel: Deleted: 0 messages" in r.stderr


def test_ids_from_stdin(instance, queue):
    a, _ = queue.plant("incoming", sample())
    b, _ = queue.plant("deferred", sample())
    c, _ = queue.plant("hold", sample())
    # mailq marks held (!) and active (*) messages; blanks are ignored.
    text = f"{a}\n  {b}*  \n\n{c}!\nnot-an-id\n"
    r = ok(super_(instance, "-d", "-", stdin=text))
    assert "petrel: Deleted: 3 messages" in r.stderr
    assert 'petrel: warning: invalid queue ID: "not-an-id"' in r.stderr
    for qid in (a, b, c):
        assert queue.where(qid) == []
        assert logged(instance, f"{qid}: removed")


# ---- -h -H -------------------------------------------------------------

def test_hold_and_release(instance, queue):
    a, _ = queue.plant("deferred", sample())
    b, _ = queue.plant("incoming", sample())
    c, _ = queue.plant("active", sample())
    old = time.time() - 3 * DAY
    os.utime(queue.path("deferred", qw.queue_hash(a, 1) + a), (old, old))

    r = ok(super_(instance, "-h", a))
    assert "petrel: Placed on hold: 1 message" in r.stderr
    assert queue.where(a) == ["hold/" + a]
    assert logged(instance, f"{a}: placed on hold")

    r = ok(super_(instance, "-h", "ALL"))
    assert "petrel: Placed on hold: 2 messages" in r.stderr
    assert queue.files("hold") == sorted([a, b, c])

    # Release one by ID from stdin, then the rest; deferred is hashed and
    # a released file is due at once (its time is now).
    r = ok(super_(instance, "-H", "-", stdin=a + "\n"))
    assert "petrel: Released from hold: 1 message" in r.stderr
    path = "deferred/" + qw.queue_hash(a, 1) + a
    assert queue.where(a) == [path]
    assert abs(os.stat(queue.path(path)).st_mtime - time.time()) < 60
    assert logged(instance, f"{a}: released from hold")

    r = ok(super_(instance, "-H", "ALL"))
    assert "petrel: Released from hold: 2 messages" in r.stderr
    assert queue.files("hold") == []
    assert queue.files("deferred") == sorted([a, b, c])

    # -H only takes from hold; -h only from incoming active deferred.
    r = ok(super_(instance, "-H", a))
    assert "petrel: Released from hold: 0 messages" in r.stderr
    r = ok(super_(instance, "-h", "ALL", "hold", "incoming"))
    assert "petrel: Placed on hold: 0 messages" in r.stderr


def test_operations_in_order(instance, queue):
    a, _ = queue.plant("deferred", sample())
    b, _ = queue.plant("deferred", sample())
    # -d runs before -h: a is gone, b is held.
    r = ok(super_(instance, "-h", a, "-h", b, "-d", a))
    lines = r.stderr.splitlines()
    assert lines.index("petrel: Deleted: 1 message") < \
        lines.index("petrel: Placed on hold: 1 message")
    assert queue.where(a) == [] and queue.where(b) == ["hold/" + b]


# ---- -r ----------------------------------------------------------------

def requeue_sample():
    return sample(
        recipients=[qw.Rcpt("bob@example.com", orcpt="rfc822;bob@x.org",
                            notify="10"),
                    qw.Rcpt("ann@example.com", done=True,
                            orcpt="rfc822;ann@x.org"),
                    qw.Rcpt("carl@example.com")],
        attrs=[("log_ident", "test"), ("rewrite_context", "local"),
               ("envelope_id", "env-1"), ("full_name", "Joe Sender"),
               ("submit_uid", "1000")],
        extracted=[(qw.RRTO, "r@example.com")],
        line_limit=100)


def test_requeue(instance, queue):
    qid, rel = queue.plant("deferred", requeue_sample())
    queue.plant("defer", b"log", qid=qid)

    r = ok(super_(instance, "-r", qid))
    assert "petrel: Requeued: 1 message" in r.stderr
    assert logged(instance, f"{qid}: requeued")
    assert queue.where(qid) == []            # message and log
    drops = queue.files("maildrop")
    assert len(drops) == 1
    new = queue.path("maildrop", drops[0])
    st = os.stat(new)
    assert st.st_mode & 0o7777 == 0o744      # complete, as postdrop
    assert (st.st_uid, st.st_gid) == (queue.uid, queue.gid)
    assert st.st_mtime == pytest.approx(ARRIVAL[0] + ARRIVAL[1] / 1e6)

    # petrel cat reads it as a maildrop file: no size or time record,
    # only the attributes of a submission, only undelivered recipients.
    r = ok(instance.petrel("cat", new))
    want_env = ["named_attribute: envelope_id=env-1",
                "named_attribute: full_name=Joe Sender",
                "sender: joe@example.com",
                "original_recipient: rfc822;bob@x.org",
                "dsn_notify_flags: 10",
                "recipient: bob@example.com",
                "recipient: carl@example.com"]
    lines = r.stdout.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS {new} ***"
    assert lines[1:8] == want_env
    assert lines[8] == f"*** MESSAGE CONTENTS {new} ***"
    content = "\n".join(lines[9:-2]) + "\n"
    assert content.encode() == MESSAGE
    assert lines[-2:] == [f"*** HEADER EXTRACTED {new} ***",
                          f"*** MESSAGE FILE END {new} ***"]
    # The same, with -q: the ID is found in maildrop.
    r = ok(instance.petrel("cat", "-q", "-h", drops[0]))
    assert r.stdout == "Subject: hello\nFrom: joe@example.com\n"

    # The records are what pickup accepts: a submission, no SIZE/TIME.
    with open(new, "rb") as f:
        types = b"".join(rec.type for rec in qw.parse_records(f.read()))
    assert types.startswith(qw.ATTR + qw.ATTR + qw.FROM)
    assert qw.SIZE not in types and qw.TIME not in types
    assert qw.DONE not in types and types.endswith(qw.XTRA + qw.END)


def test_requeue_all_and_stdin(instance, queue):
    a, _ = queue.plant("hold", sample())
    b, _ = queue.plant("incoming", sample())
    c, _ = queue.plant("active", sample())
    r = ok(super_(instance, "-r", "-", stdin=a + "\n"))
    assert "petrel: Requeued: 1 message" in r.stderr
    r = ok(super_(instance, "-r", "ALL", "incoming"))
    assert "petrel: Requeued: 1 message" in r.stderr
    assert queue.where(c) == ["active/" + c]
    r = ok(super_(instance, "-r", "ALL"))
    assert "petrel: Requeued: 1 message" in r.stderr
    assert len(queue.files("maildrop")) == 3
    for qid in (a, b, c):
        assert queue.where(qid) == []
        assert logged(instance, f"{qid}: requeued")
    for name in queue.files("maildrop"):
        ok(instance.petrel("cat", queue.path("maildrop", name)))


def test_requeue_refusals(instance, queue):
    # Nothing left to deliver: the file stays.
    done, _ = queue.plant("deferred", sample(
        recipients=[qw.Rcpt("bob@example.com", done=True)]))
    # A corrupt file goes to corrupt/ instead.
    bad, _ = queue.plant("deferred", sample()[:-2])
    r = ok(super_(instance, "-r", done, "-r", bad))
    assert f"warning: {done}: no recipient left to deliver; not requeued" \
        in r.stderr
    assert re.search(f"warning: {bad}: corrupt queue file: .*, moved to "
                     "corrupt/", r.stderr)
    assert "petrel: Requeued: 0 messages" in r.stderr
    assert queue.where(done) == ["deferred/" + qw.queue_hash(done, 1)
                                 + done]
    assert queue.where(bad) == ["corrupt/" + bad]
    assert queue.files("maildrop") == []


PICKUP_RE = (r"petrel/pickup\[\d+\]: (?P<qid>\S+): uid=\d+ "
             r"from=<joe@example.com>$")


def test_requeue_through_pickup(instance, queue):
    """pickup and cleanup take the requeued file: a new message in
    incoming/ with the undelivered recipients and the old arrival time."""
    instance.set_main(myhostname="mail.example.com", mydomain="example.com",
                      myorigin="example.com")
    instance.add_service("pickup", "fifo", "pickup", wakeup=60, maxproc=1)
    instance.add_service("cleanup", "unix", "cleanup", maxproc=0)
    instance.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    instance.start()
    qid, _ = queue.plant("deferred", requeue_sample())
    ok(super_(instance, "-r", qid))
    # petrel super leaves the wake-up to pickup's timer; do not wait.
    with open(queue.path("public", "pickup"), "wb", buffering=0) as f:
        f.write(b"W")
    m = instance.wait_log(PICKUP_RE, timeout=20)
    assert m, instance.log()
    new = m[0].group("qid")
    assert harness.wait_for(lambda: queue.files("maildrop") == [], 10)
    r = ok(instance.petrel("cat", "-q", "-e", new))
    lines = r.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("recipient: ")] == \
        ["recipient: bob@example.com", "recipient: carl@example.com"]
    assert "original_recipient: rfc822;bob@x.org" in lines
    assert "named_attribute: envelope_id=env-1" in lines
    assert "message_arrival_time: " + time.strftime(
        "%a %b %e %H:%M:%S %Y", time.localtime(ARRIVAL[0])) in lines
    assert queue.where(new) == ["incoming/" + new]


# ---- -s ----------------------------------------------------------------

STRUCT_RE = (r"petrel: Structure check: (\d+) misplaced files? moved, "
             r"(\d+) files? renamed, (\d+) temporary and (\d+) incomplete "
             r"files? removed, (\d+) corrupt files? moved to corrupt/")


def structure(r):
    m = re.search(STRUCT_RE, r.stderr)
    assert m, r.stderr
    return tuple(int(x) for x in m.groups())


def test_structure_is_the_default(instance, queue):
    a, _ = queue.plant("deferred", sample())
    r = ok(super_(instance))
    assert structure(r) == (0, 0, 0, 0, 0)
    assert queue.where(a) == ["deferred/" + qw.queue_hash(a, 1) + a]


def test_structure_moves_misplaced_files(instance, queue):
    flat, _ = queue.plant("deferred", sample(), depth=0)
    deep, _ = queue.plant("deferred", sample(), depth=2)
    held, held_rel = queue.plant("hold", sample(), depth=1)
    log, _ = queue.plant("defer", b"log", depth=0)
    r = ok(super_(instance, "-s"))
    assert structure(r) == (4, 0, 0, 0, 0)
    for qid, q in ((flat, "deferred"), (deep, "deferred"), (log, "defer")):
        assert queue.where(qid) == [f"{q}/" + qw.queue_hash(qid, 1) + qid]
    assert queue.where(held) == ["hold/" + held]
    # Hash directories that the layout no longer uses are gone.
    assert not os.path.exists(queue.path(os.path.dirname(held_rel)))
    assert not os.path.exists(queue.path(
        "deferred", qw.queue_hash(deep, 2)))
    assert logged(instance, f"{flat}: moved misplaced file deferred/{flat}"
                  f" to deferred/{qw.queue_hash(flat, 1)}{flat}")

    # A deeper layout: everything moves down one more level, and the
    # other operations find files where they are meanwhile.
    instance.set_main(hash_queue_depth="2", hash_queue_names="deferred")
    r = ok(super_(instance, "-d", log, "defer"))
    assert "petrel: Deleted: 0 messages" in r.stderr   # defer: log dir
    r = ok(super_(instance, "-h", flat))
    assert "petrel: Placed on hold: 1 message" in r.stderr
    r = ok(super_(instance, "-s"))
    assert structure(r)[0] == 2                    # deep, log
    assert queue.where(deep) == ["deferred/" + qw.queue_hash(deep, 2)
                                 + deep]
    assert queue.where(log) == ["defer/" + log]


def test_structure_removes_debris(instance, queue):
    old = time.time() - 2 * DAY
    for q in ("incoming", "maildrop"):
        for name, age in ((".tmp.1.old", old), (".tmp.2.new", None)):
            path = queue.path(q, name)
            with open(path, "wb") as f:
                f.write(b"partial")
            os.chown(path, queue.uid, queue.gid)
            if age:
                os.utime(path, (age, age))
    stale, stale_rel = queue.plant("incoming", sample()[:20], mode=0o600)
    os.utime(queue.path(stale_rel), (old, old))
    fresh, _ = queue.plant("incoming", sample()[:20], mode=0o600)
    os.mkfifo(queue.path("maildrop", "planted-fifo"))
    other = queue.path("hold", "README")
    with open(other, "w") as f:
        f.write("not a queue file")

    r = ok(super_(instance, "-s"))
    assert structure(r) == (0, 0, 2, 1, 0)
    for q in ("incoming", "maildrop"):
        assert sorted(n for n in os.listdir(queue.path(q))
                      if n.startswith(".tmp.")) == [".tmp.2.new"]
    assert queue.files("incoming") == [fresh]
    assert logged(instance, f"{stale}: incomplete queue file, removed")
    assert logged(instance, "removed stale temporary file incoming/"
                  ".tmp.1.old")
    assert "warning: maildrop/planted-fifo: unexpected fifo, removed" \
        in r.stderr
    assert not os.path.exists(queue.path("maildrop", "planted-fifo"))
    assert "warning: hold/README: unexpected file, left alone" in r.stderr
    assert os.path.exists(other)


def test_structure_quarantines_corrupt_files(instance, queue):
    good, _ = queue.plant("deferred", sample())
    bad, _ = queue.plant("deferred", sample(
        size_override=(None, None, 5, None)))
    trunc, _ = queue.plant("active", sample()[:-2])
    dgood, _ = queue.plant("maildrop", sample(maildrop=True, arrival=None),
                           mode=0o744)
    dbad, _ = queue.plant("maildrop", sample(), mode=0o744)  # has SIZE
    r = ok(super_(instance, "-s"))
    assert structure(r) == (0, 0, 0, 0, 3)
    assert queue.files("corrupt") == sorted([bad, trunc, dbad])
    assert queue.files("deferred") == [good]
    assert queue.files("maildrop") == [dgood]
    for qid in (bad, trunc, dbad):
        lines = [ln for ln in instance.log().splitlines()
                 if f"warning: {qid}: corrupt queue file: " in ln]
        assert len(lines) == 1 and lines[0].endswith(", moved to corrupt/")
    assert "recipient" in [ln for ln in instance.log().splitlines()
                           if bad in ln][0]


def test_structure_renames_wrong_inode(instance, queue):
    qid, rel = queue.plant("deferred", sample(), good_inode=False)
    usec = queue.usec
    queue.plant("defer", b"log", qid=qid)
    want = qw.make_queue_id(ARRIVAL[0], usec, os.stat(queue.path(rel)).st_ino)
    r = ok(super_(instance, "-s"))
    assert structure(r) == (0, 1, 0, 0, 0)
    assert queue.where(qid) == []
    assert queue.where(want) == sorted([
        "defer/" + qw.queue_hash(want, 1) + want,
        "deferred/" + qw.queue_hash(want, 1) + want])
    assert logged(instance, f"{qid}: does not match the file's inode, "
                  f"renamed to {want}")


# ---- usage, permissions, a running system --------------------------------

def test_bad_arguments(instance, queue):
    r = ok(super_(instance, "-d", "../../etc/passwd", "-h", "x/y"))
    assert 'petrel: warning: invalid queue ID: "../../etc/passwd"' \
        in r.stderr
    assert 'petrel: warning: invalid queue ID: "x/y"' in r.stderr
    r = super_(instance, "-d", "ALL", "nosuchqueue")
    assert r.returncode == EX_USAGE
    assert 'petrel: fatal: super: unknown queue "nosuchqueue"' in r.stderr
    r = super_(instance, "-x")
    assert r.returncode == EX_USAGE
    assert "unknown option -x" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="running as another user needs root "
                    "(run the suite as root)")
def test_refused_for_unrelated_user(instance, queue):
    a, _ = queue.plant("hold", sample())
    argv = [os.path.join(instance.src, "petrel"), "-c", instance.etc,
            "super", "-d", "ALL"]
    r = instance.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                      "--clear-groups"] + argv)
    assert r.returncode == EX_NOPERM, r.stderr
    assert "petrel: fatal: super: must run as root or as mail_owner" \
        in r.stderr
    assert queue.files("hold") == [a]
    # mail_owner may.
    r = ok(instance.run(["setpriv", f"--reuid={queue.uid}",
                         f"--regid={queue.gid}", "--clear-groups"] + argv))
    assert "petrel: Deleted: 1 message" in r.stderr


def test_with_master_running(instance, queue):
    a, _ = queue.plant("deferred", sample())
    b, _ = queue.plant("deferred", sample())
    instance.start()
    r = ok(super_(instance, "-h", a, "-d", b))
    assert "petrel: Deleted: 1 message" in r.stderr
    assert "petrel: Placed on hold: 1 message" in r.stderr
    assert queue.where(a) == ["hold/" + a]
    r = ok(super_(instance, "-s"))
    assert structure(r) == (0, 0, 0, 0, 0)
    instance.stop()
    assert instance.wait_no_processes()
