"""
test_default_config.py - the shipped conf/master.cf runs a working system

`make run` and `make install` use conf/master.cf as it is. An instance
started with exactly that file must accept mail from sendmail: pickup,
cleanup and trivial-rewrite put it in incoming/, and mailq (showq) lists
it. This keeps the default configuration honest as daemons are added.
"""

import os
import re
import subprocess

from harness import Instance, repo_dir, wait_for

PICKUP_RE = r"pickup\[\d+\]: (?P<qid>\w+): uid=\d+ from=<(?P<sender>[^>]*)>"


def test_default_master_cf_accepts_local_mail():
    with open(os.path.join(repo_dir(), "conf", "master.cf")) as f:
        shipped = f.read()
    with Instance() as inst:
        inst.append_master(shipped)
        inst.start()
        sendmail = os.path.join(inst.src, "sendmail")
        r = subprocess.run([sendmail, "-C", inst.etc, "-f",
                            "ann@example.com", "bob@example.com"],
                           input="Subject: hello\n\nfirst message\n",
                           capture_output=True, text=True, timeout=60,
                           env=inst.env())
        assert r.returncode == 0, r.stderr
        m = inst.wait_log(PICKUP_RE, timeout=15)
        assert m, inst.log()
        qid = m[0]["qid"]
        path = os.path.join(inst.queue, "incoming", qid)
        assert wait_for(lambda: os.path.exists(path), 10), inst.log()

        r = inst.petrel("cat", "-q", "-h", qid)
        assert r.returncode == 0, r.stderr
        assert re.search(r"(?m)^Subject: hello$", r.stdout)
        assert re.search(r"(?m)^Received: by ", r.stdout)
        r = inst.petrel("queue", "-p")
        assert r.returncode == 0, r.stderr
        assert qid in r.stdout and "bob@example.com" in r.stdout
