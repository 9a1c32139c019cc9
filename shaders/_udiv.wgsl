// Division by a runtime divisor with multiplies and shifts (src/ops/divisor.rs computes the
// magic number and shifts on the host): CPU adapters have no vector integer division, so `/`
// and `%` by a runtime value run one lane at a time; these run as vector instructions.

// The high 32 bits of the 64-bit product a·b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhi(a: u32, b: u32) -> u32 {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let lh = al * bh;
    let hl = ah * bl;
    let mid = ((al * bl) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    return ah * bh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

// ⌊n / d⌋ for the divisor whose magic multiplier and packed shifts (sh1 | sh2 << 8) are given.
fn udiv(n: u32, magic: u32, shifts: u32) -> u32 {
    let t = mulhi(magic, n);
    return (t + ((n - t) >> (shifts & 0xffu))) >> (shifts >> 8u);
}
