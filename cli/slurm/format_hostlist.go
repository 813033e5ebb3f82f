package slurm

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// hostName splits a node name into its prefix and trailing number, the
// way Slurm's hostlist does: "n12" -> ("n", 12, 2 digits). A name without
// trailing digits has digits == 0.
type hostName struct {
	prefix string
	num    int
	digits int // how many digits were written (for zero padding)
}

func splitHost(name string) hostName {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || len(name)-i > 9 {
		return hostName{prefix: name}
	}
	n, _ := strconv.Atoi(name[i:])
	return hostName{prefix: name[:i], num: n, digits: len(name) - i}
}

// padded reports whether h's number is written with leading zeros.
func (h hostName) padded() bool { return h.digits > len(strconv.Itoa(h.num)) }

// compressHosts writes node names in Slurm's hostlist syntax: sorted,
// duplicates dropped, numbered names with one prefix in brackets
// ("n[1-3,5]"); a lone name stays as it is ("n5"). Zero-padded numbers
// keep their width ("node[01-02,10]"): a name joins the padded ones of
// its prefix when its number is as wide.
func compressHosts(names []string) string {
	if len(names) == 0 {
		return ""
	}
	type member struct {
		h     hostName
		width int // 0: not padded
	}
	var ms []member
	seen := map[string]bool{}
	padWidth := map[string]int{}
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		h := splitHost(n)
		if h.padded() {
			padWidth[h.prefix] = max(padWidth[h.prefix], h.digits)
		}
		ms = append(ms, member{h: h})
	}
	for i := range ms {
		if w := padWidth[ms[i].h.prefix]; w > 0 && ms[i].h.digits == w {
			ms[i].width = w
		}
	}
	sort.SliceStable(ms, func(a, b int) bool {
		x, y := ms[a], ms[b]
		if x.h.prefix != y.h.prefix {
			return x.h.prefix < y.h.prefix
		}
		if (x.h.digits == 0) != (y.h.digits == 0) {
			return x.h.digits == 0
		}
		if x.width != y.width {
			return x.width > y.width
		}
		return x.h.num < y.h.num
	})
	var out []string
	for i := 0; i < len(ms); {
		m := ms[i]
		if m.h.digits == 0 {
			out = append(out, m.h.prefix)
			i++
			continue
		}
		j := i + 1
		for j < len(ms) && ms[j].h.digits != 0 && ms[j].h.prefix == m.h.prefix && ms[j].width == m.width {
			j++
		}
		group := make([]hostName, j-i)
		for k := i; k < j; k++ {
			group[k-i] = ms[k].h
		}
		out = append(out, bracket(group, m.width))
		i = j
	}
	return strings.Join(out, ",")
}

// bracket writes one group of names sharing a prefix and width.
func bracket(group []hostName, w int) string {
	num := func(n int) string { return fmt.Sprintf("%0*d", w, n) }
	if len(group) == 1 {
		return group[0].prefix + num(group[0].num)
	}
	var ranges []string
	for i := 0; i < len(group); {
		j := i
		for j+1 < len(group) && group[j+1].num == group[j].num+1 {
			j++
		}
		if j == i {
			ranges = append(ranges, num(group[i].num))
		} else {
			ranges = append(ranges, num(group[i].num)+"-"+num(group[j].num))
		}
		i = j + 1
	}
	return group[0].prefix + "[" + strings.Join(ranges, ",") + "]"
}

// maxHostlist bounds how many names one hostlist may expand to.
const maxHostlist = 1 << 20

// expandHosts reads Slurm hostlist syntax ("n[1-3,5],gpu7", and several
// brackets in one name, "rack[0-1]_blade[2,3]", every combination in
// order) into names.
func expandHosts(list string) ([]string, error) {
	var out []string
	for _, item := range splitList(list) {
		names, err := expandHostItem(item, maxHostlist-len(out))
		if err != nil {
			return nil, fmt.Errorf("invalid hostlist %q: %w", list, err)
		}
		out = append(out, names...)
	}
	return out, nil
}

// expandHostItem expands one name's brackets into at most limit names,
// in Slurm's order: the last bracket varies fastest, then the first, the
// second, and so on ("row[0,1]_rack[2-3]_blade[4,5]" gives row0_rack2_blade4,
// row0_rack2_blade5, row1_rack2_blade4, ...), as scontrol show hostnames.
func expandHostItem(item string, limit int) ([]string, error) {
	var lits []string     // the text before each bracket, and after the last
	var values [][]string // each bracket's numbers, zero-padded as written
	rest := item
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			if strings.IndexByte(rest, ']') >= 0 {
				return nil, errors.New("a ']' without its '['")
			}
			lits = append(lits, rest)
			break
		}
		closeAt := strings.IndexByte(rest, ']')
		if closeAt < open {
			return nil, errors.New("a '[' without its ']'")
		}
		var vals []string
		for _, r := range strings.Split(rest[open+1:closeAt], ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			a, err := strconv.Atoi(lo)
			if err != nil || a < 0 {
				return nil, fmt.Errorf("%q is not a number or range", r)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil || b < a {
					return nil, fmt.Errorf("%q is not a number or range", r)
				}
			}
			if b-a >= limit-len(vals) {
				return nil, fmt.Errorf("more than %d names", maxHostlist)
			}
			for n := a; n <= b; n++ {
				vals = append(vals, fmt.Sprintf("%0*d", len(lo), n))
			}
		}
		lits, values = append(lits, rest[:open]), append(values, vals)
		rest = rest[closeAt+1:]
	}
	total := 1
	for _, v := range values {
		if total > limit/len(v) {
			return nil, fmt.Errorf("more than %d names", maxHostlist)
		}
		total *= len(v)
	}
	// order lists the brackets from fastest to slowest varying.
	n := len(values)
	order := make([]int, 0, n)
	if n > 0 {
		order = append(order, n-1)
		for i := 0; i < n-1; i++ {
			order = append(order, i)
		}
	}
	idx := make([]int, n)
	out := make([]string, 0, total)
	for range total {
		var b strings.Builder
		for i, l := range lits {
			b.WriteString(l)
			if i < n {
				b.WriteString(values[i][idx[i]])
			}
		}
		out = append(out, b.String())
		for _, d := range order { // the odometer's next reading
			if idx[d]++; idx[d] < len(values[d]) {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}
