package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// writeJSONFile writes rep indented. encoding/json is fine here: it runs
// once per run, far from the request path.
func writeJSONFile(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// ReadReport loads a JSON report and checks its schema version.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var rep Report
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("decode report %s: %w", path, err)
	}
	if rep.Schema != SchemaVersion {
		return nil, fmt.Errorf("report %s has schema %q, want %q", path, rep.Schema, SchemaVersion)
	}
	rep.Config.restoreDurations()
	return &rep, nil
}
