package fault_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

var (
	clientAddr = netip.MustParsePrefix("10.91.0.1/24")
	serverAddr = netip.MustParsePrefix("10.91.0.2/24")
	clientHost = netip.PrefixFrom(clientAddr.Addr(), 32)
	serverHost = netip.PrefixFrom(serverAddr.Addr(), 32)
)

// topo is two namespaces of the test's own joined by a veth pair, each end called eth0.
type topo struct {
	client, server       *netnsx.NS
	clientEth, serverEth *netnsx.Link
}

func newTopo(t testing.TB) topo {
	t.Helper()
	c, s := netnsxtest.New(t, "client"), netnsxtest.New(t, "server")
	p, err := veth.Create(veth.Config{
		A: veth.End{NS: c, Name: "eth0", Addrs: []netip.Prefix{clientAddr}},
		B: veth.End{NS: s, Name: "eth0", Addrs: []netip.Prefix{serverAddr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete() })
	return topo{client: c, server: s, clientEth: p.A, serverEth: p.B}
}

// serve runs an echo service on the server's port until the test ends.
func (tp topo) serve(t testing.TB, port string) string {
	t.Helper()
	addr := net.JoinHostPort(serverAddr.Addr().String(), port)
	tp.serveAt(t, addr)
	return addr
}

// serveAt runs an echo service on addr inside the server until the test ends.
func (tp topo) serveAt(t testing.TB, addr string) {
	t.Helper()
	l, err := echo.Serve(context.Background(), tp.server, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
}

// dial dials addr from ns with a deadline of d and returns the dial's error.
func dial(ns *netnsx.NS, addr string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c, err := ns.Dial(ctx, "tcp", addr)
	if err == nil {
		_ = c.Close()
	}
	return err
}

// timedOut reports a dial that got no answer at all: dropped, not refused.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// nftRule is what `nft -j list ruleset` says of a rule.
type nftRule struct {
	Family  string           `json:"family"`
	Table   string           `json:"table"`
	Chain   string           `json:"chain"`
	Handle  uint64           `json:"handle"`
	Comment string           `json:"comment"`
	Expr    []map[string]any `json:"expr"`
}

type nftRuleset struct {
	Tables []string
	Chains []string
	Rules  []nftRule
}

// ruleset is `nft -j list ruleset` inside ns: the independent view of the tables.
func ruleset(t *testing.T, ns *netnsx.NS) nftRuleset {
	t.Helper()
	var out struct {
		Nftables []struct {
			Table *struct {
				Family string `json:"family"`
				Name   string `json:"name"`
			} `json:"table"`
			Chain *struct {
				Name string `json:"name"`
			} `json:"chain"`
			Rule *nftRule `json:"rule"`
		} `json:"nftables"`
	}
	nft := iptest.Tool("nft")
	if _, err := exec.LookPath(nft); err != nil {
		t.Fatalf("nft is missing (apt-get install nftables): %v", err)
	}
	iptest.Run(t, &out, "ip", "netns", "exec", ns.Name(), nft, "-j", "list", "ruleset")
	var rs nftRuleset
	for _, o := range out.Nftables {
		switch {
		case o.Table != nil:
			rs.Tables = append(rs.Tables, o.Table.Family+" "+o.Table.Name)
		case o.Chain != nil:
			rs.Chains = append(rs.Chains, o.Chain.Name)
		case o.Rule != nil:
			rs.Rules = append(rs.Rules, *o.Rule)
		}
	}
	return rs
}

func (rs nftRuleset) empty() bool { return len(rs.Tables)+len(rs.Chains)+len(rs.Rules) == 0 }

// udpReach sends n datagrams from one namespace to the other's address and reports how
// many arrived. It waits for stragglers up to 1 s after the last one sent; the count is
// a result, not a timed assertion.
func udpReach(t *testing.T, from, to *netnsx.NS, dst netip.Addr, n, size int) int {
	t.Helper()
	ctx := context.Background()
	pc, err := to.ListenPacket(ctx, "udp", net.JoinHostPort(dst.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	c, err := from.Dial(ctx, "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	got := make(chan int)
	go func() {
		buf := make([]byte, 65536)
		k := 0
		for {
			_ = pc.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				got <- k
				return
			}
			k++
		}
	}()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		_, _ = c.Write(payload) // a refused or dropped datagram is what is measured
		if i%32 == 31 {
			time.Sleep(time.Millisecond) // let the reader keep up: socket-buffer drops are not the rule's
		}
	}
	return <-got
}
