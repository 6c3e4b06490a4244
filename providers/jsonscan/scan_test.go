package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestObject(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		lim      Limits
		wantErr  string // substring; "" means valid
		tooLarge bool
	}{
		{"plain", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`, Limits{}, "", false},
		{"escapes in values are fine", `{"model":"m\u0065","x":"a\"b\\c\n"}`, Limits{}, "", false},
		{"numbers", `{"a":0,"b":-1.5e10,"c":1E-3,"d":123456789012345678901234}`, Limits{}, "", false},
		{"duplicate model", `{"model":"allowed","messages":[],"model":"other"}`, Limits{}, `key "model" appears more than once`, false},
		{"escaped key", `{"mod\u0065l":"other"}`, Limits{}, `top-level key "mod\\u0065l" uses escape sequences`, false},
		{"nested duplicates are the converters' business", `{"a":{"b":1,"b":2}}`, Limits{}, "", false},
		{"NaN", `{"temperature":NaN}`, Limits{}, "NaN and Infinity are not JSON", false},
		{"Infinity", `{"temperature":-Infinity}`, Limits{}, "NaN and Infinity are not JSON", false},
		{"overflow", `{"temperature":1e999}`, Limits{}, "out of range", false},
		{"leading zero", `{"a":01}`, Limits{}, "expected ',' or '}'", false},
		{"not an object", `[1,2]`, Limits{}, "must be a JSON object", false},
		{"empty", ``, Limits{}, "empty", false},
		{"truncated", `{"model":"m","messages":[`, Limits{}, "body ended", false},
		{"unclosed string", `{"model":"m`, Limits{}, "not closed", false},
		{"trailing text", `{"a":1} x`, Limits{}, "after the end", false},
		{"trailing comma", `{"a":1,}`, Limits{}, "expected a quoted key", false},
		{"raw control char", "{\"a\":\"x\x01\"}", Limits{}, "control characters", false},
		{"bad escape", `{"a":"\x"}`, Limits{}, "invalid escape", false},
		{"too deep", `{"a":` + strings.Repeat("[", 10) + strings.Repeat("]", 10) + `}`, Limits{MaxDepth: 5}, "deeper than 5", true},
		{"too many values", `{"a":[1,1,1,1,1,1,1,1,1,1]}`, Limits{MaxValues: 5}, "more than 5 JSON values", true},
		{"keys past the inline array", manyKeys(100, ""), Limits{}, "", false},
		{"duplicate of an early key, found late", manyKeys(100, "k3"), Limits{}, `key "k3" appears more than once`, false},
		{"duplicate of a late key", manyKeys(100, "k77"), Limits{}, `key "k77" appears more than once`, false},
		{"the most keys", manyKeys(maxMembers, ""), Limits{}, "", false},
		{"one key too many", manyKeys(maxMembers+1, ""), Limits{}, "more than 256 keys", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Object([]byte(tc.body), tc.lim, func(Member) error { return nil })
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if se.TooLarge != tc.tooLarge {
				t.Fatalf("TooLarge = %v", se.TooLarge)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	var got []string
	err := Object([]byte(` { "model" : "m" , "messages":[1, [2,3], {"x":[4]}], "n": null } `), Limits{}, func(m Member) error {
		got = append(got, string(m.Key)+"="+string(m.Value)+"#"+string(rune('0'+m.Elems)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`model="m"#0`, `messages=[1, [2,3], {"x":[4]}]#3`, `n=null#0`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("members %q, want %q", got, want)
	}
	stop := errors.New("stop")
	if err := Object([]byte(`{"a":1,"b":2}`), Limits{}, func(Member) error { return stop }); err != stop {
		t.Fatalf("fn's error not returned: %v", err)
	}
}

func TestScanDoesNotAllocate(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hello there, \"quoted\""}],"temperature":0.7,"stream":true}`)
	allocs := testing.AllocsPerRun(100, func() {
		if err := Object(body, Limits{}, func(Member) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per scan", allocs)
	}
}

// FuzzObject: whatever the scanner accepts is valid JSON to encoding/json,
// and a top-level object it accepts has no repeated key.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `{"a":1e5,"b":[true,false,null]}`,
		`{"a":"\u00e9\n"}`, `{"a":{"a":{}}}`, `{}`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		keys := map[string]bool{}
		err := Object(body, Limits{}, func(m Member) error {
			if keys[string(m.Key)] {
				t.Fatalf("repeated key %q accepted", m.Key)
			}
			keys[string(m.Key)] = true
			return nil
		})
		if err == nil && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if err := Valid(body, Limits{}); err == nil && !json.Valid(body) {
			t.Fatalf("Valid accepted invalid JSON %q", body)
		}
	})
}

// manyKeys is an object of n distinct keys k0..k(n-1), then, if dup is
// set, that key once more.
func manyKeys(n int, dup string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	if dup != "" {
		fmt.Fprintf(&b, `,%q:0`, dup)
	}
	b.WriteByte('}')
	return b.String()
}
