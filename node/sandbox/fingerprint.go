package sandbox

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sync"
)

// sources are this package's files, built into every binary that holds
// it: two binaries with the same Fingerprint hand jobs between daemon and
// supervisor the same way (see SupervisorName).
//
//go:embed *.go
var sources embed.FS

// Fingerprint is a digest of this package's source, the same in every
// binary built from the same tree (with the same dependencies, which
// sameBuild compares).
var Fingerprint = sync.OnceValue(func() string {
	h := sha256.New()
	names, _ := fs.Glob(sources, "*.go") // sorted
	for _, n := range names {
		b, _ := sources.ReadFile(n)
		h.Write([]byte(n + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
})
