//! `cargo bench --bench matmul [-- SIZES...]`: square matmul GFLOP/s on the default adapter
//! (the same measurement as `fastshap bench matmul`). Default sizes 256 512 1024 2048.

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![256, 512, 1024, 2048]
    } else {
        sizes
    };
    println!("adapter: {}", fastshap::gpu::ctx().info.name);
    let rows = fastshap::bench::matmul::run(&sizes)?;
    fastshap::bench::print_table(&rows);
    Ok(())
}
