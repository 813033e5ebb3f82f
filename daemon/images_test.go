package daemon

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/testimage"
)

func TestImageKey(t *testing.T) {
	for _, tc := range []struct{ in, key, familiar string }{
		{"busybox", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:latest", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/library/busybox", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox:latest", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"me/tool:v2", "index.docker.io/me/tool:v2", "me/tool:v2"},
		{"registry.example:5000/team/tool:v2", "registry.example:5000/team/tool:v2", "registry.example:5000/team/tool:v2"},
	} {
		key, familiar, err := imageKey(tc.in)
		if err != nil || key != tc.key || familiar != tc.familiar {
			t.Errorf("imageKey(%q) = %q, %q, %v; want %q, %q", tc.in, key, familiar, err, tc.key, tc.familiar)
		}
	}
	for _, bad := range []string{"", "Busybox", "busybox@sha256:" + strings.Repeat("a", 64), "a b"} {
		if _, _, err := imageKey(bad); !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("imageKey(%q) = %v, want InvalidRequest", bad, err)
		}
	}
}

func busybox(t *testing.T, tag string, extra map[string]string) []byte {
	t.Helper()
	p, err := testimage.Image(t.TempDir(), tag, extra)
	if errors.Is(err, testimage.ErrNoBusybox) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImageStore(t *testing.T) {
	s := &imageStore{dir: filepath.Join(t.TempDir(), "images")}
	now := time.UnixMilli(1700000000000)
	v1 := busybox(t, "busybox:latest", nil)

	got, err := s.load(bytes.NewReader(v1), nil, now)
	if err != nil || len(got) != 1 || got[0].Name != "busybox:latest" || got[0].Size != int64(len(v1)) ||
		!strings.HasPrefix(got[0].Digest, "sha256:") || got[0].LoadedAt != now.UnixMilli() {
		t.Fatalf("load: %+v, %v", got, err)
	}
	for _, n := range []string{"busybox", "docker.io/library/busybox:latest"} {
		im, f, err := s.open(n)
		if err != nil {
			t.Fatalf("open(%q): %v", n, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if im.Digest != got[0].Digest || !bytes.Equal(b, v1) {
			t.Errorf("open(%q): digest %s and %d bytes, want %s and the loaded tarball", n, im.Digest, len(b), got[0].Digest)
		}
	}
	if _, _, err := s.open("busybox:1.36"); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("open of a tag never loaded: %v, want NotFound", err)
	}

	// Another name for the same bytes, then the name loaded with other
	// content: the first tarball stays while "alias" points at it.
	if _, err := s.load(bytes.NewReader(v1), []string{"alias"}, now); err != nil {
		t.Fatal(err)
	}
	v2 := busybox(t, "busybox:latest", map[string]string{"etc/version": "2\n"})
	got2, err := s.load(bytes.NewReader(v2), nil, now)
	if err != nil || got2[0].Digest == got[0].Digest {
		t.Fatalf("load v2: %+v, %v", got2, err)
	}
	blobs := func() int { m, _ := filepath.Glob(filepath.Join(s.dir, "*.tar")); return len(m) }
	if n := blobs(); n != 2 {
		t.Errorf("%d tarballs stored, want 2 (v1 for alias, v2 for busybox)", n)
	}
	if _, err := s.load(bytes.NewReader(v2), []string{"alias"}, now); err != nil {
		t.Fatal(err)
	}
	if n := blobs(); n != 1 {
		t.Errorf("%d tarballs stored once nothing names v1, want 1", n)
	}
	if entries, _ := os.ReadDir(s.dir); len(entries) != 2 {
		t.Errorf("store holds %v, want one tarball and the index, nothing temporary", entries)
	}
}

// Refused, with nothing stored: not a tarball, a broken layer, two images,
// no name at all.
func TestImageStoreRefuses(t *testing.T) {
	s := &imageStore{dir: filepath.Join(t.TempDir(), "images")}
	good := busybox(t, "busybox:latest", nil)

	// Flip a byte of the layer blob: its content no longer matches.
	var broken bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(good)), tar.NewWriter(&broken)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		b, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, ".tar.gz") || (len(b) > 100000) {
			b[len(b)/2] ^= 0xff
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()

	untagged, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	var noTags, two bytes.Buffer
	ref, _ := name.NewTag("x:1")
	if err := tarball.Write(ref, untagged, &noTags); err != nil {
		t.Fatal(err)
	}
	// tarball.Write records the tag: drop it from manifest.json.
	noTags = *bytes.NewBuffer(stripRepoTags(t, noTags.Bytes()))
	ref2, _ := name.NewTag("y:1")
	other, _ := random.Image(1024, 1)
	if err := tarball.MultiWrite(map[name.Tag]ggcr.Image{ref: untagged, ref2: other}, &two); err != nil {
		t.Fatal(err)
	}

	for what, body := range map[string][]byte{
		"garbage":      []byte("not a tarball"),
		"broken layer": broken.Bytes(),
		"two images":   two.Bytes(),
		"no name":      noTags.Bytes(),
	} {
		if _, err := s.load(bytes.NewReader(body), nil, time.Now()); !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("%s: load = %v, want InvalidRequest", what, err)
		} else {
			t.Logf("%s: %v", what, err)
		}
	}
	if entries, _ := os.ReadDir(s.dir); len(entries) != 0 {
		t.Errorf("refused loads left %v", entries)
	}
	// With a name, the untagged one loads.
	if _, err := s.load(bytes.NewReader(noTags.Bytes()), []string{"named"}, time.Now()); err != nil {
		t.Errorf("load of an untagged tarball with a name: %v", err)
	}
}

// stripRepoTags rewrites an image tarball with no RepoTags in its manifest.
func stripRepoTags(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(b)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		if h.Name == "manifest.json" {
			var m tarball.Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			for i := range m {
				m[i].RepoTags = nil
			}
			data, _ = json.Marshal(m)
			h.Size = int64(len(data))
		}
		tw.WriteHeader(h)
		tw.Write(data)
	}
	tw.Close()
	return out.Bytes()
}
