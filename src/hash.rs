//! The Fx hash used by the index, the text normaliser and the features.

use std::hash::Hasher;

/// The Fx hash (as in rustc), fed byte by byte: terms are short strings looked up millions of
/// times. Index ids are given in order of first appearance, never in hash order; character
/// n-grams longer than three are keyed by this hash, and sums over token maps run in its
/// order, so it is fixed: the same in every build and on every machine.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
