#!/usr/bin/env bash
# The six common operations with curl, as the README and the developer portal show them. The lines
# between `# snippet:NAME` and `# end-snippet` are copied verbatim by scripts/snippets.py; this
# script runs them against a live server and checks their results after each block.
#
# usage: BASE_URL=http://127.0.0.1:8080 PUBLIC_URL=http://127.0.0.1:9 sdk/curl/snippets_test.sh
# (PUBLIC_URL receives webhook deliveries; the server must allow private webhook URLs for a local one.)
set -euo pipefail
: "${BASE_URL:?BASE_URL is required}" "${PUBLIC_URL:?PUBLIC_URL is required}"

passed=0
check() { # check NAME ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then echo "✘ curl snippet $1: expected '$3', got '$2'" >&2; exit 1; fi
  passed=$((passed + 1))
}

EMAIL="curl-$(date +%s%N)@example.com"
PASSWORD="correct horse battery staple"
curl -sS --fail-with-body -o /dev/null -X POST "$BASE_URL/api/auth/register" -H "Content-Type: application/json" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\", \"name\": \"Curl Example\"}"

# snippet:authenticate
# Log in: the answer carries a JWT (`token`, valid 15 minutes) and a single-use `refreshToken`.
TOKEN=$(curl -sS --fail-with-body -X POST "$BASE_URL/api/auth/login" \
  -H "Content-Type: application/json" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}" | jq -r .token)

# Every other call carries it as a bearer token.
curl -sS --fail-with-body "$BASE_URL/api/users/me" -H "Authorization: Bearer $TOKEN"
# end-snippet
check authenticate "$(curl -sS "$BASE_URL/api/users/me" -H "Authorization: Bearer $TOKEN" | jq -r .email)" "$EMAIL"

for name in Ada Grace Alan Edsger Barbara; do
  curl -sS --fail-with-body -o /dev/null -X POST "$BASE_URL/api/contacts" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" -d "{\"name\": \"$name\"}"
done
# snippet:list-contacts
# One page: `data` holds the contacts, `meta` the total and the page count.
curl -sS --fail-with-body "$BASE_URL/api/contacts?page=1&limit=2&sortBy=name&sortOrder=asc" \
  -H "Authorization: Bearer $TOKEN" | jq '{names: [.data[].name], meta}'

# Every page: follow meta.totalPages.
page=1
while :; do
  body=$(curl -sS --fail-with-body "$BASE_URL/api/contacts?page=$page&limit=2&sortBy=name&sortOrder=asc" \
    -H "Authorization: Bearer $TOKEN")
  echo "$body" | jq -r '.data[].name'
  [ "$page" -ge "$(echo "$body" | jq .meta.totalPages)" ] && break
  page=$((page + 1))
done
# end-snippet
check list-contacts "$(curl -sS "$BASE_URL/api/contacts?page=3&limit=2&sortBy=name&sortOrder=asc" -H "Authorization: Bearer $TOKEN" | jq -r '[.data[].name] | join(",")')" "Grace"
check list-contacts-pages "$page" "3"

# snippet:create-api-key
# The secret (`key`, ecos_live_…) is in this answer only: store it in your secret manager.
API_KEY=$(curl -sS --fail-with-body -X POST "$BASE_URL/api/api-keys" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"name": "Reporting (read only)", "scope": "read_only", "expires_at": "2030-01-01T00:00:00Z"}' |
  jq -r .api_key.key)

curl -sS --fail-with-body "$BASE_URL/api/contacts?limit=10" -H "Authorization: Bearer $API_KEY"
# end-snippet
check create-api-key "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE_URL/api/contacts" -H "Authorization: Bearer $API_KEY")" "200"
check create-api-key-scope "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$BASE_URL/api/contacts" -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" -d '{"name": "x"}')" "403"

product=$(curl -sS --fail-with-body -X POST "$BASE_URL/api/products" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d "{\"name\": \"Odoo CRM Connector\", \"sku\": \"SKU-$RANDOM$RANDOM\", \"price\": 24900, \"type\": \"digital\", \"licensePolicy\": {\"prefix\": \"SHOP\", \"activationsLimit\": 3, \"durationDays\": 365, \"updatesMonths\": 12}}" | jq -r .id)
LICENSE_KEY=$(curl -sS --fail-with-body -X POST "$BASE_URL/api/licenses" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d "{\"productId\": \"$product\"}" | jq -r .key)
# snippet:license
# From the licensed software: validate and activate need no credentials.
curl -sS --fail-with-body -X POST "$BASE_URL/api/licenses/validate" \
  -H "Content-Type: application/json" \
  -d "{\"key\": \"$LICENSE_KEY\", \"domain\": \"shop.example.com\"}"

curl -sS --fail-with-body -X POST "$BASE_URL/api/licenses/activate" \
  -H "Content-Type: application/json" \
  -d "{\"key\": \"$LICENSE_KEY\", \"domain\": \"shop.example.com\"}"
# end-snippet
check license "$(curl -sS -X POST "$BASE_URL/api/licenses/validate" -H "Content-Type: application/json" -d "{\"key\": \"$LICENSE_KEY\", \"domain\": \"shop.example.com\"}" | jq -c '[.valid, .activated]')" "[true,true]"

# snippet:webhooks
# Register your endpoint; its signing secret (whsec_…) is shown only in this answer.
endpoint=$(curl -sS --fail-with-body -X POST "$BASE_URL/api/webhooks/endpoints" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d "{\"url\": \"$PUBLIC_URL/hooks/ecosire\", \"events\": [\"contact.created\", \"license.activated\"]}")
ENDPOINT_ID=$(echo "$endpoint" | jq -r .id)
WEBHOOK_SECRET=$(echo "$endpoint" | jq -r .secret)

# Send yourself a signed example event, then read the delivery log.
curl -sS --fail-with-body -X POST "$BASE_URL/api/webhooks/endpoints/$ENDPOINT_ID/test" \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"type": "contact.created"}'
curl -sS --fail-with-body "$BASE_URL/api/webhooks/endpoints/$ENDPOINT_ID/deliveries" -H "Authorization: Bearer $TOKEN"
# end-snippet
check webhooks-secret "${WEBHOOK_SECRET:0:6}" "whsec_"
check webhooks-delivery "$(curl -sS "$BASE_URL/api/webhooks/endpoints/$ENDPOINT_ID/deliveries" -H "Authorization: Bearer $TOKEN" | jq -r '[.data[] | select(.test) | .eventType] | join(",")')" "contact.created"

# snippet:errors
# Every error is application/problem+json with a stable `code`; validation errors name each field.
curl -sS -X POST "$BASE_URL/api/contacts" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"name": "", "email": "not-an-email"}' | jq '{status, code, details, requestId}'

# Rate limits: every answer says how many calls are left; a 429 adds Retry-After (seconds).
curl -sS -o /dev/null -D - "$BASE_URL/api/contacts" -H "Authorization: Bearer $TOKEN" | grep -i '^x-ratelimit'
# end-snippet
problem=$(curl -sS -X POST "$BASE_URL/api/contacts" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"name": "", "email": "not-an-email"}')
check errors "$(echo "$problem" | jq -c '[.status, .code, ([.details[].field] | sort)]')" '[422,"VALIDATION_FAILED",["email","name"]]'
check errors-limit "$(curl -sS -o /dev/null -D - "$BASE_URL/api/contacts" -H "Authorization: Bearer $TOKEN" | grep -ci '^x-ratelimit-')" "3"

echo "✔ curl snippets: $passed checks"
