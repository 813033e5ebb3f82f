package api

import (
	"syscall"
	"unsafe"
)

// hugeJobs asks the kernel to back a large job slice with huge pages
// where it can (transparent huge pages in "madvise" mode): the jobs of a
// long list are written once each, and every first write to a 4 KiB page
// was a fault, a third of squeue's CPU over 6,500 jobs. The advice covers
// the 2 MiB pages the slice touches: their other bytes are the Go heap's,
// which lives in 64 MiB arenas, so the range is mapped. An error (no THP)
// changes nothing.
func hugeJobs(jobs []Job) {
	const huge = 2 << 20
	size := uintptr(len(jobs)) * unsafe.Sizeof(Job{})
	if size < huge {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(jobs)))
	lo := start &^ (huge - 1)
	hi := (start + size + huge - 1) &^ (huge - 1)
	syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, 14 /* MADV_HUGEPAGE */)
}
