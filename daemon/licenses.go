package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// Licenses (named consumable resources) through AWS Batch's consumable
// resource operations. Operators create, update and delete them (`shoal
// license`, the aws CLI); anyone may list and describe them (scontrol show
// licenses). Slurm's licenses and AWS Batch's consumable resources are the
// same records.

// ErrInvalidLicenses is Slurm's wording for a job asking for a license that
// does not exist, or for more than there are (ESLURM_INVALID_LICENSES).
const ErrInvalidLicenses = "Invalid license specification"

// checkJobLicenses refuses a job that asks for a license that does not
// exist, for one twice, for a quantity below 1, or for more than the
// license's total (it could never start).
func checkJobLicenses(state *raftfsm.State, j *api.Job) error {
	if len(j.Licenses) == 0 {
		return nil
	}
	if len(j.Licenses) > api.MaxJobLicenses {
		return api.Errorf(api.CodeInvalid, "%s: job %q asks for %d licenses; at most %d", ErrInvalidLicenses, j.Name, len(j.Licenses), api.MaxJobLicenses).WithField("licenses")
	}
	seen := map[string]bool{}
	for _, u := range j.Licenses {
		l := state.License(u.Name)
		switch {
		case seen[u.Name]:
			return api.Errorf(api.CodeInvalid, "%s: job %q names %s twice: give each license once with its count", ErrInvalidLicenses, j.Name, u.Name).WithField("licenses")
		case u.Quantity < 1 || u.Quantity > api.MaxLicenseQuantity:
			return api.Errorf(api.CodeInvalid, "%s: job %q asks for %d of %s: give a quantity of at least 1", ErrInvalidLicenses, j.Name, u.Quantity, u.Name).WithField("licenses")
		case l == nil:
			return api.Errorf(api.CodeInvalid, "%s: job %q asks for %s, which is not a license (consumable resource) of this cluster: %s",
				ErrInvalidLicenses, j.Name, u.Name, licenseNames(state)).WithField("licenses")
		case l.Replenishable() && u.Quantity > l.Total:
			return api.Errorf(api.CodeInvalid, "%s: job %q asks for %d of %s, which has %d in all: it could never start",
				ErrInvalidLicenses, j.Name, u.Quantity, u.Name, l.Total).WithField("licenses")
		}
		seen[u.Name] = true
	}
	return nil
}

// licenseNames says which licenses exist, for errors.
func licenseNames(state *raftfsm.State) string {
	var names []string
	for _, l := range state.Licenses() {
		names = append(names, l.Name)
	}
	if len(names) == 0 {
		return "this cluster has none"
	}
	return "it has " + strings.Join(names, ", ")
}

// checkDefinitionLicenses checks a job definition's consumable resources
// as a submit's are checked (they must exist, each once, a quantity of at
// least 1), and stores them by name, not ARN.
func checkDefinitionLicenses(state *raftfsm.State, d *api.JobDefinition) error {
	p := d.ConsumableResourceProperties
	if p == nil {
		return nil
	}
	uses := licensesFromProperties(p)
	j := api.Job{JobSpec: api.JobSpec{Name: "definition " + d.Name, Licenses: uses}}
	if err := checkJobLicenses(state, &j); err != nil {
		return api.Errorf(api.CodeInvalid, "job definition %s: consumableResourceProperties: %s", d.Name,
			strings.TrimPrefix(err.Error(), ErrInvalidLicenses+": ")).WithField("consumableResourceProperties")
	}
	d.ConsumableResourceProperties = licenseProperties(uses)
	return nil
}

// licensesFromProperties turns AWS Batch's consumableResourceProperties
// (resources by name or ARN) into a job's licenses.
func licensesFromProperties(p *api.ConsumableResourceProperties) []api.LicenseUse {
	if p == nil || len(p.ConsumableResourceList) == 0 {
		return nil
	}
	out := make([]api.LicenseUse, len(p.ConsumableResourceList))
	for i, u := range p.ConsumableResourceList {
		out[i] = api.LicenseUse{Name: nameFromARN(u.Name), Quantity: u.Quantity}
	}
	return out
}

// licenseProperties is a job's licenses as AWS Batch shows them.
func licenseProperties(uses []api.LicenseUse) *api.ConsumableResourceProperties {
	if len(uses) == 0 {
		return nil
	}
	return &api.ConsumableResourceProperties{ConsumableResourceList: append([]api.LicenseUse(nil), uses...)}
}

// awsJobWaitReason is a waiting job's statusReason: the scheduler's
// reason, and for Licenses the consumable resources the job waits for.
func awsJobWaitReason(j *api.Job) string {
	if j.WaitReason != sched.ReasonLicenses {
		return awsWaitReason(j.WaitReason)
	}
	parts := make([]string, len(j.Licenses))
	for i, u := range j.Licenses {
		parts[i] = fmt.Sprintf("%s (%d)", u.Name, u.Quantity)
	}
	return "RESOURCE:CONSUMABLE_RESOURCE - waiting for consumable resources " + strings.Join(parts, ", ") + " (Licenses)"
}

func checkLicenseName(name string) error {
	if !validName(name) {
		return api.Errorf(api.CodeInvalid, "consumable resource name %q: use up to 128 letters, digits, hyphens and underscores, starting with a letter or digit", name).WithField("consumableResourceName")
	}
	return nil
}

func (c *Controller) createConsumableResource(ctx context.Context, who caller, req api.AWSCreateConsumableResourceRequest) (api.AWSConsumableResourceResponse, error) {
	if err := requireRoot(who, "create consumable resources"); err != nil {
		return api.AWSConsumableResourceResponse{}, err
	}
	if err := checkLicenseName(req.Name); err != nil {
		return api.AWSConsumableResourceResponse{}, err
	}
	l := api.License{Name: req.Name, Type: strings.ToUpper(req.Type), Tags: req.Tags}
	switch l.Type {
	case "":
		l.Type = api.Replenishable
	case api.Replenishable, api.NonReplenishable:
	default:
		return api.AWSConsumableResourceResponse{}, api.Errorf(api.CodeInvalid, "consumable resource %s: resourceType %q: use REPLENISHABLE or NON_REPLENISHABLE", req.Name, req.Type).WithField("resourceType")
	}
	if req.Total == nil {
		return api.AWSConsumableResourceResponse{}, api.Errorf(api.CodeInvalid, "consumable resource %s: give totalQuantity, how many there are", req.Name).WithField("totalQuantity")
	}
	if *req.Total < 0 || *req.Total > api.MaxLicenseQuantity {
		return api.AWSConsumableResourceResponse{}, api.Errorf(api.CodeInvalid, "consumable resource %s: totalQuantity %d: give 0 to %d", req.Name, *req.Total, int64(api.MaxLicenseQuantity)).WithField("totalQuantity")
	}
	l.Total = *req.Total
	cmd := raftfsm.LicensePutCmd{License: l, Create: true, Now: c.nowMillis()}
	if res := c.fsm.Check(raftfsm.OpLicensePut, cmd); res.Err != nil {
		return api.AWSConsumableResourceResponse{}, res.Err
	}
	if _, err := c.applier.Apply(ctx, raftfsm.OpLicensePut, cmd); err != nil {
		return api.AWSConsumableResourceResponse{}, err
	}
	return api.AWSConsumableResourceResponse{Name: l.Name, ARN: arn("consumable-resource", l.Name)}, nil
}

func (c *Controller) updateConsumableResource(ctx context.Context, who caller, req api.AWSUpdateConsumableResourceRequest) (api.AWSConsumableResourceResponse, error) {
	if err := requireRoot(who, "update consumable resources"); err != nil {
		return api.AWSConsumableResourceResponse{}, err
	}
	name := nameFromARN(req.ConsumableResource)
	op := strings.ToUpper(req.Operation)
	switch op {
	case "":
		op = api.LicenseSet
	case api.LicenseSet, api.LicenseAdd, api.LicenseRemove:
	default:
		return api.AWSConsumableResourceResponse{}, api.Errorf(api.CodeInvalid, "consumable resource %s: operation %q: use SET, ADD or REMOVE", name, req.Operation).WithField("operation")
	}
	if req.Quantity == nil || *req.Quantity < 0 {
		return api.AWSConsumableResourceResponse{}, api.Errorf(api.CodeInvalid, "consumable resource %s: give quantity, a number of at least 0", name).WithField("quantity")
	}
	cmd := raftfsm.LicensePutCmd{License: api.License{Name: name}, Operation: op, Quantity: *req.Quantity, Now: c.nowMillis()}
	if res := c.fsm.Check(raftfsm.OpLicensePut, cmd); res.Err != nil {
		return api.AWSConsumableResourceResponse{}, res.Err
	}
	if _, err := c.applier.Apply(ctx, raftfsm.OpLicensePut, cmd); err != nil {
		return api.AWSConsumableResourceResponse{}, err
	}
	resp := api.AWSConsumableResourceResponse{Name: name, ARN: arn("consumable-resource", name)}
	if l := c.fsm.State().License(name); l != nil {
		resp.Total = &l.Total
	}
	return resp, nil
}

func (c *Controller) deleteConsumableResource(ctx context.Context, who caller, req api.AWSConsumableResourceRequest) (empty, error) {
	if err := requireRoot(who, "delete consumable resources"); err != nil {
		return empty{}, err
	}
	cmd := raftfsm.LicenseDeleteCmd{Name: nameFromARN(req.ConsumableResource)}
	if res := c.fsm.Check(raftfsm.OpLicenseDelete, cmd); res.Err != nil {
		return empty{}, res.Err
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpLicenseDelete, cmd)
	return empty{}, err
}

func (c *Controller) describeConsumableResource(_ context.Context, _ caller, req api.AWSConsumableResourceRequest) (api.AWSDescribeConsumableResourceResponse, error) {
	state := c.fsm.State()
	name := nameFromARN(req.ConsumableResource)
	l := state.License(name)
	if l == nil {
		return api.AWSDescribeConsumableResourceResponse{}, api.Errorf(api.CodeNotFound, "consumable resource %s does not exist", name)
	}
	use := state.LicensesInUse()[name]
	return api.AWSDescribeConsumableResourceResponse{ConsumableResourceSummary: licenseSummary(l, use),
		CreatedAt: l.CreatedAt, Tags: l.Tags}, nil
}

// licenseSummary is how Describe and List show a license, use of it in
// use.
func licenseSummary(l *api.License, use int64) api.ConsumableResourceSummary {
	return api.ConsumableResourceSummary{Name: l.Name, ARN: arn("consumable-resource", l.Name), Total: l.Total,
		InUse: use, Available: l.Available(use), Type: l.Type}
}

func (c *Controller) listConsumableResources(_ context.Context, _ caller, req api.AWSListConsumableResourcesRequest) (api.AWSListConsumableResourcesResponse, error) {
	var patterns []string
	for _, f := range req.Filters {
		if f.Name != "CONSUMABLE_RESOURCE_NAME" {
			return api.AWSListConsumableResourcesResponse{}, api.Errorf(api.CodeInvalid, "filter %q: the one filter is CONSUMABLE_RESOURCE_NAME", f.Name).WithField("filters")
		}
		patterns = append(patterns, f.Values...)
	}
	page, skip, err := awsPage(req.MaxResults, req.NextToken)
	if err != nil {
		return api.AWSListConsumableResourcesResponse{}, err
	}
	state := c.fsm.State()
	use := state.LicensesInUse()
	out := api.AWSListConsumableResourcesResponse{ConsumableResources: []api.ConsumableResourceSummary{}}
	matched := 0
	for _, l := range state.Licenses() {
		if len(patterns) > 0 && !matchesAny(l.Name, patterns) {
			continue
		}
		matched++
		if matched <= skip {
			continue
		}
		if len(out.ConsumableResources) == page {
			out.NextToken = strconv.Itoa(skip + page)
			break
		}
		out.ConsumableResources = append(out.ConsumableResources, licenseSummary(l, use[l.Name]))
	}
	return out, nil
}

// matchesAny is AWS Batch's name filter: case-insensitive, a trailing *
// matching any rest.
func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
				return true
			}
		} else if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// ParseLicenseConfig reads the agent's -licenses (NAME:COUNT,..., as
// Slurm's Licenses=): REPLENISHABLE licenses with those totals ("" none).
func ParseLicenseConfig(s string) ([]api.License, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	uses, err := api.ParseLicenses(s)
	if err != nil {
		return nil, err
	}
	out := make([]api.License, len(uses))
	for i, u := range uses {
		if err := checkLicenseName(u.Name); err != nil {
			return nil, err
		}
		out[i] = api.License{Name: u.Name, Total: u.Quantity, Type: api.Replenishable}
	}
	return out, nil
}

// configureLicenses creates the configured licenses, or sets their
// totals to the configured ones, once each time this controller comes to
// lead (as slurmctld reads Licenses= from slurm.conf when it starts).
func (c *Controller) configureLicenses(ctx context.Context) {
	state := c.fsm.State()
	for _, l := range c.cfg.Licenses {
		var cmd raftfsm.LicensePutCmd
		switch old := state.License(l.Name); {
		case old == nil:
			cmd = raftfsm.LicensePutCmd{License: l, Create: true, Now: c.nowMillis()}
		case old.Total != l.Total:
			cmd = raftfsm.LicensePutCmd{License: api.License{Name: l.Name}, Operation: api.LicenseSet, Quantity: l.Total, Now: c.nowMillis()}
		default:
			continue
		}
		if _, err := c.applier.Apply(ctx, raftfsm.OpLicensePut, cmd); err != nil && ctx.Err() == nil {
			c.log.Warn("configure license", "license", l.Name, "err", err)
		}
	}
}
