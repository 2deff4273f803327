"""
test_conf.py - petrel conf (Postfix's postconf) on a real configuration

Printing (all, by name, -n, -d, -h, -x, -M, -c), unknown names, and
editing with -e: in place and atomic, every other byte of main.cf kept,
appending what is absent, refusing bad values without touching the file.
The default of mynetworks follows mynetworks_style, checked against the
interfaces that `ip -j addr` reports.
"""

import ipaddress
import json
import os
import re
import subprocess

from harness import repo_dir

EX_CONFIG = 78


def param_defs():
    """{name: (kind, default text or None)} from src/lib/global/params.def."""
    out = {}
    path = os.path.join(repo_dir(), "src", "lib", "global", "params.def")
    with open(path) as f:
        for line in f:
            m = re.match(r"^P_(STR|RAW|DYN|INT|LONG|BOOL|TIME)\((\w+)"
                         r"(?:,\s*(\"[^\"]*\"|[\w.-]+))?", line)
            if not m:
                continue
            kind, name, default = m.groups()
            if default is None or not (default.startswith('"')
                                       or kind in ("INT", "LONG", "BOOL")):
                out[name] = (kind, None)    # computed or a build macro
            else:
                default = default.strip('"').rstrip("L")
                if kind == "BOOL":
                    default = {"true": "yes", "false": "no"}.get(default,
                                                                 default)
                out[name] = (kind, default)
    return out


def conf_lines(r):
    """Parse 'name = value' lines into an ordered list of (name, value)."""
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        name, eq, value = line.partition("=")
        assert eq, f"not 'name = value': {line!r}"
        out.append((name.strip(), value.strip()))
    return out


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_main(instance, text):
    with open(instance.main_cf, "w") as f:
        f.write(text)


def test_params_def_is_parsed():
    defs = param_defs()
    assert defs["max_use"] == ("INT", "100")
    assert defs["max_idle"] == ("TIME", "100s")


def test_conf_prints_every_parameter(instance):
    r = instance.petrel("conf")
    got = conf_lines(r)
    names = [n for n, _ in got]
    for name in param_defs():
        assert name in names, f"{name} missing from petrel conf"
    assert names == sorted(names)
    values = dict(got)
    assert values["max_use"] == "100"
    assert values["queue_directory"] == instance.queue
    assert values["service_throttle_time"] == "2s"


def test_conf_prints_named_parameters_in_order(instance):
    instance.set_main(max_use="7")
    r = instance.petrel("conf", "queue_directory", "max_use")
    assert conf_lines(r) == [("queue_directory", instance.queue),
                             ("max_use", "7")]


def test_conf_n_prints_only_main_cf_settings(instance):
    instance.set_main(myorigin="$mydomain")
    got = dict(conf_lines(instance.petrel("conf", "-n")))
    assert set(got) == set(instance.params)
    assert got["myorigin"] == "$mydomain"
    assert "max_use" not in got


def test_conf_d_prints_defaults(instance):
    instance.set_main(max_use="5", max_idle="7s", mail_name="Other")
    got = dict(conf_lines(instance.petrel("conf", "-d")))
    for name, (kind, default) in param_defs().items():
        assert name in got, name
        if default is not None:
            assert got[name] == default, f"{name}: {got[name]!r}"
    assert got["queue_directory"] != instance.queue
    r = instance.petrel("conf", "-d", "max_use")
    assert conf_lines(r) == [("max_use", "100")]


def test_conf_h_prints_values_only(instance):
    instance.set_main(max_use="9")
    r = instance.petrel("conf", "-h", "max_use", "max_idle")
    assert r.returncode == 0
    assert r.stdout == "9\n100s\n"


def test_conf_x_expands(instance):
    instance.set_main(mail_name="Tern",
                      mydestination="$mail_name, ${mail_name}.example, "
                      "${mail_name?set}${no_such_name:unset}")
    r = instance.petrel("conf", "mydestination")
    assert conf_lines(r) == [("mydestination",
                              "$mail_name, ${mail_name}.example, "
                              "${mail_name?set}${no_such_name:unset}")]
    r = instance.petrel("conf", "-x", "mydestination")
    assert conf_lines(r) == [("mydestination",
                              "Tern, Tern.example, setunset")]
    r = instance.petrel("conf", "-xh", "mydestination")
    assert r.stdout == "Tern, Tern.example, setunset\n"


def test_conf_unknown_name_warns(instance):
    r = instance.petrel("conf", "no_such_parameter", "max_use")
    assert r.returncode == 0
    assert re.search(r"unknown parameter", r.stderr)
    assert "no_such_parameter" in r.stderr
    assert "max_use = 100" in r.stdout.splitlines()
    assert "no_such_parameter" not in r.stdout


def test_conf_c_selects_directory(instance):
    other = os.path.join(instance.dir, "other")
    os.mkdir(other)
    with open(os.path.join(other, "main.cf"), "w") as f:
        f.write("max_use = 3\n")
    r = instance.run([os.path.join(instance.src, "petrel"), "conf", "-c",
                      other, "max_use"])
    assert conf_lines(r) == [("max_use", "3")]
    r = instance.run([os.path.join(instance.src, "petrel"), "-c", other,
                      "conf", "-h", "max_use"])
    assert r.stdout == "3\n"
    # A missing main.cf is an error that names it.
    empty = os.path.join(instance.dir, "empty")
    os.mkdir(empty)
    r = instance.run([os.path.join(instance.src, "petrel"), "conf", "-c",
                      empty, "max_use"])
    assert r.returncode != 0
    assert os.path.join(empty, "main.cf") in r.stderr


# ---- -e -------------------------------------------------------------------

MAIN_CF = (
    "# A hand-written main.cf: comments, odd spacing and continuations\n"
    "#max_use = 1\n"
    "\n"
    "queue_directory = {queue}\n"
    "max_use=4   \n"
    "   \n"
    "mydestination = a.example,\n"
    "\tb.example,\n"
    "# a comment inside a continued value\n"
    "    c.example\n"
    "mail_name\t=\tPetrel  test\n"
    "# trailing comment\n"
)


def test_conf_e_replaces_in_place_keeping_other_bytes(instance):
    text = MAIN_CF.format(queue=instance.queue)
    write_main(instance, text)
    ino = os.stat(instance.main_cf).st_ino
    r = instance.petrel("conf", "-e", "max_use=7")
    assert r.returncode == 0, r.stderr
    new = read_bytes(instance.main_cf).decode()
    old_lines = text.split("\n")
    new_lines = new.split("\n")
    assert len(new_lines) == len(old_lines), new
    i = old_lines.index("max_use=4   ")
    for n, (a, b) in enumerate(zip(old_lines, new_lines)):
        if n == i:
            assert re.fullmatch(r"max_use\s*=\s*7", b), repr(b)
        else:
            assert a == b, f"line {n + 1} changed: {a!r} -> {b!r}"
    # Atomic: a new file renamed into place, no temporary left behind.
    assert os.stat(instance.main_cf).st_ino != ino
    assert sorted(os.listdir(instance.etc)) == ["main.cf", "master.cf"]
    assert instance.petrel("conf", "-h", "max_use").stdout == "7\n"


def test_conf_e_replaces_continued_value(instance):
    text = MAIN_CF.format(queue=instance.queue)
    write_main(instance, text)
    r = instance.petrel("conf", "-e", "mydestination=x.example, y.example")
    assert r.returncode == 0, r.stderr
    new = read_bytes(instance.main_cf).decode()
    head, _, rest = text.partition("mydestination = a.example,\n")
    tail = rest.partition("    c.example\n")[2]
    assert new.startswith(head)
    assert new.endswith(tail)
    middle = new[len(head):len(new) - len(tail)]
    # The comment inside the old value may stay or go; the value is gone.
    assert re.fullmatch(r"(# a comment inside a continued value\n)?"
                        r"mydestination\s*=\s*x\.example, y\.example\n"
                        r"(# a comment inside a continued value\n)?",
                        middle), repr(middle)
    assert instance.petrel("conf", "-h", "mydestination").stdout == \
        "x.example, y.example\n"


def test_conf_e_appends_absent_parameter(instance):
    text = MAIN_CF.format(queue=instance.queue)
    write_main(instance, text)
    r = instance.petrel("conf", "-e", "max_idle=30s")
    assert r.returncode == 0, r.stderr
    new = read_bytes(instance.main_cf).decode()
    assert new.startswith(text)
    assert re.fullmatch(r"max_idle\s*=\s*30s\n", new[len(text):])


def test_conf_e_appends_after_missing_final_newline(instance):
    text = f"queue_directory = {instance.queue}\nmax_use = 4"
    write_main(instance, text)
    r = instance.petrel("conf", "-e", "max_idle=30s")
    assert r.returncode == 0, r.stderr
    new = read_bytes(instance.main_cf).decode()
    assert new.startswith(text + "\n")
    assert re.fullmatch(r"max_idle\s*=\s*30s\n", new[len(text) + 1:])
    assert conf_lines(instance.petrel("conf", "max_use", "max_idle")) == \
        [("max_use", "4"), ("max_idle", "30s")]


def test_conf_e_refuses_bad_value(instance):
    text = MAIN_CF.format(queue=instance.queue)
    write_main(instance, text)
    ino = os.stat(instance.main_cf).st_ino
    for bad in ("max_use=0", "max_use=lots", "max_idle=forever"):
        r = instance.petrel("conf", "-e", bad)
        assert r.returncode == EX_CONFIG, (bad, r.stdout, r.stderr)
        assert bad.split("=")[0] in r.stderr, r.stderr
        assert read_bytes(instance.main_cf) == text.encode()
        assert os.stat(instance.main_cf).st_ino == ino
    assert sorted(os.listdir(instance.etc)) == ["main.cf", "master.cf"]


# ---- mynetworks and mynetworks_style ---------------------------------------

def interface_addrs():
    """ipaddress.ip_interface of every address of every interface."""
    r = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True,
                       text=True, check=True)
    return [ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}")
            for link in json.loads(r.stdout)
            for a in link.get("addr_info", [])
            if a.get("family") in ("inet", "inet6")]


def net_text(net):
    """A network as mynetworks writes it: a.b.c.d/n or [v6]/n."""
    if net.version == 4:
        return str(net)
    return f"[{net.network_address}]/{net.prefixlen}"


def class_net(iface):
    """The class A/B/C network of an IPv4 address; IPv6 as subnet."""
    if iface.version == 6:
        return iface.network
    first = int(iface.ip) >> 24
    prefix = 8 if first < 128 else 16 if first < 192 else 24 \
        if first < 224 else 32
    return ipaddress.ip_interface(f"{iface.ip}/{prefix}").network


def conf_value(instance, *args):
    got = conf_lines(instance.petrel("conf", *args))
    assert len(got) == 1, got
    return got[0][1]


def test_mynetworks_follows_style(instance):
    ifaces = interface_addrs()
    assert ifaces, "no interface addresses"
    host = {net_text(ipaddress.ip_network(i.ip)) for i in ifaces}
    subnet = {net_text(i.network) for i in ifaces}
    klass = {net_text(class_net(i)) for i in ifaces}
    assert "127.0.0.1/32" in host and "127.0.0.0/8" in subnet

    # Unset: the default style, host.
    got = conf_value(instance, "mynetworks")
    assert set(got.split()) == host, got
    assert len(got.split()) == len(host), "duplicates: " + got
    assert set(conf_value(instance, "-d", "mynetworks").split()) == host

    instance.set_main(mynetworks_style="subnet")
    assert set(conf_value(instance, "mynetworks").split()) == subnet
    # $mynetworks in another parameter follows the style too.
    got = conf_value(instance, "-x", "smtpd_client_event_limit_exceptions")
    assert set(got.split()) == subnet, got
    # -d shows the defaults: the host style.
    assert set(conf_value(instance, "-d", "mynetworks").split()) == host

    instance.set_main(mynetworks_style="class")
    assert set(conf_value(instance, "mynetworks").split()) == klass

    # The style may come through $name, in any case.
    instance.set_main(mynetworks_style="$s", s="SUBNET")
    assert set(conf_value(instance, "mynetworks").split()) == subnet

    # An explicit mynetworks wins over the style.
    instance.set_main(mynetworks_style="subnet", mynetworks="192.0.2.0/24")
    assert conf_value(instance, "mynetworks") == "192.0.2.0/24"
    got = conf_value(instance, "-x", "smtpd_client_event_limit_exceptions")
    assert got == "192.0.2.0/24"


def test_mynetworks_unknown_style_is_an_error(instance):
    instance.set_main(mynetworks_style="bogus")
    want = re.compile(r"main\.cf, line \d+: parameter mynetworks_style: "
                      r"unknown value \"bogus\" \(expected host, subnet "
                      r"or class\)")
    r = instance.petrel("conf", "mynetworks")
    assert r.returncode == EX_CONFIG, (r.stdout, r.stderr)
    assert want.search(r.stderr), r.stderr
    r = instance.petrel("conf", "-x", "smtpd_client_event_limit_exceptions")
    assert r.returncode == EX_CONFIG, (r.stdout, r.stderr)
    assert want.search(r.stderr), r.stderr
    assert "parameter smtpd_client_event_limit_exceptions" in r.stderr
    # The daemons' configuration check refuses it too.
    r = instance.petrel("check")
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert want.search(r.stderr), r.stderr


# ---- -M -------------------------------------------------------------------

def test_conf_m_prints_master_cf(instance):
    single = instance.program("test-single")
    with open(instance.master_cf, "w") as f:
        f.write("# comment line\n"
                f"127.0.0.1:2525 inet n - n - 4 {single} tag=a\n"
                "\n"
                f"trig fifo n - n 60 1 {instance.program('test-trigger')}\n"
                f"cont unix - - n - - {single}\n"
                "# comment between continuation lines\n"
                "  -o max_use=3\n"
                "  tag=b\n")
    r = instance.petrel("conf", "-M")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert not [ln for ln in lines if ln.lstrip().startswith("#")]
    assert [ln.split()[:2] for ln in lines] == [
        ["127.0.0.1:2525", "inet"], ["trig", "fifo"], ["cont", "unix"]]
    # Columns 4 and 6 were "-": printed as "-" or as the default.
    words = lines[0].split()
    assert words[2] == "n" and words[3] in ("-", "y")
    assert words[4] == "n" and words[5] in ("-", "0")
    assert words[6:] == ["4", single, "tag=a"]
    cont = lines[2].split()
    assert cont[7] == single
    assert "tag=b" in cont[8:]
    assert re.search(r"-o max_use=3\b", lines[2])
    assert lines[1].split()[5] == "60"
