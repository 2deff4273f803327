"""
test_dict_change.py - daemons restart when a table they use changes

A test-single service opens texthash:<file> in pre_init (map=...) and
answers "lookup TYPE:NAME KEY". When the file is replaced (a new file
renamed over it, as an editor or `petrel map` does), a process finishes
its current client with the tables it has, logs "table ... has changed
-- restarting" and exits; the next client gets a fresh process that sees
the new contents. An idle process notices within the periodic check
(SERVER_TABLE_CHECK_SECS, 10 s) and exits too.
"""

import os

import pytest

from harness import pid_gone, wait_for

CHANGED_RE = r"test-single\[(?P<pid>\d+)\]: table texthash:{path} has " \
             r"changed -- restarting"


def write_table(path, text):
    """Replace path atomically with text (new file, rename over)."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def table_service(instance, text):
    path = os.path.join(instance.etc, "table")
    write_table(path, text)
    port = instance.add_inet("test-single", f"map=texthash:{path}")
    return path, port


def changed_re(path):
    return CHANGED_RE.format(path=path.replace(".", r"\."))


def test_busy_child_finishes_client_then_restarts(instance):
    path, port = table_service(instance, "key v1\n")
    instance.start()
    c1 = instance.connect(port)
    pid1 = c1.greeting()["pid"]
    assert c1.command(f"lookup texthash:{path} key") == "found v1"
    assert c1.command(f"lookup texthash:{path} nokey") == "notfound"

    write_table(path, "key v2\n")
    # The client being served keeps the table it started with.
    assert c1.command(f"lookup texthash:{path} key") == "found v1"
    assert c1.command("ping") == f"pong {pid1}"
    assert not instance.grep(changed_re(path))

    c1.send("quit")
    assert c1.wait_eof()
    m = instance.wait_log(changed_re(path), timeout=10)
    assert m and m[0]["pid"] == pid1
    assert wait_for(lambda: pid_gone(int(pid1)), 10), "old child still runs"

    with instance.connect(port) as c2:
        pid2 = c2.greeting()["pid"]
        assert pid2 != pid1
        assert c2.command(f"lookup texthash:{path} key") == "found v2"


def test_idle_child_exits_after_change(instance):
    path, port = table_service(instance, "key v1\n")
    instance.start()
    with instance.connect(port) as c1:
        pid1 = c1.greeting()["pid"]
        assert c1.command(f"lookup texthash:{path} key") == "found v1"
        c1.send("quit")
        assert c1.wait_eof()
    # The child waits for the next client (max_idle is 100 s).
    assert instance.children() == [int(pid1)]

    write_table(path, "key v2\n")
    m = instance.wait_log(changed_re(path), timeout=20)
    assert m and m[0]["pid"] == pid1
    assert wait_for(lambda: pid_gone(int(pid1)), 5), "idle child still runs"

    with instance.connect(port) as c2:
        pid2 = c2.greeting()["pid"]
        assert pid2 != pid1
        assert c2.command(f"lookup texthash:{path} key") == "found v2"


def test_unchanged_table_keeps_child(instance):
    path, port = table_service(instance, "key v1\n")
    instance.start()
    pids = []
    for _ in range(2):
        with instance.connect(port) as c:
            pids.append(c.greeting()["pid"])
            assert c.command(f"lookup texthash:{path} key") == "found v1"
            c.send("quit")
            assert c.wait_eof()
    assert pids[0] == pids[1]
    assert not instance.grep(r"has changed -- restarting")


def test_lookup_answers(instance):
    path, port = table_service(instance, "Key v1\nother a, b\n")
    instance.start()
    with instance.connect(port) as c:
        c.greeting()
        # Keys are folded; a second table is opened on first use.
        assert c.command(f"lookup texthash:{path} KEY") == "found v1"
        assert c.command(f"lookup texthash:{path} other") == "found a, b"
        assert c.command("lookup inline:{x=y} x") == "found y"
        r = c.command(f"lookup texthash:{path}.missing key")
        assert r.startswith("tempfail ") and "missing" in r


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_chrooted_child_tracks_its_table(instance):
    """Inside chroot the table's path does not resolve; an unchanged
    table must not look changed, and a replaced one must."""
    path = os.path.join(instance.etc, "table")
    write_table(path, "key v1\n")
    port = instance.add_inet("test-single", f"map=texthash:{path}",
                             chroot="y", maxproc=1)
    instance.start()
    pids = set()
    for _ in range(3):
        with instance.connect(port) as c:
            pids.add(c.greeting()["pid"])
            assert c.command(f"lookup texthash:{path} key") == "found v1"
            c.send("quit")
            assert c.wait_eof()
    assert len(pids) == 1, "an unchanged table restarted the child"
    assert not instance.grep(changed_re(path))

    write_table(path, "key v2\n")
    (pid1,) = pids
    m = instance.wait_log(changed_re(path), timeout=20)
    assert m and m[0]["pid"] == pid1
