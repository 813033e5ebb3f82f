package api

import (
	"syscall"
	"unsafe"
)

// hugeJobs asks the kernel to back a large job slice with huge pages
// where it can (transparent huge pages in "madvise" mode): the jobs of a
// long list are written once each, and every first write to a 4 KiB page
// was a fault, a fifth of squeue's time over thousands of jobs. Only the
// 2 MiB-aligned inside of the slice is advised; an error (no THP) changes
// nothing.
func hugeJobs(jobs []Job) {
	const huge = 2 << 20
	size := uintptr(len(jobs)) * unsafe.Sizeof(Job{})
	if size < 2*huge {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(jobs)))
	lo := (start + huge - 1) &^ (huge - 1)
	hi := (start + size) &^ (huge - 1)
	if hi <= lo {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, 14 /* MADV_HUGEPAGE */)
}
