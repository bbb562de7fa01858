package userns

// env marks the re-executed child; the child removes it once set up, so that programs it
// runs (a test binary re-running itself, say) treat the namespaces as theirs.
const env = "NSTOPO_USERNS_CHILD"
