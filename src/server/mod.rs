//! Executors, listeners and housekeeping.
//!
//! One glommio executor per shard, pinned to a core. Every shard binds the
//! listening address itself (SO_REUSEPORT), so the kernel spreads incoming
//! connections over shards with no hand-off hop; a connection then lives on
//! the shard that accepted it.

pub mod busy;
pub mod conn;
pub mod harness;
pub mod log;
pub mod metrics;

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::config::Config;
use crate::shard::{Msg, ServerInfo, Shard, CONNECTED_CLIENTS, SERVER_INFO};

/// Capacity of each shard-to-shard channel.
const MESH_CAPACITY: usize = 1024;

/// The addresses to listen on: `bind` entries, where a leading `-` marks an
/// address that may be unavailable (skipped silently, as in Redis).
fn listen_addrs(cfg: &Config) -> Vec<(String, bool)> {
    cfg.bind
        .iter()
        .map(|a| match a.strip_prefix('-') {
            Some(rest) => (rest.to_string(), true),
            None => (a.clone(), false),
        })
        .collect()
}

fn sock_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{}]:{}", host, port)
    } else {
        format!("{}:{}", host, port)
    }
}

/// glommio binds with SO_REUSEPORT, which would let a second server share
/// the port silently. Probe each address first with a plain bind.
fn check_ports(cfg: &Config) -> Result<Vec<String>, String> {
    let mut usable = Vec::new();
    for (host, optional) in listen_addrs(cfg) {
        let addr = sock_addr(&host, cfg.port);
        match std::net::TcpListener::bind(&addr) {
            Ok(l) => {
                drop(l);
                usable.push(addr);
            }
            Err(e) if optional && e.kind() == std::io::ErrorKind::AddrNotAvailable => {}
            Err(e) if optional && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
            Err(e) => {
                return Err(format!(
                    "Warning: Could not create server TCP listening socket {}: bind: {}\nFailed listening on port {} (tcp), aborting.",
                    addr, e, cfg.port
                ))
            }
        }
    }
    if usable.is_empty() {
        return Err(format!("Failed listening on port {} (tcp), aborting.", cfg.port));
    }
    Ok(usable)
}

fn online_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn random_run_id() -> String {
    let mut rng = crate::util::Rng::new(crate::util::now_us() ^ std::process::id() as u64);
    (0..40)
        .map(|_| char::from_digit((rng.next_u64() % 16) as u32, 16).unwrap_or('0'))
        .collect()
}

/// Starts every shard and serves until SHUTDOWN. Returns an error text for
/// start-up failures.
pub fn run(mut cfg: Config) -> Result<(), String> {
    log::init(&cfg.logfile, &cfg.loglevel)?;
    let shards = if cfg.shards == 0 { online_cores() } else { cfg.shards };
    cfg.shards = shards;
    let addrs = check_ports(&cfg)?;
    crate::acl::init_startup(&cfg)?;
    if let Err(reduced) = adjust_open_files_limit(cfg.maxclients) {
        cfg.maxclients = reduced;
    }
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = SERVER_INFO.set(ServerInfo {
        run_id: random_run_id(),
        start_ms: crate::util::now_ms(),
        shards,
        executable,
        config_file: cfg.config_file.clone(),
        port: cfg.port,
    });
    log::notice("oO0OoO0OoO0Oo Spindle is starting oO0OoO0OoO0Oo");
    log::notice(&format!(
        "Spindle version={}, redis_version={}, pid={}, just started",
        env!("CARGO_PKG_VERSION"),
        crate::command::connection::REDIS_VERSION,
        std::process::id()
    ));
    if cfg.config_file.is_empty() {
        log::warning("Warning: no config file specified, using the default config.");
    }
    if cfg.aof.enabled {
        // The log's files are opened (or created) before any shard starts;
        // shard 0 replays them before anyone is served.
        let files = crate::persist::aof::open_at_start(&cfg.aof, shards)?;
        crate::persist::aof::set_plan(files);
    }
    crate::persist::snapshot::install_signal_handlers();
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mesh = if shards > 1 {
        Some(MeshBuilder::<Msg, _>::full(shards, MESH_CAPACITY))
    } else {
        None
    };
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, String>>();
    // Every shard must be fully up (mesh joined, receivers running, warmed
    // up) before any of them accepts a client whose commands may hop.
    let all_up = std::sync::Arc::new(std::sync::Barrier::new(shards));
    let mut handles = Vec::new();
    for i in 0..shards {
        let placement = if cores.is_empty() {
            Placement::Unbound
        } else {
            Placement::Fixed(cores[i % cores.len()].id)
        };
        // The mesh builder must be cloned on this thread, once per executor.
        let mesh = mesh.clone();
        let cfg = cfg.clone();
        let addrs = addrs.clone();
        let ready = ready_tx.clone();
        let all_up = all_up.clone();
        let preempt_us: u64 = std::env::var("SPINDLE_PREEMPT_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        let spin_us: u64 = std::env::var("SPINDLE_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let handle = LocalExecutorBuilder::new(placement)
            .spin_before_park(Duration::from_micros(spin_us))
            .name(&format!("shard{}", i))
            .preempt_timer(Duration::from_micros(preempt_us))
            // glommio's registered I/O buffer area (DMA file I/O; sockets do
            // not use it): its 10 MiB default would be counted in
            // used_memory and taken out of maxmemory.
            .io_memory(256 << 10)
            .spawn(move || async move {
                crate::memory::register_shard_thread(i);
                shard_main(shards, cfg, mesh, addrs, ready, all_up).await
            })
            .map_err(|e| format!("can't start shard executor {}: {}", i, e))?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..shards {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a shard executor stopped during start-up".into()),
        }
    }
    log::notice(&format!(
        "Server initialized: {} shard(s), one glommio (io_uring) executor per shard, port {}",
        shards, cfg.port
    ));
    crate::memory::mark_startup();
    log::notice("Ready to accept connections tcp");
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

async fn shard_main(
    count: usize,
    cfg: Config,
    mesh: Option<MeshBuilder<Msg, glommio::channels::channel_mesh::Full>>,
    addrs: Vec<String>,
    ready: mpsc::Sender<Result<usize, String>>,
    all_up: std::sync::Arc<std::sync::Barrier>,
) {
    // Connections and mesh receivers run in one latency-sensitive task
    // queue: a wake-up from another shard (a cross-shard reply or request)
    // then preempts this shard at its next task boundary instead of waiting
    // for the current round of runnable connections to finish.
    let latency_us: u64 = std::env::var("SPINDLE_LATENCY_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tq = if latency_us > 0 {
        glommio::executor().create_task_queue(
            glommio::Shares::Static(1000),
            glommio::Latency::Matters(Duration::from_micros(latency_us)),
            "spindle",
        )
    } else {
        glommio::executor().current_task_queue()
    };
    // A ticking timer from the very start: glommio 0.9 can park with work
    // pending (or miss a wake-up while joining the mesh) until the next
    // reactor event; the tick bounds such a stall to a few milliseconds.
    let ticker = glommio::timer::TimerActionRepeat::repeat(|| async { Some(Duration::from_millis(5)) });
    // A script past busy-reply-threshold answers this thread's other
    // clients from its instruction hook.
    crate::script::runstate::set_busy_poller(busy::poll_busy_clients);
    let shard = match mesh {
        None => Shard::new(0, 1, cfg, None),
        Some(mesh) => {
            // Joining waits on the other shards' threads: look again
            // every few milliseconds (a lost wake-up here once left a
            // server that never started).
            let (senders, mut receivers) = match crate::util::repolled(Duration::from_millis(5), mesh.join()).await {
                Ok(v) => v,
                Err(e) => {
                    let _ = ready.send(Err(format!("channel mesh: {}", e)));
                    return;
                }
            };
            // Shard ids are mesh peer ids, so a shard's index is its address.
            let shard = Shard::new(senders.peer_id(), count, cfg, Some(senders));
            for (_, rx) in receivers.streams() {
                let shard = shard.clone();
                let receiver = async move {
                    loop {
                        // Look at the channel again after a while even
                        // without a wake-up (see coordinator::REPOLL).
                        match crate::util::within(crate::shard::coordinator::REPOLL, rx.recv()).await {
                            Some(Some(msg)) => shard.handle(msg),
                            Some(None) => break,
                            None => continue,
                        }
                    }
                };
                glommio::spawn_local_into(receiver, tq)
                    .expect("spawn a mesh receiver")
                    .detach();
            }
            shard
        }
    };
    log::debug(&format!("shard {} joined the mesh", shard.id));
    crate::shard::evict::apply_policy(&shard.config.borrow().memory);
    // The housekeeping timer below keeps ticking from here on.
    ticker.destroy();
    start_housekeeping(&shard);
    // Warm the executor up: its first parks can stall for milliseconds.
    for _ in 0..3 {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    // The snapshot in `dir/dbfilename`, before any client is accepted,
    // unless the append-only log is on: then the log alone is loaded, as
    // in Redis.
    let aof_on = shard.config.borrow().aof.enabled;
    if !aof_on {
        if let Err(e) = crate::persist::snapshot::load_at_startup(&shard) {
            let _ = ready.send(Err(e));
            return;
        }
    }
    crate::persist::snapshot::start_cron(&shard);
    // Wait for the other shards off the executor thread, so this one keeps
    // serving its mesh channels meanwhile.
    crate::util::repolled(
        Duration::from_millis(5),
        glommio::executor().spawn_blocking(move || {
            all_up.wait();
        }),
    )
    .await;
    if let Err(e) = crate::persist::aof::startup(&shard).await {
        let _ = ready.send(Err(e));
        return;
    }
    let backlog = shard.config.borrow().tcp_backlog as i32;
    let mut listeners = Vec::new();
    for a in &addrs {
        match listen_socket(a, backlog) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "Could not create server TCP listening socket {}: {}",
                    a, e
                )));
                return;
            }
        }
    }
    if shard.id == metrics::METRICS_SHARD && shard.config.borrow().metrics_port != 0 {
        if let Err(e) = metrics::start(&shard, &addrs, tq) {
            let _ = ready.send(Err(e));
            return;
        }
    }
    log::debug(&format!("shard {} listening", shard.id));
    let _ = ready.send(Ok(shard.id));
    let mut tasks = Vec::new();
    for l in listeners {
        let shard = shard.clone();
        // Connection tasks inherit the accept loop's task queue.
        tasks.push(glommio::spawn_local_into(accept_loop(shard, l), tq).expect("spawn an accept loop"));
    }
    for t in tasks {
        t.await;
    }
}

/// A listening socket with SO_REUSEPORT (every shard binds the address),
/// SO_REUSEADDR (a restart need not wait for old connections in TIME_WAIT)
/// and the configured backlog. glommio's own `bind` sets only the first.
fn listen_socket(addr: &str, backlog: i32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    use std::os::fd::{FromRawFd, IntoRawFd};
    let sa: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if sa.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&sa.into())?;
    socket.listen(backlog.max(1))?;
    // SAFETY: the fd is a freshly created, bound, listening TCP socket whose
    // ownership moves into the listener.
    Ok(unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

const DENIED: &str = "-DENIED Spindle is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Spindle you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Spindle from the same host the server is running, however MAKE SURE Spindle is not publicly accessible from internet if you do so. 2) Alternatively you can just disable the protected mode by editing the Spindle configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

async fn accept_loop(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {}", e));
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        admit(&shard, stream).await;
    }
}

/// Serves a new connection, or turns it away (protected mode, maxclients).
pub(crate) async fn admit(shard: &Rc<Shard>, stream: glommio::net::TcpStream) {
    {
        let (maxclients, protected, nopass) = {
            let c = shard.config.borrow();
            let nopass = shard.acl.users.borrow().default_user().nopass;
            (c.maxclients, c.protected_mode, nopass)
        };
        let local = stream.peer_addr().map(|a| a.ip().is_loopback()).unwrap_or(false);
        if protected && nopass && !local {
            reject(stream, DENIED).await;
            shard.stats.borrow_mut().rejected_connections += 1;
            return;
        }
        if CONNECTED_CLIENTS.fetch_add(1, Ordering::Relaxed) >= maxclients as u64 {
            CONNECTED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
            reject(stream, "-ERR max number of clients reached\r\n").await;
            shard.stats.borrow_mut().rejected_connections += 1;
            return;
        }
        let keepalive = shard.config.borrow().tcp_keepalive;
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(keepalive))
                .with_interval(Duration::from_secs((keepalive / 3).max(1)))
                .with_retries(3);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let task = conn::serve(shard.clone(), stream);
        conn::note_task_size(std::mem::size_of_val(&task));
        glommio::spawn_local(task).detach();
    }
}

async fn reject(mut stream: glommio::net::TcpStream, msg: &str) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.write_all(msg.as_bytes()).await;
    // Closing while the client's first request sits unread would send a
    // reset, which can destroy the error before the client reads it. End
    // the write side instead and drain what comes, briefly, off the accept
    // path.
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
    glommio::spawn_local(async move {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 1024];
        let mut drained = 0;
        while drained < 64 << 10 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .detach();
}

/// File descriptors kept for listeners, logs and the rest beyond clients
/// (Redis's CONFIG_MIN_RESERVED_FDS).
const RESERVED_FDS: u64 = 32;

/// Descriptors per connection in Redis's arithmetic (maxclients + 32).
const FDS_PER_CLIENT: u64 = 1;

/// Raises RLIMIT_NOFILE to maxclients + 32 as Redis does at start-up and on
/// CONFIG SET maxclients, with Redis's log lines and its lowering of
/// maxclients (`Err` carries the lower value). A Spindle connection holds
/// two descriptors (its socket and the dup'ed writer), so it first tries
/// for twice that and warns when the system refuses.
pub fn adjust_open_files_limit(maxclients: usize) -> Result<(), usize> {
    let both = maxclients as u64 * 2 + RESERVED_FDS;
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on local structs.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) } == 0 && cur.rlim_cur < both {
        let l = libc::rlimit {
            rlim_cur: both,
            rlim_max: both.max(cur.rlim_max),
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } != 0 {
            log::warning(&format!(
                "Spindle holds two file descriptors per client: with the open files limit at {}, at most {} clients fit.",
                cur.rlim_cur.max(cur.rlim_max.min(both)),
                cur.rlim_cur.max(cur.rlim_max.min(both)).saturating_sub(RESERVED_FDS) / 2
            ));
            if cur.rlim_max > cur.rlim_cur {
                let l = libc::rlimit {
                    rlim_cur: cur.rlim_max,
                    rlim_max: cur.rlim_max,
                };
                // SAFETY: as above.
                unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) };
            }
        }
    }
    let wanted = maxclients as u64 * FDS_PER_CLIENT + RESERVED_FDS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on local structs.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        log::warning(&format!(
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            std::io::Error::last_os_error()
        ));
        return Err(((1024 - RESERVED_FDS) / FDS_PER_CLIENT) as usize);
    }
    let old = lim.rlim_cur;
    if old >= wanted {
        return Ok(());
    }
    let set = |n: u64| {
        let l = libc::rlimit {
            rlim_cur: n,
            rlim_max: n.max(lim.rlim_max),
        };
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) == 0 }
    };
    let mut best = wanted;
    let mut error = 0;
    while best > old {
        if set(best) {
            break;
        }
        error = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if best < 16 {
            best = old;
            break;
        }
        best -= 16;
    }
    best = best.max(old);
    if best >= wanted {
        log::notice(&format!(
            "Increased maximum number of open files to {} (it was originally set to {}).",
            wanted, old
        ));
        return Ok(());
    }
    if best <= RESERVED_FDS + FDS_PER_CLIENT {
        log::warning(&format!(
            "Your current 'ulimit -n' of {} is not enough for the server to start. Please increase your open file limit to at least {}. Exiting.",
            old, wanted
        ));
        std::process::exit(1);
    }
    let reduced = ((best - RESERVED_FDS) / FDS_PER_CLIENT) as usize;
    log::warning(&format!(
        "You requested maxclients of {} requiring at least {} max file descriptors.",
        maxclients, wanted
    ));
    log::warning(&format!(
        "Server can't set maximum open files to {} because of OS error: {}.",
        wanted,
        std::io::Error::from_raw_os_error(error)
    ));
    log::warning(&format!(
        "Current maximum open files is {}. maxclients has been reduced to {} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
        best, reduced
    ));
    Err(reduced)
}

/// Every 100 ms on each shard (Redis's clientsCron): closes clients idle
/// past `timeout` (not subscribers, not blocked or paused clients, as in
/// Redis), recounts client memory and evicts clients over
/// maxmemory-clients. Buffers of idle connections are given back by the connections
/// themselves (conn.rs), so this walk costs nothing per request.
fn clients_cron(shard: &Rc<Shard>, now: u64) {
    if now < shard.clients_cron_ms.get() + 100 {
        return;
    }
    shard.clients_cron_ms.set(now);
    let (timeout, limits) = {
        let c = shard.config.borrow();
        (c.timeout, c.client_output_buffer_limit)
    };
    let clients = shard.clients.borrow();
    for c in clients.values() {
        // A soft output limit passed long enough ago closes the client even
        // when no new output arrives.
        let pending = (c.obuf.get() + c.push.borrow().len()) as u64;
        if pending > 0 && !c.killed.get() {
            let class = if c.subs.borrow().total() > 0 {
                crate::config::OBUF_PUBSUB
            } else {
                0
            };
            if crate::shard::pubsub::over_limit(c, limits[class], pending, now) {
                log::warning(&format!(
                    "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    c.describe(now)
                ));
                shard.stats.borrow_mut().client_outbuf_limit_disconnections += 1;
                c.push.borrow_mut().clear();
                c.kill();
                continue;
            }
        }
        if timeout > 0
            && c.idle.get()
            && !c.paused.get()
            && c.unblock.borrow().is_none()
            && c.subs.borrow().total() == 0
            && now.saturating_sub(c.last_interaction_ms.get()) / 1000 > timeout
        {
            log::verbose("Closing idle client");
            c.kill();
        }
    }
    drop(clients);
    // Client memory for INFO, and client eviction (maxmemory-clients).
    crate::shard::client_evict::cron(shard);
}

/// Per-shard background work: the active expiry cycle. It also keeps a
/// timer armed on every shard, which bounds a glommio 0.9 idle-park stall.
fn start_housekeeping(shard: &Rc<Shard>) {
    let shard = shard.clone();
    glommio::timer::TimerActionRepeat::repeat(move || {
        let shard = shard.clone();
        async move {
            {
                let st = shard.stats.borrow();
                let (c, i, o) = (st.total_commands, st.net_input, st.net_output);
                drop(st);
                shard.rates.borrow_mut().sample(crate::util::now_ms(), c, i, o);
            }
            let now = crate::util::now_ms();
            shard.pause.tick(now);
            clients_cron(&shard, now);
            active_expire_cycle(&shard).await;
            active_expire_hash_fields(&shard);
            crate::shard::evict::tick(&shard);
            crate::shard::blocking::sweep(&shard);
            shard.watches.borrow_mut().prune();
            // Whatever a rare path queued without publishing (events,
            // invalidations) goes out within a tick.
            crate::command::publish_events(&shard);
            crate::shard::coordinator::prune_acks();
            let hz = shard.config.borrow().hz.max(1);
            Some(Duration::from_millis((1000 / hz as u64).min(10)))
        }
    });
}

/// Reclaims expired hash fields nobody touches: a bounded number of fields
/// per database per tick, earliest expiries first.
fn active_expire_hash_fields(shard: &Rc<Shard>) {
    if !shard.config.borrow().active_expire_enabled {
        return;
    }
    if !shard.gate.is_open_for(0) || shard.gate.has_key_locks() || shard.paused_writes() {
        return;
    }
    let now = crate::util::now_ms();
    let mut ks = shard.ks.borrow_mut();
    for db in ks.dbs.iter_mut() {
        if db.hash_ttl_keys() > 0 {
            db.expire_hash_fields_slice(now, 1000);
        }
    }
    drop(ks);
    // `hexpired` / `del` events of the reclaimed fields.
    crate::command::publish_events(shard);
}

/// Reclaims expired keys nobody touches: each tick walks the slots holding
/// volatile keys from where the last tick stopped, for at most ~1 ms and at
/// most one full pass, yielding between slices.
async fn active_expire_cycle(shard: &Rc<Shard>) {
    if !shard.config.borrow().active_expire_enabled {
        return;
    }
    // Keys a transaction holds must not change under it, and CLIENT PAUSE
    // holds writes: skip this tick.
    if !shard.gate.is_open_for(0) || shard.gate.has_key_locks() || shard.paused_writes() {
        return;
    }
    let budget = Duration::from_millis(1);
    let start = std::time::Instant::now();
    loop {
        if !shard.gate.is_open_for(0) || shard.gate.has_key_locks() || shard.paused_writes() {
            return;
        }
        let (db, slot) = shard.expire_cursor.get();
        let now = crate::util::now_ms();
        let slice_start = std::time::Instant::now();
        let slice = {
            let mut ks = shard.ks.borrow_mut();
            let ndb = ks.dbs.len();
            if db >= ndb {
                shard.expire_cursor.set((0, 0));
                return;
            }
            let s = ks.db(db).expire_slice(slot, now, 2000);
            match s.next {
                Some(n) => shard.expire_cursor.set((db, n)),
                None => shard.expire_cursor.set(((db + 1) % ndb, 0)),
            }
            s
        };
        shard.stats.borrow_mut().expired_keys_active += slice.expired as u64;
        // Invalidations (and events) of the keys it deleted.
        crate::command::publish_events(shard);
        // A slice is one synchronous stretch: the latency monitor's
        // `expire-cycle` event when it ran long (a big key freed).
        crate::command::observe::record("expire-cycle", slice_start.elapsed().as_millis() as u64);
        let (cdb, cslot) = shard.expire_cursor.get();
        // One full pass at most per tick, and at most the tick's budget.
        if (cdb == 0 && cslot == 0) || start.elapsed() > budget {
            return;
        }
        glommio::yield_if_needed().await;
    }
}
