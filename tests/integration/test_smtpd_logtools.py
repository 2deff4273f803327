"""
test_smtpd_logtools.py - Postfix's log tools read our maillog unchanged

A real instance with smtpd gets a small day of typical traffic, then
Debian's fail2ban (fail2ban-regex with its own postfix filter, in every
mode the filter has) and pflogsumm read its maillog_file, and what they
report is checked against what the clients did:

  from 127.0.0.1 (mynetworks): three messages for local users, one for
      dave, a listed local recipient without a mailbox (bounced; the
      sender, a local user, gets the non-delivery notice); a local
      submission with sendmail (pickup), and a broken one (no
      recipient: sendmail's fatal line);
  from 127.0.0.2 (outside mynetworks; smtplib's source_address): a
      message for a local user, a relay attempt refused with 454 4.7.1
      (default smtpd_relay_restrictions: defer_unauth_destination) and
      one refused with 554 5.7.1 by a second smtpd with
      reject_unauth_destination (logging as postfix/submission/smtpd,
      as such a service's -o syslog_name does), two unknown recipients
      (local_recipient_maps, a texthash table) beside a valid one, a
      session that ends with "too many errors", and connections lost
      after CONNECT, MAIL and DATA.

The instance is configured as an administrator whose tools expect
Postfix configures one: syslog_name = postfix. fail2ban's filter only
knows "postfix(-\\w+)?/<program>" and pflogsumm looks for "postfix"
unless told otherwise (--syslog-name), so with our default "petrel"
neither sees a line; every line of the log must therefore carry the
syslog_name, from every daemon and command. The time stamps must be
what fail2ban's date detection and pflogsumm's parser take.

The same day also runs on Debian's Postfix (tests/integration/
postfix_peer.py, as root), configured alike, and every log-tool check
runs on its log too: the expectations are Postfix's, not ours. Last, the
smtpd lines of both logs are compared session by session (time, host,
pid and queue IDs aside).

fail2ban, pflogsumm and Postfix come from scripts/bootstrap; a missing
one fails the tests (they would otherwise prove nothing). Not being
root skips the Postfix half, as root-only tests do (test_full_disk.py).
"""

import ast
import os
import re
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

import harness
import mailsystem
import postfix_peer
from test_mailflow import maildir_config

FILTER = "/etc/fail2ban/filter.d/postfix.conf"
OUTSIDE = "127.0.0.2"           # a client outside mynetworks
INSIDE = "127.0.0.1"
# Valid local recipients; dave has no mailbox (his mail bounces).
USERS = ("alice", "bob", "carol", "dave", "postmaster")
MAILBOXES = ("alice", "bob", "carol", "postmaster")

# Lines of the log, by what fail2ban's modes look at.
REJECT_RE = re.compile(r"postfix(/submission)?/smtpd\[\d+\]: NOQUEUE: "
                       r"reject: RCPT from unknown\[([\d.]+)\]: ")
ERRORS_RE = re.compile(r"postfix/smtpd\[\d+\]: too many errors after \S+ "
                       r"from unknown\[([\d.]+)\]$")
LOST_RE = re.compile(r"postfix/smtpd\[\d+\]: lost connection after "
                     r"(?!DATA)[A-Z]+ from unknown\[([\d.]+)\]$")
LOST_DATA_RE = re.compile(r"postfix/smtpd\[\d+\]: lost connection after "
                          r"DATA \(\d+ bytes\) from unknown\[([\d.]+)\]$")


def need(program):
    path = shutil.which(program, path="/usr/bin:/usr/sbin:"
                        + os.environ.get("PATH", ""))
    if not path:
        pytest.fail(f"{program} is not installed: run scripts/bootstrap",
                    pytrace=False)
    return path


# ---- the traffic -------------------------------------------------------

def client(port, source):
    s = smtplib.SMTP(INSIDE, port, timeout=30,
                     source_address=(source, 0))
    s.ehlo("client.example.org" if source == OUTSIDE else "lan.example.com")
    return s


def send(port, source, sender, rcpts, subject):
    """One session, one message; every recipient accepted."""
    with client(port, source) as s:
        body = (f"From: <{sender}>\r\nSubject: {subject}\r\n\r\n"
                f"{subject}\r\n").encode()
        refused = s.sendmail(sender, list(rcpts), body)
        assert refused == {}, refused
        s.quit()


def refused_rcpts(port, source, sender, rcpts, then_data=False):
    """One session: MAIL, then each RCPT; returns {rcpt: (code, text)}.
    With then_data, the accepted recipients get a message."""
    with client(port, source) as s:
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        out = {}
        for r in rcpts:
            out[r] = s.rcpt(r)
        if then_data:
            code, text = s.data(b"Subject: dictionary\r\n\r\nhit\r\n")
            assert code == 250, (code, text)
        s.quit()
        return out


class Raw:
    """A bare SMTP connection from a given source address."""

    def __init__(self, port, source):
        self.sock = socket.create_connection((INSIDE, port), timeout=30,
                                             source_address=(source, 0))
        self.file = self.sock.makefile("rb")

    def reply(self):
        """The reply's lines (multi-line replies joined); '' at EOF."""
        lines = []
        while True:
            line = self.file.readline().decode("ascii", "replace")
            if not line:
                break
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] != "-":
                break
        return "\n".join(lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.file.close()
        self.sock.close()


def error_session(port):
    """Errors until smtpd gives up: 421 and a 'too many errors' line."""
    c = Raw(port, OUTSIDE)
    assert c.reply().startswith("220")
    assert c.cmd("EHLO client.example.org").startswith("250")
    replies = []
    for line in ("FOO", "MAIL FROM:<broken", "RCPT TO:<bob@localhost>",
                 "BAR", "BAZ", "QUUX"):
        replies.append(c.cmd(line))
        if replies[-1].startswith("421") or not replies[-1]:
            break
    c.close()
    assert replies[-1].startswith("421"), replies
    return replies


def lost_sessions(port):
    """Connections dropped after CONNECT, MAIL and DATA."""
    c = Raw(port, OUTSIDE)
    assert c.reply().startswith("220")
    c.close()
    c = Raw(port, OUTSIDE)
    assert c.reply().startswith("220")
    assert c.cmd("EHLO client.example.org").startswith("250")
    assert c.cmd("MAIL FROM:<drop@example.biz>").startswith("250")
    c.close()
    c = Raw(port, OUTSIDE)
    assert c.reply().startswith("220")
    assert c.cmd("EHLO client.example.org").startswith("250")
    assert c.cmd("MAIL FROM:<drop@example.biz>").startswith("250")
    assert c.cmd("RCPT TO:<alice@localhost>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.sock.sendall(b"Subject: cut short\r\n\r\nhalf a mess")
    c.close()


def local_submission(inst, sender, rcpt):
    since = inst.log_size()
    r = subprocess.run([mailsystem.sendmail_path(inst), "-C", inst.etc,
                        "-f", sender, rcpt],
                       input=b"Subject: from cron\n\nnightly report\n",
                       capture_output=True, timeout=60, env=inst.env())
    assert r.returncode == 0, r.stderr.decode()
    assert inst.wait_log(r"postfix/pickup\[\d+\]: " + mailsystem.ID
                         + r": uid=\d+ from=<" + re.escape(sender) + ">",
                         since=since, timeout=30), inst.log()


def no_rcpt(sendmail, sender, env):
    """A cron job's broken sendmail call: no recipient. sendmail fails
    and logs why, as "<syslog_name>/sendmail[pid]: fatal: ..."."""
    r = subprocess.run(sendmail + ["-f", sender],
                       input=b"Subject: lost\n\nnobody to send to\n",
                       capture_output=True, timeout=60, env=env)
    assert r.returncode != 0, r


def start(inst):
    """inst.start(), for a master that logs as postfix/master."""
    r = inst.petrel("start")
    assert r.returncode == 0, f"petrel start: {r.stdout}{r.stderr}"
    assert inst.wait_log(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ "
                         r"postfix/master\[\d+\]: daemon started", 10), \
        "no 'postfix/master[pid]: daemon started' in maillog\n" + inst.log()


class Day:
    """A finished day: its maillog, and which system wrote it."""

    def __init__(self, system, maillog):
        self.system = system
        self.maillog = maillog
        with open(maillog, encoding="utf-8", errors="replace") as f:
            self.lines = f.read().splitlines()

    def matching(self, regex):
        return [ln for ln in self.lines if regex.search(ln)]


# The day's configuration, the same for Petrel and for the Postfix that
# checks this test's expectations (the log tools' results for Postfix's
# own log must be the same).
SETTINGS = {
    "syslog_name": "postfix",
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "mynetworks": "127.0.0.1/32",
    "smtpd_relay_restrictions": "permit_mynetworks, "
                                "permit_sasl_authenticated, "
                                "defer_unauth_destination",
    "default_transport": "error:outbound mail is disabled in this test",
    "smtpd_peername_lookup": "no",
    "smtpd_error_sleep_time": "0s",
    "smtpd_soft_error_limit": "2",
    "smtpd_hard_error_limit": "4",
}
# The second smtpd: a submission port's log name and strict relaying.
STRICT = {
    "syslog_name": "postfix/submission",
    "smtpd_relay_restrictions": "permit_mynetworks,reject_unauth_destination",
}


def users_table(directory):
    path = os.path.join(directory, "local_users")
    with open(path, "w") as f:
        f.writelines(f"{u} {u}\n" for u in USERS)
    return f"texthash:{path}"


def traffic(port, strict, submit, no_rcpt):
    """The day: see the module comment. submit(sender, rcpt) is a local
    submission, no_rcpt(sender) one without a recipient."""
    send(port, INSIDE, "ann@example.org", ["alice@localhost"], "one")
    send(port, INSIDE, "ann@example.org",
         ["bob@localhost", "carol@localhost"], "two")
    send(port, INSIDE, "joe@example.net", ["alice@localhost"], "three")
    send(port, OUTSIDE, "news@example.net", ["bob@localhost"], "news")
    send(port, INSIDE, "carol@localhost", ["dave@localhost"], "away")
    got = refused_rcpts(port, OUTSIDE, "spammer@example.biz",
                        ["victim@example.org"])
    assert got["victim@example.org"][0] == 454, got
    assert b"Relay access denied" in got["victim@example.org"][1], got
    got = refused_rcpts(strict, OUTSIDE, "spammer@example.biz",
                        ["victim@example.org"])
    assert got["victim@example.org"][0] == 554, got
    got = refused_rcpts(port, OUTSIDE, "spammer@example.biz",
                        ["nobody@localhost", "ghost@localhost",
                         "alice@localhost"], then_data=True)
    assert [got[r][0] for r in ("nobody@localhost", "ghost@localhost",
                                "alice@localhost")] == [550, 550, 250], got
    error_session(port)
    lost_sessions(port)
    submit("bob@localhost", "alice@localhost")
    no_rcpt("cron@localhost")


def settle(wait, log):
    """Wait until everything is delivered, bounced and logged; wait(regex,
    count) is the system's wait_log."""
    for regex, count in ((r"status=sent ", 8), (r"status=bounced ", 1),
                         (r"sender non-delivery notification", 1),
                         (r": removed$", 8),
                         (r"smtpd\[\d+\]: disconnect from ", 12),
                         (r"sendmail\[\d+\]: fatal: ", 1)):
        assert wait(regex, count), f"not {count} x {regex!r}:\n{log()}"


def petrel_day(directory):
    """The day on a Petrel instance; returns the saved maillog's path."""
    inst = mailsystem.harness_instance(**SETTINGS)
    try:
        inst.set_main(local_recipient_maps=users_table(inst.etc))
        maildir_config(inst)
        # A mailbox for each user but dave.
        with open(os.path.join(inst.etc, "virtual_mailboxes"), "w") as f:
            f.write("/^(" + "|".join(MAILBOXES) + ")@/ ${1}/Maildir/\n")
        port = mailsystem.add_smtpd(inst)
        strict = mailsystem.add_smtpd(inst, opts=STRICT)
        start(inst)
        traffic(port, strict,
                lambda sender, rcpt: local_submission(inst, sender, rcpt),
                lambda sender: no_rcpt(
                    [mailsystem.sendmail_path(inst), "-C", inst.etc],
                    sender, inst.env()))
        settle(lambda regex, count: inst.wait_log(regex, count=count,
                                                  timeout=60), inst.log)
        inst.stop()
        assert inst.wait_no_processes(10)
        saved = os.path.join(directory, "maillog")
        shutil.copy(inst.maillog, saved)
    finally:
        mailsystem.finish(inst)
    return saved


def postfix_day(directory):
    """The same day on Debian's Postfix: local mail is discarded (the
    mailbox is not what is compared) but dave's, whom local(8) does not
    know; the rest is configured alike."""
    strict = harness.free_port()
    opts = " ".join(f"-o {k}={v}" for k, v in STRICT.items())
    peer = postfix_peer.PostfixPeer(
        master_extra=[f"127.0.0.1:{strict} inet n - n - - smtpd {opts}",
                      "local     unix  -  n  n  -     -  local"],
        local_recipient_maps=users_table(directory),
        mailbox_transport_maps="inline:{"
        + ", ".join(f"{u}=discard:" for u in MAILBOXES) + "}",
        **SETTINGS)
    try:
        peer.start()
        traffic(peer.smtpd_port, strict,
                lambda sender, rcpt: peer.sendmail(
                    ["-f", sender, rcpt],
                    b"Subject: from cron\n\nnightly report\n"),
                lambda sender: no_rcpt([peer.sendmail_path, "-C", peer.etc],
                                       sender, peer.env))
        settle(lambda regex, count: peer.wait_log(regex, count=count,
                                                  timeout=60), peer.log)
        saved = os.path.join(directory, "maillog")
        with open(saved, "w") as f:
            f.write(peer.log())
    finally:
        problems = peer.cleanup()
    assert not problems, problems
    return saved


@pytest.fixture(scope="module")
def petrel(tmp_path_factory):
    need("fail2ban-regex")
    need("pflogsumm")
    return Day("petrel", petrel_day(str(tmp_path_factory.mktemp("petrel"))))


@pytest.fixture(scope="module")
def postfix(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("Postfix's master must start as root (the reference "
                    "day runs on a real Postfix; run the suite as root)")
    why = postfix_peer.missing()
    if why:
        pytest.fail(why, pytrace=False)
    return Day("postfix",
               postfix_day(str(tmp_path_factory.mktemp("postfix"))))


@pytest.fixture(params=["petrel", "postfix"])
def day(request):
    """Each log-tool check runs on our log, and on Postfix's log of the
    same day: that the checks hold for Postfix shows they ask for what
    Postfix does, not for what we happen to do."""
    return request.getfixturevalue(request.param)


# ---- the log itself ----------------------------------------------------

def test_every_line_carries_syslog_name(petrel):
    """Each daemon and command logs as "<syslog_name>/<program>[pid]:"
    after a traditional syslog time stamp and host name."""
    stamp = r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ "
    bad = [ln for ln in petrel.lines
           if not re.match(stamp + r"postfix(/submission)?/[a-z-]+\[\d+\]: ",
                           ln)]
    assert not bad, "\n".join(bad)
    programs = {re.match(stamp + r"(\S+)\[", ln).group(1)
                for ln in petrel.lines}
    for p in ("postfix/master", "postfix/smtpd", "postfix/submission/smtpd",
              "postfix/cleanup", "postfix/qmgr", "postfix/virtual",
              "postfix/pickup", "postfix/bounce", "postfix/sendmail"):
        assert p in programs, (p, programs)


def test_lines_the_tools_key_on(day):
    """The Postfix shapes, checked directly (exact line layouts)."""
    assert len(day.matching(REJECT_RE)) == 4
    relay = [ln for ln in day.matching(REJECT_RE) if "Relay access" in ln]
    assert len(relay) == 2, relay
    assert re.search(r"\]: 454 4\.7\.1 <victim@example\.org>: Relay access "
                     r"denied; from=<spammer@example\.biz> "
                     r"to=<victim@example\.org> proto=ESMTP "
                     r"helo=<client\.example\.org>$", "\n".join(relay),
                     re.M), relay
    assert re.search(r"postfix/submission/smtpd\[\d+\]: NOQUEUE: reject: "
                     r"RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
                     r"<victim@example\.org>: Relay access denied; "
                     r"from=<spammer@example\.biz> to=<victim@example\.org>"
                     r" proto=ESMTP helo=<client\.example\.org>$",
                     "\n".join(relay), re.M), relay
    unknown = [ln for ln in day.matching(REJECT_RE) if "unknown" in ln
               and "Relay" not in ln]
    assert len(unknown) == 2, unknown
    for rcpt, ln in zip(("nobody", "ghost"), unknown):
        assert re.search(
            r"\]: 550 5\.1\.1 <" + rcpt + r"@localhost>: Recipient address "
            r"rejected: User unknown in local recipient table; "
            r"from=<spammer@example\.biz> to=<" + rcpt + r"@localhost> "
            r"proto=ESMTP helo=<client\.example\.org>$", ln), ln
    assert len(day.matching(ERRORS_RE)) == 1
    assert len(day.matching(LOST_RE)) == 2
    assert len(day.matching(LOST_DATA_RE)) == 1
    # A session that sent nothing: Postfix counts "commands=0/0".
    assert any(re.search(r"disconnect from unknown\[127\.0\.0\.2\] "
                         r"commands=0/0$", ln) for ln in day.lines), \
        "no 'disconnect from unknown[127.0.0.2] commands=0/0' (a session " \
        "without commands, as Postfix logs it):\n" + "\n".join(
            ln for ln in day.lines if "disconnect from" in ln)


# ---- fail2ban ------------------------------------------------------------

def filter_modes():
    """The modes of Debian's postfix filter (mdpr-<mode> definitions)."""
    try:
        with open(FILTER) as f:
            return set(re.findall(r"^mdpr-(\w+)\s*=", f.read(), re.M))
    except FileNotFoundError:
        return set()


# Which of our lines each mode must flag: rejects (R), "too many errors"
# (E), connections lost before DATA (L). Nothing from 127.0.0.1 ever.
MODES = {
    "": "RE",                   # the filter's default, "more"
    "more": "RE",
    "normal": "RE",
    "extra": "RE",
    "aggressive": "REL",
    "errors": "E",
    "ddos": "L",
    "rbl": "",
    "auth": "",
}


def fail2ban_regex(day, mode, out):
    name = "postfix" if not mode else f"postfix[mode={mode}]"
    r = subprocess.run([need("fail2ban-regex"), "-o", out, day.maillog,
                        name], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LANG="C.UTF-8"))
    assert r.returncode == 0, f"fail2ban-regex {name}: {r.stderr}"
    return r.stdout.splitlines()


def test_fail2ban_knows_every_mode():
    need("fail2ban-regex")
    modes = filter_modes()
    assert modes, f"no modes in {FILTER}: run scripts/bootstrap"
    assert modes <= set(MODES), \
        f"modes not covered by this test: {modes - set(MODES)}"


@pytest.mark.parametrize("mode", list(MODES))
def test_fail2ban_filter(day, mode):
    if mode and mode not in filter_modes():
        pytest.fail(f"{FILTER} has no mode {mode}", pytrace=False)
    want = []
    if "R" in MODES[mode]:
        want += day.matching(REJECT_RE)
    if "E" in MODES[mode]:
        want += day.matching(ERRORS_RE)
    if "L" in MODES[mode]:
        want += day.matching(LOST_RE)
    matched = fail2ban_regex(day, mode, "msg")
    assert sorted(matched) == sorted(want), \
        "matched:\n" + "\n".join(matched) + "\nexpected:\n" + "\n".join(want)
    # The address fail2ban would ban, and the time it saw (date
    # detection works on our stamps: today, give or take a day).
    rows = [ast.literal_eval(r.rstrip(","))
            for r in fail2ban_regex(day, mode, "row")]
    assert len(rows) == len(want)
    for ip, when, info in rows:
        assert ip == OUTSIDE and info["ip4"] == OUTSIDE, rows
        assert abs(when - time.time()) < 86400 + 3600, (when, rows)


def test_fail2ban_dates_every_line(day):
    """fail2ban's date detection recognises the stamp of every line."""
    r = subprocess.run([need("fail2ban-regex"), day.maillog, "postfix"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    hits = re.search(r"Date template hits:\n\|- \[# of hits\] date format\n"
                     r"\|  \[(\d+)\] (.*)\n", r.stdout)
    assert hits, r.stdout
    assert int(hits.group(1)) == len(day.lines), r.stdout
    assert "MON Day %k:Minute:Second" in hits.group(2), r.stdout
    lines = re.search(r"^Lines: (\d+) lines, 0 ignored, (\d+) matched",
                      r.stdout, re.M)
    assert lines and int(lines.group(1)) == len(day.lines), r.stdout


# ---- pflogsumm -----------------------------------------------------------

def pflogsumm(day, *args):
    r = subprocess.run([need("pflogsumm"), *args, day.maillog],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def section(report, title):
    """The lines of one report section (up to the next blank-line-led
    title)."""
    m = re.search(r"^" + re.escape(title) + r" *\n-+\n(.*?)(?=\n\n\S|\Z)",
                  report, re.M | re.S)
    assert m, f"no section {title!r} in:\n{report}"
    return m.group(1)


def total(report, what):
    m = re.search(r"^\s+(\d+)\s+" + re.escape(what) + r"\b", report, re.M)
    assert m, f"no {what!r} total in:\n{report}"
    return int(m.group(1))


def test_pflogsumm_grand_totals(day):
    report = pflogsumm(day, "--smtpd-stats")
    # 7 through smtpd (4 from inside, 1 from outside, 1 after the
    # dictionary attack, and the one whose client left during DATA: its
    # "client=" line was logged, and Postfix counts it the same way) and
    # 1 through pickup; the bounce notice is not "received" (no client,
    # no pickup), as with Postfix.
    assert total(report, "received") == 8, report
    # alice x4, bob x2, carol x1, and the notice to carol.
    assert total(report, "delivered") == 8, report
    assert total(report, "bounced") == 1, report
    assert total(report, "deferred") == 0, report
    assert total(report, "rejected") == 4, report
    assert total(report, "senders") == 6, report
    assert total(report, "sending hosts/domains") == 4, report
    assert total(report, "recipients") == 3, report
    assert total(report, "recipient hosts/domains") == 1, report
    # Every session is paired connect/disconnect by pid.
    assert total(report, "connections") == 12, report


def test_pflogsumm_sections(day):
    report = pflogsumm(day, "--smtpd-stats")
    recv = section(report, "Host/Domain Summary: Message Delivery")
    assert re.search(r"^\s+8\s+\d+\S*\s+0\s+.*\slocalhost$", recv, re.M), \
        recv
    sending = section(report, "Host/Domain Summary: Messages Received")
    for dom in ("example.org", "example.net", "example.biz", "localhost"):
        assert re.search(r"\s" + re.escape(dom) + r"$", sending, re.M), \
            (dom, sending)
    senders = section(report, "Senders by message count")
    for n, who in ((2, "ann@example.org"), (1, "joe@example.net"),
                   (1, "news@example.net"), (1, "spammer@example.biz"),
                   (1, "carol@localhost"), (1, "bob@localhost")):
        assert re.search(rf"^\s+{n}\s+{re.escape(who)}$", senders, re.M), \
            (who, senders)
    rcpts = section(report, "Recipients by message count")
    for n, who in ((4, "alice@localhost"), (2, "bob@localhost"),
                   (2, "carol@localhost")):
        assert re.search(rf"^\s+{n}\s+{re.escape(who)}$", rcpts, re.M), \
            (who, rcpts)
    smtpd = section(report, "Host/Domain Summary: SMTPD Connections")
    assert re.search(r"^\s+4\s+.*\s(127\.0\.0\.1|localhost)$", smtpd,
                     re.M), smtpd
    assert re.search(r"^\s+8\s+.*\s127\.0\.0\.2$", smtpd, re.M), smtpd
    bounced = section(report, "message bounce detail (by relay)")
    assert re.search(r"unknown user.*dave", bounced), bounced
    rejects = section(report, "message reject detail")
    # pflogsumm groups rejects by reason: relay refusals by client,
    # unknown recipients by address.
    assert re.search(r"^  RCPT\n", rejects, re.M), rejects
    assert re.search(r"^    Relay access denied \(total: 2\)\n"
                     r"\s+2\s+127\.0\.0\.2$", rejects, re.M), rejects
    assert re.search(r"^    Recipient address rejected: User unknown in "
                     r"local recipient table \(total: 2\)\n"
                     r"\s+1\s+ghost@localhost\n\s+1\s+nobody@localhost$",
                     rejects, re.M), rejects
    # Ordinary traffic, bad clients included, is no cause for warnings
    # (Postfix logs none for it). Postfix's cleanup does warn when this
    # shared machine's file system clock runs ahead of time(): that is
    # about the host, not the traffic, so those lines are left out.
    if not re.search(r"^Warnings: none$", report, re.M):
        warnings = [line for line in
                    section(report, "Warnings").splitlines()
                    if not re.search(r"\(total: \d+\)$|file system clock "
                                     r"is \d+ seconds? ahead|resetting "
                                     r"file time stamps", line)]
        assert day.system == "postfix" and not warnings, \
            section(report, "Warnings")


# ---- line for line -------------------------------------------------------

SMTPD_LINE_RE = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ "
                           r"(postfix(?:/submission)?/smtpd)\[(\d+)\]: "
                           r"(.*)$")


def smtpd_sessions(day):
    """Each smtpd session's lines, connect to disconnect, without time,
    host, pid and queue ID; sorted (sessions of two processes
    interleave in the log)."""
    open_, done = {}, []
    for ln in day.lines:
        m = SMTPD_LINE_RE.match(ln)
        if not m:
            continue
        prog, pid, text = m.groups()
        text = re.sub(r"^(?!NOQUEUE:|warning:)[0-9A-Za-z]{6,}: ", "QID: ",
                      text)
        open_.setdefault(pid, []).append(f"{prog}: {text}")
        if text.startswith("disconnect from "):
            done.append(tuple(open_.pop(pid)))
    return sorted(done)


def test_smtpd_lines_as_postfix(petrel, postfix):
    """Session for session, our smtpd logs what Postfix's smtpd logs for
    the same client behaviour (time, host, pid and queue IDs aside)."""
    ours, theirs = smtpd_sessions(petrel), smtpd_sessions(postfix)
    assert len(theirs) == 12, theirs
    only_ours = [s for s in ours if s not in theirs]
    only_theirs = [s for s in theirs if s not in ours]
    assert not only_ours and not only_theirs, (
        "sessions logged differently\n---- Postfix:\n"
        + "\n\n".join("\n".join(s) for s in only_theirs)
        + "\n---- Petrel:\n"
        + "\n\n".join("\n".join(s) for s in only_ours))
