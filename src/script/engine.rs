//! Placeholder: the Lua engine lands from its own branch (see mod.rs).
#![allow(unused_variables)]
use super::{Backend, Kind, Outcome, ScriptFlags};

pub struct Engine;

impl Engine {
    pub fn with<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
        f(&mut Engine)
    }
    #[allow(clippy::too_many_arguments)]
    pub fn eval(
        &mut self,
        body: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        resp3: bool,
        backend: &mut dyn Backend,
        out: &mut Vec<u8>,
    ) -> Outcome {
        unimplemented!()
    }
    #[allow(clippy::too_many_arguments)]
    pub fn evalsha(
        &mut self,
        sha: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        resp3: bool,
        backend: &mut dyn Backend,
        out: &mut Vec<u8>,
    ) -> Outcome {
        unimplemented!()
    }
    #[allow(clippy::too_many_arguments)]
    pub fn fcall(
        &mut self,
        name: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        resp3: bool,
        backend: &mut dyn Backend,
        out: &mut Vec<u8>,
    ) -> Outcome {
        unimplemented!()
    }
    pub fn eval_flags(&mut self, body: &[u8]) -> Option<ScriptFlags> {
        unimplemented!()
    }
    pub fn evalsha_flags(&mut self, sha: &[u8]) -> Option<ScriptFlags> {
        unimplemented!()
    }
    pub fn fcall_flags(&mut self, name: &[u8]) -> Option<ScriptFlags> {
        unimplemented!()
    }
    pub fn script_command(&mut self, args: &[&[u8]], resp3: bool, out: &mut Vec<u8>) {
        unimplemented!()
    }
    pub fn function_command(&mut self, args: &[&[u8]], resp3: bool, out: &mut Vec<u8>) {
        unimplemented!()
    }
}
pub fn busy() -> Option<Kind> {
    None
}
pub fn busy_error(kind: Kind) -> &'static str {
    ""
}
pub fn note_write() {}
pub fn set_busy_threshold_ms(ms: u64) {}
