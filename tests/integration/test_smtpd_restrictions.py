"""
test_smtpd_restrictions.py - smtpd's access policy (smtpd_check.c)

One instance (smtpd with cleanup and trivial-rewrite, no qmgr, so that
accepted mail stays in incoming/ or hold/ to be read) runs several smtpd
services, each with its own restriction lists given as master.cf
"-o name=$param" overrides of main.cf parameters. Clients talk raw SMTP
from 127.0.0.x source addresses (all of 127/8 is this machine), so that
one client is inside mynetworks (127.0.0.1, the "host" style default) and
the others are strangers. smtpd_peername_lookup = no: every client name
is "unknown" (DNS restrictions are in test_smtpd_dnsbl.py).

  relaying       the default configuration is never an open relay
                 (454 4.7.1 Relay access denied, classic relay probes),
                 the pre-2.10 style with an empty smtpd_relay_restrictions
                 (554 5.7.1), relay_domains, permit_mynetworks
  refusing to    a configuration that would relay for anyone, unknown
  start          restrictions, missing arguments, undefined classes:
                 smtpd exits with a fatal error naming parameter and word
  access(5)      check_client/helo/sender/recipient_access with every
                 action (OK, numbers, REJECT/DEFER [text], 4xx/5xx text
                 with enhanced codes, DEFER_IF_PERMIT/REJECT, DISCARD,
                 HOLD, REDIRECT, PREPEND, WARN, DUNNO, restriction lists
                 and classes as results, the null sender key), the
                 lookup order (parent domains, networks, user@, address
                 extensions), and what lands in the queue
  stages         smtpd_delay_reject yes and no, DATA, END-OF-DATA and
                 ETRN restrictions
  generic        warn_if_reject, defer_if_permit, defer_if_reject, defer,
                 class loops, reject_non_fqdn_*, reject_invalid_helo_*,
                 reject_unauth_pipelining, reject_multi_recipient_bounce
  unlisted       local, virtual alias, virtual mailbox and relay recipient
                 tables (smtpd_reject_unlisted_recipient/_sender, VRFY)
  failures       a table that cannot be read is a 4xx, never "not found"

Every reply is compared whole, and each reject is found in the log in
Postfix's "NOQUEUE: reject: RCPT from ..." shape.
"""

import os
import re
import socket

import pytest

import harness
import mailsystem
from smtpclient import RawSmtp as Client, rcpt_reply, send_message, wait_line

STRANGER = "127.0.0.2"          # outside mynetworks


def reject_line(kind, client, reply, sender=None, rcpt=None,
                helo="client.example", action="reject"):
    """The regex of a Postfix-style reject line."""
    rx = (r"NOQUEUE: " + action + ": " + kind + r" from "
          + re.escape(client) + r": " + re.escape(reply) + ";")
    if sender is not None:
        rx += r" from=<" + re.escape(sender) + ">"
    if rcpt is not None:
        rx += r" to=<" + re.escape(rcpt) + ">"
    rx += r" proto=E?SMTP"
    if helo is not None:
        rx += r" helo=<" + re.escape(helo) + ">"
    return rx + "$"


# ---- the instance ---------------------------------------------------------

TABLES = {
    "local_users": """
        bob x
        alice x
        blocked x
        warn x
        dip x
        dipreject x
        dir x
        dirpermit x
        defer x
        loop x
        close x
        redirected x
    """,
    "client_access": """
        127.0.0.3 REJECT
        127.0.9 REJECT Your network is blocked
        127.0.9.8 OK
        127.0.0.6 DISCARD
    """,
    "helo_access": """
        spammer.test REJECT
        good.spammer.test DUNNO
    """,
    "sender_access": """
        reject@sender.test REJECT
        text@sender.test REJECT Go away
        code@sender.test 550 5.7.9 Custom code
        plaincode@sender.test 451 Try later
        defer@sender.test DEFER
        dsn@sender.test REJECT 5.1.1 No such sender
        baddomain.test REJECT Bad domain
        dunno@baddomain.test DUNNO
        spammer@ REJECT Bad local part
        user@ext.test REJECT Extension stripped
        ok@sender.test OK
        numeric@sender.test 1234567890
        discard@sender.test DISCARD
        hold@sender.test HOLD Quarantined
        redirect@sender.test REDIRECT redirected@localhost
        prepend@sender.test PREPEND X-Petrel-Test: prepended
        warn@sender.test WARN watch this sender
        restricted@sender.test restricted_class
        inline@sender.test reject_non_fqdn_recipient, permit
        notopen@sender.test check_client_access texthash:/no/such/table
        bogus@sender.test no_such_restriction
        dip@sender.test DEFER_IF_PERMIT Maybe later
        dir@sender.test DEFER_IF_REJECT Not now
        close@sender.test 421 4.7.0 Closing
        badcode@sender.test 250 Fine
        <> REJECT No bounces here
    """,
    "rcpt_access": """
        blocked@localhost REJECT
        close@localhost 421 4.7.0 Closing now
    """,
    "restricted_ok": """
        alice@localhost OK
    """,
    "class_rcpt": """
        warn@localhost c_warn
        dip@localhost c_dip
        dipreject@localhost c_dip_reject
        dir@localhost c_dir
        dirpermit@localhost c_dir_permit
        defer@localhost c_defer
        loop@localhost c_loop
    """,
    "data_access": """
        nodata@sender.test REJECT No data for you
    """,
    "eod_access": """
        eod@sender.test REJECT Too late
        eodprepend@sender.test PREPEND X-Late: yes
        eodhold@sender.test HOLD Held late
        eoddiscard@sender.test DISCARD Dropped late
    """,
    "etrn_access": """
        blocked.test REJECT
    """,
    "valias": """
        known@valias.test bob@localhost
    """,
    "vmbox": """
        box@vmbox.test vmbox.test/box/
    """,
    "relay_users": """
        known@relay.test x
    """,
}

# name: (main.cf parameters the service's -o options refer to, options)
SERVICES = {
    "default": {},
    "legacy": {"smtpd_relay_restrictions": "$t_empty",
               "smtpd_recipient_restrictions": "$t_legacy"},
    "access": {"smtpd_recipient_restrictions": "$t_access"},
    "early": {"smtpd_delay_reject": "no",
              "smtpd_client_restrictions": "$t_client",
              "smtpd_helo_restrictions": "$t_helo",
              "smtpd_sender_restrictions": "$t_sender"},
    "delayed": {"smtpd_client_restrictions": "$t_client",
                "smtpd_helo_restrictions": "$t_helo",
                "smtpd_sender_restrictions": "$t_sender"},
    "stages": {"smtpd_data_restrictions": "$t_data",
               "smtpd_end_of_data_restrictions": "$t_eod",
               "smtpd_etrn_restrictions": "$t_etrn"},
    "classes": {"smtpd_recipient_restrictions": "$t_classes"},
    "syntax": {"smtpd_helo_restrictions": "$t_syntax_helo",
               "smtpd_recipient_restrictions": "$t_syntax"},
    "pipe": {"smtpd_data_restrictions": "reject_unauth_pipelining"},
    "fail": {"smtpd_recipient_restrictions": "$t_fail"},
    "failmaps": {"local_recipient_maps": "texthash:/no/such/users"},
    "sendermaps": {"smtpd_reject_unlisted_sender": "yes",
                   "show_user_unknown_table_name": "no"},
    # These must not start.
    "bad_word": {"smtpd_client_restrictions": "bogus_word"},
    "bad_arg": {"smtpd_sender_restrictions": "$t_bad_arg"},
    "bad_table": {"smtpd_sender_restrictions": "$t_bad_table"},
    "bad_class": {"smtpd_recipient_restrictions": "$t_bad_class"},
    "bad_undefined": {"smtpd_restriction_classes": "undefined_class"},
    "bad_relay": {"smtpd_relay_restrictions": "$t_empty",
                  "smtpd_recipient_restrictions": "$t_open"},
    "bad_tempfail": {"reject_tempfail_action": "maybe"},
    "bad_rbl": {"smtpd_client_restrictions": "$t_bad_rbl"},
    "bad_rewrite": {"local_header_rewrite_clients": "permit_everyone"},
    "bad_rewrite_map": {"local_header_rewrite_clients":
                        "permit_mynetworks,check_address_map"},
}


def params(d):
    t = lambda name: f"texthash:{d}/{name}"   # noqa: E731
    return {
        "smtpd_peername_lookup": "no",
        "recipient_delimiter": "+",
        "local_recipient_maps": t("local_users"),
        "virtual_alias_domains": "valias.test",
        "virtual_alias_maps": t("valias"),
        "virtual_mailbox_domains": "vmbox.test",
        "virtual_mailbox_maps": t("vmbox"),
        "relay_domains": "relay.test",
        "relay_recipient_maps": t("relay_users"),
        "smtpd_restriction_classes": "restricted_class, c_warn, c_dip, "
                                     "c_dip_reject, c_dir, c_dir_permit, "
                                     "c_defer, c_loop",
        "restricted_class": f"check_recipient_access {t('restricted_ok')}, "
                            "reject",
        "c_warn": "warn_if_reject, reject, permit",
        "c_dip": "defer_if_permit, permit",
        "c_dip_reject": "defer_if_permit, reject",
        "c_dir": "defer_if_reject, reject",
        "c_dir_permit": "defer_if_reject, permit",
        "c_defer": "defer",
        "c_loop": "c_loop",
        "t_empty": "",
        "t_legacy": "permit_mynetworks, reject_unauth_destination",
        "t_access": f"check_client_access {t('client_access')}, "
                    f"check_helo_access {t('helo_access')}, "
                    f"check_sender_access {t('sender_access')}, "
                    f"check_recipient_access {t('rcpt_access')}",
        "t_client": f"check_client_access {t('client_access')}",
        "t_helo": f"check_helo_access {t('helo_access')}",
        "t_sender": f"check_sender_access {t('sender_access')}",
        "t_data": f"check_sender_access {t('data_access')}, "
                  "reject_multi_recipient_bounce",
        "t_eod": f"check_sender_access {t('eod_access')}",
        "t_etrn": f"check_etrn_access {t('etrn_access')}, "
                  "permit_mynetworks, reject",
        "t_classes": f"check_recipient_access {t('class_rcpt')}",
        "t_syntax_helo": "reject_invalid_helo_hostname, "
                         "reject_non_fqdn_helo_hostname",
        "t_syntax": "reject_non_fqdn_sender, reject_non_fqdn_recipient",
        "t_fail": "check_recipient_access texthash:/no/such/table",
        "t_bad_arg": "permit_mynetworks, check_sender_access",
        "t_bad_table": "check_sender_access /etc/no-type",
        "t_bad_class": "permit_mynetworks, no_such_class",
        "t_open": "permit",
        "t_bad_rbl": "reject_rbl_client bl.test=127.0.0",
    }


@pytest.fixture(scope="module")
def world():
    """(inst, {service: port})."""
    inst = mailsystem.harness_instance()
    for name, text in TABLES.items():
        path = os.path.join(inst.dir, name)
        with open(path, "w") as f:
            f.write("\n".join(ln.strip() for ln in text.splitlines()
                              if ln.strip()) + "\n")
        os.chmod(path, 0o644)
    inst.set_main(**params(inst.dir))
    inst.services = [e for e in inst.services if e[0] != "qmgr"]
    ports = {}
    for name, opts in SERVICES.items():
        ports[name] = mailsystem.add_smtpd(inst, opts=opts)
    try:
        inst.start()
        good = [p for n, p in ports.items() if not n.startswith("bad_")]
        assert harness.wait_for(lambda: all(harness.port_listening(p)
                                            for p in good)), inst.log()
        yield inst, ports
    finally:
        mailsystem.finish(inst)


# ---- relaying ---------------------------------------------------------------

def test_default_is_not_an_open_relay(world):
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["default"], "victim@example.org",
                   sender="spammer@example.biz", source=STRANGER)
    assert r == "454 4.7.1 <victim@example.org>: Relay access denied"
    wait_line(inst, reject_line("RCPT", f"unknown[{STRANGER}]", r,
                                "spammer@example.biz",
                                "victim@example.org"), since)


RELAY_PROBES = [
    "victim@example.org",
    "victim%example.org@localhost",
    "example.org!victim@localhost",
    "victim%example.org@[127.0.0.1]",
    "\"victim@example.org\"@localhost",
    "victim@example.org@localhost",
    "@localhost:victim@example.org",
    "victim@EXAMPLE.org.",
    "victim@relay.test.example.org",
]


@pytest.mark.parametrize("rcpt", RELAY_PROBES)
def test_relay_probes_are_refused(world, rcpt):
    """Classic open-relay test addresses, from a stranger: never 250."""
    inst, ports = world
    with Client(ports["default"], STRANGER) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO probe.example").startswith("250")
        assert c.cmd("MAIL FROM:<probe@example.biz>").startswith("250")
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r[:1] in ("4", "5"), (rcpt, r)
        c.cmd("QUIT")


ROUTED = [
    "victim%example.org@relay.test",
    "example.org!victim@relay.test",
    "\"victim@example.org\"@relay.test",
]


@pytest.mark.parametrize("rcpt", ROUTED)
def test_routing_through_relay_domains_is_refused(world, rcpt):
    """Sender-specified routing in a relay domain address is not an
    authorized destination (allow_untrusted_routing = no)."""
    inst, ports = world
    assert rcpt_reply(ports["default"], rcpt, source=STRANGER) == \
        f"454 4.7.1 <{rcpt}>: Relay access denied"


def test_mynetworks_may_relay(world):
    inst, ports = world
    assert rcpt_reply(ports["default"], "friend@example.org") \
        == "250 2.1.5 Ok"


def test_stranger_reaches_local_and_relay_domains(world):
    inst, ports = world
    for rcpt in ("bob@localhost", "bob@mail.example.com",
                 "known@relay.test", "known@valias.test", "box@vmbox.test"):
        assert rcpt_reply(ports["default"], rcpt, source=STRANGER) \
            == "250 2.1.5 Ok", rcpt


def test_legacy_recipient_restrictions(world):
    """smtpd_relay_restrictions empty: the recipient list decides."""
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["legacy"], "victim@example.org", source=STRANGER)
    assert r == "554 5.7.1 <victim@example.org>: Relay access denied"
    wait_line(inst, reject_line("RCPT", f"unknown[{STRANGER}]", r,
                                "joe@example.org", "victim@example.org"),
              since)
    assert rcpt_reply(ports["legacy"], "bob@localhost", source=STRANGER) \
        == "250 2.1.5 Ok"
    assert rcpt_reply(ports["legacy"], "friend@example.org") \
        == "250 2.1.5 Ok"


# ---- configurations that must not start -------------------------------------

BAD = [
    ("bad_word", r"fatal: smtpd_client_restrictions: unknown restriction "
                 r"\"bogus_word\""),
    ("bad_arg", r"fatal: smtpd_sender_restrictions: restriction "
                r"check_sender_access needs a table \(type:name\)"),
    ("bad_table", r"fatal: smtpd_sender_restrictions: restriction "
                  r"check_sender_access: bad table name \"/etc/no-type\""),
    ("bad_class", r"fatal: smtpd_recipient_restrictions: unknown "
                  r"restriction \"no_such_class\""),
    ("bad_undefined", r"fatal: smtpd_restriction_classes: restriction "
                      r"class \"undefined_class\" has no definition"),
    ("bad_relay", r"fatal: in parameters smtpd_relay_restrictions and "
                  r"smtpd_recipient_restrictions, specify at least one "
                  r"working instance of: reject_unauth_destination"),
    ("bad_tempfail", r"fatal: reject_tempfail_action: bad value \"maybe\""),
    ("bad_rbl", r"fatal: smtpd_client_restrictions: restriction "
                r"reject_rbl_client: bad DNS list filter \"127\.0\.0\""),
    ("bad_rewrite", r"fatal: local_header_rewrite_clients: unknown element "
                    r"\"permit_everyone\""),
    ("bad_rewrite_map", r"fatal: local_header_rewrite_clients: "
                        r"check_address_map needs a table \(type:name\)"),
]


@pytest.mark.parametrize("service,fatal", BAD, ids=[b[0] for b in BAD])
def test_bad_configuration_is_fatal(world, service, fatal):
    inst, ports = world
    since = inst.log_size()
    try:
        with Client(ports[service], timeout=3) as c:
            assert c.reply() is None    # no greeting from a dead smtpd
    except (socket.timeout, ConnectionResetError):
        pass
    wait_line(inst, r"petrel/smtpd\[\d+\]: " + fatal, since, timeout=20)


# ---- access tables -----------------------------------------------------------

SENDER_REPLIES = [
    ("reject@sender.test",
     "554 5.7.1 <reject@sender.test>: Sender address rejected: "
     "Access denied"),
    ("REJECT@Sender.TEST",
     "554 5.7.1 <REJECT@Sender.TEST>: Sender address rejected: "
     "Access denied"),
    ("text@sender.test",
     "554 5.7.1 <text@sender.test>: Sender address rejected: Go away"),
    ("code@sender.test",
     "550 5.7.9 <code@sender.test>: Sender address rejected: Custom code"),
    ("plaincode@sender.test",
     "451 4.7.1 <plaincode@sender.test>: Sender address rejected: "
     "Try later"),
    ("defer@sender.test",
     "450 4.7.1 <defer@sender.test>: Sender address rejected: "
     "Access denied"),
    ("dsn@sender.test",
     "554 5.1.0 <dsn@sender.test>: Sender address rejected: "
     "No such sender"),
    ("x@sub.baddomain.test",
     "554 5.7.1 <x@sub.baddomain.test>: Sender address rejected: "
     "Bad domain"),
    ("x@baddomain.test",
     "554 5.7.1 <x@baddomain.test>: Sender address rejected: Bad domain"),
    ("dunno@baddomain.test", "250 2.1.5 Ok"),
    ("spammer@anywhere.example",
     "554 5.7.1 <spammer@anywhere.example>: Sender address rejected: "
     "Bad local part"),
    ("user+list@ext.test",
     "554 5.7.1 <user+list@ext.test>: Sender address rejected: "
     "Extension stripped"),
    ("numeric@sender.test", "250 2.1.5 Ok"),
    ("badcode@sender.test", "451 4.3.5 Server configuration error"),
    ("notopen@sender.test", "451 4.3.5 Server configuration error"),
    ("bogus@sender.test", "451 4.3.5 Server configuration error"),
    ("", "554 5.7.1 <>: Sender address rejected: No bounces here"),
    ("nobody@example.org", "250 2.1.5 Ok"),
]


@pytest.mark.parametrize("sender,reply", SENDER_REPLIES,
                         ids=[s[0] or "<>" for s in SENDER_REPLIES])
def test_sender_access(world, sender, reply):
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["access"], "bob@localhost", sender=sender)
    assert r == reply
    if not reply.startswith("250"):
        wait_line(inst, reject_line("RCPT", "unknown[127.0.0.1]", reply,
                                    sender, "bob@localhost"), since)


def test_table_result_errors_are_logged(world):
    inst, ports = world
    since = inst.log_size()
    for sender in ("notopen@sender.test", "bogus@sender.test",
                   "badcode@sender.test"):
        rcpt_reply(ports["access"], "bob@localhost", sender=sender)
    wait_line(inst, r"warning: access table texthash:\S+/sender_access: "
              r"result \"check_client_access texthash:/no/such/table\": "
              r"restriction check_client_access texthash:/no/such/table: "
              r"table texthash:/no/such/table is not opened at startup",
              since)
    wait_line(inst, r"warning: access table texthash:\S+/sender_access: "
              r"result \"no_such_restriction\": unknown restriction "
              r"\"no_such_restriction\"", since)
    wait_line(inst, r"warning: access table texthash:\S+/sender_access: "
              r"bad reply code in \"250 Fine\"", since)


def test_ok_ends_the_list(world):
    """OK from the sender table: the recipient table is not consulted."""
    inst, ports = world
    assert rcpt_reply(ports["access"], "blocked@localhost",
                      sender="ok@sender.test") == "250 2.1.5 Ok"
    assert rcpt_reply(ports["access"], "blocked@localhost") == \
        "554 5.7.1 <blocked@localhost>: Recipient address rejected: " \
        "Access denied"


def test_client_access(world):
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["access"], "bob@localhost", source="127.0.0.3")
    assert r == "554 5.7.1 <unknown[127.0.0.3]>: Client host rejected: " \
        "Access denied"
    wait_line(inst, reject_line("RCPT", "unknown[127.0.0.3]", r,
                                "joe@example.org", "bob@localhost"), since)
    # A network: the address with its last octets removed.
    assert rcpt_reply(ports["access"], "bob@localhost",
                      source="127.0.9.9") == \
        "554 5.7.1 <unknown[127.0.9.9]>: Client host rejected: " \
        "Your network is blocked"
    # The whole address is tried first; OK ends the list (the sender
    # table would reject).
    assert rcpt_reply(ports["access"], "bob@localhost",
                      sender="reject@sender.test",
                      source="127.0.9.8") == "250 2.1.5 Ok"


def test_helo_access(world):
    inst, ports = world
    assert rcpt_reply(ports["access"], "bob@localhost",
                      helo="spammer.test") == \
        "554 5.7.1 <spammer.test>: Helo command rejected: Access denied"
    # parent_domain_matches_subdomains has smtpd_access_maps.
    assert rcpt_reply(ports["access"], "bob@localhost",
                      helo="mx1.spammer.test") == \
        "554 5.7.1 <mx1.spammer.test>: Helo command rejected: " \
        "Access denied"
    assert rcpt_reply(ports["access"], "bob@localhost",
                      helo="good.spammer.test") == "250 2.1.5 Ok"


def test_recipient_access_421_ends_the_session(world):
    inst, ports = world
    with Client(ports["access"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<joe@example.org>").startswith("250")
        assert c.cmd("RCPT TO:<close@localhost>") == \
            "421 4.7.0 <close@localhost>: Recipient address rejected: " \
            "Closing now"
        assert c.eof()


def test_restriction_class_from_a_table(world):
    """restricted@sender.test may only write to alice."""
    inst, ports = world
    assert rcpt_reply(ports["access"], "alice@localhost",
                      sender="restricted@sender.test") == "250 2.1.5 Ok"
    assert rcpt_reply(ports["access"], "bob@localhost",
                      sender="restricted@sender.test") == \
        "554 5.7.1 <restricted@sender.test>: Sender address rejected: " \
        "Access denied"


def test_restrictions_as_table_result(world):
    inst, ports = world
    assert rcpt_reply(ports["access"], "bob",
                      sender="inline@sender.test") == \
        "504 5.5.2 <bob>: Recipient address rejected: need " \
        "fully-qualified address"
    assert rcpt_reply(ports["access"], "bob@localhost",
                      sender="inline@sender.test") == \
        "504 5.5.2 <bob@localhost>: Recipient address rejected: need " \
        "fully-qualified address"
    assert rcpt_reply(ports["access"], "bob@mail.example.com",
                      sender="inline@sender.test") == "250 2.1.5 Ok"


def test_defer_if_permit_and_reject_from_tables(world):
    inst, ports = world
    assert rcpt_reply(ports["access"], "bob@localhost",
                      sender="dip@sender.test") == \
        "450 4.7.1 <dip@sender.test>: Sender address rejected: Maybe later"
    # A later reject wins over defer_if_permit.
    assert rcpt_reply(ports["access"], "blocked@localhost",
                      sender="dip@sender.test") == \
        "554 5.7.1 <blocked@localhost>: Recipient address rejected: " \
        "Access denied"
    # defer_if_reject turns the later reject into a 4xx ...
    assert rcpt_reply(ports["access"], "blocked@localhost",
                      sender="dir@sender.test") == \
        "450 4.7.1 <dir@sender.test>: Sender address rejected: Not now"
    # ... and does nothing when nothing rejects.
    assert rcpt_reply(ports["access"], "bob@localhost",
                      sender="dir@sender.test") == "250 2.1.5 Ok"


def test_421_from_sender_table(world):
    inst, ports = world
    with Client(ports["access"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<close@sender.test>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>") == \
            "421 4.7.0 <close@sender.test>: Sender address rejected: Closing"
        assert c.eof()


# ---- actions and the queue -----------------------------------------------------

def test_hold(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["access"]) as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "hold@sender.test", ["bob@localhost"])
    wait_line(inst, reject_line(
        "RCPT", "unknown[127.0.0.1]",
        "<hold@sender.test>: Sender address Quarantined",
        "hold@sender.test", "bob@localhost", action="hold"), since)
    assert harness.wait_for(
        lambda: mailsystem.find_queue_file(inst, qid)[0] == "hold")
    queue, qf = mailsystem.find_queue_file(inst, qid)
    assert [r[0] for r in qf.rcpts] == ["bob@localhost"]


def test_discard(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["access"]) as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "discard@sender.test", ["bob@localhost"])
    wait_line(inst, reject_line(
        "RCPT", "unknown[127.0.0.1]",
        "<discard@sender.test>: Sender address triggers DISCARD action",
        "discard@sender.test", "bob@localhost", action="discard"), since)
    assert mailsystem.find_queue_file(inst, qid) == (None, None)


def test_discard_from_client_table(world):
    """DISCARD accepts even relay recipients... but never relays them:
    a stranger's relay attempt is still refused."""
    inst, ports = world
    since = inst.log_size()
    with Client(ports["access"], "127.0.0.6") as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "joe@example.org", ["bob@localhost"])
    wait_line(inst, r"NOQUEUE: discard: RCPT from unknown\[127\.0\.0\.6\]: "
              r"<unknown\[127\.0\.0\.6\]>: Client host triggers DISCARD "
              r"action;", since)
    assert mailsystem.find_queue_file(inst, qid) == (None, None)
    assert rcpt_reply(ports["access"], "victim@example.org",
                      source="127.0.0.6") == \
        "454 4.7.1 <victim@example.org>: Relay access denied"


def test_redirect(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["access"]) as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "redirect@sender.test",
                           ["bob@localhost", "alice@localhost"])
    wait_line(inst, reject_line(
        "RCPT", "unknown[127.0.0.1]",
        "<redirect@sender.test>: Sender address triggers REDIRECT "
        "redirected@localhost", "redirect@sender.test", "bob@localhost",
        action="redirect"), since)
    queue, qf = mailsystem.find_queue_file(inst, qid)
    assert queue == "incoming", inst.log()[since:]
    assert [r[0] for r in qf.rcpts] == ["redirected@localhost"]


def test_prepend(world):
    inst, ports = world
    with Client(ports["access"]) as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "prepend@sender.test",
                           ["bob@localhost", "alice@localhost"])
    queue, qf = mailsystem.find_queue_file(inst, qid)
    assert queue == "incoming"
    # Once, although the sender table ran at each RCPT.
    assert qf.header("X-Petrel-Test") == ["prepended"]


def test_warn(world):
    inst, ports = world
    since = inst.log_size()
    assert rcpt_reply(ports["access"], "bob@localhost",
                      sender="warn@sender.test") == "250 2.1.5 Ok"
    wait_line(inst, reject_line(
        "RCPT", "unknown[127.0.0.1]",
        "<warn@sender.test>: Sender address watch this sender",
        "warn@sender.test", "bob@localhost", action="warn"), since)


# ---- when the lists run ----------------------------------------------------------

def test_delay_reject_no(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["early"], "127.0.0.3") as c:
        greeting = c.reply()
    assert greeting == "554 5.7.1 <unknown[127.0.0.3]>: Client host " \
        "rejected: Access denied"
    wait_line(inst, r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.3\]:"
              r" 554 5\.7\.1 <unknown\[127\.0\.0\.3\]>: Client host "
              r"rejected: Access denied;", since)
    with Client(ports["early"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO spammer.test") == \
            "554 5.7.1 <spammer.test>: Helo command rejected: Access denied"
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<reject@sender.test>") == \
            "554 5.7.1 <reject@sender.test>: Sender address rejected: " \
            "Access denied"
        # defer_if_permit found at MAIL takes effect at RCPT.
        assert c.cmd("MAIL FROM:<dip@sender.test>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>") == \
            "450 4.7.1 <dip@sender.test>: Sender address rejected: " \
            "Maybe later"
        c.cmd("QUIT")
    wait_line(inst, r"NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: "
              r"554 5\.7\.1 <reject@sender\.test>: Sender address rejected:"
              r" Access denied; from=<reject@sender\.test> proto=ESMTP "
              r"helo=<client\.example>$", since)


def test_delay_reject_yes(world):
    """The same lists, evaluated at RCPT: the log names the recipient."""
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["delayed"], "bob@localhost", source="127.0.0.3")
    assert r == "554 5.7.1 <unknown[127.0.0.3]>: Client host rejected: " \
        "Access denied"
    wait_line(inst, reject_line("RCPT", "unknown[127.0.0.3]", r,
                                "joe@example.org", "bob@localhost"), since)
    assert rcpt_reply(ports["delayed"], "bob@localhost",
                      helo="spammer.test") == \
        "554 5.7.1 <spammer.test>: Helo command rejected: Access denied"
    assert rcpt_reply(ports["delayed"], "bob@localhost",
                      sender="reject@sender.test") == \
        "554 5.7.1 <reject@sender.test>: Sender address rejected: " \
        "Access denied"
    assert rcpt_reply(ports["delayed"], "bob@localhost") == "250 2.1.5 Ok"


def test_data_restrictions(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["stages"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<nodata@sender.test>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>").startswith("250")
        assert c.cmd("DATA") == "554 5.7.1 <nodata@sender.test>: Sender " \
            "address rejected: No data for you"
        c.cmd("QUIT")
    wait_line(inst, r"NOQUEUE: reject: DATA from unknown\[127\.0\.0\.1\]: "
              r"554 5\.7\.1 <nodata@sender\.test>: Sender address rejected:"
              r" No data for you;", since)


def test_multi_recipient_bounce(world):
    inst, ports = world
    with Client(ports["stages"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>").startswith("250")
        assert c.cmd("RCPT TO:<alice@localhost>").startswith("250")
        assert c.cmd("DATA") == \
            "550 5.5.3 <>: Sender address rejected: Multi-recipient bounce"
        assert c.cmd("RSET").startswith("250")
        qid = send_message(c, "", ["bob@localhost"])
    assert mailsystem.find_queue_file(inst, qid)[0] == "incoming"


def test_end_of_data_restrictions(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["stages"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("MAIL FROM:<eod@sender.test>").startswith("250")
        assert c.cmd("RCPT TO:<bob@localhost>").startswith("250")
        assert c.cmd("DATA").startswith("354")
        assert c.cmd("Subject: late\r\n\r\nbody\r\n.") == \
            "554 5.7.1 <eod@sender.test>: Sender address rejected: Too late"
        # PREPEND cannot work after the content: a warning, then accepted.
        qid = send_message(c, "eodprepend@sender.test", ["bob@localhost"])
    wait_line(inst, r"reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: "
              r"554 5\.7\.1 <eod@sender\.test>: Sender address rejected: "
              r"Too late;", since)
    wait_line(inst, r"warning: access table texthash:\S+/eod_access: PREPEND"
              r" is not possible after the message content", since)
    queue, qf = mailsystem.find_queue_file(inst, qid)
    assert queue == "incoming" and qf.header("X-Late") == []


def test_end_of_data_hold_and_discard(world):
    """HOLD and DISCARD decided after the content still apply: the held
    message lands in hold/, the discarded one nowhere; both hear 250."""
    inst, ports = world
    with Client(ports["stages"]) as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "eodhold@sender.test", ["bob@localhost"])
        qid2 = send_message(c, "eoddiscard@sender.test", ["bob@localhost"])
    assert harness.wait_for(
        lambda: mailsystem.find_queue_file(inst, qid)[0] == "hold")
    assert inst.wait_log(re.escape(qid) + r": hold: ")
    assert inst.wait_log(re.escape(qid2) + r": discard: ")
    assert harness.wait_for(
        lambda: mailsystem.find_queue_file(inst, qid2)[0] is None)


def test_etrn_restrictions(world):
    inst, ports = world
    with Client(ports["stages"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("ETRN blocked.test") == \
            "554 5.7.1 <blocked.test>: Etrn command rejected: Access denied"
        assert not c.cmd("ETRN other.test").startswith("554")
    with Client(ports["stages"], STRANGER) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("ETRN other.test") == \
            "554 5.7.1 <other.test>: Etrn command rejected: Access denied"


# ---- generic restrictions through classes ------------------------------------------

CLASS_REPLIES = [
    ("warn@localhost", "250 2.1.5 Ok"),
    ("dip@localhost", "450 4.7.1 <dip@localhost>: Recipient address "
     "rejected: defer_if_permit requested"),
    ("dipreject@localhost", "554 5.7.1 <dipreject@localhost>: Recipient "
     "address rejected: Access denied"),
    ("dir@localhost", "450 4.7.1 <dir@localhost>: Recipient address "
     "rejected: defer_if_reject requested"),
    ("dirpermit@localhost", "250 2.1.5 Ok"),
    ("defer@localhost", "450 4.7.1 <defer@localhost>: Recipient address "
     "rejected: Access denied"),
    ("loop@localhost", "451 4.3.5 Server configuration error"),
]


@pytest.mark.parametrize("rcpt,reply", CLASS_REPLIES,
                         ids=[c[0] for c in CLASS_REPLIES])
def test_generic_restrictions(world, rcpt, reply):
    inst, ports = world
    assert rcpt_reply(ports["classes"], rcpt) == reply


def test_warn_if_reject_logs(world):
    inst, ports = world
    since = inst.log_size()
    rcpt_reply(ports["classes"], "warn@localhost")
    wait_line(inst, reject_line(
        "RCPT", "unknown[127.0.0.1]", "554 5.7.1 <warn@localhost>: "
        "Recipient address rejected: Access denied", "joe@example.org",
        "warn@localhost", action="reject_warning"), since)


def test_class_loop_is_logged(world):
    inst, ports = world
    since = inst.log_size()
    rcpt_reply(ports["classes"], "loop@localhost")
    wait_line(inst, r"warning: c_loop: restrictions nested more than \d+ "
              r"deep", since)


# ---- syntax restrictions ---------------------------------------------------------------

SYNTAX = [
    # helo, sender, rcpt, reply
    ("client.example", "joe@example.org", "bob@mail.example.com",
     "250 2.1.5 Ok"),
    ("[127.0.0.1]", "joe@example.org", "bob@mail.example.com",
     "250 2.1.5 Ok"),
    ("client", "joe@example.org", "bob@mail.example.com",
     "504 5.5.2 <client>: Helo command rejected: need fully-qualified "
     "hostname"),
    ("bad_host..example", "joe@example.org", "bob@mail.example.com",
     "501 5.5.2 <bad_host..example>: Helo command rejected: Invalid name"),
    ("-dash.example", "joe@example.org", "bob@mail.example.com",
     "501 5.5.2 <-dash.example>: Helo command rejected: Invalid name"),
    ("client.example", "joe", "bob@mail.example.com",
     "504 5.5.2 <joe>: Sender address rejected: need fully-qualified "
     "address"),
    ("client.example", "joe@localhost", "bob@mail.example.com",
     "504 5.5.2 <joe@localhost>: Sender address rejected: need "
     "fully-qualified address"),
    ("client.example", "", "bob@mail.example.com", "250 2.1.5 Ok"),
    ("client.example", "joe@example.org", "bob",
     "504 5.5.2 <bob>: Recipient address rejected: need fully-qualified "
     "address"),
    ("client.example", "joe@[127.0.0.1]", "bob@[127.0.0.1]",
     "250 2.1.5 Ok"),
]


@pytest.mark.parametrize("helo,sender,rcpt,reply", SYNTAX,
                         ids=[f"{s[0]}-{s[1]}-{s[2]}" for s in SYNTAX])
def test_syntax_restrictions(world, helo, sender, rcpt, reply):
    inst, ports = world
    assert rcpt_reply(ports["syntax"], rcpt, sender=sender, helo=helo) \
        == reply


def test_reject_unauth_pipelining(world):
    inst, ports = world
    since = inst.log_size()
    with Client(ports["pipe"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("HELO client.example").startswith("250")
        c.send(b"MAIL FROM:<joe@example.org>\r\nRCPT TO:<bob@localhost>\r\n"
               b"DATA\r\nSubject: rushed\r\n\r\nhi\r\n.\r\n")
        assert c.reply().startswith("250")
        assert c.reply().startswith("250")
        assert c.reply() == "503 5.5.0 <DATA>: Data command rejected: " \
            "Improper use of SMTP command pipelining"
    wait_line(inst, r"NOQUEUE: reject: DATA from unknown\[127\.0\.0\.1\]: "
              r"503 5\.5\.0 <DATA>: Data command rejected: Improper use of "
              r"SMTP command pipelining;", since)
    # After EHLO too: the content must wait for the 354.
    with Client(ports["pipe"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        c.send(b"MAIL FROM:<joe@example.org>\r\nRCPT TO:<bob@localhost>\r\n"
               b"DATA\r\nSubject: rushed\r\n\r\nhi\r\n.\r\n")
        assert c.reply().startswith("250")
        assert c.reply().startswith("250")
        assert c.reply() == "503 5.5.0 <DATA>: Data command rejected: " \
            "Improper use of SMTP command pipelining"
    # A client that waits for each reply is fine.
    with Client(ports["pipe"]) as c:
        assert c.reply().startswith("220")
        qid = send_message(c, "joe@example.org", ["bob@localhost"])
    assert mailsystem.find_queue_file(inst, qid)[0] == "incoming"


# ---- unlisted recipients and senders -------------------------------------------------

UNLISTED = [
    ("nobody@localhost", "550 5.1.1 <nobody@localhost>: Recipient address "
     "rejected: User unknown in local recipient table"),
    ("nobody@mail.example.com", "550 5.1.1 <nobody@mail.example.com>: "
     "Recipient address rejected: User unknown in local recipient table"),
    ("bob+ext@localhost", "250 2.1.5 Ok"),
    ("unknown@valias.test", "550 5.1.1 <unknown@valias.test>: Recipient "
     "address rejected: User unknown in virtual alias table"),
    ("known@valias.test", "250 2.1.5 Ok"),
    ("nobox@vmbox.test", "550 5.1.1 <nobox@vmbox.test>: Recipient address "
     "rejected: User unknown in virtual mailbox table"),
    ("box@vmbox.test", "250 2.1.5 Ok"),
    ("other@relay.test", "550 5.1.1 <other@relay.test>: Recipient address "
     "rejected: User unknown in relay recipient table"),
    ("known@relay.test", "250 2.1.5 Ok"),
    ("anyone@example.org", "250 2.1.5 Ok"),
]


@pytest.mark.parametrize("rcpt,reply", UNLISTED, ids=[u[0] for u in UNLISTED])
def test_unlisted_recipient(world, rcpt, reply):
    inst, ports = world
    since = inst.log_size()
    assert rcpt_reply(ports["default"], rcpt) == reply
    if not reply.startswith("250"):
        wait_line(inst, reject_line("RCPT", "unknown[127.0.0.1]", reply,
                                    "joe@example.org", rcpt), since)


def test_vrfy_unlisted(world):
    inst, ports = world
    with Client(ports["default"]) as c:
        assert c.reply().startswith("220")
        assert c.cmd("EHLO client.example").startswith("250")
        assert c.cmd("VRFY <nobody@localhost>") == \
            "550 5.1.1 <nobody@localhost>: Recipient address rejected: " \
            "User unknown in local recipient table"
        assert c.cmd("VRFY <bob@localhost>").startswith("252")


def test_unlisted_sender(world):
    inst, ports = world
    assert rcpt_reply(ports["sendermaps"], "bob@localhost",
                      sender="nobody@localhost") == \
        "550 5.1.0 <nobody@localhost>: Sender address rejected: " \
        "User unknown"
    assert rcpt_reply(ports["sendermaps"], "bob@localhost",
                      sender="alice@localhost") == "250 2.1.5 Ok"
    assert rcpt_reply(ports["sendermaps"], "bob@localhost",
                      sender="") == "250 2.1.5 Ok"
    # show_user_unknown_table_name = no there.
    assert rcpt_reply(ports["sendermaps"], "nobody@localhost") == \
        "550 5.1.1 <nobody@localhost>: Recipient address rejected: " \
        "User unknown"


# ---- failures ------------------------------------------------------------------------------

def test_table_failure_is_temporary(world):
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["fail"], "bob@localhost")
    assert r == "451 4.3.0 <bob@localhost>: Temporary lookup failure"
    wait_line(inst, reject_line("RCPT", "unknown[127.0.0.1]", r,
                                "joe@example.org", "bob@localhost"), since)
    wait_line(inst, r"warning: texthash:/no/such/table lookup error for "
              r"\"bob@localhost\"", since)


def test_recipient_table_failure_is_temporary(world):
    inst, ports = world
    assert rcpt_reply(ports["failmaps"], "bob@localhost") == \
        "451 4.3.0 <bob@localhost>: Temporary lookup failure"
    assert rcpt_reply(ports["failmaps"], "nobody@localhost") == \
        "451 4.3.0 <nobody@localhost>: Temporary lookup failure"
    # Not local: not looked up.
    assert rcpt_reply(ports["failmaps"], "friend@example.org") == \
        "250 2.1.5 Ok"


# ---- main.cf checks ------------------------------------------------------------------

def test_restriction_classes_are_used_parameters():
    """A class is a main.cf parameter that smtpd_restriction_classes names
    (postconf(5)); nothing refers to it with $name, and petrel must not
    call it unused (a Postfix main.cf with classes must start)."""
    inst = mailsystem.harness_instance(
        smtpd_restriction_classes="only_alice",
        only_alice="check_recipient_access inline:{alice@localhost=OK}, "
                   "reject",
        smtpd_recipient_restrictions="permit_mynetworks, "
                                     "reject_unauth_destination")
    try:
        r = inst.petrel("check")
        assert "unused parameter" not in r.stdout + r.stderr, \
            r.stdout + r.stderr
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        mailsystem.finish(inst)
