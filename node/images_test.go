package node

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/api/reply"
	"github.com/shoal-batch/shoal/internal/testimage"
	"github.com/shoal-batch/shoal/node/sandbox"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking images sets owners: needs root")
	}
}

// entry is one tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

func layerOf(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Uid: e.uid, Gid: e.uid,
			ModTime: time.Unix(1700000000, 0), Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// unpackLayers flattens layers (lowest first) as the cache does and
// returns the directory it unpacked them into.
func unpackLayers(t *testing.T, layers ...v1.Layer) (string, error) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	os.Mkdir(root, 0o755)
	rc := mutate.Extract(img)
	defer rc.Close()
	_, err = untar(root, rc, 0)
	return root, err
}

// listTree lists root as "path type mode uid [-> target | content]".
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		line := fmt.Sprintf("%s %o %d", strings.TrimPrefix(p, root+"/"), st.Mode, st.Uid)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			line += " -> " + target
		} else if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	return out
}

// Layers flatten as a container runtime stacks them: upper entries win,
// whiteouts delete, opaque directories hide what is below; modes, owners,
// set-id bits, symlinks and hard links are kept.
func TestUnpackLayers(t *testing.T) {
	needRoot(t)
	lower := layerOf(t,
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/keep", typ: tar.TypeReg, body: "lower"},
		entry{name: "etc/gone", typ: tar.TypeReg, body: "lower"},
		entry{name: "opaque/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "opaque/old", typ: tar.TypeReg, body: "lower"},
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/tool", typ: tar.TypeReg, body: "#!", mode: 0o4755, uid: 1234},
		entry{name: "bin/alias", typ: tar.TypeLink, link: "bin/tool"},
		entry{name: "bin/sym", typ: tar.TypeSymlink, link: "tool"},
	)
	upper := layerOf(t,
		entry{name: "etc/keep", typ: tar.TypeReg, body: "upper"},
		entry{name: "etc/.wh.gone", typ: tar.TypeReg},
		entry{name: "opaque/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "opaque/new", typ: tar.TypeReg, body: "upper"},
	)
	root, err := unpackLayers(t, lower, upper)
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	got := listTree(t, root)
	want := []string{
		"bin 40755 0",
		"bin/alias 104755 1234 #!",
		"bin/sym 120777 0 -> tool",
		"bin/tool 104755 1234 #!",
		"etc 40755 0",
		"etc/keep 100644 0 upper",
		"opaque 40755 0",
		"opaque/new 100644 0 upper",
	}
	if !slices.Equal(got, want) {
		t.Errorf("unpacked tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(root, "bin/alias"), &a)
	unix.Stat(filepath.Join(root, "bin/tool"), &b)
	if a.Ino != b.Ino {
		t.Errorf("bin/alias is not a hard link of bin/tool")
	}
	if fi, _ := os.Stat(filepath.Join(root, "etc/keep")); !fi.ModTime().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("etc/keep mtime %v, want the tar's", fi.ModTime())
	}
}

// An absolute symlink, and an entry written through it, stay in the root,
// where the job will resolve them.
func TestUnpackAbsoluteSymlinkStaysInRoot(t *testing.T) {
	needRoot(t)
	host := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "/"},
		{Name: "up" + host + "/pwned", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "/abs/name", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		tw.WriteHeader(h)
	}
	tw.Close()
	root := filepath.Join(t.TempDir(), "rootfs")
	os.Mkdir(root, 0o755)
	if _, err := untar(root, &buf, 0); err != nil {
		t.Fatalf("untar: %v", err)
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Errorf("the host dir %s now holds %v: untar wrote outside its root", host, entries)
	}
	for _, p := range []string{host + "/pwned", "abs/name"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s not inside the root: %v", p, err)
		}
	}
}

// escapingEntries are tar entries that would leave an image's root, each
// with a file after it that would be written through it.
func escapingEntries(host string) map[string][]*tar.Header {
	h := strings.TrimPrefix(host, "/")
	return map[string][]*tar.Header{
		"dotdot":        {{Name: "../../../../" + h + "/dotdot", Typeflag: tar.TypeReg, Mode: 0o644}},
		"inner dotdot":  {{Name: "a/../../" + h + "/inner", Typeflag: tar.TypeReg, Mode: 0o644}},
		"absolute up":   {{Name: "/../" + h + "/abs", Typeflag: tar.TypeReg, Mode: 0o644}},
		"relative link": {{Name: "rel", Typeflag: tar.TypeSymlink, Linkname: "../../../../.."}, {Name: "rel/" + h + "/viarel", Typeflag: tar.TypeReg, Mode: 0o644}},
		"deep link":     {{Name: "d/e/rel", Typeflag: tar.TypeSymlink, Linkname: "../../../x"}},
		"hard link":     {{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../../" + h + "/secret"}},
	}
}

// A stream with any entry that would leave the root is refused, and
// nothing is written outside it.
func TestUnpackRefusesEscapes(t *testing.T) {
	needRoot(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600)
	for name, hs := range escapingEntries(host) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "ok", Typeflag: tar.TypeReg, Mode: 0o644})
		for _, h := range hs {
			tw.WriteHeader(h)
		}
		tw.Close()
		root := filepath.Join(t.TempDir(), "rootfs")
		os.Mkdir(root, 0o755)
		if _, err := untar(root, &buf, 0); !errors.Is(err, ErrUnsafeImage) {
			t.Errorf("%s: untar: %v, want ErrUnsafeImage", name, err)
		}
		if entries, _ := os.ReadDir(host); len(entries) != 1 {
			t.Errorf("%s: the host dir %s now holds %v: untar wrote outside its root", name, host, entries)
		}
	}
}

// An image one of whose layers holds an entry that leaves the root is
// refused as a whole, whichever layer holds it, even where the flattened
// stream would have dropped it; nothing of it stays in the cache.
func TestUnpackRefusesUnsafeImage(t *testing.T) {
	needRoot(t)
	host := t.TempDir()
	for name, hs := range escapingEntries(host) {
		c := &imageCache{dir: filepath.Join(t.TempDir(), "images"), locks: map[string]*keyLock{}, digests: map[string]string{}}
		if err := c.prepare(); err != nil {
			t.Fatal(err)
		}
		var entries []entry
		for _, h := range hs {
			entries = append(entries, entry{name: h.Name, typ: h.Typeflag, link: h.Linkname})
		}
		good := layerOf(t, entry{name: "etc/", typ: tar.TypeDir, mode: 0o755}, entry{name: "etc/ok", typ: tar.TypeReg, body: "ok"})
		bad := layerOf(t, entries...)
		img, err := mutate.AppendLayers(empty.Image, bad, good)
		if err != nil {
			t.Fatal(err)
		}
		var tb bytes.Buffer
		if err := tarball.Write(nil, img, &tb); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(tb.Bytes())
		digest := "sha256:" + hex.EncodeToString(sum[:])
		_, err = c.unpack(context.Background(), digest, &tb)
		if !errors.Is(err, ErrUnsafeImage) {
			t.Errorf("%s: unpack: %v, want ErrUnsafeImage", name, err)
		}
		if left, _ := os.ReadDir(c.dir); len(left) != 0 {
			t.Errorf("%s: the cache holds %v after a refused image", name, left)
		}
		if left, _ := os.ReadDir(host); len(left) != 0 {
			t.Errorf("%s: %s holds %v: written outside the cache", name, host, left)
		}
	}
}

// fakeController serves the image fetch protocol from a map of names to
// tarballs, counting full answers.
type fakeController struct {
	mu     sync.Mutex
	images map[string]fakeImage
	full   atomic.Int32
	notMod atomic.Int32
}

type fakeImage struct {
	tarball []byte
	digest  string
}

// set points the name busybox at the tarball path.
func (f *fakeController) set(t testing.TB, path string) { f.setName(t, "busybox", path) }

func (f *fakeController) setName(t testing.TB, name, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	f.mu.Lock()
	if f.images == nil {
		f.images = map[string]fakeImage{}
	}
	f.images[name] = fakeImage{b, "sha256:" + hex.EncodeToString(sum[:])}
	f.mu.Unlock()
}

func (f *fakeController) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req api.FetchImageRequest
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	im, ok := f.images[req.Name]
	f.mu.Unlock()
	if !ok {
		reply.Error(w, api.Errorf(api.CodeNotFound, "image %q is not loaded", req.Name))
		return
	}
	w.Header().Set(api.HeaderImageDigest, im.digest)
	if req.IfNoneMatch == im.digest {
		f.notMod.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f.full.Add(1)
	w.Write(im.tarball)
}

func busyboxTarball(t *testing.T, tag string, extra map[string]string) string {
	t.Helper()
	p, err := testimage.Image(t.TempDir(), tag, extra)
	if errors.Is(err, testimage.ErrNoBusybox) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Concurrent starts of one image fetch and unpack it once; later starts
// cost a "not modified" round trip; loading the name again is picked up.
func TestImageRootfsCache(t *testing.T) {
	needRoot(t)
	fc := &fakeController{}
	fc.set(t, busyboxTarball(t, "busybox:latest", nil))
	srv := httptest.NewServer(fc)
	defer srv.Close()
	a := &Agent{cfg: Config{DataDir: t.TempDir(), Client: client.New(srv.URL, "")}}

	const n = 8
	roots := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { roots[i], _, errs[i] = a.imageRootfs(context.Background(), "busybox") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || roots[i] != roots[0] {
			t.Fatalf("start %d: rootfs %q, %v; want %q", i, roots[i], errs[i], roots[0])
		}
	}
	if full, nm := fc.full.Load(), fc.notMod.Load(); full != 1 || nm != n-1 {
		t.Errorf("%d concurrent starts: %d full fetches, %d not-modified; want 1 and %d", n, full, nm, n-1)
	}
	if b, err := os.ReadFile(filepath.Join(roots[0], "etc/passwd")); err != nil || string(b) != testimage.Passwd {
		t.Errorf("unpacked /etc/passwd: %q, %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(roots[0], "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("unpacked /bin/sh -> %q, %v; want -> /bin/busybox", target, err)
	}
	entries, _ := os.ReadDir(filepath.Join(a.cfg.DataDir, "images"))
	if len(entries) != 1 {
		t.Errorf("image cache holds %v, want one unpacked image and nothing temporary", entries)
	}

	// The name now points at another image.
	fc.set(t, busyboxTarball(t, "busybox:latest", map[string]string{"etc/version": "2\n"}))
	root2, _, err := a.imageRootfs(context.Background(), "busybox")
	if err != nil || root2 == roots[0] {
		t.Fatalf("after a new load: rootfs %q, %v; want a new one", root2, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root2, "etc/version")); string(b) != "2\n" {
		t.Errorf("the new image's /etc/version reads %q", b)
	}

	if _, _, err := a.imageRootfs(context.Background(), "nope"); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("an image the controller lacks: %v, want NotFound", err)
	}

	// The controller does not answer: the name's last digest serves.
	srv.Close()
	if root, _, err := a.imageRootfs(context.Background(), "busybox"); err != nil || root != root2 {
		t.Errorf("with the controller gone: %q, %v; want the cached %q", root, err, root2)
	}
	if _, _, err := a.imageRootfs(context.Background(), "other"); err == nil {
		t.Errorf("with the controller gone, an image never fetched: no error")
	}
}

func TestImageSpec(t *testing.T) {
	needRoot(t)
	fc := &fakeController{}
	fc.set(t, busyboxTarball(t, "busybox:latest", nil))
	srv := httptest.NewServer(fc)
	defer srv.Close()
	a := &Agent{cfg: Config{Name: "n1", DataDir: t.TempDir(), Client: client.New(srv.URL, "")}}
	a.logDir = filepath.Join(a.cfg.DataDir, "logs")

	j := api.Job{
		ID:  7,
		UID: 1000,
		GID: 1000,
		JobSpec: api.JobSpec{
			Image: "busybox", Command: []string{"echo", "hi"}, Env: map[string]string{"MINE": "1"},
			Mounts:         []api.Mount{{Source: "/srv", Target: "/data", ReadOnly: true}},
			ReadonlyRootfs: true,
		},
	}
	spec := a.jobSpec(&j)
	if _, err := a.imageSpec(context.Background(), &j, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Rootfs == "" || spec.Dir != "/" || !spec.ReadonlyRootfs || !slices.Equal(spec.Argv, []string{"echo", "hi"}) ||
		!slices.Equal(spec.Mounts, []sandbox.Mount{{Source: "/srv", Target: "/data", ReadOnly: true}}) {
		t.Errorf("spec: rootfs %q dir %q ro %v argv %q mounts %v", spec.Rootfs, spec.Dir, spec.ReadonlyRootfs, spec.Argv, spec.Mounts)
	}
	env := strings.Join(spec.Env, " ")
	for _, kv := range []string{"PATH=/bin", "HOME=/", "MINE=1", "SHOAL_JOB_ID=7"} {
		if !slices.Contains(spec.Env, kv) {
			t.Errorf("env lacks %s: %s", kv, env)
		}
	}
}

// BenchmarkImageRootfs: what an image job's start adds on the node once
// the image is cached (a "not modified" round trip), and, reported as
// unpack-ms, the first start's fetch and unpack of the busybox image.
func BenchmarkImageRootfs(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	p, err := testimage.Busybox(b.TempDir())
	if errors.Is(err, testimage.ErrNoBusybox) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	fc := &fakeController{}
	fc.set(b, p)
	srv := httptest.NewServer(fc)
	defer srv.Close()
	a := &Agent{cfg: Config{DataDir: b.TempDir(), Client: client.New(srv.URL, "")}}
	t0 := time.Now()
	if _, _, err := a.imageRootfs(context.Background(), "busybox"); err != nil {
		b.Fatal(err)
	}
	unpack := time.Since(t0)
	b.ResetTimer()
	for range b.N {
		if _, _, err := a.imageRootfs(context.Background(), "busybox"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(unpack.Microseconds())/1000, "unpack-ms")
}
