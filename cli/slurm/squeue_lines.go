package slurm

import (
	"io"
	"math"
	"slices"
	"strings"

	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// squeue makes each job's line as soon as the job is read: the line (and
// what the sort needs of the job) is all that is kept, not the job. Over 5,000 jobs the
// jobs decoded and kept were 4.7 MB (944 bytes each), most of the memory
// squeue touched and, on a VM where a page fault is dear, most of its time.
// The tasks of arrays are the exception: their lines are made once all are
// read, since a task's reason counts its array's running tasks and waiting
// tasks collapse into one line.

// sqKey is one sort key's value of a line: a string (str) or a number.
// A letter's values are always of one kind.
type sqKey struct {
	s   string
	n   int64
	str bool
}

// sqSortKey is one item of a --sort list.
type sqSortKey struct {
	letter byte
	desc   bool
}

// parseSortSpec reads a squeue --sort list ("P,t,-p").
func parseSortSpec(spec string) []sqSortKey {
	var keys []sqSortKey
	for _, item := range splitList(spec) {
		k := sqSortKey{}
		switch item[0] {
		case '-':
			k.desc, item = true, item[1:]
		case '+':
			item = item[1:]
		}
		if item == "" {
			continue
		}
		k.letter = item[0]
		keys = append(keys, k)
	}
	return keys
}

// sortValue is what a sort key letter compares of v. Letters that order by
// job id compare the line's id (sqLine.id, task), and unknown ones nothing.
func sortValue(v *jobView, letter byte) sqKey {
	switch letter {
	case 'A':
		return sqKey{n: int64(v.rawID)}
	case 'P':
		return sqKey{s: v.j.Queue, str: true}
	case 't':
		return sqKey{s: v.state.Short, str: true}
	case 'T':
		return sqKey{s: v.state.Long, str: true}
	case 'p', 'Q':
		return sqKey{n: v.priority()}
	case 'u':
		return sqKey{s: v.userName(), str: true}
	case 'U':
		return sqKey{n: int64(v.j.UID)}
	case 'j':
		return sqKey{s: v.j.Name, str: true}
	case 'M':
		return sqKey{n: v.runSecs()}
	case 'l':
		return sqKey{n: v.j.TimeLimit}
	case 'C', 'c':
		return sqKey{n: int64(v.cpus())}
	case 'm':
		return sqKey{n: v.j.Resources.MemoryMB}
	case 'N', 'B':
		return sqKey{s: v.nodeList(), str: true}
	case 'r', 'R':
		return sqKey{s: v.reason, str: true}
	case 'a':
		return sqKey{s: v.j.Account, str: true}
	case 'q':
		return sqKey{s: v.j.QOS, str: true}
	case 'V':
		return sqKey{n: v.j.CreatedAt}
	case 'S':
		// By (expected) start, unknown ones last.
		if t := v.expectedStart(); !t.IsZero() {
			return sqKey{n: t.UnixMicro()}
		}
		return sqKey{n: math.MaxInt64}
	case 'e':
		// By (expected) end, unknown ones first.
		if t, _ := v.expectedEnd(); !t.IsZero() {
			return sqKey{n: t.UnixMicro()}
		}
		return sqKey{n: math.MinInt64}
	case 'y':
		return sqKey{n: v.nice()}
	}
	return sqKey{}
}

// sqLine is one job's line, printed: text[block][start:end] of its
// lineSet.
type sqLine struct {
	// id and task order lines by job id: an array's tasks by index
	// after one another, a collapsed line after its array's tasks.
	id                uint64
	task              int
	block, start, end int32
}

// chunks is a list kept in blocks that are never moved: appended to one
// at a time, it grows without copying (and touching) what it holds, as a
// slice grown by append does five times over.
type chunks[T any] struct {
	blocks [][]T
	n      int
}

const chunkLen = 1024

func (c *chunks[T]) add(v T) {
	if c.n%chunkLen == 0 {
		c.blocks = append(c.blocks, make([]T, 0, chunkLen))
	}
	b := &c.blocks[len(c.blocks)-1]
	*b = append(*b, v)
	c.n++
}

// next adds a zero value and returns it, to be filled in place (a
// block's room is zero already: nothing is copied in).
func (c *chunks[T]) next() *T {
	if c.n%chunkLen == 0 {
		c.blocks = append(c.blocks, make([]T, 0, chunkLen))
	}
	b := &c.blocks[len(c.blocks)-1]
	*b = (*b)[:len(*b)+1]
	c.n++
	return &(*b)[len(*b)-1]
}

func (c *chunks[T]) at(i int) *T { return &c.blocks[i/chunkLen][i%chunkLen] }

// lineSet gathers squeue's lines and sorts them.
type lineSet struct {
	fields []sqField
	cols   []column
	noCut  []bool
	prefix string
	env    *sqEnv
	sort   []sqSortKey

	text  [][]byte // the lines' text, in blocks of textBlock bytes
	lines chunks[sqLine]
	// keys holds len(sort) values a line: a number, or for a string the
	// number of it in strs (a third of the memory of the strings
	// themselves, and the same few strings over most lines).
	keys   chunks[int64]
	strs   []string
	strNum map[string]int64
	strCol []bool // whether the sort's k-th letter compares strings
}

// keyOf stores one sort key's value as keys holds it.
func (s *lineSet) keyOf(k int, v sqKey) int64 {
	if !v.str {
		return v.n
	}
	if s.strCol == nil {
		s.strCol = make([]bool, len(s.sort))
		s.strNum = map[string]int64{}
	}
	s.strCol[k] = true
	n, ok := s.strNum[v.s]
	if !ok {
		n = int64(len(s.strs))
		s.strs = append(s.strs, v.s)
		s.strNum[v.s] = n
	}
	return n
}

// textBlock is the size of a block of lines' text. A line begins a new
// block when less than 1 KiB is left of the last; a longer line than what
// is left grows (copies) that block alone.
const textBlock = 64 << 10

// add prints v's line.
func (s *lineSet) add(v *jobView) {
	if len(s.text) == 0 || textBlock-len(s.text[len(s.text)-1]) < 1024 {
		s.text = append(s.text, make([]byte, 0, textBlock))
	}
	block := &s.text[len(s.text)-1]
	l := sqLine{block: int32(len(s.text) - 1), start: int32(len(*block))}
	switch {
	case v.tasks != nil:
		l.id, l.task = v.arrayID, 1<<30
	case v.j.Array != nil:
		l.id, l.task = v.arrayID, v.j.Array.Index
	default:
		l.id, l.task = v.rawID, -1
	}
	for k, key := range s.sort {
		s.keys.add(s.keyOf(k, sortValue(v, key.letter)))
	}
	b := (*lineBuf)(block)
	b.WriteString(s.prefix)
	for i, col := range s.cols {
		val := ""
		if s.fields[i].value != nil {
			// One place every squeue cell passes: a name with a
			// newline or an escape sequence stays in its cell.
			val = termsafe.String(s.fields[i].value(v, s.env))
		}
		if s.noCut[i] && len(val) > col.width {
			b.WriteString(val)
			b.WriteString(col.suffix)
			continue
		}
		col.writeFit(b, val)
	}
	b.WriteByte('\n')
	l.end = int32(len(*block))
	s.lines.add(l)
}

// lineBuf appends to a byte slice, as column.writeFit writes.
type lineBuf []byte

func (b *lineBuf) WriteString(s string) (int, error) { *b = append(*b, s...); return len(s), nil }
func (b *lineBuf) WriteByte(c byte) error            { *b = append(*b, c); return nil }

// sorted returns the lines' numbers (in the order they were added) in
// the order of the sort list, then by job id; lines alike in both keep
// the order they were added in.
func (s *lineSet) sorted() []int32 {
	n := len(s.sort)
	order := make([]int32, s.lines.n)
	for i := range order {
		order[i] = int32(i)
	}
	cmpID := func(a, b *sqLine) int {
		if a.id != b.id {
			return cmpOrdered(a.id, b.id)
		}
		return cmpOrdered(a.task, b.task)
	}
	slices.SortStableFunc(order, func(x32, y32 int32) int {
		x, y := int(x32), int(y32)
		a, b := s.lines.at(x), s.lines.at(y)
		for k, key := range s.sort {
			r := 0
			switch key.letter {
			case 'i', 'F', 'K':
				r = cmpID(a, b)
			default:
				ka, kb := *s.keys.at(x*n + k), *s.keys.at(y*n + k)
				switch {
				case ka == kb:
				case s.strCol != nil && s.strCol[k]:
					r = strings.Compare(s.strs[ka], s.strs[kb])
				default:
					r = cmpOrdered(ka, kb)
				}
			}
			if key.desc {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmpID(a, b)
	})
	return order
}

// write writes the lines to w in order (their numbers, as sorted gives).
func (s *lineSet) write(w io.Writer, order []int32) error {
	for _, i := range order {
		l := s.lines.at(int(i))
		if _, err := w.Write(s.text[l.block][l.start:l.end]); err != nil {
			return err
		}
	}
	return nil
}
