//! The live terminal client. One loop plays every kind of match: `hltd demo` (every peer in
//! this process, the user in seat 1 and bots in the others) and `hltd host`, `join` and
//! `spectate` (one peer, planned in a lobby whose screen [`LobbyWatch`] draws).
//!
//! The simulation ticks at a fixed 60 Hz and samples the user's input once per tick; when
//! GGRS recommends waiting (we run ahead of the others), ticks are spent only listening. The
//! screen is drawn at most 30 times a second from a `sim::View` snapshot: rendering never
//! touches the ECS.

use std::collections::VecDeque;
use std::fmt::Display;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use net::lobby::{Progress, Watcher};
use net::local::{Faulty, LocalMatch, LocalMatchOptions, PlannedMatch};
use net::session::{Session, SessionEvent};
use net::transport::Transport;
use sim::{action, Input, TowerKind, View};

use crate::lobby_ui::{self, LobbyScreen, SeatLine, SeatState};
use crate::record::Recording;
use crate::ui::{self, Consensus, PeerLine, Screen, Summary};

/// Screen refreshes per second at most.
pub(crate) const DRAW_HZ: u32 = 30;
/// How long a finished peer keeps stepping so the others can finish and checksums arrive.
const LINGER: Duration = Duration::from_secs(2);

/// The terminal in raw mode on the alternate screen, given back on drop and by a panic hook
/// on a panic.
pub struct Tui {
    pub(crate) terminal: ratatui::DefaultTerminal,
    pub(crate) colour: bool,
}

/// Whether a [`Tui`] holds the terminal: the panic hook gives it back only then, so a panic
/// without a screen writes no escape codes.
static TUI_ACTIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Tui {
    /// Takes over the terminal.
    ///
    /// # Errors
    /// When standard output is not a terminal (then nothing is written to it), or the
    /// terminal cannot be put in raw mode or on the alternate screen (then what was done is
    /// undone).
    pub fn start() -> std::io::Result<Tui> {
        if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return Err(std::io::Error::other("standard output is not a terminal"));
        }
        restore_on_panic();
        crossterm::terminal::enable_raw_mode()?;
        let on_screen = (|| {
            crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
            ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
        })();
        match on_screen {
            Ok(terminal) => {
                TUI_ACTIVE.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Tui {
                    terminal,
                    colour: ui::colour_wanted(),
                })
            }
            Err(err) => {
                ratatui::restore();
                Err(err)
            }
        }
    }
}

/// Like ratatui's own hook, gives the terminal back before a panic's message is printed;
/// but not for a panic of the WebRTC message loop's thread, which is caught there and ends
/// the session with an error instead (the screen stays up to say so in order), nor when no
/// [`Tui`] holds the terminal.
fn restore_on_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(net::rtc::LOOP_THREAD)
                && TUI_ACTIVE.swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                ratatui::restore();
            }
            previous(info);
        }));
    });
}

impl Drop for Tui {
    fn drop(&mut self) {
        TUI_ACTIVE.store(false, std::sync::atomic::Ordering::SeqCst);
        ratatui::restore();
    }
}

/// What the user asked for, between ticks.
pub struct Controls {
    cursor: (u8, u8),
    lane: (u8, u8),
    /// Spectators have no actions.
    playing: bool,
    /// Actions waiting for their tick (one per tick).
    pending: VecDeque<Input>,
    help: bool,
    confirm_quit: bool,
    quit: bool,
}

impl Controls {
    fn new(lane: (u8, u8), playing: bool) -> Controls {
        Controls {
            cursor: (0, 0),
            lane,
            playing,
            pending: VecDeque::new(),
            help: false,
            confirm_quit: false,
            quit: false,
        }
    }

    fn on_key(&mut self, key: KeyEvent) {
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
        match key.code {
            KeyCode::Char('?') => self.help = !self.help,
            KeyCode::Esc if self.help => self.help = false,
            KeyCode::Char('q') | KeyCode::Esc => self.confirm_quit = true,
            _ if self.playing => self.on_play_key(key.code),
            _ => {}
        }
    }

    fn on_play_key(&mut self, code: KeyCode) {
        let (x, y) = self.cursor;
        let at = |action, arg| Input::new(action, arg, x, y);
        match code {
            KeyCode::Left | KeyCode::Char('a') => self.cursor.0 = x.saturating_sub(1),
            KeyCode::Right | KeyCode::Char('d') => self.cursor.0 = (x + 1).min(self.lane.0 - 1),
            KeyCode::Up | KeyCode::Char('w') => self.cursor.1 = y.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('s') => self.cursor.1 = (y + 1).min(self.lane.1 - 1),
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

impl Rates {
    /// Refreshes the shown rates once a second from the counters' current values.
    fn update(&mut self, now: Instant, rollbacks: u64, bytes: Vec<u64>) {
        let elapsed = self.at.map(|at| now.duration_since(at));
        if elapsed.is_some_and(|e| e < Duration::from_secs(1)) {
            return;
        }
        if let Some(ms) = elapsed.map(|e| (e.as_millis() as u64).max(1)) {
            self.shown_rollbacks = (rollbacks.saturating_sub(self.rollbacks) * 1000 / ms) as u32;
            self.shown_kbps = bytes
                .iter()
                .zip(self.bytes.iter().chain(std::iter::repeat(&0)))
                .map(|(now, then)| (now.saturating_sub(*then) * 8 / ms) as u32)
                .collect();
        }
        self.at = Some(now);
        self.rollbacks = rollbacks;
        self.bytes = bytes;
    }
}

/// The network panel of a player session, with rates refreshed once a second.
fn session_peer_lines<T: Transport>(
    session: &Session<Faulty, T>,
    rates: &mut Rates,
    now: Instant,
) -> Vec<PeerLine> {
    let stats = session.peer_stats();
    let bytes = stats
        .iter()
        .map(|s| s.traffic.bytes_sent + s.traffic.bytes_received)
        .collect();
    rates.update(now, session.work().rollbacks, bytes);
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

fn describe<A: Display>(event: &SessionEvent<A>) -> String {
    match event {
        SessionEvent::Synchronized(seat) => format!("synchronized with {}", ui::seat_label(*seat)),
        SessionEvent::Interrupted(seat) => format!("{} went quiet", ui::seat_label(*seat)),
        SessionEvent::Resumed(seat) => format!("{} is back", ui::seat_label(*seat)),
        SessionEvent::Disconnected(seat) => {
            format!("{} left; playing on without them", ui::seat_label(*seat))
        }
        SessionEvent::Desync(verdict) => format!("desync: {verdict}"),
        SessionEvent::ConfigMismatch(addr) => {
            format!("{addr} runs a different version or configuration")
        }
    }
}

/// Won, lost, or where the match stopped, in words.
fn result_of(view: &View) -> String {
    match view.status {
        sim::Status::Won => format!("WON: all {} waves beaten", view.waves_total),
        sim::Status::Lost => format!("LOST: the base fell in wave {}", view.wave),
        sim::Status::Running => format!(
            "time is up: wave {} of {}, base {}/{}",
            view.wave, view.waves_total, view.base_hp, view.base_hp_max
        ),
    }
}

/// A match the live loop can play, whatever carries it.
pub trait Driver {
    /// Our seat (None: spectating).
    fn me(&self) -> Option<usize>;
    /// The snapshot to draw.
    fn view(&self) -> View;
    /// One 60 Hz tick: takes the user's input from `controls` if our seat advances, and
    /// returns news for the status line. After the end it keeps the match answering.
    fn tick(&mut self, controls: &mut Controls) -> Result<Vec<String>>;
    /// The network panel.
    fn peers(&mut self, now: Instant) -> Vec<PeerLine>;
    /// The consensus line.
    fn consensus(&self) -> Consensus;
    /// Whether the last frame is confirmed.
    fn finished(&self) -> bool;
    /// The end of the match, whose last view is `end`.
    fn summary(&self, end: &View) -> Summary;
    /// Ticks spent waiting on GGRS's recommendation.
    fn waited(&self) -> u64;
}

/// `hltd demo`: every peer in this process; the user in seat 1, bots in the others.
pub struct LocalDriver<'a, T: Transport> {
    m: &'a mut LocalMatch<T>,
    options: &'a LocalMatchOptions,
    skip: Vec<u32>,
    waited: u64,
    rates: Rates,
    recording: Recording,
}

impl<'a, T: Transport> LocalDriver<'a, T> {
    /// Drives `m`, which `options` started (and has not stepped), into `recording`.
    pub fn new(
        m: &'a mut LocalMatch<T>,
        options: &'a LocalMatchOptions,
        recording: Recording,
    ) -> Self {
        let peers = m.sessions.len();
        m.observe_with(&recording);
        LocalDriver {
            m,
            options,
            skip: vec![0; peers],
            waited: 0,
            rates: Rates::default(),
            recording,
        }
    }

    /// The recording, to finish after the match (the driver records nothing more).
    pub fn take_recording(&mut self) -> Recording {
        std::mem::replace(&mut self.recording, Recording::off())
    }
}

impl<T: Transport> Driver for LocalDriver<'_, T> {
    fn me(&self) -> Option<usize> {
        Some(0)
    }

    fn view(&self) -> View {
        self.m.sessions[0].game().view()
    }

    fn tick(&mut self, controls: &mut Controls) -> Result<Vec<String>> {
        let mut news = Vec::new();
        let finished = self.finished();
        for (seat, session) in self.m.sessions.iter_mut().enumerate() {
            self.skip[seat] += session.take_wait_recommendation();
            if finished {
                session.poll();
                continue;
            }
            if self.skip[seat] > 0 {
                self.skip[seat] -= 1;
                self.waited += u64::from(seat == 0);
                session.poll();
                continue;
            }
            let frame = session.current_frame().max(0) as u32;
            let input = if seat == 0 {
                controls.input()
            } else {
                self.options
                    .bots
                    .input(self.options.seed, frame, seat as u8)
            };
            session.step(input)?;
            let events = session.take_events();
            if seat == 0 {
                news.extend(events.iter().map(describe));
            }
        }
        self.m.report_to(&mut self.recording);
        Ok(news)
    }

    fn peers(&mut self, now: Instant) -> Vec<PeerLine> {
        session_peer_lines(&self.m.sessions[0], &mut self.rates, now)
    }

    fn consensus(&self) -> Consensus {
        match self.m.sessions[0].verdict() {
            Some(verdict) => Consensus::Desync(verdict.to_string()),
            None => Consensus::Agreed(self.m.sessions[0].agreed_up_to()),
        }
    }

    fn finished(&self) -> bool {
        let target = self.options.frames as i32;
        self.m.sessions.iter().all(|s| s.reached(target))
    }

    fn summary(&self, end: &View) -> Summary {
        let target = self.options.frames as i32;
        let hashes: Vec<Option<[u8; 32]>> = self
            .m
            .sessions
            .iter()
            .map(|s| s.confirmed_hash(target))
            .collect();
        let verdict = self.m.sessions.iter().find_map(|s| s.verdict());
        let agreed = verdict.is_none() && hashes.iter().all(|h| h.is_some() && *h == hashes[0]);
        let me = &self.m.sessions[0];
        Summary {
            result: result_of(end),
            frames: self.options.frames,
            rollbacks: Some((me.work().rollbacks, me.work().resimulated)),
            hash: sim::StateHash(hashes[0].unwrap_or([0; 32])).to_hex(),
            agreement: match verdict {
                _ if agreed => format!("agreed: all {} peers, same hash", hashes.len()),
                Some(verdict) => format!("DESYNC {verdict}"),
                None => "the peers' hashes differ".to_string(),
            },
            replay: self.recording.path().map(|p| p.display().to_string()),
        }
    }

    fn waited(&self) -> u64 {
        self.waited
    }
}

/// `hltd host`, `join` and `spectate`: one peer of a match planned in a lobby.
pub struct PlannedDriver<T: Transport> {
    planned: PlannedMatch<T>,
    skip: u32,
    waited: u64,
    rates: Rates,
    recording: Recording,
}

impl<T: Transport> PlannedDriver<T> {
    /// Drives a started planned match (not yet ticked) into `recording`.
    pub fn new(mut planned: PlannedMatch<T>, recording: Recording) -> Self {
        planned.observe_with(&recording);
        PlannedDriver {
            planned,
            skip: 0,
            waited: 0,
            rates: Rates::default(),
            recording,
        }
    }

    /// The recording, to finish after the match (the driver records nothing more).
    pub fn take_recording(&mut self) -> Recording {
        std::mem::replace(&mut self.recording, Recording::off())
    }

    /// The match, for its report after the loop.
    pub fn planned(&mut self) -> &mut PlannedMatch<T> {
        &mut self.planned
    }
}

impl<T: Transport> Driver for PlannedDriver<T> {
    fn me(&self) -> Option<usize> {
        self.planned.seat()
    }

    fn view(&self) -> View {
        self.planned.view()
    }

    fn tick(&mut self, controls: &mut Controls) -> Result<Vec<String>> {
        self.skip += self.planned.take_wait_recommendation();
        if self.planned.is_done(LINGER) {
            self.planned.poll();
        } else if self.skip > 0 && !self.planned.is_finished() {
            self.skip -= 1;
            self.waited += 1;
            self.planned.poll();
        } else {
            let input = if self.planned.seat().is_some() {
                controls.input()
            } else {
                Input::IDLE
            };
            self.planned.tick(input)?;
        }
        self.planned.report_to(&mut self.recording);
        Ok(self.planned.take_events().iter().map(describe).collect())
    }

    fn peers(&mut self, now: Instant) -> Vec<PeerLine> {
        if let Some(session) = self.planned.session() {
            return session_peer_lines(session, &mut self.rates, now);
        }
        // A spectator hears only the host.
        let host = self.planned.host();
        let traffic = self
            .planned
            .net()
            .borrow()
            .traffic(host)
            .cloned()
            .unwrap_or_default();
        self.rates
            .update(now, 0, vec![traffic.bytes_sent + traffic.bytes_received]);
        vec![PeerLine {
            seat: 0,
            ping_ms: None,
            frames_ahead: None,
            rollbacks_per_s: 0,
            kbps: self.rates.shown_kbps.first().copied().unwrap_or(0),
            dropped: traffic.dropped.values().sum(),
        }]
    }

    fn consensus(&self) -> Consensus {
        match self.planned.session() {
            Some(session) => match session.verdict() {
                Some(verdict) => Consensus::Desync(verdict.to_string()),
                None => Consensus::Agreed(session.agreed_up_to()),
            },
            None => Consensus::Watching,
        }
    }

    fn finished(&self) -> bool {
        self.planned.is_finished()
    }

    fn summary(&self, end: &View) -> Summary {
        let report = self.planned.report();
        let target = self.planned.target();
        Summary {
            result: result_of(end),
            frames: report.frames,
            rollbacks: report
                .peer
                .as_ref()
                .map(|p| (p.work.rollbacks, p.work.resimulated)),
            hash: sim::StateHash(report.hash).to_hex(),
            agreement: match (&report.verdict, report.seat) {
                (Some(verdict), _) => format!("DESYNC {verdict}"),
                (None, None) => "watched: a spectator's hash is not compared".to_string(),
                (None, Some(_)) if report.agreed_up_to >= Some(target) => {
                    format!("agreed: all {} players, same hash", report.players)
                }
                (None, Some(_)) => "waiting for the others' last hashes".to_string(),
            },
            replay: self.recording.path().map(|p| p.display().to_string()),
        }
    }

    fn waited(&self) -> u64 {
        self.waited
    }
}

/// How the live match ended.
pub struct Outcome {
    /// The user quit before the end.
    pub quit_early: bool,
    /// Screen refreshes per second, on average over the last second.
    pub fps: u32,
}

/// Plays the match until the user leaves: after the end from the summary with `q`, before
/// it with `q` then `y`, or at once with Ctrl-C.
///
/// # Errors
/// When the terminal fails, or GGRS or the transport does.
pub fn play(tui: &mut Tui, driver: &mut dyn Driver, greeting: &str) -> Result<Outcome> {
    let first = driver.view();
    let mut controls = Controls::new((first.lane_w, first.lane_h), driver.me().is_some());
    let tick = Duration::from_secs(1) / 60;
    let draw_every = Duration::from_secs(1) / DRAW_HZ;
    let started = Instant::now();
    let (mut next_tick, mut next_draw) = (started, started);
    let (mut draws, mut fps) = (0u32, 0u32);
    let mut fps_since = started;
    let mut message = greeting.to_string();
    // The view at the end stays on screen under the summary while the match winds down.
    let mut last_view: Option<View> = None;
    loop {
        while event::poll(Duration::ZERO)? {
            if let Event::Key(key) = event::read()? {
                controls.on_key(key);
            }
        }
        let finished = last_view.is_some();
        if controls.quit || (finished && controls.confirm_quit) {
            return Ok(Outcome {
                quit_early: !finished,
                fps,
            });
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = next_tick.max(now - tick) + tick;
            if let Some(news) = driver.tick(&mut controls)?.pop() {
                message = news;
            }
            if !finished && driver.finished() {
                last_view = Some(driver.view());
                message = "the match is over".to_string();
            }
        }
        if now >= next_draw {
            next_draw = now + draw_every;
            let live;
            let view = match &last_view {
                Some(end) => end,
                None => {
                    live = driver.view();
                    &live
                }
            };
            let peers = driver.peers(now);
            let summary = last_view.as_ref().map(|end| driver.summary(end));
            let screen = Screen {
                view,
                me: driver.me(),
                cursor: controls.cursor,
                peers: &peers,
                consensus: driver.consensus(),
                message: Some(&message),
                help: controls.help,
                confirm_quit: controls.confirm_quit && !finished,
                fps,
                summary: summary.as_ref(),
                playback: None,
                colour: tui.colour,
            };
            tui.terminal.draw(|f| ui::draw(f, &screen))?;
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

/// Follows a lobby on the lobby screen: draws it at most 30 times a second and reads keys
/// between the lobby's turns; `q` then `y` (or Ctrl-C) leaves.
pub struct LobbyWatch<'a> {
    tui: &'a mut Tui,
    /// What the screen shows.
    pub screen: LobbyScreen,
    next_draw: Instant,
    quit: bool,
    /// A terminal failure, which ends the lobby.
    pub error: Option<std::io::Error>,
}

impl<'a> LobbyWatch<'a> {
    /// Starts drawing `screen` on `tui`.
    pub fn new(tui: &'a mut Tui, mut screen: LobbyScreen) -> Self {
        screen.colour = tui.colour;
        LobbyWatch {
            tui,
            screen,
            next_draw: Instant::now(),
            quit: false,
            error: None,
        }
    }

    fn read_keys(&mut self) -> std::io::Result<()> {
        while event::poll(Duration::ZERO)? {
            let Event::Key(key) = event::read()? else {
                continue;
            };
            if key.kind == KeyEventKind::Release {
                continue;
            }
            let ctrl_c =
                key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
            if ctrl_c || (self.screen.confirm_quit && matches!(key.code, KeyCode::Char('y'))) {
                self.quit = true;
            } else if self.screen.confirm_quit {
                self.screen.confirm_quit = false;
            } else if matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
                self.screen.confirm_quit = true;
            }
        }
        Ok(())
    }

    /// Draws now, whatever the time since the last drawing.
    pub fn redraw(&mut self) -> std::io::Result<()> {
        self.next_draw = Instant::now() + Duration::from_secs(1) / DRAW_HZ;
        let screen = &self.screen;
        self.tui.terminal.draw(|f| lobby_ui::draw(f, screen))?;
        Ok(())
    }
}

impl<A: Display> Watcher<A> for LobbyWatch<'_> {
    fn progress(&mut self, progress: Progress<A>) {
        let screen = &mut self.screen;
        match progress {
            Progress::Joined { seat, addr } => {
                screen.note(format!(
                    "a player joined from {addr}: {}",
                    ui::seat_label(seat)
                ));
                screen.seats.push(SeatLine {
                    who: addr.to_string(),
                    state: SeatState::Joined,
                });
            }
            Progress::Watching(addr) => {
                screen.spectators += 1;
                screen.note(format!("a spectator joined from {addr}"));
            }
            Progress::Refused(addr) => {
                screen.note(format!(
                    "refused {addr}: it runs a different version or configuration"
                ));
            }
            Progress::Left { seat, addr } => {
                if seat < screen.seats.len() {
                    screen.seats.remove(seat);
                }
                screen.note(format!(
                    "{} ({addr}) left; later seats moved up",
                    ui::seat_label(seat)
                ));
            }
            Progress::Starting => {
                screen.note("every seat is taken; the players are connecting".to_string());
            }
            Progress::Ready { seat } => {
                if let Some(line) = screen.seats.get_mut(seat) {
                    line.state = SeatState::Ready;
                }
            }
            Progress::Roster {
                seat,
                players,
                spectators,
                start,
            } => {
                screen.seats = players
                    .iter()
                    .enumerate()
                    .map(|(i, addr)| {
                        let mut who = addr.to_string();
                        if i == 0 {
                            who.push_str(" (host)");
                        }
                        if seat == Some(i) {
                            who.push_str(" (you)");
                        }
                        SeatLine {
                            who,
                            state: if i == 0 {
                                SeatState::Ready
                            } else {
                                SeatState::Joined
                            },
                        }
                    })
                    .collect();
                screen.spectators = spectators;
                if start {
                    screen.seats_total = Some(players.len());
                    screen.note("every seat is taken; connecting to the players".to_string());
                } else {
                    screen.note(format!(
                        "{} player(s) in the lobby; the host starts when every seat is taken",
                        players.len()
                    ));
                }
            }
        }
        self.next_draw = Instant::now();
    }

    fn go_on(&mut self) -> bool {
        if let Err(err) = self.read_keys() {
            self.error = Some(err);
            return false;
        }
        if Instant::now() >= self.next_draw {
            if let Err(err) = self.redraw() {
                self.error = Some(err);
                return false;
            }
        }
        !self.quit
    }
}
