// Package failpoint is the seam through which tests make a step of a multi-step constructor
// fail, to prove that the constructor removes what it made. In normal use no hook is set
// and Step costs one atomic load.
package failpoint

import "sync/atomic"

var hook atomic.Pointer[func(step string) error]

// Step returns the error the installed hook gives for step, or nil. Constructors call it
// before each kernel step, naming the step as "package.op: step".
func Step(step string) error {
	if f := hook.Load(); f != nil {
		return (*f)(step)
	}
	return nil
}

// Set installs f until the returned function is called. Tests only.
func Set(f func(step string) error) (restore func()) {
	hook.Store(&f)
	return func() { hook.Store(nil) }
}
