#!/usr/bin/env bash
# make bench-compare: wrk against a static upstream directly, through nginx as
# a keep-alive reverse proxy, and through our proxy, in one go on this
# machine; then the memory each proxy spends per open stream. Prints
# requests/s and latency for each and the ratio ours/nginx.
#
# Environment: DURATION (default 10s), CONNS (64), THREADS (2), STREAMS (1000),
# RATE (2000, open-loop latency and syscalls), CPU_RATE (4000), SYSCALL_REQS (4000);
# CPU_ROUNDS (make bench-cpu: only CPU per request, floor and ours in that many
# alternated rounds of CPU_DURATION, default 5s); CPU_VS=prefork (make
# bench-prefork: the floor against two floors sharing a port with
# SO_REUSEPORT, one core each, as fasthttp's prefork mode would run);
# CPU_VS=like-proxy (with make bench-cpu): the floor against the floor with
# the proxy's fasthttp settings (fasthttpfloor -like-proxy), which tells the
# cost of those settings from the cost of the proxy's own code.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
STREAMS=${STREAMS:-1000}
UP=18081 NGX=18082 OURS=18083 SLOW=18084 SLOWTLS=18085 FLOOR=18086 FORKED=18087

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v strace >/dev/null || need+=(strace)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
	echo "installing ${need[*]} from Debian packages"
	# Keep Debian's nginx service from starting on port 80.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/up.pid" ] && kill "$(cat "$work/up.pid")" 2>/dev/null || true
	[ -f "$work/ngx.pid" ] && kill "$(cat "$work/ngx.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -trimpath -o "$work/proxy" ./cmd/proxy && go build -o "$work/holdstreams" ./loadtest/compare/holdstreams &&
	go build -o "$work/floor" ./loadtest/compare/fasthttpfloor)

# A certificate for the TLS front of the slow upstream (memory per stream
# with an https upstream, as real providers are): trusted by nginx
# (proxy_ssl_trusted_certificate) and by ours (SSL_CERT_FILE).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null

# The static upstream: one small chat completion, and one 20-event stream.
chunk='data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"mock-gpt","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}\n\n'
sse=""
for _ in $(seq 20); do sse+="$chunk"; done
sse+='data: [DONE]\n\n'
json='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"mock-gpt","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the static upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}'
common="error_log $work/error.log warn; events { worker_connections 4096; }"
cat >"$work/up.conf" <<NGINX
worker_processes 1; pid $work/up.pid; daemon on; $common
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server {
    listen 127.0.0.1:$UP reuseport;
    location = /v1/chat/completions { default_type application/json; return 200 '$json'; }
    location = /stream/v1/chat/completions { default_type text/event-stream; return 200 '$sse'; }
  }
  upstream slow { server 127.0.0.1:$SLOW; keepalive 256; }
  server {
    listen 127.0.0.1:$SLOWTLS ssl; ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
    location / { proxy_pass http://slow; proxy_read_timeout 300s; }
  }
}
NGINX
cat >"$work/ngx.conf" <<NGINX
worker_processes auto; pid $work/ngx.pid; daemon on; $common
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  upstream static { server 127.0.0.1:$UP; keepalive 256; }
  upstream slow { server 127.0.0.1:$SLOW; keepalive 256; }
  upstream slowtls { server 127.0.0.1:$SLOWTLS; keepalive 256; }
  server {
    listen 127.0.0.1:$NGX reuseport;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
    location /slow/ { proxy_pass http://slow/; proxy_read_timeout 300s; }
    location /slowtls/ {
      proxy_pass https://slowtls/; proxy_read_timeout 300s;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate $work/tls.crt; proxy_ssl_name localhost; proxy_ssl_server_name on;
    }
    location / { proxy_pass http://static; }
  }
}
NGINX
# The proxy as shipped but for the access log, which is off as nginx's is:
# the default heartbeat (500 ms) stays on, since every stream pays for it.
cat >"$work/proxy.yaml" <<YAML
server: { host: 127.0.0.1, port: $OURS, api_keys: [], auth: "off" }
log: { level: warn, format: json }
providers:
  - { name: json, type: openai, base_url: "http://127.0.0.1:$UP/v1", api_keys: [bench], models: ["*"] }
  - { name: sse, type: openai, base_url: "http://127.0.0.1:$UP/stream/v1", api_keys: [bench], models: ["*"] }
  - { name: slow, type: openai, base_url: "http://127.0.0.1:$SLOW/v1", api_keys: [bench], models: ["*"] }
  - { name: slowtls, type: openai, base_url: "https://127.0.0.1:$SLOWTLS/v1", api_keys: [bench], models: ["*"] }
YAML
"$NGINX" -p "$work" -c "$work/up.conf"
"$NGINX" -p "$work" -c "$work/ngx.conf"
SSL_CERT_FILE="$work/tls.crt" "$work/proxy" serve --config "$work/proxy.yaml" 2>"$work/proxy.log" &
pids+=($!)
ours_pid=$!
"$work/proxy" mock-upstream --addr 127.0.0.1:$SLOW --tokens 100000 --delay 1s 2>/dev/null &
pids+=($!)
"$work/floor" -listen 127.0.0.1:$FLOOR -upstream 127.0.0.1:$UP &
pids+=($!)
floor_pid=$!
forked_pids=""
if [ "${CPU_VS:-}" = like-proxy ]; then
	"$work/floor" -like-proxy -listen 127.0.0.1:$FORKED -upstream 127.0.0.1:$UP &
	pids+=($!)
	forked_pids="$! "
fi
if [ "${CPU_VS:-}" = prefork ]; then
	for _ in 1 2; do
		GOMAXPROCS=1 "$work/floor" -reuseport -listen 127.0.0.1:$FORKED -upstream 127.0.0.1:$UP &
		pids+=($!)
		forked_pids+="$! "
	done
fi
for port in $UP $NGX $OURS $SLOW $FLOOR; do
	for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
wrk.body = os.getenv("BODY")
LUA
plain='{"model":"mock-gpt","messages":[{"role":"user","content":"Hi"}]}'
streamed='{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"Hi"}]}'

# run NAME URL BODY: one wrk run; prints a result row and records req/s.
declare -A rps p50 p99
run() {
	local name=$1 url=$2 body=$3 out
	BODY=$body wrk -t"$THREADS" -c"$CONNS" -d2s -s "$work/post.lua" "$url" >/dev/null 2>&1 || true # warm-up
	out=$(BODY=$body wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/post.lua" "$url")
	rps[$name]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	p50[$name]=$(awk '$1=="50%" {print $2}' <<<"$out")
	p99[$name]=$(awk '$1=="99%" {print $2}' <<<"$out")
	local errs
	errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ' || true)
	printf '%-22s %12s %10s %10s  %s\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" "$errs"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# median: the middle value (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
lt_json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# CPU time per request: user+system ticks of the proxy's processes (nginx:
# master and workers) from /proc/PID/stat over an open-loop run at CPU_RATE,
# divided by the requests sent. Unlike requests/s, this stays meaningful on
# a shared machine. "converted" is an Anthropic Messages client on the
# OpenAI stream upstream: each answer's 20 chunks become Anthropic events.
CPU_RATE=${CPU_RATE:-4000}
nginx_pids="$(cat "$work/ngx.pid") $(pgrep -P "$(cat "$work/ngx.pid")" | tr '\n' ' ')"
ticks() { local t=0 p; for p in $1; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
cpu_run() { # NAME PIDS TARGET STREAM [PROTOCOL]
	local before after sent
	before=$(ticks "$2")
	"$work/proxy" loadtest --target "$3" --rate "$CPU_RATE" --users 256 --requests $((CPU_RATE * 10)) \
		--duration "${CPU_DURATION:-$DURATION}" --ramp 0s --stream "$4" --protocol "${5:-chat}" --api-key bench --compare=false \
		--json "$work/cpu-$1.json" >/dev/null 2>&1 || true
	after=$(ticks "$2")
	sent=$(lt_json "$work/cpu-$1.json" "r['endpoints'][0]['counters']['ok']")
	awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$sent" \
		'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "n/a" }'
}
# make bench-cpu (CPU_ROUNDS=N): only the CPU per request of the floor and
# ours, in alternated rounds of CPU_DURATION (5s), plain and streamed, with
# the medians. On a shared machine one run's CPU figure moved by up to 30%
# between identical runs; alternated rounds share whatever the host does.
if ((${CPU_ROUNDS:-0} > 0)); then
	CPU_DURATION=${CPU_DURATION:-5s}
	# The contender against the floor: ours, or (CPU_VS=prefork) two
	# floor processes on one port, GOMAXPROCS=1 each, their CPU summed.
	name=ours pids2=$ours_pid base2="http://127.0.0.1:$OURS" plain2=/json streamed2=/sse
	if [ "${CPU_VS:-}" = prefork ]; then
		(exec 3<>/dev/tcp/127.0.0.1/$FORKED) 2>/dev/null || { echo "the forked floors did not start" >&2; exit 1; }
		name=forked pids2=$forked_pids base2="http://127.0.0.1:$FORKED" plain2="" streamed2=/stream
	fi
	if [ "${CPU_VS:-}" = like-proxy ]; then
		(exec 3<>/dev/tcp/127.0.0.1/$FORKED) 2>/dev/null || { echo "the -like-proxy floor did not start" >&2; exit 1; }
		name=likeprx pids2=$forked_pids base2="http://127.0.0.1:$FORKED" plain2="" streamed2=/stream
	fi
	echo "CPU per request at $CPU_RATE req/s open loop, $CPU_ROUNDS alternated rounds of $CPU_DURATION (user+system from /proc, us):"
	for kind in plain streamed; do
		stream=0 fpath="" opath=$plain2
		[ "$kind" = streamed ] && stream=1 fpath=/stream opath=$streamed2
		fl=() ou=() rr=()
		for i in $(seq "$CPU_ROUNDS"); do
			f=$(cpu_run "floor-$kind" "$floor_pid" "http://127.0.0.1:$FLOOR$fpath" "$stream")
			o=$(cpu_run "$name-$kind" "$pids2" "$base2$opath" "$stream")
			r=$(ratio "$o" "$f")
			printf '  %-8s round %2d: floor %7s, %s %7s, %s/floor %sx\n' "$kind" "$i" "$f" "$name" "$o" "$name" "$r"
			fl+=("$f") ou+=("$o") rr+=("$r")
		done
		printf '%-8s median: floor %s, %s %s; median %s/floor of the rounds %sx\n' "$kind" \
			"$(median "${fl[@]}")" "$name" "$(median "${ou[@]}")" "$name" "$(median "${rr[@]}")"
	done
	exit 0
fi

echo "wrk -t$THREADS -c$CONNS -d$DURATION on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '%-22s %12s %10s %10s\n' target "requests/s" p50 p99
run "direct (static)" "http://127.0.0.1:$UP/v1/chat/completions" "$plain"
run "nginx proxy" "http://127.0.0.1:$NGX/v1/chat/completions" "$plain"
run "our proxy" "http://127.0.0.1:$OURS/json/v1/chat/completions" "$plain"
run "bare fasthttp proxy" "http://127.0.0.1:$FLOOR/v1/chat/completions" "$plain"
run "direct stream" "http://127.0.0.1:$UP/stream/v1/chat/completions" "$streamed"
run "nginx stream" "http://127.0.0.1:$NGX/stream/v1/chat/completions" "$streamed"
run "our stream" "http://127.0.0.1:$OURS/sse/v1/chat/completions" "$streamed"
run "bare fasthttp stream" "http://127.0.0.1:$FLOOR/stream/v1/chat/completions" "$streamed"
echo
echo "ours/nginx requests/s: chat $(ratio "${rps[our proxy]}" "${rps[nginx proxy]}")x, streams $(ratio "${rps[our stream]}" "${rps[nginx stream]}")x"
echo "bare fasthttp proxy/nginx (the library's floor for this design): chat $(ratio "${rps[bare fasthttp proxy]}" "${rps[nginx proxy]}")x, streams $(ratio "${rps[bare fasthttp stream]}" "${rps[nginx stream]}")x"

# The load tester's own ceiling: its closed-loop maximum against the static
# upstream, next to wrk's from the table above (goal: at least 0.8x wrk).
"$work/proxy" loadtest --target "http://127.0.0.1:$UP" --users "$CONNS" --requests 1000000 --no-pace \
	--duration "$DURATION" --ramp 0s --stream 0 --timeout 10s --json "$work/gen.json" >/dev/null 2>&1 || true
gen=$(lt_json "$work/gen.json" "r['endpoints'][0]['throughput']['achieved_rps']")
gen_cpu=$(lt_json "$work/gen.json" "'%.0f%% CPU, %s client' % (r['generator']['cpu_percent'], r['generator']['client'])")
echo
echo "load generator, closed loop, $CONNS users vs the static upstream: $(printf '%.0f' "$gen") req/s ($gen_cpu) = $(ratio "$gen" "${rps[direct (static)]}")x wrk"

# What each proxy adds, open loop at RATE req/s (coordinated omission
# corrected), measured against the upstream directly in alternation.
RATE=${RATE:-2000}
echo
echo "added latency at $RATE req/s open loop, non-stream (proxy minus direct, same run):"
for p in "nginx http://127.0.0.1:$NGX" "floor http://127.0.0.1:$FLOOR" "ours http://127.0.0.1:$OURS/json"; do
	set -- $p
	"$work/proxy" loadtest --target "$2" --baseline "http://127.0.0.1:$UP" --rate "$RATE" --users 256 \
		--requests $((RATE * 10 / 1)) --duration "$DURATION" --ramp 1s --stream 0 --api-key bench \
		--json "$work/open-$1.json" >/dev/null 2>&1 || true
	printf '  %-6s p50 %s us, p99 %s us\n' "$1" \
		"$(lt_json "$work/open-$1.json" "round(r['comparison']['added_p50_ms']*1000)")" \
		"$(lt_json "$work/open-$1.json" "round(r['comparison']['added_p99_ms']*1000)")"
done

declare -A cpu
cpu[nginx plain]=$(cpu_run nginx-plain "$nginx_pids" "http://127.0.0.1:$NGX" 0)
cpu[floor plain]=$(cpu_run floor-plain "$floor_pid" "http://127.0.0.1:$FLOOR" 0)
cpu[ours plain]=$(cpu_run ours-plain "$ours_pid" "http://127.0.0.1:$OURS/json" 0)
cpu[nginx streamed]=$(cpu_run nginx-stream "$nginx_pids" "http://127.0.0.1:$NGX/stream" 1)
cpu[floor streamed]=$(cpu_run floor-stream "$floor_pid" "http://127.0.0.1:$FLOOR/stream" 1)
cpu[ours streamed]=$(cpu_run ours-stream "$ours_pid" "http://127.0.0.1:$OURS/sse" 1)
cpu[ours converted]=$(cpu_run ours-converted "$ours_pid" "http://127.0.0.1:$OURS/sse" 1 anthropic)
echo
echo "CPU time per request at $CPU_RATE req/s open loop (user+system from /proc, us):"
printf '  %-10s %8s %8s %8s   %s\n' "" nginx floor ours "ours/nginx, ours/floor"
for k in plain streamed; do
	printf '  %-10s %8s %8s %8s   %sx, %sx\n' "$k" "${cpu[nginx $k]}" "${cpu[floor $k]}" "${cpu[ours $k]}" \
		"$(ratio "${cpu[ours $k]}" "${cpu[nginx $k]}")" "$(ratio "${cpu[ours $k]}" "${cpu[floor $k]}")"
done
echo "  converted stream (Anthropic client, OpenAI upstream): ${cpu[ours converted]} us = $(ratio "${cpu[ours converted]}" "${cpu[ours streamed]}")x pass-through;" \
	"per relayed event: $(awk -v c="${cpu[ours converted]}" 'BEGIN { printf "%.2f", c / 20 }') us"

# Syscalls per request: strace -c -f attached to each proxy for a run of
# SYSCALL_REQS requests at RATE (strace slows the process; the counts per
# request are what matter). Needs strace (Debian package).
SYSCALL_REQS=${SYSCALL_REQS:-4000}
if command -v strace >/dev/null; then
	echo
	echo "syscalls per request at $RATE req/s, $SYSCALL_REQS non-stream requests (strace -c -f):"
	for p in "nginx http://127.0.0.1:$NGX" "floor http://127.0.0.1:$FLOOR" "ours http://127.0.0.1:$OURS/json"; do
		set -- $p
		case $1 in nginx) pids=$nginx_pids ;; floor) pids=$floor_pid ;; ours) pids=$ours_pid ;; esac
		args=()
		for q in $pids; do args+=(-p "$q"); done
		strace -c -f -o "$work/strace-$1.txt" "${args[@]}" 2>/dev/null &
		spid=$!
		sleep 0.5
		"$work/proxy" loadtest --target "$2" --rate "$RATE" --users 256 --requests "$SYSCALL_REQS" --duration 60s \
			--ramp 0s --stream 0 --api-key bench --compare=false --json "$work/sys-$1.json" >/dev/null 2>&1 || true
		kill -INT "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		ok=$(lt_json "$work/sys-$1.json" "r['endpoints'][0]['counters']['ok']")
		printf '  %-6s %s\n' "$1" "$(awk -v n="$ok" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" && n > 0 && $4 / n >= 0.05 {
			printf "%s %.2f, ", $NF, $4 / n }' "$work/strace-$1.txt" | sed 's/, $//')"
	done
else
	echo "syscalls per request: skipped (install strace)"
fi

# Memory per open stream: hold STREAMS streams open through each proxy to a
# slow upstream (one token a second) and read the RSS growth. Both proxies
# start afresh for it: a process that served the load above reuses its free
# memory, and the figure then depends on when its allocator last returned
# memory to the system (ours gave 18.6 to 29.5 KB across runs that way).
# fresh: nginx and ours restarted, for a memory measurement of their own.
fresh() {
	kill -QUIT "$(cat "$work/ngx.pid")"
	for _ in $(seq 50); do [ -f "$work/ngx.pid" ] || break; sleep 0.1; done
	"$NGINX" -p "$work" -c "$work/ngx.conf"
	kill "$ours_pid" && wait "$ours_pid" 2>/dev/null || true
	SSL_CERT_FILE="$work/tls.crt" "$work/proxy" serve --config "$work/proxy.yaml" 2>>"$work/proxy.log" &
	pids+=($!)
	ours_pid=$!
	for port in $NGX $OURS; do
		for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
	done
}
# hold PATH: STREAMS streams held through nginx, then through ours.
hold() {
	"$work/holdstreams" -url "http://127.0.0.1:$NGX/$1/v1/chat/completions" -n "$STREAMS" -hold 3s -pid "$(cat "$work/ngx.pid")$(for w in $(pgrep -P "$(cat "$work/ngx.pid")"); do printf '+%s' "$w"; done)" | sed 's/^/  nginx: /'
	"$work/holdstreams" -url "http://127.0.0.1:$OURS/$1/v1/chat/completions" -n "$STREAMS" -hold 3s -pid "$ours_pid" | sed 's/^/  ours:  /'
}
echo
fresh
echo "memory per open stream ($STREAMS streams held 3 s, slow upstream, fresh processes):"
hold slow
# The same with an https upstream, as every real provider is: TLS state
# and buffers per upstream connection on both sides.
fresh
echo "memory per open stream, https upstream ($STREAMS streams held 3 s, fresh processes):"
hold slowtls
# A converted stream (an Anthropic client on the plain-http OpenAI upstream)
# holds the conversion state too; nginx has no counterpart.
fresh
echo "memory per open converted stream, Anthropic client on the plain-http OpenAI upstream (ours, fresh process):"
"$work/holdstreams" -url "http://127.0.0.1:$OURS/slow/v1/messages" -n "$STREAMS" -hold 3s -pid "$ours_pid" \
	-body '{"model":"mock-gpt","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}' | sed 's/^/  ours:  /'
if ! kill -0 "$ours_pid" 2>/dev/null; then
	echo "our proxy exited during the run; its log:" >&2
	tail -20 "$work/proxy.log" >&2
fi
