//! A tiny web app that needs no registry: `FROM scratch` plus Debian's static busybox
//! serving a directory with `busybox httpd`.

use std::path::PathBuf;

use crate::git::Files;

/// Debian's busybox-static binary.
pub fn busybox_path() -> PathBuf {
    ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("busybox-static is not installed: run scripts/test.sh (or apt-get install busybox-static)"))
}

pub const WEB_DOCKERFILE: &str = "FROM scratch\n\
COPY busybox /bin/busybox\n\
COPY www /www\n\
CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n";

/// A web app serving `page` at `/`.
pub fn web_app_files(page: &str) -> Files {
    web_app_files_with_dockerfile(page, WEB_DOCKERFILE)
}

/// The same app with a Dockerfile of the test's own (broken, never listening, …).
pub fn web_app_files_with_dockerfile(page: &str, dockerfile: &str) -> Files {
    let busybox = std::fs::read(busybox_path()).expect("read busybox");
    vec![
        ("Dockerfile".to_owned(), dockerfile.as_bytes().to_vec()),
        ("busybox".to_owned(), busybox),
        ("www/index.html".to_owned(), page.as_bytes().to_vec()),
    ]
}

/// A CGI script for busybox httpd that prints the container's environment at
/// `/cgi-bin/env`, so tests can see the config vars an app was given.
pub const ENV_CGI: &str = "#!/bin/busybox sh\n\
echo 'Content-Type: text/plain'\n\
echo\n\
/bin/busybox env\n";

/// The web app plus `/cgi-bin/env` (its environment) and a `slipway.toml`, if given.
pub fn web_app_files_with_spec(page: &str, spec: Option<&str>) -> Files {
    let mut files = web_app_files(page);
    files.push(("www/cgi-bin/env".to_owned(), ENV_CGI.as_bytes().to_vec()));
    if let Some(spec) = spec {
        files.push(("slipway.toml".to_owned(), spec.as_bytes().to_vec()));
    }
    files
}
