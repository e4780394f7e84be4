#!/usr/bin/env python3
"""Outgoing webhooks against the real binary: signatures checked by the `standardwebhooks` package
and by an independent HMAC, secret rotation, the cURL generator, the verifier route, the SSRF guard,
and at-least-once delivery across a `kill -9` (SQLite, and PostgreSQL with two instances sharing
the queue).

    python3 scripts/webhook_checks.py BIN WORKDIR [--postgres URL]

Runs a receiving HTTP server on loopback and the servers it needs (each in WORKDIR/<name>, wiped
first); with --postgres, each PostgreSQL run gets a fresh database on that cluster. Prints one ✔/✘
line per check; the exit status is the number of failures.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import checklib
from checklib import equal, expect, free_port, log_tail, psql, read_body, request, run_checks_showing_logs, stop_process, wait_healthy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "standardwebhooks"], check=True)
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LICENSE_SECRET = "license-secret-for-webhook-checks"
EVENTS = 500  # events queued by the delivery tests
ctx = {}  # state shared by the checks, in order
SERVERS = []  # every server started, stopped at exit


# ---------------------------------------------------------------- helpers

def call(base, method, path, body=None, token=None, raw=None, content_type="application/json", timeout=30):
    return request(base + path, method, body, token=token, raw=raw, content_type=content_type, timeout=timeout)


def poll(condition, timeout, what, interval=0.02):
    """checklib.poll, checking every 20 ms: deliveries on loopback arrive within milliseconds."""
    return checklib.poll(condition, timeout, what, interval)


def ecosire_signature_ok(body, header, secret, tolerance=300):
    """X-Ecosire-Signature, checked independently: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>…"""
    pairs = [item.split("=", 1) for item in (header or "").split(",") if "=" in item]
    timestamps = [value for name, value in pairs if name.strip() == "t"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit():
        return False
    timestamp = timestamps[0].strip()
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value.strip().lower()) for name, value in pairs if name.strip() == "v1")


def standard_ok(body, headers, secret):
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
        return True
    except WebhookVerificationError:
        return False


def license_signature_ok(body, header):
    expected = hmac.new(LICENSE_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, (header or "").strip().lower())


def flip_one_byte(body):
    """The body with one ASCII byte near the middle changed (still valid UTF-8)."""
    i = len(body) // 2
    while body[i] >= 0x80:
        i += 1
    return body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]


def csv_of_contacts(tag, count):
    rows = "".join(f"{tag} contact {i},{tag.lower()}-{i}@example.com\n" for i in range(count))
    return ("name,email\n" + rows).encode()


# ---------------------------------------------------------------- the receiving server

class Hook:
    """One request the receiver got."""

    def __init__(self, path, headers, body, client_port):
        self.path, self.body, self.client_port = path, body, client_port
        self.headers = {name.lower(): value for name, value in headers}
        self.at = time.monotonic()

    @property
    def event(self):
        return json.loads(self.body)

    def __getitem__(self, name):
        return self.headers.get(name.lower())


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as webhook senders pool connections
    hooks = []
    lock = threading.Lock()
    delays = {}  # path → seconds to wait before answering

    def do_POST(self):
        body = read_body(self)
        length = self.headers.get("Content-Length")
        if length is not None and len(body) < int(length):
            # The sender died mid-body (kill -9): a broken request is no delivery, as for any receiver.
            self.close_connection = True
            return
        with Receiver.lock:
            Receiver.hooks.append(Hook(self.path, self.headers.items(), body, self.client_address[1]))
        delay = Receiver.delays.get(self.path, 0)
        if delay:
            time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

    @classmethod
    def received(cls, path):
        with cls.lock:
            return [hook for hook in cls.hooks if hook.path == path]

    @classmethod
    def distinct(cls, path):
        return {hook["webhook-id"] for hook in cls.received(path)}


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request, client_address):
        pass  # a sender killed mid-request is expected here


# ---------------------------------------------------------------- the servers under test

class Server:
    """One `BIN serve` process in WORKDIR/<name>, restartable on the same DATA_DIR."""

    def __init__(self, name, env):
        self.name = name
        self.dir = os.path.join(ctx["work"], name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "server.log")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_") and k not in ("DATABASE_URL", "SECRETS_KEY")}
        self.env = dict(inherited, DATA_DIR=os.path.join(self.dir, "data"), LOG_LEVEL="error", BCRYPT_COST="4",
                        ECOSIRE_LICENSE_SECRET=LICENSE_SECRET, RATE_LIMIT_DEFAULT="100000",
                        RATE_LIMIT_LICENSE_ACTIVATE="1000", RATE_LIMIT_LICENSE_VALIDATE="1000", **env)
        self.process = None
        self.base = ""
        self.touched = False
        SERVERS.append(self)

    def start(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.touched = True
        with open(self.log_path, "ab") as log:
            log.write(f"---- start on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen([ctx["binary"], "serve"], env=dict(self.env, PORT=str(self.port)), cwd=self.dir,
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_healthy(self.process, self.base, f"{self.name} server")
        return self

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        stop_process(self.process)

    def call(self, method, path, body=None, **options):
        self.touched = True
        return call(self.base, method, path, body, token=options.pop("token", self.__dict__.get("token")), **options)

    def register(self, email="owner@hooks.example.com"):
        user = expect(self.call("POST", "/api/auth/register", {"email": email, "password": "correct-horse-9", "name": "Owner"}), 201)
        self.token = user["token"]
        return self

    def login(self, email="owner@hooks.example.com"):
        self.token = expect(self.call("POST", "/api/auth/login", {"email": email, "password": "correct-horse-9"}), 200)["token"]
        return self

    def endpoint(self, path, events, url=None):
        url = url or f"http://127.0.0.1:{ctx['receiver'].server_port}{path}"
        endpoint = expect(self.call("POST", "/api/webhooks/endpoints", {"url": url, "events": events}), 201)
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", endpoint.get("secret", "")) and \
            len(base64.b64decode(endpoint["secret"][6:])) == 32, f"secret {endpoint.get('secret')!r}"
        return endpoint

    def deliveries(self, endpoint_id, status=None):
        """Every delivery of an endpoint (all pages) and the reported total."""
        found, page, total = [], 1, None
        while True:
            query = f"?limit=100&page={page}" + (f"&status={status}" if status else "")
            answer = expect(self.call("GET", f"/api/webhooks/endpoints/{endpoint_id}/deliveries{query}"), 200)
            found += answer["data"]
            total = answer["meta"]["total"]
            if not answer["data"] or len(found) >= total:
                return found, total
            page += 1

    def tail(self, lines=12):
        return log_tail(self.log_path, lines)


def main_server():
    return ctx["main"]


# ---------------------------------------------------------------- checks

def check_setup():
    """the server starts and its owner creates an endpoint for "*" with a whsec_ secret of 32 random bytes"""
    server = Server("main", {"WEBHOOK_ALLOW_PRIVATE_URLS": "true"}).start().register()
    ctx["main"] = server
    endpoint = server.endpoint("/sig", ["*"])
    equal((endpoint["events"], endpoint["active"]), (["*"], True), "events/active")
    assert "secret" not in expect(server.call("GET", f"/api/webhooks/endpoints/{endpoint['id']}"), 200), "GET shows the secret"
    ctx["sig"] = endpoint


def verify_all(hooks, secret):
    """Every hook passes all three verifiers and fails them with one byte changed."""
    for hook in hooks:
        where = f"{hook['X-Ecosire-Event']} delivery {hook['X-Ecosire-Delivery']}"
        event = hook.event
        equal((event["object"], hook["webhook-id"], hook["X-Ecosire-Event"]), ("event", event["id"], event["type"]),
              f"{where}: object/webhook-id/X-Ecosire-Event")
        assert event["id"].startswith("evt_"), f"{where}: event id {event['id']!r}"
        equal(hook["User-Agent"], "Ecosire-Webhooks/1", f"{where}: User-Agent")
        assert re.fullmatch(r"[0-9a-f-]{36}", hook["X-Ecosire-Delivery"] or ""), f"{where}: X-Ecosire-Delivery"
        assert standard_ok(hook.body, hook.headers, secret), f"{where}: standardwebhooks rejects it"
        assert ecosire_signature_ok(hook.body, hook["X-Ecosire-Signature"], secret), \
            f"{where}: X-Ecosire-Signature {hook['X-Ecosire-Signature']!r} does not verify"
        is_license = event["type"].startswith("license.")
        if is_license:
            assert license_signature_ok(hook.body, hook["X-License-Signature"]), \
                f"{where}: X-License-Signature {hook['X-License-Signature']!r} does not verify"
        else:
            equal(hook["X-License-Signature"], None, f"{where}: X-License-Signature")
        tampered = flip_one_byte(hook.body)
        assert not standard_ok(tampered, hook.headers, secret), f"{where}: standardwebhooks accepts a changed body"
        assert not ecosire_signature_ok(tampered, hook["X-Ecosire-Signature"], secret), \
            f"{where}: X-Ecosire-Signature accepts a changed body"
        if is_license:
            assert not license_signature_ok(tampered, hook["X-License-Signature"]), \
                f"{where}: X-License-Signature accepts a changed body"


def check_signatures():
    """contact.created and license.activated deliveries verify with standardwebhooks, an independent HMAC and X-License-Signature, and a flipped byte fails all three"""
    server, secret = main_server(), ctx["sig"]["secret"]
    contact = expect(server.call("POST", "/api/contacts", {"name": "Hook Contact", "email": "hook@example.com"}), 201)
    product = expect(server.call("POST", "/api/products", {
        "name": "Hooked plugin", "sku": "HOOK-1", "price": 100, "licensePolicy": {"prefix": "SHOP", "activationsLimit": 3}}), 201)
    lic = expect(server.call("POST", "/api/licenses", {"productId": product["id"]}), 201)
    activation = expect(server.call("POST", "/api/licenses/activate", {"key": lic["key"], "domain": "shop.example.com"}, token=""), 200)
    equal(activation.get("activated"), True, "activated")

    def arrived():
        hooks = Receiver.received("/sig")
        types = {hook["X-Ecosire-Event"] for hook in hooks}
        return hooks if {"contact.created", "license.activated"} <= types else None
    hooks = poll(arrived, 20, "contact.created and license.activated deliveries")
    created = [h for h in hooks if h["X-Ecosire-Event"] == "contact.created"]
    equal(len(created), 1, "contact.created deliveries")
    obj = created[0].event["data"]["object"]
    equal(obj["id"], contact["id"], "contact.created data.object.id")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj.get("createdAt", "")), f"createdAt {obj.get('createdAt')!r}"
    activated = [h for h in hooks if h["X-Ecosire-Event"] == "license.activated"]
    equal(len(activated), 1, "license.activated deliveries")
    obj = activated[0].event["data"]["object"]
    equal((obj.get("license", {}).get("id"), obj.get("domain")), (lic["id"], "shop.example.com"),
          "license.activated data.object license.id/domain")
    verify_all(hooks, secret)
    ctx["contact_hook"], ctx["license_hook"] = created[0], activated[0]
    return f"{len(hooks)} deliveries: {', '.join(sorted({h['X-Ecosire-Event'] for h in hooks}))}"


def check_rotation():
    """after rotate-secret, a delivery carries two signatures in both headers and verifies with the old and the new secret"""
    server, old = main_server(), ctx["sig"]["secret"]
    endpoint_id = ctx["sig"]["id"]
    rotated = expect(server.call("POST", f"/api/webhooks/endpoints/{endpoint_id}/rotate-secret"), 200)
    new = rotated.get("secret", "")
    assert new.startswith("whsec_") and new != old, f"new secret {new!r}"
    assert rotated.get("previousSecretExpiresAt"), f"previousSecretExpiresAt {rotated.get('previousSecretExpiresAt')!r}"
    contact = expect(server.call("POST", "/api/contacts", {"name": "After rotation"}), 201)

    def arrived():
        return [h for h in Receiver.received("/sig")
                if h["X-Ecosire-Event"] == "contact.created" and h.event["data"]["object"]["id"] == contact["id"]]
    hook = poll(arrived, 20, "the delivery after rotation")[0]
    v1 = [item for item in hook["X-Ecosire-Signature"].split(",") if item.startswith("v1=")]
    equal(len(v1), 2, f"v1 values in X-Ecosire-Signature {hook['X-Ecosire-Signature']!r}")
    standard = [item for item in hook["webhook-signature"].split(" ") if item.startswith("v1,")]
    equal(len(standard), 2, f"v1 entries in webhook-signature {hook['webhook-signature']!r}")
    for name, secret in (("old", old), ("new", new)):
        assert standard_ok(hook.body, hook.headers, secret), f"standardwebhooks rejects it with the {name} secret"
        assert ecosire_signature_ok(hook.body, hook["X-Ecosire-Signature"], secret), f"X-Ecosire-Signature fails with the {name} secret"
        assert not standard_ok(flip_one_byte(hook.body), hook.headers, secret), f"a changed body passes with the {name} secret"
    assert not standard_ok(hook.body, hook.headers, "whsec_" + base64.b64encode(os.urandom(32)).decode()), \
        "standardwebhooks accepts it with an unrelated secret"
    ctx["rotated_hook"], ctx["new_secret"] = hook, new


def check_curl():
    """the generated cURL command, run by bash, posts a license.activated example that verifies (standardwebhooks, HMAC, license)"""
    server = main_server()
    if shutil.which("curl") is None:
        raise AssertionError("curl is not installed")
    endpoint = server.endpoint("/curl", ["license.revoked"])
    answer = expect(server.call("GET", f"/api/webhooks/events/license.activated/curl?endpointId={endpoint['id']}"), 200)
    equal(answer["url"], f"http://127.0.0.1:{ctx['receiver'].server_port}/curl", "url")
    run = subprocess.run(["bash", "-c", answer["command"] + " --silent --show-error --max-time 10"],
                         capture_output=True, text=True, timeout=20)
    assert run.returncode == 0, f"bash exited with {run.returncode}: {run.stderr.strip()[:300]}\ncommand:\n{answer['command'][:600]}"
    hook = poll(lambda: Receiver.received("/curl"), 10, "the cURL request")[0]
    equal(hook.body.decode(), answer["payload"], "received body vs payload")
    equal(hook.event["type"], "license.activated", "event type")
    for name, value in answer["headers"].items():
        if name.lower() not in ("content-length", "host"):
            equal(hook[name], value, f"received {name}")
    verify_all([hook], endpoint["secret"])


def check_verify_route():
    """POST /api/webhooks/verify: a received delivery is valid (endpoint and license secrets); a changed payload is invalid with a reason"""
    server, hook, secret = main_server(), ctx["rotated_hook"], ctx["new_secret"]
    headers = {name: value for name, value in hook.headers.items()}
    body = {"payload": hook.body.decode(), "headers": headers, "secret": secret}
    verdict = expect(server.call("POST", "/api/webhooks/verify", body), 200)
    equal((verdict["valid"], verdict["reason"]), (True, None), f"valid/reason ({verdict})")
    equal(sorted((c["header"], c["valid"]) for c in verdict["checks"]),
          [("X-Ecosire-Signature", True), ("webhook-signature", True)], "checks")
    tampered = flip_one_byte(hook.body).decode()
    verdict = expect(server.call("POST", "/api/webhooks/verify", dict(body, payload=tampered)), 200)
    equal(verdict["valid"], False, f"valid for a changed payload ({verdict})")
    assert verdict["reason"], f"no reason for a changed payload ({verdict})"
    assert all(not c["valid"] and c["reason"] for c in verdict["checks"]) and verdict["checks"], f"checks {verdict['checks']}"
    lic = ctx["license_hook"]
    body = {"payload": lic.body.decode(), "headers": {"X-License-Signature": lic["X-License-Signature"]},
            "secret": LICENSE_SECRET}
    verdict = expect(server.call("POST", "/api/webhooks/verify", body), 200)
    equal(verdict["valid"], True, f"X-License-Signature with the license secret ({verdict})")
    body["payload"] = flip_one_byte(lic.body).decode()
    verdict = expect(server.call("POST", "/api/webhooks/verify", body), 200)
    assert verdict["valid"] is False and verdict["reason"], f"changed license payload: {verdict}"


SSRF_URLS = ["http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://[::1]:9/x", "http://localhost:9/x"]


def check_ssrf():
    """without WEBHOOK_ALLOW_PRIVATE_URLS, loopback/link-local/localhost URLs and ftp:// are 422 naming url; with it, 127.0.0.1 is 201"""
    guarded = Server("guarded", {}).start().register()
    try:
        for url in SSRF_URLS + ["ftp://example.com/hooks"]:
            answer = guarded.call("POST", "/api/webhooks/endpoints", {"url": url, "events": ["*"]})
            assert answer.status == 422, f"{url}: expected 422, got {answer!r}"
            assert answer.headers.get("Content-Type", "").startswith("application/problem+json"), \
                f"{url}: Content-Type {answer.headers.get('Content-Type')!r}"
            if url in SSRF_URLS:
                details = answer.json.get("details") or []
                assert any(d.get("field") == "url" and d.get("message") for d in details), f"{url}: details {details}"
        equal(expect(guarded.call("GET", "/api/webhooks/endpoints"), 200)["meta"]["total"], 0, "endpoints created")
    finally:
        guarded.stop()
    server = main_server()
    allowed = expect(server.call("POST", "/api/webhooks/endpoints", {"url": "http://127.0.0.1:9/x", "events": ["license.revoked"]}), 201)
    expect(server.call("DELETE", f"/api/webhooks/endpoints/{allowed['id']}"), 204)


def crash_test(name, extra_env):
    """Queues EVENTS contact.created events, kills the server with SIGKILL mid-way, restarts it and
    waits for every event to arrive at least once."""
    path = f"/crash-{name}"
    server = Server(f"crash-{name}", dict(extra_env, WEBHOOK_ALLOW_PRIVATE_URLS="true", WEBHOOK_TIMEOUT_SECONDS="2",
                                          WEBHOOK_LEASE_SECONDS="4", WEBHOOK_CONCURRENCY="8"))
    try:
        server.start().register()
        endpoint = server.endpoint(path, ["contact.created"])
        Receiver.delays[path] = 1.0  # slow while the import runs, so the kill lands mid-way
        imported = expect(server.call("POST", "/api/contacts/import", raw=csv_of_contacts(name, EVENTS), content_type="text/csv",
                                      timeout=60), 200)
        equal(imported["created"], EVENTS, "contacts imported")
        contact_ids = {row["id"] for row in imported["rows"]}
        Receiver.delays[path] = 0.02
        poll(lambda: len(Receiver.distinct(path)) >= 50, 20, "50 deliveries before the kill", interval=0.005)
        server.kill9()
        before = len(Receiver.distinct(path))
        assert before < EVENTS, f"all {EVENTS} events arrived before the kill; nothing was tested"
        server.start()
        poll(lambda: len(Receiver.distinct(path)) >= EVENTS, 60, f"{EVENTS} distinct webhook-ids after the restart "
             f"(got {len(Receiver.distinct(path))})", interval=0.1)
        poll(lambda: server.deliveries(endpoint["id"], "succeeded")[1] >= EVENTS, 15,
             f"{EVENTS} succeeded deliveries in the log", interval=0.2)
        hooks = Receiver.received(path)
        ids = {hook["webhook-id"] for hook in hooks}
        equal(len(ids), EVENTS, "distinct webhook-ids")
        equal({hook.event["data"]["object"]["id"] for hook in hooks}, contact_ids, "contacts delivered")
        attempts = [hook["X-Ecosire-Delivery"] for hook in hooks]
        equal(len(set(attempts)), len(attempts), "distinct X-Ecosire-Delivery ids (one per attempt)")
        log, total = server.deliveries(endpoint["id"])
        equal(total, EVENTS, "deliveries in the log")
        statuses = {}
        for delivery in log:
            statuses[delivery["status"]] = statuses.get(delivery["status"], 0) + 1
        equal(statuses, {"succeeded": EVENTS}, "delivery statuses")
        equal({d["eventId"] for d in log}, ids, "logged eventIds vs received webhook-ids")
        logged = {a["id"] for d in log for a in d["attemptLog"] if a["succeeded"]}
        missing = logged - set(attempts)
        assert not missing, f"{len(missing)} logged successful attempts were never received, e.g. {sorted(missing)[:3]}"
        return f"{before} distinct before the kill, {len(hooks) - EVENTS} duplicates"
    finally:
        server.stop()


def check_crash_sqlite():
    """SQLite: 500 events, kill -9 mid-way, restart: every webhook-id arrives (at least once) and the log shows 500 succeeded"""
    return crash_test("sqlite", {})


# ---------------------------------------------------------------- PostgreSQL

def fresh_database(name):
    """A new empty database on the --postgres cluster; its URL."""
    database = f"webhook_checks_{name}"
    psql(ctx["postgres"], f"DROP DATABASE IF EXISTS {database}")
    psql(ctx["postgres"], f"CREATE DATABASE {database}")
    ctx.setdefault("databases", []).append(database)
    return urllib.parse.urlsplit(ctx["postgres"])._replace(path="/" + database).geturl()


def check_crash_postgres():
    """PostgreSQL: 500 events, kill -9 mid-way, restart: every webhook-id arrives (at least once) and the log shows 500 succeeded"""
    return crash_test("postgres", {"DATABASE_URL": fresh_database("crash")})


def connections_of(pid, receiver_port):
    """Local ports of the process's TCP connections to the receiver (Linux /proc), or None."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == receiver_port:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports
    except OSError:
        return None


def check_two_instances():
    """PostgreSQL, two instances on one database: 500 events arrive exactly once each, no X-Ecosire-Delivery repeats, 500 succeeded in the log"""
    url, path = fresh_database("pair"), "/pair"
    env = {"DATABASE_URL": url, "SECRETS_KEY": base64.b64encode(os.urandom(32)).decode(), "WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
    first = Server("pair-1", env)
    second = Server("pair-2", env)
    try:
        first.start()
        second.start()
        first.register()
        second.login()  # the same user, through the other instance (each signs its own tokens)
        endpoint = first.endpoint(path, ["contact.created"])
        imported = expect(first.call("POST", "/api/contacts/import", raw=csv_of_contacts("pair", EVENTS), content_type="text/csv",
                                     timeout=60), 200)
        equal(imported["created"], EVENTS, "contacts imported")
        poll(lambda: len(Receiver.distinct(path)) >= EVENTS, 40,
             f"{EVENTS} distinct webhook-ids (got {len(Receiver.distinct(path))})", interval=0.1)
        # the log through the other instance: they share the database (and SECRETS_KEY)
        poll(lambda: second.deliveries(endpoint["id"], "succeeded")[1] >= EVENTS, 15,
             f"{EVENTS} succeeded deliveries in the log", interval=0.2)
        time.sleep(1)  # a late duplicate would arrive within a few polls
        hooks = Receiver.received(path)
        counts = {}
        for hook in hooks:
            counts[hook["webhook-id"]] = counts.get(hook["webhook-id"], 0) + 1
        repeated = {k: v for k, v in counts.items() if v > 1}
        assert not repeated, f"{len(repeated)} webhook-ids arrived more than once, e.g. {list(repeated.items())[:3]}"
        equal(len(counts), EVENTS, "distinct webhook-ids")
        attempts = [hook["X-Ecosire-Delivery"] for hook in hooks]
        equal(len(set(attempts)), len(attempts), "distinct X-Ecosire-Delivery ids")
        log, total = second.deliveries(endpoint["id"])
        equal(total, EVENTS, "deliveries in the log")
        bad = [d for d in log if d["status"] != "succeeded" or d["attempts"] != 1 or len(d["attemptLog"]) != 1]
        assert not bad, f"{len(bad)} deliveries not succeeded in exactly one attempt, e.g. {bad[0]}"
        equal({a["id"] for d in log for a in d["attemptLog"]}, set(attempts), "logged attempt ids vs received X-Ecosire-Delivery")
        port = ctx["receiver"].server_port
        mine = [connections_of(server.process.pid, port) for server in (first, second)]
        if None in mine:
            return "which instance sent what: unknown"
        sent = [sum(1 for hook in hooks if hook.client_port in ports) for ports in mine]
        return f"instance 1 sent {sent[0]}, instance 2 sent {sent[1]}, {len(hooks) - sum(sent)} on closed connections"
    finally:
        first.stop()
        second.stop()


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--postgres", metavar="URL", help="postgres://… of a cluster where databases may be created")
    args = parser.parse_args()
    ctx["binary"], ctx["work"], ctx["postgres"] = os.path.abspath(args.binary), os.path.abspath(args.workdir), args.postgres
    os.makedirs(ctx["work"], exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the cleanup below
    receiver = ReceiverServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    ctx["receiver"] = receiver
    checks = [check_setup, check_signatures, check_rotation, check_curl, check_verify_route, check_ssrf, check_crash_sqlite]
    if args.postgres:
        checks += [check_crash_postgres, check_two_instances]
    started = time.monotonic()
    try:
        failures = run_checks_showing_logs(checks, SERVERS)
    finally:
        for server in SERVERS:
            server.stop()
        receiver.shutdown()
        for database in ctx.get("databases", []):
            try:
                psql(ctx["postgres"], f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            except AssertionError:
                pass
    print(f"    webhook checks took {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(failures)


if __name__ == "__main__":
    main()
