"""
test_rewrite.py - the trivial-rewrite daemon and its client modules

Each test starts an instance whose master.cf has Postfix's entry
"rewrite unix - - n - - trivial-rewrite" (here with -v, so that cache
hits are logged), plus services under other names that run with other
settings through -o (toggled rewriting rules, other transports, a
broken mydestination table). The client is tests/support/rewrite-query,
which goes through the real rewrite_clnt.c and resolve_clnt.c; -o
rewrite_service_name=NAME points it at one of the other services. A raw
attribute-protocol client sends what the C client never does.
"""

import os
import re
import signal
import socket
import subprocess

from harness import pid_gone, wait_for
from mailproto import RawClient, encode

MAIN = {
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
    "relay_domains": "relay.example",
    "virtual_alias_domains": "valias.example",
    "virtual_mailbox_domains": "vmbox.example, "
                               "inline:{vm2.example=1, vm3.example=1}",
}

# Rewriting with each rule toggled the other way.
TOGGLED = {
    "swap_bangpath": "no",
    "allow_percent_hack": "no",
    "append_at_myorigin": "no",
    "append_dot_mydomain": "yes",
}

# Resolving with other transports and interfaces.
ROUTED = {
    "local_transport": "local",
    "virtual_transport": "lmtp:unix:private/dovecot",
    "default_transport": "smtp:[relay.host]:25",
    "relay_transport": "relay:[gw.example]",
    "inet_interfaces": "all",
    "proxy_interfaces": "192.0.2.7",
}


class Rewrite:
    """An instance with trivial-rewrite services (see module text)."""

    def __init__(self, inst):
        self.inst = inst
        self.client = os.path.join(inst.support, "rewrite-query")
        self.domains = os.path.join(inst.etc, "localdomains")
        with open(self.domains, "w") as f:
            f.write("tabled.example OK\n.sub.example OK\n")
        missing = os.path.join(inst.etc, "missing")
        inst.set_main(mydestination="$myhostname, localhost, "
                      "!no.sub.example, texthash:" + self.domains, **MAIN)
        inst.add_service("rewrite", "unix", "trivial-rewrite", "-v",
                         private="-")
        inst.add_service("rewrite2", "unix", "trivial-rewrite",
                         private="-", opts=TOGGLED)
        inst.add_service("rewrite3", "unix", "trivial-rewrite",
                         private="-", opts=ROUTED)
        inst.add_service("rewrite4", "unix", "trivial-rewrite",
                         private="-",
                         opts={"mydestination": "texthash:" + missing})
        inst.start()

    def run(self, *args, service=None):
        argv = [self.client, "-c", self.inst.etc]
        if service:
            argv += ["-o", "rewrite_service_name=" + service]
        return self.inst.run(argv + list(args))

    def rewrite(self, rule, addr, service=None):
        r = self.run("rewrite", rule, addr, service=service)
        assert r.returncode == 0, (rule, addr, r.stdout, r.stderr)
        return r.stdout.rstrip("\n")

    def resolve(self, addr, service=None):
        r = self.run("resolve", addr, service=service)
        assert r.returncode == 0, (addr, r.stdout, r.stderr)
        # "transport nexthop recipient class", tab-separated.
        return tuple(r.stdout.rstrip("\n").split("\t"))

    def interactive(self, service=None):
        argv = [self.client, "-c", self.inst.etc, "-i"]
        if service:
            argv += ["-o", "rewrite_service_name=" + service]
        return subprocess.Popen(argv, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=self.inst.env(), bufsize=1)

    def service_pids(self, service):
        """Children of master that run trivial-rewrite as service."""
        out = []
        for pid in self.inst.children():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if (argv and os.path.basename(argv[0]) == b"trivial-rewrite"
                    and service.encode() in argv):
                out.append(pid)
        return out

    def socket_path(self, service="rewrite"):
        return os.path.join(self.inst.queue, "private", service)


# ---- rewrite ----------------------------------------------------------------

# (label, service, rule, address, want)
REWRITE_CASES = [
    ("bare user gets @myorigin", None, "local", "joe", "joe@example.com"),
    ("no .mydomain by default", None, "local", "joe@host", "joe@host"),
    ("trailing dot dropped", None, "local", "joe@example.org.",
     "joe@example.org"),
    ("dot-dot kept", None, "local", "joe@example.org..",
     "joe@example.org.."),
    ("at-dot kept", None, "local", "joe@.", "joe@."),
    ("source route stripped", None, "local", "@a.example,@b.example:joe@c.ex",
     "joe@c.ex"),
    ("route then myorigin", None, "local", "@a.example:joe",
     "joe@example.com"),
    ("bang path swapped", None, "local", "site!joe", "joe@site"),
    ("first bang wins", None, "local", "a!b!joe", "b!joe@a"),
    ("percent hack", None, "local", "joe%example.net", "joe@example.net"),
    ("last percent wins", None, "local", "joe%a%b", "joe%a@b"),
    ("bang before percent", None, "local", "a!joe%b", "joe%b@a"),
    ("no routing behind @", None, "local", "a!joe%b@c", "a!joe%b@c"),
    ("quoted local part", None, "local", '"john smith"',
     '"john smith"@example.com'),
    ("quoted @ is not an operator", None, "local", '"a@b"',
     '"a@b"@example.com'),
    ("quoted bang is not an operator", None, "local", '"a!b"@c', '"a!b"@c'),
    ("escaped percent", None, "local", "joe\\%x", "joe\\%x@example.com"),
    ("domain literal kept", None, "local", "joe@[127.0.0.1]",
     "joe@[127.0.0.1]"),
    ("null address", None, "local", "", ""),
    ("quoted null address", None, "local", '""', '""'),
    ("lone at", None, "local", "@", ""),
    ("remote: no @myorigin", None, "remote", "joe", "joe"),
    ("remote: still swaps", None, "remote", "site!joe", "joe@site"),
    ("remote: still percent", None, "remote", "joe%site", "joe@site"),
    ("remote: trailing dot", None, "remote", "joe@site.", "joe@site"),
    # swap_bangpath=no allow_percent_hack=no append_at_myorigin=no
    # append_dot_mydomain=yes
    ("toggled: no swap", "rewrite2", "local", "site!joe", "site!joe"),
    ("toggled: no percent", "rewrite2", "local", "joe%site", "joe%site"),
    ("toggled: no @myorigin", "rewrite2", "local", "joe", "joe"),
    ("toggled: .mydomain", "rewrite2", "local", "joe@host",
     "joe@host.example.com"),
    ("toggled: dotted kept", "rewrite2", "local", "joe@host.example.org",
     "joe@host.example.org"),
    ("toggled: fqdn dot", "rewrite2", "local", "joe@host.", "joe@host"),
    ("toggled: literal kept", "rewrite2", "local", "joe@[192.0.2.1]",
     "joe@[192.0.2.1]"),
    ("toggled: remote no .mydomain", "rewrite2", "remote", "joe@host",
     "joe@host"),
]


def test_rewrite_rules(instance):
    rw = Rewrite(instance)
    failed = []
    for label, service, rule, addr, want in REWRITE_CASES:
        got = rw.rewrite(rule, addr, service=service)
        if got != want:
            failed.append(f"{label}: {addr!r} -> {got!r}, want {want!r}")
    assert not failed, "\n".join(failed)


# ---- resolve ----------------------------------------------------------------

ALIAS_NEXTHOP = "5.1.1 User unknown in virtual alias table"

# (label, service, address, (transport, nexthop, recipient, class))
RESOLVE_CASES = [
    ("no domain is local", None, "joe",
     ("local", "mail.example.com", "joe@mail.example.com", "local")),
    ("myhostname", None, "joe@mail.example.com",
     ("local", "mail.example.com", "joe@mail.example.com", "local")),
    ("localhost keeps its case", None, "joe@LocalHost",
     ("local", "mail.example.com", "joe@LocalHost", "local")),
    ("texthash table", None, "joe@tabled.example",
     ("local", "mail.example.com", "joe@tabled.example", "local")),
    ("table parent key", None, "joe@x.sub.example",
     ("local", "mail.example.com", "joe@x.sub.example", "local")),
    ("excluded", None, "joe@no.sub.example",
     ("smtp", "no.sub.example", "joe@no.sub.example", "default")),
    ("own address literal", None, "joe@[127.0.0.1]",
     ("local", "mail.example.com", "joe@[127.0.0.1]", "local")),
    ("other literal", None, "joe@[127.0.0.2]",
     ("smtp", "[127.0.0.2]", "joe@[127.0.0.2]", "default")),
    ("virtual alias", None, "joe@valias.example",
     ("error", ALIAS_NEXTHOP, "joe@valias.example", "alias")),
    ("virtual mailbox", None, "joe@vmbox.example",
     ("virtual", "vmbox.example", "joe@vmbox.example", "virtual")),
    ("virtual mailbox inline", None, "joe@VM3.example",
     ("virtual", "vm3.example", "joe@VM3.example", "virtual")),
    ("relay", None, "joe@relay.example",
     ("relay", "relay.example", "joe@relay.example", "relay")),
    ("default lowercases nexthop", None, "joe@Example.NET",
     ("smtp", "example.net", "joe@Example.NET", "default")),
    ("trailing dot", None, "joe@example.net.",
     ("smtp", "example.net", "joe@example.net", "default")),
    ("percent behind local", None, "joe%example.net@localhost",
     ("smtp", "example.net", "joe@example.net", "default")),
    ("bang behind local", None, "example.net!joe@localhost",
     ("smtp", "example.net", "joe@example.net", "default")),
    ("quoted @ behind local", None, '"joe@example.net"@localhost',
     ("smtp", "example.net", "joe@example.net", "default")),
    ("two local domains", None, "joe%localhost@mail.example.com",
     ("local", "mail.example.com", "joe@localhost", "local")),
    ("routing behind remote kept", None, "joe%x@example.net",
     ("smtp", "example.net", "joe%x@example.net", "default")),
    ("quoted local part", None, '"john smith"@localhost',
     ("local", "mail.example.com", '"john smith"@localhost', "local")),
    # local_transport=local, transports with nexthops, interfaces all
    ("local nexthop default", "rewrite3", "joe",
     ("local", "mail.example.com", "joe@mail.example.com", "local")),
    ("inet_interfaces all", "rewrite3", "joe@[127.0.0.1]",
     ("local", "mail.example.com", "joe@[127.0.0.1]", "local")),
    ("proxy_interfaces", "rewrite3", "joe@[192.0.2.7]",
     ("local", "mail.example.com", "joe@[192.0.2.7]", "local")),
    ("not an interface", "rewrite3", "joe@[192.0.2.8]",
     ("smtp", "[relay.host]:25", "joe@[192.0.2.8]", "default")),
    ("virtual transport nexthop", "rewrite3", "joe@vmbox.example",
     ("lmtp", "unix:private/dovecot", "joe@vmbox.example", "virtual")),
    ("relay transport nexthop", "rewrite3", "joe@relay.example",
     ("relay", "[gw.example]", "joe@relay.example", "relay")),
    ("default transport nexthop", "rewrite3", "joe@example.net",
     ("smtp", "[relay.host]:25", "joe@example.net", "default")),
]


def test_resolve_classes(instance):
    rw = Rewrite(instance)
    failed = []
    for label, service, addr, want in RESOLVE_CASES:
        got = rw.resolve(addr, service=service)
        if got != want:
            failed.append(f"{label}: {addr!r} -> {got!r}, want {want!r}")
    assert not failed, "\n".join(failed)


def test_ipv6_literal_with_interfaces_all(instance):
    rw = Rewrite(instance)
    have_v6 = os.path.exists("/proc/net/if_inet6") and any(
        line.split()[0] == "0" * 31 + "1"
        for line in open("/proc/net/if_inet6"))
    got = rw.resolve("joe@[IPv6:::1]", service="rewrite3")
    if have_v6:
        assert got[3] == "local", got
    assert rw.resolve("joe@[IPv6:2001:db8::1]", service="rewrite3")[3] \
        == "default"


def test_table_failure_is_temporary(instance):
    rw = Rewrite(instance)
    r = rw.run("resolve", "joe@example.net", service="rewrite4")
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert "mydestination" in r.stderr, r.stderr
    assert instance.wait_log(r"petrel/trivial-rewrite\[\d+\]: warning: "
                             r"resolve \"joe@example.net\": mydestination")
    # Rewriting needs no table and still works there.
    assert rw.rewrite("local", "joe", service="rewrite4") \
        == "joe@example.com"


# ---- cache ------------------------------------------------------------------

def test_cache_gives_the_same_answers(instance):
    rw = Rewrite(instance)
    first = [rw.rewrite("local", "cached"), rw.resolve("cached@example.net")]
    second = [rw.rewrite("local", "cached"),
              rw.resolve("cached@example.net")]
    assert first == second == ["cached@example.com",
                               ("smtp", "example.net",
                                "cached@example.net", "default")]
    assert instance.wait_log(r'rewrite local "cached" -> '
                             r'"cached@example.com" \(cached\)')
    assert instance.wait_log(r'resolve "cached@example.net" -> smtp '
                             r'"example.net" "cached@example.net" default '
                             r'\(cached\)')
    # Each context has its own entry.
    assert rw.rewrite("remote", "cached") == "cached"
    assert len(rw.service_pids("rewrite")) == 1


def test_full_cache_is_emptied(instance):
    rw = Rewrite(instance)
    assert rw.rewrite("local", "first") == "first@example.com"
    c = RawClient(rw.socket_path())
    # 10000 more distinct answers, in pipelined batches.
    for batch in range(10):
        c.send(b"".join(encode(("request", "rewrite"), ("rule", "local"),
                               ("address", f"u{batch}x{i}"))
                        for i in range(1000)))
        for i in range(1000):
            assert c.reply()["address"] == f"u{batch}x{i}@example.com"
    c.close()
    assert instance.wait_log(r"trivial-rewrite\[\d+\]: cache full "
                             r"\(10000 answers\); emptied")
    # Asked again, the first one is computed afresh, and right.
    since = instance.log_size()
    assert rw.rewrite("local", "first") == "first@example.com"
    assert instance.wait_log(r'rewrite local "first" -> '
                             r'"first@example.com"$', since=since)
    assert len(rw.service_pids("rewrite")) == 1


# ---- bad requests -----------------------------------------------------------

def test_malformed_requests_are_refused(instance):
    rw = Rewrite(instance)
    path = rw.socket_path()

    c = RawClient(path)
    c.send(b"3:request,not a netstring")
    reply = c.reply()
    assert reply["status"] == "1", reply
    assert "malformed request" in reply["reason"], reply
    assert c.closed()
    c.close()
    assert instance.wait_log(r"petrel/trivial-rewrite\[\d+\]: warning: bad "
                             r"request from client pid \d+ uid \d+: "
                             r"malformed request")

    bad = [
        ([("request", "frob"), ("address", "x")], 'unknown request "frob"'),
        ([("address", "x")], 'missing attribute "request"'),
        ([("request", "rewrite"), ("address", "x")],
         'missing attribute "rule"'),
        ([("request", "rewrite"), ("rule", "sideways"), ("address", "x")],
         'unknown rewrite rule "sideways"'),
        ([("request", "resolve"), ("address", "x"), ("extra", "1")],
         'unexpected attribute "extra"'),
        ([("request", "resolve"), ("address", "x"), ("address", "y")],
         "duplicate"),
    ]
    for pairs, why in bad:
        c = RawClient(path)
        reply = c.request(*pairs)
        assert reply == {"status": "1", "reason": reply["reason"]}, pairs
        assert why in reply["reason"], (pairs, reply)
        assert c.closed(), pairs
        c.close()
        assert instance.wait_log(r"warning: bad request from client pid "
                                 r"\d+ uid \d+: .*" + re.escape(why))

    # Through the C client: a temporary failure with the reason.
    r = rw.run("rewrite", "sideways", "joe")
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert 'request refused: unknown rewrite rule "sideways"' in r.stderr

    # Pipelined good requests on one connection, then the server is
    # still fine for others.
    c = RawClient(path)
    c.send(encode(("request", "rewrite"), ("rule", "local"),
                  ("address", "a"))
           + encode(("request", "resolve"), ("address", "b@localhost")))
    assert c.reply() == {"status": "0", "reason": "",
                         "address": "a@example.com"}
    assert c.reply() == {"status": "0", "reason": "", "transport": "local",
                         "nexthop": "mail.example.com",
                         "recipient": "b@localhost", "class": "0"}
    c.close()
    assert rw.rewrite("local", "still") == "still@example.com"
    assert len(rw.service_pids("rewrite")) == 1


def test_long_and_odd_addresses(instance):
    rw = Rewrite(instance)
    long_local = "x" * 5000
    assert rw.rewrite("local", long_local) == long_local + "@example.com"
    # Unbalanced quotes and brackets run to the end: no operator found.
    assert rw.rewrite("local", '"joe@x') == '"joe@x@example.com'
    assert rw.rewrite("remote", "joe@[1.2.3.4") == "joe@[1.2.3.4"
    # Too many local domains: a temporary failure, not a loop.
    r = rw.run("resolve", "joe" + "%localhost" * 70 + "@localhost")
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert "local domains" in r.stderr
    # Over the request size limit: refused, the server survives.
    r = rw.run("rewrite", "local", "y" * 70000)
    assert r.returncode == 75
    assert rw.rewrite("local", "ok") == "ok@example.com"


# ---- the connection -----------------------------------------------------------

def test_client_reconnects_after_the_daemon_is_killed(instance):
    rw = Rewrite(instance)
    proc = rw.interactive()
    try:
        def ask(line):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            return proc.stdout.readline().rstrip("\n")

        assert ask("rewrite local a1") == "a1@example.com"
        assert ask("resolve a1@example.net") == \
            "smtp\texample.net\ta1@example.net\tdefault"
        # One connection for both kinds of request.
        old = rw.service_pids("rewrite")
        assert len(old) == 1
        old = old[0]
        for n, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
            os.kill(old, sig)
            assert wait_for(lambda: pid_gone(old), 10)
            # The next request finds the connection broken, reconnects
            # (master starts a new process) and gets its answer.
            assert ask(f"rewrite local b{n}") == f"b{n}@example.com"
            assert ask(f"resolve b{n}@localhost") == \
                f"local\tmail.example.com\tb{n}@localhost\tlocal"
            pids = rw.service_pids("rewrite")
            assert len(pids) == 1 and pids[0] != old
            old = pids[0]
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert "TEMPFAIL" not in proc.stderr.read()


def test_service_down_is_a_temporary_failure(instance):
    instance.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    instance.set_main(**MAIN)
    instance.start()
    instance.stop()
    r = instance.run([os.path.join(instance.support, "rewrite-query"),
                      "-c", instance.etc, "rewrite", "local", "joe"])
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert "cannot connect to the rewrite service" in r.stderr


def test_idle_clients_let_the_daemon_exit(instance):
    instance.set_main(ipc_idle="1s", max_idle="1s")
    rw = Rewrite(instance)
    proc = rw.interactive()
    try:
        proc.stdin.write("rewrite local idle\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "idle@example.com\n"
        pid = rw.service_pids("rewrite")[0]
        # The client drops its idle connection (ipc_idle, checked once a
        # second), then the daemon waits max_idle: 2-3 s, more when slow.
        assert wait_for(lambda: pid_gone(pid), 20), "trivial-rewrite stayed"
        proc.stdin.write("rewrite local again\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "again@example.com\n"
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    assert proc.returncode == 0


# ---- a main.cf from Debian's Postfix -----------------------------------------

def test_debian_main_cf_lines(instance):
    """The lines of Debian's stock Postfix main.cf that ask for nothing
    Petrel lacks start as they are (biff, readme_directory,
    compatibility_level, an empty relayhost), and myorigin =
    /etc/mailname takes the domain from the file, as Debian's Postfix
    does."""
    mailname = os.path.join(instance.etc, "mailname")
    with open(mailname, "w") as f:
        f.write("origin.example\n")
    instance.set_main(myhostname="mail.example.com", biff="no",
                      append_dot_mydomain="no", readme_directory="no",
                      compatibility_level="3.6", relayhost="",
                      myorigin=mailname)
    instance.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    instance.start()
    r = instance.run([os.path.join(instance.support, "rewrite-query"),
                      "-c", instance.etc, "rewrite", "local", "joe"])
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.rstrip("\n") == "joe@origin.example"
