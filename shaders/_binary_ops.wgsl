// The binary op table shared by binary.wgsl and binary_bcast.wgsl (prepended to both).

override OP: u32 = 0u;

const ADD: u32 = 0u;
const SUB: u32 = 1u;
const MUL: u32 = 2u;
const DIV: u32 = 3u;
const MAX: u32 = 4u;
const MIN: u32 = 5u;
const POW: u32 = 6u;
const GE: u32 = 7u;   // 1 where a >= b
const LT: u32 = 8u;   // 1 where a < b
const LE: u32 = 9u;   // 1 where a <= b
const GT: u32 = 10u;  // 1 where a > b

fn g(a: f32, b: f32) -> f32 {
    switch OP {
        case ADD: { return a + b; }
        case SUB: { return a - b; }
        case MUL: { return a * b; }
        case DIV: { return a / b; }
        case MAX: { return max(a, b); }
        case MIN: { return min(a, b); }
        case POW: { return pow(a, b); }
        case GE: { return select(0.0, 1.0, a >= b); }
        case LT: { return select(0.0, 1.0, a < b); }
        case LE: { return select(0.0, 1.0, a <= b); }
        case GT: { return select(0.0, 1.0, a > b); }
        default: { return a; }
    }
}
