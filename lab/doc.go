// Package lab builds a whole topology from one description, as containerlab deploys a
// topology file and Mininet builds a Topo: nodes (network namespaces), bridges in them,
// veth links between "node:ifname" endpoints, VXLAN overlays across nodes, routes,
// impairments and commands — made all or nothing by Build, owned by the Lab it returns,
// and removed by its Close (or, for a lab left up, by Destroy).
//
//	spec, err := lab.Load("examples/labs/article-local.yaml")
//	l, err := lab.Build(ctx, spec, nil)
//	defer l.Close()
//	c1, err := l.Node("container-1")          // a *netnsx.NS
//	r, err := l.PingAll(ctx)                   // Mininet's pingAll
//
// # The description
//
// A Spec is the file, field for field, in YAML or JSON (Parse, Load):
//
//	name: article-local                # the lab's name: a-z 0-9 - _ . (state file, messages)
//	prefix: ""                         # prepended to node names to make namespace names
//	topology:
//	  defaults: {ipv4only: true}       # copied into every node (labels, sysctls merged)
//	  nodes:
//	    host:
//	      bridges: {br0: {addrs: [172.16.1.1/16]}}
//	    container-1: {sysctls: {net.ipv4.ip_forward: "1"}, exec: ["ip route"], start: ["exec nc -lk 8081"]}
//	    container-2: {}
//	  links:
//	    - endpoints: ["host:veth1", "container-1:eth0"]   # containerlab's brief form
//	    - endpoints:                                      # or objects, for more
//	        - {node: host, interface: veth2, bridge: br0}
//	        - {node: container-2, interface: eth0, addrs: [172.16.1.3/16], mac: "02:42:ac:10:01:03"}
//	      mtu: 1500
//	      impair: {rate: 10mbit, loss: 5}                 # on both ends' egress
//	  overlays:
//	    - name: vxlan0                                    # a VXLAN device in each member
//	      vni: 42
//	      port: 8472                                      # 0: 4789 (IANA)
//	      members:
//	        - {node: host1, underlay: eth0, addrs: [192.168.200.1/24]}  # VTEP: eth0's IPv4 address, or local:
//	        - {node: host2, underlay: eth0, local: 10.0.0.2, bridge: br0}
//
// Routes (`routes: [{dst: 10.1.0.0/16, via: 10.0.0.1, dev: eth0}]`) are added after every
// link and overlay exists; each node's exec commands then run to completion with
// /bin/sh -c inside it (`ip netns exec`), and its start commands are started in the
// background and owned by the Lab.
//
// Parsing is strict: a field the format does not have, and a value that does not decode
// (an address out of range, a word where a number goes), is a *FieldError naming its path
// and, in YAML, its line ("topology.nodes.a.image (line 4): unknown field"), all of them
// at once. Validate (which Build calls first) checks the whole description without
// touching the kernel and reports every problem at once, each a *FieldError with its path:
//
//	topology.links[3].endpoints[1]: node "c9" not defined
//
// So a file's problems come in two rounds: those of parsing first, all together; then,
// once it parses, those of Validate.
//
// Spec.DOT and Spec.Mermaid draw the description; Lab.DOT and Lab.Mermaid draw what the
// kernel has once it is built.
//
// # From containerlab
//
// What maps: the top-level name; topology.nodes, keyed by node name; topology.links with
// endpoints "a:e1" (or objects); topology.defaults; a node's labels and exec. Prefix plays
// the role of containerlab's clab-<name>- prefix, but is empty by default, so that the
// article's namespace names (container-1) are the node names.
//
// What does not: a node is a network namespace, not a container — there is no image,
// kind, type, cmd, binds, ports, env, mgmt network or startup-config, and nothing is
// pulled or booted. Nodes share the host's file system and processes; exec and start
// run host programs inside the node's network namespace. What containerlab leaves to a
// node's own configuration is part of the description here: addresses on link ends,
// bridges, VXLAN overlays, routes, sysctls and impairments. Unknown fields, containerlab's
// included, are errors, not ignored.
//
// # From Mininet
//
// A Topo's addHost is a node, addSwitch a bridge in a node, addLink a link (its
// interface names and addresses given, not generated), net.pingAll() is Lab.PingAll,
// node.cmd() is exec (or netnsx.NS.Run on Lab.Node), net.stop() is Close; TCLink's bw
// and loss are impair's rate and loss. There is no controller and no OpenFlow switch:
// bridges are Linux bridges that learn.
//
// # Impairments
//
// An impairment maps onto package fault, on what an end sends: rate is a token-bucket
// filter (fault.LimitRate; tc's notation, "10mbit"), loss drops that percentage of what
// the node sends into the subnets of the end's addresses (fault.Loss, nftables), down
// leaves the interface down (fault.Down). Delay, jitter, reordering and corruption need
// the kernel's network emulator (netem), which kernels without sch_netem — the one
// nstopo is tested on among them — lack; they are not offered here (fault.Emulate offers
// delay where netem exists).
//
// # Building, owning, removing
//
// Build validates, then refuses with ErrExists, before making anything, a lab one of whose
// namespace names is taken. It makes the namespaces (netnsx.Create, IPv4Only where the
// node says so) and the links on two goroutines, the bridges, overlays, routes and
// impairments in order, and if anything fails, or ctx ends, it deletes every namespace
// it made and with them everything inside: all or nothing.
//
// So that a lab can be removed by another process, and after a crash, Build keeps a state
// file, <StateDir>/<name>.json (StateDir is /run/nstopo/labs unless Options say
// otherwise): JSON lines, appended to as it goes — each namespace before it is made, then
// its identity (device and inode of its nsfs file) once it is, and the PID and start
// time of each process it starts. Build holds a lock on the file while it runs. Destroy
// takes that lock, kills the recorded processes that are still the same processes,
// deletes the recorded namespaces that are still the same namespaces (and one Build died
// making, before it could record it), and removes the file. A namespace of the spec's
// that the file does not vouch for is left alone and named in Destroy's error.
//
// With Options.Persist (`nstopo up`), Close only releases handles and the lab stays up;
// Attach opens it again from another process; Destroy removes it. Without Persist
// (tests, and package labtest's fixture), Close removes it.
package lab
