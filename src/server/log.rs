//! Redis-style log lines: `pid:M 27 Nov 2026 06:00:00.123 * message`.
//!
//! Written to the logfile named in the config, or stdout when it is empty.
//! Each line is one write(2) on an O_APPEND file, so lines from different
//! shards never interleave.

use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;

struct Sink {
    file: Option<File>,
    level: u8,
}

static SINK: OnceLock<Sink> = OnceLock::new();

const DEBUG: u8 = 0;
const VERBOSE: u8 = 1;
const NOTICE: u8 = 2;
const WARNING: u8 = 3;

fn level_of(name: &str) -> u8 {
    match name {
        "debug" => DEBUG,
        "verbose" => VERBOSE,
        "warning" => WARNING,
        "nothing" => 4,
        _ => NOTICE,
    }
}

/// Sets the destination and level once, at start-up.
pub fn init(logfile: &str, loglevel: &str) -> Result<(), String> {
    let file = if logfile.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)
                .map_err(|e| format!("can't open the log file '{}': {}", logfile, e))?,
        )
    };
    let _ = SINK.set(Sink {
        file,
        level: level_of(loglevel),
    });
    Ok(())
}

fn timestamp() -> String {
    let ms = crate::util::now_ms();
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn emit(level: u8, mark: char, msg: &str) {
    let (min, file) = match SINK.get() {
        Some(s) => (s.level, s.file.as_ref()),
        None => (NOTICE, None),
    };
    if level < min {
        return;
    }
    let line = format!("{}:M {} {} {}\n", std::process::id(), timestamp(), mark, msg);
    match file {
        Some(mut f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

pub fn debug(msg: &str) {
    emit(DEBUG, '.', msg)
}

pub fn verbose(msg: &str) {
    emit(VERBOSE, '-', msg)
}

pub fn notice(msg: &str) {
    emit(NOTICE, '*', msg)
}

pub fn warning(msg: &str) {
    emit(WARNING, '#', msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn calendar() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20784), (2026, 11, 27));
    }
}
