package daemon

import (
	"strconv"

	"github.com/shoal-batch/shoal/api"
)

// awsMaxPage is the largest page AWS Batch's List* calls
// (ListSchedulingPolicies, ListConsumableResources) return.
const awsMaxPage = 100

// awsPage reads a List* request's maxResults and nextToken: the page's
// size (0 asks for awsMaxPage) and how many items the earlier pages gave
// (the token is that count, as this service writes it).
func awsPage(maxResults int, nextToken string) (page, skip int, err error) {
	page = maxResults
	switch {
	case page == 0:
		page = awsMaxPage
	case page < 1 || page > awsMaxPage:
		return 0, 0, api.Errorf(api.CodeInvalid, "maxResults %d: give 1 to %d", page, awsMaxPage).WithField("maxResults")
	}
	if nextToken != "" {
		n, err := strconv.Atoi(nextToken)
		if err != nil || n < 0 {
			return 0, 0, api.Errorf(api.CodeInvalid, "nextToken %q is not one this service gave", nextToken).WithField("nextToken")
		}
		skip = n
	}
	return page, skip, nil
}
