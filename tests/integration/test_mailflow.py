"""
test_mailflow.py - the whole local mail path, and what survives a crash

sendmail -> postdrop -> maildrop/ -> pickup -> cleanup -> incoming/ ->
qmgr -> local -> (mailbox_transport) virtual -> Maildir, on a real
instance configured as `make run` configures one: every address at a
local domain lands in <base>/<user>/Maildir/, without system accounts.

Covered: a message reaches the Maildir (read back with Python's mailbox
module) and the queue is empty afterwards; kill -9 of master and every
child at several moments right after sendmail returned, then a restart:
every message is delivered (at least once: a crash may repeat a
delivery, never lose one); a corrupt queue file is quarantined in
corrupt/ while the rest of the queue flows.
"""

import mailbox
import os
import pwd
import signal
import time

import pytest

import harness
import mailsystem
from harness import wait_for


def maildir_config(inst):
    """make run's delivery: local passes every mailbox to virtual."""
    base = os.path.join(inst.dir, "mail")
    os.mkdir(base)
    os.chmod(base, 0o755)
    table = os.path.join(inst.etc, "virtual_mailboxes")
    with open(table, "w") as f:
        f.write("/^([^@+]+)(\\+[^@]*)?@/ ${1}/Maildir/\n")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("petrel")
        uid, gid = pw.pw_uid, pw.pw_gid
        os.chown(base, uid, gid)
    else:
        uid, gid = os.getuid(), os.getgid()
    inst.set_main(mailbox_transport="virtual", fallback_transport="virtual",
                  virtual_mailbox_base=base,
                  virtual_mailbox_maps=f"regexp:{table}",
                  virtual_uid_maps=f"static:{uid}",
                  virtual_gid_maps=f"static:{gid}",
                  virtual_minimum_uid="1")
    return base


def messages(base, user):
    path = os.path.join(base, user, "Maildir")
    # A delivery killed while it created the Maildir leaves part of it;
    # the next one completes it.
    if not all(os.path.isdir(os.path.join(path, d))
               for d in ("tmp", "new", "cur")):
        return []
    return list(mailbox.Maildir(path, create=False))


@pytest.fixture
def inst():
    inst = mailsystem.harness_instance()
    inst.base = maildir_config(inst)
    try:
        yield inst
    finally:
        mailsystem.finish(inst)


def test_delivery_to_maildir(inst):
    inst.start()
    body = b"Subject: flow\nTo: alice@localhost\n\nfirst line\n.dot\n"
    qid = mailsystem.sendmail(inst, ["-f", "joe@example.com",
                                     "alice@localhost"], body)
    line = mailsystem.wait_status(inst, qid, "alice@localhost", "sent")
    assert "relay=virtual" in line
    mailsystem.wait_removed(inst, qid)
    got = messages(inst.base, "alice")
    assert len(got) == 1
    msg = got[0]
    assert msg["Subject"] == "flow"
    assert msg["Return-Path"] == "<joe@example.com>"
    assert msg["Delivered-To"] == "alice@localhost"
    assert msg.get_payload() == "first line\n.dot\n"
    for queue in ("incoming", "active", "deferred", "maildrop"):
        assert mailsystem.queue_ids(inst, queue) == [], queue


def kill_all(inst):
    pids = inst.all_processes()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert inst.wait_no_processes(10), "processes survived SIGKILL"


@pytest.mark.parametrize("delay", [0, 0.01, 0.05, 0.2])
def test_kill_9_loses_nothing(inst, delay):
    """SIGKILL everything right after sendmail returned; restart; every
    message is delivered."""
    inst.start()
    sent = []
    for n in range(3):
        r = mailsystem.sendmail(
            inst, ["-f", "joe@example.com", f"crash{n}@localhost"],
            f"Subject: crash {n}\n\nbody {n}\n".encode(), check=False)
        assert r.returncode == 0, r.stderr.decode()
        sent.append(f"crash{n}")
    time.sleep(delay)
    kill_all(inst)
    inst.start()
    for user in sent:
        assert wait_for(lambda: messages(inst.base, user), 30), \
            f"{user}: message lost\n{inst.log()}"
    # Nothing is left behind once the restarted system is done, but the
    # incomplete file of a cleanup killed while writing (never
    # acknowledged; qmgr removes it after daemon_timeout).
    def complete_files(queue):
        out = []
        for dirpath, _, files in os.walk(os.path.join(inst.queue, queue)):
            for f in files:
                if os.stat(os.path.join(dirpath, f)).st_mode & 0o100:
                    out.append(f)
        return out

    assert wait_for(lambda: all(
        not complete_files(q)
        for q in ("maildrop", "incoming", "active", "deferred")), 30), \
        inst.log()
    assert not mailsystem.queue_ids(inst, "maildrop")


def test_corrupt_file_is_quarantined(inst):
    """A corrupt file in incoming/ goes to corrupt/; mail behind it
    flows."""
    inst.start()
    from qfile_writer import make_queue_id
    bad = make_queue_id(int(time.time()), 1, 77)
    path = os.path.join(inst.queue, "incoming", bad)
    with open(path, "wb") as f:
        f.write(b"C\x05junk!" + b"\x00" * 40)
    os.chmod(path, 0o700)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("petrel")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    qid = mailsystem.sendmail(inst, ["bob@localhost"],
                              b"Subject: after\n\nok\n")
    mailsystem.wait_status(inst, qid, "bob@localhost", "sent")
    assert wait_for(lambda: bad in mailsystem.queue_ids(inst, "corrupt"),
                    30), inst.log()
    assert not os.path.exists(path)
    assert inst.grep(r"warning: .*" + bad + r".*corrupt")
    assert len(messages(inst.base, "bob")) == 1


def test_mail_loop_is_returned_to_sender(inst):
    """A local submission with more Received: headers than
    hopcount_limit is bounced, not delivered: the sender gets the
    report, and nothing stays in the queue."""
    inst.start()
    loop = b"".join(b"Received: from a by b; hop %d\n" % i
                    for i in range(60)) + b"Subject: loop\n\nround\n"
    qid = mailsystem.sendmail(inst, ["-f", "joe@localhost",
                                     "ann@localhost"], loop)
    mailsystem.wait_status(inst, qid, "ann@localhost", "bounced")
    mailsystem.wait_removed(inst, qid)
    assert wait_for(lambda: messages(inst.base, "joe"), 30), inst.log()
    report = messages(inst.base, "joe")[0]
    assert report["Return-Path"] == "<>"
    text = report.as_string()
    assert "Status: 5.4.6" in text
    assert "too many hops" in text
    assert messages(inst.base, "ann") == []
