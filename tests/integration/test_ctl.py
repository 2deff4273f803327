"""
test_ctl.py - the control command: petrel start|stop|status|reload|check

Start/stop/status cycles, refusing a second master, refusing bad
configuration at start (exit code from sysexits, a message naming the
file, line and parameter or address, and nothing left running or
listening), refusing to reload a broken configuration, and the queue
directories that `petrel check` creates. Also: master.cf -o overrides
held to main.cf's rules by check, start, reload and master itself; a
queue_directory whose parent is missing; a SIGHUP that finds a broken
configuration; a child's start-up error in the maillog.
"""

import os
import re
import signal
import socket
import stat

import pytest

from harness import (MASTER_LOG_RE, QUEUE_DIR_MODES, free_port,
                     port_listening, wait_for)

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


def test_postfix_parameter_not_implemented_is_named(instance):
    """A Postfix parameter that Petrel lacks (a main.cf brought from
    Postfix) is refused too, but called what it is, not a typo."""
    port = instance.add_inet("test-single")
    line = instance.append_main("smtpd_tls_cert_file = /etc/ssl/x.pem\n"
                                "smtpd_tls_cert_fiel = /etc/ssl/x.pem\n")
    start_fails(instance, EX_CONFIG,
                rf"main\.cf, line {line}: smtpd_tls_cert_file=/etc/ssl/x\.pem: "
                r"Postfix parameter that Petrel does not implement \(yet\)",
                rf"main\.cf, line {line + 1}: unused parameter: "
                r"smtpd_tls_cert_fiel=", ports=[port])
    instance.main_extra = ""
    instance.write_main()
    instance.replace_service(f"127.0.0.1:{port}", "test-single",
                             opts={"smtpd_sasl_auth_enable": "yes"})
    r = instance.petrel("check")
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(r"-o smtpd_sasl_auth_enable=yes: Postfix parameter "
                     r"that Petrel does not implement \(yet\)", r.stderr), \
        r.stderr


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


# ---- -o overrides in master.cf ---------------------------------------------
#
# A service's program loads main.cf with its -o overrides at every start and
# exits with EX_CONFIG when that fails. check, start, reload and master
# itself must refuse such a master.cf up front, naming line and override,
# rather than accept it and leave a throttled service behind.

def run_master(instance):
    """master -w without `petrel start` (and so without its checks)."""
    return instance.run([os.path.join(instance.src, "master"), "-c",
                         instance.etc, "-w"], timeout=30)


def make_queue(instance):
    """The queue directories, by a check of a configuration still good."""
    r = instance.petrel("check")
    assert r.returncode == 0, output(instance, r)


def override_refused(instance, port, pattern):
    """check, start, and master -w alone all refuse the configuration
    (the queue exists: master would refuse an empty one anyway)."""
    r = instance.petrel("check")
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(pattern, r.stderr), r.stderr
    start_fails(instance, EX_CONFIG, pattern, ports=[port])
    r = run_master(instance)
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(pattern, r.stderr), r.stderr
    assert_nothing_running(instance, port)


def test_bad_override_value_is_refused(instance):
    make_queue(instance)
    port = free_port()
    line = instance.add_service(f"127.0.0.1:{port}", "inet", "test-single",
                                opts={"max_use": "0"})
    override_refused(
        instance, port,
        rf"master\.cf, line {line}: service 127\.0\.0\.1:{port}/inet: "
        r"-o max_use=0: parameter max_use: bad value \"0\" \(expected "
        r"integer 1\.\.1000000000\)")


def test_bad_override_time_through_main_cf_reference(instance):
    # main.cf is fine alone; the override breaks what refers to it.
    make_queue(instance)
    main_line = instance.append_main("max_idle = $idle\nidle = 10s\n")
    port = free_port()
    line = instance.add_service(f"127.0.0.1:{port}", "inet", "test-single",
                                opts={"idle": "forever"})
    override_refused(
        instance, port,
        rf"master\.cf, line {line}: service 127\.0\.0\.1:{port}/inet: "
        rf"\S*main\.cf, line {main_line}: parameter max_idle: bad value "
        r"\"forever\"")


def test_unknown_override_is_refused(instance):
    make_queue(instance)
    port = free_port()
    line = instance.add_service(f"127.0.0.1:{port}", "inet", "test-single",
                                opts={"no_such_param": "1"})
    override_refused(
        instance, port,
        rf"master\.cf, line {line}: service 127\.0\.0\.1:{port}/inet: "
        r"-o no_such_param=1: unknown parameter no_such_param")


def test_override_referenced_with_dollar_is_accepted(instance):
    # As in main.cf, a user-defined name is fine when a value uses it.
    instance.append_main("mydestination = $my_dests\nmy_dests = localhost\n")
    port = instance.add_inet("test-single", "tag=ok",
                             opts={"my_dests": "example.com",
                                   "smtpd_banner": "$my_banner",
                                   "my_banner": "hello"})
    r = instance.petrel("check")
    assert r.returncode == 0, output(instance, r)
    instance.start()
    with instance.connect(port) as c:
        assert c.greeting()["tag"] == "ok"


def test_class_named_only_in_override_is_accepted(instance):
    """A restriction class defined in main.cf and named only in one
    service's -o smtpd_restriction_classes (a submission service's
    "mua" classes) is used, not unknown; an undefined one still is."""
    instance.append_main("myclass = permit_mynetworks, reject\n")
    instance.add_inet("test-single", "tag=ok",
                      opts={"smtpd_restriction_classes": "myclass",
                            "smtpd_recipient_restrictions":
                            "myclass,reject"})
    r = instance.petrel("check")
    assert r.returncode == 0, output(instance, r)
    line = instance.append_main("otherclass = reject\n")
    r = instance.petrel("check")
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(rf"main\.cf, line {line}: unused parameter: "
                     r"otherclass=reject", r.stderr), r.stderr


def test_reload_refuses_bad_override(instance):
    port = instance.add_inet("test-single", "tag=old")
    instance.start()
    master = instance.master_pid()
    instance.replace_service(f"127.0.0.1:{port}", "test-single", "tag=new",
                             opts={"max_use": "0"})
    line = instance.master_line_of(f"127.0.0.1:{port}")
    r = instance.petrel("reload")
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(rf"master\.cf, line {line}: .*-o max_use=0: parameter "
                     r"max_use: bad value", r.stderr), r.stderr
    assert instance.master_pid() == master
    with instance.connect(port) as c:
        assert c.greeting()["tag"] == "old"


# ---- queue_directory and data_directory ---------------------------------------

def main_cf_line(instance, name):
    with open(instance.main_cf) as f:
        for n, text in enumerate(f, 1):
            if text.split("=")[0].strip() == name:
                return n
    raise KeyError(name)


@pytest.mark.parametrize("param", ["queue_directory", "data_directory"])
def test_queue_directory_with_missing_parent_is_refused(instance, param):
    port = instance.add_inet("test-single")
    parent = os.path.join(instance.dir, "no", "such")
    path = os.path.join(parent, "dir")
    instance.set_main(**{param: path})
    line = main_cf_line(instance, param)
    pattern = (rf"main\.cf, line {line}: {param}: {re.escape(path)}: "
               rf"parent directory {re.escape(parent)} does not exist")
    r = instance.petrel("check")
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(pattern, r.stderr), r.stderr
    start_fails(instance, EX_CONFIG, pattern, ports=[port])
    # Nothing was built on the way.
    assert not os.path.exists(os.path.join(instance.dir, "no"))


def test_missing_daemon_directory_is_named(instance):
    port = instance.add_inet("test-single")
    instance.set_main(daemon_directory="/nonexistent/libexec")
    line = main_cf_line(instance, "daemon_directory")
    pattern = (rf"main\.cf, line {line}: daemon_directory = "
               r"/nonexistent/libexec: No such file or directory")
    r = instance.petrel("check")
    assert r.returncode == EX_CONFIG, output(instance, r)
    assert re.search(pattern, r.stderr), r.stderr
    # One error naming the parameter, not one per program in it.
    assert "program /nonexistent" not in r.stderr, r.stderr
    start_fails(instance, EX_CONFIG, pattern, ports=[port])


# ---- SIGHUP straight to master ----------------------------------------------

@pytest.mark.parametrize("which", ["main.cf", "master.cf", "override"])
def test_sighup_with_broken_config_keeps_running(instance, which):
    """`petrel reload` checks first; a SIGHUP from elsewhere (kill, a
    config management tool) must find master just as careful: the error
    logged with file and line, the running configuration kept, no
    "reload --" line, and master alive after any number of them."""
    port = instance.add_inet("test-single", "tag=old")
    instance.start()
    master = instance.master_pid()
    with instance.connect(port) as c:
        child = c.greeting()["pid"]     # stays, idle, for the next client
    name = f"127.0.0.1:{port}"
    if which == "main.cf":
        line = instance.append_main("max_use = nonsense\n")
        want = (rf"error: {re.escape(instance.main_cf)}, line {line}: "
                r"parameter max_use: bad value \"nonsense\"")
    elif which == "master.cf":
        instance.replace_service(name, "test-single", "tag=new")
        line = instance.append_master("broken line\n")
        want = rf"error: {re.escape(instance.master_cf)}, line {line}: "
    else:
        instance.replace_service(name, "test-single", "tag=new",
                                 opts={"max_use": "0"})
        line = instance.master_line_of(name)
        want = (rf"error: {re.escape(instance.master_cf)}, line {line}: "
                rf"service {re.escape(name)}/inet: -o max_use=0: parameter "
                r"max_use: bad value \"0\"")
    failed = MASTER_LOG_RE + r"warning: reload failed: keeping the running"
    # More than msg_error()'s limit of a dozen errors per process.
    for n in range(1, 16):
        os.kill(master, signal.SIGHUP)
        assert instance.wait_log(failed, count=n), f"HUP {n}: no failure"
    assert instance.master_pid() == master, "master died"
    assert len(instance.grep(MASTER_LOG_RE + want)) == 15
    assert not instance.grep(MASTER_LOG_RE + "reload -- ")
    with instance.connect(port) as c:
        g = c.greeting()
        assert g["tag"] == "old"
        assert g["pid"] == child

    # Repaired: the next SIGHUP reloads.
    instance.main_extra = ""
    instance.write_main()
    instance.master_extra = ""
    instance.replace_service(name, "test-single", "tag=new")
    os.kill(master, signal.SIGHUP)
    assert instance.wait_log(MASTER_LOG_RE + "reload -- "), "no reload"

    # The old idle child may take one more client before it sees the
    # SIGHUP master passed on (it exits once idle); then only new ones.
    def new_tag():
        with instance.connect(port) as c:
            return c.greeting()["tag"] == "new"
    assert wait_for(new_tag, 10), "the old program still serves"


def test_sighup_with_many_errors_keeps_running(instance):
    """One bad edit with more errors than msg_error()'s limit of a dozen
    per process: master reports them all and keeps running."""
    port = instance.add_inet("test-single", "tag=old")
    instance.start()
    master = instance.master_pid()
    first = instance.append_main("".join(f"no_such_param_{i} = 1\n"
                                         for i in range(20)))
    os.kill(master, signal.SIGHUP)
    assert instance.wait_log(MASTER_LOG_RE + r"warning: reload failed: "
                             r"keeping the running"), "no failure logged"
    errors = instance.grep(MASTER_LOG_RE + rf"error: "
                           rf"{re.escape(instance.main_cf)}, line \d+: "
                           r"unused parameter: no_such_param_\d+=1")
    assert len(errors) == 20, errors
    assert not instance.grep("too many errors")
    assert instance.master_pid() == master, "master died"
    with instance.connect(port) as c:
        assert c.greeting()["tag"] == "old"
    assert first > 0


# ---- start-up errors of a child ------------------------------------------------

@pytest.mark.parametrize("breakage", ["value", "syntax", "many", "option"])
def test_child_startup_error_reaches_maillog(instance, breakage):
    """A child that cannot start says why in the maillog (master's stderr,
    where it used to go, is /dev/null once master has detached), not just
    master's "exit status 78"."""
    args = ("-Z", "tag=x") if breakage == "option" else ("tag=x",)
    port = instance.add_inet("test-single", *args)
    instance.start()
    # main.cf changes under the running master; new children read it.
    if breakage == "value":
        line = instance.append_main("max_use = 0\n")
        want = (rf"error: {re.escape(instance.main_cf)}, line {line}: "
                r"parameter max_use: bad value \"0\" \(expected integer "
                r"1\.\.1000000000\)")
        status = EX_CONFIG
    elif breakage == "syntax":
        line = instance.append_main("this line is broken\n")
        want = (rf"error: {re.escape(instance.main_cf)}, line {line}: "
                r"missing '=' after parameter name")
        status = EX_CONFIG
    elif breakage == "many":
        # More errors than msg_error()'s limit of a dozen: the last one
        # still reaches the log, and the exit says configuration error.
        line = instance.append_main("".join(f"broken line {i}\n"
                                            for i in range(20)))
        want = (rf"error: {re.escape(instance.main_cf)}, line {line + 19}: "
                r"missing '=' after parameter name")
        status = EX_CONFIG
    else:
        want = r"fatal: unknown option -Z; usage: test-single "
        status = 64     # EX_USAGE
    c = instance.connect(port)
    child_re = r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ petrel/test-single\[\d+\]: "
    assert instance.wait_log(child_re + want), \
        f"child's error not in the maillog:\n{instance.log()}"
    if breakage != "option":
        assert instance.grep(child_re + r"fatal: cannot load the "
                             r"configuration from ")
    assert instance.wait_log(MASTER_LOG_RE + r"warning: process "
                             rf"\S*test-single pid \d+ exit status {status}\b")
    c.close()
    instance.main_extra = ""
    instance.write_main()
