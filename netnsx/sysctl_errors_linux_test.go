package netnsx_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationSysctlNotASetting: a key that names a directory of settings is a bad
// argument, and one that goes through a setting names nothing.
func TestIntegrationSysctlNotASetting(t *testing.T) {
	ns := netnsxtest.New(t)
	_, err := ns.Sysctl("net.ipv4")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.ErrorIs(t, ns.SetSysctl("net.ipv4", "1"), netnsx.ErrInvalid)
	_, err = ns.Sysctl("net.ipv4.ip_forward.x")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	require.ErrorIs(t, ns.SetSysctl("net.ipv4.ip_forward.x", "1"), netnsx.ErrNotFound)
}
