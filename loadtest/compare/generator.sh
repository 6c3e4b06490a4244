#!/usr/bin/env bash
# make bench-generator: the load tester's own ceiling next to wrk's, in
# alternated rounds against one static nginx (a small chat completion), same
# connection count: round i runs wrk, then the load tester, each for ROUND
# seconds, so slow drift of a shared machine touches both alike. Prints each
# round, the medians, the ratio and each tool's CPU use.
#
# Environment: ROUNDS (default 9), ROUND (3s), CONNS (64), THREADS (2),
# CLIENT (the load tester's --client: auto, which takes its epoll event loop
# for this closed-loop plain load; fasthttp for the goroutine-per-user one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-9}
ROUND=${ROUND:-3s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
CLIENT=${CLIENT:-auto}
UP=18091

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if ((${#need[@]})); then
	echo "installing ${need[*]} from Debian packages"
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
cleanup() {
	[ -f "$work/up.pid" ] && kill "$(cat "$work/up.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -trimpath -o "$work/proxy" ./cmd/proxy)

json='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"mock-gpt","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the static upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}'
cat >"$work/up.conf" <<NGINX
worker_processes 1; pid $work/up.pid; daemon on; error_log $work/error.log warn; events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server {
    listen 127.0.0.1:$UP reuseport;
    location = /v1/chat/completions { default_type application/json; return 200 '$json'; }
  }
}
NGINX
"$NGINX" -p "$work" -c "$work/up.conf"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$UP) 2>/dev/null && break; sleep 0.1; done
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-gpt","messages":[{"role":"user","content":"Hello"}],"stream":false}'
LUA
url="http://127.0.0.1:$UP/v1/chat/completions"
secs=${ROUND%s}

# cpu_of CMD...: runs CMD and prints its user+system CPU seconds (children).
cpu_of() {
	local before after
	before=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
	"$@"
	after=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
	echo "scale=2; ($after - $before) / $(getconf CLK_TCK)" | bc >"$work/cpu"
}

echo "load on this machine before the rounds: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
printf '%-6s %12s %8s %12s %8s %7s\n' round "wrk req/s" "wrk CPU%" "ours req/s" "our CPU%" ratio
wrk_all=() ours_all=() wcpu_all=() ocpu_all=()
for i in $(seq "$ROUNDS"); do
	cpu_of wrk -t"$THREADS" -c"$CONNS" -d"$ROUND" -s "$work/post.lua" "$url" >"$work/wrk.out" 2>&1
	w=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
	wc=$(echo "scale=0; $(cat "$work/cpu") * 100 / $secs" | bc)
	rm -f "$work/gen.json"
	"$work/proxy" loadtest --target "$url" --users "$CONNS" --requests 1000000 --no-pace --duration "$ROUND" --ramp 0s \
		--stream 0 --timeout 10s --max-error-rate 0 --client "$CLIENT" --json "$work/gen.json" >/dev/null 2>"$work/gen.err" || true
	[ -s "$work/gen.json" ] || { echo "load tester failed:"; cat "$work/gen.err"; exit 1; }
	read -r o oc client < <(python3 -c "import json; r=json.load(open('$work/gen.json')); g=r['generator']; print(round(r['endpoints'][0]['throughput']['achieved_rps']), round(g['cpu_percent']), g['client'] + (',%d-loop' % g['loops'] if g['loops'] else ''))")
	wrk_all+=("$w") ours_all+=("$o") wcpu_all+=("$wc") ocpu_all+=("$oc")
	printf '%-6s %12.0f %8s %12s %8s %7.2f\n' "$i" "$w" "$wc" "$o" "$oc" "$(echo "scale=4; $o / $w" | bc)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mw=$(median "${wrk_all[@]}") mo=$(median "${ours_all[@]}")
echo "median of $ROUNDS: wrk $mw req/s (CPU $(median "${wcpu_all[@]}")%), load tester ($client client) $mo req/s (CPU $(median "${ocpu_all[@]}")%) = $(echo "scale=3; $mo / $mw" | bc)x wrk"
echo "load on this machine after the rounds: $(cut -d' ' -f1-3 /proc/loadavg)"
