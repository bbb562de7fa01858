package lab_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"

	"github.com/nstopo/nstopo/lab"
)

// The article's local topology from a YAML description: build it, ping across the
// bridge, and remove it all with Close.
func Example() {
	spec, err := lab.Parse([]byte(`
name: example
prefix: nstopo-example-
topology:
  defaults: {ipv4only: true}
  nodes:
    host: {bridges: {br0: {addrs: [172.16.1.1/16]}}}
    container-1: {}
    container-2: {}
  links:
    - endpoints: [{node: host, interface: veth1, bridge: br0}, {node: container-1, interface: eth0, addrs: [172.16.1.2/16]}]
    - endpoints: [{node: host, interface: veth2, bridge: br0}, {node: container-2, interface: eth0, addrs: [172.16.1.3/16]}]
`), lab.YAML)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "nstopo-example-") // for the state file; nil Options: /run/nstopo/labs
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := lab.Build(context.Background(), spec, &lab.Options{StateDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println(spec.Namespaces())
	c1, err := l.Node("container-1")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c1.Ping(context.Background(), netip.MustParseAddr("172.16.1.3")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("container-1 reaches container-2")
	r, err := l.PingAll(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pingAll: %d pings, %d lost\n", len(r.Results), r.Lost())
	// Output:
	// [nstopo-example-container-1 nstopo-example-container-2 nstopo-example-host]
	// container-1 reaches container-2
	// pingAll: 6 pings, 0 lost
}

// Every mistake of a description at once, each with its path.
func ExampleSpec_Validate() {
	spec, err := lab.Parse([]byte(`
name: broken
topology:
  nodes:
    a: {}
    b: {bridges: {br0: {mtu: 9}}}
  links:
    - endpoints: ["a:eth0", "c9:eth0"]
    - endpoints: ["a:eth0", "b:eth0"]
`), lab.YAML)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(spec.Validate())
	// Output:
	// lab: validate broken: 3 problems:
	// topology.links[0].endpoints[1]: node "c9" not defined: netnsx: invalid argument
	// topology.links[1].endpoints[0]: interface "eth0" of node "a" already defined at topology.links[0].endpoints[0]: netnsx: invalid argument
	// topology.nodes.b.bridges.br0.mtu: 9 out of range 68..65535: netnsx: invalid argument
}

// A picture of the description, without building it: paste it into a ```mermaid block.
func ExampleSpec_Mermaid() {
	spec, err := lab.Parse([]byte(`
name: pair
topology:
  nodes: {a: {}, b: {}}
  links:
    - endpoints: ["a:eth0", "b:eth0"]
`), lab.YAML)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(spec.Mermaid())
	// Output:
	// flowchart LR
	//   subgraph n0["a"]
	//     n1["a"]
	//   end
	//   subgraph n2["b"]
	//     n3["b"]
	//   end
	//   n1 ---|"eth0 — eth0"| n3
}
