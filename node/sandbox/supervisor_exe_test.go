package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// buildSupervisor builds cmd/shoal-sandbox into a fresh directory, linked
// as the Makefile links it (statically; ldflags) or as plain `go build`
// does (ldflags nil).
func buildSupervisor(t testing.TB, ldflags ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/shoal-sandbox")
	}
	p, err := goBuildSupervisor(t.TempDir(), ldflags...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func goBuildSupervisor(dir string, ldflags ...string) (string, error) {
	p := filepath.Join(dir, SupervisorName)
	// No VCS stamp: the test binary has none either (sameBuild compares).
	args := append([]string{"build", "-buildvcs=false", "-o", p}, ldflags...)
	out, err := exec.Command("go", append(args, "../../cmd/shoal-sandbox")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", SupervisorName, err, out)
	}
	return p, nil
}

// static is shoal-sandbox linked statically, built once for all tests.
var static struct {
	once      sync.Once
	dir, path string
	err       error
}

// staticSupervisor is shoal-sandbox linked as `make build` links it:
// statically, so that an image job can execute it inside its image.
func staticSupervisor(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/shoal-sandbox")
	}
	static.once.Do(func() {
		if static.dir, static.err = os.MkdirTemp("", "shoal-sandbox-static-"); static.err == nil {
			static.path, static.err = goBuildSupervisor(static.dir, staticLink...)
		}
	})
	if static.err != nil {
		t.Fatal(static.err)
	}
	return static.path
}

// staticRunner is newRunner's Runner with a statically linked supervisor.
func staticRunner(t testing.TB) *Runner {
	r := newRunner(t)
	r.Supervisor = staticSupervisor(t)
	return r
}

// staticLink is how the Makefile links shoal-sandbox (SANDBOX_STATIC).
var staticLink = []string{"-tags=urfave_cli_no_docs,netgo,osusergo", "-ldflags=-linkmode=external -extldflags=-static"}

// A Runner with Supervisor set starts each job's supervisor, and so the
// job's libcontainer init, from that binary; the job runs as it would
// under this one. The binary may be linked statically, as `make build`
// does, or dynamically.
func TestSupervisorBinary(t *testing.T) {
	for _, link := range []struct {
		name    string
		ldflags []string
	}{{"dynamic", nil}, {"static", staticLink}} {
		t.Run(link.name, func(t *testing.T) {
			if link.ldflags == nil {
				testSupervisorBinary(t, buildSupervisor(t))
			} else {
				testSupervisorBinary(t, staticSupervisor(t))
			}
		})
	}
}

func testSupervisorBinary(t *testing.T, bin string) {
	r := newRunner(t)
	r.Supervisor = bin
	j, spec, _ := startWithFifo(t, r, `echo out; echo ready > "$FIFO"; exec sleep 3600`)
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(j.Pid()) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	exe, err := os.Readlink("/proc/" + f[1] + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if exe != bin {
		t.Errorf("the job's supervisor runs %s, want %s", exe, bin)
	}
	if err := j.Stop(0); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	assertGone(t, r, spec.ID)
	if got := readFile(t, spec.Stdout); got != "out\n" {
		t.Errorf("stdout %q, want %q", got, "out\n")
	}
	res, out := run(t, r, baseSpec(t, "sh", "-c", "echo $$; exit 3"))
	if res.ExitCode != 3 || out != "1\n" {
		t.Errorf("job under the supervisor binary: exit %d, output %q; want 3 and its pid 1", res.ExitCode, out)
	}
}

// A supervisor binary that others than root could change, one of another
// build, or one users may not execute is refused: every job's supervisor
// runs it as root, and users' jobs execute it.
func TestSupervisorBinaryRefused(t *testing.T) {
	bin := buildSupervisor(t)
	if err := os.Chmod(bin, 0o757); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t)
	r.Supervisor = bin
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "only root") {
		t.Errorf("Check with a world-writable supervisor binary: %v, want a refusal naming who may change it", err)
	}
	// One that users may not execute: their jobs enter their working
	// directory through it.
	os.Chmod(bin, 0o750)
	r = newRunner(t)
	r.Supervisor = bin
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), bin+" has mode") || !strings.Contains(err.Error(), "everyone must be allowed") {
		t.Errorf("Check with a supervisor binary others may not execute: %v, want a refusal saying why", err)
	}
	// Another build: its node/sandbox differs (a stale binary left next
	// to a newer shoal), here its Fingerprint.
	dir := t.TempDir()
	stale := filepath.Join(dir, "fingerprint.go")
	os.WriteFile(stale, []byte("package sandbox\n\nvar Fingerprint = func() string { return \"stale\" }\n"), 0o644)
	self, _ := filepath.Abs("fingerprint.go")
	overlay := filepath.Join(dir, "overlay.json")
	os.WriteFile(overlay, []byte(`{"Replace":{"`+self+`":"`+stale+`"}}`), 0o644)
	other := filepath.Join(dir, SupervisorName)
	out, err := exec.Command("go", "build", "-buildvcs=false", "-overlay", overlay, "-o", other, "../../cmd/shoal-sandbox").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	r = newRunner(t)
	r.Supervisor = other
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "another build") {
		t.Errorf("Check with a supervisor binary of another build: %v, want a refusal", err)
	}
}
