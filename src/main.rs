fn main() {
    println!(
        "{:?}",
        fastshap::Tensor::ones(&[3]).unwrap().to_vec().unwrap()
    );
}
