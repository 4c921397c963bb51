//! The end of one whole HTTP/1.1 response in a buffer, for the benches' own clients (`allocations`, blocking
//! `idle_memory`): the head up to its blank line, then `Content-Length` body bytes. The origin always sends
//! `Content-Length`, so nothing else is needed here; a bench that gets anything else panics, as a bench may.

/// The length of the whole response at the start of `filled`, once it is all there; `None` while it is not.
pub fn complete_response(filled: &[u8]) -> Option<usize> {
    let head_end = filled.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&filled[..head_end]).expect("a text head");
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    (filled.len() >= head_end + length).then_some(head_end + length)
}
