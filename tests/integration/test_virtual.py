"""
test_virtual.py - the virtual delivery agent (src/virtual)

A real instance runs the agent from master.cf (`virtual unix - n n - -
virtual`). Most tests drive it as qmgr does: a queue file written with
qfile_writer.py is placed in active/, and a delivery request
(deliver_request.h) goes over private/virtual with mailproto.RawClient.
Each test then checks the reply (status, one result letter per
recipient), the queue file (a delivered or bounced recipient's RCPT
record becomes DONE, 'D'; a deferred one stays 'R'), the Postfix-format
log line, the bounce/ and defer/ logs, and the mailbox itself, read back
with Python's mailbox module (and, in one test, over IMAP from a real
Dovecot and with doveadm).

Covered: Maildir and mbox by table, address extensions, @domain
catch-all, the key order of a list of tables, unknown user (bounce
5.1.1), uid/gid from static: and from tables, virtual_minimum_uid, bad
mailbox paths ("..", absolute), virtual_mailbox_limit (bounce 5.2.2), an
unwritable or unset virtual_mailbox_base (defer), table failure (defer
4.3.0), dot locks and virtual_mailbox_lock, a passed request
(DELIVER_FLAG_PASS) and, as root, mailboxes owned by the mapped uid/gid
(a system user made for the test) and logs owned by mail_owner.
End to end: sendmail -> qmgr -> virtual for virtual_mailbox_domains;
sendmail -> qmgr -> local -> virtual (mailbox_transport) with aliases;
and scripts/run-instance (make run) delivering you@localhost into
run/mail/you/Maildir/.

As root the agent switches to the mapped uid/gid: the tests then map
recipients to a system user created here (and removed afterwards); as
an ordinary user it writes as itself.
"""

import grp
import imaplib
import mailbox
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

import harness
import mailproto
import mailsystem
import qfile_writer as qw

DELIVER_FLAG_PASS = 1
ROOT = os.geteuid() == 0

SENDER = "joe@example.net"
BODY = [b"Subject: virtual test", b"From: Joe <joe@example.net>",
        b"Message-ID: <vt1@example.net>", b"", b"hello there",
        b"From the start of a line", b"bye"]


# ---- the test user ------------------------------------------------------

@pytest.fixture(scope="module")
def vuser():
    """(name, uid, gid) the mailboxes belong to: a system user made for
    this module when root, else ourselves."""
    if not ROOT:
        yield (pwd.getpwuid(os.getuid()).pw_name, os.getuid(),
               os.getgid())
        return
    # A name no other run uses (a leftover of a dead one is left alone).
    for suffix in ("", "a", "b", "c", "d"):
        name = f"pvt{os.getpid()}{suffix}"
        r = subprocess.run(["useradd", "-r", "-U", "-M", "-d", "/nonexistent",
                            "-s", "/usr/sbin/nologin", name],
                           capture_output=True)
        if r.returncode != 9:           # 9: the name exists
            break
    assert r.returncode == 0, r.stderr
    try:
        pw = pwd.getpwnam(name)
        yield (name, pw.pw_uid, pw.pw_gid)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        try:
            grp.getgrnam(name)
            subprocess.run(["groupdel", name], capture_output=True)
        except KeyError:
            pass


# ---- instances ------------------------------------------------------------

def virtual_program(inst):
    """The agent's binary: build/src/virtual, or build/src/virtual/virtual
    while the build puts subdirectory programs there."""
    path = os.path.join(inst.src, "virtual")
    if os.path.isdir(path):
        path = os.path.join(path, "virtual")
    return path


class V:
    """An instance with the virtual agent and a mailbox base."""

    def __init__(self, vuser, qmgr=False, local=False, **params):
        self.user, self.uid, self.gid = vuser
        p = dict(mailsystem.MAIN)
        self.inst = harness.Instance(**p)
        self.base = os.path.join(self.inst.dir, "mail")
        os.mkdir(self.base)
        if ROOT:
            os.chown(self.base, self.uid, self.gid)
        defaults = {
            "virtual_mailbox_base": self.base,
            "virtual_uid_maps": f"static:{self.uid}",
            "virtual_gid_maps": f"static:{self.gid}",
            "virtual_minimum_uid": "1",
            "deliver_lock_attempts": "2",
        }
        defaults.update(params)
        self.inst.set_main(**defaults)
        mailsystem.add_services(self.inst, qmgr=qmgr, bounce=qmgr,
                                local=local)
        # As conf/master.cf: private (private/virtual), unpriv n.
        self.inst.replace_service("virtual", virtual_program(self.inst),
                                  private="-", unpriv="n")
        if qmgr:
            self.inst.replace_service("bounce", "bounce", private="-",
                                      maxproc=0)
        if local:
            self.inst.replace_service("local", "local", private="-",
                                      unpriv="n")
        self.seq = 0

    def table(self, name, text):
        """Write etc/<name> and return "texthash:<path>"."""
        path = os.path.join(self.inst.etc, name)
        with open(path, "w") as f:
            f.write(text)
        return "texthash:" + path

    def start(self):
        self.inst.start()
        return self

    # -- the queue file and the request --

    def plant(self, rcpts, lines=BODY, sender=SENDER):
        """A queue file in active/; returns (qid, path, rcpt offsets)."""
        self.seq += 1
        qid = qw.make_queue_id(int(time.time()), self.seq, 1000 + self.seq)
        msg = b"".join(line + b"\n" for line in lines)
        data = qw.build_queue_file(sender, rcpts, msg,
                                   arrival=(int(time.time()), 0))
        path = os.path.join(self.inst.queue, "active", qid)
        qw.write_queue_file(path, data)
        if ROOT:
            # As cleanup would have written it: mail_owner's.
            pw = pwd.getpwnam("petrel")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        offs = [r.offset for r in qw.parse_records(data)
                if r.type == qw.RCPT]
        return qid, path, offs

    def request(self, qid, offs, flags=0, addresses=None):
        pairs = [("flags", flags), ("queue_name", "active"),
                 ("queue_id", qid), ("nexthop", "example.com"),
                 ("recipients", " ".join(str(o) for o in offs)),
                 ("queue_time", "0")]
        if addresses is not None:
            pairs.append(("addresses", "\n".join(addresses)))
        c = mailproto.RawClient(
            os.path.join(self.inst.queue, "private", "virtual"), timeout=60)
        try:
            return c.request(*pairs)
        finally:
            c.close()

    def deliver(self, rcpts, lines=BODY, sender=SENDER, want=None):
        """plant + request; checks status 0 and, if given, the results."""
        qid, path, offs = self.plant(rcpts, lines, sender)
        reply = self.request(qid, offs)
        assert reply["status"] == "0", reply
        if want is not None:
            assert reply["results"] == want, reply
        return qid, path, offs

    # -- checks --

    def status(self, qid, rcpt, status, text=None):
        """Wait for the log line; returns it."""
        line = mailsystem.wait_status(self.inst, qid, rcpt, status)
        assert "relay=virtual," in line, line
        if text is not None:
            assert f"({text})" in line, line
        return line

    def warning(self, regex):
        m = self.inst.wait_log(r"petrel/virtual\[\d+\]: warning: " + regex)
        assert m, f"no warning {regex!r}\n{self.inst.log()}"
        return m[-1].group(0)

    def rcpt_types(self, path):
        with open(path, "rb") as f:
            data = f.read()
        return [r.type for r in qw.parse_records(data)
                if r.type in (qw.RCPT, qw.DONE)]

    def log_path(self, kind, qid):
        """bounce/[hash/]qid (or defer/, trace/), or None."""
        for dirpath, _, files in os.walk(os.path.join(self.inst.queue,
                                                      kind)):
            if qid in files:
                return os.path.join(dirpath, qid)
        return None

    def log_entries(self, kind, qid):
        """Entries of bounce/, defer/ or trace/ for qid, as dicts."""
        path = self.log_path(kind, qid)
        if path is None:
            return []
        with open(path) as f:
            text = f.read()
        return [dict(line.split("=", 1) for line in block.splitlines())
                for block in text.split("\n\n") if block.strip()]

    def maildir(self, rel):
        return mailbox.Maildir(os.path.join(self.base, rel), factory=None,
                               create=False)

    def close(self):
        log = self.inst.log()
        problems = self.inst.cleanup()
        if problems:
            pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                        pytrace=False)


@pytest.fixture
def make(request, vuser):
    made = []

    def factory(**params):
        v = V(vuser, **params)
        made.append(v)
        request.node.petrel_instance = v.inst
        return v

    yield factory
    for v in made:
        v.close()


def body_of(msg):
    """The message body as bytes, lines ending in LF."""
    payload = msg.get_payload(decode=False)
    return payload.encode() if isinstance(payload, str) else payload


def want_body():
    i = BODY.index(b"")
    return b"".join(line + b"\n" for line in BODY[i + 1:])


def check_message(msg, rcpt, orig=None, sender=SENDER):
    """Our header lines first, in Postfix's order, then the message."""
    keys = list(msg.keys())
    assert keys[:3] == ["Return-Path", "X-Original-To", "Delivered-To"], keys
    assert msg["Return-Path"] == f"<{sender}>"
    assert msg["X-Original-To"] == (orig or rcpt)
    assert msg["Delivered-To"] == rcpt.lower()
    assert msg["Subject"] == "virtual test"
    assert msg["Message-ID"] == "<vt1@example.net>"


# ---- delivery by table ----------------------------------------------------

def test_maildir_and_mbox_by_table(make, vuser):
    v = make(recipient_delimiter="+")
    maps = v.table("vmailbox",
                   "bob@example.com    example.com/bob/\n"
                   "carol@example.com  example.com/carol.mbox\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    rcpts = ["bob@example.com", "Bob+Lists@Example.COM", "carol@example.com"]
    qid, path, _ = v.deliver(rcpts, want="DDD")
    v.status(qid, "bob@example.com", "sent", "delivered to maildir")
    v.status(qid, "Bob+Lists@Example.COM", "sent", "delivered to maildir")
    v.status(qid, "carol@example.com", "sent", "delivered to mailbox")
    assert v.rcpt_types(path) == [qw.DONE] * 3
    assert v.log_entries("bounce", qid) == []
    assert v.log_entries("defer", qid) == []

    md = v.maildir("example.com/bob")
    msgs = sorted((md.get_message(k) for k in md.keys()),
                  key=lambda m: m["Delivered-To"])
    assert len(msgs) == 2
    check_message(msgs[0], "Bob+Lists@Example.COM")
    check_message(msgs[1], "bob@example.com")
    for m in msgs:
        assert body_of(m) == want_body()
    for sub in ("tmp", "new", "cur"):
        st = os.stat(os.path.join(v.base, "example.com/bob", sub))
        assert stat.S_IMODE(st.st_mode) == 0o700
    assert os.listdir(os.path.join(v.base, "example.com/bob/tmp")) == []

    mb = mailbox.mbox(os.path.join(v.base, "example.com/carol.mbox"),
                      create=False)
    (m,) = list(mb)
    check_message(m, "carol@example.com")
    assert m.get_from().startswith(SENDER + " ")
    # mboxrd: the body's From_ line is quoted.
    assert b">From the start of a line\n" in body_of(m)
    assert stat.S_IMODE(os.stat(os.path.join(
        v.base, "example.com/carol.mbox")).st_mode) == 0o600
    mb.close()


def test_catch_all_domain_and_null_sender(make):
    v = make()
    maps = v.table("vmailbox",
                   "known@example.org  org/known/\n"
                   "@example.org       org/catchall/\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    qid, path, _ = v.deliver(["known@example.org", "anyone@example.org",
                              "else@example.org"], sender="", want="DDD")
    for r in ("known@example.org", "anyone@example.org", "else@example.org"):
        v.status(qid, r, "sent", "delivered to maildir")
    assert len(v.maildir("org/known")) == 1
    catch = v.maildir("org/catchall")
    assert sorted(m["Delivered-To"] for m in catch) == [
        "anyone@example.org", "else@example.org"]
    for m in catch:
        assert m["Return-Path"] == "<>"


def test_table_list_key_order(make):
    """A list of tables is searched key by key, as Postfix's maps: the
    full address in every table before @domain in any of them."""
    v = make()
    first = v.table("domains", "@example.com  catchall/\n")
    second = v.table("users", "bob@example.com  bob/\n")
    v.inst.set_main(virtual_mailbox_maps=f"{first}, {second}")
    v.start()
    qid, _, _ = v.deliver(["bob@example.com", "ann@example.com"],
                          want="DD")
    assert [m["Delivered-To"] for m in v.maildir("bob")] == [
        "bob@example.com"]
    assert [m["Delivered-To"] for m in v.maildir("catchall")] == [
        "ann@example.com"]


def test_unknown_user_bounces(make):
    v = make()
    maps = v.table("vmailbox", "bob@example.com  bob/\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    qid, path, _ = v.deliver(["nobody@example.com", "bob@example.com"],
                             want="DD")
    v.status(qid, "nobody@example.com", "bounced",
             'unknown user: "nobody@example.com"')
    line = v.status(qid, "bob@example.com", "sent")
    assert "dsn=2.0.0" in line
    assert v.rcpt_types(path) == [qw.DONE, qw.DONE]
    (e,) = v.log_entries("bounce", qid)
    assert e["recipient"] == "nobody@example.com"
    assert e["status"] == "5.1.1"
    assert e["action"] == "failed"
    assert not os.path.exists(os.path.join(v.base, "nobody"))
    if ROOT:
        # Written as mail_owner, so that the bounce daemon can read it.
        st = os.stat(v.log_path("bounce", qid))
        assert st.st_uid == pwd.getpwnam("petrel").pw_uid


def test_table_failure_defers(make):
    v = make(virtual_mailbox_maps="texthash:/nonexistent/vmailbox")
    v.start()
    qid, path, _ = v.deliver(["bob@example.com"], want="R")
    line = v.status(qid, "bob@example.com", "deferred",
                    "virtual_mailbox_maps: table lookup failure")
    assert "dsn=4.3.0" in line
    assert v.rcpt_types(path) == [qw.RCPT]
    (e,) = v.log_entries("defer", qid)
    assert e["status"] == "4.3.0"


# ---- configuration errors ---------------------------------------------------

@pytest.mark.parametrize("base,why", [
    ("", "is not set"),
    ("relative/mail", "is not an absolute path"),
])
def test_bad_mailbox_base_defers(make, base, why):
    v = make(virtual_mailbox_maps="static:bob/")
    v.inst.set_main(virtual_mailbox_base=base)
    v.start()
    qid, path, _ = v.deliver(["bob@example.com"], want="R")
    line = v.status(qid, "bob@example.com", "deferred",
                    "mail system configuration error: "
                    f"virtual_mailbox_base {why}")
    assert "dsn=4.3.5" in line
    v.warning(re.escape(qid) + r": recipient bob@example.com: "
              r"virtual_mailbox_base ")
    assert v.rcpt_types(path) == [qw.RCPT]


@pytest.mark.parametrize("result,problem", [
    ("../outside/", r'has a "\.\." path component'),
    ("a/../../outside", r'has a "\.\." path component'),
    ("/tmp/petrel-virtual-abs/", "is an absolute path"),
])
def test_bad_mailbox_path_refused(make, result, problem):
    v = make()
    maps = v.table("vmailbox", f"evil@example.com  {result}\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    qid, path, _ = v.deliver(["evil@example.com"], want="R")
    v.status(qid, "evil@example.com", "deferred",
             "mail system configuration error: bad mailbox path in "
             "virtual_mailbox_maps")
    v.warning(re.escape(qid) + r": recipient evil@example.com: mailbox "
              + re.escape(f'"{result}"') + r" from virtual_mailbox_maps "
              r"\(texthash:" + re.escape(maps[len("texthash:"):]) + r"\) "
              + problem + "; refused")
    assert not os.path.exists(os.path.join(v.inst.dir, "outside"))
    assert not os.path.exists("/tmp/petrel-virtual-abs")
    assert v.rcpt_types(path) == [qw.RCPT]


def test_uid_and_gid_by_table(make, vuser):
    _, uid, gid = vuser
    v = make()
    maps = v.table("vmailbox", "@example.com  users/\n")
    uids = v.table("vuid", f"bob@example.com {uid}\n@example.com {uid}\n"
                           "nouid@example.com notanumber\n")
    gids = f"inline:{{bob@example.com={gid}, @example.com={gid}}}"
    v.inst.set_main(virtual_mailbox_maps=maps + " static:users/",
                    virtual_uid_maps=uids, virtual_gid_maps=gids)
    v.start()
    qid, path, _ = v.deliver(["bob@example.com", "nouid@example.com",
                              "stranger@other.example"], want="DRR")
    v.status(qid, "bob@example.com", "sent")
    v.status(qid, "nouid@example.com", "deferred",
             "mail system configuration error: bad uid for recipient in "
             "virtual_uid_maps")
    v.warning(re.escape(qid) + r': recipient nouid@example.com: bad uid '
              r'"notanumber" in virtual_uid_maps \(texthash:')
    # stranger@other.example: found by the second table of the mailbox
    # table list, but not in virtual_uid_maps.
    v.status(qid, "stranger@other.example", "deferred",
             "mail system configuration error: no uid for recipient in "
             "virtual_uid_maps")
    v.warning(re.escape(qid) + r": recipient stranger@other.example: uid not "
              r"found in virtual_uid_maps")
    assert v.rcpt_types(path) == [qw.DONE, qw.RCPT, qw.RCPT]
    entries = v.log_entries("defer", qid)
    assert sorted(e["recipient"] for e in entries) == [
        "nouid@example.com", "stranger@other.example"]
    assert {e["status"] for e in entries} == {"4.3.5"}
    (m,) = list(v.maildir("users"))
    assert m["Delivered-To"] == "bob@example.com"


def test_minimum_uid_refused(make, vuser):
    _, uid, _ = vuser
    v = make(virtual_mailbox_maps="static:bob/",
             virtual_minimum_uid=str(uid + 1))
    v.start()
    qid, path, _ = v.deliver(["bob@example.com"], want="R")
    v.status(qid, "bob@example.com", "deferred",
             "mail system configuration error: bad uid for recipient in "
             "virtual_uid_maps")
    v.warning(re.escape(qid) + rf': recipient bob@example.com: bad uid '
              rf'"{uid}" in virtual_uid_maps \(static:{uid}\) \(less than '
              r'virtual_minimum_uid\)')
    assert not os.path.exists(os.path.join(v.base, "bob"))
    assert v.rcpt_types(path) == [qw.RCPT]


def test_gid_zero_refused(make):
    v = make(virtual_mailbox_maps="static:bob/", virtual_gid_maps="static:0")
    v.start()
    qid, path, _ = v.deliver(["bob@example.com"], want="R")
    v.status(qid, "bob@example.com", "deferred",
             "mail system configuration error: bad gid for recipient in "
             "virtual_gid_maps")


@pytest.mark.skipif(not ROOT, reason="uid maps are required only as root")
def test_uid_maps_required_as_root(make):
    v = make(virtual_mailbox_maps="static:bob/", virtual_uid_maps="")
    v.start()
    qid, path, _ = v.deliver(["bob@example.com"], want="R")
    v.status(qid, "bob@example.com", "deferred",
             "mail system configuration error: virtual_uid_maps is not set")


# ---- mailbox limits, permissions, locks ------------------------------------

def test_mailbox_limit_bounces(make):
    v = make(virtual_mailbox_limit="3000", message_size_limit="2000")
    maps = v.table("vmailbox", "bob@example.com  bob/\n"
                               "carol@example.com carol.mbox\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    small = [b"Subject: small", b"", b"hi"]
    v.deliver(["carol@example.com"], lines=small, want="D")
    mbox_path = os.path.join(v.base, "carol.mbox")
    before = open(mbox_path, "rb").read()
    big = [b"Subject: big", b""] + [b"x" * 70] * 60
    qid, path, _ = v.deliver(["bob@example.com", "carol@example.com"],
                             lines=big, want="DD")
    for r in ("bob@example.com", "carol@example.com"):
        line = v.status(qid, r, "bounced")
        assert "dsn=5.2.2" in line, line
    assert sorted(e["status"] for e in v.log_entries("bounce", qid)) == [
        "5.2.2", "5.2.2"]
    assert open(mbox_path, "rb").read() == before
    for sub in ("tmp", "new"):
        assert os.listdir(os.path.join(v.base, "bob", sub)) == []


def test_unwritable_base_defers(make):
    v = make(virtual_mailbox_maps="static:sub/bob/")
    os.chmod(v.base, 0o555)
    v.start()
    qid, path, _ = v.deliver(["bob@example.com"], want="R")
    line = v.status(qid, "bob@example.com", "deferred")
    assert "dsn=4.2.0" in line, line
    assert "Permission denied" in line, line
    assert v.rcpt_types(path) == [qw.RCPT]
    (e,) = v.log_entries("defer", qid)
    assert e["status"] == "4.2.0"
    # Fixed by the administrator, the same request succeeds.
    os.chmod(v.base, 0o755)
    assert v.request(qid, [e["offset"]])["results"] == "D"
    v.status(qid, "bob@example.com", "sent", "delivered to maildir")


def test_dot_lock(make):
    v = make(virtual_mailbox_maps="static:carol.mbox",
             deliver_lock_attempts="1")
    v.start()
    lock = os.path.join(v.base, "carol.mbox.lock")
    with open(lock, "w"):
        pass
    qid, path, _ = v.deliver(["carol@example.com"], want="R")
    line = v.status(qid, "carol@example.com", "deferred")
    assert "carol.mbox.lock" in line, line
    assert not os.path.exists(os.path.join(v.base, "carol.mbox")) or \
        os.path.getsize(os.path.join(v.base, "carol.mbox")) == 0
    # Without dotlock in virtual_mailbox_lock, fcntl alone is used.
    # (An agent started before the reload may still take one more
    # request with the old settings: wait until it is gone.)
    def agents():
        out = []
        for pid in v.inst.children():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0].endswith(b"/virtual"):
                        out.append(pid)
            except OSError:
                pass
        return out

    old = agents()
    v.inst.set_main(virtual_mailbox_lock="fcntl")
    v.inst.reload()
    assert harness.wait_for(lambda: not set(old) & set(agents()), 10)
    qid, path, _ = v.deliver(["carol@example.com"], want="D")
    v.status(qid, "carol@example.com", "sent", "delivered to mailbox")
    assert os.path.exists(lock)


def test_limit_below_message_size_is_fatal(make):
    v = make(virtual_mailbox_maps="static:bob/",
             virtual_mailbox_limit="1000", message_size_limit="2000")
    v.start()
    qid, path, offs = v.plant(["bob@example.com"])
    # The connection makes master start the agent, which refuses to run.
    c = mailproto.RawClient(os.path.join(v.inst.queue, "private",
                                         "virtual"))
    try:
        assert v.inst.wait_log(r"petrel/virtual\[\d+\]: fatal: main.cf "
                               r"configuration error: virtual_mailbox_limit "
                               r"\(1000\) is smaller than message_size_limit "
                               r"\(2000\)")
    finally:
        c.close()
    assert v.rcpt_types(path) == [qw.RCPT]


# ---- passing on and ownership ---------------------------------------------

def test_pass_request(make):
    v = make()
    maps = v.table("vmailbox", "bob@example.com  bob/\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    qid, path, offs = v.plant(["all@example.com", "other@example.com"])
    reply = v.request(qid, offs, flags=DELIVER_FLAG_PASS,
                      addresses=["bob@example.com", "who@example.com"])
    assert reply["status"] == "0", reply
    assert reply["results"] == "DD", reply
    line = v.status(qid, "bob@example.com", "sent", "delivered to maildir")
    assert "orig_to=<all@example.com>" in line, line
    line = v.status(qid, "who@example.com", "bounced",
                    'unknown user: "who@example.com"')
    assert "orig_to=<other@example.com>" in line, line
    # The passing agent marks; this one does not.
    assert v.rcpt_types(path) == [qw.RCPT, qw.RCPT]
    (m,) = list(v.maildir("bob"))
    check_message(m, "bob@example.com", orig="all@example.com")
    # The bounce log has the address delivered to, at the queue file
    # recipient's offset.
    (e,) = v.log_entries("bounce", qid)
    assert e["recipient"] == "who@example.com"
    assert int(e["offset"]) == offs[1]


@pytest.mark.skipif(not ROOT, reason="needs root to switch uid/gid")
def test_root_writes_as_mapped_user(make, vuser):
    name, uid, gid = vuser
    v = make()
    maps = v.table("vmailbox", "bob@example.com  d/bob/\n"
                               "carol@example.com d/carol\n"
                               "dave@example.com  dave\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    # dave's mbox exists, writable by all, but belongs to root:
    # strict_mailbox_ownership refuses it.
    with open(os.path.join(v.base, "dave"), "w"):
        pass
    os.chmod(os.path.join(v.base, "dave"), 0o666)
    qid, path, _ = v.deliver(["bob@example.com", "carol@example.com",
                              "dave@example.com"], want="DDR")
    line = v.status(qid, "dave@example.com", "deferred")
    assert "dsn=4.2.0" in line and "not by the recipient" in line, line
    for rel in ("d", "d/bob", "d/bob/new", "d/bob/tmp", "d/bob/cur",
                "d/carol"):
        st = os.stat(os.path.join(v.base, rel))
        assert (st.st_uid, st.st_gid) == (uid, gid), rel
    (f,) = os.listdir(os.path.join(v.base, "d/bob/new"))
    st = os.stat(os.path.join(v.base, "d/bob/new", f))
    assert (st.st_uid, st.st_gid) == (uid, gid)
    assert stat.S_IMODE(st.st_mode) == 0o600
    # The agent is mail_owner again afterwards (its logs belong to
    # mail_owner) and serves the next request.
    st = os.stat(v.log_path("defer", qid))
    assert st.st_uid == pwd.getpwnam("petrel").pw_uid
    qid2, _, _ = v.deliver(["bob@example.com"], want="D")
    v.status(qid2, "bob@example.com", "sent")
    assert len(v.maildir("d/bob")) == 2


# ---- end to end: sendmail, pickup, cleanup, qmgr, virtual ----------------

def test_end_to_end_virtual_domain(make):
    v = make(qmgr=True, virtual_mailbox_domains="example.com",
             recipient_delimiter="+")
    maps = v.table("vmailbox", "bob@example.com  example.com/bob/\n"
                               "carol@example.com example.com/carol\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    msg = b"".join(line + b"\n" for line in BODY)
    qid = mailsystem.sendmail(v.inst, ["-f", SENDER, "bob+x@example.com",
                                       "carol@example.com",
                                       "nobody@example.com"], msg)
    v.status(qid, "bob+x@example.com", "sent", "delivered to maildir")
    v.status(qid, "carol@example.com", "sent", "delivered to mailbox")
    v.status(qid, "nobody@example.com", "bounced",
             'unknown user: "nobody@example.com"')
    mailsystem.wait_removed(v.inst, qid)
    (m,) = list(v.maildir("example.com/bob"))
    check_message(m, "bob+x@example.com")
    mb = mailbox.mbox(os.path.join(v.base, "example.com/carol"),
                      create=False)
    (m,) = list(mb)
    check_message(m, "carol@example.com")
    mb.close()


def test_end_to_end_local_passes_mailboxes_to_virtual(make):
    """The make run setup: local expands aliases and hands mailbox
    delivery to virtual (mailbox_transport, fallback_transport)."""
    v = make(qmgr=True, local=True, mailbox_transport="virtual",
             fallback_transport="virtual", recipient_delimiter="+",
             myorigin="localhost")
    aliases = v.table("aliases", "postmaster bob\nlist bob, carol\n")
    re_path = os.path.join(v.inst.etc, "vmailbox.regexp")
    with open(re_path, "w") as f:
        f.write("/^carol@/ carol.mbox\n"
                "/^([^.@+\\/][^@+\\/]*)(\\+[^@]*)?(@|$)/ ${1}/Maildir/\n")
    v.inst.set_main(alias_maps=aliases, virtual_mailbox_maps="regexp:"
                    + re_path)
    v.start()
    msg = b"".join(line + b"\n" for line in BODY)
    qid = mailsystem.sendmail(v.inst, ["-f", SENDER, "Bob+x@localhost",
                                       "postmaster@localhost",
                                       "list@localhost"], msg)
    line = v.status(qid, "bob@localhost", "sent", "delivered to maildir")
    assert "orig_to=<postmaster@localhost>" in line or \
        "orig_to=<list@localhost>" in line, line
    v.status(qid, "Bob+x@localhost", "sent", "delivered to maildir")
    v.status(qid, "carol@localhost", "sent", "delivered to mailbox")
    mailsystem.wait_removed(v.inst, qid)
    md = v.maildir("bob/Maildir")
    got = sorted((m["X-Original-To"], m["Delivered-To"]) for m in md)
    assert got == [("Bob+x@localhost", "bob+x@localhost"),
                   ("list@localhost", "bob@localhost"),
                   ("postmaster@localhost", "bob@localhost")], got
    mb = mailbox.mbox(os.path.join(v.base, "carol.mbox"), create=False)
    (m,) = list(mb)
    check_message(m, "carol@localhost", orig="list@localhost")
    mb.close()


# Delivery services that conf/master.cf must have for make run.
DELIVERY_SERVICES = """\
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
"""


def test_make_run_delivers_to_run_mail():
    """scripts/run-instance as README shows it: sendmail to you@localhost,
    the message lands in run/mail/you/Maildir/."""
    top = tempfile.mkdtemp(prefix="petrel-make-run-")
    os.chmod(top, 0o755)
    shutil.copytree(os.path.join(harness.repo_dir(), "conf"),
                    os.path.join(top, "conf"))
    os.mkdir(os.path.join(top, "scripts"))
    shutil.copy(os.path.join(harness.repo_dir(), "scripts", "run-instance"),
                os.path.join(top, "scripts"))
    # The SMTP service on a free loopback port: run-instance would move
    # "smtp" to 2525, which a developer's `make run` may hold (its sed
    # leaves any other name alone).
    mcf = os.path.join(top, "conf", "master.cf")
    with open(mcf) as f:
        text, n = re.subn(r"^smtp(\s+inet\s)",
                          rf"127.0.0.1:{harness.free_port()}\1", f.read(),
                          flags=re.M)
    assert n == 1, "no smtp inet service in conf/master.cf"
    with open(mcf, "w") as f:
        f.write(text)
    # Until conf/master.cf has them: the delivery services it lacks.
    with open(mcf) as f:
        have = {ln.split()[0] for ln in f if ln[:1].isalpha()}
    with open(mcf, "a") as f:
        for ln in DELIVERY_SERVICES.splitlines():
            if ln.split()[0] not in have:
                f.write(ln + "\n")
    run = os.path.join(top, "run")
    out_path = os.path.join(top, "out.log")
    env = {k: val for k, val in os.environ.items()
           if not k.startswith("SUDO_") and k != "MAIL_CONFIG"}
    san = os.path.join(top, "san")
    os.mkdir(san)
    os.chmod(san, 0o1777)
    if os.environ.get("PETREL_SANITIZED"):
        # As harness.py: reports in files (checked below), no leak checks.
        env["ASAN_OPTIONS"] = f"log_path={san}/asan:detect_leaks=0"
        env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={san}/ubsan"
    build = harness.build_dir()
    petrel = os.path.join(build, "src", "petrel")
    me = "petrel" if ROOT else pwd.getpwuid(os.getuid()).pw_name

    def out():
        with open(out_path, errors="replace") as f:
            return f.read()

    with open(out_path, "w") as log:
        proc = subprocess.Popen(
            ["sh", os.path.join(top, "scripts", "run-instance"), build],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env)
    try:
        assert harness.wait_for(lambda: "daemon started" in out(), 30), out()
        r = subprocess.run(
            [os.path.join(build, "src", "sendmail"), "-C",
             os.path.join(run, "etc"), "you@localhost", "root@localhost"],
            input=b"Subject: hi\n\nhello\n", capture_output=True,
            timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        sent = (r"to=<%s>, %srelay=virtual, .*"
                r"status=sent \(delivered to maildir\)")
        assert harness.wait_for(lambda: re.search(
            sent % ("you@localhost", ""), out()), 30), out()
        assert harness.wait_for(lambda: re.search(
            sent % (f"{me}@localhost", r"orig_to=<root@localhost>, "),
            out()), 30), out()
        for user, orig in (("you", "you@localhost"), (me, "root@localhost")):
            md = mailbox.Maildir(os.path.join(run, "mail", user, "Maildir"),
                                 factory=None, create=False)
            (m,) = list(md)
            assert m["Subject"] == "hi"
            assert m["X-Original-To"] == orig
            assert body_of(m) == b"hello\n"
        assert os.listdir(san) == [], "sanitizer reports in " + san
    finally:
        subprocess.run([petrel, "-c", os.path.join(run, "etc"), "stop"],
                       capture_output=True, timeout=60, env=env)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(top, ignore_errors=True)


# ---- Dovecot reads what we wrote -------------------------------------------

def dovecot_conf(d, port, maildir, vuser):
    name, uid, gid = vuser
    if ROOT:
        internal = "dovecot" if _user_exists("dovecot") else "nobody"
        login = "dovenull" if _user_exists("dovenull") else internal
    else:
        internal = login = name
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write(f"{name}:{{PLAIN}}secret:{uid}:{gid}::"
                f"{os.path.dirname(maildir)}::\n")
    conf = f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{maildir}
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""
    path = os.path.join(d, "dovecot.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.mark.skipif(shutil.which("dovecot") is None,
                    reason="dovecot-core is not installed (scripts/bootstrap)")
def test_dovecot_reads_the_maildir(make, vuser):
    name = vuser[0]
    v = make()
    maps = v.table("vmailbox", f"{name}@example.com  {name}/Maildir/\n")
    v.inst.set_main(virtual_mailbox_maps=maps)
    v.start()
    rcpt = f"{name}@example.com"
    qid, _, _ = v.deliver([rcpt], want="D")
    v.status(qid, rcpt, "sent", "delivered to maildir")
    maildir = os.path.join(v.base, name, "Maildir")

    d = tempfile.mkdtemp(prefix="petrel-dovecot-")
    os.chmod(d, 0o755)
    port = harness.free_port()
    conf = dovecot_conf(d, port, maildir, vuser)
    # dovecot daemonizes: its children must not hold our pipes.
    with open(os.path.join(d, "start.err"), "w+") as err:
        r = subprocess.run(["dovecot", "-c", conf], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=30)
        err.seek(0)
        start_err = err.read()
    try:
        assert r.returncode == 0, start_err + _read(d, "dovecot.log")
        assert harness.wait_for(lambda: harness.port_listening(port), 15), \
            "dovecot did not listen\n" + _read(d, "dovecot.log")
        imap = imaplib.IMAP4("127.0.0.1", port)
        try:
            imap.login(name, "secret")
            typ, data = imap.select("INBOX")
            assert typ == "OK" and data == [b"1"], (typ, data)
            typ, data = imap.fetch("1", "(RFC822)")
            assert typ == "OK", data
            raw = data[0][1]
            imap.logout()
        finally:
            try:
                imap.shutdown()
            except OSError:
                pass
        lines = raw.replace(b"\r\n", b"\n").split(b"\n")
        assert lines[:3] == [b"Return-Path: <joe@example.net>",
                             b"X-Original-To: " + rcpt.encode(),
                             b"Delivered-To: " + rcpt.encode()]
        assert b"\n".join(lines[3:]) == b"\n".join(BODY) + b"\n"

        fetched = subprocess.run(
            ["doveadm", "-c", conf, "fetch", "-u", name, "hdr body",
             "mailbox", "INBOX", "all"],
            capture_output=True, text=True, timeout=30)
        assert fetched.returncode == 0, fetched.stderr
        assert "Delivered-To: " + rcpt in fetched.stdout
        assert "Subject: virtual test" in fetched.stdout
        assert "From the start of a line" in fetched.stdout
    finally:
        dovecot_stop(d, conf)
        shutil.rmtree(d, ignore_errors=True)


def dovecot_stop(d, conf):
    """Stop the Dovecot of conf: doveadm stop, then its master's pid."""
    try:
        with open(os.path.join(d, "run", "master.pid")) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    subprocess.run(["doveadm", "-c", conf, "stop"], capture_output=True,
                   timeout=30)
    if not harness.wait_for(lambda: not harness.pid_alive(pid), 10):
        os.kill(pid, 9)
        harness.wait_for(lambda: not harness.pid_alive(pid), 5)


def _read(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read()
    except OSError:
        return ""
