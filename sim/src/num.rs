//! Numbers: one fixed-point alias and integer geometry helpers. No floats, no libm.

/// The simulation's fixed-point number: 16 integer bits, 16 fraction bits, in an `i32`.
///
/// Positions along a path are measured in cells (a path is far shorter than 32 767 cells) and
/// speeds in cells per tick, so 1/65 536 of a cell is ample resolution, and the products stay
/// in one 64-bit multiply.
pub type Fx = fixed::types::I16F16;

/// Builds an [`Fx`] from a ratio of small integers, rounding toward zero.
///
/// `const` so tables of rules can be written as readable fractions.
pub const fn fx_ratio(numerator: i32, denominator: i32) -> Fx {
    assert!(denominator != 0, "fx_ratio needs a non-zero denominator");
    Fx::from_bits(((numerator as i64) << 16).wrapping_div(denominator as i64) as i32)
}

/// Integer square root: the largest `r` with `r * r <= n`.
pub const fn isqrt_u64(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    // Newton's iteration from an over-estimate decreases monotonically to floor(sqrt(n)).
    let mut x = 1u64 << ((64 - n.leading_zeros()).div_ceil(2));
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// Squared Euclidean distance between two grid cells.
pub const fn dist2(ax: i32, ay: i32, bx: i32, by: i32) -> u32 {
    let dx = ax.abs_diff(bx);
    let dy = ay.abs_diff(by);
    dx * dx + dy * dy
}

/// Euclidean distance between two grid cells as a fixed-point number of cells, rounded down to
/// 1/65 536 of a cell.
pub const fn distance(ax: i32, ay: i32, bx: i32, by: i32) -> Fx {
    // sqrt(d2 * 2^32) = sqrt(d2) * 2^16, i.e. sqrt(d2) in 16.16 fixed point.
    let root = isqrt_u64((dist2(ax, ay, bx, by) as u64) << 32);
    Fx::from_bits(root as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// isqrt is exact on squares and their neighbours, across the whole u64 range.
    #[test]
    fn isqrt_matches_definition() {
        for r in (0u64..5000).chain([65_535, 65_536, 4_294_967_295]) {
            let sq = r * r;
            assert_eq!(isqrt_u64(sq), r, "sqrt({sq})");
            if r > 0 {
                assert_eq!(isqrt_u64(sq - 1), r - 1, "sqrt({})", sq - 1);
            }
            assert_eq!(isqrt_u64(sq + r), r, "sqrt({})", sq + r);
        }
        assert_eq!(isqrt_u64(u64::MAX), 4_294_967_295);
    }

    /// distance is sqrt in 16.16 fixed point: 3-4-5 exactly, sqrt(2) to 1/65536.
    #[test]
    fn distance_is_fixed_point_sqrt() {
        assert_eq!(distance(0, 0, 3, 4), Fx::from_num(5));
        assert_eq!(distance(2, 2, 2, 2), Fx::ZERO);
        // sqrt(2) * 65536 = 92681.9...
        assert_eq!(distance(0, 0, 1, 1).to_bits(), 92_681);
        assert_eq!(fx_ratio(1, 2), Fx::from_bits(32_768));
        assert_eq!(fx_ratio(-3, 4), Fx::from_bits(-49_152));
    }
}
