package slurm

import (
	"context"
	"fmt"

	"github.com/shoal-batch/shoal/api"
)

// errInvalidLicenses is Slurm's ESLURM_INVALID_LICENSES.
const errInvalidLicenses = "Invalid license specification"

// parseLicenseOpt reads -L/--licenses (NAME[:COUNT],...). Slurm checks the
// list on the controller and refuses the submission; so does shoal's for a
// license that does not exist, and a list that does not parse is refused
// here in the same words.
func parseLicenseOpt(v string) ([]api.LicenseUse, error) {
	uses, err := api.ParseLicenses(v)
	if err != nil {
		return nil, errorf(1, "Batch job submission failed: %s", errInvalidLicenses)
	}
	return uses, nil
}

// jobLicenses is a job's licenses as squeue's %W and scontrol show job's
// Licenses= print them: NAME:COUNT,... or (null).
func jobLicenses(j *api.Job) string {
	if s := api.FormatLicenses(j.Licenses); s != "" {
		return s
	}
	return "(null)"
}

// listLicenses asks the controller for every license with what is in use.
func listLicenses(ctx context.Context, c *Ctx) ([]api.ConsumableResourceSummary, error) {
	bc, ok := c.Client.(batchCaller)
	if !ok {
		return nil, nil // a controller connection that cannot ask has none to show
	}
	var out []api.ConsumableResourceSummary
	req := api.AWSListConsumableResourcesRequest{}
	for {
		var resp api.AWSListConsumableResourcesResponse
		if err := bc.Call(ctx, "/v1/listconsumableresources", req, &resp); err != nil {
			return nil, err
		}
		out = append(out, resp.ConsumableResources...)
		if resp.NextToken == "" {
			return out, nil
		}
		req.NextToken = resp.NextToken
	}
}

// showLicenses prints scontrol show licenses [NAME] as Slurm 22.05 does
// (scontrol/info_lics.c): one record per license, sorted by name; -o puts
// each on one line. shoal's licenses are local (Remote=no) and none is
// reserved.
func showLicenses(ctx context.Context, c *Ctx, name string, oneLiner bool) int {
	lics, err := listLicenses(ctx, c)
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_licenses error: %v\n", err)
		return 1
	}
	if len(lics) == 0 {
		fmt.Fprintln(c.Stdout, "No licenses configured in Slurm.")
		return 0
	}
	sep := "\n    "
	if oneLiner {
		sep = " "
	}
	shown := 0
	for _, l := range lics {
		if name != "" && l.Name != name { // exact, as Slurm's _match_license_name
			continue
		}
		shown++
		fmt.Fprintf(c.Stdout, "LicenseName=%s%sTotal=%d Used=%d Free=%d Reserved=0 Remote=no\n", l.Name, sep, l.Total, l.InUse, l.Available)
	}
	if shown == 0 {
		fmt.Fprintf(c.Stderr, "scontrol: error: query \"%s\" matched zero licenses.\n", name)
		return 1
	}
	return 0
}

// asksLicense reports whether j asks for one of names (squeue -L).
func asksLicense(j *api.Job, names []string) bool {
	for _, u := range j.Licenses {
		if inList(names, u.Name) {
			return true
		}
	}
	return false
}
