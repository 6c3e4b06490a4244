package proxy

import (
	"bufio"
	"fmt"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"net/http"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fastjson"
)

func mockOpts(tokens int) mock.ServerOptions {
	return mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: tokens}}
}

// streamWhole posts a stream request and checks that its content is the
// mock's text of tokens and that it ends with [DONE]. It reports instead of
// failing, so that it can run on other goroutines.
func streamWhole(c *http.Client, url, body string, tokens int) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	var p fastjson.Parser
	var got strings.Builder
	for {
		d, err := readDataEvent(r)
		if err != nil {
			return fmt.Errorf("stream ended without [DONE] after %q: %w", got.String(), err)
		}
		if d == "[DONE]" {
			break
		}
		v, err := p.Parse(d)
		if err != nil {
			return fmt.Errorf("event %q: %w", d, err)
		}
		got.Write(v.GetStringBytes("choices", "0", "delta", "content"))
	}
	if want := mock.Text(tokens); got.String() != want {
		return fmt.Errorf("content %q, want %q", got.String(), want)
	}
	return nil
}

// TestConcurrentStreams runs many streams at once through one proxy and
// upstream pool and checks each arrives whole and in order.
func TestConcurrentStreams(t *testing.T) {
	up := mocktest.Start(t, mockOpts(30))
	_, base := startProxy(t, baseConfig(openaiProvider("up", up, "mock-gpt"), mockProvider("local", 30, "local-gpt")))
	hc := httpClient(t)
	const n = 40
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		model := "mock-gpt"
		if i%2 == 1 {
			model = "local-gpt"
		}
		go func() {
			errs <- streamWhole(hc, base+"/v1/chat/completions", chatBody(model, true), 30)
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
