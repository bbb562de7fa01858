package lab_test

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/lab/labtest"
)

// TestIntegrationImpairmentsAndRoutes: each impairment becomes what package fault makes
// — a tbf root qdisc, an nftables loss rule, a link left down — and a route is in the
// node's table, as tc, nft and ip show them.
func TestIntegrationImpairmentsAndRoutes(t *testing.T) {
	s, err := lab.Parse([]byte(`
name: impair
topology:
  defaults: {ipv4only: true}
  nodes:
    a:
      routes: [{dst: 10.9.0.0/16, via: 10.0.0.2}]
    b: {}
  links:
    - endpoints:
        - {node: a, interface: e0, addrs: [10.0.0.1/24]}
        - {node: b, interface: e0, addrs: [10.0.0.2/24], impair: {loss: 30}}
      impair: {rate: 1mbit}
    - endpoints: ["a:e1", "b:e1"]
      impair: {down: true}
`), lab.YAML)
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.New(t, s)
	p := l.Spec().Prefix
	run := func(args ...string) string {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// a's e0 has the link's rate; b's e0 its own loss instead.
	if out := run("ip", "netns", "exec", p+"a", "tc", "-j", "qdisc", "show", "dev", "e0"); !strings.Contains(out, `"kind":"tbf"`) {
		t.Errorf("tc qdisc show dev e0 in a: %s, want tbf", out)
	}
	if out := run("ip", "netns", "exec", p+"b", "tc", "-j", "qdisc", "show", "dev", "e0"); strings.Contains(out, `"kind":"tbf"`) {
		t.Errorf("tc qdisc show dev e0 in b: %s, want no tbf (its own impairment replaces the link's)", out)
	}
	if out := run("ip", "netns", "exec", p+"b", "nft", "-j", "list", "ruleset"); !strings.Contains(out, "10.0.0.0") || !strings.Contains(out, `"drop"`) {
		t.Errorf("nft list ruleset in b: %s, want a drop rule for 10.0.0.0/24", out)
	}
	for _, n := range []string{"a", "b"} {
		if lk, err := l.Link(n, "e1"); err != nil {
			t.Error(err)
		} else if out := run("ip", "-j", "-n", p+n, "link", "show", "e1"); !strings.Contains(out, `"operstate":"DOWN"`) {
			t.Errorf("%s:%s: %s, want DOWN", n, lk.Name(), out)
		}
	}
	var routes []struct {
		Dst     string `json:"dst"`
		Gateway string `json:"gateway"`
	}
	ipJSON(t, p+"a", &routes, "route")
	found := false
	for _, r := range routes {
		found = found || (r.Dst == "10.9.0.0/16" && r.Gateway == "10.0.0.2")
	}
	if !found {
		t.Errorf("ip -j route in a: %+v, want 10.9.0.0/16 via 10.0.0.2", routes)
	}
	// 30% of b's replies are lost, so the path works but leaks: of ten echoes some are
	// answered (all ten lost: a chance of 6e-6).
	a, _ := l.Node("a")
	st, err := a.PingStats(ctxT(t), netip.MustParseAddr("10.0.0.2"), 10, 10*time.Millisecond)
	if err != nil || st.Received == 0 {
		t.Errorf("ping over the lossy link: %+v, %v; want some replies", st, err)
	}
	t.Logf("ping over a link losing 30%%: %d of %d answered", st.Received, st.Sent)
}
