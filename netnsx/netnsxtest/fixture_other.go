//go:build !linux

package netnsxtest

import (
	"os"

	"github.com/nstopo/nstopo/netnsx"
)

func newFixture(label string) (*netnsx.NS, *os.File, error) {
	ns, err := netnsx.New(fixtureName(label))
	return ns, nil, err
}

func sweep(string) bool { return false }
