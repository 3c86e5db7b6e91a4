//! `hltd host`, `hltd join CODE`, `hltd spectate CODE`: a match between processes, over
//! encrypted UDP (invite codes) or WebRTC (room codes); and `hltd signal`, the signaling server
//! for WebRTC. On a terminal they show the lobby screen and then the match screen, the user
//! playing our seat; headless (`--headless`, or standard output not a terminal) a bot plays it
//! and progress is printed line by line.

use std::cell::RefCell;
use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use net::invite::{Invite, RoomCode, DEFAULT_TTL};
use net::lobby::{self, LobbyError, Offer, Plan, Progress, Role};
use net::local::{play_plan_reporting, PlannedMatch, PlayedReport};
use net::rtc::RtcSocket;
use net::session::{config_digest, SessionEvent, SessionOptions};
use net::signal::{self, EmbeddedSignal};
use net::transport::Transport;
use net::udp::SecureSocket;

use crate::args::{self, HostArgs, JoinArgs, SignalArgs};
use crate::live::{self, LobbyWatch, PlannedDriver, Tui};
use crate::lobby_ui::{Code, LobbyScreen, SeatLine, SeatState};
use crate::record::print_lines;
use crate::record::{MatchInfo, Recording, Target};
use replay::MatchKind;

/// How long players may take to gather.
const LOBBY_WAIT: Duration = DEFAULT_TTL;
/// How long a finished peer waits for the others' last checksums.
const LINGER: Duration = Duration::from_secs(2);
/// How long a UDP joiner waits for the host's handshake.
const HOST_ANSWER_UDP: Duration = Duration::from_secs(5);
/// How long a WebRTC joiner waits for a host in the room (connecting takes a second or two).
const HOST_ANSWER_RTC: Duration = Duration::from_secs(15);

fn offer(args: &HostArgs) -> Offer {
    let options = SessionOptions::default();
    Offer {
        players: args.players as usize,
        seed: args.seed,
        frames: args.frames,
        options,
        digest: config_digest(sim::RULES_VERSION, &options),
    }
}

fn print_progress<A: Display>(p: Progress<A>) {
    match p {
        Progress::Joined { seat, addr } => println!("player in seat {seat} joined from {addr}"),
        Progress::Watching(addr) => println!("spectator joined from {addr}"),
        Progress::Refused(addr) => {
            println!("refused {addr}: it runs a different version or configuration")
        }
        Progress::Left { seat, addr } => println!("player in seat {seat} ({addr}) left"),
        Progress::Starting => println!("all seats taken; players are connecting"),
        Progress::Ready { seat } => println!("player in seat {seat} is ready"),
        Progress::Roster { players, .. } => {
            println!("{} player(s) in the lobby", players.len())
        }
    }
}

/// Whether to show the terminal view: not headless, and standard output is a terminal.
fn live_wanted(headless: bool) -> bool {
    !headless && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// The lobby screen of a host, before anyone joined.
fn host_screen(title: String, code: Code, hint: Vec<String>, players: usize) -> LobbyScreen {
    let mut screen = LobbyScreen {
        title,
        code: Some(code),
        hint,
        seats_total: Some(players),
        seats: vec![SeatLine {
            who: "you (host)".to_string(),
            state: SeatState::Ready,
        }],
        ..LobbyScreen::default()
    };
    screen.note(format!("waiting for {} more player(s)", players - 1));
    screen
}

/// Runs a lobby on the lobby screen (`lobby` is handed the screen as its watcher), then the
/// match on the match screen. Leaving the lobby is not an error; a failed lobby is, with
/// `context` when given; a failed terminal ends the lobby too.
fn on_screen<T: Transport>(
    net: Rc<RefCell<T>>,
    screen: LobbyScreen,
    lobby: impl FnOnce(&mut LobbyWatch) -> Result<Plan<T::Addr>, LobbyError>,
    context: Option<String>,
    record: (&Target, MatchKind),
) -> Result<ExitCode>
where
    T::Addr: Display,
{
    let mut tui = Tui::start().context("cannot take over the terminal")?;
    let mut watch = LobbyWatch::new(&mut tui, screen);
    let result = lobby(&mut watch);
    let plan = match (result, watch.error) {
        (_, Some(err)) => return Err(anyhow::Error::new(err).context("the terminal failed")),
        (Err(LobbyError::Cancelled), None) => {
            drop(tui);
            println!("left the lobby before the match started");
            return Ok(ExitCode::SUCCESS);
        }
        (Err(err), None) => {
            let err = anyhow::Error::new(err);
            return Err(match context {
                Some(context) => err.context(context),
                None => err,
            });
        }
        (Ok(plan), None) => plan,
    };
    let recording = recording_for(record.0, record.1, &plan)?;
    play_live(tui, net, &plan, recording)
}

/// Starts recording the match `plan` describes, from our seat.
fn recording_for<A>(target: &Target, kind: MatchKind, plan: &Plan<A>) -> Result<Recording> {
    let options = plan.options();
    Recording::start(
        target,
        &MatchInfo {
            kind,
            seed: plan.seed,
            players: plan.players.len(),
            frames: plan.frames,
            input_delay: options.input_delay,
            max_prediction: options.max_prediction,
            recorded: plan.seat,
            bundle_seats: plan.seat.into_iter().collect(),
        },
    )
}

/// Plays a planned match headless with a bot in our seat, recording it; prints the summary.
fn play_headless<T: Transport>(
    net: Rc<RefCell<T>>,
    plan: &Plan<T::Addr>,
    record: (&Target, MatchKind),
) -> Result<PlayedReport>
where
    T::Addr: Display,
{
    let mut recording = recording_for(record.0, record.1, plan)?;
    let outcome = play_plan_reporting(net, plan, LINGER, print_event, &mut recording);
    let (report, written) = match recording.finish_after(outcome) {
        Ok(done) => done,
        Err(failed) => {
            // A match that fails (WebRTC's stack, a lost connection) still says where it
            // ended, on stdout like any result; the error follows on stderr (exit 3).
            let err = failed.error;
            if let Some(so_far) = failed.so_far {
                println!(
                    "the match ended early, at frame {} of {}: {err}",
                    so_far.frames, plan.frames
                );
                finish_lines(&so_far);
            }
            return Err(anyhow::Error::from(err));
        }
    };
    finish_lines(&report);
    print_lines(&written);
    Ok(report)
}

/// What a joiner does, in words.
fn joining(role: Role) -> &'static str {
    match role {
        Role::Player => "joining",
        Role::Spectator => "watching",
    }
}

/// Plays a planned match on the match screen, the user in our seat; afterwards prints the
/// same lines as a headless match on the restored terminal.
fn play_live<T: Transport>(
    mut tui: Tui,
    net: Rc<RefCell<T>>,
    plan: &Plan<T::Addr>,
    recording: Recording,
) -> Result<ExitCode> {
    let mut driver = PlannedDriver::new(PlannedMatch::start(net, plan)?, recording);
    let greeting = match plan.seat {
        Some(seat) => format!(
            "you play {}; press ? for the keys",
            crate::ui::seat_label(seat)
        ),
        None => "watching; press ? for the keys".to_string(),
    };
    let outcome = live::play(&mut tui, &mut driver, &greeting);
    drop(tui);
    let (outcome, written) = match driver.take_recording().finish_after(outcome) {
        Ok(done) => done,
        Err(err) => {
            // As headless: a match that fails (WebRTC's stack, a lost connection) still says
            // where it ended and prints its `result:` line; the error follows (exit 3).
            let so_far = driver.planned().report_so_far();
            println!(
                "the match ended early, at frame {} of {}: {err:#}",
                so_far.frames, plan.frames
            );
            finish_lines(&so_far);
            return Err(err);
        }
    };
    let planned = driver.planned();
    if plan.seat.is_some() {
        planned.settle(Duration::from_millis(300));
    }
    println!(
        "screen: {} fps while the simulation ran at 60 Hz",
        outcome.fps
    );
    if outcome.quit_early {
        println!(
            "left the match at frame {} of {}",
            planned.current_frame(),
            plan.frames
        );
        print_lines(&written);
        return Ok(ExitCode::SUCCESS);
    }
    let report = planned.report();
    finish_lines(&report);
    print_lines(&written);
    Ok(exit_code(&report))
}

/// The lobby screen of a joiner, before the host answered.
fn joiner_screen(title: String) -> LobbyScreen {
    let mut screen = LobbyScreen {
        title,
        ..LobbyScreen::default()
    };
    screen.note("waiting for the host to answer".to_string());
    screen
}

pub fn host(args: &HostArgs) -> Result<ExitCode> {
    args.recording.check("host")?;
    if args.webrtc {
        return host_rtc(args);
    }
    if args.udp.ip().is_unspecified() {
        return Err(args::UsageError::new(
            "host",
            "--udp needs an address players can reach, not 0.0.0.0 or ::",
        )
        .into());
    }
    let options = SessionOptions::default();
    let digest = config_digest(sim::RULES_VERSION, &options);
    let invite = Invite::new(args.udp, Duration::from_secs(args.ttl_min * 60))
        .context("no randomness for the invite secret")?;
    let net = SecureSocket::bind(args.udp, invite.secret.psk(), digest)?;
    let invite = Invite {
        host: net.borrow().local_addr(),
        ..invite
    };
    let code = invite.encode();
    if live_wanted(args.headless) {
        let screen = host_screen(
            format!("hosting a match over encrypted UDP on {}", invite.host),
            Code::Invite(code.clone()),
            vec![
                format!("players:     hltd join {code}"),
                format!("spectators:  hltd spectate {code}"),
                format!("the code is valid for {} minutes", args.ttl_min),
            ],
            args.players as usize,
        );
        let lobby = |watch: &mut LobbyWatch| lobby::host(&net, &offer(args), LOBBY_WAIT, watch);
        let record = (&args.recording.target(), MatchKind::Host);
        return on_screen(net.clone(), screen, lobby, None, record);
    }
    println!("invite code: {code}");
    println!(
        "listening on {}; waiting for {} more player(s); the code is valid for {} minutes",
        invite.host,
        args.players - 1,
        args.ttl_min
    );
    let started = Instant::now();
    let plan = lobby::host(&net, &offer(args), LOBBY_WAIT, &mut print_progress)?;
    println!(
        "starting after {} ms in the lobby",
        started.elapsed().as_millis()
    );
    let report = play_headless(net, &plan, (&args.recording.target(), MatchKind::Host))?;
    Ok(exit_code(&report))
}

fn host_rtc(args: &HostArgs) -> Result<ExitCode> {
    let ice = args.ice.servers("host")?;
    let (signal_url, embedded) = match &args.signal {
        Some(url) => {
            if let Err(err) = net::rtc::check_url(url) {
                return Err(args::UsageError::new("host", err.to_string()).into());
            }
            (url.trim_end_matches('/').to_string(), None)
        }
        None => {
            let server = EmbeddedSignal::start(args.signal_bind).map_err(|err| {
                anyhow::anyhow!(
                    "{err}; pass --signal-bind {}:0 for any free port, or --signal URL to use a \
                     running signaling server",
                    args.signal_bind.ip()
                )
            })?;
            (server.url(), Some(server))
        }
    };
    let room = RoomCode::generate().context("no randomness for the room code")?;
    // Our own server serves this room only: strangers who do not know its name take no place.
    if let Some(server) = &embedded {
        server.serve_only(&room.room_name());
    }
    if live_wanted(args.headless) {
        let signal_flag = if signal_url == signal::DEFAULT_URL {
            String::new()
        } else {
            format!(" --signal {signal_url}")
        };
        let mut hint = vec![
            format!("players:     hltd join {room}{signal_flag}"),
            format!("spectators:  hltd spectate {room}{signal_flag}"),
        ];
        if let Some(server) = embedded.as_ref().filter(|s| s.addr().ip().is_unspecified()) {
            hint.push(format!(
                "from other machines add --signal ws://<this machine's address>:{}",
                server.addr().port()
            ));
        }
        let net = RtcSocket::connect(&signal_url, &room, &ice)?;
        net.borrow().set_admit_max(admit_max(args));
        let screen = host_screen(
            format!("hosting a match over WebRTC through {signal_url}"),
            Code::Room(room.to_string()),
            hint,
            args.players as usize,
        );
        let lobby = |watch: &mut LobbyWatch| lobby::host(&net, &offer(args), LOBBY_WAIT, watch);
        let record = (&args.recording.target(), MatchKind::Host);
        let code = on_screen(net.clone(), screen, lobby, None, record);
        drop(embedded);
        return code;
    }
    println!("room code: {room}");
    if signal_url != signal::DEFAULT_URL {
        println!("signaling server: {signal_url} (joiners add --signal {signal_url})");
    }
    if let Some(server) = &embedded {
        if server.addr().ip().is_unspecified() {
            println!(
                "players on other machines use --signal ws://<this machine's address>:{}",
                server.addr().port()
            );
        }
    }
    let built = Instant::now();
    let net = RtcSocket::connect(&signal_url, &room, &ice)?;
    net.borrow().set_admit_max(admit_max(args));
    println!("waiting for {} more player(s)", args.players - 1);
    let plan = lobby::host(&net, &offer(args), LOBBY_WAIT, &mut print_progress)?;
    println!(
        "starting after {} ms in the lobby",
        built.elapsed().as_millis()
    );
    let report = play_headless(net, &plan, (&args.recording.target(), MatchKind::Host))?;
    drop(embedded);
    Ok(exit_code(&report))
}

/// Peers a WebRTC host admits into its room at a time: its other players and the spectators
/// it takes. Nobody else costs it a peer connection.
fn admit_max(args: &HostArgs) -> usize {
    args.players as usize - 1 + lobby::SPECTATORS_MAX
}

pub fn join(args: &JoinArgs, role: Role) -> Result<ExitCode> {
    let command = if role == Role::Player {
        "join"
    } else {
        "spectate"
    };
    args.recording.check(command)?;
    if RoomCode::looks_like(&args.code) {
        return join_rtc(args, role, command);
    }
    let invite = match Invite::parse_valid(&args.code) {
        Ok(invite) => invite,
        Err(err) => return Err(args::UsageError::new(command, err.to_string()).into()),
    };
    let bind = args.bind.unwrap_or_else(|| match invite.host {
        SocketAddr::V4(a) if a.ip().is_loopback() => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(a) if a.ip().is_loopback() => SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    });
    let options = SessionOptions::default();
    let digest = config_digest(sim::RULES_VERSION, &options);
    let net = SecureSocket::bind(bind, invite.secret.psk(), digest)?;
    let context = || format!("joining the host at {}", invite.host);
    if live_wanted(args.headless) {
        let title = format!(
            "{} the match at {} from {}",
            joining(role),
            invite.host,
            net.borrow().local_addr()
        );
        let lobby = |watch: &mut LobbyWatch| {
            let host = Some(invite.host);
            lobby::join(
                &net,
                host,
                role,
                &digest,
                HOST_ANSWER_UDP,
                LOBBY_WAIT,
                watch,
            )
        };
        let record = (&args.recording.target(), join_kind(role));
        return on_screen(
            net.clone(),
            joiner_screen(title),
            lobby,
            Some(context()),
            record,
        );
    }
    println!(
        "connecting to {} from {}",
        invite.host,
        net.borrow().local_addr()
    );
    let started = Instant::now();
    let plan = lobby::join(
        &net,
        Some(invite.host),
        role,
        &digest,
        HOST_ANSWER_UDP,
        LOBBY_WAIT,
        &mut |_| {},
    )
    .with_context(context)?;
    play_joined(
        net,
        &plan,
        started,
        (&args.recording.target(), join_kind(role)),
    )
}

fn join_rtc(args: &JoinArgs, role: Role, command: &str) -> Result<ExitCode> {
    let room = match RoomCode::parse(&args.code) {
        Ok(room) => room,
        Err(err) => return Err(args::UsageError::new(command, err.to_string()).into()),
    };
    if let Err(err) = net::rtc::check_url(&args.signal) {
        return Err(args::UsageError::new(command, err.to_string()).into());
    }
    let ice = args.ice.servers(command)?;
    let digest = config_digest(sim::RULES_VERSION, &SessionOptions::default());
    let built = Instant::now();
    let net = RtcSocket::connect(&args.signal, &room, &ice)?;
    // Once the match starts, nobody new is admitted into the room.
    let close_room = |plan: Plan<_>| {
        net.borrow_mut().set_accepting(false);
        plan
    };
    let context = || format!("joining room {room} at {}", args.signal);
    if live_wanted(args.headless) {
        let title = format!("{} room {room} at {}", joining(role), args.signal);
        let lobby = |watch: &mut LobbyWatch| {
            lobby::join(
                &net,
                None,
                role,
                &digest,
                HOST_ANSWER_RTC,
                LOBBY_WAIT,
                watch,
            )
            .map(close_room)
        };
        let record = (&args.recording.target(), join_kind(role));
        return on_screen(
            net.clone(),
            joiner_screen(title),
            lobby,
            Some(context()),
            record,
        );
    }
    println!("in room {room} at {}; waiting for the host", args.signal);
    let plan = lobby::join(
        &net,
        None,
        role,
        &digest,
        HOST_ANSWER_RTC,
        LOBBY_WAIT,
        &mut |_| {},
    )
    .map(close_room)
    .with_context(context)?;
    play_joined(
        net,
        &plan,
        built,
        (&args.recording.target(), join_kind(role)),
    )
}

/// The replay's match kind for a joiner.
fn join_kind(role: Role) -> MatchKind {
    match role {
        Role::Player => MatchKind::Join,
        Role::Spectator => MatchKind::Spectate,
    }
}

/// Plays the match a lobby planned for a joiner, and reports the time from `started` (the
/// socket's creation) to a synchronized session.
fn play_joined<T: Transport>(
    net: Rc<RefCell<T>>,
    plan: &Plan<T::Addr>,
    started: Instant,
    record: (&Target, MatchKind),
) -> Result<ExitCode>
where
    T::Addr: Display,
{
    match plan.seat {
        Some(seat) => println!(
            "joined in seat {seat} of {} after {} ms; starting",
            plan.players.len(),
            started.elapsed().as_millis()
        ),
        None => println!("watching a match of {} players", plan.players.len()),
    }
    let lobby_time = started.elapsed();
    let report = play_headless(net, plan, record)?;
    if plan.seat.is_some() {
        println!(
            "join to synchronized session: {} ms",
            (lobby_time + report.sync_time).as_millis()
        );
    }
    Ok(exit_code(&report))
}

/// `hltd signal`: serves until the process is stopped.
pub fn signal(args: &SignalArgs) -> Result<ExitCode> {
    signal::serve(args.bind, |addr| {
        println!("signaling server listening on ws://{addr} (rooms by URL path)");
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_event<A: Display>(event: &SessionEvent<A>) {
    match event {
        SessionEvent::Synchronized(seat) => println!("synchronized with seat {seat}"),
        SessionEvent::Interrupted(seat) => println!("seat {seat} went quiet"),
        SessionEvent::Resumed(seat) => println!("seat {seat} is back"),
        SessionEvent::Disconnected(seat) => println!("seat {seat} left; playing on without it"),
        SessionEvent::Desync(_) => {}
        SessionEvent::ConfigMismatch(addr) => {
            println!("{addr} runs a different version or configuration")
        }
    }
}

/// Prints what a match ended with: work, verdict and the `result:` line.
fn finish_lines(report: &PlayedReport) {
    if let Some(peer) = &report.peer {
        println!(
            "frames={} rollbacks={} resimulated={} synchronized in {} ms",
            peer.work.frames,
            peer.work.rollbacks,
            peer.work.resimulated,
            report.sync_time.as_millis()
        );
    }
    // `departure: seat=<S> frame=<F>`, one per seat that left (ours too, when the others
    // went on without us), before the verdict and the result. When nobody plays with us any
    // more, the result names the earliest departure's frame: the last state both sides of a
    // two-player split share, the same line on both.
    for departure in &report.departures {
        println!("{departure}");
    }
    if let Some(verdict) = &report.verdict {
        println!("{verdict}");
    }
    let hash = sim::StateHash(report.hash).to_hex();
    println!(
        "result: frames={} peers={} agreed={} hash={hash}",
        report.frames,
        report.players,
        if report.agreed() { "yes" } else { "no" }
    );
}

/// 0 when we saw no disagreement, 1 on a desync.
fn exit_code(report: &PlayedReport) -> ExitCode {
    if report.agreed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
