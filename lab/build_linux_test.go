package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/lab/labtest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// ipJSON runs `ip -j -n NS args...` and decodes its output.
func ipJSON(t *testing.T, ns string, v any, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-j", "-n", ns}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip -j -n %s %s: %v", ns, strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ip -j -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
}

type ipAddr struct {
	IfName   string `json:"ifname"`
	Master   string `json:"master"`
	MTU      int    `json:"mtu"`
	AddrInfo []struct {
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// ipAddrs returns `ip -j addr` of a namespace as "ifname addr/len" lines.
func ipAddrs(t *testing.T, ns string) map[string]ipAddr {
	var links []ipAddr
	ipJSON(t, ns, &links, "addr")
	m := map[string]ipAddr{}
	for _, l := range links {
		m[l.IfName] = l
	}
	return m
}

func hasAddr(l ipAddr, p string) bool {
	for _, a := range l.AddrInfo {
		if netip.PrefixFrom(netip.MustParseAddr(a.Local), a.PrefixLen).String() == p {
			return true
		}
	}
	return false
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestIntegrationArticleLocal builds the article's bridge topology from its file: br0
// has 172.16.1.1/16 (as `ip -j addr` shows), container-1 reaches container-2 across it.
func TestIntegrationArticleLocal(t *testing.T) {
	s := load(t, "article-local.yaml")
	l := labtest.New(t, s)
	p := l.Spec().Prefix
	br := ipAddrs(t, p+"host")["br0"]
	if !hasAddr(br, "172.16.1.1/16") {
		t.Errorf("ip -j addr in %shost: br0 = %+v, want 172.16.1.1/16", p, br)
	}
	if v := ipAddrs(t, p+"host")["veth1"]; v.Master != "br0" {
		t.Errorf("veth1's master = %q, want br0", v.Master)
	}
	if e := ipAddrs(t, p+"container-2")["eth0"]; !hasAddr(e, "172.16.1.3/16") {
		t.Errorf("container-2's eth0 = %+v, want 172.16.1.3/16", e)
	}
	c1, err := l.Node("container-1")
	if err != nil {
		t.Fatal(err)
	}
	netnsxtest.RequireReachable(t, c1, netip.MustParseAddr("172.16.1.3"), netip.MustParseAddr("172.16.1.1"))
	r, err := l.PingAll(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// from each of 3 nodes, every address of the two others: 2+2+2 pings
	if len(r.Results) != 6 || r.Lost() != 0 {
		t.Errorf("PingAll:\n%v", r)
	}
}

// TestIntegrationArticleVXLAN: host1 reaches host2's 192.168.200.2 over vxlan0, and the
// device is what the article made by hand (VNI 42, dstport 8472, on eth0).
func TestIntegrationArticleVXLAN(t *testing.T) {
	l := labtest.New(t, load(t, "article-vxlan.yaml"))
	p := l.Spec().Prefix
	var links []struct {
		IfName   string `json:"ifname"`
		LinkInfo struct {
			Kind string `json:"info_kind"`
			Data struct {
				ID   int    `json:"id"`
				Port int    `json:"port"`
				Link string `json:"link"`
			} `json:"info_data"`
		} `json:"linkinfo"`
	}
	ipJSON(t, p+"host1", &links, "-d", "link", "show", "vxlan0")
	if len(links) != 1 || links[0].LinkInfo.Kind != "vxlan" || links[0].LinkInfo.Data.ID != 42 || links[0].LinkInfo.Data.Port != 8472 || links[0].LinkInfo.Data.Link != "eth0" {
		t.Errorf("ip -d link show vxlan0 = %+v", links)
	}
	h1, err := l.Node("host1")
	if err != nil {
		t.Fatal(err)
	}
	netnsxtest.RequireReachable(t, h1, netip.MustParseAddr("192.168.200.2"))
}

// TestIntegrationSwarm: a container on swarm02 reaches the one on swarm00 across the
// overlay, and every container every other (PingAll).
func TestIntegrationSwarm(t *testing.T) {
	l := labtest.New(t, load(t, "swarm.yaml"))
	p := l.Spec().Prefix
	if v := ipAddrs(t, p+"swarm00")["vxlan0"]; v.Master != "br0" {
		t.Errorf("vxlan0's master = %q, want br0", v.Master)
	}
	c, err := l.Node("c-swarm02")
	if err != nil {
		t.Fatal(err)
	}
	netnsxtest.RequireReachable(t, c, netip.MustParseAddr("10.200.0.2"))
	r, err := l.PingAll(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// The containers reach each other; the hosts' underlay is another network.
	containers := 0
	for _, p := range r.Results {
		if strings.HasPrefix(p.From, "c-") && strings.HasPrefix(p.To, "c-") {
			containers++
			if p.Err != nil {
				t.Errorf("%s -> %s %s: %v", p.From, p.To, p.Addr, p.Err)
			}
		}
	}
	if containers != 6 {
		t.Errorf("PingAll pinged %d container addresses from containers, want 6:\n%v", containers, r)
	}
}

// prefixed returns a copy of s under a fresh prefix.
func prefixed(s *lab.Spec) *lab.Spec {
	c := *s
	c.Prefix = netnsxtest.Name(0) + "-"
	return &c
}

// leftovers returns the namespaces of s that exist.
func leftovers(t *testing.T, s *lab.Spec) []string {
	t.Helper()
	var left []string
	for _, n := range s.Namespaces() {
		if _, err := os.Lstat(filepath.Join("/run/netns", n)); err == nil {
			left = append(left, n)
		}
	}
	return left
}

// TestIntegrationBuildRefusesTakenNames: a lab one of whose names is taken is refused
// with ErrExists before anything is made, and the namespace that was there is untouched.
func TestIntegrationBuildRefusesTakenNames(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	s := prefixed(load(t, "article-local.yaml"))
	taken, err := netnsx.New(s.Prefix + "container-2")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Delete()
	dir := t.TempDir()
	var changes []string
	restore := failpoint.Set(func(op failpoint.Op) error {
		if op.Change() {
			changes = append(changes, op.String())
		}
		return nil
	})
	l, err := lab.Build(ctxT(t), s, &lab.Options{StateDir: dir})
	restore()
	if len(changes) > 0 {
		t.Errorf("a refused Build made kernel calls that change things: %v", changes)
	}
	if !errors.Is(err, netnsx.ErrExists) || !strings.Contains(err.Error(), s.Prefix+"container-2") {
		l.Close()
		t.Fatalf("Build = %v, want ErrExists naming %scontainer-2", err, s.Prefix)
	}
	if left := leftovers(t, s); len(left) != 1 {
		t.Errorf("namespaces after a refused Build: %v, want only the one that was there", left)
	}
	if _, err := taken.Link("lo"); err != nil {
		t.Errorf("the namespace that was there: %v", err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("state files after a refused Build: %v", files)
	}
	// Destroy leaves a namespace it did not make alone, and says so.
	if err := lab.Destroy(s, &lab.Options{StateDir: dir}); !errors.Is(err, netnsx.ErrExists) {
		t.Errorf("Destroy = %v, want ErrExists for the foreign namespace", err)
	}
	if _, err := taken.Link("lo"); err != nil {
		t.Errorf("the namespace that was there, after Destroy: %v", err)
	}
}

// TestIntegrationBuildAllOrNothing fails each kernel call of a Build in turn and checks
// that nothing of the lab remains: no namespace, no state file.
func TestIntegrationBuildAllOrNothing(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	base := load(t, "article-vxlan.yaml")
	base.Topology.Nodes["host1"] = lab.Node{
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
		Bridges: map[string]lab.Bridge{"br0": {Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.1/24")}}},
		Routes:  []lab.Route{{Dst: netip.MustParsePrefix("10.9.0.0/16"), Gateway: netip.MustParseAddr("10.0.0.2")}},
	}
	base.Topology.Links = append(base.Topology.Links, lab.Link{
		Endpoints: [2]lab.Endpoint{{Node: "host1", Interface: "p1", Bridge: "br0"}, {Node: "host2", Interface: "p1", Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")},
			Impair: &lab.Impairment{Loss: 1, Down: true}}},
		Impair: &lab.Impairment{Rate: "10mbit"},
	})
	dir := t.TempDir()
	var s *lab.Spec
	calls, err := failpoint.Walk(func() error {
		s = prefixed(base)
		l, err := lab.Build(context.Background(), s, &lab.Options{StateDir: dir})
		if err == nil {
			return l.Close()
		}
		return err
	}, func(n int, err, injected error) {
		if !errors.Is(err, injected) {
			t.Errorf("call %d failed: Build = %v, want the injected error", n, err)
		}
		if left := leftovers(t, s); len(left) > 0 {
			t.Fatalf("call %d failed: namespaces left: %v", n, left)
		}
		if files, _ := os.ReadDir(dir); len(files) != 0 {
			t.Fatalf("call %d failed: state files left: %v", n, files)
		}
	})
	if err != nil {
		t.Fatalf("Build with no failure: %v", err)
	}
	if calls < 20 {
		t.Errorf("only %d kernel calls failed", calls)
	}
	t.Logf("failed each of %d kernel calls", calls)
}

// TestIntegrationStateDirNotWritable: a state directory Build cannot make or write is
// refused before anything is made, with an error that names Options.StateDir; the
// default one, for a user who may not write it (rootless, after userns.Enter), wraps
// netnsx.ErrPermission.
func TestIntegrationStateDirNotWritable(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	s := prefixed(load(t, "article-local.yaml"))
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lab.Build(ctxT(t), s, &lab.Options{StateDir: filepath.Join(file, "labs")})
	if err == nil {
		l.Close()
		t.Fatal("Build under a regular file succeeded")
	}
	if !strings.Contains(err.Error(), "Options.StateDir") {
		t.Errorf("Build = %v, want it to name Options.StateDir", err)
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Errorf("a refused Build left %v", left)
	}
	t.Run("default", func(t *testing.T) {
		dir := lab.DefaultStateDir // or the nearest of its parents that exists
		for _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist); _, err = os.Stat(dir) {
			dir = filepath.Dir(dir)
		}
		if unix.Access(dir, unix.W_OK) == nil {
			t.Skipf("%s is writable here (run the tests as a user who may not write it)", dir)
		}
		l, err := lab.Build(ctxT(t), s, nil)
		if err == nil {
			l.Close()
			t.Fatal("Build with an unwritable default state directory succeeded")
		}
		if !errors.Is(err, netnsx.ErrPermission) || !strings.Contains(err.Error(), "Options.StateDir") {
			t.Errorf("Build = %v, want ErrPermission naming Options.StateDir", err)
		}
		if left := leftovers(t, s); len(left) > 0 {
			t.Errorf("a refused Build left %v", left)
		}
	})
}
