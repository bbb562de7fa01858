// Package overlay is the control plane of a Docker-style VXLAN overlay on etcd: every
// host runs an [Agent] that registers the host, allocates its containers' addresses
// and keeps its VXLAN devices' flood lists, forwarding entries and neighbours equal to
// what etcd says about the other hosts, through [vxlan.Device.SetPeers].
//
// # Data model
//
// All keys live under a prefix (Config.Prefix, [DefaultPrefix] when empty); values are
// JSON.
//
//	networks/<network>         {"vni":4096,"subnet":"10.200.0.0/24"}        no lease
//	vnis/<vni>                 <network>                                     no lease
//	hosts/<host>               {"vtep":"10.0.0.1"}                          the host's lease
//	endpoints/<network>/<ip>   {"host":"h1","mac":"02:42:0a:c8:00:02","name":"c1"}  the host's lease
//
// A network is created once ([CreateNetwork]), with its VNI's key in the same
// transaction so that no two networks share a VNI, and outlives hosts. A host's key and its
// endpoints' keys hang off one lease that the agent keeps alive: when the host stops
// without cleaning up (a crash, a partition), the lease expires, etcd deletes all of
// them at once, and every other agent removes that host's VTEP, MACs and IPs from its
// devices. An agent still running whose lease is lost (it expired during a partition)
// registers again, with its endpoints.
//
// An endpoint is keyed by its address, so allocating one is a transaction that creates
// the key only if it does not exist: two attaches at once never get the same address,
// whatever either of them read before.
//
// Names (networks, hosts, endpoints) are 1-63 bytes of ASCII letters, digits, '.', '_'
// and '-'. Subnets are IPv4; an endpoint's MAC is derived from its address as Docker
// does (02:42:a.b.c.d).
//
// # Devices
//
// On a host, a network with local endpoints has a bridge br<VNI> and a VXLAN device
// vx<VNI> (learning off, ARP proxy on, IANA port 4789, MTU 1450) enslaved to it; each
// container's eth0 is a veth whose host end sits on the bridge. Flooding goes to every
// other host; every remote endpoint has a static FDB entry and a permanent neighbour
// entry, so ARP is answered on the host and nothing is learned.
//
// # Watching
//
// An agent reads the whole prefix once, reconciles, and watches from the next
// revision; every event updates its copy and reconciles every local network. A watch
// that fails (compaction past its revision, a lost leader) is replaced by a full read
// and a new watch. A reconcile the kernel refuses is tried again every second. A key
// that does not parse is logged and skipped.
package overlay
