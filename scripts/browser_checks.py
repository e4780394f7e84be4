#!/usr/bin/env python3
"""The server's web pages in a real browser: Debian's Chromium, headless, driven by Selenium.

usage: browser_checks.py BIN WORKDIR

Starts the binary, opens each page at 375 px and 1440 px wide, saves a screenshot of each under
WORKDIR/screenshots, and checks what a reader needs: the content is there without JavaScript, the
page does not overflow sideways on a phone, and the browser logs no console errors (a CSP violation
is one). Prints one ✔/✘ line per check; the exit status is the number of failures.
"""
import os
import shutil
import sys

from checklib import log_tail, run_checks, serving

WIDTHS = (375, 1440)


def browser(javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def main():
    binary, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    shots = os.path.join(work, "screenshots")
    os.makedirs(shots, exist_ok=True)
    log_path = os.path.join(work, "server.log")
    try:
        with serving(binary, work, {"RATE_LIMIT_SUPPORT": "7"}, drop=("RATE_LIMIT_", "DATABASE_")) as (base, log_path):
            return check_pages(base, shots)
    except Exception as error:  # the browser or server did not start
        print(f"✘ browser checks could not run: {error}")
        print(log_tail(log_path, 30))
        return 1


def check_pages(base, shots):
    """Runs the page checks against the server at `base`; returns the number of failures."""
    driver = None
    try:
        driver = browser()
        from selenium.webdriver.common.by import By

        def open_page(path, width):
            driver.set_window_size(width, 900)
            driver.get(base + path)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(max(height, 900), 12000))
            driver.save_screenshot(os.path.join(shots, f"{path.strip('/').replace('/', '-') or 'home'}-{width}.png"))

        def console_errors():
            return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

        def portal_at(width):
            def check():
                open_page("/developers", width)
                titles = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "article.snippet h3")]
                assert titles == [
                    "1. Authenticate", "2. List contacts with paging", "3. Create an API key",
                    "4. Validate and activate a license", "5. Create and verify a webhook endpoint",
                    "6. Handle errors and rate limits",
                ], titles
                first = driver.find_element(By.CSS_SELECTOR, "#authenticate details[open] code").text
                assert "client.auth.login({ email, password })" in first, first
                overflow = driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"the page is {overflow}px wider than the {width}px window"
                errors = console_errors()
                assert not errors, errors
            check.__doc__ = f"/developers at {width}px: six snippets, no sideways scrolling, no console errors"
            return check

        def limits_from_configuration():
            """/developers shows the rate limits this server is configured with"""
            driver.get(base + "/developers")
            rows = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
                    for r in driver.find_elements(By.CSS_SELECTOR, "#limits + p + .table tbody tr")}
            assert rows.get("POST /api/support") == "7", rows
            assert rows.get("any other authenticated endpoint") == "100", rows

        def status_at(width):
            def check():
                open_page("/status", width)
                banner = driver.find_element(By.CSS_SELECTOR, ".status-banner").text
                assert banner == "All systems operational", banner
                rows = [th.text for th in driver.find_elements(By.CSS_SELECTOR, ".status-components th[scope=row]")]
                assert rows == ["API", "Database", "Webhook delivery", "Email delivery"], rows
                overflow = driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"the page is {overflow}px wider than the {width}px window"
                errors = console_errors()
                assert not errors, errors
            check.__doc__ = f"/status at {width}px: every component, no sideways scrolling, no console errors"
            return check

        failures = run_checks(
            [portal_at(width) for width in WIDTHS] + [limits_from_configuration] + [status_at(width) for width in WIDTHS])
        driver.quit()
        driver = browser(javascript=False)

        def readable_without_javascript():
            """/developers is readable without JavaScript"""
            driver.get(base + "/developers")
            codes = driver.find_elements(By.CSS_SELECTOR, "article.snippet pre code")
            assert len(codes) == 12, f"{len(codes)} code blocks"
            reference = driver.find_element(By.ID, "error-INVALID_STATE").text
            assert reference.startswith("INVALID_STATE 409"), reference
        failures += run_checks([readable_without_javascript])
        print(f"    screenshots in {shots}")
        return failures
    finally:
        if driver is not None:
            driver.quit()


if __name__ == "__main__":
    sys.exit(main())
