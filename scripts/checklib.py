"""What the end-to-end check scripts share: HTTP calls that never raise on error statuses, the
assertions, the runner that prints one ✔/✘ line per check, polling, the fake servers' JSON answers,
and starting and stopping the server under test."""
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HTTP {self.status} {self.body[:300].decode(errors='replace')}"


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_without_redirects = urllib.request.build_opener(_KeepRedirects)


def request(url, method, body=None, token=None, headers=None, raw=None, content_type="application/json", timeout=30,
            follow_redirects=True):
    """One request; `raw` (bytes) is sent as is, `body` as JSON. Never raises on HTTP errors; a
    redirect is followed unless `follow_redirects` is false, when it is the answer."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    outgoing = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        outgoing.add_header("Content-Type", content_type)
    if token:
        outgoing.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        outgoing.add_header(name, value)
    try:
        with (urllib.request.urlopen if follow_redirects else _without_redirects.open)(outgoing, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def expect(answer, status, code=None, message=None):
    """Asserts an answer's status (and, for problems, its code and message); returns its JSON."""
    assert answer.status == status, f"expected {status}, got {answer!r}"
    if code is not None or message is not None:
        problem = answer.json
        assert answer.headers.get("Content-Type", "").startswith("application/problem+json"), \
            f"problem Content-Type is {answer.headers.get('Content-Type')!r}"
        assert problem.get("status") == status, f"problem status {problem.get('status')!r}"
        assert code is None or problem.get("code") == code, f"code {problem.get('code')!r}, wanted {code}"
        assert message is None or problem.get("message") == message, f"message {problem.get('message')!r}"
    return answer.json if answer.body else None


def equal(actual, wanted, what):
    assert actual == wanted, f"{what} is {actual!r}, wanted {wanted!r}"


def run_checks(checks, before_each=None, after_failure=None):
    """Runs each check (its docstring is its name; it may return a note), printing ✔/✘; returns
    the number of failures. A check never stops the ones after it."""
    failures = 0
    for check in checks:
        name = " ".join(check.__doc__.split())
        if before_each:
            before_each()
        began = time.monotonic()
        try:
            note = check()
            print(f"✔ {name}" + (f" ({note})" if note else ""), flush=True)
        except KeyError as error:
            failures += 1
            print(f"✘ {name}: needs {error} from an earlier check that failed", flush=True)
        except Exception as error:  # noqa: BLE001 — every failure is reported, not raised
            failures += 1
            why = str(error) or type(error).__name__
            kind = "" if isinstance(error, AssertionError) else type(error).__name__ + ": "
            print(f"✘ {name}: {kind}{why} [after {time.monotonic() - began:.1f} s]", flush=True)
            if after_failure:
                after_failure()
    return failures


def run_checks_showing_logs(checks, servers):
    """`run_checks`, printing after a failed check the last lines of the log of each of `servers`
    (objects with `name`, `log_path` and a `touched` flag their calls set) that the check called."""
    def forget_servers():
        for server in servers:
            server.touched = False

    def show_logs():
        for server in servers:
            if server.touched:
                print(f"    {server.name} log ({server.log_path}), last lines:\n{log_tail(server.log_path, 15)}", flush=True)

    return run_checks(checks, before_each=forget_servers, after_failure=show_logs)


def read_body(handler):
    """The body of a request to a `BaseHTTPRequestHandler`, sent with a length or chunked."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        body = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def send_json(handler, status, body):
    """Answers a `BaseHTTPRequestHandler`'s request with `body` as JSON."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def poll(condition, timeout, what, interval=0.1):
    """Waits until condition() is truthy (and returns it); fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_healthy(process, base, who="the server", seconds=30):
    """Waits until `base` answers `GET /api/health` with 200; fails if `process` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{who} exited with {process.returncode} at start")
        try:
            if request(base + "/api/health", "GET", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{who} did not answer GET /api/health within {seconds} s")


def stop_process(process, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` seconds; nothing when it is not running."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path, lines):
    """The last `lines` lines of a log file, indented for a check's failure message."""
    try:
        with open(path, "rb") as log:
            text = log.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("      " + line for line in text[-lines:])


@contextlib.contextmanager
def serving(binary, work, env, drop=()):
    """Runs `BINARY serve` on a free loopback port with DATA_DIR=WORK/data (wiped first), the
    inherited environment without variables starting with any of `drop`, and `env` over it; yields
    (base URL, log path) once it is healthy, and stops it afterwards."""
    shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop))}
    environment = dict(inherited, DATA_DIR=os.path.join(work, "data"), PORT=str(port), HOST="127.0.0.1",
                       LOG_LEVEL="warning", BCRYPT_COST="4", **env)
    log_path = os.path.join(work, "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, "serve"], env=environment, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(process, base)
            yield base, log_path
        finally:
            stop_process(process)


class Server:
    """One `BIN serve` process on a free loopback port with DATA_DIR=WORK/data (wiped when
    `fresh`), the inherited environment without variables starting with any of `drop`, and `env`
    over it."""

    def __init__(self, binary, work, env, drop=(), fresh=True, name="server"):
        self.binary, self.work, self.name = binary, work, name
        os.makedirs(work, exist_ok=True)
        self.log_path = os.path.join(work, f"{name}.log")
        if fresh:
            shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop))}
        defaults = {"LOG_LEVEL": "warning", "BCRYPT_COST": "4"}
        self.env = {**inherited, **defaults, "DATA_DIR": os.path.join(work, "data"), "PORT": str(self.port), "HOST": "127.0.0.1",
                    **env}
        self.process = None
        self.log = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, cwd=self.work, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        wait_healthy(self.process, self.base, who=self.name)
        return self

    def stop(self):
        stop_process(self.process)
        if self.log:
            self.log.close()
            self.log = None

    def call(self, method, path, body=None, token=None, headers=None, raw=None, content_type="application/json", timeout=30,
             follow_redirects=True):
        return request(self.base + path, method, body, token=token, headers=headers, raw=raw, content_type=content_type,
                       timeout=timeout, follow_redirects=follow_redirects)

    def tail(self, lines=15):
        return log_tail(self.log_path, lines)


def psql(url, statement):
    """Runs one SQL statement with psql (from PATH or Debian's PostgreSQL); returns its unaligned output."""
    binary = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1:]), None)
    assert binary, "psql is not installed"
    run = subprocess.run([binary, url, "-v", "ON_ERROR_STOP=1", "-qAtc", statement], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, f"psql {statement!r}: {run.stderr.strip()}"
    return run.stdout.strip()
