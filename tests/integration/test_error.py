"""
test_error.py - the error and retry delivery agents

Mail that trivial-rewrite routes to "error" fails with the next hop as
the reason: an address of virtual_alias_domains that no alias rewrote
("5.1.1 User unknown in virtual alias table"), and a domain an
administrator sends to error:TEXT (here through relay_transport). The
sender gets the report. "retry" (the same program under another name)
defers instead, so the mail waits in the queue with the reason.
"""

import pytest

import mailsystem
from test_mailflow import maildir_config, messages
from harness import wait_for


@pytest.fixture
def inst():
    inst = mailsystem.harness_instance(
        virtual_alias_domains="alias.test",
        relay_domains="closed.test, held.test")
    inst.base = maildir_config(inst)
    try:
        yield inst
    finally:
        mailsystem.finish(inst)


def report_for(inst, user):
    assert wait_for(lambda: messages(inst.base, user), 30), inst.log()
    return messages(inst.base, user)[0].as_string()


def test_unknown_alias_domain_address_bounces(inst):
    inst.start()
    qid = mailsystem.sendmail(inst, ["-f", "joe@localhost",
                                     "nobody@alias.test"],
                              b"Subject: alias\n\nx\n")
    line = mailsystem.wait_status(inst, qid, "nobody@alias.test", "bounced")
    assert "relay=error" in line and "dsn=5.1.1" in line, line
    assert "(User unknown in virtual alias table)" in line, line
    mailsystem.wait_removed(inst, qid)
    text = report_for(inst, "joe")
    assert "Final-Recipient: rfc822; nobody@alias.test" in text
    assert "Status: 5.1.1" in text


def test_error_transport_text(inst):
    inst.set_main(relay_transport="error:5.7.1 this domain takes no mail")
    inst.start()
    qid = mailsystem.sendmail(inst, ["-f", "joe@localhost",
                                     "ann@closed.test"],
                              b"Subject: closed\n\nx\n")
    line = mailsystem.wait_status(inst, qid, "ann@closed.test", "bounced")
    assert "dsn=5.7.1" in line and "(this domain takes no mail)" in line
    assert "this domain takes no mail" in report_for(inst, "joe")


def test_retry_transport_defers(inst):
    # No retry during the test: a retry takes the message back to
    # active/ and deletes defer/ID, the reason mailq shows.
    inst.set_main(relay_transport="retry:4.3.2 held by the administrator",
                  minimal_backoff_time="1000s", maximal_backoff_time="1000s")
    inst.start()
    qid = mailsystem.sendmail(inst, ["bob@held.test"],
                              b"Subject: held\n\nx\n")
    line = mailsystem.wait_status(inst, qid, "bob@held.test", "deferred")
    assert "relay=retry" in line and "dsn=4.3.2" in line, line
    assert wait_for(lambda: qid in mailsystem.queue_ids(inst, "deferred"),
                    10)
    r = inst.petrel("queue", "-p")
    assert "held by the administrator" in r.stdout
