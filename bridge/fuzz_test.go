package bridge

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/internal/errdefs"
)

// FuzzConfig checks that validate never panics and refuses only with ErrInvalid.
func FuzzConfig(f *testing.F) {
	f.Add("br0", "172.16.1.1/16", []byte(nil), 0)
	f.Add("br/0", "0.0.0.0/0", []byte{1, 0, 0, 0, 0, 0}, 65536)
	f.Fuzz(func(t *testing.T, name, addr string, mac []byte, mtu int) {
		cfg := Config{Name: name, HardwareAddr: mac, MTU: mtu}
		if p, err := netip.ParsePrefix(addr); err == nil {
			cfg.Addrs = []netip.Prefix{p}
		}
		if err := cfg.validate(); err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("validate: %v does not wrap ErrInvalid", err)
		}
	})
}
