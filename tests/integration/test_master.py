"""
test_master.py - master's process management, seen from outside

Each test starts a real instance whose master.cf runs the test services
(tests/support/test-{single,multi,trigger}) and checks what master does
with them: on-demand start, maxproc (0 = unlimited), max_use and max_idle
of single, multi and trigger servers, crash and start-up failure
throttling, reload without dropping connections or sockets, multi-client
and trigger services, wakeup timers ("N?" only once used), pass services
(a descriptor sent over private/NAME), IPv6 listeners, a second master on
the same queue, and clean shutdown.
"""

import os
import re
import signal
import socket
import threading
import time

import pytest

import harness
from harness import (MASTER_LOG_RE, LineClient, listen_inodes, pid_alive,
                     pid_gone, port_listening, proc_stat, wait_for)


def test_service_starts_on_first_connection(instance):
    port = instance.add_inet("test-single", "tag=first")
    instance.start()
    master = instance.master_pid()
    # Nothing runs until work arrives.
    time.sleep(0.3)
    assert instance.children() == []
    with instance.connect(port) as c:
        g = c.greeting()
        assert g["tag"] == "first"
        assert g["service"] == f"127.0.0.1:{port}"
        pid = int(g["pid"])
        assert proc_stat(pid)[1] == master, "greeting pid not a child"
        assert instance.children() == [pid]
        assert c.command("ping") == f"pong {pid}"


def test_maxproc_limits_concurrent_children(instance):
    port = instance.add_inet("test-single", maxproc=2)
    instance.start()
    c1 = instance.connect(port)
    c2 = instance.connect(port)
    p1 = c1.greeting()["pid"]
    p2 = c2.greeting()["pid"]
    assert p1 != p2
    c3 = instance.connect(port)
    with pytest.raises(socket.timeout):
        c3.readline(timeout=1.5)
    assert len(instance.children()) == 2
    c1.send("quit")
    assert c1.wait_eof()
    g3 = c3.greeting(timeout=10)
    assert g3["pid"] != p2
    assert len(instance.children()) <= 2


def test_max_use_replaces_process(instance):
    # maxproc 1: master can never run a second child beside the first, so
    # the pids depend on max_use alone.
    port = instance.add_inet("test-single", maxproc=1, opts={"max_use": 2})
    instance.start()
    pids = []
    for _ in range(3):
        with instance.connect(port) as c:
            pids.append(c.greeting()["pid"])
            c.send("quit")
            assert c.wait_eof()
    a, a2, b = pids
    assert a == a2, f"second client not served by the same process: {pids}"
    assert b != a, f"process served more than max_use clients: {pids}"
    assert wait_for(lambda: pid_gone(int(a)), 5), "used-up child not reaped"


def test_max_idle_ends_idle_child(instance):
    port = instance.add_inet("test-single", opts={"max_idle": "3s"})
    instance.start()
    with instance.connect(port) as c:
        pid = int(c.greeting()["pid"])
        # The child is idle from when it is done with this client: after
        # t0.
        t0 = time.monotonic()
        c.send("quit")
        assert c.wait_eof()
    assert wait_for(lambda: pid_gone(pid), 20), \
        "idle child still there after max_idle=3s"
    elapsed = time.monotonic() - t0
    # Not before max_idle, and then soon (max_idle is 100s by default).
    assert elapsed >= 2.9, f"idle child gone after {elapsed:.1f}s"
    assert elapsed < 3 + harness.slow(5), f"gone after {elapsed:.1f}s"
    assert instance.children() == []
    # The service still works afterwards.
    with instance.connect(port) as c:
        assert int(c.greeting()["pid"]) != pid


def test_crashed_child_is_logged_and_replaced(instance):
    port = instance.add_inet("test-single")
    instance.start()
    with instance.connect(port) as c:
        pid = c.greeting()["pid"]
        c.send("crash")
        assert c.wait_eof()
    assert instance.wait_log(
        MASTER_LOG_RE + rf"warning: process \S*test-single pid {pid} "
        r"killed by signal 6\b"), "crash not logged"
    with instance.connect(port, timeout=15) as c:
        g = c.greeting(timeout=15)
        assert g["pid"] != pid
        assert c.command("ping") == f"pong {g['pid']}"


def test_exit_status_is_logged(instance):
    port = instance.add_inet("test-single")
    instance.start()
    with instance.connect(port) as c:
        pid = c.greeting()["pid"]
        c.send("exit 3")
        assert c.wait_eof()
    assert instance.wait_log(
        MASTER_LOG_RE + rf"warning: process \S*test-single pid {pid} "
        r"exit status 3\b"), "abnormal exit not logged"


def test_failed_startup_is_throttled_and_retried(instance):
    port = instance.add_inet("test-single", "fail-start")
    instance.start()
    exit_re = (MASTER_LOG_RE
               + r"warning: process \S*test-single pid (\d+) exit status 1\b")
    # The connection waits in the listen queue while master retries.
    c = instance.connect(port)
    # When the first exit was not logged yet (the last look without
    # one), and when the second was: however late the test looks, the
    # time between the two exits is at most that.
    none_yet = time.monotonic()
    deadline = none_yet + harness.slow(20)
    while True:
        now = time.monotonic()
        exits = len(instance.grep(exit_re))
        if exits == 0:
            none_yet = now
        elif exits >= 2:
            two = time.monotonic()
            break
        assert now < deadline, \
            f"{exits} failed child exits logged, not 2\n{instance.log()}"
        time.sleep(0.05)
    assert instance.grep(
        MASTER_LOG_RE + r"warning: \S*test-single: bad command startup "
        r"-- throttling"), "no throttling after start-up failure"
    second = instance.grep(exit_re)
    assert second[0].group(2) != second[1].group(2)
    # service_throttle_time = 2s: no retry in a tight loop.
    assert two - none_yet >= 1.0, "retried without waiting"
    assert len(instance.grep(exit_re)) <= 4
    c.close()


def test_crash_at_startup_is_throttled(instance):
    port = instance.add_inet("test-single", "crash-start")
    instance.start()
    c = instance.connect(port)
    assert instance.wait_log(
        MASTER_LOG_RE + r"warning: process \S*test-single pid \d+ "
        r"killed by signal 6\b")
    assert instance.wait_log(
        MASTER_LOG_RE + r"warning: \S*test-single: bad command startup "
        r"-- throttling")
    c.close()


def test_reload_keeps_connection_and_applies_new_args(instance):
    port = instance.add_inet("test-single", "tag=v1")
    instance.start()
    master = instance.master_pid()
    old = instance.connect(port)
    g = old.greeting()
    assert g["tag"] == "v1"
    pid = g["pid"]
    assert old.command("ping") == f"pong {pid}"

    instance.replace_service(f"127.0.0.1:{port}", "test-single", "tag=v2")
    instance.reload()
    assert instance.master_pid() == master
    assert instance.grep(MASTER_LOG_RE + r"reload -- version \S+, "
                         r"configuration "
                         + re.escape(os.path.realpath(instance.etc)) + "$")

    # The old client keeps its process ...
    assert old.command("ping") == f"pong {pid}"
    # ... while a new client gets the new configuration.
    with instance.connect(port) as new:
        g2 = new.greeting()
        assert g2["tag"] == "v2"
        assert g2["pid"] != pid
    assert old.command("ping") == f"pong {pid}"
    old.send("quit")
    assert old.wait_eof()
    # The old-generation process exits once its client is done.
    assert wait_for(lambda: pid_gone(int(pid)), 10)


def test_reload_adds_and_removes_services(instance):
    keep = instance.add_inet("test-single", "tag=keep")
    gone = instance.add_inet("test-single", "tag=gone")
    instance.start()
    with instance.connect(gone) as c:
        assert c.greeting()["tag"] == "gone"
    kept = listen_inodes(keep)
    new = instance.add_inet("test-single", "tag=new")
    assert not port_listening(new)
    instance.remove_service(f"127.0.0.1:{gone}")
    instance.reload()
    with instance.connect(new) as c:
        assert c.greeting()["tag"] == "new"
    assert wait_for(lambda: not port_listening(gone), 10), \
        "removed service still accepts connections"
    with instance.connect(keep) as c:
        assert c.greeting()["tag"] == "keep"
    assert listen_inodes(keep) == kept


def test_reload_never_refuses_connections(instance):
    port = instance.add_inet("test-single", "tag=steady")
    instance.start()
    inodes = listen_inodes(port)
    assert len(inodes) == 1
    stop = threading.Event()
    result = {"ok": 0, "errors": []}

    def hammer():
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.close()
                result["ok"] += 1
            except OSError as e:
                result["errors"].append(repr(e))
            time.sleep(0.005)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        for _ in range(3):
            time.sleep(0.2)
            instance.reload()
        time.sleep(0.2)
    finally:
        stop.set()
        t.join(30)
    assert result["errors"] == []
    assert result["ok"] > 10
    # The very same listening socket, never closed and reopened.
    assert listen_inodes(port) == inodes
    with instance.connect(port) as c:
        assert c.greeting()["tag"] == "steady"


def test_multi_server_shares_one_process(instance):
    port = instance.add_inet("test-multi")
    instance.start()
    first = instance.connect(port)
    g = first.greeting()
    pid = g["pid"]
    others = [instance.connect(port) for _ in range(4)]
    greetings = [c.greeting() for c in others]
    assert {x["pid"] for x in greetings} == {pid}
    assert max(int(x["clients"]) for x in greetings) == 5
    assert len(instance.children()) == 1
    for i, c in enumerate([first] + others):
        assert c.command(f"hello {i}") == f"echo hello {i}"
    for c in [first] + others:
        c.send("quit")
        assert c.wait_eof()


def _check_trigger(instance, type_):
    name = "trig" + type_
    instance.add_service(name, type_, "test-trigger", wakeup=1, maxproc=1)
    instance.start()
    t0 = time.monotonic()

    def wakeups():
        # Wakeups that wait in a fifo are read at once ("request=WW").
        return sum(len(m.group(1)) for m in instance.grep(
            rf"trigger: service={name} request=(W+)$"))

    assert wait_for(lambda: wakeups() >= 2, 20), \
        f"fewer than 2 wakeups of the {type_} service"
    # The first right away, the next 1s later: not the 60s or so of a
    # wakeup time misread.
    assert time.monotonic() - t0 < 1 + harness.slow(7)


def test_trigger_fifo_wakeup(instance):
    _check_trigger(instance, "fifo")


def test_trigger_unix_wakeup(instance):
    _check_trigger(instance, "unix")


def test_sigterm_stops_everything(instance):
    port = instance.add_inet("test-single")
    multi = instance.add_inet("test-multi")
    instance.start()
    busy = instance.connect(port)
    busy.greeting()
    m = instance.connect(multi)
    m.greeting()
    master = instance.master_pid()
    assert len(instance.all_processes()) >= 3
    os.kill(master, signal.SIGTERM)
    assert instance.wait_log(MASTER_LOG_RE + r"terminating on signal 15")
    assert instance.wait_no_processes(15), \
        f"left running: {instance.all_processes()}"
    assert not port_listening(port)
    assert busy.wait_eof(5)


def test_petrel_abort_stops_everything(instance):
    port = instance.add_inet("test-single")
    instance.start()
    c = instance.connect(port)
    c.greeting()
    r = instance.petrel("abort")
    assert r.returncode == 0, r.stderr
    assert instance.wait_no_processes(15), \
        f"left running: {instance.all_processes()}"
    assert not port_listening(port)
    assert instance.master_pid() is None


def test_log_lines_have_syslog_format(instance):
    port = instance.add_inet("test-single")
    instance.start()
    with instance.connect(port) as c:
        c.greeting()
        c.send("quit")
        assert c.wait_eof()
    assert instance.wait_log(r"served client 1\b")
    m = instance.grep(MASTER_LOG_RE + r"daemon started -- version (\S+), "
                      r"configuration (\S+)$")
    assert m and int(m[0].group("pid")) == instance.master_pid()
    assert m[0].group(3) == os.path.realpath(instance.etc)


# ---- pass services -------------------------------------------------------

def _pass_socket(instance, name):
    return os.path.join(instance.queue, "private", name)


def _tcp_pair():
    """A connected TCP pair on loopback: (our end, the end to pass)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        ours = socket.create_connection(lsock.getsockname(), timeout=10)
        theirs, _ = lsock.accept()
    return ours, theirs


class _Wrapped(LineClient):
    """A LineClient around an already connected socket."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False


def _pass_connection(instance, name):
    """Hand a fresh TCP connection to the pass service; returns a
    LineClient-like reader on our end of it."""
    ours, theirs = _tcp_pair()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(_pass_socket(instance, name))
        assert socket.send_fds(s, [b"x"], [theirs.fileno()]) == 1
    # The service holds its own copy now: ours must not keep the
    # connection open once the service closes it.
    theirs.close()
    return _Wrapped(ours)


def test_pass_service(instance):
    instance.add_service("passer", "pass", "test-single", "tag=passed",
                         private="y", maxproc=1)
    instance.start()
    master = instance.master_pid()
    assert os.path.exists(_pass_socket(instance, "passer"))

    with _pass_connection(instance, "passer") as c:
        g = c.greeting()
        assert g["service"] == "passer"
        assert g["tag"] == "passed"
        pid = g["pid"]
        assert proc_stat(int(pid))[1] == master
        assert c.command("ping") == f"pong {pid}"
        c.send("quit")
        assert c.wait_eof()
    assert instance.wait_log(rf"petrel/test-single\[{pid}\]: "
                             r"served client 1$")

    # A connection that sends bytes but no descriptor ...
    warn = (rf"petrel/test-single\[{pid}\]: warning: receive passed "
            r"descriptor: ")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(_pass_socket(instance, "passer"))
        s.sendall(b"no descriptor here")
        assert instance.wait_log(warn + r"no descriptor sent$"), \
            "connection without a descriptor not reported"
    # ... and one that closes at once are dropped with a warning.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(_pass_socket(instance, "passer"))
    assert instance.wait_log(warn + r"peer closed the connection$"), \
        "connection closed before passing a descriptor not reported"

    # The same process goes on serving (maxproc 1, max_use 100).
    with _pass_connection(instance, "passer") as c:
        g = c.greeting()
        assert g["pid"] == pid
        assert c.command("ping") == f"pong {pid}"
    assert instance.wait_log(rf"petrel/test-single\[{pid}\]: "
                             r"served client 2$")
    # Dropped connections are no clients, and nothing crashed.
    assert not instance.grep(r"served client 3$")
    assert not instance.grep(MASTER_LOG_RE + r"warning: process ")


# ---- max_use and max_idle of multi and trigger servers -------------------

def test_multi_max_use(instance):
    port = instance.add_inet("test-multi", opts={"max_use": 2})
    instance.start()
    c1 = instance.connect(port)
    p1 = c1.greeting()["pid"]
    c2 = instance.connect(port)
    g2 = c2.greeting()
    assert g2["pid"] == p1 and g2["clients"] == "2"
    # The third client is the process's max_use + 1: a new one serves.
    c3 = instance.connect(port)
    g3 = c3.greeting()
    assert g3["pid"] != p1, "multi-server took more than max_use clients"
    assert g3["clients"] == "1"
    # The used-up process still serves the clients it has ...
    assert c1.command("still") == "echo still"
    assert c2.command("there") == "echo there"
    assert pid_alive(int(p1))
    # ... and exits once they are gone.
    for c in (c1, c2):
        c.send("quit")
        assert c.wait_eof()
    assert wait_for(lambda: pid_gone(int(p1)), 10), \
        "used-up multi-server did not exit after its last client"
    assert c3.command("after") == "echo after"
    with instance.connect(port) as c4:
        assert c4.greeting()["pid"] == g3["pid"]


def _request_pid(instance, name, request, timeout=15):
    """Wait for the log line of one request; the pid that served it."""
    m = instance.wait_log(rf"petrel/test-trigger\[(\d+)\]: trigger: "
                          rf"service={name} request={request}$", timeout)
    assert m, f"request {request} to {name} not served"
    return int(m[0].group(1))


@pytest.mark.parametrize("type_", ["unix", "fifo"])
def test_trigger_max_use(instance, type_):
    instance.add_service("trig", type_, "test-trigger", maxproc=1,
                         opts={"max_use": 2})
    instance.start()
    instance.poke("trig", type_, b"a")
    first = _request_pid(instance, "trig", "a")
    instance.poke("trig", type_, b"b")
    assert _request_pid(instance, "trig", "b") == first
    assert wait_for(lambda: pid_gone(first), 10), \
        "trigger server still there after max_use requests"
    instance.poke("trig", type_, b"c")
    second = _request_pid(instance, "trig", "c")
    assert second != first
    assert not instance.grep(MASTER_LOG_RE + r"warning: process ")


@pytest.mark.parametrize("type_", ["unix", "fifo"])
def test_trigger_max_idle(instance, type_):
    instance.add_service("trig", type_, "test-trigger", maxproc=1,
                         opts={"max_idle": "2s"})
    instance.start()
    t0 = time.monotonic()
    instance.poke("trig", type_, b"a")
    first = _request_pid(instance, "trig", "a")
    assert wait_for(lambda: pid_gone(first), 15), \
        "idle trigger server still there after max_idle=2s"
    # Idle for max_idle after the request, not gone right after it (the
    # clock started before the request was even sent).
    assert time.monotonic() - t0 >= 1.9
    assert instance.children() == []
    instance.poke("trig", type_, b"b")
    second = _request_pid(instance, "trig", "b")
    assert second != first
    assert not instance.grep(MASTER_LOG_RE + r"warning: process ")


# ---- maxproc 0, wakeup "?" -------------------------------------------------

def test_maxproc_zero_is_unlimited(instance):
    # With "-" the limit would be default_process_limit: 1.
    instance.set_main(default_process_limit=1)
    port = instance.add_inet("test-single", maxproc=0)
    instance.start()
    clients = [instance.connect(port, timeout=20) for _ in range(5)]
    pids = [c.greeting(timeout=20)["pid"] for c in clients]
    assert len(set(pids)) == 5, f"5 busy clients, processes {pids}"
    assert len(instance.children()) == 5
    for c in clients:
        assert c.command("ping").startswith("pong ")


def test_wakeup_if_used(instance):
    instance.add_service("eager", "unix", "test-trigger", wakeup=1,
                         maxproc=1)
    instance.add_service("lazy", "unix", "test-trigger", wakeup="1?",
                         maxproc=1)
    instance.start()
    # Three wakeups of "eager": "lazy" had as many chances.
    assert instance.wait_log(r"trigger: service=eager request=W$",
                             timeout=15, count=3)
    assert not instance.grep(r"trigger: service=lazy "), \
        "wakeup N? fired before the service was used"
    assert len(instance.children()) == 1
    instance.poke("lazy", "unix", b"go")
    _request_pid(instance, "lazy", "go")
    assert instance.wait_log(r"trigger: service=lazy request=W$",
                             timeout=15, count=2), \
        "wakeup N? does not fire once the service was used"


# ---- IPv6 ----------------------------------------------------------------

def _free_port_v6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
            return s.getsockname()[1]
    except OSError as e:
        pytest.skip(f"cannot bind [::1] on this machine: {e}")


def test_ipv6_listener(instance):
    port = _free_port_v6()
    instance.add_service(f"[::1]:{port}", "inet", "test-single", "tag=v6")
    instance.start()
    c = LineClient(port, host="::1")
    instance.clients.append(c)
    assert c.sock.family == socket.AF_INET6
    g = c.greeting()
    assert g["tag"] == "v6"
    assert g["service"] == f"[::1]:{port}"
    assert c.command("ping") == f"pong {g['pid']}"
    # Only the address that master.cf names.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        assert s.connect_ex(("127.0.0.1", port)) != 0


# ---- one master per queue -------------------------------------------------

@pytest.mark.parametrize("mode", ["-d", "-w"])
def test_master_refuses_second_instance_directly(instance, mode):
    port = instance.add_inet("test-single", "tag=first")
    instance.add_service("trig", "unix", "test-trigger", maxproc=1)
    instance.start()
    master = instance.master_pid()
    sock = instance.trigger_path("trig")
    ino = os.stat(sock).st_ino
    pidfile = os.path.join(instance.queue, "pid", "master.pid")
    with open(pidfile) as f:
        before = f.read()

    r = instance.run([os.path.join(instance.src, "master"), "-c",
                      instance.etc, mode], timeout=30)
    assert r.returncode != 0
    assert re.search(rf"already running \(pid {master}\)", r.stderr), \
        f"stdout={r.stdout!r} stderr={r.stderr!r}"

    # The first master is unaffected: same pid and pid file, the same
    # sockets, and its services answer.
    assert instance.master_pid() == master
    with open(pidfile) as f:
        assert f.read() == before
    assert os.stat(sock).st_ino == ino
    assert len(instance.grep(MASTER_LOG_RE + "daemon started")) == 1
    with instance.connect(port) as c:
        assert c.greeting()["tag"] == "first"
    instance.poke("trig", "unix", b"still")
    _request_pid(instance, "trig", "still")
