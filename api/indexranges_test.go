package api

import (
	"slices"
	"testing"
)

func TestIndexRanges(t *testing.T) {
	for _, c := range []struct {
		idx  []int
		want string
	}{
		{nil, ""},
		{[]int{3}, "3"},
		{[]int{0, 1, 2, 3, 4, 7}, "0-4,7"},
		{[]int{9, 1, 2, 5, 2}, "1-2,5,9"},
		{[]int{1, 3, 5}, "1,3,5"},
		{[]int{3, 4, 5, 6}, "3-6"},
		{[]int{1, 3, 5, 6, 7}, "1,3,5-7"},
		{[]int{2, 0, 1}, "0-2"},
	} {
		got := IndexRanges(c.idx)
		if got != c.want {
			t.Errorf("IndexRanges(%v) = %q, want %q", c.idx, got, c.want)
			continue
		}
		if got == "" {
			continue
		}
		back, err := ParseIndexRanges(got, 100)
		want := slices.Compact(slices.Sorted(slices.Values(c.idx)))
		if err != nil || !slices.Equal(back, want) {
			t.Errorf("ParseIndexRanges(%q) = %v, %v; want %v", got, back, err, want)
		}
	}
}

func TestParseIndexRangesRefuses(t *testing.T) {
	for _, s := range []string{"", "a", "-1", "3-1", "1,1", "5,2", "0-4,3-6", "1-", "0-99"} {
		if got, err := ParseIndexRanges(s, 50); err == nil {
			t.Errorf("ParseIndexRanges(%q) = %v, want an error", s, got)
		}
	}
}
