#!/usr/bin/env bash
# make bench-startup: time from exec to the first served request, and idle
# RSS, over several starts of the built binary with the shipped config.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)/proxy
(cd "$root" && go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/proxy)
port=18095 runs=${RUNS:-10}
total=0 best=999999 rss=0
for i in $(seq "$runs"); do
	start=$(date +%s%N)
	"$bin" serve --config "$root/config.yaml" --port $port --log-level error 2>/dev/null &
	pid=$!
	until curl -sf -o /dev/null -H 'Authorization: Bearer 123456' "http://127.0.0.1:$port/v1/models"; do :; done
	end=$(date +%s%N)
	ms=$(( (end - start) / 1000 ))
	total=$((total + ms)); ((ms < best)) && best=$ms
	sleep 1
	rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
	kill $pid; wait $pid 2>/dev/null || true
done
printf 'startup to first served request: mean %.1f ms, best %.1f ms over %d starts; idle RSS %d KiB\n' \
	"$(bc -l <<<"$total/$runs/1000")" "$(bc -l <<<"$best/1000")" "$runs" "$rss"
