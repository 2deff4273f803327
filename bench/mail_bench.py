#!/usr/bin/python3
"""
mail_bench.py - local delivery rate: sendmail -> queue -> Maildir

usage: bench/mail_bench.py [options] BUILD_DIR
       (also a step of bench/run: `bench/run --only mail BUILD_DIR`)

N messages of 1 KB are handed to the MTA's own sendmail, as fast as a
few parallel submitters can (threads, each running one sendmail after
another), all to the same local user; the clock runs from the first
submission until the last message is a file in the user's Maildir/new/
(the time is the newest file's ctime, so polling does not blur it).

Two systems on the same machine in the same run, one after the other,
each a fresh private instance in a temporary directory:

  petrel   tests/integration/harness.py with the delivery services of
           conf/master.cf (mailsystem.py), configured as `make run` and
           test_mailflow.py do: local passes every mailbox to virtual
           (mailbox_transport = virtual), a regexp virtual_mailbox_maps
           maps user@localhost to <base>/user/Maildir/.
  postfix  when Postfix is installed and we are root: `postfix -c DIR
           start` with DIR/main.cf and a master.cf of unix/fifo services
           only (no smtpd, nothing listens on the network), the same path:
           localhost in mydestination, local, mailbox_transport = virtual,
           virtual into <base>/user/Maildir/. Postfix refuses $1 in a
           virtual(8) table, so its regexp has one rule per user instead.

Measured: wall time and messages/s, the submission time, the CPU time
of the instance's processes per message (utime+stime of master, its
live and zombie children and the children it reaped, from /proc, before
and after the timed part: master is a daemon, so getrusage() cannot see
it), the CPU of sendmail and postdrop per message (getrusage of our own
children), the average delay and delays=a/b/c/d of the delivery log
lines, and the warnings and failures the instance logged meanwhile.

Everything is stopped and removed at the end, after errors, Ctrl-C and
SIGTERM too. Exit status 0 when every run delivered every message;
1 otherwise.
"""

import argparse
import grp
import os
import pwd
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTEGRATION = os.path.join(REPO, "tests", "integration")
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)

SENDER = "bench@example.com"
WARMUP = 4                      # messages to start the daemons, untimed
POSTFIX_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Log lines worth a look; the queue ID and pid are cut for grouping.
PROBLEM_RE = re.compile(r"\b(warning|error|fatal|panic):|"
                        r"status=(deferred|bounced|expired)\b")
DELAYS_RE = re.compile(r": to=<([^>]*)>,.* delay=([\d.]+), "
                       r"delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+),"
                       r".* status=sent\b")


def log(text):
    print(f"bench: mail: {text}", flush=True)


def message(n, rcpt):
    """Message n: a few headers and a body of exactly 1024 bytes."""
    head = (f"From: Bench <{SENDER}>\nTo: <{rcpt}>\n"
            f"Subject: bench message {n}\n\n")
    line = f"{n:08d} " + "x" * 54 + "\n"        # 64 bytes
    return (head + line * 16).encode()


# ---- CPU time of an instance ---------------------------------------------

def proc_times(pid):
    """(ppid, utime+stime, cutime+cstime) in ticks; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data.rpartition(")")[2].split()
    # rest[0] is field 3 (state): utime is field 14, cstime field 17.
    try:
        return (int(rest[1]), int(rest[11]) + int(rest[12]),
                int(rest[13]) + int(rest[14]))
    except (IndexError, ValueError):
        return None


def tree_cpu(root):
    """CPU seconds of root and its descendants, live or zombie, with
    the children they reaped (cutime/cstime). A process reaped between
    two calls moves from its own line into its parent's; the sum holds."""
    if root is None:
        return None
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            t = proc_times(int(name))
            if t:
                table[int(name)] = t
    if root not in table:
        return None
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += table[pid][1] + table[pid][2]
        todo += [p for p, t in table.items() if t[0] == pid]
    return total / CLK_TCK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine_busy():
    """CPU seconds all CPUs spent not idle (steal included: time the
    host gave to others), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            w = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(w[:8]) - w[3] - w[4]) / CLK_TCK   # minus idle, iowait


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- Maildir ----------------------------------------------------------------

def maildir_new(base, user):
    return os.path.join(base, user, "Maildir", "new")


def count_new(path):
    try:
        with os.scandir(path) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def newest_ctime(path):
    """Latest ctime (or mtime) among the files in path, epoch seconds."""
    best = 0
    with os.scandir(path) as it:
        for e in it:
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            best = max(best, st.st_ctime_ns, st.st_mtime_ns)
    return best / 1e9


class LogWatch:
    """Reads an instance's log as it grows; finds the first delivery of
    ours that bounced or was deferred (a run that cannot finish)."""

    BAD = re.compile(r"^.*: to=<(bench\d+|warmup)@localhost>,.*"
                     r"status=(bounced|deferred|expired)\b.*$", re.M)

    def __init__(self, path):
        self.path = path
        self.offset = log_size(path)
        self.text = ""

    def poll(self):
        """New text since the last call (whole lines only)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return ""
        data = data[:data.rfind(b"\n") + 1]
        self.offset += len(data)
        new = data.decode("utf-8", "replace")
        self.text += new
        return new

    def failure(self):
        m = self.BAD.search(self.poll())
        return m.group(0) if m else None


def wait_all(paths, want, stall, watch, interval=0.05):
    """Poll until the Maildirs in paths hold want files between them.
    Gives up when the count has not grown for stall seconds, or when
    the log shows a bounce or deferral. Returns (count, reason)."""
    last, since = -1, time.monotonic()
    while True:
        n = sum(count_new(p) for p in paths)
        if n >= want:
            return n, None
        bad = watch.failure()
        if bad:
            return n, f"{n} of {want} delivered; the log says: {bad}"
        now = time.monotonic()
        if n != last:
            last, since = n, now
        elif now - since > stall:
            return n, (f"{n} of {want} messages delivered, none for "
                       f"{stall} s")
        time.sleep(interval)


# ---- the two systems --------------------------------------------------------

class Petrel:
    """A harness.Instance delivering into Maildirs, as test_mailflow."""

    name = "petrel"

    PROGRAMS = ("master", "petrel", "sendmail", "postdrop", "pickup",
                "cleanup", "trivial-rewrite", "qmgr", "local", "virtual",
                "bounce")

    def __init__(self, build):
        missing = [p for p in self.PROGRAMS if not os.access(
            os.path.join(build, "src", p), os.X_OK)]
        if missing:
            raise RuntimeError(f"not built in {build}/src: "
                               + " ".join(missing))
        os.environ["PETREL_BUILD"] = build
        import mailsystem
        # Production timers rather than the tests' quick retries.
        self.inst = mailsystem.harness_instance(
            queue_run_delay="300s", minimal_backoff_time="300s",
            maximal_backoff_time="4000s")
        self.dir = self.inst.dir
        self.base = self.maildir_config(self.inst)
        self.maillog = self.inst.maillog
        self.sendmail = [mailsystem.sendmail_path(self.inst), "-C",
                         self.inst.etc]
        self.env = self.inst.env()

    @staticmethod
    def maildir_config(inst):
        """test_mailflow.maildir_config: make run's delivery, local
        passing every mailbox to virtual."""
        base = os.path.join(inst.dir, "mail")
        os.mkdir(base)
        os.chmod(base, 0o755)
        table = os.path.join(inst.etc, "virtual_mailboxes")
        with open(table, "w") as f:
            f.write("/^([^@+]+)(\\+[^@]*)?@/ ${1}/Maildir/\n")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("petrel")
            uid, gid = pw.pw_uid, pw.pw_gid
            os.chown(base, uid, gid)
        else:
            uid, gid = os.getuid(), os.getgid()
        inst.set_main(mailbox_transport="virtual",
                      fallback_transport="virtual",
                      virtual_mailbox_base=base,
                      virtual_mailbox_maps=f"regexp:{table}",
                      virtual_uid_maps=f"static:{uid}",
                      virtual_gid_maps=f"static:{gid}",
                      virtual_minimum_uid="1")
        return base

    def start(self):
        self.inst.start()

    def master_pid(self):
        return self.inst.master_pid()

    def cleanup(self):
        return self.inst.cleanup()


class Postfix:
    """A private Postfix instance in a temporary directory."""

    name = "postfix"

    @staticmethod
    def find():
        """(postfix, postconf, sendmail, version) or a reason string."""
        progs = {}
        for prog in ("postfix", "postconf"):
            path = shutil.which(prog, path=":".join(
                POSTFIX_SBIN + (os.environ.get("PATH", ""),)))
            if not path:
                return "Postfix is not installed (no postfix command)"
            progs[prog] = path
        if os.geteuid() != 0:
            return "Postfix needs root to start an instance"
        try:
            r = subprocess.run([progs["postconf"], "-d", "-h",
                                "mail_version", "command_directory"],
                               capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"postconf: {e}"
        words = r.stdout.split()
        if r.returncode != 0 or len(words) != 2:
            return f"postconf -d: exit {r.returncode}: {r.stderr.strip()}"
        try:
            pwd.getpwnam("postfix")
            grp.getgrnam("postdrop")
        except KeyError as e:
            return f"no postfix user or postdrop group ({e}): reinstall " \
                "Debian's postfix"
        sendmail = os.path.join(words[1], "sendmail")
        return progs["postfix"], progs["postconf"], sendmail, words[0]

    def __init__(self, found, users):
        self.postfix, self.postconf, sendmail, self.version = found
        self.dir = tempfile.mkdtemp(prefix="postfix-bench-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.base = os.path.join(self.dir, "mail")
        self.maillog = os.path.join(self.dir, "maillog")
        for d in (self.etc, self.queue, self.base):
            os.mkdir(d)
            os.chmod(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        table = os.path.join(self.etc, "virtual_mailboxes")
        with open(table, "w") as f:
            for u in users + ["warmup"]:
                f.write(f"/^{re.escape(u)}@localhost$/ {u}/Maildir/\n")
        params = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": os.path.join(self.dir, "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": "mail.example.com",
            "mydomain": "example.com",
            "myorigin": "example.com",
            "mydestination": "$myhostname, localhost.$mydomain, localhost",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "mailbox_transport": "virtual",
            "virtual_mailbox_base": self.base,
            "virtual_mailbox_maps": f"regexp:{table}",
            "virtual_uid_maps": f"static:{pw.pw_uid}",
            "virtual_gid_maps": f"static:{pw.pw_gid}",
            "virtual_minimum_uid": "1",
            # Nothing leaves this machine.
            "default_transport": "error:outbound mail disabled (benchmark)",
            "relay_transport": "$default_transport",
            "biff": "no",
        }
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("# main.cf written by bench/mail_bench.py\n")
            for k, v in params.items():
                f.write(f"{k} = {v}\n")
        # Postfix's own master.cf, minus every network service.
        services = (
            "pickup    unix  n  -  n  60    1  pickup",
            "cleanup   unix  n  -  n  -     0  cleanup",
            "qmgr      unix  n  -  n  300   1  qmgr",
            "rewrite   unix  -  -  n  -     -  trivial-rewrite",
            "bounce    unix  -  -  n  -     0  bounce",
            "defer     unix  -  -  n  -     0  bounce",
            "trace     unix  -  -  n  -     0  bounce",
            "verify    unix  -  -  n  -     1  verify",
            "flush     unix  n  -  n  1000? 0  flush",
            "proxymap  unix  -  -  n  -     -  proxymap",
            "showq     unix  n  -  n  -     -  showq",
            "error     unix  -  -  n  -     -  error",
            "retry     unix  -  -  n  -     -  error",
            "discard   unix  -  -  n  -     -  discard",
            "local     unix  -  n  n  -     -  local",
            "virtual   unix  -  n  n  -     -  virtual",
            "postlog   unix-dgram n - n - 1  postlogd",
        )
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("# master.cf written by bench/mail_bench.py\n")
            f.write("\n".join(services) + "\n")
        self.sendmail = [sendmail, "-C", self.etc]
        self.env = dict(os.environ, LANG="C")
        self.env.pop("MAIL_CONFIG", None)
        self.procs = []

    def ctl(self, *args, timeout=60):
        return subprocess.run([self.postfix, "-c", self.etc] + list(args),
                              capture_output=True, text=True,
                              timeout=timeout, env=self.env,
                              stdin=subprocess.DEVNULL)

    def start(self):
        for verb in ("check", "start"):
            r = self.ctl(verb)
            if r.returncode != 0:
                raise RuntimeError(f"postfix -c {self.etc} {verb}: exit "
                                   f"{r.returncode}: {r.stderr.strip()}")
        deadline = time.monotonic() + 10
        while self.master_pid() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("postfix started but no master pid")
            time.sleep(0.05)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        t = proc_times(pid)
        return pid if t else None

    def _processes(self):
        """(pid, starttime) of master and its children."""
        root = self.master_pid()
        if root is None:
            return []
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    rest = f.read().decode("ascii",
                                           "replace").rpartition(")")[2]
            except OSError:
                continue
            w = rest.split()
            if int(name) == root or int(w[1]) == root:
                out.append((int(name), w[19]))
        return out

    @staticmethod
    def _alive(proc):
        pid, start = proc
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                w = f.read().decode("ascii", "replace").rpartition(")")[2]
        except OSError:
            return False
        w = w.split()
        return w[19] == start and w[0] != "Z"

    def cleanup(self):
        problems = []
        procs = self._processes()
        if procs:
            try:
                r = self.ctl("stop", timeout=30)
                if r.returncode != 0:
                    problems.append(f"postfix stop: exit {r.returncode}: "
                                    f"{r.stderr.strip()}")
            except subprocess.TimeoutExpired:
                problems.append("postfix stop timed out")
            deadline = time.monotonic() + 10
            while any(self._alive(p) for p in procs) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            left = [p for p in procs if self._alive(p)]
            for pid, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if left:
                problems.append("postfix processes survived stop (killed): "
                                + " ".join(str(p) for p, _ in left))
        if os.environ.get("PETREL_KEEP") == "1":
            log(f"PETREL_KEEP: postfix instance kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


# ---- one measurement --------------------------------------------------------

class Submitters:
    """Threads, each running sendmail after sendmail for its share."""

    def __init__(self, system, rcpts, count, parallel, first=0):
        self.system = system
        self.jobs = [(first + n, rcpts[n % len(rcpts)])
                     for n in range(count)]
        self.parallel = parallel
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def worker(self, k):
        argv = self.system.sendmail + ["-i", "-f", SENDER]
        for n, rcpt in self.jobs[k::self.parallel]:
            if self.stop.is_set():
                return
            try:
                r = subprocess.run(argv + [rcpt], input=message(n, rcpt),
                                   capture_output=True, timeout=120,
                                   env=self.system.env)
                err = None if r.returncode == 0 else \
                    f"exit {r.returncode}: {r.stderr.decode()[-200:]}"
            except (OSError, subprocess.TimeoutExpired) as e:
                err = str(e)
            if err:
                with self.lock:
                    self.failures.append(f"sendmail {rcpt}: {err}")
                    if len(self.failures) >= 10:
                        return

    def run(self):
        threads = [threading.Thread(target=self.worker, args=(k,),
                                    daemon=True)
                   for k in range(self.parallel)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        except BaseException:
            # Ctrl-C: the running sendmails finish, no new ones start.
            self.stop.set()
            raise
        return self.failures


def read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def log_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def problem_summary(text, limit=6):
    """Counts of problem log lines, grouped with queue IDs and pids cut."""
    groups = {}
    for line in text.splitlines():
        if not PROBLEM_RE.search(line):
            continue
        key = re.sub(r"^\w{3} [ \d]\d [\d:]{8} \S+ ", "", line)
        key = re.sub(r"\[\d+\]", "[N]", key)
        key = re.sub(r"\b[0-9A-Za-z]{10,}: ", "QID: ", key)
        key = re.sub(r"delays?=[\d./]+", "delay=...", key)
        groups.setdefault(key, [0, line])[0] += 1
    out = sorted(groups.values(), key=lambda g: -g[0])
    return sum(g[0] for g in out), [f"{g[0]}x {g[1]}" for g in out[:limit]]


def measure(system, args, label):
    """Start system, warm it up, time args.messages deliveries; returns
    a result dict (failed=reason when it could not finish)."""
    res = {"system": system.name, "label": label, "messages": args.messages,
           "problems": []}
    users = [f"bench{u}" for u in range(args.users)]
    rcpts = [f"{u}@localhost" for u in users]
    system.start()
    log(f"{label}: started in {system.dir}")

    # Warm-up: one message per submitter to another user, waited for,
    # so that every daemon of the path is running.
    warm = maildir_new(system.base, "warmup")
    watch = LogWatch(system.maillog)
    fails = Submitters(system, ["warmup@localhost"], WARMUP,
                       min(WARMUP, args.submitters), first=10**7).run()
    if fails:
        res["failed"] = "warm-up: " + fails[0]
        return res
    _, reason = wait_all([warm], WARMUP, args.stall, watch)
    if reason:
        res["failed"] = "warm-up: " + reason
        return res

    watch = LogWatch(system.maillog)
    cpu0 = tree_cpu(system.master_pid())
    sub0, self0, busy0 = children_cpu(), self_cpu(), machine_busy()
    t0 = time.time()
    fails = Submitters(system, rcpts, args.messages, args.submitters).run()
    t_sub = time.time()
    sub1 = children_cpu()
    if fails:
        res["problems"] += fails[:3]
        if len(fails) >= 10:
            res["failed"] = f"sendmail failed: {fails[0]}"
            return res
    want = args.messages - len(fails)
    news = [maildir_new(system.base, u) for u in users]
    got, reason = wait_all(news, want, args.stall, watch)
    driver = self_cpu() - self0
    res["driver_cpu_ms"] = 1e3 * driver / args.messages
    cpu1 = tree_cpu(system.master_pid())
    busy1, t1 = machine_busy(), time.time()
    res["delivered"] = got
    if reason:
        res["failed"] = reason
    t_end = max(newest_ctime(p) for p in news if os.path.isdir(p)) \
        if got else time.time()
    res["secs"] = max(t_end - t0, 1e-6)
    res["submit_secs"] = t_sub - t0
    res["rate"] = got / res["secs"]
    res["submit_rate"] = (args.messages - len(fails)) / res["submit_secs"]
    res["submit_cpu_ms"] = 1e3 * (sub1 - sub0) / args.messages
    if cpu0 is not None and cpu1 is not None and got:
        res["mta_cpu_ms"] = 1e3 * (cpu1 - cpu0) / got
        if busy0 is not None and busy1 is not None:
            # What the rest of the machine used meanwhile: noise.
            ours = (cpu1 - cpu0) + (sub1 - sub0) + driver
            res["others"] = max(0.0, (busy1 - busy0 - ours)
                                / ((t1 - t0) * (os.cpu_count() or 1)))
    if got > want:
        res["problems"].append(f"{got - want} more files than messages "
                               "(repeated deliveries)")

    # The delivery log lines may trail the files a little.
    pat = re.compile(r": to=<bench\d+@localhost>,.* status=sent\b")
    deadline = time.monotonic() + 10
    while True:
        watch.poll()
        text = watch.text
        sent = len(pat.findall(text))
        if sent >= got or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if sent != got:
        res["problems"].append(f"{sent} status=sent log lines for {got} "
                               "delivered messages")
    delays = [tuple(float(x) for x in m.groups()[1:])
              for m in DELAYS_RE.finditer(text)
              if m.group(1).startswith("bench")]
    if delays:
        res["delay"] = statistics.mean(d[0] for d in delays)
        res["delay_max"] = max(d[0] for d in delays)
        res["delays"] = [statistics.mean(d[i] for d in delays)
                         for i in range(1, 5)]
    res["log_problems"], res["log_samples"] = problem_summary(text)
    res["log_lines"] = len(text.splitlines())
    return res


def run_one(make, args, label, stack):
    """Make a system, measure it, clean it up; a result dict."""
    system = None
    res = {"system": label.partition("#")[0], "label": label,
           "messages": args.messages, "problems": []}
    try:
        system = make()
        stack.append(system.cleanup)
        res = measure(system, args, label)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        if not isinstance(e, (RuntimeError, AssertionError)):
            traceback.print_exc()
        res["failed"] = str(e) or repr(e)
    finally:
        if system is not None:
            if "failed" in res:
                show_tail(system, res["label"])
            stack.remove(system.cleanup)
            res["problems"] += system.cleanup()
    say(res)
    return res


def show_tail(system, label, lines=25):
    """The end of a failed instance's log, before it is removed."""
    tail = read_from(system.maillog, 0).splitlines()[-lines:]
    if tail:
        log(f"{label}: last lines of {system.maillog}:")
        for line in tail:
            print(f"    {line}")


def say(res):
    if "failed" in res:
        log(f"{res['label']}: FAILED: {res['failed']}")
    else:
        cpu = res.get("mta_cpu_ms")
        log(f"{res['label']}: {res['delivered']} messages in "
            f"{res['secs']:.2f} s: {res['rate']:.0f}/s"
            + (f", {cpu:.2f} ms CPU/msg" if cpu is not None else ""))
    for p in res.get("problems", []):
        log(f"{res['label']}: {p}")


# ---- the report -----------------------------------------------------------

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def raw_line(res):
    keys = ("messages", "delivered", "secs", "rate", "submit_secs",
            "submit_rate", "mta_cpu_ms", "submit_cpu_ms", "driver_cpu_ms",
            "delay",
            "delay_max", "log_problems", "others")
    words = [f"system={res['system']}", f"label={res['label']}"]
    for k in keys:
        v = res.get(k)
        if v is not None:
            words.append(f"{k}={v:.4g}" if isinstance(v, float)
                         else f"{k}={v}")
    if "delays" in res:
        words.append("delays=" + "/".join(f"{x:.3g}" for x in res["delays"]))
    if "failed" in res:
        words.append("failed=" + re.sub(r"\s", "_", res["failed"])[:80])
    return "bench mail " + " ".join(words)


def report(results, args, note, out=sys.stdout):
    print("", file=out)
    print(f"Local delivery: sendmail -> Maildir, {args.messages} messages "
          f"of 1 KB, {args.submitters} submitters, {args.users} "
          f"user{'s' if args.users > 1 else ''}:", file=out)
    cols = ("run", "messages", "total s", "msg/s", "submit s", "submit/s",
            "MTA CPU ms/msg", "sendmail CPU ms/msg", "avg delay s",
            "delays a/b/c/d", "log warn", "others %")
    rows = [cols]
    for r in results:
        if "failed" in r:
            rows.append((r["label"], "FAILED: " + r["failed"]))
            continue
        d = r.get("delays")
        rows.append((
            r["label"], str(r["delivered"]), fmt(r["secs"], ".2f"),
            fmt(r["rate"], ".0f"), fmt(r["submit_secs"], ".2f"),
            fmt(r["submit_rate"], ".0f"), fmt(r.get("mta_cpu_ms"), ".2f"),
            fmt(r.get("submit_cpu_ms"), ".2f"), fmt(r.get("delay"), ".2f"),
            "/".join(f"{x:.2f}" for x in d) if d else "-",
            str(r.get("log_problems", "-")),
            fmt(r["others"] * 100 if "others" in r else None, ".0f")))
    widths = [max(len(r[i]) for r in rows if len(r) == len(cols))
              for i in range(len(cols))]
    for r in rows:
        if len(r) != len(cols):
            print(f"  {r[0]:<{widths[0]}}  {r[1]}", file=out)
            continue
        print("  " + "  ".join([f"{r[0]:<{widths[0]}}"] + [
            f"{c:>{w}}" for c, w in zip(r[1:], widths[1:])]), file=out)
    for r in results:
        for line in r.get("log_samples", []):
            print(f"  {r['label']} log: {line}", file=out)
    if note:
        print(f"  {note}", file=out)
    ratio = ratios(results)
    if ratio:
        print(ratio, file=out)


def ratios(results):
    """'Ratio petrel/postfix: ...' from the median of each system's
    successful runs, and the run-by-run ratios."""
    ok = [r for r in results if "failed" not in r]
    by = {s: [r for r in ok if r["system"] == s] for s in ("petrel",
                                                          "postfix")}
    if not by["petrel"] or not by["postfix"]:
        return ""

    def med(system, key):
        vals = [r[key] for r in by[system] if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    parts = []
    a, b = med("petrel", "rate"), med("postfix", "rate")
    each = [p["rate"] / q["rate"] for p, q in zip(by["petrel"],
                                                  by["postfix"])]
    parts.append(f"msg/s {a / b:.2f}x" + (
        " (runs: " + ", ".join(f"{x:.2f}" for x in each) + ")"
        if len(each) > 1 else ""))
    a, b = med("petrel", "mta_cpu_ms"), med("postfix", "mta_cpu_ms")
    if a is not None and b:
        parts.append(f"MTA CPU per message {a / b:.2f}x")
    a, b = med("petrel", "submit_cpu_ms"), med("postfix", "submit_cpu_ms")
    if a is not None and b:
        parts.append(f"sendmail CPU per message {a / b:.2f}x")
    return ("Ratio petrel/postfix (>1: Petrel faster; CPU <1: Petrel "
            "cheaper): " + ", ".join(parts))


# ---- the step ---------------------------------------------------------------

def run(build, args, stack):
    """Every run of the systems, alternating which goes first. Cleanups
    are pushed on stack while a system exists. Returns (results, note)."""
    note = ""
    makers = []
    if "petrel" in args.systems:
        makers.append(("petrel", lambda: Petrel(build)))
    if "postfix" in args.systems:
        found = Postfix.find()
        if isinstance(found, str):
            note = f"Without Postfix: {found}."
            log(note)
        else:
            log(f"Postfix {found[3]} found")
            users = [f"bench{u}" for u in range(args.users)]
            makers.append(("postfix", lambda: Postfix(found, users)))
    results = []
    for n in range(args.runs):
        order = makers if n % 2 == 0 else makers[::-1]
        for name, make in order:
            label = name + (f"#{n + 1}" if args.runs > 1 else "")
            results.append(run_one(make, args, label, stack))
    return results, note


def add_options(p):
    p.add_argument("--messages", type=int, default=2000,
                   help="messages per run (default 2000)")
    p.add_argument("--submitters", type=int, default=4,
                   help="parallel sendmail loops (default 4)")
    p.add_argument("--users", type=int, default=1,
                   help="recipients bench0..benchN-1@localhost, in "
                   "turn (default 1)")
    p.add_argument("--runs", type=int, default=1,
                   help="runs of each system, alternating which goes "
                   "first (default 1)")
    p.add_argument("--stall", type=int, default=60,
                   help="give up when no message arrived for this "
                   "many seconds (default 60)")
    p.add_argument("--systems", default="petrel,postfix",
                   help="comma-separated: petrel, postfix (default both; "
                   "Postfix only when installed and we are root)")


def check_options(p, a):
    for name in ("messages", "submitters", "users", "runs", "stall"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    a.systems = [w for w in a.systems.split(",") if w]
    bad = set(a.systems) - {"petrel", "postfix"}
    if bad or not a.systems:
        p.error(f"--systems: petrel and/or postfix, not {a.systems}")


def save_raw(build, results):
    """Writes the raw lines into build/bench-cache/mail/last-run.txt;
    returns that path, or why it could not."""
    path = os.path.join(build, "bench-cache", "mail", "last-run.txt")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(raw_line(r) for r in results) + "\n")
    except OSError as e:
        return f"nowhere ({e})"
    return path


def failed(results):
    return any("failed" in r or r.get("delivered", 0) < r["messages"]
               for r in results)


def main(argv):
    p = argparse.ArgumentParser(
        prog="bench/mail_bench.py", description="Local delivery rate, "
        "Petrel and Postfix (see bench/README.md).")
    p.add_argument("build", help="build directory (relative to the "
                   "repository root, or absolute)")
    add_options(p)
    p.add_argument("--quick", action="store_true",
                   help="a tenth of the messages (a smoke run)")
    args = p.parse_args(argv)
    check_options(p, args)
    if args.quick:
        args.messages = max(args.messages // 10, 1)
    build = os.path.abspath(args.build if os.path.isabs(args.build)
                            else os.path.join(REPO, args.build))
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    stack = []
    results, note, status = [], "", 0
    try:
        results, note = run(build, args, stack)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        status = 1
    finally:
        while stack:
            fn = stack.pop()
            try:
                fn()
            except Exception as e:
                log(f"cleanup: {e}")
    if results:
        report(results, args, note)
        log(f"raw lines in {save_raw(build, results)}")
    if failed(results):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
