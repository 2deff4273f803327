"""
postfix_peer.py - a private, real Postfix instance as a test's SMTP peer

	reason = postfix_peer.missing()	# None, or why there is no Postfix
	peer = postfix_peer.PostfixPeer(relayhost="[127.0.0.1]:2525",
	    master_extra=["127.0.0.1:2626 inet n - n - - smtpd -o ..."],
	    smtp_line_length_limit="0")	# more main.cf parameters
	peer.start()
	with smtplib.SMTP("127.0.0.1", peer.smtpd_port) as s: ...
	peer.sendmail(["-f", "a@example.net", "b@example.com"], b"...")
	peer.wait_log(r"status=sent")
	problems = peer.cleanup()	# stops it, removes the tree

Debian's postfix package, run as `postfix -c DIR start` with its own
main.cf and master.cf in a temporary directory (as bench/mail_bench.py
runs one): its smtpd listens on 127.0.0.1:smtpd_port and accepts mail
from 127.0.0.0/8 for any domain, and everything it accepts goes to the
relayhost through its smtp client. Nothing is delivered locally, no TLS,
no DNS (the relayhost is an address literal). Keyword arguments add to
or replace main.cf parameters, master_extra adds master.cf lines. It
logs to DIR/maillog through postlogd (maillog_file), with syslog_name
"postfix".

Postfix's master must start as root (it drops to the postfix user):
missing() says so when we are not root, or when Postfix or its
postfix/postdrop accounts are not installed (scripts/bootstrap installs
them). The system's own Postfix (/etc/postfix) is never touched.

Standard library only.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile

import harness

SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")

# Postfix's master.cf columns: service type private unpriv chroot wakeup
# maxproc command. Only what a relay needs, nothing chrooted.
SERVICES = (
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
    "smtp      unix  -  -  n  -     -  smtp",
    "relay     unix  -  -  n  -     -  smtp",
    "scache    unix  -  -  n  -     1  scache",
    "anvil     unix  -  -  n  -     1  anvil",
    "postlog   unix-dgram n - n - 1  postlogd",
)


def _programs():
    """{postfix, postconf: path}, or a reason string."""
    progs = {}
    for prog in ("postfix", "postconf"):
        path = shutil.which(prog, path=":".join(
            SBIN + (os.environ.get("PATH", ""),)))
        if not path:
            return "Postfix is not installed (no postfix command): run " \
                "scripts/bootstrap"
        progs[prog] = path
    return progs


def missing():
    """None when a private Postfix can run here, else the reason."""
    progs = _programs()
    if isinstance(progs, str):
        return progs
    if os.geteuid() != 0:
        return "Postfix's master must start as root (run the suite as root)"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError as e:
        return f"no postfix user or postdrop group ({e}): reinstall " \
            "Debian's postfix (scripts/bootstrap)"
    return None


def postconf_default(name):
    """Postfix's built-in default of one parameter (postconf -d -h)."""
    progs = _programs()
    r = subprocess.run([progs["postconf"], "-d", "-h", name],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"postconf -d {name}: exit {r.returncode}: "
                           f"{r.stderr.strip()}")
    return r.stdout.strip()


class PostfixPeer:
    """A private Postfix that relays everything to relayhost."""

    def __init__(self, relayhost="", master_extra=(), **params):
        why = missing()
        if why:
            raise RuntimeError(why)
        progs = _programs()
        self.postfix = progs["postfix"]
        self.version = postconf_default("mail_version")
        command_dir = postconf_default("command_directory")
        self.dir = tempfile.mkdtemp(prefix="postfix-peer-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.maillog = os.path.join(self.dir, "maillog")
        for d in (self.etc, self.queue):
            os.mkdir(d)
            os.chmod(d, 0o755)
        self.smtpd_port = harness.free_port()
        self.params = {
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
            "myhostname": "relay.example.net",
            "mydomain": "example.net",
            "myorigin": "example.net",
            # Nothing is local: every address goes to the relayhost.
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": "",
            "relayhost": relayhost,
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            "smtp_dns_support_level": "disabled",
            "biff": "no",
            # A failed attempt comes back fast in a test.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        self.params.update(params)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("# main.cf written by tests/integration/"
                    "postfix_peer.py\n")
            for k, v in self.params.items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("# master.cf written by tests/integration/"
                    "postfix_peer.py\n")
            f.write(f"127.0.0.1:{self.smtpd_port} inet n - n - - smtpd\n")
            f.write("\n".join(SERVICES) + "\n")
            f.write("".join(line + "\n" for line in master_extra))
        self.sendmail_path = os.path.join(command_dir, "sendmail")
        self.env = dict(os.environ, LANG="C")
        self.env.pop("MAIL_CONFIG", None)

    # ---- control -------------------------------------------------------

    def ctl(self, *args, timeout=60):
        """postfix -c DIR args...; returns the CompletedProcess."""
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
        if not harness.wait_for(self.master_pid, 10):
            raise RuntimeError("postfix started but no master pid\n"
                               + self.log())
        # /proc, not a connection: a probe would be a session in the log.
        if not harness.wait_for(
                lambda: harness.listen_inodes(self.smtpd_port), 10):
            raise RuntimeError("Postfix's smtpd does not listen on "
                               f"127.0.0.1:{self.smtpd_port}\n" + self.log())

    def sendmail(self, args, message, timeout=60):
        """Postfix's sendmail -C DIR args < message; exit 0 required."""
        r = subprocess.run([self.sendmail_path, "-C", self.etc]
                           + list(args), input=message, capture_output=True,
                           timeout=timeout, env=self.env)
        if r.returncode != 0:
            raise AssertionError(f"Postfix sendmail {args}: exit "
                                 f"{r.returncode}: {r.stderr.decode()}")

    def flush(self):
        r = self.ctl("flush")
        if r.returncode != 0:
            raise AssertionError(f"postfix flush: {r.stderr.strip()}")

    # ---- the log ---------------------------------------------------------

    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def grep(self, regex):
        return list(re.finditer(regex, self.log(), re.M))

    def wait_log(self, regex, timeout=30, count=1):
        """Matches of regex once there are count of them; [] on
        timeout."""
        found = harness.wait_for(lambda: len(self.grep(regex)) >= count,
                                 timeout)
        return self.grep(regex) if found else []

    # ---- processes -------------------------------------------------------

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if harness.pid_alive(pid) else None

    def _processes(self):
        """(pid, start time) of master and its children."""
        root = self.master_pid()
        if root is None:
            return []
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            st = _stat(int(name))
            if st and (int(name) == root or st[1] == root):
                out.append((int(name), st[2]))
        return out

    @staticmethod
    def _alive(proc):
        st = _stat(proc[0])
        return st is not None and st[2] == proc[1] and st[0] != "Z"

    def cleanup(self):
        """Stop Postfix and remove the tree; returns a list of problems
        (a failed stop, processes that had to be killed)."""
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
            harness.wait_for(lambda: not any(self._alive(p)
                                             for p in procs), 10)
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
            print(f"PETREL_KEEP: postfix instance kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def _stat(pid):
    """(state, ppid, starttime) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            rest = f.read().decode("ascii", "replace").rpartition(")")[2]
    except OSError:
        return None
    w = rest.split()
    return w[0], int(w[1]), w[19]

