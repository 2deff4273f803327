"""
test_local.py - the local delivery agent (src/local)

A real instance runs the agent from master.cf (`local unix - n n - -
local`). Most tests drive it as qmgr does: a queue file written with
qfile_writer.py is placed in active/, and a delivery request
(deliver_request.h) goes over private/local with mailproto.RawClient.
Each test then checks the reply (one result letter per recipient: 'D'
done, 'R' retry), the Postfix-format log lines (one per destination an
alias expands to), the bounce/ and defer/ logs, and what was written:
mbox files read back with Python's mailbox.mbox, Maildirs with
mailbox.Maildir, files written by commands, new queue files of
forwarded mail. When qmgr delivers, end-to-end tests submit with
sendmail and wait for the log line.

Covered: aliases (to one user, several, a remote address, /file,
|command, :include:, owner-NAME as envelope sender, loops, a name that
aliases to itself, allow_mail_to_commands / allow_mail_to_files, table
owner rights), .forward (another user, \\self plus a copy, bad mode or
owner ignored), mbox (From_ line, >From quoting, Return-Path,
X-Original-To, Delivered-To), Maildir (home_mailbox), mailbox_command
(environment, exit 75 defers, 67 bounces, time limit), address
extensions, unknown users (5.1.1), luser_relay, fallback_transport and
mailbox_transport (passing, "transport:nexthop" with the next hop in the
pass request, a bad transport name), Delivered-To loops, double-bounce
discarded, unwritable and foreign-owned mailboxes, mailbox_size_limit,
and, as root, delivery as real system users (created here with useradd
and removed afterwards), root's own mailbox written as root while its
mailbox_command runs as default_privs, and spool directories the users
cannot write to (2775 with a group made here, 755 root): lock file and
new mailbox made with the directory's rights, no warning.

As root the agent takes the users' rights; as an ordinary user it runs
as itself, and only the tests that need no other user run (with the
current user as the recipient).
"""

import grp
import mailbox
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

import harness
import mailproto
import mailsystem
import qfile_writer as qw

ROOT = os.geteuid() == 0
need_root = pytest.mark.skipif(not ROOT, reason="needs root (system users)")

SENDER = "joe@example.net"
BODY = [b"Subject: local test", b"From: Joe <joe@example.net>",
        b"Message-ID: <lt1@example.net>", b"", b"hello there",
        b"From the start of a line", b">From quoted already", b"bye"]


# ---- users ----------------------------------------------------------------

class User:
    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name = name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.home = pw.pw_dir


@pytest.fixture(scope="module")
def users():
    """Three system users with homes in a temporary directory (root), or
    the current user alone."""
    if not ROOT:
        yield [User(pwd.getpwuid(os.getuid()).pw_name)]
        return
    base = tempfile.mkdtemp(prefix="petrel-local-home-")
    os.chmod(base, 0o755)
    names = ["plt%d%s" % (os.getpid() % 100000, c) for c in "abc"]
    made = []
    try:
        for name in names:
            subprocess.run(["useradd", "-m", "-U", "-d",
                            os.path.join(base, name), "-s", "/bin/sh",
                            name], check=True, capture_output=True)
            made.append(name)
        yield [User(n) for n in names]
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)
            try:
                grp.getgrnam(name)
                subprocess.run(["groupdel", name], capture_output=True)
            except KeyError:
                pass
        shutil.rmtree(base, ignore_errors=True)


# ---- instances ------------------------------------------------------------

def agent_program(inst, name):
    """build/src/NAME, or build/src/NAME/NAME while the build puts
    subdirectory programs there."""
    path = os.path.join(inst.src, name)
    if os.path.isdir(path):
        path = os.path.join(path, name)
    return path


class L:
    """An instance with the local agent, a spool directory, an alias
    table and a directory that commands run as anyone can write to."""

    def __init__(self, qmgr=False, aliases="", **params):
        p = dict(mailsystem.MAIN)
        p["mydestination"] = "$myhostname, localhost.$mydomain, " \
                             "localhost, $mydomain"
        self.inst = harness.Instance(**p)
        self.dir = self.inst.dir
        self.spool = self.path("spool")
        os.mkdir(self.spool)
        os.chmod(self.spool, 0o1777)
        self.out = self.path("out")
        os.mkdir(self.out)
        os.chmod(self.out, 0o1777)
        self.aliases = self.path("etc", "aliases")
        defaults = {
            "mail_spool_directory": self.spool,
            "alias_maps": "hash:" + self.aliases,
            "alias_database": "hash:" + self.aliases,
            "deliver_lock_attempts": "2",
        }
        defaults.update(params)
        self.inst.set_main(**defaults)
        self.write_aliases(aliases)
        mailsystem.add_services(self.inst, qmgr=qmgr, bounce=qmgr,
                                virtual=False)
        # As conf/master.cf: private/local, unprivileged n.
        self.inst.replace_service("local", agent_program(self.inst, "local"),
                                  private="-", unpriv="n")
        if qmgr:
            self.inst.replace_service("bounce", "bounce", private="-",
                                      maxproc=0)
        self.seq = 0

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_aliases(self, text):
        with open(self.aliases, "w") as f:
            f.write(text)
        r = self.inst.petrel("alias", "hash:" + self.aliases)
        assert r.returncode == 0, r.stderr

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
        path = self.path("queue", "active", qid)
        qw.write_queue_file(path, data)
        if ROOT:
            pw = pwd.getpwnam("petrel")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        offs = [r.offset for r in qw.parse_records(data)
                if r.type == qw.RCPT]
        return qid, path, offs

    def request(self, qid, offs):
        pairs = [("flags", 0), ("queue_name", "active"),
                 ("queue_id", qid), ("nexthop", "example.com"),
                 ("recipients", " ".join(str(o) for o in offs)),
                 ("queue_time", "0")]
        c = mailproto.RawClient(self.path("queue", "private", "local"),
                                timeout=60)
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
            assert reply["results"] == want, (reply, self.inst.log())
        return qid

    # -- checks --

    def status(self, qid, to, status, text=None, orig=None):
        """Wait for the log line of one destination (with orig_to=<orig>
        when given); returns it."""
        regex = re.escape(qid) + r": to=<" + re.escape(to) + r">, "
        if orig is not None:
            regex += r"orig_to=<" + re.escape(orig) + r">, "
        regex += r".*status=" + re.escape(status) + r"\b.*$"
        # With qmgr the line ends a chain of daemons (qmgr, local):
        # as long as mailsystem.wait_status waits.
        m = self.inst.wait_log(regex, timeout=30)
        assert m, f"no status={status} for {to} of {qid}\n{self.inst.log()}"
        line = m[-1].group(0)
        assert "relay=local," in line, line
        if text is not None:
            assert f"({text})" in line, line
        return line

    def lines(self, qid):
        return [m.group(0) for m in self.inst.grep(
            re.escape(qid) + r": to=<.*$")]

    def warning(self, regex):
        m = self.inst.wait_log(r"petrel/local\[\d+\]: warning: " + regex)
        assert m, f"no warning {regex!r}\n{self.inst.log()}"
        return m[-1].group(0)

    def log_entries(self, kind, qid):
        """Entries of bounce/, defer/ or trace/ for qid, as dicts."""
        for dirpath, _, files in os.walk(self.path("queue", kind)):
            if qid in files:
                with open(os.path.join(dirpath, qid)) as f:
                    text = f.read()
                return [dict(line.split("=", 1)
                             for line in block.splitlines())
                        for block in text.split("\n\n") if block.strip()]
        return []

    def mbox(self, path):
        """The messages of an mbox file."""
        mb = mailbox.mbox(path, create=False)
        try:
            return [mb.get_message(k) for k in mb.keys()]
        finally:
            mb.close()

    def spool_mbox(self, user):
        return self.mbox(os.path.join(self.spool, user.name))

    def queue_files(self):
        """Parsed queue files in incoming/, active/ (but not ours) and
        deferred/ made by cleanup."""
        out = []
        for q in ("incoming", "deferred", "hold"):
            for qid in mailsystem.queue_ids(self.inst, q):
                for dirpath, _, files in os.walk(self.path("queue", q)):
                    if qid in files:
                        out.append((qid, mailproto.QueueFile.load(
                            os.path.join(dirpath, qid))))
        return out

    def close(self):
        log = self.inst.log()
        problems = self.inst.cleanup()
        if problems:
            pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                        pytrace=False)


@pytest.fixture
def make(request, users):
    made = []

    def factory(**params):
        lo = L(**params)
        made.append(lo)
        request.node.petrel_instance = lo.inst
        return lo

    yield factory
    for lo in made:
        lo.close()
    if ROOT:
        # The users outlive a test: what a test left in their homes goes.
        for u in users:
            for name in (".forward", "Maildir"):
                path = os.path.join(u.home, name)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                elif os.path.exists(path):
                    os.unlink(path)


def body_of(msg):
    payload = msg.get_payload(decode=False)
    return payload.encode() if isinstance(payload, str) else payload


def check_message(msg, orig, delivered=None, sender=SENDER):
    """local(8)'s header lines first, in Postfix's order, then the
    message's own."""
    keys = list(msg.keys())
    assert keys[:3] == ["Return-Path", "X-Original-To", "Delivered-To"], keys
    assert msg["Return-Path"] == f"<{sender}>"
    assert msg["X-Original-To"] == orig
    assert msg["Delivered-To"] == (delivered or orig).lower()
    assert msg["Subject"] == "local test"


def addr(user, domain="example.com"):
    return f"{user.name}@{domain}"


def write(path, text, mode=0o644, owner=None):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None and ROOT:
        os.chown(path, owner.uid, owner.gid)


def wait_file(path, timeout=10):
    assert harness.wait_for(lambda: os.path.exists(path), timeout), \
        f"{path} not written"
    return path


# ---- mailboxes ------------------------------------------------------------

def test_alias_to_user_mbox(make, users):
    u = users[0]
    lo = make(aliases=f"team: {u.name}\n").start()
    qid = lo.deliver(["team@example.com"], want="D")
    lo.status(qid, addr(u), "sent", "delivered to mailbox",
              orig="team@example.com")
    (m,) = lo.spool_mbox(u)
    check_message(m, "team@example.com")
    assert m.get_from().startswith(SENDER + " ")
    raw = open(os.path.join(lo.spool, u.name), "rb").read()
    # mboxrd: every ">*From " line gets one more '>'.
    assert b"\n>From the start of a line\n" in raw
    assert b"\n>>From quoted already\n" in raw
    assert raw.endswith(b"bye\n\n")
    st = os.stat(os.path.join(lo.spool, u.name))
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (u.uid, u.gid)
    assert lo.log_entries("bounce", qid) == []


@need_root
def test_alias_to_several_users_and_self(make, users):
    a, b, c = users
    lo = make(aliases=f"staff: {a.name}, {b.name}@localhost\n"
                      f"{c.name}: {c.name}, {a.name}\n"
                      f"dup: {a.name}, {a.name}@example.com, staff\n"
              ).start()
    qid = lo.deliver(["staff@example.com", addr(c), "dup@example.com"],
                     want="DDD")
    lo.status(qid, addr(a), "sent", "delivered to mailbox",
              orig="staff@example.com")
    lo.status(qid, f"{b.name}@localhost", "sent", "delivered to mailbox")
    # c aliases to itself: its own mailbox, plus a copy to a.
    lo.status(qid, addr(c), "sent", "delivered to mailbox")
    assert len(lo.spool_mbox(a)) == 3
    # Once for staff, once for dup (another recipient of the message).
    assert len(lo.spool_mbox(b)) == 2
    (m,) = lo.spool_mbox(c)
    check_message(m, addr(c))
    # dup: a once, whichever way it is named.
    dup = [ln for ln in lo.lines(qid) if "orig_to=<dup@" in ln]
    assert sorted(re.search(r"to=<([^>]*)>", ln).group(1) for ln in dup) \
        == sorted([addr(a), f"{b.name}@localhost"]), dup
    for u in (a, b, c):
        st = os.stat(os.path.join(lo.spool, u.name))
        assert st.st_uid == u.uid


def test_alias_maps_inline_table(make, users):
    """alias_maps is split as every *_maps list: not inside braces, so an
    inline:{...} table keeps its entries separated by ", " (it was once
    cut there, and the broken halves deferred all mail). The first table
    that knows a name wins; the next one is asked for the others."""
    u = users[0]
    other = users[-1]
    lo = make(aliases=f"team: {other.name}\nhashonly: {u.name}\n")
    lo.inst.set_main(alias_maps=f"inline:{{team={u.name}, staff={u.name}}}, "
                                f"hash:{lo.aliases}")
    lo.start()
    qid = lo.deliver(["team@example.com", "staff@example.com",
                      "hashonly@example.com"], want="DDD")
    for alias in ("team", "staff", "hashonly"):
        lo.status(qid, addr(u), "sent", "delivered to mailbox",
                  orig=f"{alias}@example.com")
    msgs = lo.spool_mbox(u)
    assert sorted(m["X-Original-To"] for m in msgs) == [
        "hashonly@example.com", "staff@example.com", "team@example.com"]
    if other is not u:
        assert not os.path.exists(os.path.join(lo.spool, other.name))


def test_alias_table_failure_defers(make, users):
    """A table of alias_maps that cannot be read defers the recipient:
    neither "no alias" nor the next table's answer. The warning names
    the parameter and the table."""
    u = users[0]
    lo = make(aliases=f"x: {u.name}\n")
    missing = lo.path("etc", "missing")
    lo.inst.set_main(alias_maps=f"hash:{missing}, hash:{lo.aliases}")
    lo.start()
    qid = lo.deliver(["x@example.com"], want="R")
    lo.status(qid, "x@example.com", "deferred", "alias database unavailable")
    lo.warning(r"alias lookup of x: alias_maps: hash:" + re.escape(missing)
               + r": open " + re.escape(missing) + r"\.lmdb: No such file")
    assert not os.path.exists(os.path.join(lo.spool, u.name))
    (e,) = lo.log_entries("defer", qid)
    assert e["status"] == "4.3.0"


@pytest.mark.parametrize("where", ["home Maildir/", "home mbox",
                                   "spool Maildir"])
def test_maildir_and_home_mailbox(make, users, where):
    u = users[0]
    if where.startswith("home") and not ROOT:
        pytest.skip("would write into the real home directory")
    if where == "home Maildir/":
        lo = make(home_mailbox="Maildir/").start()
        path = os.path.join(u.home, "Maildir")
    elif where == "home mbox":
        lo = make(home_mailbox="Maildir").start()
        path = os.path.join(u.home, "Maildir")
    else:
        lo = make()
        lo.inst.set_main(mail_spool_directory=lo.spool + "/")
        lo.start()
        path = os.path.join(lo.spool, u.name)
    qid = lo.deliver([addr(u)], want="D")
    if where == "home mbox":
        lo.status(qid, addr(u), "sent", "delivered to mailbox")
        (m,) = lo.mbox(path)
        check_message(m, addr(u))
        assert os.stat(path).st_uid == u.uid
        assert not os.path.exists(os.path.join(lo.spool, u.name))
        return
    lo.status(qid, addr(u), "sent", "delivered to maildir")
    md = mailbox.Maildir(path, factory=None, create=False)
    (m,) = [md.get_message(k) for k in md.keys()]
    check_message(m, addr(u))
    # No From_ line and no quoting in a Maildir.
    assert b"\nFrom the start of a line\n" in b"\n" + body_of(m)
    assert b"\n>From quoted already\n" in b"\n" + body_of(m)
    for sub in ("tmp", "new", "cur"):
        st = os.stat(os.path.join(path, sub))
        assert st.st_uid == u.uid
        assert stat.S_IMODE(st.st_mode) == 0o700
    (name,) = os.listdir(os.path.join(path, "new"))
    assert os.stat(os.path.join(path, "new", name)).st_uid == u.uid


def test_extension_and_unknown_user(make, users):
    u = users[0]
    lo = make(aliases="list: " + u.name + "\n", recipient_delimiter="+")
    lo.start()
    qid = lo.deliver([f"{u.name}+Foo@example.com", "list+bar@example.com",
                      "nosuchuser+x@example.com"], want="DDD")
    lo.status(qid, f"{u.name}+Foo@example.com", "sent",
              "delivered to mailbox")
    lo.status(qid, addr(u), "sent", "delivered to mailbox",
              orig="list+bar@example.com")
    line = lo.status(qid, "nosuchuser+x@example.com", "bounced",
                     'unknown user: "nosuchuser"')
    assert "dsn=5.1.1" in line
    msgs = lo.spool_mbox(u)
    assert sorted(m["Delivered-To"] for m in msgs) == [
        "list+bar@example.com", f"{u.name}+foo@example.com"]
    (e,) = lo.log_entries("bounce", qid)
    assert e["recipient"] == "nosuchuser+x@example.com"
    assert e["status"] == "5.1.1"
    assert e["action"] == "failed"


def test_double_bounce_and_postmaster_discarded(make):
    lo = make().start()
    qid = lo.deliver(["double-bounce@example.com", "postmaster@localhost"],
                     want="DD")
    lo.status(qid, "double-bounce@example.com", "sent", "discarded")
    lo.status(qid, "postmaster@localhost", "sent", "discarded")
    lo.warning("required alias not found: postmaster")
    assert lo.log_entries("bounce", qid) == []


def test_unwritable_and_foreign_mailbox(make, users):
    u = users[0]
    lo = make(mailbox_size_limit="2000").start()
    box = os.path.join(lo.spool, u.name)
    # A mailbox owned by someone else: the administrator has to look.
    if ROOT:
        write(box, "", 0o600, owner=User("nobody"))
        qid = lo.deliver([addr(u)], want="R")
        lo.status(qid, addr(u), "deferred",
                  f"destination {box} is not owned by recipient")
        lo.warning(r'specify "strict_mailbox_ownership = no"')
        (e,) = lo.log_entries("defer", qid)
        assert e["status"] == "4.2.0"
        assert os.path.getsize(box) == 0
        os.unlink(box)
    # Too big for mailbox_size_limit: returned.
    qid = lo.deliver([addr(u)], lines=BODY + [b"x" * 3000], want="D")
    line = lo.status(qid, addr(u), "bounced")
    assert "dsn=5.2.2" in line and "mailbox full" in line, line
    # A mailbox the recipient cannot write to.
    write(box, "", 0o400, owner=u)
    if ROOT:
        qid = lo.deliver([addr(u)], want="D")
        line = lo.status(qid, addr(u), "bounced")
        assert f"cannot open mailbox {box}: Permission denied" in line
    os.chmod(box, 0o600)
    # A dot lock held by someone else: try again later.
    write(box + ".lock", "", 0o644)
    qid = lo.deliver([addr(u)], want="R")
    line = lo.status(qid, addr(u), "deferred")
    assert f"lock file {box}.lock is held by another process" in line
    os.unlink(box + ".lock")
    qid = lo.deliver([addr(u)], want="D")
    lo.status(qid, addr(u), "sent", "delivered to mailbox")
    assert not os.path.exists(box + ".lock")
    assert len(lo.spool_mbox(u)) == 1


@need_root
def test_foreign_mailbox_without_strict_ownership(make, users):
    u = users[0]
    lo = make(strict_mailbox_ownership="no").start()
    box = os.path.join(lo.spool, u.name)
    write(box, "", 0o666, owner=User("nobody"))
    qid = lo.deliver([addr(u)], want="D")
    lo.status(qid, addr(u), "sent", "delivered to mailbox")
    assert os.stat(box).st_uid == User("nobody").uid
    assert len(lo.spool_mbox(u)) == 1


@need_root
def test_root_mailbox_is_roots(make):
    """local(8): root's mailbox (spool file or Maildir) is written as
    root; a mailbox_command for root runs with default_privs' IDs and
    root's name and home."""
    nobody = User("nobody")
    lo = make().start()
    box = os.path.join(lo.spool, "root")
    for n in (1, 2):
        qid = lo.deliver(["root@example.com"], want="D")
        lo.status(qid, "root@example.com", "sent", "delivered to mailbox")
        assert len(lo.mbox(box)) == n
    st = os.stat(box)
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert stat.S_IMODE(st.st_mode) == 0o600
    check_message(lo.mbox(box)[0], "root@example.com")
    assert not os.path.exists(box + ".lock")

    # A Maildir (mail_spool_directory ending in '/') is root's too.
    md = make()
    md.inst.set_main(mail_spool_directory=md.spool + "/")
    md.start()
    qid = md.deliver(["root@example.com"], want="D")
    md.status(qid, "root@example.com", "sent", "delivered to maildir")
    (name,) = os.listdir(os.path.join(md.spool, "root", "new"))
    st = os.stat(os.path.join(md.spool, "root", "new", name))
    assert (st.st_uid, st.st_gid) == (0, 0)

    # Commands on root's behalf: default_privs.
    cmd = make()
    cmd.inst.append_main(f"mailbox_command = id -u > {cmd.out}/uid; "
                         f"echo \"$USER $HOME\" > {cmd.out}/env\n")
    cmd.start()
    qid = cmd.deliver(["root@example.com"], want="D")
    cmd.status(qid, "root@example.com", "sent")
    assert open(f"{cmd.out}/uid").read().strip() == str(nobody.uid)
    assert open(f"{cmd.out}/env").read().strip() == \
        f"root {pwd.getpwnam('root').pw_dir}"
    assert not os.path.exists(os.path.join(cmd.spool, "root"))


@pytest.fixture(scope="module")
def spool_group():
    """A group made for this module (root): the spool directory's."""
    if not ROOT:
        yield None
        return
    name = None
    for suffix in ("", "a", "b", "c"):
        name = f"plg{os.getpid() % 100000}{suffix}"
        r = subprocess.run(["groupadd", name], capture_output=True)
        if r.returncode != 9:           # 9: the name exists
            break
    assert r.returncode == 0, r.stderr
    try:
        yield grp.getgrnam(name)
    finally:
        subprocess.run(["groupdel", name], capture_output=True)


@need_root
@pytest.mark.parametrize("spool", ["2775 group", "755 root"])
def test_spool_directory_rights(make, users, spool_group, spool):
    """As Postfix: the lock file and a new mailbox are made with the
    rights that can write into the spool directory (the user with the
    directory's group, or root); the message is written as the user."""
    u = users[0]
    lo = make()
    if spool == "2775 group":
        os.chown(lo.spool, 0, spool_group.gr_gid)
        os.chmod(lo.spool, 0o2775)
        gid = spool_group.gr_gid
    else:
        os.chown(lo.spool, 0, 0)
        os.chmod(lo.spool, 0o755)
        gid = u.gid
    lo.start()
    box = os.path.join(lo.spool, u.name)
    for n in (1, 2):                    # created, then appended to
        qid = lo.deliver([addr(u)], want="D")
        lo.status(qid, addr(u), "sent", "delivered to mailbox")
        assert len(lo.spool_mbox(u)) == n
    st = os.stat(box)
    assert (st.st_uid, st.st_gid) == (u.uid, gid)
    assert stat.S_IMODE(st.st_mode) == 0o600
    # The lock was made and removed: no warning, nothing left behind.
    assert not lo.inst.grep(r"cannot create lock file"), lo.inst.log()
    assert not lo.inst.grep(r"warning:"), lo.inst.log()
    assert os.listdir(lo.spool) == [u.name]
    # And it is a lock: one held by someone else defers.
    write(box + ".lock", "", 0o644)
    qid = lo.deliver([addr(u)], want="R")
    line = lo.status(qid, addr(u), "deferred")
    assert f"lock file {box}.lock is held by another process" in line
    assert os.path.exists(box + ".lock")
    os.unlink(box + ".lock")
    assert len(lo.spool_mbox(u)) == 2


# ---- files, commands, includes ------------------------------------------

@need_root
def test_alias_file_command_include_rights(make, users):
    a, b, _ = users
    nobody = User("nobody")
    lo = make(allow_mail_to_commands="alias, forward, include",
              allow_mail_to_files="alias, forward, include")
    inc = lo.path("etc", "list.inc")
    write(inc, f"# members\n{a.name}\n\"|id -u > {lo.out}/inc.uid\"\n"
          f"{lo.out}/inc.mbox\n", 0o644, owner=b)
    lo.write_aliases(
        f"arch: {lo.out}/archive, \"|id -u >{lo.out}/cmd.uid; "
        f"cat > {lo.out}/cmd.msg\"\n"
        f"members: :include:{inc}\n")
    lo.start()
    qid = lo.deliver(["arch@example.com", "members@example.com"],
                     want="DD")
    lo.status(qid, f"{lo.out}/archive", "sent",
              f"delivered to file: {lo.out}/archive",
              orig="arch@example.com")
    cmd = f"|id -u >{lo.out}/cmd.uid; cat > {lo.out}/cmd.msg"
    lo.status(qid, cmd, "sent", "delivered to command: " + cmd[1:])
    lo.status(qid, addr(a), "sent", "delivered to mailbox",
              orig="members@example.com")
    lo.status(qid, f"{lo.out}/inc.mbox", "sent")

    # The alias table is root's: default_privs; the include file b's.
    (m,) = lo.mbox(f"{lo.out}/archive")
    check_message(m, "arch@example.com")
    assert os.stat(f"{lo.out}/archive").st_uid == nobody.uid
    assert open(f"{lo.out}/cmd.uid").read().strip() == str(nobody.uid)
    msg = open(f"{lo.out}/cmd.msg", "rb").read()
    assert msg.startswith(b"From " + SENDER.encode() + b" ")
    lines = msg.split(b"\n")
    assert lines[1:4] == [b"Return-Path: <joe@example.net>",
                          b"X-Original-To: arch@example.com",
                          b"Delivered-To: arch@example.com"]
    # Commands get the message as it is: no quoting.
    assert b"\nFrom the start of a line\n" in msg
    assert open(f"{lo.out}/inc.uid").read().strip() == str(b.uid)
    assert os.stat(f"{lo.out}/inc.mbox").st_uid == b.uid
    assert len(lo.spool_mbox(a)) == 1

    # A table owned by a user gives that user's rights.
    lo2 = make()
    lo2.write_aliases(f"arch: \"|id -u >{lo2.out}/cmd.uid\"\n")
    for f in os.listdir(lo2.path("etc")):
        if f.startswith("aliases"):
            os.chown(lo2.path("etc", f), a.uid, a.gid)
    lo2.start()
    qid = lo2.deliver(["arch@example.com"], want="D")
    lo2.status(qid, f"|id -u >{lo2.out}/cmd.uid", "sent")
    assert open(f"{lo2.out}/cmd.uid").read().strip() == str(a.uid)


def test_world_writable_include_refused(make):
    lo = make()
    inc = lo.path("etc", "bad.inc")
    write(inc, f"{lo.out}/never\n", 0o666)
    os.chmod(inc, 0o666)
    lo.write_aliases(f"bad: :include:{inc}\n")
    lo.start()
    qid = lo.deliver(["bad@example.com"], want="D")
    line = lo.status(qid, f":include:{inc}", "bounced",
                     f"include file {inc} is world writable")
    assert "dsn=5.7.1" in line
    assert not os.path.exists(f"{lo.out}/never")


def test_refused_file_and_command(make):
    lo = make(allow_mail_to_commands="forward",
              allow_mail_to_files="forward, include")
    lo.write_aliases(f"x: \"|touch {lo.out}/ran\", {lo.out}/file\n")
    lo.start()
    qid = lo.deliver(["x@example.com"], want="D")
    line = lo.status(qid, f"|touch {lo.out}/ran", "bounced")
    assert "dsn=5.7.1" in line
    assert "mail to command is restricted (allow_mail_to_commands): " \
        f"\"|touch {lo.out}/ran\" in alias x" in line
    line = lo.status(qid, f"{lo.out}/file", "bounced")
    assert "dsn=5.7.1" in line
    assert "mail to file is restricted (allow_mail_to_files)" in line
    assert os.listdir(lo.out) == []
    # Logged under the alias recipient, the destination in the reason.
    entries = lo.log_entries("bounce", qid)
    assert [e["recipient"] for e in entries] == ["x@example.com"] * 2
    assert sorted(e["reason"].split(": ")[0] for e in entries) == sorted(
        [f"|touch {lo.out}/ran", f"{lo.out}/file"])
    assert all(e["status"] == "5.7.1" for e in entries)


def test_alias_loop_and_delivered_to_loop(make):
    lo = make(aliases="ping: pong\npong: ping\n").start()
    qid = lo.deliver(["ping@example.com"], want="D")
    # ping -> pong -> ping again: ping's own mailbox, and no such user.
    line = lo.status(qid, "ping@example.com", "bounced",
                     'unknown user: "ping"')
    assert "dsn=5.1.1" in line
    assert len(lo.lines(qid)) == 1

    # A message that was delivered to this address before is looping.
    looped = [b"Delivered-To: Ping@Example.com"] + BODY
    qid = lo.deliver(["ping@example.com"], lines=looped, want="D")
    line = lo.status(qid, "ping@example.com", "bounced",
                     "mail forwarding loop for ping@example.com")
    assert "dsn=5.4.6" in line


# ---- mailbox_command ------------------------------------------------------

SCRIPT = """#!/bin/sh
case "$EXTENSION" in
tempfail) echo "try later please" ; exit 75 ;;
nouser) echo "no such mailbox here"; echo second line; exit 67 ;;
crash) exit 3 ;;
slow) sleep 30 ;;
esac
env > "{out}/env.$EXTENSION"
cat > "{out}/msg.$EXTENSION"
exit 0
"""


def test_mailbox_command(make, users):
    u = users[0]
    lo = make(recipient_delimiter="+", command_time_limit="2s")
    script = lo.path("etc", "deliver.sh")
    write(script, SCRIPT.format(out=lo.out), 0o755)
    # Not $-expanded by main.cf: the shell sees "$HOME".
    lo.inst.append_main(f"mailbox_command = {script} \"$HOME\"\n")
    lo.start()
    rcpts = [f"{u.name}+ok@example.com", f"{u.name}+tempfail@example.com",
             f"{u.name}+nouser@example.com", f"{u.name}+crash@example.com"]
    qid = lo.deliver(rcpts, want="DRDD")
    lo.status(qid, rcpts[0], "sent",
              f"delivered to command: {script} \"$HOME\"")
    line = lo.status(qid, rcpts[1], "deferred",
                     "temporary failure. Command output: try later please")
    assert "dsn=4.3.0" in line
    line = lo.status(qid, rcpts[2], "bounced",
                     "user unknown. Command output: no such mailbox here")
    assert "dsn=5.1.1" in line
    line = lo.status(qid, rcpts[3], "bounced",
                     f"Command died with status 3: \"{script} \"$HOME\"\"")
    assert "dsn=5.3.0" in line

    env = dict(line.split("=", 1) for line in
               open(f"{lo.out}/env.ok").read().splitlines() if "=" in line)
    assert env["USER"] == env["LOGNAME"] == u.name
    assert env["HOME"] == u.home
    assert env["SHELL"] == pwd.getpwnam(u.name).pw_shell
    assert env["RECIPIENT"] == rcpts[0]
    assert env["ORIGINAL_RECIPIENT"] == rcpts[0]
    assert env["LOCAL"] == f"{u.name}+ok"
    assert env["EXTENSION"] == "ok"
    assert env["DOMAIN"] == "example.com"
    assert env["SENDER"] == SENDER
    assert env["PATH"] == "/usr/bin:/bin"
    if ROOT:
        assert os.stat(f"{lo.out}/env.ok").st_uid == u.uid
    msg = open(f"{lo.out}/msg.ok", "rb").read()
    assert msg.startswith(b"From joe@example.net ")
    assert msg.split(b"\n")[1:4] == [
        b"Return-Path: <joe@example.net>",
        b"X-Original-To: " + rcpts[0].encode(),
        b"Delivered-To: " + rcpts[0].lower().encode()]
    assert msg.endswith(b"\nbye\n")

    # command_time_limit: killed, deferred.
    qid = lo.deliver([f"{u.name}+slow@example.com"], want="R")
    lo.status(qid, f"{u.name}+slow@example.com", "deferred",
              f"Command time limit exceeded: \"{script} \"$HOME\"\"")


# ---- .forward -------------------------------------------------------------

@need_root
def test_forward_files(make, users):
    a, b, c = users
    lo = make().start()
    fwd_a = os.path.join(a.home, ".forward")
    fwd_c = os.path.join(c.home, ".forward")
    # a keeps a copy (\a) and sends one to b.
    write(fwd_a, f"# mine\n{b.name}, \\{a.name}\n", 0o644, owner=a)
    # c's .forward is group writable: ignored, the mailbox gets it.
    write(fwd_c, f"{b.name}\n", 0o664, owner=c)
    qid = lo.deliver([addr(a), addr(c)], want="DD")
    lo.status(qid, addr(b), "sent", "delivered to mailbox",
              orig=addr(a))
    lo.status(qid, addr(a), "sent", "delivered to mailbox")
    lo.status(qid, addr(c), "sent", "delivered to mailbox")
    lo.warning(f"file {re.escape(fwd_c)} is group or world writable; "
               "ignored")
    (m,) = lo.spool_mbox(b)
    check_message(m, addr(a))
    assert len(lo.spool_mbox(a)) == 1
    assert len(lo.spool_mbox(c)) == 1

    # Owned by someone else: ignored too.
    write(fwd_c, f"{b.name}\n", 0o644, owner=a)
    qid = lo.deliver([addr(c)], want="D")
    lo.status(qid, addr(c), "sent", "delivered to mailbox")
    lo.warning(f"file {re.escape(fwd_c)} has bad owner uid {a.uid}")
    assert len(lo.spool_mbox(b)) == 1

    # Commands and files from .forward run as the user.
    write(fwd_c, f"\"|id -u > {lo.out}/fwd.uid\"\n", 0o600, owner=c)
    qid = lo.deliver([addr(c)], want="D")
    lo.status(qid, f"|id -u > {lo.out}/fwd.uid", "sent")
    assert open(f"{lo.out}/fwd.uid").read().strip() == str(c.uid)


def test_forward_path_with_extension(make, users):
    """forward_path expanded per recipient; here in a directory of the
    test's, which also works as an ordinary user."""
    u = users[0]
    lo = make(recipient_delimiter="+")
    fdir = lo.path("fwd")
    os.mkdir(fdir)
    os.chmod(fdir, 0o755)
    lo.inst.append_main(
        f"forward_path = {fdir}/$user${{extension?+$extension}}, "
        f"{fdir}/$user\n")
    lo.start()
    write(os.path.join(fdir, u.name + "+box"),
          f"{lo.out}/box-$x\n", 0o600, owner=u)
    write(os.path.join(fdir, u.name), "\\" + u.name + "\n", 0o600, owner=u)
    qid = lo.deliver([f"{u.name}+box@example.com", addr(u)], want="DD")
    lo.status(qid, f"{lo.out}/box-$x", "sent",
              f"delivered to file: {lo.out}/box-$x")
    lo.status(qid, addr(u), "sent", "delivered to mailbox")
    (m,) = lo.mbox(f"{lo.out}/box-$x")
    check_message(m, f"{u.name}+box@example.com")
    assert len(lo.spool_mbox(u)) == 1


# ---- forwarding -----------------------------------------------------------

def test_forward_to_remote_and_owner(make, users):
    u = users[0]
    lo = make(aliases=f"fwd: friend@remote.example, {u.name}\n"
                      "list: one@remote.example, two@remote.example\n"
                      f"owner-list: {u.name}\n").start()
    qid = lo.deliver(["fwd@example.com", "list@example.com"], want="DD")
    line = lo.status(qid, "friend@remote.example", "sent",
                     orig="fwd@example.com")
    new1 = re.search(r"\(forwarded as (\S+)\)", line).group(1)
    lo.status(qid, addr(u), "sent", "delivered to mailbox")
    line = lo.status(qid, "one@remote.example", "sent",
                     orig="list@example.com")
    new2 = re.search(r"\(forwarded as (\S+)\)", line).group(1)
    line = lo.status(qid, "two@remote.example", "sent")
    assert f"forwarded as {new2}" in line
    assert new1 != new2

    files = dict(lo.queue_files())
    assert set(files) >= {new1, new2}, (files, lo.inst.log())
    q1, q2 = files[new1], files[new2]
    assert q1.sender == SENDER
    assert [r[0] for r in q1.rcpts] == ["friend@remote.example"]
    assert q1.headers()[0] == ("Delivered-To", "fwd@example.com")
    assert q1.header("Subject") == ["local test"]
    assert b"From the start of a line" in q1.body()
    assert q1.attrs["log_ident"] == qid
    # owner-list exists: problems go to the list owner.
    assert q2.sender == "owner-list@example.com"
    assert sorted(r[0] for r in q2.rcpts) == ["one@remote.example",
                                             "two@remote.example"]
    assert q2.headers()[0] == ("Delivered-To", "list@example.com")


def test_luser_relay(make, users):
    u = users[0]
    lo = make(luser_relay=f"{u.name}@example.com").start()
    qid = lo.deliver(["stranger@example.com"], want="D")
    lo.status(qid, addr(u), "sent", "delivered to mailbox",
              orig="stranger@example.com")
    (m,) = lo.spool_mbox(u)
    check_message(m, "stranger@example.com")


@pytest.mark.parametrize("param", ["fallback_transport",
                                   "mailbox_transport"])
def test_passing_to_missing_transport_defers(make, users, param):
    u = users[0]
    lo = make(**{param: "nosuchtransport"}).start()
    rcpt = "stranger@example.com" if param == "fallback_transport" \
        else addr(u)
    qid = lo.deliver([rcpt], want="R")
    line = lo.status(qid, rcpt, "deferred")
    assert "mail transport unavailable" in line, line
    (e,) = lo.log_entries("defer", qid)
    assert e["status"].startswith("4.")
    assert not os.path.exists(os.path.join(lo.spool, u.name))


class FakeAgent:
    """A delivery agent at private/NAME: answers DONE to one request and
    keeps its attributes."""

    def __init__(self, lo, name):
        path = lo.path("queue", "private", name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.got = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(30)
                data = b""
                pairs, _ = mailproto.attr_parse(data)
                while pairs is None:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                    pairs, _ = mailproto.attr_parse(data)
                self.got = {n: v.decode() for n, v in pairs}
                conn.sendall(mailproto.encode(("status", 0),
                                              ("results", "D"),
                                              ("reason", "")))
        finally:
            self.sock.close()

    def request(self):
        self.thread.join(30)
        return self.got


def test_fallback_transport_with_nexthop(make):
    """fallback_transport = transport:nexthop, as lmtp:unix:/path: the
    pass request goes to private/transport with that next hop."""
    lo = make(fallback_transport="fake:unix:/run/dovecot/lmtp").start()
    agent = FakeAgent(lo, "fake")
    qid = lo.deliver(["stranger@example.com"], want="D")
    got = agent.request()
    assert got is not None, lo.inst.log()
    assert got["nexthop"] == "unix:/run/dovecot/lmtp", got
    assert got["flags"] == "1" and got["queue_id"] == qid, got
    assert got["addresses"] == "stranger@example.com", got


def test_mailbox_transport_with_nexthop(make, users):
    """mailbox_transport = virtual:example.org: the virtual agent
    delivers (it is not "private/virtual:example.org")."""
    u = users[0]
    lo = make(recipient_delimiter="+")
    base = lo.path("vmail")
    os.mkdir(base)
    if ROOT:
        os.chown(base, u.uid, u.gid)
    maps = lo.path("etc", "vmailbox")
    write(maps, f"{addr(u)} {u.name}/Maildir/\n")
    lo.inst.set_main(mailbox_transport="virtual:example.org",
                     virtual_mailbox_base=base,
                     virtual_mailbox_maps="texthash:" + maps,
                     virtual_uid_maps=f"static:{u.uid}",
                     virtual_gid_maps=f"static:{u.gid}",
                     virtual_minimum_uid="1")
    lo.inst.add_service("virtual", "unix",
                        agent_program(lo.inst, "virtual"), private="-",
                        unpriv="n")
    lo.write_aliases(f"team: {u.name}\n")
    lo.start()
    qid = lo.deliver(["team@example.com"], want="D")
    line = mailsystem.wait_status(lo.inst, qid, addr(u), "sent")
    assert "relay=virtual," in line and "orig_to=<team@example.com>" in line
    assert "delivered to maildir" in line, line
    md = mailbox.Maildir(os.path.join(base, u.name, "Maildir"),
                         factory=None, create=False)
    (m,) = [md.get_message(k) for k in md.keys()]
    assert m["X-Original-To"] == "team@example.com"
    assert not os.path.exists(os.path.join(lo.spool, u.name))
    assert not lo.inst.grep(r"private/virtual:"), lo.inst.log()


@pytest.mark.parametrize("param,value", [
    ("mailbox_transport", "bad/name"),
    ("fallback_transport", ":example.org"),
    ("mailbox_transport", "x" * 65),
])
def test_bad_transport_name_defers(make, users, param, value):
    lo = make(**{param: value}).start()
    rcpt = addr(users[0]) if param == "mailbox_transport" \
        else "stranger@example.com"
    qid = lo.deliver([rcpt], want="R")
    line = lo.status(qid, rcpt, "deferred",
                     "mail system configuration error")
    assert "dsn=4.3.5" in line, line
    lo.warning(f"parameter {param}: bad transport name in "
               f"{re.escape(chr(34) + value + chr(34))}")
    assert not os.path.exists(os.path.join(lo.spool, users[0].name))


# ---- end to end: sendmail, pickup, cleanup, qmgr, local, bounce ------------

def test_end_to_end_alias_and_bounce(make, users):
    u = users[0]
    lo = make(qmgr=True, aliases=f"all: {u.name}, nosuchuser\n").start()
    sender = addr(u)
    msg = b"Subject: local test\nFrom: " + sender.encode() + \
        b"\n\nFrom the start of a line\n"
    qid = mailsystem.sendmail(lo.inst, ["-f", sender, "all@example.com"],
                              msg)
    lo.status(qid, addr(u), "sent", "delivered to mailbox",
              orig="all@example.com")
    lo.status(qid, "nosuchuser@example.com", "bounced",
              'unknown user: "nosuchuser"', orig="all@example.com")
    mailsystem.wait_removed(lo.inst, qid)
    # The non-delivery report comes back to the sender, a local user.
    m = lo.inst.wait_log(r"(" + mailsystem.ID + r"): to=<"
                         + re.escape(sender) + r">, relay=local, .*"
                         r"status=sent \(delivered to mailbox\)",
                         timeout=30)
    assert m, lo.inst.log()
    mailsystem.wait_removed(lo.inst, m[-1].group(1))
    msgs = lo.spool_mbox(u)
    assert len(msgs) == 2, [str(x) for x in msgs]
    orig = [x for x in msgs if x["Subject"] == "local test"]
    report = [x for x in msgs if x["Subject"] != "local test"]
    assert len(orig) == 1 and len(report) == 1
    check_message(orig[0], "all@example.com", sender=sender)
    assert report[0]["Return-Path"] == "<>"
    text = report[0].as_string()
    assert "nosuchuser@example.com" in text
    # The entry of the expanded address belongs to the alias recipient.
    assert "(expanded from <all@example.com>)" in text
    assert "Final-Recipient: rfc822; nosuchuser@example.com" in text
    assert not lo.inst.grep(r"no such recipient"), lo.inst.log()
    assert mailsystem.queue_ids(lo.inst, "active") == []
    assert mailsystem.queue_ids(lo.inst, "deferred") == []
