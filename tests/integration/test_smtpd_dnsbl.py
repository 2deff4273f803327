"""
test_smtpd_dnsbl.py - smtpd's DNS restrictions (smtpd_check_dns.c,
smtpd_dns.c) against a real DNS server

A dnsmasq on a free loopback port is the only DNS server (dns_servers),
authoritative for test. and 0.0.127.in-addr.arpa.: everything it does
not list does not exist (NXDOMAIN). Clients connect from 127.0.0.x:

	127.0.0.2  PTR client2.test, A client2.test = 127.0.0.2 (confirmed)
	127.0.0.3  PTR liar.test, but liar.test = 127.0.0.99 (not confirmed)
	127.0.0.4  no PTR

and the lists say:

	rbl.test	127.0.0.2 -> 127.0.0.2 with a TXT reason,
			127.0.0.3 -> 127.0.0.10 (no reason)
	rbl2.test	127.0.0.2 (its reply comes from rbl_reply_maps)
	wl.test		127.0.0.2 (an allowlist)
	rhsbl.test	spam.test, client2.test, bad.helo.test

Name checks use mx.test (an MX), a-only.test (an A), aaaa-only.test (an
AAAA) and nx.test (nothing). Services whose dns_servers is a UDP socket
that never answers (dns_timeout 1s, dns_tries 1) show that a DNS failure
is a 4xx (defer_if_permit by default, "defer" on request), never a 5xx
and never "not listed" for an allowlist.
"""

import os
import re
import shutil
import socket
import struct
import subprocess

import pytest

import harness
import mailsystem
from smtpclient import RawSmtp as Client, rcpt_reply, wait_line

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

RECORDS = [
    "--ptr-record=2.0.0.127.in-addr.arpa,client2.test",
    "--host-record=client2.test,127.0.0.2",
    "--ptr-record=3.0.0.127.in-addr.arpa,liar.test",
    "--host-record=liar.test,127.0.0.99",
    "--address=/2.0.0.127.rbl.test/127.0.0.2",
    "--txt-record=2.0.0.127.rbl.test,Listed: see http://rbl.test/?127.0.0.2",
    "--address=/3.0.0.127.rbl.test/127.0.0.10",
    "--address=/2.0.0.127.rbl2.test/127.0.0.4",
    "--address=/2.0.0.127.wl.test/127.0.0.5",
    "--address=/spam.test.rhsbl.test/127.0.0.2",
    "--txt-record=spam.test.rhsbl.test,Spam domain",
    "--address=/client2.test.rhsbl.test/127.0.0.2",
    "--address=/bad.helo.test.rhsbl.test/127.0.0.2",
    "--mx-host=mx.test,mail.mx.test,10",
    "--host-record=mail.mx.test,192.0.2.25",
    "--host-record=a-only.test,192.0.2.26",
    "--host-record=aaaa-only.test,2001:db8::26",
    # RFC 7505: "MX 0 ." says the domain accepts no mail.
    "--mx-host=nullmx.test,.,0",
    "--host-record=nullmx.test,192.0.2.27",
]


def dns_query_packet(name, qtype=1):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def answers(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(dns_query_packet("client2.test"), ("127.0.0.1", port))
            return len(s.recv(512)) > 12
        except OSError:
            return False


@pytest.fixture(scope="module")
def dnsmasq():
    """'127.0.0.1:port' of a running dnsmasq with RECORDS."""
    port = harness.free_port()
    argv = [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts",
            f"--port={port}", "--listen-address=127.0.0.1",
            "--bind-interfaces", "--conf-file=/dev/null", "--pid-file=",
            "--local=/test/", "--local=/0.0.127.in-addr.arpa/"] + RECORDS
    if os.geteuid() == 0:
        argv.append("--user=root")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not harness.wait_for(lambda: p.poll() is not None
                                or answers(port), timeout=10) \
                or p.poll() is not None:
            pytest.fail("dnsmasq did not start: "
                        + p.stderr.read().decode(errors="replace"))
        yield f"127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(timeout=10)
        p.stderr.close()


@pytest.fixture(scope="module")
def silent():
    """A UDP 'DNS server' that never answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


DEAD = {"dns_servers": "$t_silent", "dns_timeout": "1s", "dns_tries": "1",
        "smtpd_peername_lookup": "no"}

SERVICES = {
    "rbl": {"smtpd_recipient_restrictions": "$t_rbl"},
    "rbl_filter": {"smtpd_recipient_restrictions": "$t_rbl_filter"},
    "rbl_maps": {"smtpd_recipient_restrictions": "$t_rbl_maps"},
    "rbl_client_stage": {"smtpd_client_restrictions": "$t_rbl",
                         "smtpd_delay_reject": "no"},
    "dnswl": {"smtpd_recipient_restrictions": "$t_dnswl"},
    "dnswl_legacy": {"smtpd_relay_restrictions": "$t_empty",
                     "smtpd_recipient_restrictions": "$t_dnswl_legacy"},
    "rhsbl": {"smtpd_recipient_restrictions": "$t_rhsbl"},
    "unknown": {"smtpd_recipient_restrictions": "$t_unknown"},
    "unknown550": {"smtpd_recipient_restrictions": "$t_unknown",
                   "unknown_address_reject_code": "550",
                   "unknown_hostname_reject_code": "550"},
    "client_name": {"smtpd_client_restrictions":
                    "reject_unknown_client_hostname"},
    "client_name550": {"smtpd_client_restrictions":
                       "reject_unknown_client_hostname",
                       "unknown_client_reject_code": "550"},
    "reverse_name": {"smtpd_client_restrictions":
                     "reject_unknown_reverse_client_hostname"},
    "name_access": {"smtpd_client_restrictions": "$t_name_access"},
    "dead_rbl": dict(DEAD, smtpd_recipient_restrictions="$t_rbl"),
    "dead_domain": dict(DEAD, smtpd_recipient_restrictions="$t_dead_domain"),
    "dead_domain_defer": dict(DEAD,
                              smtpd_recipient_restrictions="$t_dead_domain",
                              unknown_address_tempfail_action="defer"),
    "dead_helo": dict(DEAD, smtpd_recipient_restrictions="$t_dead_helo"),
    "dead_dnswl": dict(DEAD, smtpd_recipient_restrictions="$t_dnswl"),
    "dead_client": dict(DEAD, smtpd_peername_lookup="yes",
                        unknown_client_reject_code="550",
                        smtpd_client_restrictions=(
                            "reject_unknown_client_hostname")),
}


@pytest.fixture(scope="module")
def world(dnsmasq, silent):
    """(inst, {service: port})."""
    inst = mailsystem.harness_instance()
    d = inst.dir
    tables = {
        "rbl_replies": "rbl2.test 550 5.7.1 Custom: $client_address listed "
                       "at $rbl_domain${rbl_reason?, $rbl_reason} "
                       "(helo $helo_name, from $sender)\n",
        "rcpt_block": "blocked@localhost REJECT\n",
        "name_access": "client2.test REJECT Named\n",
        "reverse_access": "liar.test REJECT Liar\n",
    }
    for name, text in tables.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(d, name), 0o644)
    inst.set_main(
        dns_servers=dnsmasq, dns_timeout="2s", dns_tries="2",
        rbl_reply_maps=f"texthash:{d}/rbl_replies",
        t_silent=silent, t_empty="",
        t_rbl="reject_rbl_client rbl.test",
        t_rbl_filter="reject_rbl_client rbl.test=127.0.0.2",
        t_rbl_maps="reject_rbl_client rbl2.test",
        t_dnswl="permit_dnswl_client wl.test, reject_rbl_client rbl.test, "
                f"check_recipient_access texthash:{d}/rcpt_block",
        t_dnswl_legacy="permit_dnswl_client wl.test, "
                       "reject_unauth_destination",
        t_rhsbl="reject_rhsbl_sender rhsbl.test, reject_rhsbl_helo "
                "rhsbl.test, reject_rhsbl_client rhsbl.test",
        t_unknown="reject_unknown_helo_hostname, "
                  "reject_unknown_sender_domain, "
                  "reject_unknown_recipient_domain",
        t_name_access=f"check_client_access texthash:{d}/name_access, "
                      "check_reverse_client_hostname_access "
                      f"texthash:{d}/reverse_access",
        t_dead_domain="reject_unknown_sender_domain, "
                      f"check_recipient_access texthash:{d}/rcpt_block",
        t_dead_helo="reject_unknown_helo_hostname",
    )
    inst.services = [e for e in inst.services if e[0] != "qmgr"]
    ports = {}
    for name, opts in SERVICES.items():
        ports[name] = mailsystem.add_smtpd(inst, opts=opts)
    try:
        inst.start()
        assert harness.wait_for(lambda: all(harness.port_listening(p)
                                            for p in ports.values()),
                                timeout=30), inst.log()
        yield inst, ports
    finally:
        mailsystem.finish(inst)


# ---- DNS block lists ------------------------------------------------------------

RBL_REPLY = ("554 5.7.1 Service unavailable; Client host [127.0.0.2] "
             "blocked using rbl.test; Listed: see http://rbl.test/?127.0.0.2")


def test_rbl_client(world):
    inst, ports = world
    since = inst.log_size()
    assert rcpt_reply(ports["rbl"], source="127.0.0.2") == RBL_REPLY
    # The line fail2ban's postfix filter looks for.
    wait_line(inst, r"NOQUEUE: reject: RCPT from client2\.test\[127\.0\.0\.2\]"
              r": " + re.escape(RBL_REPLY) + r"; from=<joe@example\.org> "
              r"to=<bob@localhost> proto=ESMTP helo=<client\.example>$",
              since)
    # Listed without a TXT record: no reason.
    assert rcpt_reply(ports["rbl"], source="127.0.0.3") == \
        "554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked " \
        "using rbl.test"
    assert rcpt_reply(ports["rbl"], source="127.0.0.4") == "250 2.1.5 Ok"


def test_rbl_filter(world):
    inst, ports = world
    assert rcpt_reply(ports["rbl_filter"], source="127.0.0.2") == \
        "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked " \
        "using rbl.test=127.0.0.2; Listed: see http://rbl.test/?127.0.0.2"
    # Listed as 127.0.0.10: the filter does not match.
    assert rcpt_reply(ports["rbl_filter"], source="127.0.0.3") == \
        "250 2.1.5 Ok"


def test_rbl_reply_maps(world):
    inst, ports = world
    assert rcpt_reply(ports["rbl_maps"], source="127.0.0.2",
                      helo="client2.test", sender="") == \
        "550 5.7.1 Custom: 127.0.0.2 listed at rbl2.test " \
        "(helo client2.test, from <>)"


def test_rbl_at_connect(world):
    """smtpd_delay_reject = no: the reject is the greeting."""
    inst, ports = world
    since = inst.log_size()
    with Client(ports["rbl_client_stage"], "127.0.0.2") as c:
        assert c.reply() == RBL_REPLY
    wait_line(inst, r"NOQUEUE: reject: CONNECT from client2\.test"
              r"\[127\.0\.0\.2\]: " + re.escape(RBL_REPLY) + ";", since)
    with Client(ports["rbl_client_stage"], "127.0.0.4") as c:
        assert c.reply().startswith("220")


def test_dnswl(world):
    inst, ports = world
    # Allowed before the block list and before the recipient table.
    assert rcpt_reply(ports["dnswl"], source="127.0.0.2") == "250 2.1.5 Ok"
    assert rcpt_reply(ports["dnswl"], "blocked@localhost",
                      source="127.0.0.2") == "250 2.1.5 Ok"
    assert rcpt_reply(ports["dnswl"], source="127.0.0.3") == \
        "554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked " \
        "using rbl.test"


def test_dnswl_never_opens_a_relay(world):
    inst, ports = world
    assert rcpt_reply(ports["dnswl_legacy"], "victim@example.org",
                      source="127.0.0.2") == \
        "554 5.7.1 <victim@example.org>: Relay access denied"
    assert rcpt_reply(ports["dnswl_legacy"], source="127.0.0.2") == \
        "250 2.1.5 Ok"


RHSBL = [
    # source, helo, sender, reply
    ("127.0.0.4", "client.example", "joe@spam.test",
     "554 5.7.1 Service unavailable; Sender address [joe@spam.test] "
     "blocked using rhsbl.test; Spam domain"),
    ("127.0.0.4", "bad.helo.test", "joe@example.org",
     "554 5.7.1 Service unavailable; Helo command [bad.helo.test] blocked "
     "using rhsbl.test"),
    ("127.0.0.2", "client.example", "joe@example.org",
     "554 5.7.1 Service unavailable; Client host [client2.test] blocked "
     "using rhsbl.test"),
    ("127.0.0.4", "client.example", "joe@example.org", "250 2.1.5 Ok"),
    ("127.0.0.4", "[127.0.0.1]", "", "250 2.1.5 Ok"),
]


@pytest.mark.parametrize("source,helo,sender,reply", RHSBL,
                         ids=["sender", "helo", "client", "clean",
                              "literal"])
def test_rhsbl(world, source, helo, sender, reply):
    inst, ports = world
    assert rcpt_reply(ports["rhsbl"], sender=sender, helo=helo,
                      source=source) == reply


# ---- unknown names ---------------------------------------------------------------

UNKNOWN = [
    # helo, sender, rcpt, reply
    ("mx.test", "joe@mx.test", "bob@localhost", "250 2.1.5 Ok"),
    ("a-only.test", "joe@a-only.test", "x@aaaa-only.test", "250 2.1.5 Ok"),
    ("aaaa-only.test", "joe@localhost", "bob@localhost", "250 2.1.5 Ok"),
    ("[127.0.0.1]", "", "bob@localhost", "250 2.1.5 Ok"),
    ("nx.test", "joe@mx.test", "bob@localhost",
     "450 4.7.1 <nx.test>: Helo command rejected: Host not found"),
    ("mx.test", "joe@nx.test", "bob@localhost",
     "450 4.1.8 <joe@nx.test>: Sender address rejected: Domain not found"),
    ("mx.test", "joe@mx.test", "x@nx.test",
     "450 4.1.2 <x@nx.test>: Recipient address rejected: Domain not found"),
    # A null MX is permanent, whatever A records the domain has; it does
    # not make a HELO name unknown.
    ("nullmx.test", "joe@nullmx.test", "bob@localhost",
     "550 5.7.27 <joe@nullmx.test>: Sender address rejected: Domain "
     "nullmx.test does not accept mail (nullMX)"),
    ("mx.test", "joe@mx.test", "x@nullmx.test",
     "556 5.1.10 <x@nullmx.test>: Recipient address rejected: Domain "
     "nullmx.test does not accept mail (nullMX)"),
]


@pytest.mark.parametrize("helo,sender,rcpt,reply", UNKNOWN,
                         ids=[f"{u[0]}-{u[1]}-{u[2]}" for u in UNKNOWN])
def test_unknown_names(world, helo, sender, rcpt, reply):
    inst, ports = world
    assert rcpt_reply(ports["unknown"], rcpt, sender=sender, helo=helo) \
        == reply


def test_unknown_reject_codes(world):
    inst, ports = world
    assert rcpt_reply(ports["unknown550"], sender="joe@nx.test",
                      helo="mx.test") == \
        "550 5.1.8 <joe@nx.test>: Sender address rejected: Domain not found"
    assert rcpt_reply(ports["unknown550"], helo="nx.test") == \
        "550 5.7.1 <nx.test>: Helo command rejected: Host not found"


CLIENT_NAMES = [
    ("client_name", "127.0.0.2", "250 2.1.5 Ok"),
    ("client_name", "127.0.0.3", "450 4.7.1 Client host rejected: cannot "
     "find your hostname, [127.0.0.3]"),
    ("client_name", "127.0.0.4", "450 4.7.1 Client host rejected: cannot "
     "find your hostname, [127.0.0.4]"),
    ("client_name550", "127.0.0.4", "550 5.7.1 Client host rejected: "
     "cannot find your hostname, [127.0.0.4]"),
    ("reverse_name", "127.0.0.3", "250 2.1.5 Ok"),
    ("reverse_name", "127.0.0.4", "450 4.7.1 Client host rejected: cannot "
     "find your reverse hostname, [127.0.0.4]"),
    ("name_access", "127.0.0.2", "554 5.7.1 <client2.test[127.0.0.2]>: "
     "Client host rejected: Named"),
    ("name_access", "127.0.0.3", "554 5.7.1 <liar.test[127.0.0.3]>: "
     "Unverified Client host rejected: Liar"),
    ("name_access", "127.0.0.4", "250 2.1.5 Ok"),
]


@pytest.mark.parametrize("service,source,reply", CLIENT_NAMES,
                         ids=[f"{c[0]}-{c[1]}" for c in CLIENT_NAMES])
def test_client_names(world, service, source, reply):
    inst, ports = world
    assert rcpt_reply(ports[service], source=source) == reply


# ---- DNS failures ------------------------------------------------------------------

def test_dead_dns_rbl_defers(world):
    inst, ports = world
    since = inst.log_size()
    r = rcpt_reply(ports["dead_rbl"], source="127.0.0.2")
    assert r == "450 4.7.1 <unknown[127.0.0.2]>: Client host rejected: " \
        "Temporary DNS lookup failure at rbl.test"
    wait_line(inst, r"warning: DNS lookup of 2\.0\.0\.127\.rbl\.test \(A\) "
              r"failed: ", since)


def test_dead_dns_domain(world):
    inst, ports = world
    reply = "450 4.1.8 <joe@nx.test>: Sender address rejected: Domain " \
        "not found"
    assert rcpt_reply(ports["dead_domain"], sender="joe@nx.test") == reply
    # defer_if_permit: a later reject still wins ...
    assert rcpt_reply(ports["dead_domain"], "blocked@localhost",
                      sender="joe@nx.test") == \
        "554 5.7.1 <blocked@localhost>: Recipient address rejected: " \
        "Access denied"
    # ... unless unknown_address_tempfail_action = defer.
    assert rcpt_reply(ports["dead_domain_defer"], "blocked@localhost",
                      sender="joe@nx.test") == reply


def test_dead_dns_helo(world):
    inst, ports = world
    assert rcpt_reply(ports["dead_helo"], helo="nx.test") == \
        "450 4.7.1 <nx.test>: Helo command rejected: Host not found"
    assert rcpt_reply(ports["dead_helo"], helo="[127.0.0.1]") == \
        "250 2.1.5 Ok"


def test_dead_dns_allowlist_is_not_a_no(world):
    """A failed allowlist lookup turns a later reject into a 4xx."""
    inst, ports = world
    assert rcpt_reply(ports["dead_dnswl"], "blocked@localhost",
                      source="127.0.0.4") == \
        "450 4.7.1 <unknown[127.0.0.4]>: Client host rejected: Temporary " \
        "DNS lookup failure at wl.test"


def test_dead_dns_client_name(world):
    """A client name that could not be looked up: 450 even when
    unknown_client_reject_code is 550."""
    inst, ports = world
    assert rcpt_reply(ports["dead_client"], source="127.0.0.4") == \
        "450 4.7.1 Client host rejected: cannot find your hostname, " \
        "[127.0.0.4]"
