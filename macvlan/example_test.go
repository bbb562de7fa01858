package macvlan_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/nstopo/nstopo/macvlan"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// Docker's macvlan network by hand: two containers with their own MAC addresses on the
// host's uplink, in bridge mode, reach each other. (The uplink is a veth end here; names
// are unique only because other tests may run beside this one.)
func ExampleCreate() {
	var nss []*netnsx.NS
	for _, name := range []string{"host", "container-1", "container-2"} {
		ns, err := netnsx.New(name + "-" + netnsxtest.Name(0))
		if err != nil {
			log.Fatal(err)
		}
		defer ns.Delete()
		nss = append(nss, ns)
	}
	host, c1, c2 := nss[0], nss[1], nss[2]
	up, err := veth.Create(veth.Config{A: veth.End{NS: host, Name: "eth1"}, B: veth.End{NS: host, Name: "wire"}})
	if err != nil {
		log.Fatal(err)
	}
	for i, c := range []*netnsx.NS{c1, c2} {
		mv, err := macvlan.Create(host, macvlan.Config{
			Name: "eth0", Parent: up.A, Mode: macvlan.Bridge, NS: c,
			Addrs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 50, byte(2 + i)}), 24)},
		})
		if err != nil {
			log.Fatal(err)
		}
		mode, err := mv.Mode()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(mv.Name(), mv.Kind(), mode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c1.Ping(ctx, netip.MustParseAddr("192.168.50.3"))
	fmt.Println("container-1 reaches container-2:", err == nil)
	// Output:
	// eth0 macvlan bridge
	// eth0 macvlan bridge
	// container-1 reaches container-2: true
}

// A nil namespace is never the host: to keep the link beside its parent, pass the
// parent's namespace as NS. The error says so before any syscall.
func ExampleCreate_invalid() {
	_, err := macvlan.Create(nil, macvlan.Config{Name: "eth0"})
	fmt.Println(err)
	// Output: macvlan: create eth0: netnsx: invalid argument: nil namespace (the host is netnsx.Host())
}
