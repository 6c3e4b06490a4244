# The two commands of the README: `make run` and `make test`.
GO       ?= go
BIN      ?= bin/proxy
PKGS     := ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.buildVersion=$(VERSION)
PREFIX   ?= /usr/local
DESTDIR  ?=
FUZZTIME ?= 5s
# package:target pairs run briefly by `make test`; `make fuzz FUZZTIME=5m` digs deeper.
FUZZ     := ./stream:FuzzReader ./providers/jsonpatch:FuzzReplace ./providers/convert:FuzzRequest \
            ./providers/convert:FuzzResponse ./providers/convert:FuzzStream ./providers/convert:FuzzInspect \
            ./providers/jsonscan:FuzzObject ./providers/kiro/eventstream:FuzzDecode ./providers/kiro:FuzzBuildRequest
# Fuzz builds leave out the SDK tests (-tags nosdk): instrumenting the
# vendors' SDKs for coverage took three minutes of a cold make test.
# Each new interesting input is minimised for at most this many runs. Go's
# default (60 s per input) stalled short runs at 0 execs/s while it minimised.
FUZZMIN  ?= 200x
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $$(go env GOPATH)/bin/staticcheck)

.PHONY: build run test fmt-check vet tidy-check staticcheck unit allocs fuzz agents agents-record bench bench-check bench-baseline benchstat bench-compare bench-cpu bench-prefork bench-generator bench-startup soak install clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/proxy

run: build
	./$(BIN) serve --config config.yaml

# The short fuzz runs are their own target (make fuzz), which CI runs after
# make test: with them make test passed ten minutes on a cold 2-core machine.
test: fmt-check tidy-check vet staticcheck unit allocs

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

tidy-check:
	$(GO) mod tidy -diff

# .ci/run installs it (go install honnef.co/go/tools/cmd/staticcheck@v0.8.2).
staticcheck:
	$(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

# The allocation and memory guards skip under -race (the detector allocates): run
# them in an ordinary build too, with every benchmark of the relay path once, so
# a benchmark that no longer runs (it broke silently once) fails make test.
allocs:
	$(GO) test -count=1 -run 'Alloc|Memory' $(PKGS)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./stream/... ./proxy/... ./providers/...

# Go's fuzzer sometimes ends a run at -fuzztime with "context deadline
# exceeded" and no failing input (a race between its deadline and a worker):
# such a run is tried up to twice more (it came twice in a row for FuzzReader
# once, on an idle machine). A real finding writes testdata/fuzz and fails.
fuzz:
	@set -e; for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		for try in 1 2 3; do \
			echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
			if $(GO) test -tags nosdk -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) \
				-fuzzminimizetime $(FUZZMIN) $$pkg >fuzz.out 2>&1; then cat fuzz.out; break; fi; \
			cat fuzz.out; \
			if [ $$try = 3 ] || ! grep -q 'context deadline exceeded' fuzz.out || grep -q 'Failing input' fuzz.out; then \
				rm -f fuzz.out; exit 1; fi; \
			echo "fuzz: deadline race in Go's fuzzer, trying $$name again"; \
		done; \
	done; rm -f fuzz.out

# The real agent CLIs (Claude Code, Codex CLI, Gemini CLI, pinned in
# scripts/install-agents.sh, kept under .cache/agents) as clients of the
# proxy, against every upstream type: a plain turn and a tool loop each.
# Where the machine allows it they run in a network namespace that has only
# loopback, so that no CLI can reach the internet. AGENTS_RUN picks tests.
AGENTS_RUN  ?= TestAgents
AGENTS_TEST  = $(GO) test -tags agents -count=1 -timeout 9m -run '$(AGENTS_RUN)' ./test/agents/
agents:
	bash scripts/install-agents.sh
	@if unshare -n true 2>/dev/null && command -v ip >/dev/null; then \
		echo "agents: in a network namespace with loopback only"; \
		unshare -n sh -c "ip link set lo up && $(AGENTS_TEST)"; \
	else $(AGENTS_TEST); fi

# Re-records what the CLIs send (providers/convert/testdata/agents) and the
# golden summaries of those requests' shapes.
agents-record:
	bash scripts/install-agents.sh
	AGENTS_RECORD=1 $(MAKE) agents AGENTS_RUN=TestRecordShapes
	$(GO) test -count=1 -run TestAgentRecordingsShape ./providers/convert/ -update

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./stream/... ./proxy/... ./providers/...

# The regression gate of the benchmarks: BENCH_COUNT runs of each (pinned
# to BENCH_CPU procs, so names match the baseline's -N suffix) compared by
# benchstat with the baseline committed in BENCH_BASELINE; cmd/benchgate
# fails on any allocs/op increase, on a sec/op or B/op increase beyond 10%
# that benchstat finds significant (p < 0.05), and on a baseline benchmark
# that no longer runs. Record the baseline with `make bench-baseline` on a
# quiet machine. Not part of `make test`.
BENCH_PKGS     ?= ./stream/... ./proxy/... ./providers/...
BENCH_RUN      ?= .
BENCH_COUNT    ?= 6
BENCH_CPU      ?= 2
BENCH_FLAGS    ?=
BENCH_BASELINE ?= docs/bench-baseline.txt
BENCH_OUT      ?= bench-new.txt
BENCH_GATE     ?= -time 10 -bytes 10 -alpha 0.05
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
BENCHSTAT      ?= $(shell command -v benchstat 2>/dev/null || echo $$(go env GOPATH)/bin/benchstat)
BENCH_CMD       = $(GO) test -run '^$$' -bench '$(BENCH_RUN)' -benchmem -count $(BENCH_COUNT) -cpu $(BENCH_CPU) $(BENCH_FLAGS) $(BENCH_PKGS)

bench-check: benchstat
	@test -f $(BENCH_BASELINE) || { echo "bench-check: no baseline $(BENCH_BASELINE): record one with make bench-baseline"; exit 2; }
	$(BENCH_CMD) >$(BENCH_OUT) || { cat $(BENCH_OUT); exit 1; }
	$(GO) run ./cmd/benchgate -benchstat $(BENCHSTAT) $(BENCH_GATE) $(BENCH_BASELINE) $(BENCH_OUT)

bench-baseline:
	$(BENCH_CMD) >$(BENCH_BASELINE).tmp || { cat $(BENCH_BASELINE).tmp; rm -f $(BENCH_BASELINE).tmp; exit 1; }
	mv $(BENCH_BASELINE).tmp $(BENCH_BASELINE)

# benchstat from the Go module proxy, pinned, when it is not installed.
benchstat:
	@test -x $(BENCHSTAT) || $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

# wrk against a static upstream directly, through nginx and through this
# proxy; installs wrk and nginx from Debian if missing. Not part of `make test`.
bench-compare:
	bash loadtest/compare/compare.sh

# CPU per request of the bare fasthttp floor and ours, in alternated rounds
# (CPU_ROUNDS=6 of CPU_DURATION=5s, plain and streamed) with the medians:
# steadier than one run on a shared machine. Not part of `make test`.
CPU_ROUNDS ?= 6
bench-cpu:
	CPU_ROUNDS=$(CPU_ROUNDS) bash loadtest/compare/compare.sh

# The same rounds, the floor against two floor processes sharing its port
# (SO_REUSEPORT, GOMAXPROCS=1 each): what fasthttp's prefork mode would save.
bench-prefork:
	CPU_ROUNDS=$(CPU_ROUNDS) CPU_VS=prefork bash loadtest/compare/compare.sh

# The load tester's ceiling next to wrk's: alternated rounds against one
# static nginx, same connections (ROUNDS=9 ROUND=3s). Not part of `make test`.
bench-generator:
	bash loadtest/compare/generator.sh

# The config is put in place first so that install.sh gives it to the
# service's group; an existing one is kept.
# Time from exec to the first served request, and idle RSS.
bench-startup:
	bash loadtest/compare/startup.sh

# Ten minutes of the moderate tier (half streamed) through the embedded
# proxy; fails on any failed request or an RSS slope over 4 KiB/s after
# warm-up. SOAK_DURATION=2m shortens it. Not part of `make test`.
soak:
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags soak -run '^TestSoak$$' -count=1 -timeout 30m -v ./cmd/proxy/

install: build
	@if [ ! -f "$(DESTDIR)/etc/proxy/config.yaml" ]; then \
		install -D -m 0640 config.yaml "$(DESTDIR)/etc/proxy/config.yaml"; \
		echo "installed $(DESTDIR)/etc/proxy/config.yaml"; fi
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) sh cmd/proxy/deploy/install.sh $(BIN)

clean:
	rm -rf bin
