// Package faults is a programmable, fault-injecting OpenAI-compatible
// upstream for tests. It listens on 127.0.0.1 on an ephemeral port and
// answers each request by a Script: chosen by the request's X-Fault header,
// else by the next entry of a queue the test fills ("first 503, then OK"),
// else by a default. It counts requests, logs which key each one carried,
// and reports clients that hang up mid-response.
package faults

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeaderFault selects a Script per request, in the form ParseScript reads.
const HeaderFault = "X-Fault"

// Kind is the behaviour of a Script.
type Kind uint8

const (
	// OK answers normally: a chat.completion, or an SSE stream of Chunks
	// content chunks, a finish chunk and data: [DONE] when the request says
	// "stream": true.
	OK Kind = iota
	// Status answers Status with an OpenAI error body, and a Retry-After
	// header when RetryAfter is set.
	Status
	// Reset closes the connection with RST before any response byte.
	Reset
	// Stall sends nothing for Delay (0: until the client leaves), then
	// answers as OK.
	Stall
	// StreamStall sends Chunks chunks then nothing for Delay (0: until the
	// client leaves), then finishes the stream.
	StreamStall
	// Truncate sends Chunks chunks and closes: no finish chunk, no [DONE],
	// no terminating HTTP chunk.
	Truncate
	// Malformed streams one good chunk, an event with broken JSON, a line
	// that is not SSE, then [DONE].
	Malformed
	// HugeLine streams one data line of at least Size bytes (default just
	// over 1 MiB), then finishes normally.
	HugeLine
	// Slow streams Chunks chunks Gap apart, then finishes normally.
	Slow
)

var kindNames = [...]string{"ok", "status", "reset", "stall", "stream-stall", "truncate", "malformed", "huge-line", "slow"}

// String is the kind's name in X-Fault headers.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Script is one scripted response.
type Script struct {
	Kind Kind
	// Status is the HTTP status of a Status script (default 500).
	Status int
	// RetryAfter is the raw Retry-After header value to send with Status.
	RetryAfter string
	// Delay is the stall length of Stall and StreamStall.
	Delay time.Duration
	// Chunks is the number of content chunks streamed (default 3).
	Chunks int
	// Gap is the pause between chunks of Slow (default 50 ms).
	Gap time.Duration
	// Size is the length of a HugeLine data line (default 1 MiB + 1 KiB).
	Size int
}

func (s Script) withDefaults() Script {
	if s.Kind == Status && s.Status == 0 {
		s.Status = 500
	}
	if s.Chunks <= 0 {
		s.Chunks = 3
	}
	if s.Gap <= 0 {
		s.Gap = 50 * time.Millisecond
	}
	if s.Size <= 0 {
		s.Size = 1<<20 + 1<<10
	}
	return s
}

// Header renders s for the X-Fault header; ParseScript reads it back.
func (s Script) Header() string {
	var b strings.Builder
	if s.Kind == Status {
		b.WriteString(strconv.Itoa(s.withDefaults().Status))
	} else {
		b.WriteString(s.Kind.String())
	}
	if s.RetryAfter != "" {
		b.WriteString(";retry-after=" + s.RetryAfter)
	}
	if s.Delay > 0 {
		b.WriteString(";delay=" + s.Delay.String())
	}
	if s.Chunks > 0 {
		b.WriteString(";chunks=" + strconv.Itoa(s.Chunks))
	}
	if s.Gap > 0 {
		b.WriteString(";gap=" + s.Gap.String())
	}
	if s.Size > 0 {
		b.WriteString(";size=" + strconv.Itoa(s.Size))
	}
	return b.String()
}

// ParseScript reads "name[;param=value]...": name is a Kind name or an HTTP
// status code (shorthand for a Status script), params are retry-after,
// delay, chunks, gap and size. Examples: "503", "429;retry-after=2",
// "reset", "stall;delay=2s", "stream-stall;chunks=2", "slow;chunks=5;gap=20ms".
func ParseScript(v string) (Script, error) {
	parts := strings.Split(v, ";")
	name := strings.ToLower(strings.TrimSpace(parts[0]))
	var s Script
	if code, err := strconv.Atoi(name); err == nil {
		if code < 100 || code > 999 {
			return Script{}, fmt.Errorf("faults: status %d out of range", code)
		}
		s.Kind, s.Status = Status, code
	} else {
		found := false
		for i, n := range kindNames {
			if n == name {
				s.Kind, found = Kind(i), true
				break
			}
		}
		if !found {
			return Script{}, fmt.Errorf("faults: unknown fault %q", name)
		}
	}
	for _, p := range parts[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return Script{}, fmt.Errorf("faults: parameter %q is not key=value", p)
		}
		var err error
		switch strings.ToLower(key) {
		case "retry-after":
			s.RetryAfter = val
		case "delay":
			s.Delay, err = time.ParseDuration(val)
		case "gap":
			s.Gap, err = time.ParseDuration(val)
		case "chunks":
			s.Chunks, err = strconv.Atoi(val)
		case "size":
			s.Size, err = strconv.Atoi(val)
		case "code":
			s.Status, err = strconv.Atoi(val)
		default:
			return Script{}, fmt.Errorf("faults: unknown parameter %q", key)
		}
		if err != nil {
			return Script{}, fmt.Errorf("faults: parameter %s: %w", key, err)
		}
	}
	return s, nil
}
