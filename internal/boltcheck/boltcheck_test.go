package boltcheck

import (
	"encoding/binary"
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
	if err := Check(good, bolt.Options{Timeout: time.Second}); err != nil {
		t.Errorf("a sound file: %v, want nil", err)
	}
	if err := Check(filepath.Join(dir, "missing.db"), bolt.Options{Timeout: time.Second}); err != nil {
		t.Errorf("a missing file: %v, want nil (the store creates it)", err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, damaged := range map[string][]byte{
		"freelist":  doubleFree(t, data),
		"cycle":     cycle(t, data),
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
		err := Check(path, bolt.Options{Timeout: time.Second})
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want an error wrapping ErrCorrupt", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

// doubleFree returns data with the current meta page's freelist listing
// one page twice: the pages read fine, and bbolt panics on a later write.
func doubleFree(t *testing.T, data []byte) []byte {
	t.Helper()
	d := append([]byte(nil), data...)
	const pageHeader, pageSize = 16, 4096
	var freelist uint64
	var txid uint64
	for _, meta := range []int{0, pageSize} { // meta: magic, version, pageSize, flags, root{pgid, seq}, freelist, pgid, txid
		m := d[meta+pageHeader:]
		if tx := binary.LittleEndian.Uint64(m[48:]); tx >= txid {
			txid, freelist = tx, binary.LittleEndian.Uint64(m[32:])
		}
	}
	page := d[freelist*pageSize:]
	binary.LittleEndian.PutUint16(page[10:], 2) // count
	binary.LittleEndian.PutUint64(page[pageHeader:], 3)
	binary.LittleEndian.PutUint64(page[pageHeader+8:], 3)
	return d
}

// cycle returns data with bucket b's root branch page naming itself as its
// first child: bbolt's cursor would descend for ever.
func cycle(t *testing.T, data []byte) []byte {
	t.Helper()
	d := append([]byte(nil), data...)
	const pageSize = 4096
	var root, txid uint64
	for _, meta := range []int{0, pageSize} {
		m := d[meta+16:]
		if tx := binary.LittleEndian.Uint64(m[48:]); tx >= txid {
			txid, root = tx, binary.LittleEndian.Uint64(m[16:])
		}
	}
	// The root bucket's leaf holds one element, bucket "b": its value
	// starts with b's root page.
	leaf := d[root*pageSize:]
	pos, ksize := binary.LittleEndian.Uint32(leaf[16+4:]), binary.LittleEndian.Uint32(leaf[16+8:])
	bRoot := binary.LittleEndian.Uint64(leaf[16+pos+ksize:])
	branch := d[bRoot*pageSize:]
	if flags := binary.LittleEndian.Uint16(branch[8:]); flags != 0x01 {
		t.Fatalf("bucket b's root page %d has flags %#x, want a branch", bRoot, flags)
	}
	binary.LittleEndian.PutUint64(branch[16+8:], bRoot)
	return d
}
