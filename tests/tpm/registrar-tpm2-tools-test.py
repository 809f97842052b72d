#!/usr/bin/env python3
"""keylime_registrar driven by tpm2-tools on swtpm (TAP).

tpm2_createek / tpm2_createak / tpm2_nvread make the identity, the real
daemon answers with a MakeCredential blob, tpm2_activatecredential opens it
under a PolicySecret session, and the auth_tag computed here activates the
agent; then the admin port must show the record.  The negative cases are
the ones the issue lists.  Only the standard library and tpm2-tools.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import sqlite3
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kltest  # noqa: E402

REGISTRAR, KEYLIME_CA, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
test = kltest.Tap()


def tpm2(*args):
    subprocess.run(args, check=True, cwd=WORK,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def b64file(name):
    with open(os.path.join(WORK, name), "rb") as f:
        return base64.b64encode(f.read()).decode()


class Registrar(kltest.Registrar):
    """The daemon on the wrapper's private bus, with a D-Bus signal monitor."""

    def __init__(self):
        super().__init__(REGISTRAR, os.path.join(WORK, "keylime"), bus="session")
        self.monitor = subprocess.Popen(["gdbus", "monitor", "--session", "--dest",
                                         "org.keylime.Registrar1"],
                                        stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)  # let the monitor subscribe before the first signal

    def signals(self):
        """Every signal the monitor saw, as (name, agent_id)."""
        self.monitor.terminate()
        out, _ = self.monitor.communicate(timeout=30)
        return re.findall(r"org\.keylime\.Registrar1\.Manager\.(\w+) \('([^']*)',\)", out)

    def tls_context(self, cert="client", ca_dir=None):
        return kltest.tls_context(self.ca_file, (ca_dir or self.ca_dir) if cert else None,
                                  cert or "client")


def make_identity(tag, ak_attributes=None, ek_alg="rsa"):
    """EK (transient, from the TCG template) and an AK; the registration body."""
    tpm2("tpm2_createek", "-c", f"ek-{tag}.ctx", "-G", ek_alg, "-u", f"ek-{tag}.pub")
    if ak_attributes is None:
        tpm2("tpm2_createak", "-C", f"ek-{tag}.ctx", "-c", f"ak-{tag}.ctx", "-G", "rsa",
             "-g", "sha256", "-s", "rsassa", "-u", f"ak-{tag}.pub", "-n", f"ak-{tag}.name")
    else:
        # tpm2_create under the EK needs the EK's policy: a key with any
        # attributes we like, loaded as the "AK"
        session = f"s-{tag}.ctx"
        tpm2("tpm2_startauthsession", "--policy-session", "-S", session)
        tpm2("tpm2_policysecret", "-S", session, "-c", "e")
        tpm2("tpm2_create", "-C", f"ek-{tag}.ctx", "-P", f"session:{session}",
             "-G", "rsa2048:rsassa-sha256:null", "-a", ak_attributes,
             "-u", f"ak-{tag}.pub", "-r", f"ak-{tag}.priv")
        tpm2("tpm2_flushcontext", session)
    tpm2("tpm2_flushcontext", "-t")
    return {
        "ek_tpm": b64file(f"ek-{tag}.pub"),
        "aik_tpm": b64file(f"ak-{tag}.pub"),
        "ekcert": b64file("ekcert.der"),
        "ip": "127.0.0.1",
        "port": 9002,
        "mtls_cert": "disabled",
    }


def activate_credential(tag, blob_b64):
    with open(os.path.join(WORK, f"cred-{tag}.blob"), "wb") as f:
        f.write(base64.b64decode(blob_b64))
    session = f"as-{tag}.ctx"
    tpm2("tpm2_startauthsession", "--policy-session", "-S", session)
    tpm2("tpm2_policysecret", "-S", session, "-c", "e")
    tpm2("tpm2_activatecredential", "-c", f"ak-{tag}.ctx", "-C", f"ek-{tag}.ctx",
         "-i", f"cred-{tag}.blob", "-o", f"secret-{tag}.bin", "-P", f"session:{session}")
    tpm2("tpm2_flushcontext", session)
    tpm2("tpm2_flushcontext", "-t")
    with open(os.path.join(WORK, f"secret-{tag}.bin"), "rb") as f:
        return f.read()


def auth_tag(secret, agent_id):
    # Keylime: the HMAC key is the base64 text of the recovered secret
    return hmac.new(base64.b64encode(secret), agent_id.encode(), hashlib.sha384).hexdigest()


REG = None
AGENT = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
BODY = None


@test
def register_activate_and_show():
    global BODY
    tpm2("tpm2_nvread", "0x1c00002", "-C", "o", "-o", "ekcert.der")
    BODY = make_identity("a")
    status, env = REG.request("POST", f"/v2.6/agents/{AGENT}", BODY)
    assert status == 200, env
    secret = activate_credential("a", env["results"]["blob"])
    assert re.fullmatch(rb"[A-Za-z0-9]{32}", secret), secret
    status, env = REG.request("PUT", f"/v2.6/agents/{AGENT}/activate",
                              {"auth_tag": auth_tag(secret, AGENT)})
    assert status == 200, env
    status, env = REG.request("GET", f"/v2.6/agents/{AGENT}", tls=True)
    assert status == 200, env
    r = env["results"]
    assert r["ek_tpm"] == BODY["ek_tpm"] and r["aik_tpm"] == BODY["aik_tpm"], r
    assert r["ekcert"] == BODY["ekcert"] and r["regcount"] == 1, r
    assert r["ip"] == "127.0.0.1" and r["port"] == 9002 and r["mtls_cert"] == "disabled", r
    status, env = REG.request("GET", "/v2/agents/", tls=True)
    assert status == 200 and env["results"]["uuids"] == [AGENT], env


@test
def same_identity_reregisters_and_counts():
    status, env = REG.request("POST", f"/v2.1/agents/{AGENT}", BODY)
    assert status == 200, env
    secret = activate_credential("a", env["results"]["blob"])
    # the Rust agent's compat route: PUT /agents/{id}
    status, env = REG.request("PUT", f"/v2.1/agents/{AGENT}", {"auth_tag": auth_tag(secret, AGENT)})
    assert status == 200, env
    status, env = REG.request("GET", f"/v2.6/agents/{AGENT}", tls=True)
    assert status == 200 and env["results"]["regcount"] == 2, env


@test
def ecc_ek_registers_and_activates():
    # the ECC P-256 template EK: MakeCredential through ECDH and KDFe
    body = make_identity("ecc", ek_alg="ecc")
    del body["ekcert"]  # swtpm certifies a P-384 EK only
    agent = "ecc-agent"
    status, env = REG.request("POST", f"/v2.6/agents/{agent}", body)
    assert status == 200, env
    secret = activate_credential("ecc", env["results"]["blob"])
    status, env = REG.request("POST", f"/v2.6/agents/{agent}/activate",
                              {"auth_tag": auth_tag(secret, agent)})
    assert status == 200, env
    status, env = REG.request("GET", f"/v2.6/agents/{agent}", tls=True)
    assert status == 200 and env["results"]["ekcert"] is None, env
    status, env = REG.request("DELETE", f"/v2.6/agents/{agent}", tls=True)
    assert status == 200, env


@test
def different_tpm_identity_is_refused():
    other = make_identity("b")
    status, env = REG.request("POST", f"/v2.6/agents/{AGENT}", other)
    assert status == 403, env
    status, env = REG.request("GET", f"/v2.6/agents/{AGENT}", tls=True)
    assert status == 200 and env["results"]["aik_tpm"] == BODY["aik_tpm"], env


@test
def wrong_auth_tag_deletes_the_pending_row():
    agent = "wrong-tag-agent"
    body = dict(BODY)
    status, env = REG.request("POST", f"/v2.6/agents/{agent}", body)
    assert status == 200, env
    status, env = REG.request("PUT", f"/v2.6/agents/{agent}/activate", {"auth_tag": "0" * 96})
    assert status == 400, env
    status, env = REG.request("GET", f"/v2.6/agents/{agent}", tls=True)
    assert status == 404, env
    status, env = REG.request("GET", "/v2.6/agents", tls=True)
    assert agent not in env["results"]["uuids"], env


@test
def unrestricted_signing_key_as_ak_is_refused():
    # not restricted: it would sign anything, forged quotes included
    body = make_identity("c", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign")
    status, env = REG.request("POST", "/v2.6/agents/bad-ak", body)
    assert status == 400 and "aik_tpm" in env["status"], env


@test
def ek_certificate_of_another_key_is_refused():
    tpm2("tpm2_nvread", "0x1c00016", "-C", "o", "-o", "ekcert-ecc.der")
    body = dict(BODY, ekcert=b64file("ekcert-ecc.der"))
    status, env = REG.request("POST", "/v2.6/agents/bad-ekcert", body)
    assert status == 400 and "ekcert" in env["status"], env


@test
def malformed_requests_are_400():
    cases = [
        ("not json", b"{\"aik_tpm\": "),
        ("base64 garbage", json.dumps(dict(BODY, aik_tpm="AAA*BBB="))),
        ("truncated TPM2B", json.dumps(dict(BODY, ek_tpm=base64.b64encode(
            base64.b64decode(BODY["ek_tpm"])[:100]).decode()))),
        ("missing aik_tpm", json.dumps({k: v for k, v in BODY.items() if k != "aik_tpm"})),
        ("port out of range", json.dumps(dict(BODY, port=70000))),
        ("ekcert not a certificate", json.dumps(dict(BODY, ekcert="MIIB"))),
    ]
    for name, raw in cases:
        status, env = REG.request("POST", "/v2.6/agents/malformed", raw=raw)
        assert status == 400, (name, env)
    status, env = REG.request("GET", "/v2.6/agents/malformed", tls=True)
    assert status == 404, env


@test
def hostile_agent_ids_are_400():
    for agent_id in ["bad%0Aid", "bad%1B%5B31mid", "a%2Fb", "x" * 300]:
        status, env = REG.request("POST", f"/v2.6/agents/{agent_id}", BODY)
        assert status in (400, 404), (agent_id, env)
        assert "\n" not in env["status"] and "\x1b" not in env["status"], env
    # libsoup refuses a NUL in the path itself, before any handler
    conn = http.client.HTTPConnection("127.0.0.1", REG.port, timeout=30)
    conn.request("POST", "/v2.6/agents/bad%00id", body=json.dumps(BODY))
    assert conn.getresponse().status == 400
    conn.close()
    status, env = REG.request("GET", "/v2.6/agents", tls=True)
    assert all(a in (AGENT,) for a in env["results"]["uuids"]), env


@test
def admin_port_needs_a_certificate_from_the_ca():
    status, env = REG.request("GET", "/v2.6/agents", tls=True, ctx=REG.tls_context(cert=None))
    assert status == 403, env
    # admin routes are never served on the plain port
    status, env = REG.request("GET", f"/v2.6/agents/{AGENT}")
    assert status == 403, env
    other = os.path.join(WORK, "other_ca")
    subprocess.run([KEYLIME_CA, "-c", "init", "-d", other], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([KEYLIME_CA, "-c", "create",
                    "-n", "intruder", "-d", other], check=True, stdout=subprocess.DEVNULL)
    try:
        REG.request("GET", "/v2.6/agents", tls=True,
                    ctx=REG.tls_context(cert="intruder", ca_dir=other))
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected, OSError):
        pass
    else:
        raise AssertionError("a certificate from another CA was accepted")


@test
def delete_on_the_admin_port():
    status, env = REG.request("DELETE", f"/v2.6/agents/{AGENT}", tls=True)
    assert status == 200, env
    status, env = REG.request("DELETE", f"/v2.6/agents/{AGENT}", tls=True)
    assert status == 404, env


@test
def registrations_complete_with_1000_idle_connections():
    idle = []
    try:
        # 1 000 connections that never send a byte, from 100 loopback
        # addresses (a client's own connections are bounded)
        for i in range(1000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = i // 10
            s.bind((f"127.0.{1 + address // 250}.{1 + address % 250}", 0))
            s.connect(("127.0.0.1", REG.port))
            idle.append(s)
        # and one that stalls half way through its headers
        slow = socket.create_connection(("127.0.0.1", REG.port))
        slow.sendall(b"POST /v2.6/agents/slow HTTP/1.1\r\nHost: x\r\nContent-Len")
        idle.append(slow)
        started = time.monotonic()
        for n in range(10):
            agent = f"busy-{n}"
            status, env = REG.request("POST", f"/v2.6/agents/{agent}", BODY)
            assert status == 200, env
            secret = activate_credential("a", env["results"]["blob"])
            status, env = REG.request("PUT", f"/v2.6/agents/{agent}",
                                      {"auth_tag": auth_tag(secret, agent)})
            assert status == 200, env
            status, env = REG.request("DELETE", f"/v2.6/agents/{agent}", tls=True)
            assert status == 200, env
        print(f"# 10 registrations with {len(idle)} idle connections: "
              f"{time.monotonic() - started:.2f} s")
    finally:
        for s in idle:
            s.close()


def gdbus_call(method, *args):
    return subprocess.run(["gdbus", "call", "--session", "--dest", "org.keylime.Registrar1",
                           "--object-path", "/org/keylime/Registrar1", "--method",
                           "org.keylime.Registrar1.Manager." + method, *args],
                          capture_output=True, text=True, timeout=30)


def num_agents():
    out = subprocess.run(["gdbus", "call", "--session", "--dest", "org.keylime.Registrar1",
                          "--object-path", "/org/keylime/Registrar1", "--method",
                          "org.freedesktop.DBus.Properties.Get",
                          "org.keylime.Registrar1.Manager", "NumAgents"],
                         capture_output=True, text=True, timeout=30, check=True)
    listed = gdbus_call("ListAgents").stdout.count("'")
    count = int(re.search(r"<uint32 (\d+)>", out.stdout).group(1))
    assert count * 2 == listed, (out.stdout, listed)  # each id is quoted once
    return count


@test
def dbus_list_get_delete():
    agent = "dbus-agent"
    status, env = REG.request("POST", f"/v2.6/agents/{agent}", BODY)
    assert status == 200, env
    secret = activate_credential("a", env["results"]["blob"])
    status, env = REG.request("PUT", f"/v2.6/agents/{agent}/activate",
                              {"auth_tag": auth_tag(secret, agent)})
    assert status == 200, env
    out = gdbus_call("ListAgents")
    assert out.returncode == 0 and f"'{agent}'" in out.stdout, out
    out = gdbus_call("GetAgent", agent)
    assert out.returncode == 0, out
    assert "'active': <true>" in out.stdout and BODY["aik_tpm"] in out.stdout, out.stdout
    assert "'regcount': <int64 1>" in out.stdout, out.stdout
    out = gdbus_call("GetAgent", "no-such-agent")
    assert out.returncode != 0 and "org.keylime.Error.NotFound" in out.stderr, out
    out = gdbus_call("GetAgent", "bad\nid")
    assert out.returncode != 0 and "org.keylime.Error.InvalidArgument" in out.stderr, out
    before = num_agents()
    out = gdbus_call("DeleteAgent", agent)
    assert out.returncode == 0, out
    assert num_agents() == before - 1, (before, num_agents())
    out = gdbus_call("ListAgents")
    assert out.returncode == 0 and f"'{agent}'" not in out.stdout, out
    status, env = REG.request("GET", f"/v2.6/agents/{agent}", tls=True)
    assert status == 404, env
    out = gdbus_call("DeleteAgent", agent)
    assert "org.keylime.Error.NotFound" in out.stderr, out


@test
def dbus_signals():
    seen = REG.signals()
    for expected in [("AgentRegistered", AGENT), ("AgentActivated", AGENT),
                     ("AgentRegistered", "dbus-agent"), ("AgentActivated", "dbus-agent"),
                     ("AgentDeleted", "dbus-agent"), ("AgentDeleted", "wrong-tag-agent")]:
        assert expected in seen, (expected, seen)
    # a refused takeover or a bad request emits nothing
    assert ("AgentRegistered", "bad-ak") not in seen, seen


@test
def version_on_both_ports():
    for tls in (False, True):
        status, env = REG.request("GET", "/version", tls=tls)
        assert status == 200 and env["results"]["current_version"] == "2.6", env
        assert "2.0" in env["results"]["supported_versions"], env


@test
def crash_leaves_no_half_written_record():
    global REG
    answered = []
    stop = threading.Event()

    def register_until_killed():
        n = 0
        while not stop.is_set():
            try:
                status, _ = REG.request("POST", f"/v2.6/agents/crash-{n}", BODY)
            except (OSError, http.client.HTTPException, ValueError):
                return
            if status == 200:
                answered.append(n)
            n += 1

    worker = threading.Thread(target=register_until_killed)
    worker.start()
    time.sleep(1.0)
    REG.kill()  # SIGKILL: no chance to finish anything
    stop.set()
    worker.join()
    REG.monitor.kill()
    assert answered, "no registration was answered before the kill"

    db = sqlite3.connect(os.path.join(REG.dir, "reg_data.sqlite"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = db.execute("SELECT agent_id, key, aik_tpm, ek_tpm, regcount, active "
                      "FROM registrarmain WHERE agent_id LIKE 'crash-%'").fetchall()
    db.close()
    for row in rows:
        assert row[1] and row[2] == BODY["aik_tpm"] and row[3] == BODY["ek_tpm"], row
        assert row[4] == 1 and row[5] == 0, row
    stored = {int(row[0][len("crash-"):]) for row in rows}
    assert set(answered) <= stored, sorted(set(answered) - stored)
    print(f"# {len(answered)} registrations answered, {len(stored)} stored before SIGKILL")

    # a restart serves what was stored
    REG = Registrar()
    status, env = REG.request("GET", "/v2.6/agents", tls=True)
    assert status == 200 and f"crash-{answered[-1]}" in env["results"]["uuids"], env


@test
def adopts_upstream_reg_data_sqlite():
    """A database upstream's registrar made (alembic-managed) is served as is."""
    directory = os.path.join(WORK, "upstream")
    os.makedirs(directory)
    db = sqlite3.connect(os.path.join(directory, "reg_data.sqlite"))
    db.executescript("""
        CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
        INSERT INTO alembic_version VALUES ('eb869a77abd1');
        CREATE TABLE registrarmain (agent_id VARCHAR(80) NOT NULL PRIMARY KEY,
            key VARCHAR(45), aik_tpm VARCHAR(500), ekcert VARCHAR(2048),
            ek_tpm VARCHAR(500), iak_tpm VARCHAR(500), idevid_tpm VARCHAR(500),
            iak_cert VARCHAR(2048), idevid_cert VARCHAR(2048), mtls_cert VARCHAR(2048),
            virtual INTEGER, ip VARCHAR(15), port INTEGER, active INTEGER,
            provider_keys TEXT, regcount INTEGER);""")
    db.execute("INSERT INTO registrarmain (agent_id, aik_tpm, ek_tpm, active, regcount, ip, "
               "port) VALUES ('upstream-agent', ?, ?, 1, 3, '10.0.0.1', 9002)",
               (BODY["aik_tpm"], BODY["ek_tpm"]))
    db.commit()
    db.close()
    other = kltest.Registrar(REGISTRAR, directory)
    try:
        status, env = other.request("GET", "/v2.6/agents/upstream-agent", tls=True)
        assert status == 200 and env["results"]["regcount"] == 3, env
        assert env["results"]["aik_tpm"] == BODY["aik_tpm"], env
    finally:
        assert other.stop() == 0


@test
def clean_stop():
    rc = REG.stop()
    assert rc == 0, rc


def setup():
    global REG
    REG = Registrar()


def teardown():
    if REG is not None:
        REG.kill()
        if REG.monitor.poll() is None:
            REG.monitor.kill()


sys.exit(test.run(setup, teardown))
