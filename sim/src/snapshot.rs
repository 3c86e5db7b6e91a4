//! Snapshots and the state hash.
//!
//! # Canonical encoding (the hashed bytes)
//!
//! The state hash is `blake3` over these bytes, in this order, all integers little-endian:
//!
//! | bytes        | content                                                              |
//! |--------------|----------------------------------------------------------------------|
//! | 8            | the ASCII magic `HLTDSTAT`                                           |
//! | 96           | [`Globals`], `repr(C)`, fields in declaration order, no padding      |
//! | 4            | number of creeps `C` (u32)                                           |
//! | 24 x C       | [`Creep`] records in storage order, `repr(C)`, no padding            |
//! | 4            | number of towers `T` (u32)                                           |
//! | 24 x T       | [`Tower`] records in storage order, `repr(C)`, no padding            |
//!
//! `Globals` carries [`crate::RULES_VERSION`], the frame, the RNG state and the next uid, so
//! all of them are hashed. Entity references are stable uids inside the records; hecs entity
//! handles and archetype indices never enter the encoding. Storage order is a deterministic
//! function of the match's history (spawns append, despawns happen in uid order and move the
//! last record into the hole) and [`Game::load`] restores it exactly, so a state reached by a
//! rollback hashes the same as one reached directly.
//!
//! The GGRS checksum is the first 16 bytes of the hash read as a little-endian `u128`.
//!
//! # Snapshots
//!
//! A [`Snapshot`] holds the same three parts as packed columns, so saving is a copy of the
//! world's columns, and loading copies them back over the records the world has, spawning or
//! despawning only the difference in count at the end of each archetype.

use crate::check::{check_globals, check_records, check_state, Record, Rule};
use crate::game::Game;
use crate::rules::{MAX_CREEPS, MAX_TOWERS};
use crate::state::{Creep, Globals, Tower};

const HASH_MAGIC: &[u8; 8] = b"HLTDSTAT";

/// A blake3 hash of the canonical encoding of a state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateHash(pub [u8; 32]);

impl StateHash {
    /// All zero bytes: no state hashes to it in practice; a placeholder before the first hash.
    pub const ZERO: StateHash = StateHash([0; 32]);

    /// The GGRS checksum: the first 16 bytes as a little-endian `u128`.
    pub fn checksum(&self) -> u128 {
        let mut first = [0u8; 16];
        first.copy_from_slice(&self.0[..16]);
        u128::from_le_bytes(first)
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl std::fmt::Display for StateHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Hashes the canonical encoding of a state given as its three parts.
pub(crate) fn hash_state(globals: &Globals, creeps: &[Creep], towers: &[Tower]) -> StateHash {
    with_parts(globals, creeps, towers, |parts| {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(part);
        }
        StateHash(*hasher.finalize().as_bytes())
    })
}

/// Calls `f` with the canonical encoding of a state as its six parts, in order (see the module
/// documentation): the one place that order is written down.
pub(crate) fn with_parts<R>(
    globals: &Globals,
    creeps: &[Creep],
    towers: &[Tower],
    f: impl FnOnce(&[&[u8]; 6]) -> R,
) -> R {
    let creep_count = (creeps.len() as u32).to_le_bytes();
    let tower_count = (towers.len() as u32).to_le_bytes();
    f(&[
        HASH_MAGIC,
        bytemuck::bytes_of(globals),
        &creep_count,
        bytemuck::cast_slice(creeps),
        &tower_count,
        bytemuck::cast_slice(towers),
    ])
}

/// The whole state of a [`Game`] at one frame, as packed columns. Only [`Game::save`] (a copy
/// of a game's state) and [`Snapshot::decode`] (which checks every field's range) make one, and
/// its fields are private, so a snapshot always holds a state [`Game::load`] can take.
#[derive(Clone, Debug)]
pub struct Snapshot {
    globals: Globals,
    creeps: Vec<Creep>,
    towers: Vec<Tower>,
    hash: StateHash,
}

/// Which way [`Game::load`] restored a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadPath {
    /// The world held as many creeps and towers as the snapshot: the columns were copied back
    /// in place.
    InPlace,
    /// The counts differed: entities were despawned from, or spawned at, the end of an
    /// archetype, and the columns copied over the rest.
    Resized,
}

/// Why bytes are not the canonical encoding of a state the rules can reach. Each error names
/// what is wrong and where: a byte offset for the shape, a record (`creep 17`) and a field
/// for the contents (see [`crate::check`] for every field's range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes end before the part at this offset.
    #[error("state truncated at byte {offset} (needs {need} more)")]
    Truncated {
        /// Offset of the part that is cut.
        offset: usize,
        /// Bytes the part needs.
        need: usize,
    },
    /// The first 8 bytes are not `HLTDSTAT`.
    #[error("state does not start with HLTDSTAT")]
    Magic,
    /// Bytes are left after the towers, from this offset.
    #[error("unexpected bytes after the state at {0}")]
    Trailing(usize),
    /// More records of a kind than the rules keep alive.
    #[error("{what} count {count} > {name} {limit}")]
    Count {
        /// `creep` or `tower`.
        what: &'static str,
        /// How many the state holds.
        count: u64,
        /// The limit's name: a constant or a field.
        name: &'static str,
        /// The limit.
        limit: u32,
    },
    /// A field outside the range the rules give it.
    #[error("{record}: {field} {value} {rule}")]
    Field {
        /// Whose field.
        record: Record,
        /// The field, as [`crate::dump`] names it (`gold[2]` for an array element).
        field: &'static str,
        /// Its value (a `u64` field's bits, such as `rng_inc`'s, read as an `i64`).
        value: i64,
        /// The range it is outside of.
        rule: Rule,
    },
    /// Two records hold the same uid.
    #[error("{record}: uid {uid} also held by {other}")]
    SharedUid {
        /// The later of the two (creeps before towers, by index).
        record: Record,
        /// The earlier one.
        other: Record,
        /// The uid.
        uid: u32,
    },
    /// A tower stands on the path.
    #[error("{record}: cell ({x}, {y}) is on the path")]
    OnPath {
        /// The tower.
        record: Record,
        /// Its column.
        x: u8,
        /// Its row.
        y: u8,
    },
    /// Two towers stand on one cell.
    #[error("{record}: cell ({x}, {y}) of lane {lane} also holds {other}")]
    SharedCell {
        /// The later tower.
        record: Record,
        /// The earlier tower on that cell.
        other: Record,
        /// The lane.
        lane: u8,
        /// The column.
        x: u8,
        /// The row.
        y: u8,
    },
}

/// Reads the canonical encoding part by part.
struct Parts<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parts<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let rest = &self.bytes[self.at..];
        if rest.len() < n {
            return Err(SnapshotError::Truncated {
                offset: self.at,
                need: n - rest.len(),
            });
        }
        self.at += n;
        Ok(&rest[..n])
    }

    /// A count, then that many records; a count above `limit` is refused before its records
    /// are read.
    fn records<T: bytemuck::Pod>(
        &mut self,
        what: &'static str,
        name: &'static str,
        limit: u32,
    ) -> Result<Vec<T>, SnapshotError> {
        let count = u32::from_le_bytes(self.take(4)?.try_into().unwrap_or([0; 4]));
        if count > limit {
            return Err(SnapshotError::Count {
                what,
                count: count.into(),
                name,
                limit,
            });
        }
        let size = std::mem::size_of::<T>();
        let bytes = self.take(count as usize * size)?;
        Ok(bytes
            .chunks_exact(size)
            .map(bytemuck::pod_read_unaligned)
            .collect())
    }
}

impl Snapshot {
    /// Appends the canonical encoding, the bytes the state hash is taken over (see the module
    /// documentation).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.state_bytes());
        with_parts(&self.globals, &self.creeps, &self.towers, |parts| {
            for part in parts {
                out.extend_from_slice(part);
            }
        });
    }

    /// Reads a canonical encoding back, whatever the bytes, and checks that it is a state the
    /// rules can reach, field by field (every count within its limit, every field within the
    /// range the rules give it: see [`crate::check`]), so that [`Game::load`] of it is safe.
    /// An error says what is wrong and where. Its hash is computed from the bytes; a state in
    /// range is still only as trustworthy as that hash, so compare it with one you trust
    /// before taking it for the match's.
    ///
    /// # Errors
    /// [`SnapshotError`] when the bytes are not an encoding, or encode a state out of range.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let snapshot = Snapshot::decode_unchecked(bytes)?;
        check_state(&snapshot.globals, &snapshot.creeps, &snapshot.towers)?;
        Ok(snapshot)
    }

    /// The shape checked, and the range check's verdict beside it: for [`crate::dump::Inspected`],
    /// which lists and diffs a state but can never be loaded.
    pub(crate) fn decode_for_inspection(
        bytes: &[u8],
    ) -> Result<(Snapshot, Option<SnapshotError>), SnapshotError> {
        let snapshot = Snapshot::decode_unchecked(bytes)?;
        let out_of_range = check_state(&snapshot.globals, &snapshot.creeps, &snapshot.towers).err();
        Ok((snapshot, out_of_range))
    }

    /// [`Snapshot::decode`] without the range checks: only for the crate's own tests, which
    /// need snapshots no game reaches (to show that every byte shows up in a diff). Never
    /// load one.
    #[cfg(test)]
    pub(crate) fn decode_unchecked_for_test(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        Snapshot::decode_unchecked(bytes)
    }

    /// The shape only: magic, globals, counts within their limits, records, nothing after.
    fn decode_unchecked(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut parts = Parts { bytes, at: 0 };
        if parts.take(HASH_MAGIC.len())? != HASH_MAGIC {
            return Err(SnapshotError::Magic);
        }
        let globals: Globals =
            bytemuck::pod_read_unaligned(parts.take(std::mem::size_of::<Globals>())?);
        let creeps: Vec<Creep> = parts.records("creep", "MAX_CREEPS", MAX_CREEPS)?;
        let towers: Vec<Tower> = parts.records("tower", "MAX_TOWERS", MAX_TOWERS)?;
        if parts.at != bytes.len() {
            return Err(SnapshotError::Trailing(parts.at));
        }
        let hash = hash_state(&globals, &creeps, &towers);
        Ok(Snapshot {
            globals,
            creeps,
            towers,
            hash,
        })
    }

    /// The global record.
    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    /// The creep records, in storage order.
    pub fn creep_records(&self) -> &[Creep] {
        &self.creeps
    }

    /// The tower records, in storage order.
    pub fn tower_records(&self) -> &[Tower] {
        &self.towers
    }

    /// The frame it was taken at.
    pub fn frame(&self) -> u32 {
        self.globals.frame
    }

    /// The state hash at that frame.
    pub fn hash(&self) -> StateHash {
        self.hash
    }

    /// Bytes of state it holds (the canonical encoding's size).
    pub fn state_bytes(&self) -> usize {
        HASH_MAGIC.len()
            + std::mem::size_of::<Globals>()
            + 8
            + std::mem::size_of_val(self.creeps.as_slice())
            + std::mem::size_of_val(self.towers.as_slice())
    }

    /// Recomputes the hash from the stored columns (a check; [`Snapshot::hash`] is the saved one).
    pub fn rehash(&self) -> StateHash {
        hash_state(&self.globals, &self.creeps, &self.towers)
    }
}

impl Game {
    /// Saves the whole state.
    pub fn save(&self) -> Snapshot {
        let mut snapshot = Snapshot {
            globals: self.globals,
            creeps: Vec::new(),
            towers: Vec::new(),
            hash: self.hash,
        };
        self.save_into(&mut snapshot);
        snapshot
    }

    /// Saves the whole state into `snapshot`, reusing its buffers: no allocation once they are
    /// large enough.
    pub fn save_into(&self, snapshot: &mut Snapshot) {
        snapshot.globals = self.globals;
        snapshot.creeps.clear();
        snapshot.creeps.extend_from_slice(&self.creeps());
        snapshot.towers.clear();
        snapshot.towers.extend_from_slice(&self.towers());
        snapshot.hash = self.hash;
        debug_assert_eq!(
            snapshot.rehash(),
            self.hash,
            "a saved state hashes as it did live"
        );
        // The rules keep every state inside the load contract; this says so in debug builds
        // (all but the uniqueness of uids, which would allocate).
        debug_assert_eq!(
            check_globals(
                &snapshot.globals,
                snapshot.creeps.len(),
                snapshot.towers.len()
            )
            .and_then(|()| check_records(
                &snapshot.globals,
                &snapshot.creeps,
                &snapshot.towers
            )),
            Ok(()),
            "the rules left the range of a state"
        );
    }

    /// Restores the state saved in `snapshot`, including the storage order of every entity,
    /// and says which way it did.
    ///
    /// # Contract
    /// `snapshot` holds a state inside the ranges of [`crate::check`]: counts within
    /// [`MAX_CREEPS`] and [`MAX_TOWERS`], lanes below the player count, towers on free cells
    /// off the path, hit points, levels, kinds, timers and waves within what the rules give
    /// them, uids unique and below `next_uid`. The rules assume it (they index by lane and
    /// cell, and add to bounded numbers) and keep it from tick to tick. Every [`Snapshot`]
    /// satisfies it by construction, because only two things make one: [`Game::save`], a copy
    /// of a game's state, and [`Snapshot::decode`], which refuses bytes outside it; its fields
    /// are private. So the check here is cheap: the globals and the counts in every build,
    /// every record in debug builds (but the uniqueness of uids, which would allocate), and
    /// a load stays a copy of the columns.
    pub fn load(&mut self, snapshot: &Snapshot) -> LoadPath {
        if let Err(err) = check_globals(
            &snapshot.globals,
            snapshot.creeps.len(),
            snapshot.towers.len(),
        ) {
            panic!("load contract: a snapshot out of range: {err}");
        }
        debug_assert_eq!(
            check_records(&snapshot.globals, &snapshot.creeps, &snapshot.towers),
            Ok(()),
            "load contract: every record in range"
        );
        let path = if self.restore_records(&snapshot.creeps, &snapshot.towers) {
            LoadPath::Resized
        } else {
            LoadPath::InPlace
        };
        self.globals = snapshot.globals;
        self.hash = snapshot.hash;
        debug_assert_eq!(
            self.compute_hash(),
            snapshot.hash,
            "a loaded state hashes as it did when saved"
        );
        path
    }
}
