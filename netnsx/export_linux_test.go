package netnsx

// SetNewProc replaces how sysctls reach a private procfs for one test; the returned
// function restores it.
func SetNewProc(f func(real func() (int, error)) (int, error)) (restore func()) {
	old := newProc
	newProc = func() (int, error) { return f(old) }
	return func() { newProc = old }
}
