//! The release as a user gets it (issue 20), checked on what `cargo xtask dist` and `cargo
//! xtask image` built. `.ci/run` builds them and points these tests at them:
//! RDSIAM_HELPER_DIST is the folder of archives and SHA256SUMS, RDSIAM_HELPER_IMAGE the OCI
//! archive of the image. Without them (a plain `cargo test`) each test says what to run, and
//! under CI=true fails. They check Linux artifacts with Linux tools (qemu-user, podman, tar of
//! the Linux archives), so they are built on Linux only.

use crate::common;
use crate::common::servers::{Postgres, TestCa, describe};
use crate::common::{ACCESS_KEY_ID, HOST, Home, require_program};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A release input named by an environment variable, or a clear word of how to make it.
pub(crate) fn release_input(variable: &str, how: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "{variable}={} does not exist",
            path.display()
        );
        return Some(path);
    }
    let message = format!("{variable} is not set; build it with `{how}` and set it to the result");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message} (CI=true: the release checks are not skipped)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

fn dist() -> Option<PathBuf> {
    release_input(
        "RDSIAM_HELPER_DIST",
        "cargo xtask dist --target x86_64-unknown-linux-gnu --target aarch64-unknown-linux-gnu",
    )
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn archive_name(triple: &str) -> String {
    format!("rdsiam-helper-{}-{triple}.tar.gz", version())
}

#[track_caller]
fn ok(output: Output) -> Output {
    assert!(output.status.success(), "{}", describe(&output));
    output
}

/// Unpacks a Linux archive into `into`; returns its one folder.
fn unpack(dist: &Path, triple: &str, into: &Path) -> PathBuf {
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(dist.join(archive_name(triple)))
        .arg("-C")
        .arg(into)
        .output()
        .unwrap());
    into.join(format!("rdsiam-helper-{}-{triple}", version()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    <sha2::Sha256 as sha2::Digest>::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The Linux targets `.ci/run` releases, and the qemu-user emulator of each.
const LINUX: [(&str, &str); 2] = [
    ("x86_64-unknown-linux-gnu", "x86_64"),
    ("aarch64-unknown-linux-gnu", "aarch64"),
];

#[test]
fn linux_archives_match_their_sums_and_hold_binary_documents_and_licences() {
    let Some(dist) = dist() else { return };
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let work = tempfile::tempdir().unwrap();
    for (triple, _) in LINUX {
        let name = archive_name(triple);
        let bytes = std::fs::read(dist.join(&name)).unwrap();
        let line = format!("{}  {name}", sha256_hex(&bytes));
        assert!(
            sums.lines().any(|l| l == line),
            "{line} not in SHA256SUMS:\n{sums}"
        );
        let folder = unpack(&dist, triple, work.path());
        for file in [
            "rdsiam-helper",
            "README.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
            "doc/rdsiam-helper.1",
            "complete/rdsiam-helper.bash",
            "complete/_rdsiam-helper",
            "complete/rdsiam-helper.fish",
            "complete/_rdsiam-helper.ps1",
        ] {
            assert!(folder.join(file).is_file(), "{name} lacks {file}");
        }
        let mode = std::fs::metadata(folder.join("rdsiam-helper"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{name}'s binary");
        let man = std::fs::read_to_string(folder.join("doc/rdsiam-helper.1")).unwrap();
        assert!(
            man.starts_with(".ie") || man.contains(".TH"),
            "not roff:\n{man}"
        );
        let bash = std::fs::read_to_string(folder.join("complete/rdsiam-helper.bash")).unwrap();
        assert!(bash.contains("complete -o nospace"), "{bash}");
    }
}

/// The archive's binary under qemu-user at a fixed wall-clock time. A release binary ignores
/// the test clock (RDSIAM_HELPER_TEST_NOW is for debug builds only), so the time comes from
/// libfaketime preloaded into qemu-user's dynamically linked emulator, which makes the guest's
/// clock calls on its behalf; the static binary itself is run unchanged.
fn at_time(arch: &str, binary: &Path, signed_at: &str, home: &Path) -> Command {
    let faketime = require_program("faketime", "apt-get install faketime").unwrap();
    let qemu = require_program(&format!("qemu-{arch}"), "apt-get install qemu-user").unwrap();
    let when = chrono::DateTime::parse_from_rfc3339(signed_at)
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut cmd = Command::new(faketime);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TZ", "UTC")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // -f: the clock stands at that second (without it, it would start there and run on).
        .arg("-f")
        .arg(when)
        .arg(qemu)
        .arg(binary)
        .stdin(Stdio::null());
    cmd
}

#[test]
fn each_linux_binary_under_qemu_signs_the_committed_botocore_vectors() {
    let Some(dist) = dist() else { return };
    let vectors = common::botocore_vectors();
    let work = tempfile::tempdir().unwrap();
    for (triple, arch) in LINUX {
        let binary = unpack(&dist, triple, work.path()).join("rdsiam-helper");
        let home = Home::new();
        for v in &vectors {
            let mut cmd = at_time(arch, &binary, &v.signed_at, home.path());
            cmd.env("AWS_ACCESS_KEY_ID", &v.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &v.secret_access_key)
                .args(["token", "--no-cache", "--host", &v.host, "--user", &v.user])
                .args(["--port", &v.port.to_string(), "--region", &v.region]);
            if let Some(session_token) = &v.session_token {
                cmd.env("AWS_SESSION_TOKEN", session_token);
            }
            let out = ok(cmd.output().unwrap());
            let token = String::from_utf8(out.stdout).unwrap();
            assert_eq!(token.trim_end(), v.token, "{triple}: vector {}", v.name);
        }
    }
}

#[test]
fn aarch64_binary_under_qemu_serves_its_second_token_from_the_cache() {
    let Some(dist) = dist() else { return };
    let qemu = require_program("qemu-aarch64-static", "apt-get install qemu-user-static").unwrap();
    let work = tempfile::tempdir().unwrap();
    let binary = unpack(&dist, "aarch64-unknown-linux-gnu", work.path()).join("rdsiam-helper");
    let file = String::from_utf8(ok(Command::new("file").arg(&binary).output().unwrap()).stdout)
        .unwrap_or_default();
    assert!(
        file.contains("aarch64") && file.contains("statically linked"),
        "{file}"
    );
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane_doe\"\naws_profile = \"p\"\n"
    ));
    let run = || {
        let cmd = home.cmd();
        let out = Command::new(&qemu)
            .env_clear()
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .arg(&binary)
            .args(["-v", "pg", "prod"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = ok(out);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        common::assert_no_secret("stderr", &stderr, &[]);
        (String::from_utf8(out.stdout).unwrap(), stderr)
    };
    let (first, miss) = run();
    let (second, hit) = run();
    assert!(miss.contains("cache miss"), "{miss}");
    assert!(hit.contains("cache hit"), "{hit}");
    assert_eq!(first, second);
    assert!(first.starts_with(&format!("{HOST}:5432/?Action=connect&DBUser=jane_doe&")));
    assert!(
        first.contains(&format!("X-Amz-Credential={ACCESS_KEY_ID}%2F")),
        "{first}"
    );
}

/// The host's own archive, as `uname -m` names the machine (what the install script picks).
fn host_triple() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-gnu",
        _ => "x86_64-unknown-linux-gnu",
    }
}

fn install_script(home: &Path, base: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("release/install.sh");
    Command::new("sh")
        .arg(script)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "RDSIAM_HELPER_BASE_URL",
            format!("file://{}", base.display()),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn install_script_installs_this_platforms_archive_after_checking_its_sum() {
    let Some(dist) = dist() else { return };
    require_program("curl", "apt-get install curl");
    let home = tempfile::tempdir().unwrap();
    let out = ok(install_script(home.path(), &dist));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(host_triple()), "{stderr}");
    let installed = home.path().join(".local/bin/rdsiam-helper");
    let work = tempfile::tempdir().unwrap();
    let shipped = unpack(&dist, host_triple(), work.path()).join("rdsiam-helper");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(shipped).unwrap()
    );
    let reported = ok(Command::new(&installed).arg("--version").output().unwrap());
    assert!(String::from_utf8_lossy(&reported.stdout).contains(version()));
    assert!(
        home.path()
            .join(".local/share/man/man1/rdsiam-helper.1")
            .is_file()
    );

    // The same release with one byte of the archive changed: refused, nothing installed.
    let tampered = tempfile::tempdir().unwrap();
    std::fs::copy(dist.join("SHA256SUMS"), tampered.path().join("SHA256SUMS")).unwrap();
    let mut bytes = std::fs::read(dist.join(archive_name(host_triple()))).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(tampered.path().join(archive_name(host_triple())), bytes).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = install_script(home.path(), tampered.path());
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match SHA256SUMS"),
        "{}",
        describe(&out)
    );
    assert!(!home.path().join(".local/bin/rdsiam-helper").exists());
}

/// What an OCI image's config says to run, and the root its layers make.
struct Image {
    root: PathBuf,
    user: String,
    env: Vec<(String, String)>,
    entrypoint: Vec<String>,
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Unpacks an OCI archive (`buildah push ... oci-archive:`) and its layers, in order.
fn unpack_image(archive: &Path, into: &Path) -> Image {
    let layout = into.join("layout");
    let root = into.join("root");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let untar = |file: &Path, dir: &Path| {
        ok(Command::new("tar")
            .arg("-xf")
            .arg(file)
            .arg("-C")
            .arg(dir)
            .output()
            .unwrap());
    };
    untar(archive, &layout);
    let index = json(&layout.join("index.json"));
    let manifest = json(&blob(
        &layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ));
    for layer in manifest["layers"].as_array().unwrap() {
        untar(&blob(&layout, layer["digest"].as_str().unwrap()), &root);
    }
    let config = json(&blob(
        &layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    let config = &config["config"];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    Image {
        root,
        user: config["User"].as_str().unwrap_or_default().to_string(),
        env: strings(&config["Env"])
            .iter()
            .map(|e| e.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        entrypoint: strings(&config["Entrypoint"]),
    }
}

/// `podman run` of the image archive with `args`: the host's network (the private server is
/// on loopback), the config folder mounted read-only and a cache folder of the image's user's
/// (a Kubernetes ConfigMap and emptyDir), and the credentials as `-e`. podman runs here with
/// .ci/containers.conf (CONTAINERS_CONF): see that file for why.
fn podman_run(archive: &Path, name: &str, mounts: &[(&Path, &str)], args: &[&str]) -> Command {
    let podman = require_program("podman", "apt-get install podman runc").unwrap();
    let mut cmd = Command::new(podman);
    cmd.args(["run", "--rm", "--network", "host", "--name", name])
        .args(["-e", &format!("AWS_ACCESS_KEY_ID={ACCESS_KEY_ID}")])
        .args([
            "-e",
            &format!("AWS_SECRET_ACCESS_KEY={}", common::SECRET_ACCESS_KEY),
        ])
        .args(["-e", "AWS_EC2_METADATA_DISABLED=true"]);
    for (host, inside) in mounts {
        cmd.arg("-v").arg(format!("{}:{inside}", host.display()));
    }
    cmd.arg(format!("oci-archive:{}", archive.display()))
        .args(args)
        .stdin(Stdio::null());
    cmd
}

#[test]
fn image_runs_its_proxy_as_its_user_and_serves_psql_against_a_private_postgres() {
    let Some(archive) = release_input(
        "RDSIAM_HELPER_IMAGE",
        "cargo xtask image --target x86_64-unknown-linux-gnu",
    ) else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // The cache folder is handed to the image's user (uid 65532), as an emptyDir would be.
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI runs as root"
        );
        eprintln!("SKIPPED: the image test gives a folder to uid 65532, which needs root");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let image = unpack_image(&archive, work.path());
    assert_eq!(image.user, "65532:65532");
    assert_eq!(image.entrypoint, ["/usr/local/bin/rdsiam-helper"]);
    assert!(
        image
            .env
            .iter()
            .any(|(k, v)| k == "RDSIAM_HELPER_CONFIG" && v == "/etc/rdsiam-helper/config.toml")
    );
    let tmp = std::fs::metadata(image.root.join("tmp"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(tmp & 0o7777, 0o1777, "/tmp in the image");
    assert!(
        image
            .root
            .join("etc/ssl/certs/ca-certificates.crt")
            .is_file()
    );

    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let local_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::copy(ca.ca_pem(), config.join("ca.pem")).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[connections.db]\nengine = \"postgres\"\nhost = \"localhost\"\nport = {}\n\
             user = \"jane\"\nregion = \"us-east-1\"\nca_bundle = \"/etc/rdsiam-helper/ca.pem\"\n\
             local_port = {local_port}\n",
            pg.port()
        ),
    )
    .unwrap();
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&cache, Some(65532), Some(65532)).unwrap();
    let mounts: [(&Path, &str); 2] = [
        (&config, "/etc/rdsiam-helper:ro"),
        (&cache, "/tmp/rdsiam-helper/cache"),
    ];
    let name = format!("rdsiam-helper-test-{local_port}");

    // The token the proxy will present (from the cache they share) is the server's password.
    let token = ok(
        podman_run(&archive, &format!("{name}-pg"), &mounts, &["pg", "db"])
            .output()
            .unwrap(),
    )
    .stdout;
    let token = String::from_utf8(token).unwrap().trim_end().to_string();
    pg.create_role("jane", &token);

    let log = work.path().join("proxy.log");
    // psql runs here as root, not as the image's user: the deliberate sharing case, so the
    // owner check is turned off as a container serving its pod's neighbours would.
    let mut proxy = podman_run(
        &archive,
        &name,
        &mounts,
        &["proxy", "db", "--allow-any-local-user"],
    )
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_log().contains("listening on") {
        if let Some(status) = proxy.try_wait().unwrap() {
            panic!("the image's proxy exited with {status}:\n{}", read_log());
        }
        assert!(
            Instant::now() < deadline,
            "the proxy did not start:\n{}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let psql = Command::new(pg.psql())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .args(["-X", "-A", "-t", "-w", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={local_port} user=jane dbname=postgres sslmode=disable connect_timeout=10"
        ))
        .args(["-c", "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let podman = require_program("podman", "apt-get install podman runc").unwrap();
    let stop = Command::new(podman)
        .args(["stop", "--time", "10", &name])
        .output()
        .unwrap();
    let _ = proxy.wait();
    let psql = ok(psql);
    assert_eq!(
        String::from_utf8_lossy(&psql.stdout).trim(),
        "jane|t",
        "{}",
        read_log()
    );
    ok(stop);
    common::assert_no_secret("the image's proxy log", &read_log(), &[&token]);
    // The image's user wrote the cache.
    use std::os::unix::fs::MetadataExt;
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert!(!files.is_empty());
    assert!(files.iter().all(|f| f.metadata().unwrap().uid() == 65532));
}

/// Installed in `fpath` (as the packages and Homebrew do), the archive's zsh file is
/// autoloaded on the first Tab: it must complete then, not only register. zsh's widgets need
/// a terminal, so `_describe` and `compdef` print what zsh would be given.
#[test]
fn archive_zsh_completion_completes_on_the_first_tab_from_fpath() {
    let Some(dist) = dist() else { return };
    let Some(zsh) = require_program("zsh", "apt-get install zsh") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let folder = unpack(&dist, host_triple(), work.path());
    let home = Home::new();
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"u\"\n"
    ));
    let program = "fpath=(\"$1\" $fpath); \
        _describe() { print -l -- \"${(@P)${@[-1]}}\" }; compdef() { print compdef \"$@\" }; \
        autoload -Uz _rdsiam-helper; words=(rdsiam-helper pg ''); CURRENT=3; _rdsiam-helper";
    let path = format!(
        "{}:{}",
        folder.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = ok(Command::new(zsh)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", path)
        .args(["-f", "-c", program, "zsh"])
        .arg(folder.join("complete"))
        .stdin(Stdio::null())
        .output()
        .unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let offered: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert!(
        stdout.lines().any(|l| l.starts_with("compdef ")),
        "{stdout}"
    );
    assert!(
        offered.contains(&"prod"),
        "the first Tab offered no connection:\n{stdout}"
    );
}
