package vxlan_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/vxlan"
)

// The article's host1: ip link add vxlan0 type vxlan id 42 dev eth0 dstport 0, then
// bridge fdb append to 00:00:00:00:00:00 dst 10.0.0.2 dev vxlan0.
func ExampleCreate() {
	host1, err := netnsx.Open("host1")
	if err != nil {
		log.Fatal(err)
	}
	defer host1.Close()
	dev, err := vxlan.Create(host1, vxlan.Config{
		Name: "vxlan0", VNI: 42, Underlay: "eth0", // Port 0: dstport 0, 8472
		Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.200.1/24")},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := dev.AddRemote(netip.MustParseAddr("10.0.0.2")); err != nil {
		log.Fatal(err)
	}
}

// A Docker-style static overlay: no learning, no flooding, ARP answered locally.
func ExampleDevice_AddFDB() {
	host1, err := netnsx.Open("host1")
	if err != nil {
		log.Fatal(err)
	}
	defer host1.Close()
	dev, err := vxlan.Create(host1, vxlan.Config{
		Name: "vxlan1", VNI: 4096, Port: vxlan.IANAPort, Underlay: "eth0",
		DisableLearning: true, Proxy: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	remoteMAC := net.HardwareAddr{0x02, 0x42, 0x0a, 0x00, 0x00, 0x03}
	if err := dev.AddFDB(remoteMAC, netip.MustParseAddr("10.0.0.2")); err != nil {
		log.Fatal(err)
	}
	if err := dev.AddNeighbor(netip.MustParseAddr("10.0.0.3"), remoteMAC); err != nil {
		log.Fatal(err)
	}
}

// Reconcile the flood list with the hosts the cluster knows: add the missing, drop the
// stale.
func ExampleDevice_SetRemotes() {
	host1, err := netnsx.Open("host1")
	if err != nil {
		log.Fatal(err)
	}
	defer host1.Close()
	dev, err := vxlan.Open(host1, "vxlan0")
	if err != nil {
		log.Fatal(err)
	}
	peers := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}
	if err := dev.SetRemotes(peers); err != nil {
		log.Fatal(err)
	}
}

// Every field is checked before any syscall.
func ExampleCreate_invalid() {
	_, err := vxlan.Create(nil, vxlan.Config{Name: "vxlan0", VNI: 1 << 24})
	fmt.Println(err)
	// Output: vxlan: create vxlan0: netnsx: invalid argument: VNI 16777216 out of range 0..16777215
}
