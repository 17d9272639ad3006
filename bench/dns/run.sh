#!/usr/bin/env bash
# DNS forwarders side by side (issue 5 §6): `flowstack dns-forward`, dnsdist and dnsmasq, each
# without and with its cache, in front of one loopback `unbound` that serves a generated zone
# from local data. dnsperf sends the same query file (hits, NODATA and NXDOMAIN) to each for a
# fixed time; the report gives QPS, average and p99 latency and the contender's CPU per query
# (utime + stime from /proc/PID/stat), medians over --runs, and the ratios to the targets.
# Loopback only; every step is bounded; every process started here is killed on exit.
#
#   bench/dns/run.sh --flowstack build/release/src/cli/flowstack
#   bench/dns/run.sh --flowstack PATH --runs 5 --duration 10
#   bench/dns/run.sh --only dnsdist,dnsmasq --runs 1 --duration 3     # a smoke test
set -euo pipefail

all_contenders="flowstack,flowstack-cache,dnsdist,dnsdist-cache,dnsmasq,dnsmasq-cache"

usage() {
  cat <<EOF
usage: bench/dns/run.sh [options]
  --flowstack PATH   the flowstack program (default: build/release/src/cli/flowstack)
  --runs N           runs of every contender; the report gives medians (default 3)
  --duration S       seconds of dnsperf per contender and run (default 10)
  --warmup S         seconds of dnsperf before each measurement, not counted (default 2)
  --clients N        dnsperf -c: client sockets (default 4)
  --outstanding N    dnsperf -q: queries in flight at most (default 100)
  --threads N        dnsperf -T (default 1)
  --names N          names in the zone (default 10000)
  --queries N        lines in the query file (default 100000)
  --only LIST        comma-separated subset of: $all_contenders
  --log-dir DIR      keep the contenders' logs and dnsperf's summaries there
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
flowstack=$here/../../build/release/src/cli/flowstack
runs=3 duration=10 warmup=2 clients=4 outstanding=100 threads=1 names=10000 queries=100000
only=$all_contenders
log_dir=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --flowstack) flowstack=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --outstanding) outstanding=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --log-dir) log_dir=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

for program in dnsperf kdig unbound dnsdist dnsmasq ss; do
  if ! command -v "$program" >/dev/null && [[ ! -x /usr/sbin/$program ]]; then
    echo "dns/run.sh: $program is missing: run 'make deps'" >&2
    exit 1
  fi
done
PATH=$PATH:/usr/sbin

wanted() { [[ ,$only, == *,$1,* ]]; }

# flowstack's side runs only when the program has the subcommand.
flowstack_ok=0
if [[ -x $flowstack ]] && timeout 10 "$flowstack" dns-forward --help >/dev/null 2>&1; then
  flowstack_ok=1
fi
if [[ $flowstack_ok == 0 ]] && { wanted flowstack || wanted flowstack-cache; }; then
  echo "################################################################################"
  echo "## flowstack dns-forward is MISSING: '$flowstack dns-forward --help' fails."
  echo "## Its rows are skipped; build the flowstack program with the subcommand first."
  echo "################################################################################"
fi

# Whether a process runs: an exited child not yet reaped is a zombie, and kill -0 succeeds on it.
alive() { [[ -r /proc/$1/stat ]] && [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) != Z ]]; }

tmp=$(mktemp -d /tmp/flowstack-dns-bench.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[[ -n $log_dir ]] && mkdir -p "$log_dir"

# A loopback port nothing listens on, over UDP or TCP.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if [[ -z $(ss -Hlntu "( sport = :$port )" 2>/dev/null) ]]; then
      echo "$port"
      return 0
    fi
  done
  echo "dns/run.sh: no free port found" >&2
  return 1
}

# Drops a pid from the list the exit trap kills.
forget() {
  local kept=() p
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || kept+=("$p"); done
  pids=("${kept[@]+"${kept[@]}"}")
}

# Stops one process started here (TERM, then KILL after 2 s) and forgets it.
stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 20); do alive "$pid" || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}

# Waits (10 s at most) until `port` answers a name of the zone; fails when `pid` exits first.
wait_ready() {
  local port=$1 pid=$2
  for _ in $(seq 100); do
    alive "$pid" || return 1
    if kdig @127.0.0.1 -p "$port" +time=1 +retry=0 h1.bench.flowstack. A 2>/dev/null |
      grep -q 'status: NOERROR'; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# utime + stime of a process (all its threads), in clock ticks (proc(5): fields 14 and 15).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# cutime + cstime of this shell: the CPU of the children it waited for (dnsperf above all).
children_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }
hz=$(getconf CLK_TCK)

# --- the upstream: unbound answering a generated zone from local data, nothing else -----------
upstream_port=$(free_port)
{
  cat <<EOF
server:
  interface: 127.0.0.1@$upstream_port
  port: $upstream_port
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$tmp"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  so-rcvbuf: 4m
  so-sndbuf: 4m
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: yes
  local-zone: "." refuse
  local-zone: "bench.flowstack." static
  local-data: "bench.flowstack. 3600 IN SOA ns.bench.flowstack. hostmaster.bench.flowstack. 1 3600 600 86400 3600"
  local-data: "bench.flowstack. 3600 IN NS ns.bench.flowstack."
EOF
  awk -v n="$names" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "  local-data: \"h%d.bench.flowstack. 3600 IN A 10.%d.%d.%d\"\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }'
  printf 'remote-control:\n  control-enable: no\n'
} >"$tmp/unbound.conf"
unbound -d -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
upstream_pid=$!
pids+=("$upstream_pid")
if ! wait_ready "$upstream_port" "$upstream_pid"; then
  echo "dns/run.sh: unbound did not start:" >&2
  cat "$tmp/unbound.log" >&2
  exit 1
fi

# --- the query file: 80% A of names that exist, 10% AAAA of them (NODATA), 10% A of 1000 names
# that do not (NXDOMAIN); a fixed seed, so every contender and run gets the same file.
awk -v n="$names" -v q="$queries" 'BEGIN {
  srand(5)
  for (i = 0; i < q; i++) {
    r = rand()
    if (r < 0.8) printf "h%d.bench.flowstack. A\n", int(rand() * n)
    else if (r < 0.9) printf "h%d.bench.flowstack. AAAA\n", int(rand() * n)
    else printf "nx%d.bench.flowstack. A\n", int(rand() * 1000)
  }
}' >"$tmp/queries.txt"

# --- the contenders ------------------------------------------------------------------------------
# start_contender NAME PORT: starts it listening on 127.0.0.1:PORT; its pid goes to contender_pid.
start_contender() {
  local name=$1 port=$2 log=$tmp/$1.log
  case $name in
    flowstack | flowstack-cache)
      printf 'nameserver 127.0.0.1#%s\ntimeout 2000\n' "$upstream_port" >"$tmp/flowstack.conf"
      : >"$tmp/hosts"
      local cache=()
      [[ $name == flowstack ]] && cache=(--cache-entries 0)
      "$flowstack" dns-forward --config "$tmp/flowstack.conf" --hosts "$tmp/hosts" \
        --listen "127.0.0.1:$port" "${cache[@]}" --log-level error >"$log" 2>&1 &
      ;;
    dnsdist | dnsdist-cache)
      # No console (no controlSocket), no security polling (it would query the Internet).
      {
        echo "setSecurityPollSuffix('')"
        echo "setLocal('127.0.0.1:$port')"
        echo "newServer({address='127.0.0.1:$upstream_port', checkName='h1.bench.flowstack.'})"
        if [[ $name == dnsdist-cache ]]; then
          echo "getPool(''):setCache(newPacketCache(100000, {maxTTL=86400, minTTL=0}))"
        fi
      } >"$tmp/$name.lua"
      dnsdist --supervised --disable-syslog -C "$tmp/$name.lua" >"$log" 2>&1 &
      ;;
    dnsmasq | dnsmasq-cache)
      local size=0
      [[ $name == dnsmasq-cache ]] && size=100000
      dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
        --server="127.0.0.1#$upstream_port" --port="$port" --listen-address=127.0.0.1 \
        --bind-interfaces --cache-size="$size" >"$log" 2>&1 &
      ;;
  esac
  contender_pid=$!
  pids+=("$contender_pid")
}

# bounded LIMIT COMMAND…: runs it under `timeout`, in the background so that a signal to this
# script runs its trap at once instead of after the command.
bounded() {
  local limit=$1
  shift
  timeout --kill-after=5 "$limit" "$@" &
  local pid=$!
  pids+=("$pid")
  local status=0
  wait "$pid" || status=$?
  forget "$pid"
  return "$status"
}

# p99 and the average of dnsperf -v's per-query latencies (last field of "> RCODE NAME TYPE S").
latency_summary() {
  awk '$1 == ">" { us = int($NF * 1e6 + 0.5); count[us]++; n++; sum += $NF }
    END {
      if (n == 0) { print "nan nan"; exit }
      want = n * 0.99; seen = 0
      for (us = 0; ; us++) { seen += count[us]; if (seen >= want) break }
      printf "%.3f %.3f\n", sum / n * 1e3, us / 1e3
    }' "$1"
}

results=$tmp/results.tsv # run contender qps avg_ms p99_ms cpu_us upstream_cpu_us lost_pct client_pct
: >"$results"
contenders=()
for c in ${all_contenders//,/ }; do
  wanted "$c" || continue
  [[ $c == flowstack* && $flowstack_ok == 0 ]] && continue
  contenders+=("$c")
done

dnsperf_args=(-s 127.0.0.1 -d "$tmp/queries.txt" -c "$clients" -q "$outstanding" -T "$threads" -t 2)
echo "DNS forwarders: dnsperf ${dnsperf_args[*]//$tmp\//} -l $duration (after ${warmup} s of warm-up),"
echo "  $queries queries over $names names (80% A, 10% AAAA NODATA, 10% NXDOMAIN over 1000 names),"
echo "  upstream unbound $(unbound -V | sed -n 's/^Version //p') (1 thread, local data), $runs run(s)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  dnsdist $(dnsdist --version | sed -n '1s/^dnsdist //p' | cut -d' ' -f1)," \
  "dnsmasq $(dnsmasq --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'), dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p')"

if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
  echo "WARNING: load average above $(nproc) (the cores are busy with other work): QPS then says" \
    "mostly how much CPU each contender got; compare CPU per query"
fi

for ((run = 1; run <= runs; run++)); do
  # A rotating order, so a slow phase of the machine does not always hit the same contender.
  n=${#contenders[@]}
  for ((k = 0; k < n; k++)); do
    name=${contenders[$(((k + run - 1) % n))]}
    port=$(free_port)
    start_contender "$name" "$port"
    pid=$contender_pid
    if ! wait_ready "$port" "$pid"; then
      echo "  run $run $name: did not answer within 10 s (skipped); its log:"
      sed 's/^/    /' "$tmp/$name.log" | tail -5
      stop "$pid"
      continue
    fi
    bounded $((warmup + 10)) dnsperf "${dnsperf_args[@]}" -p "$port" -l "$warmup" >/dev/null 2>&1 || true
    before=$(cpu_ticks "$pid")
    upstream_before=$(cpu_ticks "$upstream_pid")
    client_before=$(children_ticks)
    out=$tmp/$name.dnsperf
    if ! bounded $((duration + 15)) dnsperf "${dnsperf_args[@]}" -p "$port" -l "$duration" -v >"$out" 2>&1; then
      echo "  run $run $name: dnsperf failed or timed out"
    fi
    after=$(cpu_ticks "$pid")
    upstream_after=$(cpu_ticks "$upstream_pid")
    client_after=$(children_ticks)
    stop "$pid"
    completed=$(awk '/Queries completed:/ { print $3 }' "$out")
    qps=$(awk '/Queries per second:/ { print $4 }' "$out")
    lost=$(awk '/Queries lost:/ { gsub(/[()%]/, "", $4); print $4 }' "$out")
    read -r avg_ms p99_ms < <(latency_summary "$out")
    if [[ -z $completed || $completed == 0 ]]; then
      echo "  run $run $name: no query completed"
      continue
    fi
    cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$completed" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
    upstream_us=$(awk -v t=$((upstream_after - upstream_before)) -v hz="$hz" -v n="$completed" \
      'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
    # dnsperf's CPU as a share of one core: near 100% with one thread, the client is the limit.
    client_pct=$(awk -v t=$((client_after - client_before)) -v hz="$hz" -v d="$duration" \
      'BEGIN { printf "%.0f", t / hz / d * 100 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$qps" "$avg_ms" "$p99_ms" "$cpu_us" \
      "$upstream_us" "${lost:-nan}" "$client_pct" >>"$results"
    printf '  run %d %-15s %9.0f q/s  avg %6s ms  p99 %6s ms  cpu %6s us/q  dnsperf %s%%  lost %s%%  %s\n' \
      "$run" "$name" "$qps" "$avg_ms" "$p99_ms" "$cpu_us" "$client_pct" "${lost:-?}" \
      "$(sed -n 's/^ *Response codes: *//p' "$out")"
    if [[ -n $log_dir ]]; then
      grep -v '^>' "$out" >"$log_dir/run$run-$name.dnsperf.txt" || true
      cp "$tmp/$name.log" "$log_dir/run$run-$name.log"
    fi
    rm -f "$out"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column_median() { awk -F'\t' -v c="$1" -v k="$2" '$2 == c { print $k }' "$results" | median; }

echo
echo "medians of $runs run(s)     QPS   avg ms   p99 ms  CPU us/query  upstream us/q  dnsperf CPU  lost %"
for name in "${contenders[@]}"; do
  printf '  %-16s %10.0f %8.3f %8.3f %13.2f %14.2f %11s%% %7s\n' "$name" \
    "$(column_median "$name" 3)" "$(column_median "$name" 4)" "$(column_median "$name" 5)" \
    "$(column_median "$name" 6)" "$(column_median "$name" 7)" "$(column_median "$name" 9)" \
    "$(column_median "$name" 8)"
done
echo "  (CPU us/query: the contender's utime+stime over the queries dnsperf completed; upstream: unbound's;"
echo "   dnsperf CPU: the client's share of one core, near 100% x threads means the client is the limit)"

# ratio A B TARGET: the median over runs of QPS(A)/QPS(B), with the range, and the median of
# CPU per query(A)/(B) (below 1: A spends less per query).
ratio() {
  local a=$1 b=$2 target=$3
  local line
  line=$(awk -F'\t' -v a="$a" -v b="$b" '$2 == a { qa[$1] = $3; ca[$1] = $6 } $2 == b { qb[$1] = $3; cb[$1] = $6 }
    END { for (r in qa) if ((r in qb) && qb[r] > 0 && cb[r] > 0) print qa[r] / qb[r], ca[r] / cb[r] }' "$results" |
    sort -g | awk '{ v[NR] = $1; c[NR] = $2 } END {
      if (NR == 0) { print "n/a"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      n = split("", sorted); for (i = 1; i <= NR; i++) sorted[i] = c[i]
      for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (sorted[j] < sorted[i]) { t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t }
      mc = (NR % 2) ? sorted[(NR + 1) / 2] : (sorted[NR / 2] + sorted[NR / 2 + 1]) / 2
      printf "%.2fx (runs %.2f-%.2f)  CPU/query %.2fx", m, v[1], v[NR], mc }')
  if [[ $line == n/a ]]; then
    if [[ $a == flowstack* && $flowstack_ok == 0 ]]; then
      line="n/a: flowstack dns-forward is MISSING"
    else
      line="n/a: not measured"
    fi
  fi
  printf '  %-36s %s   (QPS target >= %s)\n' "QPS $a / $b" "$line" "$target"
}
echo
ratio flowstack dnsdist 1.0
ratio flowstack-cache dnsdist-cache 1.2
ratio flowstack dnsmasq 2
ratio flowstack-cache dnsmasq-cache 2
