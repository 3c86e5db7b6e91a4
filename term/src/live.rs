//! `hltd demo` with the live terminal view: a networked match on this machine (every peer its
//! own encrypted loopback UDP socket), the user in seat 1 and bots in the others. The
//! simulation ticks at a fixed 60 Hz and samples the user's input once per tick; the screen
//! is drawn at most 30 times a second from a `sim::View` snapshot of seat 1's game.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use net::local::{LocalMatch, LocalMatchOptions};
use net::session::SessionEvent;
use net::udp::SecureSocket;
use sim::{action, Input, TowerKind};

use crate::ui::{self, Consensus, PeerLine, Screen};

/// Screen refreshes per second at most.
const DRAW_HZ: u32 = 30;

/// What the user asked for, between ticks.
struct Controls {
    cursor: (u8, u8),
    /// Actions waiting for their tick (one per tick).
    pending: VecDeque<Input>,
    help: bool,
    confirm_quit: bool,
    quit: bool,
}

impl Controls {
    fn on_key(&mut self, key: KeyEvent, lane: (u8, u8)) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.confirm_quit {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.quit = true,
                _ => self.confirm_quit = false,
            }
            return;
        }
        let (x, y) = self.cursor;
        let at = |action, arg| Input::new(action, arg, x, y);
        match key.code {
            KeyCode::Left | KeyCode::Char('a') => self.cursor.0 = x.saturating_sub(1),
            KeyCode::Right | KeyCode::Char('d') => self.cursor.0 = (x + 1).min(lane.0 - 1),
            KeyCode::Up | KeyCode::Char('w') => self.cursor.1 = y.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('s') => self.cursor.1 = (y + 1).min(lane.1 - 1),
            KeyCode::Char(c @ '1'..='4') => {
                let kind = c as u8 - b'1';
                if TowerKind::from_u8(kind).is_some() {
                    self.pending.push_back(at(action::BUILD, kind));
                }
            }
            KeyCode::Char('u') => self.pending.push_back(at(action::UPGRADE, 0)),
            KeyCode::Char('x') => self.pending.push_back(at(action::SELL, 0)),
            KeyCode::Char('h') => self.pending.push_back(at(action::REPAIR, 0)),
            KeyCode::Char('p') => self.pending.push_back(at(action::PAUSE, 0)),
            KeyCode::Char('?') => self.help = !self.help,
            KeyCode::Esc if self.help => self.help = false,
            KeyCode::Char('q') | KeyCode::Esc => self.confirm_quit = true,
            _ => {}
        }
    }

    /// This tick's input: the next waiting action, or just the cursor.
    fn input(&mut self) -> Input {
        self.pending.pop_front().unwrap_or(Input::new(
            action::NONE,
            0,
            self.cursor.0,
            self.cursor.1,
        ))
    }
}

/// Per-second rates of the network panel, from counters.
#[derive(Default)]
struct Rates {
    at: Option<Instant>,
    rollbacks: u64,
    bytes: Vec<u64>,
    shown_rollbacks: u32,
    shown_kbps: Vec<u32>,
}

/// How the live match ended.
pub struct Outcome {
    /// The user quit before the end.
    pub quit_early: bool,
    /// Screen refreshes per second, on average.
    pub fps: u32,
}

/// Plays the match in the terminal until the target frame is confirmed by every peer and the
/// user leaves the final screen, or the user quits.
///
/// # Errors
/// When the terminal fails or GGRS does.
pub fn play(m: &mut LocalMatch<SecureSocket>, options: &LocalMatchOptions) -> Result<Outcome> {
    let mut terminal = ratatui::init();
    let played = play_in(&mut terminal, m, options);
    ratatui::restore();
    played
}

fn play_in(
    terminal: &mut ratatui::DefaultTerminal,
    m: &mut LocalMatch<SecureSocket>,
    options: &LocalMatchOptions,
) -> Result<Outcome> {
    let first = m.sessions[0].game().view();
    let lane = (first.lane_w, first.lane_h);
    let mut controls = Controls {
        cursor: (0, 0),
        pending: VecDeque::new(),
        help: false,
        confirm_quit: false,
        quit: false,
    };
    let target = options.frames as i32;
    let tick = Duration::from_secs(1) / 60;
    let draw_every = Duration::from_secs(1) / DRAW_HZ;
    let started = Instant::now();
    let (mut next_tick, mut next_draw) = (started, started);
    let (mut draws, mut fps) = (0u32, 0u32);
    let mut fps_since = started;
    let mut rates = Rates::default();
    let mut message = String::from("connected; press ? for the keys");
    let mut finished = false;
    loop {
        while event::poll(Duration::ZERO)? {
            if let Event::Key(key) = event::read()? {
                controls.on_key(key, lane);
            }
        }
        if controls.quit || (finished && controls.confirm_quit) {
            return Ok(Outcome {
                quit_early: !finished,
                fps,
            });
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = next_tick.max(now - tick) + tick;
            for (seat, session) in m.sessions.iter_mut().enumerate() {
                let frame = session.current_frame().max(0) as u32;
                let input = if seat == 0 {
                    controls.input()
                } else {
                    options.bots.input(options.seed, frame, seat as u8)
                };
                session.step(input)?;
                for event in session.take_events() {
                    if seat == 0 {
                        message = describe(&event);
                    }
                }
            }
            if !finished
                && m.sessions
                    .iter()
                    .all(|s| s.confirmed_hash(target).is_some())
            {
                finished = true;
                message =
                    format!("frame {target} reached by every peer: press q to see the summary");
            }
        }
        if now >= next_draw {
            next_draw = now + draw_every;
            let view = m.sessions[0].game().view();
            let peers = peer_lines(m, &mut rates, now);
            let consensus = match m.sessions[0].verdict() {
                Some(verdict) => Consensus::Desync(verdict.to_string()),
                None => Consensus::Agreed(m.sessions[0].agreed_up_to()),
            };
            let screen = Screen {
                view: &view,
                me: Some(0),
                cursor: controls.cursor,
                peers: &peers,
                consensus,
                message: Some(&message),
                help: controls.help,
                confirm_quit: controls.confirm_quit && !finished,
                fps,
            };
            terminal.draw(|f| ui::draw(f, &screen))?;
            draws += 1;
            if now.duration_since(fps_since) >= Duration::from_secs(1) {
                fps = draws;
                draws = 0;
                fps_since = now;
            }
        }
        let wake = next_tick.min(next_draw);
        let now = Instant::now();
        if wake > now {
            std::thread::sleep((wake - now).min(Duration::from_millis(4)));
        }
    }
}

fn describe(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Synchronized(seat) => format!("synchronized with P{}", seat + 1),
        SessionEvent::Interrupted(seat) => format!("P{} went quiet", seat + 1),
        SessionEvent::Resumed(seat) => format!("P{} is back", seat + 1),
        SessionEvent::Disconnected(seat) => format!("P{} left; playing on without them", seat + 1),
        SessionEvent::Desync(verdict) => format!("desync: {verdict}"),
        SessionEvent::ConfigMismatch(addr) => {
            format!("{addr} runs a different version or configuration")
        }
    }
}

/// The network panel of seat 1, with rates refreshed once a second.
fn peer_lines(m: &LocalMatch<SecureSocket>, rates: &mut Rates, now: Instant) -> Vec<PeerLine> {
    let session = &m.sessions[0];
    let stats = session.peer_stats();
    let bytes: Vec<u64> = stats
        .iter()
        .map(|s| s.traffic.bytes_sent + s.traffic.bytes_received)
        .collect();
    let rollbacks = session.work().rollbacks;
    let elapsed = rates.at.map(|at| now.duration_since(at));
    if elapsed.is_none_or(|e| e >= Duration::from_secs(1)) {
        if let Some(ms) = elapsed.map(|e| (e.as_millis() as u64).max(1)) {
            rates.shown_rollbacks = (rollbacks.saturating_sub(rates.rollbacks) * 1000 / ms) as u32;
            rates.shown_kbps = bytes
                .iter()
                .zip(rates.bytes.iter().chain(std::iter::repeat(&0)))
                .map(|(now, then)| (now.saturating_sub(*then) * 8 / ms) as u32)
                .collect();
        }
        rates.at = Some(now);
        rates.rollbacks = rollbacks;
        rates.bytes = bytes;
    }
    stats
        .iter()
        .enumerate()
        .map(|(i, s)| PeerLine {
            seat: s.seat,
            ping_ms: s.ping_ms,
            frames_ahead: s.local_frames_behind.map(|f| -f),
            rollbacks_per_s: rates.shown_rollbacks,
            kbps: rates.shown_kbps.get(i).copied().unwrap_or(0),
            dropped: s.traffic.dropped.values().sum(),
        })
        .collect()
}
