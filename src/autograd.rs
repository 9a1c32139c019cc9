//! The autodiff tape. Every op that produces a tensor needing a gradient records a [`Node`]
//! ([`Tensor::from_op`]): its inputs and a backward closure written next to the op's forward
//! (micrograd style). [`backward`] orders the recorded graph topologically and walks it in
//! reverse — the tape played backwards — accumulating gradients; leaves that require grad keep
//! theirs in `.grad`. The tensor (`crate::tensor`) is the floor below: it carries the node but
//! records nothing.

pub mod trace;

use crate::tensor::{Node, Tensor};
use anyhow::{Result, bail};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub fn is_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Restores the previous grad mode when dropped.
pub struct GradGuard(bool);

impl Drop for GradGuard {
    fn drop(&mut self) {
        ENABLED.with(|e| e.set(self.0));
    }
}

/// Turns recording off until the guard is dropped (`let _g = no_grad();`).
pub fn no_grad() -> GradGuard {
    GradGuard(ENABLED.with(|e| e.replace(false)))
}

/// Runs `f` without recording.
pub fn with_no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _g = no_grad();
    f()
}

impl Tensor {
    /// The result of an op: records `backward` when grad mode is on and an input needs a grad.
    pub(crate) fn from_op(
        out: Tensor,
        name: &'static str,
        inputs: &[&Tensor],
        backward: impl Fn(&Tensor, &Tensor) -> Result<Vec<Option<Tensor>>> + 'static,
    ) -> Tensor {
        let needs = is_enabled() && inputs.iter().any(|t| t.requires_grad());
        let t = if needs {
            let node = Node {
                name,
                inputs: inputs.iter().map(|t| (*t).clone()).collect(),
                backward: Box::new(backward),
            };
            Tensor::wrap(out.0.buf.clone(), out.0.shape.clone(), true, Some(node))
        } else {
            out
        };
        trace::on_output(name, inputs, &t);
        t
    }

    /// Back-propagates from this scalar: every leaf that requires grad gains `d self / d leaf`.
    pub fn backward(&self) -> Result<()> {
        backward(self)
    }
}

/// Nodes reachable from `root`, inputs before outputs (iterative DFS: graphs of deep models
/// would overflow the stack with recursion).
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(Tensor, bool)> = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = &t.0.node {
            for i in &node.inputs {
                if i.requires_grad() && !seen.contains(&i.id()) {
                    stack.push((i.clone(), false));
                }
            }
        }
    }
    order
}

pub fn backward(root: &Tensor) -> Result<()> {
    if !root.requires_grad() {
        bail!(
            "backward() on a tensor that does not require grad (shape {:?})",
            root.shape()
        );
    }
    if root.numel() != 1 {
        bail!(
            "backward() needs a scalar loss, got shape {:?}",
            root.shape()
        );
    }
    let _g = no_grad();
    let order = topo_order(root);
    let mut grads: HashMap<usize, Tensor> = HashMap::new();
    grads.insert(root.id(), Tensor::ones(root.shape())?);
    for t in order.iter().rev() {
        let Some(g) = grads.remove(&t.id()) else {
            continue;
        };
        match &t.0.node {
            None => {
                // A leaf: accumulate into .grad.
                let acc = match t.grad() {
                    Some(old) => old.add(&g)?,
                    None => g,
                };
                t.set_grad(Some(acc));
            }
            Some(node) => {
                // Per-op checks and faults attribute what happens here to this node.
                let _scope = trace::enter_backward(node.name, &node.inputs);
                let input_grads = (node.backward)(t, &g)?;
                trace::on_gradients(node.name, &node.inputs, &input_grads);
                if input_grads.len() != node.inputs.len() {
                    bail!(
                        "backward of {} returned {} grads for {} inputs",
                        node.name,
                        input_grads.len(),
                        node.inputs.len()
                    );
                }
                for (inp, ig) in node.inputs.iter().zip(input_grads) {
                    let Some(ig) = ig else { continue };
                    if !inp.requires_grad() {
                        continue;
                    }
                    if ig.shape() != inp.shape() {
                        bail!(
                            "backward of {}: gradient shape {:?} does not match input shape {:?}",
                            node.name,
                            ig.shape(),
                            inp.shape()
                        );
                    }
                    let acc = match grads.remove(&inp.id()) {
                        Some(old) => old.add(&ig)?,
                        None => ig,
                    };
                    grads.insert(inp.id(), acc);
                }
            }
        }
    }
    Ok(())
}
