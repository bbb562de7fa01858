package vxlan_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
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

// A control plane's view of the cluster — the hosts and the containers behind them —
// made the device's state on every change: flood list, static FDB and neighbours, each
// exactly as given. The same peers again send nothing; a bad peer changes nothing.
// (The namespace's name is unique only because other tests may run beside this one.)
func ExampleDevice_SetPeers() {
	host1, err := netnsx.New("host1-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	defer host1.Delete()
	dev, err := vxlan.Create(host1, vxlan.Config{
		Name: "vxlan0", VNI: 4096, Port: vxlan.IANAPort, Local: netip.MustParseAddr("10.0.0.1"),
		DisableLearning: true, Proxy: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	peers := []vxlan.Peer{
		{VTEP: netip.MustParseAddr("10.0.0.2"), // a container behind host2
			MAC: net.HardwareAddr{0x02, 0x42, 0x0a, 0x00, 0x00, 0x03}, IP: netip.MustParseAddr("10.0.0.3")},
		{VTEP: netip.MustParseAddr("10.0.0.4")}, // host3, no container yet
	}
	for range 2 {
		changes, err := dev.SetPeers(peers)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%+v\n", changes)
	}
	peers = append(peers, vxlan.Peer{VTEP: netip.MustParseAddr("10.0.0.4"), MAC: peers[0].MAC})
	_, err = dev.SetPeers(peers)
	fmt.Println(err)
	// Output:
	// {Added:4 Replaced:0 Removed:0}
	// {Added:0 Replaced:0 Removed:0}
	// vxlan: set peers of vxlan0: peer 2: netnsx: invalid argument: MAC 02:42:0a:00:00:03 is behind both 10.0.0.2 and 10.0.0.4
}
