//! Explainer error against ground-truth Shapley values (both P×K, player-major as everywhere
//! in this module): per-class L2 distance, Pearson and Spearman correlation, and the sign
//! agreement of the ground truth's top-k players by |φ|.

/// Mean over classes of each metric, for one image.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Errors {
    pub l2: f64,
    pub pearson: f64,
    pub spearman: f64,
    pub sign_agreement: f64,
}

pub fn l2(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Pearson correlation; NaN when either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

/// Ranks 1…n with ties given their average rank.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman correlation: Pearson on average ranks.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

/// Of the `k` players with the largest |truth|, the fraction where sign(est) = sign(truth).
pub fn sign_agreement(est: &[f64], truth: &[f64], k: usize) -> f64 {
    let mut order: Vec<usize> = (0..truth.len()).collect();
    order.sort_by(|&a, &b| truth[b].abs().total_cmp(&truth[a].abs()).then(a.cmp(&b)));
    let k = k.min(truth.len());
    if k == 0 {
        return f64::NAN;
    }
    let agree = order[..k]
        .iter()
        .filter(|&&i| est[i].signum() == truth[i].signum())
        .count();
    agree as f64 / k as f64
}

/// All metrics per class (columns of P×K layouts) averaged over the K classes.
pub fn errors(est: &[f64], truth: &[f64], players: usize, outputs: usize, top_k: usize) -> Errors {
    let col = |v: &[f64], o: usize| (0..players).map(|i| v[i * outputs + o]).collect::<Vec<_>>();
    let mut e = Errors::default();
    for o in 0..outputs {
        let (a, b) = (col(est, o), col(truth, o));
        e.l2 += l2(&a, &b);
        e.pearson += pearson(&a, &b);
        e.spearman += spearman(&a, &b);
        e.sign_agreement += sign_agreement(&a, &b, top_k);
    }
    let k = outputs as f64;
    Errors {
        l2: e.l2 / k,
        pearson: e.pearson / k,
        spearman: e.spearman / k,
        sign_agreement: e.sign_agreement / k,
    }
}

/// Mean of per-image errors.
pub fn mean_errors(per_image: &[Errors]) -> Errors {
    let n = per_image.len() as f64;
    let s = |f: fn(&Errors) -> f64| per_image.iter().map(f).sum::<f64>() / n;
    Errors {
        l2: s(|e| e.l2),
        pearson: s(|e| e.pearson),
        spearman: s(|e| e.spearman),
        sign_agreement: s(|e| e.sign_agreement),
    }
}
