//! An in-process harness: one shard on a local executor, driven through the
//! same dispatch path as a socket connection, returning raw reply bytes.
//!
//! ```no_run
//! let mut h = spindle::server::harness::Harness::new();
//! assert_eq!(h.cmd("SET k v"), "+OK\r\n");
//! ```

use std::rc::Rc;

use glommio::{LocalExecutor, LocalExecutorBuilder, Placement};

use super::conn::State;
use crate::command::Args;
use crate::config::Config;
use crate::protocol::parser::split_args;
use crate::shard::{ClientInfo, Shard};

/// A single-shard server without sockets.
pub struct Harness {
    executor: LocalExecutor,
    state: State,
    shard: Rc<Shard>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(Config::default())
    }

    pub fn with_config(mut cfg: Config) -> Harness {
        cfg.shards = 1;
        // In-process tests never write snapshots (FLUSHALL would save).
        cfg.persist.save.clear();
        let executor = LocalExecutorBuilder::new(Placement::Unbound)
            .make()
            .expect("a local executor for the test harness");
        let shard = Shard::new(0, 1, cfg, None);
        let info = Rc::new(ClientInfo {
            id: crate::shard::next_client_id(),
            addr: "127.0.0.1:1".into(),
            ..Default::default()
        });
        info.resp.set(2);
        shard.clients.borrow_mut().insert(info.id, info.clone());
        let state = State::new(&shard, info, true);
        // The shard's periodic sweep times blocked clients out.
        let sweeper = shard.clone();
        executor.run(async move {
            glommio::spawn_local(async move {
                loop {
                    glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
                    crate::shard::blocking::sweep(&sweeper);
                }
            })
            .detach();
        });
        Harness { executor, state, shard }
    }

    /// Runs one command given as arguments and returns its raw reply.
    pub fn run(&mut self, argv: &[&[u8]]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut ranges = Vec::new();
        for a in argv {
            ranges.push((data.len() as u32, a.len() as u32));
            data.extend_from_slice(a);
        }
        let state = &mut self.state;
        self.executor.run(async {
            state.now_ms = crate::util::now_ms();
            let args = Args::new(&data, &ranges);
            state.dispatch(&args).await;
            state.flush_remote().await;
        });
        self.state.take_output()
    }

    /// Runs one command written redis-cli style (`SET k "a b"`) and returns
    /// its reply as text (lossy for non-UTF-8 bytes).
    pub fn cmd(&mut self, line: &str) -> String {
        let mut ranges = Vec::new();
        let mut buf = Vec::new();
        split_args(line.as_bytes(), &mut ranges, &mut buf).expect("balanced quotes in a harness command");
        let argv: Vec<&[u8]> = ranges
            .iter()
            .map(|&(o, l)| &buf[o as usize..(o + l) as usize])
            .collect();
        String::from_utf8_lossy(&self.run(&argv)).into_owned()
    }

    /// The shard behind the harness, for white-box checks.
    pub fn shard(&self) -> &Rc<Shard> {
        &self.shard
    }

    /// Whether the last command asked to close the connection.
    pub fn closing(&self) -> bool {
        self.state.session().close_after_reply
    }
}
