package api

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// IndexRanges writes array task indexes as Slurm writes them in
// "A_[1-3,5]": sorted, runs of consecutive indexes as ranges.
func IndexRanges(idx []int) string {
	s := slices.Clone(idx)
	slices.Sort(s)
	s = slices.Compact(s)
	var b []byte
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(s[i]), 10)
		if j > i {
			b = strconv.AppendInt(append(b, '-'), int64(s[j]), 10)
		}
		i = j + 1
	}
	return string(b)
}

// ParseIndexRanges reads what IndexRanges writes ("0-4,7") into the
// indexes, in order; at most limit of them, so that a hostile "0-999999999"
// cannot make a list of its size.
func ParseIndexRanges(s string, limit int) ([]int, error) {
	bad := func(why string) error {
		return fmt.Errorf("array task ranges %q: %s; want sorted indexes and ranges such as \"0-4,7\"", s, why)
	}
	var out []int
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, bad(fmt.Sprintf("%q is not an index", lo))
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, bad(fmt.Sprintf("%q is not a range", item))
			}
		}
		if len(out) > 0 && a <= out[len(out)-1] {
			return nil, bad("out of order")
		}
		if b-a >= limit-len(out) {
			return nil, bad(fmt.Sprintf("more than %d tasks", limit))
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}
