"""
smtpclient.py - a raw SMTP client and helpers for the smtpd tests

RawSmtp sends exactly the text it is given (CRLF added by cmd()) from a
chosen loopback source address (127.0.0.2 is "another client" for
mynetworks and DNS lists) and reads whole replies, multi-line ones
joined with newlines. The smtpd test modules (restrictions, DNS lists,
proxies, policy servers) share it with rcpt_reply(), send_message() and
wait_line(); test_smtpd.py keeps its own stricter client, which checks
every reply line's syntax.
"""

import re
import socket

import harness
import mailsystem


class RawSmtp:
    """A raw SMTP client; port is the server's, self.port our own."""

    def __init__(self, port, source="127.0.0.1", timeout=20.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(harness.slow(timeout))
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        """The next line without its CRLF; None at EOF."""
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode()

    def reply(self):
        """The next reply, its lines joined with '\\n'; None at EOF."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                return "\n".join(lines) if lines else None
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def ok(self, text, code="250"):
        """cmd(), asserting the reply code."""
        r = self.cmd(text)
        assert r.startswith(code), (text, r)
        return r

    def eof(self, timeout=None):
        """True when the server closes without sending anything more."""
        if timeout is not None:
            self.sock.settimeout(harness.slow(timeout))
        try:
            return self.sock.recv(4096) == b"" and self.buf == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rcpt_reply(port, rcpt="bob@localhost", sender="joe@example.org",
               helo="client.example", source="127.0.0.1", ehlo=True,
               timeout=20.0):
    """Greeting, EHLO (or HELO), MAIL, RCPT; returns the RCPT reply."""
    with RawSmtp(port, source, timeout) as c:
        assert c.reply().startswith("220")
        r = c.cmd(f"{'EHLO' if ehlo else 'HELO'} {helo}")
        assert r.startswith("250"), r
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert r.startswith("250"), r
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        c.cmd("QUIT")
        return r


def send_message(c, sender="joe@example.org", rcpts=("bob@localhost",),
                 helo="client.example", body=None):
    """EHLO, MAIL, RCPTs, DATA on an open client; returns the queue ID."""
    assert c.cmd(f"EHLO {helo}").startswith("250")
    assert c.cmd(f"MAIL FROM:<{sender}>").startswith("250")
    for rcpt in rcpts:
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.startswith("250"), r
    assert c.cmd("DATA").startswith("354")
    r = c.cmd(body or "Subject: test\r\n\r\nhello\r\n.")
    m = re.match(r"250 2\.0\.0 Ok: queued as (" + mailsystem.ID + ")$", r)
    assert m, r
    return m.group(1)


def wait_line(inst, regex, since, timeout=10):
    """The last log line after since that matches; asserts there is one."""
    m = inst.wait_log(regex, since=since, timeout=timeout)
    assert m, f"no log line {regex!r}\n{inst.log()[since:]}"
    return m[-1].group(0)
