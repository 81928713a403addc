//! The failure edges, through the binary: killed and hung lock holders, read-only and full
//! disks, planted cache files, a clock that jumps, a crowd of parallel callers, bad input, and
//! secrets kept out of every message and client file.

use crate::common::config::Connection;
use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REFRESH_BEFORE: i64 = 300;
const TOKEN_LIFETIME: i64 = 900;

fn connection(name: &str, host: &str, profile: &str) -> Connection {
    Connection::named(name)
        .key("host", host)
        .key("user", "jane")
        .key("aws_profile", profile)
}

fn cmd_at(home: &Home, at: i64) -> Command {
    home.cmd_at(at)
}

fn run_at(home: &Home, at: i64, args: &[&str]) -> Run {
    home.run_at(at, args)
}

/// When a token was signed: its `X-Amz-Date`, in Unix seconds.
fn signed_at(token: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(signing_date(token), "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc()
        .timestamp()
}

/// What "never a dead token" means at time `now`: signed no later than the allowed skew, and
/// alive for at least `refresh_before` more.
#[track_caller]
fn assert_alive(token: &str, now: i64) {
    let signed = signed_at(token);
    assert!(
        signed + TOKEN_LIFETIME >= now + REFRESH_BEFORE,
        "token signed at {signed} has under {REFRESH_BEFORE}s left at {now}"
    );
    assert!(
        signed <= now + 60,
        "token signed at {signed} is from the future at {now}"
    );
}

fn cache_files(home: &Home, extension: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(home.cache_dir()) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

fn only_cache_file(home: &Home) -> PathBuf {
    let files = cache_files(home, "json");
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Waits for the hanging credential_process of `profile` and returns its pid: from then on,
/// the rdsiam-helper that started it holds the key's lock.
fn wait_for_hang(home: &Home, profile: &str, holder: &mut Child) -> i32 {
    let pid = home.path().join(format!("{profile}.pid"));
    let started = Instant::now();
    while !pid.exists() {
        if let Ok(Some(status)) = holder.try_wait() {
            panic!("the lock holder exited early: {status}");
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no hang");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn kill(pid: i32) {
    // SAFETY: kill has no memory preconditions; the pid is a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

fn is_running(pid: i32) -> bool {
    // A zombie (dead, not yet reaped) still answers kill(0); its /proc state says Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn a_lock_holder_killed_with_sigkill_frees_the_lock_at_once() {
    let home = Home::new();
    let count = counting_process(&home, "cp", 6 * 3600, "0");
    home.config(connection("prod", HOST, "cp"));
    std::fs::write(home.path().join("cp.hang"), "").unwrap();
    let mut holder = home
        .cmd()
        .args(["pg", "prod"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let orphan = wait_for_hang(&home, "cp", &mut holder);
    // It really holds the lock: a caller that will not wait is turned away.
    let blocked = Run::from(
        home.cmd()
            .env("RDSIAM_HELPER_LOCK_TIMEOUT", "0.2")
            .args(["pg", "prod"])
            .output()
            .unwrap(),
    );
    blocked.code(1).stderr_has("cache lock");

    holder.kill().unwrap();
    holder.wait().unwrap();
    std::fs::remove_file(home.path().join("cp.hang")).unwrap();
    // The killed process's credential_process lives on: the lock must not have gone with it.
    assert!(is_running(orphan), "the orphaned credential_process exited");

    let started = Instant::now();
    let next = Run::from(
        home.cmd()
            .env("RDSIAM_HELPER_LOCK_TIMEOUT", "30")
            .args(["pg", "prod"])
            .output()
            .unwrap(),
    );
    let waited = started.elapsed();
    kill(orphan);
    next.ok();
    assert!(
        waited < Duration::from_secs(5),
        "waited {waited:?} on a dead holder's lock"
    );
    assert!(
        next.token()
            .starts_with(&format!("{HOST}:5432/?Action=connect&DBUser=jane&"))
    );
    assert_alive(&next.token(), unix_now());
    assert_eq!(
        runs(&count),
        2,
        "the hung run, then ours; the refused call never signed"
    );
}

#[test]
fn a_hung_lock_holder_bounds_the_wait_names_the_lock_and_corrupts_nothing() {
    let home = Home::new();
    counting_process(&home, "cp", 6 * 3600, "0");
    home.config(connection("prod", HOST, "cp"));
    let t = unix_now();
    let first = run_at(&home, t, &["pg", "prod"]);
    first.ok();
    let file = only_cache_file(&home);
    let lock = file.with_extension("lock");
    let before = std::fs::read(&file).unwrap();

    // Eleven minutes on the token is stale; the refresher hangs in its credential_process.
    let later = t + 660;
    std::fs::write(home.path().join("cp.hang"), "").unwrap();
    let mut holder = cmd_at(&home, later)
        .args(["pg", "prod"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let hung = wait_for_hang(&home, "cp", &mut holder);

    let started = Instant::now();
    let waiter = Run::from(
        cmd_at(&home, later)
            .env("RDSIAM_HELPER_LOCK_TIMEOUT", "0.5")
            .args(["pg", "prod"])
            .output()
            .unwrap(),
    );
    let waited = started.elapsed();
    waiter
        .code(1)
        .stderr_has(&format!(
            "another process has held the cache lock {} for over 500ms",
            lock.display()
        ))
        .stderr_has("--no-cache")
        .stderr_has("RDSIAM_HELPER_LOCK_TIMEOUT");
    assert!(waiter.stdout.is_empty());
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the cache file changed"
    );

    holder.kill().unwrap();
    holder.wait().unwrap();
    kill(hung);
    std::fs::remove_file(home.path().join("cp.hang")).unwrap();

    // Any live holder counts, not just this tool: an flock taken by another program.
    let held = std::fs::File::open(&lock).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&held), libc::LOCK_EX) },
        0
    );
    let blocked = Run::from(
        cmd_at(&home, later)
            .env("RDSIAM_HELPER_LOCK_TIMEOUT", "0.3")
            .args(["pg", "prod"])
            .output()
            .unwrap(),
    );
    blocked.code(1).stderr_has(&lock.display().to_string());
    drop(held);

    let after = run_at(&home, later, &["pg", "prod"]);
    after.ok();
    assert_eq!(signed_at(&after.token()), later);
    let cached: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(cached["token"].as_str().unwrap(), after.token());
}

/// Runs the binary without root's power to write where the mode forbids it, so a read-only
/// folder is read-only for this test's root too (CI runs as root). Dropped from the bounding
/// set, the capabilities are gone after exec although the user id stays 0.
fn without_root_override(cmd: &mut Command) -> &mut Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return cmd;
    }
    // SAFETY: the closure only makes async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            for cap in [
                1, /* CAP_DAC_OVERRIDE */
                2, /* CAP_DAC_READ_SEARCH */
                3, /* CAP_FOWNER */
            ] {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    }
}

/// A full disk, without mounting one: no regular file may grow past 0 bytes, and the write
/// fails with EFBIG (SIGXFSZ ignored, which exec keeps) as it would with ENOSPC.
fn on_a_full_disk(cmd: &mut Command) -> &mut Command {
    // SAFETY: signal and setrlimit are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

fn static_home() -> Home {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection("prod", HOST, "p"));
    home
}

#[test]
fn a_read_only_cache_folder_still_gives_a_fresh_token_with_a_warning() {
    let home = static_home();
    let t = unix_now();
    let run = |at: i64, dir: Option<&Path>| {
        let mut cmd = cmd_at(&home, at);
        if let Some(dir) = dir {
            cmd.env("RDSIAM_HELPER_CACHE_DIR", dir);
        }
        Run::from(
            without_root_override(&mut cmd)
                .args(["pg", "prod"])
                .output()
                .unwrap(),
        )
    };
    // The setting works: this test's root cannot write into a 0500 folder either.
    let probe = home.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o500)).unwrap();
    let touch = without_root_override(Command::new("touch").arg(probe.join("x")))
        .output()
        .unwrap();
    assert!(!touch.status.success(), "the 0500 folder is writable here");

    // An empty cache folder that cannot be written.
    let dir = home.cache_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    for at in [t, t + 10] {
        let out = run(at, None);
        out.ok()
            .stderr_has("rdsiam-helper: warning: cannot create the lock file")
            .stderr_has("signing without a cache");
        assert_eq!(signed_at(&out.token()), at, "signed fresh, not cached");
        assert_alive(&out.token(), at);
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

    // A cache folder that cannot even be created.
    let missing = probe.join("cache");
    let out = run(t, Some(&missing));
    out.ok()
        .stderr_has("cannot create the cache folder")
        .stderr_has("signing without a cache");
    assert_alive(&out.token(), t);

    // A folder that was writable, holding a stale token and its lock file, gone read-only.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    run(t, None).ok();
    let file = only_cache_file(&home);
    let before = std::fs::read(&file).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    for at in [t + 700, t + 710] {
        let out = run(at, None);
        out.ok()
            .stderr_has("cannot write the cache file")
            .stderr_has("the token was not cached");
        assert_eq!(signed_at(&out.token()), at);
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_full_disk_still_gives_a_fresh_token_with_a_warning() {
    let home = static_home();
    let t = unix_now();
    for at in [t, t + 10] {
        let out = Run::from(
            on_a_full_disk(&mut cmd_at(&home, at))
                .args(["pg", "prod"])
                .output()
                .unwrap(),
        );
        out.ok()
            .stderr_has("rdsiam-helper: warning: cannot write the cache file")
            .stderr_has(": file too large;")
            .stderr_has("the token was not cached");
        assert_eq!(signed_at(&out.token()), at, "signed fresh, not cached");
        assert_alive(&out.token(), at);
    }
    // Nothing half-written left behind: no token file, no temporary file.
    let left: Vec<String> = std::fs::read_dir(home.cache_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // With room again, the cache works.
    let cached = run_at(&home, t + 20, &["pg", "prod"]);
    cached.ok();
    assert!(cached.stderr.is_empty(), "{}", cached.stderr);
    assert_eq!(
        run_at(&home, t + 30, &["pg", "prod"]).ok().token(),
        cached.token()
    );
}

const PLANTED: &str = "planted.example.com:5432/?Action=connect&DBUser=jane&Planted=1";

/// A cache entry that would be served for `prod` if it were read: the real one with the
/// token swapped for `PLANTED`.
fn planted_entry(home: &Home) -> Vec<u8> {
    let file = only_cache_file(home);
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    entry["token"] = PLANTED.into();
    serde_json::to_vec(&entry).unwrap()
}

#[track_caller]
fn assert_refused(run: &Run, needle: &str) {
    run.code(1).stderr_has(needle);
    assert!(run.stdout.is_empty(), "printed {}", run.stdout);
    assert!(!run.stderr.contains(PLANTED));
}

#[test]
fn a_cache_folder_others_can_write_or_a_symlinked_cache_file_is_refused() {
    let home = static_home();
    let t = unix_now();
    run_at(&home, t, &["pg", "prod"]).ok();
    let dir = home.cache_dir();
    let file = only_cache_file(&home);
    let planted = planted_entry(&home);
    // The planted entry is one that would be served: proven with it in place, safely.
    std::fs::write(&file, &planted).unwrap();
    assert_eq!(run_at(&home, t, &["pg", "prod"]).ok().token(), PLANTED);

    for mode in [0o777, 0o1777, 0o720] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = run_at(&home, t, &["pg", "prod"]);
        assert_refused(&run, "is writable by other users");
        run.stderr_has(&format!("chmod 700 {}", dir.display()));
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    // A symlink in place of the cache file: to a planted entry, and to a file of the user's
    // that a write through the link would destroy.
    let elsewhere = home.write("elsewhere/entry.json", "");
    std::fs::write(&elsewhere, &planted).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let run = run_at(&home, t, &["pg", "prod"]);
    assert_refused(&run, "is a symbolic link; refusing to read through it");
    run.stderr_has(&format!("rm {}", file.display()));
    // Also when the entry is stale and a refresh would write.
    assert_refused(
        &run_at(&home, t + 700, &["pg", "prod"]),
        "is a symbolic link",
    );
    assert_eq!(std::fs::read(&elsewhere).unwrap(), planted);

    // The lock file as a symlink: the refresh never opens what it points to.
    std::fs::remove_file(&file).unwrap();
    let lock = file.with_extension("lock");
    let victim = home.write("elsewhere/victim", "keep");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    assert_refused(&run_at(&home, t, &["pg", "prod"]), "is a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!file.exists());
}

#[test]
fn a_cache_file_or_folder_owned_by_another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let reason = "giving a file to another user needs root";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{reason}; CI=true runs as root and must run this test"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let nobody = 65534;
    let home = static_home();
    let t = unix_now();
    run_at(&home, t, &["pg", "prod"]).ok();
    let file = only_cache_file(&home);
    std::fs::write(&file, planted_entry(&home)).unwrap();
    std::os::unix::fs::chown(&file, Some(nobody), Some(nobody)).unwrap();
    let run = run_at(&home, t, &["pg", "prod"]);
    assert_refused(&run, "belongs to user id 65534, not to you");
    run.stderr_has(&file.display().to_string());
    // The entry itself is one that would be served: ours again, it is.
    std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
    assert_eq!(run_at(&home, t, &["pg", "prod"]).ok().token(), PLANTED);

    std::os::unix::fs::chown(&file, Some(nobody), Some(nobody)).unwrap();
    let lock = file.with_extension("lock");
    std::os::unix::fs::chown(&lock, Some(nobody), Some(nobody)).unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_refused(&run_at(&home, t, &["pg", "prod"]), "the lock file");
    std::fs::remove_file(&lock).unwrap();

    let dir = home.cache_dir();
    std::os::unix::fs::chown(&dir, Some(nobody), Some(nobody)).unwrap();
    assert_refused(&run_at(&home, t, &["pg", "prod"]), "the cache folder");
}

#[test]
fn foreign_or_odd_cache_files_are_replaced() {
    let home = Home::new();
    home.static_profile("a", "AKIAAAAAAAAAAEXAMPLE");
    home.static_profile("b", "AKIABBBBBBBBBEXAMPLE");
    home.config(format!(
        "{}{}",
        connection("one", HOST, "a"),
        connection("two", HOST, "b")
    ));
    let t = unix_now();
    run_at(&home, t, &["pg", "two"]).ok();
    let two = only_cache_file(&home);
    let other_key = std::fs::read(&two).unwrap();
    run_at(&home, t, &["pg", "one"]).ok();
    let one = cache_files(&home, "json")
        .into_iter()
        .find(|f| *f != two)
        .unwrap();
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&one).unwrap()).unwrap();
    let with = |key: &str, value: serde_json::Value| {
        let mut entry = good.clone();
        entry[key] = value;
        serde_json::to_vec(&entry).unwrap()
    };
    let mut extra_field = good.clone();
    extra_field["planted"] = "x".into();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("another key's valid entry", other_key),
        ("a newer format version", with("version", 99.into())),
        ("an empty token", with("token", "".into())),
        ("a token for another port", with("port", 5433.into())),
        (
            "an unknown field",
            serde_json::to_vec(&extra_field).unwrap(),
        ),
        ("a wrong type", with("valid_until", "tomorrow".into())),
        ("a huge file", vec![b' '; 1 << 20]),
        ("a NUL byte", b"{\"version\":1\x00}".to_vec()),
    ];
    for (what, content) in cases {
        std::fs::write(&one, &content).unwrap();
        let run = run_at(&home, t + 1, &["pg", "one"]);
        run.ok();
        assert!(
            run.token().contains("AKIAAAAAAAAAAEXAMPLE") && signed_at(&run.token()) == t + 1,
            "{what}: not signed anew"
        );
        let replaced: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&one).unwrap()).unwrap();
        assert_eq!(replaced["token"].as_str().unwrap(), run.token(), "{what}");
    }
    // A FIFO in its place would block a plain read forever.
    std::fs::remove_file(&one).unwrap();
    let fifo = std::ffi::CString::new(one.display().to_string()).unwrap();
    // SAFETY: a valid C string and mode.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    let run = run_at(&home, t + 2, &["pg", "one"]);
    run.ok();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        std::fs::metadata(&one).unwrap().is_file(),
        "the FIFO was not replaced"
    );
    // and the other connection's entry was never touched
    assert!(
        run_at(&home, t + 3, &["pg", "two", "-v"])
            .ok()
            .stderr
            .contains("cache hit")
    );
}

#[test]
fn a_clock_that_jumps_never_gets_a_dead_token() {
    let home = Home::new();
    let count = counting_process(&home, "cp", 6 * 3600, "0");
    home.config(connection("prod", HOST, "cp"));
    let t = unix_now();
    let token_at = |at: i64| {
        let run = run_at(&home, at, &["pg", "prod"]);
        run.ok();
        let token = run.token();
        assert_alive(&token, at);
        token
    };
    let first = token_at(t);
    assert_eq!(token_at(t + 299), first, "5 minutes in: still fresh");
    // Forward past the refresh point and past expiry: a new token each time.
    let forward = token_at(t + 601);
    assert_eq!(signed_at(&forward), t + 601);
    let far = token_at(t + 3 * 3600);
    assert_eq!(signed_at(&far), t + 3 * 3600);
    // Back to t: the cached token was signed "in the future" (3 h ahead) and is not served.
    let back = token_at(t);
    assert_eq!(signed_at(&back), t);
    // A small step back (skew) keeps the cached one, which is still alive then.
    assert_eq!(token_at(t - 30), back);
    // Back by more than the skew: signed anew.
    let before = token_at(t - 120);
    assert_eq!(signed_at(&before), t - 120);
    // And forward again, over a laptop's night of sleep.
    let morning = token_at(t + 9 * 3600);
    assert_eq!(signed_at(&morning), t + 9 * 3600);
    assert_eq!(runs(&count), 6);
}

#[test]
fn two_hundred_calls_from_twenty_workers_sign_each_connection_once_per_refresh() {
    let home = Home::new();
    let mut counts = Vec::new();
    let mut config = String::new();
    for i in 0..4 {
        counts.push(counting_process(&home, &format!("p{i}"), 6 * 3600, "0.2"));
        config.push_str(
            connection(
                &format!("c{i}"),
                &format!("db{i}.cluster-abc123.us-east-1.rds.amazonaws.com"),
                &format!("p{i}"),
            )
            .as_ref(),
        );
    }
    home.config(&config);
    let t0 = unix_now();
    // The second half runs 11 minutes later: every first-half token is then stale.
    let phases = [t0, t0 + 660];
    let mut tokens: Vec<Vec<Vec<String>>> = vec![vec![Vec::new(); 4]; 2];
    for (phase, at) in phases.iter().enumerate() {
        let results: Vec<(usize, Run)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..20)
                .map(|worker| {
                    let home = &home;
                    scope.spawn(move || {
                        (0..5)
                            .map(|i| {
                                let c = (worker + i) % 4;
                                let run = run_at(home, *at, &["pg", &format!("c{c}")]);
                                (c, run)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        assert_eq!(results.len(), 100);
        for (c, run) in results {
            run.ok();
            let token = run.token();
            assert!(
                token.starts_with(&format!("db{c}.cluster-abc123")),
                "{token}"
            );
            assert!(token.contains(&format!("ASIAEXAMPLEp{c}")));
            assert_alive(&token, *at);
            tokens[phase][c].push(token);
        }
    }
    for c in 0..4 {
        assert_eq!(
            runs(&counts[c]),
            2,
            "connection c{c}: one signing per period"
        );
        for phase in 0..2 {
            let mut distinct = tokens[phase][c].clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(
                distinct.len(),
                1,
                "c{c} phase {phase}: {} tokens",
                distinct.len()
            );
            assert_eq!(signed_at(&distinct[0]), phases[phase]);
        }
        assert_ne!(tokens[0][c][0], tokens[1][c][0]);
    }
}

#[test]
fn bad_input_gets_its_exact_message_and_exit_code() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let table = bad_input::table();
    for case in table {
        match &case.config {
            Some(text) => {
                home.config(text);
            }
            None => {
                let _ = std::fs::remove_file(home.config_path());
            }
        }
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let run = home.run(&args);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (case.code, ""),
            "{}: {}",
            case.input,
            run.stderr
        );
        assert!(
            run.stderr.contains(case.message),
            "{}: expected {:?} in\n{}",
            case.input,
            case.message,
            run.stderr
        );
        if case.code == 1 {
            assert!(
                run.stderr.starts_with("rdsiam-helper: error: "),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn no_client_file_the_tool_writes_holds_a_token_a_key_or_a_session_token() {
    let home = Home::new();
    counting_process(&home, "cp", 6 * 3600, "0");
    let ca = home.write(
        "ca.pem",
        "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    );
    let text = format!(
        "[defaults]\ndatabase = \"app\"\n\n{}ca_bundle = \"{ca}\"\n\n[connections.shop]\nengine = \"mysql\"\nhost = \"shop.abc123.us-east-1.rds.amazonaws.com\"\nuser = \"jane\"\naws_profile = \"cp\"\nca_bundle = \"{ca}\"\n",
        connection("prod", HOST, "cp"),
        ca = ca.display()
    );
    home.config(&text);
    let token = home.run(&["pg", "prod"]).ok().token();
    home.forbid(&token);
    let project = home.path().join("project").display().to_string();
    let servers = home.path().join("servers.json").display().to_string();
    let dbeaver = home
        .path()
        .join("dbeaver/data-sources.json")
        .display()
        .to_string();
    let commands: [&[&str]; 8] = [
        &["setup", "pgpass", "prod", "--write"],
        &["setup", "pgservice", "prod", "--write"],
        &["setup", "mysql", "shop", "--write"],
        &["setup", "datagrip", "prod", "--write", &project],
        &["setup", "datagrip", "shop", "--write", &project],
        &["setup", "pgadmin", "prod", "--write", &servers],
        &["setup", "dbeaver", "prod", "--write", &dbeaver],
        &[
            "connections",
            "add",
            "dev",
            "--host",
            "dev.example.com",
            "--user",
            "jane",
        ],
    ];
    // Twice, with a change in between, so each file also has a backup to scan.
    for round in 0..2 {
        for args in commands {
            home.run(args).ok();
        }
        if round == 0 {
            home.config(text.replace("database = \"app\"", "database = \"app2\""));
        }
    }
    // exec's private my.cnf holds the token while the child runs, and is gone after.
    let exec = home.run(&[
        "exec",
        "shop",
        "--",
        "sh",
        "-c",
        "cat \"$MYSQL_HOME/my.cnf\" >/dev/null && echo \"$MYSQL_HOME\"",
    ]);
    exec.ok();
    let private = PathBuf::from(exec.stdout.trim());
    assert!(
        private.is_absolute() && !private.exists(),
        "{} left behind",
        private.display()
    );

    let session = "session-cp";
    let scanned = assert_no_secrets_in_files(home.path(), &[&token, session]);
    assert!(scanned >= 14, "only {scanned} files scanned");
    // The secrets were there to be found: .pgpass holds the token, by design.
    let pgpass = std::fs::read_to_string(home.path().join(".pgpass")).unwrap();
    assert!(pgpass.contains("X-Amz-Security-Token=session-cp"));
}
