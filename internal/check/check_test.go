package check

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nstopo/nstopo/internal/errdefs"
)

func TestIfName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"eth0", true}, {"br-0_x.y", true}, {"a", true}, {"123456789012345", true},
		{"", false}, {"1234567890123456", false}, {".", false}, {"..", false},
		{"a/b", false}, {"a:b", false}, {"a b", false}, {"a\tb", false}, {"a\nb", false},
		{"a\x00b", false}, {"eth%d", false}, {"ethé", false}, {"\x7f", false},
	} {
		err := IfName("Name", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("IfName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "Name")) {
			t.Errorf("IfName(%q) = %v: want ErrInvalid naming the field", tc.name, err)
		}
	}
}

func TestNSName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"container-1", true}, {"7ca58b86b82c", true}, {"a.b:c", true}, {strings.Repeat("x", 255), true},
		{"", false}, {".", false}, {"..", false}, {"../etc", false}, {"a/b", false}, {"/abs", false},
		{"a b", false}, {"a\x00", false}, {"new\nline", false}, {"ü", false}, {strings.Repeat("x", 256), false},
	} {
		err := NSName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("NSName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("NSName(%q) = %v: want ErrInvalid", tc.name, err)
		}
	}
}

func TestPrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		in []netip.Prefix
		ok bool
	}{
		{nil, true},
		{[]netip.Prefix{p("172.16.1.1/16"), p("fd00::1/64")}, true},
		{[]netip.Prefix{{}}, false},
		{[]netip.Prefix{p("0.0.0.0/0")}, false},
		{[]netip.Prefix{p("::/64")}, false},
		{[]netip.Prefix{p("224.0.0.1/4")}, false},
		{[]netip.Prefix{p("ff02::1/64")}, false},
		{[]netip.Prefix{p("::ffff:10.0.0.1/120")}, false},
		{[]netip.Prefix{p("10.0.0.1/8"), p("10.0.0.1/24")}, false},
	} {
		err := Prefixes("Addrs", tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Prefixes(%v) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "Addrs")) {
			t.Errorf("Prefixes(%v) = %v: want ErrInvalid naming the field", tc.in, err)
		}
	}
}

func TestMAC(t *testing.T) {
	for _, tc := range []struct {
		mac net.HardwareAddr
		ok  bool
	}{
		{nil, true}, {net.HardwareAddr{2, 0, 0, 0, 0, 1}, true},
		{net.HardwareAddr{}, false}, {net.HardwareAddr{2, 0, 0, 0, 1}, false},
		{net.HardwareAddr{0, 0, 0, 0, 0, 0}, false}, {net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}, false},
		{net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
		{net.HardwareAddr{2, 0, 0, 0, 0, 0, 0, 1}, false},
	} {
		err := MAC("HardwareAddr", tc.mac)
		if (err == nil) != tc.ok {
			t.Errorf("MAC(%v) = %v, want ok=%v", tc.mac, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("MAC(%v) = %v: want ErrInvalid", tc.mac, err)
		}
	}
}

func TestMTU(t *testing.T) {
	for mtu, ok := range map[int]bool{0: true, 68: true, 1500: true, 9000: true, 65535: true, 67: false, -1: false, 65536: false} {
		if err := MTU("MTU", mtu); (err == nil) != ok || (err != nil && !errors.Is(err, errdefs.ErrInvalid)) {
			t.Errorf("MTU(%d) = %v, want ok=%v", mtu, err, ok)
		}
	}
}

// FuzzIfName checks that IfName accepts exactly what the kernel's rules allow and
// never panics.
func FuzzIfName(f *testing.F) {
	for _, s := range []string{"eth0", "", ".", "a/b", "eth%d", "123456789012345", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := IfName("Name", s)
		want := len(s) >= 1 && len(s) <= 15 && s != "." && s != ".." && !strings.ContainsAny(s, "/:%")
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f {
				want = false
			}
		}
		if (err == nil) != want {
			t.Fatalf("IfName(%q) = %v, want ok=%v", s, err, want)
		}
	})
}

// FuzzNSName checks that an accepted namespace name is always a single plain file name.
func FuzzNSName(f *testing.F) {
	for _, s := range []string{"container-1", "", "..", "../x", "a\x00b", strings.Repeat("n", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if NSName(s) != nil {
			return
		}
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00 \n\t") || len(s) > NSNameMax {
			t.Fatalf("NSName accepted %q", s)
		}
	})
}

// FuzzPrefix checks that an accepted interface address is always a usable unicast one,
// and that nothing panics.
func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"172.16.1.1/16", "fd00::1/64", "0.0.0.0/0", "224.0.0.1/4", "::ffff:1.2.3.4/96", "fe80::1%eth0/64", "10.0.0.1/33", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			p = netip.Prefix{}
		}
		if Prefix("Addrs", p) != nil {
			return
		}
		a := p.Addr()
		if !p.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Is4In6() || a.Zone() != "" {
			t.Fatalf("Prefix accepted %v", p)
		}
	})
}

// FuzzMAC checks that an accepted MAC is a 6-byte unicast, non-zero address.
func FuzzMAC(f *testing.F) {
	for _, b := range [][]byte{{2, 0, 0, 0, 0, 1}, {1, 0, 0x5e, 0, 0, 1}, {0, 0, 0, 0, 0, 0}, {2}, nil} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if MAC("HardwareAddr", net.HardwareAddr(b)) != nil || b == nil {
			return
		}
		if len(b) != 6 || b[0]&1 != 0 || string(b) == "\x00\x00\x00\x00\x00\x00" {
			t.Fatalf("MAC accepted %x", b)
		}
	})
}

func TestSysctlKey(t *testing.T) {
	for key, path := range map[string]string{
		"net.ipv4.ip_forward":                 "/proc/sys/net/ipv4/ip_forward",
		"net.ipv6.conf.default.disable_ipv6":  "/proc/sys/net/ipv6/conf/default/disable_ipv6",
		"net.ipv4.conf.eth0/100.forwarding":   "/proc/sys/net/ipv4/conf/eth0.100/forwarding",
		"net.ipv4.neigh.br-0_x.gc_stale_time": "/proc/sys/net/ipv4/neigh/br-0_x/gc_stale_time",
	} {
		if err := SysctlKey(key); err != nil {
			t.Errorf("SysctlKey(%q) = %v", key, err)
		}
		if got := SysctlPath(key); got != path {
			t.Errorf("SysctlPath(%q) = %q, want %q", key, got, path)
		}
	}
	for _, key := range []string{"", "net", "net.", "kernel.hostname", "vm.swappiness", "net..x", "net.ipv4./x",
		"net.ipv4.x/", "net.ipv4.a//b", "net/ipv4/ip_forward", "net.ipv4.ip_forward\n", "net.ipv4.ip forward",
		"net.ipv4.é", "net.ipv4.*", "net." + strings.Repeat("x", 300)} {
		if err := SysctlKey(key); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("SysctlKey(%q) = %v, want ErrInvalid", key, err)
		}
	}
}

func TestUnicastMulticast(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		in                 netip.Addr
		unicast, multicast bool
	}{
		{a("10.0.0.1"), true, false},
		{a("fd00::1"), true, false},
		{a("239.1.1.1"), false, true},
		{a("ff05::1"), false, true},
		{netip.Addr{}, false, false},
		{a("0.0.0.0"), false, false},
		{a("::"), false, false},
		{a("fe80::1%eth0"), false, false},
		// IPv4-mapped: the kernel takes them as IPv6, whatever netip says of them.
		{a("::ffff:10.0.0.1"), false, false},
		{a("::ffff:239.1.1.1"), false, false},
	} {
		for _, c := range []struct {
			name string
			fn   func(string, netip.Addr) error
			ok   bool
		}{{"Unicast", Unicast, tc.unicast}, {"Multicast", Multicast, tc.multicast}} {
			err := c.fn("Field", tc.in)
			if (err == nil) != c.ok {
				t.Errorf("%s(%v) = %v, want ok=%v", c.name, tc.in, err, c.ok)
			}
			if err != nil && (!errors.Is(err, errdefs.ErrInvalid) || !strings.HasPrefix(strings.TrimPrefix(err.Error(), errdefs.ErrInvalid.Error()+": "), "Field")) {
				t.Errorf("%s(%v) = %v: want ErrInvalid naming the field", c.name, tc.in, err)
			}
		}
	}
}
