package netnsx_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os/exec"

	"github.com/nstopo/nstopo/netnsx"
)

// The article's first step, `ip netns add container-1`, and a look inside.
func ExampleNew() {
	ns, err := netnsx.New("container-1")
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

// Run a program inside a namespace, as `ip netns exec` does.
func ExampleNS_Run() {
	ns, err := netnsx.Open("container-1")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	cmd := exec.Command("ip", "route", "show") // ip netns exec container-1 ip route show
	if err := ns.Run(cmd); err != nil {
		log.Fatal(err)
	}
}

// Sockets made through Dial and Listen live in the namespace; the goroutines using
// them may run anywhere.
func ExampleNS_Dial() {
	c1, err := netnsx.Open("container-1")
	if err != nil {
		log.Fatal(err)
	}
	defer c1.Close()
	conn, err := c1.Dial(context.Background(), "tcp", "172.16.1.3:8081")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintln(conn, "hello from container-1")
}

// Do runs a function on a thread inside the namespace; the caller's thread stays put.
func ExampleNS_Do() {
	ns, err := netnsx.Open("container-1")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	err = ns.Do(func() error {
		// Anything that uses the calling thread's namespace: raw sockets, /proc/sys/net.
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
