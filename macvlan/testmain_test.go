package macvlan_test

import (
	"testing"

	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestMain runs the tests as any user: see netnsxtest.Main.
func TestMain(m *testing.M) { netnsxtest.Main(m) }
