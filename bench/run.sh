#!/bin/bash
# Benchmarks the signaller module side by side with the floor relay.
#
#   bench/run.sh [--quick] [--callgrind] [--setups "floor w1 w2 front"]
#
# Setups, run one after the other with the same generator and scenarios:
#   floor  bench/floor: accepts, pairs and copies bytes, nothing more
#   w1     nginx + module, worker_processes 1
#   w2     nginx + module, worker_processes 2, every pair crossing workers
#   front  a plain nginx front (conf.example.cluster's proxy settings)
#          before a node like w1 of its own: the relay at window 1 and
#          pairing only, to price the extra hop against w1; its server CPU
#          is the front's and the node's together.  The front has 2 workers:
#          a proxy holds two sockets per client, and one process may not
#          hold more than 20,000 descriptors here (5000 pairs need 20,000)
#
# Crossing workers is forced, not hoped for: the server listens with
# `reuseport`, so each worker has its own socket in one SO_REUSEPORT group,
# and `sigbench steer` attaches a classic BPF program to that group which
# hands a new connection to worker socket 0 or 1 by the parity of the last
# octet of the client address.  With `sigbench -x` listeners connect from
# even addresses and connectors from odd ones, so every pair crosses.  The
# access log ($pid per request) is read back to count the crossing pairs.
#
# nginx (master and workers) and the floor run on CPU 1, the generator on
# CPU 0.  Server CPU per operation is the on-CPU time of the server
# processes (/proc/<pid>/schedstat, ns resolution; utime+stime from
# /proc/<pid>/stat agrees within its 10 ms tick) over the measured window
# divided by the operations in it.  Note that on loopback the receiving
# side's TCP processing runs in the sender's context, so both the floor and
# nginx are charged for delivering what they write.
#
# Output: a table on stdout, bench/results/report-<time>.md (copied to
# bench/results/latest.md), bench/results/plot-<time>.png (latest.png) and
# the raw RESULT lines in bench/results/raw-<time>.txt.

set -u

BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH")
MODULE=${MODULE:-$TOP/build/ngx_http_signaller_module.so}
# more signaller_* directives for the module's http{}, e.g.
# BENCH_DIRECTIVES="signaller_log_at handshake;"
NGINX=${NGINX:-/usr/sbin/nginx}
RESULTS=$BENCH/results
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

quick=0
callgrind=0
setups="floor w1 w2 front"
# scenarios (labels) the front takes part in
front_labels="msg pair"

while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --callgrind) callgrind=1 ;;
    --setups) setups=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ $quick = 1 ]; then
    MSG_PAIRS="1 10 100"
    DUR=1; WARM=0.3; REPS=1
    PAIR_CONC=32
    OPEN_PAIRS=100; OPEN_RATE=5000
    WIN_PAIRS=100; WIN=8
    IDLE_1W=3000; IDLE_2W=6000
    CG_COUNT=2000
else
    MSG_PAIRS="1 10 100 1000 5000"
    DUR=3; WARM=1; REPS=3
    PAIR_CONC=64
    OPEN_PAIRS=1000; OPEN_RATE=5000
    WIN_PAIRS=100; WIN=16
    IDLE_1W=15000; IDLE_2W=30000
    CG_COUNT=20000
fi

make -s -C "$BENCH" all || exit 1

if [ ! -f "$MODULE" ]; then
    make -s -C "$TOP" || { echo "run.sh: cannot build the module" >&2; exit 1; }
fi

if ! command -v gnuplot >/dev/null; then
    apt-get install -y -q gnuplot-nox >/dev/null 2>&1 \
        || echo "run.sh: gnuplot missing, no plot" >&2
fi

mkdir -p "$RESULTS"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
stamp=$(date -u +%Y%m%d-%H%M%S)
raw=$RESULTS/raw-$stamp.txt
: > "$raw"
tmp=$(mktemp -d /tmp/sigbench.XXXXXX)
server_pid=
all_servers=()
notes=()

cleanup() {
    stop_servers
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

children() {
    # pids of the processes whose parent is $1
    local p
    for p in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$1" ] \
            && echo "${p#/proc/}"
    done
}

nginx_conf() {    # workers port [extra main-context lines] [name]
    local w=$1 port=$2 prefix=$tmp/nginx-${4:-$1} mask aff i
    mkdir -p "$prefix/logs"
    mask=1$(for i in $(seq "$SERVER_CPU"); do printf 0; done)
    aff=$(for i in $(seq "$w"); do printf '%s ' "$mask"; done)
    cat > "$prefix/nginx.conf" <<EOF
load_module $MODULE;
worker_processes $w;
worker_cpu_affinity $aff;
worker_rlimit_nofile 20000;
error_log logs/error.log warn;
pid logs/nginx.pid;
${3:-}
events {
    worker_connections 19500;
}
http {
    log_format bench '\$pid \$remote_addr \$request_uri \$status';
    access_log logs/access.log bench buffer=64k flush=1s;
    signaller_zone bench 64m;
    signaller_max_messages 1000000000;
    signaller_max_message_size 1m;
    signaller_pipe_timeout 1h;
    signaller_listen_timeout 1h;
    ${BENCH_DIRECTIVES:-}
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        location / {
            signaller on;
        }
    }
}
EOF
    server_prefix=$prefix
}

start_nginx() {    # workers port [extra] [name]; sets server_pid, pids
    local w=$1 prefix=$tmp/nginx-${4:-$1} i
    nginx_conf "$@"
    rm -f "$prefix/logs/nginx.pid"
    taskset -c "$SERVER_CPU" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" \
        || return 1
    for i in $(seq 50); do
        [ -s "$prefix/logs/nginx.pid" ] && break
        sleep 0.1
    done
    server_pid=$(cat "$prefix/logs/nginx.pid")
    all_servers+=("$server_pid")
    for i in $(seq 50); do
        pids=$(children "$server_pid" | paste -sd,)
        [ "$(echo "$pids" | tr , '\n' | grep -c .)" = "$w" ] && break
        sleep 0.1
    done
}

# The front of conf.example.cluster, reduced to what a request goes
# through (the handle map, the consistent hash, the proxy settings), with
# one node.
front_conf() {    # port node-port
    local prefix=$tmp/nginx-front mask i
    mkdir -p "$prefix/logs" "$prefix/temp"
    mask=1$(for i in $(seq "$SERVER_CPU"); do printf 0; done)
    cat > "$prefix/nginx.conf" <<EOF
worker_processes 2;
worker_cpu_affinity $mask $mask;
worker_rlimit_nofile 20000;
error_log logs/error.log warn;
pid logs/nginx.pid;
events {
    worker_connections 19500;
}
http {
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    map \$uri \$signaller_handle {
        default "";
        ~/(?:listen|connect)/(?<handle>[^/]+)\$ \$handle;
    }
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        "" close;
    }
    log_format front '\$pid \$remote_addr \$uri \$status \$upstream_addr';
    access_log logs/access.log front buffer=64k flush=1s;
    upstream signaller_nodes {
        hash \$signaller_handle consistent;
        zone signaller_nodes 64k;
        server 127.0.0.1:$2 max_fails=3 fail_timeout=10s;
    }
    server {
        listen 127.0.0.1:$1 reuseport backlog=4096;
        location / {
            proxy_pass http://signaller_nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_connect_timeout 3s;
            proxy_next_upstream error timeout;
        }
    }
}
EOF
}

start_front() {    # port node-port; sets server_pid, pids (front and node)
    local prefix=$tmp/nginx-front node_pids i
    start_nginx 1 "$2" "" fnode || return 1
    node_pids=$pids
    front_conf "$@"
    rm -f "$prefix/logs/nginx.pid"
    taskset -c "$SERVER_CPU" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" \
        || return 1
    for i in $(seq 50); do
        [ -s "$prefix/logs/nginx.pid" ] && break
        sleep 0.1
    done
    server_pid=$(cat "$prefix/logs/nginx.pid")
    all_servers+=("$server_pid")
    for i in $(seq 50); do
        pids=$(children "$server_pid" | paste -sd,)
        [ "$(echo "$pids" | tr , '\n' | grep -c .)" = 2 ] && break
        sleep 0.1
    done
    pids=$pids,$node_pids
}

start_floor() {    # port procs; sets server_pid, pids
    taskset -c "$SERVER_CPU" "$BENCH/floor" -p "$1" -j "$2" &
    server_pid=$!
    all_servers+=("$server_pid")
    sleep 0.3
    if [ "$2" -gt 1 ]; then
        pids=$(children "$server_pid" | paste -sd,)
    else
        pids=$server_pid
    fi
}

stop_server() {    # pid
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

stop_servers() {
    local p
    for p in "${all_servers[@]}"; do
        stop_server "$p"
    done
    all_servers=()
}

gen() {    # setup label sigbench-args...
    local setup=$1 label=$2 out
    shift 2
    out=$(taskset -c "$CLIENT_CPU" "$BENCH/sigbench" "$@" \
          -p "${port_of[$setup]}" -P "${pids_of[$setup]}" -l "$label" 2>&1)
    echo "$out" | grep -v '^RESULT' | sed "s/^/    [$setup] /" >&2
    echo "$out" | grep '^RESULT' | sed "s/^RESULT /RESULT setup=$setup /" \
        >> "$raw"
}

crossing_report() {    # access log
    awk '{ split($3, a, "/"); h = a[3]; role = a[2];
           if ($4 != 101) next;
           if (role == "listen") l[h] = $1; else if (role == "connect") c[h] = $1 }
         END { n = 0; x = 0;
               for (h in c) if (h in l) { n++; if (l[h] != c[h]) x++ }
               if (n) printf "%d of %d pairs crossed workers (%.1f%%)", x, n, 100 * x / n;
               else printf "no pairs found in the access log" }' "$1"
}

# all servers up at once, idle ones cost nothing; every scenario runs on
# each setup in turn, REPS times, so that a change in the machine's load
# hits all setups alike; the run with the median CPU per operation is kept

declare -A port_of pids_of x_of
all_servers=()
active=

for setup in $setups; do
    case $setup in
    floor) start_floor 18090 1; port_of[$setup]=18090 ;;
    w1)    start_nginx 1 18081 || { notes+=("w1: nginx did not start"); continue; }
           port_of[$setup]=18081 ;;
    w2)    start_nginx 2 18082 || { notes+=("w2: nginx did not start"); continue; }
           port_of[$setup]=18082
           "$BENCH/sigbench" steer -p 18082 >&2 || notes+=("w2: steering failed")
           x_of[$setup]=-x ;;
    front) start_front 18085 18084 || { notes+=("front: nginx did not start"); continue; }
           port_of[$setup]=18085 ;;
    *)     echo "run.sh: unknown setup $setup" >&2; continue ;;
    esac
    pids_of[$setup]=$pids
    active="$active $setup"
done

each() {    # label sigbench-args...: every setup, REPS times
    local r s
    for r in $(seq "$REPS"); do
        for s in $active; do
            if [ "$s" = front ]; then
                case " $front_labels " in *" $1 "*) ;; *) continue ;; esac
            fi
            gen "$s" "$@" ${x_of[$s]:-}
        done
    done
}

for n in $MSG_PAIRS; do
    echo "== msg, $n pairs" >&2
    each msg msg -n "$n" -d "$DUR" -w "$WARM"
done
echo "== msg, $WIN_PAIRS pairs, window $WIN" >&2
each msgwin msg -n "$WIN_PAIRS" -W "$WIN" -d "$DUR" -w "$WARM"
echo "== msg, open loop" >&2
each open msg -n "$OPEN_PAIRS" -r "$OPEN_RATE" -d "$DUR" -w "$WARM"
echo "== pair" >&2
each pair pair -n "$PAIR_CONC" -d "$DUR" -w "$WARM"

echo "== idle" >&2
for s in $active; do
    case $s in
    floor)
        # one floor process cannot hold 30,000 sockets: two on reuseport
        save=${pids_of[floor]}
        start_floor 18092 2
        port_of[floor]=18092 pids_of[floor]=$pids
        gen floor idle idle -n "$IDLE_2W" -d 1
        stop_server "$server_pid"
        port_of[floor]=18090 pids_of[floor]=$save
        ;;
    w1) gen w1 idle idle -n "$IDLE_1W" -d 1 ;;
    w2) gen w2 idle idle -n "$IDLE_2W" -d 1 ;;
    esac
done

stop_servers

for s in $active; do
    [ "$s" = floor ] && continue
    log=$tmp/nginx-${s#w}/logs
    [ "$s" = w2 ] && notes+=("w2: $(crossing_report "$log/access.log")")
    for l in "$log" $([ "$s" = front ] && echo "$tmp/nginx-fnode/logs"); do
        grep -E '\[(alert|crit|emerg|error)\]' "$l/error.log" \
            | head -3 | sed "s/^/$s error.log: /" >> "$tmp/errors"
    done
done

# instructions per relayed message, user space only, under callgrind

if [ $callgrind = 1 ]; then
    for setup in floor w1; do
        cg=$tmp/callgrind.$setup
        if [ $setup = floor ]; then
            taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
                --callgrind-out-file="$cg.%p" "$BENCH/floor" -p 18091 \
                2>"$tmp/vg.$setup" &
            port=18091
        else
            nginx_conf 1 18083 "daemon off; master_process off;"
            prefix=$tmp/nginx-1
            taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
                --callgrind-out-file="$cg.%p" "$NGINX" -p "$prefix" \
                -c "$prefix/nginx.conf" 2>"$tmp/vg.$setup" &
            port=18083
        fi
        wait_pid=$!
        sleep 3
        port_of[$setup]=$port pids_of[$setup]=$wait_pid
        gen "$setup" callgrind msg -n 10 -m "$CG_COUNT" -c 10 \
            -S "callgrind_control -z $wait_pid >/dev/null" \
            -E "callgrind_control -d $wait_pid >/dev/null"
        sleep 0.5
        ir=$(ls "$cg".*.* 2>/dev/null | sort | tail -1 \
             | xargs -r grep -h '^summary:\|^totals:' | awk '{print $2; exit}')
        kill -TERM "$wait_pid" 2>/dev/null
        wait "$wait_pid" 2>/dev/null
        if [ -n "$ir" ]; then
            echo "RESULT setup=$setup label=ir mode=callgrind ir=$ir" \
                 "msgs=$((2 * CG_COUNT))" >> "$raw"
        fi
    done
fi

# of repeated runs, keep the one with the median CPU per operation

sel=$tmp/selected
awk '/^RESULT/ {
    delete f
    for (i = 2; i <= NF; i++) { split($i, p, "="); f[p[1]] = p[2] }
    key = f["setup"] "|" f["label"] "|" f["mode"] "|" f["n"] "|" f["window"] "|" f["rate"]
    if (!(key in first)) first[key] = NR
    print first[key] "\t" (f["cpu_ns_op"] + 0) "\t" $0
}' "$raw" | sort -t "$(printf '\t')" -k1,1n -k2,2n | awk -F '\t' '
{ k[NR] = $1; l[NR] = $3 }
END {
    i = 1
    while (i <= NR) {
        j = i
        while (j < NR && k[j + 1] == k[i]) j++
        print l[int((i + j) / 2)]
        i = j + 1
    }
}' > "$sel"

# table

table=$(awk -v quick=$quick '
function kv(s,   i, a, n) {
    delete f
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { split(a[i], p, "="); f[p[1]] = p[2] }
}
/^RESULT/ {
    kv($0)
    s = f["setup"]
    if (f["label"] == "callgrind") next
    if (f["mode"] == "callgrind") { ir[s] = f["ir"] / f["msgs"]; next }
    if (f["mode"] == "idle") {
        key = "idle listeners"
        cpu[key, s] = f["pss_per_conn_b"]
        unit[key] = "B Pss/listener"
        extra[key, s] = sprintf("%d of %d established", f["established"], f["n"])
        err[key, s] = f["errors"]
    } else {
        if (f["label"] == "open")
            key = sprintf("msg %dB n=%d open %d rt/s", f["size"], f["n"], f["rate"])
        else if (f["mode"] == "msg")
            key = sprintf("msg %dB n=%d W=%d", f["size"], f["n"], f["window"])
        else
            key = sprintf("pair c=%d", f["n"])
        cell[key, s] = f["ops_s"]
        cpu[key, s] = f["cpu_ns_op"] / 1000
        unit[key] = f["mode"] == "msg" ? "us/msg" : "us/pairing"
        extra[key, s] = sprintf("%s/%s/%s/%s/%s", f["p50_us"], f["p90_us"], f["p99_us"], f["p999_us"], f["max_us"])
        err[key, s] = f["errors"]
    }
    if (!(key in seen)) { seen[key] = 1; keys[nk++] = key }
    if (!(s in seens)) { seens[s] = 1; setups[ns++] = s }
}
END {
    print "| scenario | setup | ops/s | server CPU | x floor | latency us p50/p90/p99/p99.9/max | errors |"
    print "|---|---|---:|---:|---:|---|---:|"
    for (i = 0; i < nk; i++) {
        k = keys[i]
        for (j = 0; j < ns; j++) {
            s = setups[j]
            if (!((k, s) in cpu)) continue
            ratio = ((k, "floor") in cpu) && cpu[k, "floor"] > 0 \
                    ? sprintf("%.2f", cpu[k, s] / cpu[k, "floor"]) : "-"
            if (k == "idle listeners")
                printf "| %s | %s | - | %s %s | %s | %s | %s |\n", k, s,
                       cpu[k, s], unit[k], ratio, extra[k, s], err[k, s]
            else
                printf "| %s | %s | %.0f | %.2f %s | %s | %s | %s |\n", k, s, cell[k, s],
                       cpu[k, s], unit[k], ratio, extra[k, s], err[k, s]
        }
    }
    for (j = 0; j < ns; j++) {
        s = setups[j]
        if (!(s in ir)) continue
        ratio = "-"
        if (ir["floor"] > 0) ratio = sprintf("%.1f", ir[s] / ir["floor"])
        printf "| callgrind msg 64B n=10 | %s | - | %.0f Ir/msg (user space) | %s | - | - |\n", s, ir[s], ratio
    }
}' "$sel")

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r), nginx $("$NGINX" -v 2>&1 | cut -d/ -f2); load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"

# targets of issue 6, from the figures above

targets=$(awk -v win="$WIN" -v idle2="$IDLE_2W" '
function kv(line,   i, a, n, p) {
    delete f
    n = split(line, a, " ")
    for (i = 2; i <= n; i++) { split(a[i], p, "="); f[p[1]] = p[2] }
}
function verdict(ok) { return ok ? "met" : "NOT met" }
/^RESULT/ {
    kv($0)
    s = f["setup"]
    if (f["label"] == "msg" && f["n"] + 0 >= maxn[s] + 0) { maxn[s] = f["n"]; w1cpu[s] = f["cpu_ns_op"] }
    if (f["label"] == "msgwin") win_cpu[s] = f["cpu_ns_op"]
    if (f["label"] == "pair") pair_cpu[s] = f["cpu_ns_op"]
    if (f["label"] == "idle") { pss[s] = f["pss_per_conn_b"]; ierr[s] = f["errors"]; in_[s] = f["n"]; iest[s] = f["established"] }
    if (f["mode"] == "callgrind") ir[s] = f["ir"] / f["msgs"]
}
END {
    if (w1cpu["floor"] > 0 && w1cpu["w1"] > 0)
        printf "- same worker, 64 B, %d pairs, window 1: %.2f x floor (target <= 1.5): %s\n", maxn["w1"], w1cpu["w1"] / w1cpu["floor"], verdict(w1cpu["w1"] / w1cpu["floor"] <= 1.5)
    if (win_cpu["floor"] > 0 && win_cpu["w1"] > 0)
        printf "- same worker, 64 B, window %d: %.2f x floor (target <= 1.5): %s\n", win, win_cpu["w1"] / win_cpu["floor"], verdict(win_cpu["w1"] / win_cpu["floor"] <= 1.5)
    if (w1cpu["w1"] > 0 && w1cpu["w2"] > 0)
        printf "- crossing workers, window 1: %.2f x same worker (target <= 2): %s\n", w1cpu["w2"] / w1cpu["w1"], verdict(w1cpu["w2"] / w1cpu["w1"] <= 2)
    if (win_cpu["w1"] > 0 && win_cpu["w2"] > 0)
        printf "- crossing workers, window %d: %.2f x same worker (target <= 2): %s\n", win, win_cpu["w2"] / win_cpu["w1"], verdict(win_cpu["w2"] / win_cpu["w1"] <= 2)
    if (pair_cpu["w1"] > 0)
        printf "- pairing, 1 worker: %.0f us (target < 60; floor %.0f us): %s\n", pair_cpu["w1"] / 1000, pair_cpu["floor"] / 1000, verdict(pair_cpu["w1"] < 60000)
    if ("w2" in pss)
        printf "- idle listeners, 2 workers: %d B at %d listeners, %d established, %d errors (target <= 2560 B at 30000, zero errors): %s\n", pss["w2"], in_["w2"], iest["w2"], ierr["w2"], verdict(pss["w2"] <= 2560 && ierr["w2"] == 0 && in_["w2"] >= 30000)
    if ("w1" in ir)
        printf "- instructions per relayed message (callgrind, user space, 1 worker): %.0f (floor %.0f)\n", ir["w1"], ir["floor"]
}' "$sel")

# the front's hop: the front setup against w1, the same node direct

hop=$(awk '
function kv(line,   i, a, n, p) {
    delete f
    n = split(line, a, " ")
    for (i = 2; i <= n; i++) { split(a[i], p, "="); f[p[1]] = p[2] }
}
/^RESULT/ {
    kv($0)
    s = f["setup"]
    if (s != "w1" && s != "front") next
    if (f["label"] == "msg") k = sprintf("%08d", f["n"])
    else if (f["label"] == "pair") k = "pair"
    else next
    cpu[k, s] = f["cpu_ns_op"] / 1000; p50[k, s] = f["p50_us"]; n[k] = f["n"]
    if (!(k in seen)) { seen[k] = 1; keys[nk++] = k }
}
END {
    for (i = 0; i < nk; i++) {
        k = keys[i]
        if (!((k, "w1") in cpu) || !((k, "front") in cpu) || cpu[k, "w1"] <= 0) continue
        if (k == "pair")
            printf "- through a front, per pairing (c=%d): %.0f us, direct %.0f us (%.2f x w1); p50 cycle %s vs %s us\n", n[k], cpu[k, "front"], cpu[k, "w1"], cpu[k, "front"] / cpu[k, "w1"], p50[k, "front"], p50[k, "w1"]
        else
            printf "- through a front, 64 B, %d pairs, window 1: %.2f us/msg, direct %.2f (%.2f x w1); p50 round trip %s vs %s us\n", n[k], cpu[k, "front"], cpu[k, "w1"], cpu[k, "front"] / cpu[k, "w1"], p50[k, "front"], p50[k, "w1"]
    }
}' "$sel")

echo
echo "$table" | grep -v '^|---' | sed 's/^| //; s/ |$//' | column -t -s '|'
for n in "${notes[@]}"; do echo "note: $n"; done
[ -s "$tmp/errors" ] && cat "$tmp/errors"
echo "machine: $machine"
echo "targets:"
echo "$targets"
[ -n "$hop" ] && echo "the front's hop:" && echo "$hop"

# plot: throughput and p99 against pairs, closed loop window 1

awk '/^RESULT/ && / label=msg / {
    for (i = 2; i <= NF; i++) { split($i, p, "="); f[p[1]] = p[2] }
    print f["setup"], f["n"], f["ops_s"], f["p99_us"], f["cpu_ns_op"] / 1000
}' "$sel" > "$tmp/plot.dat"

png=$RESULTS/plot-$stamp.png
if command -v gnuplot >/dev/null && [ -s "$tmp/plot.dat" ]; then
    plots() {
        local col=$1 sep="" s
        for s in $setups; do
            grep -q "^$s " "$tmp/plot.dat" || continue
            printf '%s"< grep ^%s %s" using 2:%s with linespoints title "%s"' \
                "$sep" "$s" "$tmp/plot.dat" "$col" "$s"
            sep=", "
        done
    }
    gnuplot <<EOF
set terminal png size 1200,420
set output "$png"
set multiplot layout 1,3 title "signaller relay, 64-byte messages, echo, window 1"
set logscale x
set xlabel "pairs"
set grid
set key top left
set ylabel "relayed messages/s"
plot $(plots 3)
set logscale y
set ylabel "p99 round trip (us)"
plot $(plots 4)
unset logscale y
set ylabel "server CPU per message (us)"
plot $(plots 5)
unset multiplot
EOF
    cp "$png" "$RESULTS/latest.png"
fi

report=$RESULTS/report-$stamp.md
{
    echo "# sigbench $(date -u '+%Y-%m-%d %H:%M UTC')$([ $quick = 1 ] && echo ' (quick)')"
    echo
    echo "Machine: $machine. Server on CPU $SERVER_CPU, generator on CPU $CLIENT_CPU."
    echo
    echo "Setups: **floor** (bench/floor.c, byte copy), **w1** (module, 1 worker),"
    echo "**w2** (module, 2 workers, every pair steered across workers),"
    echo "**front** (a plain nginx front as in conf.example.cluster, 2 workers,"
    echo "before a node like w1: server CPU is the front's and the node's)."
    echo "Server CPU is per relayed message (msg), per pairing (pair: two"
    echo "handshakes, one relayed message, two closes) or Pss bytes per idle"
    echo "listener (idle); \"x floor\" is the ratio to the floor's figure."
    echo "Latency is the round trip (two relays) for msg and the whole cycle for pair."
    echo
    echo "$table"
    echo
    echo "Targets (issue 6):"
    echo
    echo "$targets"
    echo
    if [ -n "$hop" ]; then
        echo "The front's hop:"
        echo
        echo "$hop"
        echo
    fi
    for n in "${notes[@]}"; do echo "- $n"; done
    [ -s "$tmp/errors" ] && sed 's/^/- /' "$tmp/errors"
    echo
    [ -f "$png" ] && echo "![throughput and p99 against pairs]($(basename "$png"))"
    echo
    echo '```'
    grep '^RESULT' "$raw"
    echo '```'
} > "$report"
cp "$report" "$RESULTS/latest.md"
sed -i "s/$(basename "$png")/latest.png/" "$RESULTS/latest.md"
echo "report: $report"

# bench/README.md shows the latest table between its markers

readme=$BENCH/README.md
if [ -f "$readme" ] && grep -q '^<!-- results -->' "$readme"; then
    {
        sed '/^<!-- results -->/q' "$readme"
        echo
        echo "Latest run ($(date -u '+%Y-%m-%d')$([ $quick = 1 ] && echo ', --quick')), $machine:"
        echo
        echo "$table"
        echo
        echo "$targets"
        echo
        [ -n "$hop" ] && echo "$hop" && echo
        for n in "${notes[@]}"; do echo "- $n"; done
        echo
        echo "![plot](results/latest.png)"
        echo
        sed -n '/^<!-- end results -->/,$p' "$readme"
    } > "$tmp/readme" && cp "$tmp/readme" "$readme"
fi
