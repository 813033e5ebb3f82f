package daemon

import (
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

func TestSubmitBurstHold(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const limit = 500 * time.Millisecond
	for _, tc := range []struct {
		name    string
		submits []int // ms
		passAt  []int // passes made before asking (ms)
		askAt   int
		limit   time.Duration
		want    time.Duration
	}{
		{name: "no submit", askAt: 0, limit: limit, want: 0},
		{name: "a lone submit is placed at once", submits: []int{0}, askAt: 0, limit: limit, want: 0},
		{name: "two close submits wait for a pause", submits: []int{0, 5}, askAt: 5, limit: limit, want: burstGap},
		{name: "the pause came", submits: []int{0, 5}, askAt: 5 + int(burstGap/time.Millisecond), limit: limit, want: 0},
		{name: "submits far apart are no burst", submits: []int{0, 60, 120}, askAt: 120, limit: limit, want: 0},
		{name: "a long burst holds no longer than the limit", submits: every10(490), askAt: 490, limit: limit, want: 10 * time.Millisecond},
		{name: "past the limit a pass goes at once", submits: every10(510), askAt: 510, limit: limit, want: 0},
		{name: "after a pass the limit counts again", submits: every10(510), passAt: []int{505}, askAt: 510, limit: limit, want: burstGap},
		{name: "and holds up to it", submits: every10(1000), passAt: []int{505}, askAt: 1000, limit: limit, want: 5 * time.Millisecond},
		{name: "no limit, no hold", submits: []int{0, 5}, askAt: 5, limit: 0, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b submitBurst
			passes := tc.passAt
			for _, ms := range tc.submits {
				for len(passes) > 0 && passes[0] <= ms {
					b.passed(at(passes[0]))
					passes = passes[1:]
				}
				b.note(at(ms))
			}
			if got := b.hold(at(tc.askAt), tc.limit); got != tc.want {
				t.Errorf("hold at %d ms = %v, want %v", tc.askAt, got, tc.want)
			}
		})
	}
}

// every10 is submits every 10 ms from 0 to last.
func every10(last int) []int {
	var ms []int
	for t := 0; t <= last; t += 10 {
		ms = append(ms, t)
	}
	return ms
}

// TestBurstDefersPlacement: a lone submit is placed at once; submits that
// come together wait for the burst to pause, then are placed together.
func TestBurstDefersPlacement(t *testing.T) {
	mc := startMemController(t, Config{NodeTTL: 24 * time.Hour, BurstDefer: 2 * time.Second})
	mc.registerNode("n1")
	job := api.JobSpec{Name: "burst", Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}}
	placed := func(j *api.Job) bool { return j.Node != "" }
	first := mc.submit(alice, job)
	mc.waitJob(first, placed) // the clock has not moved: nothing held it

	// The fake clock stands still: these come in one instant, a burst.
	var ids []uint64
	for range 3 {
		ids = append(ids, mc.submit(alice, job))
	}
	armed := make(chan struct{})
	go func() { mc.clock.WaitArmed(burstGap); close(armed) }()
	select {
	case <-armed: // the loop holds its pass for the pause
	case <-time.After(10 * time.Second):
		t.Fatalf("the scheduling loop armed no wait of %v for the burst to pause", burstGap)
	}
	for _, j := range mc.jobs(alice, api.ListJobsRequest{IDs: ids}) {
		if j.Node != "" {
			t.Fatalf("job %d was placed on %s during the burst, before it paused", j.ID, j.Node)
		}
	}
	mc.clock.Advance(burstGap)
	for _, id := range ids {
		mc.waitJob(id, placed)
	}
}
