"""
dbservers.py - real MariaDB and PostgreSQL servers for the SQL table tests

Each server runs from a temporary directory on 127.0.0.1 and a UNIX
socket, with a database "mail", a user "petrel" (password PASSWORD) that
may only SELECT, and a few rows (ROWS). As root, the servers run as the
accounts the Debian packages created (mysql, postgres): mariadbd is told
--user=mysql, postgres is started through setpriv. Servers are stopped and
their trees removed at teardown, even when a test failed.

	srv = MariaDB(); srv.start(); ... srv.stop(); srv.start(); ...
	srv.cleanup()

stop()/start() keep the port and the data directory, so a test can take
the server away under a running client and bring it back. The pytest
fixtures `mariadb` and `postgresql` share one server per session and make
sure it is running again before each test that uses it; `mariadb2` and
`postgresql2` are second servers of the same kinds (for failover between
two live hosts) whose rows have the same keys and other values
(SECOND_ROWS), so that an answer shows which server gave it.

Standard library only; needs the mariadb-server and postgresql packages.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import harness

PASSWORD = "s3cret'pw"
DBNAME = "mail"
DBUSER = "petrel"

# (email, dest) rows of table users; (name, transport) rows of domains.
ROWS = [
    ("joe@example.com", "joe@mail.example.org"),
    ("list@example.com", "a@x.org"),
    ("list@example.com", "b@x.org"),
    ("o'brien@example.com", "ob@x.org"),
    ("back\\slash@example.com", "bs@x.org"),
    ("plain", "p@x.org"),
]
DOMAINS = [
    ("example.com", "relay:[mx.example.com]"),
]
# The second servers: the same keys, every value marked.
SECOND_ROWS = [(email, "second-" + dest) for email, dest in ROWS]

PG_BIN = "/usr/lib/postgresql/15/bin"
START_TIMEOUT = 60


def _sql_str(s, backslash):
    """A quoted SQL string literal (for our own setup statements)."""
    s = s.replace("'", "''")
    if backslash:
        s = s.replace("\\", "\\\\")
    return "'" + s + "'"


def _rows_sql(backslash, rows):
    out = []
    for email, dest in rows:
        out.append(f"INSERT INTO users VALUES ({_sql_str(email, backslash)}, "
                   f"{_sql_str(dest, backslash)});")
    for name, transport in DOMAINS:
        out.append(f"INSERT INTO domains VALUES "
                   f"({_sql_str(name, backslash)}, "
                   f"{_sql_str(transport, backslash)});")
    return "\n".join(out)


class Server:
    """What both servers share: a tree, a process, a port."""

    name = "server"
    account = None          # the Unix account to run as when root

    def __init__(self, rows=None):
        self.rows = ROWS if rows is None else rows
        self.dir = tempfile.mkdtemp(prefix=f"petrel-{self.name}-")
        os.chmod(self.dir, 0o755)
        self.port = harness.free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        self.uid = self.gid = None
        if os.geteuid() == 0 and self.account:
            pw = pwd.getpwnam(self.account)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.dir, self.uid, self.gid)

    def _as_account(self, argv):
        """argv run as the server's account when we are root."""
        if self.uid is None:
            return argv
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                "--init-groups", "--"] + argv

    def _run(self, argv, **kw):
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=START_TIMEOUT, cwd=self.dir, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}\n"
                               f"{r.stdout}{r.stderr}")
        return r

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start (again) on the same port and data; waits until ready."""
        if self.running():
            return
        log = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen(self._as_account(self.argv()),
                                         stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL,
                                         cwd=self.dir)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with "
                                   f"{self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout=30):
        """Stop the server (a clean, fast shutdown); keeps the data."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(self.stop_signal)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def ensure_running(self):
        if not self.running():
            self.proc = None
            self.start()

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop()
        finally:
            if os.environ.get("PETREL_KEEP") == "1":
                print(f"PETREL_KEEP: {self.name} kept in {self.dir}")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class MariaDB(Server):
    """mariadbd on 127.0.0.1:port and DIR/mysqld.sock."""

    name = "mariadb"
    account = "mysql"
    stop_signal = signal.SIGTERM

    def __init__(self, rows=None):
        super().__init__(rows)
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        argv = ["mariadb-install-db", "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db", "--skip-name-resolve"]
        if self.uid is not None:
            argv.append(f"--user={self.account}")
        try:
            self._run(argv)
            self.start()
            self.client(self.setup_sql())
        except BaseException:
            self.cleanup()
            raise

    def argv(self):
        argv = ["mariadbd", "--no-defaults", f"--datadir={self.datadir}",
                f"--socket={self.socket}", f"--port={self.port}",
                "--bind-address=127.0.0.1", "--skip-networking=0",
                f"--pid-file={os.path.join(self.dir, 'mysqld.pid')}",
                "--skip-name-resolve", "--skip-log-bin",
                "--innodb-buffer-pool-size=16M", "--max-connections=50",
                "--innodb-flush-log-at-trx-commit=0",
                # As Debian's configuration has it.
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci"]
        if self.uid is not None:
            argv.append(f"--user={self.account}")
        return argv

    def ready(self):
        if not os.path.exists(self.socket):
            return False
        r = subprocess.run(["mariadb-admin", "--no-defaults",
                            f"--socket={self.socket}", "-uroot", "ping"],
                           capture_output=True, text=True, timeout=30)
        return r.returncode == 0 and harness.port_listening(self.port)

    def client(self, sql):
        """Run SQL as root over the socket; returns stdout."""
        return self._run(["mariadb", "--no-defaults",
                          f"--socket={self.socket}", "-uroot",
                          "--batch", "--skip-column-names"],
                         input=sql).stdout

    def user_connections(self):
        """How many connections DBUSER has open now."""
        return int(self.client(
            "SELECT COUNT(*) FROM information_schema.processlist "
            f"WHERE user = '{DBUSER}';"))

    def setup_sql(self):
        pw = _sql_str(PASSWORD, True)
        return f"""
CREATE DATABASE {DBNAME};
CREATE USER '{DBUSER}'@'localhost' IDENTIFIED BY {pw};
CREATE USER '{DBUSER}'@'127.0.0.1' IDENTIFIED BY {pw};
GRANT SELECT ON {DBNAME}.* TO '{DBUSER}'@'localhost';
GRANT SELECT ON {DBNAME}.* TO '{DBUSER}'@'127.0.0.1';
USE {DBNAME};
CREATE TABLE users (email VARCHAR(255) NOT NULL, dest VARCHAR(255));
CREATE TABLE domains (name VARCHAR(255) NOT NULL, transport VARCHAR(255));
{_rows_sql(True, self.rows)}
"""


class PostgreSQL(Server):
    """postgres 15 on 127.0.0.1:port and DIR/sock/.s.PGSQL.port.

    Local (socket) connections are trusted; TCP connections need the
    password (scram-sha-256)."""

    name = "postgresql"
    account = "postgres"
    stop_signal = signal.SIGINT        # fast shutdown

    def __init__(self, rows=None):
        super().__init__(rows)
        self.datadir = os.path.join(self.dir, "data")
        self.sockdir = os.path.join(self.dir, "sock")
        os.mkdir(self.sockdir)
        if self.uid is not None:
            os.chown(self.sockdir, self.uid, self.gid)
        try:
            self._run(self._as_account([
                os.path.join(PG_BIN, "initdb"), "-D", self.datadir,
                "-U", "postgres", "--auth-local=trust",
                "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale",
                "--no-sync"]))
            self.start()
            self.client(self.setup_sql(), db="postgres")
            self.client(self.table_sql(), db=DBNAME)
        except BaseException:
            self.cleanup()
            raise

    def argv(self):
        return [os.path.join(PG_BIN, "postgres"), "-D", self.datadir,
                "-k", self.sockdir, "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "full_page_writes=off",
                "-c", "shared_buffers=16MB", "-c", "max_connections=30",
                "-c", "logging_collector=off"]

    @property
    def socket(self):
        return os.path.join(self.sockdir, f".s.PGSQL.{self.port}")

    def ready(self):
        if not os.path.exists(self.socket):
            return False
        r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q",
                            "-h", self.sockdir, "-p", str(self.port)],
                           capture_output=True, timeout=30)
        return r.returncode == 0 and harness.port_listening(self.port)

    def client(self, sql, db=DBNAME):
        """Run SQL as postgres over the socket; returns stdout."""
        return self._run([os.path.join(PG_BIN, "psql"), "-X", "-q",
                          "-v", "ON_ERROR_STOP=1", "-h", self.sockdir,
                          "-p", str(self.port), "-U", "postgres",
                          "-d", db, "-At"], input=sql).stdout

    def user_connections(self):
        """How many connections DBUSER has open now."""
        return int(self.client(
            "SELECT count(*) FROM pg_stat_activity "
            f"WHERE usename = '{DBUSER}';", db="postgres"))

    def setup_sql(self):
        return (f"CREATE USER {DBUSER} PASSWORD "
                f"{_sql_str(PASSWORD, False)};\n"
                f"CREATE DATABASE {DBNAME};\n")

    def table_sql(self):
        return f"""
CREATE TABLE users (email TEXT NOT NULL, dest TEXT);
CREATE TABLE domains (name TEXT NOT NULL, transport TEXT);
{_rows_sql(False, self.rows)}
GRANT SELECT ON users, domains TO {DBUSER};
"""


def _session_server(cls, request, rows=None):
    try:
        srv = cls(rows)
    except FileNotFoundError as e:
        pytest.skip(f"{cls.name} is not installed: {e}")
    request.addfinalizer(srv.cleanup)
    return srv


@pytest.fixture(scope="session")
def mariadb_session(request):
    return _session_server(MariaDB, request)


@pytest.fixture(scope="session")
def postgresql_session(request):
    return _session_server(PostgreSQL, request)


@pytest.fixture(scope="session")
def mariadb2_session(request):
    return _session_server(MariaDB, request, SECOND_ROWS)


@pytest.fixture(scope="session")
def postgresql2_session(request):
    return _session_server(PostgreSQL, request, SECOND_ROWS)


def _running(srv):
    """Running before and after a test (which may stop and start it)."""
    srv.ensure_running()
    yield srv
    srv.ensure_running()


@pytest.fixture
def mariadb(mariadb_session):
    """The session's MariaDB, running (a test may stop and start it)."""
    yield from _running(mariadb_session)


@pytest.fixture
def postgresql(postgresql_session):
    """The session's PostgreSQL, running (a test may stop and start it)."""
    yield from _running(postgresql_session)


@pytest.fixture
def mariadb2(mariadb2_session):
    """A second MariaDB (SECOND_ROWS), running."""
    yield from _running(mariadb2_session)


@pytest.fixture
def postgresql2(postgresql2_session):
    """A second PostgreSQL (SECOND_ROWS), running."""
    yield from _running(postgresql2_session)


def dead_port():
    """A loopback port with nothing listening (a moment ago)."""
    return harness.free_port()

