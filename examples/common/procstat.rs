//! Server CPU time and RSS from /proc, for the load generators in
//! `examples/` (each includes this file with `#[path]`; Cargo does not
//! build it as an example of its own).

/// CPU time (utime + stime) of `pid` and its live children, in microseconds.
pub fn cpu_us(pid: u32, hz: u64) -> u64 {
    let mut ticks = 0u64;
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name; utime, stime are 14, 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        ticks += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        todo.extend(children(p));
    }
    ticks * 1_000_000 / hz
}

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// Resident set size of `pid` and its live children, in KiB.
pub fn rss_kb(pid: u32) -> u64 {
    let mut kb = 0;
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            if let Some(line) = s.lines().find(|l| l.starts_with("VmRSS:")) {
                kb += line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
            }
        }
        todo.extend(children(p));
    }
    kb
}
