package safety_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

var (
	badIf = []string{"", "a\x00b", "new\nline", "a/b", "a:b", "a b", "tab\t", "ethé", "0123456789abcdef", ".", "..", "eth%d"}
	pfx   = netip.MustParsePrefix
	addr  = netip.MustParseAddr
	mac   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	mcast = net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 0x01}
)

// refusedNSNames returns namespace names New must refuse, each made unique to the test with u where the
// name can hold it, so that finding one of them is proof of a leak whatever else runs.
func refusedNSNames(u string) []string {
	return []string{"", "../" + u, u + "/b", "/" + u, u + "\x00", u + "\nline", " " + u, u + "é", u + strings.Repeat("x", 256), ".", ".."}
}

// ifNames returns n interface names that only this test uses, for the objects the
// hostile calls try to make: if one turns up in the host, a refused call reached it.
func ifNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = netnsxtest.Name(15)
	}
	return out
}

// requireNotMade checks that none of the test's own names reached /run/netns (or, by a
// path escape, anywhere near it) or the host's links. It looks up only these names:
// other tests and jobs make and remove namespaces and host links at the same time.
func requireNotMade(t *testing.T, nsNames, links []string) {
	t.Helper()
	for _, n := range nsNames {
		if n == "" || n == "." || n == ".." {
			continue // /run/netns and /run themselves
		}
		p := filepath.Join("/run/netns", n)
		_, err := os.Lstat(p)
		require.Error(t, err, "a refused name made %q", p)
	}
	var host []struct {
		Ifname string `json:"ifname"`
	}
	iptest.Run(t, &host, "ip", "-j", "link", "show")
	for _, l := range host {
		require.NotContains(t, links, l.Ifname, "a refused call made a link in the host")
	}
}

// state is what ip and bridge show of the test's own namespaces — everything a call
// could change there, less what the kernel changes by itself (IPv6 link-local
// addresses finishing DAD, learned neighbours and FDB entries). It never looks at the
// host or at /run/netns as a whole: other jobs change those at any time.
func state(t *testing.T, nss ...*netnsx.NS) string {
	var b strings.Builder
	for _, ns := range nss {
		for name, l := range iptest.Links(t, ns.Name()) {
			fmt.Fprintln(&b, name, l.Linkinfo.InfoKind, l.MTU, l.Address, l.Master, l.Linkinfo.InfoData["id"])
			for _, a := range l.AddrInfo {
				if !strings.HasPrefix(a.Local, "fe80:") {
					fmt.Fprintln(&b, " ", a.Local, a.Prefixlen)
				}
			}
		}
		for _, fam := range []string{"4", "6"} {
			for _, r := range iptest.Routes(t, ns.Name(), fam) {
				if !strings.HasPrefix(r.Dst, "fe80:") {
					fmt.Fprintln(&b, r.Dst, r.Gateway, r.Dev)
				}
			}
		}
		var neigh []struct {
			Dst, Dev, Lladdr string
			State            []string
		}
		iptest.Run(t, &neigh, "ip", "-n", ns.Name(), "-j", "neigh")
		for _, n := range neigh {
			if len(n.State) == 1 && n.State[0] == "PERMANENT" {
				fmt.Fprintln(&b, n.Dst, n.Dev, n.Lladdr)
			}
		}
		for _, e := range iptest.FDBs(t, ns.Name()) {
			if e.State == "permanent" || e.State == "static" {
				fmt.Fprintln(&b, e.MAC, e.Dev, e.Master, e.Dst, e.State)
			}
		}
	}
	lines := strings.Split(b.String(), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestIntegrationHostileInput hands every exported call bad names, addresses, MACs,
// MTUs, VNIs, family mismatches, wrong masters and closed, deleted or nil handles. Each
// must fail with the sentinel that tells the truth, never panic, and change nothing in
// the test's namespaces; none of the names it tries may turn up in /run/netns or in
// the host.
func TestIntegrationHostileInput(t *testing.T) {
	ns, other := netnsxtest.New(t, "hostile"), netnsxtest.New(t, "other")
	badNS := refusedNSNames(netnsxtest.Name(0))
	made := ifNames(4)
	x0, x1, br9, vx1 := made[0], made[1], made[2], made[3]
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	brOther, err := bridge.Create(other, bridge.Config{Name: "br1"})
	require.NoError(t, err)
	pair, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "eth0", Addrs: []netip.Prefix{pfx("10.0.0.1/24")}}, B: veth.End{NS: other, Name: "eth0"}})
	require.NoError(t, err)
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 1, Underlay: "eth0", Local: addr("10.0.0.1")})
	require.NoError(t, err)
	lo, err := ns.Link("lo")
	require.NoError(t, err)
	closed, err := netnsx.Open(ns.Name())
	require.NoError(t, err)
	closedLo, err := closed.Link("lo")
	require.NoError(t, err)
	require.NoError(t, closed.Close())
	var nilNS *netnsx.NS // never the host: every call on it is refused
	var nilLink *netnsx.Link
	var nilBridge *bridge.Bridge
	var nilDev *vxlan.Device
	var nilPair *veth.Pair
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	before := state(t, ns, other)

	type call struct {
		name string
		err  error
		want []error
	}
	inv := []error{netnsx.ErrInvalid}
	calls := []call{}
	add := func(name string, err error, want ...error) {
		if len(want) == 0 {
			want = inv
		}
		calls = append(calls, call{name, err, want})
	}
	for _, n := range badNS {
		_, err := netnsx.New(n)
		add(fmt.Sprintf("New(%q)", n), err)
		_, err = netnsx.Open(n)
		add(fmt.Sprintf("Open(%q)", n), err)
		add(fmt.Sprintf("Delete(%q)", n), netnsx.Delete(n))
	}
	for _, n := range badIf {
		_, err := ns.Link(n)
		add(fmt.Sprintf("Link(%q)", n), err)
		_, err = bridge.Create(ns, bridge.Config{Name: n})
		add(fmt.Sprintf("bridge.Create(%q)", n), err)
		_, err = bridge.Open(ns, n)
		add(fmt.Sprintf("bridge.Open(%q)", n), err)
		_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0}, B: veth.End{NS: ns, Name: n}})
		add(fmt.Sprintf("veth.Create(B %q)", n), err)
		_, err = vxlan.Create(ns, vxlan.Config{Name: n, VNI: 2})
		add(fmt.Sprintf("vxlan.Create(%q)", n), err)
		if n != "" { // "" is a valid Underlay: none
			_, err = vxlan.Create(ns, vxlan.Config{Name: vx1, VNI: 2, Underlay: n})
			add(fmt.Sprintf("vxlan.Create(Underlay %q)", n), err)
		}
		_, err = ns.StartCapture(n, &bytes.Buffer{})
		add(fmt.Sprintf("StartCapture(%q)", n), err)
		add(fmt.Sprintf("AddRoute(Dev %q)", n), ns.AddRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Dev: n}))
	}
	for _, p := range []netip.Prefix{{}, pfx("0.0.0.0/8"), pfx("::/64"), pfx("224.0.0.1/24"), pfx("ff02::1/64"), pfx("::ffff:1.2.3.4/96")} {
		add(fmt.Sprintf("AddAddr(%v)", p), lo.AddAddr(p))
		_, err := bridge.Create(ns, bridge.Config{Name: br9, Addrs: []netip.Prefix{p}})
		add(fmt.Sprintf("bridge.Create(Addrs %v)", p), err)
		_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0, Addrs: []netip.Prefix{p}}, B: veth.End{NS: other, Name: x1}})
		add(fmt.Sprintf("veth.Create(Addrs %v)", p), err)
	}
	for _, m := range []net.HardwareAddr{{}, {2, 0, 0}, {0, 0, 0, 0, 0, 0}, mcast, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		_, err := bridge.Create(ns, bridge.Config{Name: br9, HardwareAddr: m})
		add(fmt.Sprintf("bridge.Create(MAC %v)", m), err)
		_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0, HardwareAddr: m}, B: veth.End{NS: other, Name: x1}})
		add(fmt.Sprintf("veth.Create(MAC %v)", m), err)
		add(fmt.Sprintf("AddNeighbor(MAC %v)", m), lo.AddNeighbor(addr("10.0.0.9"), m))
		add(fmt.Sprintf("AddFDB(MAC %v)", m), dev.AddFDB(m, addr("10.0.0.2")))
	}
	for _, mtu := range []int{-1, 1, 67, 65536, 1 << 31} {
		add(fmt.Sprintf("SetMTU(%d)", mtu), lo.SetMTU(mtu))
		_, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0}, B: veth.End{NS: other, Name: x1}, MTU: mtu})
		add(fmt.Sprintf("veth.Create(MTU %d)", mtu), err)
		_, err = bridge.Create(ns, bridge.Config{Name: br9, MTU: mtu})
		add(fmt.Sprintf("bridge.Create(MTU %d)", mtu), err)
	}
	add("SetMTU(0)", lo.SetMTU(0))
	for _, cfg := range []vxlan.Config{
		{Name: vx1, VNI: 1 << 24}, {Name: vx1, VNI: ^uint32(0)},
		{Name: vx1, Group: addr("239.1.1.1")}, {Name: vx1, Group: addr("10.0.0.1"), Underlay: "eth0"},
		{Name: vx1, Local: addr("224.0.0.1")}, {Name: vx1, Local: addr("::")},
		{Name: vx1, Local: addr("10.0.0.1"), Group: addr("ff05::1"), Underlay: "eth0"},
		{Name: vx1, Master: lo}, {Name: vx1, Master: brOther.Link},
	} {
		_, err := vxlan.Create(ns, cfg)
		add(fmt.Sprintf("vxlan.Create(%+v)", cfg), err)
	}
	for _, v := range []netip.Addr{{}, addr("0.0.0.0"), addr("239.1.1.1"), addr("fd00::2"), addr("::ffff:10.0.0.2")} {
		add(fmt.Sprintf("AddRemote(%v)", v), dev.AddRemote(v))
		add(fmt.Sprintf("RemoveRemote(%v)", v), dev.RemoveRemote(v))
		add(fmt.Sprintf("SetRemotes(%v)", v), dev.SetRemotes([]netip.Addr{addr("10.0.0.2"), v}))
		add(fmt.Sprintf("AddFDB(VTEP %v)", v), dev.AddFDB(mac, v))
		_, err := ns.Ping(ctx, v)
		if v.Is4() && !v.IsUnspecified() && !v.IsMulticast() || v == addr("fd00::2") {
			continue // valid destinations
		}
		add(fmt.Sprintf("Ping(%v)", v), err)
	}
	for _, ip := range []netip.Addr{{}, addr("0.0.0.0"), addr("224.0.0.1"), addr("::ffff:1.2.3.4")} {
		add(fmt.Sprintf("AddNeighbor(%v)", ip), lo.AddNeighbor(ip, mac))
		add(fmt.Sprintf("RemoveNeighbor(%v)", ip), lo.RemoveNeighbor(ip))
	}
	// Masters that are not bridges, or live elsewhere; ports elsewhere.
	add("SetMaster(lo)", pair.A.SetMaster(lo))
	add("SetMaster(bridge elsewhere)", pair.A.SetMaster(brOther.Link))
	add("Attach(port elsewhere)", br.Attach(pair.B))
	add("Attach(nil)", br.Attach(nil))
	_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0, Master: brOther.Link}, B: veth.End{NS: other, Name: x1}})
	add("veth.Create(master elsewhere)", err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0, Master: lo}, B: veth.End{NS: other, Name: x1}})
	add("veth.Create(master not a bridge)", err)
	_, err = bridge.Open(ns, "eth0")
	add("bridge.Open(a veth)", err)
	_, err = vxlan.Open(ns, "br0")
	add("vxlan.Open(a bridge)", err)
	// What exists or does not is said as such.
	_, err = bridge.Create(ns, bridge.Config{Name: "br0"})
	add("bridge.Create(taken)", err, netnsx.ErrExists)
	_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: "eth0"}, B: veth.End{NS: other, Name: x1}})
	add("veth.Create(taken)", err, netnsx.ErrExists)
	_, err = vxlan.Create(ns, vxlan.Config{Name: "vxlan0"})
	add("vxlan.Create(taken)", err, netnsx.ErrExists)
	_, err = vxlan.Create(ns, vxlan.Config{Name: vx1, Underlay: "eth9"})
	add("vxlan.Create(no underlay)", err, netnsx.ErrNotFound)
	_, err = netnsx.OpenPath("/nonexistent/netns")
	add("OpenPath(missing)", err, netnsx.ErrNotFound)
	_, err = netnsx.OpenPath("/etc/hostname")
	add("OpenPath(not a namespace)", err)
	_, err = netnsx.OpenPath("relative")
	add("OpenPath(relative)", err)
	_, err = ns.StartCapture("eth9", &bytes.Buffer{})
	add("StartCapture(missing)", err, netnsx.ErrNotFound)
	_, err = ns.StartCapture("eth0", nil)
	add("StartCapture(nil writer)", err)
	_, err = ns.PingStats(ctx, addr("10.0.0.2"), 0, 0)
	add("PingStats(count 0)", err)
	for _, key := range []string{"", "kernel.hostname", "net/ipv4/ip_forward", "net..x", "net.ipv4.ip_forward\n"} {
		add(fmt.Sprintf("SetSysctl(%q)", key), ns.SetSysctl(key, "1"))
	}
	add("SetSysctl(value with newline)", ns.SetSysctl("net.ipv4.ip_forward", "1\n0"))
	_, err = ns.Sysctl("net.ipv4.no_such_setting")
	add("Sysctl(unknown)", err, netnsx.ErrNotFound)
	// Closed, nil and deleted handles.
	add("Do(nil)", nilNS.Do(nil))
	add("Start(nil)", ns.Start(nil))
	add("nil NS Delete", nilNS.Delete())
	_, err = closed.Links()
	add("closed Links", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	add("closed Do", closed.Do(func() error { return nil }), netnsx.ErrInvalid, netnsx.ErrClosed)
	add("closed link Up", closedLo.Up(), netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = bridge.Create(closed, bridge.Config{Name: br9})
	add("bridge.Create(closed)", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = veth.Create(veth.Config{A: veth.End{NS: closed, Name: x0}, B: veth.End{NS: other, Name: x1}})
	add("veth.Create(closed)", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = vxlan.Create(closed, vxlan.Config{Name: vx1})
	add("vxlan.Create(closed)", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = closed.Dial(ctx, "tcp", "10.0.0.2:1")
	add("closed Dial", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = closed.Listen(ctx, "tcp", ":0")
	add("closed Listen", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	add("closed Run", closed.Run(exec.Command("true")), netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = closed.Ping(ctx, addr("127.0.0.1"))
	add("closed Ping", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = netnsx.Inspect(closed)
	add("Inspect(closed)", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	add("nil link Up", nilLink.Up())
	add("nil link Delete", nilLink.Delete())
	add("nil bridge Attach", nilBridge.Attach(lo))
	_, err = nilBridge.FDB()
	add("nil bridge FDB", err)
	_, err = nilBridge.Ports()
	add("nil bridge Ports", err)
	add("nil device AddRemote", nilDev.AddRemote(addr("10.0.0.2")))
	add("nil device AddNeighbor", nilDev.AddNeighbor(addr("10.0.0.2"), mac))
	_, err = nilDev.Remotes()
	add("nil device Remotes", err)
	add("nil pair Delete", nilPair.Delete())
	// A nil namespace is never the host: each constructor and call refuses it.
	_, err = nilNS.Links()
	add("nil NS Links", err)
	_, err = nilNS.Link("lo")
	add("nil NS Link", err)
	_, err = nilNS.Routes()
	add("nil NS Routes", err)
	add("nil NS AddRoute", nilNS.AddRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Dev: "lo"}))
	add("nil NS Do", nilNS.Do(func() error { return nil }))
	add("nil NS Run", nilNS.Run(exec.Command("true")))
	_, err = nilNS.Dial(ctx, "tcp", "127.0.0.1:1")
	add("nil NS Dial", err)
	_, err = nilNS.Listen(ctx, "tcp", "127.0.0.1:0")
	add("nil NS Listen", err)
	_, err = nilNS.ListenPacket(ctx, "udp", "127.0.0.1:0")
	add("nil NS ListenPacket", err)
	_, err = nilNS.Ping(ctx, addr("127.0.0.1"))
	add("nil NS Ping", err)
	_, err = nilNS.StartCapture("lo", &bytes.Buffer{})
	add("nil NS StartCapture", err)
	_, err = nilNS.Sysctl("net.ipv4.ip_forward")
	add("nil NS Sysctl", err)
	add("nil NS SetSysctl", nilNS.SetSysctl("net.ipv4.ip_forward", "1"))
	add("DeleteAll(nil)", netnsx.DeleteAll(nilNS))
	_, err = netnsx.Inspect(nilNS)
	add("Inspect(nil)", err)
	_, err = bridge.Create(nilNS, bridge.Config{Name: br9})
	add("bridge.Create(nil NS)", err)
	_, err = bridge.Open(nilNS, "br0")
	add("bridge.Open(nil NS)", err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: nilNS, Name: x0}, B: veth.End{NS: other, Name: x1}})
	add("veth.Create(A nil NS)", err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0}, B: veth.End{NS: nilNS, Name: x1}})
	add("veth.Create(B nil NS)", err)
	_, err = vxlan.Create(nilNS, vxlan.Config{Name: vx1, VNI: 3})
	add("vxlan.Create(nil NS)", err)
	_, err = vxlan.Open(nilNS, "vxlan0")
	add("vxlan.Open(nil NS)", err)
	// IPv4-mapped IPv6 addresses, which the kernel would take as something else.
	mapped := addr("::ffff:239.1.1.1")
	_, err = vxlan.Create(ns, vxlan.Config{Name: vx1, VNI: 3, Group: mapped, Underlay: "eth0"})
	add("vxlan.Create(Group ::ffff:239.1.1.1)", err)
	_, err = vxlan.Create(ns, vxlan.Config{Name: vx1, VNI: 3, Local: addr("::ffff:10.0.0.1")})
	add("vxlan.Create(Local mapped)", err)
	add("AddRemote(mapped)", dev.AddRemote(addr("::ffff:10.0.0.2")))
	add("AddFDB(mapped)", dev.AddFDB(mac, addr("::ffff:10.0.0.2")))
	add("AddNeighbor(mapped)", dev.AddNeighbor(addr("::ffff:10.0.0.2"), mac))
	add("SetRemotes(mapped)", dev.SetRemotes([]netip.Addr{addr("10.0.0.2"), addr("::ffff:10.0.0.3")}))
	// Bridges as ports, and a port already gone: nothing attached at all.
	add("Attach(bridge to itself)", br.Attach(br.Link))
	add("SetMaster(bridge to itself)", br.SetMaster(br.Link))
	gone, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0}, B: veth.End{NS: ns, Name: x1}})
	require.NoError(t, err)
	require.NoError(t, gone.Delete())
	live, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "lv0"}, B: veth.End{NS: ns, Name: "lv1"}})
	require.NoError(t, err)
	add("Attach(live, deleted)", br.Attach(live.A, gone.A), netnsx.ErrNotFound)
	ports, err := br.Ports()
	require.NoError(t, err)
	for _, p := range ports {
		require.NotEqual(t, "lv0", p.Name(), "Attach left the live port attached")
	}
	require.NoError(t, live.Delete())
	// Links and routes changed in place (issue 16): refused whole, or told what is there.
	for _, n := range badIf {
		add(fmt.Sprintf("SetName(%q)", n), pair.A.SetName(n))
		add(fmt.Sprintf("ReplaceRoute(Dev %q)", n), ns.ReplaceRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Dev: n}))
		add(fmt.Sprintf("DeleteRoute(Dev %q)", n), ns.DeleteRoute(netnsx.Route{Dst: pfx("10.0.0.0/24"), Dev: n}))
	}
	for _, p := range []netip.Prefix{{}, pfx("0.0.0.0/8"), pfx("::/64"), pfx("224.0.0.1/24"), pfx("::ffff:10.0.0.1/120")} {
		add(fmt.Sprintf("RemoveAddr(%v)", p), pair.A.RemoveAddr(p))
	}
	for _, m := range []net.HardwareAddr{nil, {}, {2, 0, 0}, {0, 0, 0, 0, 0, 0}, mcast, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		add(fmt.Sprintf("SetHardwareAddr(%v)", m), pair.A.SetHardwareAddr(m))
	}
	for _, r := range []netnsx.Route{
		{Dst: pfx("10.9.0.0/16"), Dev: "eth0", Table: -1}, {Dst: pfx("10.9.0.0/16"), Dev: "eth0", Table: 1 << 32},
		{Dst: pfx("10.9.0.0/16"), Dev: "eth0", Metric: -1}, {Dst: pfx("10.9.0.0/16"), Dev: "eth0", Metric: 1 << 32},
		{Dst: pfx("10.9.0.0/16"), Gateway: addr("fd00::1")}, {Dst: pfx("::ffff:10.9.0.0/112"), Dev: "eth0"},
	} {
		add(fmt.Sprintf("ReplaceRoute(%+v)", r), ns.ReplaceRoute(r))
		add(fmt.Sprintf("DeleteRoute(%+v)", r), ns.DeleteRoute(r))
	}
	_, err = ns.RoutesIn(-1)
	add("RoutesIn(-1)", err)
	add("SetNS(nil)", pair.A.SetNS(nilNS))
	add("SetNS(closed)", pair.A.SetNS(closed), netnsx.ErrInvalid, netnsx.ErrClosed)
	add("SetNS(name taken there)", pair.A.SetNS(other), netnsx.ErrExists)
	add("SetNS(bridge)", br.SetNS(other))
	add("SetName(taken)", pair.A.SetName("lo"), netnsx.ErrExists)
	add("RemoveAddr(not there)", pair.A.RemoveAddr(pfx("10.0.0.1/16")), netnsx.ErrNotFound)
	add("DeleteRoute(not there)", ns.DeleteRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Dev: "eth0"}), netnsx.ErrNotFound)
	add("closed link SetName", closedLo.SetName(x0), netnsx.ErrInvalid, netnsx.ErrClosed)
	add("closed link NoMaster", closedLo.NoMaster(), netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = closedLo.Stats()
	add("closed link Stats", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	_, err = closed.Output(ctx, "true")
	add("closed Output", err, netnsx.ErrInvalid, netnsx.ErrClosed)
	add("nil link SetNS", nilLink.SetNS(other))
	add("nil link RemoveAddr", nilLink.RemoveAddr(pfx("10.0.0.1/24")))
	_, err = nilLink.Stats()
	add("nil link Stats", err)
	add("nil NS ReplaceRoute", nilNS.ReplaceRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Dev: "lo"}))
	add("nil NS DeleteRoute", nilNS.DeleteRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Dev: "lo"}))
	_, err = nilNS.RoutesIn(0)
	add("nil NS RoutesIn", err)
	_, err = nilNS.Output(ctx, "true")
	add("nil NS Output", err)
	_, err = ns.Output(ctx, "")
	add("Output(empty name)", err)
	// Settings that are directories, and sockets with zones of no interface here.
	_, err = ns.Sysctl("net.ipv4")
	add("Sysctl(directory)", err)
	add("SetSysctl(directory)", ns.SetSysctl("net.ipv4", "1"))
	_, err = ns.Ping(ctx, addr("fe80::1%"+x0))
	add("Ping(zone of no link here)", err, netnsx.ErrNotFound)
	_, err = ns.Listen(ctx, "tcp6", "[fe80::1%"+x0+"]:9000")
	add("Listen(zone of no link here)", err, netnsx.ErrNotFound)
	_, err = ns.Dial(ctx, "tcp6", "[fe80::1%"+x0+"]:9000")
	add("Dial(zone of no link here)", err, netnsx.ErrNotFound)
	_, err = ns.Listen(ctx, "tcp", "10.9.9.9:80")
	add("Listen(address not here)", err)
	_, err = ns.Dial(ctx, "nosuchnet", "10.0.0.2:1")
	add("Dial(unknown network)", err)
	// Paths that are no namespace, among them a FIFO, which must not block.
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	_, err = netnsx.OpenPath(fifo)
	add("OpenPath(fifo)", err)
	_, err = netnsx.OpenPath("/proc/self/ns/mnt")
	add("OpenPath(mount namespace)", err)
	_, err = netnsx.OpenPath("relative/path")
	add("OpenPath(relative)", err)

	require.Equal(t, before, state(t, ns, other), "a refused call changed something")
	requireNotMade(t, badNS, made)
	var refused []call
	for _, c := range calls { // the calls ran above; here their answers are checked
		for _, w := range c.want {
			if !errors.Is(c.err, w) {
				t.Errorf("%s = %v, want %v", c.name, c.err, w)
			}
		}
		refused = append(refused, c)
	}
	t.Logf("%d hostile calls refused", len(refused))
}

// TestIntegrationHostileInputChangesNothing repeats the name attacks in a namespace of
// their own, bracketed by two looks at it.
func TestIntegrationHostileInputChangesNothing(t *testing.T) {
	ns := netnsxtest.New(t, "hostile")
	badNS := refusedNSNames(netnsxtest.Name(0))
	made := ifNames(2)
	x0, x1 := made[0], made[1]
	before := state(t, ns)
	for _, n := range badIf {
		_, _ = bridge.Create(ns, bridge.Config{Name: n})
		_, _ = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0}, B: veth.End{NS: ns, Name: n}})
		_, _ = vxlan.Create(ns, vxlan.Config{Name: n})
	}
	for _, n := range badNS {
		_, _ = netnsx.New(n)
		_ = netnsx.Delete(n)
	}
	_, _ = veth.Create(veth.Config{A: veth.End{NS: ns, Name: x0}, B: veth.End{NS: ns, Name: x1}, MTU: 70000})
	_, _ = vxlan.Create(ns, vxlan.Config{Name: x0, VNI: 1 << 24})
	require.Equal(t, before, state(t, ns))
	requireNotMade(t, badNS, made)
}

// TestIntegrationDeleteInUse: deleting a namespace a process still uses removes the
// name only, as `ip netns del` does; the process keeps its network.
func TestIntegrationDeleteInUse(t *testing.T) {
	ns := netnsxtest.New(t)
	cmd := exec.Command("sleep", "30")
	require.NoError(t, ns.Start(cmd))
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := inode(ns.Path())
	name := ns.Name()
	require.NoError(t, ns.Delete())
	require.NotContains(t, iptest.Netns(t), name)
	require.Equal(t, want, inode(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)), "the process is still in its namespace")
	opened, err := netnsx.OpenPath(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	require.NoError(t, err)
	defer opened.Close()
	links, err := opened.Links()
	require.NoError(t, err)
	require.Equal(t, "lo", links[0].Name())
}
