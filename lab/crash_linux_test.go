package lab_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// crashSpec is a lab with a bridge, links and a process for a crash to interrupt.
func crashSpec(t *testing.T) *lab.Spec {
	s := prefixed(load(t, "article-local.yaml"))
	s.Name = "crash"
	n := s.Topology.Nodes["container-2"]
	n.Start = []string{"exec sleep 600"}
	s.Topology.Nodes["container-2"] = n
	return s
}

// TestHelperCrashBuild is not a test: TestIntegrationDestroyAfterCrash runs it in a child
// process, which builds crashSpec and kills itself with SIGKILL once LAB_CRASH_AT
// ("phase:done") is reported.
func TestHelperCrashBuild(t *testing.T) {
	at := os.Getenv("LAB_CRASH_AT")
	if at == "" {
		t.Skip("a helper process for TestIntegrationDestroyAfterCrash")
	}
	s := crashSpec(t)
	s.Prefix = os.Getenv("LAB_CRASH_PREFIX")
	_, err := lab.Build(context.Background(), s, &lab.Options{StateDir: os.Getenv("LAB_CRASH_DIR"), Persist: true,
		Progress: func(e lab.Event) {
			if e.Phase+":"+strconv.Itoa(e.Done) == at {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Hour)
			}
		}})
	t.Fatalf("Build returned (%v): it should have been killed at %s", err, at)
}

// TestIntegrationDestroyAfterCrash kills a process in the middle of Build — after the
// first link, and after its process started — and checks that Destroy removes all the
// lab had made (namespaces, the process) and nothing else.
func TestIntegrationDestroyAfterCrash(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	for _, at := range []string{"nodes:2", "links:1", "start:1"} {
		t.Run(at, func(t *testing.T) {
			s := crashSpec(t)
			dir := t.TempDir()
			// A bystander whose name the lab would use if its prefix were shorter: it
			// must survive Destroy.
			bystander := netnsxtest.New(t, "bystander")
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashBuild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LAB_CRASH_AT="+at, "LAB_CRASH_PREFIX="+s.Prefix, "LAB_CRASH_DIR="+dir)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper: %v, want killed by SIGKILL; output:\n%s", err, out)
			}
			left := leftovers(t, s)
			if len(left) == 0 {
				t.Fatalf("the crashed Build left nothing to destroy")
			}
			var sleeper int
			if at == "start:1" {
				sleeper = findSleeper(t, s.Prefix+"container-2")
			}
			// Build refuses while the crashed lab is there.
			if l, err := lab.Build(context.Background(), s, &lab.Options{StateDir: dir}); !errors.Is(err, netnsx.ErrExists) {
				l.Close()
				t.Errorf("Build over a crashed lab = %v, want ErrExists", err)
			}
			if err := lab.Destroy(s, &lab.Options{StateDir: dir}); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
			if left := leftovers(t, s); len(left) > 0 {
				t.Errorf("namespaces left after Destroy: %v", left)
			}
			if sleeper > 0 {
				deadline := time.Now().Add(5 * time.Second)
				for syscall.Kill(sleeper, 0) == nil && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if err := syscall.Kill(sleeper, 0); err == nil {
					b, _ := os.ReadFile("/proc/" + strconv.Itoa(sleeper) + "/stat")
					if !strings.Contains(string(b), ") Z ") {
						t.Errorf("the lab's process %d still runs after Destroy", sleeper)
					}
				}
			}
			if _, err := bystander.Link("lo"); err != nil {
				t.Errorf("a namespace not of the lab: %v", err)
			}
			if files, _ := os.ReadDir(dir); len(files) != 0 {
				t.Errorf("state files after Destroy: %v", files)
			}
			if err := lab.Destroy(s, &lab.Options{StateDir: dir}); err != nil {
				t.Errorf("a second Destroy: %v", err)
			}
		})
	}
}

// findSleeper returns the PID of the `sleep 600` running in namespace ns.
func findSleeper(t *testing.T, ns string) int {
	t.Helper()
	var out []byte
	// The shell may not have exec'd sleep yet when the Build was killed: wait for it.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		out, err = exec.Command("ip", "netns", "pids", ns).Output()
		if err != nil {
			t.Fatalf("ip netns pids %s: %v", ns, err)
		}
		for _, f := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(f)
			if b, _ := os.ReadFile("/proc/" + f + "/cmdline"); strings.HasPrefix(string(b), "sleep") {
				return pid
			}
		}
	}
	t.Errorf("no sleep running in %s (pids %q)", ns, out)
	return 0
}
