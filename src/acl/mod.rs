//! Access control lists (Redis 7.4 ACL v2): users, their rules, the
//! permission checks and the ACL log.
//!
//! Every shard holds its own table of users ([`Users`], like `Config`);
//! ACL SETUSER / DELUSER / LOAD validate once and the coordinator applies the
//! result on every shard. A user is immutable once built: a change replaces
//! it in the table (`Arc`, so a script shipped to another shard can carry
//! its caller's user without copying it) and bumps the shard's generation,
//! which is how sessions notice that their cached verdict is stale.
//!
//! Hot path: a session caches "this connection may run anything" together
//! with the generation it was computed at; dispatch compares that one
//! number with the shard's generation and skips every check when they
//! agree (the default user with `+@all ~* &*`).

pub mod categories;
pub mod log;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::command::table::SubSpec;
use crate::command::{flags, Args, CommandSpec};
use crate::util::glob_match;
pub use categories::{catalog, Catalog, CATEGORIES};
pub use log::{Log, LogEntry};

/// Key permission bits of a key pattern (`%R~`, `%W~`, `~` = both).
pub const PERM_R: u8 = 1;
pub const PERM_W: u8 = 2;
pub const PERM_RW: u8 = 3;

/// One selector: commands, key patterns and channel patterns. A user has a
/// root selector and any number of `(...)` selectors; a command is allowed
/// when one selector allows all of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// Allowed command ids (see [`Catalog`]).
    allowed: Vec<u64>,
    /// `+@all` / `allcommands` with nothing removed since: no bit test.
    all_commands: bool,
    /// Set by `+@all`, cleared by `-@all`: the description starts with
    /// `+@all` (Redis's reserved "future commands" bit).
    future: bool,
    /// First arguments allowed for otherwise denied commands (`+select|0`).
    first_args: Vec<(u16, Vec<String>)>,
    /// The command rules in the order given, for the description.
    rules: String,
    all_keys: bool,
    keys: Vec<(u8, Vec<u8>)>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

/// Why a rule was refused (ACL SETUSER's message after the modifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Unknown,
    Syntax,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSub,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSub => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| c.is_ascii_whitespace() || c == 0 || c == 0x0b)
}

impl Selector {
    pub fn new(all_channels: bool) -> Selector {
        Selector {
            allowed: vec![0; catalog().words()],
            all_commands: false,
            future: false,
            first_args: Vec::new(),
            rules: String::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: u16) -> bool {
        self.allowed[id as usize / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: u16, on: bool) {
        if on {
            self.allowed[id as usize / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id as usize / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// A command and, for a container, all its subcommands.
    fn change_command(&mut self, id: u16, on: bool) {
        self.set_bit(id, on);
        self.first_args.retain(|(i, _)| *i != id);
        for &sub in &catalog().children[id as usize] {
            self.set_bit(sub, on);
        }
    }

    fn update_rules(&mut self, rule: &str, allow: bool) {
        let rule = rule.to_ascii_lowercase();
        let kept: Vec<&str> = self
            .rules
            .split(' ')
            .filter(|r| !r.is_empty())
            .filter(|r| {
                let body = &r[1..];
                !(body == rule
                    || (body.len() > rule.len() && body.starts_with(&rule) && body.as_bytes()[rule.len()] == b'|'))
            })
            .collect();
        let mut s = kept.join(" ");
        if !s.is_empty() {
            s.push(' ');
        }
        s.push(if allow { '+' } else { '-' });
        s.push_str(&rule);
        self.rules = s;
    }

    /// Applies one selector rule (`+get`, `~key*`, `&chan`, `allkeys` ...).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        let cat = catalog();
        match lower.as_slice() {
            b"allkeys" | b"~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" | b"&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => {
                self.allowed.iter_mut().for_each(|w| *w = u64::MAX);
                self.all_commands = true;
                self.future = true;
                self.rules.clear();
                self.first_args.clear();
            }
            b"nocommands" | b"-@all" => {
                self.allowed.iter_mut().for_each(|w| *w = 0);
                self.all_commands = false;
                self.future = false;
                self.rules.clear();
                self.first_args.clear();
            }
            _ if op[0] == b'~' || op[0] == b'%' => {
                if self.all_keys {
                    return Err(RuleError::KeyAfterAll);
                }
                let mut perm = 0u8;
                let mut at = 1;
                if op[0] == b'%' {
                    loop {
                        match op.get(at).map(|c| c.to_ascii_uppercase()) {
                            Some(b'R') if perm & PERM_R == 0 => perm |= PERM_R,
                            Some(b'W') if perm & PERM_W == 0 => perm |= PERM_W,
                            Some(b'~') if perm != 0 => {
                                at += 1;
                                break;
                            }
                            _ => return Err(RuleError::Syntax),
                        }
                        at += 1;
                    }
                } else {
                    perm = PERM_RW;
                }
                let pat = &op[at..];
                if has_spaces(pat) {
                    return Err(RuleError::Syntax);
                }
                match self.keys.iter_mut().find(|(_, p)| p == pat) {
                    Some(k) => k.0 |= perm,
                    None => self.keys.push((perm, pat.to_vec())),
                }
                self.all_keys = false;
            }
            _ if op[0] == b'&' => {
                if self.all_channels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let pat = &op[1..];
                if has_spaces(pat) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_vec());
                }
                self.all_channels = false;
            }
            _ if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') => {
                let allow = op[0] == b'+';
                let name = std::str::from_utf8(&lower[2..]).map_err(|_| RuleError::Unknown)?;
                let bit = categories::category_bit(name).ok_or(RuleError::Unknown)?;
                self.update_rules(&format!("@{}", name), allow);
                for id in 0..cat.names.len() {
                    if cat.cats[id] & bit != 0 {
                        self.change_command(id as u16, allow);
                    }
                }
            }
            _ if op[0] == b'+' => {
                let name = std::str::from_utf8(&lower[1..]).map_err(|_| RuleError::Unknown)?;
                match name.rfind('|') {
                    None => {
                        let id = cat.lookup(name).ok_or(RuleError::Unknown)?;
                        self.change_command(id, true);
                        self.update_rules(&cat.names[id as usize], true);
                    }
                    Some(bar) => {
                        let (cmd, sub) = (&name[..bar], &name[bar + 1..]);
                        let id = cat.lookup(cmd).ok_or(RuleError::Unknown)?;
                        if cat.parent[id as usize].is_some() {
                            return Err(RuleError::FirstArgOfSub);
                        }
                        if sub.is_empty() {
                            return Err(RuleError::Syntax);
                        }
                        if !cat.children[id as usize].is_empty() {
                            let sid = cat.lookup(name).ok_or(RuleError::Unknown)?;
                            self.change_command(sid, true);
                        } else {
                            let sub = String::from_utf8_lossy(&op[bar + 2..]).into_owned();
                            match self.first_args.iter_mut().find(|(i, _)| *i == id) {
                                Some((_, v)) => {
                                    if !v.iter().any(|s| s.eq_ignore_ascii_case(&sub)) {
                                        v.push(sub)
                                    }
                                }
                                None => self.first_args.push((id, vec![sub])),
                            }
                        }
                        self.update_rules(name, true);
                    }
                }
            }
            _ if op[0] == b'-' => {
                let name = std::str::from_utf8(&lower[1..]).map_err(|_| RuleError::Unknown)?;
                let id = cat.lookup(name).ok_or(RuleError::Unknown)?;
                self.change_command(id, false);
                self.update_rules(&cat.names[id as usize], false);
            }
            _ => return Err(RuleError::Syntax),
        }
        Ok(())
    }

    /// The command rules as ACL GETUSER shows them (`+@all -debug`).
    pub fn describe_commands(&self) -> String {
        let mut s = String::from(if self.future { "+@all" } else { "-@all" });
        if !self.rules.is_empty() {
            s.push(' ');
            s.push_str(&self.rules);
        }
        s
    }

    /// Key patterns, space separated (`~*`, `%R~a* ~b`).
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let mut s = Vec::new();
        for (i, (perm, pat)) in self.keys.iter().enumerate() {
            if i > 0 {
                s.push(b' ');
            }
            s.extend_from_slice(match *perm {
                PERM_R => b"%R~".as_slice(),
                PERM_W => b"%W~",
                _ => b"~",
            });
            s.extend_from_slice(pat);
        }
        s
    }

    /// Channel patterns, space separated (`&*`, `&a &b`).
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let mut s = Vec::new();
        for (i, pat) in self.channels.iter().enumerate() {
            if i > 0 {
                s.push(b' ');
            }
            s.push(b'&');
            s.extend_from_slice(pat);
        }
        s
    }

    /// The selector in ACL LIST form: keys, channels, commands.
    fn describe(&self) -> Vec<u8> {
        let mut s = Vec::new();
        if self.all_keys {
            s.extend_from_slice(b"~* ");
        } else if !self.keys.is_empty() {
            s.extend_from_slice(&self.describe_keys());
            s.push(b' ');
        }
        if self.all_channels {
            s.extend_from_slice(b"&* ");
        } else {
            s.extend_from_slice(b"resetchannels ");
            if !self.channels.is_empty() {
                s.extend_from_slice(&self.describe_channels());
                s.push(b' ');
            }
        }
        s.extend_from_slice(self.describe_commands().as_bytes());
        s
    }

    /// Whether this selector lets anything through (the fast path).
    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    fn check_key(&self, key: &[u8], need: u8) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|(p, pat)| p & need == need && glob_match(pat, key, false))
    }

    fn check_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels || channel_in(&self.channels, channel, is_pattern)
    }

    /// Checks one command against this selector: Ok or the reason and the
    /// index of the offending argument.
    fn check(&self, cmd: &Resolved, args: &Args) -> Result<(), (Denial, usize)> {
        if !self.all_commands && !cmd.no_auth && !self.bit(cmd.id) {
            let at = if cmd.sub { 2 } else { 1 };
            let ok = args.len() > at
                && self
                    .first_args
                    .iter()
                    .find(|(i, _)| *i == cmd.id)
                    .is_some_and(|(_, v)| v.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(args.get(at))));
            if !ok {
                return Err((Denial::Command, 0));
            }
        }
        if !self.all_keys {
            for (idx, need) in categories::key_perms(cmd.spec, args) {
                if !self.check_key(args.get(idx), need) {
                    return Err((Denial::Key, idx));
                }
            }
        }
        if !self.all_channels {
            for (idx, is_pattern) in channel_args(cmd.spec, args) {
                if !self.check_channel(args.get(idx), is_pattern) {
                    return Err((Denial::Channel, idx));
                }
            }
        }
        Ok(())
    }
}

/// Whether `channel` is allowed by `list`: a channel name is matched as a
/// glob against each pattern, a PSUBSCRIBE pattern literally.
fn channel_in(list: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|p| {
        if is_pattern {
            p == channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

/// The arguments of `spec` that name channels, and whether each is a
/// pattern. UNSUBSCRIBE forms are never checked (as in Redis).
fn channel_args(spec: &CommandSpec, args: &Args) -> impl Iterator<Item = (usize, bool)> {
    let (range, pattern) = match spec.name {
        "publish" | "spublish" => (1..2.min(args.len()), false),
        "subscribe" | "ssubscribe" => (1..args.len(), false),
        "psubscribe" => (1..args.len(), true),
        _ => (0..0, false),
    };
    range.map(move |i| (i, pattern))
}

/// Why a command was denied; the order is Redis's (a later kind wins when
/// selectors disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denial {
    Command,
    Key,
    Channel,
    Auth,
}

impl Denial {
    pub fn name(self) -> &'static str {
        match self {
            Denial::Command => "command",
            Denial::Key => "key",
            Denial::Channel => "channel",
            Denial::Auth => "auth",
        }
    }
}

/// A command as ACL sees it: its id, and whether it is a subcommand.
pub struct Resolved {
    pub spec: &'static CommandSpec,
    pub id: u16,
    pub sub: bool,
    pub no_auth: bool,
    /// `get` or `config|get`.
    pub full_name: &'static str,
}

impl Resolved {
    /// Resolves `args` (already checked for arity and subcommand).
    pub fn of(spec: &'static CommandSpec, args: &Args) -> Resolved {
        let cat = catalog();
        let base = cat.table_ids[spec.index()];
        match spec.find_subcommand(args) {
            Some(sub) => {
                let j = sub_index(spec, sub);
                Resolved {
                    spec,
                    id: base + 1 + j as u16,
                    sub: true,
                    no_auth: sub.flags & flags::NO_AUTH != 0,
                    full_name: sub.name,
                }
            }
            None => Resolved {
                spec,
                id: base,
                sub: false,
                no_auth: spec.flags & flags::NO_AUTH != 0,
                full_name: spec.name,
            },
        }
    }
}

fn sub_index(spec: &CommandSpec, sub: &SubSpec) -> usize {
    spec.subcommands.iter().position(|s| std::ptr::eq(s, sub)).unwrap_or(0)
}

/// A user: flags, password hashes (hex SHA-256) and selectors (the root
/// first).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    pub skip_sanitize: bool,
    pub passwords: Vec<String>,
    pub selectors: Vec<Selector>,
    /// Root selector allows everything: no check is needed.
    unrestricted: bool,
}

/// Hex SHA-256 of a password, as stored and shown.
pub fn hash_password(pass: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(pass);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{:02x}", b));
    }
    s
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares without an early exit (password checks).
fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl User {
    /// A new user as Redis creates one: off, no passwords, no permissions
    /// (all channels when `acl-pubsub-default` is `allchannels`).
    pub fn new(name: &str, pubsub_all: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            skip_sanitize: false,
            passwords: Vec::new(),
            selectors: vec![Selector::new(pubsub_all)],
            unrestricted: false,
        }
    }

    /// The default user: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        let mut u = User::new("default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(op.as_bytes(), false).expect("valid default rules");
        }
        u
    }

    /// Whether commands of a session as this user need no check at all.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// Applies one rule (ACL SETUSER argument, already merged for
    /// selectors).
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let r = self.apply_inner(op, pubsub_all);
        self.unrestricted = self.selectors[0].unrestricted();
        r
    }

    fn apply_inner(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.skip_sanitize = true,
            b"sanitize-payload" => self.skip_sanitize = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.truncate(1),
            b"reset" => {
                self.nopass = false;
                self.passwords.clear();
                let root = &mut self.selectors[0];
                root.apply(b"resetkeys")?;
                root.apply(b"resetchannels")?;
                if pubsub_all {
                    root.apply(b"allchannels")?;
                }
                self.enabled = false;
                self.skip_sanitize = false;
                self.selectors.truncate(1);
                self.selectors[0].apply(b"-@all")?;
            }
            _ => match op[0] {
                b'>' | b'#' => {
                    let h = if op[0] == b'>' {
                        hash_password(&op[1..])
                    } else {
                        if !valid_hash(&op[1..]) {
                            return Err(RuleError::BadHash);
                        }
                        String::from_utf8_lossy(&op[1..]).into_owned()
                    };
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                b'<' | b'!' => {
                    let h = if op[0] == b'<' {
                        hash_password(&op[1..])
                    } else {
                        if !valid_hash(&op[1..]) {
                            return Err(RuleError::BadHash);
                        }
                        String::from_utf8_lossy(&op[1..]).into_owned()
                    };
                    let at = self
                        .passwords
                        .iter()
                        .position(|p| *p == h)
                        .ok_or(RuleError::NoSuchPassword)?;
                    self.passwords.remove(at);
                }
                b'(' if op.len() >= 2 && op[op.len() - 1] == b')' => {
                    let mut s = Selector::new(pubsub_all);
                    for word in op[1..op.len() - 1]
                        .split(|c| c.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                    {
                        s.apply(word)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.selectors[0].apply(op)?,
            },
        }
        Ok(())
    }

    /// Whether `pass` logs this user in.
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(pass);
        self.passwords.iter().any(|p| same_hash(p, &h))
    }

    /// The flags as ACL GETUSER lists them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        v.push(if self.skip_sanitize {
            "skip-sanitize-payload"
        } else {
            "sanitize-payload"
        });
        v
    }

    /// The rules in ACL LIST / ACL file form (without `user <name> `).
    pub fn describe(&self) -> Vec<u8> {
        let mut s = Vec::new();
        for f in self.flag_names() {
            s.extend_from_slice(f.as_bytes());
            s.push(b' ');
        }
        for p in &self.passwords {
            s.push(b'#');
            s.extend_from_slice(p.as_bytes());
            s.push(b' ');
        }
        s.extend_from_slice(&self.selectors[0].describe());
        for sel in &self.selectors[1..] {
            s.extend_from_slice(b" (");
            s.extend_from_slice(&sel.describe());
            s.push(b')');
        }
        s
    }

    /// Checks a command: Ok, or the denial and the argument to blame (the
    /// command itself when no selector runs it; otherwise the last key or
    /// channel no selector could match, as Redis picks).
    pub fn check(&self, cmd: &Resolved, args: &Args) -> Result<(), (Denial, usize)> {
        if self.unrestricted {
            return Ok(());
        }
        let mut worst = (Denial::Command, 0usize);
        for s in &self.selectors {
            match s.check(cmd, args) {
                Ok(()) => return Ok(()),
                Err((d, i)) => {
                    if d > worst.0 || (d == worst.0 && i > worst.1) {
                        worst = (d, i);
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether a key may be accessed with `need` (R/W bits).
    pub fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.selectors.iter().any(|s| s.check_key(key, need))
    }

    /// Whether a channel (or a PSUBSCRIBE pattern) may be used.
    pub fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.selectors.iter().any(|s| s.check_channel(channel, is_pattern))
    }

    /// Whether this user's channel permissions cover everything `old`'s
    /// did (then no subscriber needs to be disconnected).
    pub fn channels_cover(&self, old: &User) -> bool {
        if self.selectors.iter().any(|s| s.all_channels) {
            return true;
        }
        old.selectors.iter().all(|s| {
            !s.all_channels
                && s.channels
                    .iter()
                    .all(|c| self.selectors.iter().any(|n| n.channels.contains(c)))
        })
    }

    /// Whether a client subscribed to these channels, patterns and shard
    /// channels may stay subscribed under this user.
    pub fn keeps_subscriptions<'a>(
        &self,
        channels: impl Iterator<Item = &'a [u8]>,
        patterns: impl Iterator<Item = &'a [u8]>,
    ) -> bool {
        let list: Vec<&Vec<u8>> = self.selectors.iter().flat_map(|s| s.channels.iter()).collect();
        let allowed = |c: &[u8], pat: bool| {
            list.iter().any(|p| {
                if pat {
                    p.as_slice() == c
                } else {
                    glob_match(p, c, false)
                }
            })
        };
        if self.selectors.iter().any(|s| s.all_channels) {
            return true;
        }
        patterns.into_iter().all(|p| allowed(p, true)) && channels.into_iter().all(|c| allowed(c, false))
    }
}

/// The message of a denial, as in `-NOPERM <message>` (non-verbose) or
/// ACL DRYRUN's reply (verbose).
pub fn denial_message(d: Denial, user: &str, cmd: &str, arg: &[u8], verbose: bool) -> Vec<u8> {
    match (d, verbose) {
        (Denial::Command, _) | (Denial::Auth, _) => {
            format!("User {} has no permissions to run the '{}' command", user, cmd).into_bytes()
        }
        (Denial::Key, false) => b"No permissions to access a key".to_vec(),
        (Denial::Channel, false) => b"No permissions to access a channel".to_vec(),
        (Denial::Key, true) | (Denial::Channel, true) => {
            let mut s = format!("User {} has no permissions to access the '", user).into_bytes();
            s.extend_from_slice(arg);
            s.extend_from_slice(if d == Denial::Key { b"' key" } else { b"' channel" });
            s
        }
    }
}

/// Splits ACL rules, merging `(` ... `)` spread over several arguments
/// into one selector rule. Err carries the argument that opened an
/// unmatched parenthesis.
pub fn merge_selectors(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut out = Vec::new();
    let mut open: Option<(Vec<u8>, usize)> = None;
    for (j, a) in args.iter().enumerate() {
        if let Some((sel, _)) = &mut open {
            sel.push(b' ');
            sel.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(open.take().unwrap().0);
            }
            continue;
        }
        if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((a.clone(), j));
            continue;
        }
        out.push(a.clone());
    }
    match open {
        Some((_, j)) => Err(args[j].clone()),
        None => Ok(out),
    }
}

/// Builds a user from `base` (or a new one) and `rules`; the error is the
/// ACL SETUSER message (without `ERR `).
pub fn build_user(name: &str, base: Option<&User>, rules: &[Vec<u8>], pubsub_all: bool) -> Result<User, Vec<u8>> {
    let merged = merge_selectors(rules).map_err(|a| {
        let mut m = b"Unmatched parenthesis in acl selector starting at '".to_vec();
        m.extend_from_slice(&a);
        m.extend_from_slice(b"'.");
        m
    })?;
    let mut u = base.cloned().unwrap_or_else(|| User::new(name, pubsub_all));
    for op in &merged {
        if let Err(e) = u.apply(op, pubsub_all) {
            let mut m = b"Error in ACL SETUSER modifier '".to_vec();
            m.extend_from_slice(op);
            m.extend_from_slice(b"': ");
            m.extend_from_slice(e.message().as_bytes());
            return Err(m);
        }
    }
    Ok(u)
}

/// One shard's users, by name (sorted, as ACL LIST shows them), and its
/// part of the ACL log.
pub struct Users {
    pub map: BTreeMap<String, Arc<User>>,
    pub log: Log,
}

impl Users {
    pub fn new(users: Vec<User>) -> Users {
        let mut map: BTreeMap<String, Arc<User>> = users.into_iter().map(|u| (u.name.clone(), Arc::new(u))).collect();
        map.entry("default".into())
            .or_insert_with(|| Arc::new(User::default_user()));
        Users {
            map,
            log: Log::default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<User>> {
        self.map.get(name)
    }

    pub fn default_user(&self) -> &Arc<User> {
        self.map.get("default").expect("the default user always exists")
    }

    /// Whether a new connection must authenticate (the default user has a
    /// password or is off).
    pub fn auth_required(&self) -> bool {
        let d = self.default_user();
        !d.nopass || !d.enabled
    }
}

/// Parses an ACL file's text into users; the error is ACL LOAD's message.
pub fn parse_acl_file(text: &str, filename: &str, pubsub_all: bool) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        let linenum = i + 1;
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            continue;
        }
        if words[0] != "user" || words.len() < 2 {
            errors.push_str(&format!(
                "{}:{} should start with user keyword followed by the username. ",
                filename, linenum
            ));
            continue;
        }
        let name = words[1];
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {}. ",
                name, linenum
            ));
            continue;
        }
        let rules: Vec<Vec<u8>> = words[2..].iter().map(|w| w.as_bytes().to_vec()).collect();
        let merged = match merge_selectors(&rules) {
            Ok(m) => m,
            Err(_) => {
                errors.push_str(&format!(
                    "{}:{}: Unmatched parenthesis in selector definition.",
                    filename, linenum
                ));
                Vec::new()
            }
        };
        let mut u = User::new(name, pubsub_all);
        let mut syntax_error = false;
        for op in &merged {
            if let Err(e) = u.apply(op, pubsub_all) {
                if e == RuleError::Unknown {
                    errors.push_str(&format!(
                        "{}:{}: Error in applying operation '{}': {}. ",
                        filename,
                        linenum,
                        String::from_utf8_lossy(op),
                        e.message()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{}:{}: {}. ", filename, linenum, e.message()));
                    syntax_error = true;
                }
            }
        }
        users.push(u);
    }
    if !errors.is_empty() {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        return Err(errors);
    }
    Ok(users)
}

/// Loads the ACL file: users, or ACL LOAD's error message.
pub fn load_acl_file(path: &str, pubsub_all: bool) -> Result<Vec<User>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{}': {}", path, io_reason(&e)))?;
    parse_acl_file(&text, path, pubsub_all)
}

/// strerror-like text of an I/O error ("No such file or directory").
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Writes the users in ACL file form (temp file, then rename).
pub fn save_acl_file(path: &str, users: &Users) -> std::io::Result<()> {
    let mut text = Vec::new();
    for (name, u) in &users.map {
        text.extend_from_slice(b"user ");
        text.extend_from_slice(name.as_bytes());
        text.push(b' ');
        text.extend_from_slice(&u.describe());
        text.push(b'\n');
    }
    let tmp = format!("{}.tmp-{}-{}", path, std::process::id(), crate::util::now_ms());
    let r = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// The users the server starts with: `user` directives of the config, or
/// the ACL file, plus requirepass; checked once in `main` (errors abort
/// start-up as in Redis) and copied by every shard.
pub fn startup_users(cfg: &crate::config::Config) -> Result<Vec<User>, String> {
    let pubsub_all = cfg.acl_pubsub_default_all;
    if !cfg.aclfile.is_empty() && !cfg.users.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let mut users: Vec<User> = vec![User::default_user()];
    if let Some(p) = &cfg.requirepass {
        let d = &mut users[0];
        d.apply(b"resetpass", pubsub_all).ok();
        d.apply(format!(">{}", p).as_bytes(), pubsub_all).ok();
    }
    for (i, words) in cfg.users.iter().enumerate() {
        let name = &words[0];
        if cfg.users[..i].iter().any(|w| &w[0] == name) {
            return Err(format!(
                "Duplicate user '{}' found. A user can only be defined once in config files",
                name
            ));
        }
        let rules: Vec<Vec<u8>> = words[1..].iter().map(|w| w.as_bytes().to_vec()).collect();
        let idx = match users.iter().position(|u| &u.name == name) {
            Some(i) => {
                users[i].apply(b"reset", pubsub_all).ok();
                i
            }
            None => {
                users.push(User::new(name, pubsub_all));
                users.len() - 1
            }
        };
        let merged = merge_selectors(&rules).map_err(|_| format!("Unmatched parenthesis in user '{}'", name))?;
        for op in &merged {
            users[idx].apply(op, pubsub_all).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(op),
                    name,
                    e.message()
                )
            })?;
        }
    }
    if !cfg.aclfile.is_empty() {
        let loaded = load_acl_file(&cfg.aclfile, pubsub_all)?;
        if !loaded.iter().any(|u| u.name == "default") {
            users.truncate(1);
        } else {
            users.clear();
        }
        users.extend(loaded);
    }
    Ok(users)
}

/// Random hex characters for ACL GENPASS.
pub fn random_hex(chars: usize) -> String {
    let mut seed = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut seed);
    }
    let mut s = String::with_capacity(chars + 64);
    let mut counter = 0u64;
    while s.len() < chars {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(seed);
        h.update(counter.to_le_bytes());
        counter += 1;
        for b in h.finalize() {
            s.push_str(&format!("{:02x}", b));
        }
    }
    s.truncate(chars);
    s
}

#[cfg(test)]
mod tests;

static STARTUP: std::sync::OnceLock<Vec<User>> = std::sync::OnceLock::new();

/// Checks the start-up users (`user` directives, aclfile, requirepass)
/// once before the shards start; each shard then copies them.
pub fn init_startup(cfg: &crate::config::Config) -> Result<(), String> {
    let users = startup_users(cfg).map_err(|e| format!("Aborting start-up because of ACL errors: {}", e))?;
    let _ = STARTUP.set(users);
    Ok(())
}

impl Users {
    /// A new shard's table: the start-up users (or, when the server was
    /// not started through `init_startup`, those the config implies).
    pub fn for_shard(cfg: &crate::config::Config) -> Users {
        match STARTUP.get() {
            Some(u) => Users::new(u.clone()),
            None => Users::new(startup_users(cfg).unwrap_or_default()),
        }
    }
}

/// One shard's ACL state: the users and a generation bumped on every
/// change, which sessions compare with their cached verdict.
pub struct ShardAcl {
    pub users: std::cell::RefCell<Users>,
    pub generation: std::cell::Cell<u64>,
}

impl ShardAcl {
    pub fn new(cfg: &crate::config::Config) -> ShardAcl {
        ShardAcl {
            users: std::cell::RefCell::new(Users::for_shard(cfg)),
            generation: std::cell::Cell::new(1),
        }
    }

    /// Current generation (read on every command: one `Cell` load).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    pub fn bump(&self) {
        self.generation.set(self.generation.get() + 1);
    }
}
