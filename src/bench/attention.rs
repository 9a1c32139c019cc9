//! (placeholder: being written)
use super::Row;

pub fn run(_batch: usize) -> anyhow::Result<Vec<Row>> {
    anyhow::bail!("the attention benchmark is not built yet")
}
