package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// The controller's image store: no registry is involved; an image comes in
// as a tarball (docker save, or go-containerregistry's tarball.Write).

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "container images in the controller's store: load, list",
		Subcommands: []*cli.Command{
			{
				Name: "load",
				Usage: "load an image tarball (docker save format) into the controller's store (root only). " +
					"Without --name it takes the tarball's own repo tags. A job's image names it as Docker does: " +
					"\"busybox\" finds busybox:latest, \"docker.io/library/busybox:latest\" too",
				ArgsUsage: "FILE.tar",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Usage: "name the image NAME[:TAG] (default tag latest) instead of by its repo tags"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("image load takes one FILE.tar")
					}
					path := c.Args().First()
					f, err := os.Open(path)
					if err != nil {
						return fmt.Errorf("load image: %w", err)
					}
					defer f.Close()
					images, err := clientOf(c).LoadImage(ctx(c), c.String("name"), f)
					if err != nil {
						return fmt.Errorf("load image %s: %w", path, err)
					}
					for _, im := range images {
						fmt.Fprintf(c.App.Writer, "Loaded image: %s (%s)\n", termsafe.String(im.Name), termsafe.String(im.Digest))
					}
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list the controller's images: name, digest, size, when loaded",
				Flags: []cli.Flag{outputFlag},
				Action: func(c *cli.Context) error {
					asJSON, err := wantJSON(c)
					if err != nil {
						return err
					}
					images, err := clientOf(c).ListImages(ctx(c))
					if err != nil {
						return fmt.Errorf("list images: %w", err)
					}
					if asJSON {
						return printJSON(c.App.Writer, images)
					}
					now := time.Now()
					t := newTable(c.App.Writer, "NAME", "DIGEST", "SIZE", "LOADED")
					for _, im := range images {
						digest := strings.TrimPrefix(im.Digest, "sha256:")
						t.row(im.Name, digest[:min(12, len(digest))], humanBytes(im.Size), age(now, im.LoadedAt)+" ago")
					}
					return t.flush()
				},
			},
		},
	}
}

// humanBytes prints a size in B, kB, MB or GB (powers of 1000, as docker).
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, suffix := float64(n), []string{"kB", "MB", "GB", "TB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.3g%s", v, suffix[i])
}
