//! The paper's networks, each parameterised by width/depth so tiny variants exist for tests and
//! CPU demos. Each file reads like its paper's figure.

pub mod mae;
pub mod player_head;
pub mod resnet;
pub mod resnet_explainer;
pub mod spec;
pub mod unet;
pub mod vit;
pub mod vit_explainer;

pub use mae::{Mae, MaeClassifier, MaeConfig, random_shuffles};
pub use resnet::{ResNet, ResNetCoalitions, ResNetConfig};
pub use resnet_explainer::{ResNetExplainer, ResNetExplainerConfig};
pub use spec::Plan;
pub use unet::{UNet, UNetConfig};
pub use vit::{Vit, VitCoalitions, VitConfig};
pub use vit_explainer::{VitExplainer, VitExplainerConfig};
