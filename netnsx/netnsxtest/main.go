package netnsxtest

import (
	"os"
	"testing"

	"github.com/nstopo/nstopo/userns"
)

// enterErr is why Main could not carry the test binary into a user namespace; the
// tests' skip messages repeat it.
var enterErr error

// Main runs m's tests, as root or not. Without the privilege to make network
// namespaces it first re-executes the test binary inside user, network and mount
// namespaces of its own ([userns.Enter]), where the tests have it; the exit code, output,
// flags (-race, -cover, -cpuprofile, -outputdir, -run, -timeout), signals and examples
// behave as in a plain run. Where the kernel refuses user namespaces the tests run
// unprivileged and the kernel tests skip, saying why. Use it as TestMain:
//
//	func TestMain(m *testing.M) { netnsxtest.Main(m) }
func Main(m *testing.M) {
	enterErr = userns.Enter()
	os.Exit(m.Run())
}
