package daemon

import (
	"sync"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// fitCache remembers, across submits, which queues and resources some node
// can hold: a stream of alike jobs asks the state once, not once each
// (each ask reads every node of the queue). What it remembers holds until
// a node, a queue or a compute environment changes. Only what fits is
// remembered: a refusal names its job.
type fitCache struct {
	mu    sync.Mutex
	fits  map[satisfiableKey]bool
	watch memdb.WatchSet // fires when what fits may have changed
}

type satisfiableKey struct {
	queue string
	res   api.Resources
}

// satisfiable is the package's satisfiable, remembered.
func (f *fitCache) satisfiable(state *raftfsm.State, j api.Job) error {
	if len(j.Queues) > 1 {
		return satisfiable(state, j)
	}
	k := satisfiableKey{j.Queue, j.Resources}
	f.mu.Lock()
	known := f.fits[k] && !fired(f.watch)
	f.mu.Unlock()
	if known {
		return nil
	}
	if err := satisfiable(state, j); err != nil {
		return err
	}
	ws := memdb.NewWatchSet()
	state.WatchFitInputs(ws)
	if fired(ws) { // state is older than the store: remember nothing from it
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watch == nil || fired(f.watch) {
		f.fits, f.watch = map[satisfiableKey]bool{}, ws
	}
	// Neither set has fired: both states read the same nodes and queues.
	f.fits[k] = true
	return nil
}

// fired reports whether a channel of ws has fired; a nil ws has.
func fired(ws memdb.WatchSet) bool {
	if ws == nil {
		return true
	}
	for ch := range ws {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}
