#!/usr/bin/env bash
# A/B of two server builds on one scenario, runs alternating (A, B, A, B, ...)
# so that drift in the machine's speed falls on both alike; pinned like
# compare.sh's PIN=1 (server on CPU 0, rtmp-bench on CPU 1). For deciding
# whether a change to the server is worth keeping: compare.sh is the place
# for figures beside nginx-rtmp and the floor.
#
#   benches/ab.sh OLD_BIN NEW_BIN                 # 4 pairs of 200x1, 15 s each
#   PAIRS=3 P=1 S=500 DURATION=10 benches/ab.sh OLD_BIN NEW_BIN -- --chunk-size 4096
#
# Arguments after `--` go to both servers. Needs target/release/rtmp-bench and
# the FLV compare.sh makes (target/compare/bench.flv; run compare.sh once).
# Prints each run, then per build the mean CPU seconds per delivered Gbit and
# its user and system parts.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=${1:?old server binary}; B=${2:?new server binary}; shift 2
[ "${1:-}" = "--" ] && shift
PAIRS=${PAIRS:-4}; P=${P:-200}; S=${S:-200}; DURATION=${DURATION:-15}; PORT=${PORT:-19931}
BENCH=$ROOT/target/release/rtmp-bench; FLV=${FLV:-$ROOT/target/compare/bench.flv}
[ -x "$BENCH" ] || { echo "ab.sh: build rtmp-bench first (cargo build --release)" >&2; exit 2; }
[ -f "$FLV" ] || { echo "ab.sh: $FLV missing (benches/compare.sh makes it)" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

run() { # run NAME BIN: one pinned run; a line "NAME cpu user connected missing p99"
  local name=$1 bin=$2 spid
  shift 2
  taskset -c 0 "$bin" --listen "127.0.0.1:$PORT" --http-listen off "$@" > "$OUT/server.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  taskset -c 1 timeout $((DURATION + 60)) "$BENCH" --url "rtmp://127.0.0.1:$PORT/live/bench" --flv "$FLV" \
    --publishers "$P" --subscribers "$S" --duration "$DURATION" --server-pid "$spid" --json > "$OUT/b.json" 2> "$OUT/b.err" || true
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
  jq -r --arg n "$name" '"\($n) \(.server_cpu_s_per_gbit) \(.server_cpu_s_per_gbit * .server_user_share) \(.connected) \(.messages_missing) \(.latency_ms_p99_steady)"' "$OUT/b.json"
}

echo "# build cpu_s_per_gbit user_s_per_gbit connected missing steady_p99_ms"
for _ in $(seq 1 "$PAIRS"); do
  run A "$A" "$@"
  run B "$B" "$@"
done | tee "$OUT/runs"
awk '{ c[$1] += $2; u[$1] += $3; n[$1]++ }
  END { for (k in c) printf "%s: CPU %.3f s/Gbit (user %.3f, system %.3f), mean of %d runs\n", k, c[k] / n[k], u[k] / n[k], (c[k] - u[k]) / n[k], n[k] }' "$OUT/runs" | sort
