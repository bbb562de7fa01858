package veth_test

import (
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

// Both ends cannot share a name inside one namespace; the error says so before any
// syscall.
func ExampleCreate_invalid() {
	_, err := veth.Create(veth.Config{A: veth.End{Name: "veth1"}, B: veth.End{Name: "veth1"}})
	fmt.Println(err)
	// Output: veth: create veth1/veth1: netnsx: invalid argument: A.Name and B.Name are both "veth1" in one namespace
}
