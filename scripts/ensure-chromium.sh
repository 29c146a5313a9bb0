#!/usr/bin/env bash
# Makes sure the browser the /docs and dashboard tests drive is here: Debian's chromium (CHROMIUM_PATH to use
# another). Installs it with apt-get when missing (as root, or through sudo without a password). Run by .ci/run and,
# through test/setup/chromium.ts, by `npm test` itself, so a fresh machine needs nothing installed by hand.
set -euo pipefail
if [[ -n "${CHROMIUM_PATH:-}" ]] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
echo 'chromium is missing (the browser tests need it); installing it with apt-get' >&2
if [[ $(id -u) -eq 0 ]]; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
elif sudo -n true 2>/dev/null; then
  sudo -n apt-get update -qq >&2 && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
else
  echo 'cannot install chromium: not root and no passwordless sudo. Run: sudo apt-get install -y chromium (or set CHROMIUM_PATH)' >&2
  exit 1
fi
