"""
test_full_disk.py - a full file system loses nothing and says why

Root only (it mounts small tmpfs file systems; the CI runs as root):

- the queue on a full file system: sendmail fails with a clear error
  and a sysexits.h status, no partial file stays in maildrop/, and mail
  flows again once there is room;
- a mailbox on a full file system: the delivery is deferred with the
  reason (4.3.1, "No space left on device"), the message stays queued
  (mailq shows the reason), and it is delivered after room is made and
  the queue flushed.
"""

import mailbox
import os
import pwd
import subprocess

import pytest

import mailsystem
from harness import wait_for
from test_mailflow import maildir_config, messages

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small file system needs root")


def mount_tmpfs(path, size):
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=755",
                    "tmpfs", path], check=True)


def remount(path, size):
    subprocess.run(["mount", "-o", f"remount,size={size}", path],
                   check=True)


def umount(path):
    subprocess.run(["umount", "-l", path], check=False)


@pytest.fixture
def inst():
    inst = mailsystem.harness_instance()
    mounts = []
    inst.mount = lambda path, size: (mount_tmpfs(path, size),
                                     mounts.append(path))
    try:
        yield inst
    finally:
        if inst.master_pid():
            inst.petrel("stop")
            inst.wait_no_processes(10)
        for path in reversed(mounts):
            umount(path)
        mailsystem.finish(inst)


def big_message(size):
    line = b"x" * 76 + b"\n"
    return b"Subject: big\n\n" + line * (size // len(line))


def test_queue_file_system_full(inst):
    inst.mount(inst.queue, "600k")
    inst.base = maildir_config(inst)
    inst.start()
    r = mailsystem.sendmail(inst, ["bob@localhost"], big_message(2000000),
                            check=False)
    assert r.returncode in (73, 74, 75), (r.returncode, r.stderr)
    assert b"No space left on device" in r.stderr, r.stderr
    # Nothing half-written is left for pickup.
    assert wait_for(lambda: not mailsystem.queue_ids(inst, "maildrop"), 5)
    assert not [f for _, _, fs in os.walk(os.path.join(inst.queue,
                                                       "maildrop"))
                for f in fs]
    # A small message still goes through.
    qid = mailsystem.sendmail(inst, ["bob@localhost"],
                              b"Subject: small\n\nfits\n")
    mailsystem.wait_status(inst, qid, "bob@localhost", "sent")
    assert [m["Subject"] for m in messages(inst.base, "bob")] == ["small"]


def test_mailbox_file_system_full(inst):
    inst.base = maildir_config(inst)
    inst.mount(inst.base, "200k")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("petrel")
        os.chown(inst.base, pw.pw_uid, pw.pw_gid)
    # No retry of its own until the test flushes the queue: a retry
    # takes the message back to active/ (deleting defer/ID, the reason
    # mailq shows) and has virtual write to Maildir/tmp again.
    inst.set_main(minimal_backoff_time="1000s", maximal_backoff_time="1000s")
    inst.start()
    qid = mailsystem.sendmail(inst, ["carol@localhost"],
                              big_message(400000))
    line = mailsystem.wait_status(inst, qid, "carol@localhost", "deferred")
    assert "dsn=4.3.1" in line and "No space left on device" in line, line
    # Still queued, with the reason for the administrator.
    assert wait_for(lambda: qid in mailsystem.queue_ids(inst, "deferred"),
                    10), inst.log()
    r = inst.petrel("queue", "-p")
    assert qid in r.stdout and "No space left on device" in r.stdout
    # Nothing half-written in the Maildir.
    tmp = os.path.join(inst.base, "carol", "Maildir", "tmp")
    assert not os.path.isdir(tmp) or os.listdir(tmp) == []
    assert messages(inst.base, "carol") == []
    # Room made, queue flushed: delivered.
    remount(inst.base, "4m")
    r = inst.petrel("queue", "-f")
    assert r.returncode == 0, r.stderr
    mailsystem.wait_status(inst, qid, "carol@localhost", "sent")
    mailsystem.wait_removed(inst, qid)
    got = messages(inst.base, "carol")
    assert len(got) == 1 and got[0]["Subject"] == "big"
    assert isinstance(got[0], mailbox.MaildirMessage)
