#!/usr/bin/env python3
"""keylime_verifier end to end on swtpm (TAP): issue 7's acceptance.

keylime_agent (its IMA log driven by keylime_ima_emulator) registers with
keylime_registrar; the test enrolls it in keylime_verifier over REST as
upstream's tenant would (ak_tpm, mtls_cert, ip and port from the registrar
record, a runtime policy made by keylime-policy from the emulated log, a
tpm_policy over PCR 10), then checks the states, the D-Bus signals on a
private bus, the revocation at a webhook and at a second agent, stop,
reactivate and delete, a kill -9 and restart that resumes IMA where it
stopped, the shared-memory table against D-Bus, and that admin routes
refuse clients without a certificate from the verifier's CA.  The
deployment is tests/lib/kldeploy.py's, in the wrapper's directory.
"""
import http.client
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kldeploy  # noqa: E402
import kltest  # noqa: E402

(VERIFIER_BIN, AGENT_BIN, REGISTRAR_BIN, EMULATOR_BIN, CA_BIN, POLICY_BIN, SHM_DUMP_BIN,
 WORK) = sys.argv[1:9]
AGENT1 = "d432fbb3-d2f1-4a97-9ef7-75bd81c00001"
AGENT2 = "d432fbb3-d2f1-4a97-9ef7-75bd81c00002"
QUOTE_INTERVAL = 1.0
# deadlines are issue 7's; under sanitizers or valgrind scale them up
TIME_SCALE = float(os.environ.get("KL_TEST_TIME_SCALE", "1"))
DATA = os.path.join(kltest.SOURCE_ROOT, "tests", "data")
# the deployment (tests/lib/kldeploy.py): agent 1 and keylime_ima_emulator
# share swtpm-1 through tpm2-abrmd, agent 2 has a swtpm of its own and only
# listens for revocations; registrar and verifier share the CA in CV_CA
DEPLOYMENT = None
IMA_LOG = os.path.join(WORK, "agent-1", "ima.log")
OTHER_CA = os.path.join(WORK, "other-ca")
VERIFIER_DIR = os.path.join(WORK, "keylime")
CV_CA = os.path.join(VERIFIER_DIR, "cv_ca")
AGENT_PORTS = {}
DBUS_NAME = "org.keylime.Verifier1"
DBUS_PATH = "/org/keylime/Verifier1"
API = "/v2.6"

test = kltest.Tap()
VERIFIER = None
VERIFIER_PORT = None
SHM_NAME = None
EMULATOR = None
AGENTS = {}
WEBHOOK = None
MONITOR = None


# --- helpers -------------------------------------------------------------

def wait_until(what, fn, timeout, step=0.05):
    """fn()'s first truthy value within @timeout s; (value, seconds)."""
    timeout *= TIME_SCALE
    start = time.monotonic()
    last = None
    while True:
        last = fn()
        if last:
            return last, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(step)


class Webhook:
    """A plain-HTTP revocation webhook on 127.0.0.1 that keeps what it is sent."""

    def __init__(self):
        self.bodies = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer.cond:
                    outer.bodies.append((self.path, body))
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.bodies) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"webhook: {len(self.bodies)} of {count} posts")
                self.cond.wait(left)
            return list(self.bodies)


class Monitor:
    """gdbus monitor on the private bus: every signal of the verifier, one
    line each."""

    def __init__(self):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(["gdbus", "monitor", "--session", "--dest", DBUS_NAME],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()
        # gdbus prints the owner first: then the match rules are in place
        self.wait_for(r"owned by|Monitoring signals", timeout=10)

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, pattern, timeout):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"D-Bus: no signal matching /{pattern}/")
                self.cond.wait(left)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def gdbus_call(path, method, *args):
    out = subprocess.run(["gdbus", "call", "--session", "--dest", DBUS_NAME, "--object-path",
                          path, "--method", method, *args], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out
    return out.stdout


def agent_path(agent_id):
    """The agent's object, found through the ObjectManager."""
    objects = gdbus_call(DBUS_PATH, "org.freedesktop.DBus.ObjectManager.GetManagedObjects")
    # gdbus annotates only the first key with its type
    for path in re.findall(r"'(" + re.escape(DBUS_PATH) + r"/[^']+)'", objects):
        out = gdbus_call(path, "org.freedesktop.DBus.Properties.Get",
                         "org.keylime.Verifier1.Agent", "AgentId")
        if f"<'{agent_id}'>" in out:
            return path
    return None


def dbus_state(agent_id):
    path = agent_path(agent_id)
    if path is None:
        return None
    out = gdbus_call(path, "org.freedesktop.DBus.Properties.Get",
                     "org.keylime.Verifier1.Agent", "State")
    return int(re.search(r"uint32 (\d+)", out).group(1))


def shm_agents():
    out = subprocess.run([SHM_DUMP_BIN, SHM_NAME], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    return {a["agent_id"]: a for a in map(json.loads, out.stdout.splitlines())}


def tenant_ctx():
    """The tenant's client certificate from the verifier's generated CA."""
    return kltest.tls_context(os.path.join(CV_CA, "cacert.crt"), CV_CA, "client")


def cv_raw(method, path, body=None, ctx=None):
    """(status, body bytes) of one request on a connection of its own.
    "Connection: close": the test polls many times a second, and libkl-http
    counts a keep-alive connection whose client went away against the
    per-client bound until its idle timeout."""
    conn = http.client.HTTPSConnection("127.0.0.1", VERIFIER_PORT, timeout=30,
                                       context=ctx or tenant_ctx())
    headers = {"Connection": "close"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def cv(method, path, body=None, ctx=None):
    """(status, envelope): Keylime's {code, status, results}."""
    status, text = cv_raw(method, path, body, ctx)
    envelope = json.loads(text)
    assert envelope["code"] == status, envelope
    assert set(envelope) == {"code", "status", "results"}, envelope
    return status, envelope


def cv_no_body(method, path):
    """The status of a request whose success has no body (204)."""
    return cv_raw(method, path)[0]


def cv_status(agent_id):
    status, env = cv("GET", f"{API}/agents/{agent_id}")
    return env["results"] if status == 200 else None


def cv_state(agent_id):
    results = cv_status(agent_id)
    return None if results is None else results["operational_state"]


def db_row(agent_id, column):
    """A column of verifiermain as the verifier committed it (sqlite3 CLI-free:
    python's module reads the WAL too)."""
    import sqlite3
    conn = sqlite3.connect(f"file:{VERIFIER_DIR}/cv_data.sqlite?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(f"SELECT {column} FROM verifiermain WHERE agent_id = ?",
                           (agent_id,)).fetchone()
    finally:
        conn.close()
    return None if row is None else row[0]


# --- daemons -------------------------------------------------------------

def use_verifier(proc):
    global VERIFIER, VERIFIER_PORT, SHM_NAME
    VERIFIER = proc
    VERIFIER_PORT = DEPLOYMENT.verifier_port
    SHM_NAME = DEPLOYMENT.shm_name


def start_verifier():
    """(Re)starts keylime_verifier with the deployment's settings."""
    use_verifier(DEPLOYMENT.start("verifier"))


def runtime_policy():
    out = subprocess.run([POLICY_BIN, "create", "runtime", "--ima-measurement-list", IMA_LOG],
                         capture_output=True, text=True, check=True)
    return out.stdout


def enrollment(agent_id, policy_text, tpm_policy, policy_name=""):
    """Upstream's tenant body (spec §2.3), from the registrar record."""
    return DEPLOYMENT.enrollment_body(agent_id, policy_text, tpm_policy, policy_name)


def setup():
    global DEPLOYMENT, EMULATOR, WEBHOOK
    subprocess.run([CA_BIN, "-c", "init", "-d", OTHER_CA], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([CA_BIN, "-c", "create", "-n", "client", "-d", OTHER_CA], check=True,
                   stdout=subprocess.DEVNULL)
    WEBHOOK = Webhook()
    DEPLOYMENT = kldeploy.Deployment(WORK, echo=True, quote_interval=QUOTE_INTERVAL,
                                     agent_id=AGENT1, programs={
                                         "keylime_verifier": VERIFIER_BIN,
                                         "keylime_agent": AGENT_BIN,
                                         "keylime_registrar": REGISTRAR_BIN,
                                         "keylime_ima_emulator": EMULATOR_BIN,
                                         "keylime_ca": CA_BIN,
                                         "keylime-policy": POLICY_BIN},
                                     verifier_env={
        "KEYLIME_VERIFIER_RETRY_INTERVAL": "0.5",
        "KEYLIME_VERIFIER_MAX_RETRIES": "2",
        "KEYLIME_VERIFIER_REQUEST_TIMEOUT": "10",
        "KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS": "['agent', 'webhook']",
        "KEYLIME_VERIFIER_REVOCATIONS_WEBHOOK_URL": f"http://127.0.0.1:{WEBHOOK.port}/revoked",
        # libkl-http says why it drops a connection (guard limits, timeouts)
        "G_MESSAGES_DEBUG": "KlHttp",
    })
    DEPLOYMENT.up()
    DEPLOYMENT.add_agent(AGENT2)
    # gdbus and the tests' D-Bus calls: the deployment's private bus
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = DEPLOYMENT.bus_address
    EMULATOR = DEPLOYMENT.processes["emulator-1"]
    EMULATOR.wait_for(r"extended PCR 10 with \d+ entries")
    use_verifier(DEPLOYMENT.processes["verifier"])
    for agent_id in (AGENT1, AGENT2):
        AGENTS[agent_id] = DEPLOYMENT.processes[f"agent-{DEPLOYMENT.agent_ids.index(agent_id) + 1}"]
        AGENT_PORTS[agent_id] = DEPLOYMENT.agent_port_of(agent_id)


def teardown():
    if MONITOR is not None:
        MONITOR.stop()
    if DEPLOYMENT is not None:
        DEPLOYMENT.down()
    if WEBHOOK is not None:
        WEBHOOK.server.shutdown()
    if os.environ.get("KL_TEST_KEEP"):
        print(f"# kept {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)


# --- tests ---------------------------------------------------------------

ENROLLED_AT = None


@test
def enrolled_agent_reaches_get_quote_within_two_intervals():
    global ENROLLED_AT
    body = enrollment(AGENT1, runtime_policy(), {"mask": "0x400"}, "e2e-runtime")
    start = time.monotonic()
    status, env = cv("POST", f"{API}/agents/{AGENT1}", body)
    assert status == 200, env
    _, took = wait_until("agent 1 in Get Quote (3) with a quote counted",
                         lambda: (cv_status(AGENT1) or {}).get("attestation_count", 0) >= 1 and
                         cv_state(AGENT1) == 3, 2 * QUOTE_INTERVAL + 1)
    ENROLLED_AT = start
    print(f"# agent 1: state 3 after {time.monotonic() - start:.2f} s (took {took:.2f} s)")
    results = cv_status(AGENT1)
    assert results["attestation_status"] == "PASS", results
    assert results["has_runtime_policy"] == 1, results
    assert results["hash_alg"] == "sha256", results
    # a second enrolment of the same id is a conflict
    status, env = cv("POST", f"{API}/agents/{AGENT1}", body)
    assert status == 409, env


@test
def second_agent_enrolled_without_a_runtime_policy():
    status, env = cv("POST", f"{API}/agents/{AGENT2}",
                     enrollment(AGENT2, "", {"mask": "0x0"}))
    assert status == 200, env
    wait_until("agent 2 in Get Quote (3)", lambda: cv_state(AGENT2) == 3, 2 * QUOTE_INTERVAL + 3)
    status, env = cv("GET", f"{API}/agents/?verifier=default")
    assert status == 200, env
    assert sorted(env["results"]["uuids"]) == [[AGENT1], [AGENT2]], env


@test
def admin_routes_refuse_clients_without_the_cv_ca_certificate():
    ca_file = os.path.join(CV_CA, "cacert.crt")
    strangers = [kltest.tls_context(ca_file),  # no certificate
                 kltest.tls_context(ca_file, OTHER_CA, "client")]  # another CA's
    for ctx in strangers:
        for method, path in (("GET", "/version"), ("GET", f"{API}/agents/{AGENT1}"),
                             ("DELETE", f"{API}/agents/{AGENT1}"),
                             ("PUT", f"{API}/agents/{AGENT1}/stop"),
                             ("GET", f"{API}/allowlists/e2e-runtime")):
            try:
                cv(method, path, ctx=ctx)
            except ssl.SSLCertVerificationError:
                raise  # the test's own trust in the verifier is wrong
            except (ssl.SSLError, ConnectionError, OSError):
                continue
            raise AssertionError(f"{method} {path} answered a client without a CV CA cert")
    assert cv_state(AGENT1) == 3


@test
def shared_memory_table_matches_dbus():
    table = shm_agents()
    assert set(table) == {AGENT1, AGENT2}, table
    for agent_id, record in table.items():
        assert record["operational_state"] == dbus_state(agent_id) == 3, (
            record, agent_id, gdbus_call(DBUS_PATH,
                                         "org.freedesktop.DBus.ObjectManager.GetManagedObjects"))
        assert record["port"] == AGENT_PORTS[agent_id], record
        assert record["attestation_count"] >= 1, record
    out = gdbus_call(DBUS_PATH, "org.freedesktop.DBus.Properties.Get",
                     "org.keylime.Verifier1.Manager", "ShmName")
    assert f"'{SHM_NAME}'" in out, out


@test
def kill_9_and_restart_resume_without_rereading_the_log():
    global MONITOR
    # the log stays as it is while the verifier is away
    EMULATOR.stop()
    with open(IMA_LOG) as f:
        original = f.read()
    n_entries = len(original.splitlines())
    wait_until("the saved IMA progress at the end of the log",
               lambda: db_row(AGENT1, "next_ima_ml_entry") == n_entries, 3 * QUOTE_INTERVAL)
    count_before = db_row(AGENT1, "attestation_count")
    VERIFIER.kill()  # SIGKILL, with agents attesting
    old_shm = SHM_NAME
    # an entry that was already attested is now different: a verifier that
    # read the log from entry 0 again would fail the agent
    lines = original.splitlines(keepends=True)
    fields = lines[-1].split(" ")
    fields[1] = "1" * len(fields[1])  # not zeros: those mean a violation
    tampered = "".join(lines[:-1]) + " ".join(fields)
    with open(IMA_LOG, "w") as f:
        f.write(tampered)
    start_verifier()
    try:
        # not re-added: both agents come back by themselves
        wait_until("both agents back in Get Quote (3) with new quotes",
                   lambda: all(cv_state(a) == 3 for a in (AGENT1, AGENT2)) and
                   db_row(AGENT1, "attestation_count") >= count_before + 2,
                   6 * QUOTE_INTERVAL)
        assert db_row(AGENT1, "next_ima_ml_entry") == n_entries
        status, env = cv("GET", f"{API}/allowlists/e2e-runtime")
        assert status == 200 and env["results"]["name"] == "e2e-runtime", env
        assert shm_agents()[AGENT1]["operational_state"] == dbus_state(AGENT1) == 3
    finally:
        with open(IMA_LOG, "w") as f:
            f.write(original)
        if os.path.exists("/dev/shm" + old_shm):
            os.unlink("/dev/shm" + old_shm)
        restart_emulator()
    MONITOR = Monitor()


def restart_emulator():
    global EMULATOR
    EMULATOR = DEPLOYMENT.start("emulator-1")


@test
def unlisted_file_fails_the_agent_within_one_interval():
    mark = EMULATOR.mark()
    agent2_mark = AGENTS[AGENT2].mark()
    n_before = len(open(IMA_LOG).read().splitlines())
    with open(IMA_LOG, "a") as f:
        f.write(kldeploy.ima_ng_line("/usr/bin/evil-tool", b"not in any policy"))
    EMULATOR.wait_for(rf"now at entry {n_before + 1}", start=mark)
    appended = time.monotonic()
    _, took = wait_until("agent 1 in Invalid Quote (9)", lambda: cv_state(AGENT1) == 9,
                         QUOTE_INTERVAL + 1, step=0.02)
    print(f"# agent 1: state 9 {took:.2f} s after the entry reached PCR 10")
    results = cv_status(AGENT1)
    assert results["attestation_status"] == "FAIL", results
    assert results["last_event_id"].startswith("ima."), results
    # the finding names the file: over D-Bus, and in the signal
    failures = gdbus_call(agent_path(AGENT1), "org.keylime.Verifier1.Agent.GetFailures", "10")
    assert "/usr/bin/evil-tool" in failures, failures
    MONITOR.wait_for(r"ImaEntriesFailed.*evil-tool", timeout=5)
    MONITOR.wait_for(rf"\.Revocation \(.*'{AGENT1}'", timeout=5)
    # the webhook and the other agent get the signed revocation
    bodies = WEBHOOK.wait(1, timeout=10)
    path, body = bodies[0]
    transport = json.loads(body)
    msg = json.loads(transport["msg"])
    assert path == "/revoked" and msg["type"] == "revocation", transport
    assert msg["agent_id"] == AGENT1 and msg["event_id"].startswith("ima."), msg
    assert transport["signature"], transport
    AGENTS[AGENT2].wait_for(r"revocation notification verified", timeout=10, start=agent2_mark)
    # agent 2 itself is fine
    assert cv_state(AGENT2) == 3
    table = shm_agents()
    state = dbus_state(AGENT1)
    assert table[AGENT1]["operational_state"] == state == 9, (state, table)
    assert time.monotonic() - appended < 15


@test
def stop_reactivate_and_delete_as_upstream():
    status, env = cv("PUT", f"{API}/agents/{AGENT2}/stop")
    assert status == 200, env
    wait_until("agent 2 in Tenant Failed (10)", lambda: cv_state(AGENT2) == 10, 3)
    count = cv_status(AGENT2)["attestation_count"]
    time.sleep(2 * QUOTE_INTERVAL)
    assert cv_status(AGENT2)["attestation_count"] == count, "a stopped agent was polled"
    table = shm_agents()
    assert table[AGENT2]["operational_state"] == dbus_state(AGENT2) == 10, (table,
                                                                          dbus_state(AGENT2))
    status, env = cv("PUT", f"{API}/agents/{AGENT2}/reactivate")
    assert status == 200, env
    wait_until("agent 2 attested again",
               lambda: cv_state(AGENT2) == 3 and
               cv_status(AGENT2)["attestation_count"] > count, 2 * QUOTE_INTERVAL + 2)
    # agent 1's log still holds the unlisted file: reactivated, it fails again
    status, env = cv("PUT", f"{API}/agents/{AGENT1}/reactivate")
    assert status == 200, env
    wait_until("agent 1 failed again", lambda: cv_state(AGENT1) == 9, 2 * QUOTE_INTERVAL + 2)
    for agent_id in (AGENT1, AGENT2):
        status, env = cv("DELETE", f"{API}/agents/{agent_id}")
        assert status in (200, 202), env
        wait_until(f"{agent_id} gone", lambda a=agent_id: cv_status(a) is None, 5)
    status, env = cv("GET", f"{API}/agents/{AGENT1}")
    assert status == 404, env
    assert shm_agents() == {}, shm_agents()
    assert agent_path(AGENT1) is None, agent_path(AGENT1)
    # the named policy outlives its agent; unused now, it may go
    assert cv_no_body("DELETE", f"{API}/allowlists/e2e-runtime") == 204


@test
def sigterm_stops_cleanly_and_unlinks_the_table():
    assert os.path.exists("/dev/shm" + SHM_NAME)
    assert VERIFIER.stop() == 0
    assert not os.path.exists("/dev/shm" + SHM_NAME)
    VERIFIER.wait_for(r"stopped")


sys.exit(test.run(setup, teardown))
