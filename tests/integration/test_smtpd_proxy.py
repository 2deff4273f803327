"""
test_smtpd_proxy.py - smtpd behind proxies: PROXY protocol, XCLIENT, XFORWARD

Raw sockets against a real instance (smtpd with cleanup and the other
services; no qmgr, so that accepted mail stays in the queue to be read):

  PROXY protocol (smtpd_upstream_proxy_protocol = haproxy): v1 and v2
  headers with IPv4 and IPv6 clients make the session that client: the
  "connect from unknown[203.0.113.9]" line, check_client_access (a
  texthash table that rejects 203.0.113.9), the queue file's
  client_address; the bytes after the header are SMTP (sent in the same
  segment, they are what smtpd sees next); v1 UNKNOWN and v2 LOCAL keep
  the real peer; a malformed header, SMTP without a header, and silence
  (smtpd_upstream_proxy_timeout) end the session before the greeting,
  with "warning: haproxy read: ... from [127.0.0.1]".

  XCLIENT for smtpd_authorized_xclient_hosts: the session becomes the
  named client (log lines, restrictions, queue file), starts over with a
  220 greeting, survives repeated use; syntax errors change nothing; not
  inside a transaction; an unauthorized client gets 550 5.7.0 and no
  EHLO keyword.

  XFORWARD for smtpd_authorized_xforward_hosts: the attributes land in
  the queue file and the Received: header, for one transaction only.

smtpd_peername_lookup = no keeps DNS out: every proxied name is "unknown".
"""

import os
import re
import socket
import time

import pytest

import harness
import mailproto
import mailsystem
from smtpclient import RawSmtp as Smtp, send_message, wait_line

# smtpd_upstream_proxy_timeout, seconds: one deadline for the whole
# header, long enough that a header sent in pieces fits in it on a
# loaded machine.
PROXY_TIMEOUT = 3

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(cmd, fam, body):
    """A PROXY v2 header: command (0 LOCAL, 1 PROXY), family/transport
    byte, address block."""
    return V2_SIG + bytes([0x20 | cmd, fam]) + len(body).to_bytes(2, "big") \
        + body


def v2_tcp4(src, dst, sport, dport, tlvs=b""):
    return v2_header(1, 0x11, socket.inet_pton(socket.AF_INET, src)
                     + socket.inet_pton(socket.AF_INET, dst)
                     + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
                     + tlvs)


def v2_tcp6(src, dst, sport, dport):
    return v2_header(1, 0x21, socket.inet_pton(socket.AF_INET6, src)
                     + socket.inet_pton(socket.AF_INET6, dst)
                     + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))


def queue_file(inst, qid):
    """The queue file of qid (it stays in incoming: no qmgr)."""
    for dirpath, _, files in os.walk(os.path.join(inst.queue, "incoming")):
        if qid in files:
            return mailproto.QueueFile.load(os.path.join(dirpath, qid))
    raise AssertionError(f"{qid} not in incoming\n{inst.log()}")


def make_instance(**params):
    """An instance with smtpd_client_restrictions = check_client_access
    of a texthash table that rejects 203.0.113.9, 2001:db8::bad and
    spike.example.com; without qmgr, so that mail stays in incoming/."""
    inst = mailsystem.harness_instance(smtpd_peername_lookup="no", **params)
    access = os.path.join(inst.dir, "client_access")
    with open(access, "w") as f:
        f.write("203.0.113.9 REJECT\n"
                "2001:db8::bad REJECT\n"
                "spike.example.com REJECT\n")
    os.chmod(access, 0o644)
    inst.set_main(smtpd_client_restrictions="check_client_access "
                  f"texthash:{access}")
    inst.services = [e for e in inst.services if e[0] != "qmgr"]
    inst.write_master()
    return inst


def start(inst, *ports):
    inst.start()
    assert harness.wait_for(lambda: all(harness.port_listening(p)
                                        for p in ports)), inst.log()


# ---- PROXY protocol -------------------------------------------------------

@pytest.fixture(scope="module")
def proxied():
    """An instance whose smtpd expects a PROXY header; (inst, port)."""
    inst = make_instance(smtpd_upstream_proxy_protocol="haproxy",
                         smtpd_upstream_proxy_timeout=f"{PROXY_TIMEOUT}s")
    port = mailsystem.add_smtpd(inst)
    try:
        start(inst, port)
        yield inst, port
    finally:
        mailsystem.finish(inst)


ACCEPTED = [
    ("v1 tcp4", b"PROXY TCP4 203.0.113.10 192.0.2.25 56324 25\r\n",
     "203.0.113.10"),
    ("v1 tcp6", b"PROXY TCP6 2001:db8::10 2001:db8::25 56324 25\r\n",
     "2001:db8::10"),
    ("v2 tcp4", v2_tcp4("203.0.113.10", "192.0.2.25", 56324, 25),
     "203.0.113.10"),
    ("v2 tcp4 with tlvs", v2_tcp4("203.0.113.10", "192.0.2.25", 1, 25,
                                  tlvs=b"\x01\x00\x02h2\x04\x00\x00"),
     "203.0.113.10"),
    ("v2 tcp6", v2_tcp6("2001:db8::10", "2001:db8::25", 56324, 25),
     "2001:db8::10"),
]


@pytest.mark.parametrize("label,header,addr", ACCEPTED,
                         ids=[a[0] for a in ACCEPTED])
def test_proxied_client_is_the_session(proxied, label, header, addr):
    inst, port = proxied
    since = inst.log_size()
    with Smtp(port) as c:
        c.send(header)
        assert c.reply().startswith("220 mail.example.com"), label
        qid = send_message(c)
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"smtpd\[\d+\]: connect from unknown\["
              + re.escape(addr) + r"\]$", since)
    wait_line(inst, re.escape(qid) + r": client=unknown\["
              + re.escape(addr) + r"\]$", since)
    wait_line(inst, r"disconnect from unknown\[" + re.escape(addr)
              + r"\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$", since)
    qf = queue_file(inst, qid)
    assert qf.attrs["client_address"] == addr
    assert qf.attrs["client_name"] == "unknown"
    received = qf.header("Received")[0]
    assert f"(unknown [{addr}])" in received \
        or f"(unknown [IPv6:{addr}])" in received, received


REJECTED = [
    ("v1 tcp4", b"PROXY TCP4 203.0.113.9 192.0.2.25 56324 25\r\n",
     "203.0.113.9"),
    ("v1 tcp6", b"PROXY TCP6 2001:db8::bad 2001:db8::25 1 25\r\n",
     "2001:db8::bad"),
    ("v2 tcp4", v2_tcp4("203.0.113.9", "192.0.2.25", 56324, 25),
     "203.0.113.9"),
    ("v2 tcp6", v2_tcp6("2001:db8::bad", "2001:db8::25", 1, 25),
     "2001:db8::bad"),
    ("v2 tcp6 v4-mapped", v2_tcp6("::ffff:203.0.113.9", "::ffff:192.0.2.25",
                                  1, 25), "203.0.113.9"),
]


@pytest.mark.parametrize("label,header,addr", REJECTED,
                         ids=[a[0] for a in REJECTED])
def test_restrictions_see_the_proxied_client(proxied, label, header, addr):
    inst, port = proxied
    since = inst.log_size()
    with Smtp(port) as c:
        c.send(header)
        assert c.reply().startswith("220"), label
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        r = c.cmd("RCPT TO:<bob@localhost>")
        assert r.startswith("554 5.7.1 "), r
        assert f"[{addr}]" in r and "Client host rejected" in r, r
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"NOQUEUE: reject: RCPT from unknown\["
              + re.escape(addr) + r"\]: 554 5\.7\.1 ", since)


LOCAL = [
    ("v1 unknown", b"PROXY UNKNOWN\r\n"),
    ("v1 unknown with addresses",
     b"PROXY UNKNOWN ffff:f::1 ffff:f::2 65535 65535\r\n"),
    ("v2 local", v2_header(0, 0x00, b"")),
    ("v2 local with a block", v2_header(0, 0x11, b"\xcb\x00\x71\x09" * 3)),
    ("v2 proxy unspec", v2_header(1, 0x00, b"")),
]


@pytest.mark.parametrize("label,header", LOCAL, ids=[a[0] for a in LOCAL])
def test_local_header_keeps_the_real_peer(proxied, label, header):
    inst, port = proxied
    since = inst.log_size()
    with Smtp(port) as c:
        c.send(header)
        assert c.reply().startswith("220"), label
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"connect from unknown\[127\.0\.0\.1\]$", since)


@pytest.mark.parametrize("label,header", [
    ("v1", b"PROXY TCP4 203.0.113.10 192.0.2.25 56324 25\r\n"),
    ("v2", v2_tcp4("203.0.113.10", "192.0.2.25", 56324, 25)),
], ids=["v1", "v2"])
def test_bytes_after_the_header_are_smtp(proxied, label, header):
    """Header and first command in one segment: the reader must leave the
    command on the socket (smtpd then sees a client that talked before
    the greeting, and still answers it)."""
    inst, port = proxied
    since = inst.log_size()
    with Smtp(port) as c:
        c.send(header + b"NOOP\r\n")
        assert c.reply().startswith("220"), label
        assert c.reply().startswith("250"), label
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"improper command pipelining after CONNECT from "
              r"unknown\[203\.0\.113\.10\]: ", since)
    wait_line(inst, r"disconnect from unknown\[203\.0\.113\.10\] noop=1 "
              r"quit=1 commands=2$", since)


BAD = [
    ("bad v1 address", b"PROXY TCP4 203.0.113.999 192.0.2.25 1 25\r\n",
     'v1 header: bad source address "203.0.113.999"'),
    ("v1 bare LF", b"PROXY TCP4 203.0.113.9 192.0.2.25 1 25\n",
     "v1 header: bare LF instead of CRLF"),
    ("v1 family mismatch", b"PROXY TCP6 203.0.113.9 192.0.2.25 1 25\r\n",
     "v1 header: bad source address"),
    ("v1 port", b"PROXY TCP4 203.0.113.9 192.0.2.25 1 65536\r\n",
     'v1 header: bad destination port "65536"'),
    ("smtp without a header", b"EHLO client.example\r\n",
     'not a PROXY protocol header: "EHLO client.example??"'),
    ("v2 version 1", V2_SIG + b"\x11\x11\x00\x0c" + b"\x00" * 12,
     "v2 header: unsupported version 1"),
    ("v2 udp", v2_header(1, 0x12, b"\x00" * 12),
     "v2 header: unsupported transport 2"),
    ("v2 short block", v2_header(1, 0x21, b"\x00" * 12),
     "too short for IPv6"),
    ("v2 broken tlv", v2_tcp4("203.0.113.9", "192.0.2.25", 1, 25,
                              tlvs=b"\x01\x00\x09h2"),
     "goes past the header"),
]


@pytest.mark.parametrize("label,data,why", BAD, ids=[a[0] for a in BAD])
def test_malformed_header_ends_the_session(proxied, label, data, why):
    inst, port = proxied
    since = inst.log_size()
    with Smtp(port) as c:
        c.send(data)
        assert c.eof(), f"{label}: the session went on"
    wait_line(inst, r"warning: haproxy read: .*" + re.escape(why)
              + r".* from \[127\.0\.0\.1\]$", since)
    assert not inst.grep(r"\]: connect from", since=since), label


def test_missing_header_times_out(proxied):
    inst, port = proxied
    since = inst.log_size()
    # Before connecting: smtpd's deadline starts after this. The upper
    # bound also holds a slow smtpd start.
    start = time.monotonic()
    with Smtp(port) as c:
        assert c.eof(timeout=PROXY_TIMEOUT + 9)
    took = time.monotonic() - start
    assert PROXY_TIMEOUT - 0.1 <= took < PROXY_TIMEOUT + harness.slow(5), \
        took
    wait_line(inst, r"warning: haproxy read: timeout after "
              rf"{PROXY_TIMEOUT}s \(0 bytes received\) from "
              r"\[127\.0\.0\.1\]$", since)


def test_partial_header_times_out(proxied):
    inst, port = proxied
    since = inst.log_size()
    with Smtp(port) as c:
        c.send(b"PROXY TCP4 203.0.113.9 ")
        assert c.eof(timeout=PROXY_TIMEOUT + 9)
    wait_line(inst, r"warning: haproxy read: timeout after "
              rf"{PROXY_TIMEOUT}s \(23 bytes received\) from "
              r"\[127\.0\.0\.1\]$", since)


def test_slow_header_in_pieces(proxied):
    """A header trickling in (within the time limit) is assembled."""
    inst, port = proxied
    since = inst.log_size()
    header = v2_tcp6("2001:db8::10", "2001:db8::25", 4242, 25)
    with Smtp(port) as c:
        for i in range(0, len(header), 7):
            c.send(header[i:i + 7])
            time.sleep(0.02)
        assert c.reply().startswith("220")
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"connect from unknown\[2001:db8::10\]$", since)


# ---- XCLIENT and XFORWARD -------------------------------------------------

@pytest.fixture(scope="module")
def trusted():
    """An instance with three smtpd services: one that trusts 127.0.0.1
    with XCLIENT and XFORWARD, one that does not, and one like the first
    with smtpd_delay_reject = no (inst.early_port); (inst, port,
    other_port)."""
    inst = make_instance(smtpd_authorized_xclient_hosts="127.0.0.1",
                         smtpd_authorized_xforward_hosts="127.0.0.0/8")
    port = mailsystem.add_smtpd(inst)
    other = mailsystem.add_smtpd(inst, opts={
        "smtpd_authorized_xclient_hosts": "192.0.2.1",
        "smtpd_authorized_xforward_hosts": "192.0.2.1"})
    early = mailsystem.add_smtpd(inst, opts={"smtpd_delay_reject": "no"})
    inst.early_port = early
    try:
        start(inst, port, other, early)
        yield inst, port, other
    finally:
        mailsystem.finish(inst)


def ehlo_keywords(reply):
    return [line[4:] for line in reply.split("\n")[1:]]


def test_ehlo_advertises_to_authorized_clients(trusted):
    inst, port, other = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        kw = ehlo_keywords(c.cmd("EHLO client.example"))
        assert "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT " \
               "REVERSE_NAME" in kw, kw
        assert "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE" in kw, kw
    with Smtp(other) as c:
        assert c.reply().startswith("220")
        kw = ehlo_keywords(c.cmd("EHLO client.example"))
        assert not [k for k in kw if k.startswith(("XCLIENT", "XFORWARD"))]


def test_xclient_replaces_the_client(trusted):
    inst, port, _ = trusted
    since = inst.log_size()
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO proxy.example").startswith("250")
        # xtext: "+2E" is ".".
        r = c.cmd("XCLIENT NAME=mx+2Eupstream.example ADDR=198.51.100.7 "
                  "PORT=4711 PROTO=ESMTP HELO=client.upstream.example")
        assert r == "220 mail.example.com ESMTP Petrel", r
        qid = send_message(c, helo="client.upstream.example")
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"XCLIENT from unknown\[127\.0\.0\.1\]: client is now "
              r"mx\.upstream\.example\[198\.51\.100\.7\]", since)
    wait_line(inst, re.escape(qid) + r": client=mx\.upstream\.example"
              r"\[198\.51\.100\.7\]$", since)
    wait_line(inst, r"disconnect from mx\.upstream\.example"
              r"\[198\.51\.100\.7\] ehlo=2 xclient=1 mail=1 rcpt=1 data=1 "
              r"quit=1 commands=7$", since)
    qf = queue_file(inst, qid)
    assert qf.attrs["client_name"] == "mx.upstream.example"
    assert qf.attrs["client_address"] == "198.51.100.7"
    assert qf.attrs["helo_name"] == "client.upstream.example"
    assert "(mx.upstream.example [198.51.100.7])" in qf.header("Received")[0]


def test_xclient_address_meets_the_restrictions(trusted):
    inst, port, _ = trusted
    since = inst.log_size()
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("XCLIENT ADDR=203.0.113.9").startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        r = c.cmd("RCPT TO:<bob@localhost>")
        assert r.startswith("554 5.7.1 ") and "[203.0.113.9]" in r, r
        # The proxy may change its mind: XCLIENT is still allowed.
        assert c.cmd("RSET").startswith("250")
        r = c.cmd("XCLIENT ADDR=IPV6:2001:DB8::7 NAME=[UNAVAILABLE]")
        assert r.startswith("220"), r
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>").startswith("250")
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"NOQUEUE: reject: RCPT from unknown\[203\.0\.113\.9\]: "
              r"554 5\.7\.1 ", since)
    wait_line(inst, r"disconnect from unknown\[2001:db8::7\] ", since)


def test_xclient_name_meets_the_restrictions(trusted):
    inst, port, _ = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        r = c.cmd("XCLIENT NAME=spike.example.com ADDR=198.51.100.8")
        assert r.startswith("220"), r
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        r = c.cmd("RCPT TO:<bob@localhost>")
        assert r.startswith("554 5.7.1 ") and "spike.example.com" in r, r


def test_xclient_rejected_at_once_without_delay_reject(trusted):
    """smtpd_delay_reject = no: as at connect, the client restrictions
    answer XCLIENT in place of the greeting, and refuse all but QUIT."""
    inst, _, _ = trusted
    since = inst.log_size()
    with Smtp(inst.early_port) as c:
        assert c.reply().startswith("220")
        r = c.cmd("XCLIENT ADDR=203.0.113.9")
        assert r.startswith("554 5.7.1 ") and "[203.0.113.9]" in r, r
        assert c.cmd("EHLO client.example") == \
            "503 5.7.0 Error: access denied for unknown[203.0.113.9]"
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"NOQUEUE: reject: CONNECT from unknown\[203\.0\.113\.9\]"
              r": 554 5\.7\.1 ", since)
    # And a client the restrictions accept gets the greeting.
    with Smtp(inst.early_port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("XCLIENT ADDR=203.0.113.10") == \
            "220 mail.example.com ESMTP Petrel"
        assert c.cmd("EHLO client.example").startswith("250")


@pytest.mark.parametrize("args,reply", [
    ("", "501 5.5.4 Syntax: XCLIENT attribute=value..."),
    ("NAME", "501 5.5.4 Bad XCLIENT syntax: NAME"),
    ("=x", "501 5.5.4 Bad XCLIENT syntax: =x"),
    ("FOO=bar", "501 5.5.4 Bad XCLIENT attribute name: FOO"),
    ("IDENT=x", "501 5.5.4 Bad XCLIENT attribute name: IDENT"),
    ("NAME=ok.example ADDR=192.0.2.256",
     "501 5.5.4 Bad XCLIENT syntax: ADDR=192.0.2.256"),
    ("ADDR=2001:db8::1:x", "501 5.5.4 Bad XCLIENT syntax: ADDR=2001:db8::1:x"),
    ("ADDR=[TEMPUNAVAIL]", "501 5.5.4 Bad XCLIENT syntax: ADDR=[TEMPUNAVAIL]"),
    ("NAME=bad..name", "501 5.5.4 Bad XCLIENT syntax: NAME=bad..name"),
    ("NAME=a+2Cb", "501 5.5.4 Bad XCLIENT syntax: NAME=a+2Cb"),
    ("NAME=a+2", "501 5.5.4 Bad XCLIENT syntax: NAME=a+2"),
    ("HELO=a+00b", "501 5.5.4 Bad XCLIENT syntax: HELO=a+00b"),
    ("PORT=65536", "501 5.5.4 Bad XCLIENT syntax: PORT=65536"),
    ("PORT=025", "501 5.5.4 Bad XCLIENT syntax: PORT=025"),
    ("PROTO=LMTP", "501 5.5.4 Bad XCLIENT syntax: PROTO=LMTP"),
    ("LOGIN=a+20b", "501 5.5.4 Bad XCLIENT syntax: LOGIN=a+20b"),
    ("NAME=" + "a" * 300,
     "501 5.5.4 Bad XCLIENT syntax: NAME=" + "a" * 40 + "..."),
])
def test_xclient_syntax_errors_change_nothing(trusted, args, reply):
    inst, port, _ = trusted
    since = inst.log_size()
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd(("XCLIENT " + args).rstrip()) == reply
        # Still the same client and session: no new greeting needed.
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 "
              r"xclient=0/1 mail=1 quit=1 commands=3/4$", since)


def test_xclient_not_in_a_transaction(trusted):
    inst, port, _ = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        assert c.cmd("XCLIENT ADDR=198.51.100.9") == \
            "503 5.5.1 Error: MAIL transaction in progress"
        assert c.cmd("XFORWARD ADDR=198.51.100.9") == \
            "503 5.5.1 Error: MAIL transaction in progress"
        assert c.cmd("RSET").startswith("250")
        assert c.cmd("XCLIENT ADDR=198.51.100.9").startswith("220")


def test_xclient_resets_the_session(trusted):
    """After XCLIENT the session is new: HELO and protocol are forgotten
    (unless given), and XFORWARD attributes too."""
    inst, port, _ = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO proxy.example").startswith("250")
        assert c.cmd("XFORWARD ADDR=192.0.2.99").startswith("250")
        assert c.cmd("XCLIENT NAME=[TEMPUNAVAIL] ADDR=198.51.100.10") \
            .startswith("220")
        # No EHLO: protocol is SMTP, helo unknown.
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>").startswith("250")
        assert c.cmd("DATA").startswith("354")
        r = c.cmd("Subject: x\r\n\r\nhello\r\n.")
        qid = re.match(r"250 2\.0\.0 Ok: queued as (\S+)", r).group(1)
    qf = queue_file(inst, qid)
    assert qf.attrs["client_address"] == "198.51.100.10"
    assert qf.attrs["client_name"] == "unknown"
    assert qf.attrs["protocol_name"] == "SMTP"
    assert "helo_name" not in qf.attrs


def test_xclient_unauthorized(trusted):
    inst, _, other = trusted
    since = inst.log_size()
    with Smtp(other) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("XCLIENT ADDR=198.51.100.7") == \
            "550 5.7.0 Error: insufficient authorization"
        assert c.cmd("XFORWARD ADDR=198.51.100.7") == \
            "550 5.7.0 Error: insufficient authorization"
        qid = send_message(c)
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, r"warning: unauthorized XCLIENT command from "
              r"unknown\[127\.0\.0\.1\]$", since)
    wait_line(inst, r"disconnect from unknown\[127\.0\.0\.1\] ehlo=2 "
              r"xclient=0/1 xforward=0/1 mail=1 rcpt=1 data=1 quit=1 "
              r"commands=6/8$", since)
    assert queue_file(inst, qid).attrs["client_address"] == "127.0.0.1"


def test_xforward_goes_to_the_queue_file(trusted):
    inst, port, _ = trusted
    since = inst.log_size()
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO filter.example").startswith("250")
        r = c.cmd("XFORWARD NAME=upstream.example ADDR=192.0.2.77 PORT=4711 "
                  "PROTO=ESMTP HELO=helo.upstream.example")
        assert r == "250 2.0.0 Ok", r
        # Attributes accumulate; ADDR may be given again.
        assert c.cmd("XFORWARD IDENT=4A1B2C3D SOURCE=REMOTE ADDR=192.0.2.78") \
            == "250 2.0.0 Ok"
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>").startswith("250")
        assert c.cmd("DATA").startswith("354")
        r = c.cmd("Subject: x\r\n\r\nhello\r\n.")
        qid = re.match(r"250 2\.0\.0 Ok: queued as (\S+)", r).group(1)
        # The next transaction is the filter's own again.
        qid2 = send_message(c, helo="filter.example")
        assert c.cmd("QUIT").startswith("221")
    wait_line(inst, re.escape(qid) + r": client=unknown\[127\.0\.0\.1\], "
              r"orig_client=upstream\.example\[192\.0\.2\.78\]$", since)
    qf = queue_file(inst, qid)
    assert qf.attrs["client_name"] == "upstream.example"
    assert qf.attrs["client_address"] == "192.0.2.78"
    assert qf.attrs["helo_name"] == "helo.upstream.example"
    assert qf.attrs["protocol_name"] == "ESMTP"
    received = qf.header("Received")[0]
    assert received.startswith("from helo.upstream.example "
                               "(upstream.example [192.0.2.78])"), received
    assert qf.attrs["rewrite_context"] == "remote"
    qf2 = queue_file(inst, qid2)
    assert qf2.attrs["client_address"] == "127.0.0.1"
    assert qf2.attrs["helo_name"] == "filter.example"


def test_xforward_source_local(trusted):
    """SOURCE=LOCAL (mail a content filter got from a local submission)
    keeps the local rewriting context, SOURCE=REMOTE the remote one,
    whatever local_header_rewrite_clients says of the filter; each lasts
    one transaction, then the filter's own address (127.0.0.1, one of
    inet_interfaces: local) decides again."""
    inst, port, _ = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO filter.example").startswith("250")
        assert c.cmd("XFORWARD SOURCE=LOCAL") == "250 2.0.0 Ok"
        qid = send_message(c, helo="filter.example")
        assert c.cmd("XFORWARD SOURCE=REMOTE") == "250 2.0.0 Ok"
        qid2 = send_message(c, helo="filter.example")
        qid3 = send_message(c, helo="filter.example")
    assert queue_file(inst, qid).attrs["rewrite_context"] == "local"
    assert queue_file(inst, qid2).attrs["rewrite_context"] == "remote"
    assert queue_file(inst, qid3).attrs["rewrite_context"] == "local"


def test_xforward_ipv6_and_unavailable(trusted):
    inst, port, _ = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO filter.example").startswith("250")
        assert c.cmd("XFORWARD ADDR=IPV6:2001:DB8:0::77 NAME=[UNAVAILABLE] "
                     "HELO=[UNAVAILABLE]") == "250 2.0.0 Ok"
        qid = send_message(c, helo="filter.example")
    qf = queue_file(inst, qid)
    assert qf.attrs["client_address"] == "2001:db8::77"
    assert qf.attrs["client_name"] == "unknown"


@pytest.mark.parametrize("args,reply", [
    ("", "501 5.5.4 Syntax: XFORWARD attribute=value..."),
    ("LOGIN=x", "501 5.5.4 Bad XFORWARD attribute name: LOGIN"),
    ("SOURCE=SIDEWAYS", "501 5.5.4 Bad XFORWARD syntax: SOURCE=SIDEWAYS"),
    ("ADDR=IPV6:192.0.2.1", "501 5.5.4 Bad XFORWARD syntax: "
                            "ADDR=IPV6:192.0.2.1"),
    ("NAME=a+28b", "501 5.5.4 Bad XFORWARD syntax: NAME=a+28b"),
    ("HELO=a+0Ab", "501 5.5.4 Bad XFORWARD syntax: HELO=a+0Ab"),
    ("PROTO=" + "P" * 65, "501 5.5.4 Bad XFORWARD syntax: PROTO="
                          + "P" * 40 + "..."),
])
def test_xforward_syntax_errors(trusted, args, reply):
    inst, port, _ = trusted
    with Smtp(port) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO filter.example").startswith("250")
        assert c.cmd(("XFORWARD " + args).rstrip()) == reply
