package userns

// env marks the re-executed child; the child removes it once set up, so that programs it
// runs (a test binary re-running itself, say) treat the namespaces as theirs.
const env = "NSTOPO_USERNS_CHILD"

// Off is the environment variable that, set to "1", makes Enter do nothing: for a
// process that must run as it was started, such as a test of what an unprivileged
// caller is told.
const Off = "NSTOPO_USERNS_OFF"
