#!/usr/bin/env python3
"""keylime_agent end to end on swtpm (TAP).

The agent registers with the real keylime_registrar; this test then plays
the verifier and the tenant over mTLS with a client certificate from the
CA the agent trusts: quotes are checked with keylime-check (an offline
verifier built from the same core as keylime_verifier), the payload is made
the way upstream's tenant makes it (python3-cryptography), and a signed
revocation runs an action from the payload.
"""
import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import struct
import ssl
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kltest  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

AGENT_BIN, REGISTRAR_BIN, CHECK_BIN, CA_BIN, EMULATOR_BIN, WORK = sys.argv[1:7]
AGENT_ID = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
DATA = os.path.join(kltest.SOURCE_ROOT, "tests", "data")
test = kltest.Tap()
REG = None
AGENT = None
EMULATOR = None
AGENT_PORT = kltest.free_port()
AGENT_DIR = os.path.join(WORK, "agent")
IMA_LOG = os.path.join(WORK, "ima.log")
UEFI_LOG = os.path.join(DATA, "eventlogs", "binary_bios_measurements")
REVOCATION_CA = os.path.join(WORK, "revocation-ca")


def start_agent():
    env = dict(os.environ)
    env.update({
        "KEYLIME_AGENT_CONFIG": kltest.config_path("agent.conf"),
        "KEYLIME_AGENT_UUID": AGENT_ID,
        "KEYLIME_AGENT_IP": "127.0.0.1",
        "KEYLIME_AGENT_PORT": str(AGENT_PORT),
        "KEYLIME_AGENT_CONTACT_IP": "127.0.0.1",
        "KEYLIME_AGENT_CONTACT_PORT": str(AGENT_PORT),
        "KEYLIME_AGENT_REGISTRAR_IP": "127.0.0.1",
        "KEYLIME_AGENT_REGISTRAR_PORT": str(REG.port),
        "KEYLIME_AGENT_KEYLIME_DIR": AGENT_DIR,
        "KEYLIME_DIR": AGENT_DIR,
        "KEYLIME_AGENT_TRUSTED_CLIENT_CA": REG.ca_file,
        "KEYLIME_AGENT_RUN_AS": "",
        "KEYLIME_AGENT_IMA_ML_PATH": IMA_LOG,
        "KEYLIME_AGENT_MEASUREDBOOT_ML_PATH": UEFI_LOG,
        "KEYLIME_AGENT_EXPONENTIAL_BACKOFF_INITIAL_DELAY": "200",
        "KEYLIME_AGENT_REVOCATION_ACTIONS_DIR": os.path.join(WORK, "actions"),
    })
    agent = kltest.Daemon("agent", [AGENT_BIN], env)
    agent.wait_for(r"registered and activated", timeout=120)
    return agent


def setup():
    global REG, AGENT, EMULATOR
    shutil.copy(os.path.join(DATA, "ima", "ima-log-sha256"), IMA_LOG)
    os.makedirs(os.path.join(WORK, "actions"))
    # PCR 10 follows the log, as the kernel's IMA would make it
    EMULATOR = kltest.Daemon("emulator", [EMULATOR_BIN, "--log", IMA_LOG, "--interval", "50"],
                             dict(os.environ))
    EMULATOR.wait_for(r"extended PCR 10 with \d+ entries")
    REG = kltest.Registrar(REGISTRAR_BIN, os.path.join(WORK, "registrar"))
    AGENT = start_agent()


def teardown():
    for daemon in (AGENT, REG, EMULATOR):
        if daemon is not None:
            daemon.kill()


def agent_cert_file():
    """The agent's certificate as the registrar has it: what a verifier pins."""
    path = os.path.join(WORK, "agent-mtls.crt")
    with open(path, "w") as f:
        f.write(registrar_record()["mtls_cert"])
    return path


def verifier_ctx():
    # the registrar's generated CA plays the verifier's CA here
    return kltest.tls_context(agent_cert_file(), REG.ca_dir)


def agent_get(path, ctx=None):
    return kltest.request(AGENT_PORT, "GET", path, ctx=ctx or verifier_ctx())


def agent_post(path, body=None, raw=None):
    return kltest.request(AGENT_PORT, "POST", path, body, ctx=verifier_ctx(), raw=raw)


def registrar_record():
    status, env = REG.request("GET", f"/v2.6/agents/{AGENT_ID}", tls=True)
    assert status == 200, env
    return env["results"]


def keylime_check_quote(results, nonce, tpm_policy=None):
    with open(os.path.join(WORK, "quote"), "w") as f:
        f.write(results["quote"])
    with open(os.path.join(WORK, "nk.pem"), "w") as f:
        f.write(NK_PEM)
    argv = [CHECK_BIN, "quote", "--ak-tpm", registrar_record()["aik_tpm"], "--nonce", nonce,
            "--quote", os.path.join(WORK, "quote"), "--pubkey", os.path.join(WORK, "nk.pem"),
            "--hash-alg", results["hash_alg"], "--json"]
    if tpm_policy:
        argv += ["--tpm-policy", json.dumps(tpm_policy)]
    return subprocess.run(argv, capture_output=True, text=True)


NK_PEM = None


@test
def registers_and_activates():
    record = registrar_record()
    assert record["regcount"] == 1, record
    assert record["ip"] == "127.0.0.1" and record["port"] == AGENT_PORT, record
    assert record["mtls_cert"].startswith("-----BEGIN CERTIFICATE-----"), record
    # swtpm's RSA EK certificate, found in NV and checked against the EK
    assert record["ekcert"], record


@test
def version_pubkey_and_info():
    global NK_PEM
    status, env = kltest.request(AGENT_PORT, "GET", "/version", ctx=verifier_ctx())
    assert status == 200 and env["results"]["supported_version"] == "2.6", env
    assert env["results"]["supported_versions"][0] == "2.1", env
    status, env = agent_get("/v2.6/keys/pubkey")
    assert status == 200, env
    NK_PEM = env["results"]["pubkey"]
    assert NK_PEM.startswith("-----BEGIN PUBLIC KEY-----"), NK_PEM
    status, env = agent_get("/v2.6/agent/info")
    assert status == 200 and env["results"]["agent_uuid"] == AGENT_ID, env
    assert env["results"]["tpm_enc_alg"] == "rsa2048", env
    status, env = agent_get("/v2.4/agent/info")
    assert env["results"]["tpm_enc_alg"] == "rsa", env
    # /agent/info is 2.2 and later
    status, env = agent_get("/v2.1/agent/info")
    assert status in (400, 404), env


@test
def identity_quote_verifies():
    nonce = "Xy3kQ9aZ1mN0pLr7TbVw"
    status, env = agent_get(f"/v2.6/quotes/identity?nonce={nonce}")
    assert status == 200, env
    r = env["results"]
    assert r["pubkey"] == NK_PEM and r["hash_alg"] == "sha256" and r["sign_alg"] == "rsassa", r
    out = keylime_check_quote(r, nonce)
    assert out.returncode == 0, out
    # the same quote under another nonce is a replay
    out = keylime_check_quote(r, "AnotherNonce123")
    assert out.returncode == 1, out


@test
def integrity_quote_carries_the_logs():
    nonce = "n0nce"
    status, env = agent_get(f"/v2.6/quotes/integrity?nonce={nonce}&mask=0x408401&partial=0")
    assert status == 200, env
    r = env["results"]
    with open(IMA_LOG) as f:
        assert r["ima_measurement_list"] == f.read(), "IMA list differs"
    assert r["ima_measurement_list_entry"] == 0, r
    with open(UEFI_LOG, "rb") as f:
        assert base64.b64decode(r["mb_measurement_list"]) == f.read(), "UEFI log differs"
    assert r["pubkey"] == NK_PEM, r
    out = keylime_check_quote(r, nonce)
    assert out.returncode == 0, out
    # PCR 16 binds the NK: another key fails the check
    other = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA"], capture_output=True,
                           text=True, check=True).stdout
    pub = subprocess.run(["openssl", "pkey", "-pubout"], input=other, capture_output=True,
                         text=True, check=True).stdout
    saved = globals()["NK_PEM"]
    globals()["NK_PEM"] = pub
    try:
        out = keylime_check_quote(r, nonce)
    finally:
        globals()["NK_PEM"] = saved
    assert out.returncode == 1 and "16" in out.stdout, out


@test
def partial_quote_and_no_uefi_without_pcr0():
    status, env = agent_get("/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1")
    assert status == 200, env
    assert "pubkey" not in env["results"] and "mb_measurement_list" not in env["results"], env


@test
def ima_ml_entry_returns_only_new_entries():
    with open(IMA_LOG) as f:
        lines = f.read().splitlines(keepends=True)
    status, env = agent_get("/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1"
                            f"&ima_ml_entry={len(lines) - 2}")
    assert status == 200, env
    assert env["results"]["ima_measurement_list"] == "".join(lines[-2:]), env
    assert env["results"]["ima_measurement_list_entry"] == len(lines) - 2, env
    status, env = agent_get("/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1"
                            f"&ima_ml_entry={len(lines)}")
    assert env["results"]["ima_measurement_list"] == "", env
    # past the end: a new boot, the whole log from entry 0
    status, env = agent_get("/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1"
                            "&ima_ml_entry=100000")
    assert env["results"]["ima_measurement_list_entry"] == 0, env


def ima_ng_line(path, content):
    """An ima-ng entry as the kernel writes it: the template hash is SHA-1
    over the template data (lengths little-endian)."""
    digest = hashlib.sha256(content).digest()
    field = b"sha256:\x00" + digest
    name = path.encode() + b"\x00"
    data = struct.pack("<I", len(field)) + field + struct.pack("<I", len(name)) + name
    return f"10 {hashlib.sha1(data).hexdigest()} ima-ng sha256:{digest.hex()} {path}\n"


def quoted_ima(first=0):
    """An integrity quote of PCR 10, checked, and the IMA list and PCR 10 it
    carries."""
    nonce = "ImaNonce" + str(first)
    status, env = agent_get(f"/v2.6/quotes/integrity?nonce={nonce}&mask=0x400&partial=0"
                            f"&ima_ml_entry={first}")
    assert status == 200, env
    out = keylime_check_quote(env["results"], nonce)
    assert out.returncode == 0, out
    pcr10 = json.loads(out.stdout)["pcrs"]["10"]
    return env["results"], pcr10


def allowlist_of(log_path):
    """What the machine ran when the log was taken, as a legacy allowlist."""
    path = os.path.join(WORK, "allowlist")
    with open(log_path) as f, open(path, "w") as out:
        for line in f:
            fields = line.split()
            out.write(f"{fields[3].split(':', 1)[1]}  {fields[4]}\n")
    return path


ALLOWLIST = None


def keylime_check_ima(entries, pcr10):
    path = os.path.join(WORK, "served-ima.log")
    with open(path, "w") as f:
        f.write(entries)
    return subprocess.run([CHECK_BIN, "ima", "--log", path, "--allowlist", ALLOWLIST,
                           "--pcr", pcr10], capture_output=True, text=True)


@test
def served_ima_list_matches_quoted_pcr10_and_policy():
    global ALLOWLIST
    ALLOWLIST = allowlist_of(IMA_LOG)
    results, pcr10 = quoted_ima()
    out = keylime_check_ima(results["ima_measurement_list"], pcr10)
    assert out.returncode == 0, out


@test
def unlisted_file_fails_naming_it():
    with open(IMA_LOG) as f:
        n_before = len(f.read().splitlines())
    mark = EMULATOR.mark()
    with open(IMA_LOG, "a") as f:
        f.write(ima_ng_line("/usr/bin/evil-tool", b"not in any policy"))
    EMULATOR.wait_for(rf"now at entry {n_before + 1}", start=mark)
    results, pcr10 = quoted_ima()
    out = keylime_check_ima(results["ima_measurement_list"], pcr10)
    assert out.returncode == 1 and "/usr/bin/evil-tool" in out.stdout, out
    # the PCR replay itself matched: the only finding is the policy's
    findings = [line for line in out.stdout.splitlines() if line.startswith("  line ")]
    assert len(findings) == 1 and "not_in_allowlist" in findings[0], out
    # ima_ml_entry: only the new entry
    status, env = agent_get("/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1"
                            f"&ima_ml_entry={n_before}")
    assert env["results"]["ima_measurement_list"].count("\n") == 1, env
    assert "/usr/bin/evil-tool" in env["results"]["ima_measurement_list"], env


@test
def bad_parameters_are_400_and_the_agent_keeps_serving():
    for query in ["nonce=a%2Bb&mask=0x400&partial=0", "nonce=" + "a" * 65 + "&mask=0x400&partial=0",
                  "mask=0x400&partial=0", "nonce=abc&mask=zz&partial=0",
                  "nonce=abc&mask=0x1000000&partial=0", "nonce=abc&mask=0x400&partial=2",
                  "nonce=abc&mask=0x400&partial=0&ima_ml_entry=-1",
                  "nonce=abc&mask=0x400&partial=0&ima_ml_entry=1e3"]:
        status, env = agent_get(f"/v2.6/quotes/integrity?{query}")
        assert status == 400, (query, env)
    status, env = agent_get("/v2.6/quotes/identity?nonce=")
    assert status == 400, env
    status, env = agent_get("/v2.6/keys/verify?challenge=abc")
    assert status == 400, env  # no K yet
    status, env = agent_post("/v2.6/keys/ukey", raw="{\"encrypted_key\": ")
    assert status == 400, env
    status, env = agent_post("/v2.6/keys/vkey", {"encrypted_key": "not*base64"})
    assert status == 400, env
    status, env = agent_post("/v2.6/keys/ukey", raw="{\"payload\": \"" + "A" * (3 << 20) + "\"}")
    assert status == 413, env
    status, env = agent_get("/v1.0/keys/pubkey")
    assert status == 400 and "api version not supported" in env["status"].lower(), env
    status, env = agent_get("/v2.6/keys/pubkey")
    assert status == 200, env


@test
def mtls_refuses_strangers():
    pinned = agent_cert_file()
    for ctx in (kltest.tls_context(pinned),  # no client certificate
                kltest.tls_context(pinned, STRANGER_DIR, "stranger")):
        try:
            kltest.request(AGENT_PORT, "GET", "/v2.6/keys/pubkey", ctx=ctx)
        except ssl.SSLCertVerificationError:
            raise  # the test's own trust in the agent is wrong, not the agent
        except (ssl.SSLError, ConnectionError, OSError):
            continue
        raise AssertionError("the agent answered a client without a trusted certificate")
    # the pinned certificate itself is accepted with a trusted client
    status, _ = agent_get("/v2.6/keys/pubkey")
    assert status == 200


STRANGER_DIR = os.path.join(WORK, "stranger-ca")


def nk_public():
    return serialization.load_pem_public_key(NK_PEM.encode())


def encrypt_share(share):
    # upstream's tenant and verifier: RSA-OAEP with SHA-1 under the NK
    return base64.b64encode(nk_public().encrypt(share, padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(),
        label=None))).decode()


def make_payload_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("autorun.sh", "#!/bin/sh\necho ran > autorun-marker\n")
        z.writestr("local_action_mark", "#!/bin/sh\ncat > revoked-marker\n")
        z.writestr("action_list", "local_action_mark\n")
        with open(os.path.join(REVOCATION_CA, "RevocationNotifier-cert.crt")) as f:
            z.writestr("RevocationNotifier-cert.crt", f.read())
    return buf.getvalue()


K = os.urandom(32)


@test
def payload_runs_after_u_and_v():
    unzipped = os.path.join(AGENT_DIR, "secure", "unzipped")
    u = os.urandom(32)
    v = bytes(a ^ b for a, b in zip(K, u))
    iv = os.urandom(16)  # Keylime's 16-byte GCM IV, then ciphertext and tag
    payload = base64.b64encode(iv + AESGCM(K).encrypt(iv, make_payload_zip(), None)).decode()
    auth_tag = hmac.new(K, AGENT_ID.encode(), hashlib.sha384).hexdigest()
    # a U with the wrong auth_tag first: it must never combine
    status, env = agent_post("/v2.6/keys/ukey", {"encrypted_key": encrypt_share(u),
                                                  "auth_tag": "00" * 48, "payload": payload})
    assert status == 200, env
    mark = AGENT.mark()
    status, env = agent_post("/v2.6/keys/vkey", {"encrypted_key": encrypt_share(v)})
    assert status == 200, env
    status, env = agent_get("/v2.6/keys/verify?challenge=abc")
    assert status == 400, env
    status, env = agent_post("/v2.6/keys/ukey", {"encrypted_key": encrypt_share(u),
                                                  "auth_tag": auth_tag, "payload": payload})
    assert status == 200, env
    AGENT.wait_for(r"payload installed; its script ran", start=mark)
    with open(os.path.join(unzipped, "autorun-marker")) as f:
        assert f.read() == "ran\n"
    status, env = agent_get("/v2.6/keys/verify?challenge=Q2w3E4r5")
    assert status == 200, env
    assert env["results"]["hmac"] == hmac.new(K, b"Q2w3E4r5", hashlib.sha384).hexdigest(), env


def deliver_payload(zip_bytes):
    """A new enrollment's K, U and V with @zip_bytes as the payload."""
    k = os.urandom(32)
    u = os.urandom(32)
    v = bytes(a ^ b for a, b in zip(k, u))
    iv = os.urandom(16)
    payload = base64.b64encode(iv + AESGCM(k).encrypt(iv, zip_bytes, None)).decode()
    auth_tag = hmac.new(k, AGENT_ID.encode(), hashlib.sha384).hexdigest()
    mark = AGENT.mark()
    status, env = agent_post("/v2.6/keys/ukey", {"encrypted_key": encrypt_share(u),
                                                  "auth_tag": auth_tag, "payload": payload})
    assert status == 200, env
    status, env = agent_post("/v2.6/keys/vkey", {"encrypted_key": encrypt_share(v)})
    assert status == 200, env
    return mark


def sign_revocation(msg):
    with open(os.path.join(REVOCATION_CA, "RevocationNotifier-private.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    signature = key.sign(msg.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                   salt_length=padding.PSS.MAX_LENGTH),
                         hashes.SHA256())
    return base64.b64encode(signature).decode()


@test
def signed_revocation_runs_the_action():
    unzipped = os.path.join(AGENT_DIR, "secure", "unzipped")
    msg = json.dumps({"type": "revocation", "agent_id": "some-other-agent", "ip": "10.0.0.5",
                      "port": 9002, "event_id": "ima.validation.ima-ng.not_in_allowlist",
                      "severity_label": "emergency", "context": "{}"})
    status, env = agent_post("/v2.6/notifications/revocation",
                             {"msg": msg.replace("10.0.0.5", "10.0.0.6"),
                              "signature": sign_revocation(msg)})
    assert status == 400, env
    assert not os.path.exists(os.path.join(unzipped, "revoked-marker"))
    mark = AGENT.mark()
    status, env = agent_post("/v2.6/notifications/revocation",
                             {"msg": msg, "signature": sign_revocation(msg)})
    assert status == 200, env
    AGENT.wait_for(r"revocation: 1 action\(s\) ran", start=mark)
    with open(os.path.join(unzipped, "revoked-marker")) as f:
        event = json.load(f)
    assert event["agent_id"] == "some-other-agent", event


@test
def hostile_payloads_are_refused():
    secure = os.path.join(AGENT_DIR, "secure")
    # an entry climbing out of the secure directory
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("autorun.sh", "#!/bin/sh\necho ran > hostile-marker\n")
        z.writestr("../../escaped", "out")
    mark = deliver_payload(buf.getvalue())
    m = AGENT.wait_for(r"payload: (.*)", start=mark)
    assert "escaped" in m.group(1), m.group(0)
    # a bomb: 1 GiB of zeros in about 1 MiB
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(1024):
                member.write(chunk)
    assert len(buf.getvalue()) < (2 << 20), len(buf.getvalue())
    mark = deliver_payload(buf.getvalue())
    m = AGENT.wait_for(r"payload: (.*)", start=mark)
    for root, _, files in os.walk(os.path.dirname(AGENT_DIR)):
        assert "escaped" not in files and "hostile-marker" not in files, (root, files)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(secure) for f in fs)
    assert total < (64 << 20), total
    status, env = agent_get("/v2.6/keys/pubkey")
    assert status == 200, env


@test
def restart_keeps_the_ak_and_registers_again():
    global AGENT
    aik = registrar_record()["aik_tpm"]
    assert AGENT.stop() == 0
    AGENT = start_agent()
    record = registrar_record()
    assert record["aik_tpm"] == aik and record["regcount"] == 2, record
    status, env = agent_get("/v2.6/keys/pubkey")
    assert env["results"]["pubkey"] == NK_PEM, "the NK changed across a restart"


def ca_setup():
    for directory, name in ((REVOCATION_CA, "RevocationNotifier"),
                            (STRANGER_DIR, "stranger")):
        subprocess.run([CA_BIN, "-c", "init", "-d", directory], check=True,
                       stdout=subprocess.DEVNULL)
        if name != "RevocationNotifier":
            subprocess.run([CA_BIN, "-c", "create", "-n", name, "-d", directory],
                           check=True, stdout=subprocess.DEVNULL)


def full_setup():
    ca_setup()
    setup()


sys.exit(test.run(full_setup, teardown))
