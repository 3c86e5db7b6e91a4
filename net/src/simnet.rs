//! A simulated datagram network for fuzzing, in the spirit of TigerBeetle's packet
//! simulator: every datagram's fate (lost, duplicated, delayed, reordered, cut by a partition)
//! comes from one seed, and time is virtual, advanced by the caller, so a match runs as fast
//! as the protocol allows. Encrypted sockets run over it unchanged
//! ([`crate::udp::SecureSocket::on_simnet`]); nothing leaves the process.
//!
//! GGRS and the handshake still time their retries by the wall clock; only the network's
//! delays are virtual.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;

/// What goes wrong, and how often. Probabilities are in parts per million, times in
/// microseconds of virtual time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimFaults {
    /// A datagram is lost.
    pub loss_ppm: u32,
    /// A datagram arrives twice.
    pub dup_ppm: u32,
    /// A datagram is held back by up to twice the latency plus the jitter, so later ones
    /// overtake it.
    pub reorder_ppm: u32,
    /// Every datagram's delay.
    pub latency_us: u64,
    /// Up to this much more delay, uniformly.
    pub jitter_us: u64,
    /// Partitions last this long (0: none). One starts every 2 to 6 seconds of virtual time:
    /// a random group of ports is cut off from the rest, both ways or (half the time) one
    /// way only; then it heals.
    pub partition_us: u64,
}

/// What the network did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Lost at random.
    pub lost: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Held back to be overtaken.
    pub reordered: u64,
    /// Dropped by a partition.
    pub cut: u64,
    /// Partitions that started.
    pub partitions: u64,
}

/// A partition in force: datagrams from `from` to `to` are dropped until `until`.
struct Partition {
    until: u64,
    group: Vec<SocketAddr>,
    one_way: bool,
}

impl Partition {
    fn cuts(&self, from: SocketAddr, to: SocketAddr) -> bool {
        let (a, b) = (self.group.contains(&from), self.group.contains(&to));
        if self.one_way {
            a && !b
        } else {
            a != b
        }
    }
}

/// Datagrams on their way to one port: (delivery time, sequence) -> (source, datagram).
type Queue = BTreeMap<(u64, u64), (SocketAddr, Vec<u8>)>;

struct Inner {
    now: u64,
    rng: oorandom::Rand64,
    faults: SimFaults,
    ports: Vec<SocketAddr>,
    queues: BTreeMap<SocketAddr, Queue>,
    seq: u64,
    partition: Option<Partition>,
    next_partition: u64,
    stats: SimStats,
}

impl Inner {
    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.rng.rand_range(0..1_000_000) < u64::from(ppm)
    }

    fn delay(&mut self) -> u64 {
        self.faults.latency_us + self.rng.rand_range(0..self.faults.jitter_us + 1)
    }

    fn enqueue(&mut self, from: SocketAddr, to: SocketAddr, datagram: &[u8], delay: u64) {
        self.seq += 1;
        let at = (self.now + delay, self.seq);
        if let Some(queue) = self.queues.get_mut(&to) {
            queue.insert(at, (from, datagram.to_vec()));
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, datagram: &[u8]) {
        self.stats.sent += 1;
        if self.partition.as_ref().is_some_and(|p| p.cuts(from, to)) {
            self.stats.cut += 1;
            return;
        }
        if self.chance(self.faults.loss_ppm) {
            self.stats.lost += 1;
            return;
        }
        let mut delay = self.delay();
        if self.chance(self.faults.reorder_ppm) {
            self.stats.reordered += 1;
            let extra = 2 * self.faults.latency_us + self.faults.jitter_us + 1;
            delay += self.rng.rand_range(1..extra + 1);
        }
        self.enqueue(from, to, datagram, delay);
        if self.chance(self.faults.dup_ppm) {
            self.stats.duplicated += 1;
            let delay = self.delay();
            self.enqueue(from, to, datagram, delay);
        }
    }

    fn schedule_partitions(&mut self) {
        if self.faults.partition_us == 0 || self.ports.len() < 2 {
            return;
        }
        if self.partition.as_ref().is_some_and(|p| p.until <= self.now) {
            self.partition = None;
        }
        if self.partition.is_none() && self.now >= self.next_partition {
            // A non-empty proper subset of the ports.
            let n = self.ports.len() as u64;
            let mask = self.rng.rand_range(1..(1 << n) - 1);
            let group = (0..self.ports.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| self.ports[i])
                .collect();
            let one_way = self.rng.rand_range(0..2) == 0;
            self.partition = Some(Partition {
                until: self.now + self.faults.partition_us,
                group,
                one_way,
            });
            self.stats.partitions += 1;
            self.next_partition =
                self.now + self.faults.partition_us + self.rng.rand_range(2_000_000..6_000_001);
        }
    }
}

/// The network: ports, queues in flight, the virtual clock. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct SimNet(Rc<RefCell<Inner>>);

impl SimNet {
    /// A network whose every decision comes from `seed`.
    pub fn new(seed: u64, faults: SimFaults) -> SimNet {
        let mut rng = oorandom::Rand64::new(u128::from(seed));
        let first = rng.rand_range(1_000_000..4_000_001);
        SimNet(Rc::new(RefCell::new(Inner {
            now: 0,
            rng,
            faults,
            ports: Vec::new(),
            queues: BTreeMap::new(),
            seq: 0,
            partition: None,
            next_partition: first,
            stats: SimStats::default(),
        })))
    }

    /// A new port, with an address of its own (in 127.0.0.0/8, never bound: only a name).
    pub fn port(&self) -> Port {
        let mut inner = self.0.borrow_mut();
        let n = inner.ports.len() as u16;
        let addr = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1), 40_000 + n));
        inner.ports.push(addr);
        inner.queues.insert(addr, BTreeMap::new());
        Port {
            net: self.0.clone(),
            addr,
        }
    }

    /// Lets `us` microseconds of virtual time pass: datagrams due by then can be received;
    /// partitions start and heal.
    pub fn advance(&self, us: u64) {
        let mut inner = self.0.borrow_mut();
        inner.now += us;
        inner.schedule_partitions();
    }

    /// Virtual time since the start, in microseconds.
    pub fn now_us(&self) -> u64 {
        self.0.borrow().now
    }

    /// Datagrams still in flight.
    pub fn in_flight(&self) -> usize {
        self.0.borrow().queues.values().map(BTreeMap::len).sum()
    }

    /// What the network did so far.
    pub fn stats(&self) -> SimStats {
        self.0.borrow().stats
    }
}

/// One endpoint of a [`SimNet`], used like a non-blocking UDP socket.
pub struct Port {
    net: Rc<RefCell<Inner>>,
    addr: SocketAddr,
}

impl Port {
    /// Its address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a datagram; its fate is decided now. A destination that is not a port of this
    /// network loses it, as UDP would.
    pub fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.net.borrow_mut().send(self.addr, to, datagram);
        Ok(datagram.len())
    }

    /// The next datagram due for this port, or `WouldBlock`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut inner = self.net.borrow_mut();
        let now = inner.now;
        let queue = inner
            .queues
            .get_mut(&self.addr)
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))?;
        match queue.first_key_value() {
            Some((&(at, _), _)) if at <= now => {
                let (_, (from, datagram)) = queue.pop_first().expect("a first entry");
                let len = datagram.len().min(buf.len());
                buf[..len].copy_from_slice(&datagram[..len]);
                Ok((len, from))
            }
            _ => Err(io::Error::from(io::ErrorKind::WouldBlock)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(port: &Port) -> Vec<Vec<u8>> {
        let mut buf = [0u8; 64];
        let mut out = Vec::new();
        while let Ok((len, _)) = port.recv_from(&mut buf) {
            out.push(buf[..len].to_vec());
        }
        out
    }

    #[test]
    fn delivers_after_the_latency_and_counts_every_fault() {
        let faults = SimFaults {
            latency_us: 1000,
            ..SimFaults::default()
        };
        let net = SimNet::new(1, faults);
        let (a, b) = (net.port(), net.port());
        a.send_to(b"hi", b.local_addr()).expect("send");
        assert!(drain(&b).is_empty(), "not before the latency");
        net.advance(999);
        assert!(drain(&b).is_empty());
        net.advance(1);
        assert_eq!(drain(&b), vec![b"hi".to_vec()]);

        let faults = SimFaults {
            loss_ppm: 200_000,
            dup_ppm: 50_000,
            reorder_ppm: 100_000,
            latency_us: 80_000,
            jitter_us: 40_000,
            partition_us: 500_000,
        };
        let net = SimNet::new(7, faults);
        let (a, b) = (net.port(), net.port());
        let mut got = Vec::new();
        for i in 0..20_000u32 {
            a.send_to(&i.to_le_bytes(), b.local_addr()).expect("send");
            net.advance(1000);
            got.extend(drain(&b));
        }
        net.advance(10_000_000);
        got.extend(drain(&b));
        let s = net.stats();
        assert_eq!(s.sent, 20_000);
        assert_eq!(got.len() as u64, s.sent - s.lost - s.cut + s.duplicated);
        // Roughly the asked-for rates, in per mille of the datagrams each applies to.
        let rate = |n: u64, of: u64| n * 1000 / of;
        let past_partitions = s.sent - s.cut;
        let delivered = past_partitions - s.lost;
        assert!((170..230).contains(&rate(s.lost, past_partitions)), "{s:?}");
        assert!((35..65).contains(&rate(s.duplicated, delivered)), "{s:?}");
        assert!((80..120).contains(&rate(s.reordered, delivered)), "{s:?}");
        assert!(s.partitions >= 2 && s.cut > 0, "{s:?}");
        let order: Vec<u32> = got
            .iter()
            .map(|d| u32::from_le_bytes(d[..4].try_into().expect("4 bytes")))
            .collect();
        assert!(
            order.windows(2).any(|w| w[1] < w[0]),
            "some datagrams overtaken"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_fates() {
        let faults = SimFaults {
            loss_ppm: 300_000,
            jitter_us: 5_000,
            ..SimFaults::default()
        };
        let run = || {
            let net = SimNet::new(42, faults);
            let (a, b) = (net.port(), net.port());
            let mut got = Vec::new();
            for i in 0..500u32 {
                a.send_to(&i.to_le_bytes(), b.local_addr()).expect("send");
                net.advance(700);
                got.extend(drain(&b));
            }
            got
        };
        assert_eq!(run(), run());
    }
}
