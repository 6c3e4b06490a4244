package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestRedisLog: go-redis's messages become warnings in the proxy's log,
// one a second, counting those held back.
func TestRedisLog(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	now := time.Unix(1_800_000_000, 0)
	r := newRedisLog(zap.New(core), func() time.Time { return now })
	for i := range 5 {
		r.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 1, i)
	}
	all := logs.All()
	if len(all) != 1 || all[0].Level != zap.WarnLevel || all[0].ContextMap()["message"] != "redis: connection pool: failed to dial after 1 attempts: 0" {
		t.Fatalf("logged %v", all)
	}
	now = now.Add(2 * time.Second)
	r.Printf(context.Background(), "again")
	if all = logs.All(); len(all) != 2 || all[1].ContextMap()["suppressed_before"] != int64(4) {
		t.Fatalf("logged %v", all)
	}
}
