#!/usr/bin/env python3
"""keylime-console against a real deployment (TAP through the C harness).

tests/lib/kldeploy.py brings up the deployment (a private bus, swtpm behind
tpm2-abrmd, keylime_ima_emulator, keylime_registrar and keylime_verifier
with --session, agent 1) and a second agent on a swtpm of its own; neither
agent is enrolled.  Then kl-console-ui-test drives keylime-console in its
own process on that bus: it enrolls both agents through the wizard
(EnrollAgent), so the verifier runs the tenant's flow itself.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kldeploy  # noqa: E402

HARNESS, BUILD_DIR, SCHEMA_DIR, ARTIFACTS, WORK = sys.argv[1:6]
AGENT1 = "d432fbb3-d2f1-4a97-9ef7-75bd81c0ff01"
AGENT2 = "d432fbb3-d2f1-4a97-9ef7-75bd81c0ff02"
QUOTE_INTERVAL = 1.0
EVIL_PATH = "/usr/bin/console-evil-tool"


def main():
    start = time.monotonic()
    deployment = kldeploy.Deployment(WORK, build_dir=BUILD_DIR, echo=True,
                                     quote_interval=QUOTE_INTERVAL, agent_id=AGENT1)
    try:
        deployment.up()
        deployment.add_agent(AGENT2)
        print(f"# deployment up in {time.monotonic() - start:.1f} s", flush=True)
        env = deployment.env()
        env.update({
            "KL_UI_WORK": WORK,
            "KL_UI_AGENT1": AGENT1,
            "KL_UI_AGENT2": AGENT2,
            "KL_UI_IMA_LOG": deployment.ima_log(AGENT1),
            "KL_UI_EVIL_PATH": EVIL_PATH,
            "KL_UI_EVIL_LINE": kldeploy.ima_ng_line(EVIL_PATH),
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
        policy = os.path.join(WORK, "runtime-policy.json")
        with open(policy, "w") as f:
            subprocess.run([deployment.program("keylime-policy"), "create", "runtime",
                            "--ima-measurement-list", deployment.ima_log(AGENT1)],
                           stdout=f, check=True)
        env["KL_UI_RUNTIME_POLICY"] = policy
        # the harness prints the TAP stream; its exit status is the result
        rc = subprocess.run([HARNESS, "--tap"], env=env, timeout=120).returncode
        print(f"# total {time.monotonic() - start:.1f} s", flush=True)
        return rc
    except kldeploy.DeployError as e:
        print(f"1..0 # SKIP the deployment did not come up: {e}")
        return 0
    finally:
        deployment.down()


if __name__ == "__main__":
    sys.exit(main())
