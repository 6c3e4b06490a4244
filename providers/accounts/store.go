package accounts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Load opens the accounts at path: one credential file, or every *.json
// file of a folder (a file that cannot be read is an error naming it; the
// others still load, so one bad file does not take the rest down).
func Load(path string, r Refresher, o Options) ([]*Account, []error) {
	path = ExpandHome(path)
	st, err := os.Stat(path)
	if err != nil {
		return nil, []error{fmt.Errorf("credentials %s: %w", path, err)}
	}
	files := []string{path}
	if st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.json"))
		sort.Strings(files)
		if len(files) == 0 {
			return nil, []error{fmt.Errorf("credentials %s: no *.json account file in the folder", path)}
		}
	}
	var out []*Account
	var errs []error
	for _, f := range files {
		a, err := Open(f, r, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errs
}

// PermissionWarning says when a credential file or folder can be read by
// other users, or "" when only its owner can.
func PermissionWarning(path string) string {
	path = ExpandHome(path)
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("%s is readable by other users (mode %#o): chmod 600 (700 for a folder)", path, st.Mode().Perm())
	}
	return ""
}

// ExpandHome replaces a leading ~/ by the home folder (credential paths
// in config are written as the official CLIs document them).
func ExpandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
