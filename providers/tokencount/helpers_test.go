package tokencount

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"testing"
)

// pngBase64 encodes a blank PNG of the given size.
func pngBase64(t testing.TB, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
