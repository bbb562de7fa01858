package macvlan

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/netnsx"
)

// FuzzConfig checks that validate never panics and refuses only with ErrInvalid.
func FuzzConfig(f *testing.F) {
	f.Add("eth0", 1, "192.168.50.2/24", []byte{2, 0, 0, 0, 0, 1}, 1500)
	f.Add("", 0, "", []byte(nil), 0)
	f.Add("a:b", -1, "224.0.0.1/4", []byte{1, 2, 3}, -1)
	f.Fuzz(func(t *testing.T, name string, mode int, addr string, mac []byte, mtu int) {
		ns := new(netnsx.NS) // never used: validation makes no syscall
		cfg := Config{Name: name, Parent: new(netnsx.Link), Mode: Mode(mode), NS: ns, HardwareAddr: mac, MTU: mtu}
		if p, err := netip.ParsePrefix(addr); err == nil {
			cfg.Addrs = []netip.Prefix{p}
		}
		err := cfg.validate()
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("validate: %v does not wrap ErrInvalid", err)
			}
			return
		}
		if mode < 0 || mode > int(Passthru) {
			t.Fatalf("accepted mode %d", mode)
		}
		if mac != nil && (len(mac) != 6 || net.HardwareAddr(mac)[0]&1 != 0) {
			t.Fatalf("accepted MAC %x", mac)
		}
		_ = Mode(mode).String()
	})
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{VEPA: "vepa", Bridge: "bridge", Private: "private", Passthru: "passthru", 9: "Mode(9)", -1: "Mode(-1)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
		if v, ok := modeOf(modes[min(max(int(m), 0), len(modes)-1)].value); !ok || v.String() == "" {
			t.Errorf("modeOf lost %v", m)
		}
	}
}
