#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver for the web demo's browser test
# (tests/demo/test_app_browser.py drives them with Selenium; nothing is downloaded by Selenium).
# Idempotent: when both are installed it only checks (well under a second). Needs root on
# Debian (apt-get); elsewhere it says what to install and leaves the test to skip.
set -euo pipefail
log() { printf '[setup-browser %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if command -v chromium > /dev/null && command -v chromedriver > /dev/null; then
  exit 0
fi
if ! command -v apt-get > /dev/null || [[ "$(id -u)" != 0 ]]; then
  log "chromium/chromedriver missing and apt-get as root is not available here: install"
  log "Debian's chromium and chromium-driver (or any chromium with its chromedriver on PATH)"
  log "for the browser test, which is skipped without them"
  exit 0
fi
log "installing chromium and chromium-driver (apt)"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
  chromium-driver
log "$(chromium --version) | $(chromedriver --version | cut -d' ' -f1-2)"
