//! The `bitzel-sandbox` binary: the helper `bitzel` runs for every
//! sandboxed task (see `bitzel::sandbox`). It is a separate binary so that
//! starting it does not load libpython; it takes no arguments and reads
//! its plan from the control socket on stdin.

fn main() {
    bitzel::sandbox::init::helper_main()
}
