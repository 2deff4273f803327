"""
test_privileges.py - privilege drop and chroot of master's children

Only meaningful as root: master then runs each child as mail_owner
(petrel, created by scripts/bootstrap) when master.cf's unpriv column says
so, and chroots it into queue_directory when the chroot column says so.
test-single reports its uid, gid and the inode of "/" as it sees it.
Root also plays an ordinary user (nobody) to check that such an
instance runs everything as that user and ignores the chroot column.
"""

import grp
import os
import pwd
import shutil
import stat
import tempfile

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


def _nobody():
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pytest.fail("no user 'nobody' on this machine")
    return pw


def _reachable_by(path, uid, gid):
    """True when every directory above path lets uid:gid through (other
    users' x bit, or owner/group)."""
    path = os.path.abspath(path)
    while True:
        st = os.stat(path)
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def _ids(pid):
    """(uids, gids) of a process from /proc: real, effective, saved, fs."""
    with open(f"/proc/{pid}/status") as f:
        lines = {ln.split(":")[0]: ln.split()[1:] for ln in f}
    return [int(x) for x in lines["Uid"]], [int(x) for x in lines["Gid"]]


def test_instance_as_ordinary_user(monkeypatch, request):
    """Started by an ordinary user, the whole instance runs as that user:
    master, its children whatever the unprivileged column says, and the
    queue it creates; a chroot column "y" is ignored (only root can
    chroot). Every other test covers this when the suite is not root;
    here root plays the user nobody."""
    import harness
    nobody = _nobody()
    as_nobody = ["setpriv", f"--reuid={nobody.pw_uid}",
                 f"--regid={nobody.pw_gid}", "--clear-groups"]
    # The instance lives in a directory of its own that nobody can reach
    # (the default temporary directory may be private to root).
    base = tempfile.mkdtemp(prefix="petrel-nobody-", dir="/tmp")
    os.chmod(base, 0o755)
    monkeypatch.setattr(tempfile, "tempdir", base)
    inst = harness.Instance()
    request.node.petrel_instance = inst     # maillog in failure reports
    try:
        assert _reachable_by(inst.dir, nobody.pw_uid, nobody.pw_gid), \
            f"{inst.dir} is not reachable by nobody"
        priv = inst.add_inet("test-single", "tag=priv", unpriv="n")
        unpriv = inst.add_inet("test-single", "tag=unpriv", unpriv="y",
                               chroot="y")
        for root, dirs, files in os.walk(inst.dir):
            for name in [root] + [os.path.join(root, n)
                                  for n in dirs + files]:
                os.chown(name, nobody.pw_uid, nobody.pw_gid)

        def petrel(*args):
            return inst.run(as_nobody + [os.path.join(inst.src, "petrel"),
                                         "-c", inst.etc] + list(args))

        r = petrel("start")
        assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{inst.log()}"
        master = harness.wait_for(inst.master_pid, 10)
        assert master, "no master after petrel start as nobody"
        assert inst.wait_log(harness.MASTER_LOG_RE + "daemon started", 10)
        uids, gids = _ids(master)
        assert uids == [nobody.pw_uid] * 4 and gids == [nobody.pw_gid] * 4

        for port in (priv, unpriv):
            g = greeting_of(inst, port)
            assert int(g["uid"]) == nobody.pw_uid, g
            assert int(g["gid"]) == nobody.pw_gid, g
            uids, gids = _ids(int(g["pid"]))
            assert uids == [nobody.pw_uid] * 4, (port, uids)
            assert gids == [nobody.pw_gid] * 4, (port, gids)
            # chroot "y" was ignored: the child sees the real root.
            assert int(g["root_ino"]) == os.stat("/").st_ino

        # The queue that petrel start completed belongs to nobody.
        for name in harness.QUEUE_DIR_MODES:
            st = os.stat(os.path.join(inst.queue, name))
            assert (st.st_uid, st.st_gid) == \
                (nobody.pw_uid, nobody.pw_gid), name
        st = os.stat(os.path.join(inst.queue, "pid", "master.pid"))
        assert st.st_uid == nobody.pw_uid

        r = petrel("stop")
        assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{inst.log()}"
        assert inst.wait_no_processes(15), \
            f"left running: {inst.all_processes()}"
        assert inst.master_pid() is None
    finally:
        log = inst.log()
        problems = inst.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    assert not problems, "\n".join(problems) + "\n---- maillog:\n" + log
