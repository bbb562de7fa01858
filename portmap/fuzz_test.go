package portmap

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/internal/errdefs"
)

// FuzzConfig checks that validate never panics, refuses only with ErrInvalid, and
// accepts only what can become a rule.
func FuzzConfig(f *testing.F) {
	f.Add(0, "", uint16(8080), "172.17.0.2:80")
	f.Add(1, "fd30::1", uint16(53), "[fd17::2]:53")
	f.Add(2, "10.0.0.1", uint16(0), "[::ffff:1.2.3.4]:0")
	f.Fuzz(func(t *testing.T, proto int, host string, port uint16, dst string) {
		cfg := Config{Protocol: Protocol(proto), HostPort: port}
		cfg.HostAddr, _ = netip.ParseAddr(host)
		cfg.Dst, _ = netip.ParseAddrPort(dst)
		err := cfg.validate()
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("validate: %v does not wrap ErrInvalid", err)
			}
			return
		}
		d := cfg.Dst.Addr()
		if port == 0 || cfg.Dst.Port() == 0 || !d.IsValid() || d.IsMulticast() || d.IsUnspecified() || d.Is4In6() {
			t.Fatalf("accepted %s", cfg)
		}
		if cfg.HostAddr.IsValid() && cfg.HostAddr.Is4() != d.Is4() {
			t.Fatalf("accepted mixed families: %s", cfg)
		}
		if n := cfg.tableName(); len(n) > 255 {
			t.Fatalf("table name %q too long", n)
		}
	})
}
