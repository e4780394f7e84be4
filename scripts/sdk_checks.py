#!/usr/bin/env python3
"""The TypeScript SDK's checks: `deno check` under the package's strict settings, `deno lint` and
`deno fmt --check` (generated code excluded), then its test suite (sdk/typescript/test) against the
real binary.

usage: sdk_checks.py BIN WORKDIR [--postgres URL]

The server runs with short windows so that the tests meet real limits quickly: access tokens live
3 s (refresh), license validation allows 3 calls per 2-second window (429 and Retry-After), and
webhook endpoints may point at loopback (deliveries to the tests' own receiver). Prints one ✔/✘
line per check and per Deno test; the exit status is the number of failures.
"""
import os
import re
import secrets
import shutil
import subprocess
import sys

from checklib import log_tail, serving

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SDK = os.path.join(ROOT, "sdk", "typescript")
RESULT = re.compile(r"^(.+?) \.\.\. (ok|FAILED)")


def run(command, env=None):
    return subprocess.run(command, cwd=SDK, env=env, capture_output=True, text=True)


def main():
    binary, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures = 0
    deno = shutil.which("deno")
    if deno is None:
        print("✘ deno is installed (pip install deno)")
        return 1

    for command, what in (
        ([deno, "check", "src/mod.ts", "test/"], "the TypeScript SDK type-checks under strict settings (deno check)"),
        ([deno, "lint"], "the TypeScript SDK passes deno lint"),
        ([deno, "fmt", "--check"], "the TypeScript SDK is formatted (deno fmt)"),
    ):
        result = run(command)
        print(("✔ " if result.returncode == 0 else "✘ ") + what)
        if result.returncode != 0:
            failures += 1
            print(result.stdout + result.stderr)

    license_secret = secrets.token_urlsafe(32)
    env = dict(
        ACCESS_TOKEN_TTL="3",
        RATE_LIMIT_WINDOW="2",
        RATE_LIMIT_LICENSE_VALIDATE="3",
        WEBHOOK_ALLOW_PRIVATE_URLS="true",
        WEBHOOK_POLL_MILLIS="50",
        ECOSIRE_LICENSE_SECRET=license_secret,
    )
    if "--postgres" in sys.argv:
        env["DATABASE_URL"] = sys.argv[sys.argv.index("--postgres") + 1]
    with serving(binary, work, env, drop=("RATE_LIMIT_", "QUOTA_", "WEBHOOK_", "SMTP_")) as (base, log_path):
        tests = run(
            [deno, "test", "--allow-net=127.0.0.1", "--allow-env", "--no-check", "test/"],
            env=dict(os.environ, ECOSIRE_BASE_URL=base + "/api", ECOSIRE_LICENSE_SECRET=license_secret, NO_COLOR="1"),
        )
    failures += curl_snippets(binary, work)
    output = tests.stdout + tests.stderr
    results = [RESULT.match(line) for line in output.splitlines()]
    results = [match for match in results if match]
    for match in results:
        ok = match.group(2) == "ok"
        failures += 0 if ok else 1
        print(("✔ " if ok else "✘ ") + "TypeScript SDK: " + match.group(1).strip())
    if tests.returncode != 0 or not results:
        if not results:
            failures += 1
            print("✘ the TypeScript SDK's tests ran")
        print(output[-6000:])
        print(log_tail(log_path, 40))
    return failures


def curl_snippets(binary, work):
    """Runs sdk/curl/snippets_test.sh (the README's and the portal's curl snippets) against a server
    with the default token lifetime and limits; returns 0 or 1."""
    script = os.path.join(os.path.dirname(SDK), "curl", "snippets_test.sh")
    with serving(binary, os.path.join(work, "curl"), {"WEBHOOK_ALLOW_PRIVATE_URLS": "true"},
                 drop=("RATE_LIMIT_", "QUOTA_", "WEBHOOK_", "SMTP_", "ACCESS_TOKEN_")) as (base, log_path):
        result = subprocess.run(["bash", script], env=dict(os.environ, BASE_URL=base, PUBLIC_URL="http://127.0.0.1:9"),
                                capture_output=True, text=True, timeout=120)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith(("✔", "✘"))]
    if result.returncode == 0 and lines:
        print(lines[-1])
        return 0
    print("✘ curl snippets: " + (lines[-1] if lines else f"exit {result.returncode}"))
    print(result.stderr[-3000:])
    print(log_tail(log_path, 20))
    return 1


if __name__ == "__main__":
    sys.exit(main())
