#!/bin/sh
# Builds the Debian package libnginx-mod-http-signaller (debian/) with
# Debian's tooling for nginx modules, dh-sequence-nginx from nginx-dev, and
# checks it with lintian.
#
# The build runs in a clean copy of the tree, build/deb/<source>-<version>/:
# the files git knows of (tracked ones, and untracked ones it does not
# ignore) as they are in the work tree, so nothing of build/ (what `make`
# built) is used.  dpkg-buildpackage -b leaves the .deb, .buildinfo and
# .changes in build/deb/ (its log in build/deb/build.log); lintian checks
# them (the .changes: the .deb and the .buildinfo), and only a .deb with
# no lintian error is copied to build/.
#
# Usage: .ci/deb.sh        (make deb: installs the build deps first)
# Environment: LINTIAN_OPTS (extra lintian options, e.g. --pedantic)

set -e

cd "$(dirname "$0")/.."

name=libnginx-mod-http-signaller
version=$(dpkg-parsechangelog -S Version)
upstream=${version%-*}
arch=$(dpkg --print-architecture)
deb=${name}_${version}_${arch}.deb
out=build/deb
src=$out/$name-$upstream

# the package's version follows package.json's
json=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{version}' \
    < package.json)
if [ "$upstream" != "$json" ]; then
    echo "deb: debian/changelog says $version but package.json $json:"
    echo "deb: add a changelog entry first (dch -v $json-1)"
    exit 1
fi

rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard \
        | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' \
            sh \
        | tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude=./.git --exclude=./build --exclude=./build-asan \
        --exclude=./build-valgrind --exclude=./node_modules -cf - . \
        | tar -xf - -C "$src"
fi

echo "deb: dpkg-buildpackage -b in $src (log: $out/build.log)"
start=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -Jauto) \
    > "$out/build.log" 2>&1
then
    tail -40 "$out/build.log"
    echo "deb: dpkg-buildpackage failed, see $out/build.log"
    exit 1
fi
echo "deb: built in $(( $(date +%s) - start )) s"

# nginx's configure turns warnings into errors (-Werror): keep it so
if ! grep -q '^CFLAGS = .* -Werror\( \|$\)' "$src"/obj-*/Makefile; then
    echo "deb: the module was not compiled with -Werror:"
    grep '^CFLAGS' "$src"/obj-*/Makefile
    exit 1
fi
grep '^CFLAGS' "$src"/obj-*/Makefile | sed 's/^/deb: /'

dpkg-deb --info "$out/$deb" | sed -n 's/^ \(Depends\|Version\):/deb: \1:/p'
dpkg-deb --contents "$out/$deb" | awk '!/\/$/ { print "deb:   " $6 }'

changes=$out/${name}_${version}_${arch}.changes
echo "deb: lintian $changes"
# shellcheck disable=SC2086
lintian --fail-on error --display-info $LINTIAN_OPTS "$changes"

rm -f build/"$name"_*.deb
cp "$out/$deb" "build/$deb.tmp"
mv "build/$deb.tmp" "build/$deb"
echo "deb: build/$deb"
