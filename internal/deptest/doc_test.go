package deptest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureDoc: docs/architecture.md states the rules the other
// tests enforce: for raftfsm and sched exactly the project packages
// coreAllowed lets them import, for cli the packages cliForbidden keeps
// out of its reach, and by name every import impure and heavy forbid the
// core. Change a rule here and there together.
func TestArchitectureDoc(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatalf("read the architecture document: %v", err)
	}
	doc := string(data)
	start := strings.Index(doc, "## Packages and what may import what")
	if start < 0 {
		t.Fatal(`docs/architecture.md has no "## Packages and what may import what" section`)
	}
	rules := doc[start:]
	if end := strings.Index(rules[3:], "\n## "); end >= 0 {
		rules = rules[:end+3]
	}
	// "    sched  -> api, raftfsm (read-only snapshot interface)", and
	// the more deeply indented lines that continue a rule.
	arrow := regexp.MustCompile(`^\s+([a-z/, ]+?)\s*->\s*(.+)$`)
	stated := map[string]string{}
	var last []string // the packages of the rule being read
	for _, line := range strings.Split(rules, "\n") {
		if m := arrow.FindStringSubmatch(line); m != nil {
			last = nil
			for _, from := range strings.Split(m[1], ",") {
				from = strings.TrimSpace(from)
				stated[from] = m[2]
				last = append(last, from)
			}
			continue
		}
		if strings.HasPrefix(line, "          ") && len(last) > 0 {
			for _, from := range last {
				stated[from] += " " + strings.TrimSpace(line)
			}
			continue
		}
		last = nil
	}
	for pkg, allowed := range coreAllowed {
		name := strings.TrimPrefix(pkg, module+"/")
		line, ok := stated[name]
		if !ok {
			t.Errorf("docs/architecture.md states no %q -> rule; want %s -> %s", name, name, short(allowed))
			continue
		}
		line = regexp.MustCompile(`\s*\(.*\)`).ReplaceAllString(line, "")
		line, _, _ = strings.Cut(line, ";")
		if got, want := strings.Join(strings.Fields(strings.ReplaceAll(line, ",", " ")), ", "), short(allowed); got != want {
			t.Errorf("docs/architecture.md: %s -> %s; the test allows %s -> %s", name, got, name, want)
		}
	}
	cliLine := stated["cli"]
	for _, f := range cliForbidden {
		if name := strings.TrimPrefix(f, module+"/"); !strings.Contains(cliLine, name) {
			t.Errorf("docs/architecture.md: cli -> %q does not say cli never reaches %s", cliLine, name)
		}
	}
	for _, imp := range append(append([]string(nil), impure...), "raft", "libcontainer", "go-nvml") {
		if !strings.Contains(rules, imp) {
			t.Errorf("docs/architecture.md does not name %s among what sched and raftfsm may not import", imp)
		}
	}
}

// short is the package names of paths, comma-separated.
func short(paths []string) string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strings.TrimPrefix(p, module+"/")
	}
	return strings.Join(names, ", ")
}
