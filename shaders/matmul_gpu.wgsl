// Batched C = op(A)·op(B) for real GPUs: 64×64 output tile per workgroup of 16×16 threads, each
// thread a 4×4 register block, BK = 16 slices of op(A) and op(B) staged in workgroup memory.
// op(A) is M×K (A stored [K, M] when TA), op(B) is K×N (B stored [N, K] when TB), C is [M, N].
//
// Global loads walk each operand along its contiguous axis (k, or m/n when transposed) so
// neighbouring threads read neighbouring addresses; the tiles are stored k-major (As[k][m],
// Bs[k][n]) so the inner loop reads one row of each. A thread owns rows ty + 16·i and columns
// tx + 16·j: reads of Bs are conflict-free across a warp, reads of As are broadcasts, and the
// final stores are coalesced along n. Out-of-range elements load as 0 and are never stored.

override TA: bool = false;
override TB: bool = false;

const T: u32 = 64u;   // tile edge (M and N)
const BK: u32 = 16u;  // k-slice per barrier pair

struct Params { m: u32, n: u32, k: u32, sa: u32, sb: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;

@compute @workgroup_size(16, 16)
fn matmul_gpu(@builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(workgroup_id) wid: vec3<u32>) {
    let t = lid.y * 16u + lid.x;
    let mt = wid.y * T;
    let nt = wid.x * T;
    let abase = wid.z * p.sa;
    let bbase = wid.z * p.sb;
    var acc: array<vec4<f32>, 4>; // acc[i][j] = C[mt + ty + 16i, nt + tx + 16j]
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        // 64×16 values of each operand, 4 per thread.
        for (var e = 0u; e < 4u; e++) {
            let idx = e * 256u + t;
            var mm: u32; var ka: u32;
            if (TA) { mm = idx % T; ka = idx / T; } else { ka = idx % BK; mm = idx / BK; }
            let gm = mt + mm;
            let gka = k0 + ka;
            var va = 0.0;
            if (gm < p.m && gka < p.k) {
                if (TA) { va = a[abase + gka * p.m + gm]; } else { va = a[abase + gm * p.k + gka]; }
            }
            As[ka][mm] = va;

            var nn: u32; var kb: u32;
            if (TB) { kb = idx % BK; nn = idx / BK; } else { nn = idx % T; kb = idx / T; }
            let gn = nt + nn;
            let gkb = k0 + kb;
            var vb = 0.0;
            if (gn < p.n && gkb < p.k) {
                if (TB) { vb = b[bbase + gn * p.k + gkb]; } else { vb = b[bbase + gkb * p.n + gn]; }
            }
            Bs[kb][nn] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let av = vec4<f32>(As[kk][lid.y], As[kk][lid.y + 16u], As[kk][lid.y + 32u], As[kk][lid.y + 48u]);
            let bv = vec4<f32>(Bs[kk][lid.x], Bs[kk][lid.x + 16u], Bs[kk][lid.x + 32u], Bs[kk][lid.x + 48u]);
            acc[0] += av.x * bv;
            acc[1] += av.y * bv;
            acc[2] += av.z * bv;
            acc[3] += av.w * bv;
        }
        workgroupBarrier();
    }
    let cbase = wid.z * p.m * p.n;
    for (var i = 0u; i < 4u; i++) {
        let m = mt + lid.y + 16u * i;
        if (m >= p.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let n = nt + lid.x + 16u * j;
            if (n < p.n) { c[cbase + m * p.n + n] = acc[i][j]; }
        }
    }
}
