package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// row is one benchmark's line of one benchstat table: the centre (median)
// of each input for one unit, and benchstat's p-value when both exist.
type row struct {
	pkg, name, unit string
	base, cur       float64
	hasBase, hasCur bool
	// p is the p-value of benchstat's test (-1 when it gave none).
	p float64
	// n is benchstat's sample counts ("6" or "6+5").
	n string
}

// key names a benchmark across tables.
func (r *row) key() string { return r.pkg + "." + r.name }

// parseCSV reads `benchstat -format csv` output: "key: value" lines set
// the configuration (pkg among them), a line ",unit,CI,unit,CI,vs base,P"
// starts a table of that unit, and each following line is one benchmark
// until the geomean line or a blank line.
// A package whose benchmarks ran in one input only gets a table of that
// input alone (",unit,CI"); its rows count as that input's, baseName
// telling which one.
func parseCSV(in io.Reader, baseName string) ([]row, error) {
	var out []row
	pkg, unit := "", ""
	// only is the input named alone on the files line, "" when both are;
	// single is set in a table of that one input.
	only, single := "", false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			unit = ""
			continue
		}
		if !strings.HasPrefix(line, ",") && !strings.Contains(line, ",") {
			// A configuration line: "goos: linux", "pkg: example.com/x".
			if k, v, ok := strings.Cut(line, ": "); ok && k == "pkg" {
				pkg = strings.TrimSpace(v)
			}
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", ln, err)
		}
		switch {
		case rec[0] == "" && len(rec) > 2 && rec[2] == "CI":
			// The header of a table: its unit ("sec/op", "B/op", ...).
			// (The line above it names the input files.)
			single = len(rec) == 3 && only != ""
			if len(rec) < 6 && !single {
				return nil, fmt.Errorf("line %d: want two inputs in the table header, got %q", ln, line)
			}
			unit = rec[1]
		case rec[0] == "":
			// The line naming the input files.
			only = ""
			if names := nonEmpty(rec); len(names) == 1 {
				only = names[0]
			}
		case rec[0] == "geomean":
		case unit == "":
			return nil, fmt.Errorf("line %d: benchmark %q outside a table", ln, rec[0])
		default:
			if single && only != baseName {
				// The new input's value, in the baseline's column.
				rec = append([]string{rec[0], "", ""}, rec[1:]...)
			}
			r, err := parseRow(rec)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", ln, err)
			}
			r.pkg, r.unit = pkg, unit
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// nonEmpty returns rec's non-empty fields.
func nonEmpty(rec []string) []string {
	var out []string
	for _, f := range rec {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseRow reads "name,base,CI,new,CI,vs base,P"; a benchmark only in one
// input leaves the other's fields empty (or the line short).
func parseRow(rec []string) (row, error) {
	r := row{name: rec[0], p: -1}
	field := func(i int) string {
		if i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var err error
	if s := field(1); s != "" {
		if r.base, err = strconv.ParseFloat(s, 64); err != nil {
			return r, fmt.Errorf("%s: baseline value %q", r.name, s)
		}
		r.hasBase = true
	}
	if s := field(3); s != "" {
		if r.cur, err = strconv.ParseFloat(s, 64); err != nil {
			return r, fmt.Errorf("%s: new value %q", r.name, s)
		}
		r.hasCur = true
	}
	// "p=0.026 n=6" or "p=0.571 n=6+3".
	for _, f := range strings.Fields(field(6)) {
		switch {
		case strings.HasPrefix(f, "p="):
			if r.p, err = strconv.ParseFloat(f[2:], 64); err != nil {
				return r, fmt.Errorf("%s: p-value %q", r.name, f)
			}
		case strings.HasPrefix(f, "n="):
			r.n = f[2:]
		}
	}
	return r, nil
}
