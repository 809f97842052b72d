"""Helpers for the Python integration tests (TAP): real keylime-c daemons
started as child processes, their log lines followed, and HTTP(S) requests
whose replies must be Keylime's {code, status, results} envelope.

Only the standard library: the tests must run on a fresh Debian 12.
"""
import http.client
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def config_path(name):
    """One of the .conf files we ship, the base of every test's config."""
    return os.path.join(SOURCE_ROOT, "data", "config", name)


def free_port():
    """A loopback port free now, for a daemon to bind a moment later.  It
    is drawn below the kernel's ephemeral range (32768-60999), where
    bind(0) and outgoing connections of parallel tests take theirs, so
    that the moment between our check and the daemon's bind is safe."""
    for _ in range(1000):
        port = random.randint(10000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 10000-32000")


class Tap:
    """Registers test functions and runs them in order as TAP."""

    def __init__(self):
        self.tests = []

    def __call__(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, setup=None, teardown=None):
        print(f"1..{len(self.tests)}", flush=True)
        try:
            if setup:
                setup()
        except Exception as e:  # noqa: BLE001 - every test fails with the reason
            for i, fn in enumerate(self.tests, 1):
                print(f"not ok {i} - {fn.__name__}: setup: {e!r}")
            if teardown:
                teardown()
            return 1
        failed = 0
        for i, fn in enumerate(self.tests, 1):
            try:
                fn()
                print(f"ok {i} - {fn.__name__}", flush=True)
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"not ok {i} - {fn.__name__}: {e!r}", flush=True)
        if teardown:
            teardown()
        return 1 if failed else 0


class Daemon:
    """A child process whose stderr is read in the background: lines are
    kept (and echoed as TAP comments) so the child never blocks on a full
    pipe, and wait_for() finds the line a test waits for."""

    def __init__(self, name, argv, env):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        # stdout too: GLib writes debug and info messages there, and the
        # test's own stdout is TAP
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            sys.stdout.write(f"# {self.name}: {line}")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=60, start=0):
        """The first match of @pattern in a line from index @start on."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    m = regex.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None and not self.reader.is_alive():
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) "
                                       f"before logging /{pattern}/")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name} did not log /{pattern}/")
                self.cond.wait(min(left, 0.5))

    def mark(self):
        with self.cond:
            return len(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.reader.join(timeout=10)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=10)


def tls_context(ca_file, cert_dir=None, cert="client"):
    """Trusts @ca_file; presents <cert_dir>/<cert>-cert.crt if @cert_dir."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = False  # Keylime identifies peers by chain, not name
    if cert_dir:
        ctx.load_cert_chain(os.path.join(cert_dir, cert + "-cert.crt"),
                            os.path.join(cert_dir, cert + "-private.pem"))
    return ctx


def request(port, method, path, body=None, ctx=None, raw=None, timeout=60):
    """(status, envelope) of one request; the envelope's code must be the
    HTTP status."""
    if ctx is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    try:
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        text = resp.read()
    finally:
        conn.close()
    envelope = json.loads(text)
    assert envelope["code"] == resp.status, envelope
    assert set(envelope) == {"code", "status", "results"}, envelope
    return resp.status, envelope


class Registrar(Daemon):
    """keylime_registrar on free loopback ports with tls_dir = generate
    under @keylime_dir; @bus: "session" or None (--no-dbus)."""

    def __init__(self, binary, keylime_dir, bus=None):
        os.makedirs(keylime_dir, exist_ok=True)
        self.dir = keylime_dir
        env = dict(os.environ)
        env.update({
            "KEYLIME_DIR": keylime_dir,
            "KEYLIME_REGISTRAR_CONFIG": config_path("registrar.conf"),
            "KEYLIME_REGISTRAR_IP": "127.0.0.1",
            "KEYLIME_REGISTRAR_PORT": "0",
            "KEYLIME_REGISTRAR_TLS_PORT": "0",
            "KEYLIME_REGISTRAR_TLS_DIR": "generate",
        })
        super().__init__("registrar", [binary, "--session" if bus else "--no-dbus"], env)
        self.port = int(self.wait_for(r"listening for agents on \w+://[^:]+:(\d+)").group(1))
        self.tls_port = int(
            self.wait_for(r"listening for administrators on \w+://[^:]+:(\d+)").group(1))
        if bus:
            self.wait_for(r"owning org\.keylime\.Registrar1")
        self.ca_dir = os.path.join(keylime_dir, "reg_ca")
        self.ca_file = os.path.join(self.ca_dir, "cacert.crt")

    def admin_context(self):
        return tls_context(self.ca_file, self.ca_dir)

    def request(self, method, path, body=None, tls=False, ctx=None, raw=None):
        if tls:
            return request(self.tls_port, method, path, body,
                           ctx=ctx or self.admin_context(), raw=raw)
        return request(self.port, method, path, body, raw=raw)
