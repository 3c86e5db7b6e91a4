//! The naive baseline of the performance goals: rollback state kept the way a generic ECS
//! program would keep it. Saving clones the `hecs::World` entity by entity, then serialises the
//! copy record by record, field by field, and hashes the bytes; loading parses them back and
//! spawns every entity into a new world. [`sim::Game::save_into`] and [`sim::Game::load`] are
//! measured against it.

use hecs::World;
use sim::num::Fx;
use sim::{Creep, Game, Tower};

/// A state saved the naive way: its serialised bytes and their hash.
pub struct NaiveSave {
    /// Creep count, creeps, tower count, towers; every field little-endian.
    pub bytes: Vec<u8>,
    /// blake3 of `bytes`.
    pub hash: blake3::Hash,
}

/// A world holding the game's records, one entity each, in storage order: what the naive
/// baseline starts from.
pub fn world_of(game: &Game) -> World {
    let mut world = World::new();
    for creep in game.creeps().iter() {
        world.spawn((*creep,));
    }
    for tower in game.towers().iter() {
        world.spawn((*tower,));
    }
    world
}

/// Clones `world` entity by entity, serialises the clone and hashes it.
pub fn save(world: &World) -> NaiveSave {
    let mut copy = World::new();
    for (_, creep) in world.query::<(hecs::Entity, &Creep)>().iter() {
        copy.spawn((*creep,));
    }
    for (_, tower) in world.query::<(hecs::Entity, &Tower)>().iter() {
        copy.spawn((*tower,));
    }
    let mut bytes = Vec::new();
    let creeps = copy.query::<&Creep>().iter().count() as u32;
    bytes.extend_from_slice(&creeps.to_le_bytes());
    for creep in copy.query::<&Creep>().iter() {
        write_creep(&mut bytes, creep);
    }
    let towers = copy.query::<&Tower>().iter().count() as u32;
    bytes.extend_from_slice(&towers.to_le_bytes());
    for tower in copy.query::<&Tower>().iter() {
        write_tower(&mut bytes, tower);
    }
    let hash = blake3::hash(&bytes);
    NaiveSave { bytes, hash }
}

/// Parses a naive save and spawns its entities one by one into a new world.
///
/// # Panics
/// When the bytes are not a [`save`]'s (the baseline only reads its own output).
pub fn load(save: &NaiveSave) -> World {
    let mut world = World::new();
    let mut reader = Reader(&save.bytes);
    for _ in 0..reader.u32() {
        let creep = Creep {
            uid: reader.u32(),
            progress: Fx::from_bits(reader.u32() as i32),
            hp: reader.u32() as i32,
            hp_max: reader.u32() as i32,
            slow_ticks: reader.u16(),
            attack_cd: reader.u16(),
            kind: reader.u8(),
            lane: reader.u8(),
            flags: reader.u8(),
            pad: reader.u8(),
        };
        world.spawn((creep,));
    }
    for _ in 0..reader.u32() {
        let tower = Tower {
            uid: reader.u32(),
            hp: reader.u32() as i32,
            hp_max: reader.u32() as i32,
            spent: reader.u32(),
            cooldown: reader.u16(),
            kind: reader.u8(),
            level: reader.u8(),
            lane: reader.u8(),
            x: reader.u8(),
            y: reader.u8(),
            pad: reader.u8(),
        };
        world.spawn((tower,));
    }
    world
}

fn write_creep(out: &mut Vec<u8>, c: &Creep) {
    out.extend_from_slice(&c.uid.to_le_bytes());
    out.extend_from_slice(&c.progress.to_bits().to_le_bytes());
    out.extend_from_slice(&c.hp.to_le_bytes());
    out.extend_from_slice(&c.hp_max.to_le_bytes());
    out.extend_from_slice(&c.slow_ticks.to_le_bytes());
    out.extend_from_slice(&c.attack_cd.to_le_bytes());
    out.extend_from_slice(&[c.kind, c.lane, c.flags, c.pad]);
}

fn write_tower(out: &mut Vec<u8>, t: &Tower) {
    out.extend_from_slice(&t.uid.to_le_bytes());
    out.extend_from_slice(&t.hp.to_le_bytes());
    out.extend_from_slice(&t.hp_max.to_le_bytes());
    out.extend_from_slice(&t.spent.to_le_bytes());
    out.extend_from_slice(&t.cooldown.to_le_bytes());
    out.extend_from_slice(&[t.kind, t.level, t.lane, t.x, t.y, t.pad]);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().expect("split_at gives N bytes")
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
}

#[cfg(test)]
mod tests {
    /// The baseline does the whole job: what it loads is what was saved, and its bytes are as
    /// many as the canonical encoding's records.
    #[test]
    fn naive_round_trip() {
        let game = crate::swarm(500, 10);
        let world = super::world_of(&game);
        let saved = super::save(&world);
        assert_eq!(saved.bytes.len() + 8 + 96, game.save().state_bytes());
        let loaded = super::load(&saved);
        let creeps: Vec<sim::Creep> = loaded.query::<&sim::Creep>().iter().copied().collect();
        assert_eq!(creeps, game.creeps().to_vec());
        let towers: Vec<sim::Tower> = loaded.query::<&sim::Tower>().iter().copied().collect();
        assert_eq!(towers, game.towers().to_vec());
        assert_eq!(super::save(&loaded).hash, saved.hash);
    }
}
