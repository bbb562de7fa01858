package bridge_test

import (
	"fmt"
	"log"
	"net/netip"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
)

// brctl addbr br0; ip addr add 172.16.1.1/16 dev br0; ip link set dev br0 up — in a
// namespace standing in for the host.
func ExampleCreate() {
	host, err := netnsx.New("lab")
	if err != nil {
		log.Fatal(err)
	}
	defer host.Delete()
	br, err := bridge.Create(host, bridge.Config{
		Name:  "br0",
		Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.1/16")},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(br.Name(), br.Kind())
}

// A bad config is refused before any syscall, naming the field.
func ExampleCreate_invalid() {
	_, err := bridge.Create(nil, bridge.Config{Name: "br0", MTU: 70000})
	fmt.Println(err)
	// Output: bridge: create br0: netnsx: invalid argument: MTU 70000 out of range 68..65535
}

// Show what the bridge has learned, as `bridge fdb show br br0` does.
func ExampleBridge_FDB() {
	host, err := netnsx.Open("lab")
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	br, err := bridge.Open(host, "br0")
	if err != nil {
		log.Fatal(err)
	}
	entries, err := br.FDB()
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.HardwareAddr, e.Dev, e.Permanent)
	}
}
