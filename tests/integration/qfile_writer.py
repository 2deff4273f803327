"""
qfile_writer.py - write and read Petrel queue files from Python tests

The record format of src/lib/global/rec.h, written independently of the
C code so that tests can plant queue files (valid or deliberately
broken) and read back what daemons wrote:

	data = build_queue_file("joe@example.com", ["bob@example.com"],
	                        b"Subject: hi\\n\\nbody\\n")
	write_queue_file(os.path.join(queue, "incoming", qid), data)
	for rec in parse_records(data): print(rec.type, rec.offset, rec.data)

A record is a type byte, its data length as a base-128 varint (least
significant group first, high bit on every byte but the last, canonical)
and the data. A queue file is SIZE TIME ATTR* FROM (ORCP? NOTIFY?
RCPT|DONE)+ MESG (NORM|CONT)* XTRA extracted* END; SIZE holds
"%15ld %15ld %15ld %15ld": the offset of MESG, the content bytes (from
the end of MESG to the start of XTRA), the recipient count and flags.
Maildrop files (postdrop) are the same without SIZE, usually without
TIME.

Standard library only.
"""

import collections
import os

SIZE = b"C"
TIME = b"T"
ATTR = b"A"
FROM = b"S"
ORCP = b"O"
NOTIFY = b"n"
RCPT = b"R"
DONE = b"D"
MESG = b"M"
NORM = b"N"
CONT = b"L"
XTRA = b"X"
RRTO = b"r"
ERTO = b"e"
WARN = b"W"
END = b"E"

KNOWN_TYPES = (SIZE + TIME + ATTR + FROM + ORCP + NOTIFY + RCPT + DONE
               + MESG + NORM + CONT + XTRA + RRTO + ERTO + WARN + END)
REC_LEN_BYTES = 5
SIZE_WIDTH = 15
SIZE_LEN = 4 * SIZE_WIDTH + 3
MESG_LEN = 2                    # b"M\x00"

# queue_id.h: base-51 symbols, 7 for seconds, 4 for microseconds, 'z',
# then the inode without leading zeros.
QUEUE_ID_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy"

Record = collections.namedtuple("Record", "type offset data size")


def varint(n):
    """The canonical length encoding of n."""
    if n < 0 or n >= 1 << (7 * REC_LEN_BYTES):
        raise ValueError(f"record length {n} out of range")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(data):
    return data.encode() if isinstance(data, str) else bytes(data)


def record(rtype, data=b""):
    """One record: rtype is a one-byte bytes (or str), data bytes/str."""
    rtype = _bytes(rtype)
    data = _bytes(data)
    if len(rtype) != 1:
        raise ValueError("record type must be one byte")
    return rtype + varint(len(data)) + data


def size_data(mesg_offset, content_size, rcpt_count, flags=0):
    """The SIZE record's fixed-width text."""
    return "%15d %15d %15d %15d" % (mesg_offset, content_size, rcpt_count,
                                    flags)


def content_records(message, line_limit=2048):
    """NORM/CONT records for a message (bytes), as cleanup writes them:
    one NORM per line without its line ending (CRLF or LF), lines longer
    than line_limit split into CONT pieces; a last line without newline
    is a line too."""
    message = _bytes(message)
    out = bytearray()
    if not message:
        return bytes(out)
    lines = message.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        while len(line) > line_limit:
            out += record(CONT, line[:line_limit])
            line = line[line_limit:]
        out += record(NORM, line)
    return bytes(out)


class Rcpt:
    """A recipient with its optional DSN records."""

    def __init__(self, addr, orcpt=None, notify=None, done=False):
        self.addr = addr
        self.orcpt = orcpt
        self.notify = notify
        self.done = done


def build_queue_file(sender, recipients, message=b"", attrs=None,
                     arrival=(1700000000, 0), extracted=(), flags=0,
                     line_limit=2048, maildrop=False, size_override=None,
                     content=None):
    """The bytes of a queue file.

    recipients: addresses (str) or Rcpt objects. attrs: (name, value)
    pairs or a dict. extracted: (type, data) pairs after XTRA (RRTO,
    ERTO, WARN). content: raw NORM/CONT record bytes instead of message.
    arrival: (sec, usec), or None for no TIME record (postdrop's way).
    size_override: a 4-tuple whose non-None members replace the computed
    SIZE fields (to write broken files). maildrop: no SIZE record."""
    if isinstance(attrs, dict):
        attrs = list(attrs.items())
    env = bytearray()
    if arrival is not None:
        env += record(TIME, "%d %d" % arrival)
    for name, value in attrs or ():
        env += record(ATTR, f"{name}={value}")
    env += record(FROM, sender)
    count = 0
    for r in recipients:
        if not isinstance(r, Rcpt):
            r = Rcpt(r)
        if r.orcpt is not None:
            env += record(ORCP, r.orcpt)
        if r.notify is not None:
            env += record(NOTIFY, r.notify)
        env += record(DONE if r.done else RCPT, r.addr)
        count += 1
    body = content if content is not None else content_records(
        message, line_limit)
    tail = bytearray(record(XTRA))
    for rtype, data in extracted:
        tail += record(rtype, data)
    tail += record(END)

    head = b"" if maildrop else record(SIZE, " " * SIZE_LEN)
    mesg_offset = len(head) + len(env)
    fields = [mesg_offset, len(body), count, flags]
    for i, value in enumerate(size_override or ()):
        if value is not None:
            fields[i] = value
    if not maildrop:
        head = record(SIZE, size_data(*fields))
        if len(head) != 2 + SIZE_LEN:
            raise ValueError("size record fields too wide")
    return bytes(head + env + record(MESG) + body + tail)


def write_queue_file(path, data, mode=0o700):
    """Write data to path; mode 0700 marks a queue file complete."""
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def parse_records(data):
    """Every record of data as Record(type, offset, data, size); raises
    ValueError on a malformed record (only the record layer is checked:
    use petrel cat for the queue file structure)."""
    out = []
    pos = 0
    while pos < len(data):
        rtype = data[pos:pos + 1]
        if rtype not in KNOWN_TYPES:
            raise ValueError(f"offset {pos}: unknown record type {rtype!r}")
        length = 0
        i = pos + 1
        for shift in range(REC_LEN_BYTES):
            if i >= len(data):
                raise ValueError(f"offset {pos}: truncated length")
            byte = data[i]
            i += 1
            length |= (byte & 0x7F) << (7 * shift)
            if not byte & 0x80:
                if byte == 0 and shift > 0:
                    raise ValueError(f"offset {pos}: non-canonical length")
                break
        else:
            raise ValueError(f"offset {pos}: length too long")
        if i + length > len(data):
            raise ValueError(f"offset {pos}: truncated data")
        out.append(Record(rtype, pos, data[i:i + length], i + length - pos))
        pos = i + length
    return out


def _symbols(value, width=0):
    out = ""
    while True:
        out = QUEUE_ID_ALPHABET[value % 51] + out
        value //= 51
        if (width and len(out) >= width) or (not width and value == 0):
            break
    if value:
        raise ValueError("value does not fit")
    return out


def make_queue_id(sec, usec, inode):
    """A queue ID as queue_id_make() builds it."""
    return _symbols(sec, 7) + _symbols(usec, 4) + "z" + _symbols(inode)


def queue_hash(qid, depth):
    """The hash directories of a queue ID ("A/" or "A/7/"), as
    queue_id_hash(): microsecond symbols, least significant first."""
    return "".join(qid[10 - level] + "/" for level in range(depth))
