package loadtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProcParsing(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The command name holds spaces and a ')': fields count from the last one.
	stat := write("stat", "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 9 0 100 1000000 500\n")
	cpu, err := procCPU(stat)
	if err != nil || cpu != 4.0 {
		t.Errorf("cpu %v, %v; want 4.0 s (250+150 ticks)", cpu, err)
	}
	statm := write("statm", "1000 300 50 10 0 200 0\n")
	rss, err := statmRSS(statm)
	if err != nil || rss != 300*uint64(os.Getpagesize()) {
		t.Errorf("rss %d, %v", rss, err)
	}
	for _, bad := range []string{write("short", "1 (x) S 1\n"), write("nocomm", "1 2 3\n"), filepath.Join(dir, "missing")} {
		if _, err := procCPU(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	if _, err := statmRSS(write("bad statm", "12\n")); err == nil {
		t.Error("short statm parsed")
	}
}

func TestSamplers(t *testing.T) {
	self := SelfSample()
	if self.RSSBytes == 0 || self.Goroutines <= 0 || self.CPUSeconds <= 0 {
		t.Errorf("self sample %+v", self)
	}
	read, err := PIDSampler(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	r := read()
	if r.RSSBytes == 0 || r.Goroutines != -1 {
		t.Errorf("pid sample %+v", r)
	}
	if _, err := PIDSampler(1 << 30); err == nil {
		t.Error("sampler for a missing pid")
	}
	// CPU percent is the CPU used between samples over the wall time.
	cpu := 10.0
	open := int64(0)
	s := newSampler(func() Resources { cpu += 0.5; return Resources{RSSBytes: 1, CPUSeconds: cpu} },
		func() (int64, int64) { open += 3; return open, open + 1 }, time.Unix(0, 0))
	s.take(time.Unix(1, 0))
	s.take(time.Unix(3, 0))
	if got := s.samples; len(got) != 2 || got[0].CPUPercent != 50 || got[1].CPUPercent != 25 || got[1].T != 3 ||
		got[1].OpenStreams != 6 || got[1].InFlight != 7 {
		t.Errorf("samples %+v", got)
	}
	if s.cpuSeconds() != 1 {
		t.Errorf("cpu over the run %v, want 1", s.cpuSeconds())
	}
	// Time-weighted mean: 50% for 1 s and 25% for 2 s is 33.3%, not the
	// 37.5% of an unweighted mean.
	if m := resourceReport("pid", s.samples, 0).MeanCPUPercent; !near(m, 100.0/3, 1e-9) {
		t.Errorf("mean CPU %v, want 33.3", m)
	}
}
