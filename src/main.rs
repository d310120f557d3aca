//! `spindle [/path/to/spindle.conf] [--name value ...]`

/// mimalloc, counting what it hands out (INFO used_memory, maxmemory).
#[global_allocator]
static GLOBAL: spindle::memory::Counting = spindle::memory::Counting;

fn main() {
    // Transparent huge pages make the allocator's partly used regions
    // resident 2 MiB at a time: 12 MiB of RSS at start for 0.6 MB in use,
    // and RSS running ahead of used_memory under eviction churn. Redis
    // turns them off for itself the same way (disable-thp).
    // SAFETY: prctl with integer arguments; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-v") {
        println!(
            "Spindle server v={} (redis_version={})",
            env!("CARGO_PKG_VERSION"),
            spindle::command::connection::REDIS_VERSION
        );
        return;
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("Usage: spindle [/path/to/spindle.conf] [--name value ...]");
        println!("Options use redis.conf names: --port 6379 --bind 127.0.0.1 --shards N --requirepass pw ...");
        return;
    }
    let cfg = match spindle::config::Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spindle: {}", e);
            std::process::exit(1);
        }
    };
    if let Err(e) = spindle::server::run(cfg) {
        eprintln!("spindle: {}", e);
        std::process::exit(1);
    }
}
