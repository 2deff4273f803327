"""
test_install.py - what `make install` puts where, how the programs are
built, and `make run`

	test_install_tree		meson install --destdir of $PETREL_BUILD
					(no rebuild): programs, prototype
					configuration, compiled-in paths, and a
					second install that keeps an edited main.cf
	test_make_install_uses_own_build_dir
					`make -n install`: the install build
					directory gets the prefix, $(BUILD) is
					never reconfigured
	test_hardening_flags		PIE, RELRO, BIND_NOW, stack protector,
					_FORTIFY_SOURCE (not with sanitizers)
	test_make_run_stops_on_ctrl_c	scripts/run-instance (what `make run`
					runs), from a copy in a temporary tree so
					that ./run is left alone: SIGINT to its
					process group stops everything cleanly

The install test writes only into a temporary DESTDIR (and meson's
install log in the build directory's meson-logs/).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

from harness import build_dir, free_port, port_listening, repo_dir, wait_for

DAEMONS = ("master", "smtpd", "cleanup", "qmgr", "pickup", "trivial-rewrite",
           "bounce", "local", "virtual", "error", "anvil", "proxymap",
           "showq")
COMMANDS = ("petrel", "sendmail", "postdrop", "newaliases")


def meson_options(build):
    r = subprocess.run(["meson", "introspect", "--buildoptions", build],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def install_paths(build):
    """The directories meson.build installs into, for this build's
    prefix (absolute, without DESTDIR)."""
    opt = meson_options(build)
    prefix = opt["prefix"]
    return {
        "prefix": prefix,
        "daemon": os.path.join(prefix, opt["libexecdir"], "petrel"),
        "command": os.path.join(prefix, opt["sbindir"]),
        "config": os.path.join(prefix, opt["sysconfdir"], "petrel"),
        "proto": os.path.join(prefix, opt["datadir"], "petrel"),
        "queue": os.path.join(prefix, opt["localstatedir"], "spool",
                              "petrel"),
        "data": os.path.join(prefix, opt["localstatedir"], "lib", "petrel"),
    }


def under(destdir, path):
    return os.path.join(destdir, path.lstrip("/"))


def meson_install(build, destdir):
    r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild",
                        "--destdir", destdir],
                       capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"meson install: {r.stdout}{r.stderr}"
    return r


def read(path):
    with open(path) as f:
        return f.read()


def test_install_tree(tmp_path):
    build = build_dir()
    paths = install_paths(build)
    dest = str(tmp_path / "dest")
    meson_install(build, dest)

    for name in DAEMONS:
        path = under(dest, os.path.join(paths["daemon"], name))
        assert os.path.isfile(path) and os.access(path, os.X_OK), path
    for name in COMMANDS:
        path = under(dest, os.path.join(paths["command"], name))
        assert os.path.isfile(path) and os.access(path, os.X_OK), path
    # Test programs, fuzzers and benchmarks stay in the build tree.
    for root, _, files in os.walk(dest):
        for name in files:
            assert not re.match(r"(test[-_]|fuzz_|.*_bench$)", name), \
                os.path.join(root, name)

    # The prototype configuration, and the live one made from it.
    src = os.path.join(repo_dir(), "conf")
    conf = under(dest, paths["config"])
    for name in ("main.cf", "master.cf"):
        assert read(under(dest, os.path.join(paths["proto"], name))) == \
            read(os.path.join(src, name)), name
        assert read(os.path.join(conf, name)) == \
            read(os.path.join(src, name)), name

    # The queue and data directories exist: petrel check creates only
    # the last component of a missing queue_directory.
    for name in ("queue", "data"):
        assert os.path.isdir(under(dest, paths[name])), paths[name]

    # The installed programs know where they were installed, and read
    # what was installed.
    petrel = under(dest, os.path.join(paths["command"], "petrel"))
    env = dict(os.environ, LANG="C")
    env.pop("MAIL_CONFIG", None)
    r = subprocess.run([petrel, "-c", conf, "conf", "-d", "-h",
                        "daemon_directory", "command_directory",
                        "config_directory"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [paths["daemon"], paths["command"],
                                paths["config"]]
    r = subprocess.run([petrel, "-c", conf, "conf", "-M"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^smtp\s+inet\b", r.stdout, re.M), r.stdout

    # A second install keeps the administrator's main.cf and puts back
    # a missing master.cf.
    main_cf = os.path.join(conf, "main.cf")
    with open(main_cf, "a") as f:
        f.write("\n# edited by the administrator\nmyhostname = "
                "edited.example\n")
    edited = read(main_cf)
    os.unlink(os.path.join(conf, "master.cf"))
    meson_install(build, dest)
    assert read(main_cf) == edited
    assert read(os.path.join(conf, "master.cf")) == \
        read(os.path.join(src, "master.cf"))


def test_make_install_uses_own_build_dir(tmp_path):
    """`make install` builds in $(INSTALL_BUILD), configured with the
    prefix; it never reconfigures the development $(BUILD), whose
    compiled-in paths must stay as they are. (make -n: commands shown,
    nothing run.)"""
    top = repo_dir()
    # Not a sub-make of whatever make runs this suite.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "-n", "-C", top, "install",
                        "BUILD=build-dev-never", "INSTALL_BUILD=build-inst-x",
                        "PREFIX=/opt/petrel-x", "DESTDIR=stage-x"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    text = r.stdout.replace("\\\n", " ")
    cmds = [ln for ln in text.splitlines()
            if re.match(r"\s*(meson|ninja)\b", ln)]
    assert cmds, r.stdout
    assert "build-dev-never" not in r.stdout, r.stdout
    for ln in cmds:
        assert "build-inst-x" in ln, ln
    setup = [ln for ln in cmds if re.match(r"\s*meson (setup|configure)", ln)]
    assert setup and all("--prefix=/opt/petrel-x" in ln for ln in setup), \
        r.stdout
    install = [ln for ln in cmds if re.match(r"\s*meson install", ln)]
    assert len(install) == 1
    # A relative DESTDIR is the caller's, not the build directory's.
    assert "--destdir " + os.path.join(top, "stage-x") in install[0]


def readelf(*args):
    r = subprocess.run(["readelf", "-W"] + list(args), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("prog", ["master", "smtpd"])
def test_hardening_flags(prog):
    if shutil.which("readelf") is None:
        pytest.fail("readelf not found (Debian package binutils)")
    path = os.path.join(build_dir(), "src", prog)
    assert re.search(r"^\s*Type:\s+DYN\b", readelf("-h", path), re.M), \
        "not a position-independent executable"
    assert re.search(r"^\s*GNU_RELRO\b", readelf("-l", path), re.M), \
        "no RELRO segment"
    dyn = readelf("-d", path)
    assert re.search(r"\(FLAGS\)\s+.*\bBIND_NOW\b", dyn) \
        or re.search(r"\(FLAGS_1\)\s+.*\bNOW\b", dyn), \
        "not linked with -z now (full RELRO)"
    syms = readelf("--dyn-syms", path)
    assert re.search(r"\s__stack_chk_fail\b", syms), \
        "no stack protector"
    if not os.environ.get("PETREL_SANITIZED"):
        chk = set(re.findall(r"\s(__\w+_chk)\b", syms)) - \
            {"__stack_chk_fail"}
        assert chk, "no _FORTIFY_SOURCE checked functions"


# ---- make run ---------------------------------------------------------------

def _instance_processes(tree):
    """Pids whose command line names tree (daemons get -c tree/run/etc)."""
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if tree.encode() in f.read():
                    out.append(int(name))
        except OSError:
            pass
    return out


def _copy_tree(tree, port):
    """scripts/run-instance and conf/ in tree, with the SMTP service on
    a free loopback port instead of 2525 (which `make run` may hold)."""
    top = repo_dir()
    os.mkdir(os.path.join(tree, "scripts"))
    os.mkdir(os.path.join(tree, "conf"))
    shutil.copy(os.path.join(top, "scripts", "run-instance"),
                os.path.join(tree, "scripts"))
    for name in os.listdir(os.path.join(top, "conf")):
        shutil.copy(os.path.join(top, "conf", name),
                    os.path.join(tree, "conf"))
    path = os.path.join(tree, "conf", "master.cf")
    text, n = re.subn(r"^smtp(\s+inet\s)", rf"127.0.0.1:{port}\1", read(path),
                      flags=re.M)
    assert n == 1, "no smtp inet service in conf/master.cf"
    with open(path, "w") as f:
        f.write(text)


def test_make_run_stops_on_ctrl_c():
    tree = tempfile.mkdtemp(prefix="petrel-run-")
    os.chmod(tree, 0o755)   # daemons run as petrel when root runs this
    port = free_port()
    _copy_tree(tree, port)
    env = dict(os.environ, LANG="C")
    env.pop("MAIL_CONFIG", None)
    out = []
    proc = None
    client = None
    try:
        # Its own process group, as a shell gives a foreground job.
        proc = subprocess.Popen(
            ["sh", os.path.join(tree, "scripts", "run-instance"),
             build_dir()], cwd=tree, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        reader = threading.Thread(
            target=lambda: out.extend(
                ln.decode("utf-8", "replace") for ln in proc.stdout))
        reader.start()

        def started():
            return re.search(r"petrel/master\[(\d+)\]: daemon started",
                             "".join(out))
        m = wait_for(started, 120)
        assert m, "no 'daemon started':\n" + "".join(out)
        # run-instance execs master in the foreground.
        assert int(m.group(1)) == proc.pid
        assert os.path.isdir(os.path.join(tree, "run", "queue", "active"))

        # An SMTP session holds an smtpd while we press Ctrl-C.
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        greeting = client.recv(512)
        assert greeting.startswith(b"220 "), greeting
        assert len(_instance_processes(tree)) >= 2

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "".join(out)
        reader.join(30)
        text = "".join(out)
        assert re.search(rf"petrel/master\[{proc.pid}\]: terminating on "
                         r"signal 2$", text, re.M), text
        assert re.search(rf"petrel/master\[{proc.pid}\]: stopped$", text,
                         re.M), text
        assert not re.search(r"warning: process |fatal: |panic: |"
                             r"Sanitizer|runtime error", text), text
        assert wait_for(lambda: not _instance_processes(tree), 15), \
            f"left running: {_instance_processes(tree)}"
        assert not port_listening(port)
        client.settimeout(10)
        try:
            rest = client.recv(512)
        except ConnectionResetError:
            rest = b""
        assert rest == b"" or rest.startswith(b"421"), rest
    finally:
        if client is not None:
            client.close()
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in _instance_processes(tree):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tree, ignore_errors=True)
