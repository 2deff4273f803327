"""
test_ctl.py - the control command: petrel start|stop|status|reload|check

Start/stop/status cycles, refusing a second master, refusing bad
configuration at start (exit code from sysexits, a message naming the
file, line and parameter or address, and nothing left running or
listening), refusing to reload a broken configuration, and the queue
directories that `petrel check` creates.
"""

import os
import re
import socket
import stat

import pytest

from harness import MASTER_LOG_RE, QUEUE_DIR_MODES, port_listening

EX_CONFIG = 78


def output(instance, r):
    """Everything a command said: stdout, stderr and the maillog."""
    return f"{r.stdout}\n{r.stderr}\n{instance.log()}"


def assert_nothing_running(instance, *ports):
    assert instance.wait_no_processes(5), \
        f"left running: {instance.all_processes()}"
    assert instance.master_pid() is None
    for port in ports:
        assert not port_listening(port), f"port {port} still listening"


def test_start_status_stop_cycle(instance):
    port = instance.add_inet("test-single")
    r = instance.status()
    assert r.returncode == 1
    assert not port_listening(port)

    instance.start()
    master = instance.master_pid()
    assert instance.grep(MASTER_LOG_RE + r"daemon started -- version \S+, "
                         r"configuration "
                         + re.escape(os.path.realpath(instance.etc)) + "$")
    r = instance.status()
    assert r.returncode == 0, output(instance, r)
    assert re.search(rf"is running: PID: {master}\b", r.stdout + r.stderr)
    with instance.connect(port) as c:
        c.greeting()

    r = instance.stop()
    assert "petrel: stopping the Petrel mail system" in r.stdout + r.stderr
    assert_nothing_running(instance, port)
    assert instance.grep(MASTER_LOG_RE + r"terminating on signal 15")
    r = instance.status()
    assert r.returncode == 1
    assert "is running" not in r.stdout + r.stderr

    # And again: a stopped instance starts cleanly.
    instance.start()
    assert instance.master_pid() not in (None, master)
    with instance.connect(port) as c:
        c.greeting()


def test_second_start_is_refused(instance):
    port = instance.add_inet("test-single")
    instance.start()
    master = instance.master_pid()
    r = instance.petrel("start")
    assert r.returncode == 1
    assert "already running" in r.stdout + r.stderr
    assert instance.master_pid() == master
    assert len(instance.grep(MASTER_LOG_RE + "daemon started")) == 1
    with instance.connect(port) as c:
        c.greeting()


def test_stop_when_not_running(instance):
    r = instance.petrel("stop")
    assert r.returncode != 0
    assert instance.all_processes() == []


# ---- bad configuration at start ------------------------------------------

def start_fails(instance, want_exit, *patterns, ports=()):
    r = instance.petrel("start")
    text = output(instance, r)
    if want_exit is None:
        assert r.returncode != 0, text
    else:
        assert r.returncode == want_exit, text
    for pat in patterns:
        assert re.search(pat, text), f"no {pat!r} in:\n{text}"
    assert_nothing_running(instance, *ports)
    return r


def test_malformed_main_cf_line(instance):
    port = instance.add_inet("test-single")
    line = instance.append_main("this is not a parameter\n")
    start_fails(instance, EX_CONFIG, rf"main\.cf, line {line}\b",
                ports=[port])


def test_unknown_parameter_is_refused(instance):
    port = instance.add_inet("test-single")
    line = instance.append_main("no_such_parameter = 1\n")
    start_fails(instance, EX_CONFIG, r"no_such_parameter",
                rf"main\.cf, line {line}\b", ports=[port])


def test_unknown_parameter_referenced_is_accepted(instance):
    # A user-defined parameter that a known one refers to is fine.
    port = instance.add_inet("test-single")
    instance.append_main("my_destinations = localhost\n"
                         "mydestination = $my_destinations\n")
    instance.start()
    with instance.connect(port) as c:
        c.greeting()


def test_value_out_of_bounds(instance):
    port = instance.add_inet("test-single")
    line = instance.append_main("max_use = 0\n")
    start_fails(instance, EX_CONFIG, r"max_use", r"\b0\b",
                rf"main\.cf, line {line}\b", ports=[port])


def test_malformed_master_cf_line(instance):
    port = instance.add_inet("test-single")
    line = instance.append_master("broken inet n\n")
    start_fails(instance, EX_CONFIG, rf"master\.cf, line {line}\b",
                ports=[port])


def test_bad_master_cf_field(instance):
    port = instance.add_inet("test-single")
    line = instance.append_master(
        f"127.0.0.1:{port + 1 if port < 65535 else port - 1} inet x - n - -"
        f" {instance.program('test-single')}\n")
    start_fails(instance, EX_CONFIG, rf"master\.cf, line {line}\b",
                r"private", ports=[port])


def test_unknown_master_cf_type(instance):
    port = instance.add_inet("test-single")
    line = instance.append_master(
        f"odd bogus n - n - - {instance.program('test-single')}\n")
    start_fails(instance, EX_CONFIG, rf"master\.cf, line {line}\b",
                r"bogus", ports=[port])


def test_port_in_use(instance):
    good = instance.add_inet("test-single")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        line = instance.add_service(f"127.0.0.1:{taken}", "inet",
                                    "test-single")
        start_fails(instance, None, rf"master\.cf, line {line}\b",
                    rf"127\.0\.0\.1:{taken}\b", ports=[good])


def test_start_creates_missing_queue_directory(instance):
    port = instance.add_inet("test-single")
    queue = os.path.join(instance.dir, "newqueue")
    instance.set_main(queue_directory=queue)
    instance.queue = queue
    instance.start()
    for name in ("pid", "private", "public", "maildrop"):
        assert os.path.isdir(os.path.join(queue, name)), name
    with instance.connect(port) as c:
        c.greeting()


def test_master_refuses_missing_queue_directory(instance):
    port = instance.add_inet("test-single")
    queue = os.path.join(instance.dir, "missing")
    instance.set_main(queue_directory=queue)
    r = instance.run([os.path.join(instance.src, "master"), "-c",
                      instance.etc, "-w"], timeout=30)
    text = output(instance, r)
    assert r.returncode == EX_CONFIG, text
    assert queue in text
    assert not os.path.exists(queue)
    assert_nothing_running(instance, port)


# ---- reload ---------------------------------------------------------------

@pytest.mark.parametrize("which", ["main.cf", "master.cf"])
def test_reload_refuses_bad_configuration(instance, which):
    port = instance.add_inet("test-single", "tag=old")
    instance.start()
    master = instance.master_pid()
    if which == "main.cf":
        line = instance.append_main("max_use = nonsense\n")
        # The change that must not take effect:
        instance.replace_service(f"127.0.0.1:{port}", "test-single",
                                 "tag=new")
    else:
        instance.replace_service(f"127.0.0.1:{port}", "test-single",
                                 "tag=new")
        line = instance.append_master("broken line\n")
    r = instance.petrel("reload")
    text = f"{r.stdout}\n{r.stderr}"
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert "not reloading" in text
    assert re.search(rf"{re.escape(which)}, line {line}\b", text), text
    assert instance.master_pid() == master
    assert not instance.grep(MASTER_LOG_RE + "reload -- ")
    if which == "master.cf":
        # (New children read main.cf, so only a master.cf error leaves
        # the service usable.)
        with instance.connect(port) as c:
            assert c.greeting()["tag"] == "old"
    else:
        # petrel stop needs a readable main.cf too.
        instance.main_extra = ""
        instance.write_main()


def test_reload_when_not_running(instance):
    r = instance.petrel("reload")
    assert r.returncode != 0
    assert instance.all_processes() == []


# ---- check ----------------------------------------------------------------

def test_check_creates_queue_directories(instance):
    assert os.listdir(instance.queue) == []
    r = instance.petrel("check")
    assert r.returncode == 0, output(instance, r)
    for name, mode in QUEUE_DIR_MODES.items():
        path = os.path.join(instance.queue, name)
        st = os.lstat(path)
        assert stat.S_ISDIR(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, \
            f"{name}: mode {oct(stat.S_IMODE(st.st_mode))}, want {oct(mode)}"
    # Nothing runs after a check.
    assert instance.all_processes() == []
    # A second check on a correct tree says nothing is wrong.
    r = instance.petrel("check")
    assert r.returncode == 0
    assert "wrong mode" not in r.stdout + r.stderr


def test_check_warns_about_wrong_mode(instance):
    r = instance.petrel("check")
    assert r.returncode == 0, output(instance, r)
    deferred = os.path.join(instance.queue, "deferred")
    os.chmod(deferred, 0o755)
    r = instance.petrel("check")
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert re.search(r"deferred.*wrong mode|wrong mode.*deferred", text), text



def test_stop_and_status_survive_a_broken_main_cf(instance):
    """After a bad edit of main.cf the administrator can still stop."""
    port = instance.add_inet("test-single")
    instance.start()
    master = instance.master_pid()
    instance.append_main("this line is broken\n")

    r = instance.status()
    assert r.returncode == 0, output(instance, r)
    assert f"PID: {master}" in r.stderr
    assert "missing '=' after parameter name" in r.stderr
    assert "has errors; using queue_directory" in r.stderr

    r = instance.stop()
    assert r.returncode == 0, output(instance, r)
    assert_nothing_running(instance, port)


def test_shell_syntax_in_raw_parameters(instance):
    """mailbox_command, forward_path and luser_relay are used as written
    (Postfix expands nothing in them at load time): shell syntax such as
    $(...) must not stop the mail system from starting."""
    instance.set_main(mailbox_command='/usr/bin/procmail -a "$(date +%s)"',
                      forward_path="$home/.forward${extension:+x}",
                      luser_relay="$(user)@example.com")
    r = instance.petrel("check")
    assert r.returncode == 0, r.stderr
    r = instance.petrel("conf", "-h", "mailbox_command")
    assert r.stdout == '/usr/bin/procmail -a "$(date +%s)"\n'
