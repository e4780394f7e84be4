#!/usr/bin/env python3
"""The server's web pages in a real browser: Debian's Chromium, headless, driven by Selenium.

usage: browser_checks.py BIN WORKDIR

Starts the binary (with a local webhook receiver) and goes through the dashboard as a user would:
signs in, creates an API key and reads its shown-once secret, uses it with curl, reads its usage
chart and audit log, revokes it and sees curl refused, rotates another key, adds a webhook endpoint
and sees a test delivery in its log, runs the portal's signed cURL command and checks the delivery
with the Standard Webhooks library and with the portal's verifier, reads the licenses page, and signs
out. It sends a request from the API reference's Try it form, with the session and with a pasted
key, and sees /docs point at that reference when Swagger UI's CDN cannot be reached (the browser
resolves no host but the server's). Then it opens every page at 375 px and 1440 px wide, saves a screenshot of each under
WORKDIR/screenshots, and checks that the page does not overflow sideways, that its text meets WCAG
AA contrast, and that the browser logs no console errors (a CSP violation is one); and that pages
read, and forms post, with JavaScript off. Prints one ✔/✘ line per check; the exit status is the
number of failures.
"""
import http.server
import os
import shutil
import subprocess
import sys
import threading
import uuid

from checklib import expect, log_tail, poll, read_body, request, run_checks, serving

WIDTHS = (375, 1440)
PASSWORD = "correct horse battery staple"

# Every text element's contrast against the background it is drawn on (the first opaque one up the
# tree): at least 4.5:1, or 3:1 for large text (24px, or 18.66px bold). Returns the failures.
CONTRAST_SCRIPT = """
function channel(c) { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
function luminance(rgb) { return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]); }
function parse(color) { const m = color.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; }
function background(element) {
  for (let node = element; node; node = node.parentElement) {
    const color = parse(getComputedStyle(node).backgroundColor);
    if (color[3] > 0.5) return color;
  }
  return [255, 255, 255, 1];
}
const failures = [];
for (const element of document.querySelectorAll("body *")) {
  const own = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !element.getClientRects().length) continue;
  const style = getComputedStyle(element);
  if (style.visibility === "hidden" || element.closest("svg")) continue;
  const fg = parse(style.color), bg = background(element);
  const l1 = luminance(fg), l2 = luminance(bg);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
  const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) failures.push(element.tagName + " '" + element.textContent.trim().slice(0, 30) + "' " + ratio.toFixed(2));
}
return failures;
"""


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook endpoint that answers 204 and keeps what it received."""
    received = []

    def do_POST(self):
        body = read_body(self)
        Receiver.received.append({"headers": dict(self.headers.items()), "body": body.decode()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def browser(javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    # No network beyond the server: every other host name fails to resolve (the CDN included).
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def main():
    binary, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    shots = os.path.join(work, "screenshots")
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots, exist_ok=True)
    log_path = os.path.join(work, "server.log")
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {"RATE_LIMIT_SUPPORT": "7", "WEBHOOK_ALLOW_PRIVATE_URLS": "true", "USAGE_FLUSH_MILLIS": "200"}
    try:
        with serving(binary, work, env, drop=("RATE_LIMIT_", "DATABASE_", "WEBHOOK_")) as (base, log_path):
            return check_pages(base, shots, f"http://127.0.0.1:{receiver.server_address[1]}")
    except Exception as error:  # the browser or server did not start
        print(f"✘ browser checks could not run: {error}")
        print(log_tail(log_path, 30))
        return 1
    finally:
        receiver.shutdown()


def check_pages(base, shots, receiver_url):
    """Runs the checks against the server at `base`; returns the number of failures."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
    owner = expect(request(base + "/api/auth/register", "POST", {"email": email, "password": PASSWORD, "name": "Grace Hopper"}), 201)
    token = owner["token"]
    state = {}
    driver = browser()

    def find(selector):
        return driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(selector):
        return driver.find_elements(By.CSS_SELECTOR, selector)

    def path():
        return driver.current_url.removeprefix(base)

    def submit(selector):
        """Clicks a submit button or link and waits for the page it leads to: a new document
        (without the marker the old one carries) that has finished loading. Watching the old
        <html> element go stale instead fails now and then: while the old document is torn
        down, chromedriver answers "Node with given id does not belong to the document"."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        driver.execute_script("window.ecosireOldPage = true")
        target = find(selector) if isinstance(selector, str) else selector
        target.click()
        WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return window.ecosireOldPage === undefined && document.readyState === 'complete'"))

    def console_errors():
        return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

    def curl_status(secret):
        result = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Authorization: Bearer {secret}", base + "/api/contacts"],
            capture_output=True, text=True, timeout=30)
        return result.stdout

    def sign_in(email_address=email):
        driver.get(base + "/dashboard")
        assert path().startswith("/dashboard/login"), path()
        find("#email").send_keys(email_address)
        find("#password").send_keys(PASSWORD)
        submit("form.stack button[type=submit]")

    def signs_in():
        """sign in: /dashboard sends a visitor to the sign-in form, which opens the API keys page"""
        driver.get(base + "/dashboard/login")
        find("#email").send_keys(email)
        find("#password").send_keys("wrong password")
        submit("form.stack button[type=submit]")
        assert "Invalid email or password" in find("#sign-in-error").text, find("main").text
        sign_in()
        assert path() == "/dashboard/api-keys", path()
        assert email in find("nav.dash .who").text, find("nav.dash").text
        cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
        assert cookies["ecosire_auth"]["httpOnly"] and cookies["ecosire_refresh"]["httpOnly"], cookies

    def creates_key():
        """create an API key (name, scope, environment, expiry): the secret is shown once with a copy button"""
        find("#key-name").send_keys("Browser key")
        Select(find("#key-scope")).select_by_value("read_write")
        Select(find("#key-environment")).select_by_value("live")
        driver.execute_script("document.getElementById('key-expiry').value = '2030-01-31'")
        submit("#create-key button[type=submit]")
        secret = find("#secret-value").text
        assert secret.startswith("ecos_live_"), secret
        assert "shown only this once" in find("#secret-panel .warning").text
        assert find("#secret-panel button.copy").is_displayed(), "the copy button is hidden"
        row = find("#api-keys tbody tr")
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert cells[0] == "Browser key" and cells[1] == secret[:12] + "…", cells
        assert cells[2] == "read_write · live" and cells[4].startswith("2030-01-31") and cells[5] == "Never", cells
        state["key"], state["key_id"] = secret, row.get_attribute("data-key-id")
        driver.get(base + "/dashboard/api-keys")
        assert not find_all("#secret-panel") and secret not in driver.page_source, "the secret is shown again"

    def key_works_with_curl():
        """the shown secret works with curl"""
        assert curl_status(state["key"]) == "200"

    def usage_page():
        """the key's usage page: an SVG chart of requests and errors per day and the audit log"""
        def audited():
            # The page reads usage and the audit log with two API calls; a flush can land between
            # them, so wait until both show the request.
            driver.get(f"{base}/dashboard/api-keys/{state['key_id']}")
            counted = "1 in all" in find("#usage-totals").text
            return find_all("#audit-log tbody tr") if counted else []
        rows = poll(audited, 10, "the request in the usage totals and the audit log")
        assert "GET /api/contacts" in rows[0].text and "200" in rows[0].text, rows[0].text
        bars = find_all("svg.chart rect.requests")
        assert len(bars) == 30, f"{len(bars)} bars"
        titles = [bar.find_element(By.XPATH, "..").find_element(By.TAG_NAME, "title").get_attribute("textContent") for bar in bars]
        assert titles[-1].endswith(": 1 request, 0 errors"), titles[-1]
        assert ": 1 in all, 0 of them errors" in find("#usage-totals").text, find("#usage-totals").text

    def revokes_key():
        """revoke after a confirmation: the key is marked revoked and curl is refused with 401"""
        driver.get(base + "/dashboard/api-keys")
        submit(f"tr[data-key-id='{state['key_id']}'] a.danger-link")
        assert path() == f"/dashboard/api-keys/{state['key_id']}/revoke", path()
        assert "fail with 401" in find("main").text
        submit("#confirm-revoke button[type=submit]")
        assert "was revoked" in find(".notice").text
        assert "Revoked" in find(f"tr[data-key-id='{state['key_id']}']").text
        assert curl_status(state["key"]) == "401"

    def rotates_key():
        """rotate a key: a new secret is shown once and both work during the overlap"""
        find("#key-name").send_keys("Rotated key")
        submit("#create-key button[type=submit]")
        first = find("#secret-value").text
        row = [r for r in find_all("#api-keys tbody tr") if "Rotated key" in r.text and "Active" in r.text][0]
        state["active_key_id"] = row.get_attribute("data-key-id")
        submit(row.find_element(By.CSS_SELECTOR, "form button"))
        second = find("#secret-value").text
        assert second.startswith("ecos_live_") and second != first, (first, second)
        state["rotated_key"] = second
        assert "keeps working for 24 hours" in find("#secret-panel").text
        assert curl_status(first) == "200" and curl_status(second) == "200"

    def webhook_test_delivery():
        """create a webhook endpoint (secret shown once), see a test delivery appear in its log, and resend it"""
        driver.get(base + "/dashboard/webhooks")
        find("#endpoint-url").send_keys(receiver_url + "/hooks/ecosire")
        find("#endpoint-description").send_keys("Browser receiver")
        find("input[name='events[]'][value='contact.created']").click()
        find("input[name='events[]'][value='license.activated']").click()
        submit("#create-endpoint button[type=submit]")
        secret = find("#secret-value").text
        assert secret.startswith("whsec_"), secret
        state["webhook_secret"] = secret
        state["endpoint_id"] = path().split("/")[3].split("?")[0] if path().startswith("/dashboard/webhooks/") else None
        if not state["endpoint_id"]:
            state["endpoint_id"] = find("#send-test").get_attribute("action").split("/")[-2]
        Select(find("#test-type")).select_by_value("contact.created")
        submit("#send-test button[type=submit]")
        assert "test event was queued" in find(".notice").text

        def delivered():
            driver.refresh()
            rows = [row for row in find_all("#deliveries tbody tr") if "contact.created" in row.text]
            return rows and rows[0].find_element(By.CSS_SELECTOR, ".response-code").text == "204" and rows[0]
        row = poll(delivered, 20, "a delivery answered 204 in the log")
        assert "test" in row.text and "succeeded" in row.text, row.text
        assert Receiver.received and Receiver.received[-1]["headers"].get("X-Ecosire-Event") == "contact.created"
        count = len(Receiver.received)
        submit(row.find_element(By.CSS_SELECTOR, "form button"))
        assert "queued again" in find(".notice").text, find("main").text
        poll(lambda: len(Receiver.received) > count, 20, "the resent delivery at the receiver")

    def disables_endpoint():
        """disable and enable the endpoint; edit its events"""
        driver.get(f"{base}/dashboard/webhooks/{state['endpoint_id']}")
        submit("form[action$='/status'] button")
        assert "was disabled" in find(".notice").text and "Disabled" in find("main").text
        submit("form[action$='/status'] button")
        assert "was enabled" in find(".notice").text
        find("#edit-endpoint input[name='events[]'][value='license.activated']").click()
        submit("#edit-endpoint button[type=submit]")
        assert "was saved" in find(".notice").text
        driver.get(base + "/dashboard/webhooks")
        assert "contact.created" in find("#endpoints").text and "license.activated" not in find("#endpoints").text

    def signed_curl_and_verifier():
        """the portal's signed cURL reaches the endpoint and verifies (standardwebhooks, then the portal's verifier)"""
        from standardwebhooks.webhooks import Webhook

        driver.get(f"{base}/developers?event=contact.created&endpoint={state['endpoint_id']}#events")
        assert '"type": "contact.created"' in find("#event-example").text
        command = find("#curl-command").text
        count = len(Receiver.received)
        subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=30)
        delivery = Receiver.received[count]
        headers = {name.lower(): value for name, value in delivery["headers"].items()}
        Webhook(state["webhook_secret"]).verify(delivery["body"], headers)
        signature_lines = "\n".join(f"{name}: {headers[name.lower()]}" for name in
                                    ("X-Ecosire-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"))

        def verify(payload):
            driver.get(base + "/developers#verifier")
            driver.execute_script(
                "document.getElementById('verify-payload').value = arguments[0];"
                "document.getElementById('verify-headers').value = arguments[1];", payload, signature_lines)
            find("#verify-secret").send_keys(state["webhook_secret"])
            submit("#verify-form button[type=submit]")
            return find("#verify-result").text
        assert verify(delivery["body"]).startswith("Valid"), find("#verify-result").text
        result = verify(delivery["body"] + " ")
        assert result.startswith("Not valid") and "No v1 signature matches" in result, result

    def licenses_page():
        """the licenses page lists the caller's licenses and their activations"""
        product = expect(request(base + "/api/products", "POST", {
            "name": "Odoo CRM Connector", "sku": f"SKU-{uuid.uuid4().hex[:8]}", "price": 24900, "type": "digital",
            "licensePolicy": {"prefix": "SHOP", "activationsLimit": 3, "durationDays": 365, "updatesMonths": 12}}, token=token), 201)
        license = expect(request(base + "/api/licenses", "POST", {"productId": product["id"]}, token=token), 201)
        expect(request(base + "/api/licenses/activate", "POST", {"key": license["key"], "domain": "shop.example.com"}), 200)
        driver.get(base + "/dashboard/licenses")
        card = find(f"article[data-license-id='{license['id']}']")
        assert license["key"] in card.text and "1 of 3 activations" in card.text, card.text
        assert "shop.example.com" in card.text and "Active" in card.text, card.text

    def try_it(operation, fill):
        """Opens the operation's reference page, fills its Try it form and sends it; the answer shown."""
        driver.get(f"{base}/docs/reference/{operation}")
        fill()
        find("#try-send").click()
        poll(lambda: find("#try-status").text not in ("", "…"), 15, "the answer in the Try it form")
        return find("#try-status").text, find("#try-response").text

    def reference_try_it_with_session():
        """the API reference's Try it form posts createContact with the dashboard session (cookie and CSRF token): 201 shown, the contact exists"""
        name = f"Tried {uuid.uuid4().hex[:8]}"

        def fill():
            body = find("#try-body")
            body.clear()
            body.send_keys('{"name": "%s", "email": "tried@example.com"}' % name)
        status, answer = try_it("createContact", fill)
        assert status.startswith("201"), (status, answer)
        listed = expect(request(base + "/api/contacts?search=" + name.replace(" ", "%20"), "GET", token=token), 200)
        assert [c["name"] for c in listed["data"]] == [name], listed

    def reference_try_it_with_key():
        """the Try it form sends a pasted API key (signed out: listContacts 200 with the key, 401 problem without)"""
        driver.delete_all_cookies()
        status, answer = try_it("listContacts", lambda: None)
        assert status.startswith("401") and "application/problem+json" in find("#try-headers").text, (status, answer)
        status, answer = try_it("listContacts", lambda: find("#try-key").send_keys(state["rotated_key"]))
        assert status.startswith("200") and '"data"' in answer, (status, answer)
        sign_in()
        assert path() == "/dashboard/api-keys", path()

    def docs_without_cdn():
        """/docs with Swagger UI's CDN unreachable: the page points at the built-in API reference, which opens"""
        driver.get(base + "/docs")
        poll(lambda: driver.execute_script("return document.readyState") == "complete", 15, "the page loaded")
        assert driver.execute_script("return typeof SwaggerUIBundle") == "undefined", "Swagger UI loaded: the CDN was reachable"
        link = poll(lambda: [a for a in find_all("#swagger-ui a[href='/docs/reference']") if a.is_displayed()], 15,
                    "a visible link to /docs/reference")[0]
        submit(link)
        assert path() == "/docs/reference" and find("h1").text == "API reference", path()
        assert len(find_all(".ref-operations li")) > 100, f"{len(find_all('.ref-operations li'))} operations listed"

    failures = run_checks([
        signs_in, creates_key, key_works_with_curl, usage_page, revokes_key, rotates_key, webhook_test_delivery,
        disables_endpoint, signed_curl_and_verifier, licenses_page, reference_try_it_with_session, reference_try_it_with_key,
        docs_without_cdn,
    ])

    pages = [
        "/developers", "/status", "/dashboard/api-keys", f"/dashboard/api-keys/{state.get('active_key_id')}",
        f"/dashboard/api-keys/{state.get('active_key_id')}/revoke", "/dashboard/webhooks", f"/dashboard/webhooks/{state.get('endpoint_id')}",
        "/dashboard/licenses", "/docs/reference", "/docs/reference/createContact", "/docs/reference/schemas/Contact",
    ]

    def page_at(page, width):
        def check():
            driver.get_log("browser")
            driver.set_window_size(width, 900)
            driver.get(base + page)
            assert path().split("#")[0] == page, f"ended at {path()}"
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(max(height, 900), 12000))
            name = page.strip("/").replace("/", "-") or "home"
            if state.get("active_key_id"):
                name = name.replace(state["active_key_id"], "key")
            if state.get("endpoint_id"):
                name = name.replace(state["endpoint_id"], "endpoint")
            driver.save_screenshot(os.path.join(shots, f"{name}-{width}.png"))
            overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"the page is {overflow}px wider than the {width}px window"
            low = driver.execute_script(CONTRAST_SCRIPT)
            assert not low, f"text below WCAG AA contrast: {low[:5]}"
            errors = console_errors()
            assert not errors, errors
        check.__doc__ = f"{page} at {width}px: screenshot, no sideways scrolling, AA contrast, no console errors"
        return check

    def portal_content():
        """/developers: six operations in Swift, TypeScript and cURL; the rate limits this server is configured with"""
        driver.get(base + "/developers")
        titles = [h.text for h in find_all("article.snippet h3")]
        assert titles == [
            "1. Authenticate", "2. List contacts with paging", "3. Create an API key", "4. Validate and activate a license",
            "5. Create and verify a webhook endpoint", "6. Handle errors and rate limits",
        ], titles
        summaries = [s.get_attribute("textContent") for s in find_all("#authenticate summary")]
        assert summaries == ["TypeScript", "Swift", "cURL"], summaries
        assert "client.auth.login({ email, password })" in find("#authenticate details[open] code").text
        rows = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
                for r in find_all("#limits ~ .table tbody tr")}
        assert rows.get("POST /api/support") == "7", rows
        assert rows.get("any other authenticated endpoint") == "100", rows
        assert find("a[href='/docs']").is_displayed()

    def signs_out():
        """sign out: back at the sign-in page, and the dashboard asks to sign in again"""
        driver.get(base + "/dashboard/api-keys")
        submit("nav.dash .signout button")
        assert path().startswith("/dashboard/login") and "signed out" in find(".notice").text, path()
        driver.get(base + "/dashboard/webhooks")
        assert path().startswith("/dashboard/login"), path()

    def asks_for_reset_link():
        """forgotten password: the sign-in page links to a form that asks for a reset link and says one is on its way, whatever the address"""
        driver.get(base + "/dashboard/login")
        find("a[href='/dashboard/forgot-password']").click()
        assert path() == "/dashboard/forgot-password", path()
        find("#email").send_keys("nobody-here@example.com")
        submit("form.stack button[type=submit]")
        assert "If an account uses this address" in find("#reset-sent").text, find("main").text

    signed_out_pages = ["/dashboard/login", "/dashboard/forgot-password", "/dashboard/reset-password"]
    failures += run_checks(
        [page_at(page, width) for page in pages for width in WIDTHS] + [portal_content, signs_out, asks_for_reset_link]
        + [page_at(page, width) for page in signed_out_pages for width in WIDTHS])
    driver.quit()
    driver = browser(javascript=False)

    def readable_without_javascript():
        """without JavaScript: the portal reads, sign-in and forms post, secrets show (copy button stays hidden)"""
        driver.get(base + "/developers")
        assert len(find_all("article.snippet pre code")) == 18, f"{len(find_all('article.snippet pre code'))} code blocks"
        assert find("#error-INVALID_STATE").text.startswith("INVALID_STATE 409")
        sign_in()
        assert path() == "/dashboard/api-keys", path()
        find("#key-name").send_keys("No-script key")
        submit("#create-key button[type=submit]")
        assert find("#secret-value").text.startswith("ecos_live_")
        assert not find("#secret-panel button.copy").is_displayed(), "a copy button that cannot work is shown"
        driver.get(base + "/dashboard/webhooks")
        assert "Browser receiver" in find("#endpoints").text

    def reference_without_javascript():
        """without JavaScript: the API reference reads (operations, fields, samples) and its Try it button stays disabled"""
        driver.get(base + "/docs/reference")
        assert len(find_all(".ref-operations li")) > 100
        driver.get(base + "/docs/reference/createContact")
        assert find("h1").text and "POST" in find(".ref-endpoint").text, find("main").text[:200]
        assert "curl" in find("#sample-curl").get_attribute("textContent")
        assert find_all("table.ref-fields"), "no field table"
        assert not find("#try-send").is_enabled(), "a Try it button that cannot work is enabled"

    failures += run_checks([readable_without_javascript, reference_without_javascript])
    driver.quit()
    print(f"    screenshots in {shots}")
    return failures


if __name__ == "__main__":
    sys.exit(main())
