//! Two originals' agreement subsets on a test set and what is written from them — Table 3 with
//! `subsets.json`, and task 2's images of each subset through both explainers. `fastshap
//! compare` and the `reproduce` stages (tables, figures) call these, so they cannot drift.

use super::{Explained, Predictions, SUBSET_SLUGS, SUBSETS, TestSet, partition, pick};
use super::{side_by_side, table3};
use crate::fastshap::tables::Table;
use crate::viz::{HeatmapOptions, save_png};
use anyhow::Result;
use serde_json::{Value, json};
use std::path::Path;

/// The test-set indices of each agreement subset of A and B, in [`SUBSETS`] order.
pub struct Agreement<'t> {
    pub test: &'t TestSet,
    pub subsets: [Vec<usize>; 4],
}

/// How Table 3 and `subsets.json` describe a comparison.
pub struct About<'a> {
    /// Table 3's heading.
    pub title: &'a str,
    /// The paragraph under the table.
    pub notes: &'a str,
    /// The data source the test set came from.
    pub data: &'a str,
    /// What A and B are (`subsets.json`'s "a" and "b").
    pub a: Value,
    pub b: Value,
}

/// One task-2 image: its subset, title and file name in `out` (`None`: an empty subset).
pub struct Task2Image {
    pub subset: usize,
    pub title: String,
    pub file: Option<String>,
}

impl<'t> Agreement<'t> {
    /// The subsets of `test` by whether A's and B's predictions are right.
    pub fn new(test: &'t TestSet, a: &Predictions, b: &Predictions) -> Result<Agreement<'t>> {
        let subsets = partition(&test.data.labels, &a.pred, &b.pred)?;
        Ok(Agreement { test, subsets })
    }

    /// A's and B's accuracy on the test set.
    pub fn accuracy(&self) -> (f64, f64) {
        let n = self.test.data.len() as f64;
        let s = |i: usize, j: usize| (self.subsets[i].len() + self.subsets[j].len()) as f64 / n;
        (s(2, 3), s(1, 3))
    }

    /// `per_subset` images of each subset, spread over it.
    pub fn picked(&self, per_subset: usize) -> Vec<Vec<usize>> {
        (self.subsets.iter()).map(|s| pick(s, per_subset)).collect()
    }

    /// Writes `table3.md`, `table3.csv` and `subsets.json` (each subset's indices in the full
    /// test set) into `out`; returns the table.
    pub fn write(&self, out: &Path, about: &About) -> Result<Table> {
        let t = table3(&self.subsets);
        t.write(out, "table3", about.title, about.notes)?;
        let full_idx = |s: &[usize]| s.iter().map(|&i| self.test.index[i]).collect::<Vec<_>>();
        let info = json!({
            "a": about.a, "b": about.b, "data": about.data,
            "test_images": self.test.data.len(),
            "subsets": SUBSET_SLUGS.iter().zip(&self.subsets)
                .map(|(s, v)| (s.to_string(), json!(full_idx(v))))
                .collect::<serde_json::Map<_, _>>(),
        });
        crate::io::write_atomic(
            &out.join("subsets.json"),
            serde_json::to_string_pretty(&info)?.as_bytes(),
        )?;
        Ok(t)
    }

    /// Task 2: per subset, `picked` images through `a` and `b` side by side, saved as
    /// `out/task2-<subset>.png`; `names` are A's and B's names in the titles.
    pub fn task2(
        &self,
        out: &Path,
        (a, b): (&Explained, &Explained),
        names: (&str, &str),
        picked: &[Vec<usize>],
        opts: &HeatmapOptions,
    ) -> Result<Vec<Task2Image>> {
        let n = self.test.data.len();
        let mut images = Vec::new();
        for (i, idx) in picked.iter().enumerate() {
            let title = format!(
                "{} (A = {}, B = {}): {} of {n} test images",
                SUBSETS[i],
                names.0,
                names.1,
                self.subsets[i].len(),
            );
            let file = if idx.is_empty() {
                None
            } else {
                let img = side_by_side(&title, a, b, self.test, idx, opts)?;
                let file = format!("task2-{}.png", SUBSET_SLUGS[i]);
                save_png(&img, &out.join(&file))?;
                Some(file)
            };
            images.push(Task2Image {
                subset: i,
                title,
                file,
            });
        }
        Ok(images)
    }
}
