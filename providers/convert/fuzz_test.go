package convert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// fixtures returns every input fixture whose name contains kind.
func fixtures(f testing.TB, kind string) map[string][]byte {
	f.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join("testdata", "in"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), kind) {
			b, err := os.ReadFile(filepath.Join("testdata", "in", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

func protoOf(name string) uint8 {
	for i, p := range protocols {
		if strings.HasPrefix(name, p.String()+"_") {
			return uint8(i)
		}
	}
	return 0
}

func pick(b uint8) wire.Protocol { return protocols[int(b)%len(protocols)] }

func FuzzRequest(f *testing.F) {
	for name, b := range fixtures(f, "_request") {
		for to := uint8(0); to < 4; to++ {
			f.Add(protoOf(name), to, b, true)
		}
	}
	f.Add(uint8(0), uint8(2), []byte(`{"model":"m","messages":[{"role":"tool","content":"x"}]}`), false)
	f.Add(uint8(3), uint8(0), []byte(`{"contents":[{"parts":[{"functionResponse":{"name":"f","response":1}}]}]}`), false)
	f.Fuzz(func(t *testing.T, from, to uint8, body []byte, stream bool) {
		out, err := Request(pick(from), pick(to), body, "m", stream)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Request produced invalid JSON: %s", out)
		}
	})
}

func FuzzResponse(f *testing.F) {
	for name, b := range fixtures(f, "_response_") {
		for to := uint8(0); to < 4; to++ {
			f.Add(protoOf(name), to, b)
		}
	}
	f.Fuzz(func(t *testing.T, from, to uint8, body []byte) {
		out, err := Response(pick(from), pick(to), body, "m")
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Response produced invalid JSON: %s", out)
		}
	})
}

func FuzzStream(f *testing.F) {
	for name, b := range fixtures(f, "_stream_") {
		for to := uint8(0); to < 8; to++ {
			f.Add(protoOf(name), to, b)
		}
	}
	f.Fuzz(func(t *testing.T, from, to uint8, body []byte) {
		framing := FramingSSE
		if to >= 4 {
			framing = FramingJSONArray
		}
		client := pick(to)
		s := NewStream(pick(from), client, "m", framing)
		var out []byte
		for _, ev := range parseSSE(body) {
			out, _ = s.Event(out, ev.name, ev.data)
		}
		out, _ = s.End(out)
		if client == wire.Gemini && framing == FramingJSONArray {
			var arr []map[string]json.RawMessage
			if err := json.Unmarshal(out, &arr); err != nil {
				t.Fatalf("array framing produced no JSON array of objects: %v: %s", err, out)
			}
			for i, el := range arr {
				if _, isErr := el["error"]; isErr && i != len(arr)-1 {
					t.Fatalf("element %d of %d follows an error: %s", i+1, len(arr), out)
				}
			}
			return
		}
		checkStreamOutput(t, out)
	})
}

func FuzzInspect(f *testing.F) {
	for name, b := range fixtures(f, "_request") {
		f.Add(protoOf(name), b)
	}
	f.Add(uint8(2), []byte(`{"model":"m","messages":[],"max_tokens":"x"}`))
	f.Fuzz(func(t *testing.T, p uint8, body []byte) {
		model, _, err := Inspect(pick(p), body)
		if err == nil && pick(p) != wire.Gemini && model == "" {
			t.Fatalf("Inspect accepted a body without a model: %s", body)
		}
	})
}
