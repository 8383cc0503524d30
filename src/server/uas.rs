//! The reference server's SIP behaviour, pure and I/O-free: a small registrar and UAS.
//!
//! | request  | answer |
//! |----------|--------|
//! | OPTIONS  | 200 with Allow/Accept/Supported and Date (RFC 3261 §20.17: generators read the server's clock from it) |
//! | REGISTER | 200 with the bindings in force (Expires honoured up to the registrar's cap), 400 on a bad wildcard, 403 past `max_contacts`, 503 with Retry-After past `max_records` |
//! | MESSAGE  | 200 |
//! | INVITE   | 100, 180, 200 with an SDP answer |
//! | ACK      | nothing |
//! | BYE      | 200 |
//! | other    | 501 |
//! | malformed| 400 (505 for another SIP version), echoing the dialog headers that could be found |

use std::borrow::Cow;
use std::time::Instant;

use crate::sip::{Header, Message, Method, ParseError, Request, Response, reason_phrase};

use super::auth::{Auth, Verdict};
use super::registrar::{RETRY_AFTER_SECS, Registrar, parse_contact, split_name_addr};

/// Methods the server answers (the `Allow` header).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE";

const SDP_ANSWER: &str = "v=0\r\no=sipbench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// What a request did, for the server's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with this final status.
    Answered(u16),
    /// Nothing to answer (ACK).
    Absorbed,
}

/// Handles one parsed request, appending the wire bytes of every response to `out`.
/// A response message is ignored.
/// With `auth`, REGISTER and MESSAGE must carry credentials that verify, else they are
/// challenged ([`Auth::check`]). `date` (an RFC 1123 date, the caller's clock) goes into the
/// OPTIONS answer's `Date` header.
pub fn handle_request(
    msg: &Message<'_>,
    registrar: &Registrar,
    auth: Option<&Auth>,
    to_tag: &str,
    (now, date): (Instant, &str),
    out: &mut Vec<u8>,
) -> Outcome {
    let Message::Request(req) = msg else {
        return Outcome::Absorbed;
    };
    if let Some(auth) = auth
        && let Verdict::Challenge { status, headers } = auth.check(msg, req, now)
    {
        let mut r = Response::for_request(req, status, reason_phrase(status), to_tag);
        for (name, value) in headers {
            r.headers.push(Header {
                name: name.into(),
                value: value.into(),
            });
        }
        write(r, out);
        return Outcome::Answered(status);
    }
    match req.method {
        Method::Options => {
            // Written straight into `out` (no response built): the kept-session path.
            let extra = [
                ("Allow", ALLOW),
                ("Accept", "application/sdp"),
                ("Supported", "outbound"),
                ("Date", date),
            ];
            let n = if date.is_empty() { 3 } else { 4 };
            Response::encode_for_request(req, 200, "OK", to_tag, extra.get(..n).unwrap_or_default(), out);
            Outcome::Answered(200)
        }
        Method::Register => register(msg, req, registrar, to_tag, now, out),
        Method::Message | Method::Bye => {
            Response::encode_for_request(req, 200, "OK", to_tag, &[], out);
            Outcome::Answered(200)
        }
        Method::Invite => {
            write(Response::for_request(req, 100, "Trying", to_tag), out);
            write(Response::for_request(req, 180, "Ringing", to_tag), out);
            let mut ok = Response::for_request(req, 200, "OK", to_tag);
            ok.headers.push(header("Contact", "<sip:uas@127.0.0.1;transport=tls>"));
            set_body(&mut ok, "application/sdp", SDP_ANSWER.as_bytes());
            write(ok, out);
            Outcome::Answered(200)
        }
        Method::Ack => Outcome::Absorbed,
        _ => {
            let mut r = Response::for_request(req, 501, "Not Implemented", to_tag);
            r.headers.push(header("Allow", ALLOW));
            write(r, out);
            Outcome::Answered(501)
        }
    }
}

fn register(
    msg: &Message<'_>,
    req: &Request<'_>,
    registrar: &Registrar,
    to_tag: &str,
    now: Instant,
    out: &mut Vec<u8>,
) -> Outcome {
    let Some(to) = msg.header("To") else {
        return bad_request(req, to_tag, "missing To", out);
    };
    let (aor, _) = split_name_addr(to);
    // One past the bound is enough for the registrar to refuse: a request listing thousands of
    // contacts costs no more than one listing `max_contacts + 1`.
    let most = registrar.limits().max_contacts.saturating_add(1);
    let contacts: Vec<_> = msg.header_values("Contact").take(most).map(parse_contact).collect();
    let expires = msg.expires();
    match registrar.register(aor, &contacts, expires, now) {
        Ok(bindings) => {
            let mut r = Response::for_request(req, 200, "OK", to_tag);
            for (contact, secs) in bindings {
                r.headers.push(Header {
                    name: "Contact".into(),
                    value: format!("<{contact}>;expires={secs}").into(),
                });
            }
            write(r, out);
            Outcome::Answered(200)
        }
        Err(e) if e.status() == 400 => bad_request(req, to_tag, &e.to_string(), out),
        Err(e) => {
            // A refusal past the registrar's bounds: the status is chosen and justified in
            // `RegisterError::status`; nothing of the request's contacts is echoed.
            let status = e.status();
            let mut r = Response::for_request(req, status, reason_phrase(status), to_tag);
            if status == 503 {
                r.headers.push(Header {
                    name: "Retry-After".into(),
                    value: RETRY_AFTER_SECS.to_string().into(),
                });
            }
            r.headers.push(warning(&e.to_string()));
            write(r, out);
            Outcome::Answered(status)
        }
    }
}

fn warning(why: &str) -> Header<'static> {
    Header {
        name: "Warning".into(),
        value: format!("399 sipbench \"{}\"", why.replace('"', "'")).into(),
    }
}

fn bad_request(req: &Request<'_>, to_tag: &str, why: &str, out: &mut Vec<u8>) -> Outcome {
    let mut r = Response::for_request(req, 400, "Bad Request", to_tag);
    r.headers.push(warning(why));
    write(r, out);
    Outcome::Answered(400)
}

/// Answers bytes that framed as a message but did not parse: 505 for another SIP version, else
/// 400 with a Warning. The Via, From, To, Call-ID and CSeq lines found in the raw header section
/// are echoed verbatim so that the sender can match the response; nothing is echoed when none is
/// found, and nothing at all is sent for a malformed response.
pub fn answer_malformed(raw: &[u8], err: &ParseError, out: &mut Vec<u8>) -> Option<u16> {
    if raw.starts_with(b"SIP/") {
        return None;
    }
    let status = if matches!(err, ParseError::BadVersion(_)) {
        505
    } else {
        400
    };
    out.extend_from_slice(format!("SIP/2.0 {status} {}\r\n", reason_phrase(status)).as_bytes());
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    for line in raw[..head_end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon]);
        let name = name.trim();
        if ["Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    let why = err.to_string().replace(['"', '\r', '\n'], "'");
    out.extend_from_slice(format!("Warning: 399 sipbench \"{why}\"\r\nContent-Length: 0\r\n\r\n").as_bytes());
    Some(status)
}

fn header(name: &'static str, value: &'static str) -> Header<'static> {
    Header {
        name: Cow::Borrowed(name),
        value: Cow::Borrowed(value),
    }
}

/// Replaces the body and its Content-Type/Content-Length headers.
fn set_body<'a>(r: &mut Response<'a>, content_type: &'static str, body: &'a [u8]) {
    r.headers
        .retain(|h| !h.name.eq_ignore_ascii_case("Content-Length") && !h.name.eq_ignore_ascii_case("Content-Type"));
    r.headers.push(header("Content-Type", content_type));
    r.headers.push(Header {
        name: "Content-Length".into(),
        value: body.len().to_string().into(),
    });
    r.body = Cow::Borrowed(body);
}

fn write(r: Response<'_>, out: &mut Vec<u8>) {
    // Content-Length stays last so appended headers come before it.
    let mut r = r;
    if let Some(pos) = r
        .headers
        .iter()
        .position(|h| h.name.eq_ignore_ascii_case("Content-Length"))
    {
        let cl = r.headers.remove(pos);
        r.headers.push(cl);
    }
    Message::Response(r).encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Message<'_> {
        Message::parse(text.as_bytes()).expect("test request parses")
    }

    fn responses(out: &[u8]) -> Vec<Message<'static>> {
        let mut buf = bytes::BytesMut::from(out);
        let mut framer = crate::sip::Framer::new(crate::sip::Role::Client, crate::sip::DEFAULT_MAX_MESSAGE_SIZE);
        let mut v = Vec::new();
        while let Some(crate::sip::Frame::Message(b)) = framer.decode(&mut buf).unwrap() {
            v.push(Message::parse(&b).unwrap().into_owned());
        }
        v
    }

    const DATE: &str = "Sat, 13 Nov 2010 23:29:00 GMT";

    const HDRS: &str = "Via: SIP/2.0/TLS 127.0.0.1:5062;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:alice@example.test>\r\nCall-ID: c1@x\r\n";

    fn run(method: &str, extra: &str) -> (Outcome, Vec<Message<'static>>) {
        let text =
            format!("{method} sip:example.test SIP/2.0\r\n{HDRS}CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n");
        let m = req(&text);
        let mut out = Vec::new();
        let o = handle_request(
            &m,
            &Registrar::default(),
            None,
            "srv1",
            (Instant::now(), DATE),
            &mut out,
        );
        (o, responses(&out))
    }

    fn status(m: &Message<'_>) -> u16 {
        match m {
            Message::Response(r) => r.status,
            Message::Request(_) => panic!("expected a response"),
        }
    }

    #[test]
    fn answers_each_method() {
        let (o, rs) = run("OPTIONS", "");
        assert_eq!(o, Outcome::Answered(200));
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].header("Allow"), Some(ALLOW));
        assert_eq!(rs[0].to_tag(), Some("srv1"));
        assert_eq!(rs[0].call_id(), Some("c1@x"));
        assert_eq!(rs[0].top_via_branch(), Some("z9hG4bK1"));
        assert_eq!(rs[0].header("Date"), Some(DATE));

        let (_, rs) = run("INVITE", "Contact: <sip:alice@127.0.0.1>\r\n");
        assert_eq!(rs.iter().map(status).collect::<Vec<_>>(), vec![100, 180, 200]);
        assert!(rs[2].body().starts_with(b"v=0"));
        assert_eq!(rs[2].header("Content-Type"), Some("application/sdp"));

        assert_eq!(run("ACK", "").0, Outcome::Absorbed);
        assert_eq!(run("BYE", "").0, Outcome::Answered(200));
        assert_eq!(run("MESSAGE", "").0, Outcome::Answered(200));
        let (o, rs) = run("SUBSCRIBE", "");
        assert_eq!(o, Outcome::Answered(501));
        assert_eq!(status(&rs[0]), 501);
    }

    #[test]
    fn register_returns_bindings() {
        let (o, rs) = run(
            "REGISTER",
            "Contact: <sip:alice@127.0.0.1:5062;transport=tls>\r\nExpires: 120\r\n",
        );
        assert_eq!(o, Outcome::Answered(200));
        let contact = rs[0].header("Contact").unwrap();
        assert_eq!(contact, "<sip:alice@127.0.0.1:5062;transport=tls>;expires=120");
        let (o, _) = run("REGISTER", "Contact: *\r\nExpires: 30\r\n");
        assert_eq!(o, Outcome::Answered(400));
    }

    #[test]
    fn register_bounds_answer_403_503_and_capped_expires() {
        let (o, rs) = run("REGISTER", "Contact: <sip:alice@127.0.0.1>\r\nExpires: 86400\r\n");
        assert_eq!(o, Outcome::Answered(200));
        assert_eq!(rs[0].header("Contact"), Some("<sip:alice@127.0.0.1>;expires=3600"));

        let registrar = Registrar::new(super::super::registrar::Limits {
            max_contacts: 2,
            max_records: 1,
            max_expires: 3600,
        });
        let send = |to: &str, contacts: &str| {
            let text = format!(
                "REGISTER sip:example.test SIP/2.0\r\n{}To: <{to}>\r\nCall-ID: c1@x\r\nCSeq: 1 REGISTER\r\n{contacts}Content-Length: 0\r\n\r\n",
                &HDRS[..HDRS.find("To:").unwrap()]
            );
            let mut out = Vec::new();
            let o = handle_request(&req(&text), &registrar, None, "srv1", (Instant::now(), DATE), &mut out);
            (o, responses(&out))
        };
        let three = "Contact: <sip:a@h>, <sip:b@h>\r\nContact: <sip:c@h>\r\n";
        let (o, rs) = send("sip:alice@example.test", three);
        assert_eq!(o, Outcome::Answered(403));
        assert_eq!(rs[0].header("Contact"), None);
        assert!(rs[0].header("Warning").unwrap().contains("more than 2 contacts"));
        let (o, _) = send("sip:alice@example.test", "Contact: <sip:a@h>\r\n");
        assert_eq!(o, Outcome::Answered(200));
        let (o, rs) = send("sip:bob@example.test", "Contact: <sip:b@h>\r\n");
        assert_eq!(o, Outcome::Answered(503));
        assert_eq!(rs[0].header("Retry-After"), Some("60"));
    }

    #[test]
    fn malformed_gets_400_with_dialog_headers() {
        let raw =
            b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKq\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
        let err = Message::parse(raw).unwrap_err();
        let mut out = Vec::new();
        assert_eq!(answer_malformed(raw, &err, &mut out), Some(400));
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKq\r\nCSeq: 1 BYE\r\n"),
            "{text}"
        );
        let raw = b"OPTIONS sip:x SIP/7.0\r\nContent-Length: 0\r\n\r\n";
        let err = Message::parse(raw).unwrap_err();
        let mut out = Vec::new();
        assert_eq!(answer_malformed(raw, &err, &mut out), Some(505));
        assert_eq!(answer_malformed(b"SIP/2.0 200 OK\r\n\r\n", &err, &mut Vec::new()), None);
    }
}
