package tokencount

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
)

// imageTokens is what one image costs a model of family, by the vendor's
// published formula. The dimensions come from the image's own header when
// the request carries its bytes (a data: URL); an image given by URL costs
// what the vendor's formula gives for a typical 1024x1024 picture.
func imageTokens(family Family, model, url, detail string) int {
	w, h, ok := dataURLSize(url)
	if !ok {
		w, h = 1024, 1024
	}
	switch family {
	case wire.Anthropic:
		return anthropicImage(w, h)
	case wire.Gemini:
		return geminiImage(w, h)
	}
	base, tile := 85, 170
	if strings.Contains(strings.ToLower(model), "4o-mini") {
		base, tile = 2833, 5667 // gpt-4o-mini bills images at these rates
	}
	return openAIImage(w, h, detail, base, tile)
}

// openAIImage: low detail costs the base alone; otherwise the image is
// fitted into 2048x2048, its short side scaled down to 768, and each
// 512-pixel tile costs tile on top of the base (85 and 170 for gpt-4o).
func openAIImage(w, h int, detail string, base, tile int) int {
	if detail == "low" {
		return base
	}
	fw, fh := float64(w), float64(h)
	if m := math.Max(fw, fh); m > 2048 {
		fw, fh = fw*2048/m, fh*2048/m
	}
	if s := math.Min(fw, fh); s > 768 {
		fw, fh = fw*768/s, fh*768/s
	}
	tiles := int(math.Ceil(fw/512)) * int(math.Ceil(fh/512))
	return base + tile*tiles
}

// anthropicImage: an image whose long edge passes 1568 pixels is scaled
// down to it, then costs width*height/750 tokens.
func anthropicImage(w, h int) int {
	fw, fh := float64(w), float64(h)
	if m := math.Max(fw, fh); m > 1568 {
		fw, fh = fw*1568/m, fh*1568/m
	}
	return int(math.Ceil(fw * fh / 750))
}

// geminiImage: an image within 384x384 costs 258 tokens; a larger one is
// cut into 768x768 tiles of 258 each.
func geminiImage(w, h int) int {
	if w <= 384 && h <= 384 {
		return 258
	}
	return int(math.Ceil(float64(w)/768)) * int(math.Ceil(float64(h)/768)) * 258
}

// headerBytes is how much of an image is decoded to find its size: PNG,
// GIF and WebP say it in the first 30 bytes, JPEG in its frame header,
// which follows the metadata segments.
const headerBytes = 64 << 10

// dataURLSize reads the width and height of a base64 data: URL image.
func dataURLSize(url string) (w, h int, ok bool) {
	rest, found := strings.CutPrefix(url, "data:")
	if !found {
		return 0, 0, false
	}
	i := strings.Index(rest, ";base64,")
	if i < 0 {
		return 0, 0, false
	}
	enc := rest[i+len(";base64,"):]
	if n := base64.StdEncoding.EncodedLen(headerBytes); len(enc) > n {
		enc = enc[:n]
	}
	enc = enc[:len(enc)/4*4]
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return 0, 0, false
	}
	return imageSize(b)
}

// imageSize reads the dimensions from the start of a PNG, GIF, WebP or
// JPEG file.
func imageSize(b []byte) (w, h int, ok bool) {
	switch {
	case len(b) >= 24 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return int(binary.BigEndian.Uint32(b[16:])), int(binary.BigEndian.Uint32(b[20:])), true
	case len(b) >= 10 && (string(b[:6]) == "GIF87a" || string(b[:6]) == "GIF89a"):
		return int(binary.LittleEndian.Uint16(b[6:])), int(binary.LittleEndian.Uint16(b[8:])), true
	case len(b) >= 30 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return webpSize(b)
	case len(b) >= 4 && b[0] == 0xFF && b[1] == 0xD8:
		return jpegSize(b)
	}
	return 0, 0, false
}

func webpSize(b []byte) (w, h int, ok bool) {
	switch string(b[12:16]) {
	case "VP8 ":
		return int(binary.LittleEndian.Uint16(b[26:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:]) & 0x3fff), true
	case "VP8L":
		v := binary.LittleEndian.Uint32(b[21:])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, true
	case "VP8X":
		w = int(b[24]) | int(b[25])<<8 | int(b[26])<<16
		h = int(b[27]) | int(b[28])<<8 | int(b[29])<<16
		return w + 1, h + 1, true
	}
	return 0, 0, false
}

// jpegSize walks the JPEG segments to the first start-of-frame marker.
func jpegSize(b []byte) (w, h int, ok bool) {
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			return 0, 0, false
		}
		marker := b[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		size := int(binary.BigEndian.Uint16(b[i+2:]))
		isSOF := marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
		if isSOF {
			return int(binary.BigEndian.Uint16(b[i+7:])), int(binary.BigEndian.Uint16(b[i+5:])), true
		}
		i += 2 + size
	}
	return 0, 0, false
}
