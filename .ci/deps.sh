#!/bin/sh
# Installs the Debian packages a step needs, only those that are missing.
# Usage: deps.sh build|test|valgrind|deb

set -e

pkgs="nginx nginx-dev gcc make libpcre2-dev libssl-dev zlib1g-dev"

case "$1" in
test)
    pkgs="$pkgs perl openssl libio-socket-ssl-perl clang libclang-rt-14-dev
          python3-prometheus-client"
    ;;
valgrind)
    pkgs="$pkgs perl openssl libio-socket-ssl-perl valgrind"
    ;;
deb)
    # dh-sequence-nginx is nginx-dev's; no fakeroot: Rules-Requires-Root: no
    pkgs="$pkgs debhelper dpkg-dev lintian"
    ;;
esac

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done

if [ -n "$missing" ]; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends $missing
fi
