"""
mailsystem.py - a whole mail system for end-to-end tests

    inst = harness.Instance(**mailsystem.MAIN)
    mailsystem.add_services(inst)          # the master.cf of conf/
    inst.start()
    qid = mailsystem.sendmail(inst, ["bob@localhost"], b"Subject: x\n\nhi\n")
    mailsystem.wait_status(inst, qid, "bob@localhost", "sent")

The services are those of the shipped conf/master.cf (pickup, cleanup,
rewrite, qmgr, bounce, local, virtual, error, retry, showq) with
test-friendly timers. Helpers here submit with the real sendmail and wait for
Postfix-format delivery log lines; each test module keeps its own checks.
"""

import os
import re
import subprocess

import pytest

import harness
import mailproto

ID = r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+"

MAIN = {
    "myhostname": "mail.example.com",
    "mydomain": "example.com",
    "myorigin": "example.com",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "alias_maps": "",
    "alias_database": "",
    "local_recipient_maps": "",
    # Deferred mail comes back fast in tests.
    "queue_run_delay": "1s",
    "minimal_backoff_time": "1s",
    "maximal_backoff_time": "2s",
}


def add_services(inst, local=True, virtual=True, qmgr=True, bounce=True,
                 error=True):
    """The delivery services of conf/master.cf, as master.cf lines."""
    inst.add_service("pickup", "fifo", "pickup", private="n", wakeup=60,
                     maxproc=1)
    inst.add_service("cleanup", "unix", "cleanup", private="n", maxproc=0)
    inst.add_service("rewrite", "unix", "trivial-rewrite", private="-")
    inst.add_service("showq", "unix", "showq", private="n")
    if qmgr:
        inst.add_service("qmgr", "unix", "qmgr", private="n", wakeup=300,
                         maxproc=1)
    if bounce:
        inst.add_service("bounce", "unix", "bounce", private="-",
                         maxproc=0)
    if local:
        inst.add_service("local", "unix", "local", private="-",
                         unpriv="n")
    if virtual:
        inst.add_service("virtual", "unix", "virtual", private="-",
                         unpriv="n")
    if error:
        inst.add_service("error", "unix", "error", private="-")
        inst.add_service("retry", "unix", "error", private="-")


def add_smtpd(inst, port=None, anvil=True, opts=None):
    """smtpd on 127.0.0.1:port (a free port unless given), with the anvil
    service it asks for rate limits. Returns the port."""
    if anvil and not any(e[0] == "anvil" for e in inst.services):
        inst.add_service("anvil", "unix", "anvil", private="-", maxproc=1)
    return inst.add_inet("smtpd", port=port, opts=opts)


def smtp_instance(**params):
    """A started-ready (not started) instance with the delivery services
    and smtpd; returns (inst, port)."""
    inst = harness_instance(**params)
    port = add_smtpd(inst)
    return inst, port


def sendmail_path(inst):
    return os.path.join(inst.src, "sendmail")


def sendmail(inst, args, message, check=True, timeout=60, env=None):
    """Run sendmail -C <etc> args with message on stdin. Returns the
    queue ID that pickup logged for it (check=True: exit 0 required),
    or the CompletedProcess when check is False."""
    since = inst.log_size()
    e = inst.env()
    if env:
        e.update(env)
    r = subprocess.run([sendmail_path(inst), "-C", inst.etc] + list(args),
                       input=message, capture_output=True, timeout=timeout,
                       env=e)
    if not check:
        return r
    assert r.returncode == 0, \
        f"sendmail {args}: exit {r.returncode}\n{r.stderr.decode()}"
    m = inst.wait_log(r"petrel/pickup\[\d+\]: (" + ID + r"): uid=",
                      since=since, timeout=30)
    assert m, "pickup did not log the message"
    return m[-1].group(1)


def status_re(qid, rcpt, status):
    return (re.escape(qid) + r": to=<" + re.escape(rcpt) + r">,.*"
            r"status=" + re.escape(status) + r"\b.*$")


def wait_status(inst, qid, rcpt, status, timeout=30):
    """Wait for 'QID: to=<rcpt>, ... status=STATUS (...)'; returns the
    line."""
    m = inst.wait_log(status_re(qid, rcpt, status), timeout=timeout)
    assert m, f"no status={status} for {rcpt} of {qid}\n{inst.log()}"
    return m[-1].group(0)


def wait_removed(inst, qid, timeout=30):
    m = inst.wait_log(re.escape(qid) + r": removed$", timeout=timeout)
    assert m, f"{qid} not removed\n{inst.log()}"


def queue_ids(inst, queue):
    """Queue IDs present in a queue directory (any hash depth)."""
    ids = []
    top = os.path.join(inst.queue, queue)
    for dirpath, _, files in os.walk(top):
        ids += [f for f in files if re.fullmatch(ID, f)]
    return ids


def find_queue_file(inst, qid):
    """(queue, QueueFile) of qid in incoming, hold, active or deferred
    (any hash depth), or (None, None)."""
    for queue in ("incoming", "hold", "active", "deferred"):
        for dirpath, _, files in os.walk(os.path.join(inst.queue, queue)):
            if qid in files:
                return queue, mailproto.QueueFile.load(
                    os.path.join(dirpath, qid))
    return None, None


def run_as_root():
    return os.geteuid() == 0


def harness_instance(**params):
    """An Instance with MAIN plus params and the delivery services."""
    p = dict(MAIN)
    p.update(params)
    inst = harness.Instance(**p)
    add_services(inst)
    return inst


def finish(inst):
    """Tear an instance down; sanitizer reports and processes that
    survived fail the test (as conftest's instance fixture does)."""
    log = inst.log()
    problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)
