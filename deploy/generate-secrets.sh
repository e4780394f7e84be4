#!/bin/sh
# Prints the secrets of an Ecosire deployment as a systemd environment file (docs/deployment.md):
#   sh -c 'umask 077; deploy/generate-secrets.sh > /etc/ecosire/secrets.env'
# Every instance needs the same file. With a DATA_DIR argument, the keys a server already
# generated there are carried over instead of new ones (tokens, webhook secrets and license
# signatures keep working):
#   sh -c 'umask 077; deploy/generate-secrets.sh /var/lib/ecosire > /etc/ecosire/secrets.env'
# The values are single-quoted or plain, so the file means the same to systemd and to `sh`'s `.`.
set -eu
dir=${1:-}
command -v openssl >/dev/null || { echo "generate-secrets.sh: openssl is needed" >&2; exit 1; }
if [ -n "$dir" ] && [ ! -d "$dir" ]; then echo "generate-secrets.sh: no directory $dir" >&2; exit 1; fi

# A PEM key on one line, its lines joined by the two characters \n: the server turns them back
# into line breaks when it reads JWT_PRIVATE_KEY or LICENSE_SIGNING_KEY.
one_line() { awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'; }
# The value kept in DATA_DIR/FILE, else a new one from the command that follows.
stored() { # FILE COMMAND...
  file=$1
  shift
  if [ -n "$dir" ] && [ -s "$dir/$file" ]; then
    cat "$dir/$file"
  else
    [ -z "$dir" ] || echo "generate-secrets.sh: no $dir/$file, generating a new one" >&2
    "$@"
  fi
}
new_ed25519() { openssl genpkey -algorithm ed25519; }
new_hex() { openssl rand -hex 32; }
new_base64() { openssl rand -base64 32; }

# Each value is computed before anything is printed, so a failure prints no half-made file.
jwt=$(stored jwt-ed25519.pem new_ed25519 | one_line)
license_key=$(stored license-ed25519.pem new_ed25519 | one_line)
license_secret=$(stored license-secret new_hex | tr -d '\n')
secrets_key=$(stored secrets-key new_base64 | tr -d '\n')
for value in "$jwt" "$license_key"; do
  case "$value" in
    "-----BEGIN PRIVATE KEY-----\\n"*"\\n-----END PRIVATE KEY-----") ;;
    *) echo "generate-secrets.sh: a key is not an Ed25519 private key in PEM form" >&2; exit 1 ;;
  esac
done
[ -n "$license_secret" ] && [ -n "$secrets_key" ] || { echo "generate-secrets.sh: an empty secret" >&2; exit 1; }

echo "# Ecosire secrets, generated $(date -u +%Y-%m-%dT%H:%M:%SZ). Mode 0600; the same on every instance; back it up."
echo "# Access-token signing key (Ed25519); its public half is at /.well-known/jwks.json."
printf "JWT_PRIVATE_KEY='%s'\n" "$jwt"
echo "# License answer signing key (Ed25519); public half at GET /api/licenses/signing-key."
printf "LICENSE_SIGNING_KEY='%s'\n" "$license_key"
echo "# HMAC secret of license request and answer signatures; your software needs it too."
printf "ECOSIRE_LICENSE_SECRET='%s'\n" "$license_secret"
echo "# Encrypts the stored webhook signing secrets (AES-GCM): lose it and every endpoint needs a new secret."
printf "SECRETS_KEY='%s'\n" "$secrets_key"
echo "# Fill in and uncomment (single quotes keep a value as it is):"
echo "#DATABASE_URL='postgres://ecosire:PASSWORD@db.internal:5432/ecosire?sslmode=require'"
echo "#SMTP_URL='smtp://USER:PASSWORD@smtp.example.com:587'"
echo "#STRIPE_SECRET_KEY='sk_live_...'"
echo "#STRIPE_WEBHOOK_SECRET='whsec_...'"
