package slurm

import (
	"strconv"

	"github.com/shoal-batch/shoal/api/client/core"
)

// staleReads lets squeue and sinfo be answered from the state of
// whichever controller they ask, without a round trip to the leader, when
// SHOAL_STALE is true (1, true): a follower's view, which may lag the
// leader by what it has not applied yet, and which answers during an
// election. Slurm has no such option; consistent reads stay the default.
func staleReads(c *Ctx) {
	if on, _ := strconv.ParseBool(c.Getenv("SHOAL_STALE")); !on {
		return
	}
	if cl, ok := c.Client.(*core.Client); ok {
		cl.Stale = true
	}
}
