//! SIP message model, strict stateless parser and encoder (RFC 3261).
//!
//! [`Message::parse`] checks and parses one complete message held in a byte
//! slice.  It borrows everything it can from the input: the only allocation
//! on the common path is the `Vec` of headers.  Folded header values (LWS
//! continuation lines) are unfolded into an owned string, and extension
//! methods are stored as [`Method::Other`].  Malformed input gives a
//! [`ParseError`]; the parser never panics.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The SIP protocol version this codec speaks.
const SIP_VERSION: &str = "SIP/2.0";

/// A SIP request method (RFC 3261 §7.1 and extensions).
///
/// Methods are case-sensitive: `invite` is an extension method, not
/// [`Method::Invite`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `INVITE` (RFC 3261).
    Invite,
    /// `ACK` (RFC 3261).
    Ack,
    /// `BYE` (RFC 3261).
    Bye,
    /// `CANCEL` (RFC 3261).
    Cancel,
    /// `REGISTER` (RFC 3261).
    Register,
    /// `OPTIONS` (RFC 3261).
    Options,
    /// `MESSAGE` (RFC 3428).
    Message,
    /// `INFO` (RFC 6086).
    Info,
    /// `PRACK` (RFC 3262).
    Prack,
    /// `UPDATE` (RFC 3311).
    Update,
    /// `SUBSCRIBE` (RFC 6665).
    Subscribe,
    /// `NOTIFY` (RFC 6665).
    Notify,
    /// `REFER` (RFC 3515).
    Refer,
    /// `PUBLISH` (RFC 3903).
    Publish,
    /// Any other (extension) method; always a valid RFC 3261 token.
    Other(String),
}

impl Method {
    /// The method name as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Message => "MESSAGE",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }

    /// Parses a method token (case-sensitive, RFC 3261 `token` characters only).
    pub fn parse(token: &str) -> Result<Method, ParseError> {
        Ok(match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "MESSAGE" => Method::Message,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "PUBLISH" => Method::Publish,
            other if is_token(other) => Method::Other(other.to_owned()),
            _ => return Err(ParseError::BadMethod),
        })
    }

    /// True if `token` names this method, without allocating.
    fn matches(&self, token: &str) -> bool {
        self.as_str() == token
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Method, ParseError> {
        Method::parse(s)
    }
}

/// One header field.  `value` is unfolded (each CRLF + whitespace run becomes
/// a single SP) and trimmed of leading and trailing SP/HTAB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name exactly as received (e.g. `Via`, `v`, `cseq`).
    pub name: Cow<'a, str>,
    /// Header value (unfolded, trimmed).
    pub value: Cow<'a, str>,
}

impl<'a> Header<'a> {
    /// Builds a header from anything convertible into `Cow<str>`.
    pub fn new(name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Header<'a> {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Copies borrowed data so the header no longer borrows the input.
    pub fn into_owned(self) -> Header<'static> {
        Header {
            name: Cow::Owned(self.name.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Request method.
    pub method: Method,
    /// Request-URI, verbatim.
    pub uri: Cow<'a, str>,
    /// Headers in wire order.
    pub headers: Vec<Header<'a>>,
    /// Message body (raw bytes).
    pub body: Cow<'a, [u8]>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code, 100..=699.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: Cow<'a, str>,
    /// Headers in wire order.
    pub headers: Vec<Header<'a>>,
    /// Message body (raw bytes).
    pub body: Cow<'a, [u8]>,
}

/// A SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request.
    Request(Request<'a>),
    /// A response.
    Response(Response<'a>),
}

/// Why a message was rejected by [`Message::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input is empty.
    #[error("empty message")]
    Empty,
    /// No blank line (CRLF CRLF) terminates the header section.
    #[error("incomplete message: header section is not terminated by an empty line")]
    Incomplete,
    /// The start line or header section is not valid UTF-8.
    #[error("start line or headers are not valid UTF-8")]
    NotUtf8,
    /// The start line does not have the form `METHOD SP URI SP SIP/2.0` or
    /// `SIP/2.0 SP code SP reason`.
    #[error("malformed start line")]
    BadStartLine,
    /// A well-formed but unsupported SIP version (answer with 505).
    #[error("unsupported SIP version {0:?}")]
    BadVersion(String),
    /// The method is not a valid token.
    #[error("malformed method")]
    BadMethod,
    /// The Request-URI is malformed (no scheme, angle brackets, escaped headers, bad escapes).
    #[error("malformed Request-URI")]
    BadRequestUri,
    /// The status code is not three digits in 100..=699.
    #[error("status code is not three digits in 100..=699")]
    BadStatusCode,
    /// The reason phrase contains control characters.
    #[error("malformed reason phrase")]
    BadReasonPhrase,
    /// A header line is malformed (bad name, missing colon, stray CR/LF, ...).
    #[error("malformed header on line {line}")]
    BadHeader {
        /// 1-based line number in the message (the start line is line 1).
        line: usize,
    },
    /// A mandatory header is absent.
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// A single-valued header appears more than once.
    #[error("header {0} must not appear more than once")]
    DuplicateHeader(&'static str),
    /// The CSeq header is not `1*DIGIT LWS Method`.
    #[error("malformed CSeq header")]
    BadCSeq,
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Content-Length is not a non-negative decimal number.
    #[error("malformed Content-Length header")]
    BadContentLength,
    /// Content-Length declares more bytes than the message has.
    #[error("Content-Length is {declared} but the body has {actual} bytes")]
    BodyLengthMismatch {
        /// The declared Content-Length.
        declared: usize,
        /// The number of body bytes present.
        actual: usize,
    },
    /// A numeric header value is outside its legal range.
    #[error("value of {0} is out of range")]
    ValueOutOfRange(&'static str),
    /// A numeric header value is not a decimal number.
    #[error("malformed numeric value in {0}")]
    BadNumber(&'static str),
    /// A quoted string is not terminated.
    #[error("unbalanced quotes in {0}")]
    UnbalancedQuotes(&'static str),
    /// An unquoted display name contains non-token characters.
    #[error("display name in {0} must be quoted")]
    BadDisplayName(&'static str),
    /// A name-addr / addr-spec is malformed (spaces in URI, no scheme, bad params).
    #[error("malformed address in {0}")]
    BadAddress(&'static str),
    /// An addr-spec containing `?` or `,` outside `<>` (RFC 3261 §20.10).
    #[error("address in {0} must be enclosed in <> because its URI has headers or commas")]
    AmbiguousAddrSpec(&'static str),
    /// A Via header value is malformed.
    #[error("malformed Via header")]
    BadVia,
    /// The Call-ID is empty or contains whitespace or control characters.
    #[error("malformed Call-ID header")]
    BadCallId,
}

// ---------------------------------------------------------------------------
// Character classes and small helpers
// ---------------------------------------------------------------------------

/// Byte-class bits for [`CLASS`].
const C_TOKEN: u8 = 1;
/// Generic-param value characters besides tokens: `[`, `]`, `:`.
const C_PVALUE: u8 = 2;
/// Via sent-by host characters: alphanumerics and `.`, `-`, `_`.
const C_HOST: u8 = 4;
/// Bytes that matter when splitting a list at top-level commas.
const C_LIST: u8 = 8;

/// Per-byte character classes, so the hot scanning loops are one table
/// lookup per byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
        {
            c |= C_TOKEN | C_PVALUE;
        }
        if matches!(b, b'[' | b']' | b':') {
            c |= C_PVALUE;
        }
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            c |= C_HOST;
        }
        if matches!(b, b'\\' | b'"' | b'<' | b'>' | b',') {
            c |= C_LIST;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// RFC 3261 `token` character.
#[inline]
fn is_token_char(b: u8) -> bool {
    CLASS[usize::from(b)] & C_TOKEN != 0
}

/// True if `s` is a non-empty RFC 3261 token.
fn is_token(s: &str) -> bool {
    is_token_bytes(s.as_bytes())
}

/// True if `s` is a non-empty RFC 3261 token.
#[inline]
fn is_token_bytes(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

#[inline]
fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims SP and HTAB only (not Unicode whitespace).
#[inline]
fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && b.get(start).is_some_and(|&c| is_wsp(c)) {
        start += 1;
    }
    while end > start && b.get(end - 1).is_some_and(|&c| is_wsp(c)) {
        end -= 1;
    }
    // SP/HTAB are ASCII, so both ends are char boundaries.
    s.get(start..end).unwrap_or("")
}

const LO_BYTES: u64 = 0x0101_0101_0101_0101;
const HI_BITS: u64 = 0x8080_8080_8080_8080;

/// SWAR: the high bit of each byte of the result is set where `x` has a
/// zero byte.  Bits above the lowest true zero may be spurious, so only the
/// lowest set bit is meaningful.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO_BYTES) & !x & HI_BITS
}

/// Index of the first byte of `hay` equal to one of `n1`, `n2` (eight bytes
/// per step, word-at-a-time).
#[inline(always)]
fn find_either(hay: &[u8], n1: u8, n2: u8) -> Option<usize> {
    let (r1, r2) = (LO_BYTES * u64::from(n1), LO_BYTES * u64::from(n2));
    let mut off = 0;
    let mut rest = hay;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        let x = u64::from_le_bytes(*chunk);
        let t = zero_bytes(x ^ r1) | zero_bytes(x ^ r2);
        if t != 0 {
            return Some(off + (t.trailing_zeros() / 8) as usize);
        }
        off += 8;
        rest = tail;
    }
    rest.iter().position(|&b| b == n1 || b == n2).map(|p| off + p)
}

/// Index of the first `needle` byte in `hay`.
#[inline]
pub(super) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    find_either(hay, needle, needle)
}

/// Index of the first CR or LF byte in `hay`.
#[inline]
fn find_cr_or_lf(hay: &[u8]) -> Option<usize> {
    find_either(hay, b'\r', b'\n')
}

/// Parses `1*DIGIT` into a u64, `None` if empty, non-digit or overflowing.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Parses a bounded decimal header value: `BadNumber` if not digits,
/// `ValueOutOfRange` if larger than `max`.
fn parse_bounded(s: &str, max: u64, what: &'static str) -> Result<u64, ParseError> {
    let s = trim_lws(s);
    if s.is_empty() {
        return Err(ParseError::BadNumber(what));
    }
    // Digits are checked first: a non-digit is `BadNumber` even after an
    // overflowing prefix.
    let mut v: Option<u64> = Some(0);
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(ParseError::BadNumber(what));
        }
        v = v.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(b - b'0')));
    }
    match v {
        Some(v) if v <= max => Ok(v),
        _ => Err(ParseError::ValueOutOfRange(what)),
    }
}

/// Finds the next CRLF at or after `from`; returns the index of the CR.
pub(super) fn find_crlf(hay: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let nl = i + find_byte(hay.get(i..)?, b'\n')?;
        if nl > from && hay.get(nl - 1) == Some(&b'\r') {
            return Some(nl - 1);
        }
        i = nl + 1;
    }
}

/// Locates the blank line ending the header section.  Returns the offset of
/// the first byte after CRLF CRLF, the number of CRLF-terminated lines and
/// the offset of the first CRLF (the end of the start line).
///
/// The lines are the runs between consecutive CRLFs, so the section ends at
/// the first `CRLF CRLF` in the buffer.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize, usize)> {
    let mut lines = 0usize;
    let mut first_crlf = None;
    let mut i = 0usize;
    loop {
        let nl = i + find_byte(buf.get(i..)?, b'\n')?;
        if nl > 0 && buf.get(nl - 1) == Some(&b'\r') {
            lines += 1;
            let crlf = nl - 1;
            if first_crlf.is_none() {
                first_crlf = Some(crlf);
            } else if crlf >= 2 && buf.get(crlf - 2..crlf) == Some(b"\r\n") {
                return Some((nl + 1, lines, first_crlf.unwrap_or(0)));
            }
        }
        i = nl + 1;
    }
}

// ---------------------------------------------------------------------------
// Header names
// ---------------------------------------------------------------------------

/// Compact header forms (RFC 3261 §7.3.3 and extensions).
fn compact_long_form(name: &str) -> Option<&'static str> {
    let [b] = name.as_bytes() else {
        return None;
    };
    Some(match b.to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'f' => "From",
        b't' => "To",
        b'v' => "Via",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'm' => "Contact",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'u' => "Allow-Events",
        b'x' => "Session-Expires",
        b'b' => "Referred-By",
        b'a' => "Accept-Contact",
        b'j' => "Reject-Contact",
        b'd' => "Request-Disposition",
        b'y' => "Identity",
        b'n' => "Identity-Info",
        _ => return None,
    })
}

/// The long form of a header name (compact forms expanded), borrowed.
fn long_name(name: &str) -> &str {
    compact_long_form(name).unwrap_or(name)
}

/// Case-insensitive header-name equality with compact forms; never allocates.
fn names_match(a: &str, b: &str) -> bool {
    long_name(a).eq_ignore_ascii_case(long_name(b))
}

/// Headers whose values are comma-separated lists (RFC 3261 §7.3.1).
fn is_list_header(name: &str) -> bool {
    const LIST: &[&str] = &[
        "Via",
        "Contact",
        "Route",
        "Record-Route",
        "Path",
        "Service-Route",
        "Allow",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Allow-Events",
        "Content-Encoding",
        "Content-Language",
        "Alert-Info",
        "Call-Info",
        "Error-Info",
        "In-Reply-To",
        "Warning",
        "Reply-To",
        "Accept-Contact",
        "Reject-Contact",
        "Request-Disposition",
    ];
    let long = long_name(name);
    LIST.iter().any(|l| l.eq_ignore_ascii_case(long))
}

/// Headers the parser interprets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    To,
    From,
    CSeq,
    CallId,
    Via,
    ContentLength,
    MaxForwards,
    Contact,
    Expires,
    Other,
}

/// Classifies a header name (compact forms included) by its length first,
/// so most names cost one or two short comparisons.
fn classify(name: &str) -> Known {
    let n = name.as_bytes();
    let eq = |s: &[u8]| n.eq_ignore_ascii_case(s);
    match n.len() {
        1 => match n.first().map(u8::to_ascii_lowercase) {
            Some(b't') => Known::To,
            Some(b'f') => Known::From,
            Some(b'i') => Known::CallId,
            Some(b'v') => Known::Via,
            Some(b'l') => Known::ContentLength,
            Some(b'm') => Known::Contact,
            _ => Known::Other,
        },
        2 if eq(b"to") => Known::To,
        3 if eq(b"via") => Known::Via,
        4 if eq(b"from") => Known::From,
        4 if eq(b"cseq") => Known::CSeq,
        7 if eq(b"call-id") => Known::CallId,
        7 if eq(b"contact") => Known::Contact,
        7 if eq(b"expires") => Known::Expires,
        12 if eq(b"max-forwards") => Known::MaxForwards,
        14 if eq(b"content-length") => Known::ContentLength,
        _ => Known::Other,
    }
}

// ---------------------------------------------------------------------------
// Structured value scanning (quotes, <>, commas, params)
// ---------------------------------------------------------------------------

/// Splits `s` on top-level commas (outside quoted strings and `<...>`).
struct CommaSplit<'s> {
    rest: Option<&'s str>,
}

impl<'s> Iterator for CommaSplit<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        loop {
            let (item, rest) = split_top_comma(self.rest?);
            self.rest = rest;
            let item = trim_lws(item);
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Iterates the values of one header line: split on commas for list headers.
struct HeaderValues<'s> {
    inner: CommaSplit<'s>,
    whole: Option<&'s str>,
}

impl<'s> HeaderValues<'s> {
    fn new(value: &'s str, list: bool) -> Self {
        if list {
            HeaderValues {
                inner: CommaSplit { rest: Some(value) },
                whole: None,
            }
        } else {
            HeaderValues {
                inner: CommaSplit { rest: None },
                whole: Some(value),
            }
        }
    }
}

impl<'s> Iterator for HeaderValues<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        match self.whole.take() {
            Some(v) => Some(v),
            None => self.inner.next(),
        }
    }
}

/// Scans a quoted string starting at `s[0] == '"'`; returns the index just
/// past the closing quote, or `None` if unterminated.
fn skip_quoted(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        match s.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Validates `*( SEMI generic-param )` where `s` starts at the first `;`
/// (or is empty / whitespace).
fn check_params(s: &str, what: &'static str) -> Result<(), ParseError> {
    let s = trim_lws(s);
    if s.is_empty() {
        return Ok(());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) != Some(&b';') {
            return Err(ParseError::BadAddress(what));
        }
        i += 1;
        while bytes.get(i).is_some_and(|&b| is_wsp(b)) {
            i += 1;
        }
        let start = i;
        while bytes.get(i).is_some_and(|&b| is_token_char(b)) {
            i += 1;
        }
        if i == start {
            return Err(ParseError::BadAddress(what));
        }
        while bytes.get(i).is_some_and(|&b| is_wsp(b)) {
            i += 1;
        }
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while bytes.get(i).is_some_and(|&b| is_wsp(b)) {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'"') => {
                    let rest = bytes.get(i..).unwrap_or_default();
                    i += skip_quoted(rest).ok_or(ParseError::UnbalancedQuotes(what))?;
                }
                _ => {
                    let vstart = i;
                    while bytes.get(i).is_some_and(|&b| CLASS[usize::from(b)] & C_PVALUE != 0) {
                        i += 1;
                    }
                    if i == vstart {
                        return Err(ParseError::BadAddress(what));
                    }
                }
            }
            while bytes.get(i).is_some_and(|&b| is_wsp(b)) {
                i += 1;
            }
        }
    }
    Ok(())
}

/// Validates a URI inside an address: non-empty, a scheme, no whitespace.
fn check_addr_uri(uri: &str, what: &'static str) -> Result<(), ParseError> {
    let b = uri.as_bytes();
    match scheme_len(b) {
        Some(n)
            if b.get(n + 1..)
                .unwrap_or_default()
                .iter()
                .all(|&c| c > b' ' && c != b'<' && c != b'>') =>
        {
            Ok(())
        }
        _ => Err(ParseError::BadAddress(what)),
    }
}

/// `scheme ":" ...` with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ):
/// the length of the scheme (the index of the first `:`), or `None`.
fn scheme_len(uri: &[u8]) -> Option<usize> {
    if !uri.first()?.is_ascii_alphabetic() {
        return None;
    }
    let mut i = 1;
    while uri
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        i += 1;
    }
    (uri.get(i) == Some(&b':')).then_some(i)
}

/// Validates one `(name-addr / addr-spec) *(SEMI param)` element of To, From
/// or Contact, following RFC 3261 §20.10 and RFC 4475 guidance.
fn check_address(v: &str, what: &'static str) -> Result<(), ParseError> {
    let v = trim_lws(v);
    let bytes = v.as_bytes();
    if bytes.is_empty() {
        return Err(ParseError::BadAddress(what));
    }
    // Locate '<' (after an optional display name).
    let angle_start = if bytes.first() == Some(&b'"') {
        let end = skip_quoted(bytes).ok_or(ParseError::UnbalancedQuotes(what))?;
        let mut lt = end;
        while bytes.get(lt).is_some_and(|&b| is_wsp(b)) {
            lt += 1;
        }
        if bytes.get(lt) != Some(&b'<') {
            return Err(ParseError::BadAddress(what));
        }
        Some(lt)
    } else {
        // Unquoted display name: *(token LWS); a token may touch '<' (RFC 4475 lwsdisp).
        let mut quote = false;
        let mut non_token = false;
        let mut lt = None;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'<' => {
                    lt = Some(i);
                    break;
                }
                b'"' => quote = true,
                _ => non_token |= !is_token_char(b) && !is_wsp(b),
            }
        }
        if quote {
            // In a display name, or anywhere in an addr-spec.
            return Err(ParseError::UnbalancedQuotes(what));
        }
        if lt.is_some() && non_token {
            return Err(ParseError::BadDisplayName(what));
        }
        lt
    };
    match angle_start {
        Some(lt) => {
            let after = v.get(lt + 1..).unwrap_or("");
            let gt = find_byte(after.as_bytes(), b'>').ok_or(ParseError::BadAddress(what))?;
            check_addr_uri(after.get(..gt).unwrap_or(""), what)?;
            check_params(after.get(gt + 1..).unwrap_or(""), what)
        }
        None => {
            // addr-spec: everything up to the first ';' is the URI; the rest are
            // header parameters.  '?' or ',' make it ambiguous (regbadct).
            let (uri, params) = match find_byte(bytes, b';') {
                Some(i) => (v.get(..i).unwrap_or(""), v.get(i..).unwrap_or("")),
                None => (v, ""),
            };
            let uri = trim_lws(uri);
            if uri.bytes().any(|b| b == b'?' || b == b',') {
                return Err(ParseError::AmbiguousAddrSpec(what));
            }
            check_addr_uri(uri, what)?;
            check_params(params, what)
        }
    }
}

/// Validates one Via element: `token SWS / SWS token SWS / SWS token LWS sent-by *(SEMI param)`.
fn check_via_element(v: &str) -> Result<(), ParseError> {
    let bytes = v.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while bytes.get(*i).is_some_and(|&b| is_wsp(b)) {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> Result<(), ParseError> {
        let s = *i;
        while bytes.get(*i).is_some_and(|&b| is_token_char(b)) {
            *i += 1;
        }
        if *i == s { Err(ParseError::BadVia) } else { Ok(()) }
    };
    token(&mut i)?;
    for _ in 0..2 {
        skip_ws(&mut i);
        if bytes.get(i) != Some(&b'/') {
            return Err(ParseError::BadVia);
        }
        i += 1;
        skip_ws(&mut i);
        token(&mut i)?;
    }
    let before = i;
    skip_ws(&mut i);
    if i == before {
        return Err(ParseError::BadVia);
    }
    // sent-by: host [ ":" port ]
    let hstart = i;
    if bytes.get(i) == Some(&b'[') {
        while bytes.get(i).is_some_and(|&b| b != b']') {
            i += 1;
        }
        if bytes.get(i) != Some(&b']') {
            return Err(ParseError::BadVia);
        }
        i += 1;
    } else {
        while bytes.get(i).is_some_and(|&b| CLASS[usize::from(b)] & C_HOST != 0) {
            i += 1;
        }
    }
    if i == hstart {
        return Err(ParseError::BadVia);
    }
    skip_ws(&mut i);
    if bytes.get(i) == Some(&b':') {
        i += 1;
        skip_ws(&mut i);
        let pstart = i;
        while bytes.get(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        if i == pstart {
            return Err(ParseError::BadVia);
        }
    }
    check_params(v.get(i..).unwrap_or(""), "Via").map_err(|_| ParseError::BadVia)
}

/// Validates a full Via header value (one or more comma-separated elements).
fn check_via(value: &str) -> Result<(), ParseError> {
    // Empty elements (",,") are an error, so split manually.
    let mut any = false;
    let mut rest = Some(value);
    while let Some(s) = rest {
        let (item, next) = split_top_comma(s);
        rest = next;
        let item = trim_lws(item);
        if item.is_empty() {
            return Err(ParseError::BadVia);
        }
        check_via_element(item)?;
        any = true;
    }
    if any { Ok(()) } else { Err(ParseError::BadVia) }
}

/// Splits at the first top-level comma, keeping empty items.
fn split_top_comma(s: &str) -> (&str, Option<&str>) {
    let bytes = s.as_bytes();
    let mut in_quote = false;
    let mut in_angle = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if CLASS[usize::from(b)] & C_LIST != 0 {
            match b {
                b'\\' if in_quote => i += 1,
                b'"' if !in_angle => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => {
                    return (s.get(..i).unwrap_or(""), s.get(i + 1..));
                }
                _ => {}
            }
        }
        i += 1;
    }
    (s, None)
}

/// Validates a Contact value: `*` or a list of addresses; empty items rejected.
fn check_contact(value: &str) -> Result<(), ParseError> {
    if trim_lws(value) == "*" {
        return Ok(());
    }
    let mut rest = Some(value);
    while let Some(s) = rest {
        let (item, next) = split_top_comma(s);
        rest = next;
        check_address(item, "Contact")?;
    }
    Ok(())
}

/// Returns the value of header parameter `pname` of an address or Via value.
/// `params_from` is where the parameter list starts.
fn find_param<'v>(params: &'v str, pname: &str) -> Option<&'v str> {
    let mut rest = params;
    loop {
        let semi = find_byte(rest.as_bytes(), b';')?;
        rest = rest.get(semi + 1..)?;
        // Parameter extends to the next ';' outside quotes.
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut in_quote = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b';' if !in_quote => break,
                _ => {}
            }
            i += 1;
        }
        let param = rest.get(..i).unwrap_or(rest);
        let (name, value) = match param.bytes().position(|b| b == b'=') {
            Some(eq) => (param.get(..eq)?, trim_lws(param.get(eq + 1..)?)),
            None => (param, ""),
        };
        if trim_lws(name).eq_ignore_ascii_case(pname) {
            return Some(value);
        }
        rest = rest.get(i..).unwrap_or("");
    }
}

/// The header-parameter section of a To/From/Contact value.
fn address_params(v: &str) -> &str {
    let bytes = v.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b'<' if !in_quote => {
                return match find_byte(bytes.get(i..).unwrap_or_default(), b'>') {
                    Some(gt) => v.get(i + gt + 1..).unwrap_or(""),
                    None => "",
                };
            }
            _ => {}
        }
        i += 1;
    }
    // addr-spec: params start at the first ';'
    match find_byte(bytes, b';') {
        Some(i) => v.get(i..).unwrap_or(""),
        None => "",
    }
}

/// Parses a CSeq value into (number, method token) without allocating.
fn split_cseq(v: &str) -> Result<(u32, &str), ParseError> {
    let v = trim_lws(v);
    let b = v.as_bytes();
    let mut n: Option<u64> = Some(0);
    let mut digits_end = 0;
    while let Some(&c) = b.get(digits_end).filter(|c| c.is_ascii_digit()) {
        n = n.and_then(|n| n.checked_mul(10)?.checked_add(u64::from(c - b'0')));
        digits_end += 1;
    }
    if digits_end == 0 || !b.get(digits_end).is_some_and(|&c| is_wsp(c)) {
        return Err(ParseError::BadCSeq);
    }
    let method = trim_lws(v.get(digits_end..).unwrap_or(""));
    if !is_token(method) {
        return Err(ParseError::BadCSeq);
    }
    match n {
        Some(n) if n < (1 << 31) => Ok((n as u32, method)),
        _ => Err(ParseError::ValueOutOfRange("CSeq")),
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Counts of the headers [`parse_headers`] checks for presence and uniqueness.
#[derive(Default)]
struct Seen {
    to: u32,
    from: u32,
    cseq: u32,
    call_id: u32,
    via: u32,
    content_length: u32,
    max_forwards: u32,
}

impl Seen {
    /// Counts one header of `kind`.
    fn count(&mut self, kind: Known) {
        match kind {
            Known::To => self.to += 1,
            Known::From => self.from += 1,
            Known::CSeq => self.cseq += 1,
            Known::CallId => self.call_id += 1,
            Known::Via => self.via += 1,
            Known::ContentLength => self.content_length += 1,
            Known::MaxForwards => self.max_forwards += 1,
            Known::Contact | Known::Expires | Known::Other => {}
        }
    }

    /// A header that must appear at most once and appeared twice, else one that must appear
    /// and did not (in that order of precedence).
    fn check(&self) -> Result<(), ParseError> {
        for (count, name) in [
            (self.to, "To"),
            (self.from, "From"),
            (self.cseq, "CSeq"),
            (self.call_id, "Call-ID"),
            (self.content_length, "Content-Length"),
            (self.max_forwards, "Max-Forwards"),
        ] {
            if count > 1 {
                return Err(ParseError::DuplicateHeader(name));
            }
        }
        for (count, name) in [
            (self.to, "To"),
            (self.from, "From"),
            (self.cseq, "CSeq"),
            (self.call_id, "Call-ID"),
            (self.via, "Via"),
        ] {
            if count == 0 {
                return Err(ParseError::MissingHeader(name));
            }
        }
        Ok(())
    }
}

/// One header field as [`Fields`] finds it.
struct Field<'a> {
    /// The name, as received.
    name: &'a str,
    /// The value as received: untrimmed, and still folded when it spans several lines.
    raw: &'a str,
    /// How many lines it spans (more than one: folded).
    lines: usize,
    /// The message line it starts on (1-based, the start line being line 1).
    line: usize,
}

impl<'a> Field<'a> {
    /// The value, unfolded (each CRLF + whitespace run becomes one SP) and trimmed; borrowed
    /// unless it was folded.
    fn value(&self) -> Result<Cow<'a, str>, ParseError> {
        if self.lines == 1 {
            Ok(Cow::Borrowed(trim_lws(self.raw)))
        } else {
            unfold(self.raw)
                .map(Cow::Owned)
                .ok_or(ParseError::BadHeader { line: self.line })
        }
    }
}

/// The header fields of a header section, in order: `name *WSP ":" value CRLF`, with the
/// continuation lines of folded values. A malformed line is a [`ParseError::BadHeader`], after
/// which the iterator ends.
struct Fields<'a> {
    /// The header section after the start line, ending with the CRLF of its last line.
    head: &'a str,
    pos: usize,
    line_no: usize,
}

impl<'a> Fields<'a> {
    fn new(head: &'a str, first_line_no: usize) -> Fields<'a> {
        Fields {
            head,
            pos: 0,
            line_no: first_line_no,
        }
    }

    fn field(&self) -> Result<(Field<'a>, usize), ParseError> {
        let (head, pos) = (self.head, self.pos);
        let bytes = head.as_bytes();
        let bad = ParseError::BadHeader { line: self.line_no };
        let line = bytes.get(pos..).unwrap_or_default();
        // name: token *WSP ":" (a leading SP/HTAB is a stray continuation).
        let mut i = 0;
        while line.get(i).is_some_and(|&b| is_token_char(b)) {
            i += 1;
        }
        let name_len = i;
        while line.get(i).is_some_and(|&b| is_wsp(b)) {
            i += 1;
        }
        if name_len == 0 || line.get(i) != Some(&b':') {
            return Err(bad);
        }
        let value_start = pos + i + 1;
        // The value runs to the CRLF; any other CR or LF is malformed.
        let line_end = |from: usize| -> Option<usize> {
            let p = from + find_cr_or_lf(bytes.get(from..)?)?;
            (bytes.get(p) == Some(&b'\r') && bytes.get(p + 1) == Some(&b'\n')).then_some(p)
        };
        let mut end = line_end(value_start).ok_or(bad.clone())?;
        let mut lines = 1;
        while bytes.get(end + 2).is_some_and(|&b| is_wsp(b)) {
            end = line_end(end + 2).ok_or(bad.clone())?;
            lines += 1;
        }
        let field = Field {
            name: head.get(pos..pos + name_len).unwrap_or(""),
            raw: head.get(value_start..end).unwrap_or(""),
            lines,
            line: self.line_no,
        };
        Ok((field, end + 2))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.head.len() {
            return None;
        }
        match self.field() {
            Ok((field, next)) => {
                self.pos = next;
                self.line_no += field.lines;
                Some(Ok(field))
            }
            Err(e) => {
                self.pos = self.head.len();
                Some(Err(e))
            }
        }
    }
}

/// Checks the value of one header the parser interprets (the per-header
/// part of the cross-header validation).
fn check_known(kind: Known, value: &str, request_method: Option<&Method>) -> Result<(), ParseError> {
    match kind {
        Known::To => check_address(value, "To"),
        Known::From => check_address(value, "From"),
        Known::CSeq => {
            let (_, m) = split_cseq(value)?;
            if request_method.is_some_and(|rm| !rm.matches(m)) {
                return Err(ParseError::CSeqMethodMismatch);
            }
            Ok(())
        }
        Known::CallId => {
            if value.is_empty() || value.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(ParseError::BadCallId);
            }
            Ok(())
        }
        Known::Via => check_via(value),
        Known::MaxForwards => parse_bounded(value, 255, "Max-Forwards").map(drop),
        Known::Contact => check_contact(value),
        Known::Expires => parse_bounded(value, u64::from(u32::MAX), "Expires").map(drop),
        Known::ContentLength | Known::Other => Ok(()),
    }
}

/// Parses the header section (after the start line) into `headers` and
/// validates it in the same pass: each header name is classified once, and
/// the checks of the interpreted headers run as they are parsed.  Returns the
/// index in `headers` of the Content-Length header, if present.
///
/// `head` ends with the CRLF of the last header line (before the blank line).
/// Errors keep their precedence: a malformed header line anywhere beats a
/// bad header value, which beats a duplicate, which beats a missing header.
fn parse_headers<'a>(
    head: &'a str,
    first_line_no: usize,
    request_method: Option<&Method>,
    headers: &mut Vec<Header<'a>>,
) -> Result<Option<usize>, ParseError> {
    let mut seen = Seen::default();
    let mut content_length = None;
    // The first bad interpreted value; reported once every line has parsed.
    let mut value_err: Option<ParseError> = None;
    for field in Fields::new(head, first_line_no) {
        let field = field?;
        let value = field.value()?;
        let kind = classify(field.name);
        seen.count(kind);
        if kind == Known::ContentLength && content_length.is_none() {
            content_length = Some(headers.len());
        }
        if value_err.is_none() && kind != Known::Other {
            value_err = check_known(kind, &value, request_method).err();
        }
        headers.push(Header {
            name: Cow::Borrowed(field.name),
            value,
        });
    }
    if let Some(e) = value_err {
        return Err(e);
    }
    seen.check()?;
    Ok(content_length)
}

/// Replaces each `*WSP CRLF 1*WSP` run with one SP and trims; `None` if a
/// stray CR or LF remains.
fn unfold(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, piece) in raw.split("\r\n").enumerate() {
        if piece.bytes().any(|b| b == b'\r' || b == b'\n') {
            return None;
        }
        if i == 0 {
            out.push_str(piece.trim_end_matches([' ', '\t']));
        } else {
            let p = trim_lws(piece);
            if !p.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(p);
            }
        }
    }
    let trimmed = trim_lws(&out);
    if trimmed.len() != out.len() {
        Some(trimmed.to_owned())
    } else {
        Some(out)
    }
}

/// Checks a Request-URI: a scheme, no whitespace or `<>`; for sip/sips no
/// escaped headers and well-formed `%HH` escapes.
fn check_request_uri(uri: &str) -> Result<(), ParseError> {
    let b = uri.as_bytes();
    let scheme_end = scheme_len(b).ok_or(ParseError::BadRequestUri)?;
    if b.iter()
        .any(|&c| c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"'))
    {
        return Err(ParseError::BadRequestUri);
    }
    let scheme = b.get(..scheme_end).unwrap_or_default();
    if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
        let rest = b.get(scheme_end + 1..).unwrap_or_default();
        // Headers are not allowed in a SIP Request-URI (RFC 3261 §19.1.1).
        let hostpart = match find_byte(rest, b'@') {
            Some(at) => rest.get(at + 1..).unwrap_or_default(),
            None => rest,
        };
        if hostpart.is_empty() || find_byte(hostpart, b'?').is_some() {
            return Err(ParseError::BadRequestUri);
        }
        let mut i = 0;
        while let Some(p) = b.get(i..).and_then(|s| find_byte(s, b'%')) {
            let pct = i + p;
            let ok =
                b.get(pct + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(pct + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(ParseError::BadRequestUri);
            }
            i = pct + 1;
        }
    }
    Ok(())
}

/// Checks `SIP/x.y`; `Ok(())` for 2.0, `BadVersion` for another well-formed
/// version, `BadStartLine` otherwise.
fn check_version(v: &str) -> Result<(), ParseError> {
    if v.len() == SIP_VERSION.len() && v.eq_ignore_ascii_case(SIP_VERSION) {
        return Ok(());
    }
    let well_formed = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
        && v.get(4..).is_some_and(|n| {
            n.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
        });
    if well_formed {
        Err(ParseError::BadVersion(v.to_owned()))
    } else {
        Err(ParseError::BadStartLine)
    }
}

enum StartLine<'a> {
    Request(Method, &'a str),
    Response(u16, &'a str),
}

fn parse_start_line(line: &str) -> Result<StartLine<'_>, ParseError> {
    let b = line.as_bytes();
    if find_cr_or_lf(b).is_some() {
        return Err(ParseError::BadStartLine);
    }
    // Parts are split at ASCII spaces, so every slice below is on a char boundary.
    let sp1 = find_byte(b, b' ');
    if b.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) {
        // SIP-Version SP Status-Code SP Reason-Phrase (the reason may hold spaces).
        let version = sp1.and_then(|i| line.get(..i)).unwrap_or(line);
        check_version(version)?;
        let rest = sp1.and_then(|i| line.get(i + 1..)).ok_or(ParseError::BadStartLine)?;
        let sp2 = find_byte(rest.as_bytes(), b' ').ok_or(ParseError::BadStartLine)?;
        let code = rest.get(..sp2).unwrap_or("");
        let reason = rest.get(sp2 + 1..).unwrap_or("");
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadStatusCode);
        }
        let status = code.bytes().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
        if !(100..=699).contains(&status) {
            return Err(ParseError::BadStatusCode);
        }
        if reason.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(ParseError::BadReasonPhrase);
        }
        return Ok(StartLine::Response(status, reason));
    }
    // Method SP Request-URI SP SIP-Version: exactly two spaces.
    let sp1 = sp1.ok_or(ParseError::BadStartLine)?;
    let after = b.get(sp1 + 1..).unwrap_or_default();
    let sp2 = sp1 + 1 + find_byte(after, b' ').ok_or(ParseError::BadStartLine)?;
    if find_byte(b.get(sp2 + 1..).unwrap_or_default(), b' ').is_some() {
        return Err(ParseError::BadStartLine);
    }
    let method = line.get(..sp1).unwrap_or("");
    let uri = line.get(sp1 + 1..sp2).unwrap_or("");
    let version = line.get(sp2 + 1..).unwrap_or("");
    if method.is_empty() || uri.is_empty() || version.is_empty() {
        return Err(ParseError::BadStartLine);
    }
    let method = Method::parse(method)?;
    check_version(version)?;
    check_request_uri(uri)?;
    Ok(StartLine::Request(method, uri))
}

impl<'a> Message<'a> {
    /// Parses exactly one complete message.
    ///
    /// The body is what follows the blank line.  When Content-Length is
    /// present the body must hold at least that many bytes; bytes beyond it
    /// are discarded as RFC 3261 §18.3 requires for datagrams (RFC 4475
    /// `dblreq`).  Stream transports should frame with
    /// [`Framer`](super::Framer) first, which yields exact messages.
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        if buf.is_empty() {
            return Err(ParseError::Empty);
        }
        let (head_len, line_count, first_crlf) = find_head_end(buf).ok_or(ParseError::Incomplete)?;
        // head_len >= 4 and ends with CRLF CRLF.
        let head_bytes = buf.get(..head_len - 2).ok_or(ParseError::Incomplete)?;
        let head = std::str::from_utf8(head_bytes).map_err(|_| ParseError::NotUtf8)?;
        let body_all = buf.get(head_len..).unwrap_or_default();

        let start = parse_start_line(head.get(..first_crlf).ok_or(ParseError::BadStartLine)?)?;
        let request_method = match &start {
            StartLine::Request(m, _) => Some(m),
            StartLine::Response(..) => None,
        };
        let mut headers = Vec::with_capacity(line_count.saturating_sub(2));
        let rest = head.get(first_crlf + 2..).unwrap_or("");
        let content_length = parse_headers(rest, 2, request_method, &mut headers)?;

        let body = match content_length.and_then(|i| headers.get(i)) {
            Some(h) => {
                let v = trim_lws(&h.value);
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::BadContentLength);
                }
                let declared = parse_digits(v)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(ParseError::BadContentLength)?;
                body_all.get(..declared).ok_or(ParseError::BodyLengthMismatch {
                    declared,
                    actual: body_all.len(),
                })?
            }
            None => body_all,
        };

        Ok(match start {
            StartLine::Request(method, uri) => Message::Request(Request {
                method,
                uri: Cow::Borrowed(uri),
                headers,
                body: Cow::Borrowed(body),
            }),
            StartLine::Response(status, reason) => Message::Response(Response {
                status,
                reason: Cow::Borrowed(reason),
                headers,
                body: Cow::Borrowed(body),
            }),
        })
    }

    /// Appends the wire form (CRLF line ends) to `out`.  Headers are written
    /// in order, as given; the caller supplies Content-Length.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => {
                out.reserve(r.uri.len() + r.body.len() + 64 + 32 * r.headers.len());
                out.extend_from_slice(r.method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(r.uri.as_bytes());
                out.push(b' ');
                out.extend_from_slice(SIP_VERSION.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Message::Response(r) => {
                out.reserve(r.reason.len() + r.body.len() + 64 + 32 * r.headers.len());
                out.extend_from_slice(SIP_VERSION.as_bytes());
                out.push(b' ');
                push_status(out, r.status);
                out.push(b' ');
                out.extend_from_slice(r.reason.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        for h in self.headers() {
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body());
    }

    /// All headers in wire order.
    pub fn headers(&self) -> &[Header<'a>] {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    /// The first value of header `name` (case-insensitive; compact forms
    /// such as `i` for Call-ID are equivalent).  Never allocates.
    pub fn header(&self, name: &str) -> Option<&str> {
        let want = long_name(name);
        self.headers()
            .iter()
            .find(|h| long_name(&h.name).eq_ignore_ascii_case(want))
            .map(|h| h.value.as_ref())
    }

    /// Every value of header `name`: one per header line, and for list
    /// headers (Via, Contact, Route, Allow, ...) one per comma-separated
    /// element, respecting quoted strings and `<...>`.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        let list = is_list_header(name);
        self.headers()
            .iter()
            .filter(move |h| names_match(name, &h.name))
            .flat_map(move |h| HeaderValues::new(h.value.as_ref(), list))
    }

    /// The Call-ID header value.
    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, Method)> {
        cseq_of(self.header("CSeq")?)
    }

    /// The `tag` parameter of the From header.
    pub fn from_tag(&self) -> Option<&str> {
        find_param(address_params(self.header("From")?), "tag")
    }

    /// The `tag` parameter of the To header.
    pub fn to_tag(&self) -> Option<&str> {
        find_param(address_params(self.header("To")?), "tag")
    }

    /// The `branch` parameter of the topmost Via.
    pub fn top_via_branch(&self) -> Option<&str> {
        branch_of(self.header_values("Via").next()?)
    }

    /// The Expires header as seconds.
    pub fn expires(&self) -> Option<u32> {
        parse_bounded(self.header("Expires")?, u64::from(u32::MAX), "Expires")
            .ok()
            .and_then(|v| u32::try_from(v).ok())
    }

    /// Copies all borrowed data, detaching the message from its input buffer.
    pub fn into_owned(self) -> Message<'static> {
        fn headers(hs: Vec<Header<'_>>) -> Vec<Header<'static>> {
            hs.into_iter().map(Header::into_owned).collect()
        }
        match self {
            Message::Request(r) => Message::Request(Request {
                method: r.method,
                uri: Cow::Owned(r.uri.into_owned()),
                headers: headers(r.headers),
                body: Cow::Owned(r.body.into_owned()),
            }),
            Message::Response(r) => Message::Response(Response {
                status: r.status,
                reason: Cow::Owned(r.reason.into_owned()),
                headers: headers(r.headers),
                body: Cow::Owned(r.body.into_owned()),
            }),
        }
    }
}

/// The CSeq number and method of a CSeq value.
fn cseq_of(value: &str) -> Option<(u32, Method)> {
    let (n, m) = split_cseq(value).ok()?;
    Some((n, Method::parse(m).ok()?))
}

/// The `branch` parameter of one Via element.
fn branch_of(via: &str) -> Option<&str> {
    let semi = find_byte(via.as_bytes(), b';')?;
    find_param(via.get(semi..)?, "branch")
}

/// What a client transaction reads of a response: its status, the headers RFC 3261 §17.1.3
/// matches it to its request by (the top Via's branch, CSeq, Call-ID), and `Date`.
///
/// [`ResponseHead::read`] finds them in one pass over the header section, without collecting
/// the other headers into a [`Message`]. It checks what it reads as [`Message::parse`] does (the
/// start line, every header line's form, the Via, CSeq and Call-ID values, the presence and
/// uniqueness of the mandatory headers, with the same errors), but not the values of headers it
/// does not read (To, From, Contact, Max-Forwards, Expires): a response malformed only there is
/// read, where [`Message::parse`] refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// The status code.
    pub status: u16,
    /// The first Via header's value (its first element is the top Via).
    via: Option<Cow<'a, str>>,
    /// The CSeq header's value.
    cseq: Option<Cow<'a, str>>,
    /// The Call-ID header's value.
    call_id: Option<Cow<'a, str>>,
    /// The first Date header's value.
    date: Option<Cow<'a, str>>,
}

impl<'a> ResponseHead<'a> {
    /// Reads one complete message as a response; `Ok(None)` when it is a request. A message
    /// the one-pass scan does not take (a request, folded header lines, anything malformed) goes
    /// through [`Message::parse`], which decides: its error, or its headers.
    pub fn read(buf: &'a [u8]) -> Result<Option<ResponseHead<'a>>, ParseError> {
        if let Some(head) = ResponseHead::scan(buf) {
            return Ok(Some(head));
        }
        let Message::Response(r) = Message::parse(buf)? else {
            return Ok(None);
        };
        let mut head = ResponseHead {
            status: r.status,
            via: None,
            cseq: None,
            call_id: None,
            date: None,
        };
        for h in r.headers {
            let slot = match classify(&h.name) {
                Known::Via => &mut head.via,
                Known::CSeq => &mut head.cseq,
                Known::CallId => &mut head.call_id,
                Known::Other if h.name.eq_ignore_ascii_case("Date") => &mut head.date,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(h.value);
            }
        }
        Ok(Some(head))
    }

    /// The one-pass read: `None` when the message is not a response whose header lines are
    /// unfolded and pass the checks (the caller then parses it in full).
    fn scan(buf: &'a [u8]) -> Option<ResponseHead<'a>> {
        let (head_len, _, first_crlf) = find_head_end(buf)?;
        let head = std::str::from_utf8(buf.get(..head_len - 2)?).ok()?;
        let StartLine::Response(status, _) = parse_start_line(head.get(..first_crlf)?).ok()? else {
            return None;
        };
        let mut r = ResponseHead {
            status,
            via: None,
            cseq: None,
            call_id: None,
            date: None,
        };
        let mut seen = Seen::default();
        for field in Fields::new(head.get(first_crlf + 2..)?, 2) {
            let field = field.ok()?;
            if field.lines > 1 {
                return None;
            }
            let value = trim_lws(field.raw);
            let kind = classify(field.name);
            seen.count(kind);
            let slot = match kind {
                Known::Via | Known::CSeq | Known::CallId => {
                    check_known(kind, value, None).ok()?;
                    match kind {
                        Known::Via => &mut r.via,
                        Known::CSeq => &mut r.cseq,
                        _ => &mut r.call_id,
                    }
                }
                Known::Other if field.name.eq_ignore_ascii_case("Date") => &mut r.date,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(Cow::Borrowed(value));
            }
        }
        seen.check().ok()?;
        Some(r)
    }

    /// The `branch` parameter of the topmost Via.
    pub fn top_via_branch(&self) -> Option<&str> {
        let via = self.via.as_deref()?;
        branch_of(CommaSplit { rest: Some(via) }.next()?)
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, Method)> {
        cseq_of(self.cseq.as_deref()?)
    }

    /// The Call-ID header value.
    pub fn call_id(&self) -> Option<&str> {
        self.call_id.as_deref()
    }

    /// The `Date` header value.
    pub fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }
}

/// Writes a status code as decimal digits (three for valid codes).
fn push_status(out: &mut Vec<u8>, status: u16) {
    push_number(out, status.into(), 10);
}

/// Writes `n` in `radix` (10 or 16, lowercase), as `write!` would with `{}` or `{:x}`, without
/// the formatting machinery: message encoders call it for every number they write.
pub(crate) fn push_number(out: &mut Vec<u8>, mut n: u64, radix: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = DIGITS[(n % radix) as usize];
        n /= radix;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl<'a> Response<'a> {
    /// Builds a response to `req` per RFC 3261 §8.2.6: copies all Via (in
    /// order), From, To (adding `;tag=<to_tag>` when status > 100, `to_tag`
    /// is non-empty and To has no tag), Call-ID, CSeq; Content-Length: 0; no body.
    pub fn for_request<'r>(req: &'r Request<'_>, status: u16, reason: &'static str, to_tag: &str) -> Response<'r> {
        let mut headers = Vec::with_capacity(8);
        copied_headers(req, status, to_tag, |name, value, tag| {
            let value = match tag {
                Some(tag) => {
                    let mut v = String::with_capacity(value.len() + 5 + tag.len());
                    v.push_str(value);
                    v.push_str(";tag=");
                    v.push_str(tag);
                    Cow::Owned(v)
                }
                None => Cow::Borrowed(value),
            };
            headers.push(Header {
                name: Cow::Borrowed(name),
                value,
            });
        });
        headers.push(Header::new("Content-Length", "0"));
        Response {
            status,
            reason: Cow::Borrowed(reason),
            headers,
            body: Cow::Borrowed(&[]),
        }
    }

    /// Appends the wire form of the response [`Response::for_request`] builds, with `extra`
    /// headers after the copied ones and `Content-Length: 0` last, without building it: the
    /// same bytes as pushing `extra` onto it, moving Content-Length last and encoding it, with
    /// no allocation but `out`'s.
    pub fn encode_for_request(
        req: &Request<'_>,
        status: u16,
        reason: &str,
        to_tag: &str,
        extra: &[(&str, &str)],
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(SIP_VERSION.as_bytes());
        out.push(b' ');
        push_status(out, status);
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut line = |name: &str, value: &str, tag: Option<&str>| {
            for part in [name, ": ", value] {
                out.extend_from_slice(part.as_bytes());
            }
            if let Some(tag) = tag {
                out.extend_from_slice(b";tag=");
                out.extend_from_slice(tag.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        };
        copied_headers(req, status, to_tag, &mut line);
        for &(name, value) in extra {
            line(name, value, None);
        }
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    }
}

/// Passes `f` the headers a response copies from its request (RFC 3261 §8.2.6), in order:
/// every Via, then the first From, To, Call-ID and CSeq; with the To, the tag to append
/// (`to_tag` when `status` > 100, `to_tag` is non-empty and the To has no tag).
fn copied_headers<'r>(
    req: &'r Request<'_>,
    status: u16,
    to_tag: &str,
    mut f: impl FnMut(&'r str, &'r str, Option<&str>),
) {
    // The first From, To, Call-ID and CSeq, found in the pass that copies the Vias.
    let mut first: [Option<&'r Header<'_>>; 4] = [None; 4];
    for h in &req.headers {
        let slot = match classify(&h.name) {
            Known::Via => {
                f(&h.name, &h.value, None);
                continue;
            }
            Known::From => 0,
            Known::To => 1,
            Known::CallId => 2,
            Known::CSeq => 3,
            _ => continue,
        };
        if let Some(first) = first.get_mut(slot) {
            first.get_or_insert(h);
        }
    }
    for (i, h) in first.into_iter().enumerate() {
        let Some(h) = h else { continue };
        let tag =
            (i == 1 && status > 100 && !to_tag.is_empty() && find_param(address_params(&h.value), "tag").is_none())
                .then_some(to_tag);
        f(&h.name, &h.value, tag);
    }
}

/// The standard reason phrase for `status` (RFC 3261 §21 and common
/// extensions); an empty string for unknown codes.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        555 => "Push Notification Service Not Supported",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        _ => "",
    }
}

/// Proptest strategies shared by the codec's unit tests.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
    }

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::Invite),
            Just(Method::Ack),
            Just(Method::Bye),
            Just(Method::Cancel),
            Just(Method::Register),
            Just(Method::Options),
            Just(Method::Message),
            Just(Method::Info),
            Just(Method::Prack),
            Just(Method::Update),
            Just(Method::Subscribe),
            Just(Method::Notify),
            Just(Method::Refer),
            Just(Method::Publish),
            "[A-Z][A-Z0-9_-]{0,9}".prop_map(|t| Method::parse(&t).expect("token")),
        ]
    }

    /// Extension header values: no CR/LF, no leading/trailing SP/HTAB.
    fn ext_value() -> impl Strategy<Value = String> {
        "[!-~\u{a0}-\u{17f}]([ \t!-~\u{a0}-\u{17f}]{0,30}[!-~\u{a0}-\u{17f}])?"
    }

    fn ext_headers() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", ext_value()), 0..6)
    }

    /// Headers common to requests and responses, Content-Length last.
    fn headers(
        cseq_method: Method,
        seq: u32,
        tag: String,
        host: String,
        ext: Vec<(String, String)>,
        body_len: usize,
    ) -> Vec<Header<'static>> {
        let mut h = vec![
            Header::new("Via", format!("SIP/2.0/TLS {host}:5061;branch=z9hG4bK{tag}")),
            Header::new("From", format!("<sip:alice@{host}>;tag={tag}")),
            Header::new("To", "\"Bob\" <sip:bob@example.com>".to_string()),
            Header::new("Call-ID", format!("{tag}@{host}")),
            Header::new("CSeq", format!("{seq} {cseq_method}")),
            Header::new("Max-Forwards", "70"),
        ];
        h.extend(ext.into_iter().map(|(n, v)| Header::new(n, v)));
        h.push(Header::new("Content-Length", body_len.to_string()));
        h
    }

    /// Valid requests with a Content-Length matching an arbitrary body.
    pub(crate) fn request() -> impl Strategy<Value = Message<'static>> {
        (
            method(),
            "[A-Za-z0-9][A-Za-z0-9._~!*'()-]{0,11}",
            "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){1,2}",
            0u32..(1 << 31),
            token(),
            ext_headers(),
            proptest::collection::vec(any::<u8>(), 0..96),
        )
            .prop_map(|(m, user, host, seq, tag, ext, body)| {
                let headers = headers(m.clone(), seq, tag, host.clone(), ext, body.len());
                Message::Request(Request {
                    method: m,
                    uri: Cow::Owned(format!("sip:{user}@{host}")),
                    headers,
                    body: Cow::Owned(body),
                })
            })
    }

    /// Valid responses with a Content-Length matching an arbitrary body.
    pub(crate) fn response() -> impl Strategy<Value = Message<'static>> {
        (
            100u16..=699,
            "[ -~\u{a0}-\u{17f}]{0,20}",
            method(),
            0u32..(1 << 31),
            token(),
            ext_headers(),
            proptest::collection::vec(any::<u8>(), 0..96),
        )
            .prop_map(|(status, reason, m, seq, tag, ext, body)| {
                let headers = headers(m, seq, tag, "example.net".into(), ext, body.len());
                Message::Response(Response {
                    status,
                    reason: Cow::Owned(reason),
                    headers,
                    body: Cow::Owned(body),
                })
            })
    }

    /// Any valid message.
    pub(crate) fn message() -> impl Strategy<Value = Message<'static>> {
        prop_oneof![request(), response()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.example.com:5061;branch=z9hG4bK74bf9\r\n\
Via: SIP/2.0/TLS proxy.example.com;branch=z9hG4bKnashds8, SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n\
Max-Forwards: 70\r\n\
From: \"Alice, A.\" <sip:alice@example.com>;tag=9fxced76sl\r\n\
t: Bob <sip:bob@example.com>\r\n\
i: 3848276298220188511@client.example.com\r\n\
CSeq: 2 INVITE\r\n\
m: <sip:alice@client.example.com;transport=tls>, \"x,y\" <sip:a@b>\r\n\
Expires: 3600\r\n\
NewHeader: a\r\n  b\r\n\
l: 4\r\n\
\r\n\
abcd";

    #[test]
    fn parses_and_accessors() {
        let m = Message::parse(INVITE).unwrap();
        let Message::Request(r) = &m else { panic!() };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri, "sip:bob@example.com");
        assert!(matches!(r.uri, Cow::Borrowed(_)));
        assert_eq!(m.body(), b"abcd");
        assert_eq!(m.call_id(), Some("3848276298220188511@client.example.com"));
        assert_eq!(m.header("CALL-id"), m.header("i"));
        assert_eq!(m.header("To"), Some("Bob <sip:bob@example.com>"));
        assert_eq!(m.cseq(), Some((2, Method::Invite)));
        assert_eq!(m.from_tag(), Some("9fxced76sl"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(m.top_via_branch(), Some("z9hG4bK74bf9"));
        assert_eq!(m.expires(), Some(3600));
        assert_eq!(m.header("NewHeader"), Some("a b"));
        let vias: Vec<_> = m.header_values("v").collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[2], "SIP/2.0/UDP p2.example.com;branch=z9hG4bK2");
        let contacts: Vec<_> = m.header_values("Contact").collect();
        assert_eq!(
            contacts,
            ["<sip:alice@client.example.com;transport=tls>", "\"x,y\" <sip:a@b>"]
        );
        // Non-list headers are not split.
        assert_eq!(m.header_values("From").count(), 1);
    }

    #[test]
    fn response_for_request() {
        let m = Message::parse(INVITE).unwrap();
        let Message::Request(req) = &m else { panic!() };
        let resp = Response::for_request(req, 180, reason_phrase(180), "abc");
        let msg = Message::Response(resp);
        let mut out = Vec::new();
        msg.encode(&mut out);
        let back = Message::parse(&out).unwrap();
        assert_eq!(back.to_tag(), Some("abc"));
        assert_eq!(back.header_values("Via").count(), 3);
        assert_eq!(back.cseq(), Some((2, Method::Invite)));
        assert_eq!(back.header("Content-Length"), Some("0"));
        assert!(back.body().is_empty());
        let Message::Response(trying) = Message::Response(Response::for_request(req, 100, "Trying", "x")) else {
            panic!()
        };
        assert_eq!(Message::Response(trying).to_tag(), None);
    }

    #[test]
    fn rejects() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"", ParseError::Empty),
            (b"INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n", ParseError::Incomplete),
            (b" INVITE sip:a@b SIP/2.0\r\n\r\n", ParseError::BadStartLine),
            (b"IN\"VITE sip:a@b SIP/2.0\r\n\r\n", ParseError::BadMethod),
            (b"INVITE sip:a@b SIP/2.0\r\n\r\n", ParseError::MissingHeader("To")),
            (b"SIP/2.0 99 X\r\n\r\n", ParseError::BadStatusCode),
            (b"SIP/2.0 700 X\r\n\r\n", ParseError::BadStatusCode),
            (b"SIP/3.0 200 OK\r\n\r\n", ParseError::BadVersion("SIP/3.0".into())),
            (b"INVITE a@b SIP/2.0\r\n\r\n", ParseError::BadRequestUri),
            (
                b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
                ParseError::BadHeader { line: 2 },
            ),
            (
                b"INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n",
                ParseError::BadHeader { line: 2 },
            ),
            (
                b"INVITE sip:a@b SIP/2.0\r\n cont: x\r\n\r\n",
                ParseError::BadHeader { line: 2 },
            ),
        ];
        for (input, err) in cases {
            assert_eq!(
                Message::parse(input).unwrap_err(),
                *err,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(Method::parse("IN VITE"), Err(ParseError::BadMethod));
        assert_eq!("FOO".parse::<Method>(), Ok(Method::Other("FOO".into())));
        assert_eq!(Method::parse("invite"), Ok(Method::Other("invite".into())));
    }

    #[test]
    fn max_forwards_and_expires_ranges() {
        let base = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n";
        let with = |extra: &str| format!("{base}{extra}\r\n");
        assert!(Message::parse(with("Max-Forwards: 255\r\n").as_bytes()).is_ok());
        assert_eq!(
            Message::parse(with("Max-Forwards: 256\r\n").as_bytes()).unwrap_err(),
            ParseError::ValueOutOfRange("Max-Forwards")
        );
        let m = with("Expires: 4294967295\r\n");
        assert_eq!(Message::parse(m.as_bytes()).unwrap().expires(), Some(u32::MAX));
        assert_eq!(
            Message::parse(with("Expires: 4294967296\r\n").as_bytes()).unwrap_err(),
            ParseError::ValueOutOfRange("Expires")
        );
        assert_eq!(
            Message::parse(with("CSeq: 1 OPTIONS\r\n").as_bytes()).unwrap_err(),
            ParseError::DuplicateHeader("CSeq")
        );
        // Content-Length absent: body is the rest; present and short: error.
        let m = format!("{base}\r\nxyz");
        assert_eq!(Message::parse(m.as_bytes()).unwrap().body(), b"xyz");
        let m = format!("{base}l: 4\r\n\r\nxyz");
        assert_eq!(
            Message::parse(m.as_bytes()).unwrap_err(),
            ParseError::BodyLengthMismatch { declared: 4, actual: 3 }
        );
    }

    #[test]
    fn into_owned_is_equal() {
        let m = Message::parse(INVITE).unwrap();
        let owned = m.clone().into_owned();
        assert_eq!(m, owned);
    }

    #[test]
    fn a_response_encoded_for_a_request_is_the_built_one_byte_for_byte() {
        let tagged = String::from_utf8_lossy(INVITE).replace("t: Bob <sip:bob@example.com>", "To: <sip:b@h>;tag=x");
        let extra = [("Allow", "INVITE, ACK"), ("Date", "Sat, 13 Nov 2010 23:29:00 GMT")];
        for (req, status, tag, extra) in [
            (INVITE, 200, "srv1", &extra[..]),
            (INVITE, 100, "srv1", &extra[..1]),
            (INVITE, 180, "", &[][..]),
            (tagged.as_bytes(), 200, "srv1", &extra[..]),
        ] {
            let msg = Message::parse(req).unwrap();
            let Message::Request(r) = &msg else { panic!("a request") };
            // Built: the copied headers, then the extra ones, Content-Length last.
            let mut built = Response::for_request(r, status, "OK", tag);
            let length = built.headers.pop().expect("Content-Length comes last");
            built.headers.extend(extra.iter().map(|&(n, v)| Header::new(n, v)));
            built.headers.push(length);
            let mut expected = Vec::new();
            Message::Response(built).encode(&mut expected);
            let mut out = Vec::new();
            Response::encode_for_request(r, status, "OK", tag, extra, &mut out);
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
        }
    }

    #[test]
    fn a_response_head_reads_what_matching_and_the_clock_probe_need() {
        let wire = "SIP/2.0 200 OK\r\n\
            v: SIP/2.0/TLS h:5061;branch=z9hG4bKa1 , SIP/2.0/TLS p;branch=z9hG4bKp\r\n\
            Via: SIP/2.0/TLS q;branch=z9hG4bKq\r\n\
            f: <sip:a@h>;tag=1\r\n\
            t: <sip:b@h>;tag=2\r\n\
            i: c1@h\r\n\
            CSeq: 7 OPTIONS\r\n\
            Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n\
            l: 0\r\n\r\n";
        let fields = |head: &ResponseHead<'_>| {
            (
                head.status,
                head.top_via_branch().map(str::to_owned),
                head.cseq(),
                head.call_id().map(str::to_owned),
                head.date().map(str::to_owned),
            )
        };
        let expected = (
            200,
            Some("z9hG4bKa1".to_owned()),
            Some((7, Method::Options)),
            Some("c1@h".to_owned()),
            Some("Sat, 13 Nov 2010 23:29:00 GMT".to_owned()),
        );
        let head = ResponseHead::read(wire.as_bytes()).unwrap().unwrap();
        assert_eq!(fields(&head), expected);
        // Folded lines go through the full parser, with the same result.
        let folded = wire.replace("CSeq: 7 OPTIONS", "CSeq: 7\r\n OPTIONS");
        let head = ResponseHead::read(folded.as_bytes()).unwrap().unwrap();
        assert_eq!(fields(&head), expected);
        // A request is no response.
        assert_eq!(ResponseHead::read(INVITE), Ok(None));
        // Malformed where a transaction reads: the full parser's error.
        for (from, to, err) in [
            ("CSeq: 7 OPTIONS", "CSeq: x OPTIONS", ParseError::BadCSeq),
            ("i: c1@h\r\n", "", ParseError::MissingHeader("Call-ID")),
            ("i: c1@h", "i: c1@h\r\ni: c2@h", ParseError::DuplicateHeader("Call-ID")),
            ("v: SIP/2.0/TLS h:5061", "v: SIP/2.0 h:5061", ParseError::BadVia),
            (
                "t: <sip:b@h>;tag=2\r\n",
                "t <sip:b@h>\r\n",
                ParseError::BadHeader { line: 5 },
            ),
            ("SIP/2.0 200", "SIP/2.0 2000", ParseError::BadStatusCode),
        ] {
            let bad = wire.replace(from, to);
            assert_eq!(Message::parse(bad.as_bytes()).err(), Some(err.clone()), "{bad}");
            assert_eq!(ResponseHead::read(bad.as_bytes()), Err(err), "{bad}");
        }
        // Malformed only where no transaction reads (the To address): read all the same.
        let bad_to = wire.replace("t: <sip:b@h>;tag=2", "t: <sip:b@h");
        assert_eq!(
            Message::parse(bad_to.as_bytes()).err(),
            Some(ParseError::BadAddress("To"))
        );
        assert_eq!(
            fields(&ResponseHead::read(bad_to.as_bytes()).unwrap().unwrap()),
            expected
        );
    }

    /// The wire form of `msg` with the bytes at `edits` replaced.
    fn mutated(msg: &Message<'_>, edits: Vec<(prop::sample::Index, u8)>) -> Vec<u8> {
        let mut out = Vec::new();
        msg.encode(&mut out);
        for (idx, byte) in edits {
            let i = idx.index(out.len());
            out[i] = byte;
        }
        out
    }

    proptest! {
        /// The one-pass response read agrees with the full parser on what a transaction reads,
        /// and refuses what it refuses, but for malformed values of headers it does not read.
        #[test]
        fn a_response_head_agrees_with_the_full_parser(
            msg in strategies::message(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let out = mutated(&msg, edits);
            match (Message::parse(&out), ResponseHead::read(&out)) {
                (Ok(Message::Request(_)), read) => prop_assert_eq!(read, Ok(None)),
                (Ok(m), Ok(Some(head))) => {
                    let Message::Response(r) = &m else { unreachable!("requests are above") };
                    prop_assert_eq!(head.status, r.status);
                    prop_assert_eq!(head.top_via_branch(), m.top_via_branch());
                    prop_assert_eq!(head.cseq(), m.cseq());
                    prop_assert_eq!(head.call_id(), m.call_id());
                    prop_assert_eq!(head.date(), m.header("Date"));
                }
                (Err(e), Err(read)) => prop_assert_eq!(e, read),
                (Err(e), Ok(_)) => prop_assert!(
                    matches!(
                        e,
                        ParseError::BadAddress(_)
                            | ParseError::UnbalancedQuotes(_)
                            | ParseError::BadDisplayName(_)
                            | ParseError::AmbiguousAddrSpec(_)
                            | ParseError::BadNumber(_)
                            | ParseError::ValueOutOfRange("Max-Forwards" | "Expires")
                            | ParseError::BadContentLength
                            | ParseError::BodyLengthMismatch { .. }
                    ),
                    "read where the parser says {:?}",
                    e
                ),
                (parsed, read) => prop_assert!(false, "parser {:?}, read {:?}", parsed, read),
            }
        }

        #[test]
        fn encode_parse_round_trip(msg in strategies::message()) {
            let mut out = Vec::new();
            msg.encode(&mut out);
            let parsed = Message::parse(&out);
            prop_assert!(parsed.is_ok(), "{:?}: {}", parsed, String::from_utf8_lossy(&out));
            prop_assert_eq!(parsed.unwrap(), msg);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Message::parse(&data);
        }

        #[test]
        fn parse_never_panics_on_mutated_messages(
            msg in strategies::message(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let out = mutated(&msg, edits);
            if let Ok(m) = Message::parse(&out) {
                // Whatever parses must also re-encode and re-parse.
                let mut again = Vec::new();
                m.encode(&mut again);
                let _ = m.call_id();
                let _ = m.cseq();
                let _ = m.top_via_branch();
                let _ = m.from_tag();
                let _ = m.to_tag();
                let _ = m.header_values("Contact").count();
                let reparsed = Message::parse(&again);
                prop_assert!(reparsed.is_ok(), "{:?}", reparsed);
            }
        }
    }
}
