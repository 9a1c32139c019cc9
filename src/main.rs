//! The `fastshap` command: a thin layer over the library (see `src/cli/`).

fn main() {
    // Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid" on every start when it is unset
    // (containers, CI); point it at the temp dir before any thread or driver exists.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: first statement of main, before any other thread is started.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    std::process::exit(fastshap::cli::main());
}
