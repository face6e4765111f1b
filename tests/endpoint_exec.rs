//! `exec_record_done` policy through the sans-IO endpoint with a simulated
//! clock: which job a finished recording makes (program, expanded
//! arguments, timeout), at most 4 handed out at a time, 64 waiting, the rest
//! dropped and counted, and per-application settings. No process is started.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use common::sim::*;
use rtmp_edge::config::{Config, Overrides};
use rtmp_edge::endpoint::{ExecStats, RecordEvent, Recorder};
use rtmp_edge::exec::{ExecJob, MAX_QUEUED, MAX_RUNNING};
use rtmp_edge::proto::client::ClientMode;
use rtmp_edge::record::{RecordPlan, RecordingId};

/// A recorder whose stopped recordings are finished at once, each at
/// `rec/APP_NAME_N.flv`.
#[derive(Default)]
struct DoneRecorder {
    paths: Vec<String>,
    finished: Rc<RefCell<VecDeque<RecordEvent>>>,
}

impl Recorder for DoneRecorder {
    fn start(&mut self, app: &str, name: &str, _plan: RecordPlan) -> RecordingId {
        self.paths
            .push(format!("rec/{app}_{name}_{}.flv", self.paths.len() + 1));
        RecordingId(self.paths.len() as u64)
    }
    fn metadata(&mut self, _: RecordingId, _: u32, _: Bytes) {}
    fn frame(&mut self, _: RecordingId, _: u8, _: u32, _: Bytes) {}
    fn stop(&mut self, id: RecordingId) -> u64 {
        let path = self.paths[id.0 as usize - 1].clone();
        let mut finished = self.finished.borrow_mut();
        finished.push_back(RecordEvent::File { id, path });
        finished.push_back(RecordEvent::Ended(id));
        0
    }
    fn poll_finished(&mut self) -> Option<RecordEvent> {
        self.finished.borrow_mut().pop_front()
    }
}

fn sim_with(toml: &str) -> Sim {
    let config = Config::from_toml(toml, "exec.toml", &Overrides::default()).expect("parses");
    let config = Config {
        stats_interval_ms: 3_600_000,
        ..config
    };
    Sim::with_recorder(config, Some(Box::new(DoneRecorder::default())))
}

/// Publish `app`/`stream` with a keyframe, then end the publish.
fn record_once(sim: &mut Sim, app: &str, stream: &str) {
    let mut publisher = sim.client_on(app, ClientMode::Publish, stream);
    sim.pump(&mut [&mut publisher]);
    publish_start(sim, &mut publisher, &mut []);
    publisher.session.finish(&mut publisher.outbound).unwrap();
    sim.pump(&mut [&mut publisher]);
}

fn all_jobs(sim: &mut Sim) -> Vec<ExecJob> {
    std::iter::from_fn(|| sim.ep.poll_exec()).collect()
}

const RECORD: &str = "record_all = true\n";

#[test]
fn one_job_per_finished_recording_with_expanded_arguments() {
    let mut sim = sim_with(&format!(
        "{RECORD}exec_record_done = [\"/usr/local/bin/post\", \"{{path}}\", \"{{app}}/{{name}}\", \
         \"{{dirname}}\", \"{{filename}}\", \"{{basename}}\", \"x; $(rm -rf /) {{{{}}}}\"]\n"
    ));
    let mut publisher = sim.started(ClientMode::Publish, "cam?token=s3cret");
    publish_start(&mut sim, &mut publisher, &mut []);
    sim.advance(1_000, &mut [&mut publisher]);
    assert!(sim.ep.poll_exec().is_none(), "nothing while recording");
    publisher.session.finish(&mut publisher.outbound).unwrap();
    sim.pump(&mut [&mut publisher]);
    sim.advance(200, &mut []);
    let jobs = all_jobs(&mut sim);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job.program, "/usr/local/bin/post");
    assert_eq!(
        job.args,
        [
            "rec/live_cam_1.flv",
            "live/cam",
            "rec",
            "live_cam_1.flv",
            "live_cam_1",
            "x; $(rm -rf /) {}"
        ]
    );
    assert_eq!(job.path, "rec/live_cam_1.flv");
    assert_eq!(
        job.timeout,
        Duration::from_secs(60),
        "exec_timeout_s default"
    );
    // Later sweeps make no second job for the same recording.
    sim.advance(5_000, &mut []);
    assert!(sim.ep.poll_exec().is_none());
    // A second recording makes its own job.
    record_once(&mut sim, "live", "cam");
    sim.advance(200, &mut []);
    let jobs = all_jobs(&mut sim);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].path, "rec/live_cam_2.flv");
    assert_ne!(jobs[0].id, job.id);
}

#[test]
fn the_fifth_concurrent_job_waits_for_a_free_slot() {
    let mut sim = sim_with(&format!("{RECORD}exec_record_done = [\"/bin/true\"]\n"));
    for n in 0..5 {
        record_once(&mut sim, "live", &format!("s{n}"));
    }
    sim.advance(200, &mut []);
    let first = all_jobs(&mut sim);
    assert_eq!(first.len(), MAX_RUNNING);
    assert_eq!(
        sim.ep.exec_stats(),
        ExecStats {
            running: 4,
            queued: 1,
            started: 4,
            dropped: 0
        }
    );
    // An unknown or repeated report frees nothing.
    sim.ep.handle_exec_done(999);
    assert!(sim.ep.poll_exec().is_none());
    sim.ep.handle_exec_done(first[2].id);
    sim.ep.handle_exec_done(first[2].id);
    let fifth = sim.ep.poll_exec().expect("the waiting job");
    assert_eq!(fifth.path, "rec/live_s4_5.flv");
    assert!(sim.ep.poll_exec().is_none(), "4 running again");
    assert_eq!(sim.ep.exec_stats().running, 4);
}

#[test]
fn jobs_beyond_the_queue_bound_are_dropped_and_counted() {
    let mut sim = sim_with(&format!("{RECORD}exec_record_done = [\"/bin/true\"]\n"));
    for n in 0..MAX_RUNNING {
        record_once(&mut sim, "live", &format!("r{n}"));
    }
    sim.advance(200, &mut []);
    assert_eq!(all_jobs(&mut sim).len(), MAX_RUNNING);
    for n in 0..=MAX_QUEUED {
        record_once(&mut sim, "live", &format!("q{n}"));
    }
    sim.advance(200, &mut []);
    let stats = sim.ep.exec_stats();
    assert_eq!(
        (stats.running, stats.queued, stats.dropped),
        (MAX_RUNNING, MAX_QUEUED, 1)
    );
    // The oldest waiting job goes first once a slot frees.
    sim.ep.handle_exec_done(1);
    assert_eq!(sim.ep.poll_exec().unwrap().path, "rec/live_q0_5.flv");
}

#[test]
fn per_application_command_and_timeout_override_the_top_level() {
    let mut sim = sim_with(&format!(
        "{RECORD}exec_record_done = [\"/bin/top\", \"{{path}}\"]\n\
         [apps.studio]\nexec_record_done = [\"/bin/studio\", \"{{name}}\"]\nexec_timeout_s = 5\n\
         [apps.quiet]\nexec_record_done = []\n\
         [apps.\"*\"]\nexec_timeout_s = 7\n"
    ));
    record_once(&mut sim, "live", "a");
    record_once(&mut sim, "studio", "b");
    record_once(&mut sim, "quiet", "c");
    sim.advance(200, &mut []);
    let jobs = all_jobs(&mut sim);
    let got: Vec<(&str, Vec<String>, u64)> = jobs
        .iter()
        .map(|j| (j.program.as_str(), j.args.clone(), j.timeout.as_secs()))
        .collect();
    assert_eq!(
        got,
        [
            ("/bin/top", vec!["rec/live_a_1.flv".to_string()], 7),
            ("/bin/studio", vec!["b".to_string()], 5),
        ],
        "quiet runs nothing"
    );
}

#[test]
fn nothing_runs_without_a_command_or_without_recording() {
    let mut sim = sim_with(RECORD);
    record_once(&mut sim, "live", "a");
    sim.advance(200, &mut []);
    assert!(sim.ep.poll_exec().is_none());
    let mut sim = sim_with("exec_record_done = [\"/bin/true\"]\n");
    record_once(&mut sim, "live", "a");
    sim.advance(200, &mut []);
    assert!(sim.ep.poll_exec().is_none(), "the app does not record");
}
