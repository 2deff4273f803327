"""
test_default_config.py - the shipped conf/master.cf runs a working system

`make run` and `make install` use conf/master.cf as it is. An instance
started with exactly that file must accept mail from sendmail and deliver
it: local mail lands in the user's mbox in mail_spool_directory (read back
with Python's mailbox module), mail for a remote domain waits in the
deferred queue (there is no smtp transport yet) where mailq (showq) lists
it with the reason. The shipped smtpd service (port 25) is moved to a free
port, as `make run` moves it to 2525, and takes a message over SMTP. This keeps the default configuration honest as
daemons are added.
"""

import mailbox
import os
import pwd
import re
import smtplib
import subprocess

from harness import Instance, free_port, repo_dir, wait_for

PICKUP_RE = r"pickup\[\d+\]: (?P<qid>\w+): uid=\d+ from=<(?P<sender>[^>]*)>"


def test_default_master_cf_accepts_local_mail():
    with open(os.path.join(repo_dir(), "conf", "master.cf")) as f:
        shipped = f.read()
    with Instance(alias_maps="") as inst:
        spool = os.path.join(inst.dir, "spool")
        os.mkdir(spool)
        os.chmod(spool, 0o1777)
        inst.set_main(mail_spool_directory=spool)
        user = "nobody" if os.geteuid() == 0 else \
            pwd.getpwuid(os.getuid()).pw_name
        port = free_port()
        assert re.search(r"(?m)^smtp\s+inet\s", shipped)
        inst.append_master(re.sub(r"(?m)^smtp(\s+inet\s)",
                                  f"127.0.0.1:{port}\\1", shipped))
        inst.start()
        sendmail = os.path.join(inst.src, "sendmail")
        r = subprocess.run([sendmail, "-C", inst.etc, "-f",
                            "ann@example.com", "bob@example.com",
                            f"{user}@localhost"],
                           input="Subject: hello\n\nfirst message\n",
                           capture_output=True, text=True, timeout=60,
                           env=inst.env())
        assert r.returncode == 0, r.stderr
        m = inst.wait_log(PICKUP_RE, timeout=15)
        assert m, inst.log()
        qid = m[0]["qid"]
        assert inst.wait_log(re.escape(qid) + r": to=<" + user
                             + r"@localhost>, relay=local, .*status=sent "
                             r"\(delivered to mailbox\)", 15), inst.log()
        box = mailbox.mbox(os.path.join(spool, user), create=False)
        got = list(box)
        assert len(got) == 1 and got[0]["Subject"] == "hello"
        assert got[0].get_payload() == "first message\n"
        assert inst.wait_log(re.escape(qid) + r": to=<bob@example.com>, "
                             r"relay=none, .*status=deferred \(mail "
                             r"transport unavailable\)", 15), inst.log()
        assert wait_for(lambda: any(qid in files for _, _, files in
                                    os.walk(os.path.join(inst.queue,
                                                         "deferred"))),
                        10), inst.log()

        r = inst.petrel("cat", "-q", "-h", qid)
        assert r.returncode == 0, r.stderr
        assert re.search(r"(?m)^Subject: hello$", r.stdout)
        assert re.search(r"(?m)^Received: by ", r.stdout)
        r = inst.petrel("queue", "-p")
        assert r.returncode == 0, r.stderr
        assert qid in r.stdout and "bob@example.com" in r.stdout
        assert "mail transport unavailable" in r.stdout
        assert f"{user}@localhost" not in r.stdout

        # The shipped smtpd: one message over SMTP, delivered the same way.
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail("carol@example.com", [f"{user}@localhost"],
                       b"Subject: over smtp\r\n\r\nsecond message\r\n")
        assert wait_for(lambda: len(mailbox.mbox(os.path.join(spool, user),
                                                 create=False)) == 2, 15), \
            inst.log()
        got = list(mailbox.mbox(os.path.join(spool, user), create=False))
        assert got[1]["Subject"] == "over smtp"
        assert got[1]["Received"].startswith("from ")
        assert got[1].get_payload() == "second message\n"
