// Package boltcheck reads a whole bbolt file before a store opens it for
// good, so that a corrupt file is reported as an error naming it instead
// of a panic or a memory fault later, on some goroutine nobody can recover.
package boltcheck

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrCorrupt marks a file that exists and cannot be read as a bbolt
// database (wrapped with what was wrong).
var ErrCorrupt = errors.New("not a readable bbolt database")

// Check opens path read-only and reads every bucket, key and value in it.
// A missing file is fine (the store creates it); an empty one, one bbolt
// refuses, and one whose pages panic or fault when read give an error that
// wraps ErrCorrupt. Other errors (permissions, a lock another process
// holds for longer than lockWait) are returned as they are.
func Check(path string, lockWait time.Duration) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case info.Size() == 0:
		// bbolt would make a new database of it, silently.
		return fmt.Errorf("%w: the file is empty (0 bytes)", ErrCorrupt)
	}
	// On its own goroutine: a fault in the mapped file becomes a panic
	// there (SetPanicOnFault is per goroutine), recovered as an error.
	done := make(chan error, 1)
	go func() { done <- check(path, lockWait) }()
	return <-done
}

func check(path string, lockWait time.Duration) (err error) {
	debug.SetPanicOnFault(true)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: reading it failed: %v", ErrCorrupt, p)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockWait})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return fmt.Errorf("another process holds it: %w", err)
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := walk(b); err != nil {
				return fmt.Errorf("%w: bucket %q: %v", ErrCorrupt, name, err)
			}
			return nil
		})
	})
}

// walk reads every key and value under b, values byte by byte (a value
// on overflow pages past the end of the file faults here).
func walk(b *bolt.Bucket) error {
	var sum byte
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if child := b.Bucket(k); child != nil {
				return walk(child)
			}
			return nil
		}
		for _, c := range v {
			sum ^= c
		}
		_ = sum
		return nil
	})
}
