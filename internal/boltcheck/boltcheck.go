// Package boltcheck reads a whole bbolt file before a store opens it for
// good, so that a corrupt file is reported as an error instead of a panic,
// a memory fault or an endless loop later, on some goroutine nobody can
// recover (bbolt follows page ids in its mmap without bounds checks).
package boltcheck

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// ErrCorrupt marks a file that exists and cannot be read as a bbolt
// database (wrapped with what was wrong).
var ErrCorrupt = errors.New("not a readable bbolt database")

// Check reads every page of path's tree and its freelist with bounds
// checks (checkPages), then opens it as the store will (with opts), before
// the store does. A missing file is fine (the store creates it); an empty
// one, one whose pages are out of bounds, used twice, of the wrong type or
// freed while in use, and one bbolt refuses or panics on give an error
// that wraps ErrCorrupt. Other errors (permissions, a lock another process
// holds for longer than opts.Timeout) are returned as they are. Nothing is
// written.
func Check(path string, opts bolt.Options) error {
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
	if err := checkPages(path); err != nil {
		return err
	}
	// Then as the store will open it (bbolt loads or rebuilds the
	// freelist in Open), still where a panic is an error.
	return protected(func() error {
		db, err := open(path, &opts)
		if err != nil {
			return err
		}
		return db.Close()
	})
}

// protected runs fn on a goroutine of its own: a fault in the mapped file
// becomes a panic there (SetPanicOnFault is per goroutine), and a panic an
// error wrapping ErrCorrupt.
func protected(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("%w: reading it failed: %v", ErrCorrupt, p)
			}
		}()
		done <- fn()
	}()
	return <-done
}

func open(path string, opts *bolt.Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("another process holds it: %w", err)
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return db, nil
}
