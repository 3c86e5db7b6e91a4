//! `hltd replay play FILE`: a replay on the match screen, with pause, single steps forward
//! and back, speeds from 1/4x to 16x, seeks by 10 seconds and to a typed frame number (from
//! the nearest trusted keyframe), a position bar, and the hash of the frame shown.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use replay::Player;

use crate::live::{Tui, DRAW_HZ};
use crate::ui::{self, Playback, Screen};

/// Playback speeds as (numerator, denominator) of real time, and their names.
pub const SPEEDS: [(u32, u32, &str); 7] = [
    (1, 4, "1/4x"),
    (1, 2, "1/2x"),
    (1, 1, "1x"),
    (2, 1, "2x"),
    (4, 1, "4x"),
    (8, 1, "8x"),
    (16, 1, "16x"),
];
/// A 10-second seek, in frames.
pub const SEEK_STEP: u32 = 600;

/// The player and what the user asked of it; everything but the terminal, so it can be
/// tested key by key.
pub struct Playing {
    player: Player,
    file: String,
    speed: usize,
    paused: bool,
    /// Quarter frames owed to the playback (1/4x adds one per tick).
    owed: u32,
    entry: Option<String>,
    help: bool,
    quit: bool,
    message: String,
}

impl Playing {
    /// Plays `player` (loaded from `file`) at 1x.
    pub fn new(player: Player, file: String) -> Playing {
        Playing {
            player,
            file,
            speed: 2,
            paused: false,
            owed: 0,
            entry: None,
            help: false,
            quit: false,
            message: "press ? for the keys".to_string(),
        }
    }

    /// The player.
    pub fn player(&self) -> &Player {
        &self.player
    }

    /// Whether the user asked to leave.
    pub fn quit(&self) -> bool {
        self.quit
    }

    /// Sets the speed by name (`1/4x` ... `16x`); false when there is no such speed.
    pub fn set_speed(&mut self, name: &str) -> bool {
        match SPEEDS.iter().position(|s| s.2 == name) {
            Some(i) => {
                self.speed = i;
                true
            }
            None => false,
        }
    }

    /// Pauses or plays.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Goes to `frame`, saying how far it had to simulate and how long it took.
    pub fn seek(&mut self, frame: u32) {
        let started = Instant::now();
        let seek = self.player.seek(frame);
        self.owed = 0;
        self.message = format!(
            "at frame {} (simulated {} frames from frame {} in {} ms)",
            self.player.frame(),
            seek.simulated,
            seek.from,
            started.elapsed().as_millis()
        );
    }

    /// One key.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if let Some(typed) = self.entry.as_mut() {
            match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() && typed.len() < 9 => typed.push(c),
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Enter => {
                    let target = typed.parse::<u32>().ok();
                    self.entry = None;
                    match target {
                        Some(frame) => self.seek(frame),
                        None => self.message = "no frame number typed".to_string(),
                    }
                }
                KeyCode::Esc => self.entry = None,
                _ => {}
            }
            return;
        }
        if self.help {
            self.help = false;
            if matches!(key.code, KeyCode::Char('?') | KeyCode::Esc) {
                return;
            }
        }
        let here = self.player.frame();
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char(' ' | 'p') => self.paused = !self.paused,
            KeyCode::Right | KeyCode::Char('.') => {
                self.paused = true;
                self.player.step();
                self.message = format!("frame {}", self.player.frame());
            }
            KeyCode::Left | KeyCode::Char(',') => {
                self.paused = true;
                self.seek(here.saturating_sub(1));
            }
            KeyCode::Char('+' | '=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
                self.message = format!("speed {}", SPEEDS[self.speed].2);
            }
            KeyCode::Char('-' | '_') => {
                self.speed = self.speed.saturating_sub(1);
                self.message = format!("speed {}", SPEEDS[self.speed].2);
            }
            KeyCode::Char(']') | KeyCode::PageDown => self.seek(here.saturating_add(SEEK_STEP)),
            KeyCode::Char('[') | KeyCode::PageUp => self.seek(here.saturating_sub(SEEK_STEP)),
            KeyCode::Home => self.seek(0),
            KeyCode::End => self.seek(self.player.frames()),
            KeyCode::Char('g') => self.entry = Some(String::new()),
            _ => {}
        }
    }

    /// One 60 Hz tick: advances as the speed says, unless paused; pauses at the end.
    pub fn tick(&mut self) {
        if self.paused {
            return;
        }
        let (num, den, _) = SPEEDS[self.speed];
        self.owed += 4 * num / den;
        while self.owed >= 4 {
            self.owed -= 4;
            if !self.player.step() {
                self.paused = true;
                self.owed = 0;
                self.message = "the end of the replay".to_string();
                break;
            }
        }
    }

    /// What the panel and the position bar show.
    pub fn playback(&self) -> Playback {
        let replay = self.player.replay();
        let h = &replay.header;
        let who = h.recorder.map_or("a spectator".to_string(), |s| {
            ui::seat_label(usize::from(s))
        });
        Playback {
            file: self.file.clone(),
            about: format!("{}, {} players", h.kind.name(), h.players),
            recorder: who,
            frame: self.player.frame(),
            frames: self.player.frames(),
            speed: SPEEDS[self.speed].2,
            paused: self.paused,
            hash: self.player.hash().to_hex(),
            matches: self.player.matches_record(),
            diverged: self.player.diverged(),
            keyframes: self.player.trusted_keyframes(),
            entry: self.entry.clone(),
            incomplete: crate::replaycmd::incompleteness(replay),
        }
    }

    /// Draws the screen.
    pub fn draw(&self, frame: &mut ratatui::Frame, colour: bool) {
        let view = self.player.game().view();
        let playback = self.playback();
        let screen = Screen {
            view: &view,
            me: None,
            cursor: (0, 0),
            peers: &[],
            consensus: ui::Consensus::Watching,
            message: Some(&self.message),
            help: self.help,
            confirm_quit: false,
            fps: 0,
            summary: None,
            colour,
            playback: Some(&playback),
        };
        ui::draw(frame, &screen);
    }
}

/// How long the play-through may run before it shows its progress.
pub const PROGRESS_AFTER: Duration = Duration::from_millis(500);

/// Opens the replay for playback ([`Player::with_progress`]: it plays through once, up to its
/// first frame that does not hash as recorded), with a progress bar on standard error when
/// that takes longer than [`PROGRESS_AFTER`].
///
/// # Errors
/// When the header's settings are invalid.
pub fn play_through(replay: replay::Replay) -> Result<Player, sim::SettingsError> {
    let started = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let player = Player::with_progress(replay, |done, total| {
        // Checking the clock every 64 frames costs nothing next to a frame.
        if done % 64 != 0 {
            return;
        }
        match &bar {
            Some(bar) => bar.set_position(u64::from(done)),
            None if started.elapsed() >= PROGRESS_AFTER => {
                let new = indicatif::ProgressBar::new(u64::from(total));
                new.set_style(
                    indicatif::ProgressStyle::with_template(
                        "checking the replay: {bar:30} {pos}/{len} frames  eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                new.set_position(u64::from(done));
                bar = Some(new);
            }
            None => {}
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    player
}

/// Plays `file` on the terminal until the user quits.
///
/// # Errors
/// When the terminal fails. With a bad argument, a file that cannot be read, or without a
/// terminal on standard output, it exits 2 before the screen is taken and before the file
/// is played through, having written nothing to standard output.
pub fn run(file: &Path, speed: &str, from: Option<u32>, paused: bool) -> Result<ExitCode> {
    let usage = |message: String| Ok(crate::args::UsageError::new("replay play", message).report());
    let Some(speed) = SPEEDS.iter().position(|s| s.2 == speed) else {
        let names: Vec<&str> = SPEEDS.iter().map(|s| s.2).collect();
        return usage(format!(
            "--speed {speed}: expected one of {}",
            names.join(", ")
        ));
    };
    let replay = match crate::replaycmd::load(file) {
        Ok(replay) => replay,
        Err(code) => return Ok(code),
    };
    if let Some(frame) = from.filter(|&f| f > replay.frames()) {
        return usage(format!(
            "--from {frame}: {} holds frames 0 to {}",
            file.display(),
            replay.frames()
        ));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return usage(
            "the replay plays on a terminal, and standard output is not one; `hltd replay \
             verify FILE` checks a replay and `hltd replay info FILE` describes it without one"
                .to_string(),
        );
    }
    let player = play_through(replay).context("the replay's settings")?;
    let mut playing = Playing::new(player, file.display().to_string());
    playing.set_speed(SPEEDS[speed].2);
    playing.set_paused(paused);
    if let Some(frame) = from {
        playing.seek(frame);
    }
    let mut tui = Tui::start().context("cannot take over the terminal")?;
    let tick = Duration::from_secs(1) / 60;
    let draw_every = Duration::from_secs(1) / DRAW_HZ;
    let (mut next_tick, mut next_draw) = (Instant::now(), Instant::now());
    while !playing.quit() {
        while event::poll(Duration::ZERO)? {
            if let Event::Key(key) = event::read()? {
                playing.on_key(key);
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = next_tick.max(now - tick) + tick;
            playing.tick();
        }
        if now >= next_draw {
            next_draw = now + draw_every;
            let colour = tui.colour;
            tui.terminal.draw(|f| playing.draw(f, colour))?;
        }
        let wake = next_tick.min(next_draw);
        let now = Instant::now();
        if wake > now {
            std::thread::sleep((wake - now).min(Duration::from_millis(4)));
        }
    }
    drop(tui);
    let p = playing.player();
    println!(
        "left the replay at frame {} of {} hash={}",
        p.frame(),
        p.frames(),
        p.hash()
    );
    Ok(match p.diverged() {
        Some(frame) => {
            println!("diverged: frame={frame}");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        }
    }

    fn type_keys(playing: &mut Playing, keys: &str) {
        for c in keys.chars() {
            playing.on_key(key(match c {
                '\n' => KeyCode::Enter,
                c => KeyCode::Char(c),
            }));
        }
    }

    /// A 3-player replay of 1500 frames with keyframes every 600, and every frame's hash.
    fn recorded() -> (replay::Replay, Vec<sim::StateHash>) {
        let settings = sim::Settings::standard(5, 3);
        let header = replay::Header {
            rules_version: sim::RULES_VERSION,
            seed: 5,
            players: 3,
            scenario: sim::Scenario::Standard,
            creeps: 0,
            recorder: Some(1),
            input_delay: 2,
            max_prediction: 8,
            frames_planned: 1500,
            keyframe_interval: 600,
            kind: replay::MatchKind::Join,
        };
        let mut recorder = replay::Recorder::new(Vec::new(), header).expect("recorder");
        let mut game = sim::Game::new(settings);
        let mut hashes = vec![game.hash()];
        let mut inputs = vec![sim::Input::IDLE; 3];
        for _ in 0..1500 {
            sim::Script::Human.inputs(5, game.frame(), &mut inputs);
            hashes.push(game.advance(&inputs));
            recorder.record(&inputs, None).expect("record");
        }
        let bytes = recorder.finish().expect("finish");
        (replay::read(&bytes).expect("read"), hashes)
    }

    #[test]
    fn keys_step_seek_and_change_speed() {
        let (replay, hashes) = recorded();
        let mut p = Playing::new(Player::new(replay).expect("player"), "m.hltr".into());
        let at = |p: &Playing| (p.player().frame(), p.player().hash());
        type_keys(&mut p, "g750\n");
        assert_eq!(at(&p), (750, hashes[750]));
        p.on_key(key(KeyCode::Left));
        assert_eq!(at(&p), (749, hashes[749]));
        assert!(p.paused, "stepping pauses");
        type_keys(&mut p, ".");
        assert_eq!(at(&p), (750, hashes[750]));
        type_keys(&mut p, "]");
        assert_eq!(at(&p), (1350, hashes[1350]));
        type_keys(&mut p, "]");
        assert_eq!(at(&p), (1500, hashes[1500]), "a seek stops at the end");
        p.on_key(key(KeyCode::PageUp));
        assert_eq!(at(&p), (900, hashes[900]));
        p.on_key(key(KeyCode::Home));
        assert_eq!(at(&p), (0, hashes[0]));
        // Typing: backspace, and Esc cancels.
        type_keys(&mut p, "g12");
        p.on_key(key(KeyCode::Backspace));
        type_keys(&mut p, "5\n");
        assert_eq!(p.player().frame(), 15);
        type_keys(&mut p, "g99");
        p.on_key(key(KeyCode::Esc));
        assert_eq!(p.player().frame(), 15);
        assert!(!p.quit());

        // Speeds: 1/4x advances a frame every 4 ticks, 16x 16 frames a tick.
        type_keys(&mut p, "----- ");
        assert_eq!(p.playback().speed, "1/4x");
        assert!(!p.paused);
        for _ in 0..8 {
            p.tick();
        }
        assert_eq!(p.player().frame(), 17);
        type_keys(&mut p, "++++++++");
        assert_eq!(p.playback().speed, "16x");
        p.tick();
        assert_eq!(at(&p), (33, hashes[33]));
        // Playing to the end pauses there.
        for _ in 0..200 {
            p.tick();
        }
        assert_eq!(p.player().frame(), 1500);
        assert!(p.paused);
        assert_eq!(p.player().diverged(), None);
        type_keys(&mut p, "q");
        assert!(p.quit());
    }

    #[test]
    fn the_screen_shows_position_speed_and_hash() {
        let (replay, hashes) = recorded();
        let mut p = Playing::new(Player::new(replay).expect("player"), "m.hltr".into());
        p.seek(750);
        p.set_paused(true);
        let (text, _) = crate::ui::tests::rendered(100, 30, |f| p.draw(f, false));
        let hex = hashes[750].to_hex();
        assert!(text.contains("frame 750 of 1500"), "{text}");
        assert!(text.contains("time  0:12 of 0:25"), "{text}");
        assert!(text.contains("speed 1x  paused"), "{text}");
        assert!(text.contains("join, 3 players"), "{text}");
        assert!(text.contains("recorded by seat 1 (P2)"), "{text}");
        assert!(text.contains("at frame 750 (simulated 150"), "{text}");
        assert!(
            text.contains(&hex[..28]) && text.contains(&hex[28..56]),
            "{text}"
        );
        assert!(text.contains("as recorded"), "{text}");
        let bar = text
            .lines()
            .find(|l| l.starts_with('['))
            .unwrap_or_else(|| panic!("no position bar: {text}"));
        assert!(bar.contains("] 750/1500  0:12/0:25  1x  paused"), "{bar}");
        let filled = bar.matches('#').count();
        let empty = bar.matches('-').count();
        assert_eq!(filled * 2, filled + empty, "half way: {bar}");
        // The help lists the replay's keys; typing a frame shows the entry line.
        type_keys(&mut p, "?");
        let (text, _) = crate::ui::tests::rendered(100, 30, |f| p.draw(f, false));
        assert!(
            text.contains("g NUMBER Enter") && text.contains("go to a frame"),
            "{text}"
        );
        type_keys(&mut p, "?g12");
        let (text, _) = crate::ui::tests::rendered(100, 30, |f| p.draw(f, false));
        assert!(text.contains("go to frame: 12_"), "{text}");
    }
}
