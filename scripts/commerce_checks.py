#!/usr/bin/env python3
"""End-to-end commerce checks against the real binary: Stripe webhooks (signature, replay, refund),
the license client flow with signed requests and answers, concurrent activations, Stripe Checkout
through a fake Stripe API, and invoice PDFs.

    python3 scripts/commerce_checks.py BIN WORKDIR
    python3 scripts/commerce_checks.py --fake-stripe PORT_FILE   (only the fake Stripe API)

Starts a fake Stripe API and the server (DATA_DIR=WORKDIR/data, wiped first); prints one ✔/✘ line
per check; the exit status is the number of failures.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from checklib import equal, expect, free_port, request, run_checks, send_json, stop_process, wait_healthy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import stripe
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

WEBHOOK_SECRET = "whsec_test_secret"
STRIPE_KEY = "sk_test_123"
LICENSE_SECRET = "license-secret-for-tests"
KEY_PATTERN = re.compile(r"^SHOP(-[A-HJ-NP-Z2-9]{4}){4}$")
BASE = ""  # http://127.0.0.1:<port>, set in main()
ctx = {}  # state shared by the checks, in order


# ---------------------------------------------------------------- helpers

def call(method, path, body=None, token=None, headers=None, raw=None):
    return request(BASE + path, method, body, token=token, headers=headers, raw=raw, timeout=20)


def as_admin(method, path, body=None):
    return call(method, path, body, token=ctx["token"])


def counts():
    orders = expect(as_admin("GET", "/api/orders"), 200)
    licenses = expect(as_admin("GET", "/api/licenses"), 200)
    return orders["meta"]["total"], len(orders["data"]), licenses


def webhook(payload, header, path="/api/billing/webhooks"):
    return call("POST", path, raw=payload.encode(), headers={"Stripe-Signature": header})


def sign_stripe(payload, timestamp=None):
    return stripe.WebhookSignature.generate_signature_header(payload=payload, secret=WEBHOOK_SECRET, timestamp=timestamp)


def sign_license(body):
    canonical = "&".join(f"{k}={body[k]}" for k in sorted(body))
    return hmac.new(LICENSE_SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def license_call(action, key, domain, signature=None, timestamp=None):
    body = {"key": key, "domain": domain, "timestamp": int(time.time()) if timestamp is None else timestamp}
    return call("POST", f"/api/licenses/{action}", body,
                headers={"X-Ecosire-Signature": signature or sign_license(body)})


def verify_answer_signatures(answer):
    """The HMAC and Ed25519 headers sign the exact body; a modified body fails Ed25519."""
    mac = hmac.new(LICENSE_SECRET.encode(), answer.body, hashlib.sha256).hexdigest()
    equal(answer.headers.get("X-Ecosire-Signature"), mac, "X-Ecosire-Signature")
    signature = base64.b64decode(answer.headers.get("X-Ecosire-Signature-Ed25519") or "")
    ctx["ed25519"].verify(signature, answer.body)  # raises InvalidSignature
    try:
        ctx["ed25519"].verify(signature, answer.body.replace(b'"active"', b'"revoked"') + b" ")
    except InvalidSignature:
        return
    raise AssertionError("a modified body passed Ed25519 verification")


# ---------------------------------------------------------------- fake Stripe API

class FakeStripe(BaseHTTPRequestHandler):
    requests = []  # (path, authorization, form pairs)
    failures = []  # (status, body) answered before any success

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        FakeStripe.requests.append((self.path, self.headers.get("Authorization"), form))
        if FakeStripe.failures:
            status, body = FakeStripe.failures.pop(0)
        elif self.path.startswith("/v1/subscriptions/"):
            status, body = 200, {"id": self.path.rsplit("/", 1)[1], "object": "subscription", "cancel_at_period_end": True}
        elif self.path == "/v1/checkout/sessions":
            sid = f"cs_test_{len(FakeStripe.requests):04d}"
            status, body = 200, {"id": sid, "object": "checkout.session", "url": f"https://checkout.stripe.com/c/pay/{sid}"}
        else:
            status, body = 404, {"error": {"message": f"Unrecognized request URL (POST: {self.path})"}}
        self.answer(status, body)

    def do_GET(self):
        FakeStripe.requests.append((self.path, self.headers.get("Authorization"), []))
        match = re.fullmatch(r"/v1/payment_methods/(pm_[A-Za-z0-9_]+)", self.path)
        if match:
            status, body = 200, {"id": match.group(1), "object": "payment_method", "type": "card",
                                 "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}}
        else:
            status, body = 404, {"error": {"message": f"No such resource: {self.path}"}}
        self.answer(status, body)

    def answer(self, status, body):
        send_json(self, status, body)

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- checks

def check_setup():
    """register the owner, create a digital product"""
    user = expect(call("POST", "/api/auth/register",
                       {"email": "owner@shop.example.com", "password": "correct-horse-9", "name": "Shop Owner"}), 201)
    ctx["token"], ctx["user"] = user["token"], user["user"]["id"]
    me = expect(as_admin("GET", "/api/users/me"), 200)
    equal(me["id"], ctx["user"], "users/me id")
    product = expect(as_admin("POST", "/api/products", {
        "name": "Odoo CRM Connector", "sku": "SHOP-CRM-1", "price": 12450, "type": "digital",
        "licensePolicy": {"prefix": "SHOP", "activationsLimit": 3, "durationDays": 365, "updatesMonths": 12}}), 201)
    ctx["product"], ctx["price"] = product["id"], 12450
    key = expect(call("GET", "/api/licenses/signing-key"), 200)
    equal(key["algorithm"], "Ed25519", "signing-key algorithm")
    ctx["ed25519"] = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["publicKey"]))
    assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----"), "publicKeyPem is not a PEM"


def check_checkout_webhook():
    """checkout.session.completed (portal seed) makes one confirmed paid order and one SHOP license"""
    event = {"id": "evt_1ABCxyz", "object": "event", "type": "checkout.session.completed", "created": 1711000000,
             "data": {"object": {"id": "cs_live_abc123", "object": "checkout.session",
                                 "customer_email": "[email protected]", "amount_total": 24900, "currency": "usd",
                                 "mode": "payment", "payment_status": "paid", "payment_intent": "pi_seed_1",
                                 "metadata": {"userId": ctx["user"], "productIds": json.dumps([ctx["product"]])}}}}
    payload = json.dumps(event)
    header = sign_stripe(payload)
    parsed = stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET)  # sanity: Stripe's own check passes
    equal(parsed["id"], "evt_1ABCxyz", "construct_event id")
    ctx["seed"] = (payload, header)
    answer = expect(webhook(payload, header), 200)
    equal((answer["received"], answer["duplicate"]), (True, False), "received/duplicate")
    total, listed, licenses = counts()
    equal((total, listed, len(licenses)), (1, 1, 1), "orders total / listed / licenses")
    order = expect(as_admin("GET", "/api/orders"), 200)["data"][0]
    equal((order["status"], order["paymentStatus"]), ("confirmed", "paid"), "order status/paymentStatus")
    assert re.match(r"^SO/\d{4}/\d{4}$", order["reference"]), f"reference {order['reference']!r}"
    assert any(item.get("productId") == ctx["product"] for item in order["lineItems"]), f"lineItems {order['lineItems']}"
    lic = licenses[0]
    assert KEY_PATTERN.match(lic["key"]), f"license key {lic['key']!r}"
    equal((lic["productId"], lic["ownerUserId"], lic["orderId"]), (ctx["product"], ctx["user"], order["id"]),
          "license productId/ownerUserId/orderId")
    ctx["order"], ctx["seed_license"] = order, lic


def check_replay():
    """replaying the same signed event (alias path, rotated v1 list) is a 200 duplicate and changes nothing"""
    payload, header = ctx["seed"]
    answer = expect(webhook(payload, header, "/api/webhooks/stripe"), 200)
    equal(answer["duplicate"], True, "duplicate")
    timestamp, v1 = header.split(",")
    rotated = f"{timestamp},v1={'0' * 64},{v1}"  # several v1 entries (secret rotation): any may match
    equal(expect(webhook(payload, rotated), 200)["duplicate"], True, "duplicate (two v1 entries)")
    total, listed, licenses = counts()
    equal((total, listed, len(licenses)), (1, 1, 1), "orders total / listed / licenses")


def check_bad_signatures():
    """a tampered body, a missing header and a 10-minute-old timestamp are 401 INVALID_SIGNATURE"""
    payload, header = ctx["seed"]
    tampered = payload.replace('"evt_1ABCxyz"', '"evt_1ABCxyz2"').replace("24900", "1")
    expect(webhook(tampered, header), 401, "INVALID_SIGNATURE")
    expect(call("POST", "/api/billing/webhooks", raw=tampered.encode()), 401, "INVALID_SIGNATURE")
    stale = sign_stripe(tampered, timestamp=int(time.time()) - 600)
    expect(webhook(tampered, stale), 401, "INVALID_SIGNATURE")
    total, listed, licenses = counts()
    equal((total, listed, len(licenses)), (1, 1, 1), "orders total / listed / licenses")


def check_refund():
    """charge.refunded refunds the order, revokes its license, and validate says LICENSE_REVOKED"""
    event = {"id": "evt_refund_1", "object": "event", "type": "charge.refunded",
             "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_seed_1",
                                 "amount": 24900, "amount_refunded": 24900, "refunded": True}}}
    payload = json.dumps(event)
    answer = expect(webhook(payload, sign_stripe(payload)), 200)
    equal(answer["duplicate"], False, "duplicate")
    order = expect(as_admin("GET", f"/api/orders/{ctx['order']['id']}"), 200)
    equal(order["status"], "refunded", "order status")
    lic = expect(as_admin("GET", f"/api/licenses/{ctx['seed_license']['id']}"), 200)
    equal(lic["status"], "revoked", "license status")
    body = {"key": ctx["seed_license"]["key"], "domain": "mysite.com"}
    expect(call("POST", "/api/licenses/validate", body), 403, "LICENSE_REVOKED", "License revoked")


def new_license():
    lic = expect(as_admin("POST", "/api/licenses", {"productId": ctx["product"]}), 201)
    assert KEY_PATTERN.match(lic["key"]), f"license key {lic['key']!r}"
    equal(lic["status"], "active", "new license status")
    return lic


def check_license_flow():
    """signed validate → activate (idempotent) → validate → deactivate, answers signed (HMAC + Ed25519)"""
    lic = new_license()
    key, domain = lic["key"], "mysite.com"
    answer = license_call("validate", key, domain)
    body = expect(answer, 200)
    equal((body["valid"], body["activated"]), (True, False), "valid/activated")
    equal((body["license"]["key"], body["license"]["status"], body["license"]["productId"]),
          (key, "active", ctx["product"]), "license key/status/productId")
    assert body["license"].get("expiresAt"), "license.expiresAt missing"
    equal((body["activationsCount"], body["activationsLimit"]), (0, 3), "activationsCount/Limit")
    verify_answer_signatures(answer)
    for attempt in (1, 2):
        answer = license_call("activate", key, domain)
        body = expect(answer, 200)
        equal((body["activated"], body["activationsCount"], body["activationsLimit"], body["domain"]),
              (True, 1, 3, domain), f"activate #{attempt}")
        verify_answer_signatures(answer)
    answer = license_call("validate", key, domain)
    equal(expect(answer, 200)["activated"], True, "re-validate activated")
    verify_answer_signatures(answer)
    body = expect(license_call("deactivate", key, domain), 200)
    equal((body["deactivated"], body["activationsCount"]), (True, 0), "deactivated/activationsCount")


def guide_check_license(action, license_key, domain):
    """The license guide's client, as its code is written: the timestamp is a string of digits, the
    message is the payload's items sorted by name as k=v joined with &, the header the hex HMAC."""
    payload = {"key": license_key, "domain": domain, "timestamp": str(int(time.time()))}
    message = "&".join(f"{k}={v}" for k, v in sorted(payload.items()))
    signature = hmac.new(LICENSE_SECRET.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return requests.post(f"{BASE}/api/licenses/{action}", json=payload,
                         headers={"X-Ecosire-Signature": signature}, timeout=10)


def check_license_guide_client():
    """the guide's client verbatim (string timestamp): validate, activate, validate, deactivate all answer 200"""
    key, domain = new_license()["key"], "guide.example.com"
    answers = {}
    for action in ("validate", "activate", "validate", "deactivate"):
        answer = guide_check_license(action, key, domain)
        assert answer.status_code == 200, f"{action}: {answer.status_code} {answer.text}"
        mac = hmac.new(LICENSE_SECRET.encode(), answer.content, hashlib.sha256).hexdigest()
        equal(answer.headers.get("X-Ecosire-Signature"), mac, f"{action} answer signature")
        answers.setdefault(action, []).append(answer.json())
    equal((answers["validate"][0]["valid"], answers["validate"][0]["activated"]), (True, False), "first validate")
    equal(answers["activate"][0]["activationsCount"], 1, "activationsCount after activate")
    equal(answers["validate"][1]["activated"], True, "validate after activate")
    equal(answers["deactivate"][0]["activationsCount"], 0, "activationsCount after deactivate")
    # a string that is not digits is still refused, naming the field
    payload = {"key": key, "domain": domain, "timestamp": "soon"}
    refused = requests.post(f"{BASE}/api/licenses/validate", json=payload, timeout=10)
    assert refused.status_code == 400, f"non-digit timestamp: {refused.status_code} {refused.text}"
    equal(refused.json()["details"][0]["field"], "timestamp", "field named by the 400")


def check_license_rejections():
    """wrong signature and a ±10-minute timestamp are 401 INVALID_SIGNATURE; an unknown key is 404"""
    key = new_license()["key"]
    expect(license_call("validate", key, "mysite.com", signature="0" * 64), 401, "INVALID_SIGNATURE")
    for skew in (-600, 600):  # correctly signed, but 10 minutes off the server's clock
        body = {"key": key, "domain": "mysite.com", "timestamp": int(time.time()) + skew}
        expect(license_call("validate", key, "mysite.com", signature=sign_license(body), timestamp=body["timestamp"]),
               401, "INVALID_SIGNATURE")
    equal(expect(license_call("validate", key, "mysite.com"), 200)["valid"], True, "same request, fresh timestamp")
    expect(license_call("activate", key, "mysite.com", signature="f" * 64), 401, "INVALID_SIGNATURE")
    expect(license_call("validate", "SHOP-AAAA-BBBB-CCCC-DDDD", "mysite.com"), 404,
           "LICENSE_NOT_FOUND", "License not found")


def check_concurrent_activations():
    """20 concurrent activations of a 3-seat license: exactly 3 succeed, 17 are 409"""
    lic = new_license()
    domains = [f"site{i:02d}.example.com" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda d: call("POST", "/api/licenses/activate", {"key": lic["key"], "domain": d}), domains))
    statuses = sorted(a.status for a in answers)
    equal((statuses.count(200), statuses.count(409)), (3, 17), f"200s/409s (all: {statuses})")
    for answer in answers:
        if answer.status == 409:
            expect(answer, 409, "ACTIVATION_LIMIT_REACHED", "Activation limit reached")
    equal(expect(as_admin("GET", f"/api/licenses/{lic['id']}"), 200)["activationsCount"], 3, "activationsCount")
    activations = expect(as_admin("GET", f"/api/licenses/{lic['id']}/activations"), 200)
    equal(activations["meta"]["total"], 3, "activations meta.total")
    won = {d for d, a in zip(domains, answers) if a.status == 200}
    equal({a["domain"] for a in activations["data"] if a["active"]}, won, "active activation domains")


def check_checkout():
    """POST /api/billing/checkout sends Stripe the right form and returns its session"""
    FakeStripe.requests.clear()
    body = {"items": [{"productId": ctx["product"], "quantity": 2}],
            "successUrl": "https://shop.example.com/ok", "cancelUrl": "https://shop.example.com/cancel"}
    session = expect(as_admin("POST", "/api/billing/checkout", body), 200)
    assert session["sessionId"].startswith("cs_test_"), f"sessionId {session['sessionId']!r}"
    equal(session["url"], f"https://checkout.stripe.com/c/pay/{session['sessionId']}", "url")
    equal(len(FakeStripe.requests), 1, "requests to Stripe")
    path, auth, pairs = FakeStripe.requests[0]
    form = dict(pairs)
    equal((path, auth), ("/v1/checkout/sessions", f"Bearer {STRIPE_KEY}"), "Stripe path/Authorization")
    wanted = {"mode": "payment", "success_url": body["successUrl"], "cancel_url": body["cancelUrl"],
              "line_items[0][price_data][unit_amount]": str(ctx["price"]), "line_items[0][quantity]": "2",
              "metadata[userId]": ctx["user"]}
    for name, value in wanted.items():
        equal(form.get(name), value, f"form {name}")
    equal(json.loads(form.get("metadata[productIds]", "null")), [ctx["product"]] * 2, "form metadata[productIds]")


def check_checkout_declined():
    """a Stripe 402 becomes a 502 PAYMENT_PROVIDER_ERROR"""
    FakeStripe.failures.append((402, {"error": {"message": "Your card was declined", "type": "card_error"}}))
    body = {"items": [{"productId": ctx["product"], "quantity": 1}],
            "successUrl": "https://shop.example.com/ok", "cancelUrl": "https://shop.example.com/cancel"}
    problem = expect(as_admin("POST", "/api/billing/checkout", body), 502, "PAYMENT_PROVIDER_ERROR")
    assert "Your card was declined" in problem["message"], f"message {problem['message']!r}"
    equal(FakeStripe.failures, [], "unused fake failures")


def check_invoice_pdf():
    """an invoice's PDF shows its number, customer, line and total"""
    contact = expect(as_admin("POST", "/api/contacts", {"name": "Bob Buyer", "email": "bob@example.com"}), 201)
    invoice = expect(as_admin("POST", "/api/invoices", {
        "contactId": contact["id"], "taxRate": 2000,
        "lineItems": [{"description": "Annual license", "quantity": 2, "unitPrice": 12345}]}), 201)
    assert re.match(r"^INV/\d{4}/\d{4}$", invoice["number"]), f"number {invoice['number']!r}"
    equal(invoice["total"], 29628, "total")
    answer = call("GET", f"/api/invoices/{invoice['id']}/pdf", token=ctx["token"])
    assert answer.status == 200, repr(answer)
    equal(answer.headers.get("Content-Type", "").split(";")[0], "application/pdf", "Content-Type")
    assert answer.body.startswith(b"%PDF-"), f"body starts with {answer.body[:8]!r}"
    if shutil.which("pdftotext") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "poppler-utils"], check=True, capture_output=True)
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(answer.body)
        file.flush()
        text = subprocess.run(["pdftotext", "-layout", file.name, "-"], check=True, capture_output=True, text=True).stdout
    for needle in (invoice["number"], "Bob Buyer", "Annual license", "296.28 USD"):
        assert needle in text, f"{needle!r} not in the PDF text:\n{text}"


def check_payment_method():
    """a payment method is saved from Stripe's record of it, once, and can be removed"""
    added = expect(as_admin("POST", "/api/billing/payment-methods", {"paymentMethodId": "pm_card_visa"}), 201)
    equal((added["brand"], added["last4"], added["expMonth"], added["expYear"], added["isDefault"]),
          ("visa", "4242", 12, 2034, True), "saved card")
    assert any(path == "/v1/payment_methods/pm_card_visa" for path, _, _ in FakeStripe.requests), "Stripe was not asked"
    expect(as_admin("POST", "/api/billing/payment-methods", {"paymentMethodId": "pm_card_visa"}), 409)
    methods = expect(as_admin("GET", "/api/billing/payment-methods"), 200)
    equal(len(methods["data"]), 1, "saved methods")
    equal(methods["meta"], {"total": 1, "page": 1, "limit": 20, "totalPages": 1}, "payment methods meta")
    expect(as_admin("DELETE", f"/api/billing/payment-methods/{added['id']}"), 204)
    equal(expect(as_admin("GET", "/api/billing/payment-methods"), 200)["data"], [], "methods after removal")


def serve_fake_stripe(port_file):
    """Only the fake Stripe API, until killed (the schemathesis run points the server at it)."""
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    with open(port_file, "w") as f:
        f.write(str(fake.server_port))
    fake.serve_forever()


CHECKS = [check_setup, check_checkout_webhook, check_replay, check_bad_signatures, check_refund,
          check_license_flow, check_license_guide_client, check_license_rejections, check_concurrent_activations,
          check_checkout, check_checkout_declined, check_payment_method, check_invoice_pdf]


# ---------------------------------------------------------------- main

def main():
    global BASE
    if len(sys.argv) == 3 and sys.argv[1] == "--fake-stripe":
        serve_fake_stripe(sys.argv[2])
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    port = free_port()
    BASE = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATA_DIR=os.path.join(work, "data"), PORT=str(port), BCRYPT_COST="4", LOG_LEVEL="error",
               STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_SECRET_KEY=STRIPE_KEY,
               STRIPE_API_BASE=f"http://127.0.0.1:{fake.server_port}", ECOSIRE_LICENSE_SECRET=LICENSE_SECRET,
               RATE_LIMIT_LICENSE_ACTIVATE="1000", RATE_LIMIT_LICENSE_VALIDATE="1000")
    log = open(os.path.join(work, "server.log"), "wb")
    server = subprocess.Popen([binary, "serve"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    failures = 0
    try:
        try:
            wait_healthy(server, BASE)
        except AssertionError as error:
            raise SystemExit(f"✘ {error}; see {log.name}")
        failures = run_checks(CHECKS)
    finally:
        stopped = server.poll() is None
        stop_process(server, timeout=15)
        fake.shutdown()
        log.close()
    if stopped:
        name = "the server stops on SIGTERM with exit status 0"
        if server.returncode == 0:
            print(f"✔ {name}")
        else:
            failures += 1
            print(f"✘ {name}: exit status {server.returncode} (killed if it outlived 15 s); see {log.name}")
    sys.exit(failures)


if __name__ == "__main__":
    main()
