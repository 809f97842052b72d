#!/usr/bin/env python3
"""keylime-console against a real deployment (TAP through the C harness).

Brings up keylime_ima_emulator, keylime_registrar (--session), keylime_verifier
(--session, with EnrollAgent pointed at the registrar) and two keylime_agents
on swtpm, all on loopback and the private bus of console-ui-test.sh, then
runs kl-console-ui-test, which drives keylime-console in its own process.
One CA made with keylime_ca serves every mutual TLS link: the registrar's
server certificate is named after 127.0.0.1 (EnrollAgent's registrar client
checks the address; a generated "server" certificate would fail it), and one
client certificate serves the verifier towards the registrar and the agents.
"""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kltest  # noqa: E402

(HARNESS, VERIFIER_BIN, AGENT_BIN, REGISTRAR_BIN, EMULATOR_BIN, POLICY_BIN, CA_BIN,
 SCHEMA_DIR, ARTIFACTS, WORK) = sys.argv[1:11]
AGENT1 = "d432fbb3-d2f1-4a97-9ef7-75bd81c0ff01"
AGENT2 = "d432fbb3-d2f1-4a97-9ef7-75bd81c0ff02"
QUOTE_INTERVAL = 1.0
DATA = os.path.join(kltest.SOURCE_ROOT, "tests", "data")
IMA_LOG = os.path.join(WORK, "ima.log")
IMA_LOG2 = os.path.join(WORK, "ima2.log")
VERIFIER_DIR = os.path.join(WORK, "verifier")
CA_DIR = os.path.join(WORK, "ca")
EVIL_PATH = "/usr/bin/console-evil-tool"
DAEMONS = []


def ima_ng_line(path, content):
    """An ima-ng entry as the kernel writes it (see verifier-e2e-test.py)."""
    digest = hashlib.sha256(content).digest()
    field = b"sha256:\x00" + digest
    name = path.encode() + b"\x00"
    data = struct.pack("<I", len(field)) + field + struct.pack("<I", len(name)) + name
    return f"10 {hashlib.sha1(data).hexdigest()} ima-ng sha256:{digest.hex()} {path}\n"


class Registrar(kltest.Daemon):
    """keylime_registrar on free ports, --session, with CA_DIR's 127.0.0.1
    certificate (kltest.Registrar generates its own "server" one)."""

    def __init__(self, keylime_dir):
        os.makedirs(keylime_dir, exist_ok=True)
        env = dict(os.environ)
        env.update({
            "KEYLIME_DIR": keylime_dir,
            "KEYLIME_REGISTRAR_CONFIG": kltest.config_path("registrar.conf"),
            "KEYLIME_REGISTRAR_IP": "127.0.0.1",
            "KEYLIME_REGISTRAR_PORT": "0",
            "KEYLIME_REGISTRAR_TLS_PORT": "0",
            "KEYLIME_REGISTRAR_TLS_DIR": CA_DIR,
            "KEYLIME_REGISTRAR_SERVER_CERT": "127.0.0.1-cert.crt",
            "KEYLIME_REGISTRAR_SERVER_KEY": "127.0.0.1-private.pem",
            "KEYLIME_REGISTRAR_TRUSTED_CLIENT_CA": "['cacert.crt']",
        })
        super().__init__("registrar", [REGISTRAR_BIN, "--session"], env)
        self.port = int(self.wait_for(r"listening for agents on \w+://[^:]+:(\d+)").group(1))
        self.tls_port = int(
            self.wait_for(r"listening for administrators on \w+://[^:]+:(\d+)").group(1))
        self.wait_for(r"owning org\.keylime\.Registrar1")
        self.ca_dir = CA_DIR
        self.ca_file = os.path.join(CA_DIR, "cacert.crt")


def make_ca():
    for args in (["-c", "init"], ["-c", "create", "-n", "127.0.0.1"],
                 ["-c", "create", "-n", "client"]):
        subprocess.run([CA_BIN, *args, "-d", CA_DIR], check=True, stdout=subprocess.DEVNULL)


def start_verifier(reg):
    # EnrollAgent's EK check: the swtpms' local CAs are the cert store
    store = os.path.join(VERIFIER_DIR, "tpm_cert_store")
    os.makedirs(store)
    for i, bundle in enumerate(os.environ["KL_UI_SWTPM_CAS"].split(":")):
        shutil.copy(bundle, os.path.join(store, f"swtpm{i}.pem"))
    env = dict(os.environ)
    env.update({
        "KEYLIME_DIR": VERIFIER_DIR,
        "KEYLIME_VERIFIER_IP": "127.0.0.1",
        "KEYLIME_VERIFIER_PORT": "0",
        "KEYLIME_VERIFIER_TLS_DIR": "generate",
        "KEYLIME_VERIFIER_QUOTE_INTERVAL": str(QUOTE_INTERVAL),
        "KEYLIME_VERIFIER_RETRY_INTERVAL": "0.5",
        "KEYLIME_VERIFIER_MAX_RETRIES": "2",
        "KEYLIME_VERIFIER_REQUEST_TIMEOUT": "10",
        "KEYLIME_VERIFIER_REGISTRAR_IP": "127.0.0.1",
        "KEYLIME_VERIFIER_REGISTRAR_PORT": str(reg.tls_port),
        "KEYLIME_VERIFIER_TRUSTED_SERVER_CA": f"['{reg.ca_file}']",
        "KEYLIME_VERIFIER_CLIENT_CERT": os.path.join(reg.ca_dir, "client-cert.crt"),
        "KEYLIME_VERIFIER_CLIENT_KEY": os.path.join(reg.ca_dir, "client-private.pem"),
        "KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS": "[]",
    })
    verifier = kltest.Daemon("verifier", [VERIFIER_BIN, "--config",
                                          kltest.config_path("verifier.conf"), "--session"], env)
    DAEMONS.append(verifier)
    verifier.wait_for(r"owning org\.keylime\.Verifier1")
    return verifier


def start_agent(reg, agent_id, port, ima_log, tcti=None):
    agent_dir = os.path.join(WORK, "agent-" + agent_id[-1])
    env = dict(os.environ)
    env.update({
        "KEYLIME_AGENT_CONFIG": kltest.config_path("agent.conf"),
        "KEYLIME_AGENT_UUID": agent_id,
        "KEYLIME_AGENT_IP": "127.0.0.1",
        "KEYLIME_AGENT_PORT": str(port),
        "KEYLIME_AGENT_CONTACT_IP": "127.0.0.1",
        "KEYLIME_AGENT_CONTACT_PORT": str(port),
        "KEYLIME_AGENT_REGISTRAR_IP": "127.0.0.1",
        "KEYLIME_AGENT_REGISTRAR_PORT": str(reg.port),
        "KEYLIME_AGENT_KEYLIME_DIR": agent_dir,
        "KEYLIME_DIR": agent_dir,
        "KEYLIME_AGENT_TRUSTED_CLIENT_CA": reg.ca_file,
        "KEYLIME_AGENT_RUN_AS": "",
        "KEYLIME_AGENT_IMA_ML_PATH": ima_log,
        "KEYLIME_AGENT_MEASUREDBOOT_ML_PATH": os.path.join(DATA, "eventlogs",
                                                           "binary_bios_measurements"),
        "KEYLIME_AGENT_EXPONENTIAL_BACKOFF_INITIAL_DELAY": "200",
        "KEYLIME_AGENT_ENABLE_REVOCATION_NOTIFICATIONS": "False",
        "KEYLIME_AGENT_REVOCATION_ACTIONS_DIR": os.path.join(WORK, "actions"),
    })
    if tcti:
        env["TCG_TCTI"] = tcti
    agent = kltest.Daemon("agent" + agent_id[-1], [AGENT_BIN], env)
    DAEMONS.append(agent)
    return agent


def main():
    start = time.monotonic()
    os.makedirs(os.path.join(WORK, "actions"))
    shutil.copy(os.path.join(DATA, "ima", "ima-log-sha256"), IMA_LOG)
    shutil.copy(os.path.join(DATA, "ima", "ima-log-sha256"), IMA_LOG2)
    policy = os.path.join(WORK, "runtime-policy.json")
    with open(policy, "w") as f:
        subprocess.run([POLICY_BIN, "create", "runtime", "--ima-measurement-list", IMA_LOG],
                       stdout=f, check=True)
    emulator = kltest.Daemon("emulator", [EMULATOR_BIN, "--log", IMA_LOG, "--interval", "20"],
                             dict(os.environ))
    DAEMONS.append(emulator)
    try:
        emulator.wait_for(r"extended PCR 10 with \d+ entries")
        make_ca()
        reg = Registrar(os.path.join(WORK, "registrar"))
        DAEMONS.append(reg)
        start_verifier(reg)
        agents = [start_agent(reg, AGENT1, kltest.free_port(), IMA_LOG),
                  start_agent(reg, AGENT2, kltest.free_port(), IMA_LOG2,
                              os.environ["KL_AGENT2_TCTI"])]
        for agent in agents:
            agent.wait_for(r"registered and activated", timeout=120)
        print(f"# deployment up in {time.monotonic() - start:.1f} s", flush=True)
        env = dict(os.environ)
        env.update({
            "KL_UI_AGENT1": AGENT1,
            "KL_UI_AGENT2": AGENT2,
            "KL_UI_RUNTIME_POLICY": policy,
            "KL_UI_IMA_LOG": IMA_LOG,
            "KL_UI_EVIL_PATH": EVIL_PATH,
            "KL_UI_EVIL_LINE": ima_ng_line(EVIL_PATH, b"not in any policy"),
            "KL_UI_QUOTE_INTERVAL": str(QUOTE_INTERVAL),
            "KL_TEST_ARTIFACTS": os.environ.get("KL_TEST_ARTIFACTS", ARTIFACTS),
            "GSETTINGS_SCHEMA_DIR": SCHEMA_DIR,
            "GSETTINGS_BACKEND": "memory",
            "GDK_BACKEND": "x11",
            "GSK_RENDERER": "cairo",
            "GTK_A11Y": "none",
            "NO_AT_BRIDGE": "1",
            "LANGUAGE": "C",
        })
        # the harness prints the TAP stream; its exit status is the result
        rc = subprocess.run([HARNESS, "--tap"], env=env, timeout=120).returncode
        print(f"# total {time.monotonic() - start:.1f} s", flush=True)
        return rc
    finally:
        for daemon in reversed(DAEMONS):
            daemon.kill()


if __name__ == "__main__":
    sys.exit(main())
