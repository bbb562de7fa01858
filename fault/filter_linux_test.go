package fault_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nstopo/nstopo/fault"
	"github.com/nstopo/nstopo/fault/faulttest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// The article's incident: the handshake to a service gets RST. A connection open
// before the rule goes on (only SYN without ACK matches), new ones are refused at once,
// the counter says how many, nft shows the rule, and Remove takes it all away.
func TestIntegrationResetHandshakes(t *testing.T) {
	tp := newTopo(t)
	addr := tp.serve(t, "8081")
	netnsxtest.RequireDial(t, tp.client, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open, err := tp.client.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = open.Close() }()

	f, err := fault.ResetHandshakes(tp.server, 8081)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Remove() }()

	for i := 0; i < 3; i++ {
		err := dial(tp.client, addr, 10*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s through a reset rule: %v, want connection refused", addr, err)
		}
	}
	if n, err := f.Packets(); err != nil || n != 3 {
		t.Errorf("rule counter: %d, %v; want the 3 SYNs", n, err)
	}
	// The open connection's segments carry ACK: untouched.
	_ = open.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := open.Write([]byte("still")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := open.Read(buf); err != nil || string(buf) != "still" {
		t.Fatalf("connection opened before the rule: %q, %v", buf, err)
	}

	rs := ruleset(t, tp.server)
	if !slices.Equal(rs.Tables, []string{"inet " + fault.Table}) {
		t.Errorf("nft tables %q, want only inet %s", rs.Tables, fault.Table)
	}
	var handles []uint64
	for _, r := range rs.Rules {
		handles = append(handles, r.Handle)
		if r.Chain != "input" || !strings.HasPrefix(r.Comment, "nstopo ") || !strings.Contains(r.Comment, "dport 8081") {
			t.Errorf("nft rule %+v: want chain input with the library's comment", r)
		}
	}
	if !slices.Equal(handles, f.Handles()) {
		t.Errorf("nft lists rule handles %v, the filter says %v", handles, f.Handles())
	}

	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if rs := ruleset(t, tp.server); !rs.empty() {
		t.Errorf("after Remove nft still lists %+v", rs)
	}
	netnsxtest.RequireDial(t, tp.client, addr)
}

// Drop is silence: the dial times out. Reject with an ICMP error is an answer: "no
// route to host" or "connection refused", at once.
func TestIntegrationVerdicts(t *testing.T) {
	tp := newTopo(t)
	addr := tp.serve(t, "8082")
	for _, tc := range []struct {
		verdict fault.Verdict
		want    func(error) bool
		what    string
	}{
		{fault.Drop, timedOut, "a timeout"},
		{fault.RejectHostUnreachable, func(err error) bool { return errors.Is(err, syscall.EHOSTUNREACH) }, "no route to host"},
		{fault.RejectPortUnreachable, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, "connection refused"},
		{fault.RejectReset, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, "connection refused"},
	} {
		t.Run(tc.verdict.String(), func(t *testing.T) {
			f := faulttest.Add(t, tp.server, fault.Rule{Protocol: fault.TCP, DstPort: 8082, Verdict: tc.verdict})
			err := dial(tp.client, addr, 2*time.Second)
			if !tc.want(err) {
				t.Fatalf("dial through %s: %v, want %s", tc.verdict, err, tc.what)
			}
			if n, err := f.Packets(); err != nil || n == 0 {
				t.Errorf("rule counter %d, %v; want the SYNs counted", n, err)
			}
		})
	}
	// Every subtest's filter went at its cleanup, and the table with the last.
	if rs := ruleset(t, tp.server); !rs.empty() {
		t.Errorf("nft still lists %+v", rs)
	}
	netnsxtest.RequireDial(t, tp.client, addr)
}

// A one-way partition drops client→server and lets server→client through; UDP in both
// directions shows it. Two ways, nothing passes; removed, everything does.
func TestIntegrationPartition(t *testing.T) {
	tp := newTopo(t)
	c, s := clientAddr.Addr(), serverAddr.Addr()
	if n := udpReach(t, tp.client, tp.server, s, 5, 32); n != 5 {
		t.Fatalf("before the partition %d of 5 datagrams arrived", n)
	}

	oneWay, err := fault.Partition(tp.client, clientHost, serverHost, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := udpReach(t, tp.client, tp.server, s, 5, 32); n != 0 {
		t.Errorf("client→server through a one-way partition: %d of 5 arrived, want 0", n)
	}
	if n := udpReach(t, tp.server, tp.client, c, 5, 32); n != 5 {
		t.Errorf("server→client, the open way: %d of 5 arrived, want 5", n)
	}
	if n, err := oneWay.Packets(); err != nil || n != 5 {
		t.Errorf("partition counter %d, %v; want the 5 dropped", n, err)
	}
	if err := oneWay.Remove(); err != nil {
		t.Fatal(err)
	}

	both := faulttest.Partition(t, tp.server, clientAddr.Masked(), serverHost)
	if n := udpReach(t, tp.client, tp.server, s, 5, 32); n != 0 {
		t.Errorf("client→server, partitioned: %d of 5 arrived", n)
	}
	if n := udpReach(t, tp.server, tp.client, c, 5, 32); n != 0 {
		t.Errorf("server→client, partitioned: %d of 5 arrived", n)
	}
	if got := len(ruleset(t, tp.server).Rules); got != len(both.Handles()) {
		t.Errorf("nft lists %d rules, the partition says %d", got, len(both.Handles()))
	}
	if err := both.Remove(); err != nil {
		t.Fatal(err)
	}
	if n := udpReach(t, tp.server, tp.client, c, 5, 32); n != 5 {
		t.Errorf("after Remove: %d of 5 arrived", n)
	}
}

// Remove undoes exactly its own filter: another one in the same table stays, and so
// does the table.
func TestIntegrationRemoveOnlyItsOwn(t *testing.T) {
	tp := newTopo(t)
	a := faulttest.Add(t, tp.server, fault.Rule{Protocol: fault.TCP, DstPort: 1111})
	b := faulttest.Add(t, tp.server, fault.Rule{Direction: fault.Out, Protocol: fault.UDP, SrcPort: 2222})
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	rs := ruleset(t, tp.server)
	if len(rs.Rules) != 1 || rs.Rules[0].Handle != b.Handles()[0] || rs.Rules[0].Chain != "output" {
		t.Fatalf("after removing one of two filters nft lists %+v, want only %v in output", rs.Rules, b.Handles())
	}
	if _, err := a.Counters(); !errors.Is(err, netnsx.ErrNotFound) {
		t.Errorf("counters of a removed filter: %v, want ErrNotFound", err)
	}
}

// Loss drops a random share; the counter says how many, and the rest arrive. The
// measured share is logged, not asserted beyond "some, not all".
func TestIntegrationLoss(t *testing.T) {
	tp := newTopo(t)
	const sent = 400
	f := faulttest.Loss(t, tp.client, 30, fault.Rule{Direction: fault.Out, Protocol: fault.UDP, Dst: serverHost})
	got := udpReach(t, tp.client, tp.server, serverAddr.Addr(), sent, 32)
	dropped, err := f.Packets()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("30%% loss: %d of %d dropped by the rule (%.1f%%), %d arrived", dropped, sent, 100*float64(dropped)/sent, got)
	if dropped == 0 || dropped == sent {
		t.Errorf("the rule dropped %d of %d: not a share", dropped, sent)
	}
	if got > sent-int(dropped) {
		t.Errorf("%d arrived, more than the %d the rule let through", got, sent-int(dropped))
	}
}

// LongerThan drops only what is longer: small datagrams pass, large ones do not.
func TestIntegrationLongerThan(t *testing.T) {
	tp := newTopo(t)
	f := faulttest.Add(t, tp.client, fault.Rule{Direction: fault.Out, Protocol: fault.UDP, Dst: serverHost, LongerThan: 500})
	if n := udpReach(t, tp.client, tp.server, serverAddr.Addr(), 3, 400); n != 3 {
		t.Errorf("428-byte packets: %d of 3 arrived, want all", n)
	}
	if n := udpReach(t, tp.client, tp.server, serverAddr.Addr(), 3, 600); n != 0 {
		t.Errorf("628-byte packets: %d of 3 arrived, want none", n)
	}
	if n, err := f.Packets(); err != nil || n != 3 {
		t.Errorf("counter %d, %v; want the 3 long ones", n, err)
	}
}

// Every bad input is ErrInvalid before any message: nft then lists nothing at all.
func TestIntegrationInvalid(t *testing.T) {
	ns := netnsxtest.New(t, "invalid")
	v4, v6 := netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")
	bad := map[string]func() (fault.Impairment, error){
		"port 65536": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.TCP, DstPort: 65536})
		},
		"negative port": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.UDP, SrcPort: -1})
		},
		"port without protocol": func() (fault.Impairment, error) { return fault.Add(ns, fault.Rule{DstPort: 80}) },
		"families mixed": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Src: v4, Dst: v6})
		},
		"icmp with IPv6": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.ICMP, Dst: v6})
		},
		"icmpv6 with IPv4": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.ICMPv6, Src: v4})
		},
		"invalid prefix": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Dst: netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 33)})
		},
		"mapped prefix": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Dst: netip.MustParsePrefix("::ffff:10.0.0.1/128")})
		},
		"reset for udp": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.UDP, Verdict: fault.RejectReset})
		},
		"flags for udp": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.UDP, TCPFlags: fault.SYN})
		},
		"flags outside mask": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Protocol: fault.TCP, TCPFlags: fault.SYN | fault.FIN, TCPFlagsMask: fault.SYN})
		},
		"unknown verdict": func() (fault.Impairment, error) { return fault.Add(ns, fault.Rule{Verdict: 99}) },
		"unknown direction": func() (fault.Impairment, error) {
			return fault.Add(ns, fault.Rule{Direction: 7})
		},
		"unknown protocol": func() (fault.Impairment, error) { return fault.Add(ns, fault.Rule{Protocol: 132}) },
		"percent 101":      func() (fault.Impairment, error) { return fault.Add(ns, fault.Rule{Percent: 101}) },
		"length 70000":     func() (fault.Impairment, error) { return fault.Add(ns, fault.Rule{LongerThan: 70000}) },
		"loss 0":           func() (fault.Impairment, error) { return fault.Loss(ns, 0, fault.Rule{}) },
		"loss 101":         func() (fault.Impairment, error) { return fault.Loss(ns, 101, fault.Rule{}) },
		"reset port 0":     func() (fault.Impairment, error) { return fault.ResetHandshakes(ns, 0) },
		"reset port 70000": func() (fault.Impairment, error) { return fault.ResetHandshakes(ns, 70000) },
		"partition empty": func() (fault.Impairment, error) {
			return fault.Partition(ns, netip.Prefix{}, v4, false)
		},
		"partition families": func() (fault.Impairment, error) { return fault.Partition(ns, v4, v6, true) },
		"nil namespace":      func() (fault.Impairment, error) { return fault.Add(nil, fault.Rule{}) },
		"rate 0": func() (fault.Impairment, error) {
			lo, err := ns.Link("lo")
			if err != nil {
				t.Fatal(err)
			}
			return fault.LimitRate(lo, fault.RateLimit{})
		},
		"nil link": func() (fault.Impairment, error) { return fault.LimitRate(nil, fault.RateLimit{Rate: 1e6}) },
		"flap nil": func() (fault.Impairment, error) { return nil, fault.Flap(nil, time.Second) },
	}
	for name, fn := range bad {
		t.Run(name, func(t *testing.T) {
			imp, err := fn()
			if !errors.Is(err, netnsx.ErrInvalid) {
				_ = fault.RemoveAll(imp)
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if !strings.HasPrefix(err.Error(), "fault: ") {
				t.Errorf("error %q does not say it is the fault package's", err)
			}
			t.Log(err)
		})
	}
	if rs := ruleset(t, ns); !rs.empty() {
		t.Errorf("bad input left %+v in nft", rs)
	}
}

// A filter in a namespace that closed is refused, never applied to the host.
func TestIntegrationClosedNamespace(t *testing.T) {
	ns := netnsxtest.New(t, "closed")
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := fault.Add(ns, fault.Rule{})
	if !errors.Is(err, netnsx.ErrClosed) {
		t.Fatalf("Add in a closed namespace: %v, want ErrClosed", err)
	}
}
