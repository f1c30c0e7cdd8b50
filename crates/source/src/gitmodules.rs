//! `.gitmodules`, read the way git reads it, and submodule URLs relative to the
//! superproject's. Parsed here rather than by libgit2's config reader, which honours
//! `[include] path = …`: a commit must not make the worker read its own files.

/// One `[submodule "name"]` section. Where a key is given twice the first one counts,
/// as in git.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Declared {
    pub name: String,
    pub path: Option<String>,
    pub url: Option<String>,
}

/// Why `.gitmodules` could not be read: the line (1-based) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: &'static str,
}

/// The submodules `.gitmodules` declares, in the order of their first section.
pub(crate) fn parse(text: &str) -> Result<Vec<Declared>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut declared: Vec<Declared> = Vec::new();
    // Index into `declared` of the section being read; `None` outside a submodule one.
    let mut current: Option<usize> = None;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let line_no = index + 1;
        let err = |message| ParseError {
            line: line_no,
            message,
        };
        let mut rest = raw.trim_start();
        if let Some(header) = rest.strip_prefix('[') {
            let (section, after) = section_header(header).ok_or(err("invalid section header"))?;
            current = section.map(|name| {
                declared
                    .iter()
                    .position(|d| d.name == name)
                    .unwrap_or_else(|| {
                        declared.push(Declared {
                            name,
                            ..Declared::default()
                        });
                        declared.len() - 1
                    })
            });
            // git reads a key after the header on the same line.
            rest = after.trim_start();
        }
        if rest.is_empty() || rest.starts_with(['#', ';']) {
            continue;
        }
        let key_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let key = &rest[..key_len];
        if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(err("invalid key name"));
        }
        let after_key = rest[key_len..].trim_start_matches([' ', '\t', '\r']);
        let value = if after_key.is_empty() {
            // `key` alone is a boolean: no value for a path or a URL.
            None
        } else if let Some(value) = after_key.strip_prefix('=') {
            let mut text = value.to_owned();
            // A backslash at the end of a line continues the value on the next one.
            loop {
                match parse_value(&text).map_err(&err)? {
                    Value::Complete(v) => break Some(v),
                    Value::Continued => {
                        let Some((_, next)) = lines.next() else {
                            return Err(err("the file ends inside a value"));
                        };
                        text.truncate(text.trim_end_matches('\r').len() - 1);
                        text.push_str(next);
                    }
                }
            }
        } else {
            return Err(err("expected '=' after the key"));
        };
        let Some(section) = current.and_then(|i| declared.get_mut(i)) else {
            continue;
        };
        let slot = match key.to_ascii_lowercase().as_str() {
            "path" => &mut section.path,
            "url" => &mut section.url,
            _ => continue,
        };
        if slot.is_none() {
            *slot = value;
        }
    }
    Ok(declared)
}

/// After `[`: `Some(name)` for a submodule section (`submodule "name"`, or the old
/// `submodule.name`), `None` for any other, and the rest of the line after `]`.
fn section_header(header: &str) -> Option<(Option<String>, &str)> {
    let end = header
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or(header.len());
    let base = header[..end].to_ascii_lowercase();
    let rest = &header[end..];
    if let Some(after) = rest.strip_prefix(']') {
        let name = base.strip_prefix("submodule.").map(str::to_owned);
        return Some((name.filter(|n| !n.is_empty()), after));
    }
    // `[section "subsection"]`: the subsection is quoted, `\` escapes the next character.
    let quoted = rest.trim_start_matches([' ', '\t']).strip_prefix('"')?;
    if base.is_empty() {
        return None;
    }
    let mut name = String::new();
    let mut chars = quoted.char_indices();
    let close = loop {
        match chars.next()? {
            (i, '"') => break i,
            (_, '\\') => name.push(chars.next()?.1),
            (_, '\r') => return None,
            (_, c) => name.push(c),
        }
    };
    let after = quoted[close + 1..].strip_prefix(']')?;
    Some(((base == "submodule").then_some(name), after))
}

enum Value {
    Complete(String),
    /// The line ended in a backslash.
    Continued,
}

/// A value after `=`, as git reads it: surrounding space dropped, each run of inner
/// space kept as spaces, `"…"` quoting, `\\ \" \n \t \b` escapes, `#` and `;` starting
/// a comment outside quotes.
fn parse_value(text: &str) -> Result<Value, &'static str> {
    let mut value = String::new();
    let (mut quoted, mut spaces) = (false, 0usize);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c.is_ascii_whitespace() && !quoted {
            if !value.is_empty() {
                spaces += 1;
            }
            continue;
        }
        if !quoted && (c == '#' || c == ';') {
            break;
        }
        value.extend(std::iter::repeat_n(' ', spaces));
        spaces = 0;
        match c {
            '\\' => match chars.next() {
                None => return Ok(Value::Continued),
                Some('\r') if chars.as_str().is_empty() => return Ok(Value::Continued),
                Some('t') => value.push('\t'),
                Some('b') => value.push('\u{8}'),
                Some('n') => value.push('\n'),
                Some(c @ ('\\' | '"')) => value.push(c),
                Some(_) => return Err("unknown escape sequence in a value"),
            },
            '"' => quoted = !quoted,
            c => value.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed before the end of the line");
    }
    Ok(Value::Complete(value))
}

/// Whether a submodule URL is relative to the superproject's (`./x`, `../x`).
pub(crate) fn is_relative(url: &str) -> bool {
    url.starts_with("./") || url.starts_with("../")
}

/// `url` resolved against the superproject's `base` URL, as git does: each leading
/// `../` removes the last path segment of `base` (in `host:path` form, the `:` too),
/// `./` removes nothing, and what is left is joined with `/` (`:` after a removed `:`).
/// URLs that are not relative are returned as they are.
pub(crate) fn resolve_url(base: &str, url: &str) -> Result<String, String> {
    if !is_relative(url) {
        return Ok(url.to_owned());
    }
    let mut resolved = base.strip_suffix('/').unwrap_or(base).to_owned();
    let mut rest = url;
    let mut colon = false;
    loop {
        if let Some(after) = rest.strip_prefix("../") {
            rest = after;
            if let Some(slash) = resolved.rfind('/') {
                resolved.truncate(slash);
            } else if let Some(sep) = resolved.rfind(':') {
                resolved.truncate(sep);
                colon = true;
            } else {
                return Err(format!(
                    "cannot resolve the relative url {url}: it climbs above {base}"
                ));
            }
        } else if let Some(after) = rest.strip_prefix("./") {
            rest = after;
        } else {
            break;
        }
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    Ok(format!("{resolved}{}{rest}", if colon { ':' } else { '/' }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(name: &str, path: Option<&str>, url: Option<&str>) -> Declared {
        Declared {
            name: name.into(),
            path: path.map(Into::into),
            url: url.map(Into::into),
        }
    }

    #[test]
    fn reads_what_git_writes() {
        let text = "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://example.com/lib.git\n\
                    [submodule \"docs\"]\n\tpath = docs\n\turl = ../docs.git\n\tbranch = main\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                declared(
                    "lib",
                    Some("vendor/lib"),
                    Some("https://example.com/lib.git")
                ),
                declared("docs", Some("docs"), Some("../docs.git")),
            ]
        );
    }

    #[test]
    fn reads_every_spelling_git_accepts() {
        let text = "\u{feff}# a comment\r\n\
                    ; another\n\
                    [core]\n\
                    \turl = not-a-submodule\n\
                    [Submodule \"Name With \\\"Quotes\\\"\"] PATH = \"a b\"  # trailing comment\n\
                    \tUrl = https://h/x.git ; comment\r\n\
                    \turl = https://h/ignored-second.git\n\
                    [submodule.old]\n\
                    path = old\n\
                    url = \"https://h/o\\\\ld\" \\\n\
                    .git\n\
                    [submodule \"flag\"]\n\
                    url\n\
                    path=  spaced   out  \n";
        assert_eq!(
            parse(text).unwrap(),
            [
                declared("Name With \"Quotes\"", Some("a b"), Some("https://h/x.git")),
                declared("old", Some("old"), Some("https://h/o\\ld .git")),
                declared("flag", Some("spaced   out"), None),
            ]
        );
    }

    #[test]
    fn sections_with_the_same_name_merge() {
        let text = "[submodule \"a\"]\npath = a\n[submodule \"b\"]\npath = b\n[submodule \"a\"]\nurl = ./a\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                declared("a", Some("a"), Some("./a")),
                declared("b", Some("b"), None)
            ]
        );
    }

    #[test]
    fn mistakes_name_the_line() {
        for (text, line, message) in [
            ("[submodule \"a\"\npath = a\n", 1, "section header"),
            ("[submodule \"a]\n", 1, "section header"),
            ("[submodule \"a\"]\n9path = a\n", 2, "key name"),
            ("[submodule \"a\"]\npath a\n", 2, "'='"),
            ("[submodule \"a\"]\n\npath = \"a\n", 3, "quote"),
            ("[submodule \"a\"]\npath = a\\q\n", 2, "escape"),
            ("[submodule \"a\"]\npath = a\\", 2, "ends inside"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e:?}");
            assert!(e.message.contains(message), "{text:?}: {e:?}");
        }
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn includes_are_not_followed() {
        let text = "[include]\npath = /etc/passwd\n[submodule \"a\"]\npath = a\nurl = ../a\n";
        assert_eq!(
            parse(text).unwrap(),
            [declared("a", Some("a"), Some("../a"))]
        );
    }

    #[test]
    fn relative_urls_resolve_as_git_resolves_them() {
        for (base, url, expected) in [
            (
                "https://github.com/org/app.git",
                "../lib.git",
                "https://github.com/org/lib.git",
            ),
            (
                "https://github.com/org/app.git/",
                "../lib.git",
                "https://github.com/org/lib.git",
            ),
            (
                "https://github.com/org/app",
                "./lib",
                "https://github.com/org/app/lib",
            ),
            (
                "https://github.com/org/app.git",
                "../../other/lib.git/",
                "https://github.com/other/lib.git",
            ),
            (
                "https://tok@github.com/org/app.git",
                "./../lib",
                "https://tok@github.com/org/lib",
            ),
            (
                "git@github.com:org/app.git",
                "../lib.git",
                "git@github.com:org/lib.git",
            ),
            (
                "git@github.com:app.git",
                "../lib.git",
                "git@github.com:lib.git",
            ),
            (
                "ssh://git@example.com:2222/srv/app.git",
                "../lib.git",
                "ssh://git@example.com:2222/srv/lib.git",
            ),
            ("file:///srv/git/app", "../lib", "file:///srv/git/lib"),
            ("/srv/git/app", "../lib", "/srv/git/lib"),
            (
                "https://example.com/a.git",
                "https://elsewhere.example/b.git",
                "https://elsewhere.example/b.git",
            ),
            ("https://example.com/a.git", "lib", "lib"),
        ] {
            assert_eq!(resolve_url(base, url).unwrap(), expected, "{base} + {url}");
        }
        assert!(is_relative("./x") && is_relative("../x"));
        assert!(!is_relative("x") && !is_relative("/x") && !is_relative(".x"));
        let e = resolve_url("app", "../lib").unwrap_err();
        assert!(e.contains("climbs above"), "{e}");
    }
}
