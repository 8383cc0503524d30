//! SIP message parsing: `Message::parse` on arbitrary bytes, then, for a message that parses,
//! every accessor the server and the load generator use (headers, Call-ID, CSeq, tags, the top
//! Via branch, Expires, the Contact list), the response the server builds for a request, and a
//! re-encode.
//!
//! Nothing may panic. A parsed message's re-encoding must parse again, as a message of the same
//! kind with the same headers and body (the encoder writes what the parser read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbench::sip::{Message, Method, Response, reason_phrase};

/// Header names the server and generator look up (long and compact forms).
const NAMES: &[&str] = &[
    "Via",
    "v",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Contact",
    "m",
    "Expires",
    "Route",
    "Record-Route",
    "Content-Length",
    "l",
    "Content-Type",
    "c",
    "Max-Forwards",
    "Allow",
    "Supported",
    "k",
];

fn exercise(msg: &Message<'_>) {
    for h in msg.headers() {
        let _ = (h.name.len(), h.value.len());
    }
    let _ = msg.body().len();
    for name in NAMES {
        let _ = msg.header(name);
        for v in msg.header_values(name) {
            let _ = v.len();
        }
    }
    let _ = msg.call_id();
    if let Some((n, m)) = msg.cseq() {
        let _ = (n, m.as_str(), Method::parse(m.as_str()));
    }
    let _ = msg.from_tag();
    let _ = msg.to_tag();
    let _ = msg.top_via_branch();
    let _ = msg.expires();
    match msg {
        Message::Request(req) => {
            let _ = req.method.as_str();
            // What the server answers with: every header it copies comes from the request.
            for status in [100, 200, 400, 501] {
                let r = Response::for_request(req, status, reason_phrase(status), "fuzz-tag");
                let mut out = Vec::new();
                Message::Response(r).encode(&mut out);
                assert!(
                    Message::parse(&out).is_ok(),
                    "the {status} response to a parsed request does not parse: {:?}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
        Message::Response(resp) => {
            let _ = reason_phrase(resp.status);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else { return };
    exercise(&msg);
    let mut out = Vec::new();
    msg.encode(&mut out);
    let again = match Message::parse(&out) {
        Ok(m) => m,
        Err(e) => panic!(
            "a parsed message re-encodes to one that does not parse ({e}): {:?}",
            String::from_utf8_lossy(&out)
        ),
    };
    assert_eq!(
        matches!(msg, Message::Request(_)),
        matches!(again, Message::Request(_)),
        "re-encoding changed the message kind"
    );
    assert_eq!(msg.body(), again.body(), "re-encoding changed the body");
    let owned = msg.into_owned();
    exercise(&owned);
});
