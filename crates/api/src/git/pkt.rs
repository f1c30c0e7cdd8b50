//! git's pkt-line framing: a 4-hex-digit length (including itself) and the data, `0000`
//! for a flush; and side-band, where the first data byte says which stream a packet
//! carries (1: the protocol, 2: progress shown as `remote:` lines, 3: a fatal error).

/// The largest pkt-line data git sends or accepts (65520 minus the 4-byte header).
pub const MAX_DATA: usize = 65516;
pub const FLUSH: &[u8] = b"0000";

#[derive(Debug, PartialEq, Eq)]
pub enum Pkt {
    Flush,
    /// `0001` (protocol v2's delimiter) and `0002` (its response end).
    Special(u8),
    Data(Vec<u8>),
}

/// One packet holding `data`, which must be at most [`MAX_DATA`] bytes.
pub fn line(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:04x}", data.len() + 4).into_bytes();
    out.extend_from_slice(data);
    out
}

/// `data` on side-band `band`, split into as many packets as it takes.
pub fn band(band: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for chunk in data.chunks(MAX_DATA - 1) {
        let mut framed = Vec::with_capacity(chunk.len() + 1);
        framed.push(band);
        framed.extend_from_slice(chunk);
        out.extend(line(&framed));
    }
    out
}

/// Reads one packet from the front of `buf`: `Ok(None)` when `buf` does not yet hold
/// a whole one, else the packet and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Pkt, usize)>, String> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = std::str::from_utf8(head)
        .ok()
        .and_then(|h| usize::from_str_radix(h, 16).ok())
        .ok_or_else(|| format!("bad pkt-line length {:?}", String::from_utf8_lossy(head)))?;
    match len {
        0 => return Ok(Some((Pkt::Flush, 4))),
        1 | 2 => return Ok(Some((Pkt::Special(len as u8), 4))),
        3 => return Err("bad pkt-line length 3".to_owned()),
        _ => {}
    }
    if len > MAX_DATA + 4 {
        return Err(format!("pkt-line of {len} bytes is too long"));
    }
    Ok(buf.get(4..len).map(|data| (Pkt::Data(data.to_vec()), len)))
}

/// Every packet of a complete message, such as git's own output.
pub fn parse_all(mut buf: &[u8]) -> Result<Vec<Pkt>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (pkt, used) = parse(buf)?.ok_or("truncated pkt-line")?;
        out.push(pkt);
        buf = &buf[used..];
    }
    Ok(out)
}

/// A packet's text without its trailing newline.
pub fn text(data: &[u8]) -> &[u8] {
    data.strip_suffix(b"\n").unwrap_or(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_flushes_and_partial_packets_are_told_apart() {
        let mut wire = line(b"unpack ok\n");
        assert_eq!(&wire[..4], b"000e");
        wire.extend_from_slice(FLUSH);
        wire.extend_from_slice(b"0009ab");
        let (first, used) = parse(&wire).unwrap().unwrap();
        assert_eq!(first, Pkt::Data(b"unpack ok\n".to_vec()));
        let (second, used2) = parse(&wire[used..]).unwrap().unwrap();
        assert_eq!(second, Pkt::Flush);
        assert_eq!(parse(&wire[used + used2..]).unwrap(), None);
        assert!(parse(b"zzzz").is_err());
        assert!(parse(b"0003").is_err());
    }

    #[test]
    fn side_band_splits_long_data_into_packets_git_accepts() {
        let data = vec![b'x'; MAX_DATA * 2];
        let packets = parse_all(&band(2, &data)).unwrap();
        assert_eq!(packets.len(), 3);
        let mut joined = Vec::new();
        for p in packets {
            let Pkt::Data(d) = p else { panic!("not data") };
            assert_eq!(d[0], 2);
            assert!(d.len() <= MAX_DATA);
            joined.extend_from_slice(&d[1..]);
        }
        assert_eq!(joined, data);
    }
}
