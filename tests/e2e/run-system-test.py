#!/usr/bin/env python3
"""scripts/run-system as a smoke test (issue 8: "the test suite runs it as
a smoke test"), TAP.  The demo's up path on the test build (no install,
no build: KL_DEMO_NO_BUILD), in a demo directory of its own: the agent
reaches Get Quote with the payload delivered, the failure recipe the demo
prints, run literally, moves it to Invalid Quote, `stop` leaves no process
behind, and a second run reuses the state (same CA, same agent) and
brings the agent back to Get Quote.

    run-system-test.py BUILD_DIR
"""
import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kldeploy  # noqa: E402
import kltest  # noqa: E402

BUILD_DIR = os.path.abspath(sys.argv[1])
RUN_SYSTEM = os.path.join(kltest.SOURCE_ROOT, "scripts", "run-system")
DEMO = tempfile.mkdtemp(prefix="keylime-demo-")
TIME_SCALE = float(os.environ.get("KL_TEST_TIME_SCALE", "1"))
GET_QUOTE, INVALID_QUOTE = 3, 9

test = kltest.Tap()
FIRST = {}  # what the first run printed and left


def run_system(*args, timeout=120):
    env = dict(os.environ, KEYLIME_DEMO_DIR=DEMO, KL_BUILD_DIR=BUILD_DIR, KL_DEMO_NO_BUILD="1")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the demo brings its own bus
    out = subprocess.run([RUN_SYSTEM, *args], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout * TIME_SCALE)
    for line in out.stdout.splitlines():
        print(f"# run-system {' '.join(args) or 'up'}: {line}")
    reap()
    return out.returncode, out.stdout


def reap():
    """Collects the daemons the demo left to us (we are their subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def deployment():
    return kldeploy.Deployment(DEMO, BUILD_DIR)


def wait_state(want, timeout):
    d = deployment()
    deadline = time.monotonic() + timeout * TIME_SCALE
    state = None
    while time.monotonic() < deadline:
        state = d.agent_state()
        if state == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"agent state {state}, not {want} within {timeout} s")


def demo_processes():
    """Live processes whose command line names the demo directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if DEMO in cmdline and not zombie and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline}")
    return found


def assert_nothing_left(pids):
    reap()
    left = [name for name, rec in pids.items() if isinstance(rec, dict) and "pid" in rec and
            kldeploy.Process.adopt(name, rec, "").alive()]
    assert not left, left
    assert not demo_processes(), demo_processes()
    assert not os.path.ismount(os.path.join(DEMO, "agent-1", "secure"))


def ca_digest():
    with open(os.path.join(DEMO, "keylime", "cv_ca", "cacert.crt"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pids_now():
    with open(os.path.join(DEMO, "run", "pids.json")) as f:
        return json.load(f)


@test
def first_run_enrolls_the_agent_into_get_quote():
    code, out = run_system()
    assert code == 0, out
    d = deployment()
    FIRST.update(out=out, agent_id=d.agent_id, ca=ca_digest(), pids=pids_now())
    assert f"Agent {d.agent_id}: Get Quote" in out, out
    assert d.agent_state() == GET_QUOTE
    # keylime_tenant -f: the agent decrypted the payload after attestation
    with open(os.path.join(DEMO, "payload.txt")) as f:
        payload = f.read()
    delivered = os.path.join(DEMO, "agent-1", "secure", "unzipped", "decrypted_payload")
    deadline = time.monotonic() + 10 * TIME_SCALE
    while not os.path.exists(delivered) and time.monotonic() < deadline:
        time.sleep(0.1)
    with open(delivered) as f:
        assert f.read() == payload


@test
def output_says_how_to_watch_and_stop():
    out = FIRST["out"]
    d = deployment()
    assert f"export DBUS_SESSION_BUS_ADDRESS={d.bus_address}" in out, out
    assert "keylime-tui" in out and "keylime-console" in out, out
    assert f"-c cvstatus -u {d.agent_id}" in out and d.tenant_conf in out, out
    assert "scripts/run-system stop" in out, out
    # the bus it names is the one the verifier owns a name on
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=d.bus_address)
    names = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                            "--object-path", "/org/freedesktop/DBus",
                            "--method", "org.freedesktop.DBus.ListNames"],
                           env=env, capture_output=True, text=True, timeout=30)
    assert "org.keylime.Verifier1" in names.stdout, names
    assert "org.keylime.Registrar1" in names.stdout, names


@test
def status_reports_the_agent():
    code, out = run_system("status")
    assert code == 0, out
    assert "Get Quote" in out and "verifier" in out, out


@test
def printed_failure_recipe_moves_the_agent_to_invalid_quote():
    recipes = re.findall(r"^  (echo '[^']+' >> \S+)$", FIRST["out"], re.M)
    assert len(recipes) == 1, FIRST["out"]
    subprocess.run(["sh", "-c", recipes[0]], check=True, timeout=10)
    wait_state(INVALID_QUOTE, 3 * deployment().quote_interval + 10)


@test
def stop_leaves_no_process_behind():
    code, out = run_system("stop")
    assert code == 0, out
    assert_nothing_left(FIRST["pids"])
    code, out = run_system("status")
    assert code != 0 and "does not run" in out, out


@test
def second_run_reuses_the_state_and_attests_again():
    code, out = run_system()
    assert code == 0, out
    d = deployment()
    assert d.agent_id == FIRST["agent_id"]
    assert ca_digest() == FIRST["ca"]
    assert "reusing its state" in out and "enrolled already" in out, out
    # the failure was before the stop: the rebooted agent is reactivated
    assert "reactivating" in out, out
    assert d.agent_state() == GET_QUOTE
    pids = pids_now()
    code, out = run_system("stop")
    assert code == 0, out
    assert_nothing_left(pids)


def setup():
    for tool in ("swtpm", "swtpm_setup", "tpm2-abrmd", "dbus-daemon", "gdbus"):
        if shutil.which(tool) is None:
            print(f"1..0 # SKIP {tool} not installed")
            sys.exit(0)
    # PR_SET_CHILD_SUBREAPER: the daemons run-system leaves behind become
    # our children, so that we can tell "stopped" from "a zombie"
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def teardown():
    if os.path.exists(os.path.join(DEMO, "run", "pids.json")):
        run_system("stop")
    if os.environ.get("KL_TEST_KEEP"):
        print(f"# kept {DEMO}")
    else:
        shutil.rmtree(DEMO, ignore_errors=True)


if __name__ == "__main__":
    setup()
    sys.exit(test.run(None, teardown))
