//! Shared by the in-memory TLS benches: moving TLS bytes between a client and a server
//! connection in one thread.

use std::ops::DerefMut;

use rustls::{ConnectionCommon, SideData};

/// Moves everything `from` wants to send into `to`, processing it; returns the bytes moved.
pub fn transfer(
    from: &mut impl DerefMut<Target = ConnectionCommon<impl SideData>>,
    to: &mut impl DerefMut<Target = ConnectionCommon<impl SideData>>,
    buf: &mut Vec<u8>,
) -> usize {
    let mut moved = 0;
    while from.wants_write() {
        buf.clear();
        let n = from.write_tls(buf).expect("write_tls to a Vec cannot fail");
        if n == 0 {
            break;
        }
        moved += n;
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let read = to.read_tls(&mut rest).expect("read_tls from a slice");
            assert!(read > 0, "read_tls made no progress");
            to.process_new_packets().expect("peer rejected a TLS message");
        }
    }
    moved
}
