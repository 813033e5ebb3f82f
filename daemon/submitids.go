package daemon

import "github.com/shoal-batch/shoal/api"

// A submit answers with one id per request: a single job's, or an
// array's first task's. The ids are picked from those the submit stored,
// in order, by how many jobs each request made.

// requestIDs picks one id per request from the ids a submit stored: an
// array's first task.
func requestIDs(reqs []api.SubmitJobRequest, stored []uint64) ([]uint64, error) {
	return idsByWidth(len(reqs), requestWidths(reqs), stored)
}

// requestWidths is how many jobs each request stores (an array, its
// tasks), or nil when each stores one.
func requestWidths(reqs []api.SubmitJobRequest) []int {
	var widths []int
	for i, r := range reqs {
		if len(r.ArrayIndexes) > 1 && widths == nil {
			widths = make([]int, len(reqs))
			for k := range i {
				widths[k] = 1
			}
		}
		if widths != nil {
			widths[i] = max(1, len(r.ArrayIndexes))
		}
	}
	return widths
}

// idsByWidth is requestIDs for n requests of widths (nil: one job each).
func idsByWidth(n int, widths []int, stored []uint64) ([]uint64, error) {
	ids, k := make([]uint64, n), 0
	for i := range n {
		if k >= len(stored) {
			return nil, api.Errorf(api.CodeInternal, "the submit stored %d jobs, fewer than its %d requests ask for (a bug, please report it)", len(stored), n)
		}
		ids[i] = stored[k]
		k++
		if widths != nil {
			k += widths[i] - 1
		}
	}
	return ids, nil
}
