"""
test_master.py - master's process management, seen from outside

Each test starts a real instance whose master.cf runs the test services
(tests/support/test-{single,multi,trigger}) and checks what master does
with them: on-demand start, maxproc, max_use, max_idle, crash and start-up
failure throttling, reload without dropping connections or sockets,
multi-client and trigger services, and clean shutdown.
"""

import os
import re
import signal
import socket
import threading
import time

import pytest

from harness import (MASTER_LOG_RE, listen_inodes, pid_alive, pid_gone,
                     port_listening, proc_stat, wait_for)


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
    port = instance.add_inet("test-single", opts={"max_idle": "1s"})
    instance.start()
    with instance.connect(port) as c:
        pid = int(c.greeting()["pid"])
        c.send("quit")
        assert c.wait_eof()
    assert pid_alive(pid)
    t0 = time.monotonic()
    assert wait_for(lambda: pid_gone(pid), 6), \
        "idle child still there after max_idle=1s"
    assert time.monotonic() - t0 < 4.5
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
    first = instance.wait_log(exit_re)
    assert first, "failed child's exit not logged"
    t_first = time.monotonic()
    assert instance.wait_log(
        MASTER_LOG_RE + r"warning: \S*test-single: bad command startup "
        r"-- throttling"), "no throttling after start-up failure"
    second = instance.wait_log(exit_re, timeout=10, count=2)
    assert second, "service not retried after service_throttle_time"
    t_second = time.monotonic()
    assert second[0].group(2) != second[1].group(2)
    # service_throttle_time = 2s: no retry in a tight loop.
    assert t_second - t_first >= 1.0, "retried without waiting"
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
    got = instance.wait_log(rf"trigger: service={name} request=W\b",
                            timeout=6, count=2)
    assert got, f"fewer than 2 wakeups of the {type_} service"
    assert time.monotonic() - t0 < 6


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
