package faults

import (
	"testing"
	"time"
)

func TestParseScript(t *testing.T) {
	tests := []struct {
		in      string
		want    Script
		wantErr bool
	}{
		{"ok", Script{Kind: OK}, false},
		{"503", Script{Kind: Status, Status: 503}, false},
		{"429;retry-after=2", Script{Kind: Status, Status: 429, RetryAfter: "2"}, false},
		{" RESET ", Script{Kind: Reset}, false},
		{"stall;delay=2s", Script{Kind: Stall, Delay: 2 * time.Second}, false},
		{"stream-stall;chunks=2", Script{Kind: StreamStall, Chunks: 2}, false},
		{"truncate;chunks=4", Script{Kind: Truncate, Chunks: 4}, false},
		{"malformed", Script{Kind: Malformed}, false},
		{"huge-line;size=2000000", Script{Kind: HugeLine, Size: 2000000}, false},
		{"slow;chunks=5;gap=20ms", Script{Kind: Slow, Chunks: 5, Gap: 20 * time.Millisecond}, false},
		{"status;code=502", Script{Kind: Status, Status: 502}, false},
		{"explode", Script{}, true},
		{"42", Script{}, true},
		{"stall;delay", Script{}, true},
		{"stall;delay=soon", Script{}, true},
		{"slow;speed=2", Script{}, true},
	}
	for _, tc := range tests {
		got, err := ParseScript(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseScript(%q) = %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, sc := range []Script{
		{Kind: OK},
		{Kind: Status, Status: 429, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"},
		{Kind: Status},
		{Kind: Stall, Delay: 1500 * time.Millisecond},
		{Kind: Slow, Chunks: 7, Gap: 3 * time.Millisecond},
		{Kind: HugeLine, Size: 3 << 20},
	} {
		got, err := ParseScript(sc.Header())
		if err != nil {
			t.Fatalf("%+v: %v", sc, err)
		}
		if want := sc; want.Kind == Status && want.Status == 0 {
			want.Status = 500
			sc = want
		}
		if got != sc {
			t.Errorf("round trip of %q: %+v", sc.Header(), got)
		}
	}
}
