package proxy

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
)

type embeddingsAnswer struct {
	Object string `json:"object"`
	Data   []struct {
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func postEmbeddings(t *testing.T, url, body string) (int, embeddingsAnswer, []byte) {
	t.Helper()
	res, out := do(t, httpClient(t), "POST", url+"/v1/embeddings", body, bearer(testKey))
	var a embeddingsAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, out)
	}
	return res.StatusCode, a, out
}

func TestEmbeddingsOnEveryUpstreamType(t *testing.T) {
	var mu sync.Mutex
	var geminiPath, geminiBody string
	gem := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		geminiPath, geminiBody = r.URL.Path, string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"embeddings":[{"values":[0.25,-0.5,0.125]},{"values":[1,0,-1]}]}`)
	}))
	gp := openaiProvider("gem", gem, "text-embedding-004")
	gp.Type = config.TypeGemini
	cp := openaiProvider("cl", gem, "claude-x")
	cp.Type = config.TypeClaude
	_, url := startFaultProxy(t, baseConfig(mockProvider("local", 3, "mock-embed"), gp, cp))

	t.Run("mock", func(t *testing.T) {
		status, a, out := postEmbeddings(t, url, `{"model":"mock-embed","input":["alpha","beta","alpha"]}`)
		if status != 200 || a.Object != "list" || len(a.Data) != 3 {
			t.Fatalf("%d %s", status, out)
		}
		if string(a.Data[0].Embedding) != string(a.Data[2].Embedding) || string(a.Data[0].Embedding) == string(a.Data[1].Embedding) {
			t.Errorf("vectors are not a function of the text: %s", out)
		}
	})
	t.Run("gemini", func(t *testing.T) {
		status, a, out := postEmbeddings(t, url, `{"model":"text-embedding-004","input":["alpha","beta"],"dimensions":3}`)
		if status != 200 || len(a.Data) != 2 || a.Model != "text-embedding-004" {
			t.Fatalf("%d %s", status, out)
		}
		if string(a.Data[1].Embedding) != "[1,0,-1]" || a.Data[1].Index != 1 {
			t.Errorf("second vector = %s", a.Data[1].Embedding)
		}
		mu.Lock()
		p, b := geminiPath, geminiBody
		mu.Unlock()
		if !strings.HasSuffix(p, "/models/text-embedding-004:batchEmbedContents") {
			t.Errorf("upstream path %s", p)
		}
		if !strings.Contains(b, `"model":"models/text-embedding-004"`) || !strings.Contains(b, `"outputDimensionality":3`) ||
			!strings.Contains(b, `"text":"beta"`) {
			t.Errorf("upstream body %s", b)
		}
	})
	t.Run("gemini base64", func(t *testing.T) {
		status, a, out := postEmbeddings(t, url, `{"model":"text-embedding-004","input":"alpha","encoding_format":"base64"}`)
		if status != 200 || len(a.Data) != 2 {
			t.Fatalf("%d %s", status, out)
		}
		var s string
		if err := json.Unmarshal(a.Data[0].Embedding, &s); err != nil {
			t.Fatalf("base64 embedding is not a string: %s", a.Data[0].Embedding)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 12 {
			t.Fatalf("decoded %d bytes, %v", len(raw), err)
		}
		for i, want := range []float32{0.25, -0.5, 0.125} {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != want {
				t.Errorf("value %d = %v, want %v", i, got, want)
			}
		}
	})
	for _, tc := range []struct{ name, body, want string }{
		{"anthropic has none", `{"model":"claude-x","input":"a"}`, "has no embeddings endpoint"},
		{"input missing", `{"model":"mock-embed"}`, "missing required parameter: 'input'"},
		{"token arrays to gemini", `{"model":"text-embedding-004","input":[[1,2,3]]}`, "token arrays cannot be carried"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, a, out := postEmbeddings(t, url, tc.body)
			if status != 400 || a.Error == nil || !strings.Contains(a.Error.Message, tc.want) {
				t.Errorf("%d %s, want 400 with %q", status, out, tc.want)
			}
		})
	}
}

func TestCompletionsPassThrough(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"Hel\",\"index\":0,\"finish_reason\":null}]}\n\n"+
				"data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"lo\",\"index\":0,\"finish_reason\":\"stop\"}]}\n\n"+
				"data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}`)
	}))
	_, url := startFaultProxy(t, baseConfig(openaiProvider("oai", up, "gpt-3.5-turbo-instruct")))
	hc := httpClient(t)
	res, out := do(t, hc, "POST", url+"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say"}`, bearer(testKey))
	if res.StatusCode != 200 || !strings.Contains(string(out), `"text":"Hello"`) {
		t.Fatalf("%d %s", res.StatusCode, out)
	}
	res, out = do(t, hc, "POST", url+"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say","stream":true}`, bearer(testKey))
	if res.StatusCode != 200 || !strings.Contains(string(out), `"text":"lo"`) || !strings.HasSuffix(string(out), "data: [DONE]\n\n") {
		t.Fatalf("stream: %d %q", res.StatusCode, out)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if !strings.HasSuffix(p, "/v1/completions") {
			t.Errorf("upstream path %s", p)
		}
	}
}
