//! `spindle [/path/to/spindle.conf] [--name value ...]`

/// mimalloc, counting what it hands out (INFO used_memory, maxmemory).
#[global_allocator]
static GLOBAL: spindle::memory::Counting = spindle::memory::Counting;

fn main() {
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
