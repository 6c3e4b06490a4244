package loadtest

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chartReport is a report with data in every chart.
func chartReport(t *testing.T) *Report {
	rep := fakeReport(t, 1, 300, true)
	d, err := endpointFromReport(&rep.Endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		recordDur(d.h.TTFT, time.Duration(20+i%37)*time.Millisecond)
	}
	for i := 0; i < 2000; i++ {
		recordDur(d.h.ChunkGap, time.Duration(15+i%30)*time.Millisecond)
	}
	d.timeline = []Bucket{{T: 1, Completed: 90, P50Ms: 40, P90Ms: 80, P99Ms: 150}, {T: 2, Completed: 120, Errors: 3, P50Ms: 45, P90Ms: 95, P99Ms: 400},
		{T: 3, Completed: 110, P50Ms: 42, P90Ms: 85, P99Ms: 160}}
	for i := 0; i < 300; i++ {
		d.scatter = append(d.scatter, ScatterPoint{T: float64(i) / 100, LatencyMs: float64(30 + i%50), OK: i%40 != 0, Stream: i%2 == 0})
	}
	rep.Endpoints[0] = d.report()
	var samples []ResourceSample
	for i := 1; i <= 30; i++ {
		samples = append(samples, ResourceSample{T: float64(i), RSSBytes: uint64(40<<20 + i*(256<<10)), CPUPercent: 50, Goroutines: 30})
	}
	rep.Resources = resourceReport("embedded", samples, 3)
	return rep
}

func TestRenderHTML(t *testing.T) {
	page, err := renderHTML(chartReport(t))
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, page)
}

// TestHTMLInChromium renders the page in headless Chromium and checks the
// screenshot is a real, non-blank image. Install chromium to run it.
func TestHTMLInChromium(t *testing.T) {
	const bin = "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("chromium not installed (Debian package chromium)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := writeHTMLFile(page, chartReport(t)); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1000,4200",
		"--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 500 || b.Dy() < 500 {
		t.Fatalf("screenshot %v too small", b)
	}
	// Count colors and non-background pixels on a grid: a blank or
	// unstyled page has a handful of colors and almost no ink.
	colors := map[uint32]bool{}
	ink, total := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
			total++
			if r>>8 < 200 || g>>8 < 200 || bl>>8 < 200 {
				ink++
			}
		}
	}
	if len(colors) < 20 || ink*200 < total {
		t.Errorf("screenshot looks blank: %d colors, %d of %d sampled pixels inked", len(colors), ink, total)
	}
	t.Logf("screenshot %v: %d colors, %.1f%% inked", b, len(colors), 100*float64(ink)/float64(total))
	if os.Getenv("LOADTEST_KEEP_SHOT") != "" {
		data, _ := os.ReadFile(shot)
		_ = os.WriteFile(os.Getenv("LOADTEST_KEEP_SHOT"), data, 0o644)
	}
}
