//! The lobby screen, drawn from plain data like the match screen: the code to read out to the
//! other players (a room code in big letters, an invite code in groups), the seats and who
//! holds them, spectators, and what happened lately.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use tui_big_text::{BigText, PixelSize};

use crate::ui::{self, MIN_HEIGHT, MIN_WIDTH};

/// The code other players need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Code {
    /// An encrypted-UDP invite (long: the host's address and a secret), in dashed groups.
    Invite(String),
    /// A WebRTC room code (16 characters in four groups).
    Room(String),
}

/// Where a seat stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatState {
    /// Taken; the player is not yet connected to every other player.
    Joined,
    /// Taken and connected to every other player.
    Ready,
}

/// One taken seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatLine {
    /// Who holds it (an address or peer id, and "you" or "host").
    pub who: String,
    /// Where it stands.
    pub state: SeatState,
}

/// Everything the lobby screen shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LobbyScreen {
    /// What we do here: hosting, joining or watching, and over what.
    pub title: String,
    /// The code to read out (hosts), if any.
    pub code: Option<Code>,
    /// How the others use the code.
    pub hint: Vec<String>,
    /// Seats in the match, when known (the host knows; a joiner learns it at the start).
    pub seats_total: Option<usize>,
    /// The seats taken, seat 0 (the host) first.
    pub seats: Vec<SeatLine>,
    /// Spectators that arrived.
    pub spectators: usize,
    /// What happened lately, newest last.
    pub log: Vec<String>,
    /// Ask whether to leave.
    pub confirm_quit: bool,
    /// Draw in colour.
    pub colour: bool,
}

impl LobbyScreen {
    /// Adds a line to the log, keeping the newest few.
    pub fn note(&mut self, line: String) {
        self.log.push(line);
        let excess = self.log.len().saturating_sub(6);
        self.log.drain(..excess);
    }
}

/// Draws the lobby, or a notice when the terminal is too small.
pub fn draw(frame: &mut Frame, screen: &LobbyScreen) {
    draw_lobby(frame, screen);
    if !screen.colour {
        ui::strip_colour(frame);
    }
}

fn draw_lobby(frame: &mut Frame, screen: &LobbyScreen) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return ui::draw_too_small(frame, area);
    }
    let code_height = match &screen.code {
        Some(Code::Room(_)) => 7,
        Some(Code::Invite(_)) => 5,
        None => 0,
    };
    // A row per seat (taken or open), one for spectators, two for the border.
    let seat_rows = screen.seats_total.unwrap_or(0).max(screen.seats.len()) as u16 + 3;
    let [title, code, hint, seats, log, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(code_height),
        Constraint::Length(screen.hint.len() as u16),
        Constraint::Length(seat_rows),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Healer TD  ", Style::new().bold()),
            Span::raw(screen.title.clone()),
        ])),
        title,
    );
    match &screen.code {
        Some(Code::Room(room)) => draw_room_code(frame, code, room),
        Some(Code::Invite(invite)) => draw_invite(frame, code, invite),
        None => {}
    }
    let hint_lines: Vec<Line> = screen.hint.iter().map(|h| Line::from(h.clone())).collect();
    frame.render_widget(Paragraph::new(hint_lines).wrap(Wrap { trim: false }), hint);
    draw_seats(frame, seats, screen);
    let log_lines: Vec<Line> = screen.log.iter().map(|l| Line::from(l.clone())).collect();
    frame.render_widget(
        Paragraph::new(log_lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" news ")),
        log,
    );
    let keys_text = if screen.confirm_quit {
        Span::styled(
            "Leave the lobby? y: yes, n: no",
            Style::new().fg(Color::Yellow).bold(),
        )
    } else {
        Span::styled(
            "q leave  (the match starts when every seat is taken)",
            Style::new().fg(Color::DarkGray),
        )
    };
    frame.render_widget(Paragraph::new(Line::from(keys_text)), keys);
}

/// The room code in 8x8 letters drawn with half-height blocks, and once more as plain text
/// to copy.
fn draw_room_code(frame: &mut Frame, area: Rect, room: &str) {
    let block = Block::default().borders(Borders::ALL).title(" room code ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [big, plain] =
        Layout::vertical([Constraint::Length(4), Constraint::Length(1)]).areas(inner);
    // Eight columns a character when they fit (a short code), else four (a room code of
    // four groups of four takes 76 columns).
    let wide = room.chars().count() * 8 <= usize::from(big.width);
    frame.render_widget(
        BigText::builder()
            .pixel_size(if wide {
                PixelSize::HalfHeight
            } else {
                PixelSize::Quadrant
            })
            .style(Style::new().fg(Color::Yellow))
            .lines(vec![Line::from(room.to_string())])
            .centered()
            .build(),
        big,
    );
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            room.to_string(),
            Style::new().bold(),
        )))
        .alignment(Alignment::Center),
        plain,
    );
}

/// The invite code in bold, its groups spaced apart so it can be read out group by group.
fn draw_invite(frame: &mut Frame, area: Rect, invite: &str) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" invite code ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(Span::styled(
                invite.to_string(),
                Style::new().fg(Color::Yellow).bold(),
            )),
            Line::from(""),
            Line::from(Span::styled(
                "groups of five; case and dashes do not matter",
                Style::new().fg(Color::DarkGray),
            )),
        ])
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: false }),
        inner,
    );
}

fn draw_seats(frame: &mut Frame, area: Rect, screen: &LobbyScreen) {
    let title = match screen.seats_total {
        Some(total) => format!(" players {}/{total} ", screen.seats.len()),
        None => format!(" players {} so far ", screen.seats.len()),
    };
    let mut lines = Vec::new();
    for (seat, line) in screen.seats.iter().enumerate() {
        let (state, style) = match line.state {
            SeatState::Ready => ("ready", Style::new().fg(Color::Green).bold()),
            SeatState::Joined => ("connecting", Style::new().fg(Color::Yellow)),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{}  ", ui::seat_label(seat)), Style::new().bold()),
            Span::styled(format!("{state:<11}"), style),
            Span::raw(line.who.clone()),
        ]));
    }
    let open = screen
        .seats_total
        .map_or(0, |t| t.saturating_sub(screen.seats.len()));
    for seat in screen.seats.len()..screen.seats.len() + open {
        lines.push(Line::from(vec![
            Span::styled(format!("{}  ", ui::seat_label(seat)), Style::new().bold()),
            Span::styled(
                "open       waiting for a player",
                Style::new().fg(Color::DarkGray),
            ),
        ]));
    }
    lines.push(Line::from(format!("spectators: {}", screen.spectators)));
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(width: u16, height: u16, screen: &LobbyScreen) -> (String, ratatui::buffer::Buffer) {
        crate::ui::tests::rendered(width, height, |f| draw(f, screen))
    }

    fn hosting(code: Code) -> LobbyScreen {
        LobbyScreen {
            title: "hosting a match".into(),
            code: Some(code),
            hint: vec![
                "players:     hltd join <code>".into(),
                "spectators:  hltd spectate <code>".into(),
                "the code is valid for 30 minutes".into(),
            ],
            seats_total: Some(3),
            seats: vec![
                SeatLine {
                    who: "you (host)".into(),
                    state: SeatState::Ready,
                },
                SeatLine {
                    who: "127.0.0.1:40000".into(),
                    state: SeatState::Joined,
                },
            ],
            spectators: 1,
            log: vec!["player in seat 1 joined from 127.0.0.1:40000".into()],
            confirm_quit: false,
            colour: true,
        }
    }

    #[test]
    fn a_room_code_is_big_and_plain_and_the_seats_are_listed() {
        let (text, buffer) = render(80, 24, &hosting(Code::Room("7KQ2MX".into())));
        // Big: block characters over 4 rows above the plain code.
        let block_rows = text
            .lines()
            .filter(|l| l.chars().filter(|c| matches!(c, '█' | '▀' | '▄')).count() >= 6)
            .count();
        assert!(block_rows >= 3, "{text}");
        assert!(text.contains("7KQ2MX"), "{text}");
        assert!(text.contains("players 2/3"), "{text}");
        assert!(
            text.contains("seat 0 (P1)  ready      you (host)"),
            "{text}"
        );
        assert!(
            text.contains("seat 1 (P2)  connecting 127.0.0.1:40000"),
            "{text}"
        );
        assert!(
            text.contains("seat 2 (P3)  open       waiting for a player"),
            "{text}"
        );
        assert!(text.contains("spectators: 1"), "{text}");
        assert!(text.contains("joined from 127.0.0.1:40000"), "{text}");
        // Ready in green, by colour; the same screen without colour keeps the words.
        let y = text
            .lines()
            .position(|l| l.contains("seat 0 (P1)  ready"))
            .expect("row");
        let row = text.lines().nth(y).expect("row");
        // The column in characters, not bytes: borders are multi-byte.
        let x = row[..row.find("ready").expect("ready")].chars().count();
        assert_eq!(buffer[(x as u16, y as u16)].fg, Color::Green);
        let mut plain = hosting(Code::Room("7KQ2MX".into()));
        plain.colour = false;
        let (plain_text, plain_buffer) = render(80, 24, &plain);
        assert_eq!(plain_text, text);
        for y in 0..24 {
            for x in 0..80 {
                assert_eq!(plain_buffer[(x, y)].fg, Color::Reset, "({x},{y})");
            }
        }
    }

    #[test]
    fn an_invite_code_fits_in_eighty_columns_and_small_windows_say_so() {
        let invite = "0A1B2-C3D4E-5F6G7-H8J9K-MNPQR-STVWX-YZ012-34567-89ABC-DEFGH-JK";
        let (text, _) = render(80, 24, &hosting(Code::Invite(invite.into())));
        assert!(text.contains(invite), "{text}");
        let (text, _) = render(70, 20, &hosting(Code::Invite(invite.into())));
        assert!(text.contains("too small"), "{text}");
    }
}
