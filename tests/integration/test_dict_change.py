"""
test_dict_change.py - daemons restart when a table they use changes

A test-single service opens texthash:<file> in pre_init (map=...) and
answers "lookup TYPE:NAME KEY". When the file is replaced (a new file
renamed over it, as an editor or `petrel map` does), a process finishes
its current client with the tables it has, logs "table ... has changed
-- restarting" and exits; the next client gets a fresh process that sees
the new contents. An idle process notices within the periodic check
(SERVER_TABLE_CHECK_SECS, 10 s) and exits too. A table file that was
missing at start (the daemon answered temporary failures) counts as
changed once it appears.

The other skeletons: proxymap (a multi-server) notices a rebuilt
texthash table while a client is connected, stops taking new clients
(a new process serves them, with the new contents), keeps serving the
old client with the old table, and exits when that client leaves;
test-trigger (map=..., "lookup KEY after PATH") finishes the request in
progress when the table changes under it, exits, and the next request
starts a fresh process.
"""

import os
import subprocess
import time

import pytest

from harness import pid_alive, pid_gone, wait_for

CHANGED_RE = r"{program}\[(?P<pid>\d+)\]: table texthash:{path} has " \
             r"changed -- restarting"


def write_table(path, text):
    """Replace path atomically with text (new file, rename over)."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def table_service(instance, text, **kw):
    path = os.path.join(instance.etc, "table")
    write_table(path, text)
    port = instance.add_inet("test-single", f"map=texthash:{path}", **kw)
    return path, port


def changed_re(path, program="test-single"):
    return CHANGED_RE.format(program=program,
                             path=path.replace(".", r"\."))


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
    m = instance.wait_log(changed_re(path), timeout=30)
    assert m and m[0]["pid"] == pid1
    assert wait_for(lambda: pid_gone(int(pid1)), 5), "idle child still runs"

    with instance.connect(port) as c2:
        pid2 = c2.greeting()["pid"]
        assert pid2 != pid1
        assert c2.command(f"lookup texthash:{path} key") == "found v2"


def test_unchanged_table_keeps_child(instance):
    # maxproc 1: a child closes its client before it tells master it is
    # free again, so a quick reconnect could make master start a second
    # one; with one at most, a new pid can only mean a restart.
    path, port = table_service(instance, "key v1\n", maxproc=1)
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
    m = instance.wait_log(changed_re(path), timeout=30)
    assert m and m[0]["pid"] == pid1


# ---- a table missing at start ----------------------------------------------

@pytest.mark.parametrize("when", ["after_client", "while_idle"])
def test_broken_table_fixed_restarts(instance, when):
    """The table's file does not exist when the daemon starts: lookups
    are temporary failures (never "not found"), a table that stays
    missing is no reason to restart, and once the file is created the
    process restarts (after its client, or idle within the periodic
    check) and the new one answers from it."""
    path = os.path.join(instance.etc, "table")
    # maxproc 1, as in test_unchanged_table_keeps_child: one child at most,
    # so the same pid means the same process kept serving.
    port = instance.add_inet("test-single", f"map=texthash:{path}",
                             maxproc=1)
    instance.start()
    pids = []
    for _ in range(2):
        with instance.connect(port) as c:
            pids.append(c.greeting()["pid"])
            r = c.command(f"lookup texthash:{path} key")
            assert r.startswith("tempfail ") and path in r, r
            c.send("quit")
            assert c.wait_eof()
    assert pids[0] == pids[1], "a table still missing restarted the child"
    pid1 = pids[0]

    if when == "after_client":
        c1 = instance.connect(port)
        assert c1.greeting()["pid"] == pid1
        write_table(path, "key v1\n")
        c1.send("quit")
        assert c1.wait_eof()
        timeout = 10
    else:
        # Let it get past its check after the last client (either way
        # it must restart; this way it is the idle check that sees it).
        assert instance.wait_log(r"test-single\[\d+\]: served client 2$")
        time.sleep(0.5)
        write_table(path, "key v1\n")
        timeout = 30     # the periodic check (10 s) on a loaded machine
    m = instance.wait_log(changed_re(path), timeout=timeout)
    assert m and m[0]["pid"] == pid1, "no restart after the file appeared"
    assert wait_for(lambda: pid_gone(int(pid1)), 10), "old child still runs"

    with instance.connect(port) as c2:
        pid2 = c2.greeting()["pid"]
        assert pid2 != pid1
        assert c2.command(f"lookup texthash:{path} key") == "found v1"


# ---- multi-server: proxymap -------------------------------------------------

class DictQuery:
    """One `dict-query -i` process of the instance: ask(key) -> line."""

    def __init__(self, instance, table):
        self.proc = subprocess.Popen(
            [os.path.join(instance.support, "dict-query"), "-c",
             instance.etc, "-i", table],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=instance.env(),
            bufsize=1)

    def ask(self, key):
        self.proc.stdin.write(key + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "dict-query exited"
        return line.rstrip("\n")

    def close(self):
        """Close stdin, wait; (exit status, stderr)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, err


def one_query(instance, table, key):
    r = instance.run([os.path.join(instance.support, "dict-query"), "-c",
                      instance.etc, table, key])
    return r.returncode, r.stdout, r.stderr


def test_multi_server_restarts_after_clients_leave(instance):
    """proxymap with a texthash table in proxy_read_maps: a rebuilt
    table is noticed while a client is connected; new clients get a new
    process with the new contents; the old process serves its client on
    with the old table and exits once that client has left."""
    path = os.path.join(instance.etc, "table")
    write_table(path, "key v1\n")
    table = f"proxy:texthash:{path}"
    # Clients keep their connection (no ipc_idle disconnect in the test).
    instance.set_main(proxy_read_maps=f"texthash:{path}", ipc_idle="60s")
    instance.add_service("proxymap", "unix", "proxymap", private="-")
    instance.start()
    c1 = DictQuery(instance, table)
    try:
        assert c1.ask("key") == "FOUND v1"
        (pid1,) = instance.children()

        write_table(path, "key v2\n")
        # The connected client goes on with the table it started with
        # while the process notices the change (periodic check, 10 s).
        noticed = wait_for(
            lambda: c1.ask("key") == "FOUND v1"
            and instance.grep(changed_re(path, "proxymap")), 30, 0.2)
        assert noticed, "proxymap did not notice the rebuilt table"
        assert noticed[0]["pid"] == str(pid1)
        assert pid_alive(pid1), "proxymap left a connected client"

        # A new client gets a new process, with the new table.
        code, out, err = one_query(instance, table, "key")
        assert (code, out) == (0, "v2\n"), err
        pids = instance.children()
        assert len(pids) == 2 and pid1 in pids, pids
        (pid2,) = set(pids) - {pid1}
        # The old client is still served by the old process.
        assert c1.ask("key") == "FOUND v1"
        assert c1.ask("nokey") == "NOTFOUND"
        assert pid_alive(pid1)
    finally:
        code, err = c1.close()
    assert code == 0, err
    assert wait_for(lambda: pid_gone(pid1), 10), \
        "proxymap still runs after its last client left"
    code, out, err = one_query(instance, table, "key")
    assert (code, out) == (0, "v2\n"), err
    assert instance.children() == [pid2]


# ---- trigger server ---------------------------------------------------------

def lookup_pid(instance, answer, count=1, timeout=15):
    """The pid that logged "lookup key: <answer>" (the count'th time)."""
    m = instance.wait_log(r"test-trigger\[(\d+)\]: trigger: lookup key: "
                          + answer + "$", timeout, count=count)
    assert m, f"no lookup answered {answer!r}"
    return int(m[count - 1].group(1))


@pytest.mark.parametrize("type_", ["fifo", "unix"])
def test_trigger_server_restarts_after_current_request(instance, type_):
    """The table changes under a request in progress: the request ends
    with the old table, the process exits, and the very next request is
    served by a fresh process with the new table."""
    path = os.path.join(instance.etc, "table")
    write_table(path, "key v1\n")
    gate = os.path.join(instance.dir, "gate")
    instance.add_service("trig", type_, "test-trigger",
                         f"map=texthash:{path}", maxproc=1)
    instance.start()
    instance.poke("trig", type_, b"lookup key")
    pid1 = lookup_pid(instance, "found v1")

    # A request in progress when the table changes finishes with the
    # table the process has.
    instance.poke("trig", type_, f"lookup key after {gate}".encode())
    assert instance.wait_log(rf"test-trigger\[{pid1}\]: trigger: "
                             rf"service=trig request=lookup key after ")
    write_table(path, "key v2\n")
    with open(gate, "w"):
        pass
    assert lookup_pid(instance, "found v1", count=2) == pid1
    # At once, not at the next periodic check: the process takes no
    # further request.
    instance.poke("trig", type_, b"lookup key")
    pid2 = lookup_pid(instance, "found v2")
    assert pid2 != pid1
    m = instance.grep(changed_re(path, "test-trigger"))
    assert m and m[0]["pid"] == str(pid1)
    assert pid_gone(pid1) or wait_for(lambda: pid_gone(pid1), 10)
    assert instance.children() == [pid2]
