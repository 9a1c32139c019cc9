//! fastshap's explainer in a browser: the same engine, models and kernels as the native build,
//! compiled for wasm32 and run on the page's WebGPU adapter (the user's GPU). The page
//! (web/index.html, copied by `fastshap web`) fetches the checkpoints and calls [`start`] once,
//! then [`explain`] per image. Every value crosses to JavaScript as JSON; every failure as one
//! message.

use anyhow::{Context, Result};
use fastshap::Tensor;
use fastshap::fastshap::{Explainer, Surrogate, explainer::explain_batch_async};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

struct Session {
    explainer: Explainer,
    surrogate: Surrogate,
}

thread_local! {
    /// The page's one session (a page runs on one thread; the engine's context is global too).
    static SESSION: RefCell<Option<std::rc::Rc<Session>>> = const { RefCell::new(None) };
}

fn js_error(e: anyhow::Error) -> JsError {
    JsError::new(&format!("{e:#}"))
}

/// Opens the page's WebGPU device and loads the explainer and its surrogate from their
/// checkpoint bytes. Returns JSON: adapter, backend, kernel class, classes, superpixel size.
#[wasm_bindgen]
pub async fn start(explainer: Vec<u8>, surrogate: Vec<u8>) -> Result<String, JsError> {
    start_inner(explainer, surrogate).await.map_err(js_error)
}

async fn start_inner(explainer: Vec<u8>, surrogate: Vec<u8>) -> Result<String> {
    let ctx = fastshap::gpu::init_async(&fastshap::gpu::Options::default()).await?;
    let (explainer, _) = Explainer::from_bytes("explainer.safetensors", &explainer)?;
    let surrogate = Surrogate::from_bytes("surrogate.safetensors", &surrogate)?;
    let info = serde_json::json!({
        "adapter": ctx.info.name,
        "backend": format!("{:?}", ctx.info.backend),
        "kernel_class": format!("{:?}", ctx.kernel_class()),
        "subgroups": ctx.has_subgroups(),
        "classes": explainer.classes,
        "superpixel": explainer.superpixel(),
    });
    SESSION.with(|s| {
        *s.borrow_mut() = Some(std::rc::Rc::new(Session {
            explainer,
            surrogate,
        }))
    });
    Ok(info.to_string())
}

/// Explains one JPEG or PNG (any size; resized to 32×32 as `fastshap explain` does). Returns
/// JSON: `probs` [K] (the surrogate's on the full image), `phi` [P·K] row-major by player,
/// `players`, `image` (the 32×32 RGB the model saw, row-major HWC).
#[wasm_bindgen]
pub async fn explain(image: Vec<u8>) -> Result<String, JsError> {
    explain_inner(&image).await.map_err(js_error)
}

async fn explain_inner(bytes: &[u8]) -> Result<String> {
    let session = SESSION
        .with(|s| s.borrow().clone())
        .context("the explainer is not loaded yet")?;
    let rgb = image::load_from_memory(bytes)
        .context("this file is not a JPEG or PNG image the decoder can read")?
        .to_rgb8();
    let chw = fastshap::data::images::to_model_input(&rgb);
    let mut x = Vec::with_capacity(chw.len());
    fastshap::data::normalize_into(&chw, &mut x);
    let side = fastshap::data::SIDE;
    let x = Tensor::from_slice(&x, &[1, 3, side, side])?;
    let ex = explain_batch_async(&session.explainer, &session.surrogate, &x).await?;
    let hwc: Vec<u8> = (0..side * side)
        .flat_map(|i| (0..3).map(move |c| (c, i)))
        .map(|(c, i)| chw[c * side * side + i])
        .collect();
    Ok(serde_json::json!({
        "probs": ex.probs,
        "phi": ex.phi_of(0),
        "players": ex.players,
        "image": hwc,
    })
    .to_string())
}
