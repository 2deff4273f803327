"""
harness.py - run a real Petrel instance in a temporary directory

An Instance owns a temporary tree (etc/main.cf, etc/master.cf, queue/,
data/, maillog), runs the `petrel` command against it, watches its log and
its processes, and cleans up after itself even when the test failed:

	with Instance() as inst:
		port = inst.add_inet("test-single", "tag=v1")
		inst.start()
		with inst.connect(port) as c:
			assert c.greeting()["tag"] == "v1"

Binaries come from $PETREL_BUILD (an absolute build directory): src/master,
src/petrel and tests/support/test-{single,multi,trigger}. With
PETREL_SANITIZED set, every program runs with ASan/UBSan logging into the
instance, and any report fails the test, and every wait is TIME_SCALE
(3) times longer (slow()). PETREL_KEEP=1 keeps the tree.

Standard library only; Linux only (/proc).
"""

import errno
import glob
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SUPPORT_PROGRAMS = ("test-single", "test-multi", "test-trigger")

# `petrel check` creates these; the modes are the contract.
QUEUE_DIR_MODES = {
    "maildrop": 0o1730,
    "public": 0o710,
    "private": 0o700,
    "incoming": 0o700,
    "active": 0o700,
    "deferred": 0o700,
    "hold": 0o700,
    "corrupt": 0o700,
    "bounce": 0o700,
    "defer": 0o700,
    "trace": 0o700,
    "saved": 0o700,
    "flush": 0o700,
    "pid": 0o755,
}

MASTER_LOG_RE = (r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ "
                 r"petrel/master\[(?P<pid>\d+)\]: ")


def build_dir():
    """The absolute build directory from $PETREL_BUILD."""
    path = os.environ.get("PETREL_BUILD")
    if not path:
        raise RuntimeError("PETREL_BUILD is not set (absolute build dir)")
    return os.path.abspath(path)


def repo_dir():
    """The source tree this file lives in."""
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


# Programs built with ASan/UBSan run two to four times slower, and the
# machine is shared: every wait for something that should happen (and
# every upper bound on how long it may take) is this many times longer
# there. PETREL_TIME_SCALE overrides it.
TIME_SCALE = float(os.environ.get("PETREL_TIME_SCALE")
                   or (3 if os.environ.get("PETREL_SANITIZED") else 1))


def slow(seconds):
    """seconds, scaled for a slow build (an upper bound or a wait)."""
    return seconds * TIME_SCALE


_given_ports = set()


def _ephemeral_low():
    """The first port of the kernel's ephemeral range (source ports of
    outgoing connections, and what bind() to port 0 hands out)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A loopback TCP port that was free a moment ago, and not handed out
    before by this process (an instance with many listeners must not get
    one twice). It is below the ephemeral range, so that no connection
    the tests or the daemons open in the meantime can take it as its
    source port before the instance binds it."""
    rng = random.Random()
    high = _ephemeral_low() - 1
    low = 20000 if high > 21000 else 1024
    for _ in range(1000):
        port = rng.randint(low, high)
        if port in _given_ports:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        _given_ports.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll predicate() until it returns a true value or timeout passes
    (scaled by TIME_SCALE); returns the last value."""
    deadline = time.monotonic() + slow(timeout)
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def proc_stat(pid):
    """(state, ppid) of pid from /proc, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    rest = data.rpartition(")")[2].split()
    return rest[0], int(rest[1])


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def pid_gone(pid):
    """True when pid no longer exists at all (exited and reaped)."""
    return proc_stat(pid) is None


def parse_kv(line):
    """'ready a=1 b=x' -> {'a': '1', 'b': 'x'} (words without '=' kept
    with value True)."""
    out = {}
    for word in line.split()[1:]:
        name, eq, value = word.partition("=")
        out[name] = value if eq else True
    return out


def port_listening(port, host="127.0.0.1"):
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except ConnectionRefusedError:
        return False
    except OSError as e:
        if e.errno == errno.ECONNREFUSED:
            return False
        raise


def listen_inodes(port):
    """Inodes of the TCP sockets listening on 127.0.0.1:port (from
    /proc/net/tcp); a socket that was closed and reopened has a new one."""
    want = f"0100007F:{port:04X}"
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                out.append(int(fields[9]))
    return sorted(out)


class LineClient:
    """A line-oriented TCP client for the test services."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        timeout = slow(timeout)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def readline(self, timeout=None):
        """The next line without its newline; None at EOF. Raises
        socket.timeout (TimeoutError) when nothing arrives in time."""
        deadline = time.monotonic() + (slow(timeout) if timeout is not None
                                       else self.timeout)
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no line within timeout")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode("utf-8", "replace")
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def command(self, line, timeout=None):
        """Send line, return the reply line."""
        self.send(line)
        return self.readline(timeout)

    def greeting(self, timeout=None):
        """Read the 'ready ...' line of a test service and parse it."""
        line = self.readline(timeout)
        assert line is not None, "connection closed before greeting"
        assert line.startswith("ready"), f"bad greeting {line!r}"
        return parse_kv(line)

    def wait_eof(self, timeout=None):
        """Read until the server closes; True when it did in time."""
        try:
            while self.readline(timeout) is not None:
                pass
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Instance:
    """A Petrel instance in a temporary directory (see module comment)."""

    def __init__(self, **main_params):
        self.build = build_dir()
        self.src = os.path.join(self.build, "src")
        self.support = os.path.join(self.build, "tests", "support")
        self.dir = tempfile.mkdtemp(prefix="petrel-it-")
        # An unprivileged mail_owner must be able to traverse the tree.
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "maillog")
        self.main_cf = os.path.join(self.etc, "main.cf")
        self.master_cf = os.path.join(self.etc, "master.cf")
        for d in (self.etc, self.queue, self.data):
            os.mkdir(d)
            os.chmod(d, 0o755)
        os.chmod(self.data, 0o700)
        with open(self.maillog, "w"):
            pass
        os.chmod(self.maillog, 0o644)
        self.sanitized = bool(os.environ.get("PETREL_SANITIZED"))
        self.sandir = os.path.join(self.dir, "san")
        if self.sanitized:
            # Unprivileged children must be able to write their reports.
            os.mkdir(self.sandir)
            os.chmod(self.sandir, 0o1777)
        if os.geteuid() == 0:
            self._chown_mail_owner(self.data)
        self.params = {
            "queue_directory": self.queue,
            "data_directory": self.data,
            "daemon_directory": self.src,
            "command_directory": self.src,
            "maillog_file": self.maillog,
            "inet_interfaces": "127.0.0.1",
            "service_throttle_time": "2s",
            "import_environment": "MAIL_CONFIG TZ LANG=C ASAN_OPTIONS "
                                  "UBSAN_OPTIONS LSAN_OPTIONS",
        }
        self.params.update(main_params)
        self.main_extra = ""
        self.services = []      # [name, line]
        self.master_extra = ""
        self.clients = []
        self.write_main()
        self.write_master()

    # ---- configuration -------------------------------------------------

    def _chown_mail_owner(self, path):
        try:
            pw = pwd.getpwnam("petrel")
        except KeyError:
            return
        os.chown(path, pw.pw_uid, pw.pw_gid)

    def write_main(self):
        text = "# main.cf written by tests/integration/harness.py\n"
        for name, value in self.params.items():
            text += f"{name} = {value}\n"
        text += self.main_extra
        with open(self.main_cf, "w") as f:
            f.write(text)

    def set_main(self, **params):
        """Set main.cf parameters (rewrites the file)."""
        self.params.update(params)
        self.write_main()

    def del_main(self, *names):
        for name in names:
            self.params.pop(name, None)
        self.write_main()

    def append_main(self, text):
        """Append raw text to main.cf; returns the line number of its
        first line."""
        line = self._count_lines(self.main_cf) + 1
        self.main_extra += text
        self.write_main()
        return line

    def write_master(self):
        text = "# master.cf written by tests/integration/harness.py\n"
        for _, line in self.services:
            text += line + "\n"
        text += self.master_extra
        with open(self.master_cf, "w") as f:
            f.write(text)

    def program(self, command):
        """Absolute path of a test service, else command unchanged."""
        if command in SUPPORT_PROGRAMS:
            return os.path.join(self.support, command)
        return command

    def service_line(self, name, type_, command, *args, private="n",
                     unpriv="-", chroot="n", wakeup="-", maxproc="-",
                     opts=None):
        words = [name, type_, private, unpriv, chroot, str(wakeup),
                 str(maxproc), self.program(command)]
        for k, v in (opts or {}).items():
            # A value with blanks needs master.cf's braces.
            words += ["-o", f"{{ {k} = {v} }}" if re.search(r"\s", str(v))
                      else f"{k}={v}"]
        words += list(args)
        return " ".join(words)

    def add_service(self, name, type_, command, *args, **kw):
        """Add a master.cf entry; returns its line number."""
        self.services.append([name, self.service_line(name, type_, command,
                                                      *args, **kw)])
        self.write_master()
        return self.master_line_of(name)

    def add_inet(self, command, *args, port=None, **kw):
        """Add an inet service on 127.0.0.1:port (a free port unless
        given); returns the port."""
        if port is None:
            port = free_port()
        self.add_service(f"127.0.0.1:{port}", "inet", command, *args, **kw)
        return port

    def replace_service(self, name, command, *args, **kw):
        """Rewrite an existing entry (same name and type)."""
        for ent in self.services:
            if ent[0] == name:
                type_ = ent[1].split()[1]
                ent[1] = self.service_line(name, type_, command, *args, **kw)
                self.write_master()
                return
        raise KeyError(name)

    def remove_service(self, name):
        self.services = [e for e in self.services if e[0] != name]
        self.write_master()

    def append_master(self, text):
        """Append raw text to master.cf; returns the line number of its
        first line."""
        line = self._count_lines(self.master_cf) + 1
        self.master_extra += text
        self.write_master()
        return line

    def master_line_of(self, name):
        with open(self.master_cf) as f:
            for n, line in enumerate(f, 1):
                if line.split()[:1] == [name]:
                    return n
        raise KeyError(name)

    @staticmethod
    def _count_lines(path):
        with open(path) as f:
            return sum(1 for _ in f)

    # ---- running commands ----------------------------------------------

    def env(self):
        env = dict(os.environ)
        env.pop("MAIL_CONFIG", None)
        env["LANG"] = "C"
        if self.sanitized:
            env["ASAN_OPTIONS"] = (f"log_path={self.sandir}/asan:"
                                   "detect_leaks=0")
            env["UBSAN_OPTIONS"] = (f"print_stacktrace=1:"
                                    f"log_path={self.sandir}/ubsan")
        return env

    def run(self, argv, timeout=60, **kw):
        """Run a program with the instance's environment."""
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout, env=self.env(),
                              stdin=subprocess.DEVNULL, **kw)

    def petrel(self, *args, timeout=60):
        """petrel -c <etc> args...; returns the CompletedProcess."""
        return self.run([os.path.join(self.src, "petrel"), "-c", self.etc]
                        + list(args), timeout=timeout)

    def start(self):
        r = self.petrel("start")
        assert r.returncode == 0, \
            f"petrel start: exit {r.returncode}\n{r.stdout}{r.stderr}"
        pid = wait_for(self.master_pid, 10)
        assert pid, "no master pid after petrel start"
        # Sockets are open once master says it started.
        assert self.wait_log(MASTER_LOG_RE + r"daemon started", 10), \
            "no 'daemon started' in maillog"
        return r

    def stop(self):
        r = self.petrel("stop")
        assert r.returncode == 0, \
            f"petrel stop: exit {r.returncode}\n{r.stdout}{r.stderr}"
        return r

    def status(self):
        return self.petrel("status")

    def reload(self):
        """petrel reload; waits until master logged the reload."""
        before = len(self.grep(MASTER_LOG_RE + r"reload -- "))
        r = self.petrel("reload")
        assert r.returncode == 0, \
            f"petrel reload: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert self.wait_log(MASTER_LOG_RE + r"reload -- ",
                             count=before + 1), "no 'reload' in maillog"
        return r

    # ---- the log ---------------------------------------------------------

    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def grep(self, regex, since=0):
        """Matches of regex (multi-line mode) in the log from offset
        since."""
        return list(re.finditer(regex, self.log()[since:], re.M))

    def log_size(self):
        return len(self.log())

    def wait_log(self, regex, timeout=10, count=1, since=0):
        """Poll until regex matches at least count times; returns the
        matches, or [] on timeout."""
        found = wait_for(lambda: len(self.grep(regex, since)) >= count,
                         timeout)
        return self.grep(regex, since) if found else []

    # ---- processes -------------------------------------------------------

    def _mine(self, pid):
        # mkdtemp names have a fixed-length random part, so a substring
        # match cannot confuse two instances.
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return self.dir.encode() in f.read()
        except OSError:
            return False

    def master_pid(self):
        """The live master's pid from queue/pid/master.pid, else None."""
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        if pid > 0 and pid_alive(pid) and self._mine(pid):
            return pid
        return None

    def children(self, ppid=None):
        """Live (non-zombie) children of master (or of ppid)."""
        if ppid is None:
            ppid = self.master_pid()
            if ppid is None:
                return []
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = proc_stat(int(name))
                if st and st[1] == ppid and st[0] != "Z":
                    out.append(int(name))
        return sorted(out)

    def all_processes(self):
        """Every pid whose command line names this instance's tree."""
        me = os.getpid()
        return sorted(int(n) for n in os.listdir("/proc")
                      if n.isdigit() and int(n) != me and self._mine(int(n)))

    def wait_no_processes(self, timeout=10):
        """True when every process of the instance is gone in time."""
        return bool(wait_for(lambda: not self.all_processes(), timeout))

    # ---- clients -----------------------------------------------------------

    def connect(self, port, timeout=10.0):
        c = LineClient(port, timeout=timeout)
        self.clients.append(c)
        return c

    def trigger_path(self, name):
        """The endpoint of a public trigger service (fifo or unix)."""
        return os.path.join(self.queue, "public", name)

    def poke(self, name, type_, data):
        """Send one trigger request to a public fifo or unix service, as
        a client of it (pickup's, qmgr's) does."""
        path = self.trigger_path(name)
        if type_ == "fifo":
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            try:
                assert os.write(fd, data) == len(data)
            finally:
                os.close(fd)
        else:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(slow(10))
                s.connect(path)
                s.sendall(data)

    # ---- teardown ----------------------------------------------------------

    def sanitizer_reports(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.sandir, "asan.*"))
                           + glob.glob(os.path.join(self.sandir, "ubsan.*"))):
            try:
                with open(path, errors="replace") as f:
                    out.append(f"==== {path}\n{f.read()}")
            except OSError as e:
                out.append(f"==== {path}: {e}")
        return out

    def cleanup(self):
        """Stop everything and remove the tree. Returns a list of problems
        (processes that survived petrel stop, sanitizer reports)."""
        problems = []
        for c in self.clients:
            c.close()
        if self.master_pid():
            try:
                self.petrel("stop", timeout=30)
            except subprocess.TimeoutExpired:
                problems.append("petrel stop timed out at teardown")
        if not self.wait_no_processes(10):
            desc = []
            for pid in self.all_processes():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode()
                except OSError:
                    cmd = "?"
                desc.append(f"{pid}: {cmd.strip()}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            problems.append("processes still running at teardown "
                            "(killed): " + "; ".join(desc))
            self.wait_no_processes(5)
        if self.sanitized:
            problems += self.sanitizer_reports()
        if os.environ.get("PETREL_KEEP") == "1":
            print(f"PETREL_KEEP: instance kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        problems = self.cleanup()
        if problems and exc[0] is None:
            raise AssertionError("\n".join(problems))
