"""
test_sql.py - mysql: and pgsql: tables against real MariaDB and PostgreSQL

Each test runs for both back ends (dbservers.py starts the servers).
Lookups go through tests/support/dict-query: one-shot for exit codes
(0 found, 1 not found, 75 temporary failure), and `dict-query -i` to
keep one process, with its open connections, alive across a database
outage. `petrel map -q` is checked for the same exit codes.

Covered: found, not found, rows joined, %u/%d/%1 queries, result_format,
domain, quotes, backslashes, SQL injection attempts and invalid UTF-8 in
keys, UNIX sockets, failover from a dead host, all hosts down, a wrong
password, a connection killed by the server (reopened once, silently), a
server stopped and started under a running process (lookups fail, then
work again without a restart), failover between two live servers when
the one in use stops (dbservers.py's second servers), and proxy:mysql:
/ proxy:pgsql: through a real proxymap (one process and one database
connection for 20 concurrent clients, an outage seen as a temporary
failure, recovery without a proxymap restart).
"""

import glob
import os
import subprocess
import threading
import time
import urllib.parse

import pytest

import dbservers
import harness
from dbservers import mariadb, mariadb_session  # noqa: F401 (fixtures)
from dbservers import postgresql, postgresql_session  # noqa: F401
from dbservers import mariadb2, mariadb2_session  # noqa: F401
from dbservers import postgresql2, postgresql2_session  # noqa: F401
from test_proxy import Proxy

EX_TEMPFAIL = 75
Q_USERS = "SELECT dest FROM users WHERE email = '%s'"


def dict_query_path():
    return os.path.join(harness.build_dir(), "tests", "support",
                        "dict-query")


class Backend:
    """One back end: its table type, server, and host strings."""

    def __init__(self, type_, server, tmp_path):
        self.type = type_
        self.server = server
        self.tmp = tmp_path
        self.sandir = os.path.join(str(tmp_path), "san")
        os.makedirs(self.sandir, exist_ok=True)
        self.tcp = f"inet:127.0.0.1:{server.port}"
        # pgsql: the socket itself (.../.s.PGSQL.port) names the port too.
        self.unix = f"unix:{server.socket}"
        self.count = 0

    def cf(self, hosts=None, dir=None, **params):
        """Write a configuration file (in dir, else the test's tmp_path);
        returns "type:/path"."""
        values = {
            "hosts": hosts or self.tcp,
            "user": dbservers.DBUSER,
            "password": dbservers.PASSWORD,
            "dbname": dbservers.DBNAME,
            "query": Q_USERS,
        }
        values.update(params)
        self.count += 1
        path = os.path.join(dir or str(self.tmp),
                            f"{self.type}-{self.count}.cf")
        with open(path, "w") as f:
            f.write("# written by test_sql.py\n")
            for name, value in values.items():
                if value is not None:
                    f.write(f"{name} = {value}\n")
        return f"{self.type}:{path}"

    def env(self):
        env = dict(os.environ)
        if os.environ.get("PETREL_SANITIZED"):
            env["ASAN_OPTIONS"] = (f"log_path={self.sandir}/asan:"
                                   "detect_leaks=0")
            env["UBSAN_OPTIONS"] = (f"print_stacktrace=1:"
                                    f"log_path={self.sandir}/ubsan")
        return env

    def query(self, table, key, timeout=60):
        """dict-query table key -> CompletedProcess."""
        return subprocess.run([dict_query_path(), table, key],
                              capture_output=True, text=True,
                              timeout=timeout, env=self.env(),
                              stdin=subprocess.DEVNULL)

    def sanitizer_reports(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.sandir, "*"))):
            with open(path, errors="replace") as f:
                out.append(f"==== {path}\n{f.read()}")
        return out


class Interactive:
    """One `dict-query -i table` process: ask(key) -> answer line."""

    def __init__(self, backend, table):
        self.stderr_path = os.path.join(str(backend.tmp),
                                        f"dict-query-{backend.count}.err")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([dict_query_path(), "-i", table],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True,
                                     env=backend.env(), bufsize=1)

    def ask(self, key):
        self.proc.stdin.write(key + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"dict-query exited: {self.errors()}"
        return line.rstrip("\n")

    def errors(self):
        self.stderr.flush()
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        self.stderr.close()
        return self.proc.returncode


@pytest.fixture(params=["mysql", "pgsql"])
def db(request, tmp_path):
    if request.param == "mysql":
        server = request.getfixturevalue("mariadb")
    else:
        server = request.getfixturevalue("postgresql")
    backend = Backend(request.param, server, tmp_path)
    clients = []
    backend.interactive = lambda table: \
        clients.append(Interactive(backend, table)) or clients[-1]
    yield backend
    for c in clients:
        c.close()
    reports = backend.sanitizer_reports()
    if reports:
        pytest.fail("\n".join(reports), pytrace=False)


# ---- lookups ---------------------------------------------------------------

LOOKUPS = [
    # label, cf params, key, answer line of dict-query -i
    ("found", {}, "joe@example.com", "FOUND joe@mail.example.org"),
    ("not found", {}, "nobody@example.com", "NOTFOUND"),
    ("rows joined", {}, "list@example.com", "FOUND a@x.org,b@x.org"),
    ("quote in key", {}, "o'brien@example.com", "FOUND ob@x.org"),
    ("backslash in key", {}, "back\\slash@example.com", "FOUND bs@x.org"),
    ("injection", {}, "x' OR '1'='1", "NOTFOUND"),
    ("injection, comment", {}, "x' OR 1=1 -- ", "NOTFOUND"),
    ("injection, backslash", {}, "x\\' OR 1=1 -- ", "NOTFOUND"),
    ("injection, union", {},
     "x' UNION SELECT email FROM users WHERE '1'='1", "NOTFOUND"),
    ("injection, statement", {}, "x'; DROP TABLE users; --", "NOTFOUND"),
    ("%u query", {"query": "SELECT dest FROM users WHERE email = "
                  "'%u@example.com'"}, "joe@elsewhere.net",
     "FOUND joe@mail.example.org"),
    ("%u query, bare key", {"query": "SELECT dest FROM users WHERE "
                            "email = '%u'"}, "plain", "FOUND p@x.org"),
    ("%d query", {"query": "SELECT transport FROM domains WHERE "
                  "name = '%d'"}, "anyone@example.com",
     "FOUND relay:[mx.example.com]"),
    ("%d query, key without @", {"query": "SELECT transport FROM "
                                 "domains WHERE name = '%d'"},
     "example.com", "NOTFOUND"),
    ("%2.%1 query", {"query": "SELECT transport FROM domains WHERE "
                     "name = '%2.%1'"}, "u@mx.example.com",
     "FOUND relay:[mx.example.com]"),
    ("result_format", {"result_format": "smtp:[%d]"}, "joe@example.com",
     "FOUND smtp:[mail.example.org]"),
    ("result_format %u and %D", {"result_format": "%u@%D"},
     "list@example.com", "FOUND a@example.com,b@example.com"),
    ("domain listed", {"domain": "example.com, example.net"},
     "joe@example.com", "FOUND joe@mail.example.org"),
    ("domain not listed", {"domain": "example.net"}, "joe@example.com",
     "NOTFOUND"),
    ("expansion_limit", {"expansion_limit": "1"}, "list@example.com",
     "TEMPFAIL table {table}: expansion limit 1 exceeded for key "
     "\"list@example.com\""),
    ("old-style fields", {"query": None, "select_field": "dest",
                          "table": "users", "where_field": "email",
                          "additional_conditions": "AND dest LIKE '%.org'"},
     "joe@example.com", "FOUND joe@mail.example.org"),
]


@pytest.mark.parametrize("label,params,key,want", LOOKUPS,
                         ids=[c[0] for c in LOOKUPS])
def test_lookup(db, label, params, key, want):
    table = db.cf(**params)
    client = db.interactive(table)
    assert client.ask(key) == want.format(table=table), label
    # The same process answers again from its kept connection.
    assert client.ask(key) == want.format(table=table), label


def test_bad_query(db):
    table = db.cf(query="SELECT nope FROM users WHERE email = '%s'")
    r = db.query(table, "joe@example.com")
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert f"table {table}: host {db.tcp}: query failed: " in r.stderr
    assert "nope" in r.stderr


def test_exit_codes(db):
    table = db.cf()
    r = db.query(table, "joe@example.com")
    assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
        r.stderr
    r = db.query(table, "nobody@example.com")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")


def test_unix_socket(db):
    r = db.query(db.cf(hosts=db.unix), "joe@example.com")
    assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
        r.stderr


def test_key_not_valid_utf8(db):
    """A key the database cannot hold is not found (not a failure)."""
    table = db.cf()
    for key in (b"\xff@example.com", b"jo\xc3@example.com"):
        r = db.query(table, key)
        assert (r.returncode, r.stdout) == (1, ""), r.stderr


def test_missing_dbname(db):
    table = db.cf(dbname=None)
    r = db.query(table, "joe@example.com")
    assert r.returncode == EX_TEMPFAIL
    assert f"{table.split(':', 1)[1]}: missing dbname" in r.stderr


# ---- failures --------------------------------------------------------------

def test_failover(db):
    """A dead first host: the next one answers. UNIX sockets are tried
    first, so the dead socket is certainly tried."""
    dead = f"unix:{db.tmp}/no-such.sock"
    table = db.cf(hosts=f"{db.tcp} {dead}")
    r = db.query(table, "joe@example.com")
    assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
        r.stderr
    assert f"host {dead}: connect: " in r.stderr
    assert "not using it for 60 seconds" in r.stderr


def test_failover_tcp(db):
    """A dead TCP host in either order: every lookup succeeds."""
    table = db.cf(hosts=f"127.0.0.1:{dbservers.dead_port()} {db.tcp}")
    for _ in range(4):
        r = db.query(table, "joe@example.com")
        assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
            r.stderr


def test_all_hosts_down(db):
    ports = [dbservers.dead_port(), dbservers.dead_port()]
    hosts = f"inet:127.0.0.1:{ports[0]} 127.0.0.1:{ports[1]}"
    table = db.cf(hosts=hosts)
    t0 = time.monotonic()
    r = db.query(table, "joe@example.com")
    assert r.returncode == EX_TEMPFAIL, r.stdout + r.stderr
    assert r.stdout == ""
    assert f"table {table}: no database server is available (last " \
        "error: host " in r.stderr
    assert time.monotonic() - t0 < 20


def test_wrong_password(db):
    table = db.cf(password="wrong")
    r = db.query(table, "joe@example.com")
    assert r.returncode == EX_TEMPFAIL, r.stdout + r.stderr
    assert f"(last error: host {db.tcp}: connect: " in r.stderr


def kill_connections(db):
    """Make the server drop the connections of our user."""
    if db.type == "mysql":
        ids = db.server.client(
            "SELECT id FROM information_schema.processlist "
            f"WHERE user = '{dbservers.DBUSER}';").split()
        assert ids, "no connection to kill"
        db.server.client("".join(f"KILL CONNECTION {i};" for i in ids))
    else:
        out = db.server.client(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE usename = '{dbservers.DBUSER}';", db="postgres")
        assert "t" in out.split(), "no connection to kill"


def test_connection_killed(db):
    """A kept connection that the server closed is reopened once,
    without a failure or a warning."""
    table = db.cf()
    client = db.interactive(table)
    assert client.ask("joe@example.com") == "FOUND joe@mail.example.org"
    kill_connections(db)
    # Both servers kill asynchronously: wait until the connection is
    # really gone, so that the next lookup finds it closed.
    assert harness.wait_for(lambda: db.server.user_connections() == 0, 30), \
        f"{db.server.user_connections()} connections left after the kill"
    assert client.ask("joe@example.com") == "FOUND joe@mail.example.org"
    assert client.ask("plain") == "FOUND p@x.org"
    assert "warning" not in client.errors()


def test_outage_and_recovery(db):
    """The server stops under a running process: lookups fail
    temporarily; it comes back: the same process answers again."""
    table = db.cf(retry_interval="1s")
    client = db.interactive(table)
    pid = client.proc.pid
    assert client.ask("joe@example.com") == "FOUND joe@mail.example.org"

    db.server.stop()
    for key in ("joe@example.com", "nobody@example.com", "plain"):
        answer = client.ask(key)
        assert answer.startswith(f"TEMPFAIL table {table}: no database "
                                 "server is available (last error: "
                                 f"host {db.tcp}: "), answer
    time.sleep(1.2)
    assert client.ask("joe@example.com").startswith("TEMPFAIL ")

    db.server.start()
    answer = harness.wait_for(
        lambda: (time.sleep(0.2), client.ask("joe@example.com"))[1]
        .startswith("FOUND") and "ok", timeout=30)
    assert answer == "ok", client.errors()
    assert client.ask("joe@example.com") == "FOUND joe@mail.example.org"
    assert client.ask("nobody@example.com") == "NOTFOUND"
    assert client.proc.pid == pid and client.proc.poll() is None
    assert client.close() == 0


def test_failover_live(db, request):
    """Two live servers with different values for the same keys: a
    long-running process uses one; when that one stops, the next lookup
    is answered by the other, in the same process. Once the first is back
    and its retry_interval has passed, it is used again (hosts keep the
    order fixed at open time)."""
    other = request.getfixturevalue("mariadb2" if db.type == "mysql"
                                    else "postgresql2")
    other_tcp = f"inet:127.0.0.1:{other.port}"
    table = db.cf(hosts=f"{db.tcp} {other_tcp}", retry_interval="1s")
    servers = {
        "FOUND joe@mail.example.org": (db.server, db.tcp,
                                       "FOUND a@x.org,b@x.org"),
        "FOUND second-joe@mail.example.org": (
            other, other_tcp, "FOUND second-a@x.org,second-b@x.org"),
    }
    client = db.interactive(table)
    pid = client.proc.pid
    first = client.ask("joe@example.com")
    assert first in servers, client.errors()
    # It keeps to the host it has a connection to.
    for _ in range(3):
        assert client.ask("joe@example.com") == first
    srv, host, first_list = servers[first]
    (second,) = set(servers) - {first}
    second_list = servers[second][2]

    srv.stop()
    assert client.ask("joe@example.com") == second, client.errors()
    t_dead = time.monotonic()   # the host is skipped until 1 s after
    assert client.ask("nobody@example.com") == "NOTFOUND"
    assert client.ask("list@example.com") == second_list
    assert client.proc.pid == pid and client.proc.poll() is None
    assert f"warning: table {table}: host {host}: " in client.errors()
    assert "; not using it for 1 seconds" in client.errors()

    srv.start()
    time.sleep(max(0.0, t_dead + 1.2 - time.monotonic()))
    assert client.ask("list@example.com") == first_list, client.errors()
    assert client.ask("joe@example.com") == first
    assert client.proc.pid == pid
    assert client.close() == 0


def _tcp_connections(pid, port):
    """Established TCP connections from process pid to 127.0.0.1:port."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    want = f"0100007F:{port:04X}"
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (fields[2] == want and fields[3] == "01"
                    and int(fields[9]) in inodes):
                n += 1
    return n


PROXY_KEYS = {
    "joe@example.com": "FOUND joe@mail.example.org",
    "nobody@example.com": "NOTFOUND",
    "list@example.com": "FOUND a@x.org,b@x.org",
    "o'brien@example.com": "FOUND ob@x.org",
    "x' OR '1'='1": "NOTFOUND",
}


def test_through_proxy(db, instance):
    """proxy:mysql:/x.cf (proxy:pgsql:) through a real proxymap: answers;
    20 concurrent clients share one proxymap process and one database
    connection; the database going away is a temporary failure, and its
    return is noticed by the same proxymap process."""
    table = db.cf(dir=instance.etc, retry_interval="1s")
    p = Proxy(instance, extra_read_maps=table)
    ptable = f"proxy:{table}"

    r = p.query(ptable, "joe@example.com")
    assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
        r.stderr
    r = p.query(ptable, "nobody@example.com")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")
    r = p.query(ptable, "list@example.com")
    assert (r.returncode, r.stdout) == (0, "a@x.org,b@x.org\n"), r.stderr
    pids = p.service_pids("proxymap")
    assert len(pids) == 1, pids
    pid = pids[0]

    # 20 clients, each with its own proxymap connection, all asking at
    # once; every one stays connected while the connections are counted.
    keys = list(PROXY_KEYS) * 20
    procs = [p.interactive(ptable) for _ in range(20)]
    guard = threading.Timer(120, lambda: [q.kill() for q in procs])
    guard.start()
    try:
        for proc in procs:
            proc.stdin.write("".join(k + "\n" for k in keys))
            proc.stdin.flush()
        for n, proc in enumerate(procs):
            for key in keys:
                line = proc.stdout.readline().rstrip("\n")
                assert line == PROXY_KEYS[key], (n, key, line)
        assert all(proc.poll() is None for proc in procs)
        assert p.service_pids("proxymap") == [pid]
        # Connections of processes gone (earlier tests) may take a
        # moment to leave the server's list.
        count = harness.wait_for(
            lambda: db.server.user_connections() == 1, 30)
        assert count, f"{db.server.user_connections()} database " \
            "connections for one proxymap process"
        assert _tcp_connections(pid, db.server.port) == 1
    finally:
        guard.cancel()
        for proc in procs:
            if proc.poll() is None:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
    assert [proc.returncode for proc in procs] == [0] * 20

    # The database goes away: a temporary failure, never "not found".
    db.server.stop()
    for key in ("joe@example.com", "nobody@example.com"):
        r = p.query(ptable, key)
        assert (r.returncode, r.stdout) == (EX_TEMPFAIL, ""), r.stderr
        assert f"table {table}: no database server is available" \
            in r.stderr
    # It comes back: the same proxymap process answers again.
    db.server.start()
    assert harness.wait_for(
        lambda: p.query(ptable, "joe@example.com").returncode == 0, 30,
        interval=0.3)
    r = p.query(ptable, "joe@example.com")
    assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
        r.stderr
    r = p.query(ptable, "nobody@example.com")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")
    assert p.service_pids("proxymap") == [pid]
    assert not instance.grep(r"proxymap\[\d+\]: (fatal|panic):")


# ---- petrel map -q ---------------------------------------------------------

def test_petrel_map_query(db):
    """`petrel map -q` gives the same answers and exit codes."""
    petrel = os.path.join(harness.build_dir(), "src", "petrel")
    if not os.path.exists(petrel):
        pytest.skip("petrel is not built")
    table = db.cf()
    down = db.cf(hosts=f"127.0.0.1:{dbservers.dead_port()}")
    with harness.Instance() as inst:
        r = inst.petrel("map", "-q", "joe@example.com", table)
        assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
            r.stderr
        r = inst.petrel("map", "-q", "nobody@example.com", table)
        assert (r.returncode, r.stdout) == (1, ""), r.stderr
        r = inst.petrel("map", "-q", "joe@example.com", down)
        assert r.returncode == EX_TEMPFAIL, r.stdout + r.stderr
        assert "no database server is available" in r.stderr


# ---- PostgreSQL URIs -------------------------------------------------------

def test_pgsql_uri(postgresql, tmp_path):
    db = Backend("pgsql", postgresql, tmp_path)
    pw = urllib.parse.quote(dbservers.PASSWORD, safe="")
    uri = (f"postgresql://{dbservers.DBUSER}:{pw}@127.0.0.1:"
           f"{postgresql.port}/{dbservers.DBNAME}")
    # The URI's settings win; the file has neither user nor dbname.
    table = db.cf(hosts=uri, user=None, password=None, dbname=None)
    r = db.query(table, "joe@example.com")
    assert (r.returncode, r.stdout) == (0, "joe@mail.example.org\n"), \
        r.stderr
    # Its password never reaches the log.
    bad = db.cf(hosts=uri.replace(f":{postgresql.port}/",
                                  f":{dbservers.dead_port()}/"),
                user=None, password=None, dbname=None)
    r = db.query(bad, "joe@example.com")
    assert r.returncode == EX_TEMPFAIL
    assert f"{dbservers.DBUSER}:***@127.0.0.1" in r.stderr
    assert pw not in r.stderr and dbservers.PASSWORD not in r.stderr
    assert not db.sanitizer_reports()
