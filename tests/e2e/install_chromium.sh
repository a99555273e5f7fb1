#!/usr/bin/env bash
# Install what the report render test needs (tests/e2e/test_report_render.py): Debian's
# `chromium`, which Playwright (in the test extra) drives headless; Playwright's own browser
# download is never used. Used by .ci/run. Never fails the build: when it cannot install (not
# root, no apt-get, no package registry) it says why and exits 0, and the test skips with the reason.
set -uo pipefail

say() { echo "install_chromium: $*" >&2; }

if command -v chromium >/dev/null 2>&1; then
    say "chromium already installed ($(chromium --version 2>/dev/null | head -1))"
elif [ "$(id -u)" -ne 0 ]; then
    say "not root: not installing chromium (the report render test will skip)"
elif ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get: not installing chromium (the report render test will skip)"
else
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
        say "installed $(dpkg-query -W -f='chromium ${Version}' chromium)"
    else
        say "apt-get install chromium failed (the report render test will skip)"
    fi
fi
exit 0
