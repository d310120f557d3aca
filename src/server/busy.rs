//! What a shard thread does for its clients while a script runs on it past
//! busy-reply-threshold: the thread is inside Lua, so its connection tasks
//! cannot run; the script's instruction hook calls [`poll_busy_clients`].

use std::rc::Rc;

use crate::command::scripting;
use crate::shard::ClientInfo;

/// Called from a busy script's hook: answers the idle clients of this
/// thread as Redis does while a script is busy — SCRIPT KILL and FUNCTION
/// KILL act, SHUTDOWN NOSAVE exits, other commands get -BUSY. Only clients
/// waiting for input with nothing buffered on either side are touched
/// (their replies cannot overtake earlier ones); a command this cannot
/// serve (QUIT, MULTI ... the allow-busy ones) and everything after it
/// stay in the socket for the connection.
pub fn poll_busy_clients() {
    let Some((shard, caller)) = scripting::running_script() else {
        return;
    };
    let Some(kind) = crate::script::engine::busy() else {
        return;
    };
    let targets: Vec<Rc<ClientInfo>> = shard
        .clients
        .borrow()
        .values()
        .filter(|c| c.id != caller && c.idle.get() && !c.killed.get())
        .cloned()
        .collect();
    let mut buf = vec![0u8; 16 * 1024];
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    for c in targets {
        let (fd, resp3) = (c.fd, c.resp.get() == 3);
        loop {
            // SAFETY: `buf` is valid for its length; `c.fd` is an open
            // socket (the client is registered); MSG_PEEK leaves the bytes.
            let n = unsafe {
                libc::recv(
                    fd,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                break;
            }
            ranges.clear();
            scratch.clear();
            let limits = crate::protocol::Limits {
                max_bulk_len: 512 * 1024 * 1024,
                authenticated: true,
            };
            let (consumed, answer) =
                match crate::protocol::parser::parse(&buf[..n as usize], limits, &mut ranges, &mut scratch) {
                    Ok(crate::protocol::Parsed::Command { consumed, argc, source }) => {
                        let input: &[u8] = match source {
                            crate::protocol::ArgSource::Input => &buf[..consumed],
                            crate::protocol::ArgSource::Scratch => &scratch,
                        };
                        let answer = if argc == 0 {
                            scripting::BusyAnswer::Reply(Vec::new())
                        } else {
                            scripting::busy_answer(&crate::command::Args::new(input, &ranges[..argc]), kind, resp3, &c)
                        };
                        (consumed, answer)
                    }
                    _ => break,
                };
            let scripting::BusyAnswer::Reply(reply) = answer else {
                break;
            };
            // SAFETY: the peeked bytes are in the socket buffer; this takes
            // exactly those.
            unsafe {
                libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, consumed, libc::MSG_DONTWAIT);
                if !reply.is_empty() {
                    libc::send(
                        fd,
                        reply.as_ptr() as *const libc::c_void,
                        reply.len(),
                        libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    );
                }
            }
            c.tot_cmds.set(c.tot_cmds.get() + 1);
        }
    }
}
