//! Helpers shared by the integration tests that drive the `fastshap` binary.

/// Runs the binary with `args`: (exit code, stdout, stderr).
pub fn fastshap_cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fastshap"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Saves `model` as an original checkpoint at `path` with the weights of its classifier head
/// (parameters named `head_prefix…`) scaled ×20, so a random network's predictions are confident
/// and vary between images.
#[allow(dead_code)]
pub fn save_confident(model: &fastshap::train::Model, head_prefix: &str, path: &std::path::Path) {
    use fastshap::nn::Module;
    for (name, t, _) in model.named_tensors() {
        if name.starts_with(head_prefix) {
            let v: Vec<f32> = t.to_vec().unwrap().iter().map(|x| x * 20.0).collect();
            t.assign(&fastshap::Tensor::from_slice(&v, t.shape()).unwrap())
                .unwrap();
        }
    }
    fastshap::checkpoint::save(model, model.metadata(), path).unwrap();
}
