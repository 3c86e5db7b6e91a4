//! `hltd host`, `hltd join CODE`, `hltd spectate CODE`: a match over encrypted UDP between
//! processes. Until the terminal client lands, a bot plays each seat and progress is printed
//! line by line.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use net::invite::{Invite, DEFAULT_TTL};
use net::lobby::{self, Progress, Role};
use net::local::{play_plan, PlayedReport};
use net::session::{config_digest, SessionEvent, SessionOptions};
use net::udp::SecureSocket;

use crate::args::{self, HostArgs, JoinArgs};

/// How long players may take to gather.
const LOBBY_WAIT: Duration = DEFAULT_TTL;
/// How long a finished peer waits for the others' last checksums.
const LINGER: Duration = Duration::from_secs(2);

pub fn host(args: &HostArgs) -> Result<ExitCode> {
    if args.udp.ip().is_unspecified() {
        args::usage_error(
            "host",
            "--udp needs an address players can reach, not 0.0.0.0 or ::",
        );
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
    println!("invite code: {}", invite.encode());
    println!(
        "listening on {}; waiting for {} more player(s); the code is valid for {} minutes",
        invite.host,
        args.players - 1,
        args.ttl_min
    );
    let started = Instant::now();
    let plan = lobby::host(
        &net,
        args.players as usize,
        args.seed,
        args.frames,
        &options,
        LOBBY_WAIT,
        |p| match p {
            Progress::Joined { seat, addr } => println!("player in seat {seat} joined from {addr}"),
            Progress::Watching(addr) => println!("spectator joined from {addr}"),
            Progress::Refused(addr) => {
                println!("refused {addr}: it runs a different version or configuration")
            }
            Progress::Starting => println!("all seats taken; players are connecting"),
        },
    )?;
    println!(
        "starting after {} ms in the lobby",
        started.elapsed().as_millis()
    );
    let report = play_plan(net, &plan, LINGER, print_event)?;
    Ok(finish(&report))
}

pub fn join(args: &JoinArgs, role: Role) -> Result<ExitCode> {
    let command = if role == Role::Player {
        "join"
    } else {
        "spectate"
    };
    let invite = match Invite::parse_valid(&args.code) {
        Ok(invite) => invite,
        Err(err) => args::usage_error(command, &err.to_string()),
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
    println!(
        "connecting to {} from {}",
        invite.host,
        net.borrow().local_addr()
    );
    let started = Instant::now();
    let plan = lobby::join(&net, invite.host, role, LOBBY_WAIT)?;
    match plan.seat {
        Some(seat) => println!(
            "joined in seat {seat} of {} after {} ms; starting",
            plan.players.len(),
            started.elapsed().as_millis()
        ),
        None => println!("watching a match of {} players", plan.players.len()),
    }
    let lobby_time = started.elapsed();
    let report = play_plan(net, &plan, LINGER, print_event)?;
    if plan.seat.is_some() {
        println!(
            "join to synchronized session: {} ms",
            (lobby_time + report.sync_time).as_millis()
        );
    }
    Ok(finish(&report))
}

fn print_event(event: &SessionEvent) {
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

fn finish(report: &PlayedReport) -> ExitCode {
    if let Some(peer) = &report.peer {
        println!(
            "frames={} rollbacks={} resimulated={} synchronized in {} ms",
            peer.work.frames,
            peer.work.rollbacks,
            peer.work.resimulated,
            report.sync_time.as_millis()
        );
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
    if report.agreed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
