//! Where a NaN comes from. Normally off: one thread-local flag test per op. A trainer whose loss
//! turned non-finite replays that step inside [`watch`] with per-op checks on: every op's output
//! (forward, [`crate::Tensor::from_op`]) and every gradient a backward rule returns
//! ([`super::backward`]) is read back, and the first non-finite one is reported with the op's
//! name and the layer its parameters belong to. Reading back every op costs a sync each, which
//! is why it only runs on the step already known to be bad.
//!
//! The same hooks inject faults for tests: [`Fault`] turns the first matching op's output (or
//! gradient) into NaN.

use crate::Tensor;
use anyhow::{Result, bail};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// An op forced to produce NaN: `OP`, `OP@LAYER` or `grad:OP[@LAYER]` (its gradient instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub op: String,
    /// Only the op inside this layer (e.g. `layer1.0.conv1`); any when `None`.
    pub layer: Option<String>,
    /// Poison the gradient the op's backward rule returns, not its output.
    pub backward: bool,
}

impl std::str::FromStr for Fault {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Fault> {
        let (backward, rest) = match s.strip_prefix("grad:") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (op, layer) = match rest.split_once('@') {
            Some((o, l)) => (o, Some(l.to_string())),
            None => (rest, None),
        };
        if op.is_empty() || layer.as_deref() == Some("") {
            bail!("fault {s:?}: expected OP, OP@LAYER or grad:OP[@LAYER]");
        }
        Ok(Fault {
            op: op.to_string(),
            layer,
            backward,
        })
    }
}

/// Why a value was first seen non-finite.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    /// The op turned finite inputs into a non-finite output (or gradient).
    Produced,
    /// A parameter was already non-finite: the previous optimizer update made it so.
    Parameter(String),
    /// An input that no recorded op made (data, a constant) was non-finite.
    Input,
}

/// The first non-finite value of a watched step.
#[derive(Clone, Debug, PartialEq)]
pub struct NonFinite {
    /// The op (`conv2d`); in the backward pass, the op whose gradient rule it was.
    pub op: &'static str,
    pub backward: bool,
    /// The layer the op belongs to (one of its inputs is that layer's parameter).
    pub layer: Option<String>,
    /// Otherwise the last layer an op ran in before it.
    pub after: Option<String>,
    /// The first bad value (NaN, inf or -inf).
    pub value: f32,
    pub cause: Cause,
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match (&self.layer, &self.after) {
            (Some(l), _) => format!(" in layer {l}"),
            (None, Some(a)) => format!(" (after layer {a})"),
            (None, None) => String::new(),
        };
        let what = if self.backward {
            format!("the gradient of op {}{place}", self.op)
        } else {
            format!("op {}{place}", self.op)
        };
        match &self.cause {
            Cause::Produced => write!(f, "{} first produced by {what}", self.value),
            Cause::Parameter(p) => write!(
                f,
                "parameter {p} was already {} when {what} read it (the previous optimizer \
                 update produced it)",
                self.value
            ),
            Cause::Input => write!(f, "{what} was given a non-finite input ({})", self.value),
        }
    }
}

struct Watch {
    /// Parameter tensor id → its name (`layer1.0.conv1.weight`).
    params: HashMap<usize, String>,
    /// Ids of tensors computed from one layer's parameters alone (a transposed weight) → layer.
    derived: HashMap<usize, String>,
    check: bool,
    fault: Option<Fault>,
    /// The op whose backward rule is running, with its layer.
    in_backward: Option<(&'static str, Option<String>)>,
    last_layer: Option<String>,
    found: Option<NonFinite>,
}

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// `layer1.0.conv1` of `layer1.0.conv1.weight`.
fn layer_of(param: &str) -> String {
    param.rsplit_once('.').map_or(param, |(l, _)| l).to_string()
}

/// Runs `f` with the hooks on: per-op finite checks when `check`, the `fault` when given.
/// `params` name the model's parameters (for layers). Returns `f`'s result and the first
/// non-finite value the checks saw (always `None` without `check`).
pub fn watch<T>(
    params: &[(String, Tensor)],
    check: bool,
    fault: Option<Fault>,
    f: impl FnOnce() -> Result<T>,
) -> (Result<T>, Option<NonFinite>) {
    let w = Watch {
        params: params.iter().map(|(n, t)| (t.id(), n.clone())).collect(),
        derived: HashMap::new(),
        check,
        fault,
        in_backward: None,
        last_layer: None,
        found: None,
    };
    WATCH.with(|c| *c.borrow_mut() = Some(w));
    ACTIVE.with(|a| a.set(true));
    let r = f();
    ACTIVE.with(|a| a.set(false));
    let w = WATCH.with(|c| c.borrow_mut().take());
    (r, w.and_then(|w| w.found))
}

fn active() -> bool {
    ACTIVE.with(|a| a.get())
}

/// The first non-finite value of `t`, reading it back.
fn first_bad(t: &Tensor) -> Option<f32> {
    t.to_vec().ok()?.into_iter().find(|v| !v.is_finite())
}

/// Why `inputs` gave a non-finite result: a bad parameter or other input, else the op itself.
fn cause(w: &Watch, inputs: &[&Tensor]) -> Cause {
    for i in inputs {
        if first_bad(i).is_some() {
            return match w.params.get(&i.id()) {
                Some(p) => Cause::Parameter(p.clone()),
                None => Cause::Input,
            };
        }
    }
    Cause::Produced
}

/// The layer whose parameters one of `inputs` is (or is computed from).
fn layer_of_inputs(w: &Watch, inputs: &[&Tensor]) -> Option<String> {
    inputs.iter().find_map(|i| {
        w.params
            .get(&i.id())
            .map(|p| layer_of(p))
            .or_else(|| w.derived.get(&i.id()).cloned())
    })
}

/// Hook for every op's result (called by `Tensor::from_op`).
pub(crate) fn on_output(name: &'static str, inputs: &[&Tensor], out: &Tensor) {
    if !active() {
        return;
    }
    WATCH.with(|c| {
        let mut guard = c.borrow_mut();
        let Some(w) = guard.as_mut() else { return };
        let in_backward = w.in_backward.is_some();
        let layer = layer_of_inputs(w, inputs);
        if !in_backward && let Some(l) = &layer {
            let all_params = inputs
                .iter()
                .all(|i| w.params.contains_key(&i.id()) || w.derived.contains_key(&i.id()));
            if all_params {
                w.derived.insert(out.id(), l.clone());
            }
            w.last_layer = Some(l.clone());
        }
        if !in_backward
            && let Some(f) = &w.fault
            && !f.backward
            && f.op == name
            && (f.layer.is_none() || f.layer == layer)
        {
            w.fault = None;
            let _ = out.fill(f32::NAN);
        }
        if !w.check || w.found.is_some() {
            return;
        }
        let Some(value) = first_bad(out) else { return };
        let (op, backward, layer) = match &w.in_backward {
            Some((op, l)) => (*op, true, l.clone()),
            None => (name, false, layer),
        };
        w.found = Some(NonFinite {
            op,
            backward,
            after: if layer.is_none() {
                w.last_layer.clone()
            } else {
                None
            },
            layer,
            value,
            // Inside a backward rule the incoming gradient was checked finite already.
            cause: if backward {
                Cause::Produced
            } else {
                cause(w, inputs)
            },
        });
    });
}

/// Marks the backward rule of `op` (with `inputs`) as running until the guard drops.
pub(crate) struct BackwardScope(bool);

impl Drop for BackwardScope {
    fn drop(&mut self) {
        if self.0 {
            WATCH.with(|c| {
                if let Some(w) = c.borrow_mut().as_mut() {
                    w.in_backward = None;
                }
            });
        }
    }
}

pub(crate) fn enter_backward(op: &'static str, inputs: &[Tensor]) -> BackwardScope {
    if !active() {
        return BackwardScope(false);
    }
    WATCH.with(|c| {
        if let Some(w) = c.borrow_mut().as_mut() {
            let refs: Vec<&Tensor> = inputs.iter().collect();
            w.in_backward = Some((op, layer_of_inputs(w, &refs)));
        }
    });
    BackwardScope(true)
}

/// Hook for the gradients a backward rule of `op` returned (called by [`super::backward`]).
pub(crate) fn on_gradients(op: &'static str, inputs: &[Tensor], grads: &[Option<Tensor>]) {
    if !active() {
        return;
    }
    WATCH.with(|c| {
        let mut guard = c.borrow_mut();
        let Some(w) = guard.as_mut() else { return };
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let layer = layer_of_inputs(w, &refs);
        if let Some(f) = &w.fault
            && f.backward
            && f.op == op
            && (f.layer.is_none() || f.layer == layer)
            && let Some(g) = grads.iter().flatten().next()
        {
            w.fault = None;
            let _ = g.fill(f32::NAN);
        }
        if !w.check || w.found.is_some() {
            return;
        }
        if let Some(value) = grads.iter().flatten().find_map(first_bad) {
            w.found = Some(NonFinite {
                op,
                backward: true,
                after: None,
                layer,
                value,
                cause: Cause::Produced,
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        let f: Fault = "grad:conv2d@layer1.0.conv1".parse().unwrap();
        assert_eq!(
            f,
            Fault {
                op: "conv2d".into(),
                layer: Some("layer1.0.conv1".into()),
                backward: true
            }
        );
        let f: Fault = "matmul".parse().unwrap();
        assert!(!f.backward && f.layer.is_none() && f.op == "matmul");
        for bad in ["", "grad:", "@head", "matmul@"] {
            assert!(bad.parse::<Fault>().is_err(), "{bad:?}");
        }
    }
}
