//! The lane map: one path shape shared by every lane, and lookup tables derived from it.
//!
//! ```text
//!     x 0123456789     Every lane is LANE_W x LANE_H cells. Creeps enter at the top and
//! y  0 .#........     walk the path (#) to the bottom edge; there a creep spills into the
//! y  1 .#........     next player's lane, or, if it already spilled once (or plays alone),
//! y  2 .#........     hits the shared base. Towers stand on the other cells (.).
//! y  3 .########.
//! y  4 ........#.
//! y  5 ........#.
//! y  6 ........#.
//! y  7 .########.
//! y  8 .#........
//! y  9 .#........
//! y 10 .#........
//! y 11 .########.
//! y 12 ........#.
//! y 13 ........#.
//! y 14 ........#.
//! y 15 ........#.
//! ```
//!
//! The map is derived data: built from constants by [`Map::new`], never snapshotted or hashed.

use crate::num::dist2;
use crate::rules::{LANE_CELLS, LANE_H, LANE_W};

/// Corners of the path, in walking order. Consecutive corners share a row or a column.
const WAYPOINTS: [(u8, u8); 8] = [
    (1, 0),
    (1, 3),
    (8, 3),
    (8, 7),
    (1, 7),
    (1, 11),
    (8, 11),
    (8, 15),
];

/// Cells on the path.
pub const PATH_LEN: usize = 37;

/// Highest tower range the tables cover.
pub const RANGE_MAX: u8 = 4;

/// Marks a cell that is not on the path in [`Map::path_index`].
const OFF_PATH: u8 = u8::MAX;

const _: () = assert!(PATH_LEN < OFF_PATH as usize);
const _: () = assert!(WAYPOINTS[WAYPOINTS.len() - 1].1 == LANE_H - 1);

/// Whether each cell (row-major, as [`cell`]) is on the path, walked from [`WAYPOINTS`] at
/// compile time: for checks that have no [`Map`] at hand.
const ON_PATH: [bool; LANE_CELLS] = {
    let mut on = [false; LANE_CELLS];
    let mut i = 0;
    while i + 1 < WAYPOINTS.len() {
        let ((ax, ay), (bx, by)) = (WAYPOINTS[i], WAYPOINTS[i + 1]);
        let (x0, x1) = if ax < bx { (ax, bx) } else { (bx, ax) };
        let (y0, y1) = if ay < by { (ay, by) } else { (by, ay) };
        let mut y = y0;
        while y <= y1 {
            let mut x = x0;
            while x <= x1 {
                on[y as usize * LANE_W as usize + x as usize] = true;
                x += 1;
            }
            y += 1;
        }
        i += 1;
    }
    on
};

/// Whether `(x, y)`, a cell inside the lane, is on the path (as [`Map::on_path`]).
pub fn on_path(x: u8, y: u8) -> bool {
    ON_PATH[cell(x, y)]
}

/// The path and the tables the rules look things up in.
#[derive(Debug, Clone)]
pub struct Map {
    path: [(u8, u8); PATH_LEN],
    path_index: [u8; LANE_CELLS],
    /// For each cell and range 1..=RANGE_MAX: path indices within range, ascending.
    in_range: Vec<Vec<u8>>,
    /// For each path index: off-path cells touching it (8-neighbourhood), as cell numbers.
    beside: [Vec<u16>; PATH_LEN],
}

impl Map {
    /// Builds the map and its tables.
    pub fn new() -> Map {
        let path = walk_waypoints();
        let mut path_index = [OFF_PATH; LANE_CELLS];
        for (i, &(x, y)) in path.iter().enumerate() {
            path_index[cell(x, y)] = i as u8;
        }
        let mut in_range = Vec::with_capacity(LANE_CELLS * RANGE_MAX as usize);
        for c in 0..LANE_CELLS {
            let (cx, cy) = cell_xy(c);
            for range in 1..=RANGE_MAX {
                let r2 = u32::from(range) * u32::from(range);
                let list = (0..PATH_LEN as u8)
                    .filter(|&i| {
                        let (px, py) = path[i as usize];
                        dist2(cx.into(), cy.into(), px.into(), py.into()) <= r2
                    })
                    .collect();
                in_range.push(list);
            }
        }
        let beside = std::array::from_fn(|i| {
            let (px, py) = path[i];
            let mut cells = Vec::new();
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    let (x, y) = (i32::from(px) + dx, i32::from(py) + dy);
                    if in_lane(x, y) && path_index[cell(x as u8, y as u8)] == OFF_PATH {
                        cells.push(cell(x as u8, y as u8) as u16);
                    }
                }
            }
            cells
        });
        Map {
            path,
            path_index,
            in_range,
            beside,
        }
    }

    /// The path cells in walking order.
    pub fn path(&self) -> &[(u8, u8); PATH_LEN] {
        &self.path
    }

    /// The cell of path index `i`.
    pub fn path_cell(&self, i: usize) -> (u8, u8) {
        self.path[i]
    }

    /// Whether `(x, y)` is a cell of the path.
    pub fn on_path(&self, x: u8, y: u8) -> bool {
        self.path_index[cell(x, y)] != OFF_PATH
    }

    /// Path indices within `range` of the cell `(x, y)`, ascending. `range` is clamped to
    /// 1..=RANGE_MAX.
    pub fn path_in_range(&self, x: u8, y: u8, range: u8) -> &[u8] {
        let range = range.clamp(1, RANGE_MAX);
        &self.in_range[cell(x, y) * RANGE_MAX as usize + (range as usize - 1)]
    }

    /// Off-path cells (as cell numbers) touching path index `i`.
    pub fn beside_path(&self, i: usize) -> &[u16] {
        &self.beside[i]
    }
}

impl Default for Map {
    fn default() -> Self {
        Map::new()
    }
}

/// Whether `(x, y)` lies inside a lane.
pub fn in_lane(x: i32, y: i32) -> bool {
    (0..i32::from(LANE_W)).contains(&x) && (0..i32::from(LANE_H)).contains(&y)
}

/// Cell number of `(x, y)` inside a lane, row-major.
pub fn cell(x: u8, y: u8) -> usize {
    debug_assert!(
        x < LANE_W && y < LANE_H,
        "cell ({x},{y}) is outside the lane"
    );
    usize::from(y) * usize::from(LANE_W) + usize::from(x)
}

/// Inverse of [`cell`].
pub fn cell_xy(c: usize) -> (u8, u8) {
    (
        (c % usize::from(LANE_W)) as u8,
        (c / usize::from(LANE_W)) as u8,
    )
}

fn walk_waypoints() -> [(u8, u8); PATH_LEN] {
    let mut path = [(0u8, 0u8); PATH_LEN];
    let mut n = 0;
    path[n] = WAYPOINTS[0];
    n += 1;
    for pair in WAYPOINTS.windows(2) {
        let (mut x, mut y) = pair[0];
        let (tx, ty) = pair[1];
        assert!(x == tx || y == ty, "waypoints must share a row or a column");
        while (x, y) != (tx, ty) {
            x = step_toward(x, tx);
            y = step_toward(y, ty);
            path[n] = (x, y);
            n += 1;
        }
    }
    assert_eq!(n, PATH_LEN, "PATH_LEN must equal the walked path's length");
    path
}

fn step_toward(from: u8, to: u8) -> u8 {
    match from.cmp(&to) {
        std::cmp::Ordering::Less => from + 1,
        std::cmp::Ordering::Greater => from - 1,
        std::cmp::Ordering::Equal => from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path is connected, inside the lane, never revisits a cell, and runs top to bottom.
    #[test]
    fn path_is_a_simple_walk() {
        let map = Map::new();
        let path = map.path();
        assert_eq!(path[0].1, 0);
        assert_eq!(path[PATH_LEN - 1].1, LANE_H - 1);
        for w in path.windows(2) {
            let d = dist2(w[0].0.into(), w[0].1.into(), w[1].0.into(), w[1].1.into());
            assert_eq!(d, 1, "{:?} -> {:?} is not one step", w[0], w[1]);
        }
        let mut seen = std::collections::BTreeSet::new();
        for &c in path {
            assert!(seen.insert(c), "{c:?} visited twice");
            assert!(map.on_path(c.0, c.1));
        }
        assert!(!map.on_path(0, 0));
        // The compile-time table agrees with the walked path on every cell.
        for c in 0..LANE_CELLS {
            let (x, y) = cell_xy(c);
            assert_eq!(on_path(x, y), map.on_path(x, y), "cell ({x},{y})");
        }
        assert_eq!(ON_PATH.iter().filter(|&&on| on).count(), PATH_LEN);
    }

    /// Range tables agree with the distance definition and are sorted.
    #[test]
    fn range_tables_match_distance() {
        let map = Map::new();
        let near = map.path_in_range(2, 2, 1);
        // (2,2) touches (1,2) and (2,3) at distance 1.
        let cells: Vec<_> = near.iter().map(|&i| map.path_cell(i.into())).collect();
        assert_eq!(cells, vec![(1, 2), (2, 3)]);
        for r in 1..=RANGE_MAX {
            let list = map.path_in_range(0, 0, r);
            assert!(list.windows(2).all(|w| w[0] < w[1]));
        }
        assert!(map.beside_path(0).contains(&(cell(0, 0) as u16)));
    }
}
