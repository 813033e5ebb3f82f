package deptest

import "testing"

// client is the binary the Slurm commands are links to (make links, make
// install): what a loop of sbatch starts once per job.
const client = module + "/cmd/shoal-client"

// serverOnly may not appear anywhere in the client's closure: the
// project's server packages and the libraries only they need. Linking
// them costs every sbatch their package initialisation and page-ins
// (issue 19: `shoal --help` took 3x a Go hello-world).
var serverOnly = []string{
	module + "/daemon",
	module + "/node",
	module + "/raftfsm",
	module + "/sched",
	"github.com/hashicorp/raft",
	"github.com/hashicorp/raft-boltdb",
	"github.com/hashicorp/go-memdb",
	"go.etcd.io/bbolt",
	"github.com/opencontainers",
	"github.com/google/go-containerregistry",
	"github.com/NVIDIA/go-nvml",
}

// TestClientDeps lists the client as the Makefile builds it (without cgo:
// a static binary, no dynamic loader at each start) and checks that it
// loads that way and reaches none of serverOnly.
func TestClientDeps(t *testing.T) {
	t.Setenv("CGO_ENABLED", "0")
	pkgs := goList(t, "-deps", client)
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	root, ok := byPath[client]
	if !ok {
		t.Fatalf("go list -deps %s: got no entry for it, want one", client)
	}
	if len(root.Deps) == 0 {
		t.Fatalf("go list -deps %s: got no dependencies, want cli's at least", client)
	}
	for _, d := range root.Deps {
		if r := underAny(d, serverOnly); r != "" {
			t.Errorf("%s depends on %s (under %s, imported by %s); want none of %v in the client",
				client, d, r, importersOf(d, byPath), serverOnly)
		}
		if d == "runtime/cgo" {
			t.Errorf("%s depends on runtime/cgo with CGO_ENABLED=0 (imported by %s); want a static client", client, importersOf(d, byPath))
		}
	}
	// The check must be able to fail: the full binary reaches them.
	full := goList(t, "-deps", module+"/cmd/shoal")
	found := map[string]bool{}
	for _, p := range full {
		if r := underAny(p.ImportPath, serverOnly); r != "" {
			found[r] = true
		}
	}
	for _, want := range []string{module + "/daemon", "github.com/hashicorp/raft", "github.com/opencontainers"} {
		if !found[want] {
			t.Errorf("go list -deps cmd/shoal: found nothing under %s; want the full binary to reach it (is the rule still matching?)", want)
		}
	}
}

// plainOnly may not appear in the client's closure either: it speaks
// HTTP/1.1 itself (api/client/core), and replaces itself with its TLS
// build (the tag shoal_client_tls) for a TLS address. Their package
// initialisation and page-ins were a third of each sbatch's start.
var plainOnly = []string{"net/http", "crypto/tls", "crypto/x509", module + "/api/client"}

// TestClientPlain checks that the client as the Makefile builds it
// reaches none of plainOnly (api/client/core is allowed: it is the plain
// client), and that its TLS build does reach crypto/tls (through
// api/client), so that the rule can fail.
func TestClientPlain(t *testing.T) {
	t.Setenv("CGO_ENABLED", "0")
	for _, tls := range []bool{false, true} {
		tags := "-tags=urfave_cli_no_docs"
		if tls {
			tags += ",shoal_client_tls"
		}
		pkgs := goList(t, tags, "-deps", client)
		byPath := map[string]pkg{}
		for _, p := range pkgs {
			byPath[p.ImportPath] = p
		}
		root, ok := byPath[client]
		if !ok {
			t.Fatalf("go list %s -deps %s: got no entry for it, want one", tags, client)
		}
		found := false
		for _, d := range root.Deps {
			r := underAny(d, plainOnly)
			if r == "" || under(d, module+"/api/client/core") {
				continue
			}
			found = found || r == "crypto/tls"
			if !tls {
				t.Errorf("%s (%s) depends on %s (under %s, imported by %s); want none of %v in the plain client",
					client, tags, d, r, importersOf(d, byPath), plainOnly)
			}
		}
		if tls && !found {
			t.Errorf("%s (%s): found no crypto/tls; want the TLS build to reach it (is the tag still honoured?)", client, tags)
		}
	}
}
