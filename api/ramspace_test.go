package api

import (
	"math"
	"strings"
	"testing"
)

// TestRAMSpace: the memory limit a queue's ConstrainRAMSpace and
// AllowedRAMSpace give a job, and the settings refused.
func TestRAMSpace(t *testing.T) {
	no, yes := false, true
	const mib = 1 << 20
	for _, c := range []struct {
		name string
		r    RAMSpace
		req  int64
		want int64
	}{
		{"defaults: the request", RAMSpace{}, 100 * mib, 100 * mib},
		{"constrained, 100%", RAMSpace{ConstrainRAMSpace: &yes, AllowedRAMSpace: 100}, 100 * mib, 100 * mib},
		{"150%", RAMSpace{AllowedRAMSpace: 150}, 100 * mib, 150 * mib},
		{"50%", RAMSpace{AllowedRAMSpace: 50}, 100 * mib, 50 * mib},
		{"a tiny share is still 1 MiB", RAMSpace{AllowedRAMSpace: 0.001}, 10 * mib, 1 * mib},
		{"not constrained", RAMSpace{ConstrainRAMSpace: &no, AllowedRAMSpace: 150}, 100 * mib, 0},
		{"no request: no limit", RAMSpace{AllowedRAMSpace: 150}, 0, 0},
	} {
		if got := c.r.LimitBytes(c.req); got != c.want {
			t.Errorf("%s: limit %d, want %d", c.name, got, c.want)
		}
		if err := c.r.Check(); err != nil {
			t.Errorf("%s: %v; want it accepted", c.name, err)
		}
	}
	for _, bad := range []float64{-1, MaxAllowedRAMSpace + 1, math.NaN()} {
		if err := (RAMSpace{AllowedRAMSpace: bad}).Check(); err == nil || !strings.Contains(err.Error(), "allowedRAMSpace") {
			t.Errorf("AllowedRAMSpace %v: %v; want a refusal naming allowedRAMSpace", bad, err)
		}
	}
}
