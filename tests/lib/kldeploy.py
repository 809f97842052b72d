"""kldeploy: a whole keylime-c deployment on loopback in one directory.

Used by `scripts/run-system` (the README's demo), the e2e and UI tests.
Only the standard library (a fresh Debian 12 runs it).

    import kldeploy
    d = kldeploy.Deployment("/var/lib/keylime-demo", build_dir="_build/system")
    d.up()                      # or: with kldeploy.Deployment(...) as d:
    d.agent_id, d.agent_port    # the first agent
    d.verifier_port, d.registrar_port, d.registrar_tls_port
    d.bus_address               # export DBUS_SESSION_BUS_ADDRESS=...
    d.append_ima_entry("/usr/bin/evil-tool")   # an unlisted file: a failure
    d.running()                 # the names of what runs (an earlier up()'s too)
    d.down()                    # no process left behind

What `up()` brings up, each process in a process group of its own, its
output in <dir>/logs/<name>.log, its pid in <dir>/run/pids.json:

- "dbus": a private dbus-daemon (socket <dir>/run/bus), so D-Bus works with
  no system or session bus (a container, CI).  The verifier and registrar
  own their names on it (`--session`), tpm2-abrmd too.
- "swtpm-1" (state <dir>/tpm-1, manufactured once with swtpm_setup and a
  local CA of its own in <dir>/tpm-1/ca; `tpm_cert_store` holds its root
  and intermediate) and "abrmd-1" (tpm2-abrmd in front of it: the agent
  and the IMA emulator both use the TPM, and swtpm serves one connection).
- TLS material made once by keylime_ca in <dir>/keylime/cv_ca: the CA,
  server-cert.crt (registrar and verifier, tls_dir = default as upstream)
  and client-cert.crt (the tenant's, and the verifier's towards agents),
  RevocationNotifier-cert.crt (what agents verify revocations with).
- "registrar" and "verifier" with KEYLIME_DIR=<dir>/keylime: their sqlite
  databases (reg_data.sqlite, cv_data.sqlite) live there.
- "agent-1" (keylime_dir <dir>/agent-1, its IMA log <dir>/agent-1/ima.log,
  a copy of tests/data/ima/ima-log-sha256) and "emulator-1"
  (keylime_ima_emulator replaying that log into PCR 10 and following it).
- <dir>/tenant.conf: keylime_tenant's configuration for this deployment
  (tls_dir = cv_ca, tpm_cert_store = the swtpm CA).

Every `up()` is a boot of the emulated machine: the swtpms start with
fresh PCRs, so each agent's IMA log starts again from the sample.  The
rest is kept in the directory (<dir>/state.json): agent ids, ports, TPM
state (same EK and AK), certificates and databases, so a second `up()` in
the same directory finds its agents registered and enrolled as they were.
`down()` works from another process too (it reads run/pids.json): TERM to
each process group, KILL after a grace period, TPM2_Shutdown before a
swtpm stops (else the next boot's quotes say the clock is not safe),
secure-dir tmpfs unmounted.  Processes whose parent exited are reparented
to PID 1; where PID 1 does not reap (some containers) they stay zombies
after down(): nothing runs, but ps lists them.

Tests: `echo=True` copies daemon output to stdout as TAP comments;
`quote_interval`, `verifier_env` and `agent_env` tune the daemons;
`programs` names binaries outside `build_dir` ({"keylime_agent": path});
`processes[name]` is a `Process` (wait_for/mark/stop/kill) and
`start(name)` (re)starts one of "registrar", "verifier", "emulator-N";
`progress` is called with a short line for each step of up().
`verifier_request()`, `agent_state()`, `registrar_record()`,
`enrollment_body()` and `enroll()` speak REST with the tenant's
certificate: an agent enrolled as upstream's tenant would, without
keylime_tenant.  `add_agent()` brings up another agent on a swtpm of its
own (no emulator: its PCR 10 stays empty, enroll it without a runtime
policy).  `ima_ng_line()`, `append_ima_entry()` and `append_ima_line()`
grow an emulated log.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid

SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE_IMA_LOG = os.path.join(SOURCE_ROOT, "tests", "data", "ima", "ima-log-sha256")
BOOT_LOG = os.path.join(SOURCE_ROOT, "tests", "data", "eventlogs", "binary_bios_measurements")

# program -> its path under the build directory
PROGRAMS = {
    "keylime_registrar": "registrar/keylime_registrar",
    "keylime_verifier": "tenant/keylime_verifier",
    "keylime_agent": "agent/keylime_agent",
    "keylime_ima_emulator": "agent/keylime_ima_emulator",
    "keylime_ca": "tenant/keylime_ca",
    "keylime-policy": "tenant/keylime-policy",
    "keylime_tenant": "tenant/keylime_tenant",
}



def _stop_rank(name):
    """down()'s order: agents, emulators, services, TPMs, the bus."""
    for rank, prefix in enumerate(("agent-", "emulator-", "verifier", "registrar", "abrmd-",
                                   "swtpm-", "dbus")):
        if name.startswith(prefix):
            return rank
    return 0


class DeployError(RuntimeError):
    pass


def free_port():
    """A loopback port free now, below the ephemeral range (as kltest)."""
    import random
    for _ in range(1000):
        port = random.randint(10000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise DeployError("no free loopback port in 10000-32000")


def _port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _proc_start_time(pid):
    """The kernel's start time of @pid (field 22 of /proc/pid/stat), None
    when it is gone or a zombie: what tells our process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def ima_ng_line(path, content=b"not in any policy"):
    """An ima-ng entry for @path as the kernel writes it: the template hash
    is the SHA-1 of the template data, PCR 10."""
    digest = hashlib.sha256(content).digest()
    field = b"sha256:\x00" + digest
    name = path.encode() + b"\x00"
    data = struct.pack("<I", len(field)) + field + struct.pack("<I", len(name)) + name
    return f"10 {hashlib.sha1(data).hexdigest()} ima-ng sha256:{digest.hex()} {path}\n"


class Process:
    """A daemon in a process group of its own whose output goes to a log
    file; wait_for() finds the lines a caller waits for in what it wrote
    since this start."""

    def __init__(self, name, argv, env, log_path, echo=False):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.offset = log.tell()
            self.popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.popen.pid
        self.start_time = _proc_start_time(self.pid)
        self._echo_stop = threading.Event()
        self._lock = threading.Lock()
        self._pos = self.offset
        self._partial = b""
        self._lines = []
        if echo:
            threading.Thread(target=self._echo, daemon=True).start()

    @classmethod
    def adopt(cls, name, record, log_path):
        """A process another run started (from run/pids.json)."""
        self = cls.__new__(cls)
        self.name = name
        self.log_path = log_path
        self.offset = 0
        self.popen = None
        self.pid = record["pid"]
        self.start_time = record["start_time"]
        self._echo_stop = threading.Event()
        self._lock = threading.Lock()
        self._pos = self.offset
        self._partial = b""
        self._lines = []
        return self

    def record(self):
        return {"pid": self.pid, "start_time": self.start_time}

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return self.start_time is not None and _proc_start_time(self.pid) == self.start_time

    def returncode(self):
        return None if self.popen is None else self.popen.poll()

    def lines(self):
        """Its output since this start, read incrementally: complete lines,
        and the last one without its newline once the process is gone."""
        with self._lock:
            try:
                with open(self.log_path, "rb") as f:
                    f.seek(self._pos)
                    data = f.read()
            except OSError:
                data = b""
            if data:
                self._pos += len(data)
                *complete, self._partial = (self._partial + data).split(b"\n")
                self._lines.extend(line.decode(errors="replace") for line in complete)
            lines = list(self._lines)
        if self._partial and not self.alive():
            lines.append(self._partial.decode(errors="replace"))
        return lines

    def mark(self):
        return len(self.lines())

    def wait_for(self, pattern, timeout=60, start=0):
        """The first match of @pattern in a line from index @start on."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            alive = self.alive()
            for line in self.lines()[start:]:
                m = regex.search(line)
                if m:
                    return m
            if not alive:
                raise DeployError(f"{self.name} exited ({self.returncode()}) before logging "
                                  f"/{pattern}/; see {self.log_path}")
            if time.monotonic() > deadline:
                raise DeployError(f"{self.name} did not log /{pattern}/ within {timeout} s; "
                                  f"see {self.log_path}")
            time.sleep(0.05)

    def _echo(self):
        done = 0
        while True:
            finished = self._echo_stop.is_set()
            lines = self.lines()
            for line in lines[done:]:
                sys.stdout.write(f"# {self.name}: {line}\n")
            sys.stdout.flush()
            done = len(lines)
            if finished:
                return
            self._echo_stop.wait(0.2)

    def _signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _wait_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.popen is not None:
                try:
                    self.popen.wait(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
                    return True
                except subprocess.TimeoutExpired:
                    pass
            elif not self.alive():
                return True
            else:
                time.sleep(0.05)
            if time.monotonic() >= deadline:
                return False

    def stop(self, grace=10):
        """TERM to the group, KILL after @grace s; the exit status when we
        are its parent (None otherwise)."""
        # signalled only while it runs: a pid whose process is gone may
        # belong to someone else by now
        if self.alive():
            self._signal_group(signal.SIGTERM)
            if not self._wait_gone(grace) and self.alive():
                self._signal_group(signal.SIGKILL)
                self._wait_gone(10)
        self._echo_stop.set()
        return self.returncode()

    def kill(self):
        """SIGKILL to the group, as a crash would."""
        if self.alive():
            self._signal_group(signal.SIGKILL)
        self._wait_gone(10)
        self._echo_stop.set()


class Deployment:
    """See the module docstring."""

    def __init__(self, directory, build_dir=None, echo=False, quote_interval=2.0,
                 verifier_env=None, agent_env=None, agent_id=None, programs=None,
                 progress=None):
        self.dir = os.path.abspath(directory)
        self.build_dir = os.path.abspath(build_dir or os.environ.get("KL_BUILD_DIR") or
                                         os.path.join(SOURCE_ROOT, "build"))
        self.programs = dict(programs or {})
        self.progress = progress or (lambda message: None)
        self.echo = echo
        self.quote_interval = quote_interval
        self.verifier_env = dict(verifier_env or {})
        self.agent_env = dict(agent_env or {})
        self.keylime_dir = os.path.join(self.dir, "keylime")
        self.cv_ca = os.path.join(self.keylime_dir, "cv_ca")
        self.logs_dir = os.path.join(self.dir, "logs")
        self.run_dir = os.path.join(self.dir, "run")
        self.tenant_conf = os.path.join(self.dir, "tenant.conf")
        self.processes = {}
        self.tctis = {}
        self.shm_name = None
        self.tctis_to_shut = set()
        self.state = self._load_state()
        if agent_id and not self.state["agents"]:
            self.state["agents"] = [{"id": agent_id}]

    # --- state ---------------------------------------------------------

    def _state_path(self):
        return os.path.join(self.dir, "state.json")

    def _load_state(self):
        try:
            with open(self._state_path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"agents": [], "ports": {}}

    def _save_state(self):
        tmp = self._state_path() + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=2)
        os.replace(tmp, self._state_path())

    def _save_pids(self):
        records = {name: p.record() for name, p in self.processes.items() if p.alive()}
        records["bus_address"] = self.bus_address
        records["tctis"] = {str(n): t for n, t in self.tctis.items()}
        tmp = os.path.join(self.run_dir, "pids.json.tmp")
        with open(tmp, "w") as f:
            json.dump(records, f, indent=2)
        os.replace(tmp, os.path.join(self.run_dir, "pids.json"))

    def _port(self, name):
        """A port for the daemon about to bind it: the one kept in
        state.json, another one when that is taken now."""
        port = self.state["ports"].get(name)
        if port is None or not _port_free(port):
            port = free_port()
            self.state["ports"][name] = port
            self._save_state()
        return port

    # --- what callers read ---------------------------------------------

    @property
    def agent_ids(self):
        return [a["id"] for a in self.state["agents"]]

    @property
    def agent_id(self):
        return self.agent_ids[0]

    @property
    def agent_port(self):
        return self.agent_port_of(self.agent_id)

    def agent_port_of(self, agent_id):
        return self.state["ports"]["agent-" + str(self._agent_number(agent_id))]

    def agent_dir(self, agent_id=None):
        return os.path.join(self.dir, "agent-" + str(self._agent_number(agent_id)))

    def ima_log(self, agent_id=None):
        return os.path.join(self.agent_dir(agent_id), "ima.log")

    @property
    def registrar_port(self):
        return self.state["ports"]["registrar"]

    @property
    def registrar_tls_port(self):
        return self.state["ports"]["registrar-tls"]

    @property
    def verifier_port(self):
        return self.state["ports"]["verifier"]

    @property
    def bus_address(self):
        return self.state.get("bus_address")

    @property
    def tpm_cert_store(self):
        # where keylime_verifier's EnrollAgent looks too (<KEYLIME_DIR>)
        return os.path.join(self.keylime_dir, "tpm_cert_store")

    def program(self, name):
        """The path of @name (a key of PROGRAMS): from `programs`, else
        under the build directory."""
        return self.programs.get(name) or os.path.join(self.build_dir, PROGRAMS[name])

    def env(self):
        """os.environ with this deployment's bus: for gdbus, busctl,
        keylime_tenant and the consoles."""
        env = dict(os.environ)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        env["KEYLIME_TENANT_CONFIG"] = self.tenant_conf
        return env

    def _agent_number(self, agent_id):
        if agent_id is None:
            return 1
        return self.agent_ids.index(agent_id) + 1

    # --- up and down ---------------------------------------------------

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    def running(self):
        """The names of this directory's processes that run now (an
        earlier up()'s too)."""
        if not self.processes:
            self._adopt()
        return sorted(name for name, p in self.processes.items() if p.alive())

    def up(self):
        """Brings everything up; a DeployError names what failed (what did
        start is stopped again)."""
        for name in PROGRAMS:
            if name != "keylime_tenant" and not os.access(self.program(name), os.X_OK):
                raise DeployError(f"{self.program(name)} is not built")
        if self._adopt():
            raise DeployError(f"a deployment already runs in {self.dir} (stop it first)")
        for sub in (self.dir, self.logs_dir, self.run_dir, self.keylime_dir):
            os.makedirs(sub, exist_ok=True)
        if not self.state["agents"]:
            self.state["agents"] = [{"id": str(uuid.uuid4())}]
        self._save_state()
        try:
            self.progress("starting a private D-Bus bus")
            self._start_dbus()
            self._make_tls()
            self.progress("starting a software TPM (swtpm, tpm2-abrmd)")
            self._start_tpm(1, abrmd=True)
            self.progress("starting keylime_registrar")
            self.start("registrar")
            self.progress("starting keylime_verifier")
            self.start("verifier")
            self._write_tenant_conf()
            self.progress("starting keylime_ima_emulator (the sample IMA log into PCR 10)")
            self._boot_ima_log(1)
            self.start("emulator-1")
            self.progress("starting keylime_agent")
            self._start_agent(1)
            for number in range(2, len(self.state["agents"]) + 1):
                self.progress(f"starting agent {number}")
                self._start_tpm(number, abrmd=False)
                self._boot_ima_log(number)
                self._start_agent(number)
        except BaseException:
            self.down()
            raise
        self._save_pids()

    def down(self):
        """Stops every process of this directory (ours, or an earlier run's
        from run/pids.json) and unmounts the agents' secure directories."""
        if not self.processes:
            self._adopt()
        names = sorted(self.processes, key=_stop_rank)
        self.tctis_to_shut = {m.group(1) for m in
                              (re.fullmatch(r"swtpm-(\d+)", n) for n in names) if m}
        for name in names:
            m = re.fullmatch(r"(abrmd|swtpm)-(\d+)", name)
            if m and m.group(2) in self.tctis_to_shut:
                self._tpm_shutdown(int(m.group(2)))
            self.processes.pop(name).stop()
        for number in range(1, len(self.state["agents"]) + 1):
            secure = os.path.join(self.dir, f"agent-{number}", "secure")
            if os.path.ismount(secure):
                subprocess.run(["umount", secure], check=False)
        pids = os.path.join(self.run_dir, "pids.json")
        if os.path.exists(pids):
            os.unlink(pids)
        bus = os.path.join(self.run_dir, "bus")
        if os.path.exists(bus):
            os.unlink(bus)

    def _tpm_shutdown(self, number):
        """TPM2_Shutdown before swtpm stops, as an orderly power-off: else
        the next boot's quotes say the clock is not safe, which the
        verifier rightly fails."""
        self.tctis_to_shut.discard(str(number))
        tcti = self.tctis.get(number)
        if tcti is None:
            return
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus_address or "")
        subprocess.run(["tpm2_shutdown", "-c", "-T", tcti], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30, check=False)

    def _adopt(self):
        """The live processes recorded by an earlier up(), into self.processes."""
        try:
            with open(os.path.join(self.run_dir, "pids.json")) as f:
                records = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        records.pop("bus_address", None)
        self.tctis.update({int(n): t for n, t in records.pop("tctis", {}).items()})
        for name, record in records.items():
            proc = Process.adopt(name, record, os.path.join(self.logs_dir, name + ".log"))
            if proc.alive():
                self.processes[name] = proc
        return self.processes

    def _spawn(self, name, argv, env):
        old = self.processes.get(name)
        if old is not None and old.alive():
            raise DeployError(f"{name} already runs")
        proc = Process(name, argv, env, os.path.join(self.logs_dir, name + ".log"), self.echo)
        self.processes[name] = proc
        if os.path.isdir(self.run_dir) and self.bus_address:
            self._save_pids()
        return proc

    # --- the pieces ----------------------------------------------------

    def _start_dbus(self):
        socket_path = os.path.join(self.run_dir, "bus")
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        # sun_path holds 108 bytes
        address = (f"unix:path={socket_path}" if len(socket_path) < 100 else "unix:tmpdir=/tmp")
        proc = self._spawn("dbus", ["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                    f"--address={address}", "--print-address=1"],
                           dict(os.environ))
        address = proc.wait_for(r"^(unix:\S+)", timeout=20).group(1)
        # a path of ours is the same every run: without the guid, an
        # exported address stays good after a restart
        if address.startswith("unix:path="):
            address = address.split(",guid=")[0]
        self.state["bus_address"] = address
        self._save_state()

    def _make_tls(self):
        ca = self.program("keylime_ca")
        if not os.path.exists(os.path.join(self.cv_ca, "cacert.crt")):
            self.progress("making a CA and TLS certificates (keylime_ca)")
            subprocess.run([ca, "-c", "init", "-d", self.cv_ca], check=True,
                           stdout=subprocess.DEVNULL)
        for name in ("server", "client"):
            if not os.path.exists(os.path.join(self.cv_ca, name + "-cert.crt")):
                subprocess.run([ca, "-c", "create", "-n", name, "-d", self.cv_ca], check=True,
                               stdout=subprocess.DEVNULL)

    def _start_tpm(self, number, abrmd):
        tpm_dir = os.path.join(self.dir, f"tpm-{number}")
        state_dir = os.path.join(tpm_dir, "tpmstate")
        if not os.path.exists(os.path.join(state_dir, "tpm2-00.permall")):
            self._manufacture_tpm(tpm_dir)
        os.makedirs(self.tpm_cert_store, exist_ok=True)
        for pem in ("swtpm-localca-rootca-cert.pem", "issuercert.pem"):
            shutil.copy(os.path.join(tpm_dir, "ca", pem),
                        os.path.join(self.tpm_cert_store, f"tpm-{number}-{pem}"))
        name = f"swtpm-{number}"
        for _ in range(8):
            port = free_port() & ~1
            if not (_port_free(port) and _port_free(port + 1)):
                continue
            proc = self._spawn(name, [
                "swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state_dir}",
                "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                "--flags", "not-need-init,startup-clear"], dict(os.environ))
            deadline = time.monotonic() + 10
            while proc.alive() and time.monotonic() < deadline:
                if _port_open(port) and subprocess.run(
                        ["swtpm_ioctl", "--tcp", f"127.0.0.1:{port + 1}", "-g"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                    break
                time.sleep(0.02)
            if proc.alive():
                break
            self.processes.pop(name)  # a port taken meanwhile: again
        else:
            raise DeployError(f"swtpm did not start; see {self.logs_dir}/{name}.log")
        tcti = f"swtpm:host=127.0.0.1,port={port}"
        self.tctis[number] = tcti
        if not abrmd:
            return
        bus_name = f"com.intel.tss2.Tabrmd.kldeploy{os.getpid()}n{number}p{port}"
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus_address)
        proc = self._spawn(f"abrmd-{number}", ["tpm2-abrmd", "--session",
                                               f"--dbus-name={bus_name}", f"--tcti={tcti}",
                                               "--allow-root"], env)
        tcti = f"tabrmd:bus_name={bus_name},bus_type=session"
        deadline = time.monotonic() + 20
        while True:
            if not proc.alive():
                raise DeployError(f"tpm2-abrmd exited; see {proc.log_path}")
            if subprocess.run(["tpm2_getcap", "-T", tcti, "properties-fixed"], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise DeployError(f"tpm2-abrmd did not answer; see {proc.log_path}")
            time.sleep(0.05)
        self.tctis[number] = tcti

    def _manufacture_tpm(self, tpm_dir):
        """swtpm_setup with a local CA of this TPM's own (never
        /var/lib/swtpm-localca), as tests/lib/swtpm-fixture.sh."""
        localca = shutil.which("swtpm_localca")
        if localca is None or shutil.which("swtpm_setup") is None:
            raise DeployError("swtpm_setup or swtpm_localca not installed (swtpm-tools)")
        ca_dir = os.path.join(tpm_dir, "ca")
        os.makedirs(ca_dir, exist_ok=True)
        os.makedirs(os.path.join(tpm_dir, "tpmstate"), exist_ok=True)
        with open(os.path.join(tpm_dir, "swtpm-localca.conf"), "w") as f:
            f.write(f"statedir = {ca_dir}\nsigningkey = {ca_dir}/signkey.pem\n"
                    f"issuercert = {ca_dir}/issuercert.pem\ncertserial = {ca_dir}/certserial\n")
        with open(os.path.join(tpm_dir, "swtpm-localca.options"), "w") as f:
            f.write("--platform-manufacturer keylime-c\n--platform-version 2.1\n"
                    "--platform-model swtpm\n")
        with open(os.path.join(tpm_dir, "swtpm_setup.conf"), "w") as f:
            f.write(f"create_certs_tool = {localca}\n"
                    f"create_certs_tool_config = {tpm_dir}/swtpm-localca.conf\n"
                    f"create_certs_tool_options = {tpm_dir}/swtpm-localca.options\n"
                    "active_pcr_banks = sha256\n")
        out = subprocess.run(["swtpm_setup", "--tpm2", "--tpmstate", f"{tpm_dir}/tpmstate",
                              "--create-ek-cert", "--create-platform-cert", "--lock-nvram",
                              "--config", f"{tpm_dir}/swtpm_setup.conf",
                              "--logfile", f"{tpm_dir}/swtpm_setup.log"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if out.returncode != 0:
            raise DeployError(f"swtpm_setup failed; see {tpm_dir}/swtpm_setup.log")

    def start(self, name):
        """(Re)starts "registrar", "verifier" or "emulator-N" with this
        deployment's settings, once it is ready; returns its Process."""
        if name == "registrar":
            return self._start_registrar()
        if name == "verifier":
            return self._start_verifier()
        m = re.fullmatch(r"emulator-(\d+)", name)
        if m:
            return self._start_emulator(int(m.group(1)))
        raise ValueError(name)

    def _daemon_env(self):
        env = dict(os.environ)
        env.update({"KEYLIME_DIR": self.keylime_dir,
                    "DBUS_SESSION_BUS_ADDRESS": self.bus_address})
        return env

    def _start_registrar(self):
        env = self._daemon_env()
        env.update({
            "KEYLIME_REGISTRAR_CONFIG": os.path.join(SOURCE_ROOT, "data", "config",
                                                     "registrar.conf"),
            "KEYLIME_REGISTRAR_IP": "127.0.0.1",
            "KEYLIME_REGISTRAR_PORT": str(self._port("registrar")),
            "KEYLIME_REGISTRAR_TLS_PORT": str(self._port("registrar-tls")),
            "KEYLIME_REGISTRAR_TLS_DIR": "default",
        })
        proc = self._spawn("registrar", [self.program("keylime_registrar"), "--session"], env)
        proc.wait_for(r"listening for administrators on")
        proc.wait_for(r"owning org\.keylime\.Registrar1")
        return proc

    def _start_verifier(self):
        env = self._daemon_env()
        env.update({
            "KEYLIME_VERIFIER_IP": "127.0.0.1",
            "KEYLIME_VERIFIER_PORT": str(self._port("verifier")),
            "KEYLIME_VERIFIER_TLS_DIR": "default",
            "KEYLIME_VERIFIER_QUOTE_INTERVAL": str(self.quote_interval),
            "KEYLIME_VERIFIER_REGISTRAR_IP": "127.0.0.1",
            "KEYLIME_VERIFIER_REGISTRAR_PORT": str(self.registrar_tls_port),
        })
        env.update(self.verifier_env)
        proc = self._spawn("verifier", [self.program("keylime_verifier"), "--config",
                                        os.path.join(SOURCE_ROOT, "data", "config",
                                                     "verifier.conf"), "--session"], env)
        self.shm_name = proc.wait_for(r"agent table in shared memory (\S+)").group(1)
        proc.wait_for(r"listening for tenants on https://")
        proc.wait_for(r"owning org\.keylime\.Verifier1")
        return proc

    def _boot_ima_log(self, number):
        agent_dir = os.path.join(self.dir, f"agent-{number}")
        os.makedirs(agent_dir, exist_ok=True)
        shutil.copy(SAMPLE_IMA_LOG, os.path.join(agent_dir, "ima.log"))

    def _start_emulator(self, number):
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus_address)
        proc = self._spawn(f"emulator-{number}", [
            self.program("keylime_ima_emulator"),
            "--log", os.path.join(self.dir, f"agent-{number}", "ima.log"),
            "--tcti", self.tctis[number], "--interval", "20"], env)
        proc.wait_for(r"PCR 10 already holds|extended PCR 10")
        return proc

    def _start_agent(self, number):
        agent_id = self.state["agents"][number - 1]["id"]
        agent_dir = os.path.join(self.dir, f"agent-{number}")
        port = self._port(f"agent-{number}")
        actions = os.path.join(self.dir, "actions")
        os.makedirs(actions, exist_ok=True)
        env = dict(os.environ)
        env.update({
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "TCG_TCTI": self.tctis[number],
            "KEYLIME_AGENT_CONFIG": os.path.join(SOURCE_ROOT, "data", "config", "agent.conf"),
            "KEYLIME_AGENT_UUID": agent_id,
            "KEYLIME_AGENT_IP": "127.0.0.1",
            "KEYLIME_AGENT_PORT": str(port),
            "KEYLIME_AGENT_CONTACT_IP": "127.0.0.1",
            "KEYLIME_AGENT_CONTACT_PORT": str(port),
            "KEYLIME_AGENT_REGISTRAR_IP": "127.0.0.1",
            "KEYLIME_AGENT_REGISTRAR_PORT": str(self.registrar_port),
            "KEYLIME_AGENT_KEYLIME_DIR": agent_dir,
            "KEYLIME_DIR": agent_dir,
            "KEYLIME_AGENT_TRUSTED_CLIENT_CA": os.path.join(self.cv_ca, "cacert.crt"),
            "KEYLIME_AGENT_RUN_AS": "",
            "KEYLIME_AGENT_IMA_ML_PATH": os.path.join(agent_dir, "ima.log"),
            "KEYLIME_AGENT_MEASUREDBOOT_ML_PATH": BOOT_LOG,
            "KEYLIME_AGENT_EXPONENTIAL_BACKOFF_INITIAL_DELAY": "200",
            "KEYLIME_AGENT_REVOCATION_CERT": os.path.join(self.cv_ca,
                                                          "RevocationNotifier-cert.crt"),
            "KEYLIME_AGENT_REVOCATION_ACTIONS_DIR": actions,
        })
        env.update(self.agent_env)
        proc = self._spawn(f"agent-{number}", [self.program("keylime_agent")], env)
        proc.wait_for(r"registered and activated", timeout=120)
        return proc

    def add_agent(self, agent_id=None):
        """Another agent, on a swtpm of its own and with the sample log
        (not extended into its PCR 10: no emulator); its id."""
        agent_id = agent_id or str(uuid.uuid4())
        if agent_id not in self.agent_ids:
            self.state["agents"].append({"id": agent_id})
            self._save_state()
        number = self._agent_number(agent_id)
        self._start_tpm(number, abrmd=False)
        self._boot_ima_log(number)
        self._start_agent(number)
        self._save_pids()
        return agent_id

    def _write_tenant_conf(self):
        import configparser
        conf = configparser.ConfigParser(interpolation=None)
        conf.optionxform = str
        conf.read(os.path.join(SOURCE_ROOT, "data", "config", "tenant.conf"))
        conf["tenant"].update({
            "verifier_ip": "127.0.0.1",
            "verifier_port": str(self.verifier_port),
            "registrar_ip": "127.0.0.1",
            "registrar_port": str(self.registrar_tls_port),
            "tls_dir": self.cv_ca,
            "tpm_cert_store": self.tpm_cert_store,
        })
        with open(self.tenant_conf, "w") as f:
            f.write("# keylime_tenant for the deployment in this directory (kldeploy)\n")
            conf.write(f)

    # --- REST, as the tenant --------------------------------------------

    def tls_context(self):
        """Trusts cv_ca and presents the tenant's client certificate."""
        ctx = ssl.create_default_context(cafile=os.path.join(self.cv_ca, "cacert.crt"))
        ctx.check_hostname = False  # Keylime identifies peers by chain, not name
        ctx.load_cert_chain(os.path.join(self.cv_ca, "client-cert.crt"),
                            os.path.join(self.cv_ca, "client-private.pem"))
        return ctx

    def _request(self, port, method, path, body=None):
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                           context=self.tls_context())
        headers = {"Connection": "close"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read()
        finally:
            conn.close()
        return resp.status, (json.loads(text) if text else None)

    def verifier_request(self, method, path, body=None):
        """(HTTP status, envelope or None) of one verifier request."""
        return self._request(self.verifier_port, method, path, body)

    def registrar_record(self, agent_id=None):
        """The registrar's record of the agent (aik_tpm, mtls_cert, ip...)."""
        status, env = self._request(self.registrar_tls_port, "GET",
                                    f"/v2.1/agents/{agent_id or self.agent_id}")
        if status != 200:
            raise DeployError(f"registrar: {status} {env}")
        return env["results"]

    def agent_state(self, agent_id=None):
        """The verifier's operational_state of the agent (3: Get Quote,
        9: Invalid Quote), None when it is not enrolled."""
        status, env = self.verifier_request("GET", f"/v2.1/agents/{agent_id or self.agent_id}")
        if status == 404:
            return None
        if status != 200:
            raise DeployError(f"verifier: {status} {env}")
        return env["results"]["operational_state"]

    def enrollment_body(self, agent_id=None, runtime_policy="", tpm_policy=None,
                        policy_name=""):
        """Upstream's tenant body (spec §2.3) from the registrar record;
        revocations signed with cv_ca's RevocationNotifier key, which the
        agents trust."""
        agent_id = agent_id or self.agent_id
        record = self.registrar_record(agent_id)
        with open(os.path.join(self.cv_ca, "RevocationNotifier-private.pem")) as f:
            revocation_key = f.read()
        return {
            "v": None,
            "cloudagent_ip": record["ip"],
            "cloudagent_port": record["port"],
            "tpm_policy": json.dumps(tpm_policy or {"mask": "0x0"}),
            "runtime_policy": base64.b64encode(runtime_policy.encode()).decode(),
            "runtime_policy_name": policy_name,
            "runtime_policy_key": "",
            "mb_policy": None,
            "mb_policy_name": "",
            "ima_sign_verification_keys": "",
            "metadata": json.dumps({"cert_serial": 1, "subject": f"CN={agent_id}"}),
            "revocation_key": revocation_key,
            "accept_tpm_hash_algs": ["sha512", "sha384", "sha256"],
            "accept_tpm_encryption_algs": ["ecc", "rsa"],
            "accept_tpm_signing_algs": ["ecschnorr", "rsassa"],
            "ak_tpm": record["aik_tpm"],
            "mtls_cert": record["mtls_cert"],
            "supported_version": "2.6",
        }

    def runtime_policy(self, agent_id=None):
        """keylime-policy's runtime policy for the agent's log as it is now."""
        return subprocess.run([self.program("keylime-policy"), "create", "runtime",
                               "--ima-measurement-list", self.ima_log(agent_id)],
                              capture_output=True, text=True, check=True).stdout

    def enroll(self, agent_id=None, runtime_policy=None, tpm_policy=None, policy_name=""):
        """Adds the agent to the verifier over REST (no U/V payload); by
        default with a runtime policy of its current log and PCR 10 in the
        tpm_policy, as the demo does."""
        if runtime_policy is None:
            runtime_policy = self.runtime_policy(agent_id)
            tpm_policy = tpm_policy or {"mask": "0x400"}
        body = self.enrollment_body(agent_id, runtime_policy, tpm_policy, policy_name)
        status, env = self.verifier_request("POST", f"/v2.6/agents/{agent_id or self.agent_id}",
                                            body)
        if status != 200:
            raise DeployError(f"verifier: {status} {env}")

    # --- the emulated machine ------------------------------------------

    def append_ima_line(self, line, agent_id=None):
        """Appends @line (an IMA ascii entry) to the agent's emulated log;
        its emulator extends PCR 10 with it a moment later."""
        if not line.endswith("\n"):
            line += "\n"
        with open(self.ima_log(agent_id), "a") as f:
            f.write(line)

    def append_ima_entry(self, path, content=b"not in any policy", agent_id=None):
        """An ima-ng entry for the file @path with @content, appended; the line."""
        line = ima_ng_line(path, content)
        self.append_ima_line(line, agent_id)
        return line


def main(argv):
    """python3 kldeploy.py up|down|status DIR [BUILD_DIR]: for hands and scripts."""
    if len(argv) < 3 or argv[1] not in ("up", "down", "status"):
        print("usage: kldeploy.py up|down|status DIR [BUILD_DIR]", file=sys.stderr)
        return 2
    d = Deployment(argv[2], argv[3] if len(argv) > 3 else None)
    if argv[1] == "up":
        d.up()
    elif argv[1] == "down":
        d.down()
    else:
        print(json.dumps({"running": d.running(), "state": d.state}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
