//! `hltd demo`: a networked match between bots on this machine.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use net::local::{run_observed, LocalMatch, LocalMatchOptions, LocalMatchReport, LocalTransport};
use net::session::SessionOptions;

use net::transport::Transport;

use crate::args::{self, DemoArgs};
use crate::live::{self, Driver, LocalDriver, Tui};
use crate::record::{print_lines, MatchInfo, Recording};

/// Runs the match and prints the summary; exit 0 when all peers agreed, 1 on a desync.
pub fn run(args: &DemoArgs) -> Result<ExitCode> {
    args.check()?;
    let live = !args.headless && std::io::IsTerminal::is_terminal(&std::io::stdout());
    if !args.headless && !live {
        eprintln!("hltd: standard output is not a terminal; running headless");
    }
    let options = LocalMatchOptions {
        peers: args.peers as usize,
        frames: args.frames,
        seed: args.seed,
        bots: sim::Script::Human,
        loss_ppm: args.loss,
        latency: Duration::from_millis(args.latency),
        inject_desync: args.inject_desync.map(|(p, f)| (p as usize, f)),
        leave: None,
        spectator: false,
        realtime: args.realtime,
        session: SessionOptions {
            input_delay: args.input_delay as usize,
            max_prediction: args.max_prediction as usize,
            ..SessionOptions::default()
        },
        transport: match args.transport {
            args::TransportArg::Udp => LocalTransport::Udp,
            args::TransportArg::Webrtc => LocalTransport::WebRtc,
        },
    };
    let recording = Recording::start(
        &args.recording.target(),
        &MatchInfo {
            kind: replay::MatchKind::Demo,
            seed: options.seed,
            players: options.peers,
            frames: options.frames,
            input_delay: options.session.input_delay,
            max_prediction: options.session.max_prediction,
            recorded: Some(0),
            bundle_seats: (0..options.peers).collect(),
        },
    )?;
    if live {
        return run_live(&options, recording);
    }
    let mut recording = recording;
    let outcome = run_observed(&options, &mut recording);
    let (report, written) = recording.finish_after(outcome.map_err(anyhow::Error::from))?;
    print_summary(&report);
    print_lines(&written);
    Ok(if report.agreed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_summary(report: &LocalMatchReport) {
    println!(
        "connected in {} ms, synchronized in {} ms, match took {} ms",
        report.connect_time.as_millis(),
        report.sync_time.as_millis(),
        report.elapsed.as_millis()
    );
    for (seat, peer) in report.peers.iter().enumerate() {
        println!(
            "peer {seat}: frames={} rollbacks={} resimulated={} agreed_up_to={}",
            peer.work.frames,
            peer.work.rollbacks,
            peer.work.resimulated,
            peer.agreed_up_to
                .map_or("none".to_string(), |f| f.to_string())
        );
        for link in &peer.links {
            let t = &link.traffic;
            let dropped: Vec<String> = t
                .dropped
                .iter()
                .map(|(reason, n)| format!("{}={n}", reason.name()))
                .collect();
            println!(
                "  to peer {}: ping={} ms behind={} sent={} pkts/{} B received={} pkts/{} B dropped={}",
                link.seat,
                link.ping_ms.map_or("?".to_string(), |p| p.to_string()),
                link.local_frames_behind.map_or("?".to_string(), |f| f.to_string()),
                t.packets_sent,
                t.bytes_sent,
                t.packets_received,
                t.bytes_received,
                if dropped.is_empty() { "0".to_string() } else { dropped.join(",") }
            );
        }
    }
    if let Some(verdict) = report.verdicts.iter().flatten().next() {
        println!("{verdict}");
    }
    println!(
        "result: frames={} peers={} agreed={} hash={}",
        report.frames,
        report.hashes.len(),
        if report.agreed() { "yes" } else { "no" },
        sim::StateHash(report.hashes[0]).to_hex()
    );
}

/// The live view; afterwards the summary on the restored terminal.
fn run_live(options: &LocalMatchOptions, recording: Recording) -> Result<ExitCode> {
    match options.transport {
        LocalTransport::Udp => live_local(&mut LocalMatch::start_udp(options)?, options, recording),
        LocalTransport::WebRtc => {
            println!("connecting the peers over WebRTC...");
            live_local(&mut LocalMatch::start_rtc(options)?, options, recording)
        }
    }
}

fn live_local<T: Transport>(
    m: &mut LocalMatch<T>,
    options: &LocalMatchOptions,
    recording: Recording,
) -> Result<ExitCode> {
    let mut tui = Tui::start().context("cannot take over the terminal")?;
    let mut driver = LocalDriver::new(m, options, recording);
    let outcome = live::play(&mut tui, &mut driver, "connected; press ? for the keys");
    drop(tui);
    let (outcome, written) = driver.take_recording().finish_after(outcome)?;
    let summary = driver.summary(&driver.view());
    let waited = driver.waited();
    drop(driver);
    let me = &m.sessions[0];
    println!(
        "screen: {} fps while the simulation ran at 60 Hz; rollbacks={} resimulated={} \
         waited={waited} ticks on GGRS's advice",
        outcome.fps,
        me.work().rollbacks,
        me.work().resimulated
    );
    if outcome.quit_early {
        println!(
            "left the match at frame {} (confirmed {})",
            me.current_frame(),
            me.confirmed_frame()
        );
        print_lines(&written);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", summary.result);
    let agreed = summary.agreement.starts_with("agreed");
    if !agreed {
        println!("{}", summary.agreement);
    }
    println!(
        "result: frames={} peers={} agreed={} hash={}",
        options.frames,
        m.sessions.len(),
        if agreed { "yes" } else { "no" },
        summary.hash
    );
    print_lines(&written);
    Ok(if agreed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
