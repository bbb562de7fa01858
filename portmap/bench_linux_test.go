package portmap_test

import (
	"testing"

	"github.com/nstopo/nstopo/portmap"
)

// BenchmarkPublish: one mapping published and removed (two nftables transactions).
func BenchmarkPublish(b *testing.B) {
	l := newLabRoutes(b, true, true)
	for i := 0; i < b.N; i++ {
		m, err := portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Remove(); err != nil {
			b.Fatal(err)
		}
	}
}
