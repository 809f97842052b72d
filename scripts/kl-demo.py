#!/usr/bin/env python3
"""The demo behind scripts/run-system (the README's first command), once
the programs are built: the whole system on loopback with
tests/lib/kldeploy.py, the agent enrolled by keylime_tenant, and a guide
to watching it, failing it and stopping it.

    kl-demo.py up|stop|status BUILD_DIR

The directory is $KEYLIME_DEMO_DIR, else /var/lib/keylime-demo as root,
else ~/.local/share/keylime-demo.  `up` in a directory used before reuses
its state (certificates, TPM, agent id, databases): the agent keeps its
enrollment, and one the verifier had given up on is reactivated.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the clone
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import kldeploy  # noqa: E402

# upstream's operational states
STATES = {0: "Registered", 1: "Start", 2: "Saved", 3: "Get Quote", 4: "Get Quote (retry)",
          5: "Provide V", 6: "Provide V (retry)", 7: "Failed", 8: "Terminated",
          9: "Invalid Quote", 10: "Tenant Failed"}
GET_QUOTE = 3
# what up() starts, by kldeploy's names
DAEMONS = ("dbus", "swtpm-1", "abrmd-1", "registrar", "verifier", "emulator-1", "agent-1")
GIVEN_UP = (7, 9, 10)
UP_TIMEOUT = 90
TENANT_TIMEOUT = 120
PAYLOAD_TEXT = ("Hello from keylime-c.  keylime_tenant encrypted this file; the agent could\n"
                "decrypt it only after the verifier had checked its TPM quote.\n")
FAILURE_PATH = "/usr/bin/evil-tool"


def demo_dir():
    if os.environ.get("KEYLIME_DEMO_DIR"):
        return os.path.abspath(os.environ["KEYLIME_DEMO_DIR"])
    if os.geteuid() == 0:
        return "/var/lib/keylime-demo"
    return os.path.join(os.path.expanduser("~"), ".local", "share", "keylime-demo")


class Demo:
    def __init__(self, build_dir):
        self.build_dir = os.path.abspath(build_dir)
        self.dir = demo_dir()
        self.d = kldeploy.Deployment(self.dir, self.build_dir,
                                     progress=lambda step: print(f"  {step}",
                                                                 flush=True))
        self.tenant_bin = self.d.program("keylime_tenant")

    def tenant(self, *args):
        """keylime_tenant with this deployment's tenant.conf: (code, output)."""
        env = dict(os.environ, KEYLIME_TENANT_CONFIG=self.d.tenant_conf)
        try:
            out = subprocess.run([self.tenant_bin, *args], env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=TENANT_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            output = e.output.decode(errors="replace") if isinstance(e.output, bytes) else ""
            return -1, f"{output}keylime_tenant {args[1]}: no answer within {TENANT_TIMEOUT} s\n"
        return out.returncode, out.stdout

    def tenant_line(self, *args):
        return (f"KEYLIME_TENANT_CONFIG={self.d.tenant_conf} {self.tenant_bin} "
                + " ".join(args))

    # --- up --------------------------------------------------------------

    def up(self):
        if not os.access(self.tenant_bin, os.X_OK):
            print(f"run-system: {self.tenant_bin} is not built", file=sys.stderr)
            return 1
        running = self.d.running()
        if running:
            stopped = sorted(set(DAEMONS) - set(running))
            if stopped:
                print(f"run-system: keylime-c runs in {self.dir} without "
                      f"{', '.join(stopped)} (see {self.d.logs_dir}); "
                      "`scripts/run-system stop`, then run it again", file=sys.stderr)
                return 1
            print(f"keylime-c already runs in {self.dir}.")
            self.guide()
            return 0
        reused = os.path.exists(os.path.join(self.dir, "state.json"))
        print(f"Bringing up keylime-c in {self.dir}"
              + (" (reusing its state)" if reused else "") + ":", flush=True)
        try:
            self.d.up()
        except (kldeploy.DeployError, OSError, subprocess.CalledProcessError) as e:
            print(f"run-system: {e}", file=sys.stderr)
            return 1
        try:
            return self.enroll_and_wait()
        except (kldeploy.DeployError, OSError) as e:
            print(f"run-system: {e}\n  (still running: stop with `scripts/run-system stop`, "
                  f"logs in {self.d.logs_dir})", file=sys.stderr)
            return 1

    def files(self):
        """The runtime policy (keylime-policy, from the sample log the
        agent boots with) and the payload, made once."""
        policy = os.path.join(self.dir, "runtime-policy.json")
        if not os.path.exists(policy):
            subprocess.run([self.d.program("keylime-policy"), "create", "runtime",
                            "--ima-measurement-list", kldeploy.SAMPLE_IMA_LOG, "-o", policy],
                           check=True, stdout=subprocess.DEVNULL)
        payload = os.path.join(self.dir, "payload.txt")
        if not os.path.exists(payload):
            with open(payload, "w") as f:
                f.write(PAYLOAD_TEXT)
        return policy, payload

    def enroll_and_wait(self):
        agent_id = self.d.agent_id
        policy, payload = self.files()
        state = self.d.agent_state()
        if state is None:
            args = ["-c", "add", "-u", agent_id, "-t", "127.0.0.1", "-tp", str(self.d.agent_port),
                    "-v", "127.0.0.1", "-vp", str(self.d.verifier_port),
                    "-r", "127.0.0.1", "-rp", str(self.d.registrar_tls_port),
                    "--runtime-policy", policy, "-f", payload]
            print(f"Enrolling agent {agent_id} with keylime_tenant:", flush=True)
            code, out = self.tenant(*args)
            print("".join(f"  {line}\n" for line in out.splitlines()), end="", flush=True)
            if code != 0:
                print(f"run-system: keylime_tenant -c add failed ({code}); the deployment "
                      "still runs: `scripts/run-system stop` stops it", file=sys.stderr)
                return 1
        else:
            print(f"Agent {agent_id} is enrolled already.", flush=True)
        if not self.wait_for_get_quote(agent_id):
            return 1
        self.guide()
        return 0

    def wait_for_get_quote(self, agent_id):
        """Until the verifier attests the agent; an agent it had given up
        on (a failure before the last stop) is reactivated once: the
        machine rebooted with a clean log."""
        reactivated = False
        deadline = time.monotonic() + UP_TIMEOUT
        while True:
            state = self.d.agent_state()
            if state == GET_QUOTE:
                code, out = self.tenant("-c", "cvstatus", "-u", agent_id)
                if code == 0 and "Get Quote" in out:
                    break
            elif state in GIVEN_UP and not reactivated:
                print(f"The verifier had stopped at {STATES[state]}: reactivating the agent.",
                      flush=True)
                code, out = self.tenant("-c", "reactivate", "-u", agent_id)
                if code != 0:
                    print(f"run-system: keylime_tenant -c reactivate failed:\n{out}",
                          file=sys.stderr)
                    return False
                reactivated = True
            if time.monotonic() > deadline:
                print(f"run-system: agent {agent_id} did not reach Get Quote within "
                      f"{UP_TIMEOUT} s (state {state}); logs in {self.d.logs_dir}",
                      file=sys.stderr)
                return False
            time.sleep(0.5)
        print(f"Agent {agent_id}: Get Quote — the verifier checks its TPM quote and IMA log "
              f"every {self.d.quote_interval:g} s.", flush=True)
        return True

    # --- what to do next -------------------------------------------------

    def console(self, path, name):
        built = os.path.join(self.build_dir, path)
        return built if os.access(built, os.X_OK) else name

    def guide(self):
        d = self.d
        line = kldeploy.ima_ng_line(FAILURE_PATH).rstrip("\n")
        payload = os.path.join(d.agent_dir(), "secure", "unzipped", "decrypted_payload")
        if os.path.exists(payload):
            print(f"The agent got the payload keylime_tenant sent it: {payload}")
        print(f"""
Everything lives in {self.dir} (logs in {d.logs_dir}).

Watch it:
  {self.tenant_line("-c", "cvstatus", "-u", d.agent_id)}
  export DBUS_SESSION_BUS_ADDRESS={d.bus_address}
  {self.console("console-tui/keylime-tui", "keylime-tui")} --session
  {self.console("console-gtk/keylime-console", "keylime-console")} --session
  busctl --address={d.bus_address} tree org.keylime.Verifier1

Cause a failure (the agent runs a file its runtime policy does not list;
keylime_ima_emulator extends PCR 10 with it, the agent goes to Invalid Quote):
  echo '{line}' >> {d.ima_log()}

Stop everything (the state stays for the next run):
  scripts/run-system stop""", flush=True)

    # --- stop and status -------------------------------------------------

    def stop(self):
        running = self.d.running()
        if not running:
            print(f"Nothing runs in {self.dir}.")
            return 0
        self.d.down()
        print(f"Stopped {len(running)} processes; the state stays in {self.dir} "
              f"(remove it to start afresh).")
        return 0

    def status(self):
        running = self.d.running()
        if not running:
            print(f"keylime-c does not run in {self.dir}.")
            return 3
        print(f"keylime-c runs in {self.dir}: {', '.join(running)}")
        try:
            state = self.d.agent_state()
        except (kldeploy.DeployError, OSError) as e:
            print(f"  the verifier does not answer: {e}")
            return 1
        print(f"  agent {self.d.agent_id}: "
              + ("not enrolled" if state is None else STATES.get(state, str(state))))
        return 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("up", "stop", "status"):
        print("usage: kl-demo.py up|stop|status BUILD_DIR", file=sys.stderr)
        return 2
    demo = Demo(argv[2])
    return {"up": demo.up, "stop": demo.stop, "status": demo.status}[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
