package tokencount

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMatchesOpenAIsOwnCounts: on the requests OpenAI published with the
// prompt tokens its API reported, the local count is exact.
func TestMatchesOpenAIsOwnCounts(t *testing.T) {
	for _, tc := range []struct {
		fixture, model string
		want           int
	}{
		{"openai_cookbook_messages.json", "gpt-4o", 124},
		{"openai_cookbook_messages.json", "gpt-4o-mini", 124},
		{"openai_cookbook_messages.json", "gpt-4", 129},
		{"openai_cookbook_messages.json", "gpt-3.5-turbo", 129},
		{"openai_cookbook_tools.json", "gpt-4o", 101},
		{"openai_cookbook_tools.json", "gpt-4o-mini", 101},
		{"openai_cookbook_tools.json", "gpt-4", 105},
	} {
		got, err := Count(wire.OpenAIChat, fixture(t, tc.fixture), wire.OpenAIChat, tc.model)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s as %s: %d tokens, OpenAI's API counted %d", tc.fixture, tc.model, got, tc.want)
		}
	}
}

// TestSameRequestInEveryProtocol: the same conversation written in each
// client protocol counts the same, give or take the framing a conversion
// cannot keep (a system message's name).
func TestSameRequestInEveryProtocol(t *testing.T) {
	bodies := map[wire.Protocol]string{
		wire.OpenAIChat: `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"},
			{"role":"assistant","content":"Paris."},{"role":"user","content":"And of Italy?"}]}`,
		wire.Anthropic: `{"model":"m","system":"Be brief.","messages":[{"role":"user","content":"What is the capital of France?"},
			{"role":"assistant","content":"Paris."},{"role":"user","content":"And of Italy?"}]}`,
		wire.OpenAIResponses: `{"model":"m","instructions":"Be brief.","input":[{"role":"user","content":"What is the capital of France?"},
			{"role":"assistant","content":"Paris."},{"role":"user","content":"And of Italy?"}]}`,
		wire.Gemini: `{"generateContentRequest":{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[
			{"role":"user","parts":[{"text":"What is the capital of France?"}]},{"role":"model","parts":[{"text":"Paris."}]},
			{"role":"user","parts":[{"text":"And of Italy?"}]}]}}`,
	}
	want, err := Count(wire.OpenAIChat, []byte(bodies[wire.OpenAIChat]), wire.OpenAIChat, "gpt-4o")
	if err != nil {
		t.Fatal(err)
	}
	for p, body := range bodies {
		got, err := Count(p, []byte(body), wire.OpenAIChat, "gpt-4o")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got != want {
			t.Errorf("%s counts %d, Chat %d", p, got, want)
		}
	}
}

func pngDataURL(t testing.TB, w, h int) string {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TestImagesByVendorFormula: an image costs what each vendor's published
// formula gives for its real size.
func TestImagesByVendorFormula(t *testing.T) {
	img := pngDataURL(t, 1024, 512)
	body := `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + img + `"}}]}]}`
	text := `{"model":"m","messages":[{"role":"user","content":[]}]}`
	for _, tc := range []struct {
		family Family
		model  string
		want   int
	}{
		{wire.OpenAIChat, "gpt-4o", 85 + 170*2},         // 1024x512: two 512-pixel tiles
		{wire.OpenAIChat, "gpt-4o-mini", 2833 + 5667*2}, // the mini's image rates
		{wire.Anthropic, "claude-sonnet-4-5", 700},      // ceil(1024*512/750)
		{wire.Gemini, "gemini-2.5-flash", 2 * 258},      // two 768-pixel tiles
	} {
		with, err := Count(wire.OpenAIChat, []byte(body), tc.family, tc.model)
		if err != nil {
			t.Fatal(err)
		}
		without, _ := Count(wire.OpenAIChat, []byte(text), tc.family, tc.model)
		if got := with - without; got != tc.want {
			t.Errorf("%s %s: image costs %d, want %d", tc.family, tc.model, got, tc.want)
		}
	}
}

func TestImageSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		w, h int
	}{
		{"gif", []byte("GIF89a\x40\x01\xf0\x00"), 320, 240},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x04xx\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03"), 640, 480},
		{"webp lossless", append([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f"), 0x3f, 0xc0, 0x77, 0x00, 0, 0, 0, 0, 0), 64, 480},
	} {
		w, h, ok := imageSize(tc.b)
		if !ok || w != tc.w || h != tc.h {
			t.Errorf("%s: %dx%d %v, want %dx%d", tc.name, w, h, ok, tc.w, tc.h)
		}
	}
	if _, _, ok := dataURLSize("https://example.com/cat.png"); ok {
		t.Error("a remote URL has no size to read")
	}
	w, h, ok := dataURLSize(pngDataURL(t, 33, 17))
	if !ok || w != 33 || h != 17 {
		t.Errorf("png data URL: %dx%d %v", w, h, ok)
	}
}

func TestRefusesWhatCannotBeRead(t *testing.T) {
	_, err := Count(wire.Anthropic, []byte(`{"model":"m","messages":"nope"}`), wire.OpenAIChat, "gpt-4o")
	if err == nil || !strings.Contains(err.Error(), "messages") {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkCountCookbookTools(b *testing.B) {
	body := fixture(b, "openai_cookbook_tools.json")
	if _, err := Count(wire.OpenAIChat, body, wire.OpenAIChat, "gpt-4o"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Count(wire.OpenAIChat, body, wire.OpenAIChat, "gpt-4o")
	}
}
