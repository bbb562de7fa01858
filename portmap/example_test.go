package portmap_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/portmap"
	"github.com/nstopo/nstopo/veth"
)

// `docker run -p 8080:80` on a simulated host: a client on the host's outside network
// reaches the container's server through the host's port 8080, and no longer once the
// mapping is removed. (Names are unique only because other tests may run beside this one.)
func ExamplePublish() {
	var nss []*netnsx.NS
	for _, name := range []string{"host", "container", "client"} {
		ns, err := netnsx.New(name + "-" + netnsxtest.Name(0))
		if err != nil {
			log.Fatal(err)
		}
		defer ns.Delete()
		nss = append(nss, ns)
	}
	host, ctr, client := nss[0], nss[1], nss[2]
	p := netip.MustParsePrefix
	br, err := bridge.Create(host, bridge.Config{Name: "docker0", Addrs: []netip.Prefix{p("172.17.0.1/16")}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := veth.Create(veth.Config{
		A: veth.End{NS: host, Name: "veth0", Master: br.Link},
		B: veth.End{NS: ctr, Name: "eth0", Addrs: []netip.Prefix{p("172.17.0.2/16")}},
	}); err != nil {
		log.Fatal(err)
	}
	if err := ctr.AddRoute(netnsx.Route{Dst: p("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1")}); err != nil {
		log.Fatal(err)
	}
	if _, err := veth.Create(veth.Config{
		A: veth.End{NS: host, Name: "eth0", Addrs: []netip.Prefix{p("10.30.0.1/24")}},
		B: veth.End{NS: client, Name: "eth0", Addrs: []netip.Prefix{p("10.30.0.2/24")}},
	}); err != nil {
		log.Fatal(err)
	}
	// Docker turns forwarding on for the whole host; Publish leaves that to the caller.
	if err := host.SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := ctr.Listen(ctx, "tcp", "172.17.0.2:80")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from the container to %s\n", netip.MustParseAddrPort(c.RemoteAddr().String()).Addr())
			c.Close()
		}
	}()

	m, err := portmap.Publish(host, portmap.Config{HostPort: 8080, Dst: netip.MustParseAddrPort("172.17.0.2:80")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Config())
	c, err := client.Dial(ctx, "tcp", "10.30.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	answer, _ := io.ReadAll(c)
	c.Close()
	fmt.Print(string(answer))

	if err := m.Remove(); err != nil {
		log.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	_, err = client.Dial(short, "tcp", "10.30.0.1:8080")
	fmt.Println("after Remove:", err != nil)
	// Output:
	// tcp 0.0.0.0:8080 -> 172.17.0.2:80
	// hello from the container to 10.30.0.2
	// after Remove: true
}

// A nil namespace is never the host: the nil result of a failed netnsx.Open cannot
// publish the real machine's ports. The error says so before any syscall.
func ExamplePublish_invalid() {
	host, _ := netnsx.Open("no-such-namespace") // fails: host is nil
	_, err := portmap.Publish(host, portmap.Config{HostPort: 8080, Dst: netip.MustParseAddrPort("172.17.0.2:80")})
	fmt.Println(err)
	// Output: portmap: publish tcp 0.0.0.0:8080 -> 172.17.0.2:80 in <nil>: netnsx: invalid argument: nil namespace (the host is netnsx.Host())
}
