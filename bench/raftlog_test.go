package bench

import (
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/shoal-batch/shoal/daemon/raftwal"
)

// raftLogAppends is how many one-entry appends BenchmarkRaftLogAppend
// times per store.
const raftLogAppends = 2000

// BenchmarkRaftLogAppend times what raft does on the leader for each
// acknowledged command of a lone writer (a sequential sbatch loop): one
// StoreLogs of one entry, durable when it returns. raft-boltdb commits a
// bbolt transaction (two fdatasyncs: data pages, then the meta page); the
// controller's store, raft-wal (daemon/raftwal), appends the entry and a
// commit frame to a segment and syncs once. The entry is 4 KiB, about an
// sbatch job's submit command.
func BenchmarkRaftLogAppend(b *testing.B) {
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i)
	}
	for _, kind := range []string{"raft-boltdb", "raft-wal"} {
		b.Run(kind, func(b *testing.B) {
			dir := b.TempDir()
			var store raft.LogStore
			switch kind {
			case "raft-boltdb":
				s, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			default:
				s, err := raftwal.Open(dir, quietLog())
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			}
			n := raftLogAppends * b.N
			ds := make([]time.Duration, 0, n)
			b.ResetTimer()
			start := time.Now()
			for i := 1; i <= n; i++ {
				t := time.Now()
				if err := store.StoreLogs([]*raft.Log{{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: data}}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			rate := float64(n) / elapsed.Seconds()
			b.ReportMetric(rate, "appends/s")
			figure(b, "raft log append %s: %.0f appends/s, median %.3f ms, p90 %.3f ms (one 4 KiB entry per durable append)",
				kind, rate, ms(percentile(ds, 0.5)), ms(percentile(ds, 0.9)))
		})
	}
}
