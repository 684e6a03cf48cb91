#!/bin/bash
# Footprint of kanri-guestd next to the agents people run today, all on this
# machine and over loopback only:
#   kanri-guestd (dynamic, glibc static, musl static)   pushes to a local HTTP sink every second
#   qemu-guest-agent                    queried on a unix socket (socat)
#   zabbix-agent                        queried with the Zabbix passive protocol
#   prometheus-node-exporter            scraped with curl
# For each: resident memory (VmRSS, VmHWM, summed over the agent's processes)
# and CPU time per sample, from /proc/PID/task/*/schedstat (nanoseconds, so
# short runs are still precise).  One "sample" is one collection of CPU,
# memory, filesystem, disk and network figures: one kanri-guestd document,
# one set of qemu-ga commands, one round of Zabbix items, one scrape.
#
# Usage: bench/guestd/run.sh [BUILD_DIR] (default build-guestd; it must hold
# src/guest/kanri-guestd).  Installs the other agents with apt-get if missing.
# Output also goes to bench/out/guestd.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-$top/build-guestd}
case $build in /*) ;; *) build=$top/$build ;; esac
N=${N:-200}          # samples per polled agent
SECS=${SECS:-20}     # seconds kanri-guestd runs at a 1 s interval
work=$(mktemp -d /tmp/kanri-bench-guestd.XXXXXX)
out=$top/bench/out
mkdir -p "$out"
pids=()

cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }

install_missing() {
    local pkgs=()
    need qemu-ga || [ -x /usr/sbin/qemu-ga ] || pkgs+=(qemu-guest-agent)
    [ -x /usr/sbin/zabbix_agentd ] || pkgs+=(zabbix-agent)
    [ -x /usr/bin/prometheus-node-exporter ] || pkgs+=(prometheus-node-exporter)
    need socat || pkgs+=(socat)
    need curl || pkgs+=(curl)
    if [ ${#pkgs[@]} -gt 0 ]; then
        echo "installing: ${pkgs[*]}" >&2
        # Keep the packages' own services from starting: this script starts
        # each agent itself, on its own ports.
        local prc=/usr/sbin/policy-rc.d created=
        if [ ! -e $prc ]; then
            printf '#!/bin/sh\nexit 101\n' > $prc && chmod +x $prc && created=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" \
            >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
        [ -n "$created" ] && rm -f $prc
    fi
}

# All pids of a process tree (the agent and its children).
tree() {
    local p=$1
    echo "$p"
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        tree "$c"
    done
}

cpu_ns() {
    local sum=0
    for p in $(tree "$1"); do
        for s in /proc/"$p"/task/*/schedstat; do
            read -r ns _ < "$s" 2>/dev/null || continue
            sum=$((sum + ns))
        done
    done
    echo $sum
}

mem_kib() { # $1 pid, $2 VmRSS|VmHWM: summed over the tree
    local sum=0
    for p in $(tree "$1"); do
        v=$(awk -v k="$2:" '$1 == k {print $2}' /proc/"$p"/status 2>/dev/null || true)
        sum=$((sum + ${v:-0}))
    done
    echo $sum
}

nproc_tree() { tree "$1" | wc -l; }

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

results=()
record() { # name pid samples cpu_ns_delta
    local name=$1 pid=$2 n=$3 d=$4
    results+=("$name|$(mem_kib "$pid" VmRSS)|$(mem_kib "$pid" VmHWM)|$(nproc_tree "$pid")|$((d / n / 1000))")
}

install_missing

guestd=$build/src/guest/kanri-guestd
[ -x "$guestd" ] || { echo "build $guestd first (ninja -C $build src/guest/kanri-guestd)" >&2; exit 1; }

# --- a local sink for kanri-guestd's documents ---
cat > "$work/sink.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(202); self.send_header('Content-Length', '0'); self.end_headers()
        with open(sys.argv[2], 'a') as f: f.write('.')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
python3 "$work/sink.py" 18480 "$work/sink.count" & pids+=($!)
wait_port 18480

run_guestd() { # name binary
    local name=$1 bin=$2 st=$work/state-$1
    mkdir -p "$st"; : > "$work/sink.count"
    "$bin" --url http://127.0.0.1:18480/api/v1/ingest/guest --state-dir "$st" --interval 1 \
        2>"$work/$name.log" & local p=$!
    pids+=($p)
    sleep 1.5 # start-up and the first sample are not part of the steady state
    local c0 n0; c0=$(cpu_ns $p); n0=$(wc -c < "$work/sink.count")
    sleep "$SECS"
    local c1 n1; c1=$(cpu_ns $p); n1=$(wc -c < "$work/sink.count")
    record "$name" $p $((n1 - n0)) $((c1 - c0))
    kill $p; wait $p 2>/dev/null || true
}
run_guestd kanri-guestd "$guestd"
for variant in static musl; do
    if [ -x "$build/src/guest/kanri-guestd-$variant" ]; then
        run_guestd "kanri-guestd-$variant" "$build/src/guest/kanri-guestd-$variant"
    fi
done
bench_line=$("$guestd" --bench 2000 | tr '\n' ' ')

# --- qemu-guest-agent ---
qsock=$work/qga.sock
/usr/sbin/qemu-ga -m unix-listen -p "$qsock" -t "$work" -l "$work/qga.log" & qpid=$!
pids+=($qpid)
for _ in $(seq 50); do [ -S "$qsock" ] && break; sleep 0.1; done
qga() {
    printf '%s\n' '{"execute":"guest-get-cpustats"}' '{"execute":"guest-get-memory-block-info"}' \
        '{"execute":"guest-get-fsinfo"}' '{"execute":"guest-get-diskstats"}' |
        socat -t 2 - UNIX-CONNECT:"$qsock" >/dev/null
}
qga
c0=$(cpu_ns $qpid)
for _ in $(seq "$N"); do qga; done
c1=$(cpu_ns $qpid)
record qemu-ga $qpid "$N" $((c1 - c0))

# --- zabbix-agent (passive checks) ---
nic=$(awk -F: 'NR > 2 {gsub(/ /, "", $1); if ($1 != "lo") {print $1; exit}}' /proc/net/dev)
disk=$(awk '$3 !~ /^(loop|ram|zram)/ {print $3; exit}' /proc/diskstats)
cat > "$work/zabbix_agentd.conf" <<CONF
Server=127.0.0.1
ListenIP=127.0.0.1
ListenPort=18450
StartAgents=3
LogType=console
PidFile=$work/zabbix_agentd.pid
AllowRoot=1
Timeout=5
CONF
/usr/sbin/zabbix_agentd -f -c "$work/zabbix_agentd.conf" >"$work/zabbix.log" 2>&1 & zpid=$!
pids+=($zpid)
wait_port 18450
cat > "$work/zget.py" <<'PY'
import socket, struct, sys
def get(key):
    s = socket.create_connection(('127.0.0.1', 18450), timeout=5)
    data = key.encode()
    s.sendall(b'ZBXD\x01' + struct.pack('<Q', len(data)) + data)
    buf = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf[13:].decode(errors='replace')
nic, disk, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
keys = ['system.cpu.util[,user]', 'system.cpu.util[,system]', 'system.cpu.util[,steal]',
        'system.cpu.load[all,avg1]', 'vm.memory.size[total]', 'vm.memory.size[available]',
        'system.swap.size[,free]', 'vfs.fs.size[/,total]', 'vfs.fs.size[/,free]',
        'vfs.dev.read[%s,operations]' % disk, 'vfs.dev.write[%s,operations]' % disk,
        'net.if.in[%s]' % nic, 'net.if.out[%s]' % nic]
for _ in range(rounds):
    for k in keys:
        v = get(k)
if rounds == 1:
    for k in keys:
        print(k, '=', get(k), file=sys.stderr)
PY
python3 "$work/zget.py" "$nic" "$disk" 1 2>"$work/zabbix.items"
sleep 1 # collector warm-up
c0=$(cpu_ns $zpid)
python3 "$work/zget.py" "$nic" "$disk" "$N"
c1=$(cpu_ns $zpid)
record zabbix-agent $zpid "$N" $((c1 - c0))

# --- prometheus-node-exporter ---
/usr/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:18490 \
    >"$work/node.log" 2>&1 & npid=$!
pids+=($npid)
wait_port 18490
curl -sf http://127.0.0.1:18490/metrics > "$work/metrics.txt"
c0=$(cpu_ns $npid)
for _ in $(seq "$N"); do curl -sf -o /dev/null http://127.0.0.1:18490/metrics; done
c1=$(cpu_ns $npid)
record node-exporter $npid "$N" $((c1 - c0))

# --- report ---
{
    echo "kanri-guestd footprint, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
    echo "kanri-guestd --bench 2000: $bench_line"
    echo "node-exporter scrape size: $(wc -c < "$work/metrics.txt") bytes, $(grep -vc '^#' "$work/metrics.txt") series"
    echo
    read -r _ base_rss _ _ base_cpu <<< "$(echo "${results[0]}" | tr '|' ' ')"
    printf '%-20s %10s %10s %6s %14s %10s %10s\n' agent VmRSS_KiB VmHWM_KiB procs CPU_us/sample RSS_ratio CPU_ratio
    for r in "${results[@]}"; do
        IFS='|' read -r name rss hwm np cpu <<< "$r"
        printf '%-20s %10s %10s %6s %14s %10s %10s\n' "$name" "$rss" "$hwm" "$np" "$cpu" \
            "$(awk -v a="$rss" -v b="$base_rss" 'BEGIN {printf "%.1fx", a / b}')" \
            "$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN {printf "%.1fx", (b ? a / b : 0)}')"
    done
    echo
    echo "ratios are against kanri-guestd (dynamic); CPU per sample for kanri-guestd includes"
    echo "its HTTP push; for the others only the agent's side of the query is counted."
} | tee "$out/guestd.txt"
