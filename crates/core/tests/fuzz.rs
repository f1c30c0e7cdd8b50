//! Property-based fuzzing of the parsers that read user input: the app spec file
//! (`slipway.toml`), the validated newtypes behind the API's fields, and config vars.
//!
//! Every property runs a bounded number of cases (see [`config`]) so the whole file takes
//! about a second in a debug build; `PROPTEST_CASES=100000 cargo test -p slipway-core
//! --test fuzz` runs a long campaign without editing anything.
//!
//! Properties that found a real bug are `#[ignore]`d with the minimal failing input in
//! the reason; `cargo test -p slipway-core --test fuzz -- --ignored` shows them failing.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use slipway_core::envvars::{MAX_VALUE_BYTES, check_name, check_value};
use slipway_core::spec::{
    self, AppSpec, HealthCheck, MAX_REPLICAS, MAX_TEST_TIMEOUT, MIN_MEMORY, ProcessSpec,
    ServiceSpec, SpecError, StatusRange, TestSpec,
};
use slipway_core::validate::{
    AppName, DockerfilePath, GitRef, RepoUrl, forbidden_host, host_name, redact, url_host,
    url_secret,
};

/// The configuration of every property here: `cases` cases, chosen per group so the
/// whole file runs in about a second (2 s on one thread) in a debug build on a 2-core
/// machine, well under the 5 s CI budget.
///
/// `PROPTEST_CASES` (and the other `PROPTEST_*` variables) still win: the `proptest!`
/// macro passes this value through `proptest::test_runner::contextualize_config`, which
/// applies the environment on top of it. Without that second pass an explicit `cases`
/// would hide the variable, because `ProptestConfig::default()` (and so `with_cases`)
/// reads the environment first and `cases` then overwrites it. Checked with proptest
/// 1.12: `PROPTEST_CASES=30000` takes the run from about 1 s to about 45 s.
///
/// `failure_persistence: None`: a failure is reported in the test's panic message as
/// "minimal failing input: ..." together with the seed, and nothing is written. The
/// default would create `crates/core/proptest-regressions/fuzz.txt` in the source tree,
/// which a CI checkout discards (so it would not replay anything there) and a developer
/// could commit by accident. To keep a failure as a regression test, copy the printed
/// input into an ordinary `#[test]`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Text generators
// ---------------------------------------------------------------------------------------

/// One character, weighted towards the ones parsers trip on: ASCII punctuation, C0 and
/// C1 control characters, Unicode whitespace, multi-byte characters.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        2 => prop::sample::select(vec![
            '/', '.', '-', ':', '@', '[', ']', '%', '*', '\\', '"', '\'', '#', '?', '=', '{',
            '}', ',', '_', '~', '^',
        ]),
        1 => proptest::char::range('\0', '\x1f'),
        1 => prop::sample::select(vec![
            '\x7f', '\u{80}', '\u{85}', '\u{9f}', '\u{a0}', '\u{2028}', '\u{3000}', '\u{feff}',
        ]),
        1 => prop::sample::select(vec!['é', 'ä', 'ß', 'İ', 'K', 'ſ', '٣', '𝟘', '🚀', '．']),
        1 => any::<char>(),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(String::from_iter)
}

/// `s` with whitespace or a control character inserted somewhere, or padding around it.
fn noisy(s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let noise = prop::sample::select(vec![
        " ", "\t", "\n", "\r\n", "\0", "\x1b", "\u{85}", "\u{a0}", "\u{2028}", "  ",
    ]);
    (s, noise, any::<Index>(), 0..3u8).prop_map(|(s, noise, at, how)| match how {
        0 => format!("{noise}{s}{noise}"),
        _ => {
            let cut = char_boundary(&s, at);
            format!("{}{noise}{}", &s[..cut], &s[cut..])
        }
    })
}

/// A byte offset on a character boundary of `s`, anywhere from 0 to `s.len()`.
fn char_boundary(s: &str, at: Index) -> usize {
    let boundaries: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    *at.get(&boundaries)
}

// ---------------------------------------------------------------------------------------
// validate.rs: AppName
// ---------------------------------------------------------------------------------------

/// `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`, written out by hand.
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&b.len())
        && inner(b[0])
        && inner(b[b.len() - 1])
        && b.iter().all(|&c| inner(c) || c == b'-')
}

fn app_name_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
        2 => "[a-z0-9-]{0,66}",
        1 => "[a-zA-Z0-9_.-]{0,70}",
        2 => text(80),
        1 => (60..70usize, "[a-z0-9]").prop_map(|(n, c)| c.repeat(n)),
    ]
}

// ---------------------------------------------------------------------------------------
// validate.rs: RepoUrl, url_host, url_secret, redact, forbidden_host
// ---------------------------------------------------------------------------------------

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "github.com", "git.example.com", "localhost", "LocalHost.", "a.localhost",
            "metadata", "METADATA.google.internal.", "instance-data",
            "instance-data.ec2.internal", "127.0.0.1", "127.1", "0.0.0.0", "0",
            "169.254.169.254", "169.254.169.254.", "[::1]", "[::]", "[fe80::1]", "[FE80::1]",
            "[fd00:ec2::254]", "[::ffff:169.254.169.254]", "[::ffff:127.0.0.1]", "[::1]:22",
            "10.0.0.5", "[2001:db8::1]", "", "[]", "[::1", "[fe80::1%25eth0]", ":22", "@",
        ])
        .prop_map(str::to_owned),
        2 => any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        1 => any::<[u16; 8]>().prop_map(|s| format!("[{}]", Ipv6Addr::from(s))),
        1 => any::<[u8; 4]>().prop_map(|o| format!("[{}]", Ipv4Addr::from(o).to_ipv6_mapped())),
        3 => "[a-zA-Z0-9.-]{1,20}",
        1 => text(12),
    ]
}

fn userinfo() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        2 => "[a-zA-Z0-9._~-]{0,10}@",
        3 => "[a-zA-Z0-9._~-]{0,8}:[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,12}@",
        1 => (text(8), text(8)).prop_map(|(u, p)| format!("{u}:{p}@")),
    ]
}

fn remote_url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "https", "http", "HTTPS", "Http", "ssh", "git+ssh", "SSH", "file", "FILE", "ftp", "git", "",
    ]);
    let port = prop_oneof![
        3 => Just(String::new()),
        1 => (0..70000u32).prop_map(|p| format!(":{p}")),
        1 => ":[a-z]{0,3}",
    ];
    let path = "(/[a-zA-Z0-9._~%@:-]{0,10}){0,4}(\\?[a-z=&]{0,6})?(#[a-z]{0,4})?";
    (scheme, userinfo(), host(), port, path)
        .prop_map(|(s, u, h, p, path)| format!("{s}://{u}{h}{p}{path}"))
}

fn scp_url() -> impl Strategy<Value = String> {
    (
        "[a-z]{0,5}",
        prop::bool::weighted(0.9),
        host(),
        "[a-zA-Z0-9/._:-]{0,20}",
    )
        .prop_map(|(user, at, host, path)| {
            let at = if at { "@" } else { "" };
            format!("{user}{at}{host}:{path}")
        })
}

fn local_url() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec!["/", "file://", "FILE:///", "./", "../", "-", ""]);
    (prefix, "[a-zA-Z0-9/._:@-]{0,20}").prop_map(|(p, rest)| format!("{p}{rest}"))
}

fn repo_url_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => remote_url(),
        3 => scp_url(),
        2 => local_url(),
        2 => noisy(prop_oneof![remote_url(), scp_url()]),
        2 => text(60),
        // Around the 2048-byte limit, with and without surrounding whitespace.
        1 => (2000..2100usize, prop::bool::ANY).prop_map(|(n, pad)| {
            let url = format!("https://github.com/{}", "a".repeat(n - 19));
            if pad { format!("  {url}\n") } else { url }
        }),
    ]
}

/// Addresses git must never be pointed at, spelled as a URL host would spell them, and
/// whether `allow_local` lifts the ban (it does for loopback and "any" only).
fn forbidden_address() -> impl Strategy<Value = (String, bool)> {
    let v4 = |first: u8, second: Option<u8>| {
        (any::<[u8; 3]>(), prop::bool::ANY).prop_map(move |(rest, dot)| {
            let ip = Ipv4Addr::new(first, second.unwrap_or(rest[0]), rest[1], rest[2]);
            format!("{ip}{}", if dot { "." } else { "" })
        })
    };
    let v6 = |mask: u16, prefix: u16| {
        (any::<[u16; 8]>(), prop::bool::ANY).prop_map(move |(mut s, upper)| {
            s[0] = prefix | (s[0] & !mask);
            let shown = format!("[{}]", Ipv6Addr::from(s));
            if upper {
                shown.to_ascii_uppercase()
            } else {
                shown
            }
        })
    };
    prop_oneof![
        v4(169, Some(254)).prop_map(|h| (h, false)),
        v4(127, None).prop_map(|h| (h, true)),
        v6(0xffc0, 0xfe80).prop_map(|h| (h, false)),
        v6(0xfe00, 0xfc00).prop_map(|h| (h, false)),
        any::<[u8; 2]>().prop_map(|o| {
            let ip = Ipv4Addr::new(169, 254, o[0], o[1]).to_ipv6_mapped();
            (format!("[{ip}]"), false)
        }),
        any::<[u8; 3]>().prop_map(|o| {
            let ip = Ipv4Addr::new(127, o[0], o[1], o[2]).to_ipv6_mapped();
            (format!("[{ip}]"), true)
        }),
        prop::sample::select(vec![
            ("[::1]", true),
            ("0.0.0.0", true),
            ("[::]", true),
            ("localhost", true),
            ("LOCALHOST.", true),
            ("app.localhost", true),
            ("metadata", false),
            ("Metadata.Google.Internal.", false),
            ("instance-data", false),
            ("instance-data.ec2.internal", false),
        ])
        .prop_map(|(h, local)| (h.to_owned(), local)),
    ]
}

/// Text that contains a URL's secret in awkward places: next to itself, next to `*`,
/// overlapping.
fn text_around(url: String) -> impl Strategy<Value = (String, String)> {
    let secret = url_secret(&url).unwrap_or("").to_owned();
    let piece = prop_oneof![
        Just(url.clone()),
        Just(secret.clone()),
        Just(secret.chars().take(2).collect::<String>()),
        Just(secret.chars().rev().take(2).collect::<String>()),
        "[*a-z:@]{0,3}",
        text(6),
    ];
    prop::collection::vec(piece, 0..6).prop_map(move |p| (url.clone(), p.concat()))
}

/// A URL with a secret in it (or, now and then, any repository URL), and text around it.
/// `stars`: whether the secret may contain `*`, the character `redact` masks with.
fn url_with_secret(stars: bool) -> impl Strategy<Value = (String, String)> {
    let secret = if stars {
        prop_oneof![
            "[a-zA-Z0-9*]{1,4}",
            "[a-z*:]{1,3}",
            "[*]{1,4}",
            text(6),
            "ghp_[a-zA-Z0-9]{4,12}",
        ]
        .boxed()
    } else {
        prop_oneof![
            "[a-zA-Z0-9]{1,4}",
            "[a-z:]{1,3}",
            text(6).prop_map(|s| s.replace('*', "+")),
            "ghp_[a-zA-Z0-9]{4,12}",
        ]
        .boxed()
    };
    let url = (
        prop::sample::select(vec!["https", "http", "ssh", "HTTPS"]),
        prop::option::of("[a-z]{1,4}"),
        secret,
        host(),
    )
        .prop_map(|(scheme, user, secret, host)| match user {
            Some(user) => format!("{scheme}://{user}:{secret}@{host}/a/b.git"),
            None => format!("{scheme}://{secret}@{host}/a/b.git"),
        });
    prop_oneof![4 => url, 1 => repo_url_candidate()].prop_flat_map(text_around)
}

// ---------------------------------------------------------------------------------------
// validate.rs: GitRef, DockerfilePath
// ---------------------------------------------------------------------------------------

fn git_ref_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_-][a-zA-Z0-9/._-]{0,30}",
        2 => "[a-z0-9./@{}~^:?*\\[\\\\ -]{0,20}",
        2 => text(40),
        1 => noisy("[a-z0-9/._-]{1,20}".prop_map(String::from)),
        1 => (250..260usize).prop_map(|n| "a".repeat(n)),
    ]
}

fn dockerfile_candidate() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        3 => "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,8}",
        2 => prop::sample::select(vec![".", "..", "", "...", " ..", ".. ", "..\\..", "．．"])
            .prop_map(str::to_owned),
        1 => text(6),
    ];
    prop_oneof![
        5 => (
            prop::sample::select(vec!["", "./", "/", "././", "../", "\\"]),
            prop::collection::vec(segment, 1..5),
        )
            .prop_map(|(prefix, segments)| format!("{prefix}{}", segments.join("/"))),
        2 => text(40),
        1 => (1015..1035usize, prop::bool::ANY)
            .prop_map(|(n, dot)| format!("{}{}", if dot { "./" } else { "" }, "a".repeat(n))),
    ]
}

// ---------------------------------------------------------------------------------------
// envvars.rs
// ---------------------------------------------------------------------------------------

/// POSIX's portable names: `[A-Za-z_][A-Za-z0-9_]*`, written out by hand.
fn is_posix_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn var_name_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z_][A-Za-z0-9_]{0,20}",
        1 => "SLIPWAY_[A-Z_]{0,5}",
        1 => prop::sample::select(vec!["PORT", "port", "PORT_", "SLIPWAY", "SLIPWAY_", "slipway_x"])
            .prop_map(str::to_owned),
        2 => "[A-Za-z0-9_ =.-]{0,10}",
        1 => "[A-Za-zÀ-ÿ0-9_٣]{1,10}",
        2 => text(30),
        1 => (250..260usize).prop_map(|n| format!("A{}", "_".repeat(n - 1))),
    ]
}

fn var_value_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text(64),
        // Around the size limit, which counts bytes (é is two), with an optional NUL.
        1 => (
            MAX_VALUE_BYTES - 8..MAX_VALUE_BYTES + 8,
            prop::bool::ANY,
            prop::option::of(any::<Index>()),
        )
            .prop_map(|(n, wide, nul)| {
                let mut v = if wide { "é".repeat(n / 2) } else { "x".repeat(n) };
                if let Some(at) = nul {
                    let at = char_boundary(&v, at);
                    v.insert(at, '\0');
                }
                v
            }),
    ]
}

// ---------------------------------------------------------------------------------------
// spec.rs: a model of slipway.toml
// ---------------------------------------------------------------------------------------

/// How a table is written: `[processes.web]` and lines under it, dotted keys
/// (`processes.web.replicas = 2`), or an inline table (`processes.web = { replicas = 2 }`).
#[derive(Clone, Copy, Debug)]
enum Form {
    Header,
    Dotted,
    Inline,
}

#[derive(Clone, Debug)]
struct Table {
    path: String,
    form: Form,
    /// Keys and values exactly as written.
    entries: Vec<(String, String)>,
}

/// A spec file before it is written out: root entries, then the dotted and inline tables,
/// then the `[header]` tables (TOML reads every line after a header as part of it).
#[derive(Clone, Debug, Default)]
struct Doc {
    root: Vec<(String, String)>,
    tables: Vec<Table>,
}

/// Where an entry was written: its full key path and its line.
#[derive(Debug)]
struct Written {
    key: String,
    line: usize,
}

impl Doc {
    /// The file, and for each entry (root first, then tables in order) where it is.
    fn render(&self) -> (String, Vec<Written>) {
        let mut out = String::new();
        let line = |out: &str| out.matches('\n').count() + 1;
        let mut root_lines = Vec::new();
        for (k, v) in &self.root {
            root_lines.push(line(&out));
            out += &format!("{k} = {v}\n");
        }
        let mut table_lines = vec![Vec::new(); self.tables.len()];
        for (table, lines) in self.tables.iter().zip(&mut table_lines) {
            match table.form {
                Form::Header => {}
                Form::Dotted if !table.entries.is_empty() => {
                    for (k, v) in &table.entries {
                        lines.push(line(&out));
                        out += &format!("{}.{k} = {v}\n", table.path);
                    }
                }
                Form::Dotted | Form::Inline => {
                    *lines = vec![line(&out); table.entries.len()];
                    let body: Vec<String> = table
                        .entries
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect();
                    out += &format!("{} = {{ {} }}\n", table.path, body.join(", "));
                }
            }
        }
        // Headers last: TOML reads every line after a header as part of its table.
        for (table, lines) in self.tables.iter().zip(&mut table_lines) {
            if let Form::Header = table.form {
                out += &format!("\n[{}]\n", table.path);
                for (k, v) in &table.entries {
                    lines.push(line(&out));
                    out += &format!("{k} = {v}\n");
                }
            }
        }
        let root = self
            .root
            .iter()
            .zip(root_lines)
            .map(|((k, _), line)| Written {
                key: k.clone(),
                line,
            });
        let tables = self
            .tables
            .iter()
            .zip(table_lines)
            .flat_map(|(table, lines)| {
                table
                    .entries
                    .iter()
                    .zip(lines)
                    .map(|((k, _), line)| Written {
                        key: format!("{}.{k}", table.path),
                        line,
                    })
            });
        (out, root.chain(tables).collect())
    }

    /// Every entry's value, in the order `render` reports them.
    fn values_mut(&mut self) -> Vec<&mut String> {
        let root = self.root.iter_mut().map(|(_, v)| v);
        let tables = self
            .tables
            .iter_mut()
            .flat_map(|t| t.entries.iter_mut().map(|(_, v)| v));
        root.chain(tables).collect()
    }
}

/// A TOML basic string holding `s` exactly.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if c.is_ascii_control() && c != '\t' => out += &format!("\\u{:04X}", c as u32),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn form() -> impl Strategy<Value = Form> {
    prop::sample::select(vec![Form::Header, Form::Dotted, Form::Inline])
}

/// Which values the valid-spec generator may write. `Flavor::STORABLE` keeps to what the
/// stored JSON can hold exactly; the others reach for what the parser accepts beyond.
#[derive(Clone, Copy, Debug)]
struct Flavor {
    /// Durations written in `us` and `ns` (instead of `ms`, `s`, `m`, `h` or seconds).
    sub_millisecond: bool,
    /// Any `f64` for `cpus`, not only ones with a few decimal digits.
    full_precision_cpus: bool,
}

impl Flavor {
    const STORABLE: Self = Self {
        sub_millisecond: false,
        full_precision_cpus: false,
    };
}

/// A duration as written, and what it means.
fn duration(nonzero: bool, flavor: Flavor) -> BoxedStrategy<(String, Duration)> {
    let min = u64::from(nonzero);
    let mut units = vec![
        ("ms", Duration::from_millis(1)),
        ("s", Duration::from_secs(1)),
        ("m", Duration::from_secs(60)),
        ("h", Duration::from_secs(3600)),
    ];
    if flavor.sub_millisecond {
        units = vec![
            ("us", Duration::from_micros(1)),
            ("ns", Duration::from_nanos(1)),
        ];
    }
    let day = Duration::from_secs(24 * 3600);
    let with_unit = prop::sample::select(units).prop_flat_map(move |(unit, size)| {
        let max = u64::try_from(day.as_nanos() / size.as_nanos()).unwrap_or(u64::MAX);
        (min..=max, prop::bool::weighted(0.2)).prop_map(move |(n, pad)| {
            let pad = if pad { " " } else { "" };
            let nanos = u64::try_from(size.as_nanos()).unwrap_or(u64::MAX) * n;
            (
                toml_string(&format!("{pad}{n}{unit}{pad}")),
                Duration::from_nanos(nanos),
            )
        })
    });
    let secs = (min..=24 * 3600u64).prop_map(|s| (s.to_string(), Duration::from_secs(s)));
    if flavor.sub_millisecond {
        with_unit.boxed()
    } else {
        prop_oneof![3 => with_unit, 1 => secs].boxed()
    }
}

fn memory() -> impl Strategy<Value = (String, u64)> {
    let units = prop::sample::select(vec![
        ("", 1u64),
        ("b", 1),
        ("k", 1 << 10),
        ("KiB", 1 << 10),
        ("m", 1 << 20),
        ("MB", 1 << 20),
        ("mib", 1 << 20),
        ("g", 1 << 30),
        ("G", 1 << 30),
        ("GiB", 1 << 30),
    ]);
    let string = (units, 0..1_000_000u64, prop::bool::weighted(0.2)).prop_map(
        |((unit, factor), extra, space)| {
            let n = MIN_MEMORY.div_ceil(factor) + extra;
            let space = if space && !unit.is_empty() { " " } else { "" };
            (toml_string(&format!("{n}{space}{unit}")), n * factor)
        },
    );
    let bytes = (MIN_MEMORY..=1 << 40).prop_map(|b| (b.to_string(), b));
    prop_oneof![string, bytes]
}

fn cpus(flavor: Flavor) -> BoxedStrategy<(String, f64)> {
    let whole = (1..=64i64).prop_map(|c| (c.to_string(), c as f64));
    if flavor.full_precision_cpus {
        // Every f64 from 0.01 (the least a limit may be) up to 64, written the shortest
        // way that reads back exactly.
        let any = (0.01f64.to_bits()..=64f64.to_bits()).prop_map(|bits| {
            let f = f64::from_bits(bits);
            (format!("{f:?}"), f)
        });
        prop_oneof![1 => whole, 4 => any].boxed()
    } else {
        let decimal = (10..=64_000u32).prop_map(|m| {
            let f = f64::from(m) / 1000.0;
            (format!("{f:?}"), f)
        });
        prop_oneof![whole, decimal].boxed()
    }
}

fn status() -> impl Strategy<Value = (String, StatusRange)> {
    let one = (100..=599u16, prop::bool::ANY).prop_map(|(c, quoted)| {
        let written = if quoted {
            toml_string(&c.to_string())
        } else {
            c.to_string()
        };
        (written, StatusRange { min: c, max: c })
    });
    let range = (100..=599u16, 100..=599u16, prop::bool::weighted(0.2)).prop_map(|(a, b, pad)| {
        let (min, max) = (a.min(b), a.max(b));
        let pad = if pad { " " } else { "" };
        (
            toml_string(&format!("{pad}{min}{pad}-{pad}{max}{pad}")),
            StatusRange { min, max },
        )
    });
    prop_oneof![one, range]
}

/// A command as written (a string a shell would split, or an array), and its words.
fn command() -> impl Strategy<Value = (String, Vec<String>)> {
    let plain = prop::collection::vec("[a-zA-Z0-9/._=:,+%@-]{1,8}", 1..5)
        .prop_map(|words| (toml_string(&words.join("  ")), words));
    let quoted = prop::collection::vec("[a-zA-Z0-9 \"$*;|&<>()-]{0,8}", 1..4).prop_map(|words| {
        let shell: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        (toml_string(&shell.join(" ")), words)
    });
    let array = prop::collection::vec(text(10), 1..4).prop_map(|words| {
        let items: Vec<String> = words.iter().map(|w| toml_string(w)).collect();
        (toml_array(&items), words)
    });
    prop_oneof![plain, quoted, array]
}

fn spec_name() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just("web".to_owned()), 3 => "[a-z][a-z0-9-]{0,29}"]
}

fn env_map() -> impl Strategy<Value = (String, BTreeMap<String, String>)> {
    prop::collection::btree_map("[A-Za-z_][A-Za-z0-9_]{0,8}", text(12), 0..4).prop_map(|vars| {
        let body: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml_string(v)))
            .collect();
        (format!("{{ {} }}", body.join(", ")), vars)
    })
}

type Entries = Vec<(String, String)>;

/// Optional entries: each `Some` is written.
fn entries(items: Vec<(&str, Option<String>)>) -> Entries {
    items
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
}

fn healthcheck(flavor: Flavor) -> impl Strategy<Value = (Entries, HealthCheck)> {
    let path = prop::collection::vec(
        tricky_char().prop_filter("no control or space", |c| !c.is_control() && *c != ' '),
        0..15,
    )
    .prop_map(|p| format!("/{}", String::from_iter(p)));
    (
        prop::option::of(path),
        prop::option::of(duration(true, flavor)),
        prop::option::of(duration(true, flavor)),
        prop::option::of(1..=100u32),
        prop::option::of(duration(false, flavor)),
        prop::option::of(status()),
    )
        .prop_map(|(path, timeout, interval, retries, start, status)| {
            let d = HealthCheck::default();
            let check = HealthCheck {
                path: path.clone().unwrap_or(d.path),
                timeout: timeout.as_ref().map(|t| t.1),
                interval: interval.as_ref().map_or(d.interval, |i| i.1),
                retries: retries.unwrap_or(d.retries),
                start_period: start.as_ref().map_or(d.start_period, |s| s.1),
                status: status.as_ref().map_or(d.status, |s| s.1),
            };
            let written = entries(vec![
                ("path", path.map(|p| toml_string(&p))),
                ("timeout", timeout.map(|t| t.0)),
                ("interval", interval.map(|i| i.0)),
                ("retries", retries.map(|r| r.to_string())),
                ("start_period", start.map(|s| s.0)),
                ("status", status.map(|s| s.0)),
            ]);
            (written, check)
        })
}

/// A value as written in the file, and what it means.
type Shown<T> = (String, T);

/// A declared process: its command and replicas, each written or not.
type Declared = (Option<Shown<Vec<String>>>, Option<u32>);

/// One process: whether `[processes.NAME]` is written and what it holds, and whether
/// `[resources.NAME]` is.
#[derive(Clone, Debug)]
struct ProcessGen {
    declared: Option<Declared>,
    memory: Option<Shown<u64>>,
    cpus: Option<Shown<f64>>,
    resources_form: Option<Form>,
    form: Form,
}

fn process(flavor: Flavor) -> impl Strategy<Value = ProcessGen> {
    (
        prop::option::weighted(
            0.8,
            (
                prop::option::of(command()),
                prop::option::of(0..=MAX_REPLICAS),
            ),
        ),
        prop::option::of(memory()),
        prop::option::of(cpus(flavor)),
        prop::option::weighted(0.5, form()),
        form(),
    )
        .prop_map(
            |(declared, memory, cpus, resources_form, form)| ProcessGen {
                declared,
                memory,
                cpus,
                resources_form,
                form,
            },
        )
}

/// A `[test] timeout` the spec accepts: longer ones are written as the longest allowed.
fn test_timeout(flavor: Flavor) -> BoxedStrategy<(String, Duration)> {
    duration(true, flavor)
        .prop_map(|(written, d)| {
            if d > MAX_TEST_TIMEOUT {
                (toml_string("3h"), MAX_TEST_TIMEOUT)
            } else {
                (written, d)
            }
        })
        .boxed()
}

/// A spec every rule accepts, as a `Doc`, with the `AppSpec` it must parse to.
fn valid_spec(flavor: Flavor) -> impl Strategy<Value = (Doc, AppSpec)> {
    let root = (
        prop::option::of(1..=65535u16),
        prop::option::of((
            prop::bool::ANY,
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}){0,3}",
        )),
        prop::option::of((env_map(), form())),
        prop::option::of((healthcheck(flavor), form())),
    );
    let rest = (
        prop::collection::btree_map(spec_name(), process(flavor), 0..4),
        prop::option::of((command(), prop::option::of(test_timeout(flavor)), form())),
        prop::collection::btree_map(
            spec_name(),
            (
                text(16).prop_filter("an image is not blank", |i| !i.trim().is_empty()),
                prop::option::of(env_map()),
                prop::option::of(1..=65535u16),
                form(),
            ),
            0..3,
        ),
    );
    (root, rest)
        .prop_map(
            move |((port, dockerfile, build, health), (processes, test, services))| {
                let mut doc = Doc::default();
                let mut spec = AppSpec::default();
                if let Some(port) = port {
                    doc.root.push(("port".into(), port.to_string()));
                    spec.port = Some(port);
                }
                if let Some((dot, path)) = dockerfile {
                    let written = if dot {
                        format!("./{path}")
                    } else {
                        path.clone()
                    };
                    doc.root.push(("dockerfile".into(), toml_string(&written)));
                    spec.dockerfile = Some(path);
                }
                if let Some(((written, args), form)) = build {
                    doc.tables.push(Table {
                        path: "build".into(),
                        form,
                        entries: vec![("args".into(), written)],
                    });
                    spec.build_args = args;
                }
                if let Some(((entries, check), form)) = health {
                    doc.tables.push(Table {
                        path: "healthcheck".into(),
                        form,
                        entries,
                    });
                    spec.healthcheck = check;
                }
                for (name, p) in processes {
                    let mut process = ProcessSpec::default();
                    if let Some((command, replicas)) = p.declared.clone() {
                        process.command = command.as_ref().map(|c| c.1.clone());
                        process.replicas = replicas.unwrap_or(process.replicas);
                        doc.tables.push(Table {
                            path: format!("processes.{name}"),
                            form: p.form,
                            entries: entries(vec![
                                ("command", command.map(|c| c.0)),
                                ("replicas", replicas.map(|r| r.to_string())),
                            ]),
                        });
                    }
                    // Resources only for processes that exist: declared ones and web.
                    if let Some(form) = p.resources_form
                        && (p.declared.is_some() || name == "web")
                    {
                        process.memory = p.memory.as_ref().map(|m| m.1);
                        process.cpus = p.cpus.as_ref().map(|c| c.1);
                        doc.tables.push(Table {
                            path: format!("resources.{name}"),
                            form,
                            entries: entries(vec![
                                ("memory", p.memory.map(|m| m.0)),
                                ("cpus", p.cpus.map(|c| c.0)),
                            ]),
                        });
                    }
                    if p.declared.is_some() || name == "web" {
                        spec.processes.insert(name, process);
                    }
                }
                if let Some(((written, words), timeout, form)) = test {
                    doc.tables.push(Table {
                        path: "test".into(),
                        form,
                        entries: entries(vec![
                            ("command", Some(written)),
                            ("timeout", timeout.as_ref().map(|t| t.0.clone())),
                        ]),
                    });
                    spec.test = Some(TestSpec {
                        command: words,
                        timeout: timeout.map_or(Duration::from_secs(600), |t| t.1),
                        target: None,
                        report: None,
                    });
                }
                for (name, (image, env, port, form)) in services {
                    doc.tables.push(Table {
                        path: format!("services.{name}"),
                        form,
                        entries: entries(vec![
                            ("image", Some(toml_string(&image))),
                            ("env", env.as_ref().map(|e| e.0.clone())),
                            ("port", port.map(|p| p.to_string())),
                        ]),
                    });
                    spec.services.insert(
                        name,
                        ServiceSpec {
                            image,
                            env: env.map(|e| e.1).unwrap_or_default(),
                            port,
                        },
                    );
                }
                (doc, spec)
            },
        )
        .prop_flat_map(|(doc, spec)| {
            // Tables in any order; each keeps its lines together.
            let Doc { root, tables } = doc;
            (Just(tables).prop_shuffle(), Just(root), Just(spec))
                .prop_map(|(tables, root, spec)| (Doc { root, tables }, spec))
        })
}

/// Any TOML value, favouring ones that are almost right for some key of the spec.
fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => prop::sample::select(vec![
            "0", "-1", "1", "20", "21", "65535", "65536", "100", "599", "600",
            "9223372036854775807", "-9223372036854775808", "0x10", "1_000", "+5",
            "0.0", "-0.0", "0.5", "64.0", "64.5", "nan", "inf", "-inf", "5e-324",
            "true", "false", "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00",
            "\"\"", "\" \"", "\"1us\"", "\"1ns\"", "\"0s\"", "\"25h\"", "\"2d\"", "\"1m\"",
            "\"5m\"", "\"6m\"", "\"1t\"", "\"99999999999999g\"", "\"-1m\"", "\"200-399\"",
            "\"300-200\"", "\"2xx\"", "\"-\"", "\"100-\"", "\"echo 'open\"", "\"a\\\\\"",
            "\"/\"", "\"healthz\"", "\"/a b\"", "\"../Dockerfile\"", "\"/etc/passwd\"",
            "'literal'", "\"\"\"\nmulti\nline\"\"\"", "'''\nraw\n'''", "[]", "{}",
        ])
        .prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|i| i.to_string()),
        1 => any::<f64>().prop_map(|f| if f.is_finite() { format!("{f:?}") } else { "nan".into() }),
        2 => text(12).prop_map(|s| toml_string(&s)),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| toml_array(&items)),
            // Keys unique by name (`a` and `"a"` are one key): a duplicate is a syntax error.
            prop::collection::btree_map(key_name(), inner, 0..3).prop_map(|entries| {
                let body: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{} = {v}", bare_or_quoted(k)))
                    .collect();
                format!("{{ {} }}", body.join(", "))
            }),
        ]
    })
}

fn toml_key() -> impl Strategy<Value = String> {
    key_name().prop_map(|k| bare_or_quoted(&k))
}

fn bare_or_quoted(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A key's name, unquoted.
fn key_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "port", "dockerfile", "build", "args", "healthcheck", "path", "timeout", "interval",
            "retries", "start_period", "status", "processes", "resources", "test", "command",
            "replicas", "memory", "cpus", "services", "image", "env", "web", "worker", "target",
            "report", "X",
            "1X", "Web", "my_db",
        ])
        .prop_map(str::to_owned),
        2 => "[a-zA-Z0-9_-]{1,8}",
        1 => text(6),
    ]
}

/// A change to a `Doc`, by position among its entries.
#[derive(Clone, Debug)]
enum DocEdit {
    Value(Index, String),
    Key(Index, String),
    Add(Index, String, String),
    Drop(Index),
    Form(Index, Form),
}

fn doc_edit() -> impl Strategy<Value = DocEdit> {
    prop_oneof![
        4 => (any::<Index>(), toml_value()).prop_map(|(i, v)| DocEdit::Value(i, v)),
        1 => (any::<Index>(), toml_key()).prop_map(|(i, k)| DocEdit::Key(i, k)),
        2 => (any::<Index>(), toml_key(), toml_value()).prop_map(|(i, k, v)| DocEdit::Add(i, k, v)),
        1 => any::<Index>().prop_map(DocEdit::Drop),
        1 => (any::<Index>(), form()).prop_map(|(i, f)| DocEdit::Form(i, f)),
    ]
}

impl Doc {
    fn apply(&mut self, edit: &DocEdit) {
        match edit {
            DocEdit::Value(i, v) => {
                let mut values = self.values_mut();
                if !values.is_empty() {
                    let n = values.len();
                    *values[i.index(n)] = v.clone();
                }
            }
            DocEdit::Key(i, k) => {
                let mut keys: Vec<&mut String> = self
                    .root
                    .iter_mut()
                    .map(|(k, _)| k)
                    .chain(self.tables.iter_mut().map(|t| &mut t.path))
                    .collect();
                if !keys.is_empty() {
                    let n = keys.len();
                    let key = &mut keys[i.index(n)];
                    // Rename the last segment: `processes.web` -> `processes.Web`.
                    **key = match key.rsplit_once('.') {
                        Some((head, _)) => format!("{head}.{k}"),
                        None => k.clone(),
                    };
                }
            }
            DocEdit::Add(i, k, v) => {
                let n = self.tables.len() + 1;
                match i.index(n) {
                    0 => self.root.push((k.clone(), v.clone())),
                    t => self.tables[t - 1].entries.push((k.clone(), v.clone())),
                }
            }
            DocEdit::Drop(i) => {
                let n = self.root.len() + self.tables.len();
                if n > 0 {
                    match i.index(n) {
                        r if r < self.root.len() => drop(self.root.remove(r)),
                        t => drop(self.tables.remove(t - self.root.len())),
                    }
                }
            }
            DocEdit::Form(i, f) => {
                if !self.tables.is_empty() {
                    let n = self.tables.len();
                    self.tables[i.index(n)].form = *f;
                }
            }
        }
    }
}

/// A change to the written text: the kind of damage hand edits and bad merges do.
#[derive(Clone, Debug)]
enum TextEdit {
    Insert(Index, String),
    Delete(Index, usize),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    Truncate(Index),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    let snippet = prop_oneof![
        prop::sample::select(vec![
            "\"",
            "'",
            "[",
            "]",
            "{",
            "}",
            "=",
            ",",
            ".",
            "\n",
            "#",
            "\\",
            "\"\"\"",
            "[[",
            "]]",
            " = 1\n",
            "\n[processes.web]\n",
            "1e400",
            "\u{feff}",
            "\r",
            "\0",
            "é",
        ])
        .prop_map(str::to_owned),
        text(4),
    ];
    prop_oneof![
        3 => (any::<Index>(), snippet).prop_map(|(i, s)| TextEdit::Insert(i, s)),
        2 => (any::<Index>(), 1..8usize).prop_map(|(i, n)| TextEdit::Delete(i, n)),
        1 => any::<Index>().prop_map(TextEdit::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TextEdit::SwapLines(a, b)),
        1 => any::<Index>().prop_map(TextEdit::Truncate),
    ]
}

fn apply_text_edit(text: &mut String, edit: &TextEdit) {
    match edit {
        TextEdit::Insert(at, s) => {
            let at = char_boundary(text, *at);
            text.insert_str(at, s);
        }
        TextEdit::Delete(at, n) => {
            let start = char_boundary(text, *at);
            let end = text[start..]
                .char_indices()
                .nth(*n)
                .map_or(text.len(), |(i, _)| start + i);
            text.replace_range(start..end, "");
        }
        TextEdit::DuplicateLine(at) => {
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if !lines.is_empty() {
                let i = at.index(lines.len());
                lines.insert(i, lines[i]);
                *text = lines.concat();
            }
        }
        TextEdit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if !lines.is_empty() {
                let n = lines.len();
                lines.swap(a.index(n), b.index(n));
                *text = lines.concat();
            }
        }
        TextEdit::Truncate(at) => {
            let at = char_boundary(text, *at);
            text.truncate(at);
        }
    }
}

/// A spec that was valid, with its structure and then its text damaged.
fn damaged_spec() -> impl Strategy<Value = String> {
    (
        valid_spec(Flavor::STORABLE),
        prop::collection::vec(doc_edit(), 0..4),
        prop::collection::vec(text_edit(), 0..3),
    )
        .prop_map(|((mut doc, _), doc_edits, text_edits)| {
            for edit in &doc_edits {
                doc.apply(edit);
            }
            let (mut text, _) = doc.render();
            for edit in &text_edits {
                apply_text_edit(&mut text, edit);
            }
            text
        })
}

/// Text that is not a spec at all: random characters, bytes read as UTF-8 the lossy way
/// (as a repository file that is not UTF-8 would be, were it read that way), and TOML's
/// own punctuation and key names in random order.
fn arbitrary_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "[",
            "]",
            "[[",
            "]]",
            "=",
            "\"",
            "'",
            "\"\"\"",
            "'''",
            "{",
            "}",
            ",",
            ".",
            "\n",
            " ",
            "#",
            "\\",
            "\\u",
            "\\U0010FFFF",
            "processes",
            "web",
            "resources",
            "services",
            "healthcheck",
            "port",
            "command",
            "1",
            "-1",
            "1.5",
            "true",
            "1979-05-27",
        ])
        .prop_map(str::to_owned),
        text(3),
    ];
    prop_oneof![
        2 => text(200),
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        3 => prop::collection::vec(token, 0..60).prop_map(|t| t.concat()),
    ]
}

/// Tables whose names are any text, quoted: `[resources."a\nb"]`.
fn oddly_named_tables() -> impl Strategy<Value = String> {
    let table = (
        prop::sample::select(vec!["processes", "resources", "services", "build.args"]),
        prop_oneof![text(6), "[a-z]{0,2}[\\n\\r\\t\\x00 .]{1,2}[a-z]{0,2}"],
        prop::option::of(prop::sample::select(vec![
            "image = \"x\"",
            "replicas = 1",
            "memory = \"1g\"",
        ])),
    )
        .prop_map(|(section, name, body)| {
            format!(
                "[{section}.{}]\n{}\n",
                toml_string(&name),
                body.unwrap_or_default()
            )
        });
    prop::collection::vec(table, 1..3).prop_map(|t| t.concat())
}

/// Every kind of spec text above.
fn any_spec_text() -> impl Strategy<Value = String> {
    prop_oneof![arbitrary_text(), damaged_spec(), oddly_named_tables()]
}

// ---------------------------------------------------------------------------------------
// spec.rs: what every result must look like
// ---------------------------------------------------------------------------------------

/// An error names where it is: a line and column inside the file, and (when it has one)
/// a key path with no serde-private segment. (The key may be empty: `"" = 1` is an
/// unknown field whose name is the empty string.) That the message is one line and not
/// empty are the ignored `spec_error_messages_*` properties.
fn check_error(source: &str, e: &SpecError) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = source.split('\n').collect();
    prop_assert!(
        (1..=lines.len()).contains(&e.line),
        "line {} of a {}-line file: {e}",
        e.line,
        lines.len()
    );
    let width = lines[e.line - 1].chars().count();
    prop_assert!(
        (1..=width + 1).contains(&e.column),
        "column {} of a {width}-character line: {e}",
        e.column
    );
    if let Some(key) = &e.key {
        prop_assert!(!key.contains("$__"), "a serde-private key: {e:?}");
    }
    let shown = e.to_string();
    let location = format!("line {}, column {}: ", e.line, e.column);
    prop_assert!(shown.starts_with(&location), "{shown}");
    if let Some(key) = &e.key {
        prop_assert!(shown.contains(&format!("{key}: ")), "{shown}");
    }
    Ok(())
}

/// A spec that parsed keeps every documented limit.
fn check_accepted(spec: &AppSpec) -> Result<(), TestCaseError> {
    let valid_name = |n: &str| {
        n.len() <= 30
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let day = Duration::from_secs(24 * 3600);
    prop_assert!(spec.processes.contains_key("web"), "{spec:?}");
    prop_assert!(spec.port != Some(0));
    if let Some(path) = &spec.dockerfile {
        prop_assert_eq!(
            DockerfilePath::parse(path).map(|p| p.as_str().to_owned()),
            Ok(path.clone())
        );
    }
    prop_assert!(spec.build_args.keys().all(|k| is_posix_name(k)), "{spec:?}");
    let h = &spec.healthcheck;
    prop_assert!(h.path.starts_with('/') && !h.path.contains(|c: char| c.is_control() || c == ' '));
    prop_assert!(h.timeout.is_none_or(|t| !t.is_zero() && t <= day), "{h:?}");
    prop_assert!(!h.interval.is_zero() && h.interval <= day, "{h:?}");
    prop_assert!(h.start_period <= day, "{h:?}");
    prop_assert!((1..=100).contains(&h.retries), "{h:?}");
    prop_assert!(100 <= h.status.min && h.status.min <= h.status.max && h.status.max <= 599);
    for (name, p) in &spec.processes {
        prop_assert!(valid_name(name), "process {name:?}");
        prop_assert!(p.replicas <= MAX_REPLICAS, "{p:?}");
        prop_assert!(p.command.as_ref().is_none_or(|c| !c.is_empty()), "{p:?}");
        prop_assert!(p.memory.is_none_or(|m| m >= MIN_MEMORY), "{p:?}");
        prop_assert!(p.cpus.is_none_or(|c| (0.01..=64.0).contains(&c)), "{p:?}");
    }
    if let Some(t) = &spec.test {
        prop_assert!(
            !t.command.is_empty() && !t.timeout.is_zero() && t.timeout <= MAX_TEST_TIMEOUT
        );
    }
    for (name, s) in &spec.services {
        prop_assert!(valid_name(name), "service {name:?}");
        prop_assert!(!s.image.trim().is_empty(), "{s:?}");
        prop_assert!(s.port != Some(0));
        prop_assert!(s.env.keys().all(|k| is_posix_name(k)), "{s:?}");
    }
    Ok(())
}

fn check_parse(source: &str) -> Result<(), TestCaseError> {
    match spec::parse(source) {
        Ok(spec) => check_accepted(&spec),
        Err(e) => check_error(source, &e),
    }
}

/// The spec as the pipeline stores it (`serde_json::to_value`, a JSONB column, read
/// back as text by sqlx) and as the worker and the API read it again.
fn through_stored_json(spec: &AppSpec) -> Result<AppSpec, TestCaseError> {
    let value = serde_json::to_value(spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let text = value.to_string();
    serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))
}

fn check_round_trip(doc: &Doc, expected: &AppSpec) -> Result<(), TestCaseError> {
    let (source, _) = doc.render();
    let parsed = spec::parse(&source);
    prop_assert_eq!(parsed.as_ref(), Ok(expected), "{}", source);
    let back = through_stored_json(expected)?;
    prop_assert_eq!(&back, expected, "{}", source);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------

// Validators are cheap: 2048 cases each, about 1.1 s in all in a debug build.
proptest! {
    #![proptest_config(config(2048))]

    /// AppName accepts exactly the DNS labels, and keeps what it was given.
    #[test]
    fn app_names_are_exactly_dns_labels(raw in app_name_candidate()) {
        match AppName::parse(&raw) {
            Ok(name) => {
                prop_assert!(is_dns_label(name.as_str()), "accepted {raw:?}");
                prop_assert_eq!(name.as_str(), raw.as_str());
                prop_assert_eq!(name.to_string(), raw);
            }
            Err(e) => {
                prop_assert!(!is_dns_label(&raw), "refused {raw:?}: {e}");
                prop_assert_eq!(e.field, "name");
            }
        }
    }

    /// An accepted repository URL is one clean token of at most 2048 bytes, the input
    /// trimmed; with local repositories disabled it is remote and its host is not one
    /// `forbidden_host` refuses.
    #[test]
    fn accepted_repo_urls_are_clean_and_reach_no_forbidden_host(
        raw in repo_url_candidate(),
        allow_local in prop::bool::ANY,
    ) {
        match RepoUrl::parse(&raw, allow_local) {
            Ok(url) => {
                let url = url.as_str();
                prop_assert_eq!(url, raw.trim());
                prop_assert!(!url.is_empty() && url.len() <= 2048, "{} bytes", url.len());
                prop_assert!(
                    !url.contains(|c: char| c.is_whitespace() || c.is_control()),
                    "accepted {url:?}"
                );
                prop_assert!(!url.starts_with('-'), "accepted {url:?}");
                if !allow_local {
                    let lower = url.to_ascii_lowercase();
                    prop_assert!(
                        !url.starts_with(['/', '.']) && !lower.starts_with("file://"),
                        "a local repository with allow_local = false: {url:?}"
                    );
                    if let Some(host) = url_host(url) {
                        prop_assert_eq!(
                            forbidden_host(host, false),
                            None,
                            "{:?} has host {:?}",
                            url,
                            host
                        );
                    }
                }
            }
            Err(e) => prop_assert_eq!(e.field, "repo_url"),
        }
    }

    /// Every spelling of a forbidden address is refused as a host, and in a URL; the
    /// loopback ones only while local repositories are disabled.
    #[test]
    fn forbidden_addresses_are_refused_in_every_spelling(
        (host, local) in forbidden_address(),
        scp in prop::bool::ANY,
    ) {
        let name = host_name(&host);
        prop_assert!(forbidden_host(name, false).is_some(), "{host}");
        prop_assert_eq!(forbidden_host(name, true).is_none(), local, "{}", host);
        let url = if scp && !host.starts_with('[') {
            format!("git@{host}:team/app.git")
        } else {
            format!("https://token@{host}:8443/team/app.git")
        };
        prop_assert!(RepoUrl::parse(&url, false).is_err(), "accepted {url}");
        prop_assert_eq!(RepoUrl::parse(&url, true).is_ok(), local, "{}", url);
    }

    /// `url_host` and `forbidden_host` take any text. A host is a non-empty part of the
    /// URL; allowing local repositories only ever lifts a refusal; ASCII case and one
    /// trailing dot do not matter.
    #[test]
    fn hosts_are_found_and_judged_in_any_text(
        raw in prop_oneof![repo_url_candidate(), host(), text(40)],
    ) {
        if let Some(host) = url_host(&raw) {
            prop_assert!(!host.is_empty() && raw.contains(host), "{raw:?} -> {host:?}");
        }
        let strict = forbidden_host(&raw, false);
        let relaxed = forbidden_host(&raw, true);
        prop_assert!(relaxed.is_none() || strict.is_some(), "{raw:?}");
        prop_assert_eq!(forbidden_host(&raw.to_ascii_uppercase(), false), strict, "{:?}", raw);
        if !raw.ends_with('.') {
            prop_assert_eq!(forbidden_host(&format!("{raw}."), false), strict, "{:?}", raw);
        }
    }

    /// A URL's secret, when it has one, is a non-empty part of it; a URL without one
    /// redacts nothing.
    #[test]
    fn url_secrets_are_part_of_the_url((url, text) in url_with_secret(true)) {
        match url_secret(&url) {
            Some(secret) => {
                prop_assert!(!secret.is_empty() && url.contains(secret), "{url:?}");
                // The user name of an ssh URL is not a secret; its password is.
                let lower = url.to_ascii_lowercase();
                if !lower.starts_with("http://") && !lower.starts_with("https://") {
                    let userinfo = url.split_once("://").map_or("", |(_, r)| r);
                    prop_assert!(userinfo.contains(':'), "{url:?} -> {secret:?}");
                }
            }
            None => prop_assert_eq!(redact(&text, &url), text),
        }
    }

    /// `redact` leaves no secret that contains no `*` in any text. (Secrets with `*` are
    /// the ignored property below.)
    #[test]
    fn redacted_text_keeps_no_star_free_secret((url, text) in url_with_secret(false)) {
        // Not prop_assume!: with PROPTEST_CASES in the millions, rejections would reach
        // proptest's cap on them and abort the run.
        let secret = url_secret(&url).unwrap_or("");
        if secret.is_empty() || secret.contains('*') {
            return Ok(());
        }
        let redacted = redact(&text, &url);
        prop_assert!(!redacted.contains(secret), "{redacted:?} still holds {secret:?}");
    }

    /// Found by this property: `redact("aa*", "https://u:a*@h/x")` once gave "a***",
    /// the mask's `*` joining the text beside it into the secret again.
    #[test]
    fn redacted_text_never_contains_the_secret((url, text) in url_with_secret(true)) {
        // A secret of nothing but `*` (the brief said: not a substring of the mask) cannot
        // be told from the mask by any redaction; leave those out too.
        let secret = url_secret(&url).unwrap_or("");
        if secret.is_empty() || secret.chars().all(|c| c == '*') {
            return Ok(());
        }
        let redacted = redact(&text, &url);
        prop_assert!(!redacted.contains(secret), "{redacted:?} still holds {secret:?}");
    }

    /// An accepted ref can never be read as an option or a refspec and keeps git's
    /// ref-name rules.
    #[test]
    fn accepted_git_refs_are_not_options(
        raw in git_ref_candidate(),
        field in prop::sample::select(vec!["ref", "branch"]),
    ) {
        match GitRef::parse(field, &raw) {
            Ok(r) => {
                let r = r.as_str();
                prop_assert_eq!(r, raw.as_str());
                prop_assert!(!r.starts_with('-'), "accepted {r:?}");
                prop_assert!((1..=255).contains(&r.len()), "{} bytes", r.len());
                prop_assert!(
                    !r.starts_with('/') && !r.ends_with('/') && !r.ends_with('.'),
                    "accepted {r:?}"
                );
                prop_assert!(
                    !r.ends_with(".lock") && !r.contains("..") && !r.contains("@{"),
                    "accepted {r:?}"
                );
                prop_assert!(r != "@" && !r.contains("//"), "accepted {r:?}");
                prop_assert!(
                    !r.contains(|c: char| c.is_control()
                        || c.is_whitespace()
                        || "~^:?*[\\".contains(c)),
                    "accepted {r:?}"
                );
                prop_assert!(!r.split('/').any(|p| p.starts_with('.')), "accepted {r:?}");
            }
            Err(e) => prop_assert_eq!(e.field, field),
        }
    }

    /// An accepted Dockerfile path stays inside the repository.
    #[test]
    fn accepted_dockerfile_paths_stay_in_the_repository(raw in dockerfile_candidate()) {
        match DockerfilePath::parse(&raw) {
            Ok(p) => {
                let p = p.as_str();
                prop_assert_eq!(p, raw.strip_prefix("./").unwrap_or(&raw));
                prop_assert!(!p.starts_with('/') && !p.contains('\\'), "accepted {p:?}");
                prop_assert!(
                    !p.split('/').any(|s| s == ".." || s == "." || s.is_empty()),
                    "accepted {p:?}"
                );
                prop_assert!(!p.contains(char::is_control), "accepted {p:?}");
                prop_assert!((1..=1024).contains(&p.len()), "{} bytes", p.len());
            }
            Err(e) => prop_assert_eq!(e.field, "dockerfile"),
        }
    }

    /// Config var names are exactly POSIX's portable names of at most 255 bytes, minus
    /// the reserved ones; values are anything without NUL up to the byte limit.
    #[test]
    fn config_vars_follow_posix(name in var_name_candidate(), value in var_value_candidate()) {
        let reserved = name == "PORT" || name.starts_with("SLIPWAY_");
        let valid = is_posix_name(&name) && name.len() <= 255 && !reserved;
        match check_name(&name) {
            Ok(()) => prop_assert!(valid, "accepted {name:?}"),
            Err(e) => {
                prop_assert!(!valid, "refused {name:?}: {e}");
                prop_assert_eq!(&e.name, &name);
            }
        }
        let valid = !value.contains('\0') && value.len() <= MAX_VALUE_BYTES;
        match check_value(&name, &value) {
            Ok(()) => prop_assert!(valid, "accepted a {}-byte value", value.len()),
            Err(e) => {
                prop_assert!(!valid, "refused a {}-byte value: {e}", value.len());
                prop_assert_eq!(&e.name, &name);
            }
        }
    }
}

// A spec parse costs more (two TOML passes): 512 cases each, about 0.7 s in all.
proptest! {
    #![proptest_config(config(512))]

    /// Any text at all: the parser answers, and an error says where.
    #[test]
    fn spec_parse_survives_arbitrary_text(
        source in prop_oneof![arbitrary_text(), oddly_named_tables()],
    ) {
        check_parse(&source)?;
    }

    /// Specs that were valid, then had keys renamed, values replaced by values of any
    /// type, entries added or dropped, and their text cut and spliced.
    #[test]
    fn spec_parse_survives_damaged_specs(source in damaged_spec()) {
        check_parse(&source)?;
    }

    #[test]
    fn spec_error_messages_are_not_empty(source in any_spec_text()) {
        if let Err(e) = spec::parse(&source) {
            prop_assert!(!e.message.trim().is_empty(), "no message: {:?}", e);
        }
    }

    #[test]
    fn spec_error_messages_are_one_line(
        source in prop_oneof![1 => any_spec_text(), 3 => oddly_named_tables()],
    ) {
        if let Err(e) = spec::parse(&source) {
            prop_assert!(!e.message.contains('\n'), "a multi-line message: {:?}", e);
        }
    }

    /// One value of a valid spec replaced by any other: if the spec is refused, the
    /// error names that value's key (or a key inside it) and its line.
    #[test]
    fn a_bad_value_is_reported_at_its_key_and_line(
        (doc, _) in valid_spec(Flavor::STORABLE),
        which in any::<Index>(),
        value in toml_value(),
    ) {
        let mut doc = doc;
        let mut values = doc.values_mut();
        if values.is_empty() {
            return Ok(());
        }
        let i = which.index(values.len());
        // A multi-line value (`"""..."""` inside an array) can fail on a later line.
        let extra_lines = value.matches('\n').count();
        *values[i] = value;
        let (source, written) = doc.render();
        let at = &written[i];
        match spec::parse(&source) {
            Ok(spec) => check_accepted(&spec)?,
            Err(e) => {
                check_error(&source, &e)?;
                let key = e.key.clone().unwrap_or_default();
                prop_assert!(
                    key == at.key || key.starts_with(&format!("{}.", at.key)),
                    "{} is wrong, expected {}: {}\n{}", key, at.key, e, source
                );
                prop_assert!(
                    (at.line..=at.line + extra_lines).contains(&e.line),
                    "expected line {}: {}\n{}", at.line, e, source
                );
            }
        }
    }

    /// A valid spec, written with every table form, parses to exactly what was written,
    /// and survives the trip through the stored JSON.
    #[test]
    fn valid_specs_parse_exactly_and_round_trip((doc, expected) in valid_spec(Flavor::STORABLE)) {
        check_round_trip(&doc, &expected)?;
    }

    /// Durations finer than a millisecond cannot be stored with a release's spec, so the
    /// parser refuses them, naming the key; whole-millisecond ones parse and round-trip.
    #[test]
    fn sub_millisecond_durations_are_refused_or_round_trip(
        (doc, expected) in valid_spec(Flavor { sub_millisecond: true, full_precision_cpus: false }),
    ) {
        let (source, _) = doc.render();
        match spec::parse(&source) {
            Ok(_) => check_round_trip(&doc, &expected)?,
            Err(e) => {
                prop_assert!(e.message.contains("whole milliseconds"), "{}: {}", source, e);
                prop_assert!(e.key.is_some(), "{}: {}", source, e);
            }
        }
    }

    #[test]
    fn full_precision_cpus_round_trip(
        (doc, expected) in valid_spec(Flavor { sub_millisecond: false, full_precision_cpus: true }),
    ) {
        check_round_trip(&doc, &expected)?;
    }
}
