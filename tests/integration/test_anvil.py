"""
test_anvil.py - the anvil service: connection counts and rates per client

Each test starts an instance whose master.cf has the anvil entry
(maxproc 1, on private/anvil), sometimes with a short
anvil_rate_time_unit or anvil_status_update_time given with -o. Clients
are tests/support/anvil-query (the real client module anvil_clnt.c; -i
keeps one connection, as an smtpd process does) and a raw
attribute-protocol client for what the C client never sends (bad
idents, unknown requests, malformed messages, pipelined bursts).
"""

import os
import subprocess

from harness import wait_for
from mailproto import RawClient, encode

IDENT = "smtp:192.0.2.1"
LOG = r"petrel/anvil\[\d+\]: "


class Anvil:
    def __init__(self, inst, **opts):
        self.inst = inst
        self.tool = os.path.join(inst.support, "anvil-query")
        inst.add_service("anvil", "unix", "anvil", private="-", maxproc=1,
                         opts=opts or None)
        inst.start()
        self.path = os.path.join(inst.queue, "private", "anvil")
        self.procs = []

    def query(self, *args):
        r = self.inst.run([self.tool, "-c", self.inst.etc] + list(args))
        return r.returncode, r.stdout.strip()

    def session(self):
        """An anvil-query -i process: one kept connection."""
        p = subprocess.Popen([self.tool, "-c", self.inst.etc, "-i"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=self.inst.env(), bufsize=1)
        self.procs.append(p)
        return p

    @staticmethod
    def ask(p, line):
        p.stdin.write(line + "\n")
        p.stdin.flush()
        return p.stdout.readline().strip()

    def lookup(self, ident=IDENT):
        rc, out = self.query("lookup", ident)
        assert rc == 0, out
        return dict(kv.split("=") for kv in out.split()[1:])

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.stdin.close()
                p.wait(10)
            p.stdout.close()
            p.stderr.close()


def raw(a, *pairs):
    c = RawClient(a.path)
    return c, c.request(*pairs)


# ---- counts -----------------------------------------------------------------

def test_concurrent_counts_across_clients(instance):
    a = Anvil(instance)
    try:
        s1, s2 = a.session(), a.session()
        assert a.ask(s1, f"connect {IDENT}") == "OK count=1 rate=1"
        assert a.ask(s2, f"connect {IDENT}") == "OK count=2 rate=2"
        assert a.ask(s1, f"connect {IDENT}") == "OK count=3 rate=3"
        # Another ident is counted apart.
        assert a.ask(s2, "connect smtp:2001:db8::1") == "OK count=1 rate=1"
        assert a.ask(s2, f"lookup {IDENT}") == \
            "OK count=3 rate=3 message_rate=0 recipient_rate=0"
        assert a.ask(s1, f"disconnect {IDENT}") == "OK"
        assert a.lookup()["count"] == "2"
        # A disconnect for a connection this client never made is ignored.
        assert a.query("disconnect", IDENT) == (0, "OK")
        assert a.lookup()["count"] == "2"

        # s1 goes away holding one connection, without a disconnect.
        s1.stdin.close()
        s1.wait(10)
        assert wait_for(lambda: a.lookup()["count"] == "1", 10)
        # Its connection dropping does not touch the rate.
        assert a.lookup() == {"count": "1", "rate": "3",
                              "message_rate": "0", "recipient_rate": "0"}
        # "close" drops s2's connection: all counts back to zero.
        assert a.ask(s2, "close") == "OK"
        assert wait_for(lambda: a.lookup()["count"] == "0", 10)
        assert a.lookup("smtp:2001:db8::1")["count"] == "0"
        # A new connection after that: the client library reconnects.
        assert a.ask(s2, f"connect {IDENT}") == "OK count=1 rate=4"
        # An unknown ident looks up as all zeros.
        assert a.lookup("smtp:198.51.100.7") == {
            "count": "0", "rate": "0", "message_rate": "0",
            "recipient_rate": "0"}
    finally:
        a.close()


def test_rates_reset_after_the_time_unit(instance):
    # Long enough for the nine round trips below to fit in one window
    # even on a slow, loaded machine.
    a = Anvil(instance, anvil_rate_time_unit="5s")
    try:
        s = a.session()
        assert a.ask(s, f"connect {IDENT}") == "OK count=1 rate=1"
        assert [a.ask(s, f"message {IDENT}") for _ in range(3)] == \
            ["OK rate=1", "OK rate=2", "OK rate=3"]
        assert [a.ask(s, f"recipient {IDENT}") for _ in range(2)] == \
            ["OK rate=1", "OK rate=2"]
        assert a.ask(s, f"connect {IDENT}") == "OK count=2 rate=2"
        # Within the same window (a bare message also starts one).
        assert a.ask(s, "message smtp:192.0.2.2") == "OK rate=1"
        assert a.ask(s, "message smtp:192.0.2.2") == "OK rate=2"
        # After the unit every rate starts over; the count stays.
        assert wait_for(lambda: a.lookup()["rate"] == "0", 20, 0.2)
        assert a.lookup() == {"count": "2", "rate": "0",
                              "message_rate": "0", "recipient_rate": "0"}
        assert a.ask(s, f"connect {IDENT}") == "OK count=3 rate=1"
        assert a.ask(s, f"message {IDENT}") == "OK rate=1"
        assert a.ask(s, f"recipient {IDENT}") == "OK rate=1"
        # The other ident's window started a little later: wait for its
        # end too, then it starts over as well.
        assert wait_for(lambda: a.lookup("smtp:192.0.2.2")["message_rate"]
                        == "0", 20, 0.2)
        assert a.ask(s, "message smtp:192.0.2.2") == "OK rate=1"
    finally:
        a.close()


# ---- bad input ----------------------------------------------------------------

def test_bad_requests_are_refused(instance):
    a = Anvil(instance)
    c = RawClient(a.path)
    bad = [
        ([("request", "frob"), ("ident", IDENT)], 'unknown request "frob"'),
        ([("request", "connect")], 'missing attribute "ident"'),
        ([("ident", IDENT)], 'missing attribute "request"'),
        ([("request", "connect"), ("ident", IDENT), ("extra", "1")],
         'unexpected attribute "extra"'),
        ([("request", "connect"), ("ident", "")], 'bad ident ""'),
        ([("request", "connect"), ("ident", "smtp:1.2.3.4 x")],
         'bad ident "smtp:1.2.3.4 x"'),
        ([("request", "message"), ("ident", "smtp:\x01")], "bad ident"),
        ([("request", "lookup"), ("ident", "x" * 256)], "bad ident"),
    ]
    for pairs, why in bad:
        since = instance.log_size()
        reply = c.request(*pairs)
        assert reply == {"status": "1"}, (pairs, reply)
        assert instance.wait_log(LOG + r"warning: bad request from client "
                                 r"pid \d+ uid \d+: .*" + why.replace(
                                     ".", r"\.").replace("(", r"\("),
                                 since=since), pairs
    # The connection is still usable; nothing was counted.
    assert c.request(("request", "lookup"), ("ident", "x" * 255)) == {
        "status": "0", "count": "0", "rate": "0", "message_rate": "0",
        "recipient_rate": "0"}
    assert c.request(("request", "connect"), ("ident", IDENT)) == {
        "status": "0", "count": "1", "rate": "1"}
    # A message that does not parse: anvil hangs up and forgets c.
    c.send(b"7:request,not a netstring")
    assert c.closed()
    c.close()
    assert instance.wait_log(LOG + r"warning: malformed request from "
                             r"client pid \d+ uid \d+: ")
    assert a.lookup() == {"count": "0", "rate": "1", "message_rate": "0",
                          "recipient_rate": "0"}
    # The client module reports a refusal as -1.
    rc, out = a.query("connect", "no space allowed")
    assert rc == 75 and out.startswith("FAIL anvil service: connect "
                                       "request for (no space allowed) "
                                       "refused"), out
    # And an unreachable service as -1 (smtpd then enforces nothing).
    empty = os.path.join(instance.dir, "nowhere")
    os.mkdir(empty)
    r = instance.run([a.tool, "-c", instance.etc, "-o",
                      f"queue_directory={empty}", "connect", IDENT])
    assert r.returncode == 75
    assert r.stdout.startswith("FAIL cannot connect to the anvil "
                               "service"), r.stdout


# ---- statistics and memory ------------------------------------------------------

def test_statistics_are_logged(instance):
    a = Anvil(instance, anvil_status_update_time="1s")
    try:
        s = a.session()
        for _ in range(2):
            a.ask(s, f"connect {IDENT}")
        a.ask(s, "connect smtp:192.0.2.5")
        for _ in range(3):
            a.ask(s, "message smtp:192.0.2.5")
        for _ in range(4):
            a.ask(s, f"recipient {IDENT}")
        at = r" at \w{3} [ \d]\d \d\d:\d\d:\d\d$"
        for line in [
                r"max connection rate 2/60s for \(smtp:192\.0\.2\.1\)",
                r"max connection count 2 for \(smtp:192\.0\.2\.1\)",
                r"max message rate 3/60s for \(smtp:192\.0\.2\.5\)",
                r"max recipient rate 4/60s for \(smtp:192\.0\.2\.1\)",
                r"max cache size 2"]:
            assert instance.wait_log(LOG + "statistics: " + line + at), line
        # Nothing new: nothing more is logged.
        n = len(instance.grep(LOG + "statistics: max cache size"))
        since = instance.log_size()
        a.ask(s, f"lookup {IDENT}")
        assert not instance.wait_log(LOG + "statistics:", 2.5, since=since)
        assert len(instance.grep(LOG + "statistics: max cache size")) == n
    finally:
        a.close()


def test_statistics_at_exit(instance):
    a = Anvil(instance)
    assert a.query("connect", IDENT) == (0, "OK count=1 rate=1")
    assert a.query("recipient", IDENT) == (0, "OK rate=1")
    since = instance.log_size()
    instance.stop()
    assert instance.wait_log(LOG + r"statistics: max connection rate "
                             r"1/60s for \(smtp:192\.0\.2\.1\)", since=since)
    assert instance.wait_log(LOG + r"statistics: max recipient rate "
                             r"1/60s for \(smtp:192\.0\.2\.1\)", since=since)


def test_idle_idents_are_removed(instance):
    a = Anvil(instance, anvil_rate_time_unit="1s",
              anvil_status_update_time="1s")
    c = RawClient(a.path)
    n = 300
    burst = b"".join(encode(("request", "connect"),
                            ("ident", f"smtp:10.0.{i // 256}.{i % 256}"))
                     for i in range(n))
    c.send(burst)
    for i in range(n):
        assert c.reply() == {"status": "0", "count": "1", "rate": "1"}
    assert instance.wait_log(LOG + rf"statistics: max cache size {n} at")
    # Connections still open: the idents stay, whatever their age.
    assert a.lookup("smtp:10.0.0.7")["count"] == "1"
    c.close()
    assert wait_for(lambda: a.lookup("smtp:10.0.1.7")["count"] == "0", 10)
    since = instance.log_size()

    # Once the idle idents are gone, a new one makes the table small.
    probes = iter(range(1, 255))

    def small():
        a.query("connect", f"smtp:198.51.100.{next(probes)}")
        return instance.grep(LOG + r"statistics: max cache size [1-9] at",
                             since=since)
    assert wait_for(small, 15, 0.5)


def test_table_is_capped(instance):
    a = Anvil(instance)
    c = RawClient(a.path, timeout=60)
    cap = 100000               # ANVIL_MAX_IDENTS in src/anvil/anvil.c
    chunk = 1000
    for base in range(0, cap, chunk):
        c.send(b"".join(encode(("request", "connect"),
                               ("ident", f"smtp:10.{i >> 16}.{(i >> 8) & 255}"
                                         f".{i & 255}"))
                        for i in range(base, base + chunk)))
        for _ in range(chunk):
            assert c.reply()["status"] == "0"
    # One ident more is refused, and said so once.
    assert c.request(("request", "connect"),
                     ("ident", "smtp:192.0.2.99")) == {"status": "2"}
    assert c.request(("request", "message"),
                     ("ident", "smtp:192.0.2.98")) == {"status": "2"}
    assert instance.wait_log(LOG + r"warning: client pid \d+ uid \d+: more "
                             r"than 100000 clients tracked; refusing new "
                             r"ident \(smtp:192\.0\.2\.99\) and others")
    assert len(instance.grep(LOG + "warning: .* clients tracked")) == 1
    # Known idents still count; lookups of unknown ones still answer.
    assert c.request(("request", "connect"), ("ident", "smtp:10.0.0.5")) \
        == {"status": "0", "count": "2", "rate": "2"}
    assert a.lookup("smtp:192.0.2.99")["count"] == "0"
    rc, out = a.query("connect", "smtp:192.0.2.99")
    assert rc == 75 and "refused (status 2)" in out, out
    c.close()


def test_one_process_keeps_counting_past_max_use(instance):
    # max_use would end a normal multi-server after 2 clients, and a new
    # process would start from zero; anvil ignores it, as Postfix.
    a = Anvil(instance, max_use="2")
    for n in range(1, 6):
        assert a.query("message", IDENT) == (0, f"OK rate={n}")
    assert a.lookup()["message_rate"] == "5"
    pids = [p for p in instance.children()
            if os.path.basename(os.readlink(f"/proc/{p}/exe")) == "anvil"]
    assert len(pids) == 1, pids
