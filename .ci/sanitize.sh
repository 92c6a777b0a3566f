#!/bin/sh
# Builds an ASan + UBSan variant of the module into build-asan/ and runs
# the t/ suite with it, loaded into Debian's unmodified nginx.
#
# The sanitizer runtime comes from gcc (libasan.so.8, libubsan.so.1) and is
# preloaded into nginx only, through a wrapper script the harness gets as
# NGINX; perl and prove run without it.  Workers inherit the runtime and
# ASAN_OPTIONS from the master.  nginx points its stderr at the error log,
# so reports land in <prefix>/error.log or stderr.log, which the harness
# fails a test on ("AddressSanitizer", "runtime error:", "LeakSanitizer").
# Reports from "nginx -t" runs (which print to the test's pipe) are also
# collected in build-asan/reports.log.
#
# Usage: .ci/sanitize.sh [build|test] [prove arguments]
#   build   only build build-asan/ngx_http_signaller_module.so
#   test    build, then run the suite (default: prove -j2 -r t/)
#
# Environment: NGINX (default /usr/sbin/nginx), NGINX_SRC (default
# /usr/share/nginx/src), SANITIZE_JOBS (prove -j, default 2).

set -e

cd "$(dirname "$0")/.."

repo=$(pwd)
out=$repo/build-asan
nginx=${NGINX:-/usr/sbin/nginx}
src=${NGINX_SRC:-/usr/share/nginx/src}
jobs=${SANITIZE_JOBS:-2}
step=${1:-test}
[ $# -gt 0 ] && shift

san="-fsanitize=address,undefined"
cc_opt="-g -O1 -fno-omit-frame-pointer $san -fPIC -Wformat"
cc_opt="$cc_opt -Werror=format-security -Werror"
ld_opt="$san -Wl,-z,relro -Wl,-z,now -fPIC"

# a configure check's program must not fail on a leak: the feature tests
# have to come out as they did for Debian's nginx
ASAN_OPTIONS=detect_leaks=0
export ASAN_OPTIONS

# configured anew when config or this script (the flags) change
if [ ! -f "$out/nginx/objs/Makefile" ] \
   || [ config -nt "$out/nginx/objs/Makefile" ] \
   || [ .ci/sanitize.sh -nt "$out/nginx/objs/Makefile" ]
then
    [ -d "$src" ] || sh .ci/deps.sh build
    rm -rf "$out"
    mkdir -p "$out"
    cp -r "$src" "$out/nginx"
    echo "sanitize: configuring in $out/nginx"
    (cd "$out/nginx" && bash -c '. ./conf_flags && ./configure \
        "${NGX_CONF_FLAGS[@]}" --with-cc-opt="$1" --with-ld-opt="$2" \
        --add-dynamic-module="$3"' sh "$cc_opt" "$ld_opt" "$repo") \
        > "$out/configure.log" 2>&1 \
        || { tail -30 "$out/configure.log"; exit 1; }

    # the module must be built for the same feature set as the nginx binary
    # (nginx also refuses a module whose signature differs)
    if [ -f build/nginx/objs/ngx_auto_config.h ]; then
        if ! diff -I NGX_CONFIGURE -I NGX_COMPILER \
            build/nginx/objs/ngx_auto_config.h \
            "$out/nginx/objs/ngx_auto_config.h"
        then
            echo "sanitize: configure came out differently than in build/"
            exit 1
        fi
    fi
fi

make -s -C "$out/nginx" -f objs/Makefile modules
cp "$out/nginx/objs/ngx_http_signaller_module.so" "$out/"

[ "$step" = build ] && exit 0

libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)

# the wrapper nginx: preloads the runtime, keeps the pid (exec), and copies
# the reports of "nginx -t" runs, which go to the caller's pipe.  The
# harness takes the binary from NGINX, which nginx itself reads as a list of
# inherited sockets, so the wrapper removes it.
cat > "$out/nginx.sh" <<WRAP
#!/bin/sh
# nginx takes NGINX in its environment for inherited listening sockets
unset NGINX
LD_PRELOAD="$libasan $libubsan\${LD_PRELOAD:+ \$LD_PRELOAD}"
export LD_PRELOAD
for a; do
    if [ "\$a" = -t ]; then
        log=\$(mktemp)
        "$nginx" "\$@" 2>"\$log"
        rc=\$?
        cat "\$log" >&2
        grep -E 'AddressSanitizer|runtime error:|LeakSanitizer' "\$log" \\
            >> "$out/reports.log"
        rm -f "\$log"
        exit \$rc
    fi
done
exec "$nginx" "\$@"
WRAP
chmod +x "$out/nginx.sh"
rm -f "$out/reports.log"
touch "$out/reports.log"

# nginx never frees its pools at exit: no leak checking; a report must not
# take the master down with a core dump
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:disable_coredump=1
ASAN_OPTIONS=$ASAN_OPTIONS:detect_stack_use_after_return=1
ASAN_OPTIONS=$ASAN_OPTIONS:check_initialization_order=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0
export ASAN_OPTIONS UBSAN_OPTIONS

NGINX=$out/nginx.sh
SIGNALLER_MODULE=$out/ngx_http_signaller_module.so
export NGINX SIGNALLER_MODULE

# a quick check that the instrumented module loads at all
"$NGINX" -V >/dev/null 2>&1 || { echo "sanitize: $NGINX -V failed"; exit 1; }

rc=0
if [ $# -gt 0 ]; then
    prove "$@" || rc=$?
else
    prove -j"$jobs" -r t/ || rc=$?
fi

if [ -s "$out/reports.log" ]; then
    echo "sanitize: reports from nginx -t runs:"
    cat "$out/reports.log"
    rc=1
fi

exit $rc
