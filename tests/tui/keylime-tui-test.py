#!/usr/bin/env python3
"""keylime-tui under tmux against a real deployment (TAP, suite tui).

tests/lib/kldeploy.py brings up registrar, verifier (--session on a
private bus), an agent on swtpm with the IMA emulator, and a second
registered agent on a swtpm of its own.  keylime-tui runs in a detached
tmux session 80x24 on a private socket (-L); scripted keys walk every
view; saved screens are compared to tests/tui/expected/*.screen after the
normalisation described in tests/tui/README.md (times, dates, loopback
ports and attestation counts).  The enrollment form enrolls the second
agent end to end (it reaches Get Quote).  Also a resize to 100x30 and a
TERM=dumb session.  KL_TEST_REGENERATE=1 rewrites the expected screens.
"""
import difflib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kldeploy  # noqa: E402
import kltest  # noqa: E402

(TUI_BIN, VERIFIER_BIN, AGENT_BIN, REGISTRAR_BIN, EMULATOR_BIN, CA_BIN, POLICY_BIN,
 WORK) = sys.argv[1:9]
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected")
REGENERATE = bool(os.environ.get("KL_TEST_REGENERATE"))
TIME_SCALE = float(os.environ.get("KL_TEST_TIME_SCALE", "1"))
# distinct first characters: the table cuts ids to its column
AGENT1 = "aaaaaaaa-0000-4000-8000-000000000001"
AGENT2 = "bbbbbbbb-0000-4000-8000-000000000002"
EVIL = "/usr/bin/evil-tool"

test = kltest.Tap()
DEPLOYMENT = None
TUI = None


# --- the screen, normalised ------------------------------------------------

def _same_width(token):
    """A substitution keeping the matched text's width: @token, padded."""
    def sub(match):
        text = match.group(0)
        return token.rjust(len(text)) if text[:1] == " " else token.ljust(len(text))
    return sub


NORMALISATION = [
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), _same_width("DATE TIME")),
    (re.compile(r"\d{4}-\d\d-\d\d"), _same_width("DATE")),
    (re.compile(r"\d\d:\d\d:\d\d"), _same_width("TIME")),
    (re.compile(r"127\.0\.0\.1:\d+"), _same_width("127.0.0.1:PORT")),
    # the agents table's Count column, right-aligned after the time
    (re.compile(r"(?<=TIME) +\d+(?= )"), _same_width("N")),
    (re.compile(r"(?<=Attestations) +\d+"), _same_width("N")),
    (re.compile(r"\d+(?= registrations?)"), _same_width("N")),
]


def normalise(screen):
    lines = []
    for line in screen.split("\n"):
        for pattern, sub in NORMALISATION:
            line = pattern.sub(sub, line)
        lines.append(line.rstrip())
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def compare(name, screen):
    """The normalised @screen equals tests/tui/expected/@name.screen."""
    path = os.path.join(EXPECTED, name + ".screen")
    got = normalise(screen)
    if REGENERATE:
        with open(path, "w") as f:
            f.write(got)
        return
    with open(path) as f:
        want = f.read()
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "expected/" + name + ".screen", "captured"))
        raise AssertionError(f"screen {name} differs:\n{diff}")


class Tmux:
    """keylime-tui in a detached tmux session on a private server."""

    def __init__(self, name, width=80, height=24, term=None):
        self.socket = f"kl-tui-{os.getpid()}-{name}"
        env = [f"DBUS_SESSION_BUS_ADDRESS={DEPLOYMENT.bus_address}", "LANG=C.UTF-8",
               "LC_ALL=C.UTF-8", "G_DEBUG=fatal-criticals"]
        if term:
            env.append(f"TERM={term}")
        # the shell prints keylime-tui's exit status where the test sees it
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", str(width),
                  "-y", str(height), "sh", "-c",
                  f'env {" ".join(env)} "$0" --session; echo "exit status $?"; sleep 60',
                  TUI_BIN)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=check).stdout

    def keys(self, *keys, literal=False):
        for key in keys:
            self.tmux("send-keys", "-t", "tui", *(["-l"] if literal else []), key)
            time.sleep(0.05)

    def type(self, text):
        self.keys(text, literal=True)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "tui")

    def wait_for(self, pattern, timeout=10, absent=False):
        """The screen once @pattern is on it (or gone, with @absent)."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        regex = re.compile(pattern, re.M)
        while True:
            screen = self.screen()
            if bool(regex.search(screen)) != absent:
                # one more frame: the redraw that put it there may be partial
                time.sleep(0.15)
                return self.screen()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} {'still' if absent else 'not'} on screen "
                                   f"within {timeout} s:\n{screen}")
            time.sleep(0.1)

    def kill(self):
        self.tmux("kill-server", check=False)


def row_of(screen, agent_id):
    """The agents table's line of @agent_id (cut to its column)."""
    for line in screen.split("\n"):
        if line[2:].startswith(agent_id[:12]):
            return line
    return None


# --- deployment --------------------------------------------------------------

def setup():
    global DEPLOYMENT, TUI
    DEPLOYMENT = kldeploy.Deployment(WORK, echo=False, quote_interval=1.0, agent_id=AGENT1,
                                     programs={
                                         "keylime_verifier": VERIFIER_BIN,
                                         "keylime_agent": AGENT_BIN,
                                         "keylime_registrar": REGISTRAR_BIN,
                                         "keylime_ima_emulator": EMULATOR_BIN,
                                         "keylime_ca": CA_BIN,
                                         "keylime-policy": POLICY_BIN})
    DEPLOYMENT.up()
    DEPLOYMENT.add_agent(AGENT2)
    DEPLOYMENT.enroll(AGENT1, policy_name="sample")
    TUI = Tmux("main")


def teardown():
    if TUI is not None:
        if os.environ.get("KL_TEST_KEEP"):
            print("# last screen:\n# " + TUI.screen().replace("\n", "\n# "))
        TUI.kill()
    if DEPLOYMENT is not None:
        DEPLOYMENT.down()


# --- tests -------------------------------------------------------------------

@test
def agents_table_shows_the_enrolled_agent_attesting():
    screen = TUI.wait_for(r"^> .*Get Quote +\d\d:\d\d:\d\d +[1-9]", timeout=20)
    row = row_of(screen, AGENT1)
    assert row is not None and "127.0.0.1:" in row and "sample" in row, screen
    assert "1 of 1 shown" in screen, screen
    compare("agents", screen)


@test
def help_screen_lists_the_views_keys_from_the_key_table():
    TUI.keys("?")
    screen = TUI.wait_for(r"Keys of the Agents view")
    compare("help-agents", screen)
    TUI.keys("Escape")
    TUI.wait_for(r"1 of 1 shown")


@test
def filters_by_text_and_by_state():
    TUI.keys("/")
    TUI.type("zz")
    screen = TUI.wait_for(r"Filter: zz_")
    TUI.keys("Enter")
    screen = TUI.wait_for(r"0 of 1 shown .* text: zz")
    assert row_of(screen, AGENT1) is None, screen
    TUI.keys("/", "C-u", "Enter")
    TUI.wait_for(r"1 of 1 shown .* text: -")
    TUI.keys("f", "f")
    screen = TUI.wait_for(r"0 of 1 shown .* state: failed")
    TUI.keys("f", "f")
    screen = TUI.wait_for(r"1 of 1 shown .* state: all")
    TUI.keys("o")
    TUI.wait_for(r"sort: state")
    TUI.keys("o", "o", "o")
    TUI.wait_for(r"sort: id \|")


@test
def a_failed_ima_entry_shows_in_the_table_the_detail_and_the_events():
    DEPLOYMENT.append_ima_entry(EVIL, agent_id=AGENT1)
    screen = TUI.wait_for(r"^>!aaaaaaaa.*(Failed|Invalid Quote)", timeout=20)
    TUI.keys("Enter")
    screen = TUI.wait_for(r"Failed IMA entries: [1-9]")
    assert re.search(r"^   \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  " + re.escape(EVIL), screen, re.M), screen
    assert "Runtime policy         sample" in screen, screen
    compare("detail-failed", screen)
    TUI.keys("2")
    screen = TUI.wait_for(re.escape(EVIL))
    assert re.search(r"^> \d\d:\d\d:\d\d +finding +aaaaaaaa", screen, re.M), screen
    compare("events", screen)


@test
def enrollment_form_enrolls_the_second_agent_until_get_quote():
    TUI.keys("3")
    screen = TUI.wait_for(r"^> Agent +< bbbbbbbb-0000-4000-8000-000000000002 >")
    compare("enroll-form", screen)
    TUI.keys("v")
    screen = TUI.wait_for(r"registered at 127\.0\.0\.1:\d+")
    compare("enroll-review", screen)
    TUI.keys("Enter")
    screen = TUI.wait_for(r"Enrolled as /org/keylime/Verifier1/agents/", timeout=30)
    assert "Failed" not in screen, screen
    TUI.keys("1")
    screen = TUI.wait_for(r"^. bbbbbbbb.*Get Quote +\d\d:\d\d:\d\d +[1-9]", timeout=20)
    assert "2 of 2 shown" in screen, screen


@test
def stop_and_remove_ask_first_and_act():
    TUI.keys("End", "Enter")
    TUI.wait_for(r"Agent bbbbbbbb-0000-4000-8000-000000000002")
    TUI.keys("s")
    TUI.wait_for(r"Stop attestation of bbbbbbbb-.*\? \(y/n\)")
    TUI.keys("n")
    TUI.wait_for(r"\(y/n\)", absent=True)
    time.sleep(1.5)
    assert DEPLOYMENT.agent_state(AGENT2) == 3, DEPLOYMENT.agent_state(AGENT2)
    TUI.keys("s")
    TUI.wait_for(r"\(y/n\)")
    TUI.keys("y")
    TUI.wait_for(r"Stopped bbbbbbbb-")
    assert DEPLOYMENT.agent_state(AGENT2) != 3
    TUI.keys("D")
    TUI.wait_for(r"Remove bbbbbbbb-.* from the verifier\? \(y/n\)")
    TUI.keys("y")
    screen = TUI.wait_for(r"Removed bbbbbbbb-")
    screen = TUI.wait_for(r"1 of 1 shown")
    assert row_of(screen, AGENT2) is None, screen


@test
def resize_redraws_at_the_new_size():
    TUI.tmux("resize-window", "-t", "tui", "-x", "100", "-y", "30")
    # the id column grows: the agent's id is cut later
    screen = TUI.wait_for(r"^>!aaaaaaaa-0000-4000-8000-0000")
    lines = screen.rstrip("\n").split("\n")
    assert len(lines) == 30, len(lines)
    assert lines[28].startswith("1 of 1 shown"), screen
    compare("agents-100x30", screen)


@test
def a_small_terminal_scrolls_the_help():
    TUI.tmux("resize-window", "-t", "tui", "-x", "80", "-y", "12")
    TUI.keys("?")
    screen = TUI.wait_for(r"Keys of the Agents view")
    assert "Filter by text" not in screen, screen
    TUI.keys("G")
    screen = TUI.wait_for(r"Filter by text")
    assert "Keys of the Agents view" not in screen, screen
    TUI.keys("g")
    TUI.wait_for(r"Keys of the Agents view")
    TUI.keys("Escape")
    TUI.tmux("resize-window", "-t", "tui", "-x", "100", "-y", "30")
    TUI.wait_for(r"^1 of 1 shown")


@test
def dumb_terminal_shows_plain_markers():
    dumb = Tmux("dumb", term="dumb")
    try:
        screen = dumb.wait_for(r"1 of 1 shown", timeout=10)
        assert row_of(screen, AGENT1).startswith(">!"), screen
        compare("agents-dumb", screen)
    finally:
        dumb.kill()


@test
def enrollment_form_takes_a_policy_file_and_a_certificate_package():
    """Agent 2, removed above, is unenrolled again: enrolled once more with
    a runtime policy from a file (added under its name first) and a
    certificate package made by keylime-tui in a new CA directory."""
    policy = os.path.join(WORK, "tui-policy.json")
    with open(policy, "w") as f:
        f.write(DEPLOYMENT.runtime_policy(AGENT2))
    ca_dir = os.path.join(WORK, "tui-ca")
    TUI.keys("3")
    TUI.wait_for(r"Enrollment finished")
    TUI.keys("Enter")
    TUI.wait_for(r"^> Agent +< bbbbbbbb-0000-4000-8000-000000000002 >")
    TUI.keys("j", "Enter")
    TUI.type(policy)
    TUI.keys("Enter", "j", "j", "j", "Right", "Right")
    TUI.wait_for(r"^> Payload +< certificate package >")
    TUI.keys("j", "j", "Enter")
    TUI.type(ca_dir)
    TUI.keys("Enter", "v")
    TUI.wait_for(r"CA directory +" + re.escape(ca_dir))
    TUI.keys("Enter")
    screen = TUI.wait_for(r"Enrolled as /org/keylime/Verifier1/agents/", timeout=30)
    assert "Runtime policy tui-policy added." in screen, screen
    assert "received U and the payload" in screen, screen
    assert os.path.exists(os.path.join(ca_dir, "cacert.crt"))
    DEPLOYMENT.processes["agent-2"].wait_for(r"payload installed", timeout=10)
    TUI.keys("1")
    # (not the Policy column: after a remove and a new EnrollAgent with the
    # same id the verifier's D-Bus RuntimePolicy still names the first one)
    screen = TUI.wait_for(r"^. bbbbbbbb.*Get Quote +\d\d:\d\d:\d\d +[1-9]", timeout=20)
    assert "2 of 2 shown" in screen, screen


@test
def q_quits_cleanly():
    TUI.keys("q")
    screen = TUI.wait_for(r"^exit status \d+$", timeout=5)
    assert re.search(r"^exit status 0$", screen, re.M), screen


test.run(setup, teardown)
