//! The paper's networks: parameter counts of the full-size models (built, not trained), PyTorch
//! parity on reduced widths (fixtures from tools/torch_fixtures.py), and checkpoint round trips.

use fastshap::models::*;
use fastshap::nn::{Module, init_rng};
use fastshap::no_grad;

#[test]
fn full_size_parameter_counts() {
    let mut rng = init_rng(0);
    let _g = no_grad();
    let count = |m: &dyn Module| m.parameter_count();
    assert_eq!(
        count(&ResNet::new(ResNetConfig::resnet18(3, 10), &mut rng).unwrap()),
        11_173_962
    );
    assert_eq!(
        count(&ResNet::new(ResNetConfig::resnet18(4, 10), &mut rng).unwrap()),
        11_174_538
    );
    assert_eq!(
        count(&Vit::new(VitConfig::cifar(3), &mut rng).unwrap()),
        6_268_810
    );
    assert_eq!(
        count(&Vit::new(VitConfig::cifar(4), &mut rng).unwrap()),
        6_274_954
    );
    assert_eq!(
        count(&Vit::new(VitConfig::cifar_192_768(3), &mut rng).unwrap()),
        3_138_442
    );
    assert_eq!(
        count(&UNet::new(UNetConfig::fastshap_cifar(), &mut rng).unwrap()),
        1_481_610
    );
    let mae = Mae::new(MaeConfig::vit_tiny(), &mut rng).unwrap();
    assert_eq!(count(&mae), 7_221_900);
    assert_eq!(
        count(&MaeClassifier::from_mae(mae, 10, &mut rng).unwrap()),
        5_392_522
    );
}
