package promptlog

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// rotatingFile appends lines to path and, before a line would push it past
// maxBytes, shifts path.N-1 -> path.N ... path -> path.1 and starts afresh.
// Only the Logger's writer goroutine touches it.
type rotatingFile struct {
	path     string
	maxBytes int64
	maxFiles int
	f        *os.File
	w        *bufio.Writer
	size     int64
}

func openRotating(path string, maxBytes int64, maxFiles int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, maxBytes: maxBytes, maxFiles: maxFiles}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	// Prompts are sensitive: owner-only.
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("promptlog: open %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("promptlog: stat %s: %w", r.path, err)
	}
	r.f, r.size = f, st.Size()
	if r.w == nil {
		r.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		r.w.Reset(f)
	}
	return nil
}

func (r *rotatingFile) writeLine(line []byte) error {
	if r.f == nil {
		// A failed rotation left no file; try again so one transient
		// error does not silence the log for good.
		if err := r.open(); err != nil {
			return err
		}
	}
	if r.maxBytes > 0 && r.size > 0 && r.size+int64(len(line)) > r.maxBytes {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.w.Write(line)
	r.size += int64(n)
	if err != nil {
		return fmt.Errorf("promptlog: write %s: %w", r.path, err)
	}
	return nil
}

func (r *rotatingFile) rotate() error {
	if err := r.closeFile(); err != nil {
		return err
	}
	if r.maxFiles == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("promptlog: rotate: %w", err)
		}
	} else {
		for i := r.maxFiles - 1; i >= 1; i-- {
			err := os.Rename(r.name(i), r.name(i+1))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("promptlog: rotate: %w", err)
			}
		}
		if err := os.Rename(r.path, r.name(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("promptlog: rotate: %w", err)
		}
	}
	return r.open()
}

func (r *rotatingFile) name(i int) string { return r.path + "." + strconv.Itoa(i) }

func (r *rotatingFile) flush() error {
	if r.f == nil {
		return nil
	}
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("promptlog: flush %s: %w", r.path, err)
	}
	return nil
}

func (r *rotatingFile) closeFile() error {
	if r.f == nil {
		return nil
	}
	ferr := r.w.Flush()
	cerr := r.f.Close()
	r.f = nil
	if ferr != nil {
		return fmt.Errorf("promptlog: flush %s: %w", r.path, ferr)
	}
	if cerr != nil {
		return fmt.Errorf("promptlog: close %s: %w", r.path, cerr)
	}
	return nil
}

// Close flushes and closes the current file.
func (r *rotatingFile) Close() error { return r.closeFile() }

// Write lets the Logger treat the file as its io.Writer.
func (r *rotatingFile) Write(p []byte) (int, error) {
	if err := r.writeLine(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
