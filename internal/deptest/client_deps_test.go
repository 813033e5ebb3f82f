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

// plainOnly may not appear in the plain build of the client either (what
// the Slurm names link to): it speaks HTTP/1.1 itself (api/client/core)
// and holds the Slurm commands only; it replaces itself with its full
// build (the tag shoal_client_full) for a TLS address or one of shoal's
// own commands. Their package initialisation and page-ins were most of
// what each sbatch's start cost over a Go hello-world's.
var plainOnly = []string{"net/http", "crypto/tls", "crypto/x509", module + "/api/client",
	"github.com/urfave/cli", module + "/cli"}

// TestClientPlain checks that the client as the Makefile builds it
// reaches none of plainOnly (api/client/core and cli/slurm are allowed:
// they are the plain client), and that its full build does reach
// crypto/tls and urfave/cli, so that the rule can fail.
func TestClientPlain(t *testing.T) {
	t.Setenv("CGO_ENABLED", "0")
	allowed := []string{module + "/api/client/core", module + "/cli/slurm", module + "/cli/internal"}
	for _, full := range []bool{false, true} {
		tags := "-tags=urfave_cli_no_docs"
		if full {
			tags += ",shoal_client_full"
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
		found := map[string]bool{}
		for _, d := range root.Deps {
			r := underAny(d, plainOnly)
			if r == "" || underAny(d, allowed) != "" {
				continue
			}
			found[r] = true
			if !full {
				t.Errorf("%s (%s) depends on %s (under %s, imported by %s); want none of %v in the plain client",
					client, tags, d, r, importersOf(d, byPath), plainOnly)
			}
		}
		if full && (!found["crypto/tls"] || !found["github.com/urfave/cli"]) {
			t.Errorf("%s (%s): found %v of %v; want the full build to reach crypto/tls and urfave/cli (is the tag still honoured?)", client, tags, found, plainOnly)
		}
	}
}
