package fault_test

import (
	"testing"

	"github.com/nstopo/nstopo/fault"
)

// How long a filter takes to add and remove (one nftables transaction each, the table
// made and deleted with it).
func BenchmarkAddRemove(b *testing.B) {
	tp := newTopo(b)
	r := fault.Rule{Protocol: fault.TCP, DstPort: 8081, TCPFlags: fault.SYN, TCPFlagsMask: fault.SYN | fault.ACK, Verdict: fault.RejectReset}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := fault.Add(tp.server, r)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Remove(); err != nil {
			b.Fatal(err)
		}
	}
}

// The rate a TCP transfer gets through a tbf of 16 Mbit/s, shown as MB/s beside the
// limit's 2 MB/s, and without it.
func BenchmarkLimitedTransfer(b *testing.B) {
	tp := newTopo(b)
	for _, limited := range []bool{true, false} {
		name := "unlimited"
		if limited {
			name = "tbf-16Mbit"
		}
		b.Run(name, func(b *testing.B) {
			if limited {
				q, err := fault.LimitRate(tp.clientEth, fault.RateLimit{Rate: 16_000_000})
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = q.Remove() }()
			}
			const size = 1 << 20
			b.SetBytes(size)
			b.ResetTimer()
			var bps float64
			for i := 0; i < b.N; i++ {
				bps = transfer(b, tp, size)
			}
			b.ReportMetric(bps/1e6, "Mbit/s")
		})
	}
}
