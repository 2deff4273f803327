"""
test_smtpd.py - smtpd conformance, whole system, with raw sockets and smtplib

One instance serves the whole module: cleanup, trivial-rewrite and anvil
run as in production, qmgr does not (a test-trigger answers in its place,
so ETRN has someone to poke), so every accepted message stays in
incoming/ where the tests read it back: byte for byte with
qfile_writer.parse_records(), and through `petrel cat`. smtpd listens on
several ports, one per configuration (master.cf -o overrides); the
listeners are in LISTENERS below. A second instance with qmgr and
delivery into a Maildir proves the end-to-end path once.

Covered, with exact replies (code and enhanced code):
  - greeting, EHLO keywords (and smtpd_discard_ehlo_keywords,
    disable_vrfy_command), HELO, verbs in any case, every command's
    normal and error replies, bad bytes in commands, GET/POST;
  - pipelined groups answered in order; improper pipelining (before the
    greeting, after DATA, after HELO) logged, and with
    smtpd_forbid_unauth_pipelining answered 554 5.5.0 and disconnected;
  - DATA: dot transparency, long lines kept whole, the Received: header,
    the queue file on disk when 250 arrives;
  - SIZE, message_size_limit, smtpd_recipient_limit, smtpd_timeout;
  - BDAT: chunks, LAST, BDAT 0 LAST, pipelined, errors, size limit;
  - DSN and SMTPUTF8 parameters into the queue file;
  - SMTP smuggling: every vector, under normalize, reject and no, and
    for a client in smtpd_forbid_bare_newline_exclusions;
  - error, junk and anvil limits; the log lines log tools read.
After every hostile exchange a normal message still goes through.
"""

import mailbox
import os
import pwd
import re
import smtplib
import socket
import struct
import subprocess
import time

import pytest

import harness
import mailsystem
import qfile_writer as qw
from harness import wait_for

HOST = "mail.example.com"
CLIENT = "localhost[127.0.0.1]"
RCPT = "bob@localhost"
SENDER = "ann@example.com"

# ---- the instance -----------------------------------------------------------

# name -> main.cf overrides for that smtpd listener (master.cf -o).
LISTENERS = {
    "main": {},
    "small": {"message_size_limit": "2000", "smtpd_recipient_limit": "3"},
    "timeout": {"smtpd_timeout": "2s"},
    "reject": {"smtpd_forbid_bare_newline": "reject"},
    "legacy": {"smtpd_forbid_bare_newline": "no"},
    "exempt": {"smtpd_forbid_bare_newline": "reject",
               "smtpd_forbid_bare_newline_exclusions": "127.0.0.1"},
    "strictpipe": {"smtpd_forbid_unauth_pipelining": "yes"},
    "discard": {"smtpd_discard_ehlo_keywords":
                "pipelining,dsn,chunking,smtputf8",
                "disable_vrfy_command": "yes"},
    "helo": {"smtpd_helo_required": "yes", "strict_rfc821_envelopes": "yes"},
    # The tarpit's sleep is long enough that a reply without it (one
    # round trip, even on a loaded machine) cannot be taken for one with
    # it: see NO_DELAY and DELAYED below.
    "errors": {"smtpd_soft_error_limit": "2", "smtpd_error_sleep_time": "3s",
               "smtpd_hard_error_limit": "5"},
    # The same limits without the tarpit, for the hard limit alone.
    "hardlimit": {"smtpd_soft_error_limit": "2",
                  "smtpd_error_sleep_time": "0s",
                  "smtpd_hard_error_limit": "5"},
    "junk": {"smtpd_junk_command_limit": "3", "smtpd_hard_error_limit": "3",
             "smtpd_soft_error_limit": "100"},
    "conncount": {"smtpd_client_connection_count_limit": "1",
                  "smtpd_client_event_limit_exceptions": ""},
    "connrate": {"smtpd_client_connection_rate_limit": "2",
                 "smtpd_client_event_limit_exceptions": ""},
    "msgrate": {"smtpd_client_message_rate_limit": "2",
                "smtpd_client_event_limit_exceptions": ""},
    "rcptrate": {"smtpd_client_recipient_rate_limit": "3",
                 "smtpd_client_event_limit_exceptions": ""},
    # Header rewriting context (cleanup adds missing headers to local
    # mail only): 127.0.0.1 is remote here, local through a table there.
    "remotehdr": {"local_header_rewrite_clients":
                  "permit_sasl_authenticated, permit_tls_clientcerts"},
    "addrmap": {"local_header_rewrite_clients":
                "check_address_map inline:{127.0.0.1=yes}"},
    "rewritefail": {"local_header_rewrite_clients":
                    "check_address_map texthash:/nonexistent/table"},
    "exceptions": {"smtpd_client_connection_count_limit": "1",
                   "smtpd_client_message_rate_limit": "1",
                   "smtpd_client_event_limit_exceptions": "127.0.0.1"},
}
# Listeners that serve one client at a time (maxproc 1): a second client
# waits in the listen queue and can talk before its greeting.
SERIAL = ("pregreet", "pregreet-strict")

MAIN = dict(mailsystem.MAIN)
MAIN.update({
    # 127.0.0.1 is in $mynetworks; the tests want it treated as any
    # client unless a listener says otherwise.
    "smtpd_forbid_bare_newline_exclusions": "",
    # Name lookups stay on: 127.0.0.1 is "localhost" without DNS.
})


@pytest.fixture(scope="module")
def srv():
    inst = harness.Instance(**MAIN)
    inst.add_service("cleanup", "unix", "cleanup", private="n", maxproc=0)
    inst.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    inst.add_service("anvil", "unix", "anvil", private="-", maxproc=1)
    # No queue manager: mail stays in incoming/. ETRN pokes this one.
    inst.add_service("qmgr", "unix", "test-trigger", private="n",
                     maxproc=1)
    inst.ports = {}
    for name, opts in LISTENERS.items():
        inst.ports[name] = inst.add_inet("smtpd", opts=opts)
    inst.ports["pregreet"] = inst.add_inet("smtpd", maxproc=1)
    inst.ports["pregreet-strict"] = inst.add_inet(
        "smtpd", maxproc=1, opts={"smtpd_forbid_unauth_pipelining": "yes"})
    inst.start()
    try:
        yield inst
    finally:
        log = inst.log()
        problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)


@pytest.fixture(autouse=True)
def _attach_log(request):
    """The module instance's maillog goes with a failure report."""
    for name in ("srv", "e2e"):
        if name in request.fixturenames:
            request.node.petrel_instance = request.getfixturevalue(name)
    yield


# ---- a raw SMTP client ------------------------------------------------------

class Reply:
    """One SMTP reply: code (int) and its lines (text after "ddd-")."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return "\n".join(self.lines)

    def __str__(self):
        return f"{self.code} {self.text}"

    def __repr__(self):
        return f"Reply({self})"


class Client:
    """An SMTP client that sends exactly the bytes it is given."""

    def __init__(self, port, timeout=10.0, greet=True):
        timeout = harness.slow(timeout)
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.greeting = self.reply() if greet else None

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _line(self, timeout=None):
        deadline = time.monotonic() + (harness.slow(timeout) if timeout
                                       else self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply line in time")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        assert line.endswith(b"\r"), f"reply line without CR: {line!r}"
        return line[:-1].decode()

    def reply(self, timeout=None):
        """The next whole reply; None when the server closed first."""
        lines = []
        while True:
            line = self._line(timeout)
            if line is None:
                assert not lines, f"connection closed inside {lines}"
                return None
            assert re.fullmatch(r"[2-5]\d\d[ -].*", line), \
                f"malformed reply line {line!r}"
            lines.append(line)
            if line[3] == " ":
                break
        codes = {ln[:3] for ln in lines}
        assert len(codes) == 1, f"mixed codes in one reply: {lines}"
        return Reply(int(lines[0][:3]), [ln[4:] for ln in lines])

    def cmd(self, line, timeout=None):
        """Send line + CRLF; returns the reply."""
        self.send((line.encode() if isinstance(line, str) else line)
                  + b"\r\n")
        return self.reply(timeout)

    def expect(self, line, want, timeout=None):
        """Send line, assert the reply is exactly want ("250 2.1.0 Ok")."""
        r = self.cmd(line, timeout)
        assert str(r) == want, f"{line!r}: got {r}, want {want}"
        return r

    def closed(self, timeout=5.0):
        """True when the server closes the connection (after any bytes
        still in flight) within timeout (scaled: harness.slow())."""
        deadline = time.monotonic() + harness.slow(timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except socket.timeout:
                return False
            if not data:
                self.eof = True
            self.buf += data
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def transaction(c, rcpts=(RCPT,), sender=SENDER, ehlo="client.example.com"):
    """EHLO (when ehlo), MAIL, RCPT..., each answered 250."""
    if ehlo:
        assert c.cmd(f"EHLO {ehlo}").code == 250
    c.expect(f"MAIL FROM:<{sender}>", "250 2.1.0 Ok")
    for r in rcpts:
        c.expect(f"RCPT TO:<{r}>", "250 2.1.5 Ok")


def queued_id(reply):
    """The queue ID of a '250 2.0.0 Ok: queued as ID' reply."""
    m = re.fullmatch(r"250 2\.0\.0 Ok: queued as (" + mailsystem.ID + ")",
                     str(reply))
    assert m, f"not queued: {reply}"
    return m.group(1)


def send_data(c, content):
    """DATA, the content (bytes, sent as they are), the reply to it."""
    c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
    c.send(content)
    return c.reply()


# ---- the queue --------------------------------------------------------------

def incoming(inst):
    return set(mailsystem.queue_ids(inst, "incoming"))


def qfile_path(inst, qid):
    for dirpath, _, files in os.walk(os.path.join(inst.queue, "incoming")):
        if qid in files:
            return os.path.join(dirpath, qid)
    return None


class QFile:
    """A queue file read back: envelope records and content lines."""

    def __init__(self, inst, qid):
        path = qfile_path(inst, qid)
        assert path, f"{qid} is not in incoming/"
        with open(path, "rb") as f:
            self.recs = qw.parse_records(f.read())
        types = [r.type for r in self.recs]
        assert types[-1] == qw.END, f"{qid}: not complete"
        mesg = types.index(qw.MESG)
        xtra = types.index(qw.XTRA)
        self.envelope = self.recs[:mesg]
        self.content = self.recs[mesg + 1:xtra]

    def values(self, rtype):
        return [r.data for r in self.envelope if r.type == rtype]

    def attrs(self):
        return dict(v.decode().split("=", 1) for v in self.values(qw.ATTR))

    def lines(self):
        """Content lines, long ones joined from their pieces."""
        out, cur = [], b""
        for r in self.content:
            assert r.type in (qw.NORM, qw.CONT), r
            cur += r.data
            if r.type == qw.NORM:
                out.append(cur)
                cur = b""
        assert cur == b"", "content ends inside a line"
        return out

    def body(self):
        """The lines after the header (up to and without the blank)."""
        lines = self.lines()
        return lines[lines.index(b"") + 1:]


def new_messages(inst, before):
    return sorted(incoming(inst) - before)


def assert_new(inst, before, want):
    """The messages queued since before are exactly want. cleanup
    removes the file of an aborted message when it sees smtpd hang up,
    which may take a moment."""
    want = sorted(want)
    wait_for(lambda: new_messages(inst, before) == want, 5)
    assert new_messages(inst, before) == want


def assert_nothing_queued(inst, before):
    assert_new(inst, before, [])


def cat(inst, *args):
    r = inst.petrel("cat", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---- more helpers -----------------------------------------------------------

def received(q):
    """The Received: header (its lines joined with newlines)."""
    lines = q.lines()
    assert lines[0].startswith(b"Received: ")
    out = [lines[0]]
    for ln in lines[1:]:
        if not ln.startswith(b"\t"):
            break
        out.append(ln)
    return b"\n".join(out).decode()


DATE = r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}( \(\w+\))?"


def assert_clean_lines(q):
    for line in q.lines():
        assert b"\r" not in line and b"\n" not in line, line


def serial_client(port):
    """A client that connects while another holds the (maxproc 1)
    listener: whatever it sends waits until it is accepted, so it is
    surely there before the greeting."""
    holder = Client(port)
    early = Client(port, greet=False)
    return holder, early


def _proc_net_addr(port):
    """127.0.0.1:port as /proc/net/tcp shows it (address in host order)."""
    addr = struct.unpack("=I", socket.inet_aton("127.0.0.1"))[0]
    return f"{addr:08X}:{port:04X}"


def unread_at_server(port, client):
    """Bytes from client (a Client) that the kernel holds, unread, at the
    server end of its connection to port (accepted or still in the
    listen queue), from /proc/net/tcp; None when there is no such
    socket."""
    local = _proc_net_addr(port)
    remote = _proc_net_addr(client.sock.getsockname()[1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return int(fields[4].split(":")[1], 16)
    return None


def limit_warning(srv, what, count, name):
    """The regex of anvil limit warning for listener name (the service
    name is the master.cf name)."""
    return (r"warning: " + re.escape(what) + r" limit exceeded: "
            + str(count) + " from " + re.escape(CLIENT) + " for service "
            + re.escape(f"127.0.0.1:{srv.ports[name]}") + "$")


def greeting_code(port):
    with Client(port) as c:
        return c.greeting.code


def session_logs(srv, since):
    """The lines of each smtpd session that starts after the offset,
    without "... smtpd[pid]: ", in the order they started (earlier
    sessions may still be logging their end, and a client of another
    test may connect late: sessions are told apart by their pid)."""
    lines = [(m.group(1), m.group(2)) for m in
             srv.grep(r"petrel/smtpd\[(\d+)\]: (.*)$", since)]
    sessions = []
    for pid in dict.fromkeys(p for p, text in lines
                             if text.startswith("connect from ")):
        out = [text for p, text in lines if p == pid]
        out = out[out.index(next(t for t in out
                                 if t.startswith("connect "))):]
        end = next((i for i, t in enumerate(out)
                    if t.startswith("disconnect from ")), len(out) - 1)
        sessions.append(out[:end + 1])
    return sessions


# ---- survival ---------------------------------------------------------------

def assert_alive(inst, port=None):
    """A plain message through smtplib still gets queued."""
    port = port or inst.ports["main"]
    before = incoming(inst)
    with smtplib.SMTP("127.0.0.1", port, timeout=harness.slow(10)) as s:
        refused = s.sendmail(SENDER, [RCPT],
                             b"Subject: alive\r\n\r\nstill here\r\n")
        assert refused == {}
    new = new_messages(inst, before)
    assert len(new) == 1
    assert QFile(inst, new[0]).body() == [b"still here"]


# ---- greeting, EHLO, HELO ---------------------------------------------------

EHLO_KEYWORDS = ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN",
                 "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
                 "CHUNKING"]


def test_greeting(srv):
    with Client(srv.ports["main"]) as c:
        assert str(c.greeting) == f"220 {HOST} ESMTP Petrel"
        c.expect("QUIT", "221 2.0.0 Bye")
        assert c.closed()


def test_ehlo_keywords(srv):
    with Client(srv.ports["main"]) as c:
        r = c.cmd("EHLO client.example.com")
        assert r.code == 250
        assert r.lines == [HOST] + EHLO_KEYWORDS


def test_ehlo_discard_keywords_and_vrfy_disabled(srv):
    with Client(srv.ports["discard"]) as c:
        r = c.cmd("EHLO client.example.com")
        assert r.lines == [HOST, "SIZE 10240000", "ETRN",
                           "ENHANCEDSTATUSCODES", "8BITMIME"]
        c.expect("VRFY bob@localhost", "502 5.5.1 VRFY command is disabled")
        # What is not offered is not accepted either.
        c.expect(f"MAIL FROM:<{SENDER}> RET=FULL",
                 "555 5.5.4 Unsupported option: RET")
        c.expect(f"MAIL FROM:<{SENDER}> SMTPUTF8",
                 "555 5.5.4 Unsupported option: SMTPUTF8")
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
        c.expect(f"RCPT TO:<{RCPT}> NOTIFY=NEVER",
                 "555 5.5.4 Unsupported option: NOTIFY")
        c.expect("QUIT", "221 2.0.0 Bye")


def test_helo(srv):
    before = incoming(srv)
    with Client(srv.ports["main"]) as c:
        c.expect("HELO client.example.com", f"250 {HOST}")
        transaction(c, ehlo=None)
        qid = queued_id(send_data(c, b"Subject: helo\r\n\r\nx\r\n.\r\n"))
        c.expect("QUIT", "221 2.0.0 Bye")
    assert_new(srv, before, [qid])
    q = QFile(srv, qid)
    assert q.attrs()["protocol_name"] == "SMTP"
    assert q.attrs()["helo_name"] == "client.example.com"
    assert re.match(rb"\tby mail\.example\.com \(Petrel\) with SMTP id ",
                    q.lines()[1])


def test_verbs_in_any_case(srv):
    before = incoming(srv)
    with Client(srv.ports["main"]) as c:
        assert c.cmd("eHlO client.example.com").code == 250
        c.expect(f"mail from:<{SENDER}>", "250 2.1.0 Ok")
        c.expect(f"RcPt To:<{RCPT}>", "250 2.1.5 Ok")
        c.expect("data", "354 End data with <CR><LF>.<CR><LF>")
        c.send(b"Subject: case\r\n\r\nx\r\n.\r\n")
        queued_id(c.reply())
        c.expect("noop", "250 2.0.0 Ok")
        c.expect("rset", "250 2.0.0 Ok")
        c.expect("qUiT", "221 2.0.0 Bye")
    assert len(new_messages(srv, before)) == 1


# ---- replies to every command -----------------------------------------------

NEED_MAIL = "503 5.5.1 Error: need MAIL command"
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
EHLO = ("EHLO client.example.com", None)      # None: any 250
MAIL = (f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
RCPT_OK = (f"RCPT TO:<{RCPT}>", "250 2.1.5 Ok")

# Each scenario: one session, (command, exact reply) in order.
DIALOGUES = {
    "mail before helo is fine": [MAIL, RCPT_OK],
    "rcpt without mail": [EHLO, (f"RCPT TO:<{RCPT}>", NEED_MAIL)],
    "data without mail": [EHLO, ("DATA", NEED_MAIL)],
    "data without rcpt": [EHLO, MAIL, ("DATA", NEED_RCPT)],
    "data after refused rcpts": [
        EHLO, MAIL, ("RCPT TO:<bob@[999.0.0.1]>",
                     "501 5.1.3 Bad recipient address syntax"),
        ("DATA", NEED_RCPT)],
    "data with argument": [EHLO, MAIL, RCPT_OK,
                           ("DATA x", "501 5.5.4 Syntax: DATA")],
    "nested mail": [EHLO, MAIL,
                    (f"MAIL FROM:<{SENDER}>",
                     "503 5.5.1 Error: nested MAIL command")],
    "mail without from": [EHLO, ("MAIL", "501 5.5.4 Syntax: MAIL "
                                 "FROM:<address>")],
    "mail to: instead of from:": [
        EHLO, (f"MAIL TO:<{SENDER}>", "501 5.5.4 Syntax: MAIL "
               "FROM:<address>")],
    "mail bad address": [EHLO, ("MAIL FROM:<a@b@c>",
                                "501 5.1.7 Bad sender address syntax")],
    "mail unclosed": [EHLO, ("MAIL FROM:<a@example.com",
                             "501 5.1.7 Bad sender address syntax")],
    "mail unknown parameter": [
        EHLO, (f"MAIL FROM:<{SENDER}> FOO=BAR",
               "555 5.5.4 Unsupported option: FOO")],
    "mail bad size": [EHLO, (f"MAIL FROM:<{SENDER}> SIZE=12x",
                             "501 5.5.4 Bad message size syntax")],
    "mail bad body": [EHLO, (f"MAIL FROM:<{SENDER}> BODY=BINARYMIME",
                             "501 5.5.4 Unsupported BODY parameter")],
    "mail bad ret": [EHLO, (f"MAIL FROM:<{SENDER}> RET=ALL",
                            "501 5.5.4 Bad RET parameter syntax")],
    "mail duplicate ret": [EHLO, (f"MAIL FROM:<{SENDER}> RET=FULL RET=HDRS",
                                  "501 5.5.4 Duplicate RET parameter")],
    "mail bad envid": [EHLO, (f"MAIL FROM:<{SENDER}> ENVID=a+4",
                              "501 5.5.4 Bad ENVID parameter syntax")],
    "mail bad parameter syntax": [EHLO, (f"MAIL FROM:<{SENDER}> =x",
                                         "501 5.5.4 Bad MAIL parameter "
                                         "syntax")],
    "mail refused, then mail": [
        EHLO, (f"MAIL FROM:<{SENDER}> FOO", "555 5.5.4 Unsupported option: "
               "FOO"), MAIL],
    "rcpt without to": [EHLO, MAIL, ("RCPT", "501 5.5.4 Syntax: RCPT "
                                     "TO:<address>")],
    "rcpt null": [EHLO, MAIL, ("RCPT TO:<>",
                               "501 5.1.3 Bad recipient address syntax")],
    "rcpt bad address": [EHLO, MAIL, ("RCPT TO:<bob@>",
                                      "501 5.1.3 Bad recipient address "
                                      "syntax")],
    "rcpt unknown parameter": [
        EHLO, MAIL, (f"RCPT TO:<{RCPT}> SIZE=1",
                     "555 5.5.4 Unsupported option: SIZE")],
    "rcpt bad notify": [EHLO, MAIL, (f"RCPT TO:<{RCPT}> NOTIFY=NEVER,DELAY",
                                     "501 5.5.4 Bad NOTIFY parameter "
                                     "syntax")],
    "rcpt bad orcpt": [EHLO, MAIL, (f"RCPT TO:<{RCPT}> ORCPT=bob",
                                    "501 5.5.4 Bad ORCPT parameter syntax")],
    "rcpt duplicate notify": [
        EHLO, MAIL, (f"RCPT TO:<{RCPT}> NOTIFY=DELAY NOTIFY=DELAY",
                     "501 5.5.4 Duplicate NOTIFY parameter")],
    "rset": [EHLO, MAIL, RCPT_OK, ("RSET", "250 2.0.0 Ok"),
             ("DATA", NEED_MAIL), MAIL],
    "rset with argument": [("RSET x", "501 5.5.4 Syntax: RSET")],
    "noop": [("NOOP", "250 2.0.0 Ok"), ("NOOP anything", "250 2.0.0 Ok")],
    "helo without name": [("HELO", "501 Syntax: HELO hostname")],
    "ehlo without name": [("EHLO", "501 Syntax: EHLO hostname")],
    "ehlo resets the transaction": [
        EHLO, MAIL, RCPT_OK, EHLO, ("DATA", NEED_MAIL)],
    "vrfy": [(f"VRFY {RCPT}", f"252 2.0.0 {RCPT}"),
             ("VRFY <joe@localhost>", "252 2.0.0 joe@localhost")],
    "vrfy without argument": [("VRFY", "501 5.5.4 Syntax: VRFY address")],
    "vrfy bad address": [("VRFY <a@", "501 5.1.3 Bad recipient address "
                          "syntax")],
    "etrn before ehlo": [("ETRN example.com",
                          "503 5.5.1 Error: send HELO/EHLO first")],
    "etrn without domain": [EHLO, ("ETRN", "500 5.5.2 Syntax: ETRN domain")],
    "etrn bad domain": [EHLO, ("ETRN a..b",
                               "501 5.5.4 Error: invalid parameter syntax")],
    "etrn in a transaction": [EHLO, MAIL, (
        "ETRN example.com", "503 5.5.1 Error: MAIL transaction in progress")],
    "unknown command": [("XYZZY", "500 5.5.2 Error: command not recognized"),
                        ("EHLOX x", "500 5.5.2 Error: command not "
                         "recognized")],
    "empty line": [("", "500 5.5.2 Error: bad syntax")],
    "starttls not offered": [EHLO, ("STARTTLS", "502 5.5.1 Error: command "
                                    "not implemented")],
    "auth not offered": [EHLO, ("AUTH PLAIN", "503 5.5.1 Error: "
                                "authentication not enabled")],
    "bdat syntax": [EHLO, MAIL, RCPT_OK,
                    ("BDAT", "501 5.5.4 Syntax: BDAT count [LAST]"),
                    ("BDAT x", "501 5.5.4 Syntax: BDAT count [LAST]"),
                    ("BDAT 1 FIRST", "501 5.5.4 Syntax: BDAT count [LAST]"),
                    ("BDAT -1", "501 5.5.4 Syntax: BDAT count [LAST]"),
                    ("NOOP", "250 2.0.0 Ok")],
}


@pytest.mark.parametrize("name", DIALOGUES)
def test_dialogue(srv, name):
    with Client(srv.ports["main"]) as c:
        for line, want in DIALOGUES[name]:
            r = c.cmd(line)
            if want is None:
                assert r.code == 250, f"{line!r}: {r}"
            else:
                assert str(r) == want, f"{line!r}: got {r}, want {want}"
        c.expect("QUIT", "221 2.0.0 Bye")
        assert c.closed()


def test_help(srv):
    with Client(srv.ports["main"]) as c:
        r = c.cmd("HELP")
        assert r.code == 214
        assert r.lines[0].startswith("2.0.0 Commands: HELO EHLO MAIL RCPT")
        assert all(ln.startswith("2.0.0 ") for ln in r.lines)


def test_etrn_pokes_the_queue_manager(srv):
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.expect("ETRN example.com", "250 2.0.0 Queuing started")
        c.expect("ETRN @example.org", "250 2.0.0 Queuing started")
    assert srv.wait_log(r"trigger: service=qmgr request=F", since=since)
    assert srv.grep(r"smtpd\[\d+\]: ETRN example\.com from "
                    + re.escape(CLIENT), since)


def test_helo_required_and_strict_envelopes(srv):
    with Client(srv.ports["helo"]) as c:
        c.expect(f"MAIL FROM:<{SENDER}>",
                 "503 5.5.1 Error: send HELO/EHLO first")
        c.expect(f"VRFY {RCPT}", "503 5.5.1 Error: send HELO/EHLO first")
        assert c.cmd("HELO client.example.com").code == 250
        c.expect(f"MAIL FROM:{SENDER}", "501 5.1.7 Bad sender address syntax")
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
        c.expect(f"RCPT TO:{RCPT}", "501 5.1.3 Bad recipient address syntax")
    with Client(srv.ports["main"]) as c:
        # strict_rfc821_envelopes = no (the default): <> may be left out.
        c.expect(f"MAIL FROM:{SENDER}", "250 2.1.0 Ok")
        c.expect(f"RCPT TO: {RCPT}", "250 2.1.5 Ok")


# ---- bad bytes in commands --------------------------------------------------

BAD_BYTES = {
    "nul": (b"NOOP\x00x", "500 5.5.2 Error: bad syntax"),
    "nul in mail": (b"MAIL FROM:<a\x00@example.com>",
                    "500 5.5.2 Error: bad syntax"),
    "control": (b"NO\x01OP", "500 5.5.2 Error: bad syntax"),
    "escape": (b"NOOP \x1b[2J", "500 5.5.2 Error: bad syntax"),
    "del": (b"NOOP \x7f", "500 5.5.2 Error: bad syntax"),
    "bare cr": (b"NOOP\rRSET", "500 5.5.2 Error: bad syntax"),
    "non-ascii verb": (b"N\xc3\xb6OP", "500 5.5.2 Error: bad UTF-8 syntax"),
    "non-ascii noop": (b"NOOP \xc3\xa9", "500 5.5.2 Error: bad UTF-8 syntax"),
    "latin-1 in mail": (b"MAIL FROM:<j\xf6rg@example.com>",
                        "500 5.5.2 Error: bad UTF-8 syntax"),
    "overlong utf-8 in mail": (b"MAIL FROM:<j\xc0\xafrg@example.com>",
                               "500 5.5.2 Error: bad UTF-8 syntax"),
}


@pytest.mark.parametrize("name", BAD_BYTES)
def test_bad_bytes_in_commands(srv, name):
    line, want = BAD_BYTES[name]
    with Client(srv.ports["main"]) as c:
        c.expect(line, want)
        c.expect("NOOP", "250 2.0.0 Ok")


def test_line_too_long(srv):
    with Client(srv.ports["main"]) as c:
        c.expect("NOOP " + "x" * 5000, "500 5.5.2 Error: line too long")
        # The rest of the long line was skipped, not taken as commands.
        c.expect("NOOP " + "x" * 2042, "250 2.0.0 Ok")     # 2047 bytes
        c.expect("MAIL FROM:<" + "a" * 70000 + "@example.com>",
                 "500 5.5.2 Error: line too long")
        c.expect("NOOP", "250 2.0.0 Ok")
    assert_alive(srv)


@pytest.mark.parametrize("verb", ["GET / HTTP/1.0", "POST /x HTTP/1.1",
                                  "CONNECT example.com:25 HTTP/1.0"])
def test_web_requests_hang_up(srv, verb):
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        c.send(verb + "\r\nHost: x\r\n\r\n")
        assert str(c.reply()) == \
            "221 2.7.0 Error: I can break rules, too. Goodbye."
        assert c.closed()
    assert srv.wait_log(r"warning: non-SMTP command from "
                        + re.escape(CLIENT) + ": " + verb.split()[0],
                        since=since)


# ---- pipelining -------------------------------------------------------------

def test_pipelined_group_answered_in_order(srv):
    before = incoming(srv)
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.send(f"MAIL FROM:<{SENDER}>\r\n"
               "RCPT TO:<bob@localhost>\r\n"
               "RCPT TO:<bad@>\r\n"
               "RCPT TO:<carol@localhost> FOO=1\r\n"
               "RCPT TO:<dave@localhost>\r\n"
               "DATA\r\n")
        got = [str(c.reply()) for _ in range(6)]
        assert got == ["250 2.1.0 Ok", "250 2.1.5 Ok",
                       "501 5.1.3 Bad recipient address syntax",
                       "555 5.5.4 Unsupported option: FOO",
                       "250 2.1.5 Ok",
                       "354 End data with <CR><LF>.<CR><LF>"]
        c.send(b"Subject: group\r\n\r\nbody\r\n.\r\n"
               b"MAIL FROM:<>\r\nRCPT TO:<erin@localhost>\r\nBDAT 5 LAST\r\n"
               b"x\r\n\r\n"
               b"QUIT\r\n")
        first = queued_id(c.reply())
        assert str(c.reply()) == "250 2.1.0 Ok"
        assert str(c.reply()) == "250 2.1.5 Ok"
        second = queued_id(c.reply())
        assert str(c.reply()) == "221 2.0.0 Bye"
        assert c.closed()
    assert_new(srv, before, [first, second])
    assert QFile(srv, first).values(qw.RCPT) == [b"bob@localhost",
                                                 b"dave@localhost"]
    assert QFile(srv, second).values(qw.FROM) == [b""]
    assert QFile(srv, second).lines()[-2:] == [b"x", b""]
    # A group that waits where RFC 2920 allows is not "improper".
    assert not srv.grep("improper command pipelining", since)


@pytest.mark.parametrize("strict", [False, True])
def test_talk_before_greeting(srv, strict):
    port = srv.ports["pregreet-strict" if strict else "pregreet"]
    since = srv.log_size()
    holder, early = serial_client(port)
    with holder, early:
        ehlo = b"EHLO early.example.com\r\n"
        early.send(ehlo)
        # The bytes are at smtpd's end before it can accept the client.
        assert wait_for(lambda: unread_at_server(port, early) == len(ehlo))
        holder.expect("QUIT", "221 2.0.0 Bye")
        if strict:
            assert str(early.reply()) == \
                "554 5.5.0 Error: SMTP protocol synchronization"
            assert early.closed()
        else:
            assert str(early.reply()) == f"220 {HOST} ESMTP Petrel"
            assert early.reply().code == 250
            early.expect("QUIT", "221 2.0.0 Bye")
    assert srv.wait_log(r"improper command pipelining after CONNECT from "
                        + re.escape(CLIENT) + r": EHLO early\.example\.com$",
                        since=since)
    assert_alive(srv, port)


@pytest.mark.parametrize("strict", [False, True])
def test_data_pipelined_after_data(srv, strict):
    port = srv.ports["strictpipe" if strict else "main"]
    before = incoming(srv)
    since = srv.log_size()
    with Client(port) as c:
        transaction(c)
        c.send(b"DATA\r\nSubject: early\r\n\r\nbody\r\n.\r\n")
        if strict:
            assert str(c.reply()) == \
                "554 5.5.0 Error: SMTP protocol synchronization"
            assert c.closed()
        else:
            assert str(c.reply()) == "354 End data with <CR><LF>.<CR><LF>"
            queued_id(c.reply())
    assert srv.wait_log(r"improper command pipelining after DATA from "
                        + re.escape(CLIENT) + r": Subject: early$",
                        since=since)
    if strict:
        assert_nothing_queued(srv, before)
    else:
        assert len(new_messages(srv, before)) == 1
    assert_alive(srv, port)


@pytest.mark.parametrize("strict", [False, True])
def test_pipelining_after_helo(srv, strict):
    """Without EHLO there is no PIPELINING: a client must wait for each
    reply."""
    port = srv.ports["strictpipe" if strict else "main"]
    since = srv.log_size()
    with Client(port) as c:
        c.expect("HELO client.example.com", f"250 {HOST}")
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\n")
        if strict:
            assert str(c.reply()) == "250 2.1.0 Ok"
            assert str(c.reply()) == \
                "554 5.5.0 Error: SMTP protocol synchronization"
            assert c.closed()
        else:
            assert str(c.reply()) == "250 2.1.0 Ok"
            assert str(c.reply()) == "250 2.1.5 Ok"
    assert srv.wait_log(r"improper command pipelining after MAIL from "
                        + re.escape(CLIENT) + r": RCPT TO:<bob@localhost>$",
                        since=since)


def test_pipelining_after_ehlo_and_quit(srv):
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        c.send(f"EHLO client.example.com\r\nMAIL FROM:<{SENDER}>\r\n")
        assert c.reply().code == 250
        assert str(c.reply()) == "250 2.1.0 Ok"
    assert srv.wait_log(r"improper command pipelining after EHLO from "
                        + re.escape(CLIENT) + r": MAIL FROM:<", since=since)


# ---- DATA -------------------------------------------------------------------

def test_message_on_disk_before_250(srv):
    before = incoming(srv)
    with Client(srv.ports["main"]) as c:
        transaction(c)
        reply = send_data(c, b"Subject: durable\r\n\r\nbody\r\n.\r\n")
        qid = queued_id(reply)
        # No waiting: the file is complete when the reply arrives.
        q = QFile(srv, qid)
        assert q.body() == [b"body"]
        c.expect("QUIT", "221 2.0.0 Bye")
    assert_new(srv, before, [qid])
    assert srv.grep(r"smtpd\[\d+\]: " + qid + r": client=" + re.escape(CLIENT)
                    + "$")


def test_dot_transparency(srv):
    body = [b".", b"..", b"...", b".x", b"..x", b". ", b" .", b"x.",
            b".\t", b"", b"end"]
    # The client stuffs a dot before each line that starts with one.
    wire = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
                    for ln in body)
    with Client(srv.ports["main"]) as c:
        transaction(c)
        qid = queued_id(send_data(c, b"Subject: dots\r\n\r\n" + wire
                                  + b".\r\n"))
    assert QFile(srv, qid).body() == body
    # An unstuffed line: its first dot is removed (RFC 5321 4.5.2).
    with Client(srv.ports["main"]) as c:
        transaction(c)
        qid = queued_id(send_data(c, b"Subject: d\r\n\r\n.a\r\n.\t\r\n"
                                  b". \r\n.\r\n"))
    assert QFile(srv, qid).body() == [b"a", b"\t", b" "]


def test_smtplib_dot_stuffing(srv):
    before = incoming(srv)
    msg = b"Subject: lib\r\n\r\n.\r\n..\r\n.leading\r\nlast\r\n"
    with smtplib.SMTP("127.0.0.1", srv.ports["main"], timeout=harness.slow(10)) as s:
        s.sendmail(SENDER, [RCPT], msg)
    (qid,) = new_messages(srv, before)
    assert QFile(srv, qid).body() == [b".", b"..", b".leading", b"last"]


def test_swaks_pipelined(srv):
    """swaks, a real SMTP test client, pipelining the whole transaction."""
    before = incoming(srv)
    r = subprocess.run(["swaks", "--server",
                        f"127.0.0.1:{srv.ports['main']}", "--pipeline",
                        "--from", SENDER, "--to", f"{RCPT},carol@localhost",
                        "--header", "Subject: from swaks",
                        "--body", "line one\n.line two\n"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"<-\s+250 2\.0\.0 Ok: queued as (\S+)", r.stdout)
    assert m, r.stdout
    (qid,) = new_messages(srv, before)
    assert qid == m.group(1)
    q = QFile(srv, qid)
    assert q.body()[:2] == [b"line one", b".line two"]
    assert re.search(r"(?m)^Subject: from swaks$", cat(srv, "-h", "-q", qid))


@pytest.mark.parametrize("length", [2046, 2047, 2048, 2049, 2050, 4096,
                                    10000, 70000])
def test_long_lines_kept_whole(srv, length):
    """line_length_limit (2048) cuts content lines into records; they
    land whole, and a piece that starts with a dot keeps it."""
    plain = bytes(ord("a") + i % 26 for i in range(length))
    dotted = b"x" * 2048 + b".y" + b"z" * (length % 100)
    stuffed = b"." + b"q" * length
    with Client(srv.ports["main"]) as c:
        transaction(c)
        qid = queued_id(send_data(
            c, b"Subject: long\r\n\r\n" + plain + b"\r\n" + dotted + b"\r\n."
            + stuffed + b"\r\n" + b"r" * length + b"\r\n.\r\n"))
    q = QFile(srv, qid)
    assert q.body() == [plain, dotted, stuffed, b"r" * length]
    if length > 2048:
        assert any(r.type == qw.CONT for r in q.content)


def test_cr_at_piece_boundary(srv):
    """A CR LF split across the line_length_limit boundary ends the
    line; a bare CR there is content."""
    lines = [b"a" * 2047, b"b" * 2048, b"c" * 4095]
    wire = b"".join(ln + b"\r\n" for ln in lines)
    with Client(srv.ports["main"]) as c:
        transaction(c)
        qid = queued_id(send_data(c, b"Subject: b\r\n\r\n" + wire
                                  + b"d" * 2047 + b"\rtail\r\n.\r\n"))
    assert QFile(srv, qid).body() == lines + [b"d" * 2047 + b" tail"]





def test_received_header(srv):
    with Client(srv.ports["main"]) as c:
        transaction(c, ehlo="helo.example.net")
        qid = queued_id(send_data(c, b"Subject: r\r\n\r\nx\r\n.\r\n"))
        transaction(c, rcpts=[RCPT, "carol@localhost"], ehlo=None)
        qid2 = queued_id(send_data(c, b"Subject: r\r\n\r\nx\r\n.\r\n"))
    assert re.fullmatch(
        r"Received: from helo\.example\.net \(localhost \[127\.0\.0\.1\]\)\n"
        r"\tby mail\.example\.com \(Petrel\) with ESMTP id " + qid + r"\n"
        r"\tfor <bob@localhost>; " + DATE, received(QFile(srv, qid)))
    # Two recipients: no "for".
    assert re.fullmatch(
        r"Received: from helo\.example\.net \(localhost \[127\.0\.0\.1\]\)\n"
        r"\tby mail\.example\.com \(Petrel\) with ESMTP id " + qid2 + "; "
        + DATE, received(QFile(srv, qid2)))
    attrs = QFile(srv, qid).attrs()
    assert attrs["client_address"] == "127.0.0.1"
    assert attrs["client_name"] == "localhost"
    assert attrs["helo_name"] == "helo.example.net"
    assert attrs["protocol_name"] == "ESMTP"
    # 127.0.0.1 is an address of inet_interfaces: local mail.
    assert attrs["rewrite_context"] == "local"
    # petrel cat shows the same message.
    out = cat(srv, "-q", qid)
    assert f"*** MESSAGE CONTENTS " in out
    assert "\tfor <bob@localhost>; " in out
    assert f"sender: {SENDER}\n" in out


def test_received_without_helo(srv):
    """No HELO: the header names the client instead."""
    with Client(srv.ports["main"]) as c:
        transaction(c, ehlo=None)
        qid = queued_id(send_data(c, b"Subject: r\r\n\r\nx\r\n.\r\n"))
    assert received(QFile(srv, qid)).startswith(
        "Received: from localhost (localhost [127.0.0.1])\n"
        "\tby mail.example.com (Petrel) with SMTP id ")


def header_names(q):
    return [ln.split(b":", 1)[0].decode() for ln in q.lines()[:q.lines().index(b"")]
            if not ln.startswith((b" ", b"\t"))]


@pytest.mark.parametrize("listener,context", [
    ("main", "local"),          # permit_inet_interfaces (the default)
    ("addrmap", "local"),       # check_address_map inline:{127.0.0.1=yes}
    ("remotehdr", "remote"),    # neither SASL nor a TLS certificate
])
def test_missing_headers_only_for_local_clients(srv, listener, context):
    """local_header_rewrite_clients decides the rewrite context, and
    cleanup adds missing Date:, Message-ID: and From: to local mail
    only: a remote client's header block stays as it was signed (a DKIM
    signature may cover the absence of a header). No To: either way
    (undisclosed_recipients_header is empty by default)."""
    since = srv.log_size()
    with Client(srv.ports[listener]) as c:
        transaction(c)
        qid = queued_id(send_data(c, b"Subject: bare\r\n\r\nx\r\n.\r\n"))
    q = QFile(srv, qid)
    assert q.attrs()["rewrite_context"] == context
    if context == "local":
        assert header_names(q) == ["Received", "Subject", "Date",
                                   "Message-ID", "From"]
        assert srv.wait_log(rf"petrel/cleanup\[\d+\]: {qid}: "
                            rf"message-id=<\d{{14}}\.{qid}@", since=since)
    else:
        assert header_names(q) == ["Received", "Subject"]
        assert srv.wait_log(rf"petrel/cleanup\[\d+\]: {qid}: "
                            rf"message-id=<>$", since=since)
    assert q.body() == [b"x"]


def test_rewrite_context_lookup_failure_defers(srv):
    """A table of local_header_rewrite_clients that fails: MAIL gets a
    451 (the mail may be local and need its headers), never a guess."""
    since = srv.log_size()
    with Client(srv.ports["rewritefail"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.expect(f"MAIL FROM:<{SENDER}>",
                 f"451 4.3.0 <{SENDER}>: Temporary lookup failure")
        c.expect(f"RCPT TO:<{RCPT}>", "503 5.5.1 Error: need MAIL command")
    assert srv.wait_log(r"petrel/smtpd\[\d+\]: warning: "
                        r"local_header_rewrite_clients: 127\.0\.0\.1: ",
                        since=since)


def test_8bit_content_and_body_type(srv):
    text = "Grüße, 東京".encode()
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.expect(f"MAIL FROM:<{SENDER}> BODY=8BITMIME", "250 2.1.0 Ok")
        c.expect(f"RCPT TO:<{RCPT}>", "250 2.1.5 Ok")
        qid = queued_id(send_data(c, b"Subject: 8\r\n\r\n" + text
                                  + b"\r\n\xff\xfe\r\n.\r\n"))
    q = QFile(srv, qid)
    assert q.body() == [text, b"\xff\xfe"]
    assert q.attrs()["body_type"] == "8BITMIME"


def test_nul_in_content_is_kept(srv):
    """Content is the client's business (8BITMIME content is not
    inspected): a NUL byte is stored as it came, and the session goes
    on."""
    with Client(srv.ports["main"]) as c:
        transaction(c)
        qid = queued_id(send_data(c, b"Subject: nul\r\n\r\na\x00b\r\n.\r\n"))
        c.expect("NOOP", "250 2.0.0 Ok")
    assert QFile(srv, qid).body() == [b"a\x00b"]


# ---- size, recipient and time limits ----------------------------------------

def test_size_declared_over_limit(srv):
    with Client(srv.ports["small"]) as c:
        r = c.cmd("EHLO client.example.com")
        assert "SIZE 2000" in r.lines
        c.expect(f"MAIL FROM:<{SENDER}> SIZE=2001",
                 "552 5.3.4 Message size exceeds fixed limit")
        c.expect(f"MAIL FROM:<{SENDER}> SIZE=99999999999999999999",
                 "552 5.3.4 Message size exceeds fixed limit")
        c.expect(f"MAIL FROM:<{SENDER}> SIZE=2000", "250 2.1.0 Ok")


@pytest.mark.parametrize("how", ["DATA", "BDAT", "BDAT chunks"])
def test_data_over_size_limit(srv, how):
    before = incoming(srv)
    since = srv.log_size()
    big = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 40   # > 2000
    with Client(srv.ports["small"]) as c:
        transaction(c)
        if how == "DATA":
            r = send_data(c, big + b".\r\n")
        elif how == "BDAT":
            c.send(b"BDAT %d LAST\r\n" % len(big) + big)
            r = c.reply()
        else:
            half = len(big) // 2
            c.send(b"BDAT %d\r\n" % half + big[:half])
            assert str(c.reply()) == f"250 2.0.0 Ok: {half} bytes"
            c.send(b"BDAT %d\r\n" % (len(big) - half) + big[half:])
            assert str(c.reply()) == "552 5.3.4 Error: message file too big"
            # Further chunks are read and refused until LAST.
            c.send(b"BDAT 3\r\nabc")
            assert str(c.reply()) == "552 5.3.4 Error: message file too big"
            c.send(b"BDAT 3 LAST\r\nabc")
            r = c.reply()
        assert str(r) == "552 5.3.4 Error: message file too big"
        c.expect("NOOP", "250 2.0.0 Ok")
        # The session goes on, and a small message still fits.
        transaction(c, ehlo=None)
        qid = queued_id(send_data(c, b"Subject: small\r\n\r\nok\r\n.\r\n"))
    assert_new(srv, before, [qid])
    assert srv.grep(r"reject: END-OF-MESSAGE from " + re.escape(CLIENT)
                    + r": 552 5\.3\.4 Error: message file too big; "
                    r"from=<ann@example\.com> proto=ESMTP "
                    r"helo=<client\.example\.com>", since) \
        or how == "BDAT chunks"


def test_recipient_limit(srv):
    before = incoming(srv)
    with Client(srv.ports["small"]) as c:
        transaction(c, rcpts=["r1@localhost", "r2@localhost",
                              "r3@localhost"])
        c.expect("RCPT TO:<r4@localhost>",
                 "452 4.5.3 Error: too many recipients")
        c.expect("RCPT TO:<r5@localhost>",
                 "452 4.5.3 Error: too many recipients")
        qid = queued_id(send_data(c, b"Subject: l\r\n\r\nx\r\n.\r\n"))
    assert_new(srv, before, [qid])
    assert QFile(srv, qid).values(qw.RCPT) == [b"r1@localhost",
                                               b"r2@localhost",
                                               b"r3@localhost"]


TIMEOUT_CASES = {
    "command": (b"", "CONNECT"),
    "after mail": (b"MAIL FROM:<ann@example.com>\r\n", "MAIL"),
    "partial command": (b"MAIL FROM:<ann@exa", "CONNECT"),
    "inside data": (b"MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@localhost>\r\n"
                    b"DATA\r\nSubject: t\r\n\r\nsome", "DATA"),
    "inside bdat": (b"MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@localhost>\r\n"
                    b"BDAT 100 LAST\r\nsome", "BDAT"),
}


@pytest.mark.parametrize("name", TIMEOUT_CASES)
def test_timeout(srv, name):
    send, where = TIMEOUT_CASES[name]
    before = incoming(srv)
    since = srv.log_size()
    # Before connecting: smtpd's 2 s wait for the client begins after
    # this, whatever stalls the test or smtpd's start.
    start = time.monotonic()
    with Client(srv.ports["timeout"]) as c:
        c.send(send)
        replies = []
        while True:
            r = c.reply(timeout=10)
            assert r is not None, f"closed without 421 after {replies}"
            replies.append(str(r))
            if r.code == 421:
                break
        elapsed = time.monotonic() - start
        assert replies[-1] == f"421 4.4.2 {HOST} Error: timeout exceeded"
        # smtpd_timeout (2 s) ends it, not the default 300 s; the upper
        # bound also holds a slow smtpd start.
        assert 1.9 <= elapsed < 2 + harness.slow(4), elapsed
        assert c.closed()
    assert srv.wait_log(r"timeout after " + where + r"( \(\d+ bytes\))? from "
                        + re.escape(CLIENT) + "$", since=since)
    assert_nothing_queued(srv, before)
    assert_alive(srv, srv.ports["timeout"])


# ---- BDAT (RFC 3030) --------------------------------------------------------

def test_bdat_chunks(srv):
    parts = [b"Subject: chunks\r\n\r\nfirst li", b"ne\r\nsecond\r",
             b"\nthird\r\n..not stuffed\r\n.\r\n", b"last, no line end"]
    with Client(srv.ports["main"]) as c:
        transaction(c)
        for p in parts[:-1]:
            c.send(b"BDAT %d\r\n" % len(p) + p)
            assert str(c.reply()) == f"250 2.0.0 Ok: {len(p)} bytes"
        c.send(b"BDAT %d LAST\r\n" % len(parts[-1]) + parts[-1])
        qid = queued_id(c.reply())
        c.expect("QUIT", "221 2.0.0 Bye")
    assert QFile(srv, qid).body() == [b"first line", b"second", b"third",
                                      b"..not stuffed", b".",
                                      b"last, no line end"]


def test_bdat_0_last(srv):
    with Client(srv.ports["main"]) as c:
        transaction(c)
        c.send(b"BDAT 12\r\nSubject: z\r\n")
        assert str(c.reply()) == "250 2.0.0 Ok: 12 bytes"
        qid = queued_id(c.cmd("BDAT 0 LAST"))
        # An empty message: BDAT 0 LAST alone.
        transaction(c, ehlo=None)
        qid2 = queued_id(c.cmd("BDAT 0 LAST"))
    assert b"Subject: z" in QFile(srv, qid).lines()
    assert received(QFile(srv, qid2))


def test_bdat_pipelined(srv):
    before = incoming(srv)
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.send(b"MAIL FROM:<ann@example.com>\r\nRCPT TO:<bob@localhost>\r\n"
               b"BDAT 9\r\nSubject: BDAT 8\r\npipe\r\n\r\nBDAT 5 LAST\r\n"
               b"body\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<x@localhost>\r\n"
               b"BDAT 5 LAST\r\nz\r\n\r\nQUIT\r\n")
        got = [str(c.reply()) for _ in range(9)]
        assert got[:2] == ["250 2.1.0 Ok", "250 2.1.5 Ok"]
        assert got[2:4] == ["250 2.0.0 Ok: 9 bytes", "250 2.0.0 Ok: 8 bytes"]
        qid = queued_id(got[4])
        assert got[5:8] == ["250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.1.5 Ok"]
        qid2 = queued_id(got[8])
        assert str(c.reply()) == "221 2.0.0 Bye"
    assert_new(srv, before, [qid, qid2])
    assert b"Subject: pipe" in QFile(srv, qid).lines()
    assert QFile(srv, qid).body() == [b"body"]
    assert not srv.grep("improper command pipelining", since)


def test_bdat_without_transaction(srv):
    """The chunk of a BDAT that cannot be accepted is still read, so the
    session stays in step: its bytes are never taken as commands."""
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.send(b"BDAT 10\r\nQUIT\r\nQUIT")
        assert str(c.reply()) == NEED_MAIL
        c.send(b"BDAT 6 LAST\r\nRSET\r\n")
        assert str(c.reply()) == NEED_MAIL
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
        c.send(b"BDAT 6 LAST\r\nNOOP\r\n")
        assert str(c.reply()) == NEED_RCPT
        c.expect(f"RCPT TO:<{RCPT}>", "250 2.1.5 Ok")
        qid = queued_id(c.cmd("BDAT 0 LAST"))
        c.expect("QUIT", "221 2.0.0 Bye")
    assert qid


def test_bdat_chunk_lost_to_bad_syntax(srv):
    """A BDAT whose size cannot be read loses its chunk: the message in
    progress is dropped, never queued without that chunk."""
    before = incoming(srv)
    with Client(srv.ports["main"]) as c:
        transaction(c)
        c.send(b"BDAT 12\r\nSubject: 1\r\n")
        assert str(c.reply()) == "250 2.0.0 Ok: 12 bytes"
        c.expect("BDAT x", "501 5.5.4 Syntax: BDAT count [LAST]")
        c.send(b"BDAT 7 LAST\r\nPART3\r\n")
        assert str(c.reply()) == NEED_MAIL
    assert_nothing_queued(srv, before)


def test_bdat_failed_chunk_fails_the_transaction(srv):
    """After a chunk is refused (here: over message_size_limit), every
    later chunk gets the same reply until LAST, and nothing is queued."""
    before = incoming(srv)
    big = b"x" * 2500
    with Client(srv.ports["small"]) as c:
        transaction(c)
        c.send(b"BDAT %d\r\n" % len(big) + big)
        assert str(c.reply()) == "552 5.3.4 Error: message file too big"
        c.send(b"BDAT 5\r\nhello")
        assert str(c.reply()) == "552 5.3.4 Error: message file too big"
        c.expect("DATA", "503 5.5.1 Error: DATA after BDAT")
        c.send(b"BDAT 2 LAST\r\nok")
        assert str(c.reply()) == "552 5.3.4 Error: message file too big"
        c.expect("NOOP", "250 2.0.0 Ok")
    assert_nothing_queued(srv, before)


@pytest.mark.parametrize("length", [2047, 2048, 4096])
def test_bdat_last_line_without_ending(srv, length):
    """A message whose last line has no line end and fills whole pieces
    of line_length_limit is queued whole."""
    content = b"Subject: b\r\n\r\n" + b"A" * length
    with Client(srv.ports["main"]) as c:
        transaction(c)
        c.send(b"BDAT %d LAST\r\n" % len(content) + content)
        qid = queued_id(c.reply())
    assert QFile(srv, qid).body() == [b"A" * length]


def test_data_after_bdat_and_rset(srv):
    before = incoming(srv)
    with Client(srv.ports["main"]) as c:
        transaction(c)
        c.send(b"BDAT 3\r\nabc")
        assert c.reply().code == 250
        c.expect("DATA", "503 5.5.1 Error: DATA after BDAT")
        c.expect(f"RCPT TO:<{RCPT}>", "503 5.5.1 Error: BDAT in progress")
        c.expect("RSET", "250 2.0.0 Ok")
        # RSET dropped the message: nothing of it is queued.
        c.send(b"BDAT 3 LAST\r\nabc")
        assert str(c.reply()) == NEED_MAIL
    assert_nothing_queued(srv, before)
    assert_alive(srv)


def test_bdat_bare_newlines(srv):
    """BDAT content is not dot-stuffed and has no end marker: a bare LF
    ends a line (normalize), a bare CR becomes a space."""
    content = b"Subject: b\r\n\r\nlf\ncr\rmid\r\n.\n.\r\nend\r\n"
    with Client(srv.ports["main"]) as c:
        transaction(c)
        c.send(b"BDAT %d LAST\r\n" % len(content) + content)
        qid = queued_id(c.reply())
    assert QFile(srv, qid).body() == [b"lf", b"cr mid", b".", b".", b"end"]


# ---- DSN and SMTPUTF8 -------------------------------------------------------

def test_dsn_parameters_in_queue_file(srv):
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.expect(f"MAIL FROM:<{SENDER}> RET=HDRS ENVID=QQ+2B314",
                 "250 2.1.0 Ok")
        c.expect("RCPT TO:<bob@localhost> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;Bob+2BX@example.com", "250 2.1.5 Ok")
        c.expect("RCPT TO:<carol@localhost> NOTIFY=NEVER", "250 2.1.5 Ok")
        c.expect("RCPT TO:<dave@localhost>", "250 2.1.5 Ok")
        qid = queued_id(send_data(c, b"Subject: dsn\r\n\r\nx\r\n.\r\n"))
    q = QFile(srv, qid)
    attrs = q.attrs()
    assert attrs["envelope_id"] == "QQ+314"
    assert attrs["dsn_ret"] == "hdrs"
    env = cat(srv, "-e", "-q", qid)
    assert "named_attribute: envelope_id=QQ+314\n" in env
    assert "named_attribute: dsn_ret=hdrs\n" in env
    # NOTIFY records hold DSN_NOTIFY_* bits: NEVER 1, SUCCESS 2,
    # DELAY 4, FAILURE 8.
    assert ("original_recipient: rfc822;Bob+X@example.com\n"
            "dsn_notify_flags: 10\n"
            "recipient: bob@localhost\n") in env
    assert ("dsn_notify_flags: 1\n"
            "recipient: carol@localhost\n") in env
    assert re.search(r"\nrecipient: carol@localhost\nrecipient: "
                     r"dave@localhost\n", env)


def test_smtputf8(srv):
    sender = "jörg@bücher.example"
    rcpt = "zoë@localhost"
    with Client(srv.ports["main"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.expect(f"MAIL FROM:<{sender}>",
                 "553 5.6.7 Must declare SMTPUTF8 to send unicode address")
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
        c.expect(f"RCPT TO:<{rcpt}>",
                 "553 5.6.7 Must declare SMTPUTF8 to send unicode address")
        c.expect("RSET", "250 2.0.0 Ok")
        c.expect(f"MAIL FROM:<{sender}> SMTPUTF8", "250 2.1.0 Ok")
        c.expect(f"RCPT TO:<{rcpt}>", "250 2.1.5 Ok")
        qid = queued_id(send_data(c, "Subject: ünï\r\n\r\nçödé\r\n.\r\n"
                                  .encode()))
    q = QFile(srv, qid)
    assert q.values(qw.FROM) == [sender.encode()]
    assert q.values(qw.RCPT) == [rcpt.encode()]
    assert q.body() == ["çödé".encode()]
    # RFC 6531 section 3.7.3: the "with" protocol of SMTPUTF8 mail.
    assert re.match(r"\tby mail\.example\.com \(Petrel\) with UTF8SMTP id ",
                    received(q).split("\n")[1])
    with smtplib.SMTP("127.0.0.1", srv.ports["main"], timeout=harness.slow(10)) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        assert s.sendmail(sender, [rcpt], "Subject: x\r\n\r\ny\r\n".encode(),
                          mail_options=["SMTPUTF8"]) == {}


# ---- SMTP smuggling ---------------------------------------------------------

# A second message hidden behind an end-of-data sequence that some
# server might honour: with the default (normalize) it must stay inside
# the first message.
SMUGGLED = (b"MAIL FROM:<evil@example.com>\r\n"
            b"RCPT TO:<victim@localhost>\r\n"
            b"DATA\r\n"
            b"From: evil@example.com\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"evil body\r\n")

VECTORS = {
    "lf.lf": b"\n.\n",
    "cr.cr": b"\r.\r",
    "lf.crlf": b"\n.\r\n",
    "crlf.lf": b"\r\n.\n",
    "cr.crlf": b"\r.\r\n",
    "crlf.cr": b"\r\n.\r",
    "bare lf lines": b"\nbare\n.\n",
    "bare cr lines": b"\rbare\r.\r\n",
}


def smuggle(port, vector):
    """Send a message with the vector and SMUGGLED inside, then the real
    end and QUIT in one write. Returns the replies to the content and to
    QUIT."""
    with Client(port) as c:
        transaction(c)
        c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
        c.send(b"Subject: innocent\r\n\r\nhello" + vector + SMUGGLED
               + b".\r\nQUIT\r\n")
        replies = []
        while True:
            r = c.reply()
            if r is None:
                break
            replies.append(str(r))
            if r.code == 221:
                break
        return replies


@pytest.mark.parametrize("vector", VECTORS)
def test_smuggling_normalize(srv, vector):
    before = incoming(srv)
    replies = smuggle(srv.ports["main"], VECTORS[vector])
    assert len(replies) == 2, replies
    qid = queued_id(replies[0])
    assert replies[1] == "221 2.0.0 Bye"
    assert_new(srv, before, [qid])
    q = QFile(srv, qid)
    assert q.values(qw.RCPT) == [RCPT.encode()]
    assert q.values(qw.FROM) == [SENDER.encode()]
    text = b"\n".join(q.body())
    assert b"MAIL FROM:<evil@example.com>" in text
    assert b"evil body" in text
    # Bare CRs became spaces; no line holds a CR or an LF.
    assert_clean_lines(q)
    assert_alive(srv)


@pytest.mark.parametrize("vector", VECTORS)
def test_smuggling_reject(srv, vector):
    before = incoming(srv)
    since = srv.log_size()
    replies = smuggle(srv.ports["reject"], VECTORS[vector])
    if b"\n" in VECTORS[vector].replace(b"\r\n", b""):
        assert replies == ["550 5.5.2 Error: bare <LF> received",
                           "221 2.0.0 Bye"]
        assert_nothing_queued(srv, before)
        assert srv.wait_log(r": bare <LF> received in message content from "
                            + re.escape(CLIENT), since=since)
    else:
        # Only bare CRs: content, one message.
        qid = queued_id(replies[0])
        assert_new(srv, before, [qid])
        assert_clean_lines(QFile(srv, qid))
    assert_alive(srv, srv.ports["reject"])


def test_bare_lf_command_reject(srv):
    with Client(srv.ports["reject"]) as c:
        c.send(b"NOOP\n")
        assert str(c.reply()) == "550 5.5.2 Error: bare <LF> received"
        c.expect("NOOP", "250 2.0.0 Ok")
    with Client(srv.ports["main"]) as c:
        # normalize: a bare LF ends a command line.
        c.send(b"NOOP\nNOOP\r\n")
        assert str(c.reply()) == "250 2.0.0 Ok"


@pytest.mark.parametrize("port", ["legacy", "exempt"])
def test_smuggling_legacy(srv, port):
    """smtpd_forbid_bare_newline = no, or a client in
    smtpd_forbid_bare_newline_exclusions: <LF>.<LF> ends the data (the
    documented old behaviour), so the second message is a real one."""
    before = incoming(srv)
    replies = smuggle(srv.ports[port], b"\n.\n")
    assert len(replies) == 6, replies
    assert replies[1:4] == ["250 2.1.0 Ok", "250 2.1.5 Ok",
                            "354 End data with <CR><LF>.<CR><LF>"]
    assert replies[5] == "221 2.0.0 Bye"
    first, second = queued_id(replies[0]), queued_id(replies[4])
    assert_new(srv, before, [first, second])
    assert QFile(srv, first).body() == [b"hello"]
    assert QFile(srv, second).values(qw.FROM) == [b"evil@example.com"]
    assert QFile(srv, second).values(qw.RCPT) == [b"victim@localhost"]


# ---- error limits -----------------------------------------------------------

# The "errors" listener sleeps 3 s before each reply once in the
# tarpit. A reply that waited took at least that long (smtpd sleeps
# after the command arrived, so after the test started its clock); one
# that did not is a single round trip to a running smtpd, well under
# 2 s even when the machine is loaded or the build sanitized. Neither
# bound depends on the machine: 2 s is still below the 3 s sleep.
NO_DELAY = 2.0
DELAYED = 2.9


def timed(c, line, want):
    start = time.monotonic()
    c.expect(line, want)
    return time.monotonic() - start


def test_soft_error_limit_tarpit(srv):
    """smtpd_soft_error_limit = 2, smtpd_error_sleep_time = 3s: once the
    client has made 2 errors, every reply waits, not only error replies
    (postconf(5)); a delivered message starts the count again."""
    with Client(srv.ports["errors"]) as c:
        bad = "500 5.5.2 Error: command not recognized"
        times = [timed(c, "XYZZY", bad), timed(c, "XYZZY", bad)]
        assert times[0] < NO_DELAY and times[1] < NO_DELAY, times
        assert timed(c, "XYZZY", bad) >= DELAYED
        start = time.monotonic()
        assert c.cmd("EHLO client.example.com").code == 250
        assert time.monotonic() - start >= DELAYED
        assert timed(c, f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok") >= DELAYED
        assert timed(c, f"RCPT TO:<{RCPT}>", "250 2.1.5 Ok") >= DELAYED
        start = time.monotonic()
        queued_id(send_data(c, b"Subject: t\r\n\r\nx\r\n.\r\n"))
        assert time.monotonic() - start >= DELAYED
        # Mail delivered: no more waiting.
        assert timed(c, "NOOP", "250 2.0.0 Ok") < NO_DELAY


def test_hard_error_limit(srv):
    since = srv.log_size()
    # The limits of "errors" without its tarpit: only the count matters.
    with Client(srv.ports["hardlimit"]) as c:
        # A whole group at once.
        c.send("XYZZY\r\n" * 4)
        for _ in range(4):
            assert str(c.reply()) == "500 5.5.2 Error: command not recognized"
        c.send("XYZZY\r\nNOOP\r\n")
        assert str(c.reply()) == "500 5.5.2 Error: command not recognized"
        assert str(c.reply()) == f"421 4.7.0 {HOST} Error: too many errors"
        assert c.closed()
    assert srv.wait_log(r"too many errors after UNKNOWN from "
                        + re.escape(CLIENT), since=since)
    assert srv.wait_log(r"disconnect from " + re.escape(CLIENT)
                        + r" unknown=0/5 commands=0/5$", since=since)
    assert_alive(srv, srv.ports["hardlimit"])


def test_queued_message_resets_error_count(srv):
    with Client(srv.ports["errors"]) as c:
        c.send("XYZZY\r\n" * 4)
        for _ in range(4):
            assert c.reply().code == 500
        transaction(c)
        queued_id(send_data(c, b"Subject: e\r\n\r\nx\r\n.\r\n"))
        # Had the count not started again, each reply would wait 3 s,
        # and the second would be 421 (hard limit 5 reached).
        start = time.monotonic()
        c.send("XYZZY\r\n" * 2)
        assert c.reply().code == 500
        assert c.reply().code == 500
        assert time.monotonic() - start < NO_DELAY
        c.expect("QUIT", "221 2.0.0 Bye")


def test_junk_command_limit(srv):
    """smtpd_junk_command_limit = 3 (hard error limit 3 here): beyond 3
    junk commands (NOOP, VRFY, ETRN, RSET), each one counts as an error
    (postconf(5)), so the hard limit ends the session."""
    since = srv.log_size()
    with Client(srv.ports["junk"]) as c:
        for cmd in ("NOOP", "RSET", f"VRFY {RCPT}"):
            assert c.cmd(cmd).code in (250, 252)
        c.expect("NOOP", "250 2.0.0 Ok")          # 4th: error 1
        c.expect("NOOP", "250 2.0.0 Ok")          # 5th: error 2
        c.send("NOOP\r\n")                        # 6th: error 3
        replies = [str(r) for r in iter(c.reply, None)]
        assert replies[-1] == f"421 4.7.0 {HOST} Error: too many errors"
        assert c.closed()
    assert srv.wait_log(r"too many errors after NOOP from "
                        + re.escape(CLIENT), since=since)
    assert_alive(srv, srv.ports["junk"])


# ---- anvil limits -----------------------------------------------------------

def test_connection_count_limit(srv):
    since = srv.log_size()
    port = srv.ports["conncount"]
    with Client(port) as first:
        assert first.greeting.code == 220
        with Client(port) as second:
            assert str(second.greeting) == (f"421 4.7.0 {HOST} Error: too "
                                            "many connections from 127.0.0.1")
            assert second.closed()
        first.expect("QUIT", "221 2.0.0 Bye")
    assert srv.wait_log(limit_warning(srv, "Connection concurrency", 2,
                                      "conncount"), since=since)
    # The first one left: there is room again (anvil hears of it
    # when that smtpd is done with its session).
    assert wait_for(lambda: greeting_code(port) == 220, 5)


def test_connection_rate_limit(srv):
    since = srv.log_size()
    port = srv.ports["connrate"]
    for _ in range(2):
        with Client(port) as c:
            assert c.greeting.code == 220
            c.expect("QUIT", "221 2.0.0 Bye")
    with Client(port) as c:
        assert str(c.greeting) == (f"421 4.7.0 {HOST} Error: too many "
                                   "connections from 127.0.0.1")
        assert c.closed()
    assert srv.wait_log(limit_warning(srv, "Connection rate", 3, "connrate"),
                        since=since)


def test_message_rate_limit(srv):
    since = srv.log_size()
    with Client(srv.ports["msgrate"]) as c:
        assert c.cmd("EHLO client.example.com").code == 250
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
        c.expect("RSET", "250 2.0.0 Ok")
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
        c.expect("RSET", "250 2.0.0 Ok")
        c.expect(f"MAIL FROM:<{SENDER}>",
                 "452 4.7.0 Error: too many messages from 127.0.0.1")
        c.expect(f"RCPT TO:<{RCPT}>", NEED_MAIL)
    assert srv.wait_log(limit_warning(srv, "Message delivery request rate", 3,
                                      "msgrate"), since=since)


def test_recipient_rate_limit(srv):
    since = srv.log_size()
    before = incoming(srv)
    with Client(srv.ports["rcptrate"]) as c:
        transaction(c, rcpts=["r1@localhost", "r2@localhost",
                              "r3@localhost"])
        c.expect("RCPT TO:<r4@localhost>",
                 "452 4.7.0 Error: too many recipients from 127.0.0.1")
        qid = queued_id(send_data(c, b"Subject: r\r\n\r\nx\r\n.\r\n"))
    assert_new(srv, before, [qid])
    assert len(QFile(srv, qid).values(qw.RCPT)) == 3
    assert srv.wait_log(limit_warning(srv, "Recipient address rate", 4,
                                      "rcptrate"), since=since)


def test_limit_exceptions(srv):
    """127.0.0.1 in smtpd_client_event_limit_exceptions: not counted."""
    since = srv.log_size()
    port = srv.ports["exceptions"]
    with Client(port) as first, Client(port) as second:
        assert first.greeting.code == 220 and second.greeting.code == 220
        for c in (first, second):
            for _ in range(2):
                c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0 Ok")
                c.expect("RSET", "250 2.0.0 Ok")
    assert not srv.grep(r"limit exceeded: .* for service 127\.0\.0\.1:"
                        + str(port) + "$", since)


# ---- log lines --------------------------------------------------------------

def test_log_lines_of_a_clean_session(srv):
    since = srv.log_size()
    with smtplib.SMTP("127.0.0.1", srv.ports["main"], timeout=harness.slow(10)) as s:
        s.sendmail(SENDER, [RCPT], b"Subject: log\r\n\r\nx\r\n")
    want = (f"disconnect from {CLIENT} ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
            "commands=5")
    assert srv.wait_log(re.escape(want) + "$", since=since)
    (lines,) = [s for s in session_logs(srv, since) if s[-1] == want]
    assert lines[0] == f"connect from {CLIENT}"
    assert re.fullmatch(mailsystem.ID + ": client=" + re.escape(CLIENT),
                        lines[1])


def test_log_lines_after_failures(srv):
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        c.cmd("EHLO client.example.com")
        c.expect(f"RCPT TO:<{RCPT}>", NEED_MAIL)
        transaction(c, rcpts=[RCPT], ehlo=None)
        c.expect("RCPT TO:<bad@>", "501 5.1.3 Bad recipient address syntax")
        queued_id(send_data(c, b"Subject: x\r\n\r\nx\r\n.\r\n"))
        c.expect("BOGUS", "500 5.5.2 Error: command not recognized")
        c.expect("QUIT", "221 2.0.0 Bye")
    assert srv.wait_log(r"disconnect from " + re.escape(CLIENT) + " ehlo=1 "
                        r"mail=1 rcpt=1/3 data=1 quit=1 unknown=0/1 "
                        r"commands=5/8$", since=since)


LOST = {
    "after connect": ([], "CONNECT"),
    "after ehlo": (["EHLO x.example"], "EHLO"),
    "after rcpt": (["EHLO x.example", f"MAIL FROM:<{SENDER}>",
                    f"RCPT TO:<{RCPT}>"], "RCPT"),
}


@pytest.mark.parametrize("name", LOST)
def test_lost_connection(srv, name):
    cmds, where = LOST[name]
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        for cmd in cmds:
            assert c.cmd(cmd).code == 250
    assert srv.wait_log(r"lost connection after " + where + " from "
                        + re.escape(CLIENT) + "$", since=since)


def test_lost_connection_in_data(srv):
    before = incoming(srv)
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        transaction(c)
        c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
        c.send(b"Subject: cut\r\n\r\nhalf a mess")
        time.sleep(0.2)
    assert srv.wait_log(r"lost connection after DATA \(\d+ bytes\) from "
                        + re.escape(CLIENT) + "$", since=since)
    assert_nothing_queued(srv, before)
    assert_alive(srv)


def test_no_smtpd_died(srv):
    """After everything above: no smtpd crashed, none exited with an
    error, nothing was logged as a panic or a fatal error."""
    bad = srv.grep(r"(process \S*smtpd pid \d+ (killed by signal|exit "
                   r"status)|smtpd\[\d+\]: (panic|fatal):).*$")
    assert not bad, [m.group(0) for m in bad]
    assert_alive(srv)


# ---- end to end: into a mailbox ---------------------------------------------

@pytest.fixture(scope="module")
def e2e():
    """An instance with qmgr, local and virtual: every local address is
    delivered into <base>/<user>/Maildir/ (as `make run` does)."""
    inst = mailsystem.harness_instance(smtpd_forbid_bare_newline_exclusions="")
    base = os.path.join(inst.dir, "mail")
    os.mkdir(base)
    table = os.path.join(inst.etc, "virtual_mailboxes")
    with open(table, "w") as f:
        f.write("/^([^@+]+)@/ ${1}/Maildir/\n")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("petrel")
        uid, gid = pw.pw_uid, pw.pw_gid
        os.chown(base, uid, gid)
    else:
        uid, gid = os.getuid(), os.getgid()
    inst.set_main(mailbox_transport="virtual", fallback_transport="virtual",
                  virtual_mailbox_base=base,
                  virtual_mailbox_maps=f"regexp:{table}",
                  virtual_uid_maps=f"static:{uid}",
                  virtual_gid_maps=f"static:{gid}",
                  virtual_minimum_uid="1")
    inst.base = base
    inst.port = mailsystem.add_smtpd(inst)
    inst.start()
    try:
        yield inst
    finally:
        mailsystem.finish(inst)


def maildir(inst, user):
    path = os.path.join(inst.base, user, "Maildir")
    if not os.path.isdir(os.path.join(path, "new")):
        return []
    return [m.as_bytes() for m in mailbox.Maildir(path, create=False)]


def test_end_to_end_delivery(e2e):
    """Dot transparency and a smuggling attempt, as the mailbox sees
    them: one message, the dots of the client's text, the smuggled
    commands as plain text with their bare CR/LF gone."""
    with Client(e2e.port) as c:
        transaction(c, rcpts=["alice@localhost"])
        c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
        c.send(b"Subject: e2e\r\n\r\n..one dot\r\n...two dots\r\nhello\r.\r"
               + SMUGGLED + b"tail\n.\nMAIL FROM:<x@example.com>\r\n.\r\n")
        qid = queued_id(c.reply())
        c.expect("ETRN example.com", "250 2.0.0 Queuing started")
        c.expect("QUIT", "221 2.0.0 Bye")
    mailsystem.wait_status(e2e, qid, "alice@localhost", "sent")
    assert wait_for(lambda: maildir(e2e, "alice"), 10)
    (msg,) = maildir(e2e, "alice")
    assert not maildir(e2e, "victim")
    head, _, body = msg.partition(b"\n\n")
    assert re.search(rb"^Received: from client\.example\.com \(localhost "
                     rb"\[127\.0\.0\.1\]\)\n\tby mail\.example\.com "
                     rb"\(Petrel\) with ESMTP id " + qid.encode()
                     + rb"\n\tfor <alice@localhost>; ", head, re.M)
    assert body.split(b"\n") == [
        b".one dot", b"..two dots",
        b"hello . MAIL FROM:<evil@example.com>",
        b"RCPT TO:<victim@localhost>", b"DATA", b"From: evil@example.com",
        b"Subject: smuggled", b"", b"evil body", b"tail", b".",
        b"MAIL FROM:<x@example.com>", b""]
    assert b"\r" not in msg


# ---- the wildcard listener --------------------------------------------------

def listening_sockets(port):
    """The (file, address) pairs of /proc/net/tcp and tcp6 sockets in
    LISTEN state on port."""
    found = []
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/net/{name}") as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            addr, _, hexport = fields[1].rpartition(":")
            if int(hexport, 16) == port and fields[3] == "0A":
                found.append((name, addr))
    return found


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_wildcard_listener_is_one_dual_stack_socket():
    """inet_interfaces = all with both protocols: master opens ONE
    socket (::, taking IPv4 too), so idle smtpds wait on a single
    descriptor and EPOLLEXCLUSIVE wakes one per connection. IPv4
    clients arrive as ::ffff:a.b.c.d and smtpd must log, match
    mynetworks and write Received: with the plain IPv4 address."""
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 on this host: the wildcard is 0.0.0.0 alone")
    params = dict(MAIN, inet_interfaces="all", inet_protocols="all",
                  mynetworks="127.0.0.0/8 [::1]/128")
    inst = harness.Instance(**params)
    try:
        inst.add_service("cleanup", "unix", "cleanup", private="n",
                         maxproc=0)
        inst.add_service("rewrite", "unix", "trivial-rewrite", private="-")
        inst.add_service("anvil", "unix", "anvil", private="-", maxproc=1)
        port = harness.free_port()
        inst.add_service(str(port), "inet", "smtpd")
        inst.start()
        assert listening_sockets(port) == [
            ("tcp6", "00000000000000000000000000000000")]
        since = inst.log_size()
        # From IPv4 a relay is allowed (127.0.0.0/8 is in mynetworks).
        with smtplib.SMTP("127.0.0.1", port, timeout=harness.slow(10)) as s:
            s.ehlo("client.example.com")
            s.mail("ann@example.com")
            assert s.rcpt("far@remote.example")[0] == 250
            s.rset()
        assert inst.wait_log(r"petrel/smtpd\[\d+\]: connect from "
                             r"localhost\[127\.0\.0\.1\]$", since=since)
        with smtplib.SMTP("::1", port, timeout=harness.slow(10)) as s:
            assert s.ehlo("client.example.com")[0] == 250
        assert inst.wait_log(r"petrel/smtpd\[\d+\]: connect from "
                             r"localhost\[::1\]$", since=since)
        assert "ffff" not in inst.log()[since:]
    finally:
        problems = inst.cleanup()
    assert not problems, problems


def test_no_database_client_library_in_smtpd(srv):
    """smtpd opens no mysql/pgsql/sqlite table here, so it must not map
    their client libraries (nor the TLS and Kerberos libraries they
    pull in): dict_dl.c loads them at the first open of such a table.
    Linked, they cost about 1.2 MB of private memory per session."""
    since = srv.log_size()
    with Client(srv.ports["main"]) as c:
        m = srv.wait_log(r"petrel/smtpd\[(\d+)\]: connect from ", since=since)
        assert m
        pid = int(m[-1].group(1))
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
        c.expect("NOOP", "250 2.0.0 Ok")
    assert "libc.so" in maps
    for lib in ("libmariadb", "libpq", "libsqlite3", "libssl", "libgnutls",
                "libkrb5"):
        assert lib not in maps, f"smtpd maps {lib}"
