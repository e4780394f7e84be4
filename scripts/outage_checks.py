#!/usr/bin/env python3
"""The real binary on a real PostgreSQL that goes away under load. Four threads read and post
contacts (each post with its own Idempotency-Key) while the cluster is stopped for OUTAGE seconds
and started again on the same port:

- every request is answered within ANSWER_WITHIN seconds, and every failure is a 503
  application/problem+json `DATABASE_UNAVAILABLE` with Retry-After (no 500, no held request);
- `GET /api/health/ready` turns 503 within READY_WITHIN seconds of the stop;
- within RECOVER_WITHIN seconds of the restart every request succeeds again, by itself;
- posts that were refused are sent again with their keys and make exactly one contact each;
- SIGTERM while the database is down ends the process with status 0 within EXIT_WITHIN seconds.

    python3 scripts/outage_checks.py BIN WORKDIR

Starts its own cluster under WORKDIR (scripts/postgres.sh), since it stops it. Prints one ✔/✘
line per check; the exit status is the number of failures.
"""
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from checklib import expect, free_port, log_tail, request, run_checks, stop_process, wait_healthy

OUTAGE = 10.0
ANSWER_WITHIN = 3.5  # the acquire timeout (2 s) and some slack for a loaded machine
READY_WITHIN = 3.0
RECOVER_WITHIN = 5.0
EXIT_WITHIN = 10.0
WORKERS = 4
HERE = os.path.dirname(os.path.abspath(__file__))
ctx = {}


def postgres(action):
    result = subprocess.run([os.path.join(HERE, "postgres.sh"), action, ctx["pg"]], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def start_server():
    port = free_port()
    environment = dict(os.environ, DATA_DIR=os.path.join(ctx["work"], "data"), PORT=str(port), HOST="127.0.0.1",
                       LOG_LEVEL="warning", BCRYPT_COST="4", DATABASE_URL=ctx["url"], RATE_LIMIT_DEFAULT="1000000", QUOTA_FREE="0")
    log = open(ctx["log"], "ab")
    process = subprocess.Popen([ctx["binary"], "serve"], env=environment, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(process, base)
    return process, base


class Load:
    """WORKERS threads alternating a list read and a keyed contact post, recording every answer."""

    def __init__(self, base, token):
        self.base, self.token = base, token
        self.answers = []  # (started, seconds, kind, status, code, retry_after, key)
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(WORKERS)]

    def work(self):
        turn = 0
        while self.running:
            turn += 1
            key = str(uuid.uuid4())
            began = time.monotonic()
            try:
                if turn % 2:
                    answer = request(self.base + "/api/contacts?limit=1", "GET", token=self.token, timeout=30)
                else:
                    answer = request(self.base + "/api/contacts", "POST", {"name": "Outage " + key}, token=self.token,
                                     headers={"Idempotency-Key": key}, timeout=30)
                status = answer.status
                code = answer.json.get("code") if status >= 400 and answer.body else None
                retry = answer.headers.get("Retry-After")
                kind = answer.headers.get("Content-Type", "")
            except OSError as error:
                status, code, retry, kind = 0, type(error).__name__, None, ""
            with self.lock:
                self.answers.append((began, time.monotonic() - began, "get" if turn % 2 else "post", status, code, retry, kind,
                                     None if turn % 2 else key))
            time.sleep(0.02)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=40)


def outage_under_load():
    """PostgreSQL stopped for 10 s under load: every request answered within 3.5 s, failures are 503 DATABASE_UNAVAILABLE problems with Retry-After, readiness turns 503 within 3 s, all succeeds again within 5 s of the restart by itself"""
    process, base = start_server()
    ctx["process"], ctx["base"] = process, base
    email = f"outage-{uuid.uuid4().hex[:8]}@example.com"
    owner = expect(request(base + "/api/auth/register", "POST",
                          {"email": email, "password": "correct-horse-9", "name": "Outage", "organizationName": "Outage"}), 201)
    token = ctx["token"] = owner["token"]
    with Load(base, token) as load:
        time.sleep(2)
        stopped = time.monotonic()
        postgres("stop")
        unready = None
        while time.monotonic() - stopped < OUTAGE:
            answer = request(base + "/api/health/ready", "GET", timeout=30)
            if answer.status == 503 and unready is None:
                unready = time.monotonic() - stopped
            time.sleep(0.1)
        postgres("resume")
        resumed = time.monotonic()
        time.sleep(RECOVER_WITHIN + 2)
    assert unready is not None and unready <= READY_WITHIN, f"readiness turned 503 after {unready} s"
    slow = [a for a in load.answers if a[1] > ANSWER_WITHIN]
    assert not slow, f"{len(slow)} requests took over {ANSWER_WITHIN} s: {[(round(a[0] - stopped, 1), round(a[1], 1), a[2], a[3], a[4]) for a in slow]}"
    failed = [a for a in load.answers if a[3] >= 300 or a[3] == 0]
    assert failed, "no request failed while the database was down"
    wrong = [a for a in failed if a[3] != 503 or a[4] != "DATABASE_UNAVAILABLE" or not a[5]
             or not a[6].startswith("application/problem+json")]
    assert not wrong, f"{len(wrong)} failures were not 503 DATABASE_UNAVAILABLE problems with Retry-After: {wrong[:3]}"
    after = [a for a in load.answers if a[0] >= resumed + RECOVER_WITHIN]
    assert after and all(a[3] in (200, 201) for a in after), \
        f"{sum(a[3] not in (200, 201) for a in after)} of {len(after)} requests failed {RECOVER_WITHIN} s after the restart"
    # The refused posts, sent again with their keys, each make one contact; none was half-written.
    refused = [a[7] for a in failed if a[7]]
    for key in refused:
        expect(request(base + "/api/contacts", "POST", {"name": "Outage " + key}, token=token, headers={"Idempotency-Key": key}),
               201)
    created = [a[7] for a in load.answers if a[7] and a[3] == 201] + refused
    listed = {}
    page = 1
    while True:
        body = expect(request(base + f"/api/contacts?limit=100&page={page}", "GET", token=token), 200)
        for contact in body["data"]:
            listed[contact["name"]] = listed.get(contact["name"], 0) + 1
        if page >= body["meta"]["totalPages"]:
            break
        page += 1
    missing = [k for k in created if listed.get("Outage " + k) != 1]
    assert not missing, f"{len(missing)} keys do not own exactly one contact"
    extra = sum(listed.values()) - len(created)
    assert extra == 0, f"{extra} contacts for requests never answered 201"
    return (f"{len(load.answers)} requests, {len(failed)} refused with 503, readiness 503 after {unready:.1f} s, "
            f"slowest answer {max(a[1] for a in load.answers):.2f} s")


def sigterm_while_down():
    """SIGTERM while PostgreSQL is down and requests are in flight: the server exits 0 within 10 s"""
    process = ctx.pop("process", None)
    if process is None or process.poll() is not None:
        process, ctx["base"] = start_server()
        email = f"outage-{uuid.uuid4().hex[:8]}@example.com"
        ctx["token"] = expect(request(ctx["base"] + "/api/auth/register", "POST", {
            "email": email, "password": "correct-horse-9", "name": "Outage", "organizationName": "Outage"}), 201)["token"]
    load = Load(ctx["base"], ctx["token"]).__enter__()
    postgres("stop")
    try:
        time.sleep(1)
        began = time.monotonic()
        process.terminate()
        try:
            status = process.wait(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"still running {EXIT_WITHIN} s after SIGTERM\n{log_tail(ctx['log'], 15)}")
        assert status == 0, f"exit status {status}\n{log_tail(ctx['log'], 15)}"
        return f"exited after {time.monotonic() - began:.1f} s"
    finally:
        load.running = False
        postgres("resume")


def main():
    binary, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chmod(work, 0o755)  # PostgreSQL runs as its own user when we are root
    ctx.update(binary=binary, work=work, pg=os.path.join(work, "pg"), log=os.path.join(work, "server.log"))
    try:
        ctx["url"] = postgres("start")
        failures = run_checks([outage_under_load, sigterm_while_down])
    finally:
        stop_process(ctx.get("process"))
        subprocess.run([os.path.join(HERE, "postgres.sh"), "stop", ctx["pg"]], capture_output=True)
    return failures


if __name__ == "__main__":
    sys.exit(main())
