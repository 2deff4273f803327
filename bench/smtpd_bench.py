#!/usr/bin/python3
"""
smtpd_bench.py - SMTP accept rate and memory per idle session

usage: bench/smtpd_bench.py [options] BUILD_DIR
       (also a step of bench/run: `bench/run --only smtpd BUILD_DIR`)

Petrel's smtpd and Postfix's smtpd side by side, each in a private
instance in a temporary directory, both running for the whole step so
that the measurements can alternate between them:

  petrel   tests/integration/harness.py with cleanup, trivial-rewrite,
           pickup, showq, bounce, anvil and smtpd on 127.0.0.1:PORT
           (mailsystem.add_services without qmgr and delivery agents)
  postfix  when Postfix is installed and we are root: the instance of
           mail_bench.Postfix with another main.cf and master.cf: the
           same services (plus defer, trace and postlog, which Postfix
           needs for the same work), smtpd on 127.0.0.1:PORT

Neither instance runs a queue manager: a message that smtpd answered
250 for sits complete (fsync'd by cleanup) in queue/incoming/, and is
never delivered. What is measured is accepting mail, nothing else.
Both: localhost in mydestination, no local_recipient_maps, mynetworks
= 127.0.0.0/8 (the client, so no anvil accounting and relay by
permit_mynetworks), smtpd_peername_lookup = no, process limits of
200; Postfix also in_flow_delay = 0 (its inflow throttle waits for
tokens that only a queue manager hands out).

Measured:

  idle sessions  K connections (--sessions, default 100) that sent EHLO
                 and wait; the summed memory of the smtpd processes
                 (/proc/PID/smaps_rollup: Rss, Pss, and USS = private
                 clean + dirty) divided by K, and the growth of the
                 whole instance's Pss divided by K.
  accept rate    smtp-source -c -l 1024 -m N -s C -f from@example.com
                 -t bench@localhost 127.0.0.1:PORT at each concurrency
                 C (--concurrency, default 1,10,50); wall time, messages
                 per second, the instance's CPU time per message; the
                 files in incoming/ are counted (all N must be there)
                 and removed before the next measurement. With
                 --smtpd-runs R, R rounds, each system first in turn.
                 The memory measurement comes first, so every rate is
                 measured with a pool of about K idle smtpd processes
                 (as after a burst), the same for both.

A stand-in for the queue manager (QmgrStandIn) holds queue/public/qmgr
open as a FIFO: each cleanup's wake-up after a message finds a reader,
as in production, and neither MTA logs a missing queue manager; the
wake-ups are counted (one per message).

Everything is stopped and removed at the end, after errors, Ctrl-C and
SIGTERM too. Exit status 0 when every measurement ran and every
message was accepted; 1 otherwise.
"""

import argparse
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
import types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTEGRATION = os.path.join(REPO, "tests", "integration")
for _p in (INTEGRATION, os.path.join(REPO, "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import mail_bench  # noqa: E402

SENDER = "from@example.com"
RCPT = "bench@localhost"
BODY = 1024                     # smtp-source -l: payload bytes
MAXPROC = 200                   # smtpd and default_process_limit
WARMUP = 20                     # messages before anything is measured
CONNECT_TIMEOUT = 30

MAIN = {
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "alias_maps": "",
    "alias_database": "",
    "local_recipient_maps": "",
    "mynetworks": "127.0.0.0/8",
    "smtpd_peername_lookup": "no",
    "default_process_limit": str(MAXPROC),
}


def log(text):
    print(f"bench: smtpd: {text}", flush=True)


def find_smtp_source():
    return shutil.which("smtp-source", path=":".join(
        mail_bench.POSTFIX_SBIN + (os.environ.get("PATH", ""),)))


# ---- the two systems --------------------------------------------------------

class PetrelSmtpd:
    """A harness.Instance that accepts mail and never delivers it."""

    name = "petrel"

    PROGRAMS = ("master", "petrel", "smtpd", "cleanup", "trivial-rewrite",
                "pickup", "showq", "bounce", "anvil")

    def __init__(self, build):
        missing = [p for p in self.PROGRAMS if not os.access(
            os.path.join(build, "src", p), os.X_OK)]
        if missing:
            raise RuntimeError(f"not built in {build}/src: "
                               + " ".join(missing))
        os.environ["PETREL_BUILD"] = build
        import harness
        mailsystem = import_mailsystem()
        self.inst = harness.Instance(**MAIN)
        mailsystem.add_services(self.inst, local=False, virtual=False,
                                qmgr=False, error=False)
        self.inst.add_service("anvil", "unix", "anvil", private="-",
                              maxproc=1)
        self.port = self.inst.add_inet("smtpd", maxproc=MAXPROC)
        self.dir = self.inst.dir
        self.queue = self.inst.queue
        self.maillog = self.inst.maillog

    def start(self):
        self.inst.start()
        self.qmgr = QmgrStandIn(self.queue)

    def master_pid(self):
        return self.inst.master_pid()

    def cleanup(self):
        problems = self.inst.cleanup()
        if getattr(self, "qmgr", None):
            self.qmgr.close()
        return problems


class PostfixSmtpd(mail_bench.Postfix):
    """mail_bench's private Postfix, reconfigured: smtpd on a loopback
    port, no queue manager, no delivery agents."""

    name = "postfix"

    def __init__(self, found):
        super().__init__(found, [])
        self.port = free_port()
        params = dict(MAIN)
        params.update({
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": os.path.join(self.dir, "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            # Without a queue manager nobody refills the flow pipe:
            # each message would wait this long for a token.
            "in_flow_delay": "0",
            "default_transport": "error:outbound mail disabled "
                                 "(benchmark)",
            "relay_transport": "$default_transport",
            "biff": "no",
        })
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("# main.cf written by bench/smtpd_bench.py\n")
            for k, v in params.items():
                f.write(f"{k} = {v}\n")
        services = (
            f"127.0.0.1:{self.port} inet n - n - {MAXPROC} smtpd",
            "pickup    unix  n  -  n  60    1  pickup",
            "cleanup   unix  n  -  n  -     0  cleanup",
            "rewrite   unix  -  -  n  -     -  trivial-rewrite",
            "bounce    unix  -  -  n  -     0  bounce",
            "defer     unix  -  -  n  -     0  bounce",
            "trace     unix  -  -  n  -     0  bounce",
            "anvil     unix  -  -  n  -     1  anvil",
            "showq     unix  n  -  n  -     -  showq",
            "postlog   unix-dgram n - n - 1  postlogd",
        )
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("# master.cf written by bench/smtpd_bench.py\n")
            f.write("\n".join(services) + "\n")
        self.qmgr = None

    def start(self):
        super().start()
        self.qmgr = QmgrStandIn(self.queue)

    def cleanup(self):
        problems = super().cleanup()
        if self.qmgr:
            self.qmgr.close()
        return problems


def import_mailsystem():
    """tests/integration/mailsystem.py, which imports pytest for its
    helpers that fail tests: without pytest, a stand-in module is
    enough for add_services()."""
    if importlib.util.find_spec("pytest") is None \
            and "pytest" not in sys.modules:
        sys.modules["pytest"] = types.ModuleType("pytest")
    import mailsystem
    return mailsystem


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the queue ----------------------------------------------------------

class QmgrStandIn:
    """queue/public/qmgr as a FIFO that we hold open and drain: each
    cleanup wakes "the queue manager" after each message, as it would
    in production (one open and one write), and finds a reader, so
    neither MTA logs anything about it; nobody acts on the wake-ups.
    drain() returns how many bytes (wake-ups) arrived since the last
    call."""

    PIPE_SIZE = 1 << 20         # room for a run's wake-ups

    def __init__(self, queue):
        self.path = os.path.join(queue, "public", "qmgr")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.mkfifo(self.path, 0o622)
        os.chmod(self.path, 0o622)
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK
                          | os.O_CLOEXEC)
        try:
            import fcntl
            fcntl.fcntl(self.fd, getattr(fcntl, "F_SETPIPE_SZ", 1031),
                        self.PIPE_SIZE)
        except OSError:
            pass                # 64 KB: still room for 65536 messages

    def drain(self):
        n = 0
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return n
            if not data:
                return n
            n += len(data)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

def queue_files(queue, name):
    """Regular files under queue/name (any hash depth)."""
    out = []
    for dirpath, _, files in os.walk(os.path.join(queue, name)):
        out += [os.path.join(dirpath, f) for f in files]
    return out


def empty_incoming(system):
    """Removes the accepted messages: nothing reads incoming/ without
    a queue manager, and each measurement starts from an empty one."""
    for path in queue_files(system.queue, "incoming"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


# ---- processes and memory -------------------------------------------------

def proc_children(ppid):
    """(pid, comm) of the live children of ppid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read().decode("ascii", "replace")
        except OSError:
            continue
        comm = data[data.find("(") + 1:data.rfind(")")]
        rest = data.rpartition(")")[2].split()
        if len(rest) > 1 and rest[1] == str(ppid) and rest[0] != "Z":
            out.append((int(name), comm))
    return out


def smaps_rollup(pid):
    """{'Rss': kB, 'Pss': kB, 'Private_Dirty': kB, ...}; {} if gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                w = line.split()
                if len(w) == 3 and w[2] == "kB":
                    out[w[0].rstrip(":")] = int(w[1])
    except (OSError, ValueError):
        return {}
    return out


def page_tables(pid):
    """VmPTE of pid in kB (kernel memory, not in smaps); 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmPTE:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory(pids):
    """Summed Rss, Pss, USS (private clean + dirty) and page tables,
    in kB."""
    tot = {"rss": 0, "pss": 0, "uss": 0, "pte": 0}
    for pid in pids:
        m = smaps_rollup(pid)
        tot["rss"] += m.get("Rss", 0)
        tot["pss"] += m.get("Pss", 0)
        tot["uss"] += m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
        tot["pte"] += page_tables(pid)
    return tot


def instance_pids(system):
    root = system.master_pid()
    return [root] + [p for p, _ in proc_children(root)] if root else []


def smtpd_pids(system):
    root = system.master_pid()
    return [p for p, comm in proc_children(root) if comm == "smtpd"] \
        if root else []


def read_reply(sock, buf):
    """One whole SMTP reply (the line with 'NNN ' after any 'NNN-'):
    (code, rest of the buffer)."""
    while True:
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            if len(line) >= 4 and line[3:4] != b"-":
                return line[:3].decode("ascii", "replace"), buf
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("connection closed by the server")
        buf += data


def idle_sessions(system, k):
    """Opens k sessions that sent EHLO, measures, closes them. A dict
    of kB per session (or failed=reason)."""
    res = {"system": system.name, "sessions": k}
    before = memory(instance_pids(system))
    socks = []
    try:
        t0 = time.monotonic()
        for n in range(k):
            s = socket.create_connection(("127.0.0.1", system.port),
                                         timeout=CONNECT_TIMEOUT)
            socks.append(s)
            code, buf = read_reply(s, b"")
            if code != "220":
                raise RuntimeError(f"session {n}: greeting {code}")
            s.sendall(b"EHLO client.example.com\r\n")
            code, buf = read_reply(s, buf)
            if code != "250":
                raise RuntimeError(f"session {n}: EHLO answered {code}")
        res["open_secs"] = time.monotonic() - t0
        time.sleep(0.5)             # let lazy initialisation settle
        pids = smtpd_pids(system)
        res["processes"] = len(pids)
        mem = memory(pids)
        after = memory(instance_pids(system))
        for key in ("rss", "pss", "uss", "pte"):
            res[key] = mem[key] / k
        res["inst_pss"] = (after["pss"] - before["pss"]) / k
        if len(pids) != k:
            res["note"] = f"{len(pids)} smtpd processes for {k} sessions"
    except (OSError, RuntimeError) as e:
        res["failed"] = f"after {len(socks)} sessions: {e}"
    finally:
        for s in socks:
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
        for s in socks:
            try:
                s.settimeout(5)
                read_reply(s, b"")
            except (OSError, ConnectionError):
                pass
            s.close()
    return res


# ---- accept rate ------------------------------------------------------------

class Sender:
    def __init__(self, smtp_source):
        self.smtp_source = smtp_source

    def argv(self, system, n, conc):
        return [self.smtp_source, "-c", "-l", str(BODY), "-m", str(n),
                "-s", str(conc), "-f", SENDER, "-t", RCPT,
                f"127.0.0.1:{system.port}"]

    def run(self, system, n, conc, label, timeout):
        """smtp-source, timed; the result dict."""
        res = {"system": system.name, "label": label, "conc": conc,
               "messages": n}
        empty_incoming(system)
        system.qmgr.drain()
        res["pool"] = len(smtpd_pids(system))
        watch = mail_bench.LogWatch(system.maillog)
        cpu0 = mail_bench.tree_cpu(system.master_pid())
        src0, busy0 = mail_bench.children_cpu(), mail_bench.machine_busy()
        t0 = time.monotonic()
        try:
            r = subprocess.run(self.argv(system, n, conc),
                               capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            res["failed"] = f"smtp-source timed out after {timeout} s"
            return res
        t1 = time.monotonic()
        cpu1 = mail_bench.tree_cpu(system.master_pid())
        src1, busy1 = mail_bench.children_cpu(), mail_bench.machine_busy()
        res["secs"] = max(t1 - t0, 1e-6)
        got = len(queue_files(system.queue, "incoming"))
        res["accepted"] = got
        res["wakeups"] = system.qmgr.drain()
        res["rate"] = got / res["secs"]
        if cpu0 is not None and cpu1 is not None and got:
            res["mta_cpu_ms"] = 1e3 * (cpu1 - cpu0) / got
        res["source_cpu_ms"] = 1e3 * (src1 - src0) / n
        if busy0 is not None and busy1 is not None and cpu0 is not None \
                and cpu1 is not None:
            ours = (cpu1 - cpu0) + (src1 - src0)
            res["others"] = max(0.0, (busy1 - busy0 - ours)
                                / ((t1 - t0) * (os.cpu_count() or 1)))
        watch.poll()
        res["log_lines"] = len(watch.text.splitlines())
        res["log_problems"], res["log_samples"] = \
            mail_bench.problem_summary(watch.text)
        if r.returncode != 0:
            res["failed"] = (f"smtp-source exit {r.returncode}: "
                             + " ".join(r.stderr.split())[-300:])
        elif got != n:
            res["failed"] = f"{got} of {n} messages in incoming/"
        bad = queue_files(system.queue, "corrupt")
        if bad:
            res["failed"] = f"{len(bad)} files in corrupt/"
        return res


def say(res):
    if "failed" in res:
        log(f"{res['label']}: FAILED: {res['failed']}")
        return
    cpu = res.get("mta_cpu_ms")
    log(f"{res['label']}: {res['accepted']} messages in {res['secs']:.2f} "
        f"s: {res['rate']:.0f}/s"
        + (f", {cpu:.2f} ms CPU/msg" if cpu is not None else ""))


def show_tail(system, label, lines=20):
    tail = mail_bench.read_from(system.maillog, 0).splitlines()[-lines:]
    if tail:
        log(f"{label}: last lines of {system.maillog}:")
        for line in tail:
            print(f"    {line}")


# ---- the step ---------------------------------------------------------------

def messages_for(args, conc):
    """Messages per measurement: --smtpd-messages at concurrency 1,
    twice that above (more throughput, same time)."""
    return args.smtpd_messages * (1 if conc == 1 else 2)


def run(build, args, stack):
    """Starts the systems, measures; returns (results, note): results
    is {"memory": [...], "rate": [...], "failed": [...]}."""
    results = {"memory": [], "rate": [], "failed": []}
    smtp_source = find_smtp_source()
    if not smtp_source:
        raise RuntimeError("smtp-source is missing: it comes with "
                           "Debian's postfix package (scripts/bootstrap)")
    sender = Sender(smtp_source)
    note = ""
    makers = []
    if "petrel" in args.systems:
        makers.append(("petrel", lambda: PetrelSmtpd(build)))
    if "postfix" in args.systems:
        found = mail_bench.Postfix.find()
        if isinstance(found, str):
            note = f"Without Postfix: {found}."
            log(note)
        else:
            log(f"Postfix {found[3]} found")
            makers.append(("postfix", lambda: PostfixSmtpd(found)))
    systems = []
    for name, make in makers:
        try:
            system = make()
        except (OSError, RuntimeError) as e:
            results["failed"].append({"system": name, "label": name,
                                      "conc": 0, "messages": 0,
                                      "failed": f"no instance: {e}"})
            log(f"{name}: FAILED: no instance: {e}")
            continue
        stack.append(system.cleanup)
        systems.append(system)
        try:
            system.start()
        except (OSError, RuntimeError, AssertionError) as e:
            results["failed"].append({"system": name, "label": name,
                                      "conc": 0, "messages": 0,
                                      "failed": "did not start: "
                                      + " ".join(str(e).split())[:200]})
            log(f"{name}: FAILED: did not start: {e}")
            show_tail(system, name)
            continue
        log(f"{system.name}: smtpd on 127.0.0.1:{system.port}, "
            f"instance in {system.dir}")

    # Warm-up: every daemon on the path running, and a sanity check.
    live = []
    for system in systems:
        if not getattr(system, "qmgr", None):
            continue            # did not start
        res = sender.run(system, WARMUP, 2, f"{system.name} warm-up", 60)
        if "failed" in res:
            say(res)
            show_tail(system, res["label"])
            results["failed"].append(res)
        else:
            live.append(system)

    for system in live:
        res = idle_sessions(system, args.sessions)
        if "failed" in res:
            log(f"{system.name}: idle sessions: FAILED: {res['failed']}")
            show_tail(system, f"{system.name} idle sessions")
        else:
            log(f"{system.name}: {args.sessions} idle sessions (opened in "
                f"{res['open_secs']:.1f} s): per session Rss "
                f"{res['rss']:.0f} kB, Pss {res['pss']:.0f} kB, USS "
                f"{res['uss']:.0f} kB; instance Pss "
                f"+{res['inst_pss']:.0f} kB"
                + (f" ({res['note']})" if "note" in res else ""))
        results["memory"].append(res)

    turn = 0
    for n in range(args.smtpd_runs):
        for conc in args.concurrency:
            order = live if turn % 2 == 0 else live[::-1]
            turn += 1
            for system in order:
                label = f"{system.name} c={conc}" + (
                    f" #{n + 1}" if args.smtpd_runs > 1 else "")
                res = sender.run(system, messages_for(args, conc), conc,
                                 label, args.smtpd_timeout)
                res["run"] = n + 1
                say(res)
                if "failed" in res:
                    show_tail(system, label)
                results["rate"].append(res)
    for system in systems:
        empty_incoming(system)
        stack.remove(system.cleanup)
        for p in system.cleanup():
            log(f"{system.name} teardown: {p}")
    return results, note


# ---- the report -------------------------------------------------------------

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def print_table(rows, out):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join([f"{r[0]:<{widths[0]}}"] + [
            f"{c:>{w}}" for c, w in zip(r[1:], widths[1:])]), file=out)


def report(results, args, note, out=sys.stdout):
    print("", file=out)
    print(f"SMTP accept rate: smtp-source -l {BODY}, one message per "
          f"connection, {args.smtpd_messages} messages at concurrency 1, "
          f"{2 * args.smtpd_messages} above; not delivered "
          f"(no queue manager):", file=out)
    ok = [r for r in results["rate"] if "failed" not in r]
    rows = [("system", "conc", "msg/s", "best", "runs msg/s",
             "MTA CPU ms/msg",
             "smtp-source CPU ms/msg", "smtpd pool", "log warn",
             "others %")]
    for conc in args.concurrency:
        for name in ("petrel", "postfix"):
            mine = [r for r in ok if r["system"] == name
                    and r["conc"] == conc]
            if not mine:
                continue
            oth = median(mine, "others")
            rows.append((name, str(conc), fmt(median(mine, "rate"), ".0f"),
                         fmt(max(r["rate"] for r in mine), ".0f"),
                         " ".join(f"{r['rate']:.0f}" for r in mine),
                         fmt(median(mine, "mta_cpu_ms"), ".2f"),
                         fmt(median(mine, "source_cpu_ms"), ".2f"),
                         fmt(median(mine, "pool"), ".0f"),
                         str(sum(r["log_problems"] for r in mine)),
                         fmt(oth * 100 if oth is not None else None,
                             ".0f")))
    if len(rows) > 1:
        print_table(rows, out)
    for r in results["failed"] + results["rate"]:
        if "failed" in r:
            print(f"  {r['label']}: FAILED: {r['failed']}", file=out)
    seen = set()
    for r in results["rate"]:
        for line in r.get("log_samples", []):
            if (r["system"], line) not in seen:
                seen.add((r["system"], line))
                print(f"  {r['system']} log: {line}", file=out)

    mem = [m for m in results["memory"] if "failed" not in m]
    if mem:
        print(f"Memory per idle session ({args.sessions} sessions after "
              f"EHLO; smtpd processes, kB):", file=out)
        rows = [("system", "processes", "Rss", "Pss", "USS",
                 "page tables", "instance +Pss")]
        for m in mem:
            rows.append((m["system"], str(m["processes"]),
                         fmt(m["rss"], ".0f"), fmt(m["pss"], ".0f"),
                         fmt(m["uss"], ".0f"), fmt(m["pte"], ".0f"),
                         fmt(m["inst_pss"], ".0f")))
        print_table(rows, out)
    for m in results["memory"]:
        if "failed" in m:
            print(f"  {m['system']} idle sessions: FAILED: {m['failed']}",
                  file=out)
    if note:
        print(f"  {note}", file=out)
    for line in ratios(results, args):
        print(line, file=out)


def ratios(results, args):
    """'Ratio petrel/postfix' lines: rates by concurrency (medians, and
    each round's pair), CPU per message, memory."""
    ok = [r for r in results["rate"] if "failed" not in r]
    lines = []
    parts = []
    for conc in args.concurrency:
        p = [r for r in ok if r["system"] == "petrel" and r["conc"] == conc]
        q = [r for r in ok if r["system"] == "postfix" and r["conc"] == conc]
        a, b = median(p, "rate"), median(q, "rate")
        if not a or not b:
            continue
        qs = {r["run"]: r for r in q}
        each = [r["rate"] / qs[r["run"]]["rate"] for r in p
                if r["run"] in qs]
        cpu_a, cpu_b = median(p, "mta_cpu_ms"), median(q, "mta_cpu_ms")
        best = max(r["rate"] for r in p) / max(r["rate"] for r in q)
        parts.append(f"c={conc}: msg/s {a / b:.2f}x"
                     + (" (runs " + ", ".join(f"{x:.2f}" for x in each)
                        + f"; best {best:.2f}x)" if len(each) > 1 else "")
                     + (f", MTA CPU/msg {cpu_a / cpu_b:.2f}x"
                        if cpu_a is not None and cpu_b else ""))
    if parts:
        lines.append("Ratio petrel/postfix, accept rate (>1: Petrel "
                     "faster; CPU <1: Petrel cheaper):")
        lines += [f"  {x}" for x in parts]
    mem = {m["system"]: m for m in results["memory"] if "failed" not in m}
    if "petrel" in mem and "postfix" in mem:
        a, b = mem["petrel"], mem["postfix"]
        lines.append("Ratio petrel/postfix, memory per idle session (<1: "
                     "Petrel smaller): " + ", ".join(
                         f"{k} {a[key] / b[key]:.2f}x"
                         for k, key in (("Rss", "rss"), ("Pss", "pss"),
                                        ("USS", "uss"),
                                        ("instance +Pss", "inst_pss"))
                         if b[key] > 0))
    return lines


def raw_lines(results):
    out = []
    for r in results["failed"] + results["rate"]:
        words = [f"system={r['system']}", "kind=rate",
                 f"conc={r['conc']}", f"messages={r['messages']}"]
        for k in ("run", "pool", "accepted", "wakeups", "log_lines", "secs",
                  "rate", "mta_cpu_ms",
                  "source_cpu_ms", "log_problems", "others"):
            v = r.get(k)
            if v is not None:
                words.append(f"{k}={v:.4g}" if isinstance(v, float)
                             else f"{k}={v}")
        if "failed" in r:
            words.append("failed=" + re.sub(r"\s", "_", r["failed"])[:80])
        out.append("bench smtpd " + " ".join(words))
    for m in results["memory"]:
        words = [f"system={m['system']}", "kind=memory",
                 f"sessions={m['sessions']}"]
        for k in ("processes", "open_secs", "rss", "pss", "uss", "pte",
                  "inst_pss"):
            v = m.get(k)
            if v is not None:
                words.append(f"{k}={v:.4g}" if isinstance(v, float)
                             else f"{k}={v}")
        if "failed" in m:
            words.append("failed=" + re.sub(r"\s", "_", m["failed"])[:80])
        out.append("bench smtpd " + " ".join(words))
    return out


def save_raw(build, results):
    """BUILD_DIR/bench-cache/smtpd/last-run.txt; its path, or why not."""
    path = os.path.join(build, "bench-cache", "smtpd", "last-run.txt")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(raw_lines(results)) + "\n")
    except OSError as e:
        return f"nowhere ({e})"
    return path


def failed(results):
    return bool(results["failed"]) or any(
        "failed" in r for r in results["rate"] + results["memory"])


# ---- options and main -------------------------------------------------------

def add_options(p, systems=True):
    """The step's options (bench/run shares --systems with the mail
    step, and passes systems=False)."""
    p.add_argument("--smtpd-messages", type=int, default=1000,
                   help="messages per measurement at concurrency 1, "
                   "twice that above (default 1000)")
    p.add_argument("--concurrency", default="1,10,50",
                   help="smtp-source -s values (default 1,10,50)")
    p.add_argument("--smtpd-runs", type=int, default=3,
                   help="rounds over the concurrencies, each system first "
                   "in turn (default 3)")
    p.add_argument("--sessions", type=int, default=100,
                   help="idle sessions for the memory figure (default 100)")
    p.add_argument("--smtpd-timeout", type=int, default=120,
                   help="give up on one smtp-source run after this many "
                   "seconds (default 120)")
    if systems:
        p.add_argument("--systems", default="petrel,postfix",
                       help="comma-separated: petrel, postfix (default "
                       "both; Postfix only when installed and we are "
                       "root)")


def check_options(p, a, systems=True):
    for name in ("smtpd_messages", "smtpd_runs", "sessions",
                 "smtpd_timeout"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.sessions > MAXPROC - 10:
        p.error(f"--sessions: at most {MAXPROC - 10} (process limit "
                f"{MAXPROC})")
    try:
        a.concurrency = [int(w) for w in a.concurrency.split(",") if w]
    except ValueError:
        p.error(f"--concurrency: numbers, not {a.concurrency!r}")
    if not a.concurrency or any(c < 1 or c > MAXPROC // 2
                                for c in a.concurrency):
        p.error(f"--concurrency: 1 to {MAXPROC // 2}")
    if systems:
        a.systems = [w for w in a.systems.split(",") if w]
        bad = set(a.systems) - {"petrel", "postfix"}
        if bad or not a.systems:
            p.error(f"--systems: petrel and/or postfix, not {a.systems}")


def quick(a):
    """--quick: a tenth of the messages, one round."""
    a.smtpd_messages = max(a.smtpd_messages // 10, 1)
    a.smtpd_runs = 1


def main(argv):
    p = argparse.ArgumentParser(
        prog="bench/smtpd_bench.py", description="SMTP accept rate and "
        "memory per idle session, Petrel and Postfix (see "
        "bench/README.md).")
    p.add_argument("build", help="build directory (relative to the "
                   "repository root, or absolute)")
    add_options(p)
    p.add_argument("--quick", action="store_true",
                   help="a tenth of the messages, one round (a smoke run)")
    args = p.parse_args(argv)
    check_options(p, args)
    if args.quick:
        quick(args)
    build = os.path.abspath(args.build if os.path.isabs(args.build)
                            else os.path.join(REPO, args.build))

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    stack = []
    results, note, status = None, "", 0
    t0 = time.monotonic()
    try:
        results, note = run(build, args, stack)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        status = 1
    except Exception:
        traceback.print_exc()
        status = 1
    finally:
        while stack:
            fn = stack.pop()
            try:
                for problem in fn() or []:
                    log(f"teardown: {problem}")
            except Exception as e:
                log(f"cleanup: {e}")
    if results:
        report(results, args, note)
        log(f"raw lines in {save_raw(build, results)}")
        if failed(results):
            status = 1
    log(f"done in {time.monotonic() - t0:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
