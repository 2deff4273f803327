"""
test_proxy.py - proxy:type:name tables and the proxymap daemon

Each test starts an instance whose master.cf has Postfix's two proxymap
entries (proxymap, and proxywrite with maxproc 1), with texthash, lmdb
and inline tables in proxy_read_maps and one lmdb table in
proxy_write_maps. Clients are tests/support/dict-query (main.cf
loaded, mail_dict_init() called, exit 0 found / 1 not found / 75
temporary failure; -i answers stdin keys over one connection), and a
raw attribute-protocol client for what the C client never sends
(updates to the read-only service, malformed input).
"""

import os
import re
import signal
import socket
import subprocess
import threading
import time

from harness import pid_gone, slow, wait_for
from mailproto import RawClient, encode

INLINE = "inline:{k1=v1, k2=v2}"

TEXTHASH_DATA = {"alice": "alice@example.com", "bob": "bob@example.net"}
LMDB_DATA = {"carol": "carol@example.org", "dave": "dave@example.com"}


# ---- set-up -----------------------------------------------------------------

class Proxy:
    """An instance with proxymap services and tables (see module text)."""

    def __init__(self, inst, extra_read_maps="", **main):
        self.inst = inst
        self.client = os.path.join(inst.support, "dict-query")
        self.texthash = os.path.join(inst.etc, "virtual")
        self.lmdb = os.path.join(inst.etc, "users")
        # Where the (unprivileged) proxywrite may create files.
        self.writable = os.path.join(inst.data, "writable")
        self.unlisted = os.path.join(inst.etc, "secret")
        with open(self.texthash, "w") as f:
            for k, v in TEXTHASH_DATA.items():
                f.write(f"{k} {v}\n")
        with open(self.unlisted, "w") as f:
            f.write("root secret\n")
        # Build the lmdb table directly (not through proxy:).
        for k, v in LMDB_DATA.items():
            r = self.run("-u", f"lmdb:{self.lmdb}", k, v)
            assert r.returncode == 1, r.stderr
        inst.set_main(
            proxy_read_maps=f"texthash:{self.texthash}, "
                            f"proxy:lmdb:{self.lmdb} {INLINE} "
                            + extra_read_maps,
            proxy_write_maps=f"lmdb:{self.writable}", **main)
        inst.add_service("proxymap", "unix", "proxymap", private="-")
        inst.add_service("proxywrite", "unix", "proxymap", private="-",
                         maxproc=1)
        inst.start()

    def run(self, *args, **kw):
        return self.inst.run([self.client, "-c", self.inst.etc]
                             + list(args), **kw)

    def query(self, table, key):
        return self.run(table, key)

    def interactive(self, table):
        return subprocess.Popen(
            [self.client, "-c", self.inst.etc, "-i", table],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=self.inst.env(),
            bufsize=1)

    def service_pids(self, service):
        """Children of master that run the given proxymap service."""
        out = []
        for pid in self.inst.children():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if (argv and os.path.basename(argv[0]) == b"proxymap"
                    and service.encode() in argv):
                out.append(pid)
        return out

    def socket_path(self, service):
        return os.path.join(self.inst.queue, "private", service)


# ---- lookups ----------------------------------------------------------------

def test_found_and_notfound_through_proxy(instance):
    p = Proxy(instance)
    cases = [
        (f"proxy:texthash:{p.texthash}", "alice", 0, "alice@example.com"),
        (f"proxy:texthash:{p.texthash}", "nobody", 1, ""),
        (f"proxy:lmdb:{p.lmdb}", "carol", 0, "carol@example.org"),
        (f"proxy:lmdb:{p.lmdb}", "nobody", 1, ""),
        (f"proxy:{INLINE}", "k2", 0, "v2"),
        (f"proxy:{INLINE}", "k3", 1, ""),
    ]
    for table, key, code, value in cases:
        r = p.query(table, key)
        assert r.returncode == code, (table, key, r.stdout, r.stderr)
        assert r.stdout.strip() == value, (table, key)
    # One process served them all.
    assert len(p.service_pids("proxymap")) == 1
    assert p.service_pids("proxywrite") == []


def test_unlisted_table_is_refused(instance):
    p = Proxy(instance)
    table = f"texthash:{p.unlisted}"
    want = f"proxymap: table {table} is not approved for proxy read access"
    r = p.query(f"proxy:{table}", "root")
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert want in r.stderr
    assert "secret" not in r.stdout
    assert instance.wait_log(r"petrel/proxymap\[\d+\]: warning: "
                             + re.escape(want))
    # Listed under another name is not listed: compared as written.
    r = p.query(f"proxy:hash:{p.lmdb}", "carol")
    assert r.returncode == 75
    assert "is not approved for proxy read access" in r.stderr


def test_nested_proxy_is_refused(instance):
    texthash = os.path.join(instance.etc, "virtual")
    p = Proxy(instance, f"proxy:proxy:texthash:{texthash}")
    r = p.query(f"proxy:proxy:texthash:{p.texthash}", "alice")
    assert r.returncode == 75
    assert "a proxy table cannot be served by proxymap" in r.stderr


def test_proxymap_down_is_a_temporary_failure(instance):
    p = Proxy(instance)
    instance.stop()
    assert instance.wait_no_processes()
    r = p.query(f"proxy:texthash:{p.texthash}", "alice")
    assert r.returncode == 75
    assert "cannot connect to the proxymap service" in r.stderr
    assert p.socket_path("proxymap") in r.stderr


# ---- writes -------------------------------------------------------------------

def test_write_through_proxywrite(instance):
    p = Proxy(instance)
    table = f"proxy:lmdb:{p.writable}"
    # New key: exit 1 (did not exist); again: exit 0 (existed).
    r = p.run("-u", table, "erin", "erin@example.com")
    assert r.returncode == 1, r.stderr
    r = p.run("-u", table, "frank", "frank@example.com")
    assert r.returncode == 1, r.stderr
    r = p.run("-u", table, "erin", "other")
    assert r.returncode == 0, r.stderr
    # The file is there, written by proxywrite; read it directly.
    r = p.query(f"lmdb:{p.writable}", "erin")
    assert (r.returncode, r.stdout.strip()) == (0, "erin@example.com")
    r = p.run("-d", table, "frank")
    assert r.returncode == 0, r.stderr
    r = p.query(f"lmdb:{p.writable}", "frank")
    assert r.returncode == 1
    assert len(p.service_pids("proxywrite")) == 1

    # proxywrite serves proxy_write_maps only.
    r = p.run("-u", f"proxy:lmdb:{p.lmdb}", "mallory", "x")
    assert r.returncode == 75
    want = (f"proxywrite: table lmdb:{p.lmdb} is not approved for proxy "
            "write access")
    assert want in r.stderr
    assert instance.wait_log(r"petrel/proxymap\[\d+\]: warning: "
                             + re.escape(want))
    r = p.query(f"lmdb:{p.lmdb}", "mallory")
    assert r.returncode == 1


def test_update_refused_by_read_service(instance):
    p = Proxy(instance)
    c = RawClient(p.socket_path("proxymap"))
    table = f"lmdb:{p.lmdb}"
    for req in (("update", ("value", "x")), ("delete", None)):
        pairs = [("request", req[0]), ("table", table), ("flags", 0),
                 ("key", "carol")]
        if req[1]:
            pairs.append(req[1])
        reply = c.request(*pairs)
        assert reply["status"] == "3", reply
        assert f"{req[0]} requests are not allowed" in reply["reason"]
    # The same connection still answers lookups: a refusal is not an error.
    reply = c.request(("request", "lookup"), ("table", table),
                      ("flags", 0), ("key", "carol"))
    assert reply == {"status": "0", "reason": "",
                     "value": "carol@example.org"}
    c.close()
    assert instance.wait_log(r"petrel/proxymap\[\d+\]: warning: client pid "
                             r"\d+ uid \d+: proxymap: table .*: update "
                             r"requests are not allowed")
    r = p.query(f"lmdb:{p.lmdb}", "carol")
    assert (r.returncode, r.stdout.strip()) == (0, "carol@example.org")


def test_malformed_requests_disconnect(instance):
    p = Proxy(instance)
    path = p.socket_path("proxymap")
    table = f"texthash:{p.texthash}"

    c = RawClient(path)
    c.send(b"3:request,not a netstring")
    assert c.closed()
    assert instance.wait_log(r"petrel/proxymap\[\d+\]: warning: malformed "
                             r"request from client pid \d+ uid \d+: ")
    c.close()

    # Well formed but wrong: a reply saying why (status 4), then EOF.
    bad = [
        ([("request", "frob"), ("table", table)], 'unknown request "frob"'),
        ([("request", "lookup"), ("table", table), ("flags", 0)],
         'missing attribute "key"'),
        ([("request", "lookup"), ("table", table), ("flags", 0),
          ("key", "a"), ("extra", "1")], 'unexpected attribute "extra"'),
        ([("request", "lookup"), ("table", "nocolon"), ("flags", 0),
          ("key", "a")], "is not type:name"),
    ]
    for pairs, why in bad:
        c = RawClient(path)
        reply = c.request(*pairs)
        assert reply["status"] == "4", (pairs, reply)
        assert why in reply["reason"], (pairs, reply)
        assert c.closed(), pairs
        c.close()

    # The server is still fine for others.
    r = p.query(f"proxy:{table}", "bob")
    assert (r.returncode, r.stdout.strip()) == (0, "bob@example.net")
    assert len(p.service_pids("proxymap")) == 1


def test_pipelined_requests(instance):
    p = Proxy(instance)
    c = RawClient(p.socket_path("proxymap"))
    table = f"texthash:{p.texthash}"
    keys = ["alice", "nobody", "bob"] * 50
    c.send(b"".join(encode(("request", "lookup"), ("table", table),
                           ("flags", 0), ("key", k)) for k in keys))
    for k in keys:
        reply = c.reply()
        if k in TEXTHASH_DATA:
            assert reply["status"] == "0" and \
                reply["value"] == TEXTHASH_DATA[k]
        else:
            assert reply["status"] == "1"
    c.close()


# ---- sharing and restarts ---------------------------------------------------

def test_concurrent_clients_share_one_process(instance):
    p = Proxy(instance)
    tables = [
        (f"proxy:texthash:{p.texthash}", TEXTHASH_DATA),
        (f"proxy:lmdb:{p.lmdb}", LMDB_DATA),
        (f"proxy:{INLINE}", {"k1": "v1", "k2": "v2"}),
    ]
    seen = set()
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.update(p.service_pids("proxymap"))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    procs = []
    try:
        for n in range(20):
            table, data = tables[n % len(tables)]
            keys = [list(data)[i % len(data)] if i % 3 else f"none{i}"
                    for i in range(200)]
            procs.append((p.interactive(table), keys, data))
        results = []
        outs = [None] * len(procs)

        def feed(i, proc, keys):
            outs[i] = proc.communicate("".join(k + "\n" for k in keys),
                                       timeout=60)

        threads = [threading.Thread(target=feed, args=(i, proc, keys))
                   for i, (proc, keys, _) in enumerate(procs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for (proc, keys, data), (out, err) in zip(procs, outs):
            assert proc.returncode == 0, err
            lines = out.splitlines()
            assert len(lines) == len(keys), err
            for key, line in zip(keys, lines):
                want = f"FOUND {data[key]}" if key in data else "NOTFOUND"
                results.append(line == want)
                assert line == want, (key, line, err)
        assert len(results) == 20 * 200
    finally:
        done.set()
        watcher.join()
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.kill()
    seen.update(p.service_pids("proxymap"))
    assert len(seen) == 1, f"proxymap processes: {sorted(seen)}"


def test_client_survives_proxymap_restart(instance):
    p = Proxy(instance)
    proc = p.interactive(f"proxy:lmdb:{p.lmdb}")
    try:
        def ask(key):
            proc.stdin.write(key + "\n")
            proc.stdin.flush()
            return proc.stdout.readline().rstrip("\n")

        assert ask("carol") == "FOUND carol@example.org"
        pids = p.service_pids("proxymap")
        assert len(pids) == 1
        old = pids[0]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            os.kill(old, sig)
            assert wait_for(lambda: pid_gone(old), 10)
            # The client's connection is now dead; the next lookup
            # reconnects (master starts a new proxymap) and succeeds.
            assert ask("dave") == "FOUND dave@example.com"
            assert ask("nobody") == "NOTFOUND"
            pids = p.service_pids("proxymap")
            assert len(pids) == 1 and pids[0] != old
            old = pids[0]
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert "TEMPFAIL" not in proc.stderr.read()



def test_idle_clients_let_proxymap_exit(instance):
    # A client that keeps its table open but goes quiet is dropped after
    # ipc_idle (+1 s), so proxymap can reach max_idle and exit; the
    # client's next lookup simply reconnects.
    p = Proxy(instance, ipc_idle="1s", max_idle="1s")
    c = RawClient(p.socket_path("proxymap"))
    assert c.request(("request", "open"),
                     ("table", f"texthash:{p.texthash}"),
                     ("flags", 0))["status"] == "0"
    proc = p.interactive(f"proxy:texthash:{p.texthash}")
    try:
        proc.stdin.write("alice\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "FOUND alice@example.com\n"
        pid = p.service_pids("proxymap")[0]
        # Each takes 2-3 s, longer when the daemons are slow (closed()
        # does not scale its timeout itself; wait_for does).
        assert c.closed(timeout=slow(15)), "idle client not dropped"
        assert wait_for(lambda: pid_gone(pid), 20), "proxymap stayed"
        proc.stdin.write("bob\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "FOUND bob@example.net\n"
        assert p.service_pids("proxymap") not in ([], [pid])
    finally:
        c.close()
        proc.stdin.close()
        proc.wait(timeout=10)
    assert proc.returncode == 0
