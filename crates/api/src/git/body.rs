//! A git client's request body, read as it arrives: gunzipped when the client sent it
//! with `Content-Encoding: gzip` (git does for larger fetch negotiations), parsed as
//! pkt-lines at its start and then streamed on as raw bytes (a push's pack).

use std::io::Write as _;

use axum::body::{Body, BodyDataStream};
use axum::http::HeaderMap;
use bytes::Bytes;
use flate2::write::GzDecoder;
use futures_util::StreamExt as _;

use super::pkt::{self, Pkt};

pub struct Incoming {
    stream: BodyDataStream,
    gzip: Option<GzDecoder<Vec<u8>>>,
    /// Decoded bytes not consumed yet.
    buf: Vec<u8>,
    ended: bool,
}

impl Incoming {
    /// `Err` names an encoding git never sends.
    pub fn new(body: Body, headers: &HeaderMap) -> Result<Self, String> {
        let encoding = headers
            .get(axum::http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase());
        let gzip = match encoding.as_deref() {
            None | Some("" | "identity") => None,
            Some("gzip" | "x-gzip") => Some(GzDecoder::new(Vec::new())),
            Some(other) => return Err(format!("unsupported Content-Encoding {other}")),
        };
        Ok(Self {
            stream: body.into_data_stream(),
            gzip,
            buf: Vec::new(),
            ended: false,
        })
    }

    /// Reads more of the body into the buffer; false once it has all been read.
    async fn fill(&mut self) -> Result<bool, String> {
        if self.ended {
            return Ok(false);
        }
        match self.stream.next().await {
            Some(Ok(chunk)) => {
                match &mut self.gzip {
                    Some(decoder) => {
                        decoder.write_all(&chunk).map_err(|e| {
                            format!("the gzip-encoded request body is corrupt: {e}")
                        })?;
                        self.buf.append(decoder.get_mut());
                    }
                    None => self.buf.extend_from_slice(&chunk),
                }
                Ok(true)
            }
            Some(Err(e)) => Err(format!("reading the request body: {e}")),
            None => {
                self.ended = true;
                if let Some(decoder) = &mut self.gzip {
                    decoder
                        .try_finish()
                        .map_err(|e| format!("the gzip-encoded request body is corrupt: {e}"))?;
                    self.buf.append(decoder.get_mut());
                }
                Ok(!self.buf.is_empty())
            }
        }
    }

    /// The next pkt-line; `Ok(None)` when the body ended (a client that gave up).
    pub async fn pkt(&mut self) -> Result<Option<Pkt>, String> {
        loop {
            if let Some((packet, used)) = pkt::parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(packet));
            }
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err("the request body ends inside a pkt-line".to_owned())
                };
            }
        }
    }

    /// The next bytes of the rest of the body, as they come; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            if !self.buf.is_empty() {
                return Ok(Some(Bytes::from(std::mem::take(&mut self.buf))));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(body: Body, headers: &HeaderMap) -> (Vec<Pkt>, Vec<u8>) {
        let mut incoming = Incoming::new(body, headers).unwrap();
        let mut packets = Vec::new();
        while let Some(packet) = incoming.pkt().await.unwrap() {
            let flush = packet == Pkt::Flush;
            packets.push(packet);
            if flush {
                break;
            }
        }
        let mut rest = Vec::new();
        while let Some(chunk) = incoming.chunk().await.unwrap() {
            rest.extend_from_slice(&chunk);
        }
        (packets, rest)
    }

    #[tokio::test]
    async fn a_gzip_encoded_body_reads_as_the_plain_one() {
        let mut plain = pkt::line(b"want 0123\n");
        plain.extend_from_slice(pkt::FLUSH);
        plain.extend_from_slice(b"PACK and the rest");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&plain).unwrap();
        let gzipped = encoder.finish().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        let from_gzip = read_all(Body::from(gzipped), &headers).await;
        let from_plain = read_all(Body::from(plain), &HeaderMap::new()).await;
        assert_eq!(from_gzip, from_plain);
        assert_eq!(
            from_plain.0,
            [Pkt::Data(b"want 0123\n".to_vec()), Pkt::Flush]
        );
        assert_eq!(from_plain.1, b"PACK and the rest");
        headers.insert("content-encoding", "br".parse().unwrap());
        assert!(Incoming::new(Body::empty(), &headers).is_err());
    }
}
