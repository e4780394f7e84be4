#!/usr/bin/env bash
# End-to-end checks against the real binary: migrate, create-admin, serve with no configuration
# beyond a data directory, the portal's login example sent verbatim, and graceful shutdown.
#   scripts/e2e.sh BIN_DIR WORK_DIR   (prints one ✔/✘ line per check; exit status = failures)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$1" && pwd)/ecosire
work=$2
mkdir -p "$work" && cd "$work"
failures=0
check() { if [ "$2" = 0 ]; then echo "✔ $1"; else echo "✘ $1"; failures=$((failures + 1)); fi; }

"$bin" migrate >migrate.log 2>&1 && grep -q "Applied" migrate.log
check "ecosire migrate applies the migrations into ./data" $?
"$bin" migrate 2>&1 | grep -q "up to date"
check "ecosire migrate is idempotent" $?
ECOSIRE_ADMIN_PASSWORD=admin-password-1 "$bin" create-admin --email admin@example.com >admin.log 2>&1 && grep -q "Created owner admin@example.com" admin.log
check "ecosire create-admin creates an owner" $?
"$bin" openapi | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["openapi"]=="3.0.3"'
check "ecosire openapi prints the document" $?

port=$("$here/free-port")
# Usage is written only every 10 minutes here, so what the database holds after SIGTERM was
# written by the shutdown flush.
USAGE_FLUSH_MILLIS=600000 "$bin" serve --port "$port" >serve.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
grep -q "http://127.0.0.1:$port" serve.log
check "ecosire serve prints its URL" $?
[ -f data/ecosire.sqlite ] && [ -f data/jwt-ed25519.pem ] && [ "$(stat -c %a data/jwt-ed25519.pem)" = 600 ]
check "SQLite database and a 0600 signing key are created under ./data" $?

# The developer portal's example, verbatim but for the base URL.
status=$(curl -s -o verbatim.json -w '%{http_code}' -X POST \
"http://127.0.0.1:$port/api/auth/login" \
-H "Content-Type: application/json" \
-d '{ "email": "[email protected]", "password": "secret" }')
[ "$status" = 401 ] && python3 -c 'import json; d=json.load(open("verbatim.json")); assert d["code"]=="INVALID_CREDENTIALS" and d["statusCode"]==401'
check "the portal's curl login example is answered (401 problem for an unknown account)" $?
status=$(curl -s -o admin.json -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/auth/login" \
  -H "Content-Type: application/json" -d '{ "email": "admin@example.com", "password": "admin-password-1" }')
[ "$status" = 200 ] && python3 -c 'import json; d=json.load(open("admin.json")); assert d["token"] and d["user"]["role"]=="owner"'
check "the same request shape signs the created admin in" $?
! grep -q "admin-password-1" serve.log && ! grep -q "$(python3 -c 'import json; print(json.load(open("admin.json"))["refreshToken"])')" serve.log
check "no password or token appears in the server log" $?

# The Eazip reference's API-key calls, verbatim but for the base URL, with an admin-scoped key as
# YOUR_API_KEY (made with the admin's session).
YOUR_API_KEY=$(curl -sf -X POST "http://127.0.0.1:$port/api/api-keys" -H "Authorization: Bearer $(python3 -c 'import json; print(json.load(open("admin.json"))["token"])')" \
  -H 'Content-Type: application/json' -d '{"scope":"admin"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"]["key"])')
curl -s http://127.0.0.1:$port/api/api-keys \
-H "Authorization: Bearer $YOUR_API_KEY" >eazip-list.json
curl -s -X POST http://127.0.0.1:$port/api/api-keys \
-H "Authorization: Bearer $YOUR_API_KEY" \
-H "Content-Type: application/json" \
-d '{
"name": "CI/CD Pipeline",
"expires_at": "2099-12-31T23:59:59Z"
}' >eazip-create.json
created_id=$(python3 -c 'import json; print(json.load(open("eazip-create.json"))["api_key"]["id"])')
curl -s -X DELETE http://127.0.0.1:$port/api/api-keys/$created_id \
-H "Authorization: Bearer $YOUR_API_KEY" >eazip-delete.json
python3 - <<'PY'
import json
listed = json.load(open("eazip-list.json"))
assert listed["success"] is True and isinstance(listed["api_keys"], list) and all("key" not in k for k in listed["api_keys"])
created = json.load(open("eazip-create.json"))
key = created["api_key"]
assert created["success"] is True and key["name"] == "CI/CD Pipeline" and key["key"].startswith("ecos_live_")
assert key["expires_at"] == "2099-12-31T23:59:59.000Z" and key["last_used_at"] is None
assert json.load(open("eazip-delete.json")) == {"success": True, "message": "API key revoked"}
PY
check "the Eazip API-key calls (list, create, delete) work verbatim" $?

# Graceful shutdown: a slow in-flight request (a bcrypt login) finishes after SIGTERM.
curl -s -o inflight.json -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/auth/login" -H "Content-Type: application/json" \
  -d '{ "email": "admin@example.com", "password": "admin-password-1" }' >inflight.status &
curl_pid=$!
sleep 0.1
kill -TERM "$pid"
wait "$curl_pid"
wait "$pid"
code=$?
[ "$code" = 0 ] && [ "$(cat inflight.status)" = 200 ]
check "SIGTERM drains in-flight requests and exits 0" $?
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("data/ecosire.sqlite")
requests, = db.execute("SELECT COALESCE(SUM(requests), 0) FROM api_key_usage").fetchone()
audited, = db.execute("SELECT COUNT(*) FROM api_key_audit").fetchone()
assert requests == 3 and audited == 3, (requests, audited)
PY
check "API-key usage counted in memory is written on a clean shutdown" $?
exit "$failures"
