package slurm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenCase opens the golden case in dir: read returns one of its files
// (false if absent), args its command line (the args file, one argument a
// line).
func goldenCase(t *testing.T, dir string) (read func(name string) (string, bool), args []string) {
	t.Helper()
	read = func(name string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b), true
	}
	argText, ok := read("args")
	if !ok {
		t.Fatalf("%s has no args file", dir)
	}
	if argText != "" {
		args = strings.Split(strings.TrimSuffix(argText, "\n"), "\n")
	}
	return read, args
}
