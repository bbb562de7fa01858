package userns_test

import (
	"fmt"
	"log"
	"os"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/userns"
)

// A program that builds namespaces as any user: Enter comes first in main, before
// anything that should not run twice.
func Example() {
	if err := userns.Enter(); err != nil {
		log.Fatal(err) // user namespaces are disabled; the error says how to enable them
	}
	ns, err := netnsx.New("lab")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Delete()
	fmt.Fprintln(os.Stderr, "inside a user namespace of our own:", userns.Inside())
}
