package wire

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 12 ", 12 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"0.0001", time.Millisecond, true},
		{"99999999999", 32 * 86400 * time.Second, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"12abc", 0, false},
		{"Sun, 22 Nov 2026 08:00:30 GMT", 30 * time.Second, true},
		{"Sunday, 22-Nov-26 08:01:00 GMT", time.Minute, true}, // RFC 850
		{"Sun Nov 22 08:00:05 2026", 5 * time.Second, true},   // asctime
		{"Sun, 22 Nov 2026 07:59:00 GMT", 0, true},            // past: retry now
		{"Sun, 22 Nov 2026 25:00:00 GMT", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
