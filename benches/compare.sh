#!/usr/bin/env bash
# Compare our server with nginx-rtmp and the fan-out floor on the same scenarios.
#
#   benches/compare.sh                      # full run: REPS=3 DURATION=15 NS="100 500 1000" MULTI=20x20
#   REPS=1 DURATION=5 NS="50" benches/compare.sh   # smoke run
#
# env: REPS (3), DURATION seconds (15), NS single-publisher subscriber counts ("100 500 1000"),
#      MULTI "PxS" publishers x subscribers per stream ("20x20"; empty disables), PORT base (19741),
#      SERVERS ("floor nginx ours"), OUT folder for raw results (target/compare),
#      OURS server binary taking --listen ADDR (target/release/rtmp-server); "ours40" is the same binary
#      with --write-coalesce-ms 40 (throughput mode); "ours-csN" is ours with --chunk-size N (e.g. SERVERS="ours
#      ours-cs60000" compares chunk sizes in the same reps); PIN=1 pins servers to CPU 0 and the load to CPU 1.
#      BASE another build of our server (e.g. from an older commit) run as server "base" when SERVERS
#      names it: SERVERS="ours base" BASE=/path/rtmp-server NS=500 MULTI="" benches/compare.sh
#      Every start of our server (ours, ours40, base) gets --http-listen off when the binary has that
#      flag (its HTTP listener is on by default; an older build has none).
#      With "ours" in SERVERS, in the same reps as the RTMP rows:
#      HFLV scenarios ("1x500"; empty disables) where "ours-flv" also runs: ours with
#        --http-listen 127.0.0.1:$((PORT + 4)), its subscribers fetching HTTP-FLV (rtmp-bench --http-flv);
#        the ratio table gives ours-flv / ours (HTTP-FLV / RTMP) per metric.
#      SCRAPE scenarios ("" = off; e.g. SCRAPE=1x500) where "ours-scrape" also runs: the RTMP row again
#        while curl fetches /metrics and /api/v1/streams every second; compare its steady p99 with ours.
#      REPS=1 NS=500 MULTI="" SERVERS=ours SCRAPE=1x500 benches/compare.sh   # ours, ours-flv, ours-scrape
#      TLS scenarios ("1x500"; empty disables), in the same reps: with "ours" in SERVERS "ours-tls" (ours with
#        --tls-listen 127.0.0.1:$((PORT + 5)), publishers and subscribers over rtmps:// with rtmp-bench --insecure),
#        with "nginx" "nginx-tls" (one nginx process, master_process off as for nginx: nginx-rtmp on $((PORT + 2))
#        behind the stream module's TLS proxy on $((PORT + 6)); its CPU is that process's, RTMP and TLS proxy both).
#        Both serve $OUT/tls.crt, a self-signed RSA 2048 certificate for CN=localhost made once with openssl.
#        The ratio table gives ours-tls / nginx-tls, ours-tls / ours and nginx-tls / nginx; the goal of issue #13 is
#        ours-tls / nginx-tls CPU per Gbit <= 0.60 with ours-tls latency p99 < 30 ms (checked below the table).
#      REPS=1 NS=500 MULTI="" SERVERS="ours nginx" TLS=1x500 PIN=1 benches/compare.sh   # + ours-tls, nginx-tls
#      RELAY scenarios "KxN" ("1x500 2x250"; empty disables), with "ours" in SERVERS: row "ours-relayK" in scenario
#        1x(K*N): ours as an origin on $((PORT + 7)) with the publisher, K edge processes on $((PORT + 8)).. pulling
#        live/bench from it (--config $OUT/edge.toml: [apps.live] pull), N subscribers on each edge (one rtmp-bench:
#        --url at the origin, one --sub-url per edge); CPU and peak RSS summed over all K+1 processes (--server-pid
#        for each), latency end to end. The scenario 1x(K*N) is added to the scenarios if missing, so "ours" (one
#        process, K*N viewers) runs in the same reps; the relay table gives each row's latency minus ours's: with
#        K=1 that is the latency one hop adds (issue #12's goal: <= 2 ms at p50, <= 5 ms at p99 at 1x500).
#      REUSEPORT scenarios "KxN" ("" = off; e.g. REUSEPORT=2x500): row "ours-reuseportK" in scenario 1x(K*N): the
#        origin as above and K edges with --reuse-port all on $((PORT + 8)), the kernel spreading the K*N subscribers
#        over them (their split, from ss, is shown); compare delivered Mbit/s and p99 with ours (one process) and
#        ours-relay1 (one edge) at the same K*N. Not pinned even with PIN=1 (the point is using both cores).
#      REPS=1 DURATION=10 NS=500 MULTI="" SERVERS=ours HFLV="" TLS="" RELAY="1x500 2x250" benches/compare.sh
#      REPS=1 DURATION=10 NS=1000 MULTI="" SERVERS=ours HFLV="" TLS="" RELAY=1x1000 REUSEPORT=2x500 benches/compare.sh
#      PLOT (1; 0 disables): one picture per scenario, $OUT/SCEN.svg (rtmp-bench plot-compare): the latency CDF of every
#        row that ran in it (log axis; a row's reps averaged at each fraction) beside bars of server CPU s per delivered
#        Gbit, the floor's figure among them (it has no latency samples). benches/results/compare-1x20.svg is one.
# Scenario input: bench.flv (720p30 H.264 2.5 Mbit/s + AAC 128k, 60 s), made once with ffmpeg and cached.
# Every process started here is stopped by its PID and every wait is bounded. A server that fails
# (e.g. ours not built or not listening yet) is reported as failed at once ("compare: FAILED ...",
# with the reason) and in the table, and the script goes on.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REPS=${REPS:-3}; DURATION=${DURATION:-15}; NS=${NS:-"100 500 1000"}; MULTI=${MULTI-20x20}
PORT=${PORT:-19741}; SERVERS=${SERVERS:-"floor nginx ours ours40"}; OUT=${OUT:-$ROOT/target/compare}
HFLV=${HFLV-1x500}; SCRAPE=${SCRAPE-}; TLS=${TLS-1x500}; RELAY=${RELAY-1x500 2x250}; REUSEPORT=${REUSEPORT-}
PLOT=${PLOT:-1}
# PIN=1: every server on CPU 0, the load generator (rtmp-bench / sink) on CPU 1.
PIN=${PIN:-0}
if [ "$PIN" = 1 ]; then ON_SERVER="taskset -c 0"; ON_LOAD="taskset -c 1"; else ON_SERVER=""; ON_LOAD=""; fi
mkdir -p "$OUT"; RAW=$OUT/raw.txt; : > "$RAW"
FLV=$OUT/bench.flv
FLOOR=""
for d in ../shared/floor ../../shared/floor; do [ -f "$d/fanout.c" ] && { FLOOR=$(cd "$d" && pwd); break; }; done
NGINX_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
CERT=$OUT/tls.crt; KEY=$OUT/tls.key
HZ=$(getconf CLK_TCK)

log() { echo "compare: $*" >&2; }

if [ ! -s "$FLV" ]; then
  log "making $FLV (once)"
  ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -c:v libx264 -preset veryfast -b:v 2500k -g 60 -c:a aac -b:a 128k -t 60 -f flv "$FLV.tmp" && mv "$FLV.tmp" "$FLV" \
    || { log "ffmpeg failed"; exit 1; }
fi
if [ -n "$TLS" ] && [ ! -s "$KEY" ]; then
  log "making $CERT (once)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost -keyout "$KEY.tmp" -out "$CERT.tmp" 2> "$OUT/openssl.err" \
    && mv "$CERT.tmp" "$CERT" && mv "$KEY.tmp" "$KEY" || log "openssl failed (the TLS rows will fail): $(tail -n 3 "$OUT/openssl.err" | tr '\n' ' ')"
fi
cargo build --release --bin rtmp-bench >&2 || { log "cannot build rtmp-bench"; exit 1; }
cargo build --release --bin rtmp-server >&2 || log "cannot build rtmp-server (ours will fail)"
BENCH=$ROOT/target/release/rtmp-bench
if [ -n "$FLOOR" ]; then
  (cd "$OUT" && gcc -O2 -Wall -o fanout "$FLOOR/fanout.c" && gcc -O2 -Wall -o sink "$FLOOR/sink.c") || FLOOR=""
fi

# wait_port PORT PID: up to 5 s for a listener; fails if PID died.
wait_port() {
  local i
  for i in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

stop_pid() { kill "$1" 2>/dev/null; for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# json FILE KEY
json() { jq -r ".$2 // empty" "$1" 2>/dev/null; }

# record SERVER SCEN REP key=value...
record() { echo "server=$1 scen=$2 rep=$3 ${*:4}" >> "$RAW"; }

# fail SERVER SCEN REP WHY [DETAIL]: record a failed run (WHY: one word) and say so at once.
fail() {
  record "$1" "$2" "$3" ok=0 why="$4"
  log "FAILED: $1 $2 rep $3: $4${5:+ — $5}"
}

# tail_of FILE: its last lines on one line (for failure details)
tail_of() { tail -n 3 "$1" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

# bench_run SERVER SCEN REP P S [BENCH ARGS...]: rtmp-bench against a server already listening on
# $SPORT with pid $SPID (or pids: "PID PID ...", their CPU summed); JSON in $OUT/SERVER-SCEN-REP.json.
# SERVER *-tls: rtmps:// (any certificate).
bench_run() {
  local p=$4 s=$5 f=$OUT/$1-$2-$3 url="rtmp://127.0.0.1:$SPORT/live/bench" pid pids=()
  case $1 in *-tls) url="rtmps://127.0.0.1:$SPORT/live/bench" ;; esac
  shift 5
  case $url in rtmps:*) set -- --insecure "$@" ;; esac
  for pid in $SPID; do pids+=(--server-pid "$pid"); done
  timeout $((DURATION + 90)) $ON_LOAD "$BENCH" --url "$url" --flv "$FLV" \
    --publishers "$p" --subscribers "$s" --duration "$DURATION" "${pids[@]}" "$@" --json > "$f.json" 2> "$f.err"
}

# bench_record SERVER SCEN REP [key=value...]: the raw line of a bench_run
bench_record() {
  local server=$1 scen=$2 rep=$3 j=$OUT/$1-$2-$3.json
  if [ ! -s "$j" ]; then fail "$server" "$scen" "$rep" bench_failed "$(tail_of "$OUT/$1-$2-$3.err")"; return; fi
  if [ "$(json "$j" connected)" = 0 ]; then
    fail "$server" "$scen" "$rep" none_connected "$(json "$j" first_error)"; return
  fi
  record "$server" "$scen" "$rep" ok=1 connected="$(json "$j" connected)" failed="$(json "$j" failed)" \
    cpu_per_gbit="$(json "$j" server_cpu_s_per_gbit)" user_share="$(json "$j" server_user_share)" \
    lat_p50="$(json "$j" latency_ms_p50)" lat_p99="$(json "$j" latency_ms_p99)" lat_steady="$(json "$j" latency_ms_p99_steady)" startup_p50="$(json "$j" startup_ms_p50)" rss_mb="$(jq -r '(.server_peak_rss_kb // 0)/1024' "$j")" \
    delivered="$(json "$j" delivered_mbps)" expected="$(json "$j" expected_payload_mbps)" missing="$(json "$j" messages_missing)" \
    kind="$(json "$j" subscriber_kind)" cpu_each="$(jq -r '(.server_cpu_s_each // []) | map(tostring) | join("/")' "$j" 2>/dev/null)" \
    per_edge="$(jq -r '(.connected_per_sub_url // []) | map(tostring) | join("/")' "$j" 2>/dev/null)" "${@:4}"
}

# run_bench SERVER SCEN REP P S [BENCH ARGS...]
run_bench() { bench_run "$@"; bench_record "$1" "$2" "$3"; }

# run_nginx SCEN REP P S [NAME]: NAME nginx (default) or nginx-tls. master_process off: one process
# (no workers) does all of nginx's work, so the CPU and RSS of $SPID are all of nginx's; nginx-tls
# loads the stream module in the same process, its TLS proxy on $((PORT + 6)) in front of the RTMP port.
run_nginx() {
  local scen=$1 rep=$2 p=$3 s=$4 name=${5:-nginx} dir rport=$((PORT + 2)) modules stream="" kids
  if ! command -v nginx >/dev/null || [ ! -f "$NGINX_MODULE" ]; then fail "$name" "$scen" "$rep" not_installed "nginx, $NGINX_MODULE"; return; fi
  modules="load_module $NGINX_MODULE;"; SPORT=$rport
  if [ "$name" = nginx-tls ]; then
    if [ ! -f "$NGINX_STREAM_MODULE" ]; then fail "$name" "$scen" "$rep" not_installed "$NGINX_STREAM_MODULE (libnginx-mod-stream)"; return; fi
    if [ ! -s "$KEY" ]; then fail "$name" "$scen" "$rep" no_cert "$CERT"; return; fi
    modules="$modules load_module $NGINX_STREAM_MODULE;"; SPORT=$((PORT + 6))
    # TLS 1.3 as ours (nginx 1.22's default stops at TLS 1.2).
    stream="stream { server { listen 127.0.0.1:$SPORT ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $CERT; ssl_certificate_key $KEY;"
    stream="$stream proxy_pass 127.0.0.1:$rport; } }"
  fi
  dir=$(mktemp -d)
  cat > "$dir/nginx.conf" <<CONF
$modules daemon off; master_process off; error_log stderr warn; pid $dir/nginx.pid;
worker_rlimit_nofile 8192; events { worker_connections 8192; }
rtmp { server { listen 127.0.0.1:$rport; chunk_size 4096; application live { live on; publish_notify on; } } }
$stream
CONF
  $ON_SERVER nginx -e stderr -c "$dir/nginx.conf" -p "$dir" 2> "$OUT/$name.log" & SPID=$!
  if ! wait_port "$rport" "$SPID" || ! wait_port "$SPORT" "$SPID"; then
    fail "$name" "$scen" "$rep" not_listening "$(tail_of "$OUT/$name.log")"
  elif kids=$(pgrep -P "$SPID" | tr '\n' ' ') && [ -n "$kids" ]; then
    # Processes besides $SPID would do work its /proc/PID/stat does not count.
    fail "$name" "$scen" "$rep" child_processes "nginx $SPID has children $kids; the CPU of $SPID alone would undercount"
  else
    run_bench "$name" "$scen" "$rep" "$p" "$s"
  fi
  stop_pid "$SPID"; rm -rf "$dir"
}

# has_http BIN: the binary has --http-listen (a baseline build may not)
has_http() { "$1" --help 2>&1 | grep -q -- --http-listen; }
# has_tls BIN: the binary has --tls-listen
has_tls() { "$1" --help 2>&1 | grep -q -- --tls-listen; }

# scrape_loop URL FILE: every second GET URL/metrics and URL/api/v1/streams; "path status" lines into FILE
scrape_loop() {
  local u
  while :; do
    for u in metrics api/v1/streams; do
      echo "$u $(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1/$u")" >> "$2"
    done
    sleep 1
  done
}

# run_ours SCEN REP P S [NAME [SERVER ARGS...]]
# NAME ours-flv: HTTP listener on $HPORT, HTTP-FLV subscribers; ours-scrape: HTTP listener on $HPORT,
# RTMP subscribers, scrape_loop during the bench. Any other name: --http-listen off if supported.
# NAME ours-tls: also --tls-listen on $((PORT + 5)) with $CERT, the bench over rtmps:// there.
run_ours() {
  local scen=$1 rep=$2 p=$3 s=$4 name=${5:-ours} bin=${OURS:-$ROOT/target/release/rtmp-server}
  local http=() bargs=() tls=() sf scp n_ok n_bad rport
  [ "$name" = base ] && bin=${BASE:-}
  shift 5 2>/dev/null || shift $#
  SPORT=$((PORT + 3)); HPORT=$((PORT + 4)); rport=$SPORT
  if [ ! -x "$bin" ]; then fail "$name" "$scen" "$rep" not_built "$bin"; return; fi
  if [ "$name" = ours-tls ]; then
    if ! has_tls "$bin"; then fail "$name" "$scen" "$rep" no_tls_listen "$bin has no --tls-listen"; return; fi
    if [ ! -s "$KEY" ]; then fail "$name" "$scen" "$rep" no_cert "$CERT"; return; fi
    SPORT=$((PORT + 5)); tls=(--tls-listen "127.0.0.1:$SPORT" --tls-cert "$CERT" --tls-key "$KEY")
  fi
  case $name in
    ours-flv|ours-scrape)
      if ! has_http "$bin"; then fail "$name" "$scen" "$rep" no_http_listen "$bin has no --http-listen (no HTTP side yet)"; return; fi
      http=(--http-listen "127.0.0.1:$HPORT") ;;
    *) if has_http "$bin"; then http=(--http-listen off); fi ;;
  esac
  [ "$name" = ours-flv ] && bargs=(--http-flv "http://127.0.0.1:$HPORT")
  $ON_SERVER "$bin" --listen "127.0.0.1:$rport" "${http[@]}" "${tls[@]}" "$@" > "$OUT/$name.log" 2>&1 & SPID=$!
  if ! wait_port "$rport" "$SPID" || ! wait_port "$SPORT" "$SPID"; then
    fail "$name" "$scen" "$rep" not_listening "$(tail_of "$OUT/$name.log")"
  elif [ "${http[1]:-off}" != off ] && ! wait_port "$HPORT" "$SPID"; then
    fail "$name" "$scen" "$rep" http_not_listening "$(tail_of "$OUT/$name.log")"
  elif [ "$name" = ours-scrape ]; then
    sf=$OUT/$name-$scen-$rep.scrape; : > "$sf"
    scrape_loop "http://127.0.0.1:$HPORT" "$sf" & scp=$!
    bench_run "$name" "$scen" "$rep" "$p" "$s"
    stop_pid "$scp"
    n_ok=$(grep -c ' 200$' "$sf"); n_bad=$(grep -vc ' 200$' "$sf")
    if [ "$n_ok" = 0 ]; then
      fail "$name" "$scen" "$rep" scrape_failed "no scrape answered 200: $(sort "$sf" | uniq -c | awk '{printf "/%s %s x%s; ", $2, $3, $1}')"
    else
      [ "$n_bad" = 0 ] || log "$name $scen rep $rep: $n_bad of $((n_ok + n_bad)) scrapes not answered 200"
      bench_record "$name" "$scen" "$rep" scrapes_ok="$n_ok" scrapes_failed="$n_bad"
    fi
  else
    run_bench "$name" "$scen" "$rep" "$p" "$s" "${bargs[@]}"
  fi
  stop_pid "$SPID"
}

# wait_log FILE TEXT PID: up to 5 s for TEXT in the log FILE; fails if PID died.
wait_log() {
  local i
  for i in $(seq 1 100); do
    kill -0 "$3" 2>/dev/null || return 1
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# spread_of PORT PIDS: established connections on local PORT per process, "A/B/..." in the order of PIDS
spread_of() {
  local s pid out=""
  s=$(ss -Htnp state established "( sport = :$1 )" 2>/dev/null)
  for pid in $2; do out="$out${out:+/}$(grep -c "pid=$pid," <<< "$s")"; done
  echo "$out"
}

# run_relay SCEN REP K N NAME: ours as an origin on $((PORT + 7)) with the publisher, K edges pulling from it,
# K*N subscribers on the edges, CPU summed over all K+1 processes. NAME ours-relayK: the edges on their own
# ports $((PORT + 8)).., one --sub-url each; ours-reuseportK: all on $((PORT + 8)) with --reuse-port (not
# pinned), the kernel spreading the subscribers; their split per edge (ss, mid-run) recorded as "spread".
run_relay() {
  local scen=$1 rep=$2 k=$3 n=$4 name=$5 bin=${OURS:-$ROOT/target/release/rtmp-server}
  local oport=$((PORT + 7)) eport=$((PORT + 8)) conf=$OUT/edge.toml pids="" edges="" bargs=() reuse=() on=$ON_SERVER
  local i port pid why="" detail="" spread="" sf sp
  if [ ! -x "$bin" ]; then fail "$name" "$scen" "$rep" not_built "$bin"; return; fi
  if ! "$bin" --help 2>&1 | grep -q -- --config; then fail "$name" "$scen" "$rep" no_config "$bin has no --config"; return; fi
  case $name in
    ours-reuseport*)
      if ! "$bin" --help 2>&1 | grep -q -- --reuse-port; then fail "$name" "$scen" "$rep" no_reuse_port "$bin has no --reuse-port"; return; fi
      reuse=(--reuse-port); on=""; bargs=(--sub-url "rtmp://127.0.0.1:$eport/live/bench") ;;
  esac
  printf '[apps.live]\npull = ["rtmp://127.0.0.1:%s/live"]\n' "$oport" > "$conf"
  $ON_SERVER "$bin" --listen "127.0.0.1:$oport" --http-listen off > "$OUT/$name-origin.log" 2>&1 & pid=$!; pids=$pid
  wait_port "$oport" "$pid" || { why=not_listening; detail="origin: $(tail_of "$OUT/$name-origin.log")"; }
  for i in $(seq 1 "$k"); do
    [ -z "$why" ] || break
    port=$eport; [ ${#reuse[@]} = 0 ] && { port=$((eport + i - 1)); bargs+=(--sub-url "rtmp://127.0.0.1:$port/live/bench"); }
    $on "$bin" --listen "127.0.0.1:$port" --http-listen off --config "$conf" "${reuse[@]}" > "$OUT/$name-edge$i.log" 2>&1 & pid=$!
    pids="$pids $pid"; edges="$edges $pid"
    # With --reuse-port the port answers as soon as the first edge listens: wait for each one's own line.
    wait_log "$OUT/$name-edge$i.log" "listening on" "$pid" && wait_port "$port" "$pid" \
      || { why=not_listening; detail="edge $i: $(tail_of "$OUT/$name-edge$i.log")"; }
  done
  if [ -n "$why" ]; then
    fail "$name" "$scen" "$rep" "$why" "$detail"
  else
    SPORT=$oport; SPID=$pids
    if [ ${#reuse[@]} -gt 0 ]; then
      # Mid-run (the subscribers connect about 1 s after the bench starts): who got how many.
      sf=$OUT/$name-$scen-$rep.spread; : > "$sf"
      (sleep $((DURATION / 2 + 2)); spread_of "$eport" "$edges" > "$sf") & sp=$!
    fi
    bench_run "$name" "$scen" "$rep" 1 $((k * n)) "${bargs[@]}"
    if [ -n "${sp:-}" ]; then stop_pid "$sp"; spread=$(cat "$sf" 2>/dev/null); spread=${spread:-n/a}; fi
    bench_record "$name" "$scen" "$rep" procs=$((k + 1)) spread="$spread"
  fi
  for pid in $pids; do stop_pid "$pid"; done
}

# The floor has one stream: P x S runs as P*S subscribers of one stream.
run_floor() {
  local scen=$1 rep=$2 n=$3 fp sp rss=0 f=$OUT/fanout.out k
  if [ -z "$FLOOR" ]; then fail floor "$scen" "$rep" not_found "../shared/floor/fanout.c"; return; fi
  $ON_SERVER "$OUT/fanout" $((PORT + 1)) "$n" "$DURATION" > "$f" 2> "$OUT/fanout.err" & fp=$!
  sleep 0.3
  $ON_LOAD "$OUT/sink" $((PORT + 1)) "$n" "$DURATION" > "$OUT/sink.out" 2> "$OUT/sink.err" & sp=$!
  while kill -0 "$fp" 2>/dev/null; do
    k=$(awk '/^VmHWM:/{print $2}' "/proc/$fp/status" 2>/dev/null); [ -n "$k" ] && rss=$k; sleep 0.5
  done
  wait "$sp"; wait "$fp"
  if ! grep -q cpu_s_per_gbit "$f"; then fail floor "$scen" "$rep" fanout_failed "$(tail_of "$OUT/fanout.err")"; return; fi
  g() { tr ' ' '\n' < "$f" | awk -F= -v k="$1" '$1==k{print $2}'; }
  record floor "$scen" "$rep" ok=1 connected="$n" failed=0 cpu_per_gbit="$(g cpu_s_per_gbit)" \
    user_share="$(awk -v u="$(g cpu_user_s)" -v c="$(g cpu_s)" 'BEGIN{ if (c > 0) printf "%.3f", u/c }')" \
    lat_p99="$(g max_lag_ms)" lat_steady="$(g max_lag_ms)" startup_p50="" rss_mb="$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')" \
    delivered="$(awk -v g="$(g gbit)" -v d="$(g elapsed_s)" 'BEGIN{ if (d > 0) printf "%.1f", g*1000/d }')" expected="" missing=0
}

SCENS=""
for n in $NS; do SCENS="$SCENS 1x$n"; done
[ -n "$MULTI" ] && SCENS="$SCENS $MULTI"
# has_word LIST WORD: WORD is one of the words of LIST
has_word() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
EXTRA=""
# RELAY / REUSEPORT "KxN": rows ours-relayK / ours-reuseportK in scenario 1x(K*N) (added if missing).
# RSCEN: "ROW@SCEN@K@N" for each.
RSCEN=""
if has_word "$SERVERS" ours; then
  [ -n "$HFLV" ] && EXTRA="$EXTRA ours-flv"
  [ -n "$SCRAPE" ] && EXTRA="$EXTRA ours-scrape"
  [ -n "$TLS" ] && EXTRA="$EXTRA ours-tls"
  for kind in relay reuseport; do
    if [ $kind = relay ]; then list=$RELAY; else list=$REUSEPORT; fi
    for kn in $list; do
      k=${kn%%x*}; n=${kn#*x}
      case "$k" in ""|*[!0-9]*) k=bad ;; esac; case "$n" in ""|*[!0-9]*) k=bad ;; esac
      if [ "$k" = bad ] || [ "$k" = 0 ]; then log "ignoring ${kind^^} entry $kn (want KxN, K >= 1)"; continue; fi
      has_word "$SCENS" "1x$((k * n))" || SCENS="$SCENS 1x$((k * n))"
      has_word "$EXTRA" "ours-$kind$k" || EXTRA="$EXTRA ours-$kind$k"
      RSCEN="$RSCEN ours-$kind$k@1x$((k * n))@$k@$n"
    done
  done
fi
has_word "$SERVERS" nginx && [ -n "$TLS" ] && EXTRA="$EXTRA nginx-tls"
for scen in $SCENS; do
  p=${scen%x*}; s=${scen#*x}; total=$((p * s))
  for rep in $(seq 1 "$REPS"); do
    for server in $SERVERS $EXTRA; do
      case $server in
        ours-flv) has_word "$HFLV" "$scen" || continue ;;
        ours-scrape) has_word "$SCRAPE" "$scen" || continue ;;
        ours-tls|nginx-tls) has_word "$TLS" "$scen" || continue ;;
        ours-relay*|ours-reuseport*) rs=$(tr ' ' '\n' <<< "$RSCEN" | grep -m1 "^$server@$scen@") || continue ;;
      esac
      log "$server $scen rep $rep"
      case $server in
        floor) run_floor "$scen" "$rep" "$total" ;;
        nginx|nginx-tls) run_nginx "$scen" "$rep" "$p" "$total" "$server" ;;
        ours) run_ours "$scen" "$rep" "$p" "$total" ours ;;
        ours40) run_ours "$scen" "$rep" "$p" "$total" ours40 --write-coalesce-ms 40 ;;
        ours-cs[0-9]*) run_ours "$scen" "$rep" "$p" "$total" "$server" --chunk-size "${server#ours-cs}" ;;
        base) run_ours "$scen" "$rep" "$p" "$total" base ;;
        ours-flv|ours-scrape|ours-tls) run_ours "$scen" "$rep" "$p" "$total" "$server" ;;
        ours-relay*|ours-reuseport*) rs=${rs#*@*@}; run_relay "$scen" "$rep" "${rs%@*}" "${rs#*@}" "$server" ;;
      esac
      sleep 1
    done
  done
done

# plot_scenario SCEN: $OUT/SCEN.svg from the runs of SCEN recorded ok: each row's rtmp-bench JSON (its reps one
# curve), the floor's CPU per Gbit as a figure.
plot_scenario() {
  local scen=$1 p=${1%x*} s=${1#*x} args=() server rep cpu
  while read -r server rep cpu; do
    if [ "$server" = floor ]; then
      [ -n "$cpu" ] && args+=(--cpu-per-gbit "floor=$cpu")
    elif [ -s "$OUT/$server-$scen-$rep.json" ]; then
      args+=(--run "$server=$OUT/$server-$scen-$rep.json")
    fi
  done < <(awk -v c="$scen" '{
    delete f; for (i = 1; i <= NF; i++) { split($i, a, "="); f[a[1]] = a[2] }
    if (f["scen"] == c && f["ok"] == 1) print f["server"], f["rep"], f["cpu_per_gbit"] }' "$RAW")
  [ ${#args[@]} -gt 0 ] || return 0
  if "$BENCH" plot-compare --out "$OUT/$scen.svg" "${args[@]}" \
      --title "scenario $scen: $p publisher(s) x $s subscribers, ${DURATION} s, $REPS rep(s)" 2> "$OUT/plot-$scen.err"; then
    log "picture: $OUT/$scen.svg"
  else
    log "picture $scen failed: $(tail_of "$OUT/plot-$scen.err")"
  fi
}
if [ "$PLOT" = 1 ]; then for scen in $SCENS; do plot_scenario "$scen"; done; fi

# Table: median [min-max] per metric and server, ratios of medians.
awk -v servers="$SERVERS $EXTRA" -v scens="$SCENS" '
function g(k,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "" }
function med(key,   n, i, j, t, v) {
  n = split(vals[key], v, " "); if (n == 0 || vals[key] == "") return ""
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
  lo[key] = v[1]; hi[key] = v[n]
  return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function cell(key, fmt,   m) { m = med(key); if (m == "") return "n/a"; if (sprintf(fmt, lo[key]) == sprintf(fmt, hi[key])) return sprintf(fmt, m); return sprintf(fmt " [" fmt "–" fmt "]", m, lo[key], hi[key]) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "n/a" : sprintf("%.2f", a / b) }
{
  s = g("server"); c = g("scen"); runs[s, c]++
  if (g("ok") != 1) { fails[s, c]++; why[s, c] = g("why"); next }
  if (g("scrapes_ok") != "") { sok[s, c] += g("scrapes_ok"); sbad[s, c] += g("scrapes_failed") }
  nm = split("cpu_per_gbit user_share lat_p50 lat_p99 lat_steady startup_p50 rss_mb delivered expected missing connected procs", ms, " ")
  for (i = 1; i <= nm; i++) { v = g(ms[i]); if (v != "") vals[s, c, ms[i]] = vals[s, c, ms[i]] (vals[s, c, ms[i]] == "" ? "" : " ") v }
  # Relay rows: CPU per process, subscribers per edge (the last run ok of each).
  if (g("procs") != "") { each[s, c] = g("cpu_each"); split_[s, c] = (g("spread") != "" ? g("spread") : g("per_edge")) }
}
function diff(a, b) { return (a == "" || b == "") ? "n/a" : sprintf("%+.1f", a - b) }
function num1(v) { return (v == "") ? "n/a" : sprintf("%.1f", v) }
END {
  ns = split(servers, sv, " "); nc = split(scens, cv, " ")
  print "| scenario | server | runs ok | subs connected | delivered Mbit/s | CPU s / delivered Gbit | user share | latency p99 ms | steady p99 ms | startup p50 ms | peak RSS MB |"
  print "|---|---|---|---|---|---|---|---|---|---|---|"
  for (i = 1; i <= nc; i++) for (j = 1; j <= ns; j++) {
    s = sv[j]; c = cv[i]; ok = runs[s, c] - fails[s, c]
    if (runs[s, c] + 0 == 0) continue
    note = (fails[s, c] > 0) ? " (failed: " why[s, c] ")" : ""
    printf "| %s | %s%s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s |\n", c, s, (s == "floor" ? "*" : ""), ok, runs[s, c] + 0,
      cell(s SUBSEP c SUBSEP "connected", "%d"), cell(s SUBSEP c SUBSEP "delivered", "%.0f"), cell(s SUBSEP c SUBSEP "cpu_per_gbit", "%.3f"),
      cell(s SUBSEP c SUBSEP "user_share", "%.2f"), cell(s SUBSEP c SUBSEP "lat_p99", "%.1f"), cell(s SUBSEP c SUBSEP "lat_steady", "%.1f"), cell(s SUBSEP c SUBSEP "startup_p50", "%.0f"),
      cell(s SUBSEP c SUBSEP "rss_mb", "%.1f") note
  }
  print ""
  print "| scenario | ratio | CPU / Gbit | user share | latency p99 | steady p99 | startup p50 | peak RSS |"
  print "|---|---|---|---|---|---|---|---|"
  split("cpu_per_gbit user_share lat_p99 lat_steady startup_p50 rss_mb", ks, " ")
  for (i = 1; i <= nc; i++) {
    c = cv[i]
    for (j = 1; j <= ns; j++) {
      mine = sv[j]
      # Variants of ours in the same reps: beside the plain RTMP row.
      if (mine ~ /^ours-/ && runs[mine, c] + 0 > 0) {
        line = "| " c " | " mine " / ours (" (mine == "ours-flv" ? "HTTP-FLV / RTMP" : mine == "ours-scrape" ? "scraped / not" : mine == "ours-tls" ? "RTMPS / RTMP" \
          : mine ~ /^ours-relay/ ? "origin + " substr(mine, 11) " edge(s) / one process" : mine ~ /^ours-reuseport/ ? "origin + " substr(mine, 15) " edge(s) on one port / one process" : "variant") ")"
        for (k = 1; k <= 6; k++) line = line " | " ratio(med(mine SUBSEP c SUBSEP ks[k]), med("ours" SUBSEP c SUBSEP ks[k]))
        print line " |"
      }
      # RTMPS: ours against nginx-rtmp behind its TLS proxy, and what TLS costs nginx.
      if (mine == "ours-tls" && runs[mine, c] + 0 > 0 && runs["nginx-tls", c] + 0 > 0) {
        line = "| " c " | ours-tls / nginx-tls"
        for (k = 1; k <= 6; k++) line = line " | " ratio(med("ours-tls" SUBSEP c SUBSEP ks[k]), med("nginx-tls" SUBSEP c SUBSEP ks[k]))
        print line " |"
      }
      if (mine == "nginx-tls" && runs["nginx", c] + 0 > 0 && runs[mine, c] + 0 > 0) {
        line = "| " c " | nginx-tls / nginx (RTMPS / RTMP)"
        for (k = 1; k <= 6; k++) line = line " | " ratio(med(mine SUBSEP c SUBSEP ks[k]), med("nginx" SUBSEP c SUBSEP ks[k]))
        print line " |"
      }
      if (mine !~ /^ours[0-9]*$/) continue
      for (r = 1; r <= 3; r++) {
        other = (r == 1) ? "nginx" : (r == 2) ? "floor" : "base"
        if (index(" " servers " ", " " other " ") == 0) continue
        line = "| " c " | " mine " / " other
        for (k = 1; k <= 6; k++) line = line " | " ratio(med(mine SUBSEP c SUBSEP ks[k]), med(other SUBSEP c SUBSEP ks[k]))
        print line " |"
      }
    }
  }
  print ""
  print "*floor: fanout.c/sink.c from the shared floor folder, one stream with P*S subscribers; its latency column is the"
  print "fanout max emit lag (no RTMP), it has no startup time. Steady p99: live frames published 3 s or more after the viewer connected."
  print "Latency p99 counts every live frame (published after the viewer connected; cached GOP frames are excluded). CPU = server user+sys from /proc/PID/stat (floor: getrusage)."
  if (index(" " servers " ", " ours-flv ") > 0)
    print "ours-flv: ours with its HTTP listener on, the same subscribers fetching /live/bench.flv over HTTP-FLV (delivered = HTTP-FLV bytes on the wire)."
  if (index(" " servers " ", " ours-tls ") > 0)
    print "ours-tls: ours with --tls-listen, publishers and subscribers over rtmps:// (rustls, any certificate accepted)."
  if (index(" " servers " ", " nginx-tls ") > 0)
    print "nginx-tls: nginx-rtmp behind the TLS proxy of the nginx stream module, in one nginx process (master_process off): its CPU is both."
  # The goal of issue #13, judged on the medians: CPU per Gbit and latency p99 (all live frames; steady beside it).
  for (i = 1; i <= nc; i++) {
    c = cv[i]
    if (runs["ours-tls", c] + 0 == 0 || runs["nginx-tls", c] + 0 == 0) continue
    a = med("ours-tls" SUBSEP c SUBSEP "cpu_per_gbit"); b = med("nginx-tls" SUBSEP c SUBSEP "cpu_per_gbit")
    p99 = med("ours-tls" SUBSEP c SUBSEP "lat_p99"); st = med("ours-tls" SUBSEP c SUBSEP "lat_steady")
    print "RTMPS goal " c ": ours-tls / nginx-tls CPU per Gbit " ratio(a, b) " (<= 0.60: " ((a != "" && b + 0 > 0 && a / b <= 0.60) ? "met" : "not met") \
      "); ours-tls latency p99 " (p99 == "" ? "n/a" : sprintf("%.1f", p99)) " ms (< 30: " ((p99 != "" && p99 + 0 < 30) ? "met" : "not met") \
      "), steady p99 " (st == "" ? "n/a" : sprintf("%.1f", st)) " ms (< 30: " ((st != "" && st + 0 < 30) ? "met" : "not met") ")"
  }
  # Relay and scale-out: each relay row beside ours (one process, the same viewers) in its scenario.
  nr = 0
  for (j = 1; j <= ns; j++) if (sv[j] ~ /^ours-(relay|reuseport)[0-9]+$/) rows[++nr] = sv[j]
  if (nr > 0) {
    print ""
    print "| scenario | row | processes | subs per edge | delivered Mbit/s | expected Mbit/s | missing | CPU s / Gbit, all processes | CPU s per process | latency p50 ms | latency p99 ms | steady p99 ms | hop p50 ms | hop p99 ms | hop steady p99 ms |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= nc; i++) {
      c = cv[i]; shown = 0
      for (r = 1; r <= nr; r++) {
        row = rows[r]
        if (runs[row, c] + 0 == 0) continue
        if (!shown && runs["ours", c] + 0 > 0) {
          k = "ours" SUBSEP c SUBSEP
          printf "| %s | ours%s | 1 | | %s | %s | %s | %s | | %s | %s | %s | | | |\n", c, (fails["ours", c] > 0 ? " (failed: " why["ours", c] ")" : ""), num1(med(k "delivered")), num1(med(k "expected")), (med(k "missing") == "" ? "n/a" : med(k "missing")),
            (med(k "cpu_per_gbit") == "" ? "n/a" : sprintf("%.3f", med(k "cpu_per_gbit"))), num1(med(k "lat_p50")), num1(med(k "lat_p99")), num1(med(k "lat_steady"))
          shown = 1
        }
        k = row SUBSEP c SUBSEP; o = "ours" SUBSEP c SUBSEP
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c, row (fails[row, c] > 0 ? " (failed: " why[row, c] ")" : ""), (med(k "procs") == "" ? "n/a" : med(k "procs")), split_[row, c],
          num1(med(k "delivered")), num1(med(k "expected")), (med(k "missing") == "" ? "n/a" : med(k "missing")),
          (med(k "cpu_per_gbit") == "" ? "n/a" : sprintf("%.3f", med(k "cpu_per_gbit"))), each[row, c],
          num1(med(k "lat_p50")), num1(med(k "lat_p99")), num1(med(k "lat_steady")),
          diff(med(k "lat_p50"), med(o "lat_p50")), diff(med(k "lat_p99"), med(o "lat_p99")), diff(med(k "lat_steady"), med(o "lat_steady"))
      }
    }
    print ""
    print "ours-relayK: ours as an origin (the publisher) + K edge processes pulling from it, the viewers on the edges; ours-reuseportK: the same with the K edges"
    print "sharing one port (--reuse-port), the kernel spreading the viewers. CPU is summed over every server process (origin first in the per-process column);"
    print "latency is end to end (publisher to viewer, through the hop); hop = the row minus ours (one process, publisher and the same number of viewers on it)."
    for (i = 1; i <= nc; i++) {
      c = cv[i]
      if (runs["ours-relay1", c] + 0 == 0 || runs["ours", c] + 0 == 0) continue
      a = med("ours-relay1" SUBSEP c SUBSEP "lat_p50") ; b = med("ours" SUBSEP c SUBSEP "lat_p50")
      h50 = (a == "" || b == "") ? "" : a - b
      a = med("ours-relay1" SUBSEP c SUBSEP "lat_p99") ; b = med("ours" SUBSEP c SUBSEP "lat_p99")
      h99 = (a == "" || b == "") ? "" : a - b
      a = med("ours-relay1" SUBSEP c SUBSEP "lat_steady") ; b = med("ours" SUBSEP c SUBSEP "lat_steady")
      hst = (a == "" || b == "") ? "" : a - b
      print "Relay goal " c " (one hop, ours-relay1 - ours): p50 " (h50 == "" ? "n/a" : sprintf("%+.1f ms", h50)) " (<= 2: " ((h50 != "" && h50 <= 2) ? "met" : "not met") \
        "), p99 " (h99 == "" ? "n/a" : sprintf("%+.1f ms", h99)) " (<= 5: " ((h99 != "" && h99 <= 5) ? "met" : "not met") \
        "), steady p99 " (hst == "" ? "n/a" : sprintf("%+.1f ms", hst)) " (<= 5: " ((hst != "" && hst <= 5) ? "met" : "not met") ")"
    }
    for (i = 1; i <= nc; i++) for (r = 1; r <= nr; r++) {
      c = cv[i]; row = rows[r]
      if (row !~ /^ours-reuseport/ || runs[row, c] + 0 == 0) continue
      line = "Scale-out " c ": " row " delivered " num1(med(row SUBSEP c SUBSEP "delivered")) " of " num1(med(row SUBSEP c SUBSEP "expected")) " Mbit/s at p99 " \
        num1(med(row SUBSEP c SUBSEP "lat_p99")) " ms (steady " num1(med(row SUBSEP c SUBSEP "lat_steady")) "), viewers per edge " split_[row, c]
      for (q = 1; q <= 2; q++) {
        other = (q == 1) ? "ours" : "ours-relay1"
        if (runs[other, c] + 0 == 0) continue
        line = line "; " other " " num1(med(other SUBSEP c SUBSEP "delivered")) " of " num1(med(other SUBSEP c SUBSEP "expected")) " at p99 " num1(med(other SUBSEP c SUBSEP "lat_p99")) \
          " ms (steady " num1(med(other SUBSEP c SUBSEP "lat_steady")) "): delivered " ratio(med(row SUBSEP c SUBSEP "delivered"), med(other SUBSEP c SUBSEP "delivered")) "x"
      }
      print line
    }
  }
  if (index(" " servers " ", " ours-scrape ") > 0) {
    print "ours-scrape: ours with its HTTP listener on and RTMP subscribers, while curl GETs /metrics and /api/v1/streams every second."
    for (i = 1; i <= nc; i++) if ((("ours-scrape", cv[i]) in sok))
      print "ours-scrape " cv[i] ": " sok["ours-scrape", cv[i]] " scrapes answered 200, " sbad["ours-scrape", cv[i]] " not."
  }
  nf = 0
  for (k in fails) nf += fails[k]
  if (nf > 0) {
    print ""
    print "FAILED runs (reasons in the log lines \"compare: FAILED ...\" above and in the table):"
    for (i = 1; i <= nc; i++) for (j = 1; j <= ns; j++) if (fails[sv[j], cv[i]] > 0)
      print "- " sv[j] " " cv[i] ": " fails[sv[j], cv[i]] " of " runs[sv[j], cv[i]] " failed (" why[sv[j], cv[i]] ")"
  }
}' "$RAW"
