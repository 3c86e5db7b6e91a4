//! Consensus on confirmed frames: every peer's checksum of every confirmed frame, and a
//! verdict naming the peer(s) that diverged.
//!
//! Our own checksums come from the states we save (the last save of a frame wins, since a
//! rollback re-saves it); they count only once the frame is confirmed, so predicted frames
//! never raise an alarm. Peers' checksums are the GGRS checksum reports read on their way
//! through the socket (GGRS sends them for confirmed frames only). When every peer's checksum
//! of a frame is known, the frame is decided: all equal, or a verdict. A report lost on the
//! network leaves its frame undecided; such frames age out of the window. With three or four
//! peers the verdict names those outside the strict majority; with two peers, or no strict
//! majority, it names everyone who disagrees with anyone, which is everyone.

use std::collections::BTreeMap;

/// Frames of checksums kept while waiting for peers' reports: bounds memory.
pub const WINDOW_FRAMES: i32 = 1024;

/// A disagreement about a confirmed frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The first frame whose checksums differ.
    pub frame: i32,
    /// Every peer's checksum of that frame, by seat.
    pub checksums: Vec<(usize, u128)>,
    /// The seats that diverged, ascending.
    pub diverged: Vec<usize>,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let diverged: Vec<String> = self.diverged.iter().map(usize::to_string).collect();
        write!(
            f,
            "verdict: frame={} diverged={}",
            self.frame,
            diverged.join(",")
        )
    }
}

/// The checksum table of one peer's view of the match.
#[derive(Debug)]
pub struct Consensus {
    seats: usize,
    local_seat: usize,
    /// frame -> checksum per seat.
    table: BTreeMap<i32, Vec<Option<u128>>>,
    /// Our own checksums of frames not yet confirmed.
    pending_local: BTreeMap<i32, u128>,
    confirmed: i32,
    /// Seats that left, with the newest frame whose state we still share with them: frames
    /// stop waiting for them, and their checksums of later frames are not compared.
    gone: BTreeMap<usize, i32>,
    /// Frames decided recently (so a late duplicate report does not reopen them).
    decided: std::collections::BTreeSet<i32>,
    /// Recent frames on which every checksum agreed.
    agreed_frames: std::collections::BTreeSet<i32>,
    verdict: Option<Verdict>,
}

impl Consensus {
    /// A table for `seats` players, we being `local_seat`.
    pub fn new(seats: usize, local_seat: usize) -> Consensus {
        assert!(
            local_seat < seats,
            "the local seat must be one of the seats"
        );
        Consensus {
            seats,
            local_seat,
            table: BTreeMap::new(),
            pending_local: BTreeMap::new(),
            confirmed: -1,
            gone: BTreeMap::new(),
            decided: std::collections::BTreeSet::new(),
            agreed_frames: std::collections::BTreeSet::new(),
            verdict: None,
        }
    }

    /// Records our checksum of `frame` as just saved (replacing an earlier save of it). A frame
    /// saved after its inputs were confirmed is final at once (with input delay, inputs are
    /// often confirmed before the frame is played).
    pub fn saved(&mut self, frame: i32, checksum: u128) {
        if frame > self.confirmed {
            self.pending_local.insert(frame, checksum);
        } else {
            self.record(frame, self.local_seat, checksum);
        }
    }

    /// Frames up to `frame` are confirmed: our checksums of them are final.
    pub fn confirm(&mut self, frame: i32) {
        if frame <= self.confirmed {
            return;
        }
        self.confirmed = frame;
        let later = self.pending_local.split_off(&(frame + 1));
        let done = std::mem::replace(&mut self.pending_local, later);
        for (f, checksum) in done {
            self.record(f, self.local_seat, checksum);
        }
    }

    /// The peer in `seat` left, and its states are ours only up to `shared` (the states after
    /// it were made, here or there, with inputs the other side did not have): frames after
    /// `shared` no longer wait for its checksums, and its checksums of them are not compared,
    /// whether they came already or come later. Leaving again can only lower `shared`.
    pub fn leave(&mut self, seat: usize, shared: i32) {
        if seat >= self.seats || seat == self.local_seat {
            return;
        }
        let known = self.gone.entry(seat).or_insert(shared);
        *known = (*known).min(shared);
        let shared = *known;
        for (_, row) in self.table.range_mut(shared + 1..) {
            row[seat] = None;
        }
        let frames: Vec<i32> = self.table.keys().copied().collect();
        for frame in frames {
            self.try_decide(frame);
        }
    }

    /// Records a peer's reported checksum of `frame`.
    pub fn reported(&mut self, seat: usize, frame: i32, checksum: u128) {
        if seat >= self.seats || seat == self.local_seat {
            return;
        }
        if self.gone.get(&seat).is_some_and(|&shared| frame > shared) {
            return;
        }
        self.record(frame, seat, checksum);
    }

    /// The newest frame whose inputs are confirmed, as last told.
    pub fn confirmed(&self) -> i32 {
        self.confirmed
    }

    fn record(&mut self, frame: i32, seat: usize, checksum: u128) {
        let newest = self
            .confirmed
            .max(self.agreed_frames.last().copied().unwrap_or(-1));
        if frame < newest.saturating_sub(WINDOW_FRAMES) || self.decided.contains(&frame) {
            return;
        }
        let row = self
            .table
            .entry(frame)
            .or_insert_with(|| vec![None; self.seats]);
        row[seat] = Some(checksum);
        self.try_decide(frame);
        while self.table.len() > WINDOW_FRAMES as usize {
            self.table.pop_first();
        }
    }

    /// Decides `frame` if every present seat's checksum is known.
    fn try_decide(&mut self, frame: i32) {
        let Some(row) = self.table.get(&frame) else {
            return;
        };
        let complete = row.iter().enumerate().all(|(seat, sum)| {
            sum.is_some() || self.gone.get(&seat).is_some_and(|&shared| frame > shared)
        });
        if !complete {
            return;
        }
        let sums: Vec<(usize, u128)> = row
            .iter()
            .enumerate()
            .filter_map(|(seat, sum)| sum.map(|s| (seat, s)))
            .collect();
        self.table.remove(&frame);
        self.decide(frame, &sums);
    }

    /// A complete row: all equal, or a disagreement (the earliest one is the verdict).
    fn decide(&mut self, frame: i32, sums: &[(usize, u128)]) {
        self.decided.insert(frame);
        while self.decided.len() > WINDOW_FRAMES as usize {
            self.decided.pop_first();
        }
        if sums.iter().all(|&(_, s)| s == sums[0].1) {
            self.agreed_frames.insert(frame);
            while self.agreed_frames.len() > WINDOW_FRAMES as usize {
                self.agreed_frames.pop_first();
            }
        } else if self.verdict.as_ref().is_none_or(|v| frame < v.frame) {
            self.verdict = Some(judge(frame, sums));
        }
    }

    /// The newest frame on which all checksums agreed, while no disagreement was seen.
    pub fn agreed_up_to(&self) -> Option<i32> {
        // Frames are decided out of order: only agreements before the verdict's frame count.
        let limit = self.verdict.as_ref().map_or(i32::MAX, |v| v.frame);
        self.agreed_frames.range(..limit).next_back().copied()
    }

    /// The first disagreement, if any.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }
}

fn judge(frame: i32, sums: &[(usize, u128)]) -> Verdict {
    let count = |x: u128| sums.iter().filter(|&&(_, s)| s == x).count();
    let majority = sums
        .iter()
        .map(|&(_, s)| s)
        .find(|&s| count(s) * 2 > sums.len());
    let diverged = sums
        .iter()
        .filter(|&&(_, s)| majority != Some(s))
        .map(|&(seat, _)| seat)
        .collect();
    Verdict {
        frame,
        checksums: sums.to_vec(),
        diverged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(seats: usize, rows: &[(i32, &[u128])]) -> Consensus {
        let mut c = Consensus::new(seats, 0);
        for &(frame, sums) in rows {
            c.saved(frame, sums[0]);
            for (seat, &s) in sums.iter().enumerate().skip(1) {
                c.reported(seat, frame, s);
            }
        }
        c.confirm(rows.last().map_or(0, |r| r.0));
        c
    }

    /// Three or four peers: the minority is named; two peers: both; a tie: everyone.
    #[test]
    fn verdicts_name_the_minority() {
        let c = table(3, &[(1, &[5, 5, 5]), (2, &[6, 6, 7]), (3, &[8, 9, 9])]);
        assert_eq!(c.agreed_up_to(), Some(1));
        let v = c.verdict().expect("a verdict");
        assert_eq!((v.frame, v.diverged.clone()), (2, vec![2]));
        assert_eq!(v.to_string(), "verdict: frame=2 diverged=2");

        let c = table(4, &[(4, &[1, 2, 1, 1])]);
        assert_eq!(c.verdict().expect("verdict").diverged, vec![1]);
        let c = table(4, &[(4, &[1, 2, 2, 2])]);
        assert_eq!(c.verdict().expect("verdict").diverged, vec![0]);
        let c = table(2, &[(4, &[1, 2])]);
        assert_eq!(c.verdict().expect("verdict").diverged, vec![0, 1]);
        let c = table(4, &[(4, &[1, 1, 2, 2])]);
        assert_eq!(c.verdict().expect("verdict").diverged, vec![0, 1, 2, 3]);
    }

    /// Predicted frames never count: a re-saved frame uses its last save, and nothing is
    /// decided before confirmation.
    #[test]
    fn predictions_do_not_count() {
        let mut c = Consensus::new(2, 0);
        c.saved(10, 111); // mispredicted
        c.reported(1, 10, 222);
        assert_eq!(c.verdict(), None, "unconfirmed: undecided");
        c.saved(10, 222); // re-saved after the rollback
        c.confirm(10);
        assert_eq!(c.verdict(), None);
        assert_eq!(c.agreed_up_to(), Some(10));
        c.reported(1, 11, 5);
        assert_eq!(
            c.agreed_up_to(),
            Some(10),
            "frame 11 waits for our own checksum"
        );
    }

    /// A disagreement decided after a later agreement caps what counts as agreed.
    #[test]
    fn late_verdicts_cap_agreement() {
        let mut c = Consensus::new(2, 0);
        c.saved(3, 1);
        c.saved(5, 7);
        c.confirm(5);
        c.reported(1, 5, 7);
        assert_eq!(c.agreed_up_to(), Some(5));
        c.reported(1, 3, 2);
        assert_eq!(c.verdict().map(|v| v.frame), Some(3));
        assert_eq!(
            c.agreed_up_to(),
            None,
            "nothing at or after frame 3 counts as agreed"
        );
        c.saved(2, 9);
        c.reported(1, 2, 9);
        assert_eq!(
            c.agreed_up_to(),
            Some(2),
            "an agreement before the verdict still counts"
        );
    }

    /// A peer that left is compared only on the states we still share: its checksums of later
    /// frames (made with inputs we took as idle, or it took ours as idle) are no verdict,
    /// whether they were recorded before the departure or arrive after it.
    #[test]
    fn departed_states_are_not_compared() {
        let mut c = Consensus::new(2, 0);
        for frame in 0..=10 {
            c.saved(frame, 7);
        }
        c.reported(1, 9, 8); // recorded before we knew
        c.reported(1, 4, 7);
        c.leave(1, 5);
        c.reported(1, 10, 9); // arrives after
        c.reported(1, 5, 7);
        c.confirm(10);
        assert_eq!(c.verdict(), None);
        c.reported(1, 3, 6); // a shared state that differs is still a desync
        assert_eq!(c.verdict().map(|v| v.frame), Some(3));
    }

    /// A frame whose report was lost stays undecided without holding up later frames.
    #[test]
    fn lost_reports_do_not_stall() {
        let mut c = Consensus::new(2, 0);
        for frame in 0..20 {
            c.saved(frame, 7);
            if frame != 5 {
                c.reported(1, frame, 7);
            }
        }
        c.confirm(19);
        assert_eq!(c.agreed_up_to(), Some(19));
        assert_eq!(c.verdict(), None);
    }
}
