package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// operatorCommand is the cluster's administration: raft membership, the
// node join token and backups of the replicated state (root only, as
// Consul's and Nomad's `operator` commands).
func operatorCommand() *cli.Command {
	return &cli.Command{
		Name:  "operator",
		Usage: "administer the controller cluster: raft peers, the node join token, snapshots (root only)",
		Subcommands: []*cli.Command{
			{
				Name:  "raft",
				Usage: "the controllers that replicate the state",
				Subcommands: []*cli.Command{
					{
						Name:  "list-peers",
						Usage: "list the raft configuration as the controller asked sees it: id, address, suffrage, who leads",
						Flags: []cli.Flag{outputFlag},
						Action: func(c *cli.Context) error {
							asJSON, err := wantJSON(c)
							if err != nil {
								return err
							}
							var resp api.RaftPeersResponse
							if err := clientOf(c).Call(ctx(c), api.PathOperatorPeers, struct{}{}, &resp); err != nil {
								return fmt.Errorf("list raft peers: %w", err)
							}
							if asJSON {
								enc := json.NewEncoder(c.App.Writer)
								enc.SetIndent("", "  ")
								return enc.Encode(resp)
							}
							tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
							fmt.Fprintln(tw, "ID\tADDRESS\tSUFFRAGE\tSTATE")
							for _, p := range resp.Peers {
								state := "follower"
								if p.Leader {
									state = "leader"
								}
								fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termsafe.String(p.ID), termsafe.String(p.Address), p.Suffrage, state)
							}
							return tw.Flush()
						},
					},
					{
						Name:      "add-peer",
						Usage:     "add a controller as a voter by its raft id and address (a controller started with -join adds itself)",
						ArgsUsage: "ID HOST:PORT",
						Action: func(c *cli.Context) error {
							if c.NArg() != 2 {
								return usagef("operator raft add-peer takes ID and HOST:PORT (the controller's raft address)")
							}
							req := api.RaftPeerRequest{ID: c.Args().Get(0), Address: c.Args().Get(1)}
							if err := clientOf(c).Call(ctx(c), api.PathOperatorAddPeer, req, nil); err != nil {
								return fmt.Errorf("add raft peer %s: %w", req.ID, err)
							}
							fmt.Fprintf(c.App.Writer, "Added voter %s (%s)\n", termsafe.String(req.ID), termsafe.String(req.Address))
							return nil
						},
					},
					{
						Name:      "remove-peer",
						Usage:     "remove a controller from the raft configuration by its id (a dead one, before it is replaced)",
						ArgsUsage: "ID",
						Action: func(c *cli.Context) error {
							if c.NArg() != 1 {
								return usagef("operator raft remove-peer takes the peer's ID (operator raft list-peers shows them)")
							}
							req := api.RaftPeerRequest{ID: c.Args().First()}
							if err := clientOf(c).Call(ctx(c), api.PathOperatorRemove, req, nil); err != nil {
								return fmt.Errorf("remove raft peer %s: %w", req.ID, err)
							}
							fmt.Fprintf(c.App.Writer, "Removed peer %s\n", termsafe.String(req.ID))
							return nil
						},
					},
				},
			},
			{
				Name:  "join-token",
				Usage: "the token new node daemons register with",
				Subcommands: []*cli.Command{
					{
						Name: "rotate",
						Usage: "replace the node join token of the whole cluster and print the new one: the old one registers no node from then on; " +
							"registered nodes keep working with their credentials (DATA_DIR/node-credential), unrestarted; " +
							"every controller's DATA_DIR/controller/join-token holds the new one once it has applied the change",
						Action: func(c *cli.Context) error {
							if c.NArg() != 0 {
								return usagef("operator join-token rotate takes no arguments")
							}
							var resp api.JoinTokenResponse
							if err := clientOf(c).Call(ctx(c), api.PathJoinTokenRotate, struct{}{}, &resp); err != nil {
								return fmt.Errorf("rotate the join token: %w", err)
							}
							fmt.Fprintln(c.App.Writer, resp.Token)
							return nil
						},
					},
				},
			},
			{
				Name:  "snapshot",
				Usage: "back up and restore the replicated state",
				Subcommands: []*cli.Command{
					{
						Name:      "save",
						Usage:     "write the cluster's current state to FILE (written whole, then renamed into place)",
						ArgsUsage: "FILE",
						Action: func(c *cli.Context) error {
							if c.NArg() != 1 {
								return usagef("operator snapshot save takes one FILE")
							}
							return saveSnapshot(c, c.Args().First())
						},
					},
					{
						Name:      "restore",
						Usage:     "replace the cluster's whole state with a snapshot saved by `operator snapshot save`",
						ArgsUsage: "FILE",
						Action: func(c *cli.Context) error {
							if c.NArg() != 1 {
								return usagef("operator snapshot restore takes one FILE")
							}
							path := c.Args().First()
							data, err := os.ReadFile(path)
							if err != nil {
								return fmt.Errorf("restore snapshot: %w", err)
							}
							res, err := clientOf(c).Post(ctx(c), api.PathSnapshotRestore, "application/x-ndjson", bytes.NewReader(data))
							if err != nil {
								return fmt.Errorf("restore snapshot %s: %w", path, err)
							}
							defer res.Body.Close()
							var resp api.SnapshotRestoreResponse
							if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
								return fmt.Errorf("restore snapshot %s: decode the answer: %w", path, err)
							}
							fmt.Fprintf(c.App.Writer, "Restored %s (%d bytes); the state is at index %d\n", path, resp.Bytes, resp.Index)
							return nil
						},
					},
				},
			},
		},
	}
}

// saveSnapshot writes the state into path through a temporary file: an
// answer cut short leaves no partial file under path.
func saveSnapshot(c *cli.Context, path string) error {
	res, err := clientOf(c).Post(ctx(c), api.PathSnapshotSave, "application/json", bytes.NewReader(nil))
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	defer res.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, res.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save snapshot to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "Saved the state at index %s to %s (%d bytes)\n", res.Header.Get("X-Shoal-Index"), path, n)
	return nil
}
