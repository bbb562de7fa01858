package portmap_test

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/portmap"
)

// TestIntegrationProbeCollidingPublish: "any:P" and "addr:P" published at once, through
// two handles on one namespace: at most one may stand.
func TestIntegrationProbeCollidingPublish(t *testing.T) {
	l := newLab(t, true)
	h2, err := netnsx.Open(l.host.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	for i := 0; i < 30; i++ {
		port := uint16(9000 + i)
		cfgs := []portmap.Config{
			{HostPort: port, Dst: addrPort("172.17.0.2:80")},
			{HostAddr: netip.MustParseAddr("10.30.0.1"), HostPort: port, Dst: addrPort("172.17.0.2:81")},
		}
		var wg sync.WaitGroup
		var ms [2]*portmap.Mapping
		for j, ns := range []*netnsx.NS{l.host, h2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ms[j], _ = portmap.Publish(ns, cfgs[j])
			}()
		}
		wg.Wait()
		n := 0
		for _, m := range ms {
			if m != nil {
				n++
				defer m.Remove()
			}
		}
		if n > 1 {
			t.Fatalf("port %d: both overlapping mappings published: %v", port, tables(t, l.host))
		}
	}
}

// TestIntegrationProbeRemove: Remove twice, edge ports, IPv6, and Remove after the
// namespace is gone.
func TestIntegrationProbeRemove(t *testing.T) {
	l := newLab(t, true)
	for _, cfg := range []portmap.Config{
		{HostPort: 65535, Dst: addrPort("172.17.0.2:65535")},
		{HostPort: 1, Dst: addrPort("[fd17::2]:1")},
		{Protocol: portmap.UDP, HostAddr: netip.MustParseAddr("fd30::1"), HostPort: 53, Dst: addrPort("[fd17::2]:53")},
	} {
		m, err := portmap.Publish(l.host, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg, err)
		}
		if _, ok := tables(t, l.host)[map[bool]string{true: "ip6", false: "ip"}[cfg.Dst.Addr().Is6()]+" "+m.Table()]; !ok {
			t.Errorf("%s: no table %s", cfg, m.Table())
		}
		if err := m.Remove(); err != nil {
			t.Fatal(err)
		}
		if err := m.Remove(); err != nil {
			t.Errorf("second Remove: %v", err)
		}
	}
	for k := range tables(t, l.host) {
		if strings.Contains(k, "nstopo-publish") {
			t.Errorf("left: %s", k)
		}
	}
	m, err := portmap.Publish(l.container, portmap.Config{HostPort: 80, Dst: addrPort("172.17.0.2:8080")})
	if err == nil {
		if err := l.container.Delete(); err != nil {
			t.Fatal(err)
		}
		if err := m.Remove(); !errors.Is(err, netnsx.ErrClosed) {
			t.Errorf("Remove after the namespace was deleted = %v, want ErrClosed", err)
		}
	} else if !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Publish to the namespace's own address: %v", err)
	}
}
