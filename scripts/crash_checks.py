#!/usr/bin/env python3
"""Idempotency across a `kill -9` of the real binary, on SQLite and on PostgreSQL: 16 threads post
contacts, each request with a fresh `Idempotency-Key`; the server is killed with SIGKILL at a random
moment and restarted on the same database, and every request that got no answer is sent again with
its key and body as the SDKs do (a 409 IDEMPOTENCY_KEY_IN_USE waits its Retry-After). Every retry
must end in 201 (created, or replayed with `Idempotent-Replayed: true`) within 5 s of the restart,
and every key ever answered 201 must own exactly one contact — none lost, none duplicated, none
for a request that never got a 201.

    python3 scripts/crash_checks.py BIN WORKDIR [--postgres URL]

Each backend runs ROUNDS kill/restart rounds on one database (SQLite in WORKDIR/sqlite, wiped first;
with --postgres, a fresh schema on that database, dropped at the end); the two backends run at the
same time. Prints one ✔/✘ line per check; the exit status is the number of failures.
"""
import argparse
import http.client
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from checklib import expect, free_port, log_tail, psql, request, run_checks, stop_process, wait_healthy

ROUNDS = 5  # kill/restart rounds per backend
WORKERS = 16  # threads posting contacts, and retrying after the restart
KILL_AFTER = (1.0, 3.0)  # seconds of load before the kill, drawn at random
RETRY_FOR = 10.0  # seconds after the restart that retries of one request keep going
WITHIN = 5.0  # seconds from the restart to the last retry's 201
REPLAY_SAMPLE = 16  # keys answered before each kill, sent again after the restart
PASSWORD = "correct-horse-9"
PREFIX = "crash-"
ctx = {}


class NoAnswer(Exception):
    """The request got no (complete) HTTP answer: refused, reset, or cut off mid-answer."""


def post_contact(base, token, key, body, timeout=10):
    """POST /api/contacts with `Idempotency-Key: key`; the Answer, or NoAnswer."""
    try:
        return request(base + "/api/contacts", "POST", body, token=token, headers={"Idempotency-Key": key}, timeout=timeout)
    except (OSError, http.client.HTTPException) as error:
        raise NoAnswer(f"{type(error).__name__}: {error}") from None


def contact_of(answer):
    """(id, name) of a 201 answer's contact, or None when the body is not a contact."""
    try:
        contact = answer.json
        return contact["id"], contact["name"]
    except (ValueError, KeyError, TypeError):
        return None


def problem_code(answer):
    try:
        return answer.json.get("code")
    except (ValueError, AttributeError):
        return None


# ---------------------------------------------------------------- the server under test

class Server:
    """`BIN serve` on one port and one database, restartable after a kill -9."""

    def __init__(self, name, env):
        self.name = name
        self.dir = os.path.join(ctx["work"], name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "server.log")
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("WEBHOOK_", "DATABASE_", "RATE_LIMIT_", "QUOTA_")) and k != "SECRETS_KEY"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(inherited, DATA_DIR=os.path.join(self.dir, "data"), PORT=str(self.port), LOG_LEVEL="error",
                        BCRYPT_COST="4", RATE_LIMIT_DEFAULT="100000", QUOTA_FREE="0", **env)
        self.process = None
        self.starts = 0

    def start(self):
        """Starts the server (on the same port and database each time); returns once it is healthy."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {self.starts} on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen([ctx["binary"], "serve"], env=self.env, cwd=self.dir, stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_healthy(self.process, self.base, f"the {self.name} server (start {self.starts})")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        stop_process(self.process)

    def tail(self, lines=15):
        return log_tail(self.log_path, lines)


# ---------------------------------------------------------------- one backend's rounds

class Run:
    """What one backend's rounds saw."""

    def __init__(self, label):
        self.label = label
        self.rounds = []  # one dict of counts per round
        self.created = {}  # name → contact id of every 201 (before a kill or on retry)
        self.round_of = {}  # name → round it was sent in
        self.retry_problems = []  # retries that did not end in 201, or ended wrong
        self.replay_problems = []  # answered keys whose replay after the restart was wrong
        self.before_problems = []  # answers other than 201 before a kill
        self.error = None  # an exception that stopped the rounds
        self.server = None


def load_until_kill(run, server, token, number):
    """WORKERS threads post contacts until the server is killed after a random 1–3 s; returns
    ({name: (key, body)} of the requests without an answer, [(key, body, id)] answered 201, seconds)."""
    killed = threading.Event()
    lock = threading.Lock()
    unanswered, answered = {}, []

    def worker():
        while not killed.is_set():
            key = str(uuid.uuid4())
            body = {"name": PREFIX + key}
            with lock:
                run.round_of[body["name"]] = number
            try:
                answer = post_contact(server.base, token, key, body)
            except NoAnswer as error:
                with lock:
                    unanswered[body["name"]] = (key, body, str(error))
                continue
            contact = contact_of(answer) if answer.status == 201 else None
            with lock:
                if answer.status != 201:
                    run.before_problems.append(f"round {number}: {key} answered {answer!r} before the kill")
                elif contact is None or contact[1] != body["name"]:
                    run.before_problems.append(f"round {number}: {key} answered 201 with {answer!r}")
                else:
                    answered.append((key, body, contact[0]))
                    run.created[body["name"]] = contact[0]

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    seconds = random.uniform(*KILL_AFTER)
    time.sleep(seconds)
    killed.set()  # no new requests: those in flight are the ones the kill leaves without an answer
    server.kill9()
    for thread in threads:
        thread.join(30)
    return unanswered, answered, seconds


def retry(run, server, token, number, name, key, body, restarted):
    """Sends one unanswered request again until it is answered 201 (a 409 IDEMPOTENCY_KEY_IN_USE
    waits its Retry-After); returns (replayed, 409s waited, seconds from the restart to the 201)."""
    waits = 0
    deadline = restarted + RETRY_FOR
    while True:
        where = f"round {number}: retry of {key}"
        try:
            answer = post_contact(server.base, token, key, body)
        except NoAnswer as error:
            raise AssertionError(f"{where}: no answer from the restarted server ({error})")
        if answer.status == 201:
            at = time.monotonic() - restarted
            contact = contact_of(answer)
            if contact is None or contact[1] != name:
                raise AssertionError(f"{where}: 201 with {answer!r}")
            replayed = answer.headers.get("Idempotent-Replayed")
            if replayed not in (None, "true"):
                raise AssertionError(f"{where}: Idempotent-Replayed: {replayed!r}")
            run.created[name] = contact[0]
            return replayed == "true", waits, at
        if answer.status != 409 or problem_code(answer) != "IDEMPOTENCY_KEY_IN_USE":
            raise AssertionError(f"{where}: {answer!r} after {waits} 409s")
        retry_after = answer.headers.get("Retry-After")
        if retry_after is None or not retry_after.strip().isdigit():
            raise AssertionError(f"{where}: 409 IDEMPOTENCY_KEY_IN_USE with Retry-After {retry_after!r}")
        waits += 1
        if time.monotonic() + int(retry_after) > deadline:
            raise AssertionError(f"{where}: still 409 IDEMPOTENCY_KEY_IN_USE {time.monotonic() - restarted:.1f} s "
                                 f"after the restart ({waits} waited)")
        time.sleep(int(retry_after))


def in_parallel(function, items):
    """function(item) for every item on WORKERS threads; [(item, value or None, error or None)]."""
    results, lock, queue = [], threading.Lock(), list(items)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            try:
                value, error = function(item), None
            except Exception as failure:  # noqa: BLE001 — reported by the check
                value, error = None, str(failure) or type(failure).__name__
            with lock:
                results.append((item, value, error))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(WORKERS, len(queue)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def one_round(run, server, token, number):
    unanswered, answered, seconds = load_until_kill(run, server, token, number)
    restarted = time.monotonic()
    server.start()
    healthy = time.monotonic() - restarted

    # every unanswered request again, with its key and body, right after the restart
    results = in_parallel(lambda item: retry(run, server, token, number, item[0], item[1][0], item[1][1], restarted),
                          list(unanswered.items()))
    replayed = created = waited = 0
    last = 0.0
    for (name, (key, _, _)), value, error in results:
        if error:
            run.retry_problems.append(error)
            continue
        was_replayed, waits, at = value
        replayed += was_replayed
        created += not was_replayed
        waited += waits
        last = max(last, at)

    # and a sample of those answered before the kill: their stored answers survived it
    sample = random.sample(answered, min(REPLAY_SAMPLE, len(answered)))

    def replay(item):
        key, body, contact_id = item
        answer = post_contact(server.base, token, key, body)
        ok = answer.status == 201 and answer.headers.get("Idempotent-Replayed") == "true" and \
            contact_of(answer) == (contact_id, body["name"])
        assert ok, f"round {number}: {key}, answered 201 ({contact_id}) before the kill, is {answer!r} " \
            f"with Idempotent-Replayed {answer.headers.get('Idempotent-Replayed')!r} after it"
    run.replay_problems += [error for _, _, error in in_parallel(replay, sample) if error]

    run.rounds.append(dict(number=number, killed_after=seconds, answered=len(answered), unanswered=len(unanswered),
                           replayed=replayed, created=created, waited=waited, healthy=healthy, last=last,
                           failed=sum(1 for _, _, error in results if error), sampled=len(sample)))


def rounds(run, name, env):
    """ROUNDS kill/restart rounds on one database; fills `run`, keeps its server running."""
    try:
        server = Server(name, env)
        run.server = server
        server.start()
        user = expect(request(server.base + "/api/auth/register", "POST",
                              {"email": f"crash@{name}.example.com", "password": PASSWORD, "name": "Crash"}), 201)
        token = user["token"]
        run.token = token
        for number in range(1, ROUNDS + 1):
            one_round(run, server, token, number)
    except Exception as error:  # noqa: BLE001 — reported by the checks
        run.error = f"{type(error).__name__}: {error}" if not isinstance(error, AssertionError) else str(error)


# ---------------------------------------------------------------- the contacts

def list_contacts(run):
    """Every contact the search finds, walking the pages: [(id, name)]."""
    found, page = [], 1
    while True:
        answer = expect(request(f"{run.server.base}/api/contacts?search={PREFIX}&limit=100&page={page}", "GET",
                                token=run.token), 200)
        found += [(contact["id"], contact["name"]) for contact in answer["data"]]
        total = answer["meta"]["total"]
        if not answer["data"] or len(found) >= total:
            assert len(found) == total, f"the pages hold {len(found)} contacts, meta.total says {total}"
            return found
        page += 1


def compare(created, listed):
    """What is wrong with the listed contacts, given every 201 (name → id): (lost, duplicated, stray, other)."""
    ids = {}
    by_name = {}
    other = []
    for contact_id, name in listed:
        if contact_id in ids:
            other.append(f"contact {contact_id} is listed twice")
        ids[contact_id] = name
        by_name.setdefault(name, set()).add(contact_id)
    lost = sorted(name for name in created if name not in by_name)
    duplicated = sorted(name for name in created if len(by_name.get(name, ())) > 1)
    stray = sorted(name for name in by_name if name not in created)
    for name, contact_id in created.items():
        if len(by_name.get(name, ())) == 1 and by_name[name] != {contact_id}:
            other.append(f"{name} answered 201 with id {contact_id}, but its contact is {next(iter(by_name[name]))}")
    return lost, duplicated, stray, other


def describe(run, problems):
    lost, duplicated, stray, other = problems
    parts = []
    for what, names in (("lost", lost), ("duplicated", duplicated), ("never answered 201 yet stored", stray)):
        if names:
            rounds = sorted({run.round_of.get(name, "?") for name in names}, key=str)
            parts.append(f"{len(names)} {what} (rounds {rounds}), e.g. {names[:3]}")
    if other:
        parts.append(f"{len(other)} other, e.g. {other[:3]}")
    return "; ".join(parts)


# ---------------------------------------------------------------- checks

def finished(label):
    run = ctx["runs"][label]
    if run.error:
        raise AssertionError(f"the rounds stopped: {run.error}")
    return run


def totals(run):
    return {name: sum(r[name] for r in run.rounds) for name in ("answered", "unanswered", "replayed", "created", "waited")}


def retries_check(label):
    def check():
        run = finished(label)
        t = totals(run)
        counts = (f"{t['answered']} answered before the kills, {t['unanswered']} unanswered: {t['replayed']} replayed, "
                  f"{t['created']} newly created on retry, {t['waited']} 409s waited; "
                  f"max {max(r['last'] for r in run.rounds):.2f} s from a restart to its last retry's 201")
        problems = list(run.before_problems) + list(run.retry_problems)
        empty = [r["number"] for r in run.rounds if r["unanswered"] == 0]
        if empty:
            problems.append(f"rounds {empty} left no request unanswered (nothing was tested)")
        slow = [f"round {r['number']}: {r['last']:.2f} s" for r in run.rounds if r["last"] > WITHIN]
        if slow:
            problems.append(f"the last retry's 201 came later than {WITHIN:.0f} s after the restart: {', '.join(slow)}")
        assert not problems, f"{len(problems)} problems: {'; '.join(problems[:5])} ({counts})"
        return counts
    check.__doc__ = (f"{label}: Idempotency survives kill -9 — every request unanswered at the kill, sent again with its key "
                     f"and body after the restart, ends in 201 (new or replayed) within {WITHIN:.0f} s ({ROUNDS} rounds)")
    return check


def replays_check(label):
    def check():
        run = finished(label)
        assert not run.replay_problems, f"{len(run.replay_problems)} of {sum(r['sampled'] for r in run.rounds)}: " + \
            "; ".join(run.replay_problems[:3])
        return f"{sum(r['sampled'] for r in run.rounds)} keys replayed their contact"
    check.__doc__ = (f"{label}: keys answered 201 before a kill replay the same contact after the restart "
                     f"(Idempotent-Replayed: true, {REPLAY_SAMPLE} per round)")
    return check


def contacts_check(label):
    def check():
        run = finished(label)
        listed = list_contacts(run)
        ctx.setdefault("listed", {})[label] = listed
        problems = compare(run.created, listed)
        assert not any(problems), f"{describe(run, problems)} ({len(run.created)} keys answered 201, {len(listed)} contacts)"
        return f"{len(run.created)} keys answered 201, {len(listed)} contacts, one each"
    check.__doc__ = (f"{label}: Idempotency survives kill -9 — every key ever answered 201 has exactly one contact with "
                     f"its name and id, none lost, none duplicated, none for a request never answered 201")
    return check


def catches_check(label):
    def check():
        run = finished(label)
        assert len(run.created) >= 2, f"only {len(run.created)} contacts to tamper with"
        base, token = run.server.base, run.token
        duplicate, lost = random.sample(sorted(run.created), 2)
        stray = PREFIX + "never-" + str(uuid.uuid4())
        expect(request(base + "/api/contacts", "POST", {"name": duplicate}, token=token), 201)
        expect(request(base + "/api/contacts", "POST", {"name": stray}, token=token), 201)
        expect(request(f"{base}/api/contacts/{run.created[lost]}", "DELETE", token=token), 204)
        found = compare(run.created, list_contacts(run))
        before = ctx.get("listed", {}).get(label)
        wanted = compare(run.created, before) if before is not None else ([], [], [], [])
        wanted = (sorted(wanted[0] + [lost]), sorted(wanted[1] + [duplicate]), sorted(wanted[2] + [stray]), wanted[3])
        assert found == wanted, f"after adding a duplicate of {duplicate}, a stray {stray} and deleting {lost}, " \
            f"the comparison says {describe(run, found) or 'nothing is wrong'}"
        return "a duplicate, a deleted and a stray contact are each reported"
    check.__doc__ = f"{label}: the contact comparison catches a duplicated, a lost and a never-answered contact"
    return check


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--postgres", metavar="URL", help="postgres://… of a database where a schema may be created")
    args = parser.parse_args()
    ctx["binary"], ctx["work"] = os.path.abspath(args.binary), os.path.abspath(args.workdir)
    os.makedirs(ctx["work"], exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the cleanup below
    started = time.monotonic()
    backends = [("SQLite", "sqlite", {})]
    schema = None
    if args.postgres:
        schema = "crash_checks_" + uuid.uuid4().hex[:12]
        backends.append(("PostgreSQL", "postgres", {"DATABASE_URL": args.postgres, "DATABASE_SCHEMA": schema}))
    runs = ctx["runs"] = {label: Run(label) for label, _, _ in backends}
    failures = 0
    try:
        if schema:
            try:
                psql(args.postgres, f"CREATE SCHEMA {schema}")
            except AssertionError as error:
                runs["PostgreSQL"].error = str(error)
        # the backends' rounds run side by side (each has its own server and database)
        threads = [threading.Thread(target=rounds, args=(runs[label], name, env), daemon=True)
                   for label, name, env in backends if not runs[label].error]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for run in runs.values():
            for r in run.rounds:
                print(f"    {run.label} round {r['number']}: killed after {r['killed_after']:.1f} s with {r['answered']} "
                      f"answered, {r['unanswered']} unanswered → {r['replayed']} replayed, {r['created']} created, "
                      f"{r['failed']} failed, {r['waited']} 409s waited; healthy {r['healthy']:.2f} s after the restart, "
                      f"last 201 at {r['last']:.2f} s", flush=True)
        checks = []
        for label, _, _ in backends:
            checks += [retries_check(label), replays_check(label), contacts_check(label), catches_check(label)]

        def show_logs():
            for run in runs.values():
                if run.server:
                    print(f"    {run.label} server log ({run.server.log_path}), last lines:\n{run.server.tail()}", flush=True)
        failures = run_checks(checks, after_failure=show_logs)
    finally:
        for run in runs.values():
            if run.server:
                run.server.stop()
        if schema:
            try:
                psql(args.postgres, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            except AssertionError:
                pass
    print(f"    crash checks took {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(failures)


if __name__ == "__main__":
    main()
