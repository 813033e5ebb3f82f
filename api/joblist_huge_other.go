//go:build !linux

package api

// hugeJobs is a no-op where transparent huge pages are not asked for.
func hugeJobs([]Job) {}
