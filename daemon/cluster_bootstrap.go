package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// Forming a cluster symmetrically, as Consul and Nomad do: N controllers
// are started alike, in any order, with -bootstrap-expect N, -join (the
// TCP API addresses of all N) and one server token made beforehand
// (NewServerToken: shoal agent -new-server-token). No controller is
// "the first":
//
//   - the token's secret is the seed of what the controllers share: the
//     CA's key (so its hash, which the token pins, is known before any
//     controller runs), the access-key sealing key and the node join
//     secret are derived from it (HKDF-SHA256), so each controller writes
//     the same ones into its data dir without asking anyone;
//   - each starts raft with no configuration and asks the -join addresses
//     (TLS pinned to the CA hash, the secret as proof) for their raft id
//     and address and whether they are in a cluster already;
//   - once it has heard from N controllers (itself included) and none is
//     in a cluster, it bootstraps raft with the configuration of all N,
//     sorted by id: each one that does so bootstraps the same
//     configuration, which raft allows (BootstrapCluster is idempotent
//     across servers given identical configurations), and an election
//     follows; a controller that hears of one already in a cluster asks
//     it to be added as a voter instead (a replacement, or a late one).
//
// A token made by a controller (the first of a cluster formed one by one)
// pins a random CA: with it, -join fetches the secrets as before.

// derive returns n bytes derived from the server secret for purpose.
func derive(secret, purpose string, n int) []byte {
	out, err := hkdf.Key(sha256.New, []byte(secret), []byte("shoal cluster"), purpose, n)
	if err != nil {
		panic(fmt.Sprintf("derive %s: %v", purpose, err)) // only for n out of range: a bug
	}
	return out
}

// derivedCAKey is the P-256 CA key the secret seeds.
func derivedCAKey(secret string) *ecdsa.PrivateKey {
	for i := 0; ; i++ {
		// A value not below the curve's order (odds about 2^-32) is
		// skipped for the next.
		if key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), derive(secret, fmt.Sprintf("ca key %d", i), 32)); err == nil {
			return key
		}
	}
}

// derivedCAHash is the hash (client.CAHash: of the public key) of the CA
// the secret seeds.
func derivedCAHash(secret string) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(&derivedCAKey(secret).PublicKey)
	if err != nil {
		return "", fmt.Errorf("encode the derived CA key: %w", err)
	}
	sum := sha256.Sum256(spki)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// NewServerToken makes the server token of a cluster formed with
// -bootstrap-expect: a random secret and the hash of the CA it seeds.
func NewServerToken() (string, error) {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make server secret: %w", err)
	}
	secret := hex.EncodeToString(buf)
	hash, err := derivedCAHash(secret)
	if err != nil {
		return "", err
	}
	return api.FormatServerToken(secret, hash), nil
}

// seededToken reports whether token's CA is the one its secret seeds (a
// token of NewServerToken), returning the secret and hash.
func seededToken(token string) (secret, hash string, ok bool) {
	secret, hash, err := api.ParseServerToken(token)
	if err != nil {
		return "", "", false
	}
	derived, err := derivedCAHash(secret)
	return secret, hash, err == nil && derived == hash
}

// writeSeededSecrets writes into dir what the secret seeds: the CA (its
// key, and a certificate of its own), the access-key sealing key, the
// node join token and the server token. A CA already there (a start that
// stopped before raft had state) must be the seeded one.
func writeSeededSecrets(dir, secret, hash string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	keyPath := filepath.Join(dir, caKeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		ca, err := loadCA(dir)
		if err != nil {
			return err
		}
		if ca.hash() != hash {
			return fmt.Errorf("%s holds a CA (%s) other than the one the server token seeds (%s): this data dir belongs to another cluster", dir, ca.hash(), hash)
		}
	} else {
		key := derivedCAKey(secret)
		serial := new(big.Int).SetBytes(derive(secret, "ca serial", 16))
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber:          serial.Add(serial, big.NewInt(1)),
			Subject:               pkix.Name{CommonName: "shoal cluster CA", Organization: []string{"shoal"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(caLifetime),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return fmt.Errorf("make the cluster CA certificate: %w", err)
		}
		if err := writeKey(keyPath, key); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, caCertFile), "CERTIFICATE", der); err != nil {
			return err
		}
	}
	files := []struct{ name, data string }{
		{keysKeyFile, hex.EncodeToString(derive(secret, "access-key sealing key", 32)) + "\n"},
		{joinTokenFile, api.FormatJoinToken(hex.EncodeToString(derive(secret, "node join secret", 24)), hash) + "\n"},
		{serverTokenFile, api.FormatServerToken(secret, hash) + "\n"},
	}
	for _, f := range files {
		if err := writePrivateFile(filepath.Join(dir, f.name), []byte(f.data)); err != nil {
			return err
		}
	}
	return nil
}

// formEvery is how often a forming controller asks the others again.
const formEvery = 500 * time.Millisecond

// formCluster is the symmetric start of a controller with no raft state:
// it asks the -join controllers who they are until it can bootstrap the
// cluster of cfg.BootstrapExpect, or joins the one another has formed.
// It returns once this controller has a raft configuration.
func (c *Controller) formCluster(ctx context.Context) {
	n := c.cfg.BootstrapExpect
	self := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(c.cfg.NodeID), Address: c.raft.transport.LocalAddr()}
	warned := false
	for ctx.Err() == nil {
		if c.hasConfiguration() {
			c.log.Info("in the cluster's configuration")
			return
		}
		servers := map[raft.ServerID]raft.Server{self.ID: self}
		formedVia := ""
		for _, addr := range c.cfg.Join {
			resp, err := c.discover(ctx, addr)
			if err != nil {
				c.log.Debug("form the cluster: ask a controller", "addr", addr, "err", err)
				continue
			}
			if resp.ID == "" || resp.RaftAddr == "" {
				continue
			}
			id := raft.ServerID(resp.ID)
			if resp.Formed && id != self.ID {
				formedVia = resp.RaftAddr
			}
			servers[id] = raft.Server{Suffrage: raft.Voter, ID: id, Address: raft.ServerAddress(resp.RaftAddr)}
		}
		switch {
		case formedVia != "":
			// A cluster exists (formed by the others, or this one is a
			// replacement): be added to it.
			if err := c.askVoter(ctx, formedVia); err != nil {
				c.log.Warn("form the cluster: join the one formed", "via", formedVia, "err", err)
			} else {
				return
			}
		case len(servers) == n:
			conf := raft.Configuration{}
			for _, s := range servers {
				conf.Servers = append(conf.Servers, s)
			}
			slices.SortFunc(conf.Servers, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
			err := c.raft.raft.BootstrapCluster(conf).Error()
			switch {
			case err == nil:
				c.log.Info("bootstrapped the cluster", "voters", n, "configuration", fmt.Sprint(conf.Servers))
				return
			case errors.Is(err, raft.ErrCantBootstrap): // has state now: the log came from a leader
				return
			default:
				c.log.Warn("form the cluster: bootstrap", "err", err)
			}
		case len(servers) > n && !warned:
			warned = true
			c.log.Error("form the cluster: more controllers answer than -bootstrap-expect says: bootstrap none; start them with the same -bootstrap-expect",
				"expect", n, "answered", len(servers))
		}
		select {
		case <-time.After(formEvery):
		case <-ctx.Done():
		}
	}
}

// hasConfiguration reports whether this controller's raft has a
// configuration (bootstrapped, or given by a leader).
func (c *Controller) hasConfiguration() bool {
	f := c.raft.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// discover asks the controller at the TCP API address addr who it is
// (ClusterJoinRequest.Discover), over TLS pinned to this cluster's CA.
func (c *Controller) discover(ctx context.Context, addr string) (api.ClusterJoinResponse, error) {
	cl, err := client.NewWith(addr, client.Options{CAHash: c.ca.hash()})
	if err != nil {
		return api.ClusterJoinResponse{}, err
	}
	cl.FailoverWait = time.Second
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var resp api.ClusterJoinResponse
	err = cl.Call(ctx, api.PathClusterJoin, api.ClusterJoinRequest{Secret: c.serverSecret, ID: c.cfg.NodeID,
		RaftAddr: string(c.raft.transport.LocalAddr()), Discover: true}, &resp)
	return resp, err
}
