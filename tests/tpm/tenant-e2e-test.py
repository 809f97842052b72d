#!/usr/bin/env python3
"""keylime_tenant end to end on swtpm (TAP): issue 8's acceptance.

One deployment for the whole program: keylime_agent on the wrapper's
swtpm, keylime_registrar and keylime_verifier on loopback sharing one CA
(tls_dir = the verifier's generated cv_ca, as upstream's default), and a
tenant.conf that trusts it.  Then every tenant command as an operator
runs it: add with a payload file and with a certificate package (the
autorun.sh side effect), the status and list commands in both output
modes, update, reactivate, delete, the policy commands' round trips, and
adds that must fail cleanly (EK certificate outside tpm_cert_store, agent
unreachable, a tampered identity quote), with their exit codes.
"""
import http.client
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kltest  # noqa: E402

TENANT_BIN, VERIFIER_BIN, AGENT_BIN, REGISTRAR_BIN, POLICY_BIN, WORK = sys.argv[1:7]
AGENT = "d432fbb3-d2f1-4a97-9ef7-75bd81c0e2e8"
DATA = os.path.join(kltest.SOURCE_ROOT, "tests", "data")
VERIFIER_DIR = os.path.join(WORK, "verifier")
CV_CA = os.path.join(VERIFIER_DIR, "cv_ca")
AGENT_DIR = os.path.join(WORK, "agent")
AGENT_PORT = kltest.free_port()
IMA_LOG = os.path.join(WORK, "ima.log")
TENANT_CONF = os.path.join(WORK, "tenant.conf")
CERT_STORE = os.path.join(WORK, "tpm_cert_store")
OTHER_STORE = os.path.join(WORK, "other_cert_store")
PAYLOAD = os.path.join(WORK, "payload.txt")
POLICY = os.path.join(WORK, "runtime-policy.json")

test = kltest.Tap()
VERIFIER = None
VERIFIER_PORT = None
REGISTRAR = None
REGISTRAR_TLS_PORT = None
AGENT_DAEMON = None


# --- helpers -------------------------------------------------------------

def tenant(*args, conf=TENANT_CONF, expect=0, timeout=20):
    """Runs keylime_tenant against the deployment; asserts its exit code
    and returns (stdout, stderr)."""
    env = dict(os.environ)
    env["KEYLIME_TENANT_CONFIG"] = conf
    env["KEYLIME_DIR"] = WORK
    argv = [TENANT_BIN, "-v", "127.0.0.1", "-vp", str(VERIFIER_PORT), "-r", "127.0.0.1",
            "-rp", str(REGISTRAR_TLS_PORT), "-u", AGENT, *args]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{args}: no exit within {timeout} s; stderr: {e.stderr!r}")
    assert out.returncode == expect, (args, out.returncode, out.stdout, out.stderr)
    return out.stdout, out.stderr


def tenant_json(*args, expect=0):
    stdout, _ = tenant(*args, "--json", expect=expect)
    return json.loads(stdout)


def wait_until(what, fn, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(step)


def cv_state():
    stdout, _ = tenant("-c", "cvstatus", "--json")
    return json.loads(stdout)[AGENT]["operational_state"]


def assert_not_on_verifier():
    doc = tenant_json("-c", "cvlist")
    assert [AGENT] not in doc["uuids"], doc
    tenant("-c", "cvstatus", expect=1)


def write_conf(path, cert_store, max_retries=20, ek_check_script=""):
    with open(path, "w") as f:
        f.write(f"""[tenant]
tls_dir = {CV_CA}
tpm_cert_store = {cert_store}
require_ek_cert = True
retry_interval = 0.2
max_retries = {max_retries}
exponential_backoff = False
request_timeout = 10
ek_check_script = {ek_check_script}
""")


class QuoteTamperer:
    """An HTTPS stand-in for the agent with its own certificate (the one the
    registrar pinned) that forwards every request to the agent and flips a
    byte of the identity quote's signature on the way back."""

    def __init__(self):
        upstream = ssl.create_default_context(cafile=os.path.join(CV_CA, "cacert.crt"))
        upstream.check_hostname = False
        upstream.verify_mode = ssl.CERT_NONE
        upstream.load_cert_chain(os.path.join(CV_CA, "client-cert.crt"),
                                 os.path.join(CV_CA, "client-private.pem"))
        self.tampered = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                conn = http.client.HTTPSConnection("127.0.0.1", AGENT_PORT, timeout=10,
                                                   context=upstream)
                conn.request("GET", self.path)
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if "/quotes/identity" in self.path and resp.status == 200:
                    envelope = json.loads(body)
                    quote = envelope["results"]["quote"]
                    attest, sig, pcrs = quote.split(":")
                    sig = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
                    envelope["results"]["quote"] = ":".join((attest, sig, pcrs))
                    body = json.dumps(envelope).encode()
                    outer.tampered += 1
                self.send_response(resp.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(AGENT_DIR, "server-cert.crt"),
                            os.path.join(AGENT_DIR, "server-private.pem"))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


# --- deployment ----------------------------------------------------------

def setup():
    global VERIFIER, VERIFIER_PORT, REGISTRAR, REGISTRAR_TLS_PORT, AGENT_DAEMON
    open(IMA_LOG, "w").close()
    with open(PAYLOAD, "w") as f:
        f.write("a secret for the agent\n")
    out = subprocess.run([POLICY_BIN, "create", "runtime", "--ima-measurement-list",
                          os.path.join(DATA, "ima", "ima-log-sha256")],
                         capture_output=True, text=True, check=True)
    with open(POLICY, "w") as f:
        f.write(out.stdout)
    os.makedirs(CERT_STORE)
    shutil.copy(os.environ["KL_SWTPM_CA_FILE"], os.path.join(CERT_STORE, "swtpm-ca.pem"))
    env = dict(os.environ)
    env.update({
        "KEYLIME_DIR": VERIFIER_DIR,
        "KEYLIME_VERIFIER_IP": "127.0.0.1",
        "KEYLIME_VERIFIER_PORT": "0",
        "KEYLIME_VERIFIER_TLS_DIR": "generate",
        "KEYLIME_VERIFIER_QUOTE_INTERVAL": "1",
        "KEYLIME_VERIFIER_RETRY_INTERVAL": "0.5",
        "KEYLIME_VERIFIER_MAX_RETRIES": "2",
        "KEYLIME_VERIFIER_REQUEST_TIMEOUT": "10",
    })
    VERIFIER = kltest.Daemon("verifier", [VERIFIER_BIN, "--config",
                                          kltest.config_path("verifier.conf"), "--no-dbus"], env)
    VERIFIER_PORT = int(VERIFIER.wait_for(r"listening for tenants on https://[^:]+:(\d+)")
                        .group(1))
    # one CA for the whole deployment, as upstream's tls_dir = default
    os.makedirs(OTHER_STORE)
    shutil.copy(os.path.join(CV_CA, "cacert.crt"), os.path.join(OTHER_STORE, "other-ca.pem"))
    write_conf(TENANT_CONF, CERT_STORE)
    env = dict(os.environ)
    env.update({
        "KEYLIME_DIR": os.path.join(WORK, "registrar"),
        "KEYLIME_REGISTRAR_CONFIG": kltest.config_path("registrar.conf"),
        "KEYLIME_REGISTRAR_IP": "127.0.0.1",
        "KEYLIME_REGISTRAR_PORT": "0",
        "KEYLIME_REGISTRAR_TLS_PORT": "0",
        "KEYLIME_REGISTRAR_TLS_DIR": CV_CA,
    })
    os.makedirs(env["KEYLIME_DIR"])
    REGISTRAR = kltest.Daemon("registrar", [REGISTRAR_BIN, "--no-dbus"], env)
    reg_port = int(REGISTRAR.wait_for(r"listening for agents on \w+://[^:]+:(\d+)").group(1))
    REGISTRAR_TLS_PORT = int(
        REGISTRAR.wait_for(r"listening for administrators on \w+://[^:]+:(\d+)").group(1))
    env = dict(os.environ)
    env.update({
        "KEYLIME_AGENT_CONFIG": kltest.config_path("agent.conf"),
        "KEYLIME_AGENT_UUID": AGENT,
        "KEYLIME_AGENT_IP": "127.0.0.1",
        "KEYLIME_AGENT_PORT": str(AGENT_PORT),
        "KEYLIME_AGENT_CONTACT_IP": "127.0.0.1",
        "KEYLIME_AGENT_CONTACT_PORT": str(AGENT_PORT),
        "KEYLIME_AGENT_REGISTRAR_IP": "127.0.0.1",
        "KEYLIME_AGENT_REGISTRAR_PORT": str(reg_port),
        "KEYLIME_AGENT_KEYLIME_DIR": AGENT_DIR,
        "KEYLIME_DIR": AGENT_DIR,
        "KEYLIME_AGENT_TRUSTED_CLIENT_CA": os.path.join(CV_CA, "cacert.crt"),
        "KEYLIME_AGENT_RUN_AS": "",
        "KEYLIME_AGENT_IMA_ML_PATH": IMA_LOG,
        "KEYLIME_AGENT_MEASUREDBOOT_ML_PATH": os.path.join(DATA, "eventlogs",
                                                           "binary_bios_measurements"),
        "KEYLIME_AGENT_EXPONENTIAL_BACKOFF_INITIAL_DELAY": "200",
    })
    AGENT_DAEMON = kltest.Daemon("agent", [AGENT_BIN], env)
    AGENT_DAEMON.wait_for(r"registered and activated", timeout=120)


def teardown():
    for daemon in (AGENT_DAEMON, VERIFIER, REGISTRAR):
        if daemon is not None:
            daemon.kill()


# --- tests ---------------------------------------------------------------

@test
def add_with_a_file_delivers_it_decrypted():
    # the command line scripts/run-system uses
    stdout, stderr = tenant("-c", "add", "-t", "127.0.0.1", "-tp", str(AGENT_PORT),
                            "--runtime-policy", POLICY, "-f", PAYLOAD)
    for step in ("registrar", "ek-certificate", "identity-quote", "payload", "verifier"):
        assert f"[{step}]" in stderr, stderr
    assert f"Agent {AGENT} enrolled" in stdout, stdout
    # the agent derives K once the verifier sent V after the first quote
    decrypted = os.path.join(AGENT_DIR, "secure", "unzipped", "decrypted_payload")
    wait_until("the decrypted payload", lambda: os.path.exists(decrypted), 15)
    with open(decrypted) as f:
        assert f.read() == "a secret for the agent\n"
    wait_until("agent in Get Quote", lambda: cv_state() == "Get Quote", 15)
    # a second add of the same agent: the verifier says no
    _, stderr = tenant("-c", "add", "--runtime-policy", POLICY, expect=1)
    assert "409" in stderr, stderr


@test
def status_commands_human_and_json():
    doc = tenant_json("-c", "cvstatus")
    results = doc[AGENT]
    assert results["operational_state"] == "Get Quote", doc
    assert results["port"] == AGENT_PORT and results["has_runtime_policy"] == 1, doc
    stdout, _ = tenant("-c", "cvstatus")
    assert f"agent {AGENT}" in stdout and "operational_state: Get Quote" in stdout, stdout
    doc = tenant_json("-c", "regstatus")
    assert doc[AGENT]["port"] == AGENT_PORT and doc[AGENT]["aik_tpm"], doc
    stdout, _ = tenant("-c", "regstatus")
    assert "aik_tpm: " in stdout and f"port: {AGENT_PORT}" in stdout, stdout
    doc = tenant_json("-c", "status")
    assert doc[AGENT]["registrar"]["port"] == AGENT_PORT, doc
    assert doc[AGENT]["verifier"]["operational_state"] == "Get Quote", doc
    stdout, _ = tenant("-c", "status")
    assert "registrar:" in stdout and "verifier:" in stdout, stdout
    doc = tenant_json("-c", "cvlist")
    assert doc["uuids"] == [[AGENT]], doc
    stdout, _ = tenant("-c", "cvlist")
    assert stdout == AGENT + "\n", stdout
    doc = tenant_json("-c", "reglist")
    assert doc["uuids"] == [AGENT], doc
    stdout, _ = tenant("-c", "reglist")
    assert stdout == AGENT + "\n", stdout
    doc = tenant_json("-c", "bulkinfo")
    assert doc[AGENT]["operational_state"] == "Get Quote", doc
    stdout, _ = tenant("-c", "bulkinfo")
    assert f"Agent {AGENT}:" in stdout, stdout


@test
def reactivate_restarts_attestation():
    doc = tenant_json("-c", "reactivate")
    assert doc["code"] == 200 and doc["agent_id"] == AGENT, doc
    wait_until("agent back in Get Quote", lambda: cv_state() == "Get Quote", 15)


@test
def update_with_a_certificate_package_runs_autorun():
    include = os.path.join(WORK, "include")
    os.makedirs(include)
    marker = os.path.join(WORK, "autorun-ran")
    with open(os.path.join(include, "autorun.sh"), "w") as f:
        f.write(f"#!/bin/sh\npwd > {marker}\n")
    with open(os.path.join(include, "extra.txt"), "w") as f:
        f.write("included\n")
    stdout, stderr = tenant("-c", "update", "--cert", os.path.join(WORK, "ca"),
                            "--include", include, "--runtime-policy", POLICY, "--verify")
    assert "[verify]" in stderr, stderr
    unzipped = os.path.join(AGENT_DIR, "secure", "unzipped")
    wait_until("autorun.sh ran", lambda: os.path.exists(marker), 10)
    with open(os.path.join(unzipped, "extra.txt")) as f:
        assert f.read() == "included\n"
    assert os.path.exists(os.path.join(unzipped, f"{AGENT}-cert.crt")), os.listdir(unzipped)
    assert os.path.exists(os.path.join(unzipped, "RevocationNotifier-cert.crt"))
    doc = tenant_json("-c", "cvstatus")
    assert "cert_serial" in doc[AGENT]["meta_data"], doc


@test
def delete_removes_the_agent():
    doc = tenant_json("-c", "delete")
    assert doc == {"agent_id": AGENT, "deleted": True}, doc
    assert_not_on_verifier()
    _, stderr = tenant("-c", "delete", expect=1)
    assert "404" in stderr, stderr
    # regstatus still finds it: delete is the verifier's
    tenant("-c", "regstatus")


@test
def verify_failure_stops_the_agent_on_the_verifier():
    # a PCR 23 the TPM does not hold: the verifier fails the first quote,
    # never sends V, so the agent never derives K
    conf = os.path.join(WORK, "tenant-quick.conf")
    write_conf(conf, CERT_STORE, max_retries=4)
    policy = json.dumps({"23": ["ff" * 32], "mask": "0x800000"})
    stdout, stderr = tenant("-c", "add", "-f", PAYLOAD, "--tpm_policy", policy, "--verify",
                            "--json", conf=conf, expect=1)
    doc = json.loads(stdout)
    assert doc["step"] == "verify", doc
    assert "stopped on the verifier\n" in stderr, stderr
    assert cv_state() == "Tenant Quote Failed"
    tenant("-c", "delete")
    assert_not_on_verifier()


@test
def add_fails_cleanly_when_the_ek_certificate_is_not_in_the_store():
    conf = os.path.join(WORK, "tenant-other-store.conf")
    write_conf(conf, OTHER_STORE)
    stdout, stderr = tenant("-c", "add", "-f", PAYLOAD, "--json", conf=conf, expect=1)
    doc = json.loads(stdout)
    assert doc["step"] == "ek-certificate" and doc["exit_code"] == 1, doc
    assert "ek-certificate" in stderr and "[payload]" not in stderr, stderr
    assert_not_on_verifier()


@test
def ek_check_script_decides_with_upstreams_environment():
    seen = os.path.join(WORK, "ek-check.env")
    script = os.path.join(WORK, "ek-check.sh")
    with open(script, "w") as f:
        f.write(f"""#!/bin/sh
env | grep -E '^(AGENT_UUID|EK|EK_TPM|EK_CERT|PROVKEYS)=' | cut -c1-40 > {seen}
[ "$EK_CHECK_VERDICT" = accept ]
""")
    os.chmod(script, 0o755)
    conf = os.path.join(WORK, "tenant-ek-check.conf")
    write_conf(conf, CERT_STORE, ek_check_script=script)

    # the script says no: nothing reaches the agent or the verifier
    os.environ["EK_CHECK_VERDICT"] = "refuse"
    try:
        stdout, stderr = tenant("-c", "add", "-f", PAYLOAD, "--json", conf=conf, expect=1)
    finally:
        del os.environ["EK_CHECK_VERDICT"]
    doc = json.loads(stdout)
    assert doc["step"] == "ek-certificate" and "ek_check_script" in doc["error"], doc
    assert "[identity-quote]" not in stderr, stderr
    assert_not_on_verifier()
    with open(seen) as f:
        names = {line.split("=", 1)[0] for line in f}
    assert {"AGENT_UUID", "EK", "EK_TPM", "EK_CERT", "PROVKEYS"} <= names, names
    with open(seen) as f:
        assert f"AGENT_UUID={AGENT}"[:40] in f.read()

    # the script says yes: the agent is enrolled
    os.environ["EK_CHECK_VERDICT"] = "accept"
    try:
        tenant("-c", "add", "-f", PAYLOAD, conf=conf)
    finally:
        del os.environ["EK_CHECK_VERDICT"]
    wait_until("Get Quote", lambda: cv_state() == "Get Quote", 15)
    tenant("-c", "delete")
    assert_not_on_verifier()


@test
def add_fails_cleanly_when_the_agent_is_unreachable():
    _, stderr = tenant("-c", "add", "-tp", str(kltest.free_port()), "-f", PAYLOAD, expect=3)
    assert "identity-quote" in stderr, stderr
    assert_not_on_verifier()


@test
def add_fails_cleanly_on_a_tampered_identity_quote():
    proxy = QuoteTamperer()
    try:
        stdout, stderr = tenant("-c", "add", "-tp", str(proxy.port), "-f", PAYLOAD, "--json",
                                expect=1)
    finally:
        proxy.stop()
    assert proxy.tampered >= 1
    doc = json.loads(stdout)
    assert doc["step"] == "identity-quote", doc
    assert "[payload]" not in stderr, stderr
    assert_not_on_verifier()


@test
def unreachable_services_and_usage_errors_have_their_exit_codes():
    # the verifier's port, closed
    env = dict(os.environ, KEYLIME_TENANT_CONFIG=TENANT_CONF)
    out = subprocess.run([TENANT_BIN, "-c", "cvstatus", "-u", AGENT, "-v", "127.0.0.1", "-vp",
                          str(kltest.free_port())], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 3, out
    assert "verifier" in out.stderr, out
    tenant("-c", "nonsense", expect=2)
    tenant("--no-such-option", expect=2)
    tenant("-c", "add", "-f", PAYLOAD, "--cert", WORK, expect=2)
    tenant("-c", "add", "--include", WORK, expect=2)
    tenant("-c", "add", "--verify", expect=2)
    tenant("-c", "showruntimepolicy", expect=2)
    tenant("-c", "add", "-f", os.path.join(WORK, "no-such-payload"), expect=2)
    tenant("-c", "add", "--runtime-policy", PAYLOAD, expect=2)  # not a policy
    tenant("-c", "add", "--tpm_policy", "{not json", expect=2)
    tenant("-c", "cvstatus", conf=os.path.join(WORK, "missing.conf"), expect=2)


@test
def runtime_policy_commands_round_trip():
    name = "e2e-tenant-policy"
    tenant("-c", "addruntimepolicy", "--runtime-policy-name", name, "--runtime-policy", POLICY)
    stdout, _ = tenant("-c", "showruntimepolicy", "--runtime-policy-name", name)
    with open(POLICY) as f:
        assert stdout == f.read()
    stdout, _ = tenant("-c", "listruntimepolicy")
    assert name in stdout.splitlines(), stdout
    doc = tenant_json("-c", "listruntimepolicy")
    assert name in doc["results"]["runtimepolicy names"], doc
    # a second add of the name is a conflict
    tenant("-c", "addruntimepolicy", "--runtime-policy-name", name, "--runtime-policy", POLICY,
           expect=1)
    other = os.path.join(WORK, "policy2.json")
    policy = json.loads(open(POLICY).read())
    policy["excludes"] = ["/tmp/.*"]
    with open(other, "w") as f:
        json.dump(policy, f)
    tenant("-c", "updateruntimepolicy", "--runtime-policy-name", name, "--runtime-policy", other)
    stdout, _ = tenant("-c", "showruntimepolicy", "--runtime-policy-name", name)
    with open(other) as f:
        assert stdout == f.read()
    tenant("-c", "deleteruntimepolicy", "--runtime-policy-name", name)
    tenant("-c", "showruntimepolicy", "--runtime-policy-name", name, expect=1)
    assert name not in tenant("-c", "listruntimepolicy")[0].splitlines()


@test
def mb_policy_commands_round_trip():
    name = "e2e-tenant-mb"
    refstate = os.path.join(kltest.SOURCE_ROOT, "data", "mb-policies", "example.json")
    tenant("-c", "addmbpolicy", "--mb-policy-name", name, "--mb-policy", refstate)
    stdout, _ = tenant("-c", "showmbpolicy", "--mb-policy-name", name)
    with open(refstate) as f:
        assert json.loads(stdout) == json.load(f)
    assert name in tenant("-c", "listmbpolicy")[0].splitlines()
    accept = os.path.join(kltest.SOURCE_ROOT, "data", "mb-policies", "accept-all.json")
    tenant("-c", "updatembpolicy", "--mb-policy-name", name, "--mb_refstate", accept)
    doc = tenant_json("-c", "showmbpolicy", "--mb-policy-name", name)
    with open(accept) as f:
        assert json.loads(doc["results"]["mb_policy"]) == json.load(f), doc
    tenant("-c", "deletembpolicy", "--mb-policy-name", name)
    tenant("-c", "showmbpolicy", "--mb-policy-name", name, expect=1)


sys.exit(test.run(setup, teardown))
