package hugepage

import "syscall"

// madvHugepage is MADV_HUGEPAGE.
const madvHugepage = 14

func advise(addr, n uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, addr, n, madvHugepage)
}
