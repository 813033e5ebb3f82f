package api

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// License is a named consumable resource: "only Total of these at once in
// the whole cluster". One mechanism serves both front doors: Slurm's
// licenses (sbatch -L db:1, scontrol show licenses) and AWS Batch's
// consumable resources (CreateConsumableResource, a job's
// consumableResourceProperties). Operators define them; jobs ask for a
// quantity of some; the scheduler starts a job only when every license it
// asks for has that quantity free.
type License struct {
	Name string `json:"consumableResourceName"`
	// Total is how many exist. A NON_REPLENISHABLE resource's total goes
	// down by what each job that starts takes (consumed, never returned);
	// an operator's update (SET, ADD) replenishes it.
	Total int64 `json:"totalQuantity"`
	// Type is REPLENISHABLE (the default: a job holds its quantity while
	// it is STARTING or RUNNING, as a Slurm license) or NON_REPLENISHABLE.
	Type      string            `json:"resourceType"`
	Tags      map[string]string `json:"tags,omitempty"`
	CreatedAt int64             `json:"createdAt,omitempty"`
}

// Consumable resource types (AWS Batch's).
const (
	Replenishable    = "REPLENISHABLE"
	NonReplenishable = "NON_REPLENISHABLE"
)

// Replenishable reports whether a job gives its quantity back when it ends.
func (l *License) Replenishable() bool { return l.Type != NonReplenishable }

// Available is what of l is free while inUse is held by jobs that have
// started: a NON_REPLENISHABLE resource's Total already excludes what
// started jobs took.
func (l *License) Available(inUse int64) int64 {
	if !l.Replenishable() {
		return max(l.Total, 0)
	}
	return max(l.Total-inUse, 0)
}

// LicenseUse is a quantity of a license a job asks for: AWS Batch's
// ConsumableResourceRequirement, and one item of Slurm's -L NAME:COUNT.
type LicenseUse struct {
	Name     string `json:"consumableResource"`
	Quantity int64  `json:"quantity"`
}

// ConsumableResourceProperties is AWS Batch's: a job definition's or a
// submit's list of the consumable resources each job needs.
type ConsumableResourceProperties struct {
	ConsumableResourceList []LicenseUse `json:"consumableResourceList"`
}

// MaxJobLicenses bounds the licenses one job may ask for.
const MaxJobLicenses = 32

// MaxLicenseQuantity bounds a license's total and a job's quantity.
const MaxLicenseQuantity = 1 << 40

// ParseLicenses reads Slurm's -L/--licenses list: NAME[:COUNT] items
// separated by commas (COUNT defaults to 1; Slurm also takes NAME*COUNT).
// A license named twice is asked for once, with the counts added, as
// Slurm does.
func ParseLicenses(s string) ([]LicenseUse, error) {
	var out []LicenseUse
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("licenses %q: empty item: give NAME[:COUNT],...", s)
		}
		name, count, ok := strings.Cut(item, ":")
		if !ok {
			name, count, ok = strings.Cut(item, "*")
		}
		n := int64(1)
		if ok {
			v, err := strconv.ParseInt(count, 10, 64)
			if err != nil || v <= 0 || v > MaxLicenseQuantity {
				return nil, fmt.Errorf("licenses %q: count %q of %s is not a positive number", s, count, name)
			}
			n = v
		}
		if name == "" {
			return nil, fmt.Errorf("licenses %q: item %q has no name: give NAME[:COUNT]", s, item)
		}
		merged := false
		for i := range out {
			if out[i].Name == name {
				out[i].Quantity += n
				merged = true
			}
		}
		if !merged {
			out = append(out, LicenseUse{Name: name, Quantity: n})
		}
	}
	return out, nil
}

// FormatLicenses writes uses as Slurm shows a job's licenses
// (NAME:COUNT,...), "" for none.
func FormatLicenses(uses []LicenseUse) string {
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = fmt.Sprintf("%s:%d", u.Name, u.Quantity)
	}
	return strings.Join(parts, ",")
}

// SortLicenses orders licenses by name.
func SortLicenses(ls []License) {
	sort.Slice(ls, func(a, b int) bool { return ls[a].Name < ls[b].Name })
}

// AWSCreateConsumableResourceRequest is AWS Batch's CreateConsumableResourceRequest.
type AWSCreateConsumableResourceRequest struct {
	Name  string            `json:"consumableResourceName"`
	Total *int64            `json:"totalQuantity,omitempty"`
	Type  string            `json:"resourceType,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

// AWSConsumableResourceResponse is AWS Batch's CreateConsumableResourceResponse
// and UpdateConsumableResourceResponse (the latter with totalQuantity).
type AWSConsumableResourceResponse struct {
	Name  string `json:"consumableResourceName"`
	ARN   string `json:"consumableResourceArn"`
	Total *int64 `json:"totalQuantity,omitempty"`
}

// AWSUpdateConsumableResourceRequest is AWS Batch's
// UpdateConsumableResourceRequest: Operation SET (the default), ADD or
// REMOVE Quantity.
type AWSUpdateConsumableResourceRequest struct {
	ConsumableResource string `json:"consumableResource"`
	Operation          string `json:"operation,omitempty"`
	Quantity           *int64 `json:"quantity,omitempty"`
	ClientToken        string `json:"clientToken,omitempty"`
}

// Update operations of a consumable resource.
const (
	LicenseSet    = "SET"
	LicenseAdd    = "ADD"
	LicenseRemove = "REMOVE"
)

// AWSConsumableResourceRequest names one consumable resource (Describe,
// Delete).
type AWSConsumableResourceRequest struct {
	ConsumableResource string `json:"consumableResource"`
}

// AWSDescribeConsumableResourceResponse is AWS Batch's
// DescribeConsumableResourceResponse: a list's summary (its fields inline
// in the JSON), with when it was created and its tags.
type AWSDescribeConsumableResourceResponse struct {
	ConsumableResourceSummary
	CreatedAt int64             `json:"createdAt,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// AWSListConsumableResourcesRequest is AWS Batch's ListConsumableResourcesRequest.
type AWSListConsumableResourcesRequest struct {
	Filters    []KeyValuesPair `json:"filters,omitempty"`
	MaxResults int             `json:"maxResults,omitempty"`
	NextToken  string          `json:"nextToken,omitempty"`
}

// ConsumableResourceSummary is AWS Batch's, with availableQuantity added
// (what scontrol show licenses prints as Free).
type ConsumableResourceSummary struct {
	Name      string `json:"consumableResourceName"`
	ARN       string `json:"consumableResourceArn"`
	Total     int64  `json:"totalQuantity"`
	InUse     int64  `json:"inUseQuantity"`
	Available int64  `json:"availableQuantity"`
	Type      string `json:"resourceType"`
}

// AWSListConsumableResourcesResponse is AWS Batch's ListConsumableResourcesResponse.
type AWSListConsumableResourcesResponse struct {
	ConsumableResources []ConsumableResourceSummary `json:"consumableResources"`
	NextToken           string                      `json:"nextToken,omitempty"`
}
