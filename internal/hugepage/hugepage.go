// Package hugepage asks the kernel to back large, freshly allocated
// memory with transparent huge pages: a command that builds one large
// slice (thousands of jobs, or their views) and writes each element once
// otherwise takes a page fault every 4 KiB, which over a 6,500-job squeue
// was a third of its CPU.
package hugepage

import "unsafe"

// Huge is the size of a transparent huge page on the platforms advised.
const Huge = 2 << 20

// Advise advises huge pages for the 2 MiB pages that [p, p+size) touches,
// when size is at least one huge page. The rest of those pages is the Go
// heap's, which lives in 64 MiB arenas, so the range is mapped; advice on
// Go heap memory is only ever a hint. An error (no THP, another OS)
// changes nothing.
func Advise(p unsafe.Pointer, size uintptr) {
	if size < Huge {
		return
	}
	start := uintptr(p)
	lo := start &^ (Huge - 1)
	hi := (start + size + Huge - 1) &^ (Huge - 1)
	advise(lo, hi-lo)
}

// Slice is Advise for the elements of s.
func Slice[T any](s []T) {
	var zero T
	Advise(unsafe.Pointer(unsafe.SliceData(s)), uintptr(len(s))*unsafe.Sizeof(zero))
}
