"""
test_dns.py - src/lib/dns: asynchronous DNS through c-ares

A real dnsmasq answers on 127.0.0.1 at a free high port, with no system
configuration (no resolv.conf, no hosts file, no upstream): authoritative
("--local") for test. and 2.0.192.in-addr.arpa., REFUSED for anything
else. tests/support/dns-query asks through the library: one lookup with
dns_lookup_sync(), or many at once on one resolver (-a, dns_lookup()),
and says how long the lookups took (a monotonic clock in the tool, so
that deadline checks do not count the start of a slow sanitized build).
A UDP socket that never answers plays the dead server; a closed port
the unreachable one. A DNS failure must be TEMPFAIL (4xx), never
NOTFOUND (5xx).
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import threading

import pytest

from harness import free_port, wait_for

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

# name, records: what dnsmasq serves.
RECORDS = [
    "--address=/a.test/192.0.2.10",
    "--host-record=mail.b.test,192.0.2.20,2001:db8::20",
    # Given out of order: the library sorts by preference.
    "--mx-host=b.test,mx3.b.test,30",
    "--mx-host=b.test,mx1.b.test,10",
    "--mx-host=b.test,mx2.b.test,20",
    # RFC 7505 null MX: kept, with an empty host.
    "--mx-host=nullmx.test,.,0",
    "--txt-record=b.test,v=spf1 -all",
    "--txt-record=b.test,part1,part2",
    # PTR to a name whose address is another: not confirmed.
    "--ptr-record=40.2.0.192.in-addr.arpa,liar.b.test",
    "--host-record=liar.b.test,192.0.2.41",
    # Two PTR names, the second one confirms.
    "--ptr-record=50.2.0.192.in-addr.arpa,nohost.test",
    "--ptr-record=50.2.0.192.in-addr.arpa,two.test",
    "--host-record=two.test,192.0.2.50",
    # PTR to a name outside the local zones: its lookup is REFUSED.
    "--ptr-record=60.2.0.192.in-addr.arpa,host.elsewhere.example",
]


def dns_query_packet(name, qtype=1):
    """A minimal DNS query (id 0x1234, RD) for readiness checks."""
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def answers(port):
    """True when something answers a UDP DNS query on port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(dns_query_packet("a.test"), ("127.0.0.1", port))
            return len(s.recv(512)) > 12
        except OSError:
            return False


@pytest.fixture(scope="module")
def dnsmasq():
    port = free_port()
    argv = [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts",
            f"--port={port}", "--listen-address=127.0.0.1",
            "--bind-interfaces", "--conf-file=/dev/null", "--pid-file=",
            "--local=/test/", "--local=/2.0.192.in-addr.arpa/",
            "--local=/8.b.d.0.1.0.0.2.ip6.arpa/"] + RECORDS
    if os.geteuid() == 0:
        argv.append("--user=root")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_for(lambda: p.poll() is not None or answers(port),
                        timeout=10) or p.poll() is not None:
            pytest.fail("dnsmasq did not start: "
                        + p.stderr.read().decode(errors="replace"))
        yield f"127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(timeout=10)
        p.stderr.close()


@pytest.fixture
def silent():
    """A UDP DNS 'server' that receives and never answers; yields
    (servers, socket) so a test can see what reached it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    try:
        yield f"127.0.0.1:{s.getsockname()[1]}", s
    finally:
        s.close()


def received(sock):
    """Datagrams waiting on sock (non-blocking)."""
    got = []
    while True:
        try:
            got.append(sock.recv(4096))
        except BlockingIOError:
            return got


def query(inst, servers, *args, timeout=1000, tries=2):
    """Run dns-query; returns (exit status, [result dicts], elapsed ms)
    where a result is {type, name, status, rrs, why} and elapsed ms is
    the time the lookups took, measured by dns-query itself."""
    tool = os.path.join(inst.support, "dns-query")
    r = inst.run([tool, "-s", servers, "-t", str(timeout), "-n",
                  str(tries)] + list(args), timeout=30)
    results, elapsed = [], None
    for line in r.stdout.splitlines():
        m = re.fullmatch(r"elapsed: (\d+) ms", line)
        if m:
            elapsed = int(m.group(1))
        elif not line.startswith("\t"):
            head, _, status = line.rpartition(" ")
            type_, _, name = head.partition(" ")
            results.append({"type": type_, "name": name, "status": status,
                            "rrs": [], "why": None})
        elif line.startswith("\twhy: "):
            results[-1]["why"] = line[6:]
        else:
            results[-1]["rrs"].append(line[1:])
    assert results, f"no output: rc={r.returncode} stderr={r.stderr!r}"
    assert elapsed is not None, f"no elapsed time: {r.stdout!r}"
    return r.returncode, results, elapsed


def one(inst, servers, type_, name, **kw):
    """One lookup: (exit status, result); the result also has "ms", the
    time the lookup took."""
    rc, results, elapsed = query(inst, servers, type_, name, **kw)
    assert len(results) == 1
    results[0]["ms"] = elapsed
    return rc, results[0]


# ---- answers --------------------------------------------------------

FOUND = [
    # label, type, name, records (in order)
    ("a", "A", "a.test", ["192.0.2.10"]),
    ("a wildcard", "A", "deep.sub.a.test", ["192.0.2.10"]),
    ("a final dot", "A", "a.test.", ["192.0.2.10"]),
    ("aaaa", "AAAA", "mail.b.test", ["2001:db8::20"]),
    ("mx sorted", "MX", "b.test",
     ["10 mx1.b.test", "20 mx2.b.test", "30 mx3.b.test"]),
    ("null mx", "MX", "nullmx.test", ["0 "]),
    ("ptr v4", "PTR", "192.0.2.20", ["mail.b.test"]),
    ("ptr v6", "PTR", "2001:db8::20", ["mail.b.test"]),
    ("ptr arpa", "PTR", "20.2.0.192.in-addr.arpa", ["mail.b.test"]),
]


@pytest.mark.parametrize("label,type_,name,want", FOUND,
                         ids=[c[0] for c in FOUND])
def test_found(instance, dnsmasq, label, type_, name, want):
    rc, res = one(instance, dnsmasq, type_, name)
    assert (rc, res["status"], res["rrs"]) == (0, "OK", want), label
    assert res["type"] == type_ and res["name"] == name


def test_txt_strings_joined(instance, dnsmasq):
    rc, res = one(instance, dnsmasq, "TXT", "b.test")
    assert rc == 0 and res["status"] == "OK"
    # One record of two strings is joined; records are not.
    assert sorted(res["rrs"]) == ["part1part2", "v=spf1 -all"]


NOTFOUND = [
    ("nxdomain", "A", "nx.test"),
    ("nxdomain mx", "MX", "nothere.b.test"),
    ("no aaaa", "AAAA", "two.test"),
    ("no mx", "MX", "mail.b.test"),
    ("no txt", "TXT", "a.test"),
    ("no ptr", "PTR", "192.0.2.77"),
]


@pytest.mark.parametrize("label,type_,name", NOTFOUND,
                         ids=[c[0] for c in NOTFOUND])
def test_notfound_is_permanent(instance, dnsmasq, label, type_, name):
    rc, res = one(instance, dnsmasq, type_, name)
    assert (rc, res["status"], res["rrs"]) == (1, "NOTFOUND", []), label
    assert res["why"].startswith(f"name={name} type={type_}: ")


def test_refused_is_temporary(instance, dnsmasq):
    # dnsmasq without upstream refuses names outside its zones.
    rc, res = one(instance, dnsmasq, "A", "www.elsewhere.example")
    assert (rc, res["status"]) == (75, "TEMPFAIL")


# ---- forward-confirmed reverse DNS ----------------------------------

FCRDNS = [
    # label, address, status, name
    ("confirmed v4", "192.0.2.20", "OK", "mail.b.test"),
    ("confirmed v6", "2001:db8::20", "OK", "mail.b.test"),
    ("confirmed v4-mapped", "::ffff:192.0.2.20", "OK", "mail.b.test"),
    ("second ptr confirms", "192.0.2.50", "OK", "two.test"),
    ("not confirmed", "192.0.2.40", "NOTFOUND", "unknown"),
    ("no ptr", "192.0.2.77", "NOTFOUND", "unknown"),
    ("forward lookup fails", "192.0.2.60", "TEMPFAIL", "unknown"),
    ("not an address", "mail.b.test", "INVALID", "unknown"),
]


@pytest.mark.parametrize("label,addr,status,name", FCRDNS,
                         ids=[c[0] for c in FCRDNS])
def test_fcrdns(instance, dnsmasq, label, addr, status, name):
    rc, res = one(instance, dnsmasq, "FCRDNS", addr)
    assert (res["status"], res["rrs"]) == (status, [name]), label
    assert rc == {"OK": 0, "TEMPFAIL": 75}.get(status, 1)


def test_many_lookups_at_once(instance, dnsmasq):
    """One resolver, one event loop, answers in any order."""
    args = ["A", "a.test", "MX", "b.test", "A", "nx.test",
            "FCRDNS", "192.0.2.50", "A", "bad..name", "FCRDNS",
            "192.0.2.40", "AAAA", "mail.b.test", "TXT", "b.test"]
    rc, res, _ = query(instance, dnsmasq, "-a", *args)
    got = [(r["type"], r["name"], r["status"], r["rrs"][:1]) for r in res]
    assert got == [
        ("A", "a.test", "OK", ["192.0.2.10"]),
        ("MX", "b.test", "OK", ["10 mx1.b.test"]),
        ("A", "nx.test", "NOTFOUND", []),
        ("FCRDNS", "192.0.2.50", "OK", ["two.test"]),
        ("A", "bad..name", "INVALID", []),
        ("FCRDNS", "192.0.2.40", "NOTFOUND", ["unknown"]),
        ("AAAA", "mail.b.test", "OK", ["2001:db8::20"]),
        ("TXT", "b.test", "OK", res[7]["rrs"][:1]),
    ]
    assert sorted(res[7]["rrs"]) == ["part1part2", "v=spf1 -all"]
    assert rc == 1


# ---- failures: temporary, and within timeout * tries ----------------
#
# Times are dns-query's own (res["ms"]): from the resolver's creation to
# the answer, without the start of the program. The bounds are wall
# clock all the same, so they leave room for a loaded machine, but stay
# below what a broken deadline would take.

def test_silent_server_times_out(instance, silent):
    servers, sock = silent
    rc, res = one(instance, servers, "A", "a.test", timeout=300, tries=3)
    assert (rc, res["status"]) == (75, "TEMPFAIL")
    assert "timeout after 900 ms" in res["why"]
    # The deadline is timeout * tries (c-ares alone would double its
    # timeout each round: 300 + 600 + 1200 = 2100 ms).
    assert 850 <= res["ms"] < 1800, res["ms"]
    assert len(received(sock)) >= 2     # it did retry


def test_silent_server_fcrdns(instance, silent):
    servers, _ = silent
    rc, res = one(instance, servers, "FCRDNS", "192.0.2.20", timeout=200,
                  tries=2)
    assert (rc, res["status"], res["rrs"]) == (75, "TEMPFAIL", ["unknown"])
    # The PTR lookup's deadline (400 ms) ends it; no more lookups follow.
    assert 350 <= res["ms"] < 1000, res["ms"]


def test_nothing_listening(instance):
    port = free_port()          # UDP on the same number: nobody there
    rc, res = one(instance, f"127.0.0.1:{port}", "MX", "b.test",
                  timeout=300, tries=2)
    assert (rc, res["status"]) == (75, "TEMPFAIL")
    # Refused at once, or at worst the deadline (600 ms).
    assert res["ms"] < 1000, res["ms"]


def test_two_servers_second_answers(instance, dnsmasq, silent):
    """The first server is dead: the lookup goes on to the second."""
    servers, _ = silent
    rc, res = one(instance, f"{servers},{dnsmasq}", "A", "a.test",
                  timeout=300, tries=2)
    assert (rc, res["status"], res["rrs"]) == (0, "OK", ["192.0.2.10"])


def test_bad_server_list(instance):
    tool = os.path.join(instance.support, "dns-query")
    for servers in ("bogus", ""):
        r = instance.run([tool, "-s", servers, "A", "a.test"])
        assert r.returncode == 78, servers
        assert "DNS server list" in r.stderr


# ---- invalid names: no query at all ---------------------------------

INVALID = [
    ("empty", "A", ""),
    ("root only", "A", "."),
    ("empty label", "A", "a..test"),
    ("leading dot", "MX", ".a.test"),
    ("two final dots", "A", "a.test.."),
    ("label 64", "A", "x" * 64 + ".test"),
    ("name 254", "A", ".".join(["x" * 49] * 5) + ".test"),
    ("space", "A", "a b.test"),
    ("control", "TXT", "a\x01.test"),
    ("escape", "A", "a\\.test"),
    ("eight bit", "A", "caf\xe9.test"),
    ("ptr not address", "PTR", "mail.b.test"),
    ("ptr bad address", "PTR", "192.0.2.300"),
]


@pytest.mark.parametrize("label,type_,name", INVALID,
                         ids=[c[0] for c in INVALID])
def test_invalid_name_not_asked(instance, silent, label, type_, name):
    servers, sock = silent
    rc, res = one(instance, servers, type_, name, timeout=2000)
    assert (rc, res["status"], res["rrs"]) == (1, "INVALID", []), label
    # Answered at once, not after the silent server's 2 s timeout.
    assert res["ms"] < 1000, (label, res["ms"])
    assert received(sock) == [], label


def test_longest_valid_names_are_asked(instance, dnsmasq):
    label63 = "x" * 63
    name253 = ".".join([label63] * 3 + ["y" * 56, "test"])
    assert len(name253) == 253
    rc, res = one(instance, dnsmasq, "A", label63 + ".a.test")
    assert (rc, res["status"]) == (0, "OK")
    for name in (name253, name253 + "."):
        rc, res = one(instance, dnsmasq, "A", name)
        assert (rc, res["status"]) == (1, "NOTFOUND"), name


# ---- a hostile server: what c-ares parses, we still check ----------

def wire_name(name):
    """bytes labels (may hold any byte) -> DNS wire format."""
    out = b""
    for label in name.split(b"."):
        out += bytes([len(label)]) + label
    return out + b"\0"


def rr(name, rtype, rdata):
    return (wire_name(name) + struct.pack(">HHIH", rtype, 1, 60,
                                          len(rdata)) + rdata)


class EvilServer:
    """A UDP DNS server on 127.0.0.1 whose answers are crafted per
    question name (see answer())."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.servers = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            qid = data[:2]
            end = data.index(b"\0", 12) + 5
            question = data[12:end]
            labels, i = [], 12
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]])
                i += 1 + data[i]
            qname = b".".join(labels).lower()
            for reply in self.answer(qid, question, qname):
                self.sock.sendto(reply, peer)

    @staticmethod
    def header(qid, rcode, ancount, flags=0x8180):
        return qid + struct.pack(">HHHHH", flags | rcode, 1, ancount, 0, 0)

    def answer(self, qid, question, qname):
        h = self.header
        if qname == b"99.2.0.192.in-addr.arpa":
            rrs = [rr(qname, 12, wire_name(b"bad\x01name.test")),
                   rr(qname, 12, wire_name(b"sp ace.test")),
                   rr(qname, 12, wire_name(b"good.test"))]
            return [h(qid, 0, 3) + question + b"".join(rrs)]
        if qname == b"mx.evil.test":
            rrs = [rr(qname, 15, struct.pack(">H", 5)
                      + wire_name(b"m\nx.test")),
                   rr(qname, 15, struct.pack(">H", 7)
                      + wire_name(b"mx.good.test"))]
            return [h(qid, 0, 2) + question + b"".join(rrs)]
        if qname == b"nul.evil.test":
            return [h(qid, 0, 1) + question
                    + rr(qname, 16, b"\x03a\0b\x02\x01c")]
        if qname == b"short.evil.test":
            # Claims an answer that is not there.
            return [h(qid, 0, 1) + question + b"\xc0\x0c\x00"]
        if qname == b"servfail.evil.test":
            return [h(qid, 2, 0) + question]
        if qname == b"wrongid.evil.test":
            # A forged answer with another ID first: ignored.
            bad = bytes([qid[0] ^ 0xff, qid[1]])
            forged = h(bad, 0, 1) + question + rr(
                qname, 1, socket.inet_aton("198.51.100.66"))
            real = h(qid, 0, 1) + question + rr(
                qname, 1, socket.inet_aton("192.0.2.1"))
            return [forged, real]
        return [h(qid, 3, 0) + question]        # NXDOMAIN

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def evil():
    server = EvilServer()
    try:
        yield server.servers
    finally:
        server.close()


def test_bad_names_in_replies(instance, evil):
    # Our check drops the bad MX host and keeps the good one.
    rc, res = one(instance, evil, "MX", "mx.evil.test")
    assert (rc, res["status"], res["rrs"]) == (0, "OK", ["7 mx.good.test"])
    # c-ares rejects a PTR reply with a bad name as a whole: a
    # temporary failure, and the client stays "unknown".
    rc, res = one(instance, evil, "PTR", "192.0.2.99")
    assert (rc, res["status"], res["rrs"]) == (75, "TEMPFAIL", [])
    rc, res = one(instance, evil, "FCRDNS", "192.0.2.99")
    assert (res["status"], res["rrs"]) == ("TEMPFAIL", ["unknown"])


def test_txt_with_nul_byte(instance, evil):
    rc, res = one(instance, evil, "TXT", "nul.evil.test")
    # "a\0b" + "\1c", binary-safe; dns-query shows bytes as '?'.
    assert (rc, res["status"], res["rrs"]) == (0, "OK", ["a?b?c"])


def test_malformed_and_servfail_are_temporary(instance, evil):
    for name in ("short.evil.test", "servfail.evil.test"):
        rc, res = one(instance, evil, "A", name, timeout=300, tries=1)
        assert (rc, res["status"]) == (75, "TEMPFAIL"), name


def test_forged_id_ignored(instance, evil):
    rc, res = one(instance, evil, "A", "wrongid.evil.test")
    assert (rc, res["status"], res["rrs"]) == (0, "OK", ["192.0.2.1"])
