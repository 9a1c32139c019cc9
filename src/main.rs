//! The `fastshap` command: a thin layer over the library (see `src/cli/`).

fn main() {
    std::process::exit(fastshap::cli::main());
}
