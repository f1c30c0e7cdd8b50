//! Files copied out of a container (a test run's report), through the archive endpoint:
//! works on a stopped container, with no shell or `cat` needed in its image.

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;

use crate::{DockerClient, DockerError};

/// What became of a file asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopiedFile {
    Copied(Vec<u8>),
    /// No such file in the container.
    Missing,
    /// Larger than the limit, or not a regular file: what it is instead.
    Refused(String),
}

impl DockerClient {
    /// Copies one regular file of at most `max_bytes` out of a container (running or
    /// stopped).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn copy_file_out(
        &self,
        container: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<CopiedFile, DockerError> {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let mut chunks = Box::pin(
            self.docker
                .download_from_container(container, Some(options)),
        );
        let mut archive = Vec::new();
        // The tar adds headers and padding around the file: allow for them.
        let limit = max_bytes.saturating_add(64 * 1024);
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let e = DockerError::from(e);
                    if e.is_not_found() {
                        return Ok(CopiedFile::Missing);
                    }
                    return Err(e);
                }
            };
            archive.extend_from_slice(&chunk);
            if archive.len() as u64 > limit {
                return Ok(CopiedFile::Refused(format!(
                    "it is larger than {max_bytes} bytes"
                )));
            }
        }
        Ok(single_file(&archive, max_bytes))
    }
}

/// The one regular file of a tar holding a single path.
fn single_file(archive: &[u8], max_bytes: u64) -> CopiedFile {
    let mut tar = tar::Archive::new(archive);
    let Ok(mut entries) = tar.entries() else {
        return CopiedFile::Refused("Docker sent an unreadable archive".into());
    };
    let Some(Ok(mut entry)) = entries.next() else {
        return CopiedFile::Refused("Docker sent an empty archive".into());
    };
    let kind = entry.header().entry_type();
    if !kind.is_file() {
        return CopiedFile::Refused(if kind.is_dir() {
            "it is a directory".into()
        } else {
            "it is not a regular file".into()
        });
    }
    if entry.size() > max_bytes {
        return CopiedFile::Refused(format!("it is larger than {max_bytes} bytes"));
    }
    let mut bytes = Vec::new();
    match std::io::Read::read_to_end(&mut entry, &mut bytes) {
        Ok(_) => CopiedFile::Copied(bytes),
        Err(e) => CopiedFile::Refused(format!("Docker sent an unreadable archive: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(name: &str, body: &[u8], kind: tar::EntryType) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, body).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn reads_the_file_and_refuses_what_is_not_one() {
        let file = tar_of("junit.xml", b"<testsuites/>", tar::EntryType::Regular);
        assert_eq!(
            single_file(&file, 100),
            CopiedFile::Copied(b"<testsuites/>".to_vec())
        );
        assert!(matches!(single_file(&file, 3), CopiedFile::Refused(m) if m.contains("larger")));
        let dir = tar_of("reports", b"", tar::EntryType::Directory);
        assert_eq!(
            single_file(&dir, 100),
            CopiedFile::Refused("it is a directory".into())
        );
        assert!(matches!(single_file(b"", 100), CopiedFile::Refused(_)));
    }
}
