"""
test_submit.py - local submission: sendmail -> postdrop -> maildrop/ ->
pickup -> cleanup -> incoming/

One instance for the module with Postfix's master.cf entries

    pickup    fifo n - n 60 1 pickup
    cleanup   unix n - n -  0 cleanup
    rewrite   unix - - n -  - trivial-rewrite

(no qmgr: queued messages stay in incoming/, where the tests read them
with mailproto.QueueFile). Other configuration directories beside the
instance's share its queue but change what sendmail and postdrop see:
smaller limits, or a command_directory whose "postdrop" is a script that
saves its arguments and standard input, so that the records sendmail
writes can be checked exactly. Exit codes are sysexits.h's.
"""

import os
import pwd
import re
import shutil
import stat
import subprocess
import time

import pytest

import harness
from harness import wait_for
from mailproto import QueueFile, rec, records
import qfile_writer as qw

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_OSERR = 71
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77

MAIN = {
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
}

ID = r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+"
PICKUP_RE = (r"petrel/pickup\[\d+\]: (?P<qid>" + ID + r"): "
             r"uid=(?P<uid>\d+) from=<(?P<sender>[^>]*)>$")

FAKE_POSTDROP = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_DIR/args"
printf '%s\\n' "$MAIL_CONFIG" > "$FAKE_DIR/mail_config"
cat > "$FAKE_DIR/stdin"
exit ${FAKE_STATUS:-0}
"""


def add_services(inst, cleanup=True):
    inst.add_service("pickup", "fifo", "pickup", private="n", unpriv="-",
                     chroot="n", wakeup=60, maxproc=1)
    if cleanup:
        inst.add_service("cleanup", "unix", "cleanup", private="n",
                         maxproc=0)
        inst.add_service("rewrite", "unix", "trivial-rewrite",
                         private="-")
        inst.add_service("showq", "unix", "showq", private="n")


@pytest.fixture(scope="module")
def inst():
    inst = harness.Instance(**MAIN)
    add_services(inst)
    inst.start()
    try:
        yield inst
    finally:
        log = inst.log()
        problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)


def make_config(inst, name, **params):
    """A configuration directory beside the instance's: its main.cf plus
    params (later lines win)."""
    d = os.path.join(inst.dir, name)
    if not os.path.isdir(d):
        os.mkdir(d)
        os.chmod(d, 0o755)
    with open(inst.main_cf) as f:
        text = f.read()
    text += "".join(f"{k} = {v}\n" for k, v in params.items())
    path = os.path.join(d, "main.cf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return d


@pytest.fixture(scope="module")
def fake(inst):
    """(config_dir, out_dir): sendmail runs a postdrop that saves what it
    gets in out_dir; small limits."""
    bindir = os.path.join(inst.dir, "fakebin")
    os.mkdir(bindir)
    path = os.path.join(bindir, "postdrop")
    with open(path, "w") as f:
        f.write(FAKE_POSTDROP)
    os.chmod(path, 0o755)
    out = os.path.join(inst.dir, "fakeout")
    os.mkdir(out)
    conf = make_config(inst, "etc-fake", command_directory=bindir,
                       line_length_limit=100, header_size_limit=1024,
                       message_size_limit=4000)
    return conf, out


def sendmail(inst, *args, data=b"", config=None, env=None, prog=None,
             preexec_fn=None):
    argv = [prog or os.path.join(inst.src, "sendmail")]
    if config is not False:
        argv += ["-C", config or inst.etc]
    argv += list(args)
    e = inst.env()
    e.update(env or {})
    return subprocess.run(argv, input=data, capture_output=True, env=e,
                          timeout=60, preexec_fn=preexec_fn)


def fake_send(inst, fake, *args, data=b"", status=0):
    """Run sendmail against the fake postdrop; returns (result, records
    [(type, payload)], postdrop args)."""
    conf, out = fake
    for name in ("args", "stdin", "mail_config"):
        try:
            os.unlink(os.path.join(out, name))
        except FileNotFoundError:
            pass
    r = sendmail(inst, *args, data=data, config=conf,
                 env={"FAKE_DIR": out, "FAKE_STATUS": str(status)})
    recs, argv = [], []
    if os.path.exists(os.path.join(out, "stdin")):
        with open(os.path.join(out, "stdin"), "rb") as f:
            recs = [(t, p) for _, t, p in records(f.read())]
        with open(os.path.join(out, "args")) as f:
            argv = f.read().split("\n")[:-1]
    return r, recs, argv


def maildrop(inst):
    return sorted(os.listdir(os.path.join(inst.queue, "maildrop")))


def incoming_file(inst, qid):
    path = os.path.join(inst.queue, "incoming", qid)
    assert wait_for(lambda: os.path.exists(path)
                    and os.stat(path).st_mode & stat.S_IXUSR, 10), \
        f"incoming/{qid} not complete"
    return QueueFile.load(path)


def queued(inst, since):
    """The message pickup handed over since log offset since:
    (match of the pickup line, QueueFile)."""
    m = inst.wait_log(PICKUP_RE, since=since)
    assert m, "no pickup log line\n" + inst.log()[since:]
    assert len(m) == 1, [x.group(0) for x in m]
    qf = incoming_file(inst, m[0].group("qid"))
    assert wait_for(lambda: maildrop(inst) == [], 10), maildrop(inst)
    return m[0], qf


def submit(inst, *args, data=b"Subject: test\n\nbody\n", **kw):
    since = inst.log_size()
    r = sendmail(inst, *args, data=data, **kw)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr == b""
    return queued(inst, since)


def rcpts(qf):
    return [r[0] for r in qf.rcpts]


def nothing_queued(inst, since):
    """No file waits in maildrop/ and pickup logged nothing new."""
    time.sleep(0.3)
    assert maildrop(inst) == []
    assert not inst.grep(PICKUP_RE, since)


# ---- plain submission ----------------------------------------------------

def test_plain_submission(inst):
    m, qf = submit(inst, "bob@example.com", "alice",
                   data=b"Subject: hello\n\nline 1\nline 2\n")
    assert m.group("uid") == str(os.getuid())
    login = pwd.getpwuid(os.getuid()).pw_name
    # Unqualified in maildrop; cleanup qualifies it with $myorigin.
    assert m.group("sender") == login
    assert qf.sender == f"{login}@example.com"
    assert rcpts(qf) == ["bob@example.com", "alice@example.com"]
    assert qf.attrs["rewrite_context"] == "local"
    assert qf.attrs["submit_uid"] == str(os.getuid())
    assert re.fullmatch(ID, qf.attrs["log_ident"])
    assert qf.header("Subject") == ["hello"]
    assert qf.body() == [b"line 1", b"line 2"]
    # No NOTIFY unless -N.
    assert all(r[2] is None for r in qf.rcpts)


@pytest.mark.parametrize("how", ["-C dir", "-C file", "-c dir",
                                 "MAIL_CONFIG"])
def test_config_directory(inst, how):
    env = {}
    if how == "-C dir":
        args = ["-C", inst.etc]
    elif how == "-C file":
        args = ["-C", inst.main_cf]
    elif how == "-c dir":
        args = ["-c", inst.etc]
    else:
        args = []
        env = {"MAIL_CONFIG": inst.etc}
    _, qf = submit(inst, *args, "carol@example.com", config=False, env=env)
    assert rcpts(qf) == ["carol@example.com"]


def test_argument_is_address_list(inst):
    _, qf = submit(inst, "Ann <a@x.example>, b@y.example", "c@z.example")
    assert rcpts(qf) == ["a@x.example", "b@y.example", "c@z.example"]


def test_sender_options(inst):
    m, qf = submit(inst, "-f", "Some One <someone@example.net>", "bob")
    assert m.group("sender") == "someone@example.net"
    assert qf.sender == "someone@example.net"
    m, qf = submit(inst, "-r", "other@example.net", "bob")
    assert qf.sender == "other@example.net"
    m, qf = submit(inst, "-f", "<>", "bob")
    assert m.group("sender") == ""
    assert qf.sender == ""
    m, qf = submit(inst, "-f", "", "bob")
    assert qf.sender == ""


def test_verbose_reports_queue_file(inst):
    since = inst.log_size()
    r = sendmail(inst, "-v", "bob", data=b"\nx\n")
    assert r.returncode == 0
    assert re.search(r"postdrop: queued as maildrop/" + ID,
                     r.stderr.decode()), r.stderr
    queued(inst, since)


# ---- -t ------------------------------------------------------------------

def test_extract_recipients(inst):
    data = (b"From: me@example.com\n"
            b"To: Alice <alice@example.org>, \"Smith, B\" <b@example.org>\n"
            b"Cc: team: c1@example.org, c2@example.org;\n"
            b"Bcc: hidden@example.org,\n"
            b"  hidden2@example.org\n"
            b"Subject: with bcc\n"
            b"bcc: lower@example.org\n"
            b"\n"
            b"To: not-a-header@example.org\n")
    _, qf = submit(inst, "-t", "extra@example.org", data=data)
    # Command-line recipients come first, then the extracted ones.
    assert rcpts(qf) == ["extra@example.org", "alice@example.org",
                         "b@example.org", "c1@example.org",
                         "c2@example.org", "hidden@example.org",
                         "hidden2@example.org", "lower@example.org"]
    names = [n.lower() for n, _ in qf.headers()]
    assert "bcc" not in names
    assert not any(b"hidden" in line for line in qf.lines)
    assert qf.header("Subject") == ["with bcc"]
    assert qf.header("Cc") == ["team: c1@example.org, c2@example.org;"]
    assert qf.body() == [b"To: not-a-header@example.org"]


def test_extract_resent(inst):
    data = (b"Resent-From: fwd@example.com\n"
            b"Resent-To: r1@example.org\n"
            b"Resent-Cc: r2@example.org\n"
            b"Resent-Bcc: r3@example.org\n"
            b"To: original@example.org\n"
            b"Bcc: obcc@example.org\n"
            b"\nbody\n")
    _, qf = submit(inst, "-t", data=data)
    assert rcpts(qf) == ["r1@example.org", "r2@example.org",
                         "r3@example.org"]
    names = [n.lower() for n, _ in qf.headers()]
    assert "resent-bcc" not in names and "bcc" not in names
    assert qf.header("To") == ["original@example.org"]


def test_extract_without_recipients(inst):
    since = inst.log_size()
    r = sendmail(inst, "-t", data=b"Subject: nobody\n\nbody\n")
    assert r.returncode == EX_USAGE
    assert r.stderr.decode() == "sendmail: fatal: no recipients specified\n"
    nothing_queued(inst, since)


def test_extract_header_too_big(inst, fake):
    data = b"To: a@example.org\n" + b"X-Big: " + b"x" * 2000 + b"\n\nbody\n"
    r, recs, _ = fake_send(inst, fake, "-t", data=data)
    assert r.returncode == EX_DATAERR
    assert r.stderr.decode() == ("sendmail: fatal: message header exceeds "
                                 "header_size_limit (1024 bytes)\n")
    assert recs == []           # postdrop never started
    # Without -t the header is not held: no limit here.
    r, recs, _ = fake_send(inst, fake, "a@example.org", data=data)
    assert r.returncode == 0


# ---- the message content ---------------------------------------------------

def test_dot_ends_input_without_i(inst):
    data = b"Subject: dots\n\nbefore\n..\n.x\n.\nafter\n"
    _, qf = submit(inst, "bob", data=data)
    assert qf.body() == [b"before", b"..", b".x"]
    for opt in (["-i"], ["-oi"], ["-o", "i"]):
        _, qf = submit(inst, *opt, "bob", data=data)
        assert qf.body() == [b"before", b"..", b".x", b".", b"after"], opt


def test_dot_with_crlf_ends_input(inst):
    _, qf = submit(inst, "bob", data=b"Subject: x\r\n\r\nbody\r\n.\r\nno\r\n")
    assert qf.body() == [b"body"]


def test_line_endings(inst, fake):
    data = b"Subject: crlf\r\n\r\ncrlf\r\nbare cr\rlf\nlast"
    _, qf = submit(inst, "bob", data=data)
    assert qf.header("Subject") == ["crlf"]
    assert qf.body() == [b"crlf", b"bare cr", b"lf", b"last"]
    # Exactly the records sendmail writes.
    r, recs, _ = fake_send(inst, fake, "bob", data=data)
    assert r.returncode == 0
    content = recs[recs.index((b"M", b"")) + 1:]
    assert content == [(b"N", b"Subject: crlf"), (b"N", b""),
                       (b"N", b"crlf"), (b"N", b"bare cr"), (b"N", b"lf"),
                       (b"N", b"last"), (b"X", b""), (b"E", b"")]
    # CR LF split across reads, NUL bytes kept.
    r, recs, _ = fake_send(inst, fake, "bob", data=b"a\r\n\r\nb\x00c\r")
    content = recs[recs.index((b"M", b"")) + 1:]
    assert content == [(b"N", b"a"), (b"N", b""), (b"N", b"b\x00c"),
                       (b"X", b""), (b"E", b"")]


def test_long_lines_split(inst, fake):
    # line_length_limit = 100 in the fake configuration.
    line = bytes(range(65, 91)) * 10          # 260 bytes
    r, recs, _ = fake_send(inst, fake, "bob", data=b"\n" + line + b"\n")
    assert r.returncode == 0
    content = recs[recs.index((b"M", b"")) + 1:]
    assert content == [(b"N", b""), (b"L", line[:100]),
                       (b"L", line[100:200]), (b"N", line[200:]),
                       (b"X", b""), (b"E", b"")]
    # End to end the line comes back whole.
    _, qf = submit(inst, "bob", data=b"Subject: long\n\n" + line * 40
                   + b"\nshort\n")
    assert qf.body() == [line * 40, b"short"]


def test_empty_message(inst):
    _, qf = submit(inst, "bob", data=b"")
    assert rcpts(qf) == ["bob@example.com"]


# ---- envelope options --------------------------------------------------------

def test_option_records(inst, fake):
    r, recs, argv = fake_send(
        inst, fake, "-F", "Joe User", "-N", "success,DELAY", "-R", "HDRS",
        "-V", "id+2Bone+3D1", "-B", "8bitmime", "-f", "joe@example.com",
        "a@example.org", "b@example.org", data=b"\nhi\n")
    assert r.returncode == 0, r.stderr
    assert recs == [
        (b"A", b"full_name=Joe User"),
        (b"A", b"envelope_id=id+one=1"),
        (b"A", b"dsn_ret=hdrs"),
        (b"A", b"body_type=8BITMIME"),
        (b"S", b"joe@example.com"),
        (b"n", b"6"), (b"R", b"a@example.org"),
        (b"n", b"6"), (b"R", b"b@example.org"),
        (b"M", b""), (b"N", b""), (b"N", b"hi"), (b"X", b""), (b"E", b""),
    ]
    assert argv == ["-c", fake[0]]
    with open(os.path.join(fake[1], "mail_config")) as f:
        assert f.read() == fake[0] + "\n"


@pytest.mark.parametrize("arg,bits", [
    ("never", "1"), ("success", "2"), ("delay", "4"), ("failure", "8"),
    ("failure,delay,success", "14"), ("Success, Failure", "10")])
def test_notify_values(inst, fake, arg, bits):
    r, recs, _ = fake_send(inst, fake, "-N", arg, "bob", data=b"")
    assert r.returncode == 0
    assert (b"n", bits.encode()) in recs


def test_options_end_to_end(inst):
    _, qf = submit(inst, "-F", "Joe User", "-N", "success,delay,failure",
                   "-R", "full", "-V", "ENV123", "-B", "7BIT", "-f",
                   "joe@example.com", "-t", "x@example.org",
                   data=b"To: y@example.org\nSubject: opts\n\nhi\n")
    assert qf.sender == "joe@example.com"
    assert qf.rcpts == [("x@example.org", None, "14"),
                        ("y@example.org", None, "14")]
    assert qf.attrs["full_name"] == "Joe User"
    assert qf.attrs["envelope_id"] == "ENV123"
    assert qf.attrs["dsn_ret"] == "full"
    assert qf.attrs["body_type"] == "7BIT"
    # cleanup used the full name in the From: it added.
    assert qf.header("From") == ["Joe User <joe@example.com>"]


def test_name_from_environment(inst, fake):
    r, recs, _ = fake_send(inst, fake, "bob", data=b"")
    assert not any(t == b"A" for t, _ in recs)
    conf, out = fake
    r = sendmail(inst, "bob", config=conf,
                 env={"FAKE_DIR": out, "NAME": "Env Name"})
    assert r.returncode == 0
    with open(os.path.join(out, "stdin"), "rb") as f:
        assert (b"A", b"full_name=Env Name") in [
            (t, p) for _, t, p in records(f.read())]


def test_ignored_options(inst, fake):
    r, recs, _ = fake_send(inst, fake, "-oem", "-odb", "-o7", "-G", "-U",
                           "-m", "-n", "-x", "-h", "5", "-e", "m", "-L",
                           "x", "-O", "a=b", "-p", "smtp", "-X", "/tmp/x",
                           "-bm", "bob", data=b"\n.\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert (b"R", b"bob") in recs


# ---- errors ------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["-Z", "bob"], "sendmail: error: unknown option -Z\n"),
    (["-f"], "sendmail: error: option -f requires an argument\n"),
    (["-N", "sometimes", "bob"], "sendmail: fatal: -N: bad DSN notification "
     "\"sometimes\" (expected never, or success, delay, failure separated "
     "by commas)\n"),
    (["-N", "never,success", "bob"], None),
    (["-N", "success,success", "bob"], None),
    (["-N", ",", "bob"], None),
    (["-R", "body", "bob"], "sendmail: fatal: -R: bad DSN return \"body\" "
     "(expected full or hdrs)\n"),
    (["-B", "BINARYMIME", "bob"], "sendmail: fatal: -B: bad body type "
     "\"BINARYMIME\" (expected 7BIT or 8BITMIME)\n"),
    (["-V", "has space", "bob"], None),
    (["-V", "a+2x", "bob"], None),
    (["-V", "a=b", "bob"], None),
    (["-V", "x" * 101, "bob"], "sendmail: fatal: -V: bad envelope ID \""
     + "x" * 101 + "\" (expected xtext of at most 100 characters)\n"),
    (["-F", "bad\nname", "bob"], "sendmail: fatal: -F: bad full name "
     "(control characters, or longer than 1024 bytes)\n"),
    (["-f", "a@x, b@y", "bob"], "sendmail: fatal: -f: bad sender address "
     "\"a@x, b@y\"\n"),
    (["-bd"], "sendmail: fatal: unsupported option -bd\n"),
    ([], "sendmail: fatal: no recipients specified\n"),
    (["(just a comment)"], None),
])
def test_usage_errors(inst, args, message):
    since = inst.log_size()
    r = sendmail(inst, *args, data=b"Subject: x\n\ny\n")
    assert r.returncode == EX_USAGE, (args, r.stderr)
    if message is not None:
        assert r.stderr.decode().startswith(message), r.stderr
    nothing_queued(inst, since)


def test_mailq_lists_what_was_submitted(inst, tmp_path):
    """sendmail -bp and mailq are `petrel queue -p`: the message just
    submitted waits in incoming/ (there is no qmgr yet)."""
    m, qf = submit(inst, "-f", "ann@example.com", "mailq-rcpt@example.com")
    qid = m.group("qid")
    want = inst.petrel("queue", "-p")
    assert want.returncode == 0, want.stderr
    assert qid in want.stdout and "mailq-rcpt@example.com" in want.stdout
    r = sendmail(inst, "-bp")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == want.stdout
    os.symlink(os.path.join(inst.src, "sendmail"), tmp_path / "mailq")
    r = sendmail(inst, prog=str(tmp_path / "mailq"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == want.stdout


def test_flush_needs_the_queue_manager(inst):
    for args in (["-q"], ["-q30m"]):
        r = sendmail(inst, *args)
        assert r.returncode == EX_UNAVAILABLE, r.stderr
        assert "the queue manager is not running" in r.stderr.decode()


@pytest.mark.parametrize("args,what", [
    (["-bv", "bob"], "address verification (-bv) is not available yet"),
])
def test_not_available_yet(inst, args, what):
    r = sendmail(inst, *args)
    assert r.returncode == EX_UNAVAILABLE
    assert r.stderr.decode() == f"sendmail: fatal: {what}\n"


def test_smtp_on_standard_input_is_available(inst):
    """-bs runs an SMTP session (test_sendmail_bs.py has the rest): the
    greeting, and the end of input before any transaction is a normal
    end."""
    r = sendmail(inst, "-bs")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"220 mail.example.com ESMTP Petrel\r\n"
    assert r.stderr == b""


def test_invoked_as_mailq_and_newaliases(inst, tmp_path):
    for name in ("mailq", "newaliases"):
        os.symlink(os.path.join(inst.src, "sendmail"), tmp_path / name)
    aliases = tmp_path / "aliases"
    aliases.write_text("postmaster: root\nlist: a, b\n")
    conf = make_config(inst, "etc-aliases",
                       alias_database=f"hash:{aliases}")
    r = sendmail(inst, config=conf, prog=str(tmp_path / "newaliases"))
    assert r.returncode == 0, r.stderr
    assert os.path.exists(str(aliases) + ".lmdb")
    os.unlink(str(aliases) + ".lmdb")
    for opt in ("-bi", "-I"):
        r = sendmail(inst, opt, config=conf)
        assert r.returncode == 0, r.stderr
        assert os.path.exists(str(aliases) + ".lmdb")
        os.unlink(str(aliases) + ".lmdb")
    # A bad source: mkmap's status and message.
    aliases.write_text("no colon here\n")
    r = sendmail(inst, "-bi", config=conf)
    assert r.returncode == EX_DATAERR
    assert f"{aliases}, line 1: missing ':'" in r.stderr.decode()


def test_message_size_limit(inst):
    small = make_config(inst, "etc-small", message_size_limit=2000)
    since = inst.log_size()
    r = sendmail(inst, "bob", config=small,
                 data=b"Subject: big\n\n" + b"x" * 80 * 30 + b"\n")
    assert r.returncode == EX_DATAERR
    assert r.stderr.decode() == ("sendmail: fatal: message size exceeds "
                                 "message_size_limit (2000 bytes)\n")
    nothing_queued(inst, since)
    # Envelope and content data together, one byte per line end: "bob",
    # the login name, the line.
    login = pwd.getpwuid(os.getuid()).pw_name
    body = 2000 - 3 - len(login) - 1
    m, qf = submit(inst, "bob", config=small, data=b"x" * (body - 1) + b"\n")
    assert qf.lines[-1] == b"x" * (body - 1)
    m, qf = submit(inst, "bob", config=small, data=b"x" * body + b"\n")
    assert qf.lines[-1] == b"x" * body
    r = sendmail(inst, "bob", config=small, data=b"x" * (body + 1) + b"\n")
    assert r.returncode == EX_DATAERR


def test_postdrop_status_is_passed_on(inst, fake):
    r, recs, _ = fake_send(inst, fake, "bob", data=b"x\n", status=75)
    assert r.returncode == EX_TEMPFAIL
    r, recs, _ = fake_send(inst, fake, "bob", data=b"x\n", status=73)
    assert r.returncode == EX_CANTCREAT


def test_postdrop_missing(inst):
    conf = make_config(inst, "etc-nopostdrop",
                       command_directory=os.path.join(inst.dir, "nowhere"))
    r = sendmail(inst, "bob", config=conf, data=b"x\n")
    assert r.returncode == EX_UNAVAILABLE
    assert r.stderr.decode().startswith(
        f"sendmail: fatal: execute {inst.dir}/nowhere/postdrop: No such file")


def test_unknown_uid(inst):
    if os.geteuid() != 0:
        pytest.skip("needs root to change uid")
    r = sendmail(inst, "bob", data=b"x\n",
                 preexec_fn=lambda: os.setuid(54321))
    assert r.returncode == EX_OSERR
    assert r.stderr.decode() == ("sendmail: fatal: no login name for user "
                                 "ID 54321\n")


def nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def test_unprivileged_user_without_setgid_postdrop(inst):
    """An ordinary user with a postdrop that is not set-gid cannot write
    into maildrop/ (1730): postdrop's EX_CANTCREAT reaches the user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to change uid")
    since = inst.log_size()
    r = sendmail(inst, "bob", data=b"x\n", preexec_fn=nobody)
    assert r.returncode == EX_CANTCREAT, r.stderr
    assert re.match(r"postdrop: fatal: create a file in \S+/maildrop: "
                    r"Permission denied; message not queued\n",
                    r.stderr.decode()), r.stderr
    nothing_queued(inst, since)


def test_setgid_postdrop_refuses_other_config(inst):
    """Set-gid, postdrop trusts only the default configuration directory
    and those it lists in alternate_config_directories."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a set-gid postdrop")
    if os.environ.get("PETREL_SANITIZED"):
        # The sanitizer runtime ignores ASAN_OPTIONS in a set-gid
        # process and LeakSanitizer then fails the exit.
        pytest.skip("set-gid programs do not run under the sanitizers")
    import grp
    try:
        gid = grp.getgrnam("petreldrop").gr_gid
    except KeyError:
        pytest.skip("no group petreldrop (scripts/bootstrap)")
    bindir = os.path.join(inst.dir, "sgidbin")
    os.mkdir(bindir)
    os.chmod(bindir, 0o755)
    path = os.path.join(bindir, "postdrop")
    shutil.copy(os.path.join(inst.src, "postdrop"), path)
    os.chown(path, 0, gid)
    os.chmod(path, 0o2755)
    conf = make_config(inst, "etc-sgid", command_directory=bindir)
    since = inst.log_size()
    for env in ({}, {"MAIL_CONFIG": conf}):
        r = sendmail(inst, "bob", data=b"x\n", config=conf, env=env,
                     preexec_fn=nobody)
        assert r.returncode == EX_NOPERM, r.stderr
        assert re.search(r"^postdrop: fatal: untrusted configuration "
                        r"directory \"" + re.escape(conf) + r"\": ",
                        r.stderr.decode(), re.M), r.stderr
    nothing_queued(inst, since)


def test_interrupted_sendmail_leaves_nothing(inst):
    """sendmail killed mid-message: postdrop sees the input end before
    END and removes its file."""
    since = inst.log_size()
    p = subprocess.Popen([os.path.join(inst.src, "sendmail"), "-C",
                          inst.etc, "bob"], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=inst.env())
    p.stdin.write(b"Subject: partial\n\n" + b"y" * 200000)
    p.stdin.flush()
    assert wait_for(lambda: maildrop(inst) != [], 10)
    p.kill()
    p.wait()
    p.stdin.close()
    p.stderr.close()
    assert wait_for(lambda: maildrop(inst) == [], 10), maildrop(inst)
    nothing_queued(inst, since)


# ---- postdrop on its own -----------------------------------------------------

def postdrop(inst, data):
    return subprocess.run([os.path.join(inst.src, "postdrop"), "-c",
                           inst.etc], input=data, capture_output=True,
                          env=inst.env(), timeout=60)


def good_records(attrs=(), extra=b""):
    out = b"".join(rec(b"A", a) for a in attrs)
    return (out + rec(b"S", b"joe") + rec(b"n", b"2") + rec(b"R", b"bob")
            + rec(b"M") + rec(b"N", b"Subject: direct") + rec(b"N")
            + rec(b"L", b"long ") + rec(b"N", b"line") + rec(b"X")
            + rec(b"E") + extra)


def test_postdrop_direct(inst):
    since = inst.log_size()
    r = postdrop(inst, good_records([b"full_name=Direct"]))
    assert r.returncode == 0, r.stderr
    m, qf = queued(inst, since)
    assert m.group("sender") == "joe"
    assert qf.rcpts == [("bob@example.com", None, "2")]
    assert qf.body() == [b"long line"]
    assert qf.attrs["full_name"] == "Direct"


@pytest.mark.parametrize("label,data,why", [
    ("empty", b"", "no input"),
    ("garbage", b"hello, world\n", "unknown record type"),
    ("truncated", good_records()[:-4], "end of input"),
    ("no end", good_records()[:-2], "end of input"),
    ("after end", good_records(extra=b"E\x00"), "data after the end"),
    ("trusted attribute", good_records([b"submit_uid=0"]),
     "attribute \"submit_uid\" not allowed"),
    ("duplicate attribute",
     good_records([b"dsn_ret=full", b"dsn_ret=hdrs"]), "duplicate"),
    ("bad attribute value", good_records([b"body_type=BINARY"]),
     "bad value"),
    ("no recipient", rec(b"S", b"joe") + rec(b"M") + rec(b"X") + rec(b"E"),
     "no recipients"),
    ("control in address", rec(b"S", b"jo\ne") + rec(b"R", b"bob"),
     "control character"),
    ("bad notify", rec(b"S", b"joe") + rec(b"n", b"3") + rec(b"R", b"b"),
     "notify"),
    ("time record", rec(b"T", b"1 0") + good_records(), "unexpected"),
    ("cont before xtra", rec(b"S", b"j") + rec(b"R", b"b") + rec(b"M")
     + rec(b"L", b"x") + rec(b"X") + rec(b"E"), "middle of a line"),
    ("huge record", b"N\xff\xff\xff\x7f", "exceeds"),
])
def test_postdrop_refuses_garbage(inst, label, data, why):
    since = inst.log_size()
    r = postdrop(inst, data)
    assert r.returncode == EX_DATAERR, (label, r.stderr)
    err = r.stderr.decode()
    assert err.startswith("postdrop: fatal: "), err
    assert why in err, (label, err)
    assert err.endswith("; message not queued\n"), err
    assert maildrop(inst) == []
    nothing_queued(inst, since)


def test_postdrop_size_limit(inst):
    small = make_config(inst, "etc-small2", message_size_limit=100)
    r = subprocess.run([os.path.join(inst.src, "postdrop"), "-c", small],
                       input=rec(b"S", b"j") + rec(b"R", b"b") + rec(b"M")
                       + rec(b"N", b"x" * 200) + rec(b"X") + rec(b"E"),
                       capture_output=True, env=inst.env(), timeout=60)
    assert r.returncode == EX_DATAERR
    assert r.stderr.decode() == ("postdrop: fatal: message size exceeds "
                                 "message_size_limit (100 bytes); message "
                                 "not queued\n")
    assert maildrop(inst) == []


def test_postdrop_usage(inst):
    r = subprocess.run([os.path.join(inst.src, "postdrop"), "-x"],
                       capture_output=True, env=inst.env(), timeout=60)
    assert r.returncode == EX_USAGE


# ---- pickup and hostile maildrop files ---------------------------------------

def poke_pickup(inst):
    inst.poke("pickup", "fifo", b"W")


_planted = [0]


def plant(inst, data=None, mode=0o744):
    """A file in maildrop/ under a fresh valid queue ID; returns the ID."""
    _planted[0] += 1
    qid = qw.make_queue_id(int(time.time()), _planted[0], 900000 +
                           _planted[0])
    path = os.path.join(inst.queue, "maildrop", qid)
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
    return qid, path


CORRUPT_RE = (r"petrel/pickup\[\d+\]: warning: maildrop/{qid}: malformed "
              r"maildrop file from uid=\d+: {why}; moved to corrupt/$")


def expect_corrupt(inst, qid, why, since):
    assert inst.wait_log(CORRUPT_RE.format(qid=qid, why=why), since=since), \
        inst.log()[since:]
    assert os.path.lexists(os.path.join(inst.queue, "corrupt", qid))
    assert not os.path.lexists(os.path.join(inst.queue, "maildrop", qid))


@pytest.mark.parametrize("label,data,why", [
    ("garbage", b"hello world\n", r".*unknown record type.*"),
    ("trusted attribute", good_records([b"rewrite_context=remote"]),
     r"attribute \"rewrite_context\" not allowed in a submission"),
    ("truncated", good_records()[:-2], r".*end of input"),
    ("after end", good_records(extra=b"junk"), "data after the end record"),
    ("no recipients", rec(b"S", b"j") + rec(b"M") + rec(b"X") + rec(b"E"),
     "no recipients"),
])
def test_pickup_quarantines_malformed_file(inst, label, data, why):
    since = inst.log_size()
    qid, _ = plant(inst, data)
    poke_pickup(inst)
    expect_corrupt(inst, qid, why, since)


def test_pickup_quarantines_odd_files(inst):
    since = inst.log_size()
    # Two links.
    qid1, path1 = plant(inst, good_records())
    os.link(path1, os.path.join(inst.dir, "second-link"))
    # A symbolic link (to a valid file elsewhere) and a fifo: the maildrop
    # scan (mail_scan_next) lists regular files only, so pickup never
    # opens them (it would refuse them: O_NOFOLLOW, S_ISREG).
    qid2, path2 = plant(inst)
    target = os.path.join(inst.dir, "target")
    with open(target, "wb") as f:
        f.write(good_records())
    os.chmod(target, 0o744)
    os.symlink(target, path2)
    qid3, path3 = plant(inst)
    os.mkfifo(path3, 0o744)
    poke_pickup(inst)
    expect_corrupt(inst, qid1, "2 links", since)
    time.sleep(0.5)
    assert os.path.islink(path2) and stat.S_ISFIFO(os.stat(path3).st_mode)
    assert not inst.grep(PICKUP_RE, since)
    os.unlink(path2)
    os.unlink(path3)


def test_pickup_skips_incomplete_file(inst):
    since = inst.log_size()
    qid, path = plant(inst, good_records(), mode=0o600)
    poke_pickup(inst)
    time.sleep(1)
    assert os.path.exists(path)
    assert not inst.grep(PICKUP_RE, since)
    # Once complete it goes.
    os.chmod(path, 0o744)
    poke_pickup(inst)
    m, qf = queued(inst, since)
    assert qf.rcpts == [("bob@example.com", None, "2")]


def test_pickup_mail_loop_is_returned(inst):
    """A mail loop (hopcount_limit 50) from a local submission cannot be
    refused to the sender, who is gone: cleanup queues it with every
    recipient done and a bounce log entry, for qmgr and the bounce
    daemon to return it (test_mailflow.py follows it to the end)."""
    since = inst.log_size()
    data = b"".join(b"Received: from x by y; hop %d\n" % i
                    for i in range(60)) + b"\nloop\n"
    r = sendmail(inst, "bob", "carol", data=data)
    assert r.returncode == 0
    m, qf = queued(inst, since)
    qid = m.group("qid")
    assert qf.rcpts == []
    assert [d[0] for d in qf.done] == ["bob@example.com",
                                       "carol@example.com"]
    for rcpt in ("bob", "carol"):
        assert inst.wait_log(re.escape(qid) + r": to=<" + rcpt
                             + r"@example\.com>, relay=none, .*dsn=5\.4\.6, "
                             r"status=bounced \(too many hops, message "
                             r"looping\)", since=since), inst.log()[since:]
    bounce_dir = os.path.join(inst.queue, "bounce")
    logs = [f for _, _, fs in os.walk(bounce_dir) for f in fs]
    assert qid in logs
    with open(os.path.join(bounce_dir, qid)) as f:
        text = f.read()
    assert text.count("status=5.4.6\n") == 2
    assert "reason=too many hops, message looping\n" in text


# ---- a real mail client --------------------------------------------------------

def test_s_nail(inst):
    snail = shutil.which("s-nail")
    if snail is None:
        pytest.skip("s-nail is not installed (scripts/bootstrap)")
    since = inst.log_size()
    env = inst.env()
    env["MAIL_CONFIG"] = inst.etc
    env["HOME"] = inst.dir
    r = subprocess.run([snail, "-:/", "-S", "mta=" + os.path.join(
        inst.src, "sendmail"), "-S", "from=tester@example.com", "-s",
        "hello from s-nail", "alice@example.org", "bob"],
        input=b"first line\n.\nlast line\n", capture_output=True, env=env,
        timeout=60)
    assert r.returncode == 0, r.stderr
    _, qf = queued(inst, since)
    assert rcpts(qf) == ["alice@example.org", "bob@example.com"]
    assert qf.header("Subject") == ["hello from s-nail"]
    assert qf.header("From") == ["tester@example.com"]
    # s-nail runs sendmail -i: the lone dot is content.
    assert qf.body() == [b"first line", b".", b"last line"]


# ---- pickup waits for cleanup ----------------------------------------------------

def test_pickup_retries_when_cleanup_is_down(instance):
    """Without cleanup the file stays in maildrop/; once cleanup runs, the
    next wakeup hands it over (removed only after cleanup succeeded)."""
    instance.set_main(**MAIN)
    add_services(instance, cleanup=False)
    instance.start()
    since = instance.log_size()
    r = sendmail(instance, "bob", data=b"Subject: later\n\nwait\n")
    assert r.returncode == 0, r.stderr
    assert instance.wait_log(r"petrel/pickup\[\d+\]: warning: maildrop/"
                             + ID + r": connect to the cleanup service "
                             r"public/cleanup: .*; will try again$",
                             since=since)
    assert len(maildrop(instance)) == 1
    instance.add_service("cleanup", "unix", "cleanup", private="n",
                         maxproc=0)
    instance.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    instance.reload()
    assert wait_for(lambda: os.path.exists(
        os.path.join(instance.queue, "public", "cleanup")), 10)
    poke_pickup(instance)
    _, qf = queued(instance, since)
    assert qf.header("Subject") == ["later"]
