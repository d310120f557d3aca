use super::*;

fn user(rules: &[&str]) -> User {
    let rules: Vec<Vec<u8>> = rules.iter().map(|r| r.as_bytes().to_vec()).collect();
    build_user("u", None, &rules, false).unwrap()
}

use crate::command::args::args_of;

fn check(u: &User, words: &[&str]) -> Result<(), (Denial, usize)> {
    let (buf, ranges) = args_of(words);
    let args = Args::new(&buf, &ranges);
    let spec = crate::command::lookup(words[0].as_bytes()).unwrap();
    u.check(&Resolved::of(spec, &args), &args)
}

#[test]
fn default_user_describes_like_redis() {
    let d = User::default_user();
    assert!(d.unrestricted());
    assert_eq!(d.describe(), b"on nopass sanitize-payload ~* &* +@all");
}

#[test]
fn command_rules_keep_order_and_replace() {
    let u = user(&["+@all", "-debug", "+debug|digest"]);
    assert_eq!(u.selectors[0].describe_commands(), "+@all -debug +debug|digest");
    let u = user(&["-@all", "+get", "+set", "-get"]);
    assert_eq!(u.selectors[0].describe_commands(), "-@all +set -get");
    let u = user(&["+config", "-config|set"]);
    assert_eq!(u.selectors[0].describe_commands(), "-@all +config -config|set");
    let u = user(&["+config|get", "+config"]);
    assert_eq!(u.selectors[0].describe_commands(), "-@all +config");
}

#[test]
fn rule_errors() {
    let rules = |r: &[&str]| {
        let v: Vec<Vec<u8>> = r.iter().map(|x| x.as_bytes().to_vec()).collect();
        build_user("u", None, &v, false)
            .map(|_| ())
            .map_err(|e| String::from_utf8(e).unwrap())
    };
    assert_eq!(
        rules(&["+nosuch"]).unwrap_err(),
        "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert!(rules(&["~*", "~foo"]).unwrap_err().contains("'allkeys' flag"));
    assert!(rules(&["#abc"]).unwrap_err().contains("exactly 64 characters"));
    assert!(rules(&["<nopass"]).unwrap_err().contains("does not exist"));
    assert!(rules(&["+config|get|x"])
        .unwrap_err()
        .contains("first-arg of a subcommand"));
    assert_eq!(
        rules(&["(+get", "nonsense)"]).unwrap_err(),
        "Error in ACL SETUSER modifier '(+get nonsense)': Syntax error"
    );
    assert_eq!(
        rules(&["(+get"]).unwrap_err(),
        "Unmatched parenthesis in acl selector starting at '(+get'."
    );
    assert!(rules(&["%X~a"]).is_err());
    assert!(rules(&["%~a"]).is_err());
}

#[test]
fn passwords_are_sha256() {
    assert_eq!(
        hash_password(b"foo"),
        "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
    );
    let u = user(&["on", ">foo", ">bar", "<bar"]);
    assert!(u.password_ok(b"foo"));
    assert!(!u.password_ok(b"bar"));
    let off = user(&[">foo"]);
    assert!(!off.password_ok(b"foo"));
}

#[test]
fn key_permissions() {
    let u = user(&["+@all", "%R~r*", "%W~w*", "~rw*"]);
    assert_eq!(check(&u, &["get", "r1"]), Ok(()));
    assert_eq!(check(&u, &["get", "w1"]), Err((Denial::Key, 1)));
    assert_eq!(check(&u, &["set", "w1", "v"]), Ok(()));
    assert_eq!(check(&u, &["set", "w1", "v", "get"]), Err((Denial::Key, 1)));
    assert_eq!(check(&u, &["set", "rw1", "v", "get"]), Ok(()));
    assert_eq!(check(&u, &["exists", "r1"]), Ok(()));
    assert_eq!(check(&u, &["exists", "w1"]), Ok(()));
    assert_eq!(check(&u, &["exists", "x"]), Err((Denial::Key, 1)));
    assert_eq!(check(&u, &["lpush", "w", "a"]), Ok(()));
    assert_eq!(check(&u, &["incr", "w"]), Err((Denial::Key, 1)));
    assert_eq!(check(&u, &["mget", "r1", "x", "r2"]), Err((Denial::Key, 2)));
}

#[test]
fn command_and_selector_checks() {
    let u = user(&["-@all", "+get", "~*", "(+set ~w*)"]);
    assert_eq!(check(&u, &["get", "a"]), Ok(()));
    assert_eq!(check(&u, &["set", "w", "v"]), Ok(()));
    assert_eq!(check(&u, &["set", "a", "v"]), Err((Denial::Key, 1)));
    assert_eq!(check(&u, &["del", "a"]), Err((Denial::Command, 0)));
    let u = user(&["-@all", "+select|0", "+client|id"]);
    assert_eq!(check(&u, &["select", "0"]), Ok(()));
    assert_eq!(check(&u, &["select", "1"]), Err((Denial::Command, 0)));
    assert_eq!(check(&u, &["client", "id"]), Ok(()));
    assert_eq!(check(&u, &["client", "kill", "x", "y"]), Err((Denial::Command, 0)));
    // AUTH and HELLO are never denied.
    assert_eq!(check(&u, &["auth", "x"]), Ok(()));
}

#[test]
fn channel_permissions() {
    let u = user(&["+@all", "~*", "resetchannels", "&foo*"]);
    assert_eq!(check(&u, &["publish", "foobar", "m"]), Ok(()));
    assert_eq!(check(&u, &["publish", "bar", "m"]), Err((Denial::Channel, 1)));
    assert_eq!(check(&u, &["subscribe", "foo1", "bar"]), Err((Denial::Channel, 2)));
    assert_eq!(check(&u, &["psubscribe", "foo*"]), Ok(()));
    assert_eq!(check(&u, &["psubscribe", "foo1"]), Err((Denial::Channel, 1)));
    assert_eq!(check(&u, &["unsubscribe", "bar"]), Ok(()));
}

#[test]
fn categories_match_redis() {
    let names = |n: &str| {
        categories::category_names(categories::spec_categories(
            crate::command::lookup(n.as_bytes()).unwrap(),
        ))
    };
    assert_eq!(names("get"), vec!["@read", "@string", "@fast"]);
    assert_eq!(names("ping"), vec!["@fast", "@connection"]);
    assert_eq!(names("flushall"), vec!["@keyspace", "@write", "@slow", "@dangerous"]);
    assert_eq!(names("eval"), vec!["@slow", "@scripting"]);
    assert_eq!(names("config"), vec!["@slow"]);
}

#[test]
fn describe_round_trips() {
    let u = user(&["on", ">p", "%R~r*", "~k", "&c", "-@all", "+get", "(~x +set)"]);
    let text = format!("user u {}", String::from_utf8(u.describe()).unwrap());
    let parsed = parse_acl_file(&text, "f", false).unwrap();
    assert_eq!(parsed[0], u);
    assert_eq!(
        String::from_utf8(u.describe()).unwrap(),
        "on sanitize-payload #".to_string()
            + &hash_password(b"p")
            + " %R~r* ~k resetchannels &c -@all +get (~x resetchannels -@all +set)"
    );
}

#[test]
fn acl_file_errors() {
    let e = parse_acl_file("user a on +nosuch\nfoo\n", "f.acl", false).unwrap_err();
    assert_eq!(
        e,
        "f.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. f.acl:2 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    );
}
