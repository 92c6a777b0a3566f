#!/bin/sh
# Runs the JavaScript tests of signaller.js (unit tests against the real
# module in nginx, and the Chromium end-to-end and TURN tests). Installs
# what is missing first: Debian's chromium and coturn, and the npm packages
# pinned in package-lock.json. Exits non-zero on any failure.
#
# Usage: sh t/js/run.sh [test files...]    (default: all t/js/*.test.mjs)
# Needs build/ngx_http_signaller_module.so (make) and node/npm.

set -eu

cd "$(dirname "$0")/../.."

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

apt_install() {
    if [ -z "${apt_updated:-}" ]; then
        $sudo apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "t/js/run.sh: installing nodejs and npm"
    apt_install nodejs npm
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "t/js/run.sh: installing chromium"
    apt_install chromium
fi

# coturn, for the TURN test (turn.test.mjs starts its own turnserver)
if [ ! -x /usr/bin/turnserver ]; then
    echo "t/js/run.sh: installing coturn"
    apt_install coturn
fi

# npm ci when node_modules is missing or older than the lock file
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] \
   || [ package.json -nt "$stamp" ]; then
    echo "t/js/run.sh: npm ci"
    npm ci --no-audit --no-fund
fi

if [ ! -f build/ngx_http_signaller_module.so ]; then
    echo "t/js/run.sh: build/ngx_http_signaller_module.so is missing: run make" >&2
    exit 1
fi

node t/js/size.mjs || :   # types.test.mjs fails the run if over budget

if [ $# -eq 0 ]; then
    set -- t/js/*.test.mjs
fi

exec node --test --test-concurrency=1 "$@"
