package overlay

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/vxlan"
)

// DefaultPrefix is where the keys live when Config.Prefix is empty.
const DefaultPrefix = "/nstopo/overlay/"

// Network is an overlay network: one VNI, one IPv4 subnet.
type Network struct {
	Name   string
	VNI    uint32
	Subnet netip.Prefix
}

// Host is a machine taking part: its VTEP is its address on the underlay.
type Host struct {
	Name string
	VTEP netip.Addr
}

// Endpoint is a container's interface on a network, behind a host.
type Endpoint struct {
	Network, Host, Name string
	IP                  netip.Addr
	MAC                 net.HardwareAddr
}

type networkValue struct {
	VNI    uint32       `json:"vni"`
	Subnet netip.Prefix `json:"subnet"`
}

type hostValue struct {
	VTEP netip.Addr `json:"vtep"`
}

type endpointValue struct {
	Host string `json:"host"`
	MAC  string `json:"mac"`
	Name string `json:"name"`
}

func checkName(what, s string) error {
	if s == "" || len(s) > 63 {
		return fmt.Errorf("%s name %q is not 1-63 bytes: %w", what, s, netnsx.ErrInvalid)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%s name %q is a path element: %w", what, s, netnsx.ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%s name %q has byte %q: %w", what, s, c, netnsx.ErrInvalid)
		}
	}
	return nil
}

func (n Network) validate() error {
	if err := checkName("network", n.Name); err != nil {
		return err
	}
	// VNI 0 would make br0, a name hosts use for their own bridges.
	if n.VNI < 1 || n.VNI > vxlan.MaxVNI {
		return fmt.Errorf("network %s: VNI %d out of range 1..%d: %w", n.Name, n.VNI, vxlan.MaxVNI, netnsx.ErrInvalid)
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet.Bits() < 8 || n.Subnet.Bits() > 30 {
		return fmt.Errorf("network %s: subnet %s is not an IPv4 network of /8 to /30: %w", n.Name, n.Subnet, netnsx.ErrInvalid)
	}
	if n.Subnet != n.Subnet.Masked() {
		return fmt.Errorf("network %s: subnet %s has host bits set (the network is %s): %w", n.Name, n.Subnet, n.Subnet.Masked(), netnsx.ErrInvalid)
	}
	if a := n.Subnet.Addr(); !unicast(a) || a.As4()[0] == 0 {
		return fmt.Errorf("network %s: subnet %s is not unicast (0/8, 127/8, 224/3 are not): %w", n.Name, n.Subnet, netnsx.ErrInvalid)
	}
	return nil
}

// unicast reports whether a is an IPv4 address a host or an endpoint can have: not
// unspecified, loopback, multicast, reserved (240/4) or broadcast.
func unicast(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && a.As4()[0] < 240
}

// first is the lowest address given to endpoints: the one below it is the gateway's.
func (n Network) first() netip.Addr { return n.Subnet.Addr().Next().Next() }

// assignable reports why ip cannot be an endpoint's address on n: outside the subnet,
// the network, gateway or broadcast address.
func (n Network) assignable(ip netip.Addr) error {
	if !n.Subnet.Contains(ip) || ip.Less(n.first()) || !n.Subnet.Contains(ip.Next()) {
		return fmt.Errorf("address %s is not one of network %s's endpoint addresses (%s, less its network, gateway and broadcast addresses): %w",
			ip, n.Name, n.Subnet, netnsx.ErrInvalid)
	}
	return nil
}

// keys builds and parses the keys under one prefix.
type keys string

func (k keys) network(name string) string { return string(k) + "networks/" + name }
func (k keys) vni(vni uint32) string      { return fmt.Sprintf("%svnis/%d", k, vni) }
func (k keys) host(name string) string    { return string(k) + "hosts/" + name }
func (k keys) endpoints(network string) string {
	return string(k) + "endpoints/" + network + "/"
}
func (k keys) endpoint(network string, ip netip.Addr) string {
	return k.endpoints(network) + ip.String()
}

// state is an agent's copy of everything under the prefix, keyed by etcd key.
type state struct {
	networks  map[string]Network
	hosts     map[string]Host
	endpoints map[string]Endpoint
}

func newState() *state {
	return &state{networks: map[string]Network{}, hosts: map[string]Host{}, endpoints: map[string]Endpoint{}}
}

var errUnknownKey = errors.New("not a key of the data model")

// put records a key's new value; a key or value that does not parse is an error and
// leaves the state without that key.
func (s *state) put(k keys, key string, value []byte) error {
	s.del(key)
	rest, ok := strings.CutPrefix(key, string(k))
	if !ok {
		return errUnknownKey
	}
	kind, name, _ := strings.Cut(rest, "/")
	switch kind {
	case "networks":
		var v networkValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		n := Network{Name: name, VNI: v.VNI, Subnet: v.Subnet}
		if err := n.validate(); err != nil {
			return err
		}
		s.networks[key] = n
	case "vnis":
		// Only CreateNetwork's transactions read these: a VNI's owner is in its network.
	case "hosts":
		var v hostValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		if err := checkName("host", name); err != nil {
			return err
		}
		if !unicast(v.VTEP) {
			return fmt.Errorf("host %s: VTEP %s is not a unicast IPv4 address", name, v.VTEP)
		}
		s.hosts[key] = Host{Name: name, VTEP: v.VTEP}
	case "endpoints":
		network, ipText, ok := strings.Cut(name, "/")
		if !ok {
			return errUnknownKey
		}
		if err := checkName("network", network); err != nil {
			return err
		}
		ip, err := netip.ParseAddr(ipText)
		if err != nil || !unicast(ip) || ip.String() != ipText {
			return fmt.Errorf("endpoint address %q is not a unicast IPv4 address in its canonical form", ipText)
		}
		var v endpointValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		if err := checkName("host", v.Host); err != nil {
			return err
		}
		mac, err := net.ParseMAC(v.MAC)
		if err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			return fmt.Errorf("endpoint %s: MAC %q is not a unicast Ethernet address", ipText, v.MAC)
		}
		s.endpoints[key] = Endpoint{Network: network, Host: v.Host, Name: v.Name, IP: ip, MAC: mac}
	default:
		return errUnknownKey
	}
	return nil
}

func (s *state) del(key string) {
	delete(s.networks, key)
	delete(s.hosts, key)
	delete(s.endpoints, key)
}

// peers is what a host's device for network should hold: a flood entry for every
// other host, and every endpoint behind another host with a known VTEP. Whatever the
// kernel would refuse, or this host should not forward to, is left out here, one key
// at a time, so that one bad key cannot stop the rest from being programmed.
func (s *state) peers(k keys, self Host, network string) []vxlan.Peer {
	var out []vxlan.Peer
	for _, h := range s.hosts {
		if h.Name != self.Name && h.VTEP != self.VTEP {
			out = append(out, vxlan.Peer{VTEP: h.VTEP})
		}
	}
	n, known := s.networks[k.network(network)]
	// In key order, so that of two endpoints claiming one MAC (a hand-written value)
	// the same one wins everywhere and the other is left out, not the whole set refused.
	seen := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(s.endpoints)) {
		e := s.endpoints[key]
		if e.Network != network || e.Host == self.Name || seen[e.MAC.String()] {
			continue
		}
		if known && !n.Subnet.Contains(e.IP) {
			continue // hand-written: not an address of this network
		}
		h, ok := s.hosts[k.host(e.Host)]
		if !ok || h.VTEP == self.VTEP {
			continue // its host's key is gone (or not yet seen): its lease is ending
		}
		seen[e.MAC.String()] = true
		out = append(out, vxlan.Peer{VTEP: h.VTEP, MAC: e.MAC, IP: e.IP})
	}
	return out
}

// macOf derives an endpoint's MAC from its IPv4 address, as Docker does.
func macOf(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}
