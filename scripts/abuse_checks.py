#!/usr/bin/env python3
"""Abuse checks: what a hostile visitor tries against the real binary, on SQLite and PostgreSQL.

    python3 scripts/abuse_checks.py BIN WORKDIR [--postgres URL]

Each backend gets a fresh server (with --postgres, a fresh schema on that database, dropped at the
end) with the default limits, TRUSTED_PROXIES=127.0.0.1 (so each check can speak for many client
addresses through X-Forwarded-For), a real bcrypt cost (10, so timings mean something) and an SMTP
server (aiosmtpd) that receives the password-reset emails. Checked:
  - floods of register/login/refresh from one address stop at the `auth` limit with every header,
    and nothing is created for a refused request; guesses at one email from many addresses stop at
    `auth.email`; on PostgreSQL two instances share both limits;
  - a taken address answers registration as slowly as a new one, an unknown email answers login
    like a wrong password, and a password reset answers the same, as fast, for every address;
  - the reset link from the email sets the password through the dashboard's form, once, and ends
    every session;
  - C0 control characters in JSON, query strings, headers and CSV are 4xx answers naming the
    field, never a 500; text is stored in NFC; lengths count code points;
  - uploaded file names come back as a safe base name in an RFC 6266 Content-Disposition; a body
    that is not a ZIP archive is refused;
  - media types other than the declared application/json are a 415 naming it.
Prints one ✔/✘ line per check and exits with the number of failures.
"""
import argparse
import json
import os
import re
import signal
import statistics
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Server, equal, expect, free_port, psql, run_checks  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from intake_checks import Mailbox  # noqa: E402

PASSWORD = "correct-horse-9"
ctx = {}


def address():
    """A client address of its own (TEST-NET-2), so that checks do not share limits by accident."""
    ctx["addresses"] = ctx.get("addresses", 0) + 1
    return f"198.51.{ctx['addresses'] // 250}.{ctx['addresses'] % 250 + 1}"


def call(method, path, body=None, client=None, server=None, **options):
    headers = dict(options.pop("headers", {}) or {})
    if client:
        headers["X-Forwarded-For"] = client
    return (server or ctx["server"]).call(method, path, body, headers=headers, **options)


def whole_window(seconds):
    """Waits until `seconds` are left in the current fixed window (60 s, aligned to the minute),
    so that a check's requests are counted in one window."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.2)


def timed(method, path, body, client, headers=None):
    began = time.perf_counter()
    answer = call(method, path, body, client=client, headers=headers)
    return answer, time.perf_counter() - began


def same_time(first, second, what):
    """Median times within 25 % (and 15 ms) of each other."""
    a, b = statistics.median(first), statistics.median(second)
    assert abs(a - b) <= max(0.015, 0.25 * max(a, b)), f"{what}: medians {a * 1000:.1f} ms and {b * 1000:.1f} ms"
    return f"medians {a * 1000:.1f} and {b * 1000:.1f} ms"


def user(email=None, client=None):
    email = email or f"user-{uuid.uuid4().hex[:10]}@abuse.example.com"
    session = expect(call("POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "Checker"},
                          client=client or address()), 201)
    session["email"] = email
    return session


# ---------------------------------------------------------------- §1 account routes

def check_register_flood():
    """§1 registrations from one address stop at the `auth` limit (30): the 31st is a 429 with Retry-After and the standard headers, and creates nothing"""
    whole_window(20)
    client = address()
    remaining = []
    for number in range(30):
        answer = call("POST", "/api/auth/register",
                      {"email": f"flood-{number}-{uuid.uuid4().hex[:6]}@abuse.example.com", "password": PASSWORD, "name": "F"},
                      client=client)
        equal(answer.status, 201, f"registration {number + 1}")
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    # Each answer shows the tighter of the address's 30 and the new email's 20.
    equal(remaining, [min(29 - number, 19) for number in range(30)], "X-RateLimit-Remaining")
    refused_email = f"refused-{uuid.uuid4().hex[:6]}@abuse.example.com"
    refused = call("POST", "/api/auth/register", {"email": refused_email, "password": PASSWORD, "name": "F"}, client=client)
    expect(refused, 429, "RATE_LIMITED")
    assert int(refused.headers.get("Retry-After", "0")) >= 1, f"Retry-After {refused.headers.get('Retry-After')!r}"
    equal(refused.headers.get("RateLimit-Policy"), "30;w=60", "RateLimit-Policy")
    for name in ("RateLimit", "X-RateLimit-Limit", "X-RateLimit-Reset"):
        assert refused.headers.get(name), f"no {name} on the 429"
    expect(call("POST", "/api/auth/login", {"email": refused_email, "password": PASSWORD}, client=address()), 401)
    for path, body in (("/api/auth/login", {"email": refused_email, "password": "x"}),
                       ("/api/auth/refresh", {"refreshToken": "rt_unknown"}),
                       ("/api/auth/password-reset", {"email": refused_email})):
        expect(call("POST", path, body, client=client), 429, "RATE_LIMITED")
    return "30 × 201, then 429 on register, login, refresh and password-reset"


def check_email_guesses():
    """§1 login guesses at one email stop at the `auth.email` limit (20) whichever addresses they come from"""
    whole_window(20)
    victim = user()
    statuses = []
    for _ in range(20):
        answer = call("POST", "/api/auth/login", {"email": victim["email"], "password": "guess-guess"}, client=address())
        statuses.append(answer.status)
        if answer.status == 429:
            equal(answer.headers.get("RateLimit-Policy"), "20;w=60", "the refusing limit")
            break
    equal(statuses, [401] * 19 + [429], "answers to guesses from 20 addresses (the registration counted one)")
    return "19 × 401 from 19 addresses, then 429"


def check_registration_timing():
    """§1 registering a taken address answers 409 as slowly as a new address answers 201 (the password is hashed either way)"""
    taken = user()
    new, existing = [], []
    for _ in range(8):
        answer, seconds = timed("POST", "/api/auth/register",
                                {"email": f"t-{uuid.uuid4().hex[:8]}@abuse.example.com", "password": PASSWORD, "name": "T"},
                                address())
        equal(answer.status, 201, "a new address")
        new.append(seconds)
        answer, seconds = timed("POST", "/api/auth/register", {"email": taken["email"], "password": PASSWORD, "name": "T"}, address())
        expect(answer, 409, "CONFLICT")
        existing.append(seconds)
    return same_time(new, existing, "201 and 409")


def check_login_timing():
    """§1 an unknown email and a wrong password answer the same 401 body in the same time"""
    known = user()
    wrong, unknown = [], []
    bodies = set()
    for _ in range(8):
        answer, seconds = timed("POST", "/api/auth/login", {"email": known["email"], "password": "wrong-password"}, address())
        bodies.add(answer.json["message"])
        wrong.append(seconds)
        answer, seconds = timed("POST", "/api/auth/login",
                                {"email": f"nobody-{uuid.uuid4().hex[:8]}@abuse.example.com", "password": "wrong-password"}, address())
        bodies.add(answer.json["message"])
        unknown.append(seconds)
    equal(len(bodies), 1, "distinct messages")
    return same_time(wrong, unknown, "wrong password and unknown email")


def check_reset_answers():
    """§1 a password reset answers the same 202, in the same time, for an address with an account and one without; only the first gets an email"""
    known = user()
    ctx["reset_user"] = known
    answers, times = {"known": [], "unknown": []}, {"known": [], "unknown": []}
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@abuse.example.com"
    for number in range(6):
        for kind, email in (("known", known["email"]), ("unknown", nobody)):
            # Every other one under an Idempotency-Key, whose transaction ends with the answer: the
            # email queued after it must not run in it (the server-log check below would see that).
            headers = {"Idempotency-Key": f"reset-{kind}-{number}"} if number % 2 else None
            answer, seconds = timed("POST", "/api/auth/password-reset", {"email": email}, address(), headers)
            answers[kind].append((answer.status, answer.body))
            times[kind].append(seconds)
    equal(set(answers["known"]) | set(answers["unknown"]), {answers["known"][0]}, "distinct answers")
    equal(answers["known"][0][0], 202, "status")
    mailbox = ctx["mailbox"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(mailbox.to(known["email"])) < 6:
        time.sleep(0.1)
    equal(len(mailbox.to(known["email"])), 6, "emails to the known address")
    equal(len(mailbox.to(nobody)), 0, "emails to the unknown address")
    return same_time(times["known"], times["unknown"], "known and unknown address")


def check_reset_link():
    """§1 each of six reset links opens the dashboard's form; the first one used sets the new password, cancels the other five and ends every session"""
    known = ctx["reset_user"]
    mails = ctx["mailbox"].to(known["email"])
    links = [re.search(r"(https?://\S+/dashboard/reset-password\?token=(prt_[A-Za-z0-9]+))", mail.text) for mail in mails]
    assert all(links), f"a reset email without its link: {mails[-1].text!r}"
    equal(len({link.group(2) for link in links}), 6, "distinct tokens")
    for link in links:
        page = ctx["server"].call("GET", urllib.parse.urlparse(link.group(1)).path + "?token=" + link.group(2))
        equal(page.status, 200, "the reset page")
        assert b'name="token"' in page.body and b'type="password"' in page.body, "the page has no password form"
    origin = ctx["server"].base

    def submit(token, password):
        form = urllib.parse.urlencode({"token": token, "password": password}).encode()
        return call("POST", "/dashboard/reset-password", raw=form, content_type="application/x-www-form-urlencoded",
                    headers={"Origin": origin}, client=address(), follow_redirects=False)

    chosen = links[2].group(2)
    done = submit(chosen, "brand-new-pass-1")
    equal(done.status, 303, "the chosen link")
    equal(done.headers.get("Location"), "/dashboard/login?notice=password-changed", "redirect")
    for link in links:
        refused = submit(link.group(2), "another-pass-2")
        equal(refused.status, 404, "a link after one was used")
        assert b"unknown, expired or already used" in refused.body, "the form does not say why"
    expect(call("POST", "/api/auth/refresh", {"refreshToken": known["refreshToken"]}, client=address()), 401)
    expect(call("POST", "/api/auth/login", {"email": known["email"], "password": PASSWORD}, client=address()), 401)
    expect(call("POST", "/api/auth/login", {"email": known["email"], "password": "brand-new-pass-1"}, client=address()), 200)


def check_shared_limits():
    """§1 two instances on one PostgreSQL share the `auth` limit: 30 registrations from one address alternating between them, then 429 from either"""
    if "second" not in ctx:
        return "SQLite runs one instance"
    whole_window(20)
    client = address()
    servers = [ctx["server"], ctx["second"]]
    for number in range(30):
        answer = call("POST", "/api/auth/register",
                      {"email": f"pair-{number}-{uuid.uuid4().hex[:6]}@abuse.example.com", "password": PASSWORD, "name": "P"},
                      client=client, server=servers[number % 2])
        equal(answer.status, 201, f"registration {number + 1}")
    for server in servers:
        expect(call("POST", "/api/auth/login", {"email": "x@abuse.example.com", "password": "x"}, client=client, server=server),
               429, "RATE_LIMITED")


# ---------------------------------------------------------------- §2 text

def check_control_characters():
    """§2 U+0000 and other C0 controls are a 4xx naming the field in JSON bodies, query strings, headers and CSV rows; never a 500"""
    owner = ctx["owner"]
    for name in ("nul\u0000byte", "bell\u0007", "line\nbreak"):
        problem = expect(ctx["server"].call("POST", "/api/contacts", {"name": name}, token=owner["token"]), 422, "VALIDATION_FAILED")
        equal(problem["details"][0]["field"], "name", f"field named for {name!r}")
    for query in ("search=a%00b", "search=a%01b", "type=%00"):
        problem = expect(ctx["server"].call("GET", "/api/contacts?" + query, token=owner["token"]), 400)
        equal(problem["details"][0]["field"], query.split("=")[0], f"field named for {query}")
    for path in ("/api/crm/leads?search=%00", "/api/products?search=a%00", "/api/contacts/%00"):
        status = ctx["server"].call("GET", path, token=owner["token"]).status
        assert status in (400, 404), f"GET {path}: {status}"
    csv = "name,email\nGood Row,good@abuse.example.com\nBad\u0000Row,bad@abuse.example.com\n".encode()
    report = expect(ctx["server"].call("POST", "/api/contacts/import", raw=csv, content_type="text/csv", token=owner["token"]), 200)
    equal((report["created"], report["failed"]), (1, 1), "created and failed rows")
    bad = [row for row in report["rows"] if row["status"] == "failed"][0]
    equal(bad["errors"][0]["field"], "name", "the failed row's field")
    import socket
    for header in (b"X-Note: a\x01b", b"User-Agent: a\x00b"):
        with socket.create_connection(("127.0.0.1", ctx["server"].port), timeout=5) as connection:
            connection.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400"), f"{header!r}: {answer[:60]!r}"
        assert b"application/problem+json" in answer, f"{header!r}: not a problem answer"


def check_normalization():
    """§2 text is stored in NFC (an accent sent decomposed comes back composed and is found either way); a search's maxLength counts code points"""
    owner = ctx["owner"]
    created = expect(ctx["server"].call("POST", "/api/contacts", {"name": "Zoe\u0308 Cafe\u0301"}, token=owner["token"]), 201)
    equal(created["name"], "Zo\u00eb Caf\u00e9", "stored name")
    for search in ("Cafe\u0301", "Caf\u00e9"):
        listed = expect(ctx["server"].call("GET", "/api/contacts?search=" + urllib.parse.quote(search), token=owner["token"]), 200)
        equal([c["id"] for c in listed["data"]], [created["id"]], f"search {search!r}")
    fits = "x" + "\u0301" * 199  # nothing composes with x, so NFC keeps 200 code points
    expect(ctx["server"].call("GET", "/api/contacts?search=" + urllib.parse.quote(fits), token=owner["token"]), 200)
    problem = expect(ctx["server"].call("GET", "/api/contacts?search=" + urllib.parse.quote(fits + "\u0301"), token=owner["token"]), 400)
    equal(problem["details"][0]["field"], "search", "the field")


# ---------------------------------------------------------------- §3 files, §4 media types

def upload(filename, content):
    owner = ctx["owner"]
    product = expect(ctx["server"].call("POST", "/api/products", {"name": "Archive", "sku": "SKU-" + uuid.uuid4().hex[:8], "price": 100,
                                                                  "type": "digital"}, token=owner["token"]), 201)
    boundary = "----abuse" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"productId\"\r\n\r\n{product['id']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0.0\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/zip\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return ctx["server"].call("POST", "/api/admin/product-files/upload", raw=body, token=owner["token"],
                              content_type=f"multipart/form-data; boundary={boundary}")


def check_file_names():
    """§3 an uploaded file named ../../etc/evil"x.zip is stored and offered as a safe base name (RFC 6266 filename and filename*); a body that is not a ZIP archive is refused"""
    archive = b"PK\x03\x04" + os.urandom(512)
    stored = expect(upload('../../etc/evil\\"x\u00e9.zip', archive), 201)
    assert "/" not in stored["filename"] and "\\" not in stored["filename"] and not stored["filename"].startswith("."), \
        f"stored as {stored['filename']!r}"
    download = ctx["server"].call("GET", stored["downloadUrl"], token=ctx["owner"]["token"])
    equal(download.status, 200, "download")
    disposition = download.headers.get("Content-Disposition", "")
    match = re.fullmatch(r'attachment; filename="([^"\\/\x00-\x1f]*)"; filename\*=UTF-8\'\'([A-Za-z0-9!#$&+\-.^_`|~%]*)', disposition)
    assert match, f"Content-Disposition {disposition!r}"
    equal(urllib.parse.unquote(match.group(2)), stored["filename"], "filename* decoded")
    problem = expect(upload("fake.zip", b"MZ\x90\x00 not a zip at all"), 422)
    equal(problem["details"][0]["field"], "file", "the refused field")
    return f"stored as {stored['filename']!r}"


def check_media_types():
    """§4 a JSON body under any type but application/json (another +json, merge-patch on PATCH, text/plain) is a 415 naming application/json"""
    owner = ctx["owner"]
    contact = expect(ctx["server"].call("POST", "/api/contacts", {"name": "Media"}, token=owner["token"]), 201)
    for method, path, kind in (("POST", "/api/contacts", "application/vnd.evil+json"),
                               ("PATCH", f"/api/contacts/{contact['id']}", "application/merge-patch+json"),
                               ("POST", "/api/auth/login", "text/plain")):
        answer = ctx["server"].call(method, path, raw=b'{"name":"x"}', content_type=kind, token=owner["token"])
        expect(answer, 415)
        assert "application/json" in answer.json["message"], f"{kind}: {answer.json['message']!r}"


CHECKS = [check_register_flood, check_email_guesses, check_registration_timing, check_login_timing, check_reset_answers,
          check_reset_link, check_shared_limits, check_control_characters, check_normalization, check_file_names, check_media_types]


def logged_errors(path):
    """The error lines of a JSON log."""
    errors = []
    with open(path, "rb") as log:
        for line in log.read().decode(errors="replace").splitlines():
            try:
                if json.loads(line).get("level") in ("error", "critical"):
                    errors.append(line)
            except ValueError:
                pass
    return errors


def labelled(label, check):
    def run():
        return check()
    run.__doc__ = f"{label}: {check.__doc__}"
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--postgres", metavar="URL", help="postgres://… of a database where a schema may be created")
    args = parser.parse_args()
    binary, work = os.path.abspath(args.binary), os.path.abspath(args.workdir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the cleanup below
    started = time.monotonic()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    ctx["mailbox"] = mailbox
    backends = [("SQLite", {})]
    schema = None
    if args.postgres:
        schema = "abuse_checks_" + uuid.uuid4().hex[:12]
        backends.append(("PostgreSQL", {"DATABASE_URL": args.postgres, "DATABASE_SCHEMA": schema}))
    env = {"TRUSTED_PROXIES": "127.0.0.1", "BCRYPT_COST": "10", "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
           "EMAIL_POLL_MILLIS": "100", "PUBLIC_URL": "https://app.abuse.example.com", "RATE_LIMIT_DEFAULT": "100000",
           "LOG_FORMAT": "json"}
    drop = ("DATABASE_", "RATE_LIMIT_", "QUOTA_", "SMTP_", "EMAIL_", "PUBLIC_URL", "TRUSTED_PROXIES", "BCRYPT_", "LOG_")
    failures = 0
    try:
        if schema:
            psql(args.postgres, f"CREATE SCHEMA {schema}")
        for label, database in backends:
            servers = [Server(binary, os.path.join(work, label.lower()), dict(env, **database), drop=drop).start()]
            if database:
                servers.append(Server(binary, os.path.join(work, label.lower()), dict(env, **database), drop=drop, fresh=False,
                                      name="second").start())
            ctx.clear()
            ctx.update(mailbox=mailbox, server=servers[0])
            if len(servers) > 1:
                ctx["second"] = servers[1]
            try:
                ctx["owner"] = user()

                def show_log():
                    print(f"    server log ({servers[0].log_path}), last lines:\n{servers[0].tail()}", flush=True)
                failures += run_checks([labelled(label, check) for check in CHECKS], after_failure=show_log)
                errors = [line for server in servers for line in logged_errors(server.log_path)]
                print(("✘" if errors else "✔") + f" {label}: the server logged no errors" + (f": {errors[:3]}" if errors else ""))
                failures += bool(errors)
            finally:
                for server in servers:
                    server.stop()
    finally:
        smtp.stop()
        if schema:
            try:
                psql(args.postgres, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            except AssertionError:
                pass
    print(f"    abuse checks took {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(failures)


if __name__ == "__main__":
    main()
