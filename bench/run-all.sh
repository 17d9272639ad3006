#!/usr/bin/env bash
# Runs flowstack's side-by-side benchmarks (DESIGN.md §4) from a build directory and prints one
# compact report with the ratios. A copy of the report goes to BUILD/bench-results.txt; nothing
# is written anywhere else unless --append FILE is given.
#
#   bench/run-all.sh build/release                 # what `make bench` runs
#   bench/run-all.sh build/release --quick         # smaller runs, for a smoke test
#   bench/run-all.sh build/release --append docs/benchmarks.md
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run-all.sh BUILD_DIR [options]
  --runs N        runs of each contender (default 5; memory and dns use 3)
  --only LIST     comma-separated subset of: bulk,pingpong,relay,memory,buffer,dns,tls,stack
  --quick         smaller transfers and fewer connections (a smoke test, not a result)
  --append FILE   also append the report, as a Markdown section, to FILE
EOF
}

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  usage
  exit 2
fi
build=$1
shift
runs=5
only="bulk,pingpong,relay,memory,buffer,dns,tls,stack"
quick=0
append=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --append) append=$2; shift 2 ;;
    *) usage; exit 2 ;;
  esac
done

bench=$build/bench/flowstack_bench
buffer_bench=$build/bench/flowstack_buffer_bench
cli=$build/src/cli/flowstack
for program in "$bench" "$buffer_bench"; do
  if [[ ! -x $program ]]; then
    echo "run-all.sh: $program is missing: configure with -DFLOWSTACK_BUILD_BENCH=ON and build" >&2
    exit 1
  fi
done

if [[ $quick == 1 ]]; then
  bulk_bytes=256M relay_bytes=128M round_trips=5000 connections=2000 memory_runs=1
  stack_bytes=64M tap_bytes=64M loss_bytes=4M
else
  bulk_bytes=1G relay_bytes=512M round_trips=20000 connections=10000 memory_runs=3
  stack_bytes=256M tap_bytes=256M loss_bytes=16M
fi
[[ $runs -lt $memory_runs ]] && memory_runs=$runs
# DNS forwarders (bench/dns/run.sh): six contenders of 12 s each per run.
if [[ $quick == 1 ]]; then
  dns_args=(--runs 1 --duration 3 --warmup 1)
else
  dns_args=(--runs "$((runs < 3 ? runs : 3))")
fi

# TLS: bulk and handshakes, TLS 1.3 and 1.2 (flowstack_tls_bench).
if [[ $quick == 1 ]]; then
  tls_args=(--bytes 256M --handshakes 200)
else
  tls_args=(--bytes 1G --handshakes 1000)
fi

wanted() { [[ ,$only, == *,$1,* ]]; }

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
commit=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)
report=$build/bench-results.txt

# Every step is bounded: the programs have their own watchdogs, and `timeout` backs them up.
step() {
  local limit=$1
  shift
  if ! timeout --kill-after=10 "$limit" "$@"; then
    echo "  (failed or timed out: $*)"
  fi
  echo
}

{
  echo "flowstack benchmarks  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $commit  build ${build_type:-?}"
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
    "$(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ $build_type != Release && $build_type != RelWithDebInfo ]]; then
    echo "WARNING: $build is a '${build_type:-unknown}' build; numbers from an unoptimised build mean little"
  fi
  [[ $quick == 1 ]] && echo "QUICK mode: smaller runs, a smoke test rather than a result"
  echo

  # Bulk and ping-pong run twice: free to use both cores, and with every thread (and iperf3) on
  # one core. On this kind of virtual machine a wake-up of an idle core costs tens of
  # microseconds, which swamps the difference in a free ping-pong when the machine is quiet; on
  # one core the number is the CPU cost of a round trip, and it is far steadier.
  if wanted bulk; then
    step 240 "$bench" bulk --bytes "$bulk_bytes" --runs "$runs"
    echo "(the same on one core: taskset -c 0)"
    step 240 taskset -c 0 "$bench" bulk --bytes "$bulk_bytes" --runs "$runs"
  fi
  if wanted pingpong; then
    step 240 "$bench" pingpong --round-trips "$round_trips" --runs "$runs"
    echo "(the same on one core: taskset -c 0)"
    step 240 taskset -c 0 "$bench" pingpong --round-trips "$round_trips" --runs "$runs"
  fi
  if wanted relay; then
    if [[ -x $cli ]]; then
      step 240 "$bench" relay --flowstack "$cli" --bytes "$relay_bytes" --runs "$runs"
    else
      echo "relay: skipped, $cli is not built"
      echo
    fi
  fi
  if wanted memory; then
    step 240 "$bench" memory --connections "$connections" --runs "$memory_runs"
  fi
  if wanted bulk || wanted pingpong; then step 240 "$build/bench/flowstack_vchan_bench" --bytes "$bulk_bytes" --round-trips "$round_trips" --runs "$runs"; fi
  if wanted tls; then
    step 600 "$build/bench/flowstack_tls_bench" "${tls_args[@]}" --runs "$runs"
  fi
  if wanted dns; then
    step 600 "$(dirname "$0")/dns/run.sh" --flowstack "$cli" "${dns_args[@]}"
  fi
  # The userspace stack: over the memory switch vs kernel loopback, with 1 % loss beside Mathis'
  # estimate, memory per connection, and (as root: it makes namespaces) over a TAP device vs veth.
  if wanted stack; then
    stack_bench=$build/bench/flowstack_stack_bench
    if [[ -x $stack_bench ]]; then
      step 240 "$stack_bench" throughput --bytes "$stack_bytes" --runs "$runs"
      step 240 "$stack_bench" throughput --loss 0.01 --delay 1 --bytes "$loss_bytes" --runs "$memory_runs"
      step 240 "$stack_bench" memory --connections "$connections"
      if [[ $(id -u) == 0 ]]; then
        step 300 "$stack_bench" tap --bytes "$tap_bytes" --runs "$memory_runs"
      else
        echo "stack tap: skipped, it needs root to make network namespaces"
        echo
      fi
    else
      echo "stack: skipped, $stack_bench is not built"
      echo
    fi
  fi
  if wanted buffer; then
    echo "buffer micro-benchmarks (Google Benchmark; time per operation)"
    # Only the result rows: the context block is the same on every run.
    timeout --kill-after=10 120 "$buffer_bench" --benchmark_min_time=0.2 2>/dev/null |
      sed -n '/^-\{10,\}/,$p' | sed 's/^/  /' || echo "  (failed or timed out)"
    echo
  fi
} 2>&1 | tee "$report"

if [[ -n $append ]]; then
  {
    echo
    echo "### Run of $(date -u '+%Y-%m-%d %H:%M UTC') (commit $commit)"
    echo
    echo '```'
    cat "$report"
    echo '```'
  } >>"$append"
  echo "appended to $append"
fi
