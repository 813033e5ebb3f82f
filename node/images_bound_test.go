package node

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/internal/units"
)

// boundedImages serves the images a, b and c (busybox and a file each)
// to a new agent with the data dir dir.
func boundedImages(t *testing.T, dir string) (*fakeController, func(Config) *Agent) {
	t.Helper()
	needRoot(t)
	fc := &fakeController{}
	for _, n := range []string{"a", "b", "c"} {
		fc.setName(t, n, busyboxTarball(t, n+":latest", map[string]string{"etc/name": n + "\n"}))
	}
	srv := httptest.NewServer(fc)
	t.Cleanup(srv.Close)
	return fc, func(cfg Config) *Agent {
		cfg.DataDir, cfg.Client = dir, client.New(srv.URL, "")
		return &Agent{cfg: cfg}
	}
}

// Past its bound the cache removes the least recently used image that no
// job uses: not one a job of this daemon runs (pinned until it ends), nor
// one an earlier daemon's job holds in its overlay; while only images in
// use are left it holds more, until a job ends. A new daemon finds the
// sizes and the order of use on disk, counting the size of an image
// unpacked before sizes were recorded.
func TestImageCacheBound(t *testing.T) {
	dir := t.TempDir()
	fc, agent := boundedImages(t, dir)
	a := agent(Config{})
	ctx := context.Background()
	get := func(name string) (string, func()) {
		t.Helper()
		root, release, err := a.imageRootfs(ctx, name)
		if err != nil {
			t.Fatalf("image %s: %v", name, err)
		}
		return root, release
	}
	cache := filepath.Join(dir, "images")
	held := func(want ...string) {
		t.Helper()
		var got []string
		entries, _ := os.ReadDir(cache)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(cache, e.Name(), "rootfs/etc/name"))
			if err != nil {
				t.Errorf("cache entry %s: %v", e.Name(), err)
			}
			got = append(got, strings.TrimSpace(string(b)))
		}
		if !sameSet(got, want) {
			t.Errorf("the cache holds %v, want %v", got, want)
		}
	}

	rootA, releaseA := get("a")
	releaseA() // a's job ended
	c := a.images()
	one := c.held[filepath.Base(filepath.Dir(rootA))].size
	if one < 1<<20 {
		t.Fatalf("image a unpacked to %d bytes, want busybox's and more", one)
	}
	c.capacity = 2*one + one/2 // room for two

	_, releaseB := get("b") // b's job runs on
	_, releaseC := get("c")
	held("b", "c") // a, the least recently used
	releaseC()
	_, releaseA = get("a")
	held("a", "b") // c: b is older, but in use

	// An earlier daemon's job holds b in its overlay.
	releaseB()
	overlay := overlayOn(t, filepath.Join(cache, fc.cacheName("b"), "rootfs"))
	releaseA()
	_, releaseC = get("c")
	held("b", "c") // a: b is older, but mounted

	// Only images in use: the cache holds more than its bound, until
	// c's job ends.
	_, releaseA = get("a")
	held("a", "b", "c")
	releaseC()
	held("a", "b")
	releaseA()

	// A new daemon, with room for one image and a's size unrecorded.
	if err := os.Remove(filepath.Join(cache, fc.cacheName("a"), imageSizeFile)); err != nil {
		t.Fatal(err)
	}
	unmount(t, overlay)
	a = agent(Config{ImageCacheBytes: one + one/2})
	_, releaseA = get("a")
	held("a") // b went at the start: a was used last
	if got := a.images().held[fc.cacheName("a")].size; got != one {
		t.Errorf("a's size counted by a new daemon: %d, want %d as unpacked", got, one)
	}
	releaseA()
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}

// cacheName is the cache's name of the image name's tarball.
func (f *fakeController) cacheName(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.TrimPrefix(f.images[name].digest, "sha256:")
}

// overlayOn mounts an overlay with lower layer lower, as a job's, and
// returns where; unmount (or the test's end) removes it. It lies under
// /var/tmp/shoal-e2e-*, where node/sandbox's tests, which may run at the
// same time, know the host's mounts are other tests'.
func overlayOn(t *testing.T, lower string) string {
	t.Helper()
	base, err := os.MkdirTemp("/var/tmp", "shoal-e2e-overlay-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) }) // after the unmount below
	upper, work, at := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, at} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off", lower, upper, work)
	if err := unix.Mount("overlay", at, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	t.Cleanup(func() { unmount(t, at) })
	return at
}

func unmount(t *testing.T, at string) {
	if err := unix.Unmount(at, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) { // gone already
		t.Errorf("unmount %s: %v", at, err)
	}
	os.Remove(at)
}

// An image that unpacks to more than the node takes is refused, saying
// how big it is, the limit and the flag that sets it; nothing of it
// stays.
func TestImageTooBig(t *testing.T) {
	dir := t.TempDir()
	_, agent := boundedImages(t, dir)
	var refusals []string
	for _, c := range []struct {
		cfg  Config
		flag string
	}{
		{Config{MaxImageBytes: 1 << 20, ImageCacheBytes: 100 << 20}, "-max-image-size"},
		{Config{MaxImageBytes: 100 << 20, ImageCacheBytes: 1 << 20}, "-image-cache-size"},
		{Config{ImageCacheBytes: 1 << 20}, "-image-cache-size"},
	} {
		_, _, err := agent(c.cfg).imageRootfs(context.Background(), "a")
		if !errors.Is(err, ErrImageTooBig) {
			t.Fatalf("%+v: %v, want ErrImageTooBig", c.cfg, err)
		}
		want := "over the 1.0 MiB this node takes for one image: raise shoal agent's " + c.flag
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want it to say %q", c.cfg, err, want)
		}
		refusals = append(refusals, err.Error())
		if left, _ := os.ReadDir(filepath.Join(dir, "images")); len(left) != 0 {
			t.Errorf("%+v: the cache holds %v after a refused image", c.cfg, left)
		}
	}
	root, release, err := agent(Config{}).imageRootfs(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	release()
	size, err := unpackedSize(root)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("it unpacks to %s (%d bytes)", units.FormatBytes(size), size)
	for _, r := range refusals {
		if !strings.Contains(r, want) {
			t.Errorf("refused with %q, want it to say %q", r, want)
		}
	}
}
