package jsonpatch

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestReplace(t *testing.T) {
	tests := []struct {
		name, doc, key, value, want string
	}{
		{"replace first", `{"model":"a","messages":[]}`, "model", `"b"`, `{"model":"b","messages":[]}`},
		{"replace after nested", `{"messages":[{"model":"x"}],"model":"a"}`, "model", `"b"`, `{"messages":[{"model":"x"}],"model":"b"}`},
		{"skips escaped quotes", `{"m":"say \"model\":1","model" : "a" }`, "model", `"b"`, `{"m":"say \"model\":1","model" : "b" }`},
		{"add when absent", `{"messages":[]}`, "model", `"b"`, `{"model":"b","messages":[]}`},
		{"add to empty", `{ }`, "stream", `true`, `{"stream":true }`},
		{"replace number", `{"n":12,"model":"a"}`, "n", `1`, `{"n":1,"model":"a"}`},
		{"whitespace", "{\n \"model\":\t\"a\"\n}", "model", `"b"`, "{\n \"model\":\t\"b\"\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Replace(nil, []byte(tt.doc), tt.key, []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %s", got)
			}
		})
	}
}

func TestNotObject(t *testing.T) {
	for _, doc := range []string{`[]`, `"x"`, ``, `{"a"`, `{"a":"b`} {
		if _, _, _, err := Find([]byte(doc), "a"); err == nil {
			t.Errorf("%q: want error", doc)
		}
	}
}

func FuzzReplace(f *testing.F) {
	f.Add([]byte(`{"model":"a","messages":[{"x":"}"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		out, err := Replace(nil, doc, "model", []byte(`"z"`))
		if err != nil {
			return
		}
		// UseNumber: a valid number beyond float64 (3E366) is not an error.
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if dec.Decode(&m) != nil {
			t.Fatalf("output not an object: %s -> %s", doc, out)
		}
		if m["model"] != "z" {
			t.Fatalf("model not replaced: %s -> %s", doc, out)
		}
	})
}
