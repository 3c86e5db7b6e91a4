//! The match screen, drawn from plain data: a [`sim::View`] snapshot handed over by the game
//! loop, plus the network panel's numbers. Nothing here touches the simulation or the
//! terminal directly, so every screen can be drawn into ratatui's `TestBackend` and checked.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use sim::{CreepKind, TowerKind, View};

/// The smallest terminal the screen is laid out for.
pub const MIN_WIDTH: u16 = 80;
/// The smallest terminal the screen is laid out for.
pub const MIN_HEIGHT: u16 = 24;
/// Width of the network panel.
const PANEL_WIDTH: u16 = 32;

/// One remote peer as the network panel shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerLine {
    /// Its seat.
    pub seat: usize,
    /// Round-trip time, once known.
    pub ping_ms: Option<u128>,
    /// Frames we are ahead of it (negative: behind).
    pub frames_ahead: Option<i32>,
    /// Rollbacks per second (ours, over the last second).
    pub rollbacks_per_s: u32,
    /// Kilobits per second sent to it and received from it, together.
    pub kbps: u32,
    /// Packets from it that were dropped.
    pub dropped: u64,
}

/// How the screen names a seat: its 0-based number, as `verdict:` lines, bundle names and
/// `--inject-desync` count, and the player label of its lane (`P` counted from 1), so that
/// `diverged=1` is found as `seat 1 (P2)` without guessing.
pub fn seat_label(seat: usize) -> String {
    format!("seat {seat} (P{})", seat + 1)
}

/// What the consensus line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consensus {
    /// Every peer's hashes agreed up to this frame (None: nothing confirmed yet).
    Agreed(Option<i32>),
    /// The verdict, in words: who diverged at which frame.
    Desync(String),
    /// A spectator follows the host's confirmed inputs and has no vote.
    Watching,
}

/// The end of a match, as the summary overlay shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Won, lost, or where the match stopped.
    pub result: String,
    /// Frames played to the end.
    pub frames: u32,
    /// Our rollbacks and the frames simulated again after them (None: a spectator has none).
    pub rollbacks: Option<(u64, u64)>,
    /// The state hash of the last frame, in hex.
    pub hash: String,
    /// Whether the peers agreed, in words.
    pub agreement: String,
    /// Where the replay was written, once replays are recorded.
    pub replay: Option<String>,
}

/// A replay being played back, as the panel and the position bar show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Playback {
    /// The file.
    pub file: String,
    /// What was recorded (`demo, 2 players`).
    pub about: String,
    /// Who recorded it (`P1`, `a spectator`).
    pub recorder: String,
    /// The frame shown.
    pub frame: u32,
    /// The last frame.
    pub frames: u32,
    /// Playback speed (`1/4x` to `16x`).
    pub speed: &'static str,
    /// Paused.
    pub paused: bool,
    /// The shown state's hash, in hex.
    pub hash: String,
    /// Whether it is the hash the replay recorded for this frame.
    pub matches: bool,
    /// The first frame seen that did not hash as recorded.
    pub diverged: Option<u32>,
    /// Keyframes to seek from.
    pub keyframes: usize,
    /// The frame number being typed after `g`.
    pub entry: Option<String>,
    /// Why the file ends early, if it does.
    pub incomplete: Option<String>,
}

/// The keys of the replay player.
pub const REPLAY_KEYS: &[(&str, &str)] = &[
    ("space / p", "pause or play"),
    ("right / .", "one frame forward (pauses)"),
    ("left / ,", "one frame back (pauses)"),
    ("+ / -", "faster / slower (1/4x to 16x)"),
    ("] / PgDn", "10 seconds forward"),
    ("[ / PgUp", "10 seconds back"),
    ("Home / End", "the start / the end"),
    ("g NUMBER Enter", "go to a frame"),
    ("?", "show or hide this help"),
    ("q / Esc", "quit"),
];

/// `m:ss` of a frame count at 60 Hz.
fn clock(frames: u32) -> String {
    let seconds = frames / 60;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// Everything one frame of the match screen shows.
#[derive(Clone, Debug)]
pub struct Screen<'a> {
    /// The state to draw.
    pub view: &'a View,
    /// Our seat (None: spectating).
    pub me: Option<usize>,
    /// Our cursor (the input we send next), which may be ahead of the one in the view.
    pub cursor: (u8, u8),
    /// The network panel.
    pub peers: &'a [PeerLine],
    /// The consensus line.
    pub consensus: Consensus,
    /// A line of news (a peer left, a build failed...).
    pub message: Option<&'a str>,
    /// Show the keys.
    pub help: bool,
    /// Ask whether to quit.
    pub confirm_quit: bool,
    /// Frames per second the screen is drawn at (shown in the panel).
    pub fps: u32,
    /// The match is over: the summary overlay.
    pub summary: Option<&'a Summary>,
    /// Draw in colour (off for `NO_COLOR` and dumb terminals).
    pub colour: bool,
    /// A replay is shown: the panel and status line are the player's.
    pub playback: Option<&'a Playback>,
}

/// Whether to draw in colour: not when `NO_COLOR` is set to anything but the empty string
/// (<https://no-color.org>), nor on a `dumb` terminal.
pub fn colour_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !no_color && !dumb
}

/// Removes every colour from what was drawn, keeping bold, reverse and the like, which is
/// how the screen stays readable without colour.
pub fn strip_colour(frame: &mut Frame) {
    let area = frame.area();
    let buffer = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buffer[(x, y)];
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
        }
    }
}

/// The keys, as the help overlay lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("arrows / WASD", "move the cursor"),
    ("1 2 3 4", "build arrow, cannon, frost, healer"),
    ("u", "upgrade the tower under the cursor"),
    ("x", "sell it (half of what it cost)"),
    ("h", "heal (repair) it"),
    ("p", "ask to pause or resume"),
    ("?", "show or hide this help"),
    ("q", "quit (asks first)"),
];

/// Draws the match screen, or a notice when the terminal is too small.
pub fn draw(frame: &mut Frame, screen: &Screen) {
    draw_match(frame, screen);
    if !screen.colour {
        strip_colour(frame);
    }
}

fn draw_match(frame: &mut Frame, screen: &Screen) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return draw_too_small(frame, area);
    }
    let [hud, body, status] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(10),
        Constraint::Length(2),
    ])
    .areas(area);
    let [grid, panel] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(PANEL_WIDTH)]).areas(body);
    draw_hud(frame, hud, screen);
    draw_lanes(frame, grid, screen);
    match screen.playback {
        Some(playback) => {
            draw_playback_panel(frame, panel, playback, screen.message);
            draw_position(frame, status, playback);
        }
        None => {
            draw_panel(frame, panel, screen);
            draw_status(frame, status, screen);
        }
    }
    if let Some(summary) = screen.summary {
        draw_summary(frame, area, summary);
    }
    if screen.help {
        draw_help(
            frame,
            area,
            if screen.playback.is_some() {
                REPLAY_KEYS
            } else {
                KEYS
            },
        );
    }
    if screen.confirm_quit {
        draw_popup(
            frame,
            area,
            " quit? ",
            vec![Line::from("Leave the match? y: yes, n: no")],
        );
    }
}

fn draw_summary(frame: &mut Frame, area: Rect, summary: &Summary) {
    let mut lines = vec![
        Line::from(Span::styled(summary.result.clone(), Style::new().bold())),
        Line::from(format!("frames     {}", summary.frames)),
    ];
    if let Some((rollbacks, resimulated)) = summary.rollbacks {
        lines.push(Line::from(format!(
            "rollbacks  {rollbacks} ({resimulated} frames simulated again)"
        )));
    }
    lines.push(Line::from("final hash"));
    lines.push(Line::from(format!(
        " {}",
        &summary.hash[..summary.hash.len().min(32)]
    )));
    if summary.hash.len() > 32 {
        lines.push(Line::from(format!(" {}", &summary.hash[32..])));
    }
    let agreed = summary.agreement.starts_with("agreed");
    lines.push(Line::from(Span::styled(
        summary.agreement.clone(),
        if agreed {
            Style::new().fg(Color::Green)
        } else {
            Style::new().fg(Color::Red).bold()
        },
    )));
    if let Some(replay) = &summary.replay {
        lines.push(Line::from(format!("replay     {replay}")));
    }
    lines.push(Line::from(""));
    lines.push(Line::from("press q to leave"));
    draw_popup(frame, area, " match over ", lines);
}

pub(crate) fn draw_too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("The window is too small."),
        Line::from(format!(
            "Healer TD needs {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.",
            area.width, area.height
        )),
        Line::from("Enlarge it, or press q to quit."),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn tower_name(kind: TowerKind) -> &'static str {
    match kind {
        TowerKind::Arrow => "arrow",
        TowerKind::Cannon => "cannon",
        TowerKind::Frost => "frost",
        TowerKind::Healer => "healer",
    }
}

fn tower_glyph(kind: TowerKind) -> char {
    match kind {
        TowerKind::Arrow => 'A',
        TowerKind::Cannon => 'C',
        TowerKind::Frost => 'F',
        TowerKind::Healer => 'H',
    }
}

fn tower_color(kind: TowerKind) -> Color {
    match kind {
        TowerKind::Arrow => Color::Green,
        TowerKind::Cannon => Color::Yellow,
        TowerKind::Frost => Color::Cyan,
        TowerKind::Healer => Color::Magenta,
    }
}

fn creep_glyph(kind: CreepKind) -> char {
    match kind {
        CreepKind::Grunt => 'g',
        CreepKind::Runner => 'r',
        CreepKind::Brute => 'B',
        CreepKind::Boss => '@',
    }
}

fn draw_hud(frame: &mut Frame, area: Rect, screen: &Screen) {
    let view = screen.view;
    let status = match (view.status, view.paused) {
        (sim::Status::Won, _) => Span::styled(" WON ", Style::new().fg(Color::Green).bold()),
        (sim::Status::Lost, _) => Span::styled(" LOST ", Style::new().fg(Color::Red).bold()),
        (_, true) => Span::styled(" PAUSED ", Style::new().add_modifier(Modifier::REVERSED)),
        _ => Span::raw(""),
    };
    let waves = if view.waves_total == 0 {
        format!("wave {}", view.wave)
    } else {
        format!("wave {}/{}", view.wave, view.waves_total)
    };
    let who = match (screen.me, screen.playback) {
        (_, Some(_)) => "replay".to_string(),
        (Some(seat), None) => format!("you: {}", seat_label(seat)),
        (None, None) => "spectating".to_string(),
    };
    let gold = screen
        .me
        .and_then(|seat| view.players.get(seat))
        .map_or_else(String::new, |p| format!("  gold {}", p.gold));
    let first = Line::from(vec![
        Span::styled("Healer TD  ", Style::new().bold()),
        Span::raw(format!(
            "{waves}  base {}/{}{gold}  {who}  frame {}  ",
            view.base_hp, view.base_hp_max, view.frame
        )),
        status,
    ]);
    let (x, y) = screen.cursor;
    let lane = screen.me.unwrap_or(0) as u8;
    let under = view
        .towers
        .iter()
        .find(|t| t.lane == lane && (t.x, t.y) == (x, y));
    let on_path = view.path.contains(&(x, y));
    let detail = match under {
        _ if screen.me.is_none() => format!(
            "kills {}  leaks {}  towers {}  creeps {}",
            view.kills,
            view.leaks,
            view.towers.len(),
            view.creeps.len()
        ),
        Some(t) => format!(
            "cursor ({x},{y}): {} level {} hp {}/{}  [u]pgrade [x] sell [h]eal",
            tower_name(t.kind),
            t.level,
            t.hp,
            t.hp_max
        ),
        None if on_path => format!("cursor ({x},{y}): the path (no building here)"),
        None => format!(
            "cursor ({x},{y}): empty  build [1] arrow {} [2] cannon {} [3] frost {} [4] healer {}",
            TowerKind::Arrow.stats().cost,
            TowerKind::Cannon.stats().cost,
            TowerKind::Frost.stats().cost,
            TowerKind::Healer.stats().cost
        ),
    };
    frame.render_widget(Paragraph::new(vec![first, Line::from(detail)]), area);
}

fn draw_lanes(frame: &mut Frame, area: Rect, screen: &Screen) {
    let view = screen.view;
    let lanes = view.players.len().max(1) as u16;
    let (w, h) = (u16::from(view.lane_w), u16::from(view.lane_h));
    // Two characters per cell when every lane fits that way, else one.
    let cell = if lanes * (w * 2 + 2) <= area.width {
        2
    } else {
        1
    };
    let lane_width = w * cell + 2;
    for lane in 0..lanes {
        let rect = Rect {
            x: area.x + lane * lane_width,
            y: area.y,
            width: lane_width.min(area.width.saturating_sub(lane * lane_width)),
            height: (h + 2).min(area.height),
        };
        if rect.width < 3 {
            break;
        }
        let mine = screen.me == Some(usize::from(lane));
        let title = format!(" P{}{} ", lane + 1, if mine { " (you)" } else { "" });
        let block = Block::default()
            .borders(Borders::ALL)
            .title(title)
            .border_style(if mine {
                Style::new().fg(Color::White).bold()
            } else {
                Style::new().fg(Color::DarkGray)
            });
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        let lines: Vec<Line> = (0..view.lane_h)
            .map(|y| {
                Line::from(
                    (0..view.lane_w)
                        .map(|x| cell_span(view, lane as u8, x, y, cell, mine, screen.cursor))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// One cell: a creep over a tower over the path; the base at the path's end; the cursor
/// reversed.
fn cell_span(
    view: &View,
    lane: u8,
    x: u8,
    y: u8,
    width: u16,
    mine: bool,
    cursor: (u8, u8),
) -> Span<'static> {
    let creep = view
        .creeps
        .iter()
        .filter(|c| c.lane == lane && (c.x, c.y) == (x, y))
        .max_by_key(|c| c.kind as u8);
    let tower = view
        .towers
        .iter()
        .find(|t| t.lane == lane && (t.x, t.y) == (x, y));
    let base = view.path.last() == Some(&(x, y));
    let (text, mut style) = if let Some(c) = creep {
        let style = match c.kind {
            CreepKind::Boss => Style::new().fg(Color::Red).bold(),
            CreepKind::Brute => Style::new().fg(Color::LightRed),
            _ if c.slowed => Style::new().fg(Color::Cyan),
            _ => Style::new().fg(Color::White),
        };
        (creep_glyph(c.kind).to_string(), style)
    } else if let Some(t) = tower {
        let text = if width >= 2 {
            format!("{}{}", tower_glyph(t.kind), t.level)
        } else {
            tower_glyph(t.kind).to_string()
        };
        (text, Style::new().fg(tower_color(t.kind)).bold())
    } else if base {
        ("#".to_string(), Style::new().fg(Color::Blue).bold())
    } else if view.path.contains(&(x, y)) {
        (".".to_string(), Style::new().fg(Color::DarkGray))
    } else {
        (" ".to_string(), Style::new())
    };
    if mine && cursor == (x, y) {
        style = style.add_modifier(Modifier::REVERSED);
    }
    Span::styled(format!("{text:<w$}", w = usize::from(width)), style)
}

fn draw_panel(frame: &mut Frame, area: Rect, screen: &Screen) {
    let block = Block::default().borders(Borders::ALL).title(" network ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = Vec::new();
    if screen.peers.is_empty() {
        lines.push(Line::from("no peers"));
    }
    for peer in screen.peers {
        lines.push(Line::from(Span::styled(
            seat_label(peer.seat),
            Style::new().bold(),
        )));
        lines.push(Line::from(format!(
            " ping {:>4} ms  ahead {:>3}",
            peer.ping_ms.map_or("?".into(), |p| p.to_string()),
            peer.frames_ahead.map_or("?".into(), |f| f.to_string())
        )));
        lines.push(Line::from(format!(
            " rb/s {:>3}  kbps {:>4}  drop {}",
            peer.rollbacks_per_s, peer.kbps, peer.dropped
        )));
    }
    lines.push(Line::from(""));
    lines.push(consensus_line(&screen.consensus));
    lines.push(Line::from(format!("screen {} fps", screen.fps)));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn consensus_line(consensus: &Consensus) -> Line<'static> {
    match consensus {
        Consensus::Agreed(Some(frame)) => Line::from(Span::styled(
            format!("agreed up to frame {frame}"),
            Style::new().fg(Color::Green),
        )),
        Consensus::Agreed(None) => Line::from("agreed: nothing confirmed yet"),
        Consensus::Desync(verdict) => Line::from(Span::styled(
            format!("DESYNC {verdict}"),
            Style::new().fg(Color::Red).bold(),
        )),
        Consensus::Watching => Line::from("watching: hashes not compared"),
    }
}

fn draw_status(frame: &mut Frame, area: Rect, screen: &Screen) {
    let keys = if screen.me.is_some() {
        "? help  q quit  arrows/WASD move  1-4 build  u upgrade  x sell  h heal  p pause"
    } else {
        "? help  q quit  (spectating: you watch, the players play)"
    };
    let lines = vec![
        Line::from(screen.message.unwrap_or("")),
        Line::from(Span::styled(keys, Style::new().fg(Color::DarkGray))),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_playback_panel(frame: &mut Frame, area: Rect, p: &Playback, message: Option<&str>) {
    let block = Block::default().borders(Borders::ALL).title(" replay ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let name = std::path::Path::new(&p.file)
        .file_name()
        .map_or(p.file.clone(), |n| n.to_string_lossy().into_owned());
    let mut lines = vec![
        Line::from(Span::styled(name, Style::new().bold())),
        Line::from(p.about.clone()),
        Line::from(format!("recorded by {}", p.recorder)),
        Line::from(""),
        Line::from(format!("frame {} of {}", p.frame, p.frames)),
        Line::from(format!("time  {} of {}", clock(p.frame), clock(p.frames))),
        Line::from(format!(
            "speed {}  {}",
            p.speed,
            if p.paused { "paused" } else { "playing" }
        )),
        Line::from(format!("{} keyframes", p.keyframes)),
        Line::from(""),
        Line::from("hash of this frame"),
        Line::from(p.hash.get(..28).unwrap_or(&p.hash).to_string()),
        Line::from(p.hash.get(28..56).unwrap_or("").to_string()),
        Line::from(p.hash.get(56..).unwrap_or("").to_string()),
    ];
    lines.push(if p.matches {
        Line::from(Span::styled("as recorded", Style::new().fg(Color::Green)))
    } else {
        Line::from(Span::styled(
            "NOT as recorded",
            Style::new().fg(Color::Red).bold(),
        ))
    });
    if let Some(frame) = p.diverged {
        lines.push(Line::from(Span::styled(
            format!("DIVERGED at frame {frame}"),
            Style::new().fg(Color::Red).bold(),
        )));
    }
    if let Some(why) = &p.incomplete {
        lines.push(Line::from(format!("incomplete: {why}")));
    }
    if let Some(message) = message {
        lines.push(Line::from(""));
        lines.push(Line::from(message.to_string()));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The position bar, then the keys (or the frame number being typed).
fn draw_position(frame: &mut Frame, area: Rect, p: &Playback) {
    let label = format!(
        " {}/{}  {}/{}  {}{}",
        p.frame,
        p.frames,
        clock(p.frame),
        clock(p.frames),
        p.speed,
        if p.paused { "  paused" } else { "" }
    );
    let width = usize::from(area.width)
        .saturating_sub(label.len() + 2)
        .max(10);
    let filled = if p.frames == 0 {
        width
    } else {
        (u64::from(p.frame) * width as u64 / u64::from(p.frames)) as usize
    };
    let bar = Line::from(vec![
        Span::raw("["),
        Span::styled("#".repeat(filled), Style::new().fg(Color::Cyan).bold()),
        Span::styled("-".repeat(width - filled), Style::new().fg(Color::DarkGray)),
        Span::raw("]"),
        Span::raw(label),
    ]);
    let keys = match &p.entry {
        Some(typed) => Line::from(Span::styled(
            format!("go to frame: {typed}_  (Enter: go, Esc: cancel)"),
            Style::new().bold(),
        )),
        None => Line::from(Span::styled(
            "? help  q quit  space pause  left/right step  +/- speed  [/] 10 s  g frame",
            Style::new().fg(Color::DarkGray),
        )),
    };
    frame.render_widget(Paragraph::new(vec![bar, keys]), area);
}

fn draw_help(frame: &mut Frame, area: Rect, keys: &[(&str, &str)]) {
    let lines: Vec<Line> = keys
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>14}  "), Style::new().bold()),
                Span::raw(what.to_string()),
            ])
        })
        .collect();
    draw_popup(frame, area, " keys ", lines);
}

fn draw_popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>) {
    let height = lines.len() as u16 + 2;
    let width = 60.min(area.width);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + area.height.saturating_sub(height) / 2,
        width,
        height: height.min(area.height),
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use sim::{action, Game, Input, Settings};

    /// A 2-player game after 300 frames in which player 1 built an arrow tower at `spot`.
    fn game_with_tower() -> (View, (u8, u8)) {
        let mut game = Game::new(Settings::standard(3, 2));
        let path = game.view().path;
        let spot = (0..10u8)
            .flat_map(|y| (0..10u8).map(move |x| (x, y)))
            .find(|c| !path.contains(c))
            .expect("a free cell");
        let build = Input::new(action::BUILD, TowerKind::Arrow as u8, spot.0, spot.1);
        game.advance(&[build, Input::IDLE]);
        for _ in 0..300 {
            game.advance(&[Input::new(action::NONE, 0, spot.0, spot.1), Input::IDLE]);
        }
        (game.view(), spot)
    }

    /// Draws with `draw` into a `TestBackend` of this size: the rows as text (one line per
    /// row) and the buffer, for colours.
    pub(crate) fn rendered(
        width: u16,
        height: u16,
        draw: impl FnOnce(&mut Frame),
    ) -> (String, ratatui::buffer::Buffer) {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        terminal.draw(draw).expect("draw");
        let buffer = terminal.backend().buffer().clone();
        let text = (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    + "\n"
            })
            .collect();
        (text, buffer)
    }

    fn render(width: u16, height: u16, screen: &Screen) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        terminal.draw(|f| draw(f, screen)).expect("draw");
        let buffer = terminal.backend().buffer().clone();
        // Box-drawing characters become '|' so that byte offsets are columns.
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| {
                        let symbol = buffer[(x, y)].symbol();
                        if symbol.is_ascii() {
                            symbol.to_string()
                        } else {
                            "|".to_string()
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn screen<'a>(view: &'a View, peers: &'a [PeerLine], cursor: (u8, u8)) -> Screen<'a> {
        Screen {
            view,
            me: Some(0),
            cursor,
            peers,
            consensus: Consensus::Agreed(Some(290)),
            message: None,
            help: false,
            confirm_quit: false,
            fps: 30,
            summary: None,
            playback: None,
            colour: true,
        }
    }

    #[test]
    fn lanes_hud_and_panel_show_the_view() {
        let (view, spot) = game_with_tower();
        assert_eq!(view.towers.len(), 1, "the build must have happened");
        let peers = [PeerLine {
            seat: 1,
            ping_ms: Some(12),
            frames_ahead: Some(-1),
            rollbacks_per_s: 3,
            kbps: 21,
            dropped: 4,
        }];
        let lines = render(120, 40, &screen(&view, &peers, (0, 0)));
        let text = lines.join("\n");
        // HUD.
        assert!(lines[0].contains("Healer TD"), "{text}");
        assert!(lines[0].contains(&format!("base {}/{}", view.base_hp, view.base_hp_max)));
        assert!(lines[0].contains(&format!("gold {}", view.players[0].gold)));
        assert!(lines[0].contains("you: seat 0 (P1)"), "{text}");
        // Lanes: titled, the tower at its cell (2 characters per cell at 120 columns: the
        // lane's border, then 2 per cell), the path and the base.
        assert!(
            lines[2].contains("P1 (you)") && lines[2].contains("P2"),
            "{text}"
        );
        let row = &lines[3 + usize::from(spot.1)];
        let col = 1 + 2 * usize::from(spot.0);
        assert_eq!(&row[col..col + 2], "A1", "{text}");
        let &(px, py) = view
            .path
            .iter()
            .find(|&&(x, y)| {
                !view
                    .creeps
                    .iter()
                    .any(|c| c.lane == 0 && (c.x, c.y) == (x, y))
            })
            .expect("a free path cell");
        let row = &lines[3 + usize::from(py)];
        assert_eq!(&row[1 + 2 * usize::from(px)..2 + 2 * usize::from(px)], ".");
        assert!(text.contains('#'), "the base: {text}");
        // Network panel and consensus line.
        assert!(text.contains("network"), "{text}");
        assert!(text.contains("ping   12 ms  ahead  -1"), "{text}");
        assert!(text.contains("rb/s   3  kbps   21  drop 4"), "{text}");
        assert!(text.contains("agreed up to frame 290"), "{text}");
        // The cursor over the tower describes it.
        let lines = render(120, 40, &screen(&view, &peers, spot));
        assert!(lines[1].contains("arrow level 1"), "{}", lines[1]);
    }

    #[test]
    fn eighty_by_twenty_four_fits_four_lanes() {
        let mut game = Game::new(Settings::standard(3, 4));
        game.advance(&[Input::IDLE; 4]);
        let view = game.view();
        let lines = render(80, 24, &screen(&view, &[], (0, 0)));
        let text = lines.join("\n");
        for lane in 1..=4 {
            assert!(lines[2].contains(&format!("P{lane}")), "{text}");
        }
        assert!(text.contains("network"), "{text}");
        assert!(lines[23].contains("? help"), "{text}");
    }

    #[test]
    fn a_small_window_says_so() {
        let (view, _) = game_with_tower();
        let text = render(60, 20, &screen(&view, &[], (0, 0))).join("\n");
        assert!(text.contains("too small"), "{text}");
        assert!(text.contains("needs 80x24; this one is 60x20"), "{text}");
    }

    #[test]
    fn a_desync_is_red_and_help_lists_the_keys() {
        let (view, _) = game_with_tower();
        let mut s = screen(&view, &[], (0, 0));
        s.consensus = Consensus::Desync("frame=600 diverged=2".into());
        s.help = true;
        let (text, buffer) = rendered(120, 40, |f| draw(f, &s));
        let (y, row) = text
            .lines()
            .enumerate()
            .find(|(_, row)| row.contains("DESYNC frame=600 diverged=2"))
            .expect("the desync line");
        // The column in characters, not bytes: borders are multi-byte.
        let x = row[..row.find("DESYNC").expect("found")].chars().count();
        assert_eq!(buffer[(x as u16, y as u16)].fg, Color::Red);
        for (key, what) in KEYS {
            assert!(text.contains(key) && text.contains(what), "{key}: {text}");
        }
    }

    #[test]
    fn the_summary_shows_the_end_of_the_match() {
        let (view, _) = game_with_tower();
        let hash = "0123456789abcdef".repeat(4);
        let summary = Summary {
            result: "time is up: wave 2 of 10, base 20/20".into(),
            frames: 3600,
            rollbacks: Some((12, 40)),
            hash: hash.clone(),
            agreement: "agreed: all 2 peers, same hash".into(),
            replay: None,
        };
        let mut s = screen(&view, &[], (0, 0));
        s.summary = Some(&summary);
        let text = render(120, 40, &s).join("\n");
        for expected in [
            "match over",
            "time is up: wave 2 of 10, base 20/20",
            "frames     3600",
            "rollbacks  12 (40 frames simulated again)",
            &hash[..32],
            &hash[32..],
            "agreed: all 2 peers, same hash",
            "press q to leave",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
    }

    #[test]
    fn a_spectator_without_colour_sees_every_lane_and_no_gold() {
        let (view, _) = game_with_tower();
        let mut s = screen(&view, &[], (0, 0));
        s.me = None;
        s.consensus = Consensus::Watching;
        s.colour = false;
        let (text, buffer) = rendered(120, 40, |f| draw(f, &s));
        assert!(text.contains("spectating"), "{text}");
        assert!(text.contains("watching: hashes not compared"), "{text}");
        assert!(text.contains(&format!("kills {}", view.kills)), "{text}");
        assert!(!text.contains("gold") && !text.contains("(you)"), "{text}");
        assert!(
            text.contains("A1"),
            "the tower, drawn without colour: {text}"
        );
        for y in 0..40 {
            for x in 0..120 {
                assert_eq!(buffer[(x, y)].fg, Color::Reset, "({x},{y})");
            }
        }
    }
}
