package netnsx

import (
	"encoding/json"
	"net"
	"net/netip"
	"time"
)

// PingStats summarises a run of pings, as the last lines of `ping -c N` do.
type PingStats struct {
	Sent, Received int
	Min, Avg, Max  time.Duration // over the replies received; zero when none came
}

// Snapshot is what Inspect saw: each namespace's links and routes.
type Snapshot struct {
	Namespaces []NamespaceInfo `json:"namespaces"`
}

// NamespaceInfo describes one namespace.
type NamespaceInfo struct {
	Name   string     `json:"name"` // the name under /run/netns, "host", or the path it was opened by
	Links  []LinkInfo `json:"links"`
	Routes []Route    `json:"routes"` // the main table's; other tables: NS.RoutesIn
}

// LinkInfo describes one interface.
type LinkInfo struct {
	Name         string           `json:"name"`
	Kind         string           `json:"kind,omitempty"`
	Index        int              `json:"index"`
	MTU          int              `json:"mtu"`
	HardwareAddr net.HardwareAddr `json:"-"` // marshalled as "mac", in its usual text form
	Up           bool             `json:"up"`
	Addrs        []netip.Prefix   `json:"addrs,omitempty"`
	Master       string           `json:"master,omitempty"` // the bridge it is a port of
	Peer         *PeerRef         `json:"peer,omitempty"`   // a veth's other end
	VXLAN        *VXLANInfo       `json:"vxlan,omitempty"`
}

// PeerRef names a veth's other end; Namespace is "" when that namespace was not
// inspected, and equals the link's own namespace for a pair inside one namespace.
type PeerRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// VXLANInfo is a VXLAN device's configuration and flood list.
type VXLANInfo struct {
	VNI      uint32       `json:"vni"`
	Port     uint16       `json:"port"`
	Underlay string       `json:"underlay,omitempty"`
	Remotes  []netip.Addr `json:"remotes,omitempty"`
}

// MarshalJSON writes the MAC address as text ("mac": "02:42:0a:00:00:02") rather than
// as base64 bytes.
func (l LinkInfo) MarshalJSON() ([]byte, error) {
	type plain LinkInfo
	mac := ""
	if l.HardwareAddr != nil {
		mac = l.HardwareAddr.String()
	}
	return json.Marshal(struct {
		plain
		MAC string `json:"mac,omitempty"`
	}{plain(l), mac})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *LinkInfo) UnmarshalJSON(b []byte) error {
	type plain LinkInfo
	var v struct {
		plain
		MAC string `json:"mac,omitempty"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = LinkInfo(v.plain)
	if v.MAC != "" {
		mac, err := net.ParseMAC(v.MAC)
		if err != nil {
			return err
		}
		l.HardwareAddr = mac
	}
	return nil
}
