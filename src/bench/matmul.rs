//! (placeholder: being written)
use super::Row;

pub fn run(_sizes: &[usize]) -> anyhow::Result<Vec<Row>> {
    anyhow::bail!("the matmul benchmark is not built yet")
}
