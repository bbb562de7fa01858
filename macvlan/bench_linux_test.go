package macvlan_test

import (
	"testing"

	"github.com/nstopo/nstopo/macvlan"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// BenchmarkCreate: one macvlan made in another namespace, up and ready, then deleted.
func BenchmarkCreate(b *testing.B) {
	host, c := netnsxtest.New(b, "host"), netnsxtest.New(b, "c")
	parent := uplink(b, host)
	for i := 0; i < b.N; i++ {
		l, err := macvlan.Create(host, macvlan.Config{Name: "eth0", Parent: parent, Mode: macvlan.Bridge, NS: c})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Delete(); err != nil {
			b.Fatal(err)
		}
	}
}
