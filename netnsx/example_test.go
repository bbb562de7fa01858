package netnsx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// The article's first step, `ip netns add container-1`, and a look inside. (The name
// is made unique only because other tests may run beside this one.)
func ExampleNew() {
	ns, err := netnsx.New("container-1-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Delete()

	links, err := ns.Links()
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range links {
		fmt.Println(l.Name()) // lo, already up
	}
	// Output: lo
}

// Names are checked before anything touches the kernel or /run/netns.
func ExampleNew_invalidName() {
	_, err := netnsx.New("../etc")
	fmt.Println(errors.Is(err, netnsx.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// netnsx: new ../etc: netnsx: invalid argument: namespace name "../etc" has byte '/' at 2 (want printable ASCII without '/' or white space)
}

// Docker keeps a container's namespace at its SandboxKey, which `ip netns` cannot see.
func ExampleOpenPath() {
	ns, err := netnsx.OpenPath("/var/run/docker/netns/7ca58b86b82c")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	routes, err := ns.Routes() // ip netns exec 7ca58b86b82c ip route show
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range routes {
		fmt.Println(r.Dst, r.Gateway, r.Dev)
	}
}

// Run a program inside a namespace, as `ip netns exec` does: it sees the namespace's
// links, also under /sys/class/net.
func ExampleNS_Run() {
	ns, err := netnsx.New("container-1-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Delete()
	cmd := exec.Command("ls", "/sys/class/net") // ip netns exec container-1 ls /sys/class/net
	cmd.Stdout = os.Stdout
	if err := ns.Run(cmd); err != nil {
		log.Fatal(err)
	}
	// Output: lo
}

// Two namespaces joined by a veth pair, as every example below uses: a is 10.0.0.1/24,
// b is 10.0.0.2/24, each on its eth0.
func pair() (a, b *netnsx.NS) {
	a, err := netnsx.New("a-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	b, err = netnsx.New("b-" + netnsxtest.Name(0))
	if err != nil {
		a.Delete()
		log.Fatal(err)
	}
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}},
	})
	if err != nil {
		netnsx.DeleteAll(a, b)
		log.Fatal(err)
	}
	return a, b
}

// Sockets made through Listen and Dial live in their namespaces; the goroutines using
// them may run anywhere.
func ExampleNS_Dial() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	ctx := context.Background()

	l, err := b.Listen(ctx, "tcp", "10.0.0.2:8081")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprint(c, "b heard: "+line)
	}()

	conn, err := a.Dial(ctx, "tcp", "10.0.0.2:8081")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintln(conn, "hello from a")
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(reply)
	// Output: b heard: hello from a
}

// Ping sends one ICMP echo from inside a namespace, with no ping binary.
func ExampleNS_Ping() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rtt, err := a.Ping(ctx, netip.MustParseAddr("10.0.0.2"))
	fmt.Println(err, rtt > 0)
	// Output: <nil> true
}

// Capture writes pcap (read it with `tcpdump -r`) of what crosses an interface.
func ExampleNS_StartCapture() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	var pcap bytes.Buffer
	c, err := b.StartCapture("eth0", &pcap)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, netip.MustParseAddr("10.0.0.2")); err != nil {
		log.Fatal(err)
	}
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}
	magic := binary.LittleEndian.Uint32(pcap.Bytes())
	fmt.Println(magic == 0xa1b2c3d4, pcap.Len() > 24) // the pcap header, then frames
	// Output: true true
}

// Inspect reads namespaces back, veth peers resolved across them; DOT draws them.
func ExampleInspect() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	snap, err := netnsx.Inspect(a, b)
	if err != nil {
		log.Fatal(err)
	}
	for _, ns := range snap.Namespaces {
		for _, l := range ns.Links {
			if l.Peer != nil {
				fmt.Println(l.Name, l.Kind, l.Addrs[0], "peer", l.Peer.Name, l.Peer.Namespace == b.Name())
			}
		}
	}
	for _, line := range strings.Split(snap.DOT(), "\n") {
		if strings.Contains(line, " -- ") {
			fmt.Println(strings.TrimSpace(line)) // the edges: one veth pair
		}
	}
	// Output:
	// eth0 veth 10.0.0.1/24 peer eth0 true
	// eth0 veth 10.0.0.2/24 peer eth0 false
	// n0_1 -- n1_1;
}

// DeleteAll removes many namespaces at once, newest first: the fast teardown.
func ExampleDeleteAll() {
	var nss []*netnsx.NS
	for i := 0; i < 3; i++ {
		ns, err := netnsx.New(fmt.Sprintf("lab-%d-%s", i, netnsxtest.Name(0)))
		if err != nil {
			log.Fatal(err)
		}
		nss = append(nss, ns)
	}
	fmt.Println(netnsx.DeleteAll(nss...))
	_, err := netnsx.Open(nss[0].Name())
	fmt.Println(errors.Is(err, netnsx.ErrNotFound))
	// Output:
	// <nil>
	// true
}

// Do runs a function on a thread inside the namespace; the caller's thread stays put.
func ExampleNS_Do() {
	ns, err := netnsx.New("container-1-" + netnsxtest.Name(0))
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Delete()
	err = ns.Do(func() error {
		// Anything that uses the calling thread's namespace: net.Interfaces, raw
		// sockets, /proc/sys/net.
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			fmt.Println(i.Name)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: lo
}
