package portmap_test

import (
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/portmap"
	"github.com/nstopo/nstopo/veth"
)

var (
	pfx      = netip.MustParsePrefix
	addrPort = netip.MustParseAddrPort
)

// lab is a simulated Docker host: a bridge with a container behind it (its default
// route through the bridge), and an outside network on another link of the host with
// a client on it that has no route to the containers.
type lab struct {
	host, container, outside *netnsx.NS
}

func newLab(t *testing.T, forward bool) *lab { return newLabRoutes(t, forward, true) }

func newLabRoutes(t testing.TB, forward, defaultRoute bool) *lab {
	t.Helper()
	l := &lab{host: netnsxtest.New(t, "host"), container: netnsxtest.New(t, "ctr"), outside: netnsxtest.New(t, "out")}
	for _, ns := range []*netnsx.NS{l.host, l.container, l.outside} {
		// No duplicate address detection: an IPv6 address is usable at once.
		require.NoError(t, ns.SetSysctl("net.ipv6.conf.default.accept_dad", "0"))
	}
	br, err := bridge.Create(l.host, bridge.Config{Name: "docker0", Addrs: []netip.Prefix{pfx("172.17.0.1/16"), pfx("fd17::1/64")}})
	require.NoError(t, err)
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: l.host, Name: "veth0", Master: br.Link},
		B: veth.End{NS: l.container, Name: "eth0", Addrs: []netip.Prefix{pfx("172.17.0.2/16"), pfx("fd17::2/64")}},
	})
	require.NoError(t, err)
	if defaultRoute {
		require.NoError(t, l.container.AddRoute(netnsx.Route{Dst: pfx("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1")}))
		require.NoError(t, l.container.AddRoute(netnsx.Route{Dst: pfx("::/0"), Gateway: netip.MustParseAddr("fd17::1")}))
	}
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: l.host, Name: "eth0", Addrs: []netip.Prefix{pfx("10.30.0.1/24"), pfx("fd30::1/64")}},
		B: veth.End{NS: l.outside, Name: "eth0", Addrs: []netip.Prefix{pfx("10.30.0.2/24"), pfx("fd30::2/64")}},
	})
	require.NoError(t, err)
	if forward {
		require.NoError(t, l.host.SetSysctl("net.ipv4.ip_forward", "1"))
		require.NoError(t, l.host.SetSysctl("net.ipv6.conf.all.forwarding", "1"))
	}
	return l
}

// serve runs the container's TCP echo service on addr until the test ends.
func serve(t *testing.T, ns *netnsx.NS, addr string) {
	t.Helper()
	ln, err := echo.Serve(context.Background(), ns, addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
}

// roundTrip dials addr from ns and expects the echo back.
func roundTrip(ns *netnsx.NS, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return echo.RoundTrip(ctx, ns, addr, []byte("hello through "+addr))
}

// refused dials addr from ns briefly and expects no echo.
func refused(t *testing.T, ns *netnsx.NS, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	require.Error(t, echo.RoundTrip(ctx, ns, addr, []byte("x")), "%s still reached from %s", addr, ns)
}

// tables lists the nftables tables of ns as `nft -j list ruleset` sees them, each with
// its rules' expressions as JSON text.
func tables(t *testing.T, ns *netnsx.NS) map[string]string {
	t.Helper()
	out, err := exec.Command(iptest.Tool("ip"), "netns", "exec", ns.Name(), iptest.Tool("nft"), "-j", "list", "ruleset").Output()
	require.NoError(t, err)
	var v struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	require.NoError(t, json.Unmarshal(out, &v))
	got := map[string]string{}
	for _, o := range v.Nftables {
		if raw, ok := o["table"]; ok {
			var tb struct{ Family, Name string }
			require.NoError(t, json.Unmarshal(raw, &tb))
			got[tb.Family+" "+tb.Name] += ""
		}
		if raw, ok := o["rule"]; ok {
			var r struct {
				Family, Table, Chain string
				Expr                 json.RawMessage
			}
			require.NoError(t, json.Unmarshal(raw, &r))
			got[r.Family+" "+r.Table] += r.Chain + ": " + string(r.Expr) + "\n"
		}
	}
	return got
}

// The article's host, published as `docker run -p 8080:80`: a client outside reaches
// the container's server through the host's port; the host reaches it too; Remove
// takes exactly the mapping's rules away.
func TestIntegrationPublishTCP(t *testing.T) {
	l := newLab(t, true)
	serve(t, l.container, "172.17.0.2:80")
	serve(t, l.container, "[fd17::2]:80")
	m, err := portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.NoError(t, err)
	require.Equal(t, "tcp 0.0.0.0:8080 -> 172.17.0.2:80", m.Config().String())

	require.NoError(t, roundTrip(l.outside, "10.30.0.1:8080"), "from outside")
	require.NoError(t, roundTrip(l.host, "10.30.0.1:8080"), "from the host itself, to its outside address")
	require.NoError(t, roundTrip(l.host, "172.17.0.1:8080"), "from the host itself, to its bridge address")
	// Where br_netfilter is loaded (a Docker host), the bridge itself turns the DNATed
	// frame back to the port it came from: only with hairpin on that port, as Docker sets.
	out, err := exec.Command(iptest.Tool("ip"), "-n", l.host.Name(), "link", "set", "veth0", "type", "bridge_slave", "hairpin", "on").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, roundTrip(l.container, "10.30.0.1:8080"), "from the container to itself (hairpin)")
	// Loopback is not published: localhost:8080 stays whatever listens there.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	own, err := l.host.Listen(ctx, "tcp", "127.0.0.1:8080")
	require.NoError(t, err)
	defer own.Close()
	go func() {
		if c, err := own.Accept(); err == nil {
			_, _ = c.Write([]byte("the host's own"))
			_ = c.Close()
		}
	}()
	c, err := l.host.Dial(ctx, "tcp", "127.0.0.1:8080")
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	_ = c.Close()
	require.Equal(t, "the host's own", string(got))

	nft := tables(t, l.host)
	rules, ok := nft["ip "+m.Table()]
	require.True(t, ok, "nft lists the mapping's table: %v", nft)
	for _, want := range []string{"prerouting: ", "output: ", "postrouting: ", `"dnat"`, `"masquerade"`, "172.17.0.2", "8080", `"local"`} {
		require.Contains(t, rules, want)
	}

	// A second mapping, IPv6, beside the first; removing one leaves the other.
	m6, err := portmap.Publish(l.host, portmap.Config{HostAddr: netip.MustParseAddr("fd30::1"), HostPort: 8080, Dst: addrPort("[fd17::2]:80")})
	require.NoError(t, err)
	require.NoError(t, roundTrip(l.outside, "[fd30::1]:8080"))
	require.NoError(t, m.Remove())
	require.NoError(t, m.Remove(), "idempotent")
	nft = tables(t, l.host)
	require.NotContains(t, nft, "ip "+m.Table())
	require.Contains(t, nft, "ip6 "+m6.Table())
	refused(t, l.outside, "10.30.0.1:8080")
	require.NoError(t, roundTrip(l.outside, "[fd30::1]:8080"), "the other mapping still works")
	require.NoError(t, m6.Remove())
	require.NotContains(t, tables(t, l.host), "ip6 "+m6.Table())
	var nilMapping *portmap.Mapping
	require.NoError(t, nilMapping.Remove())
}

// A container with no route back to the host's outside address still answers the
// host's own connections to it: they are masqueraded to the bridge's address. Clients
// from outside keep their address, so they need the route back, as with Docker.
func TestIntegrationMasqueradeLocal(t *testing.T) {
	l := newLabRoutes(t, true, false)
	serve(t, l.container, "172.17.0.2:80")
	m, err := portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.NoError(t, err)
	defer m.Remove()
	require.NoError(t, roundTrip(l.host, "10.30.0.1:8080"), "from the host, masqueraded")
	refused(t, l.outside, "10.30.0.1:8080")
}

// `docker run -p 5353:53/udp`.
func TestIntegrationPublishUDP(t *testing.T) {
	l := newLab(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := l.container.ListenPacket(ctx, "udp", "172.17.0.2:53")
	require.NoError(t, err)
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("answer to "), buf[:n]...), from)
		}
	}()
	m, err := portmap.Publish(l.host, portmap.Config{Protocol: portmap.UDP, HostAddr: netip.MustParseAddr("10.30.0.1"), HostPort: 5353, Dst: addrPort("172.17.0.2:53")})
	require.NoError(t, err)
	ask := func() (string, error) {
		c, err := l.outside.Dial(ctx, "udp", "10.30.0.1:5353")
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("q")); err != nil {
			return "", err
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	got, err := ask()
	require.NoError(t, err)
	require.Equal(t, "answer to q", got)
	require.Contains(t, tables(t, l.host)["ip "+m.Table()], `"udp"`)
	require.NoError(t, m.Remove())
	_, err = ask()
	require.Error(t, err, "no answer once removed")
}

// One port published twice is refused by the kernel's own check, in one transaction
// that changes nothing: the first mapping stays, no second table appears.
func TestIntegrationPublishTwice(t *testing.T) {
	l := newLab(t, true)
	serve(t, l.container, "172.17.0.2:80")
	m, err := portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.NoError(t, err)
	defer m.Remove()
	before := tables(t, l.host)
	for _, cfg := range []portmap.Config{
		{HostPort: 8080, Dst: addrPort("172.17.0.2:81")},
		{HostAddr: netip.MustParseAddr("10.30.0.1"), HostPort: 8080, Dst: addrPort("172.17.0.2:81")},
	} {
		_, err = portmap.Publish(l.host, cfg)
		require.ErrorIs(t, err, netnsx.ErrExists, "%s", cfg)
		require.Equal(t, before, tables(t, l.host), "a refused Publish changes nothing")
	}
	require.NoError(t, roundTrip(l.outside, "10.30.0.1:8080"))
	// Another protocol, or another port, is another mapping.
	u, err := portmap.Publish(l.host, portmap.Config{Protocol: portmap.UDP, HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.NoError(t, err)
	require.NoError(t, u.Remove())
}

// Forwarding off: Publish refuses, names the sysctl, and makes nothing; it never turns
// the setting on itself.
func TestIntegrationForwardingOff(t *testing.T) {
	l := newLab(t, false)
	_, err := portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.Contains(t, err.Error(), "net.ipv4.ip_forward")
	_, err = portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("[fd17::2]:80")})
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.Contains(t, err.Error(), "net.ipv6.conf.all.forwarding")
	v, err := l.host.Sysctl("net.ipv4.ip_forward")
	require.NoError(t, err)
	require.Equal(t, "0", v)
	for name := range tables(t, l.host) {
		require.NotContains(t, name, "nstopo-publish")
	}
}

func TestPublishRefusesBadConfig(t *testing.T) {
	defer failpoint.Set(func(op failpoint.Op) error {
		t.Errorf("reached kernel call %s", op)
		return nil
	})()
	ns := new(netnsx.NS) // never used: the input is refused first
	dst := addrPort("172.17.0.2:80")
	for _, tc := range []struct {
		name string
		ns   *netnsx.NS
		cfg  portmap.Config
		says string
	}{
		{"nil ns", nil, portmap.Config{HostPort: 80, Dst: dst}, "nil namespace"},
		{"port 0", ns, portmap.Config{Dst: dst}, "HostPort 0"},
		{"protocol", ns, portmap.Config{Protocol: 7, HostPort: 80, Dst: dst}, "Protocol 7"},
		{"zero Dst", ns, portmap.Config{HostPort: 80}, "Dst is zero"},
		{"Dst port 0", ns, portmap.Config{HostPort: 80, Dst: addrPort("172.17.0.2:0")}, "port 0"},
		{"multicast Dst", ns, portmap.Config{HostPort: 80, Dst: addrPort("224.0.0.1:80")}, "multicast"},
		{"unspecified Dst", ns, portmap.Config{HostPort: 80, Dst: addrPort("0.0.0.0:80")}, "unspecified"},
		{"broadcast Dst", ns, portmap.Config{HostPort: 80, Dst: addrPort("255.255.255.255:80")}, "broadcast"},
		{"loopback Dst", ns, portmap.Config{HostPort: 80, Dst: addrPort("127.0.0.1:80")}, "loopback"},
		{"mapped Dst", ns, portmap.Config{HostPort: 80, Dst: addrPort("[::ffff:172.17.0.2]:80")}, "IPv4-mapped"},
		{"zoned Dst", ns, portmap.Config{HostPort: 80, Dst: addrPort("[fe80::1%eth0]:80")}, "zone"},
		{"family mismatch", ns, portmap.Config{HostAddr: netip.MustParseAddr("fd30::1"), HostPort: 80, Dst: dst}, "different families"},
		{"multicast host", ns, portmap.Config{HostAddr: netip.MustParseAddr("239.1.1.1"), HostPort: 80, Dst: dst}, "multicast"},
		{"loopback host", ns, portmap.Config{HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 80, Dst: dst}, "loopback"},
		{"mapped host", ns, portmap.Config{HostAddr: netip.MustParseAddr("::ffff:10.0.0.1"), HostPort: 80, Dst: dst}, "IPv4-mapped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := portmap.Publish(tc.ns, tc.cfg)
			require.Nil(t, m)
			require.ErrorIs(t, err, netnsx.ErrInvalid)
			require.True(t, strings.HasPrefix(err.Error(), "portmap: publish "), err.Error())
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

// A closed namespace is refused, and so is Remove on it.
func TestIntegrationClosedNamespace(t *testing.T) {
	l := newLab(t, true)
	m, err := portmap.Publish(l.host, portmap.Config{HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.NoError(t, err)
	h, err := netnsx.Open(l.host.Name())
	require.NoError(t, err)
	require.NoError(t, h.Close())
	_, err = portmap.Publish(h, portmap.Config{HostPort: 8081, Dst: addrPort("172.17.0.2:80")})
	require.ErrorIs(t, err, netnsx.ErrClosed)
	require.NoError(t, m.Remove())
	require.NotContains(t, tables(t, l.host), "ip "+m.Table())
}

// hello serves msg to every connection on addr in ns until the test ends.
func hello(t *testing.T, ns *netnsx.NS, addr, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ln, err := ns.Listen(ctx, "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(msg))
			_ = c.Close()
		}
	}()
}

func fetch(t *testing.T, ns *netnsx.NS, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ns.Dial(ctx, "tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return string(b)
}

// Only traffic for the namespace's own addresses is published: traffic it routes on
// to the container's own port 8080 passes untouched.
func TestIntegrationRoutedTrafficUntouched(t *testing.T) {
	l := newLab(t, true)
	require.NoError(t, l.outside.AddRoute(netnsx.Route{Dst: pfx("172.17.0.0/16"), Gateway: netip.MustParseAddr("10.30.0.1")}))
	hello(t, l.container, "172.17.0.2:80", "port 80")
	hello(t, l.container, "172.17.0.2:8080", "port 8080")
	for _, host := range []netip.Addr{{}, netip.MustParseAddr("10.30.0.1")} {
		m, err := portmap.Publish(l.host, portmap.Config{HostAddr: host, HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
		require.NoError(t, err)
		require.Equal(t, "port 80", fetch(t, l.outside, "10.30.0.1:8080"), "published")
		require.Equal(t, "port 8080", fetch(t, l.outside, "172.17.0.2:8080"), "routed, untouched")
		require.Equal(t, "port 8080", fetch(t, l.host, "172.17.0.2:8080"), "the host's own, to the container, untouched")
		require.NoError(t, m.Remove())
	}
	// A HostAddr that is not the host's (here the container's) catches nothing routed.
	m, err := portmap.Publish(l.host, portmap.Config{HostAddr: netip.MustParseAddr("172.17.0.2"), HostPort: 8080, Dst: addrPort("172.17.0.2:80")})
	require.NoError(t, err)
	require.Equal(t, "port 8080", fetch(t, l.outside, "172.17.0.2:8080"), "routed, untouched")
	require.NoError(t, m.Remove())
}
