#!/bin/sh
# Debian packages Paperround's tests and benchmarks need beyond Python:
#   chromium      - the real browser the web tests drive through Playwright
#   postfix       - for smtp-sink, the C SMTP sink the send benchmark targets
#   spamassassin  - the spam score test of a real digest
# Installs only what is missing; needs root (or sudo) and a Debian package mirror.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || missing="$missing postfix"
command -v spamassassin >/dev/null 2>&1 || missing="$missing spamassassin"
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions at install time; answer them so the install is unattended.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
