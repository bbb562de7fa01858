package veth

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
	f.Add("veth1", "eth0", "172.16.1.2/16", []byte{2, 0, 0, 0, 0, 1}, 1500)
	f.Add("veth1", "veth1", "", []byte(nil), 0)
	f.Add("a:b", "eth%d", "224.0.0.1/4", []byte{1, 2, 3}, -1)
	f.Fuzz(func(t *testing.T, a, b, addr string, mac []byte, mtu int) {
		ns := new(netnsx.NS) // never used: validation makes no syscall
		cfg := Config{A: End{NS: ns, Name: a, HardwareAddr: mac}, B: End{NS: ns, Name: b}, MTU: mtu}
		if p, err := netip.ParsePrefix(addr); err == nil {
			cfg.B.Addrs = []netip.Prefix{p}
		}
		err := cfg.validate()
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("validate: %v does not wrap ErrInvalid", err)
			}
			return
		}
		if a == b {
			t.Fatalf("accepted two ends named %q in one namespace", a)
		}
		if mac != nil && (len(mac) != 6 || net.HardwareAddr(mac)[0]&1 != 0) {
			t.Fatalf("accepted MAC %x", mac)
		}
	})
}
