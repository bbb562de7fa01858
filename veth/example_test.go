package veth_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

// Plug container-1 into br0: the host end veth1 on the bridge, the container end eth0
// with its address — made in place, up and ready in one call.
func ExampleCreate() {
	host, err := netnsx.Open("lab")
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	c1, err := netnsx.Open("container-1")
	if err != nil {
		log.Fatal(err)
	}
	defer c1.Close()
	br, err := bridge.Open(host, "br0")
	if err != nil {
		log.Fatal(err)
	}
	pair, err := veth.Create(veth.Config{
		A: veth.End{NS: host, Name: "veth1", Master: br.Link},
		B: veth.End{NS: c1, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.2/16")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pair.A.Name(), pair.B.Name())
}

// A nil namespace is never the host: the nil result of a failed netnsx.New cannot
// reach the real machine. The error says so before any syscall.
func ExampleCreate_invalid() {
	c1, _ := netnsx.Open("no-such-namespace") // fails: c1 is nil
	_, err := veth.Create(veth.Config{A: veth.End{NS: c1, Name: "veth1"}, B: veth.End{NS: c1, Name: "eth0"}})
	fmt.Println(errors.Is(err, netnsx.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// veth: create veth1/eth0: netnsx: invalid argument: A.NS is nil (the host is netnsx.Host())
}
