package tokencount

import (
	"bytes"
	"encoding/base64"
	"image"
	_ "image/gif" // DecodeConfig reads the sizes of the formats all three vendors take
	_ "image/jpeg"
	_ "image/png"
)

// Sizes assumed when an image's dimensions cannot be read (a URL, WebP, a
// file id): each is the vendor's own worked example of a typical image.
const (
	// OpenAI's vision guide: a 1024x1024 image in high detail is 765 tokens.
	defaultW, defaultH = 1024, 1024
	// Gemini: an image up to 384x384 is 258 tokens; larger ones are cut
	// into 768x768 tiles of 258 tokens each.
	geminiTile = 258
)

// headerBytes bounds how much base64 is decoded to find an image's size:
// enough for a JPEG whose frame header follows large EXIF blocks.
const headerBytes = 96 << 10

// imageTokens counts one image of the given size (0 when unknown).
func (f Family) imageTokens(w, h int, lowDetail bool) int {
	if w <= 0 || h <= 0 {
		if f == Gemini {
			return geminiTile
		}
		w, h = defaultW, defaultH
	}
	switch f {
	case Claude:
		// Anthropic: images whose long side exceeds 1568 px are scaled
		// down to it; tokens = width*height/750.
		w, h = fitLong(w, h, 1568)
		return (w*h + 749) / 750
	case Gemini:
		if w <= 384 && h <= 384 {
			return geminiTile
		}
		return ceilDiv(w, 768) * ceilDiv(h, 768) * geminiTile
	default:
		// OpenAI tile formula: low detail is 85; high fits 2048x2048,
		// then shortest side 768, then 170 per 512 px tile plus 85.
		if lowDetail {
			return 85
		}
		w, h = fitLong(w, h, 2048)
		if s := min(w, h); s > 768 {
			w, h = w*768/s, h*768/s
		}
		return 85 + 170*ceilDiv(w, 512)*ceilDiv(h, 512)
	}
}

func fitLong(w, h, limit int) (int, int) {
	if l := max(w, h); l > limit {
		return w * limit / l, h * limit / l
	}
	return w, h
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// imageSize reads the dimensions of base64 image data (a data: URL's
// payload or a bare base64 string) from its header; 0, 0 when unknown.
func imageSize(b64 []byte, scratch []byte) (int, int) {
	if i := bytes.IndexByte(b64, ','); i >= 0 && bytes.HasPrefix(b64, []byte("data:")) {
		b64 = b64[i+1:]
	}
	n := min(len(b64), headerBytes) &^ 3
	buf := scratch[:min(cap(scratch), base64.StdEncoding.DecodedLen(n))]
	m, err := base64.StdEncoding.Decode(buf, b64[:n])
	if err != nil && m == 0 {
		return 0, 0
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(buf[:m]))
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}
