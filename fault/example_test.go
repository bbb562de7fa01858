package fault_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/fault"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// The article's incident, made on purpose: a service on TCP 8081 whose handshakes get
// RST. The dial is refused at once; the rule counted the SYN; Remove brings the service
// back. (Names are made unique only because other tests may run beside this one.)
func ExampleResetHandshakes() {
	client, err := netnsx.New("client-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Delete()
	server, err := netnsx.New("server-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	defer server.Delete()
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: client, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.2/16")}},
		B: veth.End{NS: server, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.3/16")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := server.Listen(ctx, "tcp", "172.16.1.3:8081")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	rst, err := fault.ResetHandshakes(server, 8081)
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.Dial(ctx, "tcp", "172.16.1.3:8081")
	fmt.Println("refused:", errors.Is(err, syscall.ECONNREFUSED))
	n, err := rst.Packets()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("handshakes reset:", n)

	if err := rst.Remove(); err != nil {
		log.Fatal(err)
	}
	c, err := client.Dial(ctx, "tcp", "172.16.1.3:8081")
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("connected after Remove")
	// Output:
	// refused: true
	// handshakes reset: 1
	// connected after Remove
}

// Cut site A off from site B in the router between them, one way only: A's packets to
// B are dropped, B's to A pass.
func ExamplePartition() {
	router, err := netnsx.Open("router")
	if err != nil {
		log.Fatal(err)
	}
	defer router.Close()
	siteA, siteB := netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")
	cut, err := fault.Partition(router, siteA, siteB, true)
	if err != nil {
		log.Fatal(err)
	}
	defer cut.Remove()
	// ... run the part of the scenario that must survive the cut ...
}

// Lose 30% of the DNS queries a namespace sends.
func ExampleLoss() {
	ns, err := netnsx.Open("client")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	f, err := fault.Loss(ns, 30, fault.Rule{Direction: fault.Out, Protocol: fault.UDP, DstPort: 53})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Remove()
}

// Hold a link to 10 Mbit/s, as `tc qdisc add dev eth0 root tbf rate 10mbit burst 16k
// latency 50ms` would.
func ExampleLimitRate() {
	ns, err := netnsx.Open("client")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	eth0, err := ns.Link("eth0")
	if err != nil {
		log.Fatal(err)
	}
	q, err := fault.LimitRate(eth0, fault.RateLimit{Rate: 10_000_000})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Remove()
}

// Every rule is checked whole before anything reaches the kernel.
func ExampleAdd_invalid() {
	_, err := fault.Add(nil, fault.Rule{Protocol: fault.TCP, DstPort: 70000})
	fmt.Println(errors.Is(err, netnsx.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// fault: add in tcp dport 70000 drop in <nil>: netnsx: invalid argument: DstPort 70000 out of range 0..65535
}
