"""
test_syslog.py - the syslog sink: with maillog_file empty, every program
logs through syslog(3) as "<syslog_name>/<program>[pid]: text" with the
facility of syslog_facility

glibc's syslog(3) always writes to /dev/log, which the test cannot take
over on the machine itself. So the instance runs in a mount namespace of
its own (unshare --mount, root only) whose /dev is a tmpfs holding the
usual device nodes (bind-mounted from the real /dev) and a datagram
socket at /dev/log that a helper process reads. The helper starts the
instance inside the namespace (master and every daemon inherit it), then
prints each datagram it receives as one JSON line. Everything else
(clients, `petrel stop`) runs outside, as usual.
"""

import errno
import json
import os
import queue
import re
import subprocess
import sys
import threading

import pytest

from harness import MASTER_LOG_RE, wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="a private /dev/log needs a mount namespace (run as root)")

# Runs inside `unshare --mount` (private propagation): argv[1] a scratch
# directory, argv[2:] the command that starts the instance.
HELPER = r'''
import ctypes, json, os, socket, subprocess, sys, threading

MS_BIND, MS_REC = 0x1000, 0x4000
libc = ctypes.CDLL(None, use_errno=True)

def mount(src, dst, fstype, flags, data):
    if libc.mount(src.encode(), dst.encode(),
                  fstype.encode() if fstype else None, flags,
                  data.encode() if data else None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {src} on {dst}: {os.strerror(e)}")

out_lock = threading.Lock()
def say(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

scratch, argv = sys.argv[1], sys.argv[2:]
old = os.path.join(scratch, "dev")
os.mkdir(old)
try:
    mount("/dev", old, None, MS_BIND | MS_REC, None)
    mount("petrel-test-dev", "/dev", "tmpfs", 0, "mode=755")
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists(os.path.join(old, name)):
            open(os.path.join("/dev", name), "w").close()
            mount(os.path.join(old, name), os.path.join("/dev", name),
                  None, MS_BIND, None)
    for name in ("shm", "pts"):
        if os.path.isdir(os.path.join(old, name)):
            os.mkdir(os.path.join("/dev", name))
            mount(os.path.join(old, name), os.path.join("/dev", name),
                  None, MS_BIND | MS_REC, None)
    os.symlink("/proc/self/fd", "/dev/fd")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"/dev/{name}")
except OSError as e:
    say({"error": str(e), "errno": e.errno})
    sys.exit(0)

log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.bind("/dev/log")
os.chmod("/dev/log", 0o666)     # daemons run as mail_owner

def drain():
    while True:
        data = log.recv(65536)
        say({"log": data.decode("utf-8", "replace")})
threading.Thread(target=drain, daemon=True).start()

r = subprocess.run(argv, capture_output=True, text=True,
                   stdin=subprocess.DEVNULL)
say({"started": r.returncode, "out": r.stdout + r.stderr})
sys.stdin.read()                # until the test is done
'''


class SyslogHelper:
    """The namespace helper: start() runs it, lines() are the syslog
    datagrams received so far."""

    def __init__(self, instance):
        self.instance = instance
        self.scratch = os.path.join(instance.dir, "ns")
        os.mkdir(self.scratch)
        self.events = queue.Queue()
        self.logs = []
        self.proc = None

    def start(self):
        argv = ["unshare", "--mount", "--propagation", "private", "--",
                sys.executable, "-c", HELPER, self.scratch,
                os.path.join(self.instance.src, "petrel"), "-c",
                self.instance.etc, "start"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=self.instance.env())
        threading.Thread(target=self._read, daemon=True).start()
        try:
            ev = self.events.get(timeout=60)
        except queue.Empty:
            self.proc.kill()
            pytest.fail("namespace helper said nothing in 60s: "
                        + self.proc.stderr.read())
        if ev is None:
            err = self.proc.stderr.read()
            if self.proc.wait(10) != 0 and "Operation not permitted" in err:
                pytest.skip(f"no mount namespace here: {err.strip()}")
            pytest.fail(f"namespace helper failed: {err}")
        if "error" in ev:
            if ev["errno"] in (errno.EPERM, errno.EACCES):
                pytest.skip(f"cannot mount a private /dev: {ev['error']}")
            pytest.fail(f"namespace helper: {ev['error']}")
        assert ev["started"] == 0, f"petrel start: {ev['out']}"

    def _read(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            if "log" in ev:
                self.logs.append(ev["log"])
            else:
                self.events.put(ev)
        self.events.put(None)

    def grep(self, regex):
        return [m for m in (re.search(regex, x) for x in list(self.logs))
                if m]

    def wait(self, regex, timeout=15):
        found = wait_for(lambda: self.grep(regex), timeout)
        assert found, f"no syslog line matching {regex!r}; got:\n" + \
            "\n".join(self.logs)
        return found[0]

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# <PRI> is facility * 8 + severity; local3 is 19.
LOCAL3 = 19 * 8
INFO, WARNING = 6, 4
STAMP = r"\w{3} [ \d]\d \d\d:\d\d:\d\d "


def test_daemons_log_to_syslog(instance):
    instance.set_main(maillog_file="", syslog_facility="local3")
    port = instance.add_inet("test-single", "tag=syslog")
    had_dev_log = os.path.lexists("/dev/log")
    helper = SyslogHelper(instance)
    try:
        helper.start()
        master = wait_for(instance.master_pid, 10)
        assert master
        m = helper.wait(rf"^<(\d+)>{STAMP}petrel/master\[{master}\]: "
                        r"daemon started -- version \S+, configuration "
                        + re.escape(os.path.realpath(instance.etc)) + "$")
        assert int(m.group(1)) == LOCAL3 + INFO

        with instance.connect(port) as c:
            g = c.greeting()
            assert g["tag"] == "syslog"
            pid = g["pid"]
            c.send("quit")
            assert c.wait_eof()
        m = helper.wait(rf"^<(\d+)>{STAMP}petrel/test-single\[{pid}\]: "
                        r"served client 1$")
        assert int(m.group(1)) == LOCAL3 + INFO
        with instance.connect(port) as c:
            pid = c.greeting()["pid"]
            c.send("exit 3")
            assert c.wait_eof()
        # A warning has the warning severity, and its "warning: " text.
        m = helper.wait(rf"^<(\d+)>{STAMP}petrel/master\[{master}\]: "
                        rf"warning: process \S*test-single pid {pid} "
                        r"exit status 3$")
        assert int(m.group(1)) == LOCAL3 + WARNING

        instance.stop()
        helper.wait(rf"petrel/master\[{master}\]: terminating on "
                    r"signal 15$")
        # (The helper's command line names the instance too.)
        assert wait_for(lambda: set(instance.all_processes())
                        <= {helper.proc.pid}, 15), \
            f"left running: {instance.all_processes()}"
        # Nothing went to a file.
        assert instance.log() == ""
        assert not instance.grep(MASTER_LOG_RE)
    finally:
        helper.close()
    # The namespace's /dev never reached the machine's.
    assert os.path.lexists("/dev/log") == had_dev_log
