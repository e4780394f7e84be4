#!/usr/bin/env python3
"""Public intake against the real binary: support requests (helpdesk tickets and their emails),
lead capture with its honeypot, the double opt-in newsletter with signed unsubscribe links, the
email outbox's retries against an SMTP server that defers and refuses, ticket replies and internal
notes, and the knowledge-base answers of /api/ecosire-ai/ask through a fake OpenAI-compatible model.

    python3 scripts/intake_checks.py BIN WORKDIR

Runs an SMTP server (aiosmtpd) and a fake chat-completions endpoint on loopback, and the server
(DATA_DIR=WORKDIR/data, wiped first). Prints one ✔/✘ line per check; the exit status is the number
of failures.
"""
import datetime
import email
import email.policy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from checklib import (equal, expect, free_port, log_tail, poll, read_body, request, run_checks, send_json, stop_process,
                      wait_healthy)
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

PASSWORD = "correct-horse-9"
AI_KEY = "test-key"
AI_MODEL = "fake-model"
WINDOW = 60  # seconds of every rate-limit window (RATE_LIMIT_WINDOW's default), aligned to the epoch
ctx = {}  # state shared by the checks, in order


def client(n):
    """A client address of its own (TEST-NET-2), sent as X-Forwarded-For: one rate-limit bucket per check."""
    return f"198.51.100.{n}"


# ---------------------------------------------------------------- helpers

def public(method, path, body=None, ip=None, raw=None):
    """An unauthenticated call from client address `ip`."""
    return ctx["server"].call(method, path, body, headers={"X-Forwarded-For": ip} if ip else None, raw=raw)


def admin(method, path, body=None):
    return ctx["server"].call(method, path, body, token=ctx["token"])


def q(value):
    return urllib.parse.quote(value, safe="")


def invalid(answer, field, what):
    """A 422 VALIDATION_FAILED problem whose details name `field`."""
    assert answer.status == 422, f"{what}: expected 422 naming {field}, got {answer!r}"
    problem = expect(answer, 422, "VALIDATION_FAILED")
    fields = [d.get("field") for d in problem.get("details") or []]
    assert field in fields, f"{what}: details name {fields}, not {field!r}"


def contacts_with(address):
    found = expect(admin("GET", f"/api/contacts?search={q(address)}&limit=100"), 200)["data"]
    return [c for c in found if (c.get("email") or "").lower() == address]


def leads_with(address):
    found = expect(admin("GET", f"/api/crm/leads?search={q(address)}&limit=100"), 200)["data"]
    return [lead for lead in found if (lead.get("email") or "").lower() == address]


def outbox(to=None):
    """(messages, meta.total) of the email outbox, optionally only those to one address."""
    answer = expect(admin("GET", "/api/email/outbox?limit=100" + (f"&to={q(to)}" if to else "")), 200)
    return answer["data"], answer["meta"]["total"]


def subscribers(address, status=None):
    query = f"?search={q(address)}&limit=100" + (f"&status={status}" if status else "")
    found = expect(admin("GET", "/api/newsletter/subscribers" + query), 200)["data"]
    return [s for s in found if s["email"] == address]


def fresh_window(needed):
    """Waits for the next rate-limit window when fewer than `needed` seconds are left in this one,
    so that a burst of requests is counted in one window."""
    left = WINDOW - time.time() % WINDOW
    if left < needed:
        time.sleep(left + 0.3)


def header_int(answer, name):
    value = answer.headers.get(name)
    assert value is not None and value.strip().isdigit(), f"{name} is {value!r} ({answer!r})"
    return int(value)


def burst(send, limit, what):
    """Sends limit + 1 requests: the first `limit` pass with X-RateLimit-Remaining counting down to
    0 and the IETF headers, the last is 429 RATE_LIMITED with Retry-After. Returns the answers."""
    answers, resets = [], set()
    for i in range(limit + 1):
        answer = send(i)
        answers.append(answer)
        if i < limit:
            assert 200 <= answer.status < 300, f"{what} #{i + 1} of {limit}: {answer!r}"
        equal(header_int(answer, "X-RateLimit-Limit"), limit, f"{what} #{i + 1} X-RateLimit-Limit")
        remaining = header_int(answer, "X-RateLimit-Remaining")
        equal(remaining, max(0, limit - 1 - i), f"{what} #{i + 1} X-RateLimit-Remaining")
        resets.add(header_int(answer, "X-RateLimit-Reset"))
        ietf = answer.headers.get("RateLimit") or ""
        assert re.fullmatch(rf"limit={limit}, remaining={remaining}, reset=\d+", ietf), f"{what} #{i + 1} RateLimit {ietf!r}"
        policy = answer.headers.get("RateLimit-Policy") or ""
        assert re.fullmatch(rf"{limit};w={WINDOW}", policy), f"{what} #{i + 1} RateLimit-Policy {policy!r}"
    equal(len(resets), 1, f"{what}: distinct X-RateLimit-Reset values (the window must not roll over)")
    last = answers[-1]
    expect(last, 429, "RATE_LIMITED")
    retry_after = header_int(last, "Retry-After")
    assert 1 <= retry_after <= WINDOW, f"{what}: Retry-After {retry_after}"
    return answers


# ---------------------------------------------------------------- the SMTP server

class Mail:
    """One message the SMTP server accepted."""

    def __init__(self, mail_from, rcpt_tos, content):
        self.mail_from, self.rcpt_tos, self.content = mail_from, rcpt_tos, content
        self.message = email.message_from_bytes(content, policy=email.policy.default)
        body = self.message.get_body(preferencelist=("plain",)) or self.message
        self.text = body.get_content().replace("\r\n", "\n")
        self.subject = str(self.message["Subject"] or "")


class Mailbox:
    """aiosmtpd handler: records every accepted message; answers 451 to the first deliveries to
    the addresses in `deferred` and 550 always to those in `refused`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mails = []
        self.deferred = {}  # address → 451 answers still to give
        self.refused = set()
        self.rcpts = {}  # address → RCPT TO commands seen

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        with self.lock:
            self.rcpts[key] = self.rcpts.get(key, 0) + 1
            if key in self.refused:
                return "550 5.1.1 No such user"
            if self.deferred.get(key, 0) > 0:
                self.deferred[key] -= 1
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        with self.lock:
            self.mails.append(mail)
        return "250 2.0.0 Message accepted"

    def to(self, address):
        with self.lock:
            return [mail for mail in self.mails if address in [r.lower() for r in mail.rcpt_tos]]

    def rcpt_count(self, address):
        with self.lock:
            return self.rcpts.get(address, 0)


def wait_mail(address, subject_part, timeout=10):
    """The first message to `address` whose subject contains `subject_part`."""
    def arrived():
        found = [mail for mail in ctx["mailbox"].to(address) if subject_part in mail.subject]
        return found[0] if found else None
    return poll(arrived, timeout, f"an email to {address} about {subject_part!r}")


# ---------------------------------------------------------------- the fake model

class FakeAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions, answering like OpenAI. Modes: cite (the first sentence of source
    [1] as given in the prompt, cited), nocite (the same without a citation), error (HTTP 500)."""
    mode = "cite"
    lock = threading.Lock()
    calls = []  # (headers, request JSON, the answer's content or None)

    def do_POST(self):
        raw = read_body(self)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        mode, content = FakeAI.mode, None
        if self.path != "/v1/chat/completions" or not isinstance(payload, dict):
            status, body = 404, {"error": {"message": f"Unknown request {self.path}", "type": "invalid_request_error"}}
        elif mode == "error":
            status, body = 500, {"error": {"message": "The fake model is down", "type": "server_error"}}
        else:
            users = [m.get("content", "") for m in payload.get("messages", []) if m.get("role") == "user"]
            found = re.search(r"\[1\] [^\n]*\n\s*(.*?[.!?])(?=\s|$)", users[-1] if users else "", re.S)
            sentence = found.group(1).strip() if found else "The sources do not say."
            content = f"{sentence} [1]" if mode == "cite" else sentence
            status, body = 200, {
                "id": f"chatcmpl-fake{len(FakeAI.calls)}", "object": "chat.completion", "created": int(time.time()),
                "model": payload.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}
        with FakeAI.lock:
            FakeAI.calls.append((headers, payload, content))
        send_json(self, status, body)

    def log_message(self, *args):
        pass

    @classmethod
    def count(cls):
        with cls.lock:
            return len(cls.calls)


# ---------------------------------------------------------------- the server under test

class Server:
    """One `BIN serve` process on a free port, with DATA_DIR=WORKDIR/data."""

    def __init__(self, binary, work, env):
        self.binary, self.work = binary, work
        self.log_path = os.path.join(work, "server.log")
        shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("SMTP_", "EMAIL_", "AI_", "RATE_LIMIT_", "QUOTA_"))
                     and k not in ("DATABASE_URL", "PUBLIC_URL", "SITE_ORGANIZATION_ID")}
        self.env = dict(inherited, DATA_DIR=os.path.join(work, "data"), PORT=str(self.port), HOST="127.0.0.1",
                        LOG_LEVEL="warning", BCRYPT_COST="4", **env)
        self.process = None
        self.log = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, cwd=self.work, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        wait_healthy(self.process, self.base)
        return self

    def stop(self):
        stop_process(self.process)
        if self.log:
            self.log.close()

    def call(self, method, path, body=None, token=None, headers=None, raw=None, timeout=30):
        return request(self.base + path, method, body, token=token, headers=headers, raw=raw, timeout=timeout)

    def tail(self, lines=15):
        return log_tail(self.log_path, lines)


# ---------------------------------------------------------------- checks: support

def check_setup():
    """the owner registers; the first organization is the site organization"""
    user = expect(ctx["server"].call("POST", "/api/auth/register",
                                      {"email": "owner@intake.example.com", "password": PASSWORD, "name": "Site Owner"}), 201)
    assert user.get("token") and user.get("refreshToken"), f"register answer {user}"
    ctx["token"] = user["token"]
    equal(expect(admin("GET", "/api/helpdesk/tickets"), 200)["meta"]["total"], 0, "tickets before any request")


SUPPORT_ADDRESS = "ada.customer@example.com"


def check_support():
    """a support request answers 201 HD-YYYY-NNNN, creates the contact and the ticket, and the acknowledgement email names the ticket without echoing the message"""
    subject = "Cannot activate my license"
    message = "The activation answers LICENSE_EXPIRED.\nI renewed yesterday.\n\nOrder SO/2026/0042, domain shop.example.com."
    body = {"name": "Ada Lovelace", "email": SUPPORT_ADDRESS, "subject": subject, "message": message, "product": "Odoo Connector"}
    receipt = expect(public("POST", "/api/support", body, client(1)), 201)
    year = datetime.datetime.now(datetime.timezone.utc).year
    number = receipt.get("ticketNumber") or ""
    assert re.fullmatch(rf"HD-{year}-\d{{4}}", number), f"ticketNumber {number!r}, wanted HD-{year}-NNNN"
    contacts = contacts_with(SUPPORT_ADDRESS)
    equal(len(contacts), 1, f"contacts with {SUPPORT_ADDRESS}")
    contact = contacts[0]
    equal(contact["name"], "Ada Lovelace", "contact name")
    ticket = expect(admin("GET", f"/api/helpdesk/tickets/{receipt['id']}"), 200)
    equal((ticket["id"], ticket["ticketNumber"], ticket["subject"], ticket["description"]),
          (receipt["id"], number, subject, message), "ticket id/ticketNumber/subject/description")
    equal((ticket["status"], ticket["channel"], ticket["contactId"]), ("new", "web", contact["id"]), "ticket status/channel/contactId")
    equal({k: ticket["contact"].get(k) for k in ("id", "name", "email")},
          {"id": contact["id"], "name": "Ada Lovelace", "email": SUPPORT_ADDRESS}, "ticket contact")
    assert ticket.get("priority"), f"ticket priority {ticket.get('priority')!r}"
    assert "slaDueAt" in ticket, "ticket has no slaDueAt"
    mail = wait_mail(SUPPORT_ADDRESS, number)
    equal(mail.subject, f"[{number}] We received your request", "acknowledgement subject (nothing typed is echoed)")
    equal([r.lower() for r in mail.rcpt_tos], [SUPPORT_ADDRESS], "envelope recipients")
    equal([a.addr_spec for a in mail.message["To"].addresses], [SUPPORT_ADDRESS], "To")
    assert number in mail.text, f"the ticket number is not in the body:\n{mail.text}"
    # A public form must not relay free text to whatever address was typed in.
    first_line = message.split("\n")[0]
    assert first_line not in mail.text, f"the acknowledgement echoes the visitor's message:\n{mail.text}"
    equal(len(ctx["mailbox"].to(SUPPORT_ADDRESS)), 1, f"messages to {SUPPORT_ADDRESS}")
    ctx["ticket"], ctx["ticket_subject"] = ticket, subject
    return number


def check_support_invalid():
    """bad support requests (no subject, bad email, 10001-character message, blank name) are 422 naming the field and store nothing"""
    tickets_before = expect(admin("GET", "/api/helpdesk/tickets"), 200)["meta"]["total"]
    outbox_before = outbox()[1]
    good = {"name": "Bad Input", "email": "bad.input@example.com", "subject": "Help", "message": "Something broke."}
    cases = [
        ("subject", "missing subject", {k: v for k, v in good.items() if k != "subject"}),
        ("email", "invalid email", dict(good, email="not-an-email")),
        ("message", "10001-character message", dict(good, message="x" * 10001)),
        ("name", "blank name", dict(good, name="   ")),
    ]
    statuses = []
    for field, what, body in cases:
        answer = public("POST", "/api/support", body, client(2))
        statuses.append(f"{what}: {answer.status}")
        invalid(answer, field, what)
    equal(expect(admin("GET", "/api/helpdesk/tickets"), 200)["meta"]["total"], tickets_before, "tickets after bad requests")
    equal(outbox()[1], outbox_before, "outbox messages after bad requests")
    equal(contacts_with("bad.input@example.com"), [], "contacts made by bad requests")


def check_support_rate_limit():
    """support requests: 5 per minute per client address with X-RateLimit-*/RateLimit headers, the 6th 429 RATE_LIMITED with Retry-After; another address still passes"""
    fresh_window(6)
    body = {"name": "Busy Customer", "email": "busy.customer@example.com", "subject": "Again", "message": "Please help."}
    burst(lambda i: public("POST", "/api/support", body, client(3)), 5, "support request")
    other = public("POST", "/api/support", body, client(4))
    expect(other, 201)
    equal(header_int(other, "X-RateLimit-Remaining"), 4, "another address' X-RateLimit-Remaining")


# ---------------------------------------------------------------- checks: lead capture

def check_capture():
    """lead capture creates the contact and a lead, a repeat adds to the same lead without overwriting, the honeypot answers the same 201 and stores nothing"""
    address = "grace.lead@example.com"
    utm = {"source": "newsletter", "medium": "email", "campaign": "spring", "term": "odoo", "content": "banner"}
    body = {"name": "Grace Hopper", "email": address, "company": "Navy Labs", "phone": "+1 555 0100",
            "message": "We want the Odoo connector.", "utm": utm}
    first = expect(public("POST", "/api/crm/capture", body, client(5)), 201)
    contacts = contacts_with(address)
    equal(len(contacts), 1, f"contacts with {address}")
    leads = leads_with(address)
    equal(len(leads), 1, f"leads with {address}")
    lead = leads[0]
    equal(first, {"status": "received"}, "capture answer")
    equal((lead["name"], lead["company"], lead["source"], lead["contactId"]),
          ("Grace Hopper", "Navy Labs", "website", contacts[0]["id"]), "lead name/company/source/contactId")
    assert lead.get("status"), f"lead status {lead.get('status')!r}"
    equal({k: (lead.get("utm") or {}).get(k) for k in utm}, utm, "lead utm")
    again = expect(public("POST", "/api/crm/capture", dict(body, company="Compilers Inc", source="pricing-page"), client(5)), 201)
    equal(again, first, "the repeat's answer (it never tells whether the address was known)")
    leads = leads_with(address)
    equal(len(leads), 1, f"leads with {address} after the repeat")
    equal((leads[0]["id"], leads[0]["company"], leads[0]["source"]), (lead["id"], "Navy Labs", "website"),
          "the same lead, nothing overwritten by a public form")
    equal(len(contacts_with(address)), 1, f"contacts with {address} after the repeat")
    trap = "bot.trap@example.com"
    leads_before = expect(admin("GET", "/api/crm/leads"), 200)["meta"]["total"]
    bot = expect(public("POST", "/api/crm/capture", dict(body, email=trap, website_url="http://spam.example.com"), client(5)), 201)
    equal(bot, {"status": "received"}, "honeypot answer")
    equal(leads_with(trap), [], "leads from the honeypot")
    equal(contacts_with(trap), [], "contacts from the honeypot")
    equal(expect(admin("GET", "/api/crm/leads"), 200)["meta"]["total"], leads_before, "leads total after the honeypot")


def check_capture_invalid():
    """lead capture without a name or with a bad email is 422 naming the field and stores nothing"""
    leads_before = expect(admin("GET", "/api/crm/leads"), 200)["meta"]["total"]
    invalid(public("POST", "/api/crm/capture", {"email": "no.name@example.com", "company": "Nameless"}, client(6)), "name",
            "missing name")
    invalid(public("POST", "/api/crm/capture", {"name": "Bad Email", "email": "bad-email@"}, client(6)), "email", "bad email")
    equal(expect(admin("GET", "/api/crm/leads"), 200)["meta"]["total"], leads_before, "leads after bad requests")
    equal(contacts_with("no.name@example.com"), [], "contacts from bad requests")


def check_capture_rate_limit():
    """lead capture: 10 per minute per client address, then 429 RATE_LIMITED"""
    fresh_window(8)
    body = {"name": "Eager Lead", "email": "eager.lead@example.com"}
    burst(lambda i: public("POST", "/api/crm/capture", body, client(7)), 10, "capture")
    equal(len(leads_with("eager.lead@example.com")), 1, "leads from 10 captures of one address")


# ---------------------------------------------------------------- checks: newsletter

NEWS_ADDRESS = "news.reader@example.com"


def check_newsletter():
    """newsletter double opt-in: two subscribes give one pending subscriber and one confirmation; its token confirms once; the welcome email's one-click link unsubscribes"""
    server = ctx["server"]
    first = public("POST", "/api/newsletter/subscribe", {"email": NEWS_ADDRESS, "name": "Reader", "lists": ["product-news"]}, client(8))
    second = public("POST", "/api/newsletter/subscribe", {"email": NEWS_ADDRESS, "name": "Reader", "lists": ["product-news"]}, client(8))
    equal(expect(first, 202)["status"], "pending_confirmation", "status")
    expect(second, 202)
    equal(second.body, first.body, "second subscribe's body")
    pending = subscribers(NEWS_ADDRESS, "pending")
    equal(len(pending), 1, "pending subscribers")
    equal((pending[0]["status"], pending[0]["lists"], pending[0].get("confirmedAt")), ("pending", ["product-news"], None),
          "subscriber status/lists/confirmedAt")
    queued = [m for m in outbox(NEWS_ADDRESS)[0] if m["kind"] == "newsletter_confirmation"]
    equal(len(queued), 1, "confirmation emails in the outbox")
    mail = wait_mail(NEWS_ADDRESS, "Confirm")
    time.sleep(0.5)
    equal(len([m for m in ctx["mailbox"].to(NEWS_ADDRESS) if "Confirm" in m.subject]), 1, "confirmation emails received")
    link = re.search(r"(\S+/api/newsletter/confirm\?token=([A-Za-z0-9_-]+))", mail.text)
    assert link, f"no confirmation link in:\n{mail.text}"
    assert link.group(1).startswith(server.base + "/"), f"link {link.group(1)!r} is not on {server.base}"
    path = link.group(1)[len(server.base):]
    confirmed = expect(public("GET", path), 200)
    equal(confirmed, {"status": "subscribed", "email": NEWS_ADDRESS}, "confirmation answer")
    expect(public("GET", path), 404, "INVALID_TOKEN")
    expect(public("GET", "/api/newsletter/confirm?token=" + "A" * 43), 404, "INVALID_TOKEN")
    subscriber = subscribers(NEWS_ADDRESS)
    equal(len(subscriber), 1, "subscribers")
    equal(subscriber[0]["status"], "subscribed", "status after confirming")
    assert subscriber[0].get("confirmedAt"), "confirmedAt is not set"
    welcome = wait_mail(NEWS_ADDRESS, "You are subscribed")
    header = str(welcome.message["List-Unsubscribe"] or "")
    found = re.fullmatch(r"<(\S+)>", header.strip())
    assert found, f"List-Unsubscribe {header!r}"
    unsubscribe = found.group(1)
    equal(str(welcome.message["List-Unsubscribe-Post"] or ""), "List-Unsubscribe=One-Click", "List-Unsubscribe-Post")
    assert unsubscribe in welcome.text, f"the body does not show {unsubscribe}:\n{welcome.text}"
    assert unsubscribe.startswith(server.base + "/api/newsletter/unsubscribe?"), f"unsubscribe link {unsubscribe!r}"
    ctx["unsubscribe_path"] = unsubscribe[len(server.base):]


def check_newsletter_uniform():
    """subscribing a fresh address and an already-subscribed one gives byte-identical answers, and the subscribed one gets no new email"""
    fresh = public("POST", "/api/newsletter/subscribe", {"email": "fresh.reader@example.com"}, client(9))
    known = public("POST", "/api/newsletter/subscribe", {"email": NEWS_ADDRESS}, client(9))
    expect(fresh, 202)
    expect(known, 202)
    equal(known.body, fresh.body, "body for a subscribed address")
    equal(subscribers(NEWS_ADDRESS)[0]["status"], "subscribed", "the subscribed address' status")
    equal(len([m for m in outbox(NEWS_ADDRESS)[0] if m["kind"] == "newsletter_confirmation"]), 1,
          "confirmation emails to the subscribed address")


def check_newsletter_unsubscribe():
    """unsubscribe links: a tampered token or a forged one for another address is 422 naming token; the real one (POST, no body) unsubscribes"""
    path = ctx["unsubscribe_path"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    equal(query.get("email"), NEWS_ADDRESS, "email in the unsubscribe link")
    token = query["token"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    invalid(public("POST", f"/api/newsletter/unsubscribe?email={q(NEWS_ADDRESS)}&token={q(tampered)}"), "token", "tampered token")
    invalid(public("POST", f"/api/newsletter/unsubscribe?email={q('never.subscribed@example.com')}&token={q(token)}"), "token",
            "another address with this token")
    equal(subscribers(NEWS_ADDRESS)[0]["status"], "subscribed", "status after the rejected links")
    equal(expect(public("POST", path), 200), {"status": "unsubscribed"}, "unsubscribe answer")
    equal(subscribers(NEWS_ADDRESS)[0]["status"], "unsubscribed", "status after unsubscribing")


def check_newsletter_invalid():
    """newsletter subscribe with a bad email is 422 naming email; 5 per minute per client address, then 429"""
    invalid(public("POST", "/api/newsletter/subscribe", {"email": "not an email"}, client(10)), "email", "bad email")
    invalid(public("POST", "/api/newsletter/subscribe", {"name": "No Address"}, client(10)), "email", "missing email")
    fresh_window(6)
    burst(lambda i: public("POST", "/api/newsletter/subscribe", {"email": "eager.reader@example.com"}, client(11)), 5, "subscribe")
    equal(len(subscribers("eager.reader@example.com")), 1, "subscribers from 5 subscribes")
    equal(len(outbox("eager.reader@example.com")[0]), 1, "confirmation emails from 5 subscribes")


# ---------------------------------------------------------------- checks: the outbox

def check_email_retries():
    """email delivery: two 451s then sent on attempt 3; a 550 fails after 1 attempt with the reply in lastError; retry queues it and it fails again"""
    mailbox, flaky, refused = ctx["mailbox"], "flaky.customer@example.com", "nobody@example.com"
    with mailbox.lock:
        mailbox.deferred[flaky] = 2
        mailbox.refused.add(refused)
    for address in (flaky, refused):
        expect(public("POST", "/api/support", {"name": "Mail Test", "email": address, "subject": "Mail test",
                                              "message": "Testing delivery."}, client(12)), 201)

    def one(address, status):
        messages = outbox(address)[0]
        equal(len(messages), 1, f"outbox messages to {address}")
        return messages[0] if messages[0]["status"] == status else None

    failed = poll(lambda: one(refused, "failed"), 10, f"the email to {refused} to fail", interval=0.2)
    equal(failed["attempts"], 1, "attempts of the refused email")
    assert "550" in (failed.get("lastError") or ""), f"lastError {failed.get('lastError')!r}"
    equal(mailbox.rcpt_count(refused), 1, f"RCPT TO:<{refused}> seen")
    retried = expect(admin("POST", f"/api/email/outbox/{failed['id']}/retry"), 200)
    equal((retried["id"], retried["status"]), (failed["id"], "queued"), "retried id/status")
    again = poll(lambda: one(refused, "failed") if mailbox.rcpt_count(refused) >= 2 else None, 10,
                 f"the retried email to {refused} to fail", interval=0.2)
    assert "550" in (again.get("lastError") or ""), f"lastError after the retry {again.get('lastError')!r}"
    equal(mailbox.rcpt_count(refused), 2, f"RCPT TO:<{refused}> seen after the retry")
    sent = poll(lambda: one(flaky, "sent"), 20, f"the email to {flaky} to be sent", interval=0.2)
    equal(sent["attempts"], 3, "attempts of the deferred email")
    assert sent.get("sentAt"), "sentAt is not set"
    equal(mailbox.rcpt_count(flaky), 3, f"RCPT TO:<{flaky}> seen")
    equal(len(mailbox.to(flaky)), 1, f"messages delivered to {flaky}")
    expect(admin("POST", f"/api/email/outbox/{sent['id']}/retry"), 409)


# ---------------------------------------------------------------- checks: helpdesk replies

def check_ticket_reply():
    """a public ticket reply is emailed to the customer as Re: [HD-…]; an internal note is not"""
    ticket, number = ctx["ticket"], ctx["ticket"]["ticketNumber"]
    text = "Please deactivate the license on the old server first, then activate it again."
    answer = expect(admin("POST", f"/api/helpdesk/tickets/{ticket['id']}/reply", {"body": text}), 201)
    equal((answer["message"]["body"], answer["message"]["internal"]), (text, False), "reply body/internal")
    assert answer["message"].get("emailId"), "the public reply has no emailId"
    subject = f"Re: [{number}] {ctx['ticket_subject']}"
    mail = wait_mail(SUPPORT_ADDRESS, "Re: [")
    equal(mail.subject, subject, "reply subject")
    assert text in mail.text, f"the reply is not in the email:\n{mail.text}"
    before = len(ctx["mailbox"].to(SUPPORT_ADDRESS))
    outbox_before = outbox(SUPPORT_ADDRESS)[1]
    note = "Internal: the customer is on the legacy plan."
    answer = expect(admin("POST", f"/api/helpdesk/tickets/{ticket['id']}/reply", {"body": note, "internal": True}), 201)
    equal((answer["message"]["internal"], answer["message"].get("emailId")), (True, None), "note internal/emailId")
    time.sleep(2)
    mails = ctx["mailbox"].to(SUPPORT_ADDRESS)
    equal(len(mails), before, f"messages to {SUPPORT_ADDRESS} after the internal note")
    assert not any("legacy plan" in m.text for m in mails), "the internal note was emailed"
    equal(outbox(SUPPORT_ADDRESS)[1], outbox_before, f"outbox messages to {SUPPORT_ADDRESS} after the internal note")


# ---------------------------------------------------------------- checks: AI answers

ARTICLES = [
    {"title": "Moving a license", "kind": "article", "url": "https://docs.example.com/licenses/move",
     "body": "Deactivate the license on the old server first. Then activate it on the new server with the same key. "
             "Each license allows 3 activations."},
    {"title": "Which payment methods do you accept?", "kind": "faq",
     "body": "We accept Visa, Mastercard and bank transfers. Invoices are payable within 30 days."},
]
QUESTION = "How do I move my license to a new server?"


def ask(question, token=None):
    return ctx["server"].call("POST", "/api/ecosire-ai/ask", {"question": question}, token=token or ctx["token"])


def check_ai_generated():
    """ecosire-ai: with a citing model the answer is the model's (mode generated), and the model got the key, model, temperature 0, the article's passage and the question"""
    for article in ARTICLES:
        expect(admin("POST", "/api/knowledge/articles", dict(article, published=True)), 201)
    FakeAI.mode = "cite"
    before = FakeAI.count()
    answer = expect(ask(QUESTION), 200)
    equal(FakeAI.count(), before + 1, "requests to the model")
    headers, payload, content = FakeAI.calls[-1]
    equal(headers.get("authorization"), f"Bearer {AI_KEY}", "Authorization sent to the model")
    equal((payload.get("model"), payload.get("temperature")), (AI_MODEL, 0), "model/temperature sent")
    roles = [m.get("role") for m in payload.get("messages", [])]
    equal(roles, ["system", "user"], "message roles")
    user = payload["messages"][1]["content"]
    article = ARTICLES[0]
    sources = answer["sources"]
    assert sources, f"no sources: {answer}"
    equal(sources[0]["title"], article["title"], "sources[0].title")
    equal((sources[0]["url"], sources[0]["type"]), (article["url"], "article"), "sources[0] url/type")
    assert user.startswith("Sources:\n"), f"user message starts {user[:40]!r}"
    assert f"[1] {article['title']}\n{article['body']}" in user, f"the article's passage is not source [1]:\n{user}"
    assert user.rstrip().endswith(f"Question: {QUESTION}"), f"the question is not at the end:\n{user}"
    equal((answer["mode"], answer["model"]), ("generated", AI_MODEL), "mode/model")
    equal(answer["answer"], content, "answer vs the model's reply")
    equal(content, "Deactivate the license on the old server first. [1]", "the fake model's reply")


def snippet_sentences(snippet):
    """The verbatim sentences of a snippet (joined by " … ", perhaps cut with a trailing "…")."""
    return [part.strip() for part in snippet.rstrip("…").split(" … ") if part.strip()]


def check_ai_fallback():
    """ecosire-ai falls back to quoting the sources (mode extractive) when the model cites nothing or fails; quotes are verbatim sentences; nothing found says so"""
    bodies = {article["title"]: article["body"] for article in ARTICLES}
    for mode in ("nocite", "error"):
        FakeAI.mode = mode
        before = FakeAI.count()
        answer = expect(ask(QUESTION), 200)
        equal(FakeAI.count(), before + 1, f"{mode}: requests to the model")
        equal((answer["mode"], answer["model"]), ("extractive", None), f"{mode}: mode/model")
        sources = answer["sources"]
        assert sources and sources[0]["title"] == ARTICLES[0]["title"], f"{mode}: sources {sources}"
        quotes = re.findall(r"\[(\d+)\] ([^\n]*?): “(.*?)”", answer["answer"], re.S)
        equal(len(quotes), len(sources), f"{mode}: quoted sources in {answer['answer']!r}")
        for number, title, quote in quotes:
            source = sources[int(number) - 1]
            equal((title, quote), (source["title"], source["snippet"]), f"{mode}: quote [{number}]")
            body = bodies.get(source["title"])
            assert body is not None, f"{mode}: source [{number}] {source['title']!r} is not a knowledge article"
            for sentence in snippet_sentences(quote):
                assert sentence in body and sentence[-1] in ".!?", \
                    f"{mode}: {sentence!r} of quote [{number}] is not a sentence of {source['title']!r}"
        if mode == "nocite":
            assert "Deactivate the license on the old server first." in answer["answer"], f"answer {answer['answer']!r}"
    FakeAI.mode = "cite"
    before = FakeAI.count()
    answer = expect(ask("zebra migration patterns"), 200)
    equal((answer["sources"], answer["mode"]), ([], "extractive"), "nothing found: sources/mode")
    assert re.search(r"could not find|nothing|no (relevant )?(information|results)", answer["answer"], re.I), \
        f"nothing found: answer {answer['answer']!r}"
    equal(FakeAI.count(), before, "requests to the model without sources")


def check_ai_rate_limit():
    """ecosire-ai: 20 questions per minute per caller, the 21st 429 RATE_LIMITED; another caller is unaffected"""
    other = expect(ctx["server"].call("POST", "/api/auth/register",
                                      {"email": "asker@elsewhere.example.com", "password": PASSWORD, "name": "Asker"}), 201)
    fresh_window(10)
    burst(lambda i: ask(f"question number {i}", token=other["token"]), 20, "ask")
    equal(expect(ask("zebra"), 200)["mode"], "extractive", "the owner's ask")


CHECKS = [check_setup, check_support, check_support_invalid, check_support_rate_limit,
          check_capture, check_capture_invalid, check_capture_rate_limit,
          check_newsletter, check_newsletter_uniform, check_newsletter_unsubscribe, check_newsletter_invalid,
          check_email_retries, check_ticket_reply, check_ai_generated, check_ai_fallback, check_ai_rate_limit]


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the cleanup below
    started = time.monotonic()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeAI)
    fake.daemon_threads = True
    server = None
    failures = 0
    try:
        smtp.start()
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        ctx["mailbox"] = mailbox
        server = Server(binary, work, {
            "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "EMAIL_POLL_MILLIS": "100", "EMAIL_RETRY_SECONDS": "1",
            "EMAIL_MAX_ATTEMPTS": "3", "AI_BASE_URL": f"http://127.0.0.1:{fake.server_port}/v1", "AI_API_KEY": AI_KEY,
            "AI_MODEL": AI_MODEL, "TRUSTED_PROXIES": "127.0.0.1",
            # The checks poll the outbox often; the limits under test have classes of their own.
            "RATE_LIMIT_DEFAULT": "100000"})
        ctx["server"] = server
        try:
            server.start()
        except AssertionError as error:
            print(f"✘ the server starts: {error}\n{server.tail()}", flush=True)
            sys.exit(1)

        def show_log():
            print(f"    server log ({server.log_path}), last lines:\n{server.tail()}", flush=True)

        failures = run_checks(CHECKS, after_failure=show_log)
    finally:
        if server:
            server.stop()
        fake.shutdown()
        fake.server_close()
        smtp.stop()
    print(f"    intake checks took {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(failures)


if __name__ == "__main__":
    main()
