package daemon

import (
	"net/http"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// Lists answered in JSON are built whole before they are sent (their
// count comes first). Without a bound, a few callers asking at once for
// a long history with every field (scripts of up to 4 MiB each) held
// gigabytes. So an answer past bigListBytes waits its turn to grow: one
// big answer is built and sent at a time; none may pass maxListBytes,
// which is what paging (limit, afterId) is for. A caller that does not
// read its big answer keeps the turn at most bigListWrite.
const (
	bigListBytes = 16 << 20
	maxListBytes = 256 << 20
	bigListWait  = 30 * time.Second // for the turn, before the answer is refused as busy
	bigListWrite = 2 * time.Minute  // to send a big answer
)

// bigLists lets one big list answer be built and sent at a time.
type bigLists struct {
	turn           chan struct{}
	big, max       int           // bigListBytes, maxListBytes
	wait, sendTime time.Duration // bigListWait, bigListWrite
	onWait         func()        // tests: called as an answer starts to wait for the turn
}

func newBigLists() bigLists {
	return bigLists{turn: make(chan struct{}, 1), big: bigListBytes, max: maxListBytes, wait: bigListWait, sendTime: bigListWrite}
}

// listGate follows one answer as it grows: it takes the turn of big
// answers when the answer passes bigListBytes, and refuses it past
// maxListBytes. done gives the turn back (once the answer is sent, or
// refused); it may be called more than once.
type listGate struct {
	big  *bigLists
	held bool
}

func (b *bigLists) gate() *listGate { return &listGate{big: b} }

// grew is called with the answer's size as it grows.
func (g *listGate) grew(size int) error {
	if size > g.big.big && !g.held {
		t := time.NewTimer(g.big.wait)
		defer t.Stop()
		if g.big.onWait != nil {
			g.big.onWait()
		}
		select {
		case g.big.turn <- struct{}{}:
			g.held = true
		case <-t.C:
			return api.Errorf(api.CodeUnavailable, "other large lists are being answered: try again, or ask for this one in pages (limit and afterId)")
		}
	}
	if size > g.big.max {
		return api.Errorf(api.CodeInvalid, "this list would be over %d KiB: ask for it in pages (limit and afterId, as sacct does), with fewer fields, or as rows", g.big.max>>10).WithField("limit")
	}
	return nil
}

// sending bounds the time a big answer may take to send.
func (g *listGate) sending(w http.ResponseWriter) {
	if g != nil && g.held {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(g.big.sendTime))
	}
}

func (g *listGate) done() {
	if g != nil && g.held {
		g.held = false
		<-g.big.turn
	}
}
