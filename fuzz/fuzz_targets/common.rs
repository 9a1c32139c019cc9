//! Wraps fuzz bytes into the tar archives the loaders read, so the fuzzer spends its time in our
//! parsers rather than in learning the tar format.

/// A plain tar holding `files` (path, contents).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).expect("in-memory tar");
    }
    b.into_inner().expect("in-memory tar")
}
