"""
test_map.py - petrel map (postmap), petrel alias (postalias), newaliases

Building tables from source files and querying them as an administrator
does: -q (exit 0 found, 1 not found, 75 table unavailable), -q -, -s, -d,
-i, -f; keys on stdin with a NUL byte refused (never cut short), errors
naming the table; a source with a syntax error leaves the old table in
place; a rebuild is atomic for a reader that queries in a loop
meanwhile; alias sources with continuation lines and quoted names;
newaliases with alias_database naming two tables; petrel map -i as a
user other than root on a built table (kept owner, group and mode, or
refused with the table untouched). No master runs: an Instance gives a
temporary directory and a main.cf.
"""

import grp
import os
import pwd
import subprocess
import threading
import time

import pytest

EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
EX_CONFIG = 78


def run(inst, prog, *args, stdin=None):
    """Run build/src/<prog> -c <etc> args with stdin text."""
    argv = [os.path.join(inst.src, prog), "-c", inst.etc] + list(args)
    return subprocess.run(argv, input=stdin or "", capture_output=True,
                          text=True, timeout=60, env=inst.env())


def petrel(inst, *args, stdin=None):
    return run(inst, "petrel", *args, stdin=stdin)


def as_user(inst, user, group, groups, *args, stdin=None):
    """petrel -c <etc> args as user:group (and groups), via setpriv."""
    argv = ["setpriv", f"--reuid={user}", f"--regid={group}"]
    argv += [f"--groups={','.join(groups)}"] if groups \
        else ["--clear-groups"]
    argv += [os.path.join(inst.src, "petrel"), "-c", inst.etc] + list(args)
    return subprocess.run(argv, input=stdin or "", capture_output=True,
                          text=True, timeout=60, env=inst.env())


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def ok(r):
    assert r.returncode == 0, \
        f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def table_files(directory):
    """Files in directory, temporary build files included."""
    return sorted(os.listdir(directory))


@pytest.fixture
def tdir(instance):
    d = os.path.join(instance.dir, "tables")
    os.mkdir(d)
    return d


def test_build_and_query(instance, tdir):
    src = os.path.join(tdir, "access")
    write(src, "# access table\nexample.com  REJECT no\n"
               "Mixed.Example  OK\nlong.example  first\n  second\n")
    r = ok(petrel(instance, "map", src))
    assert r.stdout == "" and r.stderr == ""
    assert table_files(tdir) == ["access", "access.lmdb"]

    r = petrel(instance, "map", "-q", "example.com", src)
    assert (r.returncode, r.stdout) == (0, "REJECT no\n")
    # Keys are folded by default, when building and when querying.
    assert petrel(instance, "map", "-q", "MIXED.example",
                  src).stdout == "OK\n"
    assert petrel(instance, "map", "-q", "long.example",
                  "hash:" + src).stdout == "first  second\n"
    r = petrel(instance, "map", "-q", "nope.example", src)
    assert (r.returncode, r.stdout) == (1, "")

    # A missing table is a temporary failure, with the reason.
    missing = os.path.join(tdir, "missing")
    r = petrel(instance, "map", "-q", "example.com", missing)
    assert r.returncode == EX_TEMPFAIL
    assert f"open {missing}.lmdb: No such file or directory" in r.stderr
    # ... also when an earlier table would not have had the key.
    r = petrel(instance, "map", "-q", "example.com", src, missing)
    assert r.returncode == EX_TEMPFAIL


def test_query_order_and_stdin(instance, tdir):
    one = os.path.join(tdir, "one")
    two = os.path.join(tdir, "two")
    write(one, "a 1\nb 1\n")
    write(two, "b 2\nc 2\n")
    ok(petrel(instance, "map", one, "cdb:" + two))
    assert petrel(instance, "map", "-q", "b", one,
                  "cdb:" + two).stdout == "1\n"
    assert petrel(instance, "map", "-q", "c", one,
                  "cdb:" + two).stdout == "2\n"
    r = petrel(instance, "map", "-q", "-", one, "cdb:" + two,
               stdin="a\n\nC extra words\nzz\n  b  \n")
    assert (r.returncode, r.stdout) == (0, "a\t1\nC\t2\nb\t1\n")
    r = petrel(instance, "map", "-q", "-", one, stdin="x\ny\n")
    assert (r.returncode, r.stdout) == (1, "")


def test_dump_delete_add_fold(instance, tdir):
    src = os.path.join(tdir, "t")
    write(src, "b 2\na 1\nc 3\n")
    ok(petrel(instance, "map", src))
    r = ok(petrel(instance, "map", "-s", src))
    assert r.stdout == "a\t1\nb\t2\nc\t3\n"

    assert petrel(instance, "map", "-d", "B", src).returncode == 0
    assert petrel(instance, "map", "-d", "b", src).returncode == 1
    assert petrel(instance, "map", "-q", "b", src).returncode == 1
    r = petrel(instance, "map", "-d", "-", src, stdin="a\nnone\n")
    assert r.returncode == 0
    assert ok(petrel(instance, "map", "-s", src)).stdout == "c\t3\n"
    r = petrel(instance, "map", "-d", "x", os.path.join(tdir, "none"))
    assert r.returncode == EX_TEMPFAIL

    # -i adds to the table and replaces existing values.
    r = ok(petrel(instance, "map", "-i", src, stdin="C three\nd 4\n"))
    assert ok(petrel(instance, "map", "-s", src)).stdout == \
        "c\tthree\nd\t4\n"
    # A bad line on stdin changes nothing.
    r = petrel(instance, "map", "-i", src, stdin="e 5\nbad\n")
    assert r.returncode == EX_DATAERR
    assert f"table hash:{src}: standard input, line 2: expected format" \
        in r.stderr
    assert ok(petrel(instance, "map", "-s", src)).stdout == \
        "c\tthree\nd\t4\n"

    # -f: keys as written.
    write(src, "Key Value\n")
    ok(petrel(instance, "map", "-f", src))
    assert petrel(instance, "map", "-f", "-q", "Key", src).stdout == \
        "Value\n"
    assert petrel(instance, "map", "-f", "-q", "key", src).returncode == 1
    assert ok(petrel(instance, "map", "-s", src)).stdout == "Key\tValue\n"
    # -N is accepted.
    assert petrel(instance, "map", "-N", "-q", "Key", "-f",
                  src).returncode == 0
    # One action at a time.
    assert petrel(instance, "map", "-q", "a", "-s", src).returncode == 64


def test_stdin_keys_with_nul(instance, tdir):
    """A key line from stdin with a NUL byte is refused: "a<NUL>zzz"
    must neither answer for "a" nor delete it."""
    src = os.path.join(tdir, "t")
    write(src, "a 1\nb 2\n")
    ok(petrel(instance, "map", src))
    lmdb = src + ".lmdb"
    before = os.stat(lmdb)
    with open(lmdb, "rb") as f:
        content = f.read()

    # -q -: the answers before the bad line stand; then exit 75.
    r = petrel(instance, "map", "-q", "-", src, stdin="b\na\0zzz\nb\n")
    assert r.returncode == EX_TEMPFAIL
    assert r.stdout == "b\t2\n"
    assert "standard input, line 2: NUL byte in line" in r.stderr
    r = petrel(instance, "alias", "-q", "-", src, stdin="a\0\n")
    assert (r.returncode, r.stdout) == (EX_TEMPFAIL, "")
    assert "standard input, line 1: NUL byte in line" in r.stderr

    # -d -: every key is read first; a bad line deletes nothing.
    r = petrel(instance, "map", "-d", "-", src, stdin="b\n\na\0zzz\n")
    assert r.returncode == EX_DATAERR
    assert "standard input, line 3: NUL byte in line" in r.stderr
    after = os.stat(lmdb)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == \
        (before.st_ino, before.st_mtime_ns, before.st_size)
    with open(lmdb, "rb") as f:
        assert f.read() == content
    assert ok(petrel(instance, "map", "-s", src)).stdout == "a\t1\nb\t2\n"

    # -i: refused with table, source and line.
    r = petrel(instance, "map", "-i", src, stdin="c 3\nd x\0y\n")
    assert r.returncode == EX_DATAERR
    assert f"table hash:{src}: standard input, line 2: NUL byte in line" \
        in r.stderr
    assert ok(petrel(instance, "map", "-s", src)).stdout == "a\t1\nb\t2\n"


def test_errors_name_table(instance, tdir):
    """Build errors say which table; a bad default_database_type names
    the parameter."""
    src = os.path.join(tdir, "t")
    write(src, "a 1\nbroken\n")
    r = petrel(instance, "map", "cdb:" + src)
    assert r.returncode == EX_DATAERR
    assert f"table cdb:{src}: {src}, line 2: expected format" in r.stderr
    r = petrel(instance, "map", os.path.join(tdir, "nosource"))
    assert r.returncode == EX_NOINPUT
    assert (f"table hash:{tdir}/nosource: open {tdir}/nosource: No such "
            "file or directory") in r.stderr

    instance.set_main(default_database_type="frob")
    write(src, "a 1\n")
    for args in ([src], ["-q", "a", src], ["-s", src], ["-d", "a", src]):
        r = petrel(instance, "map", *args)
        assert r.returncode == EX_CONFIG, args
        assert "default_database_type = frob: unknown table type" \
            in r.stderr, args
    # A table with a type does not need the default.
    ok(petrel(instance, "map", "cdb:" + src))
    assert petrel(instance, "map", "-q", "a",
                  "cdb:" + src).stdout == "1\n"


def test_syntax_error_keeps_old_table(instance, tdir):
    src = os.path.join(tdir, "t")
    write(src, "a old\n")
    ok(petrel(instance, "map", src))
    ok(petrel(instance, "map", "cdb:" + src))
    write(src, "a new\nb 2\nbroken\nc 3\n")
    for table in (src, "cdb:" + src):
        r = petrel(instance, "map", table)
        assert r.returncode == EX_DATAERR
        assert f"{src}, line 3: expected format: key whitespace value" \
            in r.stderr
        assert petrel(instance, "map", "-q", "a", table).stdout == "old\n"
        assert petrel(instance, "map", "-q", "b", table).returncode == 1
    # No temporary file is left behind.
    assert table_files(tdir) == ["t", "t.cdb", "t.lmdb"]
    r = petrel(instance, "map", os.path.join(tdir, "nosource"))
    assert r.returncode == EX_NOINPUT
    assert table_files(tdir) == ["t", "t.cdb", "t.lmdb"]


@pytest.mark.parametrize("type_", ["hash", "cdb"])
def test_rebuild_is_atomic(instance, tdir, type_):
    """A reader querying in a loop during rebuilds sees the old or the
    new table, never a missing or partial one."""
    src = os.path.join(tdir, "big")
    table = f"{type_}:{src}"
    sources = []
    for gen in ("v1", "v2"):
        lines = [f"key{i} {gen}-{i}" for i in range(20000)]
        lines.append(f"probe {gen}")
        sources.append("\n".join(lines) + "\n")
    write(src, sources[0])
    ok(petrel(instance, "map", table))

    stop = threading.Event()
    problems = []
    seen = set()

    def reader():
        while not stop.is_set():
            r = petrel(instance, "map", "-q", "-", table,
                       stdin="probe\nkey19999\n")
            if r.returncode != 0:
                problems.append(f"exit {r.returncode}: {r.stderr}")
                return
            lines = r.stdout.splitlines()
            gens = {line.split("\t")[1].split("-")[0] for line in lines}
            if len(lines) != 2 or len(gens) != 1:
                problems.append(f"partial answer: {r.stdout!r}")
                return
            seen.add(gens.pop())

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 4
        n = 0
        while time.monotonic() < deadline or n < 6:
            write(src + ".new", sources[n % 2])
            os.rename(src + ".new", src)
            ok(petrel(instance, "map", table))
            n += 1
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not problems, problems[0]
    assert seen == {"v1", "v2"}
    assert table_files(tdir) == ["big", "big." + ("cdb" if type_ == "cdb"
                                                  else "lmdb")]


def test_alias(instance, tdir):
    src = os.path.join(tdir, "aliases")
    write(src, "# system aliases\n"
               "Postmaster: root\n"
               "root:  admin,\n"
               "\tops@example.com,\n"
               "  \"|/usr/bin/logger\"\n"
               "\"John Smith\": john\n"
               "\"a:b\" : x\n")
    r = ok(petrel(instance, "alias", src))
    assert r.stderr == ""
    assert petrel(instance, "alias", "-q", "root", src).stdout == \
        "admin,\tops@example.com,  \"|/usr/bin/logger\"\n"
    assert petrel(instance, "alias", "-q", "john smith",
                  src).stdout == "john\n"
    assert petrel(instance, "alias", "-q", "POSTMASTER",
                  src).stdout == "root\n"
    assert petrel(instance, "alias", "-q", "a:b", src).stdout == "x\n"
    r = ok(petrel(instance, "alias", "-s", src))
    assert r.stdout.splitlines() == [
        "@: @", "a:b: x", "john smith: john", "postmaster: root",
        "root: admin,\tops@example.com,  \"|/usr/bin/logger\""]
    r = petrel(instance, "alias", "-q", "-", src, stdin="root\nnone\n")
    assert r.stdout.startswith("root: admin,")

    # Errors name file and line; the old table stays.
    write(src, "ok: x\n\"unterminated: y\n")
    r = petrel(instance, "alias", src)
    assert r.returncode == EX_DATAERR
    assert f"{src}, line 2: unterminated quoted alias name" in r.stderr
    write(src, "ok: x\nno colon here\n")
    r = petrel(instance, "alias", src)
    assert f"{src}, line 2: missing ':' after the alias name" in r.stderr
    assert petrel(instance, "alias", "-q", "root", src).returncode == 0
    # Duplicates: a warning, the first wins.
    write(src, "a: 1\nA: 2\n")
    r = ok(petrel(instance, "alias", src))
    assert f'{src}, line 2: duplicate entry: "A"' in r.stderr
    assert petrel(instance, "alias", "-q", "a", src).stdout == "1\n"


def test_newaliases_two_tables(instance, tdir):
    one = os.path.join(tdir, "aliases")
    two = os.path.join(tdir, "more")
    instance.set_main(alias_database=f"hash:{one}, cdb:{two}",
                      default_database_type="cdb")
    write(one, "root: admin\nshared: from-one\n")
    write(two, "list: a,\n  b\nshared: from-two\n")
    r = ok(run(instance, "newaliases"))
    assert r.stderr == ""
    assert table_files(tdir) == ["aliases", "aliases.lmdb", "more",
                                 "more.cdb"]
    # petrel alias without tables: $alias_database, in order.
    assert petrel(instance, "alias", "-q", "shared").stdout == "from-one\n"
    assert petrel(instance, "alias", "-q", "list").stdout == "a,  b\n"
    assert petrel(instance, "alias", "-q", "none").returncode == 1

    # One bad source: reported, the other still rebuilt.
    write(one, "root admin\n")
    write(two, "list: c\n")
    r = run(instance, "newaliases")
    assert r.returncode == EX_DATAERR
    assert f"{one}, line 1: missing ':' after the alias name" in r.stderr
    assert petrel(instance, "alias", "-q", "root").stdout == "admin\n"
    assert petrel(instance, "alias", "-q", "list").stdout == "c\n"
    # petrel alias without tables rebuilds them all, like newaliases.
    write(one, "root: admin2\n")
    ok(petrel(instance, "alias"))
    assert petrel(instance, "alias", "-q", "root").stdout == "admin2\n"
    # A bare name gets $default_database_type (cdb here).
    bare = os.path.join(tdir, "bare")
    write(bare, "x: y\n")
    ok(petrel(instance, "alias", bare))
    assert os.path.exists(bare + ".cdb")
    assert run(instance, "newaliases", "-x").returncode == 64


def test_change_unprivileged(instance, tdir):
    """petrel map -i by a user other than root on a table that petrel map
    built (frozen: the first change copies it): the copy keeps the
    table's owner, group and mode, so a reader in its group still reads
    it; when it cannot, the change is refused with a message naming the
    table, which is left as it was."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch users")
    src = os.path.join(tdir, "t")
    table = src + ".lmdb"
    write(src, "a 1\n")
    ok(petrel(instance, "map", src))
    mail = grp.getgrnam("mail").gr_gid
    nobody = pwd.getpwnam("nobody").pw_uid
    os.chmod(tdir, 0o755)

    # root's table, writable by group mail, in root's directory.
    os.chown(table, 0, mail)
    os.chmod(table, 0o660)
    before = os.stat(table)
    r = as_user(instance, "nobody", "nogroup", ["mail"], "map", "-i", src,
                stdin="b 2\n")
    assert r.returncode != 0
    assert f"table hash:{src}: " in r.stderr
    assert "cannot change a table built by petrel map in place: " \
        in r.stderr
    assert "; rebuild it with petrel map, or change it as root" in r.stderr
    after = os.stat(table)
    assert (after.st_ino, after.st_uid, after.st_gid, after.st_mode) == \
        (before.st_ino, before.st_uid, before.st_gid, before.st_mode)
    assert table_files(tdir) == ["t", "t.lmdb"]
    assert petrel(instance, "map", "-q", "b", src).returncode == 1

    # nobody's table (group mail) in nobody's directory: changed, and
    # still nobody's, group mail, mode 0640.
    os.chown(tdir, nobody, 0)
    os.chown(table, nobody, mail)
    os.chmod(table, 0o640)
    ok(as_user(instance, "nobody", "nogroup", ["mail"], "map", "-i", src,
               stdin="b 2\n"))
    st = os.stat(table)
    assert st.st_ino != before.st_ino
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == \
        (nobody, mail, 0o640)
    r = as_user(instance, "mail", "mail", [], "map", "-q", "b", src)
    assert (r.returncode, r.stdout) == (0, "2\n"), r.stderr
    assert table_files(tdir) == ["t", "t.lmdb"]
