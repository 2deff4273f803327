"""
mailproto.py - Petrel's wire formats for whole-system tests, in Python

    attributes (src/lib/global/attr.h): a message is netstrings
        "<len>:<bytes>," alternating name and value, ended by "0:,"
    records (src/lib/global/rec.h): a type byte, the data length as a
        base-128 varint (least significant group first), the data

and, built on them, a client of the cleanup protocol (cleanup_proto.h)
and a parser of queue files (the structure in rec.h), so that tests can
drive cleanup directly and check what it wrote (the record layer itself
is qfile_writer.py's):

    with CleanupClient(inst.queue + "/public/cleanup") as c:
        c.send_flags(0)
        c.send_envelope(sender="joe", rcpts=["alice"])
        c.send_content(["Subject: hi", "", "hello"])
        status, reason = c.finish()
    qf = QueueFile.load(path)

Standard library only.
"""

import socket

import qfile_writer

# Record types (rec.h).
REC_SIZE = qfile_writer.SIZE
REC_TIME = qfile_writer.TIME
REC_ATTR = qfile_writer.ATTR
REC_FROM = qfile_writer.FROM
REC_ORCP = qfile_writer.ORCP
REC_NOTIFY = qfile_writer.NOTIFY
REC_RCPT = qfile_writer.RCPT
REC_DONE = qfile_writer.DONE
REC_MESG = qfile_writer.MESG
REC_NORM = qfile_writer.NORM
REC_CONT = qfile_writer.CONT
REC_XTRA = qfile_writer.XTRA
REC_END = qfile_writer.END

REC_SIZE_WIDTH = qfile_writer.SIZE_WIDTH

# cleanup_proto.h
CLEANUP_FLAG_BOUNCE = 1 << 0
CLEANUP_FLAG_HOLD = 1 << 1
CLEANUP_FLAG_DISCARD = 1 << 2

CLEANUP_STAT_BAD = 1 << 0
CLEANUP_STAT_WRITE = 1 << 1
CLEANUP_STAT_SIZE = 1 << 2
CLEANUP_STAT_CONT = 1 << 3
CLEANUP_STAT_HOPS = 1 << 4
CLEANUP_STAT_RCPT = 1 << 5
CLEANUP_STAT_DEFER = 1 << 6


def _b(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()


# ---- attributes ---------------------------------------------------------

def attr_encode(pairs):
    """[(name, value), ...] -> one encoded message (bytes)."""
    out = []
    for name, value in pairs:
        for item in (_b(name), _b(value)):
            out.append(str(len(item)).encode() + b":" + item + b",")
    return b"".join(out) + b"0:,"


def attr_parse(data):
    """Decode one message from the start of data. Returns (pairs, used)
    or (None, 0) when data is an incomplete prefix. Raises ValueError on
    malformed input."""
    pairs = []
    pos = 0
    name = None
    while True:
        colon = data.find(b":", pos)
        if colon < 0:
            if len(data) - pos > 20:
                raise ValueError("netstring length too long")
            return None, 0
        digits = data[pos:colon]
        if not digits.isdigit():
            raise ValueError(f"bad netstring length {digits!r}")
        n = int(digits)
        end = colon + 1 + n
        if len(data) < end + 1:
            return None, 0
        if data[end:end + 1] != b",":
            raise ValueError("netstring without ','")
        item = data[colon + 1:end]
        pos = end + 1
        if name is None:
            if n == 0:
                return pairs, pos
            name = item.decode()
        else:
            pairs.append((name, item))
            name = None


def encode(*pairs):
    """encode((name, value), ...): attr_encode() for argument lists."""
    return attr_encode(pairs)


class RawClient:
    """A client speaking the attribute protocol by hand (attr.h), for
    tests of multi-server daemons (proxymap, trivial-rewrite)."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def request(self, *pairs):
        self.send(encode(*pairs))
        return self.reply()

    def _fill(self):
        data = self.sock.recv(4096)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _netstring(self):
        while b":" not in self.buf:
            self._fill()
        head, _, rest = self.buf.partition(b":")
        n = int(head)
        while len(rest) < n + 1:
            self._fill()
            head, _, rest = self.buf.partition(b":")
        assert rest[n:n + 1] == b",", "netstring without comma"
        self.buf = rest[n + 1:]
        return rest[:n]

    def reply(self):
        """One message as a dict (names and values decoded)."""
        out = {}
        while True:
            name = self._netstring()
            if name == b"":
                return out
            out[name.decode()] = self._netstring().decode()

    def closed(self, timeout=5):
        """True when the server hangs up (after any pending reply)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(4096):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


# ---- records (qfile_writer.py has the format) ------------------------

def rec(type_, data=b""):
    """One encoded record."""
    return qfile_writer.record(type_, data)


def records(data):
    """[(offset, type, payload), ...] of a whole record stream."""
    return [(r.offset, r.type, r.data)
            for r in qfile_writer.parse_records(data)]


# ---- the cleanup protocol ----------------------------------------------

class CleanupClient:
    """One cleanup conversation over a UNIX socket (one message)."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.queue_id = self.recv_attrs()["queue_id"].decode()

    def recv_attrs(self):
        """The next attribute message as a dict (bytes values); raises
        EOFError when the server hangs up first."""
        while True:
            pairs, used = attr_parse(self.buf)
            if pairs is not None:
                self.buf = self.buf[used:]
                return dict(pairs)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("cleanup closed the connection")
            self.buf += data

    def send(self, data):
        self.sock.sendall(data)

    def send_flags(self, flags=0):
        self.send(attr_encode([("flags", flags)]))

    def send_envelope(self, sender, rcpts, attrs=(), time=None):
        """TIME (if given), ATTR name=value ..., FROM, RCPT ... (an rcpt
        may be (addr, orcp, notify) with None for absent parts)."""
        out = []
        if time is not None:
            out.append(rec(REC_TIME, time))
        for name, value in attrs:
            out.append(rec(REC_ATTR, _b(name) + b"=" + _b(value)))
        out.append(rec(REC_FROM, sender))
        for r in rcpts:
            if isinstance(r, tuple):
                addr, orcp, notify = r
                if orcp is not None:
                    out.append(rec(REC_ORCP, orcp))
                if notify is not None:
                    out.append(rec(REC_NOTIFY, notify))
                r = addr
            out.append(rec(REC_RCPT, r))
        self.send(b"".join(out))

    def send_content(self, lines, end=True):
        """MESG, one NORM per line (bytes or str), then XTRA and END."""
        out = [rec(REC_MESG)]
        out += [rec(REC_NORM, line) for line in lines]
        if end:
            out += [rec(REC_XTRA), rec(REC_END)]
        self.send(b"".join(out))

    def reply(self):
        """(status, reason) from the server's final message."""
        attrs = self.recv_attrs()
        return int(attrs["status"]), attrs["reason"].decode()

    def finish(self):
        return self.reply()

    def closed_by_server(self, timeout=10.0):
        """True when the server closes without sending anything more."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        return data == b"" and self.buf == b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def submit(path, sender, rcpts, lines, attrs=(), flags=0, time=None):
    """One whole message; returns (queue_id, status, reason)."""
    with CleanupClient(path) as c:
        c.send_flags(flags)
        c.send_envelope(sender, rcpts, attrs, time)
        c.send_content(lines)
        status, reason = c.reply()
        return c.queue_id, status, reason


# ---- queue files --------------------------------------------------------

class QueueFile:
    """A parsed queue file (structure in rec.h)."""

    def __init__(self, data):
        self.data = data
        self.records = records(data)
        self.size = None
        self.time = None
        self.attrs = {}
        self.sender = None
        self.rcpts = []         # [(addr, orcp, notify)]
        self.done = []
        self.lines = []         # content lines, CONT pieces joined
        self.pieces = []        # [(type, payload)] of the content
        self.mesg_offset = self.xtra_offset = None
        pending = {}
        line = b""
        in_content = False
        for off, type_, payload in self.records:
            if type_ == REC_SIZE:
                self.size = [int(f) for f in payload.split()]
                self.size_raw = payload
            elif type_ == REC_TIME:
                self.time = payload.decode()
            elif type_ == REC_ATTR:
                name, _, value = payload.decode().partition("=")
                self.attrs[name] = value
            elif type_ == REC_FROM:
                self.sender = payload.decode()
            elif type_ == REC_ORCP:
                pending["orcp"] = payload.decode()
            elif type_ == REC_NOTIFY:
                pending["notify"] = payload.decode()
            elif type_ in (REC_RCPT, REC_DONE):
                (self.rcpts if type_ == REC_RCPT else self.done).append(
                    (payload.decode(), pending.get("orcp"),
                     pending.get("notify")))
                pending = {}
            elif type_ == REC_MESG:
                self.mesg_offset = off
                in_content = True
            elif type_ == REC_XTRA:
                self.xtra_offset = off
                in_content = False
            elif in_content and type_ in (REC_NORM, REC_CONT):
                self.pieces.append((type_, payload))
                line += payload
                if type_ == REC_NORM:
                    self.lines.append(line)
                    line = b""

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            return cls(f.read())

    def types(self):
        return b"".join(t for _, t, _ in self.records)

    def headers(self):
        """The primary header block as [(name, value)] (continuation
        lines joined with '\\n')."""
        out = []
        for line in self.lines:
            if line == b"":
                break
            text = line.decode("utf-8", "replace")
            if text[:1] in (" ", "\t") and out:
                out[-1] = (out[-1][0], out[-1][1] + "\n" + text)
                continue
            name, colon, value = text.partition(":")
            if not colon:
                break
            out.append((name.strip(), value.strip()))
        return out

    def header(self, name):
        """Values of every header called name (any case)."""
        return [v for n, v in self.headers() if n.lower() == name.lower()]

    def body(self):
        """The lines after the first empty line."""
        try:
            return self.lines[self.lines.index(b"") + 1:]
        except ValueError:
            return []
