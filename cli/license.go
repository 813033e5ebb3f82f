package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
)

// licenseCommand manages licenses (named consumable resources: "only N of
// these at once in the whole cluster"), the records behind Slurm's -L and
// AWS Batch's consumable resources. Operators create, update and delete
// them (the place of Slurm's Licenses= in slurm.conf); anyone may list
// them (also scontrol show licenses).
func licenseCommand() *cli.Command {
	quantity := func(c *cli.Context, flag string) *int64 {
		if !c.IsSet(flag) {
			return nil
		}
		n := c.Int64(flag)
		return &n
	}
	return &cli.Command{
		Name:  "license",
		Usage: "licenses (consumable resources): create, update, delete, list",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a license of which jobs (sbatch -L NAME:N) hold at most --total at once",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.Int64Flag{Name: "total", Usage: "how many there are (required)"},
					&cli.StringFlag{Name: "type", Value: api.Replenishable, Usage: "REPLENISHABLE (given back when a job ends) or NON_REPLENISHABLE (consumed)"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("license create takes one NAME")
					}
					if !c.IsSet("total") {
						return usagef("license create: give --total, how many there are")
					}
					return callAndPrint(c, "createconsumableresource", api.AWSCreateConsumableResourceRequest{
						Name: c.Args().First(), Total: quantity(c, "total"), Type: c.String("type")})
				},
			},
			{
				Name:      "update",
				Usage:     "set, raise or lower a license's total",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.Int64Flag{Name: "set", Usage: "the new total"},
					&cli.Int64Flag{Name: "add", Usage: "raise the total by this much"},
					&cli.Int64Flag{Name: "remove", Usage: "lower the total by this much"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("license update takes one NAME")
					}
					req := api.AWSUpdateConsumableResourceRequest{ConsumableResource: c.Args().First()}
					given := 0
					for _, op := range []string{"set", "add", "remove"} {
						if q := quantity(c, op); q != nil {
							req.Operation, req.Quantity = map[string]string{"set": api.LicenseSet, "add": api.LicenseAdd, "remove": api.LicenseRemove}[op], q
							given++
						}
					}
					if given != 1 {
						return usagef("license update: give one of --set, --add or --remove")
					}
					return callAndPrint(c, "updateconsumableresource", req)
				},
			},
			{
				Name:      "delete",
				Usage:     "delete a license no unfinished job asks for",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("license delete takes one NAME")
					}
					return callAndPrint(c, "deleteconsumableresource", api.AWSConsumableResourceRequest{ConsumableResource: c.Args().First()})
				},
			},
			{
				Name:  "list",
				Usage: "list licenses with what is in use and free",
				Action: func(c *cli.Context) error {
					req := api.AWSListConsumableResourcesRequest{}
					for _, n := range c.Args().Slice() {
						req.Filters = append(req.Filters, api.KeyValuesPair{Name: "CONSUMABLE_RESOURCE_NAME", Values: []string{n}})
					}
					return callAndPrint(c, "listconsumableresources", req)
				},
			},
		},
	}
}
