package main

import (
	"strings"
	"testing"
)

// TestParsePriorityFlags: fair tree unless NO_FAIR_TREE is given, as
// Slurm 22.05's PriorityFlags; other flags are refused with the two
// shoal knows.
func TestParsePriorityFlags(t *testing.T) {
	for in, want := range map[string]bool{"": true, "FAIR_TREE": true, "fair_tree": true, "NO_FAIR_TREE": false, " no_fair_tree ": false} {
		if got, err := parsePriorityFlags(in); err != nil || got != want {
			t.Errorf("parsePriorityFlags(%q) = %v, %v; want fair tree %v", in, got, err, want)
		}
	}
	if _, err := parsePriorityFlags("DEPTH_OBLIVIOUS"); err == nil || !strings.Contains(err.Error(), "NO_FAIR_TREE") {
		t.Errorf("parsePriorityFlags(DEPTH_OBLIVIOUS): %v, want an error naming FAIR_TREE and NO_FAIR_TREE", err)
	}
}
