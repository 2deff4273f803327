"""
test_privileges.py - privilege drop and chroot of master's children

Only meaningful as root: master then runs each child as mail_owner
(petrel, created by scripts/bootstrap) when master.cf's unpriv column says
so, and chroots it into queue_directory when the chroot column says so.
test-single reports its uid, gid and the inode of "/" as it sees it.
"""

import os
import pwd
import grp
import stat

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="privilege drop and chroot need root (run the suite as root)")


@pytest.fixture
def petrel_user():
    try:
        return pwd.getpwnam("petrel")
    except KeyError:
        pytest.fail("no user 'petrel': run scripts/bootstrap as root")


def greeting_of(instance, port):
    with instance.connect(port) as c:
        g = c.greeting()
        c.send("quit")
        c.wait_eof()
        return g


def test_unpriv_child_runs_as_mail_owner(instance, petrel_user):
    port = instance.add_inet("test-single", unpriv="y")
    dash = instance.add_inet("test-single", unpriv="-")
    instance.start()
    for p in (port, dash):
        g = greeting_of(instance, p)
        assert int(g["uid"]) == petrel_user.pw_uid
        assert int(g["gid"]) == petrel_user.pw_gid
    # master itself stays root.
    with open(f"/proc/{instance.master_pid()}/status") as f:
        uid_line = next(ln for ln in f if ln.startswith("Uid:"))
    assert uid_line.split()[1:] == ["0"] * 4


def test_priv_child_stays_root(instance):
    port = instance.add_inet("test-single", unpriv="n")
    instance.start()
    g = greeting_of(instance, port)
    assert int(g["uid"]) == 0
    assert int(g["gid"]) == 0


def test_chroot_child_sees_queue_directory_as_root(instance):
    port = instance.add_inet("test-single", chroot="y")
    instance.start()
    g = greeting_of(instance, port)
    assert int(g["root_ino"]) == os.stat(instance.queue).st_ino
    assert int(g["root_ino"]) != os.stat("/").st_ino


def test_no_chroot_child_sees_real_root(instance):
    port = instance.add_inet("test-single", chroot="n")
    instance.start()
    g = greeting_of(instance, port)
    assert int(g["root_ino"]) == os.stat("/").st_ino


def test_queue_directory_owners(instance, petrel_user):
    r = instance.petrel("check")
    assert r.returncode == 0, r.stderr
    drop = grp.getgrnam("petreldrop").gr_gid
    for name in ("maildrop", "public"):
        st = os.stat(os.path.join(instance.queue, name))
        assert (st.st_uid, st.st_gid) == (petrel_user.pw_uid, drop), name
    st = os.stat(os.path.join(instance.queue, "private"))
    assert st.st_uid == petrel_user.pw_uid
    assert stat.S_IMODE(st.st_mode) == 0o700


def test_set_permissions_makes_postdrop_setgid(instance):
    """As Postfix's set-permissions: postdrop becomes root:setgid_group
    mode 2755; check only warns."""
    import shutil
    bindir = os.path.join(instance.dir, "bin")
    os.mkdir(bindir)
    postdrop = os.path.join(bindir, "postdrop")
    shutil.copy(os.path.join(instance.src, "postdrop"), postdrop)
    os.chmod(postdrop, 0o755)
    instance.set_main(command_directory=bindir)
    r = instance.petrel("check")
    assert r.returncode == 0, r.stderr
    assert "postdrop: owner 0:0 mode 0755, expected root:petreldrop " \
        "mode 2755" in r.stderr
    assert stat.S_IMODE(os.stat(postdrop).st_mode) == 0o755
    r = instance.petrel("set-permissions")
    assert r.returncode == 0, r.stderr
    st = os.stat(postdrop)
    assert stat.S_IMODE(st.st_mode) == 0o2755
    assert st.st_gid == grp.getgrnam("petreldrop").gr_gid
    assert st.st_uid == 0
    r = instance.petrel("check")
    assert r.returncode == 0 and "postdrop" not in r.stderr, r.stderr


@pytest.mark.parametrize("agent", ["local", "virtual"])
def test_delivery_agent_refuses_to_run_unprivileged(agent):
    """A delivery agent that writes as the recipient must keep root: with
    master.cf's unprivileged column left at "-" it would deliver users'
    mail, files and commands as mail_owner, who owns the queue. It
    refuses to start (master throttles it), and the mail waits in the
    queue."""
    import mailsystem
    inst = mailsystem.harness_instance()
    try:
        inst.replace_service(agent, agent, private="-", unpriv="-")
        inst.set_main(mailbox_transport="virtual" if agent == "virtual"
                      else "", virtual_mailbox_base=inst.dir,
                      virtual_mailbox_maps="static:box/",
                      virtual_uid_maps="static:1000",
                      virtual_gid_maps="static:1000")
        inst.start()
        qid = mailsystem.sendmail(inst, ["nobody@localhost"],
                                  b"Subject: x\n\nx\n")
        assert inst.wait_log(rf"petrel/{agent}\[\d+\]: fatal: the {agent} "
                             r"service must keep root privileges to "
                             r"deliver as the recipient: set its "
                             r"unprivileged column in master.cf to \"n\"",
                             20), inst.log()
        # Nothing was delivered; the message waits in the queue.
        assert not os.path.exists(os.path.join(inst.dir, "box"))
        assert qid in mailsystem.queue_ids(inst, "active")
    finally:
        mailsystem.finish(inst)
