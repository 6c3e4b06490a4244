package main

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestRedisLog: go-redis's messages become warnings in the proxy's log,
// one a second, counting those held back.
func TestRedisLog(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	r := &redisLog{l: zap.New(core)}
	for i := range 5 {
		r.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 1, i)
	}
	all := logs.All()
	if len(all) != 1 || all[0].Level != zap.WarnLevel || all[0].ContextMap()["message"] != "redis: connection pool: failed to dial after 1 attempts: 0" {
		t.Fatalf("logged %v", all)
	}
	r.last = r.last.Add(-2e9) // a second later
	r.Printf(context.Background(), "again")
	if all = logs.All(); len(all) != 2 || all[1].ContextMap()["suppressed_before"] != int64(4) {
		t.Fatalf("logged %v", all)
	}
}
