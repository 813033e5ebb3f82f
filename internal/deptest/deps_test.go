// Package deptest checks the import boundaries docs/architecture.md
// ("Packages and what may import what") draws between shoal's packages,
// by asking `go list` what each package really imports (the shape of
// tailscale's tstest/deptest). TestArchitectureDoc checks that the
// document states the rules these tests enforce.
//
// What is checked, and why it is checked that way:
//
//   - sched and raftfsm must not import the network, subprocesses, disk,
//     randomness, raft, libcontainer or NVML directly.
//   - Their transitive closure must not contain raft, anything of
//     github.com/opencontainers or go-nvml at all.
//   - Nor net, net/http, crypto/tls or os/exec: api holds only the wire
//     types; the Go client lives in api/client and the HTTP answer helpers
//     in api/reply, which sched and raftfsm never import.
//   - Among the project's packages, raftfsm imports only api, and sched
//     only api and raftfsm.
//   - cli, with everything it pulls in, reaches none of raftfsm, sched,
//     daemon or node.
//   - Outside cmd/shoal, no package imports daemon, node or cli (or
//     anything under them) unless it is itself under that same tree (node
//     uses node/sandbox). Only non-test imports count: an end-to-end test
//     may start a real controller.
package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/shoal-batch/shoal"

// pkg is the part of `go list -json` output these tests read.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

// goList runs `go list -e -json` with args and decodes every package.
func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find the go command: %v; want it on PATH to list imports", err)
	}
	cmd := exec.Command(goBin, append([]string{"list", "-e", "-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list: package %s: %s; want it to load so that its imports can be checked", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %s: got no packages, want some", strings.Join(args, " "))
	}
	return pkgs
}

// under reports whether path is root or a package below it: the raft rule
// matches github.com/hashicorp/raft and github.com/hashicorp/raft/... but
// not github.com/hashicorp/raft-boltdb.
func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}

// underAny returns the first root that path is under, or "".
func underAny(path string, roots []string) string {
	for _, r := range roots {
		if under(path, r) {
			return r
		}
	}
	return ""
}

// heavy may not appear anywhere in the closure of sched or raftfsm.
var heavy = []string{
	"github.com/hashicorp/raft",
	"github.com/opencontainers",
	"github.com/NVIDIA/go-nvml",
}

// netExec are the standard packages that mean network or subprocess.
var netExec = []string{"net", "net/http", "os/exec"}

// wire may not appear anywhere in the closure of sched or raftfsm: netExec
// and TLS.
var wire = append(append([]string(nil), netExec...), "crypto/tls")

// impure are what sched and raftfsm may not import themselves: netExec, plus
// the disk and randomness (docs/architecture.md: "sched and raftfsm never touch the
// network, the disk ... or the wall clock"; ids and randomness come in
// the command).
var impure = append(append([]string(nil), netExec...), "os", "syscall", "math/rand", "math/rand/v2", "crypto/rand")

var core = []string{module + "/raftfsm", module + "/sched"}

// exactly reports whether path is one of list (no subpackages: net/http
// is its own entry, and net/netip is not net).
func exactly(path string, list []string) bool {
	for _, l := range list {
		if path == l {
			return true
		}
	}
	return false
}

func TestCoreDirectImports(t *testing.T) {
	for _, p := range goList(t, core...) {
		for _, imp := range p.Imports {
			if exactly(imp, impure) {
				t.Errorf("%s imports %s; want no network, subprocess, disk or randomness in %s", p.ImportPath, imp, p.ImportPath)
			}
			if r := underAny(imp, heavy); r != "" {
				t.Errorf("%s imports %s (under %s); want none of %v", p.ImportPath, imp, r, heavy)
			}
		}
	}
}

func TestCoreTransitiveDeps(t *testing.T) {
	pkgs := goList(t, append([]string{"-deps"}, core...)...)
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, c := range core {
		root, ok := byPath[c]
		if !ok {
			t.Fatalf("go list -deps: got no entry for %s, want one", c)
		}
		for _, d := range root.Deps {
			if r := underAny(d, heavy); r != "" {
				t.Errorf("%s depends on %s (under %s, imported by %s); want none of %v in its closure",
					c, d, r, importersOf(d, byPath), heavy)
			}
		}
	}
	// No network or subprocess code anywhere in the closure.
	for _, c := range core {
		for _, d := range byPath[c].Deps {
			if exactly(d, wire) {
				t.Errorf("%s depends on %s (imported by %s); want no network or subprocess code in its closure (the client is api/client)",
					c, d, importersOf(d, byPath))
			}
		}
	}
}

// importersOf names the packages of byPath that import path directly.
func importersOf(path string, byPath map[string]pkg) []string {
	var out []string
	for _, p := range byPath {
		for _, imp := range p.Imports {
			if imp == path {
				out = append(out, p.ImportPath)
			}
		}
	}
	sort.Strings(out)
	return out
}

// coreAllowed are the only project packages each core package imports.
// internal/units reads sizes and TRES limits and nothing else (no I/O):
// the FSM checks a limit with the parser the scheduler enforces it with.
var coreAllowed = map[string][]string{
	module + "/raftfsm": {module + "/api", module + "/internal/units"},
	module + "/sched":   {module + "/api", module + "/raftfsm", module + "/internal/units"},
}

func TestCoreProjectImports(t *testing.T) {
	for _, p := range goList(t, core...) {
		for _, imp := range p.Imports {
			if under(imp, module) && !exactly(imp, coreAllowed[p.ImportPath]) {
				t.Errorf("%s imports %s; want only %v of the project", p.ImportPath, imp, coreAllowed[p.ImportPath])
			}
		}
	}
}

// cliForbidden are what cli, with everything it pulls in, never reaches.
var cliForbidden = []string{module + "/raftfsm", module + "/sched", module + "/daemon", module + "/node"}

func TestCLIDeps(t *testing.T) {
	forbidden := cliForbidden
	for _, p := range goList(t, "-deps", module+"/cli/...") {
		if !under(p.ImportPath, module+"/cli") {
			continue
		}
		for _, d := range append(append([]string(nil), p.Imports...), p.Deps...) {
			if r := underAny(d, forbidden); r != "" {
				t.Errorf("%s depends on %s; want cli to reach none of %v (it talks to the controller through api)",
					p.ImportPath, d, forbidden)
			}
		}
	}
}

func TestNothingImportsEntryPoints(t *testing.T) {
	entry := []string{module + "/daemon", module + "/node", module + "/cli"}
	for _, p := range goList(t, module+"/...") {
		if p.ImportPath == module+"/cmd/shoal" || p.ImportPath == client {
			continue
		}
		for _, imp := range p.Imports {
			r := underAny(imp, entry)
			if r == "" || under(p.ImportPath, r) {
				continue
			}
			// The jobs' supervisor binary is the sandbox package alone.
			if p.ImportPath == module+"/cmd/shoal-sandbox" && imp == module+"/node/sandbox" {
				continue
			}
			t.Errorf("%s imports %s; want only cmd/shoal (and cmd/shoal-sandbox, node/sandbox) to import %s", p.ImportPath, imp, r)
		}
	}
}

// TestRules checks the matching the other tests rely on.
func TestRules(t *testing.T) {
	tests := []struct {
		path    string
		heavy   bool
		netExec bool
	}{
		{path: "github.com/hashicorp/raft", heavy: true},
		{path: "github.com/hashicorp/raft/fuzzy", heavy: true},
		{path: "github.com/hashicorp/raft-boltdb/v2"},
		{path: "github.com/hashicorp/go-memdb"},
		{path: "github.com/opencontainers/runc/libcontainer", heavy: true},
		{path: "github.com/opencontainers/cgroups", heavy: true},
		{path: "github.com/opencontainersfake/x"},
		{path: "github.com/NVIDIA/go-nvml/pkg/nvml", heavy: true},
		{path: "net", netExec: true},
		{path: "net/http", netExec: true},
		{path: "os/exec", netExec: true},
		{path: "net/netip"},
		{path: "net/url"},
		{path: "os"},
	}
	for _, tt := range tests {
		if got := underAny(tt.path, heavy) != ""; got != tt.heavy {
			t.Errorf("%s heavy: got %v, want %v", tt.path, got, tt.heavy)
		}
		if got := exactly(tt.path, netExec); got != tt.netExec {
			t.Errorf("%s network/subprocess: got %v, want %v", tt.path, got, tt.netExec)
		}
	}
}
