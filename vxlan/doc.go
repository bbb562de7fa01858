// Package vxlan creates VXLAN devices and manages where they send frames: remote VTEPs
// (the flood list), static per-MAC forwarding entries and neighbour entries.
//
// The article's hand-made VXLAN on host1,
//
//	ip link add vxlan0 type vxlan id 42 dev eth0 dstport 0
//	bridge fdb append to 00:00:00:00:00:00 dst 10.0.0.2 dev vxlan0
//	ip addr add 192.168.200.1/24 dev vxlan0
//	ip link set up dev vxlan0
//
// is, with nstopo,
//
//	dev, err := vxlan.Create(host1, vxlan.Config{
//		Name: "vxlan0", VNI: 42, Underlay: "eth0",
//		Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.200.1/24")},
//	})
//	err = dev.AddRemote(netip.MustParseAddr("10.0.0.2"))
//
// Zero values mean what `ip link add ... type vxlan` means: learning is on unless
// DisableLearning, Port 0 is the Linux default 8472 (the article's `dstport 0`; Docker
// and the RFC use [IANAPort] 4789), and the MTU is derived by the kernel from the
// underlay (1450 on a 1500-byte IPv4 underlay).
//
// Two ways to steer frames, as real overlays do:
//   - flood and learn: [Device.AddRemote] / [Device.SetRemotes] list the VTEPs that get
//     broadcast, unknown-unicast and multicast frames; the device learns MACs from what
//     comes back (or use Config.Group, a multicast group, instead of a list);
//   - static (Docker, Flannel): DisableLearning and Proxy, then [Device.AddFDB] for each
//     remote MAC and [Device.AddNeighbor] for each remote IP, so nothing is flooded and
//     ARP is answered locally.
//
// A control plane that knows the whole picture hands it to [Device.SetPeers]: every
// remote VTEP and the endpoints behind them, as [Peer] values. It makes the flood list,
// the static FDB and the permanent neighbours exactly that, sending requests only for
// the difference, so it can run on every event of a watch.
package vxlan
