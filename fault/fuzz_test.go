package fault

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/internal/errdefs"
)

// FuzzRule checks that validate never panics, refuses only with ErrInvalid, and never
// lets through a rule the kernel would refuse or read as something else.
func FuzzRule(f *testing.F) {
	f.Add(uint8(0), uint8(TCP), "10.255.0.22/32", "", 0, 8081, uint8(SYN), uint8(SYN|ACK), 0, 0, uint8(RejectReset))
	f.Add(uint8(1), uint8(UDP), "fd00::/64", "10.0.0.0/8", 70000, -1, uint8(0), uint8(0), 0, 0, uint8(Drop))
	f.Add(uint8(2), uint8(ICMP), "::ffff:10.0.0.1/128", "", 0, 0, uint8(RST), uint8(0), 1500, 101, uint8(9))
	f.Add(uint8(0), uint8(ICMPv6), "", "10.1.0.0/16", 0, 0, uint8(0), uint8(0), -1, 50, uint8(RejectPortUnreachable))
	// One seed per rule the kernel must never see, so that each check is exercised even
	// in the plain test run.
	f.Add(uint8(0), uint8(UDP), "", "", 0, 0, uint8(0), uint8(0), 0, 0, uint8(RejectReset))
	f.Add(uint8(0), uint8(ICMP), "", "", 0, 53, uint8(0), uint8(0), 0, 0, uint8(Drop))
	f.Add(uint8(0), uint8(ICMP), "fd00::/8", "", 0, 0, uint8(0), uint8(0), 0, 0, uint8(Drop))
	f.Add(uint8(0), uint8(AnyProtocol), "10.0.0.0/8", "fd00::/8", 0, 0, uint8(0), uint8(0), 0, 0, uint8(Drop))
	f.Add(uint8(0), uint8(TCP), "", "", 0, 0, uint8(0), uint8(0), 65536, 0, uint8(Drop))
	f.Fuzz(func(t *testing.T, dir, proto uint8, src, dst string, sport, dport int, flags, mask uint8, longer, pct int, verdict uint8) {
		r := Rule{
			Direction: Direction(dir), Protocol: Protocol(proto), SrcPort: sport, DstPort: dport,
			TCPFlags: TCPFlags(flags), TCPFlagsMask: TCPFlags(mask), LongerThan: longer, Percent: pct, Verdict: Verdict(verdict),
		}
		r.Src, _ = netip.ParsePrefix(src)
		r.Dst, _ = netip.ParsePrefix(dst)
		_ = r.String() // never panics, valid or not
		err := r.validate()
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("validate: %v does not wrap ErrInvalid", err)
			}
			return
		}
		ports := r.SrcPort != 0 || r.DstPort != 0
		switch {
		case r.SrcPort < 0 || r.SrcPort > 65535 || r.DstPort < 0 || r.DstPort > 65535:
			t.Fatalf("accepted ports %d, %d", r.SrcPort, r.DstPort)
		case ports && r.Protocol != TCP && r.Protocol != UDP:
			t.Fatalf("accepted ports with protocol %s", r.Protocol)
		case r.Verdict == RejectReset && r.Protocol != TCP:
			t.Fatalf("accepted a reset for %s", r.Protocol)
		case r.Percent < 0 || r.Percent > 100 || r.LongerThan < 0 || r.LongerThan > 65535:
			t.Fatalf("accepted Percent %d, LongerThan %d", r.Percent, r.LongerThan)
		case r.Src.IsValid() && r.Src.Addr().Is4In6(), r.Dst.IsValid() && r.Dst.Addr().Is4In6():
			t.Fatalf("accepted a mapped prefix: %s %s", r.Src, r.Dst)
		case r.Src.IsValid() && r.Dst.IsValid() && r.Src.Addr().Is4() != r.Dst.Addr().Is4():
			t.Fatalf("accepted prefixes of two families: %s %s", r.Src, r.Dst)
		case r.Protocol == ICMP && r.family() == 6, r.Protocol == ICMPv6 && r.family() == 4:
			t.Fatalf("accepted %s with prefixes of the other family", r.Protocol)
		}
	})
}
