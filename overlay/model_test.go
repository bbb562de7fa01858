package overlay

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/vxlan"
)

func TestStatePut(t *testing.T) {
	k := keys("/p/")
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{"/p/networks/net1", `{"vni":4096,"subnet":"10.200.0.0/24"}`, true},
		{"/p/networks/net1", `{"vni":16777216,"subnet":"10.200.0.0/24"}`, false},
		{"/p/networks/net1", `{"vni":1,"subnet":"10.200.0.1/24"}`, false}, // not masked
		{"/p/networks/net1", `{"vni":1,"subnet":"fd00::/64"}`, false},
		{"/p/networks/n/1", `{"vni":1,"subnet":"10.200.0.0/24"}`, false},
		{"/p/hosts/h1", `{"vtep":"10.0.0.1"}`, true},
		{"/p/hosts/h1", `{"vtep":"239.0.0.1"}`, false},
		{"/p/hosts/h1", `{"vtep":"127.0.0.1"}`, false},
		{"/p/hosts/h1", `{"vtep":"255.255.255.255"}`, false},
		{"/p/endpoints/net1/224.0.0.5", `{"host":"h1","mac":"02:42:e0:00:00:05"}`, false},
		{"/p/endpoints/net1/0.0.0.0", `{"host":"h1","mac":"02:42:00:00:00:00"}`, false},
		{"/p/networks/n", `{"vni":0,"subnet":"10.200.0.0/24"}`, false},
		{"/p/networks/n", `{"vni":1,"subnet":"224.1.0.0/24"}`, false},
		{"/p/networks/n", `{"vni":1,"subnet":"127.0.0.0/8"}`, false},
		{"/p/networks/n", `{"vni":1,"subnet":"0.0.0.0/0"}`, false},
		{"/p/networks/n", `{"vni":1,"subnet":"0.0.0.0/24"}`, false},
		{"/p/networks/n", `{"vni":1,"subnet":"255.255.255.0/30"}`, false},
		{"/p/networks/..", `{"vni":1,"subnet":"10.200.0.0/24"}`, false},
		{"/p/hosts/h1", `{"vtep":`, false},
		{"/p/hosts/h 1", `{"vtep":"10.0.0.1"}`, false},
		{"/p/endpoints/net1/10.200.0.2", `{"host":"h1","mac":"02:42:0a:c8:00:02","name":"c1"}`, true},
		{"/p/endpoints/net1/10.200.0.02", `{"host":"h1","mac":"02:42:0a:c8:00:02"}`, false},
		{"/p/endpoints/net1/not-an-address", `{"host":"h1","mac":"02:42:0a:c8:00:02"}`, false},
		{"/p/endpoints/net1/10.200.0.2", `{"host":"h1","mac":"01:00:5e:00:00:01"}`, false},
		{"/p/endpoints/net1/10.200.0.2", `{"host":"","mac":"02:42:0a:c8:00:02"}`, false},
		{"/p/endpoints/net1", `{}`, false},
		{"/p/other/x", `{}`, false},
		{"/q/hosts/h1", `{"vtep":"10.0.0.1"}`, false},
	} {
		s := newState()
		err := s.put(k, tc.key, []byte(tc.value))
		if tc.ok {
			require.NoError(t, err, "%s = %s", tc.key, tc.value)
		} else {
			require.Error(t, err, "%s = %s", tc.key, tc.value)
			require.Empty(t, s.networks)
			require.Empty(t, s.hosts)
			require.Empty(t, s.endpoints)
		}
	}
}

// TestStatePeers: a host's device gets every other host and the endpoints behind
// them; an endpoint whose host is unknown, or outside its network's subnet, is left
// out, so is a host claiming this host's VTEP, and of two endpoints claiming one MAC
// only the first by key.
func TestStatePeers(t *testing.T) {
	k := keys("/p/")
	s := newState()
	for key, v := range map[string]string{
		"/p/hosts/h1":                  `{"vtep":"10.0.0.1"}`,
		"/p/hosts/h2":                  `{"vtep":"10.0.0.2"}`,
		"/p/hosts/imposter":            `{"vtep":"10.0.0.1"}`, // h1's own VTEP
		"/p/networks/net1":             `{"vni":4096,"subnet":"10.200.0.0/24"}`,
		"/p/endpoints/net1/10.201.9.9": `{"host":"h2","mac":"02:42:0a:c9:09:09"}`, // not in net1
		"/p/endpoints/net1/10.200.0.9": `{"host":"imposter","mac":"02:42:0a:c8:00:09"}`,
		"/p/endpoints/net1/10.200.0.2": `{"host":"h1","mac":"02:42:0a:c8:00:02"}`,
		"/p/endpoints/net1/10.200.0.3": `{"host":"h2","mac":"02:42:0a:c8:00:03"}`,
		"/p/endpoints/net1/10.200.0.4": `{"host":"h2","mac":"02:42:0a:c8:00:03"}`, // the same MAC
		"/p/endpoints/net1/10.200.0.5": `{"host":"h9","mac":"02:42:0a:c8:00:05"}`, // no such host
		"/p/endpoints/net2/10.201.0.2": `{"host":"h2","mac":"02:42:0a:c9:00:02"}`, // another network
	} {
		require.NoError(t, s.put(k, key, []byte(v)))
	}
	h1 := Host{Name: "h1", VTEP: netip.MustParseAddr("10.0.0.1")}
	got := s.peers(k, h1, "net1")
	a := netip.MustParseAddr
	require.ElementsMatch(t, []vxlan.Peer{
		{VTEP: a("10.0.0.2")},
		{VTEP: a("10.0.0.2"), MAC: macOf(a("10.200.0.3")), IP: a("10.200.0.3")},
	}, got)
	s.del("/p/hosts/h2")
	require.Empty(t, s.peers(k, h1, "net1"))
}
