package loadtest

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Resources is one reading of the process under test.
type Resources struct {
	RSSBytes   uint64
	CPUSeconds float64 // user + system since the process started
	Goroutines int     // -1 when unknown (another process)
}

// SelfSample reads the current process: RSS from /proc/self/statm, CPU from
// getrusage, goroutines from the runtime. The embedded setup can use it as
// its Sample callback, since proxy and mock run inside this process.
func SelfSample() Resources {
	r := Resources{Goroutines: runtime.NumGoroutine(), CPUSeconds: selfCPU()}
	if rss, err := statmRSS("/proc/self/statm"); err == nil {
		r.RSSBytes = rss
	}
	return r
}

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// statmRSS reads the resident set (second field, in pages) of a statm file.
func statmRSS(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, fmt.Errorf("%s: short statm %q", path, b)
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: rss field: %w", path, err)
	}
	return pages * uint64(os.Getpagesize()), nil
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc on every
// architecture Go supports.
const clockTicks = 100

// procCPU reads utime+stime (fields 14 and 15) of /proc/PID/stat.
func procCPU(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	// The command name may contain spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command field", path)
	}
	f := bytes.Fields(b[i+1:])
	// After ')' come state(3), ppid(4)...; utime is field 14, i.e. f[11].
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: short stat", path)
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: cpu fields %q %q", path, f[11], f[12])
	}
	return float64(ut+st) / clockTicks, nil
}

// PIDSampler returns a Sample function reading another process from /proc.
// Goroutines are unknown from outside and reported as -1.
func PIDSampler(pid int) (func() Resources, error) {
	statm := fmt.Sprintf("/proc/%d/statm", pid)
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	if _, err := statmRSS(statm); err != nil {
		return nil, fmt.Errorf("sample pid %d: %w", pid, err)
	}
	return func() Resources {
		r := Resources{Goroutines: -1}
		r.RSSBytes, _ = statmRSS(statm)
		r.CPUSeconds, _ = procCPU(stat)
		return r
	}, nil
}

// ResourceSample is one point of the resource time series.
type ResourceSample struct {
	T          float64 `json:"t_s"`
	RSSBytes   uint64  `json:"rss_bytes"`
	CPUPercent float64 `json:"cpu_percent"`
	Goroutines int     `json:"goroutines"`
	// OpenStreams and InFlight are the generator's own count, at the
	// sample, of streams open against the target and requests in flight.
	OpenStreams int64 `json:"open_streams"`
	InFlight    int64 `json:"in_flight"`
}

// sampler turns successive readings into a series with CPU percentages.
type sampler struct {
	read    func() Resources
	gauge   func() (open, inflight int64) // may be nil
	start   time.Time
	first   Resources
	last    Resources
	lastT   time.Time
	samples []ResourceSample
}

func newSampler(read func() Resources, gauge func() (int64, int64), start time.Time) *sampler {
	r := read()
	return &sampler{read: read, gauge: gauge, start: start, first: r, last: r, lastT: start}
}

// cpuSeconds is the CPU time the process used between the first reading
// and the last.
func (s *sampler) cpuSeconds() float64 { return s.last.CPUSeconds - s.first.CPUSeconds }

func (s *sampler) take(now time.Time) {
	r := s.read()
	cpu := 0.0
	if dt := now.Sub(s.lastT).Seconds(); dt > 0 {
		cpu = (r.CPUSeconds - s.last.CPUSeconds) / dt * 100
	}
	rs := ResourceSample{T: now.Sub(s.start).Seconds(), RSSBytes: r.RSSBytes, CPUPercent: cpu, Goroutines: r.Goroutines}
	if s.gauge != nil {
		rs.OpenStreams, rs.InFlight = s.gauge()
	}
	s.samples = append(s.samples, rs)
	s.last, s.lastT = r, now
}
