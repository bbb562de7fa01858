package vxlan

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/internal/errdefs"
)

// FuzzConfig checks that validate never panics, refuses only with ErrInvalid, and
// accepts only configs whose VNI, addresses and MTU the kernel would take.
func FuzzConfig(f *testing.F) {
	f.Add("vxlan0", uint32(42), "eth0", "", "", uint16(0), 0)
	f.Add("vxlan0", uint32(1<<24), "eth0", "10.0.0.1", "239.1.1.1", uint16(4789), 1450)
	f.Add("vx/0", uint32(1), "", "ff02::1", "", uint16(8472), 70000)
	f.Add("vxlan0", uint32(7), "eth0", "fd00::1", "ff05::100", uint16(1), 1280)
	f.Fuzz(func(t *testing.T, name string, vni uint32, underlay, local, group string, port uint16, mtu int) {
		cfg := Config{Name: name, VNI: vni, Underlay: underlay, Port: port, MTU: mtu}
		cfg.Local, _ = netip.ParseAddr(local)
		cfg.Group, _ = netip.ParseAddr(group)
		err := cfg.validate()
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("validate: %v does not wrap ErrInvalid", err)
			}
			return
		}
		switch {
		case vni > MaxVNI:
			t.Fatalf("accepted VNI %d", vni)
		case cfg.Group.IsValid() && (!cfg.Group.IsMulticast() || underlay == ""):
			t.Fatalf("accepted group %v with underlay %q", cfg.Group, underlay)
		case cfg.Local.IsValid() && (cfg.Local.IsMulticast() || cfg.Local.IsUnspecified()):
			t.Fatalf("accepted local %v", cfg.Local)
		case cfg.Local.IsValid() && cfg.Group.IsValid() && cfg.Local.Is4() != cfg.Group.Is4():
			t.Fatalf("accepted mixed families %v %v", cfg.Local, cfg.Group)
		case mtu != 0 && (mtu < 68 || mtu > 65535):
			t.Fatalf("accepted MTU %d", mtu)
		}
	})
}
