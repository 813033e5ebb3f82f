package boltcheck

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := bolt.Open(good, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		for i := 0; i < 2000; i++ {
			if err := b.Put([]byte{byte(i >> 8), byte(i)}, make([]byte, 100+i)); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(good, time.Second); err != nil {
		t.Errorf("a sound file: %v, want nil", err)
	}
	if err := Check(filepath.Join(dir, "missing.db"), time.Second); err != nil {
		t.Errorf("a missing file: %v, want nil (the store creates it)", err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, damaged := range map[string][]byte{
		"empty":     nil,
		"truncated": data[:len(data)/2],
		"data pages": func() []byte {
			d := append([]byte(nil), data...)
			for i := 2 * 4096; i < len(d); i++ {
				d[i] = byte(i*13 + 1)
			}
			return d
		}(),
	} {
		path := filepath.Join(dir, name+".db")
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(path, time.Second); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want an error wrapping ErrCorrupt", name, err)
		}
	}
}
