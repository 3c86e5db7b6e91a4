//! A state, field by field: what desync reports print, and how two states of the same frame
//! are compared to say exactly what differs (entity, component, field, the two values).
//!
//! Every byte of the canonical encoding belongs to exactly one listed field (padding
//! included), so two states with different hashes always show a difference here: in a field,
//! in which entities exist, or in their storage order.

use std::collections::BTreeMap;
use std::fmt;

use crate::num::Fx;
use crate::snapshot::Snapshot;
use crate::state::{Creep, Globals, Tower};

/// Which entity a field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entity {
    /// The global record (frame, RNG, base, waves, players).
    World,
    /// The creep with this uid.
    Creep(u32),
    /// The tower with this uid.
    Tower(u32),
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::World => f.write_str("world"),
            Entity::Creep(uid) => write!(f, "creep#{uid}"),
            Entity::Tower(uid) => write!(f, "tower#{uid}"),
        }
    }
}

/// A field's value, shown the way its type reads best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A fixed-point number (shown in decimal, exactly).
    Fixed(Fx),
    /// Bits, such as the RNG's state (shown in hex).
    Bits(u64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Fixed(v) => write!(f, "{v}"),
            Value::Bits(v) => write!(f, "{v:#018x}"),
        }
    }
}

/// One field of one entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Whose field.
    pub entity: Entity,
    /// The component (record type) holding it.
    pub component: &'static str,
    /// The field's name (`gold[2]` for an array element).
    pub field: String,
    /// Its value.
    pub value: Value,
}

/// A field whose values differ between two states (None: the entity is absent on that side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Whose field.
    pub entity: Entity,
    /// The component holding it.
    pub component: &'static str,
    /// The field (`exists` when the entity is on one side only, `storage order` when the
    /// same entities are stored in a different order).
    pub field: String,
    /// The value in the first state.
    pub a: Option<Value>,
    /// The value in the second state.
    pub b: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| v.map_or("absent".to_string(), |v| v.to_string());
        write!(
            f,
            "{} {}.{}: {} vs {}",
            self.entity,
            self.component,
            self.field,
            show(&self.a),
            show(&self.b)
        )
    }
}

fn int(v: impl Into<i64>) -> Value {
    Value::Int(v.into())
}

fn globals_fields(g: &Globals) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = vec![
        ("seed".into(), Value::Bits(g.seed)),
        ("rng_state".into(), Value::Bits(g.rng_state)),
        ("rng_inc".into(), Value::Bits(g.rng_inc)),
        ("rules_version".into(), int(g.rules_version)),
        ("frame".into(), int(g.frame)),
        ("next_uid".into(), int(g.next_uid)),
        ("base_hp".into(), int(g.base_hp)),
        ("base_hp_max".into(), int(g.base_hp_max)),
        ("creeps_target".into(), int(g.creeps_target)),
        ("wave".into(), int(g.wave)),
        ("wave_spawned".into(), int(g.wave_spawned)),
        ("wave_timer".into(), int(g.wave_timer)),
        ("kills".into(), int(g.kills)),
        ("leaks".into(), int(g.leaks)),
    ];
    for (i, gold) in g.gold.iter().enumerate() {
        out.push((format!("gold[{i}]"), int(*gold)));
    }
    out.extend([
        ("players".into(), int(g.players)),
        ("scenario".into(), int(g.scenario)),
        ("status".into(), int(g.status)),
        ("paused".into(), int(g.paused)),
    ]);
    for (i, x) in g.cursor_x.iter().enumerate() {
        out.push((format!("cursor_x[{i}]"), int(*x)));
    }
    for (i, y) in g.cursor_y.iter().enumerate() {
        out.push((format!("cursor_y[{i}]"), int(*y)));
    }
    out
}

fn creep_fields(c: &Creep) -> Vec<(String, Value)> {
    vec![
        ("uid".into(), int(c.uid)),
        ("progress".into(), Value::Fixed(c.progress)),
        ("hp".into(), int(c.hp)),
        ("hp_max".into(), int(c.hp_max)),
        ("slow_ticks".into(), int(c.slow_ticks)),
        ("attack_cd".into(), int(c.attack_cd)),
        ("kind".into(), int(c.kind)),
        ("lane".into(), int(c.lane)),
        ("flags".into(), Value::Bits(u64::from(c.flags))),
        ("pad".into(), int(c.pad)),
    ]
}

fn tower_fields(t: &Tower) -> Vec<(String, Value)> {
    vec![
        ("uid".into(), int(t.uid)),
        ("hp".into(), int(t.hp)),
        ("hp_max".into(), int(t.hp_max)),
        ("spent".into(), int(t.spent)),
        ("cooldown".into(), int(t.cooldown)),
        ("kind".into(), int(t.kind)),
        ("level".into(), int(t.level)),
        ("lane".into(), int(t.lane)),
        ("x".into(), int(t.x)),
        ("y".into(), int(t.y)),
        ("pad".into(), int(t.pad)),
    ]
}

/// Every entity of one kind by uid, with its fields, and the uids in storage order.
type Records = (BTreeMap<u32, Vec<(String, Value)>>, Vec<u32>);

fn records<T>(
    items: &[T],
    uid: impl Fn(&T) -> u32,
    fields: impl Fn(&T) -> Vec<(String, Value)>,
) -> Records {
    let order: Vec<u32> = items.iter().map(&uid).collect();
    // A uid held twice (a state no game reaches) keeps its first record; the order check
    // below still tells the two states apart.
    let mut by_uid = BTreeMap::new();
    for item in items {
        by_uid.entry(uid(item)).or_insert_with(|| fields(item));
    }
    (by_uid, order)
}

/// A state read for inspection only (its fields and its differences from another): any bytes
/// of the canonical encoding's shape, also a state outside the rules' ranges, since a peer whose
/// rules went wrong writes exactly such states into its desync bundle, and they are what needs
/// diagnosing. It cannot be loaded into a game; [`Snapshot::decode`] makes loadable states.
#[derive(Clone, Debug)]
pub struct Inspected {
    snapshot: Snapshot,
    out_of_range: Option<crate::SnapshotError>,
}

impl Inspected {
    /// Reads a canonical encoding for inspection.
    ///
    /// # Errors
    /// [`crate::SnapshotError`] when the bytes do not have the encoding's shape (magic, counts
    /// within their limits, whole records, nothing after them). A state of that shape whose
    /// fields are out of range is read, and [`Inspected::out_of_range`] says why.
    pub fn decode(bytes: &[u8]) -> Result<Inspected, crate::SnapshotError> {
        let (snapshot, out_of_range) = Snapshot::decode_for_inspection(bytes)?;
        Ok(Inspected {
            snapshot,
            out_of_range,
        })
    }

    /// The first field outside the range the rules give it, if any: a state no correct game
    /// reaches.
    pub fn out_of_range(&self) -> Option<&crate::SnapshotError> {
        self.out_of_range.as_ref()
    }

    /// The frame the state is of.
    pub fn frame(&self) -> u32 {
        self.snapshot.frame()
    }

    /// The state's hash, computed from its bytes.
    pub fn hash(&self) -> crate::StateHash {
        self.snapshot.hash()
    }

    /// Every field of the state (see [`Snapshot::fields`]).
    pub fn fields(&self) -> Vec<Field> {
        self.snapshot.fields()
    }

    /// What differs from `other`, field by field (see [`Snapshot::diff`]).
    pub fn diff(&self, other: &Inspected) -> Vec<Difference> {
        self.snapshot.diff(&other.snapshot)
    }
}

impl Snapshot {
    /// Every field of the state: the world's, then each creep's and tower's in storage order.
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        let mut add = |entity, component, fields: Vec<(String, Value)>| {
            out.extend(fields.into_iter().map(|(field, value)| Field {
                entity,
                component,
                field,
                value,
            }));
        };
        add(Entity::World, "Globals", globals_fields(self.globals()));
        for c in self.creep_records() {
            add(Entity::Creep(c.uid), "Creep", creep_fields(c));
        }
        for t in self.tower_records() {
            add(Entity::Tower(t.uid), "Tower", tower_fields(t));
        }
        out
    }

    /// What differs from `other`, field by field: the world first, then creeps and towers by
    /// uid. Empty exactly when the two states are equal (and so hash the same).
    pub fn diff(&self, other: &Snapshot) -> Vec<Difference> {
        let mut out = Vec::new();
        compare(
            &mut out,
            Entity::World,
            "Globals",
            Some(globals_fields(self.globals())),
            Some(globals_fields(other.globals())),
        );
        let creeps = |s: &Snapshot| records(s.creep_records(), |c| c.uid, creep_fields);
        let towers = |s: &Snapshot| records(s.tower_records(), |t| t.uid, tower_fields);
        compare_records(
            &mut out,
            "Creep",
            Entity::Creep,
            creeps(self),
            creeps(other),
        );
        compare_records(
            &mut out,
            "Tower",
            Entity::Tower,
            towers(self),
            towers(other),
        );
        out
    }
}

fn compare(
    out: &mut Vec<Difference>,
    entity: Entity,
    component: &'static str,
    a: Option<Vec<(String, Value)>>,
    b: Option<Vec<(String, Value)>>,
) {
    match (a, b) {
        (Some(a), Some(b)) => {
            for ((field, va), (_, vb)) in a.into_iter().zip(b) {
                if va != vb {
                    out.push(Difference {
                        entity,
                        component,
                        field,
                        a: Some(va),
                        b: Some(vb),
                    });
                }
            }
        }
        (a, b) => out.push(Difference {
            entity,
            component,
            field: "exists".into(),
            a: a.map(|_| Value::Int(1)),
            b: b.map(|_| Value::Int(1)),
        }),
    }
}

fn compare_records(
    out: &mut Vec<Difference>,
    component: &'static str,
    entity: fn(u32) -> Entity,
    (mut a, a_order): Records,
    (mut b, b_order): Records,
) {
    let uids: std::collections::BTreeSet<u32> = a.keys().chain(b.keys()).copied().collect();
    let before = out.len();
    for uid in uids {
        compare(out, entity(uid), component, a.remove(&uid), b.remove(&uid));
    }
    if out.len() == before {
        if let Some(at) =
            (0..a_order.len().max(b_order.len())).find(|&i| a_order.get(i) != b_order.get(i))
        {
            out.push(Difference {
                entity: Entity::World,
                component,
                field: format!("storage order at index {at} (uid)"),
                a: a_order.get(at).map(|&u| int(u)),
                b: b_order.get(at).map(|&u| int(u)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Game, Input, Settings, SnapshotError};

    fn played(seed: u64, frames: u32) -> Snapshot {
        let settings = Settings::standard(seed, 2);
        let mut game = Game::new(settings);
        let mut inputs = vec![Input::IDLE; 2];
        for _ in 0..frames {
            crate::Script::Human.inputs(seed, game.frame(), &mut inputs);
            game.advance(&inputs);
        }
        game.save()
    }

    #[test]
    fn equal_states_have_no_differences_and_a_flipped_rng_bit_is_named() {
        let s = played(3, 900);
        assert!(s.diff(&s.clone()).is_empty());
        let mut game = Game::new(Settings::standard(3, 2));
        game.load(&s);
        game.inject_desync();
        let d = s.diff(&game.save());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].entity, d[0].component), (Entity::World, "Globals"));
        assert_eq!(d[0].field, "rng_state");
        assert!(
            d[0].to_string().starts_with("world Globals.rng_state: 0x"),
            "{}",
            d[0]
        );
    }

    /// Every byte of the encoding outside the magic and the two counts belongs to a listed
    /// field: flipping it shows up as a difference.
    #[test]
    fn every_state_byte_shows_up_in_the_diff() {
        let s = played(5, 1500);
        assert!(s.creep_records().len() > 2 && !s.tower_records().is_empty());
        let mut bytes = Vec::new();
        s.encode(&mut bytes);
        let globals_end = 8 + std::mem::size_of::<Globals>();
        let creeps_end = globals_end + 4 + 24 * s.creep_records().len();
        let counts = [globals_end..globals_end + 4, creeps_end..creeps_end + 4];
        for at in 8..bytes.len() {
            if counts.iter().any(|r| r.contains(&at)) {
                continue;
            }
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            // Most flips leave the range of a state, which decoding refuses by naming a
            // record; the diff must show every one all the same.
            match Snapshot::decode(&flipped) {
                Ok(_) => {}
                Err(
                    SnapshotError::Field { .. }
                    | SnapshotError::SharedUid { .. }
                    | SnapshotError::OnPath { .. }
                    | SnapshotError::SharedCell { .. },
                ) => {}
                Err(err) => panic!("byte {at} flipped: the shape is intact, but {err}"),
            }
            let other = Snapshot::decode_unchecked_for_test(&flipped).expect("same shape");
            assert!(
                !s.diff(&other).is_empty(),
                "byte {at} flipped, no difference"
            );
        }
    }

    #[test]
    fn entities_on_one_side_and_storage_order_are_reported() {
        let s = played(5, 1500);
        let mut bytes = Vec::new();
        s.encode(&mut bytes);
        // Swap the first two creep records: same entities, other order.
        let first = 8 + std::mem::size_of::<Globals>() + 4;
        let mut swapped = bytes.clone();
        let (a, b) = swapped[first..first + 48].split_at_mut(24);
        a.swap_with_slice(b);
        let other = Snapshot::decode(&swapped).expect("decodes");
        let d = s.diff(&other);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].field.starts_with("storage order at index 0"),
            "{}",
            d[0]
        );
        // A changed uid: one creep absent on each side.
        let mut renamed = bytes.clone();
        renamed[first] ^= 0x40;
        let d = s.diff(&Snapshot::decode_unchecked_for_test(&renamed).expect("same shape"));
        assert_eq!(d.iter().filter(|d| d.field == "exists").count(), 2, "{d:?}");
    }
}
