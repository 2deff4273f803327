"""
test_qmgr.py - the queue manager on a real instance

qmgr is driven as the mail system drives it: queue files appear in
incoming/ (written here with qfile_writer, or submitted with the real
sendmail), public/qmgr is poked, and qmgr hands the recipients to the
delivery agents over private/<transport>. The agents are a fake one: a
small Python single-server (FAKE_AGENT below) that master runs like any
daemon, speaking the deliver_request.h protocol. It reads what to do
from a control file before each request (answer DONE and mark the
recipients done in the queue file as a real agent does, answer RETRY,
hang up, report the file corrupt, wait first, or hold the request until
the test releases it ...), and records every request when it takes it
and before it answers (queue ID, next hop, recipient offsets, start and
end time) so that the tests can check grouping, recipient limits and
concurrency (with requests held, which ones are in flight together).

Routing (main.cf): default_transport=fake (any domain), relay_domains=
crash.test with relay_transport=crashy (a second fake agent, for the
tests that kill a transport), virtual_mailbox_domains=nowhere.test with
virtual_transport=smtp (no such service: "mail transport unavailable").

Covered: delivery with recipients grouped per destination and split by
<transport>_destination_recipient_limit; per-destination concurrency
limited and deliveries to different destinations in parallel; with a
recipient limit of 1 the recipient is the destination; the "(queue
active)" line now logged by qmgr, not cleanup; corrupt files
quarantined while the queue flows; incomplete files left alone; retry
times (mtime) from the message age clamped to [minimal_backoff_time,
maximal_backoff_time]; petrel queue -f and -i ID; an unreachable
transport (defer log, Postfix's log line, mailq reason, the transport
skipped while dead, -i trying it anyway); an agent that dies without
answering; an agent that reports the file corrupt or defers; a
deferred message whose recipients are all done finished without a
delivery; a bounce log that cannot be reported keeps the message; one
resident qmgr process; crash recovery of active/;
qmgr_message_active_limit=1 and qmgr_message_recipient_limit;
maximal_queue_lifetime=0 with and without a bounce service (retried by
the periodic deferred scan); at expiry a recipient whose agent left no
defer/ entry is reported all the same (4.4.7); a bounce service that
never answers (FAKE_BOUNCE) does not stop qmgr, which gives up after
its timeout, defers the message, and waits for the request on a
reload; and end to end with the real local and virtual agents into a
Maildir.
"""

import email
import email.policy
import json
import os
import pwd
import re
import stat
import time

import pytest

import harness
import mailsystem
import qfile_writer as qw
from harness import wait_for
from mailproto import QueueFile

ID = mailsystem.ID
HERE = os.path.dirname(os.path.abspath(__file__))

# The start of the fake services: a master single-server's arguments,
# status pipe (fd 3), listener (fd 4), SIGHUP and -u handling; the body
# defines serve(conn); FAKE_LOOP accepts clients.
FAKE_PROLOGUE = r'''#!/usr/bin/python3
"""A fake Petrel service (see test_qmgr.py): a master single-server."""
import ctypes, json, os, signal, socket, struct, sys, time

args, rest, i, unpriv = sys.argv[1:], [], 0, False
while i < len(args):
    if args[i] in ("-c", "-n", "-t", "-s", "-o"):
        i += 2
    elif args[i] in ("-u", "-r", "-v"):
        unpriv = unpriv or args[i] == "-u"
        i += 1
    else:
        rest.append(args[i])
        i += 1
conf = dict(a.split("=", 1) for a in rest)
sys.path.insert(0, conf["lib"])
import mailproto, qfile_writer

try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
except Exception:
    pass
# petrel reload: like a real single-server, finish the client first.
state = {"busy": False, "hup": False}
def on_hup(*_):
    if not state["busy"]:
        sys.exit(0)
    state["hup"] = True
signal.signal(signal.SIGHUP, on_hup)
if unpriv and os.geteuid() == 0:       # -u: run as mail_owner
    import pwd
    pw = pwd.getpwnam("petrel")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
gen = int(os.environ.get("PETREL_GENERATION", "0"))
ctl, queue = conf["ctl"], conf["queue"]

def notify(status):
    os.write(3, struct.pack("=iIi", os.getpid(), gen, status))

def mode():
    try:
        with open(os.path.join(ctl, "mode")) as f:
            return f.read().strip() or "done"
    except FileNotFoundError:
        return "done"

def read_request(conn):
    data = b""
    while True:
        pairs, used = mailproto.attr_parse(data)
        if pairs is not None:
            return {k: v.decode() for k, v in pairs}
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
'''

FAKE_AGENT_BODY = r'''

def reply(conn, status, results="", reason=""):
    conn.sendall(mailproto.attr_encode([("status", status),
                                        ("results", results),
                                        ("reason", reason)]))

def rcpt_addr(path, offset):
    with open(path, "rb") as f:
        data = f.read()
    for rec in qfile_writer.parse_records(data):
        if rec.offset == offset:
            return rec.data.decode()
    raise ValueError("no record at %d" % offset)

def mark_done(path, offsets):
    fd = os.open(path, os.O_RDWR)
    try:
        for off in offsets:
            if os.pread(fd, 1, off) == b"R":
                os.pwrite(fd, b"D", off)
        os.fsync(fd)
    finally:
        os.close(fd)

def log_entry(kind, qid, addr, offset):
    """A bounce/ or defer/ entry, as deliver_status() writes them."""
    d = os.path.join(queue, kind)
    if kind == "defer":                  # hash_queue_names, depth 1
        d = os.path.join(d, qfile_writer.queue_hash(qid, 1))
        os.makedirs(d, exist_ok=True)
    status, action, reason = (("5.1.1", "failed", "fake bounce")
                              if kind == "bounce" else
                              ("4.0.0", "delayed", "fake agent: try later"))
    with open(os.path.join(d, qid), "a") as f:
        f.write("recipient=%s\noffset=%d\ndsn_orig_rcpt=\ndsn_notify=0\n"
                "status=%s\naction=%s\nreason=%s\n\n"
                % (addr, offset, status, action, reason))

def append_json(name, rec):
    with open(os.path.join(ctl, name), "a") as f:
        f.write(json.dumps(rec) + "\n")

def hold(qid):
    """Wait until the test releases the request: ctl/go/QID exists."""
    gate = os.path.join(ctl, "go", qid)
    give_up = time.time() + 600
    while not os.path.exists(gate) and time.time() < give_up:
        time.sleep(0.02)

def serve(conn):
    start = time.time()
    req = read_request(conn)
    if req is None:
        return
    what = mode()
    offsets = [int(x) for x in req["recipients"].split()]
    path = os.path.join(queue, "active", req["queue_id"])
    append_json("started.log", {"id": req["queue_id"],
                                "nexthop": req["nexthop"],
                                "start": start, "pid": os.getpid()})

    def answer(*args):
        # Logged (and stamped) before the reply: qmgr may go on, and the
        # test look at the log, as soon as it has the reply.
        append_json("requests.log", {
            "id": req["queue_id"], "nexthop": req["nexthop"],
            "rcpts": offsets, "flags": req["flags"],
            "queue_name": req["queue_name"],
            "queue_time": req["queue_time"], "mode": what,
            "start": start, "end": time.time(), "pid": os.getpid()})
        if args:
            reply(conn, *args)

    steps = what.split(":")
    while steps[0] in ("sleep", "hold"):
        if steps[0] == "sleep":
            time.sleep(float(steps[1]))
            steps = steps[2:] or ["done"]
        else:
            hold(req["queue_id"])
            steps = steps[1:] or ["done"]
    action = steps[0]
    if action == "done":
        mark_done(path, offsets)
        answer(0, "D" * len(offsets))
    elif action == "retry":
        for off in offsets:
            log_entry("defer", req["queue_id"], rcpt_addr(path, off), off)
        answer(0, "R" * len(offsets))
    elif action == "retry-nolog":
        # As an agent whose defer/ log write failed: RETRY, no entry.
        answer(0, "R" * len(offsets))
    elif action == "bounce":
        for off in offsets:
            log_entry("bounce", req["queue_id"], rcpt_addr(path, off), off)
        mark_done(path, offsets)
        answer(0, "D" * len(offsets))
    elif action == "defer":
        answer(1, "", "fake agent says later")
    elif action == "corrupt":
        answer(2, "", "fake agent found a bad record")
    elif action == "crash":
        answer()                # logged; the caller hangs up unanswered
'''

FAKE_LOOP = r'''
listener = socket.socket(fileno=4)
listener.setblocking(True)
while True:
    notify(1)
    conn, _ = listener.accept()
    state["busy"] = True
    notify(0)
    try:
        serve(conn)
    finally:
        conn.close()
    state["busy"] = False
    if state["hup"]:
        sys.exit(0)
'''

FAKE_AGENT = FAKE_PROLOGUE + FAKE_AGENT_BODY + FAKE_LOOP

# A fake bounce service (private/bounce, the bounce_clnt.h protocol).
# Mode "hang": read the request and answer nothing until the client
# hangs up; "ok": status 0. Each request is logged when it arrives
# ("start") and when it ends ("answered", just before the answer, or
# "client hung up").
FAKE_BOUNCE = FAKE_PROLOGUE + r'''
def record(req, event):
    rec = {"id": req["queue_id"], "request": req["request"],
           "queue_name": req["queue_name"], "event": event,
           "time": time.time()}
    with open(os.path.join(ctl, "requests.log"), "a") as f:
        f.write(json.dumps(rec) + "\n")

def serve(conn):
    req = read_request(conn)
    if req is None:
        return
    record(req, "start")
    if mode() == "hang":
        while conn.recv(4096):
            pass
        record(req, "client hung up")
    else:
        # Logged first: qmgr may finish the message as soon as it has
        # the answer.
        record(req, "answered")
        conn.sendall(mailproto.attr_encode([("status", 0),
                                            ("reason", "")]))
''' + FAKE_LOOP

MAIN = dict(mailsystem.MAIN)
MAIN.update({
    "default_transport": "fake",
    "relay_domains": "crash.test",
    "relay_transport": "crashy",
    "virtual_mailbox_domains": "nowhere.test",
    "virtual_transport": "smtp",
    "fake_destination_recipient_limit": "2",
    "fake_destination_concurrency_limit": "2",
    "fake_initial_destination_concurrency": "1",
    # One recipient per request: each recipient is its own destination.
    "crashy_destination_recipient_limit": "1",
    "crashy_destination_concurrency_limit": "1",
    "minimal_backoff_time": "100s",
    "maximal_backoff_time": "1000s",
    "queue_run_delay": "1s",
    # qmgr is resident: it outlives this (see test_resident).
    "max_idle": "2s",
})


class Agent:
    """A fake service (a delivery agent unless told otherwise): its
    control file and request log."""

    def __init__(self, inst, name, program="fake-agent", text=FAKE_AGENT):
        self.dir = os.path.join(inst.dir, "agent-" + name)
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o777)
        os.mkdir(os.path.join(self.dir, "go"))
        os.chmod(os.path.join(self.dir, "go"), 0o755)
        script = os.path.join(inst.dir, program)
        if not os.path.exists(script):
            with open(script, "w") as f:
                f.write(text)
            os.chmod(script, 0o755)
        inst.add_service(name, "unix", script, f"ctl={self.dir}",
                         f"queue={inst.queue}", f"lib={HERE}", private="-")

    def mode(self, what):
        with open(os.path.join(self.dir, "mode.tmp"), "w") as f:
            f.write(what)
        os.rename(os.path.join(self.dir, "mode.tmp"),
                  os.path.join(self.dir, "mode"))

    def _log(self, name):
        # Only whole lines: an agent may be writing the last one.
        try:
            with open(os.path.join(self.dir, name)) as f:
                return [json.loads(line) for line in f
                        if line.endswith("\n") and line.strip()]
        except FileNotFoundError:
            return []

    def requests(self, qid=None):
        """The requests answered (or hung up on), in order."""
        return [r for r in self._log("requests.log")
                if qid is None or r["id"] == qid]

    def in_flight(self, qids):
        """The requests for messages qids that an agent took and has not
        answered yet (mode "hold": those not released)."""
        done = {(r["id"], r["pid"], r["start"]) for r in self.requests()}
        return [r for r in self._log("started.log") if r["id"] in qids
                and (r["id"], r["pid"], r["start"]) not in done]

    def release(self, *qids):
        """Let the held requests for these messages go on."""
        for qid in qids:
            with open(os.path.join(self.dir, "go", qid), "w"):
                pass


def new_instance(**params):
    """An instance with the fake agents; bounce=True adds the real bounce
    service, bounce="fake" FAKE_BOUNCE (inst.bounce); qmgr_opts are -o
    settings of the qmgr service."""
    bounce = params.pop("bounce", False)
    qmgr_opts = params.pop("qmgr_opts", None)
    p = dict(MAIN)
    p.update(params)
    inst = harness.Instance(**p)
    mailsystem.add_services(inst, local=False, virtual=False, bounce=False,
                            qmgr=qmgr_opts is None)
    if qmgr_opts is not None:
        inst.add_service("qmgr", "unix", "qmgr", private="n", wakeup=300,
                         maxproc=1, opts=qmgr_opts)
    if bounce == "fake":
        inst.bounce = Agent(inst, "bounce", "fake-bounce", FAKE_BOUNCE)
    elif bounce:
        # Postfix's "bounce unix - - n - 0 bounce": private/bounce.
        inst.add_service("bounce", "unix", "bounce", private="-", maxproc=0)
    inst.fake = Agent(inst, "fake")
    inst.crashy = Agent(inst, "crashy")
    return inst


@pytest.fixture(scope="module")
def inst():
    inst = new_instance()
    inst.start()
    try:
        yield inst
    finally:
        problems = inst.cleanup()
    assert not problems, "\n".join(problems)


# ---- helpers ---------------------------------------------------------------

_inode = [int(time.time()) % 100000 * 100]


def chown_petrel(path):
    if os.geteuid() == 0:
        pw = pwd.getpwnam("petrel")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def plant(inst, rcpts, queue="incoming", sender="s@example.com",
          arrival=None, mode=0o700, data=None, mtime=None):
    """Write a queue file into queue/; returns its queue ID."""
    now = time.time()
    if arrival is None:
        arrival = (int(now), int(now * 1e6) % 1000000)
    _inode[0] += 1
    qid = qw.make_queue_id(arrival[0], arrival[1], _inode[0])
    if data is None:
        data = qw.build_queue_file(sender, rcpts,
                                   b"Subject: test\n\nbody\n",
                                   arrival=arrival)
    d = os.path.join(inst.queue, queue)
    if queue in ("deferred", "defer"):
        d = os.path.join(d, qw.queue_hash(qid, 1).rstrip("/"))
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            chown_petrel(d)
    path = os.path.join(d, qid)
    qw.write_queue_file(path, data, mode)
    chown_petrel(path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return qid


def poke(inst, request):
    """Write request (bytes) to public/qmgr, as cleanup or petrel do."""
    inst.poke("qmgr", "unix", request)


def path_of(inst, queue, qid):
    depth = 1 if queue in ("deferred", "defer") else 0
    return os.path.join(inst.queue, queue, qw.queue_hash(qid, depth), qid)


def in_queue(inst, queue, qid):
    return os.path.exists(path_of(inst, queue, qid))


def wait_removed(inst, qid, timeout=20):
    assert inst.wait_log(rf"petrel/qmgr\[\d+\]: {qid}: removed$",
                         timeout=timeout), f"{qid} not removed\n{inst.log()}"
    for queue in ("incoming", "active", "deferred"):
        assert not in_queue(inst, queue, qid), queue


def wait_deferred(inst, qid, timeout=20):
    assert wait_for(lambda: in_queue(inst, "deferred", qid)
                    and not in_queue(inst, "active", qid), timeout), \
        f"{qid} not deferred\n{inst.log()}"


def defer_log(inst, qid):
    """The entries of defer/ID as dicts."""
    with open(path_of(inst, "defer", qid)) as f:
        text = f.read()
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            out.append(dict(line.split("=", 1)
                            for line in block.strip().split("\n")))
    return out


def rcpt_offsets(data):
    return [r.offset for r in qw.parse_records(data) if r.type == qw.RCPT]


def overlap(recs):
    """The most requests of recs in flight at one moment."""
    events = sorted([(r["start"], 1) for r in recs]
                    + [(r["end"], -1) for r in recs],
                    key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def purge_deferred(inst):
    """Remove every deferred message (and its defer log) of the shared
    instance, so that a flush in a later test does not retry it."""
    for queue in ("deferred", "defer"):
        for qid in mailsystem.queue_ids(inst, queue):
            os.unlink(path_of(inst, queue, qid))


# ---- delivery and scheduling -----------------------------------------------

def test_delivery_groups_recipients(inst):
    inst.fake.mode("done")
    data = qw.build_queue_file(
        "s@example.com", ["a@example.net", "b@example.net", "c@example.net",
                          "d@example.org"], b"Subject: x\n\nbody\n",
        arrival=(int(time.time()), 0))
    qid = plant(inst, None, data=data)
    poke(inst, b"I")
    wait_removed(inst, qid)
    size = qw.parse_records(data)[0].data.split()[1].decode()
    assert inst.grep(rf"petrel/qmgr\[\d+\]: {qid}: from=<s@example\.com>, "
                     rf"size={size}, nrcpt=4 \(queue active\)$")
    reqs = inst.fake.requests(qid)
    offsets = rcpt_offsets(data)
    got = sorted((r["nexthop"], r["rcpts"]) for r in reqs)
    # fake_destination_recipient_limit=2: example.net takes two requests.
    assert got == sorted([("example.net", offsets[0:2]),
                          ("example.net", offsets[2:3]),
                          ("example.org", offsets[3:4])])
    for r in reqs:
        assert r["queue_name"] == "active" and r["flags"] == "0"
        assert re.fullmatch(r"\d+\.\d{6}", r["queue_time"])
    assert not os.path.exists(path_of(inst, "defer", qid))


def test_submission_logged_by_qmgr(inst):
    inst.fake.mode("done")
    since = inst.log_size()
    qid = mailsystem.sendmail(inst, ["-f", "joe@example.com",
                                     "x@example.net"],
                              b"Subject: hi\n\nthere\n")
    wait_removed(inst, qid)
    lines = inst.grep(rf"petrel/(\w+)\[\d+\]: {qid}: from=<joe@example\.com>"
                      rf", size=\d+, nrcpt=1 \(queue active\)$", since)
    assert [m.group(1) for m in lines] == ["qmgr"]
    assert len(inst.fake.requests(qid)) == 1


def settle():
    """A moment for qmgr to start what it (wrongly) would: before a
    check that nothing more is in flight."""
    time.sleep(harness.slow(0.5))


def test_destination_concurrency(inst):
    # Requests are held until released: what is in flight together is
    # what qmgr started, however slowly the agents run.
    inst.fake.mode("hold:done")
    # Seven messages in incoming/ before qmgr looks: five for one
    # destination, two for another.
    busy = [plant(inst, [f"u{n}@conc.test"]) for n in range(5)]
    other = [plant(inst, [f"v{n}@other.test"]) for n in range(2)]

    def counts():
        return (len(inst.fake.in_flight(busy)),
                len(inst.fake.in_flight(other)))

    try:
        poke(inst, b"I")
        # fake_initial_destination_concurrency=1: one request each, the
        # two destinations in parallel.
        assert wait_for(lambda: min(counts()) >= 1, 20), inst.log()
        settle()
        assert counts() == (1, 1)
        inst.fake.release(*[r["id"] for r in
                            inst.fake.in_flight(busy + other)])
        # Each answer widens the window by one: two for conc.test (its
        # limit), the last one for other.test: three at once.
        assert wait_for(lambda: counts() == (2, 1), 20), \
            (counts(), inst.log())
        # At the limit (fake_destination_concurrency_limit=2) an answer
        # makes room for one more, not two.
        oldest = min(inst.fake.in_flight(busy), key=lambda r: r["start"])
        inst.fake.release(oldest["id"])
        assert wait_for(lambda: oldest not in inst.fake.in_flight(busy)
                        and counts()[0] >= 2, 20), (counts(), inst.log())
        settle()
        assert counts()[0] == 2
    finally:
        inst.fake.mode("done")
        inst.fake.release(*busy, *other)
    for qid in busy + other:
        wait_removed(inst, qid)
    recs = [r for qid in busy for r in inst.fake.requests(qid)]
    assert len(recs) == 5
    assert overlap(recs) == 2
    both = recs + [r for qid in other for r in inst.fake.requests(qid)]
    assert overlap(both) >= 3, "destinations were not served in parallel"


def test_recipient_is_destination_when_limit_is_one(inst):
    """crashy takes one recipient per request (like local), so the
    concurrency limit (1) applies per recipient, not per domain."""
    inst.crashy.mode("hold:done")
    same = [plant(inst, ["same@crash.test"]) for _ in range(3)]
    others = [plant(inst, [f"o{n}@crash.test"]) for n in range(2)]

    def counts():
        return (len(inst.crashy.in_flight(same)),
                len(inst.crashy.in_flight(others)))

    try:
        poke(inst, b"I")
        # Three destinations, one request each.
        assert wait_for(lambda: counts() == (1, 2), 20), \
            (counts(), inst.log())
        settle()
        assert counts() == (1, 2)
        # An answer for same@crash.test makes room for one more of it.
        [first] = inst.crashy.in_flight(same)
        inst.crashy.release(first["id"])
        assert wait_for(lambda: first not in inst.crashy.in_flight(same)
                        and counts()[0] >= 1, 20), (counts(), inst.log())
        settle()
        assert counts() == (1, 2)
    finally:
        inst.crashy.mode("done")
        inst.crashy.release(*same, *others)
    for qid in same + others:
        wait_removed(inst, qid)
    recs = [r for qid in same for r in inst.crashy.requests(qid)]
    assert len(recs) == 3 and overlap(recs) == 1
    both = recs + [r for qid in others for r in inst.crashy.requests(qid)]
    assert overlap(both) >= 3


def test_corrupt_file_quarantined(inst):
    inst.fake.mode("done")
    bad = plant(inst, None, data=b"C\x05junk!" + b"\x00" * 40)
    good = plant(inst, ["ok@example.net"])
    poke(inst, b"I")
    wait_removed(inst, good)
    assert wait_for(lambda: in_queue(inst, "corrupt", bad), 10)
    assert not in_queue(inst, "incoming", bad)
    assert inst.grep(rf"petrel/qmgr\[\d+\]: warning: {bad}: corrupt queue "
                     rf"file incoming/{bad}: .+; moved to corrupt/$")
    assert inst.fake.requests(bad) == []


def test_incomplete_file_left_alone(inst):
    inst.fake.mode("done")
    waiting = plant(inst, ["w@example.net"], mode=0o600)
    poke(inst, b"I")
    # A message queued after it goes through: the scan saw both.
    after = plant(inst, ["after@example.net"])
    poke(inst, b"I")
    wait_removed(inst, after)
    assert in_queue(inst, "incoming", waiting)
    assert not inst.grep(waiting)
    # Once complete it is taken.
    os.chmod(path_of(inst, "incoming", waiting), 0o700)
    poke(inst, b"I")
    wait_removed(inst, waiting)


def test_stale_incomplete_file_removed(inst):
    """An incomplete file nobody wrote for daemon_timeout is the debris
    of a crashed cleanup: removed (its client still has the message)."""
    inst.fake.mode("done")
    stale = plant(inst, ["s@example.net"], mode=0o600)
    path = path_of(inst, "incoming", stale)
    old = time.time() - 18000 - 60          # daemon_timeout is 18000s
    os.utime(path, (old, old))
    poke(inst, b"I")
    assert inst.wait_log(re.escape(stale)
                         + r": removed incomplete queue file$"), inst.log()
    assert not os.path.exists(path)


# ---- retries ---------------------------------------------------------------

def test_backoff_from_message_age(inst):
    inst.fake.mode("retry")
    t0 = time.time()
    now = int(t0)
    fresh = plant(inst, ["r1@example.net"], arrival=(now, 0))
    aged = plant(inst, ["r2@example.net"], arrival=(now - 300, 0))
    # Older than maximal_backoff_time, younger than maximal_queue_lifetime.
    ancient = plant(inst, ["r3@example.net"], arrival=(now - 5000, 0))
    poke(inst, b"I")
    for qid in (fresh, aged, ancient):
        wait_deferred(inst, qid)
    t1 = time.time()
    # Retry time = now + age, at least minimal_backoff_time (100s), at
    # most maximal_backoff_time (1000s). qmgr_message_to_deferred() reads
    # the clock twice, both times between t0 and t1: for the age (a) and
    # for the new mtime (b), whole seconds: floor(b) + the backoff, which
    # is (long)age = floor(a) - arrival for an age in between and a
    # whole-second arrival time.
    lo, hi = int(t0), int(t1)

    def mtime(qid):
        return os.stat(path_of(inst, "deferred", qid)).st_mtime

    assert lo + 100 <= mtime(fresh) <= hi + 100
    arrival = now - 300
    assert lo + lo - arrival <= mtime(aged) <= hi + hi - arrival
    assert lo + 1000 <= mtime(ancient) <= hi + 1000
    # Periodic deferred scans (queue_run_delay=1s) leave them alone.
    since = inst.log_size()
    time.sleep(2.5)
    assert not inst.grep(rf"{fresh}: from=", since)

    # petrel queue -f: all of them now.
    inst.fake.mode("done")
    r = inst.petrel("queue", "-f")
    assert r.returncode == 0, r.stderr
    for qid in (fresh, aged, ancient):
        wait_removed(inst, qid)
        assert len(inst.fake.requests(qid)) == 2


def test_flush_one_message(inst):
    inst.fake.mode("retry")
    one = plant(inst, ["one@example.net"])
    two = plant(inst, ["two@example.net"])
    poke(inst, b"I")
    wait_deferred(inst, one)
    wait_deferred(inst, two)
    inst.fake.mode("done")
    r = inst.petrel("queue", "-i", one)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    wait_removed(inst, one)
    assert in_queue(inst, "deferred", two)
    assert len(inst.fake.requests(two)) == 1

    # A bad ID from the socket is refused; an ID not in deferred/ noted.
    since = inst.log_size()
    poke(inst, b"i../../etc/passwd")
    assert inst.wait_log(r"petrel/qmgr\[\d+\]: warning: request to deliver "
                         r"a message: bad queue ID \"\.\./\.\./etc/passwd\"",
                         since=since)
    r = inst.petrel("queue", "-i", one)
    assert r.returncode == 0
    assert inst.wait_log(rf"{one}: delivery requested, but the message is "
                         rf"not in the deferred queue", since=since)
    r = inst.petrel("queue", "-i", "not/an/id")
    assert r.returncode == 64 and "is not a queue ID" in r.stderr
    purge_deferred(inst)


# ---- failures --------------------------------------------------------------

def test_transport_unavailable(inst):
    since = inst.log_size()
    qid = mailsystem.sendmail(inst, ["-f", "joe@example.com",
                                     "bob@nowhere.test"],
                              b"Subject: u\n\nx\n")
    wait_deferred(inst, qid)
    assert inst.grep(r"petrel/qmgr\[\d+\]: warning: connect to transport "
                     r"private/smtp: No such file or directory$", since)
    assert inst.grep(rf"petrel/qmgr\[\d+\]: {qid}: to=<bob@nowhere\.test>, "
                     rf"relay=none, delay=[\d.]+, delays=[\d.]+/[\d.]+/0/0, "
                     rf"dsn=4\.3\.0, status=deferred \(mail transport "
                     rf"unavailable\)$", since)
    st = os.stat(path_of(inst, "deferred", qid))
    assert st.st_mtime > time.time() + 50
    assert stat.S_IMODE(st.st_mode) == 0o700
    [entry] = defer_log(inst, qid)
    assert entry["recipient"] == "bob@nowhere.test"
    assert entry["status"] == "4.3.0" and entry["action"] == "delayed"
    assert entry["reason"] == "mail transport unavailable"
    # mailq shows the reason.
    r = inst.petrel("queue", "-p")
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^{qid} .* joe@example\.com\n\s+\(mail transport "
                     rf"unavailable\)\n\s+bob@nowhere\.test$", r.stdout, re.M)

    # The transport is dead now (transport_retry_time): the next message
    # for it is deferred without an attempt ...
    second = plant(inst, ["carol@nowhere.test"])
    poke(inst, b"I")
    wait_deferred(inst, second)
    assert len(inst.grep(r"connect to transport private/smtp", since)) == 1
    assert inst.grep(rf"{second}: to=<carol@nowhere\.test>, relay=none, "
                     rf".*status=deferred \(mail transport unavailable\)$",
                     since)
    # ... unless petrel queue -i asks for it.
    r = inst.petrel("queue", "-i", second)
    assert r.returncode == 0, r.stderr
    assert inst.wait_log(r"connect to transport private/smtp", count=2,
                         since=since)
    wait_deferred(inst, second)
    purge_deferred(inst)


def test_agent_crash(inst):
    inst.crashy.mode("crash")
    since = inst.log_size()
    qid = plant(inst, ["x@crash.test"])
    poke(inst, b"I")
    wait_deferred(inst, qid)
    assert inst.grep(rf"warning: {qid}: private/crashy: the delivery agent "
                     rf"hung up without an answer", since)
    assert inst.grep(rf"{qid}: to=<x@crash\.test>, relay=none, .*dsn=4\.3\.0, "
                     rf"status=deferred \(delivery agent crashed\)$", since)
    assert defer_log(inst, qid)[0]["reason"] == "delivery agent crashed"
    # Dead: another message waits without an attempt.
    other = plant(inst, ["y@crash.test"])
    poke(inst, b"I")
    wait_deferred(inst, other)
    assert inst.crashy.requests(other) == []
    # Fixed and flushed: -f revives the transport, ignores retry times.
    inst.crashy.mode("done")
    r = inst.petrel("queue", "-f")
    assert r.returncode == 0
    wait_removed(inst, qid)
    wait_removed(inst, other)


def test_agent_reports_corrupt_file(inst):
    inst.fake.mode("corrupt")
    qid = plant(inst, ["c@example.net"])
    poke(inst, b"I")
    assert wait_for(lambda: in_queue(inst, "corrupt", qid), 20), inst.log()
    assert inst.wait_log(rf"petrel/qmgr\[\d+\]: warning: {qid}: corrupt "
                         rf"queue file: fake agent found a bad record; "
                         rf"moved to corrupt/$")
    assert not in_queue(inst, "active", qid)
    inst.fake.mode("done")


def test_agent_defers_request(inst):
    inst.fake.mode("defer")
    qid = plant(inst, ["d@example.net"])
    poke(inst, b"I")
    wait_deferred(inst, qid)
    assert inst.grep(rf"{qid}: to=<d@example\.net>, relay=none, .*"
                     rf"status=deferred \(fake agent says later\)$")
    # Not a transport failure: the next message is delivered.
    inst.fake.mode("done")
    nxt = plant(inst, ["e@example.net"])
    poke(inst, b"I")
    wait_removed(inst, nxt)
    purge_deferred(inst)


def test_done_message_in_deferred_is_finished(inst):
    qid = plant(inst, [qw.Rcpt("a@example.net", done=True),
                       qw.Rcpt("b@example.net", done=True)],
                queue="deferred", mtime=time.time() - 10)
    poke(inst, b"D")
    wait_removed(inst, qid)
    assert inst.fake.requests(qid) == []


def test_bounce_report_failure_keeps_message(inst):
    # The agent bounces the recipient (bounce/ID entry, marked done); the
    # bounce service is not configured: the message stays, deferred.
    inst.fake.mode("bounce")
    since = inst.log_size()
    qid = plant(inst, ["nobody@example.net"])
    poke(inst, b"I")
    wait_deferred(inst, qid)
    assert inst.grep(rf"petrel/qmgr\[\d+\]: warning: {qid}: flush request "
                     rf"to the bounce service failed: .+; the message stays "
                     rf"queued$", since)
    assert not inst.grep(rf"{qid}: removed", since)
    assert os.stat(path_of(inst, "deferred", qid)).st_mtime > time.time()
    inst.fake.mode("done")
    purge_deferred(inst)
    os.unlink(path_of(inst, "bounce", qid))


def test_resident(inst):
    """One qmgr process served the whole module, though it was idle
    longer than max_idle (test_backoff_from_message_age)."""
    pids = {m.group(1) for m in inst.grep(r"petrel/qmgr\[(\d+)\]: ")}
    assert len(pids) == 1, pids


# ---- separate instances ----------------------------------------------------

def test_reload_with_deliveries_in_flight():
    """After a reload the old qmgr finishes what it started and starts
    nothing new; the new one waits for it before it takes over active/,
    so every message is delivered exactly once."""
    inst = new_instance(fake_destination_concurrency_limit="10",
                        fake_initial_destination_concurrency="10")
    try:
        inst.start()
        # The deliveries are held until the new qmgr has said it waits.
        inst.fake.mode("hold:done")
        ids = [plant(inst, [f"r{n}@reload{n}.test"]) for n in range(4)]
        poke(inst, b"I")
        assert wait_for(lambda: len(inst.fake.in_flight(ids)) == 4, 20), \
            inst.log()
        assert len(inst.grep(r"\(queue active\)")) == 4
        inst.reload()
        assert inst.wait_log(r"waiting for the previous queue manager",
                             30), inst.log()
        assert not inst.fake.requests()
        inst.fake.release(*ids)
        for qid in ids:
            wait_removed(inst, qid)
        # A message queued after the reload goes through the new qmgr.
        inst.fake.mode("done")
        late = plant(inst, ["late@reload.test"])
        poke(inst, b"I")
        wait_removed(inst, late)
        for qid in ids + [late]:
            assert len(inst.fake.requests(qid)) == 1, \
                (qid, inst.fake.requests(qid), inst.log())
            assert len(inst.grep(re.escape(qid) + r": removed$")) == 1
        assert not inst.grep(r"left over by a previous queue manager")
    finally:
        problems = inst.cleanup()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("limit", ["qmgr_message_active_limit=1",
                                   "qmgr_message_recipient_limit=3"])
def test_crash_recovery_and_active_queue_limits(limit):
    """Files left in active/ go back to incoming/ at start; with one
    message (or three recipients) at most in the active queue every
    message is still delivered, one message at a time; a message larger
    than the recipient limit goes in alone."""
    name, value = limit.split("=")
    with new_instance(**{name: value}) as inst:
        inst.fake.mode("sleep:0.2:done")
        r = inst.petrel("check")      # makes the queue directories
        assert r.returncode == 0, r.stderr
        left = plant(inst, ["left@example.net", "left@example.org"],
                     queue="active")
        queued = [plant(inst, [f"q{n}@example.net", f"p{n}@example.org"])
                  for n in range(3)]
        queued.append(plant(inst, [f"big{n}@d{n}.test" for n in range(5)]))
        inst.start()
        assert inst.wait_log(rf"petrel/qmgr\[\d+\]: {left}: moved from "
                             rf"active/ back to incoming/")
        for qid in [left] + queued:
            wait_removed(inst, qid)
        recs = inst.fake.requests()
        assert len(recs) == 13
        # One message at a time: no two messages' requests overlap.
        spans = {}
        for r in recs:
            lo, hi = spans.get(r["id"], (r["start"], r["end"]))
            spans[r["id"]] = (min(lo, r["start"]), max(hi, r["end"]))
        ordered = sorted(spans.values())
        for a, b in zip(ordered, ordered[1:]):
            assert a[1] <= b[0], "two messages were active at once"


def test_expire_without_bounce_service():
    """maximal_queue_lifetime=0: one attempt, then the bounce service is
    asked to return the message; it is not there, so the message stays
    deferred and is tried again by the periodic deferred scan
    (queue_run_delay) once its retry time (1s here) has come."""
    with new_instance(maximal_queue_lifetime="0", minimal_backoff_time="1s",
                      maximal_backoff_time="1s") as inst:
        inst.fake.mode("retry")
        inst.start()
        qid = plant(inst, ["late@example.net"])
        poke(inst, b"I")
        expire = (rf"petrel/qmgr\[\d+\]: warning: {qid}: expire request to "
                  rf"the bounce service failed: .+; the message stays "
                  rf"queued$")
        assert inst.wait_log(expire), inst.log()
        wait_deferred(inst, qid)
        assert inst.wait_log(expire, count=2, timeout=15), inst.log()
        assert len(inst.grep(rf"{qid}: from=<s@example\.com>, size=\d+, "
                             rf"nrcpt=1 \(queue active\)$")) >= 2
        assert not inst.grep(rf"{qid}: removed")


def test_bounce_service_reports():
    """With the bounce service: a bounced recipient is reported (FLUSH)
    and the message removed; with maximal_queue_lifetime=0 a message
    whose recipient is deferred is returned after one attempt."""
    with new_instance(maximal_queue_lifetime="0", bounce=True) as inst:
        inst.fake.mode("bounce")
        inst.crashy.mode("retry")
        inst.start()
        qid = plant(inst, ["gone@example.net"], sender="s@nowhere.test")
        poke(inst, b"I")
        m = inst.wait_log(rf"petrel/bounce\[\d+\]: {qid}: sender "
                          rf"non-delivery notification: ({ID})$")
        assert m, inst.log()
        wait_removed(inst, qid)
        report = m[0].group(1)
        assert inst.wait_log(rf"petrel/qmgr\[\d+\]: {report}: from=<>, "
                             rf"size=\d+, nrcpt=1 \(queue active\)$")

        late = plant(inst, ["late@crash.test"], sender="s@nowhere.test")
        poke(inst, b"I")
        m = inst.wait_log(rf"petrel/bounce\[\d+\]: {late}: sender "
                          rf"non-delivery notification: ({ID})$")
        assert m, inst.log()
        assert inst.wait_log(rf"petrel/qmgr\[\d+\]: {late}: "
                             rf"from=<s@nowhere\.test>, status=expired, "
                             rf"returned to sender$")
        wait_removed(inst, late)
        assert len(inst.crashy.requests(late)) == 1
        for queue in ("defer", "bounce"):
            assert not in_queue(inst, queue, late)


def bounce_events(inst, qid):
    return [(r["request"], r["event"]) for r in inst.bounce.requests(qid)]


def test_bounce_service_does_not_block_qmgr():
    """A bounce service that takes the request and never answers: qmgr
    goes on delivering other mail meanwhile, gives up after its timeout
    (ipc_timeout, here 10s through -o), hangs up and defers the message;
    a reload waits for a request in flight (the old qmgr is busy, it
    does not leave the message in active/ to the next one); once the
    service answers the message is finished, once."""
    # The timeout leaves room for the delivery of "other" and for a
    # reload with a new qmgr before it, even on a slow machine.
    with new_instance(bounce="fake", qmgr_opts={"ipc_timeout": "10s"}) \
            as inst:
        inst.bounce.mode("hang")
        inst.crashy.mode("bounce")
        inst.fake.mode("done")
        inst.start()
        gone = plant(inst, ["gone@crash.test"])
        poke(inst, b"I")
        assert wait_for(lambda: bounce_events(inst, gone)
                        == [("flush", "start")]), inst.log()
        # qmgr is not waiting: the next message is delivered now.
        other = plant(inst, ["other@example.net"])
        poke(inst, b"I")
        wait_removed(inst, other)
        assert in_queue(inst, "active", gone)
        assert bounce_events(inst, gone) == [("flush", "start")]
        timeout = (rf"petrel/qmgr\[\d+\]: warning: {gone}: flush request "
                   rf"to the bounce service failed: timeout after 10 "
                   rf"seconds talking to the bounce service; the message "
                   rf"stays queued$")
        assert inst.wait_log(timeout, timeout=30), inst.log()
        wait_deferred(inst, gone)
        assert wait_for(lambda: bounce_events(inst, gone)[-1]
                        == ("flush", "client hung up")), inst.log()
        # Sent after the request (the order of the log lines).
        log = inst.log()
        assert log.index(f"{other}: removed") \
            < log.index(f"{gone}: flush request")

        # Again, and a reload while the request is open.
        r = inst.petrel("queue", "-i", gone)
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: bounce_events(inst, gone)[-1]
                        == ("flush", "start")), inst.log()
        inst.reload()
        assert inst.wait_log(r"waiting for the previous queue manager",
                             30), inst.log()
        assert inst.wait_log(timeout, count=2, timeout=30), inst.log()
        wait_deferred(inst, gone)
        assert not inst.grep(r"left over by a previous queue manager")

        # The service answers: the message is finished.
        inst.bounce.mode("ok")
        r = inst.petrel("queue", "-i", gone)
        assert r.returncode == 0, r.stderr
        wait_removed(inst, gone)
        assert bounce_events(inst, gone)[-1] == ("flush", "answered")
        assert [e for e in bounce_events(inst, gone) if e[1] == "start"] \
            == [("flush", "start")] * 3
        assert len(inst.grep(rf"{gone}: removed$")) == 1
        assert len(inst.crashy.requests(gone)) == 1
        for r in inst.bounce.requests(gone):
            assert r["queue_name"] == "active"


def test_message_waiting_for_bounce_stays_active():
    """With qmgr_message_active_limit=1, a message waiting for the bounce
    service holds the only place: the next one is taken only when the
    request is over (here: timed out)."""
    # "other" must come while the request is open: the timeout is what
    # the test may take from seeing the request to the poke.
    ipc_timeout = "%ds" % harness.slow(3)
    with new_instance(bounce="fake", qmgr_message_active_limit="1",
                      qmgr_opts={"ipc_timeout": ipc_timeout}) as inst:
        inst.bounce.mode("hang")
        inst.crashy.mode("bounce")
        inst.fake.mode("done")
        inst.start()
        gone = plant(inst, ["gone@crash.test"])
        poke(inst, b"I")
        # The first event, even if the request has timed out meanwhile.
        assert wait_for(lambda: bounce_events(inst, gone)[:1]
                        == [("flush", "start")]), inst.log()
        other = plant(inst, ["other@example.net"])
        poke(inst, b"I")
        failed = f"{gone}: flush request to the bounce service failed"
        assert inst.wait_log(re.escape(failed), timeout=30), inst.log()
        wait_removed(inst, other)
        log = inst.log()
        assert log.index(failed) < log.index(f"{other}: from="), log
        wait_deferred(inst, gone)


def test_expire_reports_recipients_without_defer_entry():
    """maximal_queue_lifetime=0 with the real bounce service: one
    recipient's agent answers RETRY without a defer/ entry (its log
    write failed), the other's writes one. qmgr adds an entry for the
    first before EXPIRE, so the returned message lists both."""
    with new_instance(maximal_queue_lifetime="0", bounce=True) as inst:
        inst.fake.mode("retry-nolog")
        inst.crashy.mode("retry")
        inst.start()
        qid = plant(inst, ["quiet@example.net", "noisy@crash.test"],
                    sender="s@nowhere.test")
        poke(inst, b"I")
        m = inst.wait_log(rf"petrel/bounce\[\d+\]: {qid}: sender "
                          rf"non-delivery notification: ({ID})$")
        assert m, inst.log()
        assert inst.wait_log(rf"{qid}: from=<s@nowhere\.test>, "
                             rf"status=expired, returned to sender$")
        wait_removed(inst, qid)
        # The report waits in deferred/ (nowhere.test is unreachable).
        report = m[0].group(1)
        wait_deferred(inst, report)
        qf = QueueFile.load(path_of(inst, "deferred", report))
        msg = email.message_from_bytes(b"\n".join(qf.lines) + b"\n",
                                       policy=email.policy.default)
        part = msg.get_payload()[1]
        assert part.get_content_type() == "message/delivery-status"
        got = {b["Final-Recipient"]: b for b in part.get_payload()[1:]}
        assert set(got) == {"rfc822; quiet@example.net",
                            "rfc822; noisy@crash.test"}, got
        quiet = got["rfc822; quiet@example.net"]
        assert quiet["Action"] == "failed" and quiet["Status"] == "4.4.7"
        assert quiet["Diagnostic-Code"] == ("X-Petrel; message expired "
                                            "before delivery; no earlier "
                                            "reason recorded")
        noisy = got["rfc822; noisy@crash.test"]
        assert noisy["Status"] == "4.0.0"
        assert "fake agent: try later" in noisy["Diagnostic-Code"]
        assert inst.grep(rf"petrel/qmgr\[\d+\]: {qid}: "
                         rf"to=<quiet@example\.net>: no delay reason "
                         rf"recorded; reported as \"message expired before "
                         rf"delivery; no earlier reason recorded\"$")
        assert not inst.grep(rf"{qid}: to=<noisy@crash\.test>: no delay")


def test_end_to_end_local_delivery():
    """sendmail -> pickup -> cleanup -> qmgr -> local -> (mailbox_transport)
    virtual -> Maildir under the instance, with the real agents (their
    master.cf entries as in conf/master.cf: private sockets)."""
    import mailbox
    inst = harness.Instance(**mailsystem.MAIN)
    with inst:
        mailsystem.add_services(inst, local=False, virtual=False,
                                bounce=False)
        inst.add_service("local", "unix", "local", unpriv="n", private="-")
        inst.add_service("virtual", "unix", "virtual", unpriv="n",
                         private="-")
        inst.add_service("bounce", "unix", "bounce", private="-", maxproc=0)
        base = os.path.join(inst.dir, "mail")
        os.mkdir(base)
        table = os.path.join(inst.etc, "virtual_mailboxes")
        with open(table, "w") as f:
            f.write("/^([^@+]+)@/ ${1}/Maildir/\n")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("petrel")
            uid, gid = pw.pw_uid, pw.pw_gid
            os.chown(base, uid, gid)
        else:
            uid, gid = os.getuid(), os.getgid()
        inst.set_main(mailbox_transport="virtual", virtual_mailbox_base=base,
                      virtual_mailbox_maps=f"regexp:{table}",
                      virtual_uid_maps=f"static:{uid}",
                      virtual_gid_maps=f"static:{gid}",
                      virtual_minimum_uid="1")
        inst.start()
        qid = mailsystem.sendmail(inst, ["-f", "joe@example.com",
                                         "alice@localhost", "bob@localhost"],
                                  b"Subject: e2e\n\nhello\n")
        for rcpt in ("alice@localhost", "bob@localhost"):
            mailsystem.wait_status(inst, qid, rcpt, "sent")
        wait_removed(inst, qid)
        for user in ("alice", "bob"):
            box = mailbox.Maildir(os.path.join(base, user, "Maildir"),
                                  create=False)
            [msg] = list(box)
            assert msg["Subject"] == "e2e"
            assert msg.get_payload() == "hello\n"
